/*
 * Global operations and their claims (globals.h). Each operation is a row of
 * the table `ops`: how to reserve (a server-side script, idempotent by claim
 * id), and how to confirm and release. Claim keys share their resource's hash
 * tag, so each operation touches one Redis Cluster slot.
 */
#include "effects.h"
#include "globals-internal.h"
#include "store/store-internal.h"
#include "store-scripts-gen.h"

#include <stdlib.h>
#include <string.h>

#include <inttypes.h>
#include <stdio.h>

/* How long a claim may stay unconfirmed before the sweeper looks at it. */
static int64_t env_ms(const char *name, int64_t def)
{
    const char *v = getenv(name);
    long long n = v && *v ? strtoll(v, NULL, 10) : 0;
    return n > 0 ? n : def;
}

globals *globals_new(store *s, const char *ns)
{
    globals *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->store = s;
    g->refs = 1;
    snprintf(g->ns, sizeof g->ns, "%s", ns);
    g->claim_age_ms = env_ms("PUNCHD_CLAIM_TIMEOUT_MS", 120000);
    return g;
}

void globals_hold(globals *g)
{
    g->refs++;
}

int globals_drop(globals *g)
{
    if (--g->refs == 0) {
        free(g);
        return 1;
    }
    return g->dead;
}

void globals_free(globals *g)
{
    if (!g)
        return;
    if (g->sweep_timer)
        event_free(g->sweep_timer);
    g->sweep_timer = NULL;
    g->dead = 1;
    globals_drop(g);
}

globals_event *globals_event_new(globals *g, const pc_event *ev, int dry)
{
    globals_event *ge = calloc(1, sizeof *ge);
    if (!ge)
        return NULL;
    ge->g = g;
    ge->dry = dry;
    snprintf(ge->member, sizeof ge->member, "%s", ev->member);
    snprintf(ge->event_id, sizeof ge->event_id, "%s", ev->id);
    return ge;
}

void globals_event_free(globals_event *ge)
{
    if (!ge)
        return;
    if (!ge->ended)
        globals_event_end(ge, GLOBALS_LEAVE);
    free(ge->claims);
    free(ge);
}

void globals_attempt(globals_event *ge)
{
    ge->attempt++;
}

int globals_event_used(const globals_event *ge)
{
    return ge->nclaims > 0;
}

typedef struct pending_call {
    globals_done_fn *done;
    void *arg;
} pending_call;

static void on_reserved(redisReply *r, const char *err, void *arg)
{
    pending_call p = *(pending_call *)arg;
    free(arg);
    if (!r) {
        p.done(p.arg, NULL, err ? err : "redis unavailable");
        return;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        p.done(p.arg, NULL, r->str);
        return;
    }
    json_t *v = r->type == REDIS_REPLY_INTEGER  ? json_integer(r->integer)
                : r->type == REDIS_REPLY_STRING ? json_stringn(r->str, r->len)
                                                : json_null();
    p.done(p.arg, v, NULL);
    json_decref(v);
}

claim *globals_remember(globals_event *ge, const char *op, const char *resource)
{
    claim *c;
    for (int i = 0; i < ge->nclaims; i++)
        if (!strcmp(ge->claims[i].op, op) && !strcmp(ge->claims[i].resource, resource)) {
            ge->claims[i].attempt = ge->attempt;
            return &ge->claims[i];
        }
    if (ge->nclaims == ge->cap) {
        int cap = ge->cap ? ge->cap * 2 : 4;
        claim *nc = realloc(ge->claims, (size_t)cap * sizeof *nc);
        if (!nc)
            return NULL;
        ge->claims = nc;
        ge->cap = cap;
    }
    c = &ge->claims[ge->nclaims++];
    memset(c, 0, sizeof *c);
    snprintf(c->op, sizeof c->op, "%s", op);
    snprintf(c->resource, sizeof c->resource, "%s", resource);
    snprintf(c->id, sizeof c->id, "%s%s/%s/%s/%s", ge->dry ? "dry/" : "", ge->member, ge->event_id,
             op, resource);
    c->attempt = ge->attempt;
    return c;
}

static void ignore_reply(redisReply *r, const char *err, void *arg)
{
    (void)r;
    (void)err;
    (void)arg;
}

void globals_index_entry(const char *op, const char *resource, const char *id, char *out, size_t n)
{
    snprintf(out, n, "%s|%s|%s", op, resource, id);
}

void globals_index_put(globals *g, const char *entry)
{
    char key[128], score[32];
    snprintf(key, sizeof key, "%s:claims", g->ns);
    snprintf(score, sizeof score, "%" PRId64, pc_now_ms());
    const char *argv[4] = {"ZADD", key, score, entry};
    store_command(g->store, ignore_reply, NULL, 4, argv, NULL);
}

