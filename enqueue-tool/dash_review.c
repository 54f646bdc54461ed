/* genq dashboard: review (README "Content review"). GET /api/review lists
 * the results of ?queue= the workers' content review flagged, oldest
 * first, a page at a time with a cursor, as `genq review ls --json`
 * entries without the result (the page opens one through /api/jobs/ID);
 * POST /api/review/approve and /api/review/reject run the CLI's code
 * (review_decide() of cmd_review.c) on {"queue", "ids", "action", "note"}.
 * Authorisation and CSRF are checked by dash_http.c before a POST gets
 * here. */
#include "fmacros.h"

#include <stdlib.h>
#include <string.h>

#include "dash.h"
#include "docs.h"
#include "job.h"

#define REVIEW_LIMIT_DEFAULT 100
#define REVIEW_LIMIT_MAX     1000

enum MHD_Result
dash_api_review(struct dash_req *r)
{
    enum MHD_Result ret = MHD_NO;
    const char *q = dash_queue_arg(r, &ret), *lim = dash_arg(r, "limit");
    const char *cur = dash_arg(r, "cursor");
    char score[32] = "", last[JOB_ID_MAX + 1] = "", next[JOB_ID_MAX + 40];
    long limit = REVIEW_LIMIT_DEFAULT;
    long long n;
    struct cli c;
    redisReply *page;
    cJSON *doc, *arr;
    int bad = 0;

    if (!q)
        return ret;
    if (lim && ops_parse_long(lim, 1, REVIEW_LIMIT_MAX, &limit) < 0)
        return dash_error(r, MHD_HTTP_BAD_REQUEST,
                          "limit: expected 1..%d, got '%.32s'",
                          REVIEW_LIMIT_MAX, lim);
    if (cur &&
        dash_cursor_split(cur, score, sizeof(score), last, sizeof(last)) < 0)
        return dash_error(r, MHD_HTTP_BAD_REQUEST,
                          "cursor: expected the \"next\" of a page, got "
                          "'%.64s'",
                          cur);
    if (dash_connect(r, &c, q, &ret) < 0)
        return ret;
    page = review_page(&c, score, last, limit, "dashboard");
    cli_close(&c);
    if (!page)
        return dash_error(r, MHD_HTTP_BAD_GATEWAY,
                          "redis: reading the review set failed");
    n = page->element[2]->integer;
    doc = dash_page_doc(q, &arr);
    bad = !doc;
    for (long long i = 0; i < n && !bad; i++) {
        redisReply **e = page->element + 3 + 4 * i;
        cJSON *d;
        if (e[0]->type != REDIS_REPLY_STRING)
            continue;
        d = review_entry_doc(
            e[0]->str,
            e[1]->type == REDIS_REPLY_STRING ? strtoll(e[1]->str, NULL, 10) : 0,
            e[2]->type == REDIS_REPLY_STRING ? e[2]->str : NULL, 0);
        if (!d || !cJSON_AddItemToArray(arr, d)) {
            cJSON_Delete(d);
            bad = 1;
        }
    }
    /* a full page: there may be more after its last entry */
    if (n == limit && page->element[0]->type == REDIS_REPLY_STRING &&
        page->element[1]->type == REDIS_REPLY_STRING) {
        snprintf(next, sizeof(next), "%s:%s", page->element[0]->str,
                 page->element[1]->str);
        ops_jstr(doc, "next", next, &bad);
    } else {
        ops_jnull(doc, "next", &bad);
    }
    freeReplyObject(page);
    if (bad) {
        cJSON_Delete(doc);
        doc = NULL;
    }
    return dash_json(r, MHD_HTTP_OK, doc);
}

/* Count the outcomes of a decision: *changed (approved, rejected,
 * requeued) and *failed (a regenerated job that could not be rebuilt). */
