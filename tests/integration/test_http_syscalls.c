/*
 * The system calls an HTTP request costs punchd, and what evhttp does with
 * them, against a real redis-server and a real punchd:
 *  - counted (punchd traced with ptrace, its own child here): on one
 *    keep-alive connection, a request that waits on Redis costs two epoll_ctl
 *    and no ioctl (no FIONREAD before each read, evhttp_fast.c; its answer
 *    written at once, http.c, with the loop's changelist, main.c), one that
 *    does not wait one epoll_ctl; one read and one write each;
 *  - behaviour kept: a body sent in many small pieces, and one over 16 KiB
 *    (several reads), read exactly (the same bytes again are a duplicate, one
 *    byte off is 422); pipelined requests answered in order, the last with
 *    Connection: close answered before the close; an answer over one write
 *    of the bufferevent (a batch's, 30 KB) whole, to a reader that takes it
 *    slowly, and the connection good for another request after it.
 */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static tmpredis redis;
static punchd_proc p;
static char *dir;

static int stop_stack(void **state)
{
    h_tmp_stack_stop(&redis, &p, &dir);
    return 0;
}

static void start(const char *const *extra)
{
    dir = h_scripts_copy();
    assert_int_equal(tmpredis_start(&redis, 0), 0);
    assert_int_equal(h_punchd_start(&p, redis.socket, dir, extra, NULL), 0);
}

static int connect_to(int port, int rcvbuf)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (fd >= 0 && rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa))
        fail_msg("cannot connect to punchd on %d", port);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* each piece its own segment */
    return fd;
}

static void send_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = write(fd, data, len);
        if (n <= 0)
            fail_msg("write: %s", strerror(errno));
        data += n;
        len -= (size_t)n;
    }
}

/* What a client has read on its connection: answers are taken off its front. */
typedef struct {
    int fd;
    char buf[1 << 17];
    size_t len;
} client;

/* Reads what is there without waiting: -1 when the connection closed. */
static int take_in(client *c)
{
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len - 1, MSG_DONTWAIT);
    if (n == 0)
        return -1;
    if (n > 0) {
        c->len += (size_t)n;
        c->buf[c->len] = '\0';
    }
    return 0;
}

/* The next answer into out (NUL-terminated; cut to n), within 5 s: its status, or 0. */
static int next_answer(client *c, char *out, size_t n)
{
    long long end = h_mono_ms() + 5000;
    size_t len;
    while (!(len = h_http_answer_len(c->buf, c->len))) {
        struct pollfd pf = {c->fd, POLLIN, 0};
        if (h_mono_ms() >= end || poll(&pf, 1, 100) < 0 || (pf.revents && take_in(c)))
            return 0;
    }
    snprintf(out, n, "%.*s", (int)len, c->buf);
    memmove(c->buf, c->buf + len, c->len - len);
    c->len -= len;
    c->buf[c->len] = '\0';
    return atoi(out + 9);
}

static char *event_request(const char *id, const char *member, const char *extra_data,
                           const char *more_headers)
{
    char body[65536], *req;
    snprintf(body, sizeof body,
             "{\"id\":\"%s\",\"type\":\"order\",\"member\":\"%s\",\"data\":{%s\"items\":[{"
             "\"category\":\"fuel\",\"amount\":500}]}}",
             id, member, extra_data ? extra_data : "");
    if (asprintf(&req,
                 "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%s"
                 "Content-Length: %zu\r\n\r\n%s",
                 more_headers ? more_headers : "", strlen(body), body) < 0)
        fail_msg("asprintf");
    return req;
}

/* punchd under ptrace: every thread, and the system calls made on one descriptor. */
typedef struct {
    pid_t tid[64];
    int n, fd;
    int detaching, left;
    long epoll_ctl, fionread, reads, writes;
} tracer;

/* Seizes every thread of pid and stops each once (their stops come to trace_step()). */
static int trace_start(tracer *t, pid_t pid, int fd)
{
    char path[64];
    DIR *d;
    struct dirent *e;
    memset(t, 0, sizeof *t);
    t->fd = fd;
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    assert_non_null(d = opendir(path));
    while ((e = readdir(d)) && t->n < 64) {
        pid_t tid = atoi(e->d_name);
        if (tid <= 0)
            continue;
        if (ptrace(PTRACE_SEIZE, tid, 0,
                   (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE))) {
            closedir(d);
            return -1;
        }
        ptrace(PTRACE_INTERRUPT, tid, 0, 0);
        t->tid[t->n++] = tid;
    }
    closedir(d);
    return 0;
}

