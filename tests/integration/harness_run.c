/*
 * Child processes and tmux panes for the punch tests (harness_run.h).
 */
#include "harness_run.h"
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void append(char **buf, size_t *len, const char *data, size_t n)
{
    *buf = realloc(*buf, *len + n + 1);
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
}

int h_run(const char *const *argv, const char *const *env, const char *stdin_text, int timeout_ms,
          h_proc_out *out)
{
    int in[2], po[2], pe[2], st = 0, open_fds = 2;
    size_t olen = 0, elen = 0;
    long long deadline = h_mono_ms() + timeout_ms;
    pid_t pid;

    memset(out, 0, sizeof *out);
    out->status = -1;
    if (pipe(in) || pipe(po) || pipe(pe))
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        for (int fd = 3; fd < 64; fd++)
            close(fd);
        for (int i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(po[1]);
    close(pe[1]);
    /* The inputs are small: they fit the pipe, so writing first cannot deadlock. */
    if (stdin_text && write(in[1], stdin_text, strlen(stdin_text)) < 0)
        perror("h_run: write");
    close(in[1]);
    append(&out->out, &olen, "", 0);
    append(&out->err, &elen, "", 0);
    while (open_fds > 0) {
        struct pollfd p[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
        long long left = deadline - h_mono_ms();
        char buf[4096];
        if (left <= 0)
            break;
        if (poll(p, 2, (int)left) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            ssize_t n;
            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP)))
                continue;
            n = read(p[i].fd, buf, sizeof buf);
            if (n > 0) {
                if (i == 0)
                    append(&out->out, &olen, buf, (size_t)n);
                else
                    append(&out->err, &elen, buf, (size_t)n);
            } else {
                close(i == 0 ? po[0] : pe[0]);
                if (i == 0)
                    po[0] = -1;
                else
                    pe[0] = -1;
                open_fds--;
            }
        }
    }
    if (po[0] >= 0)
        close(po[0]);
    if (pe[0] >= 0)
        close(pe[0]);
    while (waitpid(pid, &st, WNOHANG) == 0) {
        if (h_mono_ms() > deadline) {
            fprintf(stderr, "h_run: %s did not finish in %d ms; killed\n", argv[0], timeout_ms);
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return out->status = -1;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    out->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out->status;
}

void h_proc_out_free(h_proc_out *o)
{
    free(o->out);
    free(o->err);
    memset(o, 0, sizeof *o);
}

int h_have_program(const char *name)
{
    const char *path = getenv("PATH");
    char *copy, *dir, *save = NULL;
    int found = 0;
    if (!path)
        return 0;
    copy = strdup(path);
    for (dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
        char full[1024];
        snprintf(full, sizeof full, "%s/%s", dir, name);
        found = access(full, X_OK) == 0;
    }
    free(copy);
    return found;
}

/* tmux -S socket ARGS...; its output in *screen when wanted. */
static int tmux(h_tmux *t, const char *const *args, char **screen)
{
    const char *argv[32] = {"tmux", "-S", t->socket};
    h_proc_out o;
    int n = 3, rc;
    for (int i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    rc = h_run(argv, NULL, NULL, 5000, &o);
    if (screen) {
        *screen = o.out;
        o.out = NULL;
    }
    h_proc_out_free(&o);
    return rc;
}

int h_tmux_start(h_tmux *t, const char *command, int width, int height)
{
    char w[16], h[16];
    snprintf(t->dir, sizeof t->dir, "/tmp/punch-tmux-XXXXXX");
    if (!mkdtemp(t->dir))
        return -1;
    snprintf(t->socket, sizeof t->socket, "%s/sock", t->dir);
    snprintf(w, sizeof w, "%d", width);
    snprintf(h, sizeof h, "%d", height);
    const char *args[] = {"-f", "/dev/null", "new-session", "-d", "-x", w, "-y", h, command, NULL};
    return tmux(t, args, NULL) == 0 ? 0 : -1;
}

int h_tmux_keys(h_tmux *t, const char *const *keys)
{
    const char *args[32] = {"send-keys", "-t", "0"};
    int n = 3;
    for (int i = 0; keys[i] && n < 31; i++)
        args[n++] = keys[i];
    args[n] = NULL;
    return tmux(t, args, NULL) == 0 ? 0 : -1;
}

char *h_tmux_screen(h_tmux *t)
{
    const char *args[] = {"capture-pane", "-p", "-t", "0", NULL};
    char *s = NULL;
    size_t n;
    if (tmux(t, args, &s) != 0) {
        free(s);
        return strdup("");
    }
    n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
    return s;
}

int h_tmux_wait(h_tmux *t, const char *want, int timeout_ms)
{
    long long deadline = h_mono_ms() + timeout_ms;
    char *s = NULL;
    for (;;) {
        free(s);
        s = h_tmux_screen(t);
        if (strstr(s, want)) {
            free(s);
            return 1;
        }
        if (h_mono_ms() > deadline)
            break;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "waited %d ms for \"%s\"; the screen shows:\n%s\n", timeout_ms, want, s);
    free(s);
    return 0;
}

int h_tmux_alive(h_tmux *t)
{
    const char *args[] = {"has-session", "-t", "0", NULL};
    return tmux(t, args, NULL) == 0;
}

void h_tmux_stop(h_tmux *t)
{
    const char *args[] = {"kill-server", NULL};
    if (!t->dir[0])
        return;
    tmux(t, args, NULL);
    unlink(t->socket);
    rmdir(t->dir);
    t->dir[0] = '\0';
}
