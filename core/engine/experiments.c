/*
 * Program-wide experiments (docs/mechanics.md, "Experiments: holdouts and
 * lift"): a control group declared once (`experiment "spring" {control = 10,
 * spend = "amount"}`) that every mechanic naming it holds out alike.
 *
 * Per event (experiments.h): the member's group in each experiment, for the
 * response and every ledger entry; the member's entry (x:<name>: group and
 * the spend counted since) and an "experiment" effect that adds the event to
 * the group's figures after the commit. The figures (NS:{exp:X}:figures) are
 * sums, so the read can give each group's members, events, spend (and its
 * spread, for the confidence interval), currency issued and redeemed.
 */
#include "experiments.h"
#include "engine-internal.h"
#include "store/ops-internal.h"
#include "store/reads-internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The spend an event brings: its data's spend field, a number >= 0 (fractions dropped). */
static int64_t event_spend(const pc_event *ev, json_t *decl)
{
    const char *field = json_string_value(json_object_get(decl, "spend"));
    json_t *v = field ? json_object_get(pc_event_data(ev), field) : NULL;
    double d = json_is_number(v) ? json_number_value(v) : 0;
    return d > 0 && d < 9e15 ? (int64_t)d : 0;
}

/* The figures effect of one experiment: what this event adds to its member's group. */
static json_t *figures_effect(const char *name, const char *group, int entered, int64_t spend,
                              int64_t before, const member_state *m)
{
    json_t *moves = json_array();
    for (size_t i = 0; moves && i < m->nentries; i++) {
        const member_entry *en = &m->entries[i];
        int64_t amount = en->delta + en->pending;
        const char *k = !en->kind                     ? (amount >= 0 ? "issued" : "redeemed")
                        : !strcmp(en->kind, "redeem") ? "redeemed"
                                                      : NULL;
        if (k && amount)
            json_array_append_new(moves, json_pack("[s, s, I]", en->currency, k,
                                                   (json_int_t)(amount < 0 ? -amount : amount)));
    }
    /* The sum of squares of members' spends moves by (before + spend)^2 - before^2. */
    double sq = (double)spend * (2.0 * (double)before + (double)spend);
    return moves ? json_pack("{s:s, s:s, s:s, s:b, s:I, s:f, s:o}", "op", "experiment", "name",
                             name, "group", group, "entered", entered, "spend", (json_int_t)spend,
                             "spend_sq", sq, "moves", moves)
                 : NULL;
}

int experiments_after(const mechset *set, const pc_event *ev, member_state *m, int figures,
                      json_t **groups, pc_error *err)
{
    json_t *exps = mechset_experiments(set), *decl;
    const char *name;
    *groups = NULL;
    if (!json_object_size(exps))
        return 0;
    if (!(*groups = json_object()))
        return pc_fail(err, 500, "internal", "out of memory");
    json_object_foreach(exps, name, decl) {
        const char *group = mechset_experiment_group(name, decl, m->id), *was;
        int64_t before = 0, spend;
        int entered;
        json_object_set_new(*groups, name, json_string(group));
        /* The sweeper's tick is no doing of the member's: it is not counted. */
        if (!strcmp(ev->type, "tick"))
            continue;
        entered = member_experiment(m, name, &was, &before) != 0;
        spend = event_spend(ev, decl);
        if ((entered || spend) && member_set_experiment(m, name, group, before + spend))
            return pc_fail(err, 500, "internal", "out of memory");
        if (figures && member_add_effect(m, figures_effect(name, group, entered, spend, before, m)))
            return pc_fail(err, 500, "internal", "out of memory");
    }
    return 0;
}

void experiments_apply(store *s, const char *ns, json_t *fx)
{
    const char *name = json_string_value(json_object_get(fx, "name"));
    const char *group = json_string_value(json_object_get(fx, "group"));
    json_int_t spend = json_integer_value(json_object_get(fx, "spend"));
    char field[200];
    json_t *mv;
    size_t i;
    if (!name || !group)
        return;
#define ADD(what, by)                                                                              \
    do {                                                                                           \
        snprintf(field, sizeof field, "%s:%s", group, what);                                       \
        store_experiment_add(s, ns, name, field, by);                                              \
    } while (0)
    if (json_is_true(json_object_get(fx, "entered")))
        ADD("members", 1);
    ADD("events", 1);
    if (spend) {
        ADD("spend", spend);
        snprintf(field, sizeof field, "%s:spend_sq", group);
        store_experiment_add_float(s, ns, name, field,
                                   json_number_value(json_object_get(fx, "spend_sq")));
    }
    json_array_foreach(json_object_get(fx, "moves"), i, mv) {
        const char *cur = json_string_value(json_array_get(mv, 0));
        const char *kind = json_string_value(json_array_get(mv, 1));
        if (cur && kind) {
            snprintf(field, sizeof field, "%s:%s:%s", group, kind, cur);
            store_experiment_add(s, ns, name, field, json_integer_value(json_array_get(mv, 2)));
        }
    }
#undef ADD
}

/* ---- the report ---- */

static double figure(json_t *figures, const char *group, const char *what)
{
    char k[200];
    json_t *v;
    snprintf(k, sizeof k, "%s:%s", group, what);
    v = json_object_get(figures, k);
    return json_is_string(v) ? strtod(json_string_value(v), NULL) : json_number_value(v);
}

