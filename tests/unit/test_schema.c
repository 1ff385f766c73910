/*
 * Unit tests for the member hash as Redis holds it (core/model), one cmocka
 * group per file:
 *  - schema.c, the field names: each kind's name, and the kind of a name;
 *  - fields.c, the typed accessors: what each writes into the hash, and what
 *    each reads from it;
 *  - the lot codec of lots.c: "amount|remaining|spent|expires|avail|created|event".
 * These are the stored format: a case here that fails means members already
 * in Redis would be misread, so a change needs a migration, not a new want.
 */
#include "model/lots-internal.h"
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

/* ---- schema.c ---- */

/* Every kind of field, with the name it has in Redis. */
static const struct name_case {
    enum member_kind kind;
    const char *name, *sub;
    const char *want;
} name_cases[] = {
    {MEMBER_F_VERSION, NULL, NULL, "v"},
    {MEMBER_F_TIER, NULL, NULL, "t"},
    {MEMBER_F_TIER_FLOOR, NULL, NULL, "tf"},
    {MEMBER_F_WAKE, NULL, NULL, "wk"},
    {MEMBER_F_DUE, NULL, NULL, "due"},
    {MEMBER_F_BALANCE, "stars", NULL, "b:stars"},
    {MEMBER_F_PENDING, "stars", NULL, "pb:stars"},
    {MEMBER_F_COUNTER, "orders", NULL, "c:orders"},
    {MEMBER_F_BADGE, "first", NULL, "g:first"},
    {MEMBER_F_PRIZE, "dessert", NULL, "p:dessert"},
    {MEMBER_F_ATTR, "tz", NULL, "a:tz"},
    {MEMBER_F_LOT, "stars", "12", "l:stars:12"},
    {MEMBER_F_LOT_LAST, "stars", NULL, "ln:stars"},
    {MEMBER_F_REVERSED, "stars", "ref:ann:1", "rv:stars:ref:ann:1"},
    {MEMBER_F_WINDOW, "spend", "202611", "w:spend:202611"},
    {MEMBER_F_ONCE, "welcome:2026", NULL, "o:welcome:2026"},
    {MEMBER_F_STREAK_LEN, "walk", NULL, "s:walk:len"},
    {MEMBER_F_STREAK_BEST, "walk", NULL, "s:walk:best"},
    {MEMBER_F_STREAK_LAST, "walk", NULL, "s:walk:last"},
    {MEMBER_F_STREAK_FREEZES, "walk", NULL, "s:walk:frz"},
    {MEMBER_F_STREAK_FREEZE_MONTH, "walk", NULL, "s:walk:fm"},
    {MEMBER_F_LEVEL, "runner", NULL, "gl:runner"},
    {MEMBER_F_LEVEL_PROGRESS, "runner", NULL, "gp:runner"},
    {MEMBER_F_LEVEL_NEXT, "runner", NULL, "gn:runner"},
    {MEMBER_F_LEVEL_AT, "runner", NULL, "gt:runner"},
    {MEMBER_F_DRAW_WINS, "coffee", NULL, "dw:coffee"},
    {MEMBER_F_JOINED, NULL, NULL, "j"},
    {MEMBER_F_LAST_EVENT, NULL, NULL, "le"},
    {MEMBER_F_LAST_TYPE, "order", NULL, "lt:order"},
    {MEMBER_F_EXPERIMENT, "spring", NULL, "x:spring"},
};

