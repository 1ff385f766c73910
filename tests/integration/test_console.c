/*
 * The console (/console) in a real browser: real Redis, real punchd with the
 * shipped program and tests/console/fixture.lua (a draw, a leaderboard, an
 * experiment), events sent, a second version of the scripts loaded and then a
 * broken one (a reload error); then tests/console/console.mjs drives Debian's
 * headless Chromium through the console with a read-only key and checks what
 * it shows against the API, a wrong key, and that nothing leaves 127.0.0.1.
 * Screenshots land in the build dir (console-screenshots/). Also, without a
 * browser: the console's files and their Content-Security-Policy. Skips the
 * browser part when node, npm or chromium is missing (tests/console/setup.sh).
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
#include <sys/wait.h>
#include <unistd.h>

#define OPS_KEY  "console-ops-key-0123456"
#define READ_KEY "console-read-key-012345"
#define TOOLS    SOURCE_DIR "/.cache/console-tools"
#define AUTH     "Authorization: Bearer " OPS_KEY

static tmpredis redis;
static punchd_proc pd;
static char *scripts, *simscripts;
static char keydir[256];
static int have_tools;

/* The roll of ann's first order in draw "lucky", as its answer reported it. */
static double ann_roll = -1;

static void send_ok(const char *method, const char *path, const char *body)
{
    http_resp r;
    size_t i;
    json_t *o;
    assert_int_equal(h_http_hdr(pd.port, method, path, body, AUTH, &r), 0);
    if (r.status != 200)
        fail_msg("%s %s: %ld %s", method, path, r.status, r.body);
    if (strstr(body, "\"o-0-0\""))
        json_array_foreach(json_object_get(r.json, "outcomes"), i, o)
            if (!strcmp(json_string_value(json_object_get(o, "kind")), "draw"))
                ann_roll = json_number_value(json_object_get(o, "roll"));
    h_resp_free(&r);
}

/* GET /v1/mechanics has 2 versions in its history, and (arg not NULL) a reload error that the
 * history lists too (3 loads, the newest failed). */
static int reloaded(void *arg)
{
    http_resp r;
    int yes = 0;
    if (h_http_hdr(pd.port, "GET", "/v1/mechanics", NULL, AUTH, &r) == 0 && r.json) {
        json_t *h = json_object_get(r.json, "history");
        yes = arg ? json_is_object(json_object_get(r.json, "error")) && json_array_size(h) == 3 &&
                        json_is_false(json_object_get(json_array_get(h, 0), "ok"))
                  : json_array_size(h) == 2;
    }
    h_resp_free(&r);
    return yes;
}

static int group_setup(void **state)
{
    char keys[300], body[400];
    const char *extra[] = {"--api-keys-file", keys, NULL};
    int rc = system("sh " SOURCE_DIR "/tests/console/setup.sh " TOOLS);
    char *fixture;

    have_tools = WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
    if (!have_tools && !(WIFEXITED(rc) && WEXITSTATUS(rc) == 77))
        return -1; /* npm is there but the install failed */
    snprintf(keydir, sizeof keydir, "/tmp/punch-console-XXXXXX");
    if (!mkdtemp(keydir))
        return -1;
    h_write_file(keydir, "keys.json",
                 "{\"keys\": [{\"name\": \"ops\", \"key\": \"" OPS_KEY
                 "\", \"scopes\": [\"events\", \"read\", \"admin\"]}, {\"name\": \"marketing\", "
                 "\"key\": \"" READ_KEY "\", \"scopes\": [\"read\"]}]}\n");
    snprintf(keys, sizeof keys, "%s/keys.json", keydir);
    scripts = h_scripts_copy();
    fixture = pc_read_file(SOURCE_DIR "/tests/console/fixture.lua", NULL);
    if (!fixture)
        return -1;
    h_write_file(scripts, "fixture.lua", fixture);
    simscripts = h_scripts_copy();
    h_write_file(simscripts, "fixture.lua", fixture);
    free(fixture);
    if (tmpredis_start(&redis, 0) || h_punchd_start(&pd, redis.socket, scripts, extra, NULL))
        return -1;

    /* Orders and workouts of a few members; ann redeems some and gets an attribute. */
    static const char *const members[] = {"ann", "bo", "cy", "dee", "eve", "fay"};
    for (int i = 0; i < 6; i++)
        for (int k = 0; k <= i % 3; k++) {
            snprintf(body, sizeof body,
                     "{\"id\":\"o-%d-%d\",\"type\":\"order\",\"member\":\"%s\",\"data\":{\"total\":"
                     "%d,\"items\":[{\"category\":\"fuel\",\"amount\":%d},{\"category\":\"shop\","
                     "\"amount\":125}]}}",
                     i, k, members[i], 300 + 100 * i, 200 + 100 * i + 10 * k);
            send_ok("POST", "/v1/events", body);
        }
    send_ok("POST", "/v1/events",
            "{\"id\":\"w-1\",\"type\":\"workout\",\"member\":\"ann\",\"data\":{\"minutes\":30}}");
    /* Two orders use the offer's code. */
    send_ok("POST", "/v1/events",
            "{\"id\":\"c-1\",\"type\":\"order\",\"member\":\"bo\",\"data\":{\"total\":400,"
            "\"code\":\"<i>SAVE-5</i>\",\"items\":[]}}");
    send_ok("POST", "/v1/events",
            "{\"id\":\"c-2\",\"type\":\"order\",\"member\":\"cy\",\"data\":{\"total\":600,"
            "\"code\":\"<i>save-5</i>\",\"items\":[]}}");
    send_ok("POST", "/v1/members/ann/redeem",
            "{\"id\":\"r-1\",\"currency\":\"stars\",\"amount\":7}");
    /* What a member or a script writes is shown as text, never run as markup. */
    send_ok("PUT", "/v1/members/ann",
            "{\"id\":\"p-1\",\"attributes\":{\"note\":\"<img src=x id=pwn2 "
            "onerror=window.__pwned=1>\"}}");

    /* The draw's first epoch ends: its secret is revealed, for the audit. */
    send_ok("POST", "/v1/draws/lucky/rotate", "");
    if (ann_roll < 0)
        return -1;

    /* A second version of the scripts, then a file that fails to load. */
    h_write_file(scripts, "extra.lua", "-- a second version of the program\n");
    if (!h_wait_until(reloaded, NULL, 5000))
        return -1;
    h_write_file(scripts, "broken.lua", "error(\"<b id=pwn>not closed</b>\")\n");
    return h_wait_until(reloaded, "error", 5000) ? 0 : -1;
}

