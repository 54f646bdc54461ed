/* Budgets, spend anomalies and coalesced cache misses (issue 13 items 4-6)
 * against a real Redis and genq-mockllm: a day cap stops spend within the
 * reservations in flight, keeps jobs queued with attempts untouched, raises
 * one P0, and a raised cap (`genq budget set`, or SIGHUP re-reading the
 * config file) resumes; the month cap through budget.lua on fixed keys;
 * P1 on an outsized job and on a spend-rate spike; 1,000 jobs over 100
 * prompts from four loops at once cost at most 100 API calls; a call
 * reserved before midnight UTC and settled after it settles its
 * reservation's day; an unreadable budget names its key and Redis's
 * reason. Budget keys are global, so these tests run in databases of their
 * own (5..11). */
#include "fmacros.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#include "buf.h"
#include "harness.h"
#include "redisurl.h"
#include "scripts.h"

TH_SUITE(budget, .timeout = 180);

/* Point t at database db of the test Redis (emptied); url gets its URL. */
static void
use_db(int db, char *url, size_t n)
{
    struct redis_url u;
    char err[256], q[64];
    const char *base = getenv("GENQ_TEST_REDIS_URL");
    redisReply *r;

    cr_assert(base, "GENQ_TEST_REDIS_URL not set: run through make test");
    cr_assert(redisurl_parse(base, &u, err, sizeof(err)) == 0, "%s", err);
    snprintf(url, n, "redis://%s:%d/%d", u.host, u.port, db);
    snprintf(q, sizeof(q), "%s", t.queue);
    th_fini(&t);
    th_connect(&t, url, q);
    r = redisCommand(t.c, "FLUSHDB");
    cr_assert(r && r->type != REDIS_REPLY_ERROR);
    freeReplyObject(r);
}

/* `genq budget --json` on url: the "budget" object (caller frees doc). */
static cJSON *
budget_doc(const char *url, cJSON **doc)
{
    const char *argv[] = {th_bin("genq"), "budget", "--json",
                          "--redis",      url,      NULL};
    char *out = NULL;
    int rc = th_run(argv, NULL, NULL, 0, &out, NULL);

    cr_assert_eq(rc, 0, "genq budget failed");
    *doc = cJSON_Parse(out);
    free(out);
    cr_assert(*doc, "genq budget --json is not JSON");
    return cJSON_GetObjectItem(*doc, "budget");
}

/* Day tokens and reservations in flight from `genq budget --json`. */
static void
day_tokens(const char *url, double *tok, double *reserved)
{
    cJSON *doc, *b = budget_doc(url, &doc);
    cJSON *d = cJSON_GetObjectItem(b, "day");

    *tok = th_num(d, "tokens");
    if (reserved)
        *reserved = th_num(d, "reserved_tokens");
    cJSON_Delete(doc);
}

/* Alerts in KEY_ALERTS whose key is `key` and whose text holds `needle`
 * (may be NULL). */
static int
count_alerts(const char *key, const char *needle)
{
    redisReply *r = redisCommand(t.c, "XRANGE %s - +", KEY_ALERTS);
    int n = 0;

    cr_assert(r && r->type == REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *f = r->element[i]->element[1];
        const char *k = NULL, *text = NULL;
        for (size_t j = 0; j + 1 < f->elements; j += 2) {
            if (!strcmp(f->element[j]->str, "key"))
                k = f->element[j + 1]->str;
            else if (!strcmp(f->element[j]->str, "text"))
                text = f->element[j + 1]->str;
        }
        if (k && !strcmp(k, key) && (!needle || (text && strstr(text, needle))))
            n++;
    }
    freeReplyObject(r);
    return n;
}

/* Wait up to s seconds for an alert; returns how many there are. */
static int
wait_alert(const char *key, const char *needle, double s)
{
    int n = 0;

    for (int i = 0; i < (int)(s * 10) && (n = count_alerts(key, needle)) == 0;
         i++)
        th_sleep_ms(100);
    return n;
}

