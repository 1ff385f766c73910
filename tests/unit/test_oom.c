/*
 * Out of memory, everywhere, Lua ltests-style: the member and money paths
 * (core/model: member.c, fields.c, lots.c, render.c) and a compiled set of
 * mechanics deciding an event (core/lua, through its allocator) run again and
 * again with an allocator that fails the Nth allocation, for N = 1, 2, ...
 * until a run no longer reaches N. Each run must end cleanly: no crash, an
 * error reported (-1 with its message, or a 4xx/5xx error), nothing leaked
 * (ASan's leak check, under make test SANITIZE=1), and the set of mechanics
 * still deciding the next event as if nothing had happened.
 *
 * The failing allocator: this program is linked with --wrap for malloc,
 * calloc, realloc, strdup and strndup (tests/CMakeLists.txt), so every call
 * from punchcore's objects, the Lua state's allocator (sandbox.c calls
 * realloc) among them, comes here first; jansson is pointed here by
 * json_set_alloc_funcs(). Two modes: fail the Nth allocation only (what
 * follows succeeds: the paths that retry, Lua's emergency collection), or
 * the Nth and every one after it (the paths that must give up cleanly).
 */
#include "lua/mechanics-internal.h"
#include "model/lots-internal.h"
#include "model/member-internal.h"
#include "punchcard/event.h"
#include "punchcard/mechanics.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ---- the failing allocator ---- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static long allocs;  /* allocations since the run began */
static long fail_at; /* the allocation that fails (1-based); 0: none */
static int fail_on;  /* 1: every allocation from fail_at on fails too */
static long failed;  /* allocations refused in this run */
static int paused;   /* the test's own allocations: neither counted nor refused */

static int refuse(void)
{
    if (paused)
        return 0;
    allocs++;
    if (fail_at && (allocs == fail_at || (fail_on && allocs > fail_at))) {
        failed++;
        return 1;
    }
    return 0;
}

void *__wrap_malloc(size_t n)
{
    return refuse() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return refuse() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    /* realloc(p, 0) frees; a free never fails. */
    if (n == 0 || !refuse())
        return __real_realloc(p, n);
    return NULL;
}

char *__wrap_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = __wrap_malloc(n);
    return d ? memcpy(d, s, n) : NULL;
}

char *__wrap_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = __wrap_malloc(len + 1);
    if (!d)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

static void arm(long n, int on)
{
    allocs = 0;
    failed = 0;
    fail_at = n;
    fail_on = on;
}

static void disarm(void)
{
    fail_at = 0;
}

static int setup(void **state)
{
    json_set_alloc_funcs(__wrap_malloc, free);
    pc_log_set_level(PC_LOG_ERROR);
    return 0;
}

/*
 * Runs path(arg) with the Nth allocation failing, for N = 1, 2 ... until a
 * run makes fewer than N allocations (it then completed with none refused);
 * path returns 0 when it completed, -1 when it stopped on an error it
 * reported. A run with a refusal must not complete as if nothing happened
 * unless the path could retry (only_once mode); the last must complete.
 */
static void each_failure(const char *what, int (*path)(void *arg, int refused_ok), void *arg)
{
    for (int on = 0; on <= 1; on++) {
        long n;
        for (n = 1; n < 100000; n++) {
            int rc;
            arm(n, on);
            rc = path(arg, !on);
            disarm();
            if (allocs < n) {
                if (rc != 0)
                    fail_msg("%s: with no allocation refused (%ld made), the path failed", what,
                             allocs);
                break;
            }
            if (rc == 0 && on && failed)
                fail_msg("%s: allocation %ld (and every later one) refused, yet the path "
                         "reported success",
                         what, n);
        }
        print_message("%s: %ld allocations, each refused in turn (%s)\n", what, n - 1,
                      on ? "and every one after it" : "that one only");
    }
}

/* ---- the member and money paths ---- */

#define T0  1767225600000LL /* 2026-01-01T00:00:00Z */
#define DAY 86400000LL

/*
 * One event's worth of member and money work, as the engine and the API do
 * it; arg: where the member's rendering goes (char[2048]).
 */
