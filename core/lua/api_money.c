/*
 * The money part of the mechanics API (docs/mechanics.md, "Currencies"):
 * currencies declared with their expiry and return window, earn and spend
 * through lots (model/lots-internal.h), cashback, pending and expiring
 * amounts, rolling windows for tiers, tier order and the floor a person set,
 * once-only grants, member-local dates and birthdays, and reject() /
 * discount() for the backend.
 */
#include "lua-internal.h"
#include "common/calendar-internal.h"
#include "model/lots-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <time.h>

/*
 * A span: a duration string (cal_parse_span: "14d", "6mo", "1y6mo", "12h")
 * or a number of days -> calendar months and milliseconds. -1 when malformed.
 */
static int parse_span(lua_State *L, int idx, int *months, int64_t *ms)
{
    *months = 0;
    *ms = 0;
    if (lua_type(L, idx) == LUA_TNUMBER) {
        int isint = 0;
        lua_Integer d = lua_tointegerx(L, idx, &isint);
        if (!isint || d < 0 || d > 100000 * 7)
            return -1;
        *ms = (int64_t)d * 86400000;
        return 0;
    }
    if (lua_type(L, idx) != LUA_TSTRING)
        return -1;
    return cal_parse_span(lua_tostring(L, idx), months, ms);
}

/* The rules of a currency, or the options of one earn. */
typedef struct policy {
    int has_expiry;  /* expires_in or expires_at given */
    int months;      /* expires_in in calendar months */
    int64_t ms;      /* expires_in in milliseconds */
    char period[16]; /* expires_at: "month", "quarter", "year", or "" */
    int has_pending;
    int64_t pending_ms;
} policy;

/*
 * Reads expiry and return-window fields of the table at idx into p. Raises on
 * a bad value; allocates nothing, so a raise leaks nothing.
 */
static void read_policy(lua_State *L, int idx, policy *p, const char *who)
{
    int months;
    int64_t ms;
    int given_in, given_at;
    lua_getfield(L, idx, "expires_in");
    lua_getfield(L, idx, "expires_at");
    given_in = !lua_isnil(L, -2);
    given_at = !lua_isnil(L, -1);
    if (given_in || given_at) {
        p->has_expiry = 1;
        p->months = 0;
        p->ms = 0;
        p->period[0] = '\0';
    }
    if (given_in) {
        if (parse_span(L, -2, &months, &ms))
            luaL_error(L,
                       "%s: expires_in must be like \"30d\", \"6mo\" or \"2y\", or a whole "
                       "number of days from 0 (never) to 700000, got %s",
                       who, luaL_tolstring(L, -2, NULL));
        p->months = months;
        p->ms = ms;
    }
    if (given_at) {
        const char *at = lua_tostring(L, -1);
        if (!at || (strcmp(at, "end_of_month") && strcmp(at, "end_of_quarter") &&
                    strcmp(at, "end_of_year")))
            luaL_error(L,
                       "%s: expires_at must be \"end_of_month\", \"end_of_quarter\" or "
                       "\"end_of_year\"",
                       who);
        snprintf(p->period, sizeof p->period, "%s", at + 7);
    }
    lua_pop(L, 2);
    lua_getfield(L, idx, "pending");
    if (!lua_isnil(L, -1)) {
        if (parse_span(L, -1, &months, &ms) || months)
            luaL_error(L,
                       "%s: pending must be like \"14d\", or a whole number of days from 0 to "
                       "700000, got %s",
                       who, luaL_tolstring(L, -1, NULL));
        p->has_pending = 1;
        p->pending_ms = ms;
    }
    lua_pop(L, 1);
}

static json_t *policy_json(const policy *p)
{
    return json_pack("{s:i, s:I, s:s, s:I}", "expires_months", p->months, "expires_ms",
                     (json_int_t)p->ms, "period", p->period, "pending_ms",
                     (json_int_t)p->pending_ms);
}

