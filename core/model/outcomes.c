/*
 * The outcomes of the event being decided (member-internal.h). A balance move
 * and a counter, which nearly every event makes, are plain records: written
 * as the response's text straight, without jansson values made, walked and
 * freed per event; they become jansson objects only where a slow path reads
 * outcomes as values (a dry run's response, a webhook, a test). Every other
 * kind is kept as its jansson object.
 */
#include "common/jsonw-internal.h"
#include "model/member-internal.h"

#include <stdlib.h>
#include <string.h>

void member_outcome_changed(member_state *m)
{
    if (m->outs_json) {
        json_decref(m->outs_json);
        m->outs_json = NULL;
    }
}

static void outcome_free(member_outcome *o)
{
    if (o) {
        json_decref(o->obj);
        free(o);
    }
}

/* Appends o (not freed on failure): 0, or -1 when out of memory. */
static int push(member_state *m, member_outcome *o)
{
    if (m->nouts == m->capouts) {
        size_t cap = m->capouts ? m->capouts * 2 : 4;
        member_outcome **n = realloc(m->outs, cap * sizeof *n);
        if (!n)
            return -1;
        m->outs = n;
        m->capouts = cap;
    }
    m->outs[m->nouts++] = o;
    member_outcome_changed(m);
    return 0;
}

