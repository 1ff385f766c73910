/*
 * A session's reads of shared game state (cli.h): a draw's pools and a
 * leaderboard, as GET /v1/draws/{name} and GET /v1/leaderboards/{name} show
 * them, but for the period that holds the session's virtual clock, so the
 * REPL's clock("...") moves them as it moves the events. The keys are those
 * core/engine/game_ops.c writes (and core/server/game.c reads):
 *   NS:{draw:NAME}:meta  hash: epoch, wins, tz, pool:PRIZE, refill:PRIZE, won:PRIZE
 *   NS:{draw:NAME}:pool:PRIZE:PERIOD  hash: left, won
 *   NS:{lb:NAME}:meta  hash: per, tz;  NS:{lb:NAME}:PERIOD  zset member -> score
 */
#include "cli.h"
#include "common/calendar-internal.h"
#include "store/store-internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct sync_reply {
    int done;
    json_t *value; /* the reply as JSON; NULL when Redis failed */
} sync_reply;

/* A reply as JSON: strings, integers, nil (null) and arrays of them. */
static json_t *reply_json(redisReply *r)
{
    json_t *a;
    switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        return json_stringn(r->str, r->len);
    case REDIS_REPLY_INTEGER:
        return json_integer(r->integer);
    case REDIS_REPLY_ARRAY:
        a = json_array();
        for (size_t i = 0; i < r->elements; i++)
            json_array_append_new(a, reply_json(r->element[i]));
        return a;
    default:
        return json_null();
    }
}

static void on_reply(redisReply *r, const char *err, void *arg)
{
    sync_reply *w = arg;
    w->done = 1;
    w->value = r && r->type != REDIS_REPLY_ERROR ? reply_json(r) : NULL;
}

/* One command, waited for; the reply as JSON (new reference) or NULL when Redis failed. */
static json_t *command(session *s, int argc, const char **argv)
{
    sync_reply w = {0};
    store_command(s->store, on_reply, &w, argc, argv, NULL);
    while (!w.done)
        if (event_base_loop(s->base, EVLOOP_ONCE) < 0)
            break;
    return w.value;
}

/* HGETALL as an object of strings. */
static json_t *hash(session *s, const char *key)
{
    const char *argv[2] = {"HGETALL", key};
    json_t *a = command(s, 2, argv), *o;
    if (!a)
        return NULL;
    o = json_object();
    for (size_t i = 0; i + 1 < json_array_size(a); i += 2)
        json_object_set(o, json_string_value(json_array_get(a, i)), json_array_get(a, i + 1));
    json_decref(a);
    return o;
}

static long long num(json_t *v, long long def)
{
    const char *s = json_string_value(v);
    return s ? strtoll(s, NULL, 10) : json_is_integer(v) ? json_integer_value(v) : def;
}

static int unavailable(json_t **body)
{
    *body = json_pack("{s:{s:s, s:s}}", "error", "code", "unavailable", "message",
                      "redis did not answer");
    return 503;
}

static int not_found(json_t **body, const char *what)
{
    *body = json_pack("{s:{s:s, s:s}}", "error", "code", "not_found", "message", what);
    return 404;
}