/* Enqueue n jobs with ids PREFIX-00000... and the prompts prompt() writes
 * for each (its i, into out); returns the ids (th_free_ids()). */
static char **
enqueue_jobs(int n, const char *prefix, int max_tokens,
             void (*prompt)(int i, char *out, size_t len))
{
    char **ids = calloc((size_t)n, sizeof(*ids));

    cr_assert(ids);
    for (int i = 0; i < n; i++) {
        char id[32], body[200], payload[320];
        snprintf(id, sizeof(id), "%s-%05d", prefix, i);
        prompt(i, body, sizeof(body));
        snprintf(payload, sizeof(payload),
                 "{\"id\":\"%s\",%s,\"max_tokens\":%d}", id, body, max_tokens);
        th_enqueue(&t, id, 1, 0, 0, NULL, payload);
        ids[i] = strdup(id);
        cr_assert(ids[i]);
    }
    return ids;
}

/* Prompts whose answer is 20 tokens (no continuation at max_tokens 50). */
static void
small_prompt(int i, char *out, size_t len)
{
    snprintf(out, len, "\"prompt\":\"Budget %d [mock:tokens=20]\"", i);
}

/* The estimate a worker reserves for one of enqueue_small's jobs: a
 * quarter token per byte of the job, plus max_tokens (budget.c). */
#define SMALL_EST (320 / 4 + 1 + 50)

/* Wait until the fleet stopped spending at the cap: the alert came and
 * the day's tokens stayed put for 2 s. Returns them. */
static double
wait_stopped(const char *url)
{
    double a = -1, b = -2, res;

    cr_assert_eq(wait_alert("budget", NULL, 30), 1, "one P0 budget alert");
    for (int i = 0; i < 30 && a != b; i++) {
        day_tokens(url, &a, NULL);
        th_sleep_ms(2000);
        day_tokens(url, &b, &res);
    }
    cr_assert_eq(a, b, "spend keeps growing at the cap");
    cr_assert_eq(res, 0, "reservations are settled once calls end");
    return b;
}

/* Every job not done is queued, with no attempt counted. */
static int
assert_rest_queued(char **ids, int n)
{
    int queued = 0;

    for (int i = 0; i < n; i++) {
        char st[64];
        int att = -1;
        th_state(&t, ids[i], st, &att);
        if (!strcmp(st, "succeeded"))
            continue;
        cr_assert_str_eq(st, "queued", "job %s is %s", ids[i], st);
        cr_assert_eq(att, 0, "job %s: attempts %d, want 0", ids[i], att);
        queued++;
    }
    return queued;
}

Test(budget, day_token_cap_stops_spend_and_a_raised_cap_resumes)
{
    const int n = 40, conc = 4, cap = 600;
    char url[320], capv[16], concv[8];
    const char *args[] = {"--budget-tokens-day",
                          capv,
                          "--concurrency",
                          concv,
                          "--price-in-mtok",
                          "3",
                          "--price-out-mtok",
                          "15",
                          NULL};
    char **ids;
    double spent;
    pid_t w;
    int rc;

    use_db(8, url, sizeof(url));
    snprintf(capv, sizeof(capv), "%d", cap);
    snprintf(concv, sizeof(concv), "%d", conc);
    ids = enqueue_jobs(n, "b", 50, small_prompt);
    w = th_worker_on(&t, url, getenv("GENQ_TEST_MOCK_URL"), NULL, args);
    spent = wait_stopped(url);
    cr_assert_geq(spent, cap, "spend reached the cap (%.0f)", spent);
    cr_assert_leq(spent, cap + conc * SMALL_EST,
                  "spend %.0f over cap %d plus the reservations in flight",
                  spent, cap);
    cr_assert_gt(assert_rest_queued(ids, n), 0, "jobs wait at the cap");

    /* raise it: the worker resumes without a restart, every job succeeds */
    {
        const char *argv[] = {th_bin("genq"), "budget",  "set", "--tokens-day",
                              "1000000",      "--redis", url,   NULL};
        rc = th_run(argv, NULL, NULL, 0, NULL, NULL);
        cr_assert_eq(rc, 0);
    }
    cr_assert_eq(th_wait_terminal(&t, ids, n, 60), n);
    cr_assert_eq(th_count_state(&t, (const char *const *)ids, n, "succeeded"),
                 n);
    cr_assert_eq(count_alerts("budget", NULL), 1, "exactly one P0");
    th_stop(w);
    th_free_ids(ids, n);
}

