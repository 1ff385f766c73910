/*
 * Webhooks, punchd's side (webhook_http.h): the endpoints file, the signed HTTP
 * posts (libcurl's multi interface driven by the worker's libevent loop, so
 * nothing blocks the loop), their metrics, and the two admin routes.
 *
 * A try of one entry posts it to every endpoint whose filter takes its type
 * and that does not have it yet (the deliverer keeps that list, "ok", with
 * the entry): the entry is delivered when all of them answered 2xx. Secrets
 * stay in memory only; logs and records name endpoints, never their URL's
 * credentials or their secret.
 */
#include "webhook_http.h"
#include "server-internal.h"

#include <curl/curl.h>
#include <event2/keyvalq_struct.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ENDPOINTS 16
#define MAX_FILTER    64

typedef struct endpoint {
    char name[65];
    char *url;
    unsigned char key[128]; /* the secret's bytes (whsec_ base64 decoded) */
    size_t key_len;
    char *types[MAX_FILTER]; /* NULL-ended; none: every type */
    int ntypes;
} endpoint;

struct webhooks_config {
    endpoint ep[MAX_ENDPOINTS];
    int n;
    engine_deliverer_config d;
    int64_t timeout_ms;
    int64_t expiring_notice_ms;
};

/* ---- the file ---- */

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

static int valid_type(const char *s)
{
    size_t n = strlen(s);
    if (!strcmp(s, "*"))
        return 1;
    if (n == 0 || n > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' ||
              *s == '.'))
            return 0;
    return 1;
}

static int valid_url(const char *u)
{
    size_t n = strlen(u);
    if (n > 2048 || (strncmp(u, "http://", 7) && strncmp(u, "https://", 8)))
        return 0;
    for (; *u; u++)
        if ((unsigned char)*u <= ' ' || (unsigned char)*u >= 127)
            return 0;
    return 1;
}

/* A number field in [lo, hi] (absent: keeps *out). 0, or -1. */
static int num_field(json_t *root, const char *name, int64_t lo, int64_t hi, int64_t *out)
{
    json_t *v = json_object_get(root, name);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return -1;
    *out = json_integer_value(v);
    return 0;
}

