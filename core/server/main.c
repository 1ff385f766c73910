/*
 * punchd: flags, workers (one libevent loop each, SO_REUSEPORT), signals and
 * graceful drain. Each worker owns its Redis connection, its mechanics (own
 * Lua state, own watcher) and its HTTP server; they share nothing mutable.
 */
#include "apikeys.h"
#include "server.h"
#include "webhook_http.h"
#include "model/draw-internal.h"
#include "punchcard-version.h"
#include "punchcard/query.h"

#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_WORKERS 64

typedef struct options {
    const char *listen;
    const char *unix_path;
    const char *redis;
    const char *redis_cluster; /* seed nodes of a Redis Cluster, or NULL */
    const char *scripts;
    const char *ns;
    const char *port_file;
    char *api_key;
    const char *api_keys_file;
    const char *webhooks_file;
    int workers;
    size_t max_body;
    size_t max_batch_body;
    int dedupe_days;
    int redis_timeout_ms;
    int sweep_ms;
    int64_t claim_timeout_ms;
    int send_rate; /* events a period close sends per second */
    mech_limits lim;
    long max_outcomes, max_event_keys, max_response; /* per-event caps */
    long max_future_s, request_timeout_ms, max_conns, max_conns_per_ip;
} options;

/* Long options without a short letter. */
enum {
    OPT_MAX_OUTCOMES = 0x100,
    OPT_MAX_KEYS,
    OPT_MAX_RESPONSE,
    OPT_MAX_FUTURE,
    OPT_REQUEST_TIMEOUT,
    OPT_MAX_CONNS,
    OPT_MAX_CONNS_IP,
    OPT_WEBHOOKS_FILE
};

typedef struct worker {
    int index;
    pthread_t thread;
    struct event_base *base;
    struct evhttp *http;
    store *store;
    mech_holder *holder;
    engine *engine;
    server *server;
    sweeper *sweeper;
    webhooks_sender *hooks;      /* worker 0, with --webhooks-file */
    engine_deliverer *deliverer; /* the same */
    struct event *drain_ev;
    int64_t drain_deadline;
} worker;

static worker workers[MAX_WORKERS];
static int nworkers;
static apikeys *keys;
static webhooks_config *hooks_cfg; /* --webhooks-file, or NULL */

/*
 * Every worker's Redis figures summed, for /metrics. Each worker writes its
 * own without a lock; a read here may see one counter a step behind.
 */
static void all_redis_stats(store_stats *sum)
{
    memset(sum, 0, sizeof *sum);
    for (int i = 0; i < nworkers; i++) {
        store_stats st;
        if (!workers[i].store)
            continue;
        store_get_stats(workers[i].store, &st);
        sum->commands += st.commands;
        sum->errors += st.errors;
        sum->timeouts += st.timeouts;
        sum->reconnects += st.reconnects;
        for (int b = 0; b < STORE_LATENCY_BUCKETS; b++)
            sum->latency_us[b] += st.latency_us[b];
        sum->latency_sum_us += st.latency_sum_us;
        sum->replies += st.replies;
    }
}

