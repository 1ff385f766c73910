/*
 * What a commit leaves behind besides the member (ops-internal.h): the
 * expiry schedule the sweeper reads, the program's figures, leaderboards.
 *
 * Keys (keys-internal.h; on a cluster the first three are sharded, NS:{due:K} ...):
 *   NS:due                  zset   member -> next due time (ms)
 *   NS:stats:YYYY-MM-DD     hash   "<currency>:<issued|redeemed|expired|reversed>" -> amount
 *   NS:stats:total          hash   the same, since the beginning
 *   NS:partner:P:YYYY-MM-DD hash   the same, for partner P
 *   NS:{lb:L}:<period>      zset   member -> score;  NS:{lb:L}:meta  hash per, tz
 */
#include "conn-internal.h"
#include "keys-internal.h"
#include "store-scripts-gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Writes the decimal v into buf (>= 24 bytes) and returns buf. */
static const char *num(char *buf, int64_t v)
{
    buf[pc_format_int(buf, v)] = '\0';
    return buf;
}

void store_due_set(store *s, const char *ns, const char *member, int64_t due_ms, store_done_fn *fn,
                   void *arg)
{
    char key[PC_KEY_MAX], score[24];
    const char *add[4] = {"ZADD", key, num(score, due_ms), member};
    const char *rem[3] = {"ZREM", key, member};
    int shards = store_shards(s);
    if (keys_sharded(key, sizeof key, ns, "due", keys_shard_of(member, strlen(member), shards),
                     shards) < 0) {
        store_fail_now("due_set", "key too long", store_parse_done, (store_cb)fn, arg);
        return;
    }
    if (due_ms)
        store_send(s, NULL, "due_set", store_parse_done, (store_cb)fn, arg, 0, 4, add, NULL);
    else
        store_send(s, NULL, "due_set", store_parse_done, (store_cb)fn, arg, 0, 3, rem, NULL);
}

static void parse_due(redisReply *r, const store_error *err, const char *op, store_cb cb, void *arg)
{
    store_due_fn *fn = (store_due_fn *)cb;
    store_due *due = NULL;
    size_t n = 0;
    store_error bad;
    /* WITHSCORES: member, score, member, score ... */
    if (!err && (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0))
        err = store_bad_reply(op, &bad);
    if (!err && r->elements && !(due = malloc(r->elements / 2 * sizeof *due)))
        err = store_bad_reply(op, &bad);
    if (err) {
        free(due);
        fn(arg, err, 0, NULL);
        return;
    }
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        if (r->element[i]->type != REDIS_REPLY_STRING ||
            r->element[i + 1]->type != REDIS_REPLY_STRING)
            continue;
        due[n].member = r->element[i]->str;
        due[n++].due_ms = strtoll(r->element[i + 1]->str, NULL, 10);
    }
    fn(arg, NULL, n, due);
    free(due);
}

/* The members of the sharded zset name ("due", "outbox") scored at or before max_ms. */
static void zset_range(store *s, const char *ns, const char *name, const char *op, int64_t max_ms,
                       int limit, store_due_fn *fn, void *arg)
{
    char key[PC_KEY_MAX], max[24], count[24];
    const char *argv[8] = {"ZRANGEBYSCORE", key,     "-inf", num(max, max_ms),
                           "WITHSCORES",    "LIMIT", "0",    num(count, limit)};
    if (store_shards(s) > 1) {
        shards_zset_range(s, ns, name, op, max_ms, limit, fn, arg);
        return;
    }
    if (keys_global(key, sizeof key, ns, name) < 0) {
        store_fail_now(op, "key too long", parse_due, (store_cb)fn, arg);
        return;
    }
    store_send(s, NULL, op, parse_due, (store_cb)fn, arg, 0, 8, argv, NULL);
}

void store_due_range(store *s, const char *ns, int64_t max_ms, int limit, store_due_fn *fn,
                     void *arg)
{
    zset_range(s, ns, "due", "due_range", max_ms, limit, fn, arg);
}

void store_outbox_range(store *s, const char *ns, int64_t max_ms, int limit, store_due_fn *fn,
                        void *arg)
{
    /* Scored 2 x ms (+1 for a re-check): ops_outbox.c. */
    zset_range(s, ns, "outbox", "outbox_range", 2 * max_ms + 1, limit, fn, arg);
}

/* HINCRBY key field amount, fire and forget. */
static void incr(store *s, const char *key, int n, const char *field, const char *amount)
{
    const char *argv[4] = {"HINCRBY", key, field, amount};
    if (n < 0)
        store_fail_now("stats_add", "key too long", store_parse_done, NULL, NULL);
    else
        store_send(s, NULL, "stats_add", store_parse_done, NULL, NULL, 0, 4, argv, NULL);
}

/*
 * The figures of a loop's turn, summed: every event of the turn adds to the
 * same few fields (its day's and the total's "<currency>:issued" ...), so
 * each key and field goes to Redis once at the end of the turn
 * (store_turn_arm()), one HINCRBY by the sum, fire and forget as each was.
 * The hashes end up the same (a sum of 0 is sent too: the field exists as it
 * would); fields keep the order they were first added in.
 */
#define STORE_SUMS_MAX 64

typedef struct sum {
    char *key; /* key, then field, NUL-terminated, in one allocation */
    const char *field;
    size_t keylen, fieldlen;
    int64_t by;
} sum;

