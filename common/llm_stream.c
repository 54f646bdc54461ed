/* llm_stream: the streaming decoder -- SSE events of the Anthropic and
 * OpenAI streams into a result -- with the cJSON path for every event;
 * the fast path it tries first is llm_stream_fast.c. */
#include "fmacros.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm.h"
#include "llm_int.h"
#include "sse.h"

/* ---- streaming ------------------------------------------------------ */

struct llm_stream {
    enum llm_provider p;
    struct llm_result *r;
    int fast; /* try the fast path first (llm_stream_fast.c) */
    unsigned long cjson_events; /* events that reached cJSON */
    struct sse_parser sse;
};

int
llm_malformed(struct llm_result *r, const char *what)
{
    llm_set_error(r, r->err.http_status ? r->err.http_status : 200,
                  LLM_ERR_MALFORMED, what);
    return 1;
}

/* Copy an error object from an event into r; always stops the parser. */
static int
stream_error(struct llm_result *r, const cJSON *root)
{
    int status = r->err.http_status ? r->err.http_status : 200;
    llm_fill_error_obj(r, status, root);
    if (strcmp(r->err.type, LLM_ERR_HTTP) == 0)
        llm_copy_str(r->err.type, sizeof r->err.type, "api_error");
    return 1;
}

/* The event's data as a cJSON object -- caller frees with cJSON_Delete()
 * -- or NULL when it is not one (r failed as malformed, naming an Anthropic
 * event or an OpenAI chunk). */
static cJSON *
parse_event(struct llm_stream *s, const char *data, size_t dlen)
{
    s->cjson_events++;
    cJSON *root = cJSON_ParseWithLength(data, dlen);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        llm_malformed(s->r, s->p == LLM_OPENAI
                                ? "stream chunk is not a JSON object"
                                : "stream event data is not a JSON object");
        return NULL;
    }
    return root;
}

/* Whether root[key] has "type" type; *text receives its "text" string
 * (NULL when absent). Borrowed from root. */
static int
typed_text(const cJSON *root, const char *key, const char *type,
           const char **text)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, key);
    const char *ty = llm_jstr(o, "type");

    *text = llm_jstr(o, "text");
    return ty != NULL && strcmp(ty, type) == 0;
}

/* on_anthropic's cJSON path (step 3): kind is the named event's (any when
 * unnamed). */
static int
cjson_anthropic(struct llm_stream *s, int named, enum anth_event kind,
                const char *data, size_t dlen)
{
    struct llm_result *r = s->r;
    cJSON *root = parse_event(s, data, dlen);

    if (root == NULL)
        return 1;
    if (!named) { /* unnamed: the JSON type names the event */
        const char *type = llm_jstr(root, "type");
        kind =
            type != NULL ? llm_anth_event_kind(type, strlen(type)) : AEV_OTHER;
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
        llm_copy_str(r->id, sizeof r->id, llm_jstr(m, "id"));
        llm_copy_str(r->model, sizeof r->model, llm_jstr(m, "model"));
        llm_anthropic_usage(u, r);
        break;
    }
    case AEV_BLOCK_START: {
        const char *t;
        if (typed_text(root, "content_block", "text", &t) && t != NULL &&
            llm_add_text(r, t, strlen(t)) != 0)
            rc = 1;
        break;
    }
    case AEV_BLOCK_DELTA: {
        const char *t;
        /* thinking_delta, input_json_delta, ... carry no output text */
        if (typed_text(root, "delta", "text_delta", &t)) {
            if (t == NULL)
                rc = llm_malformed(r, "text_delta without text");
            else if (llm_add_text(r, t, strlen(t)) != 0)
                rc = 1;
        }
        break;
    }
    case AEV_MESSAGE_DELTA: {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "delta");
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(root, "usage");
        const char *sr = llm_jstr(d, "stop_reason");
        const cJSON *ss = cJSON_GetObjectItemCaseSensitive(d, "stop_sequence");
        if (sr != NULL)
            llm_copy_str(r->stop_reason, sizeof r->stop_reason, sr);
        if (cJSON_IsString(ss))
            llm_copy_str(r->stop_sequence, sizeof r->stop_sequence,
                         ss->valuestring);
        /* Cumulative counts: replace, never add (llm-api.md §2). */
        llm_anthropic_usage(u, r);
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
        kind = llm_anth_event_kind(ev, evlen);
        if (kind == AEV_OTHER)
            return 0; /* ping, content_block_stop, new event types */
    }
    if (s->fast) { /* steps 1 and 2 (llm_stream_fast.c) */
        int rc = llm_fast_anthropic(r, data, dlen, evlen > 0, kind);
        if (rc != LLM_FAST_BAIL)
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
    cJSON *root = parse_event(s, data, dlen);

    if (root == NULL)
        return 1;
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
    int rc = 0;
    if ((err != NULL && !cJSON_IsNull(err)) || named_error) {
        rc = stream_error(r, root);
        cJSON_Delete(root);
        return rc;
    }
    if (r->id[0] == '\0')
        llm_copy_str(r->id, sizeof r->id, llm_jstr(root, "id"));
    if (r->model[0] == '\0')
        llm_copy_str(r->model, sizeof r->model, llm_jstr(root, "model"));
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(root, "choices"))
    {
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(c, "index");
        if (cJSON_IsNumber(idx) && idx->valuedouble != 0)
            continue; /* we ask for one choice */
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(c, "delta");
        const char *t = llm_jstr(d, "content");
        const char *fr = llm_jstr(c, "finish_reason");
        if (t != NULL && llm_add_text(r, t, strlen(t)) != 0) {
            rc = 1;
            break;
        }
        if (fr != NULL)
            llm_copy_str(r->stop_reason, sizeof r->stop_reason, fr);
    }
    llm_openai_usage(cJSON_GetObjectItemCaseSensitive(root, "usage"), r);
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
    if (s->fast && !named_error) { /* steps 1 and 2 (llm_stream_fast.c) */
        int rc = llm_fast_openai(r, data, dlen);
        if (rc != LLM_FAST_BAIL)
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
            llm_set_error(r, r->err.http_status, LLM_ERR_NOMEM,
                          "out of memory parsing the stream");
        else
            llm_set_error(r, r->err.http_status, LLM_ERR_MALFORMED,
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
        llm_set_error(r, r->err.http_status, LLM_ERR_TRUNCATED,
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
