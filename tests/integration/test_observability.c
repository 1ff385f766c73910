/*
 * Logs and metrics of a real punchd (--log-format json): every log line is a
 * JSON object; each request has one access line (method, route pattern,
 * status, duration, member, event id, request id) and its X-Request-Id is
 * kept when fit, made otherwise, and sent back; a broken script, Redis going
 * away and coming back are structured events; /metrics passes
 * `promtool check metrics` and has the families operators chart.
 */
#include "harness.h"
#include "punchcard/common.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static tmpredis redis;
static punchd_proc punchd;
static char *scripts;

static int group_setup(void **state)
{
    static const char *const extra[] = {"--log-format", "json", NULL};
    scripts = h_scripts_copy();
    return h_stack_start(&redis, &punchd, scripts, 0, extra);
}

static int group_teardown(void **state)
{
    assert_int_equal(h_stack_stop(&redis, &punchd, scripts), 0);
    return 0;
}

/* Every line of punchd's log as JSON (an array); fails the test on a line that is not. */
static json_t *log_lines(void)
{
    char *text = pc_read_file(punchd.log, NULL), *line, *save = NULL;
    json_t *all = json_array();
    assert_non_null(text);
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t e;
        json_t *o = json_loads(line, 0, &e);
        if (!json_is_object(o) || !json_is_string(json_object_get(o, "ts")) ||
            !json_is_string(json_object_get(o, "level")) ||
            !json_is_string(json_object_get(o, "event")))
            fail_msg("not a JSON log line: %s", line);
        json_array_append_new(all, o);
    }
    free(text);
    return all;
}

/* The first line with "event": event and, when key is set, key equal to value. */
static json_t *find_line(json_t *lines, const char *event, const char *key, const char *value)
{
    size_t i;
    json_t *o;
    json_array_foreach(lines, i, o) {
        if (strcmp(json_string_value(json_object_get(o, "event")), event))
            continue;
        if (!key || (json_is_string(json_object_get(o, key)) &&
                     !strcmp(json_string_value(json_object_get(o, key)), value)))
            return o;
    }
    return NULL;
}

static void access_lines_carry_the_request(void **state)
{
    http_resp r;
    json_t *lines, *l;
    const char *made;
    assert_int_equal(h_http_hdr(punchd.port, "POST", "/v1/events",
                                "{\"id\":\"obs-1\",\"type\":\"order\",\"member\":\"ann\"}",
                                "X-Request-Id: trace-42", &r),
                     0);
    assert_int_equal(r.status, 200);
    h_resp_free(&r);
    assert_int_equal(h_http_hdr(punchd.port, "GET", "/v1/members/ann/ledger", NULL,
                                "X-Request-Id: has space", &r),
                     0);
    h_resp_free(&r);
    assert_int_equal(h_http(punchd.port, "GET", "/v1/nowhere", NULL, &r), 0);
    assert_int_equal(r.status, 404);
    h_resp_free(&r);

    lines = log_lines();
    l = find_line(lines, "access", "request_id", "trace-42");
    assert_non_null(l);
    assert_string_equal(json_string_value(json_object_get(l, "method")), "POST");
    assert_string_equal(json_string_value(json_object_get(l, "route")), "/v1/events");
    assert_int_equal(json_integer_value(json_object_get(l, "status")), 200);
    assert_true(json_integer_value(json_object_get(l, "duration_us")) > 0);
    assert_string_equal(json_string_value(json_object_get(l, "member")), "ann");
    assert_string_equal(json_string_value(json_object_get(l, "event_id")), "obs-1");
    assert_string_equal(json_string_value(json_object_get(l, "level")), "info");
    /* A request id with a space is not taken: one is made. */
    l = find_line(lines, "access", "route", "/v1/members/{}/ledger");
    assert_non_null(l);
    made = json_string_value(json_object_get(l, "request_id"));
    assert_non_null(made);
    assert_int_equal(strlen(made), 32);
    assert_string_equal(json_string_value(json_object_get(l, "member")), "ann");
    /* No route: a null route, still a line. */
    {
        size_t i, n404 = 0;
        json_t *o;
        json_array_foreach(lines, i, o) {
            if (!strcmp(json_string_value(json_object_get(o, "event")), "access") &&
                json_integer_value(json_object_get(o, "status")) == 404 &&
                json_is_null(json_object_get(o, "route")))
                n404++;
        }
        assert_int_equal(n404, 1);
    }
    json_decref(lines);
}

static size_t on_hdr(char *p, size_t size, size_t n, void *arg)
{
    char *out = arg;
    if (!strncasecmp(p, "X-Request-Id:", 13))
        snprintf(out, 200, "%.*s", (int)strcspn(p + 14, "\r\n"), p + 14);
    return size * n;
}

