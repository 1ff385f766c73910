/*
 * Offers and promo codes, the engine's part (offers.h): a whole reversal
 * gives back the codes the reversed event used — on the member's side in the
 * reversal's own commit, and in each offer's cap through the "offer_return"
 * global operation (exactly once per used event, whatever reversal asks) —
 * and GET /v1/offers, /v1/offers/{name}: the catalogue with each offer's
 * uses, what is left of its cap, the discount granted and whether it is
 * valid now.
 */
#include "offers.h"
#include "engine-internal.h"
#include "punchcard/query.h"
#include "common/calendar-internal.h"
#include "model/offer-internal.h"
#include "store/reads-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *offers_reverse_member(const pc_event *ev, member_state *m, json_t *original)
{
    json_t *uses = json_array(), *o;
    const char *of = json_string_value(json_object_get(pc_event_data(ev), "event"));
    size_t i;
    if (!uses)
        return NULL;
    /* Only the whole reversal (no currency, amount or items) gives a code back: a partial
     * refund leaves the order, and the code it used, standing. */
    if (!of || json_object_get(pc_event_data(ev), "currency") ||
        json_object_get(pc_event_data(ev), "amount") || json_object_get(pc_event_data(ev), "items"))
        return uses;
    json_array_foreach(json_object_get(original, "outcomes"), i, o) {
        const char *kind = json_string_value(json_object_get(o, "kind"));
        const char *offer = json_string_value(json_object_get(o, "offer"));
        const char *code = json_string_value(json_object_get(o, "code"));
        char norm[OFFER_CODE_MAX + 1], used_by[PC_ID_MAX + 1];
        const char *why;
        member_code mc;
        int64_t at;
        int member_side = 0;
        if (!kind || strcmp(kind, "discount") || !offer || !pc_valid_name(offer) || !code)
            continue;
        /* The member's records give the use back only while they still name this event. */
        if (!offer_code_normalize(code, strlen(code), norm, &why) &&
            member_code_get(m, norm, &mc) == 0 && mc.used_ms && !strcmp(mc.event, of)) {
            mc.used_ms = 0;
            mc.event[0] = '\0';
            if (member_code_set(m, norm, &mc))
                goto oom;
            member_side = 1;
        }
        if (member_offer_use(m, offer, &at, used_by) == 0 && !strcmp(used_by, of)) {
            if (member_set_offer_use(m, offer, 0, NULL))
                goto oom;
            member_side = 1;
        }
        if (json_array_append_new(uses, json_pack("{s:s, s:s, s:s, s:I, s:b}", "offer", offer,
                                                  "code", code, "event", of, "off",
                                                  json_integer_value(json_object_get(o, "off")),
                                                  "member_side", member_side)))
            goto oom;
    }
    return uses;
oom:
    json_decref(uses);
    return NULL;
}

int offers_returned(member_state *m, json_t *use, int returned)
{
    if (!returned && !json_is_true(json_object_get(use, "member_side")))
        return 0;
    return member_add_outcome(m, "reverse",
                              json_pack("{s:s, s:O, s:O, s:b, s:O}", "kind", "code_returned",
                                        "offer", json_object_get(use, "offer"), "code",
                                        json_object_get(use, "code"), "cap", returned, "off",
                                        json_object_get(use, "off")))
               ? 0
               : -1;
}

