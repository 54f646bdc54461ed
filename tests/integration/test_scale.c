/* genq-worker at a concurrency past curl's old connection cap (2,048),
 * against a private genq-mockllm streaming every answer: connections are
 * kept alive from one job to the next, about one per slot (no connection
 * opened per job once the slots are warm), the worker raises a low soft
 * open-file limit to what --concurrency needs and says so, and every job
 * succeeds with the mock's exact text. Small scale of bench scenario (s). */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <criterion/criterion.h>

#include "harness.h"

TH_SUITE(scale, .timeout = 180);

#define CONC  2200
#define WAVES 4

static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *s = calloc(1, 1 << 20);
    size_t n;

    cr_assert(f && s, "cannot read %s", path);
    n = fread(s, 1, (1 << 20) - 1, f);
    s[n] = '\0';
    fclose(f);
    return s;
}

Test(scale, slots_keep_their_connections_past_2048)
{
    /* each request lasts 1.7 s (1.2 s to the first byte, then 50 tokens
     * at 100/s); the mock's gate holds the first streams' deltas until
     * 2,100 are open at once, so the overlap past 2,048 depends on the
     * worker holding that many connections, not on how fast a loaded or
     * sanitized build starts them */
    const char *mock_args[] = {"--gate-streams",
                               "2100",
                               "--latency-ms",
                               "1200",
                               "--tokens-per-s",
                               "100",
                               "--chunk-tokens",
                               "5",
                               NULL};
    const char *args[] = {"--concurrency", "2200",         "--ramp-up", "0",
                          "--stream",      "--max-tokens", "50",        NULL};
    struct rlimit rl;
    char url[128], log[512], conc[16];
    const char *tmp = getenv("GENQ_TEST_TMP");
    int n = CONC * WAVES;
    char **ids;
    cJSON *st;
    char *text;
    pid_t mock, w;

    /* a low soft limit, inherited by the mock and the worker: both raise
     * it themselves (the hard limit must allow it) */
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    cr_assert(rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= 2 * CONC,
              "the hard open-file limit (%lu) must allow %d descriptors",
              (unsigned long)rl.rlim_max, 2 * CONC);
    rl.rlim_cur = 1024;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);

    mock = th_mock_start(url, mock_args);
    ids = th_enqueue_n(&t, n, "Scale", 50);
    snprintf(log, sizeof(log), "%s/scale-worker-%d.log", tmp ? tmp : "/tmp",
             (int)getpid());
    w = th_worker_at(&t, url, log, args);
    cr_assert_eq(th_wait_terminal(&t, ids, n, 150), n);
    th_stop(w);
    cr_assert_eq(th_count_state(&t, (const char *const *)ids, n, "succeeded"),
                 n);
    for (int i = 0; i < n; i += 997) { /* a sample of the texts */
        cJSON *res = th_result(&t, ids[i]);
        char prompt[64];
        char *want;
        snprintf(prompt, sizeof(prompt), "Scale %d", i);
        want = th_expected_text(prompt, 50 * 4);
        cr_assert(res, "%s has no result", ids[i]);
        cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(res, "text")),
                         want, "%s: text differs from the mock's", ids[i]);
        free(want);
        cJSON_Delete(res);
    }

    st = th_mock_stats(url);
    /* the case this test is about: more streams at once than the old cap */
    cr_assert_geq(th_num(st, "max_concurrent_streams"), 2100,
                  "only %.0f streams at once",
                  th_num(st, "max_concurrent_streams"));
    /* a job is up to 4 requests (50-token parts of a 120-token article) */
    cr_assert_geq(th_num(st, "requests_total"), n + 1, "%.0f for %d jobs",
                  th_num(st, "requests_total"), n);
    /* connections are kept from one job to the next, about one per slot
     * (3 curl handles for 2,200 connections, each call on the least busy,
     * each keeping what it opened); the old cap of 2,048 idle connections
     * closed the rest after every wave (2,731 for 3 waves) */
    cr_assert_leq(th_num(st, "connections_total"), CONC + CONC / 8,
                  "%.0f connections for %d slots",
                  th_num(st, "connections_total"), CONC);
    cJSON_Delete(st);
    th_stop(mock);

    text = slurp(log);
    snprintf(conc, sizeof(conc), "soft=%d", CONC + 128);
    cr_assert(strstr(text, "raised the open-file limit") && strstr(text, conc),
              "the worker logs raising its soft limit to %d:\n%.2000s",
              CONC + 128, text);
    free(text);
    th_free_ids(ids, n);
}
