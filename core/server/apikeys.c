/*
 * API keys (apikeys.h). The keys file:
 *
 *   {"keys": [{"name": "pos", "key": "at least 16 characters", "scopes": ["events", "read"],
 *              "rate_limit": {"per_second": 20, "burst": 40}}]}
 *
 * A presented key is hashed once and its digest compared with every key's
 * digest, all of them, with CRYPTO_memcmp: how long a check takes says
 * nothing about which key, if any, is close. Rate limits are token buckets,
 * one per key name, kept across reloads.
 */
#include "apikeys.h"
#include "punchcard/common.h"
#include "punchcard/event.h"

#include <jansson.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#define MAX_KEYS      1024
#define STAT_EVERY_MS 200

typedef struct key {
    char name[65];
    unsigned char digest[32];
    unsigned scopes;
    int single;         /* the --api-key-file / PUNCHD_API_KEY key, named "default" */
    double rate, burst; /* rate 0: no limit */
    double tokens;
    int64_t filled_ms; /* when tokens was last brought up to date */
} key;

struct apikeys {
    pthread_mutex_t lock;
    char *path;
    key *keys; /* the file's, then the single key */
    size_t n;
    int64_t checked_ms;
    struct stat seen; /* the file as last read */
    uint64_t reloads_ok, reloads_failed;
};

static void digest(const char *text, size_t len, unsigned char out[32])
{
    unsigned int n = 32;
    EVP_Digest(text, len, out, &n, EVP_sha256(), NULL);
}

const char *apikeys_scope_name(unsigned scope)
{
    return scope == SCOPE_EVENTS ? "events" : scope == SCOPE_READ ? "read" : "admin";
}

static int parse_scopes(json_t *arr, unsigned *out, char *err, size_t errlen, const char *name)
{
    size_t i;
    json_t *v;
    *out = 0;
    if (!json_is_array(arr) || !json_array_size(arr)) {
        snprintf(err, errlen, "key \"%s\": \"scopes\" must be a non-empty array", name);
        return -1;
    }
    json_array_foreach(arr, i, v) {
        const char *s = json_string_value(v);
        if (s && !strcmp(s, "events"))
            *out |= SCOPE_EVENTS;
        else if (s && !strcmp(s, "read"))
            *out |= SCOPE_READ;
        else if (s && !strcmp(s, "admin"))
            *out |= SCOPE_ADMIN;
        else {
            snprintf(err, errlen, "key \"%s\": scopes are \"events\", \"read\", \"admin\"", name);
            return -1;
        }
    }
    return 0;
}

static int parse_limit(json_t *rl, key *k, char *err, size_t errlen)
{
    json_t *ps, *burst;
    const char *f;
    json_t *v;
    if (!rl || json_is_null(rl))
        return 0;
    ps = json_object_get(rl, "per_second");
    burst = json_object_get(rl, "burst");
    json_object_foreach(rl, f, v) {
        if (strcmp(f, "per_second") && strcmp(f, "burst")) {
            snprintf(err, errlen, "key \"%s\": unknown rate_limit field \"%s\"", k->name, f);
            return -1;
        }
    }
    if (!json_is_number(ps) || json_number_value(ps) <= 0 || json_number_value(ps) > 1e6 ||
        (burst && (!json_is_integer(burst) || json_integer_value(burst) < 1 ||
                   json_integer_value(burst) > 1000000))) {
        snprintf(err, errlen,
                 "key \"%s\": rate_limit is {\"per_second\": >0, \"burst\": 1-1000000}", k->name);
        return -1;
    }
    k->rate = json_number_value(ps);
    k->burst = burst ? (double)json_integer_value(burst) : ceil(k->rate);
    k->tokens = k->burst;
    return 0;
}

