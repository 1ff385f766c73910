/*
 * Unit tests for the game side that needs no Redis (core/model/draw.c, core/common/calendar.c and
 * the member-local calls of core/lua/api_game.c): calendar periods and ISO
 * weeks in time zones, the keyed draw roll, control-group buckets, streaks
 * (consecutive days, DST days of 23 and 25 hours, a day-start hour, a time
 * zone change, grace, monthly and granted freezes, weeks), levelled badges
 * and how GET /v1/members shows them, campaign windows and control groups.
 */
#include "punchcard/event.h"
#include "common/calendar-internal.h"
#include "model/draw-internal.h"
#include "lua/mechanics-internal.h"
#include "model/member-internal.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int64_t ms_of(const char *iso)
{
    int64_t ms;
    if (pc_time_parse(iso, &ms))
        fail_msg("bad time %s", iso);
    return ms;
}

static void test_period_ids(void **state)
{
    static const struct {
        const char *at, *tz;
        int hour, period;
        const char *want;
    } cases[] = {
        {"2026-01-01T12:00:00Z", "UTC", 0, CAL_WEEK, "2026-W01"}, /* a Thursday */
        {"2027-01-01T12:00:00Z", "UTC", 0, CAL_WEEK, "2026-W53"}, /* Friday: last year's week */
        {"2024-12-30T12:00:00Z", "UTC", 0, CAL_WEEK, "2025-W01"}, /* Monday: next year's week */
        {"2026-11-25T12:00:00Z", "UTC", 0, CAL_WEEK, "2026-W48"},
        {"2026-11-25T23:30:00Z", "Europe/Paris", 0, CAL_DAY, "2026-11-26"},
        {"2026-11-25T23:30:00Z", "America/New_York", 0, CAL_DAY, "2026-11-25"},
        {"2026-11-26T03:00:00Z", "UTC", 4, CAL_DAY, "2026-11-25"}, /* before the day starts */
        {"2026-11-30T23:30:00Z", "Europe/Paris", 0, CAL_MONTH, "2026-12"},
        {"2026-12-31T23:30:00Z", "Asia/Tokyo", 0, CAL_YEAR, "2027"},
        {"2026-12-31T23:30:00Z", "UTC", 0, CAL_ALL, "all"},
    };
    char out[32];
    for (size_t i = 0; i < N(cases); i++) {
        cal_period_id(ms_of(cases[i].at), cases[i].tz, cases[i].hour, cases[i].period, out,
                      sizeof out);
        if (strcmp(out, cases[i].want))
            fail_msg("case %zu (%s in %s): want %s, got %s", i, cases[i].at, cases[i].tz,
                     cases[i].want, out);
    }
    /* Day numbers count calendar days, also across a 23-hour DST day. */
    assert_int_equal(cal_day_number(ms_of("2026-03-29T23:50:00+02:00"), "Europe/Paris", 0) -
                         cal_day_number(ms_of("2026-03-29T00:10:00+01:00"), "Europe/Paris", 0),
                     0);
    assert_int_equal(cal_period_parse("week"), CAL_WEEK);
    assert_int_equal(cal_period_parse("never"), CAL_ALL);
    assert_int_equal(cal_period_parse("fortnight"), -1);
}

