/*
 * Unit tests for the Lua sandbox and the mechanics set (core/lua): what a
 * marketer's script can reach (the dangerous names are nil, the libraries are
 * read-only, text only), the limits that stop a runaway script (instruction
 * budget, deadline, memory cap, also under pcall) without taking the set down,
 * messages that point at file:line, declaration checks, outcomes and member
 * changes a run makes, the set's version, per-file _ENV and mechset_handles.
 *
 * Cases that could hang when the sandbox is broken run in a child process
 * under a wall-clock guard, so a regression fails the case instead of
 * stalling the suite.
 */
#include "punchcard/event.h"
#include "lua/mechanics-internal.h"
#include "lua/lua-internal.h"
#include "model/member-internal.h"
#include "common/jsonw-internal.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define SRC(n, t)                                                                                  \
    {                                                                                              \
        n, t, sizeof(t) - 1                                                                        \
    }

/* Limits that leave only the instruction budget to stop a loop, even under sanitizers. */
static const mech_limits no_deadline = {0, 0, 60000};

static mechset *compile(const mech_source *src, size_t n, pc_error *err)
{
    memset(err, 0, sizeof *err);
    return mechset_compile(src, n, &no_deadline, err);
}

/* Parses an event of type for member "ann" and runs set on it against m. */
/*
 * Parses an event of type for member "ann" and runs set on it against m.
 * Uses no cmocka assertion, so the guarded child process may call it:
 * returns -2 when the event itself does not parse.
 */
static int run_event_raw(mechset *set, const char *id, const char *type, const char *data,
                         member_state *m, pc_error *err)
{
    char body[1024];
    pc_event ev;
    int rc;
    snprintf(body, sizeof body,
             "{\"id\": \"%s\", \"type\": \"%s\", \"member\": \"ann\","
             " \"at\": \"2026-11-25T08:30:00Z\", \"data\": %s}",
             id, type, data ? data : "{}");
    memset(err, 0, sizeof *err);
    if (pc_event_parse(body, strlen(body), &ev, err) != 0)
        return -2;
    rc = mechset_run(set, &ev, m, err);
    pc_event_clear(&ev);
    return rc;
}

static int run_event(mechset *set, const char *id, const char *type, const char *data,
                     member_state *m, pc_error *err)
{
    int rc = run_event_raw(set, id, type, data, m, err);
    if (rc == -2)
        fail_msg("event %s (%s): %s", id, data ? data : "{}", err->message);
    return rc;
}

/* A member "ann" loaded with the given name/value pairs (NULL-terminated). */
static member_state *ann_with(const char *const *pairs)
{
    member_state *m = member_new("ann");
    size_t n = 0;
    assert_non_null(m);
    while (pairs && pairs[n])
        n++;
    if (n)
        assert_int_equal(member_load_pairs(m, n, pairs, NULL), 0);
    return m;
}

static char *dump(json_t *j)
{
    return j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
}

static int json_text_equal(json_t *got, const char *want_text)
{
    json_error_t jerr;
    json_t *want = json_loads(want_text, JSON_DECODE_ANY, &jerr);
    int eq;
    if (!want)
        fail_msg("bad expected JSON %s: %s", want_text, jerr.text);
    eq = json_equal(got, want);
    json_decref(want);
    return eq;
}

/* ------------------------------------------------------------------------- */
/* What a script can reach                                                    */

/* Every one of these must be nil, at a file's top level and inside a run. */
static const char *const dangerous[] = {
    "io",
    "os",
    "require",
    "package",
    "debug",
    "dofile",
    "loadfile",
    "load",
    "loadstring",
    "collectgarbage",
    "rawset",
    "rawget",
    "coroutine",
    "string.dump",
    "(\"\").dump",
    "math.random",
    "math.randomseed",
    "_G",
    "module",
    "setfenv",
    "getfenv",
    "newproxy",
    "gcinfo",
    "unpack",
    "getmetatable(\"\").__index",
    "getmetatable(string).__index",
};

/* And these must work, so the nil checks above cannot pass on an empty _ENV. */
static const char *const usable[] = {
    "string.format('%d', 7) == '7'",
    "(\"ab\"):rep(2) == 'abab'",
    "string.rep('x', 3) == 'xxx'",
    "table.concat({1, 2}, ',') == '1,2'",
    "math.floor(2.5) == 2 and math.type(1) == 'integer'",
    "utf8.char(233) == '\\u{e9}'",
    "select('#', 1, 2) == 2 and tostring(1) == '1' and tonumber('2') == 2",
    "type(pairs) == 'function' and type(ipairs) == 'function' and type(next) == 'function'",
    "pcall(error, 'x') == false and type(xpcall) == 'function'",
    "type(setmetatable) == 'function' and rawequal(1, 1) and rawlen({1}) == 1",
    "type(mechanic) == 'function' and type(prize) == 'function' and type(message) == 'function'",
    "_VERSION == 'Lua 5.4'",
};

/* Compiles a file that checks expr at top level and in a run, then runs one event. */
static int check_expr(const char *expr, const char *want, char *why, size_t whylen)
{
    char text[1024];
    mech_source src;
    pc_error err;
    mechset *set;
    member_state *m;
    int rc;

    snprintf(text, sizeof text,
             "if not ((%s) %s) then error('at the top level', 0) end\n"
             "mechanic 'probe' { on = 'order', run = function(ev, m)\n"
             "  if not ((%s) %s) then error('inside run', 0) end\n"
             "end }\n",
             expr, want, expr, want);
    src.name = "probe.lua";
    src.text = text;
    src.len = strlen(text);
    set = compile(&src, 1, &err);
    if (!set) {
        snprintf(why, whylen, "compile: %s", err.message);
        return -1;
    }
    m = ann_with(NULL);
    rc = run_event(set, "e1", "order", NULL, m, &err);
    if (rc)
        snprintf(why, whylen, "run: %s", err.message);
    member_free(m);
    mechset_unref(set);
    return rc;
}