static void policy_of(const mechset *set, const char *cur, policy *p)
{
    json_t *j = json_object_get(set->currencies, cur);
    memset(p, 0, sizeof *p);
    if (!j)
        return;
    p->months = (int)json_integer_value(json_object_get(j, "expires_months"));
    p->ms = json_integer_value(json_object_get(j, "expires_ms"));
    snprintf(p->period, sizeof p->period, "%s",
             json_string_value(json_object_get(j, "period"))
                 ? json_string_value(json_object_get(j, "period"))
                 : "");
    p->pending_ms = json_integer_value(json_object_get(j, "pending_ms"));
}

/* currency "stamps" { expires_in = "6mo" } -- declared at a file's top level */
static int declare_currency(lua_State *L)
{
    mechset *set = luart_run_of(L)->set;
    const char *name = lua_tostring(L, lua_upvalueindex(1));
    policy p = {0};
    if (!set->loading_file)
        return luaL_error(L, "currency '%s' declared outside a script's top level", name);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
        if (strcmp(k, "expires_in") && strcmp(k, "expires_at") && strcmp(k, "pending") &&
            strcmp(k, "description"))
            return luaL_error(L,
                              "currency '%s': unknown field '%s' (use expires_in, expires_at, "
                              "pending, description)",
                              name, k);
        lua_pop(L, 1);
    }
    if (json_object_get(set->currencies, name))
        return luaL_error(L, "currency '%s' is declared twice", name);
    read_policy(L, 1, &p, name);
    json_object_set_new(set->currencies, name, policy_json(&p));
    return 0;
}

static int api_currency(lua_State *L)
{
    luart_check_name(L, 1, "currency");
    lua_pushvalue(L, 1);
    lua_pushcclosure(L, declare_currency, 1);
    return 1;
}

/* tiers { "blue", "silver", "gold" } -- lowest first */
static int api_tiers(lua_State *L)
{
    mechset *set = luart_run_of(L)->set;
    json_t *t;
    lua_Integer n;
    if (!set->loading_file)
        return luaL_error(L, "tiers declared outside a script's top level");
    if (set->tiers)
        return luaL_error(L, "tiers are declared twice");
    luaL_checktype(L, 1, LUA_TTABLE);
    n = luart_list_len(L, 1, "tiers");
    if (n < 1)
        return luaL_error(L, "tiers: list the tier names, lowest first");
    for (lua_Integer i = 1; i <= n; i++) { /* check all before allocating */
        lua_geti(L, 1, i);
        luart_check_name(L, -1, "tier");
        lua_pop(L, 1);
    }
    t = json_array();
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 1, i);
        json_array_append_new(t, json_string(lua_tostring(L, -1)));
        lua_pop(L, 1);
    }
    set->tiers = t;
    return 0;
}

/* reject(message): the event fails with 422 "rejected" and this message; nothing is applied. */
static int api_reject(lua_State *L)
{
    mech_run *run = luart_running(L);
    const char *msg = luaL_checkstring(L, 1);
    snprintf(run->rejected, sizeof run->rejected, "%s", msg);
    return luaL_error(L, "rejected: %s", msg);
}

#define DISCOUNT_MONEY_MAX INT64_C(1000000000000000) /* 1e15: exact in a double */

/*
 * The money a discount grants, for the figures (GET /v1/stats, punch simulate):
 * the field `of` (the amount the percent is taken off, a whole number >= 0)
 * sets `off` = floor(of * percent / 100); an `off` given as is must be a whole
 * number >= 0. The outcome table is at the top of the stack.
 */
static void discount_money(lua_State *L, lua_Number pct)
{
    int isint = 0;
    lua_Integer v;
    if (lua_getfield(L, -1, "of") != LUA_TNIL) {
        v = lua_tointegerx(L, -1, &isint);
        if (!isint || v < 0 || v > DISCOUNT_MONEY_MAX)
            luaL_error(L, "discount: of must be a whole amount from 0 to 10^15");
        lua_pop(L, 1);
        lua_pushinteger(L, (lua_Integer)floor((double)v * pct / 100));
        lua_setfield(L, -2, "off");
        return;
    }
    lua_pop(L, 1);
    if (lua_getfield(L, -1, "off") != LUA_TNIL) {
        v = lua_tointegerx(L, -1, &isint);
        if (!isint || v < 0 || v > DISCOUNT_MONEY_MAX)
            luaL_error(L, "discount: off must be a whole amount from 0 to 10^15");
    }
    lua_pop(L, 1);
}

