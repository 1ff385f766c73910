/*
 * Broadcasts (engine.h): POST /v1/broadcasts {id, type, data, segment} sends
 * one member event of type to every member of the segment, at any time.
 *
 * Here: the request is checked, then made once in Redis (bcast_create.lua:
 * the same id with the same body is the same broadcast; with another body,
 * 422 idempotency_mismatch, as for events) with its plan, {"all": {type,
 * data, segment, at}}, and listed in NS:{broadcasts:open}:ids. The sending is
 * a close job (closes.c) that any punchd's sweeper takes from that list: the
 * members are walked a SCAN step at a time, each sent the event
 * "broadcast:<id>" at the broadcast's time, paced, the job touched every
 * second and taken over when its owner goes silent (the new owner walks from
 * the start; the members sent before answer as duplicates). Each member is
 * judged against the segment inside its own transaction (segment-internal.h):
 * one not in it is refused, nothing written. GET /v1/broadcasts/{id} reads the
 * job's hash: its owner writes there its counts every second.
 */
#include "engine-internal.h"
#include "builtin.h"
#include "closes.h"
#include "model/segment-internal.h"
#include "store/ops-internal.h"
#include "store/reads-internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BCAST_KEEP_S   (400 * 86400) /* how long a broadcast (and its id) is kept */
#define BCAST_DATA_MAX 8192          /* bytes of data, as compact JSON */

static atomic_uint_fast64_t made_total; /* broadcasts made here (punchd_broadcasts_total) */

uint64_t broadcasts_made(void)
{
    return atomic_load_explicit(&made_total, memory_order_relaxed);
}

typedef struct bcast_call {
    engine *e;
    engine_done_fn *done;
    void *arg;
    char id[BROADCAST_ID_MAX + 1];
    int made; /* 1: made by this call (202); 0: made before (200) */
} bcast_call;

static void answer(engine_done_fn *done, void *arg, const pc_error *err)
{
    done(arg, err->status, pc_error_json(err));
}

/* The store failed c's call (err), or answered nothing: c ends with that error. */
static void answer_store_error(bcast_call *c, const store_error *err, const char *what)
{
    pc_error e;
    if (err)
        store_error_fail(err, &e);
    else
        pc_fail(&e, 500, "internal", "%s: no answer", what);
    answer(c->done, c->arg, &e);
    free(c);
}

/* A broadcast's progress from its hash; NULL when it has none (or out of memory). */
static json_t *progress_json(const char *id, const store_pairs *p)
{
    json_t *body = NULL, *plan = NULL, *all;
    const char *created = NULL, *done = NULL, *cancelled = NULL, *sent = "0", *skipped = "0",
               *owner = NULL;
    char at[40] = "", done_at[40] = "";
    for (size_t i = 0; i + 1 < p->n; i += 2) {
        const char *f = p->v[i], *v = p->v[i + 1];
        if (!strcmp(f, "plan"))
            plan = json_loads(v, 0, NULL);
        else if (!strcmp(f, "created"))
            created = v;
        else if (!strcmp(f, "done"))
            done = v;
        else if (!strcmp(f, "cancelled"))
            cancelled = v;
        else if (!strcmp(f, "sent"))
            sent = v;
        else if (!strcmp(f, "skipped"))
            skipped = v;
        else if (!strcmp(f, "owner"))
            owner = v;
    }
    all = json_object_get(plan, "all");
    if (!json_is_object(all) || !created) {
        json_decref(plan);
        return NULL;
    }
    pc_time_format(strtoll(created, NULL, 10), at, sizeof at);
    if (done)
        pc_time_format(strtoll(done, NULL, 10), done_at, sizeof done_at);
    body = json_pack("{s:s, s:O, s:O, s:O?, s:s, s:s, s:I, s:I, s:s?}", "id", id, "type",
                     json_object_get(all, "type"), "data", json_object_get(all, "data"), "segment",
                     json_object_get(all, "segment"), "created_at", at, "status",
                     cancelled ? "cancelled"
                     : done    ? "done"
                     : owner   ? "sending"
                               : "waiting",
                     "sent", (json_int_t)strtoll(sent, NULL, 10), "skipped",
                     (json_int_t)strtoll(skipped, NULL, 10), "done_at", done ? done_at : NULL);
    json_decref(plan);
    return body;
}

