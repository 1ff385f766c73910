/*
 * Redis going away under a running punchd: events get 503 and nothing is
 * half-applied; when Redis is back, punchd reconnects by itself.
 */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>

static tmpredis redis;
static punchd_proc punchd;
static char *scripts;

static int group_setup(void **state)
{
    scripts = h_scripts_copy();
    return h_stack_start(&redis, &punchd, scripts, 1, NULL); /* AOF: a restart keeps the data */
}

static int group_teardown(void **state)
{
    h_stack_stop(&redis, &punchd, scripts);
    return 0;
}

#define FUEL_EVENT                                                                                 \
    "{\"id\":\"%s\",\"type\":\"order\",\"member\":\"rob\",\"data\":{"                              \
    "\"items\":[{\"category\":\"fuel\",\"amount\":100}]}}"

static long send_fuel(const char *id, http_resp *r)
{
    char body[256];
    snprintf(body, sizeof body, FUEL_EVENT, id);
    return h_event(punchd.port, body, r);
}

static int event_succeeds(void *arg)
{
    http_resp r;
    long st = send_fuel(arg, &r);
    h_resp_free(&r);
    return st == 200;
}

static void redis_down_then_back(void **state)
{
    http_resp r;
    int entries;
    assert_int_equal(send_fuel("x-1", &r), 200);
    h_resp_free(&r);
    assert_int_equal(h_balance(punchd.port, "rob", "stars"), 10);

    tmpredis_stop(&redis);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(send_fuel("x-2", &r), 503);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(r.json, "error"), "code")),
            "unavailable");
        h_resp_free(&r);
    }
    assert_int_equal(h_http(punchd.port, "GET", "/healthz", NULL, &r), 0);
    assert_int_equal(r.status, 503);
    h_resp_free(&r);
    assert_true(h_punchd_alive(&punchd));

    assert_int_equal(tmpredis_restart(&redis), 0);
    /* Reconnects by itself (backoff up to 2 s), no restart of punchd. */
    assert_true(h_wait_until(event_succeeds, "x-2", 10000));
    /* x-1 once and x-2 once: the 503s applied nothing. */
    assert_int_equal(h_balance(punchd.port, "rob", "stars"), 20);
    assert_int_equal(h_ledger_sum(punchd.port, "rob", "stars", &entries), 20);
    assert_int_equal(entries, 2);
    assert_int_equal(send_fuel("x-2", &r), 200);
    assert_true(json_is_true(json_object_get(r.json, "duplicate")));
    h_resp_free(&r);
}

/* A Redis that hangs (SIGSTOP): the event fails with 503 within the command timeout (1 s here). */
static void redis_hanging_then_back(void **state)
{
    http_resp r;
    int entries;
    long st;
    kill(redis.pid, SIGSTOP);
    st = send_fuel("hang-1", &r);
    kill(redis.pid, SIGCONT);
    if (st != 503)
        fail_msg("with Redis stopped: %ld %s", st, r.body);
    h_resp_free(&r);
    assert_true(h_punchd_alive(&punchd));
    /* Back: the same id applies once (the command that timed out may or may not have landed). */
    assert_true(h_wait_until(event_succeeds, "hang-1", 10000));
    long long before = h_balance(punchd.port, "rob", "stars");
    assert_int_equal(send_fuel("hang-1", &r), 200);
    assert_true(json_is_true(json_object_get(r.json, "duplicate")));
    h_resp_free(&r);
    assert_int_equal(h_balance(punchd.port, "rob", "stars"), before);
    assert_int_equal(h_ledger_sum(punchd.port, "rob", "stars", &entries), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(redis_down_then_back),
        cmocka_unit_test(redis_hanging_then_back),
    };
    return cmocka_run_group_tests_name("recovery", tests, group_setup, group_teardown);
}