/* discount(percent [, fields]) -> {"kind": "discount", "percent": p, ...} for the backend */
static int api_discount(lua_State *L)
{
    lua_Number pct = luaL_checknumber(L, 1);
    if (!(pct >= 0 && pct <= 100)) /* NaN fails both */
        return luaL_error(L, "discount: percent must be a number from 0 to 100, got %s",
                          luaL_tolstring(L, 1, NULL));
    lua_createtable(L, 0, 4);
    if (lua_istable(L, 2)) {
        lua_pushnil(L);
        while (lua_next(L, 2)) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_settable(L, -4);
        }
    }
    lua_pushliteral(L, "discount");
    lua_setfield(L, -2, "kind");
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "percent");
    discount_money(L, pct);
    return 1;
}

/* Expiry and availability of an earn: the currency's policy, then the call's options. */
static void earn_times(lua_State *L, mech_run *run, const char *cur, int opts, int64_t *expires,
                       int64_t *avail)
{
    int64_t now = run->ev->at_ms;
    policy p;
    policy_of(run->set, cur, &p);
    if (opts && lua_istable(L, opts)) {
        lua_pushnil(L);
        while (lua_next(L, opts)) {
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
            if (strcmp(k, "expires_in") && strcmp(k, "expires_at") && strcmp(k, "pending"))
                luaL_error(L, "earn: unknown option '%s' (use expires_in, expires_at, pending)", k);
            lua_pop(L, 1);
        }
        /* An option replaces the policy's expiry as a whole. */
        read_policy(L, opts, &p, "earn");
    }
    *expires = 0;
    if (p.months || p.ms)
        *expires = cal_add_span(now, p.months, p.ms);
    if (p.period[0]) {
        int64_t end = cal_period_end(now, p.period);
        if (!*expires || end < *expires)
            *expires = end;
    }
    *avail = p.pending_ms ? now + p.pending_ms : 0;
}

static int earn(lua_State *L, mech_run *run, const char *cur, int64_t amount, int opts)
{
    int64_t expires, avail, bal;
    const char *err = NULL;
    earn_times(L, run, cur, opts, &expires, &avail);
    if (lots_earn(run->m, run->cur->name, cur, amount, expires, avail, run->ev->at_ms, run->ev->id,
                  &bal, &err))
        return luaL_error(L, "earn %s: %s", cur, err);
    lua_pushinteger(L, bal);
    return 1;
}

/* m:earn(currency, amount [, {expires_in=, expires_at=, pending=}]) -> balance */
static int m_earn(lua_State *L)
{
    mech_run *run = luart_running(L);
    const char *cur = luart_check_name(L, 2, "currency");
    return earn(L, run, cur, luart_check_amount(L, 3), lua_isnoneornil(L, 4) ? 0 : 4);
}

/* m:cashback(currency, amount, percent [, opts]) -> balance; rounds down */
static int m_cashback(lua_State *L)
{
    mech_run *run = luart_running(L);
    const char *cur = luart_check_name(L, 2, "currency");
    int64_t amount = luart_check_amount(L, 3);
    lua_Number pct = luaL_checknumber(L, 4);
    int64_t bp, back;
    if (!(pct >= 0 && pct <= 100)) /* NaN fails both */
        return luaL_error(L, "cashback: percent must be from 0 to 100, got %s",
                          luaL_tolstring(L, 4, NULL));
    bp = (int64_t)(pct * 100 + 0.5); /* basis points: exact for 2 decimals */
    if (__builtin_mul_overflow(amount, bp, &back))
        return luaL_error(L, "cashback: amount too large");
    return earn(L, run, cur, back / 10000, lua_isnoneornil(L, 5) ? 0 : 5);
}

