/*
 * Unit tests for core/model/outcomes.c, an event's outcomes: the plain records
 * of balance moves and counters written as text byte for byte as their jansson
 * objects were (key order, figures merged, pending figures kept once shown,
 * keys added after the figures), beside outcomes kept as jansson objects; the
 * values view and its refresh after a change; an entry that came to zero
 * taking its outcome along; the outcomes taken out of a member.
 */
#include "common/jsonw-internal.h"
#include "model/member-internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static member_state *with_stars(int64_t stars)
{
    char v[32];
    const char *pairs[] = {"v", "1", "b:stars", v};
    member_state *m = member_new("ann");
    snprintf(v, sizeof v, "%lld", (long long)stars);
    assert_non_null(m);
    assert_int_equal(member_load_pairs(m, 4, pairs, NULL), 0);
    return m;
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

static void counter(member_state *m, const char *mechanic, const char *name, int64_t value)
{
    member_outcome *o = member_counter_outcome(m, mechanic, name);
    if (!o)
        o = member_add_record(m, MO_COUNTER, "counter", mechanic, name);
    assert_non_null(o);
    o->value = value;
    member_outcome_changed(m);
}

/* m's outcomes as the response writes them. */
static char *written(const member_state *m)
{
    pc_jbuf b = {0};
    char *text;
    member_outcomes_write(&b, m);
    text = pc_jbuf_finish(&b, NULL);
    assert_non_null(text);
    return text;
}

/* The text written equals want, and what jansson writes of the values view. */
static void written_is(member_state *m, const char *want)
{
    char *got = written(m), *dumped = json_dumps(member_outcomes_json(m), JSON_COMPACT);
    assert_non_null(dumped);
    if (strcmp(got, want) || strcmp(dumped, want))
        print_error("written %s\njansson %s\nwant    %s\n", got, dumped, want);
    assert_string_equal(got, want);
    assert_string_equal(dumped, want);
    free(got);
    free(dumped);
}

static void test_each_kind_written_as_before(void **state)
{
    member_state *m = with_stars(10);
    json_t *prize;
    (void)state;

    move(m, "fuel", "stars", NULL, 50, 0); /* two earns of one mechanic: one outcome */
    counter(m, "dessert", "orders", 3);
    move(m, "fuel", "stars", NULL, 36, 0);
    counter(m, "dessert", "orders", 4); /* the same counter again: its value, in place */
    move(m, "lots", "points", NULL, 0, 5);
    move(m, "lots", "points", NULL, 5, -5); /* pending back to 0: its last figures stay shown */
    move(m, "redeem", "stars", "redeem", -6, 0);
    assert_int_equal(
        member_outcome_set(m, m->entries[2].outcome, "reason", json_string("a \"gift\"\n\x01")), 0);
    prize = json_pack("{s:s, s:s, s:f, s:b}", "kind", "prize", "prize", "dessert", "weight", 0.5,
                      "big", 1);
    assert_non_null(member_add_outcome(m, "dessert", prize));

    written_is(m, "[{\"mechanic\":\"fuel\",\"kind\":\"stars\",\"currency\":\"stars\",\"delta\":86,"
                  "\"balance\":96},"
                  "{\"mechanic\":\"dessert\",\"kind\":\"counter\",\"counter\":\"orders\","
                  "\"value\":4},"
                  "{\"mechanic\":\"lots\",\"kind\":\"stars\",\"currency\":\"points\",\"delta\":5,"
                  "\"balance\":5,\"pending\":5,\"pending_balance\":5},"
                  "{\"mechanic\":\"redeem\",\"kind\":\"redeem\",\"currency\":\"stars\","
                  "\"delta\":-6,\"balance\":90,\"reason\":\"a \\\"gift\\\"\\n\\u0001\"},"
                  "{\"mechanic\":\"dessert\",\"kind\":\"prize\",\"prize\":\"dessert\","
                  "\"weight\":0.5,\"big\":true}]");
    assert_string_equal(member_outcome_kind(m->outs[0]), "stars");
    assert_string_equal(member_outcome_kind(m->outs[1]), "counter");
    assert_string_equal(member_outcome_kind(m->outs[3]), "redeem");
    assert_string_equal(member_outcome_kind(m->outs[4]), "prize");
    member_free(m);
}

/* A prize or a message as a record, with and without the fields its table added. */
static void named(member_state *m, const char *mechanic, const char *kind, const char *field,
                  const char *name, json_t *extra)
{
    member_outcome *o = member_add_record(m, MO_NAMED, kind, mechanic, name);
    assert_non_null(o);
    o->field = field;
    o->obj = extra;
}

static void test_prizes_and_messages_written_as_before(void **state)
{
    member_state *m = with_stars(0);
    (void)state;

    named(m, "dessert", "prize", "prize", "dessert", NULL);
    named(m, "dessert", "prize", "prize", "cake", json_pack("{s:i, s:b}", "size", 2, "big", 0));
    named(m, "hello", "message", "text", "caf\u00e9 \"x\"\n", NULL);
    named(m, "hello", "message", "text", "hi", json_pack("{s:s, s:f}", "lang", "en", "w", 1.5));
    written_is(m,
               "[{\"mechanic\":\"dessert\",\"kind\":\"prize\",\"prize\":\"dessert\"},"
               "{\"mechanic\":\"dessert\",\"kind\":\"prize\",\"prize\":\"cake\",\"size\":2,"
               "\"big\":false},"
               "{\"mechanic\":\"hello\",\"kind\":\"message\",\"text\":\"caf\u00e9 \\\"x\\\"\\n\"},"
               "{\"mechanic\":\"hello\",\"kind\":\"message\",\"text\":\"hi\",\"lang\":\"en\","
               "\"w\":1.5}]");
    assert_string_equal(member_outcome_kind(m->outs[1]), "prize");
    assert_string_equal(member_outcome_kind(m->outs[2]), "message");
    member_free(m);
}

static void test_view_follows_changes(void **state)
{
    member_state *m = with_stars(0);
    json_t *view;
    (void)state;

    written_is(m, "[]");
    counter(m, "dessert", "orders", 1);
    view = member_outcomes_json(m);
    assert_ptr_equal(member_outcomes_json(m), view); /* kept while nothing changes */
    assert_int_equal(json_integer_value(json_object_get(json_array_get(view, 0), "value")), 1);
    counter(m, "dessert", "orders", 2);
    move(m, "fuel", "stars", NULL, 7, 0);
    written_is(m, "[{\"mechanic\":\"dessert\",\"kind\":\"counter\",\"counter\":\"orders\","
                  "\"value\":2},{\"mechanic\":\"fuel\",\"kind\":\"stars\",\"currency\":\"stars\","
                  "\"delta\":7,\"balance\":7}]");
    member_free(m);
}

static void test_finish_drops_the_outcome_of_a_zero_entry(void **state)
{
    member_state *m = with_stars(10);
    (void)state;

    move(m, "undo", "stars", NULL, 3, 0);
    move(m, "fuel", "stars", NULL, 2, 0);
    move(m, "undo", "stars", NULL, -3, 0);
    counter(m, "dessert", "orders", 1);
    member_finish(m);
    /* fuel's outcome shows the balance its move left (before undo's -3). */
    assert_int_equal(m->nentries, 1);
    assert_int_equal(m->nouts, 2);
    assert_ptr_equal(m->entries[0].outcome, m->outs[0]);
    written_is(m, "[{\"mechanic\":\"fuel\",\"kind\":\"stars\",\"currency\":\"stars\",\"delta\":2,"
                  "\"balance\":15},{\"mechanic\":\"dessert\",\"kind\":\"counter\",\"counter\":"
                  "\"orders\",\"value\":1}]");
    /* After the commit: none left, and the next event starts afresh. */
    assert_int_equal(member_settle(m, 2), 0);
    written_is(m, "[]");
    move(m, "fuel", "stars", NULL, 1, 0);
    written_is(m, "[{\"mechanic\":\"fuel\",\"kind\":\"stars\",\"currency\":\"stars\",\"delta\":1,"
                  "\"balance\":13}]");
    member_free(m);
}

static void test_taken_out(void **state)
{
    member_state *m = with_stars(0);
    member_outcome **outs;
    size_t n;
    (void)state;

    move(m, "fuel", "stars", NULL, 4, 0);
    assert_non_null(
        member_add_outcome(m, "dessert", json_pack("{s:s, s:s}", "kind", "prize", "prize", "x")));
    member_outcomes_take(m, &outs, &n);
    assert_int_equal(n, 2);
    assert_int_equal(m->nouts, 0);
    assert_null(m->entries[0].outcome);
    written_is(m, "[]");
    assert_int_equal(member_settle(m, 2), 0);
    member_free(m);
    /* The outcomes outlive their member. */
    assert_string_equal(member_outcome_kind(outs[0]), "stars");
    assert_string_equal(outs[0]->mechanic, "fuel");
    assert_int_equal(outs[0]->delta, 4);
    assert_string_equal(member_outcome_kind(outs[1]), "prize");
    member_outcomes_free(outs, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_kind_written_as_before),
        cmocka_unit_test(test_prizes_and_messages_written_as_before),
        cmocka_unit_test(test_view_follows_changes),
        cmocka_unit_test(test_finish_drops_the_outcome_of_a_zero_entry),
        cmocka_unit_test(test_taken_out),
    };
    return cmocka_run_group_tests_name("outcomes", tests, NULL, NULL);
}
