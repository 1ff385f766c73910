/*
 * A compiled set of mechanics: loading a scripts folder into a fresh sandboxed
 * state, validating it, and deciding one event with it.
 */
#include "lua-internal.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

static void set_free(mechset *set)
{
    if (set->L)
        lua_close(set->L);
    for (size_t i = 0; i < set->nmechs; i++) {
        free(set->mechs[i].name);
        free(set->mechs[i].file);
        for (int j = 0; j < set->mechs[i].non; j++)
            free(set->mechs[i].on[j]);
        free(set->mechs[i].on);
    }
    free(set->mechs);
    for (size_t i = 0; i < set->nfiles; i++)
        free(set->files[i]);
    free(set->files);
    free(set);
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
    char chunk[300];
    int rc;

    snprintf(chunk, sizeof chunk, "@%s", src->name);
    set->loading_file = src->name;
    rc = luaL_loadbufferx(L, src->text, src->len, chunk, "t");
    if (rc == LUA_OK) {
        sandbox_push_env(L);
        lua_setupvalue(L, -2, 1);
        sandbox_arm(set, 1);
        rc = lua_pcall(L, 0, 0, 0);
        if (rc == LUA_OK && set->killed != KILL_NONE) {
            lua_pushfstring(L, "%s: %s", src->name, sandbox_kill_reason(set));
            rc = LUA_ERRRUN;
        }
        sandbox_arm(set, 0);
    }
    set->loading_file = NULL;
    if (rc != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        pc_fail(err, 422, "script_error", "%s", msg ? msg : "error object is not a string");
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
    set->member_ref = LUA_NOREF;
    set->lim.instructions = lim && lim->instructions ? lim->instructions : 1000000;
    set->lim.memory = lim && lim->memory ? lim->memory : 64u << 20;
    set->lim.deadline_ms = lim && lim->deadline_ms ? lim->deadline_ms : 100;
    set->files = calloc(n ? n : 1, sizeof *set->files);
    set->L = sandbox_new_state(set);
    if (!set->files || !set->L) {
        pc_fail(err, 500, "internal", "out of memory");
        goto err;
    }
    set->member_ref = api_new_member_ref(set->L);

    /* The version digests names and texts, so any change of the set changes it. */
    for (size_t i = 0; i < n; i++)
        total += strlen(sources[i].name) + 1 + sources[i].len + 1;
    all = malloc(total + 1);
    if (!all) {
        pc_fail(err, 500, "internal", "out of memory");
        goto err;
    }
    total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(sources[i].name) + 1;
        memcpy(all + total, sources[i].name, nl);
        total += nl;
        memcpy(all + total, sources[i].text, sources[i].len);
        total += sources[i].len;
        all[total++] = '\0';
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
        set->nfiles++;
        if (load_one(set, &sources[i], err))
            goto err;
    }
    lua_gc(set->L, LUA_GCCOLLECT);
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
        if (!is_mechanic_file(de->d_name))
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
        src[i].text = pc_read_file(path, &src[i].len);
        if (!src[i].text) {
            pc_fail(err, 500, "script_error", "%s: cannot read the file", names[i]);
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
        json_array_append_new(mechs, json_pack("{s:s, s:s, s:o}", "name", set->mechs[i].name,
                                               "file", set->mechs[i].file, "on", on));
    }
    return json_pack("{s:s, s:o, s:o}", "version", set->version, "files", files, "mechanics",
                     mechs);
}

static int subscribed(const mechanic_def *d, const char *type)
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

/*
 * Everything of one event runs inside this protected function, so that no
 * Lua error (including one raised while building the event table or reading
 * a returned outcome) can escape to the panic handler.
 */
static int run_all(lua_State *L)
{
    mechset *set = mech_of(L);
    api_push_event(L, set->ev);
    int ev_idx = lua_gettop(L);
    json_t *trace = set->m->trace;
    for (size_t i = 0; i < set->nmechs; i++) {
        const mechanic_def *d = &set->mechs[i];
        if (!subscribed(d, set->ev->type)) {
            if (trace)
                json_array_append_new(
                    trace, json_pack("{s:s, s:s, s:b, s:s}", "mechanic", d->name, "file",
                                     d->file, "ran", 0, "reason", "not subscribed to this event type"));
            continue;
        }
        set->cur = d;
        int base = lua_gettop(L) + 1;
        size_t before = json_array_size(set->m->outcomes);
        lua_rawgeti(L, LUA_REGISTRYINDEX, d->run_ref);
        lua_pushvalue(L, ev_idx);
        lua_rawgeti(L, LUA_REGISTRYINDEX, set->member_ref);
        lua_call(L, 2, LUA_MULTRET);
        /* A script that caught the budget error with pcall is still stopped. */
        if (set->killed != KILL_NONE)
            return luaL_error(L, "%s", sandbox_kill_reason(set));
        api_collect_outcomes(L, base, set);
        lua_settop(L, ev_idx);
        if (trace)
            json_array_append_new(
                trace, json_pack("{s:s, s:s, s:b, s:I}", "mechanic", d->name, "file", d->file,
                                 "ran", 1, "outcomes",
                                 (json_int_t)(json_array_size(set->m->outcomes) - before)));
    }
    return 0;
}

int mechset_run(mechset *set, const pc_event *ev, member_state *m, pc_error *err)
{
    lua_State *L = set->L;
    int top = lua_gettop(L), rc;

    set->ev = ev;
    set->m = m;
    set->cur = NULL;
    sandbox_arm(set, 1);
    lua_pushcfunction(L, run_all);
    rc = lua_pcall(L, 0, 0, 0);
    sandbox_arm(set, 0);
    if (rc != LUA_OK || set->killed != KILL_NONE) {
        const char *msg = rc != LUA_OK ? lua_tostring(L, -1) : NULL;
        const char *who = set->cur ? set->cur->name : "event";
        if (set->killed != KILL_NONE)
            pc_fail(err, 422, "mechanic_error", "%s: %s (%s)", who, sandbox_kill_reason(set),
                    set->cur ? set->cur->file : "-");
        else
            pc_fail(err, 422, "mechanic_error", "%s: %s", who,
                    msg ? msg : "error object is not a string");
    } else {
        member_finish(m);
    }
    lua_settop(L, top);
    set->ev = NULL;
    set->m = NULL;
    set->cur = NULL;
    return rc == LUA_OK && set->killed == KILL_NONE ? 0 : -1;
}

uint64_t mechset_last_instructions(const mechset *set)
{
    return set->instr;
}
