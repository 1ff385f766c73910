/*
 * Unit tests for core/common: RFC 3339 parsing and formatting (pc_time_parse,
 * pc_time_format), the SHA digests as hex, and pc_fail filling a pc_error.
 * Each test walks a table of cases and reports every case that went wrong,
 * naming it and what it saw, before failing.
 */
#include "punchcard/common.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Milliseconds since the epoch of the instants the tables use (checked with date -u). */
#define T_2026_11_25_0830 1795595400000LL
#define T_2024_02_29      1709164800000LL
#define T_2000_02_29_1200 951825600000LL
#define T_2016_12_31_2359 1483228799000LL

struct parse_case {
    const char *name;
    const char *in;
    int ok;
    int64_t ms; /* when ok */
};

static const struct parse_case parse_cases[] = {
    {"the epoch", "1970-01-01T00:00:00Z", 1, 0},
    {"UTC with Z", "2026-11-25T08:30:00Z", 1, T_2026_11_25_0830},
    {"lowercase t and z", "2026-11-25t08:30:00z", 1, T_2026_11_25_0830},
    {"space instead of T", "2026-11-25 08:30:00Z", 1, T_2026_11_25_0830},
    {"offset +01:00", "2026-11-25T09:30:00+01:00", 1, T_2026_11_25_0830},
    {"offset -05:30", "2026-11-25T03:00:00-05:30", 1, T_2026_11_25_0830},
    {"offset -00:00", "2026-11-25T08:30:00-00:00", 1, T_2026_11_25_0830},
    {"offset crosses the day", "2026-11-26T00:30:00+16:00", 1, T_2026_11_25_0830},
    {"three fraction digits", "2026-11-25T08:30:00.250Z", 1, T_2026_11_25_0830 + 250},
    {"one fraction digit", "2026-11-25T08:30:00.5Z", 1, T_2026_11_25_0830 + 500},
    {"two fraction digits", "2026-11-25T08:30:00.07Z", 1, T_2026_11_25_0830 + 70},
    {"six fraction digits truncate", "2026-11-25T08:30:00.123999Z", 1, T_2026_11_25_0830 + 123},
    {"fraction with offset", "2026-11-25T09:30:00.001+01:00", 1, T_2026_11_25_0830 + 1},
    {"leap day 2024", "2024-02-29T00:00:00Z", 1, T_2024_02_29},
    {"leap day 2000 (div by 400)", "2000-02-29T12:00:00Z", 1, T_2000_02_29_1200},
    {"leap second clamps to :59", "2016-12-31T23:59:60Z", 1, T_2016_12_31_2359},
    {"before the epoch", "1969-12-31T23:59:59Z", 1, -1000},

    {"leap day in a common year", "2023-02-29T00:00:00Z", 0, 0},
    {"leap day 1900 (div by 100)", "1900-02-29T00:00:00Z", 0, 0},
    {"February 30", "2024-02-30T00:00:00Z", 0, 0},
    {"April 31", "2026-04-31T00:00:00Z", 0, 0},
    {"month 13", "2026-13-01T00:00:00Z", 0, 0},
    {"month 0", "2026-00-10T00:00:00Z", 0, 0},
    {"day 0", "2026-01-00T00:00:00Z", 0, 0},
    {"hour 24", "2026-01-01T24:00:00Z", 0, 0},
    {"minute 60", "2026-01-01T23:60:00Z", 0, 0},
    {"second 61", "2026-01-01T23:59:61Z", 0, 0},
    {"no zone", "2026-11-25T08:30:00", 0, 0},
    {"date only", "2026-11-25", 0, 0},
    {"no seconds", "2026-11-25T08:30Z", 0, 0},
    {"dot without digits", "2026-11-25T08:30:00.Z", 0, 0},
    {"junk after Z", "2026-11-25T08:30:00Zx", 0, 0},
    {"offset without minutes", "2026-11-25T08:30:00+01", 0, 0},
    {"offset without colon", "2026-11-25T08:30:00+0100", 0, 0},
    {"offset hour 24", "2026-11-25T08:30:00+24:00", 0, 0},
    {"offset minute 60", "2026-11-25T08:30:00+01:60", 0, 0},
    {"two-digit year", "26-11-25T08:30:00Z", 0, 0},
    {"slashes", "2026/11/25T08:30:00Z", 0, 0},
    {"single-digit month", "2026-1-25T08:30:00Z", 0, 0},
    {"leading space", " 2026-11-25T08:30:00Z", 0, 0},
    {"letters in the year", "20x6-11-25T08:30:00Z", 0, 0},
    {"separator x", "2026-11-25x08:30:00Z", 0, 0},
    {"empty", "", 0, 0},
    {"truncated mid-date", "2026-11", 0, 0},
};

