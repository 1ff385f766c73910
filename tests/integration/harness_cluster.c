/*
 * A real local Redis Cluster for the tests (harness_cluster.h).
 */
#include "harness_cluster.h"
#include "harness.h"
#include "store/keys-internal.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* 1 when 127.0.0.1:port can be bound now. */
static int port_free(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* A free port whose cluster bus port (+10000) is free too, none of taken[0..n). */
static int free_port(const int *taken, int n)
{
    for (int attempt = 0; attempt < 200; attempt++) {
        struct sockaddr_in sa = {.sin_family = AF_INET};
        socklen_t len = sizeof sa;
        int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0, dup = 0;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
            getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
            port = ntohs(sa.sin_port);
        if (fd >= 0)
            close(fd);
        for (int i = 0; i < n; i++)
            dup |= taken[i] == port || taken[i] + 10000 == port || taken[i] == port + 10000;
        if (port > 1024 && port < 55000 && !dup && port_free(port + 10000))
            return port;
    }
    return -1;
}

static pid_t spawn_node(h_cluster *c, int i)
{
    char dir[300], port[16], log[340];
    pid_t parent = getpid(), pid;
    snprintf(dir, sizeof dir, "%s/n%d", c->dir, i);
    mkdir(dir, 0700);
    snprintf(port, sizeof port, "%d", c->port[i]);
    snprintf(log, sizeof log, "%s/redis.log", dir);
    pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
            _exit(126);
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
               "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
               "--cluster-node-timeout", "1000", "--dir", dir, "--logfile", log, "--save", "",
               "--appendonly", "no", "--daemonize", "no", (char *)NULL);
        _exit(127);
    }
    return pid;
}

redisContext *h_cluster_connect(h_cluster *c, int i)
{
    struct timeval tv = {1, 0};
    redisContext *rc = redisConnectWithTimeout("127.0.0.1", c->port[i], tv);
    if (rc && !rc->err) {
        redisSetTimeout(rc, tv);
        return rc;
    }
    if (rc)
        redisFree(rc);
    return NULL;
}

/* The text of a command's reply on node i (a status, string or error), malloc'd, or NULL. */
static char *ask_node(h_cluster *c, int i, const char *cmd)
{
    redisContext *rc = h_cluster_connect(c, i);
    redisReply *r;
    char *out = NULL;
    if (!rc)
        return NULL;
    r = redisCommand(rc, cmd);
    if (r && r->str)
        out = strdup(r->str);
    freeReplyObject(r);
    redisFree(rc);
    return out;
}

static int run_wait(char *const *argv, int timeout_ms)
{
    pid_t pid = fork();
    int st;
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 0);
        dup2(devnull, 1);
        execvp(argv[0], argv);
        _exit(127);
    }
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        nap_ms(20);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

int h_cluster_start(h_cluster *c)
{
    char addrs[H_CLUSTER_NODES][32];
    char *argv[H_CLUSTER_NODES + 8];
    int n = 0;

    memset(c, 0, sizeof *c);
    snprintf(c->dir, sizeof c->dir, "/tmp/punch-cluster-test-XXXXXX");
    if (!mkdtemp(c->dir))
        return -1;
    for (int i = 0; i < H_CLUSTER_NODES; i++) {
        if ((c->port[i] = free_port(c->port, i)) < 0 || (c->pid[i] = spawn_node(c, i)) < 0)
            goto err;
        snprintf(addrs[i], sizeof addrs[i], "127.0.0.1:%d", c->port[i]);
    }
    for (int i = 0; i < H_CLUSTER_NODES; i++) {
        char *pong = NULL;
        for (int t = 0; t < 250 && !(pong = ask_node(c, i, "PING")); t++)
            nap_ms(20);
        if (!pong)
            goto err;
        free(pong);
    }
    argv[n++] = "redis-cli";
    argv[n++] = "--cluster";
    argv[n++] = "create";
    for (int i = 0; i < H_CLUSTER_NODES; i++)
        argv[n++] = addrs[i];
    argv[n++] = "--cluster-replicas";
    argv[n++] = "1";
    argv[n++] = "--cluster-yes";
    argv[n] = NULL;
    if (run_wait(argv, 20000) != 0)
        goto err;
    snprintf(c->seeds, sizeof c->seeds, "%s,%s", addrs[0], addrs[1]);
    if (h_cluster_wait_ok(c, 1, 15000))
        goto err;
    return 0;
err:
    fprintf(stderr, "cluster did not come up (logs under %s)\n", c->dir);
    return -1;
}

/* Removes a folder tree two levels deep (the nodes' folders). */
static void rm_tree(const char *dir)
{
    for (int i = 0; i < H_CLUSTER_NODES; i++) {
        char sub[300];
        snprintf(sub, sizeof sub, "%s/n%d", dir, i);
        h_rm_dir(sub);
    }
    h_rm_dir(dir);
}

void h_cluster_stop(h_cluster *c)
{
    for (int i = 0; i < H_CLUSTER_NODES; i++)
        if (c->pid[i] > 0) {
            kill(c->pid[i], SIGKILL);
            waitpid(c->pid[i], NULL, 0);
            c->pid[i] = 0;
        }
    if (c->dir[0])
        rm_tree(c->dir);
    c->dir[0] = '\0';
}

void h_cluster_kill(h_cluster *c, int i)
{
    if (c->pid[i] <= 0)
        return;
    kill(c->pid[i], SIGKILL);
    waitpid(c->pid[i], NULL, 0);
    c->pid[i] = 0;
}

