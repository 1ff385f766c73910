/*
 * Unit tests for what a hostile script can do with the libraries' C
 * functions, whose work no instruction hook sees: catastrophic patterns,
 * table.move/concat/insert/remove/sort over huge ranges, string.rep of
 * nothing a quintillion times, copying a big string over and over. Each
 * attack, in a run and at a file's top level, must end within a fraction of
 * a second with the budget, deadline or memory error, and the set must keep
 * working. And the metered pattern matcher (core/lua/pattern.c) must answer
 * exactly as Lua's own: every case is run in the sandbox and in a plain Lua
 * state, and the answers compared.
 *
 * Attacks run in a child process under a wall-clock guard, so a regression
 * fails the case instead of stalling the suite.
 */
#include "punchcard/event.h"
#include "lua/mechanics-internal.h"
#include "model/member-internal.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
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

/* Runs set on one "order" event e<id> for member ann, whose stars are read into *stars. */
static int run_order(mechset *set, const char *id, pc_error *err, int64_t *stars,
                     member_state **keep)
{
    static const char *const pairs[] = {"v", "1"};
    char body[256];
    pc_event ev;
    member_state *m = member_new("ann");
    int rc;

    if (!m || member_load_pairs(m, N(pairs), pairs, NULL))
        return -3;
    snprintf(body, sizeof body,
             "{\"id\": \"%s\", \"type\": \"order\", \"member\": \"ann\","
             " \"at\": \"2026-11-25T08:30:00Z\"}",
             id);
    memset(err, 0, sizeof *err);
    if (pc_event_parse(body, strlen(body), &ev, err) != 0) {
        member_free(m);
        return -2;
    }
    rc = mechset_run(set, &ev, m, err);
    pc_event_clear(&ev);
    if (stars)
        *stars = member_get_int(m, "b:stars");
    if (keep)
        *keep = m;
    else
        member_free(m);
    return rc;
}

/* ------------------------------------------------------------------------- */
/* Attacks                                                                    */

#define GUARD_SECONDS 10
/* What "fast" means here, with room for sanitizers and a busy machine. */
#define FAST_MS 2000

/*
 * STOP: the attack must be stopped. HARMLESS: Lua's answer is cheap to give
 * (string.rep of nothing is ""), so it must just be fast. TOP_ONLY: a
 * declaration, tried at the top level only.
 */
enum { STOP, HARMLESS, TOP_ONLY };
static const struct {
    const char *name;
    const char *code;
    int mode;
} attacks[] = {
    {"lazy pattern on 100k", "string.find(string.rep('a', 1e5), '.-b')", STOP},
    {"greedy gmatch on 100k", "for _ in string.gmatch(string.rep('a', 1e5), 'a*b') do end", STOP},
    {"two lazy items on 2,000", "string.find(string.rep('a', 2000), '.-.-b')", STOP},
    {"gsub of a lazy pattern", "string.gsub(string.rep('a', 1e5), '.-b', '')", STOP},
    {"match with a back-reference", "string.match(string.rep('a', 1e5), '(a-)%1b')", STOP},
    {"method call on the string", "(('a'):rep(1e5)):find('.-b')", STOP},
    {"balanced match, nested", "string.find(string.rep('(', 1e5), '%b()')", STOP},
    {"table.move over 2^40", "table.move({}, 1, 1 << 40, 1)", STOP},
    {"table.move into another table", "table.move({}, 1, 1 << 40, 1, {})", STOP},
    {"table.concat over a C __index",
     "table.concat(setmetatable({}, {__index = type}), '', 1, 1 << 40)", STOP},
    {"table.insert under a lying __len",
     "table.insert(setmetatable({}, {__len = function() return 1 << 40 end}), 1, 'x')", STOP},
    {"table.remove under a lying __len",
     "table.remove(setmetatable({}, {__len = function() return 1 << 40 end}), 1)", STOP},
    {"table.sort under a lying __len",
     "table.sort(setmetatable({}, {__len = function() return (1 << 31) - 2 end,"
     " __index = type}))",
     TOP_ONLY},
    {"table.unpack over 2^40", "table.unpack({}, 1, 1 << 40)", STOP},
    {"string.rep of nothing", "assert(string.rep('', 1 << 62) == '')", HARMLESS},
    {"string.rep of nothing with a separator of nothing", "assert(string.rep('', 1e15, '') == '')",
     HARMLESS},
    {"string.rep of a separator", "string.rep('', 1 << 40, ',')", STOP},
    {"string.rep past the memory cap", "string.rep('x', 1 << 40)", STOP},
    {"copying a big string over and over",
     "local s = string.rep('x', 1 << 24) for i = 1, 1e6 do local t = s .. i end", STOP},
    {"a format width out of range", "string.format('%0999999d', 1)", STOP},
    {"a mechanic's list of event types with a lying __len",
     "mechanic 'y' { on = setmetatable({}, {__len = function() return 1 << 40 end,"
     " __index = type}), run = function() end }",
     TOP_ONLY},
    {"tiers with a lying __len",
     "tiers(setmetatable({}, {__len = function() return 1 << 40 end, __index = type}))", TOP_ONLY},
};

