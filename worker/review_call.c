/* review_call: the reviewer model of the content review (--review-model,
 * README "Content review"). When a queue names one, a finished text is
 * sent to it before the job completes -- the queue's review instructions as
 * the system prompt, the job's request and the text as the user turn, not
 * streamed -- and its one-line answer decides: PASS, or FAIL: REASON (any
 * other answer, or a failed call, flags the result too, so a person looks).
 * The call is priced into the job's cost and the fleet's spend; it is not
 * metered by the fleet limiter. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "log.h"
#include "review.h"
#include "worker_int.h"

#define REVIEW_MAX_TOKENS 200
#define REVIEW_TIMEOUT_MS 120000L

/* The review request of j: a job object (caller frees with cJSON_Delete),
 * or NULL on out of memory. */
static cJSON *
review_request(const struct wjob *j, const char *model, const char *prompt)
{
    char *req = job_prompt_text(j->job);
    struct buf u;
    cJSON *o = cJSON_CreateObject();
    int bad = !o;

    buf_init(&u, 0);
    bad |= buf_append_str(&u, "The request:\n\n") < 0;
    bad |= buf_append_str(&u, req ? req : "(none)") < 0;
    bad |= buf_append_str(&u, "\n\nThe text:\n\n") < 0;
    bad |= buf_append(&u, j->text.data ? j->text.data : "", j->text.len) < 0;
    free(req);
    if (!bad)
        bad |= !cJSON_AddStringToObject(o, "model", model) ||
               !cJSON_AddStringToObject(o, "system", prompt) ||
               !cJSON_AddStringToObject(o, "prompt", u.data) ||
               !cJSON_AddNumberToObject(o, "max_tokens", REVIEW_MAX_TOKENS);
    buf_free(&u);
    if (bad) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* The answer came (or the call failed): the verdict, then complete. */
static void
on_review_done(struct http_req *r, int curl_code)
{
    struct wjob *j = r->ud;
    struct worker *w = j->w;
    struct llm_result res;
    char why[600] = "";
    int flag = 1;

    if (j->lost) {
        slot_release(j);
        return;
    }
    llm_result_init(&res);
    if (curl_code == 0)
        llm_parse_body(w->cfg->provider, (int)r->status,
                       r->resp.data ? r->resp.data : "", r->resp.len,
                       r->request_id, &res);
    if (curl_code != 0 || res.failed || !res.complete) {
        snprintf(why, sizeof(why), "the review call failed: %s",
                 curl_code != 0 ? r->errbuf[0] ? r->errbuf : "transport error"
                 : res.failed   ? res.err.message
                                : "incomplete answer");
    } else {
        j->usd += budget_spend(j, &res);
        flag = review_verdict(res.text.data ? res.text.data : "", res.text.len,
                              why, sizeof(why));
    }
    llm_result_free(&res);
    free(r->body);
    r->body = NULL;
    http_req_reset(r);
    if (flag)
        j->rv_model = strdup(why); /* NULL (out of memory): not flagged */
    job_finish(j, OUT_COMPLETE, result_doc(j), 0);
}

int
review_call_start(struct wjob *j)
{
    struct worker *w = j->w;
    const char *model = j->q ? review_rules_model(j->q->rv) : NULL;
    struct llm_req_opts o = {w->cfg->provider, model, REVIEW_MAX_TOKENS, 0, 0};
    const char *path;
    cJSON *req;

    if (!model || w->cfg->provider == LLM_NOOP)
        return 0;
    req = review_request(j, model, review_rules_prompt(j->q->rv));
    http_req_reset(&j->req);
    free(j->req.body);
    j->req.body = req ? llm_build_body(&o, req, NULL, 0, &path) : NULL;
    cJSON_Delete(req);
    if (!j->req.body) {
        j->rv_model = strdup("the review call could not be built (out of "
                             "memory)");
        return 0;
    }
    j->req.body_len = strlen(j->req.body);
    attempt_req_prepare(j, REVIEW_TIMEOUT_MS);
    j->req.on_data = NULL;
    j->req.on_hdr = NULL;
    j->req.on_done = on_review_done;
    j->req.ud = j;
    j->req.resp.max = 1u << 20;
    if (http_submit(w->http, &j->req) < 0) {
        free(j->req.body);
        j->req.body = NULL;
        j->rv_model = strdup("the review call could not be started");
        return 0;
    }
    return 1;
}
