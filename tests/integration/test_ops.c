/* The operators' `genq` against a real Redis: stats (JSON, table, rates,
 * latency, dead-letter warning, --watch on a pty), queues, pause/resume,
 * cancel (queued, delayed, active: fail, reap and success), dlq ls / show /
 * requeue / purge / export with every filter, paging through ties, the
 * export → enqueue --from-dlq round trip, and results --follow / export. */
#include "fmacros.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <criterion/criterion.h>

#include "harness.h"
#include "rclient.h"

static struct th t;

static void
setup(void)
{
    th_init(&t, criterion_current_test->name);
}

static void
teardown(void)
{
    th_fini(&t);
}

TestSuite(ops, .init = setup, .fini = teardown, .timeout = 90);

/* Run `genq CMD args... --redis URL [--queue Q]` with stdin `in`. */
static int
vgenq(const char *queue, const char *in, char **out, char **err,
      const char *cmd, va_list ap)
{
    const char *argv[64];
    int n = 0;

    argv[n++] = th_bin("genq");
    argv[n++] = cmd;
    for (const char *a; (a = va_arg(ap, const char *)) != NULL && n < 58;)
        argv[n++] = a;
    argv[n++] = "--redis";
    argv[n++] = getenv("GENQ_TEST_REDIS_URL");
    if (queue) {
        argv[n++] = "--queue";
        argv[n++] = queue;
    }
    argv[n] = NULL;
    return th_run(argv, NULL, in, in ? strlen(in) : 0, out, err);
}

static int
genq(const char *in, char **out, char **err, const char *cmd, ...)
{
    va_list ap;
    int rc;

    va_start(ap, cmd);
    rc = vgenq(t.queue, in, out, err, cmd, ap);
    va_end(ap);
    return rc;
}

static int
genq_noq(const char *in, char **out, char **err, const char *cmd, ...)
{
    va_list ap;
    int rc;

    va_start(ap, cmd);
    rc = vgenq(NULL, in, out, err, cmd, ap);
    va_end(ap);
    return rc;
}

/* Count lines; parse each as JSON into objs (up to max; caller frees). */
static int
jsonl(char *text, cJSON **objs, int max)
{
    int n = 0;
    char *save = NULL;

    for (char *l = strtok_r(text, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        cJSON *o = cJSON_Parse(l);
        cr_assert(o, "not JSON: %s", l);
        if (n < max)
            objs[n] = o;
        else
            cJSON_Delete(o);
        n++;
    }
    return n;
}

static void
free_objs(cJSON **objs, int n)
{
    for (int i = 0; i < n; i++)
        cJSON_Delete(objs[i]);
}

static double
num(cJSON *o, const char *k)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    cr_assert(cJSON_IsNumber(v), "%s is not a number", k);
    return v->valuedouble;
}

static const char *
str(cJSON *o, const char *k)
{
    const char *s =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
    cr_assert(s, "%s is not a string", k);
    return s;
}

/* Claim exactly n jobs; returns the reply (ids at 1 + 4i, tokens 2 + 4i). */
static redisReply *
claim(int n, long vis_ms)
{
    char ns[16], vs[24];
    redisReply *r;

    snprintf(ns, sizeof(ns), "%d", n);
    snprintf(vs, sizeof(vs), "%ld", vis_ms);
    r = th_script(&t, SCRIPT_CLAIM, "w-ops", ns, vs, "5", NULL);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    return r;
}

/* An error object as the worker writes it. */
static void
err_json(char *out, size_t n, const char *cls, int status, const char *msg)
{
    char st[16];

    if (status)
        snprintf(st, sizeof(st), "%d", status);
    else
        snprintf(st, sizeof(st), "null");
    snprintf(out, n,
             "{\"class\":\"%s\",\"http_status\":%s,\"type\":null,\"message\":"
             "\"%s\",\"request_id\":null}",
             cls, st, msg);
}

/* Enqueue one job and kill it at once with the given error. The queue
 * must have nothing else ready. */
static void
make_dead(const char *id, const char *prompt, const char *idem, const char *cls,
          int status, const char *msg)
{
    char payload[512], err[512];
    redisReply *r, *f;

    if (idem)
        snprintf(payload, sizeof(payload),
                 "{\"id\":\"%s\",\"prompt\":\"%s\",\"idempotency_key\":\"%s\"}",
                 id, prompt, idem);
    else
        snprintf(payload, sizeof(payload), "{\"id\":\"%s\",\"prompt\":\"%s\"}",
                 id, prompt);
    th_enqueue(&t, id, 1, 0, 0, idem, payload);
    r = claim(1, 60000);
    cr_assert_eq(r->elements, 5, "exactly one job ready");
    cr_assert_str_eq(r->element[1]->str, id);
    err_json(err, sizeof(err), cls, status, msg);
    f = th_script(&t, SCRIPT_FAIL, id, r->element[2]->str, "dead", "0", err,
                  NULL);
    cr_assert_str_eq(f->element[0]->str, "dead");
    freeReplyObject(f);
    freeReplyObject(r);
}

