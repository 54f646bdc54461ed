/* The genq worker: one libev loop that claims jobs in batches, calls the LLM
 * API through libcurl multi, heartbeats leases, and completes or fails jobs
 * by the lifecycle rules (DESIGN.md), in batched Redis script calls. */
#ifndef GENQ_WORKER_H
#define GENQ_WORKER_H

#include <ev.h>

#include "jwtmint.h"
#include "llm.h"
#include "redisurl.h"

#define WORKER_MAX_QUEUES 16

enum auth_mode { AUTH_API_KEY, AUTH_BEARER, AUTH_JWT };

/* The limiter's output-token estimate: auto (0 for Anthropic, max_tokens
 * for OpenAI), zero, or the request's max_tokens. */
enum lim_out_est { LIM_OUT_AUTO, LIM_OUT_ZERO, LIM_OUT_MAX_TOKENS };

struct wcfg {
    struct redis_url redis;
    const char *queues[WORKER_MAX_QUEUES];
    int nqueues;
    int concurrency;  /* in-flight jobs per process */
    int claim_batch;  /* jobs per claim call (<= 1000); -1: by concurrency */
    int intake_batch; /* inbox entries per intake round; 0 = no intake */
    double intake_interval_s;  /* inbox poll while entries come (backs off
                                  to 1 s while empty) */
    const char *templates_dir; /* intake renders templates from here; NULL:
                                  template entries are rejected */
    double ramp_s;    /* fill the concurrency over this long, 0 = at once */
    int prefetch;     /* jobs claimed ahead of a free slot (leased, waiting) */
    int visibility_s; /* lease length */
    int max_attempts; /* default for jobs without max_attempts */
    long result_ttl_s;
    long feed_maxlen; /* bound of the completion feed stream; 0 = off */
    int drain_timeout_s;
    enum llm_provider provider;
    const char *api_base; /* e.g. https://api.anthropic.com */
    const char *model;    /* default model */
    int max_tokens;       /* default max_tokens */
    int stream;
    char *api_key;          /* secret; owned by main, wiped at exit */
    enum auth_mode auth;    /* x-api-key, Bearer key, or Bearer JWT */
    struct jwtmint_cfg jwt; /* with AUTH_JWT */
    int timeout_s;          /* per-attempt limit when the job sets none */
    int connect_timeout_s;
    int stall_timeout_s;
    int max_retries; /* HTTP retries inside one attempt */
    double retry_base_s, retry_cap_s;
    int max_continuations;     /* default for long articles */
    double job_backoff_base_s; /* job-level backoff base (10 s) */
    int idle_poll_ms;          /* fallback claim poll while idle */
    double circuit_max_s;      /* longest claim pause of the breaker */
    const char *metrics_addr;  /* HOST:PORT of /metrics; NULL = off */
    const char *alert_webhook; /* POST alerts here; NULL = off */
    long dead_alert;           /* P0 when a queue's dead set passes this */
    int api_error_alert;       /* P1 when 429/5xx per minute pass this */
    double redis_timeout_s;    /* a command waiting longer: reconnect */
    double price_in_mtok;      /* USD per million input tokens */
    double price_out_mtok;     /* USD per million output tokens */
    double budget_usd_day;     /* fleet-wide spend per UTC day; 0 = none */
    int cache_ttl_s;           /* response cache lifetime; 0 = off */
    int insecure;              /* no TLS verification (loopback only) */

    /* budgets, prices, anomalies (budget.h; reloaded on SIGHUP) */
    double budget_usd_month;     /* per calendar month (UTC); 0 = none */
    double budget_tok_day;       /* tokens per UTC day; 0 = none */
    double budget_tok_month;     /* tokens per calendar month; 0 = none */
    double price_cw_mtok;        /* cache write; < 0: 1.25 x price_in_mtok */
    double price_cr_mtok;        /* cache read; < 0: 0.1 x price_in_mtok */
    double price_batch_discount; /* fraction off for Batch API calls */
    double anomaly_rate_x;       /* P1: 10-min spend over x times average */
    double anomaly_job_x;        /* P1: a job over x times median output */
    /* the fleet-wide limiter (worker/limiter.h); 0 = not configured */
    long limit_rpm, limit_itpm, limit_otpm, limit_tpm; /* per minute */
    const char *model_class;      /* limit key's class; NULL = the model */
    double limit_bytes_per_token; /* input estimate: text bytes / this */
    enum lim_out_est limit_out_est;
    int breaker_threshold; /* API failures in a row that open the fleet's
                              breaker */
    /* prompt caching and content review (pcache.c, review.c; per queue in
     * [queue.NAME]: qopts.h) */
    const char *prompt_cache;     /* "system" or "off" (default) */
    const char *review_blocklist; /* file of words and re:PATTERN lines */
    int review_min_words, review_max_words; /* 0 = no bound */
    int review_min_headings;                /* 0 = none required */
    int review_echo;          /* flag output that merely repeats the prompt */
    const char *review_model; /* a second model call: pass/fail */
    const char *review_prompt_file; /* its instructions; NULL = built-in */
    /* batch mode (worker/batch.h) */
    const char *batch_queues[WORKER_MAX_QUEUES]; /* --batch-queue */
    int nbatch_queues;
    int batch_size;          /* members per batch (capped by the provider) */
    double batch_wait_s;     /* seal a batch this long after its first job */
    double batch_poll_s;     /* first poll of a batch; 0 = never poll */
    double batch_poll_max_s; /* the poll backoff's cap */
};

/* Fill cfg with the contract's defaults (DESIGN.md). Can't fail. */
void wcfg_defaults(struct wcfg *cfg);

struct worker;

/* Create a worker on loop (connects to Redis at once and keeps trying).
 * Returns NULL on out-of-memory or curl init failure. cfg is borrowed and
 * must outlive the worker. Free with worker_free() after the loop ends. */
struct worker *worker_new(struct ev_loop *loop, const struct wcfg *cfg);
void worker_free(struct worker *w);

/* Begin a drain: claim nothing more, finish in-flight jobs within the drain
 * timeout, hand the rest back (attempt not counted), then break the loop.
 * Also bound to SIGTERM/SIGINT by worker_new(). */
void worker_drain(struct worker *w);

/* Exit status for main: 0 after a clean drain. */
int worker_exit_code(const struct worker *w);

#endif
