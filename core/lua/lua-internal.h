/*
 * Private to core/lua: the layout of a compiled set of mechanics and of one
 * run, and the luart_ functions its files share. The files, lowest first:
 *   api_base.c   what every part of the API uses: the running event, name
 *                and amount checks, options, outcomes, global operations
 *   api.c, api_money.c, api_game.c, api_campaign.c   the API by subject,
 *                over the model (core/model) and api_base.c only
 *   sandbox.c    a Lua state with the safe libraries and limits; the API
 *                table is filled by the parts its caller passes
 *   pattern.c    Lua's string patterns with a step counter on the budget
 *   mechset.c    compiles a set and runs events; lists the API's parts
 *   reload.c     the hot-reloaded holder of the live set
 */
#ifndef PUNCHCARD_LUA_INTERNAL_H
#define PUNCHCARD_LUA_INTERNAL_H

#include "lua/mechanics-internal.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdatomic.h>

/* How often (in VM instructions) the hook checks the budget and the deadline. */
#define LUART_HOOK_EVERY 1000

/* Why a run was stopped, if it was. */
enum luart_kill {
    LUART_KILL_NONE,
    LUART_KILL_BUDGET,
    LUART_KILL_DEADLINE,
    LUART_KILL_MEMORY,
    LUART_KILL_CAP /* a per-event cap (outcomes, keys): the event is too large */
};

/* One mechanic's counters, shared by every set that has a mechanic of that name (mechstats.c). */
typedef struct luart_stat {
    char name[65];
    atomic_uint_fast64_t runs, errors, lua_ns;
} luart_stat;

/* The slot of name (made on first use; never freed). */
luart_stat *luart_stat_for(const char *name);

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t luart_clock_ns(void);

typedef struct luart_mechanic {
    char *name;
    luart_stat *stat; /* its counters for /metrics */
    char *file;       /* the file that declared it */
    char **on;        /* event types */
    int non;
    int run_ref;      /* registry reference to the run function */
    json_t *settings; /* owned: "active" and "control" as declared, for GET /v1/mechanics */
} luart_mechanic;

/* How many finished coroutines a set keeps for reuse: more than runs end per loop turn. */
#define LUART_IDLE_THREADS 16

/*
 * Small blocks a state freed, kept for its next allocations of their size
 * (sandbox.c): each event makes and frees tens of tables and strings.
 * Classes of LUART_POOL_STEP bytes up to LUART_POOL_MAX.
 */
#define LUART_POOL_STEP    16
#define LUART_POOL_MAX     256
#define LUART_POOL_CLASSES (LUART_POOL_MAX / LUART_POOL_STEP)
typedef struct luart_pool {
    void *free[LUART_POOL_CLASSES]; /* each a list linked through its blocks' first bytes */
    size_t kept;                    /* bytes on the lists */
} luart_pool;

struct mechset {
    atomic_int refs;
    lua_State *L;
    mech_limits lim;
    size_t mem_used;
    size_t mem_after_gc; /* mem_used after the last full collection mech_run_free() made */
    luart_pool pool;     /* only L's allocator touches it; emptied when L is closed */
    char version[13];
    char **files;
    char (*file_sha)[13]; /* each file's text: the first 12 hex digits of its SHA-256 */
    size_t nfiles;
    luart_mechanic *mechs;
    size_t nmechs, capmechs;
    int member_ref;           /* registry reference to the member userdata */
    mech_run *active;         /* the run executing right now (memory kills land on it) */
    const char *loading_file; /* set while a file's top level runs */
    json_t *currencies;       /* {name: {"expires_months", "expires_ms", "period", "pending_ms"}} */
    json_t *tiers;            /* ["blue", "silver", "gold"]: lowest first, or NULL */
    char *timezone;           /* owned: `timezone "Europe/Paris"`, or NULL (UTC) */
    json_t *experiments;      /* {name: {"control", "spend"}}: `experiment {...}`, or NULL */
    json_t *offers;        /* {name: declaration}: `offer "name" {...}` (api_offers.c), or NULL */
    json_t *offer_codes;   /* {normalized shared code: offer name}, or NULL */
    json_t *offer_pending; /* the declaration being read (freed with the set on an error) */
    /* Coroutines of runs that ended well, kept for the next runs (mech_run_start). */
    lua_State *idle_co[LUART_IDLE_THREADS];
    int idle_ref[LUART_IDLE_THREADS];
    int nidle;
    json_t *named; /* {"draw"|"budget"|"board": {name: true}}: names the scripts spell out */
};

