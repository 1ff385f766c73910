/*
 * The in-memory copy of one member that mechanics change during an event.
 * Fields stay strings (as Redis keeps them); a member has tens of fields, so a
 * linear scan beats a hash table here.
 */
#include "model/member-internal.h"
#include "punchcard/common.h"

#include "model/lots-internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

member_state *member_new(const char *id)
{
    member_state *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->id = strdup(id);
    m->outcomes = json_array();
    if (!m->id || !m->outcomes) {
        member_free(m);
        return NULL;
    }
    return m;
}

static void free_entries(member_state *m)
{
    for (size_t i = 0; i < m->nentries; i++) {
        free(m->entries[i].mechanic);
        free(m->entries[i].currency);
    }
    m->nentries = 0;
}

void member_free(member_state *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nfields; i++) {
        free(m->fields[i].name);
        free(m->fields[i].value);
    }
    free(m->fields);
    free_entries(m);
    free(m->entries);
    json_decref(m->outcomes);
    json_decref(m->trace);
    json_decref(m->effects);
    free(m->counted);
    free(m->id);
    free(m);
}

static member_field *find(const member_state *m, const char *name)
{
    for (size_t i = 0; i < m->nfields; i++)
        if (strcmp(m->fields[i].name, name) == 0)
            return &m->fields[i];
    return NULL;
}

static member_field *find_or_add(member_state *m, const char *name)
{
    member_field *f = find(m, name);
    if (f)
        return f;
    if (m->nfields == m->capfields) {
        size_t cap = m->capfields ? m->capfields * 2 : 16;
        member_field *nf = realloc(m->fields, cap * sizeof *nf);
        if (!nf)
            return NULL;
        m->fields = nf;
        m->capfields = cap;
    }
    f = &m->fields[m->nfields];
    f->name = strdup(name);
    if (!f->name)
        return NULL;
    f->value = NULL;
    f->dirty = 0;
    m->nfields++;
    return f;
}

static int parse_int(const char *s, int64_t *out)
{
    char *end;
    if (!s || !*s)
        return -1;
    long long v = strtoll(s, &end, 10);
    if (*end)
        return -1;
    *out = v;
    return 0;
}

int member_load_pairs(member_state *m, size_t n, const char *const *pairs, const size_t *lens)
{
    if (n % 2)
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        member_field *f = find_or_add(m, pairs[i]);
        if (!f)
            return -1;
        free(f->value);
        f->value = strndup(pairs[i + 1], lens ? lens[i + 1] : strlen(pairs[i + 1]));
        if (!f->value)
            return -1;
        if (strcmp(f->name, "v") == 0 && parse_int(f->value, &m->version))
            return -1;
    }
    return 0;
}

int member_settle(member_state *m, int64_t new_version)
{
    size_t j = 0;
    json_t *fresh = json_array();
    if (!fresh)
        return -1;
    for (size_t i = 0; i < m->nfields; i++) {
        if (!m->fields[i].value) {
            free(m->fields[i].name);
            continue;
        }
        m->fields[i].dirty = 0;
        m->fields[j++] = m->fields[i];
    }
    m->nfields = j;
    free_entries(m);
    /* A new array: the response that was built from the old one may still be in use. */
    json_decref(m->outcomes);
    m->outcomes = fresh;
    free(m->counted);
    m->counted = NULL;
    json_decref(m->effects);
    m->effects = NULL;
    m->version = new_version;
    return 0;
}

int member_add_effect(member_state *m, json_t *effect)
{
    if (!effect)
        return -1;
    if (!m->effects && !(m->effects = json_array())) {
        json_decref(effect);
        return -1;
    }
    return json_array_append_new(m->effects, effect);
}

member_state *member_clone(const member_state *m)
{
    member_state *c = member_new(m->id);
    if (!c)
        return NULL;
    c->fields = calloc(m->nfields ? m->nfields : 1, sizeof *c->fields);
    if (!c->fields)
        goto err;
    c->capfields = m->nfields ? m->nfields : 1;
    for (size_t i = 0; i < m->nfields; i++) {
        if (!m->fields[i].value)
            continue;
        member_field *f = &c->fields[c->nfields];
        f->name = strdup(m->fields[i].name);
        f->value = strdup(m->fields[i].value);
        f->dirty = 0;
        c->nfields++;
        if (!f->name || !f->value)
            goto err;
    }
    c->version = m->version;
    return c;
err:
    member_free(c);
    return NULL;
}

const char *member_get(const member_state *m, const char *name)
{
    member_field *f = find(m, name);
    return f ? f->value : NULL;
}

int64_t member_get_int(const member_state *m, const char *name)
{
    int64_t v = 0;
    const char *s = member_get(m, name);
    if (s && parse_int(s, &v))
        return 0;
    return v;
}

