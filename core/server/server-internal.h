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
#include <jansson.h>
#include <stdint.h>

typedef struct pending_req pending_req;
typedef struct batch batch;

/* The most events one POST /v1/events/batch may hold. */
#define BATCH_MAX_EVENTS 1000

/*
 * What the access log and the metrics know of one request, from routing to
 * its answer: on route_request()'s stack while its handler runs (server.cur),
 * then copied into the pending_req of a request that waits on the engine.
 */
typedef struct req_ctx {
    struct evhttp_request *req;
    int route;        /* index in the route table; -1 when no route matched */
    int64_t start_us; /* monotonic */
    char request_id[129];
    char member[129];
    char event_id[129];
    char key[65]; /* the API key's name, never the key */
} req_ctx;

struct server {
    struct event_base *base;
    struct evhttp *http;
    engine *engine;
    mech_holder *holder;
    server_config cfg;
    int draining;
    server_stats stats;
    pending_req *pending; /* requests waiting on the engine (a list) */
    req_ctx *cur;         /* the request being routed or answered right now, or NULL */
    void *conns;          /* the open connections (conns.c), a tsearch tree */
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
    req_ctx ctx;
};

/*
 * evhttp_send_reply() (buf borrowed), then the answer written to the socket at
 * once rather than on the next turn's write event (http.c): what every answer
 * punchd composes goes out through.
 */
void http_reply(struct evhttp_request *req, int status, const char *why, struct evbuffer *buf);

/* Sends body (stolen) as the response; evhttp frees req, even if the client left. */
void send_json(server *s, struct evhttp_request *req, int status, json_t *body);

/* Sends text (len bytes of JSON, borrowed; NULL when out of memory: a 500 then) as the response. */
void send_json_text(server *s, struct evhttp_request *req, int status, const char *text,
                    size_t len);

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

/*
 * conns.c: the connections of s, counted and capped from their opening
 * (conns_attach(), in server_new()) to server_free() (conns_detach(), before
 * evhttp_free()). conns_request_in(): req arrived whole, its deadline stops.
 */
typedef struct conn conn;
void conns_attach(server *s);
void conns_detach(server *s);
void conns_request_in(server *s, struct evhttp_request *req);

/* in, with what cannot be shown in an error message (control, non-ASCII, quote) as '?'. */
void printable(char *out, size_t n, const char *in);

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

/* The route table, for the metrics: how many routes, and route i's path pattern and method. */
size_t route_count(void);
const char *route_pattern(size_t i, const char **method);

/* access.c: the access log line and the request metrics of the answer to req (status). */
void access_done(server *s, struct evhttp_request *req, int status);

/* access.c: an event's answer (status, body borrowed) for the metrics: per type, duplicate or
 * not, outcome kinds; body NULL: e's engine_answer_outcomes() (a committed event as text). */
void access_event_answered(const engine *e, int status, const json_t *body);

/* access.c: sets ctx up for req (start time, X-Request-Id read or made, and returned). */
void access_begin(req_ctx *ctx, struct evhttp_request *req);

/* access.c: remembers the event's id and member for the access log line. */
void access_note_event(server *s, const char *id, const char *member);

/* Sends text (copied) as is with content type ctype: not JSON (the metrics, the OpenAPI). */
void send_raw(server *s, struct evhttp_request *req, int status, const char *ctype,
              const char *text, size_t len);

/* metrics.c: GET /metrics. */
route_fn get_metrics;

/* webhook_http.c: GET /v1/webhooks/deliveries, POST /v1/webhooks/dead/{id}/retry. */
route_fn get_webhook_deliveries, post_webhook_retry;

/* openapi.c: GET /v1/openapi.json. */
route_fn get_openapi;

/* console.c: GET /console and /console/{file}, the embedded console. */
route_fn get_console;

/* money.c */
route_fn put_member, post_redeem, post_reverse, get_stats, get_partner_summary;

/* game.c */
route_fn get_draw, post_draw_rotate, post_draw_refill, get_leaderboard, get_experiment, get_budget;
route_fn post_broadcast, get_broadcast, get_broadcasts, post_broadcast_cancel; /* game.c */
route_fn get_offers, get_offer;
route_fn get_draws, get_budgets, get_leaderboards, post_offer_codes;

#endif