/* n dead jobs killed in one fail call (the same died-at ms: ties). */
static void
make_dead_batch(const char *prefix, int n)
{
    const char **av = malloc(sizeof(*av) * (size_t)(5 * n));
    char(*ids)[32] = malloc(sizeof(*ids) * (size_t)n);
    char err[256], e[512];
    redisReply *r, *f;
    int k = 0;

    cr_assert(av && ids);
    for (int i = 0; i < n; i += 500) {
        int m = n - i < 500 ? n - i : 500;
        const char *eav[2 + 7 * 500];
        char cnt[16];
        int j = 0;
        eav[j++] = "86400";
        snprintf(cnt, sizeof(cnt), "%d", m);
        eav[j++] = cnt;
        for (int x = i; x < i + m; x++) {
            snprintf(ids[x], sizeof(ids[x]), "%s%05d", prefix, x);
            eav[j++] = ids[x];
            eav[j++] = "1";
            eav[j++] = "0";
            eav[j++] = "0";
            eav[j++] = "0";
            eav[j++] = "";
            eav[j++] = "{\"prompt\":\"batch\"}";
        }
        r = rclient_script(t.c, SCRIPT_ENQUEUE, &t.k, j, eav, NULL, e,
                           sizeof(e));
        cr_assert(r, "%s", e);
        freeReplyObject(r);
    }
    err_json(err, sizeof(err), "exhausted", 500, "overloaded");
    r = claim(n, 60000);
    cr_assert_eq(r->elements, 1 + 4 * (size_t)n);
    for (int i = 0; i < n; i++) {
        av[k++] = r->element[1 + 4 * i]->str;
        av[k++] = r->element[2 + 4 * i]->str;
        av[k++] = "dead";
        av[k++] = "0";
        av[k++] = err;
    }
    f = rclient_script(t.c, SCRIPT_FAIL, &t.k, k, av, NULL, e, sizeof(e));
    cr_assert(f, "%s", e);
    freeReplyObject(f);
    freeReplyObject(r);
    free(av);
    free(ids);
}

static long long
zcard(enum qkey k)
{
    redisReply *r = redisCommand(t.c, "ZCARD %s", t.k.key[k]);
    long long n = r->integer;
    freeReplyObject(r);
    return n;
}

static long long
hexists(enum qkey k, const char *field)
{
    redisReply *r = redisCommand(t.c, "HEXISTS %s %s", t.k.key[k], field);
    long long n = r->integer;
    freeReplyObject(r);
    return n;
}

/* ---- stats and queues ---------------------------------------------------- */

Test(ops, stats_counts_rates_latency_and_dead_warning)
{
    char *out, *err;
    cJSON *o[4];
    redisReply *r, *c;
    char res[256];

    make_dead("sd1", "dead one", NULL, "permanent", 400, "bad");
    make_dead("sd2", "dead two", NULL, "permanent", 400, "bad");
    th_enqueue(&t, "sa", 1, 0, 0, NULL, "{\"prompt\":\"active\"}");
    r = claim(1, 60000); /* sa active */
    th_enqueue(&t, "sc", 1, 0, 0, NULL, "{\"prompt\":\"done\"}");
    c = claim(1, 60000);
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

    cr_assert_eq(
        genq(NULL, &out, &err, "stats", "--json", "--dead-warn", "1", NULL), 0,
        "%s", err);
    cr_assert_eq(jsonl(out, o, 4), 1, "one queue given: one line");
    cr_assert_str_eq(str(o[0], "queue"), t.queue);
    cr_assert_eq(num(o[0], "ready"), 4);
    cr_assert_eq(num(o[0], "ready_high"), 1);
    cr_assert_eq(num(o[0], "ready_normal"), 2);
    cr_assert_eq(num(o[0], "ready_low"), 1);
    cr_assert_eq(num(o[0], "active"), 1, "%s", out);
    cr_assert_eq(num(o[0], "delayed"), 1);
    cr_assert_eq(num(o[0], "dead"), 2);
    cr_assert_eq(num(o[0], "succeeded"), 1);
    cr_assert_eq(num(o[0], "failed"), 2);
    cr_assert_eq(num(o[0], "canceled"), 0);
    cr_assert_eq(num(o[0], "enqueued"), 9);
    cr_assert_eq(num(o[0], "enqueued_per_s"), 0.15, "9 jobs / 60 s");
    cr_assert(num(o[0], "completed_per_s") > 0);
    cr_assert(num(o[0], "oldest_ready_age_s") >= 0.02);
    cr_assert_eq(num(o[0], "latency_p50_ms"), 1234);
    cr_assert_eq(num(o[0], "latency_p95_ms"), 1234);
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(o[0], "paused")));
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(o[0], "dead_warn")));
    cr_assert(strstr(err, "warning: queue") && strstr(err, "2 dead jobs"), "%s",
              err);
    free_objs(o, 1);
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
    cr_assert_eq(genq(NULL, &out, &err, "stats", NULL), 0);
    cr_assert(strncmp(out, "queue\tpaused\tready\t", 19) == 0, "%s", out);
    cr_assert(strstr(out, "\tno\t4\t1\t2\t1\t1\t1\t2\t1\t2\t0\t"), "%s", out);
    cr_assert(!strchr(out, '\033'));
    free(out);
    free(err);

    cr_assert_eq(genq(NULL, NULL, &err, "stats", "--watch", NULL), 2,
                 "--watch needs a terminal");
    free(err);
    cr_assert_eq(genq(NULL, NULL, NULL, "stats", "--dead-warn", "x", NULL), 2);
}

Test(ops, stats_lists_every_queue_and_queues_command)
{
    char q2[80], *out, *err;
    int seen = 0;

    snprintf(q2, sizeof(q2), "%s-b", t.queue);
    cr_assert_eq(genq("{\"prompt\":\"a\"}\n{\"prompt\":\"b\"}\n", NULL, NULL,
                      "enqueue", "-", NULL),
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
    cr_assert_eq(genq_noq(NULL, &out, &err, "stats", "--json", NULL), 0, "%s",
                 err);
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        cJSON *o = cJSON_Parse(l);
        cr_assert(o);
        if (!strcmp(str(o, "queue"), t.queue)) {
            cr_assert_eq(num(o, "ready"), 2);
            seen |= 1;
        } else if (!strcmp(str(o, "queue"), q2)) {
            cr_assert_eq(num(o, "ready"), 1);
            seen |= 2;
        }
        cJSON_Delete(o);
    }
    cr_assert_eq(seen, 3, "both queues listed");
    free(out);
    free(err);

    cr_assert_eq(genq_noq(NULL, NULL, NULL, "pause", q2, NULL), 0);
    cr_assert_eq(genq_noq(NULL, &out, &err, "queues", "--json", NULL), 0);
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
    cr_assert_eq(genq_noq(NULL, &out, &err, "queues", NULL), 0);
    cr_assert(strstr(out, "queue\tpaused\tready\tactive"), "%s", out);
    cr_assert(strstr(out, "\tyes\t1\t0\t0\t0\t0"), "%s", out);
    free(out);
    free(err);
}

