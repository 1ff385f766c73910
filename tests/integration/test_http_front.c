/*
 * punchd's HTTP front, spoken to over raw sockets where curl would tidy the
 * request up, against a real redis-server and real punchd processes:
 *  - conformance: ambiguous framing (two Content-Length, or one with
 *    Transfer-Encoding) is 400; what evhttp answers by itself (a malformed
 *    request, a body over its cap, an unknown method) is the documented JSON;
 *    405 names the methods in Allow, 503 carries Retry-After; percent-encoded
 *    path ids are decoded; an "at" too far ahead is refused;
 *  - idempotency keys: an id sent again with another request is 422
 *    idempotency_mismatch, the same request again is a duplicate marked
 *    Idempotent-Replayed (events, redemptions, reversals);
 *  - slow clients: a request sent a byte at a time is cut at its deadline,
 *    an idle keep-alive connection is not; connections are capped per peer
 *    and in all, and /metrics counts both;
 *  - answers are not held back: TCP_NODELAY on punchd's end of a connection.
 */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static tmpredis redis;
static punchd_proc p;
static char *dir;

static int stop_stack(void **state)
{
    h_tmp_stack_stop(&redis, &p, &dir);
    return 0;
}

/* punchd with extra args and env entries (both NULL-terminated, may be NULL). */
static void start_env(const char *const *extra, const char *const *env)
{
    dir = h_scripts_copy();
    assert_int_equal(tmpredis_start(&redis, 0), 0);
    assert_int_equal(h_punchd_start_env(&p, redis.socket, dir, extra, env), 0);
}

static void start(const char *const *extra)
{
    start_env(extra, NULL);
}

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int connect_to(int port)
{
    int fd = h_tcp_connect(port);
    if (fd < 0)
        fail_msg("cannot connect to punchd on %d", port);
    return fd;
}

/*
 * Reads one answer from fd (status line, headers, a Content-Length body)
 * within timeout_ms into out (NUL-terminated); its status, or 0 when the
 * connection closed or the time ran out first.
 */
static int read_answer(int fd, char *out, size_t n, int timeout_ms)
{
    size_t len = 0;
    long long end = h_mono_ms() + timeout_ms;
    out[0] = '\0';
    for (;;) {
        struct pollfd pf = {fd, POLLIN, 0};
        ssize_t got;
        if (h_http_answer_len(out, len))
            return atoi(out + 9);
        if (h_mono_ms() >= end || len + 1 >= n)
            return 0;
        if (poll(&pf, 1, (int)(end - h_mono_ms())) <= 0)
            continue;
        got = read(fd, out + len, n - len - 1);
        if (got <= 0)
            return 0;
        len += (size_t)got;
        out[len] = '\0';
    }
}

/* One raw request on its own connection; its status, the answer in out. */
static int raw(const char *request, char *out, size_t n)
{
    int fd = connect_to(p.port), st;
    if (write(fd, request, strlen(request)) != (ssize_t)strlen(request))
        fail_msg("write");
    st = read_answer(fd, out, n, 5000);
    close(fd);
    return st;
}

static void expect_json_error(const char *what, const char *answer, int status, int want_status,
                              const char *code)
{
    char needle[80];
    snprintf(needle, sizeof needle, "\"code\":\"%s\"", code);
    if (status != want_status || !strstr(answer, "Content-Type: application/json") ||
        !strstr(answer, needle))
        fail_msg("%s: want %d %s as JSON, got:\n%s", what, want_status, code, answer);
}

