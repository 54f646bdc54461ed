/* genq-worker end to end against a real Redis and genq-mockllm over
 * loopback: exact texts, killed workers, permanent and transient API
 * errors, drain on SIGTERM. */
#include "fmacros.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <criterion/criterion.h>

#include "harness.h"

TH_SUITE(worker, .timeout = 120);

static void
check_texts(char **ids, int n, const char *prefix, int max_tokens)
{
    char prompt[256];

    for (int i = 0; i < n; i++) {
        cJSON *res = th_result(&t, ids[i]);
        char *want;
        cr_assert(res, "%s has no result", ids[i]);
        snprintf(prompt, sizeof(prompt), "%s %d", prefix, i);
        /* the worker continues a length-cut article up to 3 times */
        want = th_expected_text(prompt, (size_t)max_tokens * 4);
        cr_assert_str_eq(
            cJSON_GetStringValue(cJSON_GetObjectItem(res, "text")), want,
            "%s: text differs from the mock's text for its own prompt", ids[i]);
        free(want);
        cJSON_Delete(res);
    }
}

/* How many 'succeeded' entries each id got in the completion feed (v 1 id
 * ID state ST queue Q). */
static void
check_one_success_event(char **ids, int n)
{
    redisReply *r = redisCommand(t.c, "XRANGE %s%s - +", t.k.prefix, QKEY_FEED);
    int *seen = calloc((size_t)n, sizeof(int));

    cr_assert(r && r->type == REDIS_REPLY_ARRAY && seen);
    for (size_t e = 0; e < r->elements; e++) {
        redisReply *f = r->element[e]->element[1];
        int idx;
        cr_assert(f->elements >= 8);
        cr_assert_str_eq(f->element[2]->str, "id");
        cr_assert_str_eq(f->element[4]->str, "state");
        if (strcmp(f->element[5]->str, "succeeded"))
            continue;
        cr_assert(sscanf(f->element[3]->str, "job-%d", &idx) == 1);
        cr_assert(idx >= 0 && idx < n);
        seen[idx]++;
    }
    for (int i = 0; i < n; i++)
        cr_assert_eq(seen[i], 1, "%s completed %d times", ids[i], seen[i]);
    free(seen);
    freeReplyObject(r);
}

Test(worker, texts_match_the_mock_exactly)
{
    const char *args[] = {"--concurrency", "8", NULL};
    char **ids = th_enqueue_n(&t, 60, "Write about Redis streams", 300);
    pid_t w = th_worker(&t, NULL, args);

    cr_assert_eq(th_wait_terminal(&t, ids, 60, 30), 60);
    th_stop(w);
    cr_assert_eq(th_count_state(&t, (const char *const *)ids, 60, "succeeded"),
                 60);
    check_texts(ids, 60, "Write about Redis streams", 300);
    th_free_ids(ids, 60);
}

/* Outcome documents past the flush byte cap (4 MiB in unanswered flush
 * calls: flush.c) wait for a reply and then go: 200 answers of ~45 KB
 * that end together all land, once each, with their exact texts. */
Test(worker, outcomes_past_the_flush_byte_cap_all_land)
{
    const char *args[] = {"--concurrency", "200", "--no-stream", NULL};
    const char *prefix = "[mock:tokens=8000] Flush";
    char **ids = th_enqueue_n(&t, 200, prefix, 8000);
    pid_t w = th_worker(&t, NULL, args);
    size_t total = 0;

    cr_assert_eq(th_wait_terminal(&t, ids, 200, 60), 200);
    th_stop(w);
    cr_assert_eq(th_count_state(&t, (const char *const *)ids, 200, "succeeded"),
                 200);
    check_texts(ids, 200, prefix, 8000);
    check_one_success_event(ids, 200);
    for (int i = 0; i < 200; i++) {
        cJSON *res = th_result(&t, ids[i]);
        cr_assert(res);
        total += strlen(cJSON_GetStringValue(cJSON_GetObjectItem(res, "text")));
        cJSON_Delete(res);
    }
    cr_assert(total > (size_t)8 << 20,
              "the texts (%zu bytes) pass the cap twice", total);
    th_free_ids(ids, 200);
}

