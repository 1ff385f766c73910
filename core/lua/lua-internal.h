/*
 * Private to core/lua: the layout of a compiled set of mechanics and the
 * helpers its files share (sandbox, API, run).
 */
#ifndef PUNCHCARD_LUA_INTERNAL_H
#define PUNCHCARD_LUA_INTERNAL_H

#include "lua/mechanics-internal.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdatomic.h>

/* How often (in VM instructions) the hook checks the budget and the deadline. */
#define MECH_HOOK_EVERY 1000

enum mech_kill { KILL_NONE, KILL_BUDGET, KILL_DEADLINE, KILL_MEMORY };

typedef struct mechanic_def {
    char *name;
    char *file; /* the file that declared it */
    char **on;  /* event types */
    int non;
    int run_ref;      /* registry reference to the run function */
    json_t *settings; /* owned: "active" and "control" as declared, for GET /v1/mechanics */
} mechanic_def;

struct mechset {
    atomic_int refs;
    lua_State *L;
    mech_limits lim;
    size_t mem_used;
    char version[13];
    char **files;
    size_t nfiles;
    mechanic_def *mechs;
    size_t nmechs, capmechs;
    int member_ref;           /* registry reference to the member userdata */
    mech_run *active;         /* the run executing right now (memory kills land on it) */
    const char *loading_file; /* set while a file's top level runs */
    json_t *currencies;       /* {name: {"expires_months", "expires_ms", "period", "pending_ms"}} */
    json_t *tiers;            /* ["blue", "silver", "gold"]: lowest first, or NULL */
};

/*
 * One event being decided, or one file loading. Kept in the extra space of
 * the Lua thread that runs it: a coroutine per event, so an event can yield
 * to wait for Redis while others run on the same set.
 */
struct mech_run {
    mechset *set;
    lua_State *co; /* the event's coroutine; set->L while loading */
    int co_ref;    /* registry reference keeping co alive */
    int running;
    const pc_event *ev;
    member_state *m;
    const mechanic_def *cur;
    size_t next; /* index of the next mechanic to consider */
    uint64_t instr;
    int64_t deadline_ms;
    enum mech_kill killed;
    int waiting; /* yielded on req */
    mech_request req;
    json_t *reply;       /* the answer to req, owned until the continuation reads it */
    char rejected[256];  /* set by reject(): the event fails as "rejected" */
    const char *skipped; /* static: why the current mechanic did not run (campaign, control) */
    char reply_err[256];
};

/* The run a Lua thread belongs to (kept in the thread's extra space). */
static inline mech_run *run_of(lua_State *L)
{
    return *(mech_run **)lua_getextraspace(L);
}

/* sandbox.c: a new state whose allocator counts against set->lim.memory. */
lua_State *sandbox_new_state(mechset *set);

/* Pushes a fresh _ENV for one file: reads fall through to the frozen API. */
void sandbox_push_env(lua_State *L);

/* Arms the instruction budget and deadline of run on its thread; disarms with 0. */
void sandbox_arm(mech_run *run, int on);

/* Text for why run->killed stopped the script. */
const char *sandbox_kill_reason(const mech_run *run);

/* api.c: registers mechanic(), prize(), message() and the member type into the API table at -1. */
void api_register(lua_State *L);

/* api.c: pushes the event as a Lua table. */
void api_push_event(lua_State *L, const pc_event *ev);

/* api.c: turns the values a run returned (stack from base to top) into outcomes; raises. */
void api_collect_outcomes(lua_State *L, int base, mech_run *run);

/*
 * Asks the engine for a global operation (op, args stolen) and yields; the
 * mechanic resumes with the result as a Lua value. Only from a C function
 * called by a mechanic: returns what lua_yieldk returns.
 */
int api_global_call(lua_State *L, const char *op, json_t *args);

/* In a continuation: pushes the engine's answer as a Lua value, or raises its error. */
mech_run *api_take_reply(lua_State *L);

/* The same, resuming in k (which takes the answer with api_take_reply). */
int api_global_call_k(lua_State *L, const char *op, json_t *args, lua_KFunction k);

/*
 * The API is split by subject: api.c (declarations, member basics, outcomes),
 * api_money.c (currencies: lots, expiry, pending, tiers, attributes) and
 * api_game.c (streaks, badges with levels, draws, campaigns, leaderboards,
 * referrals). Each adds its member methods to the table at -1, and its global
 * functions to the API table at -1.
 */
void api_money_methods(lua_State *L);
void api_money_globals(lua_State *L);
void api_game_methods(lua_State *L);
void api_game_globals(lua_State *L);

/*
 * api_game.c: with the run function at the top of the stack and the
 * mechanic's declaration table at spec, replaces run by a wrapper when the
 * declaration has `active` (a campaign window) or `control` (a hold-out
 * percentage); checks both, raising on bad input.
 */
void api_game_wrap_run(lua_State *L, int spec, const char *name);

/* api.c: the running event's context, or a Lua error outside an event. */
mech_run *api_running(lua_State *L);

/* api.c: a checked name argument (1-64 of a-z 0-9 _ . -); raises otherwise. */
const char *api_check_name(lua_State *L, int arg, const char *what);

/* api.c: m:method(name) -> the integer member field "<prefix>:<name>" (0 when absent). */
int api_push_field_int(lua_State *L, const char *prefix, const char *what);

/* api.c: a checked whole, non-negative amount argument; raises otherwise. */
int64_t api_check_amount(lua_State *L, int arg);

/* api.c: creates the member userdata; returns its registry reference. */
int api_new_member_ref(lua_State *L);

#endif
