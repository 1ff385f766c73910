/*
 * Per-member slots of one engine (one loop, no locks):
 *  - a member has at most one event in flight in this process; the others
 *    wait in its slot's queue, so events of one member never race each other
 *    here (races between processes are settled by the commit's version check);
 *  - the state left by the last commit is kept, so the next event of that
 *    member skips the load round trip; a stale copy only costs a retry, since
 *    the commit checks the version and returns the current state.
 * Idle slots are evicted least recently used first past a size bound.
 */
#ifndef PUNCHCARD_MCACHE_H
#define PUNCHCARD_MCACHE_H

#include "model/member-internal.h"

#include <stddef.h>

typedef struct mcache mcache;

typedef struct mslot {
    char *member;                /* owned */
    member_state *state;         /* owned: state after the last commit seen, or NULL */
    int busy;                    /* an event of this member is in flight */
    void *wait_head, *wait_tail; /* queued calls (engine_call *), linked by the engine */
    struct mslot *hnext;         /* hash chain */
    struct mslot *lprev, *lnext; /* LRU list of idle slots */
} mslot;

/* max_idle: how many idle members keep their state (0 = 100000). */
mcache *mcache_new(size_t max_idle);
void mcache_free(mcache *c);

/* The slot of member, created when missing; taken off the idle list. NULL on out of memory. */
mslot *mcache_acquire(mcache *c, const char *member);

/* The slot is idle again (not busy, no waiters): put it on the LRU list, evicting past the bound.
 */
void mcache_release(mcache *c, mslot *s);

#endif
