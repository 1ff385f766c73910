/*
 * Hot reload of the scripts folder. The watcher runs on one libevent loop;
 * workers on other threads only take references to the current set, under a
 * mutex held for a pointer copy.
 */
#include "lua-internal.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#define RELOAD_DEBOUNCE_MS 50
/* Loaded versions GET /v1/mechanics lists under "history" (the console shows them). */
#define RELOAD_HISTORY 20

/* Every holder's loads, for /metrics (mech_reload_counts()). */
static atomic_uint_fast64_t reloads_ok, reloads_failed;

void mech_reload_counts(uint64_t *ok, uint64_t *failed)
{
    *ok = atomic_load_explicit(&reloads_ok, memory_order_relaxed);
    *failed = atomic_load_explicit(&reloads_failed, memory_order_relaxed);
}

struct mech_holder {
    pthread_mutex_t lock;
    char *dir;
    mech_limits lim;
    mechset *cur;      /* guarded by lock */
    int64_t loaded_at; /* ms; guarded by lock */
    pc_error err;      /* last attempt's error; guarded by lock */
    int has_err;
    int64_t err_at;
    json_t *history; /* [{version, loaded_at, files}], newest first; guarded by lock */
    int inotify_fd;
    struct event *watch_ev;
    struct event *debounce;
    void (*on_reload)(void *, int, const char *);
    void *on_reload_arg;
};

/*
 * Puts set first in the holder's history of loaded versions, when its version
 * is not the newest there already; keeps the last RELOAD_HISTORY. Called with
 * the lock held. Out of memory: the history misses this load, nothing else.
 */
static void history_note(mech_holder *h, const mechset *set, int64_t at)
{
    json_t *files = json_array(), *entry;
    json_t *newest = json_array_get(h->history, 0);
    char ts[32];

    if (!h->history || !files ||
        (newest && !strcmp(json_string_value(json_object_get(newest, "version")), set->version))) {
        json_decref(files);
        return;
    }
    for (size_t i = 0; i < set->nfiles; i++)
        json_array_append_new(files, json_string(set->files[i]));
    pc_time_format(at, ts, sizeof ts);
    entry = json_pack("{s:s, s:s, s:o}", "version", set->version, "loaded_at", ts, "files", files);
    if (entry && json_array_insert_new(h->history, 0, entry) == 0)
        while (json_array_size(h->history) > RELOAD_HISTORY)
            json_array_remove(h->history, RELOAD_HISTORY);
}

int mech_holder_reload(mech_holder *h)
{
    pc_error err = {0};
    mechset *set = mechset_load_dir(h->dir, &h->lim, &err), *old = NULL;

    pthread_mutex_lock(&h->lock);
    if (set) {
        old = h->cur;
        h->cur = set;
        h->loaded_at = pc_now_ms();
        h->has_err = 0;
        history_note(h, set, h->loaded_at);
    } else {
        h->err = err;
        h->has_err = 1;
        h->err_at = pc_now_ms();
    }
    pthread_mutex_unlock(&h->lock);
    if (set) {
        if (!old || strcmp(old->version, set->version)) {
            char files[24], mechs[24];
            snprintf(files, sizeof files, "%zu", set->nfiles);
            snprintf(mechs, sizeof mechs, "%zu", set->nmechs);
            pc_log_event(PC_LOG_INFO, "mechanics_loaded", "version", set->version, "files", files,
                         "mechanics", mechs, "dir", h->dir, PC_LOG_END);
        }
        atomic_fetch_add_explicit(&reloads_ok, 1, memory_order_relaxed);
    } else {
        pc_log_event(PC_LOG_ERROR, "mechanics_reload_failed", "error", err.message, "serving",
                     h->cur ? "previous" : "none", "dir", h->dir, PC_LOG_END);
        atomic_fetch_add_explicit(&reloads_failed, 1, memory_order_relaxed);
    }
    mechset_unref(old);
    if (h->on_reload)
        h->on_reload(h->on_reload_arg, set != NULL, set ? set->version : err.message);
    return set ? 0 : -1;
}

static void on_debounce(evutil_socket_t fd, short what, void *arg)
{
    mech_holder_reload(arg);
}

static void on_inotify(evutil_socket_t fd, short what, void *arg)
{
    mech_holder *h = arg;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    struct timeval tv = {0, RELOAD_DEBOUNCE_MS * 1000};
    int relevant = 0;
    ssize_t n;

    while ((n = read(fd, buf, sizeof buf)) > 0) {
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ie = (struct inotify_event *)p;
            size_t len = ie->len ? strlen(ie->name) : 0;
            if (len >= 4 && strcmp(ie->name + len - 4, ".lua") == 0 && ie->name[0] != '.')
                relevant = 1;
            p += sizeof *ie + ie->len;
        }
    }
    /* Editors write a file in several steps: wait for the burst to end. */
    if (relevant)
        evtimer_add(h->debounce, &tv);
}

