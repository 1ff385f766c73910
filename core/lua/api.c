/*
 * The core of the `punch` Lua API that mechanics call: mechanic declarations,
 * the member object and its basic methods (balances, counters, badges, tier,
 * attributes), outcome builders, and the event and outcomes crossing into and
 * out of a run. Every call that changes a member changes the in-memory
 * member_state of the event being decided (core/model); nothing here talks to
 * Redis or knows the engine.
 */
#include "lua-internal.h"
#include "lua/luajson-internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Pushes a new counter value and reports it as a "counter" outcome, one per mechanic. */
static void report_counter(lua_State *L, mech_run *run, const char *name, int64_t value)
{
    /* A plain record (a name luart_check_name() let through), written as text by the response. */
    member_outcome *o = member_counter_outcome(run->m, run->cur->name, name);
    if (!o) {
        if (run->m->nouts >= run->max_outcomes)
            luart_check_caps(L, run, 1, 0);
        if (!(o = member_add_record(run->m, MO_COUNTER, "counter", run->cur->name, name)))
            luart_oom(L);
    }
    o->value = value;
    member_outcome_changed(run->m);
}

/* m:balance(currency) -> integer */
static int m_balance(lua_State *L)
{
    mech_run *run = luart_running(L);
    lua_pushinteger(L, member_balance(run->m, luart_check_name(L, 2, "currency")));
    return 1;
}

static int64_t add_counter(lua_State *L, mech_run *run, const char *name, int64_t by)
{
    int64_t v;
    int r = member_add_counter(run->m, name, by, &v);
    if (r > 0)
        luaL_error(L, "counter %s overflows", name);
    if (r < 0)
        luart_oom(L);
    report_counter(L, run, name, v);
    return v;
}

/* m:count(counter) -> value; counts this event once, however many mechanics ask. */
static int m_count(lua_State *L)
{
    mech_run *run = luart_running(L);
    const char *name = luart_check_name(L, 2, "counter");
    int r = member_count_once(run->m, name);
    if (r < 0)
        luart_oom(L);
    lua_pushinteger(L, r == 1 ? add_counter(L, run, name, 1) : member_counter(run->m, name));
    return 1;
}

/* m:incr(counter, by) -> value */
static int m_incr(lua_State *L)
{
    mech_run *run = luart_running(L);
    const char *name = luart_check_name(L, 2, "counter");
    int isint = 0;
    lua_Integer by = lua_isnoneornil(L, 3) ? 1 : lua_tointegerx(L, 3, &isint);
    if (!lua_isnoneornil(L, 3) && !isint)
        return luaL_error(L, "incr %s: the step must be a whole number", name);
    lua_pushinteger(L, add_counter(L, run, name, by));
    return 1;
}

/* m:counter(counter) -> value */
static int m_counter(lua_State *L)
{
    mech_run *run = luart_running(L);
    lua_pushinteger(L, member_counter(run->m, luart_check_name(L, 2, "counter")));
    return 1;
}

/* m:badge(name) -> true when awarded now, false when the member already had it. */
static int m_badge(lua_State *L)
{
    mech_run *run = luart_running(L);
    const char *name = luart_check_name(L, 2, "badge");
    int r = member_award_badge(run->m, name, run->ev->at_ms);
    if (r < 0)
        luart_oom(L);
    if (r == 1)
        luart_outcome(L, run, json_pack("{s:s, s:s}", "kind", "badge", "badge", name));
    lua_pushboolean(L, r == 1);
    return 1;
}

/* m:has_badge(name) -> boolean */
static int m_has_badge(lua_State *L)
{
    mech_run *run = luart_running(L);
    lua_pushboolean(L, member_has_badge(run->m, luart_check_name(L, 2, "badge")));
    return 1;
}

/* m:tier() -> name or nil */
static int m_tier(lua_State *L)
{
    mech_run *run = luart_running(L);
    const char *t = member_tier(run->m);
    if (t)
        lua_pushstring(L, t);
    else
        lua_pushnil(L);
    return 1;
}

