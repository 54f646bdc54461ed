/* The worker's job state machine on one libev loop (see worker.h).
 *
 * Jobs live in a fixed pool of `concurrency` slots, allocated once: a slot
 * is taken by a claim and given back when Redis has acknowledged the job's
 * completion or failure (or its lease was lost). Replies that refer to jobs
 * (heartbeats, cache lookups) carry slot index + the slot's generation
 * (bumped by every job it takes; the jobs of one claim share their lease
 * token), so a late reply can never touch a slot that moved on. Completions and
 * failures are collected during one loop iteration and flushed as one script
 * call per queue from an ev_prepare watcher: one Redis round trip per batch,
 * not per job. */
#include "fmacros.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/sha.h>

#include "alerts.h"
#include "errclass.h"
#include "http_ev.h"
#include "job.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "rconn.h"
#include "retry.h"
#include "timefmt.h"
#include "worker.h"

enum jstate {
    J_FREE,
    J_RUNNING,  /* HTTP request in flight (or a cache lookup) */
    J_WAITING,  /* backoff timer before the next try */
    J_PENDING,  /* outcome decided, waiting for the next flush */
    J_FLUSHING, /* outcome sent to Redis, waiting for the reply */
    J_QUEUED,   /* claimed ahead (--prefetch), waiting for a free slot */
};

enum outcome { OUT_COMPLETE, OUT_RETRY, OUT_DEAD, OUT_REQUEUE, OUT_THROTTLE };
static const char *const outcome_kind[] = {"complete", "retry", "dead",
                                           "requeue", "throttle"};

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
    char token[24];
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
    ev_tstamp t_try;            /* start of the current HTTP request */
    char model[128], stop_reason[64], request_id[128];
    int lost;
    int cached;         /* the result came from the response cache */
    char cache_key[80]; /* "genq:cache:" + sha256 hex; "" = not cached */
    /* the outcome */
    enum outcome out;
    char *doc;          /* result JSON (complete) or error JSON (fail) */
    int64_t backoff_ms; /* OUT_RETRY */
    struct wjob *pnext; /* pending list of its queue */
    /* J_QUEUED: the claim reply's payload (owned) and the next in line */
    char *raw;
    struct wjob *qnext;
};

struct wqueue {
    struct worker *w;
    struct qkeys keys;
    int empty; /* last claim found nothing: skip until woken */
    ev_tstamp paused_until;
    struct wjob *pending, **ptail;
};

struct worker {
    struct ev_loop *loop;
    const struct wcfg *cfg;
    char id[160];
    struct rconn *rc, *sub;
    struct http *http;
    struct wqueue q[WORKER_MAX_QUEUES];
    int nq, rr;
    struct wjob *slots;
    int *freelist, nfree;
    int cap;      /* slots: 2 x concurrency (see worker_new) */
    int active;   /* slots with a job at work (not flushing) */
    int queued;   /* J_QUEUED jobs: claimed ahead, not started */
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
    unsigned long tick;   /* maintenance ticks (1 s) */
    ev_tstamp err_window; /* start of the 429/5xx counting minute */
    int api_errs;         /* 429/5xx in that minute */
    long died;            /* jobs died since the last P2 alert */
    double spend_pending; /* USD not yet added to the day's total */
    int budget_exhausted;
    int spend_inflight;
    double spend_sent;    /* amount of the INCRBYFLOAT in flight */
    double claim_backoff; /* after a Redis error reply to a claim */
    double flush_backoff; /* after a Redis error reply to a flush */
    ev_tstamp flush_hold; /* no flush before this */
    int claim_lost;       /* a claim reply was lost: release on reconnect */
    int want_claim;       /* claim at the end of this loop iteration */
    ev_tstamp ramp_t0;    /* the ramp-up began (start, or idle again) */
    ev_timer ramp_timer;  /* brings the next claim of a ramp-up */
    ev_tstamp circuit_opened_at;
    int64_t started_ms;
    ev_timer idle_timer, hb_timer, maint_timer, drain_timer;
    ev_prepare flush_w;
    ev_signal sig_term, sig_int;
};

static void maybe_claim(struct worker *w);
static int build_headers(struct worker *w, const char *token);
static void cache_store(struct wjob *j);
static void claim_now(struct worker *w);
static void report_spend(struct worker *w);
static int release_lost(struct worker *w);
static void heartbeat_queue(struct worker *w, struct wqueue *q);

static void
hdrs_unref(struct hdrs *h)
{
    if (h && --h->refs == 0) {
        /* the list may hold a secret: wipe each line before freeing */
        for (struct curl_slist *l = h->l; l; l = l->next)
            memset(l->data, 0, strlen(l->data));
        curl_slist_free_all(h->l);
        free(h);
    }
}
static void job_start_try(struct wjob *j);
static void job_finish(struct wjob *j, enum outcome out, char *doc,
                       int64_t backoff_ms);
static void on_drain_check(struct worker *w);

void
wcfg_defaults(struct wcfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->concurrency = 64;
    cfg->claim_batch = 100;
    cfg->ramp_s = 0.2;
    cfg->prefetch = -1; /* concurrency / 2, set by worker_new */
    cfg->visibility_s = 60;
    cfg->max_attempts = 5;
    cfg->result_ttl_s = 604800;
    cfg->drain_timeout_s = 30;
    cfg->provider = LLM_ANTHROPIC;
    cfg->model = "claude-sonnet-4-5";
    cfg->max_tokens = 2000;
    cfg->stream = 1;
    cfg->timeout_s = 600;
    cfg->connect_timeout_s = 10;
    cfg->stall_timeout_s = 60;
    cfg->max_retries = 3;
    cfg->retry_base_s = 0.5;
    cfg->retry_cap_s = 8.0;
    cfg->max_continuations = 3;
    cfg->idle_poll_ms = 1000;
    cfg->circuit_max_s = 30.0;
    cfg->job_backoff_base_s = 10.0;
    cfg->dead_alert = 1000;
    cfg->api_error_alert = 20;
    cfg->redis_timeout_s = 10.0;
}

static double
rand01(void)
{
    uint64_t x;

    if (getrandom(&x, sizeof(x), 0) != (ssize_t)sizeof(x))
        x = (uint64_t)clock() * 6364136223846793005ULL;
    return (double)(x >> 11) / 9007199254740992.0;
}

/* Job-level backoff after attempt j->attempts failed: base 10 s (scaled
 * by --job-backoff-base), factor 2, cap 1 h, full jitter (retry.c). */
static int64_t
job_backoff_ms(const struct wjob *j)
{
    return (int64_t)((double)retry_job_backoff_ms(j->attempts, rand01()) *
                     (j->w->cfg->job_backoff_base_s / 10.0));
}

/* ---- slots ---------------------------------------------------------- */

static struct wjob *
slot_take(struct worker *w)
{
    struct wjob *j;

    if (w->nfree == 0 || w->active >= w->cfg->concurrency)
        return NULL;
    j = &w->slots[w->freelist[--w->nfree]];
    j->st = J_RUNNING;
    w->active++;
    metrics_inflight(w->m, w->active);
    return j;
}

static void
slot_release(struct wjob *j)
{
    struct worker *w = j->w;

    if (j->req.easy)
        http_abort(w->http, &j->req);
    ev_timer_stop(w->loop, &j->retry_timer);
    hdrs_unref(j->hdrs);
    j->hdrs = NULL;
    http_req_reset(&j->req);
    free(j->req.body);
    j->req.body = NULL;
    llm_stream_free(j->stream);
    j->stream = NULL;
    llm_result_free(&j->res);
    buf_free(&j->text);
    cJSON_Delete(j->job);
    j->job = NULL;
    free(j->id);
    j->id = NULL;
    free(j->doc);
    j->doc = NULL;
    free(j->raw);
    j->raw = NULL;
    if (j->st == J_QUEUED) {
        struct wjob **pp = &w->qhead;
        while (*pp && *pp != j)
            pp = &(*pp)->qnext;
        if (*pp)
            *pp = j->qnext;
        w->qtail = &w->qhead;
        while (*w->qtail)
            w->qtail = &(*w->qtail)->qnext;
        j->qnext = NULL;
        w->queued--;
    } else if (j->st != J_FLUSHING && j->st != J_FREE) {
        w->active--;
    }
    j->st = J_FREE;
    j->lost = 0;
    w->freelist[w->nfree++] = j->idx;
    if (w->freeing)
        return;
    metrics_inflight(w->m, w->active);
    if (w->draining)
        on_drain_check(w);
    else
        maybe_claim(w);
}

/* Slots in use: jobs at work plus outcomes waiting for Redis's answer. */
static int
inflight(const struct worker *w)
{
    return w->cap - w->nfree;
}

/* ---- error documents ------------------------------------------------- */

