/*
 * Period closes and the replay hold (ops-internal.h): the close of one
 * period by one mechanic is a hash in its own slot, taken by one owner at a
 * time (close_claim.lua), holding the plan of what it sends (close_plan.lua,
 * stored once, so a close taken over after a crash sends the same events)
 * and, at the end, done (close_mark.lua).
 *
 * Broadcasts (POST /v1/broadcasts) are the same kind of job in a hash of
 * their own, made once by bcast_create.lua with their plan, and listed in
 * an index while not done.
 *
 * Keys (keys-internal.h):
 *   NS:{close:MECHANIC}:PERIOD   hash    owner, t (touched, ms), plan (JSON), done (ms),
 *                                        sent, skipped (counted by the last owner)
 *   NS:{close:MECHANIC}:last     string  the end (ms) of the mechanic's latest period closed
 *   NS:{bcast:ID}:job            hash    body (the request), created, and the fields above
 *   NS:{broadcasts:open}:ids     zset    broadcast ids not done -> when made (ms)
 *   NS:{broadcasts:all}:ids      zset    the newest BCAST_RECENT_MAX broadcasts -> when made (ms)
 *   NS:{replay:hold}:until       string  present while a replay runs (PX)
 */
#include "keys-internal.h"
#include "store-internal.h"
#include "store-scripts-gen.h"

#include <string.h>

/* Writes the decimal v into buf (>= 24 bytes) and returns buf. */
static const char *num(char *buf, int64_t v)
{
    buf[pc_format_int(buf, v)] = '\0';
    return buf;
}

/*
 * argv <- the job's hash, (a period close with end_ms) its mechanic's marker
 * beside it, then the n args: the number of keys, or -1 when one is too long.
 */
static int job_argv(const char **argv, char *key, char *marker, const char *ns,
                    const store_job *job, const char *const *args, int n)
{
    int nkeys = 1;
    if (job->broadcast ? keys_resource(key, PC_KEY_MAX, ns, "bcast", job->name, "job") < 0
                       : keys_resource(key, PC_KEY_MAX, ns, "close", job->name, job->period) < 0 ||
                             keys_resource(marker, PC_KEY_MAX, ns, "close", job->name, "last") < 0)
        return -1;
    argv[0] = key;
    if (!job->broadcast && job->end_ms > 0)
        argv[nkeys++] = marker;
    for (int i = 0; i < n; i++)
        argv[nkeys + i] = args[i];
    return nkeys;
}

void store_close_claim(store *s, const char *ns, const store_job *job, const char *owner,
                       int64_t now_ms, int64_t stale_ms, int64_t ttl_s, int latest,
                       store_text_fn *fn, void *arg)
{
    char key[PC_KEY_MAX], marker[PC_KEY_MAX], now[24], stale[24], ttl[24], end[24];
    const char *args[6] = {
        owner,           num(now, now_ms),      num(stale, stale_ms),
        num(ttl, ttl_s), num(end, job->end_ms), job->broadcast ? "b" : latest ? "1" : "0"};
    const char *argv[8];
    int nkeys = job_argv(argv, key, marker, ns, job, args, 6);
    if (nkeys < 0) {
        store_fail_now("close_claim", "key too long", store_parse_text, (store_cb)fn, arg);
        return;
    }
    store_send(s, &store_script_close_claim, "close_claim", store_parse_text, (store_cb)fn, arg,
               nkeys, nkeys + 6, argv, NULL);
}

void store_close_plan(store *s, const char *ns, const store_job *job, const char *owner,
                      const char *plan, int64_t now_ms, store_text_fn *fn, void *arg)
{
    char key[PC_KEY_MAX], marker[PC_KEY_MAX], now[24];
    const char *args[3] = {owner, plan, num(now, now_ms)};
    const char *argv[5];
    store_job one = *job;
    one.end_ms = 0; /* the hash alone */
    if (job_argv(argv, key, marker, ns, &one, args, 3) < 0) {
        store_fail_now("close_plan", "key too long", store_parse_text, (store_cb)fn, arg);
        return;
    }
    store_send(s, &store_script_close_plan, "close_plan", store_parse_text, (store_cb)fn, arg, 1, 4,
               argv, NULL);
}

void store_close_mark(store *s, const char *ns, const store_job *job, const char *owner, int done,
                      int64_t now_ms, int64_t ttl_s, int64_t sent, int64_t skipped,
                      store_int_fn *fn, void *arg)
{
    char key[PC_KEY_MAX], marker[PC_KEY_MAX], now[24], ttl[24], end[24], nsent[24], nskip[24];
    const char *args[7] = {owner,
                           done ? "done" : "touch",
                           num(now, now_ms),
                           num(ttl, ttl_s),
                           num(end, job->end_ms),
                           num(nsent, sent),
                           num(nskip, skipped)};
    const char *argv[9];
    int nkeys = job_argv(argv, key, marker, ns, job, args, 7);
    if (nkeys < 0) {
        store_fail_now("close_mark", "key too long", store_parse_int, (store_cb)fn, arg);
        return;
    }
    store_send(s, &store_script_close_mark, "close_mark", store_parse_int, (store_cb)fn, arg, nkeys,
               nkeys + 7, argv, NULL);
}

