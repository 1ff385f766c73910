/*
 * A member's state as one event sees it: the fields of the Redis hash
 * {ns}:{member}:state, read once, changed in memory by the mechanics, and
 * turned into one atomic commit. Nothing here talks to Redis.
 *
 * Field names in the hash (readable with redis-cli HGETALL):
 *   v             version, bumped by every commit
 *   b:<currency>  balance (integer)
 *   c:<counter>   counter (integer)
 *   g:<badge>     badge: when it was awarded (ms since the epoch)
 *   p:<prize>     how many times this prize was won
 *   t             tier name
 *   a:<name>      member attribute (PUT /v1/members/{id})
 *   pb:<currency> pending balance: earned, spendable after its return window
 *   l:<cur>:<n>   a lot of currency cur: "amount|remaining|spent|expires|avail|created|event"
 *                 (times in ms, 0 = never / at once); spending and expiry take the
 *                 soonest-expiring lots first
 *   ln:<cur>      the next lot number of cur
 *   w:<name>:<YYYYMM>  a monthly bucket of a rolling window (m:track)
 *   tf            the tier floor a person set (PUT /v1/members/{id})
 *   o:<key>       once-markers (m:once, m:once_per_year)
 *   due           when the next lot expires or is released, or a mechanic asked to wake (ms)
 *   s:<streak>:len|best|last|frz|fm  a streak: length, best, last hit (ms), freezes
 *                 left, month of the last freeze top-up (m:streak, m:freeze)
 *   gl:<badge> gp:<badge> gn:<badge> gt:<badge>  a levelled badge: level, progress,
 *                 next threshold, when the level was reached (ms) (m:badge_level)
 *   dw:<draw>     "<period id>|<wins>": the member's wins of a draw in its limit period
 */
#ifndef PUNCHCARD_MEMBER_H
#define PUNCHCARD_MEMBER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct member_field {
    char *name;  /* owned */
    char *value; /* owned; NULL once deleted */
    int dirty;   /* changed by this event */
} member_field;

/* One ledger line this event will append: one per (mechanic, currency, kind). */
typedef struct member_entry {
    char *mechanic;   /* owned */
    char *currency;   /* owned */
    const char *kind; /* static: NULL for earn/spend by mechanics, else "expire", "release", ... */
    int64_t delta;    /* change of the available balance */
    int64_t balance;  /* available balance after this entry */
    int64_t pending;  /* change of the pending balance (earned, not yet spendable) */
    json_t *outcome;  /* the outcome that reports it (borrowed from outcomes) */
} member_entry;

typedef struct member_state {
    char *id;        /* owned */
    int64_t version; /* as loaded; the commit expects it unchanged */
    member_field *fields;
    size_t nfields, capfields;
    member_entry *entries;
    size_t nentries, capentries;
    json_t *outcomes; /* owned array of outcome objects, in the order they happened */
    char *counted;    /* owned, "\n"-joined counters already counted by this event */
    json_t *trace;    /* owned; when not NULL, mechset_run() appends why each mechanic ran or not */
    json_t *effects;  /* owned array: global writes to do after the commit ({"op", ...}) */
} member_state;

/* Queues a global effect (stolen) to apply after this event's commit. NULL-safe; -1 on OOM. */
int member_add_effect(member_state *m, json_t *effect);

/* Creates an empty state for member id (version 0). NULL on out of memory. */
member_state *member_new(const char *id);
void member_free(member_state *m);

/* Loads fields from a flat [name, value, name, value...] array (HGETALL). -1 on bad data. */
int member_load_pairs(member_state *m, size_t n, const char *const *pairs, const size_t *lens);

/*
 * After a commit: the changes become the state at new_version (fields clean,
 * deleted ones gone, entries and outcomes dropped). 0, or -1 on out of memory.
 */
int member_settle(member_state *m, int64_t new_version);

/* A clean copy of m's fields and version (no changes, no outcomes), or NULL. */
member_state *member_clone(const member_state *m);

/* The value of a field, or NULL. */
const char *member_get(const member_state *m, const char *name);

/* The integer value of a field; 0 when absent. */
int64_t member_get_int(const member_state *m, const char *name);

/* Sets or (value NULL) deletes a field, marking it for the commit. -1 on out of memory. */
int member_set(member_state *m, const char *name, const char *value);
int member_set_int(member_state *m, const char *name, int64_t value);

/*
 * Adds delta to the balance of currency on behalf of mechanic, records the
 * ledger entry (merged per mechanic and currency) and its "stars" outcome.
 * Returns 0, or -1 with *err set: overflow, or a balance that would go negative.
 */
int member_add_balance(member_state *m, const char *mechanic, const char *currency, int64_t delta,
                       int64_t *balance_out, const char **err);

/* A balance movement of any kind (see member_move_balance). */
typedef struct member_move {
    const char *mechanic;
    const char *currency;
    const char *kind;   /* NULL: a mechanic's earn or spend (outcome "stars"); else the
                           outcome and ledger kind: "expire", "release", "redeem", "reverse" */
    int64_t delta;      /* change of the available balance */
    int64_t pending;    /* change of the pending balance */
    int allow_negative; /* a reversal may leave a debt that later earnings repay */
} member_move;

/* The general form of member_add_balance. 0, or -1 with *err set. */
int member_move_balance(member_state *m, const member_move *mv, int64_t *balance_out,
                        const char **err);

/*
 * Appends an outcome (stolen reference) as {"mechanic": mechanic, ...outcome}.
 * Returns the appended object (borrowed from m->outcomes), or NULL on out of memory.
 */
json_t *member_add_outcome(member_state *m, const char *mechanic, json_t *outcome);

/* Counts this event once in counter name: 1 if it was counted now, 0 if already. */
int member_count_once(member_state *m, const char *name);

/* Drops ledger entries (and their outcomes) whose merged delta came to 0. */
void member_finish(member_state *m);

/*
 * Renders the member for GET /v1/members/{id}: balances, badges, counters,
 * prizes, tier. Returns a new reference.
 */
json_t *member_to_json(const member_state *m);

#endif
