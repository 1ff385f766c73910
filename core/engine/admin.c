/*
 * An operator's side of the engine (punchcard/query.h): rotate and refill a
 * draw (POST /v1/draws/{name}/rotate and /refill), check every member's
 * ledger against its balances (punch test, after each case), wipe a
 * namespace (punch's reset() and throwaway namespaces).
 *
 * Rotate, refill and wipe are chains of store operations, one at a time: the
 * admin_op belongs to exactly one place at a time, and each step hands it to
 * the next store call as its very last act, so a callback that runs before
 * that call returns finds nobody using it behind. The ledger check fans out
 * over a batch of members and counts holds like the reads (query.c).
 */
#include "engine-internal.h"
#include "common/calendar-internal.h"
#include "model/draw-internal.h"
#include "model/member-internal.h"
#include "punchcard/query.h"
#include "store/reads-internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct admin_op {
    engine *e;
    engine_done_fn *done;
    void *arg;
    char name[PC_TYPE_MAX + 1];  /* the draw */
    char prize[PC_TYPE_MAX + 1]; /* refill */
    int64_t add;
} admin_op;

/* A new operation; NULL after answering 500 when out of memory. */
static admin_op *admin_new(engine *e, engine_done_fn *done, void *arg)
{
    admin_op *a = calloc(1, sizeof *a);
    if (!a) {
        engine_answer_oom(done, arg);
        return NULL;
    }
    a->e = e;
    a->done = done;
    a->arg = arg;
    return a;
}

/* Answers with body (stolen) and frees a. */
static void admin_answer(admin_op *a, int status, json_t *body)
{
    engine_done_fn *done = a->done;
    void *arg = a->arg;
    free(a);
    done(arg, status, body);
}

static void admin_fail(admin_op *a, int status, const char *code, const char *msg)
{
    pc_error err;
    pc_fail(&err, status, code, "%s", msg);
    admin_answer(a, status, pc_error_json(&err));
}

static void admin_store_fail(admin_op *a, const store_error *se)
{
    pc_error err;
    store_error_fail(se, &err);
    admin_answer(a, err.status, pc_error_json(&err));
}

/* The answer of a change to a draw: the draw as it is now, as engine_get_draw() reads it. */
static void admin_show_draw(admin_op *a)
{
    engine *e = a->e;
    engine_done_fn *done = a->done;
    void *arg = a->arg;
    char name[sizeof a->name];
    memcpy(name, a->name, sizeof name);
    free(a);
    engine_get_draw(e, name, 0, done, arg);
}

/* ---- POST /v1/draws/{name}/rotate ---- */

static void on_revealed(void *arg, const store_error *err)
{
    if (err)
        admin_store_fail(arg, err);
    else
        admin_show_draw(arg);
}

static void on_rotated(void *arg, const store_error *err, int64_t ended)
{
    admin_op *a = arg;
    char secret[65], at[32];
    if (err) {
        admin_store_fail(a, err);
        return;
    }
    /* The old epoch is over: its secret may be shown to anyone now. */
    draw_secret(a->name, ended, secret);
    pc_time_format(a->e->clock(a->e->clock_arg), at, sizeof at);
    store_draw_reveal(a->e->store, a->e->ns, a->name, ended, secret, at, on_revealed, a);
}

void engine_rotate_draw(engine *e, const char *name, engine_done_fn *done, void *arg)
{
    admin_op *a = admin_new(e, done, arg);
    if (!a)
        return;
    if (!pc_valid_name(name)) {
        admin_fail(a, 404, "not_found", "no such draw");
        return;
    }
    snprintf(a->name, sizeof a->name, "%s", name);
    store_draw_rotate(e->store, e->ns, name, on_rotated, a);
}

/* ---- POST /v1/draws/{name}/refill ---- */

static void on_refilled(void *arg, const store_error *err, const store_pool *pool)
{
    if (err)
        admin_store_fail(arg, err);
    else if (!pool->found)
        admin_fail(arg, 404, "not_found", "this draw has no pool for that prize yet");
    else
        admin_show_draw(arg);
}

/* The value of field in a hash's pairs, or NULL. */
static const char *pairs_get(const store_pairs *p, const char *field)
{
    for (size_t i = 0; i + 1 < p->n; i += 2)
        if (strlen(field) == p->len[i] && !memcmp(p->v[i], field, p->len[i]))
            return p->v[i + 1];
    return NULL;
}

