/*
 * What a Redis failure means to a caller, against a real redis-server and a
 * real punchd: scripts Redis lost are loaded again and the call goes through;
 * a Redis that is gone is 503 "unavailable" (retry), also when it goes away
 * while a mechanic waits on a global operation; a Redis that refuses (a key
 * of the wrong type) is 500 "internal", not a retry; a Redis out of memory
 * is 507 "storage_full". None of them changes a member.
 */
#include "harness.h"
#include "punchcard/common.h"

#include <hiredis/hiredis.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static tmpredis redis;
static punchd_proc punchd;
static char *scripts;

static const char mechanics_lua[] =
    "mechanic 'visit' { on = 'visit', run = function(ev, m)\n"
    "  m:earn('stars', 5)\n"
    "end }\n"
    "mechanic 'nth' { on = 'nth', run = function(ev, m)\n"
    "  return message('nth', {n = global_count('nth')})\n"
    "end }\n"
    /* Counts through a gate the test watches, works a while, then draws. */
    "mechanic 'slow' { on = 'slow', run = function(ev, m)\n"
    "  global_count('gate')\n"
    "  local x = 0\n"
    "  for i = 1, ev.data.loops do x = x + i end\n"
    "  m:draw('slow', {chance = 1, prize = 'car', pool = 3})\n"
    "end }\n"
    "mechanic 'broken' { on = 'broken', run = function(ev, m)\n"
    "  m:earn('stars', 1)\n"
    "  m:draw('broken', {chance = 1, prize = 'hat', pool = 3})\n"
    "end }\n";

static redisContext *redis_connect(void)
{
    redisContext *c = redisConnectUnix(redis.socket);
    if (!c || c->err)
        fail_msg("cannot connect to the test's redis");
    return c;
}

/* Runs one command on the test's own connection; fails the test on an error reply. */
static void redis_do(const char *fmt, const char *arg)
{
    redisContext *c = redis_connect();
    redisReply *r = redisCommand(c, fmt, arg);
    if (!r || r->type == REDIS_REPLY_ERROR)
        fail_msg("%s: %s", fmt, r ? r->str : c->errstr);
    freeReplyObject(r);
    redisFree(c);
}

static int group_setup(void **state)
{
    static const char *const extra[] = {"--redis-timeout-ms",
                                        "500",
                                        "--lua-instructions",
                                        "100000000000",
                                        "--lua-deadline-ms",
                                        "30000",
                                        NULL};
    char dir[] = "/tmp/punch-store-errors-XXXXXX";
    if (!mkdtemp(dir))
        return -1;
    h_write_file(dir, "store_errors.lua", mechanics_lua);
    scripts = strdup(dir);
    return h_stack_start(&redis, &punchd, scripts, 0, extra);
}

static int group_teardown(void **state)
{
    /* A clean exit: the drain ends in status 0 (and sanitizers found nothing to report). */
    int st = h_stack_stop(&redis, &punchd, scripts);
    if (st != 0)
        fprintf(stderr, "punchd exited with status %d\n", st);
    return st == 0 ? 0 : -1;
}

/* Whatever a case left broken (it may have failed half-way) is put right for the next. */
static int case_teardown(void **state)
{
    redisContext *c = redisConnectUnix(redis.socket);
    if (c && !c->err) {
        freeReplyObject(redisCommand(c, "CONFIG SET maxmemory 0"));
        freeReplyObject(redisCommand(c, "DEL pc:{wanda}:state pc:{draw:broken}:meta"));
    }
    if (c)
        redisFree(c);
    return 0;
}

static const char *error_code(const http_resp *r)
{
    return json_string_value(json_object_get(json_object_get(r->json, "error"), "code"));
}

/* Sends an event and checks its status and, for an error, its code. */
static void expect_event(const char *body, long status, const char *code)
{
    http_resp r;
    long got = h_event(punchd.port, body, &r);
    if (got != status || (code && (!error_code(&r) || strcmp(error_code(&r), code) != 0)))
        fail_msg("%s: want %ld %s, got %ld %s", body, status, code ? code : "", got, r.body);
    h_resp_free(&r);
}

/* SCRIPT FLUSH (an operator, a restarted Redis): the scripts are loaded again, the event applies.
 */
static void scripts_flushed_then_event_applies(void **state)
{
    expect_event("{\"id\":\"f-1\",\"type\":\"visit\",\"member\":\"fay\"}", 200, NULL);
    redis_do("SCRIPT FLUSH", NULL);
    expect_event("{\"id\":\"f-2\",\"type\":\"visit\",\"member\":\"fay\"}", 200, NULL);
    redis_do("SCRIPT FLUSH", NULL);
    /* A global operation's script too, on a member punchd has in its cache. */
    expect_event("{\"id\":\"f-3\",\"type\":\"nth\",\"member\":\"fay\"}", 200, NULL);
    assert_int_equal(h_balance(punchd.port, "fay", "stars"), 10);
}

