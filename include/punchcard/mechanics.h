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

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mechset mechset;

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

/*
 * {"version", "files": [...], "mechanics": [{"name", "file", "on": [...],
 *  "active"?, "control"?}]} (a campaign window and a control group, as
 * declared); new reference.
 */
json_t *mechset_describe(const mechset *set);

/*
 * The program's experiments (`experiment "name" {...}`): {name: {"control" (a
 * percentage), "control_bp" (per ten thousand), "spend"?}}, borrowed from the
 * set; NULL when none is declared.
 */
json_t *mechset_experiments(const mechset *set);

/*
 * The program's offers (`offer "name" {...}`, docs/mechanics.md "Offers and
 * promo codes"): {name: {"offer", "code"?, "personal", "from"?, "to"? (ms),
 * "tz", "min_order"?, "percent" or "amount", "once_per_member",
 * "renew_every"?, "cap"?, "valid_for"?, "prefix"?, "description"?}},
 * borrowed from the set; NULL when none is declared.
 */
json_t *mechset_offers(const mechset *set);

/*
 * The draws, budgets and boards the scripts name with a literal:
 * {"draw"|"budget"|"board": {name: true}} (borrowed; NULL when none was read).
 */
json_t *mechset_named(const mechset *set);

/* 1 when some mechanic reacts to events of this type. */
int mechset_handles(const mechset *set, const char *type);

/*
 * The live set of a scripts folder, hot-reloaded: inotify on the folder, a short
 * debounce, a full compile into a fresh state, and an atomic swap only when the
 * whole set compiled. On error the previous set keeps serving and the error is
 * kept for GET /v1/mechanics. Safe to read from several threads.
 */
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
 *  {"message", "file", "line", "at"}, "history": [{"version", "loaded_at",
 *  "files"}] of the last 20 versions loaded, newest first}; new reference.
 */
json_t *mech_holder_describe(mech_holder *h);

/* Reload attempts of every holder of the process since it started: live, and failed. */
void mech_reload_counts(uint64_t *ok, uint64_t *failed);

/* One mechanic's counters across the process, by name (mech_stats()). */
typedef struct mech_stat {
    char name[65];
    uint64_t runs;   /* runs that returned (skipped by a campaign or control group: not) */
    uint64_t errors; /* runs that failed: a Lua error, a budget, deadline or memory kill */
    uint64_t lua_ns; /* time inside Lua, waits for Redis excluded */
} mech_stat;

/* Copies up to n mechanics' counters into out; returns how many. */
size_t mech_stats(mech_stat *out, size_t n);

/*
 * The holder's last load, as the program's shared history records it
 * (GET /v1/mechanics "history"): {"key": "ok:VERSION" | "err:DIGEST", "entry":
 * {"loaded_at", "ok", "version", "files", "digests": {file: first 12 hex of
 * its SHA-256}, "error"}}; NULL when nothing was tried yet or out of memory.
 * The caller owns it.
 */
json_t *mech_holder_last_load(mech_holder *h);

/* Optional: called (on the watching loop) after every reload attempt. */
void mech_holder_on_reload(mech_holder *h, void (*fn)(void *arg, int ok, const char *msg),
                           void *arg);

#endif