/* The draw's meta says how the prize's pool refills, and in which zone: its period now. */
static void on_refill_meta(void *arg, const store_error *err, const store_pairs *meta)
{
    admin_op *a = arg;
    char field[100], period[32];
    const char *tz;
    int per;
    if (err) {
        admin_store_fail(a, err);
        return;
    }
    snprintf(field, sizeof field, "refill:%s", a->prize);
    per = cal_period_parse(pairs_get(meta, field));
    if (per < 0)
        per = CAL_ALL;
    tz = pairs_get(meta, "tz");
    cal_period_id(a->e->clock(a->e->clock_arg), tz ? tz : "UTC", 0, per, period, sizeof period);
    store_draw_refill(a->e->store, a->e->ns, a->name, a->prize, period, a->add, cal_period_ttl(per),
                      on_refilled, a);
}

void engine_refill_draw(engine *e, const char *name, const char *prize, int64_t add,
                        engine_done_fn *done, void *arg)
{
    admin_op *a = admin_new(e, done, arg);
    if (!a)
        return;
    if (!pc_valid_name(name)) {
        admin_fail(a, 404, "not_found", "no such draw");
        return;
    }
    if (!prize || !pc_valid_name(prize) || add < -1000000000 || add > 1000000000) {
        admin_fail(a, 400, "bad_request", "send {\"prize\": NAME, \"add\": N}");
        return;
    }
    snprintf(a->name, sizeof a->name, "%s", name);
    snprintf(a->prize, sizeof a->prize, "%s", prize);
    a->add = add;
    store_read_draw_meta(e->store, e->ns, name, on_refill_meta, a);
}

/* ---- wiping a namespace ---- */

static void on_wipe_step(void *arg, const store_error *err, const char *next, size_t len)
{
    admin_op *a = arg;
    if (err)
        admin_store_fail(a, err);
    else if (len == 1 && next[0] == '0')
        admin_answer(a, 200, json_pack("{s:s}", "wiped", a->e->ns));
    else
        store_wipe_step(a->e->store, a->e->ns, next, on_wipe_step, a);
}

void engine_wipe(engine *e, engine_done_fn *done, void *arg)
{
    admin_op *a = admin_new(e, done, arg);
    if (a)
        store_wipe_step(e->store, e->ns, "0", on_wipe_step, a);
}

/* ---- checking every ledger ---- */

typedef struct ledger_check {
    engine *e;
    engine_done_fn *done;
    void *arg;
    char next[32];  /* the walk's next cursor; "0" after its last step */
    int holds;      /* the members of this step in flight, and the step's own */
    size_t checked; /* members checked so far; also their order in the walk */
    int failed;     /* err is the answer */
    size_t fail_at; /* the order of the member err names, to name the walk's first */
    pc_error err;
} ledger_check;

/* One member: its balances and its ledger's sums, read apart, compared when both are in. */
typedef struct member_check {
    ledger_check *c;
    size_t order;
    char member[PC_ID_MAX + 1];
    int waiting;
    json_t *balances; /* {"b:<cur>" | "pb:<cur>": n} of the state */
    json_t *sums;     /* the same names, summed over the ledger */
} member_check;

static void check_step(ledger_check *c);

/* Keeps the failure of the member earliest in the walk (a store failure: the first). */
static void check_fail(ledger_check *c, size_t order, const pc_error *err)
{
    if (c->failed && (c->err.status != 409 || order >= c->fail_at))
        return;
    c->failed = 1;
    c->fail_at = order;
    c->err = *err;
}

/* Gives back a hold of the current step; the last one walks on, or answers and frees c. */
static void check_release(ledger_check *c)
{
    if (--c->holds > 0)
        return;
    if (!c->failed && strcmp(c->next, "0") != 0) {
        check_step(c);
        return;
    }
    if (c->failed)
        c->done(c->arg, c->err.status, pc_error_json(&c->err));
    else
        c->done(c->arg, 200, json_pack("{s:I}", "members", (json_int_t)c->checked));
    free(c);
}

/* Every balance against its ledger's sum, then every sum against its balance. */
static void member_compare(member_check *mc)
{
    const char *k;
    json_t *v;
    pc_error err;
    json_object_foreach(mc->balances, k, v) {
        json_int_t want = json_integer_value(json_object_get(mc->sums, k));
        if (json_integer_value(v) != want) {
            pc_fail(&err, 409, "ledger_mismatch", "%s: %s is %lld but its ledger sums to %lld",
                    mc->member, k, (long long)json_integer_value(v), (long long)want);
            check_fail(mc->c, mc->order, &err);
            return;
        }
    }
    json_object_foreach(mc->sums, k, v) {
        if (json_integer_value(v) != 0 && !json_object_get(mc->balances, k)) {
            pc_fail(&err, 409, "ledger_mismatch",
                    "%s: the ledger sums %s to %lld but there is no such balance", mc->member, k,
                    (long long)json_integer_value(v));
            check_fail(mc->c, mc->order, &err);
            return;
        }
    }
}

