/*
 * Private to core/server: the server's state, the answers every handler sends
 * (http.c), the route table (routes.c) and the handlers it names (routes.c,
 * money.c, game.c). A handler parses and checks its request, calls the
 * engine, and sends what the engine answers.
 */
#ifndef PUNCHCARD_SERVER_INTERNAL_H
#define PUNCHCARD_SERVER_INTERNAL_H

#include "server.h"

#include <event2/http.h>

typedef struct pending_req pending_req;
typedef struct batch batch;

/* The most events one POST /v1/events/batch may hold. */
#define BATCH_MAX_EVENTS 1000

struct server {
    struct event_base *base;
    struct evhttp *http;
    engine *engine;
    mech_holder *holder;
    server_config cfg;
    size_t api_key_len;
    int draining;
    server_stats stats;
    pending_req *pending; /* requests waiting on the engine (a list) */
};

/*
 * One request waiting on the engine, from pending_new() to on_engine_done().
 * Owned by the server's list until the engine answers; server_free() gives it
 * up (req and s NULL), and the late answer is then dropped.
 */
struct pending_req {
    server *s;
    struct evhttp_request *req;
    engine_call *call; /* an event's call, to cancel; NULL for a read */
    batch *batch;      /* a batch's events, to cancel; NULL for anything else */
    int is_event;
    pending_req *prev, *next;
};

/* Sends body (stolen) as the response; evhttp frees req, even if the client left. */
void send_json(server *s, struct evhttp_request *req, int status, json_t *body);

/* Sends {"error": {"code", "message"}} (pc_error_json(), the one rendering) with status. */
void send_error(server *s, struct evhttp_request *req, int status, const char *code,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * A request about to wait on the engine: pass it as the arg of
 * on_engine_done. NULL after answering 500 when out of memory.
 */
pending_req *pending_new(server *s, struct evhttp_request *req, int is_event);

/* Takes p off the server's list of requests waiting on the engine. */
void pending_unlink(server *s, pending_req *p);

/* The engine_done_fn of every handler: sends the engine's answer. */
void on_engine_done(void *arg, int status, json_t *body);

/* Applies ev (taken) through the transaction, answering req; flags: enum engine_flags. */
void submit_event(server *s, struct evhttp_request *req, pc_event *ev, int flags);

/* The query string as pairs (clear with evhttp_clear_headers); -1 after answering 400. */
struct evkeyvalq;
int parse_query(server *s, struct evhttp_request *req, const char *query, struct evkeyvalq *q);

/*
 * A handler: arg is the path's one {parameter} (NULL for a route without one),
 * query what follows '?' (or NULL).
 */
typedef void route_fn(server *s, struct evhttp_request *req, const char *arg, const char *query);

/* routes.c: evhttp's callback for every request (arg: the server); answers it from the route
 * table, 404 and 405 included. */
void route_request(struct evhttp_request *req, void *arg);

/* batch.c: POST /v1/events/batch, and how server_free() gives a batch up (frees b). */
route_fn post_batch;
void batch_cancel(batch *b);

/* money.c */
route_fn put_member, post_redeem, post_reverse, get_stats, get_partner_summary;

/* game.c */
route_fn get_draw, post_draw_rotate, post_draw_refill, get_leaderboard;

#endif
