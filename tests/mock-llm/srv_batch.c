/* genq-mockllm: the batch APIs of both providers, in memory. Anthropic
 * Message Batches (create, retrieve, list, cancel, results) and OpenAI's
 * files (upload, content) and batches (create, retrieve, list, cancel).
 * A batch ends --batch-latency-s after its creation (or at once when
 * canceled); its results are built then, once: every entry is answered as
 * POST /v1/messages or /v1/chat/completions would be (cache_control too:
 * srv_pcache.c), unless its request carries a [mock:batch=KIND(*K)] marker
 * (errored, errored_retry, expired, canceled). Each creation appends a
 * {"event":"batch_created"} line to
 * --log so a test can count them. --batch-create-delay-s answers a create
 * late (the batch exists at once), --batch-create-hang N swallows the
 * first N creates (no batch; a 500 an hour later). */
#include "fmacros.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mock_batch.h"
#include "mockapi.h"
#include "srv.h"

struct mfile {
    char id[48];
    char *data;
    size_t len;
    char filename[128];
    double created;
    struct mfile *next;
};

struct mbatch {
    char id[64];
    enum mockapi_proto proto;
    double created, ends;
    int canceled, built;
    struct mock_bentry *e;
    size_t n;
    cJSON *metadata;
    char input_file[48];
    double counts[4]; /* succeeded, errored, canceled, expired */
    struct mockbuf results;
    char out_file[48], err_file[48];
    struct mbatch *next; /* newest first */
};

/* how many batches carried a [mock:batch=KIND*K] request, by its hash */
struct mcount {
    uint64_t h;
    long n;
    struct mcount *next;
};

static struct mbatch *batches;
static struct mfile *files;
static struct mcount *counts;
static unsigned long created_total, hung;

static struct mfile *
file_find(const char *id)
{
    for (struct mfile *f = files; f; f = f->next)
        if (!strcmp(f->id, id))
            return f;
    return NULL;
}

static struct mbatch *
batch_find(const char *id, enum mockapi_proto proto)
{
    for (struct mbatch *b = batches; b; b = b->next)
        if (b->proto == proto && !strcmp(b->id, id))
            return b;
    return NULL;
}

static struct mfile *
file_add(const char *prefix, const char *data, size_t len, const char *name)
{
    struct mfile *f = calloc(1, sizeof(*f));

    if (!f || !(f->data = malloc(len + 1))) {
        free(f);
        return NULL;
    }
    memcpy(f->data, data, len);
    f->data[len] = '\0';
    f->len = len;
    srv_make_id(prefix, f->id, sizeof(f->id));
    snprintf(f->filename, sizeof(f->filename), "%s", name);
    f->created = ev_now(srv_loop);
    f->next = files;
    files = f;
    return f;
}

/* The outcome of an entry with marker kind (times: 0 = always). */
static enum mock_bkind
entry_kind(const struct mock_bentry *e)
{
    long times;
    enum mock_bkind k = mock_batch_marker(e->params, &times);
    char *s;
    uint64_t h;
    struct mcount *c;

    if (k == MB_OK || times <= 0)
        return k;
    s = cJSON_PrintUnformatted(e->params);
    h = s ? mocktext_hash(s, strlen(s)) : 0;
    cJSON_free(s);
    for (c = counts; c && c->h != h; c = c->next)
        ;
    if (!c && (c = calloc(1, sizeof(*c)))) {
        c->h = h;
        c->next = counts;
        counts = c;
    }
    if (!c)
        return k;
    return ++c->n <= times ? k : MB_OK;
}

