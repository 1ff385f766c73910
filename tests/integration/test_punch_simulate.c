/*
 * punch simulate on a small known history: the figures it reports equal what
 * the rules say by hand (stars, prizes, counters, members, failures,
 * duplicates), do not depend on how many events are in flight, and --against
 * reports the change a rule edit makes. On a given redis it leaves no key.
 */
#include "harness.h"
#include "harness_run.h"
#include "store/store-internal.h"

#include <hiredis/hiredis.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MEMBERS  10
#define ORDERS   200 /* 20 per member: 86 stars each, a dessert every 4th */
#define WORKOUTS 30  /* 3 per member: a gold star each */
#define SPINS    8   /* a draw that always wins, from a pool of 5 */

static char *scripts, *doubled;
static char events[64] = "/tmp/punch-events-XXXXXX";
static tmpredis redis;

static int group_setup(void **state)
{
    FILE *f;
    int fd;
    char *dir;

    scripts = h_scripts_copy();
    h_write_file(scripts, "game.lua",
                 "mechanic \"spin\" { on = \"spin\", run = function(ev, m)\n"
                 "  m:draw(\"wheel\", {chance = 1, prizes = {\"mug\"}, pool = 5}) end }\n");
    dir = h_scripts_copy();
    doubled = dir;
    /* The rule change to price: 2 stars per 10 of fuel instead of 1. */
    h_write_file(doubled, "fuel.lua",
                 "local per_ten = { fuel = 2, shop = 3 }\n"
                 "mechanic \"fuel\" { on = \"order\", run = function(ev, m)\n"
                 "  for _, item in ipairs(ev.data.items or {}) do\n"
                 "    m:earn(\"stars\", item.amount // 10 * (per_ten[item.category] or 0))\n"
                 "  end end }\n");
    if ((fd = mkstemp(events)) < 0 || !(f = fdopen(fd, "w")))
        return -1;
    for (int i = 0; i < ORDERS; i++)
        fprintf(
            f,
            "{\"id\":\"o%d\",\"type\":\"order\",\"member\":\"s%d\",\"at\":\"2026-02-01T10:00:00Z\","
            "\"data\":{\"items\":[{\"category\":\"fuel\",\"amount\":500},"
            "{\"category\":\"shop\",\"amount\":125}]}}\n",
            i, i % MEMBERS);
    for (int i = 0; i < WORKOUTS; i++) /* no id: "line-N" */
        fprintf(f, "{\"type\":\"workout\",\"member\":\"s%d\"}\n", i % MEMBERS);
    fprintf(f, "\n"                                                      /* ignored */
               "{\"id\":\"o7\",\"type\":\"order\",\"member\":\"s7\"}\n"  /* a duplicate */
               "{\"id\":\"v1\",\"type\":\"visit\",\"member\":\"s10\"}\n" /* nobody reacts */
               "not json\n"
               "{\"id\":\"b1\",\"type\":\"Bad!\",\"member\":\"s1\"}\n"
               "{\"id\":\"f1\",\"type\":\"order\",\"member\":\"s0\",\"data\":{\"items\":"
               "[{\"category\":\"fuel\"}]}}\n"); /* fuel.lua fails: no amount */
    for (int i = 0; i < SPINS; i++)
        fprintf(f, "{\"id\":\"sp%d\",\"type\":\"spin\",\"member\":\"s%d\"}\n", i, i);
    fclose(f);
    return tmpredis_start(&redis, 0);
}

static int group_teardown(void **state)
{
    unlink(events);
    h_rm_dir(scripts);
    h_rm_dir(doubled);
    free(scripts);
    free(doubled);
    tmpredis_destroy(&redis);
    return 0;
}

