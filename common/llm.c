/* llm: request bodies and response parsing for the Anthropic Messages API
 * and OpenAI Chat Completions, plain and streaming (see llm.h, llm-api.md). */
#include "fmacros.h"

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm.h"
#include "sse.h"
#include "utf8.h"

#define PATH_ANTHROPIC "/v1/messages"
#define PATH_OPENAI    "/v1/chat/completions"

/* ---- small helpers ---------------------------------------------------- */

/* Copy src[0..n) into dst (capacity cap >= 1), truncating on a UTF-8
 * character boundary so a cut field never holds half a character. Bytes
 * that are not UTF-8 (a Latin-1 error page from a proxy, a provider's bad
 * string) become '?', so every field is valid UTF-8 wherever it is stored
 * or printed as JSON. */
static void
copy_n(char *dst, size_t cap, const char *src, size_t n)
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

static void
copy_str(char *dst, size_t cap, const char *src)
{
    copy_n(dst, cap, src ? src : "", src ? strlen(src) : 0);
}

static const char *
jstr(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Store a non-negative JSON number into *out; leaves *out alone when the
 * key is absent, null or not a number. */
static void
jlong(const cJSON *obj, const char *key, long *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 9e15)
        *out = (long)v->valuedouble;
}

/* Attach item to obj under key, taking ownership either way: on failure
 * (key copy not allocated) the item is deleted. Returns 0 or -1. */
static int
attach(cJSON *obj, const char *key, cJSON *item)
{
    if (item == NULL)
        return -1;
    if (!cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        return -1;
    }
    return 0;
}

static void
set_error(struct llm_result *r, int status, const char *type,
          const char *message)
{
    r->failed = 1;
    r->err.http_status = status;
    copy_str(r->err.type, sizeof r->err.type, type);
    copy_str(r->err.message, sizeof r->err.message, message);
}

/* Append output text; a failure marks the result failed. A stream calls
 * this for every delta, so the common case (room in the buffer) is done
 * here rather than through buf_append, with the same checks. */
static inline int
add_text(struct llm_result *r, const char *s, size_t n)
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
            set_error(r, r->err.http_status, LLM_ERR_MALFORMED,
                      "output text exceeds the size cap");
        else
            set_error(r, r->err.http_status, LLM_ERR_NOMEM,
                      "out of memory storing output text");
        return -1;
    }
    r->got_first_token = 1;
    r->text_deltas++;
    return 0;
}

/* Fill r->err from a provider error object: Anthropic {type, message},
 * OpenAI {message, type, param, code}. A string "error" (some proxies) is
 * taken as the message. */
static void
fill_error_obj(struct llm_result *r, int status, const cJSON *root)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    const char *type = NULL, *msg = NULL;

    if (cJSON_IsObject(e)) {
        const char *code = jstr(e, "code");
        type = code != NULL && code[0] != '\0' ? code : jstr(e, "type");
        msg = jstr(e, "message");
    } else if (cJSON_IsString(e)) {
        msg = e->valuestring;
    }
    if (msg == NULL)
        msg = jstr(root, "message");
    if (msg == NULL)
        msg = jstr(root, "detail");
    set_error(r, status, type != NULL && type[0] != '\0' ? type : LLM_ERR_HTTP,
              msg != NULL ? msg : "");
    const char *rid = jstr(root, "request_id");
    if (r->err.request_id[0] == '\0' && rid != NULL)
        copy_str(r->err.request_id, sizeof r->err.request_id, rid);
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

/* ---- request bodies ------------------------------------------------- */

size_t
llm_prefill_trim(const char *prefill, size_t len)
{
    if (prefill == NULL)
        return 0;
    while (len > 0 && (prefill[len - 1] == ' ' || prefill[len - 1] == '\t' ||
                       prefill[len - 1] == '\n' || prefill[len - 1] == '\r' ||
                       prefill[len - 1] == '\f' || prefill[len - 1] == '\v'))
        len--;
    return len;
}

/* Append the text of a message content (a string, or an array of
 * {"type":"text","text":...} blocks) to b, separated by a blank line. */
static int
append_content_text(struct buf *b, const cJSON *content)
{
    if (cJSON_IsString(content)) {
        if (b->len > 0 && buf_append_str(b, "\n\n") != 0)
            return -1;
        return buf_append_str(b, content->valuestring);
    }
    const cJSON *blk;
    cJSON_ArrayForEach(blk, content)
    {
        const char *t = jstr(blk, "text");
        if (t == NULL)
            continue;
        if (b->len > 0 && buf_append_str(b, "\n\n") != 0)
            return -1;
        if (buf_append_str(b, t) != 0)
            return -1;
    }
    return 0;
}

/* Add the prefill as a final assistant turn to msgs, merging it into the
 * last turn when that is already an assistant turn. */
static int
add_prefill(cJSON *msgs, const char *prefill, size_t n)
{
    char *p = malloc(n + 1);
    if (p == NULL)
        return -1;
    memcpy(p, prefill, n);
    p[n] = '\0';

    int rc = -1;
    int sz = cJSON_GetArraySize(msgs);
    cJSON *last = sz > 0 ? cJSON_GetArrayItem(msgs, sz - 1) : NULL;
    const char *role = last ? jstr(last, "role") : NULL;
    cJSON *content =
        last ? cJSON_GetObjectItemCaseSensitive(last, "content") : NULL;

    if (role != NULL && strcmp(role, "assistant") == 0 &&
        cJSON_IsString(content)) {
        struct buf b;
        buf_init(&b, 0);
        if (buf_append_str(&b, content->valuestring) == 0 &&
            buf_append(&b, p, n) == 0) {
            cJSON *s = cJSON_CreateString(b.data);
            if (s != NULL &&
                cJSON_ReplaceItemInObjectCaseSensitive(last, "content", s))
                rc = 0;
            else
                cJSON_Delete(s);
        }
        buf_free(&b);
    } else if (role != NULL && strcmp(role, "assistant") == 0 &&
               cJSON_IsArray(content)) {
        cJSON *blk = cJSON_CreateObject();
        if (blk != NULL && cJSON_AddStringToObject(blk, "type", "text") &&
            cJSON_AddStringToObject(blk, "text", p)) {
            cJSON_AddItemToArray(content, blk);
            rc = 0;
        } else {
            cJSON_Delete(blk);
        }
    } else {
        cJSON *m = cJSON_CreateObject();
        if (m != NULL && cJSON_AddStringToObject(m, "role", "assistant") &&
            cJSON_AddStringToObject(m, "content", p)) {
            cJSON_AddItemToArray(msgs, m);
            rc = 0;
        } else {
            cJSON_Delete(m);
        }
    }
    free(p);
    return rc;
}

