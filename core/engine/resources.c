/*
 * The global operations (resources.h): global counters, instant-win draws,
 * campaign budgets, referrals and offers' codes, each reserved by one typed store operation
 * under a claim of the event, and given back by one.
 */
#include "resources.h"
#include "model/draw-internal.h"
#include "store/ops-internal.h"
#include "store/reads-internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An operation in flight: whom to answer. */
typedef struct op_call {
    resources_done_fn *done;
    void *arg;
} op_call;

/* The mechanic asked wrongly: its call fails with msg. */
static void misuse(resources_done_fn *done, void *arg, const char *msg)
{
    pc_error err;
    pc_fail(&err, 422, "mechanic_error", "%s", msg);
    done(arg, NULL, &err);
}

static void out_of_memory(resources_done_fn *done, void *arg)
{
    pc_error err;
    pc_fail(&err, 500, "internal", "out of memory");
    done(arg, NULL, &err);
}

static void store_failed(resources_done_fn *done, void *arg, const store_error *se)
{
    pc_error err;
    store_error_fail(se, &err);
    done(arg, NULL, &err);
}

static op_call *op_call_new(resources_done_fn *done, void *arg)
{
    op_call *oc = malloc(sizeof *oc);
    if (!oc) {
        out_of_memory(done, arg);
        return NULL;
    }
    oc->done = done;
    oc->arg = arg;
    return oc;
}

/* Answers with a new reference (stolen) and frees oc. */
static void op_answer(op_call *oc, json_t *result)
{
    op_call o = *oc;
    free(oc);
    if (!result) {
        out_of_memory(o.done, o.arg);
        return;
    }
    o.done(o.arg, result, NULL);
    json_decref(result);
}

static void op_fail(op_call *oc, const store_error *se)
{
    op_call o = *oc;
    free(oc);
    store_failed(o.done, o.arg, se);
}

/* ---- counter: a value per claim, never handed out twice ---- */

static void on_counted(void *arg, const store_error *err, int64_t value)
{
    if (err)
        op_fail(arg, err);
    else
        op_answer(arg, json_integer(value));
}

/*
 * The claim of kind on name and the call waiting for its answer; a listed claim goes into
 * NS:claims (unless a dry run) for the sweeper. NULL when done has been answered already.
 */
static op_call *op_claim(claims *cs, const char *kind, const char *name, int listed,
                         resources_done_fn *done, void *arg, claim **out)
{
    op_call *oc;
    if (!(*out = claims_remember(cs, kind, name))) {
        out_of_memory(done, arg);
        return NULL;
    }
    if (!(oc = op_call_new(done, arg)))
        return NULL;
    if (listed && !cs->dry)
        claims_index(cs, *out);
    return oc;
}

static void op_counter(claims *cs, json_t *args, resources_done_fn *done, void *arg)
{
    const char *name = json_string_value(json_object_get(args, "name"));
    json_t *by = json_object_get(args, "by");
    claim *c;
    op_call *oc;
    if (!name || !pc_valid_name(name)) {
        misuse(done, arg, "bad counter name");
        return;
    }
    if (!(oc = op_claim(cs, "counter", name, 0, done, arg, &c)))
        return;
    /* Not listed in NS:claims: a counter claim expires by itself (see counter_release.lua). */
    store_counter_reserve(cs->store, cs->ns, name, c->id, by ? json_integer_value(by) : 1, cs->dry,
                          on_counted, oc);
}

/* ---- draw: read the epoch (or an earlier win), roll, then take a prize ---- */

typedef struct draw_call {
    claims *cs;
    char draw[PC_ID_MAX + 1];
    char claim_id[CLAIM_ID_MAX];
    double chance;
    json_t *args; /* the request's args (a reference) */
    int64_t epoch;
    uint64_t u, pick;
    resources_done_fn *done;
    void *arg;
} draw_call;

static void draw_free(draw_call *d)
{
    json_decref(d->args);
    free(d);
}

static void draw_answer(draw_call *d, const char *prize, const char *reason)
{
    json_t *r = json_pack("{s:b, s:o, s:I, s:f, s:f}", "won", prize != NULL, "prize",
                          prize ? json_string(prize) : json_null(), "epoch", (json_int_t)d->epoch,
                          "roll", ldexp((double)d->u, -64), "chance", d->chance);
    if (r && reason)
        json_object_set_new(r, "reason", json_string(reason));
    if (r)
        d->done(d->arg, r, NULL);
    else
        out_of_memory(d->done, d->arg);
    json_decref(r);
    draw_free(d);
}

static void draw_fail(draw_call *d, const store_error *se)
{
    store_failed(d->done, d->arg, se);
    draw_free(d);
}

