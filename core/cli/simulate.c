/*
 * punch simulate: replays a history of events (JSON lines, the body of
 * POST /v1/events) through the very engine punchd runs, in a throwaway
 * namespace, with many events in flight at once, and reports what the program
 * would have done. With --against, replays the same history through a second
 * scripts folder and prints both and the difference: what a rule change costs.
 */
#include "cli.h"
#include "simreport.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SIM_WINDOW      256 /* events in flight; one member's events still go one by one */
#define SIM_SHOW_ERRORS 5   /* failed events printed to stderr, then only counted */

typedef struct sim_pass sim_pass;

/* One event in flight: where to report, and its line for messages. */
typedef struct sim_slot {
    sim_pass *p;
    long line;
} sim_slot;

struct sim_pass {
    session *s;
    const char *name; /* "scripts" or "against", for the progress bar */
    sim_report *rep;
    sim_slot *slots;
    int *free_slots, nfree, inflight;
    long long events; /* lines that were events or tried to be */
    int shown;        /* failures printed so far */
    int progress;
    off_t size;
    int64_t started, drawn;
};

typedef struct sim_result {
    const char *dir;
    char version[16];
    double seconds;
    long long events;
    json_t *figures;
} sim_result;

static void show_failure(sim_pass *p, long line, const char *what)
{
    if (p->shown++ < SIM_SHOW_ERRORS)
        fprintf(stderr, "%s%s: line %ld: %s\n", p->progress ? "\r\033[K" : "", p->name, line, what);
}

static void on_answer(void *arg, int status, json_t *body)
{
    sim_slot *sl = arg;
    sim_pass *p = sl->p;

    simrep_add(p->rep, status, body);
    if (status != 200) {
        json_t *e = json_object_get(body, "error");
        char what[600];
        snprintf(what, sizeof what, "%d %s: %s", status,
                 json_string_value(json_object_get(e, "code")),
                 json_string_value(json_object_get(e, "message")));
        show_failure(p, sl->line, what);
    }
    json_decref(body);
    p->free_slots[p->nfree++] = (int)(sl - p->slots);
    p->inflight--;
}

static void draw_progress(sim_pass *p, FILE *in, int final)
{
    int64_t now = pc_mono_ms();
    double secs = (double)(now - p->started) / 1000.0;
    char bar[33];
    if (!p->progress || (!final && now - p->drawn < 100))
        return;
    p->drawn = now;
    if (final) {
        fputs("\r\033[K", stderr);
        return;
    }
    if (p->size > 0) {
        double done = (double)ftello(in) / (double)p->size;
        int fill = (int)(done * 30);
        memset(bar, '#', 30);
        memset(bar + fill, '.', 30 - (size_t)fill);
        bar[30] = '\0';
        fprintf(stderr, "\r%s [%s] %3d%% %10lld events %8.0f events/s", p->name, bar,
                (int)(done * 100), p->events, secs > 0 ? p->events / secs : 0.0);
    } else {
        fprintf(stderr, "\r%s %10lld events %8.0f events/s", p->name, p->events,
                secs > 0 ? p->events / secs : 0.0);
    }
}

/* Parses one line into ev; an event without "id" is given "line-N". 0, or -1 with why. */
static int parse_line(const char *text, size_t len, long line, pc_event *ev, char *why,
                      size_t whylen)
{
    json_error_t jerr;
    pc_error err;
    json_t *obj = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
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
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
            return 0;
    return 1;
}

/*
 * Replays every line of in through the session's engine, keeping up to window
 * events in flight, and fills out. 0, or -1 when the pass could not run.
 */
static int replay(session *s, const char *name, FILE *in, int window, int progress, sim_result *out)
{
    sim_pass p = {.s = s, .name = name, .progress = progress};
    char *text = NULL;
    size_t cap = 0;
    ssize_t len;
    long line = 0;
    struct stat st;
    mechset *set = mech_holder_acquire(s->holder);
    int rc = -1;

    if (!set) {
        json_t *d = mech_holder_describe(s->holder);
        fprintf(stderr, "punch simulate: the mechanics in %s do not load: %s\n", out->dir,
                json_string_value(json_object_get(json_object_get(d, "error"), "message")));
        json_decref(d);
        return -1;
    }
    snprintf(out->version, sizeof out->version, "%s", mechset_version(set));
    mechset_unref(set);
    p.rep = simrep_new();
    p.slots = calloc((size_t)window, sizeof *p.slots);
    p.free_slots = calloc((size_t)window, sizeof *p.free_slots);
    if (!p.rep || !p.slots || !p.free_slots)
        goto err;
    for (int i = 0; i < window; i++) {
        p.slots[i].p = &p;
        p.free_slots[p.nfree++] = window - 1 - i;
    }
    p.size = fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode) ? st.st_size : 0;
    p.started = pc_mono_ms();
    for (;;) {
        int eof = 0;
        while (p.nfree > 0) {
            pc_event ev;
            char why[600];
            sim_slot *sl;
            if ((len = getline(&text, &cap, in)) < 0) {
                eof = 1;
                break;
            }
            line++;
            if (blank(text))
                continue;
            p.events++;
            if (parse_line(text, (size_t)len, line, &ev, why, sizeof why)) {
                simrep_add_bad_input(p.rep);
                show_failure(&p, line, why);
                continue;
            }
            sl = &p.slots[p.free_slots[--p.nfree]];
            sl->line = line;
            p.inflight++;
            /* May answer at once (e.g. Redis down): on_answer handles both. */
            engine_submit(s->engine, &ev, on_answer, sl);
        }
        if (eof && p.inflight == 0)
            break;
        if (event_base_loop(s->base, EVLOOP_ONCE) < 0)
            goto err;
        draw_progress(&p, in, 0);
    }
    draw_progress(&p, in, 1);
    if (ferror(in)) {
        fprintf(stderr, "punch simulate: read error\n");
        goto err;
    }
    if (p.shown > SIM_SHOW_ERRORS)
        fprintf(stderr, "%s: ... and %d more failed events\n", name, p.shown - SIM_SHOW_ERRORS);
    out->seconds = (double)(pc_mono_ms() - p.started) / 1000.0;
    out->events = p.events;
    out->figures = simrep_json(p.rep);
    rc = 0;