/* 1 when node i sees the cluster whole: state ok, every slot served, replicas when asked. */
static int node_ok(h_cluster *c, int i, int with_replicas)
{
    char *info = ask_node(c, i, "CLUSTER INFO"), *repl;
    int ok = info && strstr(info, "cluster_state:ok") &&
             strstr(info, "cluster_slots_assigned:16384") && strstr(info, "cluster_slots_ok:16384");
    free(info);
    if (!ok || !with_replicas)
        return ok;
    /* A master needs its replica; a replica its link to the master. */
    repl = ask_node(c, i, "INFO replication");
    ok = repl && (strstr(repl, "connected_slaves:1") || strstr(repl, "master_link_status:up"));
    free(repl);
    return ok;
}

int h_cluster_wait_ok(h_cluster *c, int with_replicas, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 50) {
        int ok = 1;
        for (int i = 0; i < H_CLUSTER_NODES && ok; i++)
            if (c->pid[i] > 0)
                ok = node_ok(c, i, with_replicas);
        if (ok)
            return 0;
        nap_ms(50);
    }
    fprintf(stderr, "cluster not ok after %d ms\n", timeout_ms);
    return -1;
}

/* The node serving slot, by CLUSTER NODES of a running node; -1 when unknown. */
static int master_of_slot(h_cluster *c, int slot)
{
    for (int i = 0; i < H_CLUSTER_NODES; i++) {
        char *nodes, *line, *save = NULL;
        int found = -1;
        if (c->pid[i] <= 0 || !(nodes = ask_node(c, i, "CLUSTER NODES")))
            continue;
        for (line = strtok_r(nodes, "\n", &save); line && found < 0;
             line = strtok_r(NULL, "\n", &save)) {
            char id[64], addr[64], flags[128];
            int port, pos = 0;
            const char *at;
            if (sscanf(line, "%63s %63s %127s %*s %*s %*s %*s %*s %n", id, addr, flags, &pos) < 3 ||
                !strstr(flags, "master") || strstr(flags, "fail") || !pos)
                continue;
            port = atoi(strchr(addr, ':') + 1);
            for (at = line + pos; *at;) {
                int from, to, used = 0;
                if (*at == '[')
                    break; /* migrating / importing marks come last */
                if (sscanf(at, "%d-%d%n", &from, &to, &used) == 2 && used) {
                } else if (sscanf(at, "%d%n", &from, &used) == 1) {
                    to = from;
                } else {
                    break;
                }
                if (slot >= from && slot <= to)
                    for (int k = 0; k < H_CLUSTER_NODES; k++)
                        if (c->port[k] == port)
                            found = k;
                at += used;
                while (*at == ' ')
                    at++;
            }
        }
        free(nodes);
        return found;
    }
    return -1;
}

int h_cluster_master_of(h_cluster *c, const char *key)
{
    return master_of_slot(c, keys_slot(key, strlen(key)));
}

/* CLUSTER MYID of node i into id (room 64). */
static int node_id(h_cluster *c, int i, char *id)
{
    char *s = ask_node(c, i, "CLUSTER MYID");
    if (!s)
        return -1;
    snprintf(id, 64, "%s", s);
    free(s);
    return 0;
}

int h_cluster_move_slot(h_cluster *c, const char *key, int to, int batch, void (*between)(void *),
                        void *arg)
{
    int slot = keys_slot(key, strlen(key)), from = master_of_slot(c, slot), rc = -1;
    char from_id[64], to_id[64];
    redisContext *src = NULL, *dst = NULL;
    redisReply *r;

    if (from < 0 || from == to || node_id(c, from, from_id) || node_id(c, to, to_id) ||
        !(src = h_cluster_connect(c, from)) || !(dst = h_cluster_connect(c, to)))
        goto out;
    freeReplyObject(redisCommand(dst, "CLUSTER SETSLOT %d IMPORTING %s", slot, from_id));
    freeReplyObject(redisCommand(src, "CLUSTER SETSLOT %d MIGRATING %s", slot, to_id));
    for (;;) {
        int n;
        r = redisCommand(src, "CLUSTER GETKEYSINSLOT %d %d", slot, batch);
        if (!r || r->type != REDIS_REPLY_ARRAY)
            goto out;
        n = (int)r->elements;
        for (int i = 0; i < n; i++) {
            redisReply *m = redisCommand(src, "MIGRATE 127.0.0.1 %d %s 0 5000 REPLACE", c->port[to],
                                         r->element[i]->str);
            if (!m || m->type == REDIS_REPLY_ERROR) {
                fprintf(stderr, "MIGRATE %s: %s\n", r->element[i]->str, m ? m->str : "no reply");
                freeReplyObject(m);
                freeReplyObject(r);
                goto out;
            }
            freeReplyObject(m);
        }
        freeReplyObject(r);
        if (!n)
            break;
        if (between)
            between(arg);
    }
    /* The new owner first, then the old, then everyone (as redis-cli does). */
    freeReplyObject(redisCommand(dst, "CLUSTER SETSLOT %d NODE %s", slot, to_id));
    freeReplyObject(redisCommand(src, "CLUSTER SETSLOT %d NODE %s", slot, to_id));
    for (int i = 0; i < H_CLUSTER_NODES; i++) {
        redisContext *o;
        if (c->pid[i] <= 0 || i == from || i == to || !(o = h_cluster_connect(c, i)))
            continue;
        freeReplyObject(redisCommand(o, "CLUSTER SETSLOT %d NODE %s", slot, to_id));
        redisFree(o);
    }
    rc = 0;
out:
    if (src)
        redisFree(src);
    if (dst)
        redisFree(dst);
    return rc;
}
