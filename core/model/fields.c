/*
 * The typed accessors the mechanics API and the engine read and write a
 * member's fields with (member-internal.h). Names come from schema.c's
 * table, so no other file writes "b:%s" or "s:%s:len" by hand.
 */
#include "model/member-internal.h"
#include "common/calendar-internal.h"
#include "punchcard/common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value of field kind of name (sub), or NULL. */
static const char *get(const member_state *m, enum member_kind kind, const char *name,
                       const char *sub)
{
    char f[MEMBER_FIELD_MAX];
    return member_field_name(f, sizeof f, kind, name, sub) ? member_get(m, f) : NULL;
}

static int64_t get_int(const member_state *m, enum member_kind kind, const char *name,
                       const char *sub)
{
    char f[MEMBER_FIELD_MAX];
    return member_field_name(f, sizeof f, kind, name, sub) ? member_get_int(m, f) : 0;
}

static int set(member_state *m, enum member_kind kind, const char *name, const char *sub,
               const char *value)
{
    char f[MEMBER_FIELD_MAX];
    return member_field_name(f, sizeof f, kind, name, sub) ? member_set(m, f, value) : -1;
}

static int set_int(member_state *m, enum member_kind kind, const char *name, const char *sub,
                   int64_t value)
{
    char f[MEMBER_FIELD_MAX];
    return member_field_name(f, sizeof f, kind, name, sub) ? member_set_int(m, f, value) : -1;
}

int64_t member_balance(const member_state *m, const char *currency)
{
    return get_int(m, MEMBER_F_BALANCE, currency, NULL);
}

int64_t member_pending(const member_state *m, const char *currency)
{
    return get_int(m, MEMBER_F_PENDING, currency, NULL);
}

int64_t member_counter(const member_state *m, const char *counter)
{
    return get_int(m, MEMBER_F_COUNTER, counter, NULL);
}

int member_set_counter(member_state *m, const char *counter, int64_t value)
{
    return set_int(m, MEMBER_F_COUNTER, counter, NULL, value);
}

int member_add_counter(member_state *m, const char *counter, int64_t by, int64_t *value)
{
    char f[MEMBER_FIELD_MAX];
    member_field *fld;
    if (!member_field_name(f, sizeof f, MEMBER_F_COUNTER, counter, NULL)) {
        *value = by; /* an absent counter's 0 + by: the set fails as out of memory */
        return -1;
    }
    fld = member_field_of(m, f); /* valid until a field is added */
    if (__builtin_add_overflow(member_field_int(fld), by, value))
        return 1;
    return fld ? member_field_set_int(fld, *value) : member_set_int(m, f, *value);
}

int member_add_prize(member_state *m, const char *prize)
{
    int64_t n = get_int(m, MEMBER_F_PRIZE, prize, NULL);
    return set_int(m, MEMBER_F_PRIZE, prize, NULL, n < INT64_MAX ? n + 1 : n);
}

int member_has_badge(const member_state *m, const char *badge)
{
    return get(m, MEMBER_F_BADGE, badge, NULL) != NULL;
}

int member_award_badge(member_state *m, const char *badge, int64_t at_ms)
{
    if (member_has_badge(m, badge))
        return 0;
    return set_int(m, MEMBER_F_BADGE, badge, NULL, at_ms) ? -1 : 1;
}

const char *member_tier(const member_state *m)
{
    return get(m, MEMBER_F_TIER, NULL, NULL);
}

int member_set_tier(member_state *m, const char *tier)
{
    return set(m, MEMBER_F_TIER, NULL, NULL, tier);
}

const char *member_tier_floor(const member_state *m)
{
    return get(m, MEMBER_F_TIER_FLOOR, NULL, NULL);
}

int member_set_tier_floor(member_state *m, const char *tier)
{
    return set(m, MEMBER_F_TIER_FLOOR, NULL, NULL, tier);
}

const char *member_attr(const member_state *m, const char *name)
{
    return get(m, MEMBER_F_ATTR, name, NULL);
}

int member_set_attr(member_state *m, const char *name, const char *value)
{
    return set(m, MEMBER_F_ATTR, name, NULL, value);
}

