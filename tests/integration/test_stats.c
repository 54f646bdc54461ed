/* The operators' `genq stats` against a real Redis: JSON, table, rates,
 * latency, the dead-letter warning, every queue, `genq queues`, and
 * --watch on a pty. */
#include "fmacros.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <criterion/criterion.h>

#include "harness.h"
#include "rclient.h"

TH_SUITE(stats, .timeout = 90);

Test(stats, stats_counts_rates_latency_and_dead_warning)
{
    char *out, *err;
    cJSON *o[4];
    redisReply *r, *c;
    char res[256];

    th_make_dead(&t, "sd1", "dead one", NULL, "permanent", 400, "bad");
    th_make_dead(&t, "sd2", "dead two", NULL, "permanent", 400, "bad");
    th_enqueue(&t, "sa", 1, 0, 0, NULL, "{\"prompt\":\"active\"}");
    r = th_claim(&t, "w-ops", 1, 60000, 5); /* sa active */
    th_enqueue(&t, "sc", 1, 0, 0, NULL, "{\"prompt\":\"done\"}");
    c = th_claim(&t, "w-ops", 1, 60000, 5);
    snprintf(res, sizeof(res),
             "{\"id\":\"sc\",\"state\":\"succeeded\",\"text\":\"x\","
             "\"attempts\":1,\"latency_ms\":1234,\"first_token_ms\":null}");
    freeReplyObject(th_script(&t, SCRIPT_COMPLETE, "60000", "sc",
                              c->element[2]->str, res, NULL));
    freeReplyObject(c);
    freeReplyObject(r);
    th_enqueue(&t, "h1", 0, 0, 0, NULL, "{\"prompt\":\"x\"}");
    th_enqueue(&t, "n1", 1, 0, 0, NULL, "{\"prompt\":\"x\"}");
    th_enqueue(&t, "n2", 1, 0, 0, NULL, "{\"prompt\":\"x\"}");
    th_enqueue(&t, "l1", 2, 0, 0, NULL, "{\"prompt\":\"x\"}");
    th_enqueue(&t, "dl", 1, 60000, 0, NULL, "{\"prompt\":\"x\"}");
    th_sleep_ms(30);

    cr_assert_eq(th_genq(&t, NULL, &out, &err, "stats", "--json", "--dead-warn",
                         "1", NULL),
                 0, "%s", err);
    cr_assert_eq(th_jsonl(out, o, 4), 1, "one queue given: one line");
    cr_assert_str_eq(th_str(o[0], "queue"), t.queue);
    cr_assert_eq(th_num(o[0], "ready"), 4);
    cr_assert_eq(th_num(o[0], "ready_high"), 1);
    cr_assert_eq(th_num(o[0], "ready_normal"), 2);
    cr_assert_eq(th_num(o[0], "ready_low"), 1);
    cr_assert_eq(th_num(o[0], "active"), 1, "%s", out);
    cr_assert_eq(th_num(o[0], "delayed"), 1);
    cr_assert_eq(th_num(o[0], "dead"), 2);
    cr_assert_eq(th_num(o[0], "succeeded"), 1);
    cr_assert_eq(th_num(o[0], "failed"), 2);
    cr_assert_eq(th_num(o[0], "canceled"), 0);
    cr_assert_eq(th_num(o[0], "enqueued"), 9);
    cr_assert_eq(th_num(o[0], "enqueued_per_s"), 0.15, "9 jobs / 60 s");
    cr_assert(th_num(o[0], "completed_per_s") > 0);
    cr_assert(th_num(o[0], "oldest_ready_age_s") >= 0.02);
    cr_assert_eq(th_num(o[0], "latency_p50_ms"), 1234);
    cr_assert_eq(th_num(o[0], "latency_p95_ms"), 1234);
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(o[0], "paused")));
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(o[0], "dead_warn")));
    cr_assert(strstr(err, "warning: queue") && strstr(err, "2 dead jobs"), "%s",
              err);
    th_free_objs(o, 1);
    free(out);
    free(err);

    /* below the threshold (env), no warning */
    {
        const char *argv[] = {th_bin("genq"),
                              "stats",
                              "--json",
                              "--redis",
                              getenv("GENQ_TEST_REDIS_URL"),
                              "--queue",
                              t.queue,
                              NULL};
        const char *env[] = {"GENQ_DEAD_WARN=5", NULL};
        cr_assert_eq(th_run(argv, env, NULL, 0, &out, &err), 0);
        cr_assert(strstr(out, "\"dead_warn\":false"), "%s", out);
        cr_assert(!strstr(err, "warning"), "%s", err);
        free(out);
        free(err);
    }

    /* not a terminal: a header and tab-separated values, no colour codes */
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "stats", NULL), 0);
    cr_assert(strncmp(out, "queue\tpaused\tready\t", 19) == 0, "%s", out);
    cr_assert(strstr(out, "\tno\t4\t1\t2\t1\t1\t1\t2\t1\t2\t0\t"), "%s", out);
    cr_assert(!strchr(out, '\033'));
    free(out);
    free(err);

    cr_assert_eq(th_genq(&t, NULL, NULL, &err, "stats", "--watch", NULL), 2,
                 "--watch needs a terminal");
    free(err);
    cr_assert_eq(
        th_genq(&t, NULL, NULL, NULL, "stats", "--dead-warn", "x", NULL), 2);
}

