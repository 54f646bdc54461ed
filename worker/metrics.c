/* Prometheus exposition of the worker's counters (see metrics.h). Relaxed
 * atomics: each value is independent, and a scrape that sees one counter a
 * microsecond older than another is fine. */
#include "fmacros.h"

#include <math.h>
#include <pthread.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "buf.h"
#include "metrics.h"

#define NBUCKETS 13
static const double bucket_le[NBUCKETS] = {0.05, 0.1, 0.25, 0.5, 1,   2.5, 5,
                                           10,   30,  60,   120, 300, 600};

/* Statuses 0..599 by class (0 ok, 1 retryable, 2 permanent, 3 not_job). */
#define NSTATUS 600
#define NCLASS  4
static const char *const class_name[NCLASS] = {"ok", "retryable", "permanent",
                                               "not_job"};
static const char *const outcome_name[MO_COUNT] = {"succeeded", "retried",
                                                   "dead", "requeued", "lost"};
static const char *const state_name[MS_COUNT] = {"ready", "active", "delayed",
                                                 "dead"};

struct hist {
    atomic_ulong bucket[NBUCKETS]; /* non-cumulative; summed when rendered */
    atomic_ulong count;
    atomic_ullong sum_us;
};

struct metrics {
    int nq;
    char queue[METRICS_MAX_QUEUES][72];
    atomic_ulong jobs[METRICS_MAX_QUEUES][MO_COUNT];
    atomic_long depth[METRICS_MAX_QUEUES][MS_COUNT];
    atomic_ulong api[NSTATUS][NCLASS];
    struct hist latency, ttft;
    atomic_ulong retries, tokens_in, tokens_out, cache_hit, cache_miss;
    atomic_ulong cache_coalesced;
    atomic_ulong batch_jobs[3]; /* submitted, ended, settled */
    atomic_ullong spend_micro_usd;
    atomic_long inflight;
    atomic_ulong prefetched;
    atomic_ulong intake[METRICS_MAX_QUEUES][2]; /* admitted, rejected */
    atomic_ulong lim_admitted, lim_delayed, lim_wait_ms, api_429;
    atomic_llong lim_level[4]; /* r, it, ot, t: the fleet's bucket levels */
    atomic_int lim_known[4];   /* the bucket is metered (level set) */
    atomic_int circuit_open, budget_exhausted, redis_up;
    atomic_ulong alerts[3];
    double started;
    struct MHD_Daemon *d;
    /* Cluster, Sentinel: the node serving each queue (genq_queue_node), set by
     * the loop, read by the scrape thread */
    pthread_mutex_t node_mu;
    char node[METRICS_MAX_QUEUES][64];
};

struct metrics *
metrics_new(const char *const *queues, int nqueues)
{
    struct metrics *m = calloc(1, sizeof(*m));
    struct timespec ts;

    if (!m)
        return NULL;
    m->nq = nqueues > METRICS_MAX_QUEUES ? METRICS_MAX_QUEUES : nqueues;
    for (int i = 0; i < m->nq; i++)
        snprintf(m->queue[i], sizeof(m->queue[i]), "%s", queues[i]);
    clock_gettime(CLOCK_REALTIME, &ts);
    m->started = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    pthread_mutex_init(&m->node_mu, NULL);
    return m;
}

static void
hist_add(struct hist *h, double v)
{
    int i = 0;

    while (i < NBUCKETS && v > bucket_le[i])
        i++;
    if (i < NBUCKETS)
        atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us,
                              (unsigned long long)(v > 0 ? v * 1e6 : 0),
                              memory_order_relaxed);
}

#define ADD(x, n) atomic_fetch_add_explicit(&(x), (n), memory_order_relaxed)
#define SET(x, n) atomic_store_explicit(&(x), (n), memory_order_relaxed)
#define GET(x)    atomic_load_explicit(&(x), memory_order_relaxed)

void
metrics_job(struct metrics *m, int qi, enum metrics_outcome o)
{
    if (m && qi >= 0 && qi < m->nq)
        ADD(m->jobs[qi][o], 1);
}

