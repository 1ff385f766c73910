/*
 * Unit tests for core/store/keys.c:
 *  - keys_member_of(): reading a member's id back out of a key (the walk over
 *    every member), which must never hand out another member's id or one
 *    that is not an id, whatever a damaged keyspace holds;
 *  - keys_slot(): CRC16 and hash tags, against slots redis-server itself
 *    computed (`redis-cli cluster keyslot KEY` on Redis 7.0);
 *  - every key set one command or script names lies in one slot (Redis
 *    Cluster would refuse it with CROSSSLOT otherwise);
 *  - the namespace-wide keys: one key each on a single Redis (the names the
 *    store always used), KEYS_CLUSTER_SHARDS keys spread over the slot
 *    ranges of a 3-master cluster on a cluster.
 */
#include "store/keys-internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void member_of_keys(void **state)
{
    static const struct {
        const char *key;
        size_t len;       /* 0: strlen(key) */
        const char *want; /* NULL: refused */
    } cases[] = {
        {"pc:{ann}:state", 0, "ann"},
        {"pc:{bo@shop.com}:ledger", 0, "bo@shop.com"},
        {"app:1:{c:1+2}:state", 0, "c:1+2"},
        {"pc:{}:state", 0, NULL},
        {"pc:{ann}", 0, NULL},
        {"pc:{ann}x", 0, NULL},
        {"pc:ann:state", 0, NULL},
        {"pc:{a b}:state", 0, NULL},
        {"pc:{a{b}:state", 0, NULL},
        /* A NUL inside the tag: "a" is another member's id. */
        {"pc:{a\0b}:state", 15, NULL},
        {"pc:{\0}:state", 12, NULL},
        /* The key is len bytes: what follows is not read. */
        {"pc:{ann}:state", 8, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[256];
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].key);
        int n = keys_member_of(out, sizeof out, cases[i].key, len);
        if (!cases[i].want) {
            if (n >= 0)
                fail_msg("case %zu: '%s' gave the id '%s'", i, cases[i].key, out);
            continue;
        }
        if (n != (int)strlen(cases[i].want) || strcmp(out, cases[i].want))
            fail_msg("case %zu: '%s' gave %d '%s', want '%s'", i, cases[i].key, n,
                     n >= 0 ? out : "", cases[i].want);
    }
}

static void member_of_small_buffer(void **state)
{
    char out[4];
    assert_int_equal(keys_member_of(out, sizeof out, "pc:{abc}:state", 14), 3);
    assert_string_equal(out, "abc");
    assert_int_equal(keys_member_of(out, sizeof out, "pc:{abcd}:state", 15), -1);
}

static int slot(const char *key)
{
    return keys_slot(key, strlen(key));
}

static void slots_are_those_redis_computes(void **state)
{
    static const struct {
        const char *key;
        int slot;
    } cases[] = {
        {"foo", 12182},           {"bar", 5061},       {"foo{}{bar}", 8363},
        {"foo{{bar}}zap", 4015},  {"{bar", 4015},      {"foo{bar}{zap}", 5061},
        {"pc:{ann}:state", 2326}, {"pc:{due:0}", 636}, {"pc:{due:1}", 4701},
        {"pc:{due:15}", 4297},    {"{", 4092},         {"}{x}", 16287},
        {"a{b", 13340},
    };
    for (size_t i = 0; i < N(cases); i++)
        if (slot(cases[i].key) != cases[i].slot)
            fail_msg("slot of %s: %d, Redis says %d", cases[i].key, slot(cases[i].key),
                     cases[i].slot);
    /* The CRC's own check value: "123456789" -> 0x31C3, 12739 & 16383 = 12739. */
    assert_int_equal(slot("123456789"), 0x31C3 & 16383);
}

/* Every key of keys[0..n) in the slot of the first. */
static void one_slot(const char *what, char keys[][PC_KEY_MAX], size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (slot(keys[i]) != slot(keys[0]))
            fail_msg("%s: %s (slot %d) and %s (slot %d) in different slots", what, keys[0],
                     slot(keys[0]), keys[i], slot(keys[i]));
}

