/*
 * The game part of the mechanics API (docs/mechanics.md, "Gamification"):
 * streaks with freezes, levelled badges, instant-win draws with prize pools
 * and per-member limits, campaign budgets, leaderboard scores, referrals and
 * global_add. The `active` and `control` fields of a declaration are in
 * api_campaign.c.
 *
 * Member-local state (streaks, badge levels, a draw's member limit) lives in
 * the member's hash, through the model's typed accessors. Shared state
 * (pools, budgets, referrals, leaderboards) is the engine's: these calls
 * yield for a global operation, or queue a post-commit effect.
 */
#include "lua-internal.h"
#include "common/calendar-internal.h"

#include <stdlib.h>
#include <string.h>

static lua_Integer opt_int(lua_State *L, int idx, const char *name, lua_Integer def,
                           lua_Integer min, lua_Integer max)
{
    int isint = 0;
    lua_Integer v = def;
    if (luart_opt_type(L, idx, name) != LUA_TNIL) {
        v = lua_tointegerx(L, -1, &isint);
        if (!isint || v < min || v > max)
            luaL_error(L, "option %s must be a whole number from %I to %I", name, min, max);
    }
    if (!lua_isnoneornil(L, idx))
        lua_pop(L, 1);
    return v;
}

static int opt_period(lua_State *L, int idx, const char *name, const char *def)
{
    const char *s = luart_opt_str(L, idx, name, def);
    int p = cal_period_parse(s);
    if (p < 0)
        luaL_error(L, "option %s: '%s' is not day, week, month, year or never", name, s);
    return p;
}

/* The member's time zone (attribute "tz"), else the program's (option tz, checked), else UTC. */
static const char *local_tz(lua_State *L, mech_run *run, int opts)
{
    const char *def = luart_opt_tz(L, opts);
    return member_tz(run->m, def);
}

static void set_streak(lua_State *L, mech_run *run, const char *name, enum member_streak_part part,
                       int64_t v)
{
    if (member_set_streak(run->m, name, part, v))
        luart_oom(L);
}

/*
 * Streaks. A hit counts once per period (day or week, in the member's time
 * zone, days starting at day_start o'clock). Periods are numbered from civil
 * dates, and the last hit is kept as a time, so that DST days of 23 or 25
 * hours and a member who changes time zone are judged by the calendar they
 * live in now. Missed periods: up to `grace` are forgiven, then freezes are
 * spent one per missed period; otherwise the streak starts again at 1.
 */
static const char *const streak_opts[] = {"per", "day_start", "grace", "freezes", "tz", NULL};

/* m:streak(name [, {per, day_start, grace, freezes, tz}]) -> length */
static int m_streak(lua_State *L)
{
    mech_run *run = luart_running(L);
    const char *name = luart_check_name(L, 2, "streak");
    luart_opt_check(L, 3, "streak", streak_opts);
    int per = opt_period(L, 3, "per", "day");
    int hour = (int)opt_int(L, 3, "day_start", 0, 0, 23);
    int64_t grace = opt_int(L, 3, "grace", 0, 0, 1000);
    int64_t monthly = opt_int(L, 3, "freezes", 0, 0, 1000);
    const char *tz = local_tz(L, run, 3);
    int64_t at = run->ev->at_ms, last = member_streak(run->m, name, MEMBER_STREAK_LAST);
    int64_t len = member_streak(run->m, name, MEMBER_STREAK_LEN),
            best = member_streak(run->m, name, MEMBER_STREAK_BEST);
    int64_t frz = member_streak(run->m, name, MEMBER_STREAK_FREEZES), frozen = 0, was = len;
    int broke = 0;

    if (per != CAL_DAY && per != CAL_WEEK)
        return luaL_error(L, "streak %s: per must be day or week", name);
    if (monthly > 0) {
        /* A monthly allowance tops freezes up; granted ones above it stay. */
        int64_t month = cal_period_index(at, tz, hour, CAL_MONTH) + 1;
        if (member_streak(run->m, name, MEMBER_STREAK_FREEZE_MONTH) != month) {
            if (frz < monthly)
                frz = monthly;
            set_streak(L, run, name, MEMBER_STREAK_FREEZE_MONTH, month);
            set_streak(L, run, name, MEMBER_STREAK_FREEZES, frz);
        }
    }
    if (last > 0) {
        int64_t now_i = cal_period_index(at, tz, hour, per);
        int64_t last_i = cal_period_index(last, tz, hour, per);
        if (now_i <= last_i) {
            /* The same period (or an event from the past): nothing changes. */
            if (at > last)
                set_streak(L, run, name, MEMBER_STREAK_LAST, at);
            lua_pushinteger(L, len);
            return 1;
        }
        int64_t missed = now_i - last_i - 1;
        if (missed <= grace) {
            len++;
        } else if (missed - grace <= frz) {
            frozen = missed - grace;
            frz -= frozen;
            len++;
            set_streak(L, run, name, MEMBER_STREAK_FREEZES, frz);
        } else {
            broke = 1;
            len = 1;
        }
    } else {
        len = 1;
    }
    if (len > best)
        best = len;
    set_streak(L, run, name, MEMBER_STREAK_LEN, len);
    set_streak(L, run, name, MEMBER_STREAK_BEST, best);
    set_streak(L, run, name, MEMBER_STREAK_LAST, at);
    json_t *o = json_pack("{s:s, s:s, s:I, s:I}", "kind", "streak", "streak", name, "length",
                          (json_int_t)len, "best", (json_int_t)best);
    if (o && frozen)
        json_object_set_new(o, "frozen", json_integer(frozen));
    if (o && broke)
        json_object_set_new(o, "broken", json_integer(was));
    luart_outcome(L, run, o);
    lua_pushinteger(L, len);
    return 1;
}

