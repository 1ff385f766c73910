/*
 * Broadcasts (POST /v1/broadcasts, GET /v1/broadcasts/{id}) on real punchd
 * processes and a real Redis:
 *   - every field is checked: a bad request is a 400 naming the field, and
 *     nothing is made; an unknown id is a 404;
 *   - a broadcast to a segment (tier and attribute) reaches each member of
 *     the segment exactly once, and no one else, though the punchd sending it
 *     is killed mid-walk and two others take it over; its progress says done
 *     with the members sent and skipped;
 *   - the same id with the same body is the same broadcast (200); with
 *     another body it is refused (422 idempotency_mismatch);
 *   - GET /v1/broadcasts lists them newest first (limit); a cancel stops a
 *     waiting or sending broadcast (members sent keep their one event, no
 *     more are sent), answers the same again, 409 once done, 404 unknown;
 *     /metrics counts broadcasts made and their events.
 * With PUNCH_TEST_CLUSTER=1 (ctest's integration.cluster.test_broadcasts) the
 * same cases run on a local Redis Cluster: the walk over every master, the
 * close scripts and the broadcasts' index each keep to one slot.
 */
#include "harness.h"
#include "punchcard/common.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char program[] = "currency \"letters\" {}\n"
                              "tiers { \"blue\", \"silver\", \"gold\" }\n"
                              "mechanic \"letter\" { on = \"letter\", run = function(ev, m)\n"
                              "  m:earn(\"letters\", 1)\n"
                              "  return message(\"News: \" .. ev.data.title) end }\n";

static tmpredis redis;
static char *scripts;
static punchd_proc *started[8]; /* stopped by the teardown when a failed test left them */
static int nstarted;

static int stack_up; /* the cluster runs (started with the first punchd of a case) */

static int setup(void **state)
{
    char tmpl[] = "/tmp/punch-bcast-XXXXXX";
    if ((!h_stack_on_cluster() && tmpredis_start(&redis, 0)) || !mkdtemp(tmpl))
        return -1;
    scripts = strdup(tmpl);
    h_write_file(scripts, "letters.lua", program);
    return 0;
}

static int teardown(void **state)
{
    for (int i = 0; i < nstarted; i++)
        if (started[i]->pid > 0)
            h_punchd_stop(started[i]);
    nstarted = 0;
    if (h_stack_on_cluster()) {
        static punchd_proc none; /* stopped already: h_stack_stop stops the cluster */
        if (stack_up) {
            h_stack_stop(&redis, &none, scripts); /* frees scripts */
        } else {
            h_rm_dir(scripts);
            free(scripts);
        }
        stack_up = 0;
        return 0;
    }
    tmpredis_stop(&redis);
    h_rm_dir(redis.dir);
    h_rm_dir(scripts);
    free(scripts);
    return 0;
}

/* A punchd on the test's Redis; sweep_ms 0: it never sweeps (sends no broadcast). */
static void start(punchd_proc *p, int sweep_ms, const char *more_env)
{
    char sweep[64];
    const char *env[4] = {sweep, "PUNCHD_CLAIM_TIMEOUT_MS=1000", more_env, NULL};
    snprintf(sweep, sizeof sweep, "PUNCHD_SWEEP_MS=%d", sweep_ms);
    if (h_stack_on_cluster()) {
        /* The cluster's punchd take no env of their own: this process's, for the start. */
        char names[3][64];
        for (int i = 0; i < 3 && env[i]; i++) {
            snprintf(names[i], sizeof names[i], "%.*s", (int)strcspn(env[i], "="), env[i]);
            setenv(names[i], strchr(env[i], '=') + 1, 1);
        }
        assert_int_equal(stack_up ? h_stack_punchd_start(&redis, p, scripts, NULL)
                                  : h_stack_start(&redis, p, scripts, 0, NULL),
                         0);
        stack_up = 1;
        for (int i = 0; i < 3 && env[i]; i++)
            unsetenv(names[i]);
    } else {
        assert_int_equal(h_punchd_start_env(p, redis.socket, scripts, NULL, env), 0);
    }
    if (nstarted < 8)
        started[nstarted++] = p;
}

