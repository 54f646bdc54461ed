/* chaos-check verify, the data side: the jobs as enqueued, the `genq
 * status` lines with their results and histories, the SIGKILLed workers, and
 * the per-job invariants (terminal state, exact text, usage, dead reasons). */
#include "fmacros.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "mocktext.h"

#include "check.h"

/* ---- verify: data -------------------------------------------------------- */

struct job *chaos_jobs;
size_t chaos_njobs;
/* outcomes in the jobs' histories, to reconcile with the counters */
long chaos_hist_retry, chaos_hist_requeued, chaos_hist_dead, chaos_hist_lease;

static int
job_cmp(const void *a, const void *b)
{
    return strcmp(((const struct job *)a)->id, ((const struct job *)b)->id);
}

/* bsearch: the key is the id itself (no cast away of const). */
static int
job_id_cmp(const void *id, const void *job)
{
    return strcmp(id, ((const struct job *)job)->id);
}

struct job *
chaos_job_find(const char *id)
{
    return bsearch(id, chaos_jobs, chaos_njobs, sizeof(*chaos_jobs),
                   job_id_cmp);
}

struct inv chaos_inv[I_NUM] = {
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
    {"one feed entry per terminal job, its state (no double write)",
     0,
     0,
     {0},
     0},
    {"counts: genq status == genq stats == stats hash == histories",
     0,
     0,
     {0},
     0},
};

void
chaos_breach(int which, const char *id, const char *fmt, ...)
{
    struct inv *v = &chaos_inv[which];
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
            chaos_die("out of memory");
        snprintf(s, n, "%s: %s", id, msg);
        v->shown[v->nshown++] = s;
    }
}

FILE *
chaos_open_file(const char *path)
{
    FILE *f = fopen(path, "r");

    if (!f)
        chaos_die("cannot open %s: %s", path, strerror(errno));
    return f;
}

long
chaos_num_or(const cJSON *o, const char *k, long dflt)
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

