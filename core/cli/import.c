/*
 * punch import FILE.jsonl: a history of events (one JSON object a line) sent to a
 * running punchd through POST /v1/events/batch, a batch at a time.
 *
 * Safe to interrupt and run again: the events' ids make every one exactly once
 * (a resent event answers as a duplicate), and FILE.jsonl.checkpoint holds the
 * last line whose batch was fully answered, so a new run starts after it. An
 * event answered 503 or 409 (Redis away, a member too busy) is sent again with
 * the same id; an event refused (4xx) is reported with its line and skipped.
 * Exit 0 when every event was applied (or was already), 1 when some were
 * refused, 3 when punchd could not be reached, 2 on bad usage.
 */
#include "cli.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define IMPORT_DEFAULT_URL "http://127.0.0.1:8080"
#define IMPORT_MAX_BATCH   1000

enum { EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

typedef struct import_opts {
    const char *file;
    char url[1100];        /* .../v1/events/batch[?replay=1] */
    const char *unix_path; /* or NULL */
    char checkpoint[1024];
    int batch;
    int retries;
    long timeout_ms;
    int live;        /* --live: no replay hold (the events are current, not history) */
    char base[1024]; /* .../v1/events/batch, without the query */
} import_opts;

/* A batch being sent: the lines and where each came from. */
typedef struct pending_line {
    char *text;
    size_t len;
    long long lineno;
    int tries;
} pending_line;

typedef struct import_run {
    const import_opts *o;
    CURL *curl;
    struct curl_slist *hdrs;
    long long applied, duplicates, refused, lines_done;
    long long size; /* of the file, for the progress bar */
    int tty;        /* stderr is a terminal: a bar redrawn in place */
    double started, last_report;
} import_run;

typedef struct resp_buf {
    char *data;
    size_t len;
    int oom;
} resp_buf;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
    resp_buf *b = arg;
    size_t n = size * nmemb;
    char *d = realloc(b->data, b->len + n + 1);
    if (!d) {
        b->oom = 1;
        return 0;
    }
    b->data = d;
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

/* Reads the checkpoint: the line and byte offset to resume after. 0 (also when there is
 * none: from the start) or -1 when it is unreadable or does not fit the file. */
static int checkpoint_read(const import_run *r, long long *line, long long *offset)
{
    FILE *f = fopen(r->o->checkpoint, "r");
    long long size = -1;
    *line = *offset = 0;
    if (!f)
        return errno == ENOENT ? 0 : -1;
    if (fscanf(f, "punch-import 1 size %lld line %lld offset %lld", &size, line, offset) != 3 ||
        *offset > r->size || *offset < 0 || *line < 0 || size > r->size) {
        fclose(f);
        fprintf(stderr, "punch import: %s does not fit %s (delete it to start over)\n",
                r->o->checkpoint, r->o->file);
        return -1;
    }
    fclose(f);
    return 0;
}

/* Records that every line up to line (ending at offset) was answered: write, then rename. */
static int checkpoint_write(const import_run *r, long long line, long long offset)
{
    char tmp[1100];
    FILE *f;
    snprintf(tmp, sizeof tmp, "%s.tmp", r->o->checkpoint);
    if (!(f = fopen(tmp, "w")))
        return -1;
    fprintf(f, "punch-import 1 size %lld line %lld offset %lld\n", r->size, line, offset);
    if (fflush(f) || fsync(fileno(f))) {
        fclose(f);
        return -1;
    }
    if (fclose(f) || rename(tmp, r->o->checkpoint))
        return -1;
    return 0;
}

static void progress(import_run *r, long long offset, int final)
{
    double t = now_s(), secs = t - r->started;
    double rate = secs > 0 ? (double)(r->applied + r->duplicates + r->refused) / secs : 0;
    int pct = r->size > 0 ? (int)(offset * 100 / r->size) : 100;
    if (!final && t - r->last_report < (r->tty ? 0.1 : 1.0))
        return;
    r->last_report = t;
    if (r->tty) {
        char bar[31];
        int fill = pct * 30 / 100;
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr,
                "\r[%s] %3d%%  line %lld  %lld applied  %lld duplicates  %lld refused  %.0f ev/s ",
                bar, pct, r->lines_done, r->applied, r->duplicates, r->refused, rate);
        if (final)
            fputc('\n', stderr);
    } else {
        fprintf(stderr,
                "import: %d%% line %lld: %lld applied, %lld duplicates, %lld refused, %.0f ev/s\n",
                pct, r->lines_done, r->applied, r->duplicates, r->refused, rate);
    }
}

/*
 * POSTs lines[0..n) as NDJSON; *results gets the parsed "results" array (new reference).
 * 0; 1 when punchd answered the batch as a whole with 503 or 409 or could not be
 * reached (try again); -1 on any other answer (printed).
 */
