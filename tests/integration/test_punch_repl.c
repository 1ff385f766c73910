/*
 * punch repl, driven as a person would: typed into a tmux pane, asserted on
 * what the screen shows (prompt, outcomes, balances, the explain lines, a
 * reload notice, a script error with file:line and the prompt still there,
 * completion, history across runs). Also fed lines through a pipe, which is
 * how scripts use it; and held to punch test, whose spec runner shares the
 * REPL's bindings: the same call must give Lua the same value in both.
 */
#include "harness.h"
#include "harness_run.h"
#include "punchcard/common.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS 10000

/* Shared state the REPL shows: a draw that always wins (5 mugs a day) and a board. */
#define GAME_LUA                                                                                   \
    "mechanic \"spin\" { on = \"spin\", run = function(ev, m)\n"                                   \
    "  m:draw(\"wheel\", {chance = 1, prizes = {\"mug\"}, pool = 5, refill = \"day\"}) end }\n"    \
    "mechanic \"steps\" { on = \"walk\", run = function(ev, m)\n"                                  \
    "  m:score(\"steps\", ev.data.steps) end }\n"                                                  \
    "currency \"stamps\" { expires_in = \"30d\" }\n"                                               \
    "mechanic \"stamp\" { on = \"stamp\", run = function(ev, m) m:earn(\"stamps\", 1) end }\n"

static char *scripts;
static char home[256];
static h_tmux pane; /* stopped after each test, also when an assertion failed */

static int stop_pane(void **state)
{
    h_tmux_stop(&pane);
    return 0;
}

static int group_setup(void **state)
{
    scripts = h_scripts_copy();
    snprintf(home, sizeof home, "/tmp/punch-home-XXXXXX");
    return mkdtemp(home) ? 0 : -1;
}

static int group_teardown(void **state)
{
    char hist[300];
    snprintf(hist, sizeof hist, "%s/.punch_history", home);
    unlink(hist);
    rmdir(home);
    h_rm_dir(scripts);
    free(scripts);
    return 0;
}

/* 1 once the REPL in the pane has exited (it stops its throwaway Redis first). */
static int pane_gone(void *arg)
{
    return !h_tmux_alive(arg);
}

static void keys(h_tmux *t, const char *k1, const char *k2)
{
    const char *k[] = {k1, k2, NULL};
    assert_int_equal(h_tmux_keys(t, k), 0);
}

/* Types a line and presses Enter. */
static void type_line(h_tmux *t, const char *line)
{
    keys(t, "-l", line);
    keys(t, "Enter", NULL);
}

/*
 * The last line of the screen becomes want (within WAIT_MS: the REPL prints a
 * line and redraws its prompt in two writes, and the screen may be read between).
 */
static void assert_last_line(h_tmux *t, const char *want)
{
    for (int waited = 0;; waited += 20) {
        char *s = h_tmux_screen(t), *last = strrchr(s, '\n');
        last = last ? last + 1 : s;
        if (!strcmp(last, want)) {
            free(s);
            return;
        }
        if (waited >= WAIT_MS)
            fail_msg("last line '%s', want '%s'; screen:\n%s", last, want, s);
        free(s);
        usleep(20 * 1000);
    }
}

static void start_repl(h_tmux *t)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cd %s && HOME=%s %s repl --scripts %s", home, home, PUNCH_PATH,
             scripts);
    assert_int_equal(h_tmux_start(t, cmd, 120, 50), 0);
    assert_true(h_tmux_wait(t, "\npunch>", WAIT_MS)); /* tmux drops trailing blanks */
}

