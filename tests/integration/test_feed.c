/* The public completion feed genq:{Q}:feed against a real Redis: one entry
 * per terminal transition (complete, fail -> dead, lease expiry, cancel),
 * none for the others, the notify echo as the metadata field, the bound
 * (--feed-maxlen; 0 = off) and how a consumer learns it fell behind, the
 * echo deleted with the job (retention sweep, dlq purge), and a worker end
 * to end with the result read by HGET. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <criterion/criterion.h>

#include "harness.h"
#include "rclient.h"

TH_SUITE(feed, .timeout = 90);

/* The feed of the test's queue, "genq:{Q}:feed" (static buffer). */
static const char *
feed_key(void)
{
    static char k[128];

    snprintf(k, sizeof(k), "%s" QKEY_FEED, t.k.prefix);
    return k;
}

/* HSET the notify echo of id, as an enqueue of a job with notify does. */
static void
echo_set(const char *id, const char *json)
{
    char k[128];

    snprintf(k, sizeof(k), "%s" QKEY_NOTIFY, t.k.prefix);
    cr_assert_eq(th_rint(&t, "HSET %s %s %s", k, id, json), 1);
}

static long long
echo_exists(const char *id)
{
    char k[128];

    snprintf(k, sizeof(k), "%s" QKEY_NOTIFY, t.k.prefix);
    return th_rint(&t, "HEXISTS %s %s", k, id);
}

/* All entries of the feed (XRANGE - +); caller frees. */
static redisReply *
feed_all(void)
{
    redisReply *r = redisCommand(t.c, "XRANGE %s - +", feed_key());

    cr_assert(r && r->type == REDIS_REPLY_ARRAY, "XRANGE failed");
    return r;
}

/* Field name of feed entry e (borrowed; NULL when absent). */
static const char *
field(const redisReply *e, const char *name)
{
    const redisReply *f = e->element[1];

    for (size_t i = 0; i + 1 < f->elements; i += 2)
        if (!strcmp(f->element[i]->str, name))
            return f->element[i + 1]->str;
    return NULL;
}

/* Assert that entry e is the v1 entry of id in state st, with the echo
 * metadata (NULL: no metadata field) and nothing else. */
static void
assert_entry(const redisReply *e, const char *id, const char *st,
             const char *metadata)
{
    cr_assert_str_eq(field(e, "v"), "1");
    cr_assert_str_eq(field(e, "id"), id);
    cr_assert_str_eq(field(e, "state"), st, "%s", id);
    cr_assert_str_eq(field(e, "queue"), t.queue);
    if (metadata)
        cr_assert_str_eq(field(e, "metadata"), metadata);
    else
        cr_assert_null(field(e, "metadata"), "%s has no notify", id);
    cr_assert_eq(e->element[1]->elements, metadata ? 10u : 8u);
}

/* One expected feed entry: job id, state, echo (NULL: none). */
struct want {
    const char *id, *state, *metadata;
};

/* Assert that the feed holds exactly the n entries of w, in order. */
static void
assert_feed(const struct want *w, size_t n)
{
    redisReply *f = feed_all();

    cr_assert_eq(f->elements, n, "%zu feed entries, want %zu", f->elements, n);
    for (size_t i = 0; i < n; i++)
        assert_entry(f->element[i], w[i].id, w[i].state, w[i].metadata);
    freeReplyObject(f);
}

/* Enqueue n jobs PREFIX0.. and claim them (one call, max_attempts max);
 * returns the claim reply (caller frees). */
static redisReply *
enqueue_claim(const char *prefix, int n, int max, long vis_ms)
{
    char id[32], p[96];

    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "%s%d", prefix, i);
        snprintf(p, sizeof(p), "{\"id\":\"%s\",\"prompt\":\"p\"}", id);
        th_enqueue(&t, id, 1, 0, max, NULL, p);
    }
    redisReply *r = th_claim(&t, "w-feed", n, vis_ms, max);
    cr_assert_eq(r->elements, 1 + 4 * (size_t)n);
    return r;
}

/* Complete the jobs of claim reply r (result "{}"), passing the feed bound
 * fmax (NULL: none, the script's default). Returns how many were stored. */
