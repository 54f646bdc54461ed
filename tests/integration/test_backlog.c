/* The backlog bench at small scale (issue 15, target 3; bench/scale.sh
 * backlog runs 10 million): 20,000 realistic article requests in one
 * `genq enqueue FILE` (the staged bulk path) and 2,000 with given ids
 * (enqueue.lua), claimed at the head in file order with their payloads
 * intact and no meta field until then (the bulk ones inline in the ready
 * list, nothing in the jobs hash), then drained by a no-op worker:
 * every job succeeded once, and `genq stats` counts them from its tallies.
 * Functional only: no timing decides anything here. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <criterion/criterion.h>

#include "harness.h"
#include "pack.h"
#include "rclient.h"

TH_SUITE(backlog, .timeout = 180);

#define N_BULK 20000
#define N_IDS  2000

/* bench/lib/scale.py article(): a ~300-byte article request */
static int
article(char *out, size_t n, int i, int with_id)
{
    char id[48] = "";

    if (with_id)
        snprintf(id, sizeof(id), "\"id\":\"art-%08d\",", i);
    return snprintf(
        out, n,
        "{%s\"prompt\":\"Write a technical article of about 900 words on "
        "topic %d for site reliability engineers: explain the idea, show one "
        "worked example with commands, list three pitfalls seen in production "
        "and how to avoid them, end with a short checklist. Plain Markdown, "
        "no "
        "preamble.\",\"max_tokens\":1500,\"metadata\":{\"article_id\":%d}}\n",
        id, i, i);
}

static char *
articles(int from, int n, int with_id)
{
    size_t cap = (size_t)n * 420 + 1, len = 0;
    char *s = malloc(cap);

    cr_assert(s);
    for (int i = from; i < from + n; i++)
        len += (size_t)article(s + len, cap - len, i, with_id);
    return s;
}

Test(backlog, a_big_backlog_is_claimed_at_the_head_and_drained)
{
    char path[256], *in, *out, *err, want[512];
    const char *noop[] = {"--provider", "noop",        "--concurrency",
                          "100",        "--log-level", "warn",
                          NULL};
    redisReply *r;
    cJSON *o[2];
    pid_t w;
    long long after;

    in = articles(0, N_BULK, 0);
    th_write_tmp(path, sizeof(path), "backlog.jsonl", in);
    free(in);
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "enqueue", path, NULL), 0, "%s",
                 err);
    free(out);
    free(err);
    remove(path);
    in = articles(N_BULK, N_IDS, 1);
    cr_assert_eq(th_genq(&t, in, &out, &err, "enqueue", "-", NULL), 0, "%s",
                 err);
    free(in);
    free(out);
    free(err);
    cr_assert_eq(th_rint(&t, "LLEN %s", t.k.key[QK_READY]), N_BULK + N_IDS);
    cr_assert_eq(th_rint(&t, "HLEN %s", t.k.key[QK_JOBS]), N_IDS);
    cr_assert_eq(th_inline(&t), N_BULK);
    cr_assert_eq(th_rint(&t, "HLEN %s", t.k.key[QK_META]), 0,
                 "no meta field before the first claim");
    /* stored compressed (common/pack.h): shorter than the request, and it
     * decodes to it */
    after = th_rint(&t, "HSTRLEN %s art-%08d", t.k.key[QK_JOBS], N_BULK);
    article(want, sizeof(want), N_BULK, 1);
    cr_assert(after < (long long)strlen(want), "compressed: %lld", after);
    {
        char id[32], e[256], *json;
        snprintf(id, sizeof(id), "art-%08d", N_BULK);
        r = redisCommand(t.c, "HGET %s %s", t.k.key[QK_JOBS], id);
        cr_assert(r && r->type == REDIS_REPLY_STRING);
        json = pack_stored_json(NULL, id, r->str, r->len, e, sizeof(e));
        want[strlen(want) - 1] = '\0';
        cr_assert_str_eq(json, want, "%s", e);
        free(json);
        freeReplyObject(r);
    }

    /* the head: the first 100 lines of the file, in order, intact */
    r = th_claim(&t, "w-head", 100, 60000, 3);
    cr_assert_eq(r->elements, 1 + 4 * 100);
    for (int i = 0; i < 100; i++) {
        const char *id = r->element[1 + 4 * i]->str;
        const redisReply *v = r->element[4 + 4 * i];
        const char *p = v->str, *nl = strchr(p, '\n');
        size_t il = strlen(id);
        char e[256], *json;
        article(want, sizeof(want), i, 0);
        want[strlen(want) - 1] = '\0';
        /* the worker cuts the "@ID|" prefix and the header and decodes the
         * rest (pack.h); the job has its generated id first */
        cr_assert(nl && p[0] == '@' && !strncmp(p + 1, id, il) &&
                      !strncmp(p + 1 + il, "|queued|0|", 10),
                  "%s", p);
        json = pack_stored_json(NULL, id, p, v->len, e, sizeof(e));
        cr_assert(json, "%s", e);
        cr_assert(strstr(json, want + 1), "job %d: %s", i, json);
        free(json);
        cr_assert_eq(r->element[3 + 4 * i]->integer, 1);
        /* claimed: the element itself is in the claim's held list (layout
         * 5: common/lua/prelude.lua K_HELD), not in the jobs hash */
        cr_assert_eq(th_rint(&t, "HEXISTS %s %s", t.k.key[QK_JOBS], id), 0);
    }
    {
        const char *tok = r->element[2]->str;
        char held[128];
        snprintf(held, sizeof(held), "%sheld:%.*s", t.k.prefix,
                 (int)strcspn(tok, ":"), tok);
        cr_assert_eq(th_rint(&t, "LLEN %s", held), 200,
                     "the 100 claimed (id, element) pairs");
    }
    freeReplyObject(r);
    cr_assert_eq(th_rint(&t, "HLEN %s", t.k.key[QK_META]), 100);
    cr_assert_eq(th_rint(&t, "HLEN %s", t.k.key[QK_JOBS]), N_IDS);

    /* a worker drains the rest; the 100 stay leased to w-head */
    w = th_worker(&t, NULL, noop);
    for (int i = 0; i < 1200; i++) {
        r = redisCommand(t.c, "HGET %s succeeded", t.k.key[QK_STATS]);
        if (r && r->type == REDIS_REPLY_STRING &&
            atol(r->str) >= N_BULK + N_IDS - 100) {
            freeReplyObject(r);
            break;
        }
        freeReplyObject(r);
        th_sleep_ms(100);
    }
    th_stop(w);
    cr_assert_eq(th_rint(&t, "LLEN %s", t.k.key[QK_READY]), 0);
    cr_assert_eq(th_rint(&t, "HLEN %s", t.k.key[QK_RESULTS]),
                 N_BULK + N_IDS - 100, "every job once, the 100 leased aside");
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "stats", "--json", NULL), 0,
                 "%s", err);
    cr_assert_eq(th_jsonl(out, o, 2), 1);
    cr_assert_eq(th_num(o[0], "succeeded"), N_BULK + N_IDS - 100);
    cr_assert_eq(th_num(o[0], "enqueued"), N_BULK + N_IDS);
    cr_assert_eq(th_num(o[0], "active"), 100);
    cr_assert_eq(th_num(o[0], "latency_samples"), LAT_SAMPLES);
    cr_assert(th_num(o[0], "completed_per_s") > 0);
    th_free_objs(o, 1);
    free(out);
    free(err);
}
