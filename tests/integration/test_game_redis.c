/*
 * The game's promises against a real redis-server and a real punchd with
 * four workers, with many clients racing: a prize pool of 50 gives exactly
 * 50 prizes to 100 members (and retries change nothing); one win a week
 * holds for one member's 40 parallel events; a budget of 100 grants exactly
 * ten 10s; a friend's first order rewards the friend and the referrer once;
 * every draw is recomputed from the secret revealed on rotation; a
 * leaderboard ranks by period; and an unconfirmed claim left by a punchd
 * killed mid-event is given back by the sweeper, while a committed one stays.
 */
#include "harness.h"
#include "punchcard/common.h"

#include <hiredis/hiredis.h>
#include <math.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static tmpredis redis;
static punchd_proc punchd;
static punchd_proc other; /* a second punchd some cases start; stopped in teardown if left */
static char scripts[64];
static redisContext *rc;

static const char game_lua[] =
    "mechanic 'scratch' { on = 'scratch', run = function(ev, m)\n"
    "  if m:draw('scratch', {chance = 1, prize = 'tv', pool = 50}) then m:incr('tvs') end\n"
    "end }\n"
    "mechanic 'audit' { on = 'audit', run = function(ev, m)\n"
    "  m:draw('audit', {chance = 0.3, prizes = {'cup', 'mug'}})\n"
    "end }\n"
    "mechanic 'weekly' { on = 'weekly', run = function(ev, m)\n"
    "  m:draw('weekly', {chance = 1, prize = 'cake', limit = 1, limit_per = 'week'})\n"
    "end }\n"
    "mechanic 'bonus' { on = 'bonus', run = function(ev, m)\n"
    "  if m:budget('bonus', 10, {max = 100, per = 'day'}) then m:incr('bonus', 10) end\n"
    "end }\n"
    "mechanic 'refer' { on = 'order', run = function(ev, m)\n"
    "  if m:referral(ev.data.by) then m:incr('welcome', 2) end\n"
    "end }\n"
    "mechanic 'reward' { on = 'referral', run = function(ev, m)\n"
    "  m:incr('referred', 2)\n"
    "end }\n"
    "mechanic 'board' { on = 'workout', run = function(ev, m)\n"
    "  m:score('workouts', ev.data.n or 1, {per = 'month'})\n"
    "end }\n"
    "mechanic 'nth' { on = 'visit', run = function(ev, m)\n"
    "  local n = global_count('visits')\n"
    "  if n % 10 == 0 then return prize('tenth', {n = n}) end\n"
    "  return message('visit', {n = n})\n"
    "end }\n"
    "mechanic 'tally' { on = 'tally', run = function(ev, m)\n"
    "  local n = global_count('tally')\n"
    "  if (ev.data.fail or 0) > 0 then for i = 1, ev.data.fail do end error('refused') end\n"
    "  return message('tally', {n = n})\n"
    "end }\n"
    "mechanic 'walk' { on = 'walk', run = function(ev, m)\n"
    "  m:streak('walk', {freezes = 1})\n"
    "  m:badge_level('walker', m:count('walks'), {2, 4})\n"
    "end }\n"
    "mechanic 'promo' { on = 'walk', control = 50,\n"
    "  active = {from = '2026-10-25', to = '2026-10-27', tz = 'Europe/Paris'},\n"
    "  run = function(ev, m) m:incr('promo') end }\n"
    "mechanic 'peek' { on = 'peek', run = function(ev, m)\n"
    "  m:draw('peek', {chance = 1, prize = 'hat', pool = 1})\n"
    "  return message('n', {n = global_count('peeks')})\n"
    "end }\n"
    "mechanic 'spin' { on = 'spin', run = function(ev, m)\n"
    "  m:draw('spin', {chance = 1, prize = 'car', pool = 3})\n"
    "  local x = 0\n"
    "  for i = 1, ev.data.loops do x = x + i end\n"
    "end }\n";

static int group_setup(void **state)
{
    static const char *const extra[] = {"--workers", "4", NULL};
    snprintf(scripts, sizeof scripts, "/tmp/punch-game-XXXXXX");
    if (!mkdtemp(scripts))
        return -1;
    h_write_file(scripts, "game.lua", game_lua);
    if (tmpredis_start(&redis, 0))
        return -1;
    if (!(rc = redisConnectUnix(redis.socket)) || rc->err)
        return -1;
    return h_punchd_start(&punchd, redis.socket, scripts, extra, "PUNCHD_CLAIM_TIMEOUT_MS=3000");
}

