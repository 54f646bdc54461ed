/* Redis Sentinel on the worker's libev loop, for one rconn (rconn.c) of a
 * sentinel:// URL: an asynchronous master lookup (SENTINEL
 * get-master-addr-by-name, each sentinel in turn, 1 s each) before every
 * (re)connect, and a subscription on every sentinel that reports a
 * failover at once: when the leading sentinel sends REPLICAOF NO ONE to
 * the replica it promotes (+failover-state-wait-promotion: from then on a
 * write to the old master is lost), and when it ends (+switch-master).
 * Between the two the lookup answers the promoted replica. The ROLE check
 * and the READONLY handling are rconn's (rconn.c). */
#ifndef GENQ_RSENTINEL_H
#define GENQ_RSENTINEL_H

#include <ev.h>

#include "redisurl.h"

struct rsentinel;

/* The lookup's answer: host and port of the master (borrowed), or host
 * NULL when no sentinel answered (the caller retries with its backoff). */
typedef void (*rsentinel_addr_fn)(void *ud, const char *host, int port);
/* The master moves (a promotion begins, ends, or is aborted): where to
 * (borrowed). The caller drops its connection if it is elsewhere. */
typedef void (*rsentinel_switch_fn)(void *ud, const char *host, int port);

/* u is copied (u->snt.n > 0). name is for logs. The subscriptions start
 * at once. NULL on out-of-memory. */
struct rsentinel *rsentinel_new(struct ev_loop *loop, const struct redis_url *u,
                                const char *name, rsentinel_addr_fn on_addr,
                                rsentinel_switch_fn on_switch, void *ud);

/* Start a lookup; on_addr runs once when it ends (never from inside this
 * call). A lookup already running is not started twice. */
void rsentinel_lookup(struct rsentinel *s);

/* Close both connections; no callback runs afterwards. */
void rsentinel_free(struct rsentinel *s);

#endif