/* The stop sequences of the job as a fresh array of strings (a single string
 * is accepted too); NULL when there are none. *oom set on allocation
 * failure. */
static cJSON *
stop_array(const cJSON *job, int *oom)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(job, "stop_sequences");
    cJSON *a = NULL;

    if (!cJSON_IsString(s) && !cJSON_IsArray(s))
        return NULL;
    a = cJSON_CreateArray();
    if (a == NULL)
        goto oom;
    if (cJSON_IsString(s)) {
        cJSON *it = cJSON_CreateString(s->valuestring);
        if (it == NULL)
            goto oom;
        cJSON_AddItemToArray(a, it);
    } else {
        const cJSON *e;
        cJSON_ArrayForEach(e, s)
        {
            if (!cJSON_IsString(e))
                continue;
            cJSON *it = cJSON_CreateString(e->valuestring);
            if (it == NULL)
                goto oom;
            cJSON_AddItemToArray(a, it);
        }
    }
    if (cJSON_GetArraySize(a) == 0) {
        cJSON_Delete(a);
        return NULL;
    }
    return a;
oom:
    cJSON_Delete(a);
    *oom = 1;
    return NULL;
}

/* Build the messages array: the job's messages (minus system turns when
 * drop_system; their text is appended to *sys) or one user turn holding the
 * prompt. Returns NULL on ENOMEM or EINVAL (errno set). */
static cJSON *
build_messages(const cJSON *job, int drop_system, struct buf *sys)
{
    const cJSON *jm = cJSON_GetObjectItemCaseSensitive(job, "messages");
    const char *prompt = jstr(job, "prompt");
    cJSON *msgs = cJSON_CreateArray();

    if (msgs == NULL)
        goto oom;
    if (cJSON_IsArray(jm) && cJSON_GetArraySize(jm) > 0) {
        const cJSON *m;
        cJSON_ArrayForEach(m, jm)
        {
            const char *role = jstr(m, "role");
            if (drop_system && role != NULL && strcmp(role, "system") == 0) {
                const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
                if (append_content_text(sys, c) != 0)
                    goto oom;
                continue;
            }
            cJSON *d = cJSON_Duplicate(m, 1);
            if (d == NULL)
                goto oom;
            cJSON_AddItemToArray(msgs, d);
        }
    } else if (prompt != NULL) {
        cJSON *u = cJSON_CreateObject();
        if (u == NULL)
            goto oom;
        cJSON_AddItemToArray(msgs, u);
        if (!cJSON_AddStringToObject(u, "role", "user") ||
            !cJSON_AddStringToObject(u, "content", prompt))
            goto oom;
    }
    if (cJSON_GetArraySize(msgs) == 0) {
        cJSON_Delete(msgs);
        errno = EINVAL;
        return NULL;
    }
    return msgs;
oom:
    cJSON_Delete(msgs);
    errno = ENOMEM;
    return NULL;
}

/* cJSON_Print* allocates with cJSON's hooks; hand back plain malloc memory
 * so that callers can always use free(). */
static char *
print_body(const cJSON *root)
{
    char *s = cJSON_PrintUnformatted(root);
    if (s == NULL)
        return NULL;
    size_t n = strlen(s);
    char *out = malloc(n + 1);
    if (out != NULL)
        memcpy(out, s, n + 1);
    cJSON_free(s);
    return out;
}

/* One function for both providers: the bodies share most fields, and the
 * differences (system placement, sampling rule, stop key, stream options)
 * are a handful of branches. */