static void a_session_at_the_prompt(void **state)
{
    char hist[300], *text;

    if (!h_have_program("tmux"))
        skip();
    start_repl(&pane);
    assert_true(h_tmux_wait(&pane, "mechanics ", WAIT_MS));

    /* An event: its outcomes, the balance before -> after, who ran and who did not. */
    type_line(&pane, "clock(\"2026-01-01T09:00:00Z\")");
    assert_true(h_tmux_wait(&pane, "2026-01-01T09:00:00.000Z", WAIT_MS));
    type_line(&pane, "order{member=\"ann\", items={{category=\"fuel\", amount=500}, "
                     "{category=\"shop\", amount=125}}}");
    assert_true(h_tmux_wait(&pane, "fuel     +86 stars (balance 86)", WAIT_MS));
    assert_true(h_tmux_wait(&pane, "balances: stars 0 -> 86", WAIT_MS));
    assert_true(h_tmux_wait(&pane, "dessert  counter orders = 1", WAIT_MS));
    assert_true(h_tmux_wait(&pane, "ran      fuel     1 outcome", WAIT_MS));
    assert_true(h_tmux_wait(&pane, "not subscribed: workout", WAIT_MS));
    assert_last_line(&pane, "punch>");

    /* The clock moves; events without "at" happen then. */
    type_line(&pane, "advance(\"1d12h\")");
    assert_true(h_tmux_wait(&pane, "2026-01-02T21:00:00.000Z", WAIT_MS));
    type_line(&pane, "workout{member=\"bo\"}");
    assert_true(h_tmux_wait(&pane, "workout repl-2 for bo at 2026-01-02T21:00:00.000Z", WAIT_MS));

    /* Saving a script reloads it, and the prompt says so. */
    h_write_file(scripts, "oops.lua",
                 "mechanic \"oops\" {\n"
                 "  on = \"oops\",\n"
                 "  run = function(ev, m) return ev.data.missing.field end,\n"
                 "}\n");
    assert_true(h_tmux_wait(&pane, "mechanics reloaded from", WAIT_MS));

    /* A script error shows file:line, and the prompt stays. */
    type_line(&pane, "oops{member=\"ann\"}");
    assert_true(h_tmux_wait(&pane, "error 422 mechanic_error: oops: oops.lua:3:", WAIT_MS));
    assert_last_line(&pane, "punch>");

    /* A file that does not compile: the old set serves, the notice names file and line. */
    h_write_file(scripts, "oops.lua", "mechanic \"oops\" {\n  on = = \"oops\",\n}\n");
    assert_true(h_tmux_wait(&pane,
                            "mechanics reload failed, the previous version still serves: "
                            "oops.lua:2:",
                            WAIT_MS));
    /* A Lua error in the typed line itself. */
    type_line(&pane, "nosuchthing(1)");
    assert_true(
        h_tmux_wait(&pane, "stdin:1: attempt to call a nil value (global 'nosuchthing')", WAIT_MS));
    assert_last_line(&pane, "punch>");

    /* Tab completes a command, then a member id seen. */
    keys(&pane, "-l", "memb");
    keys(&pane, "Tab", NULL);
    assert_true(h_tmux_wait(&pane, "punch> member", WAIT_MS));
    keys(&pane, "-l", "(\"a");
    keys(&pane, "Tab", NULL);
    assert_true(h_tmux_wait(&pane, "punch> member(\"ann\"", WAIT_MS));
    type_line(&pane, ")");
    assert_true(
        h_tmux_wait(&pane, "ann (version 1)", WAIT_MS)); /* the failed event changed nothing */
    assert_true(h_tmux_wait(&pane, "balances   stars 86", WAIT_MS));

    h_write_file(scripts, "oops.lua", "-- mended\n");

    /* Ctrl-D quits; the history is on disk. */
    keys(&pane, "C-d", NULL);
    assert_true(h_wait_until(pane_gone, &pane, WAIT_MS));
    h_tmux_stop(&pane);
    snprintf(hist, sizeof hist, "%s/.punch_history", home);
    text = pc_read_file(hist, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "workout{member=\"bo\"}"));
    free(text);

    /* A new run recalls the last line with Up. */
    start_repl(&pane);
    keys(&pane, "Up", NULL);
    assert_true(h_tmux_wait(&pane, "punch> member(\"ann\")", WAIT_MS));
    keys(&pane, "C-u", NULL);
    type_line(&pane, "quit()");
    assert_true(h_wait_until(pane_gone, &pane, WAIT_MS));
    h_tmux_stop(&pane);
}

static void ctrl_c_stops_a_runaway_line(void **state)
{
    if (!h_have_program("tmux"))
        skip();
    start_repl(&pane);
    type_line(&pane, "print(\"spin\" .. \"ning\") while true do end");
    /* The line runs until Ctrl-C; the prompt comes back. Ctrl-C only once the line runs (its
     * first words printed): pressed before the REPL read the Enter, the terminal would drop the
     * line with the unread input, and nothing would run to be stopped. */
    assert_true(h_tmux_wait(&pane, "\nspinning", WAIT_MS));
    keys(&pane, "C-c", NULL);
    assert_true(h_tmux_wait(&pane, "interrupted", WAIT_MS));
    assert_last_line(&pane, "punch>");
    keys(&pane, "-l", "half typed");
    /* Only once read: the terminal drops unread input on Ctrl-C. */
    assert_true(h_tmux_wait(&pane, "punch> half typed", WAIT_MS));
    keys(&pane, "C-c", NULL);
    assert_true(h_tmux_wait(&pane, "half typed^C", WAIT_MS));
    assert_last_line(&pane, "punch>");
    /* The terminal signalled the foreground group only: the throwaway Redis lives on. */
    type_line(&pane, "order{member=\"cc\", items={{category=\"fuel\", amount=500}}}");
    assert_true(h_tmux_wait(&pane, "+50 stars (balance 50)", WAIT_MS));
    type_line(&pane, "exit()");
    assert_true(h_wait_until(pane_gone, &pane, WAIT_MS));
    h_tmux_stop(&pane);
}