/* m:freeze(streak, n) -> freezes left after granting n (earned or given). */
static int m_freeze(lua_State *L)
{
    mech_run *run = luart_running(L);
    const char *name = luart_check_name(L, 2, "streak");
    int64_t n = lua_isnoneornil(L, 3) ? 1 : luart_check_amount(L, 3);
    int64_t frz;
    if (__builtin_add_overflow(member_streak(run->m, name, MEMBER_STREAK_FREEZES), n, &frz))
        return luaL_error(L, "freeze %s: too many freezes (the count would overflow)", name);
    set_streak(L, run, name, MEMBER_STREAK_FREEZES, frz);
    lua_pushinteger(L, frz);
    return 1;
}

/* m:streak_length(name) -> the length as of the last hit (0 when never hit). */
static int m_streak_length(lua_State *L)
{
    mech_run *run = luart_running(L);
    lua_pushinteger(L, member_streak(run->m, luart_check_name(L, 2, "streak"), MEMBER_STREAK_LEN));
    return 1;
}

/*
 * m:badge_level(name, progress, {10, 50, 100}) -> level. progress is the
 * member's figure now (e.g. m:count("workouts")); each threshold reached is
 * a level, reported once as a badge outcome with its level. Level 1 also
 * awards the plain badge, so m:has_badge(name) is true from then on.
 */
static int m_badge_level(lua_State *L)
{
    mech_run *run = luart_running(L);
    const char *name = luart_check_name(L, 2, "badge");
    int isint = 0;
    lua_Integer progress = lua_tointegerx(L, 3, &isint);
    lua_Integer n, level = 0, prev, next = -1, last = 0;
    if (!isint)
        return luaL_error(L, "badge_level %s: progress must be a whole number", name);
    luaL_checktype(L, 4, LUA_TTABLE);
    n = luaL_len(L, 4);
    if (n < 1 || n > 100)
        return luaL_error(L, "badge_level %s: give 1 to 100 thresholds", name);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_Integer t;
        lua_geti(L, 4, i);
        t = lua_tointegerx(L, -1, &isint);
        lua_pop(L, 1);
        if (!isint || t <= last)
            return luaL_error(L, "badge_level %s: thresholds must be rising whole numbers", name);
        last = t;
        if (progress >= t)
            level = i;
        else if (next < 0)
            next = t;
    }
    prev = member_level(run->m, name, MEMBER_LEVEL);
    /* Thresholds are above 0: next 0 (no field) says the top level is reached. */
    if (member_set_level(run->m, name, MEMBER_LEVEL_PROGRESS, progress) ||
        member_set_level(run->m, name, MEMBER_LEVEL_NEXT, next >= 0 ? next : 0))
        luart_oom(L);
    if (level > prev) {
        if (member_set_level(run->m, name, MEMBER_LEVEL, level) ||
            member_set_level(run->m, name, MEMBER_LEVEL_AT, run->ev->at_ms) ||
            member_award_badge(run->m, name, run->ev->at_ms) < 0)
            luart_oom(L);
        luart_outcome(L, run,
                      json_pack("{s:s, s:s, s:I, s:I}", "kind", "badge", "badge", name, "level",
                                (json_int_t)level, "progress", (json_int_t)progress));
    } else {
        level = prev;
    }
    lua_pushinteger(L, level);
    return 1;
}

