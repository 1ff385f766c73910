/*
 * The money endpoints of HTTP API v1: member attributes, redemption,
 * reversal, partner summaries and program figures. The first three become
 * internal events ("profile", "redeem", "reverse") and go through the very
 * transaction events do: exactly once by id, all-or-nothing.
 */
#include "server-internal.h"
#include "store/keys-internal.h"
#include "store/store-internal.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>

/* The request's JSON object body, or NULL after an error response. */
static json_t *read_body(server *s, struct evhttp_request *req)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    json_error_t jerr;
    json_t *j;
    if (len > s->cfg.max_body) {
        send_error(s, req, 413, "too_large", "the body is too large");
        return NULL;
    }
    j = json_loadb((const char *)evbuffer_pullup(in, -1), len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        char msg[300];
        snprintf(msg, sizeof msg, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
                 jerr.text);
        send_error(s, req, 400, "bad_json", msg);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        send_error(s, req, 400, "bad_request", "the body must be a JSON object");
        return NULL;
    }
    return j;
}

/* Refuses fields other than the allowed ones (NULL-terminated). 0, or -1 after a response. */
static int only_fields(server *s, struct evhttp_request *req, json_t *body,
                       const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v)
    {
        int ok = 0;
        for (int i = 0; allowed[i]; i++)
            ok |= !strcmp(k, allowed[i]);
        if (!ok) {
            char msg[160];
            snprintf(msg, sizeof msg, "unknown field \"%.64s\"", k);
            send_error(s, req, 400, "bad_request", msg);
            return -1;
        }
    }
    return 0;
}

/* The body, an object with only the allowed fields (NULL-terminated); NULL after an error response.
 */
static json_t *read_fields(server *s, struct evhttp_request *req, const char *const *allowed)
{
    json_t *body = read_body(s, req);
    if (body && only_fields(s, req, body, allowed)) {
        json_decref(body);
        return NULL;
    }
    return body;
}

/* Submits an internal event built from its parts (data stolen). */
static void submit(server *s, struct evhttp_request *req, const char *id, const char *type,
                   const char *member, json_t *at, const char *partner, json_t *data)
{
    json_t *obj =
        json_pack("{s:s, s:s, s:s, s:o}", "id", id, "type", type, "member", member, "data", data);
    pc_event ev;
    pc_error err;
    pending_req *p;
    if (at)
        json_object_set(obj, "at", at);
    if (partner)
        json_object_set_new(obj, "partner", json_string(partner));
    if (pc_event_from_json(obj, &ev, &err)) {
        json_decref(obj);
        send_error(s, req, err.status, err.code, err.message);
        return;
    }
    json_decref(obj);
    if (!(p = pending_new(s, req, 1))) {
        pc_event_clear(&ev);
        send_error(s, req, 500, "internal", "out of memory");
        return;
    }
    engine_submit(s->engine, &ev, on_engine_done, p);
}

static const char *opt_string(json_t *body, const char *key, int *bad)
{
    json_t *v = json_object_get(body, key);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v))
        *bad = 1;
    return json_string_value(v);
}

