/*
 * The engine's reads (punchcard/query.h): members, ledgers, draws,
 * leaderboards, the program's figures, global counters, as the HTTP API
 * shows them. The one read model: punchd's routes and punch's commands both
 * answer with what is built here.
 *
 * A read may need several store operations, some after others (a board's
 * period comes from its meta). Each read is a read_op with a count of holds:
 * one for the code that is sending (the starter, or the callback that sends
 * the next reads) and one per store operation in flight. The answer is sent,
 * and the read freed, only when the last hold goes, so no callback can free
 * a read while other code still uses it, even when the store answers before
 * the sending function returns.
 */
#include "engine-internal.h"
#include "offers.h"
#include "common/calendar-internal.h"
#include "model/draw-internal.h"
#include "model/member-internal.h"
#include "punchcard/query.h"
#include "store/reads-internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL

typedef struct read_op read_op;
struct read_op {
    engine *e;
    engine_done_fn *done;
    void *arg;
    int holds;
    int failed;   /* err holds the answer */
    pc_error err; /* the first failure */
    json_t *body; /* the answer being built (owned) */
    const char *ns;
    void (*finish)(read_op *op); /* when the last read is in: completes body (may fail op) */
    void (*drop)(read_op *op);   /* frees what the read kept beside body; NULL: nothing */
};

/*
 * A new read of size bytes (a struct whose first member is a read_op),
 * holding one hold for its starter. NULL after answering 500 when out of
 * memory.
 */
static void *op_new(engine *e, size_t size, engine_done_fn *done, void *arg)
{
    read_op *op = calloc(1, size);
    if (!op) {
        engine_answer_oom(done, arg);
        return NULL;
    }
    op->e = e;
    op->ns = e->ns;
    op->done = done;
    op->arg = arg;
    op->holds = 1;
    return op;
}

/* Records the first failure; later reads still come in, and are dropped. */
static void op_fail(read_op *op, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void op_fail(read_op *op, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    if (op->failed)
        return;
    op->failed = 1;
    pc_fail(&op->err, status, code, "%s", "");
    va_start(ap, fmt);
    vsnprintf(op->err.message, sizeof op->err.message, fmt, ap);
    va_end(ap);
}

/* A store failure: 503 unavailable, 507 storage_full or 500 internal (store_error_fail()). */
static void op_store_fail(read_op *op, const store_error *se)
{
    if (!op->failed) {
        op->failed = 1;
        store_error_fail(se, &op->err);
    }
}

static void op_hold(read_op *op)
{
    op->holds++;
}

/* Gives back one hold; the last one answers (exactly once) and frees op. */
static void op_release(read_op *op)
{
    json_t *body;
    int status = 200;
    if (--op->holds > 0)
        return;
    if (!op->failed && op->finish)
        op->finish(op);
    if (!op->failed && !op->body)
        op_fail(op, 500, "internal", "out of memory");
    if (op->failed) {
        status = op->err.status;
        body = pc_error_json(&op->err);
        json_decref(op->body);
    } else {
        body = op->body;
    }
    op->done(op->arg, status, body);
    if (op->drop)
        op->drop(op);
    free(op);
}

/* "Now" for periods and default days: the engine's clock. */
static int64_t op_now(const read_op *op)
{
    return op->e->clock(op->e->clock_arg);
}

/* A hash's pairs as an object of strings (a new reference; NULL on out of memory). */
static json_t *pairs_object(const store_pairs *p)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i + 1 < p->n; i += 2) {
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)p->len[i], p->v[i]);
        json_object_set_new(o, name, json_stringn(p->v[i + 1], p->len[i + 1]));
    }
    return o;
}

/* An integer held as a string in obj[key]; def when absent. */
static int64_t str_int(json_t *obj, const char *key, int64_t def)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v ? strtoll(v, NULL, 10) : def;
}

/* ---- GET /v1/members/{m} ---- */

typedef struct member_read {
    read_op op;
    char member[PC_ID_MAX + 1];
} member_read;

static void on_member(void *arg, const store_error *err, const store_pairs *p)
{
    member_read *q = arg;
    member_state *m;
    if (err)
        op_store_fail(&q->op, err);
    else if (p->n == 0)
        op_fail(&q->op, 404, "not_found", "no such member");
    else if (!(m = member_new(q->member)) || member_load_pairs(m, p->n, p->v, p->len)) {
        member_free(m);
        op_fail(&q->op, 500, "internal", "member state is unreadable");
    } else {
        q->op.body = member_to_json(m);
        member_free(m);
    }
    op_release(&q->op);
}

