/*
 * Shared resources reserved under claims (ops-internal.h): global counters,
 * instant-win draws, campaign budgets and referrals, each one server-side
 * script on the keys of one resource (one Redis Cluster slot, its hash tag),
 * and the index of unconfirmed claims.
 *
 * Keys (keys-internal.h):
 *   NS:{g:NAME}:counter | :claim:<claim id>   string  the value | "<value>:<by>"
 *   NS:{draw:D}:meta                 hash  epoch (absent = 1), wins, won:<prize>,
 *                                          pool:<prize>, refill:<prize>, tz,
 *                                          secret:<epoch> (revealed), rotated:<epoch>
 *   NS:{draw:D}:pool:<prize>:<period> hash left, won, size (expires after its period)
 *   NS:{draw:D}:claim:<claim id>     hash  t (touched, ms), epoch, prize, pool
 *   NS:{budget:B}:<period>           hash  used, max
 *   NS:{budget:B}:claim:<claim id>   hash  t, amount, key, period
 *   NS:{budget:B}:log                hash  used:<period>, max:<period> (GET /v1/budgets/{B})
 *   NS:{ref:FRIEND}:by               hash  referrer, claim, t, type (kept for good)
 *   NS:{offer:O}:uses                hash  used (uses holding the cap), returned (uses
 *                                          given back by reversals), discount (money off)
 *   NS:{offer:O}:claim:<claim id>    hash  t, amount (1 a use, -1 a return), off, key [, mark]
 *   NS:{offer:O}:ret:<member>/<event> string  the use of that event was given back
 *   NS:claims                        zset  index entry -> when it was listed (ms); on a
 *                                          cluster NS:{claims:K}, K the entry's shard
 */
#include "keys-internal.h"
#include "store-internal.h"
#include "store-scripts-gen.h"

#include <stdlib.h>
#include <string.h>

/* How long a claim lives unconfirmed in Redis (s): far beyond any sweep. */
#define CLAIM_TTL_S 86400

/* Writes the decimal v into buf (>= 24 bytes) and returns buf. */
static const char *num(char *buf, int64_t v)
{
    buf[pc_format_int(buf, v)] = '\0';
    return buf;
}

void store_counter_reserve(store *s, const char *ns, const char *counter, const char *claim_id,
                           int64_t by, int peek, store_int_fn *fn, void *arg)
{
    char key[PC_KEY_MAX], ckey[PC_KEY_MAX], nby[24], ttl[24];
    const char *argv[5] = {key, ckey, num(nby, by), num(ttl, CLAIM_TTL_S), peek ? "1" : "0"};
    if (keys_resource(key, sizeof key, ns, "g", counter, "counter") < 0 ||
        keys_claim(ckey, sizeof ckey, ns, "g", counter, claim_id) < 0) {
        store_fail_now("counter_reserve", "key too long", store_parse_int, (store_cb)fn, arg);
        return;
    }
    store_send(s, &store_script_counter_reserve, "counter_reserve", store_parse_int, (store_cb)fn,
               arg, 2, 5, argv, NULL);
}

void store_counter_release(store *s, const char *ns, const char *counter, const char *claim_id,
                           store_int_fn *fn, void *arg)
{
    char key[PC_KEY_MAX], ckey[PC_KEY_MAX];
    const char *argv[2] = {key, ckey};
    if (keys_resource(key, sizeof key, ns, "g", counter, "counter") < 0 ||
        keys_claim(ckey, sizeof ckey, ns, "g", counter, claim_id) < 0) {
        store_fail_now("counter_release", "key too long", store_parse_int, (store_cb)fn, arg);
        return;
    }
    store_send(s, &store_script_counter_release, "counter_release", store_parse_int, (store_cb)fn,
               arg, 2, 2, argv, NULL);
}

static void parse_draw_state(redisReply *r, const store_error *err, const char *op, store_cb cb,
                             void *arg)
{
    store_draw_fn *fn = (store_draw_fn *)cb;
    store_draw_state st = {0};
    store_error bad;
    /* {epoch, prize, 1 (won before) | 0} */
    if (!err &&
        (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
         r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_STRING ||
         r->element[2]->type != REDIS_REPLY_INTEGER))
        err = store_bad_reply(op, &bad);
    if (err) {
        fn(arg, err, NULL);
        return;
    }
    st.epoch = r->element[0]->integer;
    st.prize = r->element[2]->integer == 1 ? r->element[1]->str : NULL;
    fn(arg, NULL, &st);
}