static const char *const draw_opts[] = {"chance", "prize",     "prizes", "pool", "refill",
                                        "limit",  "limit_per", "tz",     NULL};

/* The draw's current limit period id, and the member's wins in it. */
static void draw_limit_state(lua_State *L, mech_run *run, const char *draw, int opts, char *pid,
                             size_t n, int64_t *wins)
{
    int per = opt_period(L, opts, "limit_per", "never");
    cal_period_id(run->ev->at_ms, local_tz(L, run, opts), 0, per, pid, n);
    *wins = member_draw_wins(run->m, draw, pid);
}

static int draw_done(lua_State *L, int status, lua_KContext ctx)
{
    mech_run *run = luart_take_reply(L);
    int r = lua_gettop(L), opts = 3;
    const char *draw = lua_tostring(L, 2);
    json_t *o;
    lua_getfield(L, r, "won");
    int won = lua_toboolean(L, -1);
    lua_getfield(L, r, "prize");
    const char *prize = lua_tostring(L, -1);
    o = json_pack("{s:s, s:s, s:b}", "kind", "draw", "draw", draw, "won", won);
    if (!o)
        luart_oom(L);
    if (won)
        json_object_set_new(o, "prize", json_string(prize));
    static const char *const copy[] = {"epoch", "roll", "chance", "reason"};
    for (size_t i = 0; i < sizeof copy / sizeof *copy; i++) {
        lua_getfield(L, r, copy[i]);
        if (lua_type(L, -1) == LUA_TNUMBER)
            json_object_set_new(o, copy[i],
                                lua_isinteger(L, -1) ? json_integer(lua_tointeger(L, -1))
                                                     : json_real(lua_tonumber(L, -1)));
        else if (lua_type(L, -1) == LUA_TSTRING)
            json_object_set_new(o, copy[i], json_string(lua_tostring(L, -1)));
        lua_pop(L, 1);
    }
    luart_outcome(L, run, o);
    if (!won) {
        lua_pushnil(L);
        return 1;
    }
    {
        char pid[32];
        int64_t wins;
        draw_limit_state(L, run, draw, opts, pid, sizeof pid, &wins);
        if (member_set_draw_wins(run->m, draw, pid, wins + 1) || member_add_prize(run->m, prize))
            luart_oom(L);
        luart_outcome(L, run,
                      json_pack("{s:s, s:s, s:s}", "kind", "prize", "prize", prize, "draw", draw));
    }
    lua_pushstring(L, prize);
    return 1;
}

/* Adds {"prize", "pool", "refill", "period", "ttl"} for one prize name to the list. */
static void draw_prize(lua_State *L, mech_run *run, int opts, json_t *list, const char *prize,
                       const char *tz)
{
    lua_Integer pool = -1;
    int refill = opt_period(L, opts, "refill", "never");
    char pid[32];
    if (!pc_valid_name(prize))
        luaL_error(L, "draw: bad prize name '%s'", prize);
    int t = luart_opt_type(L, opts, "pool");
    if (t == LUA_TNUMBER) {
        pool = opt_int(L, opts, "pool", -1, 0, INT32_MAX);
    } else if (t == LUA_TTABLE) {
        lua_getfield(L, -1, prize);
        if (!lua_isnil(L, -1)) {
            int isint = 0;
            pool = lua_tointegerx(L, -1, &isint);
            if (!isint || pool < 0)
                luaL_error(L, "draw: pool.%s must be a whole number", prize);
        }
        lua_pop(L, 1);
    } else if (t != LUA_TNIL) {
        luaL_error(L, "draw: pool must be a number, or a table of prize = number");
    }
    lua_pop(L, 1); /* the pool option (opts is a table here) */
    cal_period_id(run->ev->at_ms, tz, 0, refill, pid, sizeof pid);
    json_array_append_new(list, json_pack("{s:s, s:I, s:s, s:s, s:i}", "prize", prize, "pool",
                                          (json_int_t)pool, "refill", cal_period_name(refill),
                                          "period", pid, "ttl", cal_period_ttl(refill)));
}

