/*
 * punchd's listening sockets (server.h): binding TCP and Unix sockets, the
 * claim that keeps a second punchd off a port this one serves, and the pause
 * in accepting when accept() fails (a full fd table) instead of a busy loop.
 */
#include "server.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define ACCEPT_PAUSE_MS     200
#define ACCEPT_LOG_EVERY_MS 10000
#define MAX_LISTENERS       130

/* What a listener that failed to accept needs to resume: its own timer. */
typedef struct paused {
    struct evconnlistener *l;
    struct event *resume;
} paused;

static paused listeners[MAX_LISTENERS];
static int nlisteners;
static pthread_mutex_t listeners_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_ulong accept_errors;
static _Atomic int64_t last_log_ms;
static atomic_ulong unlogged;
static int claim_fd = -1; /* held for the life of the process */

/* "HOST:PORT" as a socket address; port 0 (any) allowed. 0, or -1. */
static int parse_addr(const char *listen, int port_override, struct sockaddr_storage *ss,
                      int *sslen, int *any_port)
{
    char addr[300];
    size_t alen;
    if (port_override > 0) {
        const char *colon = strrchr(listen, ':');
        snprintf(addr, sizeof addr, "%.*s:%d", colon ? (int)(colon - listen) : (int)strlen(listen),
                 listen, port_override);
    } else {
        snprintf(addr, sizeof addr, "%s", listen);
    }
    /* libevent refuses port 0; parse with port 1 and clear it, so the kernel picks one. */
    alen = strlen(addr);
    *any_port = alen > 2 && strcmp(addr + alen - 2, ":0") == 0;
    if (*any_port)
        addr[alen - 1] = '1';
    *sslen = sizeof *ss;
    if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)ss, sslen))
        return -1;
    if (*any_port) {
        if (ss->ss_family == AF_INET6)
            ((struct sockaddr_in6 *)ss)->sin6_port = 0;
        else
            ((struct sockaddr_in *)ss)->sin_port = 0;
    }
    return 0;
}

int listen_claim(const char *listen)
{
    struct sockaddr_storage ss;
    struct sockaddr_un lock = {.sun_family = AF_UNIX};
    int sslen, any_port, probe, one = 1, n;

    if (parse_addr(listen, 0, &ss, &sslen, &any_port)) {
        pc_log(PC_LOG_ERROR, "bad --listen address %s", listen);
        return -1;
    }
    if (any_port)
        return 0; /* the kernel picks a port nobody holds */
    /*
     * The workers share the port with SO_REUSEPORT, which would let another
     * punchd (same user) bind it too and take half the connections. One
     * process per address: an abstract Unix socket named after it, which the
     * kernel frees when this process ends, however it ends.
     */
    n = snprintf(lock.sun_path + 1, sizeof lock.sun_path - 1, "punchd-listen:%s", listen);
    if (claim_fd < 0)
        claim_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (claim_fd < 0 || bind(claim_fd, (struct sockaddr *)&lock,
                             (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n))) {
        pc_log(PC_LOG_ERROR, "another punchd already listens on %s", listen);
        return -1;
    }
    /*
     * Anyone else (another program, or a punchd in another network namespace
     * of the host): a bind without SO_REUSEPORT fails while anybody listens.
     */
    probe = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0)
        return -1;
    setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(probe, (struct sockaddr *)&ss, (socklen_t)sslen)) {
        if (errno == EADDRINUSE)
            pc_log(PC_LOG_ERROR, "another punchd or program already listens on %s", listen);
        else
            pc_log(PC_LOG_ERROR, "cannot listen on %s: %s", listen, strerror(errno));
        close(probe);
        return -1;
    }
    close(probe);
    return 0;
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    paused *p = arg;
    evconnlistener_enable(p->l);
}