/* PUT /v1/members/{m}: {"id"?, "attributes"?: {name: string | null}, "tier_floor"?: name | null} */
static void put_member(server *s, struct evhttp_request *req, const char *member, const char *query)
{
    static const char *const allowed[] = {"id", "attributes", "tier_floor", NULL};
    static unsigned long seq;
    json_t *body = read_fields(s, req, allowed), *attrs, *v, *data;
    const char *id, *k;
    char gen[64];
    int bad = 0;
    if (!body)
        return;
    id = opt_string(body, "id", &bad);
    attrs = json_object_get(body, "attributes");
    if (bad || (attrs && !json_is_object(attrs))) {
        send_error(s, req, 400, "bad_request", "id must be a string and attributes an object");
        goto out;
    }
    if (json_object_size(attrs) > 64) {
        send_error(s, req, 400, "bad_request", "at most 64 attributes at once");
        goto out;
    }
    json_object_foreach(attrs, k, v)
    {
        if (!pc_valid_name(k) ||
            !(json_is_null(v) || (json_is_string(v) && json_string_length(v) <= 256))) {
            send_error(s, req, 400, "bad_request",
                       "attribute names are 1-64 of a-z 0-9 _ . -, values strings of at most 256 "
                       "bytes, or null to remove");
            goto out;
        }
    }
    v = json_object_get(body, "tier_floor");
    if (v && !json_is_null(v) && (!json_is_string(v) || !pc_valid_name(json_string_value(v)))) {
        send_error(s, req, 400, "bad_request", "tier_floor must be a tier name or null");
        goto out;
    }
    if (!id) {
        snprintf(gen, sizeof gen, "profile-%lld-%lu", (long long)pc_now_ms(), ++seq);
        id = gen;
    }
    data = json_object();
    if (attrs)
        json_object_set(data, "attributes", attrs);
    if (v)
        json_object_set(data, "tier_floor", v);
    submit(s, req, id, "profile", member, NULL, NULL, data);
out:
    json_decref(body);
}

/* POST /v1/members/{m}/redeem: {"id", "currency", "amount", "reason"?, "order_total"?, "partner"?,
 * "at"?} */
static void redeem(server *s, struct evhttp_request *req, const char *member, const char *query)
{
    static const char *const allowed[] = {"id",          "currency", "amount", "reason",
                                          "order_total", "partner",  "at",     NULL};
    json_t *body = read_fields(s, req, allowed), *amount, *total, *data;
    const char *id, *cur, *reason, *partner;
    int bad = 0;
    if (!body)
        return;
    id = opt_string(body, "id", &bad);
    cur = opt_string(body, "currency", &bad);
    reason = opt_string(body, "reason", &bad);
    partner = opt_string(body, "partner", &bad);
    amount = json_object_get(body, "amount");
    total = json_object_get(body, "order_total");
    if (bad || !id || !cur || !pc_valid_name(cur) || !json_is_integer(amount) ||
        json_integer_value(amount) <= 0 || (reason && strlen(reason) > 200) ||
        (total && !json_is_null(total) &&
         (!json_is_integer(total) || json_integer_value(total) < 0))) {
        send_error(s, req, 400, "bad_request",
                   "redeem needs id, currency (a-z 0-9 _ . -) and a whole positive amount; "
                   "reason is text of at most 200 bytes, order_total a whole number");
        goto out;
    }
    data = json_pack("{s:s, s:O}", "currency", cur, "amount", amount);
    if (reason)
        json_object_set_new(data, "reason", json_string(reason));
    if (total && !json_is_null(total))
        json_object_set(data, "order_total", total);
    submit(s, req, id, "redeem", member, json_object_get(body, "at"), partner, data);
out:
    json_decref(body);
}