static void test_draw_roll(void **state)
{
    static const char master[] = "a test master secret, 32 bytes..";
    char secret[65], commit[65], hex[65];
    unsigned char mac[64], want_secret[64];
    unsigned int len;
    uint64_t u, pick, want_u = 0, want_pick = 0;

    draw_set_secret(master, strlen(master));
    draw_secret("lunch", 3, secret);
    HMAC(EVP_sha256(), master, (int)strlen(master), (const unsigned char *)"punchcard/draw/lunch/3",
         22, want_secret, &len);
    for (int i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", want_secret[i]);
    assert_string_equal(secret, hex);
    draw_commitment("lunch", 3, commit);
    pc_sha256_hex(secret, 64, hex);
    assert_string_equal(commit, hex);

    /* The roll is HMAC(secret hex, member \n event \n draw), anyone can redo it. */
    draw_roll("lunch", 3, "ann", "o-17", &u, &pick);
    HMAC(EVP_sha256(), secret, 64, (const unsigned char *)"ann\no-17\nlunch", 14, mac, &len);
    for (int i = 0; i < 8; i++) {
        want_u = want_u << 8 | mac[i];
        want_pick = want_pick << 8 | mac[8 + i];
    }
    assert_true(u == want_u && pick == want_pick);
    /* Another epoch, member or event draws differently. */
    draw_roll("lunch", 4, "ann", "o-17", &want_u, &want_pick);
    assert_true(u != want_u);
    draw_roll("lunch", 3, "bo", "o-17", &want_u, &want_pick);
    assert_true(u != want_u);

    assert_false(draw_wins(0, 0));
    assert_true(draw_wins(UINT64_MAX, 1));
    assert_true(draw_wins(0, 1e-9));
    assert_true(draw_wins((1ULL << 63) - 1, 0.5));
    assert_false(draw_wins(1ULL << 63, 0.5));
    draw_set_secret("punchcard-development-draw-secret", 33);
}

static void test_buckets(void **state)
{
    int low = 0;
    char id[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(id, sizeof id, "m%d", i);
        int b = draw_bucket("promo", id);
        assert_true(b >= 0 && b < 10000);
        low += b < 1000;
        assert_int_equal(b, draw_bucket("promo", id)); /* stable */
    }
    /* About 10% of members fall under 10.00%. */
    assert_in_range(low, 850, 1150);
}

/* Durations read the same everywhere: expiry, earn options, after(), the specs' clock. */
static void test_spans(void **state)
{
    static const struct {
        const char *s;
        int ok, months;
        int64_t ms;
    } cases[] = {
        {"9mo", 1, 9, 0},
        {"1y", 1, 12, 0},
        {"1y6mo", 1, 18, 0},
        {"2w", 1, 0, 14 * 86400000LL},
        {"1d12h", 1, 0, 36 * 3600000LL},
        {"30m", 1, 0, 30 * 60000LL},
        {"45s", 1, 0, 45000},
        {"1mo1d", 1, 1, 86400000LL},
        {"", 0, 0, 0},
        {"mo", 0, 0, 0},
        {"1x", 0, 0, 0},
        {"-1d", 0, 0, 0},
        {"1d-1h", 0, 0, 0},
        {"3", 0, 0, 0},
        {"99999999y", 0, 0, 0},
    };
    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        int months = -1;
        int64_t ms = -1;
        int rc = cal_parse_span(cases[i].s, &months, &ms);
        if ((rc == 0) != cases[i].ok ||
            (rc == 0 && (months != cases[i].months || ms != cases[i].ms)))
            fail_msg("span '%s': rc %d, months %d, ms %lld", cases[i].s, rc, months, (long long)ms);
    }
    /* 31 January + 1 month is the end of February; 29 February + 1 year is 28 February. */
    assert_int_equal(cal_add_span(ms_of("2026-01-31T10:00:00Z"), 1, 0),
                     ms_of("2026-02-28T10:00:00Z"));
    assert_int_equal(cal_add_span(ms_of("2028-02-29T10:00:00Z"), 12, 3600000),
                     ms_of("2029-02-28T11:00:00Z"));
}

/* ---- running mechanics on an in-memory member ---- */

static mechset *compile_one(const char *text)
{
    mech_source src = {"game.lua", text, strlen(text)};
    pc_error err = {0};
    mechset *set = mechset_compile(&src, 1, NULL, &err);
    if (!set)
        fail_msg("compile: %s", err.message);
    return set;
}

static int seq;

/* Runs one event of type at time at (RFC 3339) with data; settles the member as a commit would. */
static json_t *run_at(mechset *set, member_state *m, const char *type, const char *at,
                      const char *data)
{
    char body[1024];
    pc_event ev;
    pc_error err = {0};
    json_t *outs;
    snprintf(
        body, sizeof body,
        "{\"id\": \"e%d\", \"type\": \"%s\", \"member\": \"%s\", \"at\": \"%s\", \"data\": %s}",
        ++seq, type, m->id, at, data ? data : "{}");
    if (pc_event_parse(body, strlen(body), &ev, &err))
        fail_msg("event: %s", err.message);
    if (mechset_run(set, &ev, m, &err))
        fail_msg("run %s at %s: %s", type, at, err.message);
    pc_event_clear(&ev);
    outs = json_incref(member_outcomes_json(m));
    assert_int_equal(member_settle(m, m->version + 1), 0);
    return outs;
}

