/*
 * One event's life (docs/architecture.md, "The event transaction"): dedupe and load in
 * one round trip, decide in Lua, commit atomically with a version check,
 * respond. The reads (members, ledgers, draws, boards, figures) are in
 * punchcard/query.h.
 *
 * All calls are asynchronous on the store's loop. The done callback is called
 * exactly once, unless the call was cancelled; it may be called before the
 * submitting function returns (e.g. Redis unavailable), in which case that
 * function returns NULL.
 */
#ifndef PUNCHCARD_ENGINE_H
#define PUNCHCARD_ENGINE_H

#include "punchcard/event.h"
#include "punchcard/mechanics.h"
#include "punchcard/store.h"

#include <jansson.h>

typedef struct engine engine;
typedef struct engine_call engine_call;

typedef struct engine_config {
    const char *ns;              /* key namespace; NULL = "pc" */
    int dedupe_ttl_s;            /* how long an event id is remembered; 0 = 30 days */
    int max_attempts;            /* decide+commit attempts on version conflicts; 0 = 8 */
    int64_t (*clock)(void *arg); /* ms since the epoch: "now" of events without "at", of the
                                    sweeper and of every query; NULL = real time */
    void *clock_arg;
    size_t cache_members;     /* idle members whose state is kept; 0 = 100000 */
    int no_figures;           /* skip the program's figures and the expiry schedule (simulation:
                                 a throwaway namespace reports from the responses) */
    int64_t claim_timeout_ms; /* a claim on a shared resource still unconfirmed after this
                                 long is settled by the sweeper; 0 = 120000 */
    size_t max_response;      /* bytes of one event's response (its dedupe record); larger
                                 is refused, 422 event_too_large; 0 = 1 MiB */
    size_t max_outcomes;      /* outcomes of one event; 0 = 1000 */
    size_t max_keys;          /* shared keys one event may write (leaderboard scores, global
                                 operations); 0 = 256 */
    int send_rate;            /* events a period close sends per second; 0 = 1000 */
    int outbox;               /* write webhooks to the outboxes (punchcard/webhooks.h) */
    /* "points.expiring" this long before a lot expires; 0 = 7 days */
    int64_t expiring_notice_ms;
} engine_config;

/*
 * status: an HTTP status. body: a new reference the callee owns: the response,
 * or {"error": {"code", "message"}} (pc_error_json()). A Redis failure is 503
 * "unavailable" (retry), 507 "storage_full" (Redis out of memory) or 500
 * "internal" (Redis refused: see the log).
 */
typedef void engine_done_fn(void *arg, int status, json_t *body);

/*
 * The engine borrows s and h; they must outlive it. Free the store first (its
 * pending callbacks then find the engine alive), or let every call finish.
 */
engine *engine_new(store *s, mech_holder *h, const engine_config *cfg);
void engine_free(engine *e);

/* Applies an event exactly once. Takes ownership of ev's contents. */
engine_call *engine_submit(engine *e, pc_event *ev, engine_done_fn *done, void *arg);

enum engine_flags {
    ENGINE_DRY_RUN = 1, /* decide and answer, commit nothing ("dry_run": true) */
    ENGINE_EXPLAIN = 2, /* add "explain": [{"mechanic", "ran", "reason" | "outcomes", ...}] */
    /*
     * The sender's idempotency key: the id's dedupe record keeps the request's
     * digest (pc_event_digest()), and the id sent again with another request
     * is refused (422 idempotency_mismatch) instead of answered with the first.
     */
    ENGINE_IDEMPOTENT = 4,
    /*
     * The caller answers a committed event with engine_answer_text() and reads
     * engine_answer_kind(): its done gets body NULL then (the response is
     * written as text only, never built as jansson values). Errors, duplicates
     * and dry runs still come as a body.
     */
    ENGINE_ANSWER_TEXT = 8,
};

/*
 * Broadcasts (POST /v1/broadcasts): body {id, type, data?, segment?}
 * (borrowed) is validated and stored once (the same id with another body:
 * 422 idempotency_mismatch); the sweepers of every punchd then send it to
 * each member of the segment, once. Answers 202 with its progress (200 when
 * it existed). engine_get_broadcast(): its progress, or 404.
 */