mech_holder *mech_holder_new(struct event_base *base, const char *dir, const mech_limits *lim)
{
    mech_holder *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    pthread_mutex_init(&h->lock, NULL);
    h->dir = strdup(dir);
    h->history = json_array();
    if (lim)
        h->lim = *lim;
    h->inotify_fd = -1;
    if (base) {
        h->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (h->inotify_fd < 0 || inotify_add_watch(h->inotify_fd, dir,
                                                   IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
                                                       IN_DELETE | IN_CREATE | IN_ATTRIB) < 0) {
            pc_log(PC_LOG_WARN, "mechanics: cannot watch %s (%s); hot reload is off", dir,
                   strerror(errno));
        } else {
            h->watch_ev = event_new(base, h->inotify_fd, EV_READ | EV_PERSIST, on_inotify, h);
            h->debounce = evtimer_new(base, on_debounce, h);
            event_add(h->watch_ev, NULL);
        }
    }
    mech_holder_reload(h);
    return h;
}

void mech_holder_free(mech_holder *h)
{
    if (!h)
        return;
    if (h->watch_ev)
        event_free(h->watch_ev);
    if (h->debounce)
        event_free(h->debounce);
    if (h->inotify_fd >= 0)
        close(h->inotify_fd);
    mechset_unref(h->cur);
    json_decref(h->history);
    pthread_mutex_destroy(&h->lock);
    free(h->dir);
    free(h);
}

mechset *mech_holder_acquire(mech_holder *h)
{
    mechset *set;
    pthread_mutex_lock(&h->lock);
    set = h->cur ? mechset_ref(h->cur) : NULL;
    pthread_mutex_unlock(&h->lock);
    return set;
}

/* Splits "file.lua:12: message" into its parts, when it has that shape. */
static json_t *error_json(const pc_error *err, int64_t at)
{
    char ts[32], file[256] = "";
    const char *msg = err->message, *c1 = strchr(msg, ':');
    long line = 0;
    json_t *j;

    pc_time_format(at, ts, sizeof ts);
    j = json_pack("{s:s, s:s}", "message", msg, "at", ts);
    if (c1 && (size_t)(c1 - msg) < sizeof file) {
        char *end;
        line = strtol(c1 + 1, &end, 10);
        if (end != c1 + 1 && *end == ':') {
            memcpy(file, msg, (size_t)(c1 - msg));
            file[c1 - msg] = '\0';
            json_object_set_new(j, "file", json_string(file));
            json_object_set_new(j, "line", json_integer(line));
        }
    }
    return j;
}

json_t *mech_holder_describe(mech_holder *h)
{
    json_t *j;
    char ts[32];
    pthread_mutex_lock(&h->lock);
    if (h->cur) {
        j = mechset_describe(h->cur);
        pc_time_format(h->loaded_at, ts, sizeof ts);
        json_object_set_new(j, "loaded_at", json_string(ts));
    } else {
        j = json_pack("{s:n, s:[], s:[], s:n}", "version", "files", "mechanics", "loaded_at");
    }
    json_object_set_new(j, "dir", json_string(h->dir));
    json_object_set_new(j, "error", h->has_err ? error_json(&h->err, h->err_at) : json_null());
    json_object_set_new(j, "history", h->history ? json_deep_copy(h->history) : json_array());
    pthread_mutex_unlock(&h->lock);
    return j;
}

json_t *mech_holder_last_load(mech_holder *h)
{
    json_t *entry = NULL, *files = json_array(), *digests = json_object(), *out = NULL;
    char ts[32], key[80], hex[65];
    pthread_mutex_lock(&h->lock);
    if (!files || !digests)
        goto done;
    if (h->has_err) {
        /* The same error seen again (another worker, a restart) is the same load. */
        pc_sha256_hex(h->err.message, strlen(h->err.message), hex);
        snprintf(key, sizeof key, "err:%.16s", hex);
        pc_time_format(h->err_at, ts, sizeof ts);
        entry =
            json_pack("{s:s, s:b, s:n, s:O, s:O, s:o}", "loaded_at", ts, "ok", 0, "version",
                      "files", files, "digests", digests, "error", error_json(&h->err, h->err_at));
    } else if (h->cur) {
        for (size_t i = 0; i < h->cur->nfiles; i++) {
            json_array_append_new(files, json_string(h->cur->files[i]));
            json_object_set_new(digests, h->cur->files[i], json_string(h->cur->file_sha[i]));
        }
        snprintf(key, sizeof key, "ok:%s", h->cur->version);
        pc_time_format(h->loaded_at, ts, sizeof ts);
        entry = json_pack("{s:s, s:b, s:s, s:O, s:O, s:n}", "loaded_at", ts, "ok", 1, "version",
                          h->cur->version, "files", files, "digests", digests, "error");
    }
    if (entry)
        out = json_pack("{s:s, s:o}", "key", key, "entry", entry);
done:
    pthread_mutex_unlock(&h->lock);
    json_decref(files);
    json_decref(digests);
    return out;
}

void mech_holder_on_reload(mech_holder *h, void (*fn)(void *arg, int ok, const char *msg),
                           void *arg)
{
    h->on_reload = fn;
    h->on_reload_arg = arg;
}