/* Lines on a pipe: no prompt, the same answers; handy in scripts. */
static void lines_through_a_pipe(void **state)
{
    static const struct {
        const char *want;
    } cases[] = {
        {"order repl-1 for cy at 2026-03-01T00:00:00.000Z"},
        {"  fuel     +2 stars (balance 2)"},
        {"order repl-4 for cy"},
        {"  dessert  prize dessert"},
        {"visit repl-5 for cy at 2026-03-01T00:00:00.000Z (mechanics "},
        {"DRY RUN: nothing applied"},
        {"  not subscribed: dessert fuel spin steps stamp workout"},
        {"cy (version 4)"},
        {"  prizes     dessert 1"},
        {"cy: 1 entry, newest first"},
        {"advance: '3x' is not a duration"},
        /* 30500568905 weeks overflow int64 ms (they wrapped to 9.5 hours once). */
        {"advance: '30500568905w' is not a duration"},
        {"which member? e.g. member(\"ann\")"},
        {"namespace repl wiped"},
        {"cy: no such member (no event applied yet)"},
        {"3\n"},
        {"  mug            pool 5 per day, this 2026-03-01: 3 left, 2 won; won in all 2"},
        {"leaderboard steps, period 2026-W09 (per week)\n"
         "     1  dee                  700\n"
         "     2  cy                   500\n"
         "  cy is #2 with 500"},
        {"  mug            pool 5 per day, this 2026-03-08: 5 left, 0 won; won in all 2"},
        {"leaderboard steps, period 2026-W10 (per week)\n  nobody scored"},
        /* Moving the clock shows when each member will be woken next. */
        {"next wake: cy none, dee none, eve 2026-04-07T00:00:00.000Z\n2026-03-09T00:00:00.000Z"},
        /* The clock moved past the stamp's expiry: it expired then, without an event; the
         * tick is shown as it happened. */
        {"tick tick-1775520000000 for eve at 2026-04-07T00:00:00.000Z"},
        {"  expiry  -1 stamps (balance 0) [expire]"},
        {"(1 member had something due by then: ticked)\n"
         "next wake: cy none, dee none, eve none\n2026-04-09T00:00:00.000Z"},
        {"eve (version 2)\n  balances   stamps 0"},
    };
    char *dir = h_scripts_copy();
    const char *argv[] = {PUNCH_PATH, "repl", "--scripts", dir, NULL};
    char env_home[300];
    const char *env[] = {env_home, NULL};
    h_proc_out o;

    h_write_file(dir, "game.lua", GAME_LUA);
    snprintf(env_home, sizeof env_home, "HOME=%s", home);
    h_run(argv, env,
          "clock(\"2026-03-01\")\n"
          "order{member=\"cy\", items={{category=\"fuel\", amount=25}}}\n"
          "for i = 1, 3 do order{} end\n"
          "send{type=\"visit\", dry_run=true}\n"
          "member(\"cy\")\n"
          "ledger(\"cy\")\n"
          "advance(\"3x\")\n"
          "advance(\"30500568905w\")\n"
          "reset()\n"
          "member()\n"
          "member(\"cy\")\n"
          "x = 1 +\n"
          "  2\n"
          "x\n"
          "for i = 1, 2 do spin{member=\"cy\"} end\n"
          "draw(\"wheel\")\n"
          "walk{member=\"cy\", steps=500}\n"
          "walk{member=\"dee\", steps=700}\n"
          "leaderboard(\"steps\", 5, \"cy\")\n"
          "advance(\"1w\")\n"
          "draw(\"wheel\")\n"
          "leaderboard(\"steps\")\n"
          "stamp{member=\"eve\"}\n"
          "advance(\"1d\")\n"
          "advance(\"31d\")\n"
          "member(\"eve\")\n",
          WAIT_MS, &o);
    h_rm_dir(dir);
    free(dir);
    if (o.status != 0)
        fail_msg("exit %d; stderr: %s", o.status, o.err);
    assert_null(strstr(o.out, "punch> "));
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if (!strstr(o.out, cases[i].want)) {
            fprintf(stderr, "punch repl printed:\n%s\n", o.out); /* cmocka cuts long messages */
            fail_msg("case %zu: no '%s' in what punch repl printed", i, cases[i].want);
        }
    h_proc_out_free(&o);
}