/* m:spend(currency, amount) -> balance; soonest-expiring first; fails the event when short */
static int m_spend(lua_State *L)
{
    mech_run *run = luart_running(L);
    const char *cur = luart_check_name(L, 2, "currency");
    int64_t amount = luart_check_amount(L, 3), bal;
    const char *err = NULL;
    if (lots_spend(run->m, run->cur->name, NULL, cur, amount, &bal, &err))
        return luaL_error(L, "spend %I %s: %s", (lua_Integer)amount, cur, err);
    lua_pushinteger(L, bal);
    return 1;
}

/* m:pending(currency) -> the amount earned but not yet spendable */
static int m_pending(lua_State *L)
{
    mech_run *run = luart_running(L);
    lua_pushinteger(L, member_pending(run->m, luart_check_name(L, 2, "currency")));
    return 1;
}

/* m:expiring(currency) -> amount, at (seconds) of the next expiry, or nil */
static int m_expiring(lua_State *L)
{
    mech_run *run = luart_running(L);
    const char *cur = luart_check_name(L, 2, "currency");
    json_t *sum = lots_summary(run->m);
    json_t *next = json_object_get(json_object_get(sum, cur), "next_expiry");
    int64_t at;
    if (!sum)
        return luart_oom(L); /* not "nothing expires" */
    if (!json_is_object(next) ||
        pc_time_parse(json_string_value(json_object_get(next, "at")), &at)) {
        json_decref(sum);
        lua_pushnil(L);
        return 1;
    }
    lua_pushinteger(L, (lua_Integer)json_integer_value(json_object_get(next, "amount")));
    lua_pushinteger(L, at / 1000);
    json_decref(sum);
    return 2;
}

/* m:track(name, amount) -> this month's total; feeds m:rolling */
static int m_track(lua_State *L)
{
    mech_run *run = luart_running(L);
    const char *name = luart_check_name(L, 2, "window");
    int64_t at = run->ev->at_ms, v;
    int isint;
    lua_Integer amount = lua_tointegerx(L, 3, &isint);
    if (!isint)
        return luaL_error(L, "track %s: the amount must be a whole number", name);
    if (__builtin_add_overflow(member_window(run->m, name, at), (int64_t)amount, &v))
        return luaL_error(L, "track %s: overflow", name);
    if (member_set_window(run->m, name, at, v))
        return luart_oom(L);
    /* Buckets older than two years serve no window: drop them. */
    member_drop_windows(run->m, name, cal_add_months(at, -25));
    lua_pushinteger(L, v);
    return 1;
}

/* m:rolling(name, months) -> the total of the last `months` calendar months, this one included */
static int m_rolling(lua_State *L)
{
    mech_run *run = luart_running(L);
    const char *name = luart_check_name(L, 2, "window");
    lua_Integer months = luaL_checkinteger(L, 3);
    int64_t sum = 0;
    if (months < 1 || months > 24)
        return luaL_error(L, "rolling %s: months must be 1-24", name);
    for (int i = 0; i < months; i++)
        if (__builtin_add_overflow(
                sum, member_window(run->m, name, cal_add_months(run->ev->at_ms, -i)), &sum))
            return luaL_error(L, "rolling %s: the total overflows", name);
    lua_pushinteger(L, sum);
    return 1;
}

/* m:set_tier(name) -> true when the tier changed; never below the floor a person set */
static int m_set_tier(lua_State *L)
{
    mech_run *run = luart_running(L);
    const char *name = luart_check_name(L, 2, "tier");
    const char *floor = member_tier_floor(run->m);
    const char *old = member_tier(run->m);
    json_t *o;
    if (run->set->tiers && luart_tier_rank(run->set, name) < 0)
        return luaL_error(L, "set_tier: '%s' is not one of the declared tiers", name);
    if (floor && luart_tier_rank(run->set, floor) > luart_tier_rank(run->set, name))
        name = floor;
    if (old && strcmp(old, name) == 0) {
        lua_pushboolean(L, 0);
        return 1;
    }
    o = json_pack("{s:s, s:s, s:o}", "kind", "tier", "tier", name, "from",
                  old ? json_string(old) : json_null());
    luart_outcome(L, run, o);
    if (member_set_tier(run->m, name))
        return luart_oom(L);
    lua_pushboolean(L, 1);
    return 1;
}

