/*
 * Webhooks end to end: a real punchd with --webhooks-file posting to a real
 * receiver (integration/webhook_receiver.py, which logs every request as it
 * came). The test checks each Standard Webhooks signature itself; that only
 * applied events are sent; that a receiver down then up gets each id once, in
 * order per member; that punchd killed mid-delivery sends the entry again
 * after its restart under the same webhook-id; dead letters after the last
 * attempt and their retry; the program's reload.failed.
 */
#include "harness.h"
#include "punchcard/common.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static tmpredis redis;
static punchd_proc punchd;
static char *scripts;
static char dir[256], logpath[300], statusf[300], hooksf[300];
static pid_t receiver;
static int receiver_port;

/* The secret's bytes and its whsec_ form (base64 of the bytes). */
static const char key[] = "test-webhook-secret-0123456789ab";
static char whsec[128];

static const char hooks_lua[] =
    "mechanic \"hooks\" {\n"
    "  on = \"ping\",\n"
    "  run = function(ev, m)\n"
    "    notify(\"pinged\", {n = ev.data.n})\n"
    "    if ev.data.fail then error(\"refused on purpose\") end\n"
    "  end,\n"
    "}\n"
    "currency \"gems\" { expires_in = \"10d\" }\n"
    "mechanic \"gems\" { on = \"gem\", run = function(ev, m) m:earn(\"gems\", 5) end }\n";

static const char *const extra[] = {"--webhooks-file", hooksf, NULL};

/* Starts the receiver on port (0: any; the port it got is kept). */
static void receiver_start(int port)
{
    char portf[300], num[16];
    snprintf(portf, sizeof portf, "%s/port", dir);
    unlink(portf);
    snprintf(num, sizeof num, "%d", port);
    receiver = fork();
    if (receiver == 0) {
        execlp("python3", "python3", SOURCE_DIR "/tests/integration/webhook_receiver.py", num,
               portf, logpath, statusf, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        FILE *f = fopen(portf, "r");
        if (f) {
            int ok = fscanf(f, "%d", &receiver_port) == 1;
            fclose(f);
            if (ok)
                return;
        }
        usleep(20000);
    }
    fail_msg("the receiver did not start");
}

static void receiver_kill(void)
{
    kill(receiver, SIGKILL);
    waitpid(receiver, NULL, 0);
    receiver = 0;
}

static void set_status(const char *status)
{
    if (status)
        h_write_file(dir, "status", status);
    else
        unlink(statusf);
}

/* The endpoints file: fast retries, a short lease (a killed punchd's is over soon). */
static void write_hooks(int max_attempts)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"endpoints\": [{\"name\": \"crm\", \"url\": \"http://127.0.0.1:%d/hook\", "
             "\"secret\": \"%s\"}], \"poll_ms\": 20, \"retry_base_ms\": 50, "
             "\"retry_max_ms\": 200, \"max_attempts\": %d, \"timeout_ms\": 1000, "
             "\"lease_ms\": 1500, \"settle_ms\": 200}",
             receiver_port, whsec, max_attempts);
    h_write_file(dir, "hooks.json", text);
}

static int group_setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/punch-hooks-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(logpath, sizeof logpath, "%s/log", dir);
    snprintf(statusf, sizeof statusf, "%s/status", dir);
    snprintf(hooksf, sizeof hooksf, "%s/hooks.json", dir);
    strcpy(whsec, "whsec_");
    EVP_EncodeBlock((unsigned char *)whsec + 6, (const unsigned char *)key, (int)strlen(key));
    receiver_start(0);
    write_hooks(100);
    scripts = h_scripts_copy();
    h_write_file(scripts, "hooks.lua", hooks_lua);
    return h_stack_start(&redis, &punchd, scripts, 0, extra);
}

static int group_teardown(void **state)
{
    /* punchd drains and exits 0 (under ASan: no leak of the sender, deliverer or outbox calls). */
    int st = h_stack_stop(&redis, &punchd, scripts);
    if (receiver)
        receiver_kill();
    unlink(logpath);
    unlink(statusf);
    unlink(hooksf);
    rmdir(dir);
    if (st != 0)
        fprintf(stderr, "punchd exited with %d\n", st);
    return st == 0 ? 0 : -1;
}

/* Every request the receiver logged, in order (a new array). */
static json_t *received(void)
{
    json_t *all = json_array();
    char line[65536];
    FILE *f = fopen(logpath, "r");
    while (f && fgets(line, sizeof line, f)) {
        json_t *rec = json_loads(line, 0, NULL);
        if (rec)
            json_array_append_new(all, rec);
    }
    if (f)
        fclose(f);
    return all;
}

