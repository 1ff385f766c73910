/*
 * The mechanics API, global reads and period closes: global_value(),
 * board_top() and board_rank() read what all members share (a global
 * counter, a leaderboard's period) by yielding to the engine, like the
 * global operations of api_game.c but taking nothing; send() queues an
 * event for a member from a mechanic declared `on = "period_end:week"`
 * (the engine's closes.c runs those once per ended period and sends the
 * queued events after the close's plan is stored).
 */
#include "lua-internal.h"
#include "luajson-internal.h"
#include "common/calendar-internal.h"

#include <string.h>

#define BOARD_TOP_MAX 1000

/* 1 when type is "period_end:<day|week|month|year>"; *per gets the period (cal_period). */
int luart_close_type(const char *type, int *per)
{
    static const char prefix[] = "period_end:";
    int p;
    if (strncmp(type, prefix, sizeof prefix - 1) != 0)
        return 0;
    p = cal_period_parse(type + sizeof prefix - 1);
    if (p <= 0 || !strcmp(type + sizeof prefix - 1, "never"))
        return 0;
    if (per)
        *per = p;
    return 1;
}

/* A period_end mechanic has no member: no campaign window, control group or experiment. */
void luart_close_check(lua_State *L, int spec, const char *name)
{
    static const char *const member_only[] = {"active", "control", "experiment"};
    for (size_t i = 0; i < sizeof member_only / sizeof *member_only; i++) {
        int t = lua_getfield(L, spec, member_only[i]);
        lua_pop(L, 1);
        if (t != LUA_TNIL)
            luaL_error(L,
                       "mechanic '%s': a period_end mechanic takes no %s (it runs for no member)",
                       name, member_only[i]);
    }
}

/* global_value(counter) -> the global counter's value now (0 before anyone counted); counts
 * nothing. */
static int api_global_value(lua_State *L)
{
    const char *name = luart_check_name(L, 1, "counter");
    return luart_global_call(L, "read_counter", json_pack("{s:s}", "name", name), NULL);
}

static const char *const board_opts[] = {"per", "tz", "period", NULL};

/*
 * The board's period the options at idx name: `period` as given ("2026-W48"),
 * else the period of the event's time by `per` (week) in `tz`. Into out (32).
 */
static void board_period(lua_State *L, int idx, const char *what, char *out, size_t n)
{
    mech_run *run = luart_running(L);
    luart_opt_check(L, idx, what, board_opts);
    const char *given = luart_opt_str(L, idx, "period", NULL);
    const char *pers = luart_opt_str(L, idx, "per", "week");
    int per = cal_period_parse(pers);
    const char *tz = luart_opt_tz(L, idx);
    if (per < 0)
        luaL_error(L, "%s: option per: '%s' is not day, week, month, year or never", what, pers);
    if (given) {
        size_t len = strlen(given);
        if (len == 0 || len > 16 || strspn(given, "0123456789-Wal") != len)
            luaL_error(L,
                       "%s: option period: '%s' is not a period id (2026-11-25, 2026-W48, "
                       "2026-11, 2026, all)",
                       what, given);
        snprintf(out, n, "%s", given);
        return;
    }
    cal_period_id(run->ev->at_ms, tz, 0, per, out, n);
}

/* board_top(board, n [, {per, tz, period}]) -> {{rank=1, member=, score=}, ...}, best first. */
static int api_board_top(lua_State *L)
{
    const char *board = luart_check_name(L, 1, "leaderboard");
    int isint = 0;
    lua_Integer n = lua_tointegerx(L, 2, &isint);
    char period[32];
    if (!isint || n < 1 || n > BOARD_TOP_MAX)
        return luaL_error(L, "board_top %s: n must be a whole number from 1 to %d", board,
                          BOARD_TOP_MAX);
    board_period(L, 3, "board_top", period, sizeof period);
    return luart_global_call(
        L, "board_top",
        json_pack("{s:s, s:s, s:I}", "board", board, "period", period, "n", (json_int_t)n), NULL);
}

/* The continuation of board_rank: the reply {rank, score} or null as two values. */
static int rank_done(lua_State *L, int status, lua_KContext k)
{
    luart_take_reply(L);
    if (lua_isnil(L, -1)) {
        lua_pushnil(L);
        return 2;
    }
    lua_getfield(L, -1, "rank");
    lua_getfield(L, -2, "score");
    return 2;
}