static int post_batch(import_run *r, pending_line *const *lines, size_t n, json_t **results)
{
    size_t total = 0, at = 0;
    char *body, err[CURL_ERROR_SIZE] = "";
    resp_buf b = {0};
    long status = 0;
    CURLcode rc;
    json_t *doc;
    int ret;

    for (size_t i = 0; i < n; i++)
        total += lines[i]->len + 1;
    if (!(body = malloc(total + 1)))
        return -1;
    for (size_t i = 0; i < n; i++) {
        memcpy(body + at, lines[i]->text, lines[i]->len);
        at += lines[i]->len;
        body[at++] = '\n';
    }
    curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(r->curl, CURLOPT_POSTFIELDSIZE, (long)total);
    curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(r->curl, CURLOPT_ERRORBUFFER, err);
    rc = curl_easy_perform(r->curl);
    free(body);
    *results = NULL;
    if (rc != CURLE_OK || b.oom) {
        fprintf(stderr, "%spunch import: %s: %s\n", r->tty ? "\n" : "", r->o->url,
                b.oom ? "out of memory" : (err[0] ? err : curl_easy_strerror(rc)));
        free(b.data);
        return b.oom ? -1 : 1;
    }
    curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
    doc = b.data ? json_loadb(b.data, b.len, 0, NULL) : NULL;
    if (status == 200 && json_array_size(json_object_get(doc, "results")) == n) {
        *results = json_incref(json_object_get(doc, "results"));
        ret = 0;
    } else {
        fprintf(stderr, "%spunch import: HTTP %ld: %s\n", r->tty ? "\n" : "", status,
                b.data ? b.data : "");
        ret = status == 503 || status == 409 ? 1 : -1;
    }
    json_decref(doc);
    free(b.data);
    return ret;
}

