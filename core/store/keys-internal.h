/*
 * The Redis keyspace. Every key starts with the namespace; every key of one
 * member carries the member id as a hash tag, so one member's commit touches
 * one Redis Cluster slot:
 *   NS:{ann}:state     hash   balances, counters, badges, tier, version (see member.h)
 *   NS:{ann}:ledger    stream one entry per balance change
 *   NS:{ann}:ev:ID     string the stored response of event ID (dedupe), with a TTL
 */
#ifndef PUNCHCARD_KEYS_H
#define PUNCHCARD_KEYS_H

#include <stddef.h>

#define PC_KEY_MAX 512

/* Writes NS:{member}:suffix into out; returns its length, or -1 when it does not fit. */
int pc_member_key(char *out, size_t outlen, const char *ns, const char *member, const char *suffix);

#endif
