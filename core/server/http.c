/*
 * Routes of HTTP API v1 and their handlers. Every response is JSON; every
 * error is {"error": {"code", "message"}} with a fitting status.
 */
#include "server-internal.h"
#include "engine/builtin.h"
#include "common/jsonw-internal.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Entity";
    case 503:
        return "Service Unavailable";
    default:
        return status >= 500 ? "Internal Server Error" : "Error";
    }
}

/* Sends body (stolen) as the response. Frees req (evhttp does), even if the client left. */
void send_json(server *s, struct evhttp_request *req, int status, json_t *body)
{
    struct evbuffer *buf = evbuffer_new();
    char *text = body ? pc_json_dump(body, NULL) : NULL;

    json_decref(body);
    if (status < 300)
        s->stats.status_2xx++;
    else if (status < 500)
        s->stats.status_4xx++;
    else
        s->stats.status_5xx++;
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    if (text) {
        evbuffer_add(buf, text, strlen(text));
        evbuffer_add(buf, "\n", 1);
        free(text);
    } else {
        status = 500;
        evbuffer_add_printf(buf, "{\"error\":{\"code\":\"internal\",\"message\":\"out of "
                                 "memory\"}}\n");
    }
    evhttp_send_reply(req, status, reason(status), buf);
    evbuffer_free(buf);
}

void send_error(server *s, struct evhttp_request *req, int status, const char *code,
                const char *msg)
{
    pc_error err;
    pc_fail(&err, status, code, "%s", msg);
    send_json(s, req, status, pc_error_json(&err));
}

void on_engine_done(void *arg, int status, json_t *body)
{
    pending_req *p = arg;
    if (p->is_event && status == 200) {
        p->s->stats.events++;
        if (json_is_true(json_object_get(body, "duplicate")))
            p->s->stats.duplicates++;
    }
    p->s->stats.inflight--;
    /*
     * A client that hung up meanwhile: evhttp kept req (detached from its
     * connection) for exactly this reply, and frees it now.
     */
    send_json(p->s, p->req, status, body);
    free(p);
}

pending_req *pending_new(server *s, struct evhttp_request *req, int is_event)
{
    pending_req *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->s = s;
    p->req = req;
    p->is_event = is_event;
    s->stats.inflight++;
    return p;
}

/* 1 for "1", "true", "yes"; 0 for absent, "0", "false", "no"; -1 otherwise. */
static int flag_param(const struct evkeyvalq *q, const char *name)
{
    const char *v = evhttp_find_header(q, name);
    if (!v || !strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no"))
        return 0;
    if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !*v)
        return 1;
    return -1;
}

static void handle_event(server *s, struct evhttp_request *req, const char *query)
{
    struct evkeyvalq q = {0};
    int flags = 0, dry, explain;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    pc_event ev;
    pc_error err;
    pending_req *p;

    if (len > s->cfg.max_body) {
        char msg[96];
        snprintf(msg, sizeof msg, "the body is larger than %zu bytes", s->cfg.max_body);
        send_error(s, req, 413, "too_large", msg);
        return;
    }
    if (len == 0) {
        send_error(s, req, 400, "bad_json", "the body is empty; send the event as JSON");
        return;
    }
    if (query && evhttp_parse_query_str(query, &q)) {
        send_error(s, req, 400, "bad_request", "malformed query string");
        return;
    }
    dry = flag_param(&q, "dry_run");
    explain = flag_param(&q, "explain");
    evhttp_clear_headers(&q);
    if (dry < 0 || explain < 0) {
        send_error(s, req, 400, "bad_request", "dry_run and explain take 1 or 0");
        return;
    }
    flags = (dry ? ENGINE_DRY_RUN : 0) | (explain ? ENGINE_EXPLAIN : 0);
    if (pc_event_parse((const char *)evbuffer_pullup(in, -1), len, &ev, &err)) {
        send_error(s, req, err.status, err.code, err.message);
        return;
    }
    if (builtin_reserved_type(ev.type)) {
        char msg[160];
        snprintf(msg, sizeof msg, "event type \"%s\" is the engine's own; use its endpoint",
                 ev.type);
        pc_event_clear(&ev);
        send_error(s, req, 400, "bad_request", msg);
        return;
    }
    if (!(p = pending_new(s, req, 1))) {
        pc_event_clear(&ev);
        send_error(s, req, 500, "internal", "out of memory");
        return;
    }
    engine_submit_flags(s->engine, &ev, flags, on_engine_done, p);
}