void engine_get_member(engine *e, const char *member, engine_done_fn *done, void *arg)
{
    member_read *q = op_new(e, sizeof *q, done, arg);
    if (!q)
        return;
    if (!pc_valid_id(member)) {
        op_fail(&q->op, 400, "bad_request", "bad member id");
    } else {
        snprintf(q->member, sizeof q->member, "%s", member);
        op_hold(&q->op);
        store_read_member(e->store, e->ns, member, on_member, q);
    }
    op_release(&q->op);
}

/* ---- GET /v1/members/{m}/ledger ---- */

typedef struct ledger_read {
    read_op op;
    char member[PC_ID_MAX + 1];
    int limit;
} ledger_read;

static const char *entry_field(const store_pairs *f, const char *name)
{
    for (size_t i = 0; i + 1 < f->n; i += 2)
        if (strcmp(f->v[i], name) == 0)
            return f->v[i + 1];
    return NULL;
}

static json_t *entry_json(const store_entry *en)
{
    static const char *const strings[][2] = {
        {"event", "event"},       {"type", "type"},     {"kind", "kind"},
        {"partner", "partner"},   {"reason", "reason"}, {"mechanic", "mechanic"},
        {"currency", "currency"}, {"at", "at"},         {"mv", "mechanics_version"}};
    static const char *const numbers[] = {"delta", "balance", "pending"};
    json_t *j = json_pack("{s:s}", "id", en->id);
    const char *s;
    for (size_t i = 0; i < sizeof strings / sizeof *strings; i++) {
        s = entry_field(&en->fields, strings[i][0]);
        json_object_set_new(j, strings[i][1], s ? json_string(s) : json_null());
    }
    for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++) {
        s = entry_field(&en->fields, numbers[i]);
        json_object_set_new(j, numbers[i], json_integer(s ? strtoll(s, NULL, 10) : 0));
    }
    /* The member's experiment groups, when the program declares experiments:
     * "spring=control,summer=treatment" -> {"spring": "control", ...}. */
    if ((s = entry_field(&en->fields, "experiments"))) {
        json_t *g = json_object();
        while (g && *s) {
            const char *eq = strchr(s, '='), *comma = strchr(s, ',');
            char k[80];
            if (!eq || (comma && comma < eq))
                break;
            if (!comma)
                comma = s + strlen(s);
            snprintf(k, sizeof k, "%.*s", (int)(eq - s), s);
            json_object_set_new(g, k, json_stringn(eq + 1, (size_t)(comma - eq - 1)));
            s = *comma ? comma + 1 : comma;
        }
        json_object_set_new(j, "experiments", g);
    }
    return j;
}

static void on_ledger(void *arg, const store_error *err, size_t n, const store_entry *entries)
{
    ledger_read *q = arg;
    json_t *list, *next = json_null();
    if (err) {
        op_store_fail(&q->op, err);
        op_release(&q->op);
        return;
    }
    /* One entry more than asked was read: it starts the next page. */
    list = json_array();
    for (size_t i = 0; i < n; i++) {
        if ((int)i == q->limit) {
            next = json_string(entries[i].id);
            break;
        }
        json_array_append_new(list, entry_json(&entries[i]));
    }
    q->op.body = json_pack("{s:s, s:o, s:o}", "member", q->member, "entries", list, "next", next);
    op_release(&q->op);
}

/* A stream id as a cursor: digits, one '-', digits. */
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

void engine_get_ledger(engine *e, const char *member, int limit, const char *cursor,
                       engine_done_fn *done, void *arg)
{
    ledger_read *q = op_new(e, sizeof *q, done, arg);
    if (!q)
        return;
    if (!pc_valid_id(member)) {
        op_fail(&q->op, 400, "bad_request", "bad member id");
    } else if (limit < 1 || limit > 1000) {
        op_fail(&q->op, 400, "bad_request", "limit must be 1-1000");
    } else if (cursor && !valid_stream_id(cursor)) {
        op_fail(&q->op, 400, "bad_request", "bad cursor");
    } else {
        snprintf(q->member, sizeof q->member, "%s", member);
        q->limit = limit;
        op_hold(&q->op);
        store_read_ledger(e->store, e->ns, member, cursor, limit + 1, on_ledger, q);
    }
    op_release(&q->op);
}

/* ---- GET /v1/draws/{name} ---- */

