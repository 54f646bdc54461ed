/* Batch mode (issue 14, README "Batch mode") against a real Redis and a
 * private genq-mockllm per test (its batch APIs, --batch-latency-s short):
 * 5,000 jobs in one to a few batches, each created once and every result
 * its own job's; identical requests merged into one entry; the lifecycle
 * of errored (permanent, retryable, exhausted), expired and canceled
 * entries for both providers; "batch": true on an ordinary queue; genq
 * batches ls/show/cancel; the --batch-queue check. The two SIGKILL cases
 * are tests/scripts/batch-sigkill.sh. */
#include "fmacros.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <criterion/criterion.h>

#include "harness.h"

TH_SUITE(batch, .timeout = 120);

/* A private mock with batches ending after 0.3 s, logging to log. */
static pid_t
mock(char *url, char *log, size_t n)
{
    const char *tmp = getenv("GENQ_TEST_TMP");
    static int seq;
    const char *extra[] = {"--batch-latency-s", "0.3", "--log", log, NULL};

    snprintf(log, n, "%s/batch-mock-%d-%d.log", tmp ? tmp : "/tmp",
             (int)getpid(), seq++);
    unlink(log);
    return th_mock_start(url, extra);
}

/* A batching worker (every job of the test's queue batched unless
 * batch_q is 0) for provider ("anthropic" / "openai"). */
static pid_t
worker(const char *url, const char *provider, int batch_q, const char *log)
{
    const char *extra[] = {"--provider",
                           provider,
                           "--model",
                           !strcmp(provider, "openai") ? "gpt-4o-mini"
                                                       : "claude-sonnet-4-5",
                           "--batch-wait",
                           "0.3",
                           "--batch-poll",
                           "0.1",
                           "--batch-poll-max",
                           "0.3",
                           "--visibility-timeout",
                           "10",
                           "--job-backoff-base",
                           "0.05",
                           "--stream",
                           batch_q ? "--batch-queue" : NULL,
                           t.queue,
                           NULL};
    return th_worker_at(&t, url, log, extra);
}

/* The batch_created lines of a mock log: their count; the ids (distinct
 * count) into *distinct. */
static int
created(const char *log, int *distinct)
{
    FILE *f = fopen(log, "r");
    char *line = NULL, ids[64][80];
    size_t cap = 0;
    int n = 0, d = 0;

    cr_assert(f, "no mock log %s", log);
    while (getline(&line, &cap, f) > 0) {
        cJSON *o;
        const char *id;
        if (!strstr(line, "\"event\":\"batch_created\""))
            continue;
        o = cJSON_Parse(line);
        cr_assert(o, "bad log line %s", line);
        id = th_str(o, "id");
        n++;
        int seen = 0;
        for (int i = 0; i < d; i++)
            seen |= !strcmp(ids[i], id);
        if (!seen && d < 64)
            snprintf(ids[d++], sizeof(ids[0]), "%s", id);
        cJSON_Delete(o);
    }
    free(line);
    fclose(f);
    *distinct = d;
    return n;
}

/* Field id of the queue's hash key k as text (caller frees), "" when
 * none: the history (a JSON array) or the last error of a job. */
static char *
hget(enum qkey k, const char *id)
{
    redisReply *r = redisCommand(t.c, "HGET %s %s", t.k.key[k], id);
    char *s;

    cr_assert(r);
    s = strdup(r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
    cr_assert(s);
    return s;
}

/* Enqueue payload as id; the id (caller frees). */
static char *
enq(const char *id, const char *payload)
{
    char *s = strdup(th_enqueue(&t, id, 1, 0, 0, NULL, payload));

    cr_assert(s);
    return s;
}

/* A counter of the queue's stats hash. */
static long
stat(const char *name)
{
    redisReply *r = redisCommand(t.c, "HGET %s %s", t.k.key[QK_STATS], name);
    long v;

    cr_assert(r);
    v = r->type == REDIS_REPLY_STRING ? strtol(r->str, NULL, 10) : -1;
    freeReplyObject(r);
    return v;
}

/* 1 when the file at path holds needle. */
static int
log_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    int found = 0;

    cr_assert(f, "cannot read %s", path);
    while (!found && getline(&line, &cap, f) > 0)
        found = strstr(line, needle) != NULL;
    free(line);
    fclose(f);
    return found;
}

/* The queue's spend today (genq budget --json), polled up to 5 s until
 * it reaches want (spend is written by the tick). */