static void framing_and_evhttps_own_answers(void **state)
{
    static const struct {
        const char *what, *request;
        int status;
        const char *code;
    } cases[] = {
        {"two Content-Length",
         "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 43\r\nContent-Length: 43\r\n\r\n"
         "{\"id\":\"cl-1\",\"type\":\"visit\",\"member\":\"ann\"}",
         400, "bad_request"},
        {"Content-Length and Transfer-Encoding",
         "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
         "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
         400, "bad_request"},
        {"malformed request line", "GARBAGE\r\n\r\n", 400, "bad_request"},
        {"malformed header", "GET /healthz HTTP/1.1\r\nno colon here\r\n\r\n", 400, "bad_request"},
        {"body over evhttp's cap",
         "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n{", 413,
         "too_large"},
        {"unknown method", "BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 501, "not_implemented"},
        {"PATCH", "PATCH /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 405,
         "method_not_allowed"},
        {"OPTIONS", "OPTIONS /v1/members/ann HTTP/1.1\r\nHost: x\r\n\r\n", 405,
         "method_not_allowed"},
    };
    const char *extra[] = {"--max-body", "1024", "--max-batch-body", "1024", NULL};
    char out[8192];
    start(extra);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        expect_json_error(cases[i].what, out, raw(cases[i].request, out, sizeof out),
                          cases[i].status, cases[i].code);
    /* 405 lists what the path takes. */
    raw("PATCH /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", out, sizeof out);
    assert_non_null(strstr(out, "\r\nAllow: POST\r\n"));
    raw("OPTIONS /v1/members/ann HTTP/1.1\r\nHost: x\r\n\r\n", out, sizeof out);
    assert_non_null(strstr(out, "\r\nAllow: GET, PUT\r\n"));
    /* Ambiguous framing also closes the connection. */
    raw("POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
        out, sizeof out);
    assert_non_null(strstr(out, "Connection: close"));
    /* Redis gone: 503 says when to retry. */
    tmpredis_stop(&redis);
    assert_int_equal(raw("GET /v1/members/ann HTTP/1.1\r\nHost: x\r\n\r\n", out, sizeof out), 503);
    assert_non_null(strstr(out, "\r\nRetry-After: "));
}

static void percent_encoded_ids_and_the_future(void **state)
{
    http_resp r;
    char at[64], body[256];
    time_t soon = time(NULL) + 3600, far = time(NULL) + 3 * 86400;
    start(NULL);
    assert_int_equal(h_http(p.port, "PUT", "/v1/members/ann%40shop.com",
                            "{\"id\":\"p-1\",\"attributes\":{\"city\":\"Lyon\"}}", &r),
                     0);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "member")), "ann@shop.com");
    h_resp_free(&r);
    assert_int_equal(h_http(p.port, "GET", "/v1/members/ann%40shop.com", NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "member")), "ann@shop.com");
    h_resp_free(&r);
    /* Decoded to something no id can be: 400 naming it. */
    assert_int_equal(h_http(p.port, "GET", "/v1/members/ann%2Fx", NULL, &r), 0);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "ann/x"));
    h_resp_free(&r);
    assert_int_equal(h_http(p.port, "GET", "/v1/members/ann%zz", NULL, &r), 0);
    assert_int_equal(r.status, 400);
    h_resp_free(&r);
    /* at: an hour ahead is taken; three days ahead (more than the default day) is not. */
    strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", gmtime(&soon));
    snprintf(body, sizeof body,
             "{\"id\":\"t-1\",\"type\":\"visit\",\"member\":\"ann\",\"at\":\"%s\"}", at);
    assert_int_equal(h_event(p.port, body, &r), 200);
    h_resp_free(&r);
    strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", gmtime(&far));
    snprintf(body, sizeof body,
             "{\"id\":\"t-2\",\"type\":\"visit\",\"member\":\"ann\",\"at\":\"%s\"}", at);
    assert_int_equal(h_event(p.port, body, &r), 400);
    assert_non_null(strstr(r.body, "in the future"));
    h_resp_free(&r);
    snprintf(body, sizeof body,
             "{\"events\":[{\"id\":\"t-4\",\"type\":\"visit\",\"member\":\"ann\",\"at\":\"%s\"}]}",
             at);
    assert_int_equal(h_http(p.port, "POST", "/v1/events/batch", body, &r), 0);
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(json_object_get(r.json, "results"), 0), "status")),
                     400);
    h_resp_free(&r);
    snprintf(body, sizeof body,
             "{\"id\":\"t-3\",\"currency\":\"stars\",\"amount\":1,\"at\":\"%s\"}", at);
    assert_int_equal(h_http(p.port, "POST", "/v1/members/ann/redeem", body, &r), 0);
    assert_int_equal(r.status, 400);
    h_resp_free(&r);
}

