/* The synchronous Redis Cluster router (see clustersync.h): a slot map and
 * a connection per node, the calling thread's. */
#include "fmacros.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster.h"
#include "clustersync.h"
#include "keys.h"
#include "rclient.h"

/* The router is the calling thread's (_Thread_local): `genq dashboard`
 * serves each request on a thread of its own beside its sampler thread,
 * and each opens (cli_connect) and closes (cli_close: csync_close) a
 * cluster; one shared by all had connections closed and the slot map
 * reset under the others (crashes, "slot not served"). A thread that
 * opens one closes it. */
static _Thread_local struct {
    int open;
    struct redis_url url; /* the seeds and credentials */
    double timeout_s;
    struct cluster_map map;
    redisContext *ctx[CLUSTER_MAX_NODES];
} cs;

int
cluster_map_fetch(const struct redis_url *u, double timeout_s,
                  struct cluster_map *m, char *err, size_t errlen)
{
    struct timeval tv = {
        (time_t)timeout_s,
        (suseconds_t)((timeout_s - (double)(time_t)timeout_s) * 1e6)};
    char host[256];
    int port;

    snprintf(err, errlen, "redis-cluster URL: no seed");
    for (int i = 0; cluster_url_seed(u, i, host, sizeof(host), &port) == 0;
         i++) {
        redisContext *c = redisConnectWithTimeout(host, port, tv);
        redisReply *r = NULL;

        if (!c || c->err) {
            snprintf(err, errlen, "redis cluster seed %s:%d: %s", host, port,
                     c ? c->errstr : "out of memory");
            redisFree(c);
            continue;
        }
        if (redisSetTimeout(c, tv) == REDIS_OK && u->pass[0]) {
            r = u->user[0] ? redisCommand(c, "AUTH %s %s", u->user, u->pass)
                           : redisCommand(c, "AUTH %s", u->pass);
            if (!r || r->type == REDIS_REPLY_ERROR) {
                snprintf(err, errlen,
                         "redis cluster seed %s:%d: AUTH failed: %s", host,
                         port, r ? r->str : c->errstr);
                freeReplyObject(r);
                redisFree(c);
                continue;
            }
            freeReplyObject(r);
        }
        r = redisCommand(c, "CLUSTER SLOTS");
        if (!r)
            snprintf(err, errlen, "redis cluster seed %s:%d: %s", host, port,
                     c->errstr);
        else if (r->type == REDIS_REPLY_ERROR)
            snprintf(err, errlen,
                     "redis cluster seed %s:%d: not a cluster node? %s", host,
                     port, r->str);
        else if (r->elements == 0)
            snprintf(err, errlen, "redis cluster seed %s:%d: no slot served",
                     host, port);
        else if (cluster_map_load(m, r, host, err, errlen) == 0) {
            freeReplyObject(r);
            redisFree(c);
            return 0;
        }
        freeReplyObject(r);
        redisFree(c);
    }
    return -1;
}

int
csync_active(void)
{
    return cs.open;
}

/* A new connection to node i (check: that node checks the layout). */
static redisContext *
node_connect(int i, int check, char *err, size_t errlen)
{
    struct redis_url nu;
    redisContext *c;

    cluster_node_url(&cs.url, cs.map.node[i].host, cs.map.node[i].port, check,
                     &nu);
    c = rclient_connect(&nu, cs.timeout_s, err, errlen);
    memset(nu.pass, 0, sizeof(nu.pass));
    return c;
}

/* The cluster's connection to node i, opened when missing. */
static redisContext *
node_ctx(int i, char *err, size_t errlen)
{
    if (i < 0) {
        snprintf(err, errlen, "redis cluster: slot not served by any node");
        return NULL;
    }
    if (!cs.ctx[i])
        cs.ctx[i] = node_connect(i, 0, err, errlen);
    return cs.ctx[i];
}

redisContext *
csync_connect_key(const struct redis_url *u, const char *key, double timeout_s,
                  char *err, size_t errlen)
{
    int opened = !cs.open, i;
    redisContext *c = NULL;

    if (opened) {
        cs.url = *u;
        cs.timeout_s = timeout_s;
        cluster_map_init(&cs.map);
        if (cluster_map_fetch(u, timeout_s, &cs.map, err, errlen) < 0)
            goto fail;
        i = cluster_map_key(&cs.map, KEY_LAYOUT);
        if (i < 0) {
            snprintf(err, errlen, "redis cluster: the slot of %s is not served",
                     KEY_LAYOUT);
            goto fail;
        }
        cs.ctx[i] = node_connect(i, 1, err, errlen);
        if (!cs.ctx[i])
            goto fail; /* errno as rclient_connect() left it */
        cs.open = 1;
    }
    i = cluster_map_key(&cs.map, key);
    if (i < 0) {
        snprintf(err, errlen, "redis cluster: slot not served by any node");
        goto fail;
    }
    errno = 0;
    c = node_connect(i, 0, err, errlen);
    if (c)
        return c;
fail:
    /* what this call opened goes (its connections; the password copied
     * into cs.url wiped): nothing is left open after a failure, on any
     * thread (a dashboard thread ends with its request) */
    if (opened) {
        int e = errno;
        csync_close();
        errno = e;
    }
    return NULL;
}

redisContext *
csync_ctx_key(const char *key, char *err, size_t errlen)
{
    if (!cs.open) {
        snprintf(err, errlen, "redis cluster: not connected");
        return NULL;
    }
    return node_ctx(cluster_map_key(&cs.map, key), err, errlen);
}

void
csync_node_of_key(const char *key, char *out, size_t n)
{
    int i = cs.open ? cluster_map_key(&cs.map, key) : -1;

    if (i < 0)
        snprintf(out, n, "%s", "");
    else
        snprintf(out, n, "%s:%d", cs.map.node[i].host, cs.map.node[i].port);
}

static int
send_asking(redisContext *to)
{
    redisReply *a = redisCommand(to, "ASKING");
    int ok = a && a->type != REDIS_REPLY_ERROR;

    freeReplyObject(a);
    return ok ? 0 : -1;
}

redisContext *
csync_follow(const redisReply *r, redisContext *from, redisContext **asked)
{
    char host[256], err[512];
    int slot, port, i;
    redisContext *to;

    if (!cs.open || !r || r->type != REDIS_REPLY_ERROR)
        return NULL;
    switch (cluster_redirect_parse(r->str, &slot, host, sizeof(host), &port)) {
    case CLUSTER_REDIR_RETRY: {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (from == *asked && send_asking(from) < 0)
            return NULL;
        return from;
    }
    case CLUSTER_REDIR_MOVED:
    case CLUSTER_REDIR_ASK:
        break;
    default:
        return NULL;
    }
    i = cluster_map_node(&cs.map, host, port);
    if (i < 0)
        return NULL;
    to = node_ctx(i, err, sizeof(err));
    if (!to)
        return NULL;
    if (r->str[0] == 'M') {
        cs.map.slot[slot] = (short)i;
        *asked = NULL;
        return to;
    }
    if (send_asking(to) < 0)
        return NULL;
    *asked = to;
    return to;
}

void
csync_close(void)
{
    for (int i = 0; i < CLUSTER_MAX_NODES; i++) {
        redisFree(cs.ctx[i]);
        cs.ctx[i] = NULL;
    }
    memset(cs.url.pass, 0, sizeof(cs.url.pass));
    cs.open = 0;
}
