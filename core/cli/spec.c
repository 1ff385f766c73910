/*
 * punch test: runs *_test.lua specs against the mechanics beside them, on the
 * very engine punchd runs, one fresh namespace per case, on a virtual clock.
 * Prints one line per case (with its warnings under it) and a closing
 * "N passed, N failed" (", N warnings" when there were some).
 */
#include "cli.h"
#include "cli/luabind-internal.h"
#include "lua/luajson-internal.h"

#include <dirent.h>
#include <event2/event.h>
#include <getopt.h>
#include <lauxlib.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Cases start here unless they move the clock: a Thursday, noon UTC. */
#define SPEC_EPOCH_MS 1767268800000LL /* 2026-01-01T12:00:00Z */

/*
 * The assertion API, in Lua over the bindings punch repl shares (luabind-internal.h),
 * registered as _send, _member, _ledger, _draw, _leaderboard, _clock, _advance; and
 * _close, the spec's own.
 */
static const char prelude[] =
    "local T = {}\n"
    "T.__index = T\n"
    "local seq = 0\n"
    "local function fmt(v)\n"
    "  if type(v) == 'string' then return string.format('%q', v) end\n"
    "  if type(v) ~= 'table' then return tostring(v) end\n"
    "  local parts = {}\n"
    "  for k, x in pairs(v) do parts[#parts + 1] = tostring(k) .. '=' .. fmt(x) end\n"
    "  table.sort(parts)\n"
    "  return '{' .. table.concat(parts, ', ') .. '}'\n"
    "end\n"
    "local function same(a, b)\n"
    "  if type(a) ~= 'table' or type(b) ~= 'table' then return a == b end\n"
    "  for k, v in pairs(a) do if not same(v, b[k]) then return false end end\n"
    "  for k in pairs(b) do if a[k] == nil then return false end end\n"
    "  return true\n"
    "end\n"
    "local function prefix(msg) return msg and (msg .. ': ') or '' end\n"
    "function T:send_raw(ev)\n"
    "  ev = ev or {}\n"
    "  if ev.id == nil then seq = seq + 1; ev.id = 'spec-' .. seq end\n"
    "  if ev.member == nil then ev.member = self.default_member end\n"
    "  return _send(ev)\n"
    "end\n"
    "function T:send(ev)\n"
    "  local status, body = self:send_raw(ev)\n"
    "  if status ~= 200 then\n"
    "    local e = body and body.error or {}\n"
    "    error(string.format('send: %d %s: %s', status, tostring(e.code), tostring(e.message)), "
    "2)\n"
    "  end\n"
    "  return body\n"
    "end\n"
    "function T:member(id) return _member(id or self.default_member) end\n"
    "function T:redeem(r)\n"
    "  return self:send{member = r.member, id = r.id, type = 'redeem', data = {currency = "
    "r.currency,\n"
    "    amount = r.amount, reason = r.reason, order_total = r.order_total}}\n"
    "end\n"
    "function T:reverse(event, r)\n"
    "  r = r or {}\n"
    "  return self:send{member = r.member, id = r.id or ('reverse-' .. event), type = 'reverse',\n"
    "    data = {event = event, currency = r.currency, amount = r.amount, items = r.items}}\n"
    "end\n"
    "function T:profile(p)\n"
    "  return self:send{member = p.member, id = p.id, type = 'profile',\n"
    "    data = {attributes = p.attributes, tier_floor = p.tier_floor}}\n"
    "end\n"
    "local warnings = {}\n"
    "function _take_warnings() local w = warnings; warnings = {}; return w end\n"
    "function T:tick(member)\n"
    "  local id = member or self.default_member\n"
    "  local m, now = _member(id), _clock()\n"
    "  local wake = m and m.next_wake_at\n"
    "  if not wake or wake > now then\n"
    "    warnings[#warnings + 1] = string.format('t:tick() at %s: punchd would not wake %s now "
    "(next wake: %s); is an m:wake_at missing?', now, id, wake or 'none')\n"
    "  end\n"
    "  return self:send{member = member, type = 'tick'}\n"
    "end\n"
    "function T:ledger(id, limit) return _ledger(id or self.default_member, limit or 1000) end\n"
    "function T:balance(id, currency)\n"
    "  local m = _member(id)\n"
    "  return m and m.balances[currency] or 0\n"
    "end\n"
    "function T:draw(name) return _draw(name) end\n"
    "function T:experiment(name) return _experiment(name) end\n"
    "function T:offer(name) return _offer(name) end\n"
    "function T:leaderboard(name, o)\n"
    "  o = o or {}\n"
    "  return _leaderboard(name, o.top or 10, o.member, o.period)\n"
    "end\n"
    "function T:clock(iso) return _clock(iso) end\n"
    "function T:advance(d) return _advance(d) end\n"
    "function T:close() return _close() end\n"
    "function T:ok(v, msg) if not v then error(prefix(msg) .. 'expected a true value, got ' .. "
    "fmt(v), 2) end return v end\n"
    "function T:eq(got, want, msg)\n"
    "  if not same(got, want) then error(prefix(msg) .. 'expected ' .. fmt(want) .. ', got ' .. "
    "fmt(got), 2) end\n"
    "end\n"
    "local function matches(o, want)\n"
    "  for k, v in pairs(want) do if not same(o[k], v) then return false end end\n"
    "  return true\n"
    "end\n"
    "function T:outcome(resp, want)\n"
    "  for _, o in ipairs(resp.outcomes or {}) do if matches(o, want) then return o end end\n"
    "  return nil\n"
    "end\n"
    "function T:has(resp, want, msg)\n"
    "  local o = self:outcome(resp, want)\n"
    "  if not o then error(prefix(msg) .. 'no outcome like ' .. fmt(want) .. ' in ' .. "
    "fmt(resp.outcomes), 2) end\n"
    "  return o\n"
    "end\n"
    "function T:hasnt(resp, want, msg)\n"
    "  local o = self:outcome(resp, want)\n"
    "  if o then error(prefix(msg) .. 'unexpected outcome ' .. fmt(o), 2) end\n"
    "end\n"
    "function T:fails(ev, code, msg)\n"
    "  local status, body = self:send_raw(ev)\n"
    "  if status == 200 then error(prefix(msg) .. 'expected the event to fail, it succeeded', 2) "
    "end\n"
    "  if code and body.error.code ~= code then\n"
    "    error(prefix(msg) .. 'expected error ' .. code .. ', got ' .. tostring(body.error.code), "
    "2)\n"
    "  end\n"
    "  return body.error\n"
    "end\n"
    "local cases = {}\n"
    "function test(name, fn)\n"
    "  assert(type(name) == 'string' and type(fn) == 'function', 'test(name, function(t) ... "
    "end)')\n"
    "  cases[#cases + 1] = {name = name, fn = fn}\n"
    "end\n"
    "function _cases() return cases end\n"
    "function _new_t() return setmetatable({default_member = 'ann'}, T) end\n";

