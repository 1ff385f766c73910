/*
 * The engine's own part of every event (builtin.h).
 */
#include "builtin.h"
#include "offers.h"
#include "model/lots-internal.h"

#include <stdio.h>
#include <string.h>

int builtin_reserved_type(const char *type)
{
    return !strcmp(type, "tick") || !strcmp(type, "profile") || !strcmp(type, "redeem") ||
           !strcmp(type, "reverse") || !strcmp(type, "codes");
}

static int valid_birthday(const char *s)
{
    int y, mo, d;
    char tail;
    if (sscanf(s, "%4d-%2d-%2d%c", &y, &mo, &d, &tail) == 3 && strlen(s) == 10)
        return mo >= 1 && mo <= 12 && d >= 1 && d <= 31;
    if (sscanf(s, "%2d-%2d%c", &mo, &d, &tail) == 2 && strlen(s) == 5)
        return mo >= 1 && mo <= 12 && d >= 1 && d <= 31;
    return 0;
}

/* profile: {"attributes": {name: string | null}, "tier_floor": name | null} */
static int apply_profile(const pc_event *ev, member_state *m, const mechset *set, pc_error *err)
{
    json_t *attrs = json_object_get(pc_event_data(ev), "attributes"), *v;
    json_t *floor = json_object_get(pc_event_data(ev), "tier_floor");
    const char *k;

    json_object_foreach(attrs, k, v) {
        if (json_is_null(v)) {
            if (member_set_attr(m, k, NULL))
                return pc_fail(err, 500, "internal", "out of memory");
            continue;
        }
        if (!strcmp(k, "tz") && !pc_tz_valid(json_string_value(v)))
            return pc_fail(err, 400, "bad_request",
                           "attribute tz must be an IANA time zone like Europe/Paris");
        if (!strcmp(k, "birthday") && !valid_birthday(json_string_value(v)))
            return pc_fail(err, 400, "bad_request",
                           "attribute birthday must be YYYY-MM-DD or MM-DD");
        if (member_set_attr(m, k, json_string_value(v)))
            return pc_fail(err, 500, "internal", "out of memory");
    }
    if (floor) {
        if (json_is_null(floor)) {
            member_set_tier_floor(m, NULL);
        } else {
            const char *t = json_string_value(floor), *cur = member_tier(m);
            if (mechset_tier_rank(set, t) < 0)
                return pc_fail(err, 400, "bad_request",
                               "tier_floor '%s' is not one of the declared tiers", t);
            if (member_set_tier_floor(m, t))
                return pc_fail(err, 500, "internal", "out of memory");
            /* The floor takes effect at once. */
            if (!cur || mechset_tier_rank(set, cur) < mechset_tier_rank(set, t)) {
                if (!member_add_outcome(m, "tier_floor",
                                        json_pack("{s:s, s:s, s:o}", "kind", "tier", "tier", t,
                                                  "from", cur ? json_string(cur) : json_null())) ||
                    member_set_tier(m, t))
                    return pc_fail(err, 500, "internal", "out of memory");
            }
        }
    }
    return 0;
}

/* What the reversed event earned per currency: its positive stars outcomes, pending included. */
static json_t *earned_by(json_t *original)
{
    json_t *earned = json_object(), *o;
    size_t i;
    json_array_foreach(json_object_get(original, "outcomes"), i, o) {
        const char *kind = json_string_value(json_object_get(o, "kind"));
        const char *cur = json_string_value(json_object_get(o, "currency"));
        json_int_t d = json_integer_value(json_object_get(o, "delta")) +
                       json_integer_value(json_object_get(o, "pending"));
        if (!kind || strcmp(kind, "stars") || !cur || d <= 0)
            continue;
        json_object_set_new(earned, cur,
                            json_integer(json_integer_value(json_object_get(earned, cur)) + d));
    }
    return earned;
}

/*
 * What some items of the reversed event earned: the event's mechanics run
 * again, on a scratch copy of the member, on an event of the same type and
 * time whose data holds just those items; its earnings per currency are the
 * answer. Mechanics that wait on global operations cannot be re-run so: the
 * reversal is refused, and an amount can be reversed instead.
 */
