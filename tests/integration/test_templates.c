/* Versioned templates end to end (common/template_ver.c, genq enqueue
 * --template-split, worker/tmplstats.c, genq stats --by template): two
 * versions of a template run side by side, each result names its template
 * and version, and the figures of each version are kept apart -- jobs
 * settled from a provider batch included. */
#include "fmacros.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "buf.h"
#include "harness.h"

TH_SUITE(templates, .timeout = 120);

#define N 40

/* A templates directory with art@v1 (short articles) and art.tmpl whose
 * header says v2 (long ones, and a blocklisted word's rule below). */
static void
make_dir(char *dir, size_t cap)
{
    char path[600];
    FILE *f;

    snprintf(dir, cap, "%s/tmpl-%d", getenv("GENQ_TEST_TMP"), (int)getpid());
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/art@v1.tmpl", dir);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("Write briefly on {{topic}} [mock:tokens=20]\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/art@v2.tmpl", dir);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("{{! version: v2 }}\nWrite at length on {{topic}} "
          "[mock:tokens=300]\n",
          f);
    fclose(f);
}

static cJSON *
row_of(cJSON **o, int n, const char *version)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(th_str(o[i], "version"), version))
            return o[i];
    cr_assert_fail("no row for version %s", version);
    return NULL;
}

Test(templates, split_runs_two_versions_with_separate_figures)
{
    char dir[512], *out = NULL, *err = NULL, **ids;
    const char *args[] = {"--price-in-mtok",
                          "3",
                          "--price-out-mtok",
                          "15",
                          "--max-tokens",
                          "1000",
                          NULL};
    struct buf in;
    cJSON *o[8], *v1, *v2;
    int n, n1 = 0, n2 = 0;
    pid_t w;

    make_dir(dir, sizeof dir);
    buf_init(&in, 0);
    ids = calloc(N, sizeof(*ids));
    for (int i = 0; i < N; i++) {
        char line[160];
        ids[i] = malloc(16);
        snprintf(ids[i], 16, "tp-%03d", i);
        snprintf(line, sizeof line,
                 "{\"id\":\"%s\",\"template\":\"art\",\"vars\":{\"topic\":"
                 "\"topic %d\"}}\n",
                 ids[i], i);
        cr_assert_eq(buf_append_str(&in, line), 0);
    }
    cr_assert_eq(th_genq(&t, in.data, &out, &err, "enqueue", "--templates", dir,
                         "--template-split", "art@v1=50,art@v2=50", "-", NULL),
                 0, "%s", err);
    free(out);
    free(err);
    buf_free(&in);
    w = th_worker(&t, NULL, args);
    cr_assert_eq(th_wait_terminal(&t, ids, N, 60), N);
    th_stop(w);

    /* each result names its version; the text is that version's */
    for (int i = 0; i < N; i++) {
        cJSON *d = th_result(&t, ids[i]), *tm;
        const char *ver;
        cr_assert_not_null(d);
        tm = cJSON_GetObjectItemCaseSensitive(d, "template");
        cr_assert_str_eq(th_str(tm, "name"), "art");
        ver = th_str(tm, "version");
        cr_assert(!strcmp(ver, "v1") || !strcmp(ver, "v2"), "%s", ver);
        cr_assert_eq(th_num(cJSON_GetObjectItemCaseSensitive(d, "usage"),
                            "output_tokens"),
                     !strcmp(ver, "v1") ? 20 : 300);
        if (!strcmp(ver, "v1"))
            n1++;
        else
            n2++;
        cJSON_Delete(d);
    }
    cr_assert(n1 > 0 && n2 > 0, "both versions ran (%d, %d)", n1, n2);

    /* genq stats --by template: one row per version, their own figures */
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "stats", "--by", "template",
                         "--json", NULL),
                 0, "%s", err);
    n = th_jsonl(out, o, 8);
    cr_assert_eq(n, 2, "%s", out);
    v1 = row_of(o, n, "v1");
    v2 = row_of(o, n, "v2");
    cr_assert_str_eq(th_str(v1, "template"), "art");
    cr_assert_eq(th_num(v1, "jobs"), n1);
    cr_assert_eq(th_num(v2, "jobs"), n2);
    cr_assert_eq(th_num(v1, "success_rate"), 1);
    cr_assert_eq(th_num(v1, "output_tokens_mean"), 20);
    cr_assert_eq(th_num(v2, "output_tokens_mean"), 300);
    /* p95 from 10% buckets: within 10% above the true value */
    cr_assert(th_num(v1, "output_tokens_p95") >= 20 &&
              th_num(v1, "output_tokens_p95") <= 22);
    cr_assert(th_num(v2, "output_tokens_p95") >= 300 &&
              th_num(v2, "output_tokens_p95") <= 330);
    cr_assert(th_num(v2, "cost_usd_per_job") > th_num(v1, "cost_usd_per_job"));
    cr_assert_eq(th_num(v1, "review_rate"), 0);
    cr_assert(th_num(v1, "latency_ms_mean") >= 0);
    th_free_objs(o, n);
    free(out);
    free(err);
    /* the table names both */
    cr_assert_eq(
        th_genq(&t, NULL, &out, NULL, "stats", "--by", "template", NULL), 0);
    cr_assert(strstr(out, "art@v1") && strstr(out, "art@v2"), "%s", out);
    free(out);
    cr_assert_eq(th_genq(&t, NULL, NULL, NULL, "stats", "--by", "model", NULL),
                 2, "--by takes template only");
    th_free_ids(ids, N);
}

/* The review flag rate is per version: v1's short text breaks the
 * minimum of words, v2's does not. */
