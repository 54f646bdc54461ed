/* Redis Cluster basics (see cluster.h): key slots, redirections, the slot
 * map from a CLUSTER SLOTS reply and redis-cluster:// URLs. Pure functions
 * (hiredis' reply type only; cluster_map_fetch() is in clustersync.c). */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

unsigned
cluster_crc16(const char *buf, size_t len)
{
    unsigned crc = 0;

    for (size_t i = 0; i < len; i++) {
        crc ^= (unsigned)(unsigned char)buf[i] << 8;
        for (int b = 0; b < 8; b++)
            crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff
                               : (crc << 1) & 0xffff;
    }
    return crc;
}

int
cluster_key_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len), *close;

    if (open) {
        size_t rest = len - (size_t)(open - key) - 1;
        close = memchr(open + 1, '}', rest);
        if (close && close > open + 1) {
            key = open + 1;
            len = (size_t)(close - open - 1);
        }
    }
    return (int)(cluster_crc16(key, len) & (CLUSTER_SLOTS - 1));
}

/* "SLOT HOST:PORT" after the word; the port follows the last ':' (an IPv6
 * address keeps its colons). */
static int
parse_target(const char *s, int *slot, char *host, size_t hostlen, int *port)
{
    char *end;
    const char *colon, *addr;
    long v = strtol(s, &end, 10);

    if (end == s || *end != ' ' || v < 0 || v >= CLUSTER_SLOTS)
        return -1;
    *slot = (int)v;
    addr = end + 1;
    colon = strrchr(addr, ':');
    if (!colon || colon == addr || (size_t)(colon - addr) >= hostlen)
        return -1;
    v = strtol(colon + 1, &end, 10);
    if (end == colon + 1 ||
        (*end && *end != ' ' && *end != '\r' && *end != '\n') || v < 1 ||
        v > 65535)
        return -1;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    *port = (int)v;
    return 0;
}

enum cluster_redir
cluster_redirect_parse(const char *err, int *slot, char *host, size_t hostlen,
                       int *port)
{
    if (!err)
        return CLUSTER_REDIR_NONE;
    if (!strncmp(err, "MOVED ", 6))
        return parse_target(err + 6, slot, host, hostlen, port) < 0
                   ? CLUSTER_REDIR_NONE
                   : CLUSTER_REDIR_MOVED;
    if (!strncmp(err, "ASK ", 4))
        return parse_target(err + 4, slot, host, hostlen, port) < 0
                   ? CLUSTER_REDIR_NONE
                   : CLUSTER_REDIR_ASK;
    if (!strncmp(err, "TRYAGAIN", 8) || !strncmp(err, "CLUSTERDOWN", 11))
        return CLUSTER_REDIR_RETRY;
    return CLUSTER_REDIR_NONE;
}

void
cluster_map_init(struct cluster_map *m)
{
    m->nnodes = 0;
    for (int i = 0; i < CLUSTER_SLOTS; i++)
        m->slot[i] = -1;
}

int
cluster_map_node(struct cluster_map *m, const char *host, int port)
{
    for (int i = 0; i < m->nnodes; i++)
        if (m->node[i].port == port && !strcmp(m->node[i].host, host))
            return i;
    if (m->nnodes == CLUSTER_MAX_NODES ||
        strlen(host) >= sizeof(m->node[0].host))
        return -1;
    snprintf(m->node[m->nnodes].host, sizeof(m->node[0].host), "%s", host);
    m->node[m->nnodes].port = port;
    return m->nnodes++;
}

int
cluster_map_key(const struct cluster_map *m, const char *key)
{
    return m->slot[cluster_key_slot(key, strlen(key))];
}

