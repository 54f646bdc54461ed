/* Mock LLM server: the batch APIs' wire format (llm-api.md §5,
 * rate-limits-and-batches.md §3) -- parsing Anthropic create bodies,
 * OpenAI multipart uploads and input files, the per-entry fault markers,
 * and rendering batch objects and result lines of both providers. No I/O,
 * no libev: mock_batch.c; the server side is srv_batch.c. */
#ifndef GENQ_MOCK_BATCH_H
#define GENQ_MOCK_BATCH_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "mockapi.h"
#include "mockhttp.h"

/* One request of a batch. */
struct mock_bentry {
    char *cid;     /* owned */
    cJSON *params; /* owned: the Messages / chat completions body */
};

/* Per-entry faults: [mock:batch=KIND] or [mock:batch=KIND*K] (its first K
 * batches) in the request text. */
enum mock_bkind {
    MB_OK,
    MB_ERRORED,       /* invalid_request_error (400): permanent */
    MB_ERRORED_RETRY, /* api_error (500): retryable */
    MB_EXPIRED,
    MB_CANCELED
};

/* The marker of an entry's params: kind and how many times (0 = every
 * time). Returns MB_OK when it carries none. */
enum mock_bkind mock_batch_marker(const cJSON *params, long *times);

/* Anthropic: parse {"requests":[{custom_id, params}...]} into *out (n in
 * *n). Returns 0, or -1 with a 400 message in err (n bytes). Free with
 * mock_batch_entries_free(). */
int mock_batch_parse_anthropic(const cJSON *body, struct mock_bentry **out,
                               size_t *n, char *err, size_t errlen);
/* OpenAI: parse the input file's JSONL lines ({custom_id, method, url,
 * body}) the same way. */
int mock_batch_parse_openai(const char *data, size_t len,
                            struct mock_bentry **out, size_t *n, char *err,
                            size_t errlen);
void mock_batch_entries_free(struct mock_bentry *e, size_t n);

/* OpenAI upload: the "file" part of a multipart/form-data body (boundary
 * from content_type) and the "purpose" field. *data points into body.
 * Returns 0, or -1 with a message in err. */
int mock_batch_multipart(const char *content_type, const char *body, size_t len,
                         const char **data, size_t *dlen, char *purpose,
                         size_t plen, char *filename, size_t flen, char *err,
                         size_t errlen);

/* One result line (newline included) appended to out: the entry's
 * outcome for proto. For MB_OK, reply is the response body JSON text
 * (Anthropic message / chat completion); for errors, msg says why.
 * Returns 0 or -1 (OOM). */
int mock_batch_line(enum mockapi_proto proto, const char *cid,
                    enum mock_bkind kind, const char *reply,
                    const char *request_id, const char *msg,
                    struct mockbuf *out);

#endif