json_t *member_outcome_new(const char *mechanic)
{
    json_t *o = json_object();
    if (o && json_object_set_new_nocheck(o, "mechanic", json_string(mechanic))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *member_append_outcome(member_state *m, json_t *o)
{
    member_outcome *r;
    if (!o)
        return NULL;
    r = calloc(1, sizeof *r);
    if (!r || push(m, r)) {
        free(r);
        json_decref(o);
        return NULL;
    }
    r->type = MO_JSON;
    r->obj = o;
    return o;
}

json_t *member_add_outcome(member_state *m, const char *mechanic, json_t *outcome)
{
    /* "mechanic" first, as readers expect it; jansson keeps insertion order. */
    json_t *o = outcome ? json_object() : NULL;
    if (!o || json_object_set_new(o, "mechanic", json_string(mechanic)) ||
        json_object_update(o, outcome)) {
        json_decref(o);
        json_decref(outcome);
        return NULL;
    }
    json_decref(outcome);
    return member_append_outcome(m, o);
}

member_outcome *member_add_record(member_state *m, enum member_outcome_type type, const char *kind,
                                  const char *mechanic, const char *name)
{
    size_t lm = strlen(mechanic), ln = strlen(name);
    member_outcome *o = malloc(sizeof *o + lm + ln + 2);
    if (!o)
        return NULL;
    memset(o, 0, sizeof *o);
    o->type = type;
    o->kind = kind;
    memcpy(o->text, mechanic, lm + 1);
    memcpy(o->text + lm + 1, name, ln + 1);
    o->mechanic = o->text;
    o->name = o->text + lm + 1;
    if (push(m, o)) {
        free(o);
        return NULL;
    }
    return o;
}

member_outcome *member_counter_outcome(const member_state *m, const char *mechanic,
                                       const char *name)
{
    for (size_t i = 0; i < m->nouts; i++) {
        member_outcome *o = m->outs[i];
        if (o->type == MO_COUNTER && !strcmp(o->mechanic, mechanic) && !strcmp(o->name, name))
            return o;
    }
    return NULL;
}

int member_outcome_set(member_state *m, member_outcome *o, const char *key, json_t *value)
{
    if (!value)
        return -1;
    if (!o->obj && !(o->obj = json_object())) {
        json_decref(value);
        return -1;
    }
    if (json_object_set_new(o->obj, key, value))
        return -1;
    member_outcome_changed(m);
    return 0;
}

void member_remove_outcome(member_state *m, member_outcome *o)
{
    for (size_t i = 0; i < m->nouts; i++) {
        if (m->outs[i] != o)
            continue;
        memmove(&m->outs[i], &m->outs[i + 1], (m->nouts - i - 1) * sizeof *m->outs);
        m->nouts--;
        outcome_free(o);
        member_outcome_changed(m);
        return;
    }
}

void member_clear_outcomes(member_state *m)
{
    for (size_t i = 0; i < m->nouts; i++)
        outcome_free(m->outs[i]);
    m->nouts = 0;
    for (size_t i = 0; i < m->nentries; i++)
        m->entries[i].outcome = NULL;
    member_outcome_changed(m);
}

const char *member_outcome_kind(const member_outcome *o)
{
    return o->type == MO_JSON ? json_string_value(json_object_get(o->obj, "kind")) : o->kind;
}

json_t *member_outcome_json(const member_outcome *o)
{
    json_t *j;
    int bad;
    if (o->type == MO_JSON)
        return json_incref(o->obj);
    /* The keys in the order the response writes them (member_outcomes_write). */
    if (!(j = member_outcome_new(o->mechanic)))
        return NULL;
    if (o->type == MO_NAMED) {
        bad = json_object_set_new_nocheck(j, "kind", json_string_nocheck(o->kind)) |
              json_object_set_new_nocheck(j, o->field, json_string(o->name));
        if (o->obj)
            bad |= json_object_update(j, o->obj);
    } else if (o->type == MO_COUNTER) {
        bad = json_object_set_new_nocheck(j, "kind", json_string_nocheck(o->kind)) |
              json_object_set_new_nocheck(j, "counter", json_string_nocheck(o->name)) |
              json_object_set_new_nocheck(j, "value", json_integer(o->value));
    } else {
        bad = json_object_set_new_nocheck(j, "kind", json_string_nocheck(o->kind)) |
              json_object_set_new_nocheck(j, "currency", json_string(o->name)) |
              json_object_set_new_nocheck(j, "delta", json_integer(o->delta)) |
              json_object_set_new_nocheck(j, "balance", json_integer(o->balance));
        if (o->has_pending)
            bad |=
                json_object_set_new_nocheck(j, "pending", json_integer(o->pending)) |
                json_object_set_new_nocheck(j, "pending_balance", json_integer(o->pending_balance));
        if (o->obj)
            bad |= json_object_update(j, o->obj);
    }
    if (bad) {
        json_decref(j);
        return NULL;
    }
    return j;
}

json_t *member_outcomes_to_json(const member_state *m)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < m->nouts; i++) {
        if (json_array_append_new(a, member_outcome_json(m->outs[i]))) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *member_outcomes_json(const member_state *m)
{
    member_state *w = (member_state *)m; /* the copy is a cache, no part of the state */
    if (!w->outs_json)
        w->outs_json = member_outcomes_to_json(m);
    return w->outs_json;
}

static void put_str(pc_jbuf *b, const char *s)
{
    pc_jbuf_string(b, s, strlen(s));
}

/* The keys of obj (NULL: none), each after a comma. */
static void put_keys(pc_jbuf *b, const json_t *obj)
{
    const char *k;
    size_t klen;
    json_t *v;
    json_object_keylen_foreach((json_t *)obj, k, klen, v) {
        PC_JBUF_LIT(b, ",");
        pc_jbuf_string(b, k, klen);
        PC_JBUF_LIT(b, ":");
        pc_jbuf_value(b, v, 0);
    }
}

static void write_one(pc_jbuf *b, const member_outcome *o)
{
    if (o->type == MO_JSON) {
        pc_jbuf_value(b, o->obj, 0);
        return;
    }
    PC_JBUF_LIT(b, "{\"mechanic\":");
    put_str(b, o->mechanic);
    if (o->type == MO_NAMED) {
        PC_JBUF_LIT(b, ",\"kind\":");
        put_str(b, o->kind);
        PC_JBUF_LIT(b, ",");
        put_str(b, o->field);
        PC_JBUF_LIT(b, ":");
        put_str(b, o->name);
        put_keys(b, o->obj);
        PC_JBUF_LIT(b, "}");
        return;
    }
    if (o->type == MO_COUNTER) {
        PC_JBUF_LIT(b, ",\"kind\":\"counter\",\"counter\":");
        put_str(b, o->name);
        PC_JBUF_LIT(b, ",\"value\":");
        pc_jbuf_int(b, o->value);
        PC_JBUF_LIT(b, "}");
        return;
    }
    PC_JBUF_LIT(b, ",\"kind\":");
    put_str(b, o->kind);
    PC_JBUF_LIT(b, ",\"currency\":");
    put_str(b, o->name);
    PC_JBUF_LIT(b, ",\"delta\":");
    pc_jbuf_int(b, o->delta);
    PC_JBUF_LIT(b, ",\"balance\":");
    pc_jbuf_int(b, o->balance);
    if (o->has_pending) {
        PC_JBUF_LIT(b, ",\"pending\":");
        pc_jbuf_int(b, o->pending);
        PC_JBUF_LIT(b, ",\"pending_balance\":");
        pc_jbuf_int(b, o->pending_balance);
    }
    put_keys(b, o->obj);
    PC_JBUF_LIT(b, "}");
}

void member_outcomes_write(pc_jbuf *b, const member_state *m)
{
    PC_JBUF_LIT(b, "[");
    for (size_t i = 0; i < m->nouts; i++) {
        if (i)
            PC_JBUF_LIT(b, ",");
        write_one(b, m->outs[i]);
    }
    PC_JBUF_LIT(b, "]");
}

void member_outcomes_take(member_state *m, member_outcome ***outs, size_t *n)
{
    *outs = m->outs;
    *n = m->nouts;
    m->outs = NULL;
    m->nouts = m->capouts = 0;
    for (size_t i = 0; i < m->nentries; i++)
        m->entries[i].outcome = NULL;
    member_outcome_changed(m);
}

void member_outcomes_free(member_outcome **outs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        outcome_free(outs[i]);
    free(outs);
}
