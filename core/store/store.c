/*
 * One hiredis async connection on a libevent loop, with the parts hiredis 0.14
 * leaves to its user: connect and per-command timeouts (evtimers), reconnect
 * with exponential backoff, and the server-side scripts: every embedded
 * script (store-scripts-gen.h) is loaded on connect, and called by EVALSHA
 * through store_send() alone, which reloads them and retries once on NOSCRIPT.
 */
#include "store-internal.h"
#include "store-scripts-gen.h"
#include "punchcard/common.h"

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum conn_state { CONN_DOWN, CONN_CONNECTING, CONN_READY };

struct store {
    struct event_base *base;
    char *host; /* NULL for a Unix socket */
    char *path;
    int port;
    int timeout_ms;
    redisAsyncContext *ac;
    enum conn_state state;
    struct event *retry_timer;       /* reconnect after backoff */
    struct event *connect_timer;     /* connect timeout */
    struct event *watchdog;          /* command timeouts: looks at the oldest command in flight */
    struct pending *oldest, *newest; /* commands in flight, in the order they were sent */
    int backoff_ms;
    int freeing;
    store_stats stats;
};

/* Who waits for a reply: an operation's parser and typed callback. */
typedef struct waiter {
    store_parse_fn *parse;
    store_cb cb; /* NULL: nobody waits (fire and forget) */
    const char *op;
    void *arg;
} waiter;

/* One command in flight. Freed by the hiredis callback, which always comes. */
typedef struct pending {
    store *s;
    waiter w;
    int64_t sent_ms;
    struct timespec sent;        /* for the latency histogram */
    struct pending *prev, *next; /* the store's in-flight list */
    int done;                    /* the waiter was answered already (by the watchdog) */
    char *resp;                  /* an EVALSHA as sent (owned), to send again after NOSCRIPT */
    size_t resp_len;
    int resent; /* sent again once already */
} pending;

static void connect_now(store *s);
static void on_watchdog(evutil_socket_t fd, short what, void *arg);

static void schedule_reconnect(store *s)
{
    struct timeval tv = {s->backoff_ms / 1000, (s->backoff_ms % 1000) * 1000};
    s->state = CONN_DOWN;
    s->ac = NULL;
    if (s->freeing)
        return;
    evtimer_add(s->retry_timer, &tv);
    s->backoff_ms = s->backoff_ms * 2 > 2000 ? 2000 : s->backoff_ms * 2;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    store *s = arg;
    s->stats.reconnects++;
    connect_now(s);
}

/* A script Redis refused, or that hashes to another digest than the build computed, is logged. */
static void on_script_loaded(redisAsyncContext *ac, void *r, void *priv)
{
    redisReply *reply = r;
    const store_script *script = priv;
    if (reply && reply->type == REDIS_REPLY_ERROR)
        pc_log(PC_LOG_ERROR, "redis: SCRIPT LOAD %s: %s", script->name, reply->str);
    else if (reply && reply->type == REDIS_REPLY_STRING && strcmp(reply->str, script->sha) != 0)
        pc_log(PC_LOG_ERROR, "redis: script %s has digest %s, not %s", script->name, reply->str,
               script->sha);
}

/*
 * Sends SCRIPT LOAD of every embedded script, ahead of whatever is sent next:
 * Redis answers in order, so a later EVALSHA finds them.
 */
static void load_scripts(store *s)
{
    for (int i = 0; store_scripts[i]; i++)
        redisAsyncCommand(s->ac, on_script_loaded, (void *)store_scripts[i], "SCRIPT LOAD %s",
                          store_scripts[i]->body);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    store *s = ac->data;
    evtimer_del(s->connect_timer);
    if (status != REDIS_OK) {
        pc_log_event(PC_LOG_WARN, "redis_connect_failed", "error", ac->errstr, PC_LOG_END);
        schedule_reconnect(s); /* hiredis frees ac after this callback */
        return;
    }
    pc_log_event(PC_LOG_INFO, "redis_up", PC_LOG_END);
    s->state = CONN_READY;
    s->backoff_ms = 100;
    load_scripts(s);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    store *s = ac->data;
    if (!s->freeing)
        pc_log_event(PC_LOG_WARN, "redis_down", "error",
                     status == REDIS_OK ? "connection closed" : ac->errstr, PC_LOG_END);
    schedule_reconnect(s);
}