/* The batch has ended: build its results (once). */
static void
batch_build(struct mbatch *b)
{
    struct mockbuf ok = {0}, bad = {0};
    static const int slot[] = {[MB_OK] = 0,
                               [MB_ERRORED] = 1,
                               [MB_ERRORED_RETRY] = 1,
                               [MB_CANCELED] = 2,
                               [MB_EXPIRED] = 3};

    if (b->built)
        return;
    b->built = 1;
    for (size_t i = 0; i < b->n; i++) {
        struct mock_bentry *e = &b->e[i];
        enum mock_bkind k = b->canceled ? MB_CANCELED : entry_kind(e);
        struct mockapi_gen g;
        struct mockapi_error err;
        struct mockbuf reply = {0};
        char rid[64];
        const char *msg = "mock: batch entry fault";

        memset(&g, 0, sizeof(g));
        srv_make_id("req_mock", rid, sizeof(rid));
        if (k == MB_OK) {
            if (mockapi_gen_parse(b->proto, e->params, srv_cfg.article_tokens,
                                  &g, &err) < 0) {
                k = MB_ERRORED;
                msg = err.message;
            } else {
                /* prompt caching as on the Messages endpoint: the batch's
                 * first entry with a prefix writes, the later ones read */
                srv_pcache_apply(&g, e->params, ev_now(srv_loop),
                                 ev_now(srv_loop));
                srv_make_id(b->proto == MOCKAPI_ANTHROPIC ? "msg_mock"
                                                          : "chatcmpl-mock",
                            g.id, sizeof(g.id));
                g.created = (long long)ev_now(srv_loop);
                if (mockapi_body(&g, &reply) < 0)
                    k = MB_ERRORED_RETRY;
            }
        } else if (k == MB_EXPIRED) {
            msg = "This request could not be executed before the completion "
                  "window expired.";
        } else if (k == MB_CANCELED) {
            msg = "This request was cancelled with its batch.";
        }
        b->counts[slot[k]]++;
        mock_batch_line(b->proto, e->cid, k, reply.data ? reply.data : "{}",
                        rid, msg,
                        b->proto == MOCKAPI_OPENAI && k != MB_OK ? &bad
                        : b->proto == MOCKAPI_OPENAI             ? &ok
                                                                 : &b->results);
        mockbuf_free(&reply);
        mockapi_gen_free(&g);
    }
    if (ok.len) {
        struct mfile *f = file_add("file-out", ok.data, ok.len, "output.jsonl");
        if (f)
            snprintf(b->out_file, sizeof(b->out_file), "%s", f->id);
    }
    if (bad.len) {
        struct mfile *f =
            file_add("file-err", bad.data, bad.len, "error.jsonl");
        if (f)
            snprintf(b->err_file, sizeof(b->err_file), "%s", f->id);
    }
    mockbuf_free(&ok);
    mockbuf_free(&bad);
}

static int
batch_ended(struct mbatch *b)
{
    if (b->canceled || ev_now(srv_loop) >= b->ends) {
        batch_build(b);
        return 1;
    }
    return 0;
}

static void
add_time(cJSON *o, const char *name, double t)
{
    char s[40];
    time_t sec = (time_t)t;
    struct tm tm;

    if (t <= 0) {
        cJSON_AddNullToObject(o, name);
        return;
    }
    gmtime_r(&sec, &tm);
    strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(s + strlen(s), sizeof(s) - strlen(s), ".%06dZ",
             (int)((t - (double)sec) * 1e6));
    cJSON_AddStringToObject(o, name, s);
}

