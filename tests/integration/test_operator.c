/*
 * What an operator can get wrong, and punchd must say so or come through,
 * against a real redis-server and real punchd processes:
 *  - a second punchd on a port the first one serves refuses to start;
 *  - every numeric flag reads its PUNCHD_ variable (a bad value is refused,
 *    a good one is used), a short PUNCHD_API_KEY and an unknown log level
 *    are refused;
 *  - a FIFO named *.lua in the scripts folder does not hang punchd;
 *  - at its open files limit punchd neither spins nor floods its log, serves
 *    what it has, and accepts again once connections close.
 */
#include "harness.h"
#include "harness_run.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The stack of the running test, stopped by the teardown even when an assertion failed. */
static tmpredis redis;
static punchd_proc p;

static int stop_stack(void **state)
{
    h_tmp_stack_stop(&redis, &p, NULL);
    h_punchd_nofile = 0;
    return 0;
}

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* punchd with args (NULL-terminated) and env, until it exits or 3 s pass (then -1). */
static int run_punchd(const char *const *args, const char *const *env, h_proc_out *out)
{
    const char *argv[24] = {PUNCHD_PATH};
    int n = 1;
    for (int i = 0; args[i] && n < 23; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    return h_run(argv, env, NULL, 3000, out);
}

/* A port nobody listens on now. */
static int free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/*
 * The first punchd on a port of its choosing (0), then on a port given; a
 * second one on the same address must refuse either way, and not share it
 * through SO_REUSEPORT.
 */
static void a_second_punchd_on_the_same_port_refuses(void **state)
{
    for (int fixed = 0; fixed < 2; fixed++) {
        char *dir = h_scripts_copy(), addr[64];
        const char *first[] = {"--listen", addr, NULL};
        h_proc_out out;
        http_resp r;
        int st;

        snprintf(addr, sizeof addr, "127.0.0.1:%d", fixed ? free_port() : 0);
        assert_int_equal(h_stack_start(&redis, &p, dir, 0, first), 0);
        snprintf(addr, sizeof addr, "127.0.0.1:%d", p.port);
        const char *args[] = {"--listen", addr, "--redis", redis.socket, "--scripts", dir, NULL};
        st = run_punchd(args, NULL, &out);
        if (st <= 0 || !strstr(out.err, "already listens on"))
            fail_msg("second punchd on %s: exit %d (-1: still running after 3 s), stderr: %s", addr,
                     st, out.err);
        h_proc_out_free(&out);
        /* The first one serves on, alone. */
        assert_int_equal(h_http(p.port, "GET", "/healthz", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        h_resp_free(&r);
        assert_int_equal(h_stack_stop(&redis, &p, dir), 0);
    }
}

/* A bad value in each flag's variable is refused, naming the variable. */
static void every_numeric_flag_reads_its_variable(void **state)
{
    static const char *const vars[] = {
        "PUNCHD_MAX_BODY",         "PUNCHD_DEDUPE_DAYS",   "PUNCHD_REDIS_TIMEOUT_MS",
        "PUNCHD_LUA_INSTRUCTIONS", "PUNCHD_LUA_MEMORY_MB", "PUNCHD_LUA_DEADLINE_MS",
        "PUNCHD_WORKERS",          "PUNCHD_SWEEP_MS",      "PUNCHD_CLAIM_TIMEOUT_MS",
    };
    const char *args[] = {"--listen", "127.0.0.1:0", "--redis", "/nonexistent", NULL};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        char setting[80];
        const char *env[] = {setting, NULL};
        h_proc_out out;
        int st;
        snprintf(setting, sizeof setting, "%s=lots", vars[i]);
        st = run_punchd(args, env, &out);
        if (st != 2 || !strstr(out.err, vars[i]))
            fail_msg("%s: exit %d (want 2, -1: it ran on), stderr: %s", setting, st, out.err);
        h_proc_out_free(&out);
    }
}

/* A good value is used: PUNCHD_MAX_BODY=300 refuses a 400-byte event. */
static void max_body_from_the_environment(void **state)
{
    char *dir = h_scripts_copy(), body[512];
    const char *env[] = {"PUNCHD_MAX_BODY=300", NULL};
    http_resp r;

    assert_int_equal(tmpredis_start(&redis, 0), 0);
    assert_int_equal(h_punchd_start_env(&p, redis.socket, dir, NULL, env), 0);
    snprintf(
        body, sizeof body,
        "{\"id\":\"big-1\",\"type\":\"visit\",\"member\":\"ann\",\"data\":{\"note\":\"%0340d\"}}",
        0);
    assert_int_equal(h_event(p.port, body, &r), 413);
    h_resp_free(&r);
    assert_int_equal(
        h_event(p.port, "{\"id\":\"small-1\",\"type\":\"visit\",\"member\":\"ann\"}", &r), 200);
    h_resp_free(&r);
    assert_int_equal(h_stack_stop(&redis, &p, dir), 0);
}

static void refused_settings(void **state)
{
    static const struct {
        const char *env, *arg, *want;
    } cases[] = {
        {"PUNCHD_API_KEY=short-key", NULL, "at least 16 characters"},
        {NULL, "verbose", "--log-level must be debug, info, warn or error"},
        {"PUNCHD_LOG_LEVEL=loud", NULL, "--log-level must be debug, info, warn or error"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *args[] = {"--listen",
                              "127.0.0.1:0",
                              "--redis",
                              "/nonexistent",
                              cases[i].arg ? "--log-level" : NULL,
                              cases[i].arg,
                              NULL};
        const char *env[] = {cases[i].env, NULL};
        h_proc_out out;
        int st = run_punchd(args, env, &out);
        if (st != 2 || !strstr(out.err, cases[i].want))
            fail_msg("case %zu: exit %d (want 2; -1: it ran on), stderr: %s", i, st, out.err);
        h_proc_out_free(&out);
    }
}

/* A FIFO named like a script: opening it would wait for a writer forever. */
static void a_fifo_in_the_scripts_folder(void **state)
{
    char *dir = h_scripts_copy(), fifo[300];
    http_resp r;

    snprintf(fifo, sizeof fifo, "%s/trap.lua", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(h_stack_start(&redis, &p, dir, 0, NULL), 0);
    assert_int_equal(h_http(p.port, "GET", "/v1/mechanics", NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "fuel.lua"));
    assert_null(strstr(r.body, "\"trap.lua\""));
    h_resp_free(&r);
    assert_int_equal(h_event(p.port, "{\"id\":\"f-1\",\"type\":\"visit\",\"member\":\"ann\"}", &r),
                     200);
    h_resp_free(&r);
    assert_int_equal(h_stack_stop(&redis, &p, dir), 0);
}

/* user + system CPU time of pid, in clock ticks. */
static long cpu_ticks(pid_t pid)
{
    char path[64], line[1024], *rest;
    long ut = 0, st = 0;
    FILE *f;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (!(f = fopen(path, "r")))
        return -1;
    rest = fgets(line, sizeof line, f) ? strrchr(line, ')') : NULL;
    fclose(f);
    /* After "(comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
     * stime */
    if (!rest ||
        sscanf(rest + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &ut, &st) != 2)
        return -1;
    return ut + st;
}

static int count_lines_with(const char *path, const char *what)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        n += strstr(line, what) != NULL;
    if (f)
        fclose(f);
    return n;
}

static int healthz_ok(void *arg)
{
    http_resp r;
    int ok = h_http(*(int *)arg, "GET", "/healthz", NULL, &r) == 0 && r.status == 200;
    h_resp_free(&r);
    return ok;
}

/*
 * 64 open files: a few go to Redis, epoll, inotify and the listener; 120
 * connections take the rest. The kernel still completes connections into the
 * backlog, so accept() keeps failing with EMFILE.
 */
static void at_the_open_files_limit(void **state)
{
    enum { NCONN = 120 };
    char *dir = h_scripts_copy();
    int fds[NCONN], n = 0;
    long t0, t1, hz = sysconf(_SC_CLK_TCK);
    int lines;

    assert_int_equal(tmpredis_start(&redis, 0), 0);
    h_punchd_nofile = 64;
    assert_int_equal(h_punchd_start(&p, redis.socket, dir, NULL, NULL), 0);
    h_punchd_nofile = 0;
    for (int i = 0; i < NCONN; i++)
        if ((fds[n] = h_tcp_connect(p.port)) >= 0)
            n++;
    assert_true(n > 80);
    nap_ms(300); /* punchd reaches its limit */
    t0 = cpu_ticks(p.pid);
    nap_ms(1000);
    t1 = cpu_ticks(p.pid);
    lines = count_lines_with(p.log, "accept");
    /* A busy loop takes a whole core: hz ticks per second. */
    if (t0 < 0 || t1 - t0 > hz / 4)
        fail_msg("punchd used %ld of %ld ticks in 1 s at its fd limit", t1 - t0, hz);
    if (lines < 1 || lines > 3)
        fail_msg("%d log lines about accept (want 1-3), log %s", lines, p.log);
    assert_true(h_punchd_alive(&p));
    for (int i = 0; i < n; i++)
        close(fds[i]);
    {
        http_resp r;
        assert_true(h_wait_until(healthz_ok, &p.port, 5000));
        assert_int_equal(h_http(p.port, "GET", "/metrics", NULL, &r), 0);
        if (!strstr(r.body, "punchd_accept_errors_total ") ||
            strstr(r.body, "punchd_accept_errors_total 0\n"))
            fail_msg("no accept errors counted: %s", r.body);
        h_resp_free(&r);
    }
    /* The open connections close; punchd accepts and answers again. */
    assert_true(h_wait_until(healthz_ok, &p.port, 5000));
    assert_int_equal(h_stack_stop(&redis, &p, dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(a_second_punchd_on_the_same_port_refuses, stop_stack),
        cmocka_unit_test_teardown(every_numeric_flag_reads_its_variable, stop_stack),
        cmocka_unit_test_teardown(max_body_from_the_environment, stop_stack),
        cmocka_unit_test_teardown(refused_settings, stop_stack),
        cmocka_unit_test_teardown(a_fifo_in_the_scripts_folder, stop_stack),
        cmocka_unit_test_teardown(at_the_open_files_limit, stop_stack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