Test(stats, stats_lists_every_queue_and_queues_command)
{
    char q2[80], *out, *err;
    int seen = 0;

    snprintf(q2, sizeof(q2), "%s-b", t.queue);
    cr_assert_eq(th_genq(&t, "{\"prompt\":\"a\"}\n{\"prompt\":\"b\"}\n", NULL,
                         NULL, "enqueue", "-", NULL),
                 0);
    {
        const char *argv[] = {th_bin("genq"),
                              "enqueue",
                              "-",
                              "--redis",
                              getenv("GENQ_TEST_REDIS_URL"),
                              "--queue",
                              q2,
                              NULL};
        cr_assert_eq(th_run(argv, NULL, "{\"prompt\":\"c\"}\n", 15, NULL, NULL),
                     0);
    }
    cr_assert_eq(th_genq_noq(NULL, &out, &err, "stats", "--json", NULL), 0,
                 "%s", err);
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        cJSON *o = cJSON_Parse(l);
        cr_assert(o);
        if (!strcmp(th_str(o, "queue"), t.queue)) {
            cr_assert_eq(th_num(o, "ready"), 2);
            seen |= 1;
        } else if (!strcmp(th_str(o, "queue"), q2)) {
            cr_assert_eq(th_num(o, "ready"), 1);
            seen |= 2;
        }
        cJSON_Delete(o);
    }
    cr_assert_eq(seen, 3, "both queues listed");
    free(out);
    free(err);

    cr_assert_eq(th_genq_noq(NULL, NULL, NULL, "pause", q2, NULL), 0);
    cr_assert_eq(th_genq_noq(NULL, &out, &err, "queues", "--json", NULL), 0);
    {
        char want[200];
        snprintf(want, sizeof(want),
                 "{\"queue\":\"%s\",\"paused\":true,\"ready\":1,\"active\":0,"
                 "\"delayed\":0,\"dead\":0,\"succeeded\":0}",
                 q2);
        cr_assert(strstr(out, want), "%s", out);
        snprintf(want, sizeof(want),
                 "{\"queue\":\"%s\",\"paused\":false,\"ready\":2,", t.queue);
        cr_assert(strstr(out, want), "%s", out);
    }
    free(out);
    free(err);
    cr_assert_eq(th_genq_noq(NULL, &out, &err, "queues", NULL), 0);
    cr_assert(strstr(out, "queue\tpaused\tready\tactive"), "%s", out);
    cr_assert(strstr(out, "\tyes\t1\t0\t0\t0\t0"), "%s", out);
    free(out);
    free(err);
}

Test(stats, stats_watch_draws_on_a_terminal)
{
    char cmd[1024], *out, *err;
    int rc;

    if (access("/usr/bin/script", X_OK) != 0)
        cr_skip_test("no script(1) to make a pty");
    th_enqueue(&t, "w1", 1, 0, 0, NULL, "{\"prompt\":\"x\"}");
    snprintf(cmd, sizeof(cmd),
             "%s stats --watch --count 2 --redis %s --queue %s", th_bin("genq"),
             getenv("GENQ_TEST_REDIS_URL"), t.queue);
    {
        const char *argv[] = {"/usr/bin/script", "-qfec", cmd, "/dev/null",
                              NULL};
        const char *env[] = {"NO_COLOR=", "TERM=xterm", NULL};
        rc = th_run(argv, env, NULL, 0, &out, &err);
    }
    cr_assert_eq(rc, 0, "%s %s", out, err);
    cr_assert(strstr(out, "\033[2J"), "redraws");
    cr_assert(strstr(out, "throughput"), "%s", out);
    cr_assert(strstr(out, "QUEUE"), "a table");
    cr_assert(strstr(out, "\033[32m"), "colours on a terminal");
    free(out);
    free(err);
    /* NO_COLOR: no colours, still a table */
    {
        const char *argv[] = {"/usr/bin/script", "-qfec", cmd, "/dev/null",
                              NULL};
        const char *env[] = {"NO_COLOR=1", "TERM=xterm", NULL};
        rc = th_run(argv, env, NULL, 0, &out, &err);
    }
    cr_assert_eq(rc, 0);
    cr_assert(strstr(out, "QUEUE"));
    cr_assert(!strstr(out, "\033[32m"), "NO_COLOR honoured");
    free(out);
    free(err);
}
