/*
 * Redis Cluster routing under store_send() (conn-internal.h): the slot map
 * read from CLUSTER SLOTS, one connection per master (store.c's nodes), and
 * what the cluster answers when a command reached the wrong node or a node
 * that cannot serve it now:
 *
 *  - MOVED slot host:port   the slot lives there now: the map takes it at once
 *                           and is read again whole (throttled); the command
 *                           goes there;
 *  - ASK slot host:port     the slot is being migrated and this key is there
 *                           already: the command goes there once, behind
 *                           ASKING, and the map is left alone;
 *  - TRYAGAIN, CLUSTERDOWN  a migration half-way through a multi-key command,
 *                           or a failover under way: the command is parked and
 *                           sent again with backoff, until its deadline (the
 *                           store's command timeout from its first send), then
 *                           answered STORE_UNAVAILABLE (503).
 *
 * A command for a slot whose master is not connected is answered
 * STORE_UNAVAILABLE at once, like a command to a single Redis that is down;
 * a lost master fails what waited on it the same way (store.c), and while
 * any master is down the map is read again every REFRESH_EVERY_MS, so the
 * replica that takes over is found as soon as the cluster has promoted it.
 */
#include "conn-internal.h"
#include "keys-internal.h"
#include "punchcard/common.h"

#include <stdlib.h>
#include <string.h>

#define SLOTS            16384
#define REFRESH_EVERY_MS 100 /* the map is read at most this often */
#define MAX_HOPS         16  /* redirections and retries one command follows */

struct cluster {
    node *map[SLOTS];
    char **seeds; /* "host:port", to start from when no node is left */
    int nseeds;
    int refreshing; /* a CLUSTER SLOTS is in flight */
    int64_t last_refresh_ms;
    struct event *refresh_timer;
    pending *parked; /* commands waiting to be sent again (linked by next/prev) */
    unsigned rr;     /* which node to ask for the map next */
    int complete;    /* every slot has a master */
    char asked[256]; /* the host the map was asked of (an empty ip in the answer means it) */
};

static void refresh_soon(store *s);
static void on_refresh(evutil_socket_t fd, short what, void *arg);

static node *find_node(const store *s, const char *host, int port)
{
    for (node *n = s->nodes; n; n = n->next)
        if (!n->removed && n->host && n->port == port && strcmp(n->host, host) == 0)
            return n;
    return NULL;
}

static node *find_or_add(store *s, const char *host, int port)
{
    node *n = find_node(s, host, port);
    return n ? n : store_node_new(s, host, port);
}

/* host:port into host (room len) and *port; -1 when malformed. */
static int split_addr(const char *addr, size_t alen, char *host, size_t len, int *port)
{
    const char *colon = NULL;
    char num[8];
    size_t hl, pl;
    for (size_t i = 0; i < alen; i++)
        if (addr[i] == ':')
            colon = addr + i;
    if (!colon)
        return -1;
    hl = (size_t)(colon - addr);
    pl = alen - hl - 1;
    if (hl == 0 || hl >= len || pl == 0 || pl >= sizeof num)
        return -1;
    memcpy(host, addr, hl);
    host[hl] = '\0';
    memcpy(num, colon + 1, pl);
    num[pl] = '\0';
    *port = atoi(num);
    return *port > 0 && *port <= 65535 ? 0 : -1;
}

/* Connects to every seed that has no node yet. */
static void add_seeds(store *s)
{
    for (int i = 0; i < s->cl->nseeds; i++) {
        char host[256];
        int port;
        if (!split_addr(s->cl->seeds[i], strlen(s->cl->seeds[i]), host, sizeof host, &port))
            find_or_add(s, host, port);
    }
}

int cluster_init(store *s, const char *seeds)
{
    cluster *cl = calloc(1, sizeof *cl);
    const char *at = seeds;
    if (!cl)
        return -1;
    s->cl = cl;
    if (!(cl->refresh_timer = evtimer_new(s->base, on_refresh, s)))
        return -1;
    while (*at) {
        size_t len = strcspn(at, ",");
        char host[256], **more;
        int port;
        if (len && split_addr(at, len, host, sizeof host, &port))
            return -1;
        if (len) {
            if (!(more = realloc(cl->seeds, sizeof *more * (size_t)(cl->nseeds + 1))))
                return -1;
            cl->seeds = more;
            if (!(cl->seeds[cl->nseeds] = strndup(at, len)))
                return -1;
            cl->nseeds++;
        }
        at += len + (at[len] == ',');
    }
    if (!cl->nseeds)
        return -1;
    add_seeds(s);
    return 0;
}

void cluster_free(store *s)
{
    cluster *cl = s->cl;
    if (!cl)
        return;
    while (cl->parked) {
        pending *p = cl->parked;
        cl->parked = p->next;
        store_pending_finish(p, NULL, "redis unavailable");
    }
    if (cl->refresh_timer)
        event_free(cl->refresh_timer);
    for (int i = 0; i < cl->nseeds; i++)
        free(cl->seeds[i]);
    free(cl->seeds);
    free(cl);
    s->cl = NULL;
}

