/*
 * Instant-win draw arithmetic, pure: the master secret, the secret and
 * commitment of an epoch, the keyed roll of a draw, and the stable bucket of
 * a control group.
 *
 * Draw audit, stated once here and in docs/mechanics.md:
 *   secret(draw, epoch) = lowercase hex of HMAC-SHA256(master, "punchcard/draw/NAME/EPOCH")
 *   commitment          = hex SHA-256 of that 64-character hex text
 *   h    = HMAC-SHA256(key = the hex text, msg = MEMBER "\n" EVENT_ID "\n" DRAW)
 *   roll = the first 8 bytes of h, big-endian, as an unsigned 64-bit integer u
 *   won  = u < floor(chance * 2^64)            (chance >= 1 always wins)
 *   pick = the next 8 bytes of h (big-endian) mod the number of prizes: the
 *          prize tried first; an empty pool falls through to the next in order.
 */
#ifndef PUNCHCARD_DRAW_INTERNAL_H
#define PUNCHCARD_DRAW_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/*
 * The draw master secret (process-wide; set once by punchd's main before
 * workers start). Without one, a built-in development secret is used: draws
 * are then predictable by anyone, which tests and `punch test` want.
 */
void draw_set_secret(const char *secret, size_t len);
const char *draw_secret_source(void); /* "file", "env" or "development" */
void draw_set_secret_source(const char *source);

/* secret(draw, epoch) as 64 hex digits + NUL; and its commitment. */
void draw_secret(const char *draw, int64_t epoch, char out[65]);
void draw_commitment(const char *draw, int64_t epoch, char out[65]);

/* The roll of one draw: u (the win test) and pick (the prize tried first). */
void draw_roll(const char *draw, int64_t epoch, const char *member, const char *event_id,
               uint64_t *u, uint64_t *pick);

/* 1 when roll u wins at chance (0..1). */
int draw_wins(uint64_t u, double chance);

/* A stable percentage bucket 0..9999 of (salt, member): the control group's split. */
int draw_bucket(const char *salt, const char *member);

#endif