char *
llm_build_body(const struct llm_req_opts *o, const cJSON *job,
               const char *prefill, size_t prefill_len, const char **path)
{
    int openai = o->provider == LLM_OPENAI;
    const char *model = jstr(job, "model");
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(job, "max_tokens");
    const cJSON *temp = cJSON_GetObjectItemCaseSensitive(job, "temperature");
    const cJSON *top_p = cJSON_GetObjectItemCaseSensitive(job, "top_p");
    const cJSON *jsys = cJSON_GetObjectItemCaseSensitive(job, "system");
    cJSON *root = NULL, *msgs = NULL, *stop = NULL;
    struct buf sys;
    char *out = NULL;
    int oom = 0;

    buf_init(&sys, 0);
    if (model == NULL || model[0] == '\0')
        model = o->default_model;
    if (model == NULL || model[0] == '\0') {
        errno = EINVAL;
        return NULL;
    }
    int max_tokens = o->default_max_tokens > 0 ? o->default_max_tokens
                                               : LLM_DEFAULT_MAX_TOKENS;
    if (cJSON_IsNumber(mt) && mt->valuedouble >= 0 &&
        mt->valuedouble <= 2147483647.0)
        max_tokens = (int)mt->valuedouble;

    /* Anthropic: system text = job.system then any system turns. */
    if (!openai && cJSON_IsString(jsys) &&
        buf_append_str(&sys, jsys->valuestring) != 0)
        goto oom;
    msgs = build_messages(job, !openai, &sys);
    if (msgs == NULL)
        goto fail;
    size_t pn = llm_prefill_trim(prefill, prefill_len);
    if (pn > 0 && add_prefill(msgs, prefill, pn) != 0)
        goto oom;
    stop = stop_array(job, &oom);
    if (oom)
        goto oom;

    root = cJSON_CreateObject();
    if (root == NULL || !cJSON_AddStringToObject(root, "model", model))
        goto oom;
    if (openai) {
        /* system first, as a role "system" turn (string or parts array) */
        if (cJSON_IsString(jsys) || cJSON_IsArray(jsys)) {
            cJSON *m = cJSON_CreateObject();
            if (m == NULL || !cJSON_AddStringToObject(m, "role", "system") ||
                attach(m, "content", cJSON_Duplicate(jsys, 1)) != 0 ||
                !cJSON_InsertItemInArray(msgs, 0, m)) {
                cJSON_Delete(m);
                goto oom;
            }
        }
        cJSON *mm = msgs;
        msgs = NULL;
        if (attach(root, "messages", mm) != 0)
            goto oom;
        if (!cJSON_AddNumberToObject(root, "max_tokens", max_tokens))
            goto oom;
        if (cJSON_IsNumber(temp) &&
            !cJSON_AddNumberToObject(root, "temperature", temp->valuedouble))
            goto oom;
        if (cJSON_IsNumber(top_p) &&
            !cJSON_AddNumberToObject(root, "top_p", top_p->valuedouble))
            goto oom;
        if (stop != NULL) {
            cJSON *st = stop;
            stop = NULL;
            if (attach(root, "stop", st) != 0)
                goto oom;
        }
        if (o->stream) {
            cJSON *so = cJSON_CreateObject();
            if (attach(root, "stream_options", so) != 0 ||
                !cJSON_AddTrueToObject(root, "stream") ||
                !cJSON_AddTrueToObject(so, "include_usage"))
                goto oom;
        }
        *path = PATH_OPENAI;
    } else {
        if (!cJSON_AddNumberToObject(root, "max_tokens", max_tokens))
            goto oom;
        if (sys.len > 0) {
            if (!cJSON_AddStringToObject(root, "system", sys.data))
                goto oom;
        } else if (cJSON_IsArray(jsys)) {
            if (attach(root, "system", cJSON_Duplicate(jsys, 1)) != 0)
                goto oom;
        }
        cJSON *mm = msgs;
        msgs = NULL;
        if (attach(root, "messages", mm) != 0)
            goto oom;
        /* At most one of the two: newer models reject both (llm-api.md §1). */
        if (cJSON_IsNumber(temp)) {
            if (!cJSON_AddNumberToObject(root, "temperature",
                                         temp->valuedouble))
                goto oom;
        } else if (cJSON_IsNumber(top_p)) {
            if (!cJSON_AddNumberToObject(root, "top_p", top_p->valuedouble))
                goto oom;
        }
        if (stop != NULL) {
            cJSON *st = stop;
            stop = NULL;
            if (attach(root, "stop_sequences", st) != 0)
                goto oom;
        }
        if (o->stream && !cJSON_AddTrueToObject(root, "stream"))
            goto oom;
        *path = PATH_ANTHROPIC;
    }
    out = print_body(root);
    if (out == NULL)
        goto oom;
    cJSON_Delete(root);
    buf_free(&sys);
    return out;
oom:
    errno = ENOMEM;
fail:
    cJSON_Delete(root);
    cJSON_Delete(msgs);
    cJSON_Delete(stop);
    buf_free(&sys);
    return NULL;
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

/* ---- non-streaming -------------------------------------------------- */

static int
parse_anthropic_message(const cJSON *root, struct llm_result *r)
{
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(root, "content");
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
    const cJSON *blk;

    if (!cJSON_IsArray(content)) {
        set_error(r, r->err.http_status, LLM_ERR_MALFORMED,
                  "response has no content array");
        return -1;
    }
    cJSON_ArrayForEach(blk, content)
    {
        const char *type = jstr(blk, "type");
        const char *t = jstr(blk, "text");
        /* Only text blocks; tool_use, thinking, ... are skipped. */
        if (type != NULL && strcmp(type, "text") == 0 && t != NULL &&
            add_text(r, t, strlen(t)) != 0)
            return -1;
    }
    copy_str(r->id, sizeof r->id, jstr(root, "id"));
    copy_str(r->model, sizeof r->model, jstr(root, "model"));
    copy_str(r->stop_reason, sizeof r->stop_reason, jstr(root, "stop_reason"));
    copy_str(r->stop_sequence, sizeof r->stop_sequence,
             jstr(root, "stop_sequence"));
    jlong(usage, "input_tokens", &r->input_tokens);
    jlong(usage, "output_tokens", &r->output_tokens);
    jlong(usage, "cache_creation_input_tokens",
          &r->cache_creation_input_tokens);
    jlong(usage, "cache_read_input_tokens", &r->cache_read_input_tokens);
    return 0;
}

static void
openai_usage(const cJSON *usage, struct llm_result *r)
{
    if (!cJSON_IsObject(usage))
        return;
    jlong(usage, "prompt_tokens", &r->input_tokens);
    jlong(usage, "completion_tokens", &r->output_tokens);
    jlong(cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens_details"),
          "cached_tokens", &r->cache_read_input_tokens);
}

static int
parse_openai_completion(const cJSON *root, struct llm_result *r)
{
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    const cJSON *c0 = cJSON_GetArrayItem(choices, 0);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(c0, "message");

    if (!cJSON_IsArray(choices) || !cJSON_IsObject(msg)) {
        set_error(r, r->err.http_status, LLM_ERR_MALFORMED,
                  "response has no choices[0].message");
        return -1;
    }
    const char *t = jstr(msg, "content"); /* null for refusals / tools */
    if (t != NULL && add_text(r, t, strlen(t)) != 0)
        return -1;
    copy_str(r->id, sizeof r->id, jstr(root, "id"));
    copy_str(r->model, sizeof r->model, jstr(root, "model"));
    copy_str(r->stop_reason, sizeof r->stop_reason, jstr(c0, "finish_reason"));
    openai_usage(cJSON_GetObjectItemCaseSensitive(root, "usage"), r);
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
    set_error(r, status, LLM_ERR_HTTP, "");
    copy_str(r->err.message, sizeof r->err.message, msg);
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
        copy_str(r->err.request_id, sizeof r->err.request_id, request_id);
    if (p == LLM_NOOP && ok_status) {
        r->complete = 1;
        return 0;
    }
    root = body != NULL && len > 0 ? cJSON_ParseWithLength(body, len) : NULL;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        if (ok_status) {
            set_error(r, http_status, LLM_ERR_MALFORMED,
                      "response body is not a JSON object");
            return -1;
        }
        fill_error_text(r, http_status, body ? body : "", body ? len : 0);
        return 0;
    }
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (!ok_status || (err != NULL && !cJSON_IsNull(err))) {
        fill_error_obj(r, http_status, root);
    } else {
        rc = p == LLM_OPENAI ? parse_openai_completion(root, r)
                             : parse_anthropic_message(root, r);
        if (rc == 0)
            r->complete = 1;
    }
    cJSON_Delete(root);
    return rc;
}

/* ---- streaming ------------------------------------------------------ */

struct llm_stream {
    enum llm_provider p;
    struct llm_result *r;
    int fast;                   /* try the fast path first (see below) */
    unsigned long cjson_events; /* events that reached cJSON */
    struct sse_parser sse;
};

static int
malformed(struct llm_result *r, const char *what)
{
    set_error(r, r->err.http_status ? r->err.http_status : 200,
              LLM_ERR_MALFORMED, what);
    return 1;
}

/* Copy an error object from an event into r; always stops the parser. */
static int
stream_error(struct llm_result *r, const cJSON *root)
{
    int status = r->err.http_status ? r->err.http_status : 200;
    fill_error_obj(r, status, root);
    if (strcmp(r->err.type, LLM_ERR_HTTP) == 0)
        copy_str(r->err.type, sizeof r->err.type, "api_error");
    return 1;
}

/* ---- streaming fast path -------------------------------------------- */

