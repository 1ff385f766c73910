/*
 * punch send, punch member, punch mechanics against a real punchd (and a real
 * redis-server): what they print, and their exit status on success, on an
 * HTTP error, on bad usage and when punchd cannot be reached.
 */
#include "harness.h"
#include "harness_run.h"

#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define API_KEY "sixteen-chars-or-more-key"

static tmpredis redis;
static punchd_proc punchd, locked;
static char *scripts;
static char url[64], locked_url[64];

static int group_setup(void **state)
{
    scripts = h_scripts_copy();
    h_write_file(scripts, "game.lua",
                 "mechanic \"spin\" { on = \"spin\", run = function(ev, m)\n"
                 "  m:draw(\"wheel\", {chance = 1, prizes = {\"mug\"}, pool = 5}) end }\n"
                 "mechanic \"steps\" { on = \"walk\", run = function(ev, m)\n"
                 "  m:score(\"steps\", ev.data.steps) end }\n");
    if (tmpredis_start(&redis, 0) || h_punchd_start(&punchd, redis.socket, scripts, NULL, NULL))
        return -1;
    static const char *const ns[] = {"--namespace", "locked", NULL};
    if (h_punchd_start(&locked, redis.socket, scripts, ns, "PUNCHD_API_KEY=" API_KEY))
        return -1;
    snprintf(url, sizeof url, "http://127.0.0.1:%d", punchd.port);
    snprintf(locked_url, sizeof locked_url, "http://127.0.0.1:%d/", locked.port);
    return 0;
}

static int group_teardown(void **state)
{
    h_punchd_stop(&punchd);
    h_punchd_stop(&locked);
    tmpredis_destroy(&redis);
    h_rm_dir(scripts);
    free(scripts);
    return 0;
}

/* Runs punch with args (NULL-terminated after the subcommand) and env; returns parsed stdout. */
static json_t *punch(h_proc_out *o, const char *const *env, const char *stdin_text, ...)
{
    const char *argv[24] = {PUNCH_PATH};
    int n = 1;
    va_list ap;
    va_start(ap, stdin_text);
    for (const char *a; n < 23 && (a = va_arg(ap, const char *));)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    h_run(argv, env, stdin_text, 10000, o);
    return json_loads(o->out, 0, NULL);
}

static json_t *outcome(json_t *resp, const char *kind)
{
    json_t *o;
    size_t i;
    json_array_foreach(json_object_get(resp, "outcomes"), i, o) {
        if (!strcmp(json_string_value(json_object_get(o, "kind")), kind))
            return o;
    }
    return NULL;
}

static void send_prints_the_answer(void **state)
{
    h_proc_out o;
    json_t *j;
    char file[] = "/tmp/punch-event-XXXXXX";
    int fd;

    /* JSON on the command line. */
    j = punch(&o, NULL, NULL, "send", "--url", url,
              "{\"id\":\"c-1\",\"type\":\"order\",\"member\":\"ann\",\"data\":{\"items\":"
              "[{\"category\":\"fuel\",\"amount\":500},{\"category\":\"shop\",\"amount\":125}]}}",
              NULL);
    assert_int_equal(o.status, 0);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(outcome(j, "stars"), "delta")), 86);
    assert_false(json_is_true(json_object_get(j, "duplicate")));
    json_decref(j);
    h_proc_out_free(&o);

    /* The same event again, built from flags: a duplicate, with the first answer. */
    j = punch(&o, NULL, NULL, "send", "--url", url, "--compact", "--type", "order", "--member",
              "ann", "--id", "c-1", "--data",
              "{\"items\":[{\"category\":\"fuel\",\"amount\":500},"
              "{\"category\":\"shop\",\"amount\":125}]}",
              NULL);
    assert_int_equal(o.status, 0);
    assert_true(json_is_true(json_object_get(j, "duplicate")));
    assert_int_equal(json_integer_value(json_object_get(outcome(j, "stars"), "delta")), 86);
    assert_ptr_equal(strchr(o.out, '\n'), o.out + strlen(o.out) - 1); /* --compact: one line */
    json_decref(j);
    h_proc_out_free(&o);

    /* From a file, and from stdin; without an id, one is made up. */
    fd = mkstemp(file);
    assert_true(fd >= 0);
    assert_true(write(fd, "{\"type\":\"workout\",\"member\":\"bo\"}", 33) == 33);
    close(fd);
    char at_file[64];
    snprintf(at_file, sizeof at_file, "@%s", file);
    j = punch(&o, NULL, NULL, "send", "--url", url, at_file, NULL);
    unlink(file);
    assert_int_equal(o.status, 0);
    assert_int_equal(json_integer_value(json_object_get(outcome(j, "stars"), "balance")), 1);
    assert_non_null(strstr(json_string_value(json_object_get(j, "id")), "punch-"));
    json_decref(j);
    h_proc_out_free(&o);
    j = punch(&o, NULL, "{\"type\":\"workout\",\"member\":\"bo\"}", "send", "--url", url, "-",
              NULL);
    assert_int_equal(o.status, 0);
    assert_int_equal(json_integer_value(json_object_get(outcome(j, "stars"), "balance")), 2);
    json_decref(j);
    h_proc_out_free(&o);
}

