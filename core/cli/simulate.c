/*
 * punch simulate: replays a history of events (JSON lines, the body of
 * POST /v1/events) through the very engine punchd runs, in a throwaway
 * namespace, and reports what the program would have done. With --against,
 * replays the same history through a second scripts folder and prints both
 * and the difference: what a rule change costs.
 *
 * Speed: like punchd --workers, N worker threads each run an engine of their
 * own (loop, Redis connection, Lua state) and keep up to --window events in
 * flight. A member belongs to one worker (a hash of its id), so its events
 * stay in file order; shared state (draw pools, budgets) is Redis's, as in
 * production. Each worker reads the file and takes its members' lines.
 */
#include "cli.h"
#include "simreport.h"
#include "common/jsonr.h"
#include "punchcard/query.h"

#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SIM_WINDOW      256 /* events in flight per worker */
#define SIM_MAX_WORKERS 32
#define SIM_SHOW_ERRORS 5 /* failed events printed to stderr, then only counted */

/* One replay of the file with one scripts folder, shared by its workers. */
typedef struct sim_run {
    const char *path, *dir, *ns, *redis, *name;
    int window, nworkers, progress;
    const char *per;  /* --per: also figures per period, or NULL */
    atomic_int shown; /* failures printed so far */
    atomic_int finished;
    /*
     * Engines are set up one at a time, and all before any replays: engine_new()
     * fills the SHA of the shared server-side scripts, which the others read.
     */
    pthread_mutex_t setup;
    pthread_cond_t go;
    int ready, expected; /* workers set up; workers started (-1 until all were) */
    /*
     * The settling ticks go out at the time of the history's last event, the same
     * for every member whatever worker replayed it: each worker waits until all
     * have read the whole file (replayed counts them) and last_at is their latest.
     */
    int replayed;
    int64_t last_at;
} sim_run;

typedef struct sim_worker sim_worker;

/* One event in flight: its worker, and its line for messages. */
typedef struct sim_slot {
    sim_worker *w;
    long line;
    json_t *data; /* the event's data (a reference), for the experiments' spend */
} sim_slot;

struct sim_worker {
    sim_run *run;
    int index;
    pthread_t thread;
    session s;
    sim_report *rep;
    sim_slot *slots;
    int *free_slots, nfree, inflight;
    atomic_llong events; /* lines taken (events, or lines that tried to be) */
    atomic_llong offset; /* how far into the file */
    int failed;          /* the worker could not run; why is already printed */
    int arrived;         /* replay_done() was called */
    json_t *members;     /* every member replayed here (a set), for the settling ticks */
    int64_t last_at;     /* the latest event time seen */
    json_t *figures;
    json_t *experiments; /* the set's declared experiments (a copy), or NULL */
    char version[16];
};

typedef struct sim_result {
    const char *dir;
    char version[16];
    double seconds;
    long long events;
    json_t *figures;
    json_t *experiments; /* declared experiments, or NULL */
} sim_result;

static void show_failure(sim_run *r, long line, const char *what)
{
    if (atomic_fetch_add(&r->shown, 1) < SIM_SHOW_ERRORS)
        fprintf(stderr, "%s%s: line %ld: %s\n", r->progress ? "\r\033[K" : "", r->name, line, what);
}

static void on_answer(void *arg, int status, json_t *body)
{
    sim_slot *sl = arg;
    sim_worker *w = sl->w;

    simrep_add_event(w->rep, status, body, sl->data);
    json_decref(sl->data);
    sl->data = NULL;
    if (status != 200) {
        json_t *e = json_object_get(body, "error");
        char what[600];
        snprintf(what, sizeof what, "%d %s: %s", status,
                 json_string_value(json_object_get(e, "code")),
                 json_string_value(json_object_get(e, "message")));
        show_failure(w->run, sl->line, what);
    }
    json_decref(body);
    w->free_slots[w->nfree++] = (int)(sl - w->slots);
    w->inflight--;
}

