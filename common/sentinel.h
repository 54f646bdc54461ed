/* Redis Sentinel, the synchronous side (every `genq` command, the worker's
 * pool, the tests): ask the sentinels of a sentinel:// URL for the master
 * (SENTINEL get-master-addr-by-name), connect to it, and check with ROLE
 * that it is the master; retried while a failover is under way. The reply
 * parsers are shared with the worker's asynchronous side
 * (worker/rsentinel.h). */
#ifndef GENQ_SENTINEL_H
#define GENQ_SENTINEL_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "redisurl.h"

/* rclient_connect() for a sentinel:// URL u (u->snt.n > 0): look the master
 * up, connect with rclient_connect(), check ROLE; until timeout_s has
 * passed, a failed lookup, a refused connection, a READONLY reply or a
 * replica's ROLE is retried every 0.2 s (a failover moves the master).
 * Returns the context (caller frees with redisFree()), or NULL with err
 * set (no secret in it); errno is EPROTONOSUPPORT when the layout check
 * refused the master (rclient.h). */
redisContext *sentinel_connect(const struct redis_url *u, double timeout_s,
                               char *err, size_t errlen);

/* Ask the sentinels of u in turn (each within timeout_s) for the address
 * of the master; 0 with host/port filled, or -1 with err naming each
 * sentinel's failure. */
int sentinel_lookup(const struct redis_url *u, double timeout_s, char *host,
                    size_t hostlen, int *port, char *err, size_t errlen);

/* The reply of SENTINEL get-master-addr-by-name: 0 with host/port, or -1
 * (nil: the sentinel does not know the master; an error; a bad shape). */
int sentinel_parse_addr(const redisReply *r, char *host, size_t hostlen,
                        int *port);

/* A +switch-master message "name old-ip old-port new-ip new-port": 1 with
 * host/port of the new master when name is master, 0 otherwise. */
int sentinel_parse_switch(const char *msg, const char *master, char *host,
                          size_t hostlen, int *port);

/* A Sentinel event about master: "master NAME IP PORT" or an instance's
 * "TYPE NAME IP PORT @ MASTER IP PORT": 1 with the event's own IP/PORT
 * (the instance's, e.g. the replica being promoted), 0 otherwise. */
int sentinel_parse_event(const char *msg, const char *master, char *host,
                         size_t hostlen, int *port);

/* 1 when r is the reply of ROLE from a master, 0 otherwise. */
int sentinel_role_is_master(const redisReply *r);

#endif
