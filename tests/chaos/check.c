/* chaos-check: the job generator and the invariant checker of the chaos soak
 * (tests/chaos/run.sh).
 *
 *   chaos-check gen --jobs N --seed S [--max-delay S]      > jobs.jsonl
 *   chaos-check verify --redis URL --queue Q --jobs jobs.jsonl
 *               --status status.jsonl [--max-tokens N] [--max-continuations N]
 *               [--article-tokens N] [--fsync always|everysec]
 *               [--killed FILE] [--stats FILE]
 *
 * `gen` writes N distinct jobs (ids chaos-000000..): ~1% carry the mock's
 * permanent-error marker [mock:fail=400], ~15% are long articles
 * ([mock:tokens=T]) that need continuations (some cut by the continuation
 * limit), some use small max_tokens, priorities, delays, and 3% each
 * max_attempts 1 and 2 (so that an attempt lost to a crash shows).
 *
 * `verify` reads the jobs as enqueued, the output of `genq status --json
 * --with-result -` for their ids, optionally `genq stats --json` (--stats),
 * and from Redis the stats hash, the completion feed and
 * the membership of the queue's lists and sets. --killed names the workers the
 * soak SIGKILLed ("pid epoch_ms" lines): a lease expiry of any other worker is
 * an attempt lost to a Redis outage, and must not kill a job. It prints one
 * table row per invariant and, for each breach, the first 20 offending job
 * ids with the reason. The expected text of a succeeded job is computed with
 * the mock's own generator (tests/mock-llm/mocktext.c): the first
 * min(N, (1 + C) * M) tokens of the article for its prompt, for max_tokens M
 * and max_continuations C. Exit status 0 when every invariant holds, 1 on a
 * breach, 2 on a usage or I/O error.
 *
 * This file: main, the shared helpers and the checks that need both sides;
 * check_gen.c, check_data.c and check_redis.c hold the rest (check.h). */
#include "fmacros.h"

#include <errno.h>
#include <string.h>

#include "mocktext.h"

#include "check.h"

void
chaos_die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("chaos-check: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

char *
chaos_xstrdup(const char *s)
{
    char *d = strdup(s ? s : "");

    if (!d)
        chaos_die("out of memory");
    return d;
}

long
chaos_arg_long(const char *name, const char *v, long lo, long hi)
{
    char *end;
    long x;

    errno = 0;
    x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        chaos_die("%s: expected an integer in %ld..%ld, got '%s'", name, lo, hi,
                  v);
    return x;
}

/* ---- verify -------------------------------------------------------------- */

static void
check_records(void)
{
    for (size_t i = 0; i < chaos_njobs; i++) {
        struct job *j = &chaos_jobs[i];
        int succ = !strcmp(j->state, "succeeded"),
            dead = !strcmp(j->state, "dead");
        char rec[160];

        if (!succ && !dead)
            continue; /* already a breach of the terminal row */
        chaos_inv[I_ONE_STATE].checked++;
        snprintf(rec, sizeof(rec),
                 "state %s; results %d, dead set %d, leases %d, delayed %d, "
                 "ready %d",
                 j->state, j->in_results, j->in_dead, j->in_leases,
                 j->in_delayed, j->in_ready);
        if (j->in_results != succ || j->in_dead != dead || j->in_leases ||
            j->in_delayed || j->in_ready)
            chaos_breach(I_ONE_STATE, j->id, "%s", rec);

        chaos_inv[I_FEED].checked++;
        if (j->feed_succeeded != succ || j->feed_dead != dead || j->feed_other)
            chaos_breach(I_FEED, j->id,
                         "state %s with feed entries: %d succeeded, %d dead, "
                         "%d other",
                         j->state, j->feed_succeeded, j->feed_dead,
                         j->feed_other);
    }
}

struct count {
    const char *what;
    long got, want;
};

static void
check_count_list(const struct count *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        chaos_inv[I_COUNTS].checked++;
        if (c[i].got != c[i].want)
            chaos_breach(I_COUNTS, "counts", "%s: %ld != %ld", c[i].what,
                         c[i].got, c[i].want);
    }
}