Test(templates, review_rate_per_version)
{
    char dir[512], *out = NULL, st[64];
    const char *args[] = {"--review-min-words", "50", NULL};
    cJSON *o[4];
    int n;
    pid_t w;

    make_dir(dir, sizeof dir);
    cr_assert_eq(th_genq(&t,
                         "{\"id\":\"tr-1\",\"template\":\"art@v1\",\"vars\":{"
                         "\"topic\":\"a\"}}\n"
                         "{\"id\":\"tr-2\",\"template\":\"art@v2\",\"vars\":{"
                         "\"topic\":\"b\"}}\n",
                         NULL, NULL, "enqueue", "--templates", dir, "-", NULL),
                 0);
    w = th_worker(&t, NULL, args);
    for (int i = 0; i < 500; i++) {
        char s2[64];
        if (!strcmp(th_state(&t, "tr-1", st, NULL), "review") &&
            !strcmp(th_state(&t, "tr-2", s2, NULL), "succeeded"))
            break;
        th_sleep_ms(20);
    }
    cr_assert_str_eq(th_state(&t, "tr-1", st, NULL), "review");
    cr_assert_str_eq(th_state(&t, "tr-2", st, NULL), "succeeded");
    th_stop(w);
    cr_assert_eq(th_genq(&t, NULL, &out, NULL, "stats", "--by", "template",
                         "--json", NULL),
                 0);
    n = th_jsonl(out, o, 4);
    cr_assert_eq(n, 2);
    cr_assert_eq(th_num(row_of(o, n, "v1"), "review_rate"), 1);
    cr_assert_eq(th_num(row_of(o, n, "v1"), "review"), 1);
    cr_assert_eq(th_num(row_of(o, n, "v2"), "review_rate"), 0);
    th_free_objs(o, n);
    free(out);
}

/* Jobs settled from a provider batch count too (worker/batch_review.c):
 * their output tokens, review flag (v1's 20 words break a minimum of 50)
 * and cost at the batch price, the same as their result documents say. */
Test(templates, batch_settled_jobs_counted)
{
    enum { NB = 6 };
    char url[128], dir[512], *out = NULL, *err = NULL;
    const char *more[] = {"--review-min-words", "50", "--max-tokens", "1000",
                          NULL};
    struct buf in;
    cJSON *o[4], *v1, *v2;
    double cost[2] = {0, 0}, jobs = 0;
    int n = 0;
    pid_t m, w;

    make_dir(dir, sizeof dir);
    buf_init(&in, 0);
    for (int i = 0; i < NB; i++) {
        char line[160];
        snprintf(line, sizeof line,
                 "{\"id\":\"tb-%d\",\"template\":\"art@v%d\",\"vars\":{"
                 "\"topic\":\"topic %d\"}}\n",
                 i, i % 2 + 1, i);
        cr_assert_eq(buf_append_str(&in, line), 0);
    }
    cr_assert_eq(th_genq(&t, in.data, NULL, &err, "enqueue", "--templates", dir,
                         "-", NULL),
                 0, "%s", err);
    free(err);
    buf_free(&in);
    m = th_batch_mock(url);
    w = th_batch_worker(&t, url, more);
    /* the figures arrive right after the jobs are settled */
    for (int k = 0; k < 300 && jobs < NB; k++) {
        th_sleep_ms(50);
        th_free_objs(o, n);
        free(out);
        cr_assert_eq(th_genq(&t, NULL, &out, NULL, "stats", "--by", "template",
                             "--json", NULL),
                     0);
        n = th_jsonl(out, o, 4);
        jobs = 0;
        for (int i = 0; i < n; i++)
            jobs += th_num(o[i], "jobs");
    }
    th_stop(w);
    th_stop(m);
    cr_assert_eq(n, 2, "%s", out);
    for (int i = 0; i < NB; i++) {
        char id[16];
        cJSON *d;
        snprintf(id, sizeof id, "tb-%d", i);
        d = th_result(&t, id);
        cr_assert_not_null(d, "%s: no result", id);
        cr_assert_str_eq(th_str(d, "state"), i % 2 ? "succeeded" : "review");
        cr_assert(!strncmp(th_str(d, "batch_id"), "msgbatch_", 9));
        cost[i % 2] += th_num(d, "cost_usd");
        cJSON_Delete(d);
    }
    v1 = row_of(o, n, "v1");
    v2 = row_of(o, n, "v2");
    cr_assert_eq(th_num(v1, "jobs"), NB / 2);
    cr_assert_eq(th_num(v2, "jobs"), NB / 2);
    cr_assert_eq(th_num(v1, "output_tokens_mean"), 20);
    cr_assert_eq(th_num(v2, "output_tokens_mean"), 300);
    cr_assert_eq(th_num(v1, "review_rate"), 1);
    cr_assert_eq(th_num(v2, "review_rate"), 0);
    /* the batch price, as the documents say (micro-USD sums) */
    cr_assert(fabs(th_num(v1, "cost_usd_per_job") - cost[0] / (NB / 2)) < 2e-6,
              "v1 %.6f, documents %.6f", th_num(v1, "cost_usd_per_job"),
              cost[0] / (NB / 2));
    cr_assert(fabs(th_num(v2, "cost_usd_per_job") - cost[1] / (NB / 2)) < 2e-6,
              "v2 %.6f, documents %.6f", th_num(v2, "cost_usd_per_job"),
              cost[1] / (NB / 2));
    cr_assert(cost[1] > 0 && cost[1] < (NB / 2) * 300 * 15 / 1e6,
              "v2 not at the batch price: %.6f", cost[1]);
    th_free_objs(o, n);
    free(out);
}
