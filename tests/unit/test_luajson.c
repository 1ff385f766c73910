/*
 * Unit tests for core/lua/luajson.c, the JSON <-> Lua boundary: values survive
 * luajson_push then luajson_to_json unchanged; Lua values that JSON cannot
 * carry (non-finite numbers, functions, non-string keys, bad UTF-8, cycles,
 * tables nested too deep) are refused with a message instead of raising; the
 * Lua stack is left as it was either way. Runs in a plain luaL_newstate.
 */
#include "lua/luajson-internal.h"

#include <lauxlib.h>
#include <lualib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int setup(void **state)
{
    lua_State *L = luaL_newstate();
    if (!L)
        return -1;
    luaL_openlibs(L);
    *state = L;
    return 0;
}

static int teardown(void **state)
{
    lua_close(*state);
    return 0;
}

static char *dump(json_t *j)
{
    return j ? json_dumps(j, JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
}

/*
 * JSON texts that come back equal after a trip through Lua. (An empty array
 * cannot: Lua has one empty table, and it comes back as {}.)
 */
static const char *const round_trips[] = {
    "{}",
    "{\"a\": 1}",
    "{\"amount\": 1250, \"price\": 12.5, \"paid\": true, \"gift\": false, \"note\": \"h\\u00e9\"}",
    "{\"items\": [{\"category\": \"fuel\", \"amount\": 40}, {\"category\": \"shop\", \"amount\": "
    "7}]}",
    "[1, 2, 3]",
    "[[1, [2, [3, {}]]], {\"x\": [\"y\"]}]",
    "{\"a\": {\"b\": {\"c\": {\"d\": {\"e\": [true, false, \"s\", -9223372036854775807]}}}}}",
    "{\"big\": 9223372036854775807, \"neg\": -1, \"zero\": 0, \"tiny\": 1e-300}",
    "{\"with space\": 1, \"\": 2, \"emoji \\ud83c\\udf70\": \"\\ud83c\\udf70\"}",
    "\"just a string\"",
    "42",
    "true",
};

static void test_round_trip(void **state)
{
    lua_State *L = *state;
    int failures = 0;
    for (size_t i = 0; i < N(round_trips); i++) {
        json_error_t jerr;
        json_t *in = json_loads(round_trips[i], JSON_DECODE_ANY, &jerr), *out;
        char err[128] = "";
        int top = lua_gettop(L);
        assert_non_null(in);
        luajson_push(L, in);
        if (lua_gettop(L) != top + 1) {
            print_error("case %s: push left %d values, want 1\n", round_trips[i],
                        lua_gettop(L) - top);
            failures++;
        }
        out = luajson_to_json(L, -1, err, sizeof err);
        if (!out || !json_equal(in, out)) {
            char *got = dump(out);
            print_error("case %s: came back as %s (%s)\n", round_trips[i], got ? got : "NULL", err);
            free(got);
            failures++;
        }
        if (lua_gettop(L) != top + 1) {
            print_error("case %s: to_json changed the stack by %d\n", round_trips[i],
                        lua_gettop(L) - top - 1);
            failures++;
        }
        lua_settop(L, top);
        json_decref(in);
        json_decref(out);
    }
    assert_int_equal(failures, 0);
}

/* What Lua sees after a push: the types scripts rely on. */
static void test_push_types(void **state)
{
    lua_State *L = *state;
    json_error_t jerr;
    json_t *in = json_loads("{\"n\": 3, \"r\": 2.5, \"s\": \"x\", \"t\": true, \"z\": null,"
                            " \"a\": [10, 20, null, 40], \"o\": {\"k\": \"v\"}}",
                            0, &jerr);
    const char *check = "local v = ...\n"
                        "assert(math.type(v.n) == 'integer', 'n is not an integer')\n"
                        "assert(math.type(v.r) == 'float', 'r is not a float')\n"
                        "assert(v.s == 'x' and v.t == true, 's or t')\n"
                        "assert(v.z == nil, 'null is not nil')\n"
                        "assert(v.a[1] == 10 and v.a[2] == 20 and v.a[3] == nil and v.a[4] == 40,"
                        " 'array indices do not start at 1')\n"
                        "assert(v.o.k == 'v', 'nested object')\n";
    assert_non_null(in);
    if (luaL_loadstring(L, check) != LUA_OK)
        fail_msg("check script: %s", lua_tostring(L, -1));
    luajson_push(L, in);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK)
        fail_msg("after luajson_push: %s", lua_tostring(L, -1));
    json_decref(in);
}

