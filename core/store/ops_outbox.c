/*
 * Webhooks (ops-internal.h): the index of members whose outbox has entries
 * to deliver, a deliverer's lease on one outbox and its tries, the program's
 * own outbox, the log of recent attempts and the dead letters.
 *
 * Keys (keys-internal.h):
 *   NS:{member}:outbox      list   "<id> <body>", appended by the commit
 *   NS:{member}:outbox:at   hash   owner, until (the lease), id, tries, ok (the first entry's)
 *   NS:{member}:outbox:once:<id>   string  an id pushed by store_outbox_push(), TTL
 *   NS:outbox               zset   member -> 2 x next try (ms), +1 for a re-check;
 *                                  NS:{outbox:K} on a cluster
 *   NS:{wh:program}:log     list   recent attempts, newest first
 *   NS:{wh:program}:dead    hash   id -> dead letter
 * Every script touches one member's keys or one index shard: one slot each.
 */
#include "keys-internal.h"
#include "store-internal.h"
#include "store-scripts-gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *num(char *buf, int64_t v)
{
    buf[pc_format_int(buf, v)] = '\0';
    return buf;
}

/* The index shard of member into key: its length, or -1. */
static int index_key(store *s, char *key, size_t n, const char *ns, const char *member)
{
    int shards = store_shards(s);
    return keys_sharded(key, n, ns, "outbox", keys_shard_of(member, strlen(member), shards),
                        shards);
}

void store_outbox_mark(store *s, const char *ns, const char *member, int64_t now_ms,
                       store_done_fn *fn, void *arg)
{
    char key[PC_KEY_MAX], now[24];
    const char *argv[3] = {key, member, num(now, now_ms)};
    if (index_key(s, key, sizeof key, ns, member) < 0) {
        store_fail_now("outbox_mark", "key too long", store_parse_done, (store_cb)fn, arg);
        return;
    }
    store_send(s, &store_script_outbox_mark, "outbox_mark", store_parse_done, (store_cb)fn, arg, 1,
               3, argv, NULL);
}

void store_outbox_count(store *s, const char *ns, store_int_fn *fn, void *arg)
{
    char key[PC_KEY_MAX];
    const char *argv[2] = {"ZCARD", key};
    if (store_shards(s) > 1) {
        shards_zset_count(s, ns, "outbox", "outbox_count", INT64_MAX, fn, arg);
        return;
    }
    if (keys_global(key, sizeof key, ns, "outbox") < 0) {
        store_fail_now("outbox_count", "key too long", store_parse_int, (store_cb)fn, arg);
        return;
    }
    store_send(s, NULL, "outbox_count", store_parse_int, (store_cb)fn, arg, 0, 2, argv, NULL);
}

void store_outbox_unindex(store *s, const char *ns, const char *member, int64_t score,
                          store_int_fn *fn, void *arg)
{
    char key[PC_KEY_MAX], sc[24];
    const char *argv[3] = {key, member, num(sc, score)};
    if (index_key(s, key, sizeof key, ns, member) < 0) {
        store_fail_now("outbox_unindex", "key too long", store_parse_int, (store_cb)fn, arg);
        return;
    }
    store_send(s, &store_script_outbox_unindex, "outbox_unindex", store_parse_int, (store_cb)fn,
               arg, 1, 3, argv, NULL);
}

void store_outbox_retry_at(store *s, const char *ns, const char *member, int64_t at_ms, int recheck,
                           store_done_fn *fn, void *arg)
{
    char key[PC_KEY_MAX], at[24];
    const char *argv[4] = {"ZADD", key, num(at, 2 * at_ms + !!recheck), member};
    if (index_key(s, key, sizeof key, ns, member) < 0) {
        store_fail_now("outbox_retry_at", "key too long", store_parse_done, (store_cb)fn, arg);
        return;
    }
    store_send(s, NULL, "outbox_retry_at", store_parse_done, (store_cb)fn, arg, 0, 4, argv, NULL);
}

