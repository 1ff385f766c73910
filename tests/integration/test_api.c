/*
 * HTTP API v1 against a real redis-server and a real punchd: the event
 * transaction (dessert every 4th order, exactly once under retries and races),
 * input validation that changes nothing, the ledger, limits and auth.
 */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static tmpredis redis;
static punchd_proc punchd;
static char *scripts;

static int group_setup(void **state)
{
    scripts = h_scripts_copy();
    return h_stack_start(&redis, &punchd, scripts, 0, NULL);
}

static int group_teardown(void **state)
{
    assert_int_equal(h_stack_stop(&redis, &punchd, scripts), 0); /* a clean exit after SIGTERM */
    return 0;
}

static long order(const char *id, const char *member, http_resp *r)
{
    char body[512];
    snprintf(body, sizeof body, "{\"id\":\"%s\",\"type\":\"order\",\"member\":\"%s\"}", id, member);
    return h_event(punchd.port, body, r);
}

static int has_prize(json_t *resp, const char *prize)
{
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(resp, "outcomes"), i, o) {
        if (!strcmp(json_string_value(json_object_get(o, "kind")), "prize") &&
            !strcmp(json_string_value(json_object_get(o, "prize")), prize))
            return 1;
    }
    return 0;
}

static void dessert_on_4th_and_8th_only(void **state)
{
    for (int i = 1; i <= 9; i++) {
        http_resp r;
        char id[32];
        snprintf(id, sizeof id, "d-%d", i);
        assert_int_equal(order(id, "dana", &r), 200);
        if (has_prize(r.json, "dessert") != (i % 4 == 0))
            fail_msg("order %d: dessert outcome %s, body %s", i,
                     has_prize(r.json, "dessert") ? "present" : "absent", r.body);
        assert_string_equal(json_string_value(json_object_get(r.json, "member")), "dana");
        assert_true(json_is_false(json_object_get(r.json, "duplicate")));
        assert_true(json_is_string(json_object_get(r.json, "mechanics_version")));
        h_resp_free(&r);
    }
}

static void fuel_order_earns_86_stars(void **state)
{
    http_resp r;
    const char *ev =
        "{\"id\":\"f-1\",\"type\":\"order\",\"member\":\"fred\",\"data\":{\"items\":"
        "[{\"category\":\"fuel\",\"amount\":500},{\"category\":\"shop\",\"amount\":125}]}}";
    json_t *o;
    size_t i;
    int seen = 0;
    assert_int_equal(h_event(punchd.port, ev, &r), 200);
    json_array_foreach(json_object_get(r.json, "outcomes"), i, o) {
        if (!strcmp(json_string_value(json_object_get(o, "kind")), "stars")) {
            assert_string_equal(json_string_value(json_object_get(o, "mechanic")), "fuel");
            assert_string_equal(json_string_value(json_object_get(o, "currency")), "stars");
            assert_int_equal(json_integer_value(json_object_get(o, "delta")), 86);
            assert_int_equal(json_integer_value(json_object_get(o, "balance")), 86);
            seen++;
        }
    }
    assert_int_equal(seen, 1);
    h_resp_free(&r);
    assert_int_equal(h_balance(punchd.port, "fred", "stars"), 86);
}

static void retried_id_applies_nothing_twice(void **state)
{
    const char *ev = "{\"id\":\"r-1\",\"type\":\"order\",\"member\":\"rita\",\"data\":{\"items\":"
                     "[{\"category\":\"shop\",\"amount\":100}]}}";
    http_resp a, b;
    int entries;
    assert_int_equal(h_event(punchd.port, ev, &a), 200);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(h_event(punchd.port, ev, &b), 200);
        assert_true(json_is_true(json_object_get(b.json, "duplicate")));
        /* The first response, outcomes and all. */
        json_object_set_new(b.json, "duplicate", json_false());
        assert_true(json_equal(a.json, b.json));
        h_resp_free(&b);
    }
    h_resp_free(&a);
    assert_int_equal(h_balance(punchd.port, "rita", "stars"), 30);
    assert_int_equal(h_ledger_sum(punchd.port, "rita", "stars", &entries), 30);
    assert_int_equal(entries, 1);
}

