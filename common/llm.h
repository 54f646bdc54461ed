/* llm: provider wire logic without any I/O: request bodies and response
 * parsing (plain and streaming) for the Anthropic Messages API and OpenAI
 * Chat Completions, as specified in llm-api.md. Loop- and curl-agnostic. */
#ifndef GENQ_LLM_H
#define GENQ_LLM_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "buf.h"

enum llm_provider { LLM_ANTHROPIC, LLM_OPENAI, LLM_NOOP };

#define LLM_DEFAULT_MAX_TOKENS 2000
#define LLM_ANTHROPIC_VERSION  "2023-06-01" /* send as anthropic-version */
#define LLM_TEXT_MAX           (8u << 20)   /* default cap on output text */
#define LLM_SSE_EVENT_MAX      (1u << 20)   /* cap on one SSE event */

/* Error types this module sets itself in llm_error.type (errclass knows
 * them); everything else comes from the provider. */
#define LLM_ERR_MALFORMED "malformed_response"
#define LLM_ERR_TRUNCATED "truncated_stream"
#define LLM_ERR_NOMEM     "out_of_memory"
#define LLM_ERR_HTTP                                                           \
    "http_error" /* error status without a provider                            \
                    error type (proxy page, HTML) */

struct llm_req_opts {
    enum llm_provider provider;
    const char *default_model; /* used when the job has no model */
    int default_max_tokens;    /* used when the job has none; <= 0 = 2000 */
    int stream;                /* ask for SSE */
    int cache_system; /* --prompt-cache system: a system string long enough
                         for the model (llm_cache_long_enough) is sent as
                         one text block with cache_control ephemeral
                         (Anthropic; ignored for OpenAI, which caches by
                         itself) */
};

/* ---- prompt caching (llm_cache.c) ---- */
#define LLM_CACHE_MIN_DEFAULT     1024 /* tokens, models not in the table */
#define LLM_CACHE_BYTES_PER_TOKEN 4    /* the length estimate of a text */

/* The smallest prompt prefix model caches, in tokens (a prefix table of
 * the Anthropic models; LLM_CACHE_MIN_DEFAULT for others). Can't fail. */
int llm_cache_min_tokens(const char *model);

/* 1 when a text of bytes is estimated long enough to be cached for model
 * (bytes / LLM_CACHE_BYTES_PER_TOKEN >= the minimum), else 0. */
int llm_cache_long_enough(size_t bytes, const char *model);

/* Whether the request of job carries a cache breakpoint on its system
 * prompt: a system string when autoc (--prompt-cache system) and long
 * enough for the model (the job's, else model), or a system block array
 * with a cache_control. Then 1 with *key set to a hash of the model and
 * the cached prefix (the warm-up group: jobs with the same key share a
 * cache entry); else 0. Can't fail. */
int llm_cache_group(const cJSON *job, const char *model, int autoc,
                    uint64_t *key);

/* "anthropic", "openai", "noop". */
const char *llm_provider_name(enum llm_provider p);

/* Parse a provider name as above. Returns 0, or -1 for an unknown name. */
int llm_provider_parse(const char *name, enum llm_provider *out);

/* The response header that carries the request id: "request-id"
 * (Anthropic) or "x-request-id" (OpenAI, and NOOP). */
const char *llm_request_id_header(enum llm_provider p);

/* Build the JSON body of one attempt from a job object (fields prompt or
 * messages, system, model, max_tokens, temperature, top_p, stop_sequences;
 * metadata is never sent).
 *  - Anthropic: model, max_tokens, system, messages (prompt becomes one user
 *    message; messages with role "system" are moved into system),
 *    temperature OR top_p (temperature wins when both are set: newer models
 *    reject both), stop_sequences, stream.
 *  - OpenAI: model, messages (system first, role "system"), max_tokens,
 *    temperature and top_p as given, stop, stream + stream_options
 *    {"include_usage":true}.
 *  - NOOP: the Anthropic body (so benchmarks exercise the same code).
 * prefill (may be NULL) is the text generated so far by a long-article
 * continuation: it is sent as a final assistant message, cut to
 * llm_prefill_trim(prefill, prefill_len) bytes (Anthropic rejects a final
 * assistant message ending in whitespace); when the job's messages already
 * end with an assistant turn, the prefill is appended to that turn.
 * *path receives "/v1/messages" or "/v1/chat/completions" (static).
 * Returns a malloc'd NUL-terminated string the caller frees with free();
 * NULL with errno ENOMEM on allocation failure, or EINVAL when the job has
 * neither prompt nor messages or no model is known. */
char *llm_build_body(const struct llm_req_opts *o, const cJSON *job,
                     const char *prefill, size_t prefill_len,
                     const char **path);