/* m:attr(name) -> string or nil (member attributes) */
static int m_attr(lua_State *L)
{
    mech_run *run = luart_running(L);
    const char *v = member_attr(run->m, luart_check_name(L, 2, "attribute"));
    if (v)
        lua_pushstring(L, v);
    else
        lua_pushnil(L);
    return 1;
}

static const luaL_Reg member_methods[] = {
    {"balance", m_balance}, {"count", m_count}, {"incr", m_incr},
    {"counter", m_counter}, {"badge", m_badge}, {"has_badge", m_has_badge},
    {"tier", m_tier},       {"attr", m_attr},   {NULL, NULL}};

/*
 * m.id, m.joined_at, m.last_event_at (seconds or nil): the __index of the
 * methods table (the member's own __index), so that a method call finds its
 * method with one table lookup and calls no C function to get there.
 * Upvalue 1: the methods table. Nothing else is a member's.
 */
static int member_index(lua_State *L)
{
    const char *k = lua_tostring(L, 2);
    if (k && strcmp(k, "id") == 0) {
        mech_run *run = luart_running(L);
        lua_pushstring(L, run->m->id);
        return 1;
    }
    if (k && (strcmp(k, "joined_at") == 0 || strcmp(k, "last_event_at") == 0)) {
        mech_run *run = luart_running(L);
        int64_t at = k[0] == 'j' ? member_joined_at(run->m) : member_last_event_at(run->m);
        /* A member's first event is when they joined (its stamp lands after the mechanics). */
        if (k[0] == 'j' && (!at || run->ev->at_ms < at) && strcmp(run->ev->type, "tick"))
            at = run->ev->at_ms;
        if (at)
            lua_pushinteger(L, at / 1000);
        else
            lua_pushnil(L);
        return 1;
    }
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    return 1;
}

static int member_tostring(lua_State *L)
{
    mech_run *run = luart_run_of(L);
    lua_pushfstring(L, "member(%s)", run && run->running && run->m ? run->m->id : "-");
    return 1;
}

/* Builds an outcome table {kind = kind, [field] = arg1, ...extra fields}. */
static int make_outcome(lua_State *L, const char *kind, const char *field)
{
    luaL_checkstring(L, 1);
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TTABLE);
    lua_createtable(L, 0, 4);
    if (!lua_isnoneornil(L, 2)) {
        lua_pushnil(L);
        while (lua_next(L, 2)) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_settable(L, -4);
        }
    }
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "kind");
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, field);
    return 1;
}

/* prize(name [, fields]) -> outcome */
static int api_prize(lua_State *L)
{
    luart_check_name(L, 1, "prize");
    return make_outcome(L, "prize", "prize");
}

/* message(text [, fields]) -> outcome */
static int api_message(lua_State *L)
{
    return make_outcome(L, "message", "text");
}

static void add_mechanic(lua_State *L, mechset *set, const char *name)
{
    luart_mechanic *d;
    for (size_t i = 0; i < set->nmechs; i++)
        if (strcmp(set->mechs[i].name, name) == 0)
            luaL_error(L, "mechanic '%s' is declared twice (first in %s)", name,
                       set->mechs[i].file);
    if (set->nmechs == set->capmechs) {
        size_t cap = set->capmechs ? set->capmechs * 2 : 8;
        luart_mechanic *nd = realloc(set->mechs, cap * sizeof *nd);
        if (!nd)
            luart_oom(L);
        set->mechs = nd;
        set->capmechs = cap;
    }
    d = &set->mechs[set->nmechs];
    memset(d, 0, sizeof *d);
    d->run_ref = LUA_NOREF;
    d->name = strdup(name);
    d->stat = luart_stat_for(name);
    d->file = strdup(set->loading_file);
    if (!d->name || !d->file) {
        free(d->name);
        free(d->file);
        luart_oom(L);
    }
    set->nmechs++;
}

static void add_on(lua_State *L, luart_mechanic *d, const char *type)
{
    if (!pc_valid_name(type) && !luart_close_type(type, NULL))
        luaL_error(L, "mechanic '%s': bad event type '%s' in on", d->name, type);
    char **no = realloc(d->on, (size_t)(d->non + 1) * sizeof *no);
    if (!no)
        luart_oom(L);
    d->on = no;
    if (!(d->on[d->non] = strdup(type)))
        luart_oom(L);
    d->non++;
}

