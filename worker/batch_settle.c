/* batch_settle: an ended batch's results become the members' outcomes
 * through the normal lifecycle (README "Batch mode"). The members are read
 * from the record, the results streamed line by line (never whole in
 * memory: Anthropic's results, OpenAI's output then error file), and each
 * member settled by complete.lua / fail.lua under the lease token recorded
 * for it -- fenced, so a second settlement (a poller that died half-way,
 * a turn run again) changes nothing. succeeded -> completed (result
 * document with batch_id, priced at the batch discount); errored -> the
 * error-class rules (permanent: dead; retryable: retry with backoff);
 * canceled / expired / missing -> back to the queue, attempt not
 * counted. Then batch_done.lua closes the record. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "log.h"
#include "timefmt.h"
#include "worker_int.h"
#include "batch.h"

#define SETTLE_CHUNK 200 /* members per complete / fail call */

/* Pending script arguments: NUL-terminated strings back to back in b. */
static int
arg_push(struct buf *b, const char *s, size_t n)
{
    if (buf_append(b, s, n) < 0 || buf_append(b, "", 1) < 0)
        return -1;
    return 0;
}

static void settle_finish(struct bop *op);

/* One complete / fail call in flight: its members (batch_review_ack). */
struct scall {
    struct bop *op;
    int fail, n;
    int idx[];
};

/* Member m's completion was stored: the bill of its entry, if m carries
 * it, counts now (tokens, spend, budgets), so a batch settled a second
 * time (its results download failed halfway) is not spent twice. */
static void
bill_count(struct bop *op, struct bmember *m)
{
    struct worker *w = op->bw->w;

    if (!m->bill)
        return;
    m->bill = 0;
    metrics_tokens(w->m, m->bill_in, m->bill_out);
    metrics_spend(w->m, m->usd);
    budget_spend_batch(w, op->qi, m->bill_tok, m->usd);
}

static void
on_settle_reply(struct rconn *rc, redisReply *r, void *pd)
{
    struct scall *sc = pd;
    struct bop *op = sc->op;

    (void)rc;
    batch_review_ack(op, sc->fail, sc->idx, sc->n, r);
    op->calls--;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        op->failed = 1;
    } else {
        for (size_t i = 0; i < r->elements; i++) {
            const redisReply *e = r->element[i];
            if ((e->type == REDIS_REPLY_INTEGER && e->integer == 1) ||
                (e->type == REDIS_REPLY_STRING && strcmp(e->str, "stale"))) {
                op->settled++;
                if (!sc->fail && i < (size_t)sc->n)
                    bill_count(op, &op->set.m[sc->idx[i]]);
            }
        }
    }
    free(sc);
    if (op->calls == 0 && op->step == BS_DONE)
        settle_finish(op);
}

/* Send the pending arguments of one script (complete: 0, fail: 1). */
static void
settle_flush(struct bop *op, int fail)
{
    struct worker *w = op->bw->w;
    struct buf *b = fail ? &op->fargs : &op->cargs;
    struct buf *ib = fail ? &op->fidx : &op->cidx;
    int n = 0, cap, nm = (int)(ib->len / sizeof(int));
    char ttl[24], feed[24];
    struct scall *sc;

    if (b->len == 0)
        return;
    sc = malloc(sizeof(*sc) + sizeof(int) * (size_t)nm);
    if (!sc) {
        op->failed = 1;
        buf_reset(b);
        buf_reset(ib);
        return;
    }
    sc->op = op;
    sc->fail = fail;
    sc->n = nm;
    if (nm)
        memcpy(sc->idx, ib->data, sizeof(int) * (size_t)nm);
    buf_reset(ib);
    for (size_t i = 0; i < b->len; i++)
        n += b->data[i] == '\0';
    cap = n + 3;
    if (cap > op->argcap) {
        free(op->argv);
        free(op->argvlen);
        op->argv = malloc(sizeof(*op->argv) * (size_t)cap);
        op->argvlen = malloc(sizeof(*op->argvlen) * (size_t)cap);
        op->argcap = op->argv && op->argvlen ? cap : 0;
        if (!op->argcap) {
            op->failed = 1;
            buf_reset(b);
            free(sc);
            return;
        }
    }
    n = 0;
    snprintf(ttl, sizeof(ttl), "%lld", (long long)w->cfg->result_ttl_s * 1000);
    snprintf(feed, sizeof(feed), "%ld", w->cfg->feed_maxlen);
    if (!fail) {
        op->argv[n] = ttl;
        op->argvlen[n++] = strlen(ttl);
    }
    for (size_t i = 0; i < b->len;) {
        size_t l = strlen(b->data + i);
        op->argv[n] = b->data + i;
        op->argvlen[n++] = l;
        i += l + 1;
    }
    op->argv[n] = feed;
    op->argvlen[n++] = strlen(feed);
    if (rconn_script(w->rc, fail ? SCRIPT_FAIL : SCRIPT_COMPLETE,
                     &w->q[op->qi].keys, n, op->argv, op->argvlen,
                     on_settle_reply, sc) == 0) {
        op->calls++;
    } else {
        op->failed = 1;
        free(sc);
    }
    buf_reset(b);
    if (fail)
        op->nfail = 0;
    else
        op->ncomp = 0;
}