int member_set(member_state *m, const char *name, const char *value)
{
    member_field *f = find_or_add(m, name);
    char *copy = NULL;
    if (!f)
        return -1;
    if (value && !(copy = strdup(value)))
        return -1;
    free(f->value);
    f->value = copy;
    f->dirty = 1;
    return 0;
}

int member_set_int(member_state *m, const char *name, int64_t value)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, value);
    return member_set(m, name, buf);
}

int member_add_balance(member_state *m, const char *mechanic, const char *currency, int64_t delta,
                       int64_t *balance_out, const char **err)
{
    member_move mv = {.mechanic = mechanic, .currency = currency, .delta = delta};
    return member_move_balance(m, &mv, balance_out, err);
}

static int same_kind(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

int member_move_balance(member_state *m, const member_move *mv, int64_t *balance_out,
                        const char **err)
{
    char field[160], pfield[160];
    int64_t bal, nb, pend, np;
    member_entry *e = NULL;

    snprintf(field, sizeof field, "b:%s", mv->currency);
    snprintf(pfield, sizeof pfield, "pb:%s", mv->currency);
    bal = member_get_int(m, field);
    pend = member_get_int(m, pfield);
    if (__builtin_add_overflow(bal, mv->delta, &nb) ||
        __builtin_add_overflow(pend, mv->pending, &np)) {
        *err = "balance overflow";
        return -1;
    }
    if ((nb < 0 && mv->delta < 0 && !mv->allow_negative) || np < 0) {
        *err = "insufficient balance";
        return -1;
    }
    for (size_t i = 0; i < m->nentries; i++)
        if (strcmp(m->entries[i].mechanic, mv->mechanic) == 0 &&
            strcmp(m->entries[i].currency, mv->currency) == 0 &&
            same_kind(m->entries[i].kind, mv->kind))
            e = &m->entries[i];
    if (!e) {
        json_t *o;
        if (m->nentries == m->capentries) {
            size_t cap = m->capentries ? m->capentries * 2 : 4;
            member_entry *ne = realloc(m->entries, cap * sizeof *ne);
            if (!ne)
                goto oom;
            m->entries = ne;
            m->capentries = cap;
        }
        o = member_add_outcome(m, mv->mechanic,
                               json_pack("{s:s, s:s}", "kind", mv->kind ? mv->kind : "stars",
                                         "currency", mv->currency));
        if (!o)
            goto oom;
        e = &m->entries[m->nentries++];
        memset(e, 0, sizeof *e);
        e->mechanic = strdup(mv->mechanic);
        e->currency = strdup(mv->currency);
        e->kind = mv->kind;
        e->outcome = o;
        if (!e->mechanic || !e->currency)
            goto oom;
    }
    if ((mv->delta && member_set_int(m, field, nb)) ||
        (mv->pending && member_set_int(m, pfield, np)))
        goto oom;
    e->delta += mv->delta;
    e->pending += mv->pending;
    e->balance = nb;
    json_object_set_new(e->outcome, "delta", json_integer(e->delta));
    json_object_set_new(e->outcome, "balance", json_integer(nb));
    if (e->pending) {
        json_object_set_new(e->outcome, "pending", json_integer(e->pending));
        json_object_set_new(e->outcome, "pending_balance", json_integer(np));
    }
    *balance_out = nb;
    return 0;
oom:
    *err = "out of memory";
    return -1;
}

json_t *member_add_outcome(member_state *m, const char *mechanic, json_t *outcome)
{
    /* "mechanic" first, as readers expect it; jansson keeps insertion order. */
    json_t *o = outcome ? json_pack("{s:s}", "mechanic", mechanic) : NULL;
    if (!o) {
        json_decref(outcome);
        return NULL;
    }
    json_object_update(o, outcome);
    json_decref(outcome);
    if (json_array_append_new(m->outcomes, o))
        return NULL;
    return o;
}

int member_count_once(member_state *m, const char *name)
{
    size_t n = strlen(name);
    const char *p = m->counted;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        if ((size_t)(nl - p) == n && memcmp(p, name, n) == 0)
            return 0;
        p = nl + 1;
    }
    size_t old = m->counted ? strlen(m->counted) : 0;
    char *c = realloc(m->counted, old + n + 2);
    if (!c)
        return -1;
    memcpy(c + old, name, n);
    c[old + n] = '\n';
    c[old + n + 1] = '\0';
    m->counted = c;
    return 1;
}

