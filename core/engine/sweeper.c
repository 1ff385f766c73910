/*
 * The sweeper (sweeper.h): a timer, one ZRANGEBYSCORE, and tick events.
 */
#include "punchcard/sweeper.h"
#include "store/keys-internal.h"
#include "store/store-internal.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#define SWEEP_BATCH 200

struct sweeper {
    struct event_base *base;
    store *store;
    engine *engine;
    char ns[64];
    int interval_ms;
    int64_t (*clock)(void *);
    void *clock_arg;
    struct event *timer;
    int inflight; /* requests of the current sweep still out */
    uint64_t ticks;
};

typedef struct tick_ctx {
    sweeper *sw;
    char member[PC_ID_MAX + 1];
} tick_ctx;

static void sweep(sweeper *sw);

static void arm(sweeper *sw)
{
    struct timeval tv = {sw->interval_ms / 1000, (sw->interval_ms % 1000) * 1000};
    evtimer_add(sw->timer, &tv);
}

static void one_done(sweeper *sw)
{
    if (--sw->inflight == 0)
        arm(sw);
}

static void on_resync(redisReply *r, const char *err, void *arg)
{
    tick_ctx *t = arg;
    one_done(t->sw);
    free(t);
}

/* A tick already applied: set the schedule from what the member's state says now. */
static void on_due_read(redisReply *r, const char *err, void *arg)
{
    tick_ctx *t = arg;
    char key[256];
    snprintf(key, sizeof key, "%s:due", t->sw->ns);
    if (r && r->type == REDIS_REPLY_STRING) {
        const char *argv[4] = {"ZADD", key, r->str, t->member};
        store_command(t->sw->store, on_resync, t, 4, argv, NULL);
    } else if (r && r->type == REDIS_REPLY_NIL) {
        const char *argv[3] = {"ZREM", key, t->member};
        store_command(t->sw->store, on_resync, t, 3, argv, NULL);
    } else {
        on_resync(NULL, err, t);
    }
}

static void on_tick_done(void *arg, int status, json_t *body)
{
    tick_ctx *t = arg;
    if (status == 200 && json_is_true(json_object_get(body, "duplicate"))) {
        char key[PC_KEY_MAX];
        pc_member_key(key, sizeof key, t->sw->ns, t->member, "state");
        const char *argv[3] = {"HGET", key, "due"};
        json_decref(body);
        store_command(t->sw->store, on_due_read, t, 3, argv, NULL);
        return;
    }
    if (status != 200)
        pc_log(PC_LOG_WARN, "sweeper: tick of %s: %d %s", t->member, status,
               json_string_value(json_object_get(json_object_get(body, "error"), "message")));
    json_decref(body);
    one_done(t->sw);
    free(t);
}

static void on_due(redisReply *r, const char *err, void *arg)
{
    sweeper *sw = arg;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        one_done(sw);
        return;
    }
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *member = r->element[i]->str;
        long long due = strtoll(r->element[i + 1]->str, NULL, 10);
        pc_event ev = {0};
        tick_ctx *t;
        if (!pc_valid_id(member) || !(t = calloc(1, sizeof *t)))
            continue;
        t->sw = sw;
        snprintf(t->member, sizeof t->member, "%s", member);
        snprintf(ev.id, sizeof ev.id, "tick-%lld", due);
        snprintf(ev.type, sizeof ev.type, "tick");
        snprintf(ev.member, sizeof ev.member, "%s", member);
        ev.at_ms = due;
        ev.at_given = 1;
        ev.data = json_object();
        sw->inflight++;
        sw->ticks++;
        engine_submit(sw->engine, &ev, on_tick_done, t);
    }
    one_done(sw);
}

static void sweep(sweeper *sw)
{
    char key[256], now[32], limit[16];
    const char *argv[8] = {"ZRANGEBYSCORE", key, "-inf", now, "WITHSCORES", "LIMIT", "0", limit};
    if (sw->inflight)
        return;
    snprintf(key, sizeof key, "%s:due", sw->ns);
    snprintf(now, sizeof now, "%lld",
             (long long)(sw->clock ? sw->clock(sw->clock_arg) : pc_now_ms()));
    snprintf(limit, sizeof limit, "%d", SWEEP_BATCH);
    sw->inflight = 1;
    store_command(sw->store, on_due, sw, 8, argv, NULL);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    sweep(arg);
}

sweeper *sweeper_new(struct event_base *base, store *s, engine *e, const char *ns, int interval_ms,
                     int64_t (*clock)(void *), void *clock_arg)
{
    sweeper *sw = calloc(1, sizeof *sw);
    if (!sw)
        return NULL;
    sw->base = base;
    sw->store = s;
    sw->engine = e;
    snprintf(sw->ns, sizeof sw->ns, "%s", ns);
    sw->interval_ms = interval_ms > 0 ? interval_ms : 1000;
    sw->clock = clock;
    sw->clock_arg = clock_arg;
    sw->timer = evtimer_new(base, on_timer, sw);
    arm(sw);
    return sw;
}

void sweeper_free(sweeper *sw)
{
    if (!sw)
        return;
    event_free(sw->timer);
    free(sw);
}

void sweeper_poke(sweeper *sw)
{
    evtimer_del(sw->timer);
    sweep(sw);
    if (!sw->inflight)
        arm(sw);
}

uint64_t sweeper_ticks(const sweeper *sw)
{
    return sw->ticks;
}
