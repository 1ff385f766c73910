/*
 * One member's transaction (ops-internal.h): the load (dedupe + state in one
 * round trip) and the atomic commit, both server-side scripts on the keys of
 * one member (one Redis Cluster slot), and the two small reads the sweeper
 * makes of a member.
 */
#include "keys-internal.h"
#include "store-internal.h"
#include "store-scripts-gen.h"

#include <stdlib.h>
#include <string.h>

static void parse_load(redisReply *r, const store_error *err, const char *op, store_cb cb,
                       void *arg)
{
    store_load_fn *fn = (store_load_fn *)cb;
    store_loaded res = {0};
    store_pairs_buf b = {0};
    store_error bad;

    if (err)
        goto fail;
    /* {1, response} | {0, {field, value, ...} [, response or nil]} */
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER)
        goto bad;
    if (r->element[0]->integer == 1) {
        if (r->element[1]->type != REDIS_REPLY_STRING)
            goto bad;
        res.stored = r->element[1]->str;
        res.stored_len = r->element[1]->len;
        fn(arg, NULL, &res);
        return;
    }
    if (store_pairs_from(&b, r->element[1]))
        goto bad;
    res.state = b.pairs;
    if (r->elements == 3 && r->element[2]->type == REDIS_REPLY_STRING) {
        res.original = r->element[2]->str;
        res.original_len = r->element[2]->len;
    }
    fn(arg, NULL, &res);
    store_pairs_release(&b);
    return;
bad:
    err = store_bad_reply(op, &bad);
fail:
    fn(arg, err, NULL);
}

void store_load_member(store *s, const char *ns, const char *member, const char *event_id,
                       const char *original_event_id, store_load_fn *fn, void *arg)
{
    char state[PC_KEY_MAX], event[PC_KEY_MAX], original[PC_KEY_MAX];
    const char *argv[3] = {state, event, original};
    int nkeys = original_event_id ? 3 : 2;
    if (pc_member_key(state, sizeof state, ns, member, "state") < 0 ||
        keys_event(event, sizeof event, ns, member, event_id) < 0 ||
        (original_event_id &&
         keys_event(original, sizeof original, ns, member, original_event_id) < 0)) {
        store_fail_now("load", "key too long", parse_load, (store_cb)fn, arg);
        return;
    }
    store_send(s, &store_script_load, "load", parse_load, (store_cb)fn, arg, nkeys, nkeys, argv,
               NULL);
}

/*
 * The commit's arguments are built as ops, in the order the engine gives them:
 *   KEYS state, ledger, event, outbox; ARGV version, response, TTL, then
 *   S field value | D field | L n k1 v1 ... kn vn;
 * and sent grouped as commit.lua reads them (commit_layout()), the webhook
 * entries for the outbox (kept apart in out) and their number last.
 */
struct store_commit {
    store_args a;
    store_args out;  /* webhook entries (store_commit_outbox()) */
    int entry_count; /* the argument holding the open entry's n, or -1 */
    int entry_fields;
};

store_commit *store_commit_new(const char *ns, const char *member, const char *event_id,
                               int64_t version, const char *response, int ttl_s)
{
    store_commit *c = calloc(1, sizeof *c);
    char key[PC_KEY_MAX];
    if (!c)
        return NULL;
    c->entry_count = -1;
    store_args_key(&c->a, key, pc_member_key(key, sizeof key, ns, member, "state"));
    store_args_key(&c->a, key, pc_member_key(key, sizeof key, ns, member, "ledger"));
    store_args_key(&c->a, key, keys_event(key, sizeof key, ns, member, event_id));
    store_args_key(&c->a, key, pc_member_key(key, sizeof key, ns, member, "outbox"));
    store_args_int(&c->a, version);
    store_args_str(&c->a, response);
    store_args_int(&c->a, ttl_s);
    return c;
}

void store_commit_field(store_commit *c, const char *field, const char *value)
{
    store_args_str(&c->a, value ? "S" : "D");
    store_args_str(&c->a, field);
    if (value)
        store_args_str(&c->a, value);
}

void store_commit_outbox(store_commit *c, const char *entry)
{
    store_args_str(&c->out, entry);
}

void store_commit_entry_begin(store_commit *c)
{
    store_args_str(&c->a, "L");
    c->entry_count = c->a.n;
    c->entry_fields = 0;
    store_args_str(&c->a, "0");
}

void store_commit_entry_str(store_commit *c, const char *name, const char *value)
{
    store_args_str(&c->a, name);
    store_args_str(&c->a, value);
    c->entry_fields++;
}

void store_commit_entry_int(store_commit *c, const char *name, int64_t value)
{
    store_args_str(&c->a, name);
    store_args_int(&c->a, value);
    c->entry_fields++;
}

void store_commit_entry_end(store_commit *c)
{
    store_args_set_int(&c->a, c->entry_count, c->entry_fields);
    c->entry_count = -1;
}

static void parse_commit(redisReply *r, const store_error *err, const char *op, store_cb cb,
                         void *arg)
{
    store_commit_fn *fn = (store_commit_fn *)cb;
    store_committed res = {0};
    store_pairs_buf b = {0};
    store_error bad;
    redisReply *v;

    if (err)
        goto fail;
    /* {0, new version} | {1, stored response} | {2, {field, value, ...}} */
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER)
        goto bad;
    v = r->element[1];
    switch (r->element[0]->integer) {
    case 0:
        if (v->type != REDIS_REPLY_INTEGER)
            goto bad;
        res.outcome = STORE_COMMITTED;
        res.version = v->integer;
        break;
    case 1:
        if (v->type != REDIS_REPLY_STRING)
            goto bad;
        res.outcome = STORE_APPLIED_BEFORE;
        res.stored = v->str;
        res.stored_len = v->len;
        break;
    case 2:
        if (store_pairs_from(&b, v))
            goto bad;
        res.outcome = STORE_VERSION_MOVED;
        res.state = b.pairs;
        break;
    default:
        goto bad;
    }
    fn(arg, NULL, &res);
    store_pairs_release(&b);
    return;
