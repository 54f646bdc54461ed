/* genq enqueue: pass 1. Validates every input line (a job, or with
 * --from-dlq the job of a dead-letter document) and spools it; big regular
 * files are validated by two threads, one per half. Bulk jobs are staged
 * as they are validated (enqueue_stage.c). */
#include "fmacros.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "enqueue.h"
#include "pack.h"
#include "jsonl.h"

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
    rc = spool_write(e->spool, &r);
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

/* Validate one line and spool it (staging it when it may). Returns -1 on
 * spool I/O failure or out of memory (errno set), or when staging failed
 * (e->st.broken, printed). */
int
validate_line(struct enq *e, const char *line, size_t len, long lineno)
{
    struct job_err err = {{0}, {0}};
    struct rec r = {0};
    struct job_info in = {0};
    char *dlq_id = NULL, *dlq_idem = NULL, *dlq_text = NULL, *dlq_notify = NULL;
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
            if (job_notify_echo(job, &dlq_notify) < 0)
                r.payload = NULL; /* out of memory: said below */
            r.notify = dlq_notify;
            cJSON_Delete(job);
        }
    } else if (job_parse_info(line, len, &e->jopts, &err, &in) == 0) {
        r.type = 'J';
        r.prio = in.prio;
        r.max_attempts = in.max_attempts;
        r.run_at = in.run_at_ms;
        r.delay = in.delay_ms;
        r.bulk = (char)(in.id_generated && !in.idem && !r.run_at && !r.delay &&
                        !in.notify); /* notify: the script writes it */
        r.id = in.id;
        r.idem = in.idem ? in.idem : "";
        r.payload = in.text; /* the line as sent, id added (job.h) */
        r.notify = in.notify;
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
    } else if (r.type == 'J') {
        r.payload = enq_pack(e, r.id, r.idem, r.payload, strlen(r.payload),
                             &r.payload_len);
        rc = spool_write(e->spool, &r);
    } else if (r.type == 'S' && !e->cli.json) {
        rc = 0; /* only --json names each line; the count says the rest */
    } else {
        rc = spool_write(e->spool, &r);
    }
    job_info_free(&in);
    free(dlq_id);
    free(dlq_idem);
    cJSON_free(dlq_text);
    free(dlq_notify);
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
        if (validate_line(e, line, len, lineno) < 0) {
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
validate_split(struct enq *e, char *base, size_t size, size_t line_max)
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
    /* its own (NULL: that half is stored plain) */
    h.e.pk = e->pk ? packer_new() : NULL;
    if (h.e.spool)
        spool_init(h.e.spool, e->spool->max);
    h.line_max = line_max;
    h.in = h.e.spool ? fmemopen(base + cut, size - cut, "r") : NULL;
    a = fmemopen(base, cut, "r");
    if (!h.e.spool || !h.in || !a) {
        int err = errno;
        packer_free(h.e.pk);
        free(h.e.spool);
        if (h.in)
            fclose(h.in);
        if (a)
            fclose(a);
        errno = err;
        return -1;
    }
    if (pthread_create(&t, NULL, half_run, &h) != 0) {
        packer_free(h.e.pk);
        free(h.e.spool);
        fclose(h.in);
        fclose(a);
        return 0; /* no thread: do it all here */
    }
    rc = validate_stream(e, a, line_max, &lines_a);
    pthread_join(t, NULL);
    packer_free(h.e.pk);
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
int
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