/*
 * m:draw(name, {chance, prize | prizes, pool, refill, limit, limit_per, tz})
 * -> the prize won, or nil. The roll is the keyed hash of the event (see
 * model/draw-internal.h), so a retry draws the same and an audit can redo it.
 */
static int m_draw(lua_State *L)
{
    mech_run *run = luart_running(L);
    const char *draw = luart_check_name(L, 2, "draw");
    json_t *prizes;
    lua_Number chance;
    luaL_checktype(L, 3, LUA_TTABLE);
    luart_opt_check(L, 3, "draw", draw_opts);
    lua_settop(L, 3);
    if (luart_opt_type(L, 3, "chance") != LUA_TNUMBER)
        return luaL_error(L, "draw %s: chance must be a number from 0 to 1", draw);
    chance = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (!(chance >= 0 && chance <= 1))
        return luaL_error(L, "draw %s: chance must be a number from 0 to 1", draw);
    const char *tz = luart_opt_tz(L, 3);
    lua_Integer limit = opt_int(L, 3, "limit", 0, 0, INT32_MAX);
    if (limit > 0) {
        char pid[32];
        int64_t wins;
        draw_limit_state(L, run, draw, 3, pid, sizeof pid, &wins);
        if (wins >= limit) {
            luart_outcome(L, run,
                          json_pack("{s:s, s:s, s:b, s:s}", "kind", "draw", "draw", draw, "won", 0,
                                    "reason", "limit"));
            lua_pushnil(L);
            return 1;
        }
    }
    if (!(prizes = json_array()))
        luart_oom(L);
    if (luart_opt_type(L, 3, "prizes") == LUA_TTABLE) {
        lua_Integer n = luart_list_len(L, -1, "draw prizes");
        for (lua_Integer i = 1; i <= n; i++) {
            lua_geti(L, -1, i);
            if (lua_type(L, -1) != LUA_TSTRING) {
                json_decref(prizes);
                return luaL_error(L, "draw %s: prizes must list prize names", draw);
            }
            draw_prize(L, run, 3, prizes, lua_tostring(L, -1), tz);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    } else {
        lua_settop(L, 3);
        draw_prize(L, run, 3, prizes, luart_opt_str(L, 3, "prize", draw), tz);
    }
    if (json_array_size(prizes) == 0) {
        json_decref(prizes);
        return luaL_error(L, "draw %s: prizes must not be empty", draw);
    }
    lua_settop(L, 3);
    return luart_global_call(L, "draw",
                             json_pack("{s:s, s:f, s:s, s:o}", "draw", draw, "chance",
                                       (double)chance, "tz", tz, "prizes", prizes),
                             draw_done);
}

static int bool_done(lua_State *L, int status, lua_KContext ctx)
{
    luart_take_reply(L);
    lua_pushboolean(L, lua_toboolean(L, -1));
    return 1;
}

static const char *const budget_opts[] = {"max", "per", "tz", NULL};

/* m:budget(name, amount, {max, per, tz}) -> true when amount fits in this period's budget. */
static int m_budget(lua_State *L)
{
    mech_run *run = luart_running(L);
    const char *name = luart_check_name(L, 2, "budget");
    int64_t amount = luart_check_amount(L, 3);
    char pid[32];
    luaL_checktype(L, 4, LUA_TTABLE);
    luart_opt_check(L, 4, "budget", budget_opts);
    lua_Integer max = opt_int(L, 4, "max", -1, 0, INT64_MAX);
    int per = opt_period(L, 4, "per", "day");
    if (max < 0)
        return luaL_error(L, "budget %s: max is required", name);
    cal_period_id(run->ev->at_ms, luart_opt_tz(L, 4), 0, per, pid, sizeof pid);
    return luart_global_call(L, "budget",
                             json_pack("{s:s, s:I, s:I, s:s, s:i}", "budget", name, "amount",
                                       (json_int_t)amount, "max", (json_int_t)max, "period", pid,
                                       "ttl", cal_period_ttl(per)),
                             bool_done);
}

static const char *const score_opts[] = {"per", "tz", NULL};

/* m:score(board, amount [, {per, tz}]): adds to the member's score on the board after the commit.
 */
static int m_score(lua_State *L)
{
    mech_run *run = luart_running(L);
    const char *board = luart_check_name(L, 2, "leaderboard");
    int isint = 0;
    lua_Integer amount = lua_tointegerx(L, 3, &isint);
    char pid[32];
    if (!isint)
        return luaL_error(L, "score %s: the amount must be a whole number", board);
    luart_opt_check(L, 4, "score", score_opts);
    int per = opt_period(L, 4, "per", "week");
    const char *tz = luart_opt_tz(L, 4);
    cal_period_id(run->ev->at_ms, tz, 0, per, pid, sizeof pid);
    luart_check_caps(L, run, 0, 1);
    if (member_add_effect(run->m,
                          json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "op", "leaderboard", "board",
                                    board, "period", pid, "per", cal_period_name(per), "tz", tz,
                                    "score", (json_int_t)amount)))
        luart_oom(L);
    return 0;
}

