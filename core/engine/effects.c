/*
 * Post-commit effects (effects.h), through the store's typed operations.
 */
#include "effects.h"
#include "builtin.h"
#include "experiments.h"
#include "common/calendar-internal.h"
#include "store/ops-internal.h"

#include <stdio.h>
#include <string.h>

typedef struct figures {
    store *s;
    const char *ns, *partner;
    char day[32];
} figures;

static void add_figure(void *arg, const char *currency, const char *kind, int64_t amount)
{
    figures *f = arg;
    store_stats_add(f->s, f->ns, f->day, f->partner, currency, kind, amount);
}

void effects_figures(store *s, const char *ns, const char *at, const pc_event *ev,
                     const member_state *m)
{
    figures f = {.s = s, .ns = ns, .partner = ev->partner[0] ? ev->partner : NULL};
    pc_copy(f.day, 11, at); /* the UTC day: YYYY-MM-DD */
    builtin_figures(m, add_figure, &f);
}

static void leaderboard(store *s, const char *ns, const pc_event *ev, json_t *fx)
{
    const char *board = json_string_value(json_object_get(fx, "board"));
    const char *period = json_string_value(json_object_get(fx, "period"));
    const char *per = json_string_value(json_object_get(fx, "per"));
    const char *tz = json_string_value(json_object_get(fx, "tz"));
    if (!board || !period || !per || !tz)
        return;
    store_board_add(s, ns, board, period, ev->member,
                    json_integer_value(json_object_get(fx, "score")),
                    cal_period_ttl(cal_period_parse(per)), per, tz, NULL, NULL);
}

int effects_referral(const char *friend_id, const char *referrer, const char *type,
                     const char *claim_id, effects_follow_up *out)
{
    char id[PC_ID_MAX + 1];
    json_t *ev;
    pc_error err;
    int rc;
    if (strlen(friend_id) <= PC_ID_MAX - 4) {
        snprintf(id, sizeof id, "ref:%s", friend_id);
    } else {
        char h[41];
        pc_sha1_hex(friend_id, strlen(friend_id), h);
        snprintf(id, sizeof id, "ref:%s", h);
    }
    ev = json_pack("{s:s, s:s, s:s, s:{s:s}}", "id", id, "type", type, "member", referrer, "data",
                   "friend", friend_id);
    rc = ev ? pc_event_from_json(ev, &out->ev, &err) : -1;
    json_decref(ev);
    if (rc) {
        pc_log(PC_LOG_WARN, "referral of %s: cannot send %s its event", friend_id, referrer);
        return -1;
    }
    claims_entry(out->entry, sizeof out->entry, "deliver", friend_id, claim_id);
    return 0;
}

int effects_apply(store *s, const char *ns, const pc_event *ev, json_t *effect,
                  effects_follow_up *out)
{
    const char *op = json_string_value(json_object_get(effect, "op"));
    if (op && !strcmp(op, "schedule")) {
        store_due_set(s, ns, ev->member, json_integer_value(json_object_get(effect, "due")), NULL,
                      NULL);
    } else if (op && !strcmp(op, "experiment")) {
        experiments_apply(s, ns, effect);
    } else if (op && !strcmp(op, "leaderboard")) {
        leaderboard(s, ns, ev, effect);
    } else if (op && !strcmp(op, "referral")) {
        /* The friend's event committed holding the referral: reward the referrer. */
        const char *by = json_string_value(json_object_get(effect, "referrer"));
        const char *type = json_string_value(json_object_get(effect, "type"));
        char claim_id[CLAIM_ID_MAX];
        if (!by || !type)
            return 0;
        claims_id(claim_id, sizeof claim_id, 0, ev->member, ev->id, "referral", ev->member);
        return effects_referral(ev->member, by, type, claim_id, out) == 0;
    } else {
        pc_log(PC_LOG_WARN, "event %s: unknown effect %s", ev->id, op ? op : "(none)");
    }
    return 0;
}