static int group_teardown(void **state)
{
    /* A clean exit: the drain ends in status 0 (and sanitizers found nothing to report). */
    int st = h_punchd_stop(&punchd);
    if (other.pid > 0)
        h_punchd_stop(&other);
    if (st != 0)
        fprintf(stderr, "punchd exited with status %d\n", st);
    if (rc)
        redisFree(rc);
    tmpredis_destroy(&redis);
    h_rm_dir(scripts);
    return st == 0 ? 0 : -1;
}

/* Sends n events built by fmt(i) at once; returns how many responses hold an outcome like want. */
/* Member "<member><i>" (or just member when shared), event id "<id><i>". */
static int race(const char *fmt_type, const char *member, int shared, const char *id, int n,
                const char *data, const char *kind, const char *want_prize, http_resp *outs)
{
    char **bodies = calloc((size_t)n, sizeof *bodies);
    int hits = 0;
    assert_true(n <= 128);
    for (int i = 0; i < n; i++) {
        char who[64];
        snprintf(who, sizeof who, shared ? "%s" : "%s%d", member, i);
        if (asprintf(&bodies[i], "{\"id\":\"%s%d\",\"type\":\"%s\",\"member\":\"%s\",\"data\":%s}",
                     id, i, fmt_type, who, data ? data : "{}") < 0)
            fail();
    }
    assert_int_equal(
        h_http_parallel(punchd.port, "/v1/events", (const char *const *)bodies, n, outs), 0);
    /* 409: the member changed under the event too often; a client retries with the same id. */
    for (int round = 0; round < 50; round++) {
        int again[128], m = 0;
        const char *bs[128];
        http_resp rs[128];
        for (int i = 0; i < n; i++)
            if (outs[i].status == 409) {
                again[m] = i;
                bs[m++] = bodies[i];
            }
        if (m == 0)
            break;
        assert_int_equal(h_http_parallel(punchd.port, "/v1/events", bs, m, rs), 0);
        for (int j = 0; j < m; j++) {
            h_resp_free(&outs[again[j]]);
            outs[again[j]] = rs[j];
        }
    }
    for (int i = 0; i < n; i++) {
        json_t *o;
        size_t k;
        if (outs[i].status != 200)
            fail_msg("event %d: status %ld: %s", i, outs[i].status, outs[i].body);
        json_array_foreach(json_object_get(outs[i].json, "outcomes"), k, o) {
            const char *ok = json_string_value(json_object_get(o, "kind"));
            const char *p = json_string_value(json_object_get(o, "prize"));
            if (ok && !strcmp(ok, kind) && (!want_prize || (p && !strcmp(p, want_prize))))
                hits++;
        }
        free(bodies[i]);
    }
    free(bodies);
    return hits;
}

static void free_all(http_resp *outs, int n)
{
    for (int i = 0; i < n; i++)
        h_resp_free(&outs[i]);
}

static json_t *get_json(const char *path)
{
    http_resp r;
    json_t *j;
    if (h_http(punchd.port, "GET", path, NULL, &r) || r.status != 200)
        fail_msg("GET %s: %ld %s", path, r.status, r.body ? r.body : "");
    j = json_incref(r.json);
    h_resp_free(&r);
    return j;
}

static json_t *prize_of(json_t *draw, const char *prize)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(draw, "prizes"), i, p)
        if (!strcmp(json_string_value(json_object_get(p, "prize")), prize))
            return p;
    return NULL;
}

static void pool_of_50_gives_exactly_50(void **state)
{
    http_resp outs[100];
    json_t *d;
    assert_int_equal(race("scratch", "p", 0, "s-", 100, NULL, "prize", "tv", outs), 50);
    free_all(outs, 100);
    d = get_json("/v1/draws/scratch");
    assert_int_equal(json_integer_value(json_object_get(d, "wins")), 50);
    assert_int_equal(json_integer_value(json_object_get(prize_of(d, "tv"), "left")), 0);
    assert_int_equal(json_integer_value(json_object_get(prize_of(d, "tv"), "pool")), 50);
    json_decref(d);

    /* The same 100 events again, racing: all duplicates, the same 50 winners. */
    assert_int_equal(race("scratch", "p", 0, "s-", 100, NULL, "prize", "tv", outs), 50);
    for (int i = 0; i < 100; i++)
        assert_true(json_is_true(json_object_get(outs[i].json, "duplicate")));
    free_all(outs, 100);

    /* A refill by the API: 5 more, and exactly 5 of 20 new members win them. */
    http_resp r;
    assert_int_equal(
        h_http(punchd.port, "POST", "/v1/draws/scratch/refill", "{\"prize\":\"tv\",\"add\":5}", &r),
        0);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(prize_of(r.json, "tv"), "left")), 5);
    h_resp_free(&r);
    assert_int_equal(race("scratch", "q", 0, "s-", 20, NULL, "prize", "tv", outs), 5);
    free_all(outs, 20);
    d = get_json("/v1/draws/scratch");
    assert_int_equal(json_integer_value(json_object_get(d, "wins")), 55);
    json_decref(d);
}

