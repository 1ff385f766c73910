/*
 * Unit tests for the money part of the mechanics API (core/lua/api_money.c),
 * through mechset_compile and mechset_run as a program uses it: currency
 * policies and their errors, m:earn options over the policy, m:cashback
 * rounding, m:spend soonest-expiring first, m:pending and m:expiring,
 * m:track and m:rolling across months, tiers with a floor, m:once and
 * m:once_per_year in the member's time zone, birthdays around local midnight,
 * m:wake_at, reject(), discount() and utc().
 *
 * A case is a script and events for member "ann", one after another: a
 * successful event is committed (member_settle), a failed one discarded, as
 * the engine does. Scripts show times with iso(t), a helper appended to every
 * script, so that cases read as dates.
 */
#include "punchcard/common.h"
#include "punchcard/event.h"
#include "lua/mechanics-internal.h"
#include "model/member-internal.h"
#include "model/lots-internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* A mechanic "t" on orders running body. */
#define RUN(body) "mechanic 't' { on = 'order', run = function(ev, m)\n" body "\nend }\n"

/* iso(seconds) -> "2026-11-25T08:30:00Z" (days to civil date, proleptic Gregorian). */
static const char iso_lua[] =
    "\nfunction iso(t)\n"
    "  local s, z = t % 86400, t // 86400 + 719468\n"
    "  local era = z // 146097\n"
    "  local doe = z - era * 146097\n"
    "  local yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365\n"
    "  local doy = doe - (365 * yoe + yoe // 4 - yoe // 100)\n"
    "  local mp = (5 * doy + 2) // 153\n"
    "  local d = doy - (153 * mp + 2) // 5 + 1\n"
    "  local mo = mp < 10 and mp + 3 or mp - 9\n"
    "  local y = yoe + era * 400 + (mo <= 2 and 1 or 0)\n"
    "  return string.format('%04d-%02d-%02dT%02d:%02d:%02dZ', y, mo, d, s // 3600,\n"
    "                       s % 3600 // 60, s % 60)\n"
    "end\n";

static const mech_limits limits = {0, 0, 60000};

/*
 * Every JSON value the engine allocates is counted (json_set_alloc_funcs in
 * main), so a case that leaves some behind names itself, with or without a
 * sanitizer.
 */
static long json_live;

static void *counting_malloc(size_t n)
{
    void *p = malloc(n);
    if (p)
        json_live++;
    return p;
}

static void counting_free(void *p)
{
    if (p) {
        json_live--;
        free(p);
    }
}

/* 1 (and a message) when the case left JSON allocations behind since live0. */
static int leaked(const char *name, long live0)
{
    if (json_live == live0)
        return 0;
    print_error("case \"%s\": %ld JSON allocation(s) left behind (a leak)\n", name,
                json_live - live0);
    return 1;
}

/* Compiles script (plus iso()) as "t.lua". NULL with err filled when it does not compile. */
static mechset *compile_script(const char *script, pc_error *err)
{
    size_t n = strlen(script) + sizeof iso_lua;
    char *text = malloc(n);
    mech_source src;
    mechset *set;
    assert_non_null(text);
    snprintf(text, n, "%s%s", script, iso_lua);
    src.name = "t.lua";
    src.text = text;
    src.len = strlen(text);
    memset(err, 0, sizeof *err);
    set = mechset_compile(&src, 1, &limits, err);
    free(text);
    return set;
}

/* Runs an order event id at time `at` (RFC 3339) with data (JSON, NULL: {}) against m. */
static int run_order(mechset *set, member_state *m, const char *id, const char *at,
                     const char *data, pc_error *err)
{
    char body[1024];
    pc_event ev;
    int rc;
    snprintf(body, sizeof body,
             "{\"id\": \"%s\", \"type\": \"order\", \"member\": \"ann\", \"at\": \"%s\","
             " \"data\": %s}",
             id, at, data ? data : "{}");
    memset(err, 0, sizeof *err);
    if (pc_event_parse(body, strlen(body), &ev, err))
        fail_msg("bad event in the table: %s (%s)", body, err->message);
    rc = mechset_run(set, &ev, m, err);
    pc_event_clear(&ev);
    return rc;
}

/* Member "ann" with fields set as a person would have (name, value, ..., NULL), committed. */
static member_state *ann_with(const char *const *fields)
{
    member_state *m = member_new("ann");
    assert_non_null(m);
    for (size_t i = 0; fields && fields[i]; i += 2)
        assert_int_equal(member_set(m, fields[i], fields[i + 1]), 0);
    assert_int_equal(member_settle(m, 1), 0);
    return m;
}

/* The texts of the message outcomes, "; "-joined. */
static void messages_of(const member_state *m, char *out, size_t n)
{
    size_t i;
    json_t *o;
    *out = '\0';
    json_array_foreach(member_outcomes_json(m), i, o) {
        const char *text = json_string_value(json_object_get(o, "text"));
        if (strcmp(json_string_value(json_object_get(o, "kind")), "message") || !text)
            continue;
        snprintf(out + strlen(out), n - strlen(out), "%s%s", *out ? "; " : "", text);
    }
}

/*
 * Whether field name of m is as wanted: want NULL = absent; "@<RFC 3339>" = the
 * ms of that time; "<prefix>*" = starts with prefix; else exactly want.
 */
static int field_is(const member_state *m, const char *name, const char *want, char *why, size_t n)
{
    const char *got = member_get(m, name);
    char buf[40];
    int ok;
    if (!want) {
        ok = got == NULL;
    } else if (want[0] == '@') {
        int64_t ms;
        if (pc_time_parse(want + 1, &ms))
            fail_msg("bad time in the table: %s", want);
        snprintf(buf, sizeof buf, "%lld", (long long)ms);
        ok = got && !strcmp(got, buf);
    } else if (want[strlen(want) - 1] == '*') {
        ok = got && !strncmp(got, want, strlen(want) - 1);
    } else {
        ok = got && !strcmp(got, want);
    }
    if (!ok)
        snprintf(why, n, "field %s is %s, want %s", name, got ? got : "(absent)",
                 want ? want : "(absent)");
    return ok;
}

