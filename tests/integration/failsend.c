/*
 * Loaded into punchd (LD_PRELOAD) by test_server_edges: hiredis refuses to
 * send a command whose text holds $PUNCH_FAIL_SEND, as it does when memory
 * runs out, so the store fails that command before store_send() returns.
 * Redis and punchd are real; only this one failure is made up, because a
 * real Redis never fails a command synchronously on a live connection.
 */
#include <dlfcn.h>
#include <hiredis/async.h>
#include <stdlib.h>
#include <string.h>

typedef int send_fn(redisAsyncContext *, redisCallbackFn *, void *, const char *, size_t);

int redisAsyncFormattedCommand(redisAsyncContext *ac, redisCallbackFn *fn, void *privdata,
                               const char *cmd, size_t len);

int redisAsyncFormattedCommand(redisAsyncContext *ac, redisCallbackFn *fn, void *privdata,
                               const char *cmd, size_t len)
{
    const char *needle = getenv("PUNCH_FAIL_SEND");
    send_fn *real;
    if (needle && *needle && memmem(cmd, len, needle, strlen(needle)))
        return REDIS_ERR;
    *(void **)&real = dlsym(RTLD_NEXT, "redisAsyncFormattedCommand");
    return real ? real(ac, fn, privdata, cmd, len) : REDIS_ERR;
}
