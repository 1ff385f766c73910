/*
 * POST /v1/events/batch: many events in one request, each its own exactly-once
 * transaction. The body is {"events": [...]} (Content-Type application/json) or
 * one event per line (application/x-ndjson). Every event is submitted to the
 * engine at once, so their Redis commands share the connection's pipeline; the
 * answer, {"results": [...]}, comes when the last one is decided, in the order
 * of the body. An event that is not valid gets its own error object in its
 * place; the others apply.
 */
#include "server-internal.h"
#include "common/jsonr.h"
#include "metrics.h"
#include "common/jsonw-internal.h"
#include "engine/builtin.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

/*
 * How long one replay batch holds every sweeper (engine_replay_hold()): far
 * more than punch import needs between two batches; the due sweeps resume
 * this long after the last one.
 */
#define REPLAY_HOLD_MS 120000

/* One event of a batch: where its answer goes. */
typedef struct batch_slot {
    batch *b;
    size_t index;
    engine_call *call; /* while the engine works on it */
    char *text;        /* its result, written: {"status": N, ...the body} */
    size_t len;
} batch_slot;

struct batch {
    pending_req *p; /* the request, on the server's list until answered */
    size_t n, left;
    batch_slot *slots;
};

/*
 * The result of one event as text: body's JSON (text, len) with "status" first.
 * The body's text is the engine's when it wrote it already (the response the
 * commit stored), so a batch's answer is assembled, not serialized again.
 */
static void slot_result(batch_slot *sl, int status, const char *text, size_t len)
{
    char head[32], *o;
    size_t hl = 0;
    memcpy(head, "{\"status\":", 10);
    hl = 10 + pc_format_int(head + 10, status);
    /* text is an object: "{}" or "{...}" */
    if (!text || len < 2 || text[0] != '{')
        return;
    if (!(o = malloc(hl + len + 1)))
        return;
    memcpy(o, head, hl);
    if (len == 2) {
        o[hl] = '}';
        sl->len = hl + 1;
    } else {
        o[hl] = ',';
        memcpy(o + hl + 1, text + 1, len - 1);
        sl->len = hl + len;
    }
    sl->text = o;
}

static void batch_free(batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->slots[i].text);
    free(b->slots);
    free(b);
}

/* The last event is decided: answer {"results": [...]} and free. */
static void batch_answer(batch *b)
{
    pending_req *p = b->p;
    server *s = p->s;
    size_t total = 16, at = 0;
    char *out;

    for (size_t i = 0; i < b->n; i++)
        total += (b->slots[i].text ? b->slots[i].len : 4) + 1;
    if ((out = malloc(total))) {
        memcpy(out, "{\"results\":[", 12);
        at = 12;
        for (size_t i = 0; i < b->n; i++) {
            if (i)
                out[at++] = ',';
            /* A result that could not be written (out of memory) is null. */
            if (b->slots[i].text) {
                memcpy(out + at, b->slots[i].text, b->slots[i].len);
                at += b->slots[i].len;
            } else {
                memcpy(out + at, "null", 4);
                at += 4;
            }
        }
        out[at++] = ']';
        out[at++] = '}';
    }
    pending_unlink(s, p);
    s->stats.inflight--;
    metrics_inflight(-1);
    s->cur = &p->ctx;
    send_json_text(s, p->req, 200, out, out ? at : 0);
    s->cur = NULL;
    free(out);
    free(p);
    batch_free(b);
}

static void on_event_done(void *arg, int status, json_t *body)
{
    batch_slot *sl = arg;
    batch *b = sl->b;
    server *s = b->p->s;

    sl->call = NULL;
    access_event_answered(s->engine, status, body);
    if (status == 200) {
        s->stats.events++;
        /* body NULL: a committed event (ENGINE_ANSWER_TEXT), answered with the engine's text. */
        if (body && json_is_true(json_object_get(body, "duplicate")))
            s->stats.duplicates++;
    }
    {
        size_t len;
        const char *text = engine_answer_text(s->engine, &len);
        char *own = NULL;
        if (!text)
            text = own = pc_json_dump(body, &len);
        slot_result(sl, status, text, len);
        free(own);
    }
    json_decref(body);
    if (--b->left == 0)
        batch_answer(b);
}

void batch_cancel(batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        engine_cancel(b->slots[i].call);
    batch_free(b);
}

/*
 * Hands event i to the engine (taking what ev owns) when it was parsed (err
 * NULL), or records its error: err, or what the checks after parsing refuse.
 */
static void batch_submit_event(batch *b, size_t i, pc_event *ev, const pc_error *parse_err)
{
    server *s = b->p->s;
    batch_slot *sl = &b->slots[i];
    pc_error err;

    sl->b = b;
    sl->index = i;
    if (parse_err) {
        err = *parse_err;
    } else if (ev->at_given && ev->at_ms > pc_now_ms() + s->cfg.max_future_ms) {
        pc_fail(&err, 400, "bad_request",
                "field \"at\" is more than %lld s in the future (--max-future-s)",
                (long long)(s->cfg.max_future_ms / 1000));
    } else if (!builtin_reserved_type(ev->type)) {
        /* NULL when it answered already (on_event_done ran). */
        sl->call = engine_submit_flags(s->engine, ev, ENGINE_IDEMPOTENT | ENGINE_ANSWER_TEXT,
                                       on_event_done, sl);
        return;
    } else {
        pc_fail(&err, 400, "bad_request", "event type \"%s\" is the engine's own; use its endpoint",
                ev->type);
    }
    pc_event_clear(ev);
    on_event_done(sl, err.status, pc_error_json(&err));
}

