/*
 * The server itself (server.h): its life on one worker loop, the one way an
 * answer is sent (JSON, and every error rendered by pc_error_json()), and
 * the requests waiting on the engine, which a shutdown gives up cleanly.
 */
#include "server-internal.h"
#include "common/jsonw-internal.h"
#include "metrics.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
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
    case 429:
        return "Too Many Requests";
    case 503:
        return "Service Unavailable";
    case 507:
        return "Insufficient Storage";
    default:
        return status >= 500 ? "Internal Server Error" : "Error";
    }
}

/*
 * The Date header, formatted once a second per worker: evhttp would format it
 * (and the Content-Length) through snprintf for every answer.
 */
static const char *http_date(void)
{
    static _Thread_local time_t last = -1;
    static _Thread_local char text[40];
    time_t now = time(NULL);
    if (now != last) {
        struct tm tm;
        if (!gmtime_r(&now, &tm) || !strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm))
            return NULL;
        last = now;
    }
    return text;
}

/*
 * evhttp_send_reply(), and the answer written at once (server-internal.h:
 * every answer punchd composes, JSON or raw, goes through here). evhttp only queues
 * it and arms the connection's write event; the loop's next turn would find
 * the socket writable, write it and tell evhttp it went (evhttp then reads
 * the next request). Written here, the write event is armed and disarmed in
 * the same turn, which the event base's changelist (main.c) turns into no
 * system call at all, and evhttp is told as the write event would have: the
 * bufferevent's write callback, deferred to this same turn (not from inside
 * this function: evhttp may free req and the connection then). What the
 * socket does not take now (a full send buffer, an error) stays queued for
 * the write event, as before; so does an answer longer than one write of the
 * bufferevent (its max single write, as its own write callback would).
 */
void http_reply(struct evhttp_request *req, int status, const char *why, struct evbuffer *buf)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    struct evbuffer *out;
    evutil_socket_t fd;

    evhttp_send_reply(req, status, why, buf);
    if (!bev || (fd = bufferevent_getfd(bev)) < 0 || !(bufferevent_get_enabled(bev) & EV_WRITE))
        return;
    out = bufferevent_get_output(bev);
    if (evbuffer_get_length(out) &&
        evbuffer_write_atmost(out, fd, bufferevent_get_max_single_write(bev)) > 0 &&
        !evbuffer_get_length(out))
        bufferevent_trigger(bev, EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
}

static void add_fixed_headers(struct evhttp_request *req, size_t body_len)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    const char *date = http_date(); /* strftime's names: the C locale (punchd never sets one) */
    char n[24];
    if (date && !evhttp_find_header(h, "Date"))
        evhttp_add_header(h, "Date", date);
    if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD &&
        !evhttp_find_header(h, "Content-Length")) {
        n[pc_format_int(n, (int64_t)body_len)] = '\0';
        evhttp_add_header(h, "Content-Length", n);
    }
}

void send_json_text(server *s, struct evhttp_request *req, int status, const char *text, size_t len)
{
    struct evbuffer *buf = evbuffer_new();
    char *oom_text = NULL;

    if (!text) {
        pc_error err;
        json_t *oom;
        pc_fail(&err, 500, "internal", "out of memory");
        status = 500;
        oom = pc_error_json(&err);
        text = oom_text = oom ? pc_json_dump(oom, &len) : NULL;
        json_decref(oom);
    }
    if (status == 503 && !evhttp_find_header(evhttp_request_get_output_headers(req), "Retry-After"))
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
    if (status < 300)
        s->stats.status_2xx++;
    else if (status < 500)
        s->stats.status_4xx++;
    else
        s->stats.status_5xx++;
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    if (text && buf) {
        evbuffer_add(buf, text, len);
        evbuffer_add(buf, "\n", 1);
    }
    add_fixed_headers(req, buf ? evbuffer_get_length(buf) : 0);
    free(oom_text);
    access_done(s, req, status);
    http_reply(req, status, reason(status), buf);
    if (buf)
        evbuffer_free(buf);
}

void send_json(server *s, struct evhttp_request *req, int status, json_t *body)
{
    size_t len = 0;
    char *text = body ? pc_json_dump(body, &len) : NULL;
    json_decref(body);
    send_json_text(s, req, status, text, len);
    free(text);
}

