/*
 * The Redis keyspace: every key is built here and nowhere else. Every key
 * starts with the namespace; every key of one member carries the member id as
 * a hash tag, so one member's commit touches one Redis Cluster slot; every
 * shared resource carries its own tag ({draw:D}, {lb:L}, ...), so each
 * operation on it touches one slot too.
 *
 *   NS:{ann}:state                   hash   balances, counters, badges, tier, version
 *                                           (model/member-internal.h)
 *   NS:{ann}:ledger                  stream one entry per balance change
 *   NS:{ann}:ev:ID                   string the stored response of event ID (dedupe), TTL
 *   NS:due                           zset   member -> next due time (ms), read by the sweeper
 *   NS:claims                        zset   unconfirmed claims of global operations
 *   NS:stats:YYYY-MM-DD, NS:stats:total, NS:partner:P:YYYY-MM-DD
 *                                    hash   "<currency>:<issued|redeemed|expired|reversed>"
 *
 * On a Redis Cluster these namespace-wide keys would each be one hot slot, so
 * they are split into KEYS_CLUSTER_SHARDS shards, each its own slot, and read
 * across all shards (summed or merged):
 *   NS:{due:K}  NS:{claims:K}  NS:{stats:K}:YYYY-MM-DD  NS:{stats:K}:total
 *   NS:{partner:K}:P:YYYY-MM-DD                                K = 0 .. shards-1
 * A member's due time goes to the shard of its id, a claim's index entry to
 * the shard of the entry; figures go to any shard (sums do not care).
 *   NS:{draw:D}:meta | :pool:PRIZE:PERIOD | :claim:ID     an instant-win draw
 *   NS:{budget:B}:PERIOD | :claim:ID | :log               a campaign budget (log: per period)
 *   NS:{ref:FRIEND}:by                                    who referred FRIEND
 *   NS:{g:NAME}:counter | :claim:ID                       a global counter
 *   NS:{offer:O}:uses | :claim:ID | :ret:MEMBER/EVENT      an offer's uses, cap and returns
 *   NS:{lb:L}:PERIOD | :meta                              a leaderboard
 *   NS:{ann}:outbox | :outbox:at | :outbox:once:ID   webhooks to deliver (ops_outbox.c)
 *   NS:outbox (NS:{outbox:K})  zset  members with webhooks to deliver
 *   NS:{wh:program}:log | :dead     recent webhook tries, dead letters
 *   NS:{exp:X}:figures  hash  an experiment's figures per group: "<group>:members|events|
 *                             spend|spend_sq", "<group>:issued:<currency>", "...:redeemed:..."
 *
 * Each builder writes the key into out and returns its length, or -1 when it
 * does not fit (callers refuse the request then).
 */
#ifndef PUNCHCARD_KEYS_INTERNAL_H
#define PUNCHCARD_KEYS_INTERNAL_H

#include <stddef.h>

/* Room for any key: a claim key holds a resource name and a claim id of two ids. */
#define PC_KEY_MAX 1024

/* NS:{member}:suffix ("state", "ledger", "ev:<id>"). */
int pc_member_key(char *out, size_t outlen, const char *ns, const char *member, const char *suffix);

/* NS:{member}:ev:<event id>, the stored response of an applied event (its dedupe record). */
int keys_event(char *out, size_t outlen, const char *ns, const char *member, const char *event_id);

/* NS:name: the pattern "NS:*" of every key of a namespace. */
int keys_global(char *out, size_t outlen, const char *ns, const char *name);

/* The shards of the namespace-wide keys on a cluster (1 on a single Redis). */
#define KEYS_CLUSTER_SHARDS 16

/*
 * NS:name ("due", "claims") with shards <= 1; NS:{name:shard} otherwise.
 */
int keys_sharded(char *out, size_t outlen, const char *ns, const char *name, int shard, int shards);

/* The shard (0 .. shards-1) of a member id or a claim entry of len bytes. */
int keys_shard_of(const char *id, size_t len, int shards);

/*
 * The Redis Cluster hash slot of a key (0 .. 16383): CRC16 (XMODEM) of the
 * key, or of its hash tag (what is between the first '{' and the next '}'
 * when that is not empty), modulo 16384.
 */
int keys_slot(const char *key, size_t len);

/* NS:partner:P:DAY. */
int keys_partner_day(char *out, size_t outlen, const char *ns, const char *partner,
                     const char *day);

/*
 * NS:{kind:name}:suffix, a shared resource in its own slot: kind is "draw",
 * "budget", "ref", "g" (global counter) or "lb" (leaderboard).
 */
int keys_resource(char *out, size_t outlen, const char *ns, const char *kind, const char *name,
                  const char *suffix);

/*
 * NS:{tag}:suffix, a key of the program's own in its own slot: {catalog}:names (the
 * draws, budgets and boards used), {mech}:history and {mech}:last (the scripts' loads).
 */
int keys_program(char *out, size_t outlen, const char *ns, const char *tag, const char *suffix);

/* NS:{exp:X}:figures, an experiment's figures (their own slot). */
int keys_experiment(char *out, size_t outlen, const char *ns, const char *experiment);

/* NS:{draw:D}:pool:PRIZE:PERIOD, a prize's pool in one period. */
int keys_draw_pool(char *out, size_t outlen, const char *ns, const char *draw, const char *prize,
                   const char *period);

/*
 * NS:stats:DAY, NS:stats:total (day NULL) or, with a partner, NS:partner:P:DAY;
 * with shards > 1, NS:{stats:K}:DAY, NS:{stats:K}:total, NS:{partner:K}:P:DAY.
 */
int keys_stats(char *out, size_t outlen, const char *ns, const char *partner, const char *day,
               int shard, int shards);

/*
 * The member id of a member's key (NS:{member}:suffix, len bytes) into out;
 * its length, or -1 when key is no member's key, the id does not fit or is
 * not a valid member id (pc_valid_id).
 */
int keys_member_of(char *out, size_t outlen, const char *key, size_t len);

/* NS:{kind:name}:claim:<claim id>, a reservation on a shared resource. */
int keys_claim(char *out, size_t outlen, const char *ns, const char *kind, const char *name,
               const char *claim_id);

#endif
