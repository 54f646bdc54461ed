/* attempt: one attempt of a job -- starting a try (request body, headers,
 * limits), reading the response, and what follows it: on_http_done() parses
 * the outcome, asks outcome_decide() (outcome.c) what to do, and acts
 * (metrics, spend, alerts, JWT re-mint, in-attempt retry, finish). */
#include "fmacros.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "job.h"
#include "log.h"
#include "worker_int.h"

/* Job-level backoff after attempt j->attempts failed (outcome.c). */
static int64_t
job_backoff_ms(const struct wjob *j)
{
    return outcome_job_backoff_ms(j->attempts, j->w->cfg->job_backoff_base_s,
                                  worker_rand01());
}

static int
on_http_data(struct http_req *r, const char *p, size_t n)
{
    struct wjob *j = r->ud;

    if (!j->stream)
        return -1;
    pcache_begun(j); /* a 2xx body has begun: the cache entry exists */
    if (llm_stream_feed(j->stream, p, n) < 0)
        return -1; /* stream reported an error: stop reading */
    if (j->res.got_first_token && j->t_first == 0)
        j->t_first = ev_now(j->w->loop);
    return 0;
}

void
attempt_on_retry_timer(EV_P_ ev_timer *t, int revents)
{
    struct wjob *j = t->data;

    (void)loop;
    (void)revents;
    job_start_try(j);
}

/* A failed request, parsed: the error, its verdict and the retry hint. */
struct attempt_fail {
    struct llm_error e;
    struct err_verdict v;
    double hint;
    char msg[700]; /* the error's message, or the verdict's why */
};

/* Parse the finished request into j->res. Returns the curl code to go on
 * with (0 when the stream itself reported the error we stopped on). */
