/*
 * Private to core/store: the command path under the store's typed
 * operations. Every command's callback is called exactly once: with the
 * reply, or with reply == NULL and an error text (not connected, timeout,
 * connection lost). The reply is owned by hiredis and valid only during the
 * call. Nothing outside core/store/ may include this header: the rest of the
 * tree never sees a redisReply.
 */
#ifndef PUNCHCARD_STORE_INTERNAL_H
#define PUNCHCARD_STORE_INTERNAL_H

#include "punchcard/store.h"

#include <hiredis/hiredis.h>

/* A server-side Lua script; sha is filled by store_script_init(). */
typedef struct store_script {
    const char *name;
    const char *body;
    char sha[41];
} store_script;

typedef void store_reply_fn(redisReply *reply, const char *err, void *arg);

typedef void store_reply_fn(redisReply *reply, const char *err, void *arg);

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

#endif
