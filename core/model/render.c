/*
 * The member as GET /v1/members/{id} shows it (member_to_json): every field
 * of the hash, recognised by its kind (fields.c), placed in its section.
 */
#include "model/lots-internal.h"
#include "model/member-internal.h"
#include "model/offer-internal.h"
#include "punchcard/common.h"

#include <stdlib.h>
#include <string.h>

/*
 * Sets parent[name] = v (stolen), or counts a failure (out of memory) in *bad:
 * a member rendered with a field missing would look like another member.
 */
static void put(json_t *parent, const char *name, json_t *v, int *bad)
{
    if (json_object_set_new(parent, name, v))
        *bad = 1;
}

/* The named object in parent, created empty when missing; NULL (and *bad) on out of memory. */
static json_t *child(json_t *parent, const char *name, int *bad)
{
    json_t *o = json_object_get(parent, name);
    if (!o) {
        o = json_object();
        put(parent, name, o, bad);
        o = json_object_get(parent, name);
    }
    return o;
}

/* An integer field's value; 0 when it is not a whole number. */
static int64_t strict_int(const char *s)
{
    char *end;
    long long v;
    if (!*s)
        return 0;
    v = strtoll(s, &end, 10);
    return *end ? 0 : v;
}

static int64_t int_of(const char *s)
{
    return s ? strtoll(s, NULL, 10) : 0;
}

static json_t *time_json(int64_t ms)
{
    char ts[32];
    pc_time_format(ms, ts, sizeof ts);
    return json_string(ts);
}

/* Streaks and badge levels, after the plain sections (their badges exist by then). */
static void game_json(const member_state *m, json_t *badges, json_t *streaks, int *bad)
{
    static const char *const streak_keys[] = {[MEMBER_STREAK_LEN] = "length",
                                              [MEMBER_STREAK_BEST] = "best",
                                              [MEMBER_STREAK_FREEZES] = "freezes"};
    static const char *const level_keys[] = {[MEMBER_LEVEL] = "level",
                                             [MEMBER_LEVEL_PROGRESS] = "progress",
                                             [MEMBER_LEVEL_NEXT] = "next"};
    for (size_t i = 0; i < m->nfields; i++) {
        const member_field *f = &m->fields[i];
        member_field_ref r;
        char name[80];
        enum member_kind k;
        json_t *o;
        if (!f->value)
            continue;
        k = member_field_kind(f->name, &r);
        if (k < MEMBER_F_STREAK_LEN || k > MEMBER_F_LEVEL_AT || r.name_len >= sizeof name)
            continue;
        snprintf(name, sizeof name, "%.*s", (int)r.name_len, r.name);
        if (k <= MEMBER_F_STREAK_FREEZE_MONTH) {
            int part = (int)(k - MEMBER_F_STREAK_LEN);
            o = child(streaks, name, bad);
            if (part == MEMBER_STREAK_LAST)
                put(o, "last_at", time_json(int_of(f->value)), bad);
            else if (part != MEMBER_STREAK_FREEZE_MONTH)
                put(o, streak_keys[part], json_integer(int_of(f->value)), bad);
        } else {
            int part = (int)(k - MEMBER_F_LEVEL);
            o = child(badges, name, bad);
            if (part == MEMBER_LEVEL_AT)
                put(o, "level_at", time_json(int_of(f->value)), bad);
            else
                put(o, level_keys[part], json_integer(int_of(f->value)), bad);
        }
    }
}

/*
 * The member's codes, when they have any: "offers" {offer: {"used_at", "event"}}, their last
 * counted use of each once-per-member offer, and "codes" {CODE: {"offer", "issued_at",
 * "used_at", "event"}}, their personal codes (core/model/offer.c). 0, or -1 on out of memory.
 */
