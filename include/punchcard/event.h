/*
 * An incoming event, validated: the fields of POST /v1/events.
 *   {"id": "o-1", "type": "order", "member": "ann", "at": "2026-11-25T08:30:00Z",
 *    "data": {...}}
 * id and member: 1-128 of [A-Za-z0-9._:@+-]; type: 1-64 of [a-z0-9_.-];
 * at: RFC 3339 or integer ms since the epoch (optional); data: an object (optional);
 * partner: where it happened, 1-64 of [a-z0-9_.-] (optional; kept on every ledger entry).
 */
#ifndef PUNCHCARD_EVENT_H
#define PUNCHCARD_EVENT_H

#include "punchcard/common.h"

#include <jansson.h>
#include <stdint.h>

#define PC_ID_MAX   128
#define PC_TYPE_MAX 64

typedef struct pc_event {
    char id[PC_ID_MAX + 1];
    char type[PC_TYPE_MAX + 1];
    char member[PC_ID_MAX + 1];
    int64_t at_ms; /* from "at", or the engine's clock when at_given is 0 */
    int at_given;
    /*
     * data: read it with pc_event_data(). A parsed body holds it as doc (its
     * tokens, read once more into Lua or the digest, never into jansson values
     * unless someone asks pc_event_data()); an event built in C sets data (an
     * owned reference to an object). Both NULL: an empty object.
     */
    json_t *data;
    struct pc_jdoc *doc;
    char partner[PC_TYPE_MAX + 1]; /* where it happened (coalition programs), or "" */
} pc_event;

struct pc_jdoc;

/*
 * The event's data as jansson's object (borrowed, read-only): built from doc on the
 * first call and kept (ev is const to its readers, this cache aside). NULL only out of memory.
 */
json_t *pc_event_data(const pc_event *ev);

/*
 * json_string_value(json_object_get(pc_event_data(ev), key)) without making the
 * jansson values: the string (NUL-terminated, borrowed) or NULL.
 */
const char *pc_event_data_string(const pc_event *ev, const char *key);

/* Parses and validates a JSON body. 0, or -1 with err (status 400). */
int pc_event_parse(const char *body, size_t len, pc_event *ev, pc_error *err);

/* Validates an already parsed object (borrowed). 0, or -1 with err. */
int pc_event_from_json(json_t *obj, pc_event *ev, pc_error *err);

/*
 * pc_event_parse()'s one pass alone: 0 with ev filled when body is one event
 * pc_event_parse() takes, else -1 with nothing held and no detail
 * (pc_event_parse() or pc_event_from_json() says what is wrong).
 */
int pc_event_take(const char *body, size_t len, pc_event *ev);

/*
 * pc_event_parse() without its one pass: the body read into jansson values,
 * then pc_event_from_json(). Takes and refuses what pc_event_parse() does.
 */
int pc_event_parse_values(const char *body, size_t len, pc_event *ev, pc_error *err);

/* Releases what a parsed event owns. */
void pc_event_clear(pc_event *ev);

/*
 * The SHA-256 (hex) of the request an event is: id, type, member, partner,
 * data with its keys sorted, and at only when the sender gave it. Two sends
 * of the same request have the same digest whatever their key order or
 * spacing; an id reused for another request has another (its idempotency check).
 */
void pc_event_digest(const pc_event *ev, char out[65]);

/* 1 when s is a valid member or event id (see above). */
int pc_valid_id(const char *s);

/* 1 when s is a valid event type, currency, counter, badge or prize name. */
int pc_valid_name(const char *s);

#endif