/* POSTs body to /v1/broadcasts: the status; the error code (or "") into code. */
static long post(int port, const char *body, char *code, size_t n, http_resp *keep)
{
    http_resp r;
    long st;
    assert_int_equal(h_http(port, "POST", "/v1/broadcasts", body, &r), 0);
    st = r.status;
    if (code)
        snprintf(code, n, "%s",
                 json_string_value(json_object_get(json_object_get(r.json, "error"), "code"))
                     ? json_string_value(json_object_get(json_object_get(r.json, "error"), "code"))
                     : "");
    if (keep)
        *keep = r;
    else
        h_resp_free(&r);
    return st;
}

/* Every bad request is a 400 that names what is wrong; none makes a broadcast. */
static void test_bad_requests(void **state)
{
    static punchd_proc p;
    static const struct {
        const char *body, *says;
    } cases[] = {
        {"", "empty"},
        {"[1]", "JSON object"},
        {"{\"id\": \"b1\", \"type\": \"letter\", \"extra\": 1}", "unknown field \"extra\""},
        {"{\"type\": \"letter\"}", "field \"id\""},
        {"{\"id\": \"b 1\", \"type\": \"letter\"}", "field \"id\""},
        {"{\"id\": 7, \"type\": \"letter\"}", "field \"id\""},
        {"{\"id\": \"b1\"}", "field \"type\""},
        {"{\"id\": \"b1\", \"type\": \"Letter!\"}", "field \"type\""},
        {"{\"id\": \"b1\", \"type\": \"tick\"}", "engine's own"},
        {"{\"id\": \"b1\", \"type\": \"letter\", \"data\": [1]}", "\"data\" must be an object"},
        {"{\"id\": \"b1\", \"type\": \"letter\", \"segment\": \"gold\"}", "segment must be"},
        {"{\"id\": \"b1\", \"type\": \"letter\", \"segment\": {\"tier\": 3}}", "segment.tier"},
        {"{\"id\": \"b1\", \"type\": \"letter\", \"segment\": {\"tier\": []}}", "segment.tier"},
        {"{\"id\": \"b1\", \"type\": \"letter\", \"segment\": {\"country\": \"FR\"}}",
         "unknown key \"country\""},
        {"{\"id\": \"b1\", \"type\": \"letter\", \"segment\": {\"attributes\": {\"country\": 3}}}",
         "segment.attributes.country"},
        {"{\"id\": \"b1\", \"type\": \"letter\", \"segment\": {\"badges\": \"vip\"}}",
         "segment.badges"},
        {"{\"id\": \"b1\", \"type\": \"letter\", \"segment\": {\"min_balance\": {\"stars\": -1}}}",
         "segment.min_balance.stars"},
        {"{\"id\": \"b1\", \"type\": \"letter\", \"segment\": {\"active_since\": \"May\"}}",
         "segment.active_since"},
    };
    http_resp r;
    if (h_stack_on_cluster())
        skip(); /* the checks are the same on any Redis */
    start(&p, 0, NULL);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        long st = post(p.port, cases[i].body, NULL, 0, &r);
        const char *msg =
            json_string_value(json_object_get(json_object_get(r.json, "error"), "message"));
        if (st != 400 || !msg || !strstr(msg, cases[i].says))
            fail_msg("%s: %ld %s (want 400 saying %s)", cases[i].body, st, r.body, cases[i].says);
        h_resp_free(&r);
    }
    assert_int_equal(h_http(p.port, "GET", "/v1/broadcasts/b1", NULL, &r), 0);
    assert_int_equal(r.status, 404); /* none of them was made */
    h_resp_free(&r);
    assert_int_equal(h_http(p.port, "GET", "/v1/broadcasts/no%20such", NULL, &r), 0);
    assert_int_equal(r.status, 404);
    h_resp_free(&r);
    h_punchd_stop(&p);
}

typedef struct letters_want {
    int port;
    long long at_least;
} letters_want;