int
cluster_map_load(struct cluster_map *m, const redisReply *r, const char *seed,
                 char *err, size_t errlen)
{
    short *slot = malloc(sizeof(short) * CLUSTER_SLOTS);
    struct cluster_map *tmp = malloc(sizeof(*tmp));
    int rc = -1;

    if (!slot || !tmp) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "CLUSTER SLOTS: %s",
                 r && r->type == REDIS_REPLY_ERROR ? r->str : "not an array");
        goto out;
    }
    *tmp = *m;
    for (int i = 0; i < CLUSTER_SLOTS; i++)
        tmp->slot[i] = -1;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i], *n;
        const char *host;
        int idx;

        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER ||
            e->element[2]->type != REDIS_REPLY_ARRAY ||
            e->element[2]->elements < 2) {
            snprintf(err, errlen, "CLUSTER SLOTS: malformed entry %zu", i);
            goto out;
        }
        n = e->element[2];
        if (n->element[0]->type != REDIS_REPLY_STRING ||
            n->element[1]->type != REDIS_REPLY_INTEGER ||
            e->element[0]->integer < 0 ||
            e->element[1]->integer >= CLUSTER_SLOTS ||
            e->element[0]->integer > e->element[1]->integer) {
            snprintf(err, errlen, "CLUSTER SLOTS: malformed entry %zu", i);
            goto out;
        }
        host = n->element[0]->str;
        if (!host[0] || !strcmp(host, "?"))
            host = seed;
        idx = cluster_map_node(tmp, host, (int)n->element[1]->integer);
        if (idx < 0) {
            snprintf(err, errlen, "CLUSTER SLOTS: more than %d nodes",
                     CLUSTER_MAX_NODES);
            goto out;
        }
        for (long long s = e->element[0]->integer; s <= e->element[1]->integer;
             s++)
            tmp->slot[s] = (short)idx;
    }
    *m = *tmp;
    rc = 0;
out:
    free(slot);
    free(tmp);
    return rc;
}

int
cluster_url_seed(const struct redis_url *u, int i, char *host, size_t hostlen,
                 int *port)
{
    const char *p = u->cluster, *end, *colon;

    for (; i > 0 && p; i--) {
        p = strchr(p, ',');
        p = p ? p + 1 : NULL;
    }
    if (!p || !*p)
        return -1;
    end = p + strcspn(p, ",");
    colon = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == ':')
            colon = q;
    if (!colon || (size_t)(colon - p) >= hostlen)
        return -1;
    memcpy(host, p, (size_t)(colon - p));
    host[colon - p] = '\0';
    *port = (int)strtol(colon + 1, NULL, 10); /* checked when parsed */
    return 0;
}

int
cluster_url_parse(const char *url, struct redis_url *u, char *err,
                  size_t errlen)
{
    const char *p = url + strlen(CLUSTER_URL_SCHEME), *at = strrchr(p, '@');
    const char *hosts = at ? at + 1 : p, *s;
    char first[1024], seeds[sizeof(u->cluster)];
    size_t n = strlen(hosts), o = 0;
    int rc;

    if (strpbrk(hosts, "/?#")) {
        snprintf(err, errlen,
                 "redis-cluster URL: no database or query after the hosts "
                 "(Redis Cluster has database 0 only): "
                 "redis-cluster://[user:pass@]host:port[,host:port...]");
        return -1;
    }
    if (n == 0 || n >= sizeof(seeds)) {
        snprintf(err, errlen, "redis-cluster URL: %s list of host:port",
                 n ? "too long a" : "missing the");
        return -1;
    }
    /* every seed host:port, port required */
    for (s = hosts; *s;) {
        size_t len = strcspn(s, ","), c;
        char *end;
        long port;

        for (c = len; c > 0 && s[c - 1] != ':'; c--)
            ;
        port = c ? strtol(s + c, &end, 10) : 0;
        if (c < 2 || port < 1 || port > 65535 || end != s + len) {
            snprintf(err, errlen,
                     "redis-cluster URL: seed %.*s is not host:port (port in "
                     "1..65535)",
                     (int)(len > 200 ? 200 : len), s);
            return -1;
        }
        memcpy(seeds + o, s, len);
        o += len;
        s += len;
        if (*s == ',') {
            seeds[o++] = *s++;
            if (!*s) {
                snprintf(err, errlen,
                         "redis-cluster URL: empty seed after ','");
                return -1;
            }
        }
    }
    seeds[o] = '\0';
    /* credentials and the first seed parse as redis:// would */
    if (snprintf(first, sizeof(first), "redis://%.*s%.*s", (int)(hosts - p), p,
                 (int)strcspn(hosts, ","), hosts) >= (int)sizeof(first)) {
        snprintf(err, errlen, "redis-cluster URL: too long");
        return -1;
    }
    rc = redisurl_parse(first, u, err, errlen);
    memset(first, 0, sizeof(first));
    if (rc < 0)
        return -1;
    memcpy(u->cluster, seeds, o + 1);
    return 0;
}

void
cluster_node_url(const struct redis_url *u, const char *host, int port,
                 int check, struct redis_url *out)
{
    *out = *u;
    snprintf(out->host, sizeof(out->host), "%s", host);
    out->port = port;
    out->path[0] = '\0';
    out->db = 0;
    out->cluster_node = check ? 2 : 1;
}
