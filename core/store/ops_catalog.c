/*
 * The program's catalogue and its scripts' history (ops-internal.h,
 * reads-internal.h): what GET /v1/draws, /v1/budgets and /v1/leaderboards
 * list, and the loads GET /v1/mechanics shows under "history", the same for
 * every worker and punchd of the program.
 *
 * Keys (keys-internal.h):
 *   NS:{catalog}:names   hash    "draw:NAME" | "budget:NAME" | "board:NAME" -> first use (ms),
 *                                noted the first time each connection uses the name
 *                                (catalog_note.lua; at most STORE_CATALOG_CAP names)
 *   NS:{mech}:history    list    the last loads of the scripts, newest first (JSON each)
 *   NS:{mech}:last       string  the key of the newest load ("ok:VERSION", "err:DIGEST")
 *   NS:{codes}:shared    hash    shared codes added through the API: code -> offer
 *                                (codes_add.lua; read by m:redeem_code for a code it does not know)
 */
#include "conn-internal.h"
#include "keys-internal.h"
#include "reads-internal.h"
#include "store-scripts-gen.h"

#include <string.h>

#define STORE_CATALOG_CAP 1000

static const char *num(char *buf, int64_t v)
{
    buf[pc_format_int(buf, v)] = '\0';
    return buf;
}

/* FNV-1a of the namespace and the field: which names this connection listed already. */
static uint64_t seen_digest(const char *ns, const char *field)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = ns; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    for (const char *p = field; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

void store_catalog_note(store *s, const char *ns, const char *kind, const char *name)
{
    char key[PC_KEY_MAX], field[PC_KEY_MAX], now[24], cap[24];
    const char *argv[4] = {key, field, num(now, pc_now_ms()), num(cap, STORE_CATALOG_CAP)};
    uint64_t h;
    int i;
    if ((size_t)snprintf(field, sizeof field, "%s:%s", kind, name) >= sizeof field ||
        keys_program(key, sizeof key, ns, "catalog", "names") < 0)
        return;
    h = seen_digest(ns, field);
    for (i = 0; i < s->catalog_n; i++)
        if (s->catalog_seen[i] == h)
            return;
    /* Fire and forget: a lost note lists the name at its next use on another connection. */
    if (s->catalog_n < STORE_CATALOG_SEEN)
        s->catalog_seen[s->catalog_n++] = h;
    store_send(s, &store_script_catalog_note, "catalog_note", store_parse_done, NULL, NULL, 1, 4,
               argv, NULL);
}

void store_catalog_forget(store *s)
{
    s->catalog_n = 0;
}

void store_read_board_size(store *s, const char *ns, const char *board, const char *period,
                           store_int_fn *fn, void *arg)
{
    char key[PC_KEY_MAX];
    const char *argv[2] = {"ZCARD", key};
    if (keys_resource(key, sizeof key, ns, "lb", board, period) < 0) {
        store_fail_now("read_board_size", "key too long", store_parse_int, (store_cb)fn, arg);
        return;
    }
    store_send(s, NULL, "read_board_size", store_parse_int, (store_cb)fn, arg, 0, 2, argv, NULL);
}

void store_history_add(store *s, const char *ns, const char *load_key, const char *entry, int max,
                       store_int_fn *fn, void *arg)
{
    char hkey[PC_KEY_MAX], lkey[PC_KEY_MAX], nmax[24];
    const char *argv[5] = {hkey, lkey, load_key, entry, num(nmax, max)};
    if (keys_program(hkey, sizeof hkey, ns, "mech", "history") < 0 ||
        keys_program(lkey, sizeof lkey, ns, "mech", "last") < 0) {
        store_fail_now("history_add", "key too long", store_parse_int, (store_cb)fn, arg);
        return;
    }
    store_send(s, &store_script_history_add, "history_add", store_parse_int, (store_cb)fn, arg, 2,
               5, argv, NULL);
}

void store_read_history(store *s, const char *ns, int max, store_list_fn *fn, void *arg)
{
    char key[PC_KEY_MAX], last[24];
    const char *argv[4] = {"LRANGE", key, "0", num(last, max - 1)};
    if (keys_program(key, sizeof key, ns, "mech", "history") < 0) {
        store_fail_now("read_history", "key too long", store_parse_list, (store_cb)fn, arg);
        return;
    }
    store_send(s, NULL, "read_history", store_parse_list, (store_cb)fn, arg, 0, 4, argv, NULL);
}

void store_codes_add(store *s, const char *ns, const char *offer, const char *const *codes,
                     size_t n, int64_t cap, store_text_fn *fn, void *arg)
{
    store_args a = {0};
    char key[PC_KEY_MAX];
    store_args_key(&a, key, keys_program(key, sizeof key, ns, "codes", "shared"));
    store_args_str(&a, offer);
    store_args_int(&a, cap);
    for (size_t i = 0; i < n; i++)
        store_args_str(&a, codes[i]);
    store_send_args(s, &store_script_codes_add, "codes_add", store_parse_text, (store_cb)fn, arg, 1,
                    &a);
    store_args_free(&a);
}

void store_read_shared_code(store *s, const char *ns, const char *code, store_text_fn *fn,
                            void *arg)
{
    char key[PC_KEY_MAX];
    const char *argv[3] = {"HGET", key, code};
    if (keys_program(key, sizeof key, ns, "codes", "shared") < 0) {
        store_fail_now("read_shared_code", "key too long", store_parse_text, (store_cb)fn, arg);
        return;
    }
    store_send(s, NULL, "read_shared_code", store_parse_text, (store_cb)fn, arg, 0, 3, argv, NULL);
}
