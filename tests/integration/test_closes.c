/*
 * Period closes, global reads and the replay hold, on real punchd processes
 * and a real Redis:
 *   - a weekly close awards last week's top 3 once, with two punchd racing,
 *     and a third punchd started after a late event changed the board does
 *     not close the week again;
 *   - a close whose punchd is killed mid-way is resumed by another from its
 *     stored plan: the members sent before the kill are not sent again, and
 *     a board changed meanwhile does not change who is sent;
 *   - a mechanic reads a global counter and a board's rank and top;
 *   - while a replay holds the sweepers, a member's lot is not expired by
 *     the wall clock before the replay's later events arrive;
 *   - weeks that ended while no punchd ran are closed when one starts, each
 *     once and in order, at most 12 back.
 * Last week is "now - 7 days" (the same weekday of the ISO week before), so
 * its close is due as soon as a sweeping punchd starts.
 */
#include "harness.h"

#include <hiredis/hiredis.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#define WEEK_MS (7LL * 86400000)

/*
 * The ended periods of a mechanic a punchd looks at (closes.c CLOSE_CATCH_UP):
 * the latest and 11 before. Each counts in punchd_closes_done_total once it
 * is found done, the older ones at once when there is nothing to catch up, so
 * the counter says the latest period was looked at only when it reaches 12
 * per mechanic.
 */
#define CATCH_UP 12

static const char program[] =
    "currency \"stars\" {}\n"
    "currency \"pts\" { expires_in = \"1d\" }\n"
    "mechanic \"workout\" { on = \"workout\", run = function(ev, m)\n"
    "  m:score(\"gym\", ev.data.n, {per = \"week\"}) end }\n"
    "mechanic \"weekly-top\" { on = \"period_end:week\", run = function(ev)\n"
    "  for _, row in ipairs(board_top(\"gym\", 3, {period = ev.data.period})) do\n"
    "    send(row.member, \"weekly_top\", {rank = row.rank, score = row.score})\n"
    "  end end }\n"
    "mechanic \"top-stars\" { on = \"weekly_top\", run = function(ev, m)\n"
    "  m:earn(\"stars\", ({100, 50, 25})[ev.data.rank]) end }\n"
    "mechanic \"order\" { on = \"order\", run = function(ev, m) global_count(\"orders\") end }\n"
    "mechanic \"peek\" { on = \"peek\", run = function(ev, m)\n"
    "  local rank, score = board_rank(\"gym\", m.id, {period = ev.data.period})\n"
    "  local top = board_top(\"gym\", 2, {period = ev.data.period})\n"
    "  return message(\"peek\", {orders = global_value(\"orders\"), rank = rank or 0,\n"
    "    score = score or 0, first = top[1] and top[1].member or \"\", n = #top})\n"
    "end }\n"
    "mechanic \"earn\" { on = \"earn\", run = function(ev, m) m:earn(\"pts\", ev.data.n) end }\n"
    "mechanic \"use\" { on = \"use\", run = function(ev, m) m:spend(\"pts\", ev.data.n) end }\n";

static tmpredis redis;
static char *scripts;
static redisContext *rc;
static punchd_proc *started[8]; /* stopped by the teardown when a failed test left them */
static int nstarted;

static int setup(void **state)
{
    if (tmpredis_start(&redis, 0))
        return -1;
    char tmpl[] = "/tmp/punch-closes-XXXXXX";
    if (!mkdtemp(tmpl))
        return -1;
    scripts = strdup(tmpl);
    h_write_file(scripts, "closes.lua", program);
    rc = redisConnectUnix(redis.socket);
    return rc && !rc->err ? 0 : -1;
}

