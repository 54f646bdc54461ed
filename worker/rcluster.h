/* Redis Cluster under the worker's struct rconn (rconn.c delegates to it
 * when the URL is redis-cluster://): one rconn per node, each command and
 * script sent to the node serving the slot of its first key (every key of
 * queue Q carries {Q}), MOVED and ASK followed, TRYAGAIN retried, the slot
 * map refreshed (CLUSTER SLOTS) after a MOVED. Callbacks see the outer
 * rconn. Created and freed by rconn_new()/rconn_free() only. */
#ifndef GENQ_RCLUSTER_H
#define GENQ_RCLUSTER_H

#include <ev.h>
#include <stddef.h>

#include "rconn.h"

struct rcluster;

/* The cluster of u for outer (its callbacks get outer); the slot map is
 * read now from a seed, else retried every second. NULL on out of memory. */
struct rcluster *rcluster_new(struct ev_loop *loop, struct rconn *outer,
                              const struct redis_url *u, const char *name,
                              int load_scripts, rconn_state_fn on_state,
                              void *ud);
/* Free every node's connection; pending callbacks run with NULL. */
void rcluster_free(struct rcluster *cl);

/* argv of a command, or of a script call (sid >= 0: EVALSHA ..., NOSCRIPT
 * falls back to EVAL) to route; the rconn_command() contract. */
int rcluster_send(struct rcluster *cl, int sid, int argc, const char **av,
                  const size_t *al, rconn_reply_fn fn, void *pd);
int rcluster_subscribe(struct rcluster *cl, const char *channel,
                       rconn_msg_fn fn, void *pd);
/* Up: the map is known and every node serving a slot is connected. */
int rcluster_is_up(const struct rcluster *cl);
double rcluster_down_for(const struct rcluster *cl);
int rcluster_pending(const struct rcluster *cl);
void rcluster_set_timeout(struct rcluster *cl, double seconds);

/* "host:port" of the node serving key into out ("" when not known). */
void rcluster_node_of(const struct rcluster *cl, const char *key, char *out,
                      size_t n);

#endif
