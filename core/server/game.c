/*
 * The game's HTTP routes; what they show and change is the engine's
 * (punchcard/query.h):
 *   GET  /v1/draws/{name}            pool left and wins per prize, epoch, the
 *                                    SHA-256 of the current secret, revealed secrets
 *   POST /v1/draws/{name}/rotate     starts a new epoch and reveals the old secret
 *   POST /v1/draws/{name}/refill     {"prize", "add"}: adds prizes to the current period
 *   GET  /v1/leaderboards/{name}?top=&member=&period=   top N and a member's rank
 *   GET  /v1/offers, /v1/offers/{name}  the offers and promo codes, their uses and cap left
 *   GET  /v1/budgets/{name}          a campaign budget's used, max and left per period
 *   GET  /v1/draws, /v1/budgets, /v1/leaderboards  every one the program used, with its figures
 *   POST /v1/offers/{name}/codes     {"codes": [{"code", "member"}]}: personal codes, in a batch
 *   POST /v1/broadcasts              {id, type, data, segment}: one event to every member
 *                                    of the segment, once (engine.h)
 *   GET  /v1/broadcasts/{id}         its progress: sent, skipped, status
 *   GET  /v1/broadcasts?limit=       the newest broadcasts (at most 100), with their progress
 *   POST /v1/broadcasts/{id}/cancel  stops one not done (409 when done)
 */
#include "server-internal.h"
#include "punchcard/query.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>

/* A draw or board name from the path; 0 after answering 404 for a bad one. */
static int name_ok(server *s, struct evhttp_request *req, const char *name)
{
    if (pc_valid_name(name))
        return 1;
    send_error(s, req, 404, "not_found", "no such resource");
    return 0;
}

void get_draw(server *s, struct evhttp_request *req, const char *name, const char *query)
{
    pending_req *p;
    if (name_ok(s, req, name) && (p = pending_new(s, req, 0)))
        engine_get_draw(s->engine, name, 0, on_engine_done, p);
}

void post_draw_rotate(server *s, struct evhttp_request *req, const char *name, const char *query)
{
    pending_req *p;
    if (name_ok(s, req, name) && (p = pending_new(s, req, 0)))
        engine_rotate_draw(s->engine, name, on_engine_done, p);
}

/* POST /v1/draws/{name}/refill {"prize": NAME, "add": N} */
void post_draw_refill(server *s, struct evhttp_request *req, const char *name, const char *query)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    json_t *body, *add;
    const char *prize;
    pending_req *p;
    if (!name_ok(s, req, name))
        return;
    body =
        len && len < 4096 ? json_loadb((const char *)evbuffer_pullup(in, -1), len, 0, NULL) : NULL;
    prize = json_string_value(json_object_get(body, "prize"));
    add = json_object_get(body, "add");
    if (!prize || !pc_valid_name(prize) || !json_is_integer(add) ||
        json_integer_value(add) < -1000000000 || json_integer_value(add) > 1000000000 ||
        json_object_size(body) != 2)
        send_error(s, req, 400, "bad_request", "send {\"prize\": NAME, \"add\": N}");
    else if ((p = pending_new(s, req, 0)))
        engine_refill_draw(s->engine, name, prize, json_integer_value(add), on_engine_done, p);
    json_decref(body);
}

/* GET /v1/leaderboards/{name}?top=&member=&period= */
/* GET /v1/experiments/{name}: each group's figures and the lift */
void get_experiment(server *s, struct evhttp_request *req, const char *name, const char *query)
{
    pending_req *p;
    if (name_ok(s, req, name) && (p = pending_new(s, req, 0)))
        engine_get_experiment(s->engine, name, on_engine_done, p);
}

/* GET /v1/offers: the catalogue of offers with their uses */
void get_offers(server *s, struct evhttp_request *req, const char *name, const char *query)
{
    pending_req *p;
    (void)name;
    if ((p = pending_new(s, req, 0)))
        engine_get_offers(s->engine, NULL, on_engine_done, p);
}

/* GET /v1/offers/{name}: one offer, its uses, what is left of its cap */
void get_offer(server *s, struct evhttp_request *req, const char *name, const char *query)
{
    pending_req *p;
    if (name_ok(s, req, name) && (p = pending_new(s, req, 0)))
        engine_get_offers(s->engine, name, on_engine_done, p);
}

void get_budget(server *s, struct evhttp_request *req, const char *name, const char *query)
{
    pending_req *p;
    if (name_ok(s, req, name) && (p = pending_new(s, req, 0)))
        engine_get_budget(s->engine, name, on_engine_done, p);
}

