/*
 * How punch repl shows what the engine answered (repl.h): an event's
 * outcomes, balances before -> after and the explain trace; a member; a
 * ledger; the mechanics; a draw's pools; a leaderboard. Text for people; the
 * commands also return the JSON as Lua tables.
 */
#include "repl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void replprint_json(json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    fputs(s ? s : "?", stdout);
    free(s);
}

const char *replprint_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "?";
}

#define str replprint_str

/* An object's fields other than those already said, as " k=v". */
static void print_extra_fields(json_t *o, const char *const *skip)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        int said = !strcmp(k, "mechanic") || !strcmp(k, "kind");
        for (const char *const *s = skip; *s && !said; s++)
            said = !strcmp(k, *s);
        if (said)
            continue;
        printf(" %s=", k);
        replprint_json(v);
    }
}

/* "draw lunch: won dessert (roll 0.39 < chance 0.5)", "draw lunch: lost, chance (...)". */
static void print_draw(json_t *o)
{
    json_t *roll = json_object_get(o, "roll"), *chance = json_object_get(o, "chance");
    int won = json_is_true(json_object_get(o, "won"));
    printf("draw %s: ", str(o, "draw"));
    if (won)
        printf("won %s", str(o, "prize"));
    else
        printf("lost, %s", str(o, "reason"));
    if (json_is_number(roll) && json_is_number(chance))
        printf(" (roll %.3f %s chance %g)", json_number_value(roll),
               json_number_value(roll) < json_number_value(chance) ? "<" : ">=",
               json_number_value(chance));
    print_extra_fields(
        o, (const char *const[]){"draw", "won", "prize", "reason", "roll", "chance", NULL});
}

static void print_outcome(json_t *o, int width)
{
    const char *kind = str(o, "kind");
    json_t *delta = json_object_get(o, "delta");

    printf("  %-*s  ", width, str(o, "mechanic"));
    if (json_is_string(json_object_get(o, "currency")) && json_is_integer(delta)) {
        printf("%+lld %s (balance %lld)", (long long)json_integer_value(delta), str(o, "currency"),
               (long long)json_integer_value(json_object_get(o, "balance")));
        print_extra_fields(o, (const char *const[]){"currency", "delta", "balance", NULL});
        if (strcmp(kind, "stars"))
            printf(" [%s]", kind);
    } else if (!strcmp(kind, "counter")) {
        printf("counter %s = %lld", str(o, "counter"),
               (long long)json_integer_value(json_object_get(o, "value")));
        print_extra_fields(o, (const char *const[]){"counter", "value", NULL});
    } else if (!strcmp(kind, "badge")) {
        printf("badge %s", str(o, "badge"));
        print_extra_fields(o, (const char *const[]){"badge", NULL});
    } else if (!strcmp(kind, "tier")) {
        json_t *from = json_object_get(o, "from");
        printf("tier %s (was %s)", str(o, "tier"),
               json_is_string(from) ? json_string_value(from) : "none");
        print_extra_fields(o, (const char *const[]){"tier", "from", NULL});
    } else if (!strcmp(kind, "prize")) {
        printf("prize %s", str(o, "prize"));
        print_extra_fields(o, (const char *const[]){"prize", NULL});
    } else if (!strcmp(kind, "message")) {
        printf("message \"%s\"", str(o, "text"));
        print_extra_fields(o, (const char *const[]){"text", NULL});
    } else if (!strcmp(kind, "draw")) {
        print_draw(o);
    } else {
        printf("%s", kind);
        print_extra_fields(o, (const char *const[]){NULL});
    }
    putchar('\n');
}

/* "stars 0 -> 86, gold_stars 3 -> 4": each currency's balance before and after the event. */
static void print_balances(json_t *outcomes)
{
    json_t *seen = json_object(), *o, *pair;
    const char *cur, *sep = "  balances: ";
    size_t i;

    json_array_foreach(outcomes, i, o) {
        json_t *delta = json_object_get(o, "delta"), *bal = json_object_get(o, "balance");
        if (!json_is_string(json_object_get(o, "currency")) || !json_is_integer(delta) ||
            !json_is_integer(bal))
            continue;
        cur = json_string_value(json_object_get(o, "currency"));
        if (!(pair = json_object_get(seen, cur)))
            json_object_set_new(seen, cur,
                                json_pack("[I, I]",
                                          json_integer_value(bal) - json_integer_value(delta),
                                          json_integer_value(bal)));
        else
            json_array_set(pair, 1, bal);
    }
    json_object_foreach(seen, cur, pair) {
        printf("%s%s %lld -> %lld", sep, cur,
               (long long)json_integer_value(json_array_get(pair, 0)),
               (long long)json_integer_value(json_array_get(pair, 1)));
        sep = ", ";
    }
    if (json_object_size(seen))
        putchar('\n');
    json_decref(seen);
}