static int json_text_is(json_t *got, const char *want_text)
{
    json_error_t jerr;
    json_t *want = json_loads(want_text, JSON_DECODE_ANY, &jerr);
    int eq;
    if (!want)
        fail_msg("bad JSON in the table: %s (%s)", want_text, jerr.text);
    eq = json_equal(got, want);
    json_decref(want);
    return eq;
}

/* ------------------------------------------------------------------------- */
/* Cases: a script, fields set beforehand, events, fields after               */

struct ev {
    const char *at;       /* RFC 3339; NULL ends the list */
    const char *data;     /* JSON object; NULL: {} */
    const char *msg;      /* its message texts, "; "-joined; NULL: not checked */
    const char *outcomes; /* all its outcomes as JSON; NULL: not checked */
    const char *code;     /* NULL: it must succeed; else its error code */
    const char *err;      /* a substring of the error message (exactly it for "rejected") */
    const char *field;    /* a field to check after it, as field_is() reads want */
    const char *value;
};

struct field_want {
    const char *name, *value;
};

struct api_case {
    const char *name;
    const char *script;
    const char *member[9]; /* name, value, ..., NULL */
    struct ev events[8];
    struct field_want fields[8]; /* after the last event */
};

/* Runs one event of a case; commits or discards it. Returns the failures. */
static int run_case_event(const char *name, size_t i, mechset *set, member_state **mp,
                          const struct ev *e)
{
    member_state *before = member_clone(*mp);
    pc_error err;
    char id[16], msgs[1024], why[512];
    int rc, failures = 0;

    assert_non_null(before);
    snprintf(id, sizeof id, "e%zu", i + 1);
    rc = run_order(set, *mp, id, e->at, e->data, &err);
    if (e->code) {
        int text_ok = !strcmp(e->code, "rejected") ? !strcmp(err.message, e->err)
                                                   : strstr(err.message, e->err) != NULL;
        if (rc != -1 || !err.code || strcmp(err.code, e->code) || !text_ok) {
            print_error("case \"%s\", event %zu at %s: rc=%d code=%s \"%s\", want -1 %s \"%s\"\n",
                        name, i + 1, e->at, rc, err.code ? err.code : "(none)",
                        rc ? err.message : "", e->code, e->err);
            failures++;
        }
        member_free(*mp); /* the engine discards a failed event's changes */
        *mp = before;
        return failures;
    }
    member_free(before);
    if (rc) {
        print_error("case \"%s\", event %zu at %s failed: %s %s\n", name, i + 1, e->at,
                    err.code ? err.code : "", err.message);
        return 1;
    }
    messages_of(*mp, msgs, sizeof msgs);
    if (e->msg && strcmp(msgs, e->msg)) {
        print_error("case \"%s\", event %zu at %s: message \"%s\", want \"%s\"\n", name, i + 1,
                    e->at, msgs, e->msg);
        failures++;
    }
    if (e->outcomes && !json_text_is(member_outcomes_json(*mp), e->outcomes)) {
        char *got = json_dumps(member_outcomes_json(*mp), 0);
        print_error("case \"%s\", event %zu at %s: outcomes %s, want %s\n", name, i + 1, e->at,
                    got ? got : "NULL", e->outcomes);
        free(got);
        failures++;
    }
    assert_int_equal(member_settle(*mp, (*mp)->version + 1), 0);
    if (e->field && !field_is(*mp, e->field, e->value, why, sizeof why)) {
        print_error("case \"%s\", event %zu at %s: %s\n", name, i + 1, e->at, why);
        failures++;
    }
    return failures;
}

static int run_api_case(const struct api_case *c)
{
    long live0 = json_live;
    pc_error err;
    mechset *set = compile_script(c->script, &err);
    member_state *m;
    int failures = 0;
    char why[512];

    if (!set) {
        print_error("case \"%s\": does not compile: %s\n", c->name, err.message);
        return 1 + leaked(c->name, live0);
    }
    m = ann_with(c->member);
    for (size_t i = 0; i < N(c->events) && c->events[i].at; i++)
        failures += run_case_event(c->name, i, set, &m, &c->events[i]);
    for (size_t i = 0; i < N(c->fields) && c->fields[i].name; i++) {
        if (!field_is(m, c->fields[i].name, c->fields[i].value, why, sizeof why)) {
            print_error("case \"%s\": after the events, %s\n", c->name, why);
            failures++;
        }
    }
    member_free(m);
    mechset_unref(set);
    return failures + leaked(c->name, live0);
}

static void run_api_cases(const struct api_case *cases, size_t n)
{
    int failures = 0;
    for (size_t i = 0; i < n; i++)
        failures += run_api_case(&cases[i]);
    assert_int_equal(failures, 0);
}

#define AT "2026-11-25T08:30:00Z"

/* ------------------------------------------------------------------------- */
/* currency policies and m:earn options                                       */

