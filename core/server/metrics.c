/*
 * GET /metrics: Prometheus text format 0.0.4, every family with HELP and
 * TYPE. Counters are process-wide atomics (metrics.h); the Redis figures are
 * the sum of every worker's connection (server_config.redis_stats); the
 * mechanics' are core/lua's (mech_stats()). Names of event types and outcome
 * kinds become labels: the first 64 of each are counted by name, the rest as
 * "_other", so a flood of made-up types cannot grow the page without bound.
 */
#include "server-internal.h"
#include "apikeys.h"
#include "metrics.h"
#include "punchcard-version.h"
#include "webhook_http.h"

#include <event2/buffer.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROUTES 48
#define NAMES      64

static const int codes[] = {200, 400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500, 503, 507};
#define NCODES (sizeof codes / sizeof *codes)
static const double bounds_s[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                  0.1,    0.25,  0.5,    1,     2.5,  5};
#define NBOUNDS (sizeof bounds_s / sizeof *bounds_s)

/* Per route (the last slot: no route matched). */
static struct route_metrics {
    atomic_uint_fast64_t by_code[NCODES + 1]; /* the last: any other status */
    atomic_uint_fast64_t buckets[NBOUNDS + 1];
    atomic_uint_fast64_t sum_us, timed;
} routes_m[MAX_ROUTES + 1];

static atomic_uint_fast64_t requests, class_2xx, class_4xx, class_5xx, refused[3];
static atomic_int_fast64_t inflight;

/* Names seen, counted: filled once and never moved, read without a lock. */
typedef struct name_table {
    pthread_mutex_t lock;
    atomic_size_t n;
    char names[NAMES + 1][65]; /* the last: "_other" */
    atomic_uint_fast64_t count[NAMES + 1][2];
} name_table;

static name_table types = {.lock = PTHREAD_MUTEX_INITIALIZER};
static name_table kinds = {.lock = PTHREAD_MUTEX_INITIALIZER};

static size_t name_slot(name_table *t, const char *name)
{
    size_t n = atomic_load_explicit(&t->n, memory_order_acquire), i;
    for (i = 0; i < n; i++)
        if (!strcmp(t->names[i], name))
            return i;
    pthread_mutex_lock(&t->lock);
    n = atomic_load_explicit(&t->n, memory_order_relaxed);
    for (i = 0; i < n && strcmp(t->names[i], name); i++)
        ;
    if (i == n && n < NAMES) {
        snprintf(t->names[n], sizeof t->names[n], "%s", name);
        atomic_store_explicit(&t->n, n + 1, memory_order_release);
    } else if (i == n) {
        i = NAMES;
        snprintf(t->names[NAMES], sizeof t->names[NAMES], "_other");
    }
    pthread_mutex_unlock(&t->lock);
    return i;
}

static void add(atomic_uint_fast64_t *c, uint64_t v)
{
    atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

static uint64_t get(const atomic_uint_fast64_t *c)
{
    return atomic_load_explicit((atomic_uint_fast64_t *)c, memory_order_relaxed);
}

void metrics_request(int route, int status, int64_t us)
{
    struct route_metrics *m = &routes_m[route >= 0 && route < MAX_ROUTES ? route : MAX_ROUTES];
    size_t c = 0, b = 0;
    add(&requests, 1);
    add(status < 300 ? &class_2xx : status < 500 ? &class_4xx : &class_5xx, 1);
    while (c < NCODES && codes[c] != status)
        c++;
    add(&m->by_code[c], 1);
    if (us <= 0)
        return;
    while (b < NBOUNDS && (double)us / 1e6 > bounds_s[b])
        b++;
    add(&m->buckets[b], 1);
    add(&m->sum_us, (uint64_t)us);
    add(&m->timed, 1);
}

void metrics_inflight(int delta)
{
    atomic_fetch_add_explicit(&inflight, delta, memory_order_relaxed);
}

void metrics_event(const char *type, int duplicate)
{
    add(&types.count[name_slot(&types, type)][duplicate ? 1 : 0], 1);
}

void metrics_outcome(const char *kind)
{
    add(&kinds.count[name_slot(&kinds, kind)][0], 1);
}

void metrics_auth_refused(int status)
{
    add(&refused[status == 401 ? 0 : status == 403 ? 1 : 2], 1);
}

/* A label value, escaped as the text format wants (\\, \", \n). */
static void put_label(struct evbuffer *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            evbuffer_add_printf(b, "\\%c", *v);
        else if (*v == '\n')
            evbuffer_add(b, "\\n", 2);
        else
            evbuffer_add(b, v, 1);
    }
}

