/* genq stats [--watch] and genq queues: per-queue counts, rates, oldest
 * ready job and latency from the read-only `stats` script, as a table on a
 * terminal, tab-separated lines otherwise, or JSONL (schemas/stats.schema.json
 * and schemas/queues.schema.json). */
#include "fmacros.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd_ops.h"
#include "cmd_stats_tmpl.h"
#include "docs.h"
#include "rclient.h"
#include "timefmt.h"

#define STATS_WINDOW_MS  60000
#define STATS_MAX_EVENTS 2000
#define STATS_SAMPLES    200
#define STATS_FIELDS     20
#define DEAD_WARN        1000
#define SPARK_LEN        40
#define MAX_QUEUES       1024

/* One queue's snapshot, as the stats script returns it. */
struct qstats {
    char queue[QUEUE_NAME_MAX + 1];
    long long now_ms, paused_ms;
    long long ready[3], active, delayed, dead;
    long long enqueued, succeeded, failed, canceled, retried, requeued,
        lease_expired, died, dlq_requeued, purged;
    double enq_per_s, done_per_s, died_per_s;
    long long oldest_ms; /* -1 = nothing ready */
    long long p50, p95, samples;
    long long inbox, rejected;     /* inbox entries waiting; rejected ones */
    long long batched, in_batches; /* batch mode: ever; in open batches */
    char node[300]; /* Redis Cluster: the node serving it; "" otherwise */
};

static long long
int_of(redisReply *r)
{
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    if (r->type == REDIS_REPLY_STRING)
        return strtoll(r->str, NULL, 10);
    return 0;
}

/* The counters of a queue: their names in the stats hash and in the
 * stats document, and their place in struct qstats. */
static const struct {
    const char *name, *doc;
    size_t off;
} counters[] = {
    {"enqueued", "enqueued", offsetof(struct qstats, enqueued)},
    {"succeeded", "succeeded", offsetof(struct qstats, succeeded)},
    {"failed", "failed", offsetof(struct qstats, failed)},
    {"canceled", "canceled", offsetof(struct qstats, canceled)},
    {"retried", "retried", offsetof(struct qstats, retried)},
    {"requeued", "requeued", offsetof(struct qstats, requeued)},
    {"lease_expired", "lease_expired", offsetof(struct qstats, lease_expired)},
    {"dead", "died", offsetof(struct qstats, died)},
    {"dlq_requeued", "dlq_requeued", offsetof(struct qstats, dlq_requeued)},
    {"purged", "purged", offsetof(struct qstats, purged)},
    {"batched", "batched", offsetof(struct qstats, batched)},
    {"batch_open_jobs", "in_batches", offsetof(struct qstats, in_batches)},
};

static int
qstats_parse(redisReply *r, struct qstats *s)
{
    redisReply **e, *c;
    double span;

    if (r->type != REDIS_REPLY_ARRAY || r->elements != STATS_FIELDS ||
        r->element[8]->type != REDIS_REPLY_ARRAY)
        return -1;
    e = r->element;
    s->now_ms = int_of(e[0]);
    s->paused_ms = int_of(e[1]);
    for (int i = 0; i < 3; i++)
        s->ready[i] = int_of(e[2 + i]);
    s->active = int_of(e[5]);
    s->delayed = int_of(e[6]);
    s->dead = int_of(e[7]);
    c = e[8];
    for (size_t i = 0; i + 1 < c->elements; i += 2) {
        if (c->element[i]->type != REDIS_REPLY_STRING)
            continue;
        for (size_t k = 0; k < sizeof(counters) / sizeof(counters[0]); k++)
            if (!strcmp(c->element[i]->str, counters[k].name))
                *(long long *)((char *)s + counters[k].off) =
                    int_of(c->element[i + 1]);
    }
    s->enq_per_s = (double)int_of(e[9]) / (STATS_WINDOW_MS / 1000.0);
    span = (double)int_of(e[13]) / 1000.0;
    if (span < 1.0)
        span = 1.0;
    s->done_per_s = (double)int_of(e[10]) / span;
    s->died_per_s = (double)int_of(e[11]) / span;
    s->oldest_ms = int_of(e[14]);
    s->p50 = int_of(e[15]);
    s->p95 = int_of(e[16]);
    s->samples = int_of(e[17]);
    s->inbox = int_of(e[18]);
    s->rejected = int_of(e[19]);
    return 0;
}

