/* worker_int: the worker's private structures (job slots, queues, the
 * worker) and the functions its files share. Not for use outside worker/.
 *
 * Jobs live in a fixed pool of slots, allocated once: a slot is taken by a
 * claim and given back when Redis has acknowledged the job's completion or
 * failure (or its lease was lost). Replies that refer to jobs (heartbeats,
 * cache lookups) carry slot index + the slot's generation (bumped by every
 * job it takes; the jobs of one claim share their lease token), so a late
 * reply can never touch a slot that moved on. Completions and failures are
 * collected during one loop iteration and flushed as one script call per
 * queue from an ev_prepare watcher: one Redis round trip per batch, not per
 * job.
 *
 * Files: wjob.c (slots and their states), attempt.c (a try and its HTTP
 * outcome), outcome.c (the pure decision after a failure), flush.c (result
 * and error documents, writing outcomes), claim.c (claiming, prefetch,
 * wake-ups, ramp), lease.c (heartbeats, release of lost claims), cache.c
 * (response cache, coalesced misses), circuit.c (circuit breaker),
 * registry.c (worker registry and the legacy USD-per-day key), budget.c,
 * budget_cfg.c, anomaly.c (budgets, prices, anomalies: budget.h),
 * depth.c (queue depth samples), authhdr.c (auth headers,
 * JWT), worker.c (new/free, maintenance tick, drain, signals). */
#ifndef GENQ_WORKER_INT_H
#define GENQ_WORKER_INT_H

#include <assert.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "alerts.h"
#include "budget.h"
#include "buf.h"
#include "http_ev.h"
#include "jobstate.h"
#include "keys.h"
#include "limiter.h"
#include "metrics.h"
#include "outcome.h"
#include "rconn.h"
#include "retry.h"
#include "worker.h"

struct wqueue;

/* A header list shared by the requests that started with it: a re-minted
 * JWT makes a new one while older requests still hold theirs. */
struct hdrs {
    struct curl_slist *l;
    int refs;
};

struct wjob {
    struct worker *w;
    struct wqueue *q;
    int idx;
    unsigned gen; /* bumped by job_begin: which job of this slot */
    enum jstate st;
    char *id;
    char token[LEASE_TOKEN_SIZE];
    int attempts;
    cJSON *job;
    /* the current attempt */
    struct http_req req;
    struct llm_result res;
    struct llm_stream *stream;
    ev_timer retry_timer;
    int tries;
    int auth_retried;  /* a 401 re-minted the JWT and retried once */
    struct hdrs *hdrs; /* held while the request runs */
    int continuations, max_continuations;
    struct buf text;            /* stitched text of finished parts */
    long in_tokens, out_tokens; /* summed over parts */
    ev_tstamp t_start, t_first; /* attempt start, first token */
    long long lat_ms; /* result_doc's latency_ms (flush.c lat_join); -1 */
    ev_tstamp t_try;  /* start of the current HTTP request */
    char model[128], stop_reason[64], request_id[128];
    int lost;
    int cached;         /* the result came from the response cache */
    char cache_key[80]; /* KEY_CACHE_PREFIX + sha256 hex; "" = none */
    int cache_lock;     /* holds cache_key's in-flight marker (cache.c) */
    double cache_wait;  /* next re-check of a coalesced wait, seconds */
    ev_timer cache_timer;
    int bstate;      /* budget: 0 unchecked, 1 reserving, 2 admitted */
    long bres_tok;   /* tokens reserved and not yet settled */
    double bres_usd; /* USD reserved and not yet settled */
    /* time(NULL) of the reservation: the day and month it settles in */
    long long bres_at;
    /* the outcome */
    enum outcome out;
    char *doc;          /* result JSON (complete) or error JSON (fail) */
    int64_t backoff_ms; /* OUT_RETRY */
    struct lim_job lj;  /* the limiter's reservation (limiter.h) */
    struct wjob *pnext; /* pending list of its queue */
    /* J_QUEUED: the claim reply's stored value (owned; binary when
     * compressed: pack.h), its length, and the next in line */
    char *raw;
    size_t raw_len;
    struct wjob *qnext;
    /* prompt caching, review, template figures (pcache.c, review_job.c,
     * tmplstats.c); reset by job_init */
    long cw_tokens, cr_tokens; /* cache write / read input tokens, summed */
    double usd;                /* the parts' priced spend (budget_spend) */
    int flagged;               /* the result goes to state review */
    char *rv_model;  /* the reviewer model's reason to flag (owned; result_doc
                        consumes it) */
    int pc_state;    /* 0, PC_LEADER or PC_PARKED (pcache.c) */
    uint64_t pc_key; /* its warm-up group */
    struct wjob *pc_next; /* next parked job of the group */
};