static const char streak_src[] =
    "mechanic 'walk' { on = 'walk', run = function(ev, m)\n"
    "  m:streak('walk', {per = ev.data.per, day_start = ev.data.day_start,\n"
    "                    grace = ev.data.grace, freezes = ev.data.freezes, tz = ev.data.tz})\n"
    "end }\n"
    "mechanic 'gift' { on = 'gift', run = function(ev, m) m:freeze('walk', 2) end }\n";

typedef struct hit {
    const char *at;
    int want_len;
    const char *set_tz; /* change the member's time zone before this hit */
} hit;

typedef struct streak_case {
    const char *name;
    const char *opts; /* the event's data */
    const char *tz;   /* the member's time zone attribute, or NULL */
    hit hits[8];
} streak_case;

static const streak_case streak_cases[] = {
    {"consecutive UTC days, then a gap",
     "{}",
     NULL,
     {{"2026-01-01T10:00:00Z", 1, NULL},
      {"2026-01-02T23:59:00Z", 2, NULL},
      {"2026-01-02T08:00:00Z", 2, NULL},
      {"2026-01-04T10:00:00Z", 1, NULL}}},
    {"DST spring forward: a 23-hour day is one day",
     "{}",
     "Europe/Paris",
     {{"2026-03-28T23:10:00+01:00", 1, NULL},
      {"2026-03-29T00:10:00+01:00", 2, NULL},
      {"2026-03-29T23:50:00+02:00", 2, NULL},
      {"2026-03-30T00:05:00+02:00", 3, NULL}}},
    {"DST fall back: a 25-hour day is one day",
     "{}",
     "Europe/Paris",
     {{"2026-10-24T23:30:00+02:00", 1, NULL},
      {"2026-10-25T00:10:00+02:00", 2, NULL},
      {"2026-10-25T23:50:00+01:00", 2, NULL},
      {"2026-10-26T00:10:00+01:00", 3, NULL}}},
    {"days start at 4 o'clock",
     "{\"day_start\": 4}",
     NULL,
     {{"2026-01-01T10:00:00Z", 1, NULL},
      {"2026-01-02T03:30:00Z", 1, NULL},
      {"2026-01-02T04:30:00Z", 2, NULL},
      {"2026-01-03T03:59:00Z", 2, NULL},
      {"2026-01-04T03:00:00Z", 3, NULL}}},
    {"the program's time zone when the member has none",
     "{\"tz\": \"America/New_York\"}",
     NULL,
     {{"2026-01-01T23:00:00-05:00", 1, NULL},
      {"2026-01-02T01:00:00Z", 1, NULL},
      {"2026-01-02T06:00:00Z", 2, NULL}}},
    {"a member who moves east keeps the streak",
     "{}",
     "Pacific/Honolulu",
     {{"2026-01-01T22:00:00-10:00", 1, NULL}, {"2026-01-03T17:00:00+09:00", 2, "Asia/Tokyo"}}},
    {"a member who moves west counts the same day once",
     "{}",
     "Asia/Tokyo",
     {{"2026-01-02T08:00:00+09:00", 1, NULL},
      {"2026-01-01T20:00:00-10:00", 1, "Pacific/Honolulu"},
      {"2026-01-02T20:00:00-10:00", 2, NULL}}},
    {"grace forgives one missed day",
     "{\"grace\": 1}",
     NULL,
     {{"2026-01-01T10:00:00Z", 1, NULL},
      {"2026-01-03T10:00:00Z", 2, NULL},
      {"2026-01-06T10:00:00Z", 1, NULL}}},
    {"one freeze a month",
     "{\"freezes\": 1}",
     NULL,
     {{"2026-01-01T10:00:00Z", 1, NULL},
      {"2026-01-03T10:00:00Z", 2, NULL},
      {"2026-01-05T10:00:00Z", 1, NULL},
      {"2026-02-02T10:00:00Z", 1, NULL},
      {"2026-02-03T10:00:00Z", 2, NULL},
      {"2026-02-05T10:00:00Z", 3, NULL}}},
    {"weeks",
     "{\"per\": \"week\"}",
     NULL,
     {{"2026-01-05T10:00:00Z", 1, NULL},
      {"2026-01-11T22:00:00Z", 1, NULL},
      {"2026-01-12T10:00:00Z", 2, NULL},
      {"2026-01-26T10:00:00Z", 1, NULL}}},
};