static const char *const members[] = {"g1", "g2", "g3", "g4", "s1", "g5"};
/* g1-g4: gold in FR; s1: silver in FR; g5: gold in DE. */
static const char *const profiles[] = {
    "{\"tier_floor\": \"gold\", \"attributes\": {\"country\": \"FR\"}}",
    "{\"tier_floor\": \"gold\", \"attributes\": {\"country\": \"FR\"}}",
    "{\"tier_floor\": \"gold\", \"attributes\": {\"country\": \"FR\"}}",
    "{\"tier_floor\": \"gold\", \"attributes\": {\"country\": \"FR\"}}",
    "{\"tier_floor\": \"silver\", \"attributes\": {\"country\": \"FR\"}}",
    "{\"tier_floor\": \"gold\", \"attributes\": {\"country\": \"DE\"}}",
};

static int some_letters(void *arg)
{
    letters_want *w = arg;
    long long sum = 0;
    for (int i = 0; i < 6; i++)
        sum += h_balance(w->port, members[i], "letters");
    return sum >= w->at_least;
}

typedef struct status_want {
    int port;
    const char *path;
} status_want;

static int broadcast_done(void *arg)
{
    status_want *w = arg;
    http_resp r;
    int done = h_http(w->port, "GET", w->path, NULL, &r) == 0 && r.status == 200 &&
               !strcmp(json_string_value(json_object_get(r.json, "status")) ?: "", "done");
    h_resp_free(&r);
    return done;
}

/* A segment's members get the broadcast once, though its sender dies mid-walk. */
static void test_segment_once_across_a_kill(void **state)
{
    static punchd_proc feed, first, a, b;
    static const char body[] =
        "{\"id\": \"spring-news\", \"type\": \"letter\", \"data\": {\"title\": \"Spring\"}, "
        "\"segment\": {\"tier\": [\"gold\", \"platinum\"], \"attributes\": {\"country\": "
        "\"FR\"}}}";
    letters_want lw;
    status_want sw = {0, "/v1/broadcasts/spring-news"};
    http_resp r;
    char path[64], code[64];

    start(&feed, 0, NULL);
    for (int i = 0; i < 6; i++) {
        snprintf(path, sizeof path, "/v1/members/%s", members[i]);
        assert_int_equal(h_http(feed.port, "PUT", path, profiles[i], &r), 0);
        assert_int_equal(r.status, 200);
        h_resp_free(&r);
    }
    /* Made once: 202, waiting for a sweeper; the same request again is the same broadcast. */
    assert_int_equal(post(feed.port, body, NULL, 0, &r), 202);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "waiting");
    assert_int_equal(json_integer_value(json_object_get(r.json, "sent")), 0);
    h_resp_free(&r);
    assert_int_equal(post(feed.port, body, NULL, 0, NULL), 200);
    assert_int_equal(post(feed.port,
                          "{\"id\": \"spring-news\", \"type\": \"letter\", \"data\": {\"title\": "
                          "\"Summer\"}}",
                          code, sizeof code, NULL),
                     422);
    assert_string_equal(code, "idempotency_mismatch");

    /* One event a second: the kill lands after the first letter, before the last. */
    start(&first, 20, "PUNCHD_SEND_RATE=1");
    lw = (letters_want){feed.port, 1};
    assert_true(h_wait_until(some_letters, &lw, 15000));
    kill(first.pid, SIGKILL);
    h_punchd_stop(&first);
    assert_false(some_letters(&(letters_want){feed.port, 4}));

    /* Two punchd take it over (after the claim timeout) and walk every member again. */
    start(&a, 20, "PUNCHD_SEND_RATE=200");
    start(&b, 20, "PUNCHD_SEND_RATE=200");
    sw.port = feed.port;
    assert_true(h_wait_until(broadcast_done, &sw, 20000));
    for (int i = 0; i < 6; i++) {
        int n = 0, want = i < 4;
        long long sum = h_ledger_sum(feed.port, members[i], "letters", &n);
        if (sum != want || n != want)
            fail_msg("%s: %d letter entries summing %lld; want %d", members[i], n, sum, want);
    }
    assert_int_equal(h_http(feed.port, "GET", sw.path, NULL, &r), 0);
    assert_int_equal(json_integer_value(json_object_get(r.json, "sent")), 4);
    assert_int_equal(json_integer_value(json_object_get(r.json, "skipped")), 2);
    assert_string_equal(json_string_value(json_object_get(r.json, "type")), "letter");
    assert_non_null(json_object_get(r.json, "done_at"));
    h_resp_free(&r);
    /* Done: the same request answers its progress, and sends nothing again. */
    assert_int_equal(post(feed.port, body, NULL, 0, &r), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "done");
    h_resp_free(&r);
    h_punchd_stop(&a);
    h_punchd_stop(&b);
    h_punchd_stop(&feed);
}

