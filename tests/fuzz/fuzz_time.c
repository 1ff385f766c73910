/*
 * libFuzzer target: time parsing and the calendar (common.c, calendar.c, tz.c),
 * durations ("1y6mo", "1d12h": cal_parse_span, for expiry, after() and advance()).
 *
 * Input: a 16-byte header, then text.
 *   bytes 0-7   a time, folded into the range events may carry (years 1970-9999)
 *   bytes 8-11  a count of months, folded into +-1,200,000 (100,000 years: the
 *               longest span a currency may declare)
 *   byte 12     a time zone from a short list; byte 13 the hour days start at;
 *   byte 14     a period; byte 15 unused
 *   the rest    an RFC 3339 time for pc_time_parse, and a duration for
 *               cal_parse_span, added to the time
 * Beyond "no crash, no UB", it checks what callers rely on: a parsed time
 * formats and parses back to itself; civil dates round-trip; a day number and
 * its period id agree; a period ends after the time it holds.
 */
#include "common/calendar-internal.h"
#include "punchcard/common.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MS 253402300799999LL /* 9999-12-31T23:59:59.999Z, the last time an event may carry */

static const char *const zones[] = {"UTC",
                                    "Europe/Paris",
                                    "America/New_York",
                                    "Asia/Kathmandu",
                                    "Australia/Lord_Howe",
                                    "Pacific/Kiritimati",
                                    "America/St_Johns",
                                    "Not/A_Zone"};

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_time: %s failed (line %d)\n", #cond, __LINE__);                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void check_parse(const char *s)
{
    int64_t ms, back;
    char out[64];
    if (pc_time_parse(s, &ms))
        return;
    /* A parsed time is within a day of years 0000-9999 (offsets move it by < 24 h). */
    CHECK(ms >= -62167219200000LL - 86400000LL && ms <= MAX_MS + 86400000LL);
    if (ms < 0 || ms > MAX_MS)
        return;
    pc_time_format(ms, out, sizeof out);
    CHECK(pc_time_parse(out, &back) == 0);
    CHECK(back == ms);
}

static void check_calendar(int64_t ms, int months, const char *tz, int hour, int period)
{
    int y, m, d;
    char id[32];
    int64_t dn = cal_day_number(ms, tz, hour), end;

    cal_civil_from_days(dn, &y, &m, &d);
    CHECK(m >= 1 && m <= 12 && d >= 1 && d <= 31);
    CHECK(cal_days_from_civil(y, m, d) == dn);

    cal_period_id(ms, tz, hour, CAL_DAY, id, sizeof id);
    {
        int iy, im, idd;
        CHECK(sscanf(id, "%d-%d-%d", &iy, &im, &idd) == 3);
        CHECK(cal_days_from_civil(iy, im, idd) == dn);
    }
    cal_period_id(ms, tz, hour, period, id, sizeof id);
    CHECK(strlen(id) >= 3);
    (void)cal_period_index(ms, tz, hour, period);
    (void)cal_period_ttl(period);
    (void)cal_period_name(period);

    /*
     * Whole months forth and back land on the same day of a month at most. Only from
     * times callers take (1970 on): before 1970, a time with milliseconds takes the date
     * of its whole second toward zero (calendar.c, utc_date), on purpose.
     */
    {
        int64_t later = cal_add_months(ms, months);
        if (later >= 0)
            CHECK(cal_add_months(later, -months) <= ms);
    }
    end = cal_period_end(ms, period == CAL_MONTH  ? "month"
                             : period == CAL_YEAR ? "year"
                                                  : "quarter");
    CHECK(end > ms);
    CHECK(cal_period_end(ms, "fortnight") == -1);

    {
        struct tm tm;
        if (pc_local_time(ms, tz, &tm) == 0) {
            int64_t start = pc_local_day_start(ms, tz, hour);
            int64_t again = pc_local_to_utc(tz, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                                            tm.tm_hour, tm.tm_min, tm.tm_sec);
            /* The day began at most 48 hours before (a late day-start hour, a DST shift). */
            CHECK(start <= ms + 3600000 && ms - start < 49 * 3600000LL);
            /* The civil time goes back to the same second, or an hour off at a DST fold. */
            CHECK(llabs(again - ms / 1000 * 1000) <= 3600000 + 1000);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text;
    int64_t ms;
    int months;
    int span_months;
    int64_t span_ms;

    if (size < 16)
        return 0;
    ms = (int64_t)(le64(data) % (uint64_t)(MAX_MS + 1));
    months = (int)((int64_t)(uint32_t)(data[8] | data[9] << 8 | data[10] << 16 |
                                       (uint32_t)data[11] << 24) %
                       2400001 -
                   1200000);
    check_calendar(ms, months, zones[data[12] % (sizeof zones / sizeof *zones)], data[13] % 24,
                   data[14] % 5);

    text = malloc(size - 16 + 1);
    if (!text)
        return 0;
    memcpy(text, data + 16, size - 16);
    text[size - 16] = '\0';
    check_parse(text);
    if (cal_parse_span(text, &span_months, &span_ms) == 0) {
        /* The bounds every caller relies on: 100,000 years, 100,000 weeks. */
        CHECK(span_months >= 0 && span_months <= 1200000);
        CHECK(span_ms >= 0 && span_ms <= 100000LL * 7 * 86400000LL);
        CHECK(cal_add_span(ms, span_months, span_ms) >= ms);
    }
    free(text);
    return 0;
}
