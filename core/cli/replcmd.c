/*
 * The commands of punch repl (repl.h): the shared Lua bindings
 * (luabind-internal.h: send an event, read a member, a ledger, a draw, a
 * leaderboard, move the clock) plus the REPL's own commands, and the way
 * the REPL shows every answer: readably (outcomes, balances before -> after,
 * which mechanics ran and why the others did not), then as the line's value.
 */
#include "repl.h"
#include "cli/luabind-internal.h"
#include "lua/luajson-internal.h"

#include <lauxlib.h>
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
    "          (y mo w d h m s); what falls due meanwhile (expiry, releases, ticks) happens\n"
    "          then and is shown, with each member's next wake\n"
    "Members:  member(\"ann\")  ledger(\"ann\" [, n])  members()\n"
    "Game:     draw(\"lunch\")  leaderboard(\"steps\" [, top [, member]])   for the clock's "
    "period\n"
    "          experiment(\"spring\")   each group's figures and the lift\n"
    "          offer(\"summer10\")  offer()   an offer's uses and cap left; every offer\n"
    "Program:  mechanics()  reload()  reset() wipes the namespace\n"
    "Other:    json(value)  help()  quit()\n"
    "Tab completes names and member ids; Ctrl-C stops a command or clears the line; Ctrl-D\n"
    "quits. History is kept in ~/.punch_history.\n";

volatile sig_atomic_t repl_interrupted;

/* A tick the clock move caused: shown like an event the user sent. */
static void on_tick(void *arg, const char *member, int status, json_t *body)
{
    (void)arg;
    (void)member;
    replprint_response(status, body);
}

sweeper *repl_sweeper_new(repl *r)
{
    /* The clock only moves when told to: sweeps come from engine_sweep_now(), not a timer. */
    sweeper *sw = engine_sweeper_new(r->s.engine, 0);
    if (sw)
        engine_sweeper_watch(sw, on_tick, r);
    return sw;
}

static repl *repl_of(lua_State *L)
{
    return luabind_of(L)->owner;
}

void repl_note_member(repl *r, const char *id)
{
    char **m;
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
    luabind_push_sender(L, name);
    return 1;
}

/*
 * When the sweeper will next wake each member the REPL has seen (an expiry,
 * a release or a mechanic's m:wake_at), so that a missing wake shows.
 */
static void print_next_wakes(repl *r)
{
    size_t shown = 0;
    if (!r->nmembers)
        return;
    printf("next wake:");
    for (size_t i = 0; i < r->nmembers && shown < 20; i++, shown++) {
        json_t *body = NULL;
        int status = session_member(&r->s, r->members[i], &body);
        const char *at = json_string_value(json_object_get(body, "next_wake_at"));
        if (status == 200)
            printf(" %s %s%s", r->members[i], at ? at : "none", i + 1 < r->nmembers ? "," : "");
        json_decref(body);
    }
    if (r->nmembers > shown)
        printf(" ... (%zu more)", r->nmembers - shown);
    putchar('\n');
}

/* Has every member whose expiry or release is due by the clock been ticked? */
static int nothing_due(repl *r)
{
    return session_count_due(&r->s) <= 0;
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
    before = engine_sweeper_ticks(r->sweeper);
    engine_sweep_now(r->sweeper);
    while (pc_mono_ms() < deadline) {
        struct timeval tick = {0, 20000};
        /* A sweep (its ticks, the period closes it started) finishes before the next. */
        if (!engine_sweeper_busy(r->sweeper)) {
            if (nothing_due(r))
                break;
            engine_sweep_now(r->sweeper);
        }
        event_base_loopexit(r->s.base, &tick);
        event_base_dispatch(r->s.base);
    }
    if (engine_sweeper_ticks(r->sweeper) > before)
        printf("(%llu member%s had something due by then: ticked)\n",
               (unsigned long long)(engine_sweeper_ticks(r->sweeper) - before),
               engine_sweeper_ticks(r->sweeper) - before == 1 ? "" : "s");
    print_next_wakes(r);
}

