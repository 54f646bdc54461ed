/* batch_anthropic: the Anthropic Message Batches wire format (create body,
 * MessageBatch, list page, results lines), the custom_id rules, and the
 * provider switch of batch_wire.h (the OpenAI side: batch_openai.c). */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "batch_wire.h"
#include "jsonw.h"
#include "timefmt.h"

int
batch_cid_valid(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > BATCH_CID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

void
batch_cid(char out[BATCH_CID_MAX + 1], const char *token, const char *job_id,
          long index)
{
    int n = snprintf(out, BATCH_CID_MAX + 1, "%.8s_%s", token, job_id);

    if (n < 0 || n > BATCH_CID_MAX || !batch_cid_valid(out))
        snprintf(out, BATCH_CID_MAX + 1, "%.8s_n%ld", token, index);
}

const char *
batch_json_str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : "";
}

long
batch_json_num(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? (long)v->valuedouble : 0;
}

#define str_of batch_json_str
#define num_of batch_json_num

static int
anthropic_status(const cJSON *o, struct batch_status *st)
{
    static const char *const names[5] = {"processing", "succeeded", "errored",
                                         "canceled", "expired"};
    const cJSON *rc = cJSON_GetObjectItemCaseSensitive(o, "request_counts");
    const char *ps = str_of(o, "processing_status");

    if (strcmp(str_of(o, "type"), "message_batch") != 0 || !*str_of(o, "id")) {
        snprintf(st->error, sizeof(st->error),
                 "not a message_batch object (type '%.40s')",
                 str_of(o, "type"));
        return -1;
    }
    snprintf(st->id, sizeof(st->id), "%s", str_of(o, "id"));
    snprintf(st->state, sizeof(st->state), "%s", ps);
    st->st = strcmp(ps, "ended") == 0 ? BPS_ENDED : BPS_RUNNING;
    for (int i = 0; i < 5; i++)
        st->counts[i] = num_of(rc, names[i]);
    if (timefmt_rfc3339_parse(str_of(o, "created_at"), &st->created_ms) < 0)
        st->created_ms = 0;
    snprintf(st->results_url, sizeof(st->results_url), "%s",
             str_of(o, "results_url"));
    return 0;
}

int
batch_status_parse(enum llm_provider p, const char *json, size_t len,
                   struct batch_status *st)
{
    cJSON *o = cJSON_ParseWithLength(json, len);
    int rc;

    memset(st, 0, sizeof(*st));
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        snprintf(st->error, sizeof(st->error), "batch object is not JSON");
        return -1;
    }
    rc = p == LLM_OPENAI ? batch_openai_status(o, st) : anthropic_status(o, st);
    cJSON_Delete(o);
    return rc;
}

int
batch_list_parse(enum llm_provider p, const char *json, size_t len,
                 batch_list_fn fn, void *ud, int *has_more, char *last_id,
                 size_t n)
{
    cJSON *o = cJSON_ParseWithLength(json, len);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(o, "data"), *e;
    struct batch_status st;

    *has_more = 0;
    if (n)
        last_id[0] = '\0';
    if (!cJSON_IsArray(data)) {
        cJSON_Delete(o);
        return -1;
    }
    cJSON_ArrayForEach(e, data)
    {
        memset(&st, 0, sizeof(st));
        if ((p == LLM_OPENAI ? batch_openai_status(e, &st)
                             : anthropic_status(e, &st)) < 0)
            continue;
        if (n)
            snprintf(last_id, n, "%s", st.id);
        if (fn(&st, ud))
            break;
    }
    *has_more = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "has_more"));
    cJSON_Delete(o);
    return 0;
}

int
batch_body_open(enum llm_provider p, struct buf *b)
{
    return p == LLM_OPENAI ? 0 : buf_append_str(b, "{\"requests\":[");
}

int
batch_body_close(enum llm_provider p, struct buf *b)
{
    return p == LLM_OPENAI ? 0 : buf_append_str(b, "]}");
}

