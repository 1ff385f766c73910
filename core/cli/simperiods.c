/*
 * A simulation's figures per period (simreport.h: simper_table, simper_print):
 * what was issued, redeemed, expired and reversed in each day, week, month or
 * year of the replayed history, the liability outstanding at the end of each,
 * and the breakage rate — earn against burn over time, before launch.
 */
#include "simreport.h"

#include <stdlib.h>
#include <string.h>

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of obj, sorted (NULL when out of memory; *n set). Borrowed from obj. */
static const char **sorted_keys(json_t *obj, size_t *n)
{
    const char **keys = malloc(sizeof *keys * (json_object_size(obj) + 1)), *k;
    json_t *v;
    *n = 0;
    if (!keys)
        return NULL;
    json_object_foreach(obj, k, v)
        keys[(*n)++] = k;
    qsort(keys, *n, sizeof *keys, cmp_str);
    return keys;
}

static long long fig(json_t *c, const char *k)
{
    return json_integer_value(json_object_get(c, k));
}

json_t *simper_table(json_t *periods)
{
    json_t *out = json_deep_copy(periods ? periods : json_object());
    json_t *running = json_object(), *p, *c;
    size_t n = 0;
    const char **ids = out ? sorted_keys(out, &n) : NULL, *cur;
    if (!out || !ids || !running) {
        free(ids);
        json_decref(out);
        json_decref(running);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        p = json_object_get(out, ids[i]);
        json_object_foreach(p, cur, c) {
            long long red = fig(c, "redeemed"), exp = fig(c, "expired");
            long long o = json_integer_value(json_object_get(running, cur)) + fig(c, "issued") -
                          red - exp - fig(c, "reversed");
            json_object_set_new(running, cur, json_integer(o));
            json_object_set_new(c, "outstanding", json_integer(o));
            json_object_set_new(c, "breakage_rate",
                                red + exp ? json_real((double)(exp * 10000 / (red + exp)) / 10000)
                                          : json_null());
        }
        /* A currency quiet in this period still has its liability. */
        json_object_foreach(running, cur, c) {
            if (!json_object_get(p, cur))
                json_object_set_new(p, cur,
                                    json_pack("{s:i, s:i, s:i, s:i, s:O, s:n}", "issued", 0,
                                              "redeemed", 0, "expired", 0, "reversed", 0,
                                              "outstanding", c, "breakage_rate"));
        }
    }
    free(ids);
    json_decref(running);
    return out;
}

json_t *simper_diff(json_t *a, json_t *b)
{
    static const char *const figs[] = {"issued", "redeemed", "expired", "reversed", "outstanding"};
    json_t *ta = simper_table(a), *tb = simper_table(b), *out = json_object(), *p, *c;
    const char *id, *cur;
    for (int side = 0; side < 2; side++)
        json_object_foreach(side ? tb : ta, id, p)
            json_object_foreach(p, cur, c) {
                json_t *ca = json_object_get(json_object_get(ta, id), cur);
                json_t *cb = json_object_get(json_object_get(tb, id), cur);
                json_t *d = json_object_get(out, id), *dc;
                if (!d) {
                    d = json_object();
                    json_object_set_new(out, id, d);
                }
                if (json_object_get(d, cur))
                    continue;
                dc = json_object();
                for (size_t i = 0; i < sizeof figs / sizeof *figs; i++)
                    json_object_set_new(dc, figs[i],
                                        json_integer(fig(cb, figs[i]) - fig(ca, figs[i])));
                json_object_set_new(d, cur, dc);
            }
    json_decref(ta);
    json_decref(tb);
    return out;
}

static void print_breakage(FILE *f, json_t *c)
{
    json_t *b = json_object_get(c, "breakage_rate");
    if (json_is_number(b))
        fprintf(f, " %8.1f%%", 100 * json_number_value(b));
    else
        fprintf(f, " %9s", "-");
}