int offers_reverse_discounts(const pc_event *ev, member_state *m, json_t *original, int64_t now_ms,
                             int64_t keep_ms)
{
    const char *of = json_string_value(json_object_get(pc_event_data(ev), "event"));
    json_t *o;
    size_t i;
    int n = 0;
    if (member_prune_discount_backs(m, now_ms - keep_ms))
        return -1;
    /* As for codes, only the whole reversal gives money off back: a partial refund leaves the
     * order, and the discount it had, standing. */
    if (!of || json_object_get(pc_event_data(ev), "currency") ||
        json_object_get(pc_event_data(ev), "amount") ||
        json_object_get(pc_event_data(ev), "items") || member_discount_back(m, of))
        return 0;
    json_array_foreach(json_object_get(original, "outcomes"), i, o) {
        const char *kind = json_string_value(json_object_get(o, "kind"));
        json_t *off = json_object_get(o, "off"), *pct = json_object_get(o, "percent");
        if (!kind || strcmp(kind, "discount") || json_object_get(o, "offer"))
            continue;
        if (!member_add_outcome(m, "reverse",
                                json_pack("{s:s, s:s, s:O, s:I}", "kind", "discount_returned",
                                          "event", of, "percent", pct ? pct : json_null(), "off",
                                          json_is_integer(off) && json_integer_value(off) > 0
                                              ? json_integer_value(off)
                                              : (json_int_t)0)))
            return -1;
        n++;
    }
    if (n && member_set_discount_back(m, of, now_ms))
        return -1;
    return n;
}

json_t *offers_per_period(json_t *days, int per)
{
    json_t *out = json_object(), *d, *o, *f;
    const char *day, *offer, *kind;
    json_object_foreach(days, day, d) {
        int y, mo, dd;
        char id[32];
        json_t *p;
        if (!out || sscanf(day, "%4d-%2d-%2d", &y, &mo, &dd) != 3)
            continue;
        cal_period_id(cal_days_from_civil(y, mo, dd) * 86400000LL, "UTC", 0, per, id, sizeof id);
        if (!(p = json_object_get(out, id)) &&
            (!(p = json_object()) || json_object_set_new(out, id, p)))
            goto oom;
        json_object_foreach(d, offer, o) {
            json_t *sum = json_object_get(p, offer);
            if (!sum && (!(sum = json_object()) || json_object_set_new(p, offer, sum)))
                goto oom;
            json_object_foreach(o, kind, f) {
                if (json_object_set_new(
                        sum, kind,
                        json_integer(json_integer_value(json_object_get(sum, kind)) +
                                     json_integer_value(f))))
                    goto oom;
            }
        }
    }
    return out;
oom:
    json_decref(out);
    return NULL;
}

/* ---- GET /v1/offers, /v1/offers/{name} ---- */

/* The offer as the API shows it, from its declaration (NULL: no longer declared). */
static json_t *offer_json(const char *name, json_t *decl, int64_t now)
{
    static const char *const copied[] = {
        "code",      "personal",        "prefix",      "valid_for", "percent",     "amount", "tz",
        "min_order", "once_per_member", "renew_every", "cap",       "description", NULL};
    json_t *j = json_pack("{s:s, s:b}", "offer", name, "declared", decl != NULL), *from, *to;
    char t[40];
    if (!j || !decl)
        return j;
    for (int i = 0; copied[i]; i++) {
        json_t *v = json_object_get(decl, copied[i]);
        json_object_set(j, copied[i], v ? v : json_null());
    }
    from = json_object_get(decl, "from");
    to = json_object_get(decl, "to");
    if (from)
        pc_time_format(json_integer_value(from), t, sizeof t);
    json_object_set_new(j, "from", from ? json_string(t) : json_null());
    if (to)
        pc_time_format(json_integer_value(to), t, sizeof t);
    json_object_set_new(j, "to", to ? json_string(t) : json_null());
    json_object_set_new(j, "valid_now",
                        json_boolean((!from || now >= json_integer_value(from)) &&
                                     (!to || now < json_integer_value(to))));
    return j;
}

