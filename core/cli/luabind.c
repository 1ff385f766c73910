/*
 * The Lua bindings of punch repl and punch test (luabind-internal.h): each
 * one reads its arguments, calls the session (the engine punchd runs, on the
 * virtual clock) and hands the answer to the front end, which decides what
 * Lua gets back. Nothing here prints.
 */
#include "cli/luabind-internal.h"
#include "lua/luajson-internal.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <string.h>

/* The event fields the REPL's shorthand keeps at the top; every other field goes into data. */
static const char *const top_fields[] = {"id", "type", "member", "at", "data", "dry_run", NULL};

lua_State *luabind_newstate(luabind *b)
{
    lua_State *L = luaL_newstate();
    if (!L)
        return NULL;
    *(luabind **)lua_getextraspace(L) = b;
    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
    lua_settop(L, 0);
    return L;
}

luabind *luabind_of(lua_State *L)
{
    return *(luabind **)lua_getextraspace(L);
}

const char *luabind_call_name(luabind_call call)
{
    static const char *const names[] = {"send",        "member",     "ledger", "draw",
                                        "leaderboard", "experiment", "offer"};
    return names[call];
}

int luabind_msgh(lua_State *L)
{
    if (!lua_tostring(L, 1))
        lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    return 1;
}

/* Remembers the member last named, the shorthand's default (events as is have no default). */
static void note_member(luabind *b, const char *id)
{
    if (!b->event_as_is && id != b->last_member)
        snprintf(b->last_member, sizeof b->last_member, "%s", id);
}

/*
 * Hands answer a to the front end and returns what it pushed. Owns a->body
 * (drops it); a refusal of the front end becomes a Lua error.
 */
static int answer(lua_State *L, luabind *b, luabind_answer *a)
{
    char err[300];
    int n = b->front->answer(L, b, a, err, sizeof err);
    json_decref(a->body);
    if (n < 0)
        return luaL_error(L, "%s", err);
    return n;
}

/*
 * The REPL's shorthand: builds the event of type (NULL: the table names it)
 * from the table at 1, adding ENGINE_DRY_RUN to *flags for dry_run=true.
 * A new reference, or NULL with why filled.
 */
static json_t *event_from_shorthand(lua_State *L, luabind *b, const char *type, int *flags,
                                    char *why, size_t whylen)
{
    json_t *ev = json_object(), *data = json_object();
    char err[200];

    lua_pushnil(L);
    while (lua_next(L, 1)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        json_t *v;
        int at_top = 0;
        if (!k) {
            snprintf(why, whylen, "event fields are named: {member=\"ann\", amount=5}");
            lua_pop(L, 2);
            goto err;
        }
        if (!strcmp(k, "dry_run")) {
            if (lua_toboolean(L, -1))
                *flags |= ENGINE_DRY_RUN;
            lua_pop(L, 1);
            continue;
        }
        if (!(v = luajson_to_json(L, -1, err, sizeof err))) {
            snprintf(why, whylen, "field %s: %s", k, err);
            lua_pop(L, 2);
            goto err;
        }
        lua_pop(L, 1);
        if (!strcmp(k, "data")) {
            if (!json_is_object(v)) {
                snprintf(why, whylen, "data must be a table of named fields");
                json_decref(v);
                goto err;
            }
            json_object_update_missing(data, v); /* named fields win over data's */
            json_decref(v);
            continue;
        }
        for (const char *const *f = top_fields; *f; f++)
            at_top |= !strcmp(k, *f);
        json_object_set_new(at_top ? ev : data, k, v);
    }
    if (type)
        json_object_set_new(ev, "type", json_string(type));
    if (!json_object_get(ev, "member")) {
        if (!b->last_member[0]) {
            snprintf(why, whylen, "which member? e.g. %s{member=\"ann\"}", type ? type : "send");
            goto err;
        }
        json_object_set_new(ev, "member", json_string(b->last_member));
    }
    if (!json_object_get(ev, "id")) {
        char id[80];
        snprintf(id, sizeof id, "%s%ld", b->id_prefix ? b->id_prefix : "", ++b->seq);
        json_object_set_new(ev, "id", json_string(id));
    }
    json_object_set_new(ev, "data", data);
    return ev;
err:
    json_decref(ev);
    json_decref(data);
    return NULL;
}

