/*
 * Mechanics in a running punchd: a runaway script (endless loop, endless
 * allocation) fails its event with 422 and the next event is served; hot
 * reload picks up a saved file with no restart; a broken file leaves the old
 * set serving and shows file and line until it is mended.
 */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tmpredis redis;
static punchd_proc punchd;
static char *scripts;

static int group_setup(void **state)
{
    /*
     * A deadline far off: the hog must meet the memory cap, and under
     * sanitizers on a busy machine filling 16 MiB can take over 100 ms
     * (allocations of 64 KiB or more look at the deadline).
     */
    static const char *const extra[] = {
        "--lua-memory-mb", "16", "--lua-instructions", "200000", "--lua-deadline-ms", "5000", NULL};
    scripts = h_scripts_copy();
    h_write_file(
        scripts, "runaway.lua",
        "mechanic \"spin\" { on = \"spin\", run = function(ev, m) while true do end end }\n"
        "mechanic \"swallow\" { on = \"swallow\", run = function(ev, m)\n"
        "  while true do pcall(function() while true do end end) end end }\n"
        "mechanic \"hog\" { on = \"hog\", run = function(ev, m)\n"
        "  local t = {} local i = 0\n"
        "  while true do i = i + 1 t[i] = string.rep('0123456789', 100000) .. i end end }\n"
        "mechanic \"oops\" { on = \"oops\", run = function(ev, m)\n"
        "  local x = nil\n"
        "  return x.field end }\n");
    h_write_file(
        scripts, "campaign.lua",
        "mechanic \"xmas\" { on = \"visit\", active = { from = \"2026-12-01\", "
        "to = \"2026-12-25\" }, run = function(ev, m) m:earn(\"stars\", 5) end }\n"
        "mechanic \"held\" { on = \"visit\", control = 100, run = function(ev, m) "
        "m:earn(\"stars\", 1) end }\n"
        "mechanic \"picky\" { on = \"visit\", run = function(ev, m)\n"
        "  if (ev.data.total or 0) < 1000 then return reason(\"spent less than 1000\") end\n"
        "  m:earn(\"stars\", 1) end }\n");
    return h_stack_start(&redis, &punchd, scripts, 0, extra);
}

static int group_teardown(void **state)
{
    h_stack_stop(&redis, &punchd, scripts);
    return 0;
}

static const char *error_message(http_resp *r)
{
    return json_string_value(json_object_get(json_object_get(r->json, "error"), "message"));
}