/* The roll as docs/mechanics.md states it, from the revealed secret alone. */
static void recompute(const char *secret, const char *member, const char *id, const char *draw,
                      uint64_t *u, uint64_t *pick)
{
    char msg[300];
    unsigned char mac[64];
    unsigned int len;
    int n = snprintf(msg, sizeof msg, "%s\n%s\n%s", member, id, draw);
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)msg, (size_t)n, mac, &len);
    *u = *pick = 0;
    for (int i = 0; i < 8; i++) {
        *u = *u << 8 | mac[i];
        *pick = *pick << 8 | mac[8 + i];
    }
}

static json_t *outcome(json_t *resp, const char *kind)
{
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(resp, "outcomes"), i, o)
        if (!strcmp(json_string_value(json_object_get(o, "kind")), kind))
            return o;
    return NULL;
}

static void every_draw_is_audited_from_the_revealed_secret(void **state)
{
    enum { N = 80 };
    http_resp outs[N], r;
    char commitment[65], secret[65], h[65];
    int wins = 0;
    json_t *d = get_json("/v1/draws/audit");
    /* Published before any draw: the epoch and the hash of its secret. */
    assert_int_equal(json_integer_value(json_object_get(d, "epoch")), 1);
    snprintf(commitment, sizeof commitment, "%s",
             json_string_value(json_object_get(d, "secret_sha256")));
    assert_int_equal(json_array_size(json_object_get(d, "revealed")), 0);
    json_decref(d);

    race("audit", "a", 0, "au-", N, NULL, "draw", NULL, outs);

    assert_int_equal(h_http(punchd.port, "POST", "/v1/draws/audit/rotate", NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "epoch")), 2);
    json_t *rev = json_array_get(json_object_get(r.json, "revealed"), 0);
    assert_int_equal(json_integer_value(json_object_get(rev, "epoch")), 1);
    snprintf(secret, sizeof secret, "%s", json_string_value(json_object_get(rev, "secret")));
    pc_sha256_hex(secret, strlen(secret), h);
    assert_string_equal(h, commitment); /* the secret is the one committed to */
    assert_string_not_equal(json_string_value(json_object_get(r.json, "secret_sha256")),
                            commitment);
    h_resp_free(&r);

    for (int i = 0; i < N; i++) {
        char member[16], id[16];
        uint64_t u, pick;
        json_t *o = outcome(outs[i].json, "draw");
        snprintf(member, sizeof member, "a%d", i);
        snprintf(id, sizeof id, "au-%d", i);
        recompute(secret, member, id, "audit", &u, &pick);
        double chance = json_number_value(json_object_get(o, "chance"));
        int won = (long double)u < floorl(ldexpl((long double)chance, 64));
        assert_true(chance == 0.3);
        assert_int_equal(json_integer_value(json_object_get(o, "epoch")), 1);
        if (won != json_is_true(json_object_get(o, "won")))
            fail_msg("draw %s of %s: recomputed %d, punchd said %s", id, member, won, outs[i].body);
        if (won) {
            static const char *const prizes[] = {"cup", "mug"};
            assert_string_equal(json_string_value(json_object_get(o, "prize")), prizes[pick % 2]);
            wins++;
        }
    }
    free_all(outs, N);
    assert_in_range(wins, 8, 45); /* about 30% of 80 */
    d = get_json("/v1/draws/audit");
    assert_int_equal(json_integer_value(json_object_get(d, "wins")), wins);
    json_decref(d);

    /* The next draw uses the new epoch. */
    assert_int_equal(
        h_event(punchd.port, "{\"id\":\"au-next\",\"type\":\"audit\",\"member\":\"a0\"}", &r), 200);
    assert_int_equal(json_integer_value(json_object_get(outcome(r.json, "draw"), "epoch")), 2);
    h_resp_free(&r);
}