static uint64_t hash_id(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

/*
 * The worker that owns a line: by the hash of its member, read with a quick
 * scan when "member" occurs once with a plain string, else from a full parse.
 * A line without a member (it will fail) goes to worker 0.
 */
static int line_owner(const char *text, size_t len, int nworkers)
{
    const char *p = strstr(text, "\"member\""), *q;
    json_t *obj;
    int owner = 0;

    if (nworkers == 1)
        return 0;
    if (p && !strstr(p + 8, "\"member\"")) {
        p += 8;
        p += strspn(p, " \t");
        if (*p == ':') {
            p++;
            p += strspn(p, " \t");
            if (*p == '"') {
                for (q = ++p; *q && *q != '"' && *q != '\\'; q++)
                    ;
                if (*q == '"')
                    return (int)(hash_id(p, (size_t)(q - p)) % (uint64_t)nworkers);
            }
        }
    }
    if ((obj = json_loadb(text, len, 0, NULL))) {
        json_t *m = json_object_get(obj, "member");
        if (json_is_string(m))
            owner =
                (int)(hash_id(json_string_value(m), json_string_length(m)) % (uint64_t)nworkers);
        json_decref(obj);
    }
    return owner;
}

/* Parses one line into ev; an event without "id" is given "line-N". 0, or -1 with why. */
static int parse_line(const char *text, size_t len, long line, pc_event *ev, char *why,
                      size_t whylen)
{
    pc_json_error jerr;
    pc_error err;
    json_t *obj = pc_json_parse(text, len, &jerr);
    int rc;

    if (!obj) {
        snprintf(why, whylen, "bad JSON: %s", jerr.text);
        return -1;
    }
    if (json_is_object(obj) && !json_object_get(obj, "id")) {
        char id[32];
        snprintf(id, sizeof id, "line-%ld", line);
        json_object_set_new(obj, "id", json_string(id));
    }
    rc = pc_event_from_json(obj, ev, &err);
    json_decref(obj);
    if (rc)
        snprintf(why, whylen, "%s", err.message);
    return rc;
}

static int blank(const char *s)
{
    return s[strspn(s, " \t\r\n")] == '\0';
}

/* The worker's replay: its lines of the file, up to window in flight. 0 or -1. */
static void on_settled(void *arg, int status, json_t *body)
{
    sim_slot *sl = arg;
    sim_worker *w = sl->w;
    if (status == 200)
        simrep_add_settled(w->rep, body);
    json_decref(body);
    w->free_slots[w->nfree++] = (int)(sl - w->slots);
    w->inflight--;
}

/*
 * After the replay, one "tick" per member at the latest event time: what
 * expired by the end of the history is reported for members who sent nothing
 * after their lots came due, as the sweeper would have done in production.
 */
static void settle(sim_worker *w)
{
    const char *member;
    json_t *v;
    void *iter = json_object_iter(w->members);
    while (iter || w->inflight > 0) {
        while (iter && w->nfree > 0) {
            pc_event ev = {0};
            sim_slot *sl = &w->slots[w->free_slots[--w->nfree]];
            member = json_object_iter_key(iter);
            v = json_object_iter_value(iter);
            (void)v;
            iter = json_object_iter_next(w->members, iter);
            snprintf(ev.id, sizeof ev.id, "sim-settle");
            snprintf(ev.type, sizeof ev.type, "tick");
            snprintf(ev.member, sizeof ev.member, "%s", member);
            ev.at_ms = w->last_at;
            ev.at_given = 1;
            ev.data = json_object();
            sl->line = 0;
            w->inflight++;
            engine_submit(w->s.engine, &ev, on_settled, sl);
        }
        if (w->inflight > 0 && event_base_loop(w->s.base, EVLOOP_ONCE) < 0)
            return;
    }
}

/*
 * The worker has replayed its lines (or given up): waits for every other worker
 * to get there too and returns the latest event time any of them saw (0: none).
 */
static int64_t replay_done(sim_run *r, int64_t last_at)
{
    int64_t latest;
    pthread_mutex_lock(&r->setup);
    if (last_at > r->last_at)
        r->last_at = last_at;
    r->replayed++;
    pthread_cond_broadcast(&r->go);
    while (r->replayed < r->expected)
        pthread_cond_wait(&r->go, &r->setup);
    latest = r->last_at;
    pthread_mutex_unlock(&r->setup);
    return latest;
}

static int worker_replay(sim_worker *w, FILE *in)
{
    sim_run *r = w->run;
    char *text = NULL;
    size_t cap = 0;
    ssize_t len;
    long line = 0;
    int eof = 0, rc = 0;

    while (!eof || w->inflight > 0) {
        while (!eof && w->nfree > 0) {
            pc_event ev;
            char why[600];
            sim_slot *sl;
            if ((len = getline(&text, &cap, in)) < 0) {
                eof = 1;
                break;
            }
            line++;
            if (blank(text) || line_owner(text, (size_t)len, r->nworkers) != w->index)
                continue;
            atomic_fetch_add(&w->events, 1);
            if (parse_line(text, (size_t)len, line, &ev, why, sizeof why)) {
                simrep_add_bad_input(w->rep);
                show_failure(r, line, why);
                continue;
            }
            json_object_set_new(w->members, ev.member, json_true());
            if (ev.at_given && ev.at_ms > w->last_at)
                w->last_at = ev.at_ms;
            sl = &w->slots[w->free_slots[--w->nfree]];
            sl->line = line;
            sl->data = json_incref(pc_event_data(&ev));
            w->inflight++;
            /* May answer at once (e.g. Redis down): on_answer handles both. */
            engine_submit(w->s.engine, &ev, on_answer, sl);
        }
        atomic_store(&w->offset, (long long)ftello(in));
        if (w->inflight > 0 && event_base_loop(w->s.base, EVLOOP_ONCE) < 0) {
            rc = -1;
            break;
        }
    }
    if (ferror(in)) {
        fprintf(stderr, "punch simulate: %s: read error\n", r->path);
        rc = -1;
    }
    w->arrived = 1;
    w->last_at = replay_done(r, w->last_at);
    if (rc == 0) {
        if (!w->last_at)
            w->last_at = w->s.now_ms;
        settle(w);
    }
    free(text);
    return rc;
}

static void *worker_main(void *arg)
{
    sim_worker *w = arg;
    sim_run *r = w->run;
    FILE *in = strcmp(r->path, "-") ? fopen(r->path, "r") : stdin;
    mechset *set = NULL;

    int up;

    w->failed = 1;
    pthread_mutex_lock(&r->setup);
    up = session_open(&w->s, r->redis) == 0 &&
         (w->s.no_figures = 1, session_load(&w->s, r->dir, r->ns, 0) == 0);
    r->ready++;
    pthread_cond_broadcast(&r->go);
    while (r->expected < 0 || r->ready < r->expected)
        pthread_cond_wait(&r->go, &r->setup);
    pthread_mutex_unlock(&r->setup);
    if (!in) {
        fprintf(stderr, "punch simulate: %s: cannot open\n", r->path);
        goto out;
    }
    if (!up) {
        fprintf(stderr, "punch simulate: cannot start an engine on %s\n", r->redis);
        goto out;
    }
    if (!(set = mech_holder_acquire(w->s.holder))) {
        json_t *d = mech_holder_describe(w->s.holder);
        if (w->index == 0)
            fprintf(stderr, "punch simulate: the mechanics in %s do not load: %s\n", r->dir,
                    json_string_value(json_object_get(json_object_get(d, "error"), "message")));
        json_decref(d);
        goto out;
    }
    snprintf(w->version, sizeof w->version, "%s", mechset_version(set));
    w->rep = simrep_new();
    if (w->rep)
        simrep_set_per(w->rep, r->per);
    if (w->rep && mechset_experiments(set)) {
        simrep_set_experiments(w->rep, mechset_experiments(set));
        w->experiments = json_deep_copy(mechset_experiments(set));
    }
    mechset_unref(set);
    w->members = json_object();
    w->slots = calloc((size_t)r->window, sizeof *w->slots);
    w->free_slots = calloc((size_t)r->window, sizeof *w->free_slots);
    if (!w->rep || !w->slots || !w->free_slots)
        goto out;
    for (int i = 0; i < r->window; i++) {
        w->slots[i].w = w;
        w->free_slots[w->nfree++] = r->window - 1 - i;
    }
    if (worker_replay(w, in) == 0) {
        w->figures = simrep_json(w->rep);
        w->failed = 0;
    }
out:
    if (!w->arrived) /* the others wait for every worker */
        replay_done(r, 0);
    json_decref(w->members);
    free(w->slots);
    free(w->free_slots);
    simrep_free(w->rep);
    session_close(&w->s);
    if (in && in != stdin)
        fclose(in);
    atomic_fetch_add(&r->finished, 1);
    return NULL;
}

static void draw_progress(sim_run *r, sim_worker *ws, off_t size, int64_t started)
{
    long long events = 0, offset = -1;
    double secs = (double)(pc_mono_ms() - started) / 1000.0, rate;
    char bar[31];
    for (int i = 0; i < r->nworkers; i++) {
        long long o = atomic_load(&ws[i].offset);
        events += atomic_load(&ws[i].events);
        if (offset < 0 || o < offset)
            offset = o;
    }
    rate = secs > 0 ? (double)events / secs : 0.0;
    if (size > 0) {
        double done = offset > 0 ? (double)offset / (double)size : 0.0;
        int fill = (int)(done * 30);
        memset(bar, '#', 30);
        memset(bar + fill, '.', 30 - (size_t)fill);
        bar[30] = '\0';
        fprintf(stderr, "\r%s [%s] %3d%% %10lld events %8.0f events/s", r->name, bar,
                (int)(done * 100), events, rate);
    } else {
        fprintf(stderr, "\r%s %10lld events %8.0f events/s", r->name, events, rate);
    }
}

/*
 * Replays the file with the mechanics of dir on namespace ns through nworkers
 * engines on the Redis at addr, and fills out. 0, or -1 when it could not run.
 */
static int replay(sim_run *r, sim_result *out)
{
    sim_worker *ws = calloc((size_t)r->nworkers, sizeof *ws);
    struct stat st;
    off_t size = 0;
    int64_t started = pc_mono_ms();
    int rc = 0, started_threads = 0;

    if (!ws)
        return -1;
    pthread_mutex_init(&r->setup, NULL);
    pthread_cond_init(&r->go, NULL);
    r->ready = 0;
    r->expected = -1;
    r->replayed = 0;
    r->last_at = 0;
    if (strcmp(r->path, "-") && stat(r->path, &st) == 0 && S_ISREG(st.st_mode))
        size = st.st_size;
    for (int i = 0; i < r->nworkers; i++) {
        ws[i].run = r;
        ws[i].index = i;
        if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i])) {
            fprintf(stderr, "punch simulate: cannot start worker %d\n", i);
            rc = -1;
            break;
        }
        started_threads++;
    }
    /* Now the workers know how many to wait for before replaying. */
    pthread_mutex_lock(&r->setup);
    r->expected = started_threads;
    pthread_cond_broadcast(&r->go);
    pthread_mutex_unlock(&r->setup);
    while (atomic_load(&r->finished) < started_threads) {
        struct timespec nap = {0, 100 * 1000 * 1000};
        nanosleep(&nap, NULL);
        if (r->progress)
            draw_progress(r, ws, size, started);
    }
    if (r->progress)
        fputs("\r\033[K", stderr);
    out->seconds = (double)(pc_mono_ms() - started) / 1000.0;
    out->events = 0;
    for (int i = 0; i < started_threads; i++) {
        pthread_join(ws[i].thread, NULL);
        out->events += atomic_load(&ws[i].events);
        if (ws[i].failed) {
            rc = -1;
        } else if (!out->figures) {
            out->figures = ws[i].figures;
            ws[i].figures = NULL;
            out->experiments = ws[i].experiments;
            ws[i].experiments = NULL;
            snprintf(out->version, sizeof out->version, "%s", ws[i].version);
        } else {
            simrep_merge(out->figures, ws[i].figures);
        }
        json_decref(ws[i].figures);
        json_decref(ws[i].experiments);
    }
    if (atomic_load(&r->shown) > SIM_SHOW_ERRORS)
        fprintf(stderr, "%s: ... and %d more failed events\n", r->name,
                atomic_load(&r->shown) - SIM_SHOW_ERRORS);
    pthread_cond_destroy(&r->go);
    pthread_mutex_destroy(&r->setup);
    free(ws);
    return rc;
}