/* The error object of DESIGN.md's dead-letter document. Caller frees. */
static char *
error_doc(const char *cls, int http_status, const char *type,
          const char *message, const char *request_id)
{
    cJSON *o = cJSON_CreateObject();
    char *s, *out;

    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "class", cls);
    if (http_status > 0)
        cJSON_AddNumberToObject(o, "http_status", http_status);
    else
        cJSON_AddNullToObject(o, "http_status");
    if (type && *type)
        cJSON_AddStringToObject(o, "type", type);
    else
        cJSON_AddNullToObject(o, "type");
    cJSON_AddStringToObject(o, "message", message ? message : "");
    if (request_id && *request_id)
        cJSON_AddStringToObject(o, "request_id", request_id);
    else
        cJSON_AddNullToObject(o, "request_id");
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    out = s ? strdup(s) : NULL;
    cJSON_free(s);
    return out;
}

/* ---- the result document ------------------------------------------------
 * Written by hand, not through cJSON: cJSON prints every number through
 * printf and checks it back with sscanf, which made this function two
 * thirds of the worker's CPU per job (callgrind, noop provider). */

/* Append s as a JSON string (quotes included). s is valid UTF-8 (the LLM
 * layer guarantees it), so only '"', '\\' and control characters need
 * escaping. -1 on out-of-memory or over the buffer's cap. */
static int
json_str(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;

    if (buf_append(b, "\"", 1) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6];
        size_t el = 2;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (i > run && buf_append(b, s + run, i - run) < 0)
            return -1;
        esc[0] = '\\';
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            el = 6;
        }
        if (buf_append(b, esc, el) < 0)
            return -1;
        run = i + 1;
    }
    if (n > run && buf_append(b, s + run, n - run) < 0)
        return -1;
    return buf_append(b, "\"", 1);
}

/* Append ,"name": and the value text (already JSON). */
static int
json_field(struct buf *b, const char *name, const char *value)
{
    return buf_append_str(b, ",\"") < 0 || buf_append_str(b, name) < 0 ||
                   buf_append_str(b, "\":") < 0 || buf_append_str(b, value) < 0
               ? -1
               : 0;
}

static int
json_field_str(struct buf *b, const char *name, const char *value)
{
    if (buf_append_str(b, ",\"") < 0 || buf_append_str(b, name) < 0 ||
        buf_append_str(b, "\":") < 0)
        return -1;
    if (!value || !*value)
        return buf_append_str(b, "null");
    return json_str(b, value, strlen(value));
}

/* The result document (schemas/result.schema.json). Caller frees. */
static char *
result_doc(struct wjob *j)
{
    struct buf b;
    char num[48], ts[32];
    ev_tstamp now = ev_now(j->w->loop);
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(j->job, "metadata");
    int bad = 0;

    buf_init(&b, 0);
    bad |= buf_append_str(&b, "{\"id\":") < 0;
    bad |= json_str(&b, j->id, strlen(j->id)) < 0;
    bad |= buf_append_str(&b, ",\"state\":\"succeeded\",\"text\":") < 0;
    bad |= json_str(&b, j->text.data ? j->text.data : "", j->text.len) < 0;
    bad |= buf_append_str(&b, ",\"model\":") < 0;
    bad |= json_str(&b, j->model, strlen(j->model)) < 0;
    bad |= buf_append_str(&b, ",\"stop_reason\":") < 0;
    bad |= json_str(&b, j->stop_reason, strlen(j->stop_reason)) < 0;
    snprintf(num, sizeof(num), "{\"input_tokens\":%ld,\"output_tokens\":%ld}",
             j->in_tokens, j->out_tokens);
    bad |= json_field(&b, "usage", num) < 0;
    snprintf(num, sizeof(num), "%d", j->attempts);
    bad |= json_field(&b, "attempts", num) < 0;
    snprintf(num, sizeof(num), "%lld",
             (long long)((now - j->t_start) * 1000.0));
    bad |= json_field(&b, "latency_ms", num) < 0;
    if (j->t_first > 0)
        snprintf(num, sizeof(num), "%lld",
                 (long long)((j->t_first - j->t_start) * 1000.0));
    else
        snprintf(num, sizeof(num), "null");
    bad |= json_field(&b, "first_token_ms", num) < 0;
    bad |= json_field(&b, "cached", j->cached ? "true" : "false") < 0;
    timefmt_rfc3339(time_now_ms(), ts);
    bad |= json_field_str(&b, "finished_at", ts) < 0;
    bad |= json_field_str(&b, "request_id", j->request_id) < 0;
    snprintf(num, sizeof(num), "%d", j->continuations);
    bad |= json_field(&b, "continuations", num) < 0;
    if (meta) {
        char *m = cJSON_PrintUnformatted(meta);
        bad |= !m || json_field(&b, "metadata", m) < 0;
        cJSON_free(m);
    }
    bad |= buf_append_str(&b, "}") < 0;
    if (bad) {
        buf_free(&b);
        return NULL;
    }
    return buf_detach(&b, NULL);
}

/* ---- flushing outcomes to Redis -------------------------------------- */

struct flush_batch {
    struct worker *w;
    struct wqueue *q;
    int is_complete;
    int n;
    struct wjob *jobs[];
};

static void
on_flush_reply(struct rconn *c, redisReply *r, void *pd)
{
    struct flush_batch *b = pd;
    struct worker *w = b->w;

    (void)c;
    if (r && r->type == REDIS_REPLY_ERROR) {
        /* OOM, read-only replica, MISCONF...: retrying at once would spin */
        w->flush_backoff = w->flush_backoff ? w->flush_backoff * 2 : 0.1;
        if (w->flush_backoff > 5.0)
            w->flush_backoff = 5.0;
        w->flush_hold = ev_now(w->loop) + w->flush_backoff;
    } else if (r) {
        w->flush_backoff = 0;
    }
    if (!r || r->type != REDIS_REPLY_ARRAY || (int)r->elements != b->n) {
        /* Not acknowledged (Redis down, or an error): keep the outcomes and
         * send them again once connected. A job whose lease expired
         * meanwhile answers "stale" then, and another worker owns it. */
        for (int i = 0; i < b->n; i++) {
            struct wjob *j = b->jobs[i];
            j->st = J_PENDING;
            w->active++; /* waiting again: counts against concurrency */
            j->pnext = NULL;
            *b->q->ptail = j;
            b->q->ptail = &j->pnext;
        }
        free(b);
        return;
    }
    w->freed += b->n; /* acknowledged: the pace of prefetch_target() */
    for (int i = 0; i < b->n; i++) {
        struct wjob *j = b->jobs[i];
        redisReply *e = r->element[i];
        int stale =
            b->is_complete
                ? !(e->type == REDIS_REPLY_INTEGER && e->integer == 1)
                : (e->type == REDIS_REPLY_STRING && !strcmp(e->str, "stale"));
        char att[16];
        int qi = (int)(b->q - w->q);

        snprintf(att, sizeof(att), "%d", j->attempts);
        if (stale) {
            metrics_job(w->m, qi, MO_LOST);
        } else if (j->out == OUT_COMPLETE) {
            metrics_job(w->m, qi, MO_SUCCEEDED);
        } else if (e->type == REDIS_REPLY_STRING && !strcmp(e->str, "queued")) {
            metrics_job(w->m, qi, MO_REQUEUED);
        } else if (e->type == REDIS_REPLY_STRING && !strcmp(e->str, "dead")) {
            char text[700];
            metrics_job(w->m, qi, MO_DEAD);
            w->died++;
            snprintf(text, sizeof(text),
                     "%ld job(s) died in queue %s; latest %s: %.500s", w->died,
                     b->q->keys.queue, j->id, j->doc);
            if (alerts_raise(w->al, ALERT_LVL_P2, "job-died", text))
                w->died = 0;
        } else {
            metrics_job(w->m, qi, MO_RETRIED);
        }
        if (stale)
            log_kv(LOG_WARN,
                   "lease lost before the outcome was stored; the job is no "
                   "longer ours (reclaimed, requeued, dead or canceled)",
                   "job", j->id, "attempt", att, "outcome",
                   outcome_kind[j->out], NULL);
        else if (j->out == OUT_COMPLETE)
            log_kv(LOG_DEBUG, "job succeeded", "job", j->id, "attempt", att,
                   "request_id", j->request_id, NULL);
        else
            log_kv(j->out == OUT_DEAD ? LOG_WARN : LOG_INFO, "job failed",
                   "job", j->id, "attempt", att, "outcome",
                   outcome_kind[j->out], "state",
                   e->type == REDIS_REPLY_STRING ? e->str : "?", "error",
                   j->doc, NULL);
        slot_release(j);
    }
    free(b);
}

/* At most this many jobs per script call: Lua's unpack() takes ~8,000
 * values, and a completion uses 2 per job. */
