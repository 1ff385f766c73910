/*
 * The game's global operations (globals-internal.h): instant-win draws with
 * finite prize pools, campaign budgets and referrals, each reserved under a
 * claim in one server-side script (one Cluster slot per resource); and the
 * game's effects: leaderboard scores and the referrer's event of a referral.
 *
 * Keys (NS = namespace):
 *   NS:{draw:D}:meta                 hash  epoch (absent = 1), wins, won:<prize>,
 *                                          pool:<prize>, refill:<prize>, tz,
 *                                          secret:<epoch> (revealed), rotated:<epoch>
 *   NS:{draw:D}:pool:<prize>:<period> hash left, won, size (expires after its period)
 *   NS:{draw:D}:claim:<claim id>     hash  t (touched, ms), epoch, prize, pool
 *   NS:{budget:B}:<period>           hash  used, max
 *   NS:{budget:B}:claim:<claim id>   hash  t, amount, key
 *   NS:{ref:FRIEND}:by               hash  referrer, claim, t, type (kept for good)
 *   NS:{lb:L}:<period>               zset  member -> score;  NS:{lb:L}:meta hash per, tz
 */
#include "globals-internal.h"
#include "common/calendar-internal.h"
#include "model/draw-internal.h"
#include "store/store-internal.h"
#include "store-scripts-gen.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLAIM_TTL "86400"

static void draw_key(const globals *g, const char *draw, const char *suffix, char *out, size_t n)
{
    snprintf(out, n, "%s:{draw:%s}:%s", g->ns, draw, suffix);
}

static void claim_key(const globals *g, const char *kind, const char *res, const char *id,
                      char *out, size_t n)
{
    snprintf(out, n, "%s:{%s:%s}:claim:%s", g->ns, kind, res, id);
}

/* A draw in progress: read the epoch (or an earlier claim), roll, then take a prize. */
typedef struct draw_call {
    globals *g;
    globals_event *ge;
    char draw[80];
    char claim_id[CLAIM_ID_MAX];
    double chance;
    json_t *args; /* the request's args (a reference) */
    int64_t epoch;
    uint64_t u, pick;
    globals_done_fn *done;
    void *arg;
} draw_call;

static void draw_answer(draw_call *d, int won, const char *prize, const char *reason)
{
    json_t *r = json_pack("{s:b, s:o, s:I, s:f, s:f}", "won", won, "prize",
                          prize ? json_string(prize) : json_null(), "epoch", (json_int_t)d->epoch,
                          "roll", ldexp((double)d->u, -64), "chance", d->chance);
    if (reason)
        json_object_set_new(r, "reason", json_string(reason));
    d->done(d->arg, r, NULL);
    json_decref(r);
    json_decref(d->args);
    free(d);
}

static void draw_fail(draw_call *d, const char *err)
{
    d->done(d->arg, NULL, err);
    json_decref(d->args);
    free(d);
}

static int reply_bad(redisReply *r, const char *err, draw_call *d)
{
    if (!r) {
        draw_fail(d, err ? err : "redis unavailable");
        return 1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        draw_fail(d, r->str);
        return 1;
    }
    return 0;
}

static void on_draw_taken(redisReply *r, const char *err, void *arg)
{
    draw_call *d = arg;
    if (reply_bad(r, err, d))
        return;
    if (r->type == REDIS_REPLY_STRING && r->len > 0)
        draw_answer(d, 1, r->str, NULL);
    else
        draw_answer(d, 0, NULL, "pool_empty");
}