static double per_second(const sim_result *r)
{
    return r->seconds > 0 ? (double)r->events / r->seconds : 0.0;
}

/*
 * Each declared experiment's report (engine_experiment_report(), as GET
 * /v1/experiments/{name} gives it) from the replay's figures; new reference.
 */
static json_t *experiment_reports(const sim_result *r)
{
    json_t *out = json_object(), *decl, *none = json_object();
    const char *name;
    json_t *figs = json_object_get(r->figures, "experiments");
    json_object_foreach(r->experiments, name, decl) {
        json_t *f = json_object_get(figs, name);
        json_t *rep = engine_experiment_report(name, decl, f ? f : none);
        if (rep)
            json_object_set_new(out, name, rep);
    }
    json_decref(none);
    return out;
}

static json_t *result_json(const sim_result *r)
{
    json_t *j = json_pack("{s:s, s:s, s:I, s:f, s:f, s:O}", "dir", r->dir, "mechanics_version",
                          r->version, "events", (json_int_t)r->events, "seconds", r->seconds,
                          "events_per_s", per_second(r), "figures", r->figures);
    if (j && r->experiments)
        json_object_set_new(j, "experiments", experiment_reports(r));
    if (j && json_object_get(r->figures, "periods"))
        json_object_set_new(j, "periods", simper_table(json_object_get(r->figures, "periods")));
    return j;
}

