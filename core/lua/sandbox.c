/*
 * The Lua sandbox a marketer's script runs in. Redis's Lua CVEs are the lesson:
 * only base, string, table, math and utf8 are opened; everything that reaches
 * files, processes, bytecode, the garbage collector or other scripts' globals is
 * removed; the libraries scripts see are read-only proxies; every state has a
 * memory cap and every run an instruction budget and a wall-clock deadline.
 * What the API holds is not the sandbox's business: its caller passes the
 * parts that fill the API table.
 */
#include "lua-internal.h"

#include <lualib.h>
#include <stdlib.h>
#include <string.h>

/* Counts every byte a state holds; refuses growth past the cap. */
static void *sandbox_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    mechset *set = ud;
    size_t old = ptr ? osize : 0;

    if (nsize == 0) {
        free(ptr);
        set->mem_used -= old;
        return NULL;
    }
    /*
     * Refuse past the cap. Lua then collects and tries once more, so the kill
     * is decided where the memory error surfaces (LUA_ERRMEM), not here.
     */
    if (nsize > old && set->mem_used + (nsize - old) > set->lim.memory)
        return NULL;
    void *np = realloc(ptr, nsize);
    if (np)
        set->mem_used = set->mem_used - old + nsize;
    return np;
}

static void sandbox_hook(lua_State *L, lua_Debug *ar)
{
    mech_run *run = luart_run_of(L);
    (void)ar;
    run->instr += LUART_HOOK_EVERY;
    if (run->killed == LUART_KILL_NONE) {
        if (run->instr > run->set->lim.instructions)
            run->killed = LUART_KILL_BUDGET;
        else if (pc_mono_ms() > run->deadline_ms)
            run->killed = LUART_KILL_DEADLINE;
    }
    /*
     * Once killed, every later hook raises again (and from now on at every
     * instruction), so nothing a script does can keep it going.
     */
    if (run->killed != LUART_KILL_NONE) {
        lua_sethook(L, sandbox_hook, LUA_MASKCOUNT, 1);
        luaL_error(L, "%s", luart_kill_reason(run));
    }
}

const char *luart_kill_reason(const mech_run *run)
{
    switch (run->killed) {
    case LUART_KILL_BUDGET:
        return "instruction budget exceeded";
    case LUART_KILL_DEADLINE:
        return "time limit exceeded";
    case LUART_KILL_MEMORY:
        return "memory limit exceeded";
    default:
        return "stopped";
    }
}

/*
 * Arms a run on its thread. The instruction budget spans the whole event;
 * the deadline restarts at every resume, so time spent waiting for Redis
 * does not count against the script.
 */
void luart_arm(mech_run *run, int on)
{
    if (on) {
        run->deadline_ms = pc_mono_ms() + run->set->lim.deadline_ms;
        run->running = 1;
        run->set->active = run;
        lua_sethook(run->co, sandbox_hook, LUA_MASKCOUNT, LUART_HOOK_EVERY);
    } else {
        lua_sethook(run->co, NULL, 0, 0);
        run->running = 0;
        run->set->active = NULL;
    }
}

static int readonly_newindex(lua_State *L)
{
    return luaL_error(L, "attempt to change the read-only table '%s'",
                      lua_tostring(L, lua_upvalueindex(1)));
}

/* The iterator of a read-only proxy: next over the real table, which it never hands out. */
static int readonly_next(lua_State *L)
{
    lua_settop(L, 2);
    if (lua_next(L, lua_upvalueindex(1)))
        return 2;
    lua_pushnil(L);
    return 1;
}

static int readonly_pairs(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1)); /* the iterator */
    lua_pushvalue(L, 1);                   /* the proxy, not the real table */
    lua_pushnil(L);
    return 3;
}

/* Replaces the table at the top with a read-only proxy of it named name. */
static void make_readonly(lua_State *L, const char *name)
{
    int real = lua_gettop(L);
    lua_newtable(L);          /* proxy */
    lua_createtable(L, 0, 4); /* its metatable */
    lua_pushvalue(L, real);
    lua_setfield(L, -2, "__index");
    lua_pushstring(L, name);
    lua_pushcclosure(L, readonly_newindex, 1);
    lua_setfield(L, -2, "__newindex");
    lua_pushvalue(L, real);
    lua_pushcclosure(L, readonly_next, 1);
    lua_pushcclosure(L, readonly_pairs, 1);
    lua_setfield(L, -2, "__pairs");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_replace(L, real);
}

