/*
 * A fast compact JSON writer for jansson values: what json_dumps(JSON_COMPACT)
 * writes, without its per-value formatting calls (the response of every event
 * is written once for Redis and once for the client, so it is on the hot path).
 */
#ifndef PUNCHCARD_JSONW_H
#define PUNCHCARD_JSONW_H

#include <jansson.h>
#include <stddef.h>

/* Writes v compactly into a malloc'd NUL-terminated string (*len_out its length). NULL on OOM. */
char *pc_json_dump(const json_t *v, size_t *len_out);

#endif
