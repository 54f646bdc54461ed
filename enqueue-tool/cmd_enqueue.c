/* genq enqueue: validate JSONL jobs (or one job from flags) and add them to
 * a queue in pipelined batches. Pass 1 validates every line and spools the
 * jobs (memory, then a temporary file past GENQ_SPOOL_MEM_MAX); pass 2 sends
 * them, so memory stays bounded for any input size and nothing is enqueued
 * when a line is bad.
 *
 * Staging: reading a regular file, pass 1 also stores the bulk jobs (ids
 * generated here, no idempotency key, no delay) as it validates them, so
 * Redis works while the file is still being read: their values go into the
 * jobs hash and their ids onto the run's stage lists (stage.lua), invisible
 * to everyone. Pass 2 then makes them ready in one step (commit), or, when
 * a line was bad, deletes them (drop). A run killed meanwhile leaves them to
 * maintain.lua, which deletes them after an hour without news from the run.
 * Staging stops at the first job that is not a bulk job, so the queue keeps
 * the file's order. */
#include "fmacros.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "job.h"
#include "jsonl.h"
#include "rclient.h"
#include "uuid.h"

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
    "nothing is enqueued (exit 1) unless --skip-invalid is given. From a\n"
    "regular file, jobs without id, idempotency key or delay are stored\n"
    "while the file is validated, invisible, and made ready at the end\n"
    "(or deleted if a line was bad).\n\n"
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
    "Redis failed, 2 usage error.\n"
    "Environment: GENQ_SPOOL_MEM_MAX bytes of validated jobs held in memory\n"
    "between the passes (default 256 MiB), then a temporary "
    "file.\n\n" CLI_COMMON_HELP;

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

/* One spooled line: a valid job ('J'), a job staged in pass 1 ('S': id
 * only) or a rejection ('R'). */
struct rec {
    char type;
    char bulk; /* J: id generated here, no idempotency key, no delay */
    long line;
    int prio, max_attempts;
    int64_t run_at, delay;
    /* borrowed: from the caller (pass 1), the memory spool or block */
    const char *id, *idem, *payload; /* J, S (id only) */
    const char *field, *msg;         /* R */
    char *block; /* owns the strings read from a file spool; else NULL */
};

/* Where pass 1 puts its records for pass 2: memory up to SPOOL_MEM_MAX,
 * then a temporary file (the memory is written out to it first), so memory
 * stays bounded for any input. */
struct spool {
    struct buf mem; /* records while in memory; freed by spool_close() */
    size_t rpos;    /* read position in mem */
    size_t max;     /* bytes mem may hold (GENQ_SPOOL_MEM_MAX) */
    FILE *f;        /* the file once spilled, else NULL */
};

#define SPOOL_MEM_MAX ((size_t)256 << 20)

/* Staging state (see the file comment). */
struct stage {
    int on;                    /* still staging: only bulk jobs so far */
    char run[37];              /* this run's id (UUIDv7) */
    char key[3][160];          /* stage list per priority */
    char reg[160];             /* the staging registry hash */
    struct buf hs, ids, out;   /* the batch: HSET args, LPUSH args, the call */
    int n, prio, max_attempts; /* jobs in the batch, their class */
    int sent[PIPELINE_WINDOW]; /* jobs of each batch in flight (a ring) */
    int head, inflight;
    long staged;    /* jobs Redis confirmed staged */
    long last_line; /* line of the last job staged */
    int broken;     /* Redis failed while staging */
    int quiet;      /* draining after a failure: said once already */
};

struct enq {
    struct cli cli;
    struct stage st;
    int dry_run, skip_invalid, batch, idem_ttl;
    struct job_opts jopts;
    struct spool *spool;
    long valid, rejected, enqueued, duplicates, total;
    long done_line; /* last line of the last batch Redis confirmed */
    int progress;
    int from_dlq;            /* --from-dlq: lines are dead-letter documents */
    struct buf out;          /* bulk batches being formatted; freed in
                                cmd_enqueue */
    struct spool *spool2;    /* the second half's (validate_split) or NULL */
    long line_base2;         /* lines before the second half */
    int64_t srv_ms, mono_ms; /* Redis TIME at start, monotonic then */
};

static void
rec_clear(struct rec *r)
{
    free(r->block);
    memset(r, 0, sizeof(*r));
}

/* A spool record: this header, then its strings (J: id, idem, payload; R:
 * field, msg, "") back to back, each with its NUL. One process writes and
 * reads it back. */
struct spool_hdr {
    int64_t line, run_at, delay;
    int32_t prio, max_attempts;
    uint32_t len[3];
    char type, bulk;
};

static void
spool_init(struct spool *sp, size_t max)
{
    memset(sp, 0, sizeof(*sp));
    buf_init(&sp->mem, 0);
    sp->max = max;
}

