/*
 * Campaigns and control groups (docs/mechanics.md, "Campaigns" and "Control
 * groups"): the `active` and `control` fields of a mechanic declaration,
 * checked when the file loads, wrap its run function.
 */
#include "lua-internal.h"
#include "model/draw-internal.h"

#include <stdio.h>
#include <string.h>

/*
 * Campaigns and control groups: the `active` and `control` fields of a
 * mechanic declaration wrap its run function.
 *   active = {from = "2026-12-01", to = "2026-12-24T18:00:00Z",
 *             days = {"sat", "sun"}, hours = {10, 18}, tz = "Europe/Paris"}
 *     from/to: RFC 3339 times, or dates (local midnight in tz); to is excluded.
 *     days: local weekdays; hours: {from, to}: local hours from..to-1.
 *   control = 10: a stable 10% of members (by a hash of mechanic and member)
 *     is held out: the mechanic does not run for them, and a "control"
 *     outcome says so.
 */
static const char *const day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

int luart_parse_when(const char *s, const char *tz, int64_t *ms)
{
    int y, mo, d;
    char extra;
    if (pc_time_parse(s, ms) == 0)
        return 0;
    if (strlen(s) == 10 && sscanf(s, "%4d-%2d-%2d%c", &y, &mo, &d, &extra) == 3) {
        char noon[32];
        snprintf(noon, sizeof noon, "%04d-%02d-%02dT12:00:00Z", y, mo, d);
        if (pc_time_parse(noon, ms) == 0) {
            /* The local day holding noon UTC is that date for every zone within +-12 h. */
            *ms = pc_local_day_start(*ms, tz, 0);
            return 0;
        }
    }
    return -1;
}

/* A date or time of a campaign bound -> ms; dates are local midnight in tz. */
static int64_t campaign_time(lua_State *L, const char *mech, const char *s, const char *tz)
{
    int64_t ms;
    if (luart_parse_when(s, tz, &ms) == 0)
        return ms;
    luaL_error(L, "mechanic '%s': active: '%s' is not a date (2026-12-01) or an RFC 3339 time",
               mech, s);
    return 0;
}

