/*
 * A compiled set of mechanics: loading a scripts folder into a fresh sandboxed
 * state, validating it, and deciding one event with it. The one place that
 * lists the parts of the API.
 */
#include "lua-internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

/* The API, subject by subject: each part adds its globals and its member methods. */
static const luart_part api_parts[] = {
    {luart_core_globals, luart_core_methods},     {luart_money_globals, luart_money_methods},
    {luart_game_globals, luart_game_methods},     {luart_campaign_globals, NULL},
    {luart_offers_globals, luart_offers_methods}, {luart_close_globals, NULL},
};
#define NPARTS (sizeof api_parts / sizeof *api_parts)

static void set_free(mechset *set)
{
    if (set->L)
        luart_close_state(set);
    json_decref(set->currencies);
    json_decref(set->tiers);
    json_decref(set->experiments);
    json_decref(set->offers);
    json_decref(set->offer_codes);
    json_decref(set->offer_pending);
    json_decref(set->named);
    free(set->timezone);
    for (size_t i = 0; i < set->nmechs; i++) {
        free(set->mechs[i].name);
        free(set->mechs[i].file);
        for (int j = 0; j < set->mechs[i].non; j++)
            free(set->mechs[i].on[j]);
        free(set->mechs[i].on);
        json_decref(set->mechs[i].settings);
    }
    free(set->mechs);
    for (size_t i = 0; i < set->nfiles; i++)
        free(set->files[i]);
    free(set->files);
    free(set->file_sha);
    free(set);
}

/*
 * The draws, budgets and boards a script names with a literal (m:draw("lucky",
 * m:budget('bonus', m:score("orders"), into set->named: GET /v1/draws and the
 * others list them before their first use. A name built at run time is not
 * seen here (the store lists it at its first use). Out of memory: fewer names.
 */
static void note_names(mechset *set, const char *text, size_t len)
{
    static const struct {
        const char *call, *kind;
    } calls[] = {{":draw(", "draw"}, {":budget(", "budget"}, {":score(", "board"}};
    if (!set->named && !(set->named = json_pack("{s:{}, s:{}, s:{}}", "draw", "budget", "board")))
        return;
    for (size_t c = 0; c < sizeof calls / sizeof *calls; c++) {
        size_t cl = strlen(calls[c].call);
        for (const char *p = text; p && p + cl < text + len;) {
            const char *hit = memmem(p, (size_t)(text + len - p), calls[c].call, cl), *q, *end;
            char name[PC_TYPE_MAX + 1];
            if (!hit)
                break;
            p = hit + cl;
            for (q = p; q < text + len && (*q == ' ' || *q == '\t'); q++)
                ;
            if (q >= text + len || (*q != '"' && *q != '\''))
                continue;
            end = memchr(q + 1, *q, (size_t)(text + len - q - 1));
            if (!end || (size_t)(end - q - 1) > PC_TYPE_MAX)
                continue;
            memcpy(name, q + 1, (size_t)(end - q - 1));
            name[end - q - 1] = '\0';
            if (pc_valid_name(name))
                json_object_set_new(json_object_get(set->named, calls[c].kind), name, json_true());
        }
    }
}

json_t *mechset_named(const mechset *set)
{
    return set->named;
}

mechset *mechset_ref(mechset *set)
{
    atomic_fetch_add(&set->refs, 1);
    return set;
}

void mechset_unref(mechset *set)
{
    if (set && atomic_fetch_sub(&set->refs, 1) == 1)
        set_free(set);
}

const char *mechset_version(const mechset *set)
{
    return set->version;
}