/* m:local_date() -> {year, month, day, hour, minute, wday (1 = Sunday)} in the member's time zone
 */
static int m_local_date(lua_State *L)
{
    mech_run *run = luart_running(L);
    struct tm tm;
    pc_local_time(run->ev->at_ms, luart_member_tz(L, run), &tm);
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, tm.tm_year + 1900);
    lua_setfield(L, -2, "year");
    lua_pushinteger(L, tm.tm_mon + 1);
    lua_setfield(L, -2, "month");
    lua_pushinteger(L, tm.tm_mday);
    lua_setfield(L, -2, "day");
    lua_pushinteger(L, tm.tm_hour);
    lua_setfield(L, -2, "hour");
    lua_pushinteger(L, tm.tm_min);
    lua_setfield(L, -2, "minute");
    lua_pushinteger(L, tm.tm_wday + 1);
    lua_setfield(L, -2, "wday");
    return 1;
}

/* m:is_birthday() -> true on the member's birthday (attribute "birthday", in their time zone) */
static int m_is_birthday(lua_State *L)
{
    mech_run *run = luart_running(L);
    struct tm tm;
    int mo, d;
    if (member_birthday(run->m, &mo, &d)) {
        lua_pushboolean(L, 0);
        return 1;
    }
    pc_local_time(run->ev->at_ms, luart_member_tz(L, run), &tm);
    /* Born on 29 February: celebrated on the 28th in other years. */
    int leap = ((tm.tm_year + 1900) % 4 == 0 && (tm.tm_year + 1900) % 100 != 0) ||
               (tm.tm_year + 1900) % 400 == 0;
    if (mo == 2 && d == 29 && !leap)
        d = 28;
    lua_pushboolean(L, tm.tm_mon + 1 == mo && tm.tm_mday == d);
    return 1;
}

static int once_key(lua_State *L, mech_run *run, const char *key)
{
    int r = member_mark_once(run->m, key, run->ev->at_ms);
    if (r < 0)
        return luart_oom(L);
    lua_pushboolean(L, r);
    return 1;
}

/* m:once(key) -> true the first time for this member, false ever after */
static int m_once(lua_State *L)
{
    mech_run *run = luart_running(L);
    return once_key(L, run, luart_check_name(L, 2, "once key"));
}

/* m:once_per_year(key) -> true the first time in the member's local calendar year */
static int m_once_per_year(lua_State *L)
{
    mech_run *run = luart_running(L);
    const char *key = luart_check_name(L, 2, "once key");
    struct tm tm;
    char k[100];
    pc_local_time(run->ev->at_ms, luart_member_tz(L, run), &tm);
    snprintf(k, sizeof k, "%s:%04d", key, tm.tm_year + 1900);
    return once_key(L, run, k);
}

/* m:wake_at(seconds) -> asks for a "tick" event for this member at that time (the earliest asked
 * wins) */
static int m_wake_at(lua_State *L)
{
    mech_run *run = luart_running(L);
    lua_Integer at = luaL_checkinteger(L, 2);
    int64_t ms, cur = member_wake(run->m);
    if (at < 0 || at > 253402300799) /* up to the year 9999 */
        return luaL_error(L, "wake_at: the time must be seconds since 1970, before the year 10000");
    ms = (int64_t)at * 1000;
    if (ms <= run->ev->at_ms)
        return luaL_error(L, "wake_at: the time must be in the future");
    if (!cur || cur <= run->ev->at_ms || ms < cur)
        if (member_set_wake(run->m, ms))
            return luart_oom(L);
    return 0;
}

