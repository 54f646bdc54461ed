/* genq results [--follow] and genq results export: result documents of
 * succeeded jobs as JSONL (schemas/result.schema.json) — tailing the
 * queue's completion feed (XREAD BLOCK; entries of protocol version 1:
 * v 1 id ID state ST queue Q [metadata M]), or paging through the finished
 * jobs (the results_page script) in constant memory. */
#include "fmacros.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd_ops.h"
#include "rclient.h"
#include "timefmt.h"

#define XREAD_COUNT    100
#define XREAD_BLOCK_MS 1000
#define INSPECT_CHUNK  500
#define INSPECT_FIELDS 9
/* how long --follow tries to connect again after losing Redis (from the
 * loss until a read succeeds again) */
#define FOLLOW_RECONNECT_S 60
/* entry ids --follow remembers, to find where the feed of a new master
 * (after a failover) and what it read from the old one part */
#define FOLLOW_RING 1000
#define EXPORT_PAGE 100

struct follow {
    struct cli *c;
    long count, printed; /* --count (0 = no limit) */
    char **ids;          /* succeeded ids of the current read */
    int n, cap;
    int at;         /* ids[0..at) printed: a call again after a lost connection
                       goes on from there */
    int lost;       /* the last failure was Redis's, not ours (print_results) */
    double lost_at; /* when Redis was lost (time_mono_s), 0: it is not */
    char (*ring)[64]; /* the last FOLLOW_RING entry ids read (FOLLOW_RING) */
    int ring_n, ring_at;
};

/* Whether the XREAD's failed reply r lost Redis: NULL (an I/O error, on c
 * or on the cluster node a redirection led to; the command cannot fail
 * otherwise), or what a Redis answers while a failover, restart or reshard
 * moves the master (a blocked XREAD released: UNBLOCKED; LOADING,
 * MASTERDOWN, READONLY, CLUSTERDOWN, BUSY). A --follow then connects again
 * instead of exiting; another error reply (WRONGTYPE...) ends it. */
static int
follow_lost(const redisReply *r)
{
    static const char *const moving[] = {"UNBLOCKED",   "LOADING",
                                         "MASTERDOWN",  "READONLY",
                                         "CLUSTERDOWN", "BUSY"};

    for (size_t i = 0; r && i < sizeof(moving) / sizeof(moving[0]); i++)
        if (!strncmp(r->str, moving[i], strlen(moving[i])))
            return 1;
    return !r;
}

/* Print the result documents of f->ids[f->at..] (in order), through
 * inspect. A failure is printed; f->lost says whether it was the inspect
 * call (any: a --follow connects again and goes on from f->at for a
 * minute, whatever Redis answered) rather than ours. */
static int
print_results(struct follow *f)
{
    f->lost = 0;
    for (; f->at < f->n; f->at += INSPECT_CHUNK) {
        int at = f->at;
        int k = f->n - at < INSPECT_CHUNK ? f->n - at : INSPECT_CHUNK;
        const char **av = malloc(sizeof(*av) * (size_t)(k + 2));
        char err[512];
        redisReply *r;

        if (!av)
            return cli_fail("results", "out of memory");
        av[0] = "0";
        av[1] = "1";
        for (int i = 0; i < k; i++)
            av[i + 2] = f->ids[at + i];
        r = rclient_script(f->c->rc, SCRIPT_INSPECT, &f->c->keys, k + 2, av,
                           NULL, err, sizeof(err));
        free(av);
        if (!r) {
            f->lost = 1;
            return cli_fail("results", "%s", err);
        }
        if (r->type != REDIS_REPLY_ARRAY ||
            r->elements != (size_t)k * INSPECT_FIELDS) {
            freeReplyObject(r);
            return cli_fail("results", "unexpected reply from Redis");
        }
        for (int i = 0; i < k; i++) {
            redisReply *res = r->element[i * INSPECT_FIELDS + 7];
            /* A result already swept by retention is skipped. */
            if (res->type != REDIS_REPLY_STRING)
                continue;
            fwrite(res->str, 1, res->len, stdout);
            fputc('\n', stdout);
            f->printed++;
            if (f->count && f->printed >= f->count)
                break;
        }
        freeReplyObject(r);
        if (fflush(stdout) != 0)
            return cli_fail("results", "writing the output failed");
        if (f->count && f->printed >= f->count)
            return 0;
    }
    return 0;
}