#define FLUSH_MAX 500

/* Send up to FLUSH_MAX pending outcomes of one kind; returns how many. */
static int
flush_kind(struct worker *w, struct wqueue *q, int complete)
{
    struct wjob **pp = &q->pending, *j;
    int n = 0, argc, k = 0;
    struct flush_batch *b;
    const char **av;
    size_t *al;
    char ttl[24];
    char(*nums)[24];

    for (j = q->pending; j && n < FLUSH_MAX; j = j->pnext)
        if ((j->out == OUT_COMPLETE) == complete)
            n++;
    if (n == 0)
        return 0;
    b = malloc(sizeof(*b) + sizeof(struct wjob *) * (size_t)n);
    argc = complete ? 1 + 3 * n : 5 * n;
    av = malloc(sizeof(*av) * (size_t)argc);
    al = malloc(sizeof(*al) * (size_t)argc);
    nums = malloc(sizeof(*nums) * (size_t)n);
    if (!b || !av || !al || !nums) {
        free(b);
        free(av);
        free(al);
        free(nums);
        return 0; /* retried at the next flush */
    }
    b->w = w;
    b->q = q;
    b->is_complete = complete;
    b->n = 0;
    if (complete) {
        snprintf(ttl, sizeof(ttl), "%ld", w->cfg->result_ttl_s * 1000);
        av[k] = ttl;
        al[k++] = strlen(ttl);
    }
    while ((j = *pp) != NULL && b->n < n) {
        if ((j->out == OUT_COMPLETE) != complete) {
            pp = &j->pnext;
            continue;
        }
        *pp = j->pnext;
        j->pnext = NULL;
        av[k] = j->id;
        al[k++] = strlen(j->id);
        av[k] = j->token;
        al[k++] = strlen(j->token);
        if (!complete) {
            av[k] = outcome_kind[j->out];
            al[k] = strlen(outcome_kind[j->out]);
            k++;
            snprintf(nums[b->n], 24, "%" PRId64, j->backoff_ms);
            av[k] = nums[b->n];
            al[k++] = strlen(nums[b->n]);
        }
        av[k] = j->doc;
        al[k++] = strlen(j->doc);
        j->st = J_FLUSHING;
        w->active--; /* an outcome on its way no longer holds a job slot */
        b->jobs[b->n++] = j;
    }
    /* recompute the tail of what is left */
    q->ptail = &q->pending;
    while (*q->ptail)
        q->ptail = &(*q->ptail)->pnext;
    if (rconn_script(w->rc, complete ? SCRIPT_COMPLETE : SCRIPT_FAIL, &q->keys,
                     argc, av, al, on_flush_reply, b) < 0) {
        /* not connected: put them back; the reconnect flushes again */
        for (int i = 0; i < b->n; i++) {
            b->jobs[i]->st = J_PENDING;
            w->active++;
            *q->ptail = b->jobs[i];
            q->ptail = &b->jobs[i]->pnext;
        }
        free(b);
        n = 0;
    }
    free(av);
    free(al);
    free(nums);
    return n;
}

static int start_queued(struct worker *w);

static void
on_flush(EV_P_ ev_prepare *wp, int revents)
{
    struct worker *w = wp->data;

    (void)loop;
    (void)revents;
    {
        /* the pace slots free at (prefetch_target), over 100 ms windows */
        ev_tstamp now = ev_now(w->loop), dt = now - w->rate_t0;
        if (dt >= 0.1) {
            w->free_rate = 0.5 * w->free_rate + 0.5 * (double)w->freed / dt;
            w->freed = 0;
            w->rate_t0 = now;
        }
    }
    start_queued(w);
    if (w->want_claim) {
        w->want_claim = 0;
        claim_now(w);
    }
    if (!rconn_is_up(w->rc) || ev_now(w->loop) < w->flush_hold)
        return;
    /* a flush frees slots: jobs in line start at once, and what they
     * finish at once (noop, cache hits) is flushed in the next round (each
     * round starts at least one, so this ends) */
    do {
        for (int i = 0; i < w->nq; i++) {
            if (!w->q[i].pending)
                continue;
            while (flush_kind(w, &w->q[i], 1) == FLUSH_MAX)
                ;
            while (flush_kind(w, &w->q[i], 0) == FLUSH_MAX)
                ;
        }
    } while (start_queued(w) > 0);
}

/* Decide a job's outcome; it is sent at the next flush. doc is owned. */
static void
job_finish(struct wjob *j, enum outcome out, char *doc, int64_t backoff_ms)
{
    struct wqueue *q = j->q;

    if (!doc) {
        /* Out of memory building the document: let the lease expire and
         * another attempt run, rather than lose the job silently. */
        log_kv(LOG_ERROR,
               "out of memory building an outcome; the lease "
               "will expire",
               "job", j->id, NULL);
        j->st = J_PENDING;
        j->lost = 1;
        slot_release(j);
        return;
    }
    if (j->req.easy)
        http_abort(j->w->http, &j->req);
    ev_timer_stop(j->w->loop, &j->retry_timer);
    j->out = out;
    j->doc = doc;
    j->backoff_ms = backoff_ms;
    j->st = J_PENDING;
    j->pnext = NULL;
    *q->ptail = j;
    q->ptail = &j->pnext;
}

/* ---- the circuit breaker ----------------------------------------------- */

/* Not the job's fault (auth, quota, rate limit storm, outage): stop claiming
 * for a while, then let one probe job through. */
static void
circuit_open(struct worker *w, double hint_s, const char *why)
{
    ev_tstamp now = ev_now(w->loop);
    double d;

    if (now < w->circuit_until) {
        /* already open: a later hint may only lengthen the pause */
        if (hint_s > 0 && now + hint_s > w->circuit_until)
            w->circuit_until = now + hint_s;
        return;
    }
    w->circuit_backoff = w->circuit_backoff ? w->circuit_backoff * 2 : 1.0;
    if (w->circuit_backoff > w->cfg->circuit_max_s)
        w->circuit_backoff = w->cfg->circuit_max_s;
    d = hint_s > 0 ? hint_s : w->circuit_backoff * (0.5 + rand01() / 2);
    if (now + d > w->circuit_until)
        w->circuit_until = now + d;
    w->circuit_probe = 1;
    w->circuit_opened_at = now;
    metrics_circuit(w->m, 1);
    {
        char text[600];
        snprintf(text, sizeof(text), "claiming paused for %.1f s: %.500s", d,
                 why);
        alerts_raise(w->al, ALERT_LVL_P1, "circuit-open", text);
    }
    if (now - w->last_auth_log >= 10.0) {
        char s[32];
        snprintf(s, sizeof(s), "%.1f", d);
        log_kv(LOG_ERROR,
               "claiming paused: the API refuses work that is not "
               "the jobs' fault",
               "reason", why, "pause_s", s, NULL);
        w->last_auth_log = now;
    }
}

static void
circuit_success(struct worker *w, const struct wjob *j)
{
    /* a job claimed before the circuit opened proves nothing */
    if (j->t_start < w->circuit_opened_at)
        return;
    if (w->circuit_probe || w->circuit_backoff) {
        if (w->circuit_probe)
            log_kv(LOG_INFO, "API accepts work again; claiming resumed", NULL);
        w->circuit_probe = 0;
        w->circuit_backoff = 0;
        w->circuit_until = 0;
        metrics_circuit(w->m, 0);
        maybe_claim(w);
    }
}

/* ---- HTTP attempt ------------------------------------------------------ */

static int
on_http_data(struct http_req *r, const char *p, size_t n)
{
    struct wjob *j = r->ud;

    if (!j->stream)
        return -1;
    if (llm_stream_feed(j->stream, p, n) < 0)
        return -1; /* stream reported an error: stop reading */
    if (j->res.got_first_token && j->t_first == 0)
        j->t_first = ev_now(j->w->loop);
    return 0;
}

static void
on_retry_timer(EV_P_ ev_timer *t, int revents)
{
    struct wjob *j = t->data;

    (void)loop;
    (void)revents;
    job_start_try(j);
}

/* An attempt failed in a way that is not the job's fault. */
static void
job_requeue(struct wjob *j, const char *why, struct llm_error *e, double hint_s,
            int p0)
{
    char *doc = error_doc("not_job_fault", e ? e->http_status : 0,
                          e ? e->type : NULL, why, e ? e->request_id : NULL);

    if (e && p0) {
        /* auth, billing or configuration: page someone */
        char text[700];
        const char *key =
            (e->http_status == 401 || e->http_status == 403) ? "auth-failing"
            : (e->http_status == 402 || strstr(e->type, "quota") ||
               strstr(e->type, "billing"))
                ? "billing"
                : "api-config";
        snprintf(text, sizeof(text), "API refuses work (HTTP %d %s): %.500s",
                 e->http_status, e->type, why);
        alerts_raise(j->w->al, ALERT_LVL_P0, key, text);
    }
    circuit_open(j->w, hint_s, why);
    /* rate limits count every 10th time (fail.lua), with this backoff */
    job_finish(j, p0 ? OUT_REQUEUE : OUT_THROTTLE, doc,
               p0 ? 0 : job_backoff_ms(j));
}