void globals_index_add(globals *g, claim *c)
{
    char entry[CLAIM_ID_MAX + 200];
    globals_index_entry(c->op, c->resource, c->id, entry, sizeof entry);
    globals_index_put(g, entry);
    c->indexed = 1;
}

void globals_index_del(globals *g, const char *entry)
{
    char key[128];
    snprintf(key, sizeof key, "%s:claims", g->ns);
    const char *argv[3] = {"ZREM", key, entry};
    store_command(g->store, ignore_reply, NULL, 3, argv, NULL);
}

static void counter_keys(globals *g, const claim *c, char *key, char *ckey, size_t n)
{
    snprintf(key, n, "%s:{g:%s}:counter", g->ns, c->resource);
    snprintf(ckey, n, "%s:{g:%s}:claim:%s", g->ns, c->resource, c->id);
}

void globals_call(globals *g, globals_event *ge, const mech_request *req, globals_done_fn *done,
                  void *arg)
{
    pending_call *p;
    if (!strcmp(req->op, "counter")) {
        const char *name = json_string_value(json_object_get(req->args, "name"));
        char key[CLAIM_ID_MAX + 256], ckey[CLAIM_ID_MAX + 256];
        claim *c;
        if (!name || !pc_valid_name(name)) {
            done(arg, NULL, "bad counter name");
            return;
        }
        if (!(c = globals_remember(ge, "counter", name)) || !(p = malloc(sizeof *p))) {
            done(arg, NULL, "out of memory");
            return;
        }
        p->done = done;
        p->arg = arg;
        counter_keys(g, c, key, ckey, sizeof key);
        json_t *byj = json_object_get(req->args, "by");
        char by[32];
        snprintf(by, sizeof by, "%" JSON_INTEGER_FORMAT, byj ? json_integer_value(byj) : 1);
        const char *argv[5] = {key, ckey, by, "86400", ge->dry ? "1" : "0"};
        store_eval(g->store, &store_script_counter_reserve, on_reserved, p, 2, 5, argv, NULL);
        return;
    }
    if (game_op_call(g, ge, req, done, arg))
        return;
    done(arg, NULL, "unknown global operation");
}

/* After a release (from the event's end or the sweeper): drop the index entry unless touched. */
typedef struct release_ctx {
    globals *g;
    char entry[CLAIM_ID_MAX + 200];
} release_ctx;

static void on_released(redisReply *r, const char *err, void *arg)
{
    release_ctx *rc = arg;
    if (!globals_drop(rc->g) && r && r->type == REDIS_REPLY_INTEGER && r->integer >= 0)
        globals_index_del(rc->g, rc->entry);
    free(rc);
}

static void release_claim(globals *g, const char *op, const char *resource, const char *id,
                          int64_t min_age_ms)
{
    if (!strcmp(op, "counter")) {
        char key[CLAIM_ID_MAX + 256], ckey[CLAIM_ID_MAX + 256];
        claim c = {0};
        snprintf(c.resource, sizeof c.resource, "%s", resource);
        snprintf(c.id, sizeof c.id, "%s", id);
        counter_keys(g, &c, key, ckey, sizeof key);
        const char *argv[3] = {key, ckey, "0"}; /* the amount is in the claim */
        store_eval(g->store, &store_script_counter_release, ignore_reply, NULL, 2, 3, argv, NULL);
        return;
    }
    release_ctx *rc = calloc(1, sizeof *rc);
    if (!rc)
        return;
    rc->g = g;
    globals_hold(g);
    globals_index_entry(op, resource, id, rc->entry, sizeof rc->entry);
    if (!game_op_release(g, op, resource, id, min_age_ms, on_released, rc)) {
        globals_drop(g);
        free(rc);
    }
}

void globals_effect(globals *g, const pc_event *ev, json_t *effect)
{
    /* The engine's own effects first (schedule, stats: effects.c). */
    if (effects_apply(g->store, g->ns, ev, effect))
        return;
    if (game_effect(g, ev, effect))
        return;
    const char *op = json_string_value(json_object_get(effect, "op"));
    pc_log(PC_LOG_WARN, "event %s: unknown effect %s", ev->id, op ? op : "(none)");
}

void globals_event_end(globals_event *ge, enum globals_end how)
{
    ge->ended = 1;
    for (int i = 0; i < ge->nclaims; i++) {
        claim *c = &ge->claims[i];
        /* A claim the final attempt no longer wanted is released whatever happened. */
        if (how == GLOBALS_RELEASE || (how == GLOBALS_CONFIRM && c->attempt != ge->attempt)) {
            release_claim(ge->g, c->op, c->resource, c->id, 0);
        } else if (how == GLOBALS_CONFIRM && c->indexed) {
            char entry[CLAIM_ID_MAX + 200];
            globals_index_entry(c->op, c->resource, c->id, entry, sizeof entry);
            globals_index_del(ge->g, entry);
        }
        /* GLOBALS_LEAVE: the sweeper decides once the claim is old enough. */
    }
}