static int offers_json(const member_state *m, json_t *out)
{
    json_t *offers = NULL, *codes = NULL;
    int bad = 0;
    for (size_t i = 0; i < m->nfields && !bad; i++) {
        const member_field *f = &m->fields[i];
        member_field_ref r;
        char name[MEMBER_FIELD_MAX], ev[PC_ID_MAX + 1];
        int64_t at;
        member_code c;
        if (!f->value)
            continue;
        switch (member_field_kind(f->name, &r)) {
        case MEMBER_F_OFFER_USE:
            pc_copy(name, sizeof name, r.name);
            if (!offers && !(offers = json_object()))
                bad = 1;
            else if (member_offer_use(m, name, &at, ev) == 0)
                put(offers, name, json_pack("{s:o, s:s}", "used_at", time_json(at), "event", ev),
                    &bad);
            break;
        case MEMBER_F_CODE:
            pc_copy(name, sizeof name, r.name);
            if (!codes && !(codes = json_object()))
                bad = 1;
            else if (member_code_get(m, name, &c) == 0)
                put(codes, name,
                    json_pack("{s:s, s:o, s:o, s:o}", "offer", c.offer, "issued_at",
                              time_json(c.issued_ms), "used_at",
                              c.used_ms ? time_json(c.used_ms) : json_null(), "event",
                              c.used_ms ? json_string(c.event) : json_null()),
                    &bad);
            break;
        default:
            break;
        }
    }
    if (!bad && offers)
        bad = json_object_set(out, "offers", offers) != 0;
    if (!bad && codes)
        bad = json_object_set(out, "codes", codes) != 0;
    json_decref(offers);
    json_decref(codes);
    return bad ? -1 : 0;
}

json_t *member_to_json(const member_state *m)
{
    json_t *balances = json_object(), *badges = json_object(), *counters = json_object();
    json_t *prizes = json_object(), *streaks = json_object(), *attrs = json_object();
    json_t *pending = json_object();
    const char *tier = member_tier(m), *floor = member_tier_floor(m);
    int bad = !balances || !badges || !counters || !prizes || !streaks || !attrs || !pending;

    for (size_t i = 0; i < m->nfields && !bad; i++) {
        const member_field *f = &m->fields[i];
        const char *name = NULL;
        json_t *section = NULL, *v = NULL;
        member_field_ref r;
        if (!f->value)
            continue;
        switch (member_field_kind(f->name, &r)) {
        case MEMBER_F_BALANCE:
            section = balances;
            break;
        case MEMBER_F_COUNTER:
            section = counters;
            break;
        case MEMBER_F_PRIZE:
            section = prizes;
            break;
        case MEMBER_F_BADGE:
            if (!(v = json_pack("{s:o}", "awarded_at", time_json(strict_int(f->value))))) {
                bad = 1;
                continue;
            }
            section = badges;
            break;
        case MEMBER_F_ATTR:
            if (!(v = json_string(f->value))) {
                bad = 1;
                continue;
            }
            section = attrs;
            break;
        default:
            continue;
        }
        name = r.name; /* the rest of the field: these kinds have no suffix */
        put(section, name, v ? v : json_integer(strict_int(f->value)), &bad);
    }
    /* Pending balances after the others, and only those not zero. */
    for (size_t i = 0; i < m->nfields && !bad; i++) {
        const member_field *f = &m->fields[i];
        member_field_ref r;
        int64_t v;
        if (f->value && member_field_is(f->name, MEMBER_F_PENDING, &r) &&
            (v = strict_int(f->value)) != 0)
            put(pending, r.name, json_integer(v), &bad);
    }
    if (!bad)
        game_json(m, badges, streaks, &bad);
    if (bad) {
        json_decref(balances);
        json_decref(badges);
        json_decref(counters);
        json_decref(prizes);
        json_decref(streaks);
        json_decref(attrs);
        json_decref(pending);
        return NULL;
    }
    int64_t joined = member_joined_at(m), last = member_last_event_at(m), due = member_due(m);
    json_t *out =
        json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I}",
                  "member", m->id, "balances", balances, "pending", pending, "expiring",
                  lots_summary(m), "badges", badges, "streaks", streaks, "counters", counters,
                  "prizes", prizes, "tier", tier ? json_string(tier) : json_null(), "tier_floor",
                  floor ? json_string(floor) : json_null(), "attributes", attrs, "joined_at",
                  joined ? time_json(joined) : json_null(), "last_event_at",
                  last ? time_json(last) : json_null(), "next_wake_at",
                  due ? time_json(due) : json_null(), "version", (json_int_t)m->version);
    if (out && offers_json(m, out)) {
        json_decref(out);
        return NULL;
    }
    return out;
}