static void on_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
    store *s = arg;
    redisAsyncContext *ac = s->ac;
    pc_log_event(PC_LOG_WARN, "redis_connect_failed", "error", "connect timed out", PC_LOG_END);
    /* Freeing a context that never connected calls no disconnect callback. */
    schedule_reconnect(s);
    if (ac)
        redisAsyncFree(ac);
}

static void connect_now(store *s)
{
    redisAsyncContext *ac;
    struct timeval tv = {s->timeout_ms / 1000, (s->timeout_ms % 1000) * 1000};

    ac = s->path ? redisAsyncConnectUnix(s->path) : redisAsyncConnect(s->host, s->port);
    if (!ac || ac->err) {
        pc_log(PC_LOG_WARN, "redis: %s", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        schedule_reconnect(s);
        return;
    }
    ac->data = s;
    s->ac = ac;
    s->state = CONN_CONNECTING;
    redisLibeventAttach(ac, s->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    evtimer_add(s->connect_timer, &tv);
}

store *store_new(struct event_base *base, const store_config *cfg)
{
    store *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->base = base;
    s->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 2000;
    s->backoff_ms = 100;
    if (strchr(cfg->addr, '/')) {
        s->path = strdup(cfg->addr);
    } else {
        const char *colon = strrchr(cfg->addr, ':');
        char *end;
        long port = colon ? strtol(colon + 1, &end, 10) : 6379;
        if (colon && (*end != '\0' || port <= 0 || port > 65535))
            goto err;
        s->host = colon ? strndup(cfg->addr, (size_t)(colon - cfg->addr)) : strdup(cfg->addr);
        s->port = (int)port;
    }
    s->retry_timer = evtimer_new(base, on_retry, s);
    s->connect_timer = evtimer_new(base, on_connect_timeout, s);
    s->watchdog = event_new(base, -1, EV_PERSIST, on_watchdog, s);
    {
        int every = s->timeout_ms / 4 > 10 ? s->timeout_ms / 4 : 10;
        struct timeval wtv = {every / 1000, (every % 1000) * 1000};
        evtimer_add(s->watchdog, &wtv);
    }
    connect_now(s);
    return s;
err:
    free(s);
    return NULL;
}

void store_free(store *s)
{
    if (!s)
        return;
    s->freeing = 1;
    if (s->ac)
        redisAsyncFree(s->ac);
    event_free(s->retry_timer);
    event_free(s->connect_timer);
    event_free(s->watchdog);
    free(s->host);
    free(s->path);
    free(s);
}

int store_ready(const store *s)
{
    return s->state == CONN_READY;
}

static void unlink_pending(store *s, pending *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        s->oldest = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        s->newest = p->prev;
}

static void link_pending(store *s, pending *p)
{
    p->sent_ms = pc_mono_ms();
    clock_gettime(CLOCK_MONOTONIC, &p->sent);
    p->prev = s->newest;
    p->next = NULL;
    if (s->newest)
        s->newest->next = p;
    else
        s->oldest = p;
    s->newest = p;
}

static void on_reply(redisAsyncContext *ac, void *r, void *priv);

/*
 * Redis lost the scripts (SCRIPT FLUSH, a restarted or failed-over server
 * that kept our connection): load them again and send the same EVALSHA once
 * more behind them. NOSCRIPT means the script did not run, so this is safe.
 * 1 when p was sent again (its callback will come), 0 otherwise.
 */
static int resend_after_noscript(store *s, pending *p, const redisReply *reply)
{
    if (!p->resp || p->resent || p->done || strncmp(reply->str, "NOSCRIPT", 8) != 0 || !s->ac ||
        s->state != CONN_READY)
        return 0;
    pc_log(PC_LOG_WARN, "redis: scripts missing (NOSCRIPT); loading them again");
    load_scripts(s);
    p->resent = 1;
    link_pending(s, p);
    if (redisAsyncFormattedCommand(s->ac, on_reply, p, p->resp, p->resp_len) == REDIS_OK)
        return 1;
    unlink_pending(s, p);
    return 0;
}

/* Retryable states of a reachable Redis: the same call later will do. */
static int retryable(const char *msg)
{
    static const char *const words[] = {"NOSCRIPT", "LOADING",  "BUSY",       "MASTERDOWN",
                                        "TRYAGAIN", "READONLY", "CLUSTERDOWN"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
        size_t n = strlen(words[i]);
        if (strncmp(msg, words[i], n) == 0 && (msg[n] == ' ' || msg[n] == '\0'))
            return 1;
    }
    return 0;
}

/* Classifies a reply: 0 when it is no failure, else 1 with out filled (borrowing reply or err). */
static int classify(const redisReply *reply, const char *err, const char *op, store_error *out)
{
    if (reply && reply->type != REDIS_REPLY_ERROR)
        return 0;
    out->op = op;
    if (!reply) {
        out->status = STORE_UNAVAILABLE;
        out->message = err ? err : "redis unavailable";
    } else {
        out->message = reply->str ? reply->str : "error";
        if (strncmp(out->message, "OOM ", 4) == 0)
            out->status = STORE_FULL;
        else if (retryable(out->message))
            out->status = STORE_UNAVAILABLE;
        else
            out->status = STORE_FAILED;
    }
    return 1;
}

const store_error *store_bad_reply(const char *op, store_error *e)
{
    e->status = STORE_FAILED;
    e->op = op;
    e->message = "unexpected reply";
    pc_log(PC_LOG_ERROR, "redis: %s: unexpected reply", op);
    return e;
}

/*
 * Answers w with a reply (an error reply included) or with errtext (no reply).
 * An operation's failures are logged here, once: a refusal always, being
 * unavailable only when nobody waits for the answer.
 */
static void answer(const waiter *w, redisReply *reply, const char *errtext)
{
    store_error e;
    if (!classify(reply, errtext, w->op, &e)) {
        if (w->cb)
            w->parse(reply, NULL, w->op, w->cb, w->arg);
        return;
    }
    if (e.status == STORE_FAILED)
        pc_log(PC_LOG_ERROR, "redis: %s: %s", w->op, e.message);
    else if (e.status == STORE_FULL || !w->cb)
        pc_log(PC_LOG_WARN, "redis: %s%s: %s", w->op, w->cb ? "" : " lost", e.message);
    if (w->cb)
        w->parse(NULL, &e, w->op, w->cb, w->arg);
}

const int64_t store_latency_bounds_us[STORE_LATENCY_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 1000000, INT64_MAX};

static void count_latency(store *s, const pending *p)
{
    struct timespec now;
    int64_t us;
    int i = 0;
    clock_gettime(CLOCK_MONOTONIC, &now);
    us = (int64_t)(now.tv_sec - p->sent.tv_sec) * 1000000 + (now.tv_nsec - p->sent.tv_nsec) / 1000;
    while (us > store_latency_bounds_us[i])
        i++;
    s->stats.latency_us[i]++;
    s->stats.latency_sum_us += (uint64_t)us;
    s->stats.replies++;
}

static void on_reply(redisAsyncContext *ac, void *r, void *priv)
{
    pending *p = priv;
    redisReply *reply = r;
    store *s = p->s;

    unlink_pending(s, p);
    if (reply)
        count_latency(s, p);
    if (reply && reply->type == REDIS_REPLY_ERROR && resend_after_noscript(s, p, reply))
        return;
    if (!p->done) {
        p->done = 1;
        if (!reply || reply->type == REDIS_REPLY_ERROR)
            s->stats.errors++;
        answer(&p->w, reply, reply ? NULL : "redis connection lost");
    }
    free(p->resp);
    free(p);
}

/*
 * Replies come back in the order commands were sent, so the oldest command in
 * flight is the only one that can be late. One timer per store looks at it,
 * instead of a timer per command.
 */
static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
    store *s = arg;
    pending *p = s->oldest;
    waiter w;

    if (!p || p->done || pc_mono_ms() - p->sent_ms < s->timeout_ms)
        return;
    w = p->w;
    p->done = 1;
    s->stats.timeouts++;
    {
        char ms[24];
        snprintf(ms, sizeof ms, "%d", s->timeout_ms);
        pc_log_event(PC_LOG_WARN, "redis_timeout", "timeout_ms", ms, "action", "reconnect",
                     PC_LOG_END);
    }
    /*
     * A Redis that does not answer one command will not answer the next ones:
     * drop the connection so every waiter fails now, and reconnect. This frees
     * p (its hiredis callback runs with NULL), so its waiter was copied first.
     */
    if (s->ac)
        redisAsyncFree(s->ac);
    answer(&w, NULL, "redis timeout");
}

/* Appends the decimal digits of v. */
static char *put_num(char *d, size_t v)
{
    return d + pc_format_int(d, (int64_t)v);
}

/*
 * Formats the command as RESP ourselves and hands it to hiredis: its own
 * formatter (sdscatfmt per argument) was the largest single cost of an event.
 * keep: p keeps the formatted command (p->resp), to send it again.
 */
static int send_resp(store *s, pending *p, int argc, const char **argv, const size_t *argvlen,
                     int keep)
{
    size_t total = 16, *lens = NULL, stack_lens[64];
    char *cmd, *d;
    int rc;
    lens = argc <= 64 ? stack_lens : malloc(sizeof *lens * (size_t)argc);
    if (!lens)
        return REDIS_ERR;
    for (int i = 0; i < argc; i++) {
        lens[i] = argvlen ? argvlen[i] : strlen(argv[i]);
        total += lens[i] + 32;
    }
    if (!(cmd = malloc(total))) {
        if (lens != stack_lens)
            free(lens);
        return REDIS_ERR;
    }
    d = cmd;
    *d++ = '*';
    d = put_num(d, (size_t)argc);
    *d++ = '\r';
    *d++ = '\n';
    for (int i = 0; i < argc; i++) {
        *d++ = '$';
        d = put_num(d, lens[i]);
        *d++ = '\r';
        *d++ = '\n';
        memcpy(d, argv[i], lens[i]);
        d += lens[i];
        *d++ = '\r';
        *d++ = '\n';
    }
    rc = redisAsyncFormattedCommand(s->ac, on_reply, p, cmd, (size_t)(d - cmd));
    if (keep && rc == REDIS_OK) {
        p->resp = cmd;
        p->resp_len = (size_t)(d - cmd);
    } else {
        free(cmd);
    }
    if (lens != stack_lens)
        free(lens);
    return rc;
}

/*
 * Sends argv for w; keep: the command may be sent again (an EVALSHA). w is
 * answered at once when the store is not connected.
 */
static int send_command(store *s, const waiter *w, int argc, const char **argv,
                        const size_t *argvlen, int keep)
{
    pending *p;

    s->stats.commands++;
    if (s->state != CONN_READY)
        goto unavailable;
    p = calloc(1, sizeof *p);
    if (!p)
        goto unavailable;
    p->s = s;
    p->w = *w;
    link_pending(s, p);
    if (send_resp(s, p, argc, argv, argvlen, keep) != REDIS_OK) {
        unlink_pending(s, p);
        free(p);
        goto unavailable;
    }
    return 0;
unavailable:
    s->stats.errors++;
    answer(w, NULL, "redis unavailable");
    return -1;
}

/* EVALSHA script: the digest and the key count go in front of argv. */
static int send_eval(store *s, const store_script *script, const waiter *w, int nkeys, int argc,
                     const char **argv, const size_t *argvlen)
{
    enum { STACK_ARGS = 64 };
    const char *sargv[STACK_ARGS + 3];
    size_t slen[STACK_ARGS + 3];
    const char **av = sargv;
    size_t *al = slen;
    char nk[24];
    int rc;

    if (argc > STACK_ARGS) {
        av = malloc(sizeof *av * (size_t)(argc + 3));
        al = malloc(sizeof *al * (size_t)(argc + 3));
        if (!av || !al) {
            free(av);
            free(al);
            answer(w, NULL, "out of memory");
            return -1;
        }
    }
    av[0] = "EVALSHA";
    al[0] = 7;
    av[1] = script->sha;
    al[1] = 40;
    av[2] = nk;
    al[2] = pc_format_int(nk, nkeys);
    for (int i = 0; i < argc; i++) {
        av[i + 3] = argv[i];
        al[i + 3] = argvlen ? argvlen[i] : strlen(argv[i]);
    }
    rc = send_command(s, w, argc + 3, av, al, 1);
    if (av != sargv) {
        free(av);
        free(al);
    }
    return rc;
}

void store_send(store *s, const store_script *script, const char *op, store_parse_fn *parse,
                store_cb cb, void *arg, int nkeys, int argc, const char **argv,
                const size_t *argvlen)
{
    waiter w = {.parse = parse, .cb = cb, .op = op, .arg = arg};
    if (script)
        send_eval(s, script, &w, nkeys, argc, argv, argvlen);
    else
        send_command(s, &w, argc, argv, argvlen, 0);
}

void store_get_stats(const store *s, store_stats *out)
{
    *out = s->stats;
}

struct event_base *store_base(const store *s)
{
    return s->base;
}