static void each_operation_touches_one_slot(void **state)
{
    static const char *const members[] = {"ann", "bo", "x:y", "a-very-long-member-id-0123456789"};
    char k[4][PC_KEY_MAX];
    for (size_t i = 0; i < N(members); i++) {
        /* load and commit: state, ledger, the event's and the reversed event's records */
        assert_true(pc_member_key(k[0], PC_KEY_MAX, "pc", members[i], "state") > 0);
        assert_true(pc_member_key(k[1], PC_KEY_MAX, "pc", members[i], "ledger") > 0);
        assert_true(keys_event(k[2], PC_KEY_MAX, "pc", members[i], "e-1") > 0);
        assert_true(keys_event(k[3], PC_KEY_MAX, "pc", members[i], "o:{x}") > 0);
        one_slot("a member's commit", k, 4);
    }
    /* draw_take: meta, claim, pools of several prizes and periods */
    assert_true(keys_resource(k[0], PC_KEY_MAX, "pc", "draw", "spin", "meta") > 0);
    assert_true(keys_claim(k[1], PC_KEY_MAX, "pc", "draw", "spin", "ann/e1/draw/spin") > 0);
    assert_true(keys_draw_pool(k[2], PC_KEY_MAX, "pc", "spin", "car", "2026-W07") > 0);
    assert_true(keys_draw_pool(k[3], PC_KEY_MAX, "pc", "spin", "mug", "all") > 0);
    one_slot("a draw", k, 4);
    /* budget_take: period, claim and log */
    assert_true(keys_resource(k[0], PC_KEY_MAX, "pc", "budget", "bonus", "2026-02") > 0);
    assert_true(keys_claim(k[1], PC_KEY_MAX, "pc", "budget", "bonus", "ann/e1/budget/b") > 0);
    assert_true(keys_resource(k[2], PC_KEY_MAX, "pc", "budget", "bonus", "log") > 0);
    one_slot("a budget", k, 3);

    /* offer_take, offer_return and offer_release: uses, the mark of a return, claims */
    assert_true(keys_resource(k[0], PC_KEY_MAX, "pc", "offer", "summer10", "uses") > 0);
    assert_true(keys_resource(k[1], PC_KEY_MAX, "pc", "offer", "summer10", "ret:ann/o:1") > 0);
    assert_true(keys_claim(k[2], PC_KEY_MAX, "pc", "offer", "summer10",
                           "ann/reverse-o:1/offer_return/summer10") > 0);
    one_slot("an offer", k, 3);
    /* counter_reserve: the counter and its claim */
    assert_true(keys_resource(k[0], PC_KEY_MAX, "pc", "g", "visits", "counter") > 0);
    assert_true(keys_claim(k[1], PC_KEY_MAX, "pc", "g", "visits", "ann/e1/count/visits") > 0);
    one_slot("a global counter", k, 2);
    /* lb_add: the period and the meta */
    assert_true(keys_resource(k[0], PC_KEY_MAX, "pc", "lb", "gym", "2026-02") > 0);
    assert_true(keys_resource(k[1], PC_KEY_MAX, "pc", "lb", "gym", "meta") > 0);
    one_slot("a leaderboard", k, 2);
    /* history_add: the scripts' history and the key of its newest load */
    assert_true(keys_program(k[0], PC_KEY_MAX, "pc", "mech", "history") > 0);
    assert_string_equal(k[0], "pc:{mech}:history");
    assert_true(keys_program(k[1], PC_KEY_MAX, "pc", "mech", "last") > 0);
    one_slot("the scripts' history", k, 2);
    assert_true(keys_program(k[0], PC_KEY_MAX, "pc", "catalog", "names") > 0);
    assert_string_equal(k[0], "pc:{catalog}:names");
    /* close_claim and close_mark: a period close and its mechanic's marker (the catch-up) */
    assert_true(keys_resource(k[0], PC_KEY_MAX, "pc", "close", "weekly-top", "2026-W07") > 0);
    assert_true(keys_resource(k[1], PC_KEY_MAX, "pc", "close", "weekly-top", "last") > 0);
    one_slot("a period close", k, 2);
    assert_true(keys_program(k[0], PC_KEY_MAX, "pc", "codes", "shared") > 0);
    assert_string_equal(k[0], "pc:{codes}:shared");
    /* A draw and a budget of one name are different resources, in their own slots. */
    assert_true(keys_resource(k[0], PC_KEY_MAX, "pc", "draw", "x", "meta") > 0);
    assert_true(keys_resource(k[1], PC_KEY_MAX, "pc", "budget", "x", "meta") > 0);
    assert_int_not_equal(slot(k[0]), slot(k[1]));
}