/* GENQ_SPOOL_MEM_MAX (bytes), else SPOOL_MEM_MAX. */
static size_t
spool_max(void)
{
    const char *v = getenv("GENQ_SPOOL_MEM_MAX");
    char *end;
    unsigned long long n;

    if (!v || !*v)
        return SPOOL_MEM_MAX;
    errno = 0;
    n = strtoull(v, &end, 10);
    return errno || *end || v[0] == '-' ? SPOOL_MEM_MAX : (size_t)n;
}

static void
spool_close(struct spool *sp)
{
    if (!sp)
        return;
    if (sp->f)
        fclose(sp->f);
    buf_free(&sp->mem);
    sp->f = NULL;
}

/* Move the memory spool to a temporary file (it outgrew SPOOL_MEM_MAX). */
static int
spool_spill(struct spool *sp)
{
    sp->f = tmpfile();
    if (!sp->f)
        return -1;
    if (sp->mem.len &&
        fwrite_unlocked(sp->mem.data, sp->mem.len, 1, sp->f) != 1)
        return -1;
    buf_free(&sp->mem);
    return 0;
}

static int
spool_put(struct spool *sp, const void *p, size_t n)
{
    if (!sp->f && sp->mem.len + n > sp->max && spool_spill(sp) < 0)
        return -1;
    if (sp->f)
        return fwrite_unlocked(p, n, 1, sp->f) == 1 ? 0 : -1;
    return buf_append(&sp->mem, p, n);
}

/* Switch from writing to reading from the start. */
static int
spool_rewind(struct spool *sp)
{
    sp->rpos = 0;
    return sp->f ? fseek(sp->f, 0, SEEK_SET) : 0;
}

static int
rec_write(struct spool *sp, const struct rec *r)
{
    struct spool_hdr h;
    const char *str[3];

    memset(&h, 0, sizeof(h)); /* padding too: the spool is read back as is */
    h.type = r->type;
    h.bulk = r->bulk;
    h.line = r->line;
    h.prio = r->prio;
    h.max_attempts = r->max_attempts;
    h.run_at = r->run_at;
    h.delay = r->delay;
    str[0] = r->type == 'R' ? r->field : r->id;
    str[1] = r->type == 'R' ? r->msg : r->type == 'S' ? "" : r->idem;
    str[2] = r->type != 'J' ? "" : r->payload;
    for (int i = 0; i < 3; i++)
        h.len[i] = (uint32_t)strlen(str[i]);
    if (spool_put(sp, &h, sizeof(h)) < 0)
        return -1;
    for (int i = 0; i < 3; i++)
        if (spool_put(sp, str[i], (size_t)h.len[i] + 1) < 0)
            return -1;
    return 0;
}

/* 1 = record read, 0 = end, -1 = error. Strings from a memory spool point
 * into it (valid until spool_close()); from a file, into r->block. */
static int
rec_read(struct spool *sp, struct rec *r)
{
    struct spool_hdr h;
    const char *str[3];
    char *p;
    size_t n;

    memset(r, 0, sizeof(*r));
    if (!sp->f) {
        if (sp->rpos == sp->mem.len)
            return 0;
        if (sp->mem.len - sp->rpos < sizeof(h))
            return -1;
        memcpy(&h, sp->mem.data + sp->rpos, sizeof(h));
        sp->rpos += sizeof(h);
    } else if (fread_unlocked(&h, sizeof(h), 1, sp->f) != 1) {
        return feof_unlocked(sp->f) ? 0 : -1;
    }
    n = (size_t)h.len[0] + h.len[1] + h.len[2] + 3;
    if (!sp->f) {
        if (sp->mem.len - sp->rpos < n)
            return -1;
        p = sp->mem.data + sp->rpos;
        sp->rpos += n;
    } else {
        if (!(r->block = p = malloc(n)))
            return -1;
        if (fread_unlocked(p, n, 1, sp->f) != 1) {
            rec_clear(r);
            return -1;
        }
    }
    for (int i = 0; i < 3; i++) {
        if (p[h.len[i]] != '\0') {
            rec_clear(r);
            return -1;
        }
        str[i] = p;
        p += h.len[i] + 1;
    }
    r->type = h.type;
    r->bulk = h.bulk;
    r->line = (long)h.line;
    r->prio = h.prio;
    r->max_attempts = h.max_attempts;
    r->run_at = h.run_at;
    r->delay = h.delay;
    if (r->type == 'R') {
        r->field = str[0];
        r->msg = str[1];
    } else {
        r->id = str[0];
        r->idem = str[1];
        r->payload = str[2];
    }
    return 1;
}

/* The next spooled record in input order: the spool, then the second
 * half's (validate_split), its lines numbered on. As rec_read(). */
