/* genq enqueue: validate JSONL jobs (or one job from flags) and add them to
 * a queue in pipelined batches. Pass 1 validates every line and spools the
 * normalized jobs to a temporary file; pass 2 sends them, so memory stays
 * bounded for any input size and nothing is sent when a line is bad. */
#include "fmacros.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "job.h"
#include "jsonl.h"
#include "rclient.h"

#define BATCH_DEFAULT    200
#define BATCH_MAX        1000
#define PIPELINE_WINDOW  8
#define IDEM_TTL_DEFAULT 86400
#define DLQ_LINE_MAX     (4 * (size_t)JOB_MAX_BYTES)

static const char help[] =
    "usage: genq enqueue [--file FILE | FILE | -] [options]\n"
    "       genq enqueue --prompt TEXT [job flags] [options]\n\n"
    "Add generation jobs to a queue. Input is JSONL: one job object per line\n"
    "(schemas/job.schema.json). Every line is validated first; rejected\n"
    "lines are reported with their line number, field and reason, and then\n"
    "nothing is enqueued (exit 1) unless --skip-invalid is given.\n\n"
    "Input:\n"
    "  -f, --file FILE        read JSONL from FILE ('-' = stdin)\n"
    "  --dry-run              validate only; enqueue nothing\n"
    "  --skip-invalid         enqueue the valid lines even if some are bad\n"
    "  --from-dlq             lines are dead-letter documents (genq dlq\n"
    "                         export): enqueue the job of each\n"
    "  --batch N              jobs per Redis call (default 200, max 1000)\n"
    "  --idempotency-ttl S    how long idempotency keys hold (default 86400)\n"
    "  --templates DIR        template directory (default ./templates)\n"
    "One job from flags (instead of a file):\n"
    "  --prompt TEXT | --template NAME --var K=V...\n"
    "  --system TEXT --model M --max-tokens N --priority high|normal|low\n"
    "  --delay S | --run-at RFC3339  --max-attempts N --timeout S\n"
    "  --idempotency-key K --id ID --metadata JSON\n"
    "Output: a summary (progress bar on a terminal); with --json one object\n"
    "per input line: {\"line\",\"id\",\"status\",\"error\"} where status is\n"
    "enqueued, duplicate, rejected or valid (validated, not sent).\n"
    "Exit: 0 all enqueued (duplicates included), 1 a line was rejected or\n"
    "Redis failed, 2 usage error.\n\n" CLI_COMMON_HELP;

enum {
    OPT_DRY = 1,
    OPT_SKIP,
    OPT_BATCH,
    OPT_TTL,
    OPT_TEMPLATES,
    OPT_PROMPT,
    OPT_TEMPLATE,
    OPT_VAR,
    OPT_SYSTEM,
    OPT_MODEL,
    OPT_MAXTOK,
    OPT_PRIO,
    OPT_DELAY,
    OPT_RUNAT,
    OPT_MAXATT,
    OPT_TIMEOUT,
    OPT_IDEM,
    OPT_ID,
    OPT_META,
    OPT_FROM_DLQ
};

/* One spooled line: a valid job ('J') or a rejection ('R'). */
struct rec {
    char type;
    long line;
    int prio, max_attempts;
    int64_t run_at, delay;
    char *id, *idem, *payload; /* J; owned, freed by rec_clear() */
    char *field, *msg;         /* R */
};

struct enq {
    struct cli cli;
    int dry_run, skip_invalid, batch, idem_ttl;
    struct job_opts jopts;
    FILE *spool;
    long valid, rejected, enqueued, duplicates, total;
    long done_line; /* last line of the last batch Redis confirmed */
    int progress;
    int from_dlq; /* --from-dlq: lines are dead-letter documents */
};

static void
rec_clear(struct rec *r)
{
    free(r->id);
    free(r->idem);
    free(r->payload);
    free(r->field);
    free(r->msg);
    memset(r, 0, sizeof(*r));
}

static int
put_str(FILE *f, const char *s)
{
    uint32_t n = s ? (uint32_t)strlen(s) : 0;
    return fwrite(&n, sizeof(n), 1, f) == 1 &&
                   (n == 0 || fwrite(s, n, 1, f) == 1)
               ? 0
               : -1;
}

