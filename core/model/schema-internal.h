/*
 * The schema of a member's Redis hash {ns}:{member}:state (readable with
 * redis-cli HGETALL), and schema.c's one table that builds and recognises
 * every field name. Everyone else reads and writes fields through the typed
 * accessors of fields.c (member-internal.h); a raw reader of the hash (the
 * ledger check) uses member_field_name() and member_field_kind().
 *   v             version, bumped by every commit (server-side: core/store/scripts/commit.lua
 *                 checks and bumps it in Redis, so that script spells this one name too)
 *   b:<currency>  balance (integer)
 *   pb:<currency> pending balance: earned, spendable after its return window
 *   c:<counter>   counter (integer)
 *   g:<badge>     badge: when it was awarded (ms since the epoch)
 *   p:<prize>     how many times this prize was won
 *   t             tier name
 *   tf            the tier floor a person set (PUT /v1/members/{id})
 *   a:<name>      member attribute (PUT /v1/members/{id}); a:tz and a:birthday are read
 *   l:<cur>:<n>   a lot of currency cur: "amount|remaining|spent|expires|avail|created|event"
 *                 (times in ms, 0 = never / at once; the codec is lots.c's); spending and
 *                 expiry take the soonest-expiring lots first
 *   ln:<cur>      the number of the last lot of cur
 *   rv:<cur>:<event>  how much of what event earned into cur's merged lot was reversed
 *   w:<name>:<YYYYMM>  a monthly bucket of a rolling window (m:track)
 *   o:<key>       once-markers (m:once, m:once_per_year): when (ms)
 *   wk            when a mechanic asked to wake the member (m:wake_at, ms)
 *   due           when the next lot expires or is released, or wk (ms): the sweeper's cue
 *   s:<streak>:len|best|last|frz|fm  a streak: length, best, last hit (ms), freezes
 *                 left, month of the last freeze top-up (m:streak, m:freeze)
 *   gl:<badge> gp:<badge> gn:<badge> gt:<badge>  a levelled badge: level, progress,
 *                 next threshold, when the level was reached (ms) (m:badge_level)
 *   dw:<draw>     "<period id>|<wins>": the member's wins of a draw in its limit period
 *   j             when the member was first seen: the earliest event time (ms)
 *   le            the latest event time (ms) of any type but the engine's tick
 *   lt:<type>     the latest time (ms) of an event of that type (m:last)
 *   x:<exp>       "<group>|<spend>": the member's group in an experiment, and what they
 *                 spent since they entered it (the experiment's figures)
 *   ou:<offer>    "<at>|<event>": the member's last counted use of a shared offer (once per
 *                 member; renewed after renew_every)
 *   oc:<CODE>     "<offer>|<issued>|<used or 0>|<event>": a personal code issued to the member
 *   xd            when the next "points.expiring" webhook is due (ms; in due too)
 *   xn:<cur>      the latest expiry (ms) of cur's lots a "points.expiring" was sent for
 *   dr:<event>    when a whole reversal gave the plain discounts of that event back to the
 *                 figures (ms, wall clock; pruned past the dedupe window): once per event
 * Names (currencies, counters, ...) are 1-64 of a-z 0-9 _ . - and hold no ':'.
 */
#ifndef PUNCHCARD_SCHEMA_INTERNAL_H
#define PUNCHCARD_SCHEMA_INTERNAL_H

#include <stddef.h>

/* The kinds of field in the hash (the list on top of this file). */
enum member_kind {
    MEMBER_F_NONE = 0, /* not a field of the schema */
    MEMBER_F_VERSION,  /* v */
    MEMBER_F_TIER,     /* t */
    MEMBER_F_TIER_FLOOR,
    MEMBER_F_WAKE, /* wk */
    MEMBER_F_DUE,
    MEMBER_F_BALANCE, /* b:<currency> */
    MEMBER_F_PENDING, /* pb:<currency> */
    MEMBER_F_COUNTER,
    MEMBER_F_BADGE,
    MEMBER_F_PRIZE,
    MEMBER_F_ATTR,
    MEMBER_F_LOT,      /* l:<currency>:<n>; sub = n */
    MEMBER_F_LOT_LAST, /* ln:<currency> */
    MEMBER_F_REVERSED, /* rv:<currency>:<event>; sub = event */
    MEMBER_F_WINDOW,   /* w:<name>:<YYYYMM>; sub = YYYYMM */
    MEMBER_F_ONCE,
    MEMBER_F_STREAK_LEN, /* s:<streak>:len ... s:<streak>:fm, in member_streak_part order */
    MEMBER_F_STREAK_BEST,
    MEMBER_F_STREAK_LAST,
    MEMBER_F_STREAK_FREEZES,
    MEMBER_F_STREAK_FREEZE_MONTH,
    MEMBER_F_LEVEL, /* gl:<badge> ... gt:<badge>, in member_level_part order */
    MEMBER_F_LEVEL_PROGRESS,
    MEMBER_F_LEVEL_NEXT,
    MEMBER_F_LEVEL_AT,
    MEMBER_F_DRAW_WINS,     /* dw:<draw> */
    MEMBER_F_JOINED,        /* j */
    MEMBER_F_LAST_EVENT,    /* le */
    MEMBER_F_LAST_TYPE,     /* lt:<type> */
    MEMBER_F_EXPERIMENT,    /* x:<experiment> */
    MEMBER_F_OFFER_USE,     /* ou:<offer> */
    MEMBER_F_CODE,          /* oc:<CODE> (a personal code) */
    MEMBER_F_NOTICE_DUE,    /* xd */
    MEMBER_F_NOTICED,       /* xn:<currency> */
    MEMBER_F_DISCOUNT_BACK, /* dr:<event> */
};

/* Enough for every field name of valid names and ids (names <= 64, event ids <= 128). */
#define MEMBER_FIELD_MAX 256

/*
 * Writes the field name of kind for name (NULL for v, t, tf, wk, due, j, le, xd) and sub
 * (the lot number, event or month of the kinds that have one; else NULL)
 * into out. Returns out, or NULL when it does not fit in n bytes.
 */
const char *member_field_name(char *out, size_t n, enum member_kind kind, const char *name,
                              const char *sub);

/* Where a field name's parts are (pointers into the name). */
typedef struct member_field_ref {
    const char *name; /* the name part (currency, counter, streak ...), name_len bytes */
    size_t name_len;
    const char *sub; /* the rest after name and ':' for the kinds with a sub, else NULL */
} member_field_ref;

/* 1 when field is a field of kind (its parts in *ref, when ref is not NULL), else 0. */
int member_field_is(const char *field, enum member_kind kind, member_field_ref *ref);

/* The kind of field (its parts in *ref, when not NULL); MEMBER_F_NONE when of no known kind. */
enum member_kind member_field_kind(const char *field, member_field_ref *ref);

#endif