static cJSON *
batch_object(struct mbatch *b, const char *host)
{
    cJSON *o = cJSON_CreateObject(), *rc;
    int ended = batch_ended(b);
    char url[256];

    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "id", b->id);
    if (b->proto == MOCKAPI_ANTHROPIC) {
        cJSON_AddStringToObject(o, "type", "message_batch");
        cJSON_AddStringToObject(o, "processing_status",
                                ended ? "ended" : "in_progress");
        rc = cJSON_AddObjectToObject(o, "request_counts");
        cJSON_AddNumberToObject(rc, "processing", ended ? 0 : (double)b->n);
        cJSON_AddNumberToObject(rc, "succeeded", ended ? b->counts[0] : 0);
        cJSON_AddNumberToObject(rc, "errored", ended ? b->counts[1] : 0);
        cJSON_AddNumberToObject(rc, "canceled", ended ? b->counts[2] : 0);
        cJSON_AddNumberToObject(rc, "expired", ended ? b->counts[3] : 0);
        add_time(o, "created_at", b->created);
        add_time(o, "expires_at", b->created + 86400);
        add_time(o, "ended_at", ended ? b->ends : 0);
        add_time(o, "cancel_initiated_at", b->canceled ? b->ends : 0);
        cJSON_AddNullToObject(o, "archived_at");
        if (ended) {
            snprintf(url, sizeof(url),
                     "http://%s/v1/messages/batches/%s/results",
                     host ? host : "127.0.0.1", b->id);
            cJSON_AddStringToObject(o, "results_url", url);
        } else {
            cJSON_AddNullToObject(o, "results_url");
        }
        return o;
    }
    cJSON_AddStringToObject(o, "object", "batch");
    cJSON_AddStringToObject(o, "endpoint", "/v1/chat/completions");
    cJSON_AddNullToObject(o, "errors");
    cJSON_AddStringToObject(o, "input_file_id", b->input_file);
    cJSON_AddStringToObject(o, "completion_window", "24h");
    cJSON_AddStringToObject(o, "status",
                            !ended        ? "in_progress"
                            : b->canceled ? "cancelled"
                                          : "completed");
    if (ended && b->out_file[0])
        cJSON_AddStringToObject(o, "output_file_id", b->out_file);
    else
        cJSON_AddNullToObject(o, "output_file_id");
    if (ended && b->err_file[0])
        cJSON_AddStringToObject(o, "error_file_id", b->err_file);
    else
        cJSON_AddNullToObject(o, "error_file_id");
    cJSON_AddNumberToObject(o, "created_at", (double)(long long)b->created);
    cJSON_AddNumberToObject(o, "expires_at",
                            (double)(long long)(b->created + 86400));
    rc = cJSON_AddObjectToObject(o, "request_counts");
    cJSON_AddNumberToObject(rc, "total", (double)b->n);
    cJSON_AddNumberToObject(rc, "completed", ended ? b->counts[0] : 0);
    cJSON_AddNumberToObject(
        rc, "failed", ended ? b->counts[1] + b->counts[2] + b->counts[3] : 0);
    if (b->metadata)
        cJSON_AddItemToObject(o, "metadata", cJSON_Duplicate(b->metadata, 1));
    else
        cJSON_AddNullToObject(o, "metadata");
    return o;
}

/* respond() sends only this much of its text, then drops the
 * connection, when set ((size_t)-1: the whole). */
static size_t cut_body = (size_t)-1;

/* Send status + text (JSON unless ctype says otherwise) after delay. */
static void
respond(struct conn *c, const cJSON *body, enum mockapi_proto proto, int status,
        const char *ctype, const char *text, size_t len, double delay)
{
    struct mockbuf *p = &c->pend;
    struct reqinfo ri = {EP_OTHER, body, status, NULL, NULL, 0, 0, 0};
    char rid[64];
    int rc = 0;

    srv_make_id("req_mock", rid, sizeof(rid));
    ri.request_id = rid;
    mockbuf_clear(p);
    rc |= srv_head_open(p, c, status, ctype, (long long)len);
    rc |= mockbuf_printf(
        p, "%s: %s\r\n\r\n",
        proto == MOCKAPI_ANTHROPIC ? "request-id" : "x-request-id", rid);
    rc |= mockbuf_append(p, text, len);
    c->pend_cut = p->len;
    c->after = AFTER_DONE;
    if (cut_body != (size_t)-1) { /* --batch-results-cut */
        c->pend_cut = p->len - len + cut_body;
        c->after = AFTER_DROP;
        cut_body = (size_t)-1;
    }
    if (rc) {
        c->keep_alive = 0;
        c->close_after = 1;
    }
    srv_count_and_log(c, &ri);
    srv_pend_start(c, delay);
}

static void
respond_json(struct conn *c, const cJSON *body, enum mockapi_proto proto,
             int status, cJSON *doc, double delay)
{
    char *s = doc ? cJSON_PrintUnformatted(doc) : NULL;

    cJSON_Delete(doc);
    if (!s) {
        respond(c, body, proto, 500, "application/json",
                "{\"error\":\"out of memory\"}", 25, 0);
        return;
    }
    respond(c, body, proto, status, "application/json", s, strlen(s), delay);
    cJSON_free(s);
}