static int not_subscribed(json_t *t)
{
    const char *reason = json_string_value(json_object_get(t, "reason"));
    return !json_is_true(json_object_get(t, "ran")) && reason && strstr(reason, "not subscribed");
}

/* The explain trace: who ran (and what it produced), who did not and why. */
static void print_explain(json_t *trace)
{
    static const char *const said[] = {"file", "ran", "outcomes", "reason", NULL};
    json_t *t;
    size_t i;
    int width = 0, unsubscribed = 0;

    json_array_foreach(trace, i, t) {
        int n = (int)strlen(str(t, "mechanic"));
        if (n > width && !not_subscribed(t))
            width = n;
    }
    json_array_foreach(trace, i, t) {
        json_t *reason = json_object_get(t, "reason");
        if (not_subscribed(t)) {
            unsubscribed++;
            continue;
        }
        if (json_is_true(json_object_get(t, "ran"))) {
            long long n = json_integer_value(json_object_get(t, "outcomes"));
            printf("  ran      %-*s  %lld outcome%s", width, str(t, "mechanic"), n,
                   n == 1 ? "" : "s");
            if (json_is_string(reason))
                printf(": %s", json_string_value(reason));
        } else {
            printf("  skipped  %-*s  %s", width, str(t, "mechanic"),
                   json_is_string(reason) ? json_string_value(reason) : "");
        }
        print_extra_fields(t, said);
        putchar('\n');
    }
    if (!unsubscribed)
        return;
    printf("  not subscribed:");
    json_array_foreach(trace, i, t) {
        if (not_subscribed(t))
            printf(" %s", str(t, "mechanic"));
    }
    putchar('\n');
}

void replprint_response(int status, json_t *body)
{
    json_t *outcomes = json_object_get(body, "outcomes"), *o;
    size_t i;
    int width = 0;

    if (status != 200) {
        json_t *e = json_object_get(body, "error");
        printf("error %d %s: %s\n", status, str(e, "code"), str(e, "message"));
        return;
    }
    printf("%s %s for %s at %s (mechanics %s)%s%s\n", str(body, "type"), str(body, "id"),
           str(body, "member"), str(body, "at"), str(body, "mechanics_version"),
           json_is_true(json_object_get(body, "dry_run")) ? " DRY RUN: nothing applied" : "",
           json_is_true(json_object_get(body, "duplicate"))
               ? " DUPLICATE: the first answer; nothing applied again"
               : "");
    json_array_foreach(outcomes, i, o) {
        int n = (int)strlen(str(o, "mechanic"));
        if (n > width)
            width = n;
    }
    json_array_foreach(outcomes, i, o)
        print_outcome(o, width);
    if (!json_array_size(outcomes))
        printf("  no outcomes\n");
    print_balances(outcomes);
    print_explain(json_object_get(body, "explain"));
}

/* A section of a member: "name value, name value" for an object of numbers. */
static void print_section(const char *title, json_t *obj, int badges)
{
    const char *k, *sep = "";
    json_t *v;
    if (!json_object_size(obj))
        return;
    printf("  %-10s ", title);
    json_object_foreach(obj, k, v) {
        printf("%s%s", sep, k);
        if (badges && json_is_string(json_object_get(v, "awarded_at")))
            printf(" (%s)", json_string_value(json_object_get(v, "awarded_at")));
        else if (json_is_integer(v))
            printf(" %lld", (long long)json_integer_value(v));
        else if (!badges) {
            putchar(' ');
            replprint_json(v);
        }
        sep = ", ";
    }
    putchar('\n');
}

/* Nothing worth a line: null, empty, or made only of such ({"stars": {"next_expiry": null}}). */
static int blank(json_t *v)
{
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_null(v))
        return 1;
    if (json_is_object(v)) {
        json_object_foreach(v, k, x) {
            if (!blank(x))
                return 0;
        }
        return 1;
    }
    if (json_is_array(v)) {
        json_array_foreach(v, i, x) {
            if (!blank(x))
                return 0;
        }
        return 1;
    }
    return 0;
}

