/* The private interface of `genq enqueue` (enqueue-tool/enqueue_*.c): the
 * run's state (struct enq), the spooled record of one input line, and the
 * steps of the two passes: validate (pass 1) into the spool, staging of bulk
 * jobs while pass 1 runs, then send (pass 2) by scripts or bulk MULTI calls.
 * See cmd_enqueue.c for the whole flow. */
#ifndef GENQ_ENQUEUE_H
#define GENQ_ENQUEUE_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>

#include "buf.h"
#include "cli.h"
#include "job.h"
#include "meta.h"

#define BATCH_DEFAULT    200
#define BATCH_MAX        1000
#define PIPELINE_WINDOW  8
#define IDEM_TTL_DEFAULT 86400
#define DLQ_LINE_MAX     (4 * (size_t)JOB_MAX_BYTES)

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
    size_t payload_len;              /* J: stored form (pack.h): binary */
    const char *notify;              /* J: the feed echo, or NULL */
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
    struct buf ids, out;       /* the batch: LPUSH args (inline), the call */
    int n, prio, max_attempts; /* jobs in the batch, their class */
    char hdr[META_HEADER_MAX]; /* the bulk header of the class at hdr_ms */
    int hlen;                  /* its length; 0 = none formatted yet */
    int64_t hdr_ms;
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
    int no_compress;         /* --no-compress: every payload stored plain */
    struct buf out;          /* bulk batches being formatted; freed in
                                cmd_enqueue */
    struct spool *spool2;    /* the second half's (validate_split) or NULL */
    long line_base2;         /* lines before the second half */
    int64_t srv_ms, mono_ms; /* Redis TIME at start, monotonic then */
    struct packer *pk;       /* this thread's payload compressor, or NULL
                                (stored plain); cmd_enqueue frees it */
};

/* ---- the spool (enqueue_spool.c) -------------------------------------- */

/* An empty memory spool that spills past max bytes. Can't fail; free with
 * spool_close(). */
void spool_init(struct spool *sp, size_t max);

/* GENQ_SPOOL_MEM_MAX (bytes), else SPOOL_MEM_MAX. */
size_t spool_max(void);

/* Free what sp holds (sp itself is the caller's). sp may be NULL. */
void spool_close(struct spool *sp);

/* Switch from writing to reading from the start. 0, or -1. */
int spool_rewind(struct spool *sp);

/* Append record r (its strings copied). 0, or -1 on I/O failure or out of
 * memory. */
int spool_write(struct spool *sp, const struct rec *r);

/* The next spooled record in input order: e's spool, then the second
 * half's (validate_split), its lines numbered on. 1 = record read (free
 * with spool_rec_clear()), 0 = end, -1 = error. */
int spool_next(struct enq *e, struct rec *r);

/* Free what r owns and zero it. */
void spool_rec_clear(struct rec *r);

/* ---- pass 1 (enqueue_validate.c) --------------------------------------- */

/* The stored form of payload json (len bytes) of job id (enqueue_pack.c):
 * compressed with e->pk when that pays and the job has no idempotency key
 * (idem NULL or ""), else json itself. The result is valid until e->pk's
 * next use; *out_len gets its length (it may hold NULs). */
const char *enq_pack(struct enq *e, const char *id, const char *idem,
                     const char *json, size_t len, size_t *out_len);

/* Validate one line and spool it (staging it when it may). Returns -1 on
 * spool I/O failure or out of memory (errno set), or when staging failed
 * (e->st.broken, printed). */
int validate_line(struct enq *e, const char *line, size_t len, long lineno);

/* Pass 1 over file ("-" = standard input). -1 after printing the problem.
 * May set e->spool2 (freed by the caller). */
int validate_file(struct enq *e, const char *file, size_t line_max);

/* ---- staging (enqueue_stage.c) ----------------------------------------- */

/* Start staging: a run id, its keys, its registration. 0, or -1 (then
 * no staging: the caller goes on without it). */
int stage_begin(struct enq *e);