/* Building a cJSON tree for every event was about 70% of a streamed job's
 * instructions (allocations, strtod, key lookups), for events that are
 * nearly all text deltas. So before cJSON, on_anthropic and on_openai try:
 *
 *  1. match_*: the byte layout in which the APIs (and our mock) send a text
 *     delta (and content_block_start, message_stop), matched literally; the
 *     text is decoded straight into r->text. Several times cheaper than
 *     step 2, and it is most events.
 *  2. jt_parse + tok_*: a strict scanner that records the event's JSON as a
 *     flat array of tokens on the stack (no allocation), and handlers that
 *     do over those tokens exactly what the cJSON code below them does
 *     (first-match key lookup as cJSON_GetObjectItemCaseSensitive, the same
 *     type checks, number values as strtod gives them).
 *  3. cJSON, as before.
 *
 * Steps 1 and 2 accept a strict subset of what cJSON_ParseWithLength
 * accepts, and on it store exactly what cJSON's path would. They bail out
 * (FAST_BAIL) before r has been touched on anything else: escapes in keys,
 * \u0000 or a raw NUL in a string (cJSON keeps them and strlen() cuts the
 * text there), bad escapes or lone surrogates, numbers beyond plain JSON
 * syntax or 32 bytes, whitespace other than space/tab/CR/LF, nesting deeper
 * than JT_DEPTH or more than JT_MAX tokens, anything after the object, and
 * error events. A bail is always safe; only what the fast path commits has
 * to be right. The unit tests (test_llm_fast.c) and the fuzz_sse target run
 * streams with and without it (llm_stream_set_fastpath) and compare. */

#define FAST_BAIL (-1)

/* Bytes that end the plain run of a string: the quote, an escape, and NUL
 * (a raw NUL, or the terminator sse.h guarantees at data[dlen]). */
static const unsigned char js_stop[256] = {['\0'] = 1, ['"'] = 1, ['\\'] = 1};

/* A scanned string: its raw bytes between the quotes. */
struct jspan {
    const char *s;
    size_t n;
    int esc; /* holds a backslash escape: s[0..n) is not the value */
};

static const char *
js_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

/* The js_ helpers below return the position after what they scanned, or
 * NULL when it is not there; given a NULL position they return NULL, so a
 * layout is matched by a plain sequence of calls. */

/* p past the literal lit[0..n) when it is at p, else NULL. */
static inline const char *
js_lit(const char *p, const char *end, const char *lit, size_t n)
{
    if (p == NULL || (size_t)(end - p) < n || memcmp(p, lit, n) != 0)
        return NULL;
    return p + n;
}
#define JS_LIT(p, end, lit) js_lit((p), (end), lit, sizeof(lit) - 1)

/* Four hex digits at p: their value, or -1 (stops at the first other byte,
 * so it never reads past a NUL). */
static long
js_hex4(const char *p)
{
    long v = 0;

    for (int i = 0; i < 4; i++) {
        int c = (unsigned char)p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            d = (c | 0x20) - 'a' + 10;
        else
            return -1;
        v = v << 4 | d;
    }
    return v;
}

/* Scan the string whose opening quote is at p into *out; returns p past the
 * closing quote, or NULL for what cJSON would reject or keep a NUL of. The
 * data must be NUL-terminated (sse.h): the scan stops at the terminator,
 * and p may be at the end. */
static const char *
js_str(const char *p, struct jspan *out)
{
    if (p == NULL || *p != '"')
        return NULL;
    out->s = ++p;
    out->esc = 0;
    for (;;) {
        while (!js_stop[(unsigned char)*p])
            p++;
        if (*p == '"')
            break;
        if (*p == '\0')
            return NULL;
        out->esc = 1;
        switch (p[1]) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
            p += 2;
            continue;
        case 'u':
            break;
        default:
            return NULL;
        }
        long hi = js_hex4(p + 2);
        /* \u0000 would cut the C string; a low surrogate must follow a
         * high one, as cJSON's utf16_literal_to_utf8 requires */
        if (hi <= 0 || (hi >= 0xDC00 && hi <= 0xDFFF))
            return NULL;
        p += 6;
        if (hi >= 0xD800 && hi <= 0xDBFF) {
            if (p[0] != '\\' || p[1] != 'u')
                return NULL;
            long lo = js_hex4(p + 2);
            if (lo < 0xDC00 || lo > 0xDFFF)
                return NULL;
            p += 6;
        }
    }
    out->n = (size_t)(p - out->s);
    return p + 1;
}

/* Decode the raw bytes of a string js_str accepted into out, stopping once
 * max bytes or more are written (out needs max + 3 bytes; SIZE_MAX: all).
 * Returns the bytes written. */
static size_t
js_decode(const char *s, size_t n, char *out, size_t max)
{
    const char *end = s + n;
    char *o = out;

    while (s < end && (size_t)(o - out) < max) {
        if (*s != '\\') {
            *o++ = *s++;
            continue;
        }
        char c = s[1];
        s += 2;
        switch (c) {
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'u': {
            unsigned long cp = (unsigned long)js_hex4(s);
            s += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                cp = 0x10000 + ((cp & 0x3FF) << 10 |
                                ((unsigned long)js_hex4(s + 2) & 0x3FF));
                s += 6;
            }
            if (cp < 0x80) {
                *o++ = (char)cp;
            } else if (cp < 0x800) {
                *o++ = (char)(0xC0 | cp >> 6);
                *o++ = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                *o++ = (char)(0xE0 | cp >> 12);
                *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
                *o++ = (char)(0x80 | (cp & 0x3F));
            } else {
                *o++ = (char)(0xF0 | cp >> 18);
                *o++ = (char)(0x80 | (cp >> 12 & 0x3F));
                *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
                *o++ = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default: /* '"', '\\', '/' */
            *o++ = c;
        }
    }
    return (size_t)(o - out);
}

/* The decoded length of a string js_str accepted. */
static size_t
js_decoded_len(const char *s, size_t n)
{
    const char *end = s + n;
    size_t len = 0;

    while (s < end) {
        if (*s != '\\') {
            s++;
        } else if (s[1] != 'u') {
            s += 2;
        } else {
            long cp = js_hex4(s + 2);
            s += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                s += 6;
                len += 3;
            } else {
                len += cp < 0x80 ? 0 : cp < 0x800 ? 1 : 2;
            }
        }
        len++;
    }
    return len;
}

/* add_text() of the decoded string: the same cap, the same errors. Returns
 * 0, or 1 when add_text failed (the event callback's "stop"). Can't bail. */
static int
add_text_json(struct llm_result *r, const struct jspan *t)
{
    if (!t->esc)
        return add_text(r, t->s, t->n) != 0;
    size_t old = r->text.len, n = js_decoded_len(t->s, t->n);
    /* Append n raw bytes (n <= t->n) to get room and the cap check, then
     * decode over them. */
    if (add_text(r, t->s, n) != 0)
        return 1;
    js_decode(t->s, t->n, r->text.data + old, (size_t)-1);
    return 0;
}

/* 1..18 digits at p: returns p past them, or NULL. */
static const char *
js_digits(const char *p, const char *end)
{
    const char *d = p;

    if (p == NULL)
        return NULL;
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    return p > d && p - d <= 18 ? p : NULL;
}

