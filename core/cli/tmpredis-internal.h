/*
 * A private, throwaway redis-server for punch and the tests: started on a Unix
 * socket in a fresh temporary folder, stopped and removed at the end. Blocking
 * calls; never used on punchd's event path.
 */
#ifndef PUNCHCARD_TMPREDIS_H
#define PUNCHCARD_TMPREDIS_H

#include <sys/types.h>

typedef struct tmpredis {
    char dir[256];    /* the temporary folder (data, socket, log) */
    char socket[300]; /* dir/redis.sock */
    pid_t pid;        /* 0 when stopped */
    int appendonly;   /* start with AOF (appendfsync always), so a restart keeps the data */
} tmpredis;

/* Makes the folder and starts redis-server; waits (bounded) until it answers. 0 or -1. */
int tmpredis_start(tmpredis *r, int appendonly);

/* Stops the server (SIGTERM, then waits), keeping the folder for a restart. */
void tmpredis_stop(tmpredis *r);

/* Starts the server again in the same folder, on the same socket. 0 or -1. */
int tmpredis_restart(tmpredis *r);

/* Stops the server and removes the folder. */
void tmpredis_destroy(tmpredis *r);

#endif
