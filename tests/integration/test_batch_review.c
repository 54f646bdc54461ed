/* Batch mode meets content review and prompt caching (worker/
 * batch_review.c, batch_settle.c; README "Batch mode"), against a real
 * Redis and a private genq-mockllm per test: a batch member whose text
 * holds a blocklisted word ends in state review with its reasons while its
 * clean neighbour succeeds; a batch whose requests share a long cacheable
 * system prompt reports one cache write and reads (the mock) and prices
 * them like the normal path, then halves them. Batch-settled jobs in
 * `genq stats --by template`: test_templates.c. */
#include "fmacros.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <criterion/criterion.h>

#include "buf.h"
#include "harness.h"

TH_SUITE(batch_review, .timeout = 120);

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
        while (p[n] &&
               ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z')))
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
    m = th_batch_mock(url);
    w = th_batch_worker(&t, url, more);
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
    cr_assert(
        strcasestr(th_str(cJSON_GetArrayItem(reasons, 0), "detail"), word));
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

#define SYS_WORDS 1000 /* over the 1,024-token minimum (bytes / 4) */

Test(batch_review, cacheable_system_prompt_priced_in_a_batch)
{
    enum { N = 5 };
    static char sys[SYS_WORDS * 12];
    char url[128], idbuf[N][16], *ids[N], *out = NULL, *err = NULL;
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
        snprintf(idbuf[i], sizeof idbuf[i], "bc-%d", i);
        ids[i] = idbuf[i];
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
    m = th_batch_mock(url);
    w = th_batch_worker(&t, url, more);
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
}
