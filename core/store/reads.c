/*
 * The store's read side (reads-internal.h): the keys and commands behind the
 * engine's queries and an operator's writes, and the parsers that turn their
 * replies into typed answers. Every operation goes through store_send(), so
 * failures are classified (and logged) in one place.
 */
#include "reads-internal.h"
#include "keys-internal.h"
#include "store-internal.h"
#include "store-scripts-gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reply helpers ---- */

/* A string or status element as text; NULL for a nil (or any other kind). */
static const char *text_of(const redisReply *r)
{
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) ? r->str : NULL;
}

/* An integer reply, or a string holding one; def for a nil. -1 when neither. */
static int int_of(const redisReply *r, int64_t def, int64_t *out)
{
    char *end;
    if (r->type == REDIS_REPLY_INTEGER) {
        *out = r->integer;
        return 0;
    }
    if (r->type == REDIS_REPLY_NIL) {
        *out = def;
        return 0;
    }
    if (r->type != REDIS_REPLY_STRING || !r->len)
        return -1;
    *out = strtoll(r->str, &end, 10);
    return *end ? -1 : 0;
}

/*
 * Fills pairs with the n strings of elements[0..n) (flat, as HGETALL or a
 * stream entry's fields answer). The arrays are malloc'd: pairs_free().
 * -1 when an element is not a string, or out of memory.
 */
static int pairs_of(redisReply **elements, size_t n, store_pairs *pairs)
{
    const char **v = malloc(sizeof *v * (n ? n : 1));
    size_t *len = malloc(sizeof *len * (n ? n : 1));
    pairs->n = 0;
    pairs->v = v;
    pairs->len = len;
    if (!v || !len)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (elements[i]->type != REDIS_REPLY_STRING)
            return -1;
        v[i] = elements[i]->str;
        len[i] = elements[i]->len;
    }
    pairs->n = n;
    return 0;
}

static void pairs_free(store_pairs *pairs)
{
    free((void *)pairs->v);
    free((void *)pairs->len);
}

/* Sends one plain command of this file: argc strings, keys first. */
static void send_command(store *s, const char *op, store_parse_fn *parse, store_cb cb, void *arg,
                         int argc, const char **argv)
{
    store_send(s, NULL, op, parse, cb, arg, 0, argc, argv, NULL);
}

/* A key that does not fit is a bug of the caller's validation: refused, not truncated. */
static int key_failed(int n, const char *op, store_error *e)
{
    if (n >= 0)
        return 0;
    store_bad_reply(op, e);
    e->message = "key too long";
    return 1;
}

/* ---- hashes ---- */

static void parse_pairs(redisReply *r, const store_error *err, const char *op, store_cb cb,
                        void *arg)
{
    store_pairs_fn *fn = (store_pairs_fn *)cb;
    store_pairs pairs = {0};
    store_error bad;
    if (err) {
        fn(arg, err, &pairs);
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 ||
        pairs_of(r->element, r->elements, &pairs)) {
        pairs_free(&pairs);
        fn(arg, store_bad_reply(op, &bad), &(store_pairs){0});
        return;
    }
    fn(arg, NULL, &pairs);
    pairs_free(&pairs);
}

/* HGETALL of key (built by the caller; n its length or -1 when it did not fit). */
static void read_hash(store *s, const char *op, const char *key, int n, store_pairs_fn *fn,
                      void *arg)
{
    store_error e;
    const char *argv[2] = {"HGETALL", key};
    if (key_failed(n, op, &e)) {
        fn(arg, &e, &(store_pairs){0});
        return;
    }
    send_command(s, op, parse_pairs, (store_cb)fn, arg, 2, argv);
}

void store_read_member(store *s, const char *ns, const char *member, store_pairs_fn *fn, void *arg)
{
    char key[PC_KEY_MAX];
    read_hash(s, "read_member", key, pc_member_key(key, sizeof key, ns, member, "state"), fn, arg);
}