/* The index of member m, after its arguments (batch_review_ack()). */
static int
member_push(struct bop *op, struct buf *ib, const struct bmember *m)
{
    int i = (int)(m - op->set.m);

    return buf_append(ib, (const char *)&i, sizeof(i)) < 0 ? -1 : 0;
}

/* Fail member m: kind (fail.lua), backoff, error document (owned). */
static void
settle_fail(struct bop *op, struct bmember *m, const char *kind,
            int64_t backoff_ms, char *err)
{
    char bo[24];
    int bad = 0;

    if (!err) {
        op->failed = 1;
        return;
    }
    snprintf(bo, sizeof(bo), "%lld", (long long)backoff_ms);
    bad |= arg_push(&op->fargs, m->id, strlen(m->id));
    bad |= arg_push(&op->fargs, m->token, strlen(m->token));
    bad |= arg_push(&op->fargs, kind, strlen(kind));
    bad |= arg_push(&op->fargs, bo, strlen(bo));
    bad |= arg_push(&op->fargs, err, strlen(err));
    bad |= member_push(op, &op->fidx, m);
    free(err);
    if (bad)
        op->failed = 1;
    m->settled = 1;
    if (++op->nfail >= SETTLE_CHUNK)
        settle_flush(op, 1);
}

/* The result document of a batch member (schemas/result.schema.json),
 * built with cJSON (a few thousand per batch, not the hot path of
 * flush.c's result_doc()); reasons (NULL: passed) make it a review result
 * -- complete.lua tells one by the opening {"id":ID,"state":"review", so
 * id and state stay first. Caller frees; NULL on out of memory. */
static char *
batch_result_doc(struct bop *op, const struct bmember *m,
                 const struct llm_result *res, double cost, const char *reasons)
{
    cJSON *o = cJSON_CreateObject(), *u = cJSON_CreateObject(), *md = NULL;
    char ts[32], *s;
    struct buf b;

    if (m->meta && *m->meta)
        md = cJSON_Parse(m->meta);
    if (!o || !u) {
        cJSON_Delete(o);
        cJSON_Delete(u);
        cJSON_Delete(md);
        return NULL;
    }
    timefmt_rfc3339(time_now_ms(), ts);
    cJSON_AddNumberToObject(u, "input_tokens", (double)res->input_tokens);
    cJSON_AddNumberToObject(u, "output_tokens", (double)res->output_tokens);
    cJSON_AddNumberToObject(u, "cache_creation_input_tokens",
                            (double)res->cache_creation_input_tokens);
    cJSON_AddNumberToObject(u, "cache_read_input_tokens",
                            (double)res->cache_read_input_tokens);
    cJSON_AddStringToObject(o, "id", m->id);
    cJSON_AddStringToObject(o, "state", reasons ? "review" : "succeeded");
    cJSON_AddStringToObject(o, "text", res->text.data ? res->text.data : "");
    cJSON_AddStringToObject(o, "model", res->model);
    cJSON_AddStringToObject(o, "stop_reason", res->stop_reason);
    cJSON_AddItemToObject(o, "usage", u);
    cJSON_AddNumberToObject(o, "attempts", m->attempts);
    cJSON_AddNumberToObject(o, "latency_ms", (double)m->lat_ms);
    cJSON_AddNullToObject(o, "first_token_ms");
    cJSON_AddFalseToObject(o, "cached");
    cJSON_AddStringToObject(o, "finished_at", ts);
    cJSON_AddStringToObject(o, "request_id", res->err.request_id);
    cJSON_AddNumberToObject(o, "continuations", 0);
    cJSON_AddStringToObject(o, "batch_id", op->pid);
    cJSON_AddNumberToObject(o, "cost_usd", cost);
    if (md)
        cJSON_AddItemToObject(o, "metadata", md);
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s)
        return NULL;
    buf_init(&b, 0);
    /* the template and review fields, then the closing brace again */
    if (buf_append(&b, s, strlen(s) - 1) < 0 ||
        batch_review_doc(m, reasons, &b) < 0 || buf_append_str(&b, "}") < 0) {
        cJSON_free(s);
        buf_free(&b);
        return NULL;
    }
    cJSON_free(s);
    s = buf_detach(&b, NULL);
    if (!s)
        buf_free(&b);
    return s;
}

