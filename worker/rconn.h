/* An asynchronous Redis connection on the worker's libev loop (hiredis 0.14
 * async + adapters/libev.h): AUTH/SELECT on connect, reconnect with backoff,
 * script calls with EVALSHA falling back to EVAL on NOSCRIPT. On a
 * redis-cluster:// URL, one rconn per node underneath (rcluster.h). */
#ifndef GENQ_RCONN_H
#define GENQ_RCONN_H

#include <ev.h>
#include <hiredis/hiredis.h>

#include "keys.h"
#include "redisurl.h"
#include "scripts.h"

struct rconn;

/* The exit status of a worker process refused by the Redis layout version
 * check (layout.h): distinct from 1 so that a pool (pool.c) stops instead
 * of restarting a child that would only be refused again. */
#define RCONN_EXIT_LAYOUT 3

/* Reply callback: r is NULL when the connection dropped before a reply
 * came; an error reply is passed as is (type REDIS_REPLY_ERROR). r is
 * borrowed: valid only during the call. Runs exactly once per command. */
typedef void (*rconn_reply_fn)(struct rconn *c, redisReply *r, void *pd);
/* Connection state changes: up = 1 after (re)connect and AUTH/SELECT were
 * sent, 0 after a disconnect. */
typedef void (*rconn_state_fn)(struct rconn *c, int up, void *ud);

/* Create a connection that connects at once and keeps reconnecting with
 * backoff (0.1 s doubling to 1 s) until rconn_free(). name is for logs.
 * Returns NULL on out-of-memory. */
struct rconn *rconn_new(struct ev_loop *loop, const struct redis_url *u,
                        const char *name, int load_scripts,
                        rconn_state_fn on_state, void *ud);
/* Disconnect; callbacks of pending commands run with NULL replies. */
void rconn_free(struct rconn *c);

int rconn_is_up(const struct rconn *c);

/* Call script id of queue k; argv are ARGV[2..] (the prefix is added).
 * Returns 0 when sent (fn will run once), -1 when not connected or out of
 * memory (fn will not run). */
int rconn_script(struct rconn *c, enum script_id id, const struct qkeys *k,
                 int argc, const char **argv, const size_t *argvlen,
                 rconn_reply_fn fn, void *pd);

/* rconn_script() with a script's own keys (rclient.h). */
struct skeys;
int rconn_script_keys(struct rconn *c, enum script_id id, const struct skeys *k,
                      int argc, const char **argv, const size_t *argvlen,
                      rconn_reply_fn fn, void *pd);

/* Any command by argv; same contract as rconn_script(). */
int rconn_command(struct rconn *c, int argc, const char **argv,
                  const size_t *argvlen, rconn_reply_fn fn, void *pd);

/* Pub/sub message callback: channel and message are borrowed. */
typedef void (*rconn_msg_fn)(struct rconn *c, const char *channel,
                             const char *msg, void *pd);
/* Subscribe to channel on this connection (which must be used for nothing
 * else), now and after every reconnect. At most RCONN_MAX_SUBS channels.
 * Returns 0, or -1 when the table is full or out of memory. */
#define RCONN_MAX_SUBS 16
int rconn_subscribe(struct rconn *c, const char *channel, rconn_msg_fn fn,
                    void *pd);

/* Drop and re-establish the connection when a command has waited longer
 * than seconds for its reply (default 10; 0 = never). */
void rconn_set_timeout(struct rconn *c, double seconds);

/* Seconds since the connection was lost (or since creation if it never
 * came up); 0 while connected. */
double rconn_down_for(const struct rconn *c);

/* Number of commands sent whose replies have not come back. */
int rconn_pending(const struct rconn *c);

/* Send argv as is: a script call of script sid (EVALSHA ...; NOSCRIPT falls
 * back to EVAL) or, sid < 0, a command; argvlen may be NULL. The
 * rconn_command() contract; rcluster.c sends through it. */
int rconn_send_argv(struct rconn *c, int sid, int argc, const char **argv,
                    const size_t *argvlen, rconn_reply_fn fn, void *pd);

/* On Redis Cluster, "host:port" of the node serving key into out; under
 * Sentinel the master's while connected; "" otherwise (one Redis, or no
 * master yet). */
void rconn_node_of(const struct rconn *c, const char *key, char *out, size_t n);

/* Read the layout version again (layout.h; on connect it is read anyway):
 * a version this genq does not know, which a newer genq set while this one
 * ran, ends the process with RCONN_EXIT_LAYOUT before its scripts touch a
 * layout they would misread (a pool then stops; the leases it held expire
 * and are reaped, fenced, as after a crash). */
void rconn_check_layout(struct rconn *c);

#endif
