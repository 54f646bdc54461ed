/* review_job: content review in the worker -- each queue's rules compiled
 * at start from its settings (qopts.h), and the check of a finished job's
 * text that sends a flagged result to state review (README "Content
 * review"). The rules themselves are review.c's. */
#include "fmacros.h"

#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "jsonw.h"
#include "log.h"
#include "qopts.h"
#include "review.h"
#include "worker_int.h"

int
review_setup(struct worker *w)
{
    for (int i = 0; i < w->nq; i++) {
        struct wqueue *q = &w->q[i];
        struct qopts o;
        char err[600];

        qopts_get(w->cfg, q->keys.queue, &o);
        q->prompt_cache = o.prompt_cache;
        if (!qopts_review_on(&o))
            continue;
        q->rv = review_rules_new(&o, err, sizeof(err));
        if (!q->rv) {
            log_kv(LOG_ERROR, "content review configuration", "queue",
                   q->keys.queue, "error", err, NULL);
            return -1;
        }
    }
    qopts_freeze(); /* a SIGHUP reload checks them but keeps these */
    return 0;
}

void
review_teardown(struct worker *w)
{
    for (int i = 0; i < w->nq; i++) {
        review_rules_free(w->q[i].rv);
        w->q[i].rv = NULL;
    }
}

char *
review_reasons(const struct review_rules *rv, const char *id, const char *text,
               size_t len, const char *prompt, const char *model_why)
{
    struct buf out;
    char *s;
    int n;

    if (!rv)
        return NULL;
    buf_init(&out, 0);
    n = review_check(rv, text, len, prompt, &out);
    if (n >= 0 && model_why) { /* the reviewer model's reason (review_call.c) */
        int bad = 0;
        if (n > 0)
            out.data[--out.len] = '\0'; /* reopen the array */
        bad |= buf_append_str(&out,
                              n > 0 ? ",{\"rule\":\"model\",\"detail\":"
                                    : "[{\"rule\":\"model\",\"detail\":") < 0;
        bad |= jsonw_str(&out, model_why, strlen(model_why)) < 0;
        bad |= buf_append_str(&out, "}]") < 0;
        n = bad ? -1 : n + 1;
    }
    if (n <= 0) {
        if (n < 0)
            log_kv(LOG_WARN, "content review: out of memory; result passed",
                   "job", id, NULL);
        buf_free(&out);
        return NULL;
    }
    s = buf_detach(&out, NULL);
    if (!s)
        buf_free(&out);
    return s;
}

char *
review_job(struct wjob *j)
{
    char *prompt = NULL, *s;

    j->flagged = 0;
    if (!j->q || !j->q->rv) {
        free(j->rv_model);
        j->rv_model = NULL;
        return NULL;
    }
    prompt = j->job ? job_prompt_text(j->job) : NULL;
    s = review_reasons(j->q->rv, j->id, j->text.data, j->text.len, prompt,
                       j->rv_model);
    free(prompt);
    free(j->rv_model);
    j->rv_model = NULL;
    j->flagged = s != NULL;
    return s;
}
