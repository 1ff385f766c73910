/*
 * Unit tests for the member of core/model, one cmocka group per file:
 *  - member.c, the in-memory member one event changes: loading the HGETALL
 *    pairs, balances merged into one ledger entry and one "stars" outcome per
 *    (mechanic, currency), refusals that leave the balance alone, counting an
 *    event once per counter, dropping entries that came to zero;
 *  - render.c, the JSON a GET /v1/members/{id} shows.
 * The hash's format itself (field names, accessors, lot codec) is test_schema.c's.
 */
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

/* 2025-11-25T08:30:00Z in ms since the epoch. */
#define T_BADGE 1764059400000LL

static member_state *loaded(const char *id, size_t n, const char *const *pairs)
{
    member_state *m = member_new(id);
    assert_non_null(m);
    assert_int_equal(member_load_pairs(m, n, pairs, NULL), 0);
    return m;
}

/* Compares a JSON value with JSON text; prints both on a mismatch. */
static int json_is(const char *what, json_t *got, const char *want_text)
{
    json_error_t jerr;
    json_t *want = json_loads(want_text, JSON_DECODE_ANY, &jerr);
    int ok;
    assert_non_null(want);
    ok = json_equal(got, want);
    if (!ok) {
        char *g = got ? json_dumps(got, JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
        print_error("%s: got %s, want %s\n", what, g ? g : "(null)", want_text);
        free(g);
    }
    json_decref(want);
    return ok;
}

static void test_load_pairs(void **state)
{
    static const char *const pairs[] = {"v", "7", "b:stars", "120", "t", "gold", "c:orders", "3"};
    static const char *const raw[] = {"b:points", "42xxxx", "a:city", "Oslo!"};
    static const size_t rawlens[] = {8, 2, 6, 4};
    static const char *const bad_version[] = {"v", "seven"};
    static const char *const odd[] = {"v", "1", "b:stars"};
    member_state *m;
    (void)state;

    m = loaded("ann", N(pairs), pairs);
    assert_string_equal(m->id, "ann");
    assert_int_equal(m->version, 7);
    assert_int_equal(member_get_int(m, "b:stars"), 120);
    assert_string_equal(member_get(m, "t"), "gold");
    assert_int_equal(member_get_int(m, "c:orders"), 3);
    assert_null(member_get(m, "b:points"));
    assert_int_equal(member_get_int(m, "b:points"), 0);
    /* Loading is not a change: nothing is dirty, nothing to commit. */
    for (size_t i = 0; i < m->nfields; i++)
        assert_int_equal(m->fields[i].dirty, 0);
    assert_int_equal(m->nentries, 0);
    assert_int_equal(json_array_size(member_outcomes_json(m)), 0);

    /* Values are taken by length, as hiredis hands them over. */
    assert_int_equal(member_load_pairs(m, N(raw), raw, rawlens), 0);
    assert_int_equal(member_get_int(m, "b:points"), 42);
    assert_string_equal(member_get(m, "a:city"), "Oslo");
    member_free(m);

    m = member_new("ann");
    assert_int_equal(member_load_pairs(m, N(bad_version), bad_version, NULL), -1);
    member_free(m);
    m = member_new("ann");
    assert_int_equal(member_load_pairs(m, N(odd), odd, NULL), -1);
    member_free(m);
}

static void test_add_balance_merges(void **state)
{
    static const char *const pairs[] = {"v", "1", "b:stars", "10"};
    member_state *m;
    int64_t bal = -1;
    const char *err = NULL;
    (void)state;

    m = loaded("ann", N(pairs), pairs);
    assert_int_equal(member_add_balance(m, "fuel", "stars", 5, &bal, &err), 0);
    assert_int_equal(bal, 15);
    assert_int_equal(member_add_balance(m, "fuel", "stars", 3, &bal, &err), 0);
    assert_int_equal(bal, 18);
    assert_int_equal(member_add_balance(m, "fuel", "stars", -2, &bal, &err), 0);
    assert_int_equal(bal, 16);

    /* One entry and one outcome for (fuel, stars), with the merged delta and last balance. */
    assert_int_equal(m->nentries, 1);
    assert_string_equal(m->entries[0].mechanic, "fuel");
    assert_string_equal(m->entries[0].currency, "stars");
    assert_int_equal(m->entries[0].delta, 6);
    assert_int_equal(m->entries[0].balance, 16);
    assert_int_equal(json_array_size(member_outcomes_json(m)), 1);
    assert_true(json_is("fuel/stars outcome", json_array_get(member_outcomes_json(m), 0),
                        "{\"mechanic\": \"fuel\", \"kind\": \"stars\", \"currency\": \"stars\","
                        " \"delta\": 6, \"balance\": 16}"));
    assert_ptr_equal(m->entries[0].outcome, m->outs[0]);
    assert_int_equal(member_get_int(m, "b:stars"), 16);

    /* Another mechanic on the same currency, and the same mechanic on another currency. */
    assert_int_equal(member_add_balance(m, "dessert", "stars", 4, &bal, &err), 0);
    assert_int_equal(bal, 20);
    assert_int_equal(member_add_balance(m, "fuel", "points", 7, &bal, &err), 0);
    assert_int_equal(bal, 7);
    assert_int_equal(m->nentries, 3);
    assert_true(json_is("all outcomes", member_outcomes_json(m),
                        "[{\"mechanic\": \"fuel\", \"kind\": \"stars\", \"currency\": \"stars\","
                        "  \"delta\": 6, \"balance\": 16},"
                        " {\"mechanic\": \"dessert\", \"kind\": \"stars\", \"currency\": \"stars\","
                        "  \"delta\": 4, \"balance\": 20},"
                        " {\"mechanic\": \"fuel\", \"kind\": \"stars\", \"currency\": \"points\","
                        "  \"delta\": 7, \"balance\": 7}]"));
    /* "mechanic" comes first in every outcome, as readers expect. */
    assert_string_equal(
        json_object_iter_key(json_object_iter(json_array_get(member_outcomes_json(m), 1))),
        "mechanic");
    member_free(m);
}

struct refuse_case {
    const char *name;
    const char *start; /* b:stars as loaded */
    int64_t delta;
    const char *why;
};

static const struct refuse_case refuse_cases[] = {
    {"spend more than the balance", "5", -6, "insufficient balance"},
    {"spend from nothing", NULL, -1, "insufficient balance"},
    {"earn past INT64_MAX", "9223372036854775807", 1, "overflow"},
    {"spend past INT64_MIN", "0", INT64_MIN, "insufficient balance"},
};

static void test_add_balance_refuses(void **state)
{
    int failures = 0;
    (void)state;
    for (size_t i = 0; i < N(refuse_cases); i++) {
        const struct refuse_case *c = &refuse_cases[i];
        const char *pairs[] = {"v", "3", "b:stars", c->start};
        member_state *m = loaded("ann", c->start ? 4 : 2, pairs);
        int64_t bal = 12345;
        const char *err = NULL;
        int rc = member_add_balance(m, "fuel", "stars", c->delta, &bal, &err);
        const char *after = member_get(m, "b:stars");
        if (rc != -1 || !err || !strstr(err, c->why)) {
            print_error("case \"%s\": rc=%d err=%s, want -1 and \"%s\"\n", c->name, rc,
                        err ? err : "(null)", c->why);
            failures++;
        }
        if ((c->start == NULL) != (after == NULL) || (after && strcmp(after, c->start) != 0) ||
            m->nentries != 0 || json_array_size(member_outcomes_json(m)) != 0) {
            print_error("case \"%s\": after the refusal b:stars=%s, %zu entries, %zu outcomes; "
                        "want %s and none\n",
                        c->name, after ? after : "(absent)", m->nentries,
                        json_array_size(member_outcomes_json(m)), c->start ? c->start : "(absent)");
            failures++;
        }
        member_free(m);
    }
    assert_int_equal(failures, 0);
}

static void test_count_once(void **state)
{
    static const struct {
        const char *name;
        int want;
    } steps[] = {
        {"orders", 1}, {"orders", 0}, {"visits", 1},   {"order", 1}, {"rders", 1},
        {"orders", 0}, {"visits", 0}, {"orders.x", 1}, {"s", 1},     {"order", 0},
    };
    member_state *m = member_new("ann");
    int failures = 0;
    (void)state;

    for (size_t i = 0; i < N(steps); i++) {
        int got = member_count_once(m, steps[i].name);
        if (got != steps[i].want) {
            print_error("step %zu: member_count_once(\"%s\") = %d, want %d\n", i, steps[i].name,
                        got, steps[i].want);
            failures++;
        }
    }
    /* After a commit the next event counts again. */
    member_settle(m, 1);
    if (member_count_once(m, "orders") != 1) {
        print_error("after member_settle, \"orders\" was still counted\n");
        failures++;
    }
    member_free(m);
    assert_int_equal(failures, 0);
}

/* The value and dirty mark of field name (NULL, 0 when there is none). */
static int field_is(const member_state *m, const char *name, const char *want, int dirty)
{
    const member_field *f = member_field_of(m, name);
    const char *v = f ? f->value : NULL;
    if ((v == NULL) != (want == NULL) || (v && strcmp(v, want)) || (f ? f->dirty : 0) != dirty) {
        print_error("%s: got %s (dirty %d), want %s (dirty %d)\n", name, v ? v : "(none)",
                    f ? f->dirty : 0, want ? want : "(none)", dirty);
        return 0;
    }
    return 1;
}

/*
 * member_stamp_event and member_add_counter look each field up once and write
 * it where it is: the values, the dirty marks, and no field added or moved
 * when nothing changes, on a loaded member, a fresh one and a deleted field.
 */
static void test_stamp_and_add_counter(void **state)
{
    static const char *const pairs[] = {"v",    "3",        "j",    "5000",     "le",
                                        "9000", "lt:order", "9000", "c:orders", "41"};
    member_state *m = loaded("ann", N(pairs), pairs);
    int64_t v = 0;
    (void)state;

    /* Earlier than all: joined moves back, the latest ones stay. */
    assert_int_equal(member_stamp_event(m, "order", 4000), 0);
    assert_true(field_is(m, "j", "4000", 1) && field_is(m, "le", "9000", 0) &&
                field_is(m, "lt:order", "9000", 0));
    /* Between: nothing moves; equal to the latest: nothing either. */
    assert_int_equal(member_stamp_event(m, "order", 9000), 0);
    assert_true(field_is(m, "j", "4000", 1) && field_is(m, "le", "9000", 0) &&
                field_is(m, "lt:order", "9000", 0));
    assert_int_equal(m->nfields, 5);
    /* Later, of a new type: le moves in place, lt:visit is added. */
    assert_int_equal(member_stamp_event(m, "visit", 12000), 0);
    assert_true(field_is(m, "le", "12000", 1) && field_is(m, "lt:visit", "12000", 1) &&
                field_is(m, "lt:order", "9000", 0) && field_is(m, "j", "4000", 1));
    assert_int_equal(m->nfields, 6);
    assert_int_equal(member_last_of(m, "visit"), 12000);
    assert_int_equal(member_last_event_at(m), 12000);
    assert_int_equal(member_joined_at(m), 4000);

    /* Counters: loaded, new, deleted by this event, at the top (nothing changed). */
    assert_int_equal(member_add_counter(m, "orders", 1, &v), 0);
    assert_int_equal(v, 42);
    assert_true(field_is(m, "c:orders", "42", 1));
    assert_int_equal(member_add_counter(m, "orders", -50, &v), 0);
    assert_int_equal(v, -8);
    assert_true(field_is(m, "c:orders", "-8", 1));
    assert_int_equal(member_add_counter(m, "visits", 3, &v), 0);
    assert_true(v == 3 && field_is(m, "c:visits", "3", 1));
    assert_int_equal(member_set_counter(m, "visits", 0) | member_set(m, "c:visits", NULL), 0);
    assert_int_equal(member_add_counter(m, "visits", 2, &v), 0);
    assert_true(v == 2 && field_is(m, "c:visits", "2", 1));
    assert_int_equal(member_set_counter(m, "top", INT64_MAX), 0);
    assert_int_equal(member_add_counter(m, "top", 1, &v), 1);
    assert_true(field_is(m, "c:top", "9223372036854775807", 1));
    assert_int_equal(member_counter(m, "orders"), -8);
    assert_int_equal(m->nfields, 8);
    /* An integer written is read back as written; any other write replaces it. */
    assert_int_equal(member_set(m, "c:orders", "7"), 0);
    assert_int_equal(member_counter(m, "orders"), 7);
    assert_int_equal(member_set_int(m, "c:orders", INT64_MIN) | member_set(m, "c:orders", "7x"), 0);
    assert_int_equal(member_counter(m, "orders"), 0);
    assert_int_equal(member_set_counter(m, "orders", 5) | member_set(m, "c:orders", NULL), 0);
    assert_int_equal(member_counter(m, "orders"), 0);
    assert_int_equal(member_set_counter(m, "orders", 6), 0);
    assert_int_equal(member_load_pairs(m, 2, (const char *const[]){"c:orders", "12"}, NULL), 0);
    assert_int_equal(member_counter(m, "orders"), 12);
    assert_int_equal(member_set_int(m, "c:orders", INT64_MIN), 0);
    assert_true(field_is(m, "c:orders", "-9223372036854775808", 1));
    assert_true(member_counter(m, "orders") == INT64_MIN);

    /* A fresh member: every stamp is a new field. */
    member_free(m);
    m = member_new("bob");
    assert_int_equal(member_stamp_event(m, "order", 7000), 0);
    assert_true(field_is(m, "j", "7000", 1) && field_is(m, "le", "7000", 1) &&
                field_is(m, "lt:order", "7000", 1));
    /* One time written out once for every field it moves, and read back as that integer. */
    assert_int_equal(member_stamp_event(m, "order", 1767225600123LL), 0);
    assert_true(field_is(m, "j", "7000", 1) && field_is(m, "le", "1767225600123", 1) &&
                field_is(m, "lt:order", "1767225600123", 1));
    assert_true(member_last_event_at(m) == 1767225600123LL &&
                member_last_of(m, "order") == 1767225600123LL);
    /* Every stamp keeps its integer (the next event reads it without parsing), new fields too. */
    assert_int_equal(member_stamp_event(m, "visit", 1767225600124LL), 0);
    assert_true(member_field_of(m, "j")->has_num && member_field_of(m, "le")->has_num &&
                member_field_of(m, "lt:order")->has_num && member_field_of(m, "lt:visit")->has_num);
    assert_int_equal(member_add_counter(m, "orders", 1, &v), 0);
    assert_true(v == 1 && field_is(m, "c:orders", "1", 1));
    member_free(m);
}

static void test_finish_drops_zero_entries(void **state)
{
    static const char *const pairs[] = {"v", "1", "b:stars", "10"};
    member_state *m = loaded("ann", N(pairs), pairs);
    int64_t bal;
    const char *err;
    (void)state;

    /* Mechanics run one after another, so one mechanic's changes are contiguous. */
    assert_int_equal(member_add_balance(m, "swap", "stars", 5, &bal, &err), 0);
    assert_int_equal(member_add_balance(m, "swap", "stars", -5, &bal, &err), 0);
    assert_non_null(member_add_outcome(
        m, "dessert", json_pack("{s:s, s:s}", "kind", "prize", "prize", "dessert")));
    assert_int_equal(member_add_balance(m, "fuel", "stars", 3, &bal, &err), 0);
    assert_int_equal(member_add_balance(m, "fuel", "points", 0, &bal, &err), 0);
    assert_int_equal(m->nentries, 3);
    assert_int_equal(json_array_size(member_outcomes_json(m)), 4);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(member_outcomes_json(m), 0), "kind")),
        "stars");

    member_finish(m);
    assert_int_equal(m->nentries, 1);
    assert_string_equal(m->entries[0].mechanic, "fuel");
    assert_string_equal(m->entries[0].currency, "stars");
    assert_int_equal(m->entries[0].delta, 3);
    assert_int_equal(m->entries[0].balance, 13);
    assert_ptr_equal(m->entries[0].outcome, m->outs[1]);
    assert_true(json_is("outcomes after finish", member_outcomes_json(m),
                        "[{\"mechanic\": \"dessert\", \"kind\": \"prize\", \"prize\": \"dessert\"},"
                        " {\"mechanic\": \"fuel\", \"kind\": \"stars\", \"currency\": \"stars\","
                        "  \"delta\": 3, \"balance\": 13}]"));
    assert_int_equal(member_get_int(m, "b:stars"), 13);
    member_free(m);
}

