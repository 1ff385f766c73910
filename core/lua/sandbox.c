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

/*
 * Bytes a run allocates are charged to its instruction budget, one
 * instruction per this many: copying them is work no hook sees (s .. s on a
 * 30 MB string is one instruction). Allocations of at least
 * ALLOC_CHECK_BYTES also look at the deadline.
 */
#define ALLOC_BYTES_PER_INSTR 256
#define ALLOC_CHECK_BYTES     (64u << 10)

/* Decides whether run, which is growing by grow bytes, is now out of budget or time. */
static void charge_alloc(mech_run *run, size_t grow)
{
    uint64_t cost = grow / ALLOC_BYTES_PER_INSTR;
    if (run->killed != LUART_KILL_NONE)
        return;
    run->instr += cost;
    if (run->instr > run->set->lim.instructions)
        run->killed = LUART_KILL_BUDGET;
    else if (grow >= ALLOC_CHECK_BYTES && pc_mono_ms() > run->deadline_ms)
        run->killed = LUART_KILL_DEADLINE;
}

/*
 * The pool of small blocks (luart_pool). A block of n <= LUART_POOL_MAX bytes
 * (as Lua counts it) always has room for its class, (n - 1) / LUART_POOL_STEP:
 * it came from that class's list or from malloc of the class's size, or it
 * shrank in place from a larger one. So a freed block can go on its class's
 * list, at most POOL_KEEP bytes in all; Lua's own sizes (osize) say the class.
 * AddressSanitizer builds keep nothing, so that it still sees every block.
 */
#if defined(__SANITIZE_ADDRESS__)
#define POOL_KEEP 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_KEEP 0
#endif
#endif
#ifndef POOL_KEEP
#define POOL_KEEP (256u << 10)
#endif

static size_t pool_class(size_t n)
{
    return (n - 1) / LUART_POOL_STEP;
}

/* 1 for the sizes the pool serves: 1 to LUART_POOL_MAX. */
static int pooled(size_t n)
{
    return n - 1 < LUART_POOL_MAX;
}

static void *pool_get(luart_pool *pool, size_t n)
{
    size_t c = pool_class(n);
    void *p = pool->free[c];
    if (!p)
        return malloc((c + 1) * LUART_POOL_STEP);
    pool->free[c] = *(void **)p;
    pool->kept -= (c + 1) * LUART_POOL_STEP;
    return p;
}

static void pool_put(luart_pool *pool, void *p, size_t n)
{
    size_t c = pool_class(n), size = (c + 1) * LUART_POOL_STEP;
    if (pool->kept + size > POOL_KEEP) {
        free(p);
        return;
    }
    *(void **)p = pool->free[c];
    pool->free[c] = p;
    pool->kept += size;
}

/* realloc for Lua's blocks (old: the size Lua says ptr has, 0 when ptr is NULL; nsize > 0). */
static void *pool_resize(luart_pool *pool, void *ptr, size_t old, size_t nsize)
{
    void *np;
    if (!ptr)
        return pooled(nsize) ? pool_get(pool, nsize) : malloc(nsize);
    if (!pooled(old)) /* a block of its own: to a class's size when it becomes small */
        return realloc(ptr, pooled(nsize) ? (pool_class(nsize) + 1) * LUART_POOL_STEP : nsize);
    if (nsize <= old || (pooled(nsize) && pool_class(nsize) == pool_class(old)))
        return ptr; /* it has room */
    np = pooled(nsize) ? pool_get(pool, nsize) : malloc(nsize);
    if (!np)
        return NULL;
    memcpy(np, ptr, old);
    pool_put(pool, ptr, old);
    return np;
}

void luart_close_state(mechset *set)
{
    lua_close(set->L);
    set->L = NULL;
    for (size_t c = 0; c < LUART_POOL_CLASSES; c++)
        while (set->pool.free[c]) {
            void *p = set->pool.free[c];
            set->pool.free[c] = *(void **)p;
            free(p);
        }
    set->pool.kept = 0;
}

