/*
 * The fast JSON reader (core/common/jsonr.c) against jansson's own
 * json_loadb(JSON_REJECT_DUPLICATES): every case is accepted by both (with equal
 * values, the order of keys included) or refused by both; and a refusal says
 * where.
 */
#include "common/jsonr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const cases[] = {
    /* accepted */
    "{}",
    "[]",
    " \t\r\n{ \"a\" : 1 , \"b\" : [ true , false , null ] } \n",
    "{\"id\":\"o-1\",\"type\":\"order\",\"member\":\"ann\",\"at\":\"2026-02-01T10:00:00Z\","
    "\"data\":{\"items\":[{\"category\":\"fuel\",\"amount\":500},{\"category\":\"shop\","
    "\"amount\":125}]}}",
    "[0,-0,-1,9223372036854775807,-9223372036854775808,42]",
    "[1.5,-0.25,1e300,1E+2,2.0,0.1,1e-07,-2.5e-300,1e-400,4.9e-324]",
    "[\"quote \\\" backslash \\\\ slash \\/ tab \\t nl \\n cr \\r bs \\b ff \\f\"]",
    "[\"\\u0001\\u001f control\",\"caf\\u00e9 \\u20AC \\ud83d\\ude00\"]",
    "[\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"]",
    "{\"\":\"\",\"key with \\\"quotes\\\"\":\"\",\"\\u00e9\":1}",
    "{\"b\":1,\"a\":2,\"c\":{\"z\":[],\"y\":{}}}",
    "[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]",
    /* refused */
    "",
    "   ",
    "\"a bare string\"",
    "42",
    "true",
    "{",
    "{\"a\"",
    "{\"a\":",
    "{\"a\":1",
    "{\"a\":1,}",
    "[1,]",
    "[1 2]",
    "{\"a\" 1}",
    "{a:1}",
    "{\"a\":1}{",
    "{\"a\":1} x",
    "{\"a\":1,\"a\":2}",
    "[01]",
    "[1.]",
    "[.5]",
    "[1e]",
    "[+1]",
    "[-]",
    "[9223372036854775808]",
    "[-9223372036854775809]",
    "[99999999999999999999999]",
    "[1e400]",
    "[tru]",
    "[nul]",
    "[True]",
    "[\"unterminated]",
    "[\"bad escape \\x\"]",
    "[\"short \\u12\"]",
    "[\"nul \\u0000\"]",
    "{\"nul \\u0000 key\":1}",
    "[\"lone high \\ud83d\"]",
    "[\"lone low \\ude00\"]",
    "[\"tab\tinside\"]",
    "[\"bad utf-8 \xc3\"]",
    "[\"overlong \xc0\xaf\"]",
    "[\"surrogate \xed\xa0\x80\"]",
    "[\"beyond \xf4\x90\x80\x80\"]",
    "[\"stray \x80\"]",
};

static void same_as_jansson(void **state)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_error_t e;
        pc_json_error ours_err = {0};
        size_t len = strlen(cases[i]);
        json_t *theirs = json_loadb(cases[i], len, JSON_REJECT_DUPLICATES, &e);
        json_t *ours = pc_json_parse(cases[i], len, &ours_err);
        if (!theirs != !ours)
            fail_msg("case %zu %s: jansson %s, ours %s (%s)", i, cases[i],
                     theirs ? "accepts" : "refuses", ours ? "accepts" : "refuses",
                     ours ? "" : ours_err.text);
        if (theirs) {
            char *a = json_dumps(theirs, JSON_COMPACT), *b = json_dumps(ours, JSON_COMPACT);
            if (!json_equal(theirs, ours) || strcmp(a, b))
                fail_msg("case %zu: jansson %s, ours %s", i, a, b);
            free(a);
            free(b);
        } else if (ours_err.line < 1 || ours_err.column < 1 || !ours_err.text[0]) {
            fail_msg("case %zu: refused without saying where", i);
        }
        json_decref(theirs);
        json_decref(ours);
    }
}

/* Not NUL-terminated: the reader stops at len. */
static void reads_len_bytes_only(void **state)
{
    static const char text[] = "{\"a\":1}garbage";
    json_t *v = pc_json_parse(text, 7, NULL);
    assert_non_null(v);
    assert_int_equal(json_integer_value(json_object_get(v, "a")), 1);
    json_decref(v);
    assert_null(pc_json_parse(text, 6, NULL));
}

static void error_position(void **state)
{
    pc_json_error err;
    assert_null(pc_json_parse("{\n  \"a\": tru\n}", 14, &err));
    assert_int_equal(err.line, 2);
    assert_int_equal(err.column, 8);
}

