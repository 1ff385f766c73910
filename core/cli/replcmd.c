/*
 * The commands of punch repl (repl.h): a helper Lua state (not the sandbox
 * the mechanics run in) whose functions send events through the session's
 * engine and print, readably, what the engine answered: outcomes, balances
 * before -> after, which mechanics ran and why the others did not.
 */
#include "repl.h"
#include "lua/luajson-internal.h"
#include "store/store-internal.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char repl_help[] =
    "Events (applied to the store for real, on the virtual clock):\n"
    "  order{member=\"ann\", amount=1250}   any type the mechanics react to is a function;\n"
    "                                     fields but id, member, at, data go into data\n"
    "  send{type=\"visit\", member=\"bo\"}    any type; dry_run=true decides, applies nothing\n"
    "  A member left out is the last one named.\n"
    "Clock:    clock()  clock(\"2026-01-01T09:00:00Z\")  clock(\"2026-03-01\")  "
    "advance(\"1d12h\")\n"
    "          (w d h m s); what falls due meanwhile (expiry, releases, ticks) happens then\n"
    "Members:  member(\"ann\")  ledger(\"ann\" [, n])  members()\n"
    "Game:     draw(\"lunch\")  leaderboard(\"steps\" [, top [, member]])   for the clock's "
    "period\n"
    "Program:  mechanics()  reload()  reset() wipes the namespace\n"
    "Other:    json(value)  help()  quit()\n"
    "Tab completes names and member ids; Ctrl-C stops a command or clears the line; Ctrl-D\n"
    "quits. History is kept in ~/.punch_history.\n";

static const char *const reserved[] = {"id", "type", "member", "at", "data", "dry_run", NULL};

typedef struct sync_count {
    int done;
    long long n;
} sync_count;

static void on_count(redisReply *reply, const char *err, void *arg)
{
    sync_count *c = arg;
    c->done = 1;
    c->n = reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : 0;
}

static repl *repl_of(lua_State *L)
{
    return *(repl **)lua_getextraspace(L);
}

void repl_note_member(repl *r, const char *id)
{
    char **m;
    snprintf(r->last_member, sizeof r->last_member, "%s", id);
    for (size_t i = 0; i < r->nmembers; i++)
        if (!strcmp(r->members[i], id))
            return;
    if (!(m = realloc(r->members, (r->nmembers + 1) * sizeof *m)))
        return;
    r->members = m;
    if ((m[r->nmembers] = strdup(id)))
        r->nmembers++;
}