static void the_request_id_comes_back(void **state)
{
    char cmd[300], got[200] = "";
    FILE *f;
    /* curl prints the headers with -D -: the id must be the one sent. */
    snprintf(cmd, sizeof cmd,
             "curl -s -o /dev/null -D - -H 'X-Request-Id: abc.DEF-9' http://127.0.0.1:%d/healthz",
             punchd.port);
    f = popen(cmd, "r");
    assert_non_null(f);
    while (fgets(cmd, sizeof cmd, f))
        on_hdr(cmd, 1, strlen(cmd), got);
    pclose(f);
    assert_string_equal(got, "abc.DEF-9");
}

static int log_has(void *event)
{
    json_t *lines = log_lines();
    int found = find_line(lines, event, NULL, NULL) != NULL;
    json_decref(lines);
    return found;
}

static void a_failed_reload_is_a_structured_event(void **state)
{
    json_t *lines, *l;
    h_write_file(scripts, "broken.lua", "mechanic \"x\" {\n");
    assert_true(h_wait_until(log_has, "mechanics_reload_failed", 5000));
    lines = log_lines();
    l = find_line(lines, "mechanics_reload_failed", NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(l, "level")), "error");
    assert_non_null(strstr(json_string_value(json_object_get(l, "error")), "broken.lua"));
    assert_string_equal(json_string_value(json_object_get(l, "serving")), "previous");
    json_decref(lines);
    {
        char p[600];
        snprintf(p, sizeof p, "%s/broken.lua", scripts);
        unlink(p);
    }
}

static int redis_up_twice(void *arg)
{
    json_t *lines = log_lines();
    size_t i, n = 0;
    json_t *o;
    json_array_foreach(lines, i, o)
        n += !strcmp(json_string_value(json_object_get(o, "event")), "redis_up");
    json_decref(lines);
    return n >= 2;
}

static void redis_going_away_and_back_is_logged(void **state)
{
    http_resp r;
    tmpredis_stop(&redis);
    /* A request finds the connection gone, if the disconnect has not come first. */
    h_http(punchd.port, "GET", "/v1/members/ann", NULL, &r);
    h_resp_free(&r);
    assert_true(h_wait_until(log_has, "redis_down", 5000));
    assert_int_equal(tmpredis_restart(&redis), 0);
    assert_true(h_wait_until(redis_up_twice, NULL, 10000));
}

/* GET /metrics into a file; returns its text (free it). */
static char *metrics_to(const char *path)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "curl -sf -o %s http://127.0.0.1:%d/metrics", path, punchd.port);
    assert_int_equal(system(cmd), 0);
    return pc_read_file(path, NULL);
}

static void metrics_pass_promtool_and_have_the_families(void **state)
{
    char path[300], cmd[400];
    char *text;
    static const char *const want[] = {
        "# HELP punchd_build_info ",
        "punchd_build_info{version=\"",
        "punchd_mechanics_info{version=\"",
        "punchd_http_request_duration_seconds_bucket{route=\"/v1/"
        "events\",method=\"POST\",le=\"+Inf\"} ",
        "punchd_http_requests_total{route=\"/v1/events\",method=\"POST\",code=\"200\"} 1\n",
        "punchd_http_requests_total{route=\"unmatched\",method=\"\",code=\"404\"} 1\n",
        "punchd_events_total{type=\"order\",result=\"applied\"} 1\n",
        "punchd_events_total{type=\"workout\",result=\"applied\"} 1\n",
        "punchd_outcomes_total{kind=\"counter\"} 1\n",
        "punchd_mechanic_runs_total{mechanic=\"dessert\"} 1\n",
        "punchd_mechanic_runs_total{mechanic=\"fuel\"} 1\n",
        "punchd_mechanic_errors_total{mechanic=\"dessert\"} 0\n",
        "punchd_mechanic_lua_seconds_total{mechanic=\"dessert\"} ",
        "punchd_mechanics_reloads_total{result=\"failed\"} 1\n",
        "punchd_redis_command_duration_seconds_count ",
        "punchd_inflight 0\n",
        "punchd_redis_up 1\n",
    };
    {
        /* An event of a batch counts as well. */
        http_resp r;
        assert_int_equal(h_http(punchd.port, "POST", "/v1/events/batch",
                                "{\"events\":[{\"id\":\"bt-1\",\"type\":\"workout\","
                                "\"member\":\"bo\"}]}",
                                &r),
                         0);
        assert_int_equal(r.status, 200);
        h_resp_free(&r);
    }
    snprintf(path, sizeof path, "%s/metrics.txt", punchd.dir);
    text = metrics_to(path);
    assert_non_null(text);
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        if (!strstr(text, want[i]))
            fail_msg("no \"%s\" in /metrics", want[i]);
    /* Every family has its HELP and TYPE, and the names follow the conventions. */
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s", path);
    if (system(cmd) != 0)
        fail_msg("promtool check metrics failed on %s", path);
    free(text);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(access_lines_carry_the_request),
        cmocka_unit_test(the_request_id_comes_back),
        cmocka_unit_test(a_failed_reload_is_a_structured_event),
        cmocka_unit_test(redis_going_away_and_back_is_logged),
        cmocka_unit_test(metrics_pass_promtool_and_have_the_families),
    };
    return cmocka_run_group_tests_name("observability", tests, group_setup, group_teardown);
}