static double
spend_reaching(double want)
{
    double spent = 0;

    for (int i = 0; i < 100 && spent < want - 1e-9; i++) {
        char *bo;
        cJSON *bj, *q;
        th_sleep_ms(50);
        cr_assert_eq(th_genq(&t, NULL, &bo, NULL, "budget", "--json", NULL), 0);
        bj = cJSON_Parse(bo);
        q = cJSON_GetObjectItem(
            cJSON_GetObjectItem(
                cJSON_GetObjectItem(cJSON_GetObjectItem(bj, "budget"), "day"),
                "queues"),
            t.queue);
        spent = q ? th_num(q, "usd") : 0;
        cJSON_Delete(bj);
        free(bo);
    }
    return spent;
}

Test(batch, five_thousand_jobs_one_to_a_few_batches)
{
    enum { N = 5000 };
    char url[128], log[512], wlog[600];
    char **ids;
    pid_t m, w;
    int made, distinct, ok = 0, batched = 0;
    char *out;
    cJSON *docs[64];
    int nd;

    m = mock(url, log, sizeof(log));
    snprintf(wlog, sizeof(wlog), "%s.worker", log);
    ids = th_enqueue_n(&t, N, "batch article", 24);
    w = worker(url, "anthropic", 1, wlog);
    cr_assert_eq(th_wait_terminal(&t, ids, N, 90), N, "not all done (%s)",
                 wlog);
    for (int i = 0; i < N; i++) {
        char prompt[64], *want;
        cJSON *r = th_result(&t, ids[i]);
        cr_assert(r, "no result for %s", ids[i]);
        snprintf(prompt, sizeof(prompt), "batch article %d", i);
        want = th_expected_text(prompt, 24);
        ok += !strcmp(th_str(r, "text"), want);
        batched += !strncmp(th_str(r, "batch_id"), "msgbatch_", 9);
        free(want);
        cJSON_Delete(r);
    }
    cr_assert_eq(ok, N, "%d of %d results are their own job's text", ok, N);
    cr_assert_eq(batched, N, "%d results name their batch", batched);
    made = created(log, &distinct);
    cr_assert(made >= 1 && made <= 5, "%d batches for %d jobs", made, N);
    cr_assert_eq(made, distinct, "a batch was created twice");
    cr_assert_eq(th_genq(&t, NULL, &out, NULL, "batches", "ls", "--json", NULL),
                 0);
    nd = th_jsonl(out, docs, 64);
    cr_assert_eq(nd, made, "genq batches ls: %d, the mock made %d", nd, made);
    {
        double jobs = 0;
        for (int i = 0; i < nd; i++) {
            cr_assert_str_eq(th_str(docs[i], "state"), "ended");
            jobs += th_num(docs[i], "jobs");
        }
        cr_assert_eq((int)jobs, N);
    }
    th_free_objs(docs, nd);
    free(out);
    cr_assert_eq(stat("batched"), N);
    cr_assert_eq(stat("batch_open_jobs"), 0);
    th_stop(w);
    th_stop(m);
    th_free_ids(ids, N);
}