static void family(struct evbuffer *b, const char *name, const char *type, const char *help)
{
    evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family of one sample without labels: its HELP, TYPE and value. */
static void single(struct evbuffer *b, const char *name, const char *type, const char *help,
                   uint64_t v)
{
    family(b, name, type, help);
    evbuffer_add_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

static void requests_part(struct evbuffer *b)
{
    size_t nroutes = route_count();
    single(b, "punchd_requests_total", "counter", "HTTP requests answered.", get(&requests));
    family(b, "punchd_responses_total", "counter", "HTTP answers by status class.");
    evbuffer_add_printf(b,
                        "punchd_responses_total{class=\"2xx\"} %llu\n"
                        "punchd_responses_total{class=\"4xx\"} %llu\n"
                        "punchd_responses_total{class=\"5xx\"} %llu\n",
                        (unsigned long long)get(&class_2xx), (unsigned long long)get(&class_4xx),
                        (unsigned long long)get(&class_5xx));
    family(b, "punchd_http_requests_total", "counter",
           "HTTP answers by route pattern, method and status code.");
    for (size_t r = 0; r <= nroutes && r <= MAX_ROUTES; r++) {
        const char *method = "", *pattern = r < nroutes ? route_pattern(r, &method) : "unmatched";
        const struct route_metrics *m = &routes_m[r < nroutes ? r : MAX_ROUTES];
        for (size_t c = 0; c <= NCODES; c++) {
            uint64_t v = get(&m->by_code[c]);
            char code[8];
            if (!v)
                continue;
            snprintf(code, sizeof code, "%d", c < NCODES ? codes[c] : 0);
            evbuffer_add_printf(
                b, "punchd_http_requests_total{route=\"%s\",method=\"%s\",code=\"%s\"} %llu\n",
                pattern, r < nroutes ? method : "", c < NCODES ? code : "other",
                (unsigned long long)v);
        }
    }
    family(b, "punchd_http_request_duration_seconds", "histogram",
           "Time from routing a request to its answer, by route pattern and method.");
    for (size_t r = 0; r <= nroutes && r <= MAX_ROUTES; r++) {
        const char *method = "", *pattern = r < nroutes ? route_pattern(r, &method) : "unmatched";
        const struct route_metrics *m = &routes_m[r < nroutes ? r : MAX_ROUTES];
        uint64_t cum = 0;
        for (size_t i = 0; i <= NBOUNDS; i++) {
            cum += get(&m->buckets[i]);
            if (i < NBOUNDS)
                evbuffer_add_printf(b,
                                    "punchd_http_request_duration_seconds_bucket{route=\"%s\","
                                    "method=\"%s\",le=\"%g\"} %llu\n",
                                    pattern, r < nroutes ? method : "", bounds_s[i],
                                    (unsigned long long)cum);
            else
                evbuffer_add_printf(b,
                                    "punchd_http_request_duration_seconds_bucket{route=\"%s\","
                                    "method=\"%s\",le=\"+Inf\"} %llu\n",
                                    pattern, r < nroutes ? method : "", (unsigned long long)cum);
        }
        evbuffer_add_printf(
            b,
            "punchd_http_request_duration_seconds_sum{route=\"%s\",method=\"%s\"} "
            "%.6f\n"
            "punchd_http_request_duration_seconds_count{route=\"%s\",method=\"%s\"} "
            "%llu\n",
            pattern, r < nroutes ? method : "", (double)get(&m->sum_us) / 1e6, pattern,
            r < nroutes ? method : "", (unsigned long long)get(&m->timed));
    }
    family(b, "punchd_auth_refused_total", "counter",
           "Requests refused by the API key check, by status (401 bad key, 403 scope, 429 rate).");
    evbuffer_add_printf(b,
                        "punchd_auth_refused_total{code=\"401\"} %llu\n"
                        "punchd_auth_refused_total{code=\"403\"} %llu\n"
                        "punchd_auth_refused_total{code=\"429\"} %llu\n",
                        (unsigned long long)get(&refused[0]), (unsigned long long)get(&refused[1]),
                        (unsigned long long)get(&refused[2]));
    family(b, "punchd_inflight", "gauge", "Requests waiting on the engine now.");
    evbuffer_add_printf(b, "punchd_inflight %lld\n",
                        (long long)atomic_load_explicit(&inflight, memory_order_relaxed));
}

static void names_part(struct evbuffer *b)
{
    size_t n = atomic_load_explicit(&types.n, memory_order_acquire);
    uint64_t dups = 0;
    family(b, "punchd_events_total", "counter",
           "Events answered with 200, by type and result (applied, or a duplicate id).");
    for (size_t i = 0; i <= NAMES; i++) {
        if (i >= n && (i != NAMES || !types.names[NAMES][0]))
            continue;
        for (int d = 0; d < 2; d++) {
            evbuffer_add(b, "punchd_events_total{type=\"", 26);
            put_label(b, types.names[i]);
            evbuffer_add_printf(b, "\",result=\"%s\"} %llu\n", d ? "duplicate" : "applied",
                                (unsigned long long)get(&types.count[i][d]));
        }
        dups += get(&types.count[i][1]);
    }
    single(b, "punchd_duplicates_total", "counter", "Events whose id had been applied already.",
           dups);
    n = atomic_load_explicit(&kinds.n, memory_order_acquire);
    family(b, "punchd_outcomes_total", "counter", "Outcomes of applied events, by kind.");
    for (size_t i = 0; i <= NAMES; i++) {
        if (i >= n && (i != NAMES || !kinds.names[NAMES][0]))
            continue;
        evbuffer_add(b, "punchd_outcomes_total{kind=\"", 28);
        put_label(b, kinds.names[i]);
        evbuffer_add_printf(b, "\"} %llu\n", (unsigned long long)get(&kinds.count[i][0]));
    }
}

static void mechanics_part(server *s, struct evbuffer *b)
{
    static mech_stat st[257];
    static pthread_mutex_t st_lock = PTHREAD_MUTEX_INITIALIZER;
    uint64_t ok, failed;
    size_t n;
    mechset *set = mech_holder_acquire(s->holder);
    static const char *const fams[][3] = {
        {"punchd_mechanic_runs_total", "counter", "Runs of a mechanic that returned."},
        {"punchd_mechanic_errors_total", "counter",
         "Runs of a mechanic that failed (Lua error, budget, deadline or memory)."},
        {"punchd_mechanic_lua_seconds_total", "counter",
         "Time a mechanic spent inside Lua, waits for Redis excluded."}};

    family(b, "punchd_mechanics_info", "gauge", "The live mechanics version (1), by version.");
    if (set)
        evbuffer_add_printf(b, "punchd_mechanics_info{version=\"%s\"} 1\n", mechset_version(set));
    mechset_unref(set);
    mech_reload_counts(&ok, &failed);
    family(b, "punchd_mechanics_reloads_total", "counter",
           "Loads of the scripts folder, by result (ok: the set went live).");
    evbuffer_add_printf(b,
                        "punchd_mechanics_reloads_total{result=\"ok\"} %llu\n"
                        "punchd_mechanics_reloads_total{result=\"failed\"} %llu\n",
                        (unsigned long long)ok, (unsigned long long)failed);
    apikeys_reload_counts(s->cfg.keys, &ok, &failed);
    family(b, "punchd_api_keys_reloads_total", "counter",
           "Reloads of the API keys file after a change, by result.");
    evbuffer_add_printf(b,
                        "punchd_api_keys_reloads_total{result=\"ok\"} %llu\n"
                        "punchd_api_keys_reloads_total{result=\"failed\"} %llu\n",
                        (unsigned long long)ok, (unsigned long long)failed);
    pthread_mutex_lock(&st_lock);
    n = mech_stats(st, sizeof st / sizeof *st);
    for (int f = 0; f < 3; f++) {
        family(b, fams[f][0], fams[f][1], fams[f][2]);
        for (size_t i = 0; i < n; i++) {
            evbuffer_add_printf(b, "%s{mechanic=\"", fams[f][0]);
            put_label(b, st[i].name);
            if (f == 2)
                evbuffer_add_printf(b, "\"} %.9f\n", (double)st[i].lua_ns / 1e9);
            else
                evbuffer_add_printf(b, "\"} %llu\n",
                                    (unsigned long long)(f == 0 ? st[i].runs : st[i].errors));
        }
    }
    pthread_mutex_unlock(&st_lock);
}

static void redis_part(server *s, struct evbuffer *b)
{
    store_stats st;
    uint64_t cum = 0;
    if (s->cfg.redis_stats)
        s->cfg.redis_stats(&st);
    else
        engine_redis_stats(s->engine, &st);
    family(b, "punchd_redis_up", "gauge", "1 while this worker's Redis connection is ready.");
    evbuffer_add_printf(b, "punchd_redis_up %d\n", engine_redis_up(s->engine));
    single(b, "punchd_redis_commands_total", "counter", "Commands sent to Redis.", st.commands);
    single(b, "punchd_redis_errors_total", "counter", "Commands that failed or were not sent.",
           st.errors);
    single(b, "punchd_redis_timeouts_total", "counter", "Commands that timed out.", st.timeouts);
    single(b, "punchd_redis_reconnects_total", "counter", "Reconnection attempts to Redis.",
           st.reconnects);
    family(b, "punchd_redis_command_duration_seconds", "histogram",
           "Round trip of a Redis command, from sending to its reply.");
    for (int i = 0; i < STORE_LATENCY_BUCKETS; i++) {
        cum += st.latency_us[i];
        if (i < STORE_LATENCY_BUCKETS - 1)
            evbuffer_add_printf(b, "punchd_redis_command_duration_seconds_bucket{le=\"%g\"} %llu\n",
                                (double)store_latency_bounds_us[i] / 1e6, (unsigned long long)cum);
        else
            evbuffer_add_printf(b,
                                "punchd_redis_command_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                                (unsigned long long)cum);
    }
    evbuffer_add_printf(b,
                        "punchd_redis_command_duration_seconds_sum %.6f\n"
                        "punchd_redis_command_duration_seconds_count %llu\n",
                        (double)st.latency_sum_us / 1e6, (unsigned long long)st.replies);
}

static void conns_part(struct evbuffer *b)
{
    conns_stats st;
    conns_figures(&st);
    single(b, "punchd_connections", "gauge", "HTTP connections open now.", st.open);
    family(b, "punchd_connections_refused_total", "counter",
           "Connections refused with 503 at a cap, by cap (--max-connections, "
           "--max-connections-per-ip).");
    evbuffer_add_printf(b,
                        "punchd_connections_refused_total{cap=\"total\"} %llu\n"
                        "punchd_connections_refused_total{cap=\"per_ip\"} %llu\n",
                        (unsigned long long)st.refused_total,
                        (unsigned long long)st.refused_per_ip);
    single(b, "punchd_request_timeouts_total", "counter",
           "Connections closed because a request did not arrive whole within "
           "--request-timeout-ms.",
           st.request_timeouts);
}

/* The sweeper: due sweeps made and held by a replay, events sent by period closes. */
static void sweeper_part(struct evbuffer *b)
{
    engine_sweep_counts c;
    engine_sweep_stats(&c);
    single(b, "punchd_sweeps_total", "counter",
           "Due sweeps made (due members ticked, ended periods closed).", c.sweeps);
    single(b, "punchd_sweeps_held_total", "counter",
           "Due sweeps skipped because a replay (POST /v1/events/batch?replay=1) holds them.",
           c.held);
    single(b, "punchd_closes_done_total", "counter",
           "Period closes this punchd found done or finished.", c.closes_done);
    single(b, "punchd_close_events_total", "counter", "Events sent by period closes.",
           c.close_events);
    single(b, "punchd_broadcasts_total", "counter",
           "Broadcasts made by this punchd (POST /v1/broadcasts answered 202).", c.broadcasts);
    single(b, "punchd_broadcast_events_total", "counter",
           "Events sent by broadcasts (also counted in punchd_close_events_total).",
           c.broadcast_events);
}

void get_metrics(server *s, struct evhttp_request *req, const char *arg, const char *query)
{
    struct evbuffer *b = evbuffer_new();
    size_t len;
    char *text;
    if (!b) {
        send_error(s, req, 500, "internal", "out of memory");
        return;
    }
    family(b, "punchd_build_info", "gauge", "The running punchd (1), by version and git commit.");
    evbuffer_add_printf(b, "punchd_build_info{version=\"%s\",git=\"%s\"} 1\n", PUNCH_VERSION,
                        PUNCH_GIT_DESCRIBE);
    requests_part(b);
    names_part(b);
    mechanics_part(s, b);
    redis_part(s, b);
    conns_part(b);
    webhooks_metrics(b);
    single(b, "punchd_accept_errors_total", "counter",
           "Times accept() failed (a full fd table); each pauses the listener 200 ms.",
           listen_accept_errors());
    sweeper_part(b);
    len = evbuffer_get_length(b);
    text = (char *)evbuffer_pullup(b, -1);
    send_raw(s, req, 200, "text/plain; version=0.0.4; charset=utf-8", text ? text : "", len);
    evbuffer_free(b);
}