/*
 * A request's data comes as jsonr's tokens (pc_jdoc): pushed, it is the Lua value its
 * jansson value pushes as, for every text that round-trips and every JSON type.
 */
static void test_push_doc(void **state)
{
    lua_State *L = *state;
    static const char *const more[] = {
        "{\"n\": 3, \"r\": 2.5, \"s\": \"x\", \"t\": true, \"f\": false, \"z\": null,"
        " \"a\": [10, 20, 40], \"o\": {\"k\": \"v\"}, \"e\": \"\\n\\u00e9\"}",
        "[{}, [], [[]], -0, 1e2, \"\", false]",
    };
    int failures = 0;
    for (size_t i = 0; i < N(round_trips) + N(more); i++) {
        const char *text = i < N(round_trips) ? round_trips[i] : more[i - N(round_trips)];
        pc_jdoc *d = pc_jdoc_parse(text, strlen(text), NULL);
        json_t *in = pc_json_parse(text, strlen(text), NULL), *a, *b;
        char ea[128] = "", eb[128] = "";
        int top = lua_gettop(L);
        if (!in) { /* a scalar: only objects and arrays come as tokens */
            assert_null(d);
            continue;
        }
        assert_non_null(d);
        luajson_push_doc(L, d, 0);
        if (lua_gettop(L) != top + 1) {
            print_error("case %s: push left %d values, want 1\n", text, lua_gettop(L) - top);
            failures++;
        }
        a = luajson_to_json(L, -1, ea, sizeof ea);
        luajson_push(L, in);
        b = luajson_to_json(L, -1, eb, sizeof eb);
        if (!a != !b || strcmp(ea, eb) || (a && !json_equal(a, b))) {
            char *x = dump(a), *y = dump(b);
            print_error("case %s: from tokens %s (%s), from values %s (%s)\n", text, x ? x : "NULL",
                        ea, y ? y : "NULL", eb);
            free(x);
            free(y);
            failures++;
        }
        lua_settop(L, top);
        json_decref(a);
        json_decref(b);
        json_decref(in);
        pc_jdoc_free(d);
    }
    assert_int_equal(failures, 0);
}

/* What Lua sees of a pushed doc: the types scripts rely on, as test_push_types. */
static void test_push_doc_types(void **state)
{
    lua_State *L = *state;
    const char *text = "{\"n\": 3, \"r\": 2.5, \"s\": \"x\", \"t\": true, \"z\": null,"
                       " \"a\": [10, 20, null, 40], \"o\": {\"k\": \"v\"}, \"q\": \"a\\\"b\"}";
    const char *check = "local v = ...\n"
                        "assert(math.type(v.n) == 'integer', 'n is not an integer')\n"
                        "assert(math.type(v.r) == 'float', 'r is not a float')\n"
                        "assert(v.s == 'x' and v.t == true, 's or t')\n"
                        "assert(v.z == nil, 'null is not nil')\n"
                        "assert(v.a[1] == 10 and v.a[2] == 20 and v.a[3] == nil and v.a[4] == 40,"
                        " 'array indices do not start at 1')\n"
                        "assert(v.o.k == 'v', 'nested object')\n"
                        "assert(v.q == 'a\"b', 'escaped string')\n";
    pc_jdoc *d = pc_jdoc_parse(text, strlen(text), NULL);
    assert_non_null(d);
    if (luaL_loadstring(L, check) != LUA_OK)
        fail_msg("check script: %s", lua_tostring(L, -1));
    luajson_push_doc(L, d, 0);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK)
        fail_msg("after luajson_push_doc: %s", lua_tostring(L, -1));
    pc_jdoc_free(d);
}

struct refuse_case {
    const char *name;
    const char *lua;    /* a chunk returning the value */
    const char *substr; /* expected in the message */
};