static void test_settle_after_commit(void **state)
{
    static const char *const pairs[] = {"v", "2", "b:stars", "10", "t", "gold", "p:cake", "1"};
    member_state *m = loaded("ann", N(pairs), pairs);
    json_t *old_outcomes;
    int64_t bal;
    const char *err;
    (void)state;

    assert_int_equal(member_add_balance(m, "fuel", "stars", 5, &bal, &err), 0);
    assert_int_equal(member_set(m, "c:orders", "1"), 0);
    assert_int_equal(member_set(m, "p:cake", NULL), 0);
    assert_int_equal(member_count_once(m, "orders"), 1);
    old_outcomes = json_incref(member_outcomes_json(m));

    assert_int_equal(member_settle(m, 3), 0);
    assert_int_equal(m->version, 3);
    assert_int_equal(m->nentries, 0);
    assert_int_equal(json_array_size(member_outcomes_json(m)), 0);
    /* The response built from the old outcomes keeps them. */
    assert_int_equal(json_array_size(old_outcomes), 1);
    json_decref(old_outcomes);
    /* The changes are now the state, clean; deleted fields are gone. */
    assert_int_equal(member_get_int(m, "b:stars"), 15);
    assert_string_equal(member_get(m, "c:orders"), "1");
    assert_string_equal(member_get(m, "t"), "gold");
    assert_null(member_get(m, "p:cake"));
    for (size_t i = 0; i < m->nfields; i++) {
        assert_non_null(m->fields[i].value);
        assert_int_equal(m->fields[i].dirty, 0);
    }
    /* The next event counts again. */
    assert_int_equal(member_count_once(m, "orders"), 1);
    member_free(m);
}

