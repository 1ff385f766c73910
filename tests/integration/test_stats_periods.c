/*
 * GET /v1/stats?per=week|month: the days summed per ISO week or month, with
 * what is outstanding at the end of each and the breakage rate (of what left
 * the balance, the share that expired unspent). Events carry past times, so
 * the figures fall on known days.
 */
#include "harness.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tmpredis redis;
static punchd_proc punchd;
static char *scripts;

static int group_setup(void **state)
{
    scripts = h_scripts_copy();
    h_write_file(scripts, "pts.lua",
                 "currency \"pts\" { expires_in = \"7d\" }\n"
                 "mechanic \"buy\" { on = \"buy\", run = function(ev, m)\n"
                 "  m:earn(\"pts\", ev.data.amount) end }\n");
    return h_stack_start(&redis, &punchd, scripts, 0, NULL);
}

static int group_teardown(void **state)
{
    h_stack_stop(&redis, &punchd, scripts);
    return 0;
}

static void post(const char *path, const char *body)
{
    http_resp r;
    assert_int_equal(h_http(punchd.port, "POST", path, body, &r), 0);
    if (r.status != 200)
        fail_msg("%s: %ld %s", path, r.status, r.body);
    h_resp_free(&r);
}

/* The figures of pts in period id of a stats answer, or NULL. */
static json_t *period(json_t *stats, const char *id)
{
    return json_object_get(json_object_get(json_object_get(stats, "periods"), id), "pts");
}

static void expect(json_t *p, const char *what, long long issued, long long redeemed,
                   long long expired, long long outstanding, double breakage)
{
    json_t *b = json_object_get(p, "breakage_rate");
    if (!p || json_integer_value(json_object_get(p, "issued")) != issued ||
        json_integer_value(json_object_get(p, "redeemed")) != redeemed ||
        json_integer_value(json_object_get(p, "expired")) != expired ||
        json_integer_value(json_object_get(p, "outstanding")) != outstanding ||
        (breakage < 0 ? !json_is_null(b) : fabs(json_real_value(b) - breakage) > 1e-9))
        fail_msg("%s: want issued %lld redeemed %lld expired %lld outstanding %lld breakage %g,"
                 " got %s",
                 what, issued, redeemed, expired, outstanding, breakage,
                 p ? json_dumps(p, 0) : "nothing");
}

static int expired_seen(void *arg)
{
    http_resp r;
    int ok = 0;
    (void)arg;
    if (h_http(punchd.port, "GET", "/v1/stats?from=2026-11-01&to=2026-11-30&per=month", NULL, &r) ==
        0)
        ok = json_integer_value(json_object_get(period(r.json, "2026-11"), "expired")) == 70 &&
             json_integer_value(json_object_get(period(r.json, "2026-11"), "issued")) == 150;
    h_resp_free(&r);
    return ok;
}

static void figures_per_week_and_month(void **state)
{
    http_resp r;
    (void)state;
    /* Week 45: 100 issued, 30 redeemed. Week 46: the 70 left expire (on the 9th, or at the
     * next event), 50 issued. */
    post("/v1/events", "{\"id\":\"b1\",\"type\":\"buy\",\"member\":\"ann\","
                       "\"at\":\"2026-11-02T10:00:00Z\",\"data\":{\"amount\":100}}");
    post("/v1/members/ann/redeem", "{\"id\":\"r1\",\"currency\":\"pts\",\"amount\":30,"
                                   "\"at\":\"2026-11-03T10:00:00Z\"}");
    post("/v1/events", "{\"id\":\"b2\",\"type\":\"buy\",\"member\":\"ann\","
                       "\"at\":\"2026-11-12T10:00:00Z\",\"data\":{\"amount\":50}}");
    /* The figures follow the commit (an effect): look until they show. */
    assert_true(h_wait_until(expired_seen, NULL, 5000));

    assert_int_equal(
        h_http(punchd.port, "GET", "/v1/stats?from=2026-11-01&to=2026-11-30&per=week", NULL, &r),
        0);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "per")), "week");
    expect(period(r.json, "2026-W45"), "week 45", 100, 30, 0, 70, 0);
    expect(period(r.json, "2026-W46"), "week 46", 50, 0, 70, 50, 1);
    assert_null(period(r.json, "2026-W47"));
    /* The days are still there, and the total has its breakage rate too. */
    assert_non_null(json_object_get(json_object_get(r.json, "days"), "2026-11-02"));
    assert_true(
        fabs(json_real_value(json_object_get(
                 json_object_get(json_object_get(r.json, "total"), "pts"), "breakage_rate")) -
             0.7) < 1e-9);
    h_resp_free(&r);

    assert_int_equal(
        h_http(punchd.port, "GET", "/v1/stats?from=2026-11-01&to=2026-11-30&per=month", NULL, &r),
        0);
    expect(period(r.json, "2026-11"), "November", 150, 30, 70, 50, 0.7);
    h_resp_free(&r);

    /* Without per, no periods; an unknown per is refused. */
    assert_int_equal(
        h_http(punchd.port, "GET", "/v1/stats?from=2026-11-01&to=2026-11-30", NULL, &r), 0);
    assert_null(json_object_get(r.json, "periods"));
    h_resp_free(&r);
    assert_int_equal(h_http(punchd.port, "GET", "/v1/stats?per=fortnight", NULL, &r), 0);
    assert_int_equal(r.status, 400);
    h_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(figures_per_week_and_month),
    };
    return cmocka_run_group_tests_name("stats per period", tests, group_setup, group_teardown);
}