static int
complete_all(redisReply *r, const char *ttl_ms, const char *fmax)
{
    size_t n = (r->elements - 1) / 4;
    const char **av = malloc(sizeof(*av) * (3 * n + 2));
    char err[256];
    redisReply *c;
    int k = 0, stored = 0;

    cr_assert(av);
    av[k++] = ttl_ms;
    for (size_t i = 0; i < n; i++) {
        av[k++] = r->element[1 + 4 * i]->str;
        av[k++] = r->element[2 + 4 * i]->str;
        av[k++] = "{}";
    }
    if (fmax)
        av[k++] = fmax;
    c = rclient_script(t.c, SCRIPT_COMPLETE, &t.k, k, av, NULL, err,
                       sizeof(err));
    cr_assert(c, "%s", err);
    for (size_t i = 0; i < c->elements; i++)
        stored += (int)c->element[i]->integer;
    freeReplyObject(c);
    free(av);
    return stored;
}

Test(feed, complete_one_entry_per_job_with_the_echo)
{
    redisReply *r;

    r = enqueue_claim("c", 3, 5, 60000);
    echo_set("c0", "{\"article_id\":7}");
    cr_assert_eq(complete_all(r, "60000", "1000"), 3);
    /* the same jobs again (stale now): no second entry */
    cr_assert_eq(complete_all(r, "60000", "1000"), 0);
    freeReplyObject(r);
    assert_feed((struct want[]){{"c0", "succeeded", "{\"article_id\":7}"},
                                {"c1", "succeeded", NULL},
                                {"c2", "succeeded", NULL}},
                3);
    /* the private events stream is no longer written: the feed has it all */
    cr_assert_eq(th_rint(&t, "EXISTS %s", t.k.key[QK_EVENTS]), 0);
    /* the echo stays until the job is deleted */
    cr_assert_eq(echo_exists("c0"), 1);
}

Test(feed, failure_paths_dead_canceled_and_none)
{
    char e[256], *out, *err;
    redisReply *r, *f;

    th_err_json(e, sizeof(e), "transient", 500, "boom");
    /* retry with attempts left: delayed, no entry */
    r = enqueue_claim("r", 1, 5, 60000);
    echo_set("r0", "{\"k\":\"v\"}");
    f = th_script(&t, SCRIPT_FAIL, "r0", r->element[2]->str, "retry", "60000",
                  e, "1000", NULL);
    cr_assert_str_eq(f->element[0]->str, "delayed");
    freeReplyObject(f);
    freeReplyObject(r);
    cr_assert_eq(th_rint(&t, "EXISTS %s", feed_key()), 0);
    /* dead at once, with its echo */
    r = enqueue_claim("d", 1, 5, 60000);
    echo_set("d0", "{\"k\":[1,2]}");
    f = th_script(&t, SCRIPT_FAIL, "d0", r->element[2]->str, "dead", "0", e,
                  "1000", NULL);
    cr_assert_str_eq(f->element[0]->str, "dead");
    freeReplyObject(f);
    freeReplyObject(r);
    /* lease expired on the last attempt: dead through maintain's reap */
    r = enqueue_claim("l", 1, 1, 1);
    freeReplyObject(r);
    th_sleep_ms(20);
    freeReplyObject(th_script(&t, SCRIPT_MAINTAIN, "0", "1000", NULL));
    /* genq cancel of a queued job: canceled at once */
    th_enqueue(&t, "q0", 1, 0, 0, NULL, "{\"prompt\":\"q\"}");
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "cancel", "q0", NULL), 0, "%s",
                 err);
    free(out);
    free(err);
    assert_feed((struct want[]){{"d0", "dead", "{\"k\":[1,2]}"},
                                {"l0", "dead", NULL},
                                {"q0", "canceled", NULL}},
                3);
}