typedef struct draw_read {
    read_op op;
    char name[PC_TYPE_MAX + 1];
    int flags;
} draw_read;

/* One prize's pool in the current period, read into prize (borrowed from the answer). */
typedef struct pool_read {
    draw_read *q;
    json_t *prize;
} pool_read;

static void on_pool(void *arg, const store_error *err, const store_pool *pool)
{
    pool_read *p = arg;
    draw_read *q = p->q;
    if (err) {
        op_store_fail(&q->op, err);
    } else {
        /* A period nobody drew in yet still has its whole pool. */
        json_int_t size = json_integer_value(json_object_get(p->prize, "pool"));
        json_object_set_new(p->prize, "left", json_integer(pool->found ? pool->left : size));
        json_object_set_new(p->prize, "won_in_period", json_integer(pool->found ? pool->won : 0));
    }
    free(p);
    op_release(&q->op);
}

/* Reads what is left of each prize's pool in the period holding now (unlimited pools have none). */
static void draw_read_pools(draw_read *q, json_t *prizes, const char *tz)
{
    size_t i;
    json_t *prize;
    json_array_foreach(prizes, i, prize) {
        int per = cal_period_parse(json_string_value(json_object_get(prize, "refill")));
        char period[32];
        pool_read *p;
        if (json_integer_value(json_object_get(prize, "pool")) < 0)
            continue;
        if (!(p = malloc(sizeof *p))) {
            op_fail(&q->op, 500, "internal", "out of memory");
            return;
        }
        cal_period_id(op_now(&q->op), tz, 0, per < 0 ? CAL_ALL : per, period, sizeof period);
        json_object_set_new(prize, "period", json_string(period));
        p->q = q;
        p->prize = prize;
        op_hold(&q->op);
        store_read_pool(q->op.e->store, q->op.ns, q->name,
                        json_string_value(json_object_get(prize, "prize")), period, on_pool, p);
    }
}

/* A prize of the meta's "pool:PRIZE" field, with its refill and wins of all time. */
static json_t *prize_json(json_t *meta, const char *prize, json_t *size)
{
    char field[100];
    const char *refill;
    snprintf(field, sizeof field, "refill:%s", prize);
    refill = json_string_value(json_object_get(meta, field));
    snprintf(field, sizeof field, "won:%s", prize);
    return json_pack("{s:s, s:I, s:s, s:I}", "prize", prize, "pool",
                     (json_int_t)strtoll(json_string_value(size), NULL, 10), "refill",
                     refill ? refill : "never", "won", (json_int_t)str_int(meta, field, 0));
}

/* An ended epoch of the meta's "secret:EPOCH" field: its secret, the secret's hash, when. */
static json_t *revealed_json(json_t *meta, const char *epoch, const char *secret)
{
    char hash[65], field[64];
    pc_sha256_hex(secret, strlen(secret), hash);
    snprintf(field, sizeof field, "rotated:%s", epoch);
    return json_pack("{s:I, s:s, s:s, s:O?}", "epoch", (json_int_t)strtoll(epoch, NULL, 10),
                     "secret", secret, "secret_sha256", hash, "rotated_at",
                     json_object_get(meta, field));
}

static void on_draw_meta(void *arg, const store_error *err, const store_pairs *pairs)
{
    draw_read *q = arg;
    json_t *meta = err ? NULL : pairs_object(pairs), *prizes, *revealed, *v;
    const char *k, *tz;
    int64_t epoch;
    char hash[65];
    if (err || !meta) {
        if (err)
            op_store_fail(&q->op, err);
        else
            op_fail(&q->op, 500, "internal", "out of memory");
        op_release(&q->op);
        return;
    }
    if ((q->flags & ENGINE_READ_SEEN_ONLY) && json_object_size(meta) == 0) {
        op_fail(&q->op, 404, "not_found", "no such draw (nobody drew in it yet)");
        json_decref(meta);
        op_release(&q->op);
        return;
    }
    epoch = str_int(meta, "epoch", 1);
    tz = json_string_value(json_object_get(meta, "tz"));
    prizes = json_array();
    revealed = json_array();
    json_object_foreach(meta, k, v) {
        if (!strncmp(k, "pool:", 5))
            json_array_append_new(prizes, prize_json(meta, k + 5, v));
        else if (!strncmp(k, "secret:", 7))
            json_array_append_new(revealed, revealed_json(meta, k + 7, json_string_value(v)));
    }
    draw_commitment(q->name, epoch, hash);
    q->op.body = json_pack("{s:s, s:I, s:s, s:s, s:I, s:s, s:o, s:o}", "draw", q->name, "epoch",
                           (json_int_t)epoch, "secret_sha256", hash, "secret_source",
                           draw_secret_source(), "wins", (json_int_t)str_int(meta, "wins", 0), "tz",
                           tz ? tz : "UTC", "prizes", prizes, "revealed", revealed);
    draw_read_pools(q, json_object_get(q->op.body, "prizes"), tz ? tz : "UTC");
    json_decref(meta);
    op_release(&q->op);
}

