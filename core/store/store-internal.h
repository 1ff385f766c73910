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

/*
 * A server-side Lua script, embedded at build time from core/store/scripts/NAME.lua
 * (store-scripts-gen.h declares one store_script_NAME per file). The store
 * loads every one of them on connect.
 */
typedef struct store_script {
    const char *name;
    const char *body;
    char sha[41]; /* SHA-1 of body, computed by the build */
} store_script;

typedef void store_reply_fn(redisReply *reply, const char *err, void *arg);

/*
 * Sends one command. On a store that is not connected, calls back at once with
 * an error ("redis unavailable") and returns -1; otherwise returns 0.
 */
int store_command(store *s, store_reply_fn *fn, void *arg, int argc, const char **argv,
                  const size_t *argvlen);

/*
 * EVALSHA script with nkeys keys followed by args in argv: the one way a
 * script runs. Should Redis answer NOSCRIPT (SCRIPT FLUSH by an operator, a
 * restarted server), the scripts are loaded again and the call is sent once
 * more; fn sees the reply of that second try. Like store_command(), fn may be
 * called before this returns.
 */
int store_eval(store *s, const store_script *script, store_reply_fn *fn, void *arg, int nkeys,
               int argc, const char **argv, const size_t *argvlen);

#endif
