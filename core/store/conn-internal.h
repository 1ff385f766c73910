/*
 * Private to core/store: the connections under store_send() (store.c) and
 * the Redis Cluster routing on top of them (cluster.c).
 *
 * A store holds one node (a hiredis async connection) for a single Redis, or
 * one per master of a Redis Cluster plus the slot map that routes each
 * command by its first key. A command in flight is a pending: it belongs to
 * the node it was sent on (node->oldest .. newest, in send order), or, while
 * it waits to be sent again after TRYAGAIN / CLUSTERDOWN or a redirection to
 * a node still connecting, to the cluster's parked list.
 */
#ifndef PUNCHCARD_STORE_CONN_INTERNAL_H
#define PUNCHCARD_STORE_CONN_INTERNAL_H

#include "store-internal.h"

#include <event2/event.h>
#include <hiredis/async.h>
#include <time.h>

enum conn_state { CONN_DOWN, CONN_CONNECTING, CONN_READY };

/* Who waits for a reply: an operation's parser and typed callback. */
typedef struct waiter {
    store_parse_fn *parse;
    store_cb cb; /* NULL: nobody waits (fire and forget) */
    const char *op;
    void *arg;
} waiter;

typedef struct pending pending;
typedef struct cluster cluster;
typedef struct commit_group commit_group;
typedef struct store_sums store_sums;

/* One connection, to the single Redis or to one cluster node. */
typedef struct node {
    store *s;
    char *host; /* NULL for a Unix socket */
    char *path;
    int port;
    redisAsyncContext *ac;
    enum conn_state state;
    struct event *retry_timer;       /* reconnect after backoff */
    struct event *connect_timer;     /* connect timeout */
    struct pending *oldest, *newest; /* commands in flight here, in the order they were sent */
    int backoff_ms;
    int slots;   /* cluster: how many slots the map gives this node */
    int removed; /* cluster: out of the map; freed once its connection is gone */
    struct node *next;
} node;

/* One command in flight, or parked until it can be sent again. */
struct pending {
    store *s;
    node *n; /* the node it waits on, NULL while parked */
    waiter w;
    int64_t sent_ms;      /* when it was sent on n */
    struct timespec sent; /* the same, for the latency histogram */
    int64_t deadline_ms;  /* cluster: no retry or redirection past this (first send + timeout) */
    pending *prev, *next; /* n's in-flight list, or the parked list */
    int done;             /* the waiter was answered already (by the watchdog) */
    char *resp;           /* the command as sent (owned), to send it again */
    size_t resp_len;
    int resent;         /* sent again after NOSCRIPT once already */
    int slot;           /* cluster: the slot of its first key; -1: pinned to its node */
    int hops;           /* cluster: redirections and retries followed */
    node *ask;          /* cluster: send once to this node behind ASKING */
    struct event *wait; /* cluster: the timer of a parked command */
    const char *why;    /* cluster: why it is parked (answered when its deadline passes) */
};

#define STORE_CATALOG_SEEN 128

struct store {
    struct event_base *base;
    int timeout_ms;
    node *nodes; /* every connection; exactly one for a single Redis */
    cluster *cl; /* NULL for a single Redis */
    struct event *watchdog;
    int freeing;
    unsigned spread; /* the next shard of store_any_shard() */
    store_stats stats;
    /* The catalogue names this connection listed already (ops_catalog.c): digests. */
    uint64_t catalog_seen[STORE_CATALOG_SEEN];
    int catalog_n;
    /* Deferred to the end of the loop's turn (store_turn_arm()). */
    struct event *turn_end;
    int turn_armed;
    commit_group *group; /* the commits of this turn, not sent yet (ops_commit.c) */
    store_sums *sums;    /* HINCRBYs of this turn, summed (ops_effect.c) */
};

/* ---- store.c, for cluster.c ---- */

/* A new node on host:port, connecting at once; NULL on out of memory. */
node *store_node_new(store *s, const char *host, int port);
/* Takes n out of use: closed now, or once the replies it waits for came; then freed. */
void store_node_remove(node *n);
/* Sends p's command on n (ASKING first when p->ask == n). 0, or -1 (not sent, p untouched). */
int store_node_send(node *n, pending *p);
/* Answers p (reply, or errtext without one) unless done, and frees it. */
void store_pending_finish(pending *p, redisReply *reply, const char *errtext);
/* A new pending for w with the command formatted from argv; NULL on out of memory. */
pending *store_pending_new(store *s, const waiter *w, int argc, const char **argv,
                           const size_t *argvlen);

/* Writes a RESP header at d: type ('*' an array's count, '$' a bulk string's length), n, CRLF.
 * Returns its end (at most 23 bytes on). */
char *store_resp_head(char *d, char type, size_t n);

/*
 * Sends the command cmd (RESP, len bytes, owned: freed with the command) for
 * w: to the single Redis, or to the master of key's slot (keylen 0: any).
 */
void store_send_formatted(store *s, const waiter *w, const char *key, size_t keylen, char *cmd,
                          size_t len);

/* ---- ops_commit.c, ops_effect.c: the turn's deferred work ---- */

/* Sends the open commit group, if any. */
void store_commit_flush(store *s);
/* Answers every commit of the open group STORE_UNAVAILABLE (why) unsent: the store closes. */
void store_commit_drop(store *s, const char *why);
/* Sends the figures summed in this turn (one HINCRBY per key and field). */
void store_sums_flush(store *s);
/* Forgets them (the store closes). */
void store_sums_drop(store *s);

/* ---- cluster.c ---- */

/* The cluster of seeds ("host:port,host:port..."): 0, or -1 on a bad list. */
int cluster_init(store *s, const char *seeds);
void cluster_free(store *s);
/* 1 when every slot has a master and every master is connected. */
int cluster_ready(const store *s);
/* Sends p to the master of p->slot; answered 503 when that master is not connected. */
void cluster_send(store *s, pending *p);
/* A reply that is a redirection or a retryable cluster state: 1 when p was taken. */
int cluster_on_error(store *s, pending *p, const redisReply *reply);
/* A node connected or was lost: the map is looked at again (throttled). */
void cluster_node_changed(store *s, node *n);
/* The i-th master by slot order, or NULL; *count: how many there are. */
node *cluster_master(const store *s, int i, int *count);

#endif
