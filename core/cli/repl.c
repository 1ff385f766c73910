/*
 * punch repl, the terminal side (repl.h): libedit for line editing, history
 * (~/.punch_history) and completion; the session's event loop keeps running
 * while the prompt waits for a key, so a saved script reloads, and says so,
 * at once. Lines go to replcmd.c. Without a terminal (a pipe, a file), lines
 * are read plainly and no prompt is drawn.
 */
#include "repl.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <histedit.h>
#include <locale.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#define REPL_HISTORY_SIZE 1000

static volatile sig_atomic_t winch, hangup;
static int signal_pipe[2] = {-1, -1};

typedef struct term {
    repl *r;
    EditLine *el;
    History *hist;
    char hist_path[4096];
    struct event *stdin_ev, *signal_ev;
    int stdin_ready;
    int continuing; /* the chunk so far needs more lines */
} term;

static term *the_term; /* for repl_notice: there is one terminal */

static void on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGINT)
        repl_interrupted = 1;
    else if (sig == SIGWINCH)
        winch = 1;
    else /* SIGHUP, SIGTERM: stop what runs, then leave as at end of input */
        hangup = repl_interrupted = 1;
    if (signal_pipe[1] >= 0 && write(signal_pipe[1], "s", 1) < 0) {
        /* the pipe is full: a wake-up is pending anyway */
    }
    errno = saved;
}

static void on_signal_pipe(evutil_socket_t fd, short what, void *arg)
{
    char buf[64];
    while (read(fd, buf, sizeof buf) > 0)
        ;
}

static void on_stdin(evutil_socket_t fd, short what, void *arg)
{
    ((term *)arg)->stdin_ready = 1;
}