static void test_streaks(void **state)
{
    mechset *set = compile_one(streak_src);
    for (size_t i = 0; i < N(streak_cases); i++) {
        const streak_case *c = &streak_cases[i];
        member_state *m = member_new("ann");
        if (c->tz)
            member_set(m, "a:tz", c->tz);
        for (size_t h = 0; h < N(c->hits) && c->hits[h].at; h++) {
            if (c->hits[h].set_tz)
                member_set(m, "a:tz", c->hits[h].set_tz);
            json_decref(run_at(set, m, "walk", c->hits[h].at, c->opts));
            int64_t len = member_get_int(m, "s:walk:len");
            if (len != c->hits[h].want_len)
                fail_msg("%s: hit %zu at %s: want length %d, got %lld", c->name, h + 1,
                         c->hits[h].at, c->hits[h].want_len, (long long)len);
        }
        member_free(m);
    }
    mechset_unref(set);
}

static void test_streak_outcomes_and_json(void **state)
{
    mechset *set = compile_one(streak_src);
    member_state *m = member_new("ann");
    json_t *o, *j;
    json_decref(run_at(set, m, "gift", "2026-01-01T09:00:00Z", NULL));
    json_decref(run_at(set, m, "walk", "2026-01-01T10:00:00Z", NULL));
    json_decref(run_at(set, m, "walk", "2026-01-02T10:00:00Z", NULL));
    /* Two missed days, two granted freezes: the streak holds and says so. */
    o = run_at(set, m, "walk", "2026-01-05T10:00:00Z", NULL);
    j = json_array_get(o, 0);
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "streak");
    assert_int_equal(json_integer_value(json_object_get(j, "length")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "frozen")), 2);
    json_decref(o);
    /* Same day again: nothing to report. */
    o = run_at(set, m, "walk", "2026-01-05T11:00:00Z", NULL);
    assert_int_equal(json_array_size(o), 0);
    json_decref(o);
    o = run_at(set, m, "walk", "2026-01-09T10:00:00Z", NULL);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(o, 0), "broken")), 3);
    json_decref(o);
    j = member_to_json(m);
    json_t *walk = json_object_get(json_object_get(j, "streaks"), "walk");
    assert_non_null(walk);
    assert_int_equal(json_integer_value(json_object_get(walk, "length")), 1);
    assert_int_equal(json_integer_value(json_object_get(walk, "best")), 3);
    assert_int_equal(json_integer_value(json_object_get(walk, "freezes")), 0);
    assert_string_equal(json_string_value(json_object_get(walk, "last_at")),
                        "2026-01-09T10:00:00.000Z");
    json_decref(j);
    member_free(m);
    mechset_unref(set);
}