static void on_read(void *arg, const store_error *err, const store_pairs *p)
{
    bcast_call *c = arg;
    pc_error e;
    json_t *body;
    if (err) {
        answer_store_error(c, err, "broadcast");
        return;
    }
    if (!(body = progress_json(c->id, p))) {
        pc_fail(&e, 404, "not_found", "no broadcast \"%s\"", c->id);
        answer(c->done, c->arg, &e);
    } else {
        c->done(c->arg, c->made ? 202 : 200, body);
    }
    free(c);
}

static void read_progress(bcast_call *c)
{
    store_read_broadcast(c->e->store, c->e->ns, c->id, on_read, c);
}

static void on_opened(void *arg, const store_error *err)
{
    bcast_call *c = arg;
    if (err) {
        answer_store_error(c, err, "broadcast");
        return;
    }
    read_progress(c);
}

static void on_created(void *arg, const store_error *err, const char *text, size_t len)
{
    bcast_call *c = arg;
    pc_error e;
    (void)len;
    if (err || !text) {
        answer_store_error(c, err, "broadcast");
    } else if (!strcmp(text, "mismatch")) {
        pc_fail(&e, 422, "idempotency_mismatch",
                "broadcast id \"%s\" was made before with a different request; a retry must "
                "repeat it exactly, and a new broadcast needs a new id",
                c->id);
        answer(c->done, c->arg, &e);
        free(c);
    } else if (!strcmp(text, "done")) {
        read_progress(c);
    } else {
        /* New, or a retry: (again) on the list the sweepers take broadcasts from. */
        c->made = !strcmp(text, "new");
        if (c->made)
            atomic_fetch_add_explicit(&made_total, 1, memory_order_relaxed);
        store_bcast_open(c->e->store, c->e->ns, c->id, engine_now(c->e), on_opened, c);
    }
}

/* 0 when body is a broadcast request, or -1 with err (400). */
static int check_request(const json_t *body, pc_error *err)
{
    const char *k, *id, *type;
    const json_t *v, *data;
    if (!json_is_object(body))
        return pc_fail(err, 400, "bad_request",
                       "send {\"id\", \"type\", \"data\", \"segment\"} as a JSON object");
    json_object_foreach((json_t *)body, k, v)
        if (strcmp(k, "id") && strcmp(k, "type") && strcmp(k, "data") && strcmp(k, "segment"))
            return pc_fail(err, 400, "bad_request",
                           "unknown field \"%.64s\" (id, type, data, segment)", k);
    id = json_string_value(json_object_get(body, "id"));
    type = json_string_value(json_object_get(body, "type"));
    data = json_object_get(body, "data");
    if (!id || strlen(id) != json_string_length(json_object_get(body, "id")) || !pc_valid_id(id) ||
        strlen(id) > BROADCAST_ID_MAX)
        return pc_fail(err, 400, "bad_request",
                       "field \"id\" must be 1-118 characters of A-Z a-z 0-9 . _ : @ + -");
    if (!type || strlen(type) != json_string_length(json_object_get(body, "type")) ||
        !pc_valid_name(type))
        return pc_fail(err, 400, "bad_request",
                       "field \"type\" must be 1-64 characters of a-z 0-9 . _ -");
    if (builtin_reserved_type(type))
        return pc_fail(err, 400, "bad_request",
                       "event type \"%s\" is the engine's own; a broadcast sends a type of "
                       "your mechanics",
                       type);
    if (data && !json_is_null(data)) {
        char *text;
        size_t n;
        if (!json_is_object(data))
            return pc_fail(err, 400, "bad_request", "field \"data\" must be an object");
        text = json_dumps(data, JSON_COMPACT);
        n = text ? strlen(text) : 0;
        free(text);
        if (n > BCAST_DATA_MAX)
            return pc_fail(err, 400, "bad_request", "field \"data\" is over %d bytes",
                           BCAST_DATA_MAX);
    }
    return segment_check(json_object_get(body, "segment"), err);
}