const char *member_tz(const member_state *m, const char *def)
{
    const char *tz = member_attr(m, "tz");
    return tz && pc_tz_valid(tz) ? tz : def;
}

int member_birthday(const member_state *m, int *month, int *day)
{
    const char *b = member_attr(m, "birthday");
    *month = *day = 0;
    if (!b || (sscanf(b, "%*4d-%2d-%2d", month, day) != 2 && sscanf(b, "%2d-%2d", month, day) != 2))
        return -1;
    return 0;
}

int member_mark_once(member_state *m, const char *key, int64_t at_ms)
{
    if (get(m, MEMBER_F_ONCE, key, NULL))
        return 0;
    return set_int(m, MEMBER_F_ONCE, key, NULL, at_ms) ? -1 : 1;
}

int64_t member_wake(const member_state *m)
{
    return get_int(m, MEMBER_F_WAKE, NULL, NULL);
}

int member_set_wake(member_state *m, int64_t at_ms)
{
    return at_ms ? set_int(m, MEMBER_F_WAKE, NULL, NULL, at_ms)
                 : set(m, MEMBER_F_WAKE, NULL, NULL, NULL);
}

int64_t member_notice_due(const member_state *m)
{
    return get_int(m, MEMBER_F_NOTICE_DUE, NULL, NULL);
}

int member_set_notice_due(member_state *m, int64_t at_ms)
{
    if (at_ms == member_notice_due(m))
        return 0;
    return at_ms ? set_int(m, MEMBER_F_NOTICE_DUE, NULL, NULL, at_ms)
                 : set(m, MEMBER_F_NOTICE_DUE, NULL, NULL, NULL);
}

int64_t member_noticed(const member_state *m, const char *currency)
{
    return get_int(m, MEMBER_F_NOTICED, currency, NULL);
}

int member_set_noticed(member_state *m, const char *currency, int64_t expires_ms)
{
    return set_int(m, MEMBER_F_NOTICED, currency, NULL, expires_ms);
}

int64_t member_due(const member_state *m)
{
    return get_int(m, MEMBER_F_DUE, NULL, NULL);
}

int member_set_due(member_state *m, int64_t at_ms)
{
    return at_ms ? set_int(m, MEMBER_F_DUE, NULL, NULL, at_ms)
                 : set(m, MEMBER_F_DUE, NULL, NULL, NULL);
}

/* "YYYYMM" of the UTC month holding at_ms (its whole seconds): a window bucket's sub. */
static void month_of(int64_t at_ms, char out[16])
{
    int64_t secs = at_ms / 1000, days = secs / 86400 - (secs % 86400 < 0);
    int y, mo, d;
    cal_civil_from_days(days, &y, &mo, &d);
    snprintf(out, 16, "%04d%02d", y, mo);
}

int64_t member_window(const member_state *m, const char *name, int64_t at_ms)
{
    char month[16];
    month_of(at_ms, month);
    return get_int(m, MEMBER_F_WINDOW, name, month);
}

int member_set_window(member_state *m, const char *name, int64_t at_ms, int64_t value)
{
    char month[16];
    month_of(at_ms, month);
    return set_int(m, MEMBER_F_WINDOW, name, month, value);
}

void member_drop_windows(member_state *m, const char *name, int64_t at_ms)
{
    char month[16];
    size_t n = strlen(name);
    month_of(at_ms, month);
    for (size_t i = 0; i < m->nfields; i++) {
        member_field *f = &m->fields[i];
        member_field_ref r;
        /* Months as YYYYMM compare as text. */
        if (f->value && member_field_is(f->name, MEMBER_F_WINDOW, &r) && r.name_len == n &&
            !memcmp(r.name, name, n) && strcmp(r.sub, month) <= 0)
            member_set(m, f->name, NULL);
    }
}

int64_t member_streak(const member_state *m, const char *streak, enum member_streak_part part)
{
    return get_int(m, (enum member_kind)(MEMBER_F_STREAK_LEN + (int)part), streak, NULL);
}

int member_set_streak(member_state *m, const char *streak, enum member_streak_part part,
                      int64_t value)
{
    return set_int(m, (enum member_kind)(MEMBER_F_STREAK_LEN + (int)part), streak, NULL, value);
}

