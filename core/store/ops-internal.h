/*
 * The store's typed operations: what the engine asks of Redis, in the
 * engine's terms (a member's state, a commit, a claim on a prize pool, the
 * expiry schedule ...), answered through typed callbacks. Keys, commands,
 * scripts and replies stay inside core/store/; this header is what the engine
 * (and core/store/reads-internal.h, the read side) may see.
 *
 * Every operation:
 *  - takes the store, the key namespace ns and its own arguments (borrowed,
 *    copied before it returns);
 *  - calls its callback exactly once, possibly before it returns (Redis not
 *    connected), with err NULL on success; on failure the other arguments are
 *    zero or NULL. What a callback is handed (strings, arrays) is borrowed:
 *    valid during the call only;
 *  - takes a NULL callback as "fire and forget": a failure is then logged.
 * A store error has a kind (store_status): store_error_fail() turns it into
 * the caller's answer.
 */
#ifndef PUNCHCARD_STORE_OPS_INTERNAL_H
#define PUNCHCARD_STORE_OPS_INTERNAL_H

#include "punchcard/common.h"
#include "punchcard/store.h"

#include <stddef.h>
#include <stdint.h>

/* What went wrong with an operation. */
typedef enum store_status {
    STORE_UNAVAILABLE = 1, /* not connected, timed out, connection lost, Redis loading or busy:
                              nothing to fix but to retry later */
    STORE_FULL,            /* Redis is out of memory (maxmemory) and refuses writes */
    STORE_FAILED,          /* Redis refused: a script's refusal, a key of the wrong type, a reply
                              of an unexpected shape. A bug or a damaged keyspace: logged */
} store_status;

typedef struct store_error {
    store_status status;
    const char *op;      /* the operation ("commit", "draw_take" ...), static */
    const char *message; /* what Redis or the store said; borrowed */
} store_error;

/*
 * Fills err from se (the one mapping of store failures to answers):
 * STORE_UNAVAILABLE -> 503 "unavailable", STORE_FULL -> 507 "storage_full",
 * STORE_FAILED -> 500 "internal" (the store logged the detail). Returns -1.
 */
int store_error_fail(const store_error *se, pc_error *err);

/* The callbacks' shapes. */
typedef void store_done_fn(void *arg, const store_error *err);
typedef void store_int_fn(void *arg, const store_error *err, int64_t value);
/* text NULL: absent. */
typedef void store_text_fn(void *arg, const store_error *err, const char *text, size_t len);
typedef void store_list_fn(void *arg, const store_error *err, size_t n, const char *const *items);

/* A hash read whole: n strings, field and value in turn, with their lengths. */
typedef struct store_pairs {
    size_t n;
    const char *const *v;
    const size_t *len;
} store_pairs;

/* ---- one member's transaction (ops_member.c) ---- */

/*
 * The load of an event's member in one round trip: when the event was
 * applied already, its stored response (and nothing else); otherwise the
 * member's state and, for a reversal, the stored response of the event it
 * reverses (NULL when unknown).
 */
typedef struct store_loaded {
    const char *stored; /* the event was applied: its stored response */
    size_t stored_len;
    store_pairs state;
    const char *original;
    size_t original_len;
} store_loaded;
typedef void store_load_fn(void *arg, const store_error *err, const store_loaded *res);

/* original_event_id: for a reversal, the event it reverses; else NULL. */
void store_load_member(store *s, const char *ns, const char *member, const char *event_id,
                       const char *original_event_id, store_load_fn *fn, void *arg);

/*
 * A commit being written: every change of one event to its member, its
 * ledger entries and its stored response, applied by store_commit_send()
 * atomically, only when the member is still at version, and at most once per
 * event id.
 */
typedef struct store_commit store_commit;

/* NULL on out of memory. response: the event's answer, kept for ttl_s as its dedupe record. */
store_commit *store_commit_new(const char *ns, const char *member, const char *event_id,
                               int64_t version, const char *response, int ttl_s);
/* A field of the member's hash: set to value, or deleted when value is NULL. */
void store_commit_field(store_commit *c, const char *field, const char *value);
/* A webhook entry ("<id> <body>", ops_outbox.c) appended to the member's outbox. */
void store_commit_outbox(store_commit *c, const char *entry);
/* A ledger entry: begin, its fields (name, value) in order, end. */
void store_commit_entry_begin(store_commit *c);
void store_commit_entry_str(store_commit *c, const char *name, const char *value);
void store_commit_entry_int(store_commit *c, const char *name, int64_t value);
void store_commit_entry_end(store_commit *c);