static void on_draw_taken(void *arg, const store_error *err, const char *prize, size_t len)
{
    draw_call *d = arg;
    if (err)
        draw_fail(d, err);
    else
        draw_answer(d, prize, prize ? NULL : "pool_empty");
}

/* Takes a prize: the pools are tried from the rolled pick on, in the program's order. */
static void draw_take(draw_call *d)
{
    json_t *prizes = json_object_get(d->args, "prizes");
    size_t n = json_array_size(prizes), start = (size_t)(d->pick % n);
    const char *tz = json_string_value(json_object_get(d->args, "tz"));
    store_prize *v = calloc(n, sizeof *v);
    if (!v) {
        out_of_memory(d->done, d->arg);
        draw_free(d);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(prizes, (start + i) % n);
        const char *refill = json_string_value(json_object_get(p, "refill"));
        const char *period = json_string_value(json_object_get(p, "period"));
        v[i].name = json_string_value(json_object_get(p, "prize"));
        v[i].pool = json_integer_value(json_object_get(p, "pool"));
        v[i].refill = refill ? refill : "";
        v[i].period = period ? period : "";
        v[i].ttl_s = json_integer_value(json_object_get(p, "ttl"));
        if (!v[i].name) {
            free(v);
            misuse(d->done, d->arg, "a prize needs a name");
            draw_free(d);
            return;
        }
    }
    store_draw_take(d->cs->store, d->cs->ns, d->draw, d->claim_id, d->epoch, d->cs->dry,
                    tz ? tz : "UTC", v, n, on_draw_taken, d);
    free(v);
}

static void on_draw_read(void *arg, const store_error *err, const store_draw_state *st)
{
    draw_call *d = arg;
    if (err) {
        draw_fail(d, err);
        return;
    }
    d->epoch = st->epoch;
    draw_roll(d->draw, d->epoch, d->cs->member, d->cs->event_id, &d->u, &d->pick);
    if (st->prize) {
        /* This event won before (a retry, or a decision taken again): the same prize. */
        draw_answer(d, st->prize, NULL);
        return;
    }
    if (!draw_wins(d->u, d->chance)) {
        draw_answer(d, NULL, "chance");
        return;
    }
    if (!d->cs->dry) {
        claim *c = claims_remember(d->cs, "draw", d->draw);
        if (c)
            claims_index(d->cs, c);
    }
    draw_take(d);
}

static void op_draw(claims *cs, json_t *args, resources_done_fn *done, void *arg)
{
    const char *name = json_string_value(json_object_get(args, "draw"));
    draw_call *d;
    claim *c;
    if (!name || !pc_valid_name(name)) {
        misuse(done, arg, "bad draw name");
        return;
    }
    if (json_array_size(json_object_get(args, "prizes")) == 0) {
        misuse(done, arg, "a draw needs at least one prize");
        return;
    }
    if (!(c = claims_remember(cs, "draw", name)) || !(d = calloc(1, sizeof *d))) {
        out_of_memory(done, arg);
        return;
    }
    d->cs = cs;
    d->done = done;
    d->arg = arg;
    d->args = json_incref(args);
    d->chance = json_number_value(json_object_get(args, "chance"));
    snprintf(d->draw, sizeof d->draw, "%s", name);
    snprintf(d->claim_id, sizeof d->claim_id, "%s", c->id);
    store_draw_read(cs->store, cs->ns, name, c->id, on_draw_read, d);
}

/* ---- budget: all of amount within max per period, or nothing ---- */

static void on_granted(void *arg, const store_error *err, int64_t granted)
{
    if (err)
        op_fail(arg, err);
    else
        op_answer(arg, json_boolean(granted == 1));
}

static void op_budget(claims *cs, json_t *args, resources_done_fn *done, void *arg)
{
    const char *name = json_string_value(json_object_get(args, "budget"));
    const char *period = json_string_value(json_object_get(args, "period"));
    claim *c;
    op_call *oc;
    if (!name || !pc_valid_name(name) || !period) {
        misuse(done, arg, "bad budget name");
        return;
    }
    if (!(oc = op_claim(cs, "budget", name, 1, done, arg, &c)))
        return;
    store_budget_take(cs->store, cs->ns, name, period, c->id,
                      json_integer_value(json_object_get(args, "amount")),
                      json_integer_value(json_object_get(args, "max")),
                      json_integer_value(json_object_get(args, "ttl")), cs->dry, on_granted, oc);
}

/* ---- offer: one use of a code within the offer's cap; a reversal's give-back ---- */