Test(batch, identical_requests_share_one_entry_priced_at_half)
{
    char url[128], log[512], wlog[600], maddr[64], murl[96];
    char *ids[3], *out, *metrics;
    pid_t m, w;
    cJSON *d[4], *a, *b;
    int nd, port = th_free_port();
    const char *extra[] = {"--batch-queue",
                           t.queue,
                           "--batch-wait",
                           "0.3",
                           "--batch-poll",
                           "0.1",
                           "--price-in-mtok",
                           "3",
                           "--price-out-mtok",
                           "15",
                           "--metrics-addr",
                           maddr,
                           NULL};
    double in, outt, want;

    snprintf(maddr, sizeof(maddr), "127.0.0.1:%d", port);
    snprintf(murl, sizeof(murl), "http://%s/metrics", maddr);
    m = mock(url, log, sizeof(log));
    snprintf(wlog, sizeof(wlog), "%s.worker", log);
    ids[0] = enq("same-1", "{\"id\":\"same-1\",\"prompt\":\"twin\","
                           "\"max_tokens\":12,\"metadata\":{\"n\":1}}");
    ids[1] = enq("same-2", "{\"id\":\"same-2\",\"prompt\":\"twin\","
                           "\"max_tokens\":12,\"metadata\":{\"n\":2}}");
    ids[2] = enq("other", "{\"id\":\"other\",\"prompt\":\"single\","
                          "\"max_tokens\":12}");
    w = th_worker_at(&t, url, wlog, extra);
    cr_assert_eq(th_wait_terminal(&t, ids, 3, 30), 3);
    a = th_result(&t, "same-1");
    b = th_result(&t, "same-2");
    cr_assert(a && b);
    cr_assert_str_eq(th_str(a, "text"), th_str(b, "text"));
    /* each keeps its own metadata */
    cr_assert_eq(th_num(cJSON_GetObjectItem(a, "metadata"), "n"), 1);
    cr_assert_eq(th_num(cJSON_GetObjectItem(b, "metadata"), "n"), 2);
    /* half the standard price (--price-batch-discount defaults to 0.5) */
    in = th_num(cJSON_GetObjectItem(a, "usage"), "input_tokens");
    outt = th_num(cJSON_GetObjectItem(a, "usage"), "output_tokens");
    want = (in * 3 + outt * 15) / 1e6 * 0.5;
    cr_assert(want > 0);
    cr_assert_float_eq(th_num(a, "cost_usd"), want, 1e-9);
    cJSON_Delete(a);
    cJSON_Delete(b);
    cr_assert_eq(th_genq(&t, NULL, &out, NULL, "batches", "ls", "--json", NULL),
                 0);
    nd = th_jsonl(out, d, 4);
    cr_assert_eq(nd, 1, "%s", wlog);
    cr_assert_eq(th_num(d[0], "jobs"), 3);
    cr_assert_eq(th_num(d[0], "entries"), 2, "the twins were not merged");
    cr_assert_eq(th_num(cJSON_GetObjectItem(d[0], "counts"), "succeeded"), 2);
    /* billed once per entry: saved = cost = the two entries' half price */
    cr_assert(th_num(d[0], "saved_usd") > 0);
    cr_assert_float_eq(th_num(d[0], "saved_usd"), th_num(d[0], "cost_usd"),
                       1e-9);
    cr_assert(th_num(d[0], "cost_usd") < 3 * want, "the twin billed twice");
    /* the cost counts towards the queue's spend (genq budget), by the tick */
    {
        double cost = th_num(d[0], "cost_usd"), spent = spend_reaching(cost);
        cr_assert_float_eq(spent, cost, 1e-5, "spend %f, the batch cost %f",
                           spent, cost);
    }
    th_free_objs(d, nd);
    free(out);
    metrics = th_http_get(murl);
    cr_assert(strstr(metrics, "genq_batch_jobs_total{step=\"submitted\"} 3"),
              "%s", metrics);
    cr_assert(strstr(metrics, "genq_batch_jobs_total{step=\"settled\"} 3"),
              "%s", metrics);
    free(metrics);
    th_stop(w);
    th_stop(m);
    for (int i = 0; i < 3; i++)
        free(ids[i]);
}

/* Errored (permanent, retryable, exhausted), expired and canceled entries
 * through the lifecycle, for provider. */
static void
lifecycle(const char *provider)
{
    static const struct {
        const char *id, *prompt;
        int max_attempts;
        const char *state;
        int attempts;
        const char *cls;     /* dead: the error class */
        const char *history; /* must be in the history */
    } j[] = {
        {"plain", "plain article", 3, "succeeded", 1, NULL, NULL},
        {"perm", "[mock:batch=errored] refused", 3, "dead", 1, "permanent",
         NULL},
        {"retry", "[mock:batch=errored_retry*1] flaky", 3, "succeeded", 2, NULL,
         "\"retry\""},
        {"exhaust", "[mock:batch=errored_retry] broken", 2, "dead", 2,
         "exhausted", "\"retry\""},
        {"expire", "[mock:batch=expired*1] slow", 3, "succeeded", 1, NULL,
         "batch_expired"},
        {"cancel", "[mock:batch=canceled*1] stopped", 3, "succeeded", 1, NULL,
         "batch_canceled"},
    };
    enum { N = sizeof(j) / sizeof(j[0]) };
    char url[128], log[512], wlog[600], payload[256], st[64];
    char *ids[N];
    pid_t m, w;

    m = mock(url, log, sizeof(log));
    snprintf(wlog, sizeof(wlog), "%s.worker", log);
    for (int i = 0; i < N; i++) {
        snprintf(payload, sizeof(payload),
                 "{\"id\":\"%s\",\"prompt\":\"%s\",\"max_tokens\":10,"
                 "\"max_attempts\":%d}",
                 j[i].id, j[i].prompt, j[i].max_attempts);
        ids[i] = strdup(
            th_enqueue(&t, j[i].id, 1, 0, j[i].max_attempts, NULL, payload));
    }
    w = worker(url, provider, 1, wlog);
    cr_assert_eq(th_wait_terminal(&t, ids, N, 60), N, "%s", wlog);
    for (int i = 0; i < N; i++) {
        int att;
        char *h = hget(QK_HISTORY, j[i].id), *e = hget(QK_ERRORS, j[i].id);
        th_state(&t, j[i].id, st, &att);
        cr_assert_str_eq(st, j[i].state, "%s %s: %s (%s)", provider, j[i].id,
                         st, e);
        cr_assert_eq(att, j[i].attempts, "%s %s: %d attempts, want %d (%s)",
                     provider, j[i].id, att, j[i].attempts, h);
        if (j[i].cls) {
            char want[64];
            snprintf(want, sizeof(want), "\"class\":\"%s\"", j[i].cls);
            cr_assert(strstr(e, want), "%s %s: %s", provider, j[i].id, e);
        }
        if (j[i].history)
            cr_assert(strstr(h, j[i].history), "%s %s: %s", provider, j[i].id,
                      h);
        if (!strcmp(j[i].state, "succeeded")) {
            cJSON *r = th_result(&t, j[i].id);
            char *want = th_expected_text(j[i].prompt, 10);
            cr_assert(r);
            cr_assert_str_eq(th_str(r, "text"), want, "%s", j[i].id);
            cr_assert(*th_str(r, "batch_id"));
            free(want);
            cJSON_Delete(r);
        }
        free(h);
        free(e);
    }
    th_stop(w);
    th_stop(m);
    for (int i = 0; i < N; i++)
        free(ids[i]);
}

