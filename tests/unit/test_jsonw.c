/*
 * The compact JSON writer (core/common/jsonw.c) against jansson's own
 * json_dumps(JSON_COMPACT): the same text for every case, and text that parses
 * back to an equal value.
 */
#include "common/jsonw-internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const cases[] = {
    "{}",
    "[]",
    "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}",
    "[0,-1,9223372036854775807,-9223372036854775808,42]",
    "[1.5,-0.25,1e+300,2.0,0.1,1e-07,-2.5e-300]",
    "[\"quote \\\" backslash \\\\ slash / tab \\t nl \\n cr \\r bs \\b ff \\f\"]",
    "[\"\\u0001\\u001f control\",\"caf\\u00e9 \\u20ac \\ud83d\\ude00\"]",
    "{\"id\":\"o-1\",\"outcomes\":[{\"mechanic\":\"fuel\",\"kind\":\"stars\",\"delta\":86}],"
    "\"duplicate\":false}",
    "{\"\":\"\",\"key with \\\"quotes\\\"\":\"\"}",
    "{\"b\":{\"z\":1,\"y\":[{\"d\":1,\"c\":2}]},\"a\":0,\"ab\":1,\"B\":2,\"\\u00e9\":3,\"k1\":1,"
    "\"k10\":1,"
    "\"k2\":1,\"k3\":1,\"k4\":1,\"k5\":1,\"k6\":1,\"k7\":1,\"k8\":1,\"k9\":1}",
};

static void same_as_jansson(void **state)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_error_t e;
        json_t *v = json_loads(cases[i], 0, &e), *back;
        char *ours, *theirs;
        size_t len;
        if (!v)
            fail_msg("case %zu does not parse: %s", i, e.text);
        ours = pc_json_dump(v, &len);
        theirs = json_dumps(v, JSON_COMPACT);
        assert_non_null(ours);
        if (strcmp(ours, theirs))
            fail_msg("case %zu: ours %s, jansson %s", i, ours, theirs);
        assert_int_equal(len, strlen(ours));
        free(theirs);
        free(ours);
        ours = pc_json_dump_sorted(v, &len);
        theirs = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
        if (strcmp(ours, theirs))
            fail_msg("case %zu sorted: ours %s, jansson %s", i, ours, theirs);
        assert_int_equal(len, strlen(ours));
        back = json_loads(ours, 0, NULL);
        assert_true(json_equal(v, back));
        json_decref(back);
        free(ours);
        free(theirs);
        json_decref(v);
    }
}

/* Strings of every length around the buffer's growth (256, 512, ...), plain and escaped. */
static void strings_across_growth(void **state)
{
    json_t *a = json_array();
    char buf[700], *ours, *theirs;
    for (size_t n = 0; n < sizeof buf; n += 7) {
        memset(buf, 'x', n);
        if (n > 3)
            buf[n / 2] = (n & 8) ? '"' : '\n';
        json_array_append_new(a, json_stringn(buf, n));
        ours = pc_json_dump(a, NULL);
        theirs = json_dumps(a, JSON_COMPACT);
        assert_non_null(ours);
        if (strcmp(ours, theirs))
            fail_msg("length %zu: ours %s, jansson %s", n, ours, theirs);
        free(ours);
        free(theirs);
    }
    json_decref(a);
}

/*
 * One byte of each kind at every place of strings of 1 to 40 bytes, so at every
 * place within and across the 8-byte words the writer scans at once: the bytes
 * it escapes (controls, '"', '\\') and their neighbours that it must not
 * (' ', '!', '#', '[', ']', 0x7f, and a two-byte UTF-8 character).
 */
static void every_byte_at_every_place(void **state)
{
    static const char *const bytes[] = {"\x01", "\x1f", "\n", "\"", "\\",   " ",
                                        "!",    "#",    "[",  "]",  "\x7f", "\xc3\xa9"};
    char buf[48];
    (void)state;
    for (size_t n = 1; n <= 40; n++) {
        for (size_t at = 0; at < n; at++) {
            for (size_t k = 0; k < sizeof bytes / sizeof *bytes; k++) {
                size_t bl = strlen(bytes[k]);
                json_t *v;
                char *ours, *theirs;
                memset(buf, 'y', sizeof buf);
                memcpy(buf + at, bytes[k], bl);
                v = json_stringn(buf, n + bl - 1);
                assert_non_null(v);
                ours = pc_json_dump(v, NULL);
                theirs = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                assert_non_null(ours);
                if (strcmp(ours, theirs))
                    fail_msg("length %zu, byte %zu at %zu: ours %s, jansson %s", n, k, at, ours,
                             theirs);
                free(ours);
                free(theirs);
                json_decref(v);
            }
        }
    }
}

static void strings_with_nul_bytes(void **state)
{
    json_t *v = json_stringn("a\0b", 3);
    char *ours = pc_json_dump(v, NULL);
    assert_string_equal(ours, "\"a\\u0000b\"");
    free(ours);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_as_jansson),
        cmocka_unit_test(strings_with_nul_bytes),
        cmocka_unit_test(strings_across_growth),
        cmocka_unit_test(every_byte_at_every_place),
    };
    return cmocka_run_group_tests_name("jsonw", tests, NULL, NULL);
}
