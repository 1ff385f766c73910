/*
 * The Redis connection of one event loop: hiredis async on libevent, with the
 * connect and command timeouts hiredis 0.14 lacks, reconnect with backoff, and
 * the server-side scripts (core/store/scripts/) loaded on every connect.
 *
 * On a Redis Cluster it holds one connection per master, routes every
 * command to its slot's master and follows the cluster's redirections.
 *
 * A store never blocks. What embedders see is the connection: create it on a
 * loop, hand it to the engine (which alone sends it commands), read its state.
 * Keys, commands and replies stay inside core/store/.
 */
#ifndef PUNCHCARD_STORE_H
#define PUNCHCARD_STORE_H

#include <stddef.h>
#include <stdint.h>

struct event_base;

typedef struct store store;

typedef struct store_config {
    const char *addr;    /* "host:port", or a Unix socket path (contains '/') */
    const char *cluster; /* a Redis Cluster's seed nodes "host:port[,host:port...]" instead of
                            addr; NULL: the single Redis at addr */
    int timeout_ms;      /* connect and command timeout; 0 = 2000 */
} store_config;

/* Creates a store on base and starts connecting. Returns NULL on a bad address. */
store *store_new(struct event_base *base, const store_config *cfg);

/* Closes the connection; pending callbacks are called with an error first. */
void store_free(store *s);

/* 1 when connected and ready for commands (a cluster: every slot's master connected). */
int store_ready(const store *s);

/* The loop the store runs on. */
struct event_base *store_base(const store *s);

/* Counts for /metrics and tests. */
#define STORE_LATENCY_BUCKETS 12
/* The upper bounds, in microseconds, of the latency buckets (the last: +Inf). */
extern const int64_t store_latency_bounds_us[STORE_LATENCY_BUCKETS];
typedef struct store_stats {
    uint64_t commands, errors, timeouts, reconnects;
    uint64_t
        latency_us[STORE_LATENCY_BUCKETS]; /* replies by round trip, per bucket (not cumulative) */
    uint64_t latency_sum_us, replies;
} store_stats;
void store_get_stats(const store *s, store_stats *out);

#endif