/* punch simulate ARGS... --json EVENTS; the parsed report. */
static json_t *simulate(h_proc_out *o, const char *a1, const char *a2, const char *a3,
                        const char *a4)
{
    const char *argv[16] = {PUNCH_PATH, "simulate", "--json", "--scripts", scripts};
    const char *extra[] = {a1, a2, a3, a4};
    int n = 5;
    json_t *j;
    for (int i = 0; i < 4 && extra[i]; i++)
        argv[n++] = extra[i];
    argv[n++] = events;
    argv[n] = NULL;
    h_run(argv, NULL, NULL, 30000, o);
    if (o->status != 0)
        fail_msg("punch simulate exit %d: %s", o->status, o->err);
    j = json_loads(o->out, 0, NULL);
    assert_non_null(j);
    return j;
}

static long long at(json_t *j, const char *path)
{
    char buf[256], *save = NULL;
    snprintf(buf, sizeof buf, "%s", path);
    for (char *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
        j = json_object_get(j, k);
    if (!json_is_integer(j))
        fail_msg("%s is not a number", path);
    return json_integer_value(j);
}

static void figures_match_the_rules(void **state)
{
    static const struct {
        const char *path;
        long long want;
    } cases[] = {
        {"events.ok", ORDERS + WORKOUTS + 1 + SPINS},
        {"events.duplicates", 1},
        {"events.failed", 3},
        {"errors.bad_input", 2},
        {"errors.mechanic_error", 1},
        {"members", MEMBERS + 1},
        {"currencies.stars.issued", ORDERS * 86},
        {"currencies.stars.redeemed", 0},
        {"currencies.gold_stars.issued", WORKOUTS},
        {"prizes.dessert", ORDERS / 4},
        {"counters.orders.counted", ORDERS},
        {"counters.orders.highest", ORDERS / MEMBERS},
        {"tiers.(none)", MEMBERS + 1},
        {"draws.wheel.drawn", SPINS},
        {"draws.wheel.won", 5},
        {"draws.wheel.lost (pool_empty)", SPINS - 5},
        {"prizes.mug", 5},
    };
    h_proc_out o;
    json_t *j = simulate(&o, NULL, NULL, NULL, NULL), *fig;

    fig = json_object_get(json_object_get(j, "scripts"), "figures");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        long long got = at(fig, cases[i].path);
        if (got != cases[i].want)
            fail_msg("%s: got %lld, want %lld", cases[i].path, got, cases[i].want);
    }
    assert_int_equal(at(j, "scripts.events"), ORDERS + WORKOUTS + 5 + SPINS);
    /* The first failures are shown with their line. */
    assert_non_null(strstr(o.err, "line 234: bad JSON"));
    assert_non_null(strstr(o.err, "line 236: 422 mechanic_error: fuel: fuel.lua:"));
    json_decref(j);
    h_proc_out_free(&o);
}

static void many_in_flight_or_one_the_figures_agree(void **state)
{
    h_proc_out o1, o2;
    json_t *one = simulate(&o1, "--workers", "1", "--window", "1");
    json_t *many = simulate(&o2, "--workers", "3", "--window", "64");
    json_t *f1 = json_object_get(json_object_get(one, "scripts"), "figures");
    json_t *f2 = json_object_get(json_object_get(many, "scripts"), "figures");
    if (!json_equal(f1, f2)) {
        char *a = json_dumps(f1, JSON_SORT_KEYS), *b = json_dumps(f2, JSON_SORT_KEYS);
        fail_msg("one engine, one event at a time: %s\nthree engines, 64 each: %s", a, b);
    }
    json_decref(one);
    json_decref(many);
    h_proc_out_free(&o1);
    h_proc_out_free(&o2);
}

