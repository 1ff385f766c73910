/*
 * What the engine asks of a compiled set: run the mechanics of one event
 * against a member (model/member-internal.h), yielding on global operations,
 * and read the program's tier order. Private to the engine and core/lua.
 */
#ifndef PUNCHCARD_MECHANICS_INTERNAL_H
#define PUNCHCARD_MECHANICS_INTERNAL_H

#include "model/member-internal.h"
#include "punchcard/mechanics.h"

typedef struct mech_run mech_run;

/*
 * A global operation a mechanic asked for ("counter", "draw", "budget",
 * "referral"): shared by all members, so the engine does it at once in Redis
 * and the mechanic waits for the result. op names the operation; args is
 * owned by the run.
 */
typedef struct mech_request {
    char op[32];
    json_t *args;
} mech_request;

enum mech_step { MECH_DONE = 0, MECH_WAIT = 1, MECH_ERROR = -1 };

/* The group ("control" or "treatment", static) of member in experiment exp declared as decl. */
const char *mechset_experiment_group(const char *exp, json_t *decl, const char *member);

/* The rank of tier in the program's `tiers {...}` (0 = lowest), or -1 when unknown. */
int mechset_tier_rank(const mechset *set, const char *tier);

/*
 * Runs the mechanics subscribed to ev->type against m, in file then
 * declaration order, at the event's time (ev->at_ms). 0 when they finished:
 * m holds the changes and outcomes. -1 with err filled (422) when one failed
 * or rejected the event, or waited on a global operation, which needs the
 * engine (mech_run_start): the caller discards m's changes.
 */
int mechset_run(mechset *set, const pc_event *ev, member_state *m, pc_error *err);

/*
 * The asynchronous form of mechset_run(), for mechanics that wait on global
 * operations. mech_run_start() prepares a run (a reference on set, ev and m
 * borrowed until mech_run_free()); mech_run_step() runs until the mechanics
 * finish (MECH_DONE), fail (MECH_ERROR, err filled) or wait (MECH_WAIT: read
 * mech_run_request(), then answer with mech_run_reply() and step again).
 */
mech_run *mech_run_start(mechset *set, const pc_event *ev, member_state *m);
int mech_run_step(mech_run *run, pc_error *err);
const mech_request *mech_run_request(const mech_run *run);
/*
 * Per-event caps of a run (0: the default): more outcomes, or more shared
 * keys written (leaderboard scores, global operations), fail the event with
 * 422 event_too_large. mech_run_start() sets the defaults.
 */
#define MECH_MAX_OUTCOMES 1000
#define MECH_MAX_KEYS     256
void mech_run_set_caps(mech_run *run, size_t max_outcomes, size_t max_keys);
/*
 * result: borrowed (may be NULL for nil). error: when not NULL, the mechanic's
 * call raises it (a misuse such as a bad name); a Redis failure is not
 * answered here: the engine fails the whole event (503) instead.
 */
void mech_run_reply(mech_run *run, json_t *result, const char *error);
void mech_run_free(mech_run *run);

/*
 * Period closes (engine/closes.c). mechset_close_at(): 1 when the set's
 * mechanic i is declared `on = "period_end:<per>"` (*name borrowed from the
 * set, *per a cal_period), 0 when it is another, -1 past the last.
 * mech_run_start_close() runs that mechanic alone, for no member: its `m` is
 * nil, send() queues {"op": "send", "member", "type", "data"} in scratch's
 * effects (scratch is an empty member the caller owns and then discards).
 * mechset_timezone(): the program's time zone ("UTC" when none is declared).
 */
int mechset_close_at(const mechset *set, size_t i, const char **name, int *per);
mech_run *mech_run_start_close(mechset *set, const pc_event *ev, member_state *scratch, size_t i);
const char *mechset_timezone(const mechset *set);

#endif
