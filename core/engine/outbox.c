/*
 * The webhooks an event writes (punchcard/webhooks.h): made from the
 * decision's outcomes and appended to the member's outbox by the commit
 * script itself, so they exist exactly when the event applied. Before such a
 * commit the member is listed in the outbox index (store_outbox_mark), so a
 * punchd that dies between the commit and anything after it leaves nothing
 * unlisted. Also the program's own webhooks (a failed reload), the report of
 * GET /v1/webhooks/deliveries and the retry of a dead letter.
 *
 * An entry is "<id> <body>": the body is the Standard Webhooks payload
 * {"type", "timestamp", "data"}, sent as it is stored.
 */
#include "outbox.h"
#include "common/jsonw-internal.h"
#include "model/lots-internal.h"
#include "lua/mechanics-internal.h"
#include "punchcard/webhooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void outbox_id(const char *ns, const char *member, const char *event_id, size_t n, char out[37])
{
    char buf[512], hex[65];
    int len = snprintf(buf, sizeof buf, "%s%c%s%c%s%c%zu", ns, 0, member, 0, event_id, 0, n);
    pc_sha256_hex(buf, len < (int)sizeof buf ? (size_t)len : sizeof buf - 1, hex);
    snprintf(out, 37, "msg_%.32s", hex);
}

/* "<id> <body>" of a webhook of type with data (stolen), at (RFC 3339), or NULL. */
static char *entry_text(const char *id, const char *type, const char *at, json_t *data)
{
    json_t *body = json_object();
    char *text, *entry = NULL;
    size_t len;
    if (!data || !body || json_object_set_new(body, "type", json_string(type)) ||
        json_object_set_new(body, "timestamp", json_string(at)) ||
        json_object_set_new(body, "data", data)) {
        if (!body || json_object_get(body, "data") != data)
            json_decref(data);
        json_decref(body);
        return NULL;
    }
    text = pc_json_dump(body, &len);
    json_decref(body);
    if (text && (entry = malloc(strlen(id) + len + 2)))
        sprintf(entry, "%s %s", id, text);
    free(text);
    return entry;
}

/* The webhook type of outcome o (and its data, new), or NULL when it makes none. */
static const char *webhook_of(const json_t *o, const mechset *set, json_t **data)
{
    const char *kind = json_string_value(json_object_get(o, "kind")), *type = NULL;
    if (!kind)
        return NULL;
    if (!strcmp(kind, "prize"))
        type = "prize.won";
    else if (!strcmp(kind, "badge"))
        type = "badge.earned";
    else if (!strcmp(kind, "tier"))
        type = "tier.changed";
    else if (!strcmp(kind, "streak") && json_object_get(o, "broken"))
        type = "streak.broken";
    else if (!strcmp(kind, "expiring"))
        type = "points.expiring";
    else if (!strcmp(kind, "notify"))
        type = json_string_value(json_object_get(o, "notify"));
    if (!type)
        return NULL;
    *data = json_object();
    if (!*data)
        return NULL;
    if (!strcmp(kind, "notify")) {
        json_object_set(*data, "mechanic", json_object_get(o, "mechanic"));
        json_object_set(*data, "payload", json_object_get(o, "data"));
        return type;
    }
    json_object_update(*data, (json_t *)o);
    json_object_del(*data, "kind");
    if (!strcmp(kind, "tier")) {
        const char *to = json_string_value(json_object_get(o, "tier"));
        const char *from = json_string_value(json_object_get(o, "from"));
        int up = !from || !to || mechset_tier_rank(set, to) >= mechset_tier_rank(set, from);
        json_object_set_new(*data, "direction", json_string(up ? "up" : "down"));
    }
    return type;
}

/* What outbox_expiring() gathers of the lots, per currency (few currencies: a short list). */
typedef struct notice {
    char currency[65];
    int64_t noticed; /* the currency's xn */
    int64_t amount;  /* remaining in the lots to notice now */
    int64_t first;   /* their earliest expiry */
    int64_t last;    /* their latest */
} notice;

typedef struct notices {
    const member_state *m;
    int64_t now, lead;
    int64_t next; /* the earliest notice due later, or 0 */
    notice cur[16];
    size_t n;
} notices;