static void usage(FILE *f)
{
    fprintf(f, "usage: punchd [options]            (each option also reads PUNCHD_<NAME>)\n"
               "  --listen HOST:PORT     HTTP on TCP (default 127.0.0.1:8080; port 0 = any)\n"
               "  --unix PATH            HTTP on a Unix socket as well\n"
               "  --redis ADDR           Redis HOST:PORT or socket path (default 127.0.0.1:6379)\n"
               "  --redis-cluster SEEDS  a Redis Cluster instead: HOST:PORT[,HOST:PORT...]\n"
               "  --scripts DIR          mechanics folder, hot-reloaded (default ./scripts)\n"
               "  --namespace NS         key prefix (default pc)\n"
               "  --workers N            event loops (default 1)\n"
               "  --api-key-file PATH    require 'Authorization: Bearer <key>' on /v1/\n"
               "                         (or PUNCHD_API_KEY in the environment); all scopes\n"
               "  --api-keys-file PATH   named keys with scopes and rate limits (JSON),\n"
               "                         reloaded when it changes\n"
               "  --webhooks-file PATH   webhook endpoints (JSON: url, secret, events) and\n"
               "                         delivery settings; events then go to outboxes\n"
               "  --max-body BYTES       largest request body (default 65536)\n"
               "  --max-batch-body BYTES largest POST /v1/events/batch body (default 4194304)\n"
               "  --dedupe-days N        how long event ids are remembered (default 30)\n"
               "  --redis-timeout-ms N   connect and command timeout (default 2000)\n"
               "  --lua-instructions N   per-event instruction budget (default 1000000)\n"
               "  --lua-memory-mb N      per-state memory cap (default 64)\n"
               "  --lua-deadline-ms N    per-event wall-clock limit (default 100)\n"
               "  --max-outcomes N       outcomes one event may make (default 1000)\n"
               "  --max-event-keys N     shared keys one event may write: leaderboard scores,\n"
               "                         global operations (default 256)\n"
               "  --max-response-bytes N largest response of one event (default 1048576)\n"
               "  --max-future-s N       how far ahead an event's at may be (default 86400)\n"
               "  --request-timeout-ms N a request must arrive whole within N ms of its first\n"
               "                         byte (default 10000; 0 = no limit)\n"
               "  --max-connections N    open HTTP connections at most (default 10000; 0 = any)\n"
               "  --max-connections-per-ip N  from one address (default 1000; 0 = any)\n"
               "  --port-file PATH       write the TCP port bound (for --listen HOST:0)\n"
               "  --sweep-ms N           how often due lots of silent members are looked for\n"
               "                         (default 1000; 0 = never, when other punchd sweep)\n"
               "  --draw-secret-file PATH  the secret instant-win draws are keyed with\n"
               "                         (or PUNCHD_DRAW_SECRET in the environment)\n"
               "  --log-level LEVEL      debug, info, warn, error (default info)\n"
               "  --log-format FORMAT    text or json (JSON lines; default text)\n"
               "  --version              print the version and exit\n");
}

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

static long num_arg(const char *flag, const char *v, long min, long max)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < min || n > max) {
        fprintf(stderr, "punchd: %s must be a number from %ld to %ld\n", flag, min, max);
        exit(2);
    }
    return n;
}

/* The flag's value from the environment variable env, else def (a default, or NULL). */
static long num_env(const char *env, long def, long min, long max)
{
    const char *v = env_or(env, NULL);
    return v ? num_arg(env, v, min, max) : def;
}

static void check_key(const char *what, const char *k)
{
    if (strlen(k) < 16) {
        fprintf(stderr, "punchd: the %s must be at least 16 characters\n", what);
        exit(2);
    }
}

static char *read_key_file(const char *path)
{
    size_t len;
    char *k = pc_read_file(path, &len);
    if (!k) {
        fprintf(stderr, "punchd: cannot read the API key file %s\n", path);
        exit(2);
    }
    while (len && (k[len - 1] == '\n' || k[len - 1] == '\r' || k[len - 1] == ' '))
        k[--len] = '\0';
    check_key("API key", k);
    return k;
}

/* The draw master secret (game.h): a file, PUNCHD_DRAW_SECRET, or the development one. */
static void set_draw_secret(const char *path)
{
    const char *env = getenv("PUNCHD_DRAW_SECRET");
    char *k = NULL;
    if (path)
        k = read_key_file(path); /* same rules as an API key: 16+ characters */
    else if (env && *env)
        k = strdup(env);
    if (!k) {
        pc_log(PC_LOG_WARN, "draws use the built-in development secret: anyone can predict "
                            "them (give --draw-secret-file)");
        return;
    }
    if (strlen(k) < 16) {
        fprintf(stderr, "punchd: the draw secret must be at least 16 characters\n");
        exit(2);
    }
    draw_set_secret(k, strlen(k));
    draw_set_secret_source(path ? "file" : "env");
    free(k);
}

