/*
 * Unit tests for core/model/lots.c, the lots behind every currency: earn
 * (a lot with its expiry and availability, or the currency's one merged lot
 * l:<cur>:0 when it never expires and is spendable at once; pending earn; a
 * debt repaid first), spend (soonest-expiring lots first, never-expiring
 * last, ties by lot number; no overdraft), tick (release and expiry on time,
 * pruning of used-up lots 90 days after their earn), reverse (the event's own
 * lots, then what of them was spent, never what expired; never-expiring earns
 * from what the event's response says), the next due time, the summary for
 * GET member, and the calendar arithmetic (months, period ends).
 *
 * (The file is not test_money.c: tests/integration/test_money.c has that
 * name, and every test file is a CMake target named after it.)
 *
 * Every money case is a list of steps on one member. After every step two
 * invariants must hold, whatever the case checks besides:
 *  - the ledger: the sum of the deltas of the entries since the last commit
 *    equals the change of b:<cur>, the sum of their pending the change of
 *    pb:<cur>;
 *  - the lots: the available lots hold what b:<cur> says (nothing while it is
 *    a debt), the pending lots what pb:<cur> says.
 */
#include "punchcard/common.h"
#include "model/member-internal.h"
#include "model/lots-internal.h"
#include "common/calendar-internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define DAY  86400000LL
#define T0   1767225600000LL /* 2026-01-01T00:00:00Z */
#define D(n) (T0 + (int64_t)(n)*DAY)

/* ------------------------------------------------------------------------- */
/* Steps                                                                      */

enum op { OP_END = 0, OP_EARN, OP_SPEND, OP_REDEEM, OP_TICK, OP_REVERSE, OP_LOAD, OP_SETTLE };

struct step {
    enum op op;
    const char *cur;          /* REVERSE: NULL = every currency */
    int64_t amount;           /* REVERSE: <= 0 = all */
    int64_t expires, avail;   /* EARN */
    int64_t now;              /* EARN, TICK */
    const char *event;        /* EARN, REVERSE */
    const char *earned;       /* REVERSE: what the event earned, {"cur": n} (its response) */
    const char *const *pairs; /* LOAD: name, value, ..., NULL */
    int64_t want;             /* EARN/SPEND/REDEEM: the balance; REVERSE: the amount reversed */
    const char *err;          /* NULL: must succeed; else must fail with this message */
};

#define EARN(c, n, exp, av, at, ev, bal)                                                           \
    {                                                                                              \
        .op = OP_EARN, .cur = c, .amount = n, .expires = exp, .avail = av, .now = at, .event = ev, \
        .want = bal                                                                                \
    }
#define SPEND(c, n, bal)                                                                           \
    {                                                                                              \
        .op = OP_SPEND, .cur = c, .amount = n, .want = bal                                         \
    }
#define SPEND_FAILS(c, n, why)                                                                     \
    {                                                                                              \
        .op = OP_SPEND, .cur = c, .amount = n, .err = why                                          \
    }
#define REDEEM(c, n, bal)                                                                          \
    {                                                                                              \
        .op = OP_REDEEM, .cur = c, .amount = n, .want = bal                                        \
    }
#define TICK(at)                                                                                   \
    {                                                                                              \
        .op = OP_TICK, .now = at                                                                   \
    }
#define REVERSE(ev, c, n, earn, reversed)                                                          \
    {                                                                                              \
        .op = OP_REVERSE, .cur = c, .amount = n, .event = ev, .earned = earn, .want = reversed     \
    }
#define LOAD(p)                                                                                    \
    {                                                                                              \
        .op = OP_LOAD, .pairs = p                                                                  \
    }
#define SETTLE                                                                                     \
    {                                                                                              \
        .op = OP_SETTLE                                                                            \
    }

/* A member and the state it had at its last commit, for the ledger invariant. */
struct run {
    member_state *m;
    member_state *committed;
    int64_t version;
};

static void run_begin(struct run *r)
{
    r->m = member_new("ann");
    assert_non_null(r->m);
    r->committed = member_clone(r->m);
    assert_non_null(r->committed);
    r->version = 0;
}

static void run_commit(struct run *r)
{
    member_state *c;
    assert_int_equal(member_settle(r->m, ++r->version), 0);
    c = member_clone(r->m);
    assert_non_null(c);
    member_free(r->committed);
    r->committed = c;
}

static void run_end(struct run *r)
{
    member_free(r->m);
    member_free(r->committed);
}

static int64_t field_int(const member_state *m, const char *prefix, const char *cur)
{
    char f[100];
    snprintf(f, sizeof f, "%s%.64s", prefix, cur);
    return member_get_int(m, f);
}

/* The currencies a member has or had (b:, pb:, lots, entries), "\n"-joined into out. */
static void add_currency(char *out, size_t n, const char *cur)
{
    char key[80];
    snprintf(key, sizeof key, "\n%s\n", cur);
    if (!strstr(out, key) && strlen(out) + strlen(cur) + 2 < n) {
        if (!*out)
            strcat(out, "\n");
        strcat(out, cur);
        strcat(out, "\n");
    }
}

static void currencies_of(const member_state *m, char *out, size_t n)
{
    for (size_t i = 0; i < m->nfields; i++) {
        const char *f = m->fields[i].name;
        char cur[80];
        if (!strncmp(f, "b:", 2))
            add_currency(out, n, f + 2);
        else if (!strncmp(f, "pb:", 3))
            add_currency(out, n, f + 3);
        else if (!strncmp(f, "l:", 2) && strrchr(f, ':') > f + 2) {
            snprintf(cur, sizeof cur, "%.*s", (int)(strrchr(f, ':') - f - 2), f + 2);
            add_currency(out, n, cur);
        }
    }
    for (size_t i = 0; i < m->nentries; i++)
        add_currency(out, n, m->entries[i].currency);
}

struct lot_sums {
    const char *cur;
    int64_t available, pending;
};

static void sum_lot(const lot_rec *lot, void *arg)
{
    struct lot_sums *s = arg;
    if (strcmp(lot->currency, s->cur))
        return;
    if (lot->avail_ms)
        s->pending += lot->remaining;
    else
        s->available += lot->remaining;
}

/*
 * A lot is decoded once and kept on its field (member_field.decoded) until the
 * value changes: what is kept must be what the value decodes to, field by field.
 */
static int check_kept_lots(const char *name, size_t step, const member_state *m)
{
    int failures = 0;
    for (size_t i = 0; i < m->nfields; i++) {
        const member_field *f = &m->fields[i];
        const lot_rec *k = f->decoded;
        lot_rec d;
        if (!k)
            continue;
        char name_again[MEMBER_FIELD_MAX], value_again[LOTS_VALUE_MAX];
        /* What lots.c wrote (this event) is spelled as the codec spells it. */
        if (f->dirty && f->value && !lots_decode(f->name, f->value, &d) &&
            (lots_encode(&d, name_again, sizeof name_again, value_again, sizeof value_again) ||
             strcmp(f->value, value_again))) {
            print_error("case \"%s\", step %zu: field %s was written as %s, the codec spells "
                        "it %s\n",
                        name, step, f->name, f->value, value_again);
            failures++;
        }
        if (!f->value || lots_decode(f->name, f->value, &d) || strcmp(k->currency, d.currency) ||
            k->n != d.n || k->amount != d.amount || k->remaining != d.remaining ||
            k->spent != d.spent || k->expires_ms != d.expires_ms || k->avail_ms != d.avail_ms ||
            k->created_ms != d.created_ms || strcmp(k->event, d.event)) {
            print_error("case \"%s\", step %zu: field %s keeps a lot of %lld remaining, "
                        "but its value is %s\n",
                        name, step, f->name, (long long)k->remaining,
                        f->value ? f->value : "(deleted)");
            failures++;
        }
    }
    return failures;
}

