/*
 * Civil time in a member's time zone, from the system tzdata through libc.
 * glibc keeps one current zone (TZ), so conversions take a lock, switch TZ
 * only when the zone differs from the last one, and restore nothing: nothing
 * else in Punchcard uses local time (logs and stored times are UTC).
 */
#include "punchcard/common.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;
static char tz_current[128];

int pc_tz_valid(const char *tz)
{
    char path[256];
    if (!tz || !*tz || strlen(tz) > 100 || strstr(tz, "..") || tz[0] == '/')
        return 0;
    for (const char *p = tz; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              strchr("/_+-", *p)))
            return 0;
    if (!strcmp(tz, "UTC"))
        return 1;
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", tz);
    return access(path, R_OK) == 0;
}

/* Called with tz_lock held. */
static void use_zone(const char *tz)
{
    if (!pc_tz_valid(tz))
        tz = "UTC";
    if (strcmp(tz_current, tz) != 0) {
        snprintf(tz_current, sizeof tz_current, "%s", tz);
        setenv("TZ", tz, 1);
        tzset();
    }
}

int pc_local_time(int64_t ms, const char *tz, struct tm *out)
{
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int rc;
    pthread_mutex_lock(&tz_lock);
    use_zone(tz);
    rc = localtime_r(&t, out) ? 0 : -1;
    pthread_mutex_unlock(&tz_lock);
    return rc;
}

int64_t pc_local_day_start(int64_t ms, const char *tz, int hour_start)
{
    struct tm tm;
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    time_t start;
    pthread_mutex_lock(&tz_lock);
    use_zone(tz);
    localtime_r(&t, &tm);
    /* Before the day-start hour, the day began yesterday. */
    if (tm.tm_hour < hour_start)
        tm.tm_mday -= 1;
    tm.tm_hour = hour_start;
    tm.tm_min = 0;
    tm.tm_sec = 0;
    tm.tm_isdst = -1; /* let mktime find DST for that moment */
    start = mktime(&tm);
    pthread_mutex_unlock(&tz_lock);
    return (int64_t)start * 1000;
}

int64_t pc_local_to_utc(const char *tz, int year, int month, int day, int hour, int min, int sec)
{
    struct tm tm = {0};
    time_t t;
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    tm.tm_isdst = -1; /* let mktime find DST for that moment */
    pthread_mutex_lock(&tz_lock);
    use_zone(tz);
    t = mktime(&tm);
    pthread_mutex_unlock(&tz_lock);
    return (int64_t)t * 1000;
}