static int
spool_next(struct enq *e, struct rec *r)
{
    int got = rec_read(e->spool, r);

    if (got != 0 || !e->spool2)
        return got;
    got = rec_read(e->spool2, r);
    if (got == 1)
        r->line += e->line_base2;
    return got;
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
    r.field = field;
    r.msg = msg;
    e->total++;
    e->rejected++;
    rc = rec_write(e->spool, &r);
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

static int resp_head(struct buf *b, char c, size_t n);
static int resp_arg(struct buf *b, const char *s, size_t n);
static int resp_str(struct buf *b, const char *s);
static int64_t bulk_now_ms(const struct enq *e);
static int bulk_clock_init(struct enq *e);

/* Read the replies of the oldest staging batch in flight: +OK, QUEUED x3,
 * then EXEC's {new fields, list length, registry}. -1 after printing. */
static int
stage_read_one(struct enq *e)
{
    struct stage *st = &e->st;
    char err[512], first[512] = "";
    redisReply *r = NULL;
    int n = st->sent[st->head];

    /* all five, error replies too (OOM, EXECABORT): the next batch's
     * replies follow */
    for (int i = 0; i < 5; i++) {
        if (r)
            freeReplyObject(r);
        r = rclient_read(e->cli.rc, err, sizeof(err));
        if (!r && e->cli.rc->err) {
            if (!st->quiet)
                fprintf(stderr, "genq enqueue: staging: %s\n", err);
            st->broken = 1;
            return -1;
        }
        if (!r && !first[0])
            snprintf(first, sizeof(first), "%s", err);
    }
    st->head = (st->head + 1) % PIPELINE_WINDOW; /* its replies are read */
    st->inflight--;
    if (first[0]) {
        if (!st->quiet)
            fprintf(stderr, "genq enqueue: staging: %s\n", first);
        if (r)
            freeReplyObject(r);
        st->broken = 1;
        return -1;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_INTEGER ||
        r->element[0]->integer != n) {
        /* EXEC runs every command: an error (WRONGTYPE...) is an element */
        const char *why = r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
                                  r->element[0]->type == REDIS_REPLY_ERROR
                              ? r->element[0]->str
                              : "unexpected reply";
        if (!st->quiet)
            fprintf(stderr, "genq enqueue: staging: Redis: %s\n", why);
        freeReplyObject(r);
        st->broken = 1;
        return -1;
    }
    freeReplyObject(r);
    st->staged += n;
    return 0;
}

/* Send the batch being built: MULTI, HSET jobs, LPUSH stage list, HSET
 * registry (the run's last news), EXEC; read the oldest batch's replies
 * when the window is full. -1 on failure (printed). */
static int
stage_flush(struct enq *e)
{
    struct stage *st = &e->st;
    struct buf *b = &st->out;
    char now[24];
    int rc = 0;

    if (st->n == 0)
        return 0;
    if (st->inflight == PIPELINE_WINDOW && stage_read_one(e) < 0)
        return -1;
    snprintf(now, sizeof(now), "%" PRId64, bulk_now_ms(e));
    buf_reset(b);
    rc |= buf_append_str(b, "*1\r\n$5\r\nMULTI\r\n");
    rc |= resp_head(b, '*', 2 + 2 * (size_t)st->n) | resp_str(b, "HSET") |
          resp_str(b, e->cli.keys.key[QK_JOBS]) |
          buf_append(b, st->hs.data, st->hs.len);
    rc |= resp_head(b, '*', 2 + (size_t)st->n) | resp_str(b, "LPUSH") |
          resp_str(b, st->key[st->prio]) |
          buf_append(b, st->ids.data, st->ids.len);
    rc |= resp_head(b, '*', 4) | resp_str(b, "HSET") | resp_str(b, st->reg) |
          resp_str(b, st->run) | resp_str(b, now);
    rc |= buf_append_str(b, "*1\r\n$4\r\nEXEC\r\n");
    if (rc ||
        redisAppendFormattedCommand(e->cli.rc, b->data, b->len) != REDIS_OK) {
        fprintf(stderr, "genq enqueue: staging: out of memory\n");
        st->broken = 1;
        return -1;
    }
    st->sent[(st->head + st->inflight) % PIPELINE_WINDOW] = st->n;
    st->inflight++;
    st->n = 0;
    buf_reset(&st->hs);
    buf_reset(&st->ids);
    return 0;
}

/* Add a validated bulk job to the batch (one class per batch: the header
 * names its max_attempts and priority). -1 on failure (printed). */
static int
stage_job(struct enq *e, const struct job_info *in)
{
    struct stage *st = &e->st;
    char hdr[128];
    int64_t now;
    int hl, rc = 0;

    if (st->n > 0 && (st->n == e->batch || in->prio != st->prio ||
                      in->max_attempts != st->max_attempts))
        if (stage_flush(e) < 0)
            return -1;
    st->prio = in->prio;
    st->max_attempts = in->max_attempts;
    now = bulk_now_ms(e);
    hl = snprintf(hdr, sizeof(hdr),
                  "queued|0|%d|%d|||%" PRId64 "|%" PRId64 "|\n",
                  in->max_attempts, in->prio, now, now);
    rc |= resp_arg(&st->hs, in->id, 36);
    rc |= resp_head(&st->hs, '$', (size_t)hl + in->text_len) |
          buf_append(&st->hs, hdr, (size_t)hl) |
          buf_append(&st->hs, in->text, in->text_len) |
          buf_append(&st->hs, "\r\n", 2);
    rc |= resp_arg(&st->ids, in->id, 36);
    if (rc) {
        fprintf(stderr, "genq enqueue: staging: out of memory\n");
        st->broken = 1;
        return -1;
    }
    st->n++;
    return 0;
}

/* Start staging: a run id, its keys, its registration. 0, or -1 (then
 * no staging: the caller goes on without it). */
static int
stage_begin(struct enq *e)
{
    struct stage *st = &e->st;
    const char *pre = e->cli.keys.prefix;
    redisReply *r;

    if (bulk_clock_init(e) < 0)
        return -1;
    uuid7_new(st->run);
    snprintf(st->reg, sizeof(st->reg), "%s" QKEY_STAGING, pre);
    for (int p = 0; p < 3; p++)
        snprintf(st->key[p], sizeof(st->key[p]), "%s" QKEY_STAGE_LIST "%s:%d",
                 pre, st->run, p);
    r = redisCommand(e->cli.rc, "HSET %s %s %lld", st->reg, st->run,
                     (long long)bulk_now_ms(e));
    if (!r || r->type != REDIS_REPLY_INTEGER) {
        if (r)
            freeReplyObject(r);
        st->run[0] = '\0'; /* not staging */
        return -1;
    }
    freeReplyObject(r);
    st->on = 1;
    return 0;
}

/* Send the last batch and read every reply. -1 on failure (printed). */
static int
stage_sync(struct enq *e)
{
    if (e->st.broken || stage_flush(e) < 0)
        return -1;
    while (e->st.inflight > 0)
        if (stage_read_one(e) < 0)
            return -1;
    return 0;
}

/* Run stage.lua in mode ("commit" or "drop") until nothing is left staged.
 * *done counts the ids handled. 0, or -1 with the problem in err. */
static int
stage_end(struct enq *e, const char *mode, long *done, char *err, size_t errlen)
{
    char expected[24];
    const char *av[4] = {mode, e->st.run, "10000", expected};
    int ac = strcmp(mode, "commit") ? 3 : 4; /* the first commit call checks
                                                 that nothing went missing */

    snprintf(expected, sizeof(expected), "%ld", e->st.staged);
    *done = 0;
    for (;;) {
        redisReply *r = rclient_script(e->cli.rc, SCRIPT_STAGE, &e->cli.keys,
                                       ac, av, NULL, err, errlen);
        ac = 3;
        long left;
        if (!r)
            return -1;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_INTEGER ||
            r->element[1]->type != REDIS_REPLY_INTEGER) {
            freeReplyObject(r);
            snprintf(err, errlen, "unexpected reply from Redis");
            return -1;
        }
        *done += (long)r->element[0]->integer;
        left = (long)r->element[1]->integer;
        freeReplyObject(r);
        if (left == 0)
            return 0;
    }
}