struct wqueue {
    struct worker *w;
    struct qkeys keys;
    struct review_rules *rv; /* content review of this queue (review.h) */
    int prompt_cache;        /* --prompt-cache system for this queue */
    int empty;               /* last claim found nothing: skip until woken */
    ev_tstamp paused_until;
    struct wjob *pending, **ptail;
};

struct worker {
    struct ev_loop *loop;
    struct packer *pk; /* decodes stored payloads (pack.h); NULL: a
                          stream per job */
    const struct wcfg *cfg;
    char id[160];
    struct rconn *rc, *sub;
    struct http *http;
    struct wqueue q[WORKER_MAX_QUEUES];
    int nq, rr;
    struct wjob *slots;
    int *freelist, nfree;
    int cap;                   /* slots: 2 x concurrency (see worker_new) */
    struct jobstate_counts js; /* active: slots with a job at work (not
                                  flushing); queued: J_QUEUED jobs, claimed
                                  ahead, not started. Kept by wjob_enter. */
    int prefetch; /* at most this many wait (--prefetch; default c / 2) */
    long freed;   /* slots freed by outcomes since rate_t0 */
    ev_tstamp rate_t0;
    double free_rate;            /* slots freed per second (moving average) */
    struct wjob *qhead, **qtail; /* them, in claim order */
    int claiming;    /* claim calls in flight; CLAIMS_MAX while a release of
                        lost claims runs (no claims then) */
    int claim_asked; /* jobs those claims asked for */
    int draining, handed_back, exit_code, freeing;
    struct hdrs *hdrs; /* current header set (worker's reference) */
    struct jwtmint *jwt;
    char *url;
    struct retry_policy rp;
    /* circuit breaker: while open nothing is claimed; then one probe */
    ev_tstamp circuit_until;
    double circuit_backoff;
    int circuit_probe;
    ev_tstamp last_auth_log;
    struct metrics *m;
    struct alerts *al;
    /* the inbox intake of every queue (intake.c) */
    struct intake *intake;
    struct limiter *lim;  /* fleet-wide limiter; NULL when off (limiter.h) */
    unsigned long tick;   /* maintenance ticks (1 s) */
    ev_tstamp err_window; /* start of the 429/5xx counting minute */
    int api_errs;         /* 429/5xx in that minute */
    long died;            /* jobs died since the last P2 alert */
    double spend_pending; /* USD not yet added to the day's total */
    int spend_inflight;
    double spend_sent;    /* amount of the INCRBYFLOAT in flight */
    double claim_backoff; /* after a Redis error reply to a claim */
    double flush_backoff; /* after a Redis error reply to a flush */
    ev_tstamp flush_hold; /* no flush before this */
    size_t flush_bytes;   /* documents in unanswered flush calls (flush.c) */
    int claim_lost;       /* a claim reply was lost: release on reconnect */
    int want_claim;       /* claim at the end of this loop iteration */
    ev_tstamp ramp_t0;    /* the ramp-up began (start, or idle again) */
    ev_timer ramp_timer;  /* brings the next claim of a ramp-up */
    ev_tstamp circuit_opened_at;
    int reg_inflight;      /* in_flight of the last registry beat */
    ev_tstamp reg_beat_at; /* when that beat was sent */
    int64_t started_ms;
    ev_timer idle_timer, hb_timer, maint_timer, drain_timer;
    ev_prepare flush_w;
    ev_signal sig_term, sig_int;
    struct budget *bg;    /* budget.c */
    struct anomaly *an;   /* anomaly.c */
    struct pcache *pc;    /* prompt-cache warm-ups (pcache.c); NULL = off */
    struct tmplstats *ts; /* per-template figures (tmplstats.c) */
    struct batchw *bw;    /* batch mode: batch*.c (batch.h) */
};

/* Which job an asynchronous reply is about: slot, generation, lease token. */
struct slotref {
    struct worker *w;
    int idx;
    unsigned gen;
    char token[LEASE_TOKEN_SIZE];
};
/* Remember j in r. Can't fail. */
void slotref_set(struct slotref *r, const struct wjob *j);
/* The job r names if it is still that job, running and not lost; else
 * NULL (the slot moved on). */
struct wjob *slotref_get(const struct slotref *r);

