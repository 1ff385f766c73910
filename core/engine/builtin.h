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
 * After the mechanics (their changes are in m). figures: also queue the effects
 * that keep the program's figures and the expiry schedule (0 for a simulation's
 * throwaway namespace). 0, or -1 with err.
 */
int builtin_after(const pc_event *ev, member_state *m, int figures, pc_error *err);

#endif