static void parse_head(redisReply *r, const store_error *err, const char *op, store_cb cb,
                       void *arg)
{
    store_outbox_head_fn *fn = (store_outbox_head_fn *)cb;
    store_outbox_entry h = {0};
    store_error bad;
    if (err)
        goto fail;
    /* {0} | {2} | {1, entry, tries, ok} */
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_INTEGER)
        goto bad;
    h.status = (enum store_outbox_status)r->element[0]->integer;
    if (h.status == STORE_OUTBOX_HEAD) {
        if (r->elements != 4 || r->element[1]->type != REDIS_REPLY_STRING ||
            r->element[2]->type != REDIS_REPLY_INTEGER || r->element[3]->type != REDIS_REPLY_STRING)
            goto bad;
        h.entry = r->element[1]->str;
        h.len = r->element[1]->len;
        h.tries = r->element[2]->integer;
        h.ok = r->element[3]->str;
    } else if (h.status != STORE_OUTBOX_LEASED && h.status != STORE_OUTBOX_EMPTY) {
        goto bad;
    }
    fn(arg, NULL, &h);
    return;
bad:
    err = store_bad_reply(op, &bad);
fail:
    fn(arg, err, NULL);
}

void store_outbox_head(store *s, const char *ns, const char *member, const char *owner,
                       int64_t now_ms, int64_t lease_ms, store_outbox_head_fn *fn, void *arg)
{
    char outbox[PC_KEY_MAX], at[PC_KEY_MAX], now[24], lease[24];
    const char *argv[5] = {outbox, at, owner, num(now, now_ms), num(lease, lease_ms)};
    if (pc_member_key(outbox, sizeof outbox, ns, member, "outbox") < 0 ||
        pc_member_key(at, sizeof at, ns, member, "outbox:at") < 0) {
        store_fail_now("outbox_head", "key too long", parse_head, (store_cb)fn, arg);
        return;
    }
    store_send(s, &store_script_outbox_head, "outbox_head", parse_head, (store_cb)fn, arg, 2, 5,
               argv, NULL);
}

static void parse_ack(redisReply *r, const store_error *err, const char *op, store_cb cb, void *arg)
{
    store_outbox_ack_fn *fn = (store_outbox_ack_fn *)cb;
    store_error bad;
    if (!err &&
        (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
         r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_INTEGER))
        err = store_bad_reply(op, &bad);
    if (err)
        fn(arg, err, 0, 0);
    else
        fn(arg, NULL, r->element[0]->integer, r->element[1]->integer);
}

void store_outbox_ack(store *s, const char *ns, const char *member, const char *owner,
                      const char *id, int done, const char *ok, int release,
                      store_outbox_ack_fn *fn, void *arg)
{
    char outbox[PC_KEY_MAX], at[PC_KEY_MAX];
    const char *argv[7] = {
        outbox, at, owner, id, done ? "done" : "fail", ok ? ok : "", release ? "1" : "0"};
    if (pc_member_key(outbox, sizeof outbox, ns, member, "outbox") < 0 ||
        pc_member_key(at, sizeof at, ns, member, "outbox:at") < 0) {
        store_fail_now("outbox_ack", "key too long", parse_ack, (store_cb)fn, arg);
        return;
    }
    store_send(s, &store_script_outbox_ack, "outbox_ack", parse_ack, (store_cb)fn, arg, 2, 7, argv,
               NULL);
}

void store_outbox_push(store *s, const char *ns, const char *member, const char *id,
                       const char *entry, int64_t once_ttl_s, store_int_fn *fn, void *arg)
{
    char outbox[PC_KEY_MAX], once[PC_KEY_MAX], suffix[PC_KEY_MAX], ttl[24];
    const char *argv[4] = {outbox, once, entry, num(ttl, once_ttl_s)};
    const char *rpush[3] = {"RPUSH", outbox, entry};
    snprintf(suffix, sizeof suffix, "outbox:once:%s", id);
    if (pc_member_key(outbox, sizeof outbox, ns, member, "outbox") < 0 ||
        pc_member_key(once, sizeof once, ns, member, suffix) < 0) {
        store_fail_now("outbox_push", "key too long", store_parse_int, (store_cb)fn, arg);
        return;
    }
    if (once_ttl_s > 0)
        store_send(s, &store_script_outbox_push, "outbox_push", store_parse_int, (store_cb)fn, arg,
                   2, 4, argv, NULL);
    else
        store_send(s, NULL, "outbox_push", store_parse_int, (store_cb)fn, arg, 0, 3, rpush, NULL);
}