static void parse_options(int argc, char **argv, options *o)
{
    static const struct option longs[] = {
        {"listen", required_argument, 0, 'l'},
        {"unix", required_argument, 0, 'u'},
        {"redis", required_argument, 0, 'r'},
        {"redis-cluster", required_argument, 0, 'C'},
        {"scripts", required_argument, 0, 's'},
        {"namespace", required_argument, 0, 'n'},
        {"workers", required_argument, 0, 'w'},
        {"api-key-file", required_argument, 0, 'k'},
        {"max-body", required_argument, 0, 'b'},
        {"max-batch-body", required_argument, 0, 'B'},
        {"dedupe-days", required_argument, 0, 'd'},
        {"redis-timeout-ms", required_argument, 0, 't'},
        {"lua-instructions", required_argument, 0, 'I'},
        {"lua-memory-mb", required_argument, 0, 'M'},
        {"lua-deadline-ms", required_argument, 0, 'D'},
        {"max-outcomes", required_argument, 0, OPT_MAX_OUTCOMES},
        {"max-event-keys", required_argument, 0, OPT_MAX_KEYS},
        {"max-response-bytes", required_argument, 0, OPT_MAX_RESPONSE},
        {"max-future-s", required_argument, 0, OPT_MAX_FUTURE},
        {"request-timeout-ms", required_argument, 0, OPT_REQUEST_TIMEOUT},
        {"max-connections", required_argument, 0, OPT_MAX_CONNS},
        {"max-connections-per-ip", required_argument, 0, OPT_MAX_CONNS_IP},
        {"port-file", required_argument, 0, 'p'},
        {"sweep-ms", required_argument, 0, 'S'},
        {"log-level", required_argument, 0, 'v'},
        {"draw-secret-file", required_argument, 0, 'X'},
        {"api-keys-file", required_argument, 0, 'K'},
        {"webhooks-file", required_argument, 0, OPT_WEBHOOKS_FILE},
        {"log-format", required_argument, 0, 'F'},
        {"version", no_argument, 0, 'V'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *key_file = env_or("PUNCHD_API_KEY_FILE", NULL);
    const char *draw_secret_file = env_or("PUNCHD_DRAW_SECRET_FILE", NULL);
    const char *level = env_or("PUNCHD_LOG_LEVEL", "info");
    const char *format = env_or("PUNCHD_LOG_FORMAT", "text");
    int c;

    o->listen = env_or("PUNCHD_LISTEN", "127.0.0.1:8080");
    o->unix_path = env_or("PUNCHD_UNIX", NULL);
    o->redis = env_or("PUNCHD_REDIS", "127.0.0.1:6379");
    o->redis_cluster = env_or("PUNCHD_REDIS_CLUSTER", NULL);
    o->scripts = env_or("PUNCHD_SCRIPTS", "./scripts");
    o->ns = env_or("PUNCHD_NAMESPACE", "pc");
    o->port_file = env_or("PUNCHD_PORT_FILE", NULL);
    o->api_keys_file = env_or("PUNCHD_API_KEYS_FILE", NULL);
    o->webhooks_file = env_or("PUNCHD_WEBHOOKS_FILE", NULL);
    o->workers = (int)num_arg("PUNCHD_WORKERS", env_or("PUNCHD_WORKERS", "1"), 1, MAX_WORKERS);
    o->max_body = (size_t)num_env("PUNCHD_MAX_BODY", 65536, 256, 16 << 20);
    o->max_future_s = num_env("PUNCHD_MAX_FUTURE_S", 86400, 1, 10L * 366 * 86400);
    o->request_timeout_ms = num_env("PUNCHD_REQUEST_TIMEOUT_MS", 10000, 0, 3600000);
    o->max_conns = num_env("PUNCHD_MAX_CONNECTIONS", 10000, 0, 10000000);
    o->max_conns_per_ip = num_env("PUNCHD_MAX_CONNECTIONS_PER_IP", 1000, 0, 10000000);
    o->max_batch_body = (size_t)num_env("PUNCHD_MAX_BATCH_BODY", 4 << 20, 256, 256 << 20);
    o->dedupe_days = (int)num_env("PUNCHD_DEDUPE_DAYS", 30, 1, 3650);
    o->redis_timeout_ms = (int)num_env("PUNCHD_REDIS_TIMEOUT_MS", 2000, 10, 600000);
    /* 0: the mechanics' own defaults (mechanics-internal.h). */
    o->lim.instructions = (uint64_t)num_env("PUNCHD_LUA_INSTRUCTIONS", 0, 1000, 1L << 40);
    o->lim.memory = (size_t)num_env("PUNCHD_LUA_MEMORY_MB", 0, 1, 4096) << 20;
    o->lim.deadline_ms = (int)num_env("PUNCHD_LUA_DEADLINE_MS", 0, 1, 60000);
    o->sweep_ms = (int)num_arg("PUNCHD_SWEEP_MS", env_or("PUNCHD_SWEEP_MS", "1000"), 0, 3600000);
    o->max_outcomes =
        num_arg("PUNCHD_MAX_OUTCOMES", env_or("PUNCHD_MAX_OUTCOMES", "1000"), 1, 1000000);
    o->max_event_keys =
        num_arg("PUNCHD_MAX_EVENT_KEYS", env_or("PUNCHD_MAX_EVENT_KEYS", "256"), 1, 1000000);
    o->max_response = num_arg("PUNCHD_MAX_RESPONSE_BYTES",
                              env_or("PUNCHD_MAX_RESPONSE_BYTES", "1048576"), 1024, 512L << 20);
    o->claim_timeout_ms = num_arg("PUNCHD_CLAIM_TIMEOUT_MS",
                                  env_or("PUNCHD_CLAIM_TIMEOUT_MS", "120000"), 1, 86400000);
    o->send_rate = (int)num_arg("PUNCHD_SEND_RATE", env_or("PUNCHD_SEND_RATE", "1000"), 1, 1000000);
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'l':
            o->listen = optarg;
            break;
        case 'u':
            o->unix_path = optarg;
            break;
        case 'r':
            o->redis = optarg;
            break;
        case 'C':
            o->redis_cluster = optarg;
            break;
        case 's':
            o->scripts = optarg;
            break;
        case 'n':
            o->ns = optarg;
            break;
        case 'w':
            o->workers = (int)num_arg("--workers", optarg, 1, MAX_WORKERS);
            break;
        case 'k':
            key_file = optarg;
            break;
        case 'b':
            o->max_body = (size_t)num_arg("--max-body", optarg, 256, 16 << 20);
            break;
        case 'B':
            o->max_batch_body = (size_t)num_arg("--max-batch-body", optarg, 256, 256 << 20);
            break;
        case 'd':
            o->dedupe_days = (int)num_arg("--dedupe-days", optarg, 1, 3650);
            break;
        case 't':
            o->redis_timeout_ms = (int)num_arg("--redis-timeout-ms", optarg, 10, 600000);
            break;
        case 'I':
            o->lim.instructions = (uint64_t)num_arg("--lua-instructions", optarg, 1000, 1L << 40);
            break;
        case 'M':
            o->lim.memory = (size_t)num_arg("--lua-memory-mb", optarg, 1, 4096) << 20;
            break;
        case 'D':
            o->lim.deadline_ms = (int)num_arg("--lua-deadline-ms", optarg, 1, 60000);
            break;
        case OPT_MAX_OUTCOMES:
            o->max_outcomes = num_arg("--max-outcomes", optarg, 1, 1000000);
            break;
        case OPT_MAX_KEYS:
            o->max_event_keys = num_arg("--max-event-keys", optarg, 1, 1000000);
            break;
        case OPT_MAX_FUTURE:
            o->max_future_s = num_arg("--max-future-s", optarg, 1, 10L * 366 * 86400);
            break;
        case OPT_REQUEST_TIMEOUT:
            o->request_timeout_ms = num_arg("--request-timeout-ms", optarg, 0, 3600000);
            break;
        case OPT_MAX_CONNS:
            o->max_conns = num_arg("--max-connections", optarg, 0, 10000000);
            break;
        case OPT_MAX_CONNS_IP:
            o->max_conns_per_ip = num_arg("--max-connections-per-ip", optarg, 0, 10000000);
            break;
        case OPT_MAX_RESPONSE:
            o->max_response = num_arg("--max-response-bytes", optarg, 1024, 512L << 20);
            break;
        case 'p':
            o->port_file = optarg;
            break;
        case 'S':
            o->sweep_ms = (int)num_arg("--sweep-ms", optarg, 0, 3600000);
            break;
        case 'v':
            level = optarg;
            break;
        case 'X':
            draw_secret_file = optarg;
            break;
        case 'K':
            o->api_keys_file = optarg;
            break;
        case OPT_WEBHOOKS_FILE:
            o->webhooks_file = optarg;
            break;
        case 'F':
            format = optarg;
            break;
        case 'V':
            printf("punchd %s (%s)\n", PUNCH_VERSION, PUNCH_GIT_DESCRIBE);
            exit(0);
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            exit(2);
        }
    }
    if (optind < argc) {
        usage(stderr);
        exit(2);
    }
    if (!pc_valid_name(o->ns) || strlen(o->ns) > 32) {
        fprintf(stderr, "punchd: --namespace must be 1-32 of a-z 0-9 _ . -\n");
        exit(2);
    }
    if (key_file) {
        o->api_key = read_key_file(key_file);
    } else if (getenv("PUNCHD_API_KEY") && *getenv("PUNCHD_API_KEY")) {
        check_key("API key (PUNCHD_API_KEY)", getenv("PUNCHD_API_KEY"));
        o->api_key = strdup(getenv("PUNCHD_API_KEY"));
    }
    if (strcmp(format, "text") && strcmp(format, "json")) {
        fprintf(stderr, "punchd: --log-format is text or json\n");
        exit(2);
    }
    pc_log_set_json(!strcmp(format, "json"));
    set_draw_secret(draw_secret_file);
    if (!strcmp(level, "debug")) {
        pc_log_set_level(PC_LOG_DEBUG);
    } else if (!strcmp(level, "warn")) {
        pc_log_set_level(PC_LOG_WARN);
    } else if (!strcmp(level, "error")) {
        pc_log_set_level(PC_LOG_ERROR);
    } else if (strcmp(level, "info")) {
        fprintf(stderr, "punchd: --log-level must be debug, info, warn or error, not \"%.32s\"\n",
                level);
        exit(2);
    }
}

