/* flush: the documents a job ends with (the result document, the error
 * object of a failure) and writing outcomes to Redis -- collected during
 * one loop iteration and sent as one complete.lua / fail.lua call per queue
 * and kind from an ev_prepare watcher, then acknowledged per job. */
#include "fmacros.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "log.h"
#include "timefmt.h"
#include "worker_int.h"

char *
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

/* The result document, written by hand, not through cJSON: cJSON prints
 * every number through printf and checks it back with sscanf, which made
 * this function two thirds of the worker's CPU per job (callgrind, noop
 * provider). */
char *
result_doc(struct wjob *j)
{
    struct buf b;
    char num[48], ts[32];
    ev_tstamp now = ev_now(j->w->loop);
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(j->job, "metadata");
    char *reasons = review_job(j); /* review_job.c: NULL = passed */
    int bad = 0;

    buf_init(&b, 0);
    /* the text and ~400 bytes of fields: one allocation, not a doubling
     * (and a copy) per power of two */
    bad |= buf_reserve(&b, j->text.len + j->text.len / 8 + 512) < 0;
    /* complete.lua tells a review result by this prefix, and finds
     * latency_ms right after it (no search of the document): keep them
     * first */
    bad |= buf_append_str(&b, "{\"id\":") < 0;
    bad |= jsonw_str(&b, j->id, strlen(j->id)) < 0;
    bad |= buf_append_str(&b, reasons ? ",\"state\":\"review\""
                                      : ",\"state\":\"succeeded\"") < 0;
    j->lat_ms = (long long)((now - j->t_start) * 1000.0);
    bad |= jsonw_field_ll(&b, "latency_ms", j->lat_ms) < 0;
    bad |= buf_append_str(&b, ",\"text\":") < 0;
    bad |= jsonw_str(&b, j->text.data ? j->text.data : "", j->text.len) < 0;
    bad |= buf_append_str(&b, ",\"model\":") < 0;
    bad |= jsonw_str(&b, j->model, strlen(j->model)) < 0;
    bad |= buf_append_str(&b, ",\"stop_reason\":") < 0;
    bad |= jsonw_str(&b, j->stop_reason, strlen(j->stop_reason)) < 0;
    bad |= buf_append_str(&b, ",\"usage\":{\"input_tokens\":") < 0;
    bad |= jsonw_ll(&b, j->in_tokens) < 0;
    bad |= jsonw_field_ll(&b, "output_tokens", j->out_tokens) < 0;
    bad |= jsonw_field_ll(&b, "cache_creation_input_tokens", j->cw_tokens) < 0;
    bad |= jsonw_field_ll(&b, "cache_read_input_tokens", j->cr_tokens) < 0;
    bad |= buf_append_str(&b, "}") < 0;
    snprintf(num, sizeof(num), "%.6f", j->usd);
    bad |= jsonw_field(&b, "cost_usd", num) < 0;
    bad |= jsonw_field_ll(&b, "attempts", j->attempts) < 0;
    bad |=
        (j->t_first > 0
             ? jsonw_field_ll(&b, "first_token_ms",
                              (long long)((j->t_first - j->t_start) * 1000.0))
             : jsonw_field(&b, "first_token_ms", "null")) < 0;
    bad |= jsonw_field(&b, "cached", j->cached ? "true" : "false") < 0;
    timefmt_rfc3339(time_now_ms(), ts);
    bad |= jsonw_field_str(&b, "finished_at", ts) < 0;
    bad |= jsonw_field_str(&b, "request_id", j->request_id) < 0;
    bad |= jsonw_field_ll(&b, "continuations", j->continuations) < 0;
    if (meta) {
        char *m = cJSON_PrintUnformatted(meta);
        bad |= !m || jsonw_field(&b, "metadata", m) < 0;
        cJSON_free(m);
    }
    bad |= tmplstats_doc(j, &b) < 0; /* "template": {name, version} */
    if (reasons) {
        bad |= buf_append_str(&b, ",\"review\":{\"reasons\":") < 0;
        bad |= buf_append_str(&b, reasons) < 0;
        bad |= buf_append_str(&b, "}") < 0;
        free(reasons);
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
    size_t bytes; /* its documents' bytes, in w->flush_bytes until answered */
    struct wjob *jobs[];
};

static void
on_flush_reply(struct rconn *c, redisReply *r, void *pd)
{
    struct flush_batch *b = pd;
    struct worker *w = b->w;

    (void)c;
    w->flush_bytes -= b->bytes;
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
            wjob_enter(j, J_PENDING); /* counts against concurrency again */
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
        if (!stale) /* per-template figures (tmplstats.c) */
            tmplstats_note(j, j->out == OUT_COMPLETE
                                  ? (j->flagged ? "review" : "succeeded")
                              : e->type == REDIS_REPLY_STRING &&
                                      !strcmp(e->str, "dead")
                                  ? "dead"
                                  : NULL);
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
            if (alerts_raise(w->al, ALERT_P2, "job-died", text))
                w->died = 0;
        } else {
            metrics_job(w->m, qi, MO_RETRIED);
        }
        if (stale)
            log_kv(LOG_WARN,
                   "lease lost before the outcome was stored; the job is no "
                   "longer ours (reclaimed, requeued, dead or canceled)",
                   "job", j->id, "attempt", att, "outcome",
                   outcome_name(j->out), NULL);
        else if (j->out == OUT_COMPLETE)
            log_kv(LOG_DEBUG, "job succeeded", "job", j->id, "attempt", att,
                   "request_id", j->request_id, NULL);
        else
            log_kv(j->out == OUT_DEAD ? LOG_WARN : LOG_INFO, "job failed",
                   "job", j->id, "attempt", att, "outcome",
                   outcome_name(j->out), "state",
                   e->type == REDIS_REPLY_STRING ? e->str : "?", "error",
                   j->doc, NULL);
        slot_release(j);
    }
    free(b);
    tmplstats_flush(w);
    if (w->js.active == 0)
        registry_idle(w); /* `genq workers` shows it idle at once */
}

