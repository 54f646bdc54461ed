/* `genq stats` from tallies (issue 15, target 1): the rates and latency
 * percentiles the stats script now reads from the per-second tallies and
 * the latency sample (keys.h QKEY_TALLY, QKEY_LAT) equal what the first
 * version computed by scanning the events stream and the result documents,
 * on the same data; they no longer depend on the events stream at all;
 * maintain.lua prunes old tallies; the sample keeps the newest
 * LAT_SAMPLES. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <criterion/criterion.h>

#include "harness.h"
#include "rclient.h"

TH_SUITE(stats_tally, .timeout = 120);

#define N_OK     250 /* completed, in 5 batches */
#define N_DEAD   30
#define N_CANCEL 20

/* The latency of the i-th completed job: spread, with repeats. */
static long
lat_of(int i)
{
    return (long)((i * 37) % 997) + 1;
}

/* Complete the jobs of claim reply r from index from (0-based) for n jobs,
 * each with a result document that has latency_ms lat_of(first + k); with
 * joined, also the latencies as the worker sends them (the feed's bound,
 * then all of them joined by ','), which complete.lua keeps as one sample
 * element when every job succeeds. */
static void
complete_range(redisReply *r, int from, int n, int first, int joined)
{
    const char **av = malloc(sizeof(*av) * (size_t)(3 * n + 3));
    char(*docs)[160] = malloc(sizeof(*docs) * (size_t)n);
    char *lats = malloc((size_t)n * 24 + 1), err[256];
    redisReply *c;
    int k = 0;
    size_t ll = 0;

    cr_assert(av && docs && lats);
    lats[0] = '\0';
    av[k++] = "600000";
    for (int i = 0; i < n; i++) {
        redisReply **e = &r->element[1 + 4 * (from + i)];
        snprintf(docs[i], sizeof(docs[i]),
                 "{\"id\":\"%s\",\"state\":\"succeeded\",\"text\":\"a "
                 "\\\"latency_ms\\\":9 quoted\",\"latency_ms\":%ld}",
                 e[0]->str, lat_of(first + i));
        ll += (size_t)snprintf(lats + ll, 24, "%s%ld", i ? "," : "",
                               lat_of(first + i));
        av[k++] = e[0]->str;
        av[k++] = e[1]->str;
        av[k++] = docs[i];
    }
    if (joined) {
        av[k++] = "100000";
        av[k++] = lats;
    }
    c = rclient_script(t.c, SCRIPT_COMPLETE, &t.k, k, av, NULL, err,
                       sizeof(err));
    cr_assert(c, "%s", err);
    for (size_t i = 0; i < c->elements; i++)
        cr_assert_eq(c->element[i]->integer, 1);
    freeReplyObject(c);
    free(lats);
    free(docs);
    free(av);
}

/* The figures of the first stats script, from the transitions (then the
 * events stream; the feed has the same, one entry per job) and the result
 * documents (its algorithm: every transition of the last minute counted;
 * the latency_ms of the result documents of the newest <= 200 succeeded
 * jobs, nearest rank). */
struct old_figs {
    long succ, dead, canc, samples, p50, p95;
};

static int
cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Field name of feed entry fields fl (v 1 id ID state ST ...), or "". */
static const char *
feed_field(const redisReply *fl, const char *name)
{
    for (size_t i = 0; i + 1 < fl->elements; i += 2)
        if (!strcmp(fl->element[i]->str, name))
            return fl->element[i + 1]->str;
    return "";
}