void store_read_draw_meta(store *s, const char *ns, const char *draw, store_pairs_fn *fn, void *arg)
{
    char key[PC_KEY_MAX];
    read_hash(s, "read_draw_meta", key, keys_resource(key, sizeof key, ns, "draw", draw, "meta"),
              fn, arg);
}

void store_read_catalog(store *s, const char *ns, store_pairs_fn *fn, void *arg)
{
    char key[PC_KEY_MAX];
    read_hash(s, "read_catalog", key, keys_program(key, sizeof key, ns, "catalog", "names"), fn,
              arg);
}

void store_read_board_meta(store *s, const char *ns, const char *board, store_pairs_fn *fn,
                           void *arg)
{
    char key[PC_KEY_MAX];
    read_hash(s, "read_board_meta", key, keys_resource(key, sizeof key, ns, "lb", board, "meta"),
              fn, arg);
}

void store_read_offer(store *s, const char *ns, const char *offer, store_pairs_fn *fn, void *arg)
{
    char key[PC_KEY_MAX];
    read_hash(s, "read_offer", key, keys_resource(key, sizeof key, ns, "offer", offer, "uses"), fn,
              arg);
}

void store_read_experiment(store *s, const char *ns, const char *experiment, store_pairs_fn *fn,
                           void *arg)
{
    char key[PC_KEY_MAX];
    read_hash(s, "read_experiment", key, keys_experiment(key, sizeof key, ns, experiment), fn, arg);
}

void store_read_budget_log(store *s, const char *ns, const char *budget, store_pairs_fn *fn,
                           void *arg)
{
    char key[PC_KEY_MAX];
    read_hash(s, "read_budget_log", key,
              keys_resource(key, sizeof key, ns, "budget", budget, "log"), fn, arg);
}

void store_read_broadcast(store *s, const char *ns, const char *id, store_pairs_fn *fn, void *arg)
{
    char key[PC_KEY_MAX];
    read_hash(s, "read_broadcast", key, keys_resource(key, sizeof key, ns, "bcast", id, "job"), fn,
              arg);
}

void store_read_stats(store *s, const char *ns, const char *partner, const char *day,
                      store_pairs_fn *fn, void *arg)
{
    char key[PC_KEY_MAX];
    if (store_shards(s) > 1) {
        shards_read_stats(s, ns, partner, day, (store_cb)fn, arg);
        return;
    }
    read_hash(s, "read_stats", key, keys_stats(key, sizeof key, ns, partner, day, 0, 1), fn, arg);
}

/* ---- the ledger ---- */

static void parse_entries(redisReply *r, const store_error *err, const char *op, store_cb cb,
                          void *arg)
{
    store_entries_fn *fn = (store_entries_fn *)cb;
    store_entry *entries = NULL;
    store_error bad;
    size_t n = 0;
    int ok;
    if (err) {
        fn(arg, err, 0, NULL);
        return;
    }
    ok = r->type == REDIS_REPLY_ARRAY &&
         (entries = calloc(r->elements ? r->elements : 1, sizeof *entries));
    /* entries[0..n) may hold arrays to free, whether or not their entry was whole. */
    for (size_t i = 0; ok && i < r->elements; i++) {
        redisReply *en = r->element[i];
        n = i + 1;
        ok = en->type == REDIS_REPLY_ARRAY && en->elements == 2 && text_of(en->element[0]) &&
             en->element[1]->type == REDIS_REPLY_ARRAY && en->element[1]->elements % 2 == 0;
        if (ok) {
            entries[i].id = en->element[0]->str;
            ok = !pairs_of(en->element[1]->element, en->element[1]->elements, &entries[i].fields);
        }
    }
    if (ok)
        fn(arg, NULL, n, entries);
    else
        fn(arg, store_bad_reply(op, &bad), 0, NULL);
    for (size_t i = 0; i < n && entries; i++)
        pairs_free(&entries[i].fields);
    free(entries);
}