Test(worker, non_streaming_texts_match_too)
{
    const char *args[] = {"--concurrency", "8", "--no-stream", NULL};
    char **ids = th_enqueue_n(&t, 30, "Plain body", 50);
    pid_t w = th_worker(&t, NULL, args);

    cr_assert_eq(th_wait_terminal(&t, ids, 30, 30), 30);
    th_stop(w);
    check_texts(ids, 30, "Plain body", 50);
    th_free_ids(ids, 30);
}

Test(worker, thousand_jobs_two_of_four_workers_killed)
{
    const int n = 1000;
    const char *mock_args[] = {"--latency-ms", "40", NULL};
    const char *args[] = {"--concurrency", "16", "--visibility-timeout", "2",
                          NULL};
    char url[128];
    pid_t mock = th_mock_start(url, mock_args);
    char **ids = th_enqueue_n(&t, n, "Kill test", 40);
    pid_t w[4];
    int done = 0;

    for (int i = 0; i < 4; i++)
        w[i] = th_worker_at(&t, url, NULL, args);
    /* wait until the run is well under way, then kill two workers */
    while (done < 150) {
        th_sleep_ms(20);
        done = th_wait_terminal(&t, ids, n, 0);
    }
    cr_assert(done < n, "the kill must happen mid-run (done %d)", done);
    kill(w[0], SIGKILL);
    kill(w[1], SIGKILL);
    waitpid(w[0], NULL, 0);
    waitpid(w[1], NULL, 0);
    cr_assert_eq(th_wait_terminal(&t, ids, n, 60), n);
    th_stop(w[2]);
    th_stop(w[3]);
    th_stop(mock);
    cr_assert_eq(th_count_state(&t, (const char *const *)ids, n, "succeeded"),
                 n, "every job succeeded");
    check_one_success_event(ids, n);
    check_texts(ids, n, "Kill test", 40);
    th_free_ids(ids, n);
}

Test(worker, permanent_error_goes_dead_with_the_api_error)
{
    const char *args[] = {NULL};
    char st[64];
    char id[] = "perm", *ids[] = {id};
    pid_t w;
    redisReply *r;
    cJSON *e;

    cr_assert_str_eq(
        th_enqueue(&t, "perm", 1, 0, 0, NULL,
                   "{\"id\":\"perm\",\"prompt\":\"bad [mock:fail=400]\"}"),
        "perm");
    w = th_worker(&t, NULL, args);

    cr_assert_eq(th_wait_terminal(&t, ids, 1, 20), 1);
    th_stop(w);
    cr_assert_str_eq(th_state(&t, "perm", st, NULL), "dead");
    r = th_script(&t, SCRIPT_INSPECT, "0", "0", "perm", NULL);
    e = cJSON_Parse(r->element[4]->str);
    freeReplyObject(r);
    cr_assert(e);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(e, "class")),
                     "permanent");
    cr_assert_eq(cJSON_GetObjectItem(e, "http_status")->valueint, 400);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(e, "type")),
                     "invalid_request_error");
    cr_assert(cJSON_IsString(cJSON_GetObjectItem(e, "request_id")),
              "request id kept");
    cJSON_Delete(e);
}

Test(worker, transient_errors_retried_inside_the_attempt)
{
    const char *args[] = {"--retry-base", "0.01", "--retry-cap", "0.05", NULL};
    char st[64];
    int att;
    char id[] = "tr", *ids[] = {id};
    pid_t w;

    cr_assert_str_eq(
        th_enqueue(&t, "tr", 1, 0, 0, NULL,
                   "{\"id\":\"tr\",\"prompt\":\"x [mock:fail=500*1]"
                   "[mock:fail=529*1][mock:fail=drop*1]\",\"max_tokens\":20}"),
        "tr");
    w = th_worker(&t, NULL, args);

    cr_assert_eq(th_wait_terminal(&t, ids, 1, 20), 1);
    th_stop(w);
    cr_assert_str_eq(th_state(&t, "tr", st, &att), "succeeded");
    cr_assert_eq(att, 1, "in-attempt retries do not count attempts");
    {
        cJSON *res = th_result(&t, "tr");
        char *want = th_expected_text(
            "x [mock:fail=500*1][mock:fail=529*1][mock:fail=drop*1]", 80);
        cr_assert(res);
        cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(res, "text")),
                         want);
        free(want);
        cJSON_Delete(res);
    }
}