Test(budget, sighup_reloads_a_queue_cap_from_the_config_file)
{
    const int n = 30;
    char url[320], path[256], body[512];
    const char *args[] = {"--config", path, "--concurrency", "2", NULL};
    char **ids;
    FILE *f;
    pid_t w;

    use_db(9, url, sizeof(url));
    snprintf(body, sizeof(body),
             "[worker]\nprice-in-mtok = 1\n\n[queue.%s]\n"
             "budget-tokens-day = 300\n\n[price.claude-sonnet-4-5]\n"
             "in-mtok = 3\nout-mtok = 15\n",
             t.queue);
    th_write_tmp(path, sizeof(path), "budget.ini", body);
    ids = enqueue_jobs(n, "h", 50, small_prompt);
    w = th_worker_on(&t, url, getenv("GENQ_TEST_MOCK_URL"), NULL, args);
    wait_stopped(url);
    cr_assert_gt(assert_rest_queued(ids, n), 0, "jobs wait at the cap");
    {
        cJSON *doc, *b = budget_doc(url, &doc);
        cJSON *qc = cJSON_GetObjectItem(
            cJSON_GetObjectItem(cJSON_GetObjectItem(b, "caps"), "queues"),
            t.queue);
        cr_assert_eq(th_num(qc, "tokens-day"), 300, "the queue's cap");
        cr_assert(cJSON_IsNull(cJSON_GetObjectItem(
                      cJSON_GetObjectItem(b, "caps"), "tokens-day")),
                  "no fleet-wide cap");
        cJSON_Delete(doc);
    }
    /* a bad file on SIGHUP keeps the old values (still stopped) */
    f = fopen(path, "w");
    cr_assert(f);
    fprintf(f, "[queue.%s]\nbudget-tokens-day = lots\n", t.queue);
    fclose(f);
    kill(w, SIGHUP);
    th_sleep_ms(1500);
    cr_assert_gt(assert_rest_queued(ids, n), 0);
    /* the cap raised in the file: SIGHUP resumes */
    snprintf(body, sizeof(body), "[queue.%s]\nbudget-tokens-day = 1000000\n",
             t.queue);
    f = fopen(path, "w");
    cr_assert(f);
    fputs(body, f);
    fclose(f);
    kill(w, SIGHUP);
    cr_assert_eq(th_wait_terminal(&t, ids, n, 60), n);
    cr_assert_eq(th_count_state(&t, (const char *const *)ids, n, "succeeded"),
                 n);
    th_stop(w);
    th_free_ids(ids, n);
    unlink(path);
}

/* budget.lua on the keys of a fixed month: the same test as by day. */
static redisReply *
budget_op(const char *month, const char *op, const char *tok, const char *usd,
          const char *rt)
{
    const struct script *s = script_get(SCRIPT_BUDGET);
    redisReply *r = redisCommand(
        t.c, "EVAL %s 3 %s %s %s - %s %s %s %s 86400 86400 %s 0", s->text,
        KEY_BUDGET_CAPS, KEY_BUDGET_DAY_PREFIX "2030-01-31", month, op, t.queue,
        tok, usd, rt);

    cr_assert(r && r->type == REDIS_REPLY_ARRAY, "%s",
              r && r->str ? r->str : "no reply");
    return r;
}

