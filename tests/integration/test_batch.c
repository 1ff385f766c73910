/*
 * POST /v1/events/batch and punch import against a real punchd and redis-server:
 * a batch's results in order, an invalid event refused alone, duplicates within
 * and across batches applied once, NDJSON bodies, the limits; an import killed
 * mid-way and run again applies every event of the file exactly once.
 */
#include "harness.h"
#include "harness_run.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static tmpredis redis;
static punchd_proc punchd;
static char *scripts;

static int group_setup(void **state)
{
    scripts = h_scripts_copy();
    h_write_file(scripts, "tally.lua",
                 "mechanic \"tally\" { on = \"visit\", run = function(ev, m)\n"
                 "  m:count(\"visits\") end }\n");
    return h_stack_start(&redis, &punchd, scripts, 0, NULL);
}

static int group_teardown(void **state)
{
    h_stack_stop(&redis, &punchd, scripts);
    return 0;
}

static long long visits(const char *member)
{
    char path[256];
    http_resp r;
    long long v;
    snprintf(path, sizeof path, "/v1/members/%s", member);
    if (h_http(punchd.port, "GET", path, NULL, &r))
        return -1;
    v = r.status == 200
            ? json_integer_value(json_object_get(json_object_get(r.json, "counters"), "visits"))
            : 0;
    h_resp_free(&r);
    return v;
}

static json_t *result(const http_resp *r, size_t i)
{
    return json_array_get(json_object_get(r->json, "results"), i);
}

static long status_of(const http_resp *r, size_t i)
{
    return (long)json_integer_value(json_object_get(result(r, i), "status"));
}

static const char *code_of(const http_resp *r, size_t i)
{
    return json_string_value(json_object_get(json_object_get(result(r, i), "error"), "code"));
}

static int is_dup(const http_resp *r, size_t i)
{
    return json_is_true(json_object_get(result(r, i), "duplicate"));
}

/* Valid and invalid events in one batch: each answered in its place, the valid ones applied. */
static void test_mixed_batch(void **state)
{
    http_resp r;
    assert_int_equal(
        h_http(punchd.port, "POST", "/v1/events/batch",
               "{\"events\": ["
               "{\"id\": \"mx-1\", \"type\": \"visit\", \"member\": \"mx-a\"},"
               "{\"id\": \"bad id!\", \"type\": \"visit\", \"member\": \"mx-a\"},"
               "{\"id\": \"mx-2\", \"type\": \"visit\", \"member\": \"mx-b\"},"
               "{\"id\": \"mx-3\", \"type\": \"tick\", \"member\": \"mx-a\"},"
               "42,"
               "{\"id\": \"mx-4\", \"type\": \"visit\", \"member\": \"mx-a\", \"extra\": 1},"
               "{\"id\": \"mx-5\", \"type\": \"visit\", \"member\": \"mx-a\"}]}",
               &r),
        0);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "results")), 7);
    assert_int_equal(status_of(&r, 0), 200);
    assert_string_equal(json_string_value(json_object_get(result(&r, 0), "id")), "mx-1");
    assert_false(is_dup(&r, 0));
    assert_int_equal(status_of(&r, 1), 400);
    assert_string_equal(code_of(&r, 1), "bad_request");
    assert_int_equal(status_of(&r, 2), 200);
    assert_string_equal(json_string_value(json_object_get(result(&r, 2), "member")), "mx-b");
    assert_int_equal(status_of(&r, 3), 400); /* the engine's own type */
    assert_int_equal(status_of(&r, 4), 400);
    assert_int_equal(status_of(&r, 5), 400);
    assert_non_null(strstr(
        json_string_value(json_object_get(json_object_get(result(&r, 5), "error"), "message")),
        "extra"));
    assert_int_equal(status_of(&r, 6), 200);
    assert_string_equal(json_string_value(json_object_get(result(&r, 6), "id")), "mx-5");
    h_resp_free(&r);
    assert_int_equal(visits("mx-a"), 2);
    assert_int_equal(visits("mx-b"), 1);
}

/*
 * Bodies near the plain {"events": [...]} that punchd reads in one pass:
 * each answered as the long way reads it (the whole body refused, or each
 * event in its place), and nothing of a refused body applied.
 */