/* The body of rec, parsed (a new reference). */
static json_t *body_of(const json_t *rec)
{
    return json_loads(json_string_value(json_object_get(rec, "body")), 0, NULL);
}

/* Member and n of the notify "pinged" a request carried; n -1 when another kind. */
static long pinged(const json_t *rec, char *member, size_t n)
{
    json_t *b = body_of(rec), *data = json_object_get(b, "data");
    long v = -1;
    if (b && !strcmp(json_string_value(json_object_get(b, "type")) ?: "", "pinged")) {
        snprintf(member, n, "%s", json_string_value(json_object_get(data, "member")));
        v = (long)json_integer_value(json_object_get(json_object_get(data, "payload"), "n"));
    }
    json_decref(b);
    return v;
}

/* 1 when rec's webhook-signature is v1 HMAC-SHA256 of id.timestamp.body under the secret. */
static int signature_ok(const json_t *rec)
{
    const char *id = json_string_value(json_object_get(rec, "id"));
    const char *ts = json_string_value(json_object_get(rec, "timestamp"));
    const char *body = json_string_value(json_object_get(rec, "body"));
    const char *sig = json_string_value(json_object_get(rec, "signature"));
    char msg[70000], want[80] = "v1,";
    unsigned char mac[32];
    unsigned int len = 0;
    if (!id || !ts || !body || !sig)
        return 0;
    snprintf(msg, sizeof msg, "%s.%s.%s", id, ts, body);
    HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)msg, strlen(msg), mac, &len);
    EVP_EncodeBlock((unsigned char *)want + 3, mac, (int)len);
    return strcmp(sig, want) == 0;
}

/* Sends an event; a 503 (a cluster's master not reached yet) again with the same id, as clients do.
 */
static long send_event(const char *body)
{
    http_resp r;
    long st = 0;
    for (int tries = 0; tries < 200; tries++) {
        st = h_event(punchd.port, body, &r);
        h_resp_free(&r);
        if (st != 503)
            break;
        usleep(50000);
    }
    return st;
}

static long ping(const char *id, const char *member, int n, int fail)
{
    char body[300];
    snprintf(body, sizeof body,
             "{\"id\":\"%s\",\"type\":\"ping\",\"member\":\"%s\",\"data\":{\"n\":%d%s}}", id,
             member, n, fail ? ",\"fail\":true" : "");
    return send_event(body);
}

/* How many requests the receiver answered 200 carrying member's pings. */
typedef struct want {
    const char *member;
    int count;
} want;

static int delivered_ok(const char *member)
{
    json_t *all = received(), *rec;
    size_t i;
    int n = 0;
    json_array_foreach(all, i, rec) {
        char m[160] = "";
        if (pinged(rec, m, sizeof m) >= 0 && !strcmp(m, member) &&
            json_integer_value(json_object_get(rec, "status")) == 200)
            n++;
    }
    json_decref(all);
    return n;
}

static int has_count(void *arg)
{
    want *w = arg;
    return delivered_ok(w->member) >= w->count;
}

/*
 * The 200 deliveries of member: each id once, n in send order (1, 2, ...
 * but skipping what skip lists), and every signature valid.
 */
static void check_member(const char *member, int count, int skip)
{
    json_t *all = received(), *rec, *ids = json_object();
    size_t i;
    int next = 1;
    json_array_foreach(all, i, rec) {
        char m[160] = "";
        long n = pinged(rec, m, sizeof m);
        const char *id = json_string_value(json_object_get(rec, "id"));
        if (n < 0 || strcmp(m, member))
            continue;
        if (!signature_ok(rec))
            fail_msg("%s: a bad signature on %s", member, id);
        if (json_integer_value(json_object_get(rec, "status")) != 200)
            continue;
        if (json_object_get(ids, id))
            fail_msg("%s: %s delivered twice", member, id);
        json_object_set_new(ids, id, json_true());
        if (next == skip)
            next++;
        if (n != next)
            fail_msg("%s: got n=%ld, expected n=%d (order per member)", member, n, next);
        next++;
    }
    assert_int_equal((int)json_object_size(ids), count);
    json_decref(ids);
    json_decref(all);
}

