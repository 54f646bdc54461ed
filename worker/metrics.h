/* Prometheus metrics of a worker process, served on --metrics-addr by
 * libmicrohttpd's own thread. The event loop only bumps atomic counters;
 * the HTTP thread reads them when scraped, so the loop never blocks. */
#ifndef GENQ_METRICS_H
#define GENQ_METRICS_H

#include <stddef.h>

#define METRICS_MAX_QUEUES 16

enum metrics_outcome {
    MO_SUCCEEDED,
    MO_RETRIED, /* job-level retry: delayed with backoff */
    MO_DEAD,
    MO_REQUEUED, /* not the job's fault: back to ready, not counted */
    MO_LOST,     /* lease lost before the outcome was stored */
    MO_COUNT
};

enum metrics_state { MS_READY, MS_ACTIVE, MS_DELAYED, MS_DEAD, MS_COUNT };

struct metrics;

/* Counters for the given queues (names are copied). NULL on out-of-memory.
 * Free with metrics_free() (stops the HTTP server first). */
struct metrics *metrics_new(const char *const *queues, int nqueues);
void metrics_free(struct metrics *m);

/* Serve GET /metrics and /healthz on addr ("HOST:PORT"). Returns 0, or -1
 * with a message in err (bad address, port in use). */
int metrics_listen(struct metrics *m, const char *addr, char *err,
                   size_t errlen);

/* Recording, from the event loop. qi is the queue index. Can't fail. */
void metrics_job(struct metrics *m, int qi, enum metrics_outcome o);
/* One API call: HTTP status (0 for a transport failure), error class name
 * ("ok", "retryable", "permanent", "not_job"), duration; ttft_s < 0 when
 * no first token was seen. */
void metrics_api(struct metrics *m, int status, const char *cls, double seconds,
                 double ttft_s);
void metrics_retry(struct metrics *m);
/* The fleet limiter admitted a try, or told it to wait wait_s. */
void metrics_limiter(struct metrics *m, int admitted, double wait_s);
void metrics_429(struct metrics *m);
/* Bucket b (0 requests, 1 input, 2 output, 3 total tokens) of the fleet
 * limiter: its level, or known 0 when it is not metered. */
void metrics_limiter_level(struct metrics *m, int b, int known, double level);
void metrics_tokens(struct metrics *m, long input, long output);
void metrics_spend(struct metrics *m, double usd);
/* A cache lookup: hit 1 (a hit), 0 (a miss: this job calls the API), 2
 * (coalesced: it waited for an identical call in flight and shared it). */
void metrics_cache(struct metrics *m, int hit);
/* Batch mode: jobs of batches submitted (what 0), ended (1), settled (2). */
void metrics_batch(struct metrics *m, int what, long jobs);
void metrics_inflight(struct metrics *m, int n);
/* A job claimed ahead (--prefetch) started after waiting for a slot. */
void metrics_prefetched(struct metrics *m);
/* One intake round of queue qi: entries admitted (duplicates included) and
 * rejected (worker/intake.c). */
void metrics_intake(struct metrics *m, int qi, long admitted, long rejected);
void metrics_queue_depth(struct metrics *m, int qi, enum metrics_state s,
                         long n);
void metrics_circuit(struct metrics *m, int open);
/* Redis Cluster: queue qi is served by node ("host:port"; "" = unknown). */
void metrics_queue_node(struct metrics *m, int qi, const char *node);
void metrics_budget(struct metrics *m, int exhausted);
void metrics_redis_up(struct metrics *m, int up);
void metrics_alert(struct metrics *m, int level /* 0 P0, 1 P1, 2 P2 */);

/* The exposition text (for tests and the HTTP handler). Caller frees. */
char *metrics_render(struct metrics *m, size_t *len);

#endif