static const struct refuse_case refuse_cases[] = {
    {"infinity", "return math.huge", "finite"},
    {"minus infinity nested", "return {a = {b = -math.huge}}", "finite"},
    {"NaN in an array", "return {1, 0/0}", "finite"},
    {"a function", "return function() end", "function"},
    {"a function in an object", "return {run = print}", "function"},
    {"a userdata", "return io.stdout", "userdata"},
    {"a thread", "return coroutine.create(print)", "thread"},
    {"mixed keys", "return {1, 2, x = 3}", "keys must be strings"},
    {"sparse array", "return {[2] = 'x'}", "keys must be strings"},
    /* border 2 with two keys, yet t[1] is nil: counting keys alone took it for [null, 1] */
    {"holes at a border", "return {nil, 1, nil, nil, 1, nil, nil, nil}", "keys must be strings"},
    {"boolean key", "return {[true] = 1}", "keys must be strings"},
    {"float key", "return {[1.5] = 1}", "keys must be strings"},
    {"invalid UTF-8", "return {s = '\\xff\\xfe'}", "UTF-8"},
    {"a cycle", "local t = {} t.self = t return t", "deeper"},
    {"40 levels", "local t = {} for i = 1, 39 do t = {t} end return t", "deeper"},
    /* shared tables are written out each time: 2^30 values from 30 small tables */
    {"a shared table doubled 30 times", "local t = {1} for i = 1, 30 do t = {t, t} end return t",
     "larger than 16 MiB"},
    {"one string shared 64 times",
     "local s, t = string.rep('a', 1 << 20), {} for i = 1, 64 do t[i] = s end return t",
     "larger than 16 MiB"},
    {"one string shared as a key's value and a long key",
     "local s = string.rep('k', 1 << 20) local t = {} for i = 1, 16 do t[s .. i] = 1 end return t",
     "larger than 16 MiB"},
};

static void test_refuses(void **state)
{
    lua_State *L = *state;
    int failures = 0;
    for (size_t i = 0; i < N(refuse_cases); i++) {
        const struct refuse_case *c = &refuse_cases[i];
        char err[128];
        json_t *out;
        int top = lua_gettop(L);
        if (luaL_dostring(L, c->lua) != LUA_OK)
            fail_msg("case \"%s\": %s", c->name, lua_tostring(L, -1));
        memset(err, 0, sizeof err);
        out = luajson_to_json(L, -1, err, sizeof err);
        if (out || !strstr(err, c->substr)) {
            char *got = dump(out);
            print_error("case \"%s\": got %s, message \"%s\"; want NULL and \"%s\"\n", c->name,
                        got ? got : "NULL", err, c->substr);
            free(got);
            failures++;
        }
        if (lua_gettop(L) != top + 1) {
            print_error("case \"%s\": the stack changed by %d\n", c->name, lua_gettop(L) - top - 1);
            failures++;
        }
        json_decref(out);
        lua_settop(L, top);
    }
    assert_int_equal(failures, 0);
}

/* Nesting up to the cap converts; the cap is what stops it, not the C stack. */
static void test_depth_cap(void **state)
{
    lua_State *L = *state;
    char err[128] = "";
    json_t *out;
    int depth = 0;

    assert_int_equal(luaL_dostring(L, "local t = {leaf = 1} for i = 2, 32 do t = {t} end return t"),
                     LUA_OK);
    out = luajson_to_json(L, -1, err, sizeof err);
    if (!out)
        fail_msg("32 nested tables were refused: %s", err);
    for (json_t *j = out; json_is_array(j) || json_is_object(j); depth++)
        j = json_is_array(j) ? json_array_get(j, 0) : json_object_get(j, "leaf");
    assert_int_equal(depth, 32);
    json_decref(out);
    lua_pop(L, 1);

    /* Far past the cap, with a small error buffer: refused, message cut, NUL-terminated. */
    assert_int_equal(luaL_dostring(L, "local t = {} for i = 1, 100000 do t = {t} end return t"),
                     LUA_OK);
    memset(err, 'x', sizeof err);
    out = luajson_to_json(L, -1, err, 8);
    assert_null(out);
    assert_int_equal(strlen(err), 7);
    lua_pop(L, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_doc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_doc_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_depth_cap, setup, teardown),
    };
    return cmocka_run_group_tests_name("luajson", tests, NULL, NULL);
}
