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
 * A run of strings in MessagePack (each one a str), which commit.lua turns
 * into Lua strings with one cmsgpack.unpack: a value packed costs Redis a Lua
 * string, where an argument of its own costs it an object, a Lua string and a
 * slot in ARGV (about three times as many instructions).
 */
typedef struct packed {
    char *p;
    size_t len, cap;
    const char *failed;
} packed;

static void pack(packed *b, const char *s, size_t n)
{
    unsigned char h[5];
    size_t hl;
    if (b->failed)
        return;
    if (n < 32) {
        h[0] = (unsigned char)(0xa0 | n), hl = 1;
    } else if (n < 256) {
        h[0] = 0xd9, h[1] = (unsigned char)n, hl = 2;
    } else if (n < 65536) {
        h[0] = 0xda, h[1] = (unsigned char)(n >> 8), h[2] = (unsigned char)n, hl = 3;
    } else if (n <= 0xffffffffu) {
        h[0] = 0xdb, hl = 5;
        for (int i = 0; i < 4; i++)
            h[1 + i] = (unsigned char)(n >> (24 - 8 * i));
    } else {
        b->failed = "a value too long";
        return;
    }
    if (b->len + hl + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *np;
        while (cap < b->len + hl + n)
            cap *= 2;
        if (!(np = realloc(b->p, cap))) {
            b->failed = "out of memory";
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, h, hl);
    memcpy(b->p + b->len + hl, s, n);
    b->len += hl + n;
}

/*
 * The commit's arguments, built in the order the engine gives them and sent
 * as commit.lua reads them: KEYS state, ledger, event, outbox; ARGV expected
 * version, new version, response, TTL, then packed: the field value pairs to
 * set, the fields to delete, the webhook entries, and one argument per
 * ledger entry (a schema's entry as its letter and values: entry_letter()).
 */
struct store_commit {
    store_args a;     /* keys and head, then everything at store_commit_send() */
    packed set;       /* field value pairs */
    packed del;       /* fields to delete */
    packed out;       /* webhook entries (store_commit_outbox()) */
    store_args led;   /* the ledger entries, one packed argument each */
    store_args entry; /* the open entry: name value pairs */
    packed scratch;   /* the entry being packed */
    int open;         /* an entry was begun and not ended */
};

store_commit *store_commit_new(const char *ns, const char *member, const char *event_id,
                               int64_t version, const char *response, int ttl_s)
{
    store_commit *c = calloc(1, sizeof *c);
    char key[PC_KEY_MAX];
    if (!c)
        return NULL;
    store_args_key(&c->a, key, pc_member_key(key, sizeof key, ns, member, "state"));
    store_args_key(&c->a, key, pc_member_key(key, sizeof key, ns, member, "ledger"));
    store_args_key(&c->a, key, keys_event(key, sizeof key, ns, member, event_id));
    store_args_key(&c->a, key, pc_member_key(key, sizeof key, ns, member, "outbox"));
    store_args_int(&c->a, version);
    store_args_int(&c->a, version + 1);
    store_args_str(&c->a, response);
    store_args_int(&c->a, ttl_s);
    return c;
}

void store_commit_field(store_commit *c, const char *field, const char *value)
{
    if (value) {
        pack(&c->set, field, strlen(field));
        pack(&c->set, value, strlen(value));
    } else {
        pack(&c->del, field, strlen(field));
    }
}

void store_commit_outbox(store_commit *c, const char *entry)
{
    pack(&c->out, entry, strlen(entry));
}

void store_commit_entry_begin(store_commit *c)
{
    if (c->open && !c->entry.failed)
        c->entry.failed = "a ledger entry was not ended";
    c->entry.n = 0;
    c->entry.used = 0;
    c->open = 1;
}

void store_commit_entry_str(store_commit *c, const char *name, const char *value)
{
    store_args_str(&c->entry, name);
    store_args_str(&c->entry, value);
}

void store_commit_entry_int(store_commit *c, const char *name, int64_t value)
{
    store_args_str(&c->entry, name);
    store_args_int(&c->entry, value);
}

/*
 * The ledger stream's schema (query.c reads it back): its fields in order,
 * the optional ones with the bit commit.lua knows them by. An entry of these
 * fields in this order goes as 'A' + its bits and its values; commit.lua
 * writes the names back (the stream holds the same as if they were sent).
 */
static const struct {
    const char *name;
    int bit;
} ledger_schema[] = {
    {"kind", 0},    {"pending", 1},  {"partner", 2},     {"reason", 4},   {"event", 0},
    {"type", 0},    {"mechanic", 0}, {"experiments", 8}, {"currency", 0}, {"delta", 0},
    {"balance", 0}, {"at", 0},       {"mv", 0},
};
#define LEDGER_SCHEMA (int)(sizeof ledger_schema / sizeof ledger_schema[0])

/* The letter of the entry e (name value pairs) in the schema, or 0 when it is not. */
static char entry_letter(const store_args *e)
{
    int at = 0, bits = 0;
    for (int i = 0; i + 1 < e->n; i += 2) {
        const char *name = e->text + e->off[i];
        while (at < LEDGER_SCHEMA && ledger_schema[at].bit && strcmp(ledger_schema[at].name, name))
            at++;
        if (at == LEDGER_SCHEMA || strcmp(ledger_schema[at].name, name))
            return 0;
        bits |= ledger_schema[at++].bit;
    }
    while (at < LEDGER_SCHEMA && ledger_schema[at].bit)
        at++;
    return at == LEDGER_SCHEMA ? (char)('A' + bits) : 0;
}

void store_commit_entry_end(store_commit *c)
{
    store_args *e = &c->entry;
    packed *k = &c->scratch;
    char letter = e->failed ? 0 : entry_letter(e);
    k->len = 0;
    if (letter) {
        pack(k, &letter, 1);
        for (int i = 1; i < e->n; i += 2)
            pack(k, e->text + e->off[i], e->len[i]);
    } else {
        pack(k, "g", 1);
        for (int i = 0; i < e->n; i++)
            pack(k, e->text + e->off[i], e->len[i]);
    }
    store_args_push(&c->led, k->p ? k->p : "", k->len);
    if ((e->failed || k->failed) && !c->led.failed)
        c->led.failed = e->failed ? e->failed : k->failed;
    c->open = 0;
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
    case 0: /* the new version as commit.lua was given it: text (no number to format) */
        if (v->type == REDIS_REPLY_INTEGER) {
            res.version = v->integer;
        } else {
            char *end = NULL;
            if (v->type != REDIS_REPLY_STRING)
                goto bad;
            res.version = pc_strtoll(v->str, &end);
            if (end == v->str || *end)
                goto bad;
        }
        res.outcome = STORE_COMMITTED;
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

/* Appends from to a as one argument; from's failure becomes a's. */
static void args_packed(store_args *a, const packed *from)
{
    store_args_push(a, from->p ? from->p : "", from->len);
    if (from->failed && !a->failed)
        a->failed = from->failed;
}

static void commit_args_free(store_commit *c)
{
    store_args_free(&c->a);
    free(c->set.p);
    free(c->del.p);
    free(c->out.p);
    store_args_free(&c->led);
    store_args_free(&c->entry);
    free(c->scratch.p);
    free(c);
}

void store_commit_send(store *s, store_commit *c, store_commit_fn *fn, void *arg)
{
    if (c->open && !c->a.failed)
        c->a.failed = "a ledger entry was not ended";
    args_packed(&c->a, &c->set);
    args_packed(&c->a, &c->del);
    args_packed(&c->a, &c->out);
    for (int i = 0; i < c->led.n; i++)
        store_args_push(&c->a, c->led.text + c->led.off[i], c->led.len[i]);
    if (c->led.failed && !c->a.failed)
        c->a.failed = c->led.failed;
    store_send_args(s, &store_script_commit, "commit", parse_commit, (store_cb)fn, arg, 4, &c->a);
    commit_args_free(c);
}

void store_commit_free(store_commit *c)
{
    if (c)
        commit_args_free(c);
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