/* Sleeps before try number tries (1, 2 ...): 100 ms doubling up to 3.2 s. */
static void backoff(int tries)
{
    long ms = 100L << (tries < 6 ? tries - 1 : 5);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/*
 * Sends one batch until every event in it has a final answer. 0, or the exit status
 * when punchd stays unreachable or failing.
 */
static int send_batch(import_run *r, pending_line *lines, size_t n)
{
    pending_line *todo[IMPORT_MAX_BATCH];
    size_t left = n;
    for (size_t i = 0; i < n; i++)
        todo[i] = &lines[i];
    while (left) {
        json_t *results, *res;
        size_t i, keep = 0;
        int rc = post_batch(r, todo, left, &results);
        if (rc < 0)
            return EXIT_UNREACHABLE;
        if (rc > 0) {
            if (++todo[0]->tries > r->o->retries)
                return EXIT_UNREACHABLE;
            backoff(todo[0]->tries);
            continue;
        }
        json_array_foreach(results, i, res) {
            long st = (long)json_integer_value(json_object_get(res, "status"));
            pending_line *l = todo[i];
            if (st == 200) {
                if (json_is_true(json_object_get(res, "duplicate")))
                    r->duplicates++;
                else
                    r->applied++;
            } else if ((st == 503 || st == 409) && l->tries < r->o->retries) {
                l->tries++;
                todo[keep++] = l; /* again, with the same id */
            } else if (st == 503 || st == 409 || st >= 500) {
                json_t *e = json_object_get(res, "error");
                fprintf(stderr, "%spunch import: line %lld: %ld %s: %s (giving up)\n",
                        r->tty ? "\n" : "", l->lineno, st,
                        json_string_value(json_object_get(e, "code")),
                        json_string_value(json_object_get(e, "message")));
                json_decref(results);
                return EXIT_UNREACHABLE;
            } else {
                json_t *e = json_object_get(res, "error");
                r->refused++;
                fprintf(stderr, "%spunch import: line %lld: %ld %s: %s\n", r->tty ? "\n" : "",
                        l->lineno, st, json_string_value(json_object_get(e, "code")),
                        json_string_value(json_object_get(e, "message")));
            }
        }
        json_decref(results);
        left = keep;
        if (left)
            backoff(todo[0]->tries);
    }
    return 0;
}

static void free_lines(pending_line *lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(lines[i].text);
}

/* The whole file from the checkpoint on. The exit status. */
static int import_file(import_run *r, FILE *f)
{
    pending_line lines[IMPORT_MAX_BATCH];
    size_t n = 0, cap = 0;
    long long line, offset;
    char *buf = NULL;
    ssize_t got;
    int ret = 0;

    if (checkpoint_read(r, &line, &offset))
        return EXIT_USAGE;
    if (offset && fseeko(f, offset, SEEK_SET)) {
        fprintf(stderr, "punch import: %s: %s\n", r->o->file, strerror(errno));
        return EXIT_USAGE;
    }
    if (line)
        fprintf(stderr, "punch import: resuming after line %lld (%s)\n", line, r->o->checkpoint);
    r->lines_done = line;
    for (;;) {
        int eof = (got = getline(&buf, &cap, f)) < 0;
        if (!eof) {
            size_t len = (size_t)got, k = 0;
            line++;
            offset += got;
            while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
                len--;
            while (k < len && (buf[k] == ' ' || buf[k] == '\t'))
                k++;
            if (k < len) {
                if (!(lines[n].text = malloc(len + 1))) {
                    ret = EXIT_UNREACHABLE;
                    break;
                }
                memcpy(lines[n].text, buf, len);
                lines[n].len = len;
                lines[n].lineno = line;
                lines[n].tries = 0;
                n++;
            }
        }
        if (n && (eof || n == (size_t)r->o->batch)) {
            ret = send_batch(r, lines, n);
            free_lines(lines, n);
            n = 0;
            if (ret)
                break;
            if (checkpoint_write(r, line, offset)) {
                fprintf(stderr, "punch import: cannot write %s: %s\n", r->o->checkpoint,
                        strerror(errno));
                ret = EXIT_UNREACHABLE;
                break;
            }
        }
        r->lines_done = line;
        if (!n)
            progress(r, offset, 0);
        if (eof)
            break;
    }
    free_lines(lines, n);
    free(buf);
    progress(r, offset, 1);
    if (!ret && ferror(f)) {
        fprintf(stderr, "punch import: %s: read error\n", r->o->file);
        ret = EXIT_USAGE;
    }
    if (!ret) {
        /* Every line answered: a later run starts from the top (and finds duplicates). */
        remove(r->o->checkpoint);
        ret = r->refused ? EXIT_REFUSED : 0;
    }
    return ret;
}

/*
 * The replay hold (docs/architecture.md, "The sweeper"): an empty POST of
 * the batch route with ?replay=1 holds every sweeper of the program until
 * punchd answers (so the history's old `at` are not overtaken by wall-clock
 * expiry), and ?replay=end lets them go at the end. 0, or -1 (printed).
 */
static int replay_mark(import_run *r, const char *query)
{
    char url[1100], err[CURL_ERROR_SIZE] = "";
    resp_buf b = {0};
    long status = 0;
    CURLcode rc;
    snprintf(url, sizeof url, "%s?%s", r->o->base, query);
    curl_easy_setopt(r->curl, CURLOPT_URL, url);
    curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(r->curl, CURLOPT_POSTFIELDSIZE, 0L);
    curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(r->curl, CURLOPT_ERRORBUFFER, err);
    rc = curl_easy_perform(r->curl);
    curl_easy_setopt(r->curl, CURLOPT_URL, r->o->url);
    if (rc == CURLE_OK)
        curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200)
        fprintf(stderr, "punch import: the replay hold (?%s): %s %s\n", query,
                rc != CURLE_OK ? (err[0] ? err : curl_easy_strerror(rc)) : "HTTP",
                b.data ? b.data : "");
    free(b.data);
    return status == 200 ? 0 : -1;
}

static const char import_help[] =
    "usage: punch import FILE.jsonl [options]\n"
    "Sends a history of events (one JSON object a line) to punchd's POST /v1/events/batch.\n"
    "Interrupted, it resumes after the last line fully answered (FILE.jsonl.checkpoint);\n"
    "resent events answer as duplicates, so each applies exactly once.\n"
    "  --batch N        events per request (default 500, at most 1000)\n"
    "  --checkpoint P   where the progress is kept (default FILE.jsonl.checkpoint)\n"
    "  --retries N      tries of an event answered 503 or 409, or of an unreachable punchd\n"
    "                   (default 8, backing off from 100 ms to 3.2 s)\n"
    "  --url URL        punchd's base URL (default $PUNCHD_URL or " IMPORT_DEFAULT_URL ")\n"
    "  --unix PATH      connect through punchd's Unix socket\n"
    "  --timeout-ms N   give up on one request after N ms (default 60000)\n"
    "  --live           the events are current: do not hold punchd's sweepers (by default\n"
    "                   they wait, so wall-clock expiry does not overtake the history)\n"
    "The API key, when punchd wants one, comes from $PUNCHD_API_KEY.\n"
    "Exit status: 0 when every event applied (or had been), 1 when some were refused (each\n"
    "printed with its line), 3 when punchd could not be reached, 2 on bad usage.\n";