static void against_prices_a_rule_change(void **state)
{
    const char *json_argv[] = {PUNCH_PATH,  "simulate", "--json", "--scripts", doubled,
                               "--against", scripts,    events,   NULL};
    const char *table_argv[] = {PUNCH_PATH,  "simulate", "--progress", "--scripts", doubled,
                                "--against", scripts,    events,       NULL};
    h_proc_out o;
    json_t *j, *diff;

    /* JSON: both runs and the difference (scripts minus against). */
    h_run(json_argv, NULL, NULL, 30000, &o);
    assert_int_equal(o.status, 0);
    j = json_loads(o.out, 0, NULL);
    assert_non_null(j);
    diff = json_object_get(j, "difference");
    assert_int_equal(at(diff, "currencies.stars.issued"), ORDERS * 50);
    assert_int_equal(at(diff, "prizes.dessert"), 0);
    assert_int_equal(at(j, "against.figures.currencies.stars.issued"), ORDERS * 86);
    assert_int_equal(at(j, "scripts.figures.currencies.stars.issued"), ORDERS * 136);
    assert_string_not_equal(
        json_string_value(json_object_get(json_object_get(j, "scripts"), "mechanics_version")),
        json_string_value(json_object_get(json_object_get(j, "against"), "mechanics_version")));
    json_decref(j);
    h_proc_out_free(&o);

    /* The table: a column per run and the change; progress on stderr when asked. */
    h_run(table_argv, NULL, NULL, 30000, &o);
    assert_int_equal(o.status, 0);
    if (!strstr(o.out, "change") || !strstr(o.out, "  stars issued") || !strstr(o.out, "+10000") ||
        !strstr(o.out, "events/s"))
        fail_msg("table:\n%s", o.out);
    assert_non_null(strstr(o.err, "events/s"));
    h_proc_out_free(&o);
}

static void a_given_redis_is_left_clean(void **state)
{
    h_proc_out o;
    json_t *j = simulate(&o, "--redis", redis.socket, NULL, NULL);
    redisContext *c = redisConnectUnix(redis.socket);
    redisReply *r;

    assert_int_equal(at(j, "scripts.figures.events.ok"), ORDERS + WORKOUTS + 1 + SPINS);
    assert_non_null(c);
    r = redisCommand(c, "DBSIZE");
    assert_non_null(r);
    assert_int_equal(r->integer, 0);
    freeReplyObject(r);
    redisFree(c);
    json_decref(j);
    h_proc_out_free(&o);
}

/* A member who sends nothing after their stamps came due: the replay still reports the expiry. */
static void expiry_of_silent_members_is_reported(void **state)
{
    char *dir = h_dir_copy("examples/coffee-shop"), path[300];
    const char *argv[] = {PUNCH_PATH, "simulate", "--json", "--scripts", dir, path, NULL};
    h_proc_out o;
    json_t *j, *fig;
    FILE *f;
    snprintf(path, sizeof path, "%s/history.jsonl", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"id\":\"a1\",\"type\":\"order\",\"member\":\"zoe\",\"at\":\"2026-01-01T10:00:00Z\","
          "\"data\":{\"items\":[{\"category\":\"drink\",\"qty\":3}]}}\n"
          "{\"id\":\"a2\",\"type\":\"order\",\"member\":\"max\",\"at\":\"2026-09-01T10:00:00Z\","
          "\"data\":{\"items\":[{\"category\":\"drink\",\"qty\":1}]}}\n",
          f);
    fclose(f);
    h_run(argv, NULL, NULL, 30000, &o);
    if (o.status != 0)
        fail_msg("punch simulate exit %d: %s", o.status, o.err);
    j = json_loads(o.out, 0, NULL);
    assert_non_null(j);
    fig = json_object_get(json_object_get(j, "scripts"), "figures");
    assert_int_equal(at(fig, "events.ok"), 2);
    assert_int_equal(at(fig, "currencies.stamps.issued"), 4);
    /* Zoe's 3 stamps of January expired in July, before the history ends in September. */
    assert_int_equal(at(fig, "currencies.stamps.expired"), 3);
    json_decref(j);
    h_proc_out_free(&o);
    unlink(path);
    h_rm_dir(dir);
    free(dir);
}

/*
 * --per month: the history's months with what was issued and expired in each,
 * what was outstanding at their end and the breakage rate; --against gives the
 * change per month (stamps lasting 9 months instead of 6 are still outstanding
 * when the history ends in September).
 */