/* One group: its counts, spend per member, and currency issued and redeemed by currency. */
static json_t *group_json(json_t *figures, const char *group, double *n, double *mean, double *var)
{
    json_t *issued = json_object(), *redeemed = json_object(), *v;
    const char *k;
    size_t glen = strlen(group);
    double spend = figure(figures, group, "spend"), sq = figure(figures, group, "spend_sq");
    *n = figure(figures, group, "members");
    *mean = *n > 0 ? spend / *n : 0;
    *var = *n > 1 ? fmax(0, (sq - *n * *mean * *mean) / (*n - 1)) : 0;
    json_object_foreach(figures, k, v) {
        const char *rest = !strncmp(k, group, glen) && k[glen] == ':' ? k + glen + 1 : NULL;
        double x = json_is_string(v) ? strtod(json_string_value(v), NULL) : json_number_value(v);
        if (rest && !strncmp(rest, "issued:", 7))
            json_object_set_new(issued, rest + 7, json_integer((json_int_t)x));
        else if (rest && !strncmp(rest, "redeemed:", 9))
            json_object_set_new(redeemed, rest + 9, json_integer((json_int_t)x));
    }
    return json_pack("{s:I, s:I, s:I, s:f, s:o, s:o}", "members", (json_int_t)*n, "events",
                     (json_int_t)figure(figures, group, "events"), "spend", (json_int_t)spend,
                     "spend_per_member", round(*mean * 100) / 100, "issued", issued, "redeemed",
                     redeemed);
}

static double round4(double x)
{
    return round(x * 10000) / 10000;
}

json_t *engine_experiment_report(const char *name, json_t *decl, json_t *figures)
{
    double nc, mc, vc, nt, mt, vt;
    json_t *control = group_json(figures, "control", &nc, &mc, &vc);
    json_t *treatment = group_json(figures, "treatment", &nt, &mt, &vt);
    json_t *out = json_pack(
        "{s:s, s:O, s:O, s:s, s:{s:o, s:o}}", "experiment", name, "control",
        decl ? json_object_get(decl, "control") : json_null(), "spend",
        decl && json_object_get(decl, "spend") ? json_object_get(decl, "spend") : json_null(),
        "metric", "spend per member", "groups", "control", control, "treatment", treatment);
    if (!out)
        return NULL;
    /*
     * Lift: how much more the treatment spends per member than the control,
     * as a share of the control's. Its 95% interval is the difference of the
     * means +- 1.96 standard errors (Welch: each group its own variance),
     * over the control's mean (taken as known). Needs two members a group.
     */
    if (nc >= 2 && nt >= 2 && mc > 0) {
        double diff = mt - mc, se = sqrt(vc / nc + vt / nt);
        double lo = (diff - 1.96 * se) / mc, hi = (diff + 1.96 * se) / mc;
        json_object_set_new(out, "lift", json_real(round4(diff / mc)));
        json_object_set_new(out, "lift_ci95", json_pack("[f, f]", round4(lo), round4(hi)));
        json_object_set_new(out, "significant", json_boolean(lo > 0 || hi < 0));
    } else {
        json_object_set_new(out, "lift", json_null());
        json_object_set_new(out, "lift_ci95", json_null());
        json_object_set_new(out, "significant", json_false());
        json_object_set_new(out, "note",
                            json_string("lift needs two members in each group and a control "
                                        "group that spent something"));
    }
    return out;
}

/* ---- GET /v1/experiments/{name} ---- */

typedef struct exp_read {
    engine_done_fn *done;
    void *arg;
    json_t *decl; /* the live set's declaration, or NULL */
    char name[PC_TYPE_MAX + 1];
} exp_read;

static void on_figures(void *arg, const store_error *err, const store_pairs *p)
{
    exp_read *q = arg;
    pc_error e;
    json_t *figures = json_object(), *body;
    if (err) {
        store_error_fail(err, &e);
        q->done(q->arg, e.status, pc_error_json(&e));
        goto out;
    }
    for (size_t i = 0; figures && i + 1 < p->n; i += 2) {
        char k[256];
        snprintf(k, sizeof k, "%.*s", (int)p->len[i], p->v[i]);
        json_object_set_new(figures, k, json_stringn(p->v[i + 1], p->len[i + 1]));
    }
    if (!q->decl && p->n == 0) {
        pc_fail(&e, 404, "not_found",
                "no such experiment (declare it with experiment \"%s\" {...})", q->name);
        q->done(q->arg, 404, pc_error_json(&e));
        goto out;
    }
    body = figures ? engine_experiment_report(q->name, q->decl, figures) : NULL;
    if (!body) {
        engine_answer_oom(q->done, q->arg);
    } else {
        q->done(q->arg, 200, body);
    }
out:
    json_decref(figures);
    json_decref(q->decl);
    free(q);
}

void engine_get_experiment(engine *e, const char *name, engine_done_fn *done, void *arg)
{
    exp_read *q;
    mechset *set;
    pc_error err;
    if (!pc_valid_name(name)) {
        pc_fail(&err, 404, "not_found", "no such experiment");
        done(arg, 404, pc_error_json(&err));
        return;
    }
    if (!(q = calloc(1, sizeof *q))) {
        engine_answer_oom(done, arg);
        return;
    }
    q->done = done;
    q->arg = arg;
    snprintf(q->name, sizeof q->name, "%s", name);
    if ((set = mech_holder_acquire(e->holder))) {
        q->decl = json_incref(json_object_get(mechset_experiments(set), name));
        mechset_unref(set);
    }
    store_read_experiment(e->store, e->ns, name, on_figures, q);
}