static int
get_str(FILE *f, char **out)
{
    uint32_t n;
    char *s;

    if (fread(&n, sizeof(n), 1, f) != 1)
        return -1;
    s = malloc((size_t)n + 1);
    if (!s)
        return -1;
    if (n && fread(s, n, 1, f) != 1) {
        free(s);
        return -1;
    }
    s[n] = '\0';
    *out = s;
    return 0;
}

static int
rec_write(FILE *f, const struct rec *r)
{
    if (fwrite(&r->type, 1, 1, f) != 1 ||
        fwrite(&r->line, sizeof(long), 1, f) != 1)
        return -1;
    if (r->type == 'R')
        return put_str(f, r->field) || put_str(f, r->msg) ? -1 : 0;
    if (fwrite(&r->prio, sizeof(int), 1, f) != 1 ||
        fwrite(&r->max_attempts, sizeof(int), 1, f) != 1 ||
        fwrite(&r->run_at, sizeof(int64_t), 1, f) != 1 ||
        fwrite(&r->delay, sizeof(int64_t), 1, f) != 1)
        return -1;
    return put_str(f, r->id) || put_str(f, r->idem) || put_str(f, r->payload)
               ? -1
               : 0;
}

/* 1 = record read, 0 = end, -1 = error. */
static int
rec_read(FILE *f, struct rec *r)
{
    memset(r, 0, sizeof(*r));
    if (fread(&r->type, 1, 1, f) != 1)
        return feof(f) ? 0 : -1;
    if (fread(&r->line, sizeof(long), 1, f) != 1)
        return -1;
    if (r->type == 'R') {
        if (get_str(f, &r->field) || get_str(f, &r->msg)) {
            rec_clear(r); /* what was read before the failure */
            return -1;
        }
        return 1;
    }
    if (fread(&r->prio, sizeof(int), 1, f) != 1 ||
        fread(&r->max_attempts, sizeof(int), 1, f) != 1 ||
        fread(&r->run_at, sizeof(int64_t), 1, f) != 1 ||
        fread(&r->delay, sizeof(int64_t), 1, f) != 1)
        return -1;
    if (get_str(f, &r->id) || get_str(f, &r->idem) || get_str(f, &r->payload)) {
        rec_clear(r);
        return -1;
    }
    return 1;
}

static void
print_line(struct enq *e, long line, const char *id, const char *status,
           const char *field, const char *msg)
{
    if (e->cli.json) {
        cJSON *o = cJSON_CreateObject(), *err;
        if (!o)
            return;
        cJSON_AddNumberToObject(o, "line", (double)line);
        if (id)
            cJSON_AddStringToObject(o, "id", id);
        else
            cJSON_AddNullToObject(o, "id");
        cJSON_AddStringToObject(o, "status", status);
        if (msg) {
            err = cJSON_AddObjectToObject(o, "error");
            if (err) {
                cJSON_AddStringToObject(err, "field", field ? field : "");
                cJSON_AddStringToObject(err, "message", msg);
            }
        } else {
            cJSON_AddNullToObject(o, "error");
        }
        cli_print_json(o);
    } else if (msg) {
        if (field && *field)
            fprintf(stderr, "line %ld: %s: %s\n", line, field, msg);
        else
            fprintf(stderr, "line %ld: %s\n", line, msg);
    }
}

