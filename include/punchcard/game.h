/*
 * The game side's shared arithmetic (issue 4): calendar periods in a time
 * zone (streak days and weeks, pool refills, leaderboard periods, caps), the
 * draw secret and the keyed roll of an instant-win draw, and how a member's
 * streaks and levelled badges render in GET /v1/members/{m}.
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
#ifndef PUNCHCARD_GAME_H
#define PUNCHCARD_GAME_H

#include "punchcard/member.h"

#include <stddef.h>
#include <stdint.h>

enum game_period { GP_ALL = 0, GP_DAY, GP_WEEK, GP_MONTH, GP_YEAR };

/* "day", "week", "month", "year", "all" (or "never") -> enum; -1 when unknown. */
int game_period_parse(const char *s);
const char *game_period_name(int period);

/*
 * The local calendar day of ms in tz, when days begin at hour_start
 * (0-23) o'clock: days since 1970-01-01. Built from the civil date, so a
 * 23- or 25-hour DST day is still one day.
 */
int64_t game_day_number(int64_t ms, const char *tz, int hour_start);

/* A period index: consecutive periods differ by 1 (day: day number; week: ISO weeks). */
int64_t game_period_index(int64_t ms, const char *tz, int hour_start, int period);

/*
 * The id of the period holding ms: "2026-11-25", "2026-W48" (ISO week),
 * "2026-11", "2026", "all". out >= 16 bytes.
 */
void game_period_id(int64_t ms, const char *tz, int hour_start, int period, char *out, size_t n);

/* Seconds a period's keys should live: its length plus a week of slack (0 for "all"). */
int game_period_ttl(int period);

/*
 * The draw master secret (process-wide; set once by punchd's main before
 * workers start). Without one, a built-in development secret is used: draws
 * are then predictable by anyone, which tests and `punch test` want.
 */
void game_set_draw_secret(const char *secret, size_t len);
const char *game_draw_secret_source(void); /* "file", "env" or "development" */
void game_set_draw_secret_source(const char *source);

/* secret(draw, epoch) as 64 hex digits + NUL; and its commitment. */
void game_draw_secret(const char *draw, int64_t epoch, char out[65]);
void game_draw_commitment(const char *draw, int64_t epoch, char out[65]);

/* The roll of one draw: u (the win test) and pick (the prize tried first). */
void game_draw_roll(const char *draw, int64_t epoch, const char *member, const char *event_id,
                    uint64_t *u, uint64_t *pick);

/* 1 when roll u wins at chance (0..1). */
int game_draw_wins(uint64_t u, double chance);

/* A stable percentage bucket 0..9999 of (salt, member): the control group's split. */
int game_bucket(const char *salt, const char *member);

/*
 * Adds the member's streaks ("s:" fields) to streaks and badge levels
 * ("gl:"/"gp:"/"gn:" fields) to badges, for member_to_json().
 */
void game_member_json(const member_state *m, json_t *badges, json_t *streaks);

#endif
