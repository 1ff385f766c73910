/*
 * Member slots: a chained hash table plus an LRU list of idle slots (mcache.h).
 */
#include "mcache.h"

#include <stdlib.h>
#include <string.h>

struct mcache {
    mslot **buckets;
    size_t nbuckets; /* a power of two */
    size_t count, idle, max_idle;
    mslot *lru_head, *lru_tail; /* head = most recently used */
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

mcache *mcache_new(size_t max_idle)
{
    mcache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->max_idle = max_idle ? max_idle : 100000;
    c->nbuckets = 1024;
    c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
    if (!c->buckets) {
        free(c);
        return NULL;
    }
    return c;
}

static void slot_free(mslot *s)
{
    free(s->member);
    member_free(s->state);
    free(s);
}

void mcache_free(mcache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nbuckets; i++) {
        mslot *s = c->buckets[i];
        while (s) {
            mslot *n = s->hnext;
            slot_free(s);
            s = n;
        }
    }
    free(c->buckets);
    free(c);
}

static void grow(mcache *c)
{
    size_t n = c->nbuckets * 2;
    mslot **b = calloc(n, sizeof *b);
    if (!b)
        return; /* keep the longer chains */
    for (size_t i = 0; i < c->nbuckets; i++) {
        mslot *s = c->buckets[i];
        while (s) {
            mslot *next = s->hnext;
            size_t k = hash_str(s->member) & (n - 1);
            s->hnext = b[k];
            b[k] = s;
            s = next;
        }
    }
    free(c->buckets);
    c->buckets = b;
    c->nbuckets = n;
}

static void lru_unlink(mcache *c, mslot *s)
{
    if (s->lprev)
        s->lprev->lnext = s->lnext;
    else
        c->lru_head = s->lnext;
    if (s->lnext)
        s->lnext->lprev = s->lprev;
    else
        c->lru_tail = s->lprev;
    s->lprev = s->lnext = NULL;
    c->idle--;
}

static void remove_slot(mcache *c, mslot *s)
{
    mslot **p = &c->buckets[hash_str(s->member) & (c->nbuckets - 1)];
    while (*p != s)
        p = &(*p)->hnext;
    *p = s->hnext;
    c->count--;
    slot_free(s);
}

mslot *mcache_acquire(mcache *c, const char *member)
{
    size_t k = hash_str(member) & (c->nbuckets - 1);
    mslot *s;
    for (s = c->buckets[k]; s; s = s->hnext) {
        if (strcmp(s->member, member) == 0) {
            if (!s->busy && !s->wait_head)
                lru_unlink(c, s);
            return s;
        }
    }
    s = calloc(1, sizeof *s);
    if (!s || !(s->member = strdup(member))) {
        free(s);
        return NULL;
    }
    s->hnext = c->buckets[k];
    c->buckets[k] = s;
    if (++c->count > c->nbuckets)
        grow(c);
    return s;
}

void mcache_release(mcache *c, mslot *s)
{
    s->lnext = c->lru_head;
    s->lprev = NULL;
    if (c->lru_head)
        c->lru_head->lprev = s;
    c->lru_head = s;
    if (!c->lru_tail)
        c->lru_tail = s;
    c->idle++;
    while (c->idle > c->max_idle) {
        mslot *old = c->lru_tail;
        lru_unlink(c, old);
        remove_slot(c, old);
    }
    /* A slot that remembers nothing is not worth keeping. */
    if (!s->state && c->lru_head == s) {
        lru_unlink(c, s);
        remove_slot(c, s);
    }
}
