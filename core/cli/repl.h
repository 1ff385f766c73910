/*
 * punch repl, private to core/cli: the terminal side (repl.c: libedit, the
 * loop that runs while waiting for a key, completion, history, signals) and
 * the command side (replcmd.c: a helper Lua state with the bindings it shares
 * with punch test, luabind-internal.h, whose answers it prints readably).
 */
#ifndef PUNCHCARD_CLI_REPL_H
#define PUNCHCARD_CLI_REPL_H

#include "cli.h"
#include "cli/luabind-internal.h"
#include "punchcard/engine.h"

#include <lua.h>
#include <signal.h>

typedef struct repl {
    session s;
    sweeper *sweeper; /* expiry and releases of silent members, on the virtual clock */
    lua_State *L;
    luabind b; /* the state's bindings: on s, shown by replcmd.c, ids made with id_prefix */
    const char *scripts;
    int external_redis; /* --redis given: ids carry a run stamp, the namespace is kept */
    char **members;     /* member ids seen, for completion; owned */
    size_t nmembers;
    char id_prefix[40]; /* of the ids send makes up */
    char version[16];   /* mechanics version last announced */
    int at_prompt;      /* the line editor owns the screen: notices must redraw it */
    int need_redraw;
    int quit;
} repl;

/* Set by SIGINT; the Lua hook and the input wait check it. */
extern volatile sig_atomic_t repl_interrupted;

/* A sweeper on the session's engine and virtual clock, poked when the clock moves. */
sweeper *repl_sweeper_new(repl *r);

/* Creates r->L with the commands. 0 or -1. */
int replcmd_open(repl *r);
void replcmd_close(repl *r);

/*
 * Evaluates one chunk the user typed (an expression, whose values are
 * printed, or statements). Sets *incomplete when the chunk needs more lines.
 */
void replcmd_eval(repl *r, const char *chunk, int *incomplete);

/* Prints the banner: mechanics, redis, clock, how to start. */
void replcmd_banner(repl *r);

/* Remembers a member id for completion (the default member is r->b.last_member). */
void repl_note_member(repl *r, const char *id);

/*
 * Prints a notice that arrives by itself (a reload): at once, or, while the
 * line editor shows a half-typed line, above it, then redraws that line.
 */
void repl_notice(repl *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* How answers are shown (replprint.c). Bodies are borrowed. */
void replprint_response(int status, json_t *body); /* an event's answer, or an error */
void replprint_member(json_t *body);
void replprint_ledger(const char *id, json_t *body);
void replprint_mechanics(json_t *describe);
void replprint_draw(json_t *draw);
void replprint_board(json_t *board);
void replprint_json(json_t *v);                        /* compact, no newline */
const char *replprint_str(json_t *o, const char *key); /* the string at key, or "?" */

/* The names completion offers: commands, Lua globals, event types; a NULL-ended list the caller
 * frees. */
char **replcmd_names(repl *r);

#endif