/* Validates the declaration's active table at idx into a compact table pushed on the stack. */
static void campaign_compile(lua_State *L, int idx, const char *mech)
{
    static const char *const allowed[] = {"from", "to", "days", "hours", "tz", NULL};
    const char *tz;
    int days = 0;
    char what[100];
    snprintf(what, sizeof what, "mechanic '%s': active", mech);
    luart_opt_check(L, idx, what, allowed);
    tz = luart_opt_tz(L, idx);
    lua_createtable(L, 0, 6);
    lua_pushstring(L, tz);
    lua_setfield(L, -2, "tz");
    for (int i = 0; i < 2; i++) {
        const char *k = i ? "to" : "from";
        const char *v = luart_opt_str(L, idx, k, NULL);
        if (v) {
            lua_pushinteger(L, campaign_time(L, mech, v, tz));
            lua_setfield(L, -2, k);
        }
    }
    if (luart_opt_type(L, idx, "days") == LUA_TTABLE) {
        lua_Integer n = luart_list_len(L, -1, "days");
        for (lua_Integer i = 1; i <= n; i++) {
            int found = -1;
            lua_geti(L, -1, i);
            for (int d = 0; d < 7 && lua_type(L, -1) == LUA_TSTRING; d++)
                if (!strcmp(lua_tostring(L, -1), day_names[d]))
                    found = d;
            if (found < 0)
                luaL_error(L, "%s: days are mon, tue, wed, thu, fri, sat, sun", what);
            days |= 1 << found;
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    } else if (!lua_isnil(L, -1)) {
        luaL_error(L, "%s: days must be a list like {\"sat\", \"sun\"}", what);
    } else {
        lua_pop(L, 1);
    }
    lua_pushinteger(L, days ? days : 0x7f);
    lua_setfield(L, -2, "days");
    if (luart_opt_type(L, idx, "hours") == LUA_TTABLE) {
        lua_Integer h[2];
        for (int i = 0; i < 2; i++) {
            int isint = 0;
            lua_geti(L, -1, i + 1);
            h[i] = lua_tointegerx(L, -1, &isint);
            if (!isint || h[i] < 0 || h[i] > 24)
                luaL_error(L, "%s: hours are {from, to}, whole hours 0-24", what);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        lua_pushinteger(L, h[0]);
        lua_setfield(L, -2, "h1");
        lua_pushinteger(L, h[1]);
        lua_setfield(L, -2, "h2");
    } else if (!lua_isnil(L, -1)) {
        luaL_error(L, "%s: hours are {from, to}", what);
    } else {
        lua_pop(L, 1);
    }
}

static lua_Integer field_or(lua_State *L, int t, const char *k, lua_Integer def)
{
    lua_Integer v = def;
    if (lua_getfield(L, t, k) == LUA_TNUMBER)
        v = lua_tointeger(L, -1);
    lua_pop(L, 1);
    return v;
}

void luart_when_text(int64_t ms, const char *tz, char *out, size_t n)
{
    struct tm tm;
    if (pc_local_time(ms, tz, &tm)) {
        pc_time_format(ms, out, n);
        return;
    }
    snprintf(out, n, "%04d-%02d-%02d %02d:%02d %s", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tz);
}

/*
 * NULL when the event's time falls in the campaign (compiled table at t);
 * else why not, naming the bound that failed, written into why.
 */
static const char *campaign_miss(lua_State *L, int t, int64_t at, char *why, size_t n)
{
    struct tm tm;
    char b[64];
    lua_getfield(L, t, "tz");
    const char *tz = lua_tostring(L, -1);
    int ok = pc_local_time(at, tz, &tm) == 0;
    lua_pop(L, 1); /* tz stays alive in the table */
    lua_Integer from = field_or(L, t, "from", INT64_MIN), to = field_or(L, t, "to", INT64_MAX);
    if (at < from) {
        luart_when_text(from, tz, b, sizeof b);
        snprintf(why, n, "outside its campaign window: before active.from (%s)", b);
        return why;
    }
    if (at >= to) {
        luart_when_text(to, tz, b, sizeof b);
        snprintf(why, n, "outside its campaign window: at or after active.to (%s)", b);
        return why;
    }
    if (ok && !(field_or(L, t, "days", 0x7f) & (1 << tm.tm_wday))) {
        snprintf(why, n, "outside its campaign window: a %s in %s is not one of active.days",
                 day_names[tm.tm_wday], tz);
        return why;
    }
    if (ok) {
        lua_Integer h1 = field_or(L, t, "h1", 0), h2 = field_or(L, t, "h2", 24);
        if (h1 <= h2 ? (tm.tm_hour < h1 || tm.tm_hour >= h2)
                     : (tm.tm_hour < h1 && tm.tm_hour >= h2)) { /* e.g. {22, 2} */
            snprintf(why, n,
                     "outside its campaign window: %02d:%02d in %s is outside active.hours "
                     "{%d, %d}",
                     tm.tm_hour, tm.tm_min, tz, (int)h1, (int)h2);
            return why;
        }
    }
    return NULL;
}

static int wrapped_k(lua_State *L, int status, lua_KContext ctx)
{
    return lua_gettop(L) - (int)ctx;
}

/*
 * upvalues: 1 the run function, 2 the campaign (or nil), 3 control per ten
 * thousand, 4 the experiment the control group is (or nil: the mechanic's own)
 */
static int wrapped_run(lua_State *L)
{
    mech_run *run = luart_running(L);
    lua_Integer control = lua_tointeger(L, lua_upvalueindex(3));
    const char *exp = lua_tostring(L, lua_upvalueindex(4));
    lua_settop(L, 2);
    if (lua_istable(L, lua_upvalueindex(2)) &&
        (run->skipped = campaign_miss(L, lua_upvalueindex(2), run->ev->at_ms, run->skip_buf,
                                      sizeof run->skip_buf)))
        return 0;
    if (exp && luart_experiment_group(exp, control, run->m->id)[0] == 'c') {
        snprintf(run->skip_buf, sizeof run->skip_buf,
                 "the member is in the control group of experiment %s", exp);
        run->skipped = run->skip_buf;
        luart_outcome(
            L, run,
            json_pack("{s:s, s:b, s:s}", "kind", "control", "held_out", 1, "experiment", exp));
        return 0;
    }
    if (!exp && control > 0 && draw_bucket(run->cur->name, run->m->id) < control) {
        run->skipped = "the member is held out in its control group";
        luart_outcome(L, run, json_pack("{s:s, s:b}", "kind", "control", "held_out", 1));
        return 0;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_callk(L, 2, LUA_MULTRET, 2, wrapped_k);
    return wrapped_k(L, LUA_OK, 2);
}

const char *luart_experiment_group(const char *exp, int64_t control, const char *member)
{
    char salt[80];
    snprintf(salt, sizeof salt, "experiment:%s", exp); /* never a mechanic's name: no ':' */
    return draw_bucket(salt, member) < control ? "control" : "treatment";
}

/* The control share (per ten thousand) of experiment name, declared before; raises when not. */
static lua_Integer experiment_control(lua_State *L, const char *mech, const char *exp)
{
    mech_run *run = luart_run_of(L);
    json_t *d = run ? json_object_get(run->set->experiments, exp) : NULL;
    if (!d)
        luaL_error(L,
                   "mechanic '%s': experiment '%s' is not declared (declare it with experiment "
                   "\"%s\" {control = 10} before the mechanics that use it)",
                   mech, exp, exp);
    return (lua_Integer)json_integer_value(json_object_get(d, "control_bp"));
}

void luart_campaign_wrap(lua_State *L, int spec, const char *name)
{
    int has_active = lua_getfield(L, spec, "active") != LUA_TNIL;
    int has_control = lua_getfield(L, spec, "control") != LUA_TNIL;
    int has_exp = lua_getfield(L, spec, "experiment") != LUA_TNIL;
    lua_Integer control = 0;
    if (has_exp && has_control)
        luaL_error(L,
                   "mechanic '%s': control and experiment both hold members out; give one (an "
                   "experiment's control group is declared with the experiment)",
                   name);
    if (has_exp) {
        if (lua_type(L, -1) != LUA_TSTRING || !pc_valid_name(lua_tostring(L, -1)))
            luaL_error(L, "mechanic '%s': experiment names a declared experiment", name);
        control = experiment_control(L, name, lua_tostring(L, -1));
    }
    lua_insert(L, -2); /* the experiment (or nil) under control */
    if (has_control) {
        lua_Number pct = lua_tonumber(L, -1);
        if (!lua_isnumber(L, -1) || !(pct >= 0 && pct <= 100))
            luaL_error(L, "mechanic '%s': control is a percentage from 0 to 100", name);
        control = (lua_Integer)(pct * 100 + 0.5);
    }
    lua_pop(L, 1);
    /* stack: ... run, active, experiment */
    if (!has_active && !has_control && !has_exp) {
        lua_pop(L, 2);
        return;
    }
    lua_insert(L, -2); /* ... run, experiment, active */
    if (has_active) {
        if (!lua_istable(L, -1))
            luaL_error(L, "mechanic '%s': active must be a table {from, to, days, hours, tz}",
                       name);
        campaign_compile(L, lua_gettop(L), name);
        lua_remove(L, -2);
    }
    /* stack: ... run, experiment, campaign-or-nil */
    lua_pushinteger(L, control);
    lua_rotate(L, -3, -1); /* ... run, campaign, control, experiment */
    lua_pushcclosure(L, wrapped_run, 4);
}

/* The function experiment "name" returns: takes the declaration table and records it. */
static int declare_experiment(lua_State *L)
{
    static const char *const allowed[] = {"control", "spend", "description", NULL};
    mech_run *run = luart_run_of(L);
    mechset *set = run ? run->set : NULL;
    const char *name = lua_tostring(L, lua_upvalueindex(1)), *spend;
    char what[100];
    lua_Number pct;
    json_t *d;
    if (!set || !set->loading_file)
        return luaL_error(L, "experiment '%s' is declared at a file's top level", name);
    luaL_checktype(L, 1, LUA_TTABLE);
    snprintf(what, sizeof what, "experiment '%s'", name);
    luart_opt_check(L, 1, what, allowed);
    lua_getfield(L, 1, "control");
    pct = lua_tonumber(L, -1);
    if (!lua_isnumber(L, -1) || !(pct > 0 && pct < 100))
        return luaL_error(L,
                          "%s: control is the percentage of members held out, above 0 and "
                          "below 100",
                          what);
    lua_pop(L, 1);
    spend = luart_opt_str(L, 1, "spend", NULL);
    if (spend && !pc_valid_name(spend))
        return luaL_error(L, "%s: spend names a field of the events' data, like \"amount\"", what);
    if (json_object_get(set->experiments, name))
        return luaL_error(L, "%s is declared twice", what);
    if (!set->experiments && !(set->experiments = json_object()))
        return luart_oom(L);
    d = json_pack("{s:f, s:I, s:s?}", "control", (double)pct, "control_bp",
                  (json_int_t)(pct * 100 + 0.5), "spend", spend);
    if (!d || json_object_set_new(set->experiments, name, d))
        return luart_oom(L);
    return 0;
}

/* experiment "spring" { control = 10, spend = "amount" } -- at a file's top level */
static int api_experiment(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    if (!pc_valid_name(name))
        return luaL_error(L, "bad experiment name '%s' (use 1-64 of a-z 0-9 _ . -)", name);
    lua_pushvalue(L, 1);
    lua_pushcclosure(L, declare_experiment, 1);
    return 1;
}

void luart_campaign_globals(lua_State *L)
{
    lua_pushcfunction(L, api_experiment);
    lua_setfield(L, -2, "experiment");
}