/* Move slot j to state `to`: checks the edge (jobstate.h) and keeps the
 * worker's counters. The only code that changes j->st. */
static inline void
wjob_enter(struct wjob *j, enum jstate to)
{
    int rc = jobstate_move(&j->w->js, j->st, to);

    assert(rc == 0 && "illegal job state edge");
    (void)rc;
    j->st = to;
}

/* wjob.c: slots. */
/* Give slot j back: stops its request and timer, frees what the job held
 * (id, payload, documents), then claims again (or checks the drain). */
void slot_release(struct wjob *j);
/* Slots in use: jobs at work plus outcomes waiting for Redis's answer. */
int inflight(const struct worker *w);
/* A freshly claimed job; its stored value v (len bytes: the bulk header,
 * if any, and the payload, maybe compressed) is borrowed from the claim
 * reply. */
void job_begin(struct worker *w, struct wqueue *q, const char *id,
               const char *token, long attempts, const char *v, size_t len);
/* Start the jobs waiting in line while slots are free. Returns how many. */
int start_queued(struct worker *w);
/* Decide a job's outcome; it is sent at the next flush. doc is owned (NULL:
 * out of memory, the lease will expire). */
void job_finish(struct wjob *j, enum outcome out, char *doc,
                int64_t backoff_ms);

/* attempt.c: a try of the current attempt. */
/* Start the job in slot j (J_RUNNING) from its stored value v (len
 * bytes, borrowed; decoded here: pack.h). */
void job_run(struct wjob *j, const char *v, size_t len);
/* Send the next HTTP request of j's attempt. */
void job_start_try(struct wjob *j);
/* Point j->req at the API with the current headers and the worker's
 * connect, stall and TLS settings; timeout_ms for the whole transfer. */
void attempt_req_prepare(struct wjob *j, long timeout_ms);
void attempt_on_retry_timer(EV_P_ ev_timer *t, int revents);

/* flush.c: documents and flushing. */
/* The error object of DESIGN.md's dead-letter document, or NULL on
 * out-of-memory. Caller frees. */
char *error_doc(const char *cls, int http_status, const char *type,
                const char *message, const char *request_id);
/* The result document (schemas/result.schema.json), or NULL on
 * out-of-memory. Caller frees. */
char *result_doc(struct wjob *j);
void flush_on_prepare(EV_P_ ev_prepare *wp, int revents);

/* circuit.c */
void circuit_open(struct worker *w, double hint_s, const char *why);
void circuit_success(struct worker *w, const struct wjob *j);
/* A probe is out: a job claimed since the circuit opened is still held. */
int circuit_probe_out(const struct worker *w);

/* cache.c: 0 when a lookup started (its reply continues the job), -1 when
 * the job goes straight to the API. */
int cache_lookup(struct wjob *j);
void cache_store(struct wjob *j);
/* Drop j's in-flight marker if it holds one (the job leaves its slot). */
void cache_unlock(struct wjob *j);
/* Renew j's in-flight marker, if it holds one, for another visibility
 * timeout (with the job's lease: lease.c). */
void cache_renew(struct wjob *j);
/* A coalesced wait's re-check (j->cache_timer). */
void cache_on_wait_timer(EV_P_ ev_timer *t, int revents);

/* claim.c */
/* Claims at most this many calls at once. */
#define CLAIMS_MAX 2
/* Ask for a claim at the end of this loop iteration. */
void maybe_claim(struct worker *w);
void claim_now(struct worker *w);
void claim_on_wake(struct rconn *c, const char *channel, const char *msg,
                   void *pd);
void claim_on_ramp_timer(EV_P_ ev_timer *t, int revents);
void claim_on_idle_timer(EV_P_ ev_timer *t, int revents);

/* lease.c */
void heartbeat_queue(struct worker *w, struct wqueue *q);
void lease_on_hb_timer(EV_P_ ev_timer *t, int revents);
/* 0 when release calls were sent (their replies continue), -1 when not. */
int release_lost(struct worker *w);

/* intake.c: the inbox intake (README "Producers and consumers in any
 * language"). intake_new starts it for every queue (none with
 * --intake-batch 0); NULL on out of memory. intake_stop ends the rounds
 * (a drain; the lock's lease runs out by itself); replies still due then
 * change nothing. intake_free after the Redis connection is freed. */
struct intake;
struct intake *intake_new(struct worker *w);
/* Redis is up (again): take the next step now. */
void intake_kick(struct intake *in);
void intake_stop(struct intake *in);
void intake_free(struct intake *in);

