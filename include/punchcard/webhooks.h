/*
 * Webhooks (README.md, "Webhooks"; docs/architecture.md, "Webhooks"): what
 * integrators are told of. The engine writes each webhook into an outbox in
 * the very commit of the event that made it (a member's, in the member's
 * Redis Cluster slot), so a webhook exists exactly when its event applied.
 * A deliverer takes the outboxes' entries in order, member by member, under
 * a lease, and hands each to a sender (punchd's HTTP client): retried with
 * exponential backoff, dead-lettered after the last attempt, each entry with
 * one id for all its tries (at least once; receivers deduplicate by id).
 * The engine knows no HTTP: the sender does the posting and signing.
 */
#ifndef PUNCHCARD_WEBHOOKS_H
#define PUNCHCARD_WEBHOOKS_H

#include "punchcard/engine.h"

#include <stdint.h>

/* One outbox entry handed to the sender; every string borrowed for the send. */
typedef struct engine_webhook {
    const char *id;     /* the webhook-id: the same for every try */
    const char *type;   /* "prize.won", "tier.changed", a mechanic's notify() name ... */
    const char *member; /* whose outbox ("!program" for the program's own) */
    const char *body;   /* the payload {"type", "timestamp", "data"}, to send as it is */
    size_t body_len;
    int64_t tries;  /* failed tries before this one */
    const char *ok; /* "name,name": the endpoints that have it already */
} engine_webhook;

/* The sender's verdict on one try; strings borrowed for the call. */
typedef struct engine_webhook_result {
    int cancelled;     /* the sender went away: nothing is recorded, the entry stays */
    int delivered;     /* every endpoint that wants the entry has it now */
    const char *ok;    /* the endpoints that have it now ("name,name") */
    const char *error; /* not delivered: why (kept with a dead letter) */
} engine_webhook_result;

typedef void engine_webhook_done_fn(void *ctx, const engine_webhook_result *r);
/* Sends w; calls done(ctx, ...) exactly once, later or at once. */
typedef void engine_webhook_send_fn(void *arg, const engine_webhook *w,
                                    engine_webhook_done_fn *done, void *ctx);

typedef struct engine_deliverer_config {
    engine_webhook_send_fn *send; /* required */
    void *arg;
    int poll_ms;           /* how often the index is read; 0 = 500 */
    int parallel;          /* members delivered at once; 0 = 16 */
    int max_attempts;      /* tries before an entry is dead-lettered; 0 = 8 */
    int64_t retry_base_ms; /* the first retry's delay, doubled each time; 0 = 1000 */
    int64_t retry_max_ms;  /* the longest delay; 0 = 3600000 */
    int64_t lease_ms;      /* how long a member's outbox stays this deliverer's; 0 = 60000 */
    int64_t settle_ms;     /* a member listed this recently stays listed even when its outbox
                              looks empty (its commit may still be on its way); 0 = 30000 */
} engine_deliverer_config;

typedef struct engine_deliverer engine_deliverer;

/* Starts delivering on the engine's loop. NULL when out of memory. Free before the engine. */
engine_deliverer *engine_deliverer_new(engine *e, const engine_deliverer_config *cfg);
void engine_deliverer_free(engine_deliverer *d);

/* Entries dead-lettered by this process. */
uint64_t engine_webhooks_dead_total(void);

/* Adds a record of one try ({"id", "type", "member", "endpoint", "status", ...}; stolen). */
void engine_webhook_log(engine *e, json_t *record);

/*
 * GET /v1/webhooks/deliveries: {"pending_members", "recent": [the last limit
 * tries, newest first], "dead": [dead letters, newest first]}.
 */
void engine_get_webhooks(engine *e, int limit, engine_done_fn *done, void *arg);

/*
 * Puts dead letter id back at the end of its outbox, with the same id: 200
 * {"id", "member", "requeued": true}, 404 when there is no such dead letter.
 */
void engine_retry_dead_webhook(engine *e, const char *id, engine_done_fn *done, void *arg);

/*
 * A webhook of the program (not of a member: "reload.failed"), written once
 * per distinct type and data within an hour however many workers and punchd
 * report it. Takes data. Only when the engine writes webhooks (cfg.outbox).
 */
void engine_program_webhook(engine *e, const char *type, json_t *data);

#endif