static int
ids_push(struct follow *f, const char *id)
{
    if (f->n == f->cap) {
        int cap = f->cap ? f->cap * 2 : 256;
        char **g = realloc(f->ids, sizeof(char *) * (size_t)cap);
        if (!g)
            return -1;
        f->ids = g;
        f->cap = cap;
    }
    f->ids[f->n] = strdup(id);
    if (!f->ids[f->n])
        return -1;
    f->n++;
    return 0;
}

static void
ids_clear(struct follow *f)
{
    ops_free_strs(f->ids, f->n);
    f->n = f->at = 0;
}

/* --follow lost Redis: connect again (through the sentinels when the URL
 * names them, to the master serving the queue on a cluster), every 0.5 s
 * (the first after 0.5 s: a Redis that keeps failing is not asked in a
 * busy loop) for up to FOLLOW_RECONNECT_S. 0, or -1 (printed). */
static int
follow_reconnect(struct follow *f)
{
    struct cli *c = f->c;
    char err[512] = "";
    struct timespec pause = {0, 500 * 1000 * 1000};

    if (!f->lost_at)
        f->lost_at = time_mono_s();
    else if (time_mono_s() - f->lost_at >= FOLLOW_RECONNECT_S) {
        /* connecting works but a read keeps failing (an error reply each
         * time): the same minute, not a new one per reconnect */
        cli_fail("results", "Redis still failing %d s after it was lost",
                 FOLLOW_RECONNECT_S);
        return -1;
    }
    fprintf(stderr,
            "genq results: lost Redis; connecting again (for up to "
            "%d s), then reading on from the last entry read\n",
            FOLLOW_RECONNECT_S);
    for (;;) {
        cli_close(c);
        nanosleep(&pause, NULL);
        if (cli_connect_err(c, err, sizeof(err)) == 0) {
            fprintf(stderr, "genq results: connected again\n");
            return 0;
        }
        if (time_mono_s() - f->lost_at >= FOLLOW_RECONNECT_S) {
            cli_fail("results", "%s", err);
            return -1;
        }
    }
}

static void
ring_push(struct follow *f, const char *id)
{
    snprintf(f->ring[f->ring_at], sizeof(f->ring[0]), "%s", id);
    f->ring_at = (f->ring_at + 1) % FOLLOW_RING;
    if (f->ring_n < FOLLOW_RING)
        f->ring_n++;
}

static int
ring_has(const struct follow *f, const char *id)
{
    for (int i = 0; i < f->ring_n; i++)
        if (!strcmp(f->ring[i], id))
            return 1;
    return 0;
}

/* After connecting again: where to read on. A new master (a failover)
 * lacks the entries the old one took after the promotion and lost, and
 * may hold entries of other workers' with ids below the last read: read
 * on after the newest entry at or before last that it holds and that was
 * read here (one of the last FOLLOW_RING), so that those are read and
 * nothing twice. last unchanged when it holds last itself, or none of the
 * ring (said). */
static void
follow_resync(struct follow *f, const char *feed, char *last, size_t n)
{
    char cnt[16];
    redisReply *r;

    snprintf(cnt, sizeof(cnt), "%d", FOLLOW_RING);
    r = rclient_command(f->c->rc, "XREVRANGE %s %s - COUNT %s", feed, last,
                        cnt);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r); /* the next XREAD says what is wrong */
        return;
    }
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 1 ||
            e->element[0]->type != REDIS_REPLY_STRING ||
            !ring_has(f, e->element[0]->str))
            continue;
        if (strcmp(e->element[0]->str, last)) {
            fprintf(stderr,
                    "genq results: the feed here lacks the entries read "
                    "after %s (lost in the switch); reading on from it\n",
                    e->element[0]->str);
            snprintf(last, n, "%s", e->element[0]->str);
        }
        freeReplyObject(r);
        return;
    }
    if (strcmp(last, "0-0") && f->ring_n > 0)
        fprintf(stderr,
                "genq results: the feed here holds none of the last %d "
                "entries read; reading on after %s\n",
                f->ring_n, last);
    freeReplyObject(r);
}

