/*
 * The program's catalogue and its scripts' shared history, on real Redis and
 * two real punchd (two workers each) sharing it:
 *   - GET /v1/draws, /v1/budgets, /v1/leaderboards list every draw, budget
 *     and board the program used, with their live figures (pool left, budget
 *     used and left, board size), the same from either punchd;
 *   - GET /v1/mechanics "history": the loads of the scripts (a version, a
 *     failed reload with its error, the mended version) recorded once in
 *     Redis, so every worker of both punchd answers the same history, and a
 *     restarted punchd keeps it.
 */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static tmpredis redis;
static punchd_proc a, b;
static char *scripts;
static const char *const two_workers[] = {"--workers", "2", NULL};

/* A draw of 20 mugs (every order wins), a budget of 25 a day taken 10 an order, a board. */
static const char program[] =
    "mechanic 'mugs' { on = 'order', run = function(ev, m)\n"
    "  m:draw('mugs', {chance = 1, prizes = {'mug'}, pool = 20}) end }\n"
    "mechanic 'bonus' { on = 'order', run = function(ev, m)\n"
    "  if m:budget('bonus', 10, {max = 25, per = 'day'}) then m:earn('stars', 10) end end }\n"
    "mechanic 'board' { on = 'order', run = function(ev, m) m:score('orders', 1) end }\n"
    "mechanic 'spare' { on = 'never', run = function(ev, m)\n"
    "  m:draw(\"spare\", {chance = 1, prizes = {'pen'}, pool = 5}) end }\n";

static int group_setup(void **state)
{
    char tmpl[] = "/tmp/punch-catalog-XXXXXX";
    if (!mkdtemp(tmpl))
        return -1;
    scripts = strdup(tmpl);
    h_write_file(scripts, "program.lua", program);
    if (h_stack_start(&redis, &a, scripts, 0, two_workers))
        return -1;
    if (h_stack_on_cluster())
        return -1; /* a second punchd below speaks to the one Redis */
    return h_stack_punchd_start(&redis, &b, scripts, two_workers);
}

static int group_teardown(void **state)
{
    h_punchd_stop(&b);
    h_stack_stop(&redis, &a, scripts);
    return 0;
}

static json_t *get(int port, const char *path)
{
    http_resp r;
    json_t *j;
    assert_int_equal(h_http(port, "GET", path, NULL, &r), 0);
    if (r.status != 200)
        fail_msg("GET %s: %ld %s", path, r.status, r.body);
    j = json_incref(r.json);
    h_resp_free(&r);
    return j;
}

static long long num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v))
        fail_msg("%s is not a number", k);
    return json_integer_value(v);
}

static void test_lists_show_what_the_program_used(void **state)
{
    json_t *j, *row;
    char ev[200];
    http_resp r;
    /* Nothing used yet: the draws the scripts name, unused, without figures. */
    j = get(a.port, "/v1/draws");
    assert_int_equal(json_array_size(json_object_get(j, "draws")), 2);
    row = json_array_get(json_object_get(j, "draws"), 1);
    assert_string_equal(json_string_value(json_object_get(row, "draw")), "spare");
    assert_true(json_is_true(json_object_get(row, "declared")));
    assert_true(json_is_false(json_object_get(row, "seen")));
    json_decref(j);
    j = get(a.port, "/v1/budgets");
    row = json_array_get(json_object_get(j, "budgets"), 0);
    assert_string_equal(json_string_value(json_object_get(row, "budget")), "bonus");
    assert_true(json_is_null(json_object_get(row, "period")));
    json_decref(j);
    for (int i = 0; i < 3; i++) {
        snprintf(ev, sizeof ev,
                 "{\"id\": \"o%d\", \"type\": \"order\", \"member\": \"m%d\", \"data\": {}}", i, i);
        assert_int_equal(h_event(i % 2 ? b.port : a.port, ev, &r), 200);
        h_resp_free(&r);
    }
    /* The boards' scores are effects after the answer: wait for the third. */
    for (int tries = 0;; tries++) {
        j = get(b.port, "/v1/leaderboards");
        row = json_array_get(json_object_get(j, "leaderboards"), 0);
        if (row && json_integer_value(json_object_get(row, "members")) == 3)
            break;
        json_decref(j);
        if (tries > 250)
            fail_msg("the board never showed 3 members");
        usleep(20000);
    }
    assert_string_equal(json_string_value(json_object_get(row, "leaderboard")), "orders");
    assert_string_equal(json_string_value(json_object_get(row, "per")), "week");
    assert_int_equal(json_array_size(json_object_get(row, "top")), 3);
    json_decref(j);

    for (int side = 0; side < 2; side++) {
        int port = side ? b.port : a.port;
        j = get(port, "/v1/draws");
        assert_int_equal(json_array_size(json_object_get(j, "draws")), 2);
        row = json_array_get(json_object_get(j, "draws"), 0);
        assert_string_equal(json_string_value(json_object_get(row, "draw")), "mugs");
        assert_true(json_is_true(json_object_get(row, "seen")));
        assert_int_equal(num(row, "wins"), 3);
        assert_true(
            json_is_false(json_object_get(json_array_get(json_object_get(j, "draws"), 1), "seen")));
        assert_int_equal(num(json_array_get(json_object_get(row, "prizes"), 0), "left"), 17);
        json_decref(j);

        j = get(port, "/v1/budgets");
        assert_int_equal(json_array_size(json_object_get(j, "budgets")), 1);
        row = json_array_get(json_object_get(j, "budgets"), 0);
        assert_string_equal(json_string_value(json_object_get(row, "budget")), "bonus");
        assert_int_equal(num(row, "used"), 20); /* the third order did not fit in 25 */
        assert_int_equal(num(row, "max"), 25);
        assert_int_equal(num(row, "left"), 5);
        assert_int_equal(num(row, "used_total"), 20);
        json_decref(j);
    }
}