enum store_commit_outcome {
    STORE_COMMITTED,      /* applied: version is the member's new version */
    STORE_APPLIED_BEFORE, /* the event id was applied already: stored is its response */
    STORE_VERSION_MOVED,  /* another writer moved the member on: state is what it left */
};
typedef struct store_committed {
    enum store_commit_outcome outcome;
    int64_t version;
    const char *stored;
    size_t stored_len;
    store_pairs state;
} store_committed;
typedef void store_commit_fn(void *arg, const store_error *err, const store_committed *res);

/* Sends the commit and frees c (a builder that ran out of memory fails with STORE_FAILED). */
void store_commit_send(store *s, store_commit *c, store_commit_fn *fn, void *arg);
/* Drops c unsent. */
void store_commit_free(store_commit *c);

/* 1 when event_id of member has a stored response (it was applied), else 0. */
void store_event_exists(store *s, const char *ns, const char *member, const char *event_id,
                        store_int_fn *fn, void *arg);

/* One field of a member's state hash (text NULL when absent). */
void store_member_field(store *s, const char *ns, const char *member, const char *field,
                        store_text_fn *fn, void *arg);

/* ---- shared resources, reserved under claims (ops_global.c) ----
 *
 * A claim id (opaque here; the engine makes one per event and resource)
 * names one event's reservation; reserving twice under one claim answers the
 * same and touches the claim. peek: a dry run, which looks and reserves nothing.
 * Releases answer 1 (released), 0 (nothing to release) or -1 (with
 * min_age_ms > 0: touched more recently than that, so kept).
 */

/* A global counter, incremented by `by` once per claim: value after this claim's increment. */
void store_counter_reserve(store *s, const char *ns, const char *counter, const char *claim_id,
                           int64_t by, int peek, store_int_fn *fn, void *arg);
/* Gives the increment back when nobody counted since (a value is never handed out twice). */
void store_counter_release(store *s, const char *ns, const char *counter, const char *claim_id,
                           store_int_fn *fn, void *arg);

/* A draw's epoch, and the prize this claim won before (NULL when none). */
typedef struct store_draw_state {
    int64_t epoch;
    const char *prize;
} store_draw_state;
typedef void store_draw_fn(void *arg, const store_error *err, const store_draw_state *st);
void store_draw_read(store *s, const char *ns, const char *draw, const char *claim_id,
                     store_draw_fn *fn, void *arg);

/* One prize a draw can give: its pool per period (pool < 0: unlimited). */
typedef struct store_prize {
    const char *name;
    const char *period; /* the pool's period key part ("2026-W07", "all" ...) */
    const char *refill; /* how the pool refills, kept in the draw's meta for its readers */
    int64_t pool;
    int64_t ttl_s; /* the period pool's lifetime; 0 = none */
} store_prize;

/*
 * Lists a draw, budget or board ("draw", "budget", "board") in the program's
 * catalogue (GET /v1/draws ...), the first time this connection uses it; fire
 * and forget. store_catalog_forget(): after a wipe, note every name again.
 */
void store_catalog_note(store *s, const char *ns, const char *kind, const char *name);
void store_catalog_forget(store *s);

/*
 * Adds shared codes (normalized) of offer through the API, the hash holding at
 * most cap: text = JSON {"added", "held", "taken": [...], "full": [...]}
 * (codes_add.lua; an empty list may come as {}).
 */
void store_codes_add(store *s, const char *ns, const char *offer, const char *const *codes,
                     size_t n, int64_t cap, store_text_fn *fn, void *arg);

/*
 * Records a load of the scripts (entry: JSON) in the program's history,
 * keeping the last max, unless the newest entry has load_key already:
 * value 1 recorded, 0 not.
 */
void store_history_add(store *s, const char *ns, const char *load_key, const char *entry, int max,
                       store_int_fn *fn, void *arg);

/* Takes one prize, trying prizes[] in order: text = the prize won, or NULL (every pool empty). */
void store_draw_take(store *s, const char *ns, const char *draw, const char *claim_id,
                     int64_t epoch, int peek, const char *tz, const store_prize *prizes, size_t n,
                     store_text_fn *fn, void *arg);