static void test_field_names(void **state)
{
    int failures = 0, covered[MEMBER_F_EXPERIMENT + 1] = {0};
    char out[MEMBER_FIELD_MAX], tiny[4];
    (void)state;
    for (size_t i = 0; i < N(name_cases); i++) {
        const struct name_case *c = &name_cases[i];
        const char *got = member_field_name(out, sizeof out, c->kind, c->name, c->sub);
        covered[c->kind] = 1;
        if (!got || strcmp(got, c->want)) {
            print_error("kind %d: got \"%s\", want \"%s\"\n", (int)c->kind, got ? got : "(null)",
                        c->want);
            failures++;
        }
    }
    /* A kind added to the schema gets a case here. */
    for (int k = MEMBER_F_VERSION; k <= MEMBER_F_EXPERIMENT; k++)
        if (!covered[k]) {
            print_error("kind %d has no name case\n", k);
            failures++;
        }
    assert_int_equal(failures, 0);
    assert_null(member_field_name(tiny, sizeof tiny, MEMBER_F_BALANCE, "stars", NULL));
    assert_null(member_field_name(out, sizeof out, MEMBER_F_NONE, "stars", NULL));
    /* A name fits with its '\0' and not a byte shorter; what does not fit is cut, terminated. */
    {
        char fit[8];
        assert_non_null(member_field_name(fit, sizeof fit, MEMBER_F_BALANCE, "stars", NULL));
        assert_string_equal(fit, "b:stars");
        assert_null(member_field_name(fit, 7, MEMBER_F_BALANCE, "stars", NULL));
        assert_int_equal(fit[6], '\0');
        assert_null(member_field_name(fit, sizeof fit, MEMBER_F_LOT, "stars", "0"));
        assert_int_equal(fit[7], '\0');
        assert_non_null(member_field_name(fit, sizeof fit, MEMBER_F_STREAK_FREEZES, "w", NULL));
        assert_string_equal(fit, "s:w:frz");
        assert_null(member_field_name(fit, sizeof fit, MEMBER_F_STREAK_FREEZES, "wa", NULL));
    }
    /* member.c builds "pb:<cur>" once and reads "b:<cur>" as its tail. */
    {
        char b[MEMBER_FIELD_MAX], pb[MEMBER_FIELD_MAX];
        assert_non_null(member_field_name(b, sizeof b, MEMBER_F_BALANCE, "stars", NULL));
        assert_non_null(member_field_name(pb, sizeof pb, MEMBER_F_PENDING, "stars", NULL));
        assert_string_equal(pb + 1, b);
    }
}

static void test_field_kinds(void **state)
{
    static const char *const not_fields[] = {
        "",   "q:other", "b:", "s:walk", "s:walk:speed", "l:stars", "l::3", "tfx",
        "vv", "g",       "jj", "lex",    "lt:",          "due:1",   "rv:",  "w:spend"};
    int failures = 0;
    (void)state;
    for (size_t i = 0; i < N(name_cases); i++) {
        const struct name_case *c = &name_cases[i];
        member_field_ref r;
        enum member_kind k = member_field_kind(c->want, &r);
        size_t n = c->name ? strlen(c->name) : 0;
        if (k != c->kind || r.name_len != n || (n && memcmp(r.name, c->name, n)) ||
            (c->sub ? !r.sub || strcmp(r.sub, c->sub) : r.sub != NULL)) {
            print_error("\"%s\": got kind %d name \"%.*s\" sub \"%s\"\n", c->want, (int)k,
                        (int)r.name_len, r.name, r.sub ? r.sub : "(null)");
            failures++;
        }
        if (!member_field_is(c->want, c->kind, NULL)) {
            print_error("\"%s\" is not of its kind %d\n", c->want, (int)c->kind);
            failures++;
        }
    }
    for (size_t i = 0; i < N(not_fields); i++)
        if (member_field_kind(not_fields[i], NULL) != MEMBER_F_NONE) {
            print_error("\"%s\" was taken for a field of kind %d\n", not_fields[i],
                        (int)member_field_kind(not_fields[i], NULL));
            failures++;
        }
    assert_int_equal(failures, 0);
}

/* ---- fields.c ---- */

/* 2026-11-25T10:00:00Z: window month 202611; 25 months before is 202410. */
#define T_NOV26 1796032800000LL

