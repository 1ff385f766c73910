/*
 * Discount money granted, summed: discount(p, {of = total}) carries its money
 * off (`off`), and GET /v1/stats (per day, per week, in total) and punch
 * simulate (in total, per week, and the change --against another program)
 * sum it. Events carry past times, so the money falls on known days. A whole
 * reversal gives the money of plain discounts back (returns, returned), once.
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
#include <time.h>
#include <unistd.h>

static tmpredis redis;
static punchd_proc punchd;
static char *scripts, *cheaper, events[300], reversals[300];

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

/* An order and a voucher reversed whole, the order twice (the second gives nothing back). */
static const char reversal_history[] =
    "{\"id\": \"r1\", \"type\": \"order\", \"member\": \"cat\", \"at\": \"2026-11-12T10:00:00Z\", "
    "\"data\": {\"total\": 3000}}\n"
    "{\"id\": \"v2\", \"type\": \"voucher\", \"member\": \"cat\", \"at\": "
    "\"2026-11-12T11:00:00Z\"}\n"
    "{\"id\": \"back-r1\", \"type\": \"reverse\", \"member\": \"cat\", \"at\": "
    "\"2026-11-13T10:00:00Z\", \"data\": {\"event\": \"r1\"}}\n"
    "{\"id\": \"again-r1\", \"type\": \"reverse\", \"member\": \"cat\", \"at\": "
    "\"2026-11-13T11:00:00Z\", \"data\": {\"event\": \"r1\"}}\n"
    "{\"id\": \"back-v2\", \"type\": \"reverse\", \"member\": \"cat\", \"at\": "
    "\"2026-11-13T12:00:00Z\", \"data\": {\"event\": \"v2\"}}\n";

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
    h_write_file(scripts, "reversals.jsonl", reversal_history);
    snprintf(reversals, sizeof reversals, "%s/reversals.jsonl", scripts);
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

static long reverse(const char *event, const char *id, http_resp *r)
{
    char path[128], body[160];
    snprintf(path, sizeof path, "/v1/events/%s/reverse", event);
    if (id)
        snprintf(body, sizeof body, "{\"member\": \"cat\", \"id\": \"%s\"}", id);
    else
        snprintf(body, sizeof body, "{\"member\": \"cat\"}");
    assert_int_equal(h_http(punchd.port, "POST", path, body, r), 0);
    return r->status;
}

/* A whole reversal gives a plain discount's money back to the figures, once per event. */
static void test_reversal_gives_discount_money_back(void **state)
{
    http_resp r;
    json_t *o, *d;
    assert_int_equal(h_event(punchd.port,
                             "{\"id\": \"r1\", \"type\": \"order\", \"member\": \"cat\", \"at\": "
                             "\"2026-11-12T10:00:00Z\", \"data\": {\"total\": 3000}}",
                             &r),
                     200);
    h_resp_free(&r);
    assert_int_equal(h_event(punchd.port,
                             "{\"id\": \"v2\", \"type\": \"voucher\", \"member\": \"cat\", \"at\": "
                             "\"2026-11-12T11:00:00Z\"}",
                             &r),
                     200);
    h_resp_free(&r);
    /* The order earned nothing but its discount: the reversal is still one. */
    assert_int_equal(reverse("r1", NULL, &r), 200);
    o = json_array_get(json_object_get(r.json, "outcomes"), 0);
    assert_string_equal(json_string_value(json_object_get(o, "kind")), "discount_returned");
    assert_int_equal(json_integer_value(json_object_get(o, "off")), 300);
    h_resp_free(&r);
    /* Under another id: nothing left to give back. */
    assert_int_equal(reverse("r1", "again-r1", &r), 422);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.json, "error"), "code")),
        "nothing_to_reverse");
    h_resp_free(&r);
    assert_int_equal(reverse("v2", NULL, &r), 200);
    h_resp_free(&r);

    assert_int_equal(
        h_http(punchd.port, "GET", "/v1/stats?from=2026-11-09&to=2026-11-15&per=week", NULL, &r),
        0);
    assert_int_equal(r.status, 200);
    d = json_object_get(r.json, "discounts");
    assert_int_equal(at(d, "total.returns"), 2);
    assert_int_equal(at(d, "total.returned"), 300);
    assert_int_equal(at(d, "days.2026-11-12.granted"), 300);
    assert_int_equal(at(d, "periods.2026-W46.granted"), 200 + 300);
    h_resp_free(&r);
    /* The reversals happened now (the route takes no time): given back on today's figures. */
    {
        char path[64], key[64];
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(path, sizeof path, "/v1/stats?from=%Y-%m-%d&to=%Y-%m-%d&per=week", &tm);
        strftime(key, sizeof key, "days.%Y-%m-%d.returned", &tm);
        assert_int_equal(h_http(punchd.port, "GET", path, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        d = json_object_get(r.json, "discounts");
        /* A reversal just past midnight may land on the next day: the total says it anyway. */
        if (json_object_size(json_object_get(d, "days")) == 1)
            assert_int_equal(at(d, key), 300);
        h_resp_free(&r);
    }
}

/* punch simulate of the same history: the same money given back. */
static void test_simulate_gives_discount_money_back(void **state)
{
    const char *argv[] = {PUNCH_PATH,  "simulate", "--json",  "--per", "week",
                          "--scripts", scripts,    reversals, NULL};
    h_proc_out o;
    json_t *j;
    h_run(argv, NULL, NULL, 30000, &o);
    if (o.status != 0)
        fail_msg("punch simulate exit %d: %s", o.status, o.err);
    assert_non_null(j = json_loads(o.out, 0, NULL));
    assert_int_equal(at(j, "scripts.figures.discounts.count"), 2);
    assert_int_equal(at(j, "scripts.figures.discounts.granted"), 300);
    assert_int_equal(at(j, "scripts.figures.discounts.returns"), 2);
    assert_int_equal(at(j, "scripts.figures.discounts.returned"), 300);
    assert_int_equal(at(j, "scripts.figures.discounts_per_period.2026-W46.returned"), 300);
    assert_int_equal(at(j, "scripts.figures.events.failed"), 1);
    json_decref(j);
    h_proc_out_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_sum_discount_money),
        cmocka_unit_test(test_simulate_sums_discount_money),
        cmocka_unit_test(test_reversal_gives_discount_money_back),
        cmocka_unit_test(test_simulate_gives_discount_money_back),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