/* Checks one event (obj borrowed, or NULL with parse_err) and hands it on, as above. */
static void batch_submit(batch *b, size_t i, json_t *obj, const pc_error *parse_err)
{
    pc_event ev;
    pc_error err;
    memset(&ev, 0, sizeof ev);
    if (!parse_err && pc_event_from_json(obj, &ev, &err))
        parse_err = &err;
    batch_submit_event(b, i, &ev, parse_err);
}

/* Is the body NDJSON (by its Content-Type)? */
static int is_ndjson(struct evhttp_request *req)
{
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
    return ct &&
           (!strncmp(ct, "application/x-ndjson", 20) || !strncmp(ct, "application/jsonl", 17));
}

/* The lines of an NDJSON body that hold something: their start and length. */
typedef struct line_span {
    const char *at;
    size_t len, lineno; /* lineno counts from 1, blank lines included */
} line_span;

/* Splits text into its non-blank lines; -1 when there are more than max. */
static ssize_t split_lines(const char *text, size_t len, line_span *out, size_t max)
{
    size_t n = 0, lineno = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end, *q = p;
        while (q < e && (*q == ' ' || *q == '\t' || *q == '\r'))
            q++;
        lineno++;
        if (q < e) {
            if (n == max)
                return -1;
            out[n].at = p;
            out[n].len = (size_t)(e - p);
            out[n].lineno = lineno;
            n++;
        }
        p = nl ? nl + 1 : end;
    }
    return (ssize_t)n;
}

/* A new batch of n events for req; NULL after answering 500. */
static batch *batch_new(server *s, struct evhttp_request *req, size_t n)
{
    batch *b = calloc(1, sizeof *b);
    if (b) {
        b->n = b->left = n;
        b->slots = calloc(n ? n : 1, sizeof *b->slots);
    }
    if (!b || !b->slots) {
        free(b);
        send_error(s, req, 500, "internal", "out of memory");
        return NULL;
    }
    if (!(b->p = pending_new(s, req, 0))) {
        batch_free(b);
        return NULL;
    }
    b->p->batch = b;
    return b;
}

/* Answers an empty batch at once. */
static void answer_empty(server *s, struct evhttp_request *req)
{
    send_json(s, req, 200, json_pack("{s:[]}", "results"));
}

static void post_batch_ndjson(server *s, struct evhttp_request *req, const char *text, size_t len)
{
    line_span *lines = malloc(BATCH_MAX_EVENTS * sizeof *lines);
    ssize_t n;
    batch *b;

    if (!lines) {
        send_error(s, req, 500, "internal", "out of memory");
        return;
    }
    n = split_lines(text, len, lines, BATCH_MAX_EVENTS);
    if (n < 0)
        send_error(s, req, 413, "too_large", "a batch holds at most %d events", BATCH_MAX_EVENTS);
    else if (n == 0)
        answer_empty(s, req);
    else if ((b = batch_new(s, req, (size_t)n))) {
        /* The count drops to zero with the last answer: hold one until every line is in. */
        b->left++;
        for (size_t i = 0; i < (size_t)n; i++) {
            pc_json_error jerr;
            json_t *obj;
            pc_error err;
            pc_event ev;
            if (pc_event_take(lines[i].at, lines[i].len, &ev) == 0) { /* the common case */
                batch_submit_event(b, i, &ev, NULL);
                continue;
            }
            obj = pc_json_parse(lines[i].at, lines[i].len, &jerr);
            if (!obj)
                pc_fail(&err, 400, "bad_json", "line %zu: invalid JSON at column %d: %s",
                        lines[i].lineno, jerr.column, jerr.text);
            batch_submit(b, i, obj, obj ? NULL : &err);
            json_decref(obj);
        }
        if (--b->left == 0)
            batch_answer(b);
    }
    free(lines);
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

/*
 * The common body in one pass: {"events": [...]} spelled plainly, 1 to
 * BATCH_MAX_EVENTS objects that pc_event_take() takes, every event parsed
 * before any is submitted. 1 when it answered; 0 (nothing done) for anything
 * else, which the long way reads (and says what is wrong with).
 */
static int post_batch_one_pass(server *s, struct evhttp_request *req, const char *text, size_t len)
{
    static const char head[] = "\"events\"";
    const char *p = text, *end = text + len;
    pc_event *evs = NULL;
    size_t n = 0, cap = 0;
    batch *b;

    p = skip_ws(p, end);
    if (p == end || *p++ != '{')
        return 0;
    p = skip_ws(p, end);
    if ((size_t)(end - p) < sizeof head - 1 || memcmp(p, head, sizeof head - 1))
        return 0;
    p += sizeof head - 1;
    p = skip_ws(p, end);
    if (p == end || *p++ != ':')
        return 0;
    p = skip_ws(p, end);
    if (p == end || *p++ != '[')
        return 0;
    for (;;) {
        size_t span;
        p = skip_ws(p, end);
        if (n == BATCH_MAX_EVENTS || !(span = pc_json_span(p, (size_t)(end - p))))
            goto long_way;
        if (n == cap) {
            pc_event *more = realloc(evs, (cap = cap ? cap * 2 : 64) * sizeof *evs);
            if (!more)
                goto long_way;
            evs = more;
        }
        if (pc_event_take(p, span, &evs[n]))
            goto long_way;
        n++;
        p += span;
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p == end || *p++ != ']')
            goto long_way;
        p = skip_ws(p, end);
        if (p == end || *p++ != '}')
            goto long_way;
        p = skip_ws(p, end);
        if (p != end)
            goto long_way;
        break;
    }
    if ((b = batch_new(s, req, n))) {
        b->left++;
        for (size_t i = 0; i < n; i++)
            batch_submit_event(b, i, &evs[i], NULL);
        if (--b->left == 0)
            batch_answer(b);
    } else {
        for (size_t i = 0; i < n; i++)
            pc_event_clear(&evs[i]);
    }
    free(evs);
    return 1;
long_way:
    for (size_t i = 0; i < n; i++)
        pc_event_clear(&evs[i]);
    free(evs);
    return 0;
}