static void
on_http_done(struct http_req *r, int curl_code)
{
    struct wjob *j = r->ud;
    struct worker *w = j->w;
    struct err_verdict v;
    struct llm_error e;
    double hint;
    char msg[700];

    if (j->lost) {
        slot_release(j);
        return;
    }
    memset(&e, 0, sizeof(e));
    if (curl_code == 0 && r->status >= 200 && r->status < 300) {
        if (j->stream) {
            llm_stream_finish(j->stream);
        } else {
            llm_parse_body(w->cfg->provider, (int)r->status,
                           r->resp ? r->resp : "", r->resp_len, r->request_id,
                           &j->res);
        }
    } else if (curl_code == 0) {
        llm_parse_body(w->cfg->provider, (int)r->status, r->resp ? r->resp : "",
                       r->resp_len, r->request_id, &j->res);
        if (!j->res.failed) {
            j->res.failed = 1;
            j->res.err.http_status = (int)r->status;
            snprintf(j->res.err.type, sizeof(j->res.err.type), "%s",
                     LLM_ERR_HTTP);
        }
    } else if (curl_code == ERRC_CURLE_WRITE_ERROR && j->res.failed) {
        /* we stopped reading because the stream reported an error */
        curl_code = 0;
    }
    if (r->request_id[0])
        snprintf(j->request_id, sizeof(j->request_id), "%s", r->request_id);

    if (curl_code == 0 && !j->res.failed && j->res.complete) {
        /* A part succeeded. */
        size_t keep = j->text.len;
        if (j->continuations > 0 || j->text.len > 0)
            keep = llm_prefill_trim(j->text.data, j->text.len);
        j->text.len = keep;
        if (j->text.data)
            j->text.data[keep] = '\0';
        if (j->res.text.len &&
            buf_append(&j->text, j->res.text.data, j->res.text.len) < 0) {
            job_finish(j, OUT_DEAD,
                       error_doc("permanent", 0, "result_too_large",
                                 "result text over the size limit (8 MiB)",
                                 NULL),
                       0);
            return;
        }
        metrics_api(w->m, (int)r->status, "ok", ev_now(w->loop) - j->t_try,
                    j->t_first >= j->t_try ? j->t_first - j->t_try : -1.0);
        metrics_tokens(w->m, j->res.input_tokens, j->res.output_tokens);
        {
            double usd =
                ((double)j->res.input_tokens * w->cfg->price_in_mtok +
                 (double)j->res.output_tokens * w->cfg->price_out_mtok) /
                1e6;
            metrics_spend(w->m, usd);
            w->spend_pending += usd;
        }
        j->in_tokens += j->res.input_tokens;
        j->out_tokens += j->res.output_tokens;
        snprintf(j->model, sizeof(j->model), "%s", j->res.model);
        snprintf(j->stop_reason, sizeof(j->stop_reason), "%s",
                 j->res.stop_reason);
        circuit_success(w, j);
        if (llm_result_truncated_by_length(&j->res) &&
            j->continuations < j->max_continuations) {
            j->continuations++;
            j->tries = 0;
            job_start_try(j);
            return;
        }
        cache_store(j);
        job_finish(j, OUT_COMPLETE, result_doc(j), 0);
        return;
    }

    /* A failure: classify it. */
    if (curl_code != 0) {
        v = errclass_transport(curl_code);
        e.http_status = 0;
        snprintf(e.type, sizeof(e.type), "transport");
        snprintf(e.message, sizeof(e.message), "%s (curl %d)",
                 r->errbuf[0] ? r->errbuf : curl_easy_strerror(curl_code),
                 curl_code);
    } else {
        e = j->res.err;
        if (e.http_status == 0)
            e.http_status = (int)r->status;
        v = errclass_http_message(e.http_status, e.type, e.message,
                                  retry_header_override(r->should_retry));
    }
    snprintf(e.request_id, sizeof(e.request_id), "%s", r->request_id);
    hint = retry_hint_s(&w->rp, r->retry_after_ms, r->retry_after,
                        (double)time(NULL));
    snprintf(msg, sizeof(msg), "%s", e.message[0] ? e.message : v.why);
    metrics_api(w->m, e.http_status, errclass_class_name(v.cls),
                ev_now(w->loop) - j->t_try, -1.0);
    if (v.provider_wide) {
        /* P1 when 429/5xx/transport errors are sustained */
        ev_tstamp now = ev_now(w->loop);
        if (now - w->err_window > 60.0) {
            w->err_window = now;
            w->api_errs = 0;
        }
        if (++w->api_errs == w->cfg->api_error_alert) {
            char text[700];
            snprintf(text, sizeof(text),
                     "%d API errors (429/5xx/network) within a minute; "
                     "latest HTTP %d %s: %.400s",
                     w->api_errs, e.http_status, e.type, msg);
            alerts_raise(w->al, ALERT_LVL_P1, "api-errors", text);
        }
    }

    if (w->jwt && e.http_status == 401 && !j->auth_retried) {
        /* The token may have been revoked or the clocks disagree: a fresh
         * one at once, and the same request again, once. */
        const char *tok = "";
        j->auth_retried = 1;
        /* one re-mint per burst: requests that started with an older token
         * simply retry with the current one */
        if (j->hdrs == w->hdrs) {
            tok = jwtmint_token(w->jwt, time(NULL), 1, NULL);
            if (tok && build_headers(w, tok) < 0)
                tok = NULL;
        }
        if (tok) {
            log_kv(LOG_WARN, "401 with a JWT: re-minted, retrying once", "job",
                   j->id, NULL);
            job_start_try(j);
            return;
        }
    }

    if (v.cls == ERRC_RETRYABLE && v.retry_in_attempt &&
        j->tries < w->rp.max_retries && !w->draining) {
        double d = retry_delay_s(&w->rp, j->tries, hint, rand01());
        char att[16], ds[32], st[16];
        snprintf(att, sizeof(att), "%d", j->attempts);
        snprintf(ds, sizeof(ds), "%.3f", d);
        snprintf(st, sizeof(st), "%d", e.http_status);
        log_kv(LOG_INFO, "API call failed; retrying", "job", j->id, "attempt",
               att, "status", st, "type", e.type, "request_id", e.request_id,
               "retry_in_s", ds, NULL);
        j->tries++;
        metrics_retry(w->m);
        j->st = J_WAITING;
        ev_timer_set(&j->retry_timer, d, 0.);
        ev_timer_start(w->loop, &j->retry_timer);
        return;
    }
    if (w->draining && v.cls == ERRC_RETRYABLE) {
        /* no time left to retry: hand it back without counting it */
        job_finish(j, OUT_REQUEUE,
                   error_doc("not_job_fault", e.http_status, "shutdown", msg,
                             e.request_id),
                   0);
        return;
    }
    switch (v.cls) {
    case ERRC_PERMANENT:
        job_finish(
            j, OUT_DEAD,
            error_doc("permanent", e.http_status, e.type, msg, e.request_id),
            0);
        return;
    case ERRC_NOT_JOB:
        job_requeue(j, msg, &e, hint, 1);
        return;
    default:
        if (v.provider_wide && (e.http_status == 429 || e.http_status == 529 ||
                                !strcmp(e.type, "overloaded_error") ||
                                !strcmp(e.type, "rate_limit_error"))) {
            /* Rate limited or overloaded after every retry: the API is
             * saying "later", not that the job is bad. */
            job_requeue(j, msg, &e, hint, 0);
            return;
        }
        job_finish(
            j, OUT_RETRY,
            error_doc("transient", e.http_status, e.type, msg, e.request_id),
            job_backoff_ms(j));
        return;
    }
}