static void
old_figures(struct old_figs *f)
{
    redisReply *r = redisCommand(t.c, "XREVRANGE %s%s + - COUNT 100000",
                                 t.k.prefix, QKEY_FEED);
    const char *ids[200];
    long lat[200];
    int n = 0, nl = 0;

    memset(f, 0, sizeof(*f));
    cr_assert(r && r->type == REDIS_REPLY_ARRAY);
    for (size_t e = 0; e < r->elements; e++) { /* newest first */
        redisReply *fl = r->element[e]->element[1];
        const char *st = feed_field(fl, "state");
        f->succ += !strcmp(st, "succeeded");
        f->dead += !strcmp(st, "dead");
        f->canc += !strcmp(st, "canceled");
        if (!strcmp(st, "succeeded") && n < 200)
            ids[n++] = feed_field(fl, "id");
    }
    for (int i = 0; i < n; i++) {
        redisReply *d =
            redisCommand(t.c, "HGET %s %s", t.k.key[QK_RESULTS], ids[i]);
        const char *p;
        cr_assert(d);
        if (d->type == REDIS_REPLY_STRING &&
            (p = strstr(d->str, ",\"latency_ms\":")))
            lat[nl++] = strtol(p + 14, NULL, 10);
        freeReplyObject(d);
    }
    freeReplyObject(r);
    qsort(lat, (size_t)nl, sizeof(long), cmp_long);
    f->samples = nl;
    f->p50 = nl ? lat[(nl + 1) / 2 - 1] : -1;
    f->p95 = nl ? lat[(nl * 95 + 99) / 100 - 1] : -1;
}

static cJSON *
stats_json(void)
{
    char *out, *err;
    cJSON *o[2];

    cr_assert_eq(th_genq(&t, NULL, &out, &err, "stats", "--json", NULL), 0,
                 "%s", err);
    cr_assert_eq(th_jsonl(out, o, 2), 1, "%s", out);
    free(out);
    free(err);
    return o[0];
}

static double
round2(double v)
{
    return (double)(long long)(v * 100.0 + 0.5) / 100.0;
}

static void
assert_equal_old(cJSON *o, const struct old_figs *f)
{
    cr_assert_eq(th_num(o, "completed_per_s"), round2((double)f->succ / 60.0),
                 "completed_per_s %g, old %ld/60", th_num(o, "completed_per_s"),
                 f->succ);
    cr_assert_eq(th_num(o, "died_per_s"), round2((double)f->dead / 60.0));
    cr_assert_eq(th_num(o, "latency_samples"), (double)f->samples);
    cr_assert_eq(th_num(o, "latency_p50_ms"), (double)f->p50, "p50 %g vs %ld",
                 th_num(o, "latency_p50_ms"), f->p50);
    cr_assert_eq(th_num(o, "latency_p95_ms"), (double)f->p95, "p95 %g vs %ld",
                 th_num(o, "latency_p95_ms"), f->p95);
}

/* The sum of the tally fields starting with c ("s", "d", "c"). */
static long
tally_sum(char c)
{
    redisReply *r = redisCommand(t.c, "HGETALL %s%s", t.k.prefix, QKEY_TALLY);
    long sum = 0;

    cr_assert(r && r->type == REDIS_REPLY_ARRAY);
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (r->element[i]->str[0] == c && r->element[i]->str[1] == ':')
            sum += strtol(r->element[i + 1]->str, NULL, 10);
    freeReplyObject(r);
    return sum;
}

/* The data of the figures tests: N_OK jobs completed in 5 calls (their
 * latencies joined, as the worker sends them, or read from each document),
 * N_DEAD dead, N_CANCEL canceled; then the figures equal the scan's. */
