/* worker: the genq worker's life cycle (see worker.h) -- creating and
 * freeing it (slots, Redis and HTTP clients, metrics, alerts, timers), the
 * 1-s maintenance tick, Redis reconnects, and the drain on SIGTERM/SIGINT.
 * The rest lives in the files listed in worker_int.h. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pack.h"
#include "timefmt.h"
#include "worker_int.h"

void
wcfg_defaults(struct wcfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->concurrency = 64;
    cfg->claim_batch = -1; /* concurrency / 10 in 100..1000 (settings.c) */
    cfg->intake_batch = 1000;
    cfg->intake_interval_s = 0.2;
    cfg->ramp_s = 0.2;
    cfg->prefetch = -1; /* concurrency / 2, set by worker_new */
    cfg->visibility_s = 60;
    cfg->max_attempts = 5;
    cfg->result_ttl_s = 604800;
    cfg->feed_maxlen = FEED_MAXLEN_DEFAULT;
    cfg->drain_timeout_s = 30;
    cfg->provider = LLM_ANTHROPIC;
    cfg->model = "claude-sonnet-4-5";
    cfg->max_tokens = 2000;
    cfg->stream = 1;
    cfg->timeout_s = 600;
    cfg->connect_timeout_s = 10;
    cfg->stall_timeout_s = 60;
    cfg->max_retries = 3;
    cfg->limit_bytes_per_token = 4.0;
    cfg->breaker_threshold = 5;
    cfg->retry_base_s = 0.5;
    cfg->retry_cap_s = 8.0;
    cfg->max_continuations = 3;
    cfg->price_cw_mtok = -1;
    cfg->price_cr_mtok = -1;
    cfg->anomaly_rate_x = 3;
    cfg->anomaly_job_x = 10;
    cfg->idle_poll_ms = 1000;
    cfg->circuit_max_s = 30.0;
    cfg->job_backoff_base_s = 10.0;
    cfg->dead_alert = 1000;
    cfg->api_error_alert = 20;
    cfg->redis_timeout_s = 10.0;
    cfg->prompt_cache = "off";
    cfg->price_batch_discount = 0.5; /* both providers' batch APIs */
    cfg->batch_size = 10000;
    cfg->batch_wait_s = 60.0;
    cfg->batch_poll_s = 5.0;
    cfg->batch_poll_max_s = 60.0;
}

double
worker_rand01(void)
{
    uint64_t x;

    if (getrandom(&x, sizeof(x), 0) != (ssize_t)sizeof(x))
        x = (uint64_t)clock() * 6364136223846793005ULL;
    return (double)(x >> 11) / 9007199254740992.0;
}

void
worker_noreply(struct rconn *c, redisReply *r, void *pd)
{
    (void)c;
    (void)r;
    (void)pd;
}

static void
on_maint_timer(EV_P_ ev_timer *t, int revents)
{
    struct worker *w = t->data;

    (void)loop;
    (void)revents;
    w->tick++;
    if (!rconn_is_up(w->rc)) {
        double down = rconn_down_for(w->rc);
        metrics_redis_up(w->m, 0);
        if (down > 30.0) {
            char text[128];
            snprintf(text, sizeof(text), "Redis unreachable for %.0f s", down);
            alerts_raise(w->al, ALERT_P0, "redis-down", text);
        }
        return;
    }
    metrics_redis_up(w->m, 1);
    if (w->draining)
        return;
    {
        char vis[24], fmax[24];
        const char *av[2] = {vis, fmax};
        snprintf(vis, sizeof(vis), "%d", w->cfg->visibility_s * 1000);
        snprintf(fmax, sizeof(fmax), "%ld", w->cfg->feed_maxlen);
        for (int i = 0; i < w->nq; i++)
            rconn_script(w->rc, SCRIPT_MAINTAIN, &w->q[i].keys, 2, av, NULL,
                         worker_noreply, NULL);
    }
    /* every 5 s: a worker of an older genq must not run on through an
     * upgrade of the layout */
    if (w->tick % 5 == 2)
        rconn_check_layout(w->rc);
    report_spend(w);
    budget_tick(w);
    anomaly_tick(w);
    if (w->tick % 5 == 1)
        sample_depths(w);
    limiter_tick(w);
    registry_tick(w);
}

