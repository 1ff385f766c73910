/*
 * Currencies that keep their promises: every earn is a lot with an expiry and
 * an availability time; spending, expiry and reversal move lots, and every
 * movement is a ledger entry (member_move_balance). Pure functions on an
 * in-memory member_state: the event transaction commits what they change.
 *
 * Rules (docs/mechanics.md, "Currencies"):
 *  - spending and expiry take the soonest-expiring lots first (lots that never
 *    expire last; ties by age);
 *  - a lot earned "pending" is counted in the pending balance until its
 *    availability time, then released into the balance;
 *  - a debt (negative balance, left by a reversal of spent stars) is repaid
 *    first by the next earnings;
 *  - a currency that never expires and has no return window keeps one merged
 *    lot (l:<cur>:0), so members' state does not grow with their history;
 *    used-up lots of the others are pruned 90 days after they were earned;
 *  - reversing an event takes back, per currency: first what is left of that
 *    event's own lots; then what of them was already spent, from the rest of
 *    the balance (soonest-expiring first), leaving a debt if the balance is
 *    short; what of them already expired is not taken twice.
 */
#ifndef PUNCHCARD_LOTS_INTERNAL_H
#define PUNCHCARD_LOTS_INTERNAL_H

#include "model/member-internal.h"

#include <stddef.h>
#include <stdint.h>

typedef struct lot_rec {
    char currency[65];
    int64_t n;          /* lot number */
    int64_t amount;     /* earned (never changes: reversals lower remaining and spent) */
    int64_t remaining;  /* still in the balance (or pending) */
    int64_t spent;      /* taken by spending or redemption */
    int64_t expires_ms; /* 0 = never */
    int64_t avail_ms;   /* 0 = available; else pending until then */
    int64_t created_ms;
    char event[129]; /* the event that earned it */
} lot_rec;

/* Enough for a lot's value: six integers, six bars and an event id. */
#define LOTS_VALUE_MAX 320

/*
 * The lot codec, the one place that reads and writes a lot's field:
 *   name  "l:<currency>:<n>"                                   (schema.c's MEMBER_F_LOT)
 *   value "amount|remaining|spent|expires|avail|created|event" (times in ms, 0 = never / at once)
 * lots_decode: 0, or -1 (lot zeroed) when name is not a lot's or value is malformed.
 * lots_encode: writes both; 0, or -1 when they do not fit.
 */
int lots_decode(const char *name, const char *value, lot_rec *lot);
int lots_encode(const lot_rec *lot, char *name, size_t name_len, char *value, size_t value_len);

/* An earn: amount of currency into a new lot. now_ms is the event's time. */
int lots_earn(member_state *m, const char *mechanic, const char *currency, int64_t amount,
              int64_t expires_ms, int64_t avail_ms, int64_t now_ms, const char *event_id,
              int64_t *balance_out, const char **err);

/* A spend (kind NULL for mechanics, "redeem" for redemptions), soonest-expiring lots first. */
int lots_spend(member_state *m, const char *mechanic, const char *kind, const char *currency,
               int64_t amount, int64_t *balance_out, const char **err);

/* Releases pending lots and expires lots whose time has come by now_ms. 0 or -1. */
int lots_tick(member_state *m, int64_t now_ms, const char **err);

/*
 * Takes back what event earned in currency (NULL: every currency), at most
 * amount (<= 0: all that is left to reverse). Currencies that expire or have a
 * return window keep a lot per earn, reversed lot by lot; the others keep one
 * merged lot, and earned ({currency: amount}, from the event's stored
 * response; may be NULL) says what the event earned in them. *reversed_out:
 * how much was taken back in all. 0, or -1 with *err.
 */
int lots_reverse(member_state *m, const char *event, const char *currency, int64_t amount,
                 json_t *earned, int64_t now_ms, int64_t *reversed_out, const char **err);

/* The next time something is due (expiry, release, field "wk" or "xd"), 0 when nothing. */
int64_t lots_next_due(const member_state *m);

/* Visits every lot of the member (any currency). */
void lots_each(const member_state *m, void (*fn)(const lot_rec *lot, void *arg), void *arg);

/* {"currency": {"next_expiry": {"amount", "at"} | null}} for GET member; NULL on out of memory. */
json_t *lots_summary(const member_state *m);

#endif
