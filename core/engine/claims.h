/*
 * Claims of global operations: what an event reserved on resources shared
 * by all members (prize pools, global counters, campaign budgets, referrals).
 * They cannot share the member's commit (another Redis Cluster slot), so
 * each is reserved at once under a claim id derived from the event, and
 * after the member's commit the claims are confirmed — or released when the
 * event failed. docs/architecture.md, "The event transaction", step 4.
 *
 * A claim id is "<member>/<event id>/<op>/<resource>" ("dry/" first for a
 * dry run): event ids are unique per member only, and '/' is in neither. A
 * retried or re-decided event meets its own claim and gets the same answer
 * instead of reserving twice.
 *
 * Unconfirmed claims: before a reservation, "<op>|<resource>|<claim id>" is
 * listed in the index NS:claims (with the time). Confirming removes it;
 * releasing gives the resource back and removes it. What is left there (the
 * punchd died, or Redis failed between reservation and answer) is swept by
 * the sweeper (sweeper.c): after the claim timeout, a claim whose event has
 * a stored response is kept, any other is released, unless a retry touched
 * it meanwhile. A referral also lists "deliver|<friend>|<claim id>": the
 * referrer's event still to be sent, removed once it was answered.
 */
#ifndef PUNCHCARD_CLAIMS_H
#define PUNCHCARD_CLAIMS_H

#include "punchcard/event.h"
#include "punchcard/store.h"

#include <stddef.h>

#define CLAIM_ID_MAX    (2 * PC_ID_MAX + 200)
#define CLAIM_ENTRY_MAX (CLAIM_ID_MAX + PC_ID_MAX + 64)

/* A claim this event made: enough to confirm or release it later. */
typedef struct claim {
    char op[32];
    char resource[PC_ID_MAX + 32];
    char id[CLAIM_ID_MAX];
    int attempt; /* the last decide attempt that asked for it */
    int indexed; /* listed in NS:claims (confirm removes it) */
} claim;

/* The claims of one event. */
typedef struct claims {
    store *store; /* borrowed: the engine's */
    const char *ns;
    char member[PC_ID_MAX + 1];
    char event_id[PC_ID_MAX + 1]; /* the real id, also in dry runs (a draw rolls the same) */
    int dry;
    claim *v;
    int n, cap;
    int attempt;
} claims;

/* ns is borrowed (the engine's, which outlives its events). NULL on out of memory. */
claims *claims_new(store *s, const char *ns, const pc_event *ev, int dry);
void claims_free(claims *cs);

/* A decide attempt begins: claims not asked for again by its end are released at the end. */
void claims_attempt(claims *cs);

/* Finds or adds the claim (op, resource) of this attempt. NULL on out of memory. */
claim *claims_remember(claims *cs, const char *op, const char *resource);

/* Lists c in NS:claims (sent ahead of its reservation; fire and forget). */
void claims_index(claims *cs, claim *c);

/* The claim id of op on resource for an event (into out, CLAIM_ID_MAX). */
void claims_id(char *out, size_t n, int dry, const char *member, const char *event_id,
               const char *op, const char *resource);

/* An NS:claims entry "<op>|<resource>|<claim id>" (into out, CLAIM_ENTRY_MAX). */
void claims_entry(char *out, size_t n, const char *op, const char *resource, const char *id);

/* An NS:claims entry taken apart; 0, or -1 when it is not one this engine wrote. */
typedef struct claims_parsed {
    char op[32], resource[PC_ID_MAX + 32], id[CLAIM_ID_MAX];
    int dry;                                             /* a dry run's claim: never committed */
    char member[PC_ID_MAX + 1], event_id[PC_ID_MAX + 1]; /* whose event (not for dry runs) */
} claims_parsed;
int claims_parse(const char *entry, claims_parsed *out);

enum claims_end {
    CLAIMS_CONFIRM, /* the member's commit landed: keep the reservations it used */
    CLAIMS_RELEASE, /* the event was not applied: give them all back */
    CLAIMS_LEAVE,   /* unknown (Redis failed mid-way) or applied by another copy: the sweeper
                       decides once they are old enough */
};

/* Gives back claim c (the caller knows how: resources_release()). */
typedef void claims_release_fn(void *ctx, const claims *cs, const claim *c);

/*
 * The event is over: confirm (drop from the index), release (through
 * release) or leave its claims. On a confirm, a claim the final attempt no
 * longer asked for is released too.
 */
void claims_end(claims *cs, enum claims_end how, claims_release_fn *release, void *ctx);

#endif
