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
 * and from Redis the stats hash, the events stream and the membership of
 * the queue's lists and sets. --killed names the workers the soak
 * SIGKILLed ("pid epoch_ms" lines): a lease expiry of any other worker is an
 * attempt lost to a Redis outage, and must not kill a job. It prints one
 * table row per invariant and, for each breach, the first 20 offending job
 * ids with the reason. The expected text of a succeeded job is computed with
 * the mock's own generator (tests/mock-llm/mocktext.c): the first
 * min(N, (1 + C) * M) tokens of the article for its prompt, for max_tokens M
 * and max_continuations C. Exit status 0 when every invariant holds, 1 on a
 * breach, 2 on a usage or I/O error. */
#include "fmacros.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>

#include "keys.h"
#include "mocktext.h"
#include "rclient.h"
#include "redisurl.h"

#define MAX_SHOWN 20

static void
die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("chaos-check: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static char *
xstrdup(const char *s)
{
    char *d = strdup(s ? s : "");

    if (!d)
        die("out of memory");
    return d;
}

static long
arg_long(const char *name, const char *v, long lo, long hi)
{
    char *end;
    long x;

    errno = 0;
    x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        die("%s: expected an integer in %ld..%ld, got '%s'", name, lo, hi, v);
    return x;
}

/* ---- gen --------------------------------------------------------------- */

static uint64_t
rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static long
rng_range(uint64_t *s, long lo, long hi)
{
    return lo + (long)(rng_next(s) % (uint64_t)(hi - lo + 1));
}

static const char *const topics[] = {
    "Redis Streams",     "visibility timeouts", "lease fencing",
    "append-only files", "exponential backoff", "circuit breakers",
    "SSE parsing",       "idempotency keys",    "dead-letter queues",
    "priority queues",   "libev timers",        "curl multi_socket"};

static int
cmd_gen(int argc, char **argv)
{
    long n = 10000, max_delay = 20;
    uint64_t seed = 1, st;

    for (int i = 0; i < argc; i++) {
        if (i + 1 >= argc)
            die("%s needs a value", argv[i]);
        if (!strcmp(argv[i], "--jobs"))
            n = arg_long("--jobs", argv[++i], 1, 999999);
        else if (!strcmp(argv[i], "--seed"))
            seed = (uint64_t)arg_long("--seed", argv[++i], 0, LONG_MAX);
        else if (!strcmp(argv[i], "--max-delay"))
            max_delay = arg_long("--max-delay", argv[++i], 0, 3600);
        else
            die("gen: unknown flag '%s'", argv[i]);
    }
    st = seed * 7919 + 17;
    for (long i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject(), *meta;
        char id[32], prompt[256], *line;
        long r = rng_range(&st, 0, 999);
        int len;

        if (!o)
            die("out of memory");
        snprintf(id, sizeof(id), "chaos-%06ld", i);
        len = snprintf(
            prompt, sizeof(prompt),
            "Chaos soak %" PRIu64 " job %ld: an article on %s.", seed, i,
            topics[rng_next(&st) % (sizeof(topics) / sizeof(topics[0]))]);
        cJSON_AddStringToObject(o, "id", id);
        if (r < 10) {
            /* 1%: permanent error on every request */
            snprintf(prompt + len, sizeof(prompt) - (size_t)len,
                     " [mock:fail=400]");
        } else if (r < 160) {
            /* 15%: long article, continued up to the limit; some are cut */
            snprintf(prompt + len, sizeof(prompt) - (size_t)len,
                     " [mock:tokens=%ld]", rng_range(&st, 150, 700));
            cJSON_AddNumberToObject(o, "max_tokens",
                                    (double)rng_range(&st, 60, 200));
        } else if (r < 260) {
            /* 10%: the default article with a small budget */
            cJSON_AddNumberToObject(o, "max_tokens",
                                    (double)rng_range(&st, 25, 110));
            if (r < 200)
                cJSON_AddNumberToObject(o, "max_continuations",
                                        (double)rng_range(&st, 0, 2));
        }
        cJSON_AddStringToObject(o, "prompt", prompt);
        r = rng_range(&st, 0, 99);
        if (r < 10)
            cJSON_AddStringToObject(o, "priority", "high");
        else if (r < 20)
            cJSON_AddStringToObject(o, "priority", "low");
        if (max_delay > 0 && rng_range(&st, 0, 99) < 5)
            cJSON_AddNumberToObject(o, "delay_s",
                                    (double)rng_range(&st, 1, max_delay));
        r = rng_range(&st, 0, 99);
        if (r < 6)
            cJSON_AddNumberToObject(o, "max_attempts", r < 3 ? 1 : 2);
        meta = cJSON_AddObjectToObject(o, "metadata");
        if (meta)
            cJSON_AddNumberToObject(meta, "n", (double)i);
        line = cJSON_PrintUnformatted(o);
        if (!line)
            die("out of memory");
        puts(line);
        cJSON_free(line);
        cJSON_Delete(o);
    }
    return fflush(stdout) == 0 ? 0 : 2;
}

/* ---- verify: data -------------------------------------------------------- */

struct job {
    char *id;
    char *prompt;
    long max_tokens, max_cont, n;
    int fail400;
    /* from genq status */
    int seen;
    char state[16];
    long attempts, max_attempts;
    int continuations;
    int lease_expiries; /* lease_expired entries in its history */
    int live_expiries;  /* ... of a worker that was not SIGKILLed */
    /* from Redis */
    int in_results, in_dead, in_leases, in_delayed, in_ready;
    int ev_succeeded, ev_dead, ev_other;
};

static struct job *jobs;
static size_t njobs;
/* outcomes in the jobs' histories, to reconcile with the counters */
static long hist_retry, hist_requeued, hist_dead, hist_lease;

static int
job_cmp(const void *a, const void *b)
{
    return strcmp(((const struct job *)a)->id, ((const struct job *)b)->id);
}

static struct job *
job_find(const char *id)
{
    struct job key = {0};

    key.id = (char *)id;
    return bsearch(&key, jobs, njobs, sizeof(*jobs), job_cmp);
}

/* One invariant: a table row and its breaches. */
struct inv {
    const char *name;
    long checked, breaches;
    char *shown[MAX_SHOWN];
    int nshown;
};

enum {
    I_TERMINAL,
    I_ONE_STATE,
    I_TEXT,
    I_USAGE,
    I_DEAD_WHY,
    I_LIVE_DEAD,
    I_FAIL_DEAD,
    I_EV_SUCC,
    I_EV_DEAD,
    I_COUNTS,
    I_NUM
};

static struct inv inv[I_NUM] = {
    {"every job in exactly one terminal state (succeeded|dead)", 0, 0, {0}, 0},
    {"its Redis records agree (results/dead/ready/leases/delayed)",
     0,
     0,
     {0},
     0},
    {"succeeded text == mock text for its own prompt (exact)", 0, 0, {0}, 0},
    {"result document: own id, metadata, usage.output_tokens", 0, 0, {0}, 0},
    {"dead only for permanent error or spent attempts, with error",
     0,
     0,
     {0},
     0},
    {"no job dead of a lease expiry while its worker was alive", 0, 0, {0}, 0},
    {"[mock:fail=400] jobs dead as permanent (never succeeded)", 0, 0, {0}, 0},
    {"one 'succeeded' event per succeeded job (no double write)", 0, 0, {0}, 0},
    {"one 'dead' event per dead job, none for others", 0, 0, {0}, 0},
    {"counts: genq status == genq stats == stats hash == histories",
     0,
     0,
     {0},
     0},
};

static void
breach(int which, const char *id, const char *fmt, ...)
{
    struct inv *v = &inv[which];
    char msg[600];
    va_list ap;

    v->breaches++;
    if (v->nshown >= MAX_SHOWN)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    {
        size_t n = strlen(msg) + strlen(id) + 4;
        char *s = malloc(n);
        if (!s)
            die("out of memory");
        snprintf(s, n, "%s: %s", id, msg);
        v->shown[v->nshown++] = s;
    }
}

static FILE *
open_file(const char *path)
{
    FILE *f = fopen(path, "r");

    if (!f)
        die("cannot open %s: %s", path, strerror(errno));
    return f;
}

static long
num_or(const cJSON *o, const char *k, long dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsNumber(v) ? (long)v->valuedouble : dflt;
}

static const char *
str_or(const cJSON *o, const char *k, const char *dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsString(v) ? v->valuestring : dflt;
}

static void
load_jobs(const char *path, long def_max_tokens, long def_cont)
{
    FILE *f = open_file(path);
    char *line = NULL;
    size_t cap = 0, alloc = 0;
    ssize_t len;

    while ((len = getline(&line, &cap, f)) > 0) {
        cJSON *o = cJSON_ParseWithLength(line, (size_t)len), *meta;
        struct job *j;

        if (!o)
            die("%s: line %zu is not JSON", path, njobs + 1);
        if (njobs == alloc) {
            alloc = alloc ? alloc * 2 : 1024;
            jobs = realloc(jobs, alloc * sizeof(*jobs));
            if (!jobs)
                die("out of memory");
        }
        j = &jobs[njobs++];
        memset(j, 0, sizeof(*j));
        j->id = xstrdup(str_or(o, "id", NULL));
        j->prompt = xstrdup(str_or(o, "prompt", NULL));
        if (!*j->id || !*j->prompt)
            die("%s: line %zu has no id or prompt", path, njobs);
        j->max_tokens = num_or(o, "max_tokens", def_max_tokens);
        j->max_cont = num_or(o, "max_continuations", def_cont);
        meta = cJSON_GetObjectItemCaseSensitive(o, "metadata");
        j->n = num_or(meta, "n", -1);
        j->fail400 = strstr(j->prompt, "[mock:fail=400]") != NULL;
        cJSON_Delete(o);
    }
    free(line);
    fclose(f);
    qsort(jobs, njobs, sizeof(*jobs), job_cmp);
    for (size_t i = 1; i < njobs; i++)
        if (!strcmp(jobs[i - 1].id, jobs[i].id))
            die("%s: duplicate id %s", path, jobs[i].id);
}

/* Where two strings first differ (for the breach message). */
static size_t
first_diff(const char *a, const char *b)
{
    size_t i = 0;

    while (a[i] && a[i] == b[i])
        i++;
    return i;
}

static void
check_result(struct job *j, const cJSON *res, size_t ntok_default)
{
    size_t plen = strlen(j->prompt), want_len, k, got_k;
    size_t total = mocktext_article_tokens(j->prompt, plen, ntok_default);
    size_t budget = (size_t)j->max_tokens * (size_t)(1 + j->max_cont);
    size_t want_tokens = budget < total ? budget : total;
    char *want =
        mocktext_prefix(j->prompt, plen, ntok_default, want_tokens, &want_len);
    const char *text = str_or(res, "text", NULL);
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(res, "usage");
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(res, "metadata");
    long out_tokens = num_or(u, "output_tokens", -1);

    if (!want)
        die("out of memory");
    inv[I_TEXT].checked++;
    inv[I_USAGE].checked++;
    j->continuations = (int)num_or(res, "continuations", 0);
    if (!text) {
        breach(I_TEXT, j->id, "succeeded but its result has no text");
    } else if (strcmp(text, want) != 0) {
        size_t at = first_diff(text, want);
        if (mocktext_prefix_tokens(j->prompt, plen, ntok_default, text,
                                   strlen(text), &got_k) == 0)
            breach(I_TEXT, j->id,
                   "text is the first %zu tokens of its article, want %zu "
                   "(N=%zu, max_tokens=%ld, continuations=%d of %ld)",
                   got_k, want_tokens, total, j->max_tokens, j->continuations,
                   j->max_cont);
        else
            breach(I_TEXT, j->id,
                   "text differs from the mock's at byte %zu (got %zu bytes, "
                   "want %zu; continuations=%d): got \"%.40s\"",
                   at, strlen(text), want_len, j->continuations, text + at);
    }
    free(want);
    k = want_tokens;
    if (strcmp(str_or(res, "id", ""), j->id) != 0)
        breach(I_USAGE, j->id, "result document names id '%s'",
               str_or(res, "id", "(none)"));
    else if (num_or(meta, "n", -2) != j->n)
        breach(I_USAGE, j->id, "result metadata.n is %ld, want %ld",
               num_or(meta, "n", -2), j->n);
    else if (out_tokens != (long)k)
        breach(I_USAGE, j->id,
               "usage.output_tokens is %ld, want %zu (continuations=%d)",
               out_tokens, k, j->continuations);
}

/* Workers the soak SIGKILLed: pid and the time of the kill (ms). */
static struct killed {
    long pid;
    int64_t ms;
} * killed;
static size_t nkilled;
static int killed_known; /* --killed given: otherwise nobody is accused */

static void
load_killed(const char *path)
{
    FILE *f = open_file(path);
    long pid;
    int64_t ms;

    killed_known = 1;
    while (fscanf(f, "%ld %" SCNd64, &pid, &ms) == 2) {
        struct killed *k = realloc(killed, (nkilled + 1) * sizeof(*killed));
        if (!k)
            die("out of memory");
        killed = k;
        killed[nkilled].pid = pid;
        killed[nkilled++].ms = ms;
    }
    fclose(f);
}

/* RFC 3339 UTC with milliseconds ("2026-01-02T03:04:05.678Z") to ms since
 * the epoch; -1 when it does not parse. */
static int64_t
rfc3339_ms(const char *s)
{
    struct tm tm = {0};
    int ms = 0;

    if (!s ||
        sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon,
               &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

/* Whether a lease that expired at `at` belonged to a worker still alive
 * then: its pid (worker id "host:pid:rand") was not SIGKILLed before. */
static int
worker_was_alive(const char *worker, const char *at)
{
    const char *end = worker ? strrchr(worker, ':') : NULL, *p;
    int64_t t = rfc3339_ms(at);
    long pid;

    if (!killed_known || !end || t < 0)
        return 0; /* cannot tell: do not accuse */
    for (p = end; p > worker && p[-1] != ':'; p--)
        ;
    pid = strtol(p, NULL, 10);
    for (size_t i = 0; i < nkilled; i++)
        if (killed[i].pid == pid && killed[i].ms <= t)
            return 0;
    return 1;
}

static void
check_dead(struct job *j, const cJSON *err)
{
    const char *cls = str_or(err, "class", NULL);
    long http = num_or(err, "http_status", 0);
    int spent = j->attempts >= j->max_attempts && j->max_attempts > 0;

    inv[I_DEAD_WHY].checked++;
    if (!err || !cls) {
        breach(I_DEAD_WHY, j->id, "dead without an error object");
        return;
    }
    if (!strcmp(cls, "permanent")) {
        if (!j->fail400)
            breach(I_DEAD_WHY, j->id,
                   "dead as permanent but its prompt has no 400 marker: "
                   "http_status %ld, %s",
                   http, str_or(err, "message", ""));
        else if (http != 400)
            breach(I_DEAD_WHY, j->id, "permanent with http_status %ld", http);
    } else if (!strcmp(cls, "exhausted") || !strcmp(cls, "lease_expired")) {
        if (!spent)
            breach(I_DEAD_WHY, j->id, "dead (%s) after %ld of %ld attempts: %s",
                   cls, j->attempts, j->max_attempts,
                   str_or(err, "message", ""));
    } else {
        breach(I_DEAD_WHY, j->id, "dead with class '%s': %s", cls,
               str_or(err, "message", ""));
    }
}

static void
load_status(const char *path, size_t ntok_default, int everysec,
            long *unknown_tolerated)
{
    FILE *f = open_file(path);
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t len;

    while ((len = getline(&line, &cap, f)) > 0) {
        cJSON *o = cJSON_ParseWithLength(line, (size_t)len), *h, *e;
        const cJSON *last_exp;
        struct job *j;

        lineno++;
        if (!o)
            die("%s: line %zu is not JSON", path, lineno);
        j = job_find(str_or(o, "id", ""));
        if (!j)
            die("%s: line %zu: id '%s' was not generated", path, lineno,
                str_or(o, "id", ""));
        if (j->seen)
            die("%s: id %s answered twice", path, j->id);
        j->seen = 1;
        snprintf(j->state, sizeof(j->state), "%s", str_or(o, "state", "?"));
        j->attempts = num_or(o, "attempts", 0);
        j->max_attempts = num_or(o, "max_attempts", 0);
        h = cJSON_GetObjectItemCaseSensitive(o, "history");
        last_exp = NULL;
        cJSON_ArrayForEach(e, h)
        {
            const char *oc = str_or(e, "outcome", "");
            hist_retry += !strcmp(oc, "retry");
            hist_requeued += !strcmp(oc, "requeued");
            hist_dead += !strcmp(oc, "dead");
            hist_lease += !strcmp(oc, "lease_expired");
            if (strcmp(oc, "lease_expired") != 0)
                continue;
            j->lease_expiries++;
            last_exp = e;
            if (worker_was_alive(str_or(e, "worker", NULL),
                                 str_or(e, "at", NULL)))
                j->live_expiries++;
        }
        inv[I_TERMINAL].checked++;
        if (!strcmp(j->state, "succeeded")) {
            check_result(j, cJSON_GetObjectItemCaseSensitive(o, "result"),
                         ntok_default);
        } else if (!strcmp(j->state, "dead")) {
            const cJSON *le = cJSON_GetObjectItemCaseSensitive(o, "last_error");
            check_dead(j, le);
            inv[I_LIVE_DEAD].checked++;
            if (!strcmp(str_or(le, "class", ""), "lease_expired") && last_exp &&
                worker_was_alive(str_or(last_exp, "worker", NULL),
                                 str_or(last_exp, "at", NULL)))
                breach(I_LIVE_DEAD, j->id,
                       "dead (lease_expired, attempt %ld of %ld) at %s, but "
                       "worker %s was never SIGKILLed before that",
                       j->attempts, j->max_attempts,
                       str_or(last_exp, "at", "?"),
                       str_or(last_exp, "worker", "?"));
        } else if (!strcmp(j->state, "unknown") && everysec) {
            (*unknown_tolerated)++;
        } else {
            const cJSON *le = cJSON_GetObjectItemCaseSensitive(o, "last_error");
            breach(I_TERMINAL, j->id,
                   "state %s, attempts %ld, worker %s, lease_ms_left %ld, "
                   "last error %s",
                   j->state, j->attempts, str_or(o, "worker", "null"),
                   num_or(o, "lease_ms_left", -1),
                   str_or(le, "message", "null"));
        }
        inv[I_FAIL_DEAD].checked += j->fail400;
        if (j->fail400 && strcmp(j->state, "dead") != 0 &&
            strcmp(j->state, "unknown") != 0)
            breach(I_FAIL_DEAD, j->id, "carries [mock:fail=400] but is %s",
                   j->state);
        cJSON_Delete(o);
    }
    free(line);
    fclose(f);
    for (size_t i = 0; i < njobs; i++)
        if (!jobs[i].seen)
            die("%s: no status line for %s", path, jobs[i].id);
}

/* ---- verify: Redis --------------------------------------------------------
 */

static redisReply *
cmd(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;

    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!r)
        die("redis: %s", c->errstr);
    if (r->type == REDIS_REPLY_ERROR)
        die("redis: %s", r->str);
    return r;
}

/* Marks every member of an array reply; returns the count. Members that
 * are not jobs of the soak are breaches of the "records agree" row. */
static long
mark(redisReply *r, size_t field_offset, const char *what)
{
    for (size_t i = 0; i < r->elements; i++) {
        struct job *j = job_find(r->element[i]->str);
        if (!j) {
            breach(I_ONE_STATE, r->element[i]->str, "unknown id in %s", what);
            continue;
        }
        (*(int *)((char *)j + field_offset))++;
    }
    return (long)r->elements;
}

static long
stat_of(redisReply *h, const char *name)
{
    for (size_t i = 0; i + 1 < h->elements; i += 2)
        if (!strcmp(h->element[i]->str, name))
            return strtol(h->element[i + 1]->str, NULL, 10);
    return 0;
}

struct redis_view {
    long results, dead, stat_enq, stat_succ, stat_dead, stat_canceled;
    long stat_retried, stat_requeued, stat_failed, stat_lease;
    long jobs_hash, events_entries;
    redisReply *stats;
};

static void
read_redis(const char *url, const char *queue, struct redis_view *rv)
{
    struct redis_url u;
    struct qkeys k;
    char err[256], start[64] = "-";
    redisContext *c;
    redisReply *r;

    if (redisurl_parse(url, &u, err, sizeof(err)) < 0)
        die("--redis: %s", err);
    if (qkeys_init(&k, queue) < 0)
        die("--queue: invalid queue name '%s'", queue);
    c = rclient_connect(&u, 10.0, err, sizeof(err));
    if (!c)
        die("redis: %s", err);

    r = cmd(c, "HKEYS %s", k.key[QK_RESULTS]);
    rv->results = mark(r, offsetof(struct job, in_results), "results");
    freeReplyObject(r);
    r = cmd(c, "ZRANGE %s 0 -1", k.key[QK_DEAD]);
    rv->dead = mark(r, offsetof(struct job, in_dead), "the dead set");
    freeReplyObject(r);
    r = cmd(c, "ZRANGEBYSCORE %s -inf (+inf", k.key[QK_LEASES]);
    mark(r, offsetof(struct job, in_leases), "the leases");
    freeReplyObject(r);
    r = cmd(c, "ZRANGE %s 0 -1", k.key[QK_DELAYED]);
    mark(r, offsetof(struct job, in_delayed), "the delayed set");
    freeReplyObject(r);
    for (int p = QK_READY_HIGH; p <= QK_READY_LOW; p++) {
        r = cmd(c, "LRANGE %s 0 -1", k.key[p]);
        mark(r, offsetof(struct job, in_ready), "a ready list");
        freeReplyObject(r);
    }
    r = cmd(c, "HLEN %s", k.key[QK_JOBS]);
    rv->jobs_hash = (long)r->integer;
    freeReplyObject(r);

    /* the events stream, in pages */
    for (;;) {
        size_t n;
        r = cmd(c, "XRANGE %s %s + COUNT 1000", k.key[QK_EVENTS], start);
        n = r->elements;
        for (size_t i = 0; i < n; i++) {
            redisReply *e = r->element[i], *f = e->element[1];
            rv->events_entries++;
            for (size_t x = 0; x + 1 < f->elements; x += 2) {
                struct job *j = job_find(f->element[x]->str);
                const char *st = f->element[x + 1]->str;
                if (!j) {
                    breach(I_EV_SUCC, f->element[x]->str,
                           "event '%s' for an id the soak never enqueued", st);
                    continue;
                }
                if (!strcmp(st, "succeeded"))
                    j->ev_succeeded++;
                else if (!strcmp(st, "dead"))
                    j->ev_dead++;
                else
                    j->ev_other++;
            }
            if (i + 1 == n)
                snprintf(start, sizeof(start), "(%s", e->element[0]->str);
        }
        freeReplyObject(r);
        if (n < 1000)
            break;
    }

    rv->stats = cmd(c, "HGETALL %s", k.key[QK_STATS]);
    rv->stat_enq = stat_of(rv->stats, "enqueued");
    rv->stat_succ = stat_of(rv->stats, "succeeded");
    rv->stat_dead = stat_of(rv->stats, "dead");
    rv->stat_canceled = stat_of(rv->stats, "canceled");
    rv->stat_retried = stat_of(rv->stats, "retried");
    rv->stat_requeued = stat_of(rv->stats, "requeued");
    rv->stat_failed = stat_of(rv->stats, "failed");
    rv->stat_lease = stat_of(rv->stats, "lease_expired");
    redisFree(c);
}

/* ---- verify -------------------------------------------------------------- */

static void
check_records(void)
{
    for (size_t i = 0; i < njobs; i++) {
        struct job *j = &jobs[i];
        int succ = !strcmp(j->state, "succeeded"),
            dead = !strcmp(j->state, "dead");
        char rec[160];

        if (!succ && !dead)
            continue; /* already a breach of the terminal row */
        inv[I_ONE_STATE].checked++;
        snprintf(rec, sizeof(rec),
                 "state %s; results %d, dead set %d, leases %d, delayed %d, "
                 "ready %d",
                 j->state, j->in_results, j->in_dead, j->in_leases,
                 j->in_delayed, j->in_ready);
        if (j->in_results != succ || j->in_dead != dead || j->in_leases ||
            j->in_delayed || j->in_ready)
            breach(I_ONE_STATE, j->id, "%s", rec);

        inv[I_EV_SUCC].checked++;
        if (j->ev_succeeded != succ)
            breach(I_EV_SUCC, j->id, "state %s with %d 'succeeded' events",
                   j->state, j->ev_succeeded);
        inv[I_EV_DEAD].checked++;
        if (j->ev_dead != dead || j->ev_other)
            breach(I_EV_DEAD, j->id,
                   "state %s with %d 'dead' and %d other events", j->state,
                   j->ev_dead, j->ev_other);
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
        inv[I_COUNTS].checked++;
        if (c[i].got != c[i].want)
            breach(I_COUNTS, "counts", "%s: %ld != %ld", c[i].what, c[i].got,
                   c[i].want);
    }
}

/* `genq stats --json` for the queue against the jobs. */
static void
check_genq_stats(const char *path, long nsucc, long ndead, long known)
{
    FILE *f = open_file(path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len = getline(&line, &cap, f);
    cJSON *o = len > 0 ? cJSON_ParseWithLength(line, (size_t)len) : NULL;

    fclose(f);
    free(line);
    if (!o)
        die("%s: not a genq stats --json line", path);
    {
        struct count c[] = {
            {"genq stats ready", num_or(o, "ready", -1), 0},
            {"genq stats active", num_or(o, "active", -1), 0},
            {"genq stats delayed", num_or(o, "delayed", -1), 0},
            {"genq stats enqueued vs jobs enqueued", num_or(o, "enqueued", -1),
             known},
            {"genq stats succeeded vs genq status", num_or(o, "succeeded", -1),
             nsucc},
            {"genq stats dead vs genq status", num_or(o, "dead", -1), ndead},
            {"genq stats canceled", num_or(o, "canceled", -1), 0},
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
        {"jobs stored vs jobs enqueued", rv->jobs_hash, known},
        {"stats.retried vs 'retry' in histories", rv->stat_retried, hist_retry},
        {"stats.requeued vs 'requeued' in histories", rv->stat_requeued,
         hist_requeued},
        {"stats.failed vs 'retry' + 'dead' in histories", rv->stat_failed,
         hist_retry + hist_dead},
        {"stats.lease_expired vs 'lease_expired' in histories", rv->stat_lease,
         hist_lease},
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
        printf("%-62s %8ld %8ld  %s\n", inv[i].name, inv[i].checked,
               inv[i].breaches, inv[i].breaches ? "FAIL" : "PASS");
    for (int i = 0; i < I_NUM; i++) {
        if (!inv[i].breaches)
            continue;
        printf("\nFAIL %s: %ld breach(es)%s\n", inv[i].name, inv[i].breaches,
               inv[i].breaches > MAX_SHOWN ? " (first 20)" : "");
        for (int s = 0; s < inv[i].nshown; s++)
            printf("  %s\n", inv[i].shown[s]);
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
            die("%s needs a value", argv[i]);
        if (!strcmp(argv[i], "--redis"))
            url = argv[++i];
        else if (!strcmp(argv[i], "--queue"))
            queue = argv[++i];
        else if (!strcmp(argv[i], "--jobs"))
            jobs_path = argv[++i];
        else if (!strcmp(argv[i], "--status"))
            status = argv[++i];
        else if (!strcmp(argv[i], "--max-tokens"))
            max_tokens = arg_long("--max-tokens", argv[++i], 1, 200000);
        else if (!strcmp(argv[i], "--max-continuations"))
            max_cont = arg_long("--max-continuations", argv[++i], 0, 20);
        else if (!strcmp(argv[i], "--article-tokens"))
            art =
                arg_long("--article-tokens", argv[++i], 1, MOCKTEXT_MAX_TOKENS);
        else if (!strcmp(argv[i], "--fsync"))
            fsync_mode = argv[++i];
        else if (!strcmp(argv[i], "--killed"))
            load_killed(argv[++i]);
        else if (!strcmp(argv[i], "--stats"))
            stats_path = argv[++i];
        else
            die("verify: unknown flag '%s'", argv[i]);
    }
    if (!url || !queue || !jobs_path || !status)
        die("verify needs --redis, --queue, --jobs and --status");
    if (strcmp(fsync_mode, "always") && strcmp(fsync_mode, "everysec"))
        die("--fsync: always or everysec");
    everysec = !strcmp(fsync_mode, "everysec");

    load_jobs(jobs_path, max_tokens, max_cont);
    load_status(status, (size_t)art, everysec, &unknown);
    read_redis(url, queue, &rv);
    check_records();
    for (size_t i = 0; i < njobs; i++) {
        struct job *j = &jobs[i];
        nsucc += !strcmp(j->state, "succeeded");
        ndead += !strcmp(j->state, "dead");
        fail += j->fail400;
        hist_att[j->attempts < 7 ? j->attempts : 7]++;
        lease_exp += j->lease_expiries;
        live_exp += j->live_expiries;
        conts += j->continuations;
    }
    known = (long)njobs - unknown;
    check_counts(&rv, nsucc, ndead, known);
    if (stats_path)
        check_genq_stats(stats_path, nsucc, ndead, known);

    printf("jobs generated %zu (with [mock:fail=400]: %ld); succeeded %ld, "
           "dead %ld, other %ld\n",
           njobs, fail, nsucc, ndead, (long)njobs - nsucc - ndead);
    printf("attempts per job:");
    for (int a = 0; a < 8; a++)
        if (hist_att[a])
            printf(" %s%d:%ld", a == 7 ? ">=" : "", a, hist_att[a]);
    printf("\nlease expiries in histories %ld (%ld of workers that were "
           "alive: attempts lost to Redis outages); continuations in results "
           "%ld; event entries %ld\n",
           lease_exp, live_exp, conts, rv.events_entries);
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
        if (inv[i].breaches)
            return 1;
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "gen"))
        return cmd_gen(argc - 2, argv + 2);
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