/* Add a validated bulk job to the batch. -1 on failure (printed). */
int stage_job(struct enq *e, const struct job_info *in);

/* Send the last batch and read every reply. -1 on failure (printed). */
int stage_sync(struct enq *e);

/* Run stage.lua in mode ("commit" or "drop") until nothing is left staged.
 * *done counts the ids handled. 0, or -1 with the problem in err. */
int stage_end(struct enq *e, const char *mode, long *done, char *err,
              size_t errlen);

/* Undo the staging after a failure or a bad line: best effort. */
void stage_drop(struct enq *e);

/* ---- the bulk path (enqueue_bulk.c) ------------------------------------ */

/* RESP building for the bulk and staging paths: into a buf, no
 * intermediate copies. Inline: called for every argument of every job. */
static inline int
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

static inline int
resp_arg(struct buf *b, const char *s, size_t n)
{
    return resp_head(b, '$', n) || buf_append(b, s, n) ||
                   buf_append(b, "\r\n", 2)
               ? -1
               : 0;
}

static inline int
resp_str(struct buf *b, const char *s)
{
    return resp_arg(b, s, strlen(s));
}

/* Server time in ms now: Redis TIME read once (bulk_clock_init), carried on
 * by this host's monotonic clock, so enqueued_at is on Redis's clock like
 * the scripts' now_ms(). */
static inline int64_t
bulk_now_ms(const struct enq *e)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return e->srv_ms + ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000) -
           e->mono_ms;
}

/* Read Redis TIME for bulk_now_ms(). 0, or -1. */
int bulk_clock_init(struct enq *e);

/* Append one MULTI/EXEC storing the jobs among recs[0..n) (jobs of them, all
 * of one bulk class). Returns jobs, or -1 on out of memory. */
int bulk_append(struct enq *e, struct rec *recs, int n, int jobs);

/* Append inline job "@ID|" hdr payload (common/meta.h) to b as one RESP
 * bulk string (hdr: meta_format_header() output of hlen bytes). 0, or -1
 * on out of memory. */
int inline_append(struct buf *b, const char *id, size_t idlen, const char *hdr,
                  size_t hlen, const char *payload, size_t pl);

/* Write iov[0..n) to Redis as it is, straight to the socket (after what
 * hiredis holds unsent): no copy into hiredis's buffer. The replies are
 * read as usual. iov is consumed. 0, or -1 with the I/O error set on the
 * hiredis context (c->err, c->errstr: the connection is then unusable). */
struct iovec;
int bulk_writev(struct enq *e, struct iovec *iov, int n);

/* The replies of one bulk_append(): the EXEC array, checked. Returns it
 * (caller frees with freeReplyObject()) or NULL after printing. */
redisReply *bulk_read(struct enq *e, int jobs);

/* ---- the lean form of enqueue.lua (enqueue_lean.c) ------------------- */

/* Whether the jobs among recs[0..n) can go in one call of the lean form:
 * each has an id and no idempotency key, run_at, delay or notify echo (not
 * bulk), and all have one priority (max_attempts may differ). Otherwise
 * the batch goes in the general form, as it is: batches are never split
 * for it. */
int batch_is_lean(const struct rec *recs, int n);

/* Append one enqueue.lua call in the lean form for the jobs among
 * recs[0..n) (jobs of them; batch_is_lean(); bulk_clock_init() done). Its
 * reply: per job the integer 1 (enqueued) or 0 (duplicate). Returns jobs,
 * or -1 on out of memory. */
int lean_append(struct enq *e, struct rec *recs, int n, int jobs);

/* ---- pass 2 (enqueue_send.c) ------------------------------------------- */

/* Send every spooled record in pipelined batches and report each line.
 * Returns the exit code (problems printed). */
int send_all(struct enq *e);

/* Nothing is sent (--dry-run, or rejected lines without --skip-invalid):
 * report every line and the counts. Returns the exit code. */
int send_report_unsent(struct enq *e);

#endif