static json_t *items_earned(const pc_event *ev, member_state *m, const mechset *set,
                            json_t *original, json_t *items, pc_error *err)
{
    const char *type = json_string_value(json_object_get(original, "type"));
    const char *at = json_string_value(json_object_get(original, "at"));
    pc_event sub = {0};
    member_state *scratch;
    mech_run *run;
    json_t *per = NULL;
    int rc;

    if (!type || !at || pc_time_parse(at, &sub.at_ms)) {
        pc_fail(
            err, 422, "nothing_to_reverse",
            "the reversed event is no longer known (items are reversed within the dedupe window)");
        return NULL;
    }
    snprintf(sub.id, sizeof sub.id, "%s", ev->id);
    snprintf(sub.type, sizeof sub.type, "%s", type);
    snprintf(sub.member, sizeof sub.member, "%s", ev->member);
    sub.at_given = 1;
    sub.data = json_pack("{s:O}", "items", items);
    scratch = member_clone(m);
    run = scratch ? mech_run_start((mechset *)set, &sub, scratch) : NULL;
    if (!run) {
        pc_fail(err, 500, "internal", "out of memory");
        goto out;
    }
    rc = mech_run_step(run, err);
    if (rc == MECH_WAIT) {
        pc_fail(err, 422, "rejected",
                "the mechanics of %s use global operations and cannot be re-run for some items; "
                "reverse an amount instead",
                type);
        goto out;
    }
    if (rc != MECH_DONE)
        goto out;
    per = json_object();
    for (size_t i = 0; i < scratch->nentries; i++) {
        const member_entry *en = &scratch->entries[i];
        json_int_t d = en->delta + en->pending;
        if (en->kind || d <= 0)
            continue;
        json_object_set_new(
            per, en->currency,
            json_integer(json_integer_value(json_object_get(per, en->currency)) + d));
    }
out:
    mech_run_free(run);
    member_free(scratch);
    json_decref(sub.data);
    return per;
}

int builtin_before(const pc_event *ev, member_state *m, const mechset *set, json_t *original,
                   int gives_codes, pc_error *err)
{
    const char *e = NULL;
    int64_t wk = member_wake(m);

    /* Due lots first: on time, whatever the event. */
    if (lots_tick(m, ev->at_ms, &e))
        return pc_fail(err, 500, "internal", "%s", e);
    if (wk && wk <= ev->at_ms && member_set_wake(m, 0))
        return pc_fail(err, 500, "internal", "out of memory");
    if (!strcmp(ev->type, "profile"))
        return apply_profile(ev, m, set, err);
    if (!strcmp(ev->type, "codes"))
        return offers_add_codes(ev, m, set, err);
    if (!strcmp(ev->type, "reverse")) {
        const char *of = json_string_value(json_object_get(pc_event_data(ev), "event"));
        const char *cur = json_string_value(json_object_get(pc_event_data(ev), "currency"));
        json_int_t amount = json_integer_value(json_object_get(pc_event_data(ev), "amount"));
        json_t *items = json_object_get(pc_event_data(ev), "items");
        int64_t reversed = 0;
        json_t *earned = earned_by(original);
        int rc = 0;
        if (json_is_array(items)) {
            /* Some items of the order: what those items earned, currency by currency. */
            json_t *per = items_earned(ev, m, set, original, items, err), *v;
            const char *c;
            if (!per) {
                json_decref(earned);
                return -1;
            }
            json_object_foreach(per, c, v) {
                int64_t r = 0;
                if (rc == 0 && json_integer_value(v) > 0)
                    rc = lots_reverse(m, of, c, json_integer_value(v), earned, ev->at_ms, &r, &e);
                reversed += r;
            }
            json_decref(per);
        } else {
            rc = lots_reverse(m, of, cur, amount, earned, ev->at_ms, &reversed, &e);
        }
        json_decref(earned);
        if (rc)
            return pc_fail(err, 500, "internal", "%s", e);
        if (reversed == 0 && !gives_codes)
            return pc_fail(err, 422, "nothing_to_reverse",
                           "event %s of %s earned nothing%s%s that is left to reverse", of, m->id,
                           cur ? " in " : "", cur ? cur : "");
    }
    return 0;
}

static const char *stats_kind(const member_entry *en)
{
    if (!en->kind)
        return en->delta + en->pending >= 0 ? "issued" : "redeemed";
    if (!strcmp(en->kind, "redeem"))
        return "redeemed";
    if (!strcmp(en->kind, "expire"))
        return "expired";
    if (!strcmp(en->kind, "reverse"))
        return "reversed";
    return NULL; /* a release moves pending to available: counted when issued */
}

/*
 * The offers' figures: a code's use ("discount" outcome with its offer) and
 * a use a reversal gave back to the cap ("code_returned"), as moves of the
 * pseudo-currency "@<offer>" (no currency name starts with '@'; the reader
 * shows them apart): uses, discount; returned, discount_returned.
 */