static int
attempt_parse(struct wjob *j, struct http_req *r, int curl_code)
{
    struct worker *w = j->w;

    if (curl_code == 0 && r->status >= 200 && r->status < 300) {
        if (j->stream) {
            llm_stream_finish(j->stream);
        } else {
            llm_parse_body(w->cfg->provider, (int)r->status,
                           r->resp.data ? r->resp.data : "", r->resp.len,
                           r->request_id, &j->res);
        }
    } else if (curl_code == 0) {
        llm_parse_body(w->cfg->provider, (int)r->status,
                       r->resp.data ? r->resp.data : "", r->resp.len,
                       r->request_id, &j->res);
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
    return curl_code;
}

/* Account a successful part's tokens and their price (budget.c). */
static void
attempt_spend(struct wjob *j)
{
    j->usd += budget_spend(j, &j->res);
    j->cw_tokens += j->res.cache_creation_input_tokens;
    j->cr_tokens += j->res.cache_read_input_tokens;
    j->in_tokens += j->res.input_tokens;
    j->out_tokens += j->res.output_tokens;
}

/* A part succeeded: stitch its text, count it, then continue the article
 * or complete the job. */
static void
attempt_part_done(struct wjob *j, struct http_req *r)
{
    struct worker *w = j->w;
    size_t keep = j->text.len;

    if (j->continuations > 0 || j->text.len > 0)
        keep = llm_prefill_trim(j->text.data, j->text.len);
    j->text.len = keep;
    if (j->text.data)
        j->text.data[keep] = '\0';
    if (keep == 0 && j->res.text.len <= j->text.max) {
        /* the first part: take its buffer rather than copy it (one copy
         * of the text per slot, not two, while the job lasts) */
        size_t max = j->text.max;
        buf_free(&j->text);
        j->text = j->res.text;
        j->text.max = max;
        buf_init(&j->res.text, j->res.text.max);
    } else if (j->res.text.len &&
               buf_append(&j->text, j->res.text.data, j->res.text.len) < 0) {
        job_finish(j, OUT_DEAD,
                   error_doc(DLQ_PERMANENT, 0, "result_too_large",
                             "result text over the size limit (8 MiB)", NULL),
                   0);
        return;
    }
    metrics_api(w->m, (int)r->status, "ok", ev_now(w->loop) - j->t_try,
                j->t_first >= j->t_try ? j->t_first - j->t_try : -1.0);
    attempt_spend(j);
    snprintf(j->model, sizeof(j->model), "%s", j->res.model);
    snprintf(j->stop_reason, sizeof(j->stop_reason), "%s", j->res.stop_reason);
    circuit_success(w, j);
    if (llm_result_truncated_by_length(&j->res) &&
        j->continuations < j->max_continuations) {
        j->continuations++;
        j->tries = 0;
        job_start_try(j);
        return;
    }
    cache_store(j);
    anomaly_job(w, j);
    if (review_call_start(j))
        return; /* the reviewer model's answer finishes it (review_call.c) */
    job_finish(j, OUT_COMPLETE, result_doc(j), 0);
}

/* Classify a failed request into f. */
static void
attempt_classify(struct wjob *j, struct http_req *r, int curl_code,
                 struct attempt_fail *f)
{
    struct worker *w = j->w;

    memset(&f->e, 0, sizeof(f->e));
    if (curl_code != 0) {
        f->v = errclass_transport(curl_code);
        f->e.http_status = 0;
        snprintf(f->e.type, sizeof(f->e.type), "transport");
        snprintf(f->e.message, sizeof(f->e.message), "%s (curl %d)",
                 r->errbuf[0] ? r->errbuf : curl_easy_strerror(curl_code),
                 curl_code);
    } else {
        f->e = j->res.err;
        if (f->e.http_status == 0)
            f->e.http_status = (int)r->status;
        f->v = errclass_http_message(f->e.http_status, f->e.type, f->e.message,
                                     retry_header_override(r->should_retry));
    }
    snprintf(f->e.request_id, sizeof(f->e.request_id), "%s", r->request_id);
    f->hint = retry_hint_s(&w->rp, r->retry_after_ms, r->retry_after,
                           (double)time(NULL));
    snprintf(f->msg, sizeof(f->msg), "%s",
             f->e.message[0] ? f->e.message : f->v.why);
}

/* Count a failed call; P1 when 429/5xx/transport errors are sustained. */
static void
attempt_count_error(struct wjob *j, const struct attempt_fail *f)
{
    struct worker *w = j->w;
    ev_tstamp now = ev_now(w->loop);

    metrics_api(w->m, f->e.http_status, errclass_class_name(f->v.cls),
                now - j->t_try, -1.0);
    if (!f->v.provider_wide)
        return;
    if (now - w->err_window > 60.0) {
        w->err_window = now;
        w->api_errs = 0;
    }
    if (++w->api_errs == w->cfg->api_error_alert) {
        char text[700];
        snprintf(text, sizeof(text),
                 "%d API errors (429/5xx/network) within a minute; "
                 "latest HTTP %d %s: %.400s",
                 w->api_errs, f->e.http_status, f->e.type, f->msg);
        alerts_raise(w->al, ALERT_P1, "api-errors", text);
    }
}

/* Try again inside this attempt after d seconds. */
static void
attempt_retry_later(struct wjob *j, const struct attempt_fail *f, double d)
{
    struct worker *w = j->w;
    char att[16], ds[32], st[16];

    snprintf(att, sizeof(att), "%d", j->attempts);
    snprintf(ds, sizeof(ds), "%.3f", d);
    snprintf(st, sizeof(st), "%d", f->e.http_status);
    log_kv(LOG_INFO, "API call failed; retrying", "job", j->id, "attempt", att,
           "status", st, "type", f->e.type, "request_id", f->e.request_id,
           "retry_in_s", ds, NULL);
    j->tries++;
    metrics_retry(w->m);
    wjob_enter(j, J_WAITING);
    ev_timer_set(&j->retry_timer, d, 0.);
    ev_timer_start(w->loop, &j->retry_timer);
}

/* End the attempt as decided: alert, pause claiming, finish. */
static void
attempt_end(struct wjob *j, const struct attempt_fail *f,
            const struct outcome_dec *d)
{
    const struct llm_error *e = &f->e;

    if (d->alert != ALERT_NONE) {
        char text[700];
        snprintf(text, sizeof(text), "API refuses work (HTTP %d %s): %.500s",
                 e->http_status, e->type, f->msg);
        alerts_raise(j->w->al, d->alert, d->alert_key, text);
    }
    if (d->open_circuit)
        circuit_open(j->w, f->hint, f->msg);
    job_finish(j, d->out,
               error_doc(d->cls, e->http_status, d->type ? d->type : e->type,
                         f->msg, e->request_id),
               d->backoff_ms);
}

static void
on_http_done(struct http_req *r, int curl_code)
{
    struct wjob *j = r->ud;
    struct worker *w = j->w;
    struct attempt_fail f;
    struct outcome_in in;
    struct outcome_dec d;
    int uncounted = 0; /* the fleet breaker holds the retry: not a try */

    if (j->lost) {
        slot_release(j);
        return;
    }
    if (r->status >= 200 && r->status < 300)
        pcache_begun(j);
    pcache_done(j); /* a leader without a response hands over (pcache.c) */
    curl_code = attempt_parse(j, r, curl_code);
    limiter_settle(j, curl_code == 0 && !j->res.failed && j->res.complete);
    if (curl_code == 0 && !j->res.failed && j->res.complete) {
        attempt_part_done(j, r);
        return;
    }
    attempt_classify(j, r, curl_code, &f);
    attempt_count_error(j, &f);
    if (f.e.http_status == 429)
        limiter_cooldown(j, f.hint);
    else if (f.v.provider_wide)
        uncounted = limiter_api_failed(j, f.hint);
    if (w->jwt && f.e.http_status == 401 && !j->auth_retried &&
        authhdr_remint(j)) {
        job_start_try(j);
        return;
    }
    in.v = f.v;
    in.http_status = f.e.http_status;
    in.api_type = f.e.type;
    in.tries = j->tries;
    in.attempts = j->attempts;
    in.draining = w->draining;
    in.rp = &w->rp;
    in.hint_s = f.hint;
    in.job_backoff_base_s = w->cfg->job_backoff_base_s;
    in.rand01 = worker_rand01();
    d = outcome_decide(&in);
    if (d.retry_now) {
        attempt_retry_later(j, &f, d.delay_s);
        j->tries -= uncounted;
    } else
        attempt_end(j, &f, &d);
}

void
attempt_req_prepare(struct wjob *j, long timeout_ms)
{
    struct worker *w = j->w;

    if (w->jwt)
        authhdr_refresh(w);
    hdrs_unref(j->hdrs);
    j->hdrs = w->hdrs;
    j->hdrs->refs++;
    j->req.url = w->url;
    j->req.headers = j->hdrs->l;
    j->req.timeout_ms = timeout_ms;
    j->req.connect_timeout_ms = 1000L * w->cfg->connect_timeout_s;
    j->req.stall_s = w->cfg->stall_timeout_s;
    j->req.insecure = w->cfg->insecure;
}

/* Send the next HTTP request of j's attempt (the first, a retry, or the
 * next part of a long article). */
void
job_start_try(struct wjob *j)
{
    struct worker *w = j->w;
    struct llm_req_opts o = {w->cfg->provider, w->cfg->model,
                             w->cfg->max_tokens, w->cfg->stream,
                             j->q->prompt_cache};
    const char *path;
    cJSON *ts = cJSON_GetObjectItemCaseSensitive(j->job, "timeout_s");

    if (pcache_gate(j))
        return; /* waits for its group's warm-up; pcache.c starts it */
    if (!limiter_admit(j))
        return; /* J_ADMIT: called again once the limiter admits it */
    wjob_enter(j, J_RUNNING);
    if (budget_gate(j))
        return; /* the reservation's reply starts the call (or hands back) */
    j->t_try = ev_now(w->loop);
    llm_result_reset(&j->res);
    llm_stream_free(j->stream);
    j->stream = NULL;
    http_req_reset(&j->req);
    free(j->req.body);
    j->req.body = llm_build_body(&o, j->job, j->text.data, j->text.len, &path);
    if (!j->req.body) {
        job_finish(
            j, errno == EINVAL ? OUT_DEAD : OUT_RETRY,
            error_doc(errno == EINVAL ? DLQ_INVALID : DLQ_TRANSIENT, 0, NULL,
                      errno == EINVAL ? "job has no prompt/messages or no model"
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
                       error_doc(DLQ_TRANSIENT, 0, NULL, "out of memory", NULL),
                       job_backoff_ms(j));
            return;
        }
    }
    attempt_req_prepare(j, 1000L * (cJSON_IsNumber(ts) ? (long)ts->valuedouble
                                                       : w->cfg->timeout_s));
    j->req.on_data = w->cfg->stream ? on_http_data : NULL;
    j->req.on_done = on_http_done;
    if (w->lim) {
        ratehdr_reset(&j->lj.hdr);
        j->req.on_hdr = limiter_on_hdr;
    }
    j->req.ud = j;
    j->req.resp.max = 16u << 20;
    if (http_submit(w->http, &j->req) < 0)
        job_finish(
            j, OUT_RETRY,
            error_doc(DLQ_TRANSIENT, 0, NULL, "cannot start a request", NULL),
            job_backoff_ms(j));
}

/* Start the job in slot j (J_RUNNING, counted in active) from its stored
 * value v (len bytes, borrowed): parsed (job_stored_parse); one that cannot be
 * sends the job to the dead-letter queue with the reason naming it (out
 * of memory: left to its lease, as job_begin does). */
void
job_run(struct wjob *j, const char *v, size_t len)
{
    struct worker *w = j->w;
    char err[256];
    cJSON *mc;

    j->t_start = ev_now(w->loop);
    errno = 0;
    j->job = job_stored_parse(w->pk, j->id, v, len, err, sizeof(err));
    if (!j->job && errno == ENOMEM) {
        j->lost = 1; /* its lease runs out: another worker takes it */
        slot_release(j);
        return;
    }
    if (!j->job) {
        job_finish(j, OUT_DEAD, error_doc(DLQ_INVALID, 0, NULL, err, NULL), 0);
        return;
    }
    if (w->draining) {
        /* claimed just before the drain began: hand it back untouched */
        job_finish(j, OUT_REQUEUE,
                   error_doc(DLQ_NOT_JOB_FAULT, 0, "shutdown",
                             "worker shut down before the attempt started",
                             NULL),
                   0);
        return;
    }
    if (batch_divert(j))
        return; /* joined its queue's batch (batch_collect.c) */
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