static int load_endpoint(endpoint *ep, json_t *o, int i, char *err, size_t errlen)
{
    const char *k, *name, *url, *secret;
    json_t *v, *events;
    unsigned char key[200];
    int len;
    size_t slen;
    json_object_foreach(o, k, v)
        if (strcmp(k, "name") && strcmp(k, "url") && strcmp(k, "secret") && strcmp(k, "events")) {
            snprintf(err, errlen, "endpoint %d: unknown field \"%.40s\"", i, k);
            return -1;
        }
    name = json_string_value(json_object_get(o, "name"));
    url = json_string_value(json_object_get(o, "url"));
    secret = json_string_value(json_object_get(o, "secret"));
    events = json_object_get(o, "events");
    if (!name || !valid_name(name)) {
        snprintf(err, errlen, "endpoint %d: name must be 1-64 of a-z 0-9 _ -", i);
        return -1;
    }
    if (!url || !valid_url(url)) {
        snprintf(err, errlen, "endpoint %s: url must be an http:// or https:// URL", name);
        return -1;
    }
    /* whsec_ then base64 of 16 to 128 bytes (Standard Webhooks' convention). */
    slen = secret ? strlen(secret) : 0;
    if (!secret || strncmp(secret, "whsec_", 6) || slen - 6 > 4 * 128 / 3 + 4 ||
        (slen - 6) % 4 != 0 ||
        (len = EVP_DecodeBlock(key, (const unsigned char *)secret + 6, (int)(slen - 6))) < 0) {
        snprintf(err, errlen, "endpoint %s: secret must be whsec_ and base64 of 16 to 128 bytes",
                 name);
        return -1;
    }
    /* EVP_DecodeBlock counts the padding's bytes too. */
    if (slen > 6 && secret[slen - 1] == '=')
        len -= 1 + (secret[slen - 2] == '=');
    if (len < 16 || len > 128) {
        snprintf(err, errlen, "endpoint %s: secret must be whsec_ and base64 of 16 to 128 bytes",
                 name);
        return -1;
    }
    snprintf(ep->name, sizeof ep->name, "%s", name);
    memcpy(ep->key, key, (size_t)len);
    ep->key_len = (size_t)len;
    OPENSSL_cleanse(key, sizeof key);
    if (!(ep->url = strdup(url)))
        goto oom;
    if (events) {
        size_t j;
        if (!json_is_array(events) || json_array_size(events) > MAX_FILTER) {
            snprintf(err, errlen, "endpoint %s: events must be a list of at most %d types", name,
                     MAX_FILTER);
            return -1;
        }
        json_array_foreach(events, j, v) {
            const char *t = json_string_value(v);
            if (!t || !valid_type(t)) {
                snprintf(err, errlen, "endpoint %s: events[%zu] is not a webhook type", name, j);
                return -1;
            }
            if (!(ep->types[ep->ntypes++] = strdup(t)))
                goto oom;
        }
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

webhooks_config *webhooks_config_load(const char *path, char *err, size_t errlen)
{
    webhooks_config *c = calloc(1, sizeof *c);
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je), *eps, *v;
    const char *k;
    size_t i;
    int64_t n;
    static const char *const known[] = {
        "endpoints", "max_attempts", "retry_base_ms", "retry_max_ms", "timeout_ms",
        "poll_ms",   "parallel",     "lease_ms",      "settle_ms",    "expiring_notice_hours",
        NULL};
    if (!c) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (!root || !json_is_object(root)) {
        snprintf(err, errlen, "%s", root ? "not a JSON object" : je.text);
        goto fail;
    }
    json_object_foreach(root, k, v) {
        int ok = 0;
        for (int j = 0; known[j]; j++)
            ok |= !strcmp(k, known[j]);
        if (!ok) {
            snprintf(err, errlen, "unknown field \"%.40s\"", k);
            goto fail;
        }
    }
    eps = json_object_get(root, "endpoints");
    if (!json_is_array(eps) || json_array_size(eps) == 0 || json_array_size(eps) > MAX_ENDPOINTS) {
        snprintf(err, errlen, "endpoints must be a list of 1 to %d endpoints", MAX_ENDPOINTS);
        goto fail;
    }
    json_array_foreach(eps, i, v) {
        if (!json_is_object(v)) {
            snprintf(err, errlen, "endpoint %zu is not an object", i);
            goto fail;
        }
        if (load_endpoint(&c->ep[c->n++], v, (int)i, err, errlen))
            goto fail;
        for (int j = 0; j + 1 < c->n; j++)
            if (!strcmp(c->ep[j].name, c->ep[c->n - 1].name)) {
                snprintf(err, errlen, "two endpoints are named %s", c->ep[j].name);
                goto fail;
            }
    }
    c->timeout_ms = 10000;
    c->expiring_notice_ms = 7 * 86400000LL;
    n = 8;
    if (num_field(root, "max_attempts", 1, 100, &n))
        goto bad_num;
    c->d.max_attempts = (int)n;
    n = 1000;
    if (num_field(root, "retry_base_ms", 1, 86400000, &n))
        goto bad_num;
    c->d.retry_base_ms = n;
    n = 3600000;
    if (num_field(root, "retry_max_ms", 1, 7 * 86400000LL, &n))
        goto bad_num;
    c->d.retry_max_ms = n;
    if (num_field(root, "timeout_ms", 100, 300000, &c->timeout_ms))
        goto bad_num;
    n = 500;
    if (num_field(root, "poll_ms", 10, 600000, &n))
        goto bad_num;
    c->d.poll_ms = (int)n;
    n = 16;
    if (num_field(root, "parallel", 1, 1000, &n))
        goto bad_num;
    c->d.parallel = (int)n;
    n = 0;
    if (num_field(root, "lease_ms", 1000, 3600000, &n))
        goto bad_num;
    /* A lease outlives every endpoint's post of one try. */
    c->d.lease_ms = n ? n : c->timeout_ms * c->n + 10000;
    n = 30000;
    if (num_field(root, "settle_ms", 100, 3600000, &n))
        goto bad_num;
    c->d.settle_ms = n;
    n = 168;
    if (num_field(root, "expiring_notice_hours", 1, 24 * 366, &n))
        goto bad_num;
    c->expiring_notice_ms = n * 3600000;
    json_decref(root);
    return c;
bad_num:
    snprintf(err, errlen, "a number field is not a whole number in its range (README, Webhooks)");
fail:
    json_decref(root);
    webhooks_config_free(c);
    return NULL;
}

void webhooks_config_free(webhooks_config *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n; i++) {
        free(c->ep[i].url);
        for (int j = 0; j < c->ep[i].ntypes; j++)
            free(c->ep[i].types[j]);
    }
    OPENSSL_cleanse(c, sizeof *c);
    free(c);
}

