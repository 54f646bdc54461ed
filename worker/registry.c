/* registry: this worker's entry in the registry of live workers (`genq
 * workers`): a hash of descriptions (KEY_WORKERS) and a zset of last beats
 * (KEY_WORKERS_BEAT); readers forget members that stopped beating. And the
 * fleet-wide USD spend per UTC day (the legacy key; caps: budget.c). */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "timefmt.h"
#include "version.h"
#include "worker_int.h"

void
registry_beat(struct worker *w, int leaving)
{
    char desc[1024], now[32], queues[600] = "";
    const char *av[4];

    if (leaving) {
        av[0] = "ZREM";
        av[1] = KEY_WORKERS_BEAT;
        av[2] = w->id;
        rconn_command(w->rc, 3, av, NULL, worker_noreply, NULL);
        av[0] = "HDEL";
        av[1] = KEY_WORKERS;
        rconn_command(w->rc, 3, av, NULL, worker_noreply, NULL);
        return;
    }
    for (int i = 0; i < w->nq; i++) {
        size_t l = strlen(queues);
        snprintf(queues + l, sizeof(queues) - l, "%s\"%s\"", i ? "," : "",
                 w->q[i].keys.queue);
    }
    snprintf(desc, sizeof(desc),
             "{\"id\":\"%s\",\"pid\":%d,\"queues\":[%s],\"in_flight\":%d,"
             "\"concurrency\":%d,\"started_ms\":%lld,\"provider\":\"%s\","
             "\"version\":\"%s\"}",
             w->id, (int)getpid(), queues, w->js.active, w->cfg->concurrency,
             (long long)w->started_ms, llm_provider_name(w->cfg->provider),
             genq_version);
    w->reg_inflight = w->js.active;
    w->reg_beat_at = ev_now(w->loop);
    snprintf(now, sizeof(now), "%lld", (long long)time_now_ms());
    av[0] = "HSET";
    av[1] = KEY_WORKERS;
    av[2] = w->id;
    av[3] = desc;
    rconn_command(w->rc, 4, av, NULL, worker_noreply, NULL);
    av[0] = "ZADD";
    av[1] = KEY_WORKERS_BEAT;
    av[2] = now;
    av[3] = w->id;
    rconn_command(w->rc, 4, av, NULL, worker_noreply, NULL);
}

/* Fleet-wide spend per UTC day: INCRBYFLOAT KEY_SPEND_PREFIX + day by what
 * this worker spent since the last report (kept for readers of that key;
 * the caps themselves are budget.c's). */
static void
on_spend_reply(struct rconn *c, redisReply *r, void *pd)
{
    struct worker *w = pd;

    (void)c;
    w->spend_inflight = 0;
    if (!r || r->type != REDIS_REPLY_STRING)
        w->spend_pending += w->spend_sent; /* not counted: send it again */
    w->spend_sent = 0;
    if (w->draining)
        worker_drain_check(w);
}

void
report_spend(struct worker *w)
{
    char key[KEY_SPEND_LEN], amount[48];
    const char *av[3] = {"INCRBYFLOAT", key, amount};

    if (w->spend_inflight || w->spend_pending <= 0)
        return;
    key_spend_day(key, sizeof(key), (long long)time(NULL));
    snprintf(amount, sizeof(amount), "%.9f", w->spend_pending);
    if (rconn_command(w->rc, 3, av, NULL, on_spend_reply, w) == 0) {
        w->spend_sent = w->spend_pending;
        w->spend_pending = 0;
        w->spend_inflight = 1;
    }
}

void
registry_tick(struct worker *w)
{
    /* every 5 s; and on this 1-s tick when the worker went idle or busy
     * since the last beat, so `genq workers` does not show an idle worker
     * busy (or a busy one idle) for seconds */
    if (w->tick % 5 == 1 || (w->js.active == 0) != (w->reg_inflight == 0))
        registry_beat(w, 0);
}

void
registry_idle(struct worker *w)
{
    /* at most one extra beat a second: the tick catches the rest */
    if (w->reg_inflight != 0 && !w->draining && rconn_is_up(w->rc) &&
        ev_now(w->loop) - w->reg_beat_at >= 1.0)
        registry_beat(w, 0);
}