/* send(table), TYPE(table): upvalue 1 is the type, or nil when the table names it. */
static int l_send(lua_State *L)
{
    luabind *b = luabind_of(L);
    const char *type = lua_tostring(L, lua_upvalueindex(1)), *member;
    int flags = b->send_flags;
    char why[300], subject[PC_ID_MAX + 1] = "";
    luabind_answer a = {.call = LUABIND_SEND};
    json_t *ev;

    if (lua_gettop(L) == 0)
        lua_newtable(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    if (b->event_as_is) {
        if (!(ev = luajson_to_json(L, 1, why, sizeof why)))
            return luaL_error(L, "send: the event cannot be JSON: %s", why);
    } else if (!(ev = event_from_shorthand(L, b, type, &flags, why, sizeof why))) {
        return luaL_error(L, "%s", why);
    }
    a.status = session_send_flags(b->s, ev, flags, &a.body);
    member = json_string_value(json_object_get(ev, "member"));
    if (member && pc_valid_id(member)) {
        snprintf(subject, sizeof subject, "%s", member);
        note_member(b, subject);
        a.subject = subject;
    }
    json_decref(ev);
    a.value = a.body;
    return answer(L, b, &a);
}

void luabind_push_sender(lua_State *L, const char *type)
{
    lua_pushstring(L, type);
    lua_pushcclosure(L, l_send, 1);
}

/* The member at argument 1, or the last one named. */
static const char *member_arg(lua_State *L, luabind *b)
{
    const char *id = lua_isnoneornil(L, 1) ? b->last_member : luaL_checkstring(L, 1);
    if (!id[0])
        luaL_error(L, "which member? e.g. member(\"ann\")");
    return id;
}

/* member([id]): the member as GET /v1/members/{id} shows it. */
static int l_member(lua_State *L)
{
    luabind *b = luabind_of(L);
    luabind_answer a = {.call = LUABIND_MEMBER, .subject = member_arg(L, b)};

    a.status = session_member(b->s, a.subject, &a.body);
    if (a.status == 200)
        note_member(b, a.subject);
    a.value = a.body;
    return answer(L, b, &a);
}

/* ledger([id [, n]]): the n newest entries of a member's ledger. */
static int l_ledger(lua_State *L)
{
    luabind *b = luabind_of(L);
    luabind_answer a = {.call = LUABIND_LEDGER, .subject = member_arg(L, b)};
    lua_Integer limit = luaL_optinteger(L, 2, 20);

    a.status = session_ledger(b->s, a.subject,
                              limit < 1      ? 1
                              : limit > 1000 ? 1000
                                             : (int)limit,
                              &a.body);
    a.value = json_object_get(a.body, "entries");
    return answer(L, b, &a);
}

/* draw(name): the pools left in the period of the clock. */
static int l_draw(lua_State *L)
{
    luabind *b = luabind_of(L);
    luabind_answer a = {.call = LUABIND_DRAW, .subject = luaL_checkstring(L, 1)};

    a.status = session_draw(b->s, a.subject, &a.body);
    a.value = a.body;
    return answer(L, b, &a);
}

/* leaderboard(name [, top [, member [, period]]]): a period's top, and a member's rank. */
static int l_leaderboard(lua_State *L)
{
    luabind *b = luabind_of(L);
    luabind_answer a = {.call = LUABIND_BOARD, .subject = luaL_checkstring(L, 1)};
    int top = (int)luaL_optinteger(L, 2, 10);
    const char *member = luaL_optstring(L, 3, NULL), *period = luaL_optstring(L, 4, NULL);

    a.status = session_leaderboard(b->s, a.subject, top, member, period, &a.body);
    a.value = a.body;
    return answer(L, b, &a);
}

/* experiment(name): each group's figures and the lift, as GET /v1/experiments/{name}. */
static int l_experiment(lua_State *L)
{
    luabind *b = luabind_of(L);
    luabind_answer a = {.call = LUABIND_EXPERIMENT, .subject = luaL_checkstring(L, 1)};

    a.status = session_experiment(b->s, a.subject, &a.body);
    a.value = a.body;
    return answer(L, b, &a);
}

/* offer([name]): an offer and its uses, as GET /v1/offers/{name}; every offer without one. */
static int l_offer(lua_State *L)
{
    luabind *b = luabind_of(L);
    luabind_answer a = {.call = LUABIND_OFFER, .subject = luaL_optstring(L, 1, NULL)};

    a.status = session_offers(b->s, a.subject, &a.body);
    a.value = a.subject ? a.body : json_object_get(a.body, "offers");
    return answer(L, b, &a);
}

static void push_clock(lua_State *L, luabind *b)
{
    char ts[32];
    pc_time_format(b->s->now_ms, ts, sizeof ts);
    lua_pushstring(L, ts);
}

/* The clock moved: the front end catches up (the REPL sweeps), then Lua gets the new time. */
static int clock_moved(lua_State *L, luabind *b)
{
    if (b->front->clock_moved)
        b->front->clock_moved(b);
    push_clock(L, b);
    return 1;
}

/* clock([time]): sets the clock when given a time; returns it. */
static int l_clock(lua_State *L)
{
    luabind *b = luabind_of(L);
    const char *s;
    char buf[64];
    int64_t ms;

    if (lua_isnoneornil(L, 1)) {
        push_clock(L, b);
        return 1;
    }
    s = luaL_checkstring(L, 1);
    /* A bare date means its midnight, UTC. */
    snprintf(buf, sizeof buf, strlen(s) == 10 ? "%sT00:00:00Z" : "%s", s);
    if (pc_time_parse(buf, &ms))
        return luaL_error(L, "clock: '%s' is not a time like 2026-01-01T09:00:00Z", s);
    b->s->now_ms = ms;
    return clock_moved(L, b);
}

/* advance(duration): moves the clock on ("1d12h", "9mo", "1y"); returns it. */
static int l_advance(lua_State *L)
{
    luabind *b = luabind_of(L);
    if (cli_advance(&b->s->now_ms, luaL_checkstring(L, 1)))
        return luaL_error(L, "advance: '%s' is not a duration like 1d, 3h, 2w, 1d12h, 9mo, 1y",
                          lua_tostring(L, 1));
    return clock_moved(L, b);
}

void luabind_register(lua_State *L, const char *prefix)
{
    static const luaL_Reg bindings[] = {
        {"send", l_send},
        {"member", l_member},
        {"ledger", l_ledger},
        {"draw", l_draw},
        {"leaderboard", l_leaderboard},
        {"experiment", l_experiment},
        {"offer", l_offer},
        {"clock", l_clock},
        {"advance", l_advance},
        {NULL, NULL},
    };

    lua_pushglobaltable(L);
    for (const luaL_Reg *r = bindings; r->name; r++) {
        lua_pushfstring(L, "%s%s", prefix, r->name);
        lua_pushnil(L); /* send's type: none, the table names it (the others have no use for it) */
        lua_pushcclosure(L, r->func, 1);
        lua_rawset(L, -3);
    }
    lua_pop(L, 1);
}