/* The length of prefill that llm_build_body sends: len minus trailing ASCII
 * whitespace. The caller of a continuation must cut its accumulated text to
 * this length before appending the continuation's text, or whitespace would
 * be doubled. This function can't fail. */
size_t llm_prefill_trim(const char *prefill, size_t len);

struct llm_error {
    int http_status;      /* the response status (200 for mid-stream errors) */
    char type[64];        /* provider error type; for OpenAI error.code when
                             it is a non-empty string, else error.type; or an
                             LLM_ERR_* value */
    char message[512];    /* UTF-8, truncated on a character boundary */
    char request_id[128]; /* header value, else the body's request_id */
};

struct llm_result {
    struct buf text; /* output text; cap LLM_TEXT_MAX (change text.max
                        after init) */
    char id[128];    /* message / completion id */
    char model[128];
    char stop_reason[64]; /* provider value as sent: end_turn, max_tokens,
                             stop_sequence, stop, length, ... */
    char stop_sequence[256];
    long input_tokens, output_tokens; /* cumulative: each message_delta or
                                         usage chunk replaces them */
    long cache_creation_input_tokens; /* Anthropic only */
    long cache_read_input_tokens;     /* Anthropic: not in input_tokens;
                                         OpenAI cached_tokens: part of it */
    int complete;         /* message_stop / [DONE] / whole body seen */
    long text_deltas;     /* pieces of text received: progress while a
                             stream runs, before usage is reported */
    int got_first_token;  /* set when the first non-empty text arrives */
    int failed;           /* err is filled */
    struct llm_error err; /* request_id is also set on success */
};

/* Initialise an empty result. Allocates nothing; can't fail. */
void llm_result_init(struct llm_result *r);

/* Free the result's memory and re-initialise it (for the next try). */
void llm_result_reset(struct llm_result *r);

/* Free the result's memory. Accepts NULL. */
void llm_result_free(struct llm_result *r);

/* Parse a whole non-streaming response body received with http_status.
 * request_id is the request-id header value (may be NULL).
 *  - 2xx: fills text, id, model, stop_reason, stop_sequence, usage and sets
 *    complete; a 2xx body carrying an error object sets failed and err.
 *  - other statuses: sets failed and fills err from the provider's error
 *    body; a non-JSON body (HTML from a proxy) gives type LLM_ERR_HTTP and
 *    the start of the body as message.
 * Returns 0 when the body was understood (check r->failed), -1 when a 2xx
 * body is malformed (failed set, err.type LLM_ERR_MALFORMED) or on ENOMEM
 * (err.type LLM_ERR_NOMEM). body need not be NUL-terminated. */
int llm_parse_body(enum llm_provider p, int http_status, const char *body,
                   size_t len, const char *request_id, struct llm_result *r);

struct llm_stream;

/* A streaming decoder that fills r (borrowed: it must outlive the stream)
 * from the raw bytes of a 2xx text/event-stream body. For an error status
 * collect the body and use llm_parse_body instead. Returns NULL on ENOMEM.
 * The caller frees it with llm_stream_free(). */
struct llm_stream *llm_stream_new(enum llm_provider p, struct llm_result *r);

/* Feed body bytes as they arrive (split anywhere). Anthropic: message_start,
 * content_block_start/delta (text_delta), message_delta (stop_reason,
 * cumulative usage), message_stop; ping and unknown events are ignored;
 * event "error" fails with its error type. OpenAI: data chunks, the usage
 * chunk (choices [] or null), [DONE], a top-level "error" key fails.
 * Returns 0, or -1 when the stream reported an error or could not be parsed
 * (r->failed and r->err say which); later calls then return -1 at once. */
int llm_stream_feed(struct llm_stream *s, const char *buf, size_t len);

/* Call when the transfer has ended. Returns 0 when r holds a complete,
 * successful response; -1 when r failed earlier or the stream was cut
 * before message_stop / [DONE] (failed set, err.type LLM_ERR_TRUNCATED). */
int llm_stream_finish(struct llm_stream *s);

/* For tests and fuzzers: turn off (enabled 0) or back on (the default) the
 * fast path that decodes stream events without building cJSON trees (see
 * llm_stream_fast.c). The result of a stream is the same either way; this lets
 * a test run both and compare. This function can't fail. */
void llm_stream_set_fastpath(struct llm_stream *s, int enabled);

/* For tests and benchmarks: how many events of the stream were parsed with
 * cJSON (with the fast path off, every event that is parsed at all; with it
 * on, only those the fast path leaves to cJSON). This function can't fail. */
unsigned long llm_stream_cjson_events(const struct llm_stream *s);

/* Free the decoder (not the result). Accepts NULL. */
void llm_stream_free(struct llm_stream *s);

/* Whether the response stopped for length and may be continued:
 * stop_reason "max_tokens" (Anthropic) or "length" (OpenAI). */
int llm_result_truncated_by_length(const struct llm_result *r);

#endif