/* The queue's completion feed (keys.h QKEY_FEED) into out (n bytes). */
static void
feed_key(const struct cli *c, char *out, size_t n)
{
    snprintf(out, n, "%s" QKEY_FEED, c->keys.prefix);
}

/* The id of the newest entry of the feed, or "0-0" when it is empty. */
static int
stream_last_id(struct cli *c, char *out, size_t n)
{
    char feed[256];
    redisReply *r;

    feed_key(c, feed, sizeof(feed));
    r = rclient_command(c->rc, "XREVRANGE %s + - COUNT 1", feed);

    if (!r || r->type != REDIS_REPLY_ARRAY) {
        cli_redis_fail(c, "results", r, "unexpected reply");
        return -1;
    }
    if (r->elements > 0 && r->element[0]->type == REDIS_REPLY_ARRAY &&
        r->element[0]->elements >= 1 &&
        r->element[0]->element[0]->type == REDIS_REPLY_STRING)
        snprintf(out, n, "%s", r->element[0]->element[0]->str);
    else
        snprintf(out, n, "0-0");
    freeReplyObject(r);
    return 0;
}

static int
follow_run(struct cli *c, const char *start, int blocking, long count)
{
    struct follow f = {.c = c, .count = count};
    char last[64], feed[256];
    int rc = EXIT_OK, resync = 0;

    feed_key(c, feed, sizeof(feed));
    snprintf(last, sizeof(last), "%s", start);
    if (blocking && !(f.ring = calloc(FOLLOW_RING, sizeof(*f.ring))))
        return cli_fail("results", "out of memory");
    for (;;) {
        redisReply *r, *entries;
        char cnt[16], blk[16];

        if (resync) {
            follow_resync(&f, feed, last, sizeof(last));
            resync = 0;
        }

        snprintf(cnt, sizeof(cnt), "%d", XREAD_COUNT);
        snprintf(blk, sizeof(blk), "%d", XREAD_BLOCK_MS);
        if (blocking)
            r = rclient_command(c->rc, "XREAD COUNT %s BLOCK %s STREAMS %s %s",
                                cnt, blk, feed, last);
        else
            r = rclient_command(c->rc, "XREAD COUNT %s STREAMS %s %s", cnt,
                                feed, last);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            if (blocking && follow_lost(r)) {
                freeReplyObject(r); /* accepts NULL */
                if (follow_reconnect(&f) < 0) {
                    rc = EXIT_FAIL;
                    break;
                }
                resync = 1;
                continue; /* from last, the entry read last */
            }
            rc = cli_redis_fail(c, "results", r, NULL);
            break;
        }
        if (r->type == REDIS_REPLY_NIL) {
            f.lost_at = 0; /* a whole round again: a later loss has its
                            * own minute */
            freeReplyObject(r);
            if (!blocking)
                break;
            continue;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
            r->element[0]->type != REDIS_REPLY_ARRAY ||
            r->element[0]->elements != 2 ||
            r->element[0]->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            rc = cli_fail("results", "unexpected XREAD reply");
            break;
        }
        entries = r->element[0]->element[1];
        for (size_t i = 0; i < entries->elements && rc == EXIT_OK; i++) {
            redisReply *e = entries->element[i], *fv;
            const char *id = NULL, *st = NULL;

            if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
                e->element[0]->type != REDIS_REPLY_STRING)
                continue;
            snprintf(last, sizeof(last), "%s", e->element[0]->str);
            if (f.ring)
                ring_push(&f, last);
            fv = e->element[1];
            for (size_t k = 0;
                 fv->type == REDIS_REPLY_ARRAY && k + 1 < fv->elements; k += 2)
                if (fv->element[k]->type == REDIS_REPLY_STRING &&
                    fv->element[k + 1]->type == REDIS_REPLY_STRING) {
                    if (!strcmp(fv->element[k]->str, "id"))
                        id = fv->element[k + 1]->str;
                    else if (!strcmp(fv->element[k]->str, "state"))
                        st = fv->element[k + 1]->str;
                }
            if (id && st && !strcmp(st, "succeeded") && ids_push(&f, id) < 0)
                rc = cli_fail("results", "out of memory");
        }
        freeReplyObject(r);
        while (rc == EXIT_OK && print_results(&f) != 0) {
            /* lost while reading the documents: again, from the first
             * not printed (f.at), once connected again */
            if (!blocking || !f.lost || follow_reconnect(&f) < 0)
                rc = EXIT_FAIL;
            else
                resync = 1;
        }
        if (rc == EXIT_OK)
            f.lost_at = 0; /* read and printed: a later loss has its own
                            * minute */
        ids_clear(&f);
        if (rc != EXIT_OK || (count && f.printed >= count))
            break;
    }
    ids_clear(&f);
    free(f.ids);
    free(f.ring);
    return rc;
}

