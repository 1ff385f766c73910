/*
 * punch's session reads through the engine (punchcard/query.h), on its
 * virtual clock: the ledger promise that `punch test` checks after every
 * case (session_check_ledgers) holds after real events, and catches a
 * balance that moved without a ledger entry, or an entry without its move;
 * draws, boards and counters read for the clock's period; a wipe leaves
 * nothing of the namespace.
 */
#include "cli/cli.h"
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void send_order(session *s, const char *id, const char *member)
{
    char body[300];
    json_t *ev, *resp = NULL;
    snprintf(body, sizeof body,
             "{\"id\":\"%s\",\"type\":\"order\",\"member\":\"%s\",\"data\":{\"items\":"
             "[{\"category\":\"shop\",\"amount\":100}]}}",
             id, member);
    ev = json_loads(body, 0, NULL);
    assert_int_equal(session_send(s, ev, &resp), 200);
    json_decref(ev);
    json_decref(resp);
}

static void catches_what_the_ledger_does_not_explain(void **state)
{
    session s;
    char err[600] = "";
    redisContext *rc;
    redisReply *r;

    assert_int_equal(session_open(&s, NULL), 0);
    assert_int_equal(session_load(&s, SOURCE_DIR "/scripts", "lc", 0), 0);
    send_order(&s, "o1", "ann");
    send_order(&s, "o2", "ann");
    send_order(&s, "o1", "bo");
    assert_int_equal(session_check_ledgers(&s, err, sizeof err), 0);

    rc = redisConnectUnix(s.redis.socket);
    assert_non_null(rc);
    assert_int_equal(rc->err, 0);
    /* A balance moved behind the ledger's back. */
    r = redisCommand(rc, "HINCRBY lc:{ann}:state b:stars 1");
    freeReplyObject(r);
    assert_int_equal(session_check_ledgers(&s, err, sizeof err), -1);
    if (!strstr(err, "b:stars is 61 but its ledger sums to 60"))
        fail_msg("message: %s", err);
    r = redisCommand(rc, "HINCRBY lc:{ann}:state b:stars -1");
    freeReplyObject(r);
    assert_int_equal(session_check_ledgers(&s, err, sizeof err), 0);
    /* A ledger entry whose currency has no balance at all. */
    r = redisCommand(rc, "XADD lc:{bo}:ledger * currency points delta 5 balance 5");
    freeReplyObject(r);
    assert_int_equal(session_check_ledgers(&s, err, sizeof err), -1);
    if (!strstr(err, "b:points"))
        fail_msg("message: %s", err);
    redisFree(rc);
    session_close(&s);
}

static const char game_lua[] =
    "mechanic 'spin' { on = 'spin', run = function(ev, m)\n"
    "  m:draw('wheel', {chance = 1, prizes = {'mug'}, pool = 5, refill = 'day'}) end }\n"
    "mechanic 'steps' { on = 'walk', run = function(ev, m)\n"
    "  m:score('steps', 10, {per = 'month'}) end }\n"
    "mechanic 'nth' { on = 'visit', run = function(ev, m) global_count('visits') end }\n";

static void send_type(session *s, const char *id, const char *type)
{
    char body[200];
    json_t *ev, *resp = NULL;
    snprintf(body, sizeof body, "{\"id\":\"%s\",\"type\":\"%s\",\"member\":\"ann\"}", id, type);
    ev = json_loads(body, 0, NULL);
    if (session_send(s, ev, &resp) != 200)
        fail_msg("%s: %s", id, json_dumps(resp, 0));
    json_decref(ev);
    json_decref(resp);
}

/* The draw's first prize, the board's first entry: borrowed from body. */
static json_t *first(json_t *body, const char *list)
{
    return json_array_get(json_object_get(body, list), 0);
}

static long long int_at(json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

static void reads_follow_the_session_clock(void **state)
{
    session s;
    json_t *b = NULL;
    char dir[] = "/tmp/punch-reads-XXXXXX";
    int64_t march10;

    assert_non_null(mkdtemp(dir));
    h_write_file(dir, "game.lua", game_lua);
    assert_int_equal(session_open(&s, NULL), 0);
    assert_int_equal(session_load(&s, dir, "rd", 0), 0);
    assert_int_equal(pc_time_parse("2026-03-10T09:00:00Z", &march10), 0);
    s.now_ms = march10;

    /* Nothing drawn or scored yet: nil to a spec; a counter nobody counted is 0. */
    assert_int_equal(session_draw(&s, "wheel", &b), 404);
    json_decref(b);
    assert_int_equal(session_leaderboard(&s, "steps", 10, "ann", NULL, &b), 404);
    json_decref(b);
    assert_int_equal(session_counter(&s, "visits", &b), 200);
    assert_int_equal(int_at(b, "value"), 0);
    json_decref(b);

    send_type(&s, "s1", "spin");
    send_type(&s, "w1", "walk");
    send_type(&s, "v1", "visit");
    send_type(&s, "v2", "visit");
    assert_int_equal(session_draw(&s, "wheel", &b), 200);
    assert_string_equal(json_string_value(json_object_get(first(b, "prizes"), "period")),
                        "2026-03-10");
    assert_int_equal(int_at(first(b, "prizes"), "left"), 4);
    json_decref(b);
    /* The board's effect is written after the commit: give it a few turns of the loop. */
    for (int i = 0; i < 100; i++) {
        assert_int_equal(session_leaderboard(&s, "steps", 10, "ann", NULL, &b), 200);
        if (json_array_size(json_object_get(b, "top")))
            break;
        json_decref(b);
        b = NULL;
        session_counter(&s, "visits", &b);
        json_decref(b);
    }
    assert_string_equal(json_string_value(json_object_get(b, "period")), "2026-03");
    assert_int_equal(int_at(first(b, "top"), "score"), 10);
    assert_int_equal(int_at(json_object_get(b, "member"), "rank"), 1);
    json_decref(b);
    assert_int_equal(session_counter(&s, "visits", &b), 200);
    assert_int_equal(int_at(b, "value"), 2);
    json_decref(b);

    /* The clock moves: a new day's pool is whole, a new month's board empty. */
    s.now_ms = march10 + 23 * 86400000LL;
    assert_int_equal(session_draw(&s, "wheel", &b), 200);
    assert_string_equal(json_string_value(json_object_get(first(b, "prizes"), "period")),
                        "2026-04-02");
    assert_int_equal(int_at(first(b, "prizes"), "left"), 5);
    assert_int_equal(int_at(b, "wins"), 1);
    json_decref(b);
    assert_int_equal(session_leaderboard(&s, "steps", 10, NULL, NULL, &b), 200);
    assert_string_equal(json_string_value(json_object_get(b, "period")), "2026-04");
    assert_int_equal(json_array_size(json_object_get(b, "top")), 0);
    json_decref(b);
    assert_true(session_count_due(&s) >= 0);

    /* A wipe leaves nothing of the namespace. */
    assert_int_equal(session_wipe(&s), 0);
    assert_int_equal(session_member(&s, "ann", &b), 404);
    json_decref(b);
    assert_int_equal(session_draw(&s, "wheel", &b), 404);
    json_decref(b);
    assert_int_equal(session_counter(&s, "visits", &b), 200);
    assert_int_equal(int_at(b, "value"), 0);
    json_decref(b);
    session_close(&s);
    h_rm_dir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(catches_what_the_ledger_does_not_explain),
        cmocka_unit_test(reads_follow_the_session_clock),
    };
    return cmocka_run_group_tests_name("ledger_check", tests, NULL, NULL);
}