/* Undo the staging after a failure or a bad line: best effort (the
 * maintenance sweep deletes what is left an hour later). */
static void
stage_drop(struct enq *e)
{
    char err[512];
    long done;

    if (!e->st.run[0])
        return;
    if (!e->cli.rc || e->cli.rc->err) {
        if (e->st.staged > 0 || e->st.inflight > 0)
            fprintf(stderr, "genq enqueue: the jobs staged so far are not "
                            "enqueued; the workers' maintenance deletes "
                            "them within an hour\n");
        return;
    }
    e->st.quiet = 1;
    while (e->st.inflight > 0 && !e->cli.rc->err) /* replies in order */
        (void)stage_read_one(e);
    if (e->cli.rc->err || stage_end(e, "drop", &done, err, sizeof(err)) < 0)
        fprintf(stderr,
                "genq enqueue: the jobs staged so far could not be removed "
                "(%s); they are not enqueued, and the workers' maintenance "
                "deletes them within an hour\n",
                e->cli.rc->err ? e->cli.rc->errstr : err);
}

/* Validate one line and spool it (staging it when it may). Returns -1 on
 * spool I/O failure or out of memory (errno set), or when staging failed
 * (e->st.broken, printed). */
static int
take_line(struct enq *e, const char *line, size_t len, long lineno)
{
    struct job_err err = {{0}, {0}};
    struct rec r = {0};
    struct job_info in = {0};
    char *dlq_id = NULL, *dlq_idem = NULL, *dlq_text = NULL;
    int rc;

    r.line = lineno;
    e->total++;
    if (e->from_dlq) {
        cJSON *job = parse_dlq_line(e, line, len, &err);
        if (job) {
            const char *idem = job_idempotency_key(job);
            r.type = 'J';
            r.prio = (int)job_priority(job);
            r.max_attempts = job_max_attempts(job);
            if (job_schedule(job, &r.run_at, &r.delay) < 0)
                r.run_at = r.delay = 0;
            r.id = dlq_id = strdup(job_id(job));
            r.idem = dlq_idem = strdup(idem ? idem : "");
            r.payload = dlq_text = cJSON_PrintUnformatted(job);
            cJSON_Delete(job);
        }
    } else if (job_parse_info(line, len, &e->jopts, &err, &in) == 0) {
        r.type = 'J';
        r.prio = in.prio;
        r.max_attempts = in.max_attempts;
        r.run_at = in.run_at_ms;
        r.delay = in.delay_ms;
        r.bulk = (char)(in.id_generated && !in.idem && !r.run_at && !r.delay);
        r.id = in.id;
        r.idem = in.idem ? in.idem : "";
        r.payload = in.text; /* the line as sent, id added (job.h) */
        if (e->st.on && !r.bulk)
            e->st.on = 0; /* from here on in pass 2: order kept */
        if (e->st.on) {
            r.type = 'S';
            e->st.last_line = lineno;
            if (stage_job(e, &in) < 0) {
                job_info_free(&in);
                return -1; /* printed; e->st.broken */
            }
        }
    }
    if (r.type == 'J' || r.type == 'S') {
        e->valid++;
    } else {
        r.type = 'R';
        r.field = err.field;
        r.msg = err.msg;
        e->rejected++;
    }
    if (r.type == 'J' && (!r.id || !r.idem || !r.payload)) {
        errno = ENOMEM;
        rc = -1;
    } else if (r.type == 'S' && !e->cli.json) {
        rc = 0; /* only --json names each line; the count says the rest */
    } else {
        rc = rec_write(e->spool, &r);
    }
    job_info_free(&in);
    free(dlq_id);
    free(dlq_idem);
    cJSON_free(dlq_text);
    return rc;
}