Test(ops, stats_watch_draws_on_a_terminal)
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

/* ---- pause, resume, cancel ------------------------------------------- */

Test(ops, pause_and_resume)
{
    char *out, *err;
    redisReply *r;

    th_enqueue(&t, "p1", 1, 0, 0, NULL, "{\"prompt\":\"x\"}");
    cr_assert_eq(genq(NULL, &out, &err, "pause", "--json", NULL), 0, "%s", err);
    cr_assert(strstr(out, "\"paused\":true,\"changed\":true"), "%s", out);
    free(out);
    free(err);
    r = claim(10, 60000);
    cr_assert_str_eq(r->element[0]->str, "paused");
    freeReplyObject(r);
    cr_assert_eq(genq(NULL, &out, NULL, "pause", NULL), 0);
    cr_assert(strstr(out, "already paused"), "%s", out);
    free(out);
    cr_assert_eq(genq(NULL, &out, NULL, "resume", "--json", NULL), 0);
    cr_assert(strstr(out, "\"paused\":false,\"changed\":true"), "%s", out);
    free(out);
    r = claim(10, 60000);
    cr_assert_eq(r->elements, 5, "claims again");
    freeReplyObject(r);
    cr_assert_eq(genq(NULL, NULL, NULL, "pause", "a", "b", NULL), 2);
    cr_assert_eq(genq(NULL, NULL, NULL, "pause", "bad name!", NULL), 1);
}

Test(ops, cancel_queued_delayed_and_active)
{
    char *out, *err, st[64], e[256];
    redisReply *r, *f;
    cJSON *o[8];
    int att;

    th_enqueue(&t, "cq", 1, 0, 0, NULL, "{\"prompt\":\"q\"}");
    th_enqueue(&t, "cd", 1, 60000, 0, NULL, "{\"prompt\":\"d\"}");
    th_enqueue(&t, "ca", 1, 0, 0, NULL, "{\"prompt\":\"a\"}");
    /* claim the oldest ready (cq would come first: claim it, then put the
     * others in order) */
    r = claim(2, 60000); /* cq, ca */
    cr_assert_eq(r->elements, 9);
    /* cq back to queued: fail it with requeue */
    f = th_script(&t, SCRIPT_FAIL, "cq", r->element[2]->str, "requeue", "0",
                  "{\"class\":\"not_job_fault\",\"http_status\":429,\"type\":"
                  "null,\"message\":\"x\",\"request_id\":null}",
                  NULL);
    freeReplyObject(f);
    cr_assert_str_eq(th_state(&t, "cq", st, NULL), "queued");

    cr_assert_eq(genq(NULL, &out, &err, "cancel", "--json", "cq", "cd", "ca",
                      "nope", NULL),
                 1, "an unknown id makes exit 1");
    cr_assert_eq(jsonl(out, o, 8), 4);
    cr_assert_str_eq(str(o[0], "outcome"), "canceled");
    cr_assert_str_eq(str(o[1], "outcome"), "canceled");
    cr_assert_str_eq(str(o[2], "outcome"), "requested");
    cr_assert_str_eq(str(o[2], "state"), "active");
    cr_assert_str_eq(str(o[3], "outcome"), "unknown");
    free_objs(o, 4);
    free(out);
    free(err);
    cr_assert_str_eq(th_state(&t, "cq", st, NULL), "canceled");
    cr_assert_str_eq(th_state(&t, "cd", st, NULL), "canceled");
    cr_assert_eq(zcard(QK_DELAYED), 0, "out of the delayed set");
    {
        redisReply *l = redisCommand(t.c, "LLEN %s", t.k.key[QK_READY]);
        cr_assert_eq(l->integer, 0, "out of the ready list");
        freeReplyObject(l);
    }
    cr_assert_eq(zcard(QK_DONE), 2, "retention like results");

    /* the flagged active job fails with a retryable error: canceled */
    f = th_script(&t, SCRIPT_FAIL, "ca", r->element[6]->str, "retry", "1000",
                  "{\"class\":\"transient\",\"http_status\":500,\"type\":null,"
                  "\"message\":\"boom\",\"request_id\":null}",
                  NULL);
    cr_assert_str_eq(f->element[0]->str, "canceled");
    freeReplyObject(f);
    freeReplyObject(r);
    cr_assert_str_eq(th_state(&t, "ca", st, &att), "canceled");
    cr_assert_eq(zcard(QK_DELAYED), 0, "not retried");
    cr_assert_eq(zcard(QK_DONE), 3);
    r = th_script(&t, SCRIPT_INSPECT, "0", "0", "ca", NULL);
    cr_assert(strstr(r->element[4]->str, "\"canceled\""), "%s",
              r->element[4]->str);
    cr_assert(strstr(r->element[5]->str, "\"outcome\":\"canceled\""));
    cr_assert(strstr(r->element[5]->str, "boom"), "the attempt's error kept");
    freeReplyObject(r);

    /* flagged, then it succeeds: the result is kept */
    th_enqueue(&t, "cs", 1, 0, 0, NULL, "{\"prompt\":\"s\"}");
    r = claim(1, 60000);
    cr_assert_eq(genq(NULL, &out, NULL, "cancel", "cs", NULL), 0);
    cr_assert(strstr(out, "cancel requested"), "%s", out);
    free(out);
    f = th_script(&t, SCRIPT_COMPLETE, "60000", "cs", r->element[2]->str,
                  "{\"id\":\"cs\"}", NULL);
    cr_assert_eq(f->element[0]->integer, 1);
    freeReplyObject(f);
    freeReplyObject(r);
    cr_assert_str_eq(th_state(&t, "cs", st, NULL), "succeeded");

    /* flagged, then its lease expires: canceled, not requeued */
    th_enqueue(&t, "cl", 1, 0, 0, NULL, "{\"prompt\":\"l\"}");
    r = claim(1, 50);
    freeReplyObject(r);
    cr_assert_eq(genq(NULL, NULL, NULL, "cancel", "cl", NULL), 0);
    th_sleep_ms(100);
    freeReplyObject(th_script(&t, SCRIPT_MAINTAIN, NULL));
    cr_assert_str_eq(th_state(&t, "cl", st, NULL), "canceled");
    r = claim(5, 60000);
    cr_assert_eq(r->elements, 1, "nothing requeued");
    freeReplyObject(r);

    /* finished jobs are left alone */
    cr_assert_eq(genq(NULL, &out, NULL, "cancel", "cs", NULL), 1);
    cr_assert(strstr(out, "already succeeded"), "%s", out);
    free(out);
    /* a requeue-kind failure of a flagged job cancels too */
    th_enqueue(&t, "cr", 1, 0, 0, NULL, "{\"prompt\":\"r\"}");
    r = claim(1, 60000);
    cr_assert_eq(genq(NULL, NULL, NULL, "cancel", "cr", NULL), 0);
    err_json(e, sizeof(e), "not_job_fault", 429, "slow down");
    f = th_script(&t, SCRIPT_FAIL, "cr", r->element[2]->str, "requeue", "0", e,
                  NULL);
    cr_assert_str_eq(f->element[0]->str, "canceled");
    freeReplyObject(f);
    freeReplyObject(r);
    cr_assert_eq(genq(NULL, NULL, NULL, "cancel", NULL), 2);
}

