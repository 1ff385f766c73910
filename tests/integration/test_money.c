/*
 * Currencies through a real punchd and Redis (the fuel-station example):
 * redemptions racing on one member never overdraw or double-spend; expiry
 * reaches a member who sends nothing; a partial reversal after a partial
 * spend takes back exactly what the rules say; attributes, the figures per
 * day and per partner; and every ledger sums to its balance.
 */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "punchcard/common.h"
#include "model/lots-internal.h"
#include "common/calendar-internal.h"

static tmpredis redis;
static punchd_proc punchd;
static char *scripts;

static int group_setup(void **state)
{
    static const char *const extra[] = {"--sweep-ms", "50", NULL};
    scripts = h_dir_copy("examples/fuel-station");
    return h_stack_start(&redis, &punchd, scripts, 0, extra);
}

static int group_teardown(void **state)
{
    h_stack_stop(&redis, &punchd, scripts);
    return 0;
}

static const char *err_code(http_resp *r)
{
    return json_string_value(json_object_get(json_object_get(r->json, "error"), "code"));
}

/* An order of `fuel` on fuel: fuel/10 bonuses. */
static void fill_up(const char *id, const char *member, int fuel, const char *extra)
{
    char body[512];
    http_resp r;
    snprintf(body, sizeof body,
             "{\"id\":\"%s\",\"type\":\"order\",\"member\":\"%s\"%s,\"data\":{\"items\":"
             "[{\"category\":\"fuel\",\"amount\":%d}]}}",
             id, member, extra ? extra : "", fuel);
    if (h_event(punchd.port, body, &r) != 200)
        fail_msg("order %s: %ld %s", id, r.status, r.body);
    h_resp_free(&r);
}

static long post(const char *path, const char *body, http_resp *r)
{
    if (h_http(punchd.port, "POST", path, body, r))
        return -1;
    return r->status;
}

static void assert_ledger_is_balance(const char *member)
{
    long long bal = h_balance(punchd.port, member, "bonus");
    long long sum = h_ledger_sum(punchd.port, member, "bonus", NULL);
    if (sum != bal)
        fail_msg("%s: ledger sums to %lld, balance is %lld", member, sum, bal);
}

static void racing_redemptions_never_overdraw(void **state)
{
    enum { N = 30 };
    char *bodies[N];
    http_resp outs[N];
    int ok = 0, refused = 0;
    fill_up("rr-1", "rae", 1000, NULL); /* 100 bonuses */
    for (int i = 0; i < N; i++) {
        bodies[i] = malloc(200);
        snprintf(bodies[i], 200, "{\"id\":\"redeem-%d\",\"currency\":\"bonus\",\"amount\":10}", i);
    }
    assert_int_equal(h_http_parallel(punchd.port, "/v1/members/rae/redeem",
                                     (const char *const *)bodies, N, outs),
                     0);
    for (int i = 0; i < N; i++) {
        if (outs[i].status == 200)
            ok++;
        else if (outs[i].status == 422 && !strcmp(err_code(&outs[i]), "insufficient_balance"))
            refused++;
        else
            fail_msg("redeem %d: %ld %s", i, outs[i].status, outs[i].body);
        h_resp_free(&outs[i]);
    }
    assert_int_equal(ok, 10);
    assert_int_equal(refused, N - 10);
    assert_int_equal(h_balance(punchd.port, "rae", "bonus"), 0);
    assert_ledger_is_balance("rae");
    /* A retried redemption is the same redemption. */
    for (int i = 0; i < N; i++) {
        http_resp r;
        long st = post("/v1/members/rae/redeem", bodies[i], &r);
        if (st == 200)
            assert_true(json_is_true(json_object_get(r.json, "duplicate")));
        h_resp_free(&r);
        free(bodies[i]);
    }
    assert_int_equal(h_balance(punchd.port, "rae", "bonus"), 0);
}

