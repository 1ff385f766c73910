/*
 * The store's commit (core/store/ops_member.c + scripts/commit.lua) on a real
 * redis-server, through the store's own API: whatever shape of ledger entry
 * the engine hands over (every combination of the schema's optional fields,
 * fields outside the schema, several entries), the stream holds exactly those
 * names and values in that order; the member's hash, its version, the dedupe
 * record and the outbox are written; a replayed event or a moved version
 * writes nothing.
 */
#include "harness.h"
#include "store/ops-internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tmpredis redis;
static struct event_base *base;
static store *st;
static redisContext *rc;

/* What one commit answered. */
typedef struct answer {
    int done;
    int failed;
    enum store_commit_outcome outcome;
    int64_t version;
    char stored[256];
    size_t state_n;
} answer;

static void on_commit(void *arg, const store_error *err, const store_committed *res)
{
    answer *a = arg;
    a->done = 1;
    if (err) {
        a->failed = 1;
        return;
    }
    a->outcome = res->outcome;
    a->version = res->version;
    if (res->stored)
        snprintf(a->stored, sizeof a->stored, "%.*s", (int)res->stored_len, res->stored);
    a->state_n = res->state.n;
}

static void send_and_wait(store_commit *c, answer *a)
{
    memset(a, 0, sizeof *a);
    store_commit_send(st, c, on_commit, a);
    for (int i = 0; i < 5000 && !a->done; i++)
        event_base_loop(base, EVLOOP_ONCE);
    assert_true(a->done);
    assert_false(a->failed);
}

static int setup(void **state)
{
    store_config cfg = {0};
    (void)state;
    if (tmpredis_start(&redis, 0))
        return -1;
    base = event_base_new();
    cfg.addr = redis.socket;
    st = store_new(base, &cfg);
    for (int i = 0; i < 5000 && st && !store_ready(st); i++)
        event_base_loop(base, EVLOOP_ONCE);
    rc = redisConnectUnix(redis.socket);
    return st && store_ready(st) && rc && !rc->err ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    if (rc)
        redisFree(rc);
    store_free(st);
    event_base_free(base);
    tmpredis_destroy(&redis);
    return 0;
}

/* The stream's entries as "name=value,name=value;..." (oldest first). */
static void read_ledger(const char *member, char *out, size_t n)
{
    redisReply *r = redisCommand(rc, "XRANGE t:{%s}:ledger - +", member);
    size_t used = 0;
    out[0] = '\0';
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *f = r->element[i]->element[1];
        for (size_t j = 0; j + 1 < f->elements; j += 2)
            used += (size_t)snprintf(out + used, n - used, "%s%s=%s", j ? "," : "",
                                     f->element[j]->str, f->element[j + 1]->str);
        used += (size_t)snprintf(out + used, n - used, ";");
    }
    freeReplyObject(r);
}

static void expect_reply(const char *want, const char *fmt, const char *member)
{
    redisReply *r = redisCommand(rc, fmt, member);
    assert_non_null(r);
    if (!want)
        assert_int_equal(r->type, REDIS_REPLY_NIL);
    else if (r->type != REDIS_REPLY_STRING || strcmp(r->str, want))
        fail_msg("%s: want %s, got type %d %s", fmt, want, r->type,
                 r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
}

/* The schema's optional fields and the bit each has in a shape (0..15). */
static const struct {
    const char *name;
    int bit;
} fields[] = {{"kind", 0},    {"pending", 1},  {"partner", 2},     {"reason", 4},   {"event", 0},
              {"type", 0},    {"mechanic", 0}, {"experiments", 8}, {"currency", 0}, {"delta", 0},
              {"balance", 0}, {"at", 0},       {"mv", 0}};

/* Every combination of the optional fields reads back as written, in order. */
static void every_schema_shape_reads_back(void **state)
{
    (void)state;
    for (int shape = 0; shape < 16; shape++) {
        char member[16], want[1024] = "", got[1024];
        size_t used = 0;
        answer a;
        store_commit *c;
        snprintf(member, sizeof member, "s%d", shape);
        c = store_commit_new("t", member, "e1", 0, "{\"ok\":1}", 60);
        assert_non_null(c);
        store_commit_field(c, "b:stars", "7");
        store_commit_entry_begin(c);
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
            char value[64];
            if (fields[i].bit && !(shape & fields[i].bit))
                continue;
            /* Values that look like the codes the store might use. */
            snprintf(value, sizeof value, "%s", i % 3 == 0 ? "g" : i % 3 == 1 ? "A" : "");
            if (!strcmp(fields[i].name, "delta")) {
                store_commit_entry_int(c, "delta", -shape);
                snprintf(value, sizeof value, "%d", -shape);
            } else {
                snprintf(value + strlen(value), sizeof value - strlen(value), "%s-%d",
                         fields[i].name, shape);
                store_commit_entry_str(c, fields[i].name, value);
            }
            used += (size_t)snprintf(want + used, sizeof want - used, "%s%s=%s", used ? "," : "",
                                     fields[i].name, value);
        }
        store_commit_entry_end(c);
        snprintf(want + used, sizeof want - used, ";");
        send_and_wait(c, &a);
        assert_int_equal(a.outcome, STORE_COMMITTED);
        assert_int_equal(a.version, 1);
        read_ledger(member, got, sizeof got);
        if (strcmp(got, want))
            fail_msg("shape %d:\nwant %s\ngot  %s", shape, want, got);
        expect_reply("1", "HGET t:{%s}:state v", member);
        expect_reply("7", "HGET t:{%s}:state b:stars", member);
        expect_reply("{\"ok\":1}", "GET t:{%s}:ev:e1", member);
    }
}