typedef struct spec_ctx {
    session *s;
    luabind b; /* the bindings of every spec file's state */
    int passed, failed, warnings;
    char loaded_dir[4096];
    int dir_ok;
    char dir_err[512];
    int case_no;
} spec_ctx;

/*
 * What the bindings return to the assertion API: _send gives status and
 * body (the prelude decides what fails a case); a read gives its value, nil
 * when there is nothing (404), and fails the case on any other answer.
 */
static int spec_answer(lua_State *L, luabind *b, const luabind_answer *a, char *err, size_t errlen)
{
    if (a->call == LUABIND_SEND) {
        lua_pushinteger(L, a->status);
        luajson_push(L, a->body);
        return 2;
    }
    if (a->status == 200)
        luajson_push(L, a->value);
    else if (a->status == 404 && a->call != LUABIND_LEDGER)
        lua_pushnil(L);
    else {
        snprintf(err, errlen, "%s: status %d", luabind_call_name(a->call), a->status);
        return -1;
    }
    return 1;
}

/*
 * _close(): the period closes (and broadcasts) due by the spec's clock, run as
 * punchd's sweeper runs them — each ended period of every period_end
 * mechanic not closed yet, missed ones caught up in order — and waited for.
 * Returns the number of events they sent. Due members are not ticked: that
 * stays t:tick()'s.
 */
