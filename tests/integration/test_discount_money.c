/*
 * Discount money granted, summed: discount(p, {of = total}) carries its money
 * off (`off`), and GET /v1/stats (per day, per week, in total) and punch
 * simulate (in total, per week, and the change --against another program)
 * sum it. Events carry past times, so the money falls on known days.
 */
#include "harness.h"
#include "harness_run.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static tmpredis redis;
static punchd_proc punchd;
static char *scripts, *cheaper, events[300];

/* 10% off each order's total; a 5% voucher that names no money. */
static const char program[] =
    "mechanic \"ten-off\" { on = \"order\", run = function(ev, m)\n"
    "  return discount(10, {of = ev.data.total}) end }\n"
    "mechanic \"voucher\" { on = \"voucher\", run = function(ev, m) return discount(5) end }\n"
    "mechanic \"bad-of\" { on = \"bad\", run = function(ev, m) return discount(10, {of = -1}) end "
    "}\n";

static const char history[] =
    "{\"id\": \"o1\", \"type\": \"order\", \"member\": \"ann\", \"at\": \"2026-11-02T10:00:00Z\", "
    "\"data\": {\"total\": 1000}}\n"
    "{\"id\": \"o2\", \"type\": \"order\", \"member\": \"bob\", \"at\": \"2026-11-03T10:00:00Z\", "
    "\"data\": {\"total\": 555}}\n"
    "{\"id\": \"v1\", \"type\": \"voucher\", \"member\": \"bob\", \"at\": "
    "\"2026-11-03T11:00:00Z\"}\n"
    "{\"id\": \"o3\", \"type\": \"order\", \"member\": \"ann\", \"at\": \"2026-11-10T10:00:00Z\", "
    "\"data\": {\"total\": 2000}}\n";

static int group_setup(void **state)
{
    char tmpl[] = "/tmp/punch-discount-XXXXXX", tmpl2[] = "/tmp/punch-discount2-XXXXXX";
    if (!mkdtemp(tmpl) || !mkdtemp(tmpl2))
        return -1;
    scripts = strdup(tmpl);
    cheaper = strdup(tmpl2);
    h_write_file(scripts, "discounts.lua", program);
    /* The program it is compared with: 20% off. */
    h_write_file(cheaper, "discounts.lua",
                 "mechanic \"twenty-off\" { on = \"order\", run = function(ev, m)\n"
                 "  return discount(20, {of = ev.data.total}) end }\n");
    h_write_file(scripts, "history.jsonl", history);
    snprintf(events, sizeof events, "%s/history.jsonl", scripts);
    return h_stack_start(&redis, &punchd, scripts, 0, NULL);
}

static int group_teardown(void **state)
{
    h_stack_stop(&redis, &punchd, scripts);
    h_rm_dir(cheaper);
    free(cheaper);
    return 0;
}

