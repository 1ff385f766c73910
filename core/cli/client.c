/*
 * punch send, member, mechanics, draw, leaderboard: a running punchd's HTTP API from
 * the shell, for scripts and operators. libcurl, one blocking request each;
 * the answer's JSON goes to stdout; exit 0 on 2xx, 1 on an HTTP error status,
 * 3 when punchd cannot be reached, 2 on bad usage.
 */
#include "cli.h"

#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CLIENT_DEFAULT_URL "http://127.0.0.1:8080"

enum { EXIT_HTTP = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

typedef struct client_opts {
    const char *url;       /* base, without a trailing slash */
    const char *unix_path; /* or NULL */
    int compact;
    long timeout_ms;
} client_opts;

typedef struct grow_buf {
    char *data;
    size_t len;
    int oom;
} grow_buf;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
    grow_buf *b = arg;
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

/*
 * One request to opts->url + path. On an answer, prints its body (JSON
 * re-indented unless --compact) and returns 0 for 2xx or EXIT_HTTP; when there
 * is no answer, says why on stderr and returns EXIT_UNREACHABLE.
 */
static int http_call(const client_opts *o, const char *method, const char *path, const char *body)
{
    char url[2048], auth[600], err[CURL_ERROR_SIZE] = "";
    const char *key = getenv("PUNCHD_API_KEY");
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    grow_buf b = {0};
    long status = 0;
    CURLcode rc;
    CURL *c = curl_easy_init();
    json_t *j;
    int ret;

    if (!c || !hdrs) {
        fprintf(stderr, "punch: out of memory\n");
        curl_slist_free_all(hdrs);
        return EXIT_UNREACHABLE;
    }
    snprintf(url, sizeof url, "%s%s", o->url, path);
    if (key && *key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        hdrs = curl_slist_append(hdrs, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, o->timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    if (o->unix_path)
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, o->unix_path);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    rc = curl_easy_perform(c);
    if (rc != CURLE_OK || b.oom) {
        fprintf(stderr, "punch: %s %s: %s\n", method, url,
                b.oom ? "out of memory" : (err[0] ? err : curl_easy_strerror(rc)));
        ret = EXIT_UNREACHABLE;
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (b.data && (j = json_loadb(b.data, b.len, 0, NULL))) {
        json_dumpf(j, stdout, o->compact ? JSON_COMPACT : JSON_INDENT(2));
        putchar('\n');
        json_decref(j);
    } else if (b.data) {
        fputs(b.data, stdout);
    }
    fflush(stdout);
    ret = status >= 200 && status < 300 ? 0 : EXIT_HTTP;
    if (ret)
        fprintf(stderr, "punch: %s %s: HTTP %ld\n", method, path, status);
out:
    free(b.data);
    curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    return ret;
}

/* Options every client command takes; other letters are handled by the caller's table. */
#define CLIENT_LONGS                                                                               \
    {"url", required_argument, 0, 'u'}, {"unix", required_argument, 0, 'U'},                       \
        {"compact", no_argument, 0, 'c'}, {"timeout-ms", required_argument, 0, 'T'},               \
    {                                                                                              \
        "help", no_argument, 0, 'h'                                                                \
    }

static void client_defaults(client_opts *o)
{
    const char *env = getenv("PUNCHD_URL");
    o->url = env && *env ? env : CLIENT_DEFAULT_URL;
    o->unix_path = NULL;
    o->compact = 0;
    o->timeout_ms = 10000;
}

/* 1 when opt was a common option (and applied), 0 otherwise. */
static int client_opt(client_opts *o, int opt)
{
    switch (opt) {
    case 'u':
        o->url = optarg;
        return 1;
    case 'U':
        o->unix_path = optarg;
        return 1;
    case 'c':
        o->compact = 1;
        return 1;
    case 'T':
        o->timeout_ms = atol(optarg) > 0 ? atol(optarg) : 10000;
        return 1;
    default:
        return 0;
    }
}

static int client_run(const client_opts *o, const char *method, const char *path, const char *body)
{
    char base[1024];
    int rc;
    size_t n = strlen(o->url);
    client_opts fixed = *o;
    /* "http://host:8080/" and "http://host:8080" mean the same. */
    snprintf(base, sizeof base, "%.*s", (int)(n && o->url[n - 1] == '/' ? n - 1 : n), o->url);
    fixed.url = base;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = http_call(&fixed, method, path, body);
    curl_global_cleanup();
    return rc;
}

static const char common_help[] =
    "  --url URL        punchd's base URL (default $PUNCHD_URL or " CLIENT_DEFAULT_URL ")\n"
    "  --unix PATH      connect through punchd's Unix socket (--unix of punchd)\n"
    "  --compact        one-line JSON\n"
    "  --timeout-ms N   give up after N ms (default 10000)\n"
    "The API key, when punchd wants one, comes from $PUNCHD_API_KEY.\n"
    "Exit status: 0 on 2xx, 1 on an HTTP error (its JSON is printed), 3 when unreachable.\n";

/* The event as JSON text: from an argument, @FILE or '-' (stdin); malloc'd, NULL on error. */
static char *event_text(const char *arg)
{
    if (arg[0] == '@')
        return pc_read_file(arg + 1, NULL);
    if (!strcmp(arg, "-")) {
        grow_buf b = {0};
        char chunk[4096];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
            if (on_body(chunk, 1, n, &b) != n)
                break;
        if (b.oom) {
            free(b.data);
            return NULL;
        }
        return b.data ? b.data : strdup("");
    }
    return strdup(arg);
}

int cmd_send(int argc, char **argv)
{
    static const struct option longs[] = {CLIENT_LONGS,
                                          {"dry-run", no_argument, 0, 'd'},
                                          {"explain", no_argument, 0, 'e'},
                                          {"type", required_argument, 0, 't'},
                                          {"member", required_argument, 0, 'm'},
                                          {"id", required_argument, 0, 'i'},
                                          {"at", required_argument, 0, 'a'},
                                          {"data", required_argument, 0, 'D'},
                                          {0, 0, 0, 0}};
    client_opts o;
    const char *fields[4][2] = {{"type", NULL}, {"member", NULL}, {"id", NULL}, {"at", NULL}};
    const char *data = NULL;
    int dry = 0, explain = 0, opt, rc;
    json_t *ev = NULL;
    json_error_t jerr;
    char path[64], *body;

    client_defaults(&o);
    while ((opt = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        if (client_opt(&o, opt))
            continue;
        switch (opt) {
        case 'd':
            dry = 1;
            break;
        case 'e':
            explain = 1;
            break;
        case 't':
            fields[0][1] = optarg;
            break;
        case 'm':
            fields[1][1] = optarg;
            break;
        case 'i':
            fields[2][1] = optarg;
            break;
        case 'a':
            fields[3][1] = optarg;
            break;
        case 'D':
            data = optarg;
            break;
        case 'h':
            printf("usage: punch send [options] [JSON | @FILE | -]\n"
                   "       punch send [options] --type T --member M [--id ID] [--at TIME] "
                   "[--data JSON]\n"
                   "POSTs one event to /v1/events and prints the answer. Flags set fields of\n"
                   "the given JSON; an event without \"id\" gets a fresh one.\n"
                   "  --dry-run        decide and answer, commit nothing\n"
                   "  --explain        add the per-mechanic trace\n%s",
                   common_help);
            return 0;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind < argc - 1) {
        fprintf(stderr, "punch send: one event at a time\n");
        return EXIT_USAGE;
    }
    if (optind == argc - 1) {
        char *text = event_text(argv[optind]);
        if (!text) {
            fprintf(stderr, "punch send: cannot read %s\n", argv[optind]);
            return EXIT_USAGE;
        }
        ev = json_loads(text, 0, &jerr);
        free(text);
        if (!json_is_object(ev)) {
            fprintf(stderr, "punch send: the event is not a JSON object%s%s\n", ev ? "" : ": ",
                    ev ? "" : jerr.text);
            json_decref(ev);
            return EXIT_USAGE;
        }
    } else {
        ev = json_object();
    }
    for (int i = 0; i < 4; i++)
        if (fields[i][1])
            json_object_set_new(ev, fields[i][0], json_string(fields[i][1]));
    if (data) {
        json_t *d = json_loads(data, 0, &jerr);
        if (!json_is_object(d)) {
            fprintf(stderr, "punch send: --data must be a JSON object\n");
            json_decref(d);
            json_decref(ev);
            return EXIT_USAGE;
        }
        json_object_set_new(ev, "data", d);
    }
    if (!json_object_get(ev, "id")) {
        char id[64];
        snprintf(id, sizeof id, "punch-%lld-%d", (long long)pc_now_ms(), (int)getpid());
        json_object_set_new(ev, "id", json_string(id));
    }
    snprintf(path, sizeof path, "/v1/events%s%s%s", dry || explain ? "?" : "",
             dry ? "dry_run=1" : "", explain ? (dry ? "&explain=1" : "explain=1") : "");
    body = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    rc = client_run(&o, "POST", path, body);
    free(body);
    return rc;
}

int cmd_member(int argc, char **argv)
{
    static const struct option longs[] = {CLIENT_LONGS,
                                          {"ledger", no_argument, 0, 'l'},
                                          {"limit", required_argument, 0, 'n'},
                                          {"cursor", required_argument, 0, 'C'},
                                          {0, 0, 0, 0}};
    client_opts o;
    int ledger = 0, limit = 0, opt;
    const char *cursor = NULL, *id;
    char path[512];

    client_defaults(&o);
    while ((opt = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        if (client_opt(&o, opt))
            continue;
        switch (opt) {
        case 'l':
            ledger = 1;
            break;
        case 'n':
            limit = atoi(optarg);
            break;
        case 'C':
            cursor = optarg;
            break;
        case 'h':
            printf("usage: punch member [options] ID [--ledger [--limit N] [--cursor NEXT]]\n"
                   "Prints the member (GET /v1/members/ID), or its ledger, newest first.\n%s",
                   common_help);
            return 0;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: punch member [--url URL] ID [--ledger]\n");
        return EXIT_USAGE;
    }
    id = argv[optind];
    /* Checked here so the id needs no escaping in the path; punchd allows no others. */
    if (!pc_valid_id(id) || (cursor && strspn(cursor, "0123456789-") != strlen(cursor))) {
        fprintf(stderr, "punch member: '%s' is not a member id\n", cursor ? cursor : id);
        return EXIT_USAGE;
    }
    if (!ledger) {
        snprintf(path, sizeof path, "/v1/members/%s", id);
    } else {
        char q[128] = "";
        if (limit > 0)
            snprintf(q, sizeof q, "?limit=%d", limit);
        if (cursor)
            snprintf(q + strlen(q), sizeof q - strlen(q), "%scursor=%s", limit > 0 ? "&" : "?",
                     cursor);
        snprintf(path, sizeof path, "/v1/members/%s/ledger%s", id, q);
    }
    return client_run(&o, "GET", path, NULL);
}

/*
 * The options of a command that takes only the common ones: 0 to go on, else
 * the exit status (0 after --help, EXIT_USAGE on an unknown option).
 */
static int parse_common_only(int argc, char **argv, client_opts *o, const char *help, int *exit_out)
{
    static const struct option longs[] = {CLIENT_LONGS, {0, 0, 0, 0}};
    int opt;
    client_defaults(o);
    while ((opt = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        if (client_opt(o, opt))
            continue;
        if (opt == 'h') {
            printf("%s%s", help, common_help);
            *exit_out = 0;
        } else {
            *exit_out = EXIT_USAGE;
        }
        return 1;
    }
    return 0;
}

int cmd_mechanics(int argc, char **argv)
{
    client_opts o;
    int rc;
    if (parse_common_only(argc, argv, &o,
                          "usage: punch mechanics [options]\n"
                          "Prints the loaded mechanics, their version and the last reload error.\n",
                          &rc))
        return rc;
    if (optind != argc) {
        fprintf(stderr, "usage: punch mechanics [--url URL]\n");
        return EXIT_USAGE;
    }
    return client_run(&o, "GET", "/v1/mechanics", NULL);
}

int cmd_draw(int argc, char **argv)
{
    client_opts o;
    char path[256];
    int rc;
    if (parse_common_only(argc, argv, &o,
                          "usage: punch draw [options] NAME\n"
                          "Prints a draw's pools left in this period, its wins and epoch.\n",
                          &rc))
        return rc;
    if (optind != argc - 1 || !pc_valid_name(argv[optind])) {
        fprintf(stderr, "usage: punch draw [--url URL] NAME\n");
        return EXIT_USAGE;
    }
    snprintf(path, sizeof path, "/v1/draws/%s", argv[optind]);
    return client_run(&o, "GET", path, NULL);
}

int cmd_leaderboard(int argc, char **argv)
{
    static const struct option longs[] = {CLIENT_LONGS,
                                          {"top", required_argument, 0, 'n'},
                                          {"member", required_argument, 0, 'm'},
                                          {"period", required_argument, 0, 'p'},
                                          {0, 0, 0, 0}};
    client_opts o;
    const char *member = NULL, *period = NULL;
    int top = 0, opt;
    char path[512];

    client_defaults(&o);
    while ((opt = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        if (client_opt(&o, opt))
            continue;
        switch (opt) {
        case 'n':
            top = atoi(optarg);
            break;
        case 'm':
            member = optarg;
            break;
        case 'p':
            period = optarg;
            break;
        case 'h':
            printf("usage: punch leaderboard [options] NAME [--top N] [--member ID] "
                   "[--period P]\n"
                   "Prints a leaderboard's top N (10) and a member's rank, this period or P\n"
                   "(2026-W48, 2026-11 ...).\n%s",
                   common_help);
            return 0;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1 || !pc_valid_name(argv[optind]) || (member && !pc_valid_id(member)) ||
        (period && !pc_valid_name(period)) || top < 0) {
        fprintf(stderr, "usage: punch leaderboard [--url URL] NAME [--top N] [--member ID] "
                        "[--period P]\n");
        return EXIT_USAGE;
    }
    snprintf(path, sizeof path, "/v1/leaderboards/%s?top=%d%s%s%s%s", argv[optind],
             top > 0 ? top : 10, member ? "&member=" : "", member ? member : "",
             period ? "&period=" : "", period ? period : "");
    return client_run(&o, "GET", path, NULL);
}