void repl_notice(repl *r, const char *fmt, ...)
{
    va_list ap;
    term *t = the_term;
    /* Above a half-typed line: clear it, say it, let the editor draw the line again. */
    if (t && t->el && r->at_prompt) {
        fputs("\r\033[K", stdout);
        r->need_redraw = 1;
    }
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static void on_reload(void *arg, int ok, const char *msg)
{
    repl *r = arg;
    if (ok) {
        if (!strcmp(r->version, msg))
            return; /* the same files: nothing to say */
        repl_notice(r, "mechanics reloaded from %s: version %s", r->scripts, msg);
        snprintf(r->version, sizeof r->version, "%s", msg);
    } else {
        repl_notice(r, "mechanics reload failed, %s: %s",
                    r->version[0] ? "the previous version still serves" : "none loaded", msg);
    }
}

/*
 * libedit's read function: waits for a key while the session's loop runs
 * (reloads, their notices), then decodes one character. -1 with EINTR on Ctrl-C.
 */
static int term_getc(EditLine *el, wchar_t *wc)
{
    term *t;
    mbstate_t mb;
    char c;

    el_get(el, EL_CLIENTDATA, &t);
    memset(&mb, 0, sizeof mb);
    for (;;) {
        struct pollfd p = {.fd = 0, .events = POLLIN};
        ssize_t n;
        size_t got;
        if (hangup)
            return 0;
        if (repl_interrupted) {
            repl_interrupted = 0;
            errno = EINTR;
            return -1;
        }
        if (winch) {
            winch = 0;
            el_resize(el);
        }
        if (t->r->need_redraw) {
            t->r->need_redraw = 0;
            el_set(el, EL_REFRESH);
        }
        if (poll(&p, 1, 0) <= 0) {
            t->stdin_ready = 0;
            event_add(t->stdin_ev, NULL);
            while (!t->stdin_ready && !repl_interrupted && !winch && !t->r->need_redraw)
                if (event_base_loop(t->r->s.base, EVLOOP_ONCE) < 0)
                    break;
            event_del(t->stdin_ev);
            continue;
        }
        n = read(0, &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return (int)n;
        got = mbrtowc(wc, &c, 1, &mb);
        if (got == (size_t)-2)
            continue; /* more bytes of one character */
        if (got == (size_t)-1) {
            *wc = (unsigned char)c;
            memset(&mb, 0, sizeof mb);
        }
        return 1;
    }
}

static char *term_prompt(EditLine *el)
{
    term *t;
    el_get(el, EL_CLIENTDATA, &t);
    return t->continuing ? ">> " : "punch> ";
}

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static int is_id_char(char c)
{
    return is_name_char(c) || (c && strchr(".:@+-", c));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Tab: completes the word before the cursor: a member id inside quotes, a
 * command, global or event type otherwise. One match is inserted (with the
 * closing quote); several are narrowed to their common prefix, then listed.
 */
static unsigned char term_complete(EditLine *el, int ch)
{
    term *t;
    const LineInfo *li = el_line(el);
    const char *start = li->cursor;
    char **names = NULL, *word, quote = 0;
    const char **match = NULL;
    size_t len, n = 0, common;
    unsigned char rc = CC_ERROR;

    el_get(el, EL_CLIENTDATA, &t);
    while (start > li->buffer && is_id_char(start[-1]))
        start--;
    if (start > li->buffer && (start[-1] == '"' || start[-1] == '\''))
        quote = start[-1];
    else
        while (!is_name_char(*start) && start < li->cursor)
            start++;
    len = (size_t)(li->cursor - start);
    if (!(word = strndup(start, len)))
        return CC_ERROR;
    if (quote) {
        match = malloc((t->r->nmembers + 1) * sizeof *match);
        for (size_t i = 0; match && i < t->r->nmembers; i++)
            if (!strncmp(t->r->members[i], word, len))
                match[n++] = t->r->members[i];
    } else if ((names = replcmd_names(t->r))) {
        size_t total = 0;
        while (names[total])
            total++;
        qsort(names, total, sizeof *names, cmp_str);
        match = malloc((total + 1) * sizeof *match);
        for (size_t i = 0; match && i < total; i++)
            if (!strncmp(names[i], word, len) && (n == 0 || strcmp(match[n - 1], names[i])) &&
                names[i][0] != '_')
                match[n++] = names[i];
    }
    if (!match || n == 0)
        goto out;
    common = strlen(match[0]);
    for (size_t i = 1; i < n; i++) {
        size_t k = 0;
        while (k < common && match[i][k] == match[0][k])
            k++;
        common = k;
    }
    if (common > len || n == 1) {
        char ins[300];
        snprintf(ins, sizeof ins, "%.*s%s", (int)(common - len), match[0] + len,
                 n == 1 && quote ? (char[]){quote, 0} : "");
        el_insertstr(el, ins);
        rc = CC_REFRESH;
        goto out;
    }
    putchar('\n');
    for (size_t i = 0; i < n; i++)
        printf("%s%s", match[i], i + 1 < n ? "  " : "\n");
    rc = CC_REDISPLAY;
out:
    for (size_t i = 0; names && names[i]; i++)
        free(names[i]);
    free(names);
    free(match);
    free(word);
    return rc;
}

static int term_open(term *t, repl *r)
{
    HistEvent he;
    const char *home = getenv("HOME");

    t->r = r;
    t->stdin_ev = event_new(r->s.base, 0, EV_READ, on_stdin, t);
    if (!t->stdin_ev)
        return -1;
    t->el = el_init("punch", stdin, stdout, stderr);
    t->hist = history_init();
    if (!t->el || !t->hist)
        return -1;
    history(t->hist, &he, H_SETSIZE, REPL_HISTORY_SIZE);
    history(t->hist, &he, H_SETUNIQUE, 1);
    if (home && *home) {
        snprintf(t->hist_path, sizeof t->hist_path, "%s/.punch_history", home);
        history(t->hist, &he, H_LOAD, t->hist_path);
    }
    el_set(t->el, EL_CLIENTDATA, t);
    el_set(t->el, EL_EDITOR, "emacs");
    el_set(t->el, EL_PROMPT, term_prompt);
    el_set(t->el, EL_HIST, history, t->hist);
    el_set(t->el, EL_GETCFN, term_getc);
    /* The wide call keeps our (static) names; the narrow one copies and never frees them. */
    el_wset(t->el, EL_ADDFN, L"punch-complete", L"complete a name or member id", term_complete);
    el_set(t->el, EL_BIND, "^I", "punch-complete", NULL);
    el_source(t->el, NULL); /* ~/.editrc, as every libedit program */
    return 0;
}

static void term_close(term *t)
{
    if (t->el)
        el_end(t->el);
    if (t->hist)
        history_end(t->hist);
    if (t->stdin_ev)
        event_free(t->stdin_ev);
}

static void term_remember(term *t, const char *line)
{
    HistEvent he;
    history(t->hist, &he, H_ENTER, line);
    if (t->hist_path[0])
        history(t->hist, &he, H_SAVE, t->hist_path);
}

/*
 * Reads one line (without its newline) into a new buffer the caller frees;
 * NULL at end of input. On a terminal, Ctrl-C gives back an empty line.
 */
static char *read_line(term *t, repl *r)
{
    if (t->el) {
        int count;
        const char *line;
        r->at_prompt = 1;
        line = el_gets(t->el, &count);
        r->at_prompt = 0;
        if (!line && count == -1 && errno == EINTR) {
            fputs("^C\n", stdout);
            t->continuing = 0;
            el_reset(t->el);
            return strdup("");
        }
        return line ? strndup(line, strcspn(line, "\n")) : NULL;
    } else {
        char *line = NULL;
        size_t cap = 0;
        /* A reload that happened meanwhile is told before the next line runs. */
        event_base_loop(r->s.base, EVLOOP_NONBLOCK);
        if (getline(&line, &cap, stdin) < 0) {
            free(line);
            return NULL;
        }
        line[strcspn(line, "\n")] = '\0';
        return line;
    }
}

static void run_lines(term *t, repl *r)
{
    char *chunk = NULL, *line;
    int incomplete;

    while (!r->quit && !hangup && (line = read_line(t, r))) {
        if (chunk) {
            size_t n = strlen(chunk) + strlen(line) + 2;
            char *c = malloc(n);
            if (c)
                snprintf(c, n, "%s\n%s", chunk, line);
            free(chunk);
            free(line);
            chunk = c;
        } else {
            chunk = line;
        }
        if (!chunk)
            break;
        if (!chunk[strspn(chunk, " \t")]) {
            free(chunk);
            chunk = NULL;
            t->continuing = 0;
            continue;
        }
        replcmd_eval(r, chunk, &incomplete);
        repl_interrupted = 0; /* a Ctrl-C during the command was for the command */
        t->continuing = incomplete;
        if (!incomplete) {
            if (t->el)
                term_remember(t, chunk);
            free(chunk);
            chunk = NULL;
        }
    }
    free(chunk);
    if (t->el && !r->quit)
        putchar('\n');
}

static int install_signals(term *t, repl *r)
{
    struct sigaction sa;
    if (pipe2(signal_pipe, O_NONBLOCK | O_CLOEXEC))
        return -1;
    t->signal_ev = event_new(r->s.base, signal_pipe[0], EV_READ | EV_PERSIST, on_signal_pipe, t);
    if (!t->signal_ev || event_add(t->signal_ev, NULL))
        return -1;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGWINCH, &sa, NULL);
    /* Closing the terminal or a kill still stops the throwaway redis-server. */
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return 0;
}

static void remove_signals(term *t)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGWINCH, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (t->signal_ev)
        event_free(t->signal_ev);
    for (int i = 0; i < 2; i++)
        if (signal_pipe[i] >= 0)
            close(signal_pipe[i]);
    signal_pipe[0] = signal_pipe[1] = -1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: punch repl [--scripts DIR] [--redis ADDR | --redis-cluster SEEDS] "
               "[--namespace NS]\n"
               "A Lua prompt on the engine punchd runs: send events with order{member=\"ann\"},\n"
               "move the clock, look at members. DIR (default ./scripts) reloads when it changes.\n"
               "Without --redis, a throwaway redis-server is started and removed at exit.\n"
               "Type help() at the prompt for the commands.\n");
}