/* Member m of a succeeded entry; billed: the entry's first member (the
 * provider billed the entry once, whatever the members merged into it). */
static void
settle_success(struct bop *op, struct bmember *m, const struct batch_line *l,
               int billed)
{
    struct worker *w = op->bw->w;
    struct llm_result res;
    struct price_row p;
    struct budget_usage u;
    double cost, std;
    char *doc, *reasons;
    int bad = 0;

    llm_result_init(&res);
    llm_parse_body(w->cfg->provider, 200, l->body, strlen(l->body),
                   l->request_id, &res);
    if (res.failed) {
        char *err = error_doc(DLQ_PERMANENT, 200, res.err.type, res.err.message,
                              l->request_id);
        settle_fail(op, m, "retry",
                    outcome_job_backoff_ms(m->attempts,
                                           w->cfg->job_backoff_base_s,
                                           worker_rand01()),
                    err);
        llm_result_free(&res);
        return;
    }
    p = budget_price(w->cfg, res.model, w->cfg->model);
    u = (struct budget_usage){res.input_tokens, res.output_tokens,
                              res.cache_creation_input_tokens,
                              res.cache_read_input_tokens};
    cost = budget_usd(&p, &u, 1);
    std = budget_usd(&p, &u, 0);
    if (billed) {
        /* the record's figures: the whole batch, each time it settles */
        op->in_tok += res.input_tokens;
        op->out_tok += res.output_tokens;
        op->cost_usd += cost;
        op->saved_usd += std - cost;
        /* spend, budgets, metrics: when stored (bill_count) */
        m->bill = 1;
        m->bill_in = res.input_tokens;
        m->bill_out = res.output_tokens;
        m->bill_tok = u.in + u.out + u.cache_write + u.cache_read;
    }
    /* the figures of m, and the queue's review of its text (batch_review.c) */
    m->out_tok = res.output_tokens;
    m->lat_ms = (long)(time_now_ms() - op->created_ms);
    m->usd = billed ? cost : 0;
    reasons = batch_review_check(op, m, res.text.data ? res.text.data : "",
                                 res.text.len);
    doc = batch_result_doc(op, m, &res, cost, reasons);
    free(reasons);
    llm_result_free(&res);
    if (!doc) {
        op->failed = 1;
        return;
    }
    bad |= arg_push(&op->cargs, m->id, strlen(m->id));
    bad |= arg_push(&op->cargs, m->token, strlen(m->token));
    bad |= arg_push(&op->cargs, doc, strlen(doc));
    bad |= member_push(op, &op->cidx, m);
    free(doc);
    if (bad)
        op->failed = 1;
    m->settled = 1;
    if (++op->ncomp >= SETTLE_CHUNK)
        settle_flush(op, 0);
}