/* budget.lua op on month key m: admitted (1/0) and, when refused, the
 * month cap and whether it alerted as expected. */
static void
expect_op(const char *m, const char *op, const char *tok, const char *rt,
          int admitted, int alert, const char *why)
{
    redisReply *r = budget_op(m, op, tok, "0", rt);

    cr_assert_eq(r->element[0]->integer, admitted, "%s", why);
    if (!admitted) {
        cr_assert_str_eq(r->element[1]->str, "tok_month", "%s", why);
        cr_assert_eq(r->element[4]->integer, alert, "%s", why);
    }
    freeReplyObject(r);
}

/* Field f of hash key as a number (0 when absent). */
static double
hget_num(const char *key, const char *f)
{
    redisReply *r = redisCommand(t.c, "HGET %s %s", key, f);
    double v;

    cr_assert(r);
    v = r->type == REDIS_REPLY_STRING ? strtod(r->str, NULL) : 0;
    freeReplyObject(r);
    return v;
}

Test(budget, month_cap_on_a_fixed_clock)
{
    const char *m = KEY_BUDGET_MONTH_PREFIX "2030-01";
    char url[320], key[KEY_BUDGET_LEN];
    long ttl;

    use_db(10, url, sizeof(url));
    cr_assert_eq(scripts_init(), 0);
    /* 2030-01-31T23:59:59Z: the month's key, alive past the month's end */
    key_budget_month(key, sizeof(key), 1896134399LL, &ttl);
    cr_assert_str_eq(key, m);
    cr_assert_geq(ttl, 1 + 86400, "ttl %ld", ttl);
    key_budget_day(key, sizeof(key), 1896134399LL, &ttl);
    cr_assert_str_eq(key, KEY_BUDGET_DAY_PREFIX "2030-01-31");
    cr_assert_geq(ttl, 1 + 86400);
    freeReplyObject(
        redisCommand(t.c, "HSET %s tok_month 100", KEY_BUDGET_CAPS));
    expect_op(m, "reserve", "60", "0", 1, 0, "room: admitted");
    expect_op(m, "reserve", "60", "0", 1, 0, "still under the cap");
    expect_op(m, "reserve", "60", "0", 0, 1, "at the cap: refused, alerted");
    expect_op(m, "reserve", "60", "0", 0, 0, "one alert per cap and period");
    /* a call that used nothing gives its reservation back: room again */
    expect_op(m, "settle", "-60", "60", 1, 0, "settled");
    expect_op(m, "check", "0", "0", 1, 0, "a refund makes room");
    cr_assert_eq(hget_num(m, "tok"), 60);
    {
        char f[96];
        snprintf(f, sizeof(f), "q:%s:tok", t.queue);
        cr_assert_eq(hget_num(m, f), 60);
    }
    /* a raised cap alerts again when reached again */
    freeReplyObject(
        redisCommand(t.c, "HSET %s tok_month 200", KEY_BUDGET_CAPS));
    expect_op(m, "reserve", "200", "0", 1, 0, "under the raised cap");
    expect_op(m, "reserve", "1", "0", 0, 1, "the new cap's own alert");
}

/* 25 answers of 10 tokens, then one of 400. */
static void
outsized_prompt(int i, char *out, size_t len)
{
    snprintf(out, len, "\"prompt\":\"Outsized %d [mock:tokens=%d]\"", i,
             i < 25 ? 10 : 400);
}

Test(budget, an_outsized_job_raises_p1)
{
    char needle[128];
    char **ids = enqueue_jobs(26, "o", 2000, outsized_prompt);
    const char *args[] = {"--concurrency", "1", NULL};
    pid_t w = th_worker(&t, NULL, args);

    cr_assert_eq(th_wait_terminal(&t, ids, 26, 60), 26);
    th_stop(w);
    snprintf(needle, sizeof(needle), "anomaly-job:%s", t.queue);
    cr_assert_eq(wait_alert(needle, "o-00025", 5), 1,
                 "P1 for the job 40x its queue's median");
    cr_assert_eq(count_alerts(needle, NULL), 1, "and for no other job");
    th_free_ids(ids, 26);
}