/* Runs one file's top level in its own _ENV, under the budget. */
static int load_one(mechset *set, const mech_source *src, pc_error *err)
{
    lua_State *L = set->L;
    mech_run load = {.set = set, .co = L, .co_ref = LUA_NOREF};
    char chunk[300];
    int rc;

    snprintf(chunk, sizeof chunk, "@%s", src->name);
    set->loading_file = src->name;
    *(mech_run **)lua_getextraspace(L) = &load;
    rc = luaL_loadbufferx(L, src->text, src->len, chunk, "t");
    if (rc == LUA_OK) {
        luart_push_env(L);
        lua_setupvalue(L, -2, 1);
        luart_arm(&load, 1);
        rc = lua_pcall(L, 0, 0, 0);
        /* Disarmed first: a stopped run may not allocate, and the message needs memory. */
        luart_arm(&load, 0);
        if (rc == LUA_ERRMEM && load.killed == LUART_KILL_NONE)
            load.killed = LUART_KILL_MEMORY;
        if (load.killed != LUART_KILL_NONE) {
            if (rc != LUA_OK)
                lua_pop(L, 1);
            lua_pushfstring(L, "%s: %s", src->name, luart_kill_reason(&load));
            rc = LUA_ERRRUN;
        }
    }
    *(mech_run **)lua_getextraspace(L) = NULL;
    set->loading_file = NULL;
    if (rc != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        size_t n = strlen(src->name);
        if (!msg)
            msg = "error object is not a string";
        /* Every load error names its file, even "not enough memory". */
        if (strncmp(msg, src->name, n) == 0 && msg[n] == ':')
            pc_fail(err, 422, "script_error", "%s", msg);
        else
            pc_fail(err, 422, "script_error", "%s: %s", src->name, msg);
        lua_pop(L, 1);
        return -1;
    }
    return 0;
}

mechset *mechset_compile(const mech_source *sources, size_t n, const mech_limits *lim,
                         pc_error *err)
{
    mechset *set = calloc(1, sizeof *set);
    char hex[65];
    size_t total = 0;
    char *all;

    if (!set) {
        pc_fail(err, 500, "internal", "out of memory");
        return NULL;
    }
    atomic_init(&set->refs, 1);
    set->currencies = json_object();
    set->member_ref = LUA_NOREF;
    set->lim.instructions = lim && lim->instructions ? lim->instructions : 1000000;
    set->lim.memory = lim && lim->memory ? lim->memory : 64u << 20;
    set->lim.deadline_ms = lim && lim->deadline_ms ? lim->deadline_ms : 100;
    set->files = calloc(n ? n : 1, sizeof *set->files);
    set->file_sha = calloc(n ? n : 1, sizeof *set->file_sha);
    set->L = luart_new_state(set, api_parts, NPARTS);
    if (!set->files || !set->file_sha || !set->L) {
        pc_fail(err, 500, "internal", "out of memory");
        goto err;
    }
    set->member_ref = luart_member_ref(set->L, api_parts, NPARTS);

    /*
     * The version digests names and texts, each prefixed by its length, so any
     * change of the set changes it and no two sets run together alike.
     */
    for (size_t i = 0; i < n; i++)
        total += 2 * 20 + strlen(sources[i].name) + sources[i].len;
    all = malloc(total + 1);
    if (!all) {
        pc_fail(err, 500, "internal", "out of memory");
        goto err;
    }
    total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(sources[i].name);
        total += (size_t)sprintf(all + total, "%zu:", nl);
        memcpy(all + total, sources[i].name, nl);
        total += nl;
        total += (size_t)sprintf(all + total, "%zu:", sources[i].len);
        memcpy(all + total, sources[i].text, sources[i].len);
        total += sources[i].len;
    }
    pc_sha256_hex(all, total, hex);
    free(all);
    memcpy(set->version, hex, 12);
    set->version[12] = '\0';

    for (size_t i = 0; i < n; i++) {
        if (!(set->files[i] = strdup(sources[i].name))) {
            pc_fail(err, 500, "internal", "out of memory");
            goto err;
        }
        pc_sha256_hex(sources[i].text, sources[i].len, hex);
        memcpy(set->file_sha[i], hex, 12);
        set->file_sha[i][12] = '\0';
        set->nfiles++;
        if (load_one(set, &sources[i], err))
            goto err;
        note_names(set, sources[i].text, sources[i].len);
    }
    lua_gc(set->L, LUA_GCCOLLECT);
    set->mem_after_gc = set->mem_used;
    return set;