/*
 * One shared binding, called as a REPL user types it and as a spec writes it, its value in v;
 * then the statement fix, in both, leaves out of v what differs by chance or by the clock of
 * the machine (a draw's roll, a ledger entry's stream id). The REPL's events are explained:
 * the trace is left out too.
 */
#define UNPLACED "v = v:gsub('^[%w_]+:%d+: ', '')"
static const struct {
    const char *repl, *spec, *fix;
} agree[] = {
    {"clock(\"2026-03-02\")", "t:clock(\"2026-03-02\")", ""},
    {"order{member=\"cy\", id=\"o1\", items={{category=\"fuel\", amount=250}, "
     "{category=\"shop\", amount=40}}}",
     "t:send{type=\"order\", member=\"cy\", id=\"o1\", data={items={{category=\"fuel\", "
     "amount=250}, {category=\"shop\", amount=40}}}}",
     ""},
    {"send{type=\"visit\", member=\"cy\", id=\"v1\"}",
     "t:send{type=\"visit\", member=\"cy\", id=\"v1\"}", ""},
    {"send{type=\"Not A Type\", member=\"cy\", id=\"x1\"}",
     "select(2, t:send_raw{type=\"Not A Type\", member=\"cy\", id=\"x1\"})", ""},
    {"member(\"cy\")", "t:member(\"cy\")", ""},
    {"member(\"nobody\")", "t:member(\"nobody\")", ""},
    {"ledger(\"cy\", 5)", "t:ledger(\"cy\", 5)", "for _, e in ipairs(v) do e.id = nil end"},
    {"spin{member=\"cy\", id=\"s1\"}", "t:send{type=\"spin\", member=\"cy\", id=\"s1\"}",
     "v = v.outcomes[2]"},
    {"draw(\"wheel\")", "t:draw(\"wheel\")", "v = v.prizes"},
    {"walk{member=\"cy\", id=\"w1\", steps=500}",
     "t:send{type=\"walk\", member=\"cy\", id=\"w1\", data={steps=500}}", ""},
    {"walk{member=\"dee\", id=\"w2\", steps=700}",
     "t:send{type=\"walk\", member=\"dee\", id=\"w2\", data={steps=700}}", ""},
    {"leaderboard(\"steps\", 5, \"cy\")", "t:leaderboard(\"steps\", {top=5, member=\"cy\"})", ""},
    /* A binding's own message; where it is raised from (the spec's prelude) is left out. */
    {"select(2, pcall(clock, \"soon\"))", "select(2, pcall(t.clock, t, \"soon\"))", UNPLACED},
    {"select(2, pcall(advance, \"3x\"))", "select(2, pcall(t.advance, t, \"3x\"))", UNPLACED},
    {"advance(\"1d12h\")", "t:advance(\"1d12h\")", ""},
};

static void lua_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\%03d", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* Writes v as a Lua expression that builds the value luajson_push() makes of it. */
static void lua_literal(FILE *f, json_t *v)
{
    const char *k;
    json_t *x;
    size_t i;

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        fputc('{', f);
        json_object_foreach(v, k, x) {
            fputc('[', f);
            lua_string(f, k);
            fputs("] = ", f);
            lua_literal(f, x);
            fputs(", ", f);
        }
        fputc('}', f);
        break;
    case JSON_ARRAY:
        fputc('{', f);
        json_array_foreach(v, i, x) {
            lua_literal(f, x);
            fputs(", ", f);
        }
        fputc('}', f);
        break;
    case JSON_STRING:
        lua_string(f, json_string_value(v));
        break;
    case JSON_INTEGER:
        fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        fprintf(f, "%.17g", json_real_value(v));
        break;
    case JSON_TRUE:
        fputs("true", f);
        break;
    case JSON_FALSE:
        fputs("false", f);
        break;
    case JSON_NULL:
        fputs("nil", f);
        break;
    }
}

/*
 * The REPL and punch test share their bindings: every call of agree[], made at the REPL (its
 * value printed as JSON), then in a spec that expects those very values, must pass.
 */
