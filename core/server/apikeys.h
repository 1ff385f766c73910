/*
 * API keys with scopes and rate limits, for the HTTP front: a keys file
 * (JSON, reloaded when it changes) and/or the one all-scopes key of
 * --api-key-file / PUNCHD_API_KEY. Shared by every worker (a mutex inside).
 * Keys are kept as SHA-256 digests and never logged; a key is known by its
 * name.
 */
#ifndef PUNCHCARD_APIKEYS_H
#define PUNCHCARD_APIKEYS_H

#include <stddef.h>
#include <stdint.h>

enum apikey_scope {
    SCOPE_NONE = 0, /* a route outside /v1/: no key asked */
    SCOPE_EVENTS = 1,
    SCOPE_READ = 2,
    SCOPE_ADMIN = 4,
    SCOPE_ALL = 7,
};

typedef struct apikeys apikeys;

/*
 * From the keys file at path (NULL: none) and the single all-scopes key
 * (NULL: none; copied). NULL with a message in err when the file cannot be
 * read or is not valid: punchd refuses to start on it.
 */
apikeys *apikeys_new(const char *path, const char *single_key, char *err, size_t errlen);
void apikeys_free(apikeys *k);

/* 1 when /v1/ asks for a key. */
int apikeys_enabled(const apikeys *k);

/* What apikeys_check() found. */
typedef struct apikey_verdict {
    int status;         /* 0: go on; 401 bad or missing key; 403 scope missing; 429 rate limited */
    char name[65];      /* the key's name ("" for none) */
    int limited;        /* the key has a rate limit: the four numbers below are set */
    long limit;         /* the bucket's size (RateLimit-Limit) */
    long remaining;     /* whole tokens left after this request (RateLimit-Remaining) */
    long reset_s;       /* seconds until the bucket is full again (RateLimit-Reset) */
    long retry_after_s; /* on 429: seconds until one token is back (Retry-After) */
} apikey_verdict;

/*
 * Checks the Authorization header (may be NULL) for a route that needs
 * scope, takes a token from the key's bucket, and fills v. Looks at the keys
 * file at most every 200 ms and reloads it when it changed; a file that
 * became invalid keeps the previous keys (logged as api_keys_reload_failed).
 */
void apikeys_check(apikeys *k, const char *authorization, unsigned scope, apikey_verdict *v);

/* Reloads of the keys file since start: successful, and failed. */
void apikeys_reload_counts(const apikeys *k, uint64_t *ok, uint64_t *failed);

/* The name of a scope ("events", "read", "admin"). */
const char *apikeys_scope_name(unsigned scope);

#endif
