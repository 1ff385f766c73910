/*
 * Program-wide experiments, the engine's part (experiments.c): each event's
 * groups, the member's entry, the figures effect and its writes. The report
 * and GET /v1/experiments/{name} are in include/punchcard/query.h.
 */
#ifndef PUNCHCARD_EXPERIMENTS_H
#define PUNCHCARD_EXPERIMENTS_H

#include "punchcard/event.h"
#include "punchcard/query.h"
#include "punchcard/store.h"
#include "lua/mechanics-internal.h"
#include "model/member-internal.h"

/*
 * After the mechanics and builtins of ev on m: *groups is a new object
 * {experiment: "control" | "treatment"} of every declared experiment (NULL
 * when none is), for the response and the ledger; the member's entry is kept
 * in m; with figures, an "experiment" effect per experiment is queued (the
 * sweeper's ticks are not counted). 0, or -1 with err (out of memory).
 */
int experiments_after(const mechset *set, const pc_event *ev, member_state *m, int figures,
                      json_t **groups, pc_error *err);

/* Applies an "experiment" effect (borrowed): HINCRBYs on the experiment's figures. */
void experiments_apply(store *s, const char *ns, json_t *fx);

#endif
