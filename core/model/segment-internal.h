/*
 * Segments: which members a broadcast (POST /v1/broadcasts) reaches. A
 * segment is a JSON object whose keys all hold (absent or null: everyone):
 *   tier            "gold" or ["gold", "platinum"]: the member's tier is one of them
 *   attributes      {"country": "FR", "lang": ["fr", "de"]}: each attribute is (one of) that
 *   badges          ["vip"]: the member holds every badge listed
 *   min_balance     {"stars": 100}: the available balance is at least that
 *   joined_before   a time (RFC 3339, or a date: its midnight UTC): first seen before it
 *   joined_after    a time: first seen at or after it
 *   active_since    a time: an event at or after it
 *   inactive_since  a time: no event at or after it
 * Pure data (no I/O): the engine matches each member inside its transaction.
 */
#ifndef PUNCHCARD_SEGMENT_INTERNAL_H
#define PUNCHCARD_SEGMENT_INTERNAL_H

#include "model/member-internal.h"
#include "punchcard/common.h"

#include <jansson.h>

/* Validates seg (borrowed; NULL or null: everyone). 0, or -1 with err (400, naming the key). */
int segment_check(const json_t *seg, pc_error *err);

/* 1 when m is in seg (checked by segment_check() before; NULL: everyone), else 0. */
int segment_has(const json_t *seg, const member_state *m);

#endif