int session_draw(session *s, const char *name, json_t **body)
{
    char key[300];
    const char *k, *tz;
    json_t *meta, *v, *prizes;

    if (!pc_valid_name(name))
        return not_found(body, "no such draw");
    snprintf(key, sizeof key, "%s:{draw:%s}:meta", s->ns, name);
    if (!(meta = hash(s, key)))
        return unavailable(body);
    if (!json_object_size(meta)) {
        json_decref(meta);
        return not_found(body, "no such draw (nobody drew in it yet)");
    }
    tz = json_string_value(json_object_get(meta, "tz"));
    prizes = json_array();
    json_object_foreach(meta, k, v)
    {
        char field[100], period[32], pool_key[400];
        int per;
        json_t *got;
        if (strncmp(k, "pool:", 5))
            continue;
        snprintf(field, sizeof field, "refill:%s", k + 5);
        per = cal_period_parse(json_string_value(json_object_get(meta, field)));
        cal_period_id(s->now_ms, tz ? tz : "UTC", 0, per < 0 ? CAL_ALL : per, period,
                      sizeof period);
        snprintf(pool_key, sizeof pool_key, "%s:{draw:%s}:pool:%s:%s", s->ns, name, k + 5, period);
        const char *argv[4] = {"HMGET", pool_key, "left", "won"};
        got = command(s, 4, argv);
        snprintf(field, sizeof field, "won:%s", k + 5);
        /* A period nobody drew in yet still has its whole pool. */
        json_array_append_new(prizes,
                              json_pack("{s:s, s:I, s:s, s:s, s:I, s:I, s:I}", "prize", k + 5,
                                        "pool", (json_int_t)num(v, 0), "refill",
                                        per < 0 ? "never" : cal_period_name(per), "period", period,
                                        "left", (json_int_t)num(json_array_get(got, 0), num(v, 0)),
                                        "won_in_period", (json_int_t)num(json_array_get(got, 1), 0),
                                        "won", (json_int_t)num(json_object_get(meta, field), 0)));
        json_decref(got);
    }
    *body = json_pack("{s:s, s:I, s:I, s:s, s:o}", "draw", name, "epoch",
                      (json_int_t)num(json_object_get(meta, "epoch"), 1), "wins",
                      (json_int_t)num(json_object_get(meta, "wins"), 0), "tz", tz ? tz : "UTC",
                      "prizes", prizes);
    json_decref(meta);
    return 200;
}

int session_leaderboard(session *s, const char *name, int top, const char *member,
                        const char *period, json_t **body)
{
    char key[300], stop[16], now_period[32];
    const char *per, *tz;
    json_t *meta, *got, *list;
    int p;

    if (!pc_valid_name(name))
        return not_found(body, "no such leaderboard");
    snprintf(key, sizeof key, "%s:{lb:%s}:meta", s->ns, name);
    if (!(meta = hash(s, key)))
        return unavailable(body);
    if (!json_object_size(meta)) {
        json_decref(meta);
        return not_found(body, "no such leaderboard (nobody scored on it yet)");
    }
    per = json_string_value(json_object_get(meta, "per"));
    tz = json_string_value(json_object_get(meta, "tz"));
    p = cal_period_parse(per);
    cal_period_id(s->now_ms, tz ? tz : "UTC", 0, p < 0 ? CAL_ALL : p, now_period,
                  sizeof now_period);
    if (!period)
        period = now_period;
    snprintf(key, sizeof key, "%s:{lb:%s}:%s", s->ns, name, period);
    snprintf(stop, sizeof stop, "%d", (top < 1 ? 10 : top) - 1);
    const char *argv[5] = {"ZREVRANGE", key, "0", stop, "WITHSCORES"};
    got = command(s, 5, argv);
    list = json_array();
    for (size_t i = 0; i + 1 < json_array_size(got); i += 2)
        json_array_append_new(list, json_pack("{s:i, s:O, s:I}", "rank", (int)i / 2 + 1, "member",
                                              json_array_get(got, i), "score",
                                              (json_int_t)num(json_array_get(got, i + 1), 0)));
    json_decref(got);
    *body = json_pack("{s:s, s:s, s:s, s:o, s:n}", "leaderboard", name, "period", period, "per",
                      per ? per : "week", "top", list, "member");
    json_decref(meta);
    if (member && pc_valid_id(member)) {
        const char *rargv[3] = {"ZREVRANK", key, member}, *sargv[3] = {"ZSCORE", key, member};
        json_t *rank = command(s, 3, rargv), *score = command(s, 3, sargv);
        if (json_is_integer(rank))
            json_object_set_new(*body, "member",
                                json_pack("{s:I, s:s, s:I}", "rank",
                                          (json_int_t)json_integer_value(rank) + 1, "member",
                                          member, "score", (json_int_t)num(score, 0)));
        json_decref(rank);
        json_decref(score);
    }
    return 200;
}
