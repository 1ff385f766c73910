/*
 * The engine on a private loop with blocking calls (cli.h). A session is
 * punch's composition root, as main.c is punchd's: it creates the store, the
 * mechanics and the engine, and reads only through the engine's queries
 * (punchcard/query.h), on the session's virtual clock.
 */
#include "cli.h"
#include "common/calendar-internal.h"
#include "punchcard/query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One engine call being waited for, and its answer. */
typedef struct waiter {
    int done;
    int status;
    json_t *body;
} waiter;

static void on_done(void *arg, int status, json_t *body)
{
    waiter *w = arg;
    w->done = 1;
    w->status = status;
    w->body = body;
}

/* Runs the loop until w is answered; its status, and its body in *body (a new reference). */
static int wait_for(session *s, waiter *w, json_t **body)
{
    while (!w->done)
        if (event_base_loop(s->base, EVLOOP_ONCE) < 0) {
            pc_error err;
            pc_fail(&err, 500, "internal", "the session's event loop failed");
            *body = pc_error_json(&err);
            return 500;
        }
    *body = w->body;
    return w->status;
}

int64_t session_clock(void *arg)
{
    return ((session *)arg)->now_ms;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    *(int *)arg = 1;
}

const char *session_cluster_addr(const char *seeds)
{
    static char addr[2048];
    snprintf(addr, sizeof addr, "cluster:%s", seeds);
    return addr;
}

int session_open(session *s, const char *redis_addr)
{
    store_config sc = {0};
    struct event *tick;
    int fired;

    memset(s, 0, sizeof *s);
    s->now_ms = pc_now_ms();
    s->base = event_base_new();
    if (!s->base)
        return -1;
    if (!redis_addr) {
        if (tmpredis_start(&s->redis, 0))
            return -1;
        s->own_redis = 1;
        redis_addr = s->redis.socket;
    }
    sc.addr = redis_addr;
    if (strncmp(redis_addr, "cluster:", 8) == 0)
        sc.cluster = redis_addr + 8;
    if (!(s->store = store_new(s->base, &sc)))
        return -1;
    /* Wait (at most 5 s) for the connection. */
    tick = evtimer_new(s->base, on_tick, &fired);
    for (int i = 0; i < 250 && !store_ready(s->store); i++) {
        struct timeval tv = {0, 20000};
        fired = 0;
        evtimer_add(tick, &tv);
        while (!fired)
            event_base_loop(s->base, EVLOOP_ONCE);
    }
    event_free(tick);
    if (!store_ready(s->store)) {
        pc_log(PC_LOG_ERROR, "cannot connect to redis at %s", redis_addr);
        return -1;
    }
    return 0;
}

void session_close(session *s)
{
    /* The store first: what it still holds is answered while the engine is alive. */
    store_free(s->store);
    s->store = NULL;
    engine_free(s->engine);
    s->engine = NULL;
    mech_holder_free(s->holder);
    s->holder = NULL;
    if (s->base)
        event_base_free(s->base);
    s->base = NULL;
    if (s->own_redis)
        tmpredis_destroy(&s->redis);
}

/* A new engine on namespace ns, on the session's store, mechanics and clock; NULL on failure. */
static engine *session_engine(session *s, const char *ns)
{
    engine_config ec = {0};
    ec.ns = ns;
    ec.clock = session_clock;
    ec.clock_arg = s;
    ec.no_figures = s->no_figures;
    return engine_new(s->store, s->holder, &ec);
}

int session_load(session *s, const char *dir, const char *ns, int watch)
{
    engine_free(s->engine);
    s->engine = NULL;
    if (dir) {
        mech_holder_free(s->holder);
        s->holder = mech_holder_new(watch ? s->base : NULL, dir, &s->lim);
        if (!s->holder)
            return -1;
    }
    snprintf(s->ns, sizeof s->ns, "%s", ns);
    s->engine = session_engine(s, s->ns);
    return s->engine ? 0 : -1;
}

int session_send(session *s, json_t *event, json_t **body)
{
    return session_send_flags(s, event, 0, body);
}

int session_send_flags(session *s, json_t *event, int flags, json_t **body)
{
    waiter w = {0};
    pc_event ev;
    pc_error err;

    if (pc_event_from_json(event, &ev, &err)) {
        *body = pc_error_json(&err);
        return err.status;
    }
    engine_submit_flags(s->engine, &ev, flags, on_done, &w);
    return wait_for(s, &w, body);
}

int session_member(session *s, const char *member, json_t **body)
{
    waiter w = {0};
    engine_get_member(s->engine, member, on_done, &w);
    return wait_for(s, &w, body);
}

int session_ledger(session *s, const char *member, int limit, json_t **body)
{
    waiter w = {0};
    engine_get_ledger(s->engine, member, limit, NULL, on_done, &w);
    return wait_for(s, &w, body);
}

int session_draw(session *s, const char *name, json_t **body)
{
    waiter w = {0};
    engine_get_draw(s->engine, name, ENGINE_READ_SEEN_ONLY, on_done, &w);
    return wait_for(s, &w, body);
}

int session_experiment(session *s, const char *name, json_t **body)
{
    waiter w = {0};
    engine_get_experiment(s->engine, name, on_done, &w);
    return wait_for(s, &w, body);
}

int session_offers(session *s, const char *name, json_t **body)
{
    waiter w = {0};
    engine_get_offers(s->engine, name, on_done, &w);
    return wait_for(s, &w, body);
}

int session_leaderboard(session *s, const char *name, int top, const char *member,
                        const char *period, json_t **body)
{
    waiter w = {0};
    /* A member id that cannot be one has no rank: the board is shown without it. */
    engine_get_board(s->engine, name, top < 1 ? 10 : top,
                     member && pc_valid_id(member) ? member : NULL, period, ENGINE_READ_SEEN_ONLY,
                     on_done, &w);
    return wait_for(s, &w, body);
}

int session_counter(session *s, const char *name, json_t **body)
{
    waiter w = {0};
    engine_get_counter(s->engine, name, on_done, &w);
    return wait_for(s, &w, body);
}

long long session_count_due(session *s)
{
    waiter w = {0};
    json_t *body;
    long long n = -1;
    engine_count_due(s->engine, on_done, &w);
    if (wait_for(s, &w, &body) == 200)
        n = (long long)json_integer_value(json_object_get(body, "due"));
    json_decref(body);
    return n;
}

int session_check_ledgers(session *s, char *err, size_t errlen)
{
    waiter w = {0};
    json_t *body;
    int status;
    engine_check_ledgers(s->engine, on_done, &w);
    status = wait_for(s, &w, &body);
    if (status != 200)
        snprintf(err, errlen, "%s",
                 json_string_value(json_object_get(json_object_get(body, "error"), "message")));
    json_decref(body);
    return status == 200 ? 0 : -1;
}

int session_wipe(session *s)
{
    waiter w = {0};
    json_t *body;
    /* A session that never loaded an engine (punch simulate's own) wipes through one of its own. */
    engine *e = s->engine ? s->engine : session_engine(s, s->ns);
    int status = 500;
    if (e) {
        engine_wipe(e, on_done, &w);
        status = wait_for(s, &w, &body);
        json_decref(body);
    }
    if (e != s->engine)
        engine_free(e);
    return status == 200 ? 0 : -1;
}

int cli_advance(int64_t *at_ms, const char *span)
{
    int months;
    int64_t ms;
    if (cal_parse_span(span, &months, &ms))
        return -1;
    *at_ms = cal_add_span(*at_ms, months, ms);
    return 0;
}
