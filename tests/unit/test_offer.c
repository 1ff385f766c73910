/*
 * Unit tests for offers and promo codes without Redis: what a code string may
 * be and how it compares (core/model/offer.c), personal codes, the member's
 * records of codes used, and the declarations `offer "name" {...}` refuses
 * when a file loads (core/lua/api_offers.c), each with its message. What a
 * code does in events (caps, reversals, reasons) is tests/integration/
 * test_offers.c and examples/promo-codes.
 */
#include "punchcard/common.h"
#include "lua/mechanics-internal.h"
#include "model/offer-internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void codes_compare_by_their_normal_form(void **state)
{
    static const struct {
        const char *in, *want; /* want NULL: refused, with a reason containing why */
        const char *why;
    } cases[] = {
        {"summer-10", "SUMMER-10", NULL},
        {"  Summer-10  ", "SUMMER-10", NULL}, /* spaces around dropped */
        {"two words", "TWO WORDS", NULL},     /* inside kept */
        {"ÉtÉ ☀", "ÉTÉ ☀", NULL},             /* only ASCII letters change case */
        {"été", "éTé", NULL},                 /* é is not É */
        {"コード10", "コード10", NULL},
        {"", NULL, "not empty"},
        {"   ", NULL, "not empty"},
        {"a\tb", NULL, "control"},
        {"a\x7f", NULL, "control"},
        {"a\xc2\x85", NULL, "control"}, /* C1 NEL */
        {"a\xff", NULL, "UTF-8"},
        {"a\xc0\xaf", NULL, "UTF-8"},                                        /* overlong '/' */
        {"a\xed\xa0\x80", NULL, "UTF-8"},                                    /* a surrogate */
        {"0123456789012345678901234567890123456789012345678901234567890123", /* 64 */
         "0123456789012345678901234567890123456789012345678901234567890123", NULL},
        {"01234567890123456789012345678901234567890123456789012345678901234", NULL, "at most 64"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        char out[OFFER_CODE_MAX + 1];
        const char *why = NULL;
        int rc = offer_code_normalize(cases[i].in, strlen(cases[i].in), out, &why);
        if (cases[i].want ? rc != 0 || strcmp(out, cases[i].want)
                          : rc == 0 || !strstr(why, cases[i].why))
            fail_msg("case %zu '%s': rc %d, got '%s' (%s)", i, cases[i].in, rc, rc ? "" : out,
                     why ? why : "");
    }
    /* 64 characters of two bytes each fit; a 65th does not. */
    char many[200] = "", out[OFFER_CODE_MAX + 1];
    const char *why;
    for (int i = 0; i < 64; i++)
        strcat(many, "é");
    assert_int_equal(offer_code_normalize(many, strlen(many), out, &why), 0);
    strcat(many, "é");
    assert_int_equal(offer_code_normalize(many, strlen(many), out, &why), -1);
}

static void personal_codes_are_stable_and_distinct(void **state)
{
    char a[OFFER_CODE_MAX + 1], b[OFFER_CODE_MAX + 1], c[OFFER_CODE_MAX + 1];
    offer_personal_code("welcome5", NULL, "ann", "e-1", 0, a);
    offer_personal_code("welcome5", NULL, "ann", "e-1", 0, b);
    assert_string_equal(a, b); /* a retried event makes the same code */
    assert_int_equal(strlen(a), strlen("WELCOME5-") + 8);
    assert_int_equal(strncmp(a, "WELCOME5-", 9), 0);
    assert_int_equal(strspn(a + 9, "0123456789ABCDEFGHJKMNPQRSTVWXYZ"), 8);
    offer_personal_code("welcome5", NULL, "ann", "e-1", 1, c);
    assert_string_not_equal(a, c);
    offer_personal_code("welcome5", NULL, "bo", "e-1", 0, c);
    assert_string_not_equal(a, c);
    offer_personal_code("welcome5", "HELLO", "ann", "e-1", 0, c);
    assert_int_equal(strncmp(c, "HELLO-", 6), 0);
    assert_string_equal(c + 6, a + 9);
}

static void the_member_keeps_its_uses_and_codes(void **state)
{
    member_state *m = member_new("ann");
    member_code c = {.issued_ms = 1000}, got;
    int64_t at;
    char ev[PC_ID_MAX + 1];
    assert_non_null(m);
    assert_int_equal(member_offer_use(m, "summer", &at, ev), -1);
    assert_int_equal(member_set_offer_use(m, "summer", 5000, "o:1|x"), 0);
    assert_int_equal(member_offer_use(m, "summer", &at, ev), 0);
    assert_int_equal(at, 5000);
    assert_string_equal(ev, "o:1|x"); /* an event id may hold ':' and more */
    assert_string_equal(member_get(m, "ou:summer"), "5000|o:1|x");
    assert_int_equal(member_set_offer_use(m, "summer", 0, NULL), 0);
    assert_int_equal(member_offer_use(m, "summer", &at, ev), -1);

    strcpy(c.offer, "vip");
    assert_int_equal(member_code_set(m, "VIP-ABCD1234", &c), 0);
    strcpy(c.offer, "vipx");
    assert_int_equal(member_code_set(m, "VIPX-ABCD1234", &c), 0);
    assert_int_equal(member_code_count(m, NULL), 2);
    assert_int_equal(member_code_count(m, "vip"), 1);
    assert_int_equal(member_code_get(m, "VIP-ABCD1234", &got), 0);
    assert_string_equal(got.offer, "vip");
    assert_int_equal(got.issued_ms, 1000);
    assert_int_equal(got.used_ms, 0);
    got.used_ms = 2000;
    strcpy(got.event, "e:7");
    assert_int_equal(member_code_set(m, "VIP-ABCD1234", &got), 0);
    assert_int_equal(member_code_get(m, "VIP-ABCD1234", &got), 0);
    assert_int_equal(got.used_ms, 2000);
    assert_string_equal(got.event, "e:7");
    assert_int_equal(member_code_get(m, "VIP-NOPE", &got), -1);
    assert_int_equal(member_code_set(m, "VIP-ABCD1234", NULL), 0);
    assert_int_equal(member_code_count(m, NULL), 1);
    assert_int_equal(member_field_kind("ou:summer", NULL), MEMBER_F_OFFER_USE);
    assert_int_equal(member_field_kind("oc:VIP-X", NULL), MEMBER_F_CODE);
    assert_int_equal(member_field_kind("o:key", NULL), MEMBER_F_ONCE);
    member_free(m);
}

static void bad_declarations_are_refused_when_the_file_loads(void **state)
{
    static const struct {
        const char *lua, *want; /* want NULL: loads */
    } cases[] = {
        {"offer 'a' { code = 'A', discount = {percent = 10} }", NULL},
        {"offer 'a' { personal = true, discount = {amount = 5}, valid_for = '30d' }", NULL},
        {"offer 'a' { code = 'A', discount = {percent = 12.5}, cap = 3, min_order = 0,\n"
         "  from = '2026-01-01', to = '2026-02-01T12:00:00Z', tz = 'Europe/Paris',\n"
         "  once_per_member = true, renew_every = '1mo', description = 'x' }",
         NULL},
        {"offer 'a' { discount = {percent = 10} }", "code is the code members type"},
        {"offer 'a' { code = 'A', personal = true, discount = {percent = 10} }",
         "a personal offer has no shared code"},
        {"offer 'a' { code = 'A' }", "discount is {percent = 10} or {amount = 500}"},
        {"offer 'a' { code = 'A', discount = {percent = 10, amount = 5} }", "one of them"},
        {"offer 'a' { code = 'A', discount = {percent = 0} }", "above 0, at most 100"},
        {"offer 'a' { code = 'A', discount = {percent = 101} }", "above 0, at most 100"},
        {"offer 'a' { code = 'A', discount = {amount = 1.5} }", "whole amount above 0"},
        {"offer 'a' { code = 'A', discount = {off = 1} }", "unknown option 'off'"},
        {"offer 'a' { code = 'A', discount = {percent = 1}, renew_every = '2w' }",
         "renew_every renews once_per_member"},
        {"offer 'a' { code = 'A', discount = {percent = 1}, once_per_member = true,\n"
         "  renew_every = 'often' }",
         "renew_every is a duration"},
        {"offer 'a' { code = 'A', discount = {percent = 1}, from = '2026-02-01',\n"
         "  to = '2026-01-01' }",
         "to must come after from"},
        {"offer 'a' { code = 'A', discount = {percent = 1}, from = 'soon' }",
         "'soon' is not a date"},
        {"offer 'a' { code = 'A', discount = {percent = 1}, cap = 0 }", "cap must be a whole"},
        {"offer 'a' { code = 'A', discount = {percent = 1}, min_order = -1 }",
         "min_order must be a whole"},
        {"offer 'a' { code = 'A\\n', discount = {percent = 1} }", "no control characters"},
        {"offer 'a' { code = 'A', discount = {percent = 1}, prefix = 'X' }",
         "prefix and valid_for are for personal offers"},
        {"offer 'a' { personal = true, prefix = 'A-B', discount = {percent = 1} }",
         "prefix is 1-20 of A-Z 0-9 _"},
        {"offer 'a' { code = 'A', discount = {percent = 1}, codes = 'B' }",
         "unknown option 'codes'"},
        {"offer 'a' { code = 'summer', discount = {percent = 1} }\n"
         "offer 'b' { code = ' SUMMER ', discount = {percent = 1} }",
         "its code is offer 'a''s code already"},
        {"offer 'a' { code = 'A', discount = {percent = 1} }\n"
         "offer 'a' { code = 'B', discount = {percent = 1} }",
         "offer 'a' is declared twice"},
        {"offer 'a' { personal = true, discount = {percent = 1} }\n"
         "offer 'b' { personal = true, prefix = 'A', discount = {percent = 1} }",
         "prefix A is offer 'a''s already"},
        {"offer 'Bad!' { code = 'A', discount = {percent = 1} }", "bad offer name"},
        {"mechanic 't' { on = 'order', run = function(ev, m)\n"
         "  offer 'late' { code = 'L', discount = {percent = 1} } end }",
         NULL}, /* loads; declaring inside a run fails that event */
    };
    for (size_t i = 0; i < N(cases); i++) {
        mech_source src = {"offers.lua", cases[i].lua, strlen(cases[i].lua)};
        pc_error err = {0};
        mechset *set = mechset_compile(&src, 1, NULL, &err);
        if (cases[i].want ? set || !strstr(err.message, cases[i].want) : !set)
            fail_msg("case %zu: %s\n  got: %s", i, cases[i].lua, set ? "loaded" : err.message);
        mechset_unref(set);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(codes_compare_by_their_normal_form),
        cmocka_unit_test(personal_codes_are_stable_and_distinct),
        cmocka_unit_test(the_member_keeps_its_uses_and_codes),
        cmocka_unit_test(bad_declarations_are_refused_when_the_file_loads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
