/* genq stats --by template, and the review counts of genq stats: per
 * template version (the worker's figures in each queue's template hash,
 * worker/tmplstats.c) jobs, success rate, mean and p95 output tokens (p95
 * from the histogram buckets, within 10%), mean latency, review flag rate
 * and cost per job; a table on a terminal, tab-separated lines otherwise,
 * JSONL with --json (schemas/stats-template.schema.json). */
#include "fmacros.h"

#include <stdlib.h>
#include <string.h>

#include "cmd_ops.h"
#include "cmd_stats_tmpl.h"
#include "rclient.h"
#include "template.h"
#include "tmplhist.h"

struct tfig {
    char queue[QUEUE_NAME_MAX + 1];
    char ref[TEMPLATE_REF_MAX + 1];
    long long jobs, ok, review, dead, out, lat_ms, usd_u;
    long long hist[TMPLHIST_BUCKETS];
};

/* The row of (queue, ref) in *rows (grown as needed); NULL on OOM. */
static struct tfig *
row(struct tfig **rows, int *n, int *cap, const char *queue, const char *ref,
    size_t reflen)
{
    struct tfig *r;

    for (int i = 0; i < *n; i++)
        if (!strcmp((*rows)[i].queue, queue) &&
            strlen((*rows)[i].ref) == reflen &&
            !memcmp((*rows)[i].ref, ref, reflen))
            return &(*rows)[i];
    if (reflen > TEMPLATE_REF_MAX)
        return NULL;
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 16;
        struct tfig *g = realloc(*rows, sizeof(*g) * (size_t)nc);
        if (!g)
            return NULL;
        *rows = g;
        *cap = nc;
    }
    r = &(*rows)[(*n)++];
    memset(r, 0, sizeof(*r));
    snprintf(r->queue, sizeof r->queue, "%s", queue);
    memcpy(r->ref, ref, reflen);
    r->ref[reflen] = '\0';
    return r;
}

/* Read queue's template hash into rows. 0, or -1 after printing why. */
static int
load_queue(struct cli *c, const char *queue, struct tfig **rows, int *n,
           int *cap)
{
    struct qkeys k;
    redisReply *r;

    if (qkeys_init(&k, queue) < 0)
        return 0;
    r = rclient_command(cli_rc(c, k.tmplstats), "HGETALL %s", k.tmplstats);
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return cli_redis_fail(c, "stats", r, "unexpected reply"), -1;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *f = r->element[i]->str, *bar;
        long long v = strtoll(r->element[i + 1]->str, NULL, 10);
        struct tfig *t;

        if (r->element[i]->type != REDIS_REPLY_STRING ||
            !(bar = strchr(f, '|')))
            continue;
        t = row(rows, n, cap, queue, f, (size_t)(bar - f));
        if (!t) {
            freeReplyObject(r);
            return cli_fail("stats", "out of memory"), -1;
        }
        bar++;
        if (!strcmp(bar, "jobs"))
            t->jobs = v;
        else if (!strcmp(bar, "ok"))
            t->ok = v;
        else if (!strcmp(bar, "review"))
            t->review = v;
        else if (!strcmp(bar, "dead"))
            t->dead = v;
        else if (!strcmp(bar, "out"))
            t->out = v;
        else if (!strcmp(bar, "lat_ms"))
            t->lat_ms = v;
        else if (!strcmp(bar, "usd_u"))
            t->usd_u = v;
        else if (!strncmp(bar, "h:", 2)) {
            long b = strtol(bar + 2, NULL, 10);
            if (b >= 0 && b < TMPLHIST_BUCKETS)
                t->hist[b] = v;
        }
    }
    freeReplyObject(r);
    return 0;
}

/* The p95 of the output tokens: the upper edge of the bucket holding the
 * 95th percentile; -1 when there is nothing. */
static double
p95(const struct tfig *t)
{
    long long total = 0, seen = 0, want;

    for (int b = 0; b < TMPLHIST_BUCKETS; b++)
        total += t->hist[b];
    if (total == 0)
        return -1;
    want = (total * 95 + 99) / 100;
    for (int b = 0; b < TMPLHIST_BUCKETS; b++) {
        seen += t->hist[b];
        if (seen >= want)
            return tmplhist_upper(b);
    }
    return tmplhist_upper(TMPLHIST_BUCKETS - 1);
}

static double
ratio(long long a, long long b)
{
    return b > 0 ? (double)(long long)((double)a / (double)b * 10000.0 + 0.5) /
                       10000.0
                 : 0;
}