/* POST path body on a raw connection: the status, and the whole answer in out. */
static int post_raw(const char *path, const char *body, char *out, size_t n)
{
    char req[2048];
    snprintf(req, sizeof req,
             "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             path, strlen(body), body);
    return raw(req, out, n);
}

static void an_id_means_one_request(void **state)
{
    static const struct {
        const char *what, *path, *first, *same, *other;
    } cases[] = {
        {"event", "/v1/events",
         "{\"id\":\"o-1\",\"type\":\"order\",\"member\":\"bo\",\"data\":{\"items\":[{\"category\":"
         "\"fuel\",\"amount\":900}]}}",
         /* the same request, keys in another order and spaced */
         "{ \"member\": \"bo\", \"data\": {\"items\": [{\"amount\": 900, \"category\": \"fuel\"}]},"
         " \"type\": \"order\", \"id\": \"o-1\" }",
         "{\"id\":\"o-1\",\"type\":\"order\",\"member\":\"bo\",\"data\":{\"items\":[{\"category\":"
         "\"fuel\",\"amount\":100}]}}"},
        {"redemption", "/v1/members/bo/redeem",
         "{\"id\":\"r-1\",\"currency\":\"stars\",\"amount\":10}",
         "{\"amount\":10,\"currency\":\"stars\",\"id\":\"r-1\"}",
         "{\"id\":\"r-1\",\"currency\":\"stars\",\"amount\":20}"},
        {"reversal", "/v1/events/o-1/reverse",
         "{\"member\":\"bo\",\"id\":\"rv-1\",\"currency\":\"stars\",\"amount\":5}",
         "{\"member\":\"bo\",\"id\":\"rv-1\",\"amount\":5,\"currency\":\"stars\"}",
         "{\"member\":\"bo\",\"id\":\"rv-1\",\"currency\":\"stars\",\"amount\":6}"},
    };
    char out[8192];
    start(NULL);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int st = post_raw(cases[i].path, cases[i].first, out, sizeof out);
        if (st != 200 || strstr(out, "Idempotent-Replayed"))
            fail_msg("%s, first: %d\n%s", cases[i].what, st, out);
        st = post_raw(cases[i].path, cases[i].same, out, sizeof out);
        if (st != 200 || !strstr(out, "\r\nIdempotent-Replayed: true\r\n") ||
            !strstr(out, "\"duplicate\":true"))
            fail_msg("%s, the same again: %d\n%s", cases[i].what, st, out);
        st = post_raw(cases[i].path, cases[i].other, out, sizeof out);
        expect_json_error(cases[i].what, out, st, 422, "idempotency_mismatch");
    }
    /* Nothing was applied twice: 90 earned, 10 redeemed, 5 reversed. */
    assert_int_equal(h_balance(p.port, "bo", "stars"), 75);
}

/*
 * An answer's head, byte for byte (punchd writes evhttp's status line and
 * headers, and looks headers up, itself: evhttp_fast.c): a 200 event asked
 * with header names in any case, a 404 over HTTP/1.0, and /metrics (whose
 * lines other formats write) still whole.
 */
