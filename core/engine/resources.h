/*
 * The global operations mechanics ask for (mech_request, lua/mechanics-internal.h),
 * each reserved in Redis under a claim of the event (claims.h):
 *   counter   {name, by}             -> the counter's value after this event
 *   draw      {draw, chance, tz, prizes: [{prize, pool, refill, period, ttl}]}
 *                                    -> {won, prize, epoch, roll, chance [, reason]}
 *   budget    {budget, amount, max, period, ttl}  -> true (granted) | false
 *   referral  {referrer, type}       -> true (this event holds the member's referral) | false
 *   offer     {offer, cap, off}      -> true (a use within the cap) | false (used up)
 *   offer_return {offer, event, off, ttl} -> true (event's use given back) | false (before)
 * and reads, which take no claim and nothing (a look at the value now):
 *   read_counter {name}                 -> the counter's value
 *   board_top    {board, period, n}     -> [{rank (1 = best), member, score}]
 *   board_rank   {board, period, member} -> {rank, score} | null
 * and the release of a claim, for the end of an event and for the sweeper.
 */
#ifndef PUNCHCARD_RESOURCES_H
#define PUNCHCARD_RESOURCES_H

#include "claims.h"
#include "lua/mechanics-internal.h"

#include <jansson.h>

/*
 * The answer to a global operation. On success err is NULL and result
 * (borrowed) is what the mechanic's call returns. On failure result is NULL
 * and err says whose: status 422 when the mechanic asked wrongly (a bad name:
 * its call fails with err->message), else the store failed (503, 507, 500)
 * and the event fails with err — a lost Redis is never the mechanic's error.
 */
typedef void resources_done_fn(void *arg, json_t *result, const pc_error *err);

/* Performs req for the event whose claims are cs (borrowed until done), then calls done. */
void resources_call(claims *cs, const mech_request *req, resources_done_fn *done, void *arg);

/* 1 when op is one of the reads (allowed in a period close, which has no claims). */
int resources_is_read(const char *op);

/*
 * Gives back claim_id of op on resource; with min_age_ms > 0 only when the
 * claim was not touched for that long. Once given back (or found gone) its
 * NS:claims entry is dropped too. Fire and forget.
 */
void resources_release(store *s, const char *ns, const char *op, const char *resource,
                       const char *claim_id, int64_t min_age_ms);

#endif