static void test_clone_is_clean(void **state)
{
    static const char *const pairs[] = {"v", "9", "b:stars", "10", "t", "gold"};
    member_state *m = loaded("ann", N(pairs), pairs), *c;
    int64_t bal;
    const char *err;
    (void)state;

    assert_int_equal(member_set(m, "t", NULL), 0);
    assert_int_equal(member_count_once(m, "orders"), 1);
    assert_int_equal(member_add_balance(m, "fuel", "stars", 1, &bal, &err), 0);
    c = member_clone(m);
    assert_non_null(c);
    assert_string_equal(c->id, "ann");
    assert_int_equal(c->version, 9);
    assert_int_equal(member_get_int(c, "b:stars"), 11);
    assert_null(member_get(c, "t"));
    assert_int_equal(c->nentries, 0);
    assert_int_equal(json_array_size(member_outcomes_json(c)), 0);
    assert_int_equal(member_count_once(c, "orders"), 1);
    for (size_t i = 0; i < c->nfields; i++)
        assert_int_equal(c->fields[i].dirty, 0);
    /* Independent copies: changing one leaves the other. */
    assert_int_equal(member_set(c, "b:stars", "0"), 0);
    assert_int_equal(member_get_int(m, "b:stars"), 11);
    member_free(c);
    member_free(m);
}

