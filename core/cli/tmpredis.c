/*
 * Throwaway redis-server processes for punch and the tests (tmpredis.h).
 */
#include "cli/tmpredis-internal.h"
#include "punchcard/common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int ping_socket(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char buf[16];
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), ok = 0;
    if (fd < 0)
        return 0;
    if (strlen(path) >= sizeof sa.sun_path) {
        close(fd);
        return 0;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && write(fd, "PING\r\n", 6) == 6 &&
        read(fd, buf, sizeof buf) >= 5)
        ok = strncmp(buf, "+PONG", 5) == 0;
    close(fd);
    return ok;
}

static int spawn(tmpredis *r)
{
    char log[320];
    pid_t pid, parent;

    snprintf(log, sizeof log, "%s/redis.log", r->dir);
    parent = getpid();
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        /* Should the parent die without stopping it (a crash, SIGKILL), so does the server. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) || getppid() != parent)
            _exit(126);
        /*
         * A process group of its own: Ctrl-C at a terminal signals the
         * foreground group (punch repl, stopping a runaway line), not this server.
         */
        setpgid(0, 0);
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", r->socket,
               "--unixsocketperm", "700", "--dir", r->dir, "--logfile", log, "--save", "",
               "--appendonly", r->appendonly ? "yes" : "no", "--appendfsync", "always",
               "--daemonize", "no", (char *)NULL);
        _exit(127);
    }
    r->pid = pid;
    for (int i = 0; i < 500; i++) { /* up to 5 s */
        int st;
        if (ping_socket(r->socket))
            return 0;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            r->pid = 0;
            pc_log(PC_LOG_ERROR, "redis-server exited at start (is it installed? see %s)", log);
            return -1;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    pc_log(PC_LOG_ERROR, "redis-server did not answer within 5 s");
    tmpredis_stop(r);
    return -1;
}

int tmpredis_start(tmpredis *r, int appendonly)
{
    const char *tmp = getenv("TMPDIR");
    memset(r, 0, sizeof *r);
    r->appendonly = appendonly;
    snprintf(r->dir, sizeof r->dir, "%s/punch-redis-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(r->dir))
        return -1;
    snprintf(r->socket, sizeof r->socket, "%s/redis.sock", r->dir);
    return spawn(r);
}

int tmpredis_restart(tmpredis *r)
{
    if (r->pid)
        return 0;
    return spawn(r);
}

void tmpredis_stop(tmpredis *r)
{
    int st;
    if (!r->pid)
        return;
    kill(r->pid, SIGTERM);
    for (int i = 0; i < 500; i++) {
        if (waitpid(r->pid, &st, WNOHANG) == r->pid) {
            r->pid = 0;
            return;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(r->pid, SIGKILL);
    waitpid(r->pid, &st, 0);
    r->pid = 0;
}

void tmpredis_destroy(tmpredis *r)
{
    DIR *d;
    struct dirent *de;
    tmpredis_stop(r);
    if (!r->dir[0])
        return;
    /* The folder holds only what redis-server wrote: files and appendonlydir/. */
    if ((d = opendir(r->dir))) {
        while ((de = readdir(d))) {
            char p[600];
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            snprintf(p, sizeof p, "%s/%s", r->dir, de->d_name);
            if (unlink(p) && errno == EISDIR) {
                DIR *sd = opendir(p);
                struct dirent *se;
                while (sd && (se = readdir(sd))) {
                    char q[900];
                    snprintf(q, sizeof q, "%s/%s", p, se->d_name);
                    unlink(q);
                }
                if (sd)
                    closedir(sd);
                rmdir(p);
            }
        }
        closedir(d);
    }
    rmdir(r->dir);
    r->dir[0] = '\0';
}