void engine_make_broadcast(engine *e, const json_t *body, engine_done_fn *done, void *arg)
{
    pc_error err;
    json_t *req, *plan, *data = json_object_get(body, "data"),
                        *segment = json_object_get(body, "segment");
    char *req_text = NULL, *plan_text = NULL;
    bcast_call *c;
    if (check_request(body, &err)) {
        done(arg, err.status, pc_error_json(&err));
        return;
    }
    if (json_is_null(segment))
        segment = NULL;
    req = json_pack("{s:O, s:O, s:o, s:O?}", "id", json_object_get(body, "id"), "type",
                    json_object_get(body, "type"), "data",
                    json_is_object(data) ? json_incref(data) : json_object(), "segment", segment);
    plan = json_pack("{s:{s:O, s:O, s:O?, s:I}}", "all", "type", json_object_get(req, "type"),
                     "data", json_object_get(req, "data"), "segment", segment, "at",
                     (json_int_t)engine_now(e));
    if (req)
        req_text = json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS);
    if (plan)
        plan_text = json_dumps(plan, JSON_COMPACT);
    c = req_text && plan_text ? calloc(1, sizeof *c) : NULL;
    if (!c) {
        engine_answer_oom(done, arg);
    } else {
        c->e = e;
        c->done = done;
        c->arg = arg;
        snprintf(c->id, sizeof c->id, "%s", json_string_value(json_object_get(body, "id")));
        store_bcast_create(e->store, e->ns, c->id, req_text, plan_text, engine_now(e), BCAST_KEEP_S,
                           on_created, c);
    }
    free(req_text);
    free(plan_text);
    json_decref(req);
    json_decref(plan);
}

/* A call on the broadcast id of a route; NULL when it was answered (404, out of memory). */
static bcast_call *call_for(engine *e, const char *id, engine_done_fn *done, void *arg)
{
    bcast_call *c;
    pc_error err;
    if (!pc_valid_id(id) || strlen(id) > BROADCAST_ID_MAX) {
        pc_fail(&err, 404, "not_found", "no such broadcast");
        answer(done, arg, &err);
        return NULL;
    }
    if (!(c = calloc(1, sizeof *c))) {
        engine_answer_oom(done, arg);
        return NULL;
    }
    c->e = e;
    c->done = done;
    c->arg = arg;
    snprintf(c->id, sizeof c->id, "%s", id);
    return c;
}

void engine_get_broadcast(engine *e, const char *id, engine_done_fn *done, void *arg)
{
    bcast_call *c = call_for(e, id, done, arg);
    if (!c)
        return;
    read_progress(c);
}

/* ---- GET /v1/broadcasts: the newest, each read from its hash ---- */

typedef struct list_call {
    engine *e;
    engine_done_fn *done;
    void *arg;
    size_t n, left;
    int failed; /* a read failed: status of the error kept in err */
    pc_error err;
    json_t **items;
    char (*ids)[BROADCAST_ID_MAX + 1];
} list_call;

typedef struct list_item {
    list_call *l;
    size_t i;
} list_item;

static void list_finish(list_call *l)
{
    json_t *arr;
    if (--l->left > 0)
        return;
    if (l->failed) {
        answer(l->done, l->arg, &l->err);
    } else if (!(arr = json_array())) {
        pc_fail(&l->err, 500, "internal", "out of memory");
        answer(l->done, l->arg, &l->err);
    } else {
        for (size_t i = 0; i < l->n; i++)
            if (l->items[i]) /* NULL: expired since it was listed */
                json_array_append(arr, l->items[i]);
        l->done(l->arg, 200, json_pack("{s:o}", "broadcasts", arr));
    }
    for (size_t i = 0; i < l->n; i++)
        json_decref(l->items[i]);
    free(l->items);
    free(l->ids);
    free(l);
}

