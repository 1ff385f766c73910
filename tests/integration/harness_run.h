/*
 * Running punch as a user would, for the punch tests: a child process with
 * its output captured (bounded by a deadline), and a tmux pane to type into
 * and read the screen of.
 */
#ifndef PUNCHCARD_TEST_HARNESS_RUN_H
#define PUNCHCARD_TEST_HARNESS_RUN_H

/* What a finished child left: exit status (-1 when killed at the deadline or by a signal). */
typedef struct h_proc_out {
    int status;
    char *out, *err; /* NUL-terminated, malloc'd */
} h_proc_out;

/*
 * Runs argv (argv[0] found on PATH or a path) with env entries ("NAME=VALUE",
 * NULL-terminated, may be NULL) added, stdin_text on its stdin (NULL: empty),
 * until it exits or timeout_ms passes (then it is killed). Fills out; returns
 * out->status.
 */
int h_run(const char *const *argv, const char *const *env, const char *stdin_text, int timeout_ms,
          h_proc_out *out);
void h_proc_out_free(h_proc_out *o);

/* 1 when a program is found on PATH. */
int h_have_program(const char *name);

/* A tmux server of the test's own (its socket in a temp folder), one pane. */
typedef struct h_tmux {
    char dir[256];
    char socket[300];
} h_tmux;

/* Starts `sh -c command` in a detached width x height pane. 0 or -1. */
int h_tmux_start(h_tmux *t, const char *command, int width, int height);

/* tmux send-keys with each argument as one key or string ("Enter", "Tab", "C-d", "text"). */
int h_tmux_keys(h_tmux *t, const char *const *keys);

/* The pane's text now (trailing blank lines dropped); malloc'd, "" when the pane is gone. */
char *h_tmux_screen(h_tmux *t);

/* Polls the screen every 20 ms until it contains want; 1, or 0 at the deadline (screen printed). */
int h_tmux_wait(h_tmux *t, const char *want, int timeout_ms);

/* 1 while the pane's program runs. */
int h_tmux_alive(h_tmux *t);

/* Kills the tmux server and removes its folder. */
void h_tmux_stop(h_tmux *t);

#endif