static void
respond_error(struct conn *c, const cJSON *body, enum mockapi_proto proto,
              int status, const char *type, const char *msg)
{
    struct mockapi_error e;
    struct mockbuf b = {0};

    mockapi_error_set(&e, status, type, msg);
    if (mockapi_error_body(proto, &e, "req_mock_batch", &b) < 0) {
        respond(c, body, proto, 500, "application/json", "{}", 2, 0);
    } else {
        respond(c, body, proto, status, "application/json", b.data, b.len,
                srv_cfg.latency_ms / 1000.0);
    }
    mockbuf_free(&b);
}

static void
log_created(const struct mbatch *b)
{
    const cJSON *tok =
        cJSON_GetObjectItemCaseSensitive(b->metadata, "genq_token");
    created_total++;
    if (!srv_logfp)
        return;
    fprintf(srv_logfp,
            "{\"event\":\"batch_created\",\"ts\":%.6f,\"id\":\"%s\","
            "\"provider\":\"%s\",\"requests\":%zu,\"first_custom_id\":\"%s\","
            "\"genq_token\":\"%s\"}\n",
            ev_time(), b->id,
            b->proto == MOCKAPI_ANTHROPIC ? "anthropic" : "openai", b->n,
            b->n ? b->e[0].cid : "",
            cJSON_IsString(tok) ? tok->valuestring : "");
    fflush(srv_logfp);
}

static void
create(struct conn *c, const cJSON *body, enum mockapi_proto proto)
{
    struct mbatch *b;
    char err[256];
    struct mock_bentry *e = NULL;
    size_t n = 0;
    const char *fid = NULL;

    if (hung < srv_cfg.batch_create_hang) {
        hung++; /* swallowed: nothing created, a 500 an hour later */
        respond_error(c, body, proto, 500, "api_error", "mock: hung create");
        srv_timer_after(c, 3600);
        return;
    }
    if (proto == MOCKAPI_ANTHROPIC) {
        if (mock_batch_parse_anthropic(body, &e, &n, err, sizeof(err)) < 0) {
            mock_batch_entries_free(e, n);
            respond_error(c, body, proto, 400, "invalid_request_error", err);
            return;
        }
    } else {
        const cJSON *f =
            cJSON_GetObjectItemCaseSensitive(body, "input_file_id");
        const cJSON *cw =
            cJSON_GetObjectItemCaseSensitive(body, "completion_window");
        const cJSON *ep = cJSON_GetObjectItemCaseSensitive(body, "endpoint");
        struct mfile *mf = cJSON_IsString(f) ? file_find(f->valuestring) : NULL;
        if (!mf || !cJSON_IsString(cw) || strcmp(cw->valuestring, "24h") ||
            !cJSON_IsString(ep) ||
            strcmp(ep->valuestring, "/v1/chat/completions")) {
            respond_error(c, body, proto, 400, "invalid_request_error",
                          !mf ? "input_file_id: no such file"
                              : "completion_window must be 24h and endpoint "
                                "/v1/chat/completions");
            return;
        }
        if (mock_batch_parse_openai(mf->data, mf->len, &e, &n, err,
                                    sizeof(err)) < 0) {
            mock_batch_entries_free(e, n);
            respond_error(c, body, proto, 400, "invalid_request_error", err);
            return;
        }
        fid = mf->id;
    }
    b = calloc(1, sizeof(*b));
    if (!b) {
        mock_batch_entries_free(e, n);
        respond_error(c, body, proto, 500, "api_error", "out of memory");
        return;
    }
    srv_make_id(proto == MOCKAPI_ANTHROPIC ? "msgbatch_mock" : "batch_mock",
                b->id, sizeof(b->id));
    b->proto = proto;
    b->created = ev_now(srv_loop);
    b->ends = b->created + srv_cfg.batch_latency_s;
    b->e = e;
    b->n = n;
    if (fid)
        snprintf(b->input_file, sizeof(b->input_file), "%s", fid);
    if (proto == MOCKAPI_OPENAI) {
        const cJSON *md = cJSON_GetObjectItemCaseSensitive(body, "metadata");
        if (cJSON_IsObject(md))
            b->metadata = cJSON_Duplicate(md, 1);
    }
    b->next = batches;
    batches = b;
    log_created(b);
    respond_json(c, body, proto, 200, batch_object(b, NULL),
                 srv_cfg.batch_create_delay_s + srv_cfg.latency_ms / 1000.0);
}

