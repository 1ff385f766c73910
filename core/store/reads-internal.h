/*
 * The store's read side: what the engine's queries (core/engine/query.c) and
 * its administration (core/engine/admin.c) ask of Redis, in their terms: a
 * member's state and ledger, a draw's meta and pools, a leaderboard, the
 * program's figures, a global counter, the walk over every member, and the
 * few writes an operator makes (rotate or refill a draw, wipe a namespace).
 *
 * The conventions are those of ops-internal.h: every operation takes the
 * store, the key namespace ns and its own arguments (borrowed), and calls its
 * callback exactly once, possibly before it returns, with err NULL on
 * success; on failure the other arguments are zero or NULL. What a callback
 * is handed is borrowed: valid during the call only. fn is never NULL here.
 */
#ifndef PUNCHCARD_STORE_READS_INTERNAL_H
#define PUNCHCARD_STORE_READS_INTERNAL_H

#include "ops-internal.h"

#include <stddef.h>
#include <stdint.h>

/* A hash read whole; pairs->n is 0 for a hash that does not exist. */
typedef void store_pairs_fn(void *arg, const store_error *err, const store_pairs *pairs);

/* ---- members ---- */

/* A member's state hash (model/member-internal.h has its schema). */
void store_read_member(store *s, const char *ns, const char *member, store_pairs_fn *fn, void *arg);

/* One ledger entry: its stream id and its fields (name and value in turn). */
typedef struct store_entry {
    const char *id;
    store_pairs fields;
} store_entry;
typedef void store_entries_fn(void *arg, const store_error *err, size_t n,
                              const store_entry *entries);

/*
 * A member's ledger entries, newest first: from the entry `from` (NULL: the
 * newest), at most count of them (0: all).
 */
void store_read_ledger(store *s, const char *ns, const char *member, const char *from, int count,
                       store_entries_fn *fn, void *arg);

/*
 * One step of a walk over every member of ns that has a state: a batch of
 * member ids (a member may come twice), and the cursor of the next step;
 * next is "0" after the last step. Start with cursor "0".
 */
typedef void store_members_fn(void *arg, const store_error *err, const char *next, size_t n,
                              const char *const *members);
void store_read_members(store *s, const char *ns, const char *cursor, store_members_fn *fn,
                        void *arg);

/* How many members are due on the schedule at or before max_ms. */
void store_read_due_count(store *s, const char *ns, int64_t max_ms, store_int_fn *fn, void *arg);

/* ---- shared resources ---- */

/* A global counter's value: 0 when nobody counted in it yet. */
void store_read_counter(store *s, const char *ns, const char *counter, store_int_fn *fn, void *arg);

/* A draw's meta hash: epoch, wins, tz, pool:PRIZE, refill:PRIZE, won:PRIZE, secret:E ... */
void store_read_draw_meta(store *s, const char *ns, const char *draw, store_pairs_fn *fn,
                          void *arg);

/* A prize's pool in one period: found 0 when nobody drew in that period yet. */
typedef struct store_pool {
    int found;
    int64_t left, won;
} store_pool;
typedef void store_pool_fn(void *arg, const store_error *err, const store_pool *pool);
void store_read_pool(store *s, const char *ns, const char *draw, const char *prize,
                     const char *period, store_pool_fn *fn, void *arg);

/* An offer's uses hash: used, returned, discount (ops_global.c). */
void store_read_offer(store *s, const char *ns, const char *offer, store_pairs_fn *fn, void *arg);

/* A budget's log (budget_take.lua): used:PERIOD and max:PERIOD of its last periods. */
void store_read_budget_log(store *s, const char *ns, const char *budget, store_pairs_fn *fn,
                           void *arg);

/* A broadcast's hash NS:{bcast:ID}:job (body, plan, created, owner, t, sent, skipped, done). */
void store_read_broadcast(store *s, const char *ns, const char *id, store_pairs_fn *fn, void *arg);

/* An experiment's figures hash (keys-internal.h lists its fields). */
void store_read_experiment(store *s, const char *ns, const char *experiment, store_pairs_fn *fn,
                           void *arg);

/* The catalogue (ops_catalog.c): "draw:NAME" | "budget:NAME" | "board:NAME" -> first use (ms). */
void store_read_catalog(store *s, const char *ns, store_pairs_fn *fn, void *arg);

/* How many members scored on a board's period (ZCARD). */
void store_read_board_size(store *s, const char *ns, const char *board, const char *period,
                           store_int_fn *fn, void *arg);

/* The offer a shared code added through the API belongs to (text NULL: none). */
void store_read_shared_code(store *s, const char *ns, const char *code, store_text_fn *fn,
                            void *arg);

/* The scripts' last max loads, newest first: each a JSON entry (ops_catalog.c). */
void store_read_history(store *s, const char *ns, int max, store_list_fn *fn, void *arg);

/* A leaderboard's meta hash: per, tz. */
void store_read_board_meta(store *s, const char *ns, const char *board, store_pairs_fn *fn,
                           void *arg);

/* The best n scores of a board's period, best first. */
typedef struct store_score {
    const char *member;
    int64_t score;
} store_score;
typedef void store_scores_fn(void *arg, const store_error *err, size_t n, const store_score *top);
void store_read_board_top(store *s, const char *ns, const char *board, const char *period, int n,
                          store_scores_fn *fn, void *arg);

/* A member's place on a board's period: rank 0 is the best; -1 when the member has no score. */
typedef void store_rank_fn(void *arg, const store_error *err, int64_t rank, int64_t score);
void store_read_board_rank(store *s, const char *ns, const char *board, const char *period,
                           const char *member, store_rank_fn *fn, void *arg);

/*
 * The figures "<currency>:<kind>" -> amount of one day (YYYY-MM-DD), or of all
 * time when day is NULL; of partner's events only when partner is not NULL
 * (partners have days only).
 */
void store_read_stats(store *s, const char *ns, const char *partner, const char *day,
                      store_pairs_fn *fn, void *arg);

/* ---- an operator's writes ---- */

/* Ends a draw's epoch: value is the epoch that ended (the new one is value + 1). */
void store_draw_rotate(store *s, const char *ns, const char *draw, store_int_fn *fn, void *arg);

/* Publishes the secret of a draw's ended epoch and when it ended (at: RFC 3339). */
void store_draw_reveal(store *s, const char *ns, const char *draw, int64_t epoch,
                       const char *secret, const char *at, store_done_fn *fn, void *arg);

/*
 * Adds add prizes to prize's pool in period (kept ttl_s, 0 = for good): pool
 * found 0 when the draw has no pool for that prize, else left is what is left.
 */
void store_draw_refill(store *s, const char *ns, const char *draw, const char *prize,
                       const char *period, int64_t add, int64_t ttl_s, store_pool_fn *fn,
                       void *arg);

/*
 * One step of deleting every key of ns: deletes a batch and answers the
 * cursor of the next step (text), "0" after the last. Start with "0".
 */
void store_wipe_step(store *s, const char *ns, const char *cursor, store_text_fn *fn, void *arg);

#endif