/* m:next_birthday() -> seconds of the next local midnight of the member's birthday, or nil */
static int m_next_birthday(lua_State *L)
{
    mech_run *run = luart_running(L);
    const char *tz = luart_member_tz(L, run);
    struct tm now;
    int mo, d;
    if (member_birthday(run->m, &mo, &d)) {
        lua_pushnil(L);
        return 1;
    }
    pc_local_time(run->ev->at_ms, tz, &now);
    for (int y = now.tm_year + 1900; y <= now.tm_year + 1901; y++) {
        int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        int64_t start = pc_local_to_utc(tz, y, mo, (mo == 2 && d == 29 && !leap) ? 28 : d, 0, 0, 0);
        if (start > run->ev->at_ms) {
            lua_pushinteger(L, start / 1000);
            return 1;
        }
    }
    lua_pushnil(L);
    return 1;
}

/* utc(year, month, day [, hour, min, sec]) -> seconds since the epoch */
static int api_utc(lua_State *L)
{
    int year = (int)luaL_checkinteger(L, 1), month = (int)luaL_checkinteger(L, 2);
    int day = (int)luaL_checkinteger(L, 3), hour = (int)luaL_optinteger(L, 4, 0);
    int min = (int)luaL_optinteger(L, 5, 0), sec = (int)luaL_optinteger(L, 6, 0);
    if (year < 1970 || year > 9900 || month < 1 || month > 12)
        return luaL_error(L, "utc: year 1970-9999, month 1-12");
    /* A day, hour, minute or second out of its range carries over, as with timegm. */
    lua_pushinteger(L, (lua_Integer)cal_utc_seconds(year, month, day, hour, min, sec));
    return 1;
}

/* timezone "Europe/Paris" -- at a file's top level: the program's time zone */
static int api_timezone(lua_State *L)
{
    mech_run *run = luart_run_of(L);
    mechset *set = run ? run->set : NULL;
    const char *tz = luaL_checkstring(L, 1);
    char *copy;
    if (!set || !set->loading_file)
        return luaL_error(L, "timezone is declared at a file's top level");
    if (!pc_tz_valid(tz))
        return luaL_error(L,
                          "timezone: unknown time zone '%s' (use an IANA name like "
                          "\"Europe/Paris\")",
                          tz);
    if (set->timezone && strcmp(set->timezone, tz))
        return luaL_error(L, "timezone: the program's time zone is already '%s'", set->timezone);
    if (!set->timezone) {
        if (!(copy = strdup(tz)))
            return luart_oom(L);
        set->timezone = copy;
    }
    return 0;
}

/* A time argument in seconds since the epoch (0 to the year 9999). */
static int64_t check_seconds(lua_State *L, int arg, const char *who)
{
    int isint = 0;
    lua_Integer t = lua_tointegerx(L, arg, &isint);
    if (!isint || t < 0 || t > 253402300799)
        luaL_error(L, "%s: the time must be whole seconds since 1970, before the year 10000", who);
    return (int64_t)t;
}

static int push_moved(lua_State *L, int64_t at_s, int months, int64_t ms, const char *who)
{
    int64_t out = cal_add_span(at_s * 1000, months, ms) / 1000;
    if (out < 0 || out > 253402300799)
        return luaL_error(L, "%s: the result is before 1970 or after the year 9999", who);
    lua_pushinteger(L, out);
    return 1;
}

static int months_arg(lua_State *L, int arg, const char *who, int per)
{
    int isint = 0;
    lua_Integer n = lua_tointegerx(L, arg, &isint);
    if (!isint || n < -120000 / per || n > 120000 / per)
        luaL_error(L, "%s: the count must be a whole number", who);
    return (int)n * per;
}

/* add_months(seconds, n) -> seconds: calendar months (31 January + 1 = 28/29 February), UTC */
static int api_add_months(lua_State *L)
{
    return push_moved(L, check_seconds(L, 1, "add_months"), months_arg(L, 2, "add_months", 1), 0,
                      "add_months");
}

/* add_years(seconds, n) -> seconds (29 February + 1 year = 28 February) */
static int api_add_years(lua_State *L)
{
    return push_moved(L, check_seconds(L, 1, "add_years"), months_arg(L, 2, "add_years", 12), 0,
                      "add_years");
}