static int w_counter(member_state *m)
{
    return member_set_counter(m, "visits", 5);
}
static int w_prize(member_state *m)
{
    return member_add_prize(m, "dessert");
}
static int w_badge(member_state *m)
{
    return member_award_badge(m, "first", T_BADGE);
}
static int w_tier(member_state *m)
{
    return member_set_tier(m, "gold") || member_set_tier_floor(m, "silver");
}
static int w_no_floor(member_state *m)
{
    return member_set_tier_floor(m, NULL);
}
static int w_attr(member_state *m)
{
    return member_set_attr(m, "city", "Oslo") || member_set_attr(m, "tz", NULL);
}
static int w_once(member_state *m)
{
    return member_mark_once(m, "welcome", T_BADGE);
}
static int w_wake_due(member_state *m)
{
    return member_set_wake(m, 1000) || member_set_due(m, 2000);
}
static int w_no_wake_due(member_state *m)
{
    return member_set_wake(m, 0) || member_set_due(m, 0);
}
static int w_window(member_state *m)
{
    return member_set_window(m, "spend", T_NOV26, 70);
}
static int w_drop_windows(member_state *m)
{
    member_drop_windows(m, "spend", T_NOV26 - 25LL * 31 * 86400000);
    return 0;
}
static int w_streak(member_state *m)
{
    int rc = 0;
    for (int p = MEMBER_STREAK_LEN; p <= MEMBER_STREAK_FREEZE_MONTH; p++)
        rc |= member_set_streak(m, "walk", (enum member_streak_part)p, 10 + p);
    return rc;
}
static int w_level(member_state *m)
{
    int rc = 0;
    for (int p = MEMBER_LEVEL; p <= MEMBER_LEVEL_AT; p++)
        rc |= member_set_level(m, "runner", (enum member_level_part)p, 20 + p);
    return rc;
}
static int w_top_level(member_state *m)
{
    return member_set_level(m, "runner", MEMBER_LEVEL_NEXT, 0);
}
static int w_draw_wins(member_state *m)
{
    return member_set_draw_wins(m, "coffee", "2026-11", 2);
}

static const char *const had[] = {"g:first",
                                  "5",
                                  "o:welcome",
                                  "5",
                                  "tf",
                                  "blue",
                                  "wk",
                                  "7",
                                  "due",
                                  "7",
                                  "gn:runner",
                                  "50",
                                  "w:spend:202409",
                                  "1",
                                  "w:spend:202410",
                                  "2",
                                  "w:spend:202411",
                                  "3",
                                  "w:spending:202401",
                                  "4"};

/* What each writer puts into the hash: the changed fields, in order (value NULL: removed). */
static const struct write_case {
    const char *name;
    int (*write)(member_state *m);
    int want_rc;
    const char *const *before; /* loaded first */
    size_t nbefore;
    const char *want[12]; /* field, value, ...; NULL-ended */
} write_cases[] = {
    {"counter", w_counter, 0, NULL, 0, {"c:visits", "5"}},
    {"prize", w_prize, 0, NULL, 0, {"p:dessert", "1"}},
    {"badge", w_badge, 1, NULL, 0, {"g:first", "1764059400000"}},
    {"badge already had", w_badge, 0, had, N(had), {NULL}},
    {"tier and floor", w_tier, 0, NULL, 0, {"t", "gold", "tf", "silver"}},
    {"floor removed", w_no_floor, 0, had, N(had), {"tf", NULL}},
    {"attributes", w_attr, 0, NULL, 0, {"a:city", "Oslo", "a:tz", NULL}},
    {"once", w_once, 1, NULL, 0, {"o:welcome", "1764059400000"}},
    {"once already", w_once, 0, had, N(had), {NULL}},
    {"wake and due", w_wake_due, 0, NULL, 0, {"wk", "1000", "due", "2000"}},
    {"wake and due 0 remove", w_no_wake_due, 0, had, N(had), {"wk", NULL, "due", NULL}},
    {"window bucket", w_window, 0, NULL, 0, {"w:spend:202611", "70"}},
    {"old windows dropped",
     w_drop_windows,
     0,
     had,
     N(had),
     {"w:spend:202409", NULL, "w:spend:202410", NULL}},
    {"streak parts",
     w_streak,
     0,
     NULL,
     0,
     {"s:walk:len", "10", "s:walk:best", "11", "s:walk:last", "12", "s:walk:frz", "13", "s:walk:fm",
      "14"}},
    {"level parts",
     w_level,
     0,
     NULL,
     0,
     {"gl:runner", "20", "gp:runner", "21", "gn:runner", "22", "gt:runner", "23"}},
    {"top level removes next", w_top_level, 0, had, N(had), {"gn:runner", NULL}},
    {"draw wins", w_draw_wins, 0, NULL, 0, {"dw:coffee", "2026-11|2"}},
};