/*
 * Every connection costs an fd: take all the kernel allows this process (the
 * soft limit is often 1024 while the hard one is far higher).
 */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= rl.rlim_max)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? 1 << 20 : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl))
        pc_log(PC_LOG_WARN, "cannot raise the open files limit: %s", strerror(errno));
}

static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
    worker *w = arg;
    struct timeval tv = {0, 20 * 1000};
    uint64_t left = server_drain(w->server);
    if (left == 0 || pc_mono_ms() > w->drain_deadline) {
        if (left)
            pc_log(PC_LOG_WARN, "worker %d: %lu requests still in flight at exit", w->index,
                   (unsigned long)left);
        event_base_loopexit(w->base, NULL);
        return;
    }
    evtimer_add(w->drain_ev, &tv);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    pc_log(PC_LOG_INFO, "signal %d: draining", (int)sig);
    for (int i = 0; i < nworkers; i++) {
        workers[i].drain_deadline = pc_mono_ms() + 5000;
        event_active(workers[i].drain_ev, EV_TIMEOUT, 0);
    }
}

/*
 * After each reload of worker 0's holder: the load goes into the program's shared history
 * (GET /v1/mechanics), and a failed one sends the program's "reload.failed" webhook (once per
 * error, whoever saw it) when webhooks are on.
 */
