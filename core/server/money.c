/*
 * The money endpoints of HTTP API v1: member attributes, redemption,
 * reversal, partner summaries and program figures. The first three become
 * internal events ("profile", "redeem", "reverse") and go through the very
 * transaction events do: exactly once by id, all-or-nothing. The figures are
 * the engine's (engine_get_figures()).
 */
#include "server-internal.h"
#include "punchcard/query.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <openssl/rand.h>
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
        send_error(s, req, 400, "bad_json", "invalid JSON at line %d column %d: %s", jerr.line,
                   jerr.column, jerr.text);
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
    json_object_foreach(body, k, v) {
        int ok = 0;
        for (int i = 0; allowed[i]; i++)
            ok |= !strcmp(k, allowed[i]);
        if (!ok) {
            send_error(s, req, 400, "bad_request", "unknown field \"%.64s\"", k);
            return -1;
        }
    }
    return 0;
}

/*
 * The body, an object with only the allowed fields (NULL-terminated), of a
 * request on the route parameter arg (valid() or a 400 saying bad); NULL
 * after an error response.
 */
static json_t *read_fields(server *s, struct evhttp_request *req, const char *arg,
                           int (*valid)(const char *), const char *bad, const char *const *allowed)
{
    json_t *body;
    if (!valid(arg)) {
        char shown[160];
        printable(shown, sizeof shown, arg);
        send_error(s, req, 400, "bad_request", "%s \"%s\" (1-128 of A-Z a-z 0-9 . _ : @ + -)", bad,
                   shown);
        return NULL;
    }
    body = read_body(s, req);
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
    if (at)
        json_object_set(obj, "at", at);
    if (partner)
        json_object_set_new(obj, "partner", json_string(partner));
    if (pc_event_from_json(obj, &ev, &err)) {
        json_decref(obj);
        send_json(s, req, err.status, pc_error_json(&err));
        return;
    }
    json_decref(obj);
    submit_event(s, req, &ev, 0);
}

/*
 * An id for a profile change sent without one: "profile-<ms>-<16 hex>". The
 * random part keeps two ids apart when two workers, or two punchd, make one
 * in the same millisecond (a shared counter would need a lock, and would
 * still repeat across processes). -1 when no random bytes can be had.
 */
static int profile_id(char *out, size_t n)
{
    unsigned char r[8];
    char hex[17];
    if (RAND_bytes(r, sizeof r) != 1)
        return -1;
    for (size_t i = 0; i < sizeof r; i++)
        snprintf(hex + 2 * i, 3, "%02x", r[i]);
    snprintf(out, n, "profile-%lld-%s", (long long)pc_now_ms(), hex);
    return 0;
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
void put_member(server *s, struct evhttp_request *req, const char *member, const char *query)
{
    static const char *const allowed[] = {"id", "attributes", "tier_floor", NULL};
    json_t *body = read_fields(s, req, member, pc_valid_id, "bad member id", allowed), *attrs, *v,
           *data;
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
    json_object_foreach(attrs, k, v) {
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
        if (profile_id(gen, sizeof gen)) {
            send_error(s, req, 503, "unavailable", "no random bytes for an id; send one");
            goto out;
        }
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
void post_redeem(server *s, struct evhttp_request *req, const char *member, const char *query)
{
    static const char *const allowed[] = {"id",          "currency", "amount", "reason",
                                          "order_total", "partner",  "at",     NULL};
    json_t *body = read_fields(s, req, member, pc_valid_id, "bad member id", allowed), *amount,
           *total, *data;
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
void post_reverse(server *s, struct evhttp_request *req, const char *event_id, const char *query)
{
    static const char *const allowed[] = {"member", "id",     "currency", "amount",
                                          "items",  "reason", NULL};
    json_t *body = read_fields(s, req, event_id, pc_valid_id, "bad event id", allowed), *amount,
           *data, *items;
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

/* A day "YYYY-MM-DD" (UTC) as ms; -1 when malformed. */
static int parse_day(const char *s, int64_t *ms)
{
    char buf[40];
    if (!s || strlen(s) != 10)
        return -1;
    snprintf(buf, sizeof buf, "%sT00:00:00Z", s);
    return pc_time_parse(buf, ms);
}

/*
 * GET /v1/stats?from=&to=&per= and GET /v1/partners/{p}/summary?from=&to=&per= (days, UTC; at
 * most 366; per: week, month or year adds the figures per period).
 */
static void get_figures(server *s, struct evhttp_request *req, const char *query,
                        const char *partner)
{
    struct evkeyvalq q;
    int64_t from = ENGINE_DAY_DEFAULT, to = ENGINE_DAY_DEFAULT;
    const char *v;
    pending_req *p;
    if (parse_query(s, req, query, &q))
        return;
    if (((v = evhttp_find_header(&q, "to")) && parse_day(v, &to)) ||
        ((v = evhttp_find_header(&q, "from")) && parse_day(v, &from)))
        send_error(s, req, 400, "bad_request",
                   "from and to are days (YYYY-MM-DD), at most 366 apart");
    else if ((p = pending_new(s, req, 0)))
        engine_get_figures(s->engine, from, to, partner, evhttp_find_header(&q, "per"),
                           on_engine_done, p);
    evhttp_clear_headers(&q);
}

void get_stats(server *s, struct evhttp_request *req, const char *arg, const char *query)
{
    get_figures(s, req, query, NULL);
}

void get_partner_summary(server *s, struct evhttp_request *req, const char *partner,
                         const char *query)
{
    if (!pc_valid_name(partner))
        send_error(s, req, 400, "bad_request", "bad partner name");
    else
        get_figures(s, req, query, partner);
}
