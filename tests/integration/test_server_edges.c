/*
 * What punchd must come through whole, against a real redis-server and real
 * punchd processes (built with sanitizers by `make test SANITIZE=1`, where a
 * use after free aborts punchd):
 *  - a store that fails a read before the sending function returns, right
 *    after an earlier read of the same request succeeded (a leaderboard with
 *    ?member=), and reads while Redis is stopped;
 *  - a shutdown that runs out of drain time with requests still waiting on
 *    a stopped Redis: punchd exits 0 and no late answer touches a freed request;
 *  - ids punchd makes up for PUT /v1/members/{m} in the same millisecond on
 *    several workers and processes: each change applies, none is taken for a
 *    retry of the other.
 */
#include "harness.h"
#include "punchcard/common.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char mechanics_lua[] =
    "mechanic 'steps' { on = 'walk', run = function(ev, m) m:score('steps', 10) end }\n"
    "mechanic 'visit' { on = 'visit', run = function(ev, m) m:earn('stars', 1) end }\n";

static char *scripts_dir(void)
{
    char dir[] = "/tmp/punch-edges-XXXXXX";
    if (!mkdtemp(dir))
        fail_msg("mkdtemp");
    h_write_file(dir, "edges.lua", mechanics_lua);
    return strdup(dir);
}

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static const char *error_code(const http_resp *r)
{
    return json_string_value(json_object_get(json_object_get(r->json, "error"), "code"));
}

/* GET path: its status, and (when code is not NULL) the error code it must carry. */
static void expect_get(int port, const char *path, long status, const char *code)
{
    http_resp r;
    if (h_http(port, "GET", path, NULL, &r))
        fail_msg("GET %s: no answer (did punchd die?)", path);
    if (r.status != status || (code && (!error_code(&r) || strcmp(error_code(&r), code))))
        fail_msg("GET %s: want %ld %s, got %ld %s", path, status, code ? code : "", r.status,
                 r.body);
    h_resp_free(&r);
}

/* Runs one command on the test's own connection to redis; the reply's integer. */
static long long redis_int(const tmpredis *r, const char *cmd)
{
    redisContext *c = redisConnectUnix(r->socket);
    redisReply *rep = c && !c->err ? redisCommand(c, cmd) : NULL;
    long long v = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
    freeReplyObject(rep);
    if (c)
        redisFree(c);
    return v;
}

/* The sanitizer options punchd runs with, plus what loading a library before it needs. */
static const char *asan_options(void)
{
    static char opts[600];
    const char *have = getenv("ASAN_OPTIONS");
    snprintf(opts, sizeof opts, "ASAN_OPTIONS=%s%sverify_asan_link_order=0", have ? have : "",
             have && *have ? ":" : "");
    return opts;
}

/*
 * The board's meta reads fine; then its top cannot even be sent. The read
 * must fail as a whole (503) while the code that sent the top is still
 * working with it, and punchd must live on.
 */
static void a_read_failing_before_its_send_returns(void **state)
{
    tmpredis redis;
    punchd_proc p;
    char *dir = scripts_dir();
    const char *env[] = {"LD_PRELOAD=" FAILSEND_PATH, "PUNCH_FAIL_SEND=ZREVRANGE", asan_options(),
                         NULL};
    http_resp r;

    assert_int_equal(tmpredis_start(&redis, 0), 0);
    assert_int_equal(h_punchd_start_env(&p, redis.socket, dir, NULL, env), 0);
    assert_int_equal(h_event(p.port, "{\"id\":\"w1\",\"type\":\"walk\",\"member\":\"ann\"}", &r),
                     200);
    h_resp_free(&r);
    /* The score is an effect of the commit: written just after the answer. */
    for (int i = 0; i < 250 && redis_int(&redis, "EXISTS pc:{lb:steps}:meta") != 1; i++)
        nap_ms(20);
    assert_int_equal(redis_int(&redis, "EXISTS pc:{lb:steps}:meta"), 1);

    expect_get(p.port, "/v1/leaderboards/steps?member=ann", 503, "unavailable");
    expect_get(p.port, "/v1/leaderboards/steps", 503, "unavailable");
    expect_get(p.port, "/v1/members/ann", 200, NULL); /* other reads go on */
    expect_get(p.port, "/healthz", 200, NULL);
    assert_true(h_punchd_alive(&p));
    assert_int_equal(h_stack_stop(&redis, &p, dir), 0);
}