void replprint_member(json_t *body)
{
    static const char *const said[] = {"member", "version", "balances", "counters",
                                       "badges", "prizes",  "tier",     NULL};
    const char *k;
    json_t *v;

    printf("%s (version %lld)\n", str(body, "member"),
           (long long)json_integer_value(json_object_get(body, "version")));
    print_section("balances", json_object_get(body, "balances"), 0);
    print_section("counters", json_object_get(body, "counters"), 0);
    print_section("badges", json_object_get(body, "badges"), 1);
    print_section("prizes", json_object_get(body, "prizes"), 0);
    if (json_is_string(json_object_get(body, "tier")))
        printf("  %-10s %s\n", "tier", json_string_value(json_object_get(body, "tier")));
    /* Whatever else the engine keeps (streaks, pending, attributes...), as JSON. */
    json_object_foreach(body, k, v) {
        int skip = blank(v);
        for (const char *const *s = said; *s && !skip; s++)
            skip = !strcmp(k, *s);
        if (skip)
            continue;
        printf("  %-10s ", k);
        replprint_json(v);
        putchar('\n');
    }
}

void replprint_ledger(const char *id, json_t *body)
{
    json_t *entries = json_object_get(body, "entries"), *e;
    size_t i;
    printf("%s: %zu entr%s, newest first%s\n", id, json_array_size(entries),
           json_array_size(entries) == 1 ? "y" : "ies",
           json_is_string(json_object_get(body, "next")) ? " (more: ledger(id, n))" : "");
    json_array_foreach(entries, i, e) {
        printf("  %s  %-10s %-14s %-10s %-10s %+6lld = %lld\n", str(e, "at"), str(e, "type"),
               str(e, "event"), str(e, "mechanic"), str(e, "currency"),
               (long long)json_integer_value(json_object_get(e, "delta")),
               (long long)json_integer_value(json_object_get(e, "balance")));
    }
}

void replprint_mechanics(json_t *d)
{
    json_t *m, *err = json_object_get(d, "error"), *on, *t;
    size_t i, j;
    printf("mechanics %s from %s, loaded %s\n",
           json_is_string(json_object_get(d, "version")) ? str(d, "version") : "(none)",
           str(d, "dir"),
           json_is_string(json_object_get(d, "loaded_at")) ? str(d, "loaded_at") : "never");
    json_array_foreach(json_object_get(d, "mechanics"), i, m) {
        printf("  %-16s %-16s on", str(m, "name"), str(m, "file"));
        on = json_object_get(m, "on");
        if (json_is_string(on))
            printf(" %s", json_string_value(on));
        json_array_foreach(on, j, t)
            printf(" %s", json_string_value(t));
        putchar('\n');
    }
    if (json_is_object(err))
        printf("  last reload failed (%s): %s\n", str(err, "at"), str(err, "message"));
}

void replprint_draw(json_t *d)
{
    json_t *p;
    size_t i;
    printf("draw %s, epoch %lld, %lld wins in all\n", str(d, "draw"),
           (long long)json_integer_value(json_object_get(d, "epoch")),
           (long long)json_integer_value(json_object_get(d, "wins")));
    if (!json_array_size(json_object_get(d, "prizes")))
        printf("  no prize with a pool yet (the pools appear at the first draw)\n");
    json_array_foreach(json_object_get(d, "prizes"), i, p) {
        printf("  %-14s pool %lld per %s, this %s: %lld left, %lld won; won in all %lld\n",
               str(p, "prize"), (long long)json_integer_value(json_object_get(p, "pool")),
               str(p, "refill"), str(p, "period"),
               (long long)json_integer_value(json_object_get(p, "left")),
               (long long)json_integer_value(json_object_get(p, "won_in_period")),
               (long long)json_integer_value(json_object_get(p, "won")));
    }
}

void replprint_board(json_t *b)
{
    json_t *e, *me = json_object_get(b, "member");
    size_t i;
    printf("leaderboard %s, period %s (per %s)\n", str(b, "leaderboard"), str(b, "period"),
           str(b, "per"));
    if (!json_array_size(json_object_get(b, "top")))
        printf("  nobody scored in this period yet\n");
    json_array_foreach(json_object_get(b, "top"), i, e) {
        printf("  %4lld  %-20s %lld\n", (long long)json_integer_value(json_object_get(e, "rank")),
               str(e, "member"), (long long)json_integer_value(json_object_get(e, "score")));
    }
    if (json_is_object(me))
        printf("  %s is #%lld with %lld\n", str(me, "member"),
               (long long)json_integer_value(json_object_get(me, "rank")),
               (long long)json_integer_value(json_object_get(me, "score")));
}
