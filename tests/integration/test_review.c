/* Content review end to end (worker/review.c, complete.lua, the review_*
 * scripts, genq review): a result holding a blocklisted word ends in state
 * review with its text and reasons, a clean one succeeds; approve makes
 * the flagged one succeeded; reject --regenerate queues it again with the
 * note appended to its prompt and it runs again; reject sends it to dead
 * with class review_rejected; ids not in review are refused. */
#include "fmacros.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"

TH_SUITE(review, .timeout = 120);

#define NOTE "Avoid the flagged word."

/* 1 when word occurs in text, case-insensitively. */
static int
has_word(const char *text, const char *word)
{
    size_t n = strlen(word);

    for (const char *p = text; *p; p++)
        if (!strncasecmp(p, word, n))
            return 1;
    return 0;
}

/* A word of at least 6 letters in the article of prompt a that is in
 * none of the others (NULL-terminated prompts); into out. */
static void
pick_word(const char *a, const char *const others[], char *out, size_t cap)
{
    char *ta = th_expected_text(a, 2000), *tok, *save = NULL;

    for (tok = strtok_r(ta, " \n\t.,;:!?\"'()&", &save); tok;
         tok = strtok_r(NULL, " \n\t.,;:!?\"'()&", &save)) {
        int ok = strlen(tok) >= 6 && strlen(tok) < cap;
        for (const char *c = tok; ok && *c; c++)
            ok = isalpha((unsigned char)*c);
        for (int i = 0; ok && others[i]; i++) {
            char *to = th_expected_text(others[i], 2000);
            ok = !has_word(to, tok);
            free(to);
        }
        if (ok) {
            snprintf(out, cap, "%s", tok);
            free(ta);
            return;
        }
    }
    free(ta);
    cr_assert_fail("no word of '%s' that the others lack", a);
}

/* Wait until id is in state want (10 s at most); returns the state. */
static const char *
wait_state(const char *id, const char *want, char *st)
{
    for (int i = 0; i < 500; i++) {
        th_state(&t, id, st, NULL);
        if (!strcmp(st, want))
            break;
        th_sleep_ms(20);
    }
    return st;
}

