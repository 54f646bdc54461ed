/* genq dashboard: the sampler every viewer shares. One thread reads the
 * stats documents (stats_docs(), what `genq stats --json` prints) and the
 * worker documents (workers_docs()) at most once a second, and only while
 * someone looks (else every 10 s, for the charts' history); viewers get the
 * latest sample, so N open pages cost Redis what one `genq stats` a second
 * costs. Each sample of each queue goes into a ring of the last hour, from
 * which the charts' series (throughput, latency, depth) are cut. */
#include "fmacros.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dash.h"
#include "docs.h"
#include "limits_budget.h"
#include "rclient.h"
#include "timefmt.h"

#define IDLE_EVERY_MS 10000
#define LIVE_EVERY_MS 1000
#define WAIT_FRESH_MS 3000
#define SERIES_POINTS 360
#define HOUR_MS       3600000
#define LIMITS_EVERY  5 /* samples: the limit keys and the budget */

static double
num(const cJSON *o, const char *k, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* The ring of queue q, made when new; NULL on out of memory. Under mu. */
static struct dash_ring *
ring_of(struct dash_sampler *s, const char *q)
{
    struct dash_ring **g, *r;

    for (int i = 0; i < s->nrings; i++)
        if (!strcmp(s->rings[i]->queue, q))
            return s->rings[i];
    g = realloc(s->rings, sizeof(struct dash_ring *) * (size_t)(s->nrings + 1));
    if (!g)
        return NULL;
    s->rings = g;
    r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    snprintf(r->queue, sizeof(r->queue), "%s", q);
    s->rings[s->nrings++] = r;
    return r;
}

/* Add the documents of one sample to the rings. Under mu. */
static void
record(struct dash_sampler *s, const cJSON *docs, int64_t now)
{
    const cJSON *d;

    cJSON_ArrayForEach(d, docs)
    {
        const char *q =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "queue"));
        struct dash_ring *r = q ? ring_of(s, q) : NULL;
        struct dash_point *p;

        if (!r)
            continue;
        p = &r->v[r->head];
        p->t_ms = now;
        p->succeeded = num(d, "succeeded", 0);
        p->died = num(d, "died", 0);
        p->ready = num(d, "ready", 0);
        p->active = num(d, "active", 0);
        p->dead = num(d, "dead", 0);
        p->p50 = num(d, "latency_p50_ms", -1);
        p->p95 = num(d, "latency_p95_ms", -1);
        r->head = (r->head + 1) % DASH_RING;
        if (r->n < DASH_RING)
            r->n++;
    }
}

/* What `genq limits --json` prints (each limit key's document with the
 * fleet's budget), as an array, and what `genq budget --json` prints: JSON
 * texts into *limits and *budget (the caller's). 0, or -1. */
static int
take_limits(struct cli *c, char **limits, char **budget)
{
    cJSON *b = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    redisReply *r = NULL;
    char err[256];
    int ok = b && arr &&
             limits_budget_section(cli_rc(c, KEY_BUDGET_CAPS), b, err,
                                   sizeof(err)) == 0;

    if (ok) {
        r = rclient_command(cli_rc(c, KEY_LIMITS), "SMEMBERS %s", KEY_LIMITS);
        ok = r && r->type == REDIS_REPLY_ARRAY;
    }
    for (size_t i = 0; ok && i < r->elements; i++) {
        cJSON *o = limits_doc_key(c, r->element[i]->str);
        cJSON *bd = cJSON_Duplicate(cJSON_GetObjectItem(b, "budget"), 1);
        ok = o && bd && cJSON_AddItemToObject(o, "budget", bd);
        if (!ok)
            cJSON_Delete(bd);
        if (!ok || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            ok = 0;
        }
    }
    if (r)
        freeReplyObject(r);
    *limits = ok ? cJSON_PrintUnformatted(arr) : NULL;
    *budget = ok ? cJSON_PrintUnformatted(b) : NULL;
    cJSON_Delete(arr);
    cJSON_Delete(b);
    if (*limits && *budget)
        return 0;
    cJSON_free(*limits);
    cJSON_free(*budget);
    *limits = *budget = NULL;
    return -1;
}

/* Read one sample: JSON texts of the stats and worker documents (owned by
 * the caller) and the stats array (caller deletes). 0, or -1 with err. */