static long long at(json_t *j, const char *path)
{
    char buf[256], *save = NULL;
    snprintf(buf, sizeof buf, "%s", path);
    for (char *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
        j = json_object_get(j, k);
    if (!json_is_integer(j))
        fail_msg("%s is not a number", path);
    return json_integer_value(j);
}

/* Through punchd: the money of each order in its outcome, summed by GET /v1/stats. */
static void test_stats_sum_discount_money(void **state)
{
    http_resp r;
    json_t *d;
    assert_int_equal(h_event(punchd.port,
                             "{\"id\": \"o1\", \"type\": \"order\", \"member\": \"ann\", \"at\": "
                             "\"2026-11-02T10:00:00Z\", \"data\": {\"total\": 1000}}",
                             &r),
                     200);
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(json_object_get(r.json, "outcomes"), 0), "off")),
                     100);
    h_resp_free(&r);
    assert_int_equal(h_event(punchd.port,
                             "{\"id\": \"o2\", \"type\": \"order\", \"member\": \"bob\", \"at\": "
                             "\"2026-11-03T10:00:00Z\", \"data\": {\"total\": 555}}",
                             &r),
                     200);
    h_resp_free(&r);
    assert_int_equal(h_event(punchd.port,
                             "{\"id\": \"v1\", \"type\": \"voucher\", \"member\": \"bob\", \"at\": "
                             "\"2026-11-03T11:00:00Z\"}",
                             &r),
                     200);
    h_resp_free(&r);
    assert_int_equal(h_event(punchd.port,
                             "{\"id\": \"o3\", \"type\": \"order\", \"member\": \"ann\", \"at\": "
                             "\"2026-11-10T10:00:00Z\", \"data\": {\"total\": 2000}}",
                             &r),
                     200);
    h_resp_free(&r);
    /* A negative amount is refused, and nothing is counted. */
    assert_int_equal(h_event(punchd.port,
                             "{\"id\": \"b1\", \"type\": \"bad\", \"member\": \"bob\", \"at\": "
                             "\"2026-11-10T11:00:00Z\"}",
                             &r),
                     422);
    h_resp_free(&r);

    assert_int_equal(
        h_http(punchd.port, "GET", "/v1/stats?from=2026-11-01&to=2026-11-15&per=week", NULL, &r),
        0);
    assert_int_equal(r.status, 200);
    d = json_object_get(r.json, "discounts");
    assert_int_equal(at(d, "total.count"), 4);
    assert_int_equal(at(d, "total.granted"), 100 + 55 + 200); /* 55.5 rounds down */
    assert_int_equal(at(d, "days.2026-11-02.granted"), 100);
    assert_int_equal(at(d, "days.2026-11-03.count"), 2);
    assert_int_equal(at(d, "days.2026-11-03.granted"), 55);
    assert_int_equal(at(d, "periods.2026-W45.granted"), 155);
    assert_int_equal(at(d, "periods.2026-W45.count"), 3);
    assert_int_equal(at(d, "periods.2026-W46.granted"), 200);
    h_resp_free(&r);
}

/* punch simulate: the same sums, and the change against a 20% program. */
static void test_simulate_sums_discount_money(void **state)
{
    const char *argv[] = {PUNCH_PATH, "simulate",  "--json", "--per", "week", "--scripts",
                          scripts,    "--against", cheaper,  events,  NULL};
    const char *table[] = {PUNCH_PATH,  "simulate", "--per", "week",
                           "--scripts", scripts,    events,  NULL};
    h_proc_out o;
    json_t *j;
    h_run(argv, NULL, NULL, 30000, &o);
    if (o.status != 0)
        fail_msg("punch simulate exit %d: %s", o.status, o.err);
    assert_non_null(j = json_loads(o.out, 0, NULL));
    assert_int_equal(at(j, "scripts.figures.discounts.granted"), 355);
    assert_int_equal(at(j, "scripts.figures.discounts.count"), 4);
    assert_int_equal(at(j, "scripts.figures.discounts_per_period.2026-W45.granted"), 155);
    assert_int_equal(at(j, "scripts.figures.discounts_per_period.2026-W46.granted"), 200);
    assert_int_equal(at(j, "against.figures.discounts.granted"), 200 + 111 + 400);
    /* DIR minus DIR2: 10% instead of 20% grants less. */
    assert_int_equal(at(j, "difference.discounts.granted"), 355 - 711);
    assert_int_equal(at(j, "discounts_per_period_difference.2026-W45.granted"), 155 - 311);
    assert_int_equal(at(j, "discounts_per_period_difference.2026-W46.granted"), 200 - 400);
    json_decref(j);
    h_proc_out_free(&o);
    h_run(table, NULL, NULL, 30000, &o);
    assert_int_equal(o.status, 0);
    assert_non_null(strstr(o.out, "discounts per week (money off granted)"));
    assert_non_null(strstr(o.out, "2026-W46"));
    h_proc_out_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_sum_discount_money),
        cmocka_unit_test(test_simulate_sums_discount_money),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