/* ---- dlq ----------------------------------------------------------------- */

/* Five dead jobs with different errors and prompts, oldest first. */
static void
five_dead(void)
{
    make_dead("e1", "Write about Redis", "idem-e1", "permanent", 400,
              "prompt is too long");
    th_sleep_ms(3);
    make_dead("e2", "Write about Lua", NULL, "permanent", 404,
              "model not found");
    th_sleep_ms(3);
    make_dead("e3", "Write about streams", NULL, "exhausted", 500,
              "overloaded");
    th_sleep_ms(3);
    make_dead("e4", "Write about fsync", NULL, "lease_expired", 0,
              "lease expired: worker w1 stopped heartbeating");
    th_sleep_ms(3);
    make_dead("e5", "Write about Redis Cluster", NULL, "exhausted", 529,
              "overloaded");
}

/* The ids printed by `genq dlq ls --json ARGS`, comma-joined, into out. */
static void
ls_ids(char *out, size_t n, ...)
{
    const char *argv[32];
    int k = 0, rc;
    char *o, *e, *save = NULL;
    va_list ap;

    argv[k++] = th_bin("genq");
    argv[k++] = "dlq";
    argv[k++] = "ls";
    argv[k++] = "--json";
    va_start(ap, n);
    for (const char *a; (a = va_arg(ap, const char *)) != NULL;)
        argv[k++] = a;
    va_end(ap);
    argv[k++] = "--redis";
    argv[k++] = getenv("GENQ_TEST_REDIS_URL");
    argv[k++] = "--queue";
    argv[k++] = t.queue;
    argv[k] = NULL;
    rc = th_run(argv, NULL, NULL, 0, &o, &e);
    cr_assert_eq(rc, 0, "%s", e);
    out[0] = '\0';
    for (char *l = strtok_r(o, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        cJSON *j = cJSON_Parse(l);
        cr_assert(j);
        if (out[0])
            strncat(out, ",", n - strlen(out) - 1);
        strncat(out, str(j, "id"), n - strlen(out) - 1);
        cJSON_Delete(j);
    }
    free(o);
    free(e);
}

Test(ops, dlq_ls_filters_and_formats)
{
    char ids[512], *out, *err;
    cJSON *o[8];

    five_dead();
    ls_ids(ids, sizeof(ids), NULL);
    cr_assert_str_eq(ids, "e5,e4,e3,e2,e1", "newest first");
    ls_ids(ids, sizeof(ids), "--class", "exhausted", NULL);
    cr_assert_str_eq(ids, "e5,e3");
    ls_ids(ids, sizeof(ids), "--status", "404", NULL);
    cr_assert_str_eq(ids, "e2");
    ls_ids(ids, sizeof(ids), "--class", "exhausted", "--status", "529", NULL);
    cr_assert_str_eq(ids, "e5");
    ls_ids(ids, sizeof(ids), "--grep", "Redis", NULL);
    cr_assert_str_eq(ids, "e5,e1", "grep in the job");
    ls_ids(ids, sizeof(ids), "--grep", "overloaded", NULL);
    cr_assert_str_eq(ids, "e5,e3", "grep in the error");
    ls_ids(ids, sizeof(ids), "--grep", "redis", NULL);
    cr_assert_str_eq(ids, "", "case-sensitive");
    ls_ids(ids, sizeof(ids), "--limit", "2", NULL);
    cr_assert_str_eq(ids, "e5,e4");
    ls_ids(ids, sizeof(ids), "--since", "1h", NULL);
    cr_assert_str_eq(ids, "e5,e4,e3,e2,e1");
    ls_ids(ids, sizeof(ids), "--since", "2999-01-01T00:00:00Z", NULL);
    cr_assert_str_eq(ids, "");
    ls_ids(ids, sizeof(ids), "--class", "lease_expired", "--limit", "5", NULL);
    cr_assert_str_eq(ids, "e4");

    cr_assert_eq(
        genq(NULL, &out, &err, "dlq", "ls", "--json", "--status", "400", NULL),
        0);
    cr_assert_eq(jsonl(out, o, 8), 1);
    cr_assert_str_eq(str(o[0], "id"), "e1");
    cr_assert_str_eq(str(o[0], "class"), "permanent");
    cr_assert_eq(num(o[0], "http_status"), 400);
    cr_assert_str_eq(str(o[0], "message"), "prompt is too long");
    cr_assert_eq(num(o[0], "attempts"), 1);
    cr_assert_str_eq(str(o[0], "prompt_excerpt"), "Write about Redis");
    cr_assert(strlen(str(o[0], "died_at")) == 24);
    free_objs(o, 1);
    free(out);
    free(err);

    /* not a terminal: tab-separated, one job per line */
    cr_assert_eq(
        genq(NULL, &out, &err, "dlq", "ls", "--class", "lease_expired", NULL),
        0);
    cr_assert(strstr(out, "e4\t"), "%s", out);
    cr_assert(strstr(out, "\tlease_expired\t\t1\tlease expired: worker w1 "
                          "stopped heartbeating\tWrite about fsync\n"),
              "%s", out);
    free(out);
    free(err);

    cr_assert_eq(genq(NULL, NULL, NULL, "dlq", "ls", "--class", "bogus", NULL),
                 2);
    cr_assert_eq(genq(NULL, NULL, NULL, "dlq", "ls", "--status", "x", NULL), 2);
    cr_assert_eq(
        genq(NULL, NULL, NULL, "dlq", "ls", "--since", "yesterday", NULL), 2);
    cr_assert_eq(genq(NULL, NULL, NULL, "dlq", "ls", "--yes", NULL), 2);
    cr_assert_eq(genq(NULL, NULL, NULL, "dlq", "nonsense", NULL), 2);
    cr_assert_eq(genq(NULL, NULL, NULL, "dlq", NULL), 2);
}

Test(ops, dlq_pages_through_ties_and_many_entries)
{
    char *out, *err;
    int n = 0;
    char prev[64] = "";

    /* 1200 jobs dying in one call share one died-at ms: pages (500) must
     * split inside the tie */
    make_dead_batch("t", 1200);
    cr_assert_eq(genq(NULL, &out, &err, "dlq", "ls", NULL), 0, "%s", err);
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save), n++) {
        char id[64];
        snprintf(id, sizeof(id), "%.*s", (int)strcspn(l, "\t"), l);
        if (prev[0])
            cr_assert(strcmp(id, prev) < 0, "each once, in order: %s %s", prev,
                      id);
        snprintf(prev, sizeof(prev), "%s", id);
    }
    cr_assert_eq(n, 1200);
    free(out);
    free(err);
    /* requeue them while paging: the cursor survives removals */
    cr_assert_eq(
        genq(NULL, &out, &err, "dlq", "requeue", "--all", "--json", NULL), 0,
        "%s", err);
    cr_assert(strstr(out, "\"matched\":1200,\"changed\":1200,\"skipped\":0"),
              "%s", out);
    free(out);
    free(err);
    cr_assert_eq(zcard(QK_DEAD), 0);
}