static void
list(struct conn *c, const cJSON *body, enum mockapi_proto proto,
     const char *query)
{
    const char *lq = query ? strstr(query, "limit=") : NULL;
    const char *aq =
        query
            ? strstr(query, proto == MOCKAPI_ANTHROPIC ? "after_id=" : "after=")
            : NULL;
    long limit = lq ? strtol(lq + 6, NULL, 10) : 20;
    char after[64] = "";
    cJSON *o = cJSON_CreateObject(), *data;
    struct mbatch *b = batches;
    const char *host = mockhttp_header(&c->req, "host");
    int more = 0;

    if (limit < 1 || limit > 1000)
        limit = 20;
    if (aq) {
        aq = strchr(aq, '=') + 1;
        snprintf(after, sizeof(after), "%.*s", (int)strcspn(aq, "&"), aq);
    }
    if (!o) {
        respond_error(c, body, proto, 500, "api_error", "out of memory");
        return;
    }
    if (proto == MOCKAPI_OPENAI)
        cJSON_AddStringToObject(o, "object", "list");
    data = cJSON_AddArrayToObject(o, "data");
    if (after[0]) {
        while (b && !(b->proto == proto && !strcmp(b->id, after)))
            b = b->next;
        if (b)
            b = b->next;
    }
    for (; b; b = b->next) {
        if (b->proto != proto)
            continue;
        if (cJSON_GetArraySize(data) >= limit) {
            more = 1;
            break;
        }
        cJSON_AddItemToArray(data, batch_object(b, host));
    }
    cJSON_AddBoolToObject(o, "has_more", more);
    {
        int n = cJSON_GetArraySize(data);
        const cJSON *f = n ? cJSON_GetArrayItem(data, 0) : NULL;
        const cJSON *l = n ? cJSON_GetArrayItem(data, n - 1) : NULL;
        if (f)
            cJSON_AddStringToObject(
                o, "first_id",
                cJSON_GetObjectItemCaseSensitive(f, "id")->valuestring);
        else
            cJSON_AddNullToObject(o, "first_id");
        if (l)
            cJSON_AddStringToObject(
                o, "last_id",
                cJSON_GetObjectItemCaseSensitive(l, "id")->valuestring);
        else
            cJSON_AddNullToObject(o, "last_id");
    }
    respond_json(c, body, proto, 200, o, srv_cfg.latency_ms / 1000.0);
}

static void
upload(struct conn *c, const cJSON *body)
{
    const char *data;
    size_t dlen;
    char purpose[32], name[128], err[256];
    struct mfile *f;
    cJSON *o;

    if (mock_batch_multipart(mockhttp_header(&c->req, "content-type"),
                             c->req.body.data ? c->req.body.data : "",
                             c->req.body.len, &data, &dlen, purpose,
                             sizeof(purpose), name, sizeof(name), err,
                             sizeof(err)) < 0) {
        respond_error(c, body, MOCKAPI_OPENAI, 400, "invalid_request_error",
                      err);
        return;
    }
    if (strcmp(purpose, "batch") != 0) {
        respond_error(c, body, MOCKAPI_OPENAI, 400, "invalid_request_error",
                      "purpose: only 'batch' is supported by the mock");
        return;
    }
    f = file_add("file-mock", data, dlen, name);
    o = f ? cJSON_CreateObject() : NULL;
    if (!o) {
        respond_error(c, body, MOCKAPI_OPENAI, 500, "server_error",
                      "out of memory");
        return;
    }
    cJSON_AddStringToObject(o, "id", f->id);
    cJSON_AddStringToObject(o, "object", "file");
    cJSON_AddNumberToObject(o, "bytes", (double)f->len);
    cJSON_AddNumberToObject(o, "created_at", (double)(long long)f->created);
    cJSON_AddStringToObject(o, "filename", f->filename);
    cJSON_AddStringToObject(o, "purpose", "batch");
    respond_json(c, body, MOCKAPI_OPENAI, 200, o, srv_cfg.latency_ms / 1000.0);
}