/*
 * The sweeper: every claim_age_ms / 4 (at most 30 s), the oldest entries of
 * NS:claims older than claim_age_ms: kept when their event has a stored
 * response (it committed), released otherwise.
 */
typedef struct sweep_item {
    globals *g;
    char op[32], resource[PC_ID_MAX + 32], id[CLAIM_ID_MAX];
    char entry[CLAIM_ID_MAX + 200];
} sweep_item;

static void on_event_exists(redisReply *r, const char *err, void *arg)
{
    sweep_item *it = arg;
    if (globals_drop(it->g)) {
        free(it);
        return;
    }
    if (r && r->type == REDIS_REPLY_INTEGER) {
        if (r->integer == 1 && !strcmp(it->op, "deliver"))
            game_deliver(it->g, it->resource, it->id, it->entry); /* send it (again) */
        else if (!strcmp(it->op, "deliver"))
            globals_index_del(it->g, it->entry); /* never committed: nothing to send */
        else if (r->integer == 1)
            globals_index_del(it->g, it->entry); /* it committed: the claim stands */
        else
            release_claim(it->g, it->op, it->resource, it->id, it->g->claim_age_ms);
    }
    free(it);
}

static void sweep_one(globals *g, const char *entry)
{
    sweep_item *it = calloc(1, sizeof *it);
    const char *a = strchr(entry, '|'), *b = a ? strchr(a + 1, '|') : NULL;
    char member[PC_ID_MAX + 1], evid[PC_ID_MAX + 1], key[PC_ID_MAX + 200];
    const char *id, *slash, *slash2;
    if (!it || !b || (size_t)(a - entry) >= sizeof it->op ||
        (size_t)(b - a - 1) >= sizeof it->resource) {
        free(it);
        return;
    }
    it->g = g;
    snprintf(it->entry, sizeof it->entry, "%s", entry);
    snprintf(it->op, sizeof it->op, "%.*s", (int)(a - entry), entry);
    snprintf(it->resource, sizeof it->resource, "%.*s", (int)(b - a - 1), a + 1);
    snprintf(it->id, sizeof it->id, "%s", b + 1);
    id = it->id;
    if (!strncmp(id, "dry/", 4)) {
        /* A dry run never commits. */
        release_claim(g, it->op, it->resource, it->id, g->claim_age_ms);
        free(it);
        return;
    }
    slash = strchr(id, '/');
    slash2 = slash ? strchr(slash + 1, '/') : NULL;
    if (!slash2 || slash - id > PC_ID_MAX || slash2 - slash - 1 > PC_ID_MAX) {
        globals_index_del(g, entry);
        free(it);
        return;
    }
    snprintf(member, sizeof member, "%.*s", (int)(slash - id), id);
    snprintf(evid, sizeof evid, "%.*s", (int)(slash2 - slash - 1), slash + 1);
    snprintf(key, sizeof key, "%s:{%s}:ev:%s", g->ns, member, evid);
    const char *argv[2] = {"EXISTS", key};
    globals_hold(g);
    store_command(g->store, on_event_exists, it, 2, argv, NULL);
}

static void on_sweep_list(redisReply *r, const char *err, void *arg)
{
    globals *g = arg;
    g->sweeping = 0;
    if (globals_drop(g) || !r || r->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING)
            sweep_one(g, r->element[i]->str);
}

static void on_sweep_tick(evutil_socket_t fd, short what, void *arg)
{
    globals *g = arg;
    int64_t every = g->claim_age_ms / 4 < 30000 ? g->claim_age_ms / 4 : 30000;
    struct timeval tv = {(time_t)(every / 1000), (suseconds_t)(every % 1000) * 1000};
    char key[128], max[32];
    if (!g->sweeping && store_ready(g->store)) {
        snprintf(key, sizeof key, "%s:claims", g->ns);
        snprintf(max, sizeof max, "%" PRId64, pc_now_ms() - g->claim_age_ms);
        const char *argv[7] = {"ZRANGEBYSCORE", key, "-inf", max, "LIMIT", "0", "100"};
        g->sweeping = 1;
        globals_hold(g);
        store_command(g->store, on_sweep_list, g, 7, argv, NULL);
    }
    evtimer_add(g->sweep_timer, &tv);
}

void globals_set_engine(globals *g, struct engine *e)
{
    struct timeval now = {0, 0};
    g->engine = e;
    if (!g->sweep_timer && (g->sweep_timer = evtimer_new(store_base(g->store), on_sweep_tick, g)))
        evtimer_add(g->sweep_timer, &now);
}