static void draw_take(draw_call *d)
{
    json_t *prizes = json_object_get(d->args, "prizes");
    size_t n = json_array_size(prizes), start = n ? (size_t)(d->pick % n) : 0;
    const char *tz = json_string_value(json_object_get(d->args, "tz"));
    int nkeys = 2 + (int)n, argc = nkeys + 4 + 4 * (int)n, k = 0;
    char **own = calloc((size_t)argc, sizeof *own);
    const char **argv = calloc((size_t)argc, sizeof *argv);
    char epoch[32];
    if (!own || !argv || n == 0) {
        free(own);
        free(argv);
        draw_fail(d, n ? "out of memory" : "a draw needs at least one prize");
        return;
    }
/* An argument this function formats and owns; on failure k stays short and the call fails. */
#define OWN(fmt, ...)                                                                              \
    (void)(asprintf(&own[k], fmt, __VA_ARGS__) < 0 ? (own[k] = NULL, 0)                            \
                                                   : (argv[k] = own[k], k++, 1))
    OWN("%s:{draw:%s}:meta", d->g->ns, d->draw);
    OWN("%s:{draw:%s}:claim:%s", d->g->ns, d->draw, d->claim_id);
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(prizes, (start + i) % n);
        OWN("%s:{draw:%s}:pool:%s:%s", d->g->ns, d->draw,
            json_string_value(json_object_get(p, "prize")),
            json_string_value(json_object_get(p, "period")));
    }
    snprintf(epoch, sizeof epoch, "%" PRId64, d->epoch);
    argv[k++] = epoch;
    argv[k++] = CLAIM_TTL;
    argv[k++] = d->ge->dry ? "1" : "0";
    argv[k++] = tz ? tz : "UTC";
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(prizes, (start + i) % n);
        argv[k++] = json_string_value(json_object_get(p, "prize"));
        OWN("%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(p, "pool")));
        argv[k++] = json_string_value(json_object_get(p, "refill"));
        OWN("%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(p, "ttl")));
    }
#undef OWN
    if (k == argc)
        store_eval(d->g->store, &store_script_draw_take, on_draw_taken, d, nkeys, argc, argv, NULL);
    else
        draw_fail(d, "out of memory");
    for (int i = 0; i < argc; i++)
        free(own[i]);
    free(own);
    free(argv);
}

static void on_draw_read(redisReply *r, const char *err, void *arg)
{
    draw_call *d = arg;
    if (reply_bad(r, err, d))
        return;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
        draw_fail(d, "unexpected reply to draw_read");
        return;
    }
    d->epoch = r->element[0]->integer;
    draw_roll(d->draw, d->epoch, d->ge->member, d->ge->event_id, &d->u, &d->pick);
    if (r->element[2]->integer == 1) {
        /* This event won before (a retry, or a decision taken again): the same prize. */
        draw_answer(d, 1, r->element[1]->str, NULL);
        return;
    }
    if (!draw_wins(d->u, d->chance)) {
        draw_answer(d, 0, NULL, "chance");
        return;
    }
    if (!d->ge->dry) {
        claim *c = globals_remember(d->ge, "draw", d->draw);
        if (c)
            globals_index_add(d->g, c);
    }
    draw_take(d);
}

static void op_draw(globals *g, globals_event *ge, json_t *args, globals_done_fn *done, void *arg)
{
    const char *name = json_string_value(json_object_get(args, "draw"));
    draw_call *d;
    claim *c;
    char meta[256], ckey[CLAIM_ID_MAX + 256];
    if (!name || !pc_valid_name(name)) {
        done(arg, NULL, "bad draw name");
        return;
    }
    if (!(c = globals_remember(ge, "draw", name)) || !(d = calloc(1, sizeof *d))) {
        done(arg, NULL, "out of memory");
        return;
    }
    d->g = g;
    d->ge = ge;
    d->done = done;
    d->arg = arg;
    d->args = json_incref(args);
    d->chance = json_number_value(json_object_get(args, "chance"));
    snprintf(d->draw, sizeof d->draw, "%s", name);
    snprintf(d->claim_id, sizeof d->claim_id, "%s", c->id);
    draw_key(g, name, "meta", meta, sizeof meta);
    claim_key(g, "draw", name, c->id, ckey, sizeof ckey);
    const char *argv[2] = {meta, ckey};
    store_eval(g->store, &store_script_draw_read, on_draw_read, d, 2, 2, argv, NULL);
}

typedef struct bool_call {
    globals_done_fn *done;
    void *arg;
} bool_call;