Test(batch, lifecycle_anthropic)
{
    lifecycle("anthropic");
}

Test(batch, lifecycle_openai)
{
    lifecycle("openai");
}

Test(batch, job_field_opts_in_on_an_ordinary_queue)
{
    char url[128], log[512], wlog[600];
    char *ids[2];
    pid_t m, w;
    cJSON *a, *b;
    int d;

    m = mock(url, log, sizeof(log));
    snprintf(wlog, sizeof(wlog), "%s.worker", log);
    ids[0] = enq("opt-in", "{\"id\":\"opt-in\",\"prompt\":\"cheap\","
                           "\"max_tokens\":8,\"batch\":true}");
    ids[1] = enq("plain", "{\"id\":\"plain\",\"prompt\":\"urgent\","
                          "\"max_tokens\":8,\"batch\":false}");
    w = worker(url, "openai", 0, wlog);
    cr_assert_eq(th_wait_terminal(&t, ids, 2, 30), 2, "%s", wlog);
    a = th_result(&t, "opt-in");
    b = th_result(&t, "plain");
    cr_assert(a && b);
    cr_assert(!strncmp(th_str(a, "batch_id"), "batch_", 6));
    cr_assert_null(cJSON_GetObjectItem(b, "batch_id"), "ran alone");
    cJSON_Delete(a);
    cJSON_Delete(b);
    cr_assert_eq(created(log, &d), 1);
    th_stop(w);
    th_stop(m);
    free(ids[0]);
    free(ids[1]);
}

Test(batch, openai_one_model_per_batch)
{
    char url[128], log[512], wlog[600];
    char *ids[3];
    pid_t m, w;
    int d;

    m = mock(url, log, sizeof(log));
    snprintf(wlog, sizeof(wlog), "%s.worker", log);
    ids[0] = enq("m-a1", "{\"prompt\":\"a1\",\"model\":\"gpt-a\"}");
    ids[1] = enq("m-b1", "{\"prompt\":\"b1\",\"model\":\"gpt-b\"}");
    ids[2] = enq("m-a2", "{\"prompt\":\"a2\",\"model\":\"gpt-a\"}");
    w = worker(url, "openai", 1, wlog);
    cr_assert_eq(th_wait_terminal(&t, ids, 3, 30), 3, "%s", wlog);
    cr_assert_eq(th_count_state(&t, (const char *const *)ids, 3, "succeeded"),
                 3, "%s", wlog);
    /* a b a: a model change seals the set */
    cr_assert_eq(created(log, &d), 3);
    th_stop(w);
    th_stop(m);
    for (int i = 0; i < 3; i++)
        free(ids[i]);
}