/* Spool a rejection found before parsing. -1 on spool I/O failure. */
static int reject_line(struct enq *e, long lineno, const char *field,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int
reject_line(struct enq *e, long lineno, const char *field, const char *fmt, ...)
{
    struct rec r = {0};
    char msg[256];
    va_list ap;
    int rc;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    r.type = 'R';
    r.line = lineno;
    r.field = strdup(field);
    r.msg = strdup(msg);
    e->total++;
    e->rejected++;
    if (!r.field || !r.msg) {
        rec_clear(&r);
        errno = ENOMEM;
        return -1;
    }
    rc = rec_write(e->spool, &r);
    rec_clear(&r);
    return rc;
}

/* --from-dlq: the `job` of a dead-letter document (genq dlq export), parsed
 * and validated like a line of its own. NULL with *err filled. */
static cJSON *
parse_dlq_line(struct enq *e, const char *line, size_t len, struct job_err *err)
{
    cJSON *doc = cJSON_ParseWithLength(line, len), *job;
    char *text;

    if (!doc || !cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        job_err_set(err, "",
                    "not a dead-letter document (a JSON object "
                    "with a \"job\" object, from genq dlq export)");
        return NULL;
    }
    job = cJSON_GetObjectItemCaseSensitive(doc, "job");
    if (!cJSON_IsObject(job)) {
        cJSON_Delete(doc);
        job_err_set(err, "job", "missing, or not an object");
        return NULL;
    }
    text = cJSON_PrintUnformatted(job);
    cJSON_Delete(doc);
    if (!text) {
        job_err_set(err, "", "out of memory");
        return NULL;
    }
    job = job_parse(text, strlen(text), &e->jopts, err);
    cJSON_free(text);
    if (!job) {
        char f[sizeof(err->field)];
        snprintf(f, sizeof(f), "%s", err->field);
        snprintf(err->field, sizeof(err->field), "job%s%.58s", *f ? "." : "",
                 f);
    }
    return job;
}

/* Validate one line and spool it. Returns -1 only on spool I/O failure. */
static int
take_line(struct enq *e, const char *line, size_t len, long lineno)
{
    struct job_err err = {{0}, {0}};
    struct rec r = {0};
    cJSON *job = e->from_dlq ? parse_dlq_line(e, line, len, &err)
                             : job_parse(line, len, &e->jopts, &err);
    int rc;

    r.line = lineno;
    e->total++;
    if (!job) {
        r.type = 'R';
        r.field = strdup(err.field);
        r.msg = strdup(err.msg);
        e->rejected++;
    } else {
        const char *idem = job_idempotency_key(job);
        r.type = 'J';
        r.prio = (int)job_priority(job);
        r.max_attempts = job_max_attempts(job);
        if (job_schedule(job, &r.run_at, &r.delay) < 0)
            r.run_at = r.delay = 0;
        r.id = strdup(job_id(job));
        r.idem = strdup(idem ? idem : "");
        r.payload = cJSON_PrintUnformatted(job);
        cJSON_Delete(job);
        e->valid++;
        if (r.payload) {
            /* cJSON's allocator is malloc here; keep ownership uniform. */
            char *p = strdup(r.payload);
            cJSON_free(r.payload);
            r.payload = p;
        }
    }
    if ((r.type == 'R' && (!r.field || !r.msg)) ||
        (r.type == 'J' && (!r.id || !r.idem || !r.payload))) {
        rec_clear(&r);
        errno = ENOMEM;
        return -1;
    }
    rc = rec_write(e->spool, &r);
    rec_clear(&r);
    return rc;
}

/* A batch slot holds up to batch jobs plus the rejected lines between
 * them (--skip-invalid), so every line is reported in input order. */
#define SLOT_CAP(e) (2 * (e)->batch)

/* Send the jobs among recs[0..n) as one script call (appended, not read).
 * Returns how many jobs were sent (0 = nothing to send), -1 on OOM. */
static int
append_batch(struct enq *e, struct rec *recs, int n)
{
    int jobs = 0, j = 0, k = 0, rc;
    const char **av;
    char(*num)[4][24];
    char ttl[24], cnt[24];

    for (int i = 0; i < n; i++)
        jobs += recs[i].type == 'J';
    if (jobs == 0)
        return 0;
    av = malloc(sizeof(*av) * (size_t)(2 + jobs * 7));
    num = malloc(sizeof(*num) * (size_t)jobs);
    if (!av || !num) {
        free(av);
        free(num);
        return -1;
    }
    snprintf(ttl, sizeof(ttl), "%d", e->idem_ttl);
    snprintf(cnt, sizeof(cnt), "%d", jobs);
    av[j++] = ttl;
    av[j++] = cnt;
    for (int i = 0; i < n; i++) {
        if (recs[i].type != 'J')
            continue;
        snprintf(num[k][0], 24, "%d", recs[i].prio);
        snprintf(num[k][1], 24, "%" PRId64, recs[i].run_at);
        snprintf(num[k][2], 24, "%" PRId64, recs[i].delay);
        snprintf(num[k][3], 24, "%d", recs[i].max_attempts);
        av[j++] = recs[i].id;
        av[j++] = num[k][0];
        av[j++] = num[k][1];
        av[j++] = num[k][2];
        av[j++] = num[k][3];
        av[j++] = recs[i].idem;
        av[j++] = recs[i].payload;
        k++;
    }
    rc = rclient_append_script(e->cli.rc, SCRIPT_ENQUEUE, &e->cli.keys, j, av,
                               NULL);
    free(av);
    free(num);
    return rc < 0 ? -1 : jobs;
}

/* Read the reply of one batch (when it sent jobs) and report each of its
 * lines in order. */
static int
finish_batch(struct enq *e, struct rec *recs, int n, int jobs)
{
    char err[512];
    redisReply *r = NULL;
    int k = 0;

    if (jobs > 0) {
        r = rclient_read(e->cli.rc, err, sizeof(err));
        if (!r) {
            fprintf(stderr, "genq enqueue: %s\n", err);
            return -1;
        }
        if (r->type != REDIS_REPLY_ARRAY || (int)r->elements != jobs) {
            freeReplyObject(r);
            fprintf(stderr, "genq enqueue: unexpected reply from Redis\n");
            return -1;
        }
    }
    for (int i = 0; i < n; i++) {
        redisReply *p;
        int dup;
        const char *id;

        if (recs[i].type == 'R') {
            print_line(e, recs[i].line, NULL, "rejected", recs[i].field,
                       recs[i].msg);
            continue;
        }
        if (!r)
            return -1; /* cannot happen: a job line means a reply was read */
        p = r->element[k++];
        dup = p->type == REDIS_REPLY_ARRAY && p->elements == 2 &&
              !strcmp(p->element[0]->str, "duplicate");
        id = p->type == REDIS_REPLY_ARRAY && p->elements == 2
                 ? p->element[1]->str
                 : recs[i].id;
        if (dup)
            e->duplicates++;
        else
            e->enqueued++;
        if (e->cli.json)
            print_line(e, recs[i].line, id, dup ? "duplicate" : "enqueued",
                       NULL, NULL);
    }
    if (n > 0)
        e->done_line = recs[n - 1].line;
    if (r)
        freeReplyObject(r);
    if (e->progress) {
        fprintf(stderr, "\renqueued %ld/%ld", e->enqueued + e->duplicates,
                e->valid);
        fflush(stderr);
    }
    return 0;
}

struct window {
    struct rec *recs;
    int *count, *jobs;
    int head, used, slots;
};

/* Finish the oldest batch of the window and free its slot. */
static int
drain_one(struct enq *e, struct window *w)
{
    struct rec *recs = &w->recs[w->head * SLOT_CAP(e)];
    int rc = finish_batch(e, recs, w->count[w->head], w->jobs[w->head]);

    for (int i = 0; i < w->count[w->head]; i++)
        rec_clear(&recs[i]);
    w->count[w->head] = w->jobs[w->head] = 0;
    w->head = (w->head + 1) % w->slots;
    w->used--;
    return rc;
}

/* Redis failed mid-way: say exactly which lines are known to be in. */
static int
partial_failure(struct enq *e)
{
    if (e->done_line > 0)
        fprintf(stderr,
                "genq enqueue: stopped: every line up to %ld is enqueued "
                "(%ld jobs, %ld duplicates); lines after %ld may or may not "
                "be. Resend from line %ld (e.g. tail -n +%ld FILE): jobs "
                "with an id or idempotency_key are safe to send twice.\n",
                e->done_line, e->enqueued, e->duplicates, e->done_line,
                e->done_line + 1, e->done_line + 1);
    else
        fprintf(stderr, "genq enqueue: stopped before any line was "
                        "confirmed enqueued; lines sent may or may not be "
                        "in (jobs with an id or idempotency_key are safe to "
                        "send again)\n");
    return EXIT_FAIL;
}

static int
send_all(struct enq *e)
{
    struct window w = {0};
    struct rec r;
    int rc = 0, got, fill = 0, fill_jobs = 0, cur = 0, cap = SLOT_CAP(e);
    redisReply *rep;

    w.slots = PIPELINE_WINDOW;
    w.recs = calloc((size_t)w.slots * (size_t)cap, sizeof(struct rec));
    w.count = calloc((size_t)w.slots, sizeof(int));
    w.jobs = calloc((size_t)w.slots, sizeof(int));
    if (!w.recs || !w.count || !w.jobs) {
        free(w.recs);
        free(w.count);
        free(w.jobs);
        return cli_fail("enqueue", "out of memory");
    }
    rep = redisCommand(e->cli.rc, "SADD %s %s", KEY_QUEUES, e->cli.queue);
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        rc = cli_fail("enqueue", "redis: %s",
                      rep ? rep->str : e->cli.rc->errstr);
        if (rep)
            freeReplyObject(rep);
        goto out;
    }
    freeReplyObject(rep);
    for (;;) {
        got = rec_read(e->spool, &r);
        if (got < 0) {
            rc = cli_fail("enqueue", "reading the spool file failed");
            goto out;
        }
        if (got == 1) {
            if (fill == 0) {
                if (w.used == w.slots && drain_one(e, &w) < 0) {
                    rec_clear(&r);
                    rc = partial_failure(e);
                    goto out;
                }
                cur = (w.head + w.used) % w.slots;
            }
            fill_jobs += r.type == 'J';
            w.recs[cur * cap + fill++] = r;
        }
        if (fill_jobs == e->batch || fill == cap || (got == 0 && fill > 0)) {
            int sent = append_batch(e, &w.recs[cur * cap], fill);
            w.count[cur] = fill;
            w.jobs[cur] = sent < 0 ? 0 : sent;
            w.used++;
            fill = fill_jobs = 0;
            if (sent < 0) {
                rc = cli_fail("enqueue", "out of memory");
                goto out;
            }
        }
        if (got == 0)
            break;
    }
    while (w.used > 0)
        if (drain_one(e, &w) < 0) {
            rc = partial_failure(e);
            goto out;
        }
out:
    for (int i = 0; i < w.slots * cap; i++)
        rec_clear(&w.recs[i]);
    free(w.recs);
    free(w.count);
    free(w.jobs);
    return rc;
}