static char spike_model[64];

static void
spike_prompt(int i, char *out, size_t len)
{
    snprintf(out, len,
             "\"prompt\":\"Spike %d [mock:tokens=100]\",\"model\":\"%s\"", i,
             spike_model);
}

Test(budget, a_spend_rate_spike_raises_p1)
{
    char bk[800], cls[64], id[640], other[700];
    char **ids;
    const char *args[] = {"--concurrency", "4", "--model-class", cls, NULL};
    redisReply *r;
    long long now_min;
    pid_t w;

    /* a limit key of our own (the limiter's: provider, API base, a model
     * class only this test uses), not the model the jobs name; an hour of
     * history at 10 tokens a minute */
    snprintf(spike_model, sizeof(spike_model), "spike-model-%d", (int)getpid());
    snprintf(cls, sizeof(cls), "spike-class-%d", (int)getpid());
    key_limit_id(id, sizeof(id), "anthropic", getenv("GENQ_TEST_MOCK_URL"),
                 cls);
    key_anomaly(bk, sizeof(bk), KEY_ANOMALY_RATE_PREFIX, id);
    key_anomaly(other, sizeof(other), KEY_ANOMALY_RATE_PREFIX, spike_model);
    r = redisCommand(t.c, "TIME");
    cr_assert(r && r->type == REDIS_REPLY_ARRAY);
    now_min = strtoll(r->element[0]->str, NULL, 10) / 60;
    freeReplyObject(r);
    for (long long m = now_min - 70; m <= now_min - 11; m++)
        freeReplyObject(redisCommand(t.c, "HSET %s %lld 10", bk, m));
    ids = enqueue_jobs(20, "s", 500, spike_prompt);
    w = th_worker(&t, NULL, args);
    cr_assert_eq(th_wait_terminal(&t, ids, 20, 60), 20);
    cr_assert_eq(wait_alert("anomaly-rate", id, 15), 1,
                 "P1 on the limit key %s: 2,000+ tokens in 10 minutes "
                 "against ~100 per 10",
                 id);
    th_stop(w);
    r = redisCommand(t.c, "EXISTS %s", other);
    cr_assert(r && r->type == REDIS_REPLY_INTEGER);
    cr_assert_eq(r->integer, 0, "no buckets under the job's model id");
    freeReplyObject(r);
    freeReplyObject(redisCommand(t.c, "DEL %s", bk));
    th_free_ids(ids, 20);
}

static size_t
collect(char *p, size_t sz, size_t n, void *ud)
{
    struct buf *b = ud;

    return buf_append(b, p, sz * n) < 0 ? 0 : sz * n;
}

/* API calls the mock at url answered (/mock/stats). */
static long
mock_calls(const char *url)
{
    char u[256];
    struct buf b;
    CURL *c = curl_easy_init();
    cJSON *o;
    long n;

    cr_assert(c);
    buf_init(&b, 1u << 20);
    snprintf(u, sizeof(u), "%s/mock/stats", url);
    curl_easy_setopt(c, CURLOPT_URL, u);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    cr_assert_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    o = cJSON_ParseWithLength(b.data, b.len);
    cr_assert(o, "stats are not JSON");
    n = (long)th_num(cJSON_GetObjectItem(o, "requests_by_endpoint"),
                     "/v1/messages");
    cJSON_Delete(o);
    buf_free(&b);
    return n;
}

/* 100 distinct prompts, this run's own (nothing in the cache answers
 * them), each 10 times. */
static void
coalesce_prompt(int i, char *out, size_t len)
{
    snprintf(out, len, "\"prompt\":\"Coalesce %d %s [mock:tokens=20]\"",
             i % 100, t.queue);
}

