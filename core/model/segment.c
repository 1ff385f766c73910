/*
 * Segments (segment-internal.h): which members a broadcast reaches, as a
 * marketer says it — "gold and platinum members in France who joined before
 * March and bought something since June". Pure data: a JSON object checked
 * once when the broadcast is made, then matched against each member's state
 * inside the member's own transaction (engine.c), so the member is judged on
 * the state the event is applied to.
 */
#include "model/segment-internal.h"
#include "punchcard/event.h"

#include <stdio.h>
#include <string.h>

#define SEGMENT_LIST_MAX 32 /* values in one list, attributes, badges, currencies */

/* 1 when v is a name (or, strings 1, a non-empty string up to 256) or a list of 1-32 of them. */
static int names_ok(const json_t *v, int strings)
{
    size_t i, n;
    const json_t *x;
    if (json_is_string(v))
        return strings ? json_string_length(v) > 0 && json_string_length(v) <= 256
                       : pc_valid_name(json_string_value(v));
    if (!json_is_array(v) || (n = json_array_size(v)) == 0 || n > SEGMENT_LIST_MAX)
        return 0;
    json_array_foreach(v, i, x)
        if (!names_ok(x, strings) || json_is_array(x))
            return 0;
    return 1;
}

/* 1 when s equals v (a string) or one of v's strings. */
static int one_of(const json_t *v, const char *s)
{
    size_t i;
    const json_t *x;
    if (!s)
        return 0;
    if (json_is_string(v))
        return !strcmp(json_string_value(v), s);
    json_array_foreach(v, i, x)
        if (!strcmp(json_string_value(x), s))
            return 1;
    return 0;
}

static const char *const time_keys[] = {"joined_before", "joined_after", "active_since",
                                        "inactive_since"};

/* A time of the segment: RFC 3339, or a bare date (its midnight, UTC). 0, or -1. */
static int seg_time(const char *s, int64_t *ms)
{
    char buf[40];
    if (!s || strlen(s) >= 30)
        return -1;
    snprintf(buf, sizeof buf, strlen(s) == 10 ? "%sT00:00:00Z" : "%s", s);
    return pc_time_parse(buf, ms);
}

static int is_time_key(const char *k)
{
    for (size_t i = 0; i < sizeof time_keys / sizeof *time_keys; i++)
        if (!strcmp(k, time_keys[i]))
            return 1;
    return 0;
}

int segment_check(const json_t *seg, pc_error *err)
{
    const char *k;
    const json_t *v, *x;
    if (!seg || json_is_null(seg))
        return 0;
    if (!json_is_object(seg))
        return pc_fail(err, 400, "bad_request",
                       "segment must be an object like {\"tier\": [\"gold\"], \"attributes\": "
                       "{\"country\": \"FR\"}}");
    json_object_foreach((json_t *)seg, k, v) {
        int64_t ms;
        if (!strcmp(k, "tier")) {
            if (!names_ok(v, 0))
                return pc_fail(err, 400, "bad_request",
                               "segment.tier must be a tier name or a list of 1-32 of them");
        } else if (!strcmp(k, "attributes") || !strcmp(k, "min_balance")) {
            int attrs = k[0] == 'a';
            const char *name;
            if (!json_is_object(v) || json_object_size(v) == 0 ||
                json_object_size(v) > SEGMENT_LIST_MAX)
                return pc_fail(err, 400, "bad_request", "segment.%s must be an object of 1-32 %s",
                               k, attrs ? "attributes" : "currencies");
            json_object_foreach((json_t *)v, name, x) {
                if (!pc_valid_name(name))
                    return pc_fail(err, 400, "bad_request", "segment.%s: bad name \"%.64s\"", k,
                                   name);
                if (attrs && !names_ok(x, 1))
                    return pc_fail(err, 400, "bad_request",
                                   "segment.attributes.%s must be a string or a list of 1-32 "
                                   "strings (one of them matches)",
                                   name);
                if (!attrs && (!json_is_integer(x) || json_integer_value(x) < 0 ||
                               json_integer_value(x) > INT64_C(1000000000000000)))
                    return pc_fail(err, 400, "bad_request",
                                   "segment.min_balance.%s must be a whole number >= 0", name);
            }
        } else if (!strcmp(k, "badges")) {
            if (!names_ok(v, 0) || json_is_string(v))
                return pc_fail(err, 400, "bad_request",
                               "segment.badges must be a list of 1-32 badge names (all held)");
        } else if (is_time_key(k)) {
            if (!json_is_string(v) || seg_time(json_string_value(v), &ms))
                return pc_fail(err, 400, "bad_request",
                               "segment.%s must be a time like 2026-03-01T00:00:00Z (or a date "
                               "like 2026-03-01: its midnight, UTC)",
                               k);
        } else {
            return pc_fail(err, 400, "bad_request",
                           "segment: unknown key \"%.64s\" (tier, attributes, badges, "
                           "min_balance, joined_before, joined_after, active_since, "
                           "inactive_since)",
                           k);
        }
    }
    return 0;
}

int segment_has(const json_t *seg, const member_state *m)
{
    const char *k, *name;
    const json_t *v, *x;
    size_t i;
    if (!json_is_object(seg))
        return 1;
    json_object_foreach((json_t *)seg, k, v) {
        int64_t t = 0;
        if (!strcmp(k, "tier")) {
            if (!one_of(v, member_tier(m)))
                return 0;
        } else if (!strcmp(k, "attributes")) {
            json_object_foreach((json_t *)v, name, x)
                if (!one_of(x, member_attr(m, name)))
                    return 0;
        } else if (!strcmp(k, "min_balance")) {
            json_object_foreach((json_t *)v, name, x)
                if (member_balance(m, name) < json_integer_value(x))
                    return 0;
        } else if (!strcmp(k, "badges")) {
            json_array_foreach(v, i, x)
                if (!member_has_badge(m, json_string_value(x)))
                    return 0;
        } else if (is_time_key(k) && !seg_time(json_string_value(v), &t)) {
            int64_t joined = member_joined_at(m), last = member_last_event_at(m);
            if ((!strcmp(k, "joined_before") && !(joined && joined < t)) ||
                (!strcmp(k, "joined_after") && !(joined >= t)) ||
                (!strcmp(k, "active_since") && !(last >= t)) ||
                (!strcmp(k, "inactive_since") && last >= t))
                return 0;
        }
    }
    return 1;
}