void store_draw_release(store *s, const char *ns, const char *draw, const char *claim_id,
                        int64_t min_age_ms, store_int_fn *fn, void *arg);

/* All of amount within max for the budget's period, or nothing: 1 granted, 0 refused. */
void store_budget_take(store *s, const char *ns, const char *budget, const char *period,
                       const char *claim_id, int64_t amount, int64_t max, int64_t ttl_s, int peek,
                       store_int_fn *fn, void *arg);
void store_budget_release(store *s, const char *ns, const char *budget, const char *claim_id,
                          int64_t min_age_ms, store_int_fn *fn, void *arg);

/*
 * One use of offer within cap (0: none), adding off to its discount granted:
 * 1 granted, 0 used up. An offer's release gives a use (or a return) back.
 */
void store_offer_take(store *s, const char *ns, const char *offer, const char *claim_id,
                      int64_t cap, int64_t off, int peek, store_int_fn *fn, void *arg);
/*
 * A reversal gives back the use member's event used_event made of offer,
 * under the reversal's claim_id: 1 given back, 0 when that use was given back
 * before (by any reversal; remembered mark_ttl_s).
 */
void store_offer_return(store *s, const char *ns, const char *offer, const char *member,
                        const char *used_event, const char *claim_id, int64_t off,
                        int64_t mark_ttl_s, int peek, store_int_fn *fn, void *arg);
void store_offer_release(store *s, const char *ns, const char *offer, const char *claim_id,
                         int64_t min_age_ms, store_int_fn *fn, void *arg);

/*
 * The first claim on friend as a referred member holds it for good: 1 held
 * by this claim, 0 by another. type: the event the referrer will be sent.
 */
void store_referral_take(store *s, const char *ns, const char *friend_id, const char *referrer,
                         const char *type, const char *claim_id, int peek, store_int_fn *fn,
                         void *arg);
void store_referral_release(store *s, const char *ns, const char *friend_id, const char *claim_id,
                            int64_t min_age_ms, store_int_fn *fn, void *arg);

/* Who referred friend: each NULL when unknown. */
typedef struct store_referral {
    const char *referrer, *type, *claim;
} store_referral;
typedef void store_referral_fn(void *arg, const store_error *err, const store_referral *ref);
void store_referral_read(store *s, const char *ns, const char *friend_id, store_referral_fn *fn,
                         void *arg);

/*
 * The index of unconfirmed claims (NS:claims): entries (opaque to the store)
 * with the time they were listed; range: the oldest entries listed at or
 * before max_ms, at most limit.
 */
void store_claims_put(store *s, const char *ns, const char *entry, int64_t at_ms, store_done_fn *fn,
                      void *arg);
void store_claims_del(store *s, const char *ns, const char *entry, store_done_fn *fn, void *arg);
void store_claims_range(store *s, const char *ns, int64_t max_ms, int limit, store_list_fn *fn,
                        void *arg);

/* ---- what a commit leaves behind: schedule, figures, boards (ops_effect.c) ---- */

/* A member's next due time on the schedule (NS:due); due_ms 0 takes the member off. */
void store_due_set(store *s, const char *ns, const char *member, int64_t due_ms, store_done_fn *fn,
                   void *arg);

/* The members due at or before max_ms, earliest first, at most limit. */
typedef struct store_due {
    const char *member;
    int64_t due_ms;
} store_due;
typedef void store_due_fn(void *arg, const store_error *err, size_t n, const store_due *due);
void store_due_range(store *s, const char *ns, int64_t max_ms, int limit, store_due_fn *fn,
                     void *arg);

/*
 * Adds amount to the program's figure "<currency>:<kind>" of day (YYYY-MM-DD),
 * of all time and, when partner is not NULL, of partner's day. Fire and
 * forget (a failure is logged): figures are a report, the ledger is the truth.
 */
void store_stats_add(store *s, const char *ns, const char *day, const char *partner,
                     const char *currency, const char *kind, int64_t amount);

/*
 * An experiment's figures (NS:{exp:X}:figures): adds by to field (HINCRBY;
 * the float form HINCRBYFLOAT, for sums of squares that outgrow 64 bits).
 * Fire and forget, like the program's figures.
 */