/* Checks both invariants for every currency; prints what it saw. Returns the failures. */
static int check_invariants(const char *name, size_t step, const struct run *r)
{
    char curs[1024] = "";
    int failures = check_kept_lots(name, step, r->m);
    currencies_of(r->m, curs, sizeof curs);
    currencies_of(r->committed, curs, sizeof curs);
    for (char *cur = curs + 1, *nl; *cur && (nl = strchr(cur, '\n')); cur = nl + 1) {
        int64_t delta = 0, pending = 0, b, pb, b0, pb0;
        struct lot_sums sums = {cur, 0, 0};
        *nl = '\0';
        for (size_t i = 0; i < r->m->nentries; i++) {
            if (strcmp(r->m->entries[i].currency, cur))
                continue;
            delta += r->m->entries[i].delta;
            pending += r->m->entries[i].pending;
        }
        b = field_int(r->m, "b:", cur);
        pb = field_int(r->m, "pb:", cur);
        b0 = field_int(r->committed, "b:", cur);
        pb0 = field_int(r->committed, "pb:", cur);
        if (delta != b - b0 || pending != pb - pb0) {
            print_error("case \"%s\", step %zu, %s: ledger deltas sum to %lld and pending to "
                        "%lld, but b: went %lld -> %lld and pb: %lld -> %lld\n",
                        name, step, cur, (long long)delta, (long long)pending, (long long)b0,
                        (long long)b, (long long)pb0, (long long)pb);
            failures++;
        }
        lots_each(r->m, sum_lot, &sums);
        if (sums.available != (b > 0 ? b : 0) || sums.pending != pb) {
            print_error("case \"%s\", step %zu, %s: the lots hold %lld available and %lld "
                        "pending, but b:=%lld and pb:=%lld\n",
                        name, step, cur, (long long)sums.available, (long long)sums.pending,
                        (long long)b, (long long)pb);
            failures++;
        }
    }
    return failures;
}

static const char *op_name(enum op op)
{
    static const char *const names[] = {"end",  "earn",    "spend", "redeem",
                                        "tick", "reverse", "load",  "settle"};
    return names[op];
}

/* Runs one step; checks its result and the invariants. Returns the failures. */
static int run_step(const char *name, size_t i, struct run *r, const struct step *s)
{
    int64_t got = 0;
    const char *err = NULL;
    int rc = 0, failures = 0;

    switch (s->op) {
    case OP_EARN:
        rc = lots_earn(r->m, "fuel", s->cur, s->amount, s->expires, s->avail, s->now, s->event,
                       &got, &err);
        break;
    case OP_SPEND:
        rc = lots_spend(r->m, "fuel", NULL, s->cur, s->amount, &got, &err);
        break;
    case OP_REDEEM:
        rc = lots_spend(r->m, "redeem", "redeem", s->cur, s->amount, &got, &err);
        break;
    case OP_TICK:
        rc = lots_tick(r->m, s->now, &err);
        got = s->want;
        break;
    case OP_REVERSE: {
        json_error_t jerr;
        json_t *earned = s->earned ? json_loads(s->earned, 0, &jerr) : NULL;
        if (s->earned && !earned)
            fail_msg("case \"%s\", step %zu: bad JSON %s", name, i, s->earned);
        rc = lots_reverse(r->m, s->event, s->cur, s->amount, earned, s->now, &got, &err);
        json_decref(earned);
        break;
    }
    case OP_LOAD: {
        size_t n = 0;
        while (s->pairs[n])
            n++;
        rc = member_load_pairs(r->m, n, s->pairs, NULL);
        got = s->want;
        if (rc == 0) {
            member_free(r->committed);
            r->committed = member_clone(r->m);
        }
        break;
    }
    case OP_SETTLE:
        run_commit(r);
        return 0;
    case OP_END:
        return 0;
    }
    if (s->err) {
        if (rc != -1 || !err || strcmp(err, s->err)) {
            print_error("case \"%s\", step %zu (%s): rc=%d err=%s, want -1 and \"%s\"\n", name, i,
                        op_name(s->op), rc, err ? err : "(null)", s->err);
            failures++;
        }
    } else if (rc != 0) {
        print_error("case \"%s\", step %zu (%s): failed: %s\n", name, i, op_name(s->op),
                    err ? err : "(no message)");
        failures++;
    } else if (got != s->want) {
        print_error("case \"%s\", step %zu (%s): returned %lld, want %lld\n", name, i,
                    op_name(s->op), (long long)got, (long long)s->want);
        failures++;
    }
    return failures + check_invariants(name, i, r);
}

static int run_steps(const char *name, struct run *r, const struct step *steps, size_t max)
{
    int failures = 0;
    for (size_t i = 0; i < max && steps[i].op != OP_END; i++)
        failures += run_step(name, i, r, &steps[i]);
    return failures;
}

/* ------------------------------------------------------------------------- */
/* What a case expects after its steps                                        */

struct want_lot {
    const char *cur;
    int64_t n;
    int gone; /* the lot must not exist (pruned) */
    int64_t amount, remaining, spent, expires, avail;
    int64_t created;   /* 0: not checked */
    const char *event; /* NULL: not checked */
};

struct want_entry {
    const char *mechanic, *cur, *kind;
    int64_t delta, pending;
};

struct want_balance {
    const char *cur;
    int64_t b, pb;
};

struct money_case {
    const char *name;
    struct step steps[10];
    struct want_balance balances[3];
    struct want_lot lots[5];
    struct want_entry entries[4]; /* exactly the entries since the last SETTLE, in order */
    int unchanged;                /* nothing changed since the last SETTLE */
    struct {
        const char *name, *value; /* value NULL: absent */
    } fields[3];
};

struct find_lot {
    const char *cur;
    int64_t n;
    lot_rec lot;
    int found;
};

static void find_lot_fn(const lot_rec *lot, void *arg)
{
    struct find_lot *f = arg;
    if (!strcmp(lot->currency, f->cur) && lot->n == f->n) {
        f->lot = *lot;
        f->found = 1;
    }
}

static int check_lot(const char *name, const member_state *m, const struct want_lot *w)
{
    struct find_lot f = {.cur = w->cur, .n = w->n};
    const lot_rec *l = &f.lot;
    lots_each(m, find_lot_fn, &f);
    if (w->gone) {
        if (f.found) {
            print_error("case \"%s\": lot %s:%lld is still there, want it pruned\n", name, w->cur,
                        (long long)w->n);
            return 1;
        }
        return 0;
    }
    if (!f.found) {
        print_error("case \"%s\": no lot %s:%lld\n", name, w->cur, (long long)w->n);
        return 1;
    }
    if (l->amount != w->amount || l->remaining != w->remaining || l->spent != w->spent ||
        l->expires_ms != w->expires || l->avail_ms != w->avail ||
        (w->created && l->created_ms != w->created) || (w->event && strcmp(l->event, w->event))) {
        print_error("case \"%s\": lot %s:%lld is amount %lld, remaining %lld, spent %lld, "
                    "expires %lld, avail %lld, created %lld, event %s; want %lld, %lld, %lld, "
                    "%lld, %lld, %lld, %s\n",
                    name, w->cur, (long long)w->n, (long long)l->amount, (long long)l->remaining,
                    (long long)l->spent, (long long)l->expires_ms, (long long)l->avail_ms,
                    (long long)l->created_ms, l->event, (long long)w->amount,
                    (long long)w->remaining, (long long)w->spent, (long long)w->expires,
                    (long long)w->avail, (long long)w->created, w->event ? w->event : "-");
        return 1;
    }
    return 0;
}