static void redemption_input_is_checked(void **state)
{
    static const struct {
        const char *body;
        long status;
        const char *code;
    } cases[] = {
        {"{\"currency\":\"bonus\",\"amount\":10}", 400, "bad_request"},
        {"{\"id\":\"x1\",\"currency\":\"bonus\",\"amount\":0}", 400, "bad_request"},
        {"{\"id\":\"x1\",\"currency\":\"bonus\",\"amount\":1.5}", 400, "bad_request"},
        {"{\"id\":\"x1\",\"currency\":\"Bonus!\",\"amount\":1}", 400, "bad_request"},
        {"{\"id\":\"x1\",\"currency\":\"bonus\",\"amount\":1,\"extra\":1}", 400, "bad_request"},
        {"{\"id\":\"x1\",\"currency\":\"bonus\",\"amount\":1}", 422, "insufficient_balance"},
        {"{\"id\":\"x2\",\"currency\":\"bonus\",\"amount\":5,\"order_total\":10}", 422, "rejected"},
    };
    fill_up("ri-1", "ria", 100, NULL); /* 10 bonuses */
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        http_resp r;
        const char *body = cases[i].body;
        char buf[300];
        if (i == 5) { /* more than the balance */
            snprintf(buf, sizeof buf, "{\"id\":\"x1\",\"currency\":\"bonus\",\"amount\":11}");
            body = buf;
        }
        long st = post("/v1/members/ria/redeem", body, &r);
        if (st != cases[i].status || !err_code(&r) || strcmp(err_code(&r), cases[i].code))
            fail_msg("case %zu (%s): %ld %s", i, body, st, r.body);
        h_resp_free(&r);
    }
    assert_int_equal(h_balance(punchd.port, "ria", "bonus"), 10);
    /* The engine's own event types cannot be sent as events. */
    http_resp r;
    assert_int_equal(h_event(punchd.port,
                             "{\"id\":\"sneak\",\"type\":\"redeem\",\"member\":\"ria\",\"data\":{"
                             "\"currency\":\"bonus\",\"amount\":1}}",
                             &r),
                     400);
    h_resp_free(&r);
}

static int expired_entry_seen(void *arg)
{
    http_resp r;
    int seen = 0;
    if (h_http(punchd.port, "GET", "/v1/members/sid/ledger", NULL, &r) == 0 && r.json) {
        json_t *first = json_array_get(json_object_get(r.json, "entries"), 0);
        seen = first && !strcmp(json_string_value(json_object_get(first, "kind")), "expire");
    }
    h_resp_free(&r);
    return seen;
}

/* Bonuses last 12 months: earned "12 months ago plus 1.5 s", they expire in 1.5 s. */
static void expiry_reaches_a_silent_member(void **state)
{
    char extra[80], iso[40];
    /* 12 calendar months before "in 1.5 s" (a 29 February would shift it by a day). */
    int64_t at = cal_add_months(pc_now_ms() + 1500, -12);
    pc_time_format(at, iso, sizeof iso);
    snprintf(extra, sizeof extra, ",\"at\":\"%s\"", iso);
    fill_up("sid-1", "sid", 420, extra);
    assert_int_equal(h_balance(punchd.port, "sid", "bonus"), 42);
    /* Nothing more from Sid: the sweeper expires the lot on time. */
    assert_true(h_wait_until(expired_entry_seen, NULL, 10000));
    assert_int_equal(h_balance(punchd.port, "sid", "bonus"), 0);
    assert_ledger_is_balance("sid");
    http_resp r;
    assert_int_equal(h_http(punchd.port, "GET", "/v1/members/sid/ledger", NULL, &r), 0);
    json_t *e = json_array_get(json_object_get(r.json, "entries"), 0);
    assert_int_equal(json_integer_value(json_object_get(e, "delta")), -42);
    assert_string_equal(json_string_value(json_object_get(e, "mechanic")), "expiry");
    h_resp_free(&r);
}

static long reverse(const char *event, const char *body, http_resp *r)
{
    char path[200];
    snprintf(path, sizeof path, "/v1/events/%s/reverse", event);
    return post(path, body, r);
}