static void count(tracer *t, const struct __ptrace_syscall_info *si)
{
    const uint64_t *a = si->entry.args;
    switch (si->entry.nr) {
    case SYS_epoll_ctl:
        t->epoll_ctl += (int)a[2] == t->fd;
        break;
    case SYS_ioctl:
        t->fionread += (int)a[0] == t->fd && a[1] == FIONREAD;
        break;
    case SYS_read:
    case SYS_readv:
    case SYS_recvfrom:
    case SYS_recvmsg:
        t->reads += (int)a[0] == t->fd;
        break;
    case SYS_write:
    case SYS_writev:
    case SYS_sendto:
    case SYS_sendmsg:
        t->writes += (int)a[0] == t->fd;
        break;
    default:
        break;
    }
}

/* Waits for one stop of a thread of punchd, counts it, lets the thread go on (or detaches it). */
static void trace_step(tracer *t)
{
    int st, sig, inject = 0;
    pid_t tid = waitpid(-1, &st, __WALL);
    if (tid < 0)
        fail_msg("waitpid: %s", strerror(errno));
    if (WIFEXITED(st) || WIFSIGNALED(st))
        fail_msg("a thread of punchd (%d) ended while traced", (int)tid);
    sig = WSTOPSIG(st);
    if (sig == (SIGTRAP | 0x80)) {
        struct __ptrace_syscall_info si;
        if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, (void *)sizeof si, &si) > 0 &&
            si.op == PTRACE_SYSCALL_INFO_ENTRY && !t->detaching)
            count(t, &si);
    } else if (st >> 16 == PTRACE_EVENT_CLONE) {
        unsigned long child = 0;
        ptrace(PTRACE_GETEVENTMSG, tid, 0, &child);
        if (t->n < 64)
            t->tid[t->n++] = (pid_t)child;
        t->left += t->detaching;
    } else if (st >> 16 == 0) {
        inject = sig; /* a signal for punchd: delivered */
    }
    if (t->detaching) {
        ptrace(PTRACE_DETACH, tid, 0, (void *)(long)inject);
        t->left--;
    } else {
        ptrace(PTRACE_SYSCALL, tid, 0, (void *)(long)inject);
    }
}

/* Lets every thread of punchd go, untraced. */
static void trace_end(tracer *t)
{
    t->detaching = 1;
    t->left = t->n;
    for (int i = 0; i < t->n; i++)
        ptrace(PTRACE_INTERRUPT, t->tid[i], 0, 0);
    while (t->left > 0)
        trace_step(t);
}

/* Sends request on c and serves punchd's stops until its answer is in: the answer's status. */
static int traced_request(tracer *t, client *c, const char *request, char *out, size_t n)
{
    long long end = h_mono_ms() + 10000;
    send_all(c->fd, request, strlen(request));
    while (!h_http_answer_len(c->buf, c->len)) {
        if (take_in(c) || h_mono_ms() > end)
            fail_msg("no answer to a traced request");
        if (!h_http_answer_len(c->buf, c->len))
            trace_step(t);
    }
    return next_answer(c, out, n);
}

/*
 * Per request on a keep-alive connection, counted over N whole cycles (from
 * an answer to the next, so each request's work after its answer, evhttp
 * reading the next, is in): no FIONREAD, one read, one write; two epoll_ctl
 * for an event (read off while Redis answers, on again after), one for
 * /healthz (answered in the turn it came in: the changelist writes its read
 * event's delete and add back as one EPOLL_CTL_MOD). libevent's own path
 * costs one FIONREAD and four epoll_ctl per request.
 */