static int parse_args(int argc, char **argv, import_opts *o, int *exit_out)
{
    static const struct option longs[] = {{"batch", required_argument, 0, 'b'},
                                          {"checkpoint", required_argument, 0, 'k'},
                                          {"retries", required_argument, 0, 'r'},
                                          {"url", required_argument, 0, 'u'},
                                          {"unix", required_argument, 0, 'U'},
                                          {"timeout-ms", required_argument, 0, 'T'},
                                          {"live", no_argument, 0, 'L'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    const char *env = getenv("PUNCHD_URL"), *base = env && *env ? env : IMPORT_DEFAULT_URL;
    const char *checkpoint = NULL;
    size_t blen;
    int c;

    memset(o, 0, sizeof *o);
    o->batch = 500;
    o->retries = 8;
    o->timeout_ms = 60000;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'b':
            o->batch = atoi(optarg);
            break;
        case 'k':
            checkpoint = optarg;
            break;
        case 'r':
            o->retries = atoi(optarg);
            break;
        case 'u':
            base = optarg;
            break;
        case 'U':
            o->unix_path = optarg;
            break;
        case 'T':
            o->timeout_ms = atol(optarg) > 0 ? atol(optarg) : 60000;
            break;
        case 'L':
            o->live = 1;
            break;
        case 'h':
            fputs(import_help, stdout);
            *exit_out = 0;
            return -1;
        default:
            fputs(import_help, stderr);
            *exit_out = EXIT_USAGE;
            return -1;
        }
    }
    if (optind != argc - 1 || o->batch < 1 || o->batch > IMPORT_MAX_BATCH || o->retries < 0) {
        fputs(import_help, stderr);
        *exit_out = EXIT_USAGE;
        return -1;
    }
    o->file = argv[optind];
    blen = strlen(base);
    if (blen && base[blen - 1] == '/')
        blen--;
    snprintf(o->base, sizeof o->base, "%.*s/v1/events/batch", (int)blen, base);
    snprintf(o->url, sizeof o->url, "%s%s", o->base, o->live ? "" : "?replay=1");
    snprintf(o->checkpoint, sizeof o->checkpoint, "%s", checkpoint ? checkpoint : "");
    if (!checkpoint)
        snprintf(o->checkpoint, sizeof o->checkpoint, "%s.checkpoint", o->file);
    return 0;
}

int cmd_import(int argc, char **argv)
{
    import_opts o;
    import_run r = {0};
    char auth[600];
    const char *key = getenv("PUNCHD_API_KEY");
    struct stat st;
    FILE *f;
    int ret;

    if (parse_args(argc, argv, &o, &ret))
        return ret;
    if (!(f = fopen(o.file, "r")) || fstat(fileno(f), &st)) {
        fprintf(stderr, "punch import: %s: %s\n", o.file, strerror(errno));
        if (f)
            fclose(f);
        return EXIT_USAGE;
    }
    signal(SIGPIPE, SIG_IGN);
    r.o = &o;
    r.size = (long long)st.st_size;
    r.tty = isatty(STDERR_FILENO);
    r.started = now_s();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    r.curl = curl_easy_init();
    r.hdrs = curl_slist_append(NULL, "Content-Type: application/x-ndjson");
    if (key && *key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        r.hdrs = curl_slist_append(r.hdrs, auth);
    }
    if (!r.curl || !r.hdrs) {
        fprintf(stderr, "punch import: out of memory\n");
        ret = EXIT_UNREACHABLE;
    } else {
        curl_easy_setopt(r.curl, CURLOPT_URL, o.url);
        curl_easy_setopt(r.curl, CURLOPT_POST, 1L);
        curl_easy_setopt(r.curl, CURLOPT_HTTPHEADER, r.hdrs);
        curl_easy_setopt(r.curl, CURLOPT_TIMEOUT_MS, o.timeout_ms);
        curl_easy_setopt(r.curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(r.curl, CURLOPT_WRITEFUNCTION, on_body);
        if (o.unix_path)
            curl_easy_setopt(r.curl, CURLOPT_UNIX_SOCKET_PATH, o.unix_path);
        if (!o.live && replay_mark(&r, "replay=1")) {
            fprintf(stderr, "punch import: punchd did not take the replay hold; --live sends "
                            "without it\n");
            ret = EXIT_UNREACHABLE;
        } else {
            ret = import_file(&r, f);
            if (!o.live)
                replay_mark(&r, "replay=end");
        }
        printf("{\"applied\": %lld, \"duplicates\": %lld, \"refused\": %lld, \"lines\": %lld}\n",
               r.applied, r.duplicates, r.refused, r.lines_done);
    }
    fclose(f);
    curl_slist_free_all(r.hdrs);
    curl_easy_cleanup(r.curl);
    curl_global_cleanup();
    return ret;
}
