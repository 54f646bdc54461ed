/* claim: claiming jobs -- one claim.lua call per loop iteration at most,
 * sized to the free slots plus a prefetch that follows the pace slots free
 * at, ramped up after idleness, round-robin over the queues; and what
 * brings claiming back: the queues' wake channels and the idle poll. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker_int.h"

/* How many jobs to claim ahead of a free slot: as many slots as free in
 * PREFETCH_HORIZON at the current pace, at most --prefetch. Each then waits
 * about that long for its slot (leased, heartbeated), never minutes behind
 * long jobs while another worker idles; at 1,000 slots of 200 ms calls
 * (5,000 a second) that is 250. */
#define PREFETCH_HORIZON 0.05
static int
prefetch_target(const struct worker *w)
{
    double t = w->free_rate * PREFETCH_HORIZON;

    return t < (double)w->prefetch ? (int)t : w->prefetch;
}

struct claim_ctx {
    struct worker *w;
    struct wqueue *q;
    int asked;
};

static void
on_claim_reply(struct rconn *c, redisReply *r, void *pd)
{
    struct claim_ctx *cc = pd;
    struct worker *w = cc->w;
    struct wqueue *q = cc->q;
    int got = 0;

    (void)c;
    if (!r) {
        /* The script may have run: its jobs would be leased to us with
         * nobody working on them. Release them once Redis is back. */
        w->claim_lost = 1;
    } else if (r->type == REDIS_REPLY_ERROR) {
        /* read-only replica, OOM, LOADING, NOPERM...: back off */
        w->claim_backoff = w->claim_backoff ? w->claim_backoff * 2 : 0.1;
        if (w->claim_backoff > 5.0)
            w->claim_backoff = 5.0;
        q->paused_until = ev_now(w->loop) + w->claim_backoff;
    }
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
        r->element[0]->type == REDIS_REPLY_STRING) {
        w->claim_backoff = 0;
        if (!strcmp(r->element[0]->str, "paused")) {
            q->paused_until = ev_now(w->loop) + 1.0;
        } else {
            for (size_t i = 1; i + 4 <= r->elements; i += 4) {
                redisReply **e = &r->element[i];
                if (e[0]->type != REDIS_REPLY_STRING ||
                    e[3]->type != REDIS_REPLY_STRING)
                    continue;
                job_begin(w, q, e[0]->str,
                          e[1]->type == REDIS_REPLY_STRING ? e[1]->str : "",
                          e[2]->type == REDIS_REPLY_INTEGER ? e[2]->integer : 1,
                          e[3]->str, e[3]->len);
                got++;
            }
            start_queued(w); /* the line first, then what just came */
            if (got < cc->asked)
                q->empty = 1;
            /* idle: the next jobs ramp up again (see claim_now) */
            if (got == 0 && w->js.active == 0 && w->claim_asked == cc->asked)
                w->ramp_t0 = ev_now(w->loop);
        }
    }
    /* counted down only now: job_begin may free slots, and a claim sent
     * from inside the loop would count them wrong */
    w->claiming--;
    w->claim_asked -= cc->asked;
    free(cc);
    if (w->draining)
        worker_drain_check(w);
    else if (r)
        maybe_claim(w);
}

/* Ask for a claim: sent once per loop iteration by the prepare watcher,
 * sized to every slot free by then. Claiming straight from each slot
 * release sent claims of one job each, and a claim in flight blocks the
 * next, so batches shrank to a third of their size. */
void
maybe_claim(struct worker *w)
{
    w->want_claim = 1;
}