static void print_group(const char *group, json_t *g)
{
    const char *cur;
    json_t *v;
    printf("  %-10s %6lld members %8lld events   spend %10lld (%.2f per member)", group,
           (long long)json_integer_value(json_object_get(g, "members")),
           (long long)json_integer_value(json_object_get(g, "events")),
           (long long)json_integer_value(json_object_get(g, "spend")),
           json_number_value(json_object_get(g, "spend_per_member")));
    json_object_foreach(json_object_get(g, "issued"), cur, v)
        printf("   %s issued %lld", cur, (long long)json_integer_value(v));
    json_object_foreach(json_object_get(g, "redeemed"), cur, v)
        printf("   %s redeemed %lld", cur, (long long)json_integer_value(v));
    putchar('\n');
}

/* The experiments of a run, as text: each group, then the lift and its 95% interval. */
static void print_experiments(const char *label, const sim_result *r)
{
    json_t *reps = r->experiments ? experiment_reports(r) : NULL, *rep;
    const char *name;
    json_object_foreach(reps, name, rep) {
        json_t *ci = json_object_get(rep, "lift_ci95");
        printf("\n%s: experiment %s (%g%% held out; spend: %s)\n", label, name,
               json_number_value(json_object_get(rep, "control")),
               json_is_string(json_object_get(rep, "spend"))
                   ? json_string_value(json_object_get(rep, "spend"))
                   : "not declared");
        print_group("control", json_object_get(json_object_get(rep, "groups"), "control"));
        print_group("treatment", json_object_get(json_object_get(rep, "groups"), "treatment"));
        if (json_is_number(json_object_get(rep, "lift")))
            printf("  lift of spend per member %+.2f%%, 95%% interval [%+.2f%%, %+.2f%%]%s\n",
                   100 * json_number_value(json_object_get(rep, "lift")),
                   100 * json_number_value(json_array_get(ci, 0)),
                   100 * json_number_value(json_array_get(ci, 1)),
                   json_is_true(json_object_get(rep, "significant")) ? " (significant)"
                                                                     : " (not significant)");
        else
            printf("  lift: %s\n", json_string_value(json_object_get(rep, "note")));
    }
    json_decref(reps);
}

