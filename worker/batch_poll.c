/* batch_poll: any worker's side of open batches (README "Batch mode").
 * Every --batch-poll seconds it takes due batches of its provider and API
 * base under a lease (batch_lease.lua: the record's score in the open set
 * is when it is next due; a holder that dies simply stops renewing and the
 * batch is due again when its lease runs out), polls each at the
 * provider, sends a cancel an operator asked for, hands ended ones to
 * batch_settle.c, and gives running ones back with a backoff (x1.5 per
 * poll up to --batch-poll-max). Also the life of struct bop. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "worker_int.h"
#include "batch.h"

struct bop *
bop_new(struct batchw *bw, int qi)
{
    struct bop *op = calloc(1, sizeof(*op));

    if (!op)
        return NULL;
    op->bw = bw;
    op->qi = qi;
    buf_init(&op->line, 16u << 20);
    buf_init(&op->cargs, 0);
    buf_init(&op->fargs, 0);
    buf_init(&op->cidx, 0);
    buf_init(&op->fidx, 0);
    op->next = bw->ops;
    bw->ops = op;
    ev_timer_init(&op->renew, NULL, 0., 0.);
    return op;
}

void
bop_free(struct bop *op)
{
    struct batchw *bw = op->bw;
    struct worker *w = bw->w;
    struct bop **pp = &bw->ops;

    while (*pp && *pp != op)
        pp = &(*pp)->next;
    if (*pp)
        *pp = op->next;
    if (op->req.easy)
        http_abort(w->http, &op->req);
    http_req_reset(&op->req);
    free(op->req.url);
    free(op->req.body);
    curl_slist_free_all(op->hdr);
    hdrs_unref(op->hold);
    ev_timer_stop(w->loop, &op->renew);
    bset_free(&op->set);
    buf_free(&op->line);
    buf_free(&op->cargs);
    buf_free(&op->fargs);
    buf_free(&op->cidx);
    buf_free(&op->fidx);
    free(op->argv);
    free(op->argvlen);
    free(op->first);
    free(op->nextm);
    free(op);
    if (w->draining && !w->freeing)
        worker_drain_check(w);
}

static void
on_release(struct rconn *rc, redisReply *r, void *pd)
{
    struct bop *op = pd;

    (void)rc;
    if (r && r->type == REDIS_REPLY_INTEGER && r->integer == 0)
        log_kv(LOG_WARN, "batch lease was lost before the turn ended", "batch",
               op->token, NULL);
    bop_free(op);
}

/* The renew call's fixed arguments into argv (at least 8 slots). */
static int
renew_args(struct bop *op, const char **argv, char *lease, char *mlease,
           char *due, double due_s)
{
    const struct wcfg *cfg = op->bw->w->cfg;

    snprintf(lease, 24, "%d", cfg->visibility_s * 1000);
    snprintf(mlease, 24, "%.0f",
             (cfg->visibility_s * 2 + cfg->batch_poll_max_s) * 1000.0);
    snprintf(due, 24, "%.0f", due_s * 1000.0);
    argv[0] = "renew";
    argv[1] = op->bw->w->id;
    argv[2] = lease;
    argv[3] = mlease;
    argv[4] = op->token;
    argv[5] = op->ltok;
    argv[6] = due;
    return 7;
}

void
bop_release(struct bop *op, double due_s, int nfields, const char **fields)
{
    struct worker *w = op->bw->w;
    const char *argv[32];
    char lease[24], mlease[24], due[24];
    int argc = renew_args(op, argv, lease, mlease, due, due_s);

    ev_timer_stop(w->loop, &op->renew);
    if (w->freeing) { /* Redis is going away: the lease runs out */
        bop_free(op);
        return;
    }
    for (int i = 0; i < nfields && argc < 32; i++)
        argv[argc++] = fields[i];
    if (!op->ltok[0] ||
        rconn_script(w->rc, SCRIPT_BATCH_LEASE, &w->q[op->qi].keys, argc, argv,
                     NULL, on_release, op) < 0)
        bop_free(op);
}

static void
on_renew_reply(struct rconn *rc, redisReply *r, void *pd)
{
    struct bop *op = pd;

    (void)rc;
    op->renewing = 0;
    if (r && r->type == REDIS_REPLY_INTEGER && r->integer == 0)
        log_kv(LOG_WARN, "batch lease lost while working on it", "batch",
               op->token, NULL);
}