static const struct {
    const char *name;
    const char *policy; /* inside currency "x" { ... }; NULL: x is not declared */
    const char *opts;   /* m:earn's options table; NULL: none */
    const char *at;
    const char *expires; /* NULL: never */
    const char *avail;   /* NULL: at once */
} policy_cases[] = {
    {"6mo from 31 August ends on 28 February", "expires_in = '6mo'", NULL, "2026-08-31T10:00:00Z",
     "2027-02-28T10:00:00Z", NULL},
    {"6mo", "expires_in = '6mo'", NULL, AT, "2027-05-25T08:30:00Z", NULL},
    {"30d", "expires_in = '30d'", NULL, AT, "2026-12-25T08:30:00Z", NULL},
    {"12h", "expires_in = '12h'", NULL, AT, "2026-11-25T20:30:00Z", NULL},
    {"1w", "expires_in = '1w'", NULL, AT, "2026-12-02T08:30:00Z", NULL},
    {"2y from 29 February", "expires_in = '2y'", NULL, "2028-02-29T12:00:00Z",
     "2030-02-28T12:00:00Z", NULL},
    {"a number counts days", "expires_in = 10", NULL, AT, "2026-12-05T08:30:00Z", NULL},
    {"end_of_month", "expires_at = 'end_of_month'", NULL, AT, "2026-12-01T00:00:00Z", NULL},
    {"end_of_quarter", "expires_at = 'end_of_quarter'", NULL, "2026-05-10T12:00:00Z",
     "2026-07-01T00:00:00Z", NULL},
    {"end_of_year", "expires_at = 'end_of_year'", NULL, AT, "2027-01-01T00:00:00Z", NULL},
    {"both: the end of the month comes sooner", "expires_in = '6mo', expires_at = 'end_of_month'",
     NULL, AT, "2026-12-01T00:00:00Z", NULL},
    {"both: the week comes sooner", "expires_in = '1w', expires_at = 'end_of_year'", NULL, AT,
     "2026-12-02T08:30:00Z", NULL},
    {"a return window", "pending = '14d'", NULL, AT, NULL, "2026-12-09T08:30:00Z"},
    {"a return window and an expiry", "expires_in = '6mo', pending = '14d'", NULL, AT,
     "2027-05-25T08:30:00Z", "2026-12-09T08:30:00Z"},
    {"a description only: never, at once", "description = 'Stamps, one per drink'", NULL, AT, NULL,
     NULL},
    {"not declared: never, at once", NULL, NULL, AT, NULL, NULL},
    {"an expires_in option replaces the policy's", "expires_in = '6mo'", "{expires_in = '30d'}", AT,
     "2026-12-25T08:30:00Z", NULL},
    {"an expires_at option replaces a sooner expires_in", "expires_in = '1w'",
     "{expires_at = 'end_of_year'}", AT, "2027-01-01T00:00:00Z", NULL},
    {"an expires_in option replaces a sooner expires_at", "expires_at = 'end_of_month'",
     "{expires_in = '1y'}", AT, "2027-11-25T08:30:00Z", NULL},
    {"expires_in = 0: never", "expires_in = '6mo'", "{expires_in = 0}", AT, NULL, NULL},
    {"a pending option keeps the policy's expiry", "expires_in = '6mo'", "{pending = '3d'}", AT,
     "2027-05-25T08:30:00Z", "2026-11-28T08:30:00Z"},
    {"pending = 0: at once", "expires_in = '1w', pending = '14d'", "{pending = 0}", AT,
     "2026-12-02T08:30:00Z", NULL},
    {"options on an undeclared currency", NULL, "{expires_at = 'end_of_month', pending = '2d'}", AT,
     "2026-12-01T00:00:00Z", "2026-11-27T08:30:00Z"},
};

struct first_lot {
    lot_rec lot;
    int found;
};

static void first_lot_fn(const lot_rec *lot, void *arg)
{
    struct first_lot *f = arg;
    if (!strcmp(lot->currency, "x")) {
        f->lot = *lot;
        f->found = 1;
    }
}

static void format_or(int64_t ms, const char *none, char *out, size_t n)
{
    if (ms)
        pc_time_format(ms, out, n);
    else
        snprintf(out, n, "%s", none);
}

static void test_currency_policies(void **state)
{
    int failures = 0;
    (void)state;
    for (size_t i = 0; i < N(policy_cases); i++) {
        char script[1024], want_msg[32], got_exp[40], got_avail[40], want_exp[40], want_avail[40],
            msgs[256];
        int64_t ms, want_n;
        pc_error err;
        mechset *set;
        member_state *m;
        struct first_lot f = {.found = 0};

        snprintf(script, sizeof script,
                 "%s%s%s" RUN("return message(m:earn('x', 10%s%s) .. ' ' .. m:pending('x') .. "
                              "' ' .. m:balance('x'))"),
                 policy_cases[i].policy ? "currency 'x' { " : "",
                 policy_cases[i].policy ? policy_cases[i].policy : "",
                 policy_cases[i].policy ? " }\n" : "", policy_cases[i].opts ? ", " : "",
                 policy_cases[i].opts ? policy_cases[i].opts : "");
        set = compile_script(script, &err);
        if (!set) {
            print_error("case \"%s\": does not compile: %s\n", policy_cases[i].name, err.message);
            failures++;
            continue;
        }
        m = ann_with(NULL);
        if (run_order(set, m, "e1", policy_cases[i].at, NULL, &err)) {
            print_error("case \"%s\": the earn failed: %s\n", policy_cases[i].name, err.message);
            failures++;
            goto next;
        }
        /* A pending earn returns the balance, 0 here; the 10 wait in pending. */
        snprintf(want_msg, sizeof want_msg, "%s", policy_cases[i].avail ? "0 10 0" : "10 0 10");
        messages_of(m, msgs, sizeof msgs);
        lots_each(m, first_lot_fn, &f);
        format_or(f.lot.expires_ms, "never", got_exp, sizeof got_exp);
        format_or(f.lot.avail_ms, "at once", got_avail, sizeof got_avail);
        snprintf(want_exp, sizeof want_exp, "never");
        snprintf(want_avail, sizeof want_avail, "at once");
        if (policy_cases[i].expires && pc_time_parse(policy_cases[i].expires, &ms) == 0)
            pc_time_format(ms, want_exp, sizeof want_exp);
        if (policy_cases[i].avail && pc_time_parse(policy_cases[i].avail, &ms) == 0)
            pc_time_format(ms, want_avail, sizeof want_avail);
        /* Never expiring and spendable at once: the currency's merged lot 0. */
        want_n = policy_cases[i].expires || policy_cases[i].avail ? 1 : 0;
        if (!f.found || f.lot.n != want_n || f.lot.amount != 10 || strcmp(got_exp, want_exp) ||
            strcmp(got_avail, want_avail) || strcmp(msgs, want_msg)) {
            print_error("case \"%s\": lot x:%lld %s, amount %lld, expires %s, available %s; "
                        "earn/pending/balance \"%s\"; want lot x:%lld, expires %s, available %s, "
                        "\"%s\"\n",
                        policy_cases[i].name, (long long)f.lot.n, f.found ? "found" : "missing",
                        (long long)f.lot.amount, got_exp, got_avail, msgs, (long long)want_n,
                        want_exp, want_avail, want_msg);
            failures++;
        }
    next:
        member_free(m);
        mechset_unref(set);
    }
    assert_int_equal(failures, 0);
}