void engine_get_draw(engine *e, const char *name, int flags, engine_done_fn *done, void *arg)
{
    draw_read *q = op_new(e, sizeof *q, done, arg);
    if (!q)
        return;
    if (!pc_valid_name(name)) {
        op_fail(&q->op, 404, "not_found", "no such draw");
    } else {
        snprintf(q->name, sizeof q->name, "%s", name);
        q->flags = flags;
        op_hold(&q->op);
        store_read_draw_meta(e->store, e->ns, name, on_draw_meta, q);
    }
    op_release(&q->op);
}

/* ---- GET /v1/leaderboards/{name} ---- */

typedef struct board_read {
    read_op op;
    char name[PC_TYPE_MAX + 1];
    char member[PC_ID_MAX + 1]; /* "" when not asked */
    char period[32];            /* "" until known */
    int top, flags;
} board_read;

static void on_board_top(void *arg, const store_error *err, size_t n, const store_score *top)
{
    board_read *q = arg;
    json_t *list = json_object_get(q->op.body, "top");
    if (err)
        op_store_fail(&q->op, err);
    for (size_t i = 0; !err && i < n; i++)
        json_array_append_new(list, json_pack("{s:i, s:s, s:I}", "rank", (int)i + 1, "member",
                                              top[i].member, "score", (json_int_t)top[i].score));
    op_release(&q->op);
}

static void on_board_rank(void *arg, const store_error *err, int64_t rank, int64_t score)
{
    board_read *q = arg;
    if (err)
        op_store_fail(&q->op, err);
    else if (rank >= 0)
        json_object_set_new(q->op.body, "member",
                            json_pack("{s:I, s:s, s:I}", "rank", (json_int_t)rank + 1, "member",
                                      q->member, "score", (json_int_t)score));
    op_release(&q->op);
}

static void on_board_meta(void *arg, const store_error *err, const store_pairs *pairs)
{
    board_read *q = arg;
    json_t *meta = err ? NULL : pairs_object(pairs);
    const char *per, *tz;
    int p;
    if (!meta || ((q->flags & ENGINE_READ_SEEN_ONLY) && json_object_size(meta) == 0)) {
        if (err)
            op_store_fail(&q->op, err);
        else if (meta)
            op_fail(&q->op, 404, "not_found", "no such leaderboard (nobody scored on it yet)");
        else
            op_fail(&q->op, 500, "internal", "out of memory");
        json_decref(meta);
        op_release(&q->op);
        return;
    }
    per = json_string_value(json_object_get(meta, "per"));
    tz = json_string_value(json_object_get(meta, "tz"));
    p = cal_period_parse(per);
    if (!q->period[0])
        cal_period_id(op_now(&q->op), tz ? tz : "UTC", 0, p < 0 ? CAL_ALL : p, q->period,
                      sizeof q->period);
    q->op.body = json_pack("{s:s, s:s, s:s, s:[], s:n}", "leaderboard", q->name, "period",
                           q->period, "per", per ? per : "week", "top", "member");
    json_decref(meta);
    op_hold(&q->op);
    store_read_board_top(q->op.e->store, q->op.ns, q->name, q->period, q->top, on_board_top, q);
    if (q->member[0]) {
        op_hold(&q->op);
        store_read_board_rank(q->op.e->store, q->op.ns, q->name, q->period, q->member,
                              on_board_rank, q);
    }
    op_release(&q->op);
}

