/* The fleet as one client of a rate-limited API (worker/limiter.c,
 * common/lua/limiter.lua) at small scale: two worker processes against a
 * mock that enforces 120 requests a minute draw no 429 with the limit
 * configured and few when they learn it from the headers; an outage (503
 * to everything for a few seconds) is probed by one request per breaker
 * interval for the whole fleet, no attempt is counted and every job
 * succeeds; `genq limits` shows the key. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

TH_SUITE(governor, .timeout = 240);

/* n jobs through two workers (extra: their flags) against a mock with
 * mock_args; returns the mock's stats at the end (caller frees). */
static cJSON *
run_fleet(int n, const char *const mock_args[], const char *const extra[],
          char *url)
{
    char **ids = th_enqueue_n(&t, n, "Governed", 200);
    pid_t mock = th_mock_start(url, mock_args);
    pid_t w1 = th_worker_at(&t, url, NULL, extra);
    pid_t w2 = th_worker_at(&t, url, NULL, extra);
    cJSON *st;

    cr_assert_eq(th_wait_terminal(&t, ids, n, 200), n);
    cr_assert_eq(th_count_state(&t, (const char *const *)ids, n, "succeeded"),
                 n, "every job succeeds");
    for (int i = 0; i < n; i++) {
        int attempts = 0;
        char s[64];
        th_state(&t, ids[i], s, &attempts);
        cr_assert_eq(attempts, 1, "%s: attempt counted (%d)", ids[i], attempts);
    }
    th_stop(w1);
    th_stop(w2);
    st = th_mock_stats(url);
    th_stop(mock);
    th_free_ids(ids, n);
    return st;
}

Test(governor, configured_limits_draw_no_429)
{
    const char *mock_args[] = {"--limit-rpm", "120", NULL};
    const char *args[] = {"--concurrency", "16", "--limit-rpm", "120", NULL};
    char url[128];
    /* 150 calls: the bucket's 120, then 30 more at 2 a second */
    cJSON *st = run_fleet(150, mock_args, args, url);

    cr_assert_eq(th_mock_status_count(st, 429), 0, "%.0f 429s",
                 th_mock_status_count(st, 429));
    cr_assert_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(st, "limit_refused")),
                 0);
    cr_assert_eq(
        cJSON_GetNumberValue(cJSON_GetObjectItem(st, "limit_admitted")), 150);
    cJSON_Delete(st);
}

Test(governor, learned_limits_draw_few_429)
{
    const char *mock_args[] = {"--limit-rpm", "120", NULL};
    const char *args[] = {"--concurrency", "16", NULL};
    char url[128], *out = NULL, *err = NULL;
    cJSON *st = run_fleet(150, mock_args, args, url);

    /* the first calls go out before any header is learned; after that the
     * learned bucket keeps the fleet under the mock's */
    cr_assert_leq(th_mock_status_count(st, 429), 8, "%.0f 429s",
                  th_mock_status_count(st, 429));
    cJSON_Delete(st);
    /* genq limits shows the learned figure for the key */
    cr_assert_eq(th_genq_noq(NULL, &out, &err, "limits", "--json", NULL), 0,
                 "%s", err);
    cr_assert(strstr(out, url + strlen("http://")), "%s", out);
    cr_assert(strstr(out, "\"learned\":{\"rpm\":120"), "%s", out);
    free(out);
    free(err);
}

Test(governor, an_outage_is_probed_once_per_interval_for_the_fleet)
{
    const char *mock_args[] = {NULL};
    const char *args[] = {"--concurrency",
                          "4",
                          "--circuit-max",
                          "1",
                          "--breaker-threshold",
                          "2",
                          NULL};
    const int n = 24;
    char **ids = th_enqueue_n(&t, n, "Outage", 200);
    char url[128];
    pid_t mock = th_mock_start(url, mock_args);
    pid_t w1, w2;
    cJSON *st;
    double s503;

    th_mock_control(url, "{\"outage_s\":4}");
    w1 = th_worker_at(&t, url, NULL, args);
    w2 = th_worker_at(&t, url, NULL, args);
    cr_assert_eq(th_wait_terminal(&t, ids, n, 120), n);
    cr_assert_eq(th_count_state(&t, (const char *const *)ids, n, "succeeded"),
                 n);
    for (int i = 0; i < n; i++) {
        int attempts = 0;
        char s[64];
        th_state(&t, ids[i], s, &attempts);
        cr_assert_eq(attempts, 1, "%s: attempt counted", ids[i]);
    }
    th_stop(w1);
    th_stop(w2);
    st = th_mock_stats(url);
    th_stop(mock);
    /* the first wave (2 workers x 4 slots) fails, then one probe per
     * interval (0.5..1 s jittered, --circuit-max 1) for 4 s: at most 8 +
     * 4 / 0.5 + 1 -- every slot retrying on its own would be 8 x 4 */
    s503 = th_mock_status_count(st, 503);
    cr_assert_geq(s503, 2);
    cr_assert_leq(s503, 17, "%.0f 503s", s503);
    cJSON_Delete(st);
    th_free_ids(ids, n);
}

/* The limiter's Prometheus metrics: tries admitted, and the fleet's bucket
 * levels (sampled every 5 s) for the metered buckets only. */
Test(governor, the_metrics_show_admissions_and_bucket_levels)
{
    const char *mock_args[] = {"--limit-rpm", "120", NULL};
    char addr[64], url[128], murl[128];
    const char *args[] = {"--limit-rpm", "120", "--metrics-addr", addr, NULL};
    const int n = 10;
    char **ids = th_enqueue_n(&t, n, "Metered", 50);
    pid_t mock = th_mock_start(url, mock_args), w;
    char *body = NULL;
    const char *p;

    snprintf(addr, sizeof(addr), "127.0.0.1:%d", th_free_port());
    snprintf(murl, sizeof(murl), "http://%s/metrics", addr);
    w = th_worker_at(&t, url, NULL, args);
    cr_assert_eq(th_wait_terminal(&t, ids, n, 60), n);
    /* the levels are sampled every 5 s (the learned ones after a call) */
    for (int i = 0; i < 120; i++) {
        free(body);
        body = th_http_get(murl);
        if (strstr(body, "bucket=\"input_tokens\""))
            break;
        usleep(100000);
    }
    p = strstr(body, "\ngenq_limiter_admitted_total ");
    cr_assert(p, "%s", body);
    cr_assert_geq(strtol(p + 29, NULL, 10), n, "%s", body);
    p = strstr(body, "\ngenq_limiter_bucket_level{bucket=\"requests\"} ");
    cr_assert(p, "%s", body);
    /* a level within the bucket (it refills between the calls) */
    cr_assert_geq(strtol(strchr(p, '}') + 2, NULL, 10), 0, "%s", body);
    cr_assert_leq(strtol(strchr(p, '}') + 2, NULL, 10), 120, "%s", body);
    /* the input and output buckets are learned from the mock's headers;
     * Anthropic's tokens-* is the tighter of those, not a bucket */
    cr_assert(strstr(body, "bucket=\"input_tokens\""), "%s", body);
    cr_assert_null(strstr(body, "bucket=\"tokens\""), "%s", body);
    free(body);
    th_stop(w);
    th_stop(mock);
    th_free_ids(ids, n);
}