static void test_accessors_write(void **state)
{
    int failures = 0;
    (void)state;
    for (size_t i = 0; i < N(write_cases); i++) {
        const struct write_case *c = &write_cases[i];
        member_state *m = loaded("ann", c->nbefore, c->before);
        int rc = c->write(m), ok = rc == c->want_rc;
        size_t k = 0;
        for (size_t f = 0; f < m->nfields; f++) {
            const member_field *mf = &m->fields[f];
            if (!mf->dirty)
                continue;
            if (!c->want[k] || strcmp(mf->name, c->want[k]) ||
                (c->want[k + 1] ? !mf->value || strcmp(mf->value, c->want[k + 1])
                                : mf->value != NULL)) {
                print_error("case \"%s\": change %zu is %s = %s\n", c->name, k / 2, mf->name,
                            mf->value ? mf->value : "(removed)");
                ok = 0;
            }
            if (c->want[k])
                k += 2;
        }
        if (c->want[k]) {
            print_error("case \"%s\": %s was not changed\n", c->name, c->want[k]);
            ok = 0;
        }
        if (rc != c->want_rc)
            print_error("case \"%s\": returned %d, want %d\n", c->name, rc, c->want_rc);
        failures += !ok;
        member_free(m);
    }
    assert_int_equal(failures, 0);
}

static int64_t r_balance(const member_state *m)
{
    return member_balance(m, "stars");
}
static int64_t r_pending(const member_state *m)
{
    return member_pending(m, "stars");
}
static int64_t r_counter(const member_state *m)
{
    return member_counter(m, "orders");
}
static int64_t r_has_badge(const member_state *m)
{
    return member_has_badge(m, "first");
}
static int64_t r_wake(const member_state *m)
{
    return member_wake(m);
}
static int64_t r_due(const member_state *m)
{
    return member_due(m);
}
static int64_t r_window(const member_state *m)
{
    return member_window(m, "spend", T_NOV26);
}
static int64_t r_streak_best(const member_state *m)
{
    return member_streak(m, "walk", MEMBER_STREAK_BEST);
}
static int64_t r_streak_fm(const member_state *m)
{
    return member_streak(m, "walk", MEMBER_STREAK_FREEZE_MONTH);
}
static int64_t r_level_next(const member_state *m)
{
    return member_level(m, "runner", MEMBER_LEVEL_NEXT);
}
static int64_t r_level_at(const member_state *m)
{
    return member_level(m, "runner", MEMBER_LEVEL_AT);
}
static int64_t r_draw_wins(const member_state *m)
{
    return member_draw_wins(m, "coffee", "2026-11");
}
static int64_t r_birthday(const member_state *m)
{
    int mo, d;
    return member_birthday(m, &mo, &d) ? -1 : mo * 100 + d;
}
static const char *r_tier(const member_state *m)
{
    return member_tier(m);
}
static const char *r_floor(const member_state *m)
{
    return member_tier_floor(m);
}
static const char *r_attr(const member_state *m)
{
    return member_attr(m, "city");
}
static const char *r_tz(const member_state *m)
{
    return member_tz(m, "UTC");
}

