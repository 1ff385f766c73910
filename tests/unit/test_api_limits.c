/*
 * Unit tests for the numeric edges of the mechanics API: counts that would
 * overflow (freezes, rolling windows, a balance at the largest integer, a
 * global counter past what Redis's doubles hold), amounts and options that
 * are NaN, infinite, fractional or zero, discount percentages out of range,
 * and text that is not UTF-8. Each is refused with a message that says what
 * is wrong (never "out of memory"); built with UBSan (make test SANITIZE=1)
 * an overflow here aborts, so a missing check fails the suite.
 */
#include "punchcard/event.h"
#include "lua/mechanics-internal.h"
#include "model/member-internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define MAXI "9223372036854775807"

struct api_case {
    const char *name;
    const char *const *pairs; /* the member before the event (NULL-terminated), or NULL */
    const char *top;          /* the file's top level, before the mechanic, or NULL */
    const char *code;         /* the run's body */
    const char *want;         /* a substring of the error, or NULL for success */
};

static const char *const max_window[] = {"v", "1", "w:w:202611", MAXI, "w:w:202610", MAXI, NULL};

static const struct api_case cases[] = {
    /* Counts that would overflow. */
    {"freeze twice at the largest integer", NULL, NULL,
     "m:freeze('s', math.maxinteger) m:freeze('s', math.maxinteger)", "too many freezes"},
    {"freeze adds up", NULL, NULL, "assert(m:freeze('s', 2) == 2 and m:freeze('s') == 3)", NULL},
    {"track past the largest integer", NULL, NULL, "m:track('w', math.maxinteger) m:track('w', 1)",
     "overflow"},
    {"track past the smallest integer", NULL, NULL,
     "m:track('w', math.mininteger) m:track('w', -1)", "overflow"},
    {"rolling over two full months", max_window, NULL, "m:rolling('w', 2)", "total overflows"},
    {"rolling of one full month", max_window, NULL, "assert(m:rolling('w', 1) == math.maxinteger)",
     NULL},
    {"earn 1 more at the largest balance", NULL, NULL,
     "m:earn('stars', math.maxinteger) m:earn('stars', 1)", "balance overflow"},
    {"earn up to the largest balance", NULL, NULL,
     "m:earn('stars', math.maxinteger - 1) assert(m:earn('stars', 1) == math.maxinteger)", NULL},
    {"incr past the largest integer", NULL, NULL, "m:incr('c', math.maxinteger) m:incr('c', 1)",
     "overflows"},
    {"global_add of the largest integer", NULL, NULL, "global_add('g', math.maxinteger)",
     "within -1000000000000000 and 1000000000000000"},
    {"global_add of the smallest integer", NULL, NULL, "global_add('g', math.mininteger)",
     "within"},
    {"global_add of a fraction", NULL, NULL, "global_add('g', 0.5)", "whole number"},
    /* Amounts and options. */
    {"earn NaN", NULL, NULL, "m:earn('stars', 0/0)", "whole number"},
    {"earn infinity", NULL, NULL, "m:earn('stars', 1/0)", "whole number"},
    {"earn a fraction", NULL, NULL, "m:earn('stars', 0.5)", "whole number"},
    {"earn a negative amount", NULL, NULL, "m:earn('stars', -1)", "must not be negative"},
    {"expires_in of half a day", NULL, NULL, "m:earn('stars', 1, {expires_in = 0.5})",
     "or a whole number of days from 0 (never) to 700000, got 0.5"},
    {"expires_in of half a day in a string", NULL, NULL,
     "m:earn('stars', 1, {expires_in = '0.5d'})", "expires_in must be like"},
    {"expires_in of 1e300 days", NULL, NULL, "m:earn('stars', 1, {expires_in = 1e300})",
     "expires_in must be like"},
    {"expires_in of NaN", NULL, NULL, "m:earn('stars', 1, {expires_in = 0/0})",
     "expires_in must be"},
    {"expires_in of the largest integer", NULL, NULL,
     "m:earn('stars', 1, {expires_in = math.maxinteger})", "expires_in must be"},
    {"expires_in of 700,000 days expires after it is earned", NULL, NULL,
     "m:earn('stars', 1, {expires_in = 700000})\n"
     "  local amount, at = m:expiring('stars')\n"
     "  assert(amount == 1 and at > 1795000000 + 700000 * 86400 - 86400, tostring(at))",
     NULL},
    {"expires_in of 100,000 years is too long", NULL, NULL,
     "m:earn('stars', 1, {expires_in = '100001y'})", "expires_in must be"},
    {"pending of the largest integer", NULL, NULL,
     "m:earn('stars', 1, {pending = math.maxinteger})",
     "pending must be like \"14d\", or a whole number of days"},
    {"pending of a fraction", NULL, NULL, "m:earn('stars', 1, {pending = 1.5})", "pending must be"},
    {"pending of 700,000 days is pending", NULL, NULL,
     "m:earn('stars', 1, {pending = 700000}) assert(m:pending('stars') == 1)", NULL},
    {"a currency declared with expires_in = 0.5", NULL, "currency 'pts' { expires_in = 0.5 }", "",
     "got 0.5"},
    {"cashback of NaN percent", NULL, NULL, "m:cashback('stars', 100, 0/0)",
     "percent must be from 0 to 100"},
    {"cashback of the largest amount", NULL, NULL, "m:cashback('stars', math.maxinteger, 50)",
     "too large"},
    {"discount of -50", NULL, NULL, "return discount(-50)",
     "percent must be a number from 0 to 100"},
    {"discount of 1e300", NULL, NULL, "return discount(1e300)", "from 0 to 100"},
    {"discount of NaN", NULL, NULL, "return discount(0/0)", "from 0 to 100"},
    {"discount of 15", NULL, NULL, "return discount(15)", NULL},
    {"draw chance NaN", NULL, NULL, "m:draw('d', {chance = 0/0, prizes = {'p'}})",
     "chance must be a number from 0 to 1"},
    {"streak freezes option past its bound", NULL, NULL, "m:streak('s', {freezes = 1e18})",
     "freezes must be a whole number"},
    /* Text. */
    {"a message that is not UTF-8", NULL, NULL, "return message('caf\\xe9')", "text must be UTF-8"},
    {"a message with a surrogate", NULL, NULL, "return message('\\xed\\xa0\\x80')",
     "text must be UTF-8"},
    {"a message field that is not UTF-8", NULL, NULL, "return message('hi', {note = '\\xff'})",
     "UTF-8 strings"},
    {"a message field named in bad UTF-8", NULL, NULL, "return message('hi', {['\\xff'] = 1})",
     "named in UTF-8"},
    {"a message field that is NaN", NULL, NULL, "return message('hi', {n = 0/0})",
     "finite numbers"},
    {"a message in UTF-8", NULL, NULL, "return message('caf\\xc3\\xa9 \\u{1F600}')", NULL},
};

