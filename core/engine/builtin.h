/*
 * What the engine itself does in every event, around the mechanics: lots
 * that come due (release, expiry), the internal events behind the API
 * (profile, redeem, reverse, tick), the next due time, and the program's
 * figures. Pure functions on the member; the transaction commits them.
 */
#ifndef PUNCHCARD_BUILTIN_H
#define PUNCHCARD_BUILTIN_H

#include "punchcard/event.h"
#include "lua/mechanics-internal.h"
#include "model/member-internal.h"

/* The event types the API sends itself; POST /v1/events refuses them. */
int builtin_reserved_type(const char *type);

/*
 * Before the mechanics. original: for a reversal, the reversed event's stored
 * response (what it earned), or NULL. gives_codes: the reversal also gives
 * codes back (offers.h), so nothing earned to take back is no error here.
 * 0, or -1 with err.
 */
int builtin_before(const pc_event *ev, member_state *m, const mechset *set, json_t *original,
                   int gives_codes, pc_error *err);

/*
 * After the mechanics (their changes are in m). figures: also queue the effect
 * that keeps the expiry schedule (0 for a simulation's throwaway namespace).
 * 0, or -1 with err.
 */
int builtin_after(const pc_event *ev, member_state *m, int figures, pc_error *err);

/*
 * The program's figures an event moves, from its decided member m (entries
 * and outcomes, before the commit settles them): fn(arg, currency, kind,
 * amount) for each, in order — per ledger entry its currency and "issued",
 * "redeemed", "expired" or "reversed"; per offer's code used or given back
 * "@<offer>" with "uses"/"discount" or "returned"/"discount_returned"; per
 * discount "%discounts" with "count"/"granted" or "returns"/"returned".
 */
typedef void builtin_move_fn(void *arg, const char *currency, const char *kind, int64_t amount);
void builtin_figures(const member_state *m, builtin_move_fn *fn, void *arg);

#endif