static void
settle_errored(struct bop *op, struct bmember *m, const struct batch_line *l)
{
    struct worker *w = op->bw->w;
    struct outcome_in in;
    struct outcome_dec d;

    memset(&in, 0, sizeof(in));
    in.v = errclass_http_message(l->http_status, l->type, l->message, -1);
    in.http_status = l->http_status;
    in.api_type = l->type;
    in.tries = 1000; /* no retry inside the attempt: it ran in the batch */
    in.attempts = m->attempts;
    in.rp = &w->rp;
    in.hint_s = -1;
    in.job_backoff_base_s = w->cfg->job_backoff_base_s;
    in.rand01 = worker_rand01();
    d = outcome_decide(&in);
    if (d.retry_now) {
        d.out = OUT_RETRY;
        d.backoff_ms = outcome_job_backoff_ms(
            m->attempts, w->cfg->job_backoff_base_s, worker_rand01());
    }
    settle_fail(
        op, m, outcome_name(d.out), d.backoff_ms,
        error_doc(d.cls, l->http_status, l->type, l->message, l->request_id));
}

static void
settle_requeue(struct bop *op, struct bmember *m, const char *type,
               const char *why)
{
    settle_fail(op, m, "requeue", 0,
                error_doc(DLQ_NOT_JOB_FAULT, 0, type, why, NULL));
}

/* One results line: settle the members of its entry. */
static void
settle_line(struct bop *op, const char *line, size_t len)
{
    struct batch_line l;
    int e = -1;

    while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
        len--;
    if (len == 0)
        return;
    if (batch_line_parse(op->bw->w->cfg->provider, line, len, &l) < 0) {
        log_kv(LOG_WARN, "batch result line skipped", "batch", op->token, "why",
               l.message, NULL);
        batch_line_free(&l);
        return;
    }
    e = bset_find(&op->set, l.cid, strlen(l.cid)); /* keyed by custom_id */
    if (e >= 0) {
        op->cnt[l.kind]++;
        for (int i = op->first[e]; i >= 0; i = op->nextm[i]) {
            struct bmember *m = &op->set.m[i];
            if (m->settled)
                continue;
            if (l.kind == BR_SUCCEEDED)
                settle_success(op, m, &l, i == op->first[e]);
            else if (l.kind == BR_ERRORED)
                settle_errored(op, m, &l);
            else
                settle_requeue(op, m,
                               l.kind == BR_EXPIRED ? "batch_expired"
                                                    : "batch_canceled",
                               l.message);
        }
    }
    batch_line_free(&l);
}

static int
on_results_data(struct http_req *r, const char *p, size_t n)
{
    struct bop *op = r->ud;
    size_t start = 0;

    for (size_t i = 0; i < n; i++) {
        if (p[i] != '\n')
            continue;
        if (op->line.len) {
            if (buf_append(&op->line, p + start, i - start) < 0)
                return -1;
            settle_line(op, op->line.data, op->line.len);
            buf_reset(&op->line);
        } else {
            settle_line(op, p + start, i - start);
        }
        start = i + 1;
    }
    if (start < n && buf_append(&op->line, p + start, n - start) < 0)
        return -1;
    return 0;
}

static void results_next(struct bop *op);

/* Every outcome is decided: send what is pending; the last reply (or
 * this, when none is due) closes the batch. */
static void
settle_end(struct bop *op)
{
    op->step = BS_DONE;
    settle_flush(op, 0);
    settle_flush(op, 1);
    if (op->calls == 0)
        settle_finish(op);
}

static void
on_results_done(struct http_req *r, int curl_code)
{
    struct bop *op = r->ud;

    if (curl_code != 0 || r->status != 200) {
        char st[16];
        snprintf(st, sizeof(st), "%ld", r->status);
        log_kv(LOG_WARN, "batch results download failed; will retry", "batch",
               op->token, "status", st, "curl", r->errbuf, NULL);
        op->failed = 1;
    } else if (op->line.len) {
        settle_line(op, op->line.data, op->line.len);
    }
    buf_reset(&op->line);
    if (op->failed) {
        settle_end(op);
        return;
    }
    op->file++;
    results_next(op);
}

/* The next results file, or the end: members no line named are handed
 * back (not the job's fault), then the record is closed. */
