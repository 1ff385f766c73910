/*
 * Conversions between jansson values and Lua values (luajson.h).
 */
#include "lua/luajson-internal.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void luajson_push(lua_State *L, json_t *v)
{
    const char *k;
    json_t *x;
    size_t i;

    luaL_checkstack(L, 4, "JSON nested too deep");
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        lua_createtable(L, 0, (int)json_object_size(v));
        json_object_foreach(v, k, x) {
            luajson_push(L, x);
            lua_setfield(L, -2, k);
        }
        break;
    case JSON_ARRAY:
        lua_createtable(L, (int)json_array_size(v), 0);
        json_array_foreach(v, i, x) {
            luajson_push(L, x);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    case JSON_STRING:
        lua_pushlstring(L, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        lua_pushinteger(L, (lua_Integer)json_integer_value(v));
        break;
    case JSON_REAL:
        lua_pushnumber(L, json_real_value(v));
        break;
    case JSON_TRUE:
        lua_pushboolean(L, 1);
        break;
    case JSON_FALSE:
        lua_pushboolean(L, 0);
        break;
    default:
        lua_pushnil(L);
        break;
    }
}

void luajson_push_doc(lua_State *L, const pc_jdoc *d, size_t at)
{
    const pc_jtok *t = &d->tok[at];
    size_t i = at + 1;

    switch (t->type) { /* a container makes room for itself and a child: a scalar needs no more */
    case JSON_OBJECT:
        luaL_checkstack(L, 4, "JSON nested too deep");
        lua_createtable(L, 0, (int)t->n);
        for (uint32_t j = 0; j < t->n; j++) { /* key token, then its value */
            luajson_push_doc(L, d, i + 1);
            lua_setfield(L, -2, d->str + d->tok[i].off);
            i = d->tok[i + 1].next;
        }
        break;
    case JSON_ARRAY:
        luaL_checkstack(L, 4, "JSON nested too deep");
        lua_createtable(L, (int)t->n, 0);
        for (uint32_t j = 0; j < t->n; j++) {
            luajson_push_doc(L, d, i);
            lua_rawseti(L, -2, (lua_Integer)j + 1);
            i = d->tok[i].next;
        }
        break;
    case JSON_STRING:
        lua_pushlstring(L, d->str + t->off, t->n);
        break;
    case JSON_INTEGER:
        lua_pushinteger(L, (lua_Integer)t->num.i);
        break;
    case JSON_REAL:
        lua_pushnumber(L, t->num.d);
        break;
    case JSON_TRUE:
        lua_pushboolean(L, 1);
        break;
    case JSON_FALSE:
        lua_pushboolean(L, 0);
        break;
    default:
        lua_pushnil(L);
        break;
    }
}

/* Why jansson refused the text s: bad UTF-8, or no memory (it says NULL for both). */
static const char *refusal(const char *s, size_t len)
{
    json_t *j = json_stringn_nocheck(s, len);
    if (!j)
        return "out of memory";
    json_decref(j);
    return "must be UTF-8";
}

/*
 * What a conversion may still make: a table reached twice is converted twice (JSON has no
 * shared values), so {t, t} nested 40 deep would be 2^40 values built in C, outside the
 * Lua memory limit. Each value costs LUAJSON_VALUE_COST, each string or key its bytes.
 */
#define LUAJSON_VALUE_COST 16

struct budget {
    size_t left;
    char *err;
    size_t errlen;
};

static int spend(struct budget *b, size_t cost)
{
    if (cost <= b->left) {
        b->left -= cost;
        return 1;
    }
    snprintf(b->err, b->errlen, "the value is larger than %d MiB as JSON", LUAJSON_MAX_SIZE >> 20);
    return 0;
}

static json_t *convert(lua_State *L, int idx, int depth, struct budget *b)
{
    char *err = b->err;
    size_t errlen = b->errlen;

    if (!spend(b, LUAJSON_VALUE_COST))
        return NULL;
    idx = lua_absindex(L, idx);
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return json_null();
    case LUA_TBOOLEAN:
        return json_boolean(lua_toboolean(L, idx));
    case LUA_TNUMBER: {
        json_t *j;
        if (!lua_isinteger(L, idx) && !isfinite(lua_tonumber(L, idx))) {
            snprintf(err, errlen, "numbers must be finite");
            return NULL;
        }
        j = lua_isinteger(L, idx) ? json_integer(lua_tointeger(L, idx))
                                  : json_real(lua_tonumber(L, idx));
        if (!j)
            goto oom;
        return j;
    }
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        json_t *j;
        if (!spend(b, len))
            return NULL;
        j = json_stringn(s, len);
        if (!j)
            snprintf(err, errlen, "strings %s", refusal(s, len));
        return j;
    }
    case LUA_TTABLE: {
        size_t n = lua_rawlen(L, idx), count = 0, in_range = 0;
        json_t *out;
        if (depth > 32) {
            snprintf(err, errlen, "tables nested deeper than 32");
            return NULL;
        }
        if (!lua_checkstack(L, 4)) {
            snprintf(err, errlen, "out of stack");
            return NULL;
        }
        /*
         * A sequence only when its keys are exactly 1..n: lua_rawlen may name any
         * border of a table with holes ({nil, 1} has border 2 and one key).
         */
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            count++;
            if (lua_isinteger(L, -2)) {
                lua_Integer k = lua_tointeger(L, -2);
                if (k >= 1 && (lua_Unsigned)k <= n)
                    in_range++;
            }
            lua_pop(L, 1);
        }
        if (n > 0 && count == n && in_range == n) {
            if (!(out = json_array()))
                goto oom;
            for (size_t i = 1; i <= n; i++) {
                lua_rawgeti(L, idx, (lua_Integer)i);
                json_t *v = convert(L, -1, depth + 1, b);
                lua_pop(L, 1);
                if (!v) {
                    json_decref(out);
                    return NULL;
                }
                if (json_array_append_new(out, v)) {
                    json_decref(out);
                    goto oom;
                }
            }
            return out;
        }
        if (!(out = json_object()))
            goto oom;
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            json_t *v;
            if (lua_type(L, -2) != LUA_TSTRING) {
                lua_pop(L, 2);
                json_decref(out);
                snprintf(err, errlen, "object keys must be strings");
                return NULL;
            }
            v = spend(b, lua_rawlen(L, -2)) ? convert(L, -1, depth + 1, b) : NULL;
            if (!v) {
                lua_pop(L, 2);
                json_decref(out);
                return NULL;
            }
            if (json_object_set_new(out, lua_tostring(L, -2), v)) {
                const char *key = lua_tostring(L, -2);
                snprintf(err, errlen, "object keys %s", refusal(key, strlen(key)));
                lua_pop(L, 2);
                json_decref(out);
                return NULL;
            }
            lua_pop(L, 1);
        }
        return out;
    }
    default:
        snprintf(err, errlen, "a %s cannot be JSON", luaL_typename(L, idx));
        return NULL;
    }
oom:
    snprintf(err, errlen, "out of memory");
    return NULL;
}

json_t *luajson_to_json(lua_State *L, int idx, char *err, size_t errlen)
{
    struct budget b = {LUAJSON_MAX_SIZE, err, errlen};
    return convert(L, idx, 0, &b);
}
