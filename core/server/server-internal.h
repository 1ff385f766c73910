/*
 * Private to core/server: the server's state and the helpers every handler
 * file uses (http.c routes; money.c and game.c add handlers).
 */
#ifndef PUNCHCARD_SERVER_INTERNAL_H
#define PUNCHCARD_SERVER_INTERNAL_H

#include "server.h"

#include <event2/http.h>

struct server {
    struct event_base *base;
    struct evhttp *http;
    engine *engine;
    mech_holder *holder;
    store *store;
    server_config cfg;
    char ns[64];
    size_t api_key_len;
    int draining;
    server_stats stats;
};

/* One request waiting on the engine. */
typedef struct pending_req {
    server *s;
    struct evhttp_request *req;
    int is_event;
} pending_req;

/* Sends body (stolen) as the response; frees req (evhttp does), even if the client left. */
void send_json(server *s, struct evhttp_request *req, int status, json_t *body);

/* Sends {"error": {"code", "message"}} with status. */
void send_error(server *s, struct evhttp_request *req, int status, const char *code,
                const char *msg);

/* A request waiting on the engine: pass it as the arg of on_engine_done. NULL on OOM. */
pending_req *pending_new(server *s, struct evhttp_request *req, int is_event);

/* The engine_done_fn of every handler: sends the engine's answer. */
void on_engine_done(void *arg, int status, json_t *body);

/* money.c: PUT /v1/members/{m}, POST /v1/members/{m}/redeem, POST /v1/events/{id}/reverse,
 * GET /v1/partners/{p}/summary, GET /v1/stats. Returns 1 when it handled the request. */
int money_route(server *s, struct evhttp_request *req, char *path, const char *query);

/* game.c: GET /v1/draws/{name}, POST .../rotate and .../refill, GET /v1/leaderboards/{name}. */
void game_route(server *s, struct evhttp_request *req, const char *path, const char *query);

#endif