/* Each bad request gets its status and error code, and the member stays untouched. */
static void bad_input_changes_nothing(void **state)
{
    static const struct {
        const char *body;
        long status;
        const char *code;
    } cases[] = {
        {"{bad", 400, "bad_json"},
        {"", 400, "bad_json"},
        {"[]", 400, "bad_request"},
        {"{\"type\":\"order\",\"member\":\"bert\"}", 400, "bad_request"},
        {"{\"id\":\"\",\"type\":\"order\",\"member\":\"bert\"}", 400, "bad_request"},
        {"{\"id\":\"b1\",\"member\":\"bert\"}", 400, "bad_request"},
        {"{\"id\":\"b1\",\"type\":\"order\"}", 400, "bad_request"},
        {"{\"id\":\"b1\",\"type\":\"order\",\"member\":\"be rt\"}", 400, "bad_request"},
        {"{\"id\":\"b1\",\"type\":\"order\",\"member\":\"{bert}\"}", 400, "bad_request"},
        {"{\"id\":7,\"type\":\"order\",\"member\":\"bert\"}", 400, "bad_request"},
        {"{\"id\":\"b1\",\"type\":\"Order!\",\"member\":\"bert\"}", 400, "bad_request"},
        {"{\"id\":\"b1\",\"type\":\"order\",\"member\":\"bert\",\"at\":\"yesterday\"}", 400,
         "bad_request"},
        {"{\"id\":\"b1\",\"type\":\"order\",\"member\":\"bert\",\"data\":[1]}", 400, "bad_request"},
        {"{\"id\":\"b1\",\"type\":\"order\",\"member\":\"bert\",\"extra\":1}", 400, "bad_request"},
        {"{\"id\":\"b1\",\"id\":\"b2\",\"type\":\"order\",\"member\":\"bert\"}", 400, "bad_json"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        http_resp r;
        assert_int_equal(h_http(punchd.port, "POST", "/v1/events", cases[i].body, &r), 0);
        if (r.status != cases[i].status || !r.json ||
            strcmp(json_string_value(json_object_get(json_object_get(r.json, "error"), "code")),
                   cases[i].code))
            fail_msg("case %zu (%s): got %ld %s", i, cases[i].body, r.status, r.body);
        h_resp_free(&r);
    }
    http_resp m;
    assert_int_equal(h_http(punchd.port, "GET", "/v1/members/bert", NULL, &m), 0);
    assert_int_equal(m.status, 404);
    h_resp_free(&m);
}

static void too_large_body_is_413(void **state)
{
    size_t n = 70 * 1024;
    char *body = malloc(n + 128);
    http_resp r;
    int len =
        sprintf(body, "{\"id\":\"big\",\"type\":\"order\",\"member\":\"gus\",\"data\":{\"x\":\"");
    memset(body + len, 'a', n);
    strcpy(body + len + n, "\"}}");
    assert_int_equal(h_http(punchd.port, "POST", "/v1/events", body, &r), 0);
    assert_int_equal(r.status, 413);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.json, "error"), "code")), "too_large");
    h_resp_free(&r);
    free(body);
}

