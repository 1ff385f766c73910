/*
 * Private to core/engine: the engine's state, shared by the transaction
 * (engine.c), the queries (query.c) and the engine's other parts.
 */
#ifndef PUNCHCARD_ENGINE_INTERNAL_H
#define PUNCHCARD_ENGINE_INTERNAL_H

#include "punchcard/engine.h"
#include "globals.h"
#include "mcache.h"

struct engine {
    store *store;
    struct event_base *base; /* the store's loop, kept: it outlives the store at shutdown */
    mcache *cache;
    globals *globals;
    mech_holder *holder;
    char ns[64];
    int dedupe_ttl_s;
    int max_attempts;
    int no_figures;
    int64_t (*clock)(void *);
    void *clock_arg;
};

#endif
