/*
 * The access log and the request metrics: one structured line per answered
 * request (method, route pattern, status, duration, member, event id,
 * request id, API key name) and the counters of metrics.c. The request id is
 * the client's X-Request-Id when it is a fit one (1-128 of A-Z a-z 0-9 and
 * . _ : @ + -), else one made here; either way it is sent back.
 */
#include "server-internal.h"
#include "metrics.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* 32 hex digits: 64 random bits per thread (once) and a counter. */
static void make_request_id(char out[33])
{
    static _Thread_local uint64_t seed, count;
    if (!seed && getrandom(&seed, sizeof seed, 0) != sizeof seed)
        seed = (uint64_t)mono_us() ^ (uint64_t)(uintptr_t)&count;
    static const char hex[] = "0123456789abcdef";
    uint64_t c = ++count;
    for (int i = 0; i < 16; i++) {
        out[i] = hex[(seed >> (60 - 4 * i)) & 15];
        out[16 + i] = hex[(c >> (60 - 4 * i)) & 15];
    }
    out[32] = '\0';
}

void access_begin(req_ctx *ctx, struct evhttp_request *req)
{
    const char *given = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Request-Id");
    memset(ctx, 0, sizeof *ctx);
    ctx->req = req;
    ctx->route = -1;
    ctx->start_us = mono_us();
    if (given && pc_valid_id(given))
        pc_copy(ctx->request_id, sizeof ctx->request_id, given);
    else
        make_request_id(ctx->request_id);
    evhttp_add_header(evhttp_request_get_output_headers(req), "X-Request-Id", ctx->request_id);
}

void access_note_event(server *s, const char *id, const char *member)
{
    if (!s->cur)
        return;
    pc_copy(s->cur->event_id, sizeof s->cur->event_id, id);
    pc_copy(s->cur->member, sizeof s->cur->member, member);
}

static const char *method_name(enum evhttp_cmd_type m)
{
    switch (m) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    default:
        return "OTHER";
    }
}

void access_done(server *s, struct evhttp_request *req, int status)
{
    req_ctx *ctx = s->cur && s->cur->req == req ? s->cur : NULL;
    int64_t us;
    const char *pattern = NULL, *method;

    if (!ctx) /* answered before routing (a front-line refusal): counted, not timed */
        return metrics_request(-1, status, 0);
    if (ctx->start_us == 0) /* answered twice: count the first only */
        return;
    us = mono_us() - ctx->start_us;
    ctx->start_us = 0;
    metrics_request(ctx->route, status, us);
    if (!pc_log_enabled(PC_LOG_INFO))
        return;
    if (ctx->route >= 0)
        pattern = route_pattern((size_t)ctx->route, &method);
    {
        pc_logline l;
        pc_logline_begin(&l, PC_LOG_INFO, "access");
        pc_logline_str(&l, "method", method_name(evhttp_request_get_command(req)));
        pc_logline_str(&l, "route", pattern);
        pc_logline_int(&l, "status", status);
        pc_logline_int(&l, "duration_us", us);
        pc_logline_str(&l, "request_id", ctx->request_id);
        pc_logline_str(&l, "member", ctx->member[0] ? ctx->member : NULL);
        pc_logline_str(&l, "event_id", ctx->event_id[0] ? ctx->event_id : NULL);
        pc_logline_str(&l, "key", ctx->key[0] ? ctx->key : NULL);
        pc_logline_end(&l);
    }
}

void access_event_answered(const engine *e, int status, const json_t *body)
{
    size_t i;
    const json_t *o;
    const char *type, *kind;
    if (status != 200)
        return;
    if (!body) { /* a committed event, answered as text: its outcomes' kinds from the engine */
        size_t n = engine_answer_outcomes(e, &type);
        if (!type)
            return;
        metrics_event(type, 0);
        for (i = 0; i < n; i++)
            if ((kind = engine_answer_kind(e, i)))
                metrics_outcome(kind);
        return;
    }
    type = json_string_value(json_object_get(body, "type"));
    if (!type)
        return;
    metrics_event(type, json_is_true(json_object_get(body, "duplicate")));
    json_array_foreach(json_object_get(body, "outcomes"), i, o) {
        kind = json_string_value(json_object_get(o, "kind"));
        if (kind)
            metrics_outcome(kind);
    }
}

void send_raw(server *s, struct evhttp_request *req, int status, const char *ctype,
              const char *text, size_t len)
{
    struct evbuffer *buf = evbuffer_new();
    if (buf)
        evbuffer_add(buf, text, len);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
    if (status < 300)
        s->stats.status_2xx++;
    access_done(s, req, status);
    http_reply(req, status, status == 200 ? "OK" : "Error", buf);
    if (buf)
        evbuffer_free(buf);
}