Test(feed, cancel_bound_from_env_and_flag)
{
    const char *argv[16] = {th_bin("genq"), "cancel", "n0"};
    const char *off[] = {"GENQ_FEED_MAXLEN=0", NULL};
    const char *bad[] = {"GENQ_FEED_MAXLEN=lots", NULL};
    char *out, *err;

    th_redis_args(argv, 3, t.queue);
    th_enqueue(&t, "n0", 1, 0, 0, NULL, "{\"prompt\":\"n\"}");
    th_enqueue(&t, "n1", 1, 0, 0, NULL, "{\"prompt\":\"n\"}");
    /* a bad bound: a usage error naming the variable, nothing canceled */
    cr_assert_eq(th_run(argv, bad, NULL, 0, &out, &err), 2);
    cr_assert(strstr(err, "GENQ_FEED_MAXLEN: expected 0..1000000000, got "
                          "'lots'"),
              "%s", err);
    free(out);
    free(err);
    cr_assert_eq(th_genq(&t, NULL, NULL, &err, "cancel", "n1", "--feed-maxlen",
                         "-1", NULL),
                 2);
    cr_assert(strstr(err, "--feed-maxlen: expected 0..1000000000, got '-1'"),
              "%s", err);
    free(err);
    /* 0: canceled, no feed entry */
    cr_assert_eq(th_run(argv, off, NULL, 0, &out, &err), 0, "%s", err);
    free(out);
    free(err);
    cr_assert_eq(th_rint(&t, "EXISTS %s", feed_key()), 0);
    /* the flag wins over the environment */
    argv[2] = "n1";
    th_redis_args(argv, 3, t.queue);
    argv[7] = "--feed-maxlen";
    argv[8] = "5";
    argv[9] = NULL;
    cr_assert_eq(th_run(argv, off, NULL, 0, &out, &err), 0, "%s", err);
    free(out);
    free(err);
    assert_feed((struct want[]){{"n1", "canceled", NULL}}, 1);
}

/* Whether stream id a ("MS-SEQ") is below b: how a consumer compares its
 * last id with the feed's first. */
static int
id_less(const char *a, const char *b)
{
    unsigned long long am = strtoull(a, NULL, 10), bm = strtoull(b, NULL, 10);
    const char *ad = strchr(a, '-'), *bd = strchr(b, '-');

    cr_assert(ad && bd);
    if (am != bm)
        return am < bm;
    return strtoull(ad + 1, NULL, 10) < strtoull(bd + 1, NULL, 10);
}

Test(feed, off_and_bounded_and_falling_behind)
{
    redisReply *r, *f, *x;
    long long node;
    char first[64];

    /* 0: the feed is off */
    r = enqueue_claim("o", 5, 5, 60000);
    cr_assert_eq(complete_all(r, "60000", "0"), 5);
    freeReplyObject(r);
    cr_assert_eq(th_rint(&t, "EXISTS %s", feed_key()), 0);
    /* no bound given: the default (100,000) keeps them all */
    r = enqueue_claim("a", 5, 5, 60000);
    cr_assert_eq(complete_all(r, "60000", NULL), 5);
    freeReplyObject(r);
    cr_assert_eq(th_rint(&t, "XLEN %s", feed_key()), 5);
    f = feed_all();
    snprintf(first, sizeof(first), "%s", f->element[0]->element[0]->str);
    freeReplyObject(f);
    /* bound 10: trimmed in whole stream nodes, so between 10 and 10 plus
     * one node (stream-node-max-entries) are kept */
    x = redisCommand(t.c, "CONFIG GET stream-node-max-entries");
    cr_assert(x && x->elements == 2);
    node = atoll(x->element[1]->str);
    freeReplyObject(x);
    for (int b = 0; b < 3; b++) {
        char pre[16];
        snprintf(pre, sizeof(pre), "b%d-", b);
        r = enqueue_claim(pre, 200, 5, 60000);
        cr_assert_eq(complete_all(r, "60000", "10"), 200);
        freeReplyObject(r);
    }
    long long len = th_rint(&t, "XLEN %s", feed_key());
    cr_assert(len >= 10 && len <= 10 + node, "XLEN %lld (node %lld)", len,
              node);
    /* a consumer whose last id is below the first entry fell behind */
    x = redisCommand(t.c, "XRANGE %s - + COUNT 1", feed_key());
    cr_assert(x && x->elements == 1);
    cr_assert(id_less(first, x->element[0]->element[0]->str),
              "the oldest entry %s was trimmed (first now %s)", first,
              x->element[0]->element[0]->str);
    freeReplyObject(x);
}