static int weekly_wins;
static int weekly_wins_settled(void *arg)
{
    json_t *d = get_json("/v1/draws/weekly");
    int w = (int)json_integer_value(json_object_get(d, "wins"));
    json_decref(d);
    return w == weekly_wins;
}

static void one_win_a_week_holds_under_a_race(void **state)
{
    http_resp outs[40];
    /* One member, 40 events at once over four workers: the commits conflict and decide again. */
    assert_int_equal(race("weekly", "wendy", 1, "w-", 40, NULL, "prize", "cake", outs), 1);
    free_all(outs, 40);
    json_t *m = get_json("/v1/members/wendy");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "prizes"), "cake")), 1);
    json_decref(m);
    /* Prizes taken by attempts that lost their commit are given back. */
    weekly_wins = 1;
    assert_true(h_wait_until(weekly_wins_settled, NULL, 5000));
}

static long long counter_of(const char *member, const char *counter)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/members/%s", member);
    http_resp r;
    long long v = 0;
    if (h_http(punchd.port, "GET", path, NULL, &r) == 0 && r.status == 200)
        v = json_integer_value(json_object_get(json_object_get(r.json, "counters"), counter));
    h_resp_free(&r);
    return v;
}

static void a_budget_is_never_overspent(void **state)
{
    http_resp outs[30];
    long long sum = 0;
    race("bonus", "b", 0, "bo-", 30, NULL, "counter", NULL, outs);
    free_all(outs, 30);
    for (int i = 0; i < 30; i++) {
        char member[16];
        snprintf(member, sizeof member, "b%d", i);
        sum += counter_of(member, "bonus");
    }
    assert_int_equal(sum, 100);
    redisReply *r = redisCommand(rc, "KEYS pc:{budget:bonus}:2*");
    assert_int_equal(r->elements, 1);
    redisReply *used = redisCommand(rc, "HGET %s used", r->element[0]->str);
    assert_string_equal(used->str, "100");
    freeReplyObject(used);
    freeReplyObject(r);
    /* GET /v1/budgets/{name}: its log agrees with the period, whatever the race gave back. */
    http_resp b;
    assert_int_equal(h_http(punchd.port, "GET", "/v1/budgets/bonus", NULL, &b), 0);
    assert_int_equal(b.status, 200);
    json_t *p = json_array_get(json_object_get(b.json, "periods"), 0);
    assert_int_equal(json_array_size(json_object_get(b.json, "periods")), 1);
    assert_int_equal(json_integer_value(json_object_get(p, "used")), 100);
    assert_int_equal(json_integer_value(json_object_get(p, "max")), 100);
    assert_int_equal(json_integer_value(json_object_get(p, "left")), 0);
    h_resp_free(&b);
    assert_int_equal(h_http(punchd.port, "GET", "/v1/budgets/nobody-spent", NULL, &b), 0);
    assert_int_equal(b.status, 404);
    h_resp_free(&b);
}

static int rita_rewarded(void *arg)
{
    return counter_of("rita", "referred") == 2;
}

static void a_friend_rewards_once(void **state)
{
    http_resp outs[20], r;
    /* Twenty orders of the friend at once: one holds the referral. */
    assert_int_equal(
        race("order", "fred", 1, "f-", 20, "{\"by\":\"rita\"}", "referral", NULL, outs), 1);
    free_all(outs, 20);
    assert_int_equal(counter_of("fred", "welcome"), 2);
    assert_true(h_wait_until(rita_rewarded, NULL, 5000)); /* the referrer's event, after commit */

    /* Re-sent with a new id (say after a reversal): no second reward, for either. */
    assert_int_equal(h_event(punchd.port,
                             "{\"id\":\"f-again\",\"type\":\"order\",\"member\":\"fred\",\"data\":{"
                             "\"by\":\"rita\"}}",
                             &r),
                     200);
    assert_null(outcome(r.json, "referral"));
    h_resp_free(&r);
    /* No self-referral. */
    assert_int_equal(
        h_event(
            punchd.port,
            "{\"id\":\"s-1\",\"type\":\"order\",\"member\":\"sally\",\"data\":{\"by\":\"sally\"}}",
            &r),
        200);
    assert_null(outcome(r.json, "referral"));
    h_resp_free(&r);
    /* The referrer's event went once: id ref:fred, replayed as a duplicate. */
    assert_int_equal(
        h_event(punchd.port,
                "{\"id\":\"ref:fred\",\"type\":\"referral\",\"member\":\"rita\",\"data\":{}}", &r),
        200);
    assert_true(json_is_true(json_object_get(r.json, "duplicate")));
    h_resp_free(&r);
    assert_int_equal(counter_of("rita", "referred"), 2);
    assert_int_equal(counter_of("fred", "welcome"), 2);
    assert_int_equal(counter_of("sally", "welcome"), 0);
}

