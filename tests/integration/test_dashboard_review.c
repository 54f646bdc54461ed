/* genq dashboard's review API (dash_review.c) against a real `genq
 * dashboard`, a worker whose content review flags every text, and the test
 * Redis: the list pages with a cursor, an action without the token is
 * refused and a GET changes nothing, approve makes a result succeeded,
 * reject sends it to dead with class review_rejected, regenerate queues it
 * again with the note appended to its prompt, and bad bodies are refused
 * naming the member. */
#include "fmacros.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <criterion/criterion.h>

#include "harness.h"
#include "harness_dash.h"

TH_SUITE(dashboard_review, .timeout = 90);

#define NOTE "Keep it <b>short</b>."

static const char *const bearer[] = {"Authorization: Bearer " TOKEN, NULL};

/* Four jobs flagged by the review (every text is under 100,000 words);
 * the worker is stopped once they are in review. */
static void
four_in_review(void)
{
    const char *args[] = {"--review-min-words", "100000", NULL};
    char id[16], st[64];
    pid_t w;

    for (int i = 1; i <= 4; i++) {
        char body[96];
        snprintf(id, sizeof id, "rv-%d", i);
        snprintf(body, sizeof body, "{\"prompt\":\"Flagged article %d\"}", i);
        th_enqueue(&t, id, 1, 0, 0, NULL, body);
    }
    w = th_worker(&t, NULL, args);
    for (int i = 1; i <= 4; i++) {
        snprintf(id, sizeof id, "rv-%d", i);
        for (int k = 0; k < 500; k++) {
            th_state(&t, id, st, NULL);
            if (!strcmp(st, "review"))
                break;
            th_sleep_ms(20);
        }
        cr_assert_str_eq(st, "review", "%s", id);
    }
    th_stop(w);
}