Test(review, blocklisted_word_goes_to_review_then_approve_and_regenerate)
{
    const char *pa = "Review flagged A", *pb = "Review clean B",
               *pc = "Review flagged C";
    char regc[128], word[64], list[1200], path[512], st[64];
    const char *others[] = {pb, regc, NULL};
    const char *args[] = {"--review-blocklist", path, NULL};
    char *out = NULL, *err = NULL, *ta, *tc;
    cJSON *d, *reasons, *job;
    redisReply *r;
    pid_t w;

    /* a word of A and one of C, in neither B nor C regenerated */
    snprintf(regc, sizeof regc, "%s\n\n%s", pc, NOTE);
    pick_word(pa, others, word, sizeof word);
    {
        char wc[64];
        pick_word(pc, others, wc, sizeof wc);
        snprintf(list, sizeof list, "# words\n%s\n%s\n", word, wc);
    }
    th_write_tmp(path, sizeof path, "blocklist", list);
    th_enqueue(&t, "rv-a", 1, 0, 0, NULL, "{\"prompt\":\"Review flagged A\"}");
    th_enqueue(&t, "rv-b", 1, 0, 0, NULL, "{\"prompt\":\"Review clean B\"}");
    th_enqueue(&t, "rv-c", 1, 0, 0, NULL, "{\"prompt\":\"Review flagged C\"}");
    w = th_worker(&t, NULL, args);
    cr_assert_str_eq(wait_state("rv-a", "review", st), "review");
    cr_assert_str_eq(wait_state("rv-b", "succeeded", st), "succeeded");
    cr_assert_str_eq(wait_state("rv-c", "review", st), "review");

    /* the flagged result keeps its text and the reasons */
    d = th_result(&t, "rv-a");
    cr_assert_not_null(d);
    cr_assert_str_eq(th_str(d, "state"), "review");
    ta = th_expected_text(pa, 2000);
    cr_assert_str_eq(th_str(d, "text"), ta);
    free(ta);
    reasons = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(d, "review"), "reasons");
    cr_assert(cJSON_GetArraySize(reasons) >= 1);
    cr_assert_str_eq(th_str(cJSON_GetArrayItem(reasons, 0), "rule"),
                     "blocklist");
    cr_assert(has_word(th_str(cJSON_GetArrayItem(reasons, 0), "detail"), word));
    cJSON_Delete(d);
    cr_assert_eq(th_rint(&t, "ZCARD %s", t.k.review), 2);

    /* genq review ls lists both; genq stats counts them */
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "review", "ls", "--json", NULL),
                 0, "%s", err);
    {
        cJSON *o[4];
        int n = th_jsonl(out, o, 4);
        cr_assert_eq(n, 2);
        /* oldest flagged first: the two may be flagged in either order */
        if (!strcmp(th_str(o[0], "id"), "rv-c")) {
            cJSON *x = o[0];
            o[0] = o[1];
            o[1] = x;
        }
        th_assert_each(o, "id", "rv-a", "rv-c", NULL);
        th_free_objs(o, n);
    }
    free(out);
    free(err);
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "stats", "--json", NULL), 0);
    d = cJSON_Parse(out);
    cr_assert_eq(th_num(d, "review"), 2);
    cJSON_Delete(d);
    free(out);
    free(err);

    /* approve: succeeded, out of the review set, the text kept */
    cr_assert_eq(
        th_genq(&t, NULL, &out, NULL, "review", "approve", "rv-a", NULL), 0);
    cr_assert(strstr(out, "rv-a approved"), "%s", out);
    free(out);
    cr_assert_str_eq(th_state(&t, "rv-a", st, NULL), "succeeded");
    d = th_result(&t, "rv-a");
    cr_assert_str_eq(th_str(d, "state"), "succeeded");
    cJSON_Delete(d);
    /* twice: not in review any more, exit 1 */
    cr_assert_eq(
        th_genq(&t, NULL, NULL, NULL, "review", "approve", "rv-a", NULL), 1);

    /* reject --regenerate: queued with the note, run again */
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "review", "reject", "rv-c",
                         "--regenerate", "--note", NOTE, NULL),
                 0, "%s", err);
    free(out);
    free(err);
    cr_assert_str_eq(wait_state("rv-c", "succeeded", st), "succeeded",
                     "the regenerated text passes the review");
    r = redisCommand(t.c, "HGET %s rv-c", t.k.key[QK_JOBS]);
    cr_assert(r && r->type == REDIS_REPLY_STRING);
    job = cJSON_Parse(r->str);
    freeReplyObject(r);
    {
        char want[160];
        snprintf(want, sizeof want, "%s\n\n%s", pc, NOTE);
        cr_assert_str_eq(th_str(job, "prompt"), want);
        d = th_result(&t, "rv-c");
        tc = th_expected_text(want, 2000);
        cr_assert_str_eq(th_str(d, "text"), tc, "the new prompt's text");
        free(tc);
        cJSON_Delete(d);
    }
    cJSON_Delete(job);
    cr_assert_eq(th_rint(&t, "ZCARD %s", t.k.review), 0);
    th_stop(w);
}