static void print_run(const char *label, const sim_result *r)
{
    printf("%-8s %s (mechanics %s): %lld events in %.2f s, %.0f events/s\n", label, r->dir,
           r->version, r->events, r->seconds, per_second(r));
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: punch simulate --scripts DIR [--against DIR2] [--redis ADDR] [--workers N]\n"
            "                      [--redis-cluster HOST:PORT[,HOST:PORT...]]\n"
            "                      [--window N] [--per day|week|month|year] [--json]\n"
            "                      [--html FILE] [--progress | --no-progress] EVENTS.jsonl\n"
            "Replays JSON lines (the body of POST /v1/events; \"id\" optional) in a throwaway\n"
            "namespace and reports what the mechanics in DIR would have done. With --against,\n"
            "also replays them through DIR2 and prints the change (DIR minus DIR2).\n"
            "--workers: engines in parallel (default: one per CPU); --window: events in flight\n"
            "per engine (default %d). EVENTS.jsonl may be '-' (stdin; one worker, no --against).\n"
            "--per: also issued, redeemed, expired, reversed, outstanding and breakage per\n"
            "period of the events' times (UTC); with --against, the change per period.\n"
            "--html FILE: also write the report as one HTML page (plots; opens offline and in\n"
            "punchd's console, /console).\n",
            SIM_WINDOW);
}