static int
take(struct dash_sampler *s, struct cli *c, char **queues, char **workers,
     cJSON **docs, char *err, size_t errlen)
{
    cJSON *w = NULL;

    *queues = *workers = NULL;
    *docs = NULL;
    if (!c->rc && cli_connect_err(c, err, errlen) < 0)
        return -1;
    *docs = stats_docs(c, s->dead_warn, "dashboard");
    w = *docs ? cJSON_CreateArray() : NULL;
    if (!w || workers_docs(c, s->stale, 0, w, "dashboard") < 0 ||
        !(*queues = cJSON_PrintUnformatted(*docs)) ||
        !(*workers = cJSON_PrintUnformatted(w))) {
        snprintf(err, errlen, "redis: reading the stats failed (%s)",
                 c->rc && c->rc->err ? c->rc->errstr : "see the log");
        cJSON_Delete(w);
        cJSON_Delete(*docs);
        *docs = NULL;
        cJSON_free(*queues);
        *queues = NULL;
        cli_close(c); /* connect again next time */
        return -1;
    }
    cJSON_Delete(w);
    return 0;
}

static void
deadline_in(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *
run(void *arg)
{
    struct dash_sampler *s = arg;
    struct cli c;

    cli_init(&c);
    c.redis_url = s->redis_url;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        int64_t now = time_now_ms(), due;
        char *queues, *workers, *limits, *budget, err[256];
        cJSON *docs;
        int rc;

        due = s->at_ms + (now - s->last_view_ms < DASH_VIEW_IDLE_MS
                              ? LIVE_EVERY_MS
                              : IDLE_EVERY_MS);
        if (s->at_ms && now < due) {
            struct timespec ts;
            deadline_in(&ts, due - now);
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
            continue; /* woken by a viewer, or due: decide again */
        }
        pthread_mutex_unlock(&s->mu);
        rc = take(s, &c, &queues, &workers, &docs, err, sizeof(err));
        limits = budget = NULL;
        if (rc == 0 && s->seq % LIMITS_EVERY == 0 &&
            take_limits(&c, &limits, &budget) < 0) {
            snprintf(err, sizeof(err), "redis: reading the limits failed");
            rc = -1;
        }
        now = time_now_ms();
        pthread_mutex_lock(&s->mu);
        s->at_ms = now;
        s->seq++;
        if (rc == 0) {
            cJSON_free(s->queues);
            cJSON_free(s->workers);
            s->queues = queues;
            s->workers = workers;
            if (limits) {
                cJSON_free(s->limits);
                cJSON_free(s->budget);
                s->limits = limits;
                s->budget = budget;
            }
            s->err[0] = '\0';
            record(s, docs, now);
            cJSON_Delete(docs);
        } else {
            snprintf(s->err, sizeof(s->err), "%s", err);
            cJSON_free(queues);
            cJSON_free(workers);
            cJSON_Delete(docs);
        }
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    cli_close(&c);
    return NULL;
}

int
dash_sampler_start(struct dash_sampler *s, const char *redis_url,
                   long dead_warn, char *err, size_t errlen)
{
    pthread_condattr_t ca;

    memset(s, 0, sizeof(*s));
    s->redis_url = redis_url;
    s->dead_warn = dead_warn;
    s->stale = 30;
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        snprintf(err, errlen, "pthread init failed");
        return -1;
    }
    if (pthread_condattr_init(&ca) != 0) {
        pthread_mutex_destroy(&s->mu);
        snprintf(err, errlen, "pthread init failed");
        return -1;
    }
    if (pthread_cond_init(&s->cv, &ca) != 0) {
        pthread_condattr_destroy(&ca);
        pthread_mutex_destroy(&s->mu);
        snprintf(err, errlen, "pthread init failed");
        return -1;
    }
    pthread_condattr_destroy(&ca);
    if (pthread_create(&s->thread, NULL, run, s) != 0) {
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        snprintf(err, errlen, "cannot start the sampler thread");
        return -1;
    }
    s->started = 1;
    return 0;
}

void
dash_sampler_stop(struct dash_sampler *s)
{
    if (s->started) {
        pthread_mutex_lock(&s->mu);
        s->stop = 1;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
    }
    for (int i = 0; i < s->nrings; i++)
        free(s->rings[i]);
    free(s->rings);
    cJSON_free(s->queues);
    cJSON_free(s->workers);
    cJSON_free(s->limits);
    cJSON_free(s->budget);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
}