struct json_case {
    const char *name;
    const char *const *pairs;
    size_t n;
    const char *key;  /* the member_to_json key checked */
    const char *want; /* its JSON */
};

static const char *const full[] = {
    "v",       "4",       "b:stars",       "12",        "b:points", "0",      "c:orders",
    "3",       "g:first", "1764059400000", "p:dessert", "2",        "a:city", "Oslo",
    "x:other", "1",
};
static const char *const with_tier[] = {"v", "1", "t", "gold"};
static const char *const game[] = {"s:walk:len",  "3",
                                   "s:walk:best", "5",
                                   "s:walk:last", "1764059400000",
                                   "s:walk:frz",  "1",
                                   "s:walk:fm",   "671",
                                   "g:runner",    "1764059400000",
                                   "gl:runner",   "2",
                                   "gp:runner",   "12",
                                   "gn:runner",   "50",
                                   "gt:runner",   "1764059400000",
                                   "pb:stars",    "40",
                                   "pb:points",   "0",
                                   "tf",          "silver",
                                   "s:swim:fm",   "671"};

static const struct json_case json_cases[] = {
    {"balances", full, N(full), "balances", "{\"stars\": 12, \"points\": 0}"},
    {"counters", full, N(full), "counters", "{\"orders\": 3}"},
    {"badges carry awarded_at", full, N(full), "badges",
     "{\"first\": {\"awarded_at\": \"2025-11-25T08:30:00.000Z\"}}"},
    {"prizes", full, N(full), "prizes", "{\"dessert\": 2}"},
    {"attributes", full, N(full), "attributes", "{\"city\": \"Oslo\"}"},
    {"no tier is null", full, N(full), "tier", "null"},
    {"a tier is its name", with_tier, N(with_tier), "tier", "\"gold\""},
    {"version", full, N(full), "version", "4"},
    {"member id", full, N(full), "member", "\"ann\""},
    {"empty member balances", NULL, 0, "balances", "{}"},
    {"empty member badges", NULL, 0, "badges", "{}"},
    {"streaks", game, N(game), "streaks",
     "{\"walk\": {\"length\": 3, \"best\": 5, \"last_at\": \"2025-11-25T08:30:00.000Z\","
     " \"freezes\": 1}, \"swim\": {}}"},
    {"levelled badges", game, N(game), "badges",
     "{\"runner\": {\"awarded_at\": \"2025-11-25T08:30:00.000Z\", \"level\": 2,"
     " \"progress\": 12, \"next\": 50, \"level_at\": \"2025-11-25T08:30:00.000Z\"}}"},
    {"pending balances but zeros", game, N(game), "pending", "{\"stars\": 40}"},
    {"tier floor", game, N(game), "tier_floor", "\"silver\""},
    {"no tier floor is null", full, N(full), "tier_floor", "null"},
};