static void visit_lot(const lot_rec *lot, void *arg)
{
    notices *ns = arg;
    notice *c = NULL;
    if (!lot->expires_ms || lot->remaining <= 0 || lot->expires_ms <= ns->now)
        return;
    for (size_t i = 0; i < ns->n && !c; i++)
        if (!strcmp(ns->cur[i].currency, lot->currency))
            c = &ns->cur[i];
    if (!c) {
        if (ns->n == sizeof ns->cur / sizeof *ns->cur)
            return;
        c = &ns->cur[ns->n++];
        memset(c, 0, sizeof *c);
        snprintf(c->currency, sizeof c->currency, "%s", lot->currency);
        c->noticed = member_noticed(ns->m, lot->currency);
    }
    if (lot->expires_ms <= c->noticed)
        return;
    if (lot->expires_ms - ns->lead <= ns->now) {
        c->amount += lot->remaining;
        if (!c->first || lot->expires_ms < c->first)
            c->first = lot->expires_ms;
        if (lot->expires_ms > c->last)
            c->last = lot->expires_ms;
    } else if (!ns->next || lot->expires_ms - ns->lead < ns->next) {
        ns->next = lot->expires_ms - ns->lead;
    }
}

int outbox_expiring(engine *e, const pc_event *ev, member_state *m)
{
    notices ns = {.m = m, .now = ev->at_ms, .lead = e->expiring_notice_ms};
    if (!e->outbox)
        return 0;
    lots_each(m, visit_lot, &ns);
    for (size_t i = 0; i < ns.n; i++) {
        const notice *c = &ns.cur[i];
        char at[32];
        if (!c->amount)
            continue;
        pc_time_format(c->first, at, sizeof at);
        if (!member_add_outcome(m, "expiry",
                                json_pack("{s:s, s:s, s:I, s:s}", "kind", "expiring", "currency",
                                          c->currency, "amount", (json_int_t)c->amount,
                                          "expires_at", at)) ||
            member_set_noticed(m, c->currency, c->last))
            return -1;
    }
    return member_set_notice_due(m, ns.next);
}

typedef struct marked {
    engine *e;
    store_commit *sc;
    store_commit_fn *fn;
    void *arg;
} marked;

static void on_marked(void *arg, const store_error *err)
{
    marked *k = arg;
    if (err) {
        store_commit_free(k->sc);
        k->fn(k->arg, err, NULL);
    } else {
        store_commit_send(k->e->store, k->sc, k->fn, k->arg);
    }
    free(k);
}

/* Adds the webhook (type, data stolen) as the n-th entry of ev: 0, or -1 out of memory. */
static int add_entry(engine *e, const pc_event *ev, store_commit *sc, const char *at, size_t n,
                     const char *type, json_t *data)
{
    char id[37], *text;
    outbox_id(e->ns, ev->member, ev->id, n, id);
    if (data && (json_object_set_new(data, "member", json_string(ev->member)) ||
                 json_object_set_new(data, "event", json_string(ev->id)) ||
                 json_object_set_new(data, "event_type", json_string(ev->type)))) {
        json_decref(data);
        return -1;
    }
    if (!(text = entry_text(id, type, at, data)))
        return -1;
    store_commit_outbox(sc, text);
    free(text);
    return 0;
}

void outbox_commit_send(engine *e, const pc_event *ev, const member_state *m, const mechset *set,
                        store_commit *sc, const char *at, store_commit_fn *fn, void *arg)
{
    size_t n = 0, i;
    marked *k;
    if (!e->outbox) {
        store_commit_send(e->store, sc, fn, arg);
        return;
    }
    for (i = 0; i < m->nouts; i++) {
        json_t *data = NULL, *o;
        const char *type;
        if (m->outs[i]->type == MO_MOVE || m->outs[i]->type == MO_COUNTER) /* no webhook */
            continue;
        if (!(o = member_outcome_json(m->outs[i]))) /* MO_JSON: its object; a prize: made */
            goto oom;
        type = webhook_of(o, set, &data);
        json_decref(o);
        if (type && add_entry(e, ev, sc, at, n++, type, data))
            goto oom;
    }
    /* The referrer's reward (effects_referral(): id "ref:<friend>") applied: the referral paid. */
    if (!strncmp(ev->id, "ref:", 4) && json_object_get(pc_event_data(ev), "friend")) {
        json_t *data =
            json_pack("{s:O, s:o}", "friend", json_object_get(pc_event_data(ev), "friend"),
                      "outcomes", member_outcomes_to_json(m));
        if (add_entry(e, ev, sc, at, n++, "referral.rewarded", data))
            goto oom;
    }
    if (n == 0) {
        store_commit_send(e->store, sc, fn, arg);
        return;
    }
    if (!(k = malloc(sizeof *k)))
        goto oom;
    *k = (marked){e, sc, fn, arg};
    store_outbox_mark(e->store, e->ns, ev->member, engine_now(e), on_marked, k);
    return;
oom : {
    store_error err = {STORE_FAILED, "commit", "out of memory"};
    store_commit_free(sc);
    fn(arg, &err, NULL);
}
}