static void
figures_equal_on_the_same_data(int joined)
{
    char id[32], e[256], ttl[] = "600000", fmax[] = "1000";
    const char **av;
    redisReply *r, *f;
    struct old_figs old;
    cJSON *o;
    int k = 0;

    for (int i = 0; i < N_OK + N_DEAD; i++) {
        snprintf(id, sizeof(id), "j%04d", i);
        th_enqueue(&t, id, 1, 0, 5, NULL, "{\"prompt\":\"x\"}");
    }
    r = th_claim(&t, "w-tally", N_OK + N_DEAD, 60000, 5);
    cr_assert_eq(r->elements, 1 + 4 * (N_OK + N_DEAD));
    for (int b = 0; b < 5; b++)
        complete_range(r, b * (N_OK / 5), N_OK / 5, b * (N_OK / 5), joined);
    /* the rest die in one fail call */
    av = malloc(sizeof(*av) * (5 * N_DEAD + 1));
    cr_assert(av);
    th_err_json(e, sizeof(e), "permanent", 400, "bad");
    for (int i = N_OK; i < N_OK + N_DEAD; i++) {
        av[k++] = r->element[1 + 4 * i]->str;
        av[k++] = r->element[2 + 4 * i]->str;
        av[k++] = "dead";
        av[k++] = "0";
        av[k++] = e;
    }
    {
        char err[256];
        f = rclient_script(t.c, SCRIPT_FAIL, &t.k, k, av, NULL, err,
                           sizeof(err));
        cr_assert(f, "%s", err);
        freeReplyObject(f);
    }
    free(av);
    freeReplyObject(r);
    /* and some queued ones are canceled */
    for (int i = 0; i < N_CANCEL; i++) {
        snprintf(id, sizeof(id), "c%04d", i);
        th_enqueue(&t, id, 1, 0, 5, NULL, "{\"prompt\":\"y\"}");
        freeReplyObject(th_script(&t, SCRIPT_CANCEL, ttl, fmax, id, NULL));
    }

    old_figures(&old);
    cr_assert_eq(old.succ, N_OK);
    cr_assert_eq(old.dead, N_DEAD);
    cr_assert_eq(old.canc, N_CANCEL);
    cr_assert_eq(old.samples, 200, "the newest 200 of 250");
    o = stats_json();
    assert_equal_old(o, &old);
    cJSON_Delete(o);
    cr_assert_eq(tally_sum('s'), N_OK);
    cr_assert_eq(tally_sum('d'), N_DEAD);
    cr_assert_eq(tally_sum('c'), N_CANCEL);
    cr_assert_eq(th_rint(&t, "LLEN %s%s", t.k.prefix, QKEY_LAT),
                 joined ? 5 : N_OK,
                 "one element per call when joined; not trimmed below "
                 "2 * LAT_SAMPLES");

    /* the figures do not come from the transitions themselves */
    cr_assert_eq(th_rint(&t, "DEL %s%s", t.k.prefix, QKEY_FEED), 1);
    o = stats_json();
    assert_equal_old(o, &old);
    cJSON_Delete(o);
}

Test(stats_tally, figures_equal_the_event_scan_on_the_same_data)
{
    figures_equal_on_the_same_data(0);
}

Test(stats_tally, figures_equal_the_scan_with_the_latencies_joined)
{
    figures_equal_on_the_same_data(1);
}

/* The latency list is trimmed to the newest LAT_SAMPLES elements once an
 * LPUSH makes it longer than twice that (complete.lua), and the figures
 * read the newest LAT_SAMPLES either way. */
Test(stats_tally, latency_list_trimmed_once_past_twice_the_samples)
{
    enum { CALLS = 3, PER = 150 }; /* 150, 300 kept; 450 trimmed */
    char id[32];
    redisReply *r;
    cJSON *o;

    for (int i = 0; i < CALLS * PER; i++) {
        snprintf(id, sizeof(id), "t%04d", i);
        th_enqueue(&t, id, 1, 0, 5, NULL, "{\"prompt\":\"x\"}");
    }
    r = th_claim(&t, "w-tally", CALLS * PER, 60000, 5);
    cr_assert_eq(r->elements, 1 + 4 * CALLS * PER);
    for (int c = 0; c < CALLS; c++) {
        complete_range(r, c * PER, PER, c * PER, 0);
        cr_assert_eq(th_rint(&t, "LLEN %s%s", t.k.prefix, QKEY_LAT),
                     c < 2 ? (c + 1) * PER : LAT_SAMPLES, "after call %d", c);
    }
    freeReplyObject(r);
    o = stats_json();
    cr_assert_eq(th_num(o, "latency_samples"), LAT_SAMPLES);
    cJSON_Delete(o);
}