int cluster_ready(const store *s)
{
    if (!s->cl->complete)
        return 0;
    for (const node *n = s->nodes; n; n = n->next)
        if (n->slots > 0 && !n->removed && n->state != CONN_READY)
            return 0;
    return 1;
}

node *cluster_master(const store *s, int i, int *count)
{
    const cluster *cl = s->cl;
    const node *seen[64] = {0};
    node *found = NULL;
    int k = 0;
    /* In slot order: each master once, at the first slot it serves. */
    for (int slot = 0; slot < SLOTS; slot++) {
        node *n = cl->map[slot];
        int known = 0;
        if (!n || (slot > 0 && cl->map[slot - 1] == n))
            continue;
        for (int j = 0; j < k && j < 64 && !known; j++)
            known = seen[j] == n;
        if (known)
            continue;
        if (k < 64)
            seen[k] = n;
        if (k == i)
            found = n;
        k++;
    }
    if (count)
        *count = k;
    return found;
}

/* ---- parked commands ---- */

static void unpark(cluster *cl, pending *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        cl->parked = p->next;
    if (p->next)
        p->next->prev = p->prev;
    p->prev = p->next = NULL;
}

static void on_parked(evutil_socket_t fd, short what, void *arg)
{
    pending *p = arg;
    store *s = p->s;
    unpark(s->cl, p);
    if (pc_mono_ms() >= p->deadline_ms) {
        store_pending_finish(p, NULL, p->why);
        return;
    }
    cluster_send(s, p);
}

/*
 * Parks p to be sent again after a backoff (10, 20, 40 ... ms, capped at
 * 200, never past its deadline); answered STORE_UNAVAILABLE (why) when it
 * cannot wait.
 */
static void park(store *s, pending *p, const char *why)
{
    int64_t now = pc_mono_ms(), wait = 10;
    struct timeval tv;
    for (int i = 0; i < p->hops && wait < 200; i++)
        wait *= 2;
    if (wait > 200)
        wait = 200;
    p->why = why;
    if (s->freeing || p->hops++ >= MAX_HOPS || now >= p->deadline_ms ||
        (!p->wait && !(p->wait = evtimer_new(s->base, on_parked, p)))) {
        store_pending_finish(p, NULL, why);
        return;
    }
    if (now + wait > p->deadline_ms)
        wait = p->deadline_ms - now;
    tv.tv_sec = (long)(wait / 1000);
    tv.tv_usec = (long)(wait % 1000) * 1000;
    p->next = s->cl->parked;
    p->prev = NULL;
    if (p->next)
        p->next->prev = p;
    s->cl->parked = p;
    evtimer_add(p->wait, &tv);
}

/* ---- routing ---- */

/* Any connected node (for the map, or a command with no key), round robin. */
static node *any_ready(store *s)
{
    int count = 0, k = 0;
    for (node *n = s->nodes; n; n = n->next)
        count += !n->removed && n->state == CONN_READY;
    if (!count)
        return NULL;
    k = (int)(s->cl->rr++ % (unsigned)count);
    for (node *n = s->nodes; n; n = n->next)
        if (!n->removed && n->state == CONN_READY && k-- == 0)
            return n;
    return NULL;
}

void cluster_send(store *s, pending *p)
{
    node *n;
    if (s->freeing) {
        store_pending_finish(p, NULL, "redis unavailable");
        return;
    }
    n = p->ask ? p->ask : p->slot >= 0 ? s->cl->map[p->slot] : any_ready(s);
    if (n && !store_node_send(n, p))
        return;
    refresh_soon(s);
    /* A first send is answered now, as on a single Redis; a redirected one waits a little. */
    if (p->hops > 0)
        park(s, p, "redis cluster: the slot's master is not connected");
    else
        store_pending_finish(p, NULL, "redis unavailable");
}

