/*
 * HTTP API v1 (README.md): the one route table, method and path to handler.
 * A path no route has is 404; a path that routes have, asked with another
 * method, is 405. /v1/ wants the API key (when set) and is refused while the
 * server drains. Also the handlers of events, members, mechanics, /healthz
 * and /metrics; money.c and game.c hold the others.
 */
#include "server-internal.h"
#include "apikeys.h"
#include "metrics.h"
#include "engine/builtin.h"
#include "punchcard/query.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* 400 naming the member id of the path that is not one. */
static void bad_member(server *s, struct evhttp_request *req, const char *member)
{
    char shown[160];
    printable(shown, sizeof shown, member);
    send_error(s, req, 400, "bad_request",
               "bad member id \"%s\" (1-128 of A-Z a-z 0-9 . _ : @ + -)", shown);
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
        bad_member(s, req, member);
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
        bad_member(s, req, member);
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

/* GET /v1/mechanics: the live set, the last reload error, the program's shared history */
static void get_mechanics(server *s, struct evhttp_request *req, const char *arg, const char *query)
{
    pending_req *p;
    if ((p = pending_new(s, req, 0)))
        engine_get_mechanics(s->engine, on_engine_done, p);
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

/*
 * The table. "{}" in a path is its one parameter: any run of characters but
 * '/' (empty included: the handler refuses a bad one). method 0: any. scope:
 * what the API key must allow (apikeys.h); SCOPE_NONE outside /v1/.
 */
static const struct route {
    const char *path;
    enum evhttp_cmd_type method;
    route_fn *handle;
    unsigned scope;
} routes[] = {
    {"/healthz", 0, get_health, SCOPE_NONE},
    {"/metrics", 0, get_metrics, SCOPE_NONE},
    {"/v1/openapi.json", EVHTTP_REQ_GET, get_openapi, SCOPE_READ},
    {"/v1/events", EVHTTP_REQ_POST, post_event, SCOPE_EVENTS},
    {"/v1/events/batch", EVHTTP_REQ_POST, post_batch, SCOPE_EVENTS},
    {"/v1/events/{}/reverse", EVHTTP_REQ_POST, post_reverse, SCOPE_EVENTS},
    {"/v1/mechanics", EVHTTP_REQ_GET, get_mechanics, SCOPE_READ},
    {"/v1/members/{}", EVHTTP_REQ_GET, get_member, SCOPE_READ},
    {"/v1/members/{}", EVHTTP_REQ_PUT, put_member, SCOPE_EVENTS},
    {"/v1/members/{}/ledger", EVHTTP_REQ_GET, get_ledger, SCOPE_READ},
    {"/v1/members/{}/redeem", EVHTTP_REQ_POST, post_redeem, SCOPE_EVENTS},
    {"/v1/stats", EVHTTP_REQ_GET, get_stats, SCOPE_READ},
    {"/v1/partners/{}/summary", EVHTTP_REQ_GET, get_partner_summary, SCOPE_READ},
    {"/v1/draws/{}", EVHTTP_REQ_GET, get_draw, SCOPE_READ},
    {"/v1/draws/{}/rotate", EVHTTP_REQ_POST, post_draw_rotate, SCOPE_ADMIN},
    {"/v1/draws/{}/refill", EVHTTP_REQ_POST, post_draw_refill, SCOPE_ADMIN},
    {"/v1/leaderboards/{}", EVHTTP_REQ_GET, get_leaderboard, SCOPE_READ},
    {"/v1/experiments/{}", EVHTTP_REQ_GET, get_experiment, SCOPE_READ},
    {"/v1/budgets/{}", EVHTTP_REQ_GET, get_budget, SCOPE_READ},
    {"/console", EVHTTP_REQ_GET, get_console, SCOPE_NONE},
    {"/console/{}", EVHTTP_REQ_GET, get_console, SCOPE_NONE},
    {"/v1/offers", EVHTTP_REQ_GET, get_offers, SCOPE_READ},
    {"/v1/offers/{}", EVHTTP_REQ_GET, get_offer, SCOPE_READ},
    {"/v1/webhooks/deliveries", EVHTTP_REQ_GET, get_webhook_deliveries, SCOPE_ADMIN},
    {"/v1/webhooks/dead/{}/retry", EVHTTP_REQ_POST, post_webhook_retry, SCOPE_ADMIN},
    {"/v1/draws", EVHTTP_REQ_GET, get_draws, SCOPE_READ},
    {"/v1/budgets", EVHTTP_REQ_GET, get_budgets, SCOPE_READ},
    {"/v1/leaderboards", EVHTTP_REQ_GET, get_leaderboards, SCOPE_READ},
    {"/v1/offers/{}/codes", EVHTTP_REQ_POST, post_offer_codes, SCOPE_ADMIN},
    {"/v1/broadcasts", EVHTTP_REQ_POST, post_broadcast, SCOPE_ADMIN},
    {"/v1/broadcasts/{}", EVHTTP_REQ_GET, get_broadcast, SCOPE_READ},
    {"/v1/broadcasts", EVHTTP_REQ_GET, get_broadcasts, SCOPE_READ},
    {"/v1/broadcasts/{}/cancel", EVHTTP_REQ_POST, post_broadcast_cancel, SCOPE_ADMIN},
};

size_t route_count(void)
{
    return sizeof routes / sizeof *routes;
}

const char *route_pattern(size_t i, const char **method)
{
    static const char *const names[] = {"GET", "POST", "PUT", "DELETE"};
    enum evhttp_cmd_type m = routes[i].method;
    *method = m == EVHTTP_REQ_GET      ? names[0]
              : m == EVHTTP_REQ_POST   ? names[1]
              : m == EVHTTP_REQ_PUT    ? names[2]
              : m == EVHTTP_REQ_DELETE ? names[3]
                                       : "any";
    return routes[i].path;
}

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

/*
 * A path parameter percent-decoded in place ("ann%40shop.com" is
 * "ann@shop.com"). -1 for a malformed escape or one that decodes to NUL.
 */
static int percent_decode(char *p)
{
    char *w = p;
    for (; *p; p++) {
        if (*p != '%') {
            *w++ = *p;
            continue;
        }
        int hi = p[1], lo = hi ? p[2] : 0, v;
        if (!isxdigit(hi) || !isxdigit(lo))
            return -1;
        v = (isdigit(hi) ? hi - '0' : (tolower(hi) - 'a' + 10)) * 16 +
            (isdigit(lo) ? lo - '0' : (tolower(lo) - 'a' + 10));
        if (v == 0)
            return -1;
        *w++ = (char)v;
        p += 2;
    }
    *w = '\0';
    return 0;
}

/*
 * Request framing two readers could disagree on (request smuggling): two
 * Content-Length headers, or one with Transfer-Encoding. 1 when so.
 */
static int ambiguous_length(struct evhttp_request *req)
{
    const struct evkeyval *h;
    int lengths = 0, te = 0;
    for (h = evhttp_request_get_input_headers(req)->tqh_first; h; h = h->next.tqe_next) {
        lengths += strcasecmp(h->key, "Content-Length") == 0;
        te |= strcasecmp(h->key, "Transfer-Encoding") == 0;
    }
    return lengths > 1 || (lengths && te);
}

/* "GET", "GET or PUT" ...: the methods of mask, for a 405's message (sep " or ") or Allow (", ").
 */
static void method_names(unsigned mask, const char *sep, char *out, size_t n)
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
            used += (size_t)snprintf(out + used, n - used, "%s%s", used ? sep : "", names[i].name);
}

/*
 * The API key check of a matched /v1/ route: 0 to go on, or -1 after
 * answering 401, 403 or 429. The RateLimit headers go on every answer of a
 * rate-limited key.
 */
static int check_key(server *s, struct evhttp_request *req, unsigned scope)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    apikey_verdict v;
    char num[24];

    apikeys_check(s->cfg.keys,
                  evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization"), scope,
                  &v);
    if (v.name[0] && s->cur)
        snprintf(s->cur->key, sizeof s->cur->key, "%s", v.name);
    if (v.limited) {
        snprintf(num, sizeof num, "%ld", v.limit);
        evhttp_add_header(out, "RateLimit-Limit", num);
        snprintf(num, sizeof num, "%ld", v.remaining);
        evhttp_add_header(out, "RateLimit-Remaining", num);
        snprintf(num, sizeof num, "%ld", v.reset_s);
        evhttp_add_header(out, "RateLimit-Reset", num);
    }
    if (!v.status)
        return 0;
    metrics_auth_refused(v.status);
    if (v.status == 401) {
        evhttp_add_header(out, "WWW-Authenticate", "Bearer realm=\"punchd\"");
        send_error(s, req, 401, "unauthorized", "missing or wrong API key (Authorization: Bearer)");
    } else if (v.status == 403) {
        send_error(s, req, 403, "forbidden", "the API key lacks the \"%s\" scope",
                   apikeys_scope_name(scope));
    } else {
        snprintf(num, sizeof num, "%ld", v.retry_after_s);
        evhttp_add_header(out, "Retry-After", num);
        send_error(s, req, 429, "rate_limited",
                   "the API key's rate limit is spent; retry after %ld s", v.retry_after_s);
    }
    return -1;
}