/* The function mechanic "name" returns: takes the spec table and registers it. */
static int declare_spec(lua_State *L)
{
    mechset *set = luart_run_of(L)->set;
    const char *name = lua_tostring(L, lua_upvalueindex(1));
    luart_mechanic *d;

    if (!set->loading_file)
        return luaL_error(L, "mechanic '%s' declared outside a script's top level", name);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
        if (strcmp(k, "on") && strcmp(k, "run") && strcmp(k, "description") &&
            strcmp(k, "active") && strcmp(k, "control") && strcmp(k, "experiment"))
            return luaL_error(L,
                              "mechanic '%s': unknown field '%s' (use on, run, description, "
                              "active, control, experiment)",
                              name, k);
        lua_pop(L, 1);
    }
    /* Check everything before registering: a caught error must leave no half mechanic. */
    lua_getfield(L, 1, "run");
    if (!lua_isfunction(L, -1))
        return luaL_error(L, "mechanic '%s': run must be a function(ev, m)", name);
    luart_campaign_wrap(L, 1, name); /* campaigns and control groups */
    lua_getfield(L, 1, "on");
    if (lua_type(L, -1) == LUA_TSTRING) {
        if (!pc_valid_name(lua_tostring(L, -1)) && !luart_close_type(lua_tostring(L, -1), NULL))
            return luaL_error(L, "mechanic '%s': bad event type '%s' in on", name,
                              lua_tostring(L, -1));
        if (luart_close_type(lua_tostring(L, -1), NULL))
            luart_close_check(L, 1, name);
    } else if (lua_istable(L, -1) && luart_list_len(L, -1, "mechanic on") > 0) {
        lua_Integer n = luart_list_len(L, -1, "mechanic on");
        for (lua_Integer i = 1; i <= n; i++) {
            if (lua_geti(L, -1, i) != LUA_TSTRING)
                return luaL_error(L, "mechanic '%s': on must list event types", name);
            if (!pc_valid_name(lua_tostring(L, -1)))
                return luaL_error(L, "mechanic '%s': bad event type '%s' in on%s", name,
                                  lua_tostring(L, -1),
                                  luart_close_type(lua_tostring(L, -1), NULL)
                                      ? " (a period_end mechanic reacts to nothing else)"
                                      : "");
            lua_pop(L, 1);
        }
    } else {
        return luaL_error(L, "mechanic '%s': on must name an event type or a list of them", name);
    }
    add_mechanic(L, set, name);
    d = &set->mechs[set->nmechs - 1];
    if (lua_type(L, -1) == LUA_TSTRING) {
        add_on(L, d, lua_tostring(L, -1));
    } else {
        lua_Integer n = luart_list_len(L, -1, "mechanic on");
        for (lua_Integer i = 1; i <= n; i++) {
            lua_geti(L, -1, i);
            add_on(L, d, lua_tostring(L, -1));
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    d->run_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* the run function at the top */
    /* Campaign window and control group, as declared (already checked by the wrapper). */
    d->settings = json_object();
    for (int i = 0; i < 3; i++) {
        const char *k = i == 2 ? "experiment" : i ? "control" : "active";
        char err[80];
        json_t *v;
        lua_getfield(L, 1, k);
        if (!lua_isnil(L, -1) && (v = luajson_to_json(L, -1, err, sizeof err)))
            json_object_set_new(d->settings, k, v);
        lua_pop(L, 1);
    }
    return 0;
}

/* mechanic "name" { on = ..., run = function(ev, m) ... end } */
static int api_mechanic(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    if (!pc_valid_name(name))
        return luaL_error(L, "bad mechanic name '%s' (use 1-64 of a-z 0-9 _ . -)", name);
    lua_pushvalue(L, 1);
    lua_pushcclosure(L, declare_spec, 1);
    return 1;
}

/*
 * reason(text) -- why the running mechanic gives nothing this time ("spent less than 1000"),
 * for ?explain=1 and the REPL. The last one said wins; returns nothing, so `return reason(...)`
 * reads well.
 */
static int api_reason(lua_State *L)
{
    mech_run *run = luart_running(L);
    size_t n;
    const char *text = luaL_checklstring(L, 1, &n);
    if (!run->cur)
        return luaL_error(L, "reason: only a running mechanic can give a reason");
    if (n >= sizeof run->reason || memchr(text, '\0', n))
        return luaL_error(L, "reason: at most %d characters of text", (int)sizeof run->reason - 1);
    memcpy(run->reason, text, n + 1);
    return 0;
}

/* The webhook types the engine sends itself: notify() may not take their names. */
static const char *const engine_webhooks[] = {
    "prize.won",     "badge.earned",      "tier.changed",  "points.expiring",
    "streak.broken", "referral.rewarded", "reload.failed", NULL};

/* The largest data of one notify(), as JSON. */
#define NOTIFY_MAX_BYTES 8192

/*
 * notify(name [, data]) -- a webhook of the program's own (docs/mechanics.md,
 * "notify"): recorded as an outcome {"kind": "notify", "notify": name, "data"},
 * and written to the member's outbox with the event's commit, so it is sent
 * only when the event applies. data: a table JSON can hold, 8 KiB at most.
 */
static int api_notify(lua_State *L)
{
    mech_run *run = luart_running(L);
    const char *name = luart_check_name(L, 1, "notify");
    char err[200];
    json_t *data, *o;
    size_t len;
    if (!run->cur)
        return luaL_error(L, "notify: only a running mechanic can notify");
    for (int i = 0; engine_webhooks[i]; i++)
        if (!strcmp(name, engine_webhooks[i]))
            return luaL_error(L, "notify: '%s' is a webhook the engine sends itself", name);
    if (lua_isnoneornil(L, 2)) {
        data = json_object();
    } else {
        luaL_checktype(L, 2, LUA_TTABLE);
        if (!(data = luajson_to_json(L, 2, err, sizeof err)))
            return luaL_error(L, "notify: %s", err);
    }
    if (!data)
        return luart_oom(L);
    if (json_is_array(data) && json_array_size(data) == 0) {
        json_decref(data);
        if (!(data = json_object()))
            return luart_oom(L);
    }
    if (!json_is_object(data)) {
        json_decref(data);
        return luaL_error(L, "notify: data must be a table of named fields");
    }
    len = json_dumpb(data, NULL, 0, JSON_COMPACT);
    if (len > NOTIFY_MAX_BYTES) {
        json_decref(data);
        return luaL_error(L, "notify: data is %d bytes as JSON, more than %d", (int)len,
                          NOTIFY_MAX_BYTES);
    }
    o = json_pack("{s:s, s:s, s:o}", "kind", "notify", "notify", name, "data", data);
    luart_outcome(L, run, o);
    return 0;
}

/* global_count(name) -> the global counter after counting this event (once per event). */
static int api_global_count(lua_State *L)
{
    const char *name = luart_check_name(L, 1, "counter");
    return luart_global_call(L, "counter", json_pack("{s:s}", "name", name), NULL);
}

void luart_core_globals(lua_State *L)
{
    lua_pushcfunction(L, api_global_count);
    lua_setfield(L, -2, "global_count");
    lua_pushcfunction(L, api_reason);
    lua_setfield(L, -2, "reason");
    lua_pushcfunction(L, api_notify);
    lua_setfield(L, -2, "notify");
    lua_pushcfunction(L, api_mechanic);
    lua_setfield(L, -2, "mechanic");
    lua_pushcfunction(L, api_prize);
    lua_setfield(L, -2, "prize");
    lua_pushcfunction(L, api_message);
    lua_setfield(L, -2, "message");
}

void luart_core_methods(lua_State *L)
{
    luaL_setfuncs(L, member_methods, 0);
}

/* Creates the member userdata once per set; each event rebinds what it points at. */
int luart_member_ref(lua_State *L, const luart_part *parts, size_t n)
{
    lua_newuserdatauv(L, 0, 0);
    lua_createtable(L, 0, 4);
    lua_newtable(L); /* the methods */
    for (size_t i = 0; i < n; i++)
        if (parts[i].add_methods)
            parts[i].add_methods(L);
    /* What is not a method: member_index. Scripts never reach the methods table itself. */
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, -2);
    lua_pushcclosure(L, member_index, 1);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, member_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

void luart_push_event(lua_State *L, const pc_event *ev)
{
    lua_createtable(L, 0, 6);
    lua_pushstring(L, ev->id);
    lua_setfield(L, -2, "id");
    lua_pushstring(L, ev->type);
    lua_setfield(L, -2, "type");
    lua_pushstring(L, ev->member);
    lua_setfield(L, -2, "member");
    lua_pushinteger(L, ev->at_ms / 1000);
    lua_setfield(L, -2, "at");
    lua_pushinteger(L, ev->at_ms);
    lua_setfield(L, -2, "at_ms");
    if (ev->doc) /* the request's data, from its tokens: no jansson values made */
        luajson_push_doc(L, ev->doc, 0);
    else if (ev->data)
        luajson_push(L, ev->data);
    else
        lua_createtable(L, 0, 0);
    lua_setfield(L, -2, "data");
    if (ev->partner[0]) {
        lua_pushstring(L, ev->partner);
        lua_setfield(L, -2, "partner");
    }
}

#define BAD_FIELDS                                                                                 \
    "outcome fields must be named in UTF-8, and be UTF-8 strings, finite numbers or booleans"

/* The string, boolean or number on top of L's stack as a JSON value; NULL for another type. */
static json_t *scalar_json(lua_State *L)
{
    switch (lua_type(L, -1)) {
    case LUA_TSTRING:
        return json_stringn(lua_tostring(L, -1), lua_rawlen(L, -1));
    case LUA_TBOOLEAN:
        return json_boolean(lua_toboolean(L, -1));
    case LUA_TNUMBER:
        return lua_isinteger(L, -1) ? json_integer(lua_tointeger(L, -1))
                                    : json_real(lua_tonumber(L, -1));
    default:
        return NULL;
    }
}

/*
 * A prize or a message (kind, its name or text: checked) returned by run, as a
 * plain record {mechanic, kind, prize|text, ...the table's other fields}: the
 * same outcome collect_one() makes as values. 0 when recorded; 1 when a field's
 * name holds a NUL byte (nothing recorded: the values' way decides). Raises on
 * bad input.
 */
static int collect_named(lua_State *L, int idx, mech_run *run, const char *kind, const char *name)
{
    int prize = !strcmp(kind, "prize");
    const char *field = prize ? "prize" : "text";
    json_t *extra = NULL;
    member_outcome *o;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        size_t kl = 0;
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &kl) : NULL;
        json_t *v;
        if (k && strlen(k) != kl) {
            lua_pop(L, 2);
            json_decref(extra);
            return 1;
        }
        if (k && (!strcmp(k, "kind") || !strcmp(k, field))) { /* the very values given already */
            lua_pop(L, 1);
            continue;
        }
        v = scalar_json(L);
        lua_pop(L, 1);
        if (!k || !v || strcmp(k, "mechanic") == 0 || !luart_utf8_valid(k, kl)) {
            json_decref(v);
            json_decref(extra);
            luaL_error(L, BAD_FIELDS);
        }
        if ((!extra && !(extra = json_object())) || json_object_set_new(extra, k, v)) {
            if (!extra)
                json_decref(v);
            json_decref(extra);
            luart_oom(L);
        }
    }
    if (prize && member_add_prize(run->m, name)) {
        json_decref(extra);
        luart_oom(L);
    }
    if (run->m->nouts >= run->max_outcomes) {
        json_decref(extra);
        luart_check_caps(L, run, 1, 0);
    }
    if (!(o = member_add_record(run->m, MO_NAMED, prize ? "prize" : "message", run->cur->name,
                                name))) {
        json_decref(extra);
        luart_oom(L);
    }
    o->field = field;
    o->obj = extra;
    return 0;
}