/* Round to 2 decimals, for stable JSON. */
static double
round2(double v)
{
    return (double)(long long)(v * 100.0 + 0.5) / 100.0;
}

static double
oldest_age_s(const struct qstats *s)
{
    double a = (double)(s->now_ms - s->oldest_ms) / 1000.0;
    return a < 0 ? 0 : round2(a);
}

static cJSON *
stats_doc(const struct qstats *s, long dead_warn)
{
    cJSON *o = cJSON_CreateObject();
    char ts[32];
    int bad = 0;

    timefmt_rfc3339(s->now_ms, ts);
    ops_jstr(o, "queue", s->queue, &bad);
    ops_jstr(o, "at", ts, &bad);
    if (s->node[0])
        ops_jstr(o, "node", s->node, &bad);
    ops_jbool(o, "paused", s->paused_ms > 0, &bad);
    ops_jnum(o, "ready", (double)(s->ready[0] + s->ready[1] + s->ready[2]),
             &bad);
    ops_jnum(o, "ready_high", (double)s->ready[0], &bad);
    ops_jnum(o, "ready_normal", (double)s->ready[1], &bad);
    ops_jnum(o, "ready_low", (double)s->ready[2], &bad);
    ops_jnum(o, "active", (double)s->active, &bad);
    ops_jnum(o, "delayed", (double)s->delayed, &bad);
    ops_jnum(o, "dead", (double)s->dead, &bad);
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
        ops_jnum(
            o, counters[i].doc,
            (double)*(const long long *)((const char *)s + counters[i].off),
            &bad);
    ops_jnum(o, "enqueued_per_s", round2(s->enq_per_s), &bad);
    ops_jnum(o, "completed_per_s", round2(s->done_per_s), &bad);
    ops_jnum(o, "died_per_s", round2(s->died_per_s), &bad);
    if (s->oldest_ms >= 0)
        ops_jnum(o, "oldest_ready_age_s", oldest_age_s(s), &bad);
    else
        ops_jnull(o, "oldest_ready_age_s", &bad);
    if (s->p50 >= 0) {
        ops_jnum(o, "latency_p50_ms", (double)s->p50, &bad);
        ops_jnum(o, "latency_p95_ms", (double)s->p95, &bad);
    } else {
        ops_jnull(o, "latency_p50_ms", &bad);
        ops_jnull(o, "latency_p95_ms", &bad);
    }
    ops_jnum(o, "latency_samples", (double)s->samples, &bad);
    ops_jnum(o, "inbox", (double)s->inbox, &bad);
    ops_jnum(o, "rejected", (double)s->rejected, &bad);
    ops_jnum(o, "dead_warn_threshold", (double)dead_warn, &bad);
    ops_jbool(o, "dead_warn", s->dead > dead_warn, &bad);
    if (bad) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The queue names to show: the explicit one, or every known queue (sorted).
 * Returns how many (names[] owned by the caller, free each), or -1. */
static int
queue_list(struct cli *c, int explicit_queue, char **names, int max,
           const char *cmd)
{
    redisReply *r;
    int n = 0;

    if (explicit_queue) {
        names[0] = strdup(c->queue);
        if (!names[0]) {
            cli_fail(cmd, "out of memory");
            return -1;
        }
        return 1;
    }
    r = rclient_command(cli_rc(c, KEY_QUEUES), "SMEMBERS %s", KEY_QUEUES);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        cli_redis_fail(c, cmd, r, "unexpected reply");
        return -1;
    }
    for (size_t i = 0; i < r->elements && n < max; i++) {
        if (r->element[i]->type != REDIS_REPLY_STRING ||
            !queue_name_valid(r->element[i]->str))
            continue;
        names[n] = strdup(r->element[i]->str);
        if (!names[n]) {
            freeReplyObject(r);
            for (int k = 0; k < n; k++)
                free(names[k]);
            cli_fail(cmd, "out of memory");
            return -1;
        }
        n++;
    }
    freeReplyObject(r);
    qsort(names, (size_t)n, sizeof(char *), cmp_str);
    return n;
}