static void test_badge_levels(void **state)
{
    static const int want_level[] = {0, 1, 1, 2, 2, 3, 3};
    mechset *set =
        compile_one("mechanic 'workouts' { on = 'workout', run = function(ev, m)\n"
                    "  local level = m:badge_level('workouts', m:count('workouts'), {2, 4, 6})\n"
                    "  if level ~= ev.data.want then error('level ' .. level) end\n"
                    "end }\n");
    member_state *m = member_new("bo");
    char data[32], at[32];
    for (int i = 0; i < 7; i++) {
        snprintf(data, sizeof data, "{\"want\": %d}", want_level[i]);
        snprintf(at, sizeof at, "2026-02-%02dT10:00:00Z", i + 1);
        json_t *o = run_at(set, m, "workout", at, data);
        int levelled = i == 1 || i == 3 || i == 5;
        json_t *badge = json_array_get(o, 1);
        if (levelled) {
            assert_string_equal(json_string_value(json_object_get(badge, "kind")), "badge");
            assert_int_equal(json_integer_value(json_object_get(badge, "level")), want_level[i]);
        } else {
            assert_int_equal(json_array_size(o), 1); /* only the counter */
        }
        json_decref(o);
        if (i == 2) {
            json_t *j = member_to_json(m);
            json_t *b = json_object_get(json_object_get(j, "badges"), "workouts");
            assert_int_equal(json_integer_value(json_object_get(b, "level")), 1);
            assert_int_equal(json_integer_value(json_object_get(b, "progress")), 3);
            assert_int_equal(json_integer_value(json_object_get(b, "next")), 4);
            assert_string_equal(json_string_value(json_object_get(b, "awarded_at")),
                                "2026-02-02T10:00:00.000Z");
            json_decref(j);
        }
    }
    json_t *j = member_to_json(m);
    json_t *b = json_object_get(json_object_get(j, "badges"), "workouts");
    assert_int_equal(json_integer_value(json_object_get(b, "level")), 3);
    assert_null(json_object_get(b, "next")); /* the top level */
    assert_string_equal(json_string_value(json_object_get(b, "level_at")),
                        "2026-02-06T10:00:00.000Z");
    json_decref(j);
    member_free(m);
    mechset_unref(set);
}

static void test_campaigns(void **state)
{
    /* why: the explain reason when it does not run (the bound that failed). */
    static const struct {
        const char *type, *at;
        int runs;
        const char *why;
    } cases[] = {
        {"weekend", "2026-11-28T12:00:00+01:00", 0,
         "before active.from (2026-12-01 00:00 Europe/Paris)"},
        {"weekend", "2026-12-05T09:59:00+01:00", 0,
         "09:59 in Europe/Paris is outside active.hours {10, 18}"},
        {"weekend", "2026-12-05T10:00:00+01:00", 1, NULL},
        {"weekend", "2026-12-05T17:59:00+01:00", 1, NULL},
        {"weekend", "2026-12-05T18:00:00+01:00", 0, "18:00 in Europe/Paris is outside"},
        {"weekend", "2026-12-06T12:00:00+01:00", 1, NULL}, /* Sunday */
        {"weekend", "2026-12-07T12:00:00+01:00", 0,
         "a mon in Europe/Paris is not one of active.days"},
        {"weekend", "2026-12-26T12:00:00+01:00", 0,
         "at or after active.to (2026-12-24 00:00 Europe/Paris)"},
        {"advent", "2026-11-30T22:59:59Z", 0, "before active.from"}, /* 23:59:59 in Paris */
        {"advent", "2026-11-30T23:00:00Z", 1, NULL},                 /* midnight in Paris */
        {"advent", "2026-12-24T16:59:59Z", 1, NULL},
        {"advent", "2026-12-24T17:00:00Z", 0, "at or after active.to (2026-12-24 18:00"},
        {"late", "2026-12-02T23:30:00Z", 1, NULL}, /* hours {22, 2} wrap midnight */
        {"late", "2026-12-03T01:59:00Z", 1, NULL},
        {"late", "2026-12-03T02:00:00Z", 0, "02:00 in UTC is outside active.hours {22, 2}"},
        {"late", "2026-12-03T12:00:00Z", 0, "outside active.hours"},
    };
    mechset *set = compile_one(
        "mechanic 'weekend' { on = 'weekend', run = function(ev, m) m:incr('runs') end,\n"
        "  active = {from = '2026-12-01', to = '2026-12-24', days = {'sat', 'sun'},\n"
        "            hours = {10, 18}, tz = 'Europe/Paris'} }\n"
        "mechanic 'advent' { on = 'advent', run = function(ev, m) m:incr('runs') end,\n"
        "  active = {from = '2026-12-01', to = '2026-12-24T18:00:00+01:00', tz = 'Europe/Paris'} "
        "}\n"
        "mechanic 'late' { on = 'late', run = function(ev, m) m:incr('runs') end,\n"
        "  active = {hours = {22, 2}} }\n");
    for (size_t i = 0; i < N(cases); i++) {
        member_state *m = member_new("ann");
        const char *why = NULL;
        json_t *t;
        size_t k;
        m->trace = json_array();
        json_decref(run_at(set, m, cases[i].type, cases[i].at, NULL));
        if (member_get_int(m, "c:runs") != cases[i].runs)
            fail_msg("%s at %s: want runs %d, got %lld", cases[i].type, cases[i].at, cases[i].runs,
                     (long long)member_get_int(m, "c:runs"));
        json_array_foreach(m->trace, k, t) {
            if (!strcmp(json_string_value(json_object_get(t, "mechanic")), cases[i].type))
                why = json_string_value(json_object_get(t, "reason"));
        }
        if (cases[i].why ? !why || !strstr(why, cases[i].why) : why != NULL)
            fail_msg("%s at %s: want a reason with \"%s\", got \"%s\"", cases[i].type, cases[i].at,
                     cases[i].why ? cases[i].why : "(none)", why ? why : "(none)");
        member_free(m);
    }
    mechset_unref(set);
}