static void test_one_pass_bodies(void **state)
{
#define OP(id) "{\"id\": \"" id "\", \"type\": \"visit\", \"member\": \"op-a\"}"
    static const struct {
        const char *body;
        int status;
        const char *results; /* each result's status, "" when the body is refused */
    } cases[] = {
        {"{\"events\": [" OP("op-1") "]} x", 400, ""},
        {"{\"events\": [" OP("op-1") "], \"more\": 1}", 400, ""},
        {"{\"events\": [" OP("op-1") ",]}", 400, ""},
        {"{\"events\": [" OP("op-1") " " OP("op-2") "]}", 400, ""},
        {"{\"events\": [" OP("op-1") "], \"events\": [" OP("op-2") "]}", 400, ""},
        {"{\"events\": [" OP("op-1") ", {\"id\": \"op-2\", \"id\": \"op-3\"}]}", 400, ""},
        {"{\"events\": [" OP("op-1") ", {\"id\": \"op-2\", \"data\": {\"a\": \"\x01\"}}]}", 400,
         ""},
        {"{\"events\": [" OP("op-1") ", {\"id\": \"op-2\", \"data\": {\"a\": \"]}\"}", 400, ""},
        {"{\"events\": [" OP("op-1") "]", 400, ""},
        {" { \"events\" :\n[ " OP("op-4") " ,\t" OP("op-5") " ] } \r\n", 200, "200,200"},
        {"{\"\\u0065vents\": [" OP("op-6") "]}", 200, "200"},
        {"{\"events\": [" OP("op-7") ", \"str\", [], {\"id\": \"op-8\", \"type\": \"visit\", "
                                     "\"member\": \"op-a\", \"bogus\": 1}, {\"id\": \"op-9\", "
                                     "\"type\": \"visit\", \"member\": "
                                     "\"op-a\", \"data\": {\"s\": \"]} \\\" [{\"}}]}",
         200, "200,400,400,400,200"},
    };
#undef OP
    long long applied = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        http_resp r;
        char got[64] = "";
        assert_int_equal(h_http(punchd.port, "POST", "/v1/events/batch", cases[i].body, &r), 0);
        for (size_t k = 0;
             r.status == 200 && k < json_array_size(json_object_get(r.json, "results")); k++) {
            size_t at = strlen(got);
            snprintf(got + at, sizeof got - at, "%s%ld", k ? "," : "", status_of(&r, k));
            applied += status_of(&r, k) == 200;
        }
        if (r.status != cases[i].status || strcmp(got, cases[i].results))
            fail_msg("case %zu: %d [%s], want %d [%s]: %s", i, r.status, got, cases[i].status,
                     cases[i].results, r.body);
        h_resp_free(&r);
    }
    assert_int_equal(visits("op-a"), applied);
}

/* The same id twice in a batch, and again in the next batch: applied once. */
static void test_duplicates(void **state)
{
    static const char body[] = "{\"events\": ["
                               "{\"id\": \"dp-1\", \"type\": \"visit\", \"member\": \"dp-a\"},"
                               "{\"id\": \"dp-2\", \"type\": \"visit\", \"member\": \"dp-a\"},"
                               "{\"id\": \"dp-1\", \"type\": \"visit\", \"member\": \"dp-a\"},"
                               "{\"id\": \"dp-3\", \"type\": \"visit\", \"member\": \"dp-b\"},"
                               "{\"id\": \"dp-3\", \"type\": \"visit\", \"member\": \"dp-b\"}]}";
    http_resp r;
    int dups = 0;
    assert_int_equal(h_http(punchd.port, "POST", "/v1/events/batch", body, &r), 0);
    assert_int_equal(r.status, 200);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(status_of(&r, i), 200);
        dups += is_dup(&r, i);
    }
    assert_int_equal(dups, 2);
    /* Within the batch, the later copy of an id is the duplicate (a member's events run in
     * order). */
    assert_true(is_dup(&r, 2));
    assert_true(is_dup(&r, 4));
    h_resp_free(&r);
    assert_int_equal(h_http(punchd.port, "POST", "/v1/events/batch", body, &r), 0);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(status_of(&r, i), 200);
        assert_true(is_dup(&r, i));
    }
    h_resp_free(&r);
    /* And a single POST of an id a batch applied. */
    assert_int_equal(
        h_event(punchd.port, "{\"id\": \"dp-2\", \"type\": \"visit\", \"member\": \"dp-a\"}", &r),
        200);
    assert_true(json_is_true(json_object_get(r.json, "duplicate")));
    h_resp_free(&r);
    assert_int_equal(visits("dp-a"), 2);
    assert_int_equal(visits("dp-b"), 1);
}