void webhooks_config_deliverer(const webhooks_config *c, engine_deliverer_config *out)
{
    *out = c->d;
}

int64_t webhooks_config_expiring_notice_ms(const webhooks_config *c)
{
    return c->expiring_notice_ms;
}

/* 1 when ep takes type. */
static int wants(const endpoint *ep, const char *type)
{
    if (ep->ntypes == 0)
        return 1;
    for (int i = 0; i < ep->ntypes; i++)
        if (!strcmp(ep->types[i], "*") || !strcmp(ep->types[i], type))
            return 1;
    return 0;
}

/* 1 when name is in the list "a,b,c". */
static int in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && !memcmp(p, name, n))
            return 1;
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

/* ---- metrics ---- */

static atomic_uint_fast64_t m_ok, m_failed, m_delivered, m_sum_us;

void webhooks_metrics(struct evbuffer *b)
{
    evbuffer_add_printf(b,
                        "# HELP punchd_webhook_posts_total Webhook posts to endpoints, by result "
                        "(ok: 2xx; failed: any other answer, a timeout or a connection error).\n"
                        "# TYPE punchd_webhook_posts_total counter\n"
                        "punchd_webhook_posts_total{result=\"ok\"} %llu\n"
                        "punchd_webhook_posts_total{result=\"failed\"} %llu\n",
                        (unsigned long long)atomic_load(&m_ok),
                        (unsigned long long)atomic_load(&m_failed));
    evbuffer_add_printf(b,
                        "# HELP punchd_webhook_post_seconds_total Time spent in webhook posts.\n"
                        "# TYPE punchd_webhook_post_seconds_total counter\n"
                        "punchd_webhook_post_seconds_total %.6f\n",
                        (double)atomic_load(&m_sum_us) / 1e6);
    evbuffer_add_printf(b,
                        "# HELP punchd_webhooks_delivered_total Outbox entries delivered to every "
                        "endpoint that wants them.\n"
                        "# TYPE punchd_webhooks_delivered_total counter\n"
                        "punchd_webhooks_delivered_total %llu\n",
                        (unsigned long long)atomic_load(&m_delivered));
    evbuffer_add_printf(b,
                        "# HELP punchd_webhooks_dead_total Outbox entries dead-lettered after "
                        "their last attempt.\n"
                        "# TYPE punchd_webhooks_dead_total counter\n"
                        "punchd_webhooks_dead_total %llu\n",
                        (unsigned long long)engine_webhooks_dead_total());
}

/* ---- the HTTP client ---- */

typedef struct post post;
typedef struct attempt attempt;

struct webhooks_sender {
    struct event_base *base;
    const webhooks_config *c;
    engine *e;
    CURLM *multi;
    struct event *timer;
    attempt *attempts; /* in flight */
    post *posts;       /* in flight */
};

/* One try of one entry: a post per endpoint that wants it. */
struct attempt {
    webhooks_sender *ws;
    attempt *prev, *next;
    engine_webhook_done_fn *done;
    void *ctx;
    int left; /* posts in flight */
    int failed;
    char ok[MAX_ENDPOINTS * 66];
    char error[256];
    char id[64], type[80], member[160];
    int64_t tries;
};

struct post {
    post *prev, *next;
    webhooks_sender *ws;
    attempt *a;
    const endpoint *ep;
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    int64_t start_us; /* pc_mono_ms() at the start */
};

typedef struct sock {
    struct event *ev;
    webhooks_sender *ws;
} sock;

static void check_done(webhooks_sender *ws);