Test(ops, dlq_show_document)
{
    char *out, *err;
    cJSON *o, *e, *h;

    five_dead();
    cr_assert_eq(genq(NULL, &out, &err, "dlq", "show", "e2", "--json", NULL), 0,
                 "%s", err);
    o = cJSON_Parse(out);
    cr_assert(o, "%s", out);
    cr_assert_str_eq(str(o, "id"), "e2");
    cr_assert_str_eq(str(cJSON_GetObjectItem(o, "job"), "prompt"),
                     "Write about Lua");
    e = cJSON_GetObjectItem(o, "error");
    cr_assert_str_eq(str(e, "class"), "permanent");
    cr_assert_eq(num(e, "http_status"), 404);
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(e, "type")));
    cr_assert_eq(num(o, "attempts"), 1);
    cr_assert_eq(strlen(str(o, "died_at")), 24);
    h = cJSON_GetObjectItem(o, "history");
    cr_assert_eq(cJSON_GetArraySize(h), 1);
    cr_assert_str_eq(str(cJSON_GetArrayItem(h, 0), "outcome"), "dead");
    cr_assert_eq(strlen(str(cJSON_GetArrayItem(h, 0), "at")), 24,
                 "history times in RFC 3339");
    cJSON_Delete(o);
    free(out);
    free(err);
    cr_assert_eq(genq(NULL, &out, &err, "dlq", "show", "e3", NULL), 0);
    cr_assert(strstr(out, "exhausted") && strstr(out, "HTTP 500") &&
                  strstr(out, "Write about streams"),
              "%s", out);
    free(out);
    free(err);
    th_enqueue(&t, "alive", 1, 0, 0, NULL, "{\"prompt\":\"x\"}");
    cr_assert_eq(genq(NULL, NULL, &err, "dlq", "show", "alive", NULL), 1);
    cr_assert(strstr(err, "not in the dead-letter queue (queued)"), "%s", err);
    free(err);
    cr_assert_eq(genq(NULL, NULL, NULL, "dlq", "show", "nope", NULL), 1);
    cr_assert_eq(genq(NULL, NULL, NULL, "dlq", "show", NULL), 2);
}