static const char *const many[] = {"m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9"};

/* The letters of every member of many, each at most 1 (else the test fails). */
static long long all_letters(int port)
{
    long long sum = 0;
    for (int i = 0; i < 10; i++) {
        int n = 0;
        long long v = h_ledger_sum(port, many[i], "letters", &n);
        if (v > 1 || n > 1)
            fail_msg("%s: %d letter entries summing %lld; want at most 1", many[i], n, v);
        sum += v;
    }
    return sum;
}

typedef struct many_want {
    int port;
    long long at_least;
} many_want;

static int many_letters(void *arg)
{
    many_want *w = arg;
    return all_letters(w->port) >= w->at_least;
}

/* POST /v1/broadcasts/{id}/cancel: the status; the answer's status field into state. */
static long cancel(int port, const char *id, char *state, size_t n)
{
    http_resp r;
    char path[96];
    long st;
    snprintf(path, sizeof path, "/v1/broadcasts/%s/cancel", id);
    assert_int_equal(h_http(port, "POST", path, NULL, &r), 0);
    st = r.status;
    if (state) {
        const char *v = json_string_value(json_object_get(r.json, "status"));
        const char *c =
            json_string_value(json_object_get(json_object_get(r.json, "error"), "code"));
        snprintf(state, n, "%s", v ? v : c ? c : "");
    }
    h_resp_free(&r);
    return st;
}

/* 1 when the punchd's log says a broadcast's sender stopped (it saw a cancel). */
static int says_stopping(void *arg)
{
    punchd_proc *p = arg;
    char *log = pc_read_file(p->log, NULL);
    int yes = log && strstr(log, "broadcast b-second : taken over by another punchd, or "
                                 "cancelled; stopping") != NULL;
    free(log);
    return yes;
}

