/*
 * libFuzzer target: what Redis answers, from bytes on the wire to the engine's
 * data. The bytes go through hiredis's redisReader (as the store's connection
 * reads them), and each reply is handed to one of the store's reply parsers
 * (the store_parsers_* tables of store-internal.h), whose typed answer is
 * read to the last byte; a member's state (load, commit, a hash) is then
 * loaded into a member_state and rendered, its lots ticked, as the engine
 * would do with a damaged or hostile keyspace.
 *
 * Input: byte 0 picks the parser; byte 1: bit 0 also answers the parser with
 * an error (a failed command: no reply), bits 1-7 the size of the chunks the
 * rest is fed in (0: all at once); the rest is RESP.
 * Checks: every parser calls its callback exactly once per reply; an answer
 * with an error carries no data.
 */
#include "model/lots-internal.h"
#include "model/member-internal.h"
#include "store/reads-internal.h"
#include "store/store-internal.h"

#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_resp: %s failed (line %d)\n", #cond, __LINE__);                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static volatile size_t sink;
static int calls;

/* Reads every byte of s (len bytes, or up to its NUL when len is (size_t)-1). */
static void touch(const char *s, size_t len)
{
    if (!s)
        return;
    if (len == (size_t)-1)
        len = strlen(s);
    for (size_t i = 0; i < len; i++)
        sink += (unsigned char)s[i];
}

static void touch_pairs(const store_pairs *p)
{
    for (size_t i = 0; i < p->n; i++)
        touch(p->v[i], p->len ? p->len[i] : (size_t)-1);
}

/* A member's state as the engine would take it: load, render, tick, spend. */
static void as_member(const store_pairs *p)
{
    member_state *m = member_new("fuzz");
    const char *why = NULL;
    int64_t balance;
    json_t *j;

    CHECK(m);
    touch_pairs(p);
    if (member_load_pairs(m, p->n, p->v, p->len) == 0) {
        j = member_to_json(m);
        json_decref(j);
        (void)lots_next_due(m);
        if (lots_tick(m, 1795000000000LL, &why) == 0)
            (void)lots_spend(m, "fuzz", NULL, "stars", 1, &balance, &why);
        j = member_to_json(m);
        json_decref(j);
    }
    member_free(m);
}

static void on_done(void *arg, const store_error *err)
{
    calls++;
}

static void on_int(void *arg, const store_error *err, int64_t v)
{
    calls++;
    CHECK(!err || v == 0);
}

static void on_text(void *arg, const store_error *err, const char *text, size_t len)
{
    calls++;
    CHECK(!err || !text);
    touch(text, len);
}

static void on_list(void *arg, const store_error *err, size_t n, const char *const *items)
{
    calls++;
    CHECK(!err || n == 0);
    for (size_t i = 0; i < n; i++)
        touch(items[i], (size_t)-1);
}

static void on_load(void *arg, const store_error *err, const store_loaded *res)
{
    calls++;
    CHECK(!err == !!res);
    if (!res)
        return;
    touch(res->stored, res->stored_len);
    touch(res->original, res->original_len);
    if (!res->stored)
        as_member(&res->state);
}

static void on_commit(void *arg, const store_error *err, const store_committed *res)
{
    calls++;
    CHECK(!err == !!res);
    if (!res)
        return;
    touch(res->stored, res->stored_len);
    if (res->outcome == STORE_VERSION_MOVED)
        as_member(&res->state);
}

static void on_draw(void *arg, const store_error *err, const store_draw_state *st)
{
    calls++;
    CHECK(!err == !!st);
    if (st)
        touch(st->prize, (size_t)-1);
}

static void on_referral(void *arg, const store_error *err, const store_referral *ref)
{
    calls++;
    CHECK(!err == !!ref);
    if (ref) {
        touch(ref->referrer, (size_t)-1);
        touch(ref->type, (size_t)-1);
        touch(ref->claim, (size_t)-1);
    }
}

static void on_due(void *arg, const store_error *err, size_t n, const store_due *due)
{
    calls++;
    CHECK(!err || n == 0);
    for (size_t i = 0; i < n; i++)
        touch(due[i].member, (size_t)-1);
}

static void on_pairs(void *arg, const store_error *err, const store_pairs *pairs)
{
    calls++;
    CHECK(pairs);
    CHECK(!err || pairs->n == 0);
    if (!err)
        as_member(pairs);
}

static void on_entries(void *arg, const store_error *err, size_t n, const store_entry *entries)
{
    calls++;
    CHECK(!err || n == 0);
    for (size_t i = 0; i < n; i++) {
        touch(entries[i].id, (size_t)-1);
        touch_pairs(&entries[i].fields);
    }
}

