/*
 * Reads across the shards of a namespace-wide key (keys-internal.h): on a
 * Redis Cluster the due schedule, the claims' index and the figures are
 * split into store_shards() keys, each in its own slot, so no single key is
 * hot. A read asks every shard at once and answers once, when the last one
 * answered: schedules and claims merged earliest first, counts and figures
 * summed. One shard failing fails the read (its first error is answered).
 */
#include "keys-internal.h"
#include "store-internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum gather_kind { G_DUE, G_CLAIMS, G_COUNT, G_FIGURES };

typedef struct item {
    char *text;
    int64_t score;
} item;

/* One read across shards. */
typedef struct gather {
    enum gather_kind kind;
    store_cb cb;
    void *arg;
    const char *op;
    int left;  /* shards still to answer */
    int limit; /* G_DUE, G_CLAIMS: at most this many, earliest first */
    int failed;
    store_error err;
    char errmsg[256];
    item *items; /* G_DUE, G_CLAIMS: member or entry and score; G_FIGURES: field and sum */
    size_t n, cap;
    int64_t count;
} gather;

static int add_item(gather *g, const char *text, size_t len, int64_t score)
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 64;
        item *more = realloc(g->items, cap * sizeof *more);
        if (!more)
            return -1;
        g->items = more;
        g->cap = cap;
    }
    if (!(g->items[g->n].text = strndup(text, len)))
        return -1;
    g->items[g->n++].score = score;
    return 0;
}

/* Adds v to the figure field, a new one when absent. */
static int add_figure(gather *g, const char *field, size_t len, int64_t v)
{
    for (size_t i = 0; i < g->n; i++)
        if (strlen(g->items[i].text) == len && memcmp(g->items[i].text, field, len) == 0) {
            g->items[i].score += v;
            return 0;
        }
    return add_item(g, field, len, v);
}

static void fail(gather *g, const store_error *err)
{
    if (g->failed)
        return;
    g->failed = 1;
    g->err = *err;
    snprintf(g->errmsg, sizeof g->errmsg, "%s", err->message ? err->message : "error");
    g->err.message = g->errmsg;
}

static int by_score(const void *a, const void *b)
{
    const item *x = a, *y = b;
    return x->score < y->score ? -1 : x->score > y->score;
}

/* The last shard answered: the merged answer, then everything freed. */
static void finish(gather *g)
{
    const store_error *err = g->failed ? &g->err : NULL;
    size_t n = err ? 0 : g->n;
    if (!err && (g->kind == G_DUE || g->kind == G_CLAIMS)) {
        if (g->n > 1) /* items is NULL when no shard had any (qsort's argument is nonnull) */
            qsort(g->items, g->n, sizeof *g->items, by_score);
        if (n > (size_t)g->limit)
            n = (size_t)g->limit;
    }
    switch (g->kind) {
    case G_DUE: {
        store_due *due = n ? malloc(n * sizeof *due) : NULL;
        if (n && !due) {
            fail(g, store_bad_reply(g->op, &g->err));
            ((store_due_fn *)g->cb)(g->arg, &g->err, 0, NULL);
            break;
        }
        for (size_t i = 0; i < n; i++) {
            due[i].member = g->items[i].text;
            due[i].due_ms = g->items[i].score;
        }
        ((store_due_fn *)g->cb)(g->arg, err, n, due);
        free(due);
        break;
    }
    case G_CLAIMS:
    case G_FIGURES: {
        /* Claims: the entries. Figures: field and sum in turn, as a hash reads. */
        size_t m = g->kind == G_FIGURES ? n * 2 : n;
        const char **v = malloc((m ? m : 1) * sizeof *v);
        size_t *l = malloc((m ? m : 1) * sizeof *l);
        char(*nums)[24] = g->kind == G_FIGURES ? malloc((n ? n : 1) * sizeof *nums) : NULL;
        if (!v || !l || (g->kind == G_FIGURES && !nums)) {
            store_error bad;
            err = store_bad_reply(g->op, &bad);
            m = n = 0;
        }
        for (size_t i = 0; i < n; i++) {
            if (g->kind == G_CLAIMS) {
                v[i] = g->items[i].text;
                l[i] = strlen(v[i]);
                continue;
            }
            v[2 * i] = g->items[i].text;
            l[2 * i] = strlen(v[2 * i]);
            l[2 * i + 1] = (size_t)pc_format_int(nums[i], g->items[i].score);
            nums[i][l[2 * i + 1]] = '\0';
            v[2 * i + 1] = nums[i];
        }
        if (g->kind == G_CLAIMS) {
            ((store_list_fn *)g->cb)(g->arg, err, err ? 0 : m, err ? NULL : v);
        } else {
            store_pairs pairs = {err ? 0 : m, v, l};
            ((void (*)(void *, const store_error *, const store_pairs *))g->cb)(g->arg, err,
                                                                                &pairs);
        }
        free(v);
        free(l);
        free(nums);
        break;
    }
    case G_COUNT:
        ((store_int_fn *)g->cb)(g->arg, err, err ? 0 : g->count);
        break;
    }
    for (size_t i = 0; i < g->n; i++)
        free(g->items[i].text);
    free(g->items);
    free(g);
}

