/* Redis connection URLs: redis://[user:pass@]host[:port][/db],
 * unix:///path/to/redis.sock[?db=N], sentinel://... (sentinelurl.h) and
 * redis-cluster:// (cluster.h), plus
 * synchronous connect (AUTH, SELECT) used by `genq`, the tests and the worker's
 * address parsing. */
#ifndef GENQ_REDISURL_H
#define GENQ_REDISURL_H

#include <stddef.h>

/* The sentinels of a sentinel:// URL (sentinelurl.c): where to ask for the
 * master named master, and the sentinels' own credentials. */
#define REDISURL_MAX_SENTINELS 8
struct redis_sentinels {
    int n; /* 0: not a sentinel:// URL */
    struct {
        char host[256];
        int port;
    } addr[REDISURL_MAX_SENTINELS];
    char master[128];
    char user[128]; /* ?sentinel_user= */
    char pass[256]; /* secret: GENQ_SENTINEL_PASSWORD or the file */
};

struct redis_url {
    char host[256];
    int port;
    char path[256]; /* unix socket path; "" for TCP */
    int db;
    char user[128];
    char pass[256]; /* secret: never print it */
    /* sentinel:// only: host and port are "" and 0 until a lookup fills
     * them with the master's (sentinel.h, worker/rsentinel.h) */
    struct redis_sentinels snt;
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

/* "host:port/db" or "unix:/path" (sentinel: sentinelurl_describe()) for logs:
 * no credentials. Writes into out. */
void redisurl_describe(const struct redis_url *u, char *out, size_t outlen);

/* The URL helpers sentinelurl.c shares: s[0..n) %-decoded into dst (-1
 * when too long or badly encoded), and a decimal in lo..hi (-1 if not). */
int redisurl_pct_decode(char *dst, size_t cap, const char *s, size_t n);
int redisurl_parse_long(const char *s, size_t n, long lo, long hi, long *out);

#endif
