/* llm: request bodies and response parsing for the Anthropic Messages API
 * and OpenAI Chat Completions, plain and streaming (see llm.h, llm-api.md). */
#include "fmacros.h"

#include <errno.h>
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

/* Append output text; a failure marks the result failed. */
static int
add_text(struct llm_result *r, const char *s, size_t n)
{
    if (n == 0)
        return 0;
    if (buf_append(&r->text, s, n) != 0) {
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

static int
name_is(const char *ev, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(ev, lit, n) == 0;
}

/* Anthropic named events (llm-api.md §2). Events we do not know are ignored
 * without being parsed, as the SDKs do. */
static int
on_anthropic(struct llm_result *r, const char *ev, size_t evlen,
             const char *data, size_t dlen)
{
    static const char *const known[] = {
        "message_start", "content_block_start", "content_block_delta",
        "message_delta", "message_stop",        "error"};
    int is_known = evlen == 0; /* unnamed: decide by the JSON "type" */

    for (size_t i = 0; !is_known && i < sizeof known / sizeof known[0]; i++)
        is_known = name_is(ev, evlen, known[i]);
    if (!is_known)
        return 0; /* ping, content_block_stop, new event types */

    cJSON *root = cJSON_ParseWithLength(data, dlen);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return malformed(r, "stream event data is not a JSON object");
    }
    const char *type = jstr(root, "type");
    const char *name = type; /* unnamed events use the JSON type */
    char evname[32];
    if (evlen > 0) {
        copy_n(evname, sizeof evname, ev, evlen);
        name = evname;
    }
    int rc = 0;
    if (name == NULL) {
        rc = 0;
    } else if (strcmp(name, "error") == 0) {
        rc = stream_error(r, root);
    } else if (strcmp(name, "message_start") == 0) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "message");
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(m, "usage");
        copy_str(r->id, sizeof r->id, jstr(m, "id"));
        copy_str(r->model, sizeof r->model, jstr(m, "model"));
        jlong(u, "input_tokens", &r->input_tokens);
        jlong(u, "output_tokens", &r->output_tokens);
        jlong(u, "cache_creation_input_tokens",
              &r->cache_creation_input_tokens);
        jlong(u, "cache_read_input_tokens", &r->cache_read_input_tokens);
    } else if (strcmp(name, "content_block_start") == 0) {
        const cJSON *b =
            cJSON_GetObjectItemCaseSensitive(root, "content_block");
        const char *bt = jstr(b, "type");
        const char *t = jstr(b, "text");
        if (bt != NULL && strcmp(bt, "text") == 0 && t != NULL &&
            add_text(r, t, strlen(t)) != 0)
            rc = 1;
    } else if (strcmp(name, "content_block_delta") == 0) {
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
    } else if (strcmp(name, "message_delta") == 0) {
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
    } else if (strcmp(name, "message_stop") == 0) {
        r->complete = 1;
    }
    cJSON_Delete(root);
    return rc;
}

/* OpenAI data-only chunks (llm-api.md §6). */
static int
on_openai(struct llm_result *r, const char *ev, size_t evlen, const char *data,
          size_t dlen)
{
    if (dlen >= 6 && memcmp(data, "[DONE]", 6) == 0) {
        r->complete = 1;
        return 0;
    }
    cJSON *root = cJSON_ParseWithLength(data, dlen);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return malformed(r, "stream chunk is not a JSON object");
    }
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
    int rc = 0;
    if ((err != NULL && !cJSON_IsNull(err)) || name_is(ev, evlen, "error")) {
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

static int
on_event(void *ud, const char *ev, size_t evlen, const char *data, size_t dlen)
{
    struct llm_stream *s = ud;
    if (s->r->complete || s->r->failed)
        return 0; /* nothing after message_stop / [DONE] matters */
    if (s->p == LLM_OPENAI)
        return on_openai(s->r, ev, evlen, data, dlen);
    return on_anthropic(s->r, ev, evlen, data, dlen);
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
    sse_init(&s->sse, on_event, s, LLM_SSE_EVENT_MAX);
    if (r->err.http_status == 0)
        r->err.http_status = 200;
    return s;
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