/* A member key of the wrong type is a damaged keyspace, not an outage: 500, not 503 (retry). */
static void wrong_type_is_internal_not_unavailable(void **state)
{
    redis_do("SET pc:{wanda}:state %s", "not-a-hash");
    expect_event("{\"id\":\"w-1\",\"type\":\"visit\",\"member\":\"wanda\"}", 500, "internal");
    /* The same inside a global operation is not the mechanic's error either (not 422). */
    redis_do("SET pc:{draw:broken}:meta %s", "not-a-hash");
    expect_event("{\"id\":\"w-2\",\"type\":\"broken\",\"member\":\"walt\"}", 500, "internal");
    assert_int_equal(h_balance(punchd.port, "walt", "stars"), 0);
    redis_do("DEL pc:{draw:broken}:meta", NULL);
    expect_event("{\"id\":\"w-2\",\"type\":\"broken\",\"member\":\"walt\"}", 200, NULL);
    assert_int_equal(h_balance(punchd.port, "walt", "stars"), 1);
}

/* Redis out of memory refuses the commit: 507 storage_full, and nothing was applied. */
static void out_of_memory_is_storage_full(void **state)
{
    expect_event("{\"id\":\"o-1\",\"type\":\"visit\",\"member\":\"otto\"}", 200, NULL);
    redis_do("CONFIG SET maxmemory-policy %s", "noeviction");
    redis_do("CONFIG SET maxmemory %s", "1");
    expect_event("{\"id\":\"o-2\",\"type\":\"visit\",\"member\":\"otto\"}", 507, "storage_full");
    /* A global operation's reservation is refused the same way. */
    expect_event("{\"id\":\"o-3\",\"type\":\"nth\",\"member\":\"otto\"}", 507, "storage_full");
    redis_do("CONFIG SET maxmemory %s", "0");
    assert_int_equal(h_balance(punchd.port, "otto", "stars"), 5);
    expect_event("{\"id\":\"o-2\",\"type\":\"visit\",\"member\":\"otto\"}", 200, NULL);
    assert_int_equal(h_balance(punchd.port, "otto", "stars"), 10);
}

/* Sends a 'slow' event of loops iterations; returns its status, fills code (may be NULL). */
static long send_slow(const char *id, long long loops, char *code, size_t n)
{
    char body[256];
    http_resp r;
    long st;
    snprintf(body, sizeof body,
             "{\"id\":\"%s\",\"type\":\"slow\",\"member\":\"kim\",\"data\":{\"loops\":%lld}}", id,
             loops);
    st = h_event(punchd.port, body, &r);
    if (code)
        snprintf(code, n, "%s", error_code(&r) ? error_code(&r) : "");
    h_resp_free(&r);
    return st;
}

static long long gate_value(void)
{
    redisContext *c = redisConnectUnix(redis.socket);
    redisReply *r = c && !c->err ? redisCommand(c, "GET pc:{g:gate}:counter") : NULL;
    long long v = r && r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
    freeReplyObject(r);
    if (c)
        redisFree(c);
    return v;
}

static int visit_succeeds(void *arg)
{
    http_resp r;
    long st = h_event(punchd.port, "{\"id\":\"k-back\",\"type\":\"visit\",\"member\":\"kim\"}", &r);
    h_resp_free(&r);
    return st == 200;
}

/*
 * Redis dies while a mechanic works between two global operations: the draw
 * that follows cannot reach Redis, which is an outage (503, retry), not the
 * mechanic's error (422).
 */
static void redis_lost_during_a_draw_is_unavailable(void **state)
{
    long long loops = 2000000, before = gate_value();
    int64_t t0 = pc_mono_ms(), took;
    int fds[2], st;
    char code[64] = "";
    long status = 0;
    pid_t child;
    /* How long the mechanic's loop takes here: make it last about two seconds. */
    assert_int_equal(send_slow("k-calibrate", loops, NULL, 0), 200);
    took = pc_mono_ms() - t0;
    loops = loops * 2000 / (took > 0 ? took : 1);
    before = gate_value();
    assert_int_equal(pipe(fds), 0);
    if ((child = fork()) == 0) {
        char line[100];
        long s = send_slow("k-1", loops, code, sizeof code);
        int n = snprintf(line, sizeof line, "%ld %s", s, code);
        if (write(fds[1], line, (size_t)n) < 0)
            _exit(1);
        _exit(0);
    }
    close(fds[1]);
    /* The event passed its first global operation and works: Redis goes away now. */
    for (int i = 0; i < 1000 && gate_value() == before; i++)
        usleep(5000);
    assert_true(gate_value() > before);
    tmpredis_stop(&redis);
    {
        char line[100] = "";
        ssize_t n = read(fds[0], line, sizeof line - 1);
        close(fds[0]);
        waitpid(child, &st, 0);
        if (n <= 0 || sscanf(line, "%ld %63s", &status, code) < 1)
            fail_msg("no answer from the child");
    }
    assert_int_equal(tmpredis_restart(&redis), 0);
    assert_true(h_wait_until(visit_succeeds, NULL, 10000));
    if (status != 503 || strcmp(code, "unavailable") != 0)
        fail_msg("Redis lost during a draw: want 503 unavailable, got %ld %s", status, code);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scripts_flushed_then_event_applies),
        cmocka_unit_test_teardown(wrong_type_is_internal_not_unavailable, case_teardown),
        cmocka_unit_test_teardown(out_of_memory_is_storage_full, case_teardown),
        cmocka_unit_test(redis_lost_during_a_draw_is_unavailable),
    };
    return cmocka_run_group_tests_name("store_errors", tests, group_setup, group_teardown);
}
