/* llm: what the provider modules share -- provider names, the result
 * object, error filling and the UTF-8-safe field copies. Requests are in
 * llm_request.c, whole bodies in llm_response.c, streams in llm_stream.c
 * and llm_stream_fast.c (see llm.h, llm-api.md). */
#include "fmacros.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm.h"
#include "llm_int.h"
#include "utf8.h"

/* ---- small helpers ---------------------------------------------------- */

/* Copy src[0..n) into dst (capacity cap >= 1), truncating on a UTF-8
 * character boundary so a cut field never holds half a character. Bytes
 * that are not UTF-8 (a Latin-1 error page from a proxy, a provider's bad
 * string) become '?', so every field is valid UTF-8 wherever it is stored
 * or printed as JSON. */
void
llm_copy_n(char *dst, size_t cap, const char *src, size_t n)
{
    size_t pos = 0, off;

    /* Drop a character the cut would split (at most 3 bytes: a run of
     * stray continuation bytes must not empty the field). */
    if (n >= cap)
        n = utf8_truncate(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
    while (!utf8_check(dst + pos, n - pos, &off)) {
        dst[pos + off] = '?';
        pos += off + 1;
    }
}

void
llm_copy_str(char *dst, size_t cap, const char *src)
{
    llm_copy_n(dst, cap, src ? src : "", src ? strlen(src) : 0);
}

const char *
llm_jstr(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Store a non-negative JSON number into *out; leaves *out alone when the
 * key is absent, null or not a number. */
void
llm_jlong(const cJSON *obj, const char *key, long *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 9e15)
        *out = (long)v->valuedouble;
}

void
llm_set_error(struct llm_result *r, int status, const char *type,
              const char *message)
{
    r->failed = 1;
    r->err.http_status = status;
    llm_copy_str(r->err.type, sizeof r->err.type, type);
    llm_copy_str(r->err.message, sizeof r->err.message, message);
}

/* Fill r->err from a provider error object: Anthropic {type, message},
 * OpenAI {message, type, param, code}. A string "error" (some proxies) is
 * taken as the message. */
void
llm_fill_error_obj(struct llm_result *r, int status, const cJSON *root)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    const char *type = NULL, *msg = NULL;

    if (cJSON_IsObject(e)) {
        const char *code = llm_jstr(e, "code");
        type = code != NULL && code[0] != '\0' ? code : llm_jstr(e, "type");
        msg = llm_jstr(e, "message");
    } else if (cJSON_IsString(e)) {
        msg = e->valuestring;
    }
    if (msg == NULL)
        msg = llm_jstr(root, "message");
    if (msg == NULL)
        msg = llm_jstr(root, "detail");
    llm_set_error(r, status,
                  type != NULL && type[0] != '\0' ? type : LLM_ERR_HTTP,
                  msg != NULL ? msg : "");
    const char *rid = llm_jstr(root, "request_id");
    if (r->err.request_id[0] == '\0' && rid != NULL)
        llm_copy_str(r->err.request_id, sizeof r->err.request_id, rid);
}

/* ---- providers, options --------------------------------------------- */

const char *
llm_provider_name(enum llm_provider p)
{
    switch (p) {
    case LLM_ANTHROPIC:
        return "anthropic";
    case LLM_OPENAI:
        return "openai";
    case LLM_NOOP:
        return "noop";
    }
    return "unknown";
}

int
llm_provider_parse(const char *name, enum llm_provider *out)
{
    static const enum llm_provider all[] = {LLM_ANTHROPIC, LLM_OPENAI,
                                            LLM_NOOP};
    for (size_t i = 0; name != NULL && i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(name, llm_provider_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    }
    return -1;
}

const char *
llm_request_id_header(enum llm_provider p)
{
    return p == LLM_ANTHROPIC ? "request-id" : "x-request-id";
}

/* ---- results -------------------------------------------------------- */

void
llm_result_init(struct llm_result *r)
{
    memset(r, 0, sizeof *r);
    buf_init(&r->text, LLM_TEXT_MAX);
}

void
llm_result_free(struct llm_result *r)
{
    if (r == NULL)
        return;
    buf_free(&r->text);
}

void
llm_result_reset(struct llm_result *r)
{
    size_t max = r->text.max;
    llm_result_free(r);
    llm_result_init(r);
    r->text.max = max;
}

int
llm_result_truncated_by_length(const struct llm_result *r)
{
    return strcmp(r->stop_reason, "max_tokens") == 0 ||
           strcmp(r->stop_reason, "length") == 0;
}