/* A batch slot holds up to batch jobs plus the rejected lines between
 * them (--skip-invalid), so every line is reported in input order. */
#define SLOT_CAP(e) (2 * (e)->batch)

/* The class of a job record: jobs of one class can share a bulk call. 0 =
 * not bulk (general script). */
static long
rec_class(const struct rec *r)
{
    return r->bulk ? 1 + r->prio + 3L * r->max_attempts : 0;
}

/* Whether the jobs among recs[0..n) go by append_bulk (all of one bulk
 * class, which send_all() ensures). */
static int
batch_is_bulk(const struct rec *recs, int n)
{
    for (int i = 0; i < n; i++)
        if (recs[i].type == 'J')
            return recs[i].bulk;
    return 0;
}

/* RESP building for the bulk path: into e->out, no intermediate copies. */
static int
resp_head(struct buf *b, char c, size_t n)
{
    char h[32], *p = h + sizeof(h);

    /* by hand: snprintf was a third of this path's instructions */
    *--p = '\n';
    *--p = '\r';
    do {
        *--p = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    *--p = c;
    return buf_append(b, p, (size_t)(h + sizeof(h) - p));
}

static int
resp_arg(struct buf *b, const char *s, size_t n)
{
    return resp_head(b, '$', n) || buf_append(b, s, n) ||
                   buf_append(b, "\r\n", 2)
               ? -1
               : 0;
}

static int
resp_str(struct buf *b, const char *s)
{
    return resp_arg(b, s, strlen(s));
}

/* Server time in ms now: Redis TIME read once (bulk_clock_init), carried on
 * by this host's monotonic clock, so enqueued_at is on Redis's clock like
 * the scripts' now_ms(). */
static int64_t
bulk_now_ms(const struct enq *e)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return e->srv_ms + ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000) -
           e->mono_ms;
}

static int
bulk_clock_init(struct enq *e)
{
    struct timespec ts;
    redisReply *r = redisCommand(e->cli.rc, "TIME");

    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_STRING) {
        if (r)
            freeReplyObject(r);
        return -1;
    }
    clock_gettime(CLOCK_MONOTONIC, &ts);
    e->srv_ms = strtoll(r->element[0]->str, NULL, 10) * 1000 +
                strtoll(r->element[1]->str, NULL, 10) / 1000;
    e->mono_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    freeReplyObject(r);
    return 0;
}

/* The bulk path (jobs of one bulk class: ids generated here, so new; no
 * idempotency key, no delay): one MULTI/EXEC of plain variadic commands
 * instead of a script, the cheapest way to store a job in Redis: each
 * stored value is the meta header "queued|0|MAX|PRIO|||T|T|\n" and the
 * payload, no meta field (prelude.lua: job_header, metas_get); the ids
 * onto the ready list; the enqueued count and rate; a wake.
 * Reply (finish_batch): +OK, 5 x +QUEUED, then EXEC's array. */