/* A request body from a printf format (a static buffer: one at a time). */
static const char *body(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static const char *
body(const char *fmt, ...)
{
    static char b[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    return b;
}

/* POST the review action path with body b as the admin; the answer. */
static struct resp
decide(struct dash *d, const char *path, const char *b)
{
    return http(d, "POST", path, bearer, b);
}

/* decide() with the body of format fmt given the test's queue and s. */
#define DECIDE(d, path, fmt, s) decide(d, path, body(fmt, t.queue, s))

Test(dashboard_review, list_pages_and_actions)
{
    struct dash d;
    struct resp r;
    char p[512], st[64], next[256];
    cJSON *doc, *e;
    redisReply *job;
    int seen = 0;

    four_in_review();
    dash_start(&d, 1);

    /* the list: every entry with its excerpt and reasons, two pages */
    snprintf(p, sizeof p, "/api/review?queue=%s&limit=3", t.queue);
    r = http(&d, "GET", p, NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    doc = cJSON_Parse(r.body);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "entries")), 3);
    e = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "entries"), 0);
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(doc, "entries"))
    {
        cr_expect(!strncmp(th_str(e, "id"), "rv-", 3));
        seen |= 1 << atoi(th_str(e, "id") + 3);
    }
    e = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "entries"), 0);
    cr_expect(strlen(th_str(e, "excerpt")) > 0);
    cr_expect(th_str(e, "flagged_at")[0] == '2');
    cr_expect_str_eq(
        th_str(cJSON_GetArrayItem(cJSON_GetObjectItem(e, "reasons"), 0),
               "rule"),
        "min_words");
    cr_expect_null(cJSON_GetObjectItem(e, "result"), "no full text in lists");
    snprintf(next, sizeof next, "%s", th_str(doc, "next"));
    cJSON_Delete(doc);
    resp_free(&r);
    snprintf(p, sizeof p, "/api/review?queue=%s&limit=3&cursor=%s", t.queue,
             next);
    r = http(&d, "GET", p, NULL, NULL);
    doc = cJSON_Parse(r.body);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "entries")), 1,
                 "%s", r.body);
    seen |=
        1 << atoi(
            th_str(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "entries"), 0),
                   "id") +
            3);
    cr_expect_eq(seen, 2 | 4 | 8 | 16, "each of the four once: %x", seen);
    cr_expect(cJSON_IsNull(cJSON_GetObjectItem(doc, "next")));
    cJSON_Delete(doc);
    resp_free(&r);
    snprintf(p, sizeof p, "/api/review?queue=%s&cursor=x", t.queue);
    expect(http(&d, "GET", p, NULL, NULL), 400, "cursor", "bad cursor");

    /* refused without the token; a GET of the action changes nothing */
    snprintf(p, sizeof p, "{\"queue\":\"%s\",\"ids\":[\"rv-1\"]}", t.queue);
    expect(http(&d, "POST", "/api/review/approve", NULL, p), 401, NULL,
           "no token");
    snprintf(p, sizeof p, "/api/review/approve?queue=%s&ids=rv-1", t.queue);
    expect(http(&d, "GET", p, NULL, NULL), 405, NULL, "GET of an action");
    cr_assert_str_eq(th_state(&t, "rv-1", st, NULL), "review");

    /* bad bodies name the member */
    expect(DECIDE(&d, "/api/review/reject",
                  "{\"queue\":\"%s\",\"ids\":[\"rv-2\"],\"action\":\"%s\"}",
                  "approve"),
           400, "action", "approve on reject");
    expect(DECIDE(&d, "/api/review/approve",
                  "{\"queue\":\"%s\",\"ids\":[\"rv-1\"],\"note\":\"%s\"}", "x"),
           400, "note", "a note on approve");
    expect(DECIDE(&d, "/api/review/approve", "{\"queue\":\"%s\"%s}", ""), 400,
           "ids", "no ids");
    expect(DECIDE(&d, "/api/review/approve",
                  "{\"queue\":\"%s\",\"ids\":[\"rv-1\"],\"x%s\":1}", "y"),
           400, "xy", "unknown member");
    cr_assert_str_eq(th_state(&t, "rv-2", st, NULL), "review");

    /* approve: succeeded, the text kept; twice: skipped */
    expect(DECIDE(&d, "/api/review/approve",
                  "{\"queue\":\"%s\",\"ids\":[\"rv-1\"%s]}", ""),
           200, "\"changed\":1", "approve");
    cr_assert_str_eq(th_state(&t, "rv-1", st, NULL), "succeeded");
    doc = th_result(&t, "rv-1");
    cr_assert(doc && strlen(th_str(doc, "text")) > 0);
    cJSON_Delete(doc);
    expect(DECIDE(&d, "/api/review/approve",
                  "{\"queue\":\"%s\",\"ids\":[\"rv-1\"%s]}", ""),
           200, "\"skipped\":1", "approve twice");

    /* reject: dead, class review_rejected, the note as its message */
    expect(DECIDE(&d, "/api/review/reject",
                  "{\"queue\":\"%s\",\"ids\":[\"rv-2\"],\"note\":\"%s\"}",
                  "off topic"),
           200, "\"rejected\"", "reject");
    cr_assert_str_eq(th_state(&t, "rv-2", st, NULL), "dead");
    snprintf(p, sizeof p, "/api/dlq/rv-2?queue=%s", t.queue);
    expect(http(&d, "GET", p, NULL, NULL), 200, "\"class\":\"review_rejected\"",
           "dead class");
    expect(http(&d, "GET", p, NULL, NULL), 200, "off topic", "dead message");

    /* regenerate: queued again, the note appended to the prompt */
    expect(DECIDE(&d, "/api/review/reject",
                  "{\"queue\":\"%s\",\"ids\":[\"rv-3\"],\"action\":"
                  "\"regenerate\",\"note\":\"%s\"}",
                  NOTE),
           200, "\"requeued\"", "regenerate");
    cr_assert_str_eq(th_state(&t, "rv-3", st, NULL), "queued");
    job = redisCommand(t.c, "HGET %s rv-3", t.k.key[QK_JOBS]);
    cr_assert(job && job->type == REDIS_REPLY_STRING);
    doc = cJSON_Parse(job->str);
    freeReplyObject(job);
    cr_assert_str_eq(th_str(doc, "prompt"), "Flagged article 3\n\n" NOTE);
    cJSON_Delete(doc);

    /* one left in review */
    cr_expect_eq(th_rint(&t, "ZCARD %s", t.k.review), 1);
    th_stop(d.pid);
}