/*
 * pcall and xpcall that cannot swallow a kill: when the budget, deadline or
 * memory cap stopped the script inside the protected call, the error is
 * raised again outside it, up to the engine. They keep a continuation, so a
 * mechanic may wait on a global operation inside pcall.
 */
static int finish_pcall(lua_State *L, int status, lua_KContext extra)
{
    mech_run *run = luart_run_of(L);
    if (status == LUA_ERRMEM)
        run->killed = LUART_KILL_MEMORY;
    if (run->killed != LUART_KILL_NONE)
        return luaL_error(L, "%s", luart_kill_reason(run));
    lua_pushboolean(L, status == LUA_OK || status == LUA_YIELD);
    lua_replace(L, (int)extra); /* the slot below the results */
    return lua_gettop(L) - (int)extra + 1;
}

static int sandbox_pcall(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_pushnil(L); /* the slot for the status */
    lua_insert(L, 1);
    return finish_pcall(L, lua_pcallk(L, lua_gettop(L) - 2, LUA_MULTRET, 0, 1, finish_pcall), 1);
}

/* The message handler of xpcall: the script's own, unless the script was stopped. */
static int xpcall_handler(lua_State *L)
{
    mech_run *run = luart_run_of(L);
    if (run && run->killed != LUART_KILL_NONE) {
        lua_pushstring(L, luart_kill_reason(run));
        return 1;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

static int sandbox_xpcall(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, xpcall_handler, 1);
    lua_replace(L, 2);
    lua_pushboolean(L, 1); /* f, msgh, args..., true */
    lua_pushvalue(L, 1);   /* f, msgh, args..., true, f */
    lua_rotate(L, 3, 2);   /* f, msgh, true, f, args... */
    return finish_pcall(L, lua_pcallk(L, n - 2, LUA_MULTRET, 2, 3, finish_pcall), 3);
}

/*
 * setmetatable without finalizers: a __gc runs whenever the collector likes,
 * outside any event's budget, so a looping one would hang the daemon. Lua
 * marks an object for finalization only when its metatable has __gc at the
 * time it is set, so refusing it here is enough.
 */
static int sandbox_setmetatable(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return luaL_error(L, "finalizers (__gc) are not allowed in mechanics");
        lua_pop(L, 1);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    if (lua_pcall(L, lua_gettop(L) - 1, 1, 0) != LUA_OK)
        return luaL_error(L, "%s", lua_tostring(L, -1)); /* with the caller's file:line */
    return 1;
}

/*
 * Pattern functions with a cost cap. Lua's matcher backtracks inside one C
 * call, where no hook can stop it, so string.find("aaaa...", ".-.-.-.-b") would
 * hang the daemon. A pattern with q repetition items (* + - ?) can try on the
 * order of n^q positions on a subject of n bytes: refuse when that passes 1e8.
 */
#define PATTERN_MAX_COST 1e8

static int pattern_quantifiers(const char *p, size_t len)
{
    int q = 0, in_set = 0;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (c == '%') {
            i++;
            continue;
        }
        if (in_set) {
            if (c == ']')
                in_set = 0;
            continue;
        }
        if (c == '[') {
            in_set = 1;
            if (i + 1 < len && p[i + 1] == '^')
                i++;
            if (i + 1 < len && p[i + 1] == ']')
                i++;
        } else if (c == '*' || c == '+' || c == '-' || c == '?') {
            q++;
        }
    }
    return q;
}