/* Redis gone: every read fails at once, as 503, and punchd serves on. */
static void reads_while_redis_is_stopped(void **state)
{
    tmpredis redis;
    punchd_proc p;
    char *dir = scripts_dir();
    static const char *const paths[] = {"/v1/leaderboards/steps?member=ann",
                                        "/v1/leaderboards/steps",
                                        "/v1/draws/lunch",
                                        "/v1/members/ann",
                                        "/v1/members/ann/ledger",
                                        "/v1/stats",
                                        "/v1/partners/fuelco/summary"};

    assert_int_equal(tmpredis_start(&redis, 0), 0);
    assert_int_equal(h_punchd_start(&p, redis.socket, dir, NULL, NULL), 0);
    tmpredis_stop(&redis);
    for (int i = 0; i < 100; i++) {
        http_resp r;
        if (h_http(p.port, "GET", "/healthz", NULL, &r) == 0 && r.status == 503) {
            h_resp_free(&r);
            break;
        }
        h_resp_free(&r);
        nap_ms(20);
    }
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
        expect_get(p.port, paths[i], 503, "unavailable");
    assert_true(h_punchd_alive(&p));
    assert_int_equal(h_stack_stop(&redis, &p, dir), 0);
}

/* Removes what h_punchd_start() made for a punchd this test reaped itself. */
static void punchd_cleanup(punchd_proc *p)
{
    char path[300];
    unlink(p->log);
    snprintf(path, sizeof path, "%s/port", p->dir);
    unlink(path);
    rmdir(p->dir);
}

/* A child that sends one request and waits (at most 30 s) for its answer. */
static pid_t request_in_child(int port, const char *method, const char *path, const char *body)
{
    pid_t pid = fork();
    if (pid == 0) {
        http_resp r;
        h_http(port, method, path, body, &r);
        _exit(0);
    }
    return pid;
}

/* punchd_inflight from /metrics, or -1. */
static long inflight(int port)
{
    http_resp r;
    long n = -1;
    const char *at;
    if (h_http(port, "GET", "/metrics", NULL, &r) == 0 &&
        (at = strstr(r.body, "\npunchd_inflight ")))
        n = strtol(at + 17, NULL, 10);
    h_resp_free(&r);
    return n;
}

/*
 * SIGTERM while three requests (an event and two reads) wait on a Redis that
 * does not answer, for longer than the drain allows: punchd gives them up,
 * frees its HTTP side, then the store fails what it still holds; nothing of
 * that may reach a freed request.
 */
static void shutdown_with_requests_waiting_on_redis(void **state)
{
    static const char *const slow[] = {"--redis-timeout-ms", "30000", NULL};
    tmpredis redis;
    punchd_proc p;
    char *dir = scripts_dir(), *log;
    pid_t kids[3];
    int st = -1;
    long n = 0;

    assert_int_equal(tmpredis_start(&redis, 0), 0);
    assert_int_equal(h_punchd_start(&p, redis.socket, dir, slow, NULL), 0);
    expect_get(p.port, "/v1/members/ann", 404, "not_found"); /* connected */
    kill(redis.pid, SIGSTOP);
    kids[0] = request_in_child(p.port, "POST", "/v1/events",
                               "{\"id\":\"v1\",\"type\":\"visit\",\"member\":\"bo\"}");
    kids[1] = request_in_child(p.port, "GET", "/v1/members/ann", NULL);
    kids[2] = request_in_child(p.port, "GET", "/v1/leaderboards/steps?member=ann", NULL);
    for (int i = 0; i < 250 && (n = inflight(p.port)) < 3; i++)
        nap_ms(20);
    assert_int_equal(n, 3);

    kill(p.pid, SIGTERM);
    for (int i = 0; i < 1500; i++) { /* the drain gives up after 5 s */
        if (waitpid(p.pid, &st, WNOHANG) == p.pid)
            break;
        nap_ms(10);
    }
    log = pc_read_file(p.log, NULL);
    kill(redis.pid, SIGCONT);
    for (int i = 0; i < 3; i++) {
        kill(kids[i], SIGKILL);
        waitpid(kids[i], NULL, 0);
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !log || strstr(log, "AddressSanitizer") ||
        strstr(log, "runtime error") || strstr(log, "Assertion"))
        fail_msg("punchd: %s %d; its log:\n%s", WIFEXITED(st) ? "exit" : "signal",
                 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), log ? log : "(none)");
    assert_non_null(strstr(log, "3 requests still in flight at exit"));
    free(log);
    p.pid = 0;
    punchd_cleanup(&p);
    tmpredis_destroy(&redis);
    h_rm_dir(dir);
    free(dir);
}