static void offer_moves(const member_state *m, builtin_move_fn *fn, void *arg)
{
    for (size_t i = 0; i < m->nouts; i++) {
        const json_t *o = m->outs[i]->obj;
        const char *kind, *offer;
        json_int_t off;
        char cur[PC_TYPE_MAX + 2];
        int use;
        if (m->outs[i]->type != MO_JSON) /* a move or a counter: never a discount */
            continue;
        kind = json_string_value(json_object_get(o, "kind"));
        offer = json_string_value(json_object_get(o, "offer"));
        off = json_integer_value(json_object_get(o, "off"));
        if (!kind || !offer || !pc_valid_name(offer))
            continue;
        use = !strcmp(kind, "discount");
        if (!use && !(!strcmp(kind, "code_returned") && json_is_true(json_object_get(o, "cap"))))
            continue;
        snprintf(cur, sizeof cur, "@%s", offer);
        fn(arg, cur, use ? "uses" : "returned", 1);
        if (off > 0)
            fn(arg, cur, use ? "discount" : "discount_returned", off);
    }
}

/*
 * The money discounts granted, whatever gave them (an offer's code or a
 * mechanic's discount(p, {of = total})): every discount outcome counted, its
 * `off` (when it has one) summed, as moves of the pseudo-currency
 * "%discounts" (count, granted), and what whole reversals gave back (returns,
 * returned); the reader (query.c) shows them apart.
 */
static void discount_moves(const member_state *m, builtin_move_fn *fn, void *arg)
{
    for (size_t i = 0; i < m->nouts; i++) {
        const json_t *o = m->outs[i]->obj;
        const char *kind;
        json_int_t off;
        int back;
        if (m->outs[i]->type != MO_JSON) /* a move or a counter: never a discount */
            continue;
        kind = json_string_value(json_object_get(o, "kind"));
        off = json_integer_value(json_object_get(o, "off"));
        if (!kind)
            continue;
        /* Given back by a whole reversal: a plain discount's money, or a code's use the
         * offer's cap took back (once per used event, offer_return.lua). */
        back = !strcmp(kind, "discount_returned") ||
               (!strcmp(kind, "code_returned") && json_is_true(json_object_get(o, "cap")));
        if (!back && strcmp(kind, "discount"))
            continue;
        fn(arg, "%discounts", back ? "returns" : "count", 1);
        if (off > 0)
            fn(arg, "%discounts", back ? "returned" : "granted", off);
    }
}

void builtin_figures(const member_state *m, builtin_move_fn *fn, void *arg)
{
    /* Issued, redeemed, expired, reversed per currency. */
    for (size_t i = 0; i < m->nentries; i++) {
        const member_entry *en = &m->entries[i];
        const char *k = stats_kind(en);
        int64_t amount = en->delta + en->pending;
        if (k && amount)
            fn(arg, en->currency, k, amount < 0 ? -amount : amount);
    }
    offer_moves(m, fn, arg);
    discount_moves(m, fn, arg);
}

int builtin_after(const pc_event *ev, member_state *m, int figures, pc_error *err)
{
    int64_t due, bal;
    const char *e = NULL;

    if (!strcmp(ev->type, "redeem")) {
        const char *cur = json_string_value(json_object_get(pc_event_data(ev), "currency"));
        json_int_t amount = json_integer_value(json_object_get(pc_event_data(ev), "amount"));
        const char *reason = json_string_value(json_object_get(pc_event_data(ev), "reason"));
        if (lots_spend(m, "redeem", "redeem", cur, amount, &bal, &e))
            return pc_fail(err, 422,
                           strstr(e, "insufficient") ? "insufficient_balance" : "internal",
                           "cannot redeem %lld %s: %s", (long long)amount, cur, e);
        for (size_t i = 0; i < m->nentries; i++)
            if (m->entries[i].kind && !strcmp(m->entries[i].kind, "redeem") && reason)
                member_outcome_set(m, m->entries[i].outcome, "reason", json_string(reason));
    }
    /* The member's timeline (m.joined_at, m.last_event_at, m:last): the sweeper's tick is not
     * the member's doing. Stamped after the mechanics, so they see the event before this one. */
    if (strcmp(ev->type, "tick") && member_stamp_event(m, ev->type, ev->at_ms))
        return pc_fail(err, 500, "internal", "out of memory");
    /* The next due time, for the sweeper that expires lots of silent members. */
    due = lots_next_due(m);
    if (due != member_due(m)) {
        json_t *fx = figures ? json_object() : NULL;
        if (fx) {
            json_object_set_new(fx, "op", json_string_nocheck("schedule"));
            json_object_set_new(fx, "due", json_integer(due));
        }
        if (member_set_due(m, due) || (figures && member_add_effect(m, fx)))
            return pc_fail(err, 500, "internal", "out of memory");
    }
    /* The program's figures (issued, redeemed... per currency and day) are not queued: the
     * engine writes builtin_figures() of the committed member (effects_figures()). */
    return 0;
}