/* Values a command printed already are not printed again as the line's result. */
static void mark_shown(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_getfield(L, LUA_REGISTRYINDEX, "punch.shown");
    lua_pushvalue(L, idx);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

static int was_shown(lua_State *L, int idx)
{
    int shown;
    idx = lua_absindex(L, idx);
    lua_getfield(L, LUA_REGISTRYINDEX, "punch.shown");
    lua_pushvalue(L, idx);
    shown = lua_rawget(L, -2) != LUA_TNIL;
    lua_pop(L, 2);
    return shown;
}

/* Builds the event from the table at 1; NULL with why filled. */
static json_t *event_from_table(lua_State *L, repl *r, const char *type, int *flags, char *why,
                                size_t whylen)
{
    json_t *ev = json_object(), *data = json_object();
    char err[200];

    lua_pushnil(L);
    while (lua_next(L, 1)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        json_t *v;
        int is_reserved = 0;
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
        for (const char *const *s = reserved; *s; s++)
            is_reserved |= !strcmp(k, *s);
        json_object_set_new(is_reserved ? ev : data, k, v);
    }
    if (type)
        json_object_set_new(ev, "type", json_string(type));
    if (!json_object_get(ev, "member")) {
        if (!r->last_member[0]) {
            snprintf(why, whylen, "which member? e.g. %s{member=\"ann\"}", type ? type : "send");
            goto err;
        }
        json_object_set_new(ev, "member", json_string(r->last_member));
    }
    if (!json_object_get(ev, "id")) {
        char id[80];
        snprintf(id, sizeof id, "%s%ld", r->id_prefix, ++r->seq);
        json_object_set_new(ev, "id", json_string(id));
    }
    json_object_set_new(ev, "data", data);
    return ev;
err:
    json_decref(ev);
    json_decref(data);
    return NULL;
}

/* TYPE{...} and send{type=..., ...}: upvalue 1 is the type, or nil for send. */
static int l_send(lua_State *L)
{
    repl *r = repl_of(L);
    const char *type = lua_tostring(L, lua_upvalueindex(1));
    int flags = ENGINE_EXPLAIN, status;
    char why[300];
    json_t *ev, *body = NULL;

    if (lua_gettop(L) == 0)
        lua_newtable(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    if (!(ev = event_from_table(L, r, type, &flags, why, sizeof why)))
        return luaL_error(L, "%s", why);
    status = session_send_flags(&r->s, ev, flags, &body);
    if (json_is_string(json_object_get(ev, "member")) &&
        pc_valid_id(json_string_value(json_object_get(ev, "member"))))
        repl_note_member(r, json_string_value(json_object_get(ev, "member")));
    json_decref(ev);
    replprint_response(status, body);
    luajson_push(L, body);
    json_decref(body);
    mark_shown(L, -1);
    return 1;
}

/* Globals that are not defined: a sender when the mechanics react to that type. */
static int l_global_index(lua_State *L)
{
    repl *r = repl_of(L);
    const char *name = lua_tostring(L, 2);
    mechset *set;
    int handles = 0;
    if (!name || !pc_valid_name(name))
        return 0;
    if ((set = mech_holder_acquire(r->s.holder))) {
        handles = mechset_handles(set, name);
        mechset_unref(set);
    }
    if (!handles)
        return 0;
    lua_pushstring(L, name);
    lua_pushcclosure(L, l_send, 1);
    return 1;
}

/* Has every member whose expiry or release is due by the clock been ticked? */
static int nothing_due(repl *r)
{
    char key[100], now[32];
    sync_count c = {0};
    snprintf(key, sizeof key, "%s:due", r->s.ns);
    snprintf(now, sizeof now, "%lld", (long long)r->s.now_ms);
    const char *argv[4] = {"ZCOUNT", key, "-inf", now};
    store_command(r->s.store, on_count, &c, 4, argv, NULL);
    while (!c.done)
        event_base_loop(r->s.base, EVLOOP_ONCE);
    return c.n == 0;
}

/*
 * The clock moved: what falls due meanwhile (lots expiring, pending stars
 * released, "tick" mechanics) happens now, as punchd's sweeper would do it.
 */
static void catch_up(repl *r)
{
    uint64_t before;
    int64_t deadline = pc_mono_ms() + 5000;
    if (!r->sweeper)
        return;
    before = sweeper_ticks(r->sweeper);
    sweeper_poke(r->sweeper);
    while (!nothing_due(r) && pc_mono_ms() < deadline) {
        struct timeval tick = {0, 20000};
        event_base_loopexit(r->s.base, &tick);
        event_base_dispatch(r->s.base);
        sweeper_poke(r->sweeper);
    }
    if (sweeper_ticks(r->sweeper) > before)
        printf("(%llu member%s had something due by then: ticked)\n",
               (unsigned long long)(sweeper_ticks(r->sweeper) - before),
               sweeper_ticks(r->sweeper) - before == 1 ? "" : "s");
}

static void push_clock(lua_State *L, repl *r)
{
    char ts[32];
    pc_time_format(r->s.now_ms, ts, sizeof ts);
    lua_pushstring(L, ts);
}

static int l_clock(lua_State *L)
{
    repl *r = repl_of(L);
    if (!lua_isnoneornil(L, 1)) {
        const char *s = luaL_checkstring(L, 1);
        char buf[64];
        int64_t ms;
        /* A bare date means its midnight, UTC. */
        snprintf(buf, sizeof buf, strlen(s) == 10 ? "%sT00:00:00Z" : "%s", s);
        if (pc_time_parse(buf, &ms))
            return luaL_error(L, "clock: '%s' is not a time like 2026-01-01T09:00:00Z", s);
        r->s.now_ms = ms;
        catch_up(r);
    }
    push_clock(L, r);
    return 1;
}

static int l_advance(lua_State *L)
{
    repl *r = repl_of(L);
    int64_t d = cli_parse_duration(luaL_checkstring(L, 1));
    if (d < 0)
        return luaL_error(L, "advance: '%s' is not a duration like 1d, 3h, 2w, 1d12h",
                          lua_tostring(L, 1));
    r->s.now_ms += d;
    catch_up(r);
    push_clock(L, r);
    return 1;
}

static const char *member_arg(lua_State *L, repl *r)
{
    const char *id = lua_isnoneornil(L, 1) ? r->last_member : luaL_checkstring(L, 1);
    if (!id[0])
        luaL_error(L, "which member? e.g. member(\"ann\")");
    return id;
}

static int l_member(lua_State *L)
{
    repl *r = repl_of(L);
    const char *id = member_arg(L, r);
    json_t *body = NULL;
    int status = session_member(&r->s, id, &body);

    if (status == 404) {
        printf("%s: no such member (no event applied yet)\n", id);
        json_decref(body);
        return 0;
    }
    if (status != 200) {
        replprint_response(status, body);
        json_decref(body);
        return 0;
    }
    repl_note_member(r, id);
    replprint_member(body);
    luajson_push(L, body);
    json_decref(body);
    mark_shown(L, -1);
    return 1;
}

static int l_ledger(lua_State *L)
{
    repl *r = repl_of(L);
    const char *id = member_arg(L, r);
    int limit = (int)luaL_optinteger(L, 2, 20);
    json_t *body = NULL;
    int status = session_ledger(&r->s, id, limit < 1 ? 1 : limit > 1000 ? 1000 : limit, &body);

    if (status != 200) {
        replprint_response(status, body);
        json_decref(body);
        return 0;
    }
    replprint_ledger(id, body);
    luajson_push(L, json_object_get(body, "entries"));
    json_decref(body);
    mark_shown(L, -1);
    return 1;
}

/* Prints an answer (with show on success), returns it as a table marked as shown. */
static int show_answer(lua_State *L, int status, json_t *body, void (*show)(json_t *))
{
    if (status == 200)
        show(body);
    else
        replprint_response(status, body);
    luajson_push(L, body);
    json_decref(body);
    mark_shown(L, -1);
    return 1;
}

/* draw("lunch"): the pools left in the period of the clock. */
static int l_draw(lua_State *L)
{
    repl *r = repl_of(L);
    json_t *body = NULL;
    int status = session_draw(&r->s, luaL_checkstring(L, 1), &body);
    return show_answer(L, status, body, replprint_draw);
}

/* leaderboard("steps" [, top [, member]]): this period's top, and a member's rank. */
static int l_leaderboard(lua_State *L)
{
    repl *r = repl_of(L);
    json_t *body = NULL;
    int status = session_leaderboard(&r->s, luaL_checkstring(L, 1), (int)luaL_optinteger(L, 2, 10),
                                     luaL_optstring(L, 3, NULL), NULL, &body);
    return show_answer(L, status, body, replprint_board);
}

static int l_members(lua_State *L)
{
    repl *r = repl_of(L);
    lua_createtable(L, (int)r->nmembers, 0);
    for (size_t i = 0; i < r->nmembers; i++) {
        lua_pushstring(L, r->members[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static int l_reset(lua_State *L)
{
    repl *r = repl_of(L);
    char ns[sizeof r->s.ns];
    snprintf(ns, sizeof ns, "%s", r->s.ns);
    if (session_wipe(&r->s))
        return luaL_error(L, "reset: redis refused to delete the namespace");
    /* A fresh engine: its cache of members must not outlive their keys. */
    sweeper_free(r->sweeper);
    r->sweeper = NULL;
    if (session_load(&r->s, NULL, ns, 0))
        return luaL_error(L, "reset: cannot restart the engine");
    r->sweeper = repl_sweeper_new(r);
    for (size_t i = 0; i < r->nmembers; i++)
        free(r->members[i]);
    r->nmembers = 0;
    r->last_member[0] = '\0';
    printf("namespace %s wiped: no members, no events\n", r->s.ns);
    return 0;
}

static int l_mechanics(lua_State *L)
{
    json_t *d = mech_holder_describe(repl_of(L)->s.holder);
    replprint_mechanics(d);
    json_decref(d);
    return 0;
}

static int l_reload(lua_State *L)
{
    repl *r = repl_of(L);
    r->version[0] = '\0'; /* announce the outcome even when nothing changed */
    mech_holder_reload(r->s.holder);
    return 0;
}

static int l_json(lua_State *L)
{
    char err[200];
    json_t *j = luajson_to_json(L, 1, err, sizeof err);
    char *s;
    if (!j)
        return luaL_error(L, "json: %s", err);
    s = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);
    puts(s ? s : "?");
    free(s);
    json_decref(j);
    return 0;
}

static int l_help(lua_State *L)
{
    fputs(repl_help, stdout);
    return 0;
}

static int l_quit(lua_State *L)
{
    repl_of(L)->quit = 1;
    return 0;
}

static const luaL_Reg commands[] = {
    {"send", l_send},       {"clock", l_clock},
    {"advance", l_advance}, {"member", l_member},
    {"ledger", l_ledger},   {"members", l_members},
    {"draw", l_draw},       {"leaderboard", l_leaderboard},
    {"reset", l_reset},     {"mechanics", l_mechanics},
    {"reload", l_reload},   {"json", l_json},
    {"help", l_help},       {"quit", l_quit},
    {"exit", l_quit},       {NULL, NULL},
};

/* Ctrl-C stops a runaway line (while true do end) at the next hook. */
static void on_hook(lua_State *L, lua_Debug *ar)
{
    if (repl_interrupted) {
        repl_interrupted = 0;
        /* The terminal echoed ^C where the cursor was: start a line of our own. */
        luaL_error(L, "%sinterrupted", isatty(0) ? "\n" : "");
    }
}

int replcmd_open(repl *r)
{
    lua_State *L = luaL_newstate();
    if (!L)
        return -1;
    r->L = L;
    *(repl **)lua_getextraspace(L) = r;
    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
    lua_settop(L, 0);
    lua_pushglobaltable(L);
    for (const luaL_Reg *c = commands; c->name; c++) {
        if (c->func == l_send) {
            lua_pushnil(L); /* its upvalue: no fixed type */
            lua_pushcclosure(L, l_send, 1);
        } else {
            lua_pushcfunction(L, c->func);
        }
        lua_setfield(L, -2, c->name);
    }
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, l_global_index);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_pop(L, 1);
    lua_newtable(L); /* punch.shown, weak keys */
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, "punch.shown");
    lua_sethook(L, on_hook, LUA_MASKCOUNT, 1000);
    return 0;
}

void replcmd_close(repl *r)
{
    if (r->L)
        lua_close(r->L);
    r->L = NULL;
}

static void print_value(lua_State *L, int idx)
{
    char err[200];
    json_t *j;
    if (lua_type(L, idx) == LUA_TTABLE && (j = luajson_to_json(L, idx, err, sizeof err))) {
        replprint_json(j);
        putchar('\n');
        json_decref(j);
        return;
    }
    puts(luaL_tolstring(L, idx, NULL));
    lua_pop(L, 1);
}

static int message_only(lua_State *L)
{
    if (!lua_tostring(L, 1))
        lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    return 1;
}

void replcmd_eval(repl *r, const char *chunk, int *incomplete)
{
    lua_State *L = r->L;
    size_t len = strlen(chunk);
    int rc, top;

    *incomplete = 0;
    lua_settop(L, 0);
    /* An expression prints its values, as in lua(1); otherwise a statement. */
    lua_pushfstring(L, "return %s;", chunk);
    rc = luaL_loadbufferx(L, lua_tostring(L, -1), strlen(lua_tostring(L, -1)), "=stdin", "t");
    if (rc != LUA_OK) {
        lua_settop(L, 0);
        rc = luaL_loadbufferx(L, chunk, len, "=stdin", "t");
        if (rc == LUA_ERRSYNTAX && strstr(lua_tostring(L, -1), "<eof>")) {
            *incomplete = 1;
            lua_settop(L, 0);
            return;
        }
        if (rc != LUA_OK) {
            printf("%s\n", lua_tostring(L, -1));
            lua_settop(L, 0);
            return;
        }
    } else {
        lua_remove(L, 1);
    }
    /* What the last line printed is not printed twice; older values print normally. */
    lua_newtable(L);
    lua_getfield(L, LUA_REGISTRYINDEX, "punch.shown");
    lua_getmetatable(L, -1);
    lua_setmetatable(L, -3);
    lua_pop(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "punch.shown");
    lua_pushcfunction(L, message_only);
    lua_insert(L, 1);
    repl_interrupted = 0;
    rc = lua_pcall(L, 0, LUA_MULTRET, 1);
    if (rc != LUA_OK) {
        printf("%s\n", lua_tostring(L, -1));
    } else {
        top = lua_gettop(L);
        for (int i = 2; i <= top; i++)
            if (!(lua_type(L, i) == LUA_TTABLE && was_shown(L, i)))
                print_value(L, i);
    }
    lua_settop(L, 0);
    fflush(stdout);
}

char **replcmd_names(repl *r)
{
    lua_State *L = r->L;
    json_t *d = mech_holder_describe(r->s.holder), *m, *on, *t;
    size_t n = 0, cap = 64, i, j;
    char **names = malloc(cap * sizeof *names);

#define ADD_NAME(s)                                                                                \
    do {                                                                                           \
        if (n + 2 > cap) {                                                                         \
            char **nn = realloc(names, (cap *= 2) * sizeof *nn);                                   \
            if (!nn)                                                                               \
                goto out;                                                                          \
            names = nn;                                                                            \
        }                                                                                          \
        if ((names[n] = strdup(s)))                                                                \
            n++;                                                                                   \
    } while (0)

    if (!names) {
        json_decref(d);
        return NULL;
    }
    lua_pushglobaltable(L);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_type(L, -2) == LUA_TSTRING)
            ADD_NAME(lua_tostring(L, -2));
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    json_array_foreach(json_object_get(d, "mechanics"), i, m)
    {
        on = json_object_get(m, "on");
        if (json_is_string(on))
            ADD_NAME(json_string_value(on));
        json_array_foreach(on, j, t) ADD_NAME(json_string_value(t));
    }
out:
#undef ADD_NAME
    lua_settop(L, 0);
    names[n] = NULL;
    json_decref(d);
    return names;
}

void replcmd_banner(repl *r)
{
    json_t *d = mech_holder_describe(r->s.holder), *m;
    char ts[32];
    size_t i;
    const char *sep = "";

    pc_time_format(r->s.now_ms, ts, sizeof ts);
    if (json_is_string(json_object_get(d, "version"))) {
        printf("punch repl: mechanics %s from %s:", replprint_str(d, "version"), r->scripts);
        json_array_foreach(json_object_get(d, "mechanics"), i, m)
        {
            printf("%s %s", sep, replprint_str(m, "name"));
            sep = ",";
        }
        putchar('\n');
        snprintf(r->version, sizeof r->version, "%s", replprint_str(d, "version"));
    }
    if (json_is_object(json_object_get(d, "error")))
        printf("punch repl: the mechanics in %s do not load: %s\n", r->scripts,
               replprint_str(json_object_get(d, "error"), "message"));
    printf("redis: %s, namespace %s; clock %s\n",
           r->external_redis ? "as given by --redis" : "throwaway", r->s.ns, ts);
    printf("Send an event with order{member=\"ann\", amount=1250}; help() lists the commands.\n");
    json_decref(d);
    fflush(stdout);
}