void
worker_drain_check(struct worker *w)
{
    /* a claim in flight may bring jobs to hand back; spend not yet
     * reported would be lost from the fleet's budget */
    if (inflight(w) > 0 || w->claiming || w->spend_inflight || batch_busy(w))
        return;
    if (w->spend_pending > 0 && rconn_is_up(w->rc)) {
        report_spend(w);
        if (w->spend_inflight)
            return;
    }
    if (w->claim_lost && rconn_is_up(w->rc) && release_lost(w) == 0)
        return; /* its reply checks again */
    log_kv(LOG_INFO, "drained; exiting", NULL);
    ev_break(w->loop, EVBREAK_ALL);
}

/* Hand every unfinished job back: attempt not counted. */
static void
hand_back(struct worker *w)
{
    w->handed_back = 1;
    start_queued(w); /* draining: straight back to their queues */
    for (int i = 0; i < w->cap; i++) {
        struct wjob *j = &w->slots[i];
        if (j->st == J_RUNNING || j->st == J_WAITING || j->st == J_ADMIT)
            job_finish(j, OUT_REQUEUE,
                       error_doc(DLQ_NOT_JOB_FAULT, 0, "shutdown",
                                 "worker shut down before the attempt "
                                 "finished",
                                 NULL),
                       0);
    }
}

static void
on_drain_timer(EV_P_ ev_timer *t, int revents)
{
    struct worker *w = t->data;

    (void)loop;
    (void)revents;
    if (!w->handed_back) {
        log_kv(LOG_WARN, "drain timeout: handing unfinished jobs back", NULL);
        hand_back(w);
        /* give Redis a few seconds to take them, then stop regardless */
        ev_timer_set(&w->drain_timer, 5.0, 0.);
        ev_timer_start(w->loop, &w->drain_timer);
        return;
    }
    log_kv(LOG_ERROR,
           "could not hand every job back (Redis unreachable?); "
           "their leases will expire",
           NULL);
    w->exit_code = 1;
    ev_break(w->loop, EVBREAK_ALL);
}

void
worker_drain(struct worker *w)
{
    char s[16];

    if (w->draining) {
        /* a second signal: hand back at once */
        if (!w->handed_back)
            hand_back(w);
        return;
    }
    w->draining = 1;
    intake_stop(w->intake);
    batch_drain(w);
    snprintf(s, sizeof(s), "%d", inflight(w));
    log_kv(LOG_INFO, "draining: claiming stopped", "in_flight", s, NULL);
    if (rconn_is_up(w->rc))
        registry_beat(w, 1);
    ev_timer_stop(w->loop, &w->idle_timer);
    ev_timer_stop(w->loop, &w->ramp_timer);
    ev_timer_stop(w->loop, &w->maint_timer);
    ev_timer_set(&w->drain_timer, (double)w->cfg->drain_timeout_s, 0.);
    ev_timer_start(w->loop, &w->drain_timer);
    if (w->cfg->drain_timeout_s == 0)
        hand_back(w);
    worker_drain_check(w);
}

static void
on_signal(EV_P_ ev_signal *s, int revents)
{
    (void)loop;
    (void)revents;
    worker_drain(s->data);
}

int
worker_exit_code(const struct worker *w)
{
    return w->exit_code;
}

static void
on_rc_state(struct rconn *c, int up, void *ud)
{
    struct worker *w = ud;

    (void)c;
    metrics_redis_up(w->m, up);
    if (up) {
        limiter_on_up(w);
        for (int i = 0; i < w->nq; i++)
            w->q[i].empty = 0;
        alerts_flush(w->al);
        intake_kick(w->intake);
        /* leases ran on while Redis was away: extend them before anyone's
         * reaper sees them expire */
        for (int i = 0; i < w->nq; i++)
            heartbeat_queue(w, &w->q[i]);
        budget_connected(w); /* caps known before any claim reply */
        /* sentinel://: a failover may have lost finished writes (the old
         * master acknowledged them, the new one never got them): hand back
         * the jobs still leased to us that we no longer hold */
        if (w->cfg->redis.snt.n)
            w->claim_lost = 1;
        if (w->claim_lost && !w->claiming && release_lost(w) == 0)
            return;
        maybe_claim(w);
    }
}