/* The finished_at of a result document, in ms; -1 when absent. */
static int64_t
finished_ms(const char *doc)
{
    cJSON *o = cJSON_Parse(doc);
    const char *s = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(o, "finished_at"));
    int64_t ms = -1;

    if (!s || timefmt_rfc3339_parse(s, &ms) < 0)
        ms = -1;
    cJSON_Delete(o);
    return ms;
}

static int
export_run(struct cli *c, int64_t since_ms)
{
    /* the cursor: the last done-set member of a page (a batch of ids, up
     * to ~130 kB: results_page.lua), owned here, freed on return */
    char score[32] = "", *last = NULL, lo[32], cnt[16];
    int rc = EXIT_OK;

    if (since_ms)
        snprintf(lo, sizeof(lo), "%" PRId64, since_ms);
    else
        snprintf(lo, sizeof(lo), "-inf");
    snprintf(cnt, sizeof(cnt), "%d", EXPORT_PAGE);
    for (;;) {
        const char *av[4] = {last ? score : "", last ? last : "", lo, cnt};
        char err[512];
        redisReply *r = rclient_script(c->rc, SCRIPT_RESULTS_PAGE, &c->keys, 4,
                                       av, NULL, err, sizeof(err));
        long long n;

        if (!r) {
            rc = cli_fail("results", "%s", err);
            break;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
            r->element[2]->type != REDIS_REPLY_INTEGER ||
            r->elements != 3 + 2 * (size_t)r->element[2]->integer) {
            freeReplyObject(r);
            rc = cli_fail("results", "unexpected reply from results_page");
            break;
        }
        n = r->element[2]->integer;
        for (long long i = 0; i < n; i++) {
            redisReply *doc = r->element[3 + 2 * i + 1];
            if (doc->type != REDIS_REPLY_STRING)
                continue; /* canceled: no result */
            if (since_ms && finished_ms(doc->str) < since_ms)
                continue;
            fwrite(doc->str, 1, doc->len, stdout);
            fputc('\n', stdout);
        }
        if (n > 0) {
            if (r->element[0]->type != REDIS_REPLY_STRING ||
                r->element[1]->type != REDIS_REPLY_STRING ||
                r->element[0]->len >= sizeof(score)) {
                freeReplyObject(r);
                rc = cli_fail("results", "unexpected cursor");
                break;
            }
            snprintf(score, sizeof(score), "%s", r->element[0]->str);
            free(last);
            last = strdup(r->element[1]->str);
            if (!last) {
                freeReplyObject(r);
                rc = cli_fail("results", "out of memory");
                break;
            }
        }
        freeReplyObject(r);
        if (fflush(stdout) != 0) {
            rc = cli_fail("results", "writing the output failed");
            break;
        }
        if (n < EXPORT_PAGE)
            break;
    }
    free(last);
    return rc;
}