Test(worker, sigterm_drains_and_hands_jobs_back)
{
    const char *mock_args[] = {"--latency-ms", "5000", NULL};
    const char *args[] = {"--drain-timeout", "1", "--concurrency", "10", NULL};
    char url[128], st[64];
    pid_t mock = th_mock_start(url, mock_args);
    char **ids = th_enqueue_n(&t, 10, "Drain", 20);
    pid_t w = th_worker_at(&t, url, NULL, args);
    int active = 0, att, rc;

    for (int k = 0; k < 100 && active < 10; k++) {
        th_sleep_ms(50);
        active = th_count_state(&t, (const char *const *)ids, 10, "active");
    }
    cr_assert_eq(active, 10, "all ten in flight");
    kill(w, SIGTERM);
    rc = th_wait(w, 5);
    cr_assert_eq(rc, 0, "exit 0 within the drain timeout (got %d)", rc);
    for (int i = 0; i < 10; i++) {
        th_state(&t, ids[i], st, &att);
        cr_assert_str_eq(st, "queued", "%s handed back", ids[i]);
        cr_assert_eq(att, 0, "attempt not counted");
    }
    th_stop(mock);
    th_free_ids(ids, 10);
}

Test(worker, progress_is_written_while_a_stream_runs)
{
    const char *mock_args[] = {"--tokens-per-s", "40", "--article-tokens",
                               "400", NULL};
    const char *args[] = {"--visibility-timeout", "3", NULL};
    char url[128];
    pid_t mock = th_mock_start(url, mock_args);
    pid_t w;
    long best = -1, prev = -1;
    int grew = 0;

    th_enqueue(&t, "prog", 1, 0, 0, NULL,
               "{\"id\":\"prog\",\"prompt\":\"Progress\",\"max_tokens\":400}");
    w = th_worker_at(&t, url, NULL, args);
    /* heartbeats every visibility/3 = 1 s carry the tokens so far */
    for (int i = 0; i < 60; i++) {
        redisReply *r = th_script(&t, SCRIPT_INSPECT, "0", "0", "prog", NULL);
        if (r->element[3]->type == REDIS_REPLY_STRING) {
            long p = atol(r->element[3]->str);
            if (prev >= 0 && p > prev)
                grew++;
            prev = p;
            if (p > best)
                best = p;
        }
        freeReplyObject(r);
        th_sleep_ms(100);
    }
    th_stop(w);
    th_stop(mock);
    cr_assert(best > 0, "progress was recorded while streaming");
    cr_assert(grew >= 2, "progress grew with the heartbeats (%d times)", grew);
    cr_assert(best < 400, "taken mid-stream (best %ld)", best);
}

Test(worker, a_dead_job_raises_a_p2_alert)
{
    const char *args[] = {NULL};
    char id[] = "alerted";
    char *ids[] = {id};
    redisReply *r;
    int found = 0;

    freeReplyObject(redisCommand(t.c, "DEL %s", KEY_ALERTS));
    th_enqueue(&t, "alerted", 1, 0, 0, NULL,
               "{\"id\":\"alerted\",\"prompt\":\"x [mock:fail=404]\"}");
    pid_t w = th_worker(&t, NULL, args);
    cr_assert_eq(th_wait_terminal(&t, ids, 1, 20), 1);
    th_sleep_ms(200);
    th_stop(w);
    r = redisCommand(t.c, "XRANGE %s - +", KEY_ALERTS);
    cr_assert(r && r->type == REDIS_REPLY_ARRAY);
    for (size_t e = 0; e < r->elements; e++) {
        redisReply *f = r->element[e]->element[1];
        int p2 = 0, names = 0;
        for (size_t k = 0; k + 1 < f->elements; k += 2) {
            if (!strcmp(f->element[k]->str, "level") &&
                !strcmp(f->element[k + 1]->str, "P2"))
                p2 = 1;
            if (!strcmp(f->element[k]->str, "text") &&
                strstr(f->element[k + 1]->str, "alerted"))
                names = 1;
        }
        found |= p2 && names;
    }
    freeReplyObject(r);
    cr_assert(found, "a P2 alert naming the dead job is in genq:alerts");
}

