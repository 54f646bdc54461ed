/* Batch mode meets content review, template figures and prompt caching
 * (worker/batch_review.c, batch_settle.c; README "Batch mode"), against a
 * real Redis and a private genq-mockllm per test: a batch member whose
 * text holds a blocklisted word ends in state review with its reasons
 * while its clean neighbour succeeds; `genq stats --by template` counts
 * batch-settled jobs per version (output tokens, review rate, cost at the
 * batch price); a batch whose requests share a long cacheable system
 * prompt reports one cache write and reads (the mock) and prices them
 * like the normal path, then halves it. */
#include "fmacros.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <criterion/criterion.h>

#include "buf.h"
#include "harness.h"

TH_SUITE(batch_review, .timeout = 120);

/* A private mock whose batches end after 0.3 s. */
static pid_t
mock(char *url)
{
    const char *extra[] = {"--batch-latency-s", "0.3", NULL};

    return th_mock_start(url, extra);
}

/* A worker batching every job of the test's queue, with more (NULL-
 * terminated, at most 12) arguments. */
static pid_t
batch_worker(const char *url, const char *const more[])
{
    const char *extra[32] = {"--batch-queue",
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
                             "15"};
    int n = 12;

    for (int i = 0; more && more[i]; i++)
        extra[n++] = more[i];
    extra[n] = NULL;
    return th_worker_at(&t, url, NULL, extra);
}

/* Wait until every id has left the queue's working states (succeeded,
 * review, dead); returns how many did. */
static int
wait_settled(char **ids, int n, double timeout_s)
{
    char st[64];
    int done = 0;

    for (long waited = 0; waited <= (long)(timeout_s * 1000); waited += 50) {
        done = 0;
        for (int i = 0; i < n; i++) {
            th_state(&t, ids[i], st, NULL);
            done += !strcmp(st, "succeeded") || !strcmp(st, "review") ||
                    !strcmp(st, "dead");
        }
        if (done == n)
            break;
        th_sleep_ms(50);
    }
    return done;
}

/* A word of at least 5 letters of text a that text b lacks (any case),
 * into out. */
static void
word_only_in(const char *a, const char *b, char *out, size_t cap)
{
    const char *p = a;

    while (*p) {
        size_t n = 0;
        while (p[n] && ((p[n] >= 'a' && p[n] <= 'z') ||
                        (p[n] >= 'A' && p[n] <= 'Z')))
            n++;
        if (n >= 5 && n < cap) {
            snprintf(out, cap, "%.*s", (int)n, p);
            if (!strcasestr(b, out))
                return;
        }
        p += n ? n : 1;
    }
    cr_assert_fail("no word of '%s' that '%s' lacks", a, b);
}

Test(batch_review, blocklisted_word_in_a_batch_member_goes_to_review)
{
    const char *pa = "Batch review flagged", *pb = "Batch review clean";
    char url[128], word[64], list[128], path[512], st[64], *ta, *tb;
    char ida[] = "brv-a", idb[] = "brv-b", *ids[2] = {ida, idb};
    const char *more[] = {"--review-blocklist", path, NULL};
    cJSON *d, *reasons;
    char *out;
    pid_t m, w;

    ta = th_expected_text(pa, 60);
    tb = th_expected_text(pb, 60);
    word_only_in(ta, tb, word, sizeof word);
    snprintf(list, sizeof list, "# batch review\n%s\n", word);
    th_write_tmp(path, sizeof path, "batch-blocklist", list);
    th_enqueue(&t, ids[0], 1, 0, 0, NULL,
               "{\"prompt\":\"Batch review flagged\",\"max_tokens\":60}");
    th_enqueue(&t, ids[1], 1, 0, 0, NULL,
               "{\"prompt\":\"Batch review clean\",\"max_tokens\":60}");
    m = mock(url);
    w = batch_worker(url, more);
    cr_assert_eq(wait_settled(ids, 2, 30), 2);
    cr_assert_str_eq(th_state(&t, ids[0], st, NULL), "review");
    cr_assert_str_eq(th_state(&t, ids[1], st, NULL), "succeeded");

    /* the flagged one: its batch, its text, the reasons */
    d = th_result(&t, ids[0]);
    cr_assert_not_null(d);
    cr_assert_str_eq(th_str(d, "state"), "review");
    cr_assert(!strncmp(th_str(d, "batch_id"), "msgbatch_", 9));
    cr_assert_str_eq(th_str(d, "text"), ta);
    reasons = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(d, "review"), "reasons");
    cr_assert_eq(cJSON_GetArraySize(reasons), 1);
    cr_assert_str_eq(th_str(cJSON_GetArrayItem(reasons, 0), "rule"),
                     "blocklist");
    cr_assert(strcasestr(th_str(cJSON_GetArrayItem(reasons, 0), "detail"),
                         word));
    cJSON_Delete(d);
    d = th_result(&t, ids[1]);
    cr_assert_not_null(d);
    cr_assert_str_eq(th_str(d, "state"), "succeeded");
    cr_assert_null(cJSON_GetObjectItemCaseSensitive(d, "review"));
    cJSON_Delete(d);

    /* in the review set and counted; approve then works as for any job */
    cr_assert_eq(th_rint(&t, "ZCARD %s", t.k.review), 1);
    cr_assert_eq(th_genq(&t, NULL, &out, NULL, "stats", "--json", NULL), 0);
    d = cJSON_Parse(out);
    cr_assert_eq(th_num(d, "review"), 1);
    cJSON_Delete(d);
    free(out);
    cr_assert_eq(
        th_genq(&t, NULL, NULL, NULL, "review", "approve", ids[0], NULL), 0);
    cr_assert_str_eq(th_state(&t, ids[0], st, NULL), "succeeded");
    th_stop(w);
    th_stop(m);
    free(ta);
    free(tb);
}