static void post_batch_json(server *s, struct evhttp_request *req, const char *text, size_t len)
{
    pc_json_error jerr;
    json_t *doc, *events, *ev;
    size_t n, i;
    batch *b;

    if (post_batch_one_pass(s, req, text, len))
        return;
    if (!(doc = pc_json_parse(text, len, &jerr))) {
        send_error(s, req, 400, "bad_json", "invalid JSON at line %d column %d: %s", jerr.line,
                   jerr.column, jerr.text);
        return;
    }
    events = json_object_get(doc, "events");
    if (!json_is_object(doc) || !json_is_array(events) || json_object_size(doc) != 1) {
        send_error(s, req, 400, "bad_request",
                   "the body must be {\"events\": [...]} (or NDJSON, one event per line)");
    } else if ((n = json_array_size(events)) > BATCH_MAX_EVENTS) {
        send_error(s, req, 413, "too_large", "a batch holds at most %d events", BATCH_MAX_EVENTS);
    } else if (n == 0) {
        answer_empty(s, req);
    } else if ((b = batch_new(s, req, n))) {
        b->left++;
        json_array_foreach(events, i, ev)
            batch_submit(b, i, ev, NULL);
        if (--b->left == 0)
            batch_answer(b);
    }
    json_decref(doc);
}

/* The replay hold is in Redis (or could not be set): the empty replay batch is answered. */
static void on_replay_held(void *arg, int ok)
{
    pc_error err;
    if (ok) {
        on_engine_done(arg, 200, json_pack("{s:[], s:b}", "results", "replay", 1));
        return;
    }
    pc_fail(&err, 503, "unavailable", "Redis did not take the replay hold; retry");
    on_engine_done(arg, 503, pc_error_json(&err));
}

/* POST /v1/events/batch[?replay=1] */
void post_batch(server *s, struct evhttp_request *req, const char *arg, const char *query)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *text;
    int replay = query && !strcmp(query, "replay=1");

    if (query && !strcmp(query, "replay=end") && len == 0) {
        /* The replay is over: the hold lapses now (a hold of 1 ms). */
        pending_req *p = pending_new(s, req, 0);
        if (p)
            engine_replay_hold(s->engine, 1, on_replay_held, p);
        return;
    }
    if (query && *query && !replay) {
        send_error(s, req, 400, "bad_request",
                   "a batch takes no query parameters but replay=1 (or replay=end, empty)");
        return;
    }
    if (replay && len == 0) {
        /* Sets the hold and answers once Redis has it: the replay may then begin. */
        pending_req *p = pending_new(s, req, 0);
        if (p)
            engine_replay_hold(s->engine, REPLAY_HOLD_MS, on_replay_held, p);
        return;
    }
    if (replay) /* every batch of the replay keeps the hold alive */
        engine_replay_hold(s->engine, REPLAY_HOLD_MS, NULL, NULL);
    if (len > s->cfg.max_batch_body) {
        send_error(s, req, 413, "too_large", "the batch body is larger than %zu bytes",
                   s->cfg.max_batch_body);
        return;
    }
    if (len == 0) {
        send_error(s, req, 400, "bad_json", "the body is empty; send {\"events\": [...]}");
        return;
    }
    if (!(text = (const char *)evbuffer_pullup(in, -1))) {
        send_error(s, req, 500, "internal", "out of memory");
        return;
    }
    if (is_ndjson(req))
        post_batch_ndjson(s, req, text, len);
    else
        post_batch_json(s, req, text, len);
}