static void
job_start_try(struct wjob *j)
{
    struct worker *w = j->w;
    struct llm_req_opts o = {w->cfg->provider, w->cfg->model,
                             w->cfg->max_tokens, w->cfg->stream};
    const char *path;
    cJSON *ts = cJSON_GetObjectItemCaseSensitive(j->job, "timeout_s");

    j->st = J_RUNNING;
    j->t_try = ev_now(w->loop);
    llm_result_reset(&j->res);
    llm_stream_free(j->stream);
    j->stream = NULL;
    http_req_reset(&j->req);
    free(j->req.body);
    j->req.body = llm_build_body(&o, j->job, j->text.data, j->text.len, &path);
    if (!j->req.body) {
        job_finish(j, errno == EINVAL ? OUT_DEAD : OUT_RETRY,
                   error_doc(errno == EINVAL ? "invalid" : "transient", 0, NULL,
                             errno == EINVAL
                                 ? "job has no prompt/messages or no model"
                                 : "out of memory building the request",
                             NULL),
                   job_backoff_ms(j));
        return;
    }
    j->req.body_len = strlen(j->req.body);
    if (w->cfg->stream) {
        j->stream = llm_stream_new(w->cfg->provider, &j->res);
        if (!j->stream) {
            job_finish(j, OUT_RETRY,
                       error_doc("transient", 0, NULL, "out of memory", NULL),
                       job_backoff_ms(j));
            return;
        }
    }
    if (w->jwt) {
        int minted = 0;
        const char *tok = jwtmint_token(w->jwt, time(NULL), 0, &minted);
        if (tok && minted && build_headers(w, tok) == 0)
            log_kv(LOG_INFO, "JWT minted", NULL);
    }
    hdrs_unref(j->hdrs);
    j->hdrs = w->hdrs;
    j->hdrs->refs++;
    j->req.url = w->url;
    j->req.headers = j->hdrs->l;
    j->req.timeout_ms = 1000L * (cJSON_IsNumber(ts) ? (long)ts->valuedouble
                                                    : w->cfg->timeout_s);
    j->req.connect_timeout_ms = 1000L * w->cfg->connect_timeout_s;
    j->req.stall_s = w->cfg->stall_timeout_s;
    j->req.insecure = w->cfg->insecure;
    j->req.on_data = w->cfg->stream ? on_http_data : NULL;
    j->req.on_done = on_http_done;
    j->req.ud = j;
    j->req.resp_max = 16u << 20;
    if (http_submit(w->http, &j->req) < 0)
        job_finish(
            j, OUT_RETRY,
            error_doc("transient", 0, NULL, "cannot start a request", NULL),
            job_backoff_ms(j));
}

/* ---- response cache ------------------------------------------------------
 * Identical requests (same provider, API base and request body) within
 * --cache-ttl share one API call: the key is the SHA-256 of those, the
 * value the generated text, model, stop reason and usage. Off by default.
 * Keys live outside any queue's slot (genq:cache:HEX), written and read
 * with plain GET/SET. */

struct cache_ctx {
    struct worker *w;
    int idx;
    unsigned gen;
    char token[24];
};

static void
on_cache_set(struct rconn *c, redisReply *r, void *pd)
{
    (void)c;
    (void)r;
    (void)pd;
}

static void
cache_store(struct wjob *j)
{
    struct worker *w = j->w;
    cJSON *o;
    char *s, ttl[24];
    const char *av[5];

    if (!j->cache_key[0] || w->cfg->cache_ttl_s <= 0)
        return;
    o = cJSON_CreateObject();
    if (!o)
        return;
    cJSON_AddStringToObject(o, "text", j->text.data ? j->text.data : "");
    cJSON_AddStringToObject(o, "model", j->model);
    cJSON_AddStringToObject(o, "stop_reason", j->stop_reason);
    cJSON_AddNumberToObject(o, "input_tokens", (double)j->in_tokens);
    cJSON_AddNumberToObject(o, "output_tokens", (double)j->out_tokens);
    cJSON_AddNumberToObject(o, "continuations", j->continuations);
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s)
        return;
    snprintf(ttl, sizeof(ttl), "%d", w->cfg->cache_ttl_s);
    av[0] = "SET";
    av[1] = j->cache_key;
    av[2] = s;
    av[3] = "EX";
    av[4] = ttl;
    rconn_command(w->rc, 5, av, NULL, on_cache_set, NULL);
    cJSON_free(s);
}

static void
on_cache_get(struct rconn *c, redisReply *r, void *pd)
{
    struct cache_ctx *cc = pd;
    struct worker *w = cc->w;
    struct wjob *j = &w->slots[cc->idx];
    cJSON *o, *x;

    (void)c;
    if (j->st != J_RUNNING || j->lost || j->gen != cc->gen ||
        strcmp(j->token, cc->token) != 0 || j->req.easy) {
        free(cc); /* the slot moved on (lease lost, shutdown) */
        return;
    }
    free(cc);
    o = r && r->type == REDIS_REPLY_STRING ? cJSON_Parse(r->str) : NULL;
    x = o ? cJSON_GetObjectItem(o, "text") : NULL;
    if (!x || !cJSON_IsString(x)) {
        cJSON_Delete(o);
        metrics_cache(w->m, 0);
        job_start_try(j); /* a miss (or Redis trouble): call the API */
        return;
    }
    metrics_cache(w->m, 1);
    buf_reset(&j->text);
    if (buf_append(&j->text, x->valuestring, strlen(x->valuestring)) < 0) {
        cJSON_Delete(o);
        job_start_try(j);
        return;
    }
    snprintf(j->model, sizeof(j->model), "%s",
             cJSON_GetStringValue(cJSON_GetObjectItem(o, "model"))
                 ? cJSON_GetStringValue(cJSON_GetObjectItem(o, "model"))
                 : "");
    snprintf(j->stop_reason, sizeof(j->stop_reason), "%s",
             cJSON_GetStringValue(cJSON_GetObjectItem(o, "stop_reason"))
                 ? cJSON_GetStringValue(cJSON_GetObjectItem(o, "stop_reason"))
                 : "");
    x = cJSON_GetObjectItem(o, "input_tokens");
    j->in_tokens = cJSON_IsNumber(x) ? (long)x->valuedouble : 0;
    x = cJSON_GetObjectItem(o, "output_tokens");
    j->out_tokens = cJSON_IsNumber(x) ? (long)x->valuedouble : 0;
    x = cJSON_GetObjectItem(o, "continuations");
    j->continuations = cJSON_IsNumber(x) ? x->valueint : 0;
    cJSON_Delete(o);
    j->cached = 1;
    job_finish(j, OUT_COMPLETE, result_doc(j), 0);
}

/* Start a cache lookup for j. 0 when started (the reply continues the
 * job), -1 when the job goes straight to the API. */
static int
cache_lookup(struct wjob *j)
{
    struct worker *w = j->w;
    struct llm_req_opts o = {w->cfg->provider, w->cfg->model,
                             w->cfg->max_tokens, 0};
    unsigned char md[SHA256_DIGEST_LENGTH];
    struct cache_ctx *cc;
    const char *path, *av[2];
    char *body = llm_build_body(&o, j->job, NULL, 0, &path), *all;
    size_t n;

    if (!body)
        return -1;
    n = strlen(body) + strlen(w->cfg->api_base) + 32;
    all = malloc(n);
    if (!all) {
        free(body);
        return -1;
    }
    n = (size_t)snprintf(all, n, "%s\n%s\n%s",
                         llm_provider_name(w->cfg->provider), w->cfg->api_base,
                         body);
    SHA256((const unsigned char *)all, n, md);
    free(all);
    free(body);
    memcpy(j->cache_key, "genq:cache:", 11);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(j->cache_key + 11 + 2 * i, 3, "%02x", md[i]);
    cc = malloc(sizeof(*cc));
    if (!cc)
        return -1;
    cc->w = w;
    cc->idx = j->idx;
    cc->gen = j->gen;
    snprintf(cc->token, sizeof(cc->token), "%s", j->token);
    av[0] = "GET";
    av[1] = j->cache_key;
    if (rconn_command(w->rc, 2, av, NULL, on_cache_get, cc) < 0) {
        free(cc);
        return -1;
    }
    return 0;
}

/* Fill slot j for a freshly claimed job. */
static int
job_init(struct wjob *j, struct wqueue *q, const char *id, const char *token,
         long attempts)
{
    j->q = q;
    j->id = strdup(id);
    snprintf(j->token, sizeof(j->token), "%s", token);
    j->gen++;
    j->attempts = (int)attempts;
    j->tries = 0;
    j->auth_retried = 0;
    j->continuations = 0;
    j->in_tokens = j->out_tokens = 0;
    j->t_first = 0;
    j->model[0] = j->stop_reason[0] = j->request_id[0] = '\0';
    j->cached = 0;
    j->cache_key[0] = '\0';
    buf_init(&j->text, LLM_TEXT_MAX);
    llm_result_init(&j->res);
    if (!j->id) {
        j->lost = 1;
        slot_release(j);
        return -1;
    }
    return 0;
}

/* Start the job in slot j (J_RUNNING, counted in active). payload is
 * borrowed. */
