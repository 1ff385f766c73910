/*
 * The engine on a private loop with blocking calls (cli.h).
 */
#include "cli.h"
#include "store/keys-internal.h"
#include "store/store-internal.h"

#include <stdlib.h>
#include <string.h>

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

static int wait_for(session *s, waiter *w)
{
    while (!w->done)
        if (event_base_loop(s->base, EVLOOP_ONCE) < 0)
            return -1;
    return 0;
}

int64_t session_clock(void *arg)
{
    return ((session *)arg)->now_ms;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    *(int *)arg = 1;
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
    engine_free(s->engine);
    s->engine = NULL;
    mech_holder_free(s->holder);
    s->holder = NULL;
    store_free(s->store);
    s->store = NULL;
    if (s->base)
        event_base_free(s->base);
    s->base = NULL;
    if (s->own_redis)
        tmpredis_destroy(&s->redis);
}

int session_load(session *s, const char *dir, const char *ns, int watch)
{
    engine_config ec = {0};
    engine_free(s->engine);
    s->engine = NULL;
    if (dir) {
        mech_holder_free(s->holder);
        s->holder = mech_holder_new(watch ? s->base : NULL, dir, &s->lim);
        if (!s->holder)
            return -1;
    }
    snprintf(s->ns, sizeof s->ns, "%s", ns);
    ec.ns = s->ns;
    ec.clock = session_clock;
    ec.no_figures = s->no_figures;
    ec.clock_arg = s;
    s->engine = engine_new(s->store, s->holder, &ec);
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
    wait_for(s, &w);
    *body = w.body;
    return w.status;
}

int session_member(session *s, const char *member, json_t **body)
{
    waiter w = {0};
    engine_get_member(s->engine, member, on_done, &w);
    wait_for(s, &w);
    *body = w.body;
    return w.status;
}

int session_ledger(session *s, const char *member, int limit, json_t **body)
{
    waiter w = {0};
    engine_get_ledger(s->engine, member, limit, NULL, on_done, &w);
    wait_for(s, &w);
    *body = w.body;
    return w.status;
}

typedef struct scan_state {
    session *s;
    int done, failed;
    char cursor[32];
    int pending;
} scan_state;

static void on_unlink(redisReply *r, const char *err, void *arg)
{
    scan_state *st = arg;
    st->pending--;
    if (!r || r->type == REDIS_REPLY_ERROR)
        st->failed = 1;
}

static void on_scan(redisReply *r, const char *err, void *arg)
{
    scan_state *st = arg;
    st->pending--;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        st->failed = 1;
        st->done = 1;
        return;
    }
    snprintf(st->cursor, sizeof st->cursor, "%s", r->element[0]->str);
    redisReply *keys = r->element[1];
    if (keys->elements) {
        const char **argv = malloc((keys->elements + 1) * sizeof *argv);
        size_t *lens = malloc((keys->elements + 1) * sizeof *lens);
        argv[0] = "UNLINK";
        lens[0] = 6;
        for (size_t i = 0; i < keys->elements; i++) {
            argv[i + 1] = keys->element[i]->str;
            lens[i + 1] = keys->element[i]->len;
        }
        st->pending++;
        store_command(st->s->store, on_unlink, st, (int)keys->elements + 1, argv, lens);
        free(argv);
        free(lens);
    }
    if (strcmp(st->cursor, "0") == 0)
        st->done = 1;
}

static void on_flush(redisReply *r, const char *err, void *arg)
{
    scan_state *st = arg;
    st->pending--;
    st->failed = !r || r->type == REDIS_REPLY_ERROR;
}

int session_wipe(session *s)
{
    scan_state st = {.s = s};
    char match[80];

    /* A private server holds this namespace only: drop everything at once. */
    if (s->own_redis) {
        const char *argv[2] = {"FLUSHALL", "ASYNC"};
        st.pending = 1;
        store_command(s->store, on_flush, &st, 2, argv, NULL);
        while (st.pending)
            event_base_loop(s->base, EVLOOP_ONCE);
        return st.failed ? -1 : 0;
    }
    snprintf(match, sizeof match, "%s:*", s->ns);
    strcpy(st.cursor, "0");
    do {
        const char *argv[6] = {"SCAN", st.cursor, "MATCH", match, "COUNT", "1000"};
        st.pending++;
        store_command(s->store, on_scan, &st, 6, argv, NULL);
        while (st.pending)
            event_base_loop(s->base, EVLOOP_ONCE);
    } while (!st.done);
    return st.failed ? -1 : 0;
}

int64_t cli_parse_duration(const char *s)
{
    char *end;
    int64_t total = 0;
    if (!s || !*s)
        return -1;
    while (*s) {
        long long n = strtoll(s, &end, 10);
        int64_t unit;
        if (end == s || n < 0)
            return -1;
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
        s = end + 1;
    }
    return total;
}