/* POST /v1/events/{id}/reverse: {"member", "id"?, "currency"?, "amount"? | "items"?, "reason"?} */
static void reverse(server *s, struct evhttp_request *req, const char *event_id, const char *query)
{
    static const char *const allowed[] = {"member", "id",     "currency", "amount",
                                          "items",  "reason", NULL};
    json_t *body = read_fields(s, req, allowed), *amount, *data, *items;
    const char *member, *id, *cur, *reason;
    char gen[PC_ID_MAX + 1];
    int bad = 0;
    if (!body)
        return;
    member = opt_string(body, "member", &bad);
    id = opt_string(body, "id", &bad);
    cur = opt_string(body, "currency", &bad);
    reason = opt_string(body, "reason", &bad);
    amount = json_object_get(body, "amount");
    items = json_object_get(body, "items");
    if (items && (!json_is_array(items) || json_array_size(items) == 0 ||
                  json_array_size(items) > 100 || amount)) {
        send_error(s, req, 400, "bad_request",
                   "items is a list of 1-100 of the order's items, instead of an amount");
        goto out;
    }
    if (items && !id) {
        send_error(s, req, 400, "bad_request",
                   "a partial reversal needs its own id, so that a retry is not a second refund");
        goto out;
    }
    if (bad || !member || (cur && !pc_valid_name(cur)) ||
        (amount && (!json_is_integer(amount) || json_integer_value(amount) <= 0 || !cur))) {
        send_error(s, req, 400, "bad_request",
                   "reverse needs the member; a partial reversal names a currency and a whole "
                   "positive amount");
        goto out;
    }
    if (amount && !id) {
        send_error(s, req, 400, "bad_request",
                   "a partial reversal needs its own id, so that a retry is not a second refund");
        goto out;
    }
    if (!id) {
        /* The whole reversal has one natural id: reversing twice is a duplicate. */
        char hex[65];
        if (strlen(event_id) + 8 <= PC_ID_MAX) {
            snprintf(gen, sizeof gen, "reverse-%s", event_id);
        } else {
            pc_sha256_hex(event_id, strlen(event_id), hex);
            snprintf(gen, sizeof gen, "reverse-%.32s", hex);
        }
        id = gen;
    }
    data = json_pack("{s:s}", "event", event_id);
    if (cur)
        json_object_set_new(data, "currency", json_string(cur));
    if (amount)
        json_object_set(data, "amount", amount);
    if (items)
        json_object_set(data, "items", items);
    if (reason)
        json_object_set_new(data, "reason", json_string(reason));
    submit(s, req, id, "reverse", member, NULL, NULL, data);
out:
    json_decref(body);
}

/* Figures over days: one HGETALL per day (and the totals), answered together. */
typedef struct figures {
    server *s;
    struct evhttp_request *req;
    int pending, failed;
    json_t *days;  /* {"YYYY-MM-DD": {currency: {kind: n}}} */
    json_t *total; /* {currency: {kind: n}} or NULL when not asked */
    char partner[PC_TYPE_MAX + 1];
    char to_day[11];       /* the last day asked for; later days were read for outstanding only */
    int daily_outstanding; /* every day from the asked ones to today was read */
} figures;

static void add_fields(json_t *into, redisReply *r)
{
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        char cur[100];
        const char *f = r->element[i]->str, *colon = strrchr(f, ':');
        if (!colon || (size_t)(colon - f) >= sizeof cur)
            continue;
        memcpy(cur, f, (size_t)(colon - f));
        cur[colon - f] = '\0';
        json_t *c = json_object_get(into, cur);
        if (!c) {
            c = json_pack("{s:i, s:i, s:i, s:i}", "issued", 0, "redeemed", 0, "expired", 0,
                          "reversed", 0);
            json_object_set_new(into, cur, c);
        }
        json_object_set_new(c, colon + 1, json_integer(strtoll(r->element[i + 1]->str, NULL, 10)));
    }
}

static int cmp_desc(const void *a, const void *b)
{
    return strcmp(*(const char *const *)b, *(const char *const *)a);
}

/*
 * Outstanding at the end of each day: what is outstanding now, less what each
 * later day added (walking back from today). Days after the asked range were
 * read only for this and are dropped here.
 */
static void daily_outstanding(figures *fg)
{
    size_t n = json_object_size(fg->days), i = 0;
    const char **days = malloc(sizeof *days * (n ? n : 1)), *day, *cur;
    json_t *running = json_object(), *d, *c;
    if (!days || !running) {
        free(days);
        json_decref(running);
        return;
    }
    json_object_foreach(fg->total, cur, c)
        json_object_set(running, cur, json_object_get(c, "outstanding"));
    json_object_foreach(fg->days, day, d) days[i++] = day;
    qsort(days, n, sizeof *days, cmp_desc);
    for (i = 0; i < n; i++) {
        d = json_object_get(fg->days, days[i]);
        json_object_foreach(d, cur, c)
        {
            json_int_t r = json_integer_value(json_object_get(running, cur));
            json_int_t net = json_integer_value(json_object_get(c, "issued")) -
                             json_integer_value(json_object_get(c, "redeemed")) -
                             json_integer_value(json_object_get(c, "expired")) -
                             json_integer_value(json_object_get(c, "reversed"));
            if (fg->daily_outstanding)
                json_object_set_new(c, "outstanding", json_integer(r));
            json_object_set_new(running, cur, json_integer(r - net));
        }
    }
    for (i = 0; i < n; i++) /* each key is freed by its own delete, after its last use */
        if (strcmp(days[i], fg->to_day) > 0)
            json_object_del(fg->days, days[i]);
    free(days);
    json_decref(running);
}

