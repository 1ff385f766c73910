/*
 * The HTTP connections of punchd (server-internal.h): caps on how many are
 * open (in all, and per peer address, across every worker), and a deadline
 * for a request to arrive whole. evhttp's own timeout starts again with
 * every byte read, so a client sending one byte a second (slowloris) would
 * hold its connection for ever; here the clock starts at a request's first
 * byte (or the connection's opening) and does not start again until the
 * request is in.
 *
 * libevent 2.1 tells nobody about a new connection; evhttp asks for its
 * bufferevent (evhttp_set_bevcb), and this file makes it, then adopts the
 * connection right after evhttp has set it up (an event made active in that
 * same callback runs before any of the connection's I/O).
 */
#include "server-internal.h"
#include "common/jsonw-internal.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <search.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PEER_BUCKETS 4096

struct conn {
    server *s;
    struct bufferevent *bev; /* evhttp's; the tree's key */
    struct evhttp_connection *evcon;
    struct event *adopt, *deadline;
    struct evbuffer_cb_entry *watch;
    unsigned char addr[16]; /* the peer's address (IPv4 in the first 4 bytes) */
    int family;             /* AF_INET, AF_INET6, or 0: not counted per peer */
    int counted;            /* in the open count */
    int reading;            /* a request is on its way: the deadline runs */
};

/* Process-wide: the caps, the counts, the figures for /metrics. */
typedef struct peer {
    struct peer *next;
    int family;
    unsigned char addr[16];
    int open;
} peer;

static int max_open, max_per_peer;
static atomic_long open_now;
static atomic_ulong refused_total, refused_peer, timeouts;
static peer *peers[PEER_BUCKETS];
static pthread_mutex_t peers_lock = PTHREAD_MUTEX_INITIALIZER;

void conns_configure(int max_connections, int max_per_ip)
{
    max_open = max_connections;
    max_per_peer = max_per_ip;
}

void conns_figures(conns_stats *out)
{
    out->open = (uint64_t)atomic_load(&open_now);
    out->refused_total = atomic_load(&refused_total);
    out->refused_per_ip = atomic_load(&refused_peer);
    out->request_timeouts = atomic_load(&timeouts);
}

static unsigned peer_hash(int family, const unsigned char *addr)
{
    unsigned h = 2166136261u;
    for (int i = 0; i < (family == AF_INET ? 4 : 16); i++)
        h = (h ^ addr[i]) * 16777619u;
    return h % PEER_BUCKETS;
}

/* Counts one more (delta 1) or one fewer (-1) connection of the peer; 0, or -1 over the cap. */
static int peer_count(int family, const unsigned char *addr, int delta)
{
    peer **at, *p;
    int rc = 0;
    pthread_mutex_lock(&peers_lock);
    at = &peers[peer_hash(family, addr)];
    while ((p = *at) && (p->family != family || memcmp(p->addr, addr, 16)))
        at = &p->next;
    if (!p && delta > 0 && (p = calloc(1, sizeof *p))) {
        p->family = family;
        memcpy(p->addr, addr, 16);
        *at = p;
    }
    if (p) {
        p->open += delta;
        if (delta > 0 && max_per_peer > 0 && p->open > max_per_peer)
            rc = -1;
        if (p->open <= 0) {
            *at = p->next;
            free(p);
        }
    }
    pthread_mutex_unlock(&peers_lock);
    return rc;
}

static int by_bev(const void *a, const void *b)
{
    const struct bufferevent *x = ((const conn *)a)->bev, *y = ((const conn *)b)->bev;
    return x < y ? -1 : x > y;
}

/* The counts of c go; c itself stays (its caller frees it). */
static void uncount(conn *c)
{
    if (c->counted)
        atomic_fetch_sub(&open_now, 1);
    if (c->counted && c->family)
        peer_count(c->family, c->addr, -1);
    c->counted = 0;
}

static void conn_free(conn *c)
{
    uncount(c);
    if (c->adopt)
        event_free(c->adopt);
    if (c->deadline)
        event_free(c->deadline);
    free(c);
}

/* evhttp closes the connection (the closecb): c goes with it. */
static void on_close(struct evhttp_connection *evcon, void *arg)
{
    conn *c = arg;
    if (c->watch)
        evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->watch);
    tdelete(c, &c->s->conns, by_bev);
    conn_free(c);
}

static void start_deadline(conn *c)
{
    struct timeval tv = {c->s->cfg.request_timeout_ms / 1000,
                         (c->s->cfg.request_timeout_ms % 1000) * 1000};
    c->reading = 1;
    evtimer_add(c->deadline, &tv);
}

/* Bytes came in: the first of a request starts its clock; later ones do not restart it. */
static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    conn *c = arg;
    if (info->n_added && !c->reading && c->s->cfg.request_timeout_ms > 0)
        start_deadline(c);
}

/*
 * The request did not arrive whole in time: the connection is closed as
 * evhttp closes one that timed out (no answer: the request never ended).
 * c may be freed by the time this returns.
 */