void store_read_ledger(store *s, const char *ns, const char *member, const char *from, int count,
                       store_entries_fn *fn, void *arg)
{
    char key[PC_KEY_MAX], n[16];
    store_error e;
    const char *argv[6] = {"XREVRANGE", key, from ? from : "+", "-", "COUNT", n};
    if (key_failed(pc_member_key(key, sizeof key, ns, member, "ledger"), "read_ledger", &e)) {
        fn(arg, &e, 0, NULL);
        return;
    }
    snprintf(n, sizeof n, "%d", count);
    send_command(s, "read_ledger", parse_entries, (store_cb)fn, arg, count > 0 ? 6 : 4, argv);
}

/* ---- walks over the namespace ---- */

static void parse_members(redisReply *r, const store_error *err, const char *op, store_cb cb,
                          void *arg)
{
    store_members_fn *fn = (store_members_fn *)cb;
    const char **members = NULL;
    char *ids = NULL, *at;
    redisReply *keys;
    store_error bad;
    size_t n = 0, room = 1;
    if (err) {
        fn(arg, err, NULL, 0, NULL);
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || !text_of(r->element[0]) ||
        (keys = r->element[1])->type != REDIS_REPLY_ARRAY) {
        fn(arg, store_bad_reply(op, &bad), NULL, 0, NULL);
        return;
    }
    /* Every id is shorter than its key: one buffer holds them all. */
    for (size_t i = 0; i < keys->elements; i++)
        room += text_of(keys->element[i]) ? keys->element[i]->len + 1 : 0;
    if (!(ids = malloc(room)) ||
        !(members = malloc(sizeof *members * (keys->elements ? keys->elements : 1)))) {
        free(ids);
        fn(arg, store_bad_reply(op, &bad), NULL, 0, NULL);
        return;
    }
    at = ids;
    for (size_t i = 0; i < keys->elements; i++) {
        redisReply *k = keys->element[i];
        int len;
        /* The pattern matches NS:{*}:state; a key not of that shape is skipped. */
        if (text_of(k) &&
            (len = keys_member_of(at, room - (size_t)(at - ids), k->str, k->len)) > 0) {
            members[n++] = at;
            at += len + 1;
        }
    }
    fn(arg, NULL, r->element[0]->str, n, members);
    free(members);
    free(ids);
}

/*
 * A walk over every master of a cluster, one after the other: the caller's
 * cursor is "<master>:<cursor of that master>" ("0" alone: the start, and
 * the end). A walk that meets a map changed under it may skip or repeat
 * keys; its callers (a namespace's wipe, the ledger check) run when the
 * cluster is quiet.
 */
typedef struct walk {
    store_cb fn;
    void *arg;
    int master, masters;
} walk;

/* The caller's cursor into the master to ask and its own cursor (room 32). -1 if malformed. */
static int walk_start(store *s, const char *cursor, walk *w, char *own)
{
    char *end;
    long m = 0;
    w->masters = store_masters(s);
    if (strcmp(cursor, "0") != 0) {
        m = strtol(cursor, &end, 10);
        if (*end != ':' || strlen(end + 1) >= 32 || m < 0)
            return -1;
        cursor = end + 1;
    }
    w->master = (int)m;
    snprintf(own, 32, "%s", cursor);
    return 0;
}

/* The cursor to hand back after a master answered next. */
static const char *walk_next(const walk *w, const char *next, char *buf, size_t len)
{
    if (!next)
        return NULL;
    if (strcmp(next, "0") == 0) {
        if (w->master + 1 >= w->masters)
            return "0";
        snprintf(buf, len, "%d:0", w->master + 1);
    } else {
        snprintf(buf, len, "%d:%s", w->master, next);
    }
    return buf;
}

static void members_relay(void *arg, const store_error *err, const char *next, size_t n,
                          const char *const *members)
{
    walk *w = arg;
    char buf[64];
    ((store_members_fn *)w->fn)(w->arg, err, err ? NULL : walk_next(w, next, buf, sizeof buf), n,
                                members);
    free(w);
}