static void test_time_parse(void **state)
{
    int failures = 0;
    (void)state;
    for (size_t i = 0; i < N(parse_cases); i++) {
        const struct parse_case *c = &parse_cases[i];
        int64_t ms = 0x5a5a5a5a;
        int rc = pc_time_parse(c->in, &ms);
        if (c->ok && (rc != 0 || ms != c->ms)) {
            print_error("case \"%s\": pc_time_parse(\"%s\") gave rc=%d ms=%lld, want 0 and %lld\n",
                        c->name, c->in, rc, (long long)ms, (long long)c->ms);
            failures++;
        } else if (!c->ok && rc != -1) {
            print_error("case \"%s\": pc_time_parse(\"%s\") accepted it (ms=%lld), want -1\n",
                        c->name, c->in, (long long)ms);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

struct format_case {
    const char *name;
    int64_t ms;
    const char *out;
};

static const struct format_case format_cases[] = {
    {"the epoch", 0, "1970-01-01T00:00:00.000Z"},
    {"one millisecond", 1, "1970-01-01T00:00:00.001Z"},
    {"999 ms", 999, "1970-01-01T00:00:00.999Z"},
    {"a morning in 2026", T_2026_11_25_0830 + 250, "2026-11-25T08:30:00.250Z"},
    {"leap day", T_2024_02_29, "2024-02-29T00:00:00.000Z"},
    {"the last ms of 9999", 253402300799999LL, "9999-12-31T23:59:59.999Z"},
    {"one ms before the epoch", -1, "1969-12-31T23:59:59.999Z"},
    {"one second before the epoch", -1000, "1969-12-31T23:59:59.000Z"},
};

/* Formats each instant, compares the text, and parses it back to the same instant. */
static void test_time_format_round_trip(void **state)
{
    int failures = 0;
    (void)state;
    for (size_t i = 0; i < N(format_cases); i++) {
        const struct format_case *c = &format_cases[i];
        char out[32];
        int64_t back = 0;
        memset(out, 'x', sizeof out);
        pc_time_format(c->ms, out, sizeof out);
        if (strcmp(out, c->out) != 0) {
            print_error("case \"%s\": pc_time_format(%lld) wrote \"%.31s\", want \"%s\"\n", c->name,
                        (long long)c->ms, out, c->out);
            failures++;
            continue;
        }
        if (pc_time_parse(out, &back) != 0 || back != c->ms) {
            print_error("case \"%s\": parsing \"%s\" back gave %lld, want %lld\n", c->name, out,
                        (long long)back, (long long)c->ms);
            failures++;
        }
    }
    /* Every parse case that succeeds formats to text that parses to the same instant. */
    for (size_t i = 0; i < N(parse_cases); i++) {
        const struct parse_case *c = &parse_cases[i];
        char out[32];
        int64_t ms, back = -7;
        if (!c->ok || pc_time_parse(c->in, &ms) != 0)
            continue;
        pc_time_format(ms, out, sizeof out);
        if (pc_time_parse(out, &back) != 0 || back != ms) {
            print_error("case \"%s\": \"%s\" -> %lld -> \"%s\" -> %lld\n", c->name, c->in,
                        (long long)ms, out, (long long)back);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

/* pc_time_format() writes what gmtime_r() says, over years 0-9999 and past both ends. */
static void test_time_format_as_gmtime(void **state)
{
    static const int64_t edges[] = {0,
                                    -1,
                                    999,
                                    -1000,
                                    -1001,
                                    86399999,
                                    86400000,
                                    951782400000LL,    /* 2000-02-29 */
                                    4107542400000LL,   /* 2100-03-01 */
                                    -62167219200000LL, /* 0000-01-01 */
                                    -62167219200001LL,
                                    253402300799999LL, /* 9999-12-31T23:59:59.999 */
                                    253402300800000LL};
    uint64_t x = 88172645463325252ULL;
    int failures = 0;
    (void)state;
    for (size_t i = 0; i < N(edges) + 200000; i++) {
        int64_t ms;
        char ours[80], want[80];
        struct tm tm;
        time_t secs;
        if (i < N(edges)) {
            ms = edges[i];
        } else {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ms = (int64_t)(x % 320000000000000ULL) - 63000000000000LL;
        }
        secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
        gmtime_r(&secs, &tm);
        snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)(ms - (int64_t)secs * 1000));
        pc_time_format(ms, ours, sizeof ours);
        if (strcmp(ours, want) && failures++ < 10)
            print_error("%lld: \"%s\", gmtime_r says \"%s\"\n", (long long)ms, ours, want);
    }
    assert_int_equal(failures, 0);
}

/* A log line (text), as stderr gets it: the fields in order, a value cut where the line is full. */
static void test_logline_text(void **state)
{
    char big[3000], out[4096];
    FILE *f = tmpfile();
    int saved = dup(2);
    pc_logline l;
    size_t n;
    (void)state;
    assert_non_null(f);
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    dup2(fileno(f), 2);
    pc_logline_begin(&l, PC_LOG_INFO, "access");
    pc_logline_str(&l, "route", "/v1/x");
    pc_logline_str(&l, "said", "two words");
    pc_logline_int(&l, "status", 200);
    pc_logline_end(&l);
    pc_logline_begin(&l, PC_LOG_INFO, "access");
    pc_logline_str(&l, "k", big);
    pc_logline_int(&l, "n", 5);
    pc_logline_end(&l);
    dup2(saved, 2);
    close(saved);
    rewind(f);
    n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    fclose(f);
    /* "2026-12-02T05:35:53.187Z info access ..." */
    assert_true(n > 25);
    if (strncmp(out + 24, " info access route=/v1/x said=\"two words\" status=200\n", 53))
        fail_msg("first line: %.80s", out);
    {
        const char *second = strchr(out, '\n') + 1;
        size_t len = strlen(second);
        /* 2040 bytes (the buffer less 8), then the newline; no room left for n=5 */
        assert_int_equal(len, 2041);
        assert_int_equal(strncmp(second + 24, " info access k=aaaa", 19), 0);
        assert_int_equal(strspn(second + 24 + 15, "a"), 2040 - 24 - 15);
        assert_int_equal(second[2040], '\n');
    }
}

struct digest_case {
    const char *name;
    const char *in;
    const char *sha256;
    const char *sha1;
};

static const struct digest_case digest_cases[] = {
    {"abc (FIPS 180-2 vector)", "abc",
     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
     "a9993e364706816aba3e25717850c26c9cd0d89d"},
    {"empty", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
    {"448-bit vector", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
     "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
};

static void test_digests(void **state)
{
    int failures = 0;
    (void)state;
    for (size_t i = 0; i < N(digest_cases); i++) {
        const struct digest_case *c = &digest_cases[i];
        char h256[65], h1[41];
        memset(h256, 'x', sizeof h256);
        memset(h1, 'x', sizeof h1);
        pc_sha256_hex(c->in, strlen(c->in), h256);
        pc_sha1_hex(c->in, strlen(c->in), h1);
        if (memchr(h256, '\0', sizeof h256) == NULL || strcmp(h256, c->sha256) != 0) {
            print_error("case \"%s\": sha256 \"%.64s\", want \"%s\"\n", c->name, h256, c->sha256);
            failures++;
        }
        if (memchr(h1, '\0', sizeof h1) == NULL || strcmp(h1, c->sha1) != 0) {
            print_error("case \"%s\": sha1 \"%.40s\", want \"%s\"\n", c->name, h1, c->sha1);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

/* pc_format_int writes what printf does; pc_strtoll reads what strtoll does, end included. */
static void test_int_text(void **state)
{
    static const int64_t ints[] = {0,
                                   1,
                                   -1,
                                   9,
                                   10,
                                   99,
                                   100,
                                   -100,
                                   12345,
                                   1796166392434,
                                   -99999999,
                                   INT64_MAX,
                                   INT64_MIN,
                                   1000000000000000000,
                                   999999999999999999};
    static const char *const texts[] = {"0",
                                        "-0",
                                        "7",
                                        "-7",
                                        "42|x",
                                        "1796166392434|",
                                        "999999999999999999",
                                        "1000000000000000000",
                                        "9223372036854775807",
                                        "9223372036854775808",
                                        "-9223372036854775808",
                                        "-9223372036854775809",
                                        "",
                                        "-",
                                        "+5",
                                        " 5",
                                        "--5",
                                        "12a",
                                        "0x10",
                                        "00012"};
    (void)state;
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
        char ours[32], theirs[32];
        ours[pc_format_int(ours, ints[i])] = '\0';
        snprintf(theirs, sizeof theirs, "%lld", (long long)ints[i]);
        assert_string_equal(ours, theirs);
    }
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        char *e1, *e2;
        long long a = pc_strtoll(texts[i], &e1), b = strtoll(texts[i], &e2, 10);
        if (a != b || e1 != e2)
            fail_msg("\"%s\": %lld (end %td), strtoll %lld (end %td)", texts[i], a, e1 - texts[i],
                     b, e2 - texts[i]);
    }
}

static void test_fail_fills_error(void **state)
{
    pc_error err;
    char longer[700];
    (void)state;

    memset(&err, 0x7f, sizeof err);
    assert_int_equal(pc_fail(&err, 422, "mechanic_error", "%s: %d stars", "dessert", 7), -1);
    assert_int_equal(err.status, 422);
    assert_string_equal(err.code, "mechanic_error");
    assert_string_equal(err.message, "dessert: 7 stars");

    /* A NULL error is allowed and still returns -1. */
    assert_int_equal(pc_fail(NULL, 400, "bad_request", "ignored %d", 1), -1);

    /* A message longer than the buffer is cut, NUL-terminated, not overrun. */
    memset(longer, 'm', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    assert_int_equal(pc_fail(&err, 400, "bad_request", "%s", longer), -1);
    assert_int_equal(strlen(err.message), sizeof err.message - 1);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.code, "bad_request");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_parse),   cmocka_unit_test(test_time_format_round_trip),
        cmocka_unit_test(test_digests),      cmocka_unit_test(test_fail_fills_error),
        cmocka_unit_test(test_int_text),     cmocka_unit_test(test_time_format_as_gmtime),
        cmocka_unit_test(test_logline_text),
    };
    return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