void engine_get_board(engine *e, const char *name, int top, const char *member, const char *period,
                      int flags, engine_done_fn *done, void *arg)
{
    board_read *q = op_new(e, sizeof *q, done, arg);
    if (!q)
        return;
    if (!pc_valid_name(name)) {
        op_fail(&q->op, 404, "not_found", "no such leaderboard");
    } else if (top < 1 || top > 1000 || (member && !pc_valid_id(member)) ||
               (period && (strlen(period) >= 16 || !pc_valid_name(period)))) {
        op_fail(&q->op, 400, "bad_request",
                "top is 1-1000; member a member id; period like 2026-W48 or 2026-11");
    } else {
        snprintf(q->name, sizeof q->name, "%s", name);
        snprintf(q->member, sizeof q->member, "%s", member ? member : "");
        snprintf(q->period, sizeof q->period, "%s", period ? period : "");
        q->top = top;
        q->flags = flags;
        op_hold(&q->op);
        store_read_board_meta(e->store, e->ns, name, on_board_meta, q);
    }
    op_release(&q->op);
}

/* ---- global counters and the schedule ---- */

typedef struct number_read {
    read_op op;
    char name[PC_TYPE_MAX + 1]; /* the counter's; "" for the count of members due */
} number_read;

static void on_number(void *arg, const store_error *err, int64_t value)
{
    number_read *q = arg;
    if (err)
        op_store_fail(&q->op, err);
    else if (q->name[0])
        q->op.body = json_pack("{s:s, s:I}", "counter", q->name, "value", (json_int_t)value);
    else
        q->op.body = json_pack("{s:I}", "due", (json_int_t)value);
    op_release(&q->op);
}

void engine_get_counter(engine *e, const char *name, engine_done_fn *done, void *arg)
{
    number_read *q = op_new(e, sizeof *q, done, arg);
    if (!q)
        return;
    if (!pc_valid_name(name)) {
        op_fail(&q->op, 400, "bad_request", "a counter's name is 1-64 of a-z 0-9 _ . -");
    } else {
        snprintf(q->name, sizeof q->name, "%s", name);
        op_hold(&q->op);
        store_read_counter(e->store, e->ns, name, on_number, q);
    }
    op_release(&q->op);
}

void engine_count_due(engine *e, engine_done_fn *done, void *arg)
{
    number_read *q = op_new(e, sizeof *q, done, arg);
    if (!q)
        return;
    op_hold(&q->op);
    store_read_due_count(e->store, e->ns, op_now(&q->op), on_number, q);
    op_release(&q->op);
}

/* ---- GET /v1/stats, GET /v1/partners/{p}/summary ---- */

typedef struct figures_read {
    read_op op;
    json_t *days;        /* {"YYYY-MM-DD": {currency: {kind: n}}} */
    json_t *total;       /* {currency: {kind: n}}; NULL for a partner's summary */
    json_t *offer_days;  /* {"YYYY-MM-DD": {offer: {kind: n}}}: the offers' figures */
    json_t *offer_total; /* {offer: {kind: n}} */
    json_t *disc_days;   /* {"YYYY-MM-DD": {"count", "granted"}}: discount money (builtin.c) */
    json_t *disc_total;  /* {"count", "granted"} */
    char partner[PC_TYPE_MAX + 1];
    char to_day[11];       /* the last day asked for; later days were read for outstanding only */
    int daily_outstanding; /* every day from the asked ones to today was read */
    int per;               /* CAL_WEEK, CAL_MONTH, CAL_YEAR: also per period; else 0 */
} figures_read;

/* One day's figures (day "" for the totals) on their way into q. */
typedef struct day_read {
    figures_read *q;
    char day[11];
} day_read;

/*
 * Adds the "<currency>:<kind>" figures of pairs into into[currency][kind];
 * an offer's ("@<offer>:<kind>", builtin.c) into offers[offer][kind], or
 * nowhere when offers is NULL.
 */
static void add_figures(json_t *into, json_t *offers, const store_pairs *p)
{
    for (size_t i = 0; i + 1 < p->n; i += 2) {
        char cur[100];
        const char *f = p->v[i], *colon = strrchr(f, ':');
        json_t *c;
        if (!colon || (size_t)(colon - f) >= sizeof cur)
            continue;
        memcpy(cur, f, (size_t)(colon - f));
        cur[colon - f] = '\0';
        if (cur[0] == '%') {
            continue; /* the discounts' (add_discounts) */
        } else if (cur[0] == '@') {
            if (!offers || !cur[1])
                continue;
            if (!(c = json_object_get(offers, cur + 1))) {
                c = json_pack("{s:i, s:i, s:i, s:i}", "uses", 0, "returned", 0, "discount", 0,
                              "discount_returned", 0);
                json_object_set_new(offers, cur + 1, c);
            }
        } else if (!(c = json_object_get(into, cur))) {
            c = json_pack("{s:i, s:i, s:i, s:i}", "issued", 0, "redeemed", 0, "expired", 0,
                          "reversed", 0);
            json_object_set_new(into, cur, c);
        }
        json_object_set_new(c, colon + 1, json_integer(strtoll(p->v[i + 1], NULL, 10)));
    }
}