Test(budget, coalesced_cache_misses_call_the_api_once_per_prompt)
{
    const int n = 1000, distinct = 100;
    const char *mock_args[] = {"--latency-ms", "300", NULL};
    const char *args[] = {"--cache-ttl",   "600", "--processes", "2",
                          "--concurrency", "50",  NULL};
    char url[128];
    char **ids = enqueue_jobs(n, "c", 50, coalesce_prompt);
    pid_t mock = th_mock_start(url, mock_args), w1, w2;
    long calls;

    /* two worker invocations of two processes each, started together */
    w1 = th_worker_at(&t, url, NULL, args);
    w2 = th_worker_at(&t, url, NULL, args);
    cr_assert_eq(th_wait_terminal(&t, ids, n, 120), n);
    cr_assert_eq(th_count_state(&t, (const char *const *)ids, n, "succeeded"),
                 n);
    calls = mock_calls(url);
    cr_log_info("coalescing: %d jobs over %d prompts, %ld API calls", n,
                distinct, calls);
    cr_assert_leq(calls, distinct, "%ld API calls for %d prompts", calls,
                  distinct);
    cr_assert_geq(calls, distinct, "each prompt was asked once");
    th_stop(w1);
    th_stop(w2);
    th_stop(mock);
    th_free_ids(ids, n);
}

/* The same prompt twice, this run's own. */
static void
slow_prompt(int i, char *out, size_t len)
{
    (void)i;
    snprintf(out, len, "\"prompt\":\"Slow answer %s [mock:tokens=20]\"",
             t.queue);
}

Test(budget, a_call_longer_than_the_visibility_timeout_is_made_once)
{
    /* the answer takes 4 s, the in-flight marker's lease is 1 s: renewed
     * with the job's lease, the second job waits for the first's answer
     * instead of taking the expired marker and calling again */
    const char *mock_args[] = {"--latency-ms", "4000", NULL};
    const char *args[] = {
        "--cache-ttl", "600", "--concurrency", "2", "--visibility-timeout",
        "1",           NULL};
    char url[128];
    char **ids = enqueue_jobs(2, "slow", 50, slow_prompt);
    pid_t mock = th_mock_start(url, mock_args), w;

    w = th_worker_at(&t, url, NULL, args);
    cr_assert_eq(th_wait_terminal(&t, ids, 2, 30), 2);
    cr_assert_eq(th_count_state(&t, (const char *const *)ids, 2, "succeeded"),
                 2);
    cr_assert_eq(mock_calls(url), 1, "one API call for the two jobs");
    th_stop(w);
    th_stop(mock);
    th_free_ids(ids, 2);
}

Test(budget, cli_sets_caps_and_rejects_bad_values)
{
    char url[320], *out = NULL, *err = NULL;
    const char *bad[] = {th_bin("genq"), "budget",  "set", "--tokens-day",
                         "1.5",          "--redis", url,   NULL};
    const char *none[] = {th_bin("genq"), "budget", "set",
                          "--redis",      url,      NULL};
    const char *set[] = {
        th_bin("genq"), "budget", "set",     "--queue", t.queue,
        "--usd-day",    "2.5",    "--redis", url,       NULL};
    const char *unset[] = {
        th_bin("genq"), "budget", "set",     "--queue", t.queue,
        "--usd-day",    "0",      "--redis", url,       NULL};
    cJSON *doc, *b;

    use_db(11, url, sizeof(url));
    cr_assert_eq(th_run(bad, NULL, NULL, 0, NULL, &err), 2);
    cr_assert(strstr(err, "--tokens-day: expected a whole number of tokens "
                          "(0 = no cap), got '1.5'"),
              "%s", err);
    free(err);
    cr_assert_eq(th_run(none, NULL, NULL, 0, NULL, &err), 2);
    cr_assert(strstr(err, "nothing to set"), "%s", err);
    free(err);
    cr_assert_eq(th_rint(&t, "EXISTS %s", KEY_BUDGET_CAPS), 0,
                 "nothing written by a refused command");
    cr_assert_eq(th_run(set, NULL, NULL, 0, &out, NULL), 0);
    free(out);
    b = budget_doc(url, &doc);
    cr_assert_eq(th_num(cJSON_GetObjectItem(
                            cJSON_GetObjectItem(cJSON_GetObjectItem(b, "caps"),
                                                "queues"),
                            t.queue),
                        "usd-day"),
                 2.5);
    cJSON_Delete(doc);
    cr_assert_eq(th_run(unset, NULL, NULL, 0, NULL, NULL), 0);
    cr_assert_eq(
        th_rint(&t, "HEXISTS %s q:%s:usd_day", KEY_BUDGET_CAPS, t.queue), 0,
        "0 removes the cap");
}