err:
    free(text);
    free(p.slots);
    free(p.free_slots);
    simrep_free(p.rep);
    return rc;
}

static double per_second(const sim_result *r)
{
    return r->seconds > 0 ? (double)r->events / r->seconds : 0.0;
}

static json_t *result_json(const sim_result *r)
{
    return json_pack("{s:s, s:s, s:I, s:f, s:f, s:O}", "dir", r->dir, "mechanics_version",
                     r->version, "events", (json_int_t)r->events, "seconds", r->seconds,
                     "events_per_s", per_second(r), "figures", r->figures);
}

static void print_run(const char *label, const sim_result *r)
{
    printf("%-8s %s (mechanics %s): %lld events in %.2f s, %.0f events/s\n", label, r->dir,
           r->version, r->events, r->seconds, per_second(r));
}

static void usage(FILE *f)
{
    fprintf(f, "usage: punch simulate --scripts DIR [--against DIR2] [--redis ADDR] [--window N]\n"
               "                      [--json] [--progress | --no-progress] EVENTS.jsonl\n"
               "Replays JSON lines (the body of POST /v1/events; \"id\" optional) in a throwaway\n"
               "namespace and reports what the mechanics in DIR would have done. With --against,\n"
               "also replays them through DIR2 and prints the change (DIR minus DIR2).\n"
               "EVENTS.jsonl may be '-' (stdin) without --against.\n");
}

/* One replay of in with the mechanics of dir, on a fresh namespace, wiped afterwards. */
static int run_one(session *s, const char *dir, const char *ns, const char *name, FILE *in,
                   int window, int progress, sim_result *out)
{
    int rc;
    out->dir = dir;
    if (session_load(s, dir, ns, 0))
        return -1;
    rc = replay(s, name, in, window, progress, out);
    /* Leave nothing behind on a given server; free the memory of a throwaway one. */
    if (session_wipe(s))
        fprintf(stderr, "punch simulate: could not remove namespace %s\n", ns);
    return rc;
}

int cmd_simulate(int argc, char **argv)
{
    static const struct option longs[] = {{"scripts", required_argument, 0, 's'},
                                          {"against", required_argument, 0, 'a'},
                                          {"redis", required_argument, 0, 'r'},
                                          {"window", required_argument, 0, 'w'},
                                          {"json", no_argument, 0, 'j'},
                                          {"progress", no_argument, 0, 'p'},
                                          {"no-progress", no_argument, 0, 'P'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    const char *dir = NULL, *against = NULL, *redis = NULL, *path;
    int window = SIM_WINDOW, json = 0, progress = isatty(2), opt, rc = 1;
    sim_result a = {0}, b = {0};
    char ns[64];
    FILE *in;
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
        case 'w':
            window = atoi(optarg);
            break;
        case 'j':
            json = 1;
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
    if (!dir || optind != argc - 1 || window < 1 || window > 65536) {
        usage(stderr);
        return 2;
    }
    path = argv[optind];
    if (!strcmp(path, "-")) {
        if (against) {
            fprintf(stderr, "punch simulate: --against reads the events twice: give a file\n");
            return 2;
        }
        in = stdin;
    } else if (!(in = fopen(path, "r"))) {
        fprintf(stderr, "punch simulate: %s: cannot open\n", path);
        return 2;
    }
    pc_log_set_level(PC_LOG_ERROR);
    if (session_open(&s, redis)) {
        fprintf(stderr, "punch simulate: no redis (install redis-server, or give --redis)\n");
        session_close(&s);
        if (in != stdin)
            fclose(in);
        return 2;
    }
    snprintf(ns, sizeof ns, "sim%d-%lld-b", (int)getpid(), (long long)pc_now_ms());
    if (against) {
        if (run_one(&s, against, ns, "against", in, window, progress, &a))
            goto out;
        rewind(in);
    }
    ns[strlen(ns) - 1] = 'a';
    if (run_one(&s, dir, ns, "scripts", in, window, progress, against ? &b : &a))
        goto out;
    if (json) {
        json_t *j =
            json_pack("{s:s, s:o}", "file", path, "scripts", result_json(against ? &b : &a));
        if (against) {
            json_object_set_new(j, "against", result_json(&a));
            json_object_set_new(j, "difference", simrep_diff(a.figures, b.figures));
        }
        json_dumpf(j, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(j);
    } else if (against) {
        print_run("against", &a);
        print_run("scripts", &b);
        putchar('\n');
        simrep_print(stdout, a.figures, "against", b.figures, "scripts");
    } else {
        print_run("scripts", &a);
        putchar('\n');
        simrep_print(stdout, a.figures, "scripts", NULL, NULL);
    }
    rc = 0;
out:
    json_decref(a.figures);
    json_decref(b.figures);
    session_close(&s);
    if (in != stdin)
        fclose(in);
    return rc;
}