/* Entries outside the schema go as they are; deletes, several entries and the outbox too. */
static void other_entries_go_as_given(void **state)
{
    answer a;
    char got[1024];
    store_commit *c;
    redisReply *r;
    (void)state;
    redisReply *pre = redisCommand(rc, "HSET t:{odd}:state v 4 gone x kept y");
    freeReplyObject(pre);
    c = store_commit_new("t", "odd", "e9", 4, "resp", 60);
    store_commit_field(c, "gone", NULL);
    store_commit_field(c, "new", "n");
    /* Out of the schema's order. */
    store_commit_entry_begin(c);
    store_commit_entry_str(c, "event", "e9");
    store_commit_entry_str(c, "kind", "earn");
    store_commit_entry_end(c);
    /* Names the schema does not know. */
    store_commit_entry_begin(c);
    store_commit_entry_str(c, "currency", "points");
    store_commit_entry_int(c, "delta", 5);
    store_commit_entry_str(c, "note", "");
    store_commit_entry_end(c);
    /* The schema missing a field it needs (mv). */
    store_commit_entry_begin(c);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0] - 1; i++)
        if (!fields[i].bit)
            store_commit_entry_str(c, fields[i].name, "x");
    store_commit_entry_end(c);
    /* An empty entry is not written by XADD: the engine never makes one. */
    store_commit_outbox(c, "w1 {}");
    store_commit_outbox(c, "w2 {}");
    send_and_wait(c, &a);
    assert_int_equal(a.outcome, STORE_COMMITTED);
    assert_int_equal(a.version, 5);
    read_ledger("odd", got, sizeof got);
    assert_string_equal(got, "event=e9,kind=earn;currency=points,delta=5,note=;"
                             "kind=x,event=x,type=x,mechanic=x,currency=x,delta=x,balance=x,at=x;");
    expect_reply(NULL, "HGET t:{%s}:state gone", "odd");
    expect_reply("y", "HGET t:{%s}:state kept", "odd");
    expect_reply("n", "HGET t:{%s}:state new", "odd");
    expect_reply("5", "HGET t:{%s}:state v", "odd");
    r = redisCommand(rc, "LRANGE t:{odd}:outbox 0 -1");
    assert_int_equal(r->elements, 2);
    assert_string_equal(r->element[0]->str, "w1 {}");
    assert_string_equal(r->element[1]->str, "w2 {}");
    freeReplyObject(r);
}

/* Values of every length MessagePack frames differently (below 32, 256, 65536 and above) whole. */
static void long_values_go_whole(void **state)
{
    static const size_t lens[] = {0, 31, 32, 255, 256, 65535, 65536, 70001};
    char *v[8], want[64], *got;
    answer a;
    store_commit *c = store_commit_new("t", "long", "e1", 0, "r", 60);
    redisReply *r;
    (void)state;
    for (int i = 0; i < 8; i++) {
        v[i] = malloc(lens[i] + 1);
        assert_non_null(v[i]);
        memset(v[i], 'a' + i, lens[i]);
        v[i][lens[i]] = '\0';
        snprintf(want, sizeof want, "f%d", i);
        store_commit_field(c, want, v[i]);
        store_commit_outbox(c, v[i]);
    }
    store_commit_entry_begin(c);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (!fields[i].bit)
            store_commit_entry_str(c, fields[i].name, v[i % 8]);
    store_commit_entry_end(c);
    send_and_wait(c, &a);
    assert_int_equal(a.outcome, STORE_COMMITTED);
    for (int i = 0; i < 8; i++) {
        r = redisCommand(rc, "HGET t:{long}:state f%d", i);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        assert_int_equal(r->len, lens[i]);
        assert_memory_equal(r->str, v[i], lens[i]);
        freeReplyObject(r);
        r = redisCommand(rc, "LINDEX t:{long}:outbox %d", i);
        assert_int_equal(r->len, lens[i]);
        assert_memory_equal(r->str, v[i], lens[i]);
        freeReplyObject(r);
    }
    r = redisCommand(rc, "XRANGE t:{long}:ledger - +");
    assert_int_equal(r->elements, 1);
    got = NULL;
    for (size_t j = 0, k = 0; j < sizeof fields / sizeof fields[0]; j++) {
        redisReply *f = r->element[0]->element[1];
        if (fields[j].bit)
            continue;
        got = f->element[2 * k + 1]->str;
        assert_string_equal(f->element[2 * k]->str, fields[j].name);
        assert_int_equal(f->element[2 * k + 1]->len, lens[j % 8]);
        assert_memory_equal(got, v[j % 8], lens[j % 8]);
        k++;
    }
    freeReplyObject(r);
    for (int i = 0; i < 8; i++)
        free(v[i]);
}

