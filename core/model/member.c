/*
 * The in-memory copy of one member that mechanics change during an event:
 * its raw fields, balance moves with their ledger entries, outcomes and
 * effects. Fields stay strings (as Redis keeps them); a member has tens of
 * fields, so a linear scan beats a hash table here (each field keeps its name's
 * hash, so the scan compares integers, and names only when the hashes match). Field names come from
 * fields.c; the JSON view is render.c's.
 */
#include "model/member-internal.h"
#include "punchcard/common.h"

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
    if (!m->id) {
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
        free(m->fields[i].decoded);
    }
    free(m->fields);
    free_entries(m);
    member_clear_outcomes(m);
    free(m->entries);
    free(m->outs);
    json_decref(m->trace);
    json_decref(m->effects);
    free(m->counted);
    free(m->id);
    free(m);
}

/* FNV-1a of a field's name. */
static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static member_field *find_hashed(const member_state *m, const char *name, uint32_t h)
{
    for (size_t i = 0; i < m->nfields; i++)
        if (m->fields[i].hash == h && strcmp(m->fields[i].name, name) == 0)
            return &m->fields[i];
    return NULL;
}

static member_field *find(const member_state *m, const char *name)
{
    return find_hashed(m, name, name_hash(name));
}

static member_field *find_or_add(member_state *m, const char *name)
{
    uint32_t h = name_hash(name);
    member_field *f = find_hashed(m, name, h);
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
    f->cap = 0;
    f->dirty = 0;
    f->hash = h;
    f->decoded = NULL;
    f->has_num = 0;
    m->nfields++;
    return f;
}

/*
 * Gives f the value s (len bytes; NULL deletes it), in place when it fits the
 * old one's allocation: a member's integers change on every event. Drops the
 * decoded copy of the old value. -1 (f unchanged) on out of memory.
 */
static int set_value(member_field *f, const char *s, size_t len)
{
    f->has_num = 0;
    if (f->decoded) {
        free(f->decoded);
        f->decoded = NULL;
    }
    if (!s) {
        free(f->value);
        f->value = NULL;
        f->cap = 0;
        return 0;
    }
    if (!f->value || len >= f->cap) {
        char *v = malloc(len + 1);
        if (!v)
            return -1;
        free(f->value);
        f->value = v;
        f->cap = len + 1;
    }
    memmove(f->value, s, len); /* s may be (part of) the old value */
    f->value[len] = '\0';
    return 0;
}

static int parse_int(const char *s, int64_t *out)
{
    char *end;
    if (!s || !*s)
        return -1;
    long long v = pc_strtoll(s, &end);
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
        const char *v = pairs[i + 1];
        if (!f || set_value(f, v, lens ? strnlen(v, lens[i + 1]) : strlen(v)))
            return -1;
        if (member_field_is(f->name, MEMBER_F_VERSION, NULL) && parse_int(f->value, &m->version))
            return -1;
    }
    return 0;
}