Test(batch, cancel_requeues_the_unfinished)
{
    const char *tmp = getenv("GENQ_TEST_TMP");
    char url[128], log[512], wlog[600], tok[32] = "";
    const char *extra[] = {"--batch-latency-s", "600", "--log", log, NULL};
    char *out, *err, *ids[3];
    pid_t m, w;
    cJSON *d[4];
    int nd = 0, att;

    snprintf(log, sizeof(log), "%s/batch-cancel-%d.log", tmp ? tmp : "/tmp",
             (int)getpid());
    unlink(log);
    m = th_mock_start(url, extra);
    snprintf(wlog, sizeof(wlog), "%s.worker", log);
    ids[0] = enq("c1", "{\"prompt\":\"a\"}");
    ids[1] = enq("c2", "{\"prompt\":\"b\"}");
    ids[2] = enq("c3", "{\"prompt\":\"c\"}");
    w = worker(url, "anthropic", 1, wlog);
    for (int i = 0; i < 200 && !tok[0]; i++) {
        th_sleep_ms(50);
        cr_assert_eq(
            th_genq(&t, NULL, &out, NULL, "batches", "ls", "--json", NULL), 0);
        nd = th_jsonl(out, d, 4);
        if (nd == 1 && !strcmp(th_str(d[0], "state"), "open"))
            snprintf(tok, sizeof(tok), "%s", th_str(d[0], "token"));
        th_free_objs(d, nd);
        free(out);
    }
    cr_assert(tok[0], "the batch never opened (%s)", wlog);
    cr_assert_eq(
        th_genq(&t, NULL, &out, &err, "batches", "cancel", "nope", NULL), 1);
    cr_assert(strstr(err, "no batch 'nope'"), "%s", err);
    free(out);
    free(err);
    cr_assert_eq(
        th_genq(&t, NULL, &out, NULL, "batches", "cancel", tok, "--json", NULL),
        0);
    cr_assert(strstr(out, "\"cancel_requested\":true"), "%s", out);
    free(out);
    /* the poller sends the cancel; the entries come back canceled; the jobs
     * return to the queue (attempt not counted) and join a new batch */
    for (int i = 0; i < 200; i++) {
        char *h = hget(QK_HISTORY, "c3");
        int back = strstr(h, "batch_canceled") != NULL;
        free(h);
        if (back)
            break;
        th_sleep_ms(50);
    }
    cr_assert_eq(
        th_genq(&t, NULL, &out, NULL, "batches", "show", tok, "--json", NULL),
        0);
    nd = th_jsonl(out, d, 1);
    cr_assert_eq(nd, 1);
    cr_assert_str_eq(th_str(d[0], "state"), "ended", "%s", wlog);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(d[0], "cancel_requested")));
    cr_assert_eq(th_num(cJSON_GetObjectItem(d[0], "counts"), "canceled"), 3);
    th_free_objs(d, nd);
    free(out);
    for (int i = 0; i < 3; i++) {
        char st[64];
        th_state(&t, ids[i], st, &att);
        /* queued again (0), or claimed into the next batch (1) */
        cr_assert(att <= 1, "%s (%s): the canceled batch counted an attempt",
                  ids[i], st);
        free(ids[i]);
    }
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "batches", "cancel", tok, NULL),
                 1, "an ended batch cannot be canceled");
    cr_assert(strstr(err, "nothing to cancel"), "%s", err);
    free(out);
    free(err);
    th_stop(w);
    th_stop(m);
}

Test(batch, drain_hands_collected_jobs_back)
{
    char url[128], log[512], wlog[600], st[64];
    const char *extra[] = {"--batch-queue", t.queue, "--batch-wait", "60",
                           NULL};
    char **ids;
    pid_t m, w;
    int att, n = 0;

    m = mock(url, log, sizeof(log));
    snprintf(wlog, sizeof(wlog), "%s.worker", log);
    ids = th_enqueue_n(&t, 20, "drained", 8);
    w = th_worker_at(&t, url, wlog, extra);
    for (int i = 0; i < 200 && n < 20; i++) {
        th_sleep_ms(25);
        n = th_count_state(&t, (const char *const *)ids, 20, "active");
    }
    cr_assert_eq(n, 20, "not collected (%s)", wlog);
    kill(w, SIGTERM);
    cr_assert_eq(th_wait(w, 20), 0, "the drain did not exit 0 (%s)", wlog);
    for (int i = 0; i < 20; i++) {
        th_state(&t, ids[i], st, &att);
        cr_assert_str_eq(st, "queued", "%s", ids[i]);
        cr_assert_eq(att, 0, "%s: the hand-back counted an attempt", ids[i]);
    }
    cr_assert_eq(created(log, &n), 0, "nothing was submitted");
    th_stop(m);
    th_free_ids(ids, 20);
}

