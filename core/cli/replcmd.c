/*
 * The commands of punch repl (repl.h): a helper Lua state (not the sandbox
 * the mechanics run in) whose functions send events through the session's
 * engine and print, readably, what the engine answered: outcomes, balances
 * before -> after, which mechanics ran and why the others did not.
 */
#include "repl.h"
#include "punchcard/luajson.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char repl_help[] =
    "Events (applied to the store for real, on the virtual clock):\n"
    "  order{member=\"ann\", amount=1250}   any event type the mechanics react to is a function;\n"
    "                                     fields other than id, member, at, data go into data\n"
    "  send{type=\"visit\", member=\"bo\"}    any type; add dry_run=true to decide without "
    "applying\n"
    "Clock:    clock()  clock(\"2026-01-01T09:00:00Z\")  clock(\"2026-03-01\")  advance(\"1d\")  "
    "(w d h m s)\n"
    "Members:  member(\"ann\")  ledger(\"ann\" [, n])  members()\n"
    "Program:  mechanics()  reload()  reset() wipes the namespace\n"
    "Other:    json(value)  help()  quit()   Tab completes names and member ids; Ctrl-C stops a\n"
    "          command or clears the line; Ctrl-D quits. History is kept in ~/.punch_history.\n";

static const char *const reserved[] = {"id", "type", "member", "at", "data", "dry_run", NULL};

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

static void print_json_compact(json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    fputs(s ? s : "?", stdout);
    free(s);
}

/* An outcome's fields other than those already said, as " k=v". */
static void print_extra_fields(json_t *o, const char *const *skip)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        int said = !strcmp(k, "mechanic") || !strcmp(k, "kind");
        for (const char *const *s = skip; *s && !said; s++)
            said = !strcmp(k, *s);
        if (said)
            continue;
        printf(" %s=", k);
        print_json_compact(v);
    }
}

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "?";
}

static void print_outcome(json_t *o, int width)
{
    const char *kind = str(o, "kind");
    json_t *delta = json_object_get(o, "delta");

    printf("  %-*s  ", width, str(o, "mechanic"));
    if (json_is_string(json_object_get(o, "currency")) && json_is_integer(delta)) {
        printf("%+lld %s (balance %lld)", (long long)json_integer_value(delta), str(o, "currency"),
               (long long)json_integer_value(json_object_get(o, "balance")));
        print_extra_fields(o, (const char *const[]){"currency", "delta", "balance", NULL});
        if (strcmp(kind, "stars"))
            printf(" [%s]", kind);
    } else if (!strcmp(kind, "counter")) {
        printf("counter %s = %lld", str(o, "counter"),
               (long long)json_integer_value(json_object_get(o, "value")));
        print_extra_fields(o, (const char *const[]){"counter", "value", NULL});
    } else if (!strcmp(kind, "badge")) {
        printf("badge %s", str(o, "badge"));
        print_extra_fields(o, (const char *const[]){"badge", NULL});
    } else if (!strcmp(kind, "tier")) {
        json_t *from = json_object_get(o, "from");
        printf("tier %s (was %s)", str(o, "tier"),
               json_is_string(from) ? json_string_value(from) : "none");
        print_extra_fields(o, (const char *const[]){"tier", "from", NULL});
    } else if (!strcmp(kind, "prize")) {
        printf("prize %s", str(o, "prize"));
        print_extra_fields(o, (const char *const[]){"prize", NULL});
    } else if (!strcmp(kind, "message")) {
        printf("message \"%s\"", str(o, "text"));
        print_extra_fields(o, (const char *const[]){"text", NULL});
    } else {
        printf("%s", kind);
        print_extra_fields(o, (const char *const[]){NULL});
    }
    putchar('\n');
}

/* "stars 0 -> 86, gold_stars 3 -> 4": each currency's balance before and after the event. */
static void print_balances(json_t *outcomes)
{
    json_t *seen = json_object(), *o, *pair;
    const char *cur;
    size_t i;

    json_array_foreach(outcomes, i, o)
    {
        json_t *delta = json_object_get(o, "delta"), *bal = json_object_get(o, "balance");
        if (!json_is_string(json_object_get(o, "currency")) || !json_is_integer(delta) ||
            !json_is_integer(bal))
            continue;
        cur = json_string_value(json_object_get(o, "currency"));
        if (!(pair = json_object_get(seen, cur)))
            json_object_set_new(seen, cur,
                                json_pack("[I, I]",
                                          json_integer_value(bal) - json_integer_value(delta),
                                          json_integer_value(bal)));
        else
            json_array_set(pair, 1, bal);
    }
    if (json_object_size(seen)) {
        const char *sep = "  balances: ";
        json_object_foreach(seen, cur, pair)
        {
            printf("%s%s %lld -> %lld", sep, cur,
                   (long long)json_integer_value(json_array_get(pair, 0)),
                   (long long)json_integer_value(json_array_get(pair, 1)));
            sep = ", ";
        }
        putchar('\n');
    }
    json_decref(seen);
}

