/*
 * The Lua sandbox a marketer's script runs in. Redis's Lua CVEs are the lesson:
 * only base, string, table, math and utf8 are opened; everything that reaches
 * files, processes, bytecode, the garbage collector or other scripts' globals is
 * removed; the libraries scripts see are read-only proxies; every state has a
 * memory cap and every run an instruction budget and a wall-clock deadline.
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
    if (nsize > old && set->mem_used + (nsize - old) > set->lim.memory) {
        if (set->running)
            set->killed = KILL_MEMORY;
        return NULL;
    }
    void *np = realloc(ptr, nsize);
    if (np)
        set->mem_used = set->mem_used - old + nsize;
    return np;
}

static void sandbox_hook(lua_State *L, lua_Debug *ar)
{
    mechset *set = mech_of(L);
    (void)ar;
    set->instr += MECH_HOOK_EVERY;
    if (set->killed == KILL_NONE) {
        if (set->instr > set->lim.instructions)
            set->killed = KILL_BUDGET;
        else if (pc_mono_ms() > set->deadline_ms)
            set->killed = KILL_DEADLINE;
    }
    /*
     * Once killed, every later hook raises again, so a script that catches the
     * error with pcall gets at most MECH_HOOK_EVERY more instructions.
     */
    if (set->killed != KILL_NONE) {
        /* From now on, check at every instruction. */
        lua_sethook(L, sandbox_hook, LUA_MASKCOUNT, 1);
        luaL_error(L, "%s", sandbox_kill_reason(set));
    }
}

const char *sandbox_kill_reason(const mechset *set)
{
    switch (set->killed) {
    case KILL_BUDGET:
        return "instruction budget exceeded";
    case KILL_DEADLINE:
        return "time limit exceeded";
    case KILL_MEMORY:
        return "memory limit exceeded";
    default:
        return "stopped";
    }
}

void sandbox_arm(mechset *set, int on)
{
    if (on) {
        set->instr = 0;
        set->killed = KILL_NONE;
        set->deadline_ms = pc_mono_ms() + set->lim.deadline_ms;
        set->running = 1;
        lua_sethook(set->L, sandbox_hook, LUA_MASKCOUNT, MECH_HOOK_EVERY);
    } else {
        lua_sethook(set->L, NULL, 0, 0);
        set->running = 0;
    }
}

static int readonly_newindex(lua_State *L)
{
    return luaL_error(L, "attempt to change the read-only table '%s'",
                      lua_tostring(L, lua_upvalueindex(1)));
}

static int readonly_pairs(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1)); /* next */
    lua_pushvalue(L, lua_upvalueindex(2)); /* the real table */
    lua_pushnil(L);
    return 3;
}

/* Replaces the table at the top with a read-only proxy of it named name. */
static void make_readonly(lua_State *L, const char *name)
{
    int real = lua_gettop(L);
    lua_newtable(L);               /* proxy */
    lua_createtable(L, 0, 4);      /* its metatable */
    lua_pushvalue(L, real);
    lua_setfield(L, -2, "__index");
    lua_pushstring(L, name);
    lua_pushcclosure(L, readonly_newindex, 1);
    lua_setfield(L, -2, "__newindex");
    lua_getglobal(L, "next");
    lua_pushvalue(L, real);
    lua_pushcclosure(L, readonly_pairs, 2);
    lua_setfield(L, -2, "__pairs");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_replace(L, real);
}

/*
 * pcall and xpcall that cannot swallow a kill: when the budget, deadline or
 * memory cap stopped the script inside the protected call, the error is
 * raised again outside it, up to the engine's own protected call.
 */
static int sandbox_pcall(lua_State *L)
{
    int status;
    luaL_checkany(L, 1);
    status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    if (mech_of(L)->killed != KILL_NONE)
        return luaL_error(L, "%s", sandbox_kill_reason(mech_of(L)));
    lua_pushboolean(L, status == LUA_OK);
    lua_insert(L, 1);
    return lua_gettop(L);
}

static int sandbox_xpcall(lua_State *L)
{
    int n = lua_gettop(L), status;
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 1); /* f, msgh, args..., f */
    lua_copy(L, 2, 1);   /* msgh, msgh, args..., f */
    lua_replace(L, 2);   /* msgh, f, args... */
    status = lua_pcall(L, n - 2, LUA_MULTRET, 1);
    if (mech_of(L)->killed != KILL_NONE)
        return luaL_error(L, "%s", sandbox_kill_reason(mech_of(L)));
    lua_pushboolean(L, status == LUA_OK);
    lua_replace(L, 1);
    return lua_gettop(L);
}

static int sandbox_print(lua_State *L)
{
    mechset *set = mech_of(L);
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
    pc_log(PC_LOG_DEBUG, "lua %s: %s", set->cur ? set->cur->name : "load", lua_tostring(L, -1));
    return 0;
}

/* The base functions a script may call; everything else in _G stays out of reach. */
static const char *const safe_globals[] = {
    "assert", "error",  "ipairs",   "next",         "pairs",        "pcall",   "select",
    "tonumber", "tostring", "type", "xpcall", "rawequal", "rawlen", "getmetatable", "setmetatable",
    "_VERSION", NULL};

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

lua_State *sandbox_new_state(mechset *set)
{
    lua_State *L = lua_newstate(sandbox_alloc, set);
    if (!L)
        return NULL;
    *(mechset **)lua_getextraspace(L) = set;

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

    /* The API table: safe globals, read-only libraries, punch's own functions. */
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
    lua_pushcfunction(L, sandbox_xpcall);
    lua_setfield(L, -2, "xpcall");
    api_register(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &api_key);
    return L;
}

void sandbox_push_env(lua_State *L)
{
    lua_newtable(L);
    lua_createtable(L, 0, 2);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &api_key);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
}