static void unknown_routes_and_methods(void **state)
{
    static const struct {
        const char *method, *path;
        long status;
    } cases[] = {
        {"GET", "/nope", 404},
        {"GET", "/v1/nope", 404},
        {"GET", "/v1/events", 405},
        {"POST", "/v1/mechanics", 405},
        {"GET", "/v1/members/ann/nope", 404},
        {"GET", "/v1/members/a%20b", 400},
        {"GET", "/v1/members/nobody-here", 404},
        {"GET", "/v1/members/ann/ledger?limit=0", 400},
        {"GET", "/v1/members/ann/ledger?limit=abc", 400},
        {"GET", "/v1/members/ann/ledger?cursor=notacursor", 400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        http_resp r;
        assert_int_equal(h_http(punchd.port, cases[i].method, cases[i].path, NULL, &r), 0);
        if (r.status != cases[i].status || !json_is_object(json_object_get(r.json, "error")))
            fail_msg("%s %s: got %ld %s", cases[i].method, cases[i].path, r.status, r.body);
        h_resp_free(&r);
    }
}

static void ledger_pages_newest_first_and_sums_to_balance(void **state)
{
    int entries = 0;
    for (int i = 1; i <= 15; i++) {
        char body[256];
        http_resp r;
        snprintf(body, sizeof body,
                 "{\"id\":\"l-%d\",\"type\":\"order\",\"member\":\"lea\",\"data\":{\"items\":"
                 "[{\"category\":\"fuel\",\"amount\":%d}]}}",
                 i, i * 10);
        assert_int_equal(h_event(punchd.port, body, &r), 200);
        h_resp_free(&r);
    }
    /* 1 + 2 + ... + 15 stars */
    assert_int_equal(h_balance(punchd.port, "lea", "stars"), 120);
    assert_int_equal(h_ledger_sum(punchd.port, "lea", "stars", &entries), 120);
    assert_int_equal(entries, 15);

    http_resp r;
    assert_int_equal(h_http(punchd.port, "GET", "/v1/members/lea/ledger?limit=2", NULL, &r), 0);
    json_t *e = json_object_get(r.json, "entries");
    assert_int_equal(json_array_size(e), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(e, 0), "event")), "l-15");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(e, 0), "balance")), 120);
    assert_string_equal(json_string_value(json_object_get(json_array_get(e, 1), "event")), "l-14");
    assert_true(json_is_string(json_object_get(json_array_get(e, 0), "mechanics_version")));
    assert_true(json_is_string(json_object_get(r.json, "next")));
    h_resp_free(&r);
}

/* Many events of one member at once: every one applies, through version conflicts. */
static void concurrent_events_of_one_member_all_apply(void **state)
{
    enum { N = 40 };
    char *bodies[N];
    http_resp outs[N];
    int entries = 0;
    for (int i = 0; i < N; i++) {
        bodies[i] = malloc(256);
        snprintf(bodies[i], 256,
                 "{\"id\":\"c-%d\",\"type\":\"order\",\"member\":\"carl\",\"data\":{\"items\":"
                 "[{\"category\":\"shop\",\"amount\":10}]}}",
                 i);
    }
    assert_int_equal(
        h_http_parallel(punchd.port, "/v1/events", (const char *const *)bodies, N, outs), 0);
    int prizes = 0;
    for (int i = 0; i < N; i++) {
        if (outs[i].status != 200)
            fail_msg("event %d: %ld %s", i, outs[i].status, outs[i].body);
        prizes += has_prize(outs[i].json, "dessert");
        h_resp_free(&outs[i]);
        free(bodies[i]);
    }
    assert_int_equal(prizes, N / 4);
    assert_int_equal(h_balance(punchd.port, "carl", "stars"), 3 * N);
    assert_int_equal(h_ledger_sum(punchd.port, "carl", "stars", &entries), 3 * N);
    assert_int_equal(entries, N);
}

/* One event sent many times at once: applied exactly once, every copy answers alike. */
static void racing_copies_of_one_event_apply_once(void **state)
{
    enum { N = 25 };
    const char *body = "{\"id\":\"same-1\",\"type\":\"order\",\"member\":\"sam\",\"data\":{"
                       "\"items\":[{\"category\":\"shop\",\"amount\":50}]}}";
    const char *bodies[N];
    http_resp outs[N];
    int fresh = 0, entries = 0;
    for (int i = 0; i < N; i++)
        bodies[i] = body;
    assert_int_equal(h_http_parallel(punchd.port, "/v1/events", bodies, N, outs), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(outs[i].status, 200);
        fresh += json_is_false(json_object_get(outs[i].json, "duplicate"));
        assert_true(json_equal(json_object_get(outs[i].json, "outcomes"),
                               json_object_get(outs[0].json, "outcomes")));
    }
    for (int i = 0; i < N; i++)
        h_resp_free(&outs[i]);
    assert_int_equal(fresh, 1);
    assert_int_equal(h_balance(punchd.port, "sam", "stars"), 15);
    assert_int_equal(h_ledger_sum(punchd.port, "sam", "stars", &entries), 15);
    assert_int_equal(entries, 1);
}