static void on_bool(redisReply *r, const char *err, void *arg)
{
    bool_call b = *(bool_call *)arg;
    free(arg);
    if (!r)
        b.done(b.arg, NULL, err ? err : "redis unavailable");
    else if (r->type == REDIS_REPLY_ERROR)
        b.done(b.arg, NULL, r->str);
    else {
        json_t *v = json_boolean(r->type == REDIS_REPLY_INTEGER && r->integer == 1);
        b.done(b.arg, v, NULL);
        json_decref(v);
    }
}

static bool_call *bool_new(globals_done_fn *done, void *arg)
{
    bool_call *b = malloc(sizeof *b);
    if (!b) {
        done(arg, NULL, "out of memory");
        return NULL;
    }
    b->done = done;
    b->arg = arg;
    return b;
}

/* budget: all of amount within max per period, or nothing. */
static void op_budget(globals *g, globals_event *ge, json_t *args, globals_done_fn *done, void *arg)
{
    const char *name = json_string_value(json_object_get(args, "budget"));
    const char *period = json_string_value(json_object_get(args, "period"));
    char key[256], ckey[CLAIM_ID_MAX + 256], amount[32], max[32], ttl[32];
    claim *c;
    bool_call *b;
    if (!name || !pc_valid_name(name) || !period) {
        done(arg, NULL, "bad budget name");
        return;
    }
    if (!(c = globals_remember(ge, "budget", name))) {
        done(arg, NULL, "out of memory");
        return;
    }
    if (!(b = bool_new(done, arg)))
        return;
    snprintf(key, sizeof key, "%s:{budget:%s}:%s", g->ns, name, period);
    claim_key(g, "budget", name, c->id, ckey, sizeof ckey);
    snprintf(amount, sizeof amount, "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(args, "amount")));
    snprintf(max, sizeof max, "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(args, "max")));
    snprintf(ttl, sizeof ttl, "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(args, "ttl")));
    if (!ge->dry)
        globals_index_add(g, c);
    const char *argv[7] = {key, ckey, amount, max, ttl, CLAIM_TTL, ge->dry ? "1" : "0"};
    store_eval(g->store, &store_script_budget_take, on_bool, b, 2, 7, argv, NULL);
}

/* referral: the first event to claim this member as a referred friend holds it for good. */
typedef struct referral_call {
    globals *g;
    int dry;
    char friend_id[PC_ID_MAX + 1];
    char claim_id[CLAIM_ID_MAX];
    globals_done_fn *done;
    void *arg;
} referral_call;

static void on_referral(redisReply *r, const char *err, void *arg)
{
    referral_call *rc = arg;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        rc->done(rc->arg, NULL, r ? r->str : err ? err : "redis unavailable");
    } else {
        int held = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
        if (held && !rc->dry) {
            /* Sent before the commit: a follow-up to deliver should the effect be lost. */
            char entry[CLAIM_ID_MAX + 200];
            globals_index_entry("deliver", rc->friend_id, rc->claim_id, entry, sizeof entry);
            globals_index_put(rc->g, entry);
        }
        json_t *v = json_boolean(held);
        rc->done(rc->arg, v, NULL);
        json_decref(v);
    }
    free(rc);
}

static void op_referral(globals *g, globals_event *ge, json_t *args, globals_done_fn *done,
                        void *arg)
{
    const char *by = json_string_value(json_object_get(args, "referrer"));
    const char *type = json_string_value(json_object_get(args, "type"));
    char key[PC_ID_MAX + 128];
    claim *c;
    referral_call *rc;
    if (!by || !pc_valid_id(by) || !type || !pc_valid_name(type)) {
        done(arg, NULL, "bad referrer id or event type");
        return;
    }
    if (!(c = globals_remember(ge, "referral", ge->member)) || !(rc = calloc(1, sizeof *rc))) {
        done(arg, NULL, "out of memory");
        return;
    }
    rc->g = g;
    rc->dry = ge->dry;
    rc->done = done;
    rc->arg = arg;
    snprintf(rc->friend_id, sizeof rc->friend_id, "%s", ge->member);
    snprintf(rc->claim_id, sizeof rc->claim_id, "%s", c->id);
    snprintf(key, sizeof key, "%s:{ref:%s}:by", g->ns, ge->member);
    if (!ge->dry)
        globals_index_add(g, c);
    const char *argv[5] = {key, by, c->id, ge->dry ? "1" : "0", type};
    store_eval(g->store, &store_script_referral_take, on_referral, rc, 1, 5, argv, NULL);
}

int game_op_call(globals *g, globals_event *ge, const mech_request *req, globals_done_fn *done,
                 void *arg)
{
    if (!strcmp(req->op, "draw"))
        op_draw(g, ge, req->args, done, arg);
    else if (!strcmp(req->op, "budget"))
        op_budget(g, ge, req->args, done, arg);
    else if (!strcmp(req->op, "referral"))
        op_referral(g, ge, req->args, done, arg);
    else
        return 0;
    return 1;
}

int game_op_release(globals *g, const char *op, const char *resource, const char *claim_id,
                    int64_t min_age_ms, store_reply_fn *fn, void *arg)
{
    char k1[CLAIM_ID_MAX + 256], k2[CLAIM_ID_MAX + 256], age[32];
    snprintf(age, sizeof age, "%" PRId64, min_age_ms);
    if (!strcmp(op, "draw")) {
        draw_key(g, resource, "meta", k1, sizeof k1);
        claim_key(g, "draw", resource, claim_id, k2, sizeof k2);
        const char *argv[3] = {k1, k2, age};
        store_eval(g->store, &store_script_draw_release, fn, arg, 2, 3, argv, NULL);
    } else if (!strcmp(op, "budget")) {
        claim_key(g, "budget", resource, claim_id, k1, sizeof k1);
        const char *argv[2] = {k1, age};
        store_eval(g->store, &store_script_budget_release, fn, arg, 1, 2, argv, NULL);
    } else if (!strcmp(op, "referral")) {
        snprintf(k1, sizeof k1, "%s:{ref:%s}:by", g->ns, resource);
        const char *argv[3] = {k1, claim_id, age};
        store_eval(g->store, &store_script_referral_release, fn, arg, 1, 3, argv, NULL);
    } else {
        return 0;
    }
    return 1;
}

static void ignore(redisReply *r, const char *err, void *arg)
{
    (void)r;
    (void)err;
    (void)arg;
}

/* A referrer's event in flight: its "deliver" entry goes once punchd answered (not 5xx). */
typedef struct deliver_ctx {
    globals *g;
    char entry[CLAIM_ID_MAX + 200];
    char referrer[PC_ID_MAX + 1];
} deliver_ctx;

static void on_delivered(void *arg, int status, json_t *body)
{
    deliver_ctx *d = arg;
    if (status != 200) {
        char *text = json_dumps(body, JSON_COMPACT);
        pc_log(PC_LOG_WARN, "referral event for %s: %d %s", d->referrer, status, text ? text : "");
        free(text);
    }
    json_decref(body);
    if (!globals_drop(d->g) && status < 500)
        globals_index_del(d->g, d->entry);
    free(d);
}

/* Sends referrer the event "ref:<friend>" of type (once: the id makes a resend a duplicate). */
static void send_referral(globals *g, const char *friend_id, const char *referrer, const char *type,
                          const char *claim_id)
{
    char id[PC_ID_MAX + 1];
    json_t *ev;
    pc_event sub;
    pc_error err;
    deliver_ctx *d;
    if (strlen(friend_id) <= PC_ID_MAX - 4) {
        snprintf(id, sizeof id, "ref:%s", friend_id);
    } else {
        char h[41];
        pc_sha1_hex(friend_id, strlen(friend_id), h);
        snprintf(id, sizeof id, "ref:%s", h);
    }
    ev = json_pack("{s:s, s:s, s:s, s:{s:s}}", "id", id, "type", type, "member", referrer, "data",
                   "friend", friend_id);
    if (!g->engine || !ev || pc_event_from_json(ev, &sub, &err) || !(d = calloc(1, sizeof *d))) {
        pc_log(PC_LOG_WARN, "referral of %s: cannot send %s its event", friend_id, referrer);
        json_decref(ev);
        return;
    }
    json_decref(ev);
    d->g = g;
    globals_hold(g);
    globals_index_entry("deliver", friend_id, claim_id, d->entry, sizeof d->entry);
    snprintf(d->referrer, sizeof d->referrer, "%s", referrer);
    engine_submit(g->engine, &sub, on_delivered, d);
}

typedef struct deliver_read {
    globals *g;
    char friend_id[PC_ID_MAX + 1];
    char claim_id[CLAIM_ID_MAX];
    char entry[CLAIM_ID_MAX + 200];
} deliver_read;

static void on_deliver_read(redisReply *r, const char *err, void *arg)
{
    deliver_read *d = arg;
    if (!globals_drop(d->g) && r && r->type == REDIS_REPLY_ARRAY && r->elements == 3) {
        redisReply *by = r->element[0], *type = r->element[1], *holder = r->element[2];
        if (by->str && holder->str && !strcmp(holder->str, d->claim_id))
            send_referral(d->g, d->friend_id, by->str, type->str ? type->str : "referral",
                          d->claim_id);
        else
            globals_index_del(d->g, d->entry); /* another event holds it: nothing to send */
    }
    free(d);
}

void game_deliver(globals *g, const char *friend_id, const char *claim_id, const char *entry)
{
    deliver_read *d = calloc(1, sizeof *d);
    char key[PC_ID_MAX + 128];
    if (!d)
        return;
    d->g = g;
    snprintf(d->friend_id, sizeof d->friend_id, "%s", friend_id);
    snprintf(d->claim_id, sizeof d->claim_id, "%s", claim_id);
    snprintf(d->entry, sizeof d->entry, "%s", entry);
    snprintf(key, sizeof key, "%s:{ref:%s}:by", g->ns, friend_id);
    const char *argv[5] = {"HMGET", key, "referrer", "type", "claim"};
    globals_hold(g);
    store_command(g->store, on_deliver_read, d, 5, argv, NULL);
}

int game_effect(globals *g, const pc_event *ev, json_t *fx)
{
    const char *op = json_string_value(json_object_get(fx, "op"));
    if (op && !strcmp(op, "leaderboard")) {
        char key[256], meta[256], score[32], ttl[32];
        const char *board = json_string_value(json_object_get(fx, "board"));
        const char *period = json_string_value(json_object_get(fx, "period"));
        const char *per = json_string_value(json_object_get(fx, "per"));
        const char *tz = json_string_value(json_object_get(fx, "tz"));
        if (!board || !period || !per || !tz)
            return 1;
        snprintf(key, sizeof key, "%s:{lb:%s}:%s", g->ns, board, period);
        snprintf(meta, sizeof meta, "%s:{lb:%s}:meta", g->ns, board);
        snprintf(score, sizeof score, "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(fx, "score")));
        snprintf(ttl, sizeof ttl, "%d", cal_period_ttl(cal_period_parse(per)));
        const char *argv[7] = {key, meta, score, ev->member, ttl, per, tz};
        store_eval(g->store, &store_script_lb_add, ignore, NULL, 2, 7, argv, NULL);
        return 1;
    }
    if (op && !strcmp(op, "referral")) {
        /* The friend's event committed holding the referral: reward the referrer. */
        const char *by = json_string_value(json_object_get(fx, "referrer"));
        const char *type = json_string_value(json_object_get(fx, "type"));
        char claim_id[CLAIM_ID_MAX];
        if (!by || !type)
            return 1;
        snprintf(claim_id, sizeof claim_id, "%s/%s/referral/%s", ev->member, ev->id, ev->member);
        send_referral(g, ev->member, by, type, claim_id);
        return 1;
    }
    return 0;
}