/* Scripts that must not compile, with what the error says. */
static const struct {
    const char *name, *script, *want, *want2;
} declaration_errors[] = {
    {"an unknown field", "currency 'x' { expire_in = '6mo' }",
     "currency 'x': unknown field 'expire_in'", "t.lua:1:"},
    {"a span in words", "currency 'x' { expires_in = '6 months' }", "x: expires_in must be like",
     NULL},
    {"a span without a unit", "currency 'x' { expires_in = '30' }", "x: expires_in must be like",
     NULL},
    {"a negative span", "currency 'x' { expires_in = '-3d' }", "x: expires_in must be like", NULL},
    {"a negative number of days", "currency 'x' { expires_in = -1 }", "x: expires_in must be like",
     NULL},
    {"an unknown period", "currency 'x' { expires_at = 'end_of_week' }",
     "x: expires_at must be \"end_of_month\"", NULL},
    {"a return window in months", "currency 'x' { pending = '1mo' }", "x: pending must be like",
     NULL},
    {"declared twice", "currency 'x' { expires_in = '6mo' }\ncurrency 'x' { pending = '1d' }",
     "currency 'x' is declared twice", "t.lua:2:"},
    {"a bad currency name", "currency 'Stars' { }", "bad currency name 'Stars'", NULL},
    {"rules that are not a table", "currency 'x' '6mo'", "table expected", NULL},
    {"tiers declared twice", "tiers { 'blue' }\ntiers { 'gold' }", "tiers are declared twice",
     "t.lua:2:"},
    {"no tiers", "tiers { }", "tiers: list the tier names, lowest first", NULL},
    {"a bad tier name", "tiers { 'blue', 'Gold' }", "bad tier name 'Gold'", NULL},
};

static void test_declaration_errors(void **state)
{
    int failures = 0;
    (void)state;
    for (size_t i = 0; i < N(declaration_errors); i++) {
        long live0 = json_live;
        pc_error err;
        mechset *set = compile_script(declaration_errors[i].script, &err);
        if (set) {
            print_error("case \"%s\": compiled, want an error with \"%s\"\n",
                        declaration_errors[i].name, declaration_errors[i].want);
            mechset_unref(set);
            failures++;
        } else if (err.status != 422 || !strstr(err.message, declaration_errors[i].want) ||
                   (declaration_errors[i].want2 &&
                    !strstr(err.message, declaration_errors[i].want2))) {
            print_error("case \"%s\": error %d \"%s\", want 422 with \"%s\" %s\n",
                        declaration_errors[i].name, err.status, err.message,
                        declaration_errors[i].want,
                        declaration_errors[i].want2 ? declaration_errors[i].want2 : "");
            failures++;
        }
        failures += leaked(declaration_errors[i].name, live0);
    }
    assert_int_equal(failures, 0);
}

/* ------------------------------------------------------------------------- */
/* m:cashback                                                                 */

static void test_cashback(void **state)
{
    static const struct {
        const char *amount, *percent;
        const char *want; /* the balance, or (not a number) a substring of the error */
    } cases[] = {
        {"999", "3.5", "34"},
        {"10000", "4.35", "435"},
        {"1000", "1.1", "11"},
        {"10000", "0.07", "7"},
        {"10000", "0.01", "1"},
        {"9999", "0.01", "0"},
        {"300", "33.33", "99"},
        {"100", "99.99", "99"},
        {"8", "12.5", "1"},
        {"7", "100", "7"},
        {"1000", "0", "0"},
        {"0", "5", "0"},
        {"100", "100.01", "cashback: percent must be from 0 to 100"},
        {"100", "-0.5", "cashback: percent must be from 0 to 100"},
        {"-100", "5", "amount must not be negative"},
        {"2.5", "5", "amount must be a whole number"},
    };
    int failures = 0;
    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        char script[512], msgs[256];
        const char *want = cases[i].want;
        int is_balance = want[0] >= '0' && want[0] <= '9';
        pc_error err;
        mechset *set;
        member_state *m = ann_with(NULL);
        int rc;

        snprintf(script, sizeof script, RUN("return message(tostring(m:cashback('cb', %s, %s)))"),
                 cases[i].amount, cases[i].percent);
        set = compile_script(script, &err);
        assert_non_null(set);
        rc = run_order(set, m, "e1", AT, NULL, &err);
        messages_of(m, msgs, sizeof msgs);
        if (is_balance ? rc || strcmp(msgs, want) : !rc || !strstr(err.message, want)) {
            print_error("case %s%% of %s: rc=%d, balance \"%s\", error \"%s\"; want \"%s\"\n",
                        cases[i].percent, cases[i].amount, rc, rc ? "" : msgs,
                        rc ? err.message : "", want);
            failures++;
        }
        member_free(m);
        mechset_unref(set);
    }
    assert_int_equal(failures, 0);
}

/* ------------------------------------------------------------------------- */
/* Earning and spending                                                       */