static void handle_member(server *s, struct evhttp_request *req, const char *member,
                          const char *sub, const char *query)
{
    pending_req *p;
    if (!pc_valid_id(member)) {
        send_error(s, req, 400, "bad_request", "bad member id");
        return;
    }
    if (sub && strcmp(sub, "ledger") == 0) {
        struct evkeyvalq q = {0};
        int limit = 50;
        const char *cursor = NULL, *l;
        if (query && evhttp_parse_query_str(query, &q)) {
            send_error(s, req, 400, "bad_request", "malformed query string");
            return;
        }
        if ((l = evhttp_find_header(&q, "limit"))) {
            char *end;
            long v = strtol(l, &end, 10);
            limit = (*l && !*end && v >= 1 && v <= 1000) ? (int)v : -1;
        }
        cursor = evhttp_find_header(&q, "cursor");
        if (limit < 0) {
            evhttp_clear_headers(&q);
            send_error(s, req, 400, "bad_request", "limit must be a number from 1 to 1000");
            return;
        }
        if (!(p = pending_new(s, req, 0))) {
            evhttp_clear_headers(&q);
            send_error(s, req, 500, "internal", "out of memory");
            return;
        }
        engine_get_ledger(s->engine, member, limit, cursor, on_engine_done, p);
        evhttp_clear_headers(&q);
        return;
    }
    if (sub) {
        send_error(s, req, 404, "not_found", "no such resource");
        return;
    }
    if (!(p = pending_new(s, req, 0))) {
        send_error(s, req, 500, "internal", "out of memory");
        return;
    }
    engine_get_member(s->engine, member, on_engine_done, p);
}

static void handle_health(server *s, struct evhttp_request *req)
{
    mechset *set = mech_holder_acquire(s->holder);
    int redis = store_ready(s->store), ok = redis && set && !s->draining;
    send_json(s, req, ok ? 200 : 503,
              json_pack("{s:s, s:s, s:s, s:s}", "status", ok ? "ok" : "unavailable", "redis",
                        redis ? "up" : "down", "mechanics", set ? mechset_version(set) : "none",
                        "state", s->draining ? "draining" : "serving"));
    mechset_unref(set);
}

static void handle_metrics(server *s, struct evhttp_request *req)
{
    struct evbuffer *buf = evbuffer_new();
    store_stats st;
    store_get_stats(s->store, &st);
    evbuffer_add_printf(buf,
                        "# TYPE punchd_requests_total counter\npunchd_requests_total %lu\n"
                        "# TYPE punchd_events_total counter\npunchd_events_total %lu\n"
                        "# TYPE punchd_duplicates_total counter\npunchd_duplicates_total %lu\n"
                        "# TYPE punchd_responses_total counter\n"
                        "punchd_responses_total{class=\"2xx\"} %lu\n"
                        "punchd_responses_total{class=\"4xx\"} %lu\n"
                        "punchd_responses_total{class=\"5xx\"} %lu\n"
                        "# TYPE punchd_inflight gauge\npunchd_inflight %lu\n"
                        "# TYPE punchd_redis_up gauge\npunchd_redis_up %d\n"
                        "# TYPE punchd_redis_commands_total counter\n"
                        "punchd_redis_commands_total %lu\n"
                        "# TYPE punchd_redis_errors_total counter\npunchd_redis_errors_total %lu\n"
                        "# TYPE punchd_redis_timeouts_total counter\n"
                        "punchd_redis_timeouts_total %lu\n"
                        "# TYPE punchd_redis_reconnects_total counter\n"
                        "punchd_redis_reconnects_total %lu\n",
                        (unsigned long)s->stats.requests, (unsigned long)s->stats.events,
                        (unsigned long)s->stats.duplicates, (unsigned long)s->stats.status_2xx,
                        (unsigned long)s->stats.status_4xx, (unsigned long)s->stats.status_5xx,
                        (unsigned long)s->stats.inflight, store_ready(s->store),
                        (unsigned long)st.commands, (unsigned long)st.errors,
                        (unsigned long)st.timeouts, (unsigned long)st.reconnects);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4");
    evhttp_send_reply(req, 200, "OK", buf);
    evbuffer_free(buf);
}