/* The explain trace: who ran (and what it produced), who did not and why. */
static void print_explain(json_t *trace)
{
    json_t *t;
    size_t i;
    int width = 0, unsubscribed = 0;

    json_array_foreach(trace, i, t)
    {
        int n = (int)strlen(str(t, "mechanic"));
        if (n > width)
            width = n;
    }
    json_array_foreach(trace, i, t)
    {
        const char *reason = json_string_value(json_object_get(t, "reason"));
        if (json_is_true(json_object_get(t, "ran"))) {
            long long n = json_integer_value(json_object_get(t, "outcomes"));
            printf("  ran      %-*s  %lld outcome%s\n", width, str(t, "mechanic"), n,
                   n == 1 ? "" : "s");
        } else if (reason && strstr(reason, "not subscribed")) {
            unsubscribed++;
        } else {
            printf("  skipped  %-*s  %s\n", width, str(t, "mechanic"), reason ? reason : "");
        }
    }
    if (!unsubscribed)
        return;
    printf("  not subscribed:");
    json_array_foreach(trace, i, t)
    {
        const char *reason = json_string_value(json_object_get(t, "reason"));
        if (!json_is_true(json_object_get(t, "ran")) && reason && strstr(reason, "not subscribed"))
            printf(" %s", str(t, "mechanic"));
    }
    putchar('\n');
}