int member_settle(member_state *m, int64_t new_version)
{
    size_t j = 0;
    for (size_t i = 0; i < m->nfields; i++) {
        if (!m->fields[i].value) {
            free(m->fields[i].name);
            free(m->fields[i].decoded);
            continue;
        }
        m->fields[i].dirty = 0;
        m->fields[j++] = m->fields[i];
    }
    m->nfields = j;
    member_clear_outcomes(m);
    free_entries(m);
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
        f->cap = f->value ? strlen(f->value) + 1 : 0;
        f->dirty = 0;
        f->decoded = NULL;
        f->has_num = 0;
        f->hash = m->fields[i].hash;
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

member_field *member_field_of(const member_state *m, const char *name)
{
    return find(m, name);
}

int64_t member_field_int(const member_field *f)
{
    int64_t v = 0;
    if (f && f->has_num) /* its value is that integer written out (never NULL) */
        return f->num;
    if (!f || !f->value || parse_int(f->value, &v))
        return 0;
    return v;
}

int64_t member_get_int(const member_state *m, const char *name)
{
    return member_field_int(find(m, name));
}

member_field *member_set_field(member_state *m, const char *name, const char *value)
{
    member_field *f = find_or_add(m, name);
    if (!f || set_value(f, value, value ? strlen(value) : 0))
        return NULL;
    f->dirty = 1;
    return f;
}

int member_field_set(member_field *f, const char *value)
{
    if (set_value(f, value, value ? strlen(value) : 0))
        return -1;
    f->dirty = 1;
    return 0;
}

int member_set(member_state *m, const char *name, const char *value)
{
    return member_set_field(m, name, value) ? 0 : -1;
}

int member_set_int(member_state *m, const char *name, int64_t value)
{
    member_field *f = find_or_add(m, name);
    return f ? member_field_set_int(f, value) : -1;
}

int member_field_set_int(member_field *f, int64_t value)
{
    char buf[32];
    size_t len = pc_format_int(buf, value);
    buf[len] = '\0';
    return member_field_set_int_text(f, value, buf, len);
}

int member_set_int_text(member_state *m, const char *name, int64_t value, const char *text,
                        size_t len)
{
    member_field *f = find_or_add(m, name);
    return f ? member_field_set_int_text(f, value, text, len) : -1;
}

int member_field_set_int_text(member_field *f, int64_t value, const char *text, size_t len)
{
    if (set_value(f, text, len))
        return -1;
    f->num = value;
    f->has_num = 1;
    f->dirty = 1;
    return 0;
}

/* member_set_int on the field f of that name when the caller found it already (else NULL). */
static int set_int_at(member_state *m, member_field *f, const char *name, int64_t value)
{
    return f ? member_field_set_int(f, value) : member_set_int(m, name, value);
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
    char pfield[MEMBER_FIELD_MAX];
    const char *field; /* "b:<currency>": the tail of "pb:<currency>", built once */
    int64_t bal, nb, pend, np;
    member_entry *e = NULL;
    member_field *fb;

    if (!member_field_name(pfield, sizeof pfield, MEMBER_F_PENDING, mv->currency, NULL)) {
        *err = "bad currency name";
        return -1;
    }
    field = pfield + 1;
    fb = find(m, field); /* stays valid until a field is added */
    bal = member_field_int(fb);
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
        member_outcome *o;
        if (m->nentries == m->capentries) {
            size_t cap = m->capentries ? m->capentries * 2 : 4;
            member_entry *ne = realloc(m->entries, cap * sizeof *ne);
            if (!ne)
                goto oom;
            m->entries = ne;
            m->capentries = cap;
        }
        /* A plain record: written as text by the response, no jansson values. */
        o = member_add_record(m, MO_MOVE, mv->kind ? mv->kind : "stars", mv->mechanic,
                              mv->currency);
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
    /* pb: after b:, which may have been added (and the fields moved) just now. */
    if ((mv->delta && set_int_at(m, fb, field, nb)) ||
        (mv->pending && member_set_int(m, pfield, np)))
        goto oom;
    /* One entry sums an event's moves of a currency by one mechanic and kind. */
    if (__builtin_add_overflow(e->delta, mv->delta, &e->delta) ||
        __builtin_add_overflow(e->pending, mv->pending, &e->pending)) {
        *err = "balance overflow";
        return -1;
    }
    e->balance = nb;
    e->outcome->delta = e->delta;
    e->outcome->balance = nb;
    if (e->pending) { /* once shown, the pending figures stay (as their last values) */
        e->outcome->has_pending = 1;
        e->outcome->pending = e->pending;
        e->outcome->pending_balance = np;
    }
    member_outcome_changed(m);
    *balance_out = nb;
    return 0;
oom:
    *err = "out of memory";
    return -1;
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
        member_remove_outcome(m, e->outcome);
        free(e->mechanic);
        free(e->currency);
    }
    m->nentries = j;
}