/* At most this many jobs per script call: Lua's unpack() takes ~8,000
 * values, and a completion uses 2 per job. */
#define FLUSH_MAX 500

/* At most this many bytes of outcome documents in flush calls not yet
 * answered; the rest wait in their queue's pending list for the next loop
 * iteration after a reply. Redis runs the calls one after another anyway,
 * so holding them back delays nothing, while sending all at once after a
 * burst (10,000 streams ending together, or the worker starved of CPU)
 * copied every document into hiredis's output buffer: tens of MB of peak
 * RSS at --concurrency 10000. */
#define FLUSH_BYTES_MAX (4u << 20)

/* The latency_ms of the result documents of jobs[0..n) (result_doc keeps
 * it in lat_ms), joined by ',' into b: 0, or -1 when one has none or out
 * of memory (then not sent: complete.lua reads each document's). */
static int
lat_join(struct buf *b, struct wjob *const *jobs, int n)
{
    for (int i = 0; i < n; i++)
        if (jobs[i]->lat_ms < 0 || (i > 0 && buf_append(b, ",", 1) < 0) ||
            jsonw_ll(b, jobs[i]->lat_ms) < 0)
            return -1;
    return 0;
}

/* Send up to FLUSH_MAX pending outcomes of one kind; returns how many. */
static int
flush_kind(struct worker *w, struct wqueue *q, int complete)
{
    struct wjob **pp = &q->pending, *j;
    int n = 0, argc, k = 0;
    struct flush_batch *b;
    const char **av;
    size_t *al;
    char ttl[24], fmax[24];
    char(*nums)[24];
    struct buf lats;

    if (w->flush_bytes >= FLUSH_BYTES_MAX)
        return 0; /* the next loop iteration after a reply */
    for (j = q->pending; j && n < FLUSH_MAX; j = j->pnext)
        if ((j->out == OUT_COMPLETE) == complete)
            n++;
    if (n == 0)
        return 0;
    b = malloc(sizeof(*b) + sizeof(struct wjob *) * (size_t)n);
    /* + the feed's bound, after the jobs (complete.lua, fail.lua) */
    argc = complete ? 3 + 3 * n : 5 * n + 1; /* complete: + lat_join's */
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
    b->bytes = 0;
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
            av[k] = outcome_name(j->out);
            al[k] = strlen(outcome_name(j->out));
            k++;
            snprintf(nums[b->n], 24, "%" PRId64, j->backoff_ms);
            av[k] = nums[b->n];
            al[k++] = strlen(nums[b->n]);
        }
        av[k] = j->doc;
        al[k] = strlen(j->doc);
        b->bytes += al[k++];
        /* an outcome on its way no longer holds a job slot */
        wjob_enter(j, J_FLUSHING);
        b->jobs[b->n++] = j;
    }
    snprintf(fmax, sizeof(fmax), "%ld", w->cfg->feed_maxlen);
    av[k] = fmax;
    al[k++] = strlen(fmax);
    /* complete.lua: the documents' latencies in one argument, which it
     * keeps as one element of the latency sample (~1.8k Redis instructions
     * per job less than reading each document's) */
    buf_init(&lats, 0);
    if (complete && lat_join(&lats, b->jobs, b->n) == 0) {
        av[k] = lats.data;
        al[k++] = lats.len;
    }
    argc = k;
    /* recompute the tail of what is left */
    q->ptail = &q->pending;
    while (*q->ptail)
        q->ptail = &(*q->ptail)->pnext;
    w->flush_bytes += b->bytes; /* before: the reply takes it off */
    if (rconn_script(w->rc, complete ? SCRIPT_COMPLETE : SCRIPT_FAIL, &q->keys,
                     argc, av, al, on_flush_reply, b) < 0) {
        /* not connected: put them back; the reconnect flushes again */
        w->flush_bytes -= b->bytes;
        for (int i = 0; i < b->n; i++) {
            wjob_enter(b->jobs[i], J_PENDING);
            *q->ptail = b->jobs[i];
            q->ptail = &b->jobs[i]->pnext;
        }
        free(b);
        n = 0;
    }
    buf_free(&lats);
    free(av);
    free(al);
    free(nums);
    return n;
}

void
flush_on_prepare(EV_P_ ev_prepare *wp, int revents)
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
    if (!rconn_is_up(w->rc) || ev_now(w->loop) < w->flush_hold) {
        limiter_flush(w);
        return;
    }
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
    limiter_flush(w); /* the reserves and settles of this iteration */
}