void
chaos_load_jobs(const char *path, long def_max_tokens, long def_cont)
{
    FILE *f = chaos_open_file(path);
    char *line = NULL;
    size_t cap = 0, alloc = 0;
    ssize_t len;

    while ((len = getline(&line, &cap, f)) > 0) {
        cJSON *o = cJSON_ParseWithLength(line, (size_t)len), *meta;
        struct job *j;

        if (!o)
            chaos_die("%s: line %zu is not JSON", path, chaos_njobs + 1);
        if (chaos_njobs == alloc) {
            alloc = alloc ? alloc * 2 : 1024;
            chaos_jobs = realloc(chaos_jobs, alloc * sizeof(*chaos_jobs));
            if (!chaos_jobs)
                chaos_die("out of memory");
        }
        j = &chaos_jobs[chaos_njobs++];
        memset(j, 0, sizeof(*j));
        j->id = chaos_xstrdup(str_or(o, "id", NULL));
        j->prompt = chaos_xstrdup(str_or(o, "prompt", NULL));
        if (!*j->id || !*j->prompt)
            chaos_die("%s: line %zu has no id or prompt", path, chaos_njobs);
        j->max_tokens = chaos_num_or(o, "max_tokens", def_max_tokens);
        j->max_cont = chaos_num_or(o, "max_continuations", def_cont);
        meta = cJSON_GetObjectItemCaseSensitive(o, "metadata");
        j->n = chaos_num_or(meta, "n", -1);
        j->fail400 = strstr(j->prompt, "[mock:fail=400]") != NULL;
        cJSON_Delete(o);
    }
    free(line);
    fclose(f);
    qsort(chaos_jobs, chaos_njobs, sizeof(*chaos_jobs), job_cmp);
    for (size_t i = 1; i < chaos_njobs; i++)
        if (!strcmp(chaos_jobs[i - 1].id, chaos_jobs[i].id))
            chaos_die("%s: duplicate id %s", path, chaos_jobs[i].id);
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
    long out_tokens = chaos_num_or(u, "output_tokens", -1);

    if (!want)
        chaos_die("out of memory");
    chaos_inv[I_TEXT].checked++;
    chaos_inv[I_USAGE].checked++;
    j->continuations = (int)chaos_num_or(res, "continuations", 0);
    if (!text) {
        chaos_breach(I_TEXT, j->id, "succeeded but its result has no text");
    } else if (strcmp(text, want) != 0) {
        size_t at = first_diff(text, want);
        if (mocktext_prefix_tokens(j->prompt, plen, ntok_default, text,
                                   strlen(text), &got_k) == 0)
            chaos_breach(
                I_TEXT, j->id,
                "text is the first %zu tokens of its article, want %zu "
                "(N=%zu, max_tokens=%ld, continuations=%d of %ld)",
                got_k, want_tokens, total, j->max_tokens, j->continuations,
                j->max_cont);
        else
            chaos_breach(
                I_TEXT, j->id,
                "text differs from the mock's at byte %zu (got %zu bytes, "
                "want %zu; continuations=%d): got \"%.40s\"",
                at, strlen(text), want_len, j->continuations, text + at);
    }
    free(want);
    k = want_tokens;
    if (strcmp(str_or(res, "id", ""), j->id) != 0)
        chaos_breach(I_USAGE, j->id, "result document names id '%s'",
                     str_or(res, "id", "(none)"));
    else if (chaos_num_or(meta, "n", -2) != j->n)
        chaos_breach(I_USAGE, j->id, "result metadata.n is %ld, want %ld",
                     chaos_num_or(meta, "n", -2), j->n);
    else if (out_tokens != (long)k)
        chaos_breach(I_USAGE, j->id,
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

void
chaos_load_killed(const char *path)
{
    FILE *f = chaos_open_file(path);
    long pid;
    int64_t ms;

    killed_known = 1;
    while (fscanf(f, "%ld %" SCNd64, &pid, &ms) == 2) {
        struct killed *k = realloc(killed, (nkilled + 1) * sizeof(*killed));
        if (!k)
            chaos_die("out of memory");
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
    long http = chaos_num_or(err, "http_status", 0);
    int spent = j->attempts >= j->max_attempts && j->max_attempts > 0;

    chaos_inv[I_DEAD_WHY].checked++;
    if (!err || !cls) {
        chaos_breach(I_DEAD_WHY, j->id, "dead without an error object");
        return;
    }
    if (!strcmp(cls, "permanent")) {
        if (!j->fail400)
            chaos_breach(I_DEAD_WHY, j->id,
                         "dead as permanent but its prompt has no 400 marker: "
                         "http_status %ld, %s",
                         http, str_or(err, "message", ""));
        else if (http != 400)
            chaos_breach(I_DEAD_WHY, j->id, "permanent with http_status %ld",
                         http);
    } else if (!strcmp(cls, "exhausted") || !strcmp(cls, "lease_expired")) {
        if (!spent)
            chaos_breach(
                I_DEAD_WHY, j->id, "dead (%s) after %ld of %ld attempts: %s",
                cls, j->attempts, j->max_attempts, str_or(err, "message", ""));
    } else {
        chaos_breach(I_DEAD_WHY, j->id, "dead with class '%s': %s", cls,
                     str_or(err, "message", ""));
    }
}

void
chaos_load_status(const char *path, size_t ntok_default, int everysec,
                  long *unknown_tolerated)
{
    FILE *f = chaos_open_file(path);
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t len;

    while ((len = getline(&line, &cap, f)) > 0) {
        cJSON *o = cJSON_ParseWithLength(line, (size_t)len), *h, *e;
        const cJSON *last_exp;
        struct job *j;

        lineno++;
        if (!o)
            chaos_die("%s: line %zu is not JSON", path, lineno);
        j = chaos_job_find(str_or(o, "id", ""));
        if (!j)
            chaos_die("%s: line %zu: id '%s' was not generated", path, lineno,
                      str_or(o, "id", ""));
        if (j->seen)
            chaos_die("%s: id %s answered twice", path, j->id);
        j->seen = 1;
        snprintf(j->state, sizeof(j->state), "%s", str_or(o, "state", "?"));
        j->attempts = chaos_num_or(o, "attempts", 0);
        j->max_attempts = chaos_num_or(o, "max_attempts", 0);
        h = cJSON_GetObjectItemCaseSensitive(o, "history");
        last_exp = NULL;
        cJSON_ArrayForEach(e, h)
        {
            const char *oc = str_or(e, "outcome", "");
            chaos_hist_retry += !strcmp(oc, "retry");
            chaos_hist_requeued += !strcmp(oc, "requeued");
            chaos_hist_dead += !strcmp(oc, "dead");
            chaos_hist_lease += !strcmp(oc, "lease_expired");
            if (strcmp(oc, "lease_expired") != 0)
                continue;
            j->lease_expiries++;
            last_exp = e;
            if (worker_was_alive(str_or(e, "worker", NULL),
                                 str_or(e, "at", NULL)))
                j->live_expiries++;
        }
        chaos_inv[I_TERMINAL].checked++;
        if (!strcmp(j->state, "succeeded")) {
            check_result(j, cJSON_GetObjectItemCaseSensitive(o, "result"),
                         ntok_default);
        } else if (!strcmp(j->state, "dead")) {
            const cJSON *le = cJSON_GetObjectItemCaseSensitive(o, "last_error");
            check_dead(j, le);
            chaos_inv[I_LIVE_DEAD].checked++;
            if (!strcmp(str_or(le, "class", ""), "lease_expired") && last_exp &&
                worker_was_alive(str_or(last_exp, "worker", NULL),
                                 str_or(last_exp, "at", NULL)))
                chaos_breach(
                    I_LIVE_DEAD, j->id,
                    "dead (lease_expired, attempt %ld of %ld) at %s, but "
                    "worker %s was never SIGKILLed before that",
                    j->attempts, j->max_attempts, str_or(last_exp, "at", "?"),
                    str_or(last_exp, "worker", "?"));
        } else if (!strcmp(j->state, "unknown") && everysec) {
            (*unknown_tolerated)++;
        } else {
            const cJSON *le = cJSON_GetObjectItemCaseSensitive(o, "last_error");
            chaos_breach(
                I_TERMINAL, j->id,
                "state %s, attempts %ld, worker %s, lease_ms_left %ld, "
                "last error %s",
                j->state, j->attempts, str_or(o, "worker", "null"),
                chaos_num_or(o, "lease_ms_left", -1),
                str_or(le, "message", "null"));
        }
        chaos_inv[I_FAIL_DEAD].checked += j->fail400;
        if (j->fail400 && strcmp(j->state, "dead") != 0 &&
            strcmp(j->state, "unknown") != 0)
            chaos_breach(I_FAIL_DEAD, j->id,
                         "carries [mock:fail=400] but is %s", j->state);
        cJSON_Delete(o);
    }
    free(line);
    fclose(f);
    for (size_t i = 0; i < chaos_njobs; i++)
        if (!chaos_jobs[i].seen)
            chaos_die("%s: no status line for %s", path, chaos_jobs[i].id);
}
