/* batch_openai: the OpenAI Batch API wire format -- the multipart upload
 * of the input file, the create body, the batch object and the lines of
 * the output and error files (rate-limits-and-batches.md §3). */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "batch_wire.h"
#include "jsonw.h"

#define str_of batch_json_str /* batch_anthropic.c */
#define num_of batch_json_num

int
batch_openai_status(const cJSON *o, struct batch_status *st)
{
    const cJSON *rc = cJSON_GetObjectItemCaseSensitive(o, "request_counts");
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(o, "metadata");
    const cJSON *errs = cJSON_GetObjectItemCaseSensitive(o, "errors");
    const char *s = str_of(o, "status");
    long total = num_of(rc, "total"), ok = num_of(rc, "completed"),
         bad = num_of(rc, "failed");

    if (strcmp(str_of(o, "object"), "batch") != 0 || !*str_of(o, "id")) {
        snprintf(st->error, sizeof(st->error),
                 "not a batch object (object '%.40s')", str_of(o, "object"));
        return -1;
    }
    snprintf(st->id, sizeof(st->id), "%s", str_of(o, "id"));
    snprintf(st->state, sizeof(st->state), "%s", s);
    if (!strcmp(s, "completed") || !strcmp(s, "expired") ||
        !strcmp(s, "cancelled"))
        st->st = BPS_ENDED;
    else if (!strcmp(s, "failed"))
        st->st = BPS_FAILED;
    else
        st->st = BPS_RUNNING;
    st->counts[0] = total - ok - bad > 0 ? total - ok - bad : 0;
    st->counts[1] = ok;
    st->counts[2] = bad;
    st->created_ms = (int64_t)num_of(o, "created_at") * 1000;
    snprintf(st->output_file_id, sizeof(st->output_file_id), "%s",
             str_of(o, "output_file_id"));
    snprintf(st->error_file_id, sizeof(st->error_file_id), "%s",
             str_of(o, "error_file_id"));
    snprintf(st->marker, sizeof(st->marker), "%s", str_of(md, "genq_token"));
    if (cJSON_IsObject(errs)) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(errs, "data");
        snprintf(st->error, sizeof(st->error), "%s",
                 str_of(cJSON_GetArrayItem(d, 0), "message"));
    }
    return 0;
}

int
batch_openai_line(const cJSON *o, struct batch_line *l)
{
    const cJSON *resp = cJSON_GetObjectItemCaseSensitive(o, "response");
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(o, "error");
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(resp, "body");
    long status = num_of(resp, "status_code");

    snprintf(l->request_id, sizeof(l->request_id), "%s",
             str_of(resp, "request_id"));
    if (cJSON_IsObject(err)) {
        /* the request never ran: expired or cancelled with the batch, or
         * refused by the batch's validation */
        const char *code = str_of(err, "code");
        snprintf(l->message, sizeof(l->message), "%s", str_of(err, "message"));
        if (!strcmp(code, "batch_expired")) {
            l->kind = BR_EXPIRED;
        } else if (!strcmp(code, "batch_cancelled")) {
            l->kind = BR_CANCELED;
        } else {
            l->kind = BR_ERRORED;
            l->http_status = 400;
            snprintf(l->type, sizeof(l->type), "%s",
                     *code ? code : "invalid_request_error");
        }
        return 0;
    }
    if (!cJSON_IsObject(resp) || !cJSON_IsObject(body)) {
        snprintf(l->message, sizeof(l->message),
                 "result line without a response body");
        return -1;
    }
    if (status >= 200 && status < 300) {
        l->kind = BR_SUCCEEDED;
        l->body = cJSON_PrintUnformatted(body);
        if (!l->body) {
            snprintf(l->message, sizeof(l->message), "out of memory");
            return -1;
        }
        return 0;
    }
    {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(body, "error");
        const char *code = str_of(e, "code");
        l->kind = BR_ERRORED;
        l->http_status = (int)status;
        snprintf(l->type, sizeof(l->type), "%s",
                 *code ? code : str_of(e, "type"));
        snprintf(l->message, sizeof(l->message), "%s", str_of(e, "message"));
    }
    return 0;
}

int
batch_openai_upload(struct buf *b, const char *boundary, const char *token,
                    const char *data, size_t len)
{
    char head[512];
    int bad = 0;

    snprintf(head, sizeof(head),
             "--%s\r\nContent-Disposition: form-data; name=\"purpose\"\r\n"
             "\r\nbatch\r\n--%s\r\nContent-Disposition: form-data; "
             "name=\"file\"; filename=\"genq-%s.jsonl\"\r\nContent-Type: "
             "application/jsonl\r\n\r\n",
             boundary, boundary, token);
    bad |= buf_append_str(b, head) < 0;
    bad |= buf_append(b, data, len) < 0;
    snprintf(head, sizeof(head), "\r\n--%s--\r\n", boundary);
    bad |= buf_append_str(b, head) < 0;
    return bad ? -1 : 0;
}

char *
batch_openai_create_body(const char *file_id, const char *token)
{
    struct buf b;
    int bad = 0;

    buf_init(&b, 0);
    bad |= buf_append_str(&b, "{\"input_file_id\":") < 0;
    bad |= jsonw_str(&b, file_id, strlen(file_id)) < 0;
    bad |= buf_append_str(&b, ",\"endpoint\":\"/v1/chat/completions\","
                              "\"completion_window\":\"24h\",\"metadata\":"
                              "{\"genq_token\":") < 0;
    bad |= jsonw_str(&b, token, strlen(token)) < 0;
    bad |= buf_append_str(&b, "}}") < 0;
    if (bad) {
        buf_free(&b);
        return NULL;
    }
    return buf_detach(&b, NULL);
}

int
batch_openai_file_id(const char *json, size_t len, char *id, size_t n)
{
    cJSON *o = cJSON_ParseWithLength(json, len);
    const char *s = str_of(o, "id");
    int rc = *s ? 0 : -1;

    snprintf(id, n, "%s", s);
    cJSON_Delete(o);
    return rc;
}
