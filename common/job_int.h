/* job_int: what the job_*.c files share and nobody else uses -- the table
 * of top-level fields and the steps of the full path. Not for callers of
 * job.h. */
#ifndef GENQ_JOB_INT_H
#define GENQ_JOB_INT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "job.h"

/* Top-level fields, in the order job_validate() checks them; NULL-ended
 * (job_validate.c). */
extern const char *const job_fields[];

/* Indexes into job_fields. */
enum {
    F_V,
    F_ID,
    F_PROMPT,
    F_MESSAGES,
    F_TEMPLATE,
    F_VARS,
    F_SYSTEM,
    F_MODEL,
    F_MAX_TOKENS,
    F_TEMPERATURE,
    F_TOP_P,
    F_STOP_SEQUENCES,
    F_PRIORITY,
    F_RUN_AT,
    F_DELAY_S,
    F_MAX_ATTEMPTS,
    F_TIMEOUT_S,
    F_IDEMPOTENCY_KEY,
    F_METADATA,
    F_MAX_CONTINUATIONS,
    F_NOTIFY,
    F_TEMPLATE_REF,
    F_BATCH, /* "batch": true -- the provider's batch API (README) */
    F_COUNT
};

static inline const cJSON *
job_get(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* Reject the first member of obj whose key is not in names (NULL-ended),
 * naming path.key and a near miss ("did you mean"). 0, or -1 with *err
 * filled. (job_validate.c) */
int job_check_unknown(const cJSON *obj, const char *path,
                      const char *const *names, struct job_err *err);

/* A cache_control object at path: {"type": "ephemeral"} with an optional
 * "ttl" of "5m" or "1h". 0, or -1 with *err filled. (job_cache.c) */
int job_check_cache_control(const cJSON *cc, const char *path,
                            struct job_err *err);

/* job_validate(), and the size check only when check_size (job_parse_core
 * checks the size after normalization). 0 or -1 with *err filled. */
int job_check_tree(const cJSON *job, int check_size, struct job_err *err);

/* Serialized size of job, or (size_t)-1 when out of memory. */
size_t job_size(const cJSON *job);

/* The stored text of a job that was not rendered: the line itself, trimmed,
 * with "id" inserted first when it was generated (id != NULL). Returns a
 * malloc'd string -- caller frees with free() -- or NULL when out of
 * memory. */
char *job_line_text(const char *line, size_t len, const char *id,
                    size_t *out_len);

/* job_parse(), also giving the stored text (*text, malloc'd, caller frees
 * with free(); text may be NULL), its length and whether the id was
 * generated. Returns the job -- caller frees with cJSON_Delete() -- or NULL
 * with *err filled (then *text is NULL). */
cJSON *job_parse_core(const char *line, size_t len, const struct job_opts *o,
                      struct job_err *err, char **text, size_t *text_len,
                      int *gen_out);

#endif