struct worker *
worker_new(struct ev_loop *loop, const struct wcfg *cfg)
{
    struct worker *w = calloc(1, sizeof(*w));
    char host[64] = "host";
    unsigned short rnd = 0;
    const char *path;
    size_t n;

    if (!w)
        return NULL;
    w->loop = loop;
    w->cfg = cfg;
    gethostname(host, sizeof(host) - 1);
    if (getrandom(&rnd, sizeof(rnd), 0) < 0)
        rnd = (unsigned short)getpid();
    snprintf(w->id, sizeof(w->id), "%s:%d:%04x", host, (int)getpid(), rnd);
    for (char *p = w->id; *p; p++)
        if (*p == '|')
            *p = '_';
    log_set_worker(w->id);
    retry_policy_default(&w->rp);
    w->rp.base_s = cfg->retry_base_s;
    w->rp.cap_s = cfg->retry_cap_s;
    w->rp.max_retries = cfg->max_retries;
    w->nq = cfg->nqueues;
    for (int i = 0; i < w->nq; i++) {
        if (qkeys_init(&w->q[i].keys, cfg->queues[i]) < 0)
            goto fail;
        w->q[i].w = w;
        w->q[i].ptail = &w->q[i].pending;
    }
    /* Twice the slots of --concurrency: a job whose outcome is on its way
     * to Redis frees its share of the concurrency at once, so the next
     * claim is pipelined behind the completion instead of waiting for its
     * reply (Redis never idles between batches); plus --prefetch for the
     * jobs claimed ahead. */
    w->prefetch = cfg->prefetch >= 0 ? cfg->prefetch : cfg->concurrency / 2;
    w->qtail = &w->qhead;
    w->cap = 2 * cfg->concurrency + w->prefetch;
    w->pk = packer_new(); /* NULL: pack_decode() makes a stream per job */
    w->slots = calloc((size_t)w->cap, sizeof(*w->slots));
    w->freelist = calloc((size_t)w->cap, sizeof(int));
    if (!w->slots || !w->freelist)
        goto fail;
    /* slot 0 first; a slot is set up on its first use (slot_pop), so the
     * pages of slots never needed at once stay untouched (at 10,000 slots
     * of concurrency, 2/3 of the pool) */
    for (int i = 0; i < w->cap; i++)
        w->freelist[w->nfree++] = w->cap - 1 - i;
    if (cfg->provider != LLM_NOOP) {
        struct llm_req_opts o = {cfg->provider, "m", 1, 0, 0};
        cJSON *probe = cJSON_CreateObject();
        char *b;
        if (!probe)
            goto fail;
        cJSON_AddStringToObject(probe, "prompt", "x");
        b = llm_build_body(&o, probe, NULL, 0, &path);
        cJSON_Delete(probe);
        free(b);
        n = strlen(cfg->api_base) + strlen(path) + 1;
        w->url = malloc(n);
        if (!w->url)
            goto fail;
        snprintf(w->url, n, "%s%s", cfg->api_base, path);
        if (w->url[strlen(cfg->api_base) - 1] == '/' && path[0] == '/')
            memmove(w->url + strlen(cfg->api_base) - 1,
                    w->url + strlen(cfg->api_base), strlen(path) + 1);
    }
    if (cfg->auth == AUTH_JWT) {
        char err[512];
        w->jwt = jwtmint_new(&cfg->jwt, err, sizeof(err));
        if (!w->jwt) {
            log_kv(LOG_ERROR, "JWT configuration", "error", err, NULL);
            goto fail;
        }
    }
    if (build_headers(w, w->jwt ? jwtmint_token(w->jwt, time(NULL), 0, NULL)
                                : NULL) < 0)
        goto fail;
    w->http = http_new(loop, (long)cfg->concurrency + 16);
    if (!w->http)
        goto fail;
    w->started_ms = time_now_ms();
    {
        const char *qn[WORKER_MAX_QUEUES];
        for (int i = 0; i < w->nq; i++)
            qn[i] = w->q[i].keys.queue;
        w->m = metrics_new(qn, w->nq);
        if (!w->m)
            goto fail;
    }
    if (cfg->metrics_addr) {
        char err[512];
        if (metrics_listen(w->m, cfg->metrics_addr, err, sizeof(err)) < 0) {
            log_kv(LOG_ERROR, "metrics endpoint", "error", err, NULL);
            goto fail;
        }
        log_kv(LOG_INFO, "metrics endpoint listening", "addr",
               cfg->metrics_addr, NULL);
    }
    if (limiter_new(w) < 0)
        goto fail;
    w->rc = rconn_new(loop, &cfg->redis, "main", 1, on_rc_state, w);
    w->sub = rconn_new(loop, &cfg->redis, "wake", 0, NULL, w);
    if (!w->rc || !w->sub)
        goto fail;
    rconn_set_timeout(w->rc, cfg->redis_timeout_s);
    w->al = alerts_new(loop, w->rc, w->http, w->m, cfg->alert_webhook, w->id);
    if (!w->al || budget_init(w) < 0 || anomaly_init(w) < 0)
        goto fail;
    if (review_setup(w) < 0) /* review_job.c, pcache.c, tmplstats.c */
        goto fail;
    w->pc = pcache_new(w);
    w->ts = tmplstats_new(w);
    for (int i = 0; i < w->nq; i++)
        if (rconn_subscribe(w->sub, w->q[i].keys.wake, claim_on_wake, w) < 0)
            goto fail;
    w->intake = intake_new(w);
    if (!w->intake || batch_init(w) < 0)
        goto fail;

    ev_timer_init(&w->idle_timer, claim_on_idle_timer,
                  (double)cfg->idle_poll_ms / 1000.0,
                  (double)cfg->idle_poll_ms / 1000.0);
    w->idle_timer.data = w;
    ev_timer_start(loop, &w->idle_timer);
    ev_timer_init(&w->ramp_timer, claim_on_ramp_timer, 0., 0.);
    w->ramp_timer.data = w;
    w->ramp_t0 = ev_now(loop);
    ev_timer_init(&w->hb_timer, lease_on_hb_timer, cfg->visibility_s / 3.0,
                  cfg->visibility_s / 3.0);
    w->hb_timer.data = w;
    ev_timer_start(loop, &w->hb_timer);
    ev_timer_init(&w->maint_timer, on_maint_timer, 1.0, 1.0);
    w->maint_timer.data = w;
    ev_timer_start(loop, &w->maint_timer);
    ev_timer_init(&w->drain_timer, on_drain_timer, 0., 0.);
    w->drain_timer.data = w;
    ev_prepare_init(&w->flush_w, flush_on_prepare);
    w->flush_w.data = w;
    ev_prepare_start(loop, &w->flush_w);
    ev_signal_init(&w->sig_term, on_signal, SIGTERM);
    w->sig_term.data = w;
    ev_signal_start(loop, &w->sig_term);
    ev_signal_init(&w->sig_int, on_signal, SIGINT);
    w->sig_int.data = w;
    ev_signal_start(loop, &w->sig_int);
    return w;
fail:
    worker_free(w);
    return NULL;
}