static void dry_run_and_explain_change_nothing(void **state)
{
    h_proc_out o;
    json_t *j, *explain;

    j = punch(&o, NULL, NULL, "send", "--url", url, "--dry-run", "--explain", "--type", "workout",
              "--member", "dee", NULL);
    assert_int_equal(o.status, 0);
    assert_true(json_is_true(json_object_get(j, "dry_run")));
    explain = json_object_get(j, "explain");
    assert_true(json_array_size(explain) >= 3);
    json_decref(j);
    h_proc_out_free(&o);
    /* Nothing was applied: dee is unknown. */
    j = punch(&o, NULL, NULL, "member", "--url", url, "dee", NULL);
    assert_int_equal(o.status, 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                        "not_found");
    assert_non_null(strstr(o.err, "HTTP 404"));
    json_decref(j);
    h_proc_out_free(&o);
}

static void member_ledger_and_mechanics(void **state)
{
    h_proc_out o;
    json_t *j;

    j = punch(&o, NULL, NULL, "member", "--url", url, "ann", NULL);
    assert_int_equal(o.status, 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "balances"), "stars")),
                     86);
    json_decref(j);
    h_proc_out_free(&o);

    j = punch(&o, NULL, NULL, "member", "--url", url, "ann", "--ledger", "--limit", "5", NULL);
    assert_int_equal(o.status, 0);
    assert_int_equal(json_array_size(json_object_get(j, "entries")), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "entries"), 0), "event")),
                        "c-1");
    json_decref(j);
    h_proc_out_free(&o);

    j = punch(&o, NULL, NULL, "mechanics", "--url", url, NULL);
    assert_int_equal(o.status, 0);
    assert_int_equal(json_array_size(json_object_get(j, "mechanics")), 5);
    assert_true(json_is_null(json_object_get(j, "error")));
    json_decref(j);
    h_proc_out_free(&o);
}

static void draw_and_leaderboard(void **state)
{
    h_proc_out o;
    json_t *j, *mug;

    for (int i = 0; i < 2; i++) {
        json_decref(
            punch(&o, NULL, NULL, "send", "--url", url, "--type", "spin", "--member", "ann", NULL));
        h_proc_out_free(&o);
    }
    json_decref(punch(&o, NULL, NULL, "send", "--url", url, "--type", "walk", "--member", "ann",
                      "--data", "{\"steps\": 300}", NULL));
    h_proc_out_free(&o);
    json_decref(punch(&o, NULL, NULL, "send", "--url", url, "--type", "walk", "--member", "bo",
                      "--data", "{\"steps\": 900}", NULL));
    h_proc_out_free(&o);

    j = punch(&o, NULL, NULL, "draw", "--url", url, "wheel", NULL);
    assert_int_equal(o.status, 0);
    mug = json_array_get(json_object_get(j, "prizes"), 0);
    assert_string_equal(json_string_value(json_object_get(mug, "prize")), "mug");
    assert_int_equal(json_integer_value(json_object_get(mug, "left")), 3);
    json_decref(j);
    h_proc_out_free(&o);

    j = punch(&o, NULL, NULL, "leaderboard", "--url", url, "steps", "--member", "ann", NULL);
    assert_int_equal(o.status, 0);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(j, "top"), 0), "member")),
        "bo");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "member"), "rank")), 2);
    json_decref(j);
    h_proc_out_free(&o);
}