void send_error(server *s, struct evhttp_request *req, int status, const char *code,
                const char *fmt, ...)
{
    pc_error err;
    va_list ap;
    pc_fail(&err, status, code, "%s", "");
    va_start(ap, fmt);
    vsnprintf(err.message, sizeof err.message, fmt, ap);
    va_end(ap);
    send_json(s, req, status, pc_error_json(&err));
}

pending_req *pending_new(server *s, struct evhttp_request *req, int is_event)
{
    pending_req *p = calloc(1, sizeof *p);
    if (!p) {
        send_error(s, req, 500, "internal", "out of memory");
        return NULL;
    }
    p->s = s;
    p->req = req;
    p->is_event = is_event;
    if (s->cur)
        p->ctx = *s->cur;
    p->next = s->pending;
    if (s->pending)
        s->pending->prev = p;
    s->pending = p;
    s->stats.inflight++;
    metrics_inflight(1);
    return p;
}

void pending_unlink(server *s, pending_req *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        s->pending = p->next;
    if (p->next)
        p->next->prev = p->prev;
    p->prev = p->next = NULL;
}

void on_engine_done(void *arg, int status, json_t *body)
{
    pending_req *p = arg;
    server *s = p->s;
    int dup;
    if (!s) {
        /* Given up by server_free(): nobody to answer, and the server is gone. */
        json_decref(body);
        free(p);
        return;
    }
    pending_unlink(s, p);
    /* body NULL: a committed event's answer is the engine's text (ENGINE_ANSWER_TEXT). */
    dup = p->is_event && status == 200 && body && json_is_true(json_object_get(body, "duplicate"));
    if (p->is_event && status == 200) {
        s->stats.events++;
        s->stats.duplicates += dup;
    }
    s->stats.inflight--;
    metrics_inflight(-1);
    if (p->is_event)
        access_event_answered(s->engine, status, body);
    /*
     * A client that hung up meanwhile: evhttp kept req (detached from its
     * connection) for exactly this reply, and frees it now. An event's
     * response may be written already (the text its commit stored).
     */
    s->cur = &p->ctx;
    /* Idempotency-key drafts: an answer repeated from the dedupe record says so. */
    if (dup)
        evhttp_add_header(evhttp_request_get_output_headers(p->req), "Idempotent-Replayed", "true");
    {
        size_t len;
        const char *text = engine_answer_text(s->engine, &len);
        if (text) {
            json_decref(body);
            send_json_text(s, p->req, status, text, len);
        } else {
            send_json(s, p->req, status, body);
        }
    }
    s->cur = NULL;
    free(p);
}

void submit_event(server *s, struct evhttp_request *req, pc_event *ev, int flags)
{
    pending_req *p;
    engine_call *c;
    access_note_event(s, ev->id, ev->member);
    if (ev->at_given && ev->at_ms > pc_now_ms() + s->cfg.max_future_ms) {
        send_error(s, req, 400, "bad_request",
                   "field \"at\" is more than %lld s in the future (--max-future-s)",
                   (long long)(s->cfg.max_future_ms / 1000));
        pc_event_clear(ev);
        return;
    }
    p = pending_new(s, req, 1);
    if (!p) {
        pc_event_clear(ev);
        return;
    }
    /*
     * NULL when the engine answered already (p is freed then); otherwise the
     * call is still running and p is alive: keep the call to cancel it.
     */
    if ((c = engine_submit_flags(s->engine, ev, flags | ENGINE_IDEMPOTENT | ENGINE_ANSWER_TEXT,
                                 on_engine_done, p)))
        p->call = c;
}

int parse_query(server *s, struct evhttp_request *req, const char *query, struct evkeyvalq *q)
{
    memset(q, 0, sizeof *q); /* an empty list, when there is no query */
    if (query && evhttp_parse_query_str(query, q)) {
        send_error(s, req, 400, "bad_request", "malformed query string");
        return -1;
    }
    return 0;
}