int cluster_on_error(store *s, pending *p, const redisReply *reply)
{
    const char *m = reply->str;
    int ask = strncmp(m, "ASK ", 4) == 0;
    if (ask || strncmp(m, "MOVED ", 6) == 0) {
        char *end;
        const char *addr;
        long slot = strtol(m + (ask ? 4 : 6), &end, 10);
        char host[256];
        int port;
        node *n;
        addr = *end == ' ' ? end + 1 : NULL;
        if (!addr || slot < 0 || slot >= SLOTS ||
            split_addr(addr, strlen(addr), host, sizeof host, &port) || p->hops >= MAX_HOPS)
            return 0;
        if (!(n = find_or_add(s, host, port)))
            return 0;
        p->hops++;
        if (ask) {
            p->ask = n;
        } else {
            node *old = s->cl->map[slot];
            if (old != n) {
                if (old)
                    old->slots--;
                n->slots++;
                s->cl->map[slot] = n;
            }
            refresh_soon(s);
        }
        if (n->state == CONN_READY && !store_node_send(n, p))
            return 1;
        p->ask = NULL; /* not connected yet: ask the slot's owner again later */
        park(s, p, "redis cluster: a redirection's node is not connected");
        return 1;
    }
    if (strncmp(m, "TRYAGAIN", 8) == 0 || strncmp(m, "CLUSTERDOWN", 11) == 0) {
        if (m[0] == 'C')
            refresh_soon(s);
        park(s, p,
             m[0] == 'T' ? "redis cluster: TRYAGAIN past the command timeout"
                         : "redis cluster: CLUSTERDOWN past the command timeout");
        return 1;
    }
    return 0;
}

/* ---- the slot map ---- */

/* An element of CLUSTER SLOTS's node entry: [ip, port, id, ...]. */
static int node_entry(const redisReply *e, const char *asked, char *host, size_t len, int *port)
{
    const char *ip;
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
        e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_INTEGER)
        return -1;
    /* An empty ip means "the address you reached me at". */
    ip = e->element[0]->len ? e->element[0]->str : asked;
    if (!ip || strlen(ip) >= len)
        return -1;
    strcpy(host, ip);
    *port = (int)e->element[1]->integer;
    return 0;
}

/*
 * The answer to CLUSTER SLOTS: the new map. Masters no longer in it are
 * closed (their commands in flight still get their replies); new ones are
 * connected.
 */
static void on_slots(redisReply *r, const store_error *err, const char *op, store_cb cb, void *arg)
{
    store *s = arg;
    cluster *cl = s->cl;
    int covered = 0;
    node *n, *next;

    if (s->freeing)
        return;
    cl->refreshing = 0;
    if (err || r->type != REDIS_REPLY_ARRAY) {
        if (!err)
            pc_log(PC_LOG_WARN, "redis cluster: CLUSTER SLOTS: unexpected reply");
        refresh_soon(s);
        return;
    }
    memset(cl->map, 0, sizeof cl->map);
    for (n = s->nodes; n; n = n->next)
        n->slots = 0;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        char host[256];
        int port;
        long long from, to;
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER ||
            node_entry(e->element[2], cl->asked, host, sizeof host, &port))
            continue;
        from = e->element[0]->integer;
        to = e->element[1]->integer;
        if (from < 0 || to >= SLOTS || from > to || !(n = find_or_add(s, host, port)))
            continue;
        for (long long slot = from; slot <= to; slot++) {
            covered += !cl->map[slot];
            cl->map[slot] = n;
        }
        n->slots += (int)(to - from + 1);
    }
    cl->complete = covered == SLOTS;
    for (n = s->nodes; n; n = next) {
        next = n->next;
        if (!n->slots && !n->removed && covered)
            store_node_remove(n); /* may free n */
    }
    if (!cluster_ready(s))
        refresh_soon(s);
}

static void on_refresh(evutil_socket_t fd, short what, void *arg)
{
    store *s = arg;
    cluster *cl = s->cl;
    node *n;
    waiter w = {.parse = on_slots, .cb = (store_cb)on_refresh, .op = "cluster_slots"};
    const char *argv[2] = {"CLUSTER", "SLOTS"};
    pending *p;

    if (cl->refreshing)
        return;
    if (!(n = any_ready(s))) {
        add_seeds(s); /* nobody to ask: start from the seeds again */
        refresh_soon(s);
        return;
    }
    w.arg = s;
    snprintf(cl->asked, sizeof cl->asked, "%s", n->host ? n->host : "");
    if (!(p = store_pending_new(s, &w, 2, argv, NULL)))
        return;
    cl->refreshing = 1;
    cl->last_refresh_ms = pc_mono_ms();
    if (store_node_send(n, p)) {
        cl->refreshing = 0;
        store_pending_finish(p, NULL, "redis unavailable"); /* on_slots asks again */
    }
}

/* Reads the map again, at most once per REFRESH_EVERY_MS. */
static void refresh_soon(store *s)
{
    cluster *cl = s->cl;
    int64_t wait = cl->last_refresh_ms + REFRESH_EVERY_MS - pc_mono_ms();
    struct timeval tv;
    if (s->freeing || evtimer_pending(cl->refresh_timer, NULL))
        return;
    if (wait < 0)
        wait = 0;
    tv.tv_sec = (long)(wait / 1000);
    tv.tv_usec = (long)(wait % 1000) * 1000;
    evtimer_add(cl->refresh_timer, &tv);
}

void cluster_node_changed(store *s, node *n)
{
    /* The first node up reads the map; a node lost or back has it read again. */
    if (!s->cl->complete || !n || !cluster_ready(s))
        refresh_soon(s);
}
