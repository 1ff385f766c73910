/*
 * HTTP API v1 (README.md): the one route table, method and path to handler.
 * A path no route has is 404; a path that routes have, asked with another
 * method, is 405. /v1/ wants the API key (when set) and is refused while the
 * server drains. Also the handlers of events, members, mechanics, /healthz
 * and /metrics; money.c and game.c hold the others.
 */
#include "server-internal.h"
#include "engine/builtin.h"
#include "punchcard/query.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

/* 1 for "1", "true", "yes" (or empty); 0 for absent, "0", "false", "no"; -1 otherwise. */
static int flag_param(const struct evkeyvalq *q, const char *name)
{
    const char *v = evhttp_find_header(q, name);
    if (!v || !strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no"))
        return 0;
    if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !*v)
        return 1;
    return -1;
}

/* POST /v1/events?dry_run=&explain= */
static void post_event(server *s, struct evhttp_request *req, const char *arg, const char *query)
{
    struct evkeyvalq q;
    int dry, explain;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    pc_event ev;
    pc_error err;

    if (len > s->cfg.max_body) {
        send_error(s, req, 413, "too_large", "the body is larger than %zu bytes", s->cfg.max_body);
        return;
    }
    if (len == 0) {
        send_error(s, req, 400, "bad_json", "the body is empty; send the event as JSON");
        return;
    }
    if (parse_query(s, req, query, &q))
        return;
    dry = flag_param(&q, "dry_run");
    explain = flag_param(&q, "explain");
    evhttp_clear_headers(&q);
    if (dry < 0 || explain < 0) {
        send_error(s, req, 400, "bad_request", "dry_run and explain take 1 or 0");
        return;
    }
    if (pc_event_parse((const char *)evbuffer_pullup(in, -1), len, &ev, &err)) {
        send_json(s, req, err.status, pc_error_json(&err));
        return;
    }
    if (builtin_reserved_type(ev.type)) {
        send_error(s, req, 400, "bad_request",
                   "event type \"%s\" is the engine's own; use its endpoint", ev.type);
        pc_event_clear(&ev);
        return;
    }
    submit_event(s, req, &ev, (dry ? ENGINE_DRY_RUN : 0) | (explain ? ENGINE_EXPLAIN : 0));
}

/* GET /v1/members/{m} */
static void get_member(server *s, struct evhttp_request *req, const char *member, const char *query)
{
    pending_req *p;
    if (!pc_valid_id(member)) {
        send_error(s, req, 400, "bad_request", "bad member id");
        return;
    }
    if ((p = pending_new(s, req, 0)))
        engine_get_member(s->engine, member, on_engine_done, p);
}

/* GET /v1/members/{m}/ledger?limit=&cursor= */
static void get_ledger(server *s, struct evhttp_request *req, const char *member, const char *query)
{
    struct evkeyvalq q;
    const char *l;
    int limit = 50;
    pending_req *p;
    if (!pc_valid_id(member)) {
        send_error(s, req, 400, "bad_request", "bad member id");
        return;
    }
    if (parse_query(s, req, query, &q))
        return;
    if ((l = evhttp_find_header(&q, "limit"))) {
        char *end;
        long v = strtol(l, &end, 10);
        limit = (*l && !*end && v >= 1 && v <= 1000) ? (int)v : -1;
    }
    if (limit < 0)
        send_error(s, req, 400, "bad_request", "limit must be a number from 1 to 1000");
    else if ((p = pending_new(s, req, 0)))
        engine_get_ledger(s->engine, member, limit, evhttp_find_header(&q, "cursor"),
                          on_engine_done, p);
    evhttp_clear_headers(&q);
}

/* GET /v1/mechanics */
static void get_mechanics(server *s, struct evhttp_request *req, const char *arg, const char *query)
{
    send_json(s, req, 200, mech_holder_describe(s->holder));
}

/* GET /healthz */
static void get_health(server *s, struct evhttp_request *req, const char *arg, const char *query)
{
    mechset *set = mech_holder_acquire(s->holder);
    int redis = engine_redis_up(s->engine), ok = redis && set && !s->draining;
    send_json(s, req, ok ? 200 : 503,
              json_pack("{s:s, s:s, s:s, s:s}", "status", ok ? "ok" : "unavailable", "redis",
                        redis ? "up" : "down", "mechanics", set ? mechset_version(set) : "none",
                        "state", s->draining ? "draining" : "serving"));
    mechset_unref(set);
}

/* GET /metrics: Prometheus text. */
static void get_metrics(server *s, struct evhttp_request *req, const char *arg, const char *query)
{
    struct evbuffer *buf = evbuffer_new();
    store_stats st;
    engine_redis_stats(s->engine, &st);
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
                        (unsigned long)s->stats.inflight, engine_redis_up(s->engine),
                        (unsigned long)st.commands, (unsigned long)st.errors,
                        (unsigned long)st.timeouts, (unsigned long)st.reconnects);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4");
    evhttp_send_reply(req, 200, "OK", buf);
    evbuffer_free(buf);
}