/* ---- 1. the usual layout of a text delta ---------------------------- */

/* {"type":"content_block_delta","index":N,"delta":{"type":"text_delta",
 * "text":S}} or, when start is set, {"type":"content_block_start","index":N,
 * "content_block":{"type":"text","text":S}}, byte for byte, nothing after:
 * fills *text, returns 0. */
static int
match_anthropic_text(const char *data, size_t dlen, int start,
                     struct jspan *text)
{
    const char *p, *end = data + dlen;

    if (start) {
        p = JS_LIT(data, end, "{\"type\":\"content_block_start\",\"index\":");
        p = js_digits(p, end);
        p = JS_LIT(p, end, ",\"content_block\":{\"type\":\"text\",\"text\":");
    } else {
        p = JS_LIT(data, end, "{\"type\":\"content_block_delta\",\"index\":");
        p = js_digits(p, end);
        p = JS_LIT(p, end, ",\"delta\":{\"type\":\"text_delta\",\"text\":");
    }
    p = js_str(p, text);
    p = JS_LIT(p, end, "}}");
    return p == end ? 0 : FAST_BAIL;
}

/* {"id":S,"object":S,"created":N,"model":S[,"system_fingerprint":S|null],
 * "choices":[{"index":0,"delta":{"content":T},"logprobs":null,
 * "finish_reason":null}][,"usage":null]}, once r holds an id and a model
 * (on_openai keeps the first): fills *text, returns 0. */
static int
match_openai_delta(const struct llm_result *r, const char *data, size_t dlen,
                   struct jspan *text)
{
    const char *p, *q, *end = data + dlen;
    struct jspan s;

    if (r->id[0] == '\0' || r->model[0] == '\0')
        return FAST_BAIL;
    p = JS_LIT(data, end, "{\"id\":");
    p = js_str(p, &s);
    p = JS_LIT(p, end, ",\"object\":");
    p = js_str(p, &s);
    p = JS_LIT(p, end, ",\"created\":");
    p = js_digits(p, end);
    p = JS_LIT(p, end, ",\"model\":");
    p = js_str(p, &s);
    q = JS_LIT(p, end, ",\"system_fingerprint\":");
    if (q != NULL) {
        p = JS_LIT(q, end, "null");
        if (p == NULL)
            p = js_str(q, &s);
    }
    p = JS_LIT(p, end, ",\"choices\":[{\"index\":0,\"delta\":{\"content\":");
    p = js_str(p, text);
    p = JS_LIT(p, end, "},\"logprobs\":null,\"finish_reason\":null}]");
    q = JS_LIT(p, end, ",\"usage\":null");
    if (q != NULL)
        p = q;
    p = JS_LIT(p, end, "}");
    return p == end ? 0 : FAST_BAIL;
}

/* ---- 2. flat tokens ------------------------------------------------- */

#define JT_MAX   128 /* tokens per event (message_start has about 30) */
#define JT_DEPTH 8   /* nesting */
#define JT_NUM   32  /* bytes per number */

enum jt_type { JT_OBJECT, JT_ARRAY, JT_STRING, JT_NUMBER, JT_LITERAL };

/* One value, or one key (a JT_STRING followed by its value). */
struct jtok {
    const char *s;       /* string: raw bytes between the quotes; number and
                            literal: its text */
    size_t len;          /* bytes at s */
    unsigned short next; /* index of the token after this value and all of
                            its members (an object's keys included) */
    unsigned char type;  /* enum jt_type */
    unsigned char esc;   /* string: holds escapes */
};

struct jdoc {
    const char *end;
    int n, depth;
    struct jtok t[JT_MAX];
};

/* A number of plain JSON syntax, at most JT_NUM bytes: strtod takes all of
 * it, as in cJSON's parse_number. Returns p past it, or NULL. */
static const char *
js_number(const char *p, const char *end)
{
    const char *s = p, *d;

    if (p < end && *p == '-')
        p++;
    p = js_digits(p, end);
    if (p == NULL)
        return NULL;
    if (p < end && *p == '.') {
        d = ++p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == d)
            return NULL;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        d = p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == d)
            return NULL;
    }
    return p - s <= JT_NUM ? p : NULL;
}

/* The scanner recurses into objects and arrays; the depth is bounded
 * (JT_DEPTH), deeper input goes to cJSON. */
/* NOLINTBEGIN(misc-no-recursion) */
static const char *jt_value(struct jdoc *d, const char *p);

/* The members (obj) or elements after an opening bracket. */
static const char *
jt_items(struct jdoc *d, const char *p, int obj)
{
    const char *end = d->end;
    char close = obj ? '}' : ']';
    struct jspan k;

    p = js_ws(p, end);
    if (p < end && *p == close)
        return p + 1;
    for (;;) {
        if (obj) {
            /* keys are compared raw, so none may hold an escape */
            p = d->n < JT_MAX ? js_str(p, &k) : NULL;
            if (p == NULL || k.esc)
                return NULL;
            struct jtok *t = &d->t[d->n++];
            t->s = k.s;
            t->len = k.n;
            t->type = JT_STRING;
            t->esc = 0;
            t->next = (unsigned short)d->n;
            p = js_ws(p, end);
            if (p == end || *p != ':')
                return NULL;
            p = js_ws(p + 1, end);
        }
        p = jt_value(d, p);
        if (p == NULL)
            return NULL;
        p = js_ws(p, end);
        if (p < end && *p == ',') {
            p = js_ws(p + 1, end);
            continue;
        }
        return p < end && *p == close ? p + 1 : NULL;
    }
}

static const char *
jt_value(struct jdoc *d, const char *p)
{
    const char *end = d->end;
    struct jspan sp;

    if (p == end || d->n == JT_MAX)
        return NULL;
    int i = d->n++, obj = *p == '{';
    d->t[i].s = p;
    d->t[i].len = 0;
    d->t[i].esc = 0;
    switch (*p) {
    case '"':
        p = js_str(p, &sp);
        if (p == NULL)
            return NULL;
        d->t[i].type = JT_STRING;
        d->t[i].s = sp.s;
        d->t[i].len = sp.n;
        d->t[i].esc = (unsigned char)sp.esc;
        break;
    case '{':
    case '[':
        if (d->depth == JT_DEPTH)
            return NULL;
        d->depth++;
        d->t[i].type = obj ? JT_OBJECT : JT_ARRAY;
        p = jt_items(d, p + 1, obj);
        if (p == NULL)
            return NULL;
        d->depth--;
        break;
    case 't':
        p = JS_LIT(p, end, "true");
        d->t[i].type = JT_LITERAL;
        break;
    case 'f':
        p = JS_LIT(p, end, "false");
        d->t[i].type = JT_LITERAL;
        break;
    case 'n':
        p = JS_LIT(p, end, "null");
        d->t[i].type = JT_LITERAL;
        break;
    default:
        p = js_number(p, end);
        d->t[i].type = JT_NUMBER;
    }
    if (p == NULL)
        return NULL;
    if (d->t[i].type >= JT_NUMBER)
        d->t[i].len = (size_t)(p - d->t[i].s);
    d->t[i].next = (unsigned short)d->n;
    return p;
}
/* NOLINTEND(misc-no-recursion) */