err:
    set_free(set);
    return NULL;
}

static int is_mechanic_file(const char *name)
{
    size_t n = strlen(name);
    if (name[0] == '.' || n < 5 || strcmp(name + n - 4, ".lua") != 0)
        return 0;
    return !(n >= 9 && strcmp(name + n - 9, "_test.lua") == 0);
}

/*
 * The text of a script file, NULL when it cannot be read or is not a regular
 * file: a FIFO or a device named *.lua must not block the loop that reloads
 * (opened without blocking, checked before the first read).
 */
static char *read_script(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    char *text = NULL;
    size_t got = 0;
    ssize_t n = 0;
    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (text = malloc((size_t)st.st_size + 1))) {
        /* A file that grows meanwhile is read as far as its size then; the next reload sees more.
         */
        while (got < (size_t)st.st_size && (n = read(fd, text + got, (size_t)st.st_size - got)) > 0)
            got += (size_t)n;
        text[got] = '\0';
        *len = got;
        if (got < (size_t)st.st_size && n < 0) { /* a read error: not half a script */
            free(text);
            text = NULL;
        }
    }
    close(fd);
    return text;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

mechset *mechset_load_dir(const char *dir, const mech_limits *lim, pc_error *err)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char **names = NULL;
    mech_source *src = NULL;
    size_t n = 0, cap = 0;
    mechset *set = NULL;

    if (!d) {
        pc_fail(err, 500, "script_error", "cannot open scripts folder %s", dir);
        return NULL;
    }
    while ((de = readdir(d))) {
        char path[4096];
        struct stat st;
        if (!is_mechanic_file(de->d_name))
            continue;
        /* Only regular files (or links to them): a FIFO is skipped, never opened. */
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (stat(path, &st) || !S_ISREG(st.st_mode))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn)
                goto oom;
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name)))
            goto oom;
        n++;
    }
    closedir(d);
    d = NULL;
    qsort(names, n, sizeof *names, cmp_str);
    src = calloc(n ? n : 1, sizeof *src);
    if (!src)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        src[i].name = names[i];
        src[i].text = read_script(path, &src[i].len);
        if (!src[i].text) {
            pc_fail(err, 500, "script_error", "%s: cannot read the file (or not a regular file)",
                    names[i]);
            goto out;
        }
    }
    set = mechset_compile(src, n, lim, err);
    goto out;
oom:
    pc_fail(err, 500, "internal", "out of memory");
out:
    if (d)
        closedir(d);
    for (size_t i = 0; i < n; i++) {
        if (src)
            free((char *)src[i].text);
        free(names[i]);
    }
    free(src);
    free(names);
    return set;
}

json_t *mechset_describe(const mechset *set)
{
    json_t *files = json_array(), *mechs = json_array();
    for (size_t i = 0; i < set->nfiles; i++)
        json_array_append_new(files, json_string(set->files[i]));
    for (size_t i = 0; i < set->nmechs; i++) {
        json_t *on = json_array();
        for (int j = 0; j < set->mechs[i].non; j++)
            json_array_append_new(on, json_string(set->mechs[i].on[j]));
        json_t *m = json_pack("{s:s, s:s, s:o}", "name", set->mechs[i].name, "file",
                              set->mechs[i].file, "on", on);
        if (set->mechs[i].settings)
            json_object_update(m, set->mechs[i].settings);
        json_array_append_new(mechs, m);
    }
    json_t *d =
        json_pack("{s:s, s:o, s:o}", "version", set->version, "files", files, "mechanics", mechs);
    if (d && set->experiments)
        json_object_set(d, "experiments", set->experiments);
    return d;
}

static int subscribed(const luart_mechanic *d, const char *type)
{
    for (int j = 0; j < d->non; j++)
        if (strcmp(d->on[j], type) == 0)
            return 1;
    return 0;
}

