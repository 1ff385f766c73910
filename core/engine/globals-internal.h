/*
 * Private to globals.c and game_ops.c: the claims an event holds, the
 * index of unconfirmed claims, and the game's operations (draws, budgets,
 * referrals) and effects (leaderboards, events for another member).
 *
 * Claim ids are "<member>/<event id>/<op>/<resource>" ("dry/" first for a
 * dry run): event ids are unique per member only. '/' is in neither.
 *
 * Unconfirmed claims: before a reservation, "<op>|<resource>|<claim id>" is
 * added to the sorted set NS:claims (score: ms). Confirming removes it;
 * releasing gives the resource back and removes it. What is left there (the
 * punchd died, or Redis failed between reservation and answer) is swept:
 * after claim_age_ms, a claim whose event has a stored response
 * (NS:{member}:ev:<id>) is kept, any other is released, unless a retry
 * touched it meanwhile (each reservation that finds its claim refreshes
 * its time, checked atomically by the release).
 */
#ifndef PUNCHCARD_GLOBALS_INTERNAL_H
#define PUNCHCARD_GLOBALS_INTERNAL_H

#include "globals.h"
#include "store/store-internal.h"
#include "punchcard/engine.h"

#include <event2/event.h>

#define CLAIM_ID_MAX (2 * PC_ID_MAX + 200)

/* A claim this event made: enough to confirm or release it later. */
typedef struct claim {
    char op[32];
    char resource[PC_ID_MAX + 32];
    char id[CLAIM_ID_MAX];
    int attempt; /* the last decide attempt that asked for it */
    int indexed; /* listed in NS:claims (confirm removes it) */
} claim;

struct globals_event {
    globals *g;
    char member[PC_ID_MAX + 1];
    char event_id[PC_ID_MAX + 1]; /* the real id, also in dry runs (a draw rolls the same) */
    int dry;
    claim *claims;
    int nclaims, cap;
    int attempt;
    int ended;
};

struct globals {
    store *store;
    char ns[64];
    engine *engine;            /* for effects that send another member an event */
    struct event *sweep_timer; /* NULL when not sweeping */
    int64_t claim_age_ms;      /* unconfirmed claims older than this are swept */
    int sweeping;
    int refs; /* 1 for the owner + 1 per callback in flight that uses g */
    int dead; /* globals_free() was called; the last callback frees */
};

/* Keeps g alive across a callback; globals_drop() returns 1 when the callback must stop. */
void globals_hold(globals *g);
int globals_drop(globals *g);

/* Finds or adds the claim (op, resource) of this attempt. NULL on out of memory. */
claim *globals_remember(globals_event *ge, const char *op, const char *resource);

/* Lists c in NS:claims (pipelined before its reservation; fire and forget). */
void globals_index_add(globals *g, claim *c);

/* An NS:claims entry "<op>|<resource>|<claim id>"; adding and removing one (fire and forget). */
void globals_index_entry(const char *op, const char *resource, const char *id, char *out, size_t n);
void globals_index_put(globals *g, const char *entry);
void globals_index_del(globals *g, const char *entry);

/*
 * game_ops.c: a referral's follow-up (the referrer's event) still to be
 * delivered is listed as "deliver|<friend>|<claim id>" from the moment the
 * friend's event holds the referral. Delivering sends the referrer's event
 * (id "ref:<friend>", so sending twice applies once) and removes the entry
 * once punchd got an answer that is not 5xx. The sweeper calls this for an
 * entry whose friend's event committed.
 */
void game_deliver(globals *g, const char *friend_id, const char *claim_id, const char *entry);

/* game_ops.c: performs op "draw", "budget" or "referral"; 0 when op is not one of them. */
int game_op_call(globals *g, globals_event *ge, const mech_request *req, globals_done_fn *done,
                 void *arg);

/*
 * game_ops.c: gives back claim_id of op on resource; with min_age_ms > 0 only
 * when the claim was not touched for that long. fn gets an integer reply:
 * 1 released, 0 nothing to release, -1 touched too recently. 0 when op is
 * not a game op (fn is not called).
 */
int game_op_release(globals *g, const char *op, const char *resource, const char *claim_id,
                    int64_t min_age_ms, store_reply_fn *fn, void *arg);

/* game_ops.c: applies a game effect ("leaderboard", "event"); 0 when not one. */
int game_effect(globals *g, const pc_event *ev, json_t *effect);

#endif