static void
on_renew_timer(EV_P_ ev_timer *t, int revents)
{
    struct bop *op = t->data;
    struct worker *w = op->bw->w;
    const char *argv[8];
    char lease[24], mlease[24], due[24];
    int argc;

    (void)loop;
    (void)revents;
    if (op->renewing || !op->ltok[0])
        return;
    argc = renew_args(op, argv, lease, mlease, due, w->cfg->visibility_s);
    if (rconn_script(w->rc, SCRIPT_BATCH_LEASE, &w->q[op->qi].keys, argc, argv,
                     NULL, on_renew_reply, op) == 0)
        op->renewing = 1;
}

void
bop_renew_start(struct bop *op)
{
    double every = op->bw->w->cfg->visibility_s / 3.0;

    ev_timer_stop(op->bw->w->loop, &op->renew);
    ev_timer_init(&op->renew, on_renew_timer, every, every);
    op->renew.data = op;
    ev_timer_start(op->bw->w->loop, &op->renew);
}

/* ---- status ---- */

static double
next_backoff(const struct bop *op)
{
    const struct wcfg *cfg = op->bw->w->cfg;
    double b = op->backoff_s > 0 ? op->backoff_s * 1.5 : cfg->batch_poll_s;

    if (b < cfg->batch_poll_s)
        b = cfg->batch_poll_s;
    return b > cfg->batch_poll_max_s ? cfg->batch_poll_max_s : b;
}

static void
release_running(struct bop *op, const char *extra_f, const char *extra_v)
{
    char bs[32], counts[160];
    const char *f[6];
    int n = 0;
    double b = next_backoff(op);

    snprintf(bs, sizeof(bs), "%.3f", b);
    snprintf(counts, sizeof(counts), "%ld %ld %ld %ld %ld", op->bst.counts[0],
             op->bst.counts[1], op->bst.counts[2], op->bst.counts[3],
             op->bst.counts[4]);
    f[n++] = "poll_s";
    f[n++] = bs;
    f[n++] = "pstate";
    f[n++] = op->bst.state;
    if (extra_f) {
        f[n++] = extra_f;
        f[n++] = extra_v;
    }
    bop_release(op, b, n, f);
}

static void
on_cancel_done(struct http_req *r, int curl_code)
{
    struct bop *op = r->ud;
    int ok = curl_code == 0 && r->status >= 200 && r->status < 300;

    log_kv(ok ? LOG_INFO : LOG_WARN,
           ok ? "batch cancel sent" : "batch cancel failed; will retry",
           "batch", op->token, "provider_id", op->pid, NULL);
    release_running(op, ok ? "cancel_sent" : NULL, "1");
}

static void
on_status_done(struct http_req *r, int curl_code)
{
    struct bop *op = r->ud;
    struct worker *w = op->bw->w;
    char path[256];

    if (curl_code == 0 && r->status == 404) {
        batch_settle_failed(op, "the provider no longer knows the batch");
        return;
    }
    if (curl_code != 0 || r->status != 200 ||
        batch_status_parse(w->cfg->provider, r->resp.data ? r->resp.data : "",
                           r->resp.len, &op->bst) < 0) {
        char st[16];
        snprintf(st, sizeof(st), "%ld", r->status);
        log_kv(LOG_WARN, "batch status poll failed; will retry", "batch",
               op->token, "status", st, NULL);
        release_running(op, NULL, NULL);
        return;
    }
    if (op->bst.st == BPS_ENDED) {
        batch_settle(op);
        return;
    }
    if (op->bst.st == BPS_FAILED) {
        batch_settle_failed(op, op->bst.error[0] ? op->bst.error
                                                 : "batch failed validation");
        return;
    }
    if (op->cancel_req && !op->cancel_sent) {
        op->step = BS_CANCEL;
        snprintf(path, sizeof(path), "%s/%s/cancel",
                 w->cfg->provider == LLM_OPENAI ? "/v1/batches"
                                                : "/v1/messages/batches",
                 op->pid);
        if (bop_http(op, path, NULL, NULL, 0, NULL, on_cancel_done) == 0)
            return;
    }
    release_running(op, NULL, NULL);
}

void
batch_status(struct bop *op)
{
    struct worker *w = op->bw->w;
    char path[256];

    op->step = BS_STATUS;
    snprintf(path, sizeof(path), "%s/%s",
             w->cfg->provider == LLM_OPENAI ? "/v1/batches"
                                            : "/v1/messages/batches",
             op->pid);
    if (bop_http(op, path, "GET", NULL, 0, NULL, on_status_done) < 0)
        release_running(op, NULL, NULL);
}

