/*
 * Group commit through a real punchd and redis-server (or a Redis Cluster
 * with PUNCH_TEST_CLUSTER=1): many events over few members at once, copies
 * of them racing, are each applied exactly once, every balance its ledger's
 * sum and the figures the sum of what was earned; a batch over cached members
 * reaches Redis as one EVALSHA (single Redis: on a cluster every commit goes
 * alone).
 */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tmpredis redis;
static punchd_proc punchd;
static char *scripts;

static int group_setup(void **state)
{
    static const char *const extra[] = {"--sweep-ms", "0", NULL};
    (void)state;
    scripts = h_scripts_copy();
    return h_stack_start(&redis, &punchd, scripts, 0, extra);
}

static int group_teardown(void **state)
{
    (void)state;
    h_stack_stop(&redis, &punchd, scripts);
    return 0;
}

/* 3 stars an order (scripts/fuel.lua: 3 per 10 of shop goods). */
static char *order(const char *id, const char *member)
{
    char *b = malloc(256);
    snprintf(b, 256,
             "{\"id\":\"%s\",\"type\":\"order\",\"member\":\"%s\",\"at\":\"2026-11-02T10:00:00Z\","
             "\"data\":{\"items\":[{\"category\":\"shop\",\"amount\":10}]}}",
             id, member);
    return b;
}

static long long issued_want;

static long long stars_issued(void)
{
    http_resp r;
    long long v = -1;
    if (h_http(punchd.port, "GET", "/v1/stats?from=2026-11-01&to=2026-11-30", NULL, &r) == 0 &&
        r.status == 200)
        v = json_integer_value(
            json_object_get(json_object_get(json_object_get(r.json, "total"), "stars"), "issued"));
    h_resp_free(&r);
    return v;
}

static int issued_reached(void *arg)
{
    (void)arg;
    return stars_issued() >= issued_want;
}

/*
 * 120 events over 4 members sent at once, and 30 copies of some of them racing
 * their originals: every answer 200, each id applied once, each balance its
 * ledger's sum, and the figures what was earned.
 */
static void many_events_over_few_members_apply_once(void **state)
{
    enum { N = 120, COPIES = 30, MEMBERS = 4 };
    char *bodies[N + COPIES];
    http_resp outs[N + COPIES];
    int fresh = 0;
    (void)state;
    for (int i = 0; i < N; i++) {
        char id[32], member[32];
        snprintf(id, sizeof id, "few-%d", i);
        snprintf(member, sizeof member, "few%d", i % MEMBERS);
        bodies[i] = order(id, member);
    }
    for (int j = 0; j < COPIES; j++)
        bodies[N + j] = strdup(bodies[j * 4]);
    assert_int_equal(
        h_http_parallel(punchd.port, "/v1/events", (const char *const *)bodies, N + COPIES, outs),
        0);
    for (int i = 0; i < N + COPIES; i++) {
        if (outs[i].status != 200)
            fail_msg("event %d: %ld %s", i, outs[i].status, outs[i].body);
        fresh += json_is_false(json_object_get(outs[i].json, "duplicate"));
        h_resp_free(&outs[i]);
        free(bodies[i]);
    }
    assert_int_equal(fresh, N);
    for (int m = 0; m < MEMBERS; m++) {
        char member[32];
        int entries = 0;
        snprintf(member, sizeof member, "few%d", m);
        assert_int_equal(h_balance(punchd.port, member, "stars"), 3 * N / MEMBERS);
        assert_int_equal(h_ledger_sum(punchd.port, member, "stars", &entries), 3 * N / MEMBERS);
        assert_int_equal(entries, N / MEMBERS);
    }
    /* The figures follow the commits (effects, summed per loop turn): look until they show. */
    issued_want = 3 * N;
    assert_true(h_wait_until(issued_reached, NULL, 5000));
    assert_int_equal(stars_issued(), 3 * N);
}

/* INFO commandstats: EVALSHA calls since the last CONFIG RESETSTAT. */
static long long evalsha_calls(redisContext *rc)
{
    redisReply *r = redisCommand(rc, "INFO commandstats");
    const char *at;
    long long n;
    assert_non_null(r);
    at = strstr(r->str, "cmdstat_evalsha:calls=");
    n = at ? atoll(at + strlen("cmdstat_evalsha:calls=")) : 0;
    freeReplyObject(r);
    return n;
}

/* A batch's body: one order per member bat0 .. bat<n-1>, ids prefix-<i>. */
static char *batch_of(const char *prefix, int n)
{
    size_t cap = (size_t)n * 256 + 32, used = 0;
    char *b = malloc(cap);
    used += (size_t)snprintf(b + used, cap - used, "{\"events\":[");
    for (int i = 0; i < n; i++) {
        char id[32], member[32], *one;
        snprintf(id, sizeof id, "%s-%d", prefix, i);
        snprintf(member, sizeof member, "bat%d", i);
        one = order(id, member);
        used += (size_t)snprintf(b + used, cap - used, "%s%s", i ? "," : "", one);
        free(one);
    }
    snprintf(b + used, cap - used, "]}");
    return b;
}

/*
 * A batch over members punchd holds the state of: every event decided at once,
 * their commits in groups of up to 16 KiB (about 1 KiB each here), a handful
 * of EVALSHA for the 50 of them (on one Redis), not one each.
 */
static void a_batch_over_cached_members_is_one_evalsha(void **state)
{
    enum { N = 50 };
    redisContext *rc;
    http_resp r;
    char *body;
    long long calls;
    (void)state;
    if (h_stack_on_cluster())
        skip();                  /* a cluster sends each commit alone */
    body = batch_of("first", N); /* loads each member: punchd keeps what it committed */
    assert_int_equal(h_http(punchd.port, "POST", "/v1/events/batch", body, &r), 0);
    assert_int_equal(r.status, 200);
    h_resp_free(&r);
    free(body);
    rc = redisConnectUnix(redis.socket);
    assert_true(rc && !rc->err);
    freeReplyObject(redisCommand(rc, "CONFIG RESETSTAT"));
    body = batch_of("second", N);
    assert_int_equal(h_http(punchd.port, "POST", "/v1/events/batch", body, &r), 0);
    assert_int_equal(r.status, 200);
    for (int i = 0; i < N; i++) {
        json_t *res = json_array_get(json_object_get(r.json, "results"), (size_t)i);
        assert_int_equal(json_integer_value(json_object_get(res, "status")), 200);
        assert_true(json_is_false(json_object_get(res, "duplicate")));
    }
    h_resp_free(&r);
    free(body);
    calls = evalsha_calls(rc);
    if (calls < 1 || calls > N / 8)
        fail_msg("%lld EVALSHA for %d commits", calls, N);
    redisFree(rc);
    for (int i = 0; i < N; i += 7) {
        char member[32];
        int entries = 0;
        snprintf(member, sizeof member, "bat%d", i);
        assert_int_equal(h_balance(punchd.port, member, "stars"), 6);
        assert_int_equal(h_ledger_sum(punchd.port, member, "stars", &entries), 6);
        assert_int_equal(entries, 2);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(many_events_over_few_members_apply_once),
        cmocka_unit_test(a_batch_over_cached_members_is_one_evalsha),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
