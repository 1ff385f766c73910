/*
 * The claims of one event and the index of unconfirmed claims (claims.h).
 */
#include "claims.h"
#include "store/ops-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

claims *claims_new(store *s, const char *ns, const pc_event *ev, int dry)
{
    claims *cs = calloc(1, sizeof *cs);
    if (!cs)
        return NULL;
    cs->store = s;
    cs->ns = ns;
    cs->dry = dry;
    pc_copy(cs->member, sizeof cs->member, ev->member);
    pc_copy(cs->event_id, sizeof cs->event_id, ev->id);
    return cs;
}

void claims_free(claims *cs)
{
    if (!cs)
        return;
    free(cs->v);
    free(cs);
}

void claims_attempt(claims *cs)
{
    cs->attempt++;
}

void claims_id(char *out, size_t n, int dry, const char *member, const char *event_id,
               const char *op, const char *resource)
{
    snprintf(out, n, "%s%s/%s/%s/%s", dry ? "dry/" : "", member, event_id, op, resource);
}

claim *claims_remember(claims *cs, const char *op, const char *resource)
{
    claim *c;
    for (int i = 0; i < cs->n; i++)
        if (!strcmp(cs->v[i].op, op) && !strcmp(cs->v[i].resource, resource)) {
            cs->v[i].attempt = cs->attempt;
            return &cs->v[i];
        }
    if (cs->n == cs->cap) {
        int cap = cs->cap ? cs->cap * 2 : 4;
        claim *nc = realloc(cs->v, (size_t)cap * sizeof *nc);
        if (!nc)
            return NULL;
        cs->v = nc;
        cs->cap = cap;
    }
    c = &cs->v[cs->n++];
    memset(c, 0, sizeof *c);
    snprintf(c->op, sizeof c->op, "%s", op);
    snprintf(c->resource, sizeof c->resource, "%s", resource);
    claims_id(c->id, sizeof c->id, cs->dry, cs->member, cs->event_id, op, resource);
    c->attempt = cs->attempt;
    return c;
}

void claims_entry(char *out, size_t n, const char *op, const char *resource, const char *id)
{
    snprintf(out, n, "%s|%s|%s", op, resource, id);
}

void claims_index(claims *cs, claim *c)
{
    char entry[CLAIM_ENTRY_MAX];
    claims_entry(entry, sizeof entry, c->op, c->resource, c->id);
    store_claims_put(cs->store, cs->ns, entry, pc_now_ms(), NULL, NULL);
    c->indexed = 1;
}

int claims_parse(const char *entry, claims_parsed *out)
{
    const char *a = strchr(entry, '|'), *b = a ? strchr(a + 1, '|') : NULL;
    const char *id, *slash, *slash2;
    memset(out, 0, sizeof *out);
    if (!b || (size_t)(a - entry) >= sizeof out->op ||
        (size_t)(b - a - 1) >= sizeof out->resource || strlen(b + 1) >= sizeof out->id)
        return -1;
    memcpy(out->op, entry, (size_t)(a - entry));
    memcpy(out->resource, a + 1, (size_t)(b - a - 1));
    strcpy(out->id, b + 1);
    id = out->id;
    if (!strncmp(id, "dry/", 4)) {
        out->dry = 1;
        return 0;
    }
    /* "<member>/<event id>/...": whose event decides the claim's fate. */
    slash = strchr(id, '/');
    slash2 = slash ? strchr(slash + 1, '/') : NULL;
    if (!slash2 || slash - id > PC_ID_MAX || slash2 - slash - 1 > PC_ID_MAX)
        return -1;
    memcpy(out->member, id, (size_t)(slash - id));
    memcpy(out->event_id, slash + 1, (size_t)(slash2 - slash - 1));
    return 0;
}

void claims_end(claims *cs, enum claims_end how, claims_release_fn *release, void *ctx)
{
    for (int i = 0; i < cs->n; i++) {
        const claim *c = &cs->v[i];
        /* A claim the final attempt no longer wanted is released whatever happened. */
        if (how == CLAIMS_RELEASE || (how == CLAIMS_CONFIRM && c->attempt != cs->attempt)) {
            release(ctx, cs, c);
        } else if (how == CLAIMS_CONFIRM && c->indexed) {
            char entry[CLAIM_ENTRY_MAX];
            claims_entry(entry, sizeof entry, c->op, c->resource, c->id);
            store_claims_del(cs->store, cs->ns, entry, NULL, NULL);
        }
        /* CLAIMS_LEAVE: the sweeper decides once the claim is old enough. */
    }
}