static void print_response(int status, json_t *body)
{
    json_t *outcomes = json_object_get(body, "outcomes"), *o;
    size_t i;
    int width = 0;

    if (status != 200) {
        json_t *e = json_object_get(body, "error");
        printf("error %d %s: %s\n", status, str(e, "code"), str(e, "message"));
        return;
    }
    printf("%s %s for %s at %s (mechanics %s)%s%s\n", str(body, "type"), str(body, "id"),
           str(body, "member"), str(body, "at"), str(body, "mechanics_version"),
           json_is_true(json_object_get(body, "dry_run")) ? " DRY RUN: nothing applied" : "",
           json_is_true(json_object_get(body, "duplicate"))
               ? " DUPLICATE: the first answer; nothing applied again"
               : "");
    json_array_foreach(outcomes, i, o)
    {
        int n = (int)strlen(str(o, "mechanic"));
        if (n > width)
            width = n;
    }
    json_array_foreach(outcomes, i, o) print_outcome(o, width);
    if (!json_array_size(outcomes))
        printf("  no outcomes\n");
    print_balances(outcomes);
    print_explain(json_object_get(body, "explain"));
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
    print_response(status, body);
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

/* A section of a member: "name value, name value" for an object of numbers. */
static void print_section(const char *title, json_t *obj, int badges)
{
    const char *k, *sep = "";
    json_t *v;
    if (!json_object_size(obj))
        return;
    printf("  %-10s ", title);
    json_object_foreach(obj, k, v)
    {
        printf("%s%s", sep, k);
        if (badges && json_is_string(json_object_get(v, "awarded_at")))
            printf(" (%s)", json_string_value(json_object_get(v, "awarded_at")));
        else if (json_is_integer(v))
            printf(" %lld", (long long)json_integer_value(v));
        else if (!badges) {
            putchar(' ');
            print_json_compact(v);
        }
        sep = ", ";
    }
    putchar('\n');
}

static int l_member(lua_State *L)
{
    repl *r = repl_of(L);
    const char *id = member_arg(L, r), *k;
    json_t *body = NULL, *v;
    int status = session_member(&r->s, id, &body);

    if (status == 404) {
        printf("%s: no such member (no event applied yet)\n", id);
        json_decref(body);
        return 0;
    }
    if (status != 200) {
        print_response(status, body);
        json_decref(body);
        return 0;
    }
    repl_note_member(r, id);
    printf("%s (version %lld)\n", id,
           (long long)json_integer_value(json_object_get(body, "version")));
    print_section("balances", json_object_get(body, "balances"), 0);
    print_section("counters", json_object_get(body, "counters"), 0);
    print_section("badges", json_object_get(body, "badges"), 1);
    print_section("prizes", json_object_get(body, "prizes"), 0);
    if (json_is_string(json_object_get(body, "tier")))
        printf("  %-10s %s\n", "tier", json_string_value(json_object_get(body, "tier")));
    json_object_foreach(body, k, v)
    {
        static const char *const said[] = {"member", "version", "balances", "counters",
                                           "badges", "prizes",  "tier",     NULL};
        int skip = json_is_null(v) || (json_is_object(v) && !json_object_size(v));
        for (const char *const *s = said; *s && !skip; s++)
            skip = !strcmp(k, *s);
        if (skip)
            continue;
        printf("  %-10s ", k);
        print_json_compact(v);
        putchar('\n');
    }
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
    json_t *body = NULL, *entries, *e;
    int status = session_ledger(&r->s, id, limit < 1 ? 1 : limit > 1000 ? 1000 : limit, &body);
    size_t i;

    if (status != 200) {
        print_response(status, body);
        json_decref(body);
        return 0;
    }
    entries = json_object_get(body, "entries");
    printf("%s: %zu entr%s, newest first%s\n", id, json_array_size(entries),
           json_array_size(entries) == 1 ? "y" : "ies",
           json_is_string(json_object_get(body, "next")) ? " (more: ledger(id, n))" : "");
    json_array_foreach(entries, i, e)
    {
        printf("  %s  %-10s %-14s %-10s %-10s %+6lld = %lld\n", str(e, "at"), str(e, "type"),
               str(e, "event"), str(e, "mechanic"), str(e, "currency"),
               (long long)json_integer_value(json_object_get(e, "delta")),
               (long long)json_integer_value(json_object_get(e, "balance")));
    }
    luajson_push(L, entries);
    json_decref(body);
    mark_shown(L, -1);
    return 1;
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
    if (session_load(&r->s, NULL, ns, 0))
        return luaL_error(L, "reset: cannot restart the engine");
    for (size_t i = 0; i < r->nmembers; i++)
        free(r->members[i]);
    r->nmembers = 0;
    r->last_member[0] = '\0';
    printf("namespace %s wiped: no members, no events\n", r->s.ns);
    return 0;
}

static void print_mechanics(json_t *d)
{
    json_t *m, *err = json_object_get(d, "error"), *on, *t;
    size_t i, j;
    printf("mechanics %s from %s, loaded %s\n",
           json_is_string(json_object_get(d, "version")) ? str(d, "version") : "(none)",
           str(d, "dir"),
           json_is_string(json_object_get(d, "loaded_at")) ? str(d, "loaded_at") : "never");
    json_array_foreach(json_object_get(d, "mechanics"), i, m)
    {
        printf("  %-16s %-16s on", str(m, "name"), str(m, "file"));
        on = json_object_get(m, "on");
        if (json_is_string(on))
            printf(" %s", json_string_value(on));
        json_array_foreach(on, j, t) printf(" %s", json_string_value(t));
        putchar('\n');
    }
    if (json_is_object(err))
        printf("  last reload failed (%s): %s\n", str(err, "at"), str(err, "message"));
}

static int l_mechanics(lua_State *L)
{
    json_t *d = mech_holder_describe(repl_of(L)->s.holder);
    print_mechanics(d);
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
        print_json_compact(j);
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
        printf("punch repl: mechanics %s from %s:", str(d, "version"), r->scripts);
        json_array_foreach(json_object_get(d, "mechanics"), i, m)
        {
            printf("%s %s", sep, str(m, "name"));
            sep = ",";
        }
        putchar('\n');
        snprintf(r->version, sizeof r->version, "%s", str(d, "version"));
    }
    if (json_is_object(json_object_get(d, "error")))
        printf("punch repl: the mechanics in %s do not load: %s\n", r->scripts,
               str(json_object_get(d, "error"), "message"));
    printf("redis: %s, namespace %s; clock %s\n",
           r->external_redis ? "as given by --redis" : "throwaway", r->s.ns, ts);
    printf("Send an event with order{member=\"ann\", amount=1250}; help() lists the commands.\n");
    json_decref(d);
    fflush(stdout);
}
