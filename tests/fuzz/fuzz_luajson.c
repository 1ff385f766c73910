/*
 * libFuzzer target: the JSON <-> Lua bridge (lua/luajson.c), both ways, in
 * the sandboxed state of a compiled set (its allocator and memory cap).
 *
 * The first byte picks the direction:
 *   even: the rest is JSON text (any value). What jansson accepts is pushed
 *         into Lua and converted back; what comes back must convert again to
 *         the very same JSON (one trip may change the shape: [] becomes {},
 *         nulls in arrays drop; a second trip changes nothing). An object or
 *         array jsonr reads into tokens (pc_jdoc, how a request's data comes)
 *         pushes as its jansson value does: both come back the same.
 *   odd:  the rest is a little program that builds Lua values on the stack
 *         (numbers, NaN and infinities, strings of any bytes, tables, keys of
 *         every type, cycles, functions), then converts the top to JSON: a
 *         value JSON cannot carry must come back NULL with a message, never
 *         raise, and leave the Lua stack as it was.
 */
#include "lua/lua-internal.h"
#include "lua/luajson-internal.h"
#include "punchcard/mechanics.h"

#include <lauxlib.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_luajson: %s failed (line %d)\n", #cond, __LINE__);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static mechset *set;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char program[] = "mechanic \"noop\" { on = \"order\", run = function() end }\n";
    mech_source src = {"fuzz.lua", program, sizeof program - 1};
    mech_limits lim = {.memory = 8u << 20};
    pc_error err;
    (void)argc;
    (void)argv;
    pc_log_set_level(PC_LOG_ERROR);
    set = mechset_compile(&src, 1, &lim, &err);
    if (!set) {
        fprintf(stderr, "fuzz_luajson: %s\n", err.message);
        abort();
    }
    return 0;
}

static char *dump(const json_t *j)
{
    return json_dumps(j, JSON_SORT_KEYS | JSON_ENCODE_ANY | JSON_COMPACT);
}

/* JSON -> Lua -> JSON -> Lua -> JSON, in a protected call (pushing may raise out of memory). */
static int json_trip(lua_State *L)
{
    json_t *in = lua_touserdata(L, 1), *once, *twice;
    char err[128] = "", err2[128] = "";
    int top;
    luajson_push(L, in);
    top = lua_gettop(L);
    once = luajson_to_json(L, -1, err, sizeof err);
    CHECK(lua_gettop(L) == top);
    if (!once) {
        /*
         * What jansson parsed is refused only when nested deeper than 32, or for
         * an array with holes (nulls) that Lua no longer sees as a sequence.
         */
        CHECK(strstr(err, "deeper") || strstr(err, "keys must be strings"));
        return 0;
    }
    lua_pop(L, 1);
    luajson_push(L, once);
    twice = luajson_to_json(L, -1, err2, sizeof err2);
    CHECK(twice);
    if (!json_equal(once, twice)) {
        char *a = dump(once), *b = dump(twice);
        fprintf(stderr, "fuzz_luajson: second trip differs:\n%s\n%s\n", a, b);
        abort();
    }
    json_decref(once);
    json_decref(twice);
    return 0;
}

/* Reads the program in the userdata's bytes and builds values on L's stack. */
typedef struct prog {
    const uint8_t *p, *end;
} prog;

/* A text read both ways: its tokens and their jansson values, each pushed and converted back. */
typedef struct both {
    pc_jdoc *d;
    json_t *in, *a, *b; /* freed by the caller: a push may raise out of memory */
} both;

static int doc_trip(lua_State *L)
{
    both *t = lua_touserdata(L, 1);
    char ea[128] = "", eb[128] = "";
    luajson_push_doc(L, t->d, 0);
    t->a = luajson_to_json(L, -1, ea, sizeof ea);
    lua_pop(L, 1);
    luajson_push(L, t->in);
    t->b = luajson_to_json(L, -1, eb, sizeof eb);
    lua_pop(L, 1);
    CHECK(!t->a == !t->b && !strcmp(ea, eb));
    CHECK(!t->a || json_equal(t->a, t->b));
    return 0;
}

static int take(prog *g)
{
    return g->p < g->end ? *g->p++ : -1;
}