/* One shard's answer (store_parse_fn; arg is the gather). */
static void on_shard(redisReply *r, const store_error *err, const char *op, store_cb cb, void *arg)
{
    gather *g = arg;
    store_error bad;
    int ok = 1;
    if (err) {
        fail(g, err);
    } else if (g->kind == G_COUNT) {
        ok = r->type == REDIS_REPLY_INTEGER;
        g->count += ok ? r->integer : 0;
    } else if (r->type != REDIS_REPLY_ARRAY || r->elements % 2) {
        ok = 0;
    } else {
        /* WITHSCORES or HGETALL: text, number, text, number ... */
        for (size_t i = 0; ok && i + 1 < r->elements; i += 2) {
            const redisReply *t = r->element[i], *v = r->element[i + 1];
            int64_t num;
            ok = t->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING;
            if (!ok)
                break;
            num = strtoll(v->str, NULL, 10);
            ok = !(g->kind == G_FIGURES ? add_figure(g, t->str, t->len, num)
                                        : add_item(g, t->str, t->len, num));
        }
    }
    if (!ok)
        fail(g, store_bad_reply(op, &bad));
    if (--g->left == 0)
        finish(g);
}

static gather *gather_new(enum gather_kind kind, const char *op, store_cb cb, void *arg, int shards,
                          int limit)
{
    gather *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->kind = kind;
    g->op = op;
    g->cb = cb;
    g->arg = arg;
    g->left = shards;
    g->limit = limit;
    return g;
}

/*
 * Sends argv to every shard of the key name (its argument key_at is the
 * key, rewritten per shard; the keys of figures are built by stats_key).
 */
static void fan_out(store *s, gather *g, const char *ns, const char *name, const char *partner,
                    const char *day, int argc, const char **argv, int key_at)
{
    int shards = store_shards(s);
    for (int k = 0; k < shards; k++) {
        char key[PC_KEY_MAX];
        int n = g->kind == G_FIGURES ? keys_stats(key, sizeof key, ns, partner, day, k, shards)
                                     : keys_sharded(key, sizeof key, ns, name, k, shards);
        if (n < 0) {
            store_error e = {STORE_FAILED, g->op, "key too long"};
            fail(g, &e);
            if (--g->left == 0)
                finish(g);
            continue;
        }
        argv[key_at] = key;
        store_send(s, NULL, g->op, on_shard, (store_cb)on_shard, g, 0, argc, argv, NULL);
    }
}

