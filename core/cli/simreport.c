/*
 * The figures of a simulation (simreport.h): summed from the outcomes in the
 * engine's responses, then printed as a table, alone or beside another run.
 */
#include "simreport.h"
#include "punchcard/common.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A member seen in an applied event, and the tier its last tier outcome set. */
typedef struct member_slot {
    char *id;
    int tier;        /* index into tiers, or -1 */
    json_t *entered; /* {experiment: spend so far} of the experiments the member entered */
} member_slot;

struct sim_report {
    long long ok, failed, duplicates, messages;
    json_t *errors;     /* code -> n */
    json_t *currencies; /* name -> {"issued", "redeemed", "expired"} */
    json_t *prizes, *badges, *other;
    json_t *counters; /* name -> {"counted", "highest"} */
    json_t *draws;    /* name -> {"drawn", "won", "lost (REASON)"} */
    json_t *offers;   /* name -> {"uses", "discount", "returned", "discount_returned", "issued"} */
    member_slot *members;
    size_t nmembers, cap; /* open addressing, cap a power of two */
    char **tiers;
    int ntiers;
    json_t *exps;          /* the declared experiments (mechset_experiments), or NULL */
    char per[8];           /* "day", "week", "month", "year": also figures per period; "" none */
    json_t *periods;       /* period id -> currency -> {issued, redeemed, expired, reversed} */
    json_t *expfigs;       /* name -> figures in the shape of NS:{exp:X}:figures */
    json_t *discounts;     /* {"count", "granted"}: every discount outcome, its money off */
    json_t *disc_periods;  /* period id -> {"count", "granted"} */
    json_t *offer_periods; /* period id -> offer -> {"uses", "discount", ...} (with --per) */
};

sim_report *simrep_new(void)
{
    sim_report *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->errors = json_object();
    r->currencies = json_object();
    r->prizes = json_object();
    r->badges = json_object();
    r->other = json_object();
    r->counters = json_object();
    r->draws = json_object();
    r->offers = json_object();
    r->expfigs = json_object();
    r->periods = json_object();
    r->discounts =
        json_pack("{s:i, s:i, s:i, s:i}", "count", 0, "granted", 0, "returns", 0, "returned", 0);
    r->disc_periods = json_object();
    r->offer_periods = json_object();
    r->cap = 1024;
    r->members = calloc(r->cap, sizeof *r->members);
    if (!r->errors || !r->currencies || !r->prizes || !r->badges || !r->other || !r->counters ||
        !r->draws || !r->offers || !r->expfigs || !r->periods || !r->members || !r->discounts ||
        !r->disc_periods || !r->offer_periods) {
        simrep_free(r);
        return NULL;
    }
    return r;
}

void simrep_free(sim_report *r)
{
    if (!r)
        return;
    json_decref(r->errors);
    json_decref(r->currencies);
    json_decref(r->prizes);
    json_decref(r->badges);
    json_decref(r->other);
    json_decref(r->counters);
    json_decref(r->draws);
    json_decref(r->offers);
    json_decref(r->exps);
    json_decref(r->expfigs);
    json_decref(r->periods);
    json_decref(r->discounts);
    json_decref(r->disc_periods);
    json_decref(r->offer_periods);
    for (size_t i = 0; r->members && i < r->cap; i++) {
        free(r->members[i].id);
        json_decref(r->members[i].entered);
    }
    free(r->members);
    for (int i = 0; i < r->ntiers; i++)
        free(r->tiers[i]);
    free(r->tiers);
    free(r);
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static member_slot *find_slot(member_slot *tab, size_t cap, const char *id)
{
    size_t i = hash_str(id) & (cap - 1);
    while (tab[i].id && strcmp(tab[i].id, id))
        i = (i + 1) & (cap - 1);
    return &tab[i];
}

/* The member's slot, added when new; NULL when out of memory. */
static member_slot *member_get(sim_report *r, const char *id)
{
    member_slot *m;
    if ((r->nmembers + 1) * 2 > r->cap) {
        size_t cap = r->cap * 2;
        member_slot *tab = calloc(cap, sizeof *tab);
        if (!tab)
            return NULL;
        for (size_t i = 0; i < r->cap; i++)
            if (r->members[i].id)
                *find_slot(tab, cap, r->members[i].id) = r->members[i];
        free(r->members);
        r->members = tab;
        r->cap = cap;
    }
    m = find_slot(r->members, r->cap, id);
    if (!m->id) {
        if (!(m->id = strdup(id)))
            return NULL;
        m->tier = -1;
        r->nmembers++;
    }
    return m;
}

static int tier_index(sim_report *r, const char *tier)
{
    char **t;
    for (int i = 0; i < r->ntiers; i++)
        if (!strcmp(r->tiers[i], tier))
            return i;
    if (!(t = realloc(r->tiers, (size_t)(r->ntiers + 1) * sizeof *t)))
        return -1;
    r->tiers = t;
    if (!(t[r->ntiers] = strdup(tier)))
        return -1;
    return r->ntiers++;
}

/* obj[key] += by, creating it at 0. */
static void bump(json_t *obj, const char *key, long long by)
{
    json_t *v = json_object_get(obj, key);
    if (v)
        json_integer_set(v, json_integer_value(v) + by);
    else
        json_object_set_new(obj, key, json_integer(by));
}

/* obj[key] as an object, created with the given integer fields at 0. */
static json_t *sub_object(json_t *obj, const char *key, const char *const *fields)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        v = json_object();
        for (; *fields; fields++)
            json_object_set_new(v, *fields, json_integer(0));
        json_object_set_new(obj, key, v);
    }
    return v;
}

