/* Redis Cluster basics shared by `genq` (crouter.c) and the worker
 * (worker/rcluster.c): the key slot (CRC16 of the hash tag), MOVED/ASK
 * redirections, the slot map read from CLUSTER SLOTS, and the
 * redis-cluster://[user:pass@]host:port[,host:port...] URL. No state of its
 * own; nothing here allocates except cluster_map_fetch()'s connections,
 * which it frees. cluster.c links without libhiredis (the fuzz target of
 * redisurl uses it). */
#ifndef GENQ_CLUSTER_H
#define GENQ_CLUSTER_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "redisurl.h"

#define CLUSTER_SLOTS      16384
#define CLUSTER_MAX_NODES  64
#define CLUSTER_URL_SCHEME "redis-cluster://"

/* CRC16/XMODEM of buf (Redis Cluster's key hash). */
unsigned cluster_crc16(const char *buf, size_t len);

/* The slot of key: CRC16 of the hash tag (the text between the first '{'
 * and the next '}', when not empty), else of the whole key, mod 16384. */
int cluster_key_slot(const char *key, size_t len);

/* What an error reply asks for. */
enum cluster_redir {
    CLUSTER_REDIR_NONE,  /* not a redirection (or a malformed one) */
    CLUSTER_REDIR_MOVED, /* "MOVED SLOT HOST:PORT": the slot lives there now */
    CLUSTER_REDIR_ASK,   /* "ASK SLOT HOST:PORT": this command only, there,
                            after ASKING (the slot is migrating) */
    CLUSTER_REDIR_RETRY  /* "TRYAGAIN ..." (keys of a migrating slot split
                            between nodes) or "CLUSTERDOWN ...": later */
};
/* Parse the text of an error reply. For MOVED and ASK fills *slot, host
 * (hostlen bytes; an IPv6 address without brackets) and *port. */
enum cluster_redir cluster_redirect_parse(const char *err, int *slot,
                                          char *host, size_t hostlen,
                                          int *port);

/* The slot map: which node serves each slot. */
struct cluster_node {
    char host[256];
    int port;
};
struct cluster_map {
    int nnodes;
    struct cluster_node node[CLUSTER_MAX_NODES];
    short slot[CLUSTER_SLOTS]; /* index into node[], -1 = not served */
};
void cluster_map_init(struct cluster_map *m);
/* The index of node host:port, added when new; -1 when the table is full. */
int cluster_map_node(struct cluster_map *m, const char *host, int port);
/* The index of the node serving key (-1 when none). */
int cluster_map_key(const struct cluster_map *m, const char *key);
/* Replace the slot table of m by a CLUSTER SLOTS reply r (masters only;
 * nodes already known keep their index). An empty or "?" address is the
 * one asked, seed. 0, or -1 with the reason in err (m unchanged). */
int cluster_map_load(struct cluster_map *m, const redisReply *r,
                     const char *seed, char *err, size_t errlen);
/* Ask the seeds of u in turn (AUTH as u says) for CLUSTER SLOTS, within
 * timeout_s each, into m. 0, or -1 with the last reason in err. (In
 * clustersync.c: the one function here that connects.) */
int cluster_map_fetch(const struct redis_url *u, double timeout_s,
                      struct cluster_map *m, char *err, size_t errlen);

/* Parse a redis-cluster:// URL into u (redisurl_parse() calls it): the
 * credentials and the first seed as for redis://, every seed in
 * u->cluster. No database (Cluster has db 0 only), no query. 0 or -1 with
 * the reason in err (never the password). */
int cluster_url_parse(const char *url, struct redis_url *u, char *err,
                      size_t errlen);
/* Seed i (0-based) of u into host/port; -1 past the last. */
int cluster_url_seed(const struct redis_url *u, int i, char *host,
                     size_t hostlen, int *port);
/* u with host/port replaced by a node's, for rclient_connect() and the
 * worker's connections: check = 1 for the one that checks the layout (the
 * node serving KEY_LAYOUT), 0 for the others. */
void cluster_node_url(const struct redis_url *u, const char *host, int port,
                      int check, struct redis_url *out);

#endif