int64_t member_level(const member_state *m, const char *badge, enum member_level_part part)
{
    return get_int(m, (enum member_kind)(MEMBER_F_LEVEL + (int)part), badge, NULL);
}

int member_set_level(member_state *m, const char *badge, enum member_level_part part, int64_t value)
{
    enum member_kind kind = (enum member_kind)(MEMBER_F_LEVEL + (int)part);
    if (part == MEMBER_LEVEL_NEXT && value == 0)
        return set(m, kind, badge, NULL, NULL);
    return set_int(m, kind, badge, NULL, value);
}

/* dw:<draw> holds "<period id>|<wins>": wins count only in the period they were won in. */
int64_t member_draw_wins(const member_state *m, const char *draw, const char *period_id)
{
    const char *v = get(m, MEMBER_F_DRAW_WINS, draw, NULL), *bar = v ? strchr(v, '|') : NULL;
    size_t n = strlen(period_id);
    return bar && (size_t)(bar - v) == n && !strncmp(v, period_id, n) ? pc_strtoll(bar + 1, NULL)
                                                                      : 0;
}

int member_set_draw_wins(member_state *m, const char *draw, const char *period_id, int64_t wins)
{
    char v[64];
    snprintf(v, sizeof v, "%s|%" PRId64, period_id, wins);
    return set(m, MEMBER_F_DRAW_WINS, draw, NULL, v);
}

int64_t member_joined_at(const member_state *m)
{
    return get_int(m, MEMBER_F_JOINED, NULL, NULL);
}

int64_t member_last_event_at(const member_state *m)
{
    return get_int(m, MEMBER_F_LAST_EVENT, NULL, NULL);
}

int64_t member_last_of(const member_state *m, const char *type)
{
    return get_int(m, MEMBER_F_LAST_TYPE, type, NULL);
}

/*
 * Moves the time in field kind of name to at_ms when at_ms is earlier (earliest;
 * an absent 0 counts as none) or later than it: the field looked up once and
 * written where it is, as text (at_ms written out, len bytes). 0, or -1 when out
 * of memory (or the name is too long).
 */
static int stamp(member_state *m, enum member_kind kind, const char *name, int64_t at_ms,
                 int earliest, const char *text, size_t len)
{
    char f[MEMBER_FIELD_MAX];
    int named = member_field_name(f, sizeof f, kind, name, NULL) != NULL;
    member_field *fld = named ? member_field_of(m, f) : NULL;
    int64_t v = member_field_int(fld);
    if (earliest ? v && at_ms >= v : at_ms <= v)
        return 0;
    if (!named)
        return -1;
    return fld ? member_field_set_int_text(fld, at_ms, text, len)
               : member_set_int_text(m, f, at_ms, text, len);
}

int member_stamp_event(member_state *m, const char *type, int64_t at_ms)
{
    char text[24]; /* at_ms written out once for the three fields */
    size_t len = pc_format_int(text, at_ms);
    text[len] = '\0';
    if (stamp(m, MEMBER_F_JOINED, NULL, at_ms, 1, text, len) ||
        stamp(m, MEMBER_F_LAST_EVENT, NULL, at_ms, 0, text, len) ||
        stamp(m, MEMBER_F_LAST_TYPE, type, at_ms, 0, text, len))
        return -1;
    return 0;
}

int member_experiment(const member_state *m, const char *exp, const char **group, int64_t *spend)
{
    const char *v = get(m, MEMBER_F_EXPERIMENT, exp, NULL);
    const char *bar = v ? strchr(v, '|') : NULL;
    if (!bar)
        return -1;
    *group = (size_t)(bar - v) == 7 && !strncmp(v, "control", 7) ? "control" : "treatment";
    *spend = pc_strtoll(bar + 1, NULL);
    return 0;
}

int member_set_experiment(member_state *m, const char *exp, const char *group, int64_t spend)
{
    char v[64];
    snprintf(v, sizeof v, "%s|%" PRId64, group, spend);
    return set(m, MEMBER_F_EXPERIMENT, exp, NULL, v);
}