static void a_request_costs_two_epoll_ctl_and_no_ioctl(void **state)
{
    enum { N = 20 };
    const char *extra[] = {"--workers", "1", NULL};
    static client c;
    char out[8192], id[32];
    tracer t;
    int sfd;
    start(extra);
    memset(&c, 0, sizeof c);
    c.fd = connect_to(p.port, 0);
    send_all(c.fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 34);
    assert_int_equal(next_answer(&c, out, sizeof out), 200);
    assert_true((sfd = h_server_socket(p.pid, c.fd, NULL)) >= 0);
    if (trace_start(&t, p.pid, sfd)) {
        skip(); /* no ptrace here (a seccomp'd container): nothing to count with */
    }
    for (int i = 0; i <= N; i++) {
        char *req;
        snprintf(id, sizeof id, "sc-%d", i);
        req = event_request(id, "ann", NULL, NULL);
        if (i == 1) /* from the first answer on */
            t.epoll_ctl = t.fionread = t.reads = t.writes = 0;
        assert_int_equal(traced_request(&t, &c, req, out, sizeof out), 200);
        assert_non_null(strstr(out, id));
        free(req);
    }
    {
        long ctl = t.epoll_ctl, fion = t.fionread, rd = t.reads, wr = t.writes;
        for (int i = 0; i <= N; i++) {
            if (i == 1) /* from the first answer on, as above */
                t.epoll_ctl = t.fionread = t.reads = t.writes = 0;
            assert_int_equal(
                traced_request(&t, &c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", out, sizeof out),
                200);
        }
        trace_end(&t);
        print_message("events: %ld epoll_ctl, %ld FIONREAD, %ld reads, %ld writes for %d\n", ctl,
                      fion, rd, wr, N);
        print_message("healthz: %ld epoll_ctl, %ld FIONREAD, %ld reads, %ld writes for %d\n",
                      t.epoll_ctl, t.fionread, t.reads, t.writes, N);
        assert_int_equal(fion, 0);
        assert_int_equal(t.fionread, 0);
        assert_int_equal(rd, N);
        assert_int_equal(wr, N);
        assert_int_equal(ctl, 2 * N);
        assert_int_equal(t.reads, N);
        assert_int_equal(t.writes, N);
        assert_int_equal(t.epoll_ctl, N);
    }
    /* Untraced again, and still answering. */
    {
        http_resp r;
        assert_int_equal(
            h_event(p.port, "{\"id\":\"after\",\"type\":\"visit\",\"member\":\"ann\"}", &r), 200);
        h_resp_free(&r);
    }
    close(c.fd);
}

/* Sends request on c in pieces of piece bytes, each its own segment. */
static void send_in_pieces(client *c, const char *request, size_t piece)
{
    size_t len = strlen(request);
    for (size_t at = 0; at < len; at += piece) {
        struct timespec gap = {0, 200000}; /* 0.2 ms: the pieces do not all go out as one */
        send_all(c->fd, request + at, len - at < piece ? len - at : piece);
        nanosleep(&gap, NULL);
    }
}

/*
 * Bodies read exactly, whatever pieces they come in: a 20 KiB body (several
 * reads of at most 4 KiB) sent whole, then the same bytes again a few at a
 * time, then 4 KiB at a time (a duplicate each time: the same digest), then
 * with one byte changed at its very end (422: another request).
 */
static void bodies_in_pieces_read_exactly(void **state)
{
    const char *extra[] = {"--max-body", "65536", NULL};
    static client c;
    static char pad[20500];
    char out[8192], *req, *last;
    start(extra);
    memset(&c, 0, sizeof c);
    c.fd = connect_to(p.port, 0);
    memcpy(pad, "\"note\":\"", 8);
    for (size_t i = 8; i < 20480; i++)
        pad[i] = (char)('a' + i % 26);
    memcpy(pad + 20480, "\",", 3);
    req = event_request("big-1", "bo", pad, NULL);
    assert_true(strlen(req) > 20480);
    send_all(c.fd, req, strlen(req));
    assert_int_equal(next_answer(&c, out, sizeof out), 200);
    assert_non_null(strstr(out, "\"duplicate\":false"));
    send_in_pieces(&c, req, 7);
    assert_int_equal(next_answer(&c, out, sizeof out), 200);
    assert_non_null(strstr(out, "\"duplicate\":true"));
    send_in_pieces(&c, req, 4096);
    assert_int_equal(next_answer(&c, out, sizeof out), 200);
    assert_non_null(strstr(out, "\"duplicate\":true"));
    last = strstr(req, "500}]}}");
    last[2] = '1';
    send_in_pieces(&c, req, 1000);
    assert_int_equal(next_answer(&c, out, sizeof out), 422);
    assert_non_null(strstr(out, "idempotency_mismatch"));
    free(req);
    close(c.fd);
}

/*
 * Three requests in one write, answered in order (each after the one before
 * has gone out); the last asks Connection: close, and its answer is whole
 * before the connection closes.
 */
static void pipelined_requests_in_order_then_close(void **state)
{
    static client c;
    char out[8192], all[16384];
    char *a = event_request("pl-1", "cy", NULL, NULL), *b = event_request("pl-2", "cy", NULL, NULL),
         *z = event_request("pl-3", "cy", NULL, "Connection: close\r\n");
    long long end;
    start(NULL);
    memset(&c, 0, sizeof c);
    c.fd = connect_to(p.port, 0);
    snprintf(all, sizeof all, "%sGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n%s%s", a, b, z);
    send_all(c.fd, all, strlen(all));
    assert_int_equal(next_answer(&c, out, sizeof out), 200);
    assert_non_null(strstr(out, "\"id\":\"pl-1\""));
    assert_int_equal(next_answer(&c, out, sizeof out), 200);
    assert_null(strstr(out, "\"id\":\"pl-"));
    assert_int_equal(next_answer(&c, out, sizeof out), 200);
    assert_non_null(strstr(out, "\"id\":\"pl-2\""));
    assert_int_equal(next_answer(&c, out, sizeof out), 200);
    assert_non_null(strstr(out, "\"id\":\"pl-3\""));
    assert_non_null(strstr(out, "Connection: close"));
    end = h_mono_ms() + 5000; /* and then the end of the stream */
    for (;;) {
        struct pollfd pf = {c.fd, POLLIN, 0};
        assert_true(h_mono_ms() < end);
        if (poll(&pf, 1, 100) > 0 && take_in(&c))
            break;
    }
    assert_int_equal(c.len, 0);
    assert_int_equal(h_balance(p.port, "cy", "stars"), 150);
    free(a);
    free(b);
    free(z);
    close(c.fd);
}

/*
 * A batch's answer (30 KB: two writes of the bufferevent at least, the first
 * one from http.c's reply()) to a client with a small receive buffer that
 * reads it slowly: whole, and the connection answers the next request.
 */
static void a_long_answer_to_a_slow_reader(void **state)
{
    static client c;
    static char body[65536], req[70000];
    char out[8192];
    size_t len = 0;
    start(NULL);
    memset(&c, 0, sizeof c);
    c.fd = connect_to(p.port, 4096);
    len += (size_t)snprintf(body + len, sizeof body - len, "{\"events\":[");
    for (int i = 0; i < 100; i++)
        len +=
            (size_t)snprintf(body + len, sizeof body - len,
                             "%s{\"id\":\"lb-%d\",\"type\":\"order\",\"member\":\"m%d\",\"data\":"
                             "{\"items\":[{\"category\":\"fuel\",\"amount\":500}]}}",
                             i ? "," : "", i, i);
    len += (size_t)snprintf(body + len, sizeof body - len, "]}");
    snprintf(req, sizeof req,
             "POST /v1/events/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             len, body);
    send_all(c.fd, req, strlen(req));
    while (!(len = h_http_answer_len(c.buf, c.len))) {
        struct pollfd pf = {c.fd, POLLIN, 0};
        struct timespec gap = {0, 1000000};
        assert_true(poll(&pf, 1, 5000) == 1);
        nanosleep(&gap, NULL); /* slowly: 1 ms between reads of at most what the buffer holds */
        assert_int_equal(take_in(&c), 0);
    }
    assert_true(len > 16384);
    assert_int_equal(len, c.len); /* nothing after it */
    assert_non_null(strstr(c.buf, "\"id\":\"lb-0\""));
    assert_non_null(strstr(c.buf, "\"id\":\"lb-99\""));
    assert_int_equal(memcmp(c.buf + len - 3, "]}\n", 3), 0);
    assert_int_equal(next_answer(&c, out, sizeof out), 200);
    send_all(c.fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 34);
    assert_int_equal(next_answer(&c, out, sizeof out), 200);
    close(c.fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(a_request_costs_two_epoll_ctl_and_no_ioctl, stop_stack),
        cmocka_unit_test_teardown(bodies_in_pieces_read_exactly, stop_stack),
        cmocka_unit_test_teardown(pipelined_requests_in_order_then_close, stop_stack),
        cmocka_unit_test_teardown(a_long_answer_to_a_slow_reader, stop_stack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
