/* Mock LLM server: the batch APIs' wire format (see mock_batch.h). */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mock_batch.h"

/* ^[a-zA-Z0-9_-]{1,64}$ */
static int
cid_ok(const char *s)
{
    size_t n = strlen(s);

    return n >= 1 && n <= 64 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789_-") == n;
}

enum mock_bkind
mock_batch_marker(const cJSON *params, long *times)
{
    static const struct {
        const char *name;
        enum mock_bkind k;
    } kinds[] = {{"errored_retry", MB_ERRORED_RETRY},
                 {"errored", MB_ERRORED},
                 {"expired", MB_EXPIRED},
                 {"canceled", MB_CANCELED}};
    char *s = cJSON_PrintUnformatted(params);
    const char *m;
    enum mock_bkind k = MB_OK;

    *times = 0;
    if (!s)
        return MB_OK;
    m = strstr(s, "[mock:batch=");
    if (m) {
        m += 12;
        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
            size_t n = strlen(kinds[i].name);
            if (!strncmp(m, kinds[i].name, n) && (m[n] == ']' || m[n] == '*')) {
                k = kinds[i].k;
                if (m[n] == '*')
                    *times = strtol(m + n + 1, NULL, 10);
                break;
            }
        }
    }
    cJSON_free(s);
    return k;
}

void
mock_batch_entries_free(struct mock_bentry *e, size_t n)
{
    for (size_t i = 0; e && i < n; i++) {
        free(e[i].cid);
        cJSON_Delete(e[i].params);
    }
    free(e);
}

/* Append entry (cid, params) to *out, checking the id. */
static int
add_entry(struct mock_bentry **out, size_t *n, const cJSON *cid,
          const cJSON *params, size_t idx, char *err, size_t errlen)
{
    struct mock_bentry *ne;

    if (!cJSON_IsString(cid) || !cid_ok(cid->valuestring)) {
        snprintf(err, errlen,
                 "requests.%zu.custom_id: must match ^[a-zA-Z0-9_-]{1,64}$",
                 idx);
        return -1;
    }
    if (!cJSON_IsObject(params)) {
        snprintf(err, errlen, "requests.%zu.params: must be an object", idx);
        return -1;
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(params, "stream"))) {
        snprintf(err, errlen,
                 "requests.%zu.params.stream: streaming is not supported in "
                 "batches",
                 idx);
        return -1;
    }
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*out)[i].cid, cid->valuestring)) {
            snprintf(err, errlen,
                     "requests.%zu.custom_id: '%.64s' is not unique", idx,
                     cid->valuestring);
            return -1;
        }
    ne = realloc(*out, (*n + 1) * sizeof(*ne));
    if (!ne) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *out = ne;
    ne[*n].cid = strdup(cid->valuestring);
    ne[*n].params = cJSON_Duplicate(params, 1);
    (*n)++;
    if (!ne[*n - 1].cid || !ne[*n - 1].params) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int
mock_batch_parse_anthropic(const cJSON *body, struct mock_bentry **out,
                           size_t *n, char *err, size_t errlen)
{
    const cJSON *reqs = cJSON_GetObjectItemCaseSensitive(body, "requests"), *r;
    size_t i = 0;

    *out = NULL;
    *n = 0;
    if (!cJSON_IsArray(reqs) || cJSON_GetArraySize(reqs) == 0) {
        snprintf(err, errlen, "requests: a non-empty array is required");
        return -1;
    }
    if (cJSON_GetArraySize(reqs) > 100000) {
        snprintf(err, errlen, "requests: at most 100000 requests");
        return -1;
    }
    cJSON_ArrayForEach(r, reqs)
    {
        if (add_entry(out, n, cJSON_GetObjectItemCaseSensitive(r, "custom_id"),
                      cJSON_GetObjectItemCaseSensitive(r, "params"), i++, err,
                      errlen) < 0)
            return -1;
    }
    return 0;
}

int
mock_batch_parse_openai(const char *data, size_t len, struct mock_bentry **out,
                        size_t *n, char *err, size_t errlen)
{
    size_t i = 0, idx = 0;

    *out = NULL;
    *n = 0;
    while (i < len) {
        const char *nl = memchr(data + i, '\n', len - i);
        size_t l = nl ? (size_t)(nl - (data + i)) : len - i;
        cJSON *o;
        const cJSON *url, *method;
        if (l > 0) {
            o = cJSON_ParseWithLength(data + i, l);
            url = cJSON_GetObjectItemCaseSensitive(o, "url");
            method = cJSON_GetObjectItemCaseSensitive(o, "method");
            if (!cJSON_IsObject(o) || !cJSON_IsString(url) ||
                strcmp(url->valuestring, "/v1/chat/completions") != 0 ||
                !cJSON_IsString(method) ||
                strcmp(method->valuestring, "POST") != 0) {
                snprintf(err, errlen,
                         "line %zu: expected {custom_id, method: POST, url: "
                         "/v1/chat/completions, body}",
                         idx + 1);
                cJSON_Delete(o);
                return -1;
            }
            if (add_entry(out, n,
                          cJSON_GetObjectItemCaseSensitive(o, "custom_id"),
                          cJSON_GetObjectItemCaseSensitive(o, "body"), idx, err,
                          errlen) < 0) {
                cJSON_Delete(o);
                return -1;
            }
            cJSON_Delete(o);
            idx++;
        }
        i += l + 1;
    }
    if (*n == 0) {
        snprintf(err, errlen, "the input file holds no requests");
        return -1;
    }
    for (size_t k = 1; k < *n; k++) { /* one model per file */
        const cJSON *a =
            cJSON_GetObjectItemCaseSensitive((*out)[0].params, "model");
        const cJSON *b =
            cJSON_GetObjectItemCaseSensitive((*out)[k].params, "model");
        if (!cJSON_IsString(a) || !cJSON_IsString(b) ||
            strcmp(a->valuestring, b->valuestring) != 0) {
            snprintf(err, errlen,
                     "line %zu: every request of a batch must use the same "
                     "model",
                     k + 1);
            return -1;
        }
    }
    if (*n > 50000) {
        snprintf(err, errlen, "at most 50000 requests per batch");
        return -1;
    }
    return 0;
}