/* A reply as JSON: arrays, strings, integers, null; errors as {"error": text}. */
static json_t *reply_json(redisReply *r)
{
    json_t *a;
    switch (r->type) {
    case REDIS_REPLY_ARRAY:
        a = json_array();
        for (size_t i = 0; i < r->elements; i++)
            json_array_append_new(a, reply_json(r->element[i]));
        return a;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        return json_stringn(r->str, r->len);
    case REDIS_REPLY_INTEGER:
        return json_integer(r->integer);
    case REDIS_REPLY_ERROR:
        return json_pack("{s:s}", "error", r->str);
    default:
        return json_null();
    }
}

typedef struct sync_wait {
    int done;
    json_t *reply;
} sync_wait;

static void on_sync(redisReply *r, const char *err, void *arg)
{
    sync_wait *w = arg;
    w->done = 1;
    w->reply = r ? reply_json(r) : NULL;
}

/* One Redis command, waited for; the reply as JSON (new reference) or NULL. */
static json_t *sync_command(session *s, int argc, const char **argv)
{
    sync_wait w = {0};
    store_command(s->store, on_sync, &w, argc, argv, NULL);
    while (!w.done)
        event_base_loop(s->base, EVLOOP_ONCE);
    return w.reply;
}

/* Checks one member: b:<cur> == sum of ledger deltas, pb:<cur> == sum of ledger pending. */
static int check_member(session *s, const char *state_key, char *err, size_t errlen)
{
    char ledger_key[PC_KEY_MAX];
    size_t n = strlen(state_key), i;
    json_t *fields, *entries, *sums = json_object(), *e;
    const char *argv[4];
    int rc = 0;

    if (n < 6 || n - 6 + 7 >= sizeof ledger_key)
        return 0;
    snprintf(ledger_key, sizeof ledger_key, "%.*s:ledger", (int)(n - 6), state_key);
    argv[0] = "HGETALL";
    argv[1] = state_key;
    fields = sync_command(s, 2, argv);
    argv[0] = "XRANGE";
    argv[1] = ledger_key;
    argv[2] = "-";
    argv[3] = "+";
    entries = sync_command(s, 4, argv);
    /* sums: {"b:<cur>": n, "pb:<cur>": n} from the ledger */
    json_array_foreach(entries, i, e)
    {
        json_t *kv = json_array_get(e, 1);
        const char *cur = NULL;
        long long delta = 0, pending = 0;
        for (size_t k = 0; k + 1 < json_array_size(kv); k += 2) {
            const char *f = json_string_value(json_array_get(kv, k));
            const char *v = json_string_value(json_array_get(kv, k + 1));
            if (!strcmp(f, "currency"))
                cur = v;
            else if (!strcmp(f, "delta"))
                delta = strtoll(v, NULL, 10);
            else if (!strcmp(f, "pending"))
                pending = strtoll(v, NULL, 10);
        }
        if (!cur)
            continue;
        char bk[100], pk[100];
        snprintf(bk, sizeof bk, "b:%s", cur);
        snprintf(pk, sizeof pk, "pb:%s", cur);
        json_object_set_new(sums, bk,
                            json_integer(json_integer_value(json_object_get(sums, bk)) + delta));
        json_object_set_new(sums, pk,
                            json_integer(json_integer_value(json_object_get(sums, pk)) + pending));
    }
    /* Every balance field against its sum, and every sum against its field. */
    for (i = 0; i + 1 < json_array_size(fields); i += 2) {
        const char *f = json_string_value(json_array_get(fields, i));
        if (strncmp(f, "b:", 2) && strncmp(f, "pb:", 3))
            continue;
        long long v = strtoll(json_string_value(json_array_get(fields, i + 1)), NULL, 10);
        if (v != json_integer_value(json_object_get(sums, f))) {
            snprintf(err, errlen, "%s: %s is %lld but its ledger sums to %lld", state_key, f, v,
                     (long long)json_integer_value(json_object_get(sums, f)));
            rc = -1;
        }
        json_object_del(sums, f);
    }
    const char *k;
    json_t *v;
    json_object_foreach(sums, k, v)
    {
        if (json_integer_value(v) != 0 && rc == 0) {
            snprintf(err, errlen, "%s: the ledger sums %s to %lld but there is no such balance",
                     state_key, k, (long long)json_integer_value(v));
            rc = -1;
        }
    }
    json_decref(fields);
    json_decref(entries);
    json_decref(sums);
    return rc;
}

int session_check_ledgers(session *s, char *err, size_t errlen)
{
    char cursor[32] = "0", match[100];
    snprintf(match, sizeof match, "%s:{*}:state", s->ns);
    do {
        const char *argv[6] = {"SCAN", cursor, "MATCH", match, "COUNT", "1000"};
        json_t *r = sync_command(s, 6, argv), *keys, *k;
        size_t i;
        if (!json_is_array(r)) {
            json_decref(r);
            snprintf(err, errlen, "SCAN failed");
            return -1;
        }
        snprintf(cursor, sizeof cursor, "%s", json_string_value(json_array_get(r, 0)));
        keys = json_array_get(r, 1);
        json_array_foreach(keys, i, k)
        {
            if (check_member(s, json_string_value(k), err, errlen)) {
                json_decref(r);
                return -1;
            }
        }
        json_decref(r);
    } while (strcmp(cursor, "0") != 0);
    return 0;
}