static void test_bad_declarations(void **state)
{
    static const struct {
        const char *src, *want;
    } cases[] = {
        {"mechanic 'x' { on = 'o', run = function() end, active = {from = 'tomorrow'} }",
         "is not a date"},
        {"mechanic 'x' { on = 'o', run = function() end, active = {dayz = {'sat'}} }",
         "unknown option 'dayz'"},
        {"mechanic 'x' { on = 'o', run = function() end, active = {days = {'saturday'}} }",
         "days are mon"},
        {"mechanic 'x' { on = 'o', run = function() end, active = {tz = 'Mars/Olympus'} }",
         "unknown time zone"},
        {"mechanic 'x' { on = 'o', run = function() end, control = 150 }", "percentage"},
        {"mechanic 'x' { on = 'o', run = function() end, experiment = 'spring' }",
         "experiment 'spring' is not declared"},
        {"experiment 'spring' { control = 10 }\n"
         "mechanic 'x' { on = 'o', run = function() end, experiment = 'spring', control = 5 }",
         "control and experiment both"},
        {"experiment 'spring' { control = 100 }", "above 0 and below 100"},
        {"experiment 'spring' { control = 10, spent = 'amount' }", "unknown option 'spent'"},
        {"experiment 'spring' { control = 10 }\nexperiment 'spring' { control = 20 }",
         "declared twice"},
        {"mechanic 'x' { on = 'o', run = function(ev, m) m:streak('s', {per = 'hour'}) end }\n"
         "mechanic 'y' { on = 'p', run = function(ev, m) m:draw('d', {chance = 2}) end }",
         NULL},
    };
    for (size_t i = 0; i < N(cases); i++) {
        mech_source src = {"bad.lua", cases[i].src, strlen(cases[i].src)};
        pc_error err = {0};
        mechset *set = mechset_compile(&src, 1, NULL, &err);
        if (!cases[i].want) {
            /* Bad options are found when the call runs. */
            member_state *m = member_new("ann");
            pc_event ev;
            const char *evs[] = {"{\"id\":\"1\",\"type\":\"o\",\"member\":\"ann\"}",
                                 "{\"id\":\"2\",\"type\":\"p\",\"member\":\"ann\"}"};
            const char *want[] = {"not day, week", "chance must be"};
            assert_non_null(set);
            for (int k = 0; k < 2; k++) {
                assert_int_equal(pc_event_parse(evs[k], strlen(evs[k]), &ev, &err), 0);
                assert_int_equal(mechset_run(set, &ev, m, &err), -1);
                if (!strstr(err.message, want[k]))
                    fail_msg("want '%s' in '%s'", want[k], err.message);
                pc_event_clear(&ev);
            }
            member_free(m);
            mechset_unref(set);
            continue;
        }
        if (set || !strstr(err.message, cases[i].want))
            fail_msg("case %zu: want a load error with '%s', got %s", i, cases[i].want,
                     set ? "a set" : err.message);
    }
}