static void figures_per_month(void **state)
{
    char *dir = h_dir_copy("examples/coffee-shop"), *longer = h_dir_copy("examples/coffee-shop");
    char path[300];
    const char *argv[] = {PUNCH_PATH,  "simulate", "--json",    "--per", "month", "--workers", "2",
                          "--scripts", longer,     "--against", dir,     path,    NULL};
    h_proc_out o;
    json_t *j, *p, *d;
    FILE *f;
    char *src;
    snprintf(path, sizeof path, "%s/history.jsonl", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"id\":\"a1\",\"type\":\"order\",\"member\":\"zoe\",\"at\":\"2026-01-05T10:00:00Z\","
          "\"data\":{\"items\":[{\"category\":\"drink\",\"qty\":3}]}}\n"
          "{\"id\":\"a2\",\"type\":\"order\",\"member\":\"max\",\"at\":\"2026-03-01T10:00:00Z\","
          "\"data\":{\"items\":[{\"category\":\"drink\",\"qty\":2}]}}\n"
          "{\"id\":\"a3\",\"type\":\"order\",\"member\":\"max\",\"at\":\"2026-09-01T10:00:00Z\","
          "\"data\":{\"items\":[{\"category\":\"drink\",\"qty\":1}]}}\n",
          f);
    fclose(f);
    /* The rule change: stamps last 9 months. */
    snprintf(path, sizeof path, "%s/stamps.lua", longer);
    src = pc_read_file(path, NULL);
    assert_non_null(src);
    assert_non_null(strstr(src, "expires_in = \"6mo\""));
    memcpy(strstr(src, "expires_in = \"6mo\"") + 14, "9", 1);
    h_write_file(longer, "stamps.lua", src);
    free(src);
    snprintf(path, sizeof path, "%s/history.jsonl", dir);
    h_run(argv, NULL, NULL, 30000, &o);
    if (o.status != 0)
        fail_msg("punch simulate exit %d: %s", o.status, o.err);
    j = json_loads(o.out, 0, NULL);
    assert_non_null(j);
    p = json_object_get(json_object_get(j, "against"), "periods");
#define FIG(per, id, what)                                                                         \
    json_integer_value(json_object_get(json_object_get(json_object_get(per, id), "stamps"), what))
    assert_int_equal(FIG(p, "2026-01", "issued"), 3);
    assert_int_equal(FIG(p, "2026-03", "issued"), 2);
    assert_int_equal(FIG(p, "2026-03", "outstanding"), 5);
    /* Six months: Max's March stamps expire at his September order, Zoe's January ones (due in
     * July; she is silent) when the history is settled at its last event: both in September. */
    assert_int_equal(FIG(p, "2026-09", "expired"), 5);
    assert_int_equal(FIG(p, "2026-09", "outstanding"), 1);
    assert_true(
        json_real_value(json_object_get(json_object_get(json_object_get(p, "2026-09"), "stamps"),
                                        "breakage_rate")) == 1.0);
    assert_null(json_object_get(p, "2026-02")); /* a month without events has no row */
    /* Nine months: nothing has expired by September, so 5 more stamps are outstanding. */
    d = json_object_get(j, "periods_difference");
    assert_int_equal(FIG(d, "2026-09", "expired"), -5);
    assert_int_equal(FIG(d, "2026-09", "outstanding"), 5);
    assert_int_equal(FIG(d, "2026-03", "outstanding"), 0);
#undef FIG
    json_decref(j);
    h_proc_out_free(&o);
    unlink(path);
    h_rm_dir(dir);
    h_rm_dir(longer);
    free(dir);
    free(longer);
}

/*
 * The figures do not depend on --workers: 40 members' January stamps, and one
 * member back in September. Every worker settles its members at the history's
 * last event (September), so all the January stamps expired, however the members
 * were shared out. (Each worker once settled at the latest event it had seen
 * itself: with 2 workers, the members of the one without September kept theirs: 60 expired, not
 * 120.)
 */