static void an_answers_head_byte_for_byte(void **state)
{
    static const char body[] =
        "{\"id\":\"h-1\",\"type\":\"visit\",\"member\":\"ann\",\"at\":\"2026-01-02T03:04:05Z\"}";
    static const char head404[] = "HTTP/1.0 404 Not Found\r\nX-Request-Id: head-2\r\n";
    char req[1024], out[8192], want[256], *big;
    const char *date, *text;
    start(NULL);
    snprintf(req, sizeof req,
             "POST /v1/events HTTP/1.1\r\nHost: x\r\nx-request-ID: head-1\r\n"
             "content-type: application/json\r\ncontent-length: %zu\r\n\r\n%s",
             strlen(body), body);
    assert_int_equal(raw(req, out, sizeof out), 200);
    assert_non_null(date = strstr(out, "\r\nDate: "));
    assert_non_null(text = strstr(out, "\r\n\r\n"));
    text += 4;
    /* "Wed, 02 Dec 2026 04:19:00 GMT": 29 characters */
    assert_int_equal(strcspn(date + 8, "\r"), 29);
    assert_int_equal(strncmp(date + 8 + 26, "GMT", 3), 0);
    snprintf(want, sizeof want,
             "HTTP/1.1 200 OK\r\nX-Request-Id: head-1\r\nContent-Type: application/json\r\n"
             "Date: %.29s\r\nContent-Length: %zu\r\n\r\n",
             date + 8, strlen(text));
    if (strncmp(out, want, strlen(want)) || text[strlen(text) - 1] != '\n' ||
        strncmp(text, "{\"id\":\"h-1\",\"type\":\"visit\",\"member\":\"ann\",", 42))
        fail_msg("want a head of\n%s\ngot\n%s", want, out);
    assert_int_equal(raw("GET /nowhere HTTP/1.0\r\nX-Request-Id: head-2\r\n\r\n", out, sizeof out),
                     404);
    if (strncmp(out, head404, strlen(head404)))
        fail_msg("a 404 over HTTP/1.0:\n%s", out);
    big = malloc(1 << 20);
    assert_non_null(big);
    assert_int_equal(raw("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", big, 1 << 20), 200);
    if (!strstr(big, "\r\nContent-Type: text/plain") ||
        !strstr(big, "\n# TYPE punchd_inflight gauge\npunchd_inflight 0\n"))
        fail_msg("/metrics:\n%s", big);
    free(big);
}

/* /metrics' value of a line starting with name (labels included); -1 when absent. */
static long metric(const char *name)
{
    http_resp r;
    const char *at;
    long v = -1;
    char want[200];
    snprintf(want, sizeof want, "\n%s ", name);
    if (h_http(p.port, "GET", "/metrics", NULL, &r) == 0 && (at = strstr(r.body, want)))
        v = atol(at + strlen(want));
    h_resp_free(&r);
    return v;
}

/* 1 once the server closed fd (EOF or reset), waiting up to timeout_ms. */
static int closed_within(int fd, int timeout_ms)
{
    char buf[512];
    long long end = h_mono_ms() + timeout_ms;
    while (h_mono_ms() < end) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 20) > 0 && read(fd, buf, sizeof buf) <= 0)
            return 1;
    }
    return 0;
}