int mechset_handles(const mechset *set, const char *type)
{
    for (size_t i = 0; i < set->nmechs; i++)
        if (subscribed(&set->mechs[i], type))
            return 1;
    return 0;
}

/* After a mechanic's run returned: its outcomes, its trace line. */
static void after_mechanic(lua_State *L, mech_run *run, int base, size_t before)
{
    /* A script that caught the budget error with pcall is still stopped. */
    if (run->killed != LUART_KILL_NONE)
        luaL_error(L, "%s", luart_kill_reason(run));
    luart_collect_outcomes(L, base, run);
    luart_check_caps(L, run, 0, 0); /* outcomes the model added itself (earn, badges...) */
    lua_settop(L, 1);
    if (!run->skipped) {
        int64_t now = run->lua_ns + luart_clock_ns() - run->resume_ns;
        atomic_fetch_add_explicit(&run->cur->stat->runs, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&run->cur->stat->lua_ns, (uint_fast64_t)(now - run->mech_at_ns),
                                  memory_order_relaxed);
    }
    if (run->m->trace && run->skipped)
        json_array_append_new(run->m->trace,
                              json_pack("{s:s, s:s, s:b, s:s}", "mechanic", run->cur->name, "file",
                                        run->cur->file, "ran", 0, "reason", run->skipped));
    else if (run->m->trace) {
        json_t *t =
            json_pack("{s:s, s:s, s:b, s:I}", "mechanic", run->cur->name, "file", run->cur->file,
                      "ran", 1, "outcomes", (json_int_t)(run->m->nouts - before));
        /* reason(): why it gave nothing; said while giving something, it is kept too. */
        if (t && run->reason[0])
            json_object_set_new(t, "reason", json_string(run->reason));
        json_array_append_new(run->m->trace, t);
    }
    run->skipped = NULL;
    run->reason[0] = '\0';
}

/*
 * The body of an event's coroutine: the mechanics subscribed to the event,
 * in order. Written with continuations (lua_callk), so that a mechanic may
 * yield to wait for a global operation and be resumed later.
 *   stack: [1] the event table, then during a call: [2] the outcome count before it
 */
static int run_loop(lua_State *L, int status, lua_KContext k)
{
    mech_run *run = luart_run_of(L);
    mechset *set = run->set;

    if (k) /* resumed (or returned) from a mechanic's run */
        after_mechanic(L, run, 3, (size_t)lua_tointeger(L, 2));
    while (run->next < set->nmechs) {
        const luart_mechanic *d = &set->mechs[run->next++];
        if (run->closing && d != run->only)
            continue;
        if (!subscribed(d, run->ev->type)) {
            if (run->m->trace)
                json_array_append_new(run->m->trace,
                                      json_pack("{s:s, s:s, s:b, s:s}", "mechanic", d->name, "file",
                                                d->file, "ran", 0, "reason",
                                                "not subscribed to this event type"));
            continue;
        }
        run->cur = d;
        run->mech_at_ns = run->lua_ns + luart_clock_ns() - run->resume_ns;
        run->reason[0] = '\0';
        lua_pushinteger(L, (lua_Integer)run->m->nouts);
        lua_rawgeti(L, LUA_REGISTRYINDEX, d->run_ref);
        lua_pushvalue(L, 1);
        if (run->closing)
            lua_pushnil(L); /* a close is about no member */
        else
            lua_rawgeti(L, LUA_REGISTRYINDEX, set->member_ref);
        lua_callk(L, 2, LUA_MULTRET, 1, run_loop);
        after_mechanic(L, run, 3, (size_t)lua_tointeger(L, 2));
    }
    return 0;
}

static int run_main(lua_State *L)
{
    mech_run *run = luart_run_of(L);
    lua_settop(L, 0);
    luart_push_event(L, run->ev);
    return run_loop(L, LUA_OK, 0);
}

/*
 * The event's coroutine, kept alive by a registry reference: both allocate,
 * so they run protected (a state at its memory cap must fail the event, not
 * panic the process).
 */
