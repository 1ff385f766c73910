/*
 * The Lua bindings punch repl and punch test share (luabind.c): a helper Lua
 * state (not the sandbox the mechanics run in) whose functions send an event
 * through a session's engine, read a member, its ledger, a draw or a
 * leaderboard, and move the session's virtual clock.
 *
 * Both front ends call the very same functions, so an event typed at the
 * prompt and the same event in a spec reach the engine alike. What a binding
 * gives back to Lua is the front end's own: the REPL prints the answer and
 * returns it; the spec runner returns it for assertions. A front end says so
 * with one function, luabind_front.answer.
 */
#ifndef PUNCHCARD_CLI_LUABIND_INTERNAL_H
#define PUNCHCARD_CLI_LUABIND_INTERNAL_H

#include "cli.h"

#include <lua.h>

/* Which binding answers. */
typedef enum luabind_call {
    LUABIND_SEND,
    LUABIND_MEMBER,
    LUABIND_LEDGER,
    LUABIND_DRAW,
    LUABIND_BOARD,
    LUABIND_EXPERIMENT,
    LUABIND_OFFER,
} luabind_call;

/* An engine's answer, as a binding hands it to its front end; everything in it is borrowed. */
typedef struct luabind_answer {
    luabind_call call;
    /* The member, draw or leaderboard asked about; for a send, the event's member when it is a
     * valid id, else NULL. */
    const char *subject;
    int status;    /* an HTTP status */
    json_t *body;  /* the answer, or {"error": ...} */
    json_t *value; /* what a successful call returns: the body, or a ledger's entries */
} luabind_answer;

typedef struct luabind luabind;

/* What a front end does with the bindings' answers. */
typedef struct luabind_front {
    /*
     * Pushes what the binding returns to Lua for answer a and returns how
     * many values it pushed; or returns -1 with a message in err, which the
     * binding raises as a Lua error (after dropping the body).
     */
    int (*answer)(lua_State *L, luabind *b, const luabind_answer *a, char *err, size_t errlen);
    /* The clock was set or moved (NULL: nothing to do). The REPL sweeps what fell due. */
    void (*clock_moved)(luabind *b);
} luabind_front;

struct luabind {
    session *s;                 /* borrowed: its engine answers, its clock is the virtual time */
    const luabind_front *front; /* borrowed, static */
    void *owner;                /* the front end's own state (a repl, a spec run) */
    /*
     * How send's table becomes an event. Set: the table is the event as is
     * ({type=, member=, id=, at=, data=}; the engine refuses what is not an
     * event field). Clear: the REPL's shorthand (fields but id, type, member,
     * at and data go into data, dry_run=true is the dry-run flag, a member
     * left out is the last one named, an id left out is id_prefix + a count).
     */
    int event_as_is;
    int send_flags;        /* engine flags of every send (ENGINE_EXPLAIN), plus dry_run's */
    const char *id_prefix; /* borrowed; shorthand ids, "" when NULL */
    long seq;              /* shorthand ids made so far */
    char last_member[PC_ID_MAX + 1]; /* shorthand: the last member an event or member() named */
};

/*
 * A new Lua state for b (base, string, table, math and utf8 libraries; no
 * io, os or require) whose bindings find b through luabind_of(). NULL when
 * out of memory. The caller closes it with lua_close(); b must outlive it.
 */
lua_State *luabind_newstate(luabind *b);

/* The luabind a state of luabind_newstate() was made for. */
luabind *luabind_of(lua_State *L);

/*
 * Sets the bindings as globals, each name after prefix: send, member,
 * ledger, draw, leaderboard, experiment, clock, advance. The REPL gives "" (they are its
 * commands), the spec runner "_" (its Lua assertion API calls them).
 *
 *   send(table)                          -> the front end's answer to the event
 *   member([id])                         -> GET /v1/members/{id}; id defaults to last_member
 *   ledger([id [, n]])                   -> the n newest entries (20; 1-1000)
 *   draw(name)                           -> the draw's pools in the clock's period
 *   leaderboard(name [, top [, member [, period]]])   -> top (10) and member's rank
 *   experiment(name)                     -> GET /v1/experiments/{name}: groups and lift
 *   clock([time])                        -> sets the clock (a bare date is its midnight UTC);
 *                                           returns it as RFC 3339
 *   advance(duration)                    -> moves the clock ("1d12h"); returns it
 */
void luabind_register(lua_State *L, const char *prefix);

/* Pushes a send whose events have that type (the REPL's order{...} for type "order"). */
void luabind_push_sender(lua_State *L, const char *type);

/*
 * A message handler for lua_pcall: leaves the error's message alone (a
 * binding's or an assertion's message already says where), or says what
 * kind of value was raised instead of a string.
 */
int luabind_msgh(lua_State *L);

/* The name of a binding, for messages: "send", "member", ... */
const char *luabind_call_name(luabind_call call);

#endif
