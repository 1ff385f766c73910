/*
 * A member's state as one event sees it: the fields of the Redis hash
 * {ns}:{member}:state (their names: schema-internal.h), read once, changed in
 * memory by the mechanics, and turned into one atomic commit. Nothing here
 * talks to Redis. Raw fields are member.c's; the typed accessors that every
 * other layer reads and writes a member with are fields.c's.
 */
#ifndef PUNCHCARD_MEMBER_INTERNAL_H
#define PUNCHCARD_MEMBER_INTERNAL_H

#include "model/schema-internal.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct member_field {
    char *name;    /* owned */
    char *value;   /* owned; NULL once deleted */
    size_t cap;    /* bytes allocated for value: a shorter new value is written in place */
    int dirty;     /* changed by this event */
    uint32_t hash; /* member.c's hash of name: a lookup compares it before the name */
    /*
     * Owned (free()), or NULL: a reader's decoded copy of value (lots.c keeps a
     * lot's lot_rec here, so a lot is parsed once, not on every event). member.c
     * drops it whenever value changes; a copy of the member does not carry it.
     */
    void *decoded;
    int64_t num; /* value as an integer when has_num (the last write was member_field_set_int) */
    int has_num; /* member.c clears it whenever value changes */
} member_field;

/* One ledger line this event will append: one per (mechanic, currency, kind). */
typedef struct member_entry {
    char *mechanic;   /* owned */
    char *currency;   /* owned */
    const char *kind; /* static: NULL for earn/spend by mechanics, else "expire", "release", ... */
    int64_t delta;    /* change of the available balance */
    int64_t balance;  /* available balance after this entry */
    int64_t pending;  /* change of the pending balance (earned, not yet spendable) */
    struct member_outcome *outcome; /* the outcome that reports it (borrowed from outs) */
} member_entry;

/*
 * An outcome of the event. The kinds every event makes (a balance move, a
 * counter) are plain records, written as text straight (member_outcomes_write)
 * and made jansson values only where a slow path asks (member_outcome_json);
 * every other kind is its jansson object {"mechanic", "kind", ...}.
 */
enum member_outcome_type {
    MO_JSON,    /* obj is the whole outcome */
    MO_MOVE,    /* {mechanic, kind, currency, delta, balance[, pending, pending_balance], ...obj} */
    MO_COUNTER, /* {mechanic, kind: "counter", counter, value} */
    MO_NAMED,   /* {mechanic, kind, <field>: name, ...obj}: a prize, a message */
};

typedef struct member_outcome {
    enum member_outcome_type type;
    json_t
        *obj; /* owned. MO_JSON: the outcome; MO_MOVE, MO_NAMED: keys after the others, or NULL */
    const char *kind;       /* MO_MOVE: "stars" or the move's kind; MO_COUNTER: "counter";
                               MO_NAMED: "prize", "message" (static) */
    const char *field;      /* MO_NAMED: the key of name, "prize" or "text" (static) */
    const char *mechanic;   /* in text */
    const char *name;       /* in text: the currency (MO_MOVE), the counter (MO_COUNTER), the
                               prize or the message's text (MO_NAMED) */
    int64_t delta, balance; /* MO_MOVE */
    int64_t pending, pending_balance; /* MO_MOVE, shown once has_pending */
    int has_pending;                  /* MO_MOVE */
    int64_t value;                    /* MO_COUNTER */
    char text[];                      /* mechanic, NUL, name, NUL */
} member_outcome;

typedef struct member_state {
    char *id;        /* owned */
    int64_t version; /* as loaded; the commit expects it unchanged */
    member_field *fields;
    size_t nfields, capfields;
    member_entry *entries;
    size_t nentries, capentries;
    member_outcome **outs; /* owned, in the order they happened (outcomes.c) */
    size_t nouts, capouts;
    json_t *outs_json; /* owned, or NULL: member_outcomes_json()'s array */
    char *counted;     /* owned, "\n"-joined counters already counted by this event */
    json_t *trace;     /* owned; when not NULL, the run appends why each mechanic ran or not */
    json_t *effects;   /* owned array: global writes to do after the commit ({"op", ...}) */
} member_state;