/* `genq stats --json` for the queue against the jobs. */
static void
check_genq_stats(const char *path, long nsucc, long ndead, long known)
{
    FILE *f = chaos_open_file(path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len = getline(&line, &cap, f);
    cJSON *o = len > 0 ? cJSON_ParseWithLength(line, (size_t)len) : NULL;

    fclose(f);
    free(line);
    if (!o)
        chaos_die("%s: not a genq stats --json line", path);
    {
        struct count c[] = {
            {"genq stats ready", chaos_num_or(o, "ready", -1), 0},
            {"genq stats active", chaos_num_or(o, "active", -1), 0},
            {"genq stats delayed", chaos_num_or(o, "delayed", -1), 0},
            {"genq stats enqueued vs jobs enqueued",
             chaos_num_or(o, "enqueued", -1), known},
            {"genq stats succeeded vs genq status",
             chaos_num_or(o, "succeeded", -1), nsucc},
            {"genq stats dead vs genq status", chaos_num_or(o, "dead", -1),
             ndead},
            {"genq stats canceled", chaos_num_or(o, "canceled", -1), 0},
        };
        check_count_list(c, sizeof(c) / sizeof(c[0]));
    }
    cJSON_Delete(o);
}

static void
check_counts(const struct redis_view *rv, long nsucc, long ndead, long known)
{
    struct count c[] = {
        {"stats.enqueued vs jobs enqueued", rv->stat_enq, known},
        {"stats.succeeded vs genq status succeeded", rv->stat_succ, nsucc},
        {"stats.dead vs genq status dead", rv->stat_dead, ndead},
        {"stats.canceled (none were canceled)", rv->stat_canceled, 0},
        {"succeeded + dead vs jobs enqueued", nsucc + ndead, known},
        {"results stored vs succeeded", rv->results, nsucc},
        {"dead set vs dead", rv->dead, ndead},
        {"requests stored (jobs hash, held lists) vs jobs enqueued",
         rv->jobs_hash, known},
        {"held claims still counted (every job terminal)", rv->held_claims, 0},
        {"stats.retried vs 'retry' in histories", rv->stat_retried,
         chaos_hist_retry},
        {"stats.requeued vs 'requeued' in histories", rv->stat_requeued,
         chaos_hist_requeued},
        {"stats.failed vs 'retry' + 'dead' in histories", rv->stat_failed,
         chaos_hist_retry + chaos_hist_dead},
        {"stats.lease_expired vs 'lease_expired' in histories", rv->stat_lease,
         chaos_hist_lease},
    };

    check_count_list(c, sizeof(c) / sizeof(c[0]));
}

static void
print_table(void)
{
    printf("\n%-62s %8s %8s  %s\n", "invariant", "checked", "breaches",
           "result");
    for (int i = 0; i < 62 + 1 + 8 + 1 + 8 + 2 + 6; i++)
        putchar('-');
    putchar('\n');
    for (int i = 0; i < I_NUM; i++)
        printf("%-62s %8ld %8ld  %s\n", chaos_inv[i].name, chaos_inv[i].checked,
               chaos_inv[i].breaches, chaos_inv[i].breaches ? "FAIL" : "PASS");
    for (int i = 0; i < I_NUM; i++) {
        if (!chaos_inv[i].breaches)
            continue;
        printf("\nFAIL %s: %ld breach(es)%s\n", chaos_inv[i].name,
               chaos_inv[i].breaches,
               chaos_inv[i].breaches > MAX_SHOWN ? " (first 20)" : "");
        for (int s = 0; s < chaos_inv[i].nshown; s++)
            printf("  %s\n", chaos_inv[i].shown[s]);
    }
}

static int
cmd_verify(int argc, char **argv)
{
    const char *url = NULL, *queue = NULL, *jobs_path = NULL, *status = NULL;
    const char *fsync_mode = "always", *stats_path = NULL;
    long max_tokens = 2000, max_cont = 3, art = MOCKTEXT_DEFAULT_TOKENS;
    long nsucc = 0, ndead = 0, unknown = 0, known, fail = 0;
    long hist_att[8] = {0}, lease_exp = 0, live_exp = 0, conts = 0;
    struct redis_view rv = {0};
    int everysec;

    for (int i = 0; i < argc; i++) {
        if (i + 1 >= argc)
            chaos_die("%s needs a value", argv[i]);
        if (!strcmp(argv[i], "--redis"))
            url = argv[++i];
        else if (!strcmp(argv[i], "--queue"))
            queue = argv[++i];
        else if (!strcmp(argv[i], "--jobs"))
            jobs_path = argv[++i];
        else if (!strcmp(argv[i], "--status"))
            status = argv[++i];
        else if (!strcmp(argv[i], "--max-tokens"))
            max_tokens = chaos_arg_long("--max-tokens", argv[++i], 1, 200000);
        else if (!strcmp(argv[i], "--max-continuations"))
            max_cont = chaos_arg_long("--max-continuations", argv[++i], 0, 20);
        else if (!strcmp(argv[i], "--article-tokens"))
            art = chaos_arg_long("--article-tokens", argv[++i], 1,
                                 MOCKTEXT_MAX_TOKENS);
        else if (!strcmp(argv[i], "--fsync"))
            fsync_mode = argv[++i];
        else if (!strcmp(argv[i], "--killed"))
            chaos_load_killed(argv[++i]);
        else if (!strcmp(argv[i], "--stats"))
            stats_path = argv[++i];
        else
            chaos_die("verify: unknown flag '%s'", argv[i]);
    }
    if (!url || !queue || !jobs_path || !status)
        chaos_die("verify needs --redis, --queue, --jobs and --status");
    if (strcmp(fsync_mode, "always") && strcmp(fsync_mode, "everysec"))
        chaos_die("--fsync: always or everysec");
    everysec = !strcmp(fsync_mode, "everysec");

    chaos_load_jobs(jobs_path, max_tokens, max_cont);
    chaos_load_status(status, (size_t)art, everysec, &unknown);
    chaos_read_redis(url, queue, &rv);
    check_records();
    for (size_t i = 0; i < chaos_njobs; i++) {
        struct job *j = &chaos_jobs[i];
        nsucc += !strcmp(j->state, "succeeded");
        ndead += !strcmp(j->state, "dead");
        fail += j->fail400;
        hist_att[j->attempts < 7 ? j->attempts : 7]++;
        lease_exp += j->lease_expiries;
        live_exp += j->live_expiries;
        conts += j->continuations;
    }
    known = (long)chaos_njobs - unknown;
    check_counts(&rv, nsucc, ndead, known);
    if (stats_path)
        check_genq_stats(stats_path, nsucc, ndead, known);

    printf("jobs generated %zu (with [mock:fail=400]: %ld); succeeded %ld, "
           "dead %ld, other %ld\n",
           chaos_njobs, fail, nsucc, ndead, (long)chaos_njobs - nsucc - ndead);
    printf("attempts per job:");
    for (int a = 0; a < 8; a++)
        if (hist_att[a])
            printf(" %s%d:%ld", a == 7 ? ">=" : "", a, hist_att[a]);
    printf("\nlease expiries in histories %ld (%ld of workers that were "
           "alive: attempts lost to Redis outages); continuations in results "
           "%ld; feed entries %ld\n",
           lease_exp, live_exp, conts, rv.feed_entries);
    printf("stats hash:");
    for (size_t i = 0; i + 1 < rv.stats->elements; i += 2)
        printf(" %s=%s", rv.stats->element[i]->str,
               rv.stats->element[i + 1]->str);
    printf("\n");
    if (everysec)
        printf("durability: appendfsync everysec: %ld job(s) unknown after "
               "the crashes tolerated as acknowledged writes lost in the "
               "last second; everything else is checked strictly\n",
               unknown);
    else
        printf("durability: appendfsync always: no acknowledged write may "
               "be lost; every check is strict\n");
    printf("(Redis is SIGKILLed as a process, not the machine: what it wrote "
           "to its AOF survives in the page cache, so this tests process "
           "crashes, not power loss)\n");
    freeReplyObject(rv.stats);
    print_table();
    for (int i = 0; i < I_NUM; i++)
        if (chaos_inv[i].breaches)
            return 1;
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "gen"))
        return chaos_cmd_gen(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "verify"))
        return cmd_verify(argc - 2, argv + 2);
    fprintf(stderr, "usage: chaos-check gen --jobs N --seed S "
                    "[--max-delay S]\n"
                    "       chaos-check verify --redis URL --queue Q --jobs "
                    "FILE --status FILE\n"
                    "              [--max-tokens N] [--max-continuations N] "
                    "[--article-tokens N] [--fsync always|everysec]\n"
                    "              [--killed FILE] [--stats FILE]\n");
    return 2;
}