/* ---- the program's own webhooks ---- */

typedef struct program_push {
    engine *e;
    char id[37];
    char *entry;
} program_push;

static void on_program_marked(void *arg, const store_error *err)
{
    program_push *p = arg;
    if (!err)
        store_outbox_push(p->e->store, p->e->ns, STORE_PROGRAM_OUTBOX, p->id, p->entry, 3600, NULL,
                          NULL);
    free(p->entry);
    free(p);
}

void engine_program_webhook(engine *e, const char *type, json_t *data)
{
    program_push *p;
    char at[32], *canon;
    if (!e->outbox || !data) {
        json_decref(data);
        return;
    }
    /* One id per type and data: every worker and punchd that saw it writes it once. */
    canon = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
    p = calloc(1, sizeof *p);
    if (!canon || !p) {
        free(canon);
        free(p);
        json_decref(data);
        return;
    }
    {
        size_t len = strlen(e->ns) + strlen(type) + strlen(canon) + 3;
        char *all = malloc(len), hex[65];
        if (!all) {
            free(canon);
            free(p);
            json_decref(data);
            return;
        }
        snprintf(all, len, "%s %s %s", e->ns, type, canon);
        pc_sha256_hex(all, len - 1, hex);
        snprintf(p->id, sizeof p->id, "msg_%.32s", hex);
        free(all);
    }
    free(canon);
    pc_time_format(engine_now(e), at, sizeof at);
    p->e = e;
    if (!(p->entry = entry_text(p->id, type, at, data))) {
        free(p);
        return;
    }
    store_outbox_mark(e->store, e->ns, STORE_PROGRAM_OUTBOX, engine_now(e), on_program_marked, p);
}

/* ---- the log, the report, the retry of a dead letter ---- */

void engine_webhook_log(engine *e, json_t *record)
{
    char *text = record ? json_dumps(record, JSON_COMPACT) : NULL;
    if (text)
        store_webhooks_log(e->store, e->ns, text, 200);
    free(text);
    json_decref(record);
}

typedef struct report {
    engine *e;
    engine_done_fn *done;
    void *arg;
    int left, limit;
    int failed;
    pc_error err;
    json_t *body;
} report;

static void report_part(report *r, const store_error *err)
{
    if (err && !r->failed) {
        r->failed = 1;
        store_error_fail(err, &r->err);
    }
    if (--r->left)
        return;
    if (r->failed) {
        json_decref(r->body);
        r->done(r->arg, r->err.status, pc_error_json(&r->err));
    } else {
        r->done(r->arg, 200, r->body);
    }
    free(r);
}

/* The records (JSON texts) as an array: the unreadable ones left out. */
static json_t *records(size_t n, const char *const *items)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        json_t *v = json_loads(items[i], 0, NULL);
        if (v)
            json_array_append_new(a, v);
    }
    return a;
}

static void on_report_count(void *arg, const store_error *err, int64_t n)
{
    report *r = arg;
    if (!err)
        json_object_set_new(r->body, "pending_members", json_integer(n));
    report_part(r, err);
}

static void on_report_recent(void *arg, const store_error *err, size_t n, const char *const *items)
{
    report *r = arg;
    if (!err)
        json_object_set_new(r->body, "recent", records(n, items));
    report_part(r, err);
}

static int newest_first(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "dead_at"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "dead_at"));
    return strcmp(y ? y : "", x ? x : "");
}