static void op_offer(claims *cs, json_t *args, resources_done_fn *done, void *arg)
{
    const char *name = json_string_value(json_object_get(args, "offer"));
    claim *c;
    op_call *oc;
    if (!name || !pc_valid_name(name)) {
        misuse(done, arg, "bad offer name");
        return;
    }
    if (!(oc = op_claim(cs, "offer", name, 1, done, arg, &c)))
        return;
    store_offer_take(cs->store, cs->ns, name, c->id,
                     json_integer_value(json_object_get(args, "cap")),
                     json_integer_value(json_object_get(args, "off")), cs->dry, on_granted, oc);
}

static void op_offer_return(claims *cs, json_t *args, resources_done_fn *done, void *arg)
{
    const char *name = json_string_value(json_object_get(args, "offer"));
    const char *used = json_string_value(json_object_get(args, "event"));
    claim *c;
    op_call *oc;
    if (!name || !pc_valid_name(name) || !used || !pc_valid_id(used)) {
        misuse(done, arg, "bad offer name or event id");
        return;
    }
    if (!(oc = op_claim(cs, "offer_return", name, 1, done, arg, &c)))
        return;
    store_offer_return(cs->store, cs->ns, name, cs->member, used, c->id,
                       json_integer_value(json_object_get(args, "off")),
                       json_integer_value(json_object_get(args, "ttl")), cs->dry, on_granted, oc);
}

/* ---- referral: the first event to claim this member as a referred friend holds it ---- */

typedef struct referral_call {
    claims *cs;
    char claim_id[CLAIM_ID_MAX];
    resources_done_fn *done;
    void *arg;
} referral_call;

static void on_referral(void *arg, const store_error *err, int64_t held)
{
    referral_call r = *(referral_call *)arg;
    free(arg);
    if (err) {
        store_failed(r.done, r.arg, err);
        return;
    }
    if (held == 1 && !r.cs->dry) {
        /* Listed before the commit: a follow-up to deliver should the effect be lost. */
        char entry[CLAIM_ENTRY_MAX];
        claims_entry(entry, sizeof entry, "deliver", r.cs->member, r.claim_id);
        store_claims_put(r.cs->store, r.cs->ns, entry, pc_now_ms(), NULL, NULL);
    }
    json_t *v = json_boolean(held == 1);
    r.done(r.arg, v, NULL);
    json_decref(v);
}

static void op_referral(claims *cs, json_t *args, resources_done_fn *done, void *arg)
{
    const char *by = json_string_value(json_object_get(args, "referrer"));
    const char *type = json_string_value(json_object_get(args, "type"));
    claim *c;
    referral_call *r;
    if (!by || !pc_valid_id(by) || !type || !pc_valid_name(type)) {
        misuse(done, arg, "bad referrer id or event type");
        return;
    }
    if (!(c = claims_remember(cs, "referral", cs->member)) || !(r = calloc(1, sizeof *r))) {
        out_of_memory(done, arg);
        return;
    }
    r->cs = cs;
    r->done = done;
    r->arg = arg;
    snprintf(r->claim_id, sizeof r->claim_id, "%s", c->id);
    if (!cs->dry)
        claims_index(cs, c);
    store_referral_take(cs->store, cs->ns, cs->member, by, type, c->id, cs->dry, on_referral, r);
}

/* ---- reads: what all members share, taken as it is now (no claim, nothing taken) ---- */

static void on_counter_read(void *arg, const store_error *err, int64_t value)
{
    on_counted(arg, err, value);
}

static void on_top_read(void *arg, const store_error *err, size_t n, const store_score *top)
{
    json_t *list;
    if (err) {
        op_fail(arg, err);
        return;
    }
    list = json_array();
    for (size_t i = 0; list && i < n; i++)
        if (json_array_append_new(list, json_pack("{s:I, s:s, s:I}", "rank", (json_int_t)(i + 1),
                                                  "member", top[i].member, "score",
                                                  (json_int_t)top[i].score))) {
            json_decref(list);
            list = NULL;
        }
    op_answer(arg, list);
}

static void on_rank_read(void *arg, const store_error *err, int64_t rank, int64_t score)
{
    if (err)
        op_fail(arg, err);
    else if (rank < 0)
        op_answer(arg, json_null());
    else
        op_answer(arg, json_pack("{s:I, s:I}", "rank", (json_int_t)(rank + 1), "score",
                                 (json_int_t)score));
}

static void on_code_read(void *arg, const store_error *err, const char *text, size_t len)
{
    if (err)
        op_fail(arg, err);
    else
        op_answer(arg, text ? json_stringn(text, len) : json_null());
}