static void on_list_item(void *arg, const store_error *err, const store_pairs *p)
{
    list_item *it = arg;
    list_call *l = it->l;
    if (err) {
        if (!l->failed)
            store_error_fail(err, &l->err);
        l->failed = 1;
    } else {
        l->items[it->i] = progress_json(l->ids[it->i], p);
    }
    free(it);
    list_finish(l);
}

static void on_list(void *arg, const store_error *err, size_t n, const char *const *ids)
{
    list_call *l = arg;
    if (err) {
        store_error_fail(err, &l->err);
        l->failed = 1;
        list_finish(l);
        return;
    }
    l->items = calloc(n ? n : 1, sizeof *l->items);
    l->ids = calloc(n ? n : 1, sizeof *l->ids);
    if (!l->items || !l->ids) {
        pc_fail(&l->err, 500, "internal", "out of memory");
        l->failed = 1;
        list_finish(l);
        return;
    }
    l->n = n;
    for (size_t i = 0; i < n; i++) {
        list_item *it;
        if (!pc_valid_id(ids[i]) || strlen(ids[i]) > BROADCAST_ID_MAX)
            continue; /* not one this engine wrote */
        if (!(it = malloc(sizeof *it))) {
            pc_fail(&l->err, 500, "internal", "out of memory");
            l->failed = 1;
            break;
        }
        it->l = l;
        it->i = i;
        snprintf(l->ids[i], sizeof l->ids[i], "%s", ids[i]);
        l->left++;
        store_read_broadcast(l->e->store, l->e->ns, l->ids[i], on_list_item, it);
    }
    list_finish(l); /* the count held by the listing itself */
}

void engine_list_broadcasts(engine *e, int limit, engine_done_fn *done, void *arg)
{
    list_call *l;
    pc_error err;
    if (limit < 1 || limit > BCAST_RECENT_MAX) {
        pc_fail(&err, 400, "bad_request", "limit must be a number from 1 to %d", BCAST_RECENT_MAX);
        answer(done, arg, &err);
        return;
    }
    if (!(l = calloc(1, sizeof *l))) {
        engine_answer_oom(done, arg);
        return;
    }
    l->e = e;
    l->done = done;
    l->arg = arg;
    l->left = 1;
    store_bcast_recent(e->store, e->ns, (size_t)limit, on_list, l);
}

/* ---- POST /v1/broadcasts/{id}/cancel ---- */

static void on_cancelled(void *arg, const store_error *err, const char *text, size_t len)
{
    bcast_call *c = arg;
    pc_error e;
    (void)len;
    if (err || !text) {
        answer_store_error(c, err, "broadcast cancel");
        return;
    }
    if (!strcmp(text, "missing")) {
        pc_fail(&e, 404, "not_found", "no broadcast \"%s\"", c->id);
        answer(c->done, c->arg, &e);
    } else if (!strcmp(text, "done")) {
        pc_fail(&e, 409, "broadcast_done",
                "broadcast \"%s\" was sent to every member already: there is nothing left to "
                "cancel",
                c->id);
        answer(c->done, c->arg, &e);
    } else {
        /* Off the list the sweepers take broadcasts from (its hash says done already). */
        store_bcast_shut(c->e->store, c->e->ns, c->id);
        read_progress(c);
        return;
    }
    free(c);
}

void engine_cancel_broadcast(engine *e, const char *id, engine_done_fn *done, void *arg)
{
    bcast_call *c = call_for(e, id, done, arg);
    if (!c)
        return;
    store_bcast_cancel(e->store, e->ns, c->id, engine_now(e), BCAST_KEEP_S, on_cancelled, c);
}