/* after(seconds, "9mo") -> seconds: a duration as everywhere else ("1y", "2w", "1d12h") */
static int api_after(lua_State *L)
{
    int64_t at = check_seconds(L, 1, "after"), ms;
    int months;
    const char *span = luaL_checkstring(L, 2);
    if (cal_parse_span(span, &months, &ms))
        return luaL_error(L, "after: '%s' is not a duration like 30d, 2w, 9mo, 1y, 1d12h", span);
    return push_moved(L, at, months, ms, "after");
}

static int check_period(lua_State *L, int arg, const char *who)
{
    const char *per = luaL_checkstring(L, arg);
    int p = cal_period_parse(per);
    if (p < 0 || !strcmp(per, "never"))
        luaL_error(L, "%s: the period is day, week, month, year or all", who);
    return p;
}

/* period_id(seconds, "week" [, tz]) -> "2026-W48": the period holding a time, in tz (the
 * program's by default) */
static int api_period_id(lua_State *L)
{
    int64_t at = check_seconds(L, 1, "period_id");
    int per = check_period(L, 2, "period_id");
    const char *tz = luaL_optstring(L, 3, luart_program_tz(L));
    char id[32];
    if (!pc_tz_valid(tz))
        return luaL_error(L, "period_id: unknown time zone '%s'", tz);
    cal_period_id(at * 1000, tz, 0, per, id, sizeof id);
    lua_pushstring(L, id);
    return 1;
}

/* m:period("week" [, seconds]) -> the period id of the event (or of seconds) in the member's
 * time zone (else the program's): "2026-11-25", "2026-W48", "2026-11", "2026" */
static int m_period(lua_State *L)
{
    mech_run *run = luart_running(L);
    int per = check_period(L, 2, "period");
    int64_t at = lua_isnoneornil(L, 3) ? run->ev->at_ms : check_seconds(L, 3, "period") * 1000;
    char id[32];
    cal_period_id(at, luart_member_tz(L, run), 0, per, id, sizeof id);
    lua_pushstring(L, id);
    return 1;
}

/* m:last("order") -> seconds of the member's latest event of that type before this one, or nil */
static int m_last(lua_State *L)
{
    mech_run *run = luart_running(L);
    int64_t at = member_last_of(run->m, luart_check_name(L, 2, "event type"));
    if (at)
        lua_pushinteger(L, at / 1000);
    else
        lua_pushnil(L);
    return 1;
}

static const luaL_Reg methods[] = {{"earn", m_earn},
                                   {"period", m_period},
                                   {"last", m_last},
                                   {"next_birthday", m_next_birthday},
                                   {"cashback", m_cashback},
                                   {"spend", m_spend},
                                   {"pending", m_pending},
                                   {"expiring", m_expiring},
                                   {"track", m_track},
                                   {"rolling", m_rolling},
                                   {"set_tier", m_set_tier},
                                   {"local_date", m_local_date},
                                   {"is_birthday", m_is_birthday},
                                   {"once", m_once},
                                   {"once_per_year", m_once_per_year},
                                   {"wake_at", m_wake_at},
                                   {NULL, NULL}};

void luart_money_methods(lua_State *L)
{
    luaL_setfuncs(L, methods, 0);
}

void luart_money_globals(lua_State *L)
{
    lua_pushcfunction(L, api_currency);
    lua_setfield(L, -2, "currency");
    lua_pushcfunction(L, api_tiers);
    lua_setfield(L, -2, "tiers");
    lua_pushcfunction(L, api_reject);
    lua_setfield(L, -2, "reject");
    lua_pushcfunction(L, api_discount);
    lua_setfield(L, -2, "discount");
    lua_pushcfunction(L, api_utc);
    lua_setfield(L, -2, "utc");
    lua_pushcfunction(L, api_timezone);
    lua_setfield(L, -2, "timezone");
    lua_pushcfunction(L, api_add_months);
    lua_setfield(L, -2, "add_months");
    lua_pushcfunction(L, api_add_years);
    lua_setfield(L, -2, "add_years");
    lua_pushcfunction(L, api_after);
    lua_setfield(L, -2, "after");
    lua_pushcfunction(L, api_period_id);
    lua_setfield(L, -2, "period_id");
}