static void runaway_scripts_fail_their_event_only(void **state)
{
    static const struct {
        const char *type, *want;
    } cases[] = {{"spin", "instruction budget exceeded"},
                 {"swallow", "instruction budget exceeded"},
                 {"hog", "memory limit exceeded"},
                 {"oops", "runaway.lua:9:"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char body[256], id[64];
        http_resp r;
        snprintf(id, sizeof id, "run-%zu", i);
        snprintf(body, sizeof body, "{\"id\":\"%s\",\"type\":\"%s\",\"member\":\"rex\"}", id,
                 cases[i].type);
        assert_int_equal(h_event(punchd.port, body, &r), 422);
        if (!error_message(&r) || !strstr(error_message(&r), cases[i].want))
            fail_msg("%s: want '%s' in %s", cases[i].type, cases[i].want, r.body);
        h_resp_free(&r);
        /* The daemon is up and the next event is served. */
        snprintf(body, sizeof body, "{\"id\":\"%s-next\",\"type\":\"workout\",\"member\":\"rex\"}",
                 id);
        assert_int_equal(h_event(punchd.port, body, &r), 200);
        h_resp_free(&r);
    }
    /* Failed events changed nothing: only the four workouts count. */
    assert_int_equal(h_balance(punchd.port, "rex", "gold_stars"), 4);
    http_resp r;
    assert_int_equal(h_http(punchd.port, "GET", "/v1/members/rex", NULL, &r), 0);
    assert_int_equal(json_integer_value(json_object_get(r.json, "version")), 4);
    h_resp_free(&r);
}

static const char *version_now(void)
{
    static char v[32];
    http_resp r;
    v[0] = '\0';
    if (h_http(punchd.port, "GET", "/v1/mechanics", NULL, &r) == 0 && r.json) {
        const char *s = json_string_value(json_object_get(r.json, "version"));
        snprintf(v, sizeof v, "%s", s ? s : "");
    }
    h_resp_free(&r);
    return v;
}

static char seen_version[32];
static int version_differs(void *arg)
{
    return strcmp(version_now(), seen_version) != 0;
}

static int reload_error_present(void *arg)
{
    http_resp r;
    int yes = 0;
    if (h_http(punchd.port, "GET", "/v1/mechanics", NULL, &r) == 0 && r.json)
        yes = json_is_object(json_object_get(r.json, "error")) == (arg != NULL);
    h_resp_free(&r);
    return yes;
}

static long workout_delta(const char *id)
{
    char body[256];
    http_resp r;
    long delta = -1;
    snprintf(body, sizeof body, "{\"id\":\"%s\",\"type\":\"workout\",\"member\":\"wes\"}", id);
    if (h_event(punchd.port, body, &r) == 200) {
        json_t *o = json_array_get(json_object_get(r.json, "outcomes"), 0);
        delta = o ? (long)json_integer_value(json_object_get(o, "delta")) : 0;
    }
    h_resp_free(&r);
    return delta;
}

static void hot_reload_and_broken_files(void **state)
{
    http_resp r;
    snprintf(seen_version, sizeof seen_version, "%s", version_now());
    assert_int_equal(workout_delta("w-1"), 1);

    /* Save a changed file: the next event runs it, no restart. */
    h_write_file(scripts, "workout.lua",
                 "mechanic \"workout\" { on = \"workout\", run = function(ev, m)\n"
                 "  m:earn(\"gold_stars\", 2) end }\n");
    assert_true(h_wait_until(version_differs, NULL, 5000));
    assert_int_equal(workout_delta("w-2"), 2);
    snprintf(seen_version, sizeof seen_version, "%s", version_now());

    /* A broken file: the old set keeps serving, the error shows file and line. */
    h_write_file(scripts, "workout.lua",
                 "mechanic \"workout\" { on = \"workout\", run = function(ev, m)\n"
                 "  m:earn(\"gold_stars\", 5)\n"
                 "  if then end\n"
                 "end }\n");
    assert_true(h_wait_until(reload_error_present, (void *)1, 5000));
    assert_int_equal(h_http(punchd.port, "GET", "/v1/mechanics", NULL, &r), 0);
    json_t *err = json_object_get(r.json, "error");
    assert_string_equal(json_string_value(json_object_get(err, "file")), "workout.lua");
    assert_int_equal(json_integer_value(json_object_get(err, "line")), 3);
    assert_string_equal(json_string_value(json_object_get(r.json, "version")), seen_version);
    h_resp_free(&r);
    assert_int_equal(workout_delta("w-3"), 2);

    /* A file whose top level fails at load time is refused the same way. */
    h_write_file(scripts, "extra.lua",
                 "mechanic \"workout\" { on = \"workout\", run = function() end }\n");
    assert_true(h_wait_until(reload_error_present, (void *)1, 5000));
    assert_int_equal(workout_delta("w-4"), 2);
    h_write_file(scripts, "extra.lua", "-- nothing here yet\n");

    /* Mend the file: the error clears and the new rule serves. */
    h_write_file(scripts, "workout.lua",
                 "mechanic \"workout\" { on = \"workout\", run = function(ev, m)\n"
                 "  m:earn(\"gold_stars\", 3) end }\n");
    assert_true(h_wait_until(reload_error_present, NULL, 5000));
    assert_int_equal(workout_delta("w-5"), 3);

    /* Every ledger line names the version that decided it. */
    assert_int_equal(h_http(punchd.port, "GET", "/v1/members/wes/ledger", NULL, &r), 0);
    json_t *entries = json_object_get(r.json, "entries");
    assert_int_equal(json_array_size(entries), 5);
    assert_string_not_equal(
        json_string_value(json_object_get(json_array_get(entries, 0), "mechanics_version")),
        json_string_value(json_object_get(json_array_get(entries, 4), "mechanics_version")));
    h_resp_free(&r);
    assert_int_equal(h_balance(punchd.port, "wes", "gold_stars"), 1 + 2 + 2 + 2 + 3);
}

/* ?explain=1 says why a mechanic did not fire; ?dry_run=1 applies nothing. */
static void explain_and_dry_run(void **state)
{
    static const struct {
        const char *mechanic;
        int ran;
        const char *reason;
    } want[] = {
        {"xmas", 0, "outside its campaign window: before active.from (2026-12-01 00:00 UTC)"},
        {"picky", 1, "spent less than 1000"},
        {"held", 0, "the member is held out in its control group"},
        {"workout", 0, "not subscribed to this event type"}};
    http_resp r;
    const char *ev = "{\"id\":\"vx-1\",\"type\":\"visit\",\"member\":\"vic\","
                     "\"at\":\"2026-06-01T00:00:00Z\"}";
    assert_int_equal(h_http(punchd.port, "POST", "/v1/events?explain=1&dry_run=1", ev, &r), 0);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.json, "dry_run")));
    json_t *trace = json_object_get(r.json, "explain"), *t;
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        size_t k;
        int seen = 0;
        json_array_foreach(trace, k, t) {
            if (strcmp(json_string_value(json_object_get(t, "mechanic")), want[i].mechanic))
                continue;
            seen = 1;
            if (json_is_true(json_object_get(t, "ran")) != want[i].ran ||
                strcmp(json_string_value(json_object_get(t, "reason")), want[i].reason))
                fail_msg("%s: %s", want[i].mechanic, r.body);
        }
        if (!seen)
            fail_msg("%s is not in the explanation: %s", want[i].mechanic, r.body);
    }
    h_resp_free(&r);
    /* GET /v1/mechanics shows the campaign window and the control group. */
    assert_int_equal(h_http(punchd.port, "GET", "/v1/mechanics", NULL, &r), 0);
    json_t *m;
    size_t k;
    int shown = 0;
    json_array_foreach(json_object_get(r.json, "mechanics"), k, m) {
        const char *n = json_string_value(json_object_get(m, "name"));
        if (!strcmp(n, "xmas"))
            shown +=
                !strcmp(json_string_value(json_object_get(json_object_get(m, "active"), "from")),
                        "2026-12-01");
        if (!strcmp(n, "held"))
            shown += json_number_value(json_object_get(m, "control")) == 100;
    }
    assert_int_equal(shown, 2);
    h_resp_free(&r);
    /* The dry run committed nothing. */
    assert_int_equal(h_http(punchd.port, "GET", "/v1/members/vic", NULL, &r), 0);
    assert_int_equal(r.status, 404);
    h_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(runaway_scripts_fail_their_event_only),
        cmocka_unit_test(explain_and_dry_run),
        cmocka_unit_test(hot_reload_and_broken_files),
    };
    return cmocka_run_group_tests_name("mechanics", tests, group_setup, group_teardown);
}