/*
 * Counts every byte a state holds; refuses growth past the cap, and any
 * growth of a run that was stopped (its error unwinds as "not enough
 * memory", and the run's own reason is what gets reported).
 */
static void *sandbox_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    mechset *set = ud;
    size_t old = ptr ? osize : 0;
    mech_run *run = set->active;

    if (nsize == 0) {
        if (ptr && pooled(old))
            pool_put(&set->pool, ptr, old);
        else
            free(ptr);
        set->mem_used -= old;
        return NULL;
    }
    if (nsize > old) {
        /*
         * Refuse past the cap. Lua then collects and tries once more, so the
         * kill is decided where the memory error surfaces (LUA_ERRMEM), not here.
         */
        if (set->mem_used + (nsize - old) > set->lim.memory)
            return NULL;
        if (run) {
            charge_alloc(run, nsize - old);
            if (run->killed != LUART_KILL_NONE)
                return NULL;
        }
    }
    void *np = pool_resize(&set->pool, ptr, old, nsize);
    if (np)
        set->mem_used = set->mem_used - old + nsize;
    return np;
}

void luart_charge(lua_State *L, uint64_t cost)
{
    mech_run *run = luart_run_of(L);
    if (!run || !run->running)
        return;
    if (run->killed == LUART_KILL_NONE) {
        uint64_t lim = run->set->lim.instructions;
        if (run->instr > lim || cost > lim - run->instr)
            run->killed = LUART_KILL_BUDGET;
        else if (cost >= LUART_HOOK_EVERY && pc_mono_ms() > run->deadline_ms)
            run->killed = LUART_KILL_DEADLINE; /* small charges leave the clock to the hook */
        run->instr += cost > lim ? lim : cost;
    }
    if (run->killed != LUART_KILL_NONE)
        luaL_error(L, "%s", luart_kill_reason(run));
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
    case LUART_KILL_CAP:
        return run->cap_msg;
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
    if (status == LUA_ERRMEM && run->killed == LUART_KILL_NONE)
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
 * The C functions of the libraries whose work grows with an argument rather
 * than with the memory they make: table.move({}, 1, 1 << 40, 1) touches no
 * memory and never returns, string.rep("", 1e18) loops as long. Each is
 * wrapped to charge its element count to the instruction budget before it
 * runs (one instruction per element, what the same loop costs in Lua at the
 * very least), so a count the budget cannot pay stops the script at once.
 * Bytes are charged by the allocator, patterns by their own matcher
 * (pattern.c).
 */
enum charged_fn { CH_MOVE, CH_CONCAT, CH_UNPACK, CH_INSERT, CH_REMOVE, CH_SORT, CH_REP };

/* Elements from first to last, saturating. */
static uint64_t span(lua_Integer first, lua_Integer last)
{
    uint64_t d;
    if (last < first)
        return 0;
    d = (uint64_t)last - (uint64_t)first;
    return d == UINT64_MAX ? d : d + 1;
}

/* The cost of the call on the stack, in instructions; may raise (a memory kill for string.rep). */
static uint64_t call_cost(lua_State *L, enum charged_fn fn)
{
    switch (fn) {
    case CH_MOVE: /* table.move(a1, f, e, t [, a2]) */
        return span(luaL_checkinteger(L, 2), luaL_checkinteger(L, 3));
    case CH_CONCAT: /* table.concat(t [, sep [, i [, j]]]) */
    case CH_UNPACK: /* table.unpack(t [, i [, j]]) */ {
        int first = fn == CH_CONCAT ? 3 : 2;
        lua_Integer i = luaL_optinteger(L, first, 1);
        lua_Integer j =
            lua_isnoneornil(L, first + 1) ? luaL_len(L, 1) : luaL_checkinteger(L, first + 1);
        return span(i, j);
    }
    case CH_INSERT: /* table.insert(t, pos, v) shifts #t - pos + 1 elements up */
        if (lua_gettop(L) < 3)
            return 1;
        return span(luaL_checkinteger(L, 2), luaL_len(L, 1));
    case CH_REMOVE: /* table.remove(t, pos) shifts #t - pos elements down */
        if (lua_isnoneornil(L, 2))
            return 1;
        return span(luaL_checkinteger(L, 2), luaL_len(L, 1));
    case CH_SORT: /* n log n comparisons */ {
        lua_Integer n = luaL_len(L, 1);
        uint64_t cost = 0;
        if (n > 1) {
            int log2 = 0;
            while (log2 < 63 && ((uint64_t)1 << log2) < (uint64_t)n)
                log2++;
            cost = (uint64_t)n > UINT64_MAX / (uint64_t)log2 ? UINT64_MAX : (uint64_t)n * log2;
        }
        return cost;
    }
    case CH_REP: /* string.rep(s, n [, sep]): refuse what cannot fit before allocating it */ {
        size_t l, lsep = 0;
        mech_run *run = luart_run_of(L);
        luaL_checklstring(L, 1, &l);
        lua_Integer n = luaL_checkinteger(L, 2);
        luaL_optlstring(L, 3, "", &lsep);
        if (n <= 0 || l + lsep == 0)
            return 0;
        if (run && run->running && (double)n * (double)(l + lsep) > (double)run->set->lim.memory) {
            run->killed = LUART_KILL_MEMORY;
            luaL_error(L, "%s", luart_kill_reason(run));
        }
        /*
         * One call of memcpy per copy, about an instruction's time for 64 of
         * them; the bytes themselves are charged by the allocator.
         */
        return (uint64_t)n / 64;
    }
    }
    return 0;
}

static int charged_call(lua_State *L)
{
    enum charged_fn fn = (enum charged_fn)lua_tointeger(L, lua_upvalueindex(2));
    luart_charge(L, call_cost(L, fn));
    if (fn == CH_REP && lua_type(L, 1) == LUA_TSTRING && lua_rawlen(L, 1) == 0 &&
        (lua_isnoneornil(L, 3) || (lua_type(L, 3) == LUA_TSTRING && lua_rawlen(L, 3) == 0))) {
        /* Lua would loop n times copying nothing. */
        lua_pushliteral(L, "");
        return 1;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* Wraps lib[name] (lib at the top of the stack) in charged_call. */
static void charge_calls_of(lua_State *L, const char *name, enum charged_fn fn)
{
    lua_getfield(L, -1, name);
    lua_pushinteger(L, fn);
    lua_pushcclosure(L, charged_call, 2);
    lua_setfield(L, -2, name);
}

static void meter_libraries(lua_State *L)
{
    static const struct {
        const char *name;
        enum charged_fn fn;
    } table_fns[] = {{"move", CH_MOVE},     {"concat", CH_CONCAT}, {"unpack", CH_UNPACK},
                     {"insert", CH_INSERT}, {"remove", CH_REMOVE}, {"sort", CH_SORT}};
    static const char *const removed[] = {"dump", "pack", "unpack", "packsize", NULL};

    lua_getglobal(L, LUA_TABLIBNAME);
    for (size_t i = 0; i < sizeof table_fns / sizeof *table_fns; i++)
        charge_calls_of(L, table_fns[i].name, table_fns[i].fn);
    lua_pop(L, 1);

    lua_getglobal(L, LUA_STRLIBNAME);
    charge_calls_of(L, "rep", CH_REP);
    luart_open_patterns(L);
    /*
     * string.dump stays reachable through ("").dump unless removed from the
     * real table; pack and unpack pad and repeat by counts in their format,
     * and no program needs binary layouts.
     */
    for (int i = 0; removed[i]; i++) {
        lua_pushnil(L);
        lua_setfield(L, -2, removed[i]);
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
    meter_libraries(L);
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