static void on_report_dead(void *arg, const store_error *err, size_t n, const char *const *items)
{
    report *r = arg;
    if (!err) {
        json_t *all = records(n, items), *sorted = json_array(), *v;
        size_t count = json_array_size(all), i;
        json_t **vs = malloc((count ? count : 1) * sizeof *vs);
        json_array_foreach(all, i, v)
            if (vs)
                vs[i] = v;
        if (vs && count)
            qsort(vs, count, sizeof *vs, newest_first);
        for (i = 0; vs && i < count && i < (size_t)r->limit; i++)
            json_array_append(sorted, vs[i]);
        free(vs);
        json_object_set_new(r->body, "dead_count", json_integer((json_int_t)count));
        json_object_set_new(r->body, "dead", sorted);
        json_decref(all);
    }
    report_part(r, err);
}

void engine_get_webhooks(engine *e, int limit, engine_done_fn *done, void *arg)
{
    report *r = calloc(1, sizeof *r);
    if (!r || !(r->body = json_object())) {
        free(r);
        engine_answer_oom(done, arg);
        return;
    }
    r->e = e;
    r->done = done;
    r->arg = arg;
    r->limit = limit;
    r->left = 3;
    store_outbox_count(e->store, e->ns, on_report_count, r);
    store_webhooks_recent(e->store, e->ns, limit, on_report_recent, r);
    store_webhooks_dead_all(e->store, e->ns, on_report_dead, r);
}

typedef struct retry {
    engine *e;
    engine_done_fn *done;
    void *arg;
    char id[64];
    char member[PC_ID_MAX + 16];
    char *entry;
} retry;

static void retry_fail(retry *t, const store_error *err)
{
    pc_error pe;
    store_error_fail(err, &pe);
    t->done(t->arg, pe.status, pc_error_json(&pe));
    free(t->entry);
    free(t);
}

static void on_retry_deleted(void *arg, const store_error *err, int64_t n)
{
    retry *t = arg;
    if (err) {
        retry_fail(t, err);
        return;
    }
    t->done(t->arg, 200,
            json_pack("{s:s, s:s, s:b}", "id", t->id, "member", t->member, "requeued", 1));
    free(t->entry);
    free(t);
}

static void on_retry_pushed(void *arg, const store_error *err, int64_t n)
{
    retry *t = arg;
    if (err) {
        retry_fail(t, err);
        return;
    }
    store_webhooks_dead_del(t->e->store, t->e->ns, t->id, on_retry_deleted, t);
}

static void on_retry_marked(void *arg, const store_error *err)
{
    retry *t = arg;
    if (err) {
        retry_fail(t, err);
        return;
    }
    store_outbox_push(t->e->store, t->e->ns, t->member, t->id, t->entry, 0, on_retry_pushed, t);
}

static void on_retry_read(void *arg, const store_error *err, const char *text, size_t len)
{
    retry *t = arg;
    json_t *rec, *payload;
    char *body;
    const char *member;
    if (err) {
        retry_fail(t, err);
        return;
    }
    rec = text ? json_loadb(text, len, 0, NULL) : NULL;
    payload = json_object_get(rec, "payload");
    member = json_string_value(json_object_get(rec, "member"));
    if (!rec || !payload || !member || strlen(member) >= sizeof t->member) {
        pc_error pe;
        json_decref(rec);
        pc_fail(&pe, 404, "not_found", "no dead letter %s", t->id);
        t->done(t->arg, 404, pc_error_json(&pe));
        free(t);
        return;
    }
    snprintf(t->member, sizeof t->member, "%s", member);
    body = json_dumps(payload, JSON_COMPACT);
    json_decref(rec);
    if (body && (t->entry = malloc(strlen(t->id) + strlen(body) + 2)))
        sprintf(t->entry, "%s %s", t->id, body);
    free(body);
    if (!t->entry) {
        store_error oom = {STORE_FAILED, "webhooks_retry", "out of memory"};
        retry_fail(t, &oom);
        return;
    }
    store_outbox_mark(t->e->store, t->e->ns, t->member, engine_now(t->e), on_retry_marked, t);
}

void engine_retry_dead_webhook(engine *e, const char *id, engine_done_fn *done, void *arg)
{
    retry *t = calloc(1, sizeof *t);
    if (!t) {
        engine_answer_oom(done, arg);
        return;
    }
    t->e = e;
    t->done = done;
    t->arg = arg;
    snprintf(t->id, sizeof t->id, "%s", id);
    store_webhooks_dead_get(e->store, e->ns, id, on_retry_read, t);
}