/* A client that sends an event and hangs up at once: the event still applies, punchd lives. */
static void client_hanging_up_mid_event(void **state)
{
    const char *req =
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 48\r\n\r\n{\"id\":\"h-1\",\"type\":\"order\",\"member\":\"hal\"}  ";
    for (int i = 0; i < 20; i++) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)punchd.port)};
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
        assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
        close(fd);
    }
    http_resp r;
    /* The same id again: the stored response, so the event did apply exactly once. */
    assert_int_equal(order("h-1", "hal", &r), 200);
    assert_true(h_punchd_alive(&punchd));
    h_resp_free(&r);
    assert_int_equal(h_http(punchd.port, "GET", "/v1/members/hal", NULL, &r), 0);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(r.json, "counters"), "orders")), 1);
    h_resp_free(&r);
}

static void mechanics_and_health(void **state)
{
    http_resp r;
    assert_int_equal(h_http(punchd.port, "GET", "/v1/mechanics", NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_true(json_is_null(json_object_get(r.json, "error")));
    assert_int_equal(json_array_size(json_object_get(r.json, "mechanics")), 3);
    assert_int_equal(strlen(json_string_value(json_object_get(r.json, "version"))), 12);
    h_resp_free(&r);
    assert_int_equal(h_http(punchd.port, "GET", "/healthz", NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "redis")), "up");
    h_resp_free(&r);
}

static void api_key_is_required_when_set(void **state)
{
    punchd_proc p;
    http_resp r;
    assert_int_equal(
        h_punchd_start(&p, redis.socket, scripts, NULL, "PUNCHD_API_KEY=test-key-0123456789abcdef"),
        0);
    static const struct {
        const char *header;
        long status;
    } cases[] = {{NULL, 401},
                 {"Authorization: Bearer wrong-key-0123456789abc", 401},
                 {"Authorization: test-key-0123456789abcdef", 401},
                 {"Authorization: Bearer test-key-0123456789abcdef", 404}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_int_equal(
            h_http_hdr(p.port, "GET", "/v1/members/nobody-at-all", NULL, cases[i].header, &r), 0);
        if (r.status != cases[i].status)
            fail_msg("case %zu: got %ld %s", i, r.status, r.body);
        h_resp_free(&r);
    }
    /* Health stays open for probes. */
    assert_int_equal(h_http(p.port, "GET", "/healthz", NULL, &r), 0);
    assert_int_equal(r.status, 200);
    h_resp_free(&r);
    /* The key never reaches the log. */
    char *log = NULL;
    FILE *f = fopen(p.log, "r");
    if (f) {
        size_t cap = 1 << 16;
        log = calloc(1, cap);
        fread(log, 1, cap - 1, f);
        fclose(f);
    }
    assert_non_null(log);
    assert_null(strstr(log, "test-key-0123456789abcdef"));
    free(log);
    assert_int_equal(h_punchd_stop(&p), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dessert_on_4th_and_8th_only),
        cmocka_unit_test(fuel_order_earns_86_stars),
        cmocka_unit_test(retried_id_applies_nothing_twice),
        cmocka_unit_test(bad_input_changes_nothing),
        cmocka_unit_test(too_large_body_is_413),
        cmocka_unit_test(unknown_routes_and_methods),
        cmocka_unit_test(ledger_pages_newest_first_and_sums_to_balance),
        cmocka_unit_test(concurrent_events_of_one_member_all_apply),
        cmocka_unit_test(racing_copies_of_one_event_apply_once),
        cmocka_unit_test(client_hanging_up_mid_event),
        cmocka_unit_test(mechanics_and_health),
        cmocka_unit_test(api_key_is_required_when_set),
    };
    return cmocka_run_group_tests_name("api", tests, group_setup, group_teardown);
}