/* Snapshot every queue in names (pipelined: one stats call each). */
static int
fetch_all(struct cli *c, char **names, int n, struct qstats *out,
          const char *cmd)
{
    char win[16], maxe[16], maxs[16];
    const char *av[3] = {win, maxe, maxs};

    snprintf(win, sizeof(win), "%d", STATS_WINDOW_MS);
    snprintf(maxe, sizeof(maxe), "%d", STATS_MAX_EVENTS);
    snprintf(maxs, sizeof(maxs), "%d", STATS_SAMPLES);
    for (int i = 0; i < n; i++) {
        struct qkeys k;
        if (qkeys_init(&k, names[i]) < 0 ||
            rclient_append_script(cli_rc(c, k.key[QK_READY]), SCRIPT_STATS, &k,
                                  3, av, NULL) < 0) {
            cli_fail(cmd, "out of memory");
            return -1;
        }
    }
    for (int i = 0; i < n; i++) {
        char err[512] = "invalid queue name";
        struct qkeys k;
        redisReply *r =
            qkeys_init(&k, names[i]) < 0
                ? NULL
                : rclient_read(cli_rc(c, k.key[QK_READY]), err, sizeof(err));
        if (!r) {
            cli_fail(cmd, "%s", err);
            return -1;
        }
        memset(&out[i], 0, sizeof(out[i]));
        snprintf(out[i].queue, sizeof(out[i].queue), "%s", names[i]);
        cli_node(names[i], out[i].node, sizeof(out[i].node));
        if (qstats_parse(r, &out[i]) < 0) {
            freeReplyObject(r);
            cli_fail(cmd, "unexpected reply from the stats script");
            return -1;
        }
        freeReplyObject(r);
    }
    return 0;
}

/* Snapshot the queues to show (queue_list()) into *out (caller frees with
 * free(); NULL when there are none). Returns how many, or -1 after printing
 * the problem for cmd. */
static int
stats_load(struct cli *c, int explicit_queue, const char *cmd,
           struct qstats **out)
{
    char *names[MAX_QUEUES];
    int n = queue_list(c, explicit_queue, names, MAX_QUEUES, cmd);
    struct qstats *qs;

    *out = NULL;
    if (n < 0)
        return -1;
    qs = calloc((size_t)(n ? n : 1), sizeof(*qs));
    if (!qs)
        cli_fail(cmd, "out of memory");
    else if (fetch_all(c, names, n, qs, cmd) == 0)
        *out = qs;
    for (int i = 0; i < n; i++)
        free(names[i]);
    if (!*out) {
        free(qs);
        return -1;
    }
    return n;
}

static void
fmt_age(double s, char *out, size_t n)
{
    if (s < 0)
        snprintf(out, n, "-");
    else if (s < 120)
        snprintf(out, n, "%.0fs", s);
    else if (s < 7200)
        snprintf(out, n, "%.0fm", s / 60);
    else if (s < 172800)
        snprintf(out, n, "%.1fh", s / 3600);
    else
        snprintf(out, n, "%.1fd", s / 86400);
}

static void
fmt_ms(long long ms, char *out, size_t n)
{
    if (ms < 0)
        snprintf(out, n, "-");
    else if (ms < 10000)
        snprintf(out, n, "%lldms", ms);
    else
        snprintf(out, n, "%.1fs", (double)ms / 1000.0);
}

static const char stats_tsv_header[] =
    "queue\tpaused\tready\tready_high\tready_normal\tready_low\tactive\t"
    "delayed\tdead\tsucceeded\tfailed\tcanceled\tenqueued_per_s\t"
    "completed_per_s\toldest_ready_age_s\tlatency_p50_ms\tlatency_p95_ms\t"
    "inbox\trejected\n";

static void
print_tsv(const struct qstats *s)
{
    char age[32] = "", p50[24] = "", p95[24] = "";

    if (s->oldest_ms >= 0)
        snprintf(age, sizeof(age), "%.2f", oldest_age_s(s));
    if (s->p50 >= 0) {
        snprintf(p50, sizeof(p50), "%lld", s->p50);
        snprintf(p95, sizeof(p95), "%lld", s->p95);
    }
    printf("%s\t%s\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t%"
           "lld\t%.2f\t%.2f\t%s\t%s\t%s\t%lld\t%lld%s%s\n",
           s->queue, s->paused_ms > 0 ? "yes" : "no",
           s->ready[0] + s->ready[1] + s->ready[2], s->ready[0], s->ready[1],
           s->ready[2], s->active, s->delayed, s->dead, s->succeeded, s->failed,
           s->canceled, s->enq_per_s, s->done_per_s, age, p50, p95, s->inbox,
           s->rejected, s->node[0] ? "\t" : "", s->node);
}