static int l_close(lua_State *L)
{
    luabind *b = luabind_of(L);
    sweeper *sw = engine_sweeper_new(b->s->engine, 0);
    engine_sweep_counts before, after;
    int64_t deadline = pc_mono_ms() + 10000;
    if (!sw)
        return luaL_error(L, "close: out of memory");
    engine_sweep_stats(&before);
    engine_close_now(sw);
    while (engine_sweeper_busy(sw) && pc_mono_ms() < deadline) {
        struct timeval tick = {0, 2000};
        event_base_loopexit(b->s->base, &tick);
        event_base_dispatch(b->s->base);
    }
    if (engine_sweeper_busy(sw)) {
        engine_sweeper_free(sw);
        return luaL_error(L, "close: the closes were not done in 10 s");
    }
    engine_sweeper_free(sw);
    engine_sweep_stats(&after);
    lua_pushinteger(L, (lua_Integer)(after.close_events - before.close_events));
    return 1;
}

/* Specs move the clock alone: what falls due waits for t:tick(), as the cases expect. */
static const luabind_front spec_front = {spec_answer, NULL};

/* Loads the mechanics of dir for the cases of one spec file (once per folder). */
static void load_dir(spec_ctx *c, const char *dir)
{
    mechset *set;
    json_t *d;
    if (strcmp(c->loaded_dir, dir) == 0)
        return;
    snprintf(c->loaded_dir, sizeof c->loaded_dir, "%s", dir);
    session_load(c->s, dir, "spec", 0);
    set = mech_holder_acquire(c->s->holder);
    c->dir_ok = set != NULL;
    mechset_unref(set);
    if (!c->dir_ok) {
        d = mech_holder_describe(c->s->holder);
        snprintf(c->dir_err, sizeof c->dir_err, "%s",
                 json_string_value(json_object_get(json_object_get(d, "error"), "message")));
        json_decref(d);
    }
}

/*
 * The case's warnings, under its line: a t:tick() for a member punchd would
 * not have woken then hides a missing m:wake_at (the spec passes; production
 * would never send that tick).
 */
static void print_warnings(spec_ctx *c, lua_State *L)
{
    lua_getglobal(L, "_take_warnings");
    if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
        lua_pop(L, 1);
        return;
    }
    for (lua_Integer i = 1; i <= (lua_Integer)lua_rawlen(L, -1); i++) {
        lua_rawgeti(L, -1, i);
        printf("     warning: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        c->warnings++;
    }
    lua_pop(L, 1);
}

static void run_spec_file(spec_ctx *c, const char *path)
{
    char dirbuf[4096], nsbuf[64];
    const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    lua_State *L;
    int ncases;

    snprintf(dirbuf, sizeof dirbuf, "%s", path);
    load_dir(c, dirname(dirbuf));
    if (!(L = luabind_newstate(&c->b))) {
        printf("FAIL %s: cannot load: out of memory\n", name);
        c->failed++;
        return;
    }
    luabind_register(L, "_");
    lua_register(L, "_close", l_close);
    /* The prelude never fails but when out of memory; either way the file's cases cannot run. */
    if (luaL_loadbuffer(L, prelude, sizeof prelude - 1, "=prelude") || lua_pcall(L, 0, 0, 0) ||
        luaL_loadfilex(L, path, "t") || lua_pcall(L, 0, 0, 0)) {
        printf("FAIL %s: cannot load: %s\n", name, lua_tostring(L, -1));
        c->failed++;
        lua_close(L);
        return;
    }
    lua_getglobal(L, "_cases");
    lua_call(L, 0, 1);
    ncases = (int)luaL_len(L, -1);
    if (ncases == 0) {
        printf("FAIL %s: declares no test(...) cases\n", name);
        c->failed++;
    }
    for (int i = 1; i <= ncases; i++) {
        const char *cname;
        lua_geti(L, 1, i);
        lua_getfield(L, -1, "name");
        cname = lua_tostring(L, -1);
        if (!c->dir_ok) {
            printf("FAIL %s: %s\n     mechanics do not load: %s\n", name, cname, c->dir_err);
            c->failed++;
            lua_settop(L, 1);
            continue;
        }
        /* A fresh namespace and clock per case: cases never see each other's members. */
        snprintf(nsbuf, sizeof nsbuf, "spec%d-%d", (int)getpid(), ++c->case_no);
        session_load(c->s, NULL, nsbuf, 0);
        c->s->now_ms = SPEC_EPOCH_MS;
        lua_pushcfunction(L, luabind_msgh);
        lua_getfield(L, -3, "fn");
        lua_getglobal(L, "_new_t");
        lua_call(L, 0, 1);
        if (lua_pcall(L, 1, 0, -3) == LUA_OK) {
            char lerr[600];
            /* Whatever a case did, every member's ledger must still add up to its balances. */
            if (session_check_ledgers(c->s, lerr, sizeof lerr)) {
                printf("FAIL %s: %s\n     %s\n", name, cname, lerr);
                c->failed++;
            } else {
                printf("ok   %s: %s\n", name, cname);
                c->passed++;
            }
        } else {
            printf("FAIL %s: %s\n     %s\n", name, cname, lua_tostring(L, -1));
            c->failed++;
        }
        print_warnings(c, L);
        if (!c->s->own_redis)
            session_wipe(c->s);
        lua_settop(L, 1);
    }
    lua_close(L);
}

