/*
 * Program-wide experiments in a running punchd: one control group declared
 * once and shared by two mechanics (they agree on every member), the group on
 * every response and ledger entry, and GET /v1/experiments/{name} with each
 * group's figures and the lift of spend per member with its 95% interval,
 * checked against the same sums made here from what was sent.
 */
#include "harness.h"
#include "harness_run.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMBERS 200

static tmpredis redis;
static punchd_proc punchd;
static char *scripts;

static int group_setup(void **state)
{
    scripts = h_scripts_copy();
    h_write_file(scripts, "spring.lua",
                 "experiment \"spring\" { control = 20, spend = \"amount\" }\n"
                 "mechanic \"bonus-a\" { on = \"purchase\", experiment = \"spring\",\n"
                 "  run = function(ev, m) m:earn(\"stars\", 10) end }\n"
                 "mechanic \"bonus-b\" { on = \"purchase\", experiment = \"spring\",\n"
                 "  run = function(ev, m) m:count(\"treated\") end }\n"
                 "mechanic \"own\" { on = \"purchase\", control = 20,\n"
                 "  run = function(ev, m) m:count(\"own\") end }\n");
    return h_stack_start(&redis, &punchd, scripts, 0, NULL);
}

static int group_teardown(void **state)
{
    h_stack_stop(&redis, &punchd, scripts);
    return 0;
}

/* Outcomes of kind (and, when not NULL, of mechanic) in a response. */
static int count_kind(json_t *resp, const char *kind, const char *mechanic)
{
    json_t *o;
    size_t i;
    int n = 0;
    json_array_foreach(json_object_get(resp, "outcomes"), i, o) {
        if (!strcmp(json_string_value(json_object_get(o, "kind")), kind) &&
            (!mechanic || !strcmp(json_string_value(json_object_get(o, "mechanic")), mechanic)))
            n++;
    }
    return n;
}

typedef struct sums {
    double n, spend, sq, events, stars;
} sums;

static FILE *hist; /* every event sent, one JSON line each, for punch simulate */

static json_t *purchase(const char *member, int seq, int amount)
{
    char body[256];
    http_resp r;
    json_t *j;
    snprintf(
        body, sizeof body,
        "{\"id\":\"p-%s-%d\",\"type\":\"purchase\",\"member\":\"%s\",\"data\":{\"amount\":%d}}",
        member, seq, member, amount);
    fprintf(hist, "%s\n", body);
    assert_int_equal(h_http(punchd.port, "POST", "/v1/events", body, &r), 0);
    if (r.status != 200)
        fail_msg("purchase of %s: %ld %s", member, r.status, r.body);
    j = json_incref(r.json);
    h_resp_free(&r);
    return j;
}