static int board_has(void *arg)
{
    json_t *b = get_json(arg);
    int n = (int)json_array_size(json_object_get(b, "top"));
    json_decref(b);
    return n == 3;
}

static int index_empty(void *arg);

static int rob_rewarded(void *arg)
{
    return counter_of("rob", "referred") == 2;
}

static void a_lost_referral_reward_is_delivered(void **state)
{
    /*
     * Gina's first order committed holding the referral, and punchd died before
     * sending Rob his event: what is left in Redis is the referral and its
     * "deliver" entry. The sweeper sends the event (once, by its id).
     */
    freeReplyObject(redisCommand(rc,
                                 "HSET pc:{ref:gina}:by referrer rob claim %s type referral t 0",
                                 "gina/g-1/referral/gina"));
    freeReplyObject(redisCommand(rc, "SET pc:{gina}:ev:g-1 {}"));
    freeReplyObject(redisCommand(rc, "ZADD pc:claims 0 %s", "deliver|gina|gina/g-1/referral/gina"));
    /* An entry of an event that does not hold the referral sends nothing. */
    freeReplyObject(redisCommand(rc, "SET pc:{gina}:ev:g-2 {}"));
    freeReplyObject(redisCommand(rc, "ZADD pc:claims 0 %s", "deliver|gina|gina/g-2/referral/gina"));
    assert_true(h_wait_until(rob_rewarded, NULL, 15000));
    assert_true(h_wait_until(index_empty, NULL, 15000));
    assert_int_equal(counter_of("rob", "referred"), 2);
}

static void leaderboards_rank_per_period(void **state)
{
    static const struct {
        const char *member, *at;
        int n;
    } evs[] = {{"l1", "2026-01-10T10:00:00Z", 5},  {"l2", "2026-01-11T10:00:00Z", 9},
               {"l3", "2026-01-12T10:00:00Z", 2},  {"l1", "2026-01-20T10:00:00Z", 6},
               {"l3", "2026-02-01T10:00:00Z", 50}, {"l2", "2026-02-02T10:00:00Z", 1},
               {"l1", "2026-02-03T10:00:00Z", 3}};
    for (size_t i = 0; i < sizeof evs / sizeof *evs; i++) {
        char body[200];
        http_resp r;
        snprintf(body, sizeof body,
                 "{\"id\":\"lb-%zu\",\"type\":\"workout\",\"member\":\"%s\",\"at\":\"%s\","
                 "\"data\":{\"n\":%d}}",
                 i, evs[i].member, evs[i].at, evs[i].n);
        assert_int_equal(h_event(punchd.port, body, &r), 200);
        h_resp_free(&r);
    }
    char *jan = "/v1/leaderboards/workouts?period=2026-01&member=l2&top=2";
    assert_true(h_wait_until(board_has, "/v1/leaderboards/workouts?period=2026-02", 5000));
    json_t *b = get_json(jan);
    json_t *top = json_object_get(b, "top");
    assert_int_equal(json_array_size(top), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(top, 0), "member")), "l1");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(top, 0), "score")), 11);
    assert_string_equal(json_string_value(json_object_get(json_array_get(top, 1), "member")), "l2");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(b, "member"), "rank")), 2);
    json_decref(b);
    b = get_json("/v1/leaderboards/workouts?period=2026-02&member=l2");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(b, "member"), "rank")), 3);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(b, "top"), 0), "member")),
        "l3");
    json_decref(b);
    /* The current month by default; periods expire by themselves. */
    b = get_json("/v1/leaderboards/workouts");
    char now[32];
    pc_time_format(pc_now_ms(), now, sizeof now);
    assert_memory_equal(json_string_value(json_object_get(b, "period")), now, 7);
    json_decref(b);
    redisReply *ttl = redisCommand(rc, "TTL pc:{lb:workouts}:2026-02");
    assert_true(ttl->integer > 30 * 86400);
    freeReplyObject(ttl);
}