Test(batch, batch_queue_must_be_served)
{
    const char *argv[16];
    char *out, *err;
    int n = 0;

    argv[n++] = th_bin("genq-worker");
    argv[n++] = "--queue";
    argv[n++] = "a";
    argv[n++] = "--batch-queue";
    argv[n++] = "b";
    argv[n++] = "--print-config";
    argv[n] = NULL;
    cr_assert_eq(th_run(argv, NULL, NULL, 0, &out, &err), 2);
    cr_assert(strstr(err, "batch-queue: 'b' is not one of the worker's queues"),
              "%s", err);
    free(out);
    free(err);
    n = 0;
    argv[n++] = th_bin("genq-worker");
    argv[n++] = "--queue";
    argv[n++] = "a,b";
    argv[n++] = "--batch-queue";
    argv[n++] = "b";
    argv[n++] = "--batch-size";
    argv[n++] = "0";
    argv[n] = NULL;
    cr_assert_eq(th_run(argv, NULL, NULL, 0, &out, &err), 2);
    cr_assert(strstr(err, "batch-size"), "%s", err);
    free(out);
    free(err);
    /* the option table: flag, environment (a list), where each came from */
    {
        const char *env[] = {"GENQ_BATCH_QUEUE=a,b", NULL};
        n = 0;
        argv[n++] = th_bin("genq-worker");
        argv[n++] = "--queue";
        argv[n++] = "a,b";
        argv[n++] = "--batch-wait";
        argv[n++] = "2.5";
        argv[n++] = "--print-config";
        argv[n] = NULL;
        cr_assert_eq(th_run(argv, env, NULL, 0, &out, &err), 0, "%s", err);
        cr_assert(
            strstr(out, "batch-queue        = a,b ; env GENQ_BATCH_QUEUE"),
            "%s", out);
        cr_assert(strstr(out, "batch-wait         = 2.5 ; flag --batch-wait"),
                  "%s", out);
        cr_assert(strstr(out, "batch-size         = 10000 ; default"), "%s",
                  out);
        free(out);
        free(err);
    }
}

/* The results download breaks off halfway (the mock drops it after half
 * the lines): the batch is settled again from the start on the next turn;
 * the members stored the first time are not spent a second time, so the
 * queue's spend is the sum of the results' costs. */
Test(batch, results_cut_off_halfway_is_spent_once)
{
    enum { N = 20 };
    const char *tmp = getenv("GENQ_TEST_TMP");
    char url[128], log[512], wlog[600];
    const char *margs[] = {"--batch-latency-s",
                           "0.3",
                           "--batch-results-cut",
                           "1",
                           "--log",
                           log,
                           NULL};
    const char *extra[] = {"--batch-queue",
                           t.queue,
                           "--batch-wait",
                           "0.3",
                           "--batch-poll",
                           "0.1",
                           "--batch-poll-max",
                           "0.3",
                           "--price-in-mtok",
                           "3",
                           "--price-out-mtok",
                           "15",
                           NULL};
    char **ids;
    double sum = 0, spent;
    pid_t m, w;

    snprintf(log, sizeof(log), "%s/batch-cut-%d.log", tmp ? tmp : "/tmp",
             (int)getpid());
    unlink(log);
    m = th_mock_start(url, margs);
    snprintf(wlog, sizeof(wlog), "%s.worker", log);
    ids = th_enqueue_n(&t, N, "cut article", 16);
    w = th_worker_at(&t, url, wlog, extra);
    cr_assert_eq(th_wait_terminal(&t, ids, N, 60), N, "not all done (%s)",
                 wlog);
    for (int i = 0; i < N; i++) {
        cJSON *r = th_result(&t, ids[i]);
        cr_assert(r, "no result for %s", ids[i]);
        cr_assert_str_eq(th_str(r, "state"), "succeeded");
        sum += th_num(r, "cost_usd");
        cJSON_Delete(r);
    }
    cr_assert(sum > 0);
    /* it was cut: the worker retried the download */
    cr_assert(log_contains(wlog, "batch results download failed"),
              "the download was not cut (%s)", wlog);
    spent = spend_reaching(sum);
    th_sleep_ms(300); /* a second count would land by the next tick */
    spent = spend_reaching(sum);
    cr_assert_float_eq(spent, sum, 1e-9, "spend %.9f for results costing %.9f",
                       spent, sum);
    cr_assert_eq(stat("succeeded"), N);
    th_stop(w);
    th_stop(m);
    th_free_ids(ids, N);
}