/*
 * The table. "{}" in a path is its one parameter: any run of characters but
 * '/' (empty included: the handler refuses a bad one). method 0: any.
 */
static const struct route {
    const char *path;
    enum evhttp_cmd_type method;
    route_fn *handle;
} routes[] = {
    {"/healthz", 0, get_health},
    {"/metrics", 0, get_metrics},
    {"/v1/events", EVHTTP_REQ_POST, post_event},
    {"/v1/events/batch", EVHTTP_REQ_POST, post_batch},
    {"/v1/events/{}/reverse", EVHTTP_REQ_POST, post_reverse},
    {"/v1/mechanics", EVHTTP_REQ_GET, get_mechanics},
    {"/v1/members/{}", EVHTTP_REQ_GET, get_member},
    {"/v1/members/{}", EVHTTP_REQ_PUT, put_member},
    {"/v1/members/{}/ledger", EVHTTP_REQ_GET, get_ledger},
    {"/v1/members/{}/redeem", EVHTTP_REQ_POST, post_redeem},
    {"/v1/stats", EVHTTP_REQ_GET, get_stats},
    {"/v1/partners/{}/summary", EVHTTP_REQ_GET, get_partner_summary},
    {"/v1/draws/{}", EVHTTP_REQ_GET, get_draw},
    {"/v1/draws/{}/rotate", EVHTTP_REQ_POST, post_draw_rotate},
    {"/v1/draws/{}/refill", EVHTTP_REQ_POST, post_draw_refill},
    {"/v1/leaderboards/{}", EVHTTP_REQ_GET, get_leaderboard},
};

/* 1 when path fits pattern, its parameter (if any) copied into param (size n); else 0. */
static int path_fits(const char *pattern, const char *path, char *param, size_t n)
{
    const char *hole = strstr(pattern, "{}"), *tail;
    size_t head, tail_len, len = strlen(path), got;
    if (!hole)
        return strcmp(pattern, path) == 0;
    head = (size_t)(hole - pattern);
    tail = hole + 2;
    tail_len = strlen(tail);
    if (len < head + tail_len || strncmp(path, pattern, head) ||
        strcmp(path + len - tail_len, tail))
        return 0;
    got = len - head - tail_len;
    if (memchr(path + head, '/', got) || got >= n)
        return 0;
    memcpy(param, path + head, got);
    param[got] = '\0';
    return 1;
}

/* "GET", "GET or PUT" ...: the methods of mask, for a 405's message. */
static void method_names(unsigned mask, char *out, size_t n)
{
    static const struct {
        enum evhttp_cmd_type m;
        const char *name;
    } names[] = {{EVHTTP_REQ_GET, "GET"},
                 {EVHTTP_REQ_POST, "POST"},
                 {EVHTTP_REQ_PUT, "PUT"},
                 {EVHTTP_REQ_DELETE, "DELETE"}};
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if ((mask & names[i].m) && used < n)
            used +=
                (size_t)snprintf(out + used, n - used, "%s%s", used ? " or " : "", names[i].name);
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

void route_request(struct evhttp_request *req, void *arg)
{
    server *s = arg;
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    const char *uri = evhttp_request_get_uri(req), *query = strchr(uri, '?');
    size_t plen = query ? (size_t)(query - uri) : strlen(uri);
    char path[512], param[512], allowed[40];
    unsigned mask = 0;

    s->stats.requests++;
    if (query)
        query++;
    if (plen >= sizeof path) {
        send_error(s, req, 404, "not_found", "no such resource");
        return;
    }
    memcpy(path, uri, plen);
    path[plen] = '\0';
    if (strncmp(path, "/v1/", 4) == 0) {
        if (!authorized(s, req)) {
            send_error(s, req, 401, "unauthorized",
                       "missing or wrong API key (Authorization: Bearer)");
            return;
        }
        if (s->draining) {
            send_error(s, req, 503, "unavailable", "punchd is shutting down");
            return;
        }
    }
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        const struct route *r = &routes[i];
        if (!path_fits(r->path, path, param, sizeof param))
            continue;
        if (!r->method || r->method == method) {
            r->handle(s, req, strstr(r->path, "{}") ? param : NULL, query);
            return;
        }
        mask |= (unsigned)r->method;
    }
    if (!mask) {
        send_error(s, req, 404, "not_found", "no such resource");
        return;
    }
    method_names(mask, allowed, sizeof allowed);
    send_error(s, req, 405, "method_not_allowed", "use %s", allowed);
}