void
claim_now(struct worker *w)
{
    ev_tstamp now = ev_now(w->loop);
    struct claim_ctx *cc;
    struct wqueue *q = NULL;
    char n[16], vis[24], maxa[16], fmax[24];
    const char *av[5];
    int want, pre = prefetch_target(w);

    if (w->claiming >= CLAIMS_MAX || w->draining ||
        w->nfree <= w->claim_asked ||
        w->js.active + w->js.queued + w->claim_asked >=
            w->cfg->concurrency + pre ||
        !rconn_is_up(w->rc))
        return;
    if (now < w->circuit_until || budget_blocked(w) || limiter_claim_blocked(w))
        return;
    if (w->circuit_probe && (w->claiming > 0 || circuit_probe_out(w)))
        return; /* one probe at a time while the circuit half-opens */
    for (int i = 0; i < w->nq; i++) {
        struct wqueue *c = &w->q[(w->rr + i) % w->nq];
        if (!c->empty && now >= c->paused_until) {
            q = c;
            w->rr = (w->rr + i + 1) % w->nq;
            break;
        }
    }
    if (!q)
        return; /* idle: the wake channel or the idle timer brings us back */
    /* every free slot, and up to --prefetch jobs to wait in line for the
     * next ones: a slot that frees starts its next job at once instead of
     * waiting a claim round trip */
    want = w->cfg->concurrency + pre - w->js.active - w->js.queued -
           w->claim_asked;
    /* Ramp-up (--ramp-up): at start and after being idle, fill the slots
     * evenly over ramp_s instead of all at once, so a thousand calls do not
     * leave in the same millisecond -- and, each one claiming again as it
     * ends, do not come back in the same millisecond either, turn after
     * turn (synchronised waves: the loop then holds each finished job
     * while it works through the whole wave). */
    if (w->cfg->ramp_s > 0 && now - w->ramp_t0 < w->cfg->ramp_s) {
        double f = (now - w->ramp_t0) / w->cfg->ramp_s;
        int cap = (int)(w->cfg->concurrency * f) + 1;
        if (cap - w->js.active - w->js.queued - w->claim_asked < want)
            want = cap - w->js.active - w->js.queued - w->claim_asked;
        if (want <= 0) {
            if (!ev_is_active(&w->ramp_timer)) {
                ev_timer_set(&w->ramp_timer, w->cfg->ramp_s / 50, 0.);
                ev_timer_start(w->loop, &w->ramp_timer);
            }
            return;
        }
    }
    if (want > w->nfree - w->claim_asked)
        want = w->nfree - w->claim_asked;
    if (want > w->cfg->claim_batch)
        want = w->cfg->claim_batch;
    /* two claims in flight, each for at most half the slots: Redis runs
     * one while this loop starts the jobs of the other (double buffering;
     * one claim for every slot left Redis idle meanwhile) */
    if (want > (w->cfg->concurrency + pre + 1) / 2)
        want = (w->cfg->concurrency + pre + 1) / 2;
    if (w->circuit_probe)
        want = 1;
    cc = malloc(sizeof(*cc));
    if (!cc)
        return;
    cc->w = w;
    cc->q = q;
    cc->asked = want;
    snprintf(n, sizeof(n), "%d", want);
    snprintf(vis, sizeof(vis), "%d", w->cfg->visibility_s * 1000);
    snprintf(maxa, sizeof(maxa), "%d", w->cfg->max_attempts);
    av[0] = w->id;
    av[1] = n;
    av[2] = vis;
    av[3] = maxa;
    snprintf(fmax, sizeof(fmax), "%ld", w->cfg->feed_maxlen);
    av[4] = fmax; /* a reaped job that dies reaches the feed with our bound */
    if (rconn_script(w->rc, SCRIPT_CLAIM, &q->keys, 5, av, NULL, on_claim_reply,
                     cc) < 0) {
        free(cc);
        return;
    }
    w->claiming++;
    w->claim_asked += want;
}

void
claim_on_wake(struct rconn *c, const char *channel, const char *msg, void *pd)
{
    struct worker *w = pd;

    (void)c;
    (void)msg;
    for (int i = 0; i < w->nq; i++)
        if (!strcmp(channel, w->q[i].keys.wake))
            w->q[i].empty = 0;
    maybe_claim(w);
}

void
claim_on_ramp_timer(EV_P_ ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    maybe_claim(t->data);
}

void
claim_on_idle_timer(EV_P_ ev_timer *t, int revents)
{
    struct worker *w = t->data;

    (void)loop;
    (void)revents;
    for (int i = 0; i < w->nq; i++)
        w->q[i].empty = 0;
    maybe_claim(w);
}
