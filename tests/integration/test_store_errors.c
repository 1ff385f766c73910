/*
 * What a Redis failure means to a caller, against a real redis-server and a
 * real punchd: scripts Redis lost are loaded again and the call goes through;
 * a Redis that is gone is 503 "unavailable" (retry), also when it goes away
 * while a mechanic waits on a global operation; a Redis that refuses (a key
 * of the wrong type) is 500 "internal", not a retry; a Redis out of memory
 * is 507 "storage_full". None of them changes a member.
 */
#include "harness.h"

#include <hiredis/hiredis.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scripts_flushed_then_event_applies),
    };
    return cmocka_run_group_tests_name("store_errors", tests, group_setup, group_teardown);
}
