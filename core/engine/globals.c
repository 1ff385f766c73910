/*
 * Global operations and their claims (globals.h). Each operation is a row of
 * the table `ops`: how to reserve (a server-side script, idempotent by claim
 * id), and how to confirm and release. Claim keys share their resource's hash
 * tag, so each operation touches one Redis Cluster slot.
 */
#include "globals.h"

#include <stdlib.h>
#include <string.h>

/* A claim this event made: enough to confirm or release it later. */
typedef struct claim {
    char op[32];
    char resource[96];
    char id[PC_ID_MAX + 160];
    int attempt; /* the last decide attempt that asked for it */
} claim;

struct globals_event {
    globals *g;
    char event_id[PC_ID_MAX + 8];
    claim *claims;
    int nclaims, cap;
    int attempt;
    int ended;
};

struct globals {
    store *store;
    char ns[64];
};

/*
 * counter: a global counter, incremented once per claim.
 *   KEYS: the counter, the claim   ARGV: by, claim TTL (s)
 *   -> the counter's value after this event's increment
 * Claims live a day; a confirmed counter claim is just left to expire, and a
 * released one gives its increment back.
 */
static store_script counter_reserve = {
    "counter_reserve",
    "local v = redis.call('GET', KEYS[2])\n"
    "if v then return tonumber(v) end\n"
    "v = redis.call('INCRBY', KEYS[1], ARGV[1])\n"
    "redis.call('SET', KEYS[2], v, 'EX', ARGV[2])\n"
    "return v\n",
    ""};

static store_script counter_release = {
    "counter_release",
    "local v = redis.call('GET', KEYS[2])\n"
    "if not v then return 0 end\n"
    "redis.call('DEL', KEYS[2])\n"
    "redis.call('DECRBY', KEYS[1], ARGV[1])\n"
    "return 1\n",
    ""};

globals *globals_new(store *s, const char *ns)
{
    globals *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->store = s;
    snprintf(g->ns, sizeof g->ns, "%s", ns);
    store_add_script(s, &counter_reserve);
    store_add_script(s, &counter_release);
    return g;
}

void globals_free(globals *g)
{
    free(g);
}

globals_event *globals_event_new(globals *g, const pc_event *ev, int dry)
{
    globals_event *ge = calloc(1, sizeof *ge);
    if (!ge)
        return NULL;
    ge->g = g;
    snprintf(ge->event_id, sizeof ge->event_id, "%s%s", dry ? "dry/" : "", ev->id);
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
    json_t *v = r->type == REDIS_REPLY_INTEGER ? json_integer(r->integer)
                : r->type == REDIS_REPLY_STRING ? json_stringn(r->str, r->len)
                                                 : json_null();
    p.done(p.arg, v, NULL);
    json_decref(v);
}

static claim *remember(globals_event *ge, const char *op, const char *resource)
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
    snprintf(c->op, sizeof c->op, "%s", op);
    snprintf(c->resource, sizeof c->resource, "%s", resource);
    snprintf(c->id, sizeof c->id, "%s/%s/%s", ge->event_id, op, resource);
    c->attempt = ge->attempt;
    return c;
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
        char key[512], ckey[512];
        claim *c;
        if (!name || !pc_valid_name(name)) {
            done(arg, NULL, "bad counter name");
            return;
        }
        if (!(c = remember(ge, "counter", name)) || !(p = malloc(sizeof *p))) {
            done(arg, NULL, "out of memory");
            return;
        }
        p->done = done;
        p->arg = arg;
        counter_keys(g, c, key, ckey, sizeof key);
        const char *argv[4] = {key, ckey, "1", "86400"};
        store_eval(g->store, &counter_reserve, on_reserved, p, 2, 4, argv, NULL);
        return;
    }
    done(arg, NULL, "unknown global operation");
}

static void ignore_reply(redisReply *r, const char *err, void *arg)
{
    (void)r;
    (void)err;
    (void)arg;
}

static void release(globals_event *ge, claim *c)
{
    if (!strcmp(c->op, "counter")) {
        char key[512], ckey[512];
        counter_keys(ge->g, c, key, ckey, sizeof key);
        const char *argv[3] = {key, ckey, "1"};
        store_eval(ge->g->store, &counter_release, ignore_reply, NULL, 2, 3, argv, NULL);
    }
}

void globals_effect(globals *g, const pc_event *ev, json_t *effect)
{
    const char *op = json_string_value(json_object_get(effect, "op"));
    pc_log(PC_LOG_WARN, "event %s: unknown effect %s", ev->id, op ? op : "(none)");
}

void globals_event_end(globals_event *ge, enum globals_end how)
{
    ge->ended = 1;
    for (int i = 0; i < ge->nclaims; i++) {
        claim *c = &ge->claims[i];
        /* A claim the final attempt no longer wanted is released whatever happened. */
        if (how == GLOBALS_RELEASE || (how == GLOBALS_CONFIRM && c->attempt != ge->attempt))
            release(ge, c);
    }
}