void store_read_members(store *s, const char *ns, const char *cursor, store_members_fn *fn,
                        void *arg)
{
    char match[PC_KEY_MAX], own[32];
    store_error e;
    const char *argv[6] = {"SCAN", cursor, "MATCH", match, "COUNT", "1000"};
    walk *w;
    if (key_failed(pc_member_key(match, sizeof match, ns, "*", "state"), "read_members", &e)) {
        fn(arg, &e, NULL, 0, NULL);
        return;
    }
    if (store_masters(s) == 1 && store_shards(s) == 1) {
        send_command(s, "read_members", parse_members, (store_cb)fn, arg, 6, argv);
        return;
    }
    if (!(w = calloc(1, sizeof *w)) || walk_start(s, cursor, w, own)) {
        free(w);
        fn(arg, store_bad_reply("read_members", &e), NULL, 0, NULL);
        return;
    }
    w->fn = (store_cb)fn;
    w->arg = arg;
    argv[1] = own;
    store_send_master(s, w->master, NULL, "read_members", parse_members, (store_cb)members_relay, w,
                      0, 6, argv, NULL);
}

static void parse_text(redisReply *r, const store_error *err, const char *op, store_cb cb,
                       void *arg)
{
    store_text_fn *fn = (store_text_fn *)cb;
    store_error bad;
    if (err)
        fn(arg, err, NULL, 0);
    else if (!text_of(r))
        fn(arg, store_bad_reply(op, &bad), NULL, 0);
    else
        fn(arg, NULL, r->str, r->len);
}

static void wipe_relay(void *arg, const store_error *err, const char *text, size_t len)
{
    walk *w = arg;
    char buf[64];
    const char *next = err ? NULL : walk_next(w, text, buf, sizeof buf);
    ((store_text_fn *)w->fn)(w->arg, err, next, next ? strlen(next) : 0);
    free(w);
}

void store_wipe_step(store *s, const char *ns, const char *cursor, store_text_fn *fn, void *arg)
{
    char match[PC_KEY_MAX], own[32];
    store_error e;
    const char *argv[2] = {cursor, match};
    walk *w;
    if (key_failed(keys_global(match, sizeof match, ns, "*"), "wipe", &e)) {
        fn(arg, &e, NULL, 0);
        return;
    }
    store_catalog_forget(s); /* the catalogue goes with the rest */
    if (store_masters(s) == 1 && store_shards(s) == 1) {
        store_send(s, &store_script_admin_wipe, "wipe", parse_text, (store_cb)fn, arg, 0, 2, argv,
                   NULL);
        return;
    }
    /* On a cluster, each master wipes the keys it holds (the script SCANs them there). */
    if (!(w = calloc(1, sizeof *w)) || walk_start(s, cursor, w, own)) {
        free(w);
        fn(arg, store_bad_reply("wipe", &e), NULL, 0);
        return;
    }
    w->fn = (store_cb)fn;
    w->arg = arg;
    argv[0] = own;
    store_send_master(s, w->master, &store_script_admin_wipe, "wipe", parse_text,
                      (store_cb)wipe_relay, w, 0, 2, argv, NULL);
}

/* ---- numbers ---- */

static void parse_int(redisReply *r, const store_error *err, const char *op, store_cb cb, void *arg)
{
    store_int_fn *fn = (store_int_fn *)cb;
    store_error bad;
    int64_t v;
    if (err)
        fn(arg, err, 0);
    else if (int_of(r, 0, &v))
        fn(arg, store_bad_reply(op, &bad), 0);
    else
        fn(arg, NULL, v);
}

void store_read_counter(store *s, const char *ns, const char *counter, store_int_fn *fn, void *arg)
{
    char key[PC_KEY_MAX];
    store_error e;
    const char *argv[2] = {"GET", key};
    if (key_failed(keys_resource(key, sizeof key, ns, "g", counter, "counter"), "read_counter",
                   &e)) {
        fn(arg, &e, 0);
        return;
    }
    send_command(s, "read_counter", parse_int, (store_cb)fn, arg, 2, argv);
}

