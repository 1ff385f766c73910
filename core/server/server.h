/*
 * punchd's HTTP front (evhttp): one server per worker loop. Routes, auth,
 * limits, JSON in and out; errors rendered once, here.
 */
#ifndef PUNCHCARD_SERVER_H
#define PUNCHCARD_SERVER_H

#include "punchcard/engine.h"

#include <event2/http.h>
#include <stdint.h>

typedef struct server_config {
    size_t max_body;     /* bytes; larger bodies get 413 */
    const char *api_key; /* when set, /v1/ requires "Authorization: Bearer <key>" */
    const char *ns;      /* the key namespace (for the figures) */
} server_config;

typedef struct server_stats {
    uint64_t requests, events, duplicates, status_2xx, status_4xx, status_5xx, inflight;
} server_stats;

typedef struct server server;

/* Serves on http (borrowed) with engine, mechanics and store (borrowed). */
server *server_new(struct event_base *base, struct evhttp *http, engine *e, mech_holder *h,
                   store *st, const server_config *cfg);
void server_free(server *s);

/* Answers new requests with 503 from now on; returns the number still in flight. */
uint64_t server_drain(server *s);
uint64_t server_inflight(const server *s);

#endif