static void on_sock(evutil_socket_t fd, short what, void *arg)
{
    webhooks_sender *ws = arg;
    int running,
        action = (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(ws->multi, fd, action, &running);
    check_done(ws);
}

static int sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    webhooks_sender *ws = userp;
    sock *k = socketp;
    short kind = (short)((what & CURL_POLL_IN ? EV_READ : 0) |
                         (what & CURL_POLL_OUT ? EV_WRITE : 0) | EV_PERSIST);
    if (what == CURL_POLL_REMOVE) {
        if (k) {
            event_free(k->ev);
            free(k);
        }
        curl_multi_assign(ws->multi, s, NULL);
        return 0;
    }
    if (!k) {
        if (!(k = calloc(1, sizeof *k)))
            return -1;
        k->ws = ws;
        curl_multi_assign(ws->multi, s, k);
    } else {
        event_free(k->ev);
    }
    k->ev = event_new(ws->base, s, kind, on_sock, ws);
    if (k->ev)
        event_add(k->ev, NULL);
    return 0;
}

static void on_curl_timer(evutil_socket_t fd, short what, void *arg)
{
    webhooks_sender *ws = arg;
    int running;
    curl_multi_socket_action(ws->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(ws);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    webhooks_sender *ws = userp;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    if (timeout_ms < 0)
        evtimer_del(ws->timer);
    else
        evtimer_add(ws->timer, &tv);
    return 0;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    return size * n;
}

webhooks_sender *webhooks_sender_new(struct event_base *base, const webhooks_config *c, engine *e)
{
    webhooks_sender *ws = calloc(1, sizeof *ws);
    if (!ws)
        return NULL;
    ws->base = base;
    ws->c = c;
    ws->e = e;
    ws->multi = curl_multi_init();
    ws->timer = evtimer_new(base, on_curl_timer, ws);
    if (!ws->multi || !ws->timer) {
        webhooks_sender_free(ws);
        return NULL;
    }
    curl_multi_setopt(ws->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(ws->multi, CURLMOPT_SOCKETDATA, ws);
    curl_multi_setopt(ws->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(ws->multi, CURLMOPT_TIMERDATA, ws);
    return ws;
}

static void post_free(post *p)
{
    if (p->ws) {
        if (p->prev)
            p->prev->next = p->next;
        else
            p->ws->posts = p->next;
        if (p->next)
            p->next->prev = p->prev;
    }
    curl_slist_free_all(p->headers);
    if (p->easy)
        curl_easy_cleanup(p->easy);
    free(p->body);
    free(p);
}

static void attempt_unlink(attempt *a)
{
    webhooks_sender *ws = a->ws;
    if (a->prev)
        a->prev->next = a->next;
    else
        ws->attempts = a->next;
    if (a->next)
        a->next->prev = a->prev;
}

/* Every post of a answered: the deliverer hears the try's verdict. */
static void attempt_end(attempt *a)
{
    engine_webhook_result r = {0};
    r.delivered = !a->failed;
    r.ok = a->ok;
    r.error = a->error[0] ? a->error : NULL;
    if (r.delivered)
        atomic_fetch_add(&m_delivered, 1);
    attempt_unlink(a);
    a->done(a->ctx, &r);
    free(a);
}

/* One post answered (or failed): its record, and the try's verdict once all answered. */
static void post_done(post *p, CURLcode rc)
{
    attempt *a = p->a;
    long status = 0;
    int64_t us = (pc_mono_ms() - p->start_us) * 1000;
    char at[32], err[200] = "";
    int ok;
    curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &status);
    ok = rc == CURLE_OK && status >= 200 && status < 300;
    if (rc != CURLE_OK)
        snprintf(err, sizeof err, "%s", curl_easy_strerror(rc));
    else if (!ok)
        snprintf(err, sizeof err, "HTTP %ld", status);
    atomic_fetch_add(ok ? &m_ok : &m_failed, 1);
    atomic_fetch_add(&m_sum_us, (uint64_t)us);
    if (ok) {
        size_t used = strlen(a->ok);
        snprintf(a->ok + used, sizeof a->ok - used, "%s%s", used ? "," : "", p->ep->name);
    } else {
        size_t used = strlen(a->error);
        a->failed = 1;
        snprintf(a->error + used, sizeof a->error - used, "%s%s: %s", used ? "; " : "", p->ep->name,
                 err);
    }
    pc_time_format(pc_now_ms(), at, sizeof at);
    engine_webhook_log(a->ws->e,
                       json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:s, s:I, s:s?}", "id", a->id,
                                 "type", a->type, "member", a->member, "endpoint", p->ep->name,
                                 "result", ok ? "delivered" : "failed", "status", (int)status,
                                 "attempt", (json_int_t)(a->tries + 1), "at", at, "duration_ms",
                                 (json_int_t)(us / 1000), "error", ok ? NULL : err));
    if (!ok)
        pc_log(PC_LOG_INFO, "webhook %s to %s: %s (attempt %lld)", a->id, p->ep->name, err,
               (long long)(a->tries + 1));
    post_free(p);
    if (--a->left == 0)
        attempt_end(a);
}

