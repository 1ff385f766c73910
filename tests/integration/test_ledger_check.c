/*
 * The ledger promise that `punch test` checks after every case
 * (session_check_ledgers): it holds after real events, and it catches a
 * balance that moved without a ledger entry, or an entry without its move.
 */
#include "cli/cli.h"
#include "store/store-internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(catches_what_the_ledger_does_not_explain),
    };
    return cmocka_run_group_tests_name("ledger_check", tests, NULL, NULL);
}