static int new_thread(lua_State *L)
{
    mech_run *run = lua_touserdata(L, 1);
    run->co = lua_newthread(L);
    run->co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

mech_run *mech_run_start(mechset *set, const pc_event *ev, member_state *m)
{
    mech_run *run = calloc(1, sizeof *run);
    if (!run)
        return NULL;
    run->set = mechset_ref(set);
    run->ev = ev;
    run->m = m;
    run->co_ref = LUA_NOREF;
    run->max_outcomes = MECH_MAX_OUTCOMES;
    run->max_keys = MECH_MAX_KEYS;
    if (set->nidle > 0) {
        /* A coroutine that ran an event to its end: its stack is empty, it starts anew. */
        set->nidle--;
        run->co = set->idle_co[set->nidle];
        run->co_ref = set->idle_ref[set->nidle];
        *(mech_run **)lua_getextraspace(run->co) = run;
        lua_pushcfunction(run->co, run_main);
        return run;
    }
    lua_pushcfunction(set->L, new_thread);
    lua_pushlightuserdata(set->L, run);
    if (lua_pcall(set->L, 1, 0, 0) != LUA_OK) {
        lua_pop(set->L, 1);
        run->co_ref = LUA_NOREF; /* luaL_ref comes last: when it failed, there is no ref */
        mech_run_free(run);
        return NULL;
    }
    *(mech_run **)lua_getextraspace(run->co) = run;
    lua_pushcfunction(run->co, run_main);
    return run;
}

mech_run *mech_run_start_close(mechset *set, const pc_event *ev, member_state *scratch, size_t i)
{
    mech_run *run;
    if (i >= set->nmechs || !luart_close_type(set->mechs[i].on[0], NULL))
        return NULL;
    if (!(run = mech_run_start(set, ev, scratch)))
        return NULL;
    run->closing = 1;
    run->only = &set->mechs[i];
    return run;
}

int mechset_close_at(const mechset *set, size_t i, const char **name, int *per)
{
    const luart_mechanic *d;
    if (i >= set->nmechs)
        return -1;
    d = &set->mechs[i];
    if (d->non != 1 || !luart_close_type(d->on[0], per))
        return 0;
    *name = d->name;
    return 1;
}

const char *mechset_timezone(const mechset *set)
{
    return set->timezone ? set->timezone : "UTC";
}

void mech_run_free(mech_run *run)
{
    if (!run)
        return;
    if (run->co_ref != LUA_NOREF) {
        mechset *set = run->set;
        if (run->ended_ok && set->nidle < LUART_IDLE_THREADS && lua_status(run->co) == LUA_OK) {
            /* Kept for the next event: a thread per event costs its allocation and its GC. */
            lua_settop(run->co, 0);
            *(mech_run **)lua_getextraspace(run->co) = NULL;
            set->idle_co[set->nidle] = run->co;
            set->idle_ref[set->nidle] = run->co_ref;
            set->nidle++;
        } else {
            luaL_unref(set->L, LUA_REGISTRYINDEX, run->co_ref);
        }
        /*
         * The next event must start with the memory its rules need. A run
         * stopped by the memory cap leaves the state full of its garbage,
         * and Lua collects garbage in an emergency only for its own
         * allocations: a luaL_Buffer (string.rep, table.concat, gsub,
         * string.format...) asks the allocator directly and fails at once.
         * So after a kill, or past half the cap with a quarter of the cap
         * grown since the last full collection, collect now, with the dead
         * coroutine unreferenced (a kept one holds nothing). (Not at every
         * event past half the cap: a set that keeps that much alive would pay
         * a full collection each time.)
         */
        if (run->killed != LUART_KILL_NONE ||
            (set->mem_used > set->lim.memory / 2 &&
             set->mem_used > set->mem_after_gc + set->lim.memory / 4)) {
            lua_gc(set->L, LUA_GCCOLLECT);
            set->mem_after_gc = set->mem_used;
        }
    }
    json_decref(run->req.args);
    json_decref(run->reply);
    mechset_unref(run->set);
    free(run);
}

int mech_run_step(mech_run *run, pc_error *err)
{
    lua_State *co = run->co;
    int nres = 0, rc;

    luart_arm(run, 1);
    run->resume_ns = luart_clock_ns();
    rc = lua_resume(co, run->set->L, 0, &nres);
    run->lua_ns += luart_clock_ns() - run->resume_ns;
    luart_arm(run, 0);
    if (rc == LUA_ERRMEM && run->killed == LUART_KILL_NONE)
        run->killed = LUART_KILL_MEMORY;
    if (rc == LUA_YIELD && run->waiting && run->killed == LUART_KILL_NONE) {
        lua_pop(co, nres);
        return MECH_WAIT;
    }
    if (rc == LUA_OK && run->killed == LUART_KILL_NONE) {
        member_finish(run->m);
        run->ended_ok = 1;
        return MECH_DONE;
    }
    if (run->cur) {
        atomic_fetch_add_explicit(&run->cur->stat->errors, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&run->cur->stat->lua_ns,
                                  (uint_fast64_t)(run->lua_ns - run->mech_at_ns),
                                  memory_order_relaxed);
    }
    {
        const char *who = run->cur ? run->cur->name : "event";
        if (run->killed == LUART_KILL_CAP)
            pc_fail(err, 422, "event_too_large", "%s: %s (%s)", who, luart_kill_reason(run),
                    run->cur ? run->cur->file : "-");
        else if (run->killed != LUART_KILL_NONE)
            pc_fail(err, 422, "mechanic_error", "%s: %s (%s)", who, luart_kill_reason(run),
                    run->cur ? run->cur->file : "-");
        else if (run->rejected[0])
            pc_fail(err, 422, "rejected", "%s", run->rejected);
        else if (rc == LUA_YIELD)
            pc_fail(err, 422, "mechanic_error", "%s: yielded outside a global operation", who);
        else {
            const char *msg = lua_tostring(co, -1);
            pc_fail(err, 422, "mechanic_error", "%s: %s", who,
                    msg ? msg : "error object is not a string");
        }
    }
    /* A dead coroutine is not resumed again; the next event gets a fresh one. */
    return MECH_ERROR;
}

void mech_run_set_caps(mech_run *run, size_t max_outcomes, size_t max_keys)
{
    run->max_outcomes = max_outcomes ? max_outcomes : MECH_MAX_OUTCOMES;
    run->max_keys = max_keys ? max_keys : MECH_MAX_KEYS;
}

const mech_request *mech_run_request(const mech_run *run)
{
    return run->waiting ? &run->req : NULL;
}

void mech_run_reply(mech_run *run, json_t *result, const char *error)
{
    json_decref(run->reply);
    run->reply = result ? json_incref(result) : json_null();
    snprintf(run->reply_err, sizeof run->reply_err, "%s", error ? error : "");
    run->waiting = 0;
}

int mechset_run(mechset *set, const pc_event *ev, member_state *m, pc_error *err)
{
    mech_run *run = mech_run_start(set, ev, m);
    int rc;
    if (!run)
        return pc_fail(err, 500, "internal", "out of memory");
    rc = mech_run_step(run, err);
    if (rc == MECH_WAIT) {
        pc_fail(err, 422, "mechanic_error",
                "%s: global operation %s needs the engine (use mech_run_step)",
                run->cur ? run->cur->name : "event", run->req.op);
        rc = MECH_ERROR;
    }
    mech_run_free(run);
    return rc == MECH_DONE ? 0 : -1;
}

json_t *mechset_experiments(const mechset *set)
{
    return set->experiments;
}

json_t *mechset_offers(const mechset *set)
{
    return set->offers;
}

const char *mechset_experiment_group(const char *exp, json_t *decl, const char *member)
{
    return luart_experiment_group(exp, json_integer_value(json_object_get(decl, "control_bp")),
                                  member);
}

int mechset_tier_rank(const mechset *set, const char *tier)
{
    return luart_tier_rank(set, tier);
}