static int run_case(const struct api_case *c, char *why, size_t whylen)
{
    static const mech_limits lim = {0, 0, 60000};
    char text[2048], body[256];
    mech_source src = {"a.lua", text, 0};
    const char *const *pairs = c->pairs;
    pc_error err = {0};
    pc_event ev;
    member_state *m;
    mechset *set;
    size_t n = 0;
    int rc;

    snprintf(text, sizeof text,
             "%s\nmechanic 'x' { on = 'order', run = function(ev, m)\n  %s\nend }\n",
             c->top ? c->top : "", c->code);
    src.len = strlen(text);
    set = mechset_compile(&src, 1, &lim, &err);
    if (!set) {
        if (c->want && strstr(err.message, c->want))
            return 0;
        snprintf(why, whylen, "compile: %s", err.message);
        return -1;
    }
    m = member_new("ann");
    while (pairs && pairs[n])
        n++;
    if (!m || (n && member_load_pairs(m, n, pairs, NULL)))
        fail_msg("member");
    snprintf(body, sizeof body,
             "{\"id\": \"e1\", \"type\": \"order\", \"member\": \"ann\","
             " \"at\": \"2026-11-25T08:30:00Z\"}");
    if (pc_event_parse(body, strlen(body), &ev, &err))
        fail_msg("event: %s", err.message);
    rc = mechset_run(set, &ev, m, &err);
    pc_event_clear(&ev);
    member_free(m);
    mechset_unref(set);
    if (c->want ? rc == 0 || !strstr(err.message, c->want) : rc != 0) {
        snprintf(why, whylen, "%s", rc ? err.message : "succeeded");
        return -1;
    }
    return 0;
}

static void test_numeric_and_text_edges(void **state)
{
    int failures = 0;
    char why[600];
    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        if (run_case(&cases[i], why, sizeof why)) {
            print_error("case \"%s\": %s; want %s%s\n", cases[i].name, why,
                        cases[i].want ? "an error with " : "success",
                        cases[i].want ? cases[i].want : "");
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numeric_and_text_edges),
    };
    return cmocka_run_group_tests_name("api limits", tests, NULL, NULL);
}
