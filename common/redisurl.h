/* Redis connection URLs: redis://[user:pass@]host[:port][/db],
 * unix:///path/to/redis.sock[?db=N] and redis-cluster:// (cluster.h), plus
 * synchronous connect (AUTH, SELECT) used by `genq`, the tests and the worker's
 * address parsing. */
#ifndef GENQ_REDISURL_H
#define GENQ_REDISURL_H

#include <stddef.h>

struct redis_url {
    char host[256];
    int port;
    char path[256]; /* unix socket path; "" for TCP */
    int db;
    char user[128];
    char pass[256]; /* secret: never print it */
    /* Redis Cluster (common/cluster.h): the seeds "host:port,..." of a
     * redis-cluster:// URL, "" otherwise; cluster_node is 0 for the URL
     * as given, 1 for one node's connection, 2 for the node's that also
     * checks the layout version (cluster_node_url()). */
    char cluster[512];
    int cluster_node;
};

/* Parse url into u. Returns -1 with a message in err (which never contains
 * the password) when the URL is not valid. GENQ_REDIS_PASSWORD in the
 * environment fills the password when the URL has none. */
int redisurl_parse(const char *url, struct redis_url *u, char *err,
                   size_t errlen);

/* "host:port/db" or "unix:/path" for logs: no credentials. Writes into out. */
void redisurl_describe(const struct redis_url *u, char *out, size_t outlen);

#endif