/*
 * One event being decided, or one file loading. Kept in the extra space of
 * the Lua thread that runs it: a coroutine per event, so an event can yield
 * to wait for a global operation while others run on the same set.
 */
struct mech_run {
    mechset *set;
    lua_State *co; /* the event's coroutine; set->L while loading */
    int co_ref;    /* registry reference keeping co alive */
    int ended_ok;  /* co returned normally: it may run the set's next event */
    int running;
    const pc_event *ev;
    member_state *m;
    const luart_mechanic *cur;
    size_t next;        /* index of the next mechanic to consider */
    int64_t lua_ns;     /* time spent inside lua_resume, all resumes before this one */
    int64_t resume_ns;  /* when the current resume started */
    int64_t mech_at_ns; /* the Lua time (lua_ns + this resume so far) when cur started */
    uint64_t instr;
    int64_t deadline_ms;
    enum luart_kill killed;
    char cap_msg[160];             /* what LUART_KILL_CAP says */
    size_t nglobal;                /* global operations asked so far */
    size_t max_outcomes, max_keys; /* the per-event caps (mech_run_set_caps) */
    int waiting;                   /* yielded on req */
    mech_request req;
    json_t *reply;       /* the answer to req, owned until the continuation reads it */
    char rejected[256];  /* set by reject(): the event fails as "rejected" */
    const char *skipped; /* why the current mechanic did not run (campaign, control); points
                            into skip_buf or at a static string */
    char skip_buf[160];
    char reason[256]; /* reason(): why the current mechanic gave nothing, or "" */
    char reply_err[256];
    int closing;                /* a period close (closes.c): m is nil, send() allowed */
    const luart_mechanic *only; /* when closing: the one mechanic to run */
};

/* The run a Lua thread belongs to (kept in the thread's extra space), or NULL. */
static inline mech_run *luart_run_of(lua_State *L)
{
    return *(mech_run **)lua_getextraspace(L);
}

/*
 * One part of the API, by subject. add_globals adds its functions to the API
 * table at the top of the stack; add_methods adds its member methods to the
 * methods table at the top. Either may be NULL.
 */
typedef struct luart_part {
    void (*add_globals)(lua_State *L);
    void (*add_methods)(lua_State *L);
} luart_part;

/* ---- api_base.c ---- */

/* The running event's context; raises a Lua error outside an event. */
mech_run *luart_running(lua_State *L);

/* A checked name argument (1-64 of a-z 0-9 _ . -); raises otherwise. */
const char *luart_check_name(lua_State *L, int arg, const char *what);

/* A checked whole, non-negative amount argument; raises otherwise. */
int64_t luart_check_amount(lua_State *L, int arg);

/*
 * The length of the list at idx (its __len, if any), refused past
 * LUART_LIST_MAX: the loops over declared lists run in C, out of the hook's
 * sight, so a lying __len must not make them endless.
 */
#define LUART_LIST_MAX 100
lua_Integer luart_list_len(lua_State *L, int idx, const char *what);

/* 1 when s[0..len) is UTF-8 as JSON needs it (no overlong forms, no surrogates). */
int luart_utf8_valid(const char *s, size_t len);

/*
 * Stops the run for good (as a budget would: pcall cannot catch it) when
 * adding more_outcomes outcomes and more_keys shared keys would pass the
 * run's per-event caps; the event then fails with 422 event_too_large.
 */
void luart_check_caps(lua_State *L, mech_run *run, size_t more_outcomes, size_t more_keys);

/* Raises "out of memory". */
int luart_oom(lua_State *L);

/* Records outcome o (stolen; NULL means out of memory) for the running mechanic; raises on OOM. */
void luart_outcome(lua_State *L, mech_run *run, json_t *o);

/*
 * Asks the engine for a global operation (op, args stolen) and yields; the
 * mechanic resumes in k, or with the answer as a Lua value when k is NULL.
 * Only from a C function called by a mechanic: returns what lua_yieldk returns.
 */
int luart_global_call(lua_State *L, const char *op, json_t *args, lua_KFunction k);

/* In a continuation: pushes the engine's answer as a Lua value, or raises its error. */
mech_run *luart_take_reply(lua_State *L);

/* Refuses keys of the options table at idx not in allowed (NULL-terminated). */
void luart_opt_check(lua_State *L, int idx, const char *what, const char *const *allowed);

/* Pushes options[name] and returns its type; pushes nothing when there is no table. */
int luart_opt_type(lua_State *L, int idx, const char *name);

/* A string option (valid while the options table lives), or def. */
const char *luart_opt_str(lua_State *L, int idx, const char *name, const char *def);