/* Parses the keys file's text into a new array; -1 with err. */
static int parse_keys(const char *text, size_t len, key **out, size_t *nout, char *err,
                      size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je), *arr, *o;
    key *keys = NULL;
    size_t i, n;

    arr = json_object_get(root, "keys");
    if (!root || !json_is_array(arr) || json_object_size(root) != 1) {
        snprintf(err, errlen, "%s", root ? "the file must be {\"keys\": [...]}" : je.text);
        goto err;
    }
    n = json_array_size(arr);
    if (n > MAX_KEYS || !(keys = calloc(n + 2, sizeof *keys))) {
        snprintf(err, errlen, "at most %d keys", MAX_KEYS);
        goto err;
    }
    json_array_foreach(arr, i, o) {
        key *k = &keys[i];
        const char *name = json_string_value(json_object_get(o, "name"));
        const char *secret = json_string_value(json_object_get(o, "key"));
        const char *f;
        json_t *v;
        if (!name || !pc_valid_name(name) || strlen(name) > 64) {
            snprintf(err, errlen, "key %zu: \"name\" must be 1-64 of a-z 0-9 _ . -", i + 1);
            goto err;
        }
        snprintf(k->name, sizeof k->name, "%s", name);
        json_object_foreach(o, f, v) {
            if (strcmp(f, "name") && strcmp(f, "key") && strcmp(f, "scopes") &&
                strcmp(f, "rate_limit")) {
                snprintf(err, errlen, "key \"%s\": unknown field \"%s\"", name, f);
                goto err;
            }
        }
        if (!secret || strlen(secret) < 16) {
            snprintf(err, errlen, "key \"%s\": \"key\" must be at least 16 characters", name);
            goto err;
        }
        digest(secret, strlen(secret), k->digest);
        if (parse_scopes(json_object_get(o, "scopes"), &k->scopes, err, errlen, name) ||
            parse_limit(json_object_get(o, "rate_limit"), k, err, errlen))
            goto err;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(keys[j].name, k->name) || !memcmp(keys[j].digest, k->digest, 32)) {
                snprintf(err, errlen, "key \"%s\": name or key used twice", name);
                goto err;
            }
    }
    json_decref(root);
    *out = keys;
    *nout = n;
    return 0;
err:
    json_decref(root);
    free(keys);
    return -1;
}

/*
 * Reads the file into k (under the lock, or before k is shared). The buckets
 * of keys that keep their name keep their tokens. -1 with err: k unchanged.
 */
static int load_file(apikeys *k, char *err, size_t errlen)
{
    struct stat st;
    size_t len, n;
    char *text;
    key *keys;
    if (stat(k->path, &st) || !(text = pc_read_file(k->path, &len))) {
        snprintf(err, errlen, "cannot read %s", k->path);
        return -1;
    }
    if (parse_keys(text, len, &keys, &n, err, errlen)) {
        free(text);
        return -1;
    }
    free(text);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k->n; j++)
            if (!strcmp(keys[i].name, k->keys[j].name) && keys[i].rate > 0 && k->keys[j].rate > 0) {
                keys[i].tokens =
                    k->keys[j].tokens < keys[i].burst ? k->keys[j].tokens : keys[i].burst;
                keys[i].filled_ms = k->keys[j].filled_ms;
            }
    /* The single key (if any) stays last. */
    if (k->n && k->keys[k->n - 1].single)
        keys[n++] = k->keys[k->n - 1];
    free(k->keys);
    k->keys = keys;
    k->n = n;
    k->seen = st;
    return 0;
}

apikeys *apikeys_new(const char *path, const char *single_key, char *err, size_t errlen)
{
    apikeys *k = calloc(1, sizeof *k);
    if (!k) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&k->lock, NULL);
    if (single_key) {
        if (!(k->keys = calloc(1, sizeof *k->keys)))
            goto oom;
        snprintf(k->keys[0].name, sizeof k->keys[0].name, "default");
        k->keys[0].single = 1;
        digest(single_key, strlen(single_key), k->keys[0].digest);
        k->keys[0].scopes = SCOPE_ALL;
        k->n = 1;
    }
    if (path) {
        if (!(k->path = strdup(path)))
            goto oom;
        if (load_file(k, err, errlen)) {
            apikeys_free(k);
            return NULL;
        }
        k->checked_ms = pc_mono_ms();
    }
    return k;