/* Adds the figures of the uses hash (p) to j: uses, returned, discount, left. */
static void offer_figures(json_t *j, const store_pairs *p)
{
    int64_t used = 0, returned = 0, discount = 0;
    json_t *cap = json_object_get(j, "cap");
    for (size_t i = 0; i + 1 < p->n; i += 2) {
        int64_t v = strtoll(p->v[i + 1], NULL, 10);
        if (p->len[i] == 4 && !memcmp(p->v[i], "used", 4))
            used = v;
        else if (p->len[i] == 8 && !memcmp(p->v[i], "returned", 8))
            returned = v;
        else if (p->len[i] == 8 && !memcmp(p->v[i], "discount", 8))
            discount = v;
    }
    json_object_set_new(j, "uses", json_integer(used));
    json_object_set_new(j, "returned", json_integer(returned));
    json_object_set_new(j, "discount", json_integer(discount));
    json_object_set_new(j, "left",
                        json_is_integer(cap)
                            ? json_integer(json_integer_value(cap) - (used > 0 ? used : 0))
                            : json_null());
}

typedef struct offers_read {
    engine *e;
    engine_done_fn *done;
    void *arg;
    json_t *list; /* the offers shown, in name order, filled as their figures come */
    size_t next;  /* the next one to read */
    int one;      /* GET /v1/offers/{name}: answer with the one offer */
} offers_read;

static void offers_answer(offers_read *q, int status, json_t *body)
{
    q->done(q->arg, status, body);
    json_decref(q->list);
    free(q);
}

static void read_next(offers_read *q);

static void on_offer_figures(void *arg, const store_error *err, const store_pairs *p)
{
    offers_read *q = arg;
    json_t *j = json_array_get(q->list, q->next);
    if (err) {
        pc_error e;
        store_error_fail(err, &e);
        offers_answer(q, e.status, pc_error_json(&e));
        return;
    }
    if (q->one && !json_is_true(json_object_get(j, "declared")) && p->n == 0) {
        pc_error e;
        pc_fail(&e, 404, "not_found", "no such offer (declare it with offer \"%s\" {...})",
                json_string_value(json_object_get(j, "offer")));
        offers_answer(q, 404, pc_error_json(&e));
        return;
    }
    offer_figures(j, p);
    q->next++;
    read_next(q);
}

static void read_next(offers_read *q)
{
    json_t *j = json_array_get(q->list, q->next);
    if (!j) {
        json_t *body = q->one ? json_incref(json_array_get(q->list, 0))
                              : json_pack("{s:O}", "offers", q->list);
        if (!body) {
            pc_error e;
            pc_fail(&e, 500, "internal", "out of memory");
            offers_answer(q, 500, pc_error_json(&e));
            return;
        }
        offers_answer(q, 200, body);
        return;
    }
    store_read_offer(q->e->store, q->e->ns, json_string_value(json_object_get(j, "offer")),
                     on_offer_figures, q);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void engine_get_offers(engine *e, const char *name, engine_done_fn *done, void *arg)
{
    offers_read *q = calloc(1, sizeof *q);
    mechset *set = mech_holder_acquire(e->holder);
    json_t *offers = set ? mechset_offers(set) : NULL;
    int64_t now = engine_now(e);
    pc_error err;
    if (!q || !(q->list = json_array())) {
        free(q);
        mechset_unref(set);
        engine_answer_oom(done, arg);
        return;
    }
    q->e = e;
    q->done = done;
    q->arg = arg;
    if (name) {
        q->one = 1;
        if (!pc_valid_name(name)) {
            mechset_unref(set);
            pc_fail(&err, 404, "not_found", "no such offer");
            offers_answer(q, 404, pc_error_json(&err));
            return;
        }
        json_array_append_new(q->list, offer_json(name, json_object_get(offers, name), now));
    } else {
        size_t n = json_object_size(offers), i = 0;
        const char **names = calloc(n ? n : 1, sizeof *names), *k;
        json_t *d;
        json_object_foreach(offers, k, d) {
            if (names)
                names[i++] = k;
        }
        if (names)
            qsort(names, n, sizeof *names, cmp_names);
        for (i = 0; names && i < n; i++)
            json_array_append_new(q->list,
                                  offer_json(names[i], json_object_get(offers, names[i]), now));
        free(names);
    }
    mechset_unref(set);
    read_next(q);
}