void get_leaderboard(server *s, struct evhttp_request *req, const char *name, const char *query)
{
    struct evkeyvalq q;
    const char *v, *member, *period;
    int top = 10;
    pending_req *p;
    if (!name_ok(s, req, name) || parse_query(s, req, query, &q))
        return;
    if ((v = evhttp_find_header(&q, "top"))) {
        char *end;
        long n = strtol(v, &end, 10);
        top = *v && !*end && n >= 1 && n <= 1000 ? (int)n : -1;
    }
    member = evhttp_find_header(&q, "member");
    period = evhttp_find_header(&q, "period");
    if (top < 0 || (member && !pc_valid_id(member)) ||
        (period && (strlen(period) >= 16 || !pc_valid_name(period))))
        send_error(s, req, 400, "bad_request",
                   "top is 1-1000; member a member id; period like 2026-W48 or 2026-11");
    else if ((p = pending_new(s, req, 0)))
        engine_get_board(s->engine, name, top, member, period, 0, on_engine_done, p);
    evhttp_clear_headers(&q);
}

/* GET /v1/draws, /v1/budgets, /v1/leaderboards: the program's catalogue, live figures each */
void get_draws(server *s, struct evhttp_request *req, const char *arg, const char *query)
{
    pending_req *p;
    if ((p = pending_new(s, req, 0)))
        engine_list(s->engine, "draw", on_engine_done, p);
}

void get_budgets(server *s, struct evhttp_request *req, const char *arg, const char *query)
{
    pending_req *p;
    if ((p = pending_new(s, req, 0)))
        engine_list(s->engine, "budget", on_engine_done, p);
}

void get_leaderboards(server *s, struct evhttp_request *req, const char *arg, const char *query)
{
    pending_req *p;
    if ((p = pending_new(s, req, 0)))
        engine_list(s->engine, "board", on_engine_done, p);
}

/* POST /v1/offers/{name}/codes {"codes": [{"code", "member"}, ...]} (engine_add_codes) */
void post_offer_codes(server *s, struct evhttp_request *req, const char *name, const char *query)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    json_t *body;
    pending_req *p;
    if (!name_ok(s, req, name))
        return;
    if (len > 512 * 1024) {
        send_error(s, req, 413, "too_large", "a batch of codes is at most 512 KiB");
        return;
    }
    body = len ? json_loadb((const char *)evbuffer_pullup(in, -1), len, 0, NULL) : NULL;
    if (!body)
        send_error(s, req, 400, "bad_json", "the body is {\"codes\": [{\"code\", \"member\"}]}");
    else if ((p = pending_new(s, req, 0)))
        engine_add_codes(s->engine, name, body, on_engine_done, p);
    json_decref(body);
}

/* POST /v1/broadcasts {"id", "type", "data", "segment"} (the engine checks every field) */
void post_broadcast(server *s, struct evhttp_request *req, const char *arg, const char *query)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    json_error_t jerr;
    json_t *body;
    pending_req *p;
    (void)arg;
    if (len > s->cfg.max_body) {
        send_error(s, req, 413, "too_large", "the body is larger than %zu bytes", s->cfg.max_body);
        return;
    }
    body =
        len ? json_loadb((const char *)evbuffer_pullup(in, -1), len, JSON_REJECT_DUPLICATES, &jerr)
            : NULL;
    if (!body)
        send_error(s, req, 400, "bad_json", "the body must be a JSON object: %s",
                   len ? jerr.text : "it is empty");
    else if ((p = pending_new(s, req, 0)))
        engine_make_broadcast(s->engine, body, on_engine_done, p);
    json_decref(body);
}

/* GET /v1/broadcasts/{id} */
void get_broadcast(server *s, struct evhttp_request *req, const char *id, const char *query)
{
    pending_req *p;
    if ((p = pending_new(s, req, 0)))
        engine_get_broadcast(s->engine, id, on_engine_done, p);
}

/* GET /v1/broadcasts?limit= (newest first; default and most 100) */
void get_broadcasts(server *s, struct evhttp_request *req, const char *arg, const char *query)
{
    struct evkeyvalq q;
    const char *l;
    int limit = 100;
    pending_req *p;
    (void)arg;
    if (parse_query(s, req, query, &q))
        return;
    if ((l = evhttp_find_header(&q, "limit"))) {
        char *end;
        long v = strtol(l, &end, 10);
        limit = (*l && !*end && v >= 1 && v <= 100) ? (int)v : -1;
    }
    evhttp_clear_headers(&q);
    if (limit < 0)
        send_error(s, req, 400, "bad_request", "limit must be a number from 1 to 100");
    else if ((p = pending_new(s, req, 0)))
        engine_list_broadcasts(s->engine, limit, on_engine_done, p);
}

/* POST /v1/broadcasts/{id}/cancel */
void post_broadcast_cancel(server *s, struct evhttp_request *req, const char *id, const char *query)
{
    pending_req *p;
    if ((p = pending_new(s, req, 0)))
        engine_cancel_broadcast(s->engine, id, on_engine_done, p);
}
