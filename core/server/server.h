/*
 * punchd's HTTP front (evhttp): one server per worker loop. Routes, auth,
 * limits, JSON in and out; errors rendered once, here. The server speaks to
 * the engine only: main.c, which creates the store, hands it the engine.
 */
#ifndef PUNCHCARD_SERVER_H
#define PUNCHCARD_SERVER_H

#include "punchcard/engine.h"

#include <event2/http.h>
#include <stdint.h>

struct apikeys;
struct store_stats;

typedef struct server_config {
    size_t max_body;        /* bytes; larger bodies get 413 */
    size_t max_batch_body;  /* bytes, for POST /v1/events/batch; 0 = 4 MiB */
    int64_t max_future_ms;  /* how far ahead of now an event's "at" may be; 0 = one day */
    int request_timeout_ms; /* a request must arrive whole this soon after its first byte; 0: no
                               limit */
    struct apikeys *keys; /* when it has keys, /v1/ wants one (apikeys.h); borrowed, may be NULL */
    /* The Redis figures of /metrics: every worker's summed (NULL: this worker's engine's). */
    void (*redis_stats)(struct store_stats *out);
} server_config;

typedef struct server_stats {
    uint64_t requests, events, duplicates, status_2xx, status_4xx, status_5xx, inflight;
} server_stats;

typedef struct server server;

/*
 * Serves on http with engine e and mechanics h (all borrowed: they must
 * outlive the server). NULL when out of memory.
 */
server *server_new(struct event_base *base, struct evhttp *http, engine *e, mech_holder *h,
                   const server_config *cfg);

/*
 * Gives up the requests still waiting on the engine: none of them is answered
 * and no later engine answer touches them, so http may be freed next, then
 * the store (which fires what it still holds) and the engine. Frees s.
 */
void server_free(server *s);

/*
 * conns.c, process-wide: how many HTTP connections may be open at once, in
 * all and from one peer address (0: no cap). Set before the workers start.
 */
void conns_configure(int max_connections, int max_per_ip);

typedef struct conns_stats {
    uint64_t open, refused_total, refused_per_ip, request_timeouts;
} conns_stats;

/* The connections' figures for /metrics. */
void conns_figures(conns_stats *out);

/* Answers new requests with 503 from now on; returns the number still in flight. */
uint64_t server_drain(server *s);

/*
 * listen.c: the listening sockets.
 *
 * listen_claim() makes this process the only punchd on the TCP address
 * "HOST:PORT" (its workers share it with SO_REUSEPORT): -1 (logged) when
 * another punchd, or any other program, listens there. Port 0 claims nothing.
 */
int listen_claim(const char *listen);

/* A listener on listen (port_override > 0 replaces its port); the port bound in *port_out. */
struct evconnlistener;
struct evconnlistener *listen_tcp(struct event_base *base, const char *listen, int port_override,
                                  int *port_out);

/* HTTP on the Unix socket path as well, watched as listen_watch() does. 0, or -1 (logged). */
int listen_unix(struct evhttp *http, const char *path);

/*
 * When accept() fails (a full fd table), l pauses a moment and tries again,
 * logging one line per interval, instead of retrying at once in a loop.
 * Set up before the workers' threads start; listen_unwatch_all() after they end.
 */
int listen_watch(struct evconnlistener *l);
void listen_unwatch_all(void);

/* How many times accept() failed, in this process. */
uint64_t listen_accept_errors(void);

#endif
