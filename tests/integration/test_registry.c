/* The worker registry behind `genq workers`: an idle worker is reported
 * with 0 jobs in flight within a second or two of its last job, not at the
 * next 5-s beat. */
#include "fmacros.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <criterion/criterion.h>

#include "harness.h"

TestSuite(registry, .timeout = 120);

/* The in_flight of the registry entry of the worker with this pid, or -1
 * when it has none yet. */
static int
registry_in_flight(struct th *t, pid_t pid)
{
    redisReply *r = redisCommand(t->c, "HVALS %s", KEY_WORKERS);
    int n = -1;

    cr_assert(r && r->type == REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < r->elements && n < 0; i++) {
        cJSON *o = cJSON_Parse(r->element[i]->str);
        cJSON *p = cJSON_GetObjectItem(o, "pid");
        cJSON *f = cJSON_GetObjectItem(o, "in_flight");
        if (cJSON_IsNumber(p) && (pid_t)p->valuedouble == pid &&
            cJSON_IsNumber(f))
            n = f->valueint;
        cJSON_Delete(o);
    }
    freeReplyObject(r);
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
    struct th t;
    pid_t mock;

    th_init(&t, "registry_idle");
    mock = th_mock_start(url, mock_args);
    char **ids = th_enqueue_n(&t, 8, "Registry", 20);
    pid_t w = th_worker_at(&t, url, NULL, args);
    int busy = 0, n = -1;
    double waited = 0;

    for (int i = 0; i < 80 && busy <= 0; i++) {
        th_sleep_ms(50);
        busy = registry_in_flight(&t, w);
    }
    cr_assert_gt(busy, 0, "the registry shows the busy worker's jobs");
    cr_assert_eq(th_wait_terminal(&t, ids, 8, 30), 8);
    /* idle now: 0 in flight within two seconds */
    while (waited < 2.0) {
        n = registry_in_flight(&t, w);
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
    th_fini(&t);
}