/* NDJSON: one event a line, blank lines skipped, a line that is not JSON refused alone. */
static void test_ndjson(void **state)
{
    http_resp r;
    assert_int_equal(h_http_hdr(punchd.port, "POST", "/v1/events/batch",
                                "{\"id\": \"nd-1\", \"type\": \"visit\", \"member\": \"nd-a\"}\n"
                                "\n"
                                "{not json\n"
                                "{\"id\": \"nd-2\", \"type\": \"visit\", \"member\": \"nd-a\"}\r\n"
                                "{\"id\": \"nd-1\", \"type\": \"visit\", \"member\": \"nd-a\"}",
                                "Content-Type: application/x-ndjson", &r),
                     0);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "results")), 4);
    assert_int_equal(status_of(&r, 0), 200);
    assert_int_equal(status_of(&r, 1), 400);
    assert_string_equal(code_of(&r, 1), "bad_json");
    assert_non_null(strstr(
        json_string_value(json_object_get(json_object_get(result(&r, 1), "error"), "message")),
        "line 3"));
    assert_int_equal(status_of(&r, 2), 200);
    assert_true(is_dup(&r, 3));
    h_resp_free(&r);
    assert_int_equal(visits("nd-a"), 2);
}

/* The body's shape and the batch's limits. */
static void test_limits(void **state)
{
    http_resp r;
    size_t cap = 1001 * 64 + 64, at;
    char *big = malloc(cap);

    assert_int_equal(h_http(punchd.port, "POST", "/v1/events/batch", "{\"events\": []}", &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "results")), 0);
    h_resp_free(&r);
    assert_int_equal(h_http(punchd.port, "POST", "/v1/events/batch", "[1, 2]", &r), 0);
    assert_int_equal(r.status, 400);
    h_resp_free(&r);
    assert_int_equal(h_http(punchd.port, "POST", "/v1/events/batch", "{\"events\": [", &r), 0);
    assert_int_equal(r.status, 400);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.json, "error"), "code")), "bad_json");
    h_resp_free(&r);
    assert_int_equal(h_http(punchd.port, "GET", "/v1/events/batch", NULL, &r), 0);
    assert_int_equal(r.status, 405);
    h_resp_free(&r);

    /* 1,001 events: too many, and none applied. */
    at = (size_t)snprintf(big, cap, "{\"events\": [");
    for (int i = 0; i < 1001; i++)
        at += (size_t)snprintf(big + at, cap - at,
                               "%s{\"id\": \"lim-%d\", \"type\": \"visit\", \"member\": \"lim-a\"}",
                               i ? "," : "", i);
    snprintf(big + at, cap - at, "]}");
    assert_int_equal(h_http(punchd.port, "POST", "/v1/events/batch", big, &r), 0);
    assert_int_equal(r.status, 413);
    h_resp_free(&r);
    free(big);
    assert_int_equal(visits("lim-a"), 0);
}

/* A history of n events over 37 members, written to dir/history.jsonl. */
static void write_history(const char *path, int n)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < n; i++)
        fprintf(f, "{\"id\": \"im-%d\", \"type\": \"visit\", \"member\": \"im-%d\"}\n", i, i % 37);
    fclose(f);
}