struct attack_report {
    int done;
    int compiled;
    char compile_err[512];
    int64_t compile_ms;
    int rc1, status1;
    char err1[512];
    int64_t e1_ms;
    int rc2;
    int64_t stars2;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The child's side: at_top puts the attack at the file's top level, else in event e1. */
static void attack_child(const char *code, int at_top, struct attack_report *r)
{
    static const mech_limits defaults = {0, 0, 0};
    char text[2048];
    mech_source src = {"a.lua", text, 0};
    pc_error err = {0};
    mechset *set;
    int64_t t0;

    if (at_top)
        snprintf(text, sizeof text,
                 "do %s end\n"
                 "mechanic 'x' { on = 'order', run = function(ev, m) m:earn('stars', 1) end }\n",
                 code);
    else
        snprintf(text, sizeof text,
                 "mechanic 'x' { on = 'order', run = function(ev, m)\n"
                 "  if ev.id == 'e1' then %s end\n"
                 "  m:earn('stars', 1)\n"
                 "end }\n",
                 code);
    src.len = strlen(text);
    t0 = now_ms();
    set = mechset_compile(&src, 1, &defaults, &err);
    r->compile_ms = now_ms() - t0;
    r->compiled = set != NULL;
    if (!set) {
        snprintf(r->compile_err, sizeof r->compile_err, "%s", err.message);
        r->done = 1;
        return;
    }
    t0 = now_ms();
    r->rc1 = run_order(set, "e1", &err, NULL, NULL);
    r->e1_ms = now_ms() - t0;
    r->status1 = err.status;
    snprintf(r->err1, sizeof r->err1, "%s", err.message);
    r->rc2 = run_order(set, "e2", &err, &r->stars2, NULL);
    mechset_unref(set);
    r->done = 1;
}

/* 0 when the child ended in time, -1 when it had to be killed, -2 when it crashed. */
static int run_attack(const char *code, int at_top, struct attack_report *r)
{
    struct timespec nap = {0, 5 * 1000 * 1000};
    pid_t pid;
    int status;

    memset(r, 0, sizeof *r);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        attack_child(code, at_top, r);
        _exit(0);
    }
    for (int waited = 0; waited < GUARD_SECONDS * 200; waited++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) && WEXITSTATUS(status) == 0 && r->done ? 0 : -2;
        nanosleep(&nap, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

/* Whether msg is a stop by a limit (or, for the format case, Lua's own refusal). */
static int stopped(const char *msg)
{
    return strstr(msg, "instruction budget exceeded") || strstr(msg, "time limit exceeded") ||
           strstr(msg, "memory limit exceeded") || strstr(msg, "invalid conversion") ||
           strstr(msg, "at most 100 items");
}

static void test_attacks_in_a_run(void **state)
{
    struct attack_report *r =
        mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int failures = 0;
    (void)state;
    assert_true(r != MAP_FAILED);
    for (size_t i = 0; i < N(attacks); i++) {
        int g;
        if (attacks[i].mode == TOP_ONLY)
            continue;
        g = run_attack(attacks[i].code, 0, r);
        if (g) {
            print_error("attack \"%s\" in a run: %s\n", attacks[i].name,
                        g == -1 ? "still running after the guard (hung)" : "crashed");
            failures++;
        } else if (!r->compiled) {
            print_error("attack \"%s\" in a run: did not compile: %s\n", attacks[i].name,
                        r->compile_err);
            failures++;
        } else if (attacks[i].mode == HARMLESS ? r->rc1 != 0
                                               : r->rc1 != -1 || r->status1 != 422 ||
                                                     !stopped(r->err1) || !strstr(r->err1, "x: ")) {
            print_error("attack \"%s\" in a run: rc=%d status=%d \"%s\", want %s\n",
                        attacks[i].name, r->rc1, r->status1, r->err1,
                        attacks[i].mode == HARMLESS ? "success" : "a 422 stop");
            failures++;
        } else if (r->e1_ms > FAST_MS) {
            print_error("attack \"%s\" in a run: took %lld ms to stop\n", attacks[i].name,
                        (long long)r->e1_ms);
            failures++;
        } else if (r->rc2 != 0 || r->stars2 != 1) {
            print_error("attack \"%s\": the next event: rc=%d stars=%lld, want 0 and 1\n",
                        attacks[i].name, r->rc2, (long long)r->stars2);
            failures++;
        }
    }
    munmap(r, sizeof *r);
    assert_int_equal(failures, 0);
}

static void test_attacks_at_the_top_level(void **state)
{
    struct attack_report *r =
        mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int failures = 0;
    (void)state;
    assert_true(r != MAP_FAILED);
    for (size_t i = 0; i < N(attacks); i++) {
        int g = run_attack(attacks[i].code, 1, r);
        if (g) {
            print_error("attack \"%s\" at the top level: %s\n", attacks[i].name,
                        g == -1 ? "still loading after the guard (hung)" : "crashed");
            failures++;
        } else if (attacks[i].mode == HARMLESS ? !r->compiled
                                               : r->compiled || !stopped(r->compile_err) ||
                                                     !strstr(r->compile_err, "a.lua")) {
            print_error("attack \"%s\" at the top level: compiled=%d \"%s\", want %s\n",
                        attacks[i].name, r->compiled, r->compile_err,
                        attacks[i].mode == HARMLESS ? "a set" : "a stop");
            failures++;
        } else if (r->compile_ms > FAST_MS) {
            print_error("attack \"%s\" at the top level: took %lld ms to stop\n", attacks[i].name,
                        (long long)r->compile_ms);
            failures++;
        }
    }
    munmap(r, sizeof *r);
    assert_int_equal(failures, 0);
}

/* ------------------------------------------------------------------------- */
/* The metered matcher answers as Lua's own                                   */

/* Each is an expression; its values (or its error) are compared. */
static const char *const pattern_cases[] = {
    "string.find('hello world', 'o w')",
    "string.find('hello world', 'o', 6)",
    "string.find('hello world', 'l', -3)",
    "string.find('hello', 'l', 0)",
    "string.find('hello', 'l', -100)",
    "string.find('hello', '', 10)",
    "string.find('hello', '', 6)",
    "string.find('hello', '')",
    "string.find('a.b', '.', 1, true)",
    "string.find('a+b', '+', 1, true)",
    "string.find('abc', '[b-c]+')",
    "string.find('abc', '^b')",
    "string.find('abc', '^a')",
    "string.find('abc', 'c$')",
    "string.find('abc', 'b$')",
    "string.find('a$c', '$c')",
    "string.find('key = value', '(%w+)%s*=%s*(%w+)')",
    "string.find('  x', '()x()')",
    "string.match('2026-11-25', '(%d+)-(%d+)-(%d+)')",
    "string.match('hello', '.-')",
    "string.match('hello', '.-$')",
    "string.match('hello', 'l+')",
    "string.match('hello', 'l*')",
    "string.match('hello', 'x?h')",
    "string.match('hello', 'he?l')",
    "string.match('f(a(b)c)d', '%b()')",
    "string.match('f(a(b)c', '%b()')",
    "string.match('THE (quick) fox', '%f[%a]%a+')",
    "string.match('THE (quick) fox', '%f[%l]%a+')",
    "string.match('hello', '%f[%z]')",
    "string.match('abcabc', '(abc)%1')",
    "string.match('abab', '(a)(b)%2')",
    "string.match('x = 10', '()(%d+)()')",
    "string.match('[x]', '[]]')",
    "string.match('a-b', '[a-]+')",
    "string.match('a^b', '[%^b]+')",
    "string.match('x^y', '[^x]+')",
    "string.match('tab\\tnl\\n', '%c')",
    "string.match('Ab1_ !', '%W+')",
    "string.match('Ab1_ !', '%u%l%d')",
    "string.match('0x1F', '%x+', 3)",
    "string.match('a.b', '%.')",
    "string.match('a%b', '%%')",
    "string.match('punct!?', '%p+')",
    "string.match('ggg', '%g+')",
    "string.match('   ', '%S')",
    "string.match('', '.*')",
    "string.match('', 'a?')",
    "string.match('aaa', '^(a*)$')",
    "string.match('abc', '((a)(b))')",
    "string.gsub('hello world', 'o', '0')",
    "string.gsub('hello world', 'o', '0', 1)",
    "string.gsub('hello world', '(%w+)', '<%1>')",
    "string.gsub('hello world', '%w+', '%0 %0')",
    "string.gsub('hello', '', '-')",
    "string.gsub('abc', 'x*', '-')",
    "string.gsub('hello world', '(%w+) (%w+)', '%2 %1')",
    "string.gsub('$name is $age', '%$(%w+)', {name = 'Ann', age = 30})",
    "string.gsub('$name is $x', '%$(%w+)', {name = 'Ann'})",
    "string.gsub('1 2 3', '%d', function(d) return d * 2 end)",
    "string.gsub('1 2 3', '%d', function(d) if d == '2' then return false end return 'x' end)",
    "string.gsub('abc', '^a', 'X')",
    "string.gsub('aaa', '^a', 'X')",
    "string.gsub('abc', '()', '%1')",
    "string.gsub('abc', 'b', '%%')",
    "string.gsub('abc', 'b', 7)",
    "string.gsub('abc', 'b', '%2')",
    "string.gsub('abc', 'b', '%x')",
    "string.gsub('abc', 'b', {b = {}})",
    "string.gsub('abc', '.', 'x', 0)",
    "string.gsub('abc', '.', 'x', -1)",
    "string.find('abc', '%')",
    "string.find('abc', '[a')",
    "string.find('abc', '[a%')",
    "string.find('abc', '(a')",
    "string.find('abc', 'a)')",
    "string.find('abc', '%b')",
    "string.find('abc', '%bx')",
    "string.find('abc', '%f')",
    "string.find('abc', '%1')",
    "string.find('abc', '(a%1)')",
    "string.find('abc', ('(a)'):rep(33))",
    "string.find('abc', ('('):rep(300) .. 'a' .. (')'):rep(300))",
    "string.find(('x'):rep(300), ('x?'):rep(300))",
    "string.gsub('abc', '(', 'x')",
    "string.gsub('abc', 'b', true)",
    "string.match('abc', 'b', 10)",
    "string.find(123, 2)",
    "(\"key=val\"):match('(%w+)=(%w+)')",
};

/* The same serializer in both states: every value of a pcall, %q for strings. */
static const char prelude[] =
    "local function ser(...)\n"
    "  local t = {}\n"
    "  for i = 1, select('#', ...) do\n"
    "    local v = select(i, ...)\n"
    "    t[#t + 1] = type(v) == 'string' and string.format('%q', v) or tostring(v)\n"
    "  end\n"
    "  return table.concat(t, ',')\n"
    "end\n"
    "local function try(f) return ser(pcall(f)) end\n";

/* The gmatch cases: every iteration's values, at most 50 of them. */
static const char *const gmatch_cases[] = {
    "'hello world from lua', '%a+'",
    "'k1=v1, k2=v2', '(%w+)=(%w+)'",
    "'abc', ''",
    "'abc', 'x*'",
    "'aaa', 'a-'",
    "'^a^a', '^a'",
    "'one two', '()%a+()'",
    "'hello world', '%a+', 7",
    "'hello world', '%a+', -3",
    "'hello', '.', 10",
    "'abc', '('",
};

static char *expr_program(const char *expr, int gmatch)
{
    size_t n = strlen(prelude) + strlen(expr) + 256;
    char *p = malloc(n);
    assert_non_null(p);
    if (gmatch)
        snprintf(p, n,
                 "%sreturn try(function() local out = {}\n"
                 "  for a, b in string.gmatch(%s) do out[#out + 1] = ser(a, b)\n"
                 "    if #out >= 50 then break end end\n"
                 "  return table.concat(out, ';') end)\n",
                 prelude, expr);
    else
        snprintf(p, n, "%sreturn try(function() return %s end)\n", prelude, expr);
    return p;
}

/*
 * The answer of Lua's own string library, from the same text under the same
 * chunk name as the sandbox's, so error messages compare too.
 */
static char *reference_answer(const char *program)
{
    lua_State *L = luaL_newstate();
    size_t n = strlen(program) + 64;
    char *text = malloc(n), *out;
    assert_non_null(text);
    snprintf(text, n, "local function answer()\n%s\nend\nreturn answer()\n", program);
    luaL_openlibs(L);
    if (luaL_loadbuffer(L, text, strlen(text), "@p.lua") != LUA_OK ||
        lua_pcall(L, 0, 1, 0) != LUA_OK)
        fail_msg("reference state: %s", lua_tostring(L, -1));
    out = strdup(lua_tostring(L, -1));
    lua_close(L);
    free(text);
    return out;
}

/* The sandbox's answer, returned by a mechanic as a message. */
static char *sandbox_answer(const char *program)
{
    static const mech_limits lim = {0, 0, 60000};
    size_t n = strlen(program) + 256;
    char *text = malloc(n), *out;
    mech_source src = {"p.lua", text, 0};
    pc_error err;
    member_state *m = NULL;
    mechset *set;

    assert_non_null(text);
    snprintf(text, n,
             "local function answer()\n%s\nend\n"
             "mechanic 'p' { on = 'order', run = function(ev, m) return message(answer()) end }\n",
             program);
    src.len = strlen(text);
    set = mechset_compile(&src, 1, &lim, &err);
    if (!set)
        fail_msg("sandbox compile: %s", err.message);
    if (run_order(set, "e1", &err, NULL, &m))
        fail_msg("sandbox run: %s", err.message);
    out = strdup(
        json_string_value(json_object_get(json_array_get(member_outcomes_json(m), 0), "text")));
    member_free(m);
    mechset_unref(set);
    free(text);
    return out;
}

static int compare_case(const char *expr, int gmatch)
{
    char *program = expr_program(expr, gmatch);
    char *want = reference_answer(program), *got = sandbox_answer(program);
    int differ = strcmp(want, got) != 0;
    if (differ)
        print_error("%s(%s): sandbox %s, Lua %s\n", gmatch ? "gmatch" : "", expr, got, want);
    free(program);
    free(want);
    free(got);
    return differ;
}

static void test_patterns_answer_as_lua(void **state)
{
    int failures = 0;
    (void)state;
    for (size_t i = 0; i < N(pattern_cases); i++)
        failures += compare_case(pattern_cases[i], 0);
    for (size_t i = 0; i < N(gmatch_cases); i++)
        failures += compare_case(gmatch_cases[i], 1);
    assert_int_equal(failures, 0);
}

/*
 * What real programs do with the metered functions stays well inside the
 * budget: a 10 kB subject scanned, split and rewritten, a 10,000-row table
 * moved, concatenated and sorted.
 */
static void test_honest_work_fits_the_budget(void **state)
{
    static const mech_limits defaults = {0, 0, 60000};
    static const char text[] =
        "mechanic 'x' { on = 'order', run = function(ev, m)\n"
        "  local s = string.rep('item=42; ', 1000)\n"
        "  local n = 0\n"
        "  for k, v in s:gmatch('(%w+)=(%d+)') do n = n + 1 end\n"
        "  local t = {}\n"
        "  for i = 1, 10000 do t[i] = 10000 - i end\n"
        "  local u = table.move(t, 1, #t, 1, {})\n"
        "  table.sort(u)\n"
        "  local c = table.concat(u, ',')\n"
        "  local r = s:gsub('%d+', '7'):find('item=7;', 1, true)\n"
        "  if n == 1000 and u[1] == 0 and #c > 40000 and r == 1 then m:earn('stars', 1) end\n"
        "end }\n";
    mech_source src = {"a.lua", text, sizeof text - 1};
    pc_error err;
    int64_t stars = 0;
    mechset *set = mechset_compile(&src, 1, &defaults, &err);
    (void)state;
    if (!set)
        fail_msg("compile: %s", err.message);
    if (run_order(set, "e1", &err, &stars, NULL))
        fail_msg("run: %s", err.message);
    assert_int_equal(stars, 1);
    mechset_unref(set);
}

/* The per-event caps by default: 1,000 outcomes, 256 shared keys; pcall cannot get past them. */
static void test_default_caps(void **state)
{
    static const struct {
        const char *code, *want; /* want: NULL for success */
        const char *err_code;
    } cases[] = {
        {"local out = {} for i = 1, 1000 do out[i] = message('m') end return out", NULL, NULL},
        {"local out = {} for i = 1, 1001 do out[i] = message('m') end return out",
         "more than 1000 outcomes", "event_too_large"},
        {"for i = 1, 256 do m:score('b' .. i, 1) end", NULL, NULL},
        {"for i = 1, 257 do m:score('b' .. i, 1) end", "more than 256 shared keys",
         "event_too_large"},
        {"pcall(function() for i = 1, 20000 do m:score('b' .. i, 1) end end)",
         "more than 256 shared keys", "event_too_large"},
        {"for i = 1, 1001 do m:badge('b' .. i) end", "more than 1000 outcomes", "event_too_large"},
        /* Each call pays for the member's fields, which grow by the thousand here. */
        {"for i = 1, 50000 do pcall(m.earn, m, 'c' .. i, 1) end", "instruction budget exceeded",
         "mechanic_error"},
    };
    static const mech_limits lim = {0, 0, 60000};
    int failures = 0;
    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        char text[512];
        mech_source src = {"a.lua", text, 0};
        pc_error err;
        mechset *set;
        int rc;
        snprintf(text, sizeof text,
                 "mechanic 'x' { on = 'order', run = function(ev, m)\n  %s\nend }\n",
                 cases[i].code);
        src.len = strlen(text);
        if (!(set = mechset_compile(&src, 1, &lim, &err)))
            fail_msg("compile: %s", err.message);
        rc = run_order(set, "e1", &err, NULL, NULL);
        if (cases[i].want ? rc != -1 || err.status != 422 || strcmp(err.code, cases[i].err_code) ||
                                !strstr(err.message, cases[i].want)
                          : rc != 0) {
            print_error("case %s: rc=%d %s \"%s\", want %s\n", cases[i].code, rc, err.code,
                        err.message, cases[i].want ? cases[i].want : "success");
            failures++;
        }
        mechset_unref(set);
    }
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attacks_in_a_run),
        cmocka_unit_test(test_attacks_at_the_top_level),
        cmocka_unit_test(test_patterns_answer_as_lua),
        cmocka_unit_test(test_honest_work_fits_the_budget),
        cmocka_unit_test(test_default_caps),
    };
    return cmocka_run_group_tests_name("hostile", tests, NULL, NULL);
}
