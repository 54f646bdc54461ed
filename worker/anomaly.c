/* anomaly: P1 alerts on abnormal spend. (1) A limit key's token spend over
 * the last 10 minutes above --anomaly-rate-multiple times its trailing
 * average per 10 minutes (over up to 24 h of per-minute buckets in Redis,
 * common/lua/anomaly.lua; the fleet's one alert per key per 10 minutes).
 * The limit key is the limiter's (limiter_key_id(): provider, API base,
 * model class), whatever model each job names. (2) One job's output tokens
 * above --anomaly-job-multiple times the median of its queue's recent jobs (a
 * ring of the last ANOMALY_SAMPLE results per queue in this process). 0 turns
 * either off. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "rclient.h"
#include "worker_int.h"

#define ANOMALY_SAMPLE    101 /* results kept per queue for the median */
#define ANOMALY_MIN       20  /* results before any verdict on a job */
#define ANOMALY_EVERY     5   /* ticks (s) between bucket updates */
#define ANOMALY_WIN_MIN   10
#define ANOMALY_HIST_MIN  1440
#define ANOMALY_LEAST_MIN 30 /* history before any verdict on a rate */

struct ring {
    long s[ANOMALY_SAMPLE];
    int n, at;
};

struct anomaly {
    char key[600]; /* the worker's limit key id (all its calls) */
    long pend;     /* its tokens waiting for the tick */
    struct ring q[WORKER_MAX_QUEUES];
};

int
anomaly_init(struct worker *w)
{
    w->an = calloc(1, sizeof(*w->an));
    if (!w->an)
        return -1;
    limiter_key_id(w->cfg, w->an->key, sizeof(w->an->key));
    return 0;
}

void
anomaly_free(struct worker *w)
{
    free(w->an);
    w->an = NULL;
}

void
anomaly_tokens(struct worker *w, const struct wjob *j, long tok)
{
    (void)j; /* every call of this worker goes to its one limit key */
    if (w->an && w->cfg->anomaly_rate_x > 0 && tok > 0)
        w->an->pend += tok;
}

struct rate_ctx {
    struct worker *w;
};

static void
on_rate(struct rconn *c, redisReply *r, void *pd)
{
    struct rate_ctx *k = pd;
    char text[1024];

    (void)c;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
        r->element[2]->integer == 1) {
        snprintf(text, sizeof(text),
                 "spend anomaly on %.600s: %.40s tokens in the last %d "
                 "minutes, over %g x the trailing average of %.40s per %d "
                 "minutes",
                 k->w->an ? k->w->an->key : "?", r->element[0]->str,
                 ANOMALY_WIN_MIN, k->w->cfg->anomaly_rate_x, r->element[1]->str,
                 ANOMALY_WIN_MIN);
        alerts_raise(k->w->al, ALERT_P1, "anomaly-rate", text);
    }
    free(k);
}

void
anomaly_tick(struct worker *w)
{
    struct anomaly *a = w->an;
    char bk[sizeof(KEY_ANOMALY_RATE_PREFIX) + sizeof(a->key) + 2];
    char ak[sizeof(KEY_ANOMALY_SEEN_PREFIX) + sizeof(a->key) + 2];
    char add[24], mult[32], win[8], hist[8], least[8], ttl[16];
    const char *keys[2] = {bk, ak};
    const char *av[7] = {"-", add, mult, win, hist, least, ttl};
    const struct skeys sk = {2, keys, av[0]};
    struct rate_ctx *k;

    if (!a || a->pend <= 0 || w->tick % ANOMALY_EVERY != 0 ||
        !rconn_is_up(w->rc))
        return;
    k = malloc(sizeof(*k));
    if (!k)
        return; /* kept for the next tick */
    k->w = w;
    key_anomaly(bk, sizeof(bk), KEY_ANOMALY_RATE_PREFIX, a->key);
    key_anomaly(ak, sizeof(ak), KEY_ANOMALY_SEEN_PREFIX, a->key);
    snprintf(add, sizeof(add), "%ld", a->pend);
    snprintf(mult, sizeof(mult), "%g", w->cfg->anomaly_rate_x);
    snprintf(win, sizeof(win), "%d", ANOMALY_WIN_MIN);
    snprintf(hist, sizeof(hist), "%d", ANOMALY_HIST_MIN);
    snprintf(least, sizeof(least), "%d", ANOMALY_LEAST_MIN);
    snprintf(ttl, sizeof(ttl), "%d", ANOMALY_WIN_MIN * 60);
    if (rconn_script_keys(w->rc, SCRIPT_ANOMALY, &sk, 6, av + 1, NULL, on_rate,
                          k) < 0) {
        free(k); /* kept for the next tick */
        return;
    }
    a->pend = 0;
}

/* The k-th smallest of t[0..n) (t reordered): quickselect, O(n). A qsort
 * of the 101 samples for every finished job was a tenth of the worker's
 * instructions at 10,000 streams (callgrind). */
static long
select_kth(long *t, int n, int k)
{
    int lo = 0, hi = n - 1;

    while (lo < hi) {
        long pivot = t[lo + (hi - lo) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (t[i] < pivot)
                i++;
            while (t[j] > pivot)
                j--;
            if (i <= j) {
                long x = t[i];
                t[i++] = t[j];
                t[j--] = x;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return t[k];
    }
    return t[k];
}

long
anomaly_median(const long *s, int n)
{
    long t[ANOMALY_SAMPLE], hi, lo;

    if (n <= 0)
        return 0;
    if (n > ANOMALY_SAMPLE)
        n = ANOMALY_SAMPLE;
    memcpy(t, s, sizeof(*s) * (size_t)n);
    hi = select_kth(t, n, n / 2);
    if (n % 2)
        return hi;
    /* even: the largest below the upper middle (t[0..n/2) holds them) */
    lo = t[0];
    for (int i = 1; i < n / 2; i++)
        if (t[i] > lo)
            lo = t[i];
    return (lo + hi) / 2;
}

void
anomaly_job(struct worker *w, const struct wjob *j)
{
    struct anomaly *a = w->an;
    struct ring *g;
    long med;

    if (!a || w->cfg->anomaly_job_x <= 0 || j->cached)
        return;
    g = &a->q[j->q - w->q];
    med = g->n >= ANOMALY_MIN ? anomaly_median(g->s, g->n) : 0;
    if (med > 0 &&
        (double)j->out_tokens > w->cfg->anomaly_job_x * (double)med) {
        char text[512], key[QUEUE_NAME_MAX + 16];
        snprintf(text, sizeof(text),
                 "job %s of queue %s used %ld output tokens, over %g x the "
                 "queue's median of %ld",
                 j->id, j->q->keys.queue, j->out_tokens, w->cfg->anomaly_job_x,
                 med);
        snprintf(key, sizeof(key), "anomaly-job:%s", j->q->keys.queue);
        alerts_raise(w->al, ALERT_P1, key, text);
    }
    g->s[g->at] = j->out_tokens;
    g->at = (g->at + 1) % ANOMALY_SAMPLE;
    if (g->n < ANOMALY_SAMPLE)
        g->n++;
}