/* What each reader finds in a hash as Redis holds it. */
static const struct read_case {
    const char *name;
    const char *pairs[6];
    int64_t (*read)(const member_state *m);
    int64_t want;
    const char *(*read_str)(const member_state *m);
    const char *want_str;
} read_cases[] = {
    {"balance", {"b:stars", "12"}, r_balance, 12, NULL, NULL},
    {"no balance", {"b:points", "12"}, r_balance, 0, NULL, NULL},
    {"pending", {"pb:stars", "40", "b:stars", "1"}, r_pending, 40, NULL, NULL},
    {"counter", {"c:orders", "3"}, r_counter, 3, NULL, NULL},
    {"badge", {"g:first", "1"}, r_has_badge, 1, NULL, NULL},
    {"no badge", {"gl:first", "1"}, r_has_badge, 0, NULL, NULL},
    {"wake", {"wk", "99"}, r_wake, 99, NULL, NULL},
    {"due", {"due", "98"}, r_due, 98, NULL, NULL},
    {"window of the month",
     {"w:spend:202611", "70", "w:spend:202610", "5"},
     r_window,
     70,
     NULL,
     NULL},
    {"streak best", {"s:walk:best", "9", "s:walk:len", "2"}, r_streak_best, 9, NULL, NULL},
    {"streak freeze month", {"s:walk:fm", "24323"}, r_streak_fm, 24323, NULL, NULL},
    {"next level", {"gn:runner", "50"}, r_level_next, 50, NULL, NULL},
    {"level at", {"gt:runner", "77"}, r_level_at, 77, NULL, NULL},
    {"draw wins this period", {"dw:coffee", "2026-11|2"}, r_draw_wins, 2, NULL, NULL},
    {"draw wins of another period", {"dw:coffee", "2026-10|2"}, r_draw_wins, 0, NULL, NULL},
    {"draw wins of a longer period id", {"dw:coffee", "2026-11-01|2"}, r_draw_wins, 0, NULL, NULL},
    {"birthday with year", {"a:birthday", "1990-02-29"}, r_birthday, 229, NULL, NULL},
    {"birthday without year", {"a:birthday", "12-24"}, r_birthday, 1224, NULL, NULL},
    {"no birthday", {"a:birthdays", "12-24"}, r_birthday, -1, NULL, NULL},
    {"tier", {"t", "gold", "tf", "blue"}, NULL, 0, r_tier, "gold"},
    {"tier floor", {"t", "gold", "tf", "blue"}, NULL, 0, r_floor, "blue"},
    {"no tier", {"tf", "blue"}, NULL, 0, r_tier, NULL},
    {"attribute", {"a:city", "Oslo"}, NULL, 0, r_attr, "Oslo"},
    {"time zone", {"a:tz", "Europe/Paris"}, NULL, 0, r_tz, "Europe/Paris"},
    {"unknown time zone", {"a:tz", "Mars/Base"}, NULL, 0, r_tz, "UTC"},
};

static void test_accessors_read(void **state)
{
    int failures = 0;
    (void)state;
    for (size_t i = 0; i < N(read_cases); i++) {
        const struct read_case *c = &read_cases[i];
        size_t n = 0;
        while (n < N(c->pairs) && c->pairs[n])
            n++;
        member_state *m = loaded("ann", n, c->pairs);
        if (c->read && c->read(m) != c->want) {
            print_error("case \"%s\": got %lld, want %lld\n", c->name, (long long)c->read(m),
                        (long long)c->want);
            failures++;
        }
        if (c->read_str) {
            const char *got = c->read_str(m);
            if (c->want_str ? !got || strcmp(got, c->want_str) : got != NULL) {
                print_error("case \"%s\": got %s, want %s\n", c->name, got ? got : "NULL",
                            c->want_str ? c->want_str : "NULL");
                failures++;
            }
        }
        member_free(m);
    }
    assert_int_equal(failures, 0);
}

/* ---- the lot codec (lots.c) ---- */

static const struct lot_case {
    const char *name, *value;
    int rc;
    lot_rec want;
    const char *written; /* what encoding want gives, when not value */
} decode_cases[] = {
    {"l:stars:3",
     "100|60|40|1800000000000|0|1764059400000|ord-1",
     0,
     {"stars", 3, 100, 60, 40, 1800000000000, 0, 1764059400000, "ord-1"},
     NULL},
    {"l:stars:0", "7|7|0|0|0|5|*", 0, {"stars", 0, 7, 7, 0, 0, 0, 5, "*"}, NULL},
    {"l:pts:12",
     "5|5|0|0|1764059400000|1|ref:ann:1",
     0,
     {"pts", 12, 5, 5, 0, 0, 1764059400000, 1, "ref:ann:1"},
     NULL},
    /* A lot without its event reads (as an empty one); it is written with the bar. */
    {"l:stars:4", "3|0|0|0|0|9", 0, {"stars", 4, 3, 0, 0, 0, 0, 9, ""}, "3|0|0|0|0|9|"},
    /* What no lot holds (earn, spend, release, expiry and reversal keep 0 <= remaining,
       0 <= spent, remaining + spent <= amount): malformed, so no sum on it overflows. */
    {"l:stars:4", "-3|0|0|0|0|9|e", -1, {.n = 0}, NULL},
    {"l:stars:4", "5|-1|0|0|0|9|e", -1, {.n = 0}, NULL},
    {"l:stars:4", "5|6|0|0|0|9|e", -1, {.n = 0}, NULL},
    {"l:stars:4", "5|3|3|0|0|9|e", -1, {.n = 0}, NULL},
    {"l:stars:4",
     "9223372036854775807|9223372036854775807|9223372036619687720|0|0|9|e",
     -1,
     {.n = 0},
     NULL},
    {"l:stars:4", "5|5|0|-1|0|9|e", -1, {.n = 0}, NULL},
    {"l:stars:4", "5|5|0|0|0|253402300800000|e", -1, {.n = 0}, NULL},
    {"l:stars:4", "1|2|3|4|5", -1, {.n = 0}, NULL},
    {"l:stars:4", "1|2|x|4|5|6|e", -1, {.n = 0}, NULL},
    {"l:stars:4", "1|2|3|4|5|6e", -1, {.n = 0}, NULL},
    {"l:stars:4", "", -1, {.n = 0}, NULL},
    {"l:stars:4", NULL, -1, {.n = 0}, NULL},
    {"ln:stars", "1|1|0|0|0|0|e", -1, {.n = 0}, NULL},
    {"b:stars", "1|1|0|0|0|0|e", -1, {.n = 0}, NULL},
    {"l:stars", "1|1|0|0|0|0|e", -1, {.n = 0}, NULL},
};