/*
 * accept() failed with something other than "try again": most often the fd
 * table is full (EMFILE, ENFILE). libevent would retry at once, forever, and
 * log each failure; instead the listener rests ACCEPT_PAUSE_MS while the
 * open connections are served (and close), and one line is logged per
 * ACCEPT_LOG_EVERY_MS. Called on the listener's own loop.
 */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
    int err = errno;
    struct timeval tv = {0, ACCEPT_PAUSE_MS * 1000};
    int64_t now = pc_mono_ms(), last = atomic_load(&last_log_ms);
    paused *p = NULL;

    atomic_fetch_add(&accept_errors, 1);
    pthread_mutex_lock(&listeners_lock);
    for (int i = 0; i < nlisteners; i++)
        if (listeners[i].l == l)
            p = &listeners[i];
    pthread_mutex_unlock(&listeners_lock);
    if ((last == 0 || now - last >= ACCEPT_LOG_EVERY_MS) &&
        atomic_compare_exchange_strong(&last_log_ms, &last, now)) {
        unsigned long more = atomic_exchange(&unlogged, 0);
        pc_log(PC_LOG_WARN,
               "accept(): %s; not accepting for %d ms at a time, serving the open connections "
               "(%lu more since the last such line)",
               strerror(err), ACCEPT_PAUSE_MS, more);
    } else {
        atomic_fetch_add(&unlogged, 1);
    }
    if (p && p->resume) {
        evconnlistener_disable(l);
        evtimer_add(p->resume, &tv);
    }
}

int listen_watch(struct evconnlistener *l)
{
    paused *p;
    pthread_mutex_lock(&listeners_lock);
    if (nlisteners == MAX_LISTENERS) {
        pthread_mutex_unlock(&listeners_lock);
        return -1;
    }
    p = &listeners[nlisteners++];
    p->l = l;
    p->resume = evtimer_new(evconnlistener_get_base(l), on_resume, p);
    pthread_mutex_unlock(&listeners_lock);
    if (!p->resume)
        return -1;
    evconnlistener_set_error_cb(l, on_accept_error);
    return 0;
}

void listen_unwatch_all(void)
{
    pthread_mutex_lock(&listeners_lock);
    for (int i = 0; i < nlisteners; i++) {
        if (listeners[i].resume)
            event_free(listeners[i].resume);
        listeners[i].resume = NULL;
    }
    nlisteners = 0;
    pthread_mutex_unlock(&listeners_lock);
}

uint64_t listen_accept_errors(void)
{
    return atomic_load(&accept_errors);
}

struct evconnlistener *listen_tcp(struct event_base *base, const char *listen, int port_override,
                                  int *port_out)
{
    struct sockaddr_storage ss;
    int sslen, any_port;
    struct evconnlistener *l;

    if (parse_addr(listen, port_override, &ss, &sslen, &any_port)) {
        pc_log(PC_LOG_ERROR, "bad --listen address %s", listen);
        return NULL;
    }
    l = evconnlistener_new_bind(base, NULL, NULL,
                                LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_FREE |
                                    LEV_OPT_CLOSE_ON_EXEC,
                                1024, (struct sockaddr *)&ss, sslen);
    if (!l) {
        pc_log(PC_LOG_ERROR, "cannot listen on %s: %s", listen, strerror(errno));
        return NULL;
    }
    if (port_out) {
        struct sockaddr_storage got;
        socklen_t gl = sizeof got;
        getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&got, &gl);
        *port_out = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                                    : ((struct sockaddr_in *)&got)->sin_port);
    }
    return l;
}

int listen_unix(struct evhttp *http, const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct evhttp_bound_socket *bound;
    int fd;
    if (strlen(path) >= sizeof sa.sun_path) {
        pc_log(PC_LOG_ERROR, "--unix path too long");
        return -1;
    }
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    unlink(path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 1024)) {
        pc_log(PC_LOG_ERROR, "cannot listen on %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    chmod(path, 0660);
    if (!(bound = evhttp_accept_socket_with_handle(http, fd))) {
        close(fd);
        return -1;
    }
    return listen_watch(evhttp_bound_socket_get_listener(bound));
}
