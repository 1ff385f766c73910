/*
 * Integration test harness: a real redis-server (throwaway, Unix socket, AOF)
 * and a real punchd process on a free loopback port, spoken to over HTTP with
 * libcurl. Everything started here is stopped and removed by the tests.
 */
#ifndef PUNCHCARD_TEST_HARNESS_H
#define PUNCHCARD_TEST_HARNESS_H

#include "cli/tmpredis-internal.h"

#include <jansson.h>
#include <sys/types.h>

typedef struct punchd_proc {
    pid_t pid;
    int port;
    char dir[256]; /* temp folder: port file, log */
    char log[320];
} punchd_proc;

typedef struct http_resp {
    long status;
    char *body;   /* NUL-terminated */
    json_t *json; /* parsed body, or NULL */
} http_resp;

/* Makes a temp folder holding copies of the repo's scripts (mechanics, not specs). Returns its
 * path. */
char *h_scripts_copy(void);

/* The same for another folder of the repo (e.g. "examples/coffee-shop"). */
char *h_dir_copy(const char *rel);

/* Writes text to dir/name atomically (write to a temp name, rename). */
void h_write_file(const char *dir, const char *name, const char *text);

/* Removes a folder made by h_scripts_copy (files only, then the folder). */
void h_rm_dir(const char *dir);

/*
 * Starts punchd on 127.0.0.1:0 with the given redis socket and scripts, plus
 * extra args (NULL-terminated, may be NULL) and env (NAME=VALUE, may be NULL).
 * Waits until /healthz answers (any status). 0 or -1.
 */
int h_punchd_start(punchd_proc *p, const char *redis, const char *scripts, const char *const *extra,
                   const char *env);

/*
 * Waits until /healthz says 200 eight times in a row (Redis, or every master of a cluster,
 * connected; mechanics loaded). 0, or -1 after timeout_ms.
 */
int h_punchd_wait_healthy(punchd_proc *p, int timeout_ms);

/* When above 0, punchd processes started from now on get this open files limit (soft and hard). */
extern int h_punchd_nofile;

/* The same with any number of env entries (NAME=VALUE, NULL-terminated, may be NULL). */
int h_punchd_start_env(punchd_proc *p, const char *redis, const char *scripts,
                       const char *const *extra, const char *const *env);

/*
 * Starts a throwaway redis (with AOF when aof) and punchd on the prepared scripts folder;
 * with PUNCH_TEST_CLUSTER=1, a local Redis Cluster instead (r is left zeroed).
 */
int h_stack_start(tmpredis *r, punchd_proc *p, const char *scripts, int aof,
                  const char *const *extra);

/* 1 when PUNCH_TEST_CLUSTER asks the stacks to run on a Redis Cluster. */
int h_stack_on_cluster(void);

/* Starts punchd again on the Redis (or cluster) of a running stack (after it was killed). */
int h_stack_punchd_start(tmpredis *r, punchd_proc *p, const char *scripts,
                         const char *const *extra);

/* Stops punchd and redis, removes the scripts folder and frees its path; punchd's exit status. */
int h_stack_stop(tmpredis *r, punchd_proc *p, char *scripts);

/*
 * A test's teardown of a stack it started by hand (tmpredis_start, then punchd), even half
 * started: stops punchd if it runs, removes redis if it was made (r zeroed after), and when
 * scripts points at a folder, removes it, frees its path and sets *scripts to NULL.
 */
void h_tmp_stack_stop(tmpredis *r, punchd_proc *p, char **scripts);

/* A TCP connection to 127.0.0.1:port: its descriptor, or -1. */
int h_tcp_connect(int port);

/*
 * punchd's end of a client's TCP connection: the descriptor, in process pid,
 * of the socket whose peer is client's local address, or -1. With copy, also
 * a copy of that socket (pidfd_getfd) for the caller to read and close.
 */
int h_server_socket(pid_t pid, int client, int *copy);

/* The length of the first whole HTTP answer in buf (head and Content-Length body), or 0. */
size_t h_http_answer_len(const char *buf, size_t len);

/* Milliseconds of CLOCK_MONOTONIC: for deadlines. */
long long h_mono_ms(void);

/* SIGTERM and wait; returns the exit status (or -1). */
int h_punchd_stop(punchd_proc *p);

/*
 * 1 when punchd has exited (killed, crashed): it is reaped and its folder
 * removed, so p can be started again. 0 while it runs.
 */
int h_punchd_exited(punchd_proc *p);

/* 1 while the process runs. */
int h_punchd_alive(punchd_proc *p);

/* One HTTP request; body may be NULL. Fills out; returns 0 or -1 (no answer). */
int h_http(int port, const char *method, const char *path, const char *body, http_resp *out);

/* Same, with one extra request header ("Name: value"). */
int h_http_hdr(int port, const char *method, const char *path, const char *body, const char *header,
               http_resp *out);

void h_resp_free(http_resp *r);

/* POSTs an event built with json_pack-like args; returns the status, fills out. */
long h_event(int port, const char *json, http_resp *out);

/* Sends n requests concurrently (curl multi); statuses and bodies land in outs[0..n). */
int h_http_parallel(int port, const char *path, const char *const *bodies, int n, http_resp *outs);

/* Polls fn(arg) every 20 ms until it returns nonzero or timeout_ms passes. */
int h_wait_until(int (*fn)(void *), void *arg, int timeout_ms);

/* Sum of "delta" over every ledger entry of member (pages through the ledger). */
long long h_ledger_sum(int port, const char *member, const char *currency, int *count);

/* balances[currency] of member, 0 when absent or on 404. */
long long h_balance(int port, const char *member, const char *currency);

/* The value of the sample `name` (no labels) of GET /metrics, or absent when it is not there. */
long long h_metric(int port, const char *name, long long absent);

#endif