/* ---- member.c: the state, its raw fields, balance moves and outcomes ---- */

/* Queues a global effect (stolen) to apply after this event's commit. NULL-safe; -1 on OOM. */
int member_add_effect(member_state *m, json_t *effect);

/* Creates an empty state for member id (version 0). NULL on out of memory. */
member_state *member_new(const char *id);
void member_free(member_state *m);

/* Loads fields from a flat [name, value, name, value...] array (HGETALL). -1 on bad data. */
int member_load_pairs(member_state *m, size_t n, const char *const *pairs, const size_t *lens);

/*
 * After a commit: the changes become the state at new_version (fields clean,
 * deleted ones gone, entries and outcomes dropped). 0, or -1 on out of memory.
 */
int member_settle(member_state *m, int64_t new_version);

/* A clean copy of m's fields and version (no changes, no outcomes), or NULL. */
member_state *member_clone(const member_state *m);

/* The value of a field, or NULL. */
const char *member_get(const member_state *m, const char *name);

/* The integer value of a field; 0 when absent. */
int64_t member_get_int(const member_state *m, const char *name);

/* Sets or (value NULL) deletes a field, marking it for the commit. -1 on out of memory. */
int member_set(member_state *m, const char *name, const char *value);
/* The same, returning the field it set (borrowed), or NULL on out of memory. */
member_field *member_set_field(member_state *m, const char *name, const char *value);
/* The field named name (its value may be NULL: deleted by this event), or NULL. */
member_field *member_field_of(const member_state *m, const char *name);
/*
 * member_set on a field the caller holds (from member_field_of or member_set_field;
 * a field stays at its index in m->fields for the whole event, its address only
 * until a field is added). -1 on out of memory.
 */
int member_field_set(member_field *f, const char *value);
/* The same with an integer value. -1 on out of memory. */
int member_field_set_int(member_field *f, int64_t value);
/* The same with value already written out: text, len bytes (as pc_format_int writes it). */
int member_field_set_int_text(member_field *f, int64_t value, const char *text, size_t len);
/* member_set_int with value already written out (text, len bytes). -1 on out of memory. */
int member_set_int_text(member_state *m, const char *name, int64_t value, const char *text,
                        size_t len);
/* A field's value as an integer; 0 when f is NULL, deleted or not an integer. */
int64_t member_field_int(const member_field *f);
int member_set_int(member_state *m, const char *name, int64_t value);

/*
 * Adds delta to the balance of currency on behalf of mechanic, records the
 * ledger entry (merged per mechanic and currency) and its "stars" outcome.
 * Returns 0, or -1 with *err set: overflow, or a balance that would go negative.
 */
int member_add_balance(member_state *m, const char *mechanic, const char *currency, int64_t delta,
                       int64_t *balance_out, const char **err);

/* A balance movement of any kind (see member_move_balance). */
typedef struct member_move {
    const char *mechanic;
    const char *currency;
    const char *kind;   /* NULL: a mechanic's earn or spend (outcome "stars"); else the
                           outcome and ledger kind: "expire", "release", "redeem", "reverse" */
    int64_t delta;      /* change of the available balance */
    int64_t pending;    /* change of the pending balance */
    int allow_negative; /* a reversal may leave a debt that later earnings repay */
} member_move;

/* The general form of member_add_balance. 0, or -1 with *err set. */
int member_move_balance(member_state *m, const member_move *mv, int64_t *balance_out,
                        const char **err);

/* ---- outcomes.c: the event's outcomes ---- */

/*
 * Appends an outcome (stolen reference) as {"mechanic": mechanic, ...outcome}.
 * Returns the appended object (borrowed from m's outcomes), or NULL on out of memory.
 */
json_t *member_add_outcome(member_state *m, const char *mechanic, json_t *outcome);

/*
 * The same in two steps, without copying the outcome's keys:
 * member_outcome_new() makes {"mechanic": mechanic} (NULL on out of memory), the
 * caller adds the rest, and member_append_outcome() appends it (stolen; NULL-safe)
 * and returns it (borrowed), or NULL on out of memory.
 */
