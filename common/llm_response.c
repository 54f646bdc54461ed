/* llm_response: a whole non-streaming response body -- the message or
 * completion of a 2xx, the provider's error object otherwise
 * (llm_parse_body). */
#include "fmacros.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm.h"
#include "llm_int.h"
#include "utf8.h"

/* ---- non-streaming -------------------------------------------------- */

static int
parse_anthropic_message(const cJSON *root, struct llm_result *r)
{
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(root, "content");
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
    const cJSON *blk;

    if (!cJSON_IsArray(content)) {
        llm_set_error(r, r->err.http_status, LLM_ERR_MALFORMED,
                      "response has no content array");
        return -1;
    }
    cJSON_ArrayForEach(blk, content)
    {
        const char *type = llm_jstr(blk, "type");
        const char *t = llm_jstr(blk, "text");
        /* Only text blocks; tool_use, thinking, ... are skipped. */
        if (type != NULL && strcmp(type, "text") == 0 && t != NULL &&
            llm_add_text(r, t, strlen(t)) != 0)
            return -1;
    }
    llm_copy_str(r->id, sizeof r->id, llm_jstr(root, "id"));
    llm_copy_str(r->model, sizeof r->model, llm_jstr(root, "model"));
    llm_copy_str(r->stop_reason, sizeof r->stop_reason,
                 llm_jstr(root, "stop_reason"));
    llm_copy_str(r->stop_sequence, sizeof r->stop_sequence,
                 llm_jstr(root, "stop_sequence"));
    llm_anthropic_usage(usage, r);
    return 0;
}

void
llm_anthropic_usage(const cJSON *usage, struct llm_result *r)
{
    llm_jlong(usage, "input_tokens", &r->input_tokens);
    llm_jlong(usage, "output_tokens", &r->output_tokens);
    llm_jlong(usage, "cache_creation_input_tokens",
              &r->cache_creation_input_tokens);
    llm_jlong(usage, "cache_read_input_tokens", &r->cache_read_input_tokens);
}

void
llm_openai_usage(const cJSON *usage, struct llm_result *r)
{
    if (!cJSON_IsObject(usage))
        return;
    llm_jlong(usage, "prompt_tokens", &r->input_tokens);
    llm_jlong(usage, "completion_tokens", &r->output_tokens);
    llm_jlong(cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens_details"),
              "cached_tokens", &r->cache_read_input_tokens);
}

static int
parse_openai_completion(const cJSON *root, struct llm_result *r)
{
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    const cJSON *c0 = cJSON_GetArrayItem(choices, 0);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(c0, "message");

    if (!cJSON_IsArray(choices) || !cJSON_IsObject(msg)) {
        llm_set_error(r, r->err.http_status, LLM_ERR_MALFORMED,
                      "response has no choices[0].message");
        return -1;
    }
    const char *t = llm_jstr(msg, "content"); /* null for refusals / tools */
    if (t != NULL && llm_add_text(r, t, strlen(t)) != 0)
        return -1;
    llm_copy_str(r->id, sizeof r->id, llm_jstr(root, "id"));
    llm_copy_str(r->model, sizeof r->model, llm_jstr(root, "model"));
    llm_copy_str(r->stop_reason, sizeof r->stop_reason,
                 llm_jstr(c0, "finish_reason"));
    llm_openai_usage(cJSON_GetObjectItemCaseSensitive(root, "usage"), r);
    return 0;
}

/* The start of a non-JSON error body, control bytes blanked and cut on a
 * character boundary, so that a proxy's HTML page leaves a readable hint. */
static void
fill_error_text(struct llm_result *r, int status, const char *body, size_t len)
{
    char snip[200];
    size_t n = 0;

    for (size_t i = 0; i < len && n < sizeof snip - 1; i++) {
        unsigned char c = (unsigned char)body[i];
        if (c < 0x20 || c == 0x7f)
            c = ' ';
        if (c == ' ' && n > 0 && snip[n - 1] == ' ')
            continue;
        snip[n++] = (char)c;
    }
    /* The 199-byte cut may split a character: drop its start. */
    n = utf8_truncate(snip, n);
    snip[n] = '\0';
    char msg[sizeof r->err.message];
    snprintf(msg, sizeof msg, "HTTP %d: %s", status, snip);
    llm_set_error(r, status, LLM_ERR_HTTP, "");
    llm_copy_str(r->err.message, sizeof r->err.message, msg);
}

int
llm_parse_body(enum llm_provider p, int http_status, const char *body,
               size_t len, const char *request_id, struct llm_result *r)
{
    int ok_status = http_status >= 200 && http_status <= 299;
    cJSON *root;
    int rc = 0;

    r->err.http_status = http_status;
    if (request_id != NULL)
        llm_copy_str(r->err.request_id, sizeof r->err.request_id, request_id);
    if (p == LLM_NOOP && ok_status) {
        r->complete = 1;
        return 0;
    }
    root = body != NULL && len > 0 ? cJSON_ParseWithLength(body, len) : NULL;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        if (ok_status) {
            llm_set_error(r, http_status, LLM_ERR_MALFORMED,
                          "response body is not a JSON object");
            return -1;
        }
        fill_error_text(r, http_status, body ? body : "", body ? len : 0);
        return 0;
    }
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (!ok_status || (err != NULL && !cJSON_IsNull(err))) {
        llm_fill_error_obj(r, http_status, root);
    } else {
        rc = p == LLM_OPENAI ? parse_openai_completion(root, r)
                             : parse_anthropic_message(root, r);
        if (rc == 0)
            r->complete = 1;
    }
    cJSON_Delete(root);
    return rc;
}