static void check_done(webhooks_sender *ws)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(ws->multi, &left))) {
        post *p = NULL;
        if (m->msg != CURLMSG_DONE)
            continue;
        CURLcode rc = m->data.result;
        CURL *easy = m->easy_handle;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&p);
        curl_multi_remove_handle(ws->multi, easy);
        if (p)
            post_done(p, rc);
    }
}

/* "v1,<base64 of HMAC-SHA256(key, id.timestamp.body)>" into out (>= 64 bytes). */
static void sign(const endpoint *ep, const char *id, const char *ts, const char *body, size_t len,
                 char *out)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    size_t idn = strlen(id), tsn = strlen(ts);
    unsigned char *msg = malloc(idn + tsn + len + 2);
    strcpy(out, "v1,");
    if (!msg)
        return;
    memcpy(msg, id, idn);
    msg[idn] = '.';
    memcpy(msg + idn + 1, ts, tsn);
    msg[idn + 1 + tsn] = '.';
    memcpy(msg + idn + tsn + 2, body, len);
    if (HMAC(EVP_sha256(), ep->key, (int)ep->key_len, msg, idn + tsn + len + 2, mac, &maclen))
        EVP_EncodeBlock((unsigned char *)out + 3, mac, (int)maclen);
    free(msg);
}