static const struct api_case money_cases[] = {
    {.name = "several earns in one run make one outcome",
     .script = RUN("m:earn('st', 3)\n"
                   "m:earn('st', 4, {pending = '1d'})"),
     .events = {{.at = AT,
                 .outcomes = "[{\"mechanic\": \"t\", \"kind\": \"stars\", \"currency\": \"st\","
                             " \"delta\": 3, \"balance\": 3, \"pending\": 4,"
                             " \"pending_balance\": 4}]"}},
     .fields = {{"b:st", "3"}, {"pb:st", "4"}, {"l:st:0", "3|3|0|0|0|*"}, {"l:st:1", "4|4|0|0|*"}}},
    {.name = "cashback follows the currency's rules and takes options",
     .script = "currency 'cb' { expires_in = '1y' }\n" RUN(
         "return message(m:cashback('cb', 1000, 5) .. ' ' .. m:cashback('cb', 1000, 2, "
         "{pending = '14d'}) .. ' ' .. m:pending('cb'))"),
     .events = {{.at = AT, .msg = "50 50 20"}},
     /* 50 expiring on 2027-11-25T08:30:00Z (1827131400000 ms), 20 pending */
     .fields = {{"l:cb:1", "50|50|0|1827131400000|0|*"}, {"pb:cb", "20"}}},
    {.name = "spend takes the soonest-expiring lot first and never-expiring ones last",
     .script = "currency 'st' { expires_in = '6mo' }\n" RUN(
         "if ev.data.earn then\n"
         "  m:earn('st', 10)\n"                       /* lot 1: six months */
         "  m:earn('st', 10, {expires_in = '1mo'})\n" /* lot 2: a month */
         "  m:earn('st', 10, {expires_in = 0})\n"     /* the merged lot 0: never */
         "end\n"
         "return message(tostring(m:spend('st', ev.data.spend)))"),
     .events = {{.at = AT, .data = "{\"earn\": true, \"spend\": 15}", .msg = "15"},
                {.at = AT,
                 .data = "{\"spend\": 16}",
                 .code = "mechanic_error",
                 .err = "spend 16 st: insufficient balance"},
                {.at = AT, .data = "{\"spend\": 0}", .msg = "15"}},
     .fields = {{"b:st", "15"},
                {"l:st:1", "10|5|5|*"},
                {"l:st:2", "10|0|10|*"},
                {"l:st:0", "10|10|0|0|0|*"}}},
    {.name = "pending and expiring",
     .script = "currency 'st' { expires_in = '30d', pending = '14d' }\n" RUN(
         "if ev.data.spend then\n"
         "  m:spend('st', ev.data.spend)\n"
         "else\n"
         "  m:earn('st', 7)\n"
         "  m:earn('st', 5, {pending = 0})\n"
         "  m:earn('st', 3, {pending = 0})\n"
         "  m:earn('st', 4, {expires_in = '1w', pending = 0})\n"
         "end\n"
         "local amount, at = m:expiring('st')\n"
         "return message(m:pending('st') .. ' ' .. m:balance('st') .. ' ' .. amount .. ' ' ..\n"
         "               iso(at) .. ' ' .. tostring(m:expiring('none')))"),
     .events = {{.at = AT, .msg = "7 12 4 2026-12-02T08:30:00Z nil"},
                /* the week's lot spent: the three lots of 25 December remain, 7 of them pending */
                {.at = "2026-11-26T08:30:00Z",
                 .data = "{\"spend\": 4}",
                 .msg = "7 8 15 2026-12-25T08:30:00Z nil"}}},
    {.name = "earn options are checked",
     .script = RUN("m:earn('x', 1, {expire_in = '1d'})"),
     .events = {{.at = AT, .code = "mechanic_error", .err = "earn: unknown option 'expire_in'"}}},
    {.name = "an earn option's span is checked",
     .script = RUN("m:earn('x', 1, {expires_in = 'soon'})"),
     .events = {{.at = AT, .code = "mechanic_error", .err = "earn: expires_in must be like"}}},
    {.name = "an earn option's period is checked",
     .script = "currency 'x' { expires_in = '6mo' }\n" RUN(
         "m:earn('x', 1, {expires_at = 'end_of_week'})"),
     .events = {{.at = AT, .code = "mechanic_error", .err = "earn: expires_at must be"}}},
    {.name = "an earn option's return window is in days",
     .script = RUN("m:earn('x', 1, {pending = '1y'})"),
     .events = {{.at = AT, .code = "mechanic_error", .err = "earn: pending must be like"}}},
    {.name = "an earn of a negative amount",
     .script = RUN("m:earn('x', -1)"),
     .events = {{.at = AT, .code = "mechanic_error", .err = "amount must not be negative"}}},
    {.name = "currency declared inside run",
     .script = RUN("currency 'y' { expires_in = '1d' }"),
     .events = {{.at = AT,
                 .code = "mechanic_error",
                 .err = "currency 'y' declared outside a script's top level"}}},
    {.name = "tiers declared inside run",
     .script = RUN("tiers { 'blue' }"),
     .events = {{.at = AT,
                 .code = "mechanic_error",
                 .err = "tiers declared outside a script's top level"}}},
};

static void test_earn_and_spend(void **state)
{
    (void)state;
    run_api_cases(money_cases, N(money_cases));
}

/* ------------------------------------------------------------------------- */
/* Rolling windows and tiers                                                  */

#define TRACK                                                                                      \
    RUN("local v = m:track('flown', ev.data.miles)\n"                                              \
        "return message(v .. ' ' .. m:rolling('flown', 1) .. ' ' .. m:rolling('flown', 3) .. ' ' " \
        ".. m:rolling('flown', 12))")
#define TIERS "tiers { 'blue', 'silver', 'gold' }\n"
#define SET_TIER                                                                                   \
    RUN("local changed = m:set_tier(ev.data.tier)\n"                                               \
        "return message(tostring(changed) .. ' ' .. tostring(m:tier()))")
#define TIER_TO(t) "{\"tier\": \"" t "\"}"