/* Listed newest first; cancelled waiting or mid-walk; 409 once done; counted in /metrics. */
static void test_list_cancel_metrics(void **state)
{
    static punchd_proc feed, slow, fast;
    status_want sw = {0, "/v1/broadcasts/c-third"};
    many_want mw;
    http_resp r;
    char path[64], st[64];
    long long stopped, later;
    json_t *list;

    start(&feed, 0, NULL);
    for (int i = 0; i < 10; i++) {
        snprintf(path, sizeof path, "/v1/members/%s", many[i]);
        assert_int_equal(
            h_http(feed.port, "PUT", path, "{\"attributes\": {\"country\": \"FR\"}}", &r), 0);
        assert_int_equal(r.status, 200);
        h_resp_free(&r);
    }
    assert_int_equal(h_http(feed.port, "GET", "/v1/broadcasts", NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "broadcasts")), 0);
    h_resp_free(&r);
    assert_int_equal(
        post(feed.port, "{\"id\": \"a-first\", \"type\": \"letter\", \"data\": {\"title\": \"A\"}}",
             NULL, 0, NULL),
        202);
    assert_int_equal(
        post(feed.port,
             "{\"id\": \"b-second\", \"type\": \"letter\", \"data\": {\"title\": \"B\"}}", NULL, 0,
             NULL),
        202);
    assert_int_equal(h_metric(feed.port, "punchd_broadcasts_total", -1), 2);

    /* The list: newest first, with progress; limit cuts it; a bad limit is a 400. */
    assert_int_equal(h_http(feed.port, "GET", "/v1/broadcasts", NULL, &r), 0);
    assert_int_equal(r.status, 200);
    list = json_object_get(r.json, "broadcasts");
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "id")),
                        "b-second");
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "id")),
                        "a-first");
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "status")),
                        "waiting");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 1), "sent")), 0);
    h_resp_free(&r);
    assert_int_equal(h_http(feed.port, "GET", "/v1/broadcasts?limit=1", NULL, &r), 0);
    assert_int_equal(json_array_size(json_object_get(r.json, "broadcasts")), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(r.json, "broadcasts"), 0), "id")),
                        "b-second");
    h_resp_free(&r);
    assert_int_equal(h_http(feed.port, "GET", "/v1/broadcasts?limit=0", NULL, &r), 0);
    assert_int_equal(r.status, 400);
    h_resp_free(&r);

    /* Cancelled while waiting: nobody gets it; a cancel again answers the same; unknown 404. */
    assert_int_equal(cancel(feed.port, "a-first", st, sizeof st), 200);
    assert_string_equal(st, "cancelled");
    assert_int_equal(cancel(feed.port, "a-first", st, sizeof st), 200);
    assert_string_equal(st, "cancelled");
    assert_int_equal(cancel(feed.port, "no-such", st, sizeof st), 404);

    /* Cancelled mid-walk (2 events a second): who had it keeps it, no one more gets it. */
    start(&slow, 20, "PUNCHD_SEND_RATE=2");
    mw = (many_want){feed.port, 2};
    assert_true(h_wait_until(many_letters, &mw, 15000));
    assert_int_equal(cancel(feed.port, "b-second", st, sizeof st), 200);
    assert_string_equal(st, "cancelled");
    /* The sender stops at its next touch (each second on an idle machine: on a loaded one,
     * later) and says so; what it sent before lands. */
    if (!h_wait_until(says_stopping, &slow, 15000))
        fail_msg("the sender never saw the cancel; log %s", slow.log);
    stopped = h_metric(slow.port, "punchd_broadcast_events_total", -1);
    mw = (many_want){feed.port, stopped};
    if (!h_wait_until(many_letters, &mw, 15000))
        fail_msg("%lld letters sent, %lld landed", stopped, all_letters(feed.port));
    /* Stopped, no one more gets it: at 2 a second it would have sent the 10 by now. */
    mw = (many_want){feed.port, 10};
    assert_false(h_wait_until(many_letters, &mw, 4000));
    later = all_letters(feed.port);
    if (later != stopped || later >= 10 ||
        h_metric(slow.port, "punchd_broadcast_events_total", -1) != stopped)
        fail_msg("letters went on after the sender stopped: %lld sent then, %lld now", stopped,
                 later);
    assert_int_equal(h_http(feed.port, "GET", "/v1/broadcasts/b-second", NULL, &r), 0);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "cancelled");
    assert_true(json_integer_value(json_object_get(r.json, "sent")) >= 1);
    h_resp_free(&r);
    /* Its POST again answers its state: it is not opened again. */
    assert_int_equal(
        post(feed.port,
             "{\"id\": \"b-second\", \"type\": \"letter\", \"data\": {\"title\": \"B\"}}", NULL, 0,
             &r),
        200);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "cancelled");
    h_resp_free(&r);
    assert_true(h_metric(slow.port, "punchd_broadcast_events_total", -1) >= 2);
    h_punchd_stop(&slow);

    /* A broadcast done cannot be cancelled: 409. Only it is sent (10 events). */
    assert_int_equal(
        post(feed.port, "{\"id\": \"c-third\", \"type\": \"letter\", \"data\": {\"title\": \"C\"}}",
             NULL, 0, NULL),
        202);
    start(&fast, 20, "PUNCHD_SEND_RATE=500");
    sw.port = feed.port;
    assert_true(h_wait_until(broadcast_done, &sw, 20000));
    assert_int_equal(cancel(feed.port, "c-third", st, sizeof st), 409);
    assert_string_equal(st, "broadcast_done");
    assert_int_equal(h_metric(fast.port, "punchd_broadcast_events_total", -1), 10);
    assert_int_equal(h_metric(feed.port, "punchd_broadcasts_total", -1), 3);
    h_punchd_stop(&fast);
    h_punchd_stop(&feed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segment_once_across_a_kill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_cancel_metrics, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