static int same_str(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static int check_entries(const char *name, const member_state *m, const struct want_entry *w,
                         size_t max)
{
    size_t n = 0;
    int failures = 0;
    while (n < max && w[n].mechanic)
        n++;
    if (m->nentries != n) {
        print_error("case \"%s\": %zu ledger entries, want %zu\n", name, m->nentries, n);
        failures++;
    }
    for (size_t i = 0; i < m->nentries; i++) {
        const member_entry *e = &m->entries[i];
        if (i < n && same_str(e->mechanic, w[i].mechanic) && same_str(e->currency, w[i].cur) &&
            same_str(e->kind, w[i].kind) && e->delta == w[i].delta && e->pending == w[i].pending)
            continue;
        print_error("case \"%s\": entry %zu is {%s, %s, %s, delta %lld, pending %lld}", name, i,
                    e->mechanic, e->currency, e->kind ? e->kind : "NULL", (long long)e->delta,
                    (long long)e->pending);
        if (i < n)
            print_error(", want {%s, %s, %s, delta %lld, pending %lld}\n", w[i].mechanic, w[i].cur,
                        w[i].kind ? w[i].kind : "NULL", (long long)w[i].delta,
                        (long long)w[i].pending);
        else
            print_error(", want none\n");
        failures++;
    }
    return failures;
}

static int check_unchanged(const char *name, const struct run *r)
{
    int failures = 0;
    for (size_t i = 0; i < r->m->nfields; i++) {
        const member_field *f = &r->m->fields[i];
        const char *before = member_get(r->committed, f->name);
        if (f->dirty || !same_str(f->value, before)) {
            print_error("case \"%s\": field %s changed: %s -> %s (dirty %d)\n", name, f->name,
                        before ? before : "(absent)", f->value ? f->value : "(deleted)", f->dirty);
            failures++;
        }
    }
    if (r->m->nentries || json_array_size(member_outcomes_json(r->m))) {
        print_error("case \"%s\": %zu entries and %zu outcomes, want none\n", name, r->m->nentries,
                    json_array_size(member_outcomes_json(r->m)));
        failures++;
    }
    return failures;
}

static int run_money_case(const struct money_case *c)
{
    struct run r;
    int failures;
    run_begin(&r);
    failures = run_steps(c->name, &r, c->steps, N(c->steps));
    for (size_t i = 0; i < N(c->balances) && c->balances[i].cur; i++) {
        const struct want_balance *w = &c->balances[i];
        int64_t b = field_int(r.m, "b:", w->cur), pb = field_int(r.m, "pb:", w->cur);
        if (b != w->b || pb != w->pb) {
            print_error("case \"%s\": b:%s=%lld pb:%s=%lld, want %lld and %lld\n", c->name, w->cur,
                        (long long)b, w->cur, (long long)pb, (long long)w->b, (long long)w->pb);
            failures++;
        }
    }
    for (size_t i = 0; i < N(c->lots) && c->lots[i].cur; i++)
        failures += check_lot(c->name, r.m, &c->lots[i]);
    failures += check_entries(c->name, r.m, c->entries, N(c->entries));
    if (c->unchanged)
        failures += check_unchanged(c->name, &r);
    for (size_t i = 0; i < N(c->fields) && c->fields[i].name; i++) {
        const char *got = member_get(r.m, c->fields[i].name);
        if (!same_str(got, c->fields[i].value)) {
            print_error("case \"%s\": field %s is %s, want %s\n", c->name, c->fields[i].name,
                        got ? got : "(absent)",
                        c->fields[i].value ? c->fields[i].value : "(absent)");
            failures++;
        }
    }
    run_end(&r);
    return failures;
}

static void run_money_cases(const struct money_case *cases, size_t n)
{
    int failures = 0;
    for (size_t i = 0; i < n; i++)
        failures += run_money_case(&cases[i]);
    assert_int_equal(failures, 0);
}

/* Shorthands for the tables: a lot (LOT0: the merged lot of a currency), an entry. */
#define LOT(cur, n, amount, remaining, spent, expires, avail)                                      \
    {                                                                                              \
        cur, n, 0, amount, remaining, spent, expires, avail, 0, NULL                               \
    }
#define LOT0(cur, amount, remaining, spent)                                                        \
    {                                                                                              \
        cur, 0, 0, amount, remaining, spent, 0, 0, 0, "*"                                          \
    }
#define GONE(cur, n)                                                                               \
    {                                                                                              \
        cur, n, 1, 0, 0, 0, 0, 0, 0, NULL                                                          \
    }
#define FUEL(cur, delta, pending)                                                                  \
    {                                                                                              \
        "fuel", cur, NULL, delta, pending                                                          \
    }

/* ------------------------------------------------------------------------- */
/* lots_earn                                                                 */

/*
 * Sixteen fields (a member's first allocation of them), a used-up merged lot and no b:stars:
 * the earn adds b:stars (the fields move) before it writes the merged lot back.
 */
static const char *const sixteen_fields[] = {"v",   "1", "l:stars:0", "5|0|5|0|0|1767225600000|*",
                                             "c:a", "1", "c:b",       "1",
                                             "c:c", "1", "c:d",       "1",
                                             "c:e", "1", "c:f",       "1",
                                             "c:g", "1", "c:h",       "1",
                                             "c:i", "1", "c:j",       "1",
                                             "c:k", "1", "c:l",       "1",
                                             "c:m", "1", "c:n",       "1",
                                             NULL};

/* The merged lot in a spelling of its own (zeros before its time): it decodes as it should. */
static const char *const merged_odd[] = {
    "v", "1", "b:stars", "3", "l:stars:0", "3|3|0|00|0|001767225600000|*", NULL};

static const struct money_case earn_cases[] = {
    {.name = "the merged lot read in another spelling is written back in the codec's",
     .steps = {LOAD(merged_odd), EARN("stars", 5, 0, 0, D(1), "e1", 8), SETTLE,
               EARN("stars", 4, 0, 0, D(2), "e2", 12)},
     .balances = {{"stars", 12, 0}},
     .lots = {LOT0("stars", 12, 12, 0)},
     .entries = {FUEL("stars", 4, 0)},
     .fields = {{"l:stars:0", "12|12|0|0|0|1767225600000|*"}}},
    {.name = "the merged lot holds its figures exactly after earns, a spend and more earns",
     .steps = {EARN("stars", 10, 0, 0, D(0), "e1", 10), EARN("stars", 5, 0, 0, D(1), "e2", 15),
               SETTLE, SPEND("stars", 3, 12), EARN("stars", 7, 0, 0, D(2), "e3", 19),
               EARN("stars", 1000000, 0, 0, D(2), "e4", 1000019)},
     .balances = {{"stars", 1000019, 0}},
     .lots = {LOT0("stars", 1000022, 1000019, 3)},
     .entries = {FUEL("stars", 1000004, 0)},
     .fields = {{"l:stars:0", "1000022|1000019|3|0|0|1767225600000|*"}}},
    {.name = "the merged lot is written back where it is after the balance's field was added",
     .steps = {LOAD(sixteen_fields), EARN("stars", 3, 0, 0, D(1), "e1", 3)},
     .balances = {{"stars", 3, 0}},
     .lots = {LOT0("stars", 8, 3, 5)},
     .entries = {FUEL("stars", 3, 0)}},
    {.name = "an earn makes a lot with its amount, expiry and time",
     .steps = {EARN("stars", 100, D(30), 0, D(0), "e1", 100)},
     .balances = {{"stars", 100, 0}},
     .lots = {{"stars", 1, 0, 100, 100, 0, D(30), 0, D(0), "e1"}},
     .entries = {FUEL("stars", 100, 0)},
     .fields = {{"ln:stars", "1"}}},
    {.name = "lots are numbered per currency",
     .steps = {EARN("stars", 1, D(30), 0, D(0), "e1", 1), EARN("coins", 2, D(30), 0, D(0), "e1", 2),
               EARN("stars", 3, D(60), 0, D(0), "e2", 4)},
     .balances = {{"stars", 4, 0}, {"coins", 2, 0}},
     .lots = {LOT("stars", 1, 1, 1, 0, D(30), 0), LOT("stars", 2, 3, 3, 0, D(60), 0),
              LOT("coins", 1, 2, 2, 0, D(30), 0)},
     .entries = {FUEL("stars", 4, 0), FUEL("coins", 2, 0)}},
    {.name = "never-expiring earns go into the currency's one merged lot",
     .steps = {EARN("stars", 10, 0, 0, D(0), "e1", 10), EARN("stars", 5, 0, 0, D(1), "e2", 15),
               EARN("stars", 3, D(30), 0, D(1), "e3", 18)},
     .balances = {{"stars", 18, 0}},
     .lots = {{"stars", 0, 0, 15, 15, 0, 0, 0, D(0), "*"},
              LOT("stars", 1, 3, 3, 0, D(30), 0),
              GONE("stars", 2)},
     .entries = {FUEL("stars", 18, 0)},
     .fields = {{"ln:stars", "1"}}},
    {.name = "a pending earn goes to pb:, not b:",
     .steps = {EARN("stars", 50, D(30), D(14), D(0), "e1", 0)},
     .balances = {{"stars", 0, 50}},
     .lots = {LOT("stars", 1, 50, 50, 0, D(30), D(14))},
     .entries = {FUEL("stars", 0, 50)}},
    {.name = "a pending earn that never expires keeps a lot of its own",
     .steps = {EARN("stars", 20, 0, 0, D(0), "e1", 20),
               EARN("stars", 50, 0, D(14), D(1), "e2", 20)},
     .balances = {{"stars", 20, 50}},
     .lots = {LOT0("stars", 20, 20, 0), LOT("stars", 1, 50, 50, 0, 0, D(14))},
     .entries = {FUEL("stars", 20, 50)}},
    {.name = "availability at the event's time is no return window",
     .steps = {EARN("stars", 5, D(9), D(3), D(3), "e1", 5)},
     .balances = {{"stars", 5, 0}},
     .lots = {LOT("stars", 1, 5, 5, 0, D(9), 0)},
     .entries = {FUEL("stars", 5, 0)}},
    {.name = "availability in the past is no return window",
     .steps = {EARN("stars", 5, 0, D(2), D(3), "e1", 5)},
     .balances = {{"stars", 5, 0}},
     .lots = {LOT0("stars", 5, 5, 0), GONE("stars", 1)},
     .entries = {FUEL("stars", 5, 0)}},
    {.name = "an earn of nothing makes no lot and no entry",
     .steps = {EARN("stars", 10, 0, 0, D(0), "e1", 10), SETTLE,
               EARN("stars", 0, D(9), 0, D(1), "e2", 10)},
     .balances = {{"stars", 10, 0}},
     .lots = {GONE("stars", 1)},
     .unchanged = 1},
    {.name = "a debt is repaid first by the next earns",
     /* 100 earned, 80 spent, the earn reversed: a debt of 80. */
     .steps = {EARN("stars", 100, D(30), 0, D(0), "e1", 100), SPEND("stars", 80, 20),
               REVERSE("e1", "stars", 0, "{\"stars\": 100}", 100), SETTLE,
               EARN("stars", 50, D(60), 0, D(1), "e2", -30),
               EARN("stars", 100, D(90), 0, D(2), "e3", 70)},
     .balances = {{"stars", 70, 0}},
     .lots = {LOT("stars", 2, 50, 0, 50, D(60), 0), LOT("stars", 3, 100, 70, 30, D(90), 0)},
     .entries = {FUEL("stars", 150, 0)}},
    {.name = "a debt is repaid first from the merged lot too",
     .steps = {EARN("stars", 100, 0, 0, D(0), "e1", 100), SPEND("stars", 80, 20),
               REVERSE("e1", "stars", 0, "{\"stars\": 100}", 100), SETTLE,
               EARN("stars", 50, 0, 0, D(1), "e2", -30), EARN("stars", 40, 0, 0, D(2), "e3", 10)},
     .balances = {{"stars", 10, 0}},
     .lots = {LOT0("stars", 190, 10, 180)},
     .entries = {FUEL("stars", 90, 0)}},
    {.name = "a pending earn does not repay a debt before its release",
     .steps = {EARN("stars", 100, D(30), 0, D(0), "e1", 100), SPEND("stars", 100, 0),
               REVERSE("e1", "stars", 0, "{\"stars\": 100}", 100), SETTLE,
               EARN("stars", 40, 0, D(14), D(1), "e2", -100)},
     .balances = {{"stars", -100, 40}},
     .lots = {LOT("stars", 2, 40, 40, 0, 0, D(14))},
     .entries = {FUEL("stars", 0, 40)}},
};

static void test_earn(void **state)
{
    (void)state;
    run_money_cases(earn_cases, N(earn_cases));
}

/* ------------------------------------------------------------------------- */
/* lots_spend                                                                */

/* Three lots of 5 loaded out of order: never expiring, or all expiring at once. */
static const char *const three_never[] = {"v",         "1",
                                          "b:stars",   "15",
                                          "ln:stars",  "3",
                                          "l:stars:3", "5|5|0|0|0|0|e3",
                                          "l:stars:1", "5|5|0|0|0|0|e1",
                                          "l:stars:2", "5|5|0|0|0|0|e2",
                                          NULL};
static const char *const three_same_day[] = {"v",         "1",
                                             "b:stars",   "15",
                                             "ln:stars",  "3",
                                             "l:stars:2", "5|5|0|1800000000000|0|0|e2",
                                             "l:stars:3", "5|5|0|1800000000000|0|0|e3",
                                             "l:stars:1", "5|5|0|1800000000000|0|0|e1",
                                             NULL};

/* The merged lot as Redis holds it after another process changed it (3 left of 3). */
static const char *const merged_reloaded[] = {
    "v", "2", "b:stars", "3", "l:stars:0", "3|3|0|0|0|1767225600000|*", NULL};

static const struct money_case spend_cases[] = {
    {.name = "a lot read before a reload is read anew from the reloaded value",
     .steps = {EARN("stars", 10, 0, 0, D(0), "e1", 10), SETTLE, LOAD(merged_reloaded),
               SPEND("stars", 2, 1)},
     .balances = {{"stars", 1, 0}},
     .lots = {LOT0("stars", 3, 1, 2)},
     .entries = {FUEL("stars", -2, 0)}},
    {.name = "the soonest-expiring lot goes first",
     .steps = {EARN("stars", 10, D(60), 0, D(0), "e1", 10),
               EARN("stars", 10, D(30), 0, D(0), "e2", 20), EARN("stars", 10, 0, 0, D(0), "e3", 30),
               SETTLE, SPEND("stars", 15, 15)},
     .balances = {{"stars", 15, 0}},
     .lots = {LOT("stars", 1, 10, 5, 5, D(60), 0), LOT("stars", 2, 10, 0, 10, D(30), 0),
              LOT0("stars", 10, 10, 0)},
     .entries = {FUEL("stars", -15, 0)}},
    {.name = "the merged never-expiring lot goes last, even when older",
     .steps = {EARN("stars", 10, 0, 0, D(0), "e1", 10),
               EARN("stars", 10, D(400), 0, D(1), "e2", 20), SETTLE, SPEND("stars", 12, 8)},
     .balances = {{"stars", 8, 0}},
     .lots = {LOT0("stars", 10, 8, 2), LOT("stars", 1, 10, 0, 10, D(400), 0)},
     .entries = {FUEL("stars", -12, 0)}},
    {.name = "never-expiring lots: ties by lot number",
     .steps = {LOAD(three_never), SPEND("stars", 7, 8)},
     .balances = {{"stars", 8, 0}},
     .lots = {LOT("stars", 1, 5, 0, 5, 0, 0), LOT("stars", 2, 5, 3, 2, 0, 0),
              LOT("stars", 3, 5, 5, 0, 0, 0)},
     .entries = {FUEL("stars", -7, 0)}},
    {.name = "lots expiring at once: ties by lot number",
     .steps = {LOAD(three_same_day), SPEND("stars", 7, 8)},
     .balances = {{"stars", 8, 0}},
     .lots = {LOT("stars", 1, 5, 0, 5, 1800000000000, 0),
              LOT("stars", 2, 5, 3, 2, 1800000000000, 0),
              LOT("stars", 3, 5, 5, 0, 1800000000000, 0)},
     .entries = {FUEL("stars", -7, 0)}},
    {.name = "pending lots are not spent",
     .steps = {EARN("stars", 10, D(5), D(14), D(0), "e1", 0),
               EARN("stars", 10, D(90), 0, D(0), "e2", 10), SETTLE, SPEND("stars", 4, 6)},
     .balances = {{"stars", 6, 10}},
     .lots = {LOT("stars", 1, 10, 10, 0, D(5), D(14)), LOT("stars", 2, 10, 6, 4, D(90), 0)},
     .entries = {FUEL("stars", -4, 0)}},
    {.name = "spending it all",
     .steps = {EARN("stars", 10, D(30), 0, D(0), "e1", 10), EARN("stars", 5, 0, 0, D(0), "e2", 15),
               SETTLE, SPEND("stars", 15, 0)},
     .balances = {{"stars", 0, 0}},
     .lots = {LOT("stars", 1, 10, 0, 10, D(30), 0), LOT0("stars", 5, 0, 5)},
     .entries = {FUEL("stars", -15, 0)}},
    {.name = "an overdraft is refused and changes nothing",
     .steps = {EARN("stars", 10, D(30), 0, D(0), "e1", 10), SETTLE,
               SPEND_FAILS("stars", 11, "insufficient balance")},
     .balances = {{"stars", 10, 0}},
     .lots = {LOT("stars", 1, 10, 10, 0, D(30), 0)},
     .unchanged = 1},
    {.name = "pending stars do not pay: refused, nothing changed",
     .steps = {EARN("stars", 10, 0, D(14), D(0), "e1", 0), SETTLE,
               SPEND_FAILS("stars", 1, "insufficient balance")},
     .balances = {{"stars", 0, 10}},
     .lots = {LOT("stars", 1, 10, 10, 0, 0, D(14))},
     .unchanged = 1},
    {.name = "spending from nothing is refused",
     .steps = {SPEND_FAILS("stars", 1, "insufficient balance")},
     .balances = {{"stars", 0, 0}},
     .unchanged = 1},
    {.name = "spending another currency is refused",
     .steps = {EARN("stars", 10, 0, 0, D(0), "e1", 10), SETTLE,
               SPEND_FAILS("coins", 1, "insufficient balance")},
     .balances = {{"stars", 10, 0}, {"coins", 0, 0}},
     .lots = {LOT0("stars", 10, 10, 0)},
     .unchanged = 1},
    {.name = "a redemption is its own ledger kind",
     .steps = {EARN("stars", 10, 0, 0, D(0), "e1", 10), SETTLE, REDEEM("stars", 4, 6)},
     .balances = {{"stars", 6, 0}},
     .lots = {LOT0("stars", 10, 6, 4)},
     .entries = {{"redeem", "stars", "redeem", -4, 0}}},
    {.name = "several spends in one event merge into one entry",
     .steps = {EARN("stars", 10, 0, 0, D(0), "e1", 10), SETTLE, SPEND("stars", 4, 6),
               SPEND("stars", 5, 1)},
     .balances = {{"stars", 1, 0}},
     .lots = {LOT0("stars", 10, 1, 9)},
     .entries = {FUEL("stars", -9, 0)}},
};

static void test_spend(void **state)
{
    (void)state;
    run_money_cases(spend_cases, N(spend_cases));
}

/* ------------------------------------------------------------------------- */
/* lots_tick                                                                 */

#define RELEASE(cur, n)                                                                            \
    {                                                                                              \
        "release", cur, "release", n, -(n)                                                         \
    }
#define EXPIRE(cur, delta, pending)                                                                \
    {                                                                                              \
        "expiry", cur, "expire", delta, pending                                                    \
    }

static const struct money_case tick_cases[] = {
    {.name = "a tick on a member without lots changes nothing",
     .steps = {TICK(D(0))},
     .balances = {{"stars", 0, 0}},
     .unchanged = 1},
    {.name = "a pending lot is not released a millisecond early",
     .steps = {EARN("stars", 50, 0, D(14), D(0), "e1", 0), SETTLE, TICK(D(14) - 1)},
     .balances = {{"stars", 0, 50}},
     .lots = {LOT("stars", 1, 50, 50, 0, 0, D(14))},
     .unchanged = 1},
    {.name = "a pending lot is released on time",
     .steps = {EARN("stars", 50, 0, D(14), D(0), "e1", 0), SETTLE, TICK(D(14))},
     .balances = {{"stars", 50, 0}},
     .lots = {LOT("stars", 1, 50, 50, 0, 0, 0)},
     .entries = {RELEASE("stars", 50)}},
    {.name = "released lots add to the balance; one entry for all",
     .steps = {EARN("stars", 5, 0, 0, D(0), "e1", 5), EARN("stars", 10, 0, D(14), D(0), "e2", 5),
               EARN("stars", 20, D(90), D(15), D(1), "e3", 5), SETTLE, TICK(D(20))},
     .balances = {{"stars", 35, 0}},
     .lots = {LOT0("stars", 5, 5, 0), LOT("stars", 1, 10, 10, 0, 0, 0),
              LOT("stars", 2, 20, 20, 0, D(90), 0)},
     .entries = {RELEASE("stars", 30)}},
    {.name = "a lot does not expire a millisecond early",
     .steps = {EARN("stars", 30, D(30), 0, D(0), "e1", 30), SETTLE, TICK(D(30) - 1)},
     .balances = {{"stars", 30, 0}},
     .lots = {LOT("stars", 1, 30, 30, 0, D(30), 0)},
     .unchanged = 1},
    {.name = "a lot expires on time: what is left of it",
     .steps = {EARN("stars", 30, D(30), 0, D(0), "e1", 30), EARN("stars", 5, 0, 0, D(0), "e2", 35),
               SPEND("stars", 10, 25), SETTLE, TICK(D(30))},
     .balances = {{"stars", 5, 0}},
     .lots = {LOT("stars", 1, 30, 0, 10, D(30), 0), LOT0("stars", 5, 5, 0)},
     .entries = {EXPIRE("stars", -20, 0)}},
    {.name = "lots expiring together: one entry",
     .steps = {EARN("stars", 30, D(30), 0, D(0), "e1", 30),
               EARN("stars", 7, D(29), 0, D(0), "e2", 37), SETTLE, TICK(D(31))},
     .balances = {{"stars", 0, 0}},
     .lots = {LOT("stars", 1, 30, 0, 0, D(30), 0), LOT("stars", 2, 7, 0, 0, D(29), 0)},
     .entries = {EXPIRE("stars", -37, 0)}},
    {.name = "a used-up lot expires without an entry",
     .steps = {EARN("stars", 30, D(30), 0, D(0), "e1", 30), SPEND("stars", 30, 0), SETTLE,
               TICK(D(31))},
     .balances = {{"stars", 0, 0}},
     .lots = {LOT("stars", 1, 30, 0, 30, D(30), 0)},
     .unchanged = 1},
    {.name = "a pending lot that expires before its release leaves pb:",
     .steps = {EARN("stars", 40, D(10), D(14), D(0), "e1", 0), SETTLE, TICK(D(10))},
     .balances = {{"stars", 0, 0}},
     .lots = {LOT("stars", 1, 40, 0, 0, D(10), 0)},
     .entries = {EXPIRE("stars", 0, -40)}},
    {.name = "a pending lot that expired is never released",
     .steps = {EARN("stars", 40, D(10), D(14), D(0), "e1", 0), SETTLE, TICK(D(20))},
     .balances = {{"stars", 0, 0}},
     .lots = {LOT("stars", 1, 40, 0, 0, D(10), 0)},
     .entries = {EXPIRE("stars", 0, -40)}},
    {.name = "a pending lot released and expired in one tick",
     .steps = {EARN("stars", 40, D(30), D(14), D(0), "e1", 0), SETTLE, TICK(D(40))},
     .balances = {{"stars", 0, 0}},
     .lots = {LOT("stars", 1, 40, 0, 0, D(30), 0)},
     .entries = {RELEASE("stars", 40), EXPIRE("stars", -40, 0)}},
    {.name = "a release repays a debt first",
     .steps = {EARN("stars", 100, 0, 0, D(0), "e1", 100), SPEND("stars", 80, 20),
               REVERSE("e1", "stars", 0, "{\"stars\": 100}", 100),
               EARN("stars", 50, 0, D(14), D(0), "e2", -80), SETTLE, TICK(D(14))},
     .balances = {{"stars", -30, 0}},
     .lots = {LOT("stars", 1, 50, 0, 50, 0, 0)},
     .entries = {RELEASE("stars", 50)}},
    {.name = "a used-up lot is kept until 90 days after its earn",
     .steps = {EARN("stars", 10, D(600), 0, D(0), "e1", 10), SPEND("stars", 10, 0), SETTLE,
               TICK(D(90) - 1)},
     .balances = {{"stars", 0, 0}},
     .lots = {LOT("stars", 1, 10, 0, 10, D(600), 0)},
     .unchanged = 1},
    {.name = "a used-up lot is pruned 90 days after its earn, expired or not",
     .steps = {EARN("stars", 10, D(600), 0, D(0), "e1", 10), SPEND("stars", 10, 0), SETTLE,
               TICK(D(90))},
     .balances = {{"stars", 0, 0}},
     .lots = {GONE("stars", 1)}},
    {.name = "an expired lot is pruned 90 days after its earn",
     .steps = {EARN("stars", 10, D(30), 0, D(0), "e1", 10), TICK(D(30)), SETTLE, TICK(D(90))},
     .balances = {{"stars", 0, 0}},
     .lots = {GONE("stars", 1)}},
    {.name = "a lot with stars left is not pruned",
     .steps = {EARN("stars", 10, D(600), 0, D(0), "e1", 10), SETTLE, TICK(D(500))},
     .balances = {{"stars", 10, 0}},
     .lots = {LOT("stars", 1, 10, 10, 0, D(600), 0)},
     .unchanged = 1},
    {.name = "the merged lot is never pruned, even used up",
     .steps = {EARN("stars", 10, 0, 0, D(0), "e1", 10), SPEND("stars", 10, 0), SETTLE,
               TICK(D(800))},
     .balances = {{"stars", 0, 0}},
     .lots = {LOT0("stars", 10, 0, 10)},
     .unchanged = 1},
};

static void test_tick(void **state)
{
    (void)state;
    run_money_cases(tick_cases, N(tick_cases));
}

/* ------------------------------------------------------------------------- */
/* lots_reverse                                                              */

#define REV(cur, delta, pending)                                                                   \
    {                                                                                              \
        "reverse", cur, "reverse", delta, pending                                                  \
    }
#define EARNED(n) "{\"stars\": " #n "}"

static const struct money_case reverse_cases[] = {
    {.name = "what is left of the event's lot",
     .steps = {EARN("stars", 100, D(30), 0, D(0), "e1", 100),
               EARN("stars", 50, D(10), 0, D(0), "e2", 150), SETTLE,
               REVERSE("e1", "stars", 0, EARNED(100), 100)},
     .balances = {{"stars", 50, 0}},
     .lots = {LOT("stars", 1, 100, 0, 0, D(30), 0), LOT("stars", 2, 50, 50, 0, D(10), 0)},
     .entries = {REV("stars", -100, 0)}},
    {.name = "what was spent comes from the rest of the balance, soonest-expiring first",
     .steps = {EARN("stars", 100, D(30), 0, D(0), "e1", 100),
               EARN("stars", 100, D(90), 0, D(0), "e2", 200),
               EARN("stars", 100, D(60), 0, D(0), "e3", 300), SPEND("stars", 60, 240), SETTLE,
               REVERSE("e1", "stars", 0, EARNED(100), 100)},
     .balances = {{"stars", 140, 0}},
     .lots = {LOT("stars", 1, 100, 0, 0, D(30), 0), LOT("stars", 2, 100, 100, 0, D(90), 0),
              LOT("stars", 3, 100, 40, 60, D(60), 0)},
     .entries = {REV("stars", -100, 0)}},
    {.name = "a short balance becomes a debt",
     .steps = {EARN("stars", 100, D(30), 0, D(0), "e1", 100),
               EARN("stars", 50, D(60), 0, D(0), "e2", 150), SPEND("stars", 60, 90), SETTLE,
               REVERSE("e1", "stars", 0, EARNED(100), 100)},
     .balances = {{"stars", -10, 0}},
     .lots = {LOT("stars", 1, 100, 0, 0, D(30), 0), LOT("stars", 2, 50, 0, 50, D(60), 0)},
     .entries = {REV("stars", -100, 0)}},
    {.name = "what expired is not taken twice",
     .steps = {EARN("stars", 100, D(30), 0, D(0), "e1", 100),
               EARN("stars", 50, 0, 0, D(0), "e2", 150), SPEND("stars", 30, 120), TICK(D(30)),
               SETTLE, REVERSE("e1", "stars", 0, EARNED(100), 30)},
     .balances = {{"stars", 20, 0}},
     .lots = {LOT("stars", 1, 100, 0, 0, D(30), 0), LOT0("stars", 50, 20, 30)},
     .entries = {REV("stars", -30, 0)}},
    {.name = "a lot that expired unspent has nothing to reverse",
     .steps = {EARN("stars", 100, D(30), 0, D(0), "e1", 100), TICK(D(30)), SETTLE,
               REVERSE("e1", "stars", 0, EARNED(100), 0)},
     .balances = {{"stars", 0, 0}},
     .lots = {LOT("stars", 1, 100, 0, 0, D(30), 0)}},
    {.name = "a partial amount comes from what is left of the lot first",
     .steps = {EARN("stars", 100, D(300), 0, D(0), "e1", 100),
               EARN("stars", 100, D(600), 0, D(0), "e2", 200), SPEND("stars", 60, 140), SETTLE,
               REVERSE("e1", "stars", 30, EARNED(100), 30)},
     .balances = {{"stars", 110, 0}},
     .lots = {LOT("stars", 1, 100, 10, 60, D(300), 0), LOT("stars", 2, 100, 100, 0, D(600), 0)},
     .entries = {REV("stars", -30, 0)}},
    {.name = "a partial amount reaching into what was spent",
     .steps = {EARN("stars", 100, D(300), 0, D(0), "e1", 100),
               EARN("stars", 100, D(600), 0, D(0), "e2", 200), SPEND("stars", 60, 140), SETTLE,
               REVERSE("e1", "stars", 50, EARNED(100), 50)},
     .balances = {{"stars", 90, 0}},
     .lots = {LOT("stars", 1, 100, 0, 50, D(300), 0), LOT("stars", 2, 100, 90, 10, D(600), 0)},
     .entries = {REV("stars", -50, 0)}},
    {.name = "a second reversal of the same amount finds less",
     .steps = {EARN("stars", 100, D(30), 0, D(0), "e1", 100),
               EARN("stars", 200, 0, 0, D(0), "e2", 300), SPEND("stars", 70, 230),
               REVERSE("e1", "stars", 80, EARNED(100), 80), SETTLE,
               REVERSE("e1", "stars", 80, EARNED(100), 20)},
     .balances = {{"stars", 130, 0}},
     .lots = {LOT("stars", 1, 100, 0, 0, D(30), 0), LOT0("stars", 200, 130, 70)},
     .entries = {REV("stars", -20, 0)}},
    {.name = "a third reversal finds nothing",
     .steps = {EARN("stars", 100, D(300), 0, D(0), "e1", 100),
               REVERSE("e1", "stars", 0, EARNED(100), 100), SETTLE,
               REVERSE("e1", "stars", 0, EARNED(100), 0)},
     .balances = {{"stars", 0, 0}},
     .lots = {LOT("stars", 1, 100, 0, 0, D(300), 0)}},
    {.name = "a pending lot is taken from pb:",
     .steps = {EARN("stars", 50, 0, D(14), D(0), "e1", 0), SETTLE,
               REVERSE("e1", "stars", 0, EARNED(50), 50)},
     .balances = {{"stars", 0, 0}},
     .lots = {LOT("stars", 1, 50, 0, 0, 0, D(14))},
     .entries = {REV("stars", 0, -50)}},
    {.name = "an event that earned nothing",
     .steps = {EARN("stars", 50, 0, 0, D(0), "e1", 50), SETTLE, REVERSE("e9", NULL, 0, NULL, 0)},
     .balances = {{"stars", 50, 0}},
     .lots = {LOT0("stars", 50, 50, 0)},
     .unchanged = 1},
    /* Currencies that never expire: the merged lot, and what the event's response says. */
    {.name = "a never-expiring earn is taken back from the merged lot",
     .steps = {EARN("stars", 10, 0, 0, D(0), "e1", 10), EARN("stars", 5, 0, 0, D(1), "e2", 15),
               SETTLE, REVERSE("e1", "stars", 0, EARNED(10), 10)},
     .balances = {{"stars", 5, 0}},
     .lots = {LOT0("stars", 15, 5, 10)},
     .entries = {REV("stars", -10, 0)},
     .fields = {{"rv:stars:e1", "10"}}},
    {.name = "a second partial reversal of a never-expiring earn finds what is left",
     .steps = {EARN("stars", 10, 0, 0, D(0), "e1", 10), EARN("stars", 5, 0, 0, D(1), "e2", 15),
               REVERSE("e1", "stars", 6, EARNED(10), 6), SETTLE,
               REVERSE("e1", "stars", 6, EARNED(10), 4)},
     .balances = {{"stars", 5, 0}},
     .lots = {LOT0("stars", 15, 5, 10)},
     .entries = {REV("stars", -4, 0)},
     .fields = {{"rv:stars:e1", "10"}}},
    {.name = "a never-expiring earn already spent: a debt",
     .steps = {EARN("stars", 10, 0, 0, D(0), "e1", 10), SPEND("stars", 10, 0), SETTLE,
               REVERSE("e1", NULL, 0, EARNED(10), 10)},
     .balances = {{"stars", -10, 0}},
     .lots = {LOT0("stars", 10, 0, 10)},
     .entries = {REV("stars", -10, 0)}},
    {.name = "one currency of the event",
     .steps = {EARN("stars", 10, 0, 0, D(0), "e1", 10), EARN("coins", 20, 0, 0, D(0), "e1", 20),
               SETTLE, REVERSE("e1", "coins", 0, "{\"stars\": 10, \"coins\": 20}", 20)},
     .balances = {{"stars", 10, 0}, {"coins", 0, 0}},
     .lots = {LOT0("stars", 10, 10, 0), LOT0("coins", 20, 0, 20)},
     .entries = {REV("coins", -20, 0)}},
    {.name = "every currency of the event",
     .steps = {EARN("stars", 10, 0, 0, D(0), "e1", 10), EARN("coins", 20, D(30), 0, D(0), "e1", 20),
               EARN("coins", 5, 0, 0, D(0), "e2", 25), SETTLE,
               REVERSE("e1", NULL, 0, "{\"stars\": 10, \"coins\": 20}", 30)},
     .balances = {{"stars", 0, 0}, {"coins", 5, 0}},
     .lots = {LOT0("stars", 10, 0, 10), LOT("coins", 1, 20, 0, 0, D(30), 0),
              LOT0("coins", 5, 5, 0)},
     .entries = {REV("coins", -20, 0), REV("stars", -10, 0)}},
    {.name = "the debt a reversal left is repaid by the next earn",
     .steps = {EARN("stars", 100, D(30), 0, D(0), "e1", 100),
               EARN("stars", 50, D(60), 0, D(0), "e2", 150), SPEND("stars", 60, 90),
               REVERSE("e1", "stars", 0, EARNED(100), 100), SETTLE,
               EARN("stars", 30, 0, 0, D(1), "e3", 20)},
     .balances = {{"stars", 20, 0}},
     .lots = {LOT0("stars", 30, 20, 10)},
     .entries = {FUEL("stars", 30, 0)}},
    /*
     * An event with two lots of one currency (two earns, as a mechanic that
     * earns per item makes): a partial reversal takes what is left of the
     * event's lots before what of them was spent.
     */
    {.name = "a partial reversal takes what is left of all the event's lots first",
     .steps = {EARN("stars", 50, D(30), 0, D(0), "e1", 50),
               EARN("stars", 50, D(60), 0, D(0), "e1", 100), SPEND("stars", 50, 50), SETTLE,
               REVERSE("e1", "stars", 50, EARNED(100), 50)},
     .balances = {{"stars", 0, 0}},
     .lots = {LOT("stars", 1, 50, 0, 50, D(30), 0), LOT("stars", 2, 50, 0, 0, D(60), 0)},
     .entries = {REV("stars", -50, 0)}},
    /* An event that earned a never-expiring amount and an expiring one of the same currency. */
    {.name = "an event's merged earn is reversed along with its own lot",
     .steps = {EARN("stars", 10, 0, 0, D(0), "e1", 10), EARN("stars", 5, D(30), 0, D(0), "e1", 15),
               SETTLE, REVERSE("e1", "stars", 0, EARNED(15), 15)},
     .balances = {{"stars", 0, 0}},
     .lots = {LOT0("stars", 10, 0, 10), LOT("stars", 1, 5, 0, 0, D(30), 0)},
     .entries = {REV("stars", -15, 0)}},
    /* The event's own stars are in the merged lot: another event's lot is not theirs. */
    {.name = "a merged earn comes back from the merged lot, not another event's lot",
     .steps = {EARN("stars", 10, 0, 0, D(0), "e1", 10), EARN("stars", 5, D(30), 0, D(0), "e2", 15),
               SETTLE, REVERSE("e1", "stars", 0, EARNED(10), 10)},
     .balances = {{"stars", 5, 0}},
     .lots = {LOT0("stars", 10, 0, 10), LOT("stars", 1, 5, 5, 0, D(30), 0)},
     .entries = {REV("stars", -10, 0)}},
};

static void test_reverse(void **state)
{
    (void)state;
    run_money_cases(reverse_cases, N(reverse_cases));
}

/* ------------------------------------------------------------------------- */
/* lots_next_due and lots_summary                                           */

static const char *const wake_only[] = {"v", "1", "wk", "1767916800000", NULL}; /* D(8) */
/* A "points.expiring" webhook due at D(5) and a wake-up at D(8). */
static const char *const notice_and_wake[] = {
    "v", "1", "xd", "1767657600000", "wk", "1767916800000", NULL};

static const struct {
    const char *name;
    struct step steps[5];
    int64_t want;
} due_cases[] = {
    {"nothing due", {{0}}, 0},
    {"never-expiring lots are never due", {EARN("stars", 5, 0, 0, D(0), "e1", 5)}, 0},
    {"the next expiry", {EARN("stars", 5, D(30), 0, D(0), "e1", 5)}, D(30)},
    {"the soonest of several expiries",
     {EARN("stars", 5, D(60), 0, D(0), "e1", 5), EARN("stars", 5, D(30), 0, D(0), "e2", 10),
      EARN("coins", 5, D(20), 0, D(0), "e3", 5)},
     D(20)},
    {"a release", {EARN("stars", 5, D(30), D(14), D(0), "e1", 0)}, D(14)},
    {"an expiry before the release", {EARN("stars", 5, D(10), D(14), D(0), "e1", 0)}, D(10)},
    {"a used-up lot's expiry is not due",
     {EARN("stars", 5, D(30), 0, D(0), "e1", 5), SPEND("stars", 5, 0)},
     0},
    {"a wake-up a mechanic asked for", {LOAD(wake_only)}, D(8)},
    {"a wake-up before the next expiry",
     {LOAD(wake_only), EARN("stars", 5, D(30), 0, D(0), "e1", 5)},
     D(8)},
    {"an expiry before the wake-up",
     {LOAD(wake_only), EARN("stars", 5, D(3), 0, D(0), "e1", 5)},
     D(3)},
    {"a notice before the wake-up and the expiry",
     {LOAD(notice_and_wake), EARN("stars", 5, D(30), 0, D(0), "e1", 5)},
     D(5)},
    {"an expiry before the notice and the wake-up",
     {EARN("stars", 5, D(2), 0, D(0), "e1", 5), SETTLE, LOAD(notice_and_wake)},
     D(2)},
};

static void test_next_due(void **state)
{
    int failures = 0;
    (void)state;
    for (size_t i = 0; i < N(due_cases); i++) {
        struct run r;
        int64_t got;
        run_begin(&r);
        failures += run_steps(due_cases[i].name, &r, due_cases[i].steps, N(due_cases[i].steps));
        got = lots_next_due(r.m);
        if (got != due_cases[i].want) {
            print_error("case \"%s\": lots_next_due = %lld, want %lld\n", due_cases[i].name,
                        (long long)got, (long long)due_cases[i].want);
            failures++;
        }
        run_end(&r);
    }
    assert_int_equal(failures, 0);
}

/* Two lots due at once whose remainders add past INT64_MAX: no earn makes such a state (each
   earn's balance is checked), but a member hash is read from Redis as it is (fuzz_resp found
   the sum overflowing). */
static const char *const huge_lots[] = {
    "v",         "1",
    "l:stars:1", "9223372036854775807|9223372036854775807|0|1769817600000|0|0|e1",
    "l:stars:2", "9223372036854775807|9223372036854775807|0|1769817600000|0|0|e2",
    NULL};

static const struct {
    const char *name;
    struct step steps[6];
    const char *want;
} summary_cases[] = {
    {"no lots", {{0}}, "{}"},
    {"one lot",
     {EARN("stars", 5, D(30), 0, D(0), "e1", 5)},
     "{\"stars\": {\"next_expiry\": {\"amount\": 5, \"at\": \"2026-01-31T00:00:00.000Z\"}}}"},
    {"lots expiring at the same time add up",
     {EARN("stars", 5, D(90), 0, D(0), "e1", 5), EARN("stars", 7, D(30), 0, D(0), "e2", 12),
      EARN("stars", 10, D(30), 0, D(1), "e3", 22), SPEND("stars", 2, 20)},
     "{\"stars\": {\"next_expiry\": {\"amount\": 15, \"at\": \"2026-01-31T00:00:00.000Z\"}}}"},
    {"a sooner lot found after later ones replaces them",
     {EARN("stars", 5, D(90), 0, D(0), "e1", 5), EARN("stars", 6, D(90), 0, D(0), "e2", 11),
      EARN("stars", 7, D(31), 0, D(0), "e3", 18)},
     "{\"stars\": {\"next_expiry\": {\"amount\": 7, \"at\": \"2026-02-01T00:00:00.000Z\"}}}"},
    {"used-up lots do not count",
     {EARN("stars", 5, D(30), 0, D(0), "e1", 5), EARN("stars", 6, D(90), 0, D(0), "e2", 11),
      SPEND("stars", 5, 6)},
     "{\"stars\": {\"next_expiry\": {\"amount\": 6, \"at\": \"2026-04-01T00:00:00.000Z\"}}}"},
    {"never-expiring lots: no next expiry",
     {EARN("stars", 5, 0, 0, D(0), "e1", 5)},
     "{\"stars\": {\"next_expiry\": null}}"},
    {"per currency",
     {EARN("stars", 5, D(30), 0, D(0), "e1", 5), EARN("coins", 3, D(90), 0, D(0), "e1", 3),
      EARN("coins", 4, 0, 0, D(0), "e2", 7)},
     "{\"stars\": {\"next_expiry\": {\"amount\": 5, \"at\": \"2026-01-31T00:00:00.000Z\"}},"
     " \"coins\": {\"next_expiry\": {\"amount\": 3, \"at\": \"2026-04-01T00:00:00.000Z\"}}}"},
};

static void test_summary(void **state)
{
    int failures = 0;
    (void)state;
    for (size_t i = 0; i < N(summary_cases); i++) {
        struct run r;
        json_error_t jerr;
        json_t *got, *want = json_loads(summary_cases[i].want, 0, &jerr);
        assert_non_null(want);
        run_begin(&r);
        failures +=
            run_steps(summary_cases[i].name, &r, summary_cases[i].steps, N(summary_cases[i].steps));
        got = lots_summary(r.m);
        if (!json_equal(got, want)) {
            char *g = json_dumps(got, JSON_SORT_KEYS);
            print_error("case \"%s\": lots_summary = %s, want %s\n", summary_cases[i].name,
                        g ? g : "NULL", summary_cases[i].want);
            free(g);
            failures++;
        }
        json_decref(got);
        json_decref(want);
        run_end(&r);
    }
    assert_int_equal(failures, 0);
}

/* A state no earn makes (the balance itself would overflow), so not one of the cases above,
   whose steps check the ledger: the summary saturates instead of wrapping to -2. */
static void test_summary_saturates(void **state)
{
    member_state *m = member_new("ann");
    json_t *got;
    size_t n = 0;
    (void)state;
    assert_non_null(m);
    while (huge_lots[n])
        n++;
    assert_int_equal(member_load_pairs(m, n, huge_lots, NULL), 0);
    got = lots_summary(m);
    assert_non_null(got);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_object_get(got, "stars"), "next_expiry"), "amount")),
                     INT64_MAX);
    json_decref(got);
    member_free(m);
}

