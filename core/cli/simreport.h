/*
 * What `punch simulate` reports: figures summed from the engine's own
 * responses (outcomes of every applied event), never from a second reading of
 * the rules. Private to core/cli.
 */
#ifndef PUNCHCARD_CLI_SIMREPORT_H
#define PUNCHCARD_CLI_SIMREPORT_H

#include <jansson.h>
#include <stdio.h>

typedef struct sim_report sim_report;

/* NULL when out of memory. */
sim_report *simrep_new(void);
void simrep_free(sim_report *r);

/* Counts one answered event: status and body (borrowed) as the engine gave them. */
void simrep_add(sim_report *r, int status, json_t *body);

/* The program's experiments (mechset_experiments(), borrowed; copied), for their spend field. */
void simrep_set_experiments(sim_report *r, json_t *experiments);

/*
 * simrep_add(), and the event's part in the experiments: its data (borrowed)
 * holds the spend field. The figures gain "experiments": {name: figures in
 * the shape punchd keeps them} (engine_experiment_report() turns them into a
 * report).
 */
void simrep_add_event(sim_report *r, int status, json_t *body, json_t *data);

/*
 * Also sums the currencies per period ("day", "week", "month", "year"; NULL:
 * not) of the responses' times, UTC: the figures gain "periods": {id:
 * {currency: {issued, redeemed, expired, reversed}}} (simper_table() adds
 * outstanding and the breakage rate).
 */
void simrep_set_per(sim_report *r, const char *per);

/*
 * The per-period figures of a replay (raw "periods" of simrep_json()) with,
 * per currency and period in order, "outstanding" at its end (the replay
 * starts from nothing) and "breakage_rate" (expired / (redeemed + expired), or
 * null). A new reference.
 */
json_t *simper_table(json_t *periods);

/* b - a for every figure of every period and currency of either table (simper_table()). */
json_t *simper_diff(json_t *a, json_t *b);

/*
 * Prints the periods: issued, redeemed, expired, reversed, outstanding and
 * breakage per currency; with b (the other run's), the issued and outstanding
 * of both and their change (b - a).
 */
void simper_print(FILE *f, const char *per, json_t *a, const char *label_a, json_t *b,
                  const char *label_b);

/*
 * The discount money per period (the report's "discounts_per_period": {id:
 * {count, granted}}): b - a for each period of either, and the table printed
 * (b, label_b NULL for one run).
 */
json_t *simper_discounts_diff(json_t *a, json_t *b);
void simper_discounts_print(FILE *f, const char *per, json_t *a, const char *label_a, json_t *b,
                            const char *label_b);

/* Counts one input line that is not an event (bad JSON, bad fields). */
void simrep_add_bad_input(sim_report *r);

/*
 * The figures as JSON (new reference):
 *   {"events": {"ok", "failed", "duplicates"}, "errors": {code: n}, "members": n,
 *    "currencies": {name: {"issued", "redeemed", "expired"}}, "prizes": {name: n},
 *    "badges": {name: n}, "counters": {name: {"counted", "highest"}},
 *    "draws": {name: {"drawn", "won", "lost (REASON)"...}},
 *    "tiers": {tier or "(none)": members}, "messages": n, "other_outcomes": {kind: n}}
 */
json_t *simrep_json(const sim_report *r);

/*
 * Adds the figures of another part of the same run (its members are others)
 * into into: counts add up, "highest" takes the larger.
 */
void simrep_merge(json_t *into, json_t *from);

/* b - a for every figure of either (a missing figure counts 0); new reference. */
json_t *simrep_diff(json_t *a, json_t *b);

/*
 * Prints figures as a table: one value column for a alone, or, when b is
 * given, columns a, b and the change b - a. Labels head the columns.
 */
void simrep_print(FILE *f, json_t *a, const char *label_a, json_t *b, const char *label_b);

/*
 * Adds the outcomes of the settling tick at the end of a replay (lots that
 * expired by the last event's time, for members who sent nothing after),
 * without counting it as an event.
 */
void simrep_add_settled(sim_report *r, json_t *body);

/*
 * simhtml.c: writes report (the --json report, borrowed) to path as one
 * self-contained HTML page drawn by the console's own code, titled title. 0,
 * or -1 when the file could not be written.
 */
int simhtml_write(const char *path, const char *title, json_t *report);

#endif