/* The answers of two PUTs sent at the same moment, one to each port. */
static void put_both(int port_a, int port_b, const char *member, http_resp out[2])
{
    static const char *const bodies[2] = {"{\"attributes\":{\"a\":\"1\"}}",
                                          "{\"attributes\":{\"b\":\"1\"}}"};
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    CURLM *m = curl_multi_init();
    CURL *e[2];
    FILE *f[2];
    char *text[2] = {NULL, NULL};
    size_t len[2];
    int running;
    for (int i = 0; i < 2; i++) {
        char url[300];
        snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/members/%s", i ? port_b : port_a, member);
        f[i] = open_memstream(&text[i], &len[i]);
        e[i] = curl_easy_init();
        curl_easy_setopt(e[i], CURLOPT_URL, url);
        curl_easy_setopt(e[i], CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(e[i], CURLOPT_POSTFIELDS, bodies[i]);
        curl_easy_setopt(e[i], CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(e[i], CURLOPT_WRITEDATA, f[i]);
        curl_easy_setopt(e[i], CURLOPT_TIMEOUT_MS, 10000L);
        curl_multi_add_handle(m, e[i]);
    }
    do {
        curl_multi_perform(m, &running);
        if (running)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    } while (running);
    for (int i = 0; i < 2; i++) {
        fclose(f[i]);
        memset(&out[i], 0, sizeof out[i]);
        curl_easy_getinfo(e[i], CURLINFO_RESPONSE_CODE, &out[i].status);
        out[i].body = text[i];
        out[i].json = json_loads(text[i], 0, NULL);
        curl_multi_remove_handle(m, e[i]);
        curl_easy_cleanup(e[i]);
    }
    curl_multi_cleanup(m);
    curl_slist_free_all(hdrs);
}

/* The millisecond part of a made-up id "profile-<ms>-...", or -1. */
static long long id_ms(const http_resp *r)
{
    const char *id = json_string_value(json_object_get(r->json, "id"));
    return id && !strncmp(id, "profile-", 8) ? strtoll(id + 8, NULL, 10) : -1;
}

/*
 * Two punchd with two workers each, one Redis: the same member changed
 * through both at once, without ids, again and again until some pairs were
 * made in the same millisecond. Every change applies: neither id may be the
 * other's.
 */
static void ids_made_at_once_on_workers_never_collide(void **state)
{
    static const char *const two[] = {"--workers", "2", NULL};
    tmpredis redis;
    punchd_proc a, b;
    char *dir = scripts_dir();
    int same_ms = 0, pairs = 0;

    assert_int_equal(tmpredis_start(&redis, 0), 0);
    assert_int_equal(h_punchd_start(&a, redis.socket, dir, two, NULL), 0);
    assert_int_equal(h_punchd_start(&b, redis.socket, dir, two, NULL), 0);
    while (same_ms < 5 && pairs < 400) {
        char member[32], path[64];
        http_resp r[2], m;
        json_t *attrs;
        snprintf(member, sizeof member, "p%d", pairs++);
        put_both(a.port, b.port, member, r);
        for (int i = 0; i < 2; i++)
            if (r[i].status != 200 || !json_is_false(json_object_get(r[i].json, "duplicate")))
                fail_msg("%s: PUT %d answered %ld %s", member, i, r[i].status, r[i].body);
        same_ms += id_ms(&r[0]) == id_ms(&r[1]);
        snprintf(path, sizeof path, "/v1/members/%s", member);
        assert_int_equal(h_http(a.port, "GET", path, NULL, &m), 0);
        attrs = json_object_get(m.json, "attributes");
        if (!json_object_get(attrs, "a") || !json_object_get(attrs, "b"))
            fail_msg("%s: one change is lost (ids %s and %s): %s", member,
                     json_string_value(json_object_get(r[0].json, "id")),
                     json_string_value(json_object_get(r[1].json, "id")), m.body);
        h_resp_free(&m);
        h_resp_free(&r[0]);
        h_resp_free(&r[1]);
    }
    if (same_ms == 0)
        fail_msg("no two of %d pairs got their ids in the same millisecond", pairs);
    assert_int_equal(h_punchd_stop(&b), 0);
    assert_int_equal(h_stack_stop(&redis, &a, dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_read_failing_before_its_send_returns),
        cmocka_unit_test(reads_while_redis_is_stopped),
        cmocka_unit_test(shutdown_with_requests_waiting_on_redis),
        cmocka_unit_test(ids_made_at_once_on_workers_never_collide),
    };
    return cmocka_run_group_tests_name("server_edges", tests, NULL, NULL);
}
