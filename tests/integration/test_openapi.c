/*
 * docs/openapi.yaml against real punchd: every route's answers, success and
 * error, validated against the description (tests/openapi/validate.mjs, ajv),
 * the description linted by Redocly CLI, and GET /v1/openapi.json serving
 * exactly the JSON the build made of it. The npm tools are installed once per
 * lockfile (tests/openapi/setup.sh); without node and npm the tests skip.
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
#include <sys/wait.h>
#include <unistd.h>

#define READ_KEY    "openapi-read-key-0123"
#define LIMITED_KEY "openapi-limited-key-01"
#define TOOLS       SOURCE_DIR "/.cache/openapi-tools"

static tmpredis redis;
static punchd_proc open_pd, keyed_pd;
static char *scripts;
static char keydir[256];
static int have_tools;

static int group_setup(void **state)
{
    char keys[300];
    const char *extra[] = {"--api-keys-file", keys, NULL};
    int rc = system("sh " SOURCE_DIR "/tests/openapi/setup.sh " TOOLS);
    char *fixture;

    have_tools = WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
    if (!have_tools && !(WIFEXITED(rc) && WEXITSTATUS(rc) == 77))
        return -1; /* npm is there but the install failed */
    snprintf(keydir, sizeof keydir, "/tmp/punch-surface-openapi-XXXXXX");
    if (!mkdtemp(keydir))
        return -1;
    h_write_file(keydir, "keys.json",
                 "{\"keys\": [{\"name\": \"reader\", \"key\": \"" READ_KEY
                 "\", \"scopes\": [\"read\"]}, {\"name\": \"slow\", \"key\": \"" LIMITED_KEY
                 "\", \"scopes\": [\"read\"], \"rate_limit\": {\"per_second\": 0.01, "
                 "\"burst\": 1}}]}\n");
    snprintf(keys, sizeof keys, "%s/keys.json", keydir);
    scripts = h_scripts_copy();
    fixture = pc_read_file(SOURCE_DIR "/tests/openapi/fixture.lua", NULL);
    if (!fixture)
        return -1;
    h_write_file(scripts, "fixture.lua", fixture);
    free(fixture);
    if (tmpredis_start(&redis, 0) ||
        h_punchd_start(&open_pd, redis.socket, scripts,
                       (const char *const[]){"--namespace", "oa", NULL}, NULL))
        return -1;
    {
        /* A dead letter, for POST /v1/webhooks/dead/{id}/retry to find. */
        char cmd[900];
        snprintf(cmd, sizeof cmd,
                 "redis-cli -s %s HSET 'oa:{wh:program}:dead' "
                 "msg_0123456789abcdef0123456789abcdef '{\"id\": "
                 "\"msg_0123456789abcdef0123456789abcdef\", \"member\": \"ann\", \"type\": "
                 "\"prize.won\", \"attempts\": 3, \"error\": \"crm: HTTP 500\", \"dead_at\": "
                 "\"2026-12-01T00:00:00.000Z\", \"payload\": {\"type\": \"prize.won\", "
                 "\"timestamp\": \"2026-12-01T00:00:00.000Z\", \"data\": {}}}' >/dev/null",
                 redis.socket);
        if (system(cmd) != 0)
            return -1;
    }
    return h_punchd_start(&keyed_pd, redis.socket, scripts, extra, NULL);
}

static int group_teardown(void **state)
{
    assert_int_equal(h_punchd_stop(&keyed_pd), 0);
    assert_int_equal(h_punchd_stop(&open_pd), 0);
    tmpredis_stop(&redis);
    h_rm_dir(scripts);
    free(scripts);
    h_rm_dir(keydir);
    return 0;
}

static void every_answer_matches_the_description(void **state)
{
    char cmd[1200];
    if (!have_tools)
        skip();
    snprintf(cmd, sizeof cmd,
             "node " SOURCE_DIR "/tests/openapi/validate.mjs %s " TOOLS
             " http://127.0.0.1:%d http://127.0.0.1:%d " READ_KEY " " LIMITED_KEY,
             OPENAPI_JSON, open_pd.port, keyed_pd.port);
    if (system(cmd) != 0)
        fail_msg("answers do not match docs/openapi.yaml (see FAIL lines above)");
}

static void the_description_passes_the_linter(void **state)
{
    if (!have_tools)
        skip();
    if (system("cd " SOURCE_DIR " && node " TOOLS "/node_modules/@redocly/cli/bin/cli.js lint "
               "--config tests/openapi/redocly.yaml docs/openapi.yaml") != 0)
        fail_msg("redocly lint found problems in docs/openapi.yaml");
}

static void the_served_description_is_the_built_one(void **state)
{
    http_resp r;
    char *built = pc_read_file(OPENAPI_JSON, NULL);
    json_t *want;
    assert_non_null(built);
    want = json_loads(built, 0, NULL);
    assert_non_null(want);
    assert_int_equal(h_http(open_pd.port, "GET", "/v1/openapi.json", NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(r.json);
    assert_true(json_equal(r.json, want));
    assert_string_equal(json_string_value(json_object_get(r.json, "openapi")), "3.1.0");
    h_resp_free(&r);
    json_decref(want);
    free(built);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_answer_matches_the_description),
        cmocka_unit_test(the_description_passes_the_linter),
        cmocka_unit_test(the_served_description_is_the_built_one),
    };
    return cmocka_run_group_tests_name("openapi", tests, group_setup, group_teardown);
}