Test(stats_tally, a_small_batch_and_no_samples)
{
    redisReply *r;
    cJSON *o;

    o = stats_json();
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "latency_p50_ms")));
    cr_assert_eq(th_num(o, "latency_samples"), 0);
    cr_assert_eq(th_num(o, "completed_per_s"), 0);
    cJSON_Delete(o);
    th_enqueue(&t, "a1", 1, 0, 5, NULL, "{\"prompt\":\"x\"}");
    th_enqueue(&t, "a2", 1, 0, 5, NULL, "{\"prompt\":\"x\"}");
    r = th_claim(&t, "w-tally", 2, 60000, 5);
    /* one document without latency_ms: counted, not sampled */
    freeReplyObject(th_script(&t, SCRIPT_COMPLETE, "60000", "a1",
                              r->element[2]->str, "{\"latency_ms\":70}", "a2",
                              r->element[6]->str, "{\"x\":1}", NULL));
    freeReplyObject(r);
    o = stats_json();
    cr_assert_eq(th_num(o, "latency_samples"), 1);
    cr_assert_eq(th_num(o, "latency_p50_ms"), 70);
    cr_assert_eq(th_num(o, "latency_p95_ms"), 70);
    cr_assert_eq(th_num(o, "completed_per_s"), 0.03, "2 / 60 s");
    cJSON_Delete(o);
}

/* Joined latencies of a call where not every job succeeded: the sample
 * takes the stored jobs' own, from their documents, not the joined ones. */
Test(stats_tally, joined_latencies_of_a_call_with_a_stale_job)
{
    const char *av[9];
    char err[256];
    redisReply *r, *c;
    cJSON *o;

    th_enqueue(&t, "b1", 1, 0, 5, NULL, "{\"prompt\":\"x\"}");
    th_enqueue(&t, "b2", 1, 0, 5, NULL, "{\"prompt\":\"x\"}");
    r = th_claim(&t, "w-tally", 2, 60000, 5);
    cr_assert_eq(r->elements, 9);
    av[0] = "60000";
    av[1] = r->element[1]->str;
    av[2] = r->element[2]->str;
    av[3] = "{\"latency_ms\":40}";
    av[4] = r->element[5]->str;
    av[5] = "0:0"; /* not its lease: stale */
    av[6] = "{\"latency_ms\":50}";
    av[7] = "100000";
    av[8] = "41,50"; /* what the call says; the stored document wins */
    c = rclient_script(t.c, SCRIPT_COMPLETE, &t.k, 9, av, NULL, err,
                       sizeof(err));
    cr_assert(c, "%s", err);
    cr_assert_eq(c->elements, 2);
    cr_assert_eq(c->element[0]->integer, 1);
    cr_assert_eq(c->element[1]->integer, 0);
    freeReplyObject(c);
    freeReplyObject(r);
    cr_assert_eq(th_rint(&t, "LLEN %s%s", t.k.prefix, QKEY_LAT), 1);
    o = stats_json();
    cr_assert_eq(th_num(o, "latency_samples"), 1);
    cr_assert_eq(th_num(o, "latency_p50_ms"), 40);
    cJSON_Delete(o);
}

Test(stats_tally, maintain_prunes_old_tallies_only)
{
    char f[32];
    redisReply *r;

    /* 250 fields of long ago, and one of now */
    for (int i = 0; i < 250; i++) {
        snprintf(f, sizeof(f), "%c:%d", "sdc"[i % 3], 1000 + i);
        freeReplyObject(
            redisCommand(t.c, "HSET %s%s %s 1", t.k.prefix, QKEY_TALLY, f));
    }
    th_enqueue(&t, "m1", 1, 0, 5, NULL, "{\"prompt\":\"x\"}");
    r = th_claim(&t, "w-tally", 1, 60000, 5);
    freeReplyObject(th_script(&t, SCRIPT_COMPLETE, "60000", "m1",
                              r->element[2]->str, "{}", NULL));
    freeReplyObject(r);
    cr_assert_eq(th_rint(&t, "HLEN %s%s", t.k.prefix, QKEY_TALLY), 251);
    freeReplyObject(th_script(&t, SCRIPT_MAINTAIN, NULL));
    cr_assert_eq(th_rint(&t, "HLEN %s%s", t.k.prefix, QKEY_TALLY), 1,
                 "only this second's tally is left");
    cr_assert_eq(tally_sum('s'), 1);
}