static void errors_and_exit_status(void **state)
{
    static const struct {
        const char *what;
        const char *args[8];
        int status;
        const char *in_out, *in_err;
    } cases[] = {
        {"bad event: 400",
         {"send", "--type", "Order!", "--member", "ann", NULL},
         1,
         "\"bad_request\"",
         "HTTP 400"},
        {"not JSON", {"send", "{nope", NULL}, 2, "", "not a JSON object"},
        {"bad member id", {"member", "a/b", NULL}, 2, "", "not a member id"},
        {"unknown option", {"mechanics", "--nope", NULL}, 2, "", ""},
        {"help", {"send", "--help", NULL}, 0, "usage: punch send", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *argv[16] = {PUNCH_PATH};
        int n = 1;
        h_proc_out o;
        for (int k = 0; cases[i].args[k]; k++) {
            argv[n++] = cases[i].args[k];
            if (k == 0) {
                argv[n++] = "--url";
                argv[n++] = url;
            }
        }
        argv[n] = NULL;
        h_run(argv, NULL, NULL, 10000, &o);
        if (o.status != cases[i].status || !strstr(o.out, cases[i].in_out) ||
            !strstr(o.err, cases[i].in_err))
            fail_msg("%s: exit %d (want %d), stdout '%s', stderr '%s'", cases[i].what, o.status,
                     cases[i].status, o.out, o.err);
        h_proc_out_free(&o);
    }
}

static void api_key_from_the_environment(void **state)
{
    static const char *const with_key[] = {"PUNCHD_API_KEY=" API_KEY, NULL};
    static const char *const wrong_key[] = {"PUNCHD_API_KEY=not-the-key-at-all-no", NULL};
    h_proc_out o;
    json_t *j;

    j = punch(&o, wrong_key, NULL, "mechanics", "--url", locked_url, NULL);
    assert_int_equal(o.status, 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                        "unauthorized");
    json_decref(j);
    h_proc_out_free(&o);
    j = punch(&o, with_key, NULL, "send", "--url", locked_url, "--type", "workout", "--member",
              "kim", NULL);
    assert_int_equal(o.status, 0);
    assert_int_equal(json_integer_value(json_object_get(outcome(j, "stars"), "delta")), 1);
    json_decref(j);
    h_proc_out_free(&o);
}

static void unreachable_punchd_exits_3(void **state)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char dead[64];
    h_proc_out o;

    /* A port that was free a moment ago and has no listener now. */
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    snprintf(dead, sizeof dead, "http://127.0.0.1:%d", ntohs(sa.sin_port));
    json_decref(punch(&o, NULL, NULL, "mechanics", "--url", dead, NULL));
    assert_int_equal(o.status, 3);
    assert_non_null(strstr(o.err, "punch: GET"));
    h_proc_out_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(send_prints_the_answer),
        cmocka_unit_test(dry_run_and_explain_change_nothing),
        cmocka_unit_test(member_ledger_and_mechanics),
        cmocka_unit_test(draw_and_leaderboard),
        cmocka_unit_test(errors_and_exit_status),
        cmocka_unit_test(api_key_from_the_environment),
        cmocka_unit_test(unreachable_punchd_exits_3),
    };
    return cmocka_run_group_tests_name("punch send/member/mechanics", tests, group_setup,
                                       group_teardown);
}