static void
count_outcomes(const cJSON *outcomes, int *changed, int *failed)
{
    const cJSON *o;

    *changed = *failed = 0;
    cJSON_ArrayForEach(o, outcomes)
    {
        const char *s = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(o, "outcome"));
        if (s && (!strcmp(s, "approved") || !strcmp(s, "rejected") ||
                  !strcmp(s, "requeued")))
            (*changed)++;
        else if (s && !strcmp(s, "failed"))
            (*failed)++;
    }
}

enum MHD_Result
dash_api_review_decide(struct dash_req *r, cJSON *body, int approve)
{
    static const char *const names[] = {"queue", "ids", "action", "note", NULL};
    enum MHD_Result ret = MHD_NO;
    const char *q = dash_body_queue(r, body, names, &ret);
    cJSON *act = cJSON_GetObjectItem(body, "action");
    cJSON *note = cJSON_GetObjectItem(body, "note");
    const char *action = approve ? "approve" : "reject";
    long ttl = REVIEW_RESULT_TTL_S;
    cJSON *outcomes, *doc;
    struct cli c;
    char err[300], **ids;
    int n, regen = 0, one = 1, changed, failed;

    if (!q)
        return ret;
    if (act) {
        const char *a = cJSON_GetStringValue(act);
        if (!a || (approve ? strcmp(a, "approve")
                           : strcmp(a, "reject") && strcmp(a, "regenerate")))
            return dash_error(r, MHD_HTTP_BAD_REQUEST, "action: expected %s",
                              approve ? "\"approve\""
                                      : "\"reject\" or \"regenerate\"");
        action = a;
        regen = !strcmp(a, "regenerate");
    }
    if (note &&
        (!cJSON_IsString(note) || strlen(note->valuestring) > REVIEW_NOTE_MAX))
        return dash_error(r, MHD_HTTP_BAD_REQUEST,
                          "note: expected a text of at most %d bytes",
                          REVIEW_NOTE_MAX);
    if (note && approve)
        return dash_error(r, MHD_HTTP_BAD_REQUEST,
                          "note: only a rejection takes a note");
    if (review_ttl_env(&ttl) < 0)
        return dash_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR,
                          "GENQ_RESULT_TTL of the dashboard: expected "
                          "seconds");
    if ((n = dash_body_ids(body, &ids, err, sizeof(err))) < 0)
        return dash_error(r, MHD_HTTP_BAD_REQUEST, "%s", err);
    if (n == 0) {
        free(ids);
        return dash_error(r, MHD_HTTP_BAD_REQUEST,
                          "ids: give the ids of the results to %s", action);
    }
    outcomes = cJSON_CreateArray();
    if (!outcomes) {
        free(ids);
        return dash_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    if (dash_connect(r, &c, q, &ret) < 0) {
        free(ids);
        cJSON_Delete(outcomes);
        return ret;
    }
    review_decide(&c, approve ? "review approve" : "review reject", n, ids,
                  approve ? NULL : &one, regen, note ? note->valuestring : NULL,
                  ttl, outcomes);
    cli_close(&c);
    free(ids);
    if (cJSON_GetArraySize(outcomes) < n) { /* redis failed midway */
        cJSON_Delete(outcomes);
        return dash_error(r, MHD_HTTP_BAD_GATEWAY,
                          "review %s failed (the dashboard's log says why)",
                          action);
    }
    count_outcomes(outcomes, &changed, &failed);
    doc = cJSON_CreateObject();
    {
        int b = !doc;
        ops_jstr(doc, "queue", q, &b);
        ops_jstr(doc, "action", action, &b);
        ops_jnum(doc, "changed", changed, &b);
        ops_jnum(doc, "skipped", n - changed - failed, &b);
        ops_jnum(doc, "failed", failed, &b);
        if (!b && !cJSON_AddItemToObject(doc, "outcomes", outcomes))
            b = 1;
        else if (!b)
            outcomes = NULL;
        cJSON_Delete(outcomes);
        if (b) {
            cJSON_Delete(doc);
            doc = NULL;
        }
    }
    return dash_json(r, MHD_HTTP_OK, doc);
}