server *server_new(struct event_base *base, struct evhttp *http, engine *e, mech_holder *h,
                   const server_config *cfg)
{
    server *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->base = base;
    s->http = http;
    s->engine = e;
    s->holder = h;
    s->cfg = *cfg;
    if (!s->cfg.max_body)
        s->cfg.max_body = 64 * 1024;
    if (!s->cfg.max_batch_body)
        s->cfg.max_batch_body = 4 * 1024 * 1024;
    if (!s->cfg.max_future_ms)
        s->cfg.max_future_ms = 86400 * 1000LL;
    /* evhttp's own cap sits above ours, so too-large bodies still get our JSON 413 when small
     * enough to read. */
    evhttp_set_max_body_size(
        http, (ev_ssize_t)((s->cfg.max_batch_body > s->cfg.max_body ? s->cfg.max_batch_body
                                                                    : s->cfg.max_body) +
                           64 * 1024));
    evhttp_set_max_headers_size(http, 16 * 1024);
    evhttp_set_timeout(http, 30);
    /* Every method evhttp knows reaches the route table, which answers 405 with Allow. */
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                         EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS |
                                         EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_default_content_type(http, "application/json");
    evhttp_set_gencb(http, route_request, s);
    conns_attach(s);
    return s;
}

void server_free(server *s)
{
    pending_req *p, *next;
    if (!s)
        return;
    for (p = s->pending; p; p = next) {
        next = p->next;
        p->prev = p->next = NULL;
        p->s = NULL;
        p->req = NULL;
        metrics_inflight(-1);
        if (p->call) {
            engine_cancel(p->call); /* the engine will not answer: p goes now */
            free(p);
        } else if (p->batch) {
            batch_cancel(p->batch); /* none of its events will be answered */
            free(p);
        }
        /* A read cannot be cancelled: its answer still comes (at the latest when the store is
         * freed) and on_engine_done() drops it, with p. */
    }
    evhttp_set_gencb(s->http, NULL, NULL);
    conns_detach(s);
    free(s);
}

uint64_t server_drain(server *s)
{
    s->draining = 1;
    return s->stats.inflight;
}

void printable(char *out, size_t n, const char *in)
{
    size_t i = 0;
    for (; *in && i + 1 < n; in++)
        out[i++] = (*in >= 0x20 && *in < 0x7f && *in != '"' && *in != '\\') ? *in : '?';
    out[i] = '\0';
}

/*
 * evhttp answers some requests itself before any callback of ours sees them:
 * a malformed request line or header (400), headers or a body over its caps
 * (413), a method it does not know (501). It does so through this function,
 * with an HTML page; punchd defines it, and the dynamic linker binds
 * libevent's own calls to this definition (they go through its PLT), so
 * those answers are the documented JSON errors too. Connection: close, as
 * evhttp's own page has: the request could not be read to its end.
 */
void evhttp_send_error(struct evhttp_request *req, int error, const char *why)
{
    struct evbuffer *buf = evbuffer_new();
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    const char *code, *msg;
    pc_error err;
    json_t *j;
    char *text;

    if (error < 400 || error > 599) /* a status evhttp did not set: the request was unreadable */
        error = 400;
    code = error == 413   ? "too_large"
           : error == 404 ? "not_found"
           : error == 501 ? "not_implemented"
           : error == 503 ? "unavailable"
           : error >= 500 ? "internal"
                          : "bad_request";
    msg = error == 413   ? "the request's headers or body are too large"
          : error == 501 ? "unknown method"
          : error == 400 ? "malformed HTTP request"
                         : "the request cannot be served";
    pc_fail(&err, error, code, "%s", msg);
    j = pc_error_json(&err);
    text = j ? pc_json_dump(j, NULL) : NULL;
    json_decref(j);
    if (!req->major || !req->minor) { /* what evhttp's own page does for a request line unread */
        req->major = 1;
        req->minor = 1;
    }
    evhttp_clear_headers(out);
    evhttp_add_header(out, "Content-Type", "application/json");
    evhttp_add_header(out, "Connection", "close");
    if (buf && text) {
        evbuffer_add(buf, text, strlen(text));
        evbuffer_add(buf, "\n", 1);
    }
    free(text);
    evhttp_send_reply(req, error, why ? why : reason(error), buf);
    if (buf)
        evbuffer_free(buf);
}
