/*
 * A real local Redis Cluster for the tests: 3 masters and 3 replicas
 * (redis-server --cluster-enabled yes on free loopback ports, joined by
 * `redis-cli --cluster create ... --cluster-replicas 1`), with a short
 * cluster-node-timeout so a replica takes over a killed master in about a
 * second. Every wait polls a state with a bounded timeout.
 */
#ifndef PUNCHCARD_TEST_HARNESS_CLUSTER_H
#define PUNCHCARD_TEST_HARNESS_CLUSTER_H

#include <hiredis/hiredis.h>
#include <sys/types.h>

#define H_CLUSTER_NODES 6

typedef struct h_cluster {
    char dir[256]; /* temp folder: one subfolder per node */
    int port[H_CLUSTER_NODES];
    pid_t pid[H_CLUSTER_NODES]; /* 0: stopped */
    char seeds[256];            /* "127.0.0.1:P,127.0.0.1:Q" for --redis-cluster */
} h_cluster;

/* Starts the nodes, creates the cluster, waits until it is whole. 0 or -1. */
int h_cluster_start(h_cluster *c);

/* Stops every node and removes the folder. */
void h_cluster_stop(h_cluster *c);

/*
 * Waits until every running node says cluster_state:ok, every slot has a
 * master, and each master has a connected replica when with_replicas. 0 or -1.
 */
int h_cluster_wait_ok(h_cluster *c, int with_replicas, int timeout_ms);

/* The index of the node serving key's slot now (asked of a running node), or -1. */
int h_cluster_master_of(h_cluster *c, const char *key);

/* A blocking connection to node i (the caller frees it), or NULL. */
redisContext *h_cluster_connect(h_cluster *c, int i);

/* kill -9 of node i. */
void h_cluster_kill(h_cluster *c, int i);

/*
 * Moves the slot of key from its master to node `to` as redis-cli --cluster
 * reshard does, key by key: IMPORTING / MIGRATING, then MIGRATE batches of
 * `batch` keys with a call of between(arg) after each batch (events keep
 * flowing: the ASK path), then SETSLOT NODE everywhere. 0 or -1.
 */
int h_cluster_move_slot(h_cluster *c, const char *key, int to, int batch, void (*between)(void *),
                        void *arg);

#endif