/* code_find: the offer a shared code added through the API belongs to, or null. */
static void op_code_find(claims *cs, json_t *args, resources_done_fn *done, void *arg)
{
    const char *code = json_string_value(json_object_get(args, "code"));
    op_call *oc;
    if (!code || !*code || strlen(code) > 192) {
        misuse(done, arg, "bad code");
        return;
    }
    if ((oc = op_call_new(done, arg)))
        store_read_shared_code(cs->store, cs->ns, code, on_code_read, oc);
}

static void op_read(claims *cs, const char *op, json_t *args, resources_done_fn *done, void *arg)
{
    const char *name = json_string_value(json_object_get(args, "name"));
    const char *board = json_string_value(json_object_get(args, "board"));
    const char *period = json_string_value(json_object_get(args, "period"));
    const char *member = json_string_value(json_object_get(args, "member"));
    op_call *oc;
    if (!strcmp(op, "read_counter") ? !name || !pc_valid_name(name)
                                    : !board || !pc_valid_name(board) || !period) {
        misuse(done, arg, "bad counter or leaderboard name");
        return;
    }
    if (!strcmp(op, "board_rank") && (!member || !pc_valid_id(member))) {
        misuse(done, arg, "bad member id");
        return;
    }
    if (!(oc = op_call_new(done, arg)))
        return;
    if (!strcmp(op, "read_counter"))
        store_read_counter(cs->store, cs->ns, name, on_counter_read, oc);
    else if (!strcmp(op, "board_top"))
        store_read_board_top(cs->store, cs->ns, board, period,
                             (int)json_integer_value(json_object_get(args, "n")), on_top_read, oc);
    else
        store_read_board_rank(cs->store, cs->ns, board, period, member, on_rank_read, oc);
}

int resources_is_read(const char *op)
{
    return !strcmp(op, "read_counter") || !strcmp(op, "board_top") || !strcmp(op, "board_rank") ||
           !strcmp(op, "code_find");
}

void resources_call(claims *cs, const mech_request *req, resources_done_fn *done, void *arg)
{
    if (!strcmp(req->op, "code_find"))
        op_code_find(cs, req->args, done, arg);
    else if (resources_is_read(req->op))
        op_read(cs, req->op, req->args, done, arg);
    else if (!strcmp(req->op, "counter"))
        op_counter(cs, req->args, done, arg);
    else if (!strcmp(req->op, "draw"))
        op_draw(cs, req->args, done, arg);
    else if (!strcmp(req->op, "budget"))
        op_budget(cs, req->args, done, arg);
    else if (!strcmp(req->op, "referral"))
        op_referral(cs, req->args, done, arg);
    else if (!strcmp(req->op, "offer"))
        op_offer(cs, req->args, done, arg);
    else if (!strcmp(req->op, "offer_return"))
        op_offer_return(cs, req->args, done, arg);
    else
        misuse(done, arg, "unknown global operation");
}

/* A release in flight: its NS:claims entry goes once the claim is gone. */
typedef struct release_call {
    store *store;
    char ns[64];
    char entry[CLAIM_ENTRY_MAX];
} release_call;

static void on_released(void *arg, const store_error *err, int64_t result)
{
    release_call *r = arg;
    /* -1: touched by a retry meanwhile; the sweeper looks again later. */
    if (!err && result >= 0)
        store_claims_del(r->store, r->ns, r->entry, NULL, NULL);
    free(r);
}

void resources_release(store *s, const char *ns, const char *op, const char *resource,
                       const char *claim_id, int64_t min_age_ms)
{
    release_call *r;
    if (!strcmp(op, "counter")) {
        store_counter_release(s, ns, resource, claim_id, NULL, NULL);
        return;
    }
    if (!(r = calloc(1, sizeof *r)))
        return;
    r->store = s;
    snprintf(r->ns, sizeof r->ns, "%s", ns);
    claims_entry(r->entry, sizeof r->entry, op, resource, claim_id);
    if (!strcmp(op, "draw")) {
        store_draw_release(s, ns, resource, claim_id, min_age_ms, on_released, r);
    } else if (!strcmp(op, "budget")) {
        store_budget_release(s, ns, resource, claim_id, min_age_ms, on_released, r);
    } else if (!strcmp(op, "referral")) {
        store_referral_release(s, ns, resource, claim_id, min_age_ms, on_released, r);
    } else if (!strcmp(op, "offer") || !strcmp(op, "offer_return")) {
        store_offer_release(s, ns, resource, claim_id, min_age_ms, on_released, r);
    } else {
        pc_log(PC_LOG_WARN, "claim %s: unknown operation %s; dropped", claim_id, op);
        on_released(r, NULL, 0);
    }
}