static int is_spec(const char *name)
{
    size_t n = strlen(name);
    return n > 9 && strcmp(name + n - 9, "_test.lua") == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collects spec files under path (a file or a folder, recursively) into *list. */
static void collect(const char *path, char ***list, size_t *n)
{
    struct stat st;
    DIR *d;
    struct dirent *de;
    if (stat(path, &st))
        return;
    if (S_ISREG(st.st_mode)) {
        *list = realloc(*list, (*n + 1) * sizeof **list);
        (*list)[(*n)++] = strdup(path);
        return;
    }
    if (!S_ISDIR(st.st_mode) || !(d = opendir(path)))
        return;
    while ((de = readdir(d))) {
        char sub[4096];
        if (de->d_name[0] == '.')
            continue;
        snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
        if (stat(sub, &st))
            continue;
        if (S_ISDIR(st.st_mode) || is_spec(de->d_name))
            collect(sub, list, n);
    }
    closedir(d);
}

int cmd_test(int argc, char **argv)
{
    static const struct option longs[] = {{"redis", required_argument, 0, 'r'},
                                          {"redis-cluster", required_argument, 0, 'C'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    const char *redis = NULL;
    char **files = NULL;
    size_t nfiles = 0;
    session s;
    spec_ctx c = {0};
    int opt;

    while ((opt = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (opt) {
        case 'r':
            redis = optarg;
            break;
        case 'C':
            redis = session_cluster_addr(optarg);
            break;
        case 'h':
            printf("usage: punch test [--redis ADDR | --redis-cluster SEEDS] [FILE_OR_DIR...]   "
                   "(default: scripts examples)\n");
            return 0;
        default:
            return 2;
        }
    }
    if (optind == argc) {
        collect("scripts", &files, &nfiles);
        collect("examples", &files, &nfiles);
    }
    for (int i = optind; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st)) {
            fprintf(stderr, "punch test: %s: no such file or folder\n", argv[i]);
            return 2;
        }
        collect(argv[i], &files, &nfiles);
    }
    qsort(files, nfiles, sizeof *files, cmp_str);
    if (nfiles == 0) {
        fprintf(stderr, "punch test: no *_test.lua specs found\n");
        return 2;
    }
    pc_log_set_level(PC_LOG_ERROR);
    if (session_open(&s, redis)) {
        fprintf(stderr, "punch test: no redis (install redis-server, or give --redis)\n");
        return 2;
    }
    c.s = &s;
    c.b.s = &s;
    c.b.front = &spec_front;
    c.b.owner = &c;
    c.b.event_as_is = 1; /* the prelude names every field, id and member */
    for (size_t i = 0; i < nfiles; i++) {
        run_spec_file(&c, files[i]);
        free(files[i]);
    }
    free(files);
    session_close(&s);
    if (c.warnings)
        printf("%d passed, %d failed, %d warning%s\n", c.passed, c.failed, c.warnings,
               c.warnings == 1 ? "" : "s");
    else
        printf("%d passed, %d failed\n", c.passed, c.failed);
    return c.failed ? 1 : 0;
}
