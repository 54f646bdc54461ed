/* A sharded pub/sub subscriber (SSUBSCRIBE, Redis >= 7) to one Redis
 * Cluster node, on the worker's libev loop. hiredis 0.14's async client
 * asserts on the smessage/ssubscribe replies, so this is a connection of
 * our own: a non-blocking socket, an ev_io, hiredis's redisReader for the
 * RESP parsing. AUTH on connect, the channels (re)subscribed after every
 * reconnect (backoff 0.1 s doubling to 1 s). Channels the node no longer
 * serves (a -MOVED reply to SSUBSCRIBE, or the sunsubscribe a node sends
 * when their slot moves away) are dropped and reported; a node that does
 * not know SSUBSCRIBE (Redis < 7) is reported once and closed for good.
 * rcluster.c owns every rsub (rsub_new/rsub_free); the channel strings
 * are copied (rsub frees its copies). */
#ifndef GENQ_RSUB_H
#define GENQ_RSUB_H

#include <ev.h>

#include "redisurl.h"

struct rsub;

struct rsub_cbs {
    /* a message on channel (both borrowed) */
    void (*msg)(const char *channel, const char *msg, void *ud);
    /* channel is no longer subscribed here: slot >= 0 with the node
     * host:port of a -MOVED reply, else -1 ("" and 0) when the node
     * unsubscribed it (its slot moved away) or refused it */
    void (*lost)(const char *channel, int slot, const char *host, int port,
                 void *ud);
    /* the node answered SSUBSCRIBE with an unknown command (Redis < 7) */
    void (*unsupported)(void *ud);
    void *ud;
};

/* A subscriber to u's host:port (user and password from u), connecting
 * at once. NULL on out of memory. name is for logs. */
struct rsub *rsub_new(struct ev_loop *loop, const struct redis_url *u,
                      const char *name, const struct rsub_cbs *cb);
/* Close and free (no callback runs); not from inside one of its own
 * callbacks. Accepts NULL. */
void rsub_free(struct rsub *s);

/* Subscribe channel (now if connected, else on connect); a no-op when it
 * is already. 0, or -1 when out of memory or RSUB_MAX channels held. */
#define RSUB_MAX 64
int rsub_add(struct rsub *s, const char *channel);
/* Unsubscribe channel (SUNSUBSCRIBE when connected); no callback. */
void rsub_del(struct rsub *s, const char *channel);

#endif
