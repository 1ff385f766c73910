/*
 * What each mechanic costs, by name, across every worker and every reload:
 * runs, errors and time in Lua, for /metrics (mech_stats()). A compiled
 * mechanic keeps a pointer to its slot; slots live as long as the process, so
 * a slot never moves under a worker that is counting into it.
 */
#include "lua-internal.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MAX_SLOTS 256

static luart_stat slots[MAX_SLOTS + 1]; /* the last: every name past MAX_SLOTS */
static size_t nslots;
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;

luart_stat *luart_stat_for(const char *name)
{
    luart_stat *st = NULL;
    pthread_mutex_lock(&slots_lock);
    for (size_t i = 0; i < nslots && !st; i++)
        if (!strcmp(slots[i].name, name))
            st = &slots[i];
    if (!st && nslots < MAX_SLOTS) {
        st = &slots[nslots];
        snprintf(st->name, sizeof st->name, "%s", name);
        nslots++;
    }
    if (!st) {
        st = &slots[MAX_SLOTS];
        snprintf(st->name, sizeof st->name, "%s", "_other");
    }
    pthread_mutex_unlock(&slots_lock);
    return st;
}

size_t mech_stats(mech_stat *out, size_t n)
{
    size_t got = 0, have;
    pthread_mutex_lock(&slots_lock);
    have = nslots + (slots[MAX_SLOTS].name[0] ? 1 : 0);
    for (size_t i = 0; i <= MAX_SLOTS && got < n; i++) {
        const luart_stat *st = &slots[i];
        if (i >= nslots && i != MAX_SLOTS)
            continue;
        if (!st->name[0])
            continue;
        memcpy(out[got].name, st->name, sizeof out[got].name);
        out[got].runs = atomic_load_explicit(&st->runs, memory_order_relaxed);
        out[got].errors = atomic_load_explicit(&st->errors, memory_order_relaxed);
        out[got].lua_ns = atomic_load_explicit(&st->lua_ns, memory_order_relaxed);
        got++;
    }
    pthread_mutex_unlock(&slots_lock);
    (void)have;
    return got;
}

int64_t luart_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
