/* The worker registry behind `genq workers`: an idle worker is reported
 * with 0 jobs in flight within a second or two of its last job, not at the
 * next 5-s beat; each worker reports its genq version, the one `genq
 * --version` and `genq-worker --version` print. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <criterion/criterion.h>

#include "harness.h"

TH_SUITE(registry, .timeout = 120);

/* The in_flight that `genq workers --json` shows for the worker with this
 * pid, or -1 when it lists none yet. */
static int
registry_in_flight(pid_t pid)
{
    char *out = NULL, *err = NULL;
    cJSON *objs[64];
    int n = -1, k;

    cr_assert_eq(th_genq_noq(NULL, &out, &err, "workers", "--json", NULL), 0,
                 "genq workers: %s", err);
    k = th_jsonl(out, objs, 64);
    k = k < 64 ? k : 64;
    for (int i = 0; i < k; i++) {
        cJSON *p = cJSON_GetObjectItem(objs[i], "pid");
        cJSON *f = cJSON_GetObjectItem(objs[i], "in_flight");
        if (n < 0 && cJSON_IsNumber(p) && (pid_t)p->valuedouble == pid &&
            cJSON_IsNumber(f))
            n = f->valueint;
    }
    th_free_objs(objs, k);
    free(out);
    free(err);
    return n;
}

Test(registry, idle_worker_reports_zero_in_flight_promptly)
{
    /* 8 jobs of ~2 s each on 8 slots: the first beat (about 1 s after the
     * start) sees them all in flight; they end long before the next
     * periodic beat (6 s) */
    const char *mock_args[] = {"--latency-ms", "2000", NULL};
    const char *args[] = {"--concurrency", "8", NULL};
    char url[128];
    pid_t mock;

    mock = th_mock_start(url, mock_args);
    char **ids = th_enqueue_n(&t, 8, "Registry", 20);
    pid_t w = th_worker_at(&t, url, NULL, args);
    int busy = 0, n = -1;
    double waited = 0;

    for (int i = 0; i < 80 && busy <= 0; i++) {
        th_sleep_ms(50);
        busy = registry_in_flight(w);
    }
    cr_assert_gt(busy, 0, "the registry shows the busy worker's jobs");
    cr_assert_eq(th_wait_terminal(&t, ids, 8, 30), 8);
    /* idle now: 0 in flight within two seconds */
    while (waited < 2.0) {
        n = registry_in_flight(w);
        if (n == 0)
            break;
        th_sleep_ms(100);
        waited += 0.1;
    }
    cr_assert_eq(n, 0,
                 "an idle worker is reported with 0 in flight after "
                 "%.1f s (got %d)",
                 waited, n);
    th_stop(w);
    th_stop(mock);
    th_free_ids(ids, 8);
}

/* The version `BIN --version` prints ("BIN VERSION\n") into v. */
static void
version_of(const char *bin, char *v, size_t n)
{
    const char *argv[] = {th_bin(bin), "--version", NULL};
    char *out = NULL, want[64];
    size_t k;

    cr_assert_eq(th_run(argv, NULL, NULL, 0, &out, NULL), 0, "%s --version",
                 bin);
    snprintf(want, sizeof want, "%s ", bin);
    cr_assert(!strncmp(out, want, strlen(want)), "%s --version: %s", bin, out);
    k = strcspn(out + strlen(want), "\n");
    cr_assert(k > 0 && k < n, "%s --version: %s", bin, out);
    snprintf(v, n, "%.*s", (int)k, out + strlen(want));
    free(out);
}

