/*
 * One member's transaction (ops-internal.h): the load (dedupe + state in one
 * round trip), a server-side script on the keys of one member (one Redis
 * Cluster slot), and the two small reads the sweeper makes of a member. The
 * commit is ops_commit.c.
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
    {"load", parse_load}, {"commit", store_parse_commit}, {NULL, NULL}};