static void
print_table_header(const struct ops_tty *t)
{
    printf("%s%-20s %-7s %9s %17s %7s %7s %7s %10s %8s %8s %8s %8s %7s %7s "
           "%7s%s%s\n",
           ops_col(t, OPS_BOLD), "QUEUE", "STATE", "READY", "HIGH/NORM/LOW",
           "ACTIVE", "DELAYED", "DEAD", "SUCCEEDED", "FAILED", "CANCELED",
           "ENQ/s", "DONE/s", "OLDEST", "P50", "P95",
           cli_cluster() ? "  NODE" : "", ops_col(t, OPS_RESET));
}

static void
print_table_row(const struct ops_tty *t, const struct qstats *s, long dead_warn)
{
    char prio[48], age[16], p50[16], p95[16];

    snprintf(prio, sizeof(prio), "%lld/%lld/%lld", s->ready[0], s->ready[1],
             s->ready[2]);
    fmt_age(s->oldest_ms >= 0 ? oldest_age_s(s) : -1, age, sizeof(age));
    fmt_ms(s->p50, p50, sizeof(p50));
    fmt_ms(s->p95, p95, sizeof(p95));
    printf("%-20s %s%-7s%s %9lld %17s %7lld %7lld %s%7lld%s %10lld %8lld "
           "%8lld %8.2f %8.2f %7s %7s %7s%s%s\n",
           s->queue, ops_col(t, s->paused_ms > 0 ? OPS_YELLOW : OPS_GREEN),
           s->paused_ms > 0 ? "paused" : "running", ops_col(t, OPS_RESET),
           s->ready[0] + s->ready[1] + s->ready[2], prio, s->active, s->delayed,
           ops_col(t, s->dead > dead_warn ? OPS_RED : ""), s->dead,
           ops_col(t, s->dead > dead_warn ? OPS_RESET : ""), s->succeeded,
           s->failed, s->canceled, s->enq_per_s, s->done_per_s, age, p50, p95,
           s->node[0] ? "  " : "", s->node);
    if (s->inbox > 0 || s->rejected > 0)
        printf("%-20s inbox: %lld waiting for intake, %s%lld rejected%s "
               "(genq rejected ls)\n",
               "", s->inbox, ops_col(t, s->rejected > 0 ? OPS_YELLOW : ""),
               s->rejected, ops_col(t, s->rejected > 0 ? OPS_RESET : ""));
    if (s->batched > 0)
        printf("%-20s batches: %lld jobs in open provider batches, %lld "
               "batched in all (genq batches ls)\n",
               "", s->in_batches, s->batched);
}

static void
warn_dead(const struct ops_tty *t, const struct qstats *s, long dead_warn)
{
    if (s->dead > dead_warn)
        fprintf(stderr,
                "%swarning: queue %s has %lld dead jobs (over %ld): see "
                "'genq dlq ls --queue %s'%s\n",
                t->tty && t->color ? OPS_RED : "", s->queue, s->dead, dead_warn,
                s->queue, t->tty && t->color ? OPS_RESET : "");
}

/* ---- --watch ----------------------------------------------------------- */

static volatile sig_atomic_t stop_flag;

static void
on_stop(int sig)
{
    (void)sig;
    stop_flag = 1;
}

struct spark {
    char queue[QUEUE_NAME_MAX + 1];
    double v[SPARK_LEN];
    int n;
    long long last_done, last_ms;
};

static void
spark_print(const struct ops_tty *t, const struct spark *sp)
{
    static const char *const bars[] = {
        "\xe2\x96\x81", "\xe2\x96\x82", "\xe2\x96\x83", "\xe2\x96\x84",
        "\xe2\x96\x85", "\xe2\x96\x86", "\xe2\x96\x87", "\xe2\x96\x88"};
    double max = 0;

    for (int i = 0; i < sp->n; i++)
        if (sp->v[i] > max)
            max = sp->v[i];
    printf("%-20s %s", sp->queue, ops_col(t, OPS_GREEN));
    for (int i = 0; i < SPARK_LEN - sp->n; i++)
        putchar(' ');
    for (int i = 0; i < sp->n; i++) {
        int k = max > 0 ? (int)(sp->v[i] / max * 7.0 + 0.5) : 0;
        fputs(bars[k < 0 ? 0 : k > 7 ? 7 : k], stdout);
    }
    printf("%s %.1f/s (max %.1f/s)\n", ops_col(t, OPS_RESET),
           sp->n ? sp->v[sp->n - 1] : 0.0, max);
}