/* Tokenise data[0..dlen) (NUL-terminated) into d: one object and nothing
 * after it but whitespace. Returns 0 or FAST_BAIL. */
static int
jt_parse(struct jdoc *d, const char *data, size_t dlen)
{
    const char *p;

    d->end = data + dlen;
    d->n = 0;
    d->depth = 0;
    p = js_ws(data, d->end);
    p = p < d->end && *p == '{' ? jt_value(d, p) : NULL;
    if (p == NULL || js_ws(p, d->end) != d->end)
        return FAST_BAIL;
    return 0;
}

/* As cJSON_GetObjectItemCaseSensitive(o, key): the value of o's first
 * member named key, or -1 (also when o is -1 or no object). */
static int
jt_get(const struct jdoc *d, int o, const char *key, size_t n)
{
    if (o < 0 || d->t[o].type != JT_OBJECT)
        return -1;
    for (int i = o + 1; i < d->t[o].next; i = d->t[i + 1].next)
        if (d->t[i].len == n && memcmp(d->t[i].s, key, n) == 0)
            return i + 1;
    return -1;
}
#define JT_GET(d, o, lit) jt_get((d), (o), lit, sizeof(lit) - 1)

static int
jt_is(const struct jdoc *d, int i, enum jt_type type)
{
    return i >= 0 && d->t[i].type == type;
}

/* Decode string token i into buf (cap + 3 bytes), stopping once cap bytes
 * or more are written; returns the length written. */
static size_t
jt_decode(const struct jdoc *d, int i, char *buf, size_t cap)
{
    const struct jtok *t = &d->t[i];

    if (!t->esc) {
        size_t n = t->len < cap ? t->len : cap;
        memcpy(buf, t->s, n);
        return n;
    }
    return js_decode(t->s, t->len, buf, cap);
}

/* jstr(i) is lit: i is a string whose decoded value equals lit[0..n). */
static int
jt_str_is(const struct jdoc *d, int i, const char *lit, size_t n)
{
    char buf[64];

    if (!jt_is(d, i, JT_STRING))
        return 0;
    if (!d->t[i].esc)
        return d->t[i].len == n && memcmp(d->t[i].s, lit, n) == 0;
    return jt_decode(d, i, buf, n + 1) == n && memcmp(buf, lit, n) == 0;
}
#define JT_STR_IS(d, i, lit) jt_str_is((d), (i), lit, sizeof(lit) - 1)

/* copy_str(dst, cap, jstr(i)): copy_n reads no more than cap bytes of its
 * source, so decoding that much is enough. cap <= 512. */
static void
jt_copy(const struct jdoc *d, int i, char *dst, size_t cap)
{
    char buf[512 + 3];
    size_t n;

    if (!jt_is(d, i, JT_STRING)) {
        copy_n(dst, cap, "", 0);
    } else if (!d->t[i].esc) {
        copy_n(dst, cap, d->t[i].s, d->t[i].len);
    } else {
        n = jt_decode(d, i, buf, cap);
        copy_n(dst, cap, buf, n);
    }
}

/* The valuedouble cJSON gives number token i: strtod of its text with the
 * locale's decimal point, as parse_number does; plain integers directly. */
static double
jt_number(const struct jdoc *d, int i)
{
    const struct jtok *t = &d->t[i];
    char buf[JT_NUM + 1];
    unsigned long v = 0;
    size_t k;

    for (k = 0; k < t->len && t->s[k] >= '0' && t->s[k] <= '9'; k++)
        v = v * 10 + (unsigned long)(t->s[k] - '0');
    if (k == t->len && k <= 15)
        return (double)v;
    char point = localeconv()->decimal_point[0];
    for (k = 0; k < t->len; k++) {
        if (t->s[k] == '.')
            buf[k] = point;
        else
            buf[k] = t->s[k];
    }
    buf[k] = '\0';
    return strtod(buf, NULL);
}

/* jlong() over a token. */
static void
jt_long(const struct jdoc *d, int i, long *out)
{
    if (jt_is(d, i, JT_NUMBER)) {
        double v = jt_number(d, i);
        if (v >= 0 && v < 9e15)
            *out = (long)v;
    }
}

/* ---- streaming events ----------------------------------------------- */

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
anth_event_kind(const char *name, size_t n)
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

/* on_anthropic's cJSON code over the tokens of data (keep the two in step).
 * named: the event had a name, whose kind is kind. Returns its result, or
 * FAST_BAIL (before touching r) when data does not scan or is an error. */
static int
tok_anthropic(struct llm_result *r, const char *data, size_t dlen, int named,
              enum anth_event kind)
{
    struct jdoc doc, *d = &doc;