/* The clock was set or moved on: the REPL sweeps what fell due meanwhile. */
static void on_clock_moved(luabind *b)
{
    catch_up(b->owner);
}

/*
 * How the REPL shows a binding's answer: printed readably, then returned as
 * the line's value (a table marked as shown, so that it is not printed
 * twice). A refused event, draw or leaderboard read returns its error body;
 * a member or ledger that cannot be read returns nothing.
 */
static int show_answer(lua_State *L, luabind *b, const luabind_answer *a, char *err, size_t errlen)
{
    int ok = a->status == 200;

    if (a->call == LUABIND_MEMBER && a->status == 404) {
        printf("%s: no such member (no event applied yet)\n", a->subject);
        return 0;
    }
    if (a->subject && (a->call == LUABIND_SEND || (a->call == LUABIND_MEMBER && ok)))
        repl_note_member(b->owner, a->subject);
    if (!ok || a->call == LUABIND_SEND)
        replprint_response(a->status, a->body);
    else if (a->call == LUABIND_MEMBER)
        replprint_member(a->body);
    else if (a->call == LUABIND_LEDGER)
        replprint_ledger(a->subject, a->body);
    else if (a->call == LUABIND_DRAW)
        replprint_draw(a->body);
    else if (a->call == LUABIND_EXPERIMENT || a->call == LUABIND_OFFER) {
        replprint_json(a->body);
        putchar('\n');
    } else
        replprint_board(a->body);
    if (!ok && (a->call == LUABIND_MEMBER || a->call == LUABIND_LEDGER))
        return 0;
    luajson_push(L, ok ? a->value : a->body);
    mark_shown(L, -1);
    return 1;
}

static const luabind_front repl_front = {show_answer, on_clock_moved};

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
    engine_sweeper_free(r->sweeper);
    r->sweeper = NULL;
    if (session_load(&r->s, NULL, ns, 0))
        return luaL_error(L, "reset: cannot restart the engine");
    r->sweeper = repl_sweeper_new(r);
    for (size_t i = 0; i < r->nmembers; i++)
        free(r->members[i]);
    r->nmembers = 0;
    r->b.last_member[0] = '\0';
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

/* The REPL's own commands; the shared bindings come from luabind_register(). */
static const luaL_Reg commands[] = {
    {"members", l_members}, {"reset", l_reset}, {"mechanics", l_mechanics},
    {"reload", l_reload},   {"json", l_json},   {"help", l_help},
    {"quit", l_quit},       {"exit", l_quit},   {NULL, NULL},
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

/*
 * Creates r->L: the shared bindings under their own names, the REPL's
 * commands, every event type the mechanics react to as a function (looked up
 * when used, so a reload adds and removes them), and the Ctrl-C hook. 0, or
 * -1 when out of memory.
 */
int replcmd_open(repl *r)
{
    lua_State *L;

    r->b.s = &r->s;
    r->b.front = &repl_front;
    r->b.owner = r;
    r->b.send_flags = ENGINE_EXPLAIN;
    r->b.id_prefix = r->id_prefix;
    if (!(L = luabind_newstate(&r->b)))
        return -1;
    r->L = L;
    luabind_register(L, "");
    lua_pushglobaltable(L);
    for (const luaL_Reg *c = commands; c->name; c++) {
        lua_pushcfunction(L, c->func);
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
    lua_pushcfunction(L, luabind_msgh);
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
    json_array_foreach(json_object_get(d, "mechanics"), i, m) {
        on = json_object_get(m, "on");
        if (json_is_string(on))
            ADD_NAME(json_string_value(on));
        json_array_foreach(on, j, t)
            ADD_NAME(json_string_value(t));
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
        json_array_foreach(json_object_get(d, "mechanics"), i, m) {
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