int cmd_repl(int argc, char **argv)
{
    static const struct option longs[] = {{"scripts", required_argument, 0, 's'},
                                          {"redis", required_argument, 0, 'r'},
                                          {"redis-cluster", required_argument, 0, 'C'},
                                          {"namespace", required_argument, 0, 'n'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    const char *redis = NULL, *ns = "repl";
    repl r;
    term t;
    int opt, rc = 1;

    memset(&r, 0, sizeof r);
    memset(&t, 0, sizeof t);
    r.scripts = "scripts";
    while ((opt = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (opt) {
        case 's':
            r.scripts = optarg;
            break;
        case 'r':
            redis = optarg;
            break;
        case 'C':
            redis = session_cluster_addr(optarg);
            break;
        case 'n':
            ns = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || !pc_valid_id(ns) || strlen(ns) > 32) {
        usage(stderr);
        return 2;
    }
    setlocale(LC_CTYPE, "");
    pc_log_set_level(PC_LOG_ERROR + 1); /* the REPL says what happens itself */
    r.external_redis = redis != NULL;
    if (session_open(&r.s, redis)) {
        fprintf(stderr, "punch repl: no redis (install redis-server, or give --redis)\n");
        goto out;
    }
    if (session_load(&r.s, r.scripts, ns, 1) || replcmd_open(&r)) {
        fprintf(stderr, "punch repl: cannot start the engine\n");
        goto out;
    }
    mech_holder_on_reload(r.s.holder, on_reload, &r);
    r.sweeper = repl_sweeper_new(&r);
    /* Ids stay unique across runs on a redis that outlives this one. */
    if (r.external_redis)
        snprintf(r.id_prefix, sizeof r.id_prefix, "repl-%lld-", (long long)(pc_now_ms() / 1000));
    else
        snprintf(r.id_prefix, sizeof r.id_prefix, "repl-");
    the_term = &t;
    if (install_signals(&t, &r) || (isatty(0) && isatty(1) && term_open(&t, &r))) {
        fprintf(stderr, "punch repl: cannot set up the terminal\n");
        goto out;
    }
    replcmd_banner(&r);
    run_lines(&t, &r);
    rc = 0;
out:
    term_close(&t);
    remove_signals(&t);
    the_term = NULL;
    replcmd_close(&r);
    engine_sweeper_free(r.sweeper);
    for (size_t i = 0; i < r.nmembers; i++)
        free(r.members[i]);
    free(r.members);
    session_close(&r.s);
    return rc;
}