static void test_to_json(void **state)
{
    int failures = 0;
    (void)state;
    for (size_t i = 0; i < N(json_cases); i++) {
        const struct json_case *c = &json_cases[i];
        member_state *m = loaded("ann", c->n, c->pairs);
        json_t *j = member_to_json(m);
        char what[128];
        snprintf(what, sizeof what, "case \"%s\" (key %s)", c->name, c->key);
        if (!j || !json_is(what, json_object_get(j, c->key), c->want))
            failures++;
        json_decref(j);
        member_free(m);
    }
    assert_int_equal(failures, 0);
}

/* Changes made by an event show up in the JSON; deleted fields disappear. */
static void test_to_json_after_changes(void **state)
{
    member_state *m = loaded("ann", N(full), full);
    int64_t bal;
    const char *err;
    json_t *j;
    (void)state;

    assert_int_equal(member_add_balance(m, "fuel", "stars", 8, &bal, &err), 0);
    assert_int_equal(member_set(m, "p:dessert", NULL), 0);
    assert_int_equal(member_set(m, "t", "silver"), 0);
    assert_int_equal(member_set_int(m, "c:orders", 4), 0);
    j = member_to_json(m);
    assert_true(
        json_is("balances", json_object_get(j, "balances"), "{\"stars\": 20, \"points\": 0}"));
    assert_true(json_is("prizes", json_object_get(j, "prizes"), "{}"));
    assert_true(json_is("tier", json_object_get(j, "tier"), "\"silver\""));
    assert_true(json_is("counters", json_object_get(j, "counters"), "{\"orders\": 4}"));
    json_decref(j);
    member_free(m);
}

int main(void)
{
    const struct CMUnitTest member[] = {
        cmocka_unit_test(test_load_pairs),
        cmocka_unit_test(test_add_balance_merges),
        cmocka_unit_test(test_add_balance_refuses),
        cmocka_unit_test(test_count_once),
        cmocka_unit_test(test_stamp_and_add_counter),
        cmocka_unit_test(test_finish_drops_zero_entries),
        cmocka_unit_test(test_settle_after_commit),
        cmocka_unit_test(test_clone_is_clean),
    };
    const struct CMUnitTest render[] = {
        cmocka_unit_test(test_to_json),
        cmocka_unit_test(test_to_json_after_changes),
    };
    int failed = cmocka_run_group_tests_name("member", member, NULL, NULL);
    return failed + cmocka_run_group_tests_name("render", render, NULL, NULL);
}
