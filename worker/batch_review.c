/* batch_review: a batch member settles like a job of the normal path
 * (README "Batch mode", "Content review", "Versioned templates"): before
 * the results are read, the members' stored jobs are read in chunks for
 * their template_ref (and their prompt when the queue's review has the echo
 * rule); each succeeded member's text then goes through the queue's review
 * rules (review.c) -- flagged: its result document says state review with
 * the reasons, and complete.lua keeps it in review --; and each stored
 * outcome (succeeded, review, dead) is added to the per-template figures
 * (tmplstats.c) once Redis acknowledged it. The reviewer model call
 * (--review-model) is not made for batch members: see the README. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "log.h"
#include "review.h"
#include "worker_int.h"
#include "batch.h"

#define LOAD_CHUNK 500 /* stored jobs per HMGET */

static void load_next(struct bop *op);

/* m's template_ref and (echo) prompt from its stored job v (nil: purged;
 * undecodable: neither). 0, or -1 on out of memory. */
static int
member_fill(struct worker *w, struct bmember *m, const redisReply *v, int echo)
{
    char err[256];
    cJSON *job =
        v->type == REDIS_REPLY_STRING
            ? job_stored_parse(w->pk, m->id, v->str, v->len, err, sizeof(err))
            : NULL;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(job, "template_ref");
    int bad = 0;

    free(m->tref);
    free(m->prompt);
    m->tref = m->prompt = NULL;
    if (cJSON_IsString(r))
        bad |= !(m->tref = strdup(r->valuestring));
    if (job && echo)
        m->prompt = job_prompt_text(job); /* NULL: no prompt, no echo */
    cJSON_Delete(job);
    return bad ? -1 : 0;
}

static void
on_load(struct rconn *rc, redisReply *r, void *pd)
{
    struct bop *op = pd;
    struct worker *w = op->bw->w;
    int echo = review_rules_echo(w->q[op->qi].rv);
    int n = op->set.n - op->loaded < LOAD_CHUNK ? op->set.n - op->loaded
                                                : LOAD_CHUNK;

    (void)rc;
    if (!r || r->type != REDIS_REPLY_ARRAY || (int)r->elements != n) {
        log_kv(LOG_WARN,
               "batch settlement: the members' jobs not read; will "
               "retry",
               "batch", op->token, NULL);
        bop_release(op, w->cfg->batch_poll_s, 0, NULL);
        return;
    }
    for (int i = 0; i < n; i++) {
        const redisReply *e = r->element[i];
        if (member_fill(w, &op->set.m[op->loaded + i], e, echo) < 0) {
            log_kv(LOG_ERROR, "batch settlement: out of memory", "batch",
                   op->token, NULL);
            bop_release(op, w->cfg->batch_poll_s, 0, NULL);
            return;
        }
    }
    op->loaded += n;
    load_next(op);
}

static void
load_next(struct bop *op)
{
    struct worker *w = op->bw->w;
    const char *argv[LOAD_CHUNK + 2];
    int argc = 0;

    if (op->loaded >= op->set.n) {
        op->after_load(op);
        return;
    }
    argv[argc++] = "HMGET";
    argv[argc++] = w->q[op->qi].keys.key[QK_JOBS];
    for (int i = op->loaded; i < op->set.n && argc < LOAD_CHUNK + 2; i++)
        argv[argc++] = op->set.m[i].id;
    if (rconn_command(w->rc, argc, argv, NULL, on_load, op) < 0)
        bop_release(op, w->cfg->batch_poll_s, 0, NULL);
}

void
batch_review_load(struct bop *op, void (*next)(struct bop *op))
{
    static int told;
    const struct review_rules *rv = op->bw->w->q[op->qi].rv;

    if (rv && review_rules_model(rv) && !told) {
        told = 1;
        log_kv(LOG_WARN,
               "batch members are reviewed by the rules only, not by the "
               "reviewer model",
               "queue", op->bw->w->q[op->qi].keys.queue, NULL);
    }
    op->loaded = 0;
    op->after_load = next;
    load_next(op);
}

char *
batch_review_check(struct bop *op, struct bmember *m, const char *text,
                   size_t len)
{
    char *s = review_reasons(op->bw->w->q[op->qi].rv, m->id, text, len,
                             m->prompt, NULL);

    m->flagged = s != NULL;
    return s;
}

int
batch_review_doc(const struct bmember *m, const char *reasons, struct buf *b)
{
    int bad = tmplstats_ref_doc(m->tref, b) < 0;

    if (reasons) {
        bad |= buf_append_str(b, ",\"review\":{\"reasons\":") < 0;
        bad |= buf_append_str(b, reasons) < 0;
        bad |= buf_append_str(b, "}") < 0;
    }
    return bad ? -1 : 0;
}

void
batch_review_ack(struct bop *op, int fail, const int *idx, int n,
                 const redisReply *r)
{
    struct worker *w = op->bw->w;

    if (!r || r->type != REDIS_REPLY_ARRAY || (int)r->elements != n)
        return;
    for (int i = 0; i < n; i++) {
        const redisReply *e = r->element[i];
        const struct bmember *m = &op->set.m[idx[i]];
        const char *state = NULL;
        if (!fail && e->type == REDIS_REPLY_INTEGER && e->integer == 1)
            state = m->flagged ? "review" : "succeeded";
        else if (fail && e->type == REDIS_REPLY_STRING &&
                 !strcmp(e->str, "dead"))
            state = "dead";
        tmplstats_add(w, op->qi, m->tref, state, m->out_tok, m->lat_ms, m->usd);
    }
    tmplstats_flush(w);
}
