/*
 * Integration test harness (harness.h).
 */
#include "harness.h"
#include "harness_cluster.h"
#include "punchcard/common.h"

#include <curl/curl.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void h_tmp_stack_stop(tmpredis *r, punchd_proc *p, char **scripts)
{
    if (p->pid > 0)
        h_punchd_stop(p);
    if (r->dir[0])
        tmpredis_destroy(r);
    memset(r, 0, sizeof *r);
    if (scripts && *scripts) {
        h_rm_dir(*scripts);
        free(*scripts);
        *scripts = NULL;
    }
}

int h_tcp_connect(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
        close(fd);
        return -1;
    }
    return fd;
}

int h_server_socket(pid_t pid, int client, int *copy)
{
    struct sockaddr_in mine, peer;
    socklen_t len = sizeof mine;
    char path[64];
    int pfd, found = -1;
    DIR *d;
    struct dirent *e;
    if (copy)
        *copy = -1;
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    if (getsockname(client, (struct sockaddr *)&mine, &len) || !(d = opendir(path)))
        return -1;
    if ((pfd = pidfd_open(pid, 0)) < 0) {
        closedir(d);
        return -1;
    }
    while (found < 0 && (e = readdir(d))) {
        int fd = pidfd_getfd(pfd, atoi(e->d_name), 0);
        len = sizeof peer;
        if (fd < 0)
            continue;
        if (getpeername(fd, (struct sockaddr *)&peer, &len) == 0 && peer.sin_family == AF_INET &&
            peer.sin_port == mine.sin_port && peer.sin_addr.s_addr == mine.sin_addr.s_addr) {
            found = atoi(e->d_name);
            if (copy) {
                *copy = fd;
                continue;
            }
        }
        close(fd);
    }
    close(pfd);
    closedir(d);
    return found;
}

size_t h_http_answer_len(const char *buf, size_t len)
{
    const char *body = len >= 4 ? memmem(buf, len, "\r\n\r\n", 4) : NULL;
    size_t want = 0, head;
    if (!body)
        return 0;
    for (const char *h = buf; h && h < body; h = memmem(h + 1, (size_t)(body - h), "\r\n", 2))
        if (!strncasecmp(h + 2, "Content-Length:", 15))
            want = (size_t)strtoul(h + 17, NULL, 10);
    head = (size_t)(body + 4 - buf);
    return len >= head + want ? head + want : 0;
}

long long h_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int h_wait_until(int (*fn)(void *), void *arg, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        if (fn(arg))
            return 1;
        nap_ms(20);
    }
    return 0;
}

void h_write_file(const char *dir, const char *name, const char *text)
{
    char tmp[600], path[600];
    FILE *f;
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(tmp, "w");
    if (!f) {
        perror(tmp);
        abort();
    }
    fputs(text, f);
    fclose(f);
    rename(tmp, path);
}

char *h_scripts_copy(void)
{
    return h_dir_copy("scripts");
}

