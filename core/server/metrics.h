/*
 * punchd's metrics, process-wide (every worker counts into the same atomic
 * counters), rendered as Prometheus text by GET /metrics (metrics.c).
 */
#ifndef PUNCHCARD_METRICS_H
#define PUNCHCARD_METRICS_H

#include <stdint.h>

/* One answered request: its route (-1: none matched), status and duration (0: not timed). */
void metrics_request(int route, int status, int64_t duration_us);

/* Requests waiting on the engine: +1 or -1. */
void metrics_inflight(int delta);

/* An event applied (or found a duplicate) with a 200, by type. */
void metrics_event(const char *type, int duplicate);

/* An outcome of an applied event, by kind. */
void metrics_outcome(const char *kind);

/* An API key check that refused: 401, 403 or 429. */
void metrics_auth_refused(int status);

#endif