static int teardown(void **state)
{
    for (int i = 0; i < nstarted; i++)
        if (started[i]->pid > 0)
            h_punchd_stop(started[i]);
    nstarted = 0;
    redisFree(rc);
    tmpredis_stop(&redis);
    h_rm_dir(redis.dir);
    h_rm_dir(scripts);
    free(scripts);
    return 0;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A punchd on the test's Redis; sweep_ms 0: it never sweeps (no closes, no ticks). */
static void start(punchd_proc *p, int sweep_ms, const char *more_env)
{
    char sweep[64];
    const char *env[4] = {sweep, "PUNCHD_CLAIM_TIMEOUT_MS=1000", more_env, NULL};
    snprintf(sweep, sizeof sweep, "PUNCHD_SWEEP_MS=%d", sweep_ms);
    assert_int_equal(h_punchd_start_env(p, redis.socket, scripts, NULL, env), 0);
    if (nstarted < 8)
        started[nstarted++] = p;
}

static void kill9(punchd_proc *p)
{
    kill(p->pid, SIGKILL);
    h_punchd_stop(p); /* reaps it and cleans its folder */
}

static void event(int port, const char *id, const char *type, const char *member, long long at,
                  const char *data)
{
    char body[512];
    http_resp r;
    snprintf(body, sizeof body,
             "{\"id\": \"%s\", \"type\": \"%s\", \"member\": \"%s\", \"at\": %lld, \"data\": %s}",
             id, type, member, at, data);
    if (h_event(port, body, &r) != 200)
        fail_msg("%s: %ld %s", body, r.status, r.body);
    h_resp_free(&r);
}

static void workout(int port, const char *member, int n, long long at)
{
    char id[64], data[64];
    snprintf(id, sizeof id, "w-%s-%d-%lld", member, n, at);
    snprintf(data, sizeof data, "{\"n\": %d}", n);
    event(port, id, "workout", member, at, data);
}

typedef struct stars_want {
    int port;
    const char *member;
    long long stars;
} stars_want;

static int has_stars(void *arg)
{
    stars_want *w = arg;
    return h_balance(w->port, w->member, "stars") == w->stars;
}

static void wait_stars(int port, const char *member, long long stars)
{
    stars_want w = {port, member, stars};
    if (!h_wait_until(has_stars, &w, 15000))
        fail_msg("%s never had %lld stars (has %lld)", member, stars,
                 h_balance(port, member, "stars"));
}

/* The one ledger entry of member in stars, of amount. */
static void one_award(int port, const char *member, long long amount)
{
    int n = 0;
    long long sum = h_ledger_sum(port, member, "stars", &n);
    if (sum != amount || n != (amount ? 1 : 0))
        fail_msg("%s: %d star entries summing %lld; want %d of %lld", member, n, sum,
                 amount ? 1 : 0, amount);
}

/* ISO week id of ms (UTC), as the close names it. */
static void week_id(long long ms, char *out, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%G-W%V", &tm);
}

typedef struct close_ref {
    char key[128];
} close_ref;

static int close_done(void *arg)
{
    close_ref *c = arg;
    redisReply *r = redisCommand(rc, "HEXISTS %s done", c->key);
    int done = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    return done;
}

typedef struct metric_want {
    int port;
    const char *name;
    long long at_least;
} metric_want;

static int metric_reached(void *arg)
{
    metric_want *w = arg;
    return h_metric(w->port, w->name, 0) >= w->at_least;
}

static void wait_metric(int port, const char *name, long long at_least)
{
    metric_want w = {port, name, at_least};
    if (!h_wait_until(metric_reached, &w, 15000))
        fail_msg("%s never reached %lld (is %lld)", name, at_least, h_metric(port, name, 0));
}

/* Two punchd race to close last week: the top 3 get their stars once; a late close does not. */
static void test_weekly_top3_once(void **state)
{
    static punchd_proc feed, a, b, late;
    long long last_week = now_ms() - WEEK_MS;
    close_ref c;
    char week[16];

    start(&feed, 0, NULL);
    workout(feed.port, "ann", 5, last_week);
    workout(feed.port, "bob", 4, last_week);
    workout(feed.port, "cat", 3, last_week);
    workout(feed.port, "dan", 2, last_week);
    workout(feed.port, "eve", 1, last_week);
    workout(feed.port, "eve", 50, now_ms()); /* this week: not part of last week's close */

    start(&a, 20, NULL);
    start(&b, 20, NULL);
    wait_stars(feed.port, "ann", 100);
    wait_stars(feed.port, "bob", 50);
    wait_stars(feed.port, "cat", 25);
    week_id(last_week, week, sizeof week);
    snprintf(c.key, sizeof c.key, "pc:{close:weekly-top}:%s", week);
    assert_true(h_wait_until(close_done, &c, 15000));
    one_award(feed.port, "ann", 100);
    one_award(feed.port, "bob", 50);
    one_award(feed.port, "cat", 25);
    one_award(feed.port, "dan", 0);
    one_award(feed.port, "eve", 0);
    h_punchd_stop(&a);
    h_punchd_stop(&b);

    /* A late event makes dan last week's best; a new punchd must not close the week again. */
    workout(feed.port, "dan", 100, last_week);
    start(&late, 20, NULL);
    wait_metric(late.port, "punchd_closes_done_total", CATCH_UP); /* last week's found done */
    one_award(feed.port, "dan", 0);
    one_award(feed.port, "ann", 100);
    h_punchd_stop(&late);
    h_punchd_stop(&feed);
}

/* A close killed after its first event is resumed by another punchd from its stored plan. */
static void test_close_resumed_after_kill(void **state)
{
    static punchd_proc feed, first, second;
    long long last_week = now_ms() - WEEK_MS;
    close_ref c;
    char week[16];

    start(&feed, 0, NULL);
    workout(feed.port, "ann", 5, last_week);
    workout(feed.port, "bob", 4, last_week);
    workout(feed.port, "cat", 3, last_week);

    /* One event a second: the kill lands between the first and the second. */
    start(&first, 20, "PUNCHD_SEND_RATE=1");
    wait_stars(feed.port, "ann", 100);
    kill9(&first);
    week_id(last_week, week, sizeof week);
    snprintf(c.key, sizeof c.key, "pc:{close:weekly-top}:%s", week);
    assert_false(close_done(&c));
    assert_int_equal(h_balance(feed.port, "cat", "stars"), 0);

    /* Meanwhile dan becomes last week's best: the plan stored before the kill still holds. */
    workout(feed.port, "dan", 100, last_week);
    start(&second, 20, NULL);
    wait_stars(feed.port, "bob", 50);
    wait_stars(feed.port, "cat", 25);
    assert_true(h_wait_until(close_done, &c, 15000));
    one_award(feed.port, "ann", 100);
    one_award(feed.port, "bob", 50);
    one_award(feed.port, "cat", 25);
    one_award(feed.port, "dan", 0);
    h_punchd_stop(&second);
    h_punchd_stop(&feed);
}

/* A mechanic reads a global counter and a board's rank and top, without changing them. */
static void test_global_reads(void **state)
{
    static punchd_proc p;
    http_resp r;
    json_t *msg;
    char body[256];
    long long now = now_ms();
    char week[16];

    start(&p, 0, NULL);
    workout(p.port, "ann", 7, now);
    workout(p.port, "bob", 9, now);
    event(p.port, "o1", "order", "ann", now, "{}");
    event(p.port, "o2", "order", "bob", now, "{}");
    event(p.port, "o3", "order", "cat", now, "{}");
    week_id(now, week, sizeof week);
    snprintf(body, sizeof body,
             "{\"id\": \"p1\", \"type\": \"peek\", \"member\": \"ann\", \"data\": {\"period\": "
             "\"%s\"}}",
             week);
    assert_int_equal(h_event(p.port, body, &r), 200);
    msg = json_array_get(json_object_get(r.json, "outcomes"), 0);
    assert_int_equal(json_integer_value(json_object_get(msg, "orders")), 3);
    assert_int_equal(json_integer_value(json_object_get(msg, "rank")), 2);
    assert_int_equal(json_integer_value(json_object_get(msg, "score")), 7);
    assert_string_equal(json_string_value(json_object_get(msg, "first")), "bob");
    assert_int_equal(json_integer_value(json_object_get(msg, "n")), 2);
    h_resp_free(&r);
    /* Reading counted nothing: the next order is the 4th. */
    event(p.port, "o4", "order", "dan", now, "{}");
    snprintf(body, sizeof body,
             "{\"id\": \"p2\", \"type\": \"peek\", \"member\": \"dan\", \"data\": {\"period\": "
             "\"2001-W01\"}}");
    assert_int_equal(h_event(p.port, body, &r), 200);
    msg = json_array_get(json_object_get(r.json, "outcomes"), 0);
    assert_int_equal(json_integer_value(json_object_get(msg, "orders")), 4);
    assert_int_equal(json_integer_value(json_object_get(msg, "rank")), 0);
    assert_int_equal(json_integer_value(json_object_get(msg, "n")), 0);
    h_resp_free(&r);
    /* send() is for period closes only. */
    h_write_file(
        scripts, "zz_send.lua",
        "mechanic \"bad-send\" { on = \"bad\", run = function(ev, m) send(\"x\", \"y\") end }\n");
    h_punchd_stop(&p);
    start(&p, 0, NULL);
    assert_int_equal(
        h_event(p.port, "{\"id\": \"b1\", \"type\": \"bad\", \"member\": \"ann\"}", &r), 422);
    assert_non_null(strstr(r.body, "only a period_end mechanic sends"));
    h_resp_free(&r);
    h_punchd_stop(&p);
    {
        char path[600];
        snprintf(path, sizeof path, "%s/zz_send.lua", scripts);
        remove(path);
    }
}

static long long batch(int port, const char *query, const char *ndjson, long long *status0)
{
    http_resp r;
    char path[64];
    long long st;
    snprintf(path, sizeof path, "/v1/events/batch%s", query);
    assert_int_equal(
        h_http_hdr(port, "POST", path, ndjson, "Content-Type: application/x-ndjson", &r), 0);
    st = r.status;
    if (status0)
        *status0 = json_integer_value(
            json_object_get(json_array_get(json_object_get(r.json, "results"), 0), "status"));
    h_resp_free(&r);
    return st;
}

typedef struct bal_want {
    int port;
    const char *member, *currency;
    long long v;
} bal_want;

static int bal_is(void *arg)
{
    bal_want *w = arg;
    return h_balance(w->port, w->member, w->currency) == w->v;
}

/* A replay holds the sweepers: a lot due by the wall clock waits for the replay's later events. */
static void test_replay_hold(void **state)
{
    static punchd_proc p;
    long long t0 = now_ms() - 10LL * 86400000, st = 0;
    long long held;
    char line[256];
    bal_want w;

    start(&p, 20, NULL);
    assert_int_equal(batch(p.port, "?replay=1", "", NULL), 200);
    snprintf(line, sizeof line,
             "{\"id\": \"e1\", \"type\": \"earn\", \"member\": \"rik\", \"at\": %lld, \"data\": "
             "{\"n\": 10}}\n",
             t0);
    assert_int_equal(batch(p.port, "?replay=1", line, &st), 200);
    assert_int_equal(st, 200);
    /* The lot expired 9 days ago by the wall clock; sweeps pass, held, and leave it. */
    held = h_metric(p.port, "punchd_sweeps_held_total", 0);
    wait_metric(p.port, "punchd_sweeps_held_total", held + 3);
    assert_int_equal(h_balance(p.port, "rik", "pts"), 10);
    /* The replay's next event spends within the lot's day: it is there to spend. */
    snprintf(line, sizeof line,
             "{\"id\": \"u1\", \"type\": \"use\", \"member\": \"rik\", \"at\": %lld, \"data\": "
             "{\"n\": 4}}\n",
             t0 + 3600000);
    assert_int_equal(batch(p.port, "?replay=1", line, &st), 200);
    assert_int_equal(st, 200);
    assert_int_equal(h_balance(p.port, "rik", "pts"), 6);
    /* The replay ends: the sweeper expires what is left, at its due time. */
    assert_int_equal(batch(p.port, "?replay=end", "", NULL), 200);
    w = (bal_want){p.port, "rik", "pts", 0};
    assert_true(h_wait_until(bal_is, &w, 15000));
    assert_int_equal(batch(p.port, "?replay=2", "", NULL), 400);
    h_punchd_stop(&p);
}

/* punch import holds the sweepers while it sends, and lets them go at the end. */
static void test_import_replay(void **state)
{
    static punchd_proc p;
    long long t0 = now_ms() - 10LL * 86400000;
    char file[600], url[64], cmd[1400];
    FILE *f;
    bal_want w;
    int st;

    start(&p, 20, NULL);
    snprintf(file, sizeof file, "%s/history.jsonl", scripts);
    assert_non_null(f = fopen(file, "w"));
    fprintf(f,
            "{\"id\": \"e1\", \"type\": \"earn\", \"member\": \"ivy\", \"at\": %lld, "
            "\"data\": {\"n\": 10}}\n"
            "{\"id\": \"u1\", \"type\": \"use\", \"member\": \"ivy\", \"at\": %lld, "
            "\"data\": {\"n\": 4}}\n",
            t0, t0 + 3600000);
    fclose(f);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", p.port);
    snprintf(cmd, sizeof cmd, "%s import %s --url %s --batch 1 >/dev/null 2>&1", PUNCH_PATH, file,
             url);
    st = system(cmd);
    assert_int_equal(WEXITSTATUS(st), 0);
    /* Both applied in the history's order; then the hold lapsed and the sweeper expired the rest.
     */
    w = (bal_want){p.port, "ivy", "pts", 0};
    assert_true(h_wait_until(bal_is, &w, 15000));
    {
        int n = 0;
        h_ledger_sum(p.port, "ivy", "pts", &n);
        assert_int_equal(n, 3); /* +10, -4, -6 expired */
    }
    h_punchd_stop(&p);
}

/* A monthly letter to every member: each gets it once, the mechanic keeps it for the vips. */
static void test_send_all_once_per_member(void **state)
{
    static punchd_proc feed, a, b;
    const char *members[] = {"m1", "m2", "m3", "m4", "m5"};
    http_resp r;
    char path[64];

    h_write_file(scripts, "letter.lua",
                 "currency \"letters\" {}\n"
                 "mechanic \"monthly-letter\" { on = \"period_end:month\", run = function(ev)\n"
                 "  send_all(\"letter\", {month = ev.data.period}) end }\n"
                 "mechanic \"letter\" { on = \"letter\", run = function(ev, m)\n"
                 "  if m:attr(\"vip\") == \"yes\" then m:earn(\"letters\", 1)\n"
                 "    return message(\"Your month \" .. ev.data.month) end end }\n");
    start(&feed, 0, NULL);
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "/v1/members/%s", members[i]);
        assert_int_equal(h_http(feed.port, "PUT", path,
                                i < 2 ? "{\"attributes\": {\"vip\": \"yes\"}}"
                                      : "{\"attributes\": {\"vip\": \"no\"}}",
                                &r),
                         0);
        assert_int_equal(r.status, 200);
        h_resp_free(&r);
    }
    /* Two punchd walk every member at once (a step of the walk at a time, 1 a time). */
    start(&a, 20, "PUNCHD_SEND_RATE=200");
    start(&b, 20, "PUNCHD_SEND_RATE=200");
    /* The month's close is done (every letter answered), and both punchd found the week's and
     * the month's done (the older periods count at once: nothing to catch up). */
    {
        close_ref c;
        time_t t = (time_t)(now_ms() / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        tm.tm_mday = 1;
        tm.tm_mon--; /* last month: the one ended last */
        t = timegm(&tm);
        gmtime_r(&t, &tm);
        snprintf(c.key, sizeof c.key, "pc:{close:monthly-letter}:%04d-%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1);
        if (!h_wait_until(close_done, &c, 15000))
            fail_msg("%s was never done", c.key);
    }
    wait_metric(a.port, "punchd_closes_done_total", 2 * CATCH_UP);
    wait_metric(b.port, "punchd_closes_done_total", 2 * CATCH_UP);
    for (int i = 0; i < 5; i++) {
        int n = 0;
        long long sum = h_ledger_sum(feed.port, members[i], "letters", &n);
        if (sum != (i < 2) || n != (i < 2))
            fail_msg("%s: %d letter entries summing %lld", members[i], n, sum);
    }
    h_punchd_stop(&a);
    h_punchd_stop(&b);
    h_punchd_stop(&feed);
}

/* Monday 00:00 UTC of the week holding ms. */
static long long week_start(long long ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    return (ms / 86400000 - (tm.tm_wday + 6) % 7) * 86400000;
}

static long long close_field(const char *week, const char *field)
{
    redisReply *r = redisCommand(rc, "HGET pc:{close:weekly-top}:%s %s", week, field);
    long long v = r && r->type == REDIS_REPLY_STRING ? atoll(r->str) : -1;
    freeReplyObject(r);
    return v;
}

/*
 * The last close was 15 weeks ago (the marker says so) and no punchd ran
 * since: two punchd starting close the 12 latest weeks, each once and the
 * oldest first; the 2 weeks before them are past the bound and stay open.
 */
static void test_missed_weeks_caught_up(void **state)
{
    static punchd_proc feed, a, b;
    long long this_week = week_start(now_ms());
    char week[16];
    redisReply *r;

    start(&feed, 0, NULL);
    /* ann is the best of every week from 14 weeks ago to last week. */
    for (int k = 1; k <= 14; k++)
        workout(feed.port, "ann", 1, this_week - k * WEEK_MS + 3600000);
    r = redisCommand(rc, "SET pc:{close:weekly-top}:last %lld", this_week - 14 * WEEK_MS);
    freeReplyObject(r);
    start(&a, 20, NULL);
    start(&b, 20, NULL);
    wait_stars(feed.port, "ann", 12 * 100);
    week_id(this_week - WEEK_MS, week, sizeof week);
    {
        close_ref c;
        snprintf(c.key, sizeof c.key, "pc:{close:weekly-top}:%s", week);
        assert_true(h_wait_until(close_done, &c, 15000));
    }
    one_award(feed.port, "bob", 0);
    {
        int n = 0;
        assert_int_equal(h_ledger_sum(feed.port, "ann", "stars", &n), 1200);
        assert_int_equal(n, 12);
    }
    /* In order: each week was done no earlier than the week before it. */
    for (int k = 12; k >= 1; k--) {
        char prev[16];
        week_id(this_week - k * WEEK_MS, week, sizeof week);
        if (close_field(week, "done") < 0)
            fail_msg("week %s (%d back) was not closed", week, k);
        if (k < 12) {
            week_id(this_week - (k + 1) * WEEK_MS, prev, sizeof prev);
            if (close_field(week, "done") < close_field(prev, "done"))
                fail_msg("week %s was closed before %s", week, prev);
        }
    }
    /* Past the bound: 13 and 14 weeks back stay open. */
    for (int k = 13; k <= 14; k++) {
        week_id(this_week - k * WEEK_MS, week, sizeof week);
        assert_int_equal(close_field(week, "done"), -1);
    }
    r = redisCommand(rc, "GET pc:{close:weekly-top}:last");
    assert_true(r && r->type == REDIS_REPLY_STRING);
    assert_int_equal(atoll(r->str), this_week);
    freeReplyObject(r);
    h_punchd_stop(&a);
    h_punchd_stop(&b);
    h_punchd_stop(&feed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_weekly_top3_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_resumed_after_kill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_global_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_hold, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_all_once_per_member, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missed_weeks_caught_up, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