static int authorized(server *s, struct evhttp_request *req)
{
    const char *h;
    if (!s->cfg.api_key)
        return 1;
    h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    if (!h || strncmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    /* Constant time, so the key cannot be guessed byte by byte from response times. */
    return strlen(h) == s->api_key_len && CRYPTO_memcmp(h, s->cfg.api_key, s->api_key_len) == 0;
}

static void route(struct evhttp_request *req, void *arg)
{
    server *s = arg;
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    const char *uri = evhttp_request_get_uri(req);
    char path[512];
    const char *query = strchr(uri, '?');
    size_t plen = query ? (size_t)(query - uri) : strlen(uri);

    s->stats.requests++;
    if (query)
        query++;
    if (plen >= sizeof path) {
        send_error(s, req, 404, "not_found", "no such resource");
        return;
    }
    memcpy(path, uri, plen);
    path[plen] = '\0';

    if (strcmp(path, "/healthz") == 0) {
        handle_health(s, req);
        return;
    }
    if (strcmp(path, "/metrics") == 0) {
        handle_metrics(s, req);
        return;
    }
    if (strncmp(path, "/v1/", 4) != 0) {
        send_error(s, req, 404, "not_found", "no such resource");
        return;
    }
    if (!authorized(s, req)) {
        send_error(s, req, 401, "unauthorized", "missing or wrong API key (Authorization: Bearer)");
        return;
    }
    if (s->draining) {
        send_error(s, req, 503, "unavailable", "punchd is shutting down");
        return;
    }
    if (money_route(s, req, path, query))
        return;
    if (strcmp(path, "/v1/events") == 0) {
        if (method != EVHTTP_REQ_POST) {
            send_error(s, req, 405, "method_not_allowed", "use POST");
            return;
        }
        handle_event(s, req, query);
        return;
    }
    if (strcmp(path, "/v1/mechanics") == 0) {
        if (method != EVHTTP_REQ_GET) {
            send_error(s, req, 405, "method_not_allowed", "use GET");
            return;
        }
        send_json(s, req, 200, mech_holder_describe(s->holder));
        return;
    }
    if (strncmp(path, "/v1/draws/", 10) == 0 || strncmp(path, "/v1/leaderboards/", 17) == 0) {
        game_route(s, req, path, query); /* game.c */
        return;
    }
    if (strncmp(path, "/v1/members/", 12) == 0) {
        char *member = path + 12, *sub = strchr(member, '/');
        if (method != EVHTTP_REQ_GET) {
            send_error(s, req, 405, "method_not_allowed", "use GET");
            return;
        }
        if (sub)
            *sub++ = '\0';
        handle_member(s, req, member, sub, query);
        return;
    }
    send_error(s, req, 404, "not_found", "no such resource");
}

server *server_new(struct event_base *base, struct evhttp *http, engine *e, mech_holder *h,
                   store *st, const server_config *cfg)
{
    server *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->base = base;
    s->http = http;
    s->engine = e;
    s->holder = h;
    s->store = st;
    s->cfg = *cfg;
    if (!s->cfg.max_body)
        s->cfg.max_body = 64 * 1024;
    s->api_key_len = cfg->api_key ? strlen(cfg->api_key) : 0;
    snprintf(s->ns, sizeof s->ns, "%s", cfg->ns ? cfg->ns : "pc");
    /* evhttp's own cap sits above ours, so too-large bodies still get our JSON 413 when small
     * enough to read. */
    evhttp_set_max_body_size(http, (ev_ssize_t)(s->cfg.max_body + 64 * 1024));
    evhttp_set_max_headers_size(http, 16 * 1024);
    evhttp_set_timeout(http, 30);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                         EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
    evhttp_set_default_content_type(http, "application/json");
    evhttp_set_gencb(http, route, s);
    return s;
}

void server_free(server *s)
{
    free(s);
}

uint64_t server_drain(server *s)
{
    s->draining = 1;
    return s->stats.inflight;
}

uint64_t server_inflight(const server *s)
{
    return s->stats.inflight;
}