void store_read_due_count(store *s, const char *ns, int64_t max_ms, store_int_fn *fn, void *arg)
{
    char key[PC_KEY_MAX], max[24];
    store_error e;
    const char *argv[4] = {"ZCOUNT", key, "-inf", max};
    if (store_shards(s) > 1) {
        shards_due_count(s, ns, max_ms, fn, arg);
        return;
    }
    if (key_failed(keys_global(key, sizeof key, ns, "due"), "read_due_count", &e)) {
        fn(arg, &e, 0);
        return;
    }
    max[pc_format_int(max, max_ms)] = '\0';
    send_command(s, "read_due_count", parse_int, (store_cb)fn, arg, 4, argv);
}

/* ---- draws ---- */

/* HMGET left won of a pool, or the refill script's answer (left, or nil: no such pool). */
static void parse_pool(redisReply *r, const store_error *err, const char *op, store_cb cb,
                       void *arg)
{
    store_pool_fn *fn = (store_pool_fn *)cb;
    store_pool pool = {0};
    store_error bad;
    int ok = 1;
    if (err) {
        fn(arg, err, &pool);
        return;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
        pool.found = r->element[0]->type != REDIS_REPLY_NIL;
        ok = !int_of(r->element[0], 0, &pool.left) && !int_of(r->element[1], 0, &pool.won);
    } else if (r->type == REDIS_REPLY_INTEGER || r->type == REDIS_REPLY_NIL) {
        pool.found = r->type == REDIS_REPLY_INTEGER;
        pool.left = pool.found ? r->integer : 0;
    } else {
        ok = 0;
    }
    if (ok)
        fn(arg, NULL, &pool);
    else
        fn(arg, store_bad_reply(op, &bad), &(store_pool){0});
}

void store_read_pool(store *s, const char *ns, const char *draw, const char *prize,
                     const char *period, store_pool_fn *fn, void *arg)
{
    char key[PC_KEY_MAX];
    store_error e;
    const char *argv[4] = {"HMGET", key, "left", "won"};
    if (key_failed(keys_draw_pool(key, sizeof key, ns, draw, prize, period), "read_pool", &e)) {
        fn(arg, &e, &(store_pool){0});
        return;
    }
    send_command(s, "read_pool", parse_pool, (store_cb)fn, arg, 4, argv);
}

void store_draw_rotate(store *s, const char *ns, const char *draw, store_int_fn *fn, void *arg)
{
    char key[PC_KEY_MAX];
    store_error e;
    const char *argv[1] = {key};
    if (key_failed(keys_resource(key, sizeof key, ns, "draw", draw, "meta"), "draw_rotate", &e)) {
        fn(arg, &e, 0);
        return;
    }
    store_send(s, &store_script_admin_rotate, "draw_rotate", parse_int, (store_cb)fn, arg, 1, 1,
               argv, NULL);
}

static void parse_done(redisReply *r, const store_error *err, const char *op, store_cb cb,
                       void *arg)
{
    ((store_done_fn *)cb)(arg, err);
}

void store_draw_reveal(store *s, const char *ns, const char *draw, int64_t epoch,
                       const char *secret, const char *at, store_done_fn *fn, void *arg)
{
    char key[PC_KEY_MAX], secret_field[40], at_field[40];
    store_error e;
    const char *argv[6] = {"HSET", key, secret_field, secret, at_field, at};
    if (key_failed(keys_resource(key, sizeof key, ns, "draw", draw, "meta"), "draw_reveal", &e)) {
        fn(arg, &e);
        return;
    }
    snprintf(secret_field, sizeof secret_field, "secret:%lld", (long long)epoch);
    snprintf(at_field, sizeof at_field, "rotated:%lld", (long long)epoch);
    send_command(s, "draw_reveal", parse_done, (store_cb)fn, arg, 6, argv);
}

