/*
 * Shared by punch's subcommands: a session is the very engine punchd runs
 * (store, mechanics, engine) on a private loop, driven with blocking calls,
 * on a virtual clock, against --redis or a throwaway redis-server. Every
 * read goes through the engine's queries (punchcard/query.h); the answers
 * are the HTTP API's bodies, errors included. (session.c)
 */
#ifndef PUNCHCARD_CLI_H
#define PUNCHCARD_CLI_H

#include "punchcard/engine.h"
#include "cli/tmpredis-internal.h"

#include <event2/event.h>

typedef struct session {
    struct event_base *base;
    store *store;
    tmpredis redis; /* used when no --redis was given */
    int own_redis;
    mech_holder *holder; /* NULL until session_load() */
    engine *engine;
    char ns[64];
    int64_t now_ms; /* the virtual clock */
    int no_figures; /* engines skip the program's figures and expiry schedule (simulate) */
    mech_limits lim;
} session;

/* The virtual clock as an engine/sweeper clock function: arg is the session. */
int64_t session_clock(void *arg);

/*
 * Connects to redis_addr, or starts a throwaway server when it is NULL. 0 or -1.
 * redis_addr "cluster:HOST:PORT[,HOST:PORT...]" is a Redis Cluster's seeds
 * (session_cluster_addr() writes it).
 */
int session_open(session *s, const char *redis_addr);

/* "cluster:SEEDS" for session_open(), for --redis-cluster SEEDS (a static buffer). */
const char *session_cluster_addr(const char *seeds);
void session_close(session *s);

/*
 * Loads a scripts folder (watching it when watch is set) and builds the engine
 * on namespace ns. May be called again to switch folder or namespace.
 */
int session_load(session *s, const char *dir, const char *ns, int watch);

/* Applies an event (JSON object, borrowed) and waits. *body: new reference. */
int session_send(session *s, json_t *event, json_t **body);

/* session_send() with engine flags (ENGINE_DRY_RUN, ENGINE_EXPLAIN). */
int session_send_flags(session *s, json_t *event, int flags, json_t **body);

/* GET /v1/members/{id}, waiting. */
int session_member(session *s, const char *member, json_t **body);

/* GET /v1/members/{id}/ledger, waiting. */
int session_ledger(session *s, const char *member, int limit, json_t **body);

/*
 * The promise of the ledger: for every member of the namespace, each balance
 * equals the sum of its ledger's deltas (and each pending balance the sum of
 * its pending). 0, or -1 with the first mismatch in err.
 */
int session_check_ledgers(session *s, char *err, size_t errlen);

/*
 * A draw (GET /v1/draws/{name}) and a leaderboard's top and a member's rank
 * (GET /v1/leaderboards/{name}), for the period that holds the session's
 * clock unless period is given; member and period may be NULL. 404 when
 * nothing was drawn in the draw or scored on the board yet.
 */
int session_draw(session *s, const char *name, json_t **body);
/* An offer (GET /v1/offers/{name}), or every offer when name is NULL (GET /v1/offers). */
int session_offers(session *s, const char *name, json_t **body);
int session_leaderboard(session *s, const char *name, int top, const char *member,
                        const char *period, json_t **body);

/* GET /v1/experiments/{name}, waiting. */
int session_experiment(session *s, const char *name, json_t **body);

/* A global counter: {"counter", "value"}, waiting. */
int session_counter(session *s, const char *name, json_t **body);

/* How many members have something due (expiry, release, wake) by the clock; -1 on failure. */
long long session_count_due(session *s);

/* Deletes every key of the session's namespace, waiting. 0 or -1. */
int session_wipe(session *s);

/*
 * Moves *at_ms on by a duration as mechanics write it ("1d12h", "9mo", "1y";
 * months are calendar months, docs/mechanics.md). 0, or -1 when malformed.
 */
int cli_advance(int64_t *at_ms, const char *span);

/* The subcommands: each returns the process exit status. */
int cmd_test(int argc, char **argv);        /* spec.c */
int cmd_repl(int argc, char **argv);        /* repl.c */
int cmd_simulate(int argc, char **argv);    /* simulate.c */
int cmd_send(int argc, char **argv);        /* client.c */
int cmd_member(int argc, char **argv);      /* client.c */
int cmd_mechanics(int argc, char **argv);   /* client.c */
int cmd_draw(int argc, char **argv);        /* client.c */
int cmd_leaderboard(int argc, char **argv); /* client.c */
int cmd_import(int argc, char **argv);      /* import.c */

#endif