static const struct api_case tier_cases[] = {
    {.name = "track and rolling across months; buckets older than 24 months are dropped",
     .script = TRACK,
     .events = {{.at = "2026-01-15T00:00:00Z",
                 .data = "{\"miles\": 100}",
                 .msg = "100 100 100 100"},
                {.at = "2026-01-31T23:59:59Z", .data = "{\"miles\": 10}", .msg = "110 110 110 110"},
                {.at = "2026-02-01T00:00:00Z", .data = "{\"miles\": 50}", .msg = "50 50 160 160"},
                {.at = "2026-03-31T12:00:00Z", .data = "{\"miles\": 25}", .msg = "25 25 185 185"},
                {.at = "2026-05-01T00:00:00Z", .data = "{\"miles\": 0}", .msg = "0 0 25 185"},
                {.at = "2027-01-20T00:00:00Z", .data = "{\"miles\": 5}", .msg = "5 5 5 80"},
                {.at = "2028-02-15T00:00:00Z",
                 .data = "{\"miles\": 1}",
                 .msg = "1 1 1 1",
                 .field = "w:flown:202601",
                 .value = NULL}},
     .fields = {{"w:flown:202602", "50"},
                {"w:flown:202603", "25"},
                {"w:flown:202701", "5"},
                {"w:flown:202802", "1"}}},
    {.name = "rolling counts 1 to 24 months",
     .script = RUN("m:rolling('flown', ev.data.months)"),
     .events = {{.at = AT, .data = "{\"months\": 24}"},
                {.at = AT,
                 .data = "{\"months\": 25}",
                 .code = "mechanic_error",
                 .err = "rolling flown: months must be 1-24"},
                {.at = AT,
                 .data = "{\"months\": 0}",
                 .code = "mechanic_error",
                 .err = "rolling flown: months must be 1-24"}}},
    {.name = "track takes whole numbers",
     .script = RUN("m:track('flown', 1.5)"),
     .events = {{.at = AT,
                 .code = "mechanic_error",
                 .err = "track flown: the amount must be a whole number"}}},
    {.name = "set_tier up and down",
     .script = TIERS SET_TIER,
     .events = {{.at = AT,
                 .data = TIER_TO("silver"),
                 .outcomes = "[{\"mechanic\": \"t\", \"kind\": \"tier\", \"tier\": \"silver\","
                             " \"from\": null},"
                             " {\"mechanic\": \"t\", \"kind\": \"message\", \"text\": \"true "
                             "silver\"}]"},
                {.at = AT, .data = TIER_TO("silver"), .msg = "false silver"},
                {.at = AT,
                 .data = TIER_TO("blue"),
                 .outcomes = "[{\"mechanic\": \"t\", \"kind\": \"tier\", \"tier\": \"blue\","
                             " \"from\": \"silver\"},"
                             " {\"mechanic\": \"t\", \"kind\": \"message\", \"text\": \"true "
                             "blue\"}]"}},
     .fields = {{"t", "blue"}}},
    {.name = "never below the floor a person set",
     .script = TIERS SET_TIER,
     .member = {"t", "blue", "tf", "gold", NULL},
     .events = {{.at = AT,
                 .data = TIER_TO("silver"),
                 .outcomes = "[{\"mechanic\": \"t\", \"kind\": \"tier\", \"tier\": \"gold\","
                             " \"from\": \"blue\"},"
                             " {\"mechanic\": \"t\", \"kind\": \"message\", \"text\": \"true "
                             "gold\"}]"},
                {.at = AT, .data = TIER_TO("blue"), .msg = "false gold"}},
     .fields = {{"t", "gold"}, {"tf", "gold"}}},
    {.name = "above the floor, and back to it",
     .script = TIERS SET_TIER,
     .member = {"tf", "silver", NULL},
     .events = {{.at = AT, .data = TIER_TO("gold"), .msg = "true gold"},
                {.at = AT, .data = TIER_TO("blue"), .msg = "true silver"}},
     .fields = {{"t", "silver"}}},
    {.name = "an undeclared tier",
     .script = TIERS SET_TIER,
     .member = {"t", "blue", NULL},
     .events = {{.at = AT,
                 .data = TIER_TO("platinum"),
                 .code = "mechanic_error",
                 .err = "set_tier: 'platinum' is not one of the declared tiers"}},
     .fields = {{"t", "blue"}}},
    {.name = "without tiers declared any name goes",
     .script = SET_TIER,
     .events = {{.at = AT, .data = TIER_TO("vip"), .msg = "true vip"}},
     .fields = {{"t", "vip"}}},
};

static void test_tiers_and_windows(void **state)
{
    (void)state;
    run_api_cases(tier_cases, N(tier_cases));
}

/* ------------------------------------------------------------------------- */
/* Once, once a year, waking up                                               */

#define ONCE_PER_YEAR RUN("return message(tostring(m:once_per_year('gift')))")

static const struct api_case once_cases[] = {
    {.name = "once: the first time only",
     .script = RUN("return message(tostring(m:once('welcome')))"),
     .events = {{.at = AT, .msg = "true"},
                {.at = "2026-11-26T08:30:00Z", .msg = "false"},
                {.at = "2030-01-01T00:00:00Z", .msg = "false"}},
     .fields = {{"o:welcome", "@" AT}}},
    {.name = "once per year in Auckland: the local new year",
     .script = ONCE_PER_YEAR,
     .member = {"a:tz", "Pacific/Auckland", NULL},
     .events = {{.at = "2026-06-01T00:00:00Z", .msg = "true"},
                {.at = "2026-12-31T10:59:59Z", .msg = "false"}, /* 23:59:59 on 31 December */
                {.at = "2026-12-31T11:00:00Z", .msg = "true"},  /* midnight, 1 January 2027 */
                {.at = "2027-06-30T00:00:00Z", .msg = "false"}},
     .fields = {{"o:gift:2026", "@2026-06-01T00:00:00Z"},
                {"o:gift:2027", "@2026-12-31T11:00:00Z"}}},
    {.name = "once per year in UTC",
     .script = ONCE_PER_YEAR,
     .events = {{.at = "2026-06-01T00:00:00Z", .msg = "true"},
                {.at = "2026-12-31T11:00:00Z", .msg = "false"},
                {.at = "2026-12-31T23:59:59Z", .msg = "false"},
                {.at = "2027-01-01T00:00:00Z", .msg = "true"}},
     .fields = {{"o:gift:2027", "@2027-01-01T00:00:00Z"}}},
    {.name = "once per year in Los Angeles",
     .script = ONCE_PER_YEAR,
     .member = {"a:tz", "America/Los_Angeles", NULL},
     .events = {{.at = "2027-01-01T07:59:59Z", .msg = "true"}, /* still 2026 there */
                {.at = "2027-01-01T08:00:00Z", .msg = "true"},
                {.at = "2027-01-02T00:00:00Z", .msg = "false"}},
     .fields = {{"o:gift:2026", "@2027-01-01T07:59:59Z"},
                {"o:gift:2027", "@2027-01-01T08:00:00Z"}}},
    {.name = "once per year with an unknown zone: UTC",
     .script = ONCE_PER_YEAR,
     .member = {"a:tz", "Mars/Olympus", NULL},
     .events = {{.at = "2026-12-31T23:00:00Z", .msg = "true"},
                {.at = "2027-01-01T00:00:00Z", .msg = "true"}}},
    {.name = "wake_at: the earliest time asked for wins",
     .script = RUN("m:wake_at(ev.at + ev.data.after)"),
     .events =
         {{.at = AT, .data = "{\"after\": 3600}", .field = "wk", .value = "@2026-11-25T09:30:00Z"},
          {.at = "2026-11-25T08:31:00Z",
           .data = "{\"after\": 7200}",
           .field = "wk",
           .value = "@2026-11-25T09:30:00Z"},
          {.at = "2026-11-25T08:32:00Z",
           .data = "{\"after\": 60}",
           .field = "wk",
           .value = "@2026-11-25T08:33:00Z"},
          /* the wake-up asked for has passed: a later one replaces it */
          {.at = "2026-11-25T09:00:00Z",
           .data = "{\"after\": 7200}",
           .field = "wk",
           .value = "@2026-11-25T11:00:00Z"},
          {.at = "2026-11-25T09:00:00Z",
           .data = "{\"after\": 0}",
           .code = "mechanic_error",
           .err = "wake_at: the time must be in the future"}},
     .fields = {{"wk", "@2026-11-25T11:00:00Z"}}},
};