void store_draw_refill(store *s, const char *ns, const char *draw, const char *prize,
                       const char *period, int64_t add, int64_t ttl_s, store_pool_fn *fn, void *arg)
{
    char pool[PC_KEY_MAX], meta[PC_KEY_MAX], n[24], ttl[24];
    store_error e;
    const char *argv[5] = {pool, meta, prize, n, ttl};
    if (key_failed(keys_draw_pool(pool, sizeof pool, ns, draw, prize, period), "draw_refill", &e) ||
        key_failed(keys_resource(meta, sizeof meta, ns, "draw", draw, "meta"), "draw_refill", &e)) {
        fn(arg, &e, &(store_pool){0});
        return;
    }
    n[pc_format_int(n, add)] = '\0';
    ttl[pc_format_int(ttl, ttl_s)] = '\0';
    store_send(s, &store_script_admin_refill, "draw_refill", parse_pool, (store_cb)fn, arg, 2, 5,
               argv, NULL);
}

/* ---- leaderboards ---- */

static void parse_scores(redisReply *r, const store_error *err, const char *op, store_cb cb,
                         void *arg)
{
    store_scores_fn *fn = (store_scores_fn *)cb;
    store_score *top = NULL;
    store_error bad;
    size_t n = 0;
    int ok;
    if (err) {
        fn(arg, err, 0, NULL);
        return;
    }
    ok = r->type == REDIS_REPLY_ARRAY && r->elements % 2 == 0 &&
         (top = malloc(sizeof *top * (r->elements ? r->elements / 2 : 1)));
    for (size_t i = 0; ok && i < r->elements; i += 2, n++) {
        top[n].member = text_of(r->element[i]);
        ok = top[n].member && text_of(r->element[i + 1]);
        /* Scores are whole numbers (m:score adds integers); Redis writes them as text. */
        top[n].score = ok ? strtoll(r->element[i + 1]->str, NULL, 10) : 0;
    }
    if (ok)
        fn(arg, NULL, n, top);
    else
        fn(arg, store_bad_reply(op, &bad), 0, NULL);
    free(top);
}

void store_read_board_top(store *s, const char *ns, const char *board, const char *period, int n,
                          store_scores_fn *fn, void *arg)
{
    char key[PC_KEY_MAX], stop[16];
    store_error e;
    const char *argv[5] = {"ZREVRANGE", key, "0", stop, "WITHSCORES"};
    if (key_failed(keys_resource(key, sizeof key, ns, "lb", board, period), "read_board_top", &e)) {
        fn(arg, &e, 0, NULL);
        return;
    }
    snprintf(stop, sizeof stop, "%d", n - 1);
    send_command(s, "read_board_top", parse_scores, (store_cb)fn, arg, 5, argv);
}

static void parse_rank(redisReply *r, const store_error *err, const char *op, store_cb cb,
                       void *arg)
{
    store_rank_fn *fn = (store_rank_fn *)cb;
    store_error bad;
    int64_t rank, score;
    if (err) {
        fn(arg, err, -1, 0);
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || int_of(r->element[0], -1, &rank) ||
        (r->element[1]->type != REDIS_REPLY_NIL && !text_of(r->element[1]))) {
        fn(arg, store_bad_reply(op, &bad), -1, 0);
        return;
    }
    score = text_of(r->element[1]) ? strtoll(r->element[1]->str, NULL, 10) : 0;
    fn(arg, NULL, text_of(r->element[1]) ? rank : -1, score);
}

void store_read_board_rank(store *s, const char *ns, const char *board, const char *period,
                           const char *member, store_rank_fn *fn, void *arg)
{
    char key[PC_KEY_MAX];
    store_error e;
    const char *argv[2] = {key, member};
    if (key_failed(keys_resource(key, sizeof key, ns, "lb", board, period), "read_board_rank",
                   &e)) {
        fn(arg, &e, -1, 0);
        return;
    }
    store_send(s, &store_script_read_board_rank, "read_board_rank", parse_rank, (store_cb)fn, arg,
               1, 2, argv, NULL);
}

const store_parser store_parsers_reads[] = {{"pairs", parse_pairs},     {"entries", parse_entries},
                                            {"members", parse_members}, {"text", parse_text},
                                            {"int", parse_int},         {"pool", parse_pool},
                                            {"done", parse_done},       {"scores", parse_scores},
                                            {"rank", parse_rank},       {NULL, NULL}};