static const char *const currency_fields[] = {"issued", "redeemed", "expired", NULL};
static const char *const counter_fields[] = {"counted", "highest", NULL};
static const char *const draw_fields[] = {"drawn", "won", NULL};
static const char *const offer_fields[] = {"uses",   "discount", "returned", "discount_returned",
                                           "issued", NULL};

void simrep_set_per(sim_report *r, const char *per)
{
    snprintf(r->per, sizeof r->per, "%s", per ? per : "");
}

/* A currency movement into its period's figures (the period of the response's time). */
static void add_to_period(sim_report *r, json_t *body, const char *cur, const char *kind,
                          long long amount)
{
    static const char *const fields[] = {"issued", "redeemed", "expired", "reversed", NULL};
    const char *at = json_string_value(json_object_get(body, "at"));
    char id[32];
    int64_t ms;
    json_t *p;
    if (!r->per[0] || !at || pc_time_parse(at, &ms) ||
        pc_period_id(ms, "UTC", r->per, id, sizeof id))
        return;
    if (!(p = json_object_get(r->periods, id))) {
        p = json_object();
        json_object_set_new(r->periods, id, p);
    }
    bump(sub_object(p, cur, fields), kind, amount);
}

/* A discount outcome (back = 0), or one a whole reversal gave back (back = 1: a plain
 * discount's "discount_returned", a code's "code_returned" the cap took): counted, its money off
 * (`off`) summed, in all and per period. */
static void add_discount(sim_report *r, json_t *o, json_t *body, int back)
{
    static const char *const fields[] = {"count", "granted", "returns", "returned", NULL};
    const char *n = back ? "returns" : "count", *money = back ? "returned" : "granted";
    long long off = json_integer_value(json_object_get(o, "off"));
    const char *at = json_string_value(json_object_get(body, "at"));
    char id[32];
    int64_t ms;
    bump(r->discounts, n, 1);
    if (off > 0)
        bump(r->discounts, money, off);
    if (!r->per[0] || !at || pc_time_parse(at, &ms) ||
        pc_period_id(ms, "UTC", r->per, id, sizeof id))
        return;
    json_t *p = sub_object(r->disc_periods, id, fields);
    bump(p, n, 1);
    if (off > 0)
        bump(p, money, off);
}

/* The figures of offer name in the period of the event (body's "at"), or NULL (no --per). */
static json_t *offer_period(sim_report *r, json_t *body, const char *name)
{
    static const char *const none[] = {NULL};
    const char *at = json_string_value(json_object_get(body, "at"));
    char id[32];
    int64_t ms;
    if (!r->per[0] || !at || pc_time_parse(at, &ms) ||
        pc_period_id(ms, "UTC", r->per, id, sizeof id))
        return NULL;
    return sub_object(sub_object(r->offer_periods, id, none), name, offer_fields);
}

