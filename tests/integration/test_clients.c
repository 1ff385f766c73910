/*
 * The example clients (examples/clients: Python, Node, shell) against a real
 * punchd: an event sent; a bad one refused at once (exit 1); an unreachable
 * punchd (exit 3); bad usage (exit 2); and Redis gone while the client sends,
 * back a moment later: the client retries the 503s with the same id and the
 * event is applied exactly once. Also `--version` of punchd and punch, and the
 * man pages naming every option and command their programs' help lists.
 */
#include "harness.h"
#include "punchcard/common.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static tmpredis redis;
static punchd_proc punchd;
static char *scripts;

static const struct client {
    const char *name, *run; /* the command before the event argument */
} clients[] = {
    {"python", "python3 " SOURCE_DIR "/examples/clients/client.py"},
    {"node", "node " SOURCE_DIR "/examples/clients/client.mjs"},
    {"shell", "sh " SOURCE_DIR "/examples/clients/send_event.sh"},
};
#define NCLIENTS (sizeof clients / sizeof *clients)

static int group_setup(void **state)
{
    scripts = h_scripts_copy();
    return h_stack_start(&redis, &punchd, scripts, 1, NULL);
}

static int group_teardown(void **state)
{
    assert_int_equal(h_stack_stop(&redis, &punchd, scripts), 0);
    return 0;
}

static int have(const char *tool)
{
    char cmd[100];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
    return system(cmd) == 0;
}

/* Runs client c with event (NULL: no argument) and env prefix; its exit status, stdout in out. */
static int run(const struct client *c, const char *env, const char *event, char *out, size_t n)
{
    char cmd[1200], path[300];
    FILE *f;
    int rc;
    size_t got = 0;
    snprintf(path, sizeof path, "%s/client.out", punchd.dir);
    snprintf(cmd, sizeof cmd, "PUNCHD_URL=http://127.0.0.1:%d %s %s %s%s%s >%s 2>/dev/null",
             punchd.port, env ? env : "", c->run, event ? "'" : "", event ? event : "",
             event ? "'" : "", path);
    rc = system(cmd);
    out[0] = '\0';
    if ((f = fopen(path, "r"))) {
        got = fread(out, 1, n - 1, f);
        fclose(f);
    }
    out[got] = '\0';
    unlink(path);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int usable(const struct client *c)
{
    return strcmp(c->name, "node") || have("node");
}

static void each_client_sends_and_reports(void **state)
{
    char out[4096], event[300], want[100];
    for (size_t i = 0; i < NCLIENTS; i++) {
        const struct client *c = &clients[i];
        if (!usable(c))
            continue;
        snprintf(event, sizeof event,
                 "{\"id\": \"ok-%s\", \"type\": \"order\", \"member\": \"cl-%s\", \"data\": "
                 "{\"items\": [{\"category\": \"fuel\", \"amount\": 500}]}}",
                 c->name, c->name);
        if (run(c, NULL, event, out, sizeof out) != 0)
            fail_msg("%s: sending failed: %s", c->name, out);
        snprintf(want, sizeof want, "\"id\":\"ok-%s\"", c->name);
        if (!strstr(out, want) || !strstr(out, "\"delta\":50"))
            fail_msg("%s: printed %s", c->name, out);
        /* No id: one is made, and the event applies. */
        snprintf(event, sizeof event, "{\"type\": \"order\", \"member\": \"cl-%s\"}", c->name);
        if (run(c, NULL, event, out, sizeof out) != 0 || !strstr(out, "\"duplicate\":false"))
            fail_msg("%s: event without id: %s", c->name, out);
        /* A refused event: exit 1 at once, the error printed. */
        if (run(c, NULL, "{\"id\": \"x\", \"type\": \"Bad!\", \"member\": \"ann\"}", out,
                sizeof out) != 1 ||
            !strstr(out, "bad_request"))
            fail_msg("%s: bad event: %s", c->name, out);
        /* Unreachable: exit 3 after its tries. */
        {
            char env[200];
            snprintf(env, sizeof env, "PUNCH_RETRIES=2 PUNCHD_URL=http://127.0.0.1:1");
            if (run(c, env, "{\"id\": \"u-1\", \"type\": \"order\", \"member\": \"ann\"}", out,
                    sizeof out) != 3)
                fail_msg("%s: an unreachable punchd is not exit 3", c->name);
        }
        if (run(c, NULL, NULL, out, sizeof out) != 2)
            fail_msg("%s: no argument is not exit 2", c->name);
    }
}

typedef struct seen {
    const char *id;
} seen;

/* The access log shows a 503 for the event id. */
static int got_503(void *arg)
{
    const seen *s = arg;
    char *log = pc_read_file(punchd.log, NULL), *at = log, want[200];
    int found = 0;
    snprintf(want, sizeof want, "event_id=%s ", s->id);
    while (at && (at = strstr(at, "status=503"))) {
        char *eol = strchr(at, '\n');
        if (eol)
            *eol = '\0';
        found = strstr(at, want) != NULL;
        if (found || !eol)
            break;
        at = eol + 1;
    }
    free(log);
    return found;
}

static void each_client_retries_a_503_with_the_same_id(void **state)
{
    for (size_t i = 0; i < NCLIENTS; i++) {
        const struct client *c = &clients[i];
        char id[64], member[64], event[300], out[4096], path[300], cmd[1200];
        seen s = {id};
        pid_t pid;
        int st, count = 0;
        if (!usable(c))
            continue;
        snprintf(id, sizeof id, "retry-%s", c->name);
        snprintf(member, sizeof member, "rt-%s", c->name);
        snprintf(event, sizeof event,
                 "{\"id\": \"%s\", \"type\": \"order\", \"member\": \"%s\", \"data\": "
                 "{\"items\": [{\"category\": \"fuel\", \"amount\": 500}]}}",
                 id, member);
        tmpredis_stop(&redis);
        snprintf(path, sizeof path, "%s/retry.out", punchd.dir);
        snprintf(cmd, sizeof cmd, "PUNCHD_URL=http://127.0.0.1:%d PUNCH_RETRIES=10 %s '%s' >%s",
                 punchd.port, c->run, event, path);
        pid = fork();
        if (pid == 0) {
            execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
            _exit(127);
        }
        /* Redis comes back only once punchd has answered the client 503. */
        if (!h_wait_until(got_503, &s, 10000)) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            fail_msg("%s: no 503 in the access log", c->name);
        }
        assert_int_equal(tmpredis_restart(&redis), 0);
        waitpid(pid, &st, 0);
        {
            char *text = pc_read_file(path, NULL);
            snprintf(out, sizeof out, "%s", text ? text : "");
            free(text);
            unlink(path);
        }
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fail_msg("%s: exit %d after Redis came back: %s", c->name, st, out);
        if (!strstr(out, "\"duplicate\":false"))
            fail_msg("%s: printed %s", c->name, out);
        /* Applied once: one ledger entry, 50 stars. */
        assert_int_equal(h_ledger_sum(punchd.port, member, "stars", &count), 50);
        assert_int_equal(count, 1);
    }
}