static void test_dangerous_names_are_nil(void **state)
{
    int failures = 0;
    char why[600];
    (void)state;
    for (size_t i = 0; i < N(dangerous); i++) {
        if (check_expr(dangerous[i], "== nil", why, sizeof why)) {
            print_error("case \"%s\": reachable, want nil (%s)\n", dangerous[i], why);
            failures++;
        }
    }
    for (size_t i = 0; i < N(usable); i++) {
        if (check_expr(usable[i], "== true", why, sizeof why)) {
            print_error("case \"%s\": not usable in the sandbox (%s)\n", usable[i], why);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

struct compile_case {
    const char *name;
    mech_source src[2];
    size_t nsrc;
    const char *want1; /* substrings of the compile error (NULL: it must compile) */
    const char *want2;
};

static const struct compile_case readonly_cases[] = {
    {"assigning string.rep", {SRC("a.lua", "string.rep = nil")}, 1, "a.lua:1:", "read-only"},
    {"adding to math", {SRC("a.lua", "\n\nmath.evil = 1")}, 1, "a.lua:3:", "read-only"},
    {"assigning table.insert", {SRC("a.lua", "table.insert = print")}, 1, "a.lua:1:", "read-only"},
    {"assigning utf8.char", {SRC("a.lua", "utf8.char = nil")}, 1, "a.lua:1:", "read-only"},
    {"removing a library's metatable",
     {SRC("a.lua", "setmetatable(string, nil)")},
     1,
     "a.lua:1:",
     "protected metatable"},
    {"replacing the string metatable",
     {SRC("a.lua", "setmetatable('', {})")},
     1,
     "a.lua:1:",
     "table expected"},
    {"binary chunk", {{"a.lua", "\x1bLua\x54\x00\x19\x93\r\n\x1a\n", 12}}, 1, "binary", NULL},
    {"binary chunk in a second file",
     {SRC("a.lua", "x = 1"), {"b.lua", "\x1bLuaT", 5}},
     2,
     "binary",
     NULL},
};

static void run_compile_cases(const struct compile_case *cases, size_t n)
{
    int failures = 0;
    for (size_t i = 0; i < n; i++) {
        const struct compile_case *c = &cases[i];
        pc_error err;
        mechset *set = compile(c->src, c->nsrc, &err);
        if (!c->want1) {
            if (!set) {
                print_error("case \"%s\": did not compile: %s\n", c->name, err.message);
                failures++;
            }
        } else if (set) {
            print_error("case \"%s\": compiled, want an error with \"%s\"\n", c->name, c->want1);
            failures++;
        } else if (err.status != 422 || !strstr(err.message, c->want1) ||
                   (c->want2 && !strstr(err.message, c->want2))) {
            print_error("case \"%s\": error %d \"%s\", want 422 with \"%s\"%s%s\n", c->name,
                        err.status, err.message, c->want1, c->want2 ? " and " : "",
                        c->want2 ? c->want2 : "");
            failures++;
        }
        mechset_unref(set);
    }
    assert_int_equal(failures, 0);
}

static void test_libraries_are_read_only(void **state)
{
    (void)state;
    run_compile_cases(readonly_cases, N(readonly_cases));
}

/*
 * A file that tries to change a library (and catches the refusal) leaves it
 * working for every other file and every later event.
 */
static void test_libraries_survive_tampering(void **state)
{
    static const mech_source src[] = {
        SRC("a.lua", "assert(getmetatable('') == 'locked', 'string metatable')\n"
                     "assert(getmetatable(string) == 'locked', 'library metatable')\n"
                     "assert(not pcall(function() string.rep = nil end))\n"
                     "assert(not pcall(setmetatable, math, nil))\n"
                     "mechanic 'vandal' { on = 'order', run = function(ev, m)\n"
                     "  pcall(function() string.rep = nil end)\n"
                     "  pcall(function() table.concat = nil end)\n"
                     "end }\n"),
        SRC("b.lua", "mechanic 'user' { on = 'order', run = function(ev, m)\n"
                     "  assert(string.rep('ab', 2) == 'abab', 'string.rep')\n"
                     "  assert(('ab'):rep(2) == 'abab', 'method call')\n"
                     "  assert(table.concat({1, 2}) == '12', 'table.concat')\n"
                     "end }\n"),
    };
    pc_error err;
    mechset *set = compile(src, N(src), &err);
    (void)state;
    if (!set)
        fail_msg("compile: %s", err.message);
    for (int i = 0; i < 2; i++) {
        member_state *m = ann_with(NULL);
        if (run_event(set, i ? "e2" : "e1", "order", NULL, m, &err))
            fail_msg("event %d: %s", i + 1, err.message);
        member_free(m);
    }
    mechset_unref(set);
}

/*
 * The read-only proxies must not hand out the real library tables: pairs()
 * on a proxy returning the table it iterates would let one file (or one
 * event) rewrite the library every other file and later event uses.
 */
static const struct {
    const char *lib, *key;
} leak_cases[] = {
    {"string", "upper"},
    {"math", "floor"},
    {"table", "concat"},
    {"utf8", "char"},
};

static void test_pairs_does_not_leak_real_library(void **state)
{
    int failures = 0;
    (void)state;
    for (size_t i = 0; i < N(leak_cases); i++) {
        char a[512], b[512];
        mech_source src[2];
        pc_error err;
        mechset *set;
        snprintf(a, sizeof a,
                 "for _, v in pairs({pairs(%s)}) do\n"
                 "  if type(v) == 'table' then pcall(function() v.%s = nil end) end\n"
                 "end\n",
                 leak_cases[i].lib, leak_cases[i].key);
        snprintf(b, sizeof b,
                 "mechanic 'user' { on = 'order', run = function(ev, m)\n"
                 "  assert(%s.%s ~= nil, '%s.%s was removed by another file')\n"
                 "end }\n",
                 leak_cases[i].lib, leak_cases[i].key, leak_cases[i].lib, leak_cases[i].key);
        src[0] = (mech_source){"a.lua", a, strlen(a)};
        src[1] = (mech_source){"b.lua", b, strlen(b)};
        set = compile(src, 2, &err);
        if (!set) {
            print_error("case %s.%s: compile: %s\n", leak_cases[i].lib, leak_cases[i].key,
                        err.message);
            failures++;
            continue;
        }
        member_state *m = ann_with(NULL);
        if (run_event(set, "e1", "order", NULL, m, &err)) {
            print_error("case %s.%s: %s\n", leak_cases[i].lib, leak_cases[i].key, err.message);
            failures++;
        }
        member_free(m);
        mechset_unref(set);
    }
    assert_int_equal(failures, 0);
}

/* ------------------------------------------------------------------------- */
/* Limits, each in a child process under a wall-clock guard                   */

#define GUARD_SECONDS 5

enum stage { ST_COMPILE, ST_EVENT1, ST_EVENT2, ST_FREE, ST_DONE };
static const char *const stage_names[] = {"compiling", "running event e1", "running event e2",
                                          "freeing the set (mechset_unref)", "done"};

/* Written by the child into shared memory as it goes, read by the parent. */
struct limit_report {
    enum stage stage;
    int compiled;
    char compile_err[512];
    int rc1, status1;
    char err1[512];
    int rc2;
    char err2[512];
    int64_t stars2;
};

enum limit_expect {
    COMPILES,      /* compiles; e1 fails with want; e2 succeeds and earns */
    COMPILE_FAILS, /* compile fails with want (and want2) */
    TERMINATES,    /* whatever the outcome, every stage ends */
};

struct limit_case {
    const char *name;
    mech_source src;
    mech_limits lim;
    enum limit_expect expect;
    const char *want;  /* substring of the e1 (or compile) error */
    const char *want2; /* a second substring, or NULL */
};

/* Misbehaves on event e1 only, then earns a star, so e2 shows the set still works. */
#define ON_E1(bad)                                                                                 \
    SRC("a.lua", "mechanic 'x' { on = 'order', run = function(ev, m)\n"                            \
                 "  if ev.id == 'e1' then " bad " end\n"                                           \
                 "  m:earn('stars', 1)\n"                                                          \
                 "end }\n")

#define BUDGET                                                                                     \
    {                                                                                              \
        0, 0, 60000                                                                                \
    }
#define MEM8                                                                                       \
    {                                                                                              \
        0, 8u << 20, 60000                                                                         \
    }
#define DEADLINE                                                                                   \
    {                                                                                              \
        UINT64_C(1) << 60, 0, 50                                                                   \
    }

static const struct limit_case limit_cases[] = {
    {"infinite loop in run", ON_E1("while true do end"), BUDGET, COMPILES, "instruction budget",
     "a.lua"},
    {"infinite loop under pcall",
     ON_E1("while true do pcall(function() while true do end end) end"), BUDGET, COMPILES,
     "instruction budget", NULL},
    {"pcall of pcall of a loop",
     ON_E1("while true do pcall(pcall, function() while true do end end) end"), BUDGET, COMPILES,
     "instruction budget", NULL},
    {"infinite loop under xpcall with a looping handler",
     ON_E1("while true do xpcall(function() while true do end end,"
           " function(e) while true do end end) end"),
     BUDGET, COMPILES, "instruction budget", NULL},
    {"xpcall handler that loops after an ordinary error",
     ON_E1("xpcall(error, function(e) while true do end end, 'first')"), BUDGET, COMPILES,
     "instruction budget", NULL},
    {"loop in a to-be-closed variable's __close",
     ON_E1("local c <close> = setmetatable({}, {__close = function() while true do end end})"
           " error('first')"),
     BUDGET, COMPILES, "x: ", NULL},
    {"endless tail calls", ON_E1("local function f() return f() end f()"), BUDGET, COMPILES,
     "instruction budget", NULL},
    {"deadline", ON_E1("while true do end"), DEADLINE, COMPILES, "time limit", NULL},
    {"memory hog", ON_E1("local t = {} while true do t[#t+1] = string.rep('x', 1e6) .. #t end"),
     MEM8, COMPILES, "memory limit", NULL},
    {"memory hog under pcall",
     ON_E1("while true do pcall(function() local t = {}"
           " while true do t[#t+1] = string.rep('x', 1e6) .. #t end end) end"),
     MEM8, COMPILES, "memory limit", NULL},
    {"one huge string", ON_E1("local s = string.rep('x', 1e8)"), MEM8, COMPILES, "memory limit",
     NULL},
    {"unbounded recursion", ON_E1("local function f(n) return 1 + f(n + 1) end f(1)"), MEM8,
     COMPILES, "x:", NULL},
    {"top-level infinite loop", SRC("a.lua", "local n = 0\nwhile true do n = n + 1 end\n"), BUDGET,
     COMPILE_FAILS, "instruction budget", "a.lua"},
    {"top-level memory hog",
     SRC("a.lua", "local t = {}\nwhile true do t[#t+1] = string.rep('x', 1e6) .. #t end\n"), MEM8,
     COMPILE_FAILS, "memory limit", "a.lua"},
    {"catastrophic pattern backtracking",
     ON_E1("string.find(('a'):rep(40), ('a*'):rep(20) .. 'b')"),
     {0, 0, 200},
     COMPILES,
     "x: ",
     NULL},
    {"finalizer that loops, collected after the load",
     SRC("a.lua", "setmetatable({}, {__gc = function() while true do end end})\n"
                  "mechanic 'x' { on = 'order', run = function(ev, m) m:earn('stars', 1) end }\n"),
     BUDGET, TERMINATES, NULL, NULL},
    {"finalizer that loops, kept until the set is freed",
     SRC("a.lua", "local keep = setmetatable({}, {__gc = function() while true do end end})\n"
                  "mechanic 'x' { on = 'order', run = function(ev, m)\n"
                  "  if keep then m:earn('stars', 1) end\n"
                  "end }\n"),
     BUDGET, TERMINATES, NULL, NULL},
};

/* The child's side: no cmocka assertion here, the parent judges the report. */
static void limit_child(const struct limit_case *c, struct limit_report *r)
{
    static const char *const stars0[] = {"v", "1"};
    pc_error err = {0};
    mechset *set;
    member_state *m;

    r->stage = ST_COMPILE;
    set = mechset_compile(&c->src, 1, &c->lim, &err);
    r->compiled = set != NULL;
    if (!set) {
        snprintf(r->compile_err, sizeof r->compile_err, "%s", err.message);
        r->stage = ST_DONE;
        return;
    }
    r->stage = ST_EVENT1;
    m = member_new("ann");
    if (!m || member_load_pairs(m, N(stars0), stars0, NULL))
        _exit(3);
    r->rc1 = run_event_raw(set, "e1", "order", NULL, m, &err);
    r->status1 = err.status;
    snprintf(r->err1, sizeof r->err1, "%s", err.message);
    member_free(m);

    r->stage = ST_EVENT2;
    m = member_new("ann");
    if (!m || member_load_pairs(m, N(stars0), stars0, NULL))
        _exit(3);
    r->rc2 = run_event_raw(set, "e2", "order", NULL, m, &err);
    snprintf(r->err2, sizeof r->err2, "%s", err.message);
    r->stars2 = member_get_int(m, "b:stars");
    member_free(m);

    r->stage = ST_FREE;
    mechset_unref(set);
    r->stage = ST_DONE;
}

/* Runs one case in a child; returns 0 when it ended in time, else kills it and returns -1. */
static int run_guarded(const struct limit_case *c, struct limit_report *r)
{
    struct timespec nap = {0, 5 * 1000 * 1000};
    pid_t pid;
    int status;

    memset(r, 0, sizeof *r);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        limit_child(c, r);
        _exit(0);
    }
    for (int waited = 0; waited < GUARD_SECONDS * 200; waited++) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -2;
        nanosleep(&nap, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

static void test_limits(void **state)
{
    struct limit_report *r =
        mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int failures = 0;
    (void)state;
    assert_true(r != MAP_FAILED);

    for (size_t i = 0; i < N(limit_cases); i++) {
        const struct limit_case *c = &limit_cases[i];
        int g = run_guarded(c, r);
        if (g == -1) {
            print_error("case \"%s\": still %s after %d s (hung); killed\n", c->name,
                        stage_names[r->stage], GUARD_SECONDS);
            failures++;
            continue;
        }
        if (g == -2) {
            print_error("case \"%s\": the child process crashed or failed while %s\n", c->name,
                        stage_names[r->stage]);
            failures++;
            continue;
        }
        switch (c->expect) {
        case TERMINATES:
            break;
        case COMPILE_FAILS:
            if (r->compiled || !strstr(r->compile_err, c->want) ||
                (c->want2 && !strstr(r->compile_err, c->want2))) {
                print_error("case \"%s\": compiled=%d error \"%s\", want a compile error with "
                            "\"%s\"%s%s\n",
                            c->name, r->compiled, r->compile_err, c->want, c->want2 ? " and " : "",
                            c->want2 ? c->want2 : "");
                failures++;
            }
            break;
        case COMPILES:
            if (!r->compiled) {
                print_error("case \"%s\": did not compile: %s\n", c->name, r->compile_err);
                failures++;
                break;
            }
            if (r->rc1 != -1 || r->status1 != 422 || !strstr(r->err1, c->want) ||
                (c->want2 && !strstr(r->err1, c->want2))) {
                print_error("case \"%s\": event e1 rc=%d status=%d \"%s\", want -1, 422 and "
                            "\"%s\"%s%s\n",
                            c->name, r->rc1, r->status1, r->err1, c->want, c->want2 ? " and " : "",
                            c->want2 ? c->want2 : "");
                failures++;
            }
            if (r->rc2 != 0 || r->stars2 != 1) {
                print_error("case \"%s\": the next event on the same set: rc=%d stars=%lld "
                            "\"%s\", want 0 and 1 star\n",
                            c->name, r->rc2, (long long)r->stars2, r->rc2 ? r->err2 : "");
                failures++;
            }
            break;
        }
    }
    munmap(r, sizeof *r);
    assert_int_equal(failures, 0);
}

/*
 * The memory cap limits what a script holds, not what it has thrown away: a
 * run whose live data stays well under the cap must not be killed because
 * garbage had not been collected yet when an allocation first came up short
 * (Lua collects and retries before it gives up).
 */
static void test_memory_cap_counts_live_data(void **state)
{
    static const mech_source src =
        SRC("a.lua", "mechanic 'churn' { on = 'order', run = function(ev, m)\n"
                     "  local keep = {}\n"
                     "  for i = 1, 40 do keep[i] = string.rep('k', 100000) .. i end\n"
                     "  for i = 1, 300 do local s = string.rep('x', 100000) .. i end\n"
                     "  return message('kept ' .. #keep)\n"
                     "end }\n");
    static const mech_limits mem8 = {0, 8u << 20, 60000};
    pc_error err = {0};
    mechset *set = mechset_compile(&src, 1, &mem8, &err);
    int failures = 0;
    (void)state;

    if (!set)
        fail_msg("compile: %s", err.message);
    for (int i = 0; i < 3; i++) {
        member_state *m = ann_with(NULL);
        char id[8];
        snprintf(id, sizeof id, "e%d", i + 1);
        if (run_event(set, id, "order", NULL, m, &err)) {
            print_error("event %s (4 MB live, 30 MB of garbage, 8 MiB cap): %s\n", id, err.message);
            failures++;
        }
        member_free(m);
    }
    mechset_unref(set);
    assert_int_equal(failures, 0);
}

/*
 * A state keeps the small blocks it frees for its next allocations (sandbox.c's
 * pool). Blocks that grow and shrink across its size classes keep their
 * contents, event after event, and what it keeps stays within its bound.
 */
static void test_small_blocks_reused(void **state)
{
    static const mech_source src =
        SRC("a.lua",
            "mechanic 'grow' { on = 'order', run = function(ev, m)\n"
            "  local t, s = {}, ''\n"
            "  for i = 1, 300 do t[i] = {i, tostring(i)}; s = s .. string.char(65 + i % 26) end\n"
            "  for i = 1, 300 do\n"
            "    assert(t[i][1] == i and t[i][2] == tostring(i), 'table ' .. i)\n"
            "    assert(s:byte(i) == 65 + i % 26, 'string ' .. i)\n"
            "  end\n"
            "  local k = {}\n"
            "  for i = 1, 40 do k['key' .. i] = i end\n"
            "  for i = 1, 40 do assert(k['key' .. i] == i, 'key ' .. i) end\n"
            "  for i = 1, 35 do k['key' .. i] = nil end\n"
            "  local many = {}\n"
            "  for i = 1, 20000 do many[i] = {} end\n"
            "end }\n");
    pc_error err = {0};
    mechset *set = compile(&src, 1, &err);
    int failures = 0;
    (void)state;

    if (!set)
        fail_msg("compile: %s", err.message);
    for (int i = 0; i < 200 && failures < 3; i++) {
        member_state *m = ann_with(NULL);
        char id[16];
        snprintf(id, sizeof id, "e%d", i + 1);
        if (run_event(set, id, "order", NULL, m, &err)) {
            print_error("event %s: %s\n", id, err.message);
            failures++;
        }
        member_free(m);
    }
    lua_gc(set->L, LUA_GCCOLLECT); /* 20,000 small tables of the last event freed at once */
    if (set->pool.kept > (256u << 10)) {
        print_error("the state keeps %zu bytes of free blocks, more than 256 KiB\n",
                    set->pool.kept);
        failures++;
    }
    mechset_unref(set);
    assert_int_equal(failures, 0);
}

/* ------------------------------------------------------------------------- */
/* Messages point at file:line                                                */

static const struct compile_case syntax_cases[] = {
    {"bad token on line 1", {SRC("a.lua", "x = = 1\n")}, 1, "a.lua:1:", NULL},
    {"unfinished on line 3",
     {SRC("rules.lua", "local x = 1\nlocal y =\n\n")},
     1,
     "rules.lua:",
     "<eof>"},
    {"error in the second file",
     {SRC("a.lua", "x = 1\n"), SRC("b.lua", "\n\nif then\n")},
     2,
     "b.lua:3:",
     NULL},
    {"error raised at the top level",
     {SRC("a.lua", "\n\nerror('stop here')\n")},
     1,
     "a.lua:3:",
     "stop here"},
};

static void test_syntax_errors(void **state)
{
    (void)state;
    run_compile_cases(syntax_cases, N(syntax_cases));
}

struct runtime_case {
    const char *name;
    mech_source src[2];
    size_t nsrc;
    const char *want1;
    const char *want2;
};

static const struct runtime_case runtime_cases[] = {
    {"error() on line 4",
     {SRC("a.lua", "mechanic 'boom' {\n"
                   "  on = 'order',\n"
                   "  run = function(ev, m)\n"
                   "    error('kaboom')\n"
                   "  end,\n"
                   "}\n")},
     1,
     "a.lua:4:",
     "kaboom"},
    {"arithmetic on nil on line 2",
     {SRC("a.lua", "mechanic 'boom' { on = 'order', run = function(ev, m)\n"
                   "  return ev.data.missing + 1\n"
                   "end }\n")},
     1,
     "a.lua:2:",
     "arithmetic"},
    {"error in a helper of the second file",
     {SRC("a.lua", "mechanic 'quiet' { on = 'order', run = function(ev, m) end }\n"),
      SRC("b.lua", "local function helper(n)\n"
                   "  return n.field\n"
                   "end\n"
                   "mechanic 'boom' { on = 'order', run = function(ev, m) helper(nil) end }\n")},
     2,
     "b.lua:2:",
     "boom"},
    {"the message names the mechanic",
     {SRC("a.lua", "mechanic 'dessert' { on = 'order', run = function(ev, m) error('x') end }\n")},
     1,
     "dessert: ",
     "a.lua:1:"},
    {"an error that is not a string",
     {SRC("a.lua", "mechanic 'boom' { on = 'order', run = "
                   "function(ev, m) error({}) end }\n")},
     1,
     "boom",
     "not a string"},
    {"declaring a mechanic inside run",
     {SRC("a.lua", "mechanic 'x' { on = 'order', run = function(ev, m)\n"
                   "  mechanic 'y' { on = 'order', run = function() end }\n"
                   "end }\n")},
     1,
     "a.lua:2:",
     "top level"},
};

static void test_runtime_errors(void **state)
{
    int failures = 0;
    (void)state;
    for (size_t i = 0; i < N(runtime_cases); i++) {
        const struct runtime_case *c = &runtime_cases[i];
        pc_error err;
        mechset *set = compile(c->src, c->nsrc, &err);
        member_state *m;
        int rc;
        if (!set) {
            print_error("case \"%s\": did not compile: %s\n", c->name, err.message);
            failures++;
            continue;
        }
        m = ann_with(NULL);
        rc = run_event(set, "e1", "order", NULL, m, &err);
        if (rc != -1 || err.status != 422 || !err.code || strcmp(err.code, "mechanic_error") != 0 ||
            !strstr(err.message, c->want1) || (c->want2 && !strstr(err.message, c->want2))) {
            print_error("case \"%s\": rc=%d %d %s \"%s\", want -1, 422 mechanic_error with "
                        "\"%s\" and \"%s\"\n",
                        c->name, rc, err.status, err.code ? err.code : "-", err.message, c->want1,
                        c->want2 ? c->want2 : "");
            failures++;
        }
        member_free(m);
        mechset_unref(set);
    }
    assert_int_equal(failures, 0);
}

/* ------------------------------------------------------------------------- */
/* Declarations                                                               */

#define RUN_OK "run = function(ev, m) end"

static const struct compile_case declaration_cases[] = {
    {"two mechanics in two files",
     {SRC("a.lua", "mechanic 'x' { on = 'order', " RUN_OK " }"),
      SRC("b.lua", "mechanic 'y' { on = {'order', 'visit'}, description = 'y', " RUN_OK " }")},
     2,
     NULL,
     NULL},
    {"duplicate name across files",
     {SRC("a.lua", "mechanic 'x' { on = 'order', " RUN_OK " }"),
      SRC("b.lua", "\nmechanic 'x' { on = 'visit', " RUN_OK " }")},
     2,
     "b.lua:2:",
     "first in a.lua"},
    {"unknown field onn",
     {SRC("a.lua", "mechanic 'x' { onn = 'order', " RUN_OK " }")},
     1,
     "unknown field 'onn'",
     "a.lua:1:"},
    {"missing run",
     {SRC("a.lua", "mechanic 'x' { on = 'order' }")},
     1,
     "run must be a function",
     "a.lua:1:"},
    {"run not a function",
     {SRC("a.lua", "mechanic 'x' { on = 'order', run = 5 }")},
     1,
     "run must be a function",
     NULL},
    {"missing on", {SRC("a.lua", "mechanic 'x' { " RUN_OK " }")}, 1, "on must name", NULL},
    {"empty on list",
     {SRC("a.lua", "mechanic 'x' { on = {}, " RUN_OK " }")},
     1,
     "on must name",
     NULL},
    {"uppercase event type",
     {SRC("a.lua", "mechanic 'x' { on = 'Order', " RUN_OK " }")},
     1,
     "bad event type 'Order'",
     NULL},
    {"event type with a space",
     {SRC("a.lua", "mechanic 'x' { on = {'order', 'big order'}, " RUN_OK " }")},
     1,
     "bad event type",
     NULL},
    {"a number in the on list",
     {SRC("a.lua", "mechanic 'x' { on = {'order', 5}, " RUN_OK " }")},
     1,
     "event type",
     NULL},
    {"bad mechanic name",
     {SRC("a.lua", "mechanic 'Big Bonus' { on = 'order', " RUN_OK " }")},
     1,
     "bad mechanic name",
     NULL},
    {"spec not a table", {SRC("a.lua", "mechanic 'x' 'order'")}, 1, "table expected", NULL},
};

static void test_declarations(void **state)
{
    (void)state;
    run_compile_cases(declaration_cases, N(declaration_cases));
}

/*
 * A declaration error that the script catches with pcall must not leave a
 * half-declared mechanic behind: either the set does not compile, or it has
 * no mechanic that fails every event it is subscribed to.
 */
static const char *const swallowed[] = {
    "pcall(mechanic 'x', { on = 'order' })",
    "pcall(mechanic 'x', { on = 'order', run = 5 })",
    "pcall(mechanic 'x', { on = {'order', 'Bad'}, run = function(ev, m) end })",
};

static void test_swallowed_declaration_errors(void **state)
{
    int failures = 0;
    (void)state;
    for (size_t i = 0; i < N(swallowed); i++) {
        mech_source src = {"a.lua", swallowed[i], strlen(swallowed[i])};
        pc_error err;
        mechset *set = compile(&src, 1, &err);
        member_state *m;
        if (!set)
            continue;
        m = ann_with(NULL);
        if (run_event(set, "e1", "order", NULL, m, &err)) {
            print_error("case \"%s\": compiled, then every order fails: %s\n", swallowed[i],
                        err.message);
            failures++;
        }
        member_free(m);
        mechset_unref(set);
    }
    assert_int_equal(failures, 0);
}

/* ------------------------------------------------------------------------- */
/* Outcomes and member changes                                                */

struct run_case {
    const char *name;
    const char *body;         /* the body of run(ev, m) */
    const char *const *pairs; /* the member as loaded, NULL-terminated */
    int ok;
    const char *outcomes;      /* when ok: the outcomes array as JSON */
    const char *field, *value; /* when ok and field: member field afterwards (NULL value: absent) */
    const char *want;          /* when !ok: substring of the 422 message */
    const char *not_want;      /* when !ok: must not appear in the message */
};

static const char *const has_dessert[] = {"v", "1", "p:dessert", "2", NULL};
static const char *const five_stars[] = {"v", "1", "b:stars", "5", NULL};
static const char *const max_stars[] = {"v", "1", "b:stars", "9223372036854775807", NULL};

#define DOES(name, body, pairs, outcomes, field, value)                                            \
    {                                                                                              \
        name, body, pairs, 1, outcomes, field, value, NULL, NULL                                   \
    }
#define FAILS(name, body, pairs, want, not_want)                                                   \
    {                                                                                              \
        name, body, pairs, 0, NULL, NULL, NULL, want, not_want                                     \
    }

static const struct run_case run_cases[] = {
    DOES("prize", "return prize('dessert')", has_dessert,
         "[{\"mechanic\": \"m\", \"kind\": \"prize\", \"prize\": \"dessert\"}]", "p:dessert", "3"),
    DOES("first prize", "return prize('dessert')", NULL,
         "[{\"mechanic\": \"m\", \"kind\": \"prize\", \"prize\": \"dessert\"}]", "p:dessert", "1"),
    DOES("prize with fields", "return prize('dessert', {size = 'large', n = 2, hot = false})", NULL,
         "[{\"mechanic\": \"m\", \"kind\": \"prize\", \"prize\": \"dessert\", \"size\": "
         "\"large\", \"n\": 2, \"hot\": false}]",
         "p:dessert", "1"),
    DOES("message", "return message('Enjoy!')", NULL,
         "[{\"mechanic\": \"m\", \"kind\": \"message\", \"text\": \"Enjoy!\"}]", "p:dessert", NULL),
    DOES("a list of outcomes", "return {prize('dessert'), message('Enjoy!')}", NULL,
         "[{\"mechanic\": \"m\", \"kind\": \"prize\", \"prize\": \"dessert\"},"
         " {\"mechanic\": \"m\", \"kind\": \"message\", \"text\": \"Enjoy!\"}]",
         "p:dessert", "1"),
    DOES("several values and a nil", "return prize('a'), nil, message('b')", NULL,
         "[{\"mechanic\": \"m\", \"kind\": \"prize\", \"prize\": \"a\"},"
         " {\"mechanic\": \"m\", \"kind\": \"message\", \"text\": \"b\"}]",
         "p:a", "1"),
    DOES("nothing", "return nil", NULL, "[]", NULL, NULL),
    DOES("an empty list", "return {}", NULL, "[]", NULL, NULL),
    DOES(
        "a list built up that stayed empty",
        "local out = {}\nif ev.data.amount > 1e9 then out[#out + 1] = prize('big') end\nreturn out",
        NULL, "[]", NULL, NULL),
    DOES("event fields",
         "assert(ev.id == 'e1' and ev.type == 'order' and ev.member == 'ann')\n"
         "assert(ev.at_ms == 1795595400000 and ev.at == 1795595400)\n"
         "assert(ev.data.amount == 1250 and ev.data.items[2].category == 'shop')\n"
         "return message(m.id)",
         NULL, "[{\"mechanic\": \"m\", \"kind\": \"message\", \"text\": \"ann\"}]", NULL, NULL),

    DOES("earn", "assert(m:earn('stars', 5) == 10) assert(m:balance('stars') == 10)", five_stars,
         "[{\"mechanic\": \"m\", \"kind\": \"stars\", \"currency\": \"stars\", \"delta\": 5,"
         " \"balance\": 10}]",
         "b:stars", "10"),
    DOES("earns merge", "m:earn('stars', 5) m:earn('stars', 2) m:spend('stars', 1)", five_stars,
         "[{\"mechanic\": \"m\", \"kind\": \"stars\", \"currency\": \"stars\", \"delta\": 6,"
         " \"balance\": 11}]",
         "b:stars", "11"),
    DOES("earn then spend it all back", "m:earn('stars', 3) m:spend('stars', 3)", five_stars, "[]",
         "b:stars", "5"),
    DOES("spend within the balance", "assert(m:spend('stars', 5) == 0)", five_stars,
         "[{\"mechanic\": \"m\", \"kind\": \"stars\", \"currency\": \"stars\", \"delta\": -5,"
         " \"balance\": 0}]",
         "b:stars", "0"),
    FAILS("earn a fraction", "m:earn('stars', 1.5)", NULL, "whole number", NULL),
    FAILS("earn a word", "m:earn('stars', 'lots')", NULL, "whole number", NULL),
    FAILS("earn a negative amount", "m:earn('stars', -1)", five_stars, "negative", NULL),
    FAILS("spend a negative amount", "m:spend('stars', -1)", five_stars, "negative", NULL),
    FAILS("earn in a bad currency", "m:earn('Stars!', 1)", NULL, "currency", NULL),
    FAILS("spend beyond the balance", "m:spend('stars', 6)", five_stars, "insufficient balance",
          NULL),
    FAILS("earn, then spend beyond it", "m:earn('stars', 3) m:spend('stars', 9)", five_stars,
          "insufficient balance", NULL),
    FAILS("earn past the largest balance", "m:earn('stars', 1)", max_stars, "overflow", NULL),
    FAILS("a table that is not an outcome", "return {foo = 1}", NULL, "not an outcome", NULL),
    FAILS("a table that forgot prize()", "return {prize = 'dessert'}", NULL, "not an outcome",
          NULL),
    FAILS("a string", "return 'yes'", NULL, "run must return outcomes", NULL),
    FAILS("the message names the mechanic once", "return 'yes'", NULL, "m: run must", "m: m:"),
    FAILS("a list with a number", "return {prize('a'), 5}", NULL, "not an outcome", NULL),
    FAILS("an outcome with a function field", "return message('x', {f = print})", NULL,
          "outcome fields", NULL),
    FAILS("an outcome that overrides mechanic", "return message('x', {mechanic = 'other'})", NULL,
          "outcome fields", NULL),
    FAILS("a prize without a name", "return {kind = 'prize'}", NULL, "prize name", NULL),
    FAILS("a prize() with a bad name", "return prize('Dessert Deluxe')", NULL, "bad prize name",
          NULL),
    FAILS("a hand-built prize with a bad name", "return {kind = 'prize', prize = 'Dessert Deluxe'}",
          NULL, "prize", NULL),
};

static void test_run_outcomes(void **state)
{
    int failures = 0;
    (void)state;
    for (size_t i = 0; i < N(run_cases); i++) {
        const struct run_case *c = &run_cases[i];
        char text[1024];
        mech_source src;
        pc_error err;
        mechset *set;
        member_state *m;
        int rc;

        snprintf(text, sizeof text,
                 "mechanic 'm' { on = 'order', run = function(ev, m)\n%s\nend }\n", c->body);
        src = (mech_source){"a.lua", text, strlen(text)};
        set = compile(&src, 1, &err);
        if (!set) {
            print_error("case \"%s\": did not compile: %s\n", c->name, err.message);
            failures++;
            continue;
        }
        m = ann_with(c->pairs);
        rc = run_event(set, "e1", "order",
                       "{\"amount\": 1250, \"items\": [{\"category\": \"fuel\"},"
                       " {\"category\": \"shop\"}]}",
                       m, &err);
        if (c->ok) {
            const char *v = c->field ? member_get(m, c->field) : NULL;
            if (rc != 0) {
                print_error("case \"%s\": failed: %s\n", c->name, err.message);
                failures++;
            } else if (!json_text_equal(member_outcomes_json(m), c->outcomes)) {
                char *got = dump(member_outcomes_json(m));
                print_error("case \"%s\": outcomes %s, want %s\n", c->name, got, c->outcomes);
                free(got);
                failures++;
            } else if (c->field &&
                       ((v == NULL) != (c->value == NULL) || (v && strcmp(v, c->value) != 0))) {
                print_error("case \"%s\": %s is %s, want %s\n", c->name, c->field,
                            v ? v : "(absent)", c->value ? c->value : "(absent)");
                failures++;
            }
        } else if (rc != -1 || err.status != 422 || !strstr(err.message, c->want) ||
                   (c->not_want && strstr(err.message, c->not_want))) {
            print_error("case \"%s\": rc=%d %d \"%s\", want -1, 422 with \"%s\"%s%s\n", c->name, rc,
                        err.status, err.message, c->want, c->not_want ? " and without " : "",
                        c->not_want ? c->not_want : "");
            failures++;
        }
        member_free(m);
        mechset_unref(set);
    }
    assert_int_equal(failures, 0);
}

/* A refused spend leaves the balance as it was. */
static void test_refused_spend_keeps_balance(void **state)
{
    static const mech_source src =
        SRC("a.lua", "mechanic 'redeem' { on = 'redeem', run = function(ev, m)\n"
                     "  m:spend('stars', ev.data.cost)\n"
                     "  return prize('dessert')\n"
                     "end }\n");
    pc_error err;
    mechset *set = compile(&src, 1, &err);
    member_state *m = ann_with(five_stars);
    (void)state;

    assert_non_null(set);
    assert_int_equal(run_event(set, "r1", "redeem", "{\"cost\": 6}", m, &err), -1);
    assert_int_equal(err.status, 422);
    assert_string_equal(member_get(m, "b:stars"), "5");
    assert_null(member_get(m, "p:dessert"));
    if (!strstr(err.message, "insufficient balance"))
        fail_msg("the refusal reads \"%s\", want \"insufficient balance\"", err.message);
    member_free(m);

    m = ann_with(five_stars);
    assert_int_equal(run_event(set, "r2", "redeem", "{\"cost\": 5}", m, &err), 0);
    assert_string_equal(member_get(m, "b:stars"), "0");
    assert_string_equal(member_get(m, "p:dessert"), "1");
    member_free(m);
    mechset_unref(set);
}

/* m:count counts the event once, however many mechanics ask. */
static void test_count_once_across_mechanics(void **state)
{
    static const mech_source src[] = {
        SRC("a.lua", "mechanic 'first' { on = 'order', run = function(ev, m)\n"
                     "  local n = m:count('orders')\n"
                     "  assert(m:count('orders') == n, 'a second call in one run counted again')\n"
                     "  return message('first ' .. n)\n"
                     "end }\n"),
        SRC("b.lua", "mechanic 'second' { on = 'order', run = function(ev, m)\n"
                     "  return message('second ' .. m:count('orders'))\n"
                     "end }\n"),
    };
    static const char *const three[] = {"v", "1", "c:orders", "3", NULL};
    pc_error err;
    mechset *set = compile(src, N(src), &err);
    member_state *m = ann_with(three);
    (void)state;

    if (!set)
        fail_msg("compile: %s", err.message);
    if (run_event(set, "e1", "order", NULL, m, &err))
        fail_msg("run: %s", err.message);
    assert_string_equal(member_get(m, "c:orders"), "4");
    if (!json_text_equal(member_outcomes_json(m),
                         "[{\"mechanic\": \"first\", \"kind\": \"counter\", \"counter\": "
                         "\"orders\", \"value\": 4},"
                         " {\"mechanic\": \"first\", \"kind\": \"message\", \"text\": \"first 4\"},"
                         " {\"mechanic\": \"second\", \"kind\": \"message\", \"text\": "
                         "\"second 4\"}]")) {
        char *got = dump(member_outcomes_json(m));
        fail_msg("outcomes: %s", got);
    }
    member_free(m);
    mechset_unref(set);
}

/* Prizes and messages returned as plain records: the response's text is the text of their values,
 * key for key (kind, the name, then the table's fields), and a text holding a NUL byte too. */
static void test_prizes_and_messages_as_text(void **state)
{
    static const mech_source src[] = {
        SRC("a.lua", "mechanic 'gift' { on = 'order', run = function(ev, m)\n"
                     "  return prize('dessert'), prize('cake', {size = 'large'}),\n"
                     "    message('caf\\u{e9} \"x\"'), message('hi', {n = 2}), message('a\\0b')\n"
                     "end }\n"),
    };
    pc_error err;
    mechset *set = compile(src, N(src), &err);
    member_state *m = ann_with(NULL);
    pc_jbuf b = {0};
    char *text, *values;
    (void)state;

    if (!set)
        fail_msg("compile: %s", err.message);
    if (run_event(set, "e1", "order", NULL, m, &err))
        fail_msg("run: %s", err.message);
    member_outcomes_write(&b, m);
    text = pc_jbuf_finish(&b, NULL);
    values = pc_json_dump(member_outcomes_json(m), NULL);
    assert_non_null(text);
    assert_string_equal(text, values);
    assert_string_equal(
        text, "[{\"mechanic\":\"gift\",\"kind\":\"prize\",\"prize\":\"dessert\"},"
              "{\"mechanic\":\"gift\",\"kind\":\"prize\",\"prize\":\"cake\",\"size\":\"large\"},"
              "{\"mechanic\":\"gift\",\"kind\":\"message\",\"text\":\"caf\xc3\xa9 \\\"x\\\"\"},"
              "{\"mechanic\":\"gift\",\"kind\":\"message\",\"text\":\"hi\",\"n\":2},"
              "{\"mechanic\":\"gift\",\"kind\":\"message\",\"text\":\"a\\u0000b\"}]");
    assert_int_equal(m->outs[1]->type, MO_NAMED);
    assert_int_equal(m->outs[4]->type, MO_JSON); /* the NUL byte: kept as values */
    free(text);
    free(values);
    member_free(m);
    mechset_unref(set);
}

/* ------------------------------------------------------------------------- */
/* The set: version, _ENV per file, handles                                   */

static void version_of(const mech_source *src, size_t n, char out[13])
{
    pc_error err;
    mechset *set = compile(src, n, &err);
    if (!set)
        fail_msg("compile: %s", err.message);
    snprintf(out, 13, "%s", mechset_version(set));
    mechset_unref(set);
}

static void test_version(void **state)
{
    static const mech_source base[] = {SRC("a.lua", "x = 1"), SRC("b.lua", "y = 2")};
    static const mech_source text_changed[] = {SRC("a.lua", "x = 1"), SRC("b.lua", "y = 3")};
    static const mech_source renamed[] = {SRC("a.lua", "x = 1"), SRC("c.lua", "y = 2")};
    static const mech_source reordered[] = {SRC("b.lua", "y = 2"), SRC("a.lua", "x = 1")};
    static const mech_source one_file[] = {SRC("a.lua", "x = 1")};
    static const mech_source whitespace[] = {SRC("a.lua", "x = 1 "), SRC("b.lua", "y = 2")};
    /* The same bytes as two files, or as one file whose comment holds NULs. */
    static const mech_source split[] = {SRC("a.lua", "x = 1 --"), SRC("b.lua", "y = 2")};
    static const mech_source joined[] = {SRC("a.lua", "x = 1 --\0b.lua\0y = 2")};
    static const struct {
        const char *name;
        const mech_source *src;
        size_t n;
    } changes[] = {
        {"a file's text changed", text_changed, 2}, {"a file renamed", renamed, 2},
        {"files in another order", reordered, 2},   {"a file removed", one_file, 1},
        {"a trailing space added", whitespace, 2},
    };
    char v1[13], v2[13];
    int failures = 0;
    (void)state;

    version_of(base, 2, v1);
    version_of(base, 2, v2);
    assert_string_equal(v1, v2);
    assert_int_equal(strlen(v1), 12);
    assert_int_equal(strspn(v1, "0123456789abcdef"), 12);
    for (size_t i = 0; i < N(changes); i++) {
        version_of(changes[i].src, changes[i].n, v2);
        if (strcmp(v1, v2) == 0) {
            print_error("case \"%s\": the version stayed %s\n", changes[i].name, v1);
            failures++;
        }
    }
    version_of(split, N(split), v1);
    version_of(joined, N(joined), v2);
    if (strcmp(v1, v2) == 0) {
        print_error("case \"two files vs one file with NULs\": both sets have version %s\n", v1);
        failures++;
    }
    assert_int_equal(failures, 0);
}

static void test_env_per_file(void **state)
{
    static const mech_source src[] = {
        SRC("a.lua", "shared = 'from a'\n"
                     "prize = false\n" /* shadows the API in a's own _ENV only */
                     "mechanic 'a' { on = 'order', run = function(ev, m)\n"
                     "  assert(shared == 'from a', 'a lost its own global')\n"
                     "  assert(prize == false, 'a sees the API prize again')\n"
                     "  seen_by_a = true\n"
                     "end }\n"),
        SRC("b.lua", "assert(shared == nil, 'b sees a global of a.lua at load')\n"
                     "mechanic 'b' { on = 'order', run = function(ev, m)\n"
                     "  assert(shared == nil, 'b sees a global of a.lua')\n"
                     "  assert(seen_by_a == nil, 'b sees a global a set in a run')\n"
                     "  return prize('dessert')\n"
                     "end }\n"),
        SRC("c.lua", "assert(getmetatable(_ENV) == 'locked', 'the _ENV metatable is reachable')\n"
                     "assert(not pcall(setmetatable, _ENV, nil), '_ENV can lose its API')\n"),
    };
    pc_error err;
    mechset *set = compile(src, N(src), &err);
    member_state *m;
    (void)state;

    if (!set)
        fail_msg("compile: %s", err.message);
    for (int i = 0; i < 2; i++) {
        m = ann_with(NULL);
        if (run_event(set, i ? "e2" : "e1", "order", NULL, m, &err))
            fail_msg("event %d: %s", i + 1, err.message);
        assert_string_equal(member_get(m, "p:dessert"), "1");
        member_free(m);
    }
    mechset_unref(set);
}

static void test_handles_and_describe(void **state)
{
    static const mech_source src[] = {
        SRC("a.lua", "mechanic 'dessert' { on = 'order', " RUN_OK " }"),
        SRC("b.lua", "mechanic 'visits' { on = {'visit', 'checkin'}, " RUN_OK " }\n"
                     "mechanic 'refunds' { on = {'refund'}, " RUN_OK " }"),
    };
    static const struct {
        const char *type;
        int want;
    } cases[] = {
        {"order", 1}, {"visit", 1}, {"checkin", 1}, {"refund", 1}, {"orders", 0},
        {"orde", 0},  {"Order", 0}, {"", 0},        {"redeem", 0},
    };
    pc_error err;
    mechset *set = compile(src, N(src), &err);
    json_t *d;
    int failures = 0;
    (void)state;

    if (!set)
        fail_msg("compile: %s", err.message);
    for (size_t i = 0; i < N(cases); i++) {
        int got = mechset_handles(set, cases[i].type);
        if (got != cases[i].want) {
            print_error("case \"%s\": mechset_handles = %d, want %d\n", cases[i].type, got,
                        cases[i].want);
            failures++;
        }
    }
    d = mechset_describe(set);
    assert_string_equal(json_string_value(json_object_get(d, "version")), mechset_version(set));
    if (!json_text_equal(json_object_get(d, "files"), "[\"a.lua\", \"b.lua\"]") ||
        !json_text_equal(json_object_get(d, "mechanics"),
                         "[{\"name\": \"dessert\", \"file\": \"a.lua\", \"on\": [\"order\"]},"
                         " {\"name\": \"visits\", \"file\": \"b.lua\", \"on\": [\"visit\", "
                         "\"checkin\"]},"
                         " {\"name\": \"refunds\", \"file\": \"b.lua\", \"on\": [\"refund\"]}]")) {
        char *got = dump(d);
        print_error("mechset_describe: %s\n", got ? got : "NULL");
        free(got);
        failures++;
    }
    json_decref(d);

    /* An event no mechanic handles runs nothing and changes nothing. */
    member_state *m = ann_with(NULL);
    assert_int_equal(run_event(set, "e1", "redeem", NULL, m, &err), 0);
    assert_int_equal(json_array_size(member_outcomes_json(m)), 0);
    assert_int_equal(m->nfields, 0);
    member_free(m);

    /* A set held by two owners lives until the last one lets go. */
    assert_ptr_equal(mechset_ref(set), set);
    mechset_unref(set);
    assert_int_equal(mechset_handles(set, "order"), 1);
    mechset_unref(set);
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dangerous_names_are_nil),
        cmocka_unit_test(test_libraries_are_read_only),
        cmocka_unit_test(test_libraries_survive_tampering),
        cmocka_unit_test(test_pairs_does_not_leak_real_library),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_memory_cap_counts_live_data),
        cmocka_unit_test(test_small_blocks_reused),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_runtime_errors),
        cmocka_unit_test(test_declarations),
        cmocka_unit_test(test_swallowed_declaration_errors),
        cmocka_unit_test(test_run_outcomes),
        cmocka_unit_test(test_refused_spend_keeps_balance),
        cmocka_unit_test(test_count_once_across_mechanics),
        cmocka_unit_test(test_prizes_and_messages_as_text),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_env_per_file),
        cmocka_unit_test(test_handles_and_describe),
    };
    return cmocka_run_group_tests_name("sandbox", tests, NULL, NULL);
}