Test(review, reject_goes_dead_with_class_review_rejected)
{
    char path[512], st[64], *out = NULL;
    const char *args[] = {"--review-min-words", "100000", "--review-blocklist",
                          path, NULL};
    cJSON *d;
    pid_t w;

    th_write_tmp(path, sizeof path, "blocklist", "re:[0-9]{9}\n");
    th_enqueue(&t, "rj-a", 1, 0, 0, NULL, "{\"prompt\":\"Short one\"}");
    w = th_worker(&t, NULL, args);
    cr_assert_str_eq(wait_state("rj-a", "review", st), "review");
    d = th_result(&t, "rj-a");
    cr_assert_str_eq(
        th_str(
            cJSON_GetArrayItem(
                cJSON_GetObjectItemCaseSensitive(
                    cJSON_GetObjectItemCaseSensitive(d, "review"), "reasons"),
                0),
            "rule"),
        "min_words");
    cJSON_Delete(d);
    cr_assert_eq(th_genq(&t, NULL, NULL, NULL, "review", "reject", "rj-a",
                         "--note", "off topic", NULL),
                 0);
    cr_assert_str_eq(th_state(&t, "rj-a", st, NULL), "dead");
    cr_assert_eq(th_genq(&t, NULL, &out, NULL, "dlq", "ls", "--class",
                         "review_rejected", "--json", NULL),
                 0);
    cr_assert(strstr(out, "rj-a") && strstr(out, "off topic"), "%s", out);
    free(out);
    cr_assert_null(th_result(&t, "rj-a"), "the flagged text is deleted");
    /* unknown ids are refused */
    cr_assert_eq(
        th_genq(&t, NULL, NULL, NULL, "review", "reject", "nope", NULL), 1);
    th_stop(w);
}

/* A blocklist the worker cannot compile stops it at start (exit non-0),
 * naming the file and line. */
Test(review, bad_pattern_fails_at_start)
{
    char path[512], log[600];
    const char *args[] = {"--review-blocklist", path, NULL};
    FILE *f;
    char buf[2000] = "";
    size_t n;
    pid_t w;

    th_write_tmp(path, sizeof path, "blocklist", "fine\nre:(unclosed\n");
    snprintf(log, sizeof log, "%s.log", path);
    w = th_worker(&t, log, args);
    cr_assert_neq(th_wait(w, 10), 0);
    f = fopen(log, "r");
    cr_assert_not_null(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    cr_assert(strstr(buf, ":2: pattern '(unclosed'"), "%s", buf);
}

/* --review-model: a second call per finished text; FAIL flags it with the
 * model's reason, PASS lets it succeed (the mock answers as a reviewer
 * when the instructions hold [mock:review]). */
Test(review, reviewer_model_pass_and_fail)
{
    char path[512], st[64];
    const char *args[] = {"--review-model", "claude-haiku-4-5",
                          "--review-prompt-file", path, NULL};
    const char *margs[] = {NULL};
    char url[128];
    cJSON *d, *rs, *ms;
    pid_t mock, w;

    th_write_tmp(path, sizeof path, "review-prompt",
                 "[mock:review] Answer PASS or FAIL: REASON.\n");
    th_enqueue(&t, "rm-a", 1, 0, 0, NULL,
               "{\"prompt\":\"Model A [mock:verdict=fail]\"}");
    th_enqueue(&t, "rm-b", 1, 0, 0, NULL, "{\"prompt\":\"Model B\"}");
    mock = th_mock_start(url, margs);
    w = th_worker_at(&t, url, NULL, args);
    cr_assert_str_eq(wait_state("rm-a", "review", st), "review");
    cr_assert_str_eq(wait_state("rm-b", "succeeded", st), "succeeded");
    th_stop(w);
    ms = th_mock_stats(url);
    th_stop(mock);
    cr_assert_eq(th_mock_status_count(ms, 200), 4, "two texts, two reviews");
    cJSON_Delete(ms);
    d = th_result(&t, "rm-a");
    rs = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(d, "review"), "reasons");
    cr_assert_eq(cJSON_GetArraySize(rs), 1);
    cr_assert_str_eq(th_str(cJSON_GetArrayItem(rs, 0), "rule"), "model");
    cr_assert_str_eq(th_str(cJSON_GetArrayItem(rs, 0), "detail"),
                     "the text breaks the house style");
    {
        char *want = th_expected_text("Model A [mock:verdict=fail]", 2000);
        cr_assert_str_eq(th_str(d, "text"), want, "the text, not the verdict");
        free(want);
    }
    cJSON_Delete(d);
    d = th_result(&t, "rm-b");
    cr_assert_null(cJSON_GetObjectItemCaseSensitive(d, "review"));
    cJSON_Delete(d);
}