static void on_reload(void *arg, int ok, const char *msg)
{
    worker *w = arg;
    engine_note_load(w->engine, mech_holder_last_load(w->holder));
    if (!ok && w->hooks)
        engine_program_webhook(w->engine, "reload.failed",
                               json_pack("{s:s}", "error", msg ? msg : ""));
}

static int worker_init(worker *w, const options *o, int *port)
{
    store_config sc = {
        .addr = o->redis, .cluster = o->redis_cluster, .timeout_ms = o->redis_timeout_ms};
    engine_config ec = {.ns = o->ns,
                        .dedupe_ttl_s = o->dedupe_days * 86400,
                        .claim_timeout_ms = o->claim_timeout_ms,
                        .send_rate = o->send_rate,
                        .max_outcomes = (size_t)o->max_outcomes,
                        .max_keys = (size_t)o->max_event_keys,
                        .max_response = (size_t)o->max_response,
                        .outbox = hooks_cfg != NULL,
                        .expiring_notice_ms =
                            hooks_cfg ? webhooks_config_expiring_notice_ms(hooks_cfg) : 0};
    server_config svc = {.max_body = o->max_body,
                         .max_future_ms = o->max_future_s * 1000,
                         .request_timeout_ms = (int)o->request_timeout_ms,
                         .max_batch_body = o->max_batch_body,
                         .keys = keys,
                         .redis_stats = all_redis_stats};
    struct evconnlistener *l;
    struct event_config *ecfg = event_config_new();

    if (!ecfg)
        return -1;
    /*
     * epoll's changelist: the events added and deleted during a turn of the
     * loop reach the kernel at its end, one epoll_ctl per descriptor whose
     * state changed, not one per change (an HTTP connection's read and write
     * events change four times per request; http.c's http_reply() needs it
     * too). libevent warns it off for descriptors dup()ed: a delete reaches
     * epoll after the close, too late to drop a copy's registration. punchd
     * never copies a descriptor its loops watch.
     */
    event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    w->base = event_base_new_with_config(ecfg);
    event_config_free(ecfg);
    w->http = w->base ? evhttp_new(w->base) : NULL;
    if (!w->http)
        return -1;
    if (!(w->store = store_new(w->base, &sc))) {
        pc_log(PC_LOG_ERROR, "bad --redis%s address %s", o->redis_cluster ? "-cluster" : "",
               o->redis_cluster ? o->redis_cluster : o->redis);
        return -1;
    }
    w->holder = mech_holder_new(w->base, o->scripts, &o->lim);
    w->engine = engine_new(w->store, w->holder, &ec);
    w->server = server_new(w->base, w->http, w->engine, w->holder, &svc);
    w->drain_ev = evtimer_new(w->base, on_drain_tick, w);
    if (!w->holder || !w->engine || !w->server || !w->drain_ev)
        return -1;
    if (o->listen && *o->listen) {
        if (!(l = listen_tcp(w->base, o->listen, *port, w->index == 0 ? port : NULL)))
            return -1;
        if (!evhttp_bind_listener(w->http, l) || listen_watch(l))
            return -1;
    }
    if (w->index == 0 && o->unix_path && listen_unix(w->http, o->unix_path))
        return -1;
    /*
     * One sweeper per process is enough; ticks are deduplicated across processes anyway.
     * --sweep-ms 0 leaves due members to other punchd; claims are still settled.
     */
    if (w->index == 0 && !(w->sweeper = engine_sweeper_new(w->engine, o->sweep_ms)))
        return -1;
    /* One deliverer per process too: the leases share the outboxes between processes. */
    if (w->index == 0 && hooks_cfg) {
        engine_deliverer_config dc;
        webhooks_config_deliverer(hooks_cfg, &dc);
        if (!(w->hooks = webhooks_sender_new(w->base, hooks_cfg, w->engine)))
            return -1;
        dc.send = webhooks_send;
        dc.arg = w->hooks;
        if (!(w->deliverer = engine_deliverer_new(w->engine, &dc)))
            return -1;
    }
    /* Worker 0 records the scripts' loads (every worker loads the same folder alike). */
    if (w->index == 0) {
        engine_note_load(w->engine, mech_holder_last_load(w->holder));
        mech_holder_on_reload(w->holder, on_reload, w);
    }
    return 0;
}