/* NS:{wh:program}:what ("log", "dead"). */
static int wh_key(char *key, size_t n, const char *ns, const char *what)
{
    return keys_resource(key, n, ns, "wh", "program", what);
}

void store_webhooks_log(store *s, const char *ns, const char *record, int keep)
{
    char key[PC_KEY_MAX], last[24];
    const char *push[3] = {"LPUSH", key, record};
    const char *trim[4] = {"LTRIM", key, "0", num(last, keep - 1)};
    if (wh_key(key, sizeof key, ns, "log") < 0)
        return;
    store_send(s, NULL, "webhooks_log", store_parse_done, NULL, NULL, 0, 3, push, NULL);
    store_send(s, NULL, "webhooks_log", store_parse_done, NULL, NULL, 0, 4, trim, NULL);
}

void store_webhooks_recent(store *s, const char *ns, int limit, store_list_fn *fn, void *arg)
{
    char key[PC_KEY_MAX], last[24];
    const char *argv[4] = {"LRANGE", key, "0", num(last, limit - 1)};
    if (wh_key(key, sizeof key, ns, "log") < 0) {
        store_fail_now("webhooks_recent", "key too long", store_parse_list, (store_cb)fn, arg);
        return;
    }
    store_send(s, NULL, "webhooks_recent", store_parse_list, (store_cb)fn, arg, 0, 4, argv, NULL);
}

void store_webhooks_dead_put(store *s, const char *ns, const char *id, const char *record,
                             store_done_fn *fn, void *arg)
{
    char key[PC_KEY_MAX];
    const char *argv[4] = {"HSET", key, id, record};
    if (wh_key(key, sizeof key, ns, "dead") < 0) {
        store_fail_now("webhooks_dead", "key too long", store_parse_done, (store_cb)fn, arg);
        return;
    }
    store_send(s, NULL, "webhooks_dead", store_parse_done, (store_cb)fn, arg, 0, 4, argv, NULL);
}

void store_webhooks_dead_get(store *s, const char *ns, const char *id, store_text_fn *fn, void *arg)
{
    char key[PC_KEY_MAX];
    const char *argv[3] = {"HGET", key, id};
    if (wh_key(key, sizeof key, ns, "dead") < 0) {
        store_fail_now("webhooks_dead", "key too long", store_parse_text, (store_cb)fn, arg);
        return;
    }
    store_send(s, NULL, "webhooks_dead", store_parse_text, (store_cb)fn, arg, 0, 3, argv, NULL);
}

void store_webhooks_dead_del(store *s, const char *ns, const char *id, store_int_fn *fn, void *arg)
{
    char key[PC_KEY_MAX];
    const char *argv[3] = {"HDEL", key, id};
    if (wh_key(key, sizeof key, ns, "dead") < 0) {
        store_fail_now("webhooks_dead", "key too long", store_parse_int, (store_cb)fn, arg);
        return;
    }
    store_send(s, NULL, "webhooks_dead", store_parse_int, (store_cb)fn, arg, 0, 3, argv, NULL);
}

void store_webhooks_dead_all(store *s, const char *ns, store_list_fn *fn, void *arg)
{
    char key[PC_KEY_MAX];
    const char *argv[2] = {"HVALS", key};
    if (wh_key(key, sizeof key, ns, "dead") < 0) {
        store_fail_now("webhooks_dead", "key too long", store_parse_list, (store_cb)fn, arg);
        return;
    }
    store_send(s, NULL, "webhooks_dead", store_parse_list, (store_cb)fn, arg, 0, 2, argv, NULL);
}