int
batch_entry_append(enum llm_provider p, struct buf *b, int first,
                   const char *cid, const char *params, size_t plen)
{
    int bad = 0;

    if (p == LLM_OPENAI) {
        bad |= buf_append_str(b, "{\"custom_id\":") < 0;
        bad |= jsonw_str(b, cid, strlen(cid)) < 0;
        bad |= buf_append_str(b, ",\"method\":\"POST\",\"url\":"
                                 "\"/v1/chat/completions\",\"body\":") < 0;
        bad |= buf_append(b, params, plen) < 0;
        bad |= buf_append_str(b, "}\n") < 0;
        return bad ? -1 : 0;
    }
    bad |=
        buf_append_str(b, first ? "{\"custom_id\":" : ",{\"custom_id\":") < 0;
    bad |= jsonw_str(b, cid, strlen(cid)) < 0;
    bad |= buf_append_str(b, ",\"params\":") < 0;
    bad |= buf_append(b, params, plen) < 0;
    bad |= buf_append_str(b, "}") < 0;
    return bad ? -1 : 0;
}

/* The error of an errored entry: {"type":"error","error":{type,message},
 * "request_id"} (two nested "error" keys, llm-api.md §5). */
static void
anthropic_error(const cJSON *err, struct batch_line *l)
{
    const cJSON *inner = cJSON_GetObjectItemCaseSensitive(err, "error");

    snprintf(l->type, sizeof(l->type), "%s", str_of(inner, "type"));
    snprintf(l->message, sizeof(l->message), "%s", str_of(inner, "message"));
    snprintf(l->request_id, sizeof(l->request_id), "%s",
             str_of(err, "request_id"));
    /* the entry has no status of its own: the status its type maps to */
    if (!strcmp(l->type, "invalid_request_error"))
        l->http_status = 400;
    else if (!strcmp(l->type, "not_found_error"))
        l->http_status = 404;
    else if (!strcmp(l->type, "overloaded_error"))
        l->http_status = 529;
    else if (!strcmp(l->type, "rate_limit_error"))
        l->http_status = 429;
    else
        l->http_status = 500;
}

static int
anthropic_line(const cJSON *o, struct batch_line *l)
{
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(o, "result");
    const char *t = str_of(res, "type");

    if (!strcmp(t, "succeeded")) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(res, "message");
        if (!cJSON_IsObject(m)) {
            snprintf(l->message, sizeof(l->message),
                     "succeeded result without a message");
            return -1;
        }
        l->kind = BR_SUCCEEDED;
        l->body = cJSON_PrintUnformatted(m);
        if (!l->body) {
            snprintf(l->message, sizeof(l->message), "out of memory");
            return -1;
        }
        return 0;
    }
    if (!strcmp(t, "errored")) {
        l->kind = BR_ERRORED;
        anthropic_error(cJSON_GetObjectItemCaseSensitive(res, "error"), l);
        return 0;
    }
    if (!strcmp(t, "canceled") || !strcmp(t, "expired")) {
        l->kind = t[0] == 'c' ? BR_CANCELED : BR_EXPIRED;
        snprintf(l->message, sizeof(l->message), "batch entry %s", t);
        return 0;
    }
    snprintf(l->message, sizeof(l->message), "unknown result type '%.40s'", t);
    return -1;
}

int
batch_line_parse(enum llm_provider p, const char *line, size_t len,
                 struct batch_line *l)
{
    cJSON *o = cJSON_ParseWithLength(line, len);
    const char *cid;
    int rc;

    memset(l, 0, sizeof(*l));
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        snprintf(l->message, sizeof(l->message), "result line is not JSON");
        return -1;
    }
    cid = str_of(o, "custom_id");
    if (!batch_cid_valid(cid)) {
        cJSON_Delete(o);
        snprintf(l->message, sizeof(l->message),
                 "result line without a valid custom_id");
        return -1;
    }
    snprintf(l->cid, sizeof(l->cid), "%s", cid);
    rc = p == LLM_OPENAI ? batch_openai_line(o, l) : anthropic_line(o, l);
    cJSON_Delete(o);
    return rc;
}

void
batch_line_free(struct batch_line *l)
{
    if (l->body)
        cJSON_free(l->body);
    l->body = NULL;
}