void store_experiment_add(store *s, const char *ns, const char *experiment, const char *field,
                          int64_t by);
void store_experiment_add_float(store *s, const char *ns, const char *experiment, const char *field,
                                double by);

/*
 * Adds score to member on board's period (kept ttl_s, 0 = for good), and keeps
 * the board's period kind and time zone for its readers.
 */
void store_board_add(store *s, const char *ns, const char *board, const char *period,
                     const char *member, int64_t score, int64_t ttl_s, const char *per,
                     const char *tz, store_done_fn *fn, void *arg);

/* ---- period closes and the replay hold (ops_close.c) ---- */

/*
 * A close job: a period close (NS:{close:MECHANIC}:PERIOD, a hash in its own
 * slot, with NS:{close:MECHANIC}:last beside it: the end of the mechanic's
 * latest period closed) or a broadcast (NS:{bcast:ID}:job).
 */
typedef struct store_job {
    int broadcast;      /* 1: a broadcast (name: its id); 0: a period close */
    const char *name;   /* the mechanic, or the broadcast's id */
    const char *period; /* a close's period id */
    int64_t end_ms;     /* a close's period end (kept in the marker when done); 0: no marker */
} store_job;

/*
 * The job taken by owner: text "done", "busy", "mine" or "plan:<JSON>"
 * (close_claim.lua). stale_ms: how long an owner's silence keeps others out;
 * ttl_s: how long the hash lives. A period close that is not its mechanic's
 * latest (latest 0) is "done" when the mechanic closed no period before
 * (nothing to catch up) or closed a later one.
 */
void store_close_claim(store *s, const char *ns, const store_job *job, const char *owner,
                       int64_t now_ms, int64_t stale_ms, int64_t ttl_s, int latest,
                       store_text_fn *fn, void *arg);
/* Stores the job's plan once: text "plan:<the stored plan>" or "lost". */
void store_close_plan(store *s, const char *ns, const store_job *job, const char *owner,
                      const char *plan, int64_t now_ms, store_text_fn *fn, void *arg);
/*
 * The owner touches the job (done 0) or ends it (done 1, kept ttl_s; a close
 * moves its marker on), writing its counts of events sent and skipped (not in
 * the segment): 1, or 0 when lost.
 */
void store_close_mark(store *s, const char *ns, const store_job *job, const char *owner, int done,
                      int64_t now_ms, int64_t ttl_s, int64_t sent, int64_t skipped,
                      store_int_fn *fn, void *arg);

/*
 * A broadcast made once (bcast_create.lua): body is the request as text,
 * plan what the job sends. Text "new", "same" (made before with this body) or
 * "mismatch" (made before with another body).
 */
void store_bcast_create(store *s, const char *ns, const char *id, const char *body,
                        const char *plan, int64_t now_ms, int64_t ttl_s, store_text_fn *fn,
                        void *arg);
/* The index of broadcasts not done: add (at_ms: when made), remove (fire and forget), the
 * max oldest. */
void store_bcast_open(store *s, const char *ns, const char *id, int64_t at_ms, store_done_fn *fn,
                      void *arg);
void store_bcast_shut(store *s, const char *ns, const char *id);
void store_bcast_list(store *s, const char *ns, size_t max, store_list_fn *fn, void *arg);
/* The newest max broadcasts' ids (the index keeps BCAST_RECENT_MAX), newest first. */
#define BCAST_RECENT_MAX 100
void store_bcast_recent(store *s, const char *ns, size_t max, store_list_fn *fn, void *arg);
/* Cancels a broadcast (bcast_cancel.lua): text "cancelled", "done" or "missing". */
void store_bcast_cancel(store *s, const char *ns, const char *id, int64_t now_ms, int64_t ttl_s,
                        store_text_fn *fn, void *arg);

/*
 * The replay hold (NS:{replay:hold}:until): while it exists, the sweepers
 * run no due member and close no period (historic events are arriving).
 * store_replay_hold() sets it for ms; store_replay_held() answers 1 or 0.
 */
void store_replay_hold(store *s, const char *ns, int64_t ms, store_done_fn *fn, void *arg);
void store_replay_held(store *s, const char *ns, store_int_fn *fn, void *arg);