static void one_control_group_shared_and_its_lift(void **state)
{
    sums g[2] = {{0}}; /* 0 control, 1 treatment */
    int own_disagrees = 0;
    http_resp r;
    char *history = NULL, events[4096];
    size_t history_len;
    hist = open_memstream(&history, &history_len);
    for (int i = 0; i < MEMBERS; i++) {
        char member[32];
        snprintf(member, sizeof member, "m%d", i);
        json_t *resp = purchase(member, 1, 100 + (i % 3) * 10);
        const char *group =
            json_string_value(json_object_get(json_object_get(resp, "experiments"), "spring"));
        int t = group && !strcmp(group, "treatment");
        int held = count_kind(resp, "control", "bonus-a") + count_kind(resp, "control", "bonus-b");
        if (!group || (strcmp(group, "control") && !t))
            fail_msg("%s: no group in %s", member, json_dumps(resp, 0));
        /* Both mechanics of the experiment agree: both held out, or both ran. */
        if (t ? held != 0 || count_kind(resp, "stars", "bonus-a") != 1 ||
                    count_kind(resp, "counter", "bonus-b") != 1
              : held != 2)
            fail_msg("%s in %s: the mechanics disagree: %s", member, group, json_dumps(resp, 0));
        /* A mechanic's own control = 20 still splits members its own way. */
        own_disagrees += (count_kind(resp, "control", "own") == 1) != !t;
        g[t].n++;
        g[t].events++;
        g[t].spend += 100 + (i % 3) * 10;
        g[t].stars += t ? 10 : 0;
        /* Treatment members buy once more: twice the spend, a lift of about 1. */
        if (t) {
            double before = 100 + (i % 3) * 10, x = 100 + (i % 5) * 20;
            json_decref(purchase(member, 2, (int)x));
            g[1].events++;
            g[1].spend += x;
            g[1].stars += 10;
            g[1].sq += (before + x) * (before + x);
        } else {
            g[0].sq += (100.0 + (i % 3) * 10) * (100.0 + (i % 3) * 10);
        }
        json_decref(resp);
    }
    assert_in_range((long)g[0].n, 20, 60); /* 20% of 200, give or take */
    assert_true(own_disagrees > 0);        /* each control = N draws its own members */

    /* The ledger says the group too. */
    assert_int_equal(h_http(punchd.port, "GET", "/v1/members/m0/ledger", NULL, &r), 0);
    json_t *e0 = json_array_get(json_object_get(r.json, "entries"), 0);
    assert_non_null(
        json_string_value(json_object_get(json_object_get(e0, "experiments"), "spring")));
    h_resp_free(&r);

    assert_int_equal(h_http(punchd.port, "GET", "/v1/experiments/spring", NULL, &r), 0);
    assert_int_equal(r.status, 200);
    json_t *groups = json_object_get(r.json, "groups");
    const char *names[2] = {"control", "treatment"};
    double mean[2], var[2];
    for (int k = 0; k < 2; k++) {
        json_t *gj = json_object_get(groups, names[k]);
        assert_int_equal(json_integer_value(json_object_get(gj, "members")), (long)g[k].n);
        assert_int_equal(json_integer_value(json_object_get(gj, "events")), (long)g[k].events);
        assert_int_equal(json_integer_value(json_object_get(gj, "spend")), (long)g[k].spend);
        assert_int_equal(
            json_integer_value(json_object_get(json_object_get(gj, "issued"), "stars")),
            (long)g[k].stars);
        mean[k] = g[k].spend / g[k].n;
        var[k] = (g[k].sq - g[k].n * mean[k] * mean[k]) / (g[k].n - 1);
    }
    double diff = mean[1] - mean[0], se = sqrt(var[0] / g[0].n + var[1] / g[1].n);
    double lift = json_real_value(json_object_get(r.json, "lift"));
    json_t *ci = json_object_get(r.json, "lift_ci95");
    if (fabs(lift - diff / mean[0]) > 1e-3 ||
        fabs(json_real_value(json_array_get(ci, 0)) - (diff - 1.96 * se) / mean[0]) > 1e-3 ||
        fabs(json_real_value(json_array_get(ci, 1)) - (diff + 1.96 * se) / mean[0]) > 1e-3)
        fail_msg("want lift %.4f [%.4f, %.4f], got %s", diff / mean[0],
                 (diff - 1.96 * se) / mean[0], (diff + 1.96 * se) / mean[0], r.body);
    assert_true(json_is_true(json_object_get(r.json, "significant")));
    assert_int_equal(json_real_value(json_object_get(r.json, "control")), 20);
    h_resp_free(&r);

    /* A retried event counts once. */
    json_decref(purchase("m0", 1, 100));
    assert_int_equal(h_http(punchd.port, "GET", "/v1/experiments/spring", NULL, &r), 0);
    json_t *gj = json_object_get(json_object_get(r.json, "groups"), "control");
    json_t *gt = json_object_get(json_object_get(r.json, "groups"), "treatment");
    assert_int_equal(json_integer_value(json_object_get(gj, "events")) +
                         json_integer_value(json_object_get(gt, "events")),
                     (long)(g[0].events + g[1].events));
    h_resp_free(&r);

    assert_int_equal(h_http(punchd.port, "GET", "/v1/experiments/autumn", NULL, &r), 0);
    assert_int_equal(r.status, 404);
    h_resp_free(&r);

    /* punch simulate, replaying the same events, reports the experiment as punchd does. */
    fclose(hist);
    h_write_file(scripts, "history.jsonl", history);
    snprintf(events, sizeof events, "%s/history.jsonl", scripts);
    const char *argv[] = {PUNCH_PATH, "simulate",  "--json", "--no-progress", "--workers",
                          "2",        "--scripts", scripts,  events,          NULL};
    h_proc_out o;
    h_run(argv, NULL, NULL, 30000, &o);
    json_t *sim = json_loads(o.out, 0, NULL);
    json_t *rep =
        json_object_get(json_object_get(json_object_get(sim, "scripts"), "experiments"), "spring");
    assert_int_equal(h_http(punchd.port, "GET", "/v1/experiments/spring", NULL, &r), 0);
    if (o.status != 0 || !rep || !json_equal(rep, r.json))
        fail_msg("punch simulate (exit %d) reports %s; punchd %s; %s", o.status,
                 rep ? json_dumps(rep, 0) : "nothing", r.body, o.err);
    h_resp_free(&r);
    json_decref(sim);
    h_proc_out_free(&o);
    free(history);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_control_group_shared_and_its_lift),
    };
    return cmocka_run_group_tests_name("experiments", tests, group_setup, group_teardown);
}