Test(worker, genq_workers_lists_live_ones_and_forgets_the_dead)
{
    const char *args[] = {NULL};
    const char *argv[] = {th_bin("genq"),
                          "workers",
                          "--json",
                          "--stale",
                          "2",
                          "--redis",
                          getenv("GENQ_TEST_REDIS_URL"),
                          NULL};
    char *out, *err, pidtag[32];
    pid_t w = th_worker(&t, NULL, args);
    int rc, seen = 0;

    snprintf(pidtag, sizeof(pidtag), "\"pid\":%d,", (int)w);
    for (int i = 0; i < 50 && !seen; i++) {
        th_sleep_ms(100);
        rc = th_run(argv, NULL, NULL, 0, &out, &err);
        cr_assert_eq(rc, 0, "%s", err);
        seen = strstr(out, pidtag) && strstr(out, t.queue);
        free(out);
        free(err);
    }
    cr_assert(seen, "the live worker is listed with its queue");
    kill(w, SIGKILL);
    waitpid(w, NULL, 0);
    th_sleep_ms(2600);
    rc = th_run(argv, NULL, NULL, 0, &out, &err);
    cr_assert_eq(rc, 0);
    cr_assert(!strstr(out, pidtag), "a dead worker is forgotten: %s", out);
    free(out);
    free(err);
}

Test(worker, identical_requests_share_one_call_through_the_cache)
{
    const char *args[] = {"--cache-ttl", "60", "--concurrency", "1", NULL};
    char a[] = "c-1", b[] = "c-2", c[] = "c-3";
    char *ids[] = {a, b, c};
    cJSON *r1, *r2, *r3;
    pid_t w;

    /* same request twice (ids and metadata are not part of it), then a
     * different one */
    th_enqueue(&t, "c-1", 1, 0, 0, NULL,
               "{\"id\":\"c-1\",\"prompt\":\"Cache me\",\"max_tokens\":500,"
               "\"metadata\":{\"n\":1}}");
    th_enqueue(&t, "c-2", 1, 0, 0, NULL,
               "{\"id\":\"c-2\",\"prompt\":\"Cache me\",\"max_tokens\":500,"
               "\"metadata\":{\"n\":2}}");
    th_enqueue(&t, "c-3", 1, 0, 0, NULL,
               "{\"id\":\"c-3\",\"prompt\":\"Cache me too\","
               "\"max_tokens\":500}");
    w = th_worker(&t, NULL, args);
    cr_assert_eq(th_wait_terminal(&t, ids, 3, 20), 3);
    th_stop(w);
    r1 = th_result(&t, "c-1");
    r2 = th_result(&t, "c-2");
    r3 = th_result(&t, "c-3");
    cr_assert(r1 && r2 && r3);
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(r1, "cached")));
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(r2, "cached")),
              "the identical request was served from the cache");
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(r3, "cached")),
              "a different request is not");
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(r1, "text")),
                     cJSON_GetStringValue(cJSON_GetObjectItem(r2, "text")));
    cr_assert_eq(
        cJSON_GetObjectItem(cJSON_GetObjectItem(r2, "metadata"), "n")->valueint,
        2, "each result keeps its own job's metadata");
    cJSON_Delete(r1);
    cJSON_Delete(r2);
    cJSON_Delete(r3);
}

/* --ramp-up: the slots fill evenly over the ramp, not at once. With a
 * 3-second ramp and 60 slots, well under half are in flight half a second
 * in; all 60 are once the ramp is over. (Margins are wide: this checks the
 * shape, not the timing.) */
