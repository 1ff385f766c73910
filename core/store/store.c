/*
 * The store's connections (conn-internal.h): hiredis async on a libevent
 * loop, with the parts hiredis 0.14 leaves to its user: connect and
 * per-command timeouts (evtimers), reconnect with exponential backoff, and
 * the server-side scripts: every embedded script (store-scripts-gen.h) is
 * loaded on every connect, and called by EVALSHA through store_send() alone,
 * which reloads them on that node and sends again once on NOSCRIPT.
 *
 * A single Redis is one node. A Redis Cluster is one node per master, and
 * cluster.c routes each command to the master of its first key's slot and
 * follows the cluster's redirections.
 */
#include "conn-internal.h"
#include "keys-internal.h"
#include "store-scripts-gen.h"
#include "punchcard/common.h"

#include <hiredis/adapters/libevent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void connect_now(node *n);
static void on_watchdog(evutil_socket_t fd, short what, void *arg);
static void on_turn_end(evutil_socket_t fd, short what, void *arg);

/* Frees a node whose connection is gone. */
static void node_free(node *n)
{
    store *s = n->s;
    for (node **at = &s->nodes; *at; at = &(*at)->next)
        if (*at == n) {
            *at = n->next;
            break;
        }
    event_free(n->retry_timer);
    event_free(n->connect_timer);
    free(n->host);
    free(n->path);
    free(n);
}

static void schedule_reconnect(node *n)
{
    struct timeval tv = {n->backoff_ms / 1000, (n->backoff_ms % 1000) * 1000};
    n->state = CONN_DOWN;
    n->ac = NULL;
    if (n->s->freeing)
        return;
    if (n->removed) {
        node_free(n);
        return;
    }
    evtimer_add(n->retry_timer, &tv);
    n->backoff_ms = n->backoff_ms * 2 > 2000 ? 2000 : n->backoff_ms * 2;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    node *n = arg;
    n->s->stats.reconnects++;
    connect_now(n);
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
static void load_scripts(node *n)
{
    for (int i = 0; store_scripts[i]; i++)
        redisAsyncCommand(n->ac, on_script_loaded, (void *)store_scripts[i], "SCRIPT LOAD %s",
                          store_scripts[i]->body);
}

/* Logs a connection's event; on a cluster with the node's address ("node"). */
static void log_node(enum pc_log_level level, const char *event, const node *n, const char *error)
{
    char addr[300];
    if (!n->s->cl) {
        if (error)
            pc_log_event(level, event, "error", error, PC_LOG_END);
        else
            pc_log_event(level, event, PC_LOG_END);
        return;
    }
    snprintf(addr, sizeof addr, "%s:%d", n->host, n->port);
    if (error)
        pc_log_event(level, event, "node", addr, "error", error, PC_LOG_END);
    else
        pc_log_event(level, event, "node", addr, PC_LOG_END);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    node *n = ac->data;
    store *s = n->s;
    evtimer_del(n->connect_timer);
    if (status != REDIS_OK) {
        log_node(PC_LOG_WARN, "redis_connect_failed", n, ac->errstr);
        schedule_reconnect(n); /* hiredis frees ac after this callback; frees a removed n */
        if (s->cl)
            cluster_node_changed(s, NULL);
        return;
    }
    log_node(PC_LOG_INFO, "redis_up", n, NULL);
    n->state = CONN_READY;
    n->backoff_ms = 100;
    load_scripts(n);
    if (n->s->cl)
        cluster_node_changed(n->s, n);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    node *n = ac->data;
    store *s = n->s;
    if (!s->freeing && !n->removed)
        log_node(PC_LOG_WARN, "redis_down", n,
                 status == REDIS_OK ? "connection closed" : ac->errstr);
    schedule_reconnect(n); /* frees a removed node */
    if (s->cl && !s->freeing)
        cluster_node_changed(s, NULL);
}

static void on_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
    node *n = arg;
    redisAsyncContext *ac = n->ac;
    log_node(PC_LOG_WARN, "redis_connect_failed", n, "connect timed out");
    /* Freeing a context that never connected calls no disconnect callback. */
    schedule_reconnect(n);
    if (ac)
        redisAsyncFree(ac);
}