/* The option tz, checked to be a known time zone; the program's (luart_program_tz) by default. */
const char *luart_opt_tz(lua_State *L, int idx);

/* The program's time zone (`timezone "Europe/Paris"` at a file's top level), else "UTC". */
const char *luart_program_tz(lua_State *L);

/* The member's time zone (attribute tz), else the program's. */
const char *luart_member_tz(lua_State *L, const mech_run *run);

/* The rank of tier in the set's `tiers {...}` (0 = lowest), or -1 when unknown. */
int luart_tier_rank(const mechset *set, const char *tier);

/* ---- the parts of the API (listed in mechset.c) ---- */

/* api.c: mechanic(), prize(), message(), global_count(); balances, counters, badges, tier. */
void luart_core_globals(lua_State *L);
void luart_core_methods(lua_State *L);
/* api_money.c: currencies, tiers, reject(), discount(), utc(); earn, spend, windows, dates. */
void luart_money_globals(lua_State *L);
void luart_money_methods(lua_State *L);
/* api_game.c: global_add(); streaks, levelled badges, draws, budgets, scores, referrals. */
void luart_game_globals(lua_State *L);
void luart_game_methods(lua_State *L);

/* api_close.c: global_value(), board_top(), board_rank(), send(). */
void luart_close_globals(lua_State *L);
/* 1 when type is "period_end:<day|week|month|year>" (*per, when not NULL, gets the period). */
int luart_close_type(const char *type, int *per);
/* Raises when the declaration at spec of a period_end mechanic has active, control or experiment.
 */
void luart_close_check(lua_State *L, int spec, const char *name);

/* api.c: creates the member userdata with the methods of the n parts; its registry reference. */
int luart_member_ref(lua_State *L, const luart_part *parts, size_t n);

/* api.c: pushes the event as a Lua table. */
void luart_push_event(lua_State *L, const pc_event *ev);

/* api.c: turns the values a run returned (stack from base to top) into outcomes; raises. */
void luart_collect_outcomes(lua_State *L, int base, mech_run *run);

/*
 * api_campaign.c: with the run function at the top of the stack and the
 * mechanic's declaration table at spec, replaces run by a wrapper when the
 * declaration has `active` (a campaign window) or `control` (a hold-out
 * percentage); checks both, raising on bad input.
 */
void luart_campaign_wrap(lua_State *L, int spec, const char *name);

/* api_campaign.c: a date (local midnight in tz) or an RFC 3339 time -> *ms; 0, or -1. */
int luart_parse_when(const char *s, const char *tz, int64_t *ms);

/* api_campaign.c: a time as reasons show it, "2026-12-01 00:00 Europe/Paris" (into out). */
void luart_when_text(int64_t ms, const char *tz, char *out, size_t n);

/* api_offers.c: offer "name" {...}, m:redeem_code(), m:issue_code() (docs/mechanics.md, "Offers
 * and promo codes"). */
void luart_offers_globals(lua_State *L);
void luart_offers_methods(lua_State *L);

/* api_campaign.c: experiment "name" {control =, spend =}, the program-wide control groups. */
void luart_campaign_globals(lua_State *L);

/* The group ("control" or "treatment", static) of member in experiment exp holding out control
 * per ten thousand: a keyed hash of both, so every mechanic of the experiment agrees. */
const char *luart_experiment_group(const char *exp, int64_t control, const char *member);

/* ---- sandbox.c ---- */

/*
 * A new state whose allocator counts against set->lim.memory, with the safe
 * libraries and an API table filled by the globals of the n parts. NULL when
 * out of memory.
 */
lua_State *luart_new_state(mechset *set, const luart_part *parts, size_t n);
/* Closes set->L (luart_new_state's) and frees the blocks its allocator kept. */
void luart_close_state(mechset *set);

/* Pushes a fresh _ENV for one file: reads fall through to the frozen API. */
void luart_push_env(lua_State *L);

/* Arms the instruction budget and deadline of run on its thread; disarms with 0. */
void luart_arm(mech_run *run, int on);

/*
 * Charges cost instructions of work done in C to the run of L's thread (none
 * outside a run), and raises the kill when the budget or (for a cost of
 * LUART_HOOK_EVERY or more) the deadline is passed. For library and API
 * functions whose work no hook sees.
 */
void luart_charge(lua_State *L, uint64_t cost);

/* ---- pattern.c ---- */

/* Sets find, match, gmatch and gsub, metered, in the string table at the top of the stack. */
void luart_open_patterns(lua_State *L);

/* Text for why run->killed stopped the script. */
const char *luart_kill_reason(const mech_run *run);

#endif
