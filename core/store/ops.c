/*
 * What every typed operation shares (ops-internal.h, store-internal.h): the
 * mapping of a store error to the caller's answer, the parsers of the common
 * reply shapes, hashes as store_pairs, and the argument builder.
 */
#include "store-internal.h"

#include <stdlib.h>
#include <string.h>

int store_error_fail(const store_error *se, pc_error *err)
{
    switch (se->status) {
    case STORE_UNAVAILABLE:
        return pc_fail(err, 503, "unavailable", "%s", se->message);
    case STORE_FULL:
        return pc_fail(err, 507, "storage_full",
                       "redis is out of memory and refused the %s; nothing was applied", se->op);
    default:
        /* The detail (a key of the wrong type, a script's refusal) is in the log. */
        return pc_fail(err, 500, "internal", "redis refused the %s (see the log)", se->op);
    }
}

void store_parse_done(redisReply *r, const store_error *err, const char *op, store_cb cb, void *arg)
{
    ((store_done_fn *)cb)(arg, err);
}

void store_parse_int(redisReply *r, const store_error *err, const char *op, store_cb cb, void *arg)
{
    store_int_fn *fn = (store_int_fn *)cb;
    store_error bad;
    if (!err && r->type != REDIS_REPLY_INTEGER)
        err = store_bad_reply(op, &bad);
    fn(arg, err, err ? 0 : r->integer);
}

void store_parse_text(redisReply *r, const store_error *err, const char *op, store_cb cb, void *arg)
{
    store_text_fn *fn = (store_text_fn *)cb;
    store_error bad;
    if (!err && r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)
        err = store_bad_reply(op, &bad);
    if (err || r->type == REDIS_REPLY_NIL)
        fn(arg, err, NULL, 0);
    else
        fn(arg, NULL, r->str, r->len);
}

void store_parse_list(redisReply *r, const store_error *err, const char *op, store_cb cb, void *arg)
{
    store_list_fn *fn = (store_list_fn *)cb;
    store_error bad;
    store_pairs_buf b;
    /* A list of strings has the shape of a hash's reply. */
    if (!err && store_pairs_from(&b, r))
        err = store_bad_reply(op, &bad);
    if (err) {
        fn(arg, err, 0, NULL);
        return;
    }
    fn(arg, NULL, b.pairs.n, b.pairs.v);
    store_pairs_release(&b);
}

int store_pairs_from(store_pairs_buf *b, const redisReply *r)
{
    size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
    const char **v = b->sv;
    size_t *l = b->sl;

    b->hv = NULL;
    b->hl = NULL;
    if (r->type != REDIS_REPLY_ARRAY)
        return -1;
    if (n > sizeof b->sv / sizeof *b->sv) {
        b->hv = malloc(n * sizeof *b->hv);
        b->hl = malloc(n * sizeof *b->hl);
        if (!b->hv || !b->hl)
            goto err;
        v = b->hv;
        l = b->hl;
    }
    for (size_t i = 0; i < n; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_STRING)
            goto err;
        v[i] = e->str;
        l[i] = e->len;
    }
    b->pairs.n = n;
    b->pairs.v = v;
    b->pairs.len = l;
    return 0;
err:
    store_pairs_release(b);
    return -1;
}

void store_pairs_release(store_pairs_buf *b)
{
    free(b->hv);
    free(b->hl);
    b->hv = NULL;
    b->hl = NULL;
}

void store_args_push(store_args *a, const char *s, size_t len)
{
    if (a->failed)
        return;
    if (a->n == a->cap) {
        int cap = a->cap ? a->cap * 2 : 64;
        size_t *no = realloc(a->off, (size_t)cap * sizeof *no);
        size_t *nl = no ? realloc(a->len, (size_t)cap * sizeof *nl) : NULL;
        if (no)
            a->off = no;
        if (!no || !nl) {
            a->failed = "out of memory";
            return;
        }
        a->len = nl;
        a->cap = cap;
    }
    if (a->used + len + 1 > a->size) {
        size_t size = a->size ? a->size : 1024;
        char *nt;
        while (size < a->used + len + 1)
            size *= 2;
        if (!(nt = realloc(a->text, size))) {
            a->failed = "out of memory";
            return;
        }
        a->text = nt;
        a->size = size;
    }
    memcpy(a->text + a->used, s, len);
    a->text[a->used + len] = '\0';
    a->off[a->n] = a->used;
    a->len[a->n++] = len;
    a->used += len + 1;
}

void store_args_str(store_args *a, const char *s)
{
    store_args_push(a, s, strlen(s));
}

void store_args_int(store_args *a, int64_t v)
{
    char tmp[24];
    store_args_push(a, tmp, pc_format_int(tmp, v));
}

void store_args_key(store_args *a, const char *key, int n)
{
    if (n < 0 && !a->failed)
        a->failed = "key too long";
    else
        store_args_push(a, key, (size_t)n);
}

void store_args_set_int(store_args *a, int i, int64_t v)
{
    /* The new text goes at the end; argument i points there instead. */
    int n = a->n;
    if (a->failed || i < 0 || i >= n)
        return;
    store_args_int(a, v);
    if (a->failed)
        return;
    a->off[i] = a->off[n];
    a->len[i] = a->len[n];
    a->n = n;
}

int store_args_finish(store_args *a)
{
    if (a->failed)
        return -1;
    if (!(a->v = malloc(sizeof *a->v * (size_t)(a->n ? a->n : 1)))) {
        a->failed = "out of memory";
        return -1;
    }
    for (int i = 0; i < a->n; i++)
        a->v[i] = a->text + a->off[i];
    return 0;
}

void store_args_free(store_args *a)
{
    free(a->text);
    free(a->off);
    free(a->len);
    free(a->v);
    memset(a, 0, sizeof *a);
}

void store_fail_now(const char *op, const char *why, store_parse_fn *parse, store_cb cb, void *arg)
{
    store_error e = {STORE_FAILED, op, why};
    pc_log(PC_LOG_ERROR, "redis: %s not sent: %s", op, why);
    if (cb)
        parse(NULL, &e, op, cb, arg);
}

void store_send_args(store *s, const store_script *script, const char *op, store_parse_fn *parse,
                     store_cb cb, void *arg, int nkeys, store_args *a)
{
    if (store_args_finish(a)) {
        store_fail_now(op, a->failed, parse, cb, arg);
        return;
    }
    store_send(s, script, op, parse, cb, arg, nkeys, a->n, a->v, a->len);
}

const store_parser store_parsers_ops[] = {{"done", store_parse_done},
                                          {"int", store_parse_int},
                                          {"text", store_parse_text},
                                          {"list", store_parse_list},
                                          {NULL, NULL}};