static const char *const referral_opts[] = {"event", NULL};

static int referral_done(lua_State *L, int status, lua_KContext ctx)
{
    mech_run *run = luart_take_reply(L);
    const char *by = lua_tostring(L, 2);
    const char *type = lua_tostring(L, 3);
    if (!lua_toboolean(L, -1)) {
        lua_pushboolean(L, 0);
        return 1;
    }
    /* After the commit, the engine sends the referrer their event. */
    if (member_add_effect(
            run->m, json_pack("{s:s, s:s, s:s}", "op", "referral", "referrer", by, "type", type)))
        luart_oom(L);
    luart_outcome(L, run, json_pack("{s:s, s:s}", "kind", "referral", "referrer", by));
    lua_pushboolean(L, 1);
    return 1;
}

/*
 * m:referral(referrer [, {event = "referral"}]) -> true once per member ever:
 * this member was brought by referrer, and this is the event that rewards
 * it. Then the referrer is sent an event (type `event`, id "ref:<member>",
 * data.friend = the member) after the commit. False for no referrer, for
 * the member itself, and for every later event (retried, re-sent or not).
 */
static int m_referral(lua_State *L)
{
    mech_run *run = luart_running(L);
    const char *by = lua_isnoneornil(L, 2) ? NULL : luaL_checkstring(L, 2);
    luart_opt_check(L, 3, "referral", referral_opts);
    const char *type = luart_opt_str(L, 3, "event", "referral");
    if (!pc_valid_name(type))
        return luaL_error(L, "referral: bad event type '%s'", type);
    if (!by || !*by || !strcmp(by, run->m->id) || !pc_valid_id(by)) {
        lua_pushboolean(L, 0);
        return 1;
    }
    lua_settop(L, 3);
    lua_pushstring(L, type); /* a copy, before the options table may go */
    lua_replace(L, 3);
    return luart_global_call(L, "referral", json_pack("{s:s, s:s}", "referrer", by, "type", type),
                             referral_done);
}

static const luaL_Reg methods[] = {{"streak", m_streak},
                                   {"freeze", m_freeze},
                                   {"streak_length", m_streak_length},
                                   {"badge_level", m_badge_level},
                                   {"draw", m_draw},
                                   {"budget", m_budget},
                                   {"score", m_score},
                                   {"referral", m_referral},
                                   {NULL, NULL}};

void luart_game_methods(lua_State *L)
{
    luaL_setfuncs(L, methods, 0);
}

#define GLOBAL_ADD_MAX INT64_C(1000000000000000) /* 1e15, well inside a double's 2^53 */

/*
 * global_add(counter, n) -> the global counter after adding n for this event
 * (once per event and counter, like global_count; n may be 0 or negative).
 */
static int api_global_add(lua_State *L)
{
    const char *name = luart_check_name(L, 1, "counter");
    int isint = 0;
    lua_Integer by = lua_tointegerx(L, 2, &isint);
    if (!isint)
        return luaL_error(L, "global_add %s: the amount must be a whole number", name);
    /* Redis's Lua keeps numbers as doubles: beyond 2^53 a counter would come back wrong. */
    if (by > GLOBAL_ADD_MAX || by < -GLOBAL_ADD_MAX)
        return luaL_error(L, "global_add %s: the amount must be within -%I and %I", name,
                          (lua_Integer)GLOBAL_ADD_MAX, (lua_Integer)GLOBAL_ADD_MAX);
    return luart_global_call(L, "counter",
                             json_pack("{s:s, s:I}", "name", name, "by", (json_int_t)by), NULL);
}

void luart_game_globals(lua_State *L)
{
    lua_pushcfunction(L, api_global_add);
    lua_setfield(L, -2, "global_add");
}