/* One replay on a fresh namespace, which is wiped afterwards. */
static int run_one(session *s, sim_run *r, sim_result *out)
{
    int rc;
    out->dir = r->dir;
    rc = replay(r, out);
    /* Leave nothing behind on a given server; free the memory of a throwaway one. */
    snprintf(s->ns, sizeof s->ns, "%s", r->ns);
    if (session_wipe(s))
        fprintf(stderr, "punch simulate: could not remove namespace %s\n", r->ns);
    return rc;
}

/* The report as JSON (--json, --html): a new reference. */
static json_t *report_json(const char *path, sim_result *scripts, sim_result *against)
{
    json_t *j = json_pack("{s:s, s:o}", "file", path, "scripts", result_json(scripts));
    if (j && against) {
        json_object_set_new(j, "against", result_json(against));
        json_object_set_new(j, "difference", simrep_diff(against->figures, scripts->figures));
        if (json_object_get(scripts->figures, "periods"))
            json_object_set_new(j, "periods_difference",
                                simper_diff(json_object_get(against->figures, "periods"),
                                            json_object_get(scripts->figures, "periods")));
        if (json_object_get(scripts->figures, "discounts_per_period"))
            json_object_set_new(
                j, "discounts_per_period_difference",
                simper_discounts_diff(json_object_get(against->figures, "discounts_per_period"),
                                      json_object_get(scripts->figures, "discounts_per_period")));
    }
    return j;
}

