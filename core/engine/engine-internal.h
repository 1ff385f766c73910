/*
 * Private to core/engine: the engine's state, shared by the transaction
 * (engine.c), the sweeper (sweeper.c), the queries (query.c) and the
 * administration (admin.c).
 */
#ifndef PUNCHCARD_ENGINE_INTERNAL_H
#define PUNCHCARD_ENGINE_INTERNAL_H

#include "punchcard/engine.h"
#include "mcache.h"

struct engine {
    store *store;            /* borrowed: outlives the engine */
    struct event_base *base; /* the store's loop, kept: it outlives the store at shutdown */
    mcache *cache;
    mech_holder *holder; /* borrowed */
    char ns[64];
    int dedupe_ttl_s;
    int max_attempts;
    size_t max_response;           /* bytes of a response (the dedupe record); past it: 422 */
    size_t max_outcomes, max_keys; /* per-event caps of the runs (0: mechset's defaults) */
    int no_figures;
    int64_t claim_timeout_ms; /* unconfirmed claims older than this are swept */
    int send_rate;            /* events a period close sends per second */
    int outbox;               /* write webhooks (outbox.c) */
    int64_t expiring_notice_ms;
    int64_t (*clock)(void *);
    void *clock_arg;
    const char *answer_text; /* engine_answer_text(), while a done callback runs */
    size_t answer_len;
    member_outcome *const *answer_outs; /* engine_answer_kind(), likewise */
    size_t answer_nouts;
    const char *answer_type;
    json_t *load_note;  /* a load of the scripts not yet in the shared history (catalog.c) */
    int load_note_busy; /* ... being recorded */
};

/* The engine's clock: ms since the epoch (the CLI's virtual time, or the real one). */
int64_t engine_now(const engine *e);

/*
 * Submits an event the engine owes someone (a referral's reward for the
 * referrer), taking ev's contents. Once it was answered with a status below
 * 500, entry (not empty) is dropped from NS:claims: until then the sweeper
 * may send it again, which its id makes harmless.
 */
void engine_follow_up(engine *e, pc_event *ev, const char *entry);

/* Answers a call 500 "internal" (out of memory), for what fails before it starts. */
void engine_answer_oom(engine_done_fn *done, void *arg);

/*
 * engine_submit() of a broadcast's event: a member not in segment (borrowed,
 * segment-internal.h; checked on the state the event would apply to, after
 * the dedupe) is answered 422 "not_in_segment" and nothing changes.
 */
engine_call *engine_submit_segment(engine *e, pc_event *ev, json_t *segment, engine_done_fn *done,
                                   void *arg);

#endif