static void
job_run(struct wjob *j, const char *payload)
{
    struct worker *w = j->w;
    cJSON *mc;

    j->t_start = ev_now(w->loop);
    j->job = cJSON_Parse(job_stored_payload(payload));
    if (!j->job || !cJSON_IsObject(j->job)) {
        job_finish(j, OUT_DEAD,
                   error_doc("invalid", 0, NULL,
                             "stored job is not a JSON object", NULL),
                   0);
        return;
    }
    if (w->draining) {
        /* claimed just before the drain began: hand it back untouched */
        job_finish(j, OUT_REQUEUE,
                   error_doc("not_job_fault", 0, "shutdown",
                             "worker shut down before the attempt started",
                             NULL),
                   0);
        return;
    }
    mc = cJSON_GetObjectItemCaseSensitive(j->job, "max_continuations");
    j->max_continuations =
        cJSON_IsNumber(mc) ? mc->valueint : w->cfg->max_continuations;
    if (w->cfg->provider == LLM_NOOP) {
        snprintf(j->model, sizeof(j->model), "noop");
        snprintf(j->stop_reason, sizeof(j->stop_reason), "end_turn");
        job_finish(j, OUT_COMPLETE, result_doc(j), 0);
        return;
    }
    if (w->cfg->cache_ttl_s > 0 && cache_lookup(j) == 0)
        return; /* the reply starts the request on a miss */
    job_start_try(j);
}

/* A freshly claimed job. payload is borrowed from the claim reply. With
 * every slot at work it waits in line (J_QUEUED: leased and heartbeated
 * like the others) until start_queued() gives it a free one. */
static void
job_begin(struct worker *w, struct wqueue *q, const char *id, const char *token,
          long attempts, const char *payload)
{
    struct wjob *j;

    /* behind the ones already in line, in claim order */
    if ((w->active >= w->cfg->concurrency || w->qhead) && w->nfree > 0) {
        j = &w->slots[w->freelist[--w->nfree]];
        j->st = J_QUEUED;
        w->queued++;
        j->qnext = NULL;
        *w->qtail = j;
        w->qtail = &j->qnext;
        if (job_init(j, q, id, token, attempts) < 0)
            return;
        j->raw = strdup(payload);
        if (!j->raw) {
            j->lost = 1; /* its lease runs out: another worker takes it */
            slot_release(j);
        }
        return;
    }
    j = slot_take(w);
    if (!j)
        return; /* cannot happen: claims ask for free slots only */
    if (job_init(j, q, id, token, attempts) == 0)
        job_run(j, payload);
}

/* Start the jobs waiting in line while slots are free (all of them when
 * draining: they go straight back to their queues). Returns how many. */
static int
start_queued(struct worker *w)
{
    int n = 0;

    while (w->qhead && (w->active < w->cfg->concurrency || w->draining)) {
        struct wjob *j = w->qhead;
        char *raw = j->raw;

        w->qhead = j->qnext;
        if (!w->qhead)
            w->qtail = &w->qhead;
        j->qnext = NULL;
        j->raw = NULL;
        w->queued--;
        j->st = J_RUNNING;
        w->active++;
        metrics_inflight(w->m, w->active);
        metrics_prefetched(w->m);
        job_run(j, raw);
        free(raw);
        n++;
    }
    return n;
}

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

/* Claim calls a worker keeps in flight at once. */
#define CLAIMS_MAX 2

/* ---- claiming ------------------------------------------------------------ */

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
                          e[3]->str);
                got++;
            }
            start_queued(w); /* the line first, then what just came */
            if (got < cc->asked)
                q->empty = 1;
            /* idle: the next jobs ramp up again (see claim_now) */
            if (got == 0 && w->active == 0 && w->claim_asked == cc->asked)
                w->ramp_t0 = ev_now(w->loop);
        }
    }
    /* counted down only now: job_begin may free slots, and a claim sent
     * from inside the loop would count them wrong */
    w->claiming--;
    w->claim_asked -= cc->asked;
    free(cc);
    if (w->draining)
        on_drain_check(w);
    else if (r)
        maybe_claim(w);
}

/* Ask for a claim: sent once per loop iteration by the prepare watcher,
 * sized to every slot free by then. Claiming straight from each slot
 * release sent claims of one job each, and a claim in flight blocks the
 * next, so batches shrank to a third of their size. */
static void
maybe_claim(struct worker *w)
{
    w->want_claim = 1;
}

