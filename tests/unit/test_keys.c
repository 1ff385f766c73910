/*
 * Unit tests for core/store/keys.c: reading a member's id back out of a key
 * (the walk over every member), which must never hand out another member's id
 * or one that is not an id, whatever a damaged keyspace holds.
 */
#include "store/keys-internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(member_of_keys),
        cmocka_unit_test(member_of_small_buffer),
    };
    return cmocka_run_group_tests_name("keys", tests, NULL, NULL);
}