int
srv_batch_request(struct conn *c, const cJSON *body)
{
    const char *t = c->req.target, *q = strchr(t, '?');
    size_t len = q ? (size_t)(q - t) : strlen(t);
    char path[256], id[96], tail[32];
    enum mockapi_proto proto;
    const char *rest;
    struct mockapi_error err;
    struct mbatch *b;
    int get = !strcmp(c->req.method, "GET");

    if (len >= sizeof(path))
        return 0;
    memcpy(path, t, len);
    path[len] = '\0';
    if (!strncmp(path, "/v1/messages/batches", 20)) {
        proto = MOCKAPI_ANTHROPIC;
        rest = path + 20;
    } else if (!strncmp(path, "/v1/batches", 11)) {
        proto = MOCKAPI_OPENAI;
        rest = path + 11;
    } else if (!strncmp(path, "/v1/files", 9)) {
        proto = MOCKAPI_OPENAI;
        rest = NULL;
    } else {
        return 0;
    }
    if (mockapi_check_auth(proto, &c->req, srv_cfg.api_key, &err) < 0) {
        respond_error(c, body, proto, 401, err.type, err.message);
        return 1;
    }
    if (!rest) { /* files */
        if (!strcmp(path, "/v1/files") && !get) {
            upload(c, body);
        } else if (get &&
                   sscanf(path, "/v1/files/%95[^/]/%31s", id, tail) == 2 &&
                   !strcmp(tail, "content") && file_find(id)) {
            struct mfile *f = file_find(id);
            respond(c, body, proto, 200, "application/jsonl", f->data, f->len,
                    srv_cfg.latency_ms / 1000.0);
        } else {
            respond_error(c, body, proto, 404, "invalid_request_error",
                          "No such file");
        }
        return 1;
    }
    if (!*rest) {
        if (get)
            list(c, body, proto, q);
        else
            create(c, body, proto);
        return 1;
    }
    tail[0] = '\0';
    if (sscanf(rest, "/%95[^/]/%31s", id, tail) < 1 ||
        !(b = batch_find(id, proto))) {
        respond_error(c, body, proto, 404,
                      proto == MOCKAPI_ANTHROPIC ? "not_found_error"
                                                 : "invalid_request_error",
                      "No such batch");
        return 1;
    }
    if (!tail[0] && get) {
        respond_json(c, body, proto, 200,
                     batch_object(b, mockhttp_header(&c->req, "host")),
                     srv_cfg.latency_ms / 1000.0);
    } else if (!strcmp(tail, "cancel") && !get) {
        if (!batch_ended(b)) {
            b->canceled = 1;
            b->ends = ev_now(srv_loop);
        }
        respond_json(c, body, proto, 200,
                     batch_object(b, mockhttp_header(&c->req, "host")),
                     srv_cfg.latency_ms / 1000.0);
    } else if (!strcmp(tail, "results") && get && proto == MOCKAPI_ANTHROPIC) {
        if (!batch_ended(b))
            respond_error(c, body, proto, 400, "invalid_request_error",
                          "Batch has not ended yet");
        else {
            static unsigned long cuts;
            if (cuts < srv_cfg.batch_results_cut && b->results.len) {
                /* after the line that ends past half the text */
                const char *txt = b->results.data;
                size_t half = b->results.len / 2;
                const char *nl =
                    memchr(txt + half, '\n', b->results.len - half);
                cuts++;
                cut_body = nl ? (size_t)(nl - txt) + 1 : half;
            }
            respond(c, body, proto, 200, "application/binary",
                    b->results.data ? b->results.data : "", b->results.len,
                    srv_cfg.latency_ms / 1000.0);
        }
    } else {
        respond_error(c, body, proto, 404, "not_found_error", "Not Found");
    }
    return 1;
}

void
srv_batch_stats(cJSON *o)
{
    cJSON_AddNumberToObject(o, "batches_created", (double)created_total);
}

void
srv_batch_reset(void)
{
    while (batches) {
        struct mbatch *b = batches;
        batches = b->next;
        mock_batch_entries_free(b->e, b->n);
        cJSON_Delete(b->metadata);
        mockbuf_free(&b->results);
        free(b);
    }
    while (files) {
        struct mfile *f = files;
        files = f->next;
        free(f->data);
        free(f);
    }
    while (counts) {
        struct mcount *c = counts;
        counts = c->next;
        free(c);
    }
    created_total = hung = 0;
}
