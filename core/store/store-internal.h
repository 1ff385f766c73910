/*
 * Private to core/store: the command path under the store's typed
 * operations (ops-internal.h). Nothing outside core/store/ may include this
 * header: the rest of the tree never sees a redisReply.
 *
 * store_send() is the path under every typed operation: it runs a command,
 * or a script by EVALSHA (reloading the scripts and sending again once on
 * NOSCRIPT), classifies failures (store_error) and hands a good reply to the
 * operation's parser, which calls the operation's typed callback.
 * The callback is called exactly once, possibly before store_send()
 * returns; a reply is owned by hiredis and valid only during the call.
 */
#ifndef PUNCHCARD_STORE_INTERNAL_H
#define PUNCHCARD_STORE_INTERNAL_H

#include "ops-internal.h"
#include "punchcard/store.h"

#include <hiredis/hiredis.h>

/*
 * A server-side Lua script, embedded at build time from core/store/scripts/NAME.lua
 * (store-scripts-gen.h declares one store_script_NAME per file). The store
 * loads every one of them on connect.
 */
typedef struct store_script {
    const char *name;
    const char *body;
    char sha[41]; /* SHA-1 of body, computed by the build */
} store_script;

/* A typed callback (store_int_fn, store_load_fn ...), cast back by its parser. */
typedef void (*store_cb)(void);

/*
 * Turns the reply of one operation into its typed answer: with err set,
 * reply is NULL and the parser calls cb with err; else it checks the reply's
 * shape (store_bad_reply() when wrong) and calls cb with the answer. cb is
 * never NULL here: the store drops answers nobody waits for.
 */
typedef void store_parse_fn(redisReply *reply, const store_error *err, const char *op, store_cb cb,
                            void *arg);

/*
 * Sends one operation: EVALSHA of script with nkeys keys (the first nkeys of
 * argv), or the plain command argv when script is NULL. op names it in errors
 * and logs. cb NULL: fire and forget (a failure is logged). Error replies are
 * logged here, once. On a cluster the command goes to the master of its
 * first key (a script's first key, a plain command's first argument): every
 * key of one command must be in that key's slot (Redis refuses CROSSSLOT).
 */
void store_send(store *s, const store_script *script, const char *op, store_parse_fn *parse,
                store_cb cb, void *arg, int nkeys, int argc, const char **argv,
                const size_t *argvlen);

/*
 * The store's reply parsers, for the tests and fuzzers only (tests/fuzz/):
 * each file lists its own, ending with {NULL, NULL}. shape names the typed
 * callback a parser calls ("int": store_int_fn, "load": store_load_fn ...),
 * so that a test can hand it one of the right type.
 */
typedef struct store_parser {
    const char *shape;
    store_parse_fn *parse;
} store_parser;
extern const store_parser store_parsers_ops[], store_parsers_member[], store_parsers_global[],
    store_parsers_effect[], store_parsers_reads[];

/*
 * The masters a command can be sent to one by one (SCAN, a namespace's
 * wipe): 1 for a single Redis, the cluster's masters in slot order
 * otherwise. store_send_master() sends to master i (0 <= i < store_masters());
 * a master the map no longer has answers STORE_UNAVAILABLE.
 */
int store_masters(const store *s);
void store_send_master(store *s, int master, const store_script *script, const char *op,
                       store_parse_fn *parse, store_cb cb, void *arg, int nkeys, int argc,
                       const char **argv, const size_t *argvlen);

/*
 * How many shards the namespace-wide keys (the due schedule, the claims'
 * index, the figures) are split into: 1 on a single Redis (the keys are
 * those of one Redis, NS:due ...), KEYS_CLUSTER_SHARDS on a cluster.
 */
int store_shards(const store *s);

/* A shard for a write that any shard may take (figures): each in turn. */
int store_any_shard(store *s);

/*
 * The reads of shards.c, across every shard of a namespace-wide key (with
 * store_shards() > 1); the callers' contracts are those of ops-internal.h and
 * reads-internal.h (store_read_stats: fn is a store_pairs_fn).
 */
void shards_due_range(store *s, const char *ns, int64_t max_ms, int limit, store_due_fn *fn,
                      void *arg);
