/*
 * The Redis connection of one event loop: hiredis async on libevent, with the
 * connect and command timeouts hiredis 0.14 lacks, reconnect with backoff, and
 * EVALSHA of the server-side scripts with a fall-back to EVAL after NOSCRIPT.
 *
 * A store never blocks. Every command's callback is called exactly once: with
 * the reply, or with reply == NULL and an error text (not connected, timeout,
 * connection lost). The reply is owned by hiredis and valid only during the call.
 */
#ifndef PUNCHCARD_STORE_H
#define PUNCHCARD_STORE_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

typedef struct store store;

typedef struct store_config {
    const char *addr; /* "host:port", or a Unix socket path (contains '/') */
    int timeout_ms;   /* connect and command timeout; 0 = 2000 */
} store_config;

/* A server-side Lua script; sha is filled by store_script_init(). */
typedef struct store_script {
    const char *name;
    const char *body;
    char sha[41];
} store_script;

typedef void store_reply_fn(redisReply *reply, const char *err, void *arg);

/* Creates a store on base and starts connecting. Returns NULL on a bad address. */
store *store_new(struct event_base *base, const store_config *cfg);

/* Closes the connection; pending callbacks are called with an error first. */
void store_free(store *s);

/* 1 when connected and ready for commands. */
int store_ready(const store *s);

/*
 * Sends one command. On a store that is not connected, calls back at once with
 * an error ("redis unavailable") and returns -1; otherwise returns 0.
 */
int store_command(store *s, store_reply_fn *fn, void *arg, int argc, const char **argv,
                  const size_t *argvlen);

/*
 * Registers a script: fills script->sha and loads it on every (re)connect, ahead
 * of any command, so EVALSHA finds it. script must outlive the store.
 */
int store_add_script(store *s, store_script *script);

/*
 * EVALSHA script with nkeys keys followed by args in argv. Should Redis answer
 * NOSCRIPT anyway (SCRIPT FLUSH by an operator), the scripts are loaded again
 * and this one call fails with an error the caller may retry.
 */
int store_eval(store *s, store_script *script, store_reply_fn *fn, void *arg, int nkeys, int argc,
               const char **argv, const size_t *argvlen);

/* The loop the store runs on. */
struct event_base *store_base(const store *s);

/* Counts for /metrics and tests. */
typedef struct store_stats {
    uint64_t commands, errors, timeouts, reconnects;
} store_stats;
void store_get_stats(const store *s, store_stats *out);

#endif
