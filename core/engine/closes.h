/*
 * Period closes: the mechanics declared `on = "period_end:week"` (day,
 * month, year) run once when a period ends, in the program's time zone,
 * for no member, and send members events (send()) — the week's top 3 of a
 * board get a "weekly_top" event whose mechanic earns them stars.
 *
 * Exactly once with any number of punchd: the close of (mechanic, period)
 * is taken in Redis by one owner at a time (store_close_claim); its plan —
 * the events to send — is stored once before the first is sent, so a close
 * taken over after a crash sends the very same events; each is a member
 * event with the id "close:<mechanic>:<period>" through the normal
 * transaction, so a resent one answers as a duplicate. Owned by the
 * sweeper (sweeper.c), which calls closes_check() at every sweep.
 */
#ifndef PUNCHCARD_CLOSES_H
#define PUNCHCARD_CLOSES_H

#include "engine-internal.h"

typedef struct closes closes;

/* The longest broadcast id: its events' ids are "broadcast:<id>". */
#define BROADCAST_ID_MAX (PC_ID_MAX - 10)

/* NULL on out of memory. The engine must outlive it. */
closes *closes_new(engine *e);
/* Stops sending; callbacks still in flight end quietly. */
void closes_free(closes *cl);

/*
 * Starts the closes of the periods that ended by now_ms (the engine's clock)
 * not done yet: the latest of each mechanic, and those a mechanic missed
 * (up to 12 periods back, oldest first, one at a time); and the broadcasts
 * not done (the index of NS:{broadcasts:open}:ids).
 */
void closes_check(closes *cl, int64_t now_ms);

/* 1 while a close of this engine is at work. */
int closes_running(const closes *cl);

/* Closes of this process found done or done, and events they sent, so far (for /metrics). */
void closes_totals(uint64_t *done, uint64_t *sent);
/* Events sent by broadcasts (of closes_totals' sent); broadcasts made here (broadcasts.c). */
uint64_t closes_broadcast_events(void);
uint64_t broadcasts_made(void);

#endif