/* stdout of cmd (first 4 KB). */
static char *output_of(const char *cmd)
{
    static char out[65536];
    FILE *f = popen(cmd, "r");
    size_t n = f ? fread(out, 1, sizeof out - 1, f) : 0;
    if (f)
        pclose(f);
    out[n] = '\0';
    return out;
}

static void both_programs_print_their_version(void **state)
{
    char *v = output_of(PUNCHD_PATH " --version");
    assert_true(strncmp(v, "punchd 0.", 9) == 0);
    assert_non_null(strchr(v, '('));
    v = output_of(PUNCH_PATH " --version");
    assert_true(strncmp(v, "punch 0.", 8) == 0);
}

/* Every "--flag" of text appears in the man page's text as well. */
static void man_names_all(const char *help, const char *page, const char *what)
{
    char cmd[400], *man;
    snprintf(cmd, sizeof cmd, "MANWIDTH=200 man -l %s 2>/dev/null", page);
    man = strdup(output_of(cmd));
    assert_true(strlen(man) > 500);
    for (const char *at = help; (at = strstr(at, what));) {
        char word[64];
        size_t n = strspn(at, "-abcdefghijklmnopqrstuvwxyz");
        snprintf(word, sizeof word, "%.*s", (int)n, at);
        if (n > 2 && !strstr(man, word))
            fail_msg("%s does not mention %s", page, word);
        at += n ? n : 1;
    }
    free(man);
}

static void the_man_pages_cover_the_programs(void **state)
{
    char *help;
    if (!have("man"))
        skip();
    help = strdup(output_of(PUNCHD_PATH " --help"));
    man_names_all(help, SOURCE_DIR "/docs/man/punchd.1", "--");
    free(help);
    /* punch: every command its usage lists. */
    help = strdup(output_of(PUNCH_PATH " --help"));
    {
        static const char *const commands[] = {"repl",      "test",   "simulate",
                                               "send",      "import", "member",
                                               "mechanics", "draw",   "leaderboard"};
        char cmd[400], *man;
        snprintf(cmd, sizeof cmd, "MANWIDTH=200 man -l %s/docs/man/punch.1 2>/dev/null",
                 SOURCE_DIR);
        man = strdup(output_of(cmd));
        for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
            assert_non_null(strstr(help, commands[i]));
            if (!strstr(man, commands[i]))
                fail_msg("punch.1 does not mention %s", commands[i]);
        }
        free(man);
    }
    free(help);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_client_sends_and_reports),
        cmocka_unit_test(each_client_retries_a_503_with_the_same_id),
        cmocka_unit_test(both_programs_print_their_version),
        cmocka_unit_test(the_man_pages_cover_the_programs),
    };
    return cmocka_run_group_tests_name("clients", tests, group_setup, group_teardown);
}