/* Adds the "%discounts:<count|granted>" figures of pairs into into (an object). */
static void add_discounts(json_t *into, const store_pairs *p)
{
    for (size_t i = 0; i + 1 < p->n; i += 2) {
        const char *f = p->v[i];
        if (strncmp(f, "%discounts:", 11) != 0)
            continue;
        json_object_set_new(into, f + 11,
                            json_integer(json_integer_value(json_object_get(into, f + 11)) +
                                         strtoll(p->v[i + 1], NULL, 10)));
    }
}

static void on_day(void *arg, const store_error *err, const store_pairs *pairs)
{
    day_read *d = arg;
    figures_read *q = d->q;
    if (err) {
        op_store_fail(&q->op, err);
    } else if (pairs->n) {
        json_t *into = d->day[0] ? json_object() : q->total;
        /* The offers of the days asked (later ones are read for outstanding only). */
        json_t *offers = !q->offer_days                   ? NULL
                         : !d->day[0]                     ? q->offer_total
                         : strcmp(d->day, q->to_day) <= 0 ? json_object()
                                                          : NULL;
        add_figures(into, offers, pairs);
        if (d->day[0])
            json_object_set_new(q->days, d->day, into);
        if (q->disc_days && !d->day[0]) {
            add_discounts(q->disc_total, pairs);
        } else if (q->disc_days && strcmp(d->day, q->to_day) <= 0) {
            json_t *dd = json_pack("{s:i, s:i, s:i, s:i}", "count", 0, "granted", 0, "returns", 0,
                                   "returned", 0);
            add_discounts(dd, pairs);
            if (dd && (json_integer_value(json_object_get(dd, "count")) ||
                       json_integer_value(json_object_get(dd, "returns"))))
                json_object_set_new(q->disc_days, d->day, dd);
            else
                json_decref(dd);
        }
        if (d->day[0] && offers && json_object_size(offers))
            json_object_set_new(q->offer_days, d->day, offers);
        else if (d->day[0])
            json_decref(offers);
    }
    free(d);
    op_release(&q->op);
}

