/*
 * The calendar, shared by every layer: civil dates (days since 1970-01-01),
 * periods in a time zone (streak days and weeks, pool refills, leaderboard
 * periods, caps), calendar months. Pure functions; thread-safe.
 */
#ifndef PUNCHCARD_CALENDAR_INTERNAL_H
#define PUNCHCARD_CALENDAR_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm), and back. */
int64_t cal_days_from_civil(int64_t y, int m, int d);
void cal_civil_from_days(int64_t z, int *y, int *m, int *d);

enum cal_period { CAL_ALL = 0, CAL_DAY, CAL_WEEK, CAL_MONTH, CAL_YEAR };

/* "day", "week", "month", "year", "all" (or "never") -> enum; -1 when unknown. */
int cal_period_parse(const char *s);
const char *cal_period_name(int period);

/*
 * The local calendar day of ms in tz, when days begin at hour_start
 * (0-23) o'clock: days since 1970-01-01. Built from the civil date, so a
 * 23- or 25-hour DST day is still one day.
 */
int64_t cal_day_number(int64_t ms, const char *tz, int hour_start);

/* A period index: consecutive periods differ by 1 (day: day number; week: ISO weeks). */
int64_t cal_period_index(int64_t ms, const char *tz, int hour_start, int period);

/*
 * The id of the period holding ms: "2026-11-25", "2026-W48" (ISO week),
 * "2026-11", "2026", "all". out >= 16 bytes.
 */
void cal_period_id(int64_t ms, const char *tz, int hour_start, int period, char *out, size_t n);

/* Seconds a period's keys should live: its length plus a week of slack (0 for "all"). */
int cal_period_ttl(int period);

/*
 * Seconds since the epoch of a UTC date and time (month 1-12); a day, hour,
 * minute or second out of its range carries over, as with timegm.
 */
int64_t cal_utc_seconds(int64_t y, int m, int64_t d, int64_t hour, int64_t min, int64_t sec);

/* Adds months (calendar, UTC) to a time; negative months go back. Jan 31 + 1 month = Feb 28. */
int64_t cal_add_months(int64_t ms, int months);

/*
 * A duration as marketers write it, the same everywhere (currency expiry,
 * earn options, date arithmetic in mechanics, the specs' clock): a number
 * and a unit, combinable: "9mo", "1y", "2w", "1d12h", "1y6mo", "30m", "10s"
 * (y = 12 calendar months, mo = a calendar month, w d h m s). Calendar months
 * in *months, the rest in *ms. 0, or -1 when malformed.
 */
int cal_parse_span(const char *s, int *months, int64_t *ms);

/* at_ms moved on by months calendar months (cal_add_months), then ms milliseconds. */
int64_t cal_add_span(int64_t at_ms, int months, int64_t ms);

/*
 * The end (exclusive, ms) of the UTC calendar period ("month", "quarter",
 * "year") holding ms; -1 on a bad name.
 */
int64_t cal_period_end(int64_t ms, const char *period);

#endif
