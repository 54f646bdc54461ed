/* batch_wire: the wire formats of the providers' batch APIs, without I/O
 * (llm-api.md §5, rate-limits-and-batches.md §3): Anthropic Message Batches
 * (create body, MessageBatch object, list page, results JSONL) and the
 * OpenAI Batch API (input file lines, multipart upload, create body, batch
 * object, list page, output and error file lines). common/batch_anthropic.c
 * and common/batch_openai.c implement it. */
#ifndef GENQ_BATCH_WIRE_H
#define GENQ_BATCH_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "llm.h"

#define BATCH_CID_MAX                64 /* custom_id: ^[a-zA-Z0-9_-]{1,64}$ */
#define BATCH_TOKEN_LEN              16 /* genq's batch token: 16 of [0-9a-f] */
#define BATCH_ANTHROPIC_MAX_REQUESTS 100000
#define BATCH_ANTHROPIC_MAX_BYTES    (256L * 1000 * 1000)
#define BATCH_OPENAI_MAX_REQUESTS    50000
#define BATCH_OPENAI_MAX_BYTES       (200L * 1000 * 1000)

/* Whether s is a valid custom_id: 1..64 of [a-zA-Z0-9_-]. */
int batch_cid_valid(const char *s);

/* The custom_id of an entry: token's first 8 characters, '_', then the
 * job id when the whole fits the pattern, else 'n' and index (mapped back
 * through the member record). out gets at most BATCH_CID_MAX + 1 bytes.
 * The prefix marks the entries of one genq batch: a crashed submit is
 * matched by it (README "Batch mode"). Can't fail. */
void batch_cid(char out[BATCH_CID_MAX + 1], const char *token,
               const char *job_id, long index);

/* A provider's view of one batch. */
enum batch_pstate {
    BPS_RUNNING, /* in_progress / canceling; validating, finalizing, ... */
    BPS_ENDED,   /* ended / completed, expired, cancelled: results ready */
    BPS_FAILED   /* OpenAI "failed": the input was refused, no results */
};
struct batch_status {
    char id[128];
    enum batch_pstate st;
    char state[32]; /* the provider's word */
    int64_t created_ms;
    long counts[5];        /* processing, succeeded, errored, canceled, expired
                              (OpenAI: total - done, completed, failed, 0, 0) */
    char results_url[512]; /* Anthropic, "" until ended */
    char output_file_id[128]; /* OpenAI, "" when none */
    char error_file_id[128];  /* OpenAI, "" when none */
    char marker[64];          /* OpenAI metadata.genq_token, "" when none */
    char error[256];          /* OpenAI errors.data[0].message of "failed" */
};

/* Parse a batch object. Returns 0, or -1 when it is not one (a message
 * naming what is wrong in st->error). */
int batch_status_parse(enum llm_provider p, const char *json, size_t len,
                       struct batch_status *st);

/* Parse a list page ({"data":[...], "has_more", "last_id"}): fn runs per
 * batch (return nonzero to stop); *has_more and last_id (n bytes) tell
 * where the next page starts. Returns 0, or -1 on a malformed page. */
typedef int (*batch_list_fn)(const struct batch_status *st, void *ud);
int batch_list_parse(enum llm_provider p, const char *json, size_t len,
                     batch_list_fn fn, void *ud, int *has_more, char *last_id,
                     size_t n);

/* One request entry for provider p: Anthropic {"custom_id","params"} as an
 * element of the create body's "requests" array (comma before it unless
 * first), OpenAI one input-file line {"custom_id","method","url","body"}
 * and a newline. params is the request body (llm_build_body, not
 * streaming). Returns 0, or -1 on out of memory. */
int batch_entry_append(enum llm_provider p, struct buf *b, int first,
                       const char *cid, const char *params, size_t plen);
/* The text around the entries: Anthropic {"requests":[ and ]}; OpenAI
 * nothing (the file is the lines). Return 0, or -1 on out of memory. */
int batch_body_open(enum llm_provider p, struct buf *b);
int batch_body_close(enum llm_provider p, struct buf *b);

/* OpenAI: the multipart/form-data body of POST /v1/files (purpose=batch,
 * file genq-TOKEN.jsonl) with the given boundary around the input lines.
 * Returns 0, or -1 on out of memory. */
int batch_openai_upload(struct buf *b, const char *boundary, const char *token,
                        const char *data, size_t len);
/* OpenAI: the POST /v1/batches body naming file_id, the chat endpoint,
 * the 24 h window and metadata.genq_token = token. Caller frees; NULL on
 * out of memory. */
char *batch_openai_create_body(const char *file_id, const char *token);
/* OpenAI: the id of a file object ({"id":"file-..."}) into id (n bytes).
 * Returns 0, or -1 when there is none. */
int batch_openai_file_id(const char *json, size_t len, char *id, size_t n);

/* One line of the results (Anthropic results, OpenAI output or error
 * file). */
enum batch_rkind { BR_SUCCEEDED, BR_ERRORED, BR_CANCELED, BR_EXPIRED };
struct batch_line {
    char cid[BATCH_CID_MAX + 1];
    enum batch_rkind kind;
    char *body;        /* BR_SUCCEEDED: the response body (Anthropic message,
                          OpenAI chat completion) as JSON text; owned */
    int http_status;   /* BR_ERRORED: the entry's status (0: unknown) */
    char type[64];     /* BR_ERRORED: the provider's error type */
    char message[512]; /* BR_ERRORED / CANCELED / EXPIRED: why */
    char request_id[128];
};
/* Parse one line into l. Returns 0, or -1 when the line is not a result
 * (message in l->message). Release with batch_line_free() either way. */
int batch_line_parse(enum llm_provider p, const char *line, size_t len,
                     struct batch_line *l);
void batch_line_free(struct batch_line *l);

/* Internal to batch_anthropic.c / batch_openai.c: OpenAI's batch object
 * and result line from a parsed tree (0, or -1 with the message set). */
struct cJSON;
/* Member name of o: its string ("" when not one) / its number (0). */
const char *batch_json_str(const struct cJSON *o, const char *name);
long batch_json_num(const struct cJSON *o, const char *name);
int batch_openai_status(const struct cJSON *o, struct batch_status *st);
int batch_openai_line(const struct cJSON *o, struct batch_line *l);

#endif
