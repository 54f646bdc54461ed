/* depth: queue depth samples (ready, active, delayed, dead) for /metrics,
 * every fifth maintenance tick, and the P0 alert when a queue's dead set
 * passes --dead-alert. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>

#include "worker_int.h"

static const char ready_sum_lua[] =
    "return redis.call('LLEN', KEYS[1]) + redis.call('LLEN', KEYS[2]) + "
    "redis.call('LLEN', KEYS[3])";
struct depth_ctx {
    struct worker *w;
    int qi;
    enum metrics_state st;
};

static void
on_depth_reply(struct rconn *c, redisReply *r, void *pd)
{
    struct depth_ctx *d = pd;
    struct worker *w = d->w;

    (void)c;
    if (r && r->type == REDIS_REPLY_INTEGER) {
        long n = (long)r->integer;
        /* the leases set holds one more member than leases (prelude.lua:
         * LEASE_PIN) */
        if (d->st == MS_ACTIVE && n > 0)
            n--;
        metrics_queue_depth(w->m, d->qi, d->st, n);
        if (d->st == MS_DEAD && w->cfg->dead_alert > 0 &&
            r->integer > w->cfg->dead_alert) {
            char text[256], key[96];
            snprintf(text, sizeof(text),
                     "queue %s holds %lld dead letters (threshold %ld): "
                     "inspect with genq dlq ls",
                     w->q[d->qi].keys.queue, r->integer, w->cfg->dead_alert);
            snprintf(key, sizeof(key), "dead-letters:%s",
                     w->q[d->qi].keys.queue);
            alerts_raise(w->al, ALERT_P0, key, text);
        }
    }
    free(d);
}

void
sample_depths(struct worker *w)
{
    static const struct {
        enum qkey k;
        enum metrics_state st;
        const char *cmd;
    } probes[] = {{QK_READY_HIGH, MS_READY, "LLEN"},
                  {QK_LEASES, MS_ACTIVE, "ZCARD"},
                  {QK_DELAYED, MS_DELAYED, "ZCARD"},
                  {QK_DEAD, MS_DEAD, "ZCARD"}};

    for (int i = 0; i < w->nq; i++) {
        char node[64];
        rconn_node_of(w->rc, w->q[i].keys.key[QK_READY], node, sizeof(node));
        metrics_queue_node(w->m, i, node); /* Cluster, Sentinel only */
    }
    for (int i = 0; i < w->nq; i++)
        for (size_t p = 0; p < sizeof(probes) / sizeof(probes[0]); p++) {
            struct depth_ctx *d = malloc(sizeof(*d));
            const char *av[2] = {probes[p].cmd, w->q[i].keys.key[probes[p].k]};
            if (!d)
                return;
            d->w = w;
            d->qi = i;
            d->st = probes[p].st;
            if (probes[p].st == MS_READY) {
                /* ready = the three priority lists, summed in Lua */
                const char *ev[] = {"EVAL",
                                    ready_sum_lua,
                                    "3",
                                    w->q[i].keys.key[QK_READY_HIGH],
                                    w->q[i].keys.key[QK_READY],
                                    w->q[i].keys.key[QK_READY_LOW]};
                if (rconn_command(w->rc, 6, ev, NULL, on_depth_reply, d) < 0)
                    free(d);
                continue;
            }
            if (rconn_command(w->rc, 2, av, NULL, on_depth_reply, d) < 0)

                free(d);
        }
}