static void test_once_and_wake(void **state)
{
    (void)state;
    run_api_cases(once_cases, N(once_cases));
}

/*
 * A time too far to count in milliseconds. 18446745869308552 s is 2^64 ms
 * plus an hour after the event: wrapped around, it would ask for a wake-up an
 * hour from now. Run in a child process, so that a sanitizer stopping the
 * overflow fails this case and not the whole suite.
 */
static const struct api_case far_wake_cases[] = {
    {.name = "wake_at beyond what milliseconds hold",
     .script = RUN("m:wake_at(18446745869308552)"),
     .events = {{.at = AT, .code = "mechanic_error", .err = "wake_at"}},
     .fields = {{"wk", NULL}}},
    {.name = "wake_at at the largest integer",
     .script = RUN("m:wake_at(math.maxinteger)"),
     .events = {{.at = AT, .code = "mechanic_error", .err = "wake_at"}},
     .fields = {{"wk", NULL}}},
};

static void test_wake_at_far_future(void **state)
{
    int failures = 0;
    (void)state;
    for (size_t i = 0; i < N(far_wake_cases); i++) {
        int status = 0;
        pid_t pid;
        fflush(NULL);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            _exit(run_api_case(&far_wake_cases[i]) ? 1 : 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0)) {
            print_error("case \"%s\": %s\n", far_wake_cases[i].name,
                        WIFSIGNALED(status) ? "the run crashed (a sanitizer stopped it?)"
                                            : "failed, see above");
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

/* ------------------------------------------------------------------------- */
/* Birthdays                                                                  */

static void test_birthdays(void **state)
{
    static const struct {
        const char *tz, *birthday, *at;
        const char *want; /* is_birthday, then next_birthday */
    } cases[] = {
        /* Los Angeles: PDT (-7) from 8 March 2026; PST (-8) on 10 March 2027 */
        {"America/Los_Angeles", "1990-03-10", "2026-03-01T00:00:00Z", "false 2026-03-10T07:00:00Z"},
        {"America/Los_Angeles", "1990-03-10", "2026-03-10T06:59:59Z", "false 2026-03-10T07:00:00Z"},
        {"America/Los_Angeles", "1990-03-10", "2026-03-10T07:00:00Z", "true 2027-03-10T08:00:00Z"},
        {"America/Los_Angeles", "1990-03-10", "2026-03-11T06:59:59Z", "true 2027-03-10T08:00:00Z"},
        {"America/Los_Angeles", "1990-03-10", "2026-03-11T07:00:00Z", "false 2027-03-10T08:00:00Z"},
        /* Auckland: NZST (+12) in July, NZDT (+13) in January and February */
        {"Pacific/Auckland", "07-10", "2026-07-01T00:00:00Z", "false 2026-07-09T12:00:00Z"},
        {"Pacific/Auckland", "07-10", "2026-07-09T11:59:59Z", "false 2026-07-09T12:00:00Z"},
        {"Pacific/Auckland", "07-10", "2026-07-09T12:00:00Z", "true 2027-07-09T12:00:00Z"},
        {"Pacific/Auckland", "07-10", "2026-07-10T11:59:59Z", "true 2027-07-09T12:00:00Z"},
        {"Pacific/Auckland", "07-10", "2026-07-10T12:00:00Z", "false 2027-07-09T12:00:00Z"},
        {"Pacific/Auckland", "1985-01-15", "2026-01-01T00:00:00Z", "false 2026-01-14T11:00:00Z"},
        {"Pacific/Auckland", "1985-01-15", "2026-01-14T11:00:00Z", "true 2027-01-14T11:00:00Z"},
        /* Santiago: clocks go from 00:00 to 01:00 on 6 September 2026, the day starts at 01:00 */
        {"America/Santiago", "09-06", "2026-09-01T00:00:00Z", "false 2026-09-06T04:00:00Z"},
        {"America/Santiago", "09-06", "2026-09-06T03:59:59Z", "false 2026-09-06T04:00:00Z"},
        {"America/Santiago", "09-06", "2026-09-06T04:00:00Z", "true 2027-09-06T03:00:00Z"},
        /* and back from 24:00 to 23:00 on 4 April 2026: 5 April starts at 04:00 UTC */
        {"America/Santiago", "04-05", "2026-04-01T00:00:00Z", "false 2026-04-05T04:00:00Z"},
        {"America/Santiago", "04-05", "2026-04-05T03:59:59Z", "false 2026-04-05T04:00:00Z"},
        {"America/Santiago", "04-05", "2026-04-05T04:00:00Z", "true 2027-04-05T04:00:00Z"},
        /* 29 February: the 28th in other years */
        {NULL, "2000-02-29", "2026-02-27T23:59:59Z", "false 2026-02-28T00:00:00Z"},
        {NULL, "2000-02-29", "2026-02-28T00:00:00Z", "true 2027-02-28T00:00:00Z"},
        {NULL, "2000-02-29", "2026-03-01T00:00:00Z", "false 2027-02-28T00:00:00Z"},
        {NULL, "2000-02-29", "2027-12-01T00:00:00Z", "false 2028-02-29T00:00:00Z"},
        {NULL, "2000-02-29", "2028-02-28T12:00:00Z", "false 2028-02-29T00:00:00Z"},
        {NULL, "2000-02-29", "2028-02-29T12:00:00Z", "true 2029-02-28T00:00:00Z"},
        {"America/Los_Angeles", "02-29", "2026-02-28T07:59:59Z", "false 2026-02-28T08:00:00Z"},
        {"America/Los_Angeles", "02-29", "2026-02-28T08:00:00Z", "true 2027-02-28T08:00:00Z"},
        {"Pacific/Auckland", "2000-02-29", "2026-02-27T10:59:59Z", "false 2026-02-27T11:00:00Z"},
        {"Pacific/Auckland", "2000-02-29", "2026-02-27T11:00:00Z", "true 2027-02-27T11:00:00Z"},
        /* UTC by default, and for a zone that does not exist */
        {NULL, "03-10", "2026-03-10T23:59:59Z", "true 2027-03-10T00:00:00Z"},
        {"Mars/Olympus", "03-10", "2026-03-10T00:00:00Z", "true 2027-03-10T00:00:00Z"},
        {"Pacific/Auckland", NULL, "2026-03-01T00:00:00Z", "false nil"},
    };
    pc_error err;
    mechset *set = compile_script(
        RUN("local next = m:next_birthday()\n"
            "return message(tostring(m:is_birthday()) .. ' ' .. (next and iso(next) or 'nil'))"),
        &err);
    int failures = 0;
    (void)state;

    if (!set)
        fail_msg("compile: %s", err.message);
    for (size_t i = 0; i < N(cases); i++) {
        const char *fields[] = {"a:birthday", cases[i].birthday, "a:tz", cases[i].tz, NULL};
        member_state *m = ann_with(NULL);
        char msgs[256];
        for (size_t f = 0; fields[f]; f += 2)
            if (fields[f + 1])
                assert_int_equal(member_set(m, fields[f], fields[f + 1]), 0);
        if (run_order(set, m, "e1", cases[i].at, NULL, &err)) {
            print_error("case %s %s at %s: %s\n", cases[i].birthday ? cases[i].birthday : "-",
                        cases[i].tz ? cases[i].tz : "UTC", cases[i].at, err.message);
            failures++;
        } else {
            messages_of(m, msgs, sizeof msgs);
            if (strcmp(msgs, cases[i].want)) {
                print_error("case birthday %s in %s at %s: \"%s\", want \"%s\"\n",
                            cases[i].birthday ? cases[i].birthday : "-",
                            cases[i].tz ? cases[i].tz : "UTC", cases[i].at, msgs, cases[i].want);
                failures++;
            }
        }
        member_free(m);
    }
    mechset_unref(set);
    assert_int_equal(failures, 0);
}

/* ------------------------------------------------------------------------- */
/* reject, discount, utc                                                      */

static const struct api_case outcome_cases[] = {
    {.name = "reject fails the event with its message",
     .script = RUN("m:earn('st', 5)\n"
                   "reject('points may pay at most 20% of an order')"),
     .events = {{.at = AT, .code = "rejected", .err = "points may pay at most 20% of an order"}},
     .fields = {{"b:st", NULL}}},
    {.name = "reject needs a message",
     .script = RUN("reject()"),
     .events = {{.at = AT, .code = "mechanic_error", .err = "bad argument #1 to 'reject'"}}},
    {.name = "discount with fields",
     .script = RUN("return discount(5, {code = 'WELCOME5'})"),
     .events = {{.at = AT,
                 .outcomes = "[{\"mechanic\": \"t\", \"kind\": \"discount\", \"percent\": 5,"
                             " \"code\": \"WELCOME5\"}]"}}},
    {.name = "discount of a fraction",
     .script = RUN("return discount(12.5)"),
     .events = {{.at = AT,
                 .outcomes =
                     "[{\"mechanic\": \"t\", \"kind\": \"discount\", \"percent\": 12.5}]"}}},
    {.name = "discount fields do not replace kind and percent",
     .script = RUN("return discount(5, {kind = 'free', percent = 99})"),
     .events = {{.at = AT,
                 .outcomes = "[{\"mechanic\": \"t\", \"kind\": \"discount\", \"percent\": 5}]"}}},
    {.name = "discount needs a number",
     .script = RUN("return discount('ten')"),
     .events = {{.at = AT, .code = "mechanic_error", .err = "bad argument #1 to 'discount'"}}},
    {.name = "utc",
     .script = RUN("return message(utc(2026, 3, 1, 12, 30, 5) .. ' ' ..\n"
                   "  iso(utc(2026, 3, 1, 12, 30, 5)) .. ' ' .. iso(utc(2028, 2, 29)) .. ' ' ..\n"
                   "  utc(1970, 1, 1) .. ' ' .. iso(utc(2026, 12, 31, 23, 59, 59)))"),
     .events = {{.at = AT,
                 .msg = "1772368205 2026-03-01T12:30:05Z 2028-02-29T00:00:00Z 0 "
                        "2026-12-31T23:59:59Z"}}},
    {.name = "utc before 1970",
     .script = RUN("utc(1969, 12, 31)"),
     .events = {{.at = AT, .code = "mechanic_error", .err = "utc: year 1970-9999, month 1-12"}}},
    {.name = "utc month 13",
     .script = RUN("utc(2026, 13, 1)"),
     .events = {{.at = AT, .code = "mechanic_error", .err = "utc: year 1970-9999, month 1-12"}}},
    {.name = "utc month 0",
     .script = RUN("utc(2026, 0, 1)"),
     .events = {{.at = AT, .code = "mechanic_error", .err = "utc: year 1970-9999, month 1-12"}}},
};

static void test_reject_discount_utc(void **state)
{
    (void)state;
    run_api_cases(outcome_cases, N(outcome_cases));
}

int main(void)
{
    json_set_alloc_funcs(counting_malloc, counting_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_currency_policies),
        cmocka_unit_test(test_declaration_errors),
        cmocka_unit_test(test_cashback),
        cmocka_unit_test(test_earn_and_spend),
        cmocka_unit_test(test_tiers_and_windows),
        cmocka_unit_test(test_once_and_wake),
        cmocka_unit_test(test_wake_at_far_future),
        cmocka_unit_test(test_birthdays),
        cmocka_unit_test(test_reject_discount_utc),
    };
    return cmocka_run_group_tests_name("api_money", tests, NULL, NULL);
}