bad:
    err = store_bad_reply(op, &bad);
fail:
    fn(arg, err, NULL);
}

#define COMMIT_HEAD 7 /* 4 keys, version, response, TTL */

/*
 * Regroups the ops for commit.lua: after the head, the number of S pairs and
 * of D fields, then every S field value, every D field, and each ledger entry
 * as n k1 v1 ... kn vn. The script then hands each write its slice of ARGV
 * instead of walking op by op (a tenth of Redis's work per commit).
 */
static void commit_layout(store_args *a)
{
    int n = a->n, nset = 0, ndel = 0, at = COMMIT_HEAD + 2;
    size_t *off, *len;

    if (a->failed)
        return;
    for (int i = COMMIT_HEAD; i < n;) {
        char op = a->text[a->off[i]];
        if (op == 'S' && i + 2 < n) {
            nset++;
            i += 3;
        } else if (op == 'D' && i + 1 < n) {
            ndel++;
            i += 2;
        } else if (op == 'L' && i + 1 < n) {
            long k = strtol(a->text + a->off[i + 1], NULL, 10);
            if (k < 0 || k > (n - i - 2) / 2) {
                a->failed = "a ledger entry is truncated";
                return;
            }
            i += 2 + 2 * (int)k;
        } else {
            a->failed = "bad commit op";
            return;
        }
    }
    store_args_int(a, nset); /* arguments n and n + 1 */
    store_args_int(a, ndel);
    off = malloc(sizeof *off * (size_t)(n + 2));
    len = malloc(sizeof *len * (size_t)(n + 2));
    if (a->failed || !off || !len) {
        free(off);
        free(len);
        a->failed = a->failed ? a->failed : "out of memory";
        return;
    }
#define TAKE(j) (off[at] = a->off[j], len[at++] = a->len[j])
    memcpy(off, a->off, sizeof *off * COMMIT_HEAD);
    memcpy(len, a->len, sizeof *len * COMMIT_HEAD);
    off[COMMIT_HEAD] = a->off[n];
    len[COMMIT_HEAD] = a->len[n];
    off[COMMIT_HEAD + 1] = a->off[n + 1];
    len[COMMIT_HEAD + 1] = a->len[n + 1];
    for (int pass = 0; pass < 3; pass++) {
        for (int i = COMMIT_HEAD; i < n;) {
            char op = a->text[a->off[i]];
            int k = op == 'L' ? (int)strtol(a->text + a->off[i + 1], NULL, 10) : 0;
            if (op == 'S' && pass == 0) {
                TAKE(i + 1);
                TAKE(i + 2);
            } else if (op == 'D' && pass == 1) {
                TAKE(i + 1);
            } else if (op == 'L' && pass == 2) {
                for (int j = i + 1; j <= i + 1 + 2 * k; j++)
                    TAKE(j);
            }
            i += op == 'S' ? 3 : op == 'D' ? 2 : 2 + 2 * k;
        }
    }
#undef TAKE
    free(a->off);
    free(a->len);
    a->off = off;
    a->len = len;
    a->n = at;
    a->cap = n + 2;
}

void store_commit_send(store *s, store_commit *c, store_commit_fn *fn, void *arg)
{
    if (c->entry_count >= 0 && !c->a.failed)
        c->a.failed = "a ledger entry was not ended";
    commit_layout(&c->a);
    for (int i = 0; i < c->out.n; i++)
        store_args_push(&c->a, c->out.text + c->out.off[i], c->out.len[i]);
    store_args_int(&c->a, c->out.n);
    if (c->out.failed && !c->a.failed)
        c->a.failed = c->out.failed;
    store_args_free(&c->out);
    store_send_args(s, &store_script_commit, "commit", parse_commit, (store_cb)fn, arg, 4, &c->a);
    store_args_free(&c->a);
    free(c);
}

void store_commit_free(store_commit *c)
{
    if (c) {
        store_args_free(&c->out);
        store_args_free(&c->a);
        free(c);
    }
}

void store_event_exists(store *s, const char *ns, const char *member, const char *event_id,
                        store_int_fn *fn, void *arg)
{
    char key[PC_KEY_MAX];
    const char *argv[2] = {"EXISTS", key};
    if (keys_event(key, sizeof key, ns, member, event_id) < 0) {
        store_fail_now("event_exists", "key too long", store_parse_int, (store_cb)fn, arg);
        return;
    }
    store_send(s, NULL, "event_exists", store_parse_int, (store_cb)fn, arg, 0, 2, argv, NULL);
}

void store_member_field(store *s, const char *ns, const char *member, const char *field,
                        store_text_fn *fn, void *arg)
{
    char key[PC_KEY_MAX];
    const char *argv[3] = {"HGET", key, field};
    if (pc_member_key(key, sizeof key, ns, member, "state") < 0) {
        store_fail_now("member_field", "key too long", store_parse_text, (store_cb)fn, arg);
        return;
    }
    store_send(s, NULL, "member_field", store_parse_text, (store_cb)fn, arg, 0, 3, argv, NULL);
}

const store_parser store_parsers_member[] = {
    {"load", parse_load}, {"commit", parse_commit}, {NULL, NULL}};