static int guarded_pattern(lua_State *L)
{
    size_t n, plen;
    const char *p;
    luaL_checklstring(L, 1, &n);
    p = luaL_checklstring(L, 2, &plen);
    /* string.find(s, p, init, true) is a plain search: no pattern. */
    if (!(lua_toboolean(L, lua_upvalueindex(2)) && lua_toboolean(L, 4))) {
        double cost = 1;
        int q = pattern_quantifiers(p, plen);
        for (int i = 0; i < q && cost <= PATTERN_MAX_COST; i++)
            cost *= (double)(n + 1);
        if (q > 1 && cost > PATTERN_MAX_COST)
            return luaL_error(L, "pattern too complex for a subject of %d bytes (%d repetitions)",
                              (int)n, q);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

static void guard_patterns(lua_State *L)
{
    static const char *const fns[] = {"find", "match", "gmatch", "gsub", NULL};
    lua_getglobal(L, LUA_STRLIBNAME);
    for (int i = 0; fns[i]; i++) {
        lua_getfield(L, -1, fns[i]);
        lua_pushboolean(L, i == 0); /* find has a plain mode */
        lua_pushcclosure(L, guarded_pattern, 2);
        lua_setfield(L, -2, fns[i]);
    }
    lua_pop(L, 1);
}

static int sandbox_print(lua_State *L)
{
    mech_run *run = luart_run_of(L);
    luaL_Buffer b;
    int n = lua_gettop(L);
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1)
            luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    pc_log(PC_LOG_DEBUG, "lua %s: %s", run && run->cur ? run->cur->name : "load",
           lua_tostring(L, -1));
    return 0;
}

/* The base functions a script may call; everything else in _G stays out of reach. */
static const char *const safe_globals[] = {
    "assert", "error",        "ipairs",       "next",     "pairs",  "pcall",
    "select", "tonumber",     "tostring",     "type",     "xpcall", "rawequal",
    "rawlen", "getmetatable", "setmetatable", "_VERSION", NULL};

static const struct {
    const char *name;
    lua_CFunction open;
} safe_libs[] = {{LUA_STRLIBNAME, luaopen_string},
                 {LUA_TABLIBNAME, luaopen_table},
                 {LUA_MATHLIBNAME, luaopen_math},
                 {LUA_UTF8LIBNAME, luaopen_utf8},
                 {NULL, NULL}};

/* Registry key of the frozen API table every _ENV reads through. */
static const char api_key = 'A';

lua_State *luart_new_state(mechset *set, const luart_part *parts, size_t n)
{
    lua_State *L = lua_newstate(sandbox_alloc, set);
    if (!L)
        return NULL;
    /* Each event makes short-lived tables (the event, its data, outcomes): generational GC. */
    lua_gc(L, LUA_GCGEN, 0, 0);
    *(mech_run **)lua_getextraspace(L) = NULL;

    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
    lua_pop(L, 1);
    for (int i = 0; safe_libs[i].name; i++) {
        luaL_requiref(L, safe_libs[i].name, safe_libs[i].open, 1);
        lua_pop(L, 1);
    }
    /* string.dump stays reachable through ("").dump unless removed from the real table. */
    lua_getglobal(L, LUA_STRLIBNAME);
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    guard_patterns(L);
    /* Randomness comes from keyed hashes of the event, never from a seed. */
    lua_getglobal(L, LUA_MATHLIBNAME);
    lua_pushnil(L);
    lua_setfield(L, -2, "random");
    lua_pushnil(L);
    lua_setfield(L, -2, "randomseed");
    lua_pop(L, 1);
    /* Hide the string metatable: its __index is the real string table. */
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);

    /* The API table: safe globals, read-only libraries, and the parts the caller passed. */
    lua_newtable(L);
    for (int i = 0; safe_globals[i]; i++) {
        lua_getglobal(L, safe_globals[i]);
        lua_setfield(L, -2, safe_globals[i]);
    }
    for (int i = 0; safe_libs[i].name; i++) {
        lua_getglobal(L, safe_libs[i].name);
        make_readonly(L, safe_libs[i].name);
        lua_setfield(L, -2, safe_libs[i].name);
    }
    lua_pushcfunction(L, sandbox_print);
    lua_setfield(L, -2, "print");
    lua_pushcfunction(L, sandbox_pcall);
    lua_setfield(L, -2, "pcall");
    lua_getglobal(L, "setmetatable");
    lua_pushcclosure(L, sandbox_setmetatable, 1);
    lua_setfield(L, -2, "setmetatable");
    lua_pushcfunction(L, sandbox_xpcall);
    lua_setfield(L, -2, "xpcall");
    for (size_t i = 0; i < n; i++)
        if (parts[i].add_globals)
            parts[i].add_globals(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &api_key);
    return L;
}

void luart_push_env(lua_State *L)
{
    lua_newtable(L);
    lua_createtable(L, 0, 2);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &api_key);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
}
