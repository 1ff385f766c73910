/*
 * Unit tests for builtin_figures() (core/engine/builtin.c): the program's
 * figures an event moves, read from its decided member (ledger entries and
 * outcomes) at the commit instead of queued as an effect of jansson values.
 * Each move in order: per entry its currency and issued / redeemed / expired /
 * reversed (a release none), per offer's code "@<offer>", per discount
 * "%discounts".
 */
#include "engine/builtin.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void add(void *arg, const char *currency, const char *kind, int64_t amount)
{
    char line[160];
    snprintf(line, sizeof line, "%s %s %lld\n", currency, kind, (long long)amount);
    strcat(arg, line);
}

static void move(member_state *m, const char *mechanic, const char *currency, const char *kind,
                 int64_t delta, int64_t pending)
{
    member_move mv = {.mechanic = mechanic,
                      .currency = currency,
                      .kind = kind,
                      .delta = delta,
                      .pending = pending,
                      .allow_negative = 1};
    int64_t bal;
    const char *err = NULL;
    assert_int_equal(member_move_balance(m, &mv, &bal, &err), 0);
}

static void test_figures_in_order(void **state)
{
    static const char *const pairs[] = {"v", "1", "b:stars", "100", "pb:stars", "10"};
    member_state *m = member_new("ann");
    char got[1024] = "";
    (void)state;
    assert_non_null(m);
    assert_int_equal(member_load_pairs(m, 6, pairs, NULL), 0);

    move(m, "fuel", "stars", NULL, 50, 0);
    move(m, "fuel", "stars", NULL, 36, 5);           /* pending counts as issued */
    move(m, "release", "stars", "release", 10, -10); /* moved to available: none */
    move(m, "redeem", "stars", "redeem", -20, 0);
    move(m, "expiry", "stars", "expire", -3, 0);
    move(m, "reverse", "points", "reverse", -7, 0);
    move(m, "undo", "stars", NULL, 0, 0); /* nothing moved: none */
    assert_non_null(member_add_outcome(
        m, "dessert", json_pack("{s:s, s:s}", "kind", "prize", "prize", "dessert")));
    assert_non_null(
        member_add_outcome(m, "shop",
                           json_pack("{s:s, s:s, s:s, s:I}", "kind", "discount", "offer", "spring",
                                     "code", "SPRING", "off", (json_int_t)250)));
    assert_non_null(member_add_outcome(
        m, "shop",
        json_pack("{s:s, s:i, s:I}", "kind", "discount", "percent", 10, "off", (json_int_t)0)));
    assert_non_null(
        member_add_outcome(m, "reverse",
                           json_pack("{s:s, s:s, s:s, s:b, s:I}", "kind", "code_returned", "offer",
                                     "autumn", "code", "AUT", "cap", 1, "off", (json_int_t)40)));
    assert_non_null(
        member_add_outcome(m, "reverse",
                           json_pack("{s:s, s:s, s:s, s:b, s:I}", "kind", "code_returned", "offer",
                                     "winter", "code", "WIN", "cap", 0, "off", (json_int_t)40)));
    assert_non_null(member_add_outcome(m, "reverse",
                                       json_pack("{s:s, s:s, s:I}", "kind", "discount_returned",
                                                 "event", "o1", "off", (json_int_t)15)));

    builtin_figures(m, add, got);
    assert_string_equal(got, "stars issued 91\n"
                             "stars redeemed 20\n"
                             "stars expired 3\n"
                             "points reversed 7\n"
                             "@spring uses 1\n"
                             "@spring discount 250\n"
                             "@autumn returned 1\n"
                             "@autumn discount_returned 40\n"
                             "%discounts count 1\n"
                             "%discounts granted 250\n"
                             "%discounts count 1\n"
                             "%discounts returns 1\n"
                             "%discounts returned 40\n"
                             "%discounts returns 1\n"
                             "%discounts returned 15\n");
    member_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_figures_in_order),
    };
    return cmocka_run_group_tests_name("figures", tests, NULL, NULL);
}