/* What one day (or the totals) of one currency adds to what is outstanding. */
static json_int_t net_of(json_t *c)
{
    return json_integer_value(json_object_get(c, "issued")) -
           json_integer_value(json_object_get(c, "redeemed")) -
           json_integer_value(json_object_get(c, "expired")) -
           json_integer_value(json_object_get(c, "reversed"));
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
static void daily_outstanding(figures_read *q)
{
    size_t n = json_object_size(q->days), i = 0;
    const char **days = malloc(sizeof *days * (n ? n : 1)), *day, *cur;
    json_t *running = json_object(), *d, *c;
    if (!days || !running) {
        free(days);
        json_decref(running);
        op_fail(&q->op, 500, "internal", "out of memory");
        return;
    }
    json_object_foreach(q->total, cur, c)
        json_object_set(running, cur, json_object_get(c, "outstanding"));
    json_object_foreach(q->days, day, d)
        days[i++] = day;
    qsort(days, n, sizeof *days, cmp_desc);
    for (i = 0; i < n; i++) {
        d = json_object_get(q->days, days[i]);
        json_object_foreach(d, cur, c) {
            json_int_t r = json_integer_value(json_object_get(running, cur));
            if (q->daily_outstanding)
                json_object_set_new(c, "outstanding", json_integer(r));
            json_object_set_new(running, cur, json_integer(r - net_of(c)));
        }
    }
    for (i = 0; i < n; i++) /* each key is freed by its own delete, after its last use */
        if (strcmp(days[i], q->to_day) > 0)
            json_object_del(q->days, days[i]);
    free(days);
    json_decref(running);
}

/* The partner's figures summed over the days. */
static json_t *figures_sum(json_t *days)
{
    json_t *sum = json_object(), *d, *c, *t, *v;
    const char *day, *cur, *k;
    json_object_foreach(days, day, d)
        json_object_foreach(d, cur, c) {
            if (!(t = json_object_get(sum, cur))) {
                t = json_object();
                json_object_set_new(sum, cur, t);
            }
            json_object_foreach(c, k, v)
                json_object_set_new(t, k,
                                    json_integer(json_integer_value(json_object_get(t, k)) +
                                                 json_integer_value(v)));
        }
    return sum;
}

/* Of what left the balance, the share that expired unspent; null before anything left. */
static void set_breakage(json_t *c)
{
    json_int_t red = json_integer_value(json_object_get(c, "redeemed"));
    json_int_t exp = json_integer_value(json_object_get(c, "expired"));
    json_object_set_new(c, "breakage_rate",
                        red + exp > 0
                            ? json_real(round((double)exp * 10000 / (double)(red + exp)) / 10000)
                            : json_null());
}

static int cmp_asc(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * The days summed per period (q->per): {"2026-W48": {currency: {issued, redeemed,
 * expired, reversed, outstanding?, breakage_rate}}}; outstanding is the last
 * day's of the period that had figures (nothing moved on the days after it).
 */
static json_t *figures_per_period(figures_read *q)
{
    size_t n = json_object_size(q->days), i = 0;
    const char **days = malloc(sizeof *days * (n ? n : 1)), *day, *cur, *k;
    json_t *out = json_object(), *d, *c, *v, *p, *t;
    if (!days || !out) {
        free(days);
        json_decref(out);
        return NULL;
    }
    json_object_foreach(q->days, day, d)
        days[i++] = day;
    qsort(days, n, sizeof *days, cmp_asc);
    for (i = 0; i < n; i++) {
        int y, m, dd;
        char id[32];
        if (sscanf(days[i], "%4d-%2d-%2d", &y, &m, &dd) != 3)
            continue;
        cal_period_id(cal_days_from_civil(y, m, dd) * DAY_MS, "UTC", 0, q->per, id, sizeof id);
        if (!(p = json_object_get(out, id))) {
            p = json_object();
            json_object_set_new(out, id, p);
        }
        json_object_foreach(json_object_get(q->days, days[i]), cur, c) {
            if (!(t = json_object_get(p, cur))) {
                t = json_pack("{s:i, s:i, s:i, s:i}", "issued", 0, "redeemed", 0, "expired", 0,
                              "reversed", 0);
                json_object_set_new(p, cur, t);
            }
            json_object_foreach(c, k, v) {
                if (!strcmp(k, "outstanding"))
                    json_object_set(t, k, v);
                else
                    json_object_set_new(t, k,
                                        json_integer(json_integer_value(json_object_get(t, k)) +
                                                     json_integer_value(v)));
            }
        }
    }
    json_object_foreach(out, k, p)
        json_object_foreach(p, cur, t)
            set_breakage(t);
    free(days);
    return out;
}

/* The discount money summed per period (q->per): {"2026-W48": {"count", "granted", "returns",
 * "returned"}}. */
static json_t *discounts_per_period(figures_read *q)
{
    json_t *out = json_object(), *d, *p;
    const char *day;
    json_object_foreach(q->disc_days, day, d) {
        int y, m, dd;
        char id[32];
        if (sscanf(day, "%4d-%2d-%2d", &y, &m, &dd) != 3)
            continue;
        cal_period_id(cal_days_from_civil(y, m, dd) * DAY_MS, "UTC", 0, q->per, id, sizeof id);
        if (!(p = json_object_get(out, id))) {
            p = json_pack("{s:i, s:i, s:i, s:i}", "count", 0, "granted", 0, "returns", 0,
                          "returned", 0);
            json_object_set_new(out, id, p);
        }
        for (int i = 0; i < 4; i++) {
            static const char *const keys[] = {"count", "granted", "returns", "returned"};
            const char *k = keys[i];
            json_object_set_new(p, k,
                                json_integer(json_integer_value(json_object_get(p, k)) +
                                             json_integer_value(json_object_get(d, k))));
        }
    }
    return out;
}

static void figures_finish(read_op *op)
{
    figures_read *q = (figures_read *)op;
    const char *cur;
    json_t *c;
    if (!q->total) {
        op->body = json_pack("{s:s, s:O, s:o}", "partner", q->partner, "days", q->days, "sum",
                             figures_sum(q->days));
    } else {
        json_object_foreach(q->total, cur, c) {
            json_object_set_new(c, "outstanding", json_integer(net_of(c)));
            set_breakage(c);
        }
        daily_outstanding(q);
        if (op->failed)
            return;
        op->body = json_pack("{s:O, s:O, s:{s:O, s:O}, s:{s:O, s:O}}", "days", q->days, "total",
                             q->total, "offers", "days", q->offer_days, "total", q->offer_total,
                             "discounts", "days", q->disc_days, "total", q->disc_total);
        if (op->body && q->per) {
            json_object_set_new(json_object_get(op->body, "discounts"), "periods",
                                discounts_per_period(q));
            json_object_set_new(json_object_get(op->body, "offers"), "periods",
                                offers_per_period(q->offer_days, q->per));
        }
    }
    if (op->body && q->per) {
        json_object_set_new(op->body, "per", json_string(cal_period_name(q->per)));
        json_object_set_new(op->body, "periods", figures_per_period(q));
    }
}

static void figures_drop(read_op *op)
{
    figures_read *q = (figures_read *)op;
    json_decref(q->days);
    json_decref(q->total);
    json_decref(q->offer_days);
    json_decref(q->offer_total);
    json_decref(q->disc_days);
    json_decref(q->disc_total);
}

/* The start (ms, UTC) of the day holding ms, also before 1970. */
static int64_t day_start(int64_t ms)
{
    int64_t d = ms / DAY_MS;
    return (ms % DAY_MS < 0 ? d - 1 : d) * DAY_MS;
}

/* "YYYY-MM-DD" of the day holding ms into out (>= 11 bytes). */
static void day_name(int64_t ms, char *out)
{
    char ts[32];
    pc_time_format(ms, ts, sizeof ts);
    memcpy(out, ts, 10);
    out[10] = '\0';
}

/* Sends the read of the figures of the day holding day_ms, or of the totals when totals. */
static void figures_read_day(figures_read *q, int64_t day_ms, int totals)
{
    day_read *d = calloc(1, sizeof *d);
    if (!d) {
        op_fail(&q->op, 500, "internal", "out of memory");
        return;
    }
    d->q = q;
    if (!totals)
        day_name(day_ms, d->day);
    op_hold(&q->op);
    store_read_stats(q->op.e->store, q->op.ns, q->partner[0] ? q->partner : NULL,
                     totals ? NULL : d->day, on_day, d);
}

void engine_get_figures(engine *e, int64_t from_ms, int64_t to_ms, const char *partner,
                        const char *per, engine_done_fn *done, void *arg)
{
    figures_read *q = op_new(e, sizeof *q, done, arg);
    int64_t today, from, to, last;
    int p = per && *per ? cal_period_parse(per) : CAL_DAY;
    if (!q)
        return;
    q->op.finish = figures_finish;
    q->op.drop = figures_drop;
    today = day_start(op_now(&q->op));
    to = to_ms == ENGINE_DAY_DEFAULT ? today : day_start(to_ms);
    from = from_ms == ENGINE_DAY_DEFAULT ? today - 29 * DAY_MS : day_start(from_ms);
    if (from > to || (to - from) / DAY_MS > 365) {
        op_fail(&q->op, 400, "bad_request", "from and to are days (YYYY-MM-DD), at most 366 apart");
    } else if (p < CAL_DAY || (per && !strcmp(per, "never"))) {
        op_fail(&q->op, 400, "bad_request", "per is day, week, month or year");
    } else if (partner && !pc_valid_name(partner)) {
        op_fail(&q->op, 400, "bad_request", "bad partner name");
    } else if (!(q->days = json_object()) ||
               (!partner &&
                (!(q->total = json_object()) || !(q->offer_days = json_object()) ||
                 !(q->offer_total = json_object()) || !(q->disc_days = json_object()) ||
                 !(q->disc_total = json_pack("{s:i, s:i, s:i, s:i}", "count", 0, "granted", 0,
                                             "returns", 0, "returned", 0))))) {
        op_fail(&q->op, 500, "internal", "out of memory");
    } else {
        snprintf(q->partner, sizeof q->partner, "%s", partner ? partner : "");
        q->per = p > CAL_DAY ? p : 0;
        day_name(to, q->to_day);
        /* The program's figures also read the days after the range, up to today, and the
         * totals: outstanding per day is worked back from outstanding now. */
        last = to;
        if (!partner) {
            q->daily_outstanding = today - to <= 366 * DAY_MS;
            if (q->daily_outstanding && today > to)
                last = today;
        }
        for (int64_t t = from; t <= last && !q->op.failed; t += DAY_MS)
            figures_read_day(q, t, 0);
        if (!partner && !q->op.failed)
            figures_read_day(q, 0, 1);
    }
    op_release(&q->op);
}