void store_draw_read(store *s, const char *ns, const char *draw, const char *claim_id,
                     store_draw_fn *fn, void *arg)
{
    char meta[PC_KEY_MAX], ckey[PC_KEY_MAX];
    const char *argv[2] = {meta, ckey};
    if (keys_resource(meta, sizeof meta, ns, "draw", draw, "meta") < 0 ||
        keys_claim(ckey, sizeof ckey, ns, "draw", draw, claim_id) < 0) {
        store_fail_now("draw_read", "key too long", parse_draw_state, (store_cb)fn, arg);
        return;
    }
    store_send(s, &store_script_draw_read, "draw_read", parse_draw_state, (store_cb)fn, arg, 2, 2,
               argv, NULL);
}

/* draw_take answers the prize's name, or "" when every pool is empty. */
static void parse_prize(redisReply *r, const store_error *err, const char *op, store_cb cb,
                        void *arg)
{
    store_text_fn *fn = (store_text_fn *)cb;
    store_error bad;
    if (!err && r->type != REDIS_REPLY_STRING)
        err = store_bad_reply(op, &bad);
    if (err || r->len == 0)
        fn(arg, err, NULL, 0);
    else
        fn(arg, NULL, r->str, r->len);
}

void store_draw_take(store *s, const char *ns, const char *draw, const char *claim_id,
                     int64_t epoch, int peek, const char *tz, const store_prize *prizes, size_t n,
                     store_text_fn *fn, void *arg)
{
    store_args a = {0};
    char key[PC_KEY_MAX];
    /* KEYS meta, claim, a pool per prize; ARGV epoch, claim TTL, peek, tz, 4 per prize. */
    store_args_key(&a, key, keys_resource(key, sizeof key, ns, "draw", draw, "meta"));
    store_args_key(&a, key, keys_claim(key, sizeof key, ns, "draw", draw, claim_id));
    for (size_t i = 0; i < n; i++)
        store_args_key(&a, key,
                       keys_draw_pool(key, sizeof key, ns, draw, prizes[i].name, prizes[i].period));
    store_args_int(&a, epoch);
    store_args_int(&a, CLAIM_TTL_S);
    store_args_str(&a, peek ? "1" : "0");
    store_args_str(&a, tz);
    for (size_t i = 0; i < n; i++) {
        store_args_str(&a, prizes[i].name);
        store_args_int(&a, prizes[i].pool);
        store_args_str(&a, prizes[i].refill);
        store_args_int(&a, prizes[i].ttl_s);
    }
    if (n == 0 && !a.failed)
        a.failed = "a draw needs at least one prize";
    if (!peek)
        store_catalog_note(s, ns, "draw", draw);
    store_send_args(s, &store_script_draw_take, "draw_take", parse_prize, (store_cb)fn, arg,
                    2 + (int)n, &a);
    store_args_free(&a);
}

void store_draw_release(store *s, const char *ns, const char *draw, const char *claim_id,
                        int64_t min_age_ms, store_int_fn *fn, void *arg)
{
    char meta[PC_KEY_MAX], ckey[PC_KEY_MAX], age[24];
    const char *argv[3] = {meta, ckey, num(age, min_age_ms)};
    if (keys_resource(meta, sizeof meta, ns, "draw", draw, "meta") < 0 ||
        keys_claim(ckey, sizeof ckey, ns, "draw", draw, claim_id) < 0) {
        store_fail_now("draw_release", "key too long", store_parse_int, (store_cb)fn, arg);
        return;
    }
    store_send(s, &store_script_draw_release, "draw_release", store_parse_int, (store_cb)fn, arg, 2,
               3, argv, NULL);
}

void store_budget_take(store *s, const char *ns, const char *budget, const char *period,
                       const char *claim_id, int64_t amount, int64_t max, int64_t ttl_s, int peek,
                       store_int_fn *fn, void *arg)
{
    char key[PC_KEY_MAX], ckey[PC_KEY_MAX], lkey[PC_KEY_MAX], na[24], nm[24], nt[24], nc[24];
    const char *argv[9] = {key,
                           ckey,
                           lkey,
                           num(na, amount),
                           num(nm, max),
                           num(nt, ttl_s),
                           num(nc, CLAIM_TTL_S),
                           peek ? "1" : "0",
                           period};
    if (keys_resource(key, sizeof key, ns, "budget", budget, period) < 0 ||
        keys_claim(ckey, sizeof ckey, ns, "budget", budget, claim_id) < 0 ||
        keys_resource(lkey, sizeof lkey, ns, "budget", budget, "log") < 0) {
        store_fail_now("budget_take", "key too long", store_parse_int, (store_cb)fn, arg);
        return;
    }
    if (!peek)
        store_catalog_note(s, ns, "budget", budget);
    store_send(s, &store_script_budget_take, "budget_take", store_parse_int, (store_cb)fn, arg, 3,
               9, argv, NULL);
}

