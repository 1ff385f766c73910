/*
 * Calendar periods, draw secrets and rolls, control-group buckets, and the
 * rendering of streaks and badge levels (punchcard/game.h).
 */
#include "punchcard/game.h"
#include "punchcard/common.h"

#include <inttypes.h>
#include <math.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int game_period_parse(const char *s)
{
    static const char *const names[] = {"all", "day", "week", "month", "year"};
    if (!s)
        return -1;
    if (!strcmp(s, "never"))
        return GP_ALL;
    for (int i = 0; i < 5; i++)
        if (!strcmp(s, names[i]))
            return i;
    return -1;
}

const char *game_period_name(int period)
{
    static const char *const names[] = {"all", "day", "week", "month", "year"};
    return period >= 0 && period <= GP_YEAR ? names[period] : "all";
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
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

int64_t game_day_number(int64_t ms, const char *tz, int hour_start)
{
    struct tm tm;
    if (pc_local_time(ms, tz ? tz : "UTC", &tm))
        return ms / 86400000;
    return days_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday) -
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

int64_t game_period_index(int64_t ms, const char *tz, int hour_start, int period)
{
    int64_t dn = game_day_number(ms, tz, hour_start);
    int y, m, d;
    switch (period) {
    case GP_DAY:
        return dn;
    case GP_WEEK:
        return floor_div(dn - weekday(dn) - 4, 7); /* 1970-01-05 was a Monday */
    case GP_MONTH:
        civil_from_days(dn, &y, &m, &d);
        return (int64_t)y * 12 + m - 1;
    case GP_YEAR:
        civil_from_days(dn, &y, &m, &d);
        return y;
    default:
        return 0;
    }
}

void game_period_id(int64_t ms, const char *tz, int hour_start, int period, char *out, size_t n)
{
    int64_t dn = game_day_number(ms, tz, hour_start);
    int y, m, d;
    civil_from_days(dn, &y, &m, &d);
    switch (period) {
    case GP_DAY:
        snprintf(out, n, "%04d-%02d-%02d", y, m, d);
        break;
    case GP_WEEK: {
        /* ISO 8601: the week belongs to the year of its Thursday. */
        int64_t thu = dn - weekday(dn) + 3;
        int ty, tm_, td;
        civil_from_days(thu, &ty, &tm_, &td);
        snprintf(out, n, "%04d-W%02d", ty, (int)((thu - days_from_civil(ty, 1, 1)) / 7 + 1));
        break;
    }
    case GP_MONTH:
        snprintf(out, n, "%04d-%02d", y, m);
        break;
    case GP_YEAR:
        snprintf(out, n, "%04d", y);
        break;
    default:
        snprintf(out, n, "all");
    }
}

int game_period_ttl(int period)
{
    static const int len[] = {0, 86400, 7 * 86400, 31 * 86400, 366 * 86400};
    return period > GP_ALL && period <= GP_YEAR ? len[period] + 7 * 86400 : 0;
}

/* Written once by main before any worker runs; read-only afterwards. */
static char draw_master[512] = "punchcard-development-draw-secret";
static size_t draw_master_len = sizeof "punchcard-development-draw-secret" - 1;
static char draw_source[16] = "development";

void game_set_draw_secret(const char *secret, size_t len)
{
    if (len > sizeof draw_master)
        len = sizeof draw_master;
    memcpy(draw_master, secret, len);
    draw_master_len = len;
}

void game_set_draw_secret_source(const char *source)
{
    snprintf(draw_source, sizeof draw_source, "%s", source);
}

const char *game_draw_secret_source(void)
{
    return draw_source;
}

static void hex(const unsigned char *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = '\0';
}

void game_draw_secret(const char *draw, int64_t epoch, char out[65])
{
    char msg[160];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    int n = snprintf(msg, sizeof msg, "punchcard/draw/%s/%" PRId64, draw, epoch);
    HMAC(EVP_sha256(), draw_master, (int)draw_master_len, (const unsigned char *)msg, (size_t)n,
         mac, &maclen);
    hex(mac, 32, out);
}

void game_draw_commitment(const char *draw, int64_t epoch, char out[65])
{
    char secret[65];
    game_draw_secret(draw, epoch, secret);
    pc_sha256_hex(secret, 64, out);
}

static uint64_t be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

void game_draw_roll(const char *draw, int64_t epoch, const char *member, const char *event_id,
                    uint64_t *u, uint64_t *pick)
{
    char secret[65], msg[400];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    int n = snprintf(msg, sizeof msg, "%s\n%s\n%s", member, event_id, draw);
    game_draw_secret(draw, epoch, secret);
    HMAC(EVP_sha256(), secret, 64, (const unsigned char *)msg, (size_t)n, mac, &maclen);
    *u = be64(mac);
    *pick = be64(mac + 8);
}

int game_draw_wins(uint64_t u, double chance)
{
    if (!(chance > 0))
        return 0;
    if (chance >= 1)
        return 1;
    /* chance * 2^64 is exact in binary; its floor is below 2^64. */
    return (long double)u < floorl(ldexpl((long double)chance, 64));
}

int game_bucket(const char *salt, const char *member)
{
    char msg[300], h[65];
    int n = snprintf(msg, sizeof msg, "%s\n%s", salt, member);
    pc_sha256_hex(msg, (size_t)n, h);
    h[16] = '\0';
    return (int)(strtoull(h, NULL, 16) % 10000);
}

/* The named object in parent, created empty when missing. */
static json_t *child(json_t *parent, const char *name)
{
    json_t *o = json_object_get(parent, name);
    if (!o) {
        o = json_object();
        json_object_set_new(parent, name, o);
    }
    return o;
}

static int64_t int_of(const char *s)
{
    return s ? strtoll(s, NULL, 10) : 0;
}

void game_member_json(const member_state *m, json_t *badges, json_t *streaks)
{
    static const struct {
        const char *suffix, *key;
    } sfields[] = {{"len", "length"}, {"best", "best"}, {"frz", "freezes"}};
    for (size_t i = 0; i < m->nfields; i++) {
        const member_field *f = &m->fields[i];
        const char *n = f->name, *colon;
        char name[80];
        if (!f->value)
            continue;
        if (!strncmp(n, "s:", 2) && (colon = strrchr(n + 2, ':')) &&
            (size_t)(colon - n - 2) < sizeof name) {
            json_t *s;
            snprintf(name, sizeof name, "%.*s", (int)(colon - n - 2), n + 2);
            s = child(streaks, name);
            for (size_t k = 0; k < sizeof sfields / sizeof *sfields; k++)
                if (!strcmp(colon + 1, sfields[k].suffix))
                    json_object_set_new(s, sfields[k].key, json_integer(int_of(f->value)));
            if (!strcmp(colon + 1, "last")) {
                char ts[32];
                pc_time_format(int_of(f->value), ts, sizeof ts);
                json_object_set_new(s, "last_at", json_string(ts));
            }
        } else if (!strncmp(n, "gt:", 3)) {
            char ts[32];
            pc_time_format(int_of(f->value), ts, sizeof ts);
            json_object_set_new(child(badges, n + 3), "level_at", json_string(ts));
        } else if (n[0] == 'g' && n[2] == ':' && (n[1] == 'l' || n[1] == 'p' || n[1] == 'n')) {
            static const char *const keys[] = {"level", "progress", "next"};
            const char *key = keys[n[1] == 'l' ? 0 : n[1] == 'p' ? 1 : 2];
            json_object_set_new(child(badges, n + 3), key, json_integer(int_of(f->value)));
        }
    }
}
