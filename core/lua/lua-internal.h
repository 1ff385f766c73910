/*
 * Private to core/lua: the layout of a compiled set of mechanics and the
 * helpers its files share (sandbox, API, run).
 */
#ifndef PUNCHCARD_LUA_INTERNAL_H
#define PUNCHCARD_LUA_INTERNAL_H

#include "punchcard/mechanics.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdatomic.h>

/* How often (in VM instructions) the hook checks the budget and the deadline. */
#define MECH_HOOK_EVERY 1000

enum mech_kill { KILL_NONE, KILL_BUDGET, KILL_DEADLINE, KILL_MEMORY };

typedef struct mechanic_def {
    char *name;
    char *file;   /* the file that declared it */
    char **on;    /* event types */
    int non;
    int run_ref;  /* registry reference to the run function */
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

    /* Set while compiling: which file's top level is running. */
    const char *loading_file;

    /* Set while deciding one event. */
    int running;
    const pc_event *ev;
    member_state *m;
    const mechanic_def *cur;
    uint64_t instr;
    int64_t deadline_ms;
    enum mech_kill killed;
    int member_ref; /* registry reference to the member userdata */
};

/* The set a Lua state belongs to (kept in the state's extra space). */
static inline mechset *mech_of(lua_State *L)
{
    return *(mechset **)lua_getextraspace(L);
}

/* sandbox.c: a new state whose allocator counts against set->lim.memory. */
lua_State *sandbox_new_state(mechset *set);

/* Pushes a fresh _ENV for one file: reads fall through to the frozen API. */
void sandbox_push_env(lua_State *L);

/* Arms the instruction budget and deadline for one run (or load); disarms with 0. */
void sandbox_arm(mechset *set, int on);

/* Text for why set->killed stopped the script. */
const char *sandbox_kill_reason(const mechset *set);

/* api.c: registers mechanic(), prize(), message() and the member type into the API table at -1. */
void api_register(lua_State *L);

/* api.c: pushes the event as a Lua table. */
void api_push_event(lua_State *L, const pc_event *ev);

/* api.c: turns the values a run returned (stack from base to top) into outcomes; raises. */
void api_collect_outcomes(lua_State *L, int base, mechset *set);

/* api.c: creates the member userdata; returns its registry reference. */
int api_new_member_ref(lua_State *L);

#endif