static cJSON *
tfig_doc(const struct tfig *t)
{
    cJSON *o = cJSON_CreateObject();
    char name[TEMPLATE_REF_MAX + 1], ver[TEMPLATE_VERSION_MAX + 1];
    int bad = !o;
    double p = p95(t);

    if (!o)
        return NULL;
    if (template_ref_parts(t->ref, name, sizeof name, ver, sizeof ver) < 0) {
        snprintf(name, sizeof name, "%s", t->ref); /* a field set by hand */
        ver[0] = '\0';
    }
    ops_jstr(o, "queue", t->queue, &bad);
    ops_jstr(o, "template", name, &bad);
    ops_jstr(o, "version", ver[0] ? ver : NULL, &bad);
    ops_jnum(o, "jobs", (double)t->jobs, &bad);
    ops_jnum(o, "succeeded", (double)(t->ok - t->review), &bad);
    ops_jnum(o, "review", (double)t->review, &bad);
    ops_jnum(o, "dead", (double)t->dead, &bad);
    ops_jnum(o, "success_rate", ratio(t->ok, t->jobs), &bad);
    if (t->ok > 0) {
        ops_jnum(o, "output_tokens_mean", ratio(t->out * 100, t->ok) / 100.0,
                 &bad);
        ops_jnum(o, "latency_ms_mean", ratio(t->lat_ms, t->ok), &bad);
    } else {
        ops_jnull(o, "output_tokens_mean", &bad);
        ops_jnull(o, "latency_ms_mean", &bad);
    }
    if (p >= 0)
        ops_jnum(o, "output_tokens_p95", p, &bad);
    else
        ops_jnull(o, "output_tokens_p95", &bad);
    ops_jnum(o, "review_rate", ratio(t->review, t->ok), &bad);
    ops_jnum(o, "cost_usd_per_job",
             t->jobs > 0 ? (double)t->usd_u / 1e6 / (double)t->jobs : 0, &bad);
    if (bad) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int
cmp_fig(const void *a, const void *b)
{
    const struct tfig *x = a, *y = b;
    int c = strcmp(x->queue, y->queue);
    return c ? c : strcmp(x->ref, y->ref);
}

int
stats_by_template(struct cli *c, int explicit_queue)
{
    struct tfig *rows = NULL;
    int n = 0, cap = 0, rc = EXIT_OK;
    redisReply *qs = NULL;
    struct ops_tty t;

    if (explicit_queue) {
        if (load_queue(c, c->queue, &rows, &n, &cap) < 0)
            rc = EXIT_FAIL;
    } else {
        qs = rclient_command(cli_rc(c, KEY_QUEUES), "SMEMBERS %s", KEY_QUEUES);
        if (!qs || qs->type != REDIS_REPLY_ARRAY)
            return cli_redis_fail(c, "stats", qs, "unexpected reply");
        for (size_t i = 0; i < qs->elements && rc == EXIT_OK; i++)
            if (qs->element[i]->type == REDIS_REPLY_STRING &&
                load_queue(c, qs->element[i]->str, &rows, &n, &cap) < 0)
                rc = EXIT_FAIL;
        freeReplyObject(qs);
    }
    if (rc != EXIT_OK) {
        free(rows);
        return rc;
    }
    if (n > 1)
        qsort(rows, (size_t)n, sizeof(*rows), cmp_fig);
    ops_tty_init(&t);
    if (!c->json)
        printf(t.tty ? "%-16s %-24s %7s %7s %9s %9s %10s %7s %10s\n"
                     : "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
               "QUEUE", "TEMPLATE", "JOBS", "OK%", "OUT_MEAN", "OUT_P95",
               "LAT_MS", "REVIEW%", "USD/JOB");
    for (int i = 0; i < n && rc == EXIT_OK; i++) {
        const struct tfig *f = &rows[i];
        double p = p95(f);
        if (c->json) {
            if (cli_print_json(tfig_doc(f)) < 0)
                rc = cli_fail("stats", "out of memory");
            continue;
        }
        printf(t.tty ? "%-16s %-24s %7lld %6.1f%% %9.1f %9.0f %10.0f %6.1f%% "
                       "%10.6f\n"
                     : "%s\t%s\t%lld\t%.1f%%\t%.1f\t%.0f\t%.0f\t%.1f%%\t%.6f\n",
               f->queue, f->ref, f->jobs, 100.0 * ratio(f->ok, f->jobs),
               f->ok ? (double)f->out / (double)f->ok : 0.0, p < 0 ? 0 : p,
               f->ok ? (double)f->lat_ms / (double)f->ok : 0.0,
               100.0 * ratio(f->review, f->ok),
               f->jobs ? (double)f->usd_u / 1e6 / (double)f->jobs : 0.0);
    }
    if (n == 0 && !c->json)
        fprintf(stderr, "genq stats: no template figures yet (jobs rendered "
                        "from templates record them when they finish)\n");
    free(rows);
    return rc;
}

long long
stats_review_count(struct cli *c, const char *queue)
{
    struct qkeys k;
    redisReply *r;
    long long n = 0;

    if (qkeys_init(&k, queue) < 0)
        return 0;
    r = rclient_command(cli_rc(c, k.review), "ZCARD %s", k.review);
    if (r && r->type == REDIS_REPLY_INTEGER)
        n = r->integer;
    if (r)
        freeReplyObject(r);
    return n;
}

void
stats_review_note(struct cli *c, const char *queue, cJSON *doc, int warn)
{
    long long n = stats_review_count(c, queue);
    int bad = 0;

    if (doc)
        ops_jnum(doc, "review", (double)n, &bad);
    if (warn && n > 0)
        fprintf(stderr,
                "queue %s: %lld result(s) wait in review: see 'genq review "
                "ls --queue %s'\n",
                queue, n, queue);
}