/* Signed, and only what applied: the refused event's notify is never sent. */
static void signed_and_only_applied(void **state)
{
    want w = {"sig", 2};
    assert_int_equal(ping("s1", "sig", 1, 0), 200);
    assert_int_equal(ping("s2", "sig", 2, 1), 422);
    assert_int_equal(ping("s3", "sig", 3, 0), 200);
    assert_true(h_wait_until(has_count, &w, 10000));
    /* n=2 would come before n=3 (order per member): its absence is proven once 3 is there. */
    check_member("sig", 2, 2);
}

static int report_has_failed(void *arg)
{
    http_resp r;
    int found = 0;
    size_t i;
    json_t *rec;
    if (h_http(punchd.port, "GET", "/v1/webhooks/deliveries?limit=200", NULL, &r) == 0 &&
        r.status == 200)
        json_array_foreach(json_object_get(r.json, "recent"), i, rec)
            found |= !strcmp(json_string_value(json_object_get(rec, "result")) ?: "", "failed");
    h_resp_free(&r);
    return found;
}

/* The receiver down, then up again: every id delivered once, in order per member. */
static void receiver_down_then_up(void **state)
{
    want wa = {"amy", 5}, wb = {"bob", 5};
    char id[32];
    receiver_kill();
    for (int n = 1; n <= 5; n++) {
        snprintf(id, sizeof id, "a%d", n);
        assert_int_equal(ping(id, "amy", n, 0), 200);
        snprintf(id, sizeof id, "b%d", n);
        assert_int_equal(ping(id, "bob", n, 0), 200);
    }
    /* punchd tried and failed (connection refused) before the receiver is back. */
    assert_true(h_wait_until(report_has_failed, NULL, 10000));
    receiver_start(receiver_port);
    assert_true(h_wait_until(has_count, &wa, 15000));
    assert_true(h_wait_until(has_count, &wb, 15000));
    check_member("amy", 5, 0);
    check_member("bob", 5, 0);
}

/* The ids of member's requests with the given status ("hold" or a number as text). */
static int count_status(const char *member, const char *status, char *id, size_t idn)
{
    json_t *all = received(), *rec;
    size_t i;
    int n = 0;
    json_array_foreach(all, i, rec) {
        char m[160] = "", st[16];
        json_t *s = json_object_get(rec, "status");
        if (pinged(rec, m, sizeof m) < 0 || strcmp(m, member))
            continue;
        if (json_is_string(s))
            snprintf(st, sizeof st, "%s", json_string_value(s));
        else
            snprintf(st, sizeof st, "%lld", (long long)json_integer_value(s));
        if (strcmp(st, status))
            continue;
        if (id && !n)
            snprintf(id, idn, "%s", json_string_value(json_object_get(rec, "id")));
        else if (id && strcmp(id, json_string_value(json_object_get(rec, "id"))))
            fail_msg("%s: two ids for one event", member);
        n++;
    }
    json_decref(all);
    return n;
}

static int held(void *arg)
{
    return count_status("kim", "hold", NULL, 0) > 0;
}

/* punchd killed while its post is in flight: after the restart, the same id again. */
static void killed_mid_delivery(void **state)
{
    char first[64] = "", again[64] = "";
    want w = {"kim", 1};
    set_status("hold");
    assert_int_equal(ping("k1", "kim", 1, 0), 200);
    assert_true(h_wait_until(held, NULL, 10000));
    kill(punchd.pid, SIGKILL);
    while (!h_punchd_exited(&punchd))
        usleep(10000);
    set_status(NULL);
    assert_int_equal(h_stack_punchd_start(&redis, &punchd, scripts, extra), 0);
    assert_true(h_wait_until(has_count, &w, 15000));
    assert_int_equal(count_status("kim", "hold", first, sizeof first), 1);
    assert_int_equal(count_status("kim", "200", again, sizeof again), 1);
    assert_string_equal(first, again);
    check_member("kim", 1, 0);
}

/* 1 when dee's entry is a dead letter; its id into arg (64 bytes). */
static int dead_listed(void *arg)
{
    http_resp r;
    int found = 0;
    size_t i;
    json_t *rec;
    if (h_http(punchd.port, "GET", "/v1/webhooks/deliveries", NULL, &r) == 0 && r.status == 200)
        json_array_foreach(json_object_get(r.json, "dead"), i, rec) {
            const char *m = json_string_value(json_object_get(rec, "member"));
            if (m && !strcmp(m, "dee")) {
                snprintf(arg, 64, "%s", json_string_value(json_object_get(rec, "id")));
                found = 1;
            }
        }
    h_resp_free(&r);
    return found;
}

