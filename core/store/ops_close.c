/*
 * Period closes and the replay hold (ops-internal.h): the close of one
 * period by one mechanic is a hash in its own slot, taken by one owner at a
 * time (close_claim.lua), holding the plan of what it sends (close_plan.lua,
 * stored once, so a close taken over after a crash sends the same events)
 * and, at the end, done (close_mark.lua).
 *
 * Keys (keys-internal.h):
 *   NS:{close:MECHANIC}:PERIOD   hash    owner, t (touched, ms), plan (JSON), done (ms)
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

static int close_key(char *key, size_t n, const char *ns, const char *mechanic, const char *period)
{
    return keys_resource(key, n, ns, "close", mechanic, period);
}

void store_close_claim(store *s, const char *ns, const char *mechanic, const char *period,
                       const char *owner, int64_t now_ms, int64_t stale_ms, int64_t ttl_s,
                       store_text_fn *fn, void *arg)
{
    char key[PC_KEY_MAX], now[24], stale[24], ttl[24];
    const char *argv[5] = {key, owner, num(now, now_ms), num(stale, stale_ms), num(ttl, ttl_s)};
    if (close_key(key, sizeof key, ns, mechanic, period) < 0) {
        store_fail_now("close_claim", "key too long", store_parse_text, (store_cb)fn, arg);
        return;
    }
    store_send(s, &store_script_close_claim, "close_claim", store_parse_text, (store_cb)fn, arg, 1,
               5, argv, NULL);
}

void store_close_plan(store *s, const char *ns, const char *mechanic, const char *period,
                      const char *owner, const char *plan, int64_t now_ms, store_text_fn *fn,
                      void *arg)
{
    char key[PC_KEY_MAX], now[24];
    const char *argv[4] = {key, owner, plan, num(now, now_ms)};
    if (close_key(key, sizeof key, ns, mechanic, period) < 0) {
        store_fail_now("close_plan", "key too long", store_parse_text, (store_cb)fn, arg);
        return;
    }
    store_send(s, &store_script_close_plan, "close_plan", store_parse_text, (store_cb)fn, arg, 1, 4,
               argv, NULL);
}

void store_close_mark(store *s, const char *ns, const char *mechanic, const char *period,
                      const char *owner, int done, int64_t now_ms, int64_t ttl_s, store_int_fn *fn,
                      void *arg)
{
    char key[PC_KEY_MAX], now[24], ttl[24];
    const char *argv[5] = {key, owner, done ? "done" : "touch", num(now, now_ms), num(ttl, ttl_s)};
    if (close_key(key, sizeof key, ns, mechanic, period) < 0) {
        store_fail_now("close_mark", "key too long", store_parse_int, (store_cb)fn, arg);
        return;
    }
    store_send(s, &store_script_close_mark, "close_mark", store_parse_int, (store_cb)fn, arg, 1, 5,
               argv, NULL);
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