static int same_lot(const lot_rec *a, const lot_rec *b)
{
    return !strcmp(a->currency, b->currency) && a->n == b->n && a->amount == b->amount &&
           a->remaining == b->remaining && a->spent == b->spent && a->expires_ms == b->expires_ms &&
           a->avail_ms == b->avail_ms && a->created_ms == b->created_ms &&
           !strcmp(a->event, b->event);
}

static void test_lot_decode(void **state)
{
    int failures = 0;
    (void)state;
    for (size_t i = 0; i < N(decode_cases); i++) {
        const struct lot_case *c = &decode_cases[i];
        lot_rec got;
        int rc = lots_decode(c->name, c->value, &got);
        if (rc != c->rc || (rc == 0 && !same_lot(&got, &c->want))) {
            print_error("case %zu (%s = %s): rc %d, lot %s/%lld %lld|%lld|%lld|%lld|%lld|%lld|%s\n",
                        i, c->name, c->value ? c->value : "NULL", rc, got.currency,
                        (long long)got.n, (long long)got.amount, (long long)got.remaining,
                        (long long)got.spent, (long long)got.expires_ms, (long long)got.avail_ms,
                        (long long)got.created_ms, got.event);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

/* The decode cases that succeed, written back, give the same text; a lot too big fails. */
static void test_lot_encode(void **state)
{
    int failures = 0;
    lot_rec big = {"stars",   1,         INT64_MAX, INT64_MAX, INT64_MAX,
                   INT64_MAX, INT64_MAX, INT64_MAX, ""};
    char name[MEMBER_FIELD_MAX], value[LOTS_VALUE_MAX];
    (void)state;
    for (size_t i = 0; i < N(decode_cases); i++) {
        const struct lot_case *c = &decode_cases[i];
        if (c->rc)
            continue;
        const char *want = c->written ? c->written : c->value;
        if (lots_encode(&c->want, name, sizeof name, value, sizeof value) ||
            strcmp(name, c->name) || strcmp(value, want)) {
            print_error("case %zu: wrote %s = %s, want %s = %s\n", i, name, value, c->name, want);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
    memset(big.event, 'e', sizeof big.event - 1);
    assert_int_equal(lots_encode(&big, name, sizeof name, value, sizeof value), 0);
    assert_int_equal(lots_encode(&big, name, sizeof name, value, 40), -1);
    assert_int_equal(lots_encode(&big, name, 8, value, sizeof value), -1);
}

int main(void)
{
    const struct CMUnitTest schema[] = {
        cmocka_unit_test(test_field_names),
        cmocka_unit_test(test_field_kinds),
    };
    const struct CMUnitTest fields[] = {
        cmocka_unit_test(test_accessors_write),
        cmocka_unit_test(test_accessors_read),
    };
    const struct CMUnitTest codec[] = {
        cmocka_unit_test(test_lot_decode),
        cmocka_unit_test(test_lot_encode),
    };
    int failed = cmocka_run_group_tests_name("schema", schema, NULL, NULL);
    failed += cmocka_run_group_tests_name("fields", fields, NULL, NULL);
    return failed + cmocka_run_group_tests_name("lot codec", codec, NULL, NULL);
}
