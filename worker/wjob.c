/* wjob: the worker's job slots -- taking one for a claimed job, the line
 * of jobs claimed ahead (--prefetch), recording a job's outcome for the
 * next flush, and giving the slot back. State changes go through
 * wjob_enter() (worker_int.h, jobstate.h). */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "worker_int.h"

/* The most recently freed slot (its memory is warm), set up on its first
 * use. The caller checked w->nfree > 0. */
static struct wjob *
slot_pop(struct worker *w)
{
    struct wjob *j = &w->slots[w->freelist[--w->nfree]];

    if (!j->w) {
        j->w = w;
        j->idx = (int)(j - w->slots);
        ev_timer_init(&j->retry_timer, attempt_on_retry_timer, 0., 0.);
        j->retry_timer.data = j;
        ev_timer_init(&j->cache_timer, cache_on_wait_timer, 0., 0.);
        j->cache_timer.data = j;
    }
    return j;
}

static struct wjob *
slot_take(struct worker *w)
{
    struct wjob *j;

    if (w->nfree == 0 || w->js.active >= w->cfg->concurrency)
        return NULL;
    j = slot_pop(w);
    wjob_enter(j, J_RUNNING);
    metrics_inflight(w->m, w->js.active);
    return j;
}

void
slot_release(struct wjob *j)
{
    struct worker *w = j->w;

    if (j->req.easy)
        http_abort(w->http, &j->req);
    ev_timer_stop(w->loop, &j->retry_timer);
    ev_timer_stop(w->loop, &j->cache_timer);
    cache_unlock(j);
    pcache_done(j);
    limiter_settle(j, 0); /* a reservation no HTTP reply settled: refund */
    budget_release(j);
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
    j->lat_ms = -1;
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
    }
    wjob_enter(j, J_FREE);
    j->lost = 0;
    w->freelist[w->nfree++] = j->idx;
    if (w->freeing)
        return;
    metrics_inflight(w->m, w->js.active);
    if (w->draining)
        worker_drain_check(w);
    else
        maybe_claim(w);
}

void
slotref_set(struct slotref *r, const struct wjob *j)
{
    r->w = j->w;
    r->idx = j->idx;
    r->gen = j->gen;
    snprintf(r->token, sizeof(r->token), "%s", j->token);
}

struct wjob *
slotref_get(const struct slotref *r)
{
    struct wjob *j = &r->w->slots[r->idx];

    if (j->st != J_RUNNING || j->lost || j->gen != r->gen ||
        strcmp(j->token, r->token) != 0 || j->req.easy)
        return NULL;
    return j;
}

int
inflight(const struct worker *w)
{
    return w->cap - w->nfree;
}

void
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
        j->lost = 1;
        slot_release(j);
        return;
    }
    if (j->req.easy)
        http_abort(j->w->http, &j->req);
    ev_timer_stop(j->w->loop, &j->retry_timer);
    /* the document holds what the job made: its texts go now, not when
     * Redis acknowledges (at 10,000 streams ending together that is
     * ~2-3 KB a job held meanwhile) */
    buf_free(&j->text);
    buf_free(&j->res.text);
    j->out = out;
    j->doc = doc;
    j->backoff_ms = backoff_ms;
    wjob_enter(j, J_PENDING);
    j->pnext = NULL;
    *q->ptail = j;
    q->ptail = &j->pnext;
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
    j->cw_tokens = j->cr_tokens = 0; /* pcache.c, tmplstats.c */
    j->usd = 0;
    j->flagged = j->pc_state = 0;
    free(j->rv_model); /* a review call whose slot moved on */
    j->rv_model = NULL;
    j->pc_next = NULL;
    j->t_first = 0;
    j->model[0] = j->stop_reason[0] = j->request_id[0] = '\0';
    j->cached = 0;
    j->cache_key[0] = '\0';
    j->cache_lock = 0;
    j->bstate = 0;
    memset(&j->lj, 0, sizeof(j->lj));
    buf_init(&j->text, LLM_TEXT_MAX);
    llm_result_init(&j->res);
    if (!j->id) {
        j->lost = 1;
        slot_release(j);
        return -1;
    }
    return 0;
}

/* A freshly claimed job. payload is borrowed from the claim reply. With
 * every slot at work it waits in line (J_QUEUED: leased and heartbeated
 * like the others) until start_queued() gives it a free one. */
void
job_begin(struct worker *w, struct wqueue *q, const char *id, const char *token,
          long attempts, const char *v, size_t len)
{
    struct wjob *j;

    /* behind the ones already in line, in claim order */
    if ((w->js.active >= w->cfg->concurrency || w->qhead) && w->nfree > 0) {
        j = slot_pop(w);
        wjob_enter(j, J_QUEUED);
        j->qnext = NULL;
        *w->qtail = j;
        w->qtail = &j->qnext;
        if (job_init(j, q, id, token, attempts) < 0)
            return;
        j->raw = malloc(len + 1);
        j->raw_len = len;
        if (j->raw) {
            memcpy(j->raw, v, len);
            j->raw[len] = '\0';
        } else {
            j->lost = 1; /* its lease runs out: another worker takes it */
            slot_release(j);
        }
        return;
    }
    j = slot_take(w);
    if (!j)
        return; /* cannot happen: claims ask for free slots only */
    if (job_init(j, q, id, token, attempts) == 0)
        job_run(j, v, len);
}

/* Start the jobs waiting in line while slots are free (all of them when
 * draining: they go straight back to their queues). Returns how many. */
int
start_queued(struct worker *w)
{
    int n = 0;

    while (w->qhead && (w->js.active < w->cfg->concurrency || w->draining)) {
        struct wjob *j = w->qhead;
        char *raw = j->raw;

        w->qhead = j->qnext;
        if (!w->qhead)
            w->qtail = &w->qhead;
        j->qnext = NULL;
        j->raw = NULL;
        wjob_enter(j, J_RUNNING);
        metrics_inflight(w->m, w->js.active);
        metrics_prefetched(w->m);
        job_run(j, raw, j->raw_len);
        free(raw);
        n++;
    }
    return n;
}
