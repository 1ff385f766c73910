/*
 * The engine's reads (engine.h, "Queries"): a member's state and ledger, as
 * GET /v1/members/{m} and GET /v1/members/{m}/ledger show them.
 */
#include "engine-internal.h"
#include "store/keys-internal.h"
#include "store/store-internal.h"

#include <stdlib.h>
#include <string.h>

/* One read in flight: answered once through done, then freed. */
typedef struct query {
    engine *e;
    engine_done_fn *done;
    void *arg;
    char member[PC_ID_MAX + 1];
    char key[PC_KEY_MAX];
    int limit;
} query;

static query *query_new(engine *e, engine_done_fn *done, void *arg)
{
    query *q = calloc(1, sizeof *q);
    if (!q) {
        pc_error err;
        pc_fail(&err, 500, "internal", "out of memory");
        done(arg, 500, pc_error_json(&err));
        return NULL;
    }
    q->e = e;
    q->done = done;
    q->arg = arg;
    return q;
}

/* Answers q with body (stolen) and frees q. */
static void query_finish(query *q, int status, json_t *body)
{
    q->done(q->arg, status, body);
    free(q);
}

static void query_fail(query *q, int status, const char *code, const char *msg)
{
    pc_error err;
    pc_fail(&err, status, code, "%s", msg);
    query_finish(q, status, pc_error_json(&err));
}

/* A redis error or no reply: 503, q answered and freed; 1 then. */
static int reply_failed(query *q, redisReply *r, const char *err)
{
    if (!r) {
        query_fail(q, 503, "unavailable", err ? err : "redis unavailable");
        return 1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        pc_log(PC_LOG_ERROR, "redis: %s", r->str);
        query_fail(q, 503, "unavailable", "redis refused the command; retry");
        return 1;
    }
    return 0;
}

static void on_member(redisReply *r, const char *err, void *arg)
{
    query *q = arg;
    member_state *m;
    const char **v;
    size_t *l;
    if (reply_failed(q, r, err))
        return;
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        query_fail(q, 404, "not_found", "no such member");
        return;
    }
    m = member_new(q->member);
    v = malloc(r->elements * sizeof *v);
    l = malloc(r->elements * sizeof *l);
    if (m && v && l) {
        for (size_t i = 0; i < r->elements; i++) {
            v[i] = r->element[i]->str ? r->element[i]->str : "";
            l[i] = r->element[i]->len;
        }
    }
    if (!m || !v || !l || member_load_pairs(m, r->elements, v, l)) {
        free(v);
        free(l);
        member_free(m);
        query_fail(q, 500, "internal", "member state is unreadable");
        return;
    }
    free(v);
    free(l);
    query_finish(q, 200, member_to_json(m));
    member_free(m);
}

engine_call *engine_get_member(engine *e, const char *member, engine_done_fn *done, void *arg)
{
    query *q = query_new(e, done, arg);
    if (!q)
        return NULL;
    snprintf(q->member, sizeof q->member, "%s", member);
    if (!pc_valid_id(member) || pc_member_key(q->key, PC_KEY_MAX, e->ns, member, "state") < 0) {
        query_fail(q, 400, "bad_request", "bad member id");
        return NULL;
    }
    const char *argv[2] = {"HGETALL", q->key};
    store_command(e->store, on_member, q, 2, argv, NULL);
    return NULL;
}

static const char *entry_field(redisReply *fields, const char *name)
{
    for (size_t i = 0; i + 1 < fields->elements; i += 2)
        if (strcmp(fields->element[i]->str, name) == 0)
            return fields->element[i + 1]->str;
    return NULL;
}

static json_t *entry_json(redisReply *entry)
{
    redisReply *f = entry->element[1];
    const char *s;
    json_t *j = json_pack("{s:s}", "id", entry->element[0]->str);
    static const char *const strings[][2] = {
        {"event", "event"},       {"type", "type"},     {"kind", "kind"},
        {"partner", "partner"},   {"reason", "reason"}, {"mechanic", "mechanic"},
        {"currency", "currency"}, {"at", "at"},         {"mv", "mechanics_version"}};
    for (size_t i = 0; i < sizeof strings / sizeof *strings; i++) {
        s = entry_field(f, strings[i][0]);
        json_object_set_new(j, strings[i][1], s ? json_string(s) : json_null());
    }
    s = entry_field(f, "delta");
    json_object_set_new(j, "delta", json_integer(s ? strtoll(s, NULL, 10) : 0));
    s = entry_field(f, "balance");
    json_object_set_new(j, "balance", json_integer(s ? strtoll(s, NULL, 10) : 0));
    s = entry_field(f, "pending");
    json_object_set_new(j, "pending", json_integer(s ? strtoll(s, NULL, 10) : 0));
    return j;
}

static void on_ledger(redisReply *r, const char *err, void *arg)
{
    query *q = arg;
    json_t *entries;
    json_t *next = json_null();
    if (reply_failed(q, r, err))
        return;
    if (r->type != REDIS_REPLY_ARRAY) {
        query_fail(q, 500, "internal", "unexpected reply to XREVRANGE");
        return;
    }
    entries = json_array();
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *en = r->element[i];
        if (en->type != REDIS_REPLY_ARRAY || en->elements != 2)
            continue;
        if ((int)i == q->limit) {
            next = json_string(en->element[0]->str);
            break;
        }
        json_array_append_new(entries, entry_json(en));
    }
    query_finish(q, 200,
           json_pack("{s:s, s:o, s:o}", "member", q->member, "entries", entries, "next", next));
}

static int valid_stream_id(const char *s)
{
    const char *dash = strchr(s, '-');
    size_t n = strlen(s);
    if (!dash || dash == s || n > 41 || !dash[1])
        return 0;
    for (const char *p = s; *p; p++)
        if ((*p < '0' || *p > '9') && p != dash)
            return 0;
    return 1;
}

engine_call *engine_get_ledger(engine *e, const char *member, int limit, const char *cursor,
                               engine_done_fn *done, void *arg)
{
    query *q = query_new(e, done, arg);
    char count[16];
    const char *argv[6];
    if (!q)
        return NULL;
    snprintf(q->member, sizeof q->member, "%s", member);
    if (!pc_valid_id(member) ||
        pc_member_key(q->key, PC_KEY_MAX, e->ns, member, "ledger") < 0) {
        query_fail(q, 400, "bad_request", "bad member id");
        return NULL;
    }
    if (limit < 1 || limit > 1000) {
        query_fail(q, 400, "bad_request", "limit must be 1-1000");
        return NULL;
    }
    if (cursor && !valid_stream_id(cursor)) {
        query_fail(q, 400, "bad_request", "bad cursor");
        return NULL;
    }
    q->limit = limit;
    snprintf(count, sizeof count, "%d", limit + 1);
    argv[0] = "XREVRANGE";
    argv[1] = q->key;
    argv[2] = cursor ? cursor : "+";
    argv[3] = "-";
    argv[4] = "COUNT";
    argv[5] = count;
    store_command(e->store, on_ledger, q, 6, argv, NULL);
    return NULL;
}