/* Build one job object from flags. Returns the JSON text (caller frees) or
 * NULL after printing the problem. */
static char *
job_from_flags(cJSON *j)
{
    char *s = cJSON_PrintUnformatted(j);
    char *out = s ? strdup(s) : NULL;

    cJSON_free(s);
    return out;
}

static int
add_num_flag(cJSON *j, const char *name, const char *flag, const char *v)
{
    char *end;
    double d;

    errno = 0;
    d = strtod(v, &end);
    if (errno || end == v || *end)
        return cli_usage_error("enqueue", "--%s: not a number: '%s'", flag, v);
    if (!cJSON_AddNumberToObject(j, name, d))
        return cli_fail("enqueue", "out of memory");
    return 0;
}

int
cmd_enqueue(int argc, char **argv)
{
    static const struct option opts[] = {
        {"file", required_argument, NULL, 'f'},
        {"dry-run", no_argument, NULL, OPT_DRY},
        {"skip-invalid", no_argument, NULL, OPT_SKIP},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"idempotency-ttl", required_argument, NULL, OPT_TTL},
        {"templates", required_argument, NULL, OPT_TEMPLATES},
        {"prompt", required_argument, NULL, OPT_PROMPT},
        {"template", required_argument, NULL, OPT_TEMPLATE},
        {"var", required_argument, NULL, OPT_VAR},
        {"system", required_argument, NULL, OPT_SYSTEM},
        {"model", required_argument, NULL, OPT_MODEL},
        {"max-tokens", required_argument, NULL, OPT_MAXTOK},
        {"priority", required_argument, NULL, OPT_PRIO},
        {"delay", required_argument, NULL, OPT_DELAY},
        {"run-at", required_argument, NULL, OPT_RUNAT},
        {"max-attempts", required_argument, NULL, OPT_MAXATT},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"idempotency-key", required_argument, NULL, OPT_IDEM},
        {"id", required_argument, NULL, OPT_ID},
        {"metadata", required_argument, NULL, OPT_META},
        {"from-dlq", no_argument, NULL, OPT_FROM_DLQ},
        CLI_COMMON_OPTS,
        {NULL, 0, NULL, 0}};
    struct enq e;
    const char *file = NULL;
    cJSON *flagjob = cJSON_CreateObject(), *vars = NULL;
    int opt, rc = EXIT_OK, nflags = 0;
    char *end;
    long v;

    memset(&e, 0, sizeof(e));
    cli_init(&e.cli);
    e.batch = BATCH_DEFAULT;
    e.idem_ttl = IDEM_TTL_DEFAULT;
    if (!flagjob)
        return cli_fail("enqueue", "out of memory");
    optind = 1;
    while ((opt = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
        if (cli_common_opt(&e.cli, opt, optarg))
            continue;
        switch (opt) {
        case 'h':
            fputs(help, stdout);
            cJSON_Delete(flagjob);
            return EXIT_OK;
        case 'f':
            file = optarg;
            break;
        case OPT_DRY:
            e.dry_run = 1;
            break;
        case OPT_SKIP:
            e.skip_invalid = 1;
            break;
        case OPT_BATCH:
        case OPT_TTL:
            errno = 0;
            v = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || v < 1 ||
                (opt == OPT_BATCH && v > BATCH_MAX) || v > 100000000) {
                cJSON_Delete(flagjob);
                return cli_usage_error(
                    "enqueue", "--%s: expected a number in 1..%d, got '%s'",
                    opt == OPT_BATCH ? "batch" : "idempotency-ttl",
                    opt == OPT_BATCH ? BATCH_MAX : 100000000, optarg);
            }
            if (opt == OPT_BATCH)
                e.batch = (int)v;
            else
                e.idem_ttl = (int)v;
            break;
        case OPT_TEMPLATES:
            e.jopts.templates_dir = optarg;
            break;
        case OPT_VAR: {
            const char *eq = strchr(optarg, '=');
            char name[128];
            if (!eq || eq == optarg || (size_t)(eq - optarg) >= sizeof(name)) {
                cJSON_Delete(flagjob);
                return cli_usage_error(
                    "enqueue", "--var: expected NAME=VALUE, got '%s'", optarg);
            }
            memcpy(name, optarg, (size_t)(eq - optarg));
            name[eq - optarg] = '\0';
            if (!vars)
                vars = cJSON_AddObjectToObject(flagjob, "vars");
            if (!vars || !cJSON_AddStringToObject(vars, name, eq + 1)) {
                cJSON_Delete(flagjob);
                return cli_fail("enqueue", "out of memory");
            }
            nflags++;
            break;
        }
        case OPT_PROMPT:
        case OPT_TEMPLATE:
        case OPT_SYSTEM:
        case OPT_MODEL:
        case OPT_PRIO:
        case OPT_RUNAT:
        case OPT_IDEM:
        case OPT_ID: {
            static const char *const names[] = {
                [OPT_PROMPT] = "prompt",        [OPT_TEMPLATE] = "template",
                [OPT_SYSTEM] = "system",        [OPT_MODEL] = "model",
                [OPT_PRIO] = "priority",        [OPT_RUNAT] = "run_at",
                [OPT_IDEM] = "idempotency_key", [OPT_ID] = "id"};
            if (!cJSON_AddStringToObject(flagjob, names[opt], optarg)) {
                cJSON_Delete(flagjob);
                return cli_fail("enqueue", "out of memory");
            }
            nflags++;
            break;
        }
        case OPT_MAXTOK:
        case OPT_DELAY:
        case OPT_MAXATT:
        case OPT_TIMEOUT: {
            static const char *const names[] = {[OPT_MAXTOK] = "max_tokens",
                                                [OPT_DELAY] = "delay_s",
                                                [OPT_MAXATT] = "max_attempts",
                                                [OPT_TIMEOUT] = "timeout_s"};
            static const char *const flags[] = {[OPT_MAXTOK] = "max-tokens",
                                                [OPT_DELAY] = "delay",
                                                [OPT_MAXATT] = "max-attempts",
                                                [OPT_TIMEOUT] = "timeout"};
            rc = add_num_flag(flagjob, names[opt], flags[opt], optarg);
            if (rc != 0) {
                cJSON_Delete(flagjob);
                return rc;
            }
            nflags++;
            break;
        }
        case OPT_FROM_DLQ:
            e.from_dlq = 1;
            break;
        case OPT_META: {
            cJSON *m = cJSON_Parse(optarg);
            if (!m || !cJSON_IsObject(m)) {
                cJSON_Delete(m);
                cJSON_Delete(flagjob);
                return cli_usage_error("enqueue",
                                       "--metadata: expected a JSON object");
            }
            cJSON_AddItemToObject(flagjob, "metadata", m);
            nflags++;
            break;
        }
        default:
            cJSON_Delete(flagjob);
            return cli_usage_error("enqueue", "unknown option");
        }
    }
    if (optind < argc) {
        if (file || optind + 1 < argc) {
            cJSON_Delete(flagjob);
            return cli_usage_error("enqueue", "unexpected argument '%s'",
                                   argv[optind]);
        }
        file = argv[optind];
    }
    if (e.from_dlq && nflags) {
        cJSON_Delete(flagjob);
        return cli_usage_error("enqueue",
                               "--from-dlq reads a file or stdin, not job "
                               "flags");
    }
    if (file && nflags) {
        cJSON_Delete(flagjob);
        return cli_usage_error("enqueue",
                               "give either an input file or job flags");
    }
    if (!file && !nflags) {
        cJSON_Delete(flagjob);
        return cli_usage_error("enqueue",
                               "no input: give --file FILE, '-' for stdin, or "
                               "--prompt TEXT");
    }
    e.spool = tmpfile();
    if (!e.spool) {
        cJSON_Delete(flagjob);
        return cli_fail("enqueue", "cannot create a temporary file: %s",
                        strerror(errno));
    }
    e.progress = !e.cli.json && isatty(STDERR_FILENO);

    /* Pass 1: validate and spool. */
    if (nflags) {
        char *s = job_from_flags(flagjob);
        if (!s || take_line(&e, s, strlen(s), 1) < 0) {
            free(s);
            rc = cli_fail("enqueue", "out of memory");
            goto out;
        }
        free(s);
    } else {
        FILE *in = strcmp(file, "-") ? fopen(file, "rb") : stdin;
        struct jsonl_reader *jr;
        const char *line;
        size_t len;
        long lineno;
        int got;
        /* A dead-letter line carries the job plus its error and history. */
        size_t line_max = e.from_dlq ? DLQ_LINE_MAX : JOB_MAX_BYTES;

        if (!in) {
            rc = cli_fail("enqueue", "%s: %s", file, strerror(errno));
            goto out;
        }
        jr = jsonl_open(in);
        if (!jr) {
            if (in != stdin)
                fclose(in);
            rc = cli_fail("enqueue", "out of memory");
            goto out;
        }
        /* Keep at most the limit (+1) of a line in memory: a 10 GB line is
         * rejected by its real size without holding it. */
        jsonl_set_limit(jr, line_max);
        while ((got = jsonl_next(jr, &line, &len, &lineno)) == 1) {
            if (jsonl_blank(line, len))
                continue; /* blank lines are allowed and skipped */
            if (len > line_max) {
                if (reject_line(&e, lineno, "",
                                "line is %zu bytes; the limit is %zu",
                                jsonl_line_size(jr), line_max) < 0) {
                    got = -1;
                    break;
                }
                continue;
            }
            if (take_line(&e, line, len, lineno) < 0) {
                got = -1;
                break;
            }
        }
        jsonl_close(jr);
        if (in != stdin)
            fclose(in);
        if (got < 0) {
            rc = cli_fail("enqueue", "%s: %s", file, strerror(errno));
            goto out;
        }
    }
    if (e.total == 0) {
        rc = cli_fail("enqueue", "no jobs in the input (empty file?)");
        goto out;
    }
    rewind(e.spool);
    if (e.dry_run || (e.rejected && !e.skip_invalid)) {
        struct rec r;
        int got;
        while ((got = rec_read(e.spool, &r)) == 1) {
            if (r.type == 'R')
                print_line(&e, r.line, NULL, "rejected", r.field, r.msg);
            else if (e.cli.json)
                print_line(&e, r.line, r.id, "valid", NULL, NULL);
            rec_clear(&r);
        }
        if (got < 0) {
            rc = cli_fail("enqueue", "reading the spool file failed");
            goto out;
        }
        if (!e.cli.json) {
            if (e.rejected && !e.dry_run)
                fprintf(stderr,
                        "genq enqueue: %ld of %ld lines rejected; nothing "
                        "enqueued (fix them, or use --skip-invalid)\n",
                        e.rejected, e.total);
            else
                fprintf(stderr, "%ld valid, %ld rejected (dry run)\n", e.valid,
                        e.rejected);
        }
        rc = e.rejected ? EXIT_FAIL : EXIT_OK;
        goto out;
    }
    if (cli_connect(&e.cli) < 0) {
        rc = EXIT_FAIL;
        goto out;
    }
    rc = send_all(&e);
    if (e.progress)
        fputc('\n', stderr);
    if (!e.cli.json && rc == EXIT_OK)
        fprintf(stderr,
                "enqueued %ld, duplicates %ld, rejected %ld (queue %s)\n",
                e.enqueued, e.duplicates, e.rejected, e.cli.queue);
    if (rc == EXIT_OK && e.rejected)
        rc = EXIT_FAIL;
out:
    cJSON_Delete(flagjob);
    if (e.spool)
        fclose(e.spool);
    cli_close(&e.cli);
    return rc;
}