/* `genq limits --json` at url lists one key whose rpm is rpm, and the
 * fleet's day cap is usd_day. */
static void
expect_limits(const char *url, double rpm, double usd_day)
{
    const char *show[] = {th_bin("genq"), "limits", "--json",
                          "--redis",      url,      NULL};
    char *out = NULL;
    cJSON *o, *caps;

    cr_assert_eq(th_run(show, NULL, NULL, 0, &out, NULL), 0);
    o = cJSON_Parse(out);
    cr_assert(o, "one key expected: %s", out);
    cr_assert_eq(th_num(cJSON_GetObjectItem(o, "configured"), "rpm"), rpm);
    caps = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "budget"), "caps");
    cr_assert_eq(th_num(caps, "usd-day"), usd_day, "%s", out);
    cJSON_Delete(o);
    free(out);
}

Test(budget, limits_set_takes_rate_limits_and_budget_caps_together)
{
    char url[320], *out = NULL, *err = NULL;
    const char *set[] = {
        th_bin("genq"),     "limits", "set",     "p|b|c", "--rpm", "50",
        "--budget-usd-day", "7",      "--redis", url,     NULL};
    const char *caps_only[] = {
        th_bin("genq"), "limits", "set", "q|r|s", "--budget-usd-day", "8",
        "--redis",      url,      NULL};
    const char *bad[] = {th_bin("genq"), "limits",  "set", "--rpm",
                         "50",           "--redis", url,   NULL};

    use_db(7, url, sizeof(url));
    cr_assert_eq(th_run(bad, NULL, NULL, 0, NULL, &err), 2);
    cr_assert(strstr(err, "need a KEY"), "%s", err);
    free(err);
    cr_assert_eq(th_run(set, NULL, NULL, 0, &out, &err), 0, "%s", err);
    free(out);
    free(err);
    expect_limits(url, 50, 7);
    /* caps alone with a KEY: the key's limits stay, nothing is registered */
    cr_assert_eq(th_run(caps_only, NULL, NULL, 0, NULL, NULL), 0);
    cr_assert_eq(th_rint(&t, "SISMEMBER %s q|r|s", KEY_LIMITS), 0);
    expect_limits(url, 50, 8);
}

/* libfaketime (scripts/deps.sh test: libfaketime): a worker on a clock of
 * our choosing, Redis's and libev's timers real */
#define FAKETIME_LIB "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"

/* A call reserved before midnight UTC and settled after it settles against
 * the day and month that hold its reservation: the worker's clock starts at
 * 2030-01-31 23:59:58 and the mock answers 3 s later. */