json_t *member_outcome_new(const char *mechanic);
json_t *member_append_outcome(member_state *m, json_t *o);

/* Appends a plain record (MO_MOVE, MO_COUNTER or MO_NAMED, its figures zero, no field) and
 * returns it, or NULL. */
member_outcome *member_add_record(member_state *m, enum member_outcome_type type, const char *kind,
                                  const char *mechanic, const char *name);

/* The counter outcome of mechanic for counter name, or NULL. */
member_outcome *member_counter_outcome(const member_state *m, const char *mechanic,
                                       const char *name);

/* Sets key (value stolen) on outcome o of m: 0, or -1 (value NULL, out of memory). */
int member_outcome_set(member_state *m, member_outcome *o, const char *key, json_t *value);

/* m's outcome o changed in place (a figure of a record): forgets member_outcomes_json()'s copy. */
void member_outcome_changed(member_state *m);

/* Removes outcome o from m and frees it. */
void member_remove_outcome(member_state *m, member_outcome *o);

/* Frees every outcome of m (after a commit). */
void member_clear_outcomes(member_state *m);

/* The kind of outcome o ("stars", "counter", "prize"...), or NULL. */
const char *member_outcome_kind(const member_outcome *o);

/* Outcome o as a new jansson object (a new reference), or NULL when out of memory. */
json_t *member_outcome_json(const member_outcome *o);

/* All of m's outcomes as a new jansson array (a new reference), or NULL when out of memory. */
json_t *member_outcomes_to_json(const member_state *m);

/*
 * The same, kept in m until its outcomes change (borrowed; NULL when out of
 * memory): for the slow paths and tests that read the outcomes as values. The
 * copy kept is no part of m's state (hence const m).
 */
json_t *member_outcomes_json(const member_state *m);

/* Writes m's outcomes as the compact JSON array pc_json_dump() writes of member_outcomes_json(). */
struct pc_jbuf;
void member_outcomes_write(struct pc_jbuf *b, const member_state *m);

/* Takes m's outcomes out of it (*n of them, in *outs; m has none left); free with
 * member_outcomes_free(). */
void member_outcomes_take(member_state *m, member_outcome ***outs, size_t *n);
void member_outcomes_free(member_outcome **outs, size_t n);

/* Counts this event once in counter name: 1 if it was counted now, 0 if already. */
int member_count_once(member_state *m, const char *name);

/* Drops ledger entries (and their outcomes) whose merged delta came to 0. */
void member_finish(member_state *m);

/* ---- fields.c: typed accessors ---- */

/*
 * Readers return 0 (or NULL) for an absent field; writers
 * mark the field for the commit and return 0, or -1 when out of memory.
 * Balances change only through member_move_balance() (the ledger).
 */
int64_t member_balance(const member_state *m, const char *currency);
int64_t member_pending(const member_state *m, const char *currency);

int64_t member_counter(const member_state *m, const char *counter);
int member_set_counter(member_state *m, const char *counter, int64_t value);
/*
 * Adds by to counter (one lookup of its field): 0 with *value the new value,
 * 1 when it would overflow (nothing changed), -1 when out of memory.
 */
int member_add_counter(member_state *m, const char *counter, int64_t by, int64_t *value);

/* Adds one win of prize. */
int member_add_prize(member_state *m, const char *prize);

int member_has_badge(const member_state *m, const char *badge);
/* Awards badge at at_ms: 1 when awarded now, 0 when the member had it, -1 when out of memory. */
int member_award_badge(member_state *m, const char *badge, int64_t at_ms);

const char *member_tier(const member_state *m);
int member_set_tier(member_state *m, const char *tier);
const char *member_tier_floor(const member_state *m);
int member_set_tier_floor(member_state *m, const char *tier); /* NULL removes it */

const char *member_attr(const member_state *m, const char *name);
int member_set_attr(member_state *m, const char *name, const char *value); /* NULL removes it */

/* The member's time zone (attribute tz) when it is a known zone, else def. */
const char *member_tz(const member_state *m, const char *def);

/* The member's birthday (attribute birthday, "YYYY-MM-DD" or "MM-DD"): 0, or -1 when none. */
int member_birthday(const member_state *m, int *month, int *day);