oom:
    snprintf(err, errlen, "out of memory");
    apikeys_free(k);
    return NULL;
}

void apikeys_free(apikeys *k)
{
    if (!k)
        return;
    pthread_mutex_destroy(&k->lock);
    free(k->keys);
    free(k->path);
    free(k);
}

int apikeys_enabled(const apikeys *k)
{
    return k && (k->n || k->path);
}

void apikeys_reload_counts(const apikeys *k, uint64_t *ok, uint64_t *failed)
{
    *ok = k ? k->reloads_ok : 0;
    *failed = k ? k->reloads_failed : 0;
}

/* Under the lock: reloads the file when it changed since it was read. */
static void maybe_reload(apikeys *k, int64_t now)
{
    struct stat st;
    char err[256];
    if (!k->path || now - k->checked_ms < STAT_EVERY_MS)
        return;
    k->checked_ms = now;
    if (stat(k->path, &st) == 0 && st.st_ino == k->seen.st_ino && st.st_size == k->seen.st_size &&
        st.st_mtim.tv_sec == k->seen.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == k->seen.st_mtim.tv_nsec)
        return;
    if (load_file(k, err, sizeof err)) {
        /* Once per change: the next look compares with what was seen, good or bad. */
        if (stat(k->path, &st) == 0)
            k->seen = st;
        k->reloads_failed++;
        pc_log_event(PC_LOG_ERROR, "api_keys_reload_failed", "file", k->path, "error", err,
                     "serving", "previous keys", PC_LOG_END);
        return;
    }
    k->reloads_ok++;
    {
        char n[24];
        snprintf(n, sizeof n, "%zu", k->n);
        pc_log_event(PC_LOG_INFO, "api_keys_reloaded", "file", k->path, "keys", n, PC_LOG_END);
    }
}

/* Takes one token of k's bucket, if it has one; fills the rate-limit numbers of v. */
static int take_token(key *k, int64_t now, apikey_verdict *v)
{
    int ok;
    if (k->rate <= 0)
        return 1;
    if (k->filled_ms == 0)
        k->filled_ms = now;
    k->tokens += (double)(now - k->filled_ms) * k->rate / 1000.0;
    if (k->tokens > k->burst)
        k->tokens = k->burst;
    k->filled_ms = now;
    ok = k->tokens >= 1.0;
    if (ok)
        k->tokens -= 1.0;
    v->limited = 1;
    v->limit = (long)k->burst;
    v->remaining = (long)floor(k->tokens);
    v->reset_s = (long)ceil((k->burst - k->tokens) / k->rate);
    v->retry_after_s = ok ? 0 : (long)ceil((1.0 - k->tokens) / k->rate);
    if (!ok && v->retry_after_s < 1)
        v->retry_after_s = 1;
    return ok;
}

void apikeys_check(apikeys *k, const char *authorization, unsigned scope, apikey_verdict *v)
{
    unsigned char d[32];
    const char *tok;
    key *found = NULL;
    int64_t now = pc_mono_ms();

    memset(v, 0, sizeof *v);
    if (!apikeys_enabled(k) || scope == SCOPE_NONE)
        return;
    /* "Bearer" is case-insensitive (RFC 7235); then one or more spaces. */
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0) {
        v->status = 401;
        return;
    }
    tok = authorization + 7;
    while (*tok == ' ')
        tok++;
    digest(tok, strlen(tok), d);
    pthread_mutex_lock(&k->lock);
    maybe_reload(k, now);
    for (size_t i = 0; i < k->n; i++)
        if (CRYPTO_memcmp(d, k->keys[i].digest, sizeof d) == 0)
            found = &k->keys[i];
    if (!found)
        v->status = 401;
    else {
        snprintf(v->name, sizeof v->name, "%s", found->name);
        if (!(found->scopes & scope))
            v->status = 403;
        else if (!take_token(found, now, v))
            v->status = 429;
    }
    pthread_mutex_unlock(&k->lock);
}