static void a_request_a_byte_at_a_time_is_cut(void **state)
{
    /* The variable, not the flag: a punchd without the deadline runs too, and fails here. */
    const char *env[] = {"PUNCHD_REQUEST_TIMEOUT_MS=300", NULL};
    static const char slow[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaa"
                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    char out[4096];
    long long t0, cut = -1;
    int fd;
    start_env(NULL, env);
    fd = connect_to(p.port);
    t0 = h_mono_ms();
    /* A byte every 40 ms: 300 ms would pass 7 times over before the request ends. */
    for (size_t i = 0; i < sizeof slow - 1 && cut < 0; i++) {
        if (send(fd, slow + i, 1, MSG_NOSIGNAL) != 1 || closed_within(fd, 40))
            cut = h_mono_ms() - t0;
    }
    close(fd);
    if (cut < 250 || cut > 1500)
        fail_msg("the slow request was cut after %lld ms (want about 300; -1: never)", cut);
    assert_true(metric("punchd_request_timeouts_total") >= 1);
    /* A keep-alive connection idle between requests is not cut, and a connection that sends
     * nothing is. */
    fd = connect_to(p.port);
    assert_true(write(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 34) == 34);
    assert_int_equal(read_answer(fd, out, sizeof out, 2000), 200);
    nap_ms(600);
    assert_true(write(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 34) == 34);
    assert_int_equal(read_answer(fd, out, sizeof out, 2000), 200);
    close(fd);
    fd = connect_to(p.port);
    assert_true(closed_within(fd, 1500));
    close(fd);
}

/* Opens n connections that stay idle; the answer of the next one (0 when it got none). */
static int over_the_cap(int n, int *fds, char *out, size_t len)
{
    int extra, st;
    for (int i = 0; i < n; i++)
        fds[i] = connect_to(p.port);
    nap_ms(100); /* adopted and counted */
    extra = connect_to(p.port);
    st = read_answer(extra, out, len, 2000);
    close(extra);
    return st;
}

static void connections_are_capped(void **state)
{
    for (int per_ip = 0; per_ip < 2; per_ip++) {
        const char *env[] = {
            per_ip ? "PUNCHD_MAX_CONNECTIONS_PER_IP=3" : "PUNCHD_MAX_CONNECTIONS=3", NULL};
        int fds[3];
        char out[4096];
        long open_before;
        http_resp r;
        start_env(NULL, env);
        expect_json_error(per_ip ? "per ip" : "in all", out, over_the_cap(3, fds, out, sizeof out),
                          503, "too_many_connections");
        assert_non_null(strstr(out, "Retry-After: "));
        close(fds[0]);
        /* One closed: the next gets in. */
        nap_ms(100);
        assert_int_equal(h_http(p.port, "GET", "/healthz", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        h_resp_free(&r);
        close(fds[1]);
        close(fds[2]);
        nap_ms(100);
        assert_int_equal(metric(per_ip ? "punchd_connections_refused_total{cap=\"per_ip\"}"
                                       : "punchd_connections_refused_total{cap=\"total\"}"),
                         1);
        /* Only /metrics' own connection is open now: nothing leaked. */
        open_before = metric("punchd_connections");
        assert_int_equal(open_before, 1);
        stop_stack(NULL);
    }
}

/*
 * TCP_NODELAY on punchd's end of a client connection, read through a copy of
 * that socket taken from punchd: -1 when no socket of punchd's has client's
 * address as its peer.
 */
static int server_nodelay(pid_t pid, int client)
{
    int copy, on = 0;
    socklen_t ol = sizeof on;
    if (h_server_socket(pid, client, &copy) < 0)
        return -1;
    if (getsockopt(copy, IPPROTO_TCP, TCP_NODELAY, &on, &ol))
        on = -1;
    close(copy);
    return on < 0 ? -1 : on != 0;
}

/*
 * Answers leave as soon as they are written: TCP_NODELAY on every accepted
 * connection. Without it an answer longer than one write of the bufferevent
 * (16 KiB, a batch's) waited for the client's delayed ACK of its first part:
 * 40 ms per batch on Linux, which held a batch of 100 to 0.5x the rate of
 * single events.
 */
static void answers_are_not_held_back(void **state)
{
    char out[4096];
    int fd;
    start(NULL);
    fd = connect_to(p.port);
    assert_true(write(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 34) == 34);
    assert_int_equal(read_answer(fd, out, sizeof out, 2000), 200); /* adopted by now */
    assert_int_equal(server_nodelay(p.pid, fd), 1);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(framing_and_evhttps_own_answers, stop_stack),
        cmocka_unit_test_teardown(percent_encoded_ids_and_the_future, stop_stack),
        cmocka_unit_test_teardown(an_id_means_one_request, stop_stack),
        cmocka_unit_test_teardown(a_request_a_byte_at_a_time_is_cut, stop_stack),
        cmocka_unit_test_teardown(connections_are_capped, stop_stack),
        cmocka_unit_test_teardown(an_answers_head_byte_for_byte, stop_stack),
        cmocka_unit_test_teardown(answers_are_not_held_back, stop_stack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
