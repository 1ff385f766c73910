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
 * MessagePack (strings and counts), which commit.lua turns into one Lua table
 * with one cmsgpack.unpack: a value packed costs Redis a Lua string, where an
 * argument of its own costs it an object, a Lua string and a slot in ARGV
 * (about three times as many instructions).
 */
typedef struct packed {
    char *p;
    size_t len, cap;
    const char *failed;
} packed;

static void pack_raw(packed *b, const void *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *np;
        while (cap < b->len + n)
            cap *= 2;
        if (!(np = realloc(b->p, cap))) {
            b->failed = "out of memory";
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
}

/* A str of n bytes (fixstr, str 8, 16 or 32: the shortest that fits). */
static void pack(packed *b, const char *s, size_t n)
{
    unsigned char h[5];
    size_t hl = 1;
    if (n < 32) {
        h[0] = (unsigned char)(0xa0 | n);
    } else if (n < 256) {
        h[0] = 0xd9, h[1] = (unsigned char)n, hl = 2;
    } else if (n < 65536) {
        h[0] = 0xda, h[1] = (unsigned char)(n >> 8), h[2] = (unsigned char)n, hl = 3;
    } else if (n <= 0xffffffffu) {
        h[0] = 0xdb, hl = 5;
        for (int i = 0; i < 4; i++)
            h[1 + i] = (unsigned char)(n >> (24 - 8 * i));
    } else {
        if (!b->failed)
            b->failed = "a value too long";
        return;
    }
    pack_raw(b, h, hl);
    pack_raw(b, s, n);
}

/* A count (positive fixint or uint 32), which Lua gets as a number. */
static void pack_count(packed *b, size_t n)
{
    unsigned char h[5] = {0xce, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
                          (unsigned char)(n >> 8), (unsigned char)n};
    if (n > 0xffffffffu && !b->failed)
        b->failed = "too many values";
    else if (n < 128)
        pack_raw(b, h + 4, 1);
    else
        pack_raw(b, h, 5);
}

static void pack_int(packed *b, int64_t v)
{
    char tmp[24];
    pack(b, tmp, pc_format_int(tmp, v));
}

/*
 * The commit's arguments, built in the order the engine gives them and sent
 * as commit.lua reads them: KEYS state, ledger, event, outbox; ARGV the
 * response, then everything else packed in one argument: expected version,
 * new version, TTL, the counts S D O, the S field value pairs, the D fields,
 * the O webhook entries, then the ledger entries to the end (an entry of the
 * stream's schema as its letter and values: entry_letter()).
 */
struct store_commit {
    store_args a;    /* keys and the response, then the rest at store_commit_send() */
    int64_t version; /* expected */
    int ttl_s;       /* of the dedupe record */
    packed set;      /* field value pairs */
    packed del;      /* fields to delete */
    packed out;      /* webhook entries (store_commit_outbox()) */
    packed led;      /* the ledger entries */
    size_t nset, ndel, nout;
    store_args entry; /* the open entry: name value pairs */
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
    store_args_str(&c->a, response);
    c->version = version;
    c->ttl_s = ttl_s;
    return c;
}

void store_commit_field(store_commit *c, const char *field, const char *value)
{
    if (value) {
        pack(&c->set, field, strlen(field));
        pack(&c->set, value, strlen(value));
        c->nset++;
    } else {
        pack(&c->del, field, strlen(field));
        c->ndel++;
    }
}

void store_commit_outbox(store_commit *c, const char *entry)
{
    pack(&c->out, entry, strlen(entry));
    c->nout++;
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
    char letter = e->failed ? 0 : entry_letter(e);
    if (letter) {
        pack(&c->led, &letter, 1);
        for (int i = 1; i < e->n; i += 2)
            pack(&c->led, e->text + e->off[i], e->len[i]);
    } else {
        pack(&c->led, "g", 1);
        pack_count(&c->led, (size_t)e->n / 2);
        for (int i = 0; i < e->n; i++)
            pack(&c->led, e->text + e->off[i], e->len[i]);
    }
    if (e->failed && !c->led.failed)
        c->led.failed = e->failed;
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

static void commit_args_free(store_commit *c)
{
    store_args_free(&c->a);
    free(c->set.p);
    free(c->del.p);
    free(c->out.p);
    free(c->led.p);
    store_args_free(&c->entry);
    free(c);
}

void store_commit_send(store *s, store_commit *c, store_commit_fn *fn, void *arg)
{
    packed all = {0};
    const packed *parts[] = {&c->set, &c->del, &c->out, &c->led};
    if (c->open && !c->a.failed)
        c->a.failed = "a ledger entry was not ended";
    pack_int(&all, c->version);
    pack_int(&all, c->version + 1);
    pack_int(&all, c->ttl_s);
    pack_count(&all, c->nset);
    pack_count(&all, c->ndel);
    pack_count(&all, c->nout);
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        pack_raw(&all, parts[i]->p, parts[i]->len);
        if (parts[i]->failed && !all.failed)
            all.failed = parts[i]->failed;
    }
    store_args_push(&c->a, all.p ? all.p : "", all.len);
    if (all.failed && !c->a.failed)
        c->a.failed = all.failed;
    free(all.p);
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