/* Refused three times: a dead letter, with the tries logged; a retry delivers it. */
static void dead_letter_and_retry(void **state)
{
    char id[64] = "", tried[64] = "", path[128];
    want w = {"dee", 1};
    http_resp r;
    /* Three attempts from now on. */
    write_hooks(3);
    assert_int_equal(h_punchd_stop(&punchd), 0);
    assert_int_equal(h_stack_punchd_start(&redis, &punchd, scripts, extra), 0);
    set_status("500");
    assert_int_equal(ping("d1", "dee", 1, 0), 200);
    assert_true(h_wait_until(dead_listed, id, 10000));
    assert_int_equal(count_status("dee", "500", tried, sizeof tried), 3);
    assert_string_equal(id, tried);
    set_status(NULL);
    snprintf(path, sizeof path, "/v1/webhooks/dead/%s/retry", id);
    assert_int_equal(h_http(punchd.port, "POST", path, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    h_resp_free(&r);
    assert_true(h_wait_until(has_count, &w, 10000));
    check_member("dee", 1, 0);
    /* Gone from the dead letters; a second retry finds nothing. */
    assert_int_equal(h_http(punchd.port, "POST", path, NULL, &r), 0);
    assert_int_equal(r.status, 404);
    h_resp_free(&r);
}

static int reload_failed_sent(void *arg)
{
    json_t *all = received(), *rec;
    size_t i;
    int found = 0;
    json_array_foreach(all, i, rec) {
        json_t *b = body_of(rec);
        found |= b &&
                 !strcmp(json_string_value(json_object_get(b, "type")) ?: "", "reload.failed") &&
                 signature_ok(rec);
        json_decref(b);
    }
    json_decref(all);
    return found;
}

/* How many points.expiring requests for gus the receiver answered 200 (amount in *amount). */
static int expiring_count(long *amount)
{
    json_t *all = received(), *rec;
    size_t i;
    int n = 0;
    json_array_foreach(all, i, rec) {
        json_t *b = body_of(rec), *data = json_object_get(b, "data");
        if (b && !strcmp(json_string_value(json_object_get(b, "type")) ?: "", "points.expiring") &&
            !strcmp(json_string_value(json_object_get(data, "member")) ?: "", "gus") &&
            json_integer_value(json_object_get(rec, "status")) == 200) {
            n++;
            if (amount)
                *amount = (long)json_integer_value(json_object_get(data, "amount"));
        }
        json_decref(b);
    }
    json_decref(all);
    return n;
}

static int expiring_sent(void *arg)
{
    return expiring_count(NULL) > 0;
}

/*
 * Gems expire 10 days after they are earned, and the notice comes 7 days
 * before: earned 4 days ago, the notice was due yesterday, so the sweeper
 * wakes the silent member for it; once per lot.
 */
static void points_expiring(void **state)
{
    char body[300];
    long amount = 0;
    want w = {"gus", 1};
    snprintf(body, sizeof body, "{\"id\":\"g1\",\"type\":\"gem\",\"member\":\"gus\",\"at\":%lld}",
             (long long)(pc_now_ms() - 4 * 86400000LL));
    assert_int_equal(send_event(body), 200);
    assert_true(h_wait_until(expiring_sent, NULL, 10000));
    assert_int_equal(expiring_count(&amount), 1);
    assert_int_equal(amount, 5);
    /* A fresh lot is not due for a notice; the ping after it proves nothing else came first. */
    assert_int_equal(send_event("{\"id\":\"g2\",\"type\":\"gem\",\"member\":\"gus\"}"), 200);
    assert_int_equal(ping("g3", "gus", 1, 0), 200);
    assert_true(h_wait_until(has_count, &w, 10000));
    assert_int_equal(expiring_count(NULL), 1);
}

/* A script that does not compile: the program's reload.failed webhook. */
static void reload_failed(void **state)
{
    char path[600];
    h_write_file(scripts, "broken.lua", "mechanic \"broken\" {\n");
    assert_true(h_wait_until(reload_failed_sent, NULL, 10000));
    snprintf(path, sizeof path, "%s/broken.lua", scripts);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(signed_and_only_applied), cmocka_unit_test(receiver_down_then_up),
        cmocka_unit_test(killed_mid_delivery),     cmocka_unit_test(dead_letter_and_retry),
        cmocka_unit_test(points_expiring),         cmocka_unit_test(reload_failed),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