static int
watch(struct cli *c, int explicit_queue, long dead_warn, long count)
{
    struct ops_tty t;
    struct spark *sp = NULL;
    int nsp = 0, rc = EXIT_OK;
    struct sigaction sa;

    ops_tty_init(&t);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    fputs("\033[?25l", stdout); /* hide the cursor */
    for (long iter = 0; !stop_flag && (count == 0 || iter < count); iter++) {
        struct qstats *qs;
        int n = stats_load(c, explicit_queue, "stats", &qs);
        char ts[32];

        if (n < 0) {
            rc = EXIT_FAIL;
            break;
        }
        fputs("\033[H\033[2J", stdout);
        timefmt_rfc3339(n ? qs[0].now_ms : 0, ts);
        printf("%sgenq stats%s  %s  (every 1 s; Ctrl-C quits)\n\n",
               ops_col(&t, OPS_BOLD), ops_col(&t, OPS_RESET), n ? ts : "");
        print_table_header(&t);
        for (int i = 0; i < n; i++)
            print_table_row(&t, &qs[i], dead_warn);
        printf("\n%sthroughput (succeeded/s, last %d s)%s\n",
               ops_col(&t, OPS_BOLD), SPARK_LEN, ops_col(&t, OPS_RESET));
        for (int i = 0; i < n; i++) {
            struct spark *s = NULL;
            for (int k = 0; k < nsp; k++)
                if (!strcmp(sp[k].queue, qs[i].queue))
                    s = &sp[k];
            if (!s) {
                struct spark *g = realloc(sp, sizeof(*sp) * (size_t)(nsp + 1));
                if (!g)
                    break;
                sp = g;
                s = &sp[nsp++];
                memset(s, 0, sizeof(*s));
                snprintf(s->queue, sizeof(s->queue), "%s", qs[i].queue);
                s->last_done = -1;
            }
            if (s->last_done >= 0 && qs[i].now_ms > s->last_ms) {
                double v = (double)(qs[i].succeeded - s->last_done) * 1000.0 /
                           (double)(qs[i].now_ms - s->last_ms);
                if (s->n == SPARK_LEN) {
                    memmove(s->v, s->v + 1, sizeof(double) * (SPARK_LEN - 1));
                    s->n--;
                }
                s->v[s->n++] = v < 0 ? 0 : v;
            }
            s->last_done = qs[i].succeeded;
            s->last_ms = qs[i].now_ms;
            spark_print(&t, s);
        }
        for (int i = 0; i < n; i++)
            if (qs[i].dead > dead_warn)
                printf("%swarning: queue %s has %lld dead jobs (over %ld)%s\n",
                       ops_col(&t, OPS_RED), qs[i].queue, qs[i].dead, dead_warn,
                       ops_col(&t, OPS_RESET));
        fflush(stdout);
        free(qs);
        if (count == 0 || iter + 1 < count) {
            struct timespec ts1 = {1, 0};
            nanosleep(&ts1, NULL); /* a signal cuts it short */
        }
    }
    fputs("\033[?25h", stdout); /* the cursor back */
    fflush(stdout);
    free(sp);
    return rc;
}

/* ---- genq stats -------------------------------------------------------- */

static const char stats_help[] =
    "usage: genq stats [--watch [--count N]] [--dead-warn N] [--json]\n\n"
    "Per queue (every known queue, or the one given with --queue): ready jobs\n"
    "by priority, active (leased), delayed, dead; counters of succeeded,\n"
    "failed (attempts) and canceled jobs; enqueued/s and completed/s over the\n"
    "last minute; age of the oldest ready job; p50/p95 latency of recent\n"
    "jobs; paused or running. Warns when a dead-letter queue holds more than\n"
    "--dead-warn jobs. A table on a terminal, tab-separated lines with a\n"
    "header otherwise; --json prints one object per queue\n"
    "(schemas/stats.schema.json).\n\n"
    "  --watch        redraw every second with a throughput sparkline\n"
    "                 (a terminal only)\n"
    "  --count N      with --watch: stop after N redraws (default: until "
    "Ctrl-C)\n"
    "  --dead-warn N  warn past N dead jobs (env GENQ_DEAD_WARN; default "
    "1000)\n"
    "  --by template  per template version instead: jobs, success rate,\n"
    "                 mean and p95 output tokens, mean latency, review\n"
    "                 flag rate, cost per job\n" CLI_COMMON_HELP;