Test(ops, dlq_requeue_by_id_and_filters)
{
    char *out, *err, st[64], ids[256];
    int att;
    redisReply *r;

    five_dead();
    /* dry run changes nothing */
    cr_assert_eq(genq(NULL, &out, &err, "dlq", "requeue", "--class",
                      "exhausted", "--dry-run", NULL),
                 0);
    cr_assert(strstr(out, "would have requeued 2"), "%s", out);
    free(out);
    free(err);
    cr_assert_eq(zcard(QK_DEAD), 5);

    /* by id: only dead ones move; a live or unknown id makes exit 1 */
    th_enqueue(&t, "live", 2, 60000, 0, NULL, "{\"prompt\":\"x\"}");
    cr_assert_eq(
        genq(NULL, &out, &err, "dlq", "requeue", "e1", "live", "nope", NULL),
        1);
    cr_assert(strstr(out, "requeued 1 dead job"), "%s", out);
    cr_assert(strstr(err, "live: not dead (delayed)"), "%s", err);
    cr_assert(strstr(err, "nope: not dead (unknown)"), "%s", err);
    free(out);
    free(err);
    cr_assert_str_eq(th_state(&t, "e1", st, &att), "queued");
    cr_assert_eq(att, 0, "attempts reset");
    cr_assert_str_eq(th_state(&t, "live", st, NULL), "delayed");
    r = th_script(&t, SCRIPT_INSPECT, "1", "0", "e1", NULL);
    cr_assert(strstr(r->element[5]->str, "\"outcome\":\"dlq_requeued\""),
              "history kept and extended: %s", r->element[5]->str);
    cr_assert(strstr(r->element[5]->str, "\"outcome\":\"dead\""));
    cr_assert(strstr(r->element[6]->str, "\"id\":\"e1\""), "same job");
    freeReplyObject(r);
    /* the idempotency key still names it: a second enqueue is a duplicate */
    cr_assert_eq(genq("{\"prompt\":\"y\",\"idempotency_key\":\"idem-e1\"}\n",
                      &out, NULL, "enqueue", "--json", "-", NULL),
                 0);
    cr_assert(strstr(out, "\"id\":\"e1\",\"status\":\"duplicate\""), "%s", out);
    free(out);
    /* it is claimable */
    r = claim(1, 60000);
    cr_assert_eq(r->elements, 5);
    cr_assert_str_eq(r->element[1]->str, "e1");
    cr_assert_eq(r->element[3]->integer, 1, "attempt 1 again");
    freeReplyObject(r);

    /* by filter, keeping attempts */
    cr_assert_eq(genq(NULL, &out, &err, "dlq", "requeue", "--grep",
                      "overloaded", "--keep-attempts", "--json", NULL),
                 0);
    cr_assert(strstr(out, "\"action\":\"requeue\",\"dry_run\":false,"
                          "\"matched\":2,\"changed\":2"),
              "%s", out);
    free(out);
    free(err);
    cr_assert_str_eq(th_state(&t, "e3", st, &att), "queued");
    cr_assert_eq(att, 1, "--keep-attempts");
    ls_ids(ids, sizeof(ids), NULL);
    cr_assert_str_eq(ids, "e4,e2");
    /* ids from stdin */
    cr_assert_eq(genq("e2\n\ne4\n", &out, &err, "dlq", "requeue", "-", NULL), 0,
                 "%s", err);
    cr_assert(strstr(out, "requeued 2"), "%s", out);
    free(out);
    free(err);
    cr_assert_eq(zcard(QK_DEAD), 0);
    cr_assert_eq(genq(NULL, NULL, NULL, "dlq", "requeue", NULL), 2,
                 "nothing selected");
    cr_assert_eq(genq(NULL, NULL, NULL, "dlq", "requeue", "x", "--all", NULL),
                 2, "ids and filters");
    cr_assert_eq(
        genq(NULL, NULL, NULL, "dlq", "requeue", "--older-than", "1h", NULL), 2,
        "not a requeue option");
}

Test(ops, dlq_requeued_jobs_complete_with_a_worker)
{
    const char *args[] = {"--provider", "noop", NULL};
    char e1[] = "e1", e2[] = "e2", e3[] = "e3";
    char *ids[3] = {e1, e2, e3};
    pid_t w;

    make_dead("e1", "one", NULL, "permanent", 400, "x");
    make_dead("e2", "two", NULL, "permanent", 400, "x");
    make_dead("e3", "three", NULL, "permanent", 400, "x");
    cr_assert_eq(genq(NULL, NULL, NULL, "dlq", "requeue", "--all", NULL), 0);
    w = th_worker(&t, NULL, args);
    cr_assert_eq(th_wait_terminal(&t, ids, 3, 20), 3);
    th_stop(w);
    cr_assert_eq(th_count_state(&t, (const char *const *)ids, 3, "succeeded"),
                 3);
}

