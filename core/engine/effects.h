/*
 * What a committed event leaves behind besides its member, from the effects
 * the mechanics and the builtins queued ({"op": ..., ...} objects):
 *   schedule     {due}                         the member's next due time (the sweeper's)
 *   leaderboard  {board, period, per, tz, score}                         a board's score
 *   referral     {referrer, type}              the referrer's reward: another event
 *   experiment   {name, group, entered, spend, spend_sq, moves}  an experiment's figures
 * Writes are fire and forget (the member's ledger stays the truth if one is
 * lost). An effect that is another event is not sent from here: it is
 * returned to the transaction, which submits it — this file never calls back
 * into the engine.
 */
#ifndef PUNCHCARD_EFFECTS_H
#define PUNCHCARD_EFFECTS_H

#include "claims.h"
#include "punchcard/event.h"
#include "punchcard/store.h"
#include "model/member-internal.h"

#include <jansson.h>

/* An event an effect asks for, and the NS:claims entry to drop once it was answered. */
typedef struct effects_follow_up {
    pc_event ev; /* owned by the receiver (pc_event_clear, or engine_submit takes it) */
    char entry[CLAIM_ENTRY_MAX];
} effects_follow_up;

/*
 * The program's figures of the committed event ev at time at (RFC 3339, UTC:
 * its day is counted) in NS:stats:*, NS:partner:* (issued, redeemed... per
 * currency and day, builtin_figures()), from m as decided (before the commit
 * settles it). No effect is queued for them: they are read from the member's
 * entries and outcomes.
 */
void effects_figures(store *s, const char *ns, const char *at, const pc_event *ev,
                     const member_state *m);

/*
 * Applies effect (borrowed) of the committed event ev. Returns 1 when it is
 * a follow-up event, filled into *out; 0 otherwise (applied, or logged when
 * unknown or malformed).
 */
int effects_apply(store *s, const char *ns, const pc_event *ev, json_t *effect,
                  effects_follow_up *out);

/*
 * The referrer's event for the referral of friend_id held under claim_id:
 * id "ref:<friend>" (so sending it twice applies it once), type, member
 * referrer, data {friend}. 0, or -1 when it cannot be built.
 */
int effects_referral(const char *friend_id, const char *referrer, const char *type,
                     const char *claim_id, effects_follow_up *out);

#endif