struct store_sums {
    int n;
    int shard; /* on a cluster: the shard this turn's figures go to */
    sum at[STORE_SUMS_MAX];
};

void store_sums_flush(store *s)
{
    store_sums *u = s->sums;
    if (!u)
        return;
    for (int i = 0; i < u->n; i++) {
        char by[24];
        incr(s, u->at[i].key, 0, u->at[i].field, num(by, u->at[i].by));
        free(u->at[i].key);
    }
    u->n = 0;
}

void store_sums_drop(store *s)
{
    store_sums *u = s->sums;
    if (!u)
        return;
    for (int i = 0; i < u->n; i++)
        free(u->at[i].key);
    free(u);
    s->sums = NULL;
}

/* Adds by to key's field (n: key's length, -1 when it did not fit) for the end of the turn. */
static void sum_add(store *s, const char *key, int n, const char *field, int64_t by)
{
    store_sums *u = s->sums;
    size_t fl = strlen(field);
    sum *x;
    if (n < 0) {
        store_fail_now("stats_add", "key too long", store_parse_done, NULL, NULL);
        return;
    }
    for (int i = 0; i < u->n; i++) {
        x = &u->at[i];
        if (x->keylen == (size_t)n && x->fieldlen == fl && !memcmp(x->key, key, (size_t)n) &&
            !memcmp(x->field, field, fl)) {
            x->by += by;
            return;
        }
    }
    if (u->n == STORE_SUMS_MAX)
        store_sums_flush(s);
    x = &u->at[u->n];
    if (!(x->key = malloc((size_t)n + fl + 2))) {
        store_fail_now("stats_add", "out of memory", store_parse_done, NULL, NULL);
        return;
    }
    memcpy(x->key, key, (size_t)n + 1);
    memcpy(x->key + n + 1, field, fl + 1);
    x->field = x->key + n + 1;
    x->keylen = (size_t)n;
    x->fieldlen = fl;
    x->by = by;
    u->n++;
    store_turn_arm(s);
}

void store_stats_add(store *s, const char *ns, const char *day, const char *partner,
                     const char *currency, const char *kind, int64_t amount)
{
    char key[PC_KEY_MAX], field[256];
    int shards = store_shards(s), k;
    size_t cl = strlen(currency), kl = strlen(kind);
    if (cl + kl + 2 > sizeof field) {
        store_fail_now("stats_add", "field too long", store_parse_done, NULL, NULL);
        return;
    }
    if (!s->sums && !(s->sums = calloc(1, sizeof *s->sums))) {
        store_fail_now("stats_add", "out of memory", store_parse_done, NULL, NULL);
        return;
    }
    /* A cluster's shard, one per turn (sums do not care which): fewer keys to sum into. */
    if (s->sums->n == 0)
        s->sums->shard = store_any_shard(s);
    k = s->sums->shard;
    memcpy(field, currency, cl); /* "<currency>:<kind>", for every event that moves a balance */
    field[cl] = ':';
    memcpy(field + cl + 1, kind, kl + 1);
    sum_add(s, key, keys_stats(key, sizeof key, ns, NULL, day, k, shards), field, amount);
    sum_add(s, key, keys_stats(key, sizeof key, ns, NULL, NULL, k, shards), field, amount);
    if (partner && *partner)
        sum_add(s, key, keys_stats(key, sizeof key, ns, partner, day, k, shards), field, amount);
}

void store_experiment_add(store *s, const char *ns, const char *experiment, const char *field,
                          int64_t by)
{
    char key[PC_KEY_MAX], n[24];
    incr(s, key, keys_experiment(key, sizeof key, ns, experiment), field, num(n, by));
}

void store_experiment_add_float(store *s, const char *ns, const char *experiment, const char *field,
                                double by)
{
    char key[PC_KEY_MAX], n[64];
    const char *argv[4] = {"HINCRBYFLOAT", key, field, n};
    snprintf(n, sizeof n, "%.0f", by); /* whole numbers: squares of integer spends */
    if (keys_experiment(key, sizeof key, ns, experiment) < 0)
        store_fail_now("experiment_add", "key too long", store_parse_done, NULL, NULL);
    else
        store_send(s, NULL, "experiment_add", store_parse_done, NULL, NULL, 0, 4, argv, NULL);
}

void store_board_add(store *s, const char *ns, const char *board, const char *period,
                     const char *member, int64_t score, int64_t ttl_s, const char *per,
                     const char *tz, store_done_fn *fn, void *arg)
{
    char key[PC_KEY_MAX], meta[PC_KEY_MAX], nscore[24], nttl[24];
    const char *argv[7] = {key, meta, num(nscore, score), member, num(nttl, ttl_s), per, tz};
    if (keys_resource(key, sizeof key, ns, "lb", board, period) < 0 ||
        keys_resource(meta, sizeof meta, ns, "lb", board, "meta") < 0) {
        store_fail_now("board_add", "key too long", store_parse_done, (store_cb)fn, arg);
        return;
    }
    store_catalog_note(s, ns, "board", board);
    store_send(s, &store_script_lb_add, "board_add", store_parse_done, (store_cb)fn, arg, 2, 7,
               argv, NULL);
}

const store_parser store_parsers_effect[] = {{"due", parse_due}, {NULL, NULL}};