/* Counts past a one-byte MessagePack number: 200 fields, 150 webhooks, an entry of 130 fields. */
static void many_values_counted(void **state)
{
    char name[32], value[32], got[64];
    answer a;
    store_commit *c = store_commit_new("t", "many", "e1", 0, "r", 60);
    redisReply *r;
    (void)state;
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "f%d", i);
        snprintf(value, sizeof value, "v%d", i);
        store_commit_field(c, name, value);
    }
    for (int i = 0; i < 150; i++) {
        snprintf(value, sizeof value, "w%d", i);
        store_commit_outbox(c, value);
    }
    store_commit_entry_begin(c);
    for (int i = 0; i < 130; i++) {
        snprintf(name, sizeof name, "k%d", i);
        store_commit_entry_int(c, name, i);
    }
    store_commit_entry_end(c);
    send_and_wait(c, &a);
    assert_int_equal(a.outcome, STORE_COMMITTED);
    r = redisCommand(rc, "HLEN t:{many}:state");
    assert_int_equal(r->integer, 201);
    freeReplyObject(r);
    expect_reply("v199", "HGET t:{%s}:state f199", "many");
    r = redisCommand(rc, "LRANGE t:{many}:outbox 0 -1");
    assert_int_equal(r->elements, 150);
    assert_string_equal(r->element[149]->str, "w149");
    freeReplyObject(r);
    r = redisCommand(rc, "XRANGE t:{many}:ledger - +");
    assert_int_equal(r->elements, 1);
    assert_int_equal(r->element[0]->element[1]->elements, 260);
    snprintf(got, sizeof got, "%s=%s", r->element[0]->element[1]->element[258]->str,
             r->element[0]->element[1]->element[259]->str);
    assert_string_equal(got, "k129=129");
    freeReplyObject(r);
}

static store_commit *one_entry(const char *member, const char *event, int64_t version)
{
    store_commit *c = store_commit_new("t", member, event, version, event, 60);
    store_commit_field(c, "b:stars", event);
    store_commit_entry_begin(c);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (!fields[i].bit)
            store_commit_entry_str(c, fields[i].name, event);
    store_commit_entry_end(c);
    return c;
}

/* A replayed event answers its stored response; a moved version the state; neither writes. */
static void replay_and_moved_version_write_nothing(void **state)
{
    answer a;
    char got[1024];
    (void)state;
    send_and_wait(one_entry("rep", "r1", 0), &a);
    assert_int_equal(a.outcome, STORE_COMMITTED);
    /* The same event again, at the version it saw then or at the current one. */
    send_and_wait(one_entry("rep", "r1", 0), &a);
    assert_int_equal(a.outcome, STORE_APPLIED_BEFORE);
    assert_string_equal(a.stored, "r1");
    send_and_wait(one_entry("rep", "r1", 1), &a);
    assert_int_equal(a.outcome, STORE_APPLIED_BEFORE);
    assert_string_equal(a.stored, "r1");
    /* A new event decided on an old version. */
    send_and_wait(one_entry("rep", "r2", 0), &a);
    assert_int_equal(a.outcome, STORE_VERSION_MOVED);
    assert_int_equal(a.state_n, 4); /* b:stars and v */
    expect_reply(NULL, "GET t:{%s}:ev:r2", "rep");
    expect_reply("1", "HGET t:{%s}:state v", "rep");
    expect_reply("r1", "HGET t:{%s}:state b:stars", "rep");
    read_ledger("rep", got, sizeof got);
    assert_string_equal(got, "kind=r1,event=r1,type=r1,mechanic=r1,currency=r1,delta=r1,"
                             "balance=r1,at=r1,mv=r1;");
    /* Decided again on the current version, it lands. */
    send_and_wait(one_entry("rep", "r2", 1), &a);
    assert_int_equal(a.outcome, STORE_COMMITTED);
    assert_int_equal(a.version, 2);
    expect_reply("r2", "GET t:{%s}:ev:r2", "rep");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_schema_shape_reads_back),
        cmocka_unit_test(other_entries_go_as_given),
        cmocka_unit_test(long_values_go_whole),
        cmocka_unit_test(many_values_counted),
        cmocka_unit_test(replay_and_moved_version_write_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