static void one_worker_or_two_the_figures_agree(void **state)
{
    char *dir = h_dir_copy("examples/coffee-shop"), path[300];
    const char *one[] = {PUNCH_PATH,  "simulate", "--json", "--workers", "1",
                         "--scripts", dir,        path,     NULL};
    const char *two[] = {PUNCH_PATH,  "simulate", "--json", "--workers", "2",
                         "--scripts", dir,        path,     NULL};
    h_proc_out o1, o2;
    json_t *j1, *j2, *f1, *f2;
    FILE *f;
    snprintf(path, sizeof path, "%s/history.jsonl", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 40; i++)
        fprintf(f,
                "{\"id\":\"j%d\",\"type\":\"order\",\"member\":\"w%d\","
                "\"at\":\"2026-01-%02dT10:00:00Z\",\"data\":{\"items\":[{\"category\":\"drink\","
                "\"qty\":3}]}}\n",
                i, i, 1 + i % 28);
    fputs("{\"id\":\"s1\",\"type\":\"order\",\"member\":\"w0\",\"at\":\"2026-09-01T10:00:00Z\","
          "\"data\":{\"items\":[{\"category\":\"drink\",\"qty\":1}]}}\n",
          f);
    fclose(f);
    h_run(one, NULL, NULL, 30000, &o1);
    h_run(two, NULL, NULL, 30000, &o2);
    if (o1.status != 0 || o2.status != 0)
        fail_msg("punch simulate exit %d / %d: %s %s", o1.status, o2.status, o1.err, o2.err);
    j1 = json_loads(o1.out, 0, NULL);
    j2 = json_loads(o2.out, 0, NULL);
    assert_non_null(j1);
    assert_non_null(j2);
    f1 = json_object_get(json_object_get(j1, "scripts"), "figures");
    f2 = json_object_get(json_object_get(j2, "scripts"), "figures");
    assert_int_equal(at(f1, "currencies.stamps.issued"), 121);
    assert_int_equal(at(f1, "currencies.stamps.expired"), 120);
    if (!json_equal(f1, f2)) {
        char *a = json_dumps(f1, JSON_COMPACT | JSON_SORT_KEYS),
             *b = json_dumps(f2, JSON_COMPACT | JSON_SORT_KEYS);
        fail_msg("--workers 1: %s\n--workers 2: %s", a, b);
    }
    json_decref(j1);
    json_decref(j2);
    h_proc_out_free(&o1);
    h_proc_out_free(&o2);
    unlink(path);
    h_rm_dir(dir);
    free(dir);
}

static void bad_usage(void **state)
{
    static const struct {
        const char *args[6];
        int status;
        const char *in_err;
    } cases[] = {
        {{"simulate", "--scripts", "scripts", "/nonexistent.jsonl", NULL}, 2, "cannot open"},
        {{"simulate", "/tmp/x.jsonl", NULL}, 2, "usage"},
        {{"simulate", "--scripts", "/nonexistent-dir", "-", NULL}, 1, "do not load"},
        {{"simulate", "--per", "fortnight", "--scripts", "scripts", NULL}, 2, "--per is day"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *argv[8] = {PUNCH_PATH};
        h_proc_out o;
        for (int k = 0; cases[i].args[k]; k++)
            argv[k + 1] = cases[i].args[k];
        h_run(argv, NULL, "", 30000, &o);
        if (o.status != cases[i].status || !strstr(o.err, cases[i].in_err))
            fail_msg("case %zu: exit %d, stderr %s", i, o.status, o.err);
        h_proc_out_free(&o);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(figures_match_the_rules),
        cmocka_unit_test(many_in_flight_or_one_the_figures_agree),
        cmocka_unit_test(against_prices_a_rule_change),
        cmocka_unit_test(a_given_redis_is_left_clean),
        cmocka_unit_test(expiry_of_silent_members_is_reported),
        cmocka_unit_test(one_worker_or_two_the_figures_agree),
        cmocka_unit_test(figures_per_month),
        cmocka_unit_test(bad_usage),
    };
    return cmocka_run_group_tests_name("punch simulate", tests, group_setup, group_teardown);
}