void store_budget_release(store *s, const char *ns, const char *budget, const char *claim_id,
                          int64_t min_age_ms, store_int_fn *fn, void *arg)
{
    char ckey[PC_KEY_MAX], lkey[PC_KEY_MAX], age[24];
    const char *argv[3] = {ckey, lkey, num(age, min_age_ms)};
    if (keys_claim(ckey, sizeof ckey, ns, "budget", budget, claim_id) < 0 ||
        keys_resource(lkey, sizeof lkey, ns, "budget", budget, "log") < 0) {
        store_fail_now("budget_release", "key too long", store_parse_int, (store_cb)fn, arg);
        return;
    }
    store_send(s, &store_script_budget_release, "budget_release", store_parse_int, (store_cb)fn,
               arg, 2, 3, argv, NULL);
}

void store_offer_take(store *s, const char *ns, const char *offer, const char *claim_id,
                      int64_t cap, int64_t off, int peek, store_int_fn *fn, void *arg)
{
    char key[PC_KEY_MAX], ckey[PC_KEY_MAX], nc[24], no[24], nt[24];
    const char *argv[6] = {
        key, ckey, num(nc, cap), num(no, off), num(nt, CLAIM_TTL_S), peek ? "1" : "0"};
    if (keys_resource(key, sizeof key, ns, "offer", offer, "uses") < 0 ||
        keys_claim(ckey, sizeof ckey, ns, "offer", offer, claim_id) < 0) {
        store_fail_now("offer_take", "key too long", store_parse_int, (store_cb)fn, arg);
        return;
    }
    store_send(s, &store_script_offer_take, "offer_take", store_parse_int, (store_cb)fn, arg, 2, 6,
               argv, NULL);
}

void store_offer_return(store *s, const char *ns, const char *offer, const char *member,
                        const char *used_event, const char *claim_id, int64_t off,
                        int64_t mark_ttl_s, int peek, store_int_fn *fn, void *arg)
{
    char key[PC_KEY_MAX], mkey[PC_KEY_MAX], ckey[PC_KEY_MAX], suffix[PC_KEY_MAX];
    char no[24], nm[24], nt[24];
    const char *argv[7] = {
        key, mkey, ckey, num(no, off), num(nm, mark_ttl_s), num(nt, CLAIM_TTL_S), peek ? "1" : "0"};
    snprintf(suffix, sizeof suffix, "ret:%s/%s", member, used_event);
    if (keys_resource(key, sizeof key, ns, "offer", offer, "uses") < 0 ||
        keys_resource(mkey, sizeof mkey, ns, "offer", offer, suffix) < 0 ||
        keys_claim(ckey, sizeof ckey, ns, "offer", offer, claim_id) < 0) {
        store_fail_now("offer_return", "key too long", store_parse_int, (store_cb)fn, arg);
        return;
    }
    store_send(s, &store_script_offer_return, "offer_return", store_parse_int, (store_cb)fn, arg, 3,
               7, argv, NULL);
}

void store_offer_release(store *s, const char *ns, const char *offer, const char *claim_id,
                         int64_t min_age_ms, store_int_fn *fn, void *arg)
{
    char ckey[PC_KEY_MAX], age[24];
    const char *argv[2] = {ckey, num(age, min_age_ms)};
    if (keys_claim(ckey, sizeof ckey, ns, "offer", offer, claim_id) < 0) {
        store_fail_now("offer_release", "key too long", store_parse_int, (store_cb)fn, arg);
        return;
    }
    store_send(s, &store_script_offer_release, "offer_release", store_parse_int, (store_cb)fn, arg,
               1, 2, argv, NULL);
}

void store_referral_take(store *s, const char *ns, const char *friend_id, const char *referrer,
                         const char *type, const char *claim_id, int peek, store_int_fn *fn,
                         void *arg)
{
    char key[PC_KEY_MAX];
    const char *argv[5] = {key, referrer, claim_id, peek ? "1" : "0", type};
    if (keys_resource(key, sizeof key, ns, "ref", friend_id, "by") < 0) {
        store_fail_now("referral_take", "key too long", store_parse_int, (store_cb)fn, arg);
        return;
    }
    store_send(s, &store_script_referral_take, "referral_take", store_parse_int, (store_cb)fn, arg,
               1, 5, argv, NULL);
}

