/*
 * The engine's own post-commit effects: the expiry schedule (a sorted set of
 * members by their next due time, read by the sweeper) and the program's
 * figures (per day, per currency; per partner). Fire and forget: the member's
 * ledger is the truth; these are indexes and reports.
 *   NS:due                  zset   member -> next due time (ms)
 *   NS:stats:YYYY-MM-DD     hash   "<currency>:<issued|redeemed|expired|reversed>" -> amount
 *   NS:stats:total          hash   the same, since the beginning
 *   NS:partner:P:YYYY-MM-DD hash   the same, for partner P
 */
#ifndef PUNCHCARD_EFFECTS_H
#define PUNCHCARD_EFFECTS_H

#include "punchcard/event.h"
#include "punchcard/store.h"

#include <jansson.h>

/* Applies effect when it is one of the engine's own; returns 1 then, 0 otherwise. */
int effects_apply(store *s, const char *ns, const pc_event *ev, json_t *effect);

#endif