/* One outcome table returned by run -> JSON, recorded on the member. Raises on bad input. */
static void collect_one(lua_State *L, int idx, mech_run *run)
{
    const char *who = run->cur->name;
    json_t *o;
    const char *kind;

    lua_pushliteral(L, "kind");
    lua_rawget(L, idx);
    kind = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    if (!kind || (strcmp(kind, "prize") && strcmp(kind, "message") && strcmp(kind, "discount")))
        luaL_error(L, "run returned a table that is not an outcome (use prize() or message())");
    lua_pop(L, 1);
    if (strcmp(kind, "discount") == 0) {
        lua_pushliteral(L, "percent");
        if (lua_rawget(L, idx) != LUA_TNUMBER)
            luaL_error(L, "a discount outcome needs its percent");
        lua_pop(L, 1);
        lua_pushliteral(L, "discount"); /* stands in for the name below */
    } else {
        lua_pushstring(L, strcmp(kind, "prize") == 0 ? "prize" : "text");
        lua_rawget(L, idx);
    }
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "a %s outcome needs its %s", kind,
                   strcmp(kind, "prize") == 0 ? "prize name" : "text");
    if (strcmp(kind, "prize") == 0 && !pc_valid_name(lua_tostring(L, -1)))
        luaL_error(L, "bad prize name '%s' (use 1-64 of a-z 0-9 _ . -)", lua_tostring(L, -1));
    /* kind and its name first, then the rest in table order. */
    if (strcmp(kind, "discount") == 0) {
        o = json_pack("{s:s}", "kind", kind);
    } else {
        size_t len;
        const char *text = lua_tolstring(L, -1, &len);
        /* jansson refuses text that is not UTF-8: say so, not "out of memory". */
        if (!luart_utf8_valid(text, len))
            luaL_error(L, "a %s outcome's text must be UTF-8", kind);
        /* A plain record, unless the text holds a NUL byte (a C string would cut it). */
        if (!memchr(text, '\0', len) && collect_named(L, idx, run, kind, text) == 0) {
            lua_pop(L, 1);
            return;
        }
        o = json_pack("{s:s, s:s%}", "kind", kind, strcmp(kind, "prize") == 0 ? "prize" : "text",
                      text, len);
    }
    lua_pop(L, 1);
    if (!o)
        luart_oom(L);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        json_t *v;
        v = scalar_json(L);
        lua_pop(L, 1);
        if (!k || !v || strcmp(k, "mechanic") == 0 || !luart_utf8_valid(k, strlen(k))) {
            json_decref(v);
            json_decref(o);
            luaL_error(L, BAD_FIELDS);
        }
        if (json_object_set_new(o, k, v)) {
            json_decref(o);
            luart_oom(L);
        }
    }
    if (strcmp(kind, "prize") == 0) {
        if (member_add_prize(run->m, json_string_value(json_object_get(o, "prize")))) {
            json_decref(o);
            luart_oom(L);
        }
    }
    if (run->m->nouts >= run->max_outcomes) {
        json_decref(o);
        luart_check_caps(L, run, 1, 0);
    }
    if (!member_add_outcome(run->m, who, o))
        luart_oom(L);
}

void luart_collect_outcomes(lua_State *L, int base, mech_run *run)
{
    int top = lua_gettop(L);
    for (int i = base; i <= top; i++) {
        if (lua_isnil(L, i))
            continue;
        if (!lua_istable(L, i))
            luaL_error(L, "run must return outcomes (prize(), message()) or nothing");
        lua_pushliteral(L, "kind");
        int is_outcome = lua_rawget(L, i) != LUA_TNIL;
        lua_pop(L, 1);
        if (is_outcome) {
            collect_one(L, i, run);
            continue;
        }
        /* A list of outcomes. */
        lua_Integer n = (lua_Integer)lua_rawlen(L, i);
        lua_pushnil(L);
        if (n == 0 && lua_next(L, i)) /* not a list: a table with other keys */
            luaL_error(L, "run returned a table that is not an outcome (use prize() or message())");
        for (lua_Integer j = 1; j <= n; j++) {
            if (lua_rawgeti(L, i, j) != LUA_TTABLE)
                luaL_error(L, "run returned a list with something not an outcome");
            collect_one(L, lua_gettop(L), run);
            lua_pop(L, 1);
        }
    }
}