void store_bcast_create(store *s, const char *ns, const char *id, const char *body,
                        const char *plan, int64_t now_ms, int64_t ttl_s, store_text_fn *fn,
                        void *arg)
{
    char key[PC_KEY_MAX], now[24], ttl[24];
    const char *argv[5] = {key, body, plan, num(now, now_ms), num(ttl, ttl_s)};
    if (keys_resource(key, sizeof key, ns, "bcast", id, "job") < 0) {
        store_fail_now("bcast_create", "key too long", store_parse_text, (store_cb)fn, arg);
        return;
    }
    store_send(s, &store_script_bcast_create, "bcast_create", store_parse_text, (store_cb)fn, arg,
               1, 5, argv, NULL);
}

/* NS:{broadcasts:open}:ids: the broadcasts not done yet, scored by when they were made. */
static int open_key(char *key, const char *ns)
{
    return keys_resource(key, PC_KEY_MAX, ns, "broadcasts", "open", "ids");
}

/* NS:{broadcasts:all}:ids: the newest broadcasts (GET /v1/broadcasts), scored by when made. */
static int all_key(char *key, const char *ns)
{
    return keys_resource(key, PC_KEY_MAX, ns, "broadcasts", "all", "ids");
}

void store_bcast_open(store *s, const char *ns, const char *id, int64_t at_ms, store_done_fn *fn,
                      void *arg)
{
    char key[PC_KEY_MAX], all[PC_KEY_MAX], at[24], keep[24];
    const char *argv[5] = {"ZADD", key, "NX", num(at, at_ms), id};
    const char *add[5] = {"ZADD", all, "NX", at, id};
    const char *trim[4] = {"ZREMRANGEBYRANK", all, "0", num(keep, -(BCAST_RECENT_MAX + 1))};
    /* The listing's index, kept to the newest (fire and forget: a retry of the POST repairs
     * it, as it does the open list). */
    if (all_key(all, ns) >= 0) {
        store_send(s, NULL, "bcast_index", store_parse_done, NULL, NULL, 0, 5, add, NULL);
        store_send(s, NULL, "bcast_trim", store_parse_done, NULL, NULL, 0, 4, trim, NULL);
    }
    if (open_key(key, ns) < 0) {
        store_fail_now("bcast_open", "key too long", store_parse_done, (store_cb)fn, arg);
        return;
    }
    store_send(s, NULL, "bcast_open", store_parse_done, (store_cb)fn, arg, 0, 5, argv, NULL);
}

void store_bcast_shut(store *s, const char *ns, const char *id)
{
    char key[PC_KEY_MAX];
    const char *argv[3] = {"ZREM", key, id};
    if (open_key(key, ns) >= 0)
        store_send(s, NULL, "bcast_shut", store_parse_done, NULL, NULL, 0, 3, argv, NULL);
}

void store_bcast_list(store *s, const char *ns, size_t max, store_list_fn *fn, void *arg)
{
    char key[PC_KEY_MAX], stop[24];
    const char *argv[4] = {"ZRANGE", key, "0", num(stop, (int64_t)max - 1)};
    if (open_key(key, ns) < 0) {
        store_fail_now("bcast_list", "key too long", store_parse_list, (store_cb)fn, arg);
        return;
    }
    store_send(s, NULL, "bcast_list", store_parse_list, (store_cb)fn, arg, 0, 4, argv, NULL);
}

void store_bcast_recent(store *s, const char *ns, size_t max, store_list_fn *fn, void *arg)
{
    char key[PC_KEY_MAX], stop[24];
    const char *argv[4] = {"ZREVRANGE", key, "0", num(stop, (int64_t)max - 1)};
    if (all_key(key, ns) < 0) {
        store_fail_now("bcast_recent", "key too long", store_parse_list, (store_cb)fn, arg);
        return;
    }
    store_send(s, NULL, "bcast_recent", store_parse_list, (store_cb)fn, arg, 0, 4, argv, NULL);
}

void store_bcast_cancel(store *s, const char *ns, const char *id, int64_t now_ms, int64_t ttl_s,
                        store_text_fn *fn, void *arg)
{
    char key[PC_KEY_MAX], now[24], ttl[24];
    const char *argv[3] = {key, num(now, now_ms), num(ttl, ttl_s)};
    if (keys_resource(key, sizeof key, ns, "bcast", id, "job") < 0) {
        store_fail_now("bcast_cancel", "key too long", store_parse_text, (store_cb)fn, arg);
        return;
    }
    store_send(s, &store_script_bcast_cancel, "bcast_cancel", store_parse_text, (store_cb)fn, arg,
               1, 3, argv, NULL);
}

void store_replay_hold(store *s, const char *ns, int64_t ms, store_done_fn *fn, void *arg)
{
    char key[PC_KEY_MAX], px[24];
    const char *argv[5] = {"SET", key, "1", "PX", num(px, ms > 0 ? ms : 1)};
    if (keys_resource(key, sizeof key, ns, "replay", "hold", "until") < 0) {
        store_fail_now("replay_hold", "key too long", store_parse_done, (store_cb)fn, arg);
        return;
    }
    store_send(s, NULL, "replay_hold", store_parse_done, (store_cb)fn, arg, 0, 5, argv, NULL);
}

void store_replay_held(store *s, const char *ns, store_int_fn *fn, void *arg)
{
    char key[PC_KEY_MAX];
    const char *argv[2] = {"EXISTS", key};
    if (keys_resource(key, sizeof key, ns, "replay", "hold", "until") < 0) {
        store_fail_now("replay_held", "key too long", store_parse_int, (store_cb)fn, arg);
        return;
    }
    store_send(s, NULL, "replay_held", store_parse_int, (store_cb)fn, arg, 0, 2, argv, NULL);
}