Test(ops, dlq_purge_selection_confirmation_and_cleanup)
{
    char *out, *err, st[64], ids[256];

    five_dead();
    /* --all without --yes and without a terminal: refused, nothing gone */
    cr_assert_eq(genq(NULL, NULL, &err, "dlq", "purge", "--all", NULL), 2);
    cr_assert(strstr(err, "--yes"), "%s", err);
    free(err);
    cr_assert_eq(zcard(QK_DEAD), 5);
    /* a filter is honoured, with --all too */
    cr_assert_eq(genq(NULL, &out, &err, "dlq", "purge", "--all", "--class",
                      "exhausted", "--yes", "--json", NULL),
                 0, "%s", err);
    cr_assert(strstr(out, "\"action\":\"purge\",\"dry_run\":false,"
                          "\"matched\":2,\"changed\":2"),
              "%s", out);
    free(out);
    free(err);
    ls_ids(ids, sizeof(ids), NULL);
    cr_assert_str_eq(ids, "e4,e2,e1");
    cr_assert_str_eq(th_state(&t, "e3", st, NULL), "unknown");
    cr_assert(!hexists(QK_JOBS, "e3") && !hexists(QK_ERRORS, "e3") &&
                  !hexists(QK_HISTORY, "e3") && !hexists(QK_META, "e3"),
              "every field gone");
    /* --older-than: nothing is a day old */
    cr_assert_eq(
        genq(NULL, &out, NULL, "dlq", "purge", "--older-than", "1d", NULL), 0);
    cr_assert(strstr(out, "purged 0"), "%s", out);
    free(out);
    cr_assert_eq(zcard(QK_DEAD), 3);
    /* by id; a live id is left alone (exit 1) */
    th_enqueue(&t, "live", 1, 60000, 0, NULL, "{\"prompt\":\"x\"}");
    cr_assert_eq(genq(NULL, &out, &err, "dlq", "purge", "e1", "live", NULL), 1);
    cr_assert(strstr(out, "purged 1"), "%s", out);
    free(out);
    free(err);
    cr_assert_str_eq(th_state(&t, "live", st, NULL), "delayed");
    /* its idempotency key went with it: the same key enqueues anew */
    cr_assert_eq(genq("{\"id\":\"e1b\",\"prompt\":\"y\",\"idempotency_key\":"
                      "\"idem-e1\"}\n",
                      &out, NULL, "enqueue", "--json", "-", NULL),
                 0);
    cr_assert(strstr(out, "\"id\":\"e1b\",\"status\":\"enqueued\""), "%s", out);
    free(out);
    /* --older-than 0s: every dead job; dry run first */
    th_sleep_ms(5);
    cr_assert_eq(genq(NULL, &out, NULL, "dlq", "purge", "--older-than", "0s",
                      "--dry-run", NULL),
                 0);
    cr_assert(strstr(out, "would have purged 2"), "%s", out);
    free(out);
    cr_assert_eq(
        genq(NULL, NULL, NULL, "dlq", "purge", "--older-than", "0s", NULL), 0);
    cr_assert_eq(zcard(QK_DEAD), 0);
    cr_assert_eq(genq(NULL, NULL, NULL, "dlq", "purge", NULL), 2);
    cr_assert_eq(
        genq(NULL, NULL, NULL, "dlq", "purge", "--older-than", "soon", NULL),
        2);
}

Test(ops, dlq_export_then_enqueue_from_dlq_round_trip)
{
    char *out, *err, *out2, other[96], st[64];
    cJSON *o[8];
    int n;

    five_dead();
    cr_assert_eq(genq(NULL, &out, &err, "dlq", "export", NULL), 0, "%s", err);
    {
        char *copy = strdup(out);
        n = jsonl(copy, o, 8);
        free(copy);
    }
    cr_assert_eq(n, 5);
    cr_assert_str_eq(str(o[0], "id"), "e5");
    cr_assert(cJSON_IsObject(cJSON_GetObjectItem(o[0], "job")));
    cr_assert(cJSON_IsArray(cJSON_GetObjectItem(o[0], "history")));
    free_objs(o, 5);

    /* into another queue: the same jobs, with their ids */
    snprintf(other, sizeof(other), "%s-re", t.queue);
    {
        const char *argv[] = {th_bin("genq"),
                              "enqueue",
                              "--from-dlq",
                              "--json",
                              "-",
                              "--redis",
                              getenv("GENQ_TEST_REDIS_URL"),
                              "--queue",
                              other,
                              NULL};
        cr_assert_eq(th_run(argv, NULL, out, strlen(out), &out2, &err), 0, "%s",
                     err);
    }
    cr_assert(strstr(out2, "{\"line\":1,\"id\":\"e5\",\"status\":"
                           "\"enqueued\",\"error\":null}"),
              "%s", out2);
    cr_assert(strstr(out2, "\"line\":5,\"id\":\"e1\""), "%s", out2);
    free(out2);
    free(err);
    {
        struct qkeys k;
        redisReply *r;
        cr_assert_eq(qkeys_init(&k, other), 0);
        r = redisCommand(t.c, "HGET %s e2", k.key[QK_JOBS]);
        cr_assert_str_eq(r->str,
                         "{\"id\":\"e2\",\"prompt\":\"Write about Lua\"}");
        freeReplyObject(r);
        r = redisCommand(t.c, "LLEN %s", k.key[QK_READY]);
        cr_assert_eq(r->integer, 5);
        freeReplyObject(r);
    }
    /* into the same queue the ids are taken while the dead jobs exist ... */
    cr_assert_eq(
        genq(out, &out2, NULL, "enqueue", "--from-dlq", "--json", "-", NULL),
        0);
    cr_assert(strstr(out2, "\"status\":\"duplicate\""), "%s", out2);
    free(out2);
    /* ... and free again once purged */
    cr_assert_eq(genq(NULL, NULL, NULL, "dlq", "purge", "--all", "--yes", NULL),
                 0);
    cr_assert_eq(genq(out, NULL, &err, "enqueue", "--from-dlq", "-", NULL), 0,
                 "%s", err);
    free(err);
    cr_assert_str_eq(th_state(&t, "e4", st, NULL), "queued");
    free(out);

    /* bad lines keep their line numbers */
    cr_assert_eq(genq("{\"job\":{\"prompt\":\"ok\"}}\nnot json\n"
                      "{\"id\":\"x\"}\n{\"job\":{\"prompt\":7}}\n",
                      NULL, &err, "enqueue", "--from-dlq", "-", NULL),
                 1);
    cr_assert(strstr(err, "line 2: not a dead-letter document"), "%s", err);
    cr_assert(strstr(err, "line 3: job: missing"), "%s", err);
    cr_assert(strstr(err, "line 4: job.prompt"), "%s", err);
    free(err);
    cr_assert_eq(
        genq(NULL, NULL, NULL, "enqueue", "--from-dlq", "--prompt", "x", NULL),
        2);
}