Test(budget, a_call_settled_after_midnight_settles_its_reservations_day)
{
    const char *d0 = KEY_BUDGET_DAY_PREFIX "2030-01-31";
    const char *d1 = KEY_BUDGET_DAY_PREFIX "2030-02-01";
    const char *m0 = KEY_BUDGET_MONTH_PREFIX "2030-01";
    const char *m1 = KEY_BUDGET_MONTH_PREFIX "2030-02";
    const char *mock_args[] = {"--latency-ms", "3000", NULL};
    const char *args[] = {"--budget-tokens-day", "100000000", NULL};
    char url[320], mock[128], st[64], mid[] = "mid";
    char *ids[] = {mid};
    double tok;
    pid_t m, w;

    cr_assert_eq(access(FAKETIME_LIB, R_OK), 0,
                 FAKETIME_LIB " missing: scripts/deps.sh test installs it");
    use_db(5, url, sizeof(url));
    m = th_mock_start(mock, mock_args);
    th_enqueue(&t, "mid", 1, 0, 0, NULL,
               "{\"id\":\"mid\",\"prompt\":\"Midnight [mock:tokens=40]\","
               "\"max_tokens\":200}");
    /* the worker's clock: 2 s before midnight UTC, running; Redis's and
     * libev's timers stay real */
#ifdef GENQ_ASAN_LIB /* make test SAN=1: the ASan runtime comes first */
    cr_assert_eq(setenv("LD_PRELOAD", GENQ_ASAN_LIB ":" FAKETIME_LIB, 1), 0);
#else
    cr_assert_eq(setenv("LD_PRELOAD", FAKETIME_LIB, 1), 0);
#endif
    cr_assert_eq(setenv("FAKETIME", "@2030-01-31 23:59:58", 1), 0);
    cr_assert_eq(setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1", 1), 0);
    w = th_worker_on(&t, url, mock, NULL, args);
    unsetenv("LD_PRELOAD");
    unsetenv("FAKETIME");
    unsetenv("FAKETIME_DONT_FAKE_MONOTONIC");
    cr_assert_eq(th_wait_terminal(&t, ids, 1, 30), 1);
    th_stop(w);
    th_stop(m);
    cr_assert_str_eq(th_state(&t, "mid", st, NULL), "succeeded");
    /* reserved on the 31st: its estimate (input + 200) went there; the
     * settle replaced it with the usage (40 out + the input) there too */
    tok = hget_num(d0, "tok");
    cr_assert_eq(hget_num(d0, "res_tok"), 0, "the reservation was given back");
    cr_assert_gt(tok, 40, "the usage counts on the 31st (%g; Feb 1st %g)", tok,
                 hget_num(d1, "tok"));
    cr_assert_lt(tok, 200, "the estimate was corrected (%g)", tok);
    cr_assert_eq(hget_num(m0, "tok"), hget_num(d0, "tok"), "and in January");
    cr_assert_eq(th_rint(&t, "EXISTS %s", d1), 0,
                 "nothing settled into February 1st");
    cr_assert_eq(th_rint(&t, "EXISTS %s", m1), 0, "nor into February");
}

/* Run genq CMD --redis url; its exit code, and stderr into err. */
static int
genq_err(const char *cmd, const char *url, char **err)
{
    const char *argv[] = {th_bin("genq"), cmd, "--redis", url, NULL};

    return th_run(argv, NULL, NULL, 0, NULL, err);
}

Test(budget, an_unreadable_budget_names_its_key_and_reason)
{
    char url[320], *err = NULL;
    int rc;

    use_db(6, url, sizeof(url));
    freeReplyObject(redisCommand(t.c, "SET %s not-a-hash", KEY_BUDGET_CAPS));
    rc = genq_err("budget", url, &err);
    cr_assert_neq(rc, 0, "genq budget must fail");
    cr_assert(err && strstr(err, KEY_BUDGET_CAPS) && strstr(err, "WRONGTYPE"),
              "stderr names the key and Redis's reason: %s", err);
    free(err);
    err = NULL;
    rc = genq_err("limits", url, &err);
    cr_assert_neq(rc, 0, "genq limits must fail");
    cr_assert(err && strstr(err, "reading the budget: " KEY_BUDGET_CAPS) &&
                  strstr(err, "WRONGTYPE"),
              "stderr names the key and Redis's reason: %s", err);
    free(err);
    freeReplyObject(redisCommand(t.c, "DEL %s", KEY_BUDGET_CAPS));
}