static void add_outcome(sim_report *r, member_slot *m, json_t *o, json_t *body)
{
    const char *kind = json_string_value(json_object_get(o, "kind"));
    json_t *cur = json_object_get(o, "currency"), *delta = json_object_get(o, "delta");
    const char *name;

    if (!kind)
        return;
    if (json_is_string(cur) && json_is_integer(delta)) {
        json_t *c = sub_object(r->currencies, json_string_value(cur), currency_fields);
        long long d = json_integer_value(delta);
        const char *k = d > 0 ? "issued" : strstr(kind, "expir") ? "expired" : "redeemed";
        if (d)
            bump(c, k, d > 0 ? d : -d);
        /* Per period, a reversal is told apart from a redemption (it is no burn). */
        if (d)
            add_to_period(r, body, json_string_value(cur),
                          d < 0 && !strcmp(kind, "reverse") ? "reversed" : k, d > 0 ? d : -d);
        return;
    }
    if (!strcmp(kind, "discount"))
        add_discount(r, o, body, 0);
    if (!strcmp(kind, "code_returned") && json_is_true(json_object_get(o, "cap")))
        add_discount(r, o, body, 1);
    if (!strcmp(kind, "discount_returned")) {
        add_discount(r, o, body, 1);
        return;
    }
    if (!strcmp(kind, "prize") && (name = json_string_value(json_object_get(o, "prize")))) {
        bump(r->prizes, name, 1);
    } else if (!strcmp(kind, "badge") && (name = json_string_value(json_object_get(o, "badge")))) {
        bump(r->badges, name, 1);
    } else if (!strcmp(kind, "counter") &&
               (name = json_string_value(json_object_get(o, "counter")))) {
        json_t *c = sub_object(r->counters, name, counter_fields);
        json_t *hi = json_object_get(c, "highest");
        long long v = json_integer_value(json_object_get(o, "value"));
        bump(c, "counted", 1);
        if (v > json_integer_value(hi))
            json_integer_set(hi, v);
    } else if (!strcmp(kind, "tier") && (name = json_string_value(json_object_get(o, "tier")))) {
        if (m)
            m->tier = tier_index(r, name);
    } else if (!strcmp(kind, "draw") && (name = json_string_value(json_object_get(o, "draw")))) {
        json_t *d = sub_object(r->draws, name, draw_fields);
        const char *why = json_string_value(json_object_get(o, "reason"));
        char lost[100];
        bump(d, "drawn", 1);
        if (json_is_true(json_object_get(o, "won"))) {
            bump(d, "won", 1);
        } else {
            snprintf(lost, sizeof lost, "lost (%s)", why ? why : "no reason given");
            bump(d, lost, 1);
        }
    } else if ((!strcmp(kind, "discount") || !strcmp(kind, "code_returned") ||
                !strcmp(kind, "code")) &&
               (name = json_string_value(json_object_get(o, "offer")))) {
        /* A code's use and the money off it granted; a use a reversal gave back; a personal
         * code issued. */
        json_t *figs[2] = {sub_object(r->offers, name, offer_fields), offer_period(r, body, name)};
        long long off = json_integer_value(json_object_get(o, "off"));
        for (int i = 0; i < 2 && figs[i]; i++) {
            json_t *d = figs[i];
            if (kind[0] == 'c' && kind[4] == '\0') {
                bump(d, "issued", 1);
            } else if (kind[0] == 'd') {
                bump(d, "uses", 1);
                bump(d, "discount", off);
            } else if (json_is_true(json_object_get(o, "cap"))) {
                bump(d, "returned", 1);
                bump(d, "discount_returned", off);
            }
        }
    } else if (!strcmp(kind, "message")) {
        r->messages++;
    } else {
        bump(r->other, kind, 1);
    }
}

void simrep_add_settled(sim_report *r, json_t *body)
{
    json_t *o;
    size_t i;
    const char *name = json_string_value(json_object_get(body, "member"));
    member_slot *m = member_get(r, name ? name : "");
    json_array_foreach(json_object_get(body, "outcomes"), i, o)
        add_outcome(r, m, o, body);
}

void simrep_add(sim_report *r, int status, json_t *body)
{
    json_t *o;
    size_t i;
    member_slot *m;
    const char *name;

    if (status != 200) {
        const char *code =
            json_string_value(json_object_get(json_object_get(body, "error"), "code"));
        r->failed++;
        bump(r->errors, code ? code : "unknown", 1);
        return;
    }
    /* A duplicate carries the first answer's outcomes: they were counted then. */
    if (json_is_true(json_object_get(body, "duplicate"))) {
        r->duplicates++;
        return;
    }
    r->ok++;
    name = json_string_value(json_object_get(body, "member"));
    m = member_get(r, name ? name : "");
    json_array_foreach(json_object_get(body, "outcomes"), i, o)
        add_outcome(r, m, o, body);
}