char *
dash_sampler_read(struct dash_sampler *s, enum dash_sample which, char *err,
                  size_t errlen)
{
    char *text;
    int64_t now = time_now_ms();
    char *out = NULL;
    struct timespec ts;

    deadline_in(&ts, WAIT_FRESH_MS);
    pthread_mutex_lock(&s->mu);
    s->last_view_ms = now;
    if (now - s->at_ms > LIVE_EVERY_MS)
        pthread_cond_broadcast(&s->cv); /* the sampler: a viewer is here */
    /* The latest sample answers at once (the next read a second later gets
     * the fresh one); only a dashboard without any waits for its first. */
    while (!s->at_ms && !s->stop)
        if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) == ETIMEDOUT)
            break;
    text = which == DASH_QUEUES    ? s->queues
           : which == DASH_WORKERS ? s->workers
           : which == DASH_LIMITS  ? s->limits
                                   : s->budget;
    if (s->err[0])
        snprintf(err, errlen, "%s", s->err);
    else if (!text)
        snprintf(err, errlen, "no sample yet (Redis slow?)");
    else if (!(out = strdup(text)))
        snprintf(err, errlen, "out of memory");
    pthread_mutex_unlock(&s->mu);
    return out;
}

/* Add point p (throughput since prev when prev) to the series arrays. */
static int
series_add(cJSON *arr, const struct dash_point *p,
           const struct dash_point *prev)
{
    cJSON *o = cJSON_CreateObject();
    char ts[32];
    int bad = 0;
    double dt = prev ? (double)(p->t_ms - prev->t_ms) / 1000.0 : 0;

    timefmt_rfc3339(p->t_ms, ts);
    ops_jstr(o, "at", ts, &bad);
    if (prev && dt > 0) {
        double v = (p->succeeded - prev->succeeded) / dt;
        double dv = (p->died - prev->died) / dt;
        ops_jnum(o, "completed_per_s",
                 v < 0 ? 0 : (double)(long)(v * 100) / 100, &bad);
        ops_jnum(o, "died_per_s", dv < 0 ? 0 : (double)(long)(dv * 100) / 100,
                 &bad);
    } else {
        ops_jnull(o, "completed_per_s", &bad);
        ops_jnull(o, "died_per_s", &bad);
    }
    if (p->p50 >= 0) {
        ops_jnum(o, "latency_p50_ms", p->p50, &bad);
        ops_jnum(o, "latency_p95_ms", p->p95, &bad);
    } else {
        ops_jnull(o, "latency_p50_ms", &bad);
        ops_jnull(o, "latency_p95_ms", &bad);
    }
    ops_jnum(o, "ready", p->ready, &bad);
    ops_jnum(o, "active", p->active, &bad);
    ops_jnum(o, "dead", p->dead, &bad);
    if (bad || !cJSON_AddItemToArray(arr, o)) {
        cJSON_Delete(o);
        return -1;
    }
    return 0;
}

cJSON *
dash_sampler_series(struct dash_sampler *s, const char *queue)
{
    cJSON *doc = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    int bad = 0;
    int64_t now = time_now_ms();

    ops_jstr(doc, "queue", queue, &bad);
    if (!arr || !cJSON_AddItemToObject(doc, "points", arr)) {
        cJSON_Delete(arr);
        bad = 1;
    }
    pthread_mutex_lock(&s->mu);
    s->last_view_ms = now;
    for (int i = 0; !bad && i < s->nrings; i++) {
        struct dash_ring *r = s->rings[i];
        const struct dash_point *prev = NULL;
        int64_t step;
        int first;

        if (strcmp(r->queue, queue))
            continue;
        /* the last hour, at most SERIES_POINTS points evenly apart */
        first = 0;
        while (first < r->n &&
               r->v[(r->head - r->n + first + DASH_RING) % DASH_RING].t_ms <
                   now - HOUR_MS)
            first++;
        step =
            r->n > first
                ? (now - r->v[(r->head - r->n + first + DASH_RING) % DASH_RING]
                             .t_ms) /
                      SERIES_POINTS
                : 0;
        for (int k = first; k < r->n && !bad; k++) {
            const struct dash_point *p =
                &r->v[(r->head - r->n + k + DASH_RING) % DASH_RING];
            if (prev && k + 1 < r->n && p->t_ms - prev->t_ms < step)
                continue;
            bad = series_add(arr, p, prev) < 0;
            prev = p;
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (bad) {
        cJSON_Delete(doc);
        return NULL;
    }
    return doc;
}