static int group_teardown(void **state)
{
    assert_int_equal(h_punchd_stop(&pd), 0);
    tmpredis_stop(&redis);
    h_rm_dir(scripts);
    free(scripts);
    h_rm_dir(simscripts);
    free(simscripts);
    h_rm_dir(keydir);
    return 0;
}

/* The files, public, with the policy that keeps every script and call on punchd. */
static void console_files_are_served_with_a_strict_policy(void **state)
{
    static const struct {
        const char *path;
        long status;
        const char *type;
    } cases[] = {
        {"/console", 200, "text/html"},
        {"/console/", 200, "text/html"},
        {"/console/console.js", 200, "text/javascript"},
        {"/console/console.css", 200, "text/css"},
        {"/console/plots.js", 200, "text/javascript"},
        {"/console/no-such.js", 404, "application/json"},
        {"/console/..%2Fkeys.json", 404, "application/json"},
    };
    char cmd[512];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        FILE *f;
        char line[1024];
        int csp = 0, type = 0;
        long status = 0;
        snprintf(cmd, sizeof cmd, "curl -s -o /dev/null -D - http://127.0.0.1:%d%s", pd.port,
                 cases[i].path);
        f = popen(cmd, "r");
        assert_non_null(f);
        while (fgets(line, sizeof line, f)) {
            if (!strncmp(line, "HTTP/1.1 ", 9))
                status = strtol(line + 9, NULL, 10);
            if (!strncasecmp(line,
                             "Content-Security-Policy: default-src 'none'; script-src 'self';", 63))
                csp = 1;
            if (!strncasecmp(line, "Content-Type: ", 14) &&
                !strncmp(line + 14, cases[i].type, strlen(cases[i].type)))
                type = 1;
        }
        pclose(f);
        if (status != cases[i].status || !type || (status == 200 && !csp))
            fail_msg("%s: status %ld (want %ld), type %s, policy %s", cases[i].path, status,
                     cases[i].status, type ? "ok" : "wrong", csp ? "set" : "missing");
    }
}

/*
 * `punch simulate --html` of a short history over three days, per day: the
 * file the browser then opens alone and in the console's Simulation view.
 */
static void simulate_html(const char *report)
{
    char events[320], cmd[1200], line[300];
    FILE *f;
    snprintf(events, sizeof events, "%s/history.jsonl", keydir);
    assert_non_null(f = fopen(events, "w"));
    for (int i = 0; i < 30; i++) {
        snprintf(line, sizeof line,
                 "{\"id\":\"s-%d\",\"type\":\"order\",\"member\":\"m%d\",\"at\":"
                 "\"2026-11-%02dT10:00:00Z\",\"data\":{\"total\":%d,\"items\":[{\"category\":"
                 "\"fuel\",\"amount\":%d}]}}\n",
                 i, i % 7, 20 + i / 10, 100 + 10 * i, 100 + 10 * i);
        fputs(line, f);
    }
    fclose(f);
    unlink(report);
    snprintf(cmd, sizeof cmd,
             PUNCH_PATH " simulate --no-progress --workers 1 --per day --redis %s --scripts %s "
                        "--html %s %s >/dev/null",
             redis.socket, simscripts, report, events);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(access(report, R_OK), 0);
}

static void the_console_shows_the_program_in_chromium(void **state)
{
    char cmd[1200];
    const char *report = BUILD_DIR "/console-screenshots/simulate-report.html";
    if (!have_tools)
        skip();
    assert_int_equal(system("mkdir -p " BUILD_DIR "/console-screenshots"), 0);
    simulate_html(report);
    snprintf(cmd, sizeof cmd,
             "node " SOURCE_DIR "/tests/console/console.mjs " TOOLS " http://127.0.0.1:%d " READ_KEY
             " " BUILD_DIR "/console-screenshots %s %.17g",
             pd.port, report, ann_roll);
    if (system(cmd) != 0)
        fail_msg("the console does not show what the API answers (see FAIL lines above)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(console_files_are_served_with_a_strict_policy),
        cmocka_unit_test(the_console_shows_the_program_in_chromium),
    };
    return cmocka_run_group_tests_name("console", tests, group_setup, group_teardown);
}
