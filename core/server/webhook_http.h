/*
 * punchd's side of webhooks (README.md, "Webhooks"): the endpoints file, the
 * HTTP client that posts an outbox entry to every endpoint that wants it,
 * signed as Standard Webhooks asks (webhook-id, webhook-timestamp,
 * webhook-signature "v1,<base64 HMAC-SHA256 of id.timestamp.body>"), and the
 * routes GET /v1/webhooks/deliveries and POST /v1/webhooks/dead/{id}/retry.
 * The engine's deliverer (punchcard/webhooks.h) decides what to send when.
 */
#ifndef PUNCHCARD_SERVER_WEBHOOK_HTTP_H
#define PUNCHCARD_SERVER_WEBHOOK_HTTP_H

#include "punchcard/webhooks.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <stddef.h>

typedef struct webhooks_config webhooks_config;

/*
 * Reads the endpoints file (JSON, README.md "Webhooks"). NULL with err
 * filled (never naming a secret) when it cannot be read or is invalid.
 */
webhooks_config *webhooks_config_load(const char *path, char *err, size_t errlen);
void webhooks_config_free(webhooks_config *c);

/* The deliverer's settings and the engine's lead time of "points.expiring", from the file. */
void webhooks_config_deliverer(const webhooks_config *c, engine_deliverer_config *out);
int64_t webhooks_config_expiring_notice_ms(const webhooks_config *c);

/* The HTTP client of one loop (libcurl's multi interface on libevent). */
typedef struct webhooks_sender webhooks_sender;

/* c borrowed (outlives the sender); e: where the tries are logged. NULL when out of memory. */
webhooks_sender *webhooks_sender_new(struct event_base *base, const webhooks_config *c, engine *e);
/* Abandons the posts in flight: their done is called with cancelled set. Frees ws. */
void webhooks_sender_free(webhooks_sender *ws);

/* The engine_webhook_send_fn of the deliverer (arg: the sender). */
engine_webhook_send_fn webhooks_send;

/* The families of /metrics about webhooks. */
void webhooks_metrics(struct evbuffer *b);

#endif
