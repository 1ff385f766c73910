/*
 * The sweeper: expiry and pending releases happen on time even for members
 * who send no events. Every commit keeps NS:due (member -> next due time);
 * the sweeper polls it and sends each due member an internal "tick" event
 * (id "tick-<due ms>", at the due time) through the normal transaction, so
 * a tick is applied exactly once even when several punchd sweep at once.
 * Mechanics may subscribe to "tick" (tier downgrades, birthdays).
 */
#ifndef PUNCHCARD_SWEEPER_H
#define PUNCHCARD_SWEEPER_H

#include "punchcard/engine.h"

struct event_base;
typedef struct sweeper sweeper;

/* Polls every interval_ms (0 = 1000) with clock (NULL = real time). */
sweeper *sweeper_new(struct event_base *base, store *s, engine *e, const char *ns, int interval_ms,
                     int64_t (*clock)(void *), void *clock_arg);
void sweeper_free(sweeper *sw);

/* Runs one sweep now (for the REPL after moving the clock). */
void sweeper_poke(sweeper *sw);

/* Ticks sent so far. */
uint64_t sweeper_ticks(const sweeper *sw);

#endif