/* ------------------------------------------------------------------------- */
/* Calendar arithmetic                                                        */

static int64_t parse_time(const char *s)
{
    int64_t ms;
    if (pc_time_parse(s, &ms))
        fail_msg("bad time in the table: %s", s);
    return ms;
}

static void test_add_months(void **state)
{
    static const struct {
        const char *from;
        int months;
        const char *want;
    } cases[] = {
        {"2026-01-31T00:00:00Z", 1, "2026-02-28T00:00:00.000Z"},
        {"2028-01-31T00:00:00Z", 1, "2028-02-29T00:00:00.000Z"},
        {"2100-01-31T00:00:00Z", 1, "2100-02-28T00:00:00.000Z"},
        {"2000-01-31T00:00:00Z", 1, "2000-02-29T00:00:00.000Z"},
        {"2026-01-31T23:59:59.500Z", 1, "2026-02-28T23:59:59.500Z"},
        {"2026-01-30T10:00:00Z", 1, "2026-02-28T10:00:00.000Z"},
        {"2026-01-15T10:00:00Z", 0, "2026-01-15T10:00:00.000Z"},
        {"2026-03-31T08:00:00Z", -1, "2026-02-28T08:00:00.000Z"},
        {"2026-08-31T08:00:00Z", -6, "2026-02-28T08:00:00.000Z"},
        {"2026-08-31T08:00:00Z", 6, "2027-02-28T08:00:00.000Z"},
        {"2026-05-31T08:00:00Z", 1, "2026-06-30T08:00:00.000Z"},
        {"2026-01-15T00:00:00Z", -1, "2025-12-15T00:00:00.000Z"},
        {"2026-12-15T00:00:00Z", 1, "2027-01-15T00:00:00.000Z"},
        {"2026-11-30T00:00:00Z", 3, "2027-02-28T00:00:00.000Z"},
        {"2026-01-10T00:00:00Z", -12, "2025-01-10T00:00:00.000Z"},
        {"2026-01-10T00:00:00Z", -13, "2024-12-10T00:00:00.000Z"},
        {"2026-12-10T00:00:00Z", -12, "2025-12-10T00:00:00.000Z"},
        {"2026-12-10T00:00:00Z", 12, "2027-12-10T00:00:00.000Z"},
        {"2026-01-10T00:00:00Z", -25, "2023-12-10T00:00:00.000Z"},
        {"2026-01-10T00:00:00Z", 24, "2028-01-10T00:00:00.000Z"},
        {"2028-02-29T12:00:00Z", 12, "2029-02-28T12:00:00.000Z"},
        {"2028-02-29T12:00:00Z", 24, "2030-02-28T12:00:00.000Z"},
        {"2028-02-29T12:00:00Z", -48, "2024-02-29T12:00:00.000Z"},
    };
    int failures = 0;
    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        char got[32];
        pc_time_format(cal_add_months(parse_time(cases[i].from), cases[i].months), got, sizeof got);
        if (strcmp(got, cases[i].want)) {
            print_error("case %s %+d months: got %s, want %s\n", cases[i].from, cases[i].months,
                        got, cases[i].want);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

static void test_period_end(void **state)
{
    static const struct {
        const char *at, *period, *want; /* want NULL: -1 */
    } cases[] = {
        {"2026-11-25T08:30:00Z", "month", "2026-12-01T00:00:00.000Z"},
        {"2026-12-31T23:59:59.999Z", "month", "2027-01-01T00:00:00.000Z"},
        {"2026-12-01T00:00:00Z", "month", "2027-01-01T00:00:00.000Z"},
        {"2028-02-10T00:00:00Z", "month", "2028-03-01T00:00:00.000Z"},
        {"2026-02-10T00:00:00Z", "quarter", "2026-04-01T00:00:00.000Z"},
        {"2026-03-31T23:59:59.999Z", "quarter", "2026-04-01T00:00:00.000Z"},
        {"2026-04-01T00:00:00Z", "quarter", "2026-07-01T00:00:00.000Z"},
        {"2026-08-15T00:00:00Z", "quarter", "2026-10-01T00:00:00.000Z"},
        {"2026-11-25T08:30:00Z", "quarter", "2027-01-01T00:00:00.000Z"},
        {"2026-01-01T00:00:00Z", "year", "2027-01-01T00:00:00.000Z"},
        {"2026-11-25T08:30:00Z", "year", "2027-01-01T00:00:00.000Z"},
        {"2026-11-25T08:30:00Z", "week", NULL},
        {"2026-11-25T08:30:00Z", "Month", NULL},
        {"2026-11-25T08:30:00Z", "", NULL},
        {"2026-11-25T08:30:00Z", "end_of_month", NULL},
    };
    int failures = 0;
    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        int64_t end = cal_period_end(parse_time(cases[i].at), cases[i].period);
        char got[32] = "-1";
        if (end != -1)
            pc_time_format(end, got, sizeof got);
        if (strcmp(got, cases[i].want ? cases[i].want : "-1")) {
            print_error("case %s \"%s\": got %s, want %s\n", cases[i].at, cases[i].period, got,
                        cases[i].want ? cases[i].want : "-1");
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_earn),
        cmocka_unit_test(test_spend),
        cmocka_unit_test(test_tick),
        cmocka_unit_test(test_reverse),
        cmocka_unit_test(test_next_due),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_summary_saturates),
        cmocka_unit_test(test_add_months),
        cmocka_unit_test(test_period_end),
    };
    return cmocka_run_group_tests_name("money", tests, NULL, NULL);
}