void
metrics_intake(struct metrics *m, int qi, long admitted, long rejected)
{
    if (m && qi >= 0 && qi < m->nq) {
        ADD(m->intake[qi][0], (unsigned long)admitted);
        ADD(m->intake[qi][1], (unsigned long)rejected);
    }
}

void
metrics_api(struct metrics *m, int status, const char *cls, double seconds,
            double ttft_s)
{
    int c = 0;

    if (!m)
        return;
    for (int i = 0; i < NCLASS; i++)
        if (cls && !strcmp(cls, class_name[i]))
            c = i;
    if (status < 0 || status >= NSTATUS)
        status = 0;
    ADD(m->api[status][c], 1);
    hist_add(&m->latency, seconds);
    if (ttft_s >= 0)
        hist_add(&m->ttft, ttft_s);
}

void
metrics_limiter(struct metrics *m, int admitted, double wait_s)
{
    if (!m)
        return;
    if (admitted) {
        ADD(m->lim_admitted, 1);
    } else {
        ADD(m->lim_delayed, 1);
        ADD(m->lim_wait_ms, (unsigned long)(wait_s * 1000));
    }
}

void
metrics_limiter_level(struct metrics *m, int b, int known, double level)
{
    if (!m || b < 0 || b >= 4)
        return;
    atomic_store_explicit(&m->lim_level[b], (long long)floor(level),
                          memory_order_relaxed);
    atomic_store_explicit(&m->lim_known[b], known, memory_order_relaxed);
}

void
metrics_429(struct metrics *m)
{
    if (m)
        ADD(m->api_429, 1);
}

void
metrics_retry(struct metrics *m)
{
    if (m)
        ADD(m->retries, 1);
}

void
metrics_tokens(struct metrics *m, long input, long output)
{
    if (m) {
        ADD(m->tokens_in, (unsigned long)(input > 0 ? input : 0));
        ADD(m->tokens_out, (unsigned long)(output > 0 ? output : 0));
    }
}

void
metrics_spend(struct metrics *m, double usd)
{
    if (m && usd > 0)
        ADD(m->spend_micro_usd, (unsigned long long)(usd * 1e6));
}

void
metrics_batch(struct metrics *m, int what, long jobs)
{
    if (m && what >= 0 && what < 3 && jobs > 0)
        ADD(m->batch_jobs[what], (unsigned long)jobs);
}

void
metrics_cache(struct metrics *m, int hit)
{
    if (m) {
        if (hit == 2)
            ADD(m->cache_coalesced, 1);
        else if (hit)
            ADD(m->cache_hit, 1);
        else
            ADD(m->cache_miss, 1);
    }
}

void
metrics_inflight(struct metrics *m, int n)
{
    if (m)
        SET(m->inflight, n);
}

void
metrics_prefetched(struct metrics *m)
{
    if (m)
        ADD(m->prefetched, 1);
}

void
metrics_queue_depth(struct metrics *m, int qi, enum metrics_state s, long n)
{
    if (m && qi >= 0 && qi < m->nq)
        SET(m->depth[qi][s], n);
}

void
metrics_queue_node(struct metrics *m, int qi, const char *node)
{
    if (!m || qi < 0 || qi >= m->nq)
        return;
    pthread_mutex_lock(&m->node_mu);
    snprintf(m->node[qi], sizeof(m->node[qi]), "%s", node);
    pthread_mutex_unlock(&m->node_mu);
}

void
metrics_circuit(struct metrics *m, int open)
{
    if (m)
        SET(m->circuit_open, open);
}

void
metrics_budget(struct metrics *m, int exhausted)
{
    if (m)
        SET(m->budget_exhausted, exhausted);
}

void
metrics_redis_up(struct metrics *m, int up)
{
    if (m)
        SET(m->redis_up, up);
}

void
metrics_alert(struct metrics *m, int level)
{
    if (m && level >= 0 && level < 3)
        ADD(m->alerts[level], 1);
}

/* The exposition text, and whether building it ran out of memory. */
struct out {
    struct buf b;
    int oom;
};

