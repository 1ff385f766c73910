/*
 * The engine's own post-commit effects (effects.h).
 */
#include "effects.h"
#include "store/store-internal.h"

#include <stdio.h>
#include <string.h>

static void ignore(redisReply *r, const char *err, void *arg)
{
    (void)r;
    (void)arg;
    if (err)
        pc_log(PC_LOG_WARN, "effect lost: %s", err);
}

static void incr(store *s, const char *key, const char *field, json_int_t by)
{
    char n[32];
    const char *argv[4] = {"HINCRBY", key, field, n};
    snprintf(n, sizeof n, "%lld", (long long)by);
    store_command(s, ignore, NULL, 4, argv, NULL);
}

int effects_apply(store *s, const char *ns, const pc_event *ev, json_t *effect)
{
    const char *op = json_string_value(json_object_get(effect, "op"));
    char key[256];
    if (!op)
        return 0;
    if (!strcmp(op, "schedule")) {
        json_int_t due = json_integer_value(json_object_get(effect, "due"));
        char score[32];
        snprintf(key, sizeof key, "%s:due", ns);
        snprintf(score, sizeof score, "%lld", (long long)due);
        if (due) {
            const char *argv[4] = {"ZADD", key, score, ev->member};
            store_command(s, ignore, NULL, 4, argv, NULL);
        } else {
            const char *argv[3] = {"ZREM", key, ev->member};
            store_command(s, ignore, NULL, 3, argv, NULL);
        }
        return 1;
    }
    if (!strcmp(op, "stats")) {
        const char *day = json_string_value(json_object_get(effect, "day"));
        const char *partner = json_string_value(json_object_get(effect, "partner"));
        json_t *mv;
        size_t i;
        json_array_foreach(json_object_get(effect, "moves"), i, mv)
        {
            char field[160];
            json_int_t amount = json_integer_value(json_array_get(mv, 2));
            snprintf(field, sizeof field, "%s:%s", json_string_value(json_array_get(mv, 0)),
                     json_string_value(json_array_get(mv, 1)));
            snprintf(key, sizeof key, "%s:stats:%s", ns, day);
            incr(s, key, field, amount);
            snprintf(key, sizeof key, "%s:stats:total", ns);
            incr(s, key, field, amount);
            if (partner && *partner) {
                snprintf(key, sizeof key, "%s:partner:%s:%s", ns, partner, day);
                incr(s, key, field, amount);
            }
        }
        return 1;
    }
    return 0;
}