/* Starts the post of w to ep. 0, or -1 (nothing started). */
static int post_start(attempt *a, const endpoint *ep, const engine_webhook *w)
{
    webhooks_sender *ws = a->ws;
    post *p = calloc(1, sizeof *p);
    char hdr[200], ts[24], sig[80];
    struct curl_slist *h = NULL;
    if (!p || !(p->body = malloc(w->body_len + 1)) || !(p->easy = curl_easy_init()))
        goto fail;
    memcpy(p->body, w->body, w->body_len);
    p->body[w->body_len] = '\0';
    p->a = a;
    p->ep = ep;
    snprintf(ts, sizeof ts, "%lld", (long long)(pc_now_ms() / 1000));
    sign(ep, w->id, ts, p->body, w->body_len, sig);
    h = curl_slist_append(h, "Content-Type: application/json");
    snprintf(hdr, sizeof hdr, "webhook-id: %s", w->id);
    h = h ? curl_slist_append(h, hdr) : NULL;
    snprintf(hdr, sizeof hdr, "webhook-timestamp: %s", ts);
    h = h ? curl_slist_append(h, hdr) : NULL;
    snprintf(hdr, sizeof hdr, "webhook-signature: %s", sig);
    h = h ? curl_slist_append(h, hdr) : NULL;
    h = h ? curl_slist_append(h, "Expect:") : NULL;
    if (!(p->headers = h))
        goto fail;
    curl_easy_setopt(p->easy, CURLOPT_URL, ep->url);
    curl_easy_setopt(p->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(p->easy, CURLOPT_POSTFIELDS, p->body);
    curl_easy_setopt(p->easy, CURLOPT_POSTFIELDSIZE, (long)w->body_len);
    curl_easy_setopt(p->easy, CURLOPT_HTTPHEADER, p->headers);
    curl_easy_setopt(p->easy, CURLOPT_USERAGENT, "punchd-webhooks");
    curl_easy_setopt(p->easy, CURLOPT_TIMEOUT_MS, (long)ws->c->timeout_ms);
    curl_easy_setopt(p->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(p->easy, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(p->easy, CURLOPT_PRIVATE, p);
    p->start_us = pc_mono_ms();
    if (curl_multi_add_handle(ws->multi, p->easy) != CURLM_OK)
        goto fail;
    p->ws = ws;
    p->next = ws->posts;
    if (ws->posts)
        ws->posts->prev = p;
    ws->posts = p;
    return 0;
fail:
    if (p)
        post_free(p);
    else
        curl_slist_free_all(h);
    return -1;
}

void webhooks_send(void *arg, const engine_webhook *w, engine_webhook_done_fn *done, void *ctx)
{
    webhooks_sender *ws = arg;
    attempt *a = calloc(1, sizeof *a);
    if (!a) {
        engine_webhook_result r = {.error = "out of memory", .ok = w->ok};
        done(ctx, &r);
        return;
    }
    a->ws = ws;
    a->done = done;
    a->ctx = ctx;
    a->tries = w->tries;
    snprintf(a->ok, sizeof a->ok, "%s", w->ok ? w->ok : "");
    snprintf(a->id, sizeof a->id, "%s", w->id);
    snprintf(a->type, sizeof a->type, "%s", w->type);
    snprintf(a->member, sizeof a->member, "%s", w->member);
    a->next = ws->attempts;
    if (ws->attempts)
        ws->attempts->prev = a;
    ws->attempts = a;
    a->left = 1; /* held while starting, so an answer at once cannot end it early */
    for (int i = 0; i < ws->c->n; i++) {
        const endpoint *ep = &ws->c->ep[i];
        if (!wants(ep, w->type) || in_list(a->ok, ep->name))
            continue;
        a->left++;
        if (post_start(a, ep, w)) {
            size_t used = strlen(a->error);
            a->left--;
            a->failed = 1;
            snprintf(a->error + used, sizeof a->error - used, "%s%s: out of memory",
                     used ? "; " : "", ep->name);
        }
    }
    if (--a->left == 0)
        attempt_end(a);
}

void webhooks_sender_free(webhooks_sender *ws)
{
    if (!ws)
        return;
    while (ws->posts) {
        post *p = ws->posts;
        curl_multi_remove_handle(ws->multi, p->easy);
        post_free(p);
    }
    while (ws->attempts) {
        attempt *a = ws->attempts;
        engine_webhook_result r = {.cancelled = 1};
        attempt_unlink(a);
        a->done(a->ctx, &r);
        free(a);
    }
    if (ws->multi)
        curl_multi_cleanup(ws->multi);
    if (ws->timer)
        event_free(ws->timer);
    free(ws);
}

/* ---- the routes ---- */

/* GET /v1/webhooks/deliveries?limit= */
void get_webhook_deliveries(server *s, struct evhttp_request *req, const char *arg,
                            const char *query)
{
    struct evkeyvalq q;
    const char *l;
    int limit = 50;
    pending_req *p;
    if (parse_query(s, req, query, &q))
        return;
    if ((l = evhttp_find_header(&q, "limit"))) {
        char *end;
        long v = strtol(l, &end, 10);
        limit = (*l && !*end && v >= 1 && v <= 200) ? (int)v : -1;
    }
    evhttp_clear_headers(&q);
    if (limit < 0)
        send_error(s, req, 400, "bad_request", "limit must be a number from 1 to 200");
    else if ((p = pending_new(s, req, 0)))
        engine_get_webhooks(s->engine, limit, on_engine_done, p);
}

/* POST /v1/webhooks/dead/{id}/retry */
void post_webhook_retry(server *s, struct evhttp_request *req, const char *id, const char *query)
{
    pending_req *p;
    size_t n = strlen(id);
    int ok = n > 4 && n < 64 && !strncmp(id, "msg_", 4);
    for (size_t i = 4; ok && i < n; i++)
        ok = (id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f');
    if (!ok) {
        send_error(s, req, 400, "bad_request", "a webhook id is msg_ and hex digits");
        return;
    }
    if ((p = pending_new(s, req, 0)))
        engine_retry_dead_webhook(s->engine, id, on_engine_done, p);
}