static int spin_claimed(void *arg)
{
    redisReply *r = redisCommand(rc, "KEYS pc:{draw:spin}:claim:*");
    int n = r && r->type == REDIS_REPLY_ARRAY ? (int)r->elements : 0;
    freeReplyObject(r);
    return n > 0;
}

static int spin_left_is;
static int spin_left(void *arg)
{
    json_t *d = get_json("/v1/draws/spin");
    int left = (int)json_integer_value(json_object_get(prize_of(d, "car"), "left"));
    json_decref(d);
    return left == spin_left_is;
}

static int index_empty(void *arg)
{
    redisReply *r = redisCommand(rc, "ZCARD pc:claims");
    int n = (int)r->integer;
    freeReplyObject(r);
    return n == 0;
}

static void unconfirmed_claims_are_swept(void **state)
{
    static const char *const slow[] = {"--lua-instructions", "1000000000000", "--lua-deadline-ms",
                                       "60000", NULL};
    pid_t child;
    int st;
    http_resp r;
    assert_int_equal(h_punchd_start(&other, redis.socket, scripts, slow, NULL), 0);
    /* A client sends an event that draws, then computes for a long time... */
    child = fork();
    if (child == 0) {
        http_resp cr;
        h_event(other.port,
                "{\"id\":\"spin-1\",\"type\":\"spin\",\"member\":\"sam\",\"data\":{\"loops\":"
                "100000000000}}",
                &cr);
        _exit(0);
    }
    /* ...and its punchd dies after reserving the prize, before any commit. */
    assert_true(h_wait_until(spin_claimed, NULL, 10000));
    kill(other.pid, SIGKILL);
    h_punchd_stop(&other); /* reaps it and removes its folder */
    waitpid(child, &st, 0);
    spin_left_is = 2;
    assert_true(spin_left(NULL)); /* reserved: 2 of 3 left */
    /* The other punchd's sweeper sees no stored response for spin-1 and gives the car back. */
    spin_left_is = 3;
    assert_true(h_wait_until(spin_left, NULL, 15000));
    assert_true(h_wait_until(index_empty, NULL, 5000));

    /* A committed claim whose confirmation was lost stays taken. */
    assert_int_equal(
        h_event(punchd.port,
                "{\"id\":\"spin-2\",\"type\":\"spin\",\"member\":\"sam\",\"data\":{\"loops\":1}}",
                &r),
        200);
    assert_non_null(outcome(r.json, "prize"));
    h_resp_free(&r);
    freeReplyObject(redisCommand(rc, "ZADD pc:claims 0 %s", "draw|spin|sam/spin-2/draw/spin"));
    assert_true(h_wait_until(index_empty, NULL, 15000));
    spin_left_is = 2;
    assert_true(spin_left(NULL));
}

static void every_tenth_visit_of_all_members(void **state)
{
    enum { N = 100 };
    http_resp outs[N];
    int seen[N + 1] = {0};
    /* Every member's event has the same id: ids are unique per member only. */
    char *bodies[N];
    for (int i = 0; i < N; i++)
        if (asprintf(&bodies[i], "{\"id\":\"same\",\"type\":\"visit\",\"member\":\"x%d\"}", i) < 0)
            fail();
    assert_int_equal(
        h_http_parallel(punchd.port, "/v1/events", (const char *const *)bodies, N, outs), 0);
    int tenth = 0;
    for (int i = 0; i < N; i++) {
        json_t *o = json_array_get(json_object_get(outs[i].json, "outcomes"), 0);
        json_int_t n = json_integer_value(json_object_get(o, "n"));
        if (outs[i].status != 200 || n < 1 || n > N || seen[n]++)
            fail_msg("visit %d: %s", i, outs[i].body);
        tenth += !strcmp(json_string_value(json_object_get(o, "kind")), "prize");
        free(bodies[i]);
    }
    free_all(outs, N);
    assert_int_equal(tenth, 10); /* 10th, 20th, ... 100th: each value once */
}

static long tally(int port, const char *id, long fail)
{
    char body[200];
    http_resp r;
    long n = -1;
    snprintf(body, sizeof body,
             "{\"id\":\"%s\",\"type\":\"tally\",\"member\":\"tom\",\"data\":{\"fail\":%ld}}", id,
             fail);
    if (h_event(port, body, &r) == 200)
        n = (long)json_integer_value(
            json_object_get(json_array_get(json_object_get(r.json, "outcomes"), 0), "n"));
    else if (r.status != 422)
        fail_msg("tally %s: %ld %s", id, r.status, r.body);
    h_resp_free(&r);
    return n;
}