static void
claim_now(struct worker *w)
{
    ev_tstamp now = ev_now(w->loop);
    struct claim_ctx *cc;
    struct wqueue *q = NULL;
    char n[16], vis[24], maxa[16];
    const char *av[4];
    int want, pre = prefetch_target(w);

    if (w->claiming >= CLAIMS_MAX || w->draining ||
        w->nfree <= w->claim_asked ||
        w->active + w->queued + w->claim_asked >= w->cfg->concurrency + pre ||
        !rconn_is_up(w->rc))
        return;
    if (now < w->circuit_until || w->budget_exhausted)
        return;
    if (w->circuit_probe && (inflight(w) > 0 || w->claiming > 0))
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
    want = w->cfg->concurrency + pre - w->active - w->queued - w->claim_asked;
    /* Ramp-up (--ramp-up): at start and after being idle, fill the slots
     * evenly over ramp_s instead of all at once, so a thousand calls do not
     * leave in the same millisecond -- and, each one claiming again as it
     * ends, do not come back in the same millisecond either, turn after
     * turn (synchronised waves: the loop then holds each finished job
     * while it works through the whole wave). */
    if (w->cfg->ramp_s > 0 && now - w->ramp_t0 < w->cfg->ramp_s) {
        double f = (now - w->ramp_t0) / w->cfg->ramp_s;
        int cap = (int)(w->cfg->concurrency * f) + 1;
        if (cap - w->active - w->queued - w->claim_asked < want)
            want = cap - w->active - w->queued - w->claim_asked;
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
    if (rconn_script(w->rc, SCRIPT_CLAIM, &q->keys, 4, av, NULL, on_claim_reply,
                     cc) < 0) {
        free(cc);
        return;
    }
    w->claiming++;
    w->claim_asked += want;
}

static void
on_wake(struct rconn *c, const char *channel, const char *msg, void *pd)
{
    struct worker *w = pd;

    (void)c;
    (void)msg;
    for (int i = 0; i < w->nq; i++)
        if (!strcmp(channel, w->q[i].keys.wake))
            w->q[i].empty = 0;
    maybe_claim(w);
}

static void
on_ramp_timer(EV_P_ ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    maybe_claim(t->data);
}

static void
on_idle_timer(EV_P_ ev_timer *t, int revents)
{
    struct worker *w = t->data;

    (void)loop;
    (void)revents;
    for (int i = 0; i < w->nq; i++)
        w->q[i].empty = 0;
    maybe_claim(w);
}

/* ---- heartbeats and maintenance ------------------------------------------ */

struct hb_ctx {
    struct worker *w;
    int n;
    struct {
        int idx;
        unsigned gen;
        char token[24];
    } e[];
};

static void
on_hb_reply(struct rconn *c, redisReply *r, void *pd)
{
    struct hb_ctx *h = pd;
    struct worker *w = h->w;

    (void)c;
    if (r && r->type == REDIS_REPLY_ARRAY && (int)r->elements == h->n) {
        for (int i = 0; i < h->n; i++) {
            struct wjob *j = &w->slots[h->e[i].idx];
            if (r->element[i]->type != REDIS_REPLY_INTEGER ||
                r->element[i]->integer == 1)
                continue;
            if (j->st == J_FREE || j->st == J_FLUSHING ||
                j->gen != h->e[i].gen || strcmp(j->token, h->e[i].token) != 0)
                continue;
            log_kv(LOG_WARN, "lease lost; abandoning the job", "job", j->id,
                   NULL);
            j->lost = 1;
            if (j->st == J_PENDING) {
                /* unlink from the pending list */
                struct wjob **pp = &j->q->pending;
                while (*pp && *pp != j)
                    pp = &(*pp)->pnext;
                if (*pp)
                    *pp = j->pnext;
                j->q->ptail = &j->q->pending;
                while (*j->q->ptail)
                    j->q->ptail = &(*j->q->ptail)->pnext;
            }
            slot_release(j);
        }
    }
    free(h);
}

#define HB_MAX 1000 /* jobs per extend call (Lua unpack() limits) */

/* Extend the leases of the jobs this worker holds in q, with progress, in
 * calls of at most HB_MAX jobs. */
static void
heartbeat_queue(struct worker *w, struct wqueue *q)
{
    int from = 0;
    char vis[24];

    snprintf(vis, sizeof(vis), "%d", w->cfg->visibility_s * 1000);
    while (from < w->cap) {
        struct hb_ctx *h = malloc(sizeof(*h) + sizeof(h->e[0]) * HB_MAX);
        const char **av = malloc(sizeof(*av) * (1 + 3 * HB_MAX));
        char(*prog)[24] = malloc(sizeof(*prog) * HB_MAX);
        int k = 0;

        if (!h || !av || !prog) {
            free(h);
            free(av);
            free(prog);
            return;
        }
        h->w = w;
        h->n = 0;
        av[k++] = vis;
        for (; from < w->cap && h->n < HB_MAX; from++) {
            struct wjob *j = &w->slots[from];
            if (!(j->q == q && j->st != J_FREE && j->st != J_FLUSHING &&
                  !j->lost))
                continue;
            h->e[h->n].idx = from;
            h->e[h->n].gen = j->gen;
            snprintf(h->e[h->n].token, sizeof(h->e[h->n].token), "%s",
                     j->token);
            snprintf(prog[h->n], 24, "%ld",
                     j->st == J_RUNNING && j->stream
                         ? j->out_tokens +
                               (j->res.output_tokens > j->res.text_deltas
                                    ? j->res.output_tokens
                                    : j->res.text_deltas)
                         : -1L);
            av[k++] = j->id;
            av[k++] = j->token;
            av[k++] = prog[h->n];
            h->n++;
        }
        if (h->n == 0 || rconn_script(w->rc, SCRIPT_EXTEND, &q->keys, k, av,
                                      NULL, on_hb_reply, h) < 0)
            free(h);
        free(av);
        free(prog);
    }
}

static void
on_hb_timer(EV_P_ ev_timer *t, int revents)
{
    struct worker *w = t->data;

    (void)loop;
    (void)revents;
    if (!rconn_is_up(w->rc))
        return;
    for (int i = 0; i < w->nq; i++)
        heartbeat_queue(w, &w->q[i]);
}

static void
on_maint_reply(struct rconn *c, redisReply *r, void *pd)
{
    (void)c;
    (void)r;
    (void)pd;
}

/* Queue depth samples for /metrics and the dead-letter alert. */
static const char ready_sum_lua[] =
    "return redis.call('LLEN', KEYS[1]) + redis.call('LLEN', KEYS[2]) + "
    "redis.call('LLEN', KEYS[3])";
struct depth_ctx {
    struct worker *w;
    int qi;
    enum metrics_state st;
};

static void
on_depth_reply(struct rconn *c, redisReply *r, void *pd)
{
    struct depth_ctx *d = pd;
    struct worker *w = d->w;

    (void)c;
    if (r && r->type == REDIS_REPLY_INTEGER) {
        long n = (long)r->integer;
        /* the leases set holds one more member than leases (prelude.lua:
         * LEASE_PIN) */
        if (d->st == MS_ACTIVE && n > 0)
            n--;
        metrics_queue_depth(w->m, d->qi, d->st, n);
        if (d->st == MS_DEAD && w->cfg->dead_alert > 0 &&
            r->integer > w->cfg->dead_alert) {
            char text[256], key[96];
            snprintf(text, sizeof(text),
                     "queue %s holds %lld dead letters (threshold %ld): "
                     "inspect with genq dlq ls",
                     w->q[d->qi].keys.queue, r->integer, w->cfg->dead_alert);
            snprintf(key, sizeof(key), "dead-letters:%s",
                     w->q[d->qi].keys.queue);
            alerts_raise(w->al, ALERT_LVL_P0, key, text);
        }
    }
    free(d);
}

static void
sample_depths(struct worker *w)
{
    static const struct {
        enum qkey k;
        enum metrics_state st;
        const char *cmd;
    } probes[] = {{QK_READY_HIGH, MS_READY, "LLEN"},
                  {QK_LEASES, MS_ACTIVE, "ZCARD"},
                  {QK_DELAYED, MS_DELAYED, "ZCARD"},
                  {QK_DEAD, MS_DEAD, "ZCARD"}};

    for (int i = 0; i < w->nq; i++)
        for (size_t p = 0; p < sizeof(probes) / sizeof(probes[0]); p++) {
            struct depth_ctx *d = malloc(sizeof(*d));
            const char *av[2] = {probes[p].cmd, w->q[i].keys.key[probes[p].k]};
            if (!d)
                return;
            d->w = w;
            d->qi = i;
            d->st = probes[p].st;
            if (probes[p].st == MS_READY) {
                /* ready = the three priority lists, summed in Lua */
                const char *ev[] = {"EVAL",
                                    ready_sum_lua,
                                    "3",
                                    w->q[i].keys.key[QK_READY_HIGH],
                                    w->q[i].keys.key[QK_READY],
                                    w->q[i].keys.key[QK_READY_LOW]};
                if (rconn_command(w->rc, 6, ev, NULL, on_depth_reply, d) < 0)
                    free(d);
                continue;
            }
            if (rconn_command(w->rc, 2, av, NULL, on_depth_reply, d) < 0)
                free(d);
        }
}

/* The registry of live workers (`genq workers`): a hash of descriptions
 * and a zset of last beats; readers forget members that stopped beating. */
static void
registry_beat(struct worker *w, int leaving)
{
    char desc[1024], now[32], queues[600] = "";
    const char *av[4];

    if (leaving) {
        av[0] = "ZREM";
        av[1] = "genq:workers:beat";
        av[2] = w->id;
        rconn_command(w->rc, 3, av, NULL, on_maint_reply, NULL);
        av[0] = "HDEL";
        av[1] = "genq:workers";
        rconn_command(w->rc, 3, av, NULL, on_maint_reply, NULL);
        return;
    }
    for (int i = 0; i < w->nq; i++) {
        size_t l = strlen(queues);
        snprintf(queues + l, sizeof(queues) - l, "%s\"%s\"", i ? "," : "",
                 w->q[i].keys.queue);
    }
    snprintf(desc, sizeof(desc),
             "{\"id\":\"%s\",\"pid\":%d,\"queues\":[%s],\"in_flight\":%d,"
             "\"concurrency\":%d,\"started_ms\":%lld,\"provider\":\"%s\"}",
             w->id, (int)getpid(), queues, w->active, w->cfg->concurrency,
             (long long)w->started_ms, llm_provider_name(w->cfg->provider));
    snprintf(now, sizeof(now), "%lld", (long long)time_now_ms());
    av[0] = "HSET";
    av[1] = "genq:workers";
    av[2] = w->id;
    av[3] = desc;
    rconn_command(w->rc, 4, av, NULL, on_maint_reply, NULL);
    av[0] = "ZADD";
    av[1] = "genq:workers:beat";
    av[2] = now;
    av[3] = w->id;
    rconn_command(w->rc, 4, av, NULL, on_maint_reply, NULL);
}

/* Fleet-wide spend per UTC day: INCRBYFLOAT genq:spend:YYYY-MM-DD by what
 * this worker spent since the last report; the reply is the fleet's total.
 * At or over the budget, claiming stops until the day changes. */
static void
on_spend_reply(struct rconn *c, redisReply *r, void *pd)
{
    struct worker *w = pd;
    double total;

    (void)c;
    w->spend_inflight = 0;
    if (!r || r->type != REDIS_REPLY_STRING) {
        w->spend_pending += w->spend_sent; /* not counted: send it again */
        w->spend_sent = 0;
        if (w->draining)
            on_drain_check(w);
        return;
    }
    w->spend_sent = 0;
    if (w->draining)
        on_drain_check(w);
    total = strtod(r->str, NULL);
    if (w->cfg->budget_usd_day > 0 && total >= w->cfg->budget_usd_day) {
        char text[256];
        if (!w->budget_exhausted)
            log_kv(LOG_ERROR, "daily budget exhausted: claiming stopped",
                   "spent_usd", r->str, NULL);
        w->budget_exhausted = 1;
        snprintf(text, sizeof(text),
                 "daily API budget exhausted: %.2f of %.2f USD spent today "
                 "(UTC); claiming stopped until tomorrow",
                 total, w->cfg->budget_usd_day);
        alerts_raise(w->al, ALERT_LVL_P0, "budget", text);
    } else if (w->budget_exhausted) {
        w->budget_exhausted = 0;
        log_kv(LOG_INFO, "budget available again: claiming resumed", NULL);
        maybe_claim(w);
    }
    metrics_budget(w->m, w->budget_exhausted);
}

static void
report_spend(struct worker *w)
{
    char key[48], amount[48];
    time_t t = time(NULL);
    struct tm tm;
    const char *av[3] = {"INCRBYFLOAT", key, amount};

    /* with a budget, a zero INCRBYFLOAT still reads the fleet's total, so a
     * stopped worker learns when a new day begins */
    if (w->spend_inflight ||
        (w->spend_pending <= 0 && w->cfg->budget_usd_day <= 0))
        return;
    gmtime_r(&t, &tm);
    snprintf(key, sizeof(key), "genq:spend:%04d-%02d-%02d", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday);
    snprintf(amount, sizeof(amount), "%.9f", w->spend_pending);
    if (rconn_command(w->rc, 3, av, NULL, on_spend_reply, w) == 0) {
        w->spend_sent = w->spend_pending;
        w->spend_pending = 0;
        w->spend_inflight = 1;
    }
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
            alerts_raise(w->al, ALERT_LVL_P0, "redis-down", text);
        }
        return;
    }
    metrics_redis_up(w->m, 1);
    if (w->draining)
        return;
    {
        char vis[24];
        const char *av[1] = {vis};
        snprintf(vis, sizeof(vis), "%d", w->cfg->visibility_s * 1000);
        for (int i = 0; i < w->nq; i++)
            rconn_script(w->rc, SCRIPT_MAINTAIN, &w->q[i].keys, 1, av, NULL,
                         on_maint_reply, NULL);
    }
    report_spend(w);
    if (w->tick % 5 == 1) {
        sample_depths(w);
        registry_beat(w, 0);
    }
}