static int money_path(void *arg, int refused_ok)
{
    char *rendered = arg;
    static const char *const pairs[] = {"v",
                                        "3",
                                        "b:stars",
                                        "30",
                                        "ln:stars",
                                        "1",
                                        "l:stars:1",
                                        "30|30|0|0|0|"
                                        "1767225600000|o-0",
                                        "c:orders",
                                        "2",
                                        "a:tz",
                                        "Europe/Paris",
                                        "g:first",
                                        "1767225600000"};
    member_state *m = member_new("ann"), *copy = NULL;
    const char *why = NULL;
    int64_t balance, reversed;
    json_t *j, *earned = NULL;
    int rc = -1;

    if (!m)
        return -1;
    if (member_load_pairs(m, sizeof pairs / sizeof *pairs, pairs, NULL))
        goto out;
    /* Earn: an expiring lot, a pending one, into the merged lot; spend across them. */
    if (lots_earn(m, "fuel", "stars", 50, T0 + 30 * DAY, 0, T0, "o-1", &balance, &why) ||
        lots_earn(m, "fuel", "stars", 20, T0 + 60 * DAY, T0 + 14 * DAY, T0, "o-1", &balance,
                  &why) ||
        lots_earn(m, "shop", "points", 7, 0, 0, T0, "o-1", &balance, &why) ||
        lots_spend(m, "shop", NULL, "stars", 60, &balance, &why) ||
        lots_spend(m, "redeem", "redeem", "points", 2, &balance, &why))
        goto reported;
    /* Counters, badges, prizes, tier, attributes: fields.c. */
    if (member_set_counter(m, "orders", member_counter(m, "orders") + 1) ||
        member_award_badge(m, "big-spender", T0) < 0 || member_add_prize(m, "dessert") ||
        member_set_tier(m, "gold") || member_set_attr(m, "city", "Lyon") ||
        member_count_once(m, "orders") < 0 || member_mark_once(m, "welcome", T0) < 0 ||
        member_set_streak(m, "daily", MEMBER_STREAK_LEN, 3) ||
        member_set_window(m, "spend", T0, 500))
        goto out;
    member_finish(m);
    /* The commit, then the sweeper's tick and a reversal on the settled state. */
    if (member_settle(m, 4))
        goto out;
    if (lots_tick(m, T0 + 20 * DAY, &why))
        goto reported;
    if (!(earned = json_pack("{s:i}", "points", 7)))
        goto out;
    if (lots_reverse(m, "o-1", NULL, 0, earned, T0 + 21 * DAY, &reversed, &why))
        goto reported;
    /* GET /v1/members/{id} and what the engine keeps for its cache. */
    if (!(j = member_to_json(m)))
        goto out;
    {
        /*
         * The test's own dump, with nothing refused: jansson's dump ignores a
         * failure to write an object's key (dump.c) and would print {:1}.
         */
        char *text;
        paused = 1;
        text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        paused = 0;
        json_decref(j);
        if (!text)
            goto out;
        snprintf(rendered, 2048, "%s", text);
        free(text);
    }
    if (!(j = lots_summary(m)))
        goto out;
    json_decref(j);
    if (!(copy = member_clone(m)))
        goto out;
    rc = 0;
    goto out;
reported:
    /* lots.c reports why; out of memory is the only reason here. */
    if (!why || strcmp(why, "out of memory")) {
        disarm();
        fail_msg("money path: refused with '%s', not 'out of memory'", why ? why : "(none)");
    }
out:
    json_decref(earned);
    member_free(copy);
    member_free(m);
    return rc;
}

typedef struct money {
    char first[2048], out[2048];
} money;

/* The money path, whose member must render as it did when nothing failed. */
static int money_same(void *arg, int refused_ok)
{
    money *mo = arg;
    int rc = money_path(mo->out, refused_ok);
    if (rc == 0 && strcmp(mo->out, mo->first)) {
        long n = fail_at;
        disarm();
        fail_msg("money path: allocation %ld refused, the member came out as\n%s\nnot\n%s", n,
                 mo->out, mo->first);
    }
    return rc;
}

static void money_paths_survive_every_failed_allocation(void **state)
{
    static money mo;
    /* The path completes when nothing fails, with the figures a reader expects. */
    assert_int_equal(money_path(mo.first, 0), 0);
    assert_non_null(strstr(mo.first, "\"stars\":"));
    each_failure("member and money", money_same, &mo);
}