static int tally_claimed(void *arg)
{
    redisReply *r = redisCommand(rc, "KEYS pc:{g:tally}:claim:*t-slow*");
    int n = r && r->type == REDIS_REPLY_ARRAY ? (int)r->elements : 0;
    freeReplyObject(r);
    return n > 0;
}

static void a_failed_event_never_hands_its_number_out_twice(void **state)
{
    static const char *const quick_kill[] = {"--lua-instructions", "1000000000000",
                                             "--lua-deadline-ms", "1500", NULL};
    pid_t child;
    int st;
    assert_int_equal(tally(punchd.port, "t-1", 0), 1);
    /* Refused after counting, with nobody counting since: its number is given back. */
    assert_int_equal(tally(punchd.port, "t-2", 1), -1);
    assert_int_equal(tally(punchd.port, "t-3", 0), 2);
    /* Refused after others counted: a gap, never the same number twice. */
    assert_int_equal(h_punchd_start(&other, redis.socket, scripts, quick_kill, NULL), 0);
    child = fork();
    if (child == 0)
        _exit(tally(other.port, "t-slow", 100000000000L) == -1 ? 0 : 1); /* 3, then killed */
    assert_true(h_wait_until(tally_claimed, NULL, 10000));
    assert_int_equal(tally(punchd.port, "t-4", 0), 4);
    waitpid(child, &st, 0);
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(tally(punchd.port, "t-5", 0), 5);
    h_punchd_stop(&other);
}

static void streaks_and_levels_show_on_the_member(void **state)
{
    static const char *const walks[] = {"2026-10-24T23:30:00+02:00", "2026-10-25T00:10:00+02:00",
                                        "2026-10-25T23:50:00+01:00",  /* the 25-hour day */
                                        "2026-10-27T09:00:00+01:00"}; /* the 26th frozen */
    http_resp r;
    assert_int_equal(h_http(punchd.port, "PUT", "/v1/members/dora",
                            "{\"id\":\"tz-1\",\"attributes\":{\"tz\":\"Europe/Paris\"}}", &r),
                     0);
    assert_int_equal(r.status, 200);
    h_resp_free(&r);
    for (size_t i = 0; i < sizeof walks / sizeof *walks; i++) {
        char body[200];
        snprintf(body, sizeof body,
                 "{\"id\":\"walk-%zu\",\"type\":\"walk\",\"member\":\"dora\",\"at\":\"%s\"}", i,
                 walks[i]);
        assert_int_equal(h_event(punchd.port, body, &r), 200);
        h_resp_free(&r);
    }
    json_t *m = get_json("/v1/members/dora");
    json_t *walk = json_object_get(json_object_get(m, "streaks"), "walk");
    json_t *badge = json_object_get(json_object_get(m, "badges"), "walker");
    assert_int_equal(json_integer_value(json_object_get(walk, "length")), 3);
    assert_int_equal(json_integer_value(json_object_get(walk, "best")), 3);
    assert_int_equal(json_integer_value(json_object_get(walk, "freezes")), 0);
    assert_int_equal(json_integer_value(json_object_get(badge, "level")), 2);
    assert_int_equal(json_integer_value(json_object_get(badge, "progress")), 4);
    assert_non_null(json_object_get(badge, "awarded_at"));
    json_decref(m);
}

static void campaigns_and_control_groups(void **state)
{
    enum { N = 60 };
    http_resp outs[N];
    /* Inside the campaign, about half of the members are held out, and told so. */
    char *bodies[N];
    int held = 0;
    for (int i = 0; i < N; i++)
        if (asprintf(&bodies[i],
                     "{\"id\":\"c\",\"type\":\"walk\",\"member\":\"cg%d\",\"at\":\"2026-10-26T12:"
                     "00:00Z\"}",
                     i) < 0)
            fail();
    assert_int_equal(
        h_http_parallel(punchd.port, "/v1/events", (const char *const *)bodies, N, outs), 0);
    for (int i = 0; i < N; i++) {
        json_t *c = outcome(outs[i].json, "control");
        char member[16];
        snprintf(member, sizeof member, "cg%d", i);
        held += c != NULL;
        assert_int_equal(counter_of(member, "promo"), c ? 0 : 1);
        free(bodies[i]);
    }
    free_all(outs, N);
    assert_in_range(held, 15, 45);
    /* After the campaign nobody gets it, nor is told about a control group. */
    http_resp r;
    assert_int_equal(h_event(punchd.port,
                             "{\"id\":\"late\",\"type\":\"walk\",\"member\":\"cg0\",\"at\":\"2026-"
                             "10-27T12:00:00Z\"}",
                             &r),
                     200);
    assert_null(outcome(r.json, "control"));
    h_resp_free(&r);
    assert_true(counter_of("cg0", "promo") <= 1);
}