static void figures_done(figures *fg)
{
    json_t *body;
    if (fg->failed) {
        send_error(fg->s, fg->req, 503, "unavailable", "redis unavailable");
    } else if (fg->total) {
        const char *cur;
        json_t *c;
        json_object_foreach(fg->total, cur, c)
        {
            json_int_t out = json_integer_value(json_object_get(c, "issued")) -
                             json_integer_value(json_object_get(c, "redeemed")) -
                             json_integer_value(json_object_get(c, "expired")) -
                             json_integer_value(json_object_get(c, "reversed"));
            json_object_set_new(c, "outstanding", json_integer(out));
        }
        daily_outstanding(fg);
        body = json_pack("{s:O, s:O}", "days", fg->days, "total", fg->total);
        send_json(fg->s, fg->req, 200, body);
    } else {
        json_t *sum = json_object();
        const char *day, *cur;
        json_t *d, *c;
        json_object_foreach(fg->days, day, d) json_object_foreach(d, cur, c)
        {
            json_t *t = json_object_get(sum, cur);
            const char *k;
            json_t *v;
            if (!t) {
                t = json_object();
                json_object_set_new(sum, cur, t);
            }
            json_object_foreach(c, k, v) json_object_set_new(
                t, k,
                json_integer(json_integer_value(json_object_get(t, k)) + json_integer_value(v)));
        }
        body = json_pack("{s:s, s:O, s:o}", "partner", fg->partner, "days", fg->days, "sum", sum);
        send_json(fg->s, fg->req, 200, body);
    }
    json_decref(fg->days);
    json_decref(fg->total);
    free(fg);
}

typedef struct day_req {
    figures *fg;
    char day[11]; /* "" for the totals */
} day_req;

static void on_day(redisReply *r, const char *err, void *arg)
{
    day_req *d = arg;
    figures *fg = d->fg;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        fg->failed = 1;
    } else if (r->elements) {
        json_t *into = d->day[0] ? json_object() : fg->total;
        add_fields(into, r);
        if (d->day[0])
            json_object_set_new(fg->days, d->day, into);
    }
    free(d);
    if (--fg->pending == 0)
        figures_done(fg);
}

static int parse_day(const char *s, int64_t *ms)
{
    char buf[40];
    if (!s || strlen(s) != 10)
        return -1;
    snprintf(buf, sizeof buf, "%sT00:00:00Z", s);
    return pc_time_parse(buf, ms);
}