/* board_rank(board, member [, {per, tz, period}]) -> rank (1 = best), score; nil off the board. */
static int api_board_rank(lua_State *L)
{
    const char *board = luart_check_name(L, 1, "leaderboard");
    const char *member = luaL_checkstring(L, 2);
    char period[32];
    if (!pc_valid_id(member))
        return luaL_error(L, "board_rank %s: bad member id", board);
    board_period(L, 3, "board_rank", period, sizeof period);
    return luart_global_call(
        L, "board_rank",
        json_pack("{s:s, s:s, s:s}", "board", board, "period", period, "member", member),
        rank_done);
}

/*
 * send(member, type [, data]) -> nothing: in a period_end mechanic, the
 * member is sent an event of that type (id "close:<mechanic>:<period>",
 * data as given) once the close is planned. One per member and close.
 */
static int api_send(lua_State *L)
{
    mech_run *run = luart_running(L);
    const char *member = luaL_checkstring(L, 1);
    const char *type = luart_check_name(L, 2, "event type");
    char err[128];
    json_t *data, *effects;
    size_t i;
    json_t *e;
    if (!run->closing)
        return luaL_error(L, "send: only a period_end mechanic sends events");
    if (!pc_valid_id(member))
        return luaL_error(L, "send: bad member id");
    if (!strcmp(type, "tick") || !strcmp(type, "profile") || !strcmp(type, "redeem") ||
        !strcmp(type, "reverse"))
        return luaL_error(L, "send: %s is one of the engine's own event types", type);
    effects = run->m->effects;
    json_array_foreach(effects, i, e) {
        if (!json_object_get(e, "member"))
            return luaL_error(L, "send: not with send_all() in the same close");
        if (!strcmp(json_string_value(json_object_get(e, "member")), member))
            return luaL_error(L, "send: %s was sent an event already in this close", member);
    }
    luart_charge(L, json_array_size(effects));
    if (lua_isnoneornil(L, 3))
        data = json_object();
    else if (!lua_istable(L, 3))
        return luaL_error(L, "send: data must be a table");
    else if (!(data = luajson_to_json(L, 3, err, sizeof err)) || !json_is_object(data)) {
        json_decref(data);
        return luaL_error(L, "send: data: %s", data ? "must be a table with names" : err);
    }
    luart_check_caps(L, run, 0, 1);
    if (member_add_effect(run->m, json_pack("{s:s, s:s, s:s, s:o}", "op", "send", "member", member,
                                            "type", type, "data", data)))
        luart_oom(L);
    return 0;
}

/*
 * send_all(type [, data]) -> nothing: in a period_end mechanic, every member
 * of the program is sent that event (id "close:<mechanic>:<period>"), walked
 * and paced by the engine; the mechanics of that type decide for whom it
 * means something (a tier, an attribute). Once per close, and not with send().
 */
static int api_send_all(lua_State *L)
{
    mech_run *run = luart_running(L);
    const char *type = luart_check_name(L, 1, "event type");
    char err[128];
    json_t *data;
    if (!run->closing)
        return luaL_error(L, "send_all: only a period_end mechanic sends events");
    if (!strcmp(type, "tick") || !strcmp(type, "profile") || !strcmp(type, "redeem") ||
        !strcmp(type, "reverse"))
        return luaL_error(L, "send_all: %s is one of the engine's own event types", type);
    if (json_array_size(run->m->effects))
        return luaL_error(L, "send_all: once per close, and not with send()");
    if (lua_isnoneornil(L, 2))
        data = json_object();
    else if (!lua_istable(L, 2))
        return luaL_error(L, "send_all: data must be a table");
    else if (!(data = luajson_to_json(L, 2, err, sizeof err)) || !json_is_object(data)) {
        json_decref(data);
        return luaL_error(L, "send_all: data: %s", data ? "must be a table with names" : err);
    }
    if (member_add_effect(
            run->m, json_pack("{s:s, s:s, s:o}", "op", "send_all", "type", type, "data", data)))
        luart_oom(L);
    return 0;
}

void luart_close_globals(lua_State *L)
{
    static const luaL_Reg fns[] = {{"global_value", api_global_value}, {"board_top", api_board_top},
                                   {"board_rank", api_board_rank},     {"send", api_send},
                                   {"send_all", api_send_all},         {NULL, NULL}};
    luaL_setfuncs(L, fns, 0);
}
