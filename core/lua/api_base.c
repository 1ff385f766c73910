/*
 * What every part of the mechanics API shares: the running event, checks of
 * names and amounts, option tables, recording an outcome, and the yield to a
 * global operation with its answer. Uses nothing of the other API files.
 */
#include "lua-internal.h"
#include "lua/luajson-internal.h"

#include <stdio.h>
#include <string.h>

mech_run *luart_running(lua_State *L)
{
    mech_run *run = luart_run_of(L);
    if (!run || !run->running || !run->m || !run->cur)
        luaL_error(L, "this call is only allowed while a mechanic runs");
    /*
     * The member's fields are looked up one by one, a few times per call: a
     * member an event has grown to thousands of fields would make every call
     * cost what no hook sees. And what the model added since the last call
     * (outcomes of earns, badges...) must stay within the caps.
     */
    luart_charge(L, run->m->nfields);
    luart_check_caps(L, run, 0, 0);
    return run;
}

const char *luart_check_name(lua_State *L, int arg, const char *what)
{
    const char *s = luaL_checkstring(L, arg);
    if (!pc_valid_name(s))
        luaL_error(L, "bad %s name '%s' (use 1-64 of a-z 0-9 _ . -)", what, s);
    return s;
}

int64_t luart_check_amount(lua_State *L, int arg)
{
    int isint = 0;
    lua_Integer v = lua_tointegerx(L, arg, &isint);
    if (!isint)
        luaL_error(L, "amount must be a whole number, got %s", luaL_tolstring(L, arg, NULL));
    if (v < 0)
        luaL_error(L, "amount must not be negative, got %I", (lua_Integer)v);
    return v;
}

lua_Integer luart_list_len(lua_State *L, int idx, const char *what)
{
    lua_Integer n = luaL_len(L, idx);
    if (n > LUART_LIST_MAX)
        luaL_error(L, "%s: at most %d items, got %I", what, LUART_LIST_MAX, n);
    return n;
}

int luart_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        unsigned c = *p++;
        int more;
        uint32_t cp;
        if (c < 0x80)
            continue;
        if (c >= 0xc2 && c <= 0xdf)
            more = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            more = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            more = 3, cp = c & 0x07;
        else
            return 0;
        if (end - p < more)
            return 0;
        for (int i = 0; i < more; i++, p++) {
            if ((*p & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (*p & 0x3f);
        }
        /* overlong forms, surrogates, past U+10FFFF */
        if ((more == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (more == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
    }
    return 1;
}

int luart_oom(lua_State *L)
{
    return luaL_error(L, "out of memory");
}

void luart_check_caps(lua_State *L, mech_run *run, size_t more_outcomes, size_t more_keys)
{
    size_t outcomes = run->m->nouts + more_outcomes;
    size_t keys = json_array_size(run->m->effects) + run->nglobal + more_keys;
    if (run->killed == LUART_KILL_NONE) {
        if (outcomes > run->max_outcomes)
            snprintf(run->cap_msg, sizeof run->cap_msg,
                     "the event makes more than %zu outcomes (--max-outcomes)", run->max_outcomes);
        else if (keys > run->max_keys)
            snprintf(run->cap_msg, sizeof run->cap_msg,
                     "the event writes more than %zu shared keys (leaderboards, global "
                     "operations; --max-event-keys)",
                     run->max_keys);
        else
            return;
        run->killed = LUART_KILL_CAP;
    }
    luaL_error(L, "%s", luart_kill_reason(run));
}

void luart_outcome(lua_State *L, mech_run *run, json_t *o)
{
    if (o && run->m->nouts >= run->max_outcomes) {
        json_decref(o);
        luart_check_caps(L, run, 1, 0);
    }
    if (!o || !member_add_outcome(run->m, run->cur->name, o))
        luart_oom(L);
}

void luart_opt_check(lua_State *L, int idx, const char *what, const char *const *allowed)
{
    if (lua_isnoneornil(L, idx))
        return;
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
        int ok = 0;
        for (int i = 0; allowed[i]; i++)
            ok |= !strcmp(k, allowed[i]);
        if (!ok)
            luaL_error(L, "%s: unknown option '%s'", what, k);
        lua_pop(L, 1);
    }
}

int luart_opt_type(lua_State *L, int idx, const char *name)
{
    if (lua_isnoneornil(L, idx))
        return LUA_TNIL;
    return lua_getfield(L, idx, name);
}

const char *luart_opt_str(lua_State *L, int idx, const char *name, const char *def)
{
    const char *v = def;
    int t = luart_opt_type(L, idx, name);
    if (t == LUA_TSTRING)
        v = lua_tostring(L, -1);
    else if (t != LUA_TNIL)
        luaL_error(L, "option %s must be a string", name);
    if (!lua_isnoneornil(L, idx))
        lua_pop(L, 1);
    return v;
}

const char *luart_program_tz(lua_State *L)
{
    const mech_run *run = luart_run_of(L);
    return run && run->set && run->set->timezone ? run->set->timezone : "UTC";
}

const char *luart_member_tz(lua_State *L, const mech_run *run)
{
    return member_tz(run->m, luart_program_tz(L));
}

const char *luart_opt_tz(lua_State *L, int idx)
{
    const char *tz = luart_opt_str(L, idx, "tz", luart_program_tz(L));
    if (!pc_tz_valid(tz))
        luaL_error(L, "option tz: unknown time zone '%s'", tz);
    return tz;
}

int luart_tier_rank(const mechset *set, const char *tier)
{
    size_t i;
    json_t *t;
    if (!tier)
        return -1;
    json_array_foreach(set->tiers, i, t) {
        if (!strcmp(json_string_value(t), tier))
            return (int)i;
    }
    return -1;
}

mech_run *luart_take_reply(lua_State *L)
{
    mech_run *run = luart_run_of(L);
    json_t *reply = run->reply;
    run->reply = NULL;
    json_decref(run->req.args);
    run->req.args = NULL;
    if (run->reply_err[0]) {
        json_decref(reply);
        luaL_error(L, "%s: %s", run->req.op, run->reply_err);
    }
    luajson_push(L, reply);
    json_decref(reply);
    return run;
}

/* The continuation of a global call without one of its own: the answer, as a Lua value. */
static int global_done(lua_State *L, int status, lua_KContext k)
{
    luart_take_reply(L);
    return 1;
}

int luart_global_call(lua_State *L, const char *op, json_t *args, lua_KFunction k)
{
    mech_run *run = luart_running(L);
    if (!args)
        return luart_oom(L);
    if (run->nglobal + json_array_size(run->m->effects) >= run->max_keys) {
        json_decref(args);
        luart_check_caps(L, run, 0, 1);
    }
    run->nglobal++;
    snprintf(run->req.op, sizeof run->req.op, "%s", op);
    json_decref(run->req.args);
    run->req.args = args;
    run->waiting = 1;
    return lua_yieldk(L, 0, 0, k ? k : global_done);
}