    if (jt_parse(d, data, dlen) != 0)
        return FAST_BAIL;
    if (!named) {
        int ty = JT_GET(d, 0, "type");
        char name[32 + 3];
        kind = jt_is(d, ty, JT_STRING)
                   ? anth_event_kind(name, jt_decode(d, ty, name, 32))
                   : AEV_OTHER;
    }
    switch (kind) {
    case AEV_OTHER:
        return 0;
    case AEV_ERROR:
        return FAST_BAIL;
    case AEV_MESSAGE_START: {
        int m = JT_GET(d, 0, "message");
        int u = JT_GET(d, m, "usage");
        jt_copy(d, JT_GET(d, m, "id"), r->id, sizeof r->id);
        jt_copy(d, JT_GET(d, m, "model"), r->model, sizeof r->model);
        jt_long(d, JT_GET(d, u, "input_tokens"), &r->input_tokens);
        jt_long(d, JT_GET(d, u, "output_tokens"), &r->output_tokens);
        jt_long(d, JT_GET(d, u, "cache_creation_input_tokens"),
                &r->cache_creation_input_tokens);
        jt_long(d, JT_GET(d, u, "cache_read_input_tokens"),
                &r->cache_read_input_tokens);
        return 0;
    }
    case AEV_BLOCK_START: {
        int b = JT_GET(d, 0, "content_block");
        int t = JT_GET(d, b, "text");
        if (JT_STR_IS(d, JT_GET(d, b, "type"), "text") &&
            jt_is(d, t, JT_STRING)) {
            struct jspan sp = {d->t[t].s, d->t[t].len, d->t[t].esc};
            return add_text_json(r, &sp);
        }
        return 0;
    }
    case AEV_BLOCK_DELTA: {
        int dl = JT_GET(d, 0, "delta");
        int t = JT_GET(d, dl, "text");
        if (!JT_STR_IS(d, JT_GET(d, dl, "type"), "text_delta"))
            return 0;
        if (!jt_is(d, t, JT_STRING))
            return malformed(r, "text_delta without text");
        struct jspan sp = {d->t[t].s, d->t[t].len, d->t[t].esc};
        return add_text_json(r, &sp);
    }
    case AEV_MESSAGE_DELTA: {
        int dl = JT_GET(d, 0, "delta");
        int u = JT_GET(d, 0, "usage");
        int sr = JT_GET(d, dl, "stop_reason");
        int ss = JT_GET(d, dl, "stop_sequence");
        if (jt_is(d, sr, JT_STRING))
            jt_copy(d, sr, r->stop_reason, sizeof r->stop_reason);
        if (jt_is(d, ss, JT_STRING))
            jt_copy(d, ss, r->stop_sequence, sizeof r->stop_sequence);
        jt_long(d, JT_GET(d, u, "output_tokens"), &r->output_tokens);
        jt_long(d, JT_GET(d, u, "input_tokens"), &r->input_tokens);
        jt_long(d, JT_GET(d, u, "cache_creation_input_tokens"),
                &r->cache_creation_input_tokens);
        jt_long(d, JT_GET(d, u, "cache_read_input_tokens"),
                &r->cache_read_input_tokens);
        return 0;
    }
    case AEV_MESSAGE_STOP:
        r->complete = 1;
        return 0;
    }
    return 0;
}

/* on_openai's cJSON code over the tokens of data (keep the two in step).
 * Returns its result, or FAST_BAIL (before touching r) when data does not
 * scan or is an error chunk. */
static int
tok_openai(struct llm_result *r, const char *data, size_t dlen)
{
    struct jdoc doc, *d = &doc;
    int err, rc = 0;

    if (jt_parse(d, data, dlen) != 0)
        return FAST_BAIL;
    err = JT_GET(d, 0, "error");
    if (err >= 0 && !(d->t[err].type == JT_LITERAL && d->t[err].s[0] == 'n'))
        return FAST_BAIL; /* not null: stream_error() */
    if (r->id[0] == '\0')
        jt_copy(d, JT_GET(d, 0, "id"), r->id, sizeof r->id);
    if (r->model[0] == '\0')
        jt_copy(d, JT_GET(d, 0, "model"), r->model, sizeof r->model);
    /* cJSON_ArrayForEach walks an object's members as well */
    int cs = JT_GET(d, 0, "choices");
    int is_obj = jt_is(d, cs, JT_OBJECT);
    int end = cs >= 0 ? d->t[cs].next : 0;
    if (!is_obj && !jt_is(d, cs, JT_ARRAY))
        end = 0;
    for (int i = cs + 1; i < end; i = d->t[i + is_obj].next) {
        int c = i + is_obj;
        int idx = JT_GET(d, c, "index");
        if (jt_is(d, idx, JT_NUMBER) && jt_number(d, idx) != 0)
            continue; /* we ask for one choice */
        int t = JT_GET(d, JT_GET(d, c, "delta"), "content");
        int fr = JT_GET(d, c, "finish_reason");
        if (jt_is(d, t, JT_STRING)) {
            struct jspan sp = {d->t[t].s, d->t[t].len, d->t[t].esc};
            if (add_text_json(r, &sp) != 0) {
                rc = 1;
                break;
            }
        }
        if (jt_is(d, fr, JT_STRING))
            jt_copy(d, fr, r->stop_reason, sizeof r->stop_reason);
    }
    int u = JT_GET(d, 0, "usage");
    if (jt_is(d, u, JT_OBJECT)) { /* openai_usage() */
        jt_long(d, JT_GET(d, u, "prompt_tokens"), &r->input_tokens);
        jt_long(d, JT_GET(d, u, "completion_tokens"), &r->output_tokens);
        jt_long(
            d,
            JT_GET(d, JT_GET(d, u, "prompt_tokens_details"), "cached_tokens"),
            &r->cache_read_input_tokens);
    }
    return rc;
}

/* on_anthropic's cJSON path (step 3): kind is the named event's (any when
 * unnamed). */
static int
cjson_anthropic(struct llm_stream *s, int named, enum anth_event kind,
                const char *data, size_t dlen)
{
    struct llm_result *r = s->r;

    s->cjson_events++;
    cJSON *root = cJSON_ParseWithLength(data, dlen);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return malformed(r, "stream event data is not a JSON object");
    }
    if (!named) { /* unnamed: the JSON type names the event */
        const char *type = jstr(root, "type");
        kind = type != NULL ? anth_event_kind(type, strlen(type)) : AEV_OTHER;
    }
    int rc = 0;
    switch (kind) {
    case AEV_OTHER:
        break;
    case AEV_ERROR:
        rc = stream_error(r, root);
        break;
    case AEV_MESSAGE_START: {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "message");
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(m, "usage");
        copy_str(r->id, sizeof r->id, jstr(m, "id"));
        copy_str(r->model, sizeof r->model, jstr(m, "model"));
        jlong(u, "input_tokens", &r->input_tokens);
        jlong(u, "output_tokens", &r->output_tokens);
        jlong(u, "cache_creation_input_tokens",
              &r->cache_creation_input_tokens);
        jlong(u, "cache_read_input_tokens", &r->cache_read_input_tokens);
        break;
    }
    case AEV_BLOCK_START: {
        const cJSON *b =
            cJSON_GetObjectItemCaseSensitive(root, "content_block");
        const char *bt = jstr(b, "type");
        const char *t = jstr(b, "text");
        if (bt != NULL && strcmp(bt, "text") == 0 && t != NULL &&
            add_text(r, t, strlen(t)) != 0)
            rc = 1;
        break;
    }
    case AEV_BLOCK_DELTA: {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "delta");
        const char *dt = jstr(d, "type");
        const char *t = jstr(d, "text");
        /* thinking_delta, input_json_delta, ... carry no output text */
        if (dt != NULL && strcmp(dt, "text_delta") == 0) {
            if (t == NULL)
                rc = malformed(r, "text_delta without text");
            else if (add_text(r, t, strlen(t)) != 0)
                rc = 1;
        }
        break;
    }
    case AEV_MESSAGE_DELTA: {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "delta");
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(root, "usage");
        const char *sr = jstr(d, "stop_reason");
        const cJSON *ss = cJSON_GetObjectItemCaseSensitive(d, "stop_sequence");
        if (sr != NULL)
            copy_str(r->stop_reason, sizeof r->stop_reason, sr);
        if (cJSON_IsString(ss))
            copy_str(r->stop_sequence, sizeof r->stop_sequence,
                     ss->valuestring);
        /* Cumulative counts: replace, never add (llm-api.md §2). */
        jlong(u, "output_tokens", &r->output_tokens);
        jlong(u, "input_tokens", &r->input_tokens);
        jlong(u, "cache_creation_input_tokens",
              &r->cache_creation_input_tokens);
        jlong(u, "cache_read_input_tokens", &r->cache_read_input_tokens);
        break;
    }
    case AEV_MESSAGE_STOP:
        r->complete = 1;
        break;
    }
    cJSON_Delete(root);
    return rc;
}

