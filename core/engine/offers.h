/*
 * Offers and promo codes, the engine's part (offers.c): what a reversal gives
 * back of the codes the reversed event used. GET /v1/offers is in
 * include/punchcard/query.h.
 */
#ifndef PUNCHCARD_OFFERS_H
#define PUNCHCARD_OFFERS_H

#include "punchcard/event.h"
#include "model/member-internal.h"
#include "punchcard/mechanics.h"

#include <jansson.h>

/*
 * For a whole reversal ev (no currency, amount or items) of the event whose
 * stored response is original: gives back on m the member's records of the
 * codes it used (a personal code is unused again, a once-per-member use is
 * forgotten), while they still name that event. Returns a new array of the
 * uses to give back to each offer's cap: [{"offer", "code", "event", "off",
 * "member_side"}] (empty for a partial reversal or an event that used no
 * code); NULL when out of memory.
 */
json_t *offers_reverse_member(const pc_event *ev, member_state *m, json_t *original);

/*
 * After the cap's answer for use (an element of that array): returned says
 * the cap got the use back now. Reports {"kind": "code_returned", "offer",
 * "code", "cap"} when anything was given back. 0, or -1 when out of memory.
 */
int offers_returned(member_state *m, json_t *use, int returned);

/*
 * For a whole reversal ev of the event whose stored response is original:
 * gives the money of its plain discounts (discount(...) outcomes of no offer)
 * back to the figures, once per reversed event: reports {"kind":
 * "discount_returned", "event", "percent", "off"} for each (builtin.c counts
 * them in "%discounts") and marks the event on m (dr:<event>, set at now_ms;
 * marks older than keep_ms are dropped). Returns how many were given back
 * (0 for a partial reversal or when given back before), -1 when out of memory.
 */
int offers_reverse_discounts(const pc_event *ev, member_state *m, json_t *original, int64_t now_ms,
                             int64_t keep_ms);

/*
 * The offers' figures per day of GET /v1/stats ({"YYYY-MM-DD": {offer: {kind:
 * n}}}, borrowed) summed per period of kind per (CAL_WEEK, CAL_MONTH,
 * CAL_YEAR; UTC like the days): {"2026-W48": {offer: {kind: n}}}. A new
 * reference, or NULL when out of memory.
 */
json_t *offers_per_period(json_t *days, int per);

/*
 * The internal event "codes" {"offer", "codes": [normalized code, ...]}
 * (POST /v1/offers/{name}/codes, codes.c): writes each code the member does
 * not hold yet as a personal code of offer (unused, issued at the event's
 * time), reporting {"kind": "code", "offer", "code"} for each. 422 when the
 * offer is not declared personal, a code is the member's code of another
 * offer, or the member would hold more than 100 codes. 0, or -1 with err.
 */
int offers_add_codes(const pc_event *ev, member_state *m, const mechset *set, pc_error *err);

#endif
