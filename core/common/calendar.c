/*
 * The calendar (calendar-internal.h): civil dates, periods in a time zone,
 * month arithmetic. One days_from_civil for the whole tree: nothing here or
 * elsewhere calls timegm.
 */
#include "calendar-internal.h"
#include "punchcard/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h> /* struct tm of pc_local_time */

int cal_period_parse(const char *s)
{
    static const char *const names[] = {"all", "day", "week", "month", "year"};
    if (!s)
        return -1;
    if (!strcmp(s, "never"))
        return CAL_ALL;
    for (int i = 0; i < 5; i++)
        if (!strcmp(s, names[i]))
            return i;
    return -1;
}

const char *cal_period_name(int period)
{
    static const char *const names[] = {"all", "day", "week", "month", "year"};
    return period >= 0 && period <= CAL_YEAR ? names[period] : "all";
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil). */
int64_t cal_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void cal_civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

int64_t cal_day_number(int64_t ms, const char *tz, int hour_start)
{
    struct tm tm;
    if (pc_local_time(ms, tz ? tz : "UTC", &tm))
        return ms / 86400000;
    return cal_days_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday) -
           (tm.tm_hour < hour_start ? 1 : 0);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - ((a % b) != 0 && ((a < 0) != (b < 0)));
}

/* Monday-based weekday, 0 = Monday; 1970-01-01 was a Thursday. */
static int weekday(int64_t dn)
{
    return (int)(((dn + 3) % 7 + 7) % 7);
}

int64_t cal_period_index(int64_t ms, const char *tz, int hour_start, int period)
{
    int64_t dn = cal_day_number(ms, tz, hour_start);
    int y, m, d;
    switch (period) {
    case CAL_DAY:
        return dn;
    case CAL_WEEK:
        return floor_div(dn - weekday(dn) - 4, 7); /* 1970-01-05 was a Monday */
    case CAL_MONTH:
        cal_civil_from_days(dn, &y, &m, &d);
        return (int64_t)y * 12 + m - 1;
    case CAL_YEAR:
        cal_civil_from_days(dn, &y, &m, &d);
        return y;
    default:
        return 0;
    }
}

void cal_period_id(int64_t ms, const char *tz, int hour_start, int period, char *out, size_t n)
{
    int64_t dn = cal_day_number(ms, tz, hour_start);
    int y, m, d;
    cal_civil_from_days(dn, &y, &m, &d);
    switch (period) {
    case CAL_DAY:
        snprintf(out, n, "%04d-%02d-%02d", y, m, d);
        break;
    case CAL_WEEK: {
        /* ISO 8601: the week belongs to the year of its Thursday. */
        int64_t thu = dn - weekday(dn) + 3;
        int ty, tm_, td;
        cal_civil_from_days(thu, &ty, &tm_, &td);
        snprintf(out, n, "%04d-W%02d", ty, (int)((thu - cal_days_from_civil(ty, 1, 1)) / 7 + 1));
        break;
    }
    case CAL_MONTH:
        snprintf(out, n, "%04d-%02d", y, m);
        break;
    case CAL_YEAR:
        snprintf(out, n, "%04d", y);
        break;
    default:
        snprintf(out, n, "all");
    }
}

int cal_period_ttl(int period)
{
    static const int len[] = {0, 86400, 7 * 86400, 31 * 86400, 366 * 86400};
    return period > CAL_ALL && period <= CAL_YEAR ? len[period] + 7 * 86400 : 0;
}

int64_t cal_utc_seconds(int64_t y, int m, int64_t d, int64_t hour, int64_t min, int64_t sec)
{
    /* days_from_civil is linear in the day, so day 0 or 32 carries over like the rest. */
    return (cal_days_from_civil(y, m, 1) + d - 1) * 86400 + hour * 3600 + min * 60 + sec;
}

/*
 * The UTC civil date of ms, and the time of day left over. Whole seconds are
 * taken toward zero and the milliseconds kept apart, as gmtime of ms / 1000
 * would, so that times before 1970 round as they always did.
 */
static void utc_date(int64_t ms, int *y, int *m, int *d, int64_t *sec_of_day, int64_t *sub_ms)
{
    int64_t secs = ms / 1000, days = floor_div(secs, 86400);
    *sec_of_day = secs - days * 86400;
    *sub_ms = ms % 1000;
    cal_civil_from_days(days, y, m, d);
}

static int days_in_month(int64_t y, int m)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return mdays[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
}

int64_t cal_add_months(int64_t ms, int months)
{
    int y, m, d;
    int64_t sod, sub, mi;
    utc_date(ms, &y, &m, &d, &sod, &sub);
    mi = (int64_t)y * 12 + (m - 1) + months;
    y = (int)floor_div(mi, 12);
    m = (int)(mi - (int64_t)y * 12) + 1;
    if (d > days_in_month(y, m)) /* Jan 31 + 1 month = Feb 28 (or 29) */
        d = days_in_month(y, m);
    return (cal_days_from_civil(y, m, d) * 86400 + sod) * 1000 + sub;
}

int64_t cal_period_end(int64_t ms, const char *period)
{
    int y, m, d;
    int64_t sod, sub;
    utc_date(ms, &y, &m, &d, &sod, &sub);
    if (!strcmp(period, "month")) {
        m += 1;
    } else if (!strcmp(period, "quarter")) {
        m = ((m - 1) / 3 + 1) * 3 + 1;
    } else if (!strcmp(period, "year")) {
        m = 13;
    } else {
        return -1;
    }
    if (m > 12) {
        y += 1;
        m -= 12;
    }
    return cal_days_from_civil(y, m, 1) * 86400000;
}

int cal_parse_span(const char *s, int *months, int64_t *ms)
{
    int64_t mo = 0, total = 0;
    *months = 0;
    *ms = 0;
    if (!s || !*s)
        return -1;
    while (*s) {
        char *end;
        long long n;
        int64_t unit = 0;
        if (*s < '0' || *s > '9')
            return -1;
        n = strtoll(s, &end, 10);
        if (end == s || n < 0 || n > 100000)
            return -1;
        if (end[0] == 'm' && end[1] == 'o') {
            mo += n;
            end += 2;
        } else if (end[0] == 'y') {
            mo += n * 12;
            end += 1;
        } else {
            switch (*end) {
            case 'w':
                unit = 7 * 86400000LL;
                break;
            case 'd':
                unit = 86400000LL;
                break;
            case 'h':
                unit = 3600000LL;
                break;
            case 'm':
                unit = 60000LL;
                break;
            case 's':
                unit = 1000LL;
                break;
            default:
                return -1;
            }
            total += n * unit;
            end += 1;
        }
        if (mo > 1200000 || total > 100000LL * 7 * 86400000LL)
            return -1;
        s = end;
    }
    *months = (int)mo;
    *ms = total;
    return 0;
}

int64_t cal_add_span(int64_t at_ms, int months, int64_t ms)
{
    return cal_add_months(at_ms, months) + ms;
}

int pc_period_id(int64_t ms, const char *tz, const char *per, char *out, size_t n)
{
    int p = cal_period_parse(per);
    if (p <= CAL_ALL)
        return -1;
    cal_period_id(ms, tz ? tz : "UTC", 0, p, out, n);
    return 0;
}