/* Runs the route's handler with req as the server's current request. */
static void dispatch(server *s, struct evhttp_request *req, req_ctx *ctx, size_t i,
                     const char *param, const char *query)
{
    const struct route *r = &routes[i];
    ctx->route = (int)i;
    if (r->scope != SCOPE_NONE) {
        if (check_key(s, req, r->scope))
            return;
        if (s->draining) {
            send_error(s, req, 503, "unavailable", "punchd is shutting down");
            return;
        }
        /* The member a route names in its path, for the access log. */
        if (strncmp(r->path, "/v1/members/{}", 14) == 0)
            snprintf(ctx->member, sizeof ctx->member, "%.128s", param);
        else if (strncmp(r->path, "/v1/events/{}", 13) == 0)
            snprintf(ctx->event_id, sizeof ctx->event_id, "%.128s", param);
    }
    r->handle(s, req, strstr(r->path, "{}") ? param : NULL, query);
}

void route_request(struct evhttp_request *req, void *arg)
{
    server *s = arg;
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    const char *uri = evhttp_request_get_uri(req), *query = strchr(uri, '?');
    size_t plen = query ? (size_t)(query - uri) : strlen(uri);
    char path[512], param[512], allowed[40], allow[40];
    unsigned mask = 0;
    req_ctx ctx;

    s->stats.requests++;
    conns_request_in(s, req);
    access_begin(&ctx, req);
    s->cur = &ctx;
    if (query)
        query++;
    if (plen >= sizeof path) {
        send_error(s, req, 404, "not_found", "no such resource");
        goto out;
    }
    memcpy(path, uri, plen);
    path[plen] = '\0';
    if (ambiguous_length(req)) {
        /* The body's end is in doubt, and so is the next request's start: close after. */
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        send_error(s, req, 400, "bad_request",
                   "more than one Content-Length, or Content-Length with Transfer-Encoding");
        goto out;
    }
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        const struct route *r = &routes[i];
        if (!path_fits(r->path, path, param, sizeof param))
            continue;
        if (!r->method || r->method == method) {
            /* The handler checks what the parameter decodes to, and names it when bad. */
            if (strstr(r->path, "{}") && percent_decode(param)) {
                send_error(s, req, 400, "bad_request",
                           "the path has a malformed %%-escape (or one of NUL)");
                goto out;
            }
            dispatch(s, req, &ctx, i, param, query);
            goto out;
        }
        mask |= (unsigned)r->method;
    }
    /* Unknown paths under /v1/ still ask for a key first: they say nothing to a stranger. */
    if (strncmp(path, "/v1/", 4) == 0 && apikeys_enabled(s->cfg.keys) &&
        check_key(s, req, SCOPE_READ | SCOPE_EVENTS | SCOPE_ADMIN))
        goto out;
    if (!mask) {
        send_error(s, req, 404, "not_found", "no such resource");
        goto out;
    }
    method_names(mask, " or ", allowed, sizeof allowed);
    method_names(mask, ", ", allow, sizeof allow);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
    send_error(s, req, 405, "method_not_allowed", "use %s", allowed);
out:
    s->cur = NULL;
}