static pid_t spawn_import(const char *file, const char *url, const char *batch)
{
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execl(PUNCH_PATH, PUNCH_PATH, "import", file, "--url", url, "--batch", batch, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static long long checkpoint_line(const char *path)
{
    FILE *f = fopen(path, "r");
    long long size, line = 0, off;
    if (!f)
        return 0;
    if (fscanf(f, "punch-import 1 size %lld line %lld offset %lld", &size, &line, &off) != 3)
        line = 0;
    fclose(f);
    return line;
}

/* Killed mid-way (SIGKILL: no chance to tidy up), then run again: every event exactly once. */
static void test_import_resumes(void **state)
{
    enum { N = 3000 };
    char dir[] = "/tmp/punch-import-test-XXXXXX", file[128], ckpt[160], url[64];
    int st, killed = 0;
    long long total = 0;
    pid_t pid;
    h_proc_out o;

    assert_non_null(mkdtemp(dir));
    snprintf(file, sizeof file, "%s/history.jsonl", dir);
    snprintf(ckpt, sizeof ckpt, "%s.checkpoint", file);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", punchd.port);
    write_history(file, N);

    pid = spawn_import(file, url, "10");
    assert_true(pid > 0);
    /* Kill it once a part (not all) of the file is acknowledged. */
    for (int i = 0; i < 3000; i++) {
        long long line = checkpoint_line(ckpt);
        if (line >= 200 && line < N) {
            kill(pid, SIGKILL);
            killed = 1;
            break;
        }
        if (waitpid(pid, &st, WNOHANG) == pid) {
            pid = 0;
            break;
        }
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    if (pid)
        waitpid(pid, &st, 0);
    assert_true(killed);
    assert_true(WIFSIGNALED(st));
    assert_true(checkpoint_line(ckpt) < N);

    {
        const char *argv[] = {PUNCH_PATH, "import", file, "--url", url, "--batch", "100", NULL};
        h_run(argv, NULL, NULL, 60000, &o);
    }
    assert_int_equal(o.status, 0);
    assert_non_null(strstr(o.err, "resuming after line"));
    {
        json_t *sum = json_loads(o.out, 0, NULL);
        assert_non_null(sum);
        assert_int_equal(json_integer_value(json_object_get(sum, "refused")), 0);
        assert_int_equal(json_integer_value(json_object_get(sum, "lines")), N);
        json_decref(sum);
    }
    h_proc_out_free(&o);
    assert_int_equal(access(ckpt, F_OK), -1); /* done: the checkpoint is gone */

    for (int m = 0; m < 37; m++) {
        char member[32];
        long long v;
        snprintf(member, sizeof member, "im-%d", m);
        v = visits(member);
        assert_int_equal(v, N / 37 + (m < N % 37 ? 1 : 0));
        total += v;
    }
    assert_int_equal(total, N);

    /* Once more from the top: all duplicates, nothing changes. */
    {
        const char *argv[] = {PUNCH_PATH, "import", file, "--url", url, NULL};
        h_run(argv, NULL, NULL, 60000, &o);
    }
    assert_int_equal(o.status, 0);
    {
        json_t *sum = json_loads(o.out, 0, NULL);
        assert_int_equal(json_integer_value(json_object_get(sum, "duplicates")), N);
        assert_int_equal(json_integer_value(json_object_get(sum, "applied")), 0);
        json_decref(sum);
    }
    h_proc_out_free(&o);
    assert_int_equal(visits("im-0"), N / 37 + 1);
    unlink(file);
    rmdir(dir);
}

/* A line punchd refuses is reported with its number and exit status 1; the others apply. */
static void test_import_refused_line(void **state)
{
    char dir[] = "/tmp/punch-import-test-XXXXXX", file[128], url[64];
    FILE *f;
    h_proc_out o;

    assert_non_null(mkdtemp(dir));
    snprintf(file, sizeof file, "%s/mixed.jsonl", dir);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", punchd.port);
    f = fopen(file, "w");
    assert_non_null(f);
    fputs("{\"id\": \"ir-1\", \"type\": \"visit\", \"member\": \"ir-a\"}\n\n"
          "{\"id\": \"ir 2\", \"type\": \"visit\", \"member\": \"ir-a\"}\n"
          "{\"id\": \"ir-3\", \"type\": \"visit\", \"member\": \"ir-a\"}\n",
          f);
    fclose(f);
    {
        const char *argv[] = {PUNCH_PATH, "import", file, "--url", url, NULL};
        h_run(argv, NULL, NULL, 30000, &o);
    }
    assert_int_equal(o.status, 1);
    assert_non_null(strstr(o.err, "line 3: 400"));
    h_proc_out_free(&o);
    assert_int_equal(visits("ir-a"), 2);
    {
        /* Nobody listening: exit 3 after its retries. */
        const char *argv[] = {PUNCH_PATH,           "import",    file, "--url",
                              "http://127.0.0.1:1", "--retries", "1",  NULL};
        h_run(argv, NULL, NULL, 30000, &o);
    }
    assert_int_equal(o.status, 3);
    h_proc_out_free(&o);
    unlink(file);
    {
        char ck[160];
        snprintf(ck, sizeof ck, "%s.checkpoint", file);
        unlink(ck);
    }
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mixed_batch),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_ndjson),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_one_pass_bodies),
        cmocka_unit_test(test_import_resumes),
        cmocka_unit_test(test_import_refused_line),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
