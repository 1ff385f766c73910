/*
 * API keys against a real punchd: a keys file with a key per scope, a rate
 * limited key, the single all-scopes key of PUNCHD_API_KEY beside them; what
 * each may do (401, 403, 429 and their headers), the file reloaded when it
 * changes (and a broken one not taking the keys away), keys never logged.
 */
#include "harness.h"
#include "punchcard/common.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#define EVENTS_KEY  "events-key-0123456789"
#define READ_KEY    "read-key-0123456789ab"
#define ADMIN_KEY   "admin-key-0123456789a"
#define LIMITED_KEY "limited-key-012345678"
#define SINGLE_KEY  "single-key-0123456789"
#define NEW_KEY     "new-key-0123456789abcd"

static tmpredis redis;
static punchd_proc punchd;
static char *scripts;
static char keydir[256];

static const char keys_v1[] =
    "{\"keys\": ["
    "{\"name\": \"pos\", \"key\": \"" EVENTS_KEY "\", \"scopes\": [\"events\"]},"
    "{\"name\": \"dashboard\", \"key\": \"" READ_KEY "\", \"scopes\": [\"read\"]},"
    "{\"name\": \"ops\", \"key\": \"" ADMIN_KEY "\", \"scopes\": [\"admin\"]},"
    "{\"name\": \"kiosk\", \"key\": \"" LIMITED_KEY "\", \"scopes\": [\"events\", \"read\"],"
    " \"rate_limit\": {\"per_second\": 0.2, \"burst\": 2}}]}\n";

static int group_setup(void **state)
{
    char path[300], arg[320];
    const char *extra[3] = {"--api-keys-file", arg, NULL};
    const char *env[] = {"PUNCHD_API_KEY=" SINGLE_KEY, NULL};
    snprintf(keydir, sizeof keydir, "/tmp/punch-surface-keys-XXXXXX");
    if (!mkdtemp(keydir))
        return -1;
    h_write_file(keydir, "keys.json", keys_v1);
    snprintf(path, sizeof path, "%s/keys.json", keydir);
    snprintf(arg, sizeof arg, "%s", path);
    scripts = h_scripts_copy();
    if (tmpredis_start(&redis, 0))
        return -1;
    return h_punchd_start_env(&punchd, redis.socket, scripts, extra, env);
}

static int group_teardown(void **state)
{
    assert_int_equal(h_punchd_stop(&punchd), 0);
    tmpredis_stop(&redis);
    h_rm_dir(scripts);
    free(scripts);
    h_rm_dir(keydir);
    return 0;
}

typedef struct answer {
    long status;
    char headers[4096];
    char body[4096];
} answer;

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    answer *a = arg;
    size_t len = strlen(a->headers), add = size * n;
    if (len + add < sizeof a->headers) {
        memcpy(a->headers + len, p, add);
        a->headers[len + add] = '\0';
    }
    return size * n;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    answer *a = arg;
    size_t len = strlen(a->body), add = size * n;
    if (len + add < sizeof a->body) {
        memcpy(a->body + len, p, add);
        a->body[len + add] = '\0';
    }
    return size * n;
}