char *h_dir_copy(const char *rel)
{
    static char dir[256];
    char src[600];
    DIR *d;
    struct dirent *de;
    snprintf(dir, sizeof dir, "/tmp/punch-scripts-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    snprintf(src, sizeof src, "%s/%s", SOURCE_DIR, rel);
    d = opendir(src);
    while (d && (de = readdir(d))) {
        size_t n = strlen(de->d_name);
        char path[900];
        char *text;
        if (n < 5 || strcmp(de->d_name + n - 4, ".lua") || strstr(de->d_name, "_test.lua"))
            continue;
        snprintf(path, sizeof path, "%s/%s", src, de->d_name);
        text = pc_read_file(path, NULL);
        h_write_file(dir, de->d_name, text);
        free(text);
    }
    if (d)
        closedir(d);
    return strdup(dir);
}

void h_rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char p[600];
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

static int read_port(punchd_proc *p)
{
    char path[300];
    FILE *f;
    snprintf(path, sizeof path, "%s/port", p->dir);
    f = fopen(path, "r");
    if (!f)
        return 0;
    if (fscanf(f, "%d", &p->port) != 1)
        p->port = 0;
    fclose(f);
    return p->port > 0;
}

static int health_answers(void *arg)
{
    punchd_proc *p = arg;
    http_resp r;
    if (!p->port && !read_port(p))
        return 0;
    if (h_http(p->port, "GET", "/healthz", NULL, &r))
        return 0;
    h_resp_free(&r);
    return 1;
}

int h_punchd_nofile;

int h_punchd_start(punchd_proc *p, const char *redis, const char *scripts, const char *const *extra,
                   const char *env)
{
    const char *const envs[] = {env, NULL};
    return h_punchd_start_env(p, redis, scripts, extra, envs);
}

int h_punchd_start_env(punchd_proc *p, const char *redis, const char *scripts,
                       const char *const *extra, const char *const *env)
{
    char portfile[300];
    memset(p, 0, sizeof *p);
    snprintf(p->dir, sizeof p->dir, "/tmp/punchd-test-XXXXXX");
    if (!mkdtemp(p->dir))
        return -1;
    snprintf(portfile, sizeof portfile, "%s/port", p->dir);
    snprintf(p->log, sizeof p->log, "%s/punchd.log", p->dir);
    p->pid = fork();
    if (p->pid == 0) {
        const char *argv[40] = {
            PUNCHD_PATH, "--listen",  "127.0.0.1:0", "--port-file",        portfile, "--redis",
            redis,       "--scripts", scripts,       "--redis-timeout-ms", "1000"};
        int n = 11;
        for (int i = 0; extra && extra[i] && n < 38; i++)
            argv[n++] = extra[i];
        argv[n] = NULL;
        if (!freopen(p->log, "w", stderr))
            _exit(126);
        for (int i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        if (h_punchd_nofile > 0) {
            struct rlimit rl = {(rlim_t)h_punchd_nofile, (rlim_t)h_punchd_nofile};
            if (setrlimit(RLIMIT_NOFILE, &rl))
                _exit(125);
        }
        execv(PUNCHD_PATH, (char *const *)argv);
        _exit(127);
    }
    if (p->pid < 0)
        return -1;
    if (!h_wait_until(health_answers, p, 10000)) {
        fprintf(stderr, "punchd did not come up; log %s\n", p->log);
        return -1;
    }
    return 0;
}

int h_punchd_alive(punchd_proc *p)
{
    int st;
    return p->pid > 0 && waitpid(p->pid, &st, WNOHANG) == 0;
}

/* Removes what h_punchd_start made for p (log, port file, folder). */
static void punchd_cleanup(punchd_proc *p)
{
    char path[300];
    unlink(p->log);
    snprintf(path, sizeof path, "%s/port", p->dir);
    unlink(path);
    rmdir(p->dir);
}

int h_punchd_exited(punchd_proc *p)
{
    int st;
    if (p->pid <= 0 || waitpid(p->pid, &st, WNOHANG) != p->pid)
        return 0;
    p->pid = 0;
    punchd_cleanup(p);
    return 1;
}

int h_punchd_stop(punchd_proc *p)
{
    int st = 0;
    if (p->pid <= 0)
        return -1;
    kill(p->pid, SIGTERM);
    for (int i = 0; i < 500; i++) {
        if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
            p->pid = 0;
            goto out;
        }
        nap_ms(10);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &st, 0);
    p->pid = 0;
    st = -1;
out:
    punchd_cleanup(p);
    return st;
}

typedef struct buf {
    char *data;
    size_t len;
} buf;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
    buf *b = arg;
    size_t n = size * nmemb;
    b->data = realloc(b->data, b->len + n + 1);
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

static CURL *easy_for(int port, const char *method, const char *path, const char *body,
                      struct curl_slist *hdrs, buf *b)
{
    char url[600];
    CURL *c = curl_easy_init();
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    return c;
}

static void fill(http_resp *out, CURL *c, buf *b)
{
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    out->body = b->data ? b->data : strdup("");
    out->json = json_loads(out->body, 0, NULL);
}

int h_http_hdr(int port, const char *method, const char *path, const char *body, const char *header,
               http_resp *out)
{
    buf b = {0};
    /* A Content-Type given replaces the default. */
    struct curl_slist *hdrs = header && !strncasecmp(header, "Content-Type:", 13)
                                  ? NULL
                                  : curl_slist_append(NULL, "Content-Type: application/json");
    CURL *c;
    CURLcode rc;
    if (header)
        hdrs = curl_slist_append(hdrs, header);
    c = easy_for(port, method, path, body, hdrs, &b);
    memset(out, 0, sizeof *out);
    rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        fill(out, c, &b);
    else
        free(b.data);
    curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    return rc == CURLE_OK ? 0 : -1;
}

int h_http(int port, const char *method, const char *path, const char *body, http_resp *out)
{
    return h_http_hdr(port, method, path, body, NULL, out);
}

void h_resp_free(http_resp *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

long h_event(int port, const char *json, http_resp *out)
{
    if (h_http(port, "POST", "/v1/events", json, out))
        return -1;
    return out->status;
}

int h_http_parallel(int port, const char *path, const char *const *bodies, int n, http_resp *outs)
{
    CURLM *m = curl_multi_init();
    CURL **easies = calloc((size_t)n, sizeof *easies);
    buf *bufs = calloc((size_t)n, sizeof *bufs);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    int running = 0, rc = 0;

    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
    for (int i = 0; i < n; i++) {
        easies[i] = easy_for(port, "POST", path, bodies[i], hdrs, &bufs[i]);
        curl_easy_setopt(easies[i], CURLOPT_FORBID_REUSE, 1L);
        curl_multi_add_handle(m, easies[i]);
    }
    do {
        curl_multi_perform(m, &running);
        if (running)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    } while (running);
    for (int i = 0; i < n; i++) {
        memset(&outs[i], 0, sizeof outs[i]);
        fill(&outs[i], easies[i], &bufs[i]);
        if (outs[i].status == 0)
            rc = -1;
        curl_multi_remove_handle(m, easies[i]);
        curl_easy_cleanup(easies[i]);
    }
    curl_multi_cleanup(m);
    curl_slist_free_all(hdrs);
    free(easies);
    free(bufs);
    return rc;
}

long long h_ledger_sum(int port, const char *member, const char *currency, int *count)
{
    long long sum = 0;
    char path[600], cursor[64] = "";
    int n = 0;
    for (;;) {
        http_resp r;
        json_t *e, *next;
        size_t i;
        snprintf(path, sizeof path, "/v1/members/%s/ledger?limit=7%s%s", member,
                 cursor[0] ? "&cursor=" : "", cursor);
        if (h_http(port, "GET", path, NULL, &r) || r.status != 200 || !r.json) {
            h_resp_free(&r);
            return -1;
        }
        json_array_foreach(json_object_get(r.json, "entries"), i, e) {
            if (strcmp(json_string_value(json_object_get(e, "currency")), currency) == 0) {
                sum += json_integer_value(json_object_get(e, "delta"));
                n++;
            }
        }
        next = json_object_get(r.json, "next");
        if (!json_is_string(next)) {
            h_resp_free(&r);
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", json_string_value(next));
        h_resp_free(&r);
    }
    if (count)
        *count = n;
    return sum;
}

long long h_balance(int port, const char *member, const char *currency)
{
    http_resp r;
    char path[300];
    long long v = 0;
    snprintf(path, sizeof path, "/v1/members/%s", member);
    if (h_http(port, "GET", path, NULL, &r) == 0 && r.status == 200 && r.json)
        v = json_integer_value(json_object_get(json_object_get(r.json, "balances"), currency));
    h_resp_free(&r);
    return v;
}

/*
 * With PUNCH_TEST_CLUSTER=1 in the environment, a stack runs on a real local
 * Redis Cluster (harness_cluster.h) instead: the same scenarios, each key
 * routed to its slot's master; Redis refuses any command whose keys cross
 * slots (CROSSSLOT), so a scenario that passes there proves none does.
 */
static h_cluster stack_cluster;

/* Eight /healthz in a row say 200: with --workers N, each may reach another worker. */
static int health_ok(void *arg)
{
    punchd_proc *p = arg;
    for (int i = 0; i < 8; i++) {
        http_resp r;
        int ok;
        if (h_http(p->port, "GET", "/healthz", NULL, &r))
            return 0;
        ok = r.status == 200;
        h_resp_free(&r);
        if (!ok)
            return 0;
    }
    return 1;
}

int h_punchd_wait_healthy(punchd_proc *p, int timeout_ms)
{
    return h_wait_until(health_ok, p, timeout_ms) ? 0 : -1;
}

/*
 * punchd on a cluster, started and then waited for until /healthz says 200: the slot map read
 * and every master connected. h_punchd_start waits only for an answer, and at a load of 19 a
 * test's first event met a master not yet connected (503).
 */
static int cluster_punchd_start(punchd_proc *p, const char *scripts, const char *const *extra)
{
    const char *args[40] = {"--redis-cluster", stack_cluster.seeds};
    int n = 2;
    for (int i = 0; extra && extra[i] && n < 39; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    if (h_punchd_start(p, "127.0.0.1:1", scripts, args, NULL))
        return -1;
    if (h_punchd_wait_healthy(p, 30000)) {
        fprintf(stderr, "punchd on the cluster: /healthz never said 200\n");
        return -1;
    }
    return 0;
}

int h_stack_on_cluster(void)
{
    const char *v = getenv("PUNCH_TEST_CLUSTER");
    return v && *v && strcmp(v, "0") != 0;
}

int h_stack_start(tmpredis *r, punchd_proc *p, const char *scripts, int aof,
                  const char *const *extra)
{
    if (h_stack_on_cluster()) {
        memset(r, 0, sizeof *r);
        if (h_cluster_start(&stack_cluster))
            return -1;
        fprintf(stderr, "stack on a Redis Cluster: %s\n", stack_cluster.seeds);
        return cluster_punchd_start(p, scripts, extra);
    }
    if (tmpredis_start(r, aof))
        return -1;
    return h_punchd_start(p, r->socket, scripts, extra, NULL);
}

int h_stack_punchd_start(tmpredis *r, punchd_proc *p, const char *scripts, const char *const *extra)
{
    if (h_stack_on_cluster())
        return cluster_punchd_start(p, scripts, extra);
    return h_punchd_start(p, r->socket, scripts, extra, NULL);
}

int h_stack_stop(tmpredis *r, punchd_proc *p, char *scripts)
{
    int st = h_punchd_stop(p);
    if (h_stack_on_cluster())
        h_cluster_stop(&stack_cluster);
    else
        tmpredis_destroy(r);
    h_rm_dir(scripts);
    free(scripts);
    return st;
}

long long h_metric(int port, const char *name, long long absent)
{
    http_resp r;
    long long v = absent;
    char pat[128];
    snprintf(pat, sizeof pat, "\n%s ", name);
    if (h_http(port, "GET", "/metrics", NULL, &r) == 0 && r.body) {
        const char *at = strstr(r.body, pat);
        if (at)
            v = atoll(at + strlen(pat));
    }
    h_resp_free(&r);
    return v;
}