/* ---- webhooks: outboxes and their delivery (ops_outbox.c) ----
 *
 * A member's outbox NS:{member}:outbox is a list of entries "<id> <body>"
 * the commit appends to (store_commit_outbox()); NS:{member}:outbox:at holds
 * the deliverer's lease and the tries of the first entry. The index of
 * members with entries to deliver, NS:outbox (NS:{outbox:K} on a cluster),
 * is scored by the time of the next try: 2 x ms, +1 for a re-check of an
 * outbox found empty (store_outbox_mark() brings those to now). The program's own outbox is the
 * member STORE_PROGRAM_OUTBOX's. Recent attempts and dead letters live in
 * NS:{wh:program}:log (list) and :dead (hash id -> record).
 */

/* The pseudo-member whose outbox holds the program's own events (never a member id). */
#define STORE_PROGRAM_OUTBOX "!program"

/* Lists member in the index before a commit that writes to its outbox (outbox_mark.lua). */
void store_outbox_mark(store *s, const char *ns, const char *member, int64_t now_ms,
                       store_done_fn *fn, void *arg);
/* The members listed due at or before max_ms, earliest first, at most limit (due_ms: the score). */
void store_outbox_range(store *s, const char *ns, int64_t max_ms, int limit, store_due_fn *fn,
                        void *arg);
/* How many members are listed. */
void store_outbox_count(store *s, const char *ns, store_int_fn *fn, void *arg);
/* Takes member off the index if its score is still score: 1 removed, 0 kept. */
void store_outbox_unindex(store *s, const char *ns, const char *member, int64_t score,
                          store_int_fn *fn, void *arg);
/* Lists member to be tried at at_ms; recheck: only to see the outbox is still empty. */
void store_outbox_retry_at(store *s, const char *ns, const char *member, int64_t at_ms, int recheck,
                           store_done_fn *fn, void *arg);

/* A member's first entry under this deliverer's lease (outbox_head.lua). */
enum store_outbox_status { STORE_OUTBOX_LEASED = 0, STORE_OUTBOX_HEAD = 1, STORE_OUTBOX_EMPTY = 2 };
typedef struct store_outbox_head {
    enum store_outbox_status status;
    const char *entry; /* "<id> <body>" */
    size_t len;
    int64_t tries;
    const char *ok; /* "name,name": the endpoints that have it */
} store_outbox_entry;
typedef void store_outbox_head_fn(void *arg, const store_error *err, const store_outbox_entry *h);
void store_outbox_head(store *s, const char *ns, const char *member, const char *owner,
                       int64_t now_ms, int64_t lease_ms, store_outbox_head_fn *fn, void *arg);

/*
 * Ends a try of the first entry id: done (delivered or dead-lettered: taken
 * off) or not (a try counted; ok kept). release ends the lease. Answers the
 * entries left and the tries, or left -1 when id is no longer first.
 */
typedef void store_outbox_ack_fn(void *arg, const store_error *err, int64_t left, int64_t tries);
void store_outbox_ack(store *s, const char *ns, const char *member, const char *owner,
                      const char *id, int done, const char *ok, int release,
                      store_outbox_ack_fn *fn, void *arg);

/*
 * Appends entry to member's outbox (the caller lists the member first);
 * once_ttl_s > 0: only when id was not appended within that many seconds
 * (1 appended, 0 seen before).
 */
void store_outbox_push(store *s, const char *ns, const char *member, const char *id,
                       const char *entry, int64_t once_ttl_s, store_int_fn *fn, void *arg);

/* The log of recent attempts: record added in front, keep at most keep. Fire and forget. */
void store_webhooks_log(store *s, const char *ns, const char *record, int keep);
/* The most recent records of the log, newest first. */
void store_webhooks_recent(store *s, const char *ns, int limit, store_list_fn *fn, void *arg);
/* Dead letters: put (record is JSON), get one (text NULL: none), delete (1, 0), all of them. */
void store_webhooks_dead_put(store *s, const char *ns, const char *id, const char *record,
                             store_done_fn *fn, void *arg);
void store_webhooks_dead_get(store *s, const char *ns, const char *id, store_text_fn *fn,
                             void *arg);
void store_webhooks_dead_del(store *s, const char *ns, const char *id, store_int_fn *fn, void *arg);
void store_webhooks_dead_all(store *s, const char *ns, store_list_fn *fn, void *arg);

#endif
