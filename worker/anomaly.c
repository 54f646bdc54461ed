/* anomaly: P1 alerts on abnormal spend. (1) A limit key's token spend over
 * the last 10 minutes above --anomaly-rate-multiple times its trailing
 * average per 10 minutes (over up to 24 h of per-minute buckets in Redis,
 * common/lua/anomaly.lua; the fleet's one alert per key per 10 minutes).
 * The limit key is the model id (the default mapping of issue 13's
 * limiter). (2) One job's output tokens above --anomaly-job-multiple times
 * the median of its queue's recent jobs (a ring of the last
 * ANOMALY_SAMPLE results per queue in this process). 0 turns either off. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "rclient.h"
#include "worker_int.h"

#define ANOMALY_KEYS      8   /* limit keys with spend waiting for the tick */
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
    struct {
        char key[128];
        long pend;
    } k[ANOMALY_KEYS];
    int nk;
    struct ring q[WORKER_MAX_QUEUES];
};

int
anomaly_init(struct worker *w)
{
    w->an = calloc(1, sizeof(*w->an));
    return w->an ? 0 : -1;
}

void
anomaly_free(struct worker *w)
{
    free(w->an);
    w->an = NULL;
}

/* The limit key of j's calls. */
static const char *
limit_key(const struct wjob *j)
{
    cJSON *m = cJSON_GetObjectItemCaseSensitive(j->job, "model");

    return cJSON_IsString(m) ? m->valuestring : j->w->cfg->model;
}

void
anomaly_tokens(struct worker *w, const struct wjob *j, long tok)
{
    struct anomaly *a = w->an;
    const char *key = limit_key(j);
    int i;

    if (!a || w->cfg->anomaly_rate_x <= 0 || tok <= 0 ||
        strlen(key) >= sizeof(a->k[0].key))
        return;
    for (i = 0; i < a->nk && strcmp(a->k[i].key, key) != 0; i++)
        ;
    if (i == a->nk) {
        if (a->nk == ANOMALY_KEYS)
            return; /* more models than slots this tick: the next one */
        snprintf(a->k[a->nk++].key, sizeof(a->k[0].key), "%s", key);
    }
    a->k[i].pend += tok;
}

struct rate_ctx {
    struct worker *w;
    char key[128];
};

static void
on_rate(struct rconn *c, redisReply *r, void *pd)
{
    struct rate_ctx *k = pd;
    char text[512];

    (void)c;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
        r->element[2]->integer == 1) {
        snprintf(text, sizeof(text),
                 "spend anomaly on %s: %s tokens in the last %d minutes, "
                 "over %g x the trailing average of %s per %d minutes",
                 k->key, r->element[0]->str, ANOMALY_WIN_MIN,
                 k->w->cfg->anomaly_rate_x, r->element[1]->str,
                 ANOMALY_WIN_MIN);
        alerts_raise(k->w->al, ALERT_P1, "anomaly-rate", text);
    }
    free(k);
}

void
anomaly_tick(struct worker *w)
{
    struct anomaly *a = w->an;

    if (!a || w->tick % ANOMALY_EVERY != 0 || !rconn_is_up(w->rc))
        return;
    for (int i = 0; i < a->nk; i++) {
        char bk[sizeof(KEY_ANOMALY_RATE_PREFIX) + 130];
        char ak[sizeof(KEY_ANOMALY_SEEN_PREFIX) + 130];
        char add[24], mult[32], win[8], hist[8], least[8], ttl[16];
        const char *keys[2] = {bk, ak};
        const char *av[7] = {"-", add, mult, win, hist, least, ttl};
        const struct skeys sk = {2, keys, av[0]};
        struct rate_ctx *k = malloc(sizeof(*k));

        if (!k)
            goto keep;
        k->w = w;
        snprintf(k->key, sizeof(k->key), "%s", a->k[i].key);
        key_anomaly(bk, sizeof(bk), KEY_ANOMALY_RATE_PREFIX, a->k[i].key);
        key_anomaly(ak, sizeof(ak), KEY_ANOMALY_SEEN_PREFIX, a->k[i].key);
        snprintf(add, sizeof(add), "%ld", a->k[i].pend);
        snprintf(mult, sizeof(mult), "%g", w->cfg->anomaly_rate_x);
        snprintf(win, sizeof(win), "%d", ANOMALY_WIN_MIN);
        snprintf(hist, sizeof(hist), "%d", ANOMALY_HIST_MIN);
        snprintf(least, sizeof(least), "%d", ANOMALY_LEAST_MIN);
        snprintf(ttl, sizeof(ttl), "%d", ANOMALY_WIN_MIN * 60);
        if (rconn_script_keys(w->rc, SCRIPT_ANOMALY, &sk, 6, av + 1, NULL,
                              on_rate, k) < 0) {
            free(k);
            goto keep;
        }
        continue;
    keep: /* keys 0..i-1 were sent: keep the rest for the next tick */
        memmove(&a->k[0], &a->k[i], (size_t)(a->nk - i) * sizeof(a->k[0]));
        a->nk -= i;
        return;
    }
    a->nk = 0;
}

static int
cmp_long(const void *x, const void *y)
{
    long a = *(const long *)x, b = *(const long *)y;

    return (a > b) - (a < b);
}

long
anomaly_median(const long *s, int n)
{
    long t[ANOMALY_SAMPLE];

    if (n <= 0)
        return 0;
    if (n > ANOMALY_SAMPLE)
        n = ANOMALY_SAMPLE;
    memcpy(t, s, sizeof(*s) * (size_t)n);
    qsort(t, (size_t)n, sizeof(*t), cmp_long);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
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