Test(registry, workers_report_their_version)
{
    char v[128], vw[128], file[64] = "", *out = NULL;
    FILE *f = fopen("VERSION", "r"); /* tests run from the source tree */
    cJSON *objs[64];
    const char *seen = NULL;
    pid_t w;
    int k = 0;

    cr_assert(f && fgets(file, sizeof file, f), "VERSION");
    fclose(f);
    file[strcspn(file, "\n")] = '\0';
    version_of("genq", v, sizeof v);
    version_of("genq-worker", vw, sizeof vw);
    cr_assert_str_eq(v, vw, "one version for both binaries");
    cr_assert(!strncmp(v, file, strlen(file)) &&
                  (v[strlen(file)] == '\0' || v[strlen(file)] == '+'),
              "%s starts with VERSION (%s)", v, file);

    w = th_worker(&t, NULL, NULL);
    for (int i = 0; i < 100 && !seen; i++) {
        th_sleep_ms(50);
        cr_assert_eq(th_genq_noq(NULL, &out, NULL, "workers", "--json", NULL),
                     0);
        k = th_jsonl(out, objs, 64);
        k = k < 64 ? k : 64;
        for (int j = 0; j < k; j++) {
            cJSON *p = cJSON_GetObjectItem(objs[j], "pid");
            if (cJSON_IsNumber(p) && (pid_t)p->valuedouble == w)
                seen = cJSON_GetStringValue(
                    cJSON_GetObjectItem(objs[j], "version"));
        }
        if (seen)
            cr_expect_str_eq(seen, v, "the registry's version");
        th_free_objs(objs, k);
        free(out);
    }
    cr_assert(seen, "the worker is listed with a version");
    /* the table shows it too */
    cr_assert_eq(th_genq_noq(NULL, &out, NULL, "workers", NULL), 0);
    cr_expect(strstr(out, "VERSION") && strstr(out, v), "%s", out);
    free(out);
    th_stop(w);
}

/* `genq workers` forgets the dead (beat older than --stale: their
 * description and beat gone) and lists the live from one read of their
 * descriptions, each with its own (a beat without one: a worker starting
 * up, not listed). Registry entries written by hand, ids of this test's
 * own (the registry is shared with the tests running beside it). */
Test(registry, forgets_the_dead_and_lists_each_live_worker_once)
{
    char id[5][64], doc[160], now[32], *out = NULL;
    const char *names[5] = {"dead-a", "dead-b", "live-a", "live-b", "live-c"};
    cJSON *objs[256];
    int k, seen[2] = {0, 0};
    redisReply *r;

    snprintf(now, sizeof now, "%lld", (long long)time(NULL) * 1000);
    for (int i = 0; i < 5; i++) {
        snprintf(id[i], sizeof id[i], "%s-%d", names[i], (int)getpid());
        r = redisCommand(t.c, "ZADD %s %s %s", KEY_WORKERS_BEAT,
                         i < 2 ? "1000" : now, id[i]);
        cr_assert(r && r->type == REDIS_REPLY_INTEGER);
        freeReplyObject(r);
    }
    for (int i = 0; i < 4; i++) { /* live-c has no description */
        snprintf(doc, sizeof doc, "{\"id\":\"%.63s\",\"pid\":%d}", id[i], i);
        r = redisCommand(t.c, "HSET %s %s %s", KEY_WORKERS, id[i], doc);
        cr_assert(r && r->type == REDIS_REPLY_INTEGER);
        freeReplyObject(r);
    }
    cr_assert_eq(th_genq_noq(NULL, &out, NULL, "workers", "--json", NULL), 0);
    k = th_jsonl(out, objs, 256);
    k = k < 256 ? k : 256;
    for (int j = 0; j < k; j++) {
        const char *w =
            cJSON_GetStringValue(cJSON_GetObjectItem(objs[j], "id"));
        cJSON *p = cJSON_GetObjectItem(objs[j], "pid");
        for (int i = 0; w && i < 5; i++)
            if (!strcmp(w, id[i])) {
                cr_expect(i == 2 || i == 3, "%s listed", w);
                if (i >= 2 && i <= 3) {
                    seen[i - 2]++;
                    cr_expect(cJSON_IsNumber(p) && p->valueint == i,
                              "%s with its own description", w);
                }
            }
    }
    th_free_objs(objs, k);
    free(out);
    cr_expect(seen[0] == 1 && seen[1] == 1, "each live worker once: %d %d",
              seen[0], seen[1]);
    for (int i = 0; i < 2; i++) {
        r = redisCommand(t.c, "HEXISTS %s %s", KEY_WORKERS, id[i]);
        cr_expect(r && r->type == REDIS_REPLY_INTEGER && r->integer == 0,
                  "%s's description forgotten", id[i]);
        freeReplyObject(r);
        r = redisCommand(t.c, "ZSCORE %s %s", KEY_WORKERS_BEAT, id[i]);
        cr_expect(r && r->type == REDIS_REPLY_NIL, "%s's beat forgotten",
                  id[i]);
        freeReplyObject(r);
    }
    for (int i = 2; i < 5; i++) {
        freeReplyObject(redisCommand(t.c, "HDEL %s %s", KEY_WORKERS, id[i]));
        freeReplyObject(
            redisCommand(t.c, "ZREM %s %s", KEY_WORKERS_BEAT, id[i]));
    }
}