void store_referral_release(store *s, const char *ns, const char *friend_id, const char *claim_id,
                            int64_t min_age_ms, store_int_fn *fn, void *arg)
{
    char key[PC_KEY_MAX], age[24];
    const char *argv[3] = {key, claim_id, num(age, min_age_ms)};
    if (keys_resource(key, sizeof key, ns, "ref", friend_id, "by") < 0) {
        store_fail_now("referral_release", "key too long", store_parse_int, (store_cb)fn, arg);
        return;
    }
    store_send(s, &store_script_referral_release, "referral_release", store_parse_int, (store_cb)fn,
               arg, 1, 3, argv, NULL);
}

static void parse_referral(redisReply *r, const store_error *err, const char *op, store_cb cb,
                           void *arg)
{
    store_referral_fn *fn = (store_referral_fn *)cb;
    store_referral ref;
    store_error bad;
    if (!err && (r->type != REDIS_REPLY_ARRAY || r->elements != 3))
        err = store_bad_reply(op, &bad);
    if (err) {
        fn(arg, err, NULL);
        return;
    }
    /* HMGET: a string or nil each. */
    ref.referrer = r->element[0]->type == REDIS_REPLY_STRING ? r->element[0]->str : NULL;
    ref.type = r->element[1]->type == REDIS_REPLY_STRING ? r->element[1]->str : NULL;
    ref.claim = r->element[2]->type == REDIS_REPLY_STRING ? r->element[2]->str : NULL;
    fn(arg, NULL, &ref);
}

void store_referral_read(store *s, const char *ns, const char *friend_id, store_referral_fn *fn,
                         void *arg)
{
    char key[PC_KEY_MAX];
    const char *argv[5] = {"HMGET", key, "referrer", "type", "claim"};
    if (keys_resource(key, sizeof key, ns, "ref", friend_id, "by") < 0) {
        store_fail_now("referral_read", "key too long", parse_referral, (store_cb)fn, arg);
        return;
    }
    store_send(s, NULL, "referral_read", parse_referral, (store_cb)fn, arg, 0, 5, argv, NULL);
}

void store_claims_put(store *s, const char *ns, const char *entry, int64_t at_ms, store_done_fn *fn,
                      void *arg)
{
    char key[PC_KEY_MAX], score[24];
    const char *argv[4] = {"ZADD", key, num(score, at_ms), entry};
    int shards = store_shards(s);
    if (keys_sharded(key, sizeof key, ns, "claims", keys_shard_of(entry, strlen(entry), shards),
                     shards) < 0) {
        store_fail_now("claims_put", "key too long", store_parse_done, (store_cb)fn, arg);
        return;
    }
    store_send(s, NULL, "claims_put", store_parse_done, (store_cb)fn, arg, 0, 4, argv, NULL);
}

void store_claims_del(store *s, const char *ns, const char *entry, store_done_fn *fn, void *arg)
{
    char key[PC_KEY_MAX];
    const char *argv[3] = {"ZREM", key, entry};
    int shards = store_shards(s);
    if (keys_sharded(key, sizeof key, ns, "claims", keys_shard_of(entry, strlen(entry), shards),
                     shards) < 0) {
        store_fail_now("claims_del", "key too long", store_parse_done, (store_cb)fn, arg);
        return;
    }
    store_send(s, NULL, "claims_del", store_parse_done, (store_cb)fn, arg, 0, 3, argv, NULL);
}

void store_claims_range(store *s, const char *ns, int64_t max_ms, int limit, store_list_fn *fn,
                        void *arg)
{
    char key[PC_KEY_MAX], max[24], count[24];
    const char *argv[7] = {"ZRANGEBYSCORE", key, "-inf",           num(max, max_ms),
                           "LIMIT",         "0", num(count, limit)};
    if (store_shards(s) > 1) {
        shards_claims_range(s, ns, max_ms, limit, fn, arg);
        return;
    }
    if (keys_global(key, sizeof key, ns, "claims") < 0) {
        store_fail_now("claims_range", "key too long", store_parse_list, (store_cb)fn, arg);
        return;
    }
    store_send(s, NULL, "claims_range", store_parse_list, (store_cb)fn, arg, 0, 7, argv, NULL);
}

const store_parser store_parsers_global[] = {{"draw_state", parse_draw_state},
                                             {"text", parse_prize},
                                             {"referral", parse_referral},
                                             {NULL, NULL}};