/* One request with an optional "Authorization" value; the status, headers and body. */
static long ask(const char *method, const char *path, const char *body, const char *auth, answer *a)
{
    char url[400], hdr[200];
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    CURL *c = curl_easy_init();
    memset(a, 0, sizeof *a);
    if (auth) {
        snprintf(hdr, sizeof hdr, "Authorization: %s", auth);
        h = curl_slist_append(h, hdr);
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", punchd.port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, a);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    return a->status;
}

/* The value of header name in a (case-insensitive), or "" when absent. */
static const char *header(const answer *a, const char *name)
{
    static char v[256];
    const char *line = a->headers;
    size_t n = strlen(name);
    v[0] = '\0';
    while (line && *line) {
        if (!strncasecmp(line, name, n) && line[n] == ':') {
            const char *s = line + n + 1, *e = strpbrk(s, "\r\n");
            while (*s == ' ')
                s++;
            snprintf(v, sizeof v, "%.*s", (int)(e ? e - s : (long)strlen(s)), s);
            break;
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return v;
}

static const char order[] = "{\"id\":\"%s\",\"type\":\"order\",\"member\":\"ann\","
                            "\"data\":{\"items\":[{\"category\":\"fuel\",\"amount\":500}]}}";

static void each_scope_allows_its_routes_only(void **state)
{
    /* 0: anything but 401 and 403 (the handler decides: 200, 404 ...). */
    static const struct {
        const char *key, *method, *path;
        int with_body;
        long want;
    } cases[] = {
        {EVENTS_KEY, "POST", "/v1/events", 1, 200},
        {EVENTS_KEY, "POST", "/v1/members/ann/redeem", 0, 0},
        {EVENTS_KEY, "POST", "/v1/events/x-1/reverse", 0, 0},
        {EVENTS_KEY, "PUT", "/v1/members/ann", 0, 0},
        {EVENTS_KEY, "GET", "/v1/members/ann", 0, 403},
        {EVENTS_KEY, "GET", "/v1/members/ann/ledger", 0, 403},
        {EVENTS_KEY, "POST", "/v1/draws/lunch/refill", 0, 403},
        {READ_KEY, "GET", "/v1/members/ann", 0, 200},
        {READ_KEY, "GET", "/v1/members/ann/ledger", 0, 200},
        {READ_KEY, "GET", "/v1/stats", 0, 200},
        {READ_KEY, "GET", "/v1/leaderboards/steps", 0, 0},
        {READ_KEY, "GET", "/v1/draws/lunch", 0, 0},
        {READ_KEY, "GET", "/v1/mechanics", 0, 200},
        {READ_KEY, "POST", "/v1/events", 1, 403},
        {READ_KEY, "POST", "/v1/draws/lunch/rotate", 0, 403},
        {ADMIN_KEY, "POST", "/v1/draws/lunch/rotate", 0, 0},
        {ADMIN_KEY, "POST", "/v1/draws/lunch/refill", 0, 0},
        {ADMIN_KEY, "GET", "/v1/members/ann", 0, 403},
        {ADMIN_KEY, "POST", "/v1/events", 1, 403},
        {SINGLE_KEY, "GET", "/v1/members/ann", 0, 200},
        {SINGLE_KEY, "POST", "/v1/draws/lunch/rotate", 0, 0},
        {SINGLE_KEY, "POST", "/v1/events", 1, 200},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char auth[100], body[300], id[32];
        answer a;
        snprintf(auth, sizeof auth, "Bearer %s", cases[i].key);
        snprintf(id, sizeof id, "scope-%zu", i);
        snprintf(body, sizeof body, order, id);
        ask(cases[i].method, cases[i].path, cases[i].with_body ? body : "{}", auth, &a);
        if (cases[i].want ? a.status != cases[i].want : (a.status == 401 || a.status == 403))
            fail_msg("case %zu (%s %s): got %ld %s", i, cases[i].method, cases[i].path, a.status,
                     a.body);
        if (a.status == 403 && !strstr(a.body, "\"forbidden\""))
            fail_msg("case %zu: 403 without code forbidden: %s", i, a.body);
    }
}

static void bad_keys_get_401_with_a_challenge(void **state)
{
    static const char *const auths[] = {NULL, "Bearer wrong-key-0123456789", EVENTS_KEY,
                                        "Basic " EVENTS_KEY, "Bearer"};
    answer a;
    for (size_t i = 0; i < sizeof auths / sizeof *auths; i++) {
        ask("GET", "/v1/members/ann", NULL, auths[i], &a);
        if (a.status != 401 || !strstr(a.body, "\"unauthorized\""))
            fail_msg("case %zu: got %ld %s", i, a.status, a.body);
        assert_string_equal(header(&a, "WWW-Authenticate"), "Bearer realm=\"punchd\"");
    }
    /* The scheme's name is case-insensitive. */
    assert_int_equal(ask("GET", "/v1/members/ann", NULL, "bearer " READ_KEY, &a), 200);
    assert_int_equal(ask("GET", "/v1/members/ann", NULL, "BEARER " READ_KEY, &a), 200);
    /* Probes stay open. */
    assert_int_equal(ask("GET", "/healthz", NULL, NULL, &a), 200);
    assert_int_equal(ask("GET", "/metrics", NULL, NULL, &a), 200);
}

static void a_rate_limited_key_gets_429_with_headers(void **state)
{
    answer a;
    /* burst 2, 0.2 per second: two go through, the third waits about 5 s. */
    assert_int_equal(ask("GET", "/v1/members/ann", NULL, "Bearer " LIMITED_KEY, &a), 200);
    assert_string_equal(header(&a, "RateLimit-Limit"), "2");
    assert_string_equal(header(&a, "RateLimit-Remaining"), "1");
    assert_int_equal(ask("GET", "/v1/members/ann", NULL, "Bearer " LIMITED_KEY, &a), 200);
    assert_string_equal(header(&a, "RateLimit-Remaining"), "0");
    assert_int_equal(ask("GET", "/v1/members/ann", NULL, "Bearer " LIMITED_KEY, &a), 429);
    assert_non_null(strstr(a.body, "\"rate_limited\""));
    assert_string_equal(header(&a, "RateLimit-Limit"), "2");
    assert_string_equal(header(&a, "RateLimit-Remaining"), "0");
    {
        long retry = atol(header(&a, "Retry-After")), reset = atol(header(&a, "RateLimit-Reset"));
        if (retry < 4 || retry > 5 || reset < retry || reset > 10)
            fail_msg("Retry-After %ld, RateLimit-Reset %ld", retry, reset);
    }
    /* Other keys have their own buckets (and none). */
    assert_int_equal(ask("GET", "/v1/members/ann", NULL, "Bearer " READ_KEY, &a), 200);
    assert_string_equal(header(&a, "RateLimit-Limit"), "");
}

static int new_key_works(void *arg)
{
    answer a;
    return ask("GET", "/v1/members/ann", NULL, "Bearer " NEW_KEY, &a) == 200;
}

static char *read_log(void)
{
    return pc_read_file(punchd.log, NULL);
}

static void the_keys_file_reloads_and_a_broken_one_keeps_the_keys(void **state)
{
    char text[2048];
    answer a;
    char *log;
    assert_int_equal(new_key_works(NULL), 0);
    /* The dashboard key goes, a new one comes. */
    snprintf(text, sizeof text,
             "{\"keys\": [{\"name\": \"pos\", \"key\": \"" EVENTS_KEY
             "\", \"scopes\": [\"events\"]},"
             "{\"name\": \"fresh\", \"key\": \"" NEW_KEY "\", \"scopes\": [\"read\"]}]}");
    h_write_file(keydir, "keys.json", text);
    assert_true(h_wait_until(new_key_works, NULL, 3000));
    assert_int_equal(ask("GET", "/v1/members/ann", NULL, "Bearer " READ_KEY, &a), 401);
    assert_int_equal(ask("GET", "/v1/members/ann", NULL, "Bearer " SINGLE_KEY, &a), 200);
    /* A broken file: the keys in force stay. */
    h_write_file(keydir, "keys.json", "{\"keys\": [{\"name\": \"x\"");
    usleep(500 * 1000); /* past the 200 ms between looks at the file */
    assert_int_equal(ask("GET", "/v1/members/ann", NULL, "Bearer " NEW_KEY, &a), 200);
    assert_int_equal(ask("GET", "/metrics", NULL, NULL, &a), 200);
    log = read_log();
    assert_non_null(log);
    assert_non_null(strstr(log, "api_keys_reload_failed"));
    assert_non_null(strstr(log, "api_keys_reloaded"));
    free(log);
    {
        char all[65536];
        FILE *f;
        /* The metrics page is larger than answer's buffer: look through curl into a file. */
        snprintf(all, sizeof all, "curl -s http://127.0.0.1:%d/metrics", punchd.port);
        f = popen(all, "r");
        size_t n = fread(all, 1, sizeof all - 1, f);
        pclose(f);
        all[n] = '\0';
        assert_non_null(strstr(all, "punchd_api_keys_reloads_total{result=\"ok\"} 1\n"));
        assert_non_null(strstr(all, "punchd_api_keys_reloads_total{result=\"failed\"} 1\n"));
        assert_non_null(strstr(all, "punchd_auth_refused_total{code=\"403\"}"));
    }
}

static void keys_never_reach_the_log(void **state)
{
    static const char *const secrets[] = {EVENTS_KEY,  READ_KEY,   ADMIN_KEY,
                                          LIMITED_KEY, SINGLE_KEY, NEW_KEY};
    char *log = read_log();
    assert_non_null(log);
    /* The access log names keys by name. */
    assert_non_null(strstr(log, "key=pos"));
    for (size_t i = 0; i < sizeof secrets / sizeof *secrets; i++)
        if (strstr(log, secrets[i]))
            fail_msg("key %zu is in the log", i);
    free(log);
}

static void a_bad_keys_file_stops_punchd_at_start(void **state)
{
    static const char *const bad[] = {
        "not json",
        "{\"keys\": [{\"name\": \"a\", \"key\": \"short\", \"scopes\": [\"read\"]}]}",
        "{\"keys\": [{\"name\": \"a\", \"key\": \"0123456789abcdefgh\", \"scopes\": [\"write\"]}]}",
        "{\"keys\": [{\"name\": \"a\", \"key\": \"0123456789abcdefgh\", \"scopes\": [\"read\"], "
        "\"rate_limit\": {\"per_second\": 0}}]}",
        "{\"keys\": [{\"name\": \"a\", \"key\": \"0123456789abcdefgh\", \"scopes\": [\"read\"]},"
        "{\"name\": \"b\", \"key\": \"0123456789abcdefgh\", \"scopes\": [\"read\"]}]}",
        "{\"keys\": [{\"name\": \"a\", \"key\": \"0123456789abcdefgh\", \"scopes\": [\"read\"], "
        "\"extra\": 1}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char cmd[800];
        int rc;
        h_write_file(keydir, "bad.json", bad[i]);
        snprintf(cmd, sizeof cmd, "%s --api-keys-file %s/bad.json --listen 127.0.0.1:0 2>/dev/null",
                 PUNCHD_PATH, keydir);
        rc = system(cmd);
        if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 2)
            fail_msg("case %zu: exit %d", i, rc);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_scope_allows_its_routes_only),
        cmocka_unit_test(bad_keys_get_401_with_a_challenge),
        cmocka_unit_test(a_rate_limited_key_gets_429_with_headers),
        cmocka_unit_test(the_keys_file_reloads_and_a_broken_one_keeps_the_keys),
        cmocka_unit_test(keys_never_reach_the_log),
        cmocka_unit_test(a_bad_keys_file_stops_punchd_at_start),
    };
    return cmocka_run_group_tests_name("api_keys", tests, group_setup, group_teardown);
}