static void out_printf(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
out_printf(struct out *o, const char *fmt, ...)
{
    va_list ap;
    char line[1024], *big = NULL;
    int n;

    if (o->oom)
        return;
    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(line)) { /* a long HELP text: print it again */
        big = malloc((size_t)n + 1);
        if (big) {
            va_start(ap, fmt);
            n = vsnprintf(big, (size_t)n + 1, fmt, ap);
            va_end(ap);
        }
    }
    if (n < 0 || (n >= (int)sizeof(line) && !big) ||
        buf_append(&o->b, big ? big : line, (size_t)n) < 0)
        o->oom = 1;
    free(big);
}

static void
render_hist(struct out *o, const char *name, const char *help, struct hist *h)
{
    unsigned long cum = 0;

    out_printf(o, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (int i = 0; i < NBUCKETS; i++) {
        cum += GET(h->bucket[i]);
        out_printf(o, "%s_bucket{le=\"%g\"} %lu\n", name, bucket_le[i], cum);
    }
    out_printf(o, "%s_bucket{le=\"+Inf\"} %lu\n", name, GET(h->count));
    out_printf(o, "%s_sum %.6f\n", name, (double)GET(h->sum_us) / 1e6);
    out_printf(o, "%s_count %lu\n", name, GET(h->count));
}

/* genq_queue_node{queue,node} 1 per queue whose node is known (Cluster:
 * its slot's master; Sentinel: the master). */
static void
render_nodes(struct metrics *m, struct out *o)
{
    int head = 0;

    pthread_mutex_lock(&m->node_mu);
    for (int q = 0; q < m->nq; q++) {
        if (!m->node[q][0])
            continue;
        if (!head++)
            out_printf(o, "# HELP genq_queue_node The Redis node serving "
                          "the queue (Cluster: its slot's master; Sentinel: "
                          "the master).\n"
                          "# TYPE genq_queue_node gauge\n");
        out_printf(o, "genq_queue_node{queue=\"%s\",node=\"%s\"} 1\n",
                   m->queue[q], m->node[q]);
    }
    pthread_mutex_unlock(&m->node_mu);
}

char *
metrics_render(struct metrics *m, size_t *len)
{
    struct out o = {{NULL, 0, 0, 0}, 0};

    out_printf(&o, "# HELP genq_jobs_total Jobs finished by this worker, by "
                   "outcome.\n# TYPE genq_jobs_total counter\n");
    for (int q = 0; q < m->nq; q++)
        for (int k = 0; k < MO_COUNT; k++)
            out_printf(&o, "genq_jobs_total{queue=\"%s\",outcome=\"%s\"} %lu\n",
                       m->queue[q], outcome_name[k], GET(m->jobs[q][k]));
    out_printf(&o, "# HELP genq_api_requests_total LLM API calls by HTTP "
                   "status (0 = transport failure) and error class.\n"
                   "# TYPE genq_api_requests_total counter\n");
    for (int s = 0; s < NSTATUS; s++)
        for (int c = 0; c < NCLASS; c++) {
            unsigned long v = GET(m->api[s][c]);
            if (v)
                out_printf(&o,
                           "genq_api_requests_total{status=\"%d\",class=\"%s\"}"
                           " %lu\n",
                           s, class_name[c], v);
        }
    render_hist(&o, "genq_api_request_duration_seconds",
                "Duration of LLM API calls.", &m->latency);
    render_hist(&o, "genq_api_time_to_first_token_seconds",
                "Time from request start to the first streamed token.",
                &m->ttft);
    out_printf(&o,
               "# HELP genq_api_retries_total Retries inside an attempt.\n"
               "# TYPE genq_api_retries_total counter\n"
               "genq_api_retries_total %lu\n",
               GET(m->retries));
    out_printf(&o,
               "# HELP genq_tokens_total Tokens used, by direction.\n"
               "# TYPE genq_tokens_total counter\n"
               "genq_tokens_total{direction=\"input\"} %lu\n"
               "genq_tokens_total{direction=\"output\"} %lu\n",
               GET(m->tokens_in), GET(m->tokens_out));
    out_printf(&o,
               "# HELP genq_spend_dollars_total Estimated API spend.\n"
               "# TYPE genq_spend_dollars_total counter\n"
               "genq_spend_dollars_total %.6f\n",
               (double)GET(m->spend_micro_usd) / 1e6);
    out_printf(&o,
               "# HELP genq_cache_requests_total Response cache lookups.\n"
               "# TYPE genq_cache_requests_total counter\n"
               "genq_cache_requests_total{result=\"hit\"} %lu\n"
               "genq_cache_requests_total{result=\"miss\"} %lu\n"
               "genq_cache_requests_total{result=\"coalesced\"} %lu\n",
               GET(m->cache_hit), GET(m->cache_miss), GET(m->cache_coalesced));
    out_printf(&o,
               "# HELP genq_batch_jobs_total Jobs of provider batches, by "
               "step.\n"
               "# TYPE genq_batch_jobs_total counter\n"
               "genq_batch_jobs_total{step=\"submitted\"} %lu\n"
               "genq_batch_jobs_total{step=\"ended\"} %lu\n"
               "genq_batch_jobs_total{step=\"settled\"} %lu\n",
               GET(m->batch_jobs[0]), GET(m->batch_jobs[1]),
               GET(m->batch_jobs[2]));
    out_printf(&o,
               "# HELP genq_jobs_in_flight Jobs held by this worker.\n"
               "# TYPE genq_jobs_in_flight gauge\n"
               "genq_jobs_in_flight %ld\n",
               GET(m->inflight));
    out_printf(&o,
               "# HELP genq_jobs_prefetched_total Jobs claimed ahead "
               "(--prefetch) that waited for a free slot.\n"
               "# TYPE genq_jobs_prefetched_total counter\n"
               "genq_jobs_prefetched_total %lu\n",
               GET(m->prefetched));
    out_printf(&o, "# HELP genq_inbox_entries_total Inbox entries this "
                   "worker's intake took, by result (admitted includes "
                   "duplicates).\n# TYPE genq_inbox_entries_total counter\n");
    for (int q = 0; q < m->nq; q++)
        out_printf(&o,
                   "genq_inbox_entries_total{queue=\"%s\",result=\"admitted\"}"
                   " %lu\ngenq_inbox_entries_total{queue=\"%s\",result="
                   "\"rejected\"} %lu\n",
                   m->queue[q], GET(m->intake[q][0]), m->queue[q],
                   GET(m->intake[q][1]));
    render_nodes(m, &o);
    out_printf(&o, "# HELP genq_queue_jobs Jobs in a queue by state (sampled "
                   "from Redis).\n# TYPE genq_queue_jobs gauge\n");
    for (int q = 0; q < m->nq; q++)
        for (int k = 0; k < MS_COUNT; k++)
            out_printf(&o, "genq_queue_jobs{queue=\"%s\",state=\"%s\"} %ld\n",
                       m->queue[q], state_name[k], GET(m->depth[q][k]));
    out_printf(&o,
               "# HELP genq_circuit_open 1 while claiming is paused by the "
               "circuit breaker.\n# TYPE genq_circuit_open gauge\n"
               "genq_circuit_open %d\n"
               "# HELP genq_budget_exhausted 1 while the spend budget is "
               "used up.\n# TYPE genq_budget_exhausted gauge\n"
               "genq_budget_exhausted %d\n"
               "# HELP genq_redis_up 1 while the Redis connection is up.\n"
               "# TYPE genq_redis_up gauge\ngenq_redis_up %d\n",
               GET(m->circuit_open), GET(m->budget_exhausted),
               GET(m->redis_up));
    out_printf(&o,
               "# HELP genq_limiter_admitted_total Tries the fleet limiter "
               "admitted.\n# TYPE genq_limiter_admitted_total counter\n"
               "genq_limiter_admitted_total %lu\n"
               "# HELP genq_limiter_delayed_total Times a try was told to "
               "wait by the limiter.\n"
               "# TYPE genq_limiter_delayed_total counter\n"
               "genq_limiter_delayed_total %lu\n"
               "# HELP genq_limiter_wait_seconds_total Seconds tries waited "
               "for the limiter.\n"
               "# TYPE genq_limiter_wait_seconds_total counter\n"
               "genq_limiter_wait_seconds_total %.3f\n"
               "# HELP genq_api_429_total Responses 429 (rate limited).\n"
               "# TYPE genq_api_429_total counter\ngenq_api_429_total %lu\n",
               GET(m->lim_admitted), GET(m->lim_delayed),
               (double)GET(m->lim_wait_ms) / 1000.0, GET(m->api_429));
    {
        static const char *const names[4] = {"requests", "input_tokens",
                                             "output_tokens", "tokens"};
        out_printf(&o, "# HELP genq_limiter_bucket_level The fleet limiter's "
                       "bucket levels for this worker's limit key (sampled "
                       "every 5 s; metered buckets only).\n"
                       "# TYPE genq_limiter_bucket_level gauge\n");
        for (int b = 0; b < 4; b++)
            if (atomic_load_explicit(&m->lim_known[b], memory_order_relaxed))
                out_printf(&o,
                           "genq_limiter_bucket_level{bucket=\"%s\"} %lld\n",
                           names[b],
                           (long long)atomic_load_explicit(
                               &m->lim_level[b], memory_order_relaxed));
    }
    out_printf(&o, "# HELP genq_alerts_total Alerts raised, by level.\n"
                   "# TYPE genq_alerts_total counter\n");
    for (int l = 0; l < 3; l++)
        out_printf(&o, "genq_alerts_total{level=\"P%d\"} %lu\n", l,
                   GET(m->alerts[l]));
    out_printf(&o,
               "# HELP genq_process_start_time_seconds Start time of the "
               "worker.\n# TYPE genq_process_start_time_seconds gauge\n"
               "genq_process_start_time_seconds %.3f\n",
               m->started);
    if (o.oom) {
        buf_free(&o.b);
        return NULL;
    }
    return buf_detach(&o.b, len);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
           const char *method, const char *version, const char *upload,
           size_t *upload_size, void **con_cls)
{
    struct metrics *m = cls;
    struct MHD_Response *r;
    enum MHD_Result rc;
    char *body;
    size_t len = 0;
    unsigned int status = MHD_HTTP_OK;
    const char *ctype = "text/plain; version=0.0.4; charset=utf-8";

    (void)version;
    (void)upload;
    (void)upload_size;
    (void)con_cls;
    if (strcmp(method, "GET") != 0) {
        body = strdup("method not allowed\n");
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
    } else if (!strcmp(url, "/metrics")) {
        body = metrics_render(m, &len);
        if (!body)
            return MHD_NO;
    } else if (!strcmp(url, "/healthz")) {
        body = strdup(GET(m->redis_up) ? "ok\n" : "redis down\n");
        status = GET(m->redis_up) ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
    } else {
        body = strdup("not found\n");
        status = MHD_HTTP_NOT_FOUND;
    }
    if (!body)
        return MHD_NO;
    if (!len)
        len = strlen(body);
    r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", ctype);
    rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

int
metrics_listen(struct metrics *m, const char *addr, char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    struct addrinfo hints, *ai = NULL;
    int rc;

    if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof(host) ||
        !colon[1]) {
        snprintf(err, errlen, "--metrics-addr: expected HOST:PORT, got '%s'",
                 addr);
        return -1;
    }
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(host, colon + 1, &hints, &ai);
    if (rc != 0 || !ai) {
        snprintf(err, errlen, "--metrics-addr %s: %s", addr, gai_strerror(rc));
        return -1;
    }
    m->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
                                (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0),
                            0, NULL, NULL, on_request, m, MHD_OPTION_SOCK_ADDR,
                            ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT,
                            (unsigned int)64, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned int)10, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!m->d) {
        snprintf(err, errlen,
                 "--metrics-addr %s: cannot listen (port in "
                 "use?)",
                 addr);
        return -1;
    }
    return 0;
}

void
metrics_free(struct metrics *m)
{
    if (!m)
        return;
    if (m->d)
        MHD_stop_daemon(m->d);
    free(m);
}