Test(worker, ramp_up_fills_the_slots_gradually)
{
    const char *mock_args[] = {"--latency-ms", "20000", NULL};
    const char *args[] = {"--concurrency",   "60", "--ramp-up", "3",
                          "--drain-timeout", "1",  NULL};
    char url[128];
    pid_t mock = th_mock_start(url, mock_args);
    char **ids = th_enqueue_n(&t, 60, "Ramp", 20);
    pid_t w = th_worker_at(&t, url, NULL, args);
    int early, active = 0;

    th_sleep_ms(500);
    early = th_count_state(&t, (const char *const *)ids, 60, "active");
    cr_assert_gt(early, 0, "the ramp has begun");
    cr_assert_lt(early, 30, "%d of 60 in flight after 0.5 s of a 3 s ramp",
                 early);
    for (int k = 0; k < 100 && active < 60; k++) {
        th_sleep_ms(100);
        active = th_count_state(&t, (const char *const *)ids, 60, "active");
    }
    cr_assert_eq(active, 60, "all in flight once the ramp is over");
    kill(w, SIGTERM);
    th_wait(w, 5);
    th_stop(mock);
    th_free_ids(ids, 60);
}

static size_t
collect(char *p, size_t sz, size_t n, void *ud)
{
    struct {
        char b[65536];
        size_t len;
    } *o = ud;
    size_t k = sz * n;

    if (k > sizeof(o->b) - 1 - o->len)
        k = sizeof(o->b) - 1 - o->len;
    memcpy(o->b + o->len, p, k);
    o->len += k;
    o->b[o->len] = '\0';
    return sz * n;
}

/* --prefetch: at a steady pace the worker claims jobs ahead of its free
 * slots; they wait in line, leased and heartbeated, and start as slots free.
 * Every job succeeds exactly once, on its first attempt, with its own text,
 * and the metrics count the jobs that waited. */
Test(worker, prefetched_jobs_succeed_once, .timeout = 90)
{
    enum { N = 400 };
    char addr[64], murl[128], url[96];
    const char *mock_args[] = {"--latency-ms", "50", NULL};
    const char *args[] = {"--concurrency",   "4", "--prefetch",     "8",
                          "--ramp-up",       "0", "--metrics-addr", addr,
                          "--drain-timeout", "2", "--no-stream",    NULL};
    struct {
        char b[65536];
        size_t len;
    } body = {{0}, 0};
    pid_t mock = th_mock_start(murl, mock_args);
    char **ids = th_enqueue_n(&t, N, "Pre", 20);
    long waited, events = 0;
    const char *p;
    redisReply *r;
    CURL *c;
    pid_t w;

    snprintf(addr, sizeof(addr), "127.0.0.1:%d", th_free_port());
    snprintf(url, sizeof(url), "http://%s/metrics", addr);
    w = th_worker_at(&t, murl, NULL, args);
    cr_assert_eq(th_wait_terminal(&t, ids, N, 60), N);
    c = curl_easy_init();
    cr_assert(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    cr_assert_eq(curl_easy_perform(c), CURLE_OK, "scrape %s", url);
    curl_easy_cleanup(c);
    p = strstr(body.b, "\ngenq_jobs_prefetched_total ");
    cr_assert(p, "%s", body.b);
    waited = strtol(p + 28, NULL, 10);
    cr_assert_gt(waited, 0, "jobs were claimed ahead and waited in line");
    kill(w, SIGTERM);
    cr_assert_eq(th_wait(w, 10), 0);
    th_stop(mock);
    cr_assert_eq(th_count_state(&t, (const char *const *)ids, N, "succeeded"),
                 N);
    for (int i = 0; i < N; i += 37) {
        char st[64];
        int att = 0;
        th_state(&t, ids[i], st, &att);
        cr_assert_eq(att, 1, "%s: one attempt", ids[i]);
    }
    check_texts(ids, N, "Pre", 20);
    r = redisCommand(t.c, "XRANGE %s%s - +", t.k.prefix, QKEY_FEED);
    cr_assert(r && r->type == REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < r->elements; i++)
        events +=
            !strcmp(r->element[i]->element[1]->element[5]->str, "succeeded");
    freeReplyObject(r);
    cr_assert_eq(events, N, "one succeeded feed entry per job");
    th_free_ids(ids, N);
}
