/*
 * JSON <-> Lua values, done in C at the boundary (no JSON library inside Lua).
 */
#ifndef PUNCHCARD_LUAJSON_H
#define PUNCHCARD_LUAJSON_H

#include "common/jsonr.h"

#include <jansson.h>
#include <lua.h>

/* Pushes v as a Lua value: objects and arrays become tables, null becomes nil. */
void luajson_push(lua_State *L, json_t *v);

/* Pushes the value at token at of d as luajson_push() pushes its jansson value. */
void luajson_push_doc(lua_State *L, const pc_jdoc *d, size_t at);

/*
 * Converts the value at idx to JSON (new reference), or returns NULL and
 * writes why into err. Never raises. A table with only keys
 * 1..n becomes an array, other tables objects; depth is capped at 32, and the
 * size at LUAJSON_MAX_SIZE (strings and keys by their bytes, 16 per value): a
 * table met twice counts twice, as it is written twice.
 */
#define LUAJSON_MAX_SIZE (16 << 20)
json_t *luajson_to_json(lua_State *L, int idx, char *err, size_t errlen);

#endif