void
worker_free(struct worker *w)
{
    if (!w)
        return;
    w->freeing = 1;
    if (w->slots)
        for (int i = 0; i < w->cap; i++)
            if (w->slots[i].st != J_FREE) {
                w->slots[i].lost = 1;
                slot_release(&w->slots[i]);
            }
    /* Redis first: pending callbacks run with NULL and may touch slots. */
    intake_stop(w->intake);
    alerts_free(w->al);
    rconn_free(w->rc);
    intake_free(w->intake);
    rconn_free(w->sub);
    batch_free(w);
    limiter_free(w);
    http_free(w->http);
    metrics_free(w->m);
    ev_timer_stop(w->loop, &w->idle_timer);
    ev_timer_stop(w->loop, &w->ramp_timer);
    ev_timer_stop(w->loop, &w->hb_timer);
    ev_timer_stop(w->loop, &w->maint_timer);
    ev_timer_stop(w->loop, &w->drain_timer);
    ev_prepare_stop(w->loop, &w->flush_w);
    ev_signal_stop(w->loop, &w->sig_term);
    ev_signal_stop(w->loop, &w->sig_int);
    budget_free(w);
    anomaly_free(w);
    review_teardown(w);
    pcache_free(w->pc);
    tmplstats_free(w->ts);
    hdrs_unref(w->hdrs);
    jwtmint_free(w->jwt);
    packer_free(w->pk);
    free(w->url);
    free(w->slots);
    free(w->freelist);
    free(w);
}
