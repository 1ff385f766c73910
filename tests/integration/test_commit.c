/*
 * The store's commit (core/store/ops_commit.c + scripts/commit.lua) on a real
 * redis-server, through the store's own API: whatever shape of ledger entry
 * the engine hands over (every combination of the schema's optional fields,
 * fields outside the schema, several entries), the stream holds exactly those
 * names and values in that order; the member's hash, its version, the dedupe
 * record and the outbox are written; a replayed event or a moved version
 * writes nothing. The commits of one loop turn go as one EVALSHA (a group),
 * each answered as it would be alone; the figures of a turn are summed.
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
    enum store_status status; /* when failed */
    enum store_commit_outcome outcome;
    int64_t version;
    char stored[256];
    size_t state_n;
} answer;

static void on_commit(void *arg, const store_error *err, const store_committed *res)
{
    answer *a = arg;
    a->done++;
    if (err) {
        a->failed = 1;
        a->status = err->status;
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
    assert_int_equal(a->done, 1);
    assert_false(a->failed);
}

/* Hands every commit of cs to the store in one loop turn, then runs the loop until each answered.
 */
static void send_group_and_wait(store *on, store_commit **cs, answer *as, int n)
{
    int left = n;
    for (int i = 0; i < n; i++) {
        memset(&as[i], 0, sizeof as[i]);
        store_commit_send(on, cs[i], on_commit, &as[i]);
    }
    for (int t = 0; t < 5000 && left; t++) {
        event_base_loop(base, EVLOOP_ONCE);
        left = 0;
        for (int i = 0; i < n; i++)
            left += !as[i].done;
    }
    for (int i = 0; i < n; i++)
        assert_int_equal(as[i].done, 1);
}

/* INFO commandstats: the calls of cmd ("evalsha", "hincrby") since the last CONFIG RESETSTAT. */
static long long calls_of(const char *cmd)
{
    char want[64];
    const char *at;
    long long n;
    redisReply *r = redisCommand(rc, "INFO commandstats");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    snprintf(want, sizeof want, "cmdstat_%s:calls=", cmd);
    at = strstr(r->str, want);
    n = at ? atoll(at + strlen(want)) : 0;
    freeReplyObject(r);
    return n;
}

static void reset_stats(void)
{
    freeReplyObject(redisCommand(rc, "CONFIG RESETSTAT"));
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
    /* The same, then a field outside the schema: the long values taken back to go as given. */
    store_commit_entry_begin(c);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (!fields[i].bit)
            store_commit_entry_str(c, fields[i].name, v[i % 8]);
    store_commit_entry_str(c, "note", "n");
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
    assert_int_equal(r->elements, 2);
    got = NULL;
    for (size_t e = 0; e < 2; e++) {
        redisReply *f = r->element[e]->element[1];
        size_t k = 0;
        for (size_t j = 0; j < sizeof fields / sizeof fields[0]; j++) {
            if (fields[j].bit)
                continue;
            got = f->element[2 * k + 1]->str;
            assert_string_equal(f->element[2 * k]->str, fields[j].name);
            assert_int_equal(f->element[2 * k + 1]->len, lens[j % 8]);
            assert_memory_equal(got, v[j % 8], lens[j % 8]);
            k++;
        }
        assert_int_equal(f->elements, 2 * k + 2 * e);
        if (e)
            assert_string_equal(f->element[2 * k]->str, "note");
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

/*
 * One group holding a duplicate, a moved version, a commit whose key Redis
 * refuses (WRONGTYPE) and normal commits: one EVALSHA, each commit answered
 * as it would be alone, the others applied whatever one of them met.
 */
static void one_group_answers_each_commit_alone(void **state)
{
    store_commit *cs[5];
    answer as[5], a;
    char got[1024];
    (void)state;
    send_and_wait(one_entry("g1", "a1", 0), &a);
    send_and_wait(one_entry("g2", "b1", 0), &a);
    freeReplyObject(redisCommand(rc, "SET t:{g4}:state x"));
    reset_stats();
    cs[0] = one_entry("g1", "a1", 1); /* applied before */
    cs[1] = one_entry("g2", "b2", 0); /* decided on version 0; g2 is at 1 */
    cs[2] = one_entry("g3", "c1", 0); /* new */
    cs[3] = one_entry("g4", "d1", 0); /* its state key is a string */
    cs[4] = one_entry("g5", "e1", 0); /* new, after the refused one */
    send_group_and_wait(st, cs, as, 5);
    assert_int_equal(calls_of("evalsha"), 1);
    assert_false(as[0].failed);
    assert_int_equal(as[0].outcome, STORE_APPLIED_BEFORE);
    assert_string_equal(as[0].stored, "a1");
    assert_false(as[1].failed);
    assert_int_equal(as[1].outcome, STORE_VERSION_MOVED);
    assert_int_equal(as[1].state_n, 4); /* b:stars and v */
    assert_false(as[2].failed);
    assert_int_equal(as[2].outcome, STORE_COMMITTED);
    assert_int_equal(as[2].version, 1);
    assert_true(as[3].failed);
    assert_int_equal(as[3].status, STORE_FAILED);
    assert_false(as[4].failed);
    assert_int_equal(as[4].outcome, STORE_COMMITTED);
    /* What each left: the duplicate and the moved version nothing, the others their commit. */
    read_ledger("g1", got, sizeof got);
    assert_int_equal(strlen(got), strlen("kind=a1,event=a1,type=a1,mechanic=a1,currency=a1,"
                                         "delta=a1,balance=a1,at=a1,mv=a1;"));
    expect_reply(NULL, "GET t:{%s}:ev:b2", "g2");
    expect_reply("1", "HGET t:{%s}:state v", "g2");
    expect_reply("b1", "HGET t:{%s}:state b:stars", "g2");
    expect_reply("c1", "GET t:{%s}:ev:c1", "g3");
    expect_reply("1", "HGET t:{%s}:state v", "g3");
    expect_reply(NULL, "GET t:{%s}:ev:d1", "g4");
    expect_reply("e1", "GET t:{%s}:ev:e1", "g5");
    read_ledger("g5", got, sizeof got);
    assert_string_equal(got, "kind=e1,event=e1,type=e1,mechanic=e1,currency=e1,delta=e1,"
                             "balance=e1,at=e1,mv=e1;");
}

/* Two commits of one member in one group apply in the order they were handed over. */
static void one_member_twice_in_a_group_applies_in_order(void **state)
{
    store_commit *cs[3];
    answer as[3];
    char got[1024];
    (void)state;
    reset_stats();
    cs[0] = one_entry("twice", "t1", 0);
    cs[1] = one_entry("twice", "t2", 1);
    cs[2] = one_entry("twice", "t3", 1); /* decided on what t1 left: t2 moved it */
    send_group_and_wait(st, cs, as, 3);
    assert_int_equal(calls_of("evalsha"), 1);
    assert_int_equal(as[0].outcome, STORE_COMMITTED);
    assert_int_equal(as[0].version, 1);
    assert_int_equal(as[1].outcome, STORE_COMMITTED);
    assert_int_equal(as[1].version, 2);
    assert_int_equal(as[2].outcome, STORE_VERSION_MOVED);
    expect_reply("t2", "HGET t:{%s}:state b:stars", "twice");
    read_ledger("twice", got, sizeof got);
    assert_string_equal(got, "kind=t1,event=t1,type=t1,mechanic=t1,currency=t1,delta=t1,"
                             "balance=t1,at=t1,mv=t1;kind=t2,event=t2,type=t2,mechanic=t2,"
                             "currency=t2,delta=t2,balance=t2,at=t2,mv=t2;");
}

/* A turn's commits go as one EVALSHA up to the cap (32 commits), then as many as it takes. */
static void a_turns_commits_go_as_few_evalsha(void **state)
{
    enum { N = 300 };
    store_commit *cs[N];
    static answer as[N];
    char member[32], event[32];
    (void)state;
    reset_stats();
    for (int i = 0; i < N; i++) {
        snprintf(member, sizeof member, "many%d", i);
        snprintf(event, sizeof event, "m%d", i);
        cs[i] = one_entry(member, event, 0);
    }
    send_group_and_wait(st, cs, as, N);
    assert_int_equal(calls_of("evalsha"), (N + 31) / 32);
    for (int i = 0; i < N; i++) {
        assert_false(as[i].failed);
        assert_int_equal(as[i].outcome, STORE_COMMITTED);
    }
    expect_reply("m299", "GET t:{%s}:ev:m299", "many299");
    expect_reply("1", "HGET t:{%s}:state v", "many0");
}

/* Redis lost its scripts: the group is sent again once behind them, every commit applied. */
static void a_group_after_noscript_is_sent_again(void **state)
{
    store_commit *cs[3];
    answer as[3];
    (void)state;
    freeReplyObject(redisCommand(rc, "SCRIPT FLUSH"));
    cs[0] = one_entry("ns1", "n1", 0);
    cs[1] = one_entry("ns2", "n2", 0);
    cs[2] = one_entry("ns3", "n3", 0);
    send_group_and_wait(st, cs, as, 3);
    for (int i = 0; i < 3; i++) {
        assert_false(as[i].failed);
        assert_int_equal(as[i].outcome, STORE_COMMITTED);
    }
    expect_reply("n3", "GET t:{%s}:ev:n3", "ns3");
}

/* A group Redis does not answer in time: every commit of it answered unavailable, once. */
static void a_group_timed_out_answers_every_commit(void **state)
{
    store_config cfg = {0};
    store *slow;
    store_commit *cs[3];
    answer as[3];
    (void)state;
    cfg.addr = redis.socket;
    cfg.timeout_ms = 200;
    slow = store_new(base, &cfg);
    for (int i = 0; i < 5000 && !store_ready(slow); i++)
        event_base_loop(base, EVLOOP_ONCE);
    assert_true(store_ready(slow));
    /* Scripts may write: paused for far longer than the timeout. */
    freeReplyObject(redisCommand(rc, "CLIENT PAUSE 10000 WRITE"));
    cs[0] = one_entry("slow1", "s1", 0);
    cs[1] = one_entry("slow2", "s2", 0);
    cs[2] = one_entry("slow3", "s3", 0);
    send_group_and_wait(slow, cs, as, 3);
    freeReplyObject(redisCommand(rc, "CLIENT UNPAUSE"));
    for (int i = 0; i < 3; i++) {
        assert_true(as[i].failed);
        assert_int_equal(as[i].status, STORE_UNAVAILABLE);
    }
    store_free(slow);
}

/* Commits handed over while the store closes are answered unavailable, unsent. */
static void a_group_unsent_at_close_answers_every_commit(void **state)
{
    store_config cfg = {0};
    store *closing;
    answer as[2];
    (void)state;
    cfg.addr = redis.socket;
    closing = store_new(base, &cfg);
    for (int i = 0; i < 5000 && !store_ready(closing); i++)
        event_base_loop(base, EVLOOP_ONCE);
    memset(as, 0, sizeof as);
    store_commit_send(closing, one_entry("cl1", "c1", 0), on_commit, &as[0]);
    store_commit_send(closing, one_entry("cl2", "c2", 0), on_commit, &as[1]);
    store_free(closing);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(as[i].done, 1);
        assert_int_equal(as[i].status, STORE_UNAVAILABLE);
    }
    expect_reply(NULL, "GET t:{%s}:ev:c1", "cl1");
}

/* The figures of one turn: one HINCRBY per key and field, by the sum. */
static void a_turns_figures_are_summed(void **state)
{
    redisReply *r;
    store_stats before;
    (void)state;
    reset_stats();
    store_get_stats(st, &before);
    for (int i = 1; i <= 10; i++)
        store_stats_add(st, "t", "2026-12-02", NULL, "stars", "issued", i);
    store_stats_add(st, "t", "2026-12-02", "shell", "stars", "redeemed", -4);
    store_stats_add(st, "t", "2026-12-02", NULL, "stars", "expired", 0);
    /* The turn's end sends them (fire and forget): run the loop until their replies came. */
    for (int i = 0; i < 5000; i++) {
        store_stats now;
        store_get_stats(st, &now);
        if (now.replies >= before.replies + 7)
            break;
        event_base_loop(base, EVLOOP_ONCE);
    }
    assert_int_equal(calls_of("hincrby"), 7);
    expect_reply("55", "HGET t:stats:%s stars:issued", "2026-12-02");
    expect_reply("55", "HGET t:stats:%s stars:issued", "total");
    expect_reply("-4", "HGET t:stats:%s stars:redeemed", "2026-12-02");
    expect_reply("-4", "HGET t:partner:shell:%s stars:redeemed", "2026-12-02");
    expect_reply("0", "HGET t:stats:%s stars:expired", "2026-12-02");
    r = redisCommand(rc, "HKEYS t:stats:total");
    assert_int_equal(r->elements, 3);
    assert_string_equal(r->element[0]->str, "stars:issued");
    assert_string_equal(r->element[1]->str, "stars:redeemed");
    assert_string_equal(r->element[2]->str, "stars:expired");
    freeReplyObject(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_schema_shape_reads_back),
        cmocka_unit_test(other_entries_go_as_given),
        cmocka_unit_test(long_values_go_whole),
        cmocka_unit_test(many_values_counted),
        cmocka_unit_test(replay_and_moved_version_write_nothing),
        cmocka_unit_test(one_group_answers_each_commit_alone),
        cmocka_unit_test(one_member_twice_in_a_group_applies_in_order),
        cmocka_unit_test(a_turns_commits_go_as_few_evalsha),
        cmocka_unit_test(a_group_after_noscript_is_sent_again),
        cmocka_unit_test(a_group_timed_out_answers_every_commit),
        cmocka_unit_test(a_group_unsent_at_close_answers_every_commit),
        cmocka_unit_test(a_turns_figures_are_summed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