static json_t *peek(const char *id, const char *member, int dry)
{
    char body[200];
    http_resp r;
    json_t *outs;
    snprintf(body, sizeof body, "{\"id\":\"%s\",\"type\":\"peek\",\"member\":\"%s\"}", id, member);
    if (h_http(punchd.port, "POST", dry ? "/v1/events?dry_run=1" : "/v1/events", body, &r) ||
        r.status != 200)
        fail_msg("peek %s: %ld %s", id, r.status, r.body);
    outs = json_incref(json_object_get(r.json, "outcomes"));
    h_resp_free(&r);
    return outs;
}

static void dry_runs_take_nothing(void **state)
{
    /* A dry run says what would happen, and takes neither the prize nor the number. */
    for (int i = 0; i < 3; i++) {
        json_t *o = peek("pk-1", "pam", 1);
        assert_true(json_is_true(json_object_get(json_array_get(o, 0), "won")));
        assert_int_equal(json_integer_value(json_object_get(json_array_get(o, 2), "n")), 1);
        json_decref(o);
    }
    json_t *o = peek("pk-1", "pam", 0);
    assert_true(json_is_true(json_object_get(json_array_get(o, 0), "won")));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(o, 2), "n")), 1);
    json_decref(o);
    /* The pool of one is gone now, for dry runs too. */
    o = peek("pk-2", "pia", 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(o, 0), "reason")),
                        "pool_empty");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(o, 1), "n")), 2);
    json_decref(o);
    json_t *d = get_json("/v1/draws/peek");
    assert_int_equal(json_integer_value(json_object_get(d, "wins")), 1);
    json_decref(d);
}

static void draw_routes_refuse_bad_requests(void **state)
{
    static const struct {
        const char *method, *path, *body;
        long status;
    } cases[] = {
        {"GET", "/v1/draws/Bad%20Name", NULL, 404},
        {"GET", "/v1/draws/scratch/nope", NULL, 404},
        {"POST", "/v1/draws/scratch", NULL, 405},
        {"GET", "/v1/draws/scratch/rotate", NULL, 405},
        {"POST", "/v1/draws/scratch/refill", "{\"prize\":\"tv\"}", 400},
        {"POST", "/v1/draws/scratch/refill", "{\"prize\":\"radio\",\"add\":1}", 404},
        {"GET", "/v1/leaderboards/workouts?top=0", NULL, 400},
        {"GET", "/v1/leaderboards/workouts?member=", NULL, 400},
        {"GET", "/v1/leaderboards/workouts/x", NULL, 404},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        http_resp r;
        assert_int_equal(h_http(punchd.port, cases[i].method, cases[i].path, cases[i].body, &r), 0);
        if (r.status != cases[i].status || !json_object_get(r.json, "error"))
            fail_msg("%s %s: want %ld with an error, got %ld %s", cases[i].method, cases[i].path,
                     cases[i].status, r.status, r.body);
        h_resp_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pool_of_50_gives_exactly_50),
        cmocka_unit_test(every_draw_is_audited_from_the_revealed_secret),
        cmocka_unit_test(one_win_a_week_holds_under_a_race),
        cmocka_unit_test(a_budget_is_never_overspent),
        cmocka_unit_test(a_friend_rewards_once),
        cmocka_unit_test(a_lost_referral_reward_is_delivered),
        cmocka_unit_test(leaderboards_rank_per_period),
        cmocka_unit_test(unconfirmed_claims_are_swept),
        cmocka_unit_test(every_tenth_visit_of_all_members),
        cmocka_unit_test(a_failed_event_never_hands_its_number_out_twice),
        cmocka_unit_test(streaks_and_levels_show_on_the_member),
        cmocka_unit_test(campaigns_and_control_groups),
        cmocka_unit_test(dry_runs_take_nothing),
        cmocka_unit_test(draw_routes_refuse_bad_requests),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