/* registry.c */
/* Write (or with leaving, remove) this worker's registry entry. */
void registry_beat(struct worker *w, int leaving);
/* The maintenance tick's beat: every 5th tick, and whenever the worker
 * went idle or busy since the last beat. */
void registry_tick(struct worker *w);
/* Nothing in flight any more: beat now, unless a beat went out less than
 * a second ago (the next tick then follows up). */
void registry_idle(struct worker *w);
void report_spend(struct worker *w);

/* depth.c */
void sample_depths(struct worker *w);

/* authhdr.c */
void hdrs_unref(struct hdrs *h);
/* Make the header set for new requests (token: the JWT, or NULL to use
 * the API key); the previous set lives on while requests hold it.
 * 0, or -1 on out-of-memory. */
int build_headers(struct worker *w, const char *token);
/* After a 401 with a JWT: a fresh token at once (one per burst). 1 when
 * the request may be sent again, 0 when not. */
int authhdr_remint(struct wjob *j);
/* Before a request: mint a JWT when the current one is due. */
void authhdr_refresh(struct worker *w);

/* review_job.c: content review (review.h) of the queues and their jobs. */
/* Compile every queue's rules (qopts.h); 0, or -1 after logging why. */
int review_setup(struct worker *w);
void review_teardown(struct worker *w);
/* j's review reasons (a JSON array text, caller frees) when its text is
 * flagged, else NULL; sets j->flagged. Consumes j->rv_model. */
char *review_job(struct wjob *j);
/* The reasons text[0..len) is flagged for by rv (NULL: none) -- its
 * rules on text and prompt (may be NULL), plus model_why (the reviewer
 * model's reason, may be NULL) -- as a JSON array text, caller frees; NULL
 * when it passes (or out of memory: logged with id, passed). */
struct review_rules;
char *review_reasons(const struct review_rules *rv, const char *id,
                     const char *text, size_t len, const char *prompt,
                     const char *model_why);

/* review_call.c: the reviewer model (--review-model). 1 when a review
 * call for j's finished text started (its answer finishes the job), 0 when
 * the queue has none (or the call could not start: then it is flagged). */
int review_call_start(struct wjob *j);

/* pcache.c: the warm-up of prompt-cache groups (--prompt-cache system).
 * pcache_new: NULL when no queue caches (or out of memory: then off). */
#define PC_LEADER 1
#define PC_PARKED 2
struct pcache;
struct pcache *pcache_new(struct worker *w);
void pcache_free(struct pcache *pc);
/* Before j's first request: 1 when j waits for its group's warm-up (it
 * is started later by pcache), 0 when it may go now. */
int pcache_gate(struct wjob *j);
/* j's response has begun (first byte of a 2xx body). */
void pcache_begun(struct wjob *j);
/* j's try ended (any way) or j leaves its slot. */
void pcache_done(struct wjob *j);

/* tmplstats.c: per-template-version figures (genq stats --by template). */
struct tmplstats;
struct tmplstats *tmplstats_new(struct worker *w);
void tmplstats_free(struct tmplstats *ts);
/* A job's stored outcome ("succeeded", "review" or "dead"). */
void tmplstats_note(struct wjob *j, const char *state);
/* The same for a job without a wjob (a batch member, batch_review.c):
 * its queue, template_ref (NULL or invalid: nothing noted), output tokens,
 * latency and cost. */
void tmplstats_add(struct worker *w, int qi, const char *ref, const char *state,
                   long out_tokens, long lat_ms, double usd);
/* Send what was noted (one script call per queue). */
void tmplstats_flush(struct worker *w);
/* Append ,"template":{"name":N,"version":V|null} to b when j's job has a
 * template_ref. 0, or -1 on out of memory. */
int tmplstats_doc(const struct wjob *j, struct buf *b);
/* The same for a template_ref (NULL: nothing appended). */
int tmplstats_ref_doc(const char *ref, struct buf *b);
/* batch*.c: see batch.h */
struct batchw;
int batch_init(struct worker *w);
void batch_free(struct worker *w);
void batch_drain(struct worker *w);
int batch_busy(const struct worker *w);
int batch_divert(struct wjob *j);

/* worker.c */
/* Uniform in [0, 1) from getrandom(). */
double worker_rand01(void);
/* A reply callback that ignores the reply. */
void worker_noreply(struct rconn *c, redisReply *r, void *pd);
/* Drain: exit the loop once nothing is left in flight. */
void worker_drain_check(struct worker *w);

#endif