/* art@v1 (20 tokens) and art@v2 (300 tokens) in a templates directory. */
static void
make_templates(char *dir, size_t cap)
{
    char path[600];
    FILE *f;

    snprintf(dir, cap, "%s/btmpl-%d", getenv("GENQ_TEST_TMP"), (int)getpid());
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/art@v1.tmpl", dir);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("Write briefly on {{topic}} [mock:tokens=20]\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/art@v2.tmpl", dir);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("Write at length on {{topic}} [mock:tokens=300]\n", f);
    fclose(f);
}

static cJSON *
version_row(cJSON **o, int n, const char *version)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(th_str(o[i], "version"), version))
            return o[i];
    cr_assert_fail("no row for version %s", version);
    return NULL;
}

Test(batch_review, stats_by_template_counts_batch_jobs)
{
    enum { N = 6 };
    char url[128], dir[512], *out = NULL, *err = NULL, *ids[N];
    const char *more[] = {"--review-min-words", "50", "--max-tokens", "1000",
                          NULL};
    struct buf in;
    cJSON *o[4], *v1, *v2;
    double cost[2] = {0, 0};
    int n;
    pid_t m, w;

    make_templates(dir, sizeof dir);
    buf_init(&in, 0);
    for (int i = 0; i < N; i++) {
        char line[160];
        ids[i] = malloc(16);
        cr_assert_not_null(ids[i]);
        snprintf(ids[i], 16, "bt-%d", i);
        snprintf(line, sizeof line,
                 "{\"id\":\"%s\",\"template\":\"art@v%d\",\"vars\":{"
                 "\"topic\":\"topic %d\"}}\n",
                 ids[i], i % 2 + 1, i);
        cr_assert_eq(buf_append_str(&in, line), 0);
    }
    cr_assert_eq(th_genq(&t, in.data, &out, &err, "enqueue", "--templates", dir,
                         "-", NULL),
                 0, "%s", err);
    free(out);
    free(err);
    buf_free(&in);
    m = mock(url);
    w = batch_worker(url, more);
    cr_assert_eq(wait_settled(ids, N, 30), N);
    /* v1's 20 words break the minimum of 50: review; v2's pass */
    for (int i = 0; i < N; i++) {
        cJSON *d = th_result(&t, ids[i]);
        cr_assert_not_null(d);
        cr_assert_str_eq(th_str(d, "state"), i % 2 ? "succeeded" : "review");
        cr_assert(!strncmp(th_str(d, "batch_id"), "msgbatch_", 9));
        cr_assert_str_eq(
            th_str(cJSON_GetObjectItemCaseSensitive(d, "template"), "version"),
            i % 2 ? "v2" : "v1");
        cost[i % 2] += th_num(d, "cost_usd");
        cJSON_Delete(d);
    }
    th_stop(w); /* its figures are flushed on the way out at the latest */
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "stats", "--by", "template",
                         "--json", NULL),
                 0, "%s", err);
    n = th_jsonl(out, o, 4);
    cr_assert_eq(n, 2, "%s", out);
    v1 = version_row(o, n, "v1");
    v2 = version_row(o, n, "v2");
    cr_assert_eq(th_num(v1, "jobs"), N / 2);
    cr_assert_eq(th_num(v2, "jobs"), N / 2);
    cr_assert_eq(th_num(v1, "output_tokens_mean"), 20);
    cr_assert_eq(th_num(v2, "output_tokens_mean"), 300);
    cr_assert_eq(th_num(v1, "review_rate"), 1);
    cr_assert_eq(th_num(v2, "review_rate"), 0);
    /* the cost per job is what the documents say: the batch price */
    cr_assert(fabs(th_num(v1, "cost_usd_per_job") - cost[0] / (N / 2)) < 2e-6,
              "v1 %.6f, documents %.6f", th_num(v1, "cost_usd_per_job"),
              cost[0] / (N / 2));
    cr_assert(fabs(th_num(v2, "cost_usd_per_job") - cost[1] / (N / 2)) < 2e-6,
              "v2 %.6f, documents %.6f", th_num(v2, "cost_usd_per_job"),
              cost[1] / (N / 2));
    cr_assert(th_num(v2, "cost_usd_per_job") > th_num(v1, "cost_usd_per_job"));
    th_free_objs(o, n);
    free(out);
    free(err);
    th_stop(m);
    for (int i = 0; i < N; i++)
        free(ids[i]);
}