static int
append_bulk(struct enq *e, struct rec *recs, int n, int jobs)
{
    struct buf *b = &e->out;
    struct qkeys *k = &e->cli.keys;
    char hdr[128], num[24], key[sizeof(k->prefix) + 8];
    int64_t now = bulk_now_ms(e);
    int hl = 0, prio = 0, rc = 0;
    size_t hlen;

    for (int i = 0; i < n && !hl; i++)
        if (recs[i].type == 'J') {
            prio = recs[i].prio;
            hl = snprintf(hdr, sizeof(hdr),
                          "queued|0|%d|%d|||%" PRId64 "|%" PRId64 "|\n",
                          recs[i].max_attempts, prio, now, now);
        }
    hlen = (size_t)hl;
    buf_reset(b);
    rc |= buf_append_str(b, "*1\r\n$5\r\nMULTI\r\n");
    rc |= resp_head(b, '*', 2 + 2 * (size_t)jobs);
    rc |= resp_str(b, "HSET") | resp_str(b, k->key[QK_JOBS]);
    for (int i = 0; i < n && !rc; i++) {
        size_t pl;
        if (recs[i].type != 'J')
            continue;
        pl = strlen(recs[i].payload);
        rc |= resp_str(b, recs[i].id);
        rc |= resp_head(b, '$', hlen + pl) | buf_append(b, hdr, hlen) |
              buf_append(b, recs[i].payload, pl) | buf_append(b, "\r\n", 2);
    }
    rc |= resp_head(b, '*', 2 + (size_t)jobs);
    rc |= resp_str(b, "LPUSH") | resp_str(b, k->key[QK_READY_HIGH + prio]);
    for (int i = 0; i < n && !rc; i++)
        if (recs[i].type == 'J')
            rc |= resp_str(b, recs[i].id);
    snprintf(num, sizeof(num), "%d", jobs);
    rc |= resp_head(b, '*', 4) | resp_str(b, "HINCRBY") |
          resp_str(b, k->key[QK_STATS]) | resp_str(b, "enqueued") |
          resp_str(b, num);
    snprintf(key, sizeof(key), "%s" QKEY_RATE, k->prefix);
    snprintf(hdr, sizeof(hdr), "%" PRId64, now / 1000);
    rc |= resp_head(b, '*', 4) | resp_str(b, "HINCRBY") | resp_str(b, key) |
          resp_str(b, hdr) | resp_str(b, num);
    rc |= resp_head(b, '*', 3) | resp_str(b, "PUBLISH") | resp_str(b, k->wake) |
          resp_str(b, num);
    rc |= buf_append_str(b, "*1\r\n$4\r\nEXEC\r\n");
    if (rc ||
        redisAppendFormattedCommand(e->cli.rc, b->data, b->len) != REDIS_OK)
        return -1;
    return jobs;
}

/* The replies of one append_bulk(): the EXEC array, checked. Returns it
 * (caller frees) or NULL after printing the problem. */