static void test_control_group(void **state)
{
    mechset *set = compile_one(
        "mechanic 'promo' { on = 'order', control = 20, run = function(ev, m) m:incr('got') end }\n"
        "mechanic 'other' { on = 'order', control = 20, run = function(ev, m) m:incr('got2') end "
        "}\n");
    int held = 0, both = 0;
    for (int i = 0; i < 1000; i++) {
        char id[16];
        snprintf(id, sizeof id, "m%d", i);
        member_state *m = member_new(id);
        json_t *o = run_at(set, m, "order", "2026-03-01T10:00:00Z", NULL);
        int out = member_get_int(m, "c:got") == 0;
        int out2 = member_get_int(m, "c:got2") == 0;
        held += out;
        both += out && out2;
        if (out) {
            json_t *c = json_array_get(o, 0);
            assert_string_equal(json_string_value(json_object_get(c, "kind")), "control");
            assert_string_equal(json_string_value(json_object_get(c, "mechanic")), "promo");
        }
        json_decref(o);
        /* Stable: the same member is held out of every event. */
        json_decref(run_at(set, m, "order", "2026-03-02T10:00:00Z", NULL));
        assert_int_equal(member_get_int(m, "c:got") == 0, out);
        member_free(m);
    }
    assert_in_range(held, 150, 250);
    /* Each mechanic has its own split: holding out of both is about 4%, not 20%. */
    assert_in_range(both, 10, 80);
    mechset_unref(set);
}

/* The calendar in the API: the program's time zone, period ids, month and year arithmetic. */
static void test_calendar_api(void **state)
{
    (void)state;
    mechset *set = compile_one(
        "timezone 'Europe/Paris'\n"
        "mechanic 'cal' { on = 'order', run = function(ev, m)\n"
        "  return message(table.concat({m:period('day'), m:period('week'), m:period('month'),\n"
        "    period_id(ev.at, 'day'), period_id(ev.at, 'day', 'UTC'),\n"
        "    tostring(after(ev.at, '9mo') == add_months(ev.at, 9)),\n"
        "    tostring(add_years(utc(2028, 2, 29), 1) == utc(2029, 2, 28)),\n"
        "    tostring(after(utc(2026, 1, 31), '1mo1d') == utc(2026, 3, 1)),\n"
        "    tostring(m.joined_at == ev.at), tostring(m.last_event_at), "
        "tostring(m:last('order'))},\n"
        "    ' '))\n"
        "end }\n");
    member_state *m = member_new("ann");
    /* 23:30 UTC on Sunday 29 November is Monday 30 November in Paris: ISO week 49. */
    json_t *outs = run_at(set, m, "order", "2026-11-29T23:30:00Z", NULL);
    assert_string_equal(json_string_value(json_object_get(json_array_get(outs, 0), "text")),
                        "2026-11-30 2026-W49 2026-11 2026-11-30 2026-11-29 true true true true "
                        "nil nil");
    json_decref(outs);
    /* A member with a time zone of their own is judged by it. */
    assert_int_equal(member_set_attr(m, "tz", "America/New_York"), 0);
    outs = run_at(set, m, "order", "2026-11-29T23:30:00Z", NULL);
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(outs, 0), "text")),
                           "2026-11-29 2026-W48 2026-11 2026-11-30"));
    json_decref(outs);
    member_free(m);
    mechset_unref(set);

    /* Two files may not disagree on the program's time zone; an unknown zone is refused. */
    mech_source two[] = {{"a.lua", "timezone 'Europe/Paris'", 23},
                         {"b.lua", "timezone 'Asia/Tokyo'", 21}};
    pc_error err = {0};
    assert_null(mechset_compile(two, 2, NULL, &err));
    assert_non_null(strstr(err.message, "already 'Europe/Paris'"));
    mech_source bad = {"c.lua", "timezone 'Mars/Base'", 20};
    assert_null(mechset_compile(&bad, 1, NULL, &err));
    assert_non_null(strstr(err.message, "unknown time zone"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_period_ids),
        cmocka_unit_test(test_spans),
        cmocka_unit_test(test_calendar_api),
        cmocka_unit_test(test_draw_roll),
        cmocka_unit_test(test_buckets),
        cmocka_unit_test(test_streaks),
        cmocka_unit_test(test_streak_outcomes_and_json),
        cmocka_unit_test(test_badge_levels),
        cmocka_unit_test(test_campaigns),
        cmocka_unit_test(test_bad_declarations),
        cmocka_unit_test(test_control_group),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
