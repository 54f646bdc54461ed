/* The job document: parse and validate one JSONL job line, normalize it (id,
 * template rendering) into the exact stored request, and read its fields.
 * The rules are schemas/job.schema.json's; this code is the authority. */
#ifndef GENQ_JOB_H
#define GENQ_JOB_H

/* Versioning: the stored job carries "v": 1 only when the producer sent it;
 * absent means 1. A change that old workers would misread bumps v: accept the
 * new value in job_check_tree() (job_validate.c) and job_fast.c, teach the
 * worker both, and update schemas/job.schema.json (its "v" const) and the
 * examples. */

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "job_err.h" /* struct job_err, job_err_set(), job_format_number() */

#define JOB_MAX_BYTES          (1024 * 1024) /* stored job JSON, after rendering */
#define JOB_ID_MAX             128
#define JOB_MAX_DEPTH          64          /* nesting of objects and arrays */
#define JOB_METADATA_MAX       (64 * 1024) /* metadata, serialized */
#define JOB_MAX_TOKENS_MAX     200000
#define JOB_DEFAULT_MAX_TOKENS 2000 /* applied by the worker, never stored */
#define JOB_NOTIFY_MAX         16   /* names in notify */
#define JOB_NOTIFY_NAME_MAX    64   /* characters of one name */

struct template_split;

enum job_priority { JOB_PRIO_HIGH = 0, JOB_PRIO_NORMAL = 1, JOB_PRIO_LOW = 2 };

struct job_opts {
    const char *templates_dir; /* NULL = "templates" */
    const char *no_templates;  /* non-NULL: a template job is rejected (field
                                  "template") with this reason, unrendered */
    const struct template_split *split; /* genq enqueue --template-split, or
                                           NULL (template.h); borrowed */
};

/* Parse and validate one JSON job (one JSONL line, len bytes, need not be
 * NUL-terminated; without its newline). Returns the normalized job object --
 * caller frees with cJSON_Delete() -- or NULL with *err filled. o may be NULL
 * (defaults). Checks, in order: size (> JOB_MAX_BYTES is rejected before
 * parsing), NUL bytes, UTF-8, strict RFC 8259 syntax (and no "\u0000"), then
 * job_validate(). Normalization: `id` set (a new UUIDv7, placed first, when
 * absent); `template` + `vars` rendered from <templates_dir>/<name>.tmpl into
 * `prompt` (in template's place) and removed, so the stored job is the exact
 * request; nothing else changed. The normalized job, printed with
 * cJSON_PrintUnformatted(), is at most JOB_MAX_BYTES. On out-of-memory err
 * says so with field "". */
cJSON *job_parse(const char *line, size_t len, const struct job_opts *o,
                 struct job_err *err);

/* What `genq enqueue` needs of one line. Owned strings: job_info_free(). */
struct job_info {
    char *text; /* the text to store: the line itself, trimmed, the
                   generated id inserted first -- never re-serialized;
                   a rendered template job printed by cJSON. At most
                   JOB_MAX_BYTES */
    size_t text_len;
    char *id; /* the job's id (generated when the line had none) */
    int id_generated;
    char *idem;                  /* idempotency_key or NULL */
    int prio;                    /* enum job_priority */
    int max_attempts;            /* 0 = unset */
    int64_t run_at_ms, delay_ms; /* as job_schedule() */
    char *notify; /* job_notify_echo(): the feed's echo, or NULL */
};

/* Validate one line like job_parse() and fill *out (0), or -1 with *err
 * filled (then *out is empty). The common job -- a flat object of known
 * fields with plain strings and in-range numbers, no escapes beyond the
 * simple ones -- is checked by a direct scan without a cJSON tree (the
 * fast path); every other line, valid or not, by job_parse()'s checks, which
 * words the errors. Both give the same answer for every line. */
int job_parse_info(const char *line, size_t len, const struct job_opts *o,
                   struct job_err *err, struct job_info *out);

/* The echo of a job's notify list for the completion feed: a JSON object
 * text of each name in notify that is a key of metadata, with its value as
 * compact JSON (`{"article_id":7}`), in notify order, each name once. Sets
 * *out to a malloc'd string (caller frees with free()), or to NULL when
 * the job has no notify or none of its names is in metadata. Returns 0, or
 * -1 on out of memory (*out NULL). (job_notify.c) */
int job_notify_echo(const cJSON *job, char **out);

/* Free the strings of *in and empty it. Accepts an empty one. */
void job_info_free(struct job_info *in);

/* Tests only: 1 = every line takes the full path of job_parse_info(). */
void job_fast_path_disable(int off);

/* Tests only: how many lines job_parse_info() has accepted on the fast path
 * in the calling thread (a thread-local count, so the two validating
 * threads of `genq enqueue` never share a cache line for it). Can't fail. */
unsigned long job_fast_taken(void);

/* The payload within a stored jobs-hash value: v itself, or, for a job
 * enqueued by the bulk path of `genq enqueue`, what follows its
 * meta header (meta.h). Borrowed pointer into v. */
const char *job_stored_payload(const char *v);

struct packer;
/* The job document of stored jobs-hash value v (len bytes: an optional
 * bulk header, then the payload, plain or compressed: pack.h) of job id:
 * a cJSON object (caller deletes), or NULL with the reason in err ("job
 * ID: ..."). pk may be NULL (pack_decode). */
cJSON *job_stored_parse(struct packer *pk, const char *id, const char *v,
                        size_t len, char *err, size_t errlen);

/* Validate an already-parsed job object with the same rules as job_parse(),
 * without normalizing it (a template is checked by name and vars, not
 * loaded). Returns 0 when valid, -1 with *err filled when not. Objects built
 * in code are checked too: every string and key must be valid UTF-8 and
 * every number finite. */
int job_validate(const cJSON *job, struct job_err *err);

/* The job's priority; JOB_PRIO_NORMAL when unset or unknown. Can't fail. */
enum job_priority job_priority(const cJSON *job);

/* "high", "normal" or "low". Static string. Can't fail. */
const char *job_priority_name(enum job_priority p);

/* When the job should first run. Sets *run_at_ms to the absolute epoch ms of
 * run_at (0 = not set, or set at or before the epoch: run now) and *delay_ms
 * to delay_s in ms, rounded (0 = not set). A valid job has at most one of
 * them non-zero. Returns 0, or -1 when run_at or delay_s is malformed (not
 * possible after job_validate()); then both are 0. */
int job_schedule(const cJSON *job, int64_t *run_at_ms, int64_t *delay_ms);

/* The job's id, or NULL when unset. Borrowed from job. */
const char *job_id(const cJSON *job);

/* The job's idempotency_key, or NULL when unset. Borrowed from job. */
const char *job_idempotency_key(const cJSON *job);

/* max_attempts, or 0 when unset. Can't fail. */
int job_max_attempts(const cJSON *job);

/* The job's user prompt key: `prompt`, or the content of the first message
 * with role "user" (its string, or its text blocks concatenated without a
 * separator). Returns a new string -- caller frees with free() -- or NULL
 * when the job has none (e.g. an unrendered template) or out of memory. */
char *job_prompt_text(const cJSON *job);

#endif