/* ---- results --------------------------------------------------------- */

/* Claim and complete one job with a result document. */
static void
complete_one(const char *id)
{
    char payload[128], res[256];
    redisReply *r, *c;

    snprintf(payload, sizeof(payload), "{\"id\":\"%s\",\"prompt\":\"p\"}", id);
    th_enqueue(&t, id, 1, 0, 0, NULL, payload);
    r = claim(1, 60000);
    cr_assert_eq(r->elements, 5);
    snprintf(res, sizeof(res),
             "{\"id\":\"%s\",\"state\":\"succeeded\",\"text\":\"text of %s\","
             "\"latency_ms\":10,\"finished_at\":\"2025-01-01T00:00:00.000Z\"}",
             id, id);
    c = th_script(&t, SCRIPT_COMPLETE, "600000", id, r->element[2]->str, res,
                  NULL);
    cr_assert_eq(c->element[0]->integer, 1);
    freeReplyObject(c);
    freeReplyObject(r);
}

/* Start `genq results ARGS` in the background with stdout to path. */
static pid_t
spawn_results(const char *path, const char *const extra[])
{
    const char *argv[32];
    int n = 0;
    pid_t pid;

    argv[n++] = th_bin("genq");
    argv[n++] = "results";
    for (int i = 0; extra[i]; i++)
        argv[n++] = extra[i];
    argv[n++] = "--redis";
    argv[n++] = getenv("GENQ_TEST_REDIS_URL");
    argv[n++] = "--queue";
    argv[n++] = t.queue;
    argv[n] = NULL;
    pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0)
            dup2(fd, 1);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static char *
slurp_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *b = calloc(1, 1 << 16);
    size_t n;

    cr_assert(f && b);
    n = fread(b, 1, (1 << 16) - 1, f);
    b[n] = '\0';
    fclose(f);
    return b;
}

Test(ops, results_follow_from_start_and_export)
{
    const char *tmp = getenv("GENQ_TEST_TMP");
    const char *fargs[] = {"--follow", "--count", "3", NULL};
    char path[512], *out, *err, *got;
    pid_t pid;
    cJSON *o[8];
    int n;

    complete_one("before");
    snprintf(path, sizeof(path), "%s/follow-%d.jsonl", tmp ? tmp : "/tmp",
             (int)getpid());
    pid = spawn_results(path, fargs);
    th_sleep_ms(400); /* it starts after "before" */
    complete_one("r1");
    complete_one("r2");
    make_dead("rd", "dies", NULL, "permanent", 400, "x");
    complete_one("r3");
    cr_assert_eq(th_wait(pid, 20), 0, "exits after --count results");
    got = slurp_file(path);
    n = jsonl(got, o, 8);
    cr_assert_eq(n, 3, "only new successes");
    cr_assert_str_eq(str(o[0], "id"), "r1");
    cr_assert_str_eq(str(o[1], "id"), "r2");
    cr_assert_str_eq(str(o[2], "id"), "r3");
    cr_assert_str_eq(str(o[2], "text"), "text of r3");
    free_objs(o, 3);
    free(got);
    unlink(path);

    cr_assert_eq(genq(NULL, &out, &err, "results", "--from-start", NULL), 0,
                 "%s", err);
    n = jsonl(out, o, 8);
    cr_assert_eq(n, 4);
    cr_assert_str_eq(str(o[0], "id"), "before");
    free_objs(o, 4);
    free(out);
    free(err);
    cr_assert_eq(genq(NULL, &out, &err, "results", "--since",
                      "2999-01-01T00:"
                      "00:00Z",
                      NULL),
                 0);
    cr_assert_str_eq(out, "");
    free(out);
    free(err);

    cr_assert_eq(genq(NULL, &out, &err, "results", "export", NULL), 0, "%s",
                 err);
    n = jsonl(out, o, 8);
    cr_assert_eq(n, 4, "every stored result");
    cr_assert_str_eq(str(o[0], "id"), "before", "oldest first");
    free_objs(o, 4);
    free(out);
    free(err);
    cr_assert_eq(genq(NULL, &out, &err, "results", "export", "--since",
                      "2024-12-31T00:00:00Z", NULL),
                 0);
    cr_assert_eq(jsonl(out, o, 0), 4);
    free(out);
    free(err);
    cr_assert_eq(genq(NULL, &out, &err, "results", "export", "--since",
                      "2025-01-02T00:00:00Z", NULL),
                 0);
    cr_assert_str_eq(out, "", "finished before --since");
    free(out);
    free(err);
    cr_assert_eq(genq(NULL, NULL, NULL, "results", "export", "--follow", NULL),
                 2);
    cr_assert_eq(genq(NULL, NULL, NULL, "results", "--from-start", "--since",
                      "1h", NULL),
                 2);
}

Test(ops, results_export_pages_in_order)
{
    char *out, *err;
    int n = 0;

    for (int i = 0; i < 230; i++) {
        char id[16];
        snprintf(id, sizeof(id), "x%03d", i);
        complete_one(id);
    }
    cr_assert_eq(genq(NULL, &out, &err, "results", "export", NULL), 0);
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save), n++) {
        char want[32];
        snprintf(want, sizeof(want), "{\"id\":\"x%03d\"", n);
        cr_assert(strncmp(l, want, strlen(want)) == 0, "line %d: %.40s", n, l);
    }
    cr_assert_eq(n, 230);
    free(out);
    free(err);
}
