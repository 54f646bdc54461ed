/* Prompt caching end to end (worker/pcache.c, common/llm_cache.c, the
 * mock's tests/mock-llm/srv_pcache.c): 1,000 jobs sharing one long system
 * prompt with --prompt-cache system cost one cache write and 999 reads,
 * each result priced by its own usage; the warm-up ordering is what makes
 * that so (the same jobs with breakpoints but no ordering write many
 * times: the mock's entry is readable only once the first response has
 * begun); a short system prompt is not marked. */
#include "fmacros.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "buf.h"
#include "harness.h"

TH_SUITE(pcache, .timeout = 180);

#define SYS_WORDS 1000 /* ~6 KB: over the 1,024-token minimum (bytes / 4) */

/* The long system prompt (static). */
static const char *
long_system(void)
{
    static char s[SYS_WORDS * 8];
    size_t o = 0;

    if (!s[0])
        for (int i = 0; i < SYS_WORDS; i++)
            o += (size_t)snprintf(s + o, sizeof(s) - o, "%srule%d",
                                  i ? " " : "", i % 97);
    return s;
}

/* JSONL of n jobs "pc-NNNN" with system (a JSON value text); returns it
 * (caller frees). */
static char *
jobs_jsonl(int n, const char *system_json)
{
    struct buf b;
    char line[160];

    buf_init(&b, 0);
    for (int i = 0; i < n; i++) {
        snprintf(line, sizeof line,
                 "{\"id\":\"pc-%04d\",\"prompt\":\"Article %d "
                 "[mock:tokens=5]\",\"max_tokens\":50,\"system\":",
                 i, i);
        cr_assert_eq(buf_append_str(&b, line), 0);
        cr_assert_eq(buf_append_str(&b, system_json), 0);
        cr_assert_eq(buf_append_str(&b, "}\n"), 0);
    }
    return buf_detach(&b, NULL);
}

static char **
ids_of(int n)
{
    char **ids = calloc((size_t)n, sizeof(*ids));

    cr_assert_not_null(ids);
    for (int i = 0; i < n; i++) {
        ids[i] = malloc(16);
        cr_assert_not_null(ids[i]);
        snprintf(ids[i], 16, "pc-%04d", i);
    }
    return ids;
}

/* Enqueue the jobs, run one worker with extra flags against a private
 * mock (latency ms) until all succeed; returns the mock's stats (caller
 * frees). */
static cJSON *
run(int n, const char *system_json, const char *latency,
    const char *const extra[])
{
    const char *margs[] = {"--latency-ms", latency, NULL};
    char url[128], *in = jobs_jsonl(n, system_json), **ids = ids_of(n);
    pid_t mock, w;
    cJSON *st;

    cr_assert_eq(th_genq(&t, in, NULL, NULL, "enqueue", "-", NULL), 0);
    free(in);
    mock = th_mock_start(url, margs);
    w = th_worker_at(&t, url, NULL, extra);
    cr_assert_eq(th_wait_terminal(&t, ids, n, 150), n);
    cr_assert_eq(th_count_state(&t, (const char *const *)ids, n, "succeeded"),
                 n);
    th_stop(w);
    st = th_mock_stats(url);
    th_stop(mock);
    th_free_ids(ids, n);
    return st;
}

static double
stat_of(const cJSON *st, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(st, k);
    cr_assert(cJSON_IsNumber(v), "mock stats lack %s", k);
    return v->valuedouble;
}

static double
usage_of(cJSON *doc, const char *k)
{
    return th_num(cJSON_GetObjectItemCaseSensitive(doc, "usage"), k);
}

Test(pcache, thousand_jobs_one_write_then_reads_priced)
{
    const char *args[] = {"--prompt-cache",
                          "system",
                          "--concurrency",
                          "64",
                          "--price-in-mtok",
                          "3",
                          "--price-out-mtok",
                          "15",
                          NULL};
    char sys[SYS_WORDS * 8 + 8];
    cJSON *st;
    int writes = 0, reads = 0;

    snprintf(sys, sizeof sys, "\"%s\"", long_system());
    st = run(1000, sys, "50", args);
    cr_assert_eq(stat_of(st, "cache_writes"), 1, "writes %.0f",
                 stat_of(st, "cache_writes"));
    cr_assert_eq(stat_of(st, "cache_reads"), 999, "reads %.0f",
                 stat_of(st, "cache_reads"));
    cr_assert_eq(stat_of(st, "cache_read_tokens"), 999.0 * SYS_WORDS);
    cJSON_Delete(st);
    for (int i = 0; i < 1000; i++) {
        char id[16];
        cJSON *d;
        double in, out, cw, cr, want;

        snprintf(id, sizeof id, "pc-%04d", i);
        d = th_result(&t, id);
        cr_assert_not_null(d, "%s: no result", id);
        in = usage_of(d, "input_tokens");
        out = usage_of(d, "output_tokens");
        cw = usage_of(d, "cache_creation_input_tokens");
        cr = usage_of(d, "cache_read_input_tokens");
        writes += cw > 0;
        reads += cr > 0;
        cr_assert(cw == 0 || cw == SYS_WORDS);
        cr_assert(cr == 0 || cr == SYS_WORDS);
        /* 3 and 15 USD per million; writes 1.25x, reads 0.1x the input */
        want = (in * 3 + out * 15 + cw * 3.75 + cr * 0.3) / 1e6;
        cr_assert(fabs(th_num(d, "cost_usd") - want) < 2e-6,
                  "%s: cost %.6f, want %.6f", id, th_num(d, "cost_usd"), want);
        cJSON_Delete(d);
    }
    cr_assert_eq(writes, 1);
    cr_assert_eq(reads, 999);
}

/* The ordering is what saves: with breakpoints on the system block but
 * no warm-up (--prompt-cache off), 20 jobs started together all miss the
 * entry the first one is still writing; with it, one writes. */
Test(pcache, warmup_ordering_one_writer_then_followers)
{
    const char *on[] = {"--prompt-cache", "system", "--concurrency", "20",
                        NULL};
    const char *off[] = {"--prompt-cache", "off", "--concurrency", "20", NULL};
    char sys[SYS_WORDS * 8 + 80];
    cJSON *st;

    snprintf(sys, sizeof sys,
             "[{\"type\":\"text\",\"text\":\"%s\",\"cache_control\":"
             "{\"type\":\"ephemeral\"}}]",
             long_system());
    st = run(20, sys, "400", off);
    cr_assert_gt(stat_of(st, "cache_writes"), 1,
                 "without the warm-up the jobs race the first write");
    cJSON_Delete(st);
    /* a fresh queue for the second run */
    th_fini(&t);
    th_init(&t, "warmup_ordering_on");
    st = run(20, sys, "400", on);
    cr_assert_eq(stat_of(st, "cache_writes"), 1,
                 "the leader writes; the others wait for its response");
    cr_assert_eq(stat_of(st, "cache_reads"), 19);
    cJSON_Delete(st);
}

Test(pcache, short_system_not_marked)
{
    const char *args[] = {"--prompt-cache", "system", NULL};
    cJSON *st = run(5, "\"Be brief.\"", "10", args);

    cr_assert_eq(stat_of(st, "cache_writes"), 0);
    cr_assert_eq(stat_of(st, "cache_reads"), 0);
    cJSON_Delete(st);
}