void member_finish(member_state *m)
{
    size_t j = 0;
    for (size_t i = 0; i < m->nentries; i++) {
        member_entry *e = &m->entries[i];
        if (e->delta != 0 || e->pending != 0) {
            m->entries[j++] = *e;
            continue;
        }
        for (size_t k = 0; k < json_array_size(m->outcomes); k++)
            if (json_array_get(m->outcomes, k) == e->outcome) {
                json_array_remove(m->outcomes, k);
                break;
            }
        free(e->mechanic);
        free(e->currency);
    }
    m->nentries = j;
}

/* The named object in parent, created empty when missing. */
static json_t *child(json_t *parent, const char *name)
{
    json_t *o = json_object_get(parent, name);
    if (!o) {
        o = json_object();
        json_object_set_new(parent, name, o);
    }
    return o;
}

static int64_t int_of(const char *s)
{
    return s ? strtoll(s, NULL, 10) : 0;
}

static void member_game_json(const member_state *m, json_t *badges, json_t *streaks)
{
    static const struct {
        const char *suffix, *key;
    } sfields[] = {{"len", "length"}, {"best", "best"}, {"frz", "freezes"}};
    for (size_t i = 0; i < m->nfields; i++) {
        const member_field *f = &m->fields[i];
        const char *n = f->name, *colon;
        char name[80];
        if (!f->value)
            continue;
        if (!strncmp(n, "s:", 2) && (colon = strrchr(n + 2, ':')) &&
            (size_t)(colon - n - 2) < sizeof name) {
            json_t *s;
            snprintf(name, sizeof name, "%.*s", (int)(colon - n - 2), n + 2);
            s = child(streaks, name);
            for (size_t k = 0; k < sizeof sfields / sizeof *sfields; k++)
                if (!strcmp(colon + 1, sfields[k].suffix))
                    json_object_set_new(s, sfields[k].key, json_integer(int_of(f->value)));
            if (!strcmp(colon + 1, "last")) {
                char ts[32];
                pc_time_format(int_of(f->value), ts, sizeof ts);
                json_object_set_new(s, "last_at", json_string(ts));
            }
        } else if (!strncmp(n, "gt:", 3)) {
            char ts[32];
            pc_time_format(int_of(f->value), ts, sizeof ts);
            json_object_set_new(child(badges, n + 3), "level_at", json_string(ts));
        } else if (n[0] == 'g' && n[2] == ':' && (n[1] == 'l' || n[1] == 'p' || n[1] == 'n')) {
            static const char *const keys[] = {"level", "progress", "next"};
            const char *key = keys[n[1] == 'l' ? 0 : n[1] == 'p' ? 1 : 2];
            json_object_set_new(child(badges, n + 3), key, json_integer(int_of(f->value)));
        }
    }
}

json_t *member_to_json(const member_state *m)
{
    json_t *balances = json_object(), *badges = json_object(), *counters = json_object();
    json_t *prizes = json_object(), *streaks = json_object(), *attrs = json_object();
    const char *tier = member_get(m, "t");
    int64_t v;

    for (size_t i = 0; i < m->nfields; i++) {
        const member_field *f = &m->fields[i];
        const char *n = f->name;
        if (!f->value || strlen(n) < 3 || n[1] != ':')
            continue;
        switch (n[0]) {
        case 'b':
            json_object_set_new(balances, n + 2, json_integer(parse_int(f->value, &v) ? 0 : v));
            break;
        case 'c':
            json_object_set_new(counters, n + 2, json_integer(parse_int(f->value, &v) ? 0 : v));
            break;
        case 'p':
            json_object_set_new(prizes, n + 2, json_integer(parse_int(f->value, &v) ? 0 : v));
            break;
        case 'g': {
            char ts[32];
            if (parse_int(f->value, &v))
                v = 0;
            pc_time_format(v, ts, sizeof ts);
            json_object_set_new(badges, n + 2, json_pack("{s:s}", "awarded_at", ts));
            break;
        }
        case 'a':
            json_object_set_new(attrs, n + 2, json_string(f->value));
            break;
        default:
            break;
        }
    }
    json_t *pending = json_object();
    for (size_t i = 0; i < m->nfields; i++)
        if (m->fields[i].value && !strncmp(m->fields[i].name, "pb:", 3) &&
            !parse_int(m->fields[i].value, &v) && v)
            json_object_set_new(pending, m->fields[i].name + 3, json_integer(v));
    const char *floor = member_get(m, "tf");
    member_game_json(m, badges, streaks); /* streaks, badge levels (game.c) */
    return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I}", "member",
                     m->id, "balances", balances, "pending", pending, "expiring", lots_summary(m),
                     "badges", badges, "streaks", streaks, "counters", counters, "prizes", prizes,
                     "tier", tier ? json_string(tier) : json_null(), "tier_floor",
                     floor ? json_string(floor) : json_null(), "attributes", attrs, "version",
                     (json_int_t)m->version);
}