static void
results_next(struct bop *op)
{
    struct worker *w = op->bw->w;
    char path[700];
    const char *fid = NULL;

    if (w->cfg->provider == LLM_OPENAI) {
        if (op->file == 0 && op->bst.output_file_id[0])
            fid = op->bst.output_file_id;
        else if (op->file <= 1 && op->bst.error_file_id[0]) {
            op->file = 1;
            fid = op->bst.error_file_id;
        }
        if (fid)
            snprintf(path, sizeof(path), "/v1/files/%s/content", fid);
    } else if (op->file == 0) {
        const char *base = w->cfg->api_base ? w->cfg->api_base : "";
        /* results_url only on the API's own host: the request carries the
         * API key. A prefix is not enough ("https://api.x.com.evil.net/",
         * "https://api.x.com@evil.net/"): the base must end there. */
        size_t bl = strlen(base);
        if (op->bst.results_url[0] && bl &&
            !strncmp(op->bst.results_url, base, bl) &&
            (base[bl - 1] == '/' ||
             strchr("/?", op->bst.results_url[bl]) != NULL ||
             !op->bst.results_url[bl]))
            snprintf(path, sizeof(path), "%s", op->bst.results_url);
        else
            snprintf(path, sizeof(path), "/v1/messages/batches/%s/results",
                     op->pid);
        fid = path;
    }
    if (fid) {
        op->step = BS_RESULTS;
        if (bop_http(op, path, "GET", NULL, 0, on_results_data,
                     on_results_done) < 0) {
            op->failed = 1;
            settle_end(op);
        }
        return;
    }
    for (int i = 0; i < op->set.n; i++)
        if (!op->set.m[i].settled)
            settle_requeue(op, &op->set.m[i], "batch_missing",
                           "the batch's results did not name this job");
    settle_end(op);
}

static void
on_done_reply(struct rconn *rc, redisReply *r, void *pd)
{
    struct bop *op = pd;
    char n[24], s[24];

    (void)rc;
    if (r && r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
        snprintf(n, sizeof(n), "%ld", op->n);
        snprintf(s, sizeof(s), "%ld", op->settled);
        log_kv(LOG_INFO, "batch settled", "batch", op->token, "provider_id",
               op->pid, "jobs", n, "settled_now", s, NULL);
        metrics_batch(op->bw->w->m, 1, op->n);
        metrics_batch(op->bw->w->m, 2, op->settled);
    }
    bop_free(op);
}

/* Every member is settled (or a call failed: the next turn retries). */
static void
settle_finish(struct bop *op)
{
    struct worker *w = op->bw->w;
    char keep[24], c[4][24], st[24], io[2][24], usd[2][32], pst[32];
    const char *argv[32];
    int argc = 0;

    if (op->failed) {
        bop_release(op, w->cfg->batch_poll_s, 0, NULL);
        return;
    }
    snprintf(keep, sizeof(keep), "%lld",
             (long long)w->cfg->result_ttl_s * 1000);
    for (int i = 0; i < 4; i++)
        snprintf(c[i], sizeof(c[i]), "%ld", op->cnt[i]);
    snprintf(st, sizeof(st), "%ld", op->settled);
    snprintf(io[0], sizeof(io[0]), "%ld", op->in_tok);
    snprintf(io[1], sizeof(io[1]), "%ld", op->out_tok);
    snprintf(usd[0], sizeof(usd[0]), "%.8f", op->cost_usd);
    snprintf(usd[1], sizeof(usd[1]), "%.8f", op->saved_usd);
    snprintf(pst, sizeof(pst), "%s",
             op->bst.state[0] ? op->bst.state : "failed");
    argv[argc++] = op->token;
    argv[argc++] = op->ltok;
    argv[argc++] = keep;
    argv[argc++] = "state";
    argv[argc++] = op->bst.st == BPS_ENDED ? "ended" : "failed";
    argv[argc++] = "pstate";
    argv[argc++] = pst;
    argv[argc++] = "succeeded";
    argv[argc++] = c[BR_SUCCEEDED];
    argv[argc++] = "errored";
    argv[argc++] = c[BR_ERRORED];
    argv[argc++] = "canceled";
    argv[argc++] = c[BR_CANCELED];
    argv[argc++] = "expired";
    argv[argc++] = c[BR_EXPIRED];
    argv[argc++] = "settled";
    argv[argc++] = st;
    argv[argc++] = "in_tok";
    argv[argc++] = io[0];
    argv[argc++] = "out_tok";
    argv[argc++] = io[1];
    argv[argc++] = "cost_usd";
    argv[argc++] = usd[0];
    argv[argc++] = "saved_usd";
    argv[argc++] = usd[1];
    ev_timer_stop(w->loop, &op->renew);
    if (rconn_script(w->rc, SCRIPT_BATCH_DONE, &w->q[op->qi].keys, argc, argv,
                     NULL, on_done_reply, op) < 0)
        bop_free(op);
}