static void connect_now(node *n)
{
    redisAsyncContext *ac;
    int ms = n->s->timeout_ms;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

    ac = n->path ? redisAsyncConnectUnix(n->path) : redisAsyncConnect(n->host, n->port);
    if (!ac || ac->err) {
        pc_log(PC_LOG_WARN, "redis: %s", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        schedule_reconnect(n);
        return;
    }
    ac->data = n;
    n->ac = ac;
    n->state = CONN_CONNECTING;
    redisLibeventAttach(ac, n->s->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    evtimer_add(n->connect_timer, &tv);
}

/* A node, not yet connecting: host NULL for the Unix socket path. */
static node *node_alloc(store *s, const char *host, const char *path, int port)
{
    node *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->s = s;
    n->port = port;
    n->backoff_ms = 100;
    n->host = host ? strdup(host) : NULL;
    n->path = path ? strdup(path) : NULL;
    n->retry_timer = evtimer_new(s->base, on_retry, n);
    n->connect_timer = evtimer_new(s->base, on_connect_timeout, n);
    if ((host && !n->host) || (path && !n->path) || !n->retry_timer || !n->connect_timer) {
        node_free(n);
        return NULL;
    }
    return n;
}

node *store_node_new(store *s, const char *host, int port)
{
    node *n = node_alloc(s, host, NULL, port);
    if (!n)
        return NULL;
    n->next = s->nodes;
    s->nodes = n;
    connect_now(n);
    return n;
}

void store_node_remove(node *n)
{
    n->removed = 1;
    if (n->state == CONN_READY) {
        /* The replies it waits for still come; then on_disconnect frees it. */
        redisAsyncDisconnect(n->ac);
        return;
    }
    if (n->ac) {
        /* Connecting: no callback of it runs now, and freeing it calls none. */
        evtimer_del(n->connect_timer);
        redisAsyncFree(n->ac);
    }
    node_free(n);
}

/* Parses "host:port" (or a Unix socket path) into a node. */
static node *node_of_addr(store *s, const char *addr)
{
    const char *colon = strrchr(addr, ':');
    char *end, *host;
    long port;
    node *n;
    if (strchr(addr, '/'))
        return node_alloc(s, NULL, addr, 0);
    port = colon ? strtol(colon + 1, &end, 10) : 6379;
    if (colon && (*end != '\0' || port <= 0 || port > 65535))
        return NULL;
    host = colon ? strndup(addr, (size_t)(colon - addr)) : strdup(addr);
    n = host ? node_alloc(s, host, NULL, (int)port) : NULL;
    free(host);
    return n;
}

store *store_new(struct event_base *base, const store_config *cfg)
{
    store *s = calloc(1, sizeof *s);
    int every;
    if (!s)
        return NULL;
    s->base = base;
    s->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 2000;
    s->watchdog = event_new(base, -1, EV_PERSIST, on_watchdog, s);
    s->turn_end = event_new(base, -1, 0, on_turn_end, s);
    if (!s->watchdog || !s->turn_end)
        goto err;
    if (cfg->cluster) {
        if (cluster_init(s, cfg->cluster))
            goto err;
    } else {
        if (!(s->nodes = node_of_addr(s, cfg->addr)))
            goto err;
        connect_now(s->nodes);
    }
    every = s->timeout_ms / 4 > 10 ? s->timeout_ms / 4 : 10;
    {
        struct timeval wtv = {every / 1000, (every % 1000) * 1000};
        evtimer_add(s->watchdog, &wtv);
    }
    return s;
err:
    s->freeing = 1;
    cluster_free(s);
    while (s->nodes)
        node_free(s->nodes);
    if (s->watchdog)
        event_free(s->watchdog);
    if (s->turn_end)
        event_free(s->turn_end);
    free(s);
    return NULL;
}

void store_free(store *s)
{
    if (!s)
        return;
    s->freeing = 1;
    /* Commits not sent yet are answered first, then commands in flight, then those parked. */
    store_commit_drop(s, "redis connection closed");
    store_sums_drop(s);
    for (node *n = s->nodes; n; n = n->next)
        if (n->ac) {
            redisAsyncContext *ac = n->ac;
            n->ac = NULL;
            n->state = CONN_DOWN;
            redisAsyncFree(ac);
        }
    cluster_free(s);
    while (s->nodes)
        node_free(s->nodes);
    event_free(s->watchdog);
    event_free(s->turn_end);
    free(s);
}

int store_ready(const store *s)
{
    if (s->cl)
        return cluster_ready(s);
    return s->nodes->state == CONN_READY;
}

static void unlink_pending(node *n, pending *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        n->oldest = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        n->newest = p->prev;
    p->prev = p->next = NULL;
    p->n = NULL;
}

static void link_pending(node *n, pending *p)
{
    p->n = n;
    p->sent_ms = pc_mono_ms();
    clock_gettime(CLOCK_MONOTONIC, &p->sent);
    p->prev = n->newest;
    p->next = NULL;
    if (n->newest)
        n->newest->next = p;
    else
        n->oldest = p;
    n->newest = p;
}

static void on_reply(redisAsyncContext *ac, void *r, void *priv);

int store_node_send(node *n, pending *p)
{
    if (n->state != CONN_READY || !n->ac)
        return -1;
    if (p->ask == n && redisAsyncCommand(n->ac, NULL, NULL, "ASKING") != REDIS_OK)
        return -1;
    p->ask = NULL;
    link_pending(n, p);
    if (redisAsyncFormattedCommand(n->ac, on_reply, p, p->resp, p->resp_len) == REDIS_OK)
        return 0;
    unlink_pending(n, p);
    return -1;
}

/*
 * Redis lost the scripts (SCRIPT FLUSH, a restarted or failed-over server
 * that kept our connection): load them again and send the same EVALSHA once
 * more behind them. NOSCRIPT means the script did not run, so this is safe.
 * 1 when p was sent again (its callback will come), 0 otherwise.
 */
static int resend_after_noscript(node *n, pending *p, const redisReply *reply)
{
    if (p->resent || strncmp(reply->str, "NOSCRIPT", 8) != 0 || !n->ac || n->state != CONN_READY)
        return 0;
    pc_log(PC_LOG_WARN, "redis: scripts missing (NOSCRIPT); loading them again");
    load_scripts(n);
    p->resent = 1;
    return store_node_send(n, p) == 0;
}

/* Retryable states of a reachable Redis: the same call later will do. */
static int retryable(const char *msg)
{
    static const char *const words[] = {"NOSCRIPT",    "LOADING",  "BUSY",
                                        "MASTERDOWN",  "TRYAGAIN", "READONLY",
                                        "CLUSTERDOWN", "MOVED",    "ASK"};
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

void store_reply_error(const redisReply *r, const char *op, store_error *e)
{
    classify(r, NULL, op, e);
    if (e->status == STORE_FAILED)
        pc_log(PC_LOG_ERROR, "redis: %s: %s", op, e->message);
    else if (e->status == STORE_FULL)
        pc_log(PC_LOG_WARN, "redis: %s: %s", op, e->message);
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

void store_pending_finish(pending *p, redisReply *reply, const char *errtext)
{
    if (!p->done) {
        p->done = 1;
        if (!reply || reply->type == REDIS_REPLY_ERROR)
            p->s->stats.errors++;
        answer(&p->w, reply, errtext);
    }
    if (p->wait)
        event_free(p->wait);
    free(p->resp);
    free(p);
}

static void on_reply(redisAsyncContext *ac, void *r, void *priv)
{
    pending *p = priv;
    redisReply *reply = r;
    node *n = p->n;
    store *s = p->s;

    unlink_pending(n, p);
    if (reply)
        count_latency(s, p);
    if (reply && reply->type == REDIS_REPLY_ERROR && !p->done && !s->freeing &&
        (resend_after_noscript(n, p, reply) || (s->cl && cluster_on_error(s, p, reply))))
        return;
    store_pending_finish(p, reply, reply ? NULL : "redis connection lost");
}

/*
 * Replies come back in the order commands were sent, so the oldest command in
 * flight on a node is the only one there that can be late. One timer per
 * store looks at each node's oldest, instead of a timer per command.
 */
static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
    store *s = arg;
    node *n = s->nodes, *next;

    for (; n; n = next) {
        pending *p = n->oldest;
        waiter w;
        char ms[24];
        next = n->next;
        if (!p || p->done || pc_mono_ms() - p->sent_ms < s->timeout_ms || !n->ac)
            continue;
        w = p->w;
        p->done = 1;
        s->stats.timeouts++;
        snprintf(ms, sizeof ms, "%d", s->timeout_ms);
        if (s->cl)
            pc_log_event(PC_LOG_WARN, "redis_timeout", "node", n->host, "timeout_ms", ms, "action",
                         "reconnect", PC_LOG_END);
        else
            pc_log_event(PC_LOG_WARN, "redis_timeout", "timeout_ms", ms, "action", "reconnect",
                         PC_LOG_END);
        /*
         * A Redis that does not answer one command will not answer the next
         * ones: drop the connection so every waiter fails now, and reconnect.
         * This frees p (its hiredis callback runs with NULL), so its waiter
         * was copied first; a removed node is freed too (next was kept).
         */
        redisAsyncFree(n->ac);
        answer(&w, NULL, "redis timeout");
    }
}

/* Appends the decimal digits of v. */
char *store_resp_head(char *d, char type, size_t n)
{
    *d++ = type;
    d += pc_format_int(d, (int64_t)n);
    *d++ = '\r';
    *d++ = '\n';
    return d;
}

/* A pending for w of the command cmd (RESP, len bytes; kept), not sent yet. NULL when out of
 * memory. */
static pending *pending_with(store *s, const waiter *w, char *cmd, size_t len)
{
    pending *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->s = s;
    p->w = *w;
    p->resp = cmd;
    p->resp_len = len;
    p->slot = -1;
    p->deadline_ms = pc_mono_ms() + s->timeout_ms;
    return p;
}

/*
 * Formats the command as RESP ourselves: hiredis's own formatter (sdscatfmt
 * per argument) was the largest single cost of an event. The pending keeps
 * it, to send it again (NOSCRIPT, a redirection).
 */
pending *store_pending_new(store *s, const waiter *w, int argc, const char **argv,
                           const size_t *argvlen)
{
    size_t total = 16, *lens = NULL, stack_lens[64];
    char *cmd = NULL, *d;
    pending *p = NULL;
    lens = argc <= 64 ? stack_lens : malloc(sizeof *lens * (size_t)argc);
    if (!lens)
        goto err;
    for (int i = 0; i < argc; i++) {
        lens[i] = argvlen ? argvlen[i] : strlen(argv[i]);
        total += lens[i] + 32;
    }
    if (!(cmd = malloc(total)))
        goto err;
    d = store_resp_head(cmd, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        d = store_resp_head(d, '$', lens[i]);
        memcpy(d, argv[i], lens[i]);
        d += lens[i];
        *d++ = '\r';
        *d++ = '\n';
    }
    if (!(p = pending_with(s, w, cmd, (size_t)(d - cmd))))
        goto err;
    if (lens != stack_lens)
        free(lens);
    return p;
err:
    if (lens != stack_lens)
        free(lens);
    free(cmd);
    free(p);
    return NULL;
}

/* Sends p: to n, or (n NULL) to the single Redis or the master of key's slot. */
static int route(store *s, node *n, const char *key, size_t keylen, pending *p)
{
    if (!n && s->cl) {
        p->slot = key ? keys_slot(key, keylen) : -1;
        cluster_send(s, p);
        return 0;
    }
    if (!n)
        n = s->nodes;
    if (store_node_send(n, p)) {
        store_pending_finish(p, NULL, "redis unavailable");
        return -1;
    }
    return 0;
}

/*
 * Sends argv for w: to the node given, or (n NULL) to the single Redis or
 * the master of the first key's slot (key, keylen; NULL: any master). w is
 * answered at once when that node is not connected.
 */
static int send_command(store *s, node *n, const char *key, size_t keylen, const waiter *w,
                        int argc, const char **argv, const size_t *argvlen)
{
    pending *p;

    s->stats.commands++;
    if (!(p = store_pending_new(s, w, argc, argv, argvlen))) {
        s->stats.errors++;
        answer(w, NULL, "out of memory");
        return -1;
    }
    return route(s, n, key, keylen, p);
}

void store_send_formatted(store *s, const waiter *w, const char *key, size_t keylen, char *cmd,
                          size_t len)
{
    pending *p = cmd ? pending_with(s, w, cmd, len) : NULL;
    s->stats.commands++;
    if (!p) {
        free(cmd);
        s->stats.errors++;
        answer(w, NULL, "out of memory");
        return;
    }
    route(s, NULL, keylen ? key : NULL, keylen, p);
}

void store_turn_arm(store *s)
{
    if (s->turn_armed)
        return;
    s->turn_armed = 1;
    event_active(s->turn_end, EV_TIMEOUT, 1);
}

static void on_turn_end(evutil_socket_t fd, short what, void *arg)
{
    store *s = arg;
    s->turn_armed = 0;
    store_commit_flush(s);
    store_sums_flush(s);
}

/* EVALSHA script: the digest and the key count go in front of argv. */
static int send_eval(store *s, node *n, const store_script *script, const waiter *w, int nkeys,
                     int argc, const char **argv, const size_t *argvlen)
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
    rc = send_command(s, n, nkeys > 0 ? av[3] : NULL, nkeys > 0 ? al[3] : 0, w, argc + 3, av, al);
    if (av != sargv) {
        free(av);
        free(al);
    }
    return rc;
}

/* Sends to node n, or routes by the first key (n NULL). */
static void send_to(store *s, node *n, const store_script *script, const char *op,
                    store_parse_fn *parse, store_cb cb, void *arg, int nkeys, int argc,
                    const char **argv, const size_t *argvlen)
{
    waiter w = {.parse = parse, .cb = cb, .op = op, .arg = arg};
    if (script)
        send_eval(s, n, script, &w, nkeys, argc, argv, argvlen);
    else
        /* A plain command's first key is its first argument. */
        send_command(s, n, argc > 1 ? argv[1] : NULL,
                     argc > 1 ? (argvlen ? argvlen[1] : strlen(argv[1])) : 0, &w, argc, argv,
                     argvlen);
}

void store_send(store *s, const store_script *script, const char *op, store_parse_fn *parse,
                store_cb cb, void *arg, int nkeys, int argc, const char **argv,
                const size_t *argvlen)
{
    send_to(s, NULL, script, op, parse, cb, arg, nkeys, argc, argv, argvlen);
}

int store_masters(const store *s)
{
    int count = 1;
    if (s->cl)
        cluster_master(s, 0, &count);
    return count;
}

void store_send_master(store *s, int master, const store_script *script, const char *op,
                       store_parse_fn *parse, store_cb cb, void *arg, int nkeys, int argc,
                       const char **argv, const size_t *argvlen)
{
    node *n = s->cl ? cluster_master(s, master, NULL) : s->nodes;
    if (!n) {
        waiter w = {.parse = parse, .cb = cb, .op = op, .arg = arg};
        s->stats.errors++;
        answer(&w, NULL, "redis cluster: no such master (the map changed)");
        return;
    }
    send_to(s, n, script, op, parse, cb, arg, nkeys, argc, argv, argvlen);
}

int store_shards(const store *s)
{
    return s->cl ? KEYS_CLUSTER_SHARDS : 1;
}

int store_any_shard(store *s)
{
    return s->cl ? (int)(s->spread++ % KEYS_CLUSTER_SHARDS) : 0;
}

void store_get_stats(const store *s, store_stats *out)
{
    *out = s->stats;
}

struct event_base *store_base(const store *s)
{
    return s->base;
}