void engine_make_broadcast(engine *e, const json_t *body, engine_done_fn *done, void *arg);
void engine_get_broadcast(engine *e, const char *id, engine_done_fn *done, void *arg);
/* The newest limit (1-100) broadcasts with their progress, newest first: {"broadcasts": [...]}. */
void engine_list_broadcasts(engine *e, int limit, engine_done_fn *done, void *arg);
/*
 * Cancels a broadcast not done: 200 with its progress (status "cancelled"; a
 * cancel again answers the same), 409 when it was done, 404 when unknown.
 * Members sent before keep their event; the sender stops at its next touch
 * (within a second).
 */
void engine_cancel_broadcast(engine *e, const char *id, engine_done_fn *done, void *arg);

/* engine_submit() with flags (enum engine_flags). */
engine_call *engine_submit_flags(engine *e, pc_event *ev, int flags, engine_done_fn *done,
                                 void *arg);

/*
 * Inside the done callback of engine_submit*(): the body's compact JSON text
 * (*len its length) when the engine wrote it already (the response a commit
 * stores for the event's duplicates), else NULL. Valid until done returns; a
 * caller that sends the body as text need not write it a second time.
 */
const char *engine_answer_text(const engine *e, size_t *len);

/*
 * Inside the done callback of an ENGINE_ANSWER_TEXT call given body NULL: how
 * many outcomes the committed event has, and its type in *type (NULL, and 0
 * outcomes, otherwise); engine_answer_kind(): the kind of its outcome i
 * ("stars", "prize"...), or NULL. Valid until done returns.
 */
size_t engine_answer_outcomes(const engine *e, const char **type);
const char *engine_answer_kind(const engine *e, size_t i);

/* The caller went away: done will not be called; the work itself completes. */
void engine_cancel(engine_call *c);

/* 1 when the engine's Redis is connected (for /healthz). */
int engine_redis_up(const engine *e);

/* The counts of the engine's Redis connection (for /metrics). */
void engine_redis_stats(const engine *e, store_stats *out);

/*
 * The sweeper: the engine's work that no request starts, on the engine's
 * loop and clock. Due members (whose lots expire or are released, or whose
 * "tick" mechanics are due) are sent an internal "tick" event through the
 * normal transaction, exactly once even when several punchd sweep at once;
 * claims on shared resources that no commit confirmed are settled after the
 * claim timeout. One sweeper per process is enough. Free it before the engine.
 */
typedef struct sweeper sweeper;

/* Sweeps due members every interval_ms (0: only on engine_sweep_now()), claims on a timer. */
sweeper *engine_sweeper_new(engine *e, int interval_ms);
void engine_sweeper_free(sweeper *sw);

/* Sweeps now (the REPL, after moving its clock). */
void engine_sweep_now(sweeper *sw);

/*
 * Starts the period closes (and broadcasts) due by the engine's clock now,
 * ticking no due member (punch test's t:close()); engine_sweeper_busy() says
 * when they are done.
 */
void engine_close_now(sweeper *sw);

/* Tick events sent so far. */
uint64_t engine_sweeper_ticks(const sweeper *sw);

/* 1 while the sweeper's last sweep is still at work (ticks or period closes in flight). */
int engine_sweeper_busy(const sweeper *sw);

/* What every sweeper of the process did so far (for /metrics). */
typedef struct engine_sweep_counts {
    uint64_t sweeps;           /* due sweeps made */
    uint64_t held;             /* due sweeps skipped under the replay hold */
    uint64_t closes_done;      /* period closes found done, or done here */
    uint64_t close_events;     /* events sent by period closes (and broadcasts) */
    uint64_t broadcasts;       /* broadcasts made by this punchd (POST /v1/broadcasts) */
    uint64_t broadcast_events; /* events sent by broadcasts (of close_events) */
} engine_sweep_counts;
void engine_sweep_stats(engine_sweep_counts *out);

/*
 * The replay hold: a history with old `at` is being replayed, so no sweeper
 * (of any punchd on this Redis and namespace) runs due members or closes
 * periods for the next hold_ms. done (may be NULL) is called once Redis
 * has it (ok 1) or could not take it (ok 0).
 */
typedef void engine_hold_fn(void *arg, int ok);
void engine_replay_hold(engine *e, int64_t hold_ms, engine_hold_fn *done, void *arg);

/*
 * Called with each tick's answer (status, body borrowed for the call) once it
 * is applied, for a front end that shows what the clock did (the REPL). A
 * tick found already applied (a duplicate) is not reported. fn NULL stops.
 */
typedef void engine_tick_fn(void *arg, const char *member, int status, json_t *body);
void engine_sweeper_watch(sweeper *sw, engine_tick_fn *fn, void *arg);

#endif
