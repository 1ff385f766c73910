/*
 * punchd on a real local Redis Cluster (3 masters, 3 replicas, started by
 * harness_cluster.c): a prize pool and a budget raced by many members hold
 * exactly; two punchd on one cluster apply each event once; a slot migrated
 * while events flow (the ASK path) loses nothing; a master killed with
 * kill -9 under load is replaced by its replica, events go on after 503s,
 * retried ids apply once, and every member's ledger sums to its balance.
 */
#include "harness.h"
#include "harness_cluster.h"
#include "store/keys-internal.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static h_cluster cluster;
static punchd_proc punchd;
static char scripts[64];

static const char game_lua[] =
    "mechanic 'spin' { on = 'spin', run = function(ev, m)\n"
    "  if m:draw('spin', {chance = 1, prize = 'car', pool = 5}) then m:incr('cars') end\n"
    "end }\n"
    "mechanic 'bonus' { on = 'bonus', run = function(ev, m)\n"
    "  if m:budget('bonus', 10, {max = 100, per = 'day'}) then m:incr('bonus', 10) end\n"
    "end }\n"
    "mechanic 'visit' { on = 'visit', run = function(ev, m) m:earn('stars', 1) end }\n"
    "offer 'last5' { code = 'LAST-5', discount = {percent = 20}, cap = 5 }\n"
    "mechanic 'code' { on = 'code', run = function(ev, m)\n"
    "  if m:redeem_code('last-5', 100) then m:incr('coded') end\n"
    "end }\n";

static int start_punchd(punchd_proc *p)
{
    const char *const extra[] = {"--redis-cluster", cluster.seeds, "--workers", "2", NULL};
    /* Unconfirmed claims are looked at every 750 ms (a quarter of this). */
    if (h_punchd_start(p, "127.0.0.1:1", scripts, extra, "PUNCHD_CLAIM_TIMEOUT_MS=3000"))
        return -1;
    /* Every master connected in both workers before the first event (503s under load). */
    return h_punchd_wait_healthy(p, 30000);
}

static int group_setup(void **state)
{
    snprintf(scripts, sizeof scripts, "/tmp/punch-cluster-game-XXXXXX");
    if (!mkdtemp(scripts))
        return -1;
    h_write_file(scripts, "game.lua", game_lua);
    if (h_cluster_start(&cluster))
        return -1;
    return start_punchd(&punchd);
}

static int group_teardown(void **state)
{
    int st = h_punchd_stop(&punchd);
    h_cluster_stop(&cluster);
    h_rm_dir(scripts);
    if (st != 0)
        fprintf(stderr, "punchd exited with status %d\n", st);
    return st == 0 ? 0 : -1;
}

/* counters[name] of member on punchd p (0 when absent). */
static long long counter_of(int port, const char *member, const char *name)
{
    http_resp r;
    char path[128];
    long long v = -1;
    snprintf(path, sizeof path, "/v1/members/%s", member);
    if (h_http(port, "GET", path, NULL, &r) == 0 && r.status == 200 && r.json)
        v = json_integer_value(json_object_get(json_object_get(r.json, "counters"), name));
    h_resp_free(&r);
    return v;
}

/* n events of type at once, member <prefix><i>, id <type>-<i>; every answer must be 200. */
static void race(const char *type, const char *prefix, int n)
{
    char **bodies = calloc((size_t)n, sizeof *bodies);
    http_resp *outs = calloc((size_t)n, sizeof *outs);
    for (int i = 0; i < n; i++)
        if (asprintf(&bodies[i], "{\"id\":\"%s-%d\",\"type\":\"%s\",\"member\":\"%s%d\"}", type, i,
                     type, prefix, i) < 0)
            fail();
    assert_int_equal(
        h_http_parallel(punchd.port, "/v1/events", (const char *const *)bodies, n, outs), 0);
    for (int i = 0; i < n; i++) {
        if (outs[i].status != 200)
            fail_msg("%s %d: %ld %s", type, i, outs[i].status, outs[i].body);
        h_resp_free(&outs[i]);
        free(bodies[i]);
    }
    free(bodies);
    free(outs);
}

static void a_prize_pool_gives_exactly_its_size(void **state)
{
    enum { N = 30 };
    long long cars = 0;
    race("spin", "spinner", N);
    for (int i = 0; i < N; i++) {
        char who[32];
        snprintf(who, sizeof who, "spinner%d", i);
        cars += counter_of(punchd.port, who, "cars");
    }
    assert_int_equal(cars, 5);
}

static void a_budget_is_never_overspent(void **state)
{
    enum { N = 30 };
    long long given = 0;
    race("bonus", "saver", N);
    for (int i = 0; i < N; i++) {
        char who[32];
        snprintf(who, sizeof who, "saver%d", i);
        given += counter_of(punchd.port, who, "bonus");
    }
    assert_int_equal(given, 100);
}