static void partial_reversal_after_partial_spend(void **state)
{
    http_resp r;
    fill_up("pv-1", "pia", 1000, NULL); /* lot 1: 100 */
    fill_up("pv-2", "pia", 500, NULL);  /* lot 2: 50 */
    assert_int_equal(post("/v1/members/pia/redeem",
                          "{\"id\":\"pv-r\",\"currency\":\"bonus\",\"amount\":120}", &r),
                     200);
    h_resp_free(&r); /* lot 1 spent whole, lot 2: 20 spent, 30 left */

    /* Refund 40 of pv-2: its 30 left, then 10 of what was spent -- a debt, the balance being 0. */
    assert_int_equal(reverse("pv-2",
                             "{\"member\":\"pia\",\"id\":\"pv-2-refund-1\","
                             "\"currency\":\"bonus\",\"amount\":40}",
                             &r),
                     200);
    h_resp_free(&r);
    assert_int_equal(h_balance(punchd.port, "pia", "bonus"), -10);
    /* The same refund again changes nothing. */
    assert_int_equal(reverse("pv-2",
                             "{\"member\":\"pia\",\"id\":\"pv-2-refund-1\","
                             "\"currency\":\"bonus\",\"amount\":40}",
                             &r),
                     200);
    assert_true(json_is_true(json_object_get(r.json, "duplicate")));
    h_resp_free(&r);
    assert_int_equal(h_balance(punchd.port, "pia", "bonus"), -10);
    /* The whole of what is left of pv-2 (10 spent): once, whatever the retries. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(reverse("pv-2", "{\"member\":\"pia\"}", &r), 200);
        h_resp_free(&r);
    }
    assert_int_equal(h_balance(punchd.port, "pia", "bonus"), -20);
    /* Nothing is left to reverse of pv-2 under another id. */
    assert_int_equal(reverse("pv-2",
                             "{\"member\":\"pia\",\"id\":\"again\",\"currency\":\"bonus\","
                             "\"amount\":1}",
                             &r),
                     422);
    assert_string_equal(err_code(&r), "nothing_to_reverse");
    h_resp_free(&r);
    /* A reversal needs a known member; a partial one needs its own id. */
    assert_int_equal(reverse("pv-2", "{}", &r), 400);
    h_resp_free(&r);
    assert_int_equal(
        reverse("pv-1", "{\"member\":\"pia\",\"currency\":\"bonus\",\"amount\":5}", &r), 400);
    h_resp_free(&r);
    /* The next earnings repay the debt first. */
    fill_up("pv-3", "pia", 1000, NULL);
    assert_int_equal(h_balance(punchd.port, "pia", "bonus"), 80);
    assert_ledger_is_balance("pia");
}

/* Refund one item of an order: exactly what that item earned comes back. */
static void refund_of_some_items(void **state)
{
    http_resp r;
    const char *order = "{\"id\":\"it-1\",\"type\":\"order\",\"member\":\"ivy\",\"data\":{"
                        "\"items\":[{\"category\":\"fuel\",\"amount\":500},"
                        "{\"category\":\"shop\",\"amount\":125}]}}";
    assert_int_equal(h_event(punchd.port, order, &r), 200);
    h_resp_free(&r);
    assert_int_equal(h_balance(punchd.port, "ivy", "bonus"), 86);
    assert_int_equal(reverse("it-1",
                             "{\"member\":\"ivy\",\"id\":\"ret-shop\",\"items\":"
                             "[{\"category\":\"shop\",\"amount\":125}]}",
                             &r),
                     200);
    h_resp_free(&r);
    assert_int_equal(h_balance(punchd.port, "ivy", "bonus"), 50);
    /* Items and an amount do not mix; items need their own refund id. */
    assert_int_equal(reverse("it-1",
                             "{\"member\":\"ivy\",\"items\":[{\"category\":\"fuel\","
                             "\"amount\":500}]}",
                             &r),
                     400);
    h_resp_free(&r);
    assert_ledger_is_balance("ivy");
}