void simrep_set_experiments(sim_report *r, json_t *experiments)
{
    json_decref(r->exps);
    r->exps = experiments ? json_deep_copy(experiments) : NULL;
}

/* obj[key] += by as a real (sums of squares outgrow 64 bits). */
static void bump_real(json_t *obj, const char *key, double by)
{
    json_t *v = json_object_get(obj, key);
    if (v)
        json_real_set(v, json_real_value(v) + by);
    else
        json_object_set_new(obj, key, json_real(by));
}

/*
 * The experiments' figures of one applied event, as punchd keeps them
 * (core/engine/experiments.c): the member's group from the response, the
 * spend from the event's data, currency issued and redeemed from the outcomes.
 */
static void add_experiments(sim_report *r, member_slot *m, json_t *body, json_t *data)
{
    json_t *groups = json_object_get(body, "experiments"), *g, *o;
    const char *name, *type = json_string_value(json_object_get(body, "type"));
    char k[200];
    if (!m || !json_object_size(groups) || (type && !strcmp(type, "tick")))
        return;
    if (!m->entered && !(m->entered = json_object()))
        return;
    json_object_foreach(groups, name, g) {
        const char *group = json_string_value(g);
        json_t *decl = json_object_get(r->exps, name), *figs = json_object_get(r->expfigs, name);
        const char *field = json_string_value(json_object_get(decl, "spend"));
        json_t *sv = field ? json_object_get(data, field) : NULL, *before_j;
        double x = json_is_number(sv) ? json_number_value(sv) : 0;
        int64_t spend = x > 0 && x < 9e15 ? (int64_t)x : 0, before;
        size_t i;
        if (!group)
            continue;
        if (!figs) {
            figs = json_object();
            json_object_set_new(r->expfigs, name, figs);
        }
        before_j = json_object_get(m->entered, name);
        before = json_integer_value(before_j);
        snprintf(k, sizeof k, "%s:members", group);
        if (!before_j)
            bump(figs, k, 1);
        json_object_set_new(m->entered, name, json_integer(before + spend));
        snprintf(k, sizeof k, "%s:events", group);
        bump(figs, k, 1);
        if (spend) {
            snprintf(k, sizeof k, "%s:spend", group);
            bump(figs, k, spend);
            snprintf(k, sizeof k, "%s:spend_sq", group);
            bump_real(figs, k, (double)spend * (2.0 * (double)before + (double)spend));
        }
        json_array_foreach(json_object_get(body, "outcomes"), i, o) {
            const char *kind = json_string_value(json_object_get(o, "kind"));
            const char *cur = json_string_value(json_object_get(o, "currency"));
            long long d = json_integer_value(json_object_get(o, "delta")) +
                          json_integer_value(json_object_get(o, "pending"));
            if (!kind || !cur || !d)
                continue;
            if (!strcmp(kind, "stars"))
                snprintf(k, sizeof k, "%s:%s:%s", group, d > 0 ? "issued" : "redeemed", cur);
            else if (!strcmp(kind, "redeem"))
                snprintf(k, sizeof k, "%s:redeemed:%s", group, cur);
            else
                continue;
            bump(figs, k, d < 0 ? -d : d);
        }
    }
}

void simrep_add_event(sim_report *r, int status, json_t *body, json_t *data)
{
    simrep_add(r, status, body);
    if (status == 200 && !json_is_true(json_object_get(body, "duplicate"))) {
        const char *name = json_string_value(json_object_get(body, "member"));
        add_experiments(r, member_get(r, name ? name : ""), body, data);
    }
}

void simrep_add_bad_input(sim_report *r)
{
    r->failed++;
    bump(r->errors, "bad_input", 1);
}