/* Marks key once at at_ms: 1 when marked now, 0 when it was already, -1 when out of memory. */
int member_mark_once(member_state *m, const char *key, int64_t at_ms);

/* When a mechanic asked to wake the member, and when the member is next due (ms; 0 = none). */
int64_t member_wake(const member_state *m);
int member_set_wake(member_state *m, int64_t at_ms); /* 0 removes it */
/* When the next "points.expiring" webhook is due (0: none; setting 0 removes it). */
int64_t member_notice_due(const member_state *m);
int member_set_notice_due(member_state *m, int64_t at_ms);
/* The latest expiry of currency's lots a "points.expiring" webhook was sent for (0: none). */
int64_t member_noticed(const member_state *m, const char *currency);
int member_set_noticed(member_state *m, const char *currency, int64_t expires_ms);
int64_t member_due(const member_state *m);
int member_set_due(member_state *m, int64_t at_ms); /* 0 removes it */

/* Rolling windows: the bucket of window name for the UTC calendar month holding at_ms. */
int64_t member_window(const member_state *m, const char *name, int64_t at_ms);
int member_set_window(member_state *m, const char *name, int64_t at_ms, int64_t value);
/* Drops window name's buckets of the month holding at_ms and every month before. */
void member_drop_windows(member_state *m, const char *name, int64_t at_ms);

/* The parts of a streak (MEMBER_F_STREAK_LEN ... in this order). */
enum member_streak_part {
    MEMBER_STREAK_LEN,          /* length as of the last hit */
    MEMBER_STREAK_BEST,         /* the best length */
    MEMBER_STREAK_LAST,         /* the last hit (ms) */
    MEMBER_STREAK_FREEZES,      /* freezes left */
    MEMBER_STREAK_FREEZE_MONTH, /* the month index + 1 of the last monthly top-up */
};
int64_t member_streak(const member_state *m, const char *streak, enum member_streak_part part);
int member_set_streak(member_state *m, const char *streak, enum member_streak_part part,
                      int64_t value);

/* The parts of a levelled badge (MEMBER_F_LEVEL ... in this order). */
enum member_level_part {
    MEMBER_LEVEL,          /* the level reached */
    MEMBER_LEVEL_PROGRESS, /* the progress figure last given */
    MEMBER_LEVEL_NEXT,     /* the next threshold; 0 (no field) at the top level */
    MEMBER_LEVEL_AT,       /* when the level was reached (ms) */
};
int64_t member_level(const member_state *m, const char *badge, enum member_level_part part);
/* Sets a part; MEMBER_LEVEL_NEXT with value 0 removes the field. */
int member_set_level(member_state *m, const char *badge, enum member_level_part part,
                     int64_t value);

/* The member's wins of draw in the limit period period_id (0 when they were in another). */
int64_t member_draw_wins(const member_state *m, const char *draw, const char *period_id);
int member_set_draw_wins(member_state *m, const char *draw, const char *period_id, int64_t wins);

/* The member's timeline (ms; 0 when never): first seen, latest event, latest of a type. */
int64_t member_joined_at(const member_state *m);
int64_t member_last_event_at(const member_state *m);
int64_t member_last_of(const member_state *m, const char *type);
/*
 * Records an event of type at at_ms on the timeline: joined is the earliest
 * event time, the latest ones the latest (an event sent late for an earlier
 * time moves nothing back). -1 when out of memory.
 */
int member_stamp_event(member_state *m, const char *type, int64_t at_ms);

/*
 * The member's entry in experiment exp: *group (a static "control" or
 * "treatment") and the spend counted since; 0, or -1 when not entered yet.
 */
int member_experiment(const member_state *m, const char *exp, const char **group, int64_t *spend);
int member_set_experiment(member_state *m, const char *exp, const char *group, int64_t spend);

/* ---- render.c ---- */

/*
 * Renders the member for GET /v1/members/{id}: balances, pending, expiring,
 * badges, streaks, counters, prizes, tier, tier floor, attributes, version.
 * Returns a new reference, or NULL on out of memory (never a member with a
 * part missing).
 */
json_t *member_to_json(const member_state *m);

#endif