static void attributes_are_validated_and_kept(void **state)
{
    http_resp r;
    assert_int_equal(h_http(punchd.port, "PUT", "/v1/members/ada",
                            "{\"attributes\":{\"tz\":\"Mars/Olympus\"}}", &r),
                     0);
    assert_int_equal(r.status, 400);
    h_resp_free(&r);
    assert_int_equal(h_http(punchd.port, "PUT", "/v1/members/ada",
                            "{\"attributes\":{\"birthday\":\"1990-13-01\"}}", &r),
                     0);
    assert_int_equal(r.status, 400);
    h_resp_free(&r);
    assert_int_equal(h_http(punchd.port, "PUT", "/v1/members/ada",
                            "{\"id\":\"p1\",\"attributes\":{\"tz\":\"Europe/Paris\","
                            "\"birthday\":\"03-10\",\"partner\":\"fuelco\"}}",
                            &r),
                     0);
    assert_int_equal(r.status, 200);
    h_resp_free(&r);
    assert_int_equal(h_http(punchd.port, "GET", "/v1/members/ada", NULL, &r), 0);
    json_t *a = json_object_get(r.json, "attributes");
    assert_string_equal(json_string_value(json_object_get(a, "tz")), "Europe/Paris");
    assert_string_equal(json_string_value(json_object_get(a, "birthday")), "03-10");
    h_resp_free(&r);
}

static int partner_issued_is(void *arg)
{
    http_resp r;
    char day[16], path[200];
    int ok = 0;
    time_t now = time(NULL);
    strftime(day, sizeof day, "%Y-%m-%d", gmtime(&now));
    snprintf(path, sizeof path, "/v1/partners/fuelco/summary?from=%s&to=%s", day, day);
    if (h_http(punchd.port, "GET", path, NULL, &r) == 0 && r.status == 200)
        ok = json_integer_value(json_object_get(
                 json_object_get(json_object_get(r.json, "sum"), "bonus"), "issued")) ==
             (json_int_t)(intptr_t)arg;
    h_resp_free(&r);
    return ok;
}

static void figures_per_partner_and_program(void **state)
{
    http_resp r;
    fill_up("pt-1", "pat", 1000, ",\"partner\":\"fuelco\"");
    fill_up("pt-2", "pat", 300, ",\"partner\":\"fuelco\"");
    fill_up("pt-3", "pat", 700, ",\"partner\":\"carwash\"");
    /* The figures follow the commit (an effect), so look until they show. */
    assert_true(h_wait_until(partner_issued_is, (void *)(intptr_t)130, 5000));
    /* Every ledger entry keeps its partner. */
    assert_int_equal(h_http(punchd.port, "GET", "/v1/members/pat/ledger", NULL, &r), 0);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(r.json, "entries"), 0), "partner")),
                        "carwash");
    h_resp_free(&r);
    /* The program's figures: outstanding = issued - redeemed - expired - reversed. */
    assert_int_equal(h_http(punchd.port, "GET", "/v1/stats", NULL, &r), 0);
    assert_int_equal(r.status, 200);
    json_t *t = json_object_get(json_object_get(r.json, "total"), "bonus");
    assert_non_null(t);
    assert_int_equal(json_integer_value(json_object_get(t, "outstanding")),
                     json_integer_value(json_object_get(t, "issued")) -
                         json_integer_value(json_object_get(t, "redeemed")) -
                         json_integer_value(json_object_get(t, "expired")) -
                         json_integer_value(json_object_get(t, "reversed")));
    assert_true(json_integer_value(json_object_get(t, "issued")) >= 200);
    /* Outstanding at the end of today is what is outstanding now; yesterday's is less today's net.
     */
    {
        char day[16];
        time_t now = time(NULL);
        strftime(day, sizeof day, "%Y-%m-%d", gmtime(&now));
        json_t *d = json_object_get(json_object_get(json_object_get(r.json, "days"), day), "bonus");
        assert_non_null(d);
        assert_int_equal(json_integer_value(json_object_get(d, "outstanding")),
                         json_integer_value(json_object_get(t, "outstanding")));
    }
    h_resp_free(&r);
    assert_int_equal(h_http(punchd.port, "GET", "/v1/stats?from=2026-13-01", NULL, &r), 0);
    assert_int_equal(r.status, 400);
    h_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(racing_redemptions_never_overdraw),
        cmocka_unit_test(redemption_input_is_checked),
        cmocka_unit_test(expiry_reaches_a_silent_member),
        cmocka_unit_test(partial_reversal_after_partial_spend),
        cmocka_unit_test(refund_of_some_items),
        cmocka_unit_test(attributes_are_validated_and_kept),
        cmocka_unit_test(figures_per_partner_and_program),
    };
    return cmocka_run_group_tests_name("money", tests, group_setup, group_teardown);
}