/* ---- take ---- */

static const char *
rec_get(const redisReply *flat, const char *name)
{
    for (size_t i = 0; i + 1 < flat->elements; i += 2)
        if (flat->element[i]->type == REDIS_REPLY_STRING &&
            flat->element[i + 1]->type == REDIS_REPLY_STRING &&
            !strcmp(flat->element[i]->str, name))
            return flat->element[i + 1]->str;
    return "";
}

struct takeref {
    struct batchw *bw;
    int qi;
};

static void
on_take(struct rconn *rc, redisReply *r, void *pd)
{
    struct takeref *t = pd;
    struct batchw *bw = t->bw;
    int qi = t->qi;

    (void)rc;
    free(t);
    bw->taking--;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r && r->type == REDIS_REPLY_ERROR)
            log_kv(LOG_WARN, "batch take failed", "error", r->str, NULL);
        if (bw->w->draining && !bw->w->freeing)
            worker_drain_check(bw->w);
        return;
    }
    if (bw->w->draining && !bw->w->freeing) {
        worker_drain_check(bw->w); /* taken ones run out their lease */
        return;
    }
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i], *flat;
        const char *state;
        struct bop *op;
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 3 ||
            e->element[0]->type != REDIS_REPLY_STRING ||
            e->element[1]->type != REDIS_REPLY_STRING ||
            e->element[2]->type != REDIS_REPLY_ARRAY)
            continue;
        flat = e->element[2];
        op = bw->w->draining ? NULL : bop_new(bw, qi);
        if (!op)
            continue; /* the lease runs out; taken again later */
        snprintf(op->token, sizeof(op->token), "%s", e->element[0]->str);
        snprintf(op->ltok, sizeof(op->ltok), "%s", e->element[1]->str);
        snprintf(op->pid, sizeof(op->pid), "%s", rec_get(flat, "pid"));
        snprintf(op->file_id, sizeof(op->file_id), "%s",
                 rec_get(flat, "file_id"));
        op->n = strtol(rec_get(flat, "n"), NULL, 10);
        op->created_ms = strtoll(rec_get(flat, "created_ms"), NULL, 10);
        op->backoff_s = strtod(rec_get(flat, "poll_s"), NULL);
        op->cancel_req = !strcmp(rec_get(flat, "cancel"), "1");
        op->cancel_sent = !strcmp(rec_get(flat, "cancel_sent"), "1");
        state = rec_get(flat, "state");
        bop_renew_start(op);
        if (!strcmp(state, "submitting"))
            batch_resolve(op);
        else
            batch_status(op);
    }
}

static void
on_poll_timer(EV_P_ ev_timer *tm, int revents)
{
    struct batchw *bw = tm->data;
    struct worker *w = bw->w;
    char lease[24], mlease[24];
    int nops = 0;

    (void)loop;
    (void)revents;
    for (struct bop *op = bw->ops; op; op = op->next)
        nops++;
    if (bw->taking || nops >= 8 || w->draining || !rconn_is_up(w->rc))
        return;
    snprintf(lease, sizeof(lease), "%d", w->cfg->visibility_s * 1000);
    snprintf(mlease, sizeof(mlease), "%.0f",
             (w->cfg->visibility_s * 2 + w->cfg->batch_poll_max_s) * 1000.0);
    for (int qi = 0; qi < w->nq; qi++) {
        const char *argv[] = {
            "take",   w->id, lease, mlease, llm_provider_name(w->cfg->provider),
            bw->base, "2"};
        struct takeref *t = malloc(sizeof(*t));
        if (!t)
            return;
        t->bw = bw;
        t->qi = qi;
        if (rconn_script(w->rc, SCRIPT_BATCH_LEASE, &w->q[qi].keys, 7, argv,
                         NULL, on_take, t) == 0)
            bw->taking++;
        else
            free(t);
    }
}

void
batch_poll_start(struct batchw *bw)
{
    const struct wcfg *cfg = bw->w->cfg;

    if (cfg->provider == LLM_NOOP || cfg->batch_poll_s <= 0)
        return;
    ev_timer_init(&bw->poll_timer, on_poll_timer, cfg->batch_poll_s,
                  cfg->batch_poll_s);
    bw->poll_timer.data = bw;
    ev_timer_start(bw->w->loop, &bw->poll_timer);
}