/* Answers fn at once when the gather could not be made (out of memory). */
static int no_gather(const char *op, store_parse_fn *parse, store_cb cb, void *arg)
{
    store_fail_now(op, "out of memory", parse, cb, arg);
    return -1;
}

static void parse_due_failed(redisReply *r, const store_error *err, const char *op, store_cb cb,
                             void *arg)
{
    ((store_due_fn *)cb)(arg, err, 0, NULL);
}

static void parse_count_failed(redisReply *r, const store_error *err, const char *op, store_cb cb,
                               void *arg)
{
    ((store_int_fn *)cb)(arg, err, 0);
}

static void parse_pairs_failed(redisReply *r, const store_error *err, const char *op, store_cb cb,
                               void *arg)
{
    ((void (*)(void *, const store_error *, const store_pairs *))cb)(arg, err, &(store_pairs){0});
}

void shards_zset_range(store *s, const char *ns, const char *name, const char *op, int64_t max_ms,
                       int limit, store_due_fn *fn, void *arg)
{
    char max[24], count[24];
    const char *argv[8] = {"ZRANGEBYSCORE", NULL, "-inf", max, "WITHSCORES", "LIMIT", "0", count};
    gather *g = gather_new(G_DUE, op, (store_cb)fn, arg, store_shards(s), limit);
    if (!g) {
        no_gather(op, parse_due_failed, (store_cb)fn, arg);
        return;
    }
    max[pc_format_int(max, max_ms)] = '\0';
    count[pc_format_int(count, limit)] = '\0';
    fan_out(s, g, ns, name, NULL, NULL, 8, argv, 1);
}

void shards_due_range(store *s, const char *ns, int64_t max_ms, int limit, store_due_fn *fn,
                      void *arg)
{
    shards_zset_range(s, ns, "due", "due_range", max_ms, limit, fn, arg);
}

void shards_claims_range(store *s, const char *ns, int64_t max_ms, int limit, store_list_fn *fn,
                         void *arg)
{
    char max[24], count[24];
    const char *argv[8] = {"ZRANGEBYSCORE", NULL, "-inf", max, "WITHSCORES", "LIMIT", "0", count};
    gather *g = gather_new(G_CLAIMS, "claims_range", (store_cb)fn, arg, store_shards(s), limit);
    if (!g) {
        no_gather("claims_range", store_parse_list, (store_cb)fn, arg);
        return;
    }
    max[pc_format_int(max, max_ms)] = '\0';
    count[pc_format_int(count, limit)] = '\0';
    fan_out(s, g, ns, "claims", NULL, NULL, 8, argv, 1);
}

void shards_zset_count(store *s, const char *ns, const char *name, const char *op, int64_t max_ms,
                       store_int_fn *fn, void *arg)
{
    char max[24];
    const char *argv[4] = {"ZCOUNT", NULL, "-inf", max};
    gather *g = gather_new(G_COUNT, op, (store_cb)fn, arg, store_shards(s), 0);
    if (!g) {
        no_gather(op, parse_count_failed, (store_cb)fn, arg);
        return;
    }
    if (max_ms == INT64_MAX)
        snprintf(max, sizeof max, "+inf");
    else
        max[pc_format_int(max, max_ms)] = '\0';
    fan_out(s, g, ns, name, NULL, NULL, 4, argv, 1);
}

void shards_due_count(store *s, const char *ns, int64_t max_ms, store_int_fn *fn, void *arg)
{
    shards_zset_count(s, ns, "due", "read_due_count", max_ms, fn, arg);
}

void shards_read_stats(store *s, const char *ns, const char *partner, const char *day, store_cb fn,
                       void *arg)
{
    const char *argv[2] = {"HGETALL", NULL};
    gather *g = gather_new(G_FIGURES, "read_stats", fn, arg, store_shards(s), 0);
    if (!g) {
        no_gather("read_stats", parse_pairs_failed, fn, arg);
        return;
    }
    fan_out(s, g, ns, NULL, partner, day, 2, argv, 1);
}
