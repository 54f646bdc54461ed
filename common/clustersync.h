/* The synchronous Redis Cluster router of `genq` (and the tests): the
 * thread's one cluster (a genq command talks to one Redis; each thread of
 * `genq dashboard` has its own), its slot map and one connection per node,
 * opened on first use. Every command of queue
 * Q goes to the node serving the slot of {Q}; MOVED and ASK replies are
 * followed by rclient_script() (csync_follow()). */
#ifndef GENQ_CLUSTERSYNC_H
#define GENQ_CLUSTERSYNC_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "redisurl.h"

/* Open the thread's cluster from u (a redis-cluster:// URL) unless open:
 * the slot map from a seed, the layout version checked on the node serving
 * KEY_LAYOUT (rclient_connect()). Then return a new connection to the node
 * serving key (AUTH done, scripts loaded), which the caller frees with
 * redisFree(); NULL with the reason in err (errno EPROTONOSUPPORT when the
 * layout was refused), the cluster then closed again if this call opened
 * it. */
redisContext *csync_connect_key(const struct redis_url *u, const char *key,
                                double timeout_s, char *err, size_t errlen);

/* Whether the thread's cluster is open. */
int csync_active(void);

/* The cluster's own connection to the node serving key (borrowed: freed by
 * csync_close()); NULL with err set when it cannot connect or no cluster is
 * open. */
redisContext *csync_ctx_key(const char *key, char *err, size_t errlen);

/* "host:port" of the node serving key into out; "" without a cluster. */
void csync_node_of_key(const char *key, char *out, size_t n);

/* r is a reply to a command that was sent: when it is MOVED (the map is
 * updated) or ASK (ASKING is sent), the connection to resend it on; after
 * TRYAGAIN / CLUSTERDOWN, from after a 20 ms pause, with ASKING again when
 * from is *asked (the node an ASK led to: a migrating slot's new master
 * answers TRYAGAIN while a call declares a key it does not hold yet, such
 * as the slot guard); else NULL. *asked is the caller's, NULL before its
 * first send, kept across the hops of one command. */
redisContext *csync_follow(const redisReply *r, redisContext *from,
                           redisContext **asked);

/* Close every connection of the cluster and forget it. */
void csync_close(void);

#endif