/*
 * Teardown, in the order that keeps every callback off freed memory: the
 * server gives up its waiting requests (events cancelled, reads' late answers
 * dropped) before evhttp frees them; then the store fires what it still holds
 * while the engine and the sweeper are alive to take it.
 */
static void worker_free(worker *w)
{
    /* The deliverer first: the posts the sender abandons then end without a next step. */
    engine_deliverer_free(w->deliverer);
    webhooks_sender_free(w->hooks);
    server_free(w->server);
    if (w->http)
        evhttp_free(w->http);
    store_free(w->store);
    engine_sweeper_free(w->sweeper);
    engine_free(w->engine);
    mech_holder_free(w->holder);
    if (w->drain_ev)
        event_free(w->drain_ev);
    if (w->base)
        event_base_free(w->base);
}

static void *worker_run(void *arg)
{
    worker *w = arg;
    event_base_dispatch(w->base);
    return NULL;
}

int main(int argc, char **argv)
{
    options o = {0};
    int port = 0, rc = 1;
    struct event *sigint = NULL, *sigterm = NULL;

    parse_options(argc, argv, &o);
    {
        char err[300];
        if (!(keys = apikeys_new(o.api_keys_file, o.api_key, err, sizeof err))) {
            fprintf(stderr, "punchd: API keys file %s: %s\n", o.api_keys_file, err);
            return 2;
        }
        if (o.api_key)
            memset(o.api_key, 0, strlen(o.api_key));
    }
    if (o.webhooks_file) {
        char err[300];
        if (!(hooks_cfg = webhooks_config_load(o.webhooks_file, err, sizeof err))) {
            fprintf(stderr, "punchd: webhooks file %s: %s\n", o.webhooks_file, err);
            return 2;
        }
        curl_global_init(CURL_GLOBAL_DEFAULT);
    }
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    conns_configure((int)o.max_conns, (int)o.max_conns_per_ip);
    if (o.listen && *o.listen && listen_claim(o.listen))
        goto out;
    evthread_use_pthreads();
    nworkers = o.workers;
    for (int i = 0; i < nworkers; i++) {
        workers[i].index = i;
        if (worker_init(&workers[i], &o, &port))
            goto out;
    }
    if (o.port_file) {
        FILE *f = fopen(o.port_file, "w");
        if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f)) {
            pc_log(PC_LOG_ERROR, "cannot write %s", o.port_file);
            goto out;
        }
    }
    sigint = evsignal_new(workers[0].base, SIGINT, on_signal, NULL);
    sigterm = evsignal_new(workers[0].base, SIGTERM, on_signal, NULL);
    evsignal_add(sigint, NULL);
    evsignal_add(sigterm, NULL);
    pc_log(PC_LOG_INFO,
           "punchd %s: listening on %s (port %d)%s%s, redis %s%s, scripts %s, %d worker%s",
           PUNCH_VERSION, o.listen, port, o.unix_path ? " and " : "",
           o.unix_path ? o.unix_path : "", o.redis_cluster ? "cluster " : "",
           o.redis_cluster ? o.redis_cluster : o.redis, o.scripts, nworkers,
           nworkers == 1 ? "" : "s");
    for (int i = 1; i < nworkers; i++)
        pthread_create(&workers[i].thread, NULL, worker_run, &workers[i]);
    event_base_dispatch(workers[0].base);
    for (int i = 1; i < nworkers; i++)
        pthread_join(workers[i].thread, NULL);
    rc = 0;
    pc_log(PC_LOG_INFO, "punchd: stopped");
out:
    if (sigint)
        event_free(sigint);
    if (sigterm)
        event_free(sigterm);
    for (int i = 0; i < nworkers; i++)
        worker_free(&workers[i]);
    listen_unwatch_all();
    if (o.unix_path)
        unlink(o.unix_path);
    free(o.api_key);
    apikeys_free(keys);
    if (hooks_cfg) {
        webhooks_config_free(hooks_cfg);
        curl_global_cleanup();
    }
    return rc;
}
