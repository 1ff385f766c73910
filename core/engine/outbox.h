/*
 * Private to core/engine: the webhooks an event writes with its commit
 * (outbox.c) and their delivery (deliver.c); punchcard/webhooks.h is the
 * public side.
 */
#ifndef PUNCHCARD_ENGINE_OUTBOX_H
#define PUNCHCARD_ENGINE_OUTBOX_H

#include "engine-internal.h"
#include "model/member-internal.h"
#include "store/ops-internal.h"

/*
 * Sends the commit sc of ev (at: its time as RFC 3339) with the webhooks its
 * outcomes make, each appended to the member's outbox by the commit itself.
 * When there are any, the member is listed in the outbox index first, and the
 * commit is sent only once that is written (a failure answers fn with it and
 * sends nothing). Takes sc.
 */
void outbox_commit_send(engine *e, const pc_event *ev, const member_state *m, const mechset *set,
                        store_commit *sc, const char *at, store_commit_fn *fn, void *arg);

/*
 * Before builtin_after(): for each currency with lots expiring within the
 * notice lead (engine_config.expiring_notice_ms) that no notice covered yet,
 * an outcome {"kind": "expiring", "currency", "amount", "expires_at"} (the
 * "points.expiring" webhook), and the member's notice due time (field xd,
 * part of its due time, so the sweeper wakes a silent member for it).
 * Nothing unless the engine writes webhooks. 0, or -1 out of memory.
 */
int outbox_expiring(engine *e, const pc_event *ev, member_state *m);

/* The id of the n-th webhook of ev of member: "msg_" and 32 hex digits, the same every time. */
void outbox_id(const char *ns, const char *member, const char *event_id, size_t n, char out[37]);

#endif