Test(feed, echo_deleted_with_the_job)
{
    redisReply *r, *p;

    /* retention sweep (maintain.lua) */
    r = enqueue_claim("s", 1, 5, 60000);
    echo_set("s0", "{\"n\":1}");
    cr_assert_eq(complete_all(r, "1", "1000"), 1);
    freeReplyObject(r);
    th_sleep_ms(20);
    freeReplyObject(th_script(&t, SCRIPT_MAINTAIN, NULL));
    cr_assert_eq(echo_exists("s0"), 0);
    /* dlq requeue keeps it (the job lives on), dlq purge deletes it */
    echo_set("p0", "{\"n\":2}");
    th_make_dead(&t, "p0", "p", NULL, "permanent", 400, "bad");
    p = th_script(&t, SCRIPT_DLQ_REQUEUE, "1", "p0", NULL);
    cr_assert_str_eq(p->element[0]->str, "requeued");
    freeReplyObject(p);
    cr_assert_eq(echo_exists("p0"), 1);
    r = th_claim(&t, "w-feed", 1, 60000, 5);
    char e[256];
    th_err_json(e, sizeof(e), "permanent", 400, "bad");
    p = th_script(&t, SCRIPT_FAIL, "p0", r->element[2]->str, "dead", "0", e,
                  NULL);
    freeReplyObject(p);
    freeReplyObject(r);
    p = th_script(&t, SCRIPT_DLQ_PURGE, "p0", NULL);
    cr_assert_str_eq(p->element[0]->str, "purged");
    freeReplyObject(p);
    cr_assert_eq(echo_exists("p0"), 0);
    /* both deaths of p0 were fed, each with the echo */
    assert_feed((struct want[]){{"s0", "succeeded", "{\"n\":1}"},
                                {"p0", "dead", "{\"n\":2}"},
                                {"p0", "dead", "{\"n\":2}"}},
                3);
}

/* Wait (up to 20 s) until the feed has n entries. */
static void
wait_feed(long long n)
{
    for (int i = 0; i < 400; i++) {
        if (th_rint(&t, "XLEN %s", feed_key()) >= n)
            return;
        th_sleep_ms(50);
    }
    cr_assert_fail("the feed never reached %lld entries", n);
}

Test(feed, worker_end_to_end_and_result_read)
{
    const char *off[] = {"--feed-maxlen", "0", NULL};
    char e0[] = "e0", *ids[1] = {e0}, *out, *err;
    redisReply *h;
    cJSON *a, *b;
    pid_t w;

    th_enqueue(&t, "e0", 1, 0, 0, NULL,
               "{\"id\":\"e0\",\"prompt\":\"off\",\"max_tokens\":20}");
    w = th_worker(&t, NULL, off);
    cr_assert_eq(th_wait_terminal(&t, ids, 1, 20), 1);
    th_stop(w);
    cr_assert_eq(th_rint(&t, "EXISTS %s", feed_key()), 0, "--feed-maxlen 0");
    th_enqueue(&t, "e1", 1, 0, 0, NULL,
               "{\"id\":\"e1\",\"prompt\":\"Write about Redis\",\"max_tokens\":"
               "200,\"metadata\":{\"article_id\":7}}");
    echo_set("e1", "{\"article_id\":7}");
    w = th_worker(&t, NULL, NULL);
    wait_feed(1);
    th_stop(w);
    assert_feed((struct want[]){{"e1", "succeeded", "{\"article_id\":7}"}}, 1);
    /* the stable result read: HGET genq:{Q}:results ID is the document
     * `genq result ID --json` prints */
    h = redisCommand(t.c, "HGET %s e1", t.k.key[QK_RESULTS]);
    cr_assert(h && h->type == REDIS_REPLY_STRING);
    a = cJSON_Parse(h->str);
    freeReplyObject(h);
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "result", "e1", "--json", NULL),
                 0, "%s", err);
    b = cJSON_Parse(out);
    cr_assert(a && b, "%s", out);
    cr_assert(cJSON_Compare(a, b, 1));
    cr_assert_str_eq(cJSON_GetObjectItem(a, "state")->valuestring, "succeeded");
    cr_assert_eq(
        cJSON_GetObjectItem(cJSON_GetObjectItem(a, "metadata"), "article_id")
            ->valuedouble,
        7);
    cJSON_Delete(a);
    cJSON_Delete(b);
    free(out);
    free(err);
}