json_t *simrep_json(const sim_report *r)
{
    json_t *tiers = json_object();
    long long none = 0;
    for (size_t i = 0; i < r->cap; i++) {
        if (!r->members[i].id)
            continue;
        if (r->members[i].tier < 0)
            none++;
        else
            bump(tiers, r->tiers[r->members[i].tier], 1);
    }
    if (none)
        json_object_set_new(tiers, "(none)", json_integer(none));
    json_t *out = json_pack(
        "{s:{s:I, s:I, s:I}, s:O, s:I, s:O, s:O, s:O, s:O, s:O, s:O, s:o, s:I, s:O}", "events",
        "ok", (json_int_t)r->ok, "failed", (json_int_t)r->failed, "duplicates",
        (json_int_t)r->duplicates, "errors", r->errors, "members", (json_int_t)r->nmembers,
        "currencies", r->currencies, "prizes", r->prizes, "badges", r->badges, "counters",
        r->counters, "draws", r->draws, "offers", r->offers, "tiers", tiers, "messages",
        (json_int_t)r->messages, "other_outcomes", r->other);
    if (out && json_object_size(r->expfigs))
        json_object_set(out, "experiments", r->expfigs);
    if (out)
        json_object_set(out, "discounts", r->discounts);
    if (out && r->per[0])
        json_object_set(out, "periods", r->periods);
    if (out && r->per[0])
        json_object_set(out, "discounts_per_period", r->disc_periods);
    if (out && r->per[0])
        json_object_set(out, "offers_per_period", r->offer_periods);
    return out;
}

void simrep_merge(json_t *into, json_t *from)
{
    const char *k;
    json_t *v, *mine;
    json_object_foreach(from, k, v) {
        mine = json_object_get(into, k);
        if (!mine)
            json_object_set_new(into, k, json_deep_copy(v));
        else if (json_is_object(mine) && json_is_object(v))
            simrep_merge(mine, v);
        else if (json_is_real(mine) && json_is_real(v))
            json_real_set(mine, json_real_value(mine) + json_real_value(v));
        else if (json_is_integer(mine) && json_is_integer(v))
            json_integer_set(mine, !strcmp(k, "highest")
                                       ? (json_integer_value(v) > json_integer_value(mine)
                                              ? json_integer_value(v)
                                              : json_integer_value(mine))
                                       : json_integer_value(mine) + json_integer_value(v));
    }
}

/*
 * The table's rows, in a fixed order: section by section, names sorted, each
 * figure of a and b (0 when one of them lacks it).
 */
enum section_shape { SCALAR, FLAT, NESTED };

static const struct section {
    const char *key, *title;
    enum section_shape shape;
    const char *const *fields; /* NESTED (or fixed FLAT order): the figures of each name */
    int open;                  /* NESTED: more figures than fields may follow, sorted */
} sections[] = {
    {"events", "events", FLAT, (const char *const[]){"ok", "failed", "duplicates", NULL}, 0},
    {"errors", "failed by error", FLAT, NULL, 0},
    {"members", "members", SCALAR, NULL, 0},
    {"currencies", "currencies", NESTED, currency_fields, 0},
    {"prizes", "prizes won", FLAT, NULL, 0},
    {"badges", "badges awarded", FLAT, NULL, 0},
    {"counters", "counters", NESTED, counter_fields, 0},
    {"draws", "draws", NESTED, draw_fields, 1},
    {"offers", "offers and codes", NESTED, offer_fields, 0},
    {"discounts", "discounts (money off granted)", FLAT,
     (const char *const[]){"count", "granted", "returns", "returned", NULL}, 0},
    {"tiers", "members per tier", FLAT, NULL, 0},
    {"messages", "messages", SCALAR, NULL, 0},
    {"other_outcomes", "other outcomes", FLAT, NULL, 0},
};

typedef void row_fn(void *arg, const struct section *sec, const char *name, const char *field,
                    long long a, long long b);

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* The keys of a and b (objects or NULL), sorted, without repeats; caller frees the array. */
static const char **union_keys(json_t *a, json_t *b, size_t *n)
{
    size_t cap = json_object_size(a) + json_object_size(b), k = 0;
    const char **keys = malloc((cap + 1) * sizeof *keys), *key;
    json_t *v;
    *n = 0;
    if (!keys)
        return NULL;
    json_object_foreach(a, key, v)
        keys[k++] = key;
    json_object_foreach(b, key, v)
        keys[k++] = key;
    qsort(keys, k, sizeof *keys, cmp_str);
    for (size_t i = 0; i < k; i++)
        if (*n == 0 || strcmp(keys[*n - 1], keys[i]))
            keys[(*n)++] = keys[i];
    return keys;
}