/* Anthropic named events (llm-api.md §2). Events we do not know are ignored
 * without being parsed, as the SDKs do. An unnamed event is classified by
 * its JSON "type". */
static int
on_anthropic(struct llm_stream *s, const char *ev, size_t evlen,
             const char *data, size_t dlen)
{
    struct llm_result *r = s->r;
    enum anth_event kind = AEV_OTHER;

    if (evlen > 0) {
        kind = anth_event_kind(ev, evlen);
        if (kind == AEV_OTHER)
            return 0; /* ping, content_block_stop, new event types */
    }
    if (s->fast) { /* steps 1 and 2 (see above) */
        struct jspan t;
        /* the layout names the event when it is unnamed */
        if ((evlen == 0 || kind == AEV_BLOCK_DELTA) &&
            match_anthropic_text(data, dlen, 0, &t) == 0)
            return add_text_json(r, &t);
        if (kind == AEV_BLOCK_START &&
            match_anthropic_text(data, dlen, 1, &t) == 0)
            return add_text_json(r, &t);
        if (kind == AEV_MESSAGE_STOP &&
            JS_LIT(data, data + dlen, "{\"type\":\"message_stop\"}") ==
                data + dlen) {
            r->complete = 1;
            return 0;
        }
        int rc = tok_anthropic(r, data, dlen, evlen > 0, kind);
        if (rc != FAST_BAIL)
            return rc;
    }

    return cjson_anthropic(s, evlen > 0, kind, data, dlen);
}

/* on_openai's cJSON path (step 3). */
static int
cjson_openai(struct llm_stream *s, int named_error, const char *data,
             size_t dlen)
{
    struct llm_result *r = s->r;

    s->cjson_events++;
    cJSON *root = cJSON_ParseWithLength(data, dlen);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return malformed(r, "stream chunk is not a JSON object");
    }
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
    int rc = 0;
    if ((err != NULL && !cJSON_IsNull(err)) || named_error) {
        rc = stream_error(r, root);
        cJSON_Delete(root);
        return rc;
    }
    if (r->id[0] == '\0')
        copy_str(r->id, sizeof r->id, jstr(root, "id"));
    if (r->model[0] == '\0')
        copy_str(r->model, sizeof r->model, jstr(root, "model"));
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(root, "choices"))
    {
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(c, "index");
        if (cJSON_IsNumber(idx) && idx->valuedouble != 0)
            continue; /* we ask for one choice */
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(c, "delta");
        const char *t = jstr(d, "content");
        const char *fr = jstr(c, "finish_reason");
        if (t != NULL && add_text(r, t, strlen(t)) != 0) {
            rc = 1;
            break;
        }
        if (fr != NULL)
            copy_str(r->stop_reason, sizeof r->stop_reason, fr);
    }
    openai_usage(cJSON_GetObjectItemCaseSensitive(root, "usage"), r);
    cJSON_Delete(root);
    return rc;
}

/* OpenAI data-only chunks (llm-api.md §6). */
static int
on_openai(struct llm_stream *s, const char *ev, size_t evlen, const char *data,
          size_t dlen)
{
    struct llm_result *r = s->r;
    int named_error = evlen == 5 && memcmp(ev, "error", 5) == 0;

    if (dlen >= 6 && memcmp(data, "[DONE]", 6) == 0) {
        r->complete = 1;
        return 0;
    }
    if (s->fast && !named_error) { /* steps 1 and 2 (see above) */
        struct jspan t;
        if (match_openai_delta(r, data, dlen, &t) == 0)
            return add_text_json(r, &t);
        int rc = tok_openai(r, data, dlen);
        if (rc != FAST_BAIL)
            return rc;
    }
    return cjson_openai(s, named_error, data, dlen);
}

static int
on_event(void *ud, const char *ev, size_t evlen, const char *data, size_t dlen)
{
    struct llm_stream *s = ud;
    if (s->r->complete || s->r->failed)
        return 0; /* nothing after message_stop / [DONE] matters */
    if (s->p == LLM_OPENAI)
        return on_openai(s, ev, evlen, data, dlen);
    return on_anthropic(s, ev, evlen, data, dlen);
}

struct llm_stream *
llm_stream_new(enum llm_provider p, struct llm_result *r)
{
    struct llm_stream *s = malloc(sizeof *s);
    if (s == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    s->p = p;
    s->r = r;
    s->fast = 1;
    s->cjson_events = 0;
    sse_init(&s->sse, on_event, s, LLM_SSE_EVENT_MAX);
    if (r->err.http_status == 0)
        r->err.http_status = 200;
    return s;
}

void
llm_stream_set_fastpath(struct llm_stream *s, int enabled)
{
    s->fast = enabled != 0;
}

unsigned long
llm_stream_cjson_events(const struct llm_stream *s)
{
    return s->cjson_events;
}

int
llm_stream_feed(struct llm_stream *s, const char *buf, size_t len)
{
    struct llm_result *r = s->r;

    if (r->failed)
        return -1;
    if (s->p == LLM_NOOP)
        return 0;
    if (sse_feed(&s->sse, buf, len) == 0)
        return 0;
    if (!r->failed) {
        if (s->sse.err == SSE_ERR_NOMEM)
            set_error(r, r->err.http_status, LLM_ERR_NOMEM,
                      "out of memory parsing the stream");
        else
            set_error(r, r->err.http_status, LLM_ERR_MALFORMED,
                      sse_strerror(s->sse.err));
    }
    return -1;
}

int
llm_stream_finish(struct llm_stream *s)
{
    struct llm_result *r = s->r;

    if (r->failed)
        return -1;
    if (s->p == LLM_NOOP)
        r->complete = 1;
    if (!r->complete) {
        set_error(r, r->err.http_status, LLM_ERR_TRUNCATED,
                  s->p == LLM_OPENAI ? "stream ended before data: [DONE]"
                                     : "stream ended before message_stop");
        return -1;
    }
    return 0;
}

void
llm_stream_free(struct llm_stream *s)
{
    if (s == NULL)
        return;
    sse_free(&s->sse);
    free(s);
}
