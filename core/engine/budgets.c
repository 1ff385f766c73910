/*
 * GET /v1/budgets/{name}: what a campaign budget (m:budget, docs/mechanics.md
 * "Budgets") let through, period by period, from its log: the budget_take
 * script adds every amount it grants to used:PERIOD (budget_release takes a
 * given-back one off) and keeps max:PERIOD, and the log outlives each
 * period's own key. The marketers' console shows it.
 */
#include "engine-internal.h"
#include "punchcard/query.h"
#include "store/reads-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct budget_read {
    engine_done_fn *done;
    void *arg;
    char name[PC_TYPE_MAX + 1];
} budget_read;

/* Newest period first: the ids of one `per` sort as their times do. */
static int newest_first(const void *a, const void *b)
{
    return strcmp(json_string_value(json_object_get(*(json_t *const *)b, "period")),
                  json_string_value(json_object_get(*(json_t *const *)a, "period")));
}

/* {"budget", "periods": [{"period", "used", "max", "left"}]} of the log's fields; NULL: OOM. */
static json_t *budget_json(const char *name, const store_pairs *p)
{
    json_t *by = json_object(), *list = NULL, *row, *body;
    json_t **rows = NULL;
    const char *period;
    size_t n = 0;

    for (size_t i = 0; by && i + 1 < p->n; i += 2) {
        char field[160], value[32];
        int is_used;
        snprintf(field, sizeof field, "%.*s", (int)p->len[i], p->v[i]);
        snprintf(value, sizeof value, "%.*s", (int)p->len[i + 1], p->v[i + 1]);
        is_used = !strncmp(field, "used:", 5);
        if (!is_used && strncmp(field, "max:", 4))
            continue;
        period = field + (is_used ? 5 : 4);
        if (!(row = json_object_get(by, period))) {
            row = json_pack("{s:s, s:I, s:I}", "period", period, "used", (json_int_t)0, "max",
                            (json_int_t)0);
            if (!row || json_object_set_new(by, period, row))
                goto oom;
        }
        json_object_set_new(row, is_used ? "used" : "max", json_integer(strtoll(value, NULL, 10)));
    }
    if (!by || !(list = json_array()) || !(rows = calloc(json_object_size(by) + 1, sizeof *rows)))
        goto oom;
    json_object_foreach(by, period, row) {
        json_int_t left = json_integer_value(json_object_get(row, "max")) -
                          json_integer_value(json_object_get(row, "used"));
        json_object_set_new(row, "left", json_integer(left > 0 ? left : 0));
        rows[n++] = row;
    }
    qsort(rows, n, sizeof *rows, newest_first);
    for (size_t i = 0; i < n; i++)
        json_array_append(list, rows[i]);
    free(rows);
    json_decref(by);
    body = json_pack("{s:s, s:o}", "budget", name, "periods", list);
    return body;
oom:
    free(rows);
    json_decref(list);
    json_decref(by);
    return NULL;
}

static void on_log(void *arg, const store_error *err, const store_pairs *p)
{
    budget_read *q = arg;
    pc_error e;
    json_t *body;
    if (err) {
        store_error_fail(err, &e);
        q->done(q->arg, e.status, pc_error_json(&e));
    } else if (p->n == 0) {
        pc_fail(&e, 404, "not_found", "no such budget (nothing was taken from it yet)");
        q->done(q->arg, 404, pc_error_json(&e));
    } else if (!(body = budget_json(q->name, p))) {
        engine_answer_oom(q->done, q->arg);
    } else {
        q->done(q->arg, 200, body);
    }
    free(q);
}

void engine_get_budget(engine *e, const char *name, engine_done_fn *done, void *arg)
{
    budget_read *q;
    pc_error err;
    if (!pc_valid_name(name)) {
        pc_fail(&err, 404, "not_found", "no such budget");
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
    store_read_budget_log(e->store, e->ns, name, on_log, q);
}