static int build(lua_State *L)
{
    prog *g = lua_touserdata(L, 1);
    int base = lua_gettop(L), op;
    char err[128] = "";
    json_t *j;
    int top;

    while ((op = take(g)) >= 0) {
        int depth;
        if (lua_gettop(L) - base > 200) /* keep the stack bounded: the program is the input */
            lua_settop(L, base);
        depth = lua_gettop(L) - base;
        luaL_checkstack(L, 4, "fuzz");
        switch (op % 12) {
        case 0: {
            lua_Integer small = (int8_t)take(g);
            lua_pushinteger(L, take(g) & 1 ? small : small * (INT64_MAX / 128));
            break;
        }
        case 1: {
            static const double reals[] = {0.5, -0.0, 1e300, 1e-300, 0.1};
            int k = take(g);
            double d = k < 0        ? 0
                       : k % 8 < 5  ? reals[k % 8]
                       : k % 8 == 5 ? NAN
                       : k % 8 == 6 ? INFINITY
                                    : -INFINITY;
            lua_pushnumber(L, d);
            break;
        }
        case 2: { /* a string of the next n bytes, whatever they are */
            int n = take(g);
            size_t len = n < 0 ? 0 : (size_t)(n % 16);
            if (len > (size_t)(g->end - g->p))
                len = (size_t)(g->end - g->p);
            lua_pushlstring(L, (const char *)g->p, len);
            g->p += len;
            break;
        }
        case 3:
            lua_newtable(L);
            break;
        case 4: /* t[k] = v with t, k, v the three top values, when t is a table */
            if (depth >= 3 && lua_istable(L, -3) && !lua_isnil(L, -2) &&
                !(lua_type(L, -2) == LUA_TNUMBER && isnan(lua_tonumber(L, -2))))
                lua_rawset(L, -3);
            else if (depth >= 1)
                lua_pop(L, 1);
            break;
        case 5: /* t[#t + 1] = v */
            if (depth >= 2 && lua_istable(L, -2))
                lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
            else if (depth >= 1)
                lua_pop(L, 1);
            break;
        case 6:
            lua_pushboolean(L, take(g) & 1);
            break;
        case 7:
            lua_pushnil(L);
            break;
        case 8: /* a cycle: the top table holds itself */
            if (depth >= 1 && lua_istable(L, -1)) {
                lua_pushvalue(L, -1);
                lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
            }
            break;
        case 9:
            lua_pushcfunction(L, build);
            break;
        case 10: /* a copy of a value lower down (shared subtables) */
            if (depth >= 1)
                lua_pushvalue(L, -1 - (take(g) & 0x7f) % depth);
            break;
        default:
            if (depth >= 1)
                lua_pop(L, 1);
            break;
        }
    }
    if (lua_gettop(L) == base)
        return 0;
    top = lua_gettop(L);
    j = luajson_to_json(L, -1, err, sizeof err);
    CHECK(lua_gettop(L) == top);
    if (j) {
        char *text = dump(j);
        CHECK(text);
        free(text);
        json_decref(j);
    } else {
        CHECK(err[0]);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lua_State *L = set->L;
    int base = lua_gettop(L);

    if (size < 1)
        return 0;
    if (data[0] % 2 == 0) {
        json_error_t jerr;
        json_t *in =
            json_loadb((const char *)data + 1, size - 1, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        both t = {pc_jdoc_parse((const char *)data + 1, size - 1, NULL), NULL, NULL, NULL};
        if (t.d && (t.in = pc_jdoc_json(t.d, 0))) {
            lua_pushcfunction(L, doc_trip);
            lua_pushlightuserdata(L, &t);
            (void)lua_pcall(L, 1, 0, 0);
        }
        json_decref(t.in);
        json_decref(t.a);
        json_decref(t.b);
        pc_jdoc_free(t.d);
        if (!in)
            return 0;
        lua_pushcfunction(L, json_trip);
        lua_pushlightuserdata(L, in);
        (void)lua_pcall(L, 1, 0, 0);
        json_decref(in);
    } else {
        prog g = {data + 1, data + size};
        lua_pushcfunction(L, build);
        lua_pushlightuserdata(L, &g);
        (void)lua_pcall(L, 1, 0, 0);
    }
    lua_settop(L, base);
    /* Each input starts on a clean heap: what it built is garbage now. */
    lua_gc(L, LUA_GCCOLLECT);
    return 0;
}