/* The members' stored jobs are read: the results files, the first. */
static void
results_start(struct bop *op)
{
    op->file = 0;
    results_next(op);
}

/* The members, indexed by entry; then the results. */
static void
on_members(struct rconn *rc, redisReply *r, void *pd)
{
    struct bop *op = pd;

    (void)rc;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        bop_release(op, op->bw->w->cfg->batch_poll_s, 0, NULL);
        return;
    }
    if (bset_load(&op->set, r) < 0)
        goto oom;
    op->first = malloc(sizeof(int) * (size_t)(op->set.ne + 1));
    op->nextm = malloc(sizeof(int) * (size_t)(op->set.n + 1));
    if (!op->first || !op->nextm)
        goto oom;
    for (int i = 0; i < op->set.ne; i++)
        op->first[i] = -1;
    for (int i = op->set.n - 1; i >= 0; i--) {
        int e = op->set.m[i].entry;
        op->nextm[i] = op->first[e];
        op->first[e] = i;
    }
    bop_renew_start(op);
    batch_review_load(op, results_start); /* template refs, prompts */
    return;
oom:
    log_kv(LOG_ERROR, "batch settlement: out of memory", "batch", op->token,
           NULL);
    bop_release(op, op->bw->w->cfg->batch_poll_s, 0, NULL);
}

void
batch_settle(struct bop *op)
{
    struct worker *w = op->bw->w;
    char mkey[QUEUE_NAME_MAX + 64];
    const char *argv[] = {"HGETALL", mkey};

    op->step = BS_MEMBERS;
    qkeys_batch(&w->q[op->qi].keys, op->token, 1, mkey, sizeof(mkey));
    if (rconn_command(w->rc, 2, argv, NULL, on_members, op) < 0)
        bop_release(op, w->cfg->batch_poll_s, 0, NULL);
}

static void on_failed_members(struct rconn *rc, redisReply *r, void *pd);
static void settle_failed_loaded(struct bop *op);

void
batch_settle_failed(struct bop *op, const char *why)
{
    struct worker *w = op->bw->w;

    op->bst.st = BPS_FAILED;
    if (why != op->bst.error)
        snprintf(op->bst.error, sizeof(op->bst.error), "%s", why);
    if (op->set.n == 0) {
        char mkey[QUEUE_NAME_MAX + 64];
        const char *argv[] = {"HGETALL", mkey};
        op->step = BS_MEMBERS;
        qkeys_batch(&w->q[op->qi].keys, op->token, 1, mkey, sizeof(mkey));
        if (rconn_command(w->rc, 2, argv, NULL, on_failed_members, op) < 0)
            bop_release(op, w->cfg->batch_poll_s, 0, NULL);
        return;
    }
    if (!op->after_load) { /* the template refs first (batch_review.c) */
        batch_review_load(op, settle_failed_loaded);
        return;
    }
    for (int i = 0; i < op->set.n; i++) {
        struct bmember *m = &op->set.m[i];
        if (m->settled)
            continue;
        settle_fail(
            op, m, "retry",
            outcome_job_backoff_ms(m->attempts, w->cfg->job_backoff_base_s,
                                   worker_rand01()),
            error_doc(DLQ_PERMANENT, 0, "batch_failed", op->bst.error, NULL));
    }
    settle_end(op);
}

static void
on_failed_members(struct rconn *rc, redisReply *r, void *pd)
{
    struct bop *op = pd;

    (void)rc;
    if (!r || r->type != REDIS_REPLY_ARRAY || bset_load(&op->set, r) < 0) {
        bop_release(op, op->bw->w->cfg->batch_poll_s, 0, NULL);
        return;
    }
    if (op->set.n == 0) { /* no member left to hand back: close it */
        settle_end(op);
        return;
    }
    batch_settle_failed(op, op->bst.error);
}

static void
settle_failed_loaded(struct bop *op)
{
    batch_settle_failed(op, op->bst.error);
}
