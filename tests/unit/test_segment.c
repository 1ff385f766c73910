/*
 * Unit tests for core/model/segment.c, a broadcast's segment:
 *  - segment_check: every key and value a marketer may write is accepted,
 *    anything else refused with a message naming the key;
 *  - segment_has: a member is in the segment when every key holds, judged on
 *    its tier, attributes, badges, balances and timeline.
 */
#include "model/segment-internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define MARCH_1 1772323200000LL /* 2026-03-01T00:00:00Z */
#define JUNE_1  1780272000000LL /* 2026-06-01T00:00:00Z */

static json_t *parse(const char *text)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    return v;
}

static void checks(void **state)
{
    static const char *const good[] = {
        "null",
        "{}",
        "{\"tier\": \"gold\"}",
        "{\"tier\": [\"gold\", \"platinum\"]}",
        "{\"attributes\": {\"country\": \"FR\", \"lang\": [\"fr\", \"de\"]}}",
        "{\"badges\": [\"vip\"]}",
        "{\"min_balance\": {\"stars\": 100}}",
        "{\"joined_before\": \"2026-03-01T00:00:00Z\", \"active_since\": \"2026-06-01\"}",
        "{\"inactive_since\": \"2026-06-01T00:00:00Z\", \"joined_after\": \"2026-01-01\"}",
    };
    static const struct {
        const char *segment, *says;
    } bad[] = {
        {"\"gold\"", "segment must be an object"},
        {"[1]", "segment must be an object"},
        {"{\"tier\": 1}", "segment.tier"},
        {"{\"tier\": []}", "segment.tier"},
        {"{\"tier\": [\"gold\", [\"x\"]]}", "segment.tier"},
        {"{\"tier\": \"Gold!\"}", "segment.tier"},
        {"{\"attributes\": {}}", "segment.attributes"},
        {"{\"attributes\": {\"country\": 1}}", "segment.attributes.country"},
        {"{\"attributes\": {\"country\": \"\"}}", "segment.attributes.country"},
        {"{\"attributes\": {\"bad name\": \"x\"}}", "bad name"},
        {"{\"badges\": \"vip\"}", "segment.badges"},
        {"{\"min_balance\": {\"stars\": -1}}", "segment.min_balance.stars"},
        {"{\"min_balance\": {\"stars\": 1.5}}", "segment.min_balance.stars"},
        {"{\"active_since\": 1780272000000}", "segment.active_since"},
        {"{\"joined_before\": \"soon\"}", "segment.joined_before"},
        {"{\"country\": \"FR\"}", "unknown key \"country\""},
    };
    pc_error err;
    for (size_t i = 0; i < N(good); i++) {
        json_t *seg = parse(good[i]);
        if (segment_check(seg, &err))
            fail_msg("%s refused: %s", good[i], err.message);
        json_decref(seg);
    }
    for (size_t i = 0; i < N(bad); i++) {
        json_t *seg = parse(bad[i].segment);
        if (!segment_check(seg, &err) || err.status != 400 || !strstr(err.message, bad[i].says))
            fail_msg("%s: want 400 saying %s, got %d %s", bad[i].segment, bad[i].says, err.status,
                     err.message);
        json_decref(seg);
    }
}

/* ann: gold, FR, badge vip, 150 stars, joined Feb 1, last event May 1. */
static member_state *ann(void)
{
    member_state *m = member_new("ann");
    int64_t bal;
    const char *why;
    assert_non_null(m);
    assert_int_equal(member_set_tier(m, "gold"), 0);
    assert_int_equal(member_set_attr(m, "country", "FR"), 0);
    assert_true(member_award_badge(m, "vip", MARCH_1) >= 0);
    assert_int_equal(member_add_balance(m, "t", "stars", 150, &bal, &why), 0);
    assert_int_equal(member_stamp_event(m, "order", MARCH_1 - 28LL * 86400000), 0);
    assert_int_equal(member_stamp_event(m, "order", JUNE_1 - 31LL * 86400000), 0);
    return m;
}

static void matches(void **state)
{
    static const struct {
        const char *segment;
        int in;
    } cases[] = {
        {"{}", 1},
        {"{\"tier\": \"gold\"}", 1},
        {"{\"tier\": [\"silver\", \"gold\"]}", 1},
        {"{\"tier\": \"silver\"}", 0},
        {"{\"attributes\": {\"country\": \"FR\"}}", 1},
        {"{\"attributes\": {\"country\": [\"DE\", \"FR\"]}}", 1},
        {"{\"attributes\": {\"country\": \"DE\"}}", 0},
        {"{\"attributes\": {\"lang\": \"fr\"}}", 0}, /* not set: not that value */
        {"{\"badges\": [\"vip\"]}", 1},
        {"{\"badges\": [\"vip\", \"founder\"]}", 0},
        {"{\"min_balance\": {\"stars\": 150}}", 1},
        {"{\"min_balance\": {\"stars\": 151}}", 0},
        {"{\"min_balance\": {\"miles\": 1}}", 0},
        {"{\"joined_before\": \"2026-03-01T00:00:00Z\"}", 1},
        {"{\"joined_after\": \"2026-03-01T00:00:00Z\"}", 0},
        {"{\"active_since\": \"2026-04-01T00:00:00Z\"}", 1},
        {"{\"active_since\": \"2026-06-01T00:00:00Z\"}", 0},
        {"{\"inactive_since\": \"2026-06-01T00:00:00Z\"}", 1},
        {"{\"inactive_since\": \"2026-04-01T00:00:00Z\"}", 0},
        {"{\"tier\": \"gold\", \"attributes\": {\"country\": \"FR\"}, \"badges\": [\"vip\"]}", 1},
        {"{\"tier\": \"gold\", \"attributes\": {\"country\": \"DE\"}}", 0},
    };
    member_state *m = ann(), *nobody = member_new("new");
    pc_error err;
    for (size_t i = 0; i < N(cases); i++) {
        json_t *seg = parse(cases[i].segment);
        assert_int_equal(segment_check(seg, &err), 0);
        if (segment_has(seg, m) != cases[i].in)
            fail_msg("%s: ann %s", cases[i].segment, cases[i].in ? "not in" : "in");
        json_decref(seg);
    }
    /* A member never seen has no tier, no timeline: in only where nothing is asked of it. */
    assert_true(segment_has(NULL, nobody));
    {
        json_t *seg = parse("{\"joined_before\": \"2026-03-01T00:00:00Z\"}");
        assert_false(segment_has(seg, nobody));
        json_decref(seg);
        seg = parse("{\"inactive_since\": \"2026-03-01T00:00:00Z\"}");
        assert_true(segment_has(seg, nobody));
        json_decref(seg);
    }
    member_free(m);
    member_free(nobody);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(checks),
        cmocka_unit_test(matches),
    };
    return cmocka_run_group_tests_name("segment", tests, NULL, NULL);
}