/* The history of p as text, the same on every worker when shared; NULL on a difference. */
static char *history_of(int port, int asks)
{
    char *first = NULL;
    for (int i = 0; i < asks; i++) {
        json_t *j = get(port, "/v1/mechanics");
        char *h = json_dumps(json_object_get(j, "history"), JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(j);
        if (!first) {
            first = h;
        } else if (strcmp(first, h)) {
            free(h);
            free(first);
            return NULL;
        } else {
            free(h);
        }
    }
    return first;
}

typedef struct wait_history {
    int port;
    size_t entries;
} wait_history;

static int history_has(void *arg)
{
    wait_history *w = arg;
    json_t *j = get(w->port, "/v1/mechanics");
    int ok = json_array_size(json_object_get(j, "history")) == w->entries;
    json_decref(j);
    return ok;
}

static void test_history_is_shared_and_survives(void **state)
{
    json_t *j, *h, *e;
    char *ha, *hb;
    wait_history w = {a.port, 1};
    assert_true(h_wait_until(history_has, &w, 5000));
    /* A broken file: the old set serves, the failed reload is in the history. */
    h_write_file(scripts, "broken.lua", "mechanic 'x' { on = 'a', run = function( end }\n");
    w.entries = 2;
    assert_true(h_wait_until(history_has, &w, 5000));
    /* Mended. */
    h_write_file(scripts, "broken.lua", "-- mended\n");
    w.entries = 3;
    assert_true(h_wait_until(history_has, &w, 5000));
    j = get(a.port, "/v1/mechanics");
    h = json_object_get(j, "history");
    assert_true(json_is_true(json_object_get(j, "history_shared")));
    e = json_array_get(h, 0);
    assert_true(json_is_true(json_object_get(e, "ok")));
    assert_string_equal(json_string_value(json_object_get(e, "version")),
                        json_string_value(json_object_get(j, "version")));
    assert_int_equal(json_object_size(json_object_get(e, "digests")), 2);
    assert_int_equal(
        strlen(json_string_value(json_object_get(json_object_get(e, "digests"), "broken.lua"))),
        12);
    e = json_array_get(h, 1);
    assert_false(json_is_true(json_object_get(e, "ok")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(e, "error"), "file")),
                        "broken.lua");
    e = json_array_get(h, 2);
    assert_true(json_is_true(json_object_get(e, "ok")));
    assert_int_equal(json_array_size(json_object_get(e, "files")), 1);
    json_decref(j);

    /* Every worker of both punchd answers the same history. */
    ha = history_of(a.port, 6);
    hb = history_of(b.port, 6);
    assert_non_null(ha);
    assert_non_null(hb);
    assert_string_equal(ha, hb);
    /* A restarted punchd loads the same version: the history keeps it once. */
    assert_int_equal(h_punchd_stop(&b), 0);
    assert_int_equal(h_stack_punchd_start(&redis, &b, scripts, two_workers), 0);
    free(hb);
    hb = history_of(b.port, 4);
    assert_non_null(hb);
    assert_string_equal(ha, hb);
    free(ha);
    free(hb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lists_show_what_the_program_used),
        cmocka_unit_test(test_history_is_shared_and_survives),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