/* ---- a set of mechanics deciding an event ---- */

static const char program[] =
    "currency 'stars' { expires_in = '30d' }\n"
    "mechanic 'fuel' { on = 'order', run = function(ev, m)\n"
    "  local total = 0\n"
    "  for _, item in ipairs(ev.data.items) do\n"
    "    total = total + item.amount\n"
    "    m:earn('stars', item.amount // 10)\n"
    "  end\n"
    "  m:count('orders')\n"
    "  if total > 100 then m:badge('big-' .. string.rep('spender', 1)) end\n"
    "  local soon = m:expiring('stars')\n"
    "  return message(string.format('%d stars for %s', total // 10, ev.member),\n"
    "                 {lines = #ev.data.items, note = ev.data.note, expiring = soon})\n"
    "end }\n"
    "mechanic 'dessert' { on = 'order', run = function(ev, m)\n"
    "  if m:count('desserts') % 2 == 0 then return prize('dessert', {size = 'xl'}) end\n"
    "end }\n";

static const char order[] =
    "{\"id\":\"o-1\",\"type\":\"order\",\"member\":\"ann\",\"at\":\"2026-01-02T10:00:00Z\","
    "\"data\":{\"items\":[{\"category\":\"fuel\",\"amount\":500},{\"category\":\"shop\","
    "\"amount\":125}],\"note\":\"n\\u00e9e\"}}";

typedef struct decide {
    mechset *set;
    pc_event ev;
    char first[512]; /* the outcomes when nothing fails */
} decide;

static int decide_once(decide *d, char *outcomes, size_t n)
{
    member_state *m = member_new(d->ev.member);
    pc_error err = {0};
    int rc = -1;
    if (!m)
        return -1;
    if (mechset_run(d->set, &d->ev, m, &err) == 0) {
        char *text;
        paused = 1; /* the test's own dump (see money_path) */
        text = json_dumps(member_outcomes_json(m), JSON_COMPACT | JSON_SORT_KEYS);
        paused = 0;
        if (text) {
            snprintf(outcomes, n, "%s", text);
            free(text);
            rc = 0;
        }
    } else if ((err.status != 422 && err.status != 500) || !err.code || !err.message[0]) {
        disarm();
        fail_msg("mechanics: failed with %d %s '%s'", err.status, err.code ? err.code : "-",
                 err.message);
    }
    member_free(m);
    return rc;
}

static int mechanics_path(void *arg, int refused_ok)
{
    decide *d = arg;
    char out[512], after[512];
    int rc = decide_once(d, out, sizeof out);
    long n = fail_at, made = allocs;
    int on = fail_on;

    if (rc == 0 && strcmp(out, d->first)) {
        disarm();
        fail_msg("mechanics: allocation %ld refused, the event decided otherwise:\n%s\nnot\n%s", n,
                 out, d->first);
    }
    /* Whatever happened, the next event on the same set decides as the first did. */
    fail_at = 0;
    if (decide_once(d, after, sizeof after) || strcmp(after, d->first))
        fail_msg("mechanics: after allocation %ld%s was refused, the next event %s:\n%s", n,
                 on ? " (and all later)" : "", rc ? "failed" : "differs", after);
    fail_at = n;
    allocs = made; /* the count is the first event's */
    return rc;
}

static void mechanics_survive_every_failed_allocation(void **state)
{
    mech_source src = {"oom.lua", program, sizeof program - 1};
    pc_error err;
    decide d = {0};

    d.set = mechset_compile(&src, 1, NULL, &err);
    if (!d.set)
        fail_msg("compile: %s", err.message);
    assert_int_equal(pc_event_parse(order, sizeof order - 1, &d.ev, &err), 0);
    assert_int_equal(decide_once(&d, d.first, sizeof d.first), 0);
    assert_non_null(strstr(d.first, "62 stars for ann"));
    assert_non_null(strstr(d.first, "\"expiring\":62"));
    each_failure("mechanics deciding an event", mechanics_path, &d);
    pc_event_clear(&d.ev);
    mechset_unref(d.set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(money_paths_survive_every_failed_allocation),
        cmocka_unit_test(mechanics_survive_every_failed_allocation),
    };
    return cmocka_run_group_tests_name("oom", tests, setup, NULL);
}