/* ---- lost claim replies ----------------------------------------------------
 * A claim whose reply never came (connection dropped, command timeout) may
 * have leased jobs to this worker that nobody works on. Once Redis is
 * reachable, release.lua hands back every job leased to this worker id
 * whose token we do not hold, attempt not counted. */

struct release_ctx {
    struct worker *w;
    int left; /* queues still to answer */
};

static void
on_release_reply(struct rconn *c, redisReply *r, void *pd)
{
    struct release_ctx *rc = pd;
    struct worker *w = rc->w;

    (void)c;
    if (r && r->type == REDIS_REPLY_INTEGER && r->integer > 0) {
        char n[24];
        snprintf(n, sizeof(n), "%lld", r->integer);
        log_kv(LOG_WARN, "handed back jobs leased by a lost claim reply",
               "jobs", n, NULL);
    }
    if (!r || r->type == REDIS_REPLY_ERROR)
        w->claim_lost = 1; /* try again later */
    if (--rc->left == 0) {
        free(rc);
        w->claiming = 0; /* the release's block (see release_lost) */
        if (w->draining)
            on_drain_check(w);
        else
            maybe_claim(w);
    }
}

/* 0 when release calls were sent (their replies continue), -1 when not. */
static int
release_lost(struct worker *w)
{
    struct release_ctx *rc = malloc(sizeof(*rc));
    int sent = 0;

    if (!rc)
        return -1;
    rc->w = w;
    rc->left = w->nq;
    w->claim_lost = 0;
    for (int i = 0; i < w->nq; i++) {
        const char **av = malloc(sizeof(*av) * (size_t)(1 + w->cap));
        int n = 0;
        if (!av) {
            rc->left--;
            w->claim_lost = 1;
            continue;
        }
        av[n++] = w->id;
        for (int k = 0; k < w->cap; k++)
            if (w->slots[k].st != J_FREE && w->slots[k].q == &w->q[i])
                av[n++] = w->slots[k].token;
        if (rconn_script(w->rc, SCRIPT_RELEASE, &w->q[i].keys, n, av, NULL,
                         on_release_reply, rc) == 0)
            sent++;
        else {
            rc->left--;
            w->claim_lost = 1;
        }
        free(av);
    }
    if (sent == 0) {
        free(rc);
        return -1;
    }
    w->claiming = CLAIMS_MAX; /* no claims until the release is done */
    return 0;
}

/* ---- drain ----------------------------------------------------------------
 */

static void
on_drain_check(struct worker *w)
{
    /* a claim in flight may bring jobs to hand back; spend not yet
     * reported would be lost from the fleet's budget */
    if (inflight(w) > 0 || w->claiming || w->spend_inflight)
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
        if (j->st == J_RUNNING || j->st == J_WAITING)
            job_finish(j, OUT_REQUEUE,
                       error_doc("not_job_fault", 0, "shutdown",
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
    on_drain_check(w);
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

/* ---- setup ----------------------------------------------------------------
 */

static void
on_rc_state(struct rconn *c, int up, void *ud)
{
    struct worker *w = ud;

    (void)c;
    metrics_redis_up(w->m, up);
    if (up) {
        for (int i = 0; i < w->nq; i++)
            w->q[i].empty = 0;
        alerts_flush(w->al);
        /* leases ran on while Redis was away: extend them before anyone's
         * reaper sees them expire */
        for (int i = 0; i < w->nq; i++)
            heartbeat_queue(w, &w->q[i]);
        if (w->claim_lost && !w->claiming && release_lost(w) == 0)
            return;
        maybe_claim(w);
    }
}

/* Make the header set for new requests (token: the JWT, or NULL to use
 * the API key); the previous set lives on while requests hold it. */
static int
build_headers(struct worker *w, const char *token)
{
    const struct wcfg *cfg = w->cfg;
    char line[8192];
    struct curl_slist *l = NULL, *t;
    struct hdrs *h = calloc(1, sizeof(*h));

    if (!h)
        return -1;
#define ADD(s)                                                                 \
    do {                                                                       \
        t = curl_slist_append(l, (s));                                         \
        if (!t)                                                                \
            goto oom;                                                          \
        l = t;                                                                 \
    } while (0)
    ADD("content-type: application/json");
    ADD(cfg->stream ? "accept: text/event-stream" : "accept: application/json");
    ADD("expect:"); /* no 100-continue round trip */
    if (cfg->provider == LLM_ANTHROPIC || cfg->provider == LLM_NOOP)
        ADD("anthropic-version: " LLM_ANTHROPIC_VERSION);
    if (token) {
        snprintf(line, sizeof(line), "authorization: Bearer %s", token);
        ADD(line);
    } else if (cfg->api_key && cfg->auth == AUTH_API_KEY) {
        snprintf(line, sizeof(line), "x-api-key: %s", cfg->api_key);
        ADD(line);
    } else if (cfg->api_key) {
        snprintf(line, sizeof(line), "authorization: Bearer %s", cfg->api_key);
        ADD(line);
    }
#undef ADD
    memset(line, 0, sizeof(line));
    h->l = l;
    h->refs = 1;
    hdrs_unref(w->hdrs);
    w->hdrs = h;
    return 0;
oom:
    memset(line, 0, sizeof(line));
    curl_slist_free_all(l);
    free(h);
    return -1;
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
    w->slots = calloc((size_t)w->cap, sizeof(*w->slots));
    w->freelist = calloc((size_t)w->cap, sizeof(int));
    if (!w->slots || !w->freelist)
        goto fail;
    for (int i = 0; i < w->cap; i++) {
        struct wjob *j = &w->slots[i];
        j->w = w;
        j->idx = i;
        ev_timer_init(&j->retry_timer, on_retry_timer, 0., 0.);
        j->retry_timer.data = j;
        w->freelist[w->nfree++] = w->cap - 1 - i;
    }
    if (cfg->provider != LLM_NOOP) {
        struct llm_req_opts o = {cfg->provider, "m", 1, 0};
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
    w->http = http_new(loop);
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
    w->rc = rconn_new(loop, &cfg->redis, "main", 1, on_rc_state, w);
    w->sub = rconn_new(loop, &cfg->redis, "wake", 0, NULL, w);
    if (!w->rc || !w->sub)
        goto fail;
    rconn_set_timeout(w->rc, cfg->redis_timeout_s);
    w->al = alerts_new(loop, w->rc, w->http, w->m, cfg->alert_webhook, w->id);
    if (!w->al)
        goto fail;
    for (int i = 0; i < w->nq; i++)
        if (rconn_subscribe(w->sub, w->q[i].keys.wake, on_wake, w) < 0)
            goto fail;

    ev_timer_init(&w->idle_timer, on_idle_timer,
                  (double)cfg->idle_poll_ms / 1000.0,
                  (double)cfg->idle_poll_ms / 1000.0);
    w->idle_timer.data = w;
    ev_timer_start(loop, &w->idle_timer);
    ev_timer_init(&w->ramp_timer, on_ramp_timer, 0., 0.);
    w->ramp_timer.data = w;
    w->ramp_t0 = ev_now(loop);
    ev_timer_init(&w->hb_timer, on_hb_timer, cfg->visibility_s / 3.0,
                  cfg->visibility_s / 3.0);
    w->hb_timer.data = w;
    ev_timer_start(loop, &w->hb_timer);
    ev_timer_init(&w->maint_timer, on_maint_timer, 1.0, 1.0);
    w->maint_timer.data = w;
    ev_timer_start(loop, &w->maint_timer);
    ev_timer_init(&w->drain_timer, on_drain_timer, 0., 0.);
    w->drain_timer.data = w;
    ev_prepare_init(&w->flush_w, on_flush);
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
    alerts_free(w->al);
    rconn_free(w->rc);
    rconn_free(w->sub);
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
    hdrs_unref(w->hdrs);
    jwtmint_free(w->jwt);
    free(w->url);
    free(w->slots);
    free(w->freelist);
    free(w);
}