/* memmem without _GNU_SOURCE. */
static const char *
find(const char *h, size_t hl, const char *n, size_t nl)
{
    for (size_t i = 0; nl <= hl && i <= hl - nl; i++)
        if (h[i] == n[0] && !memcmp(h + i, n, nl))
            return h + i;
    return NULL;
}

int
mock_batch_multipart(const char *content_type, const char *body, size_t len,
                     const char **data, size_t *dlen, char *purpose,
                     size_t plen, char *filename, size_t flen, char *err,
                     size_t errlen)
{
    const char *b = content_type ? strstr(content_type, "boundary=") : NULL;
    char delim[200];
    size_t dl;
    const char *p = body, *end = body + len;

    *data = NULL;
    *dlen = 0;
    purpose[0] = filename[0] = '\0';
    if (!content_type ||
        strncasecmp(content_type, "multipart/form-data", 19) != 0 || !b) {
        snprintf(err, errlen, "expected multipart/form-data with a boundary");
        return -1;
    }
    dl = (size_t)snprintf(delim, sizeof(delim), "--%.180s", b + 9);
    while ((p = find(p, (size_t)(end - p), delim, dl))) {
        const char *h = p + dl, *he, *next, *name;
        if (h + 2 <= end && h[0] == '-' && h[1] == '-')
            break; /* the closing delimiter */
        he = find(h, (size_t)(end - h), "\r\n\r\n", 4);
        if (!he)
            break;
        next = find(he + 4, (size_t)(end - he - 4), delim, dl);
        if (!next)
            break;
        name = find(h, (size_t)(he - h), "name=\"", 6);
        if (name && !strncmp(name + 6, "purpose\"", 8)) {
            snprintf(purpose, plen, "%.*s", (int)(next - 2 - (he + 4)), he + 4);
        } else if (name && !strncmp(name + 6, "file\"", 5)) {
            const char *fn = find(h, (size_t)(he - h), "filename=\"", 10);
            if (fn)
                snprintf(filename, flen, "%.*s", (int)strcspn(fn + 10, "\""),
                         fn + 10);
            *data = he + 4;
            *dlen = (size_t)(next - 2 - *data); /* minus the CRLF */
        }
        p = next;
    }
    if (!*data) {
        snprintf(err, errlen, "file: a file part is required");
        return -1;
    }
    return 0;
}

int
mock_batch_line(enum mockapi_proto proto, const char *cid, enum mock_bkind kind,
                const char *reply, const char *request_id, const char *msg,
                struct mockbuf *out)
{
    int rc = 0;

    if (proto == MOCKAPI_ANTHROPIC) {
        rc |= mockbuf_puts(out, "{\"custom_id\":");
        rc |= mockbuf_json_str(out, cid, strlen(cid));
        switch (kind) {
        case MB_OK:
            rc |= mockbuf_printf(out,
                                 ",\"result\":{\"type\":\"succeeded\","
                                 "\"message\":%s}}\n",
                                 reply);
            break;
        case MB_ERRORED:
        case MB_ERRORED_RETRY:
            rc |= mockbuf_printf(
                out,
                ",\"result\":{\"type\":\"errored\",\"error\":{\"type\":"
                "\"error\",\"error\":{\"type\":\"%s\",\"message\":",
                kind == MB_ERRORED ? "invalid_request_error" : "api_error");
            rc |= mockbuf_json_str(out, msg, strlen(msg));
            rc |=
                mockbuf_printf(out, "},\"request_id\":\"%s\"}}}\n", request_id);
            break;
        default:
            rc |= mockbuf_printf(out, ",\"result\":{\"type\":\"%s\"}}\n",
                                 kind == MB_EXPIRED ? "expired" : "canceled");
        }
        return rc ? -1 : 0;
    }
    rc |= mockbuf_printf(out,
                         "{\"id\":\"batch_req_%s\",\"custom_id\":", request_id);
    rc |= mockbuf_json_str(out, cid, strlen(cid));
    switch (kind) {
    case MB_OK:
        rc |= mockbuf_printf(out,
                             ",\"response\":{\"status_code\":200,"
                             "\"request_id\":\"%s\",\"body\":%s},"
                             "\"error\":null}\n",
                             request_id, reply);
        break;
    case MB_ERRORED:
    case MB_ERRORED_RETRY:
        rc |= mockbuf_printf(out,
                             ",\"response\":{\"status_code\":%d,"
                             "\"request_id\":\"%s\",\"body\":{\"error\":{"
                             "\"message\":",
                             kind == MB_ERRORED ? 400 : 500, request_id);
        rc |= mockbuf_json_str(out, msg, strlen(msg));
        rc |= mockbuf_printf(out,
                             ",\"type\":\"%s\",\"param\":null,\"code\":null}}"
                             "},\"error\":null}\n",
                             kind == MB_ERRORED ? "invalid_request_error"
                                                : "server_error");
        break;
    default:
        rc |= mockbuf_printf(out,
                             ",\"response\":null,\"error\":{\"code\":\"%s\","
                             "\"message\":",
                             kind == MB_EXPIRED ? "batch_expired"
                                                : "batch_cancelled");
        rc |= mockbuf_json_str(out, msg, strlen(msg));
        rc |= mockbuf_puts(out, "}}\n");
    }
    return rc ? -1 : 0;
}