/* The stats document of s with its "review" count: what `genq stats
 * --json` prints and the dashboard serves (stats_docs()), from here only. */
static cJSON *
stats_review_doc(struct cli *c, const struct qstats *s, long dead_warn)
{
    cJSON *d = stats_doc(s, dead_warn);

    if (d)
        stats_review_note(c, s->queue, d, 0);
    return d;
}

int
cmd_stats(int argc, char **argv)
{
    struct cli c;
    struct ops_tty t;
    int first, do_watch = 0, rc, n, explicit_queue;
    long dead_warn = DEAD_WARN, count = 0;
    const char *by = NULL; /* --by template: cmd_stats_tmpl.c */
    struct cli_opt opts[] = {
        CLI_OPT_STR("by", 4, &by), CLI_OPT_FLAG("watch", 1, &do_watch),
        CLI_OPT_LONG("dead-warn", 2, &dead_warn, 0, 1000000000L, "a number"),
        CLI_OPT_LONG("count", 3, &count, 1, 1000000000L, "a number >= 1"),
        CLI_OPT_END};
    struct cli_cmd spec = {"stats", stats_help, NULL, opts, NULL, NULL, 0};
    const char *env = getenv("GENQ_DEAD_WARN"), *gq = getenv("GENQ_QUEUE");
    struct qstats *qs;

    if (env && *env && ops_parse_long(env, 0, 1000000000L, &dead_warn) < 0)
        return cli_usage_error(
            "stats", "GENQ_DEAD_WARN: expected a number, got '%s'", env);
    if ((rc = cli_parse(&c, &spec, argc, argv, &first)) != CLI_NEXT)
        return rc;
    rc = EXIT_OK;
    explicit_queue = (gq && *gq) || c.queue_set;
    ops_tty_init(&t);
    if (do_watch && (c.json || !t.tty))
        return cli_usage_error("stats",
                               "--watch needs a terminal and no --json "
                               "(run 'genq stats --json' in a loop instead)");
    if (by && strcmp(by, "template") != 0)
        return cli_usage_error("stats", "--by: expected template, got '%s'",
                               by);
    if (cli_connect(&c) < 0)
        return EXIT_FAIL;
    if (by) {
        rc = stats_by_template(&c, explicit_queue);
        cli_close(&c);
        return rc;
    }
    if (do_watch) {
        rc = watch(&c, explicit_queue, dead_warn, count);
        cli_close(&c);
        return rc;
    }
    n = stats_load(&c, explicit_queue, "stats", &qs);
    if (n < 0) {
        cli_close(&c);
        return EXIT_FAIL;
    }
    if (!c.json && t.tty)
        print_table_header(&t);
    else if (!c.json)
        cli_tsv_header(stats_tsv_header);
    for (int i = 0; i < n && rc == EXIT_OK; i++) {
        if (c.json) {
            cJSON *d = stats_review_doc(&c, &qs[i], dead_warn);
            if (cli_print_json(d) < 0)
                rc = cli_fail("stats", "out of memory");
        } else if (t.tty) {
            print_table_row(&t, &qs[i], dead_warn);
        } else {
            print_tsv(&qs[i]);
        }
    }
    fflush(stdout);
    for (int i = 0; i < n; i++) {
        warn_dead(&t, &qs[i], dead_warn);
        if (!c.json)
            stats_review_note(&c, qs[i].queue, NULL, 1);
    }
    if (n == 0 && !c.json)
        fprintf(stderr, "genq stats: no queues yet (nothing enqueued)\n");
    free(qs);
    cli_close(&c);
    return rc;
}

/* ---- genq queues ------------------------------------------------------- */