/* GET /v1/stats?from=&to= and GET /v1/partners/{p}/summary?from=&to= (days, UTC; at most 366). */
static void get_figures(server *s, struct evhttp_request *req, const char *query,
                        const char *partner)
{
    struct evkeyvalq q = {0};
    int64_t from, to, day_ms = 86400000;
    figures *fg;
    char key[300];

    if (query && evhttp_parse_query_str(query, &q)) {
        send_error(s, req, 400, "bad_request", "malformed query string");
        return;
    }
    to = pc_now_ms() / day_ms * day_ms;
    from = to - 29 * day_ms;
    if ((evhttp_find_header(&q, "to") && parse_day(evhttp_find_header(&q, "to"), &to)) ||
        (evhttp_find_header(&q, "from") && parse_day(evhttp_find_header(&q, "from"), &from)) ||
        from > to || (to - from) / day_ms > 365) {
        evhttp_clear_headers(&q);
        send_error(s, req, 400, "bad_request",
                   "from and to are days (YYYY-MM-DD), at most 366 apart");
        return;
    }
    evhttp_clear_headers(&q);
    if (!(fg = calloc(1, sizeof *fg))) {
        send_error(s, req, 500, "internal", "out of memory");
        return;
    }
    fg->s = s;
    fg->req = req;
    fg->days = json_object();
    fg->total = partner ? NULL : json_object();
    snprintf(fg->partner, sizeof fg->partner, "%s", partner ? partner : "");
    fg->pending = 1; /* held until every command is sent */
    {
        char ts[32];
        pc_time_format(to, ts, sizeof ts);
        memcpy(fg->to_day, ts, 10);
    }
    /* The figures also read the days after the range, up to today, for outstanding per day. */
    int64_t today = pc_now_ms() / day_ms * day_ms, last = to;
    if (!partner) {
        fg->daily_outstanding = today - to <= 366 * day_ms;
        if (fg->daily_outstanding && today > to)
            last = today;
    }
    for (int64_t t = from; t <= last + (partner ? 0 : day_ms); t += day_ms) {
        day_req *d = calloc(1, sizeof *d);
        const char *argv[2] = {"HGETALL", key};
        if (!d)
            break;
        d->fg = fg;
        if (t > last) { /* the totals, for outstanding */
            snprintf(key, sizeof key, "%s:stats:total", s->ns);
        } else {
            char ts[32];
            pc_time_format(t, ts, sizeof ts);
            memcpy(d->day, ts, 10);
            if (partner)
                snprintf(key, sizeof key, "%s:partner:%s:%s", s->ns, partner, d->day);
            else
                snprintf(key, sizeof key, "%s:stats:%s", s->ns, d->day);
        }
        fg->pending++;
        store_command(s->store, on_day, d, 2, argv, NULL);
    }
    if (--fg->pending == 0)
        figures_done(fg);
}

static void partner_summary(server *s, struct evhttp_request *req, const char *p, const char *query)
{
    get_figures(s, req, query, p);
}

/*
 * PREFIX{arg}SUFFIX routes. `strict`: the prefix is this file's alone, so a
 * wrong suffix is 404 here; otherwise other routes share the prefix (GET
 * /v1/members/{m}) and the request falls through unless suffix and method match.
 */
static const struct money_route_def {
    const char *prefix, *suffix;
    enum evhttp_cmd_type method;
    int strict;
    int (*valid)(const char *);
    const char *bad;
    void (*handle)(server *, struct evhttp_request *, const char *, const char *);
} routes[] = {
    {"/v1/partners/", "/summary", EVHTTP_REQ_GET, 1, pc_valid_name, "bad partner name",
     partner_summary},
    {"/v1/events/", "/reverse", EVHTTP_REQ_POST, 1, pc_valid_id, "bad event id", reverse},
    {"/v1/members/", "/redeem", EVHTTP_REQ_POST, 0, pc_valid_id, "bad member id", redeem},
    {"/v1/members/", "", EVHTTP_REQ_PUT, 0, pc_valid_id, "bad member id", put_member},
};

int money_route(server *s, struct evhttp_request *req, char *path, const char *query)
{
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    if (!strcmp(path, "/v1/stats")) {
        if (method != EVHTTP_REQ_GET)
            send_error(s, req, 405, "method_not_allowed", "use GET");
        else
            get_figures(s, req, query, NULL);
        return 1;
    }
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        const struct money_route_def *r = &routes[i];
        size_t n = strlen(r->prefix);
        char *arg = path + n, *sub;
        if (strncmp(path, r->prefix, n))
            continue;
        sub = strchr(arg, '/');
        if (strcmp(sub ? sub : "", r->suffix)) {
            if (!r->strict)
                continue;
            send_error(s, req, 404, "not_found", "no such resource");
            return 1;
        }
        /* A route without a suffix is taken for its method only (GET /v1/members/{m} is not ours).
         */
        if (!*r->suffix && method != r->method)
            continue;
        if (sub)
            *sub = '\0';
        if (!r->valid(arg))
            send_error(s, req, 400, "bad_request", r->bad);
        else if (method != r->method)
            send_error(s, req, 405, "method_not_allowed",
                       r->method == EVHTTP_REQ_GET ? "use GET" : "use POST");
        else
            r->handle(s, req, arg, query);
        return 1;
    }
    return 0;
}