static void print_report(const char *path, int json, const char *run_per, sim_result *scripts,
                         sim_result *against)
{
    if (json) {
        json_t *j = report_json(path, scripts, against);
        json_dumpf(j, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(j);
    } else if (against) {
        print_run("against", against);
        print_run("scripts", scripts);
        putchar('\n');
        simrep_print(stdout, against->figures, "against", scripts->figures, "scripts");
        if (run_per) {
            simper_print(stdout, run_per, json_object_get(against->figures, "periods"), "against",
                         json_object_get(scripts->figures, "periods"), "scripts");
            simper_discounts_print(
                stdout, run_per, json_object_get(against->figures, "discounts_per_period"),
                "against", json_object_get(scripts->figures, "discounts_per_period"), "scripts");
        }
        print_experiments("against", against);
        print_experiments("scripts", scripts);
    } else {
        print_run("scripts", scripts);
        putchar('\n');
        simrep_print(stdout, scripts->figures, "scripts", NULL, NULL);
        if (run_per) {
            simper_print(stdout, run_per, json_object_get(scripts->figures, "periods"), "scripts",
                         NULL, NULL);
            simper_discounts_print(stdout, run_per,
                                   json_object_get(scripts->figures, "discounts_per_period"),
                                   "scripts", NULL, NULL);
        }
        print_experiments("scripts", scripts);
    }
}

int cmd_simulate(int argc, char **argv)
{
    static const struct option longs[] = {{"scripts", required_argument, 0, 's'},
                                          {"against", required_argument, 0, 'a'},
                                          {"redis", required_argument, 0, 'r'},
                                          {"workers", required_argument, 0, 'W'},
                                          {"redis-cluster", required_argument, 0, 'C'},
                                          {"window", required_argument, 0, 'w'},
                                          {"json", no_argument, 0, 'j'},
                                          {"html", required_argument, 0, 'H'},
                                          {"per", required_argument, 0, 'e'},
                                          {"progress", no_argument, 0, 'p'},
                                          {"no-progress", no_argument, 0, 'P'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    const char *dir = NULL, *against = NULL, *redis = NULL, *path, *per = NULL, *html = NULL;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int workers = cpus > 0 ? (int)(cpus < 8 ? cpus : 8) : 1;
    int window = SIM_WINDOW, json = 0, progress = isatty(2), opt, rc = 1;
    sim_result a = {0}, b = {0};
    sim_run run = {0};
    char ns[64];
    session s;

    while ((opt = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (opt) {
        case 's':
            dir = optarg;
            break;
        case 'a':
            against = optarg;
            break;
        case 'r':
            redis = optarg;
            break;
        case 'C':
            redis = session_cluster_addr(optarg);
            break;
        case 'W':
            workers = atoi(optarg);
            break;
        case 'w':
            window = atoi(optarg);
            break;
        case 'j':
            json = 1;
            break;
        case 'H':
            html = optarg;
            break;
        case 'e':
            per = optarg;
            if (strcmp(per, "day") && strcmp(per, "week") && strcmp(per, "month") &&
                strcmp(per, "year")) {
                fprintf(stderr, "punch simulate: --per is day, week, month or year\n");
                return 2;
            }
            break;
        case 'p':
            progress = 1;
            break;
        case 'P':
            progress = 0;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!dir || optind != argc - 1 || window < 1 || window > 65536 || workers < 1 ||
        workers > SIM_MAX_WORKERS) {
        usage(stderr);
        return 2;
    }
    path = argv[optind];
    if (!strcmp(path, "-")) {
        if (against) {
            fprintf(stderr, "punch simulate: --against reads the events twice: give a file\n");
            return 2;
        }
        workers = 1;
    } else if (access(path, R_OK)) {
        fprintf(stderr, "punch simulate: %s: cannot open\n", path);
        return 2;
    }
    pc_log_set_level(PC_LOG_ERROR);
    if (session_open(&s, redis)) {
        fprintf(stderr, "punch simulate: no redis (install redis-server, or give --redis)\n");
        session_close(&s);
        return 2;
    }
    snprintf(ns, sizeof ns, "sim%d-%lld-b", (int)getpid(), (long long)pc_now_ms());
    run.path = path;
    run.redis = redis ? redis : s.redis.socket;
    run.window = window;
    run.nworkers = workers;
    run.progress = progress;
    run.per = per;
    run.ns = ns;
    if (against) {
        run.dir = against;
        run.name = "against";
        if (run_one(&s, &run, &a))
            goto out;
        atomic_store(&run.finished, 0);
        atomic_store(&run.shown, 0);
    }
    ns[strlen(ns) - 1] = 'a';
    run.dir = dir;
    run.name = "scripts";
    if (run_one(&s, &run, against ? &b : &a))
        goto out;
    print_report(path, json, per, against ? &b : &a, against ? &a : NULL);
    rc = 0;
    if (html) {
        json_t *j = report_json(path, against ? &b : &a, against ? &a : NULL);
        if (!j || simhtml_write(html, path, j)) {
            fprintf(stderr, "punch simulate: %s: cannot write the report\n", html);
            rc = 1;
        }
        json_decref(j);
    }
out:
    json_decref(a.figures);
    json_decref(b.figures);
    json_decref(a.experiments);
    json_decref(b.experiments);
    session_close(&s);
    return rc;
}