static const char results_help[] =
    "usage: genq results [--follow] [--from-start | --since T] [--count N]\n"
    "       genq results export [--since T]\n\n"
    "Result documents of succeeded jobs as JSONL, one per line\n"
    "(schemas/result.schema.json); the output is always JSON.\n\n"
    "genq results reads the queue's completion feed (genq:{Q}:feed: the\n"
    "last ~100,000 finished jobs by default, none when the workers run with\n"
    "--feed-maxlen 0) and prints the result of each succeeded job in\n"
    "completion order; with --follow it then waits for new ones (XREAD\n"
    "BLOCK) until interrupted — how a content system pulls finished\n"
    "articles. Without --follow it starts at the oldest entry; with\n"
    "--follow at the newest, unless --from-start or --since is given.\n"
    "A --follow that loses Redis (a failover, a restart, a dropped\n"
    "connection) connects again, for up to 60 s, and reads on from the\n"
    "entry it had reached; on Redis Cluster it follows a moved slot.\n\n"
    "genq results export prints every stored result (kept for the result\n"
    "TTL), oldest first, paging through Redis in constant memory.\n\n"
    "  -f, --follow   wait for new results\n"
    "  --from-start   start at the oldest entry still in the feed\n"
    "  --since T      start at time T: RFC 3339, or a duration ago (30s, 15m,\n"
    "                 2h, 7d); for export: results finished at or after T\n"
    "  --count N      stop after N results\n" CLI_COMMON_HELP;

int
cmd_results(int argc, char **argv)
{
    struct cli c;
    int first, follow = 0, from_start = 0, export = 0, rc;
    const char *since = NULL;
    long count = 0;
    struct cli_opt opts[] = {
        CLI_OPT_FLAG("follow", 'f', &follow),
        CLI_OPT_FLAG("from-start", 1, &from_start),
        CLI_OPT_STR("since", 2, &since),
        CLI_OPT_LONG("count", 3, &count, 1, 1000000000L, "a number >= 1"),
        CLI_OPT_END};
    struct cli_cmd spec = {"results", results_help, "fh", opts, NULL, NULL, 0};
    int64_t since_ms = 0, now;
    char start[64];

    if (argc > 1 && !strcmp(argv[1], "export")) {
        export = 1;
        argc--;
        argv++;
    }
    if ((rc = cli_parse(&c, &spec, argc, argv, &first)) != CLI_NEXT)
        return rc;
    if (export && (follow || from_start || count))
        return cli_usage_error("results", "export takes only --since");
    if (from_start && since)
        return cli_usage_error("results",
                               "give --from-start or --since, not both");
    if (since) {
        int64_t probe;
        if (ops_parse_since(since, 0, &probe) < 0)
            return cli_usage_error("results",
                                   "--since: expected RFC 3339 or a duration "
                                   "(30s, 15m, 2h, 7d), got '%s'",
                                   since);
    }
    if (cli_connect(&c) < 0)
        return EXIT_FAIL;
    if (since) {
        if (ops_server_now(c.rc, "results", &now) < 0) {
            cli_close(&c);
            return EXIT_FAIL;
        }
        ops_parse_since(since, now, &since_ms);
        if (since_ms < 0)
            since_ms = 0;
    }
    if (export) {
        rc = export_run(&c, since_ms);
    } else {
        if (since && since_ms > 0) /* XREAD starts after the id given */
            snprintf(start, sizeof(start), "%" PRId64 "-18446744073709551615",
                     since_ms - 1);
        else if (since || from_start || !follow)
            snprintf(start, sizeof(start), "0-0");
        else if (stream_last_id(&c, start, sizeof(start)) < 0) {
            cli_close(&c);
            return EXIT_FAIL;
        }
        rc = follow_run(&c, start, follow, count);
    }
    cli_close(&c);
    return rc;
}