static void on_members(void *arg, const store_error *err, const char *next, size_t n,
                       const char *const *members)
{
    calls++;
    CHECK(!err || (n == 0 && !next));
    touch(next, (size_t)-1);
    for (size_t i = 0; i < n; i++) {
        CHECK(members[i][0]);
        touch(members[i], (size_t)-1);
    }
}

static void on_pool(void *arg, const store_error *err, const store_pool *pool)
{
    calls++;
    CHECK(pool);
}

static void on_scores(void *arg, const store_error *err, size_t n, const store_score *top)
{
    calls++;
    CHECK(!err || n == 0);
    for (size_t i = 0; i < n; i++)
        touch(top[i].member, (size_t)-1);
}

static void on_rank(void *arg, const store_error *err, int64_t rank, int64_t score)
{
    calls++;
    CHECK(!err || rank == -1);
}

/* The callback of each shape a parser may have. */
static const struct {
    const char *shape;
    store_cb cb;
} callbacks[] = {
    {"done", (store_cb)on_done},       {"int", (store_cb)on_int},
    {"text", (store_cb)on_text},       {"list", (store_cb)on_list},
    {"load", (store_cb)on_load},       {"commit", (store_cb)on_commit},
    {"draw_state", (store_cb)on_draw}, {"referral", (store_cb)on_referral},
    {"due", (store_cb)on_due},         {"pairs", (store_cb)on_pairs},
    {"entries", (store_cb)on_entries}, {"members", (store_cb)on_members},
    {"pool", (store_cb)on_pool},       {"scores", (store_cb)on_scores},
    {"rank", (store_cb)on_rank},
};

typedef struct parser {
    const char *shape;
    store_parse_fn *parse;
    store_cb cb;
} parser;

static parser parsers[64];
static size_t nparsers;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const store_parser *const tables[] = {store_parsers_ops, store_parsers_member,
                                          store_parsers_global, store_parsers_effect,
                                          store_parsers_reads};
    (void)argc;
    (void)argv;
    /* store_bad_reply() logs every malformed reply: quiet, at thousands a second. */
    pc_log_set_level((enum pc_log_level)(PC_LOG_ERROR + 1));
    for (size_t t = 0; t < sizeof tables / sizeof *tables; t++) {
        for (const store_parser *p = tables[t]; p->shape; p++) {
            size_t c = 0;
            while (c < sizeof callbacks / sizeof *callbacks && strcmp(callbacks[c].shape, p->shape))
                c++;
            if (c == sizeof callbacks / sizeof *callbacks) {
                /* A new shape: this file needs a callback for it. */
                fprintf(stderr, "fuzz_resp: no callback for the parser shape \"%s\"\n", p->shape);
                abort();
            }
            CHECK(nparsers < sizeof parsers / sizeof *parsers);
            parsers[nparsers++] = (parser){p->shape, p->parse, callbacks[c].cb};
        }
    }
    return 0;
}

/*
 * hiredis allocates a multi-bulk's element array when it reads the header,
 * before a single element came: "*400000000" asks for 3 GB. Redis is trusted
 * not to say that; inputs that would are skipped rather than reported.
 */
static int huge_header(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        size_t digits = 0;
        if (data[i] != '*' && data[i] != '$')
            continue;
        while (i + 1 + digits < size && data[i + 1 + digits] >= '0' && data[i + 1 + digits] <= '9')
            digits++;
        if (digits > 6)
            return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const parser *p;
    redisReader *reader;
    size_t chunk, off = 0;
    void *reply;

    if (size < 2 || huge_header(data, size))
        return 0;
    p = &parsers[data[0] % nparsers];
    if (data[1] & 1) {
        store_error e = {STORE_UNAVAILABLE, "fuzz", "redis connection lost"};
        calls = 0;
        p->parse(NULL, &e, "fuzz", p->cb, NULL);
        CHECK(calls == 1);
    }
    chunk = data[1] >> 1;
    data += 2;
    size -= 2;
    reader = redisReaderCreate();
    CHECK(reader);
    do {
        size_t n = chunk && size - off > chunk ? chunk : size - off;
        if (redisReaderFeed(reader, (const char *)data + off, n) != REDIS_OK)
            break;
        off += n;
        for (;;) {
            reply = NULL;
            if (redisReaderGetReply(reader, &reply) != REDIS_OK || !reply)
                break;
            /* The store answers error replies itself (store.c); parsers see the rest. */
            if (((redisReply *)reply)->type != REDIS_REPLY_ERROR) {
                calls = 0;
                p->parse(reply, NULL, "fuzz", p->cb, NULL);
                CHECK(calls == 1);
            }
            freeReplyObject(reply);
        }
    } while (off < size && !reader->err);
    redisReaderFree(reader);
    return 0;
}
