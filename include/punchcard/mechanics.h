/*
 * Mechanics: the program's Lua scripts, compiled into one sandboxed Lua state
 * (a "set") that decides events. A set is immutable once loaded and reference
 * counted, so a hot reload can swap in a new set while events that started on
 * the old one finish on it.
 */
#ifndef PUNCHCARD_MECHANICS_H
#define PUNCHCARD_MECHANICS_H

#include "punchcard/common.h"
#include "punchcard/event.h"
#include "punchcard/member.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mechset mechset;
typedef struct mech_run mech_run;

/*
 * A global operation a mechanic asked for (a prize pool, a global counter, a
 * budget): shared by all members, so the engine does it at once in Redis and
 * the mechanic waits for the result. op names the operation; args is owned
 * by the run.
 */
typedef struct mech_request {
    char op[32];
    json_t *args;
} mech_request;

enum mech_step { MECH_DONE = 0, MECH_WAIT = 1, MECH_ERROR = -1 };
typedef struct mech_limits {
    uint64_t instructions; /* per event, all mechanics together; 0 = 1,000,000 */
    size_t memory;         /* bytes per Lua state; 0 = 64 MiB */
    int deadline_ms;       /* wall clock per event; 0 = 100 */
} mech_limits;

/* One script to compile: a file name (for messages) and its text. */
typedef struct mech_source {
    const char *name;
    const char *text;
    size_t len;
} mech_source;

/*
 * Compiles sources (in the given order) into a new set and validates it.
 * Returns the set (one reference, the caller's) or NULL with err filled:
 * err->message reads "file.lua:LINE: message".
 */
mechset *mechset_compile(const mech_source *sources, size_t n, const mech_limits *lim,
                         pc_error *err);

/*
 * Loads every *.lua in dir except *_test.lua, in name order, and compiles it.
 * Returns NULL with err filled on a read or compile error.
 */
mechset *mechset_load_dir(const char *dir, const mech_limits *lim, pc_error *err);

mechset *mechset_ref(mechset *set);
void mechset_unref(mechset *set);

/* The version: the first 12 hex digits of the SHA-256 of the files' names and texts. */
const char *mechset_version(const mechset *set);

/* {"version", "files": [...], "mechanics": [{"name", "file", "on": [...]}]}; new reference. */
json_t *mechset_describe(const mechset *set);

/* The rank of tier in the program's `tiers {...}` (0 = lowest), or -1 when unknown. */
int mechset_tier_rank(const mechset *set, const char *tier);

/* 1 when some mechanic reacts to events of this type. */
int mechset_handles(const mechset *set, const char *type);

/*
 * Runs the mechanics subscribed to ev->type against m, in file then
 * declaration order. now_ms is the event's time. On success m holds the
 * changes and outcomes; on failure (status 422 with "file:line: message")
 * m's changes must be discarded by the caller.
 */
int mechset_run(mechset *set, const pc_event *ev, member_state *m, pc_error *err);

/*
 * The asynchronous form of mechset_run(), for mechanics that wait on global
 * operations. mech_run_start() prepares a run (a reference on set, ev and m
 * borrowed until mech_run_free()); mech_run_step() runs until the mechanics
 * finish (MECH_DONE), fail (MECH_ERROR, err filled) or wait (MECH_WAIT: read
 * mech_run_request(), then answer with mech_run_reply() and step again).
 */
mech_run *mech_run_start(mechset *set, const pc_event *ev, member_state *m);
int mech_run_step(mech_run *run, pc_error *err);
const mech_request *mech_run_request(const mech_run *run);
/* result: borrowed (may be NULL for nil); error: when not NULL, the mechanic's call fails. */
void mech_run_reply(mech_run *run, json_t *result, const char *error);
void mech_run_free(mech_run *run);

/*
 * The live set of a scripts folder, hot-reloaded: inotify on the folder, a short
 * debounce, a full compile into a fresh state, and an atomic swap only when the
 * whole set compiled. On error the previous set keeps serving and the error is
 * kept for GET /v1/mechanics. Safe to read from several threads.
 */
#ifndef PUNCHCARD_MECH_HOLDER
#define PUNCHCARD_MECH_HOLDER
struct event_base;
typedef struct mech_holder mech_holder;

/*
 * Loads dir now and, when base is not NULL, watches it from that loop.
 * A failed first load still returns a holder: it has no set (events get 503)
 * and reports the error until the folder is mended.
 */
mech_holder *mech_holder_new(struct event_base *base, const char *dir, const mech_limits *lim);
void mech_holder_free(mech_holder *h);

/* The current set with a reference the caller drops with mechset_unref(), or NULL. */
mechset *mech_holder_acquire(mech_holder *h);

/* Recompiles now; returns 0 when the new set is live. */
int mech_holder_reload(mech_holder *h);

/*
 * {"dir", "version", "loaded_at", "files", "mechanics", "error": null or
 *  {"message", "file", "line", "at"}}; new reference.
 */
json_t *mech_holder_describe(mech_holder *h);

/* Optional: called (on the watching loop) after every reload attempt. */
void mech_holder_on_reload(mech_holder *h, void (*fn)(void *arg, int ok, const char *msg),
                           void *arg);
#endif

#endif
