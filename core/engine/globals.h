/*
 * Global operations: what mechanics ask of resources shared by all members
 * (prize pools, global counters, campaign budgets). They cannot share the
 * member's commit (another Redis Cluster slot), so each is reserved at once
 * under a claim id derived from the event id, idempotently, and after the
 * member's commit the claims are confirmed — or released when the event
 * failed. DESIGN.md, "The event transaction", step 4.
 *
 * A claim id is "<event id>/<op>/<resource>" (prefixed "dry/" for dry runs),
 * so a retried or re-decided event meets its own claim and gets the same
 * answer instead of reserving twice.
 */
#ifndef PUNCHCARD_GLOBALS_H
#define PUNCHCARD_GLOBALS_H

#include "punchcard/event.h"
#include "lua/mechanics-internal.h"
#include "punchcard/store.h"

typedef struct globals globals;
typedef struct globals_event globals_event;

/* result: borrowed; err: NULL on success. */
typedef void globals_done_fn(void *arg, json_t *result, const char *err);

enum globals_end {
    GLOBALS_CONFIRM, /* the member's commit landed: keep the reservations */
    GLOBALS_RELEASE, /* the event was not applied: give them back */
    GLOBALS_LEAVE,   /* unknown (Redis failed mid-way) or applied by another copy */
};

globals *globals_new(store *s, const char *ns);
void globals_free(globals *g);

/*
 * The engine that effects of kind "event" submit to (a referral's reward for
 * the referrer), and that owns g. Also starts the sweeper of unconfirmed
 * claims (see globals-internal.h) on the store's loop.
 */
struct engine;
void globals_set_engine(globals *g, struct engine *e);

/* The reservations of one event. dry: claims of a dry run, never shared with the real one. */
globals_event *globals_event_new(globals *g, const pc_event *ev, int dry);
void globals_event_free(globals_event *ge);

/* A decide attempt begins; claims not asked for again by its end are released. */
void globals_attempt(globals_event *ge);

/* 1 when the event holds or asked for any reservation. */
int globals_event_used(const globals_event *ge);

/* Performs req (reserving under a claim) and calls done with the result. */
void globals_call(globals *g, globals_event *ge, const mech_request *req, globals_done_fn *done,
                  void *arg);

/*
 * Applies one effect of a committed event (an object {"op": ..., ...}, borrowed):
 * a write to a shared resource that needs no answer (a leaderboard score, the
 * program's figures, the expiry schedule). Fire and forget: the member's ledger
 * stays the truth if it is lost.
 */
void globals_effect(globals *g, const pc_event *ev, json_t *effect);

/* The event is over: confirm, release or leave its claims (fire and forget). */
void globals_event_end(globals_event *ge, enum globals_end how);

#endif
