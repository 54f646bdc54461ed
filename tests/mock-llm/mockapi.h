/* Mock LLM server: validation of Anthropic Messages and OpenAI Chat
 * Completions requests, fault kinds, and rendering of the JSON bodies and SSE
 * events of both wire formats (llm-api.md §1-3, §6). No I/O, no libev.
 * Implemented in mockapi.c (faults, errors, request validation),
 * mockapi_auth.c (credentials, JWT claims) and mockapi_reply.c (bodies,
 * SSE events, error bodies). */
#ifndef GENQ_MOCKAPI_H
#define GENQ_MOCKAPI_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "mockhttp.h"
#include "mocktext.h"

enum mockapi_proto { MOCKAPI_ANTHROPIC, MOCKAPI_OPENAI };

/* An error answer. Empty param/code render as JSON null (OpenAI only). */
struct mockapi_error {
    int status;
    char type[48];
    char message[256];
    char param[64];
    char code[48];
};

/* How a fault kind behaves. */
enum mockapi_fault_class {
    MOCKAPI_FAULT_STATUS,     /* answer with an error status */
    MOCKAPI_FAULT_STREAM_ERR, /* SSE error event mid-stream (else 529) */
    MOCKAPI_FAULT_DROP,       /* close the connection mid-body */
    MOCKAPI_FAULT_STALL,      /* stop sending mid-body */
    MOCKAPI_FAULT_MALFORMED   /* invalid JSON body / SSE data line */
};

struct mockapi_fault {
    const char *name; /* as in --faults and [mock:fail=] */
    enum mockapi_fault_class cls;
    int status;                          /* for MOCKAPI_FAULT_STATUS */
    const char *a_type, *a_msg;          /* Anthropic error.type, message */
    const char *o_type, *o_code, *o_msg; /* OpenAI type, code, message */
    int retry_after;                     /* send retry-after (and -ms) */
    int no_retry;                        /* send x-should-retry: false */
};

/* The table of fault kinds and its size. Cannot fail. */
const struct mockapi_fault *mockapi_faults(size_t *n);

/* Index of a fault kind by name, or -1 if unknown. */
int mockapi_fault_find(const char *name);

/* A validated generation request and the reply computed for it. */
struct mockapi_gen {
    enum mockapi_proto proto;
    char *model; /* owned */
    char *key;   /* owned, NUL-terminated prompt key */
    size_t key_len;
    uint64_t key_hash; /* mocktext_hash(key) */
    int stream;
    int include_usage; /* OpenAI stream_options.include_usage */
    size_t max_tokens;
    size_t input_tokens;
    size_t cache_write, cache_read; /* prompt cache tokens (srv_pcache.c) */
    size_t k;     /* tokens already given by an assistant prefill */
    char **stops; /* owned array of owned strings */
    size_t nstops;
    struct mocktext_article *art; /* owned */
    struct mocktext_reply reply;
    char id[64];       /* msg_... / chatcmpl-..., set by the caller */
    long long created; /* unix seconds, OpenAI */
};

/* Validates a request body (already parsed; NULL = not JSON) for proto and
 * fills g, generating the article it needs. article_default is the server's
 * --article-tokens. Returns 0, or -1 with err filled (400, or 500 when out
 * of memory). Either way release g with mockapi_gen_free(). */
int mockapi_gen_parse(enum mockapi_proto proto, const cJSON *body,
                      size_t article_default, struct mockapi_gen *g,
                      struct mockapi_error *err);

/* Releases what g owns and zeroes it; accepts a zeroed struct. */
void mockapi_gen_free(struct mockapi_gen *g);

/* Checks credentials: x-api-key or Authorization: Bearer (Anthropic), the
 * bearer (OpenAI). When required_key is non-NULL the credential must equal
 * it or look like a JWT. Returns 0, or -1 with a 401 in err. */
int mockapi_check_auth(enum mockapi_proto proto, const struct mockhttp_req *r,
                       const char *required_key, struct mockapi_error *err);

/* The bearer token of the request, or NULL; points into r. */
const char *mockapi_bearer(const struct mockhttp_req *r);

/* 1 if s is shaped like a JWT (three base64url parts, first two
 * non-empty), else 0. */
int mockapi_is_jwt(const char *s);

/* Decodes the payload of a JWT-shaped token (no verification). Returns the
 * claims object, or NULL if not a JWT or not a JSON object. Caller frees with
 * cJSON_Delete(). */
cJSON *mockapi_jwt_claims(const char *token);

/* Fills err from a fault kind for proto. Cannot fail. */
void mockapi_fault_error(enum mockapi_proto proto,
                         const struct mockapi_fault *f,
                         struct mockapi_error *err);

/* Sets err to status/type/message with empty param and code. */
void mockapi_error_set(struct mockapi_error *err, int status, const char *type,
                       const char *message);

/* Appends the error body for proto: §3.2 shape with request_id (Anthropic)
 * or {"error":{message,type,param,code}} (OpenAI). Returns 0 or -1 (OOM). */
int mockapi_error_body(enum mockapi_proto proto, const struct mockapi_error *e,
                       const char *request_id, struct mockbuf *out);

/* Appends the non-streaming 200 body for g. Returns 0 or -1 (OOM). */
int mockapi_body(const struct mockapi_gen *g, struct mockbuf *out);

/* Number of text deltas the stream of g sends with chunk tokens each. */
size_t mockapi_ndeltas(const struct mockapi_gen *g, size_t chunk);

/* Appends the SSE events that open a stream (Anthropic: message_start,
 * content_block_start, ping; OpenAI: the role chunk). Returns 0 or -1. */
int mockapi_sse_head(const struct mockapi_gen *g, struct mockbuf *out);

/* Appends text delta number i (0-based) of ndeltas. Returns 0 or -1. */
int mockapi_sse_delta(const struct mockapi_gen *g, size_t chunk, size_t i,
                      struct mockbuf *out);

/* Appends delta i with its JSON cut short (the "malformed" fault). */
int mockapi_sse_malformed(const struct mockapi_gen *g, size_t chunk, size_t i,
                          struct mockbuf *out);

/* Appends the closing events (Anthropic: content_block_stop, message_delta,
 * message_stop; OpenAI: the usage chunk when asked for, data: [DONE]).
 * Returns 0 or -1. */
int mockapi_sse_tail(const struct mockapi_gen *g, struct mockbuf *out);

/* Appends a mid-stream overloaded error event. Returns 0 or -1. */
int mockapi_sse_error(const struct mockapi_gen *g, struct mockbuf *out);

/* The stop_reason (Anthropic) or finish_reason (OpenAI) string of g. */
const char *mockapi_stop_reason(const struct mockapi_gen *g);

#endif