static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    conn *c = arg;
    if (!c->reading)
        return;
    atomic_fetch_add(&timeouts, 1);
    pc_log(PC_LOG_DEBUG, "a request did not arrive whole within %d ms: connection closed",
           c->s->cfg.request_timeout_ms);
    bufferevent_trigger_event(c->bev, BEV_EVENT_READING | BEV_EVENT_TIMEOUT, 0);
}

/* Written to a connection refused at the cap, before it is closed. */
static void refuse(conn *c, const char *why)
{
    pc_error err;
    json_t *j;
    char *text, head[256];
    int fd = (int)bufferevent_getfd(c->bev), n;
    pc_fail(&err, 503, "too_many_connections", "%s; retry later", why);
    j = pc_error_json(&err);
    text = j ? pc_json_dump(j, NULL) : NULL;
    json_decref(j);
    if (text && fd >= 0) {
        n = snprintf(head, sizeof head,
                     "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                     "Retry-After: 1\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n",
                     strlen(text) + 1);
        /* Best effort: a fresh connection's send buffer is empty. */
        if (send(fd, head, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) == n &&
            send(fd, text, strlen(text), MSG_DONTWAIT | MSG_NOSIGNAL) > 0)
            send(fd, "\n", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    free(text);
}

/* Right after evhttp set the connection up: count it, cap it, start its clock. */
static void on_adopt(evutil_socket_t unused, short what, void *arg)
{
    conn *c = arg;
    bufferevent_data_cb rcb, wcb;
    bufferevent_event_cb ecb;
    void *evcon = NULL;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd, over_total, over_peer = 0;

    bufferevent_getcb(c->bev, &rcb, &wcb, &ecb, &evcon);
    fd = (int)bufferevent_getfd(c->bev);
    if (!evcon || fd < 0) { /* not evhttp's after all: leave it alone */
        tdelete(c, &c->s->conns, by_bev);
        conn_free(c);
        return;
    }
    c->evcon = evcon;
    evhttp_connection_set_closecb(c->evcon, on_close, c);
    if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            c->family = AF_INET;
            memcpy(c->addr, &((struct sockaddr_in *)&ss)->sin_addr, 4);
        } else if (ss.ss_family == AF_INET6) {
            c->family = AF_INET6;
            memcpy(c->addr, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
        }
    }
    if (c->family) {
        /*
         * An answer goes out as soon as it is written. Without this, an answer
         * longer than one write of the bufferevent (16 KiB: a batch's) waits
         * for the client's delayed ACK of its first part, 40 ms on Linux.
         */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    c->counted = 1;
    over_total = max_open > 0 && atomic_fetch_add(&open_now, 1) + 1 > max_open;
    if (!over_total && c->family)
        over_peer = peer_count(c->family, c->addr, 1) < 0;
    else if (c->family)
        peer_count(c->family, c->addr, 1); /* uncount() takes it off again */
    if (over_total || over_peer) {
        atomic_fetch_add(over_peer ? &refused_peer : &refused_total, 1);
        refuse(c, over_peer ? "too many connections from this address (--max-connections-per-ip)"
                            : "too many connections (--max-connections)");
        evhttp_connection_free(c->evcon); /* on_close() frees c */
        return;
    }
    c->watch = evbuffer_add_cb(bufferevent_get_input(c->bev), on_input, c);
    if (c->s->cfg.request_timeout_ms > 0)
        start_deadline(c); /* a connection that sends nothing is held to it too */
}

/* evhttp's bevcb: the bufferevent of a connection just accepted (fd not set yet). */
static struct bufferevent *on_new_connection(struct event_base *base, void *arg)
{
    server *s = arg;
    conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL; /* evhttp makes its own: this one goes uncounted */
    c->s = s;
    c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    c->adopt = event_new(base, -1, 0, on_adopt, c);
    c->deadline = evtimer_new(base, on_deadline, c);
    if (!c->bev || !c->adopt || !c->deadline || !tsearch(c, &s->conns, by_bev)) {
        if (c->bev)
            bufferevent_free(c->bev);
        c->bev = NULL;
        conn_free(c);
        return NULL;
    }
    event_active(c->adopt, 0, 0);
    return c->bev;
}

void conns_attach(server *s)
{
    evhttp_set_bevcb(s->http, on_new_connection, s);
}

void conns_request_in(server *s, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    conn key = {0}, **found;
    if (!evcon)
        return;
    key.bev = evhttp_connection_get_bufferevent(evcon);
    if ((found = tfind(&key, &s->conns, by_bev))) {
        (*found)->reading = 0;
        evtimer_del((*found)->deadline);
    }
}

/* For tdestroy: a connection evhttp_free() is about to close, unknown to us from now on. */
static void forget(void *arg)
{
    conn *c = arg;
    if (c->evcon)
        evhttp_connection_set_closecb(c->evcon, NULL, NULL);
    if (c->watch)
        evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->watch);
    conn_free(c);
}

void conns_detach(server *s)
{
    tdestroy(s->conns, forget);
    s->conns = NULL;
    evhttp_set_bevcb(s->http, NULL, NULL);
}