static long long figure(json_t *j)
{
    return json_is_integer(j) ? (long long)json_integer_value(j) : 0;
}

/* The figures of name beyond the section's fixed fields ("lost (chance)"). */
static void walk_more(const struct section *sec, const char *name, json_t *va, json_t *vb,
                      row_fn *fn, void *arg)
{
    size_t n;
    const char **more = union_keys(va, vb, &n);
    for (size_t j = 0; more && j < n; j++) {
        int fixed = 0;
        for (const char *const *f = sec->fields; *f && !fixed; f++)
            fixed = !strcmp(*f, more[j]);
        if (!fixed)
            fn(arg, sec, name, more[j], figure(json_object_get(va, more[j])),
               figure(json_object_get(vb, more[j])));
    }
    free(more);
}

static void walk(json_t *a, json_t *b, row_fn *fn, void *arg)
{
    for (size_t s = 0; s < sizeof sections / sizeof *sections; s++) {
        const struct section *sec = &sections[s];
        json_t *sa = json_object_get(a, sec->key), *sb = json_object_get(b, sec->key);
        size_t n;
        const char **keys;

        if (sec->shape == SCALAR) {
            fn(arg, sec, NULL, NULL, figure(sa), figure(sb));
            continue;
        }
        if (sec->shape == FLAT && sec->fields) {
            for (const char *const *f = sec->fields; *f; f++)
                fn(arg, sec, *f, NULL, figure(json_object_get(sa, *f)),
                   figure(json_object_get(sb, *f)));
            continue;
        }
        if (!(keys = union_keys(sa, sb, &n)))
            continue;
        for (size_t i = 0; i < n; i++) {
            json_t *va = json_object_get(sa, keys[i]), *vb = json_object_get(sb, keys[i]);
            if (sec->shape == FLAT) {
                fn(arg, sec, keys[i], NULL, figure(va), figure(vb));
                continue;
            }
            for (const char *const *f = sec->fields; *f; f++)
                fn(arg, sec, keys[i], *f, figure(json_object_get(va, *f)),
                   figure(json_object_get(vb, *f)));
            if (sec->open)
                walk_more(sec, keys[i], va, vb, fn, arg);
        }
        free(keys);
    }
}

static void diff_row(void *arg, const struct section *sec, const char *name, const char *field,
                     long long a, long long b)
{
    json_t *out = arg, *s;
    if (!name) {
        json_object_set_new(out, sec->key, json_integer(b - a));
        return;
    }
    if (!(s = json_object_get(out, sec->key)))
        json_object_set_new(out, sec->key, s = json_object());
    if (field) {
        json_t *o = json_object_get(s, name);
        if (!o)
            json_object_set_new(s, name, o = json_object());
        json_object_set_new(o, field, json_integer(b - a));
    } else {
        json_object_set_new(s, name, json_integer(b - a));
    }
}

json_t *simrep_diff(json_t *a, json_t *b)
{
    json_t *out = json_object();
    walk(a, b, diff_row, out);
    return out;
}

typedef struct print_ctx {
    FILE *f;
    int two;
    const struct section *last;
} print_ctx;

static void print_row(void *arg, const struct section *sec, const char *name, const char *field,
                      long long a, long long b)
{
    print_ctx *p = arg;
    char label[200];

    /* Nothing expired says nothing: most programs have no expiry. */
    if (field && !strcmp(field, "expired") && a == 0 && b == 0)
        return;
    if (name && p->last != sec)
        fprintf(p->f, "%s\n", sec->title);
    p->last = sec;
    if (!name)
        snprintf(label, sizeof label, "%s", sec->title);
    else if (field)
        snprintf(label, sizeof label, "  %s %s", name, field);
    else
        snprintf(label, sizeof label, "  %s", name);
    if (!p->two)
        fprintf(p->f, "%-34s %14lld\n", label, a);
    else if (a == b)
        fprintf(p->f, "%-34s %14lld %14lld %14s\n", label, a, b, "=");
    else
        fprintf(p->f, "%-34s %14lld %14lld %+14lld\n", label, a, b, b - a);
}

void simrep_print(FILE *f, json_t *a, const char *label_a, json_t *b, const char *label_b)
{
    print_ctx p = {.f = f, .two = b != NULL};
    if (b)
        fprintf(f, "%-34s %14s %14s %14s\n", "", label_a, label_b, "change");
    walk(a, b, print_row, &p);
}