#define SYS_WORDS 1000 /* over the 1,024-token minimum (bytes / 4) */

Test(batch_review, cacheable_system_prompt_priced_in_a_batch)
{
    enum { N = 5 };
    static char sys[SYS_WORDS * 12];
    char url[128], *ids[N], *out = NULL, *err = NULL;
    const char *more[] = {"--prompt-cache", "system", NULL};
    struct buf in;
    size_t o = 0;
    cJSON *st;
    int writes = 0, reads = 0;
    pid_t m, w;

    for (int i = 0; i < SYS_WORDS; i++)
        o += (size_t)snprintf(sys + o, sizeof(sys) - o, "%sclause%d",
                              i ? " " : "", i % 89);
    buf_init(&in, 0);
    for (int i = 0; i < N; i++) {
        char line[200];
        ids[i] = malloc(16);
        cr_assert_not_null(ids[i]);
        snprintf(ids[i], 16, "bc-%d", i);
        snprintf(line, sizeof line,
                 "{\"id\":\"%s\",\"prompt\":\"Cached article %d "
                 "[mock:tokens=5]\",\"max_tokens\":50,\"system\":\"",
                 ids[i], i);
        cr_assert_eq(buf_append_str(&in, line), 0);
        cr_assert_eq(buf_append_str(&in, sys), 0);
        cr_assert_eq(buf_append_str(&in, "\"}\n"), 0);
    }
    cr_assert_eq(th_genq(&t, in.data, &out, &err, "enqueue", "-", NULL), 0,
                 "%s", err);
    free(out);
    free(err);
    buf_free(&in);
    m = mock(url);
    w = batch_worker(url, more);
    cr_assert_eq(th_wait_terminal(&t, ids, N, 30), N);
    cr_assert_eq(th_count_state(&t, (const char *const *)ids, N, "succeeded"),
                 N);
    st = th_mock_stats(url);
    cr_assert_eq(th_num(st, "cache_writes"), 1);
    cr_assert_eq(th_num(st, "cache_reads"), N - 1);
    cJSON_Delete(st);
    for (int i = 0; i < N; i++) {
        cJSON *d = th_result(&t, ids[i]), *u;
        double in_t, out_t, cw, cr, want;
        cr_assert_not_null(d);
        cr_assert(!strncmp(th_str(d, "batch_id"), "msgbatch_", 9));
        u = cJSON_GetObjectItemCaseSensitive(d, "usage");
        in_t = th_num(u, "input_tokens");
        out_t = th_num(u, "output_tokens");
        cw = th_num(u, "cache_creation_input_tokens");
        cr = th_num(u, "cache_read_input_tokens");
        cr_assert(cw == 0 || cw == SYS_WORDS, "%s: write %.0f", ids[i], cw);
        cr_assert(cr == 0 || cr == SYS_WORDS, "%s: read %.0f", ids[i], cr);
        writes += cw > 0;
        reads += cr > 0;
        /* 3 and 15 USD per million, writes 1.25x and reads 0.1x the input,
         * then the batch discount (0.5) */
        want = (in_t * 3 + out_t * 15 + cw * 3.75 + cr * 0.3) / 1e6 * 0.5;
        cr_assert(fabs(th_num(d, "cost_usd") - want) < 1e-9,
                  "%s: cost %.8f, want %.8f", ids[i], th_num(d, "cost_usd"),
                  want);
        cJSON_Delete(d);
    }
    cr_assert_eq(writes, 1);
    cr_assert_eq(reads, N - 1);
    th_stop(w);
    th_stop(m);
    for (int i = 0; i < N; i++)
        free(ids[i]);
}