static const char queues_help[] =
    "usage: genq queues [--json]\n\n"
    "The known queues (every queue something was enqueued to) with their\n"
    "counts: ready, active, delayed, dead, succeeded, and paused or running.\n"
    "--json prints one object per queue (schemas/queues.schema.json).\n\n"
    "  --redis URL    Redis URL (env GENQ_REDIS_URL; default "
    "redis://127.0.0.1:6379/0;\n"
    "                 Redis Cluster: redis-cluster://host:port,host:port)\n"
    "  --json         machine output (JSON)\n"
    "  -h, --help     this help\n";

int
cmd_queues(int argc, char **argv)
{
    struct cli c;
    struct ops_tty t;
    struct cli_cmd spec = {"queues", queues_help, NULL, NULL, NULL, NULL, 0};
    int first, rc, n;
    struct qstats *qs;

    if ((rc = cli_parse(&c, &spec, argc, argv, &first)) != CLI_NEXT)
        return rc;
    rc = EXIT_OK;
    ops_tty_init(&t);
    if (cli_connect(&c) < 0)
        return EXIT_FAIL;
    n = stats_load(&c, 0, "queues", &qs);
    if (n < 0) {
        cli_close(&c);
        return EXIT_FAIL;
    }
    if (!c.json && t.tty)
        printf("%s%-24s %-7s %9s %7s %7s %7s %10s%s%s\n", ops_col(&t, OPS_BOLD),
               "QUEUE", "STATE", "READY", "ACTIVE", "DELAYED", "DEAD",
               "SUCCEEDED", cli_cluster() ? "  NODE" : "",
               ops_col(&t, OPS_RESET));
    else if (!c.json)
        cli_tsv_header("queue\tpaused\tready\tactive\tdelayed\tdead\t"
                       "succeeded\n");
    for (int i = 0; i < n; i++) {
        struct qstats *s = &qs[i];
        long long ready = s->ready[0] + s->ready[1] + s->ready[2];
        if (c.json) {
            cJSON *o = cJSON_CreateObject();
            int bad = 0;
            ops_jstr(o, "queue", s->queue, &bad);
            ops_jbool(o, "paused", s->paused_ms > 0, &bad);
            ops_jnum(o, "ready", (double)ready, &bad);
            ops_jnum(o, "active", (double)s->active, &bad);
            ops_jnum(o, "delayed", (double)s->delayed, &bad);
            ops_jnum(o, "dead", (double)s->dead, &bad);
            ops_jnum(o, "succeeded", (double)s->succeeded, &bad);
            if (s->node[0])
                ops_jstr(o, "node", s->node, &bad);
            if (ops_print_doc(o, bad) < 0) {
                rc = cli_fail("queues", "out of memory");
                break;
            }
        } else if (t.tty) {
            printf("%-24s %s%-7s%s %9lld %7lld %7lld %7lld %10lld%s%s\n",
                   s->queue,
                   ops_col(&t, s->paused_ms > 0 ? OPS_YELLOW : OPS_GREEN),
                   s->paused_ms > 0 ? "paused" : "running",
                   ops_col(&t, OPS_RESET), ready, s->active, s->delayed,
                   s->dead, s->succeeded, s->node[0] ? "  " : "", s->node);
        } else {
            printf("%s\t%s\t%lld\t%lld\t%lld\t%lld\t%lld%s%s\n", s->queue,
                   s->paused_ms > 0 ? "yes" : "no", ready, s->active,
                   s->delayed, s->dead, s->succeeded, s->node[0] ? "\t" : "",
                   s->node);
        }
    }
    free(qs);
    cli_close(&c);
    return rc;
}

/* ---- the documents, for the dashboard (docs.h) ------------------------- */

cJSON *
stats_docs(struct cli *c, long dead_warn, const char *cmd)
{
    struct qstats *qs;
    int n = stats_load(c, 0, cmd, &qs);
    cJSON *arr = n < 0 ? NULL : cJSON_CreateArray();

    for (int i = 0; arr && i < n; i++) {
        cJSON *d = stats_review_doc(c, &qs[i], dead_warn);
        if (!d || !cJSON_AddItemToArray(arr, d)) {
            cJSON_Delete(d);
            cJSON_Delete(arr);
            arr = NULL;
        }
    }
    if (n >= 0 && !arr)
        cli_fail(cmd, "out of memory");
    free(qs);
    return arr;
}