void shards_claims_range(store *s, const char *ns, int64_t max_ms, int limit, store_list_fn *fn,
                         void *arg);
void shards_due_count(store *s, const char *ns, int64_t max_ms, store_int_fn *fn, void *arg);
/* The same on any sharded zset (name: "due", "outbox"); max_ms INT64_MAX counts all. */
void shards_zset_range(store *s, const char *ns, const char *name, const char *op, int64_t max_ms,
                       int limit, store_due_fn *fn, void *arg);
void shards_zset_count(store *s, const char *ns, const char *name, const char *op, int64_t max_ms,
                       store_int_fn *fn, void *arg);
void shards_read_stats(store *s, const char *ns, const char *partner, const char *day, store_cb fn,
                       void *arg);

/*
 * An error reply inside a reply (one commit's of a group) as the store_error a
 * reply of its own would have been (OOM: full; a retryable state:
 * unavailable; else failed), logged as store_send() logs one. Fills e, which
 * borrows r's text.
 */
void store_reply_error(const redisReply *r, const char *op, store_error *e);

/*
 * Work deferred to the end of the loop's turn: store_turn_arm() makes the
 * store's turn event active (once per turn); when the loop comes to it,
 * after the callbacks already due in this turn, it sends the open commit
 * group (ops_commit.c) and the figures summed in the turn (ops_effect.c).
 */
void store_turn_arm(store *s);

/* A commit's reply {0, version} | {1, stored} | {2, state}: store_commit_fn. */
store_parse_fn store_parse_commit;

/* Fills e as the STORE_FAILED error "unexpected reply" of op, logs it, and returns e. */
const store_error *store_bad_reply(const char *op, store_error *e);

/* Parsers of the common shapes (ops.c), for store_send(). */
store_parse_fn store_parse_done; /* any reply: store_done_fn */
store_parse_fn store_parse_int;  /* an integer: store_int_fn */
store_parse_fn store_parse_text; /* a string, or nil (NULL): store_text_fn */
store_parse_fn store_parse_list; /* an array of strings: store_list_fn */

/*
 * A hash's reply (an array of strings, field and value in turn) as
 * store_pairs: small ones on the buffer's own arrays, large ones on the heap.
 */
typedef struct store_pairs_buf {
    store_pairs pairs;
    const char *sv[64];
    size_t sl[64];
    const char **hv;
    size_t *hl;
} store_pairs_buf;
/* 0, or -1 when r is not an array of strings or on out of memory. */
int store_pairs_from(store_pairs_buf *b, const redisReply *r);
void store_pairs_release(store_pairs_buf *b);

/*
 * A command's arguments being built: the strings copied one after another
 * into one buffer (a commit has tens of them: one allocation, not tens).
 * Any failure (out of memory, a key too long) is kept in failed and makes
 * store_args_finish() fail.
 */
typedef struct store_args {
    char *text; /* the strings, each NUL-terminated */
    size_t used, size;
    size_t *off; /* where each starts in text */
    size_t *len;
    const char **v; /* filled by store_args_finish() */
    int n, cap;
    const char *failed; /* why the arguments cannot be sent, or NULL */
} store_args;

void store_args_push(store_args *a, const char *s, size_t len);
void store_args_str(store_args *a, const char *s);
void store_args_int(store_args *a, int64_t v);
/* A key a builder of keys.c wrote into key (its result n: -1 when it did not fit). */
void store_args_key(store_args *a, const char *key, int n);
/* Replaces argument i by the decimal v (a count known only later). */
void store_args_set_int(store_args *a, int i, int64_t v);
/* a->v, once the buffer no longer moves. 0, or -1 (a->failed says why). */
int store_args_finish(store_args *a);
void store_args_free(store_args *a);

/* Answers an operation that could not be sent with STORE_FAILED (why), logged. */
void store_fail_now(const char *op, const char *why, store_parse_fn *parse, store_cb cb, void *arg);

/* Sends a built command (store_send()), or answers cb with STORE_FAILED when a->failed. */
void store_send_args(store *s, const store_script *script, const char *op, store_parse_fn *parse,
                     store_cb cb, void *arg, int nkeys, store_args *a);

#endif