static void a_code_cap_gives_exactly_its_uses(void **state)
{
    enum { N = 30 };
    long long coded = 0;
    http_resp r;
    race("code", "coder", N);
    for (int i = 0; i < N; i++) {
        char who[32];
        snprintf(who, sizeof who, "coder%d", i);
        coded += counter_of(punchd.port, who, "coded");
    }
    assert_int_equal(coded, 5);
    assert_int_equal(h_http(punchd.port, "GET", "/v1/offers/last5", NULL, &r), 0);
    assert_int_equal(json_integer_value(json_object_get(r.json, "left")), 0);
    h_resp_free(&r);
}

/* Sends one visit; its status (0 when punchd did not answer). */
static long visit(int port, const char *member, const char *id)
{
    char body[256];
    http_resp r;
    long st;
    snprintf(body, sizeof body, "{\"id\":\"%s\",\"type\":\"visit\",\"member\":\"%s\"}", id, member);
    st = h_event(port, body, &r) < 0 ? 0 : r.status;
    h_resp_free(&r);
    return st;
}

/* Sends a visit until it is answered 200, for at most ~10 s; the 503s seen are counted. */
static void visit_until_applied(int port, const char *member, const char *id, int *unavailable)
{
    for (int i = 0; i < 500; i++) {
        long st = visit(port, member, id);
        if (st == 200)
            return;
        if (st != 503)
            fail_msg("visit %s of %s: %ld", id, member, st);
        (*unavailable)++;
        {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    fail_msg("visit %s of %s: still 503 after 500 tries", id, member);
}

static void assert_ledger_is_balance(int port, const char *member, long long want)
{
    long long bal = h_balance(port, member, "stars");
    long long sum = h_ledger_sum(port, member, "stars", NULL);
    if (bal != want || sum != bal)
        fail_msg("%s: balance %lld, ledger %lld, want %lld", member, bal, sum, want);
}

typedef struct sender {
    int port;
    int n;
    char **bodies;
    http_resp *outs;
} sender;

static void *send_all(void *arg)
{
    sender *s = arg;
    h_http_parallel(s->port, "/v1/events", (const char *const *)s->bodies, s->n, s->outs);
    return NULL;
}

static void two_punchd_apply_each_event_once(void **state)
{
    enum { MEMBERS = 8, EACH = 5, N = MEMBERS * EACH };
    punchd_proc other;
    char *bodies[N];
    http_resp a[N], b[N];
    sender sa = {0, N, bodies, a}, sb = {0, N, bodies, b};
    pthread_t ta, tb;

    assert_int_equal(start_punchd(&other), 0);
    for (int i = 0; i < N; i++)
        if (asprintf(&bodies[i], "{\"id\":\"twin-%d\",\"type\":\"visit\",\"member\":\"twin%d\"}", i,
                     i % MEMBERS) < 0)
            fail();
    sa.port = punchd.port;
    sb.port = other.port;
    /* The same events through both at once. */
    pthread_create(&ta, NULL, send_all, &sa);
    pthread_create(&tb, NULL, send_all, &sb);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    for (int i = 0; i < N; i++) {
        if (a[i].status != 200 || b[i].status != 200)
            fail_msg("twin-%d: %ld / %ld", i, a[i].status, b[i].status);
        h_resp_free(&a[i]);
        h_resp_free(&b[i]);
        free(bodies[i]);
    }
    for (int m = 0; m < MEMBERS; m++) {
        char who[32];
        snprintf(who, sizeof who, "twin%d", m);
        assert_ledger_is_balance(other.port, who, EACH);
    }
    assert_int_equal(h_punchd_stop(&other), 0);
}

/* What the migration's pauses do: events and a read of the member being moved. */
typedef struct migration {
    int sent;     /* visits sent so far: mig-0 .. mig-<sent-1> */
    int answered; /* of them, answered 200 at once */
    int reads_ok; /* reads of the member answered 200 while its slot moved */
    int reads;
} migration;

static void while_migrating(void *arg)
{
    migration *m = arg;
    char id[32];
    http_resp r;
    snprintf(id, sizeof id, "mig-%d", m->sent++);
    m->answered += visit(punchd.port, "mover", id) == 200;
    /* A read names one key: during the move it is answered through ASK. */
    m->reads++;
    if (h_http(punchd.port, "GET", "/v1/members/mover", NULL, &r) == 0 && r.status == 200)
        m->reads_ok++;
    h_resp_free(&r);
}

static void a_slot_migrated_while_events_flow_loses_nothing(void **state)
{
    migration m = {0};
    int from, to, unavailable = 0;
    /* A few events first, so the member has keys to move (state, ledger, one per event). */
    for (int i = 0; i < 6; i++)
        while_migrating(&m);
    assert_int_equal(m.answered, 6);
    from = h_cluster_master_of(&cluster, "pc:{mover}:state");
    assert_true(from >= 0);
    /* redis-cli --cluster create makes the first three nodes the masters. */
    to = from == 0 ? 1 : 0;
    assert_int_equal(h_cluster_move_slot(&cluster, "pc:{mover}:state", to, 2, while_migrating, &m),
                     0);
    assert_int_equal(h_cluster_master_of(&cluster, "pc:{mover}:state"), to);
    /* Every read during the move was answered (ASK followed), and every event lands once. */
    assert_int_equal(m.reads_ok, m.reads);
    for (int i = 0; i < m.sent; i++) {
        char id[32];
        snprintf(id, sizeof id, "mig-%d", i);
        visit_until_applied(punchd.port, "mover", id, &unavailable);
    }
    assert_ledger_is_balance(punchd.port, "mover", m.sent);
}

/* The claims' index entry "stale-<i>" and its shard's key. */
static void stale_entry(int i, char *entry, char *key)
{
    snprintf(entry, 32, "stale-%d", i);
    keys_sharded(key, PC_KEY_MAX, "pc", "claims",
                 keys_shard_of(entry, strlen(entry), KEYS_CLUSTER_SHARDS), KEYS_CLUSTER_SHARDS);
}

/* 1 when no stale entry is left in any shard. */
static int stale_entries_gone(void *arg)
{
    int left = 0;
    for (int i = 0; i < 40; i++) {
        char entry[32], key[PC_KEY_MAX];
        redisContext *rc;
        redisReply *r;
        stale_entry(i, entry, key);
        if (!(rc = h_cluster_connect(&cluster, h_cluster_master_of(&cluster, key))))
            return 0;
        r = redisCommand(rc, "ZSCORE %s %s", key, entry);
        left += !r || r->type != REDIS_REPLY_NIL;
        freeReplyObject(r);
        redisFree(rc);
    }
    return left == 0;
}

static void the_sweeper_reads_every_shard_of_the_claims(void **state)
{
    int shards[KEYS_CLUSTER_SHARDS] = {0}, used = 0;
    /* Entries that are no claim of ours, listed long ago, in the shards their names hash to. */
    for (int i = 0; i < 40; i++) {
        char entry[32], key[PC_KEY_MAX];
        redisContext *rc;
        redisReply *r;
        stale_entry(i, entry, key);
        used += !shards[keys_shard_of(entry, strlen(entry), KEYS_CLUSTER_SHARDS)]++;
        assert_non_null(rc = h_cluster_connect(&cluster, h_cluster_master_of(&cluster, key)));
        r = redisCommand(rc, "ZADD %s 0 %s", key, entry);
        assert_true(r && r->type == REDIS_REPLY_INTEGER);
        freeReplyObject(r);
        redisFree(rc);
    }
    assert_true(used >= 10); /* most shards, on every master */
    /* The sweeper merges all shards and drops each entry from its own shard. */
    assert_true(h_wait_until(stale_entries_gone, NULL, 10000));
}

static void a_killed_master_is_replaced_and_nothing_applies_twice(void **state)
{
    enum { MEMBERS = 12, ROUNDS = 6 };
    int victim = h_cluster_master_of(&cluster, "pc:{load0}:state"), unavailable = 0;
    char who[32], id[32];
    assert_true(victim >= 0);
    /* Load before, then the kill, then every event retried until applied. */
    for (int r = 0; r < ROUNDS; r++) {
        for (int m = 0; m < MEMBERS; m++) {
            snprintf(who, sizeof who, "load%d", m);
            snprintf(id, sizeof id, "load-%d-%d", r, m);
            if (r == 2 && m == 0)
                h_cluster_kill(&cluster, victim);
            visit_until_applied(punchd.port, who, id, &unavailable);
        }
    }
    /* load0 lives on the victim: its first event after the kill met the dead master. */
    assert_true(unavailable > 0);
    assert_int_not_equal(h_cluster_master_of(&cluster, "pc:{load0}:state"), victim);
    assert_int_equal(h_cluster_wait_ok(&cluster, 0, 10000), 0);
    /* Retried ids apply once: all of them again are duplicates, and balances are exact. */
    for (int r = 0; r < ROUNDS; r++)
        for (int m = 0; m < MEMBERS; m++) {
            char body[256];
            http_resp resp;
            snprintf(who, sizeof who, "load%d", m);
            snprintf(id, sizeof id, "load-%d-%d", r, m);
            snprintf(body, sizeof body, "{\"id\":\"%s\",\"type\":\"visit\",\"member\":\"%s\"}", id,
                     who);
            if (h_event(punchd.port, body, &resp) != 200 ||
                !json_is_true(json_object_get(resp.json, "duplicate")))
                fail_msg("%s again: %ld %s", id, resp.status, resp.body);
            h_resp_free(&resp);
        }
    for (int m = 0; m < MEMBERS; m++) {
        snprintf(who, sizeof who, "load%d", m);
        assert_ledger_is_balance(punchd.port, who, ROUNDS);
    }
    fprintf(stderr, "failover: %d answers were 503 before the replica took over\n", unavailable);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_prize_pool_gives_exactly_its_size),
        cmocka_unit_test(a_budget_is_never_overspent),
        cmocka_unit_test(a_code_cap_gives_exactly_its_uses),
        cmocka_unit_test(two_punchd_apply_each_event_once),
        cmocka_unit_test(a_slot_migrated_while_events_flow_loses_nothing),
        cmocka_unit_test(the_sweeper_reads_every_shard_of_the_claims),
        cmocka_unit_test(a_killed_master_is_replaced_and_nothing_applies_twice),
    };
    return cmocka_run_group_tests_name("cluster", tests, group_setup, group_teardown);
}
