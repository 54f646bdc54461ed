/* limiter: the worker's side of the fleet-wide rate limiter
 * (common/lua/limiter.lua): before each try reserve 1 request, the input
 * token estimate and the output estimate of the worker's limit key (provider
 * + API base + model class); after it settle against the usage (refund or
 * debt) and pass on the rate-limit headers to learn from; a 429 sets the
 * key's cooldown; failures that are the API's fault feed the fleet's one
 * circuit breaker. A try that is not admitted waits in J_ADMIT on a timer
 * until the time the script named (lease heartbeated, attempt not counted).
 * The reserves and settles of one loop iteration go out together
 * (limiter_flush). Off for the noop provider: then nothing here runs. */
#ifndef GENQ_LIMITER_H
#define GENQ_LIMITER_H

#include <stddef.h>

#include <ev.h>

#include "ratehdr.h"

struct worker;
struct wjob;
struct wcfg;

/* A job slot's limiter state (struct wjob.lj): plain data, nothing owned. */
struct lim_job {
    long in_est, out_est; /* what the current reservation holds */
    int admitted;         /* the next try may start (reserved) */
    int reserved;         /* a reservation to settle after the try */
    int probe;            /* the try is the fleet breaker's probe */
    int unmetered;        /* admitted with no bucket metered ("free") */
    struct ratehdr hdr;   /* rate-limit headers of the current response */
};

/* The worker's limiter (w->lim). Owned by the worker; NULL when off. */
struct limiter;

/* The limit key id of cfg's calls (keys.h key_limit_id: provider, API
 * base, --model-class or else --model) into out: the key limiter.lua and
 * the spend anomalies (anomaly.c) keep their state under. */
void limiter_key_id(const struct wcfg *cfg, char *out, size_t n);
/* Make w->lim (NULL for the noop provider). 0, or -1 on out-of-memory. */
int limiter_new(struct worker *w);
void limiter_free(struct worker *w);
/* Redis (re)connected: register the key, store the configured limits. */
void limiter_on_up(struct worker *w);

/* Before a try: 1 when it may start now (limiter off, admitted, or far
 * enough from every limit that its reservation may follow: the room the
 * last reserve_n reply named), 0 when j went to J_ADMIT (job_start_try()
 * runs again once admitted, or the job is finished meanwhile). */
int limiter_admit(struct wjob *j);
/* After a try: settle its reservation (ok: the usage in j->res counts;
 * else tokens refunded) and pass on the learned headers. */
void limiter_settle(struct wjob *j, int ok);
/* Once per loop iteration (flush.c's prepare watcher): send the
 * reservations asked for (reserve_n calls) and the settles summed (one
 * settle call) since the last time. */
void limiter_flush(struct worker *w);
/* A 429: the fleet-wide cooldown of the key (hint_s < 0: backoff). */
void limiter_cooldown(struct wjob *j, double hint_s);
/* A failure that is the API's fault (5xx, transport): feeds the fleet
 * breaker. Returns 1 when the try must not count: j was the breaker's
 * probe, or the breaker was known open (the limiter holds the retry until
 * the next probe succeeds). Failures before it opens count as usual. */
int limiter_api_failed(struct wjob *j, double hint_s);
/* The local circuit opened (circuit.c): open the fleet's too. */
void limiter_breaker_open(struct worker *w, double hint_s);
/* Whether claiming should wait: jobs wait for admission, or the key is in
 * cooldown or its breaker is open. */
int limiter_claim_blocked(const struct worker *w);

/* Every 5 s with --metrics on: sample the key's bucket levels into the
 * genq_limiter_bucket_level gauges (one Redis call; none without metrics). */
void limiter_tick(struct worker *w);

/* The header callback of a try's request (http_ev.h on_hdr). */
struct http_req;
void limiter_on_hdr(struct http_req *r, const char *line, size_t n);

#endif