void simper_print(FILE *f, const char *per, json_t *a, const char *label_a, json_t *b,
                  const char *label_b)
{
    json_t *ta = simper_table(a), *tb = b ? simper_table(b) : NULL, *both = json_object();
    const char **ids, **curs;
    size_t n = 0, nc = 0;
    const char *id, *cur;
    json_t *p, *c;
    /* Every currency of either run, then every period of either. */
    json_t *currencies = json_object();
    json_object_foreach(ta, id, p) {
        json_object_set(both, id, json_true());
        json_object_foreach(p, cur, c)
            json_object_set(currencies, cur, json_true());
    }
    json_object_foreach(tb, id, p) {
        json_object_set(both, id, json_true());
        json_object_foreach(p, cur, c)
            json_object_set(currencies, cur, json_true());
    }
    ids = sorted_keys(both, &n);
    curs = sorted_keys(currencies, &nc);
    for (size_t k = 0; ids && curs && k < nc; k++) {
        fprintf(f, "\n%s per %s", curs[k], per);
        if (tb)
            fprintf(f, "\n  %-10s %25s %25s %25s\n  %-10s %12s %12s %12s %12s %12s %12s\n", "",
                    label_a, label_b, "change", "period", "issued", "outstanding", "issued",
                    "outstanding", "issued", "outstanding");
        else
            fprintf(f, "\n  %-10s %12s %12s %12s %12s %12s %9s\n", "period", "issued", "redeemed",
                    "expired", "reversed", "outstanding", "breakage");
        for (size_t i = 0; i < n; i++) {
            json_t *ca = json_object_get(json_object_get(ta, ids[i]), curs[k]);
            json_t *cb = tb ? json_object_get(json_object_get(tb, ids[i]), curs[k]) : NULL;
            if (!tb) {
                if (!ca)
                    continue;
                fprintf(f, "  %-10s %12lld %12lld %12lld %12lld %12lld", ids[i], fig(ca, "issued"),
                        fig(ca, "redeemed"), fig(ca, "expired"), fig(ca, "reversed"),
                        fig(ca, "outstanding"));
                print_breakage(f, ca);
                fputc('\n', f);
            } else {
                fprintf(f, "  %-10s %12lld %12lld %12lld %12lld %+12lld %+12lld\n", ids[i],
                        fig(ca, "issued"), fig(ca, "outstanding"), fig(cb, "issued"),
                        fig(cb, "outstanding"), fig(cb, "issued") - fig(ca, "issued"),
                        fig(cb, "outstanding") - fig(ca, "outstanding"));
            }
        }
    }
    free(ids);
    free(curs);
    json_decref(both);
    json_decref(currencies);
    json_decref(ta);
    json_decref(tb);
}

json_t *simper_discounts_diff(json_t *a, json_t *b)
{
    json_t *out = json_object(), *p;
    const char *id;
    for (int side = 0; out && side < 2; side++)
        json_object_foreach(side ? b : a, id, p) {
            json_t *pa = json_object_get(a, id), *pb = json_object_get(b, id);
            if (json_object_get(out, id))
                continue;
            json_object_set_new(
                out, id,
                json_pack("{s:I, s:I, s:I, s:I}", "count",
                          (json_int_t)(fig(pb, "count") - fig(pa, "count")), "granted",
                          (json_int_t)(fig(pb, "granted") - fig(pa, "granted")), "returns",
                          (json_int_t)(fig(pb, "returns") - fig(pa, "returns")), "returned",
                          (json_int_t)(fig(pb, "returned") - fig(pa, "returned"))));
        }
    return out;
}

void simper_discounts_print(FILE *f, const char *per, json_t *a, const char *label_a, json_t *b,
                            const char *label_b)
{
    json_t *both = json_object(), *p;
    const char **ids, *id;
    size_t n = 0;
    json_object_foreach(a, id, p)
        json_object_set(both, id, json_true());
    json_object_foreach(b, id, p)
        json_object_set(both, id, json_true());
    ids = sorted_keys(both, &n);
    if (ids && n) {
        fprintf(f, "\ndiscounts per %s (money off granted)\n", per);
        if (b)
            fprintf(f, "  %-10s %12s %12s %12s %12s %12s\n", "period", label_a, "", label_b, "",
                    "change");
        fprintf(f, "  %-10s %12s %12s %12s", "", "count", "granted", "returned");
        if (b)
            fprintf(f, " %12s %12s %12s %12s", "count", "granted", "returned", "granted");
        fputc('\n', f);
    }
    for (size_t i = 0; ids && i < n; i++) {
        json_t *pa = json_object_get(a, ids[i]), *pb = json_object_get(b, ids[i]);
        fprintf(f, "  %-10s %12lld %12lld %12lld", ids[i], fig(pa, "count"), fig(pa, "granted"),
                fig(pa, "returned"));
        if (b)
            fprintf(f, " %12lld %12lld %12lld %+12lld", fig(pb, "count"), fig(pb, "granted"),
                    fig(pb, "returned"), fig(pb, "granted") - fig(pa, "granted"));
        fputc('\n', f);
    }
    free(ids);
    json_decref(both);
}
