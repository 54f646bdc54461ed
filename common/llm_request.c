/* llm_request: the JSON body of one attempt, built from a job for the
 * Anthropic Messages API or OpenAI Chat Completions (llm_build_body), with
 * the continuation prefill. */
#include "fmacros.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm.h"
#include "llm_int.h"

#define PATH_ANTHROPIC "/v1/messages"
#define PATH_OPENAI    "/v1/chat/completions"

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

/* attach() of *item, whose ownership moves to obj (*item is set to NULL).
 * A NULL *item attaches nothing. Returns 0, or -1 when out of memory. */
static int
attach_moved(cJSON *obj, const char *key, cJSON **item)
{
    cJSON *it = *item;

    *item = NULL;
    return it == NULL ? 0 : attach(obj, key, it);
}

/* obj[key] = v's value when v is a number. Returns 0, or -1 when out of
 * memory. */
static int
copy_number(cJSON *obj, const char *key, const cJSON *v)
{
    if (!cJSON_IsNumber(v))
        return 0;
    return cJSON_AddNumberToObject(obj, key, v->valuedouble) ? 0 : -1;
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
        const char *t = llm_jstr(blk, "text");
        if (t == NULL)
            continue;
        if (b->len > 0 && buf_append_str(b, "\n\n") != 0)
            return -1;
        if (buf_append_str(b, t) != 0)
            return -1;
    }
    return 0;
}

/* Append {k1: v1, k2: v2} to array arr. Returns 0, or -1 when out of
 * memory (arr unchanged). */
static int
add_pair(cJSON *arr, const char *k1, const char *v1, const char *k2,
         const char *v2)
{
    cJSON *o = cJSON_CreateObject();

    if (o != NULL && cJSON_AddStringToObject(o, k1, v1) &&
        cJSON_AddStringToObject(o, k2, v2)) {
        cJSON_AddItemToArray(arr, o);
        return 0;
    }
    cJSON_Delete(o);
    return -1;
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
    const char *role = last ? llm_jstr(last, "role") : NULL;
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
        rc = add_pair(content, "type", "text", "text", p);
    } else {
        rc = add_pair(msgs, "role", "assistant", "content", p);
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
    const char *prompt = llm_jstr(job, "prompt");
    cJSON *msgs = cJSON_CreateArray();

    if (msgs == NULL)
        goto oom;
    if (cJSON_IsArray(jm) && cJSON_GetArraySize(jm) > 0) {
        const cJSON *m;
        cJSON_ArrayForEach(m, jm)
        {
            const char *role = llm_jstr(m, "role");
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

/* Drop cache_control from the text blocks of a content array (OpenAI
 * caches by itself and knows no such field). Can't fail. */
static void
strip_cache_control(cJSON *content)
{
    cJSON *b;

    if (!cJSON_IsArray(content))
        return;
    cJSON_ArrayForEach(b, content)
    {
        cJSON_DeleteItemFromObjectCaseSensitive(b, "cache_control");
    }
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
    const char *model = llm_jstr(job, "model");
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
        cJSON *mm;
        cJSON_ArrayForEach(mm, msgs)
        {
            strip_cache_control(
                cJSON_GetObjectItemCaseSensitive(mm, "content"));
        }
        /* system first, as a role "system" turn (string or parts array) */
        if (cJSON_IsString(jsys) || cJSON_IsArray(jsys)) {
            cJSON *m = cJSON_CreateObject();
            if (m == NULL || !cJSON_AddStringToObject(m, "role", "system") ||
                attach(m, "content", cJSON_Duplicate(jsys, 1)) != 0 ||
                !cJSON_InsertItemInArray(msgs, 0, m)) {
                cJSON_Delete(m);
                goto oom;
            }
            strip_cache_control(cJSON_GetObjectItemCaseSensitive(m, "content"));
        }
        if (attach_moved(root, "messages", &msgs) != 0 ||
            !cJSON_AddNumberToObject(root, "max_tokens", max_tokens) ||
            copy_number(root, "temperature", temp) != 0 ||
            copy_number(root, "top_p", top_p) != 0 ||
            attach_moved(root, "stop", &stop) != 0)
            goto oom;
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
        if (sys.len > 0 && o->cache_system &&
            llm_cache_long_enough(sys.len, model)) {
            /* --prompt-cache system: one block with a breakpoint */
            cJSON *arr = cJSON_CreateArray(), *blk = cJSON_CreateObject();
            cJSON *cc = cJSON_CreateObject();
            if (attach(root, "system", arr) != 0 || !blk || !cc ||
                !cJSON_AddStringToObject(cc, "type", "ephemeral") ||
                !cJSON_AddStringToObject(blk, "type", "text") ||
                !cJSON_AddStringToObject(blk, "text", sys.data)) {
                cJSON_Delete(blk);
                cJSON_Delete(cc);
                goto oom;
            }
            cJSON_AddItemToArray(arr, blk);
            if (!cJSON_AddItemToObject(blk, "cache_control", cc)) {
                cJSON_Delete(cc);
                goto oom;
            }
        } else if (sys.len > 0) {
            if (!cJSON_AddStringToObject(root, "system", sys.data))
                goto oom;
        } else if (cJSON_IsArray(jsys)) {
            if (attach(root, "system", cJSON_Duplicate(jsys, 1)) != 0)
                goto oom;
        }
        if (attach_moved(root, "messages", &msgs) != 0)
            goto oom;
        /* At most one of the two: newer models reject both (llm-api.md §1). */
        if (copy_number(root, "temperature", temp) != 0 ||
            (!cJSON_IsNumber(temp) && copy_number(root, "top_p", top_p) != 0))
            goto oom;
        if (attach_moved(root, "stop_sequences", &stop) != 0)
            goto oom;
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