static void a_single_redis_keeps_its_key_names(void **state)
{
    char k[PC_KEY_MAX];
    keys_sharded(k, sizeof k, "pc", "due", 0, 1);
    assert_string_equal(k, "pc:due");
    keys_sharded(k, sizeof k, "pc", "claims", 0, 1);
    assert_string_equal(k, "pc:claims");
    keys_stats(k, sizeof k, "pc", NULL, "2026-02-01", 0, 1);
    assert_string_equal(k, "pc:stats:2026-02-01");
    keys_stats(k, sizeof k, "pc", NULL, NULL, 0, 1);
    assert_string_equal(k, "pc:stats:total");
    keys_stats(k, sizeof k, "pc", "shell", "2026-02-01", 0, 1);
    assert_string_equal(k, "pc:partner:shell:2026-02-01");
    assert_int_equal(keys_shard_of("ann", 3, 1), 0);
}

static void cluster_shards_spread_over_the_masters(void **state)
{
    /* The slot ranges redis-cli --cluster create gives 3 masters. */
    static const char *const names[] = {"due", "claims"};
    int per_master[3] = {0};
    char k[PC_KEY_MAX];
    for (size_t n = 0; n < N(names); n++) {
        int seen[16384] = {0};
        memset(per_master, 0, sizeof per_master);
        for (int i = 0; i < KEYS_CLUSTER_SHARDS; i++) {
            int sl;
            assert_true(keys_sharded(k, sizeof k, "pc", names[n], i, KEYS_CLUSTER_SHARDS) > 0);
            sl = slot(k);
            if (seen[sl]++)
                fail_msg("%s: shard %d shares slot %d with another shard", k, i, sl);
            per_master[sl <= 5460 ? 0 : sl <= 10922 ? 1 : 2]++;
        }
        for (int m = 0; m < 3; m++)
            if (per_master[m] < 2)
                fail_msg("%s: master %d holds %d of %d shards", names[n], m, per_master[m],
                         KEYS_CLUSTER_SHARDS);
    }
    keys_stats(k, sizeof k, "pc", NULL, "2026-02-01", 3, KEYS_CLUSTER_SHARDS);
    assert_string_equal(k, "pc:{stats:3}:2026-02-01");
    keys_stats(k, sizeof k, "pc", "shell", "2026-02-01", 3, KEYS_CLUSTER_SHARDS);
    assert_string_equal(k, "pc:{partner:3}:shell:2026-02-01");
    /* A member's shard is its own, the same every time, within range. */
    for (int i = 0; i < 100; i++) {
        char id[16];
        int sh;
        snprintf(id, sizeof id, "m%d", i);
        sh = keys_shard_of(id, strlen(id), KEYS_CLUSTER_SHARDS);
        assert_true(sh >= 0 && sh < KEYS_CLUSTER_SHARDS);
        assert_int_equal(sh, keys_shard_of(id, strlen(id), KEYS_CLUSTER_SHARDS));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(member_of_keys),
        cmocka_unit_test(member_of_small_buffer),
        cmocka_unit_test(slots_are_those_redis_computes),
        cmocka_unit_test(each_operation_touches_one_slot),
        cmocka_unit_test(a_single_redis_keeps_its_key_names),
        cmocka_unit_test(cluster_shards_spread_over_the_masters),
    };
    return cmocka_run_group_tests_name("keys", tests, NULL, NULL);
}
