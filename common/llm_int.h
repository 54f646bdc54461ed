/* llm_int: what the llm_*.c files share and nobody else uses -- result and
 * error helpers, the Anthropic event kinds, the fast-path entry points. Not
 * for callers of llm.h. */
#ifndef GENQ_LLM_INT_H
#define GENQ_LLM_INT_H

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "llm.h"

/* A fast-path step declines an event (before touching the result). */
#define LLM_FAST_BAIL (-1)

/* Copy src[0..n) into dst (capacity cap >= 1), cut on a character boundary
 * and with non-UTF-8 bytes as '?' (llm.c). Can't fail. */
void llm_copy_n(char *dst, size_t cap, const char *src, size_t n);

/* llm_copy_n of a NUL-terminated string; NULL copies "". Can't fail. */
void llm_copy_str(char *dst, size_t cap, const char *src);

/* obj's string member key, or NULL. Borrowed from obj. */
const char *llm_jstr(const cJSON *obj, const char *key);

/* Store obj's non-negative number member key into *out; leaves *out alone
 * when it is absent or not such a number. */
void llm_jlong(const cJSON *obj, const char *key, long *out);

/* Mark r failed with status, type and message. Can't fail. */
void llm_set_error(struct llm_result *r, int status, const char *type,
                   const char *message);

/* Fill r->err from a provider error body root (llm.c). */
void llm_fill_error_obj(struct llm_result *r, int status, const cJSON *root);

/* Anthropic's usage object (message, message_start, message_delta) into
 * r's counts: cumulative, so they replace, never add (llm_response.c). */
void llm_anthropic_usage(const cJSON *usage, struct llm_result *r);

/* OpenAI's usage object into r's counts (llm_response.c). */
void llm_openai_usage(const cJSON *usage, struct llm_result *r);

/* Fail r as LLM_ERR_MALFORMED with what; returns 1, the event callback's
 * "stop" (llm_stream.c). */
int llm_malformed(struct llm_result *r, const char *what);

/* Append output text; a failure marks the result failed. A stream calls
 * this for every delta, so the common case (room in the buffer) is done
 * here rather than through buf_append, with the same checks. */
static inline int
llm_add_text(struct llm_result *r, const char *s, size_t n)
{
    struct buf *b = &r->text;

    if (n == 0)
        return 0;
    if (b->data != NULL && n < b->cap - b->len &&
        (b->max == 0 || n <= b->max - b->len)) {
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = '\0';
    } else if (buf_append(b, s, n) != 0) {
        if (errno == EMSGSIZE)
            llm_set_error(r, r->err.http_status, LLM_ERR_MALFORMED,
                          "output text exceeds the size cap");
        else
            llm_set_error(r, r->err.http_status, LLM_ERR_NOMEM,
                          "out of memory storing output text");
        return -1;
    }
    r->got_first_token = 1;
    r->text_deltas++;
    return 0;
}

/* The Anthropic events this decoder acts on. */
enum anth_event {
    AEV_OTHER, /* ping, content_block_stop, new types: ignored */
    AEV_MESSAGE_START,
    AEV_BLOCK_START,
    AEV_BLOCK_DELTA,
    AEV_MESSAGE_DELTA,
    AEV_MESSAGE_STOP,
    AEV_ERROR
};

/* Classify an event name (or an unnamed event's JSON type). Called for
 * every event: the length picks the candidates, compared with fixed-size
 * memcmp calls the compiler inlines. */
static inline enum anth_event
llm_anth_event_kind(const char *name, size_t n)
{
#define NAME_IS(lit) memcmp(name, lit, sizeof(lit) - 1) == 0
    switch (n) {
    case 19:
        if (NAME_IS("content_block_delta"))
            return AEV_BLOCK_DELTA;
        if (NAME_IS("content_block_start"))
            return AEV_BLOCK_START;
        break;
    case 13:
        if (NAME_IS("message_start"))
            return AEV_MESSAGE_START;
        if (NAME_IS("message_delta"))
            return AEV_MESSAGE_DELTA;
        break;
    case 12:
        if (NAME_IS("message_stop"))
            return AEV_MESSAGE_STOP;
        break;
    case 5:
        if (NAME_IS("error"))
            return AEV_ERROR;
        break;
    }
    return AEV_OTHER;
#undef NAME_IS
}

/* The fast path of one Anthropic event (named: it had an event name, of
 * kind) and of one OpenAI chunk: their result, as the cJSON path's, or
 * LLM_FAST_BAIL when the cJSON path must decide (llm_stream_fast.c). */
int llm_fast_anthropic(struct llm_result *r, const char *data, size_t dlen,
                       int named, enum anth_event kind);
int llm_fast_openai(struct llm_result *r, const char *data, size_t dlen);

#endif