static void member_check_done(member_check *mc)
{
    ledger_check *c = mc->c;
    if (--mc->waiting > 0)
        return;
    if (mc->balances && mc->sums) {
        member_compare(mc);
    } else {
        pc_error err;
        pc_fail(&err, 500, "internal", "out of memory");
        check_fail(c, mc->order, &err); /* kept only when no store failure came first */
    }
    json_decref(mc->balances);
    json_decref(mc->sums);
    free(mc);
    check_release(c);
}

static void check_store_fail(member_check *mc, const store_error *se)
{
    pc_error err;
    store_error_fail(se, &err);
    check_fail(mc->c, mc->order, &err);
}

static void on_check_state(void *arg, const store_error *err, const store_pairs *p)
{
    member_check *mc = arg;
    if (err)
        check_store_fail(mc, err);
    else if ((mc->balances = json_object()))
        for (size_t i = 0; i + 1 < p->n; i += 2) {
            enum member_kind kind = member_field_kind(p->v[i], NULL);
            if (kind == MEMBER_F_BALANCE || kind == MEMBER_F_PENDING)
                json_object_set_new(mc->balances, p->v[i],
                                    json_integer(strtoll(p->v[i + 1], NULL, 10)));
        }
    member_check_done(mc);
}

/* Adds n to sums[name of kind for currency]. */
static void add_sum(json_t *sums, enum member_kind kind, const char *currency, long long n)
{
    char name[MEMBER_FIELD_MAX];
    if (!member_field_name(name, sizeof name, kind, currency, NULL))
        return;
    json_object_set_new(sums, name,
                        json_integer(json_integer_value(json_object_get(sums, name)) + n));
}

static void on_check_ledger(void *arg, const store_error *err, size_t n, const store_entry *entries)
{
    member_check *mc = arg;
    if (err)
        check_store_fail(mc, err);
    else if ((mc->sums = json_object()))
        for (size_t i = 0; i < n; i++) {
            const store_pairs *f = &entries[i].fields;
            const char *cur = NULL;
            long long delta = 0, pending = 0;
            for (size_t k = 0; k + 1 < f->n; k += 2) {
                if (!strcmp(f->v[k], "currency"))
                    cur = f->v[k + 1];
                else if (!strcmp(f->v[k], "delta"))
                    delta = strtoll(f->v[k + 1], NULL, 10);
                else if (!strcmp(f->v[k], "pending"))
                    pending = strtoll(f->v[k + 1], NULL, 10);
            }
            if (cur) {
                add_sum(mc->sums, MEMBER_F_BALANCE, cur, delta);
                add_sum(mc->sums, MEMBER_F_PENDING, cur, pending);
            }
        }
    member_check_done(mc);
}

static void on_members(void *arg, const store_error *err, const char *next, size_t n,
                       const char *const *members)
{
    ledger_check *c = arg;
    c->holds = 1; /* this step's own, given back below */
    if (err) {
        pc_error e;
        store_error_fail(err, &e);
        check_fail(c, c->checked, &e);
    } else {
        snprintf(c->next, sizeof c->next, "%s", next);
    }
    for (size_t i = 0; i < n && !c->failed; i++) {
        member_check *mc = calloc(1, sizeof *mc);
        if (!mc) {
            pc_error e;
            pc_fail(&e, 500, "internal", "out of memory");
            check_fail(c, c->checked, &e);
            break;
        }
        mc->c = c;
        mc->order = c->checked++;
        mc->waiting = 2;
        snprintf(mc->member, sizeof mc->member, "%s", members[i]);
        c->holds++;
        store_read_member(c->e->store, c->e->ns, mc->member, on_check_state, mc);
        store_read_ledger(c->e->store, c->e->ns, mc->member, NULL, 0, on_check_ledger, mc);
    }
    check_release(c);
}

static void check_step(ledger_check *c)
{
    char cursor[sizeof c->next];
    memcpy(cursor, c->next, sizeof cursor);
    store_read_members(c->e->store, c->e->ns, cursor, on_members, c);
}

void engine_check_ledgers(engine *e, engine_done_fn *done, void *arg)
{
    ledger_check *c = calloc(1, sizeof *c);
    if (!c) {
        engine_answer_oom(done, arg);
        return;
    }
    c->e = e;
    c->done = done;
    c->arg = arg;
    strcpy(c->next, "0");
    check_step(c);
}
