/* sentinel:// URLs (Redis Sentinel), parsed into struct redis_url:
 *
 *   sentinel://[user:pass@]host[:port][,host[:port]...]/master[?query]
 *
 * user:pass (or GENQ_REDIS_PASSWORD) are the Redis master's credentials, as
 * in redis://; the port of a sentinel defaults to 26379; master is the name
 * the sentinels monitor. The query is '&'-separated: db=N (the database),
 * sentinel_user=NAME and sentinel_password_file=PATH (the sentinels' ACL
 * user and a file holding their password). The sentinels' password comes
 * from that file or from GENQ_SENTINEL_PASSWORD, never from the URL itself
 * (a URL is often in argv): ?sentinel_password= is refused. No parsing
 * here touches the network. */
#ifndef GENQ_SENTINELURL_H
#define GENQ_SENTINELURL_H

#include <stddef.h>

#include "redisurl.h"

#define SENTINEL_DEFAULT_PORT 26379

/* Parse url (which starts with "sentinel://") into u, already zeroed by
 * redisurl_parse(). -1 with a message in err that quotes no secret. */
int sentinelurl_parse(const char *url, struct redis_url *u, char *err,
                      size_t errlen);

/* For logs: "host:port/db (sentinel master NAME)" once the master is
 * known, else "sentinel NAME at host:port[,...]/db". No credentials. */
void sentinelurl_describe(const struct redis_url *u, char *out, size_t outlen);

#endif