static redisReply *
read_bulk(struct enq *e, int jobs)
{
    char err[512];
    redisReply *r = NULL;

    for (int i = 0; i < 7; i++) {
        if (r)
            freeReplyObject(r);
        r = rclient_read(e->cli.rc, err, sizeof(err));
        if (!r) {
            fprintf(stderr, "genq enqueue: %s\n", err);
            return NULL;
        }
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 5 ||
        r->element[0]->type != REDIS_REPLY_INTEGER ||
        r->element[0]->integer != jobs) {
        /* HSET counts new fields: fewer means an id was not new */
        fprintf(stderr, "genq enqueue: unexpected reply from Redis to a "
                        "bulk batch\n");
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

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
    if (batch_is_bulk(recs, n))
        return append_bulk(e, recs, n, jobs);
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

    if (jobs > 0 && batch_is_bulk(recs, n)) {
        r = read_bulk(e, jobs);
        if (!r)
            return -1;
    } else if (jobs > 0) {
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
        if (recs[i].type == 'S') { /* made ready by the commit */
            e->enqueued++;
            if (e->cli.json)
                print_line(e, recs[i].line, recs[i].id, "enqueued", NULL, NULL);
            continue;
        }
        if (!r)
            return -1; /* cannot happen: a job line means a reply was read */
        if (batch_is_bulk(recs, n)) { /* all enqueued: read_bulk() */
            e->enqueued++;
            if (e->cli.json)
                print_line(e, recs[i].line, recs[i].id, "enqueued", NULL, NULL);
            continue;
        }
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

/* Send the fill records of window slot cur as one call; the slot then
 * counts as in flight. -1 on out-of-memory. */
static int
send_slot(struct enq *e, struct window *w, int cur, int fill)
{
    int sent = append_batch(e, &w->recs[cur * SLOT_CAP(e)], fill);

    w->count[cur] = fill;
    w->jobs[cur] = sent < 0 ? 0 : sent;
    w->used++;
    return sent < 0 ? -1 : 0;
}

static int
send_all(struct enq *e)
{
    struct window w = {0};
    struct rec r;
    int rc = 0, got, fill = 0, fill_jobs = 0, cur = 0, cap = SLOT_CAP(e);
    long cls = 0;
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
    if (bulk_clock_init(e) < 0) {
        rc = cli_fail("enqueue", "redis: TIME failed: %s",
                      e->cli.rc->errstr[0] ? e->cli.rc->errstr
                                           : "unexpected reply");
        goto out;
    }
    for (;;) {
        got = spool_next(e, &r);
        if (got < 0) {
            rc = cli_fail("enqueue", "reading the spool file failed");
            goto out;
        }
        /* a batch holds jobs of one class: close it before another */
        if (got == 1 && r.type == 'J' && fill_jobs > 0 &&
            rec_class(&r) != cls) {
            if (send_slot(e, &w, cur, fill) < 0) {
                rec_clear(&r);
                rc = cli_fail("enqueue", "out of memory");
                goto out;
            }
            fill = fill_jobs = 0;
        }
        if (got == 1) {
            if (r.type == 'J')
                cls = rec_class(&r);
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
            if (send_slot(e, &w, cur, fill) < 0) {
                rc = cli_fail("enqueue", "out of memory");
                goto out;
            }
            fill = fill_jobs = 0;
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

/* Pass 1 over one stream: validate and spool every line of in. *lines is
 * the number of lines read (blank ones included). -1 on a read error or
 * out of memory (errno set). */
static int
validate_stream(struct enq *e, FILE *in, size_t line_max, long *lines)
{
    struct jsonl_reader *jr = jsonl_open(in);
    const char *line;
    size_t len;
    long lineno = 0;
    int got;

    *lines = 0;
    if (!jr) {
        errno = ENOMEM;
        return -1;
    }
    /* Keep at most the limit (+1) of a line in memory: a 10 GB line is
     * rejected by its real size without holding it. */
    jsonl_set_limit(jr, line_max);
    while ((got = jsonl_next(jr, &line, &len, &lineno)) == 1) {
        *lines = lineno;
        if (jsonl_blank(line, len))
            continue; /* blank lines are allowed and skipped */
        if (len > line_max) {
            if (reject_line(e, lineno, "",
                            "line is %zu bytes; the limit is %zu",
                            jsonl_line_size(jr), line_max) < 0) {
                got = -1;
                break;
            }
            continue;
        }
        if (take_line(e, line, len, lineno) < 0) {
            got = -1;
            break;
        }
    }
    jsonl_close(jr);
    return got < 0 ? -1 : 0;
}

/* The second half of a file validated on a thread of its own. */
struct half {
    struct enq e; /* a copy with its own spool and counters */
    FILE *in;
    size_t line_max;
    long lines;
    int rc, err;
};

static void *
half_run(void *arg)
{
    struct half *h = arg;

    h->rc = validate_stream(&h->e, h->in, h->line_max, &h->lines);
    h->err = errno;
    return NULL;
}

/* Files at least this big are validated by two threads (pass 1 is CPU
 * bound: parsing and checking every line; Redis is idle meanwhile). */
#define SPLIT_MIN_BYTES (1024 * 1024)

/* Validate a regular file of size bytes mapped at base in two halves, cut
 * after a newline near the middle: this thread takes the first, another the
 * second, into a second spool; send_all() reads the spools in order and
 * numbers the second half's lines on from the first's. Returns 1 when done,
 * 0 when the file has no cut (then nothing was read), -1 on error (errno). */
static int
validate_split(struct enq *e, const char *base, size_t size, size_t line_max)
{
    const char *nl = memchr(base + size / 2, '\n', size - size / 2);
    size_t cut = nl ? (size_t)(nl - base) + 1 : size;
    struct half h;
    pthread_t t;
    FILE *a;
    long lines_a = 0;
    int rc;

    if (cut >= size)
        return 0;
    memset(&h, 0, sizeof(h));
    h.e = *e;
    h.e.total = h.e.valid = h.e.rejected = 0;
    h.e.spool = malloc(sizeof(*h.e.spool));
    if (h.e.spool)
        spool_init(h.e.spool, e->spool->max);
    h.line_max = line_max;
    h.in = h.e.spool ? fmemopen((void *)(base + cut), size - cut, "r") : NULL;
    a = fmemopen((void *)base, cut, "r");
    if (!h.e.spool || !h.in || !a) {
        int err = errno;
        free(h.e.spool);
        if (h.in)
            fclose(h.in);
        if (a)
            fclose(a);
        errno = err;
        return -1;
    }
    if (pthread_create(&t, NULL, half_run, &h) != 0) {
        free(h.e.spool);
        fclose(h.in);
        fclose(a);
        return 0; /* no thread: do it all here */
    }
    rc = validate_stream(e, a, line_max, &lines_a);
    pthread_join(t, NULL);
    fclose(a);
    fclose(h.in);
    e->total += h.e.total;
    e->valid += h.e.valid;
    e->rejected += h.e.rejected;
    e->spool2 = h.e.spool; /* freed in cmd_enqueue() */
    e->line_base2 = lines_a;
    if (rc < 0)
        return -1;
    if (h.rc < 0) {
        errno = h.err;
        return -1;
    }
    return 1;
}

/* Pass 1 over file ("-" = standard input). -1 after printing the problem. */
static int
validate_file(struct enq *e, const char *file, size_t line_max)
{
    FILE *in = strcmp(file, "-") ? fopen(file, "rb") : stdin;
    struct stat st;
    int rc = 0;

    if (!in) {
        cli_fail("enqueue", "%s: %s", file, strerror(errno));
        return -1;
    }
    /* staging: one thread validates, Redis stores on the other core */
    if (!e->st.on && in != stdin && sysconf(_SC_NPROCESSORS_ONLN) > 1 &&
        fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode) &&
        st.st_size >= SPLIT_MIN_BYTES) {
        size_t size = (size_t)st.st_size;
        void *base = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fileno(in), 0);
        if (base != MAP_FAILED) {
            rc = validate_split(e, base, size, line_max);
            munmap(base, size);
        }
    }
    if (rc == 0) {
        long lines;
        rc = validate_stream(e, in, line_max, &lines);
    }
    if (in != stdin)
        fclose(in);
    if (rc < 0) {
        if (!e->st.broken) /* else the staging said what failed */
            cli_fail("enqueue", "%s: %s", file, strerror(errno));
        return -1;
    }
    return 0;
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
    struct spool spool;
    const char *file = NULL;
    cJSON *flagjob = cJSON_CreateObject(), *vars = NULL;
    int opt, rc = EXIT_OK, nflags = 0, committed = 0;
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
    spool_init(&spool, spool_max());
    e.spool = &spool;
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
        /* A dead-letter line carries the job plus its error and history. */
        size_t line_max = e.from_dlq ? DLQ_LINE_MAX : JOB_MAX_BYTES;

        struct stat sb;

        if (!e.dry_run && !e.from_dlq && strcmp(file, "-") &&
            stat(file, &sb) == 0 && S_ISREG(sb.st_mode)) {
            char err[512];
            /* unreachable: pass 1 still reports every line, and the
             * connection after it says what is wrong */
            if (cli_connect_err(&e.cli, err, sizeof(err)) < 0 ||
                stage_begin(&e) < 0)
                cli_close(&e.cli);
        }
        if (validate_file(&e, file, line_max) < 0 ||
            (e.st.run[0] && stage_sync(&e) < 0)) {
            if (e.st.broken)
                fprintf(stderr, "genq enqueue: nothing enqueued\n");
            rc = EXIT_FAIL;
            goto out;
        }
    }
    if (e.total == 0) {
        rc = cli_fail("enqueue", "no jobs in the input (empty file?)");
        goto out;
    }
    if (spool_rewind(e.spool) < 0 || (e.spool2 && spool_rewind(e.spool2) < 0)) {
        rc = cli_fail("enqueue", "reading the spool file failed");
        goto out;
    }
    if (e.dry_run || (e.rejected && !e.skip_invalid)) {
        struct rec r;
        int got;
        while ((got = spool_next(&e, &r)) == 1) {
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
    if (!e.cli.rc && cli_connect(&e.cli) < 0) {
        rc = EXIT_FAIL;
        goto out;
    }
    if (e.st.run[0]) {
        char err[512];
        long done = 0;
        committed = 1;
        if (stage_end(&e, "commit", &done, err, sizeof(err)) < 0) {
            if (e.cli.rc->err) /* the call may have run: nobody knows */
                fprintf(stderr,
                        "genq enqueue: making the staged jobs ready: %s; "
                        "%ld of the first %ld jobs are known to be enqueued, "
                        "the others may or may not be (genq stats shows "
                        "the count): do not send them again blindly\n",
                        err, done, e.st.staged);
            else
                fprintf(stderr,
                        "genq enqueue: making the staged jobs ready failed: "
                        "%s; %ld of the first %ld jobs are enqueued, nothing "
                        "after them\n",
                        err, done, e.st.staged);
            /* nothing made ready and the connection fine: drop them */
            committed = done > 0 || e.cli.rc->err;
            rc = EXIT_FAIL;
            goto out;
        }
        if (!e.cli.json) /* else counted as their lines are printed */
            e.enqueued += done;
        e.done_line = e.st.last_line; /* for partial_failure() */
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
    if (e.st.run[0] && !committed)
        stage_drop(&e);
    cJSON_Delete(flagjob);
    buf_free(&e.st.hs);
    buf_free(&e.st.ids);
    buf_free(&e.st.out);
    spool_close(e.spool);
    spool_close(e.spool2);
    free(e.spool2);
    buf_free(&e.out);
    cli_close(&e.cli);
    return rc;
}