static void the_repl_and_punch_test_agree(void **state)
{
    char *dir = h_scripts_copy(), *repl_in = NULL, *spec = NULL, path[4096], env_home[300];
    const char *repl_argv[] = {PUNCH_PATH, "repl", "--scripts", dir, NULL};
    const char *test_argv[] = {PUNCH_PATH, "test", path, NULL};
    const char *env[] = {env_home, NULL};
    size_t len;
    FILE *f;
    h_proc_out o, t;

    snprintf(env_home, sizeof env_home, "HOME=%s", home);
    snprintf(path, sizeof path, "%s/agree_test.lua", dir);
    h_write_file(dir, "game.lua", GAME_LUA);
    f = open_memstream(&repl_in, &len);
    fputs("function strip(v) if type(v) == 'table' then v.explain = nil end return v end\n", f);
    for (size_t i = 0; i < sizeof agree / sizeof *agree; i++)
        fprintf(f, "v = strip(%s)\n%s\nprint('@@%zu')\njson(v)\nprint('@@/')\n", agree[i].repl,
                agree[i].fix, i);
    fclose(f);
    h_run(repl_argv, env, repl_in, WAIT_MS, &o);
    if (o.status != 0)
        fail_msg("punch repl: exit %d; stderr: %s", o.status, o.err);

    f = open_memstream(&spec, &len);
    fputs("test('what punch repl showed', function(t)\n  local v\n", f);
    for (size_t i = 0; i < sizeof agree / sizeof *agree; i++) {
        char mark[32];
        const char *at, *end = NULL;
        json_t *want;
        snprintf(mark, sizeof mark, "@@%zu\n", i);
        if (!(at = strstr(o.out, mark)) || !(end = strstr(at, "\n@@/")))
            fail_msg("case %zu: no value of %s in:\n%s", i, agree[i].repl, o.out);
        at += strlen(mark);
        if (!(want = json_loadb(at, (size_t)(end - at), JSON_DECODE_ANY, NULL)))
            fail_msg("case %zu: %s printed %.*s", i, agree[i].repl, (int)(end - at), at);
        fprintf(f, "  v = (%s)\n  %s\n  t:eq(v, ", agree[i].spec, agree[i].fix);
        lua_literal(f, want);
        fprintf(f, ", 'case %zu')\n", i);
        json_decref(want);
    }
    fputs("end)\n", f);
    fclose(f);
    h_write_file(dir, "agree_test.lua", spec);
    h_run(test_argv, NULL, NULL, WAIT_MS, &t);
    if (t.status != 0 || !strstr(t.out, "1 passed, 0 failed")) {
        fprintf(stderr, "punch repl printed:\n%s\nthe spec:\n%s\n", o.out, spec);
        fail_msg("punch test disagrees with punch repl: %s%s", t.out, t.err);
    }
    h_proc_out_free(&o);
    h_proc_out_free(&t);
    free(repl_in);
    free(spec);
    h_rm_dir(dir);
    free(dir);
}

/* punch test warns when a spec's t:tick() reaches a member punchd would not have woken then. */
static void a_tick_nobody_asked_for_warns(void **state)
{
    char *dir = h_scripts_copy(), path[4096];
    const char *argv[] = {PUNCH_PATH, "test", path, NULL};
    h_proc_out t;
    (void)state;
    snprintf(path, sizeof path, "%s/tick_test.lua", dir);
    h_write_file(dir, "game.lua", GAME_LUA);
    h_write_file(dir, "tick_test.lua",
                 "test('a stamp expires after 30 days', function(t)\n"
                 "  t:send{type = 'stamp'}\n"
                 "  t:advance('30d')\n" /* due: no warning */
                 "  t:has(t:tick(), {kind = 'expire'})\n"
                 "end)\n"
                 "test('a tick too early', function(t)\n"
                 "  t:send{type = 'stamp'}\n"
                 "  t:advance('29d')\n"
                 "  t:hasnt(t:tick(), {kind = 'expire'})\n"
                 "end)\n");
    h_run(argv, NULL, NULL, WAIT_MS, &t);
    if (t.status != 0 || !strstr(t.out, "2 passed, 0 failed, 1 warning\n") ||
        !strstr(t.out, "ok   tick_test.lua: a tick too early\n"
                       "     warning: t:tick() at 2026-01-30T12:00:00.000Z: punchd would not "
                       "wake ann now (next wake: 2026-01-31T12:00:00.000Z)"))
        fail_msg("punch test: exit %d: %s%s", t.status, t.out, t.err);
    h_proc_out_free(&t);
    h_rm_dir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lines_through_a_pipe),
        cmocka_unit_test(the_repl_and_punch_test_agree),
        cmocka_unit_test(a_tick_nobody_asked_for_warns),
        cmocka_unit_test_teardown(a_session_at_the_prompt, stop_pane),
        cmocka_unit_test_teardown(ctrl_c_stops_a_runaway_line, stop_pane),
    };
    return cmocka_run_group_tests_name("punch repl", tests, group_setup, group_teardown);
}