/* Nesting as deep as jansson allows, and no deeper. */
static void depth(void **state)
{
    enum { DEEP = 2100 };
    char *text = malloc(2 * DEEP + 1);
    json_t *v;
    for (int i = 0; i < DEEP; i++) {
        text[i] = '[';
        text[2 * DEEP - 1 - i] = ']';
    }
    assert_null(pc_json_parse(text, 2 * DEEP, NULL));
    assert_null(json_loadb(text, 2 * DEEP, 0, NULL));
    v = pc_json_parse(text + (DEEP - 2000), 4000, NULL);
    assert_non_null(v);
    json_decref(v);
    free(text);
}

/*
 * pc_jdoc_parse() (a request's data as tokens) takes and refuses what pc_json_parse() does,
 * its values the same (key order included), and an object's sorted keys in byte order.
 */
static void doc_same_as_values(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t len = strlen(cases[i]);
        json_t *values = pc_json_parse(cases[i], len, NULL), *back;
        pc_json_error err = {0};
        pc_jdoc *d = pc_jdoc_parse(cases[i], len, &err);
        if (!values != !d)
            fail_msg("case %zu %s: values %s, tokens %s (%s)", i, cases[i],
                     values ? "accept" : "refuse", d ? "accept" : "refuse", d ? "" : err.text);
        if (!d) {
            if (err.line < 1 || err.column < 1 || !err.text[0])
                fail_msg("case %zu: refused without saying where", i);
            continue;
        }
        back = pc_jdoc_json(d, 0);
        {
            char *a = json_dumps(values, JSON_COMPACT), *b = json_dumps(back, JSON_COMPACT);
            if (!json_equal(values, back) || strcmp(a, b))
                fail_msg("case %zu: values %s, from tokens %s", i, a, b);
            free(a);
            free(b);
        }
        for (size_t t = 0; t < d->ntok; t++) {
            const pc_jtok *o = &d->tok[t];
            for (uint32_t j = 1; o->type == JSON_OBJECT && j < o->n; j++) {
                const pc_jtok *x = &d->tok[d->sorted[o->off + j - 1]];
                const pc_jtok *y = &d->tok[d->sorted[o->off + j]];
                int c = memcmp(d->str + x->off, d->str + y->off, x->n < y->n ? x->n : y->n);
                if (c > 0 || (c == 0 && x->n >= y->n))
                    fail_msg("case %zu: keys %s, %s out of order", i, d->str + x->off,
                             d->str + y->off);
            }
        }
        json_decref(back);
        json_decref(values);
        pc_jdoc_free(d);
    }
}

/* A key given twice is refused however many keys the object has (its sort finds it). */
static void doc_duplicates(void **state)
{
    char text[2048];
    (void)state;
    for (int n = 2; n <= 60; n += 29) {
        for (int dup = 0; dup < 2; dup++) {
            size_t len = 0;
            pc_jdoc *d;
            json_t *v;
            len += (size_t)snprintf(text + len, sizeof text - len, "[1,{\"o\":{");
            for (int k = 0; k < n; k++)
                len += (size_t)snprintf(text + len, sizeof text - len, "%s\"k%d\":%d", k ? "," : "",
                                        (k * 7919) % 101, k);
            if (dup)
                len += (size_t)snprintf(text + len, sizeof text - len, ",\"k%d\":0", 0);
            len += (size_t)snprintf(text + len, sizeof text - len, "}}]");
            d = pc_jdoc_parse(text, len, NULL);
            v = pc_json_parse(text, len, NULL);
            if (!d != !v || !d != !!dup)
                fail_msg("%d keys, a duplicate %d: tokens %s, values %s", n, dup,
                         d ? "accept" : "refuse", v ? "accept" : "refuse");
            pc_jdoc_free(d);
            json_decref(v);
        }
    }
}

/* The tokens read as deep as the values, and no deeper; only len bytes. */
static void doc_depth_and_len(void **state)
{
    enum { DEEP = 2100 };
    char *text = malloc(2 * DEEP + 1);
    static const char small[] = "{\"a\":1}garbage";
    pc_jdoc *d;
    (void)state;
    for (int i = 0; i < DEEP; i++) {
        text[i] = '[';
        text[2 * DEEP - 1 - i] = ']';
    }
    assert_null(pc_jdoc_parse(text, 2 * DEEP, NULL));
    d = pc_jdoc_parse(text + (DEEP - 2048), 4096, NULL);
    assert_non_null(d);
    assert_int_equal(d->ntok, 2048);
    pc_jdoc_free(d);
    assert_null(pc_jdoc_parse(text + (DEEP - 2049), 4098, NULL));
    free(text);
    d = pc_jdoc_parse(small, 7, NULL);
    assert_non_null(d);
    pc_jdoc_free(d);
    assert_null(pc_jdoc_parse(small, 6, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_as_jansson),    cmocka_unit_test(reads_len_bytes_only),
        cmocka_unit_test(error_position),     cmocka_unit_test(depth),
        cmocka_unit_test(doc_same_as_values), cmocka_unit_test(doc_duplicates),
        cmocka_unit_test(doc_depth_and_len),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
