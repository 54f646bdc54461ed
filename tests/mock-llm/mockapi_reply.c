/* Mock LLM server: the rendering of both wire formats. Bodies, SSE events and
 * error bodies are written by hand with mockbuf so that key order matches the
 * real APIs and per-delta cost stays small. */
#include "fmacros.h"

#include <stdio.h>
#include <string.h>

#include "mockapi.h"

void
mockapi_fault_error(enum mockapi_proto proto, const struct mockapi_fault *f,
                    struct mockapi_error *err)
{
    if (proto == MOCKAPI_ANTHROPIC) {
        mockapi_error_set(err, f->status, f->a_type, f->a_msg);
    } else {
        mockapi_error_set(err, f->status, f->o_type, f->o_msg);
        if (f->o_code != NULL)
            snprintf(err->code, sizeof(err->code), "%s", f->o_code);
    }
}

/* Appends a JSON string, or null when s is NULL or (if empty_null) "". */
static int
json_str_or_null(struct mockbuf *out, const char *s, int empty_null)
{
    if (s == NULL || (empty_null && *s == '\0'))
        return mockbuf_puts(out, "null");
    return mockbuf_json_str(out, s, strlen(s));
}

int
mockapi_error_body(enum mockapi_proto proto, const struct mockapi_error *e,
                   const char *request_id, struct mockbuf *out)
{
    int rc = 0;

    if (proto == MOCKAPI_ANTHROPIC) {
        rc |= mockbuf_puts(out, "{\"type\":\"error\",\"error\":{\"type\":");
        rc |= json_str_or_null(out, e->type, 0);
        rc |= mockbuf_puts(out, ",\"message\":");
        rc |= json_str_or_null(out, e->message, 0);
        rc |= mockbuf_puts(out, "},\"request_id\":");
        rc |= json_str_or_null(out, request_id, 0);
        rc |= mockbuf_puts(out, "}");
    } else {
        rc |= mockbuf_puts(out, "{\"error\":{\"message\":");
        rc |= json_str_or_null(out, e->message, 0);
        rc |= mockbuf_puts(out, ",\"type\":");
        rc |= json_str_or_null(out, e->type, 0);
        rc |= mockbuf_puts(out, ",\"param\":");
        rc |= json_str_or_null(out, e->param, 1);
        rc |= mockbuf_puts(out, ",\"code\":");
        rc |= json_str_or_null(out, e->code, 1);
        rc |= mockbuf_puts(out, "}}");
    }
    return rc ? -1 : 0;
}

const char *
mockapi_stop_reason(const struct mockapi_gen *g)
{
    int an = g->proto == MOCKAPI_ANTHROPIC;

    switch (g->reply.stop) {
    case MOCKTEXT_MAX_TOKENS_HIT:
        return an ? "max_tokens" : "length";
    case MOCKTEXT_STOP_SEQUENCE:
        return an ? "stop_sequence" : "stop";
    case MOCKTEXT_END_TURN:
    default:
        return an ? "end_turn" : "stop";
    }
}

static const char *
matched_stop(const struct mockapi_gen *g)
{
    if (g->reply.stop_index < 0)
        return NULL;
    return g->stops[g->reply.stop_index];
}

int
mockapi_body(const struct mockapi_gen *g, struct mockbuf *out)
{
    const struct mocktext_reply *r = &g->reply;
    const char *text = g->art->text + r->start;
    size_t tlen = r->end - r->start;
    int rc = 0;

    if (g->proto == MOCKAPI_ANTHROPIC) {
        rc |= mockbuf_printf(out,
                             "{\"id\":\"%s\",\"type\":\"message\","
                             "\"role\":\"assistant\",\"model\":",
                             g->id);
        rc |= mockbuf_json_str(out, g->model, strlen(g->model));
        rc |= mockbuf_puts(out, ",\"content\":[{\"type\":\"text\",\"text\":");
        rc |= mockbuf_json_str(out, text, tlen);
        rc |=
            mockbuf_printf(out, "}],\"stop_reason\":\"%s\",\"stop_sequence\":",
                           mockapi_stop_reason(g));
        rc |= json_str_or_null(out, matched_stop(g), 0);
        rc |= mockbuf_printf(out,
                             ",\"usage\":{\"input_tokens\":%zu,"
                             "\"cache_creation_input_tokens\":%zu,"
                             "\"cache_read_input_tokens\":%zu,"
                             "\"output_tokens\":%zu,"
                             "\"service_tier\":\"standard\"}}",
                             g->input_tokens, g->cache_write, g->cache_read,
                             r->ntokens);
    } else {
        rc |= mockbuf_printf(out,
                             "{\"id\":\"%s\",\"object\":\"chat.completion\","
                             "\"created\":%lld,\"model\":",
                             g->id, g->created);
        rc |= mockbuf_json_str(out, g->model, strlen(g->model));
        rc |= mockbuf_puts(out, ",\"system_fingerprint\":\"fp_mock\","
                                "\"choices\":[{\"index\":0,\"message\":{"
                                "\"role\":\"assistant\",\"content\":");
        rc |= mockbuf_json_str(out, text, tlen);
        rc |= mockbuf_printf(out,
                             ",\"refusal\":null},\"logprobs\":null,"
                             "\"finish_reason\":\"%s\"}],\"usage\":{"
                             "\"prompt_tokens\":%zu,\"completion_tokens\":%zu,"
                             "\"total_tokens\":%zu}}",
                             mockapi_stop_reason(g), g->input_tokens,
                             r->ntokens, g->input_tokens + r->ntokens);
    }
    return rc ? -1 : 0;
}

size_t
mockapi_ndeltas(const struct mockapi_gen *g, size_t chunk)
{
    if (chunk == 0)
        chunk = 1;
    return (g->reply.ntokens + chunk - 1) / chunk;
}

/* Byte range of delta i: tokens [first + i*chunk, first + (i+1)*chunk)
 * clipped to the reply's bytes. */
static void
delta_range(const struct mockapi_gen *g, size_t chunk, size_t i, size_t *from,
            size_t *to)
{
    const struct mocktext_reply *r = &g->reply;
    size_t t0 = r->first_token + i * chunk, t1 = t0 + chunk;
    size_t last = r->first_token + r->ntokens;

    if (t1 > last)
        t1 = last;
    if (t0 > last)
        t0 = last;
    *from = g->art->off[t0];
    *to = g->art->off[t1];
    if (*from < r->start)
        *from = r->start;
    if (*to > r->end)
        *to = r->end;
    if (*from > *to)
        *from = *to;
}

/* OpenAI chunk prefix up to and including `"choices":`. */
static int
oai_chunk_open(const struct mockapi_gen *g, struct mockbuf *out)
{
    int rc = 0;

    rc |= mockbuf_printf(out,
                         "data: {\"id\":\"%s\",\"object\":\"chat.completion."
                         "chunk\",\"created\":%lld,\"model\":",
                         g->id, g->created);
    rc |= mockbuf_json_str(out, g->model, strlen(g->model));
    rc |= mockbuf_puts(out, ",\"system_fingerprint\":\"fp_mock\",\"choices\":");
    return rc ? -1 : 0;
}

static int
oai_chunk_close(const struct mockapi_gen *g, struct mockbuf *out)
{
    return mockbuf_puts(out,
                        g->include_usage ? ",\"usage\":null}\n\n" : "}\n\n");
}

int
mockapi_sse_head(const struct mockapi_gen *g, struct mockbuf *out)
{
    int rc = 0;

    if (g->proto == MOCKAPI_ANTHROPIC) {
        rc |= mockbuf_printf(out,
                             "event: message_start\ndata: {\"type\":\"message_"
                             "start\",\"message\":{\"id\":\"%s\",\"type\":"
                             "\"message\",\"role\":\"assistant\",\"model\":",
                             g->id);
        rc |= mockbuf_json_str(out, g->model, strlen(g->model));
        rc |= mockbuf_printf(out,
                             ",\"content\":[],\"stop_reason\":null,"
                             "\"stop_sequence\":null,\"usage\":{"
                             "\"input_tokens\":%zu,"
                             "\"cache_creation_input_tokens\":%zu,"
                             "\"cache_read_input_tokens\":%zu,"
                             "\"output_tokens\":1,"
                             "\"service_tier\":\"standard\"}}}\n\n"
                             "event: content_block_start\ndata: {\"type\":"
                             "\"content_block_start\",\"index\":0,"
                             "\"content_block\":{\"type\":\"text\","
                             "\"text\":\"\"}}\n\n"
                             "event: ping\ndata: {\"type\": \"ping\"}\n\n",
                             g->input_tokens, g->cache_write, g->cache_read);
    } else {
        rc |= oai_chunk_open(g, out);
        rc |= mockbuf_puts(out, "[{\"index\":0,\"delta\":{\"role\":"
                                "\"assistant\",\"content\":\"\"},"
                                "\"logprobs\":null,\"finish_reason\":null}]");
        rc |= oai_chunk_close(g, out);
    }
    return rc ? -1 : 0;
}

static int
sse_delta(const struct mockapi_gen *g, size_t chunk, size_t i, int broken,
          struct mockbuf *out)
{
    size_t from, to, n = mockapi_ndeltas(g, chunk);
    int rc = 0;

    delta_range(g, chunk, i, &from, &to);
    if (g->proto == MOCKAPI_ANTHROPIC) {
        rc |= mockbuf_puts(out, "event: content_block_delta\ndata: {\"type\":"
                                "\"content_block_delta\",\"index\":0,"
                                "\"delta\":{\"type\":\"text_delta\","
                                "\"text\":");
        rc |= mockbuf_json_str(out, g->art->text + from, to - from);
        rc |= mockbuf_puts(out, broken ? "\n\n" : "}}\n\n");
    } else {
        rc |= oai_chunk_open(g, out);
        rc |= mockbuf_puts(out, "[{\"index\":0,\"delta\":{\"content\":");
        rc |= mockbuf_json_str(out, g->art->text + from, to - from);
        if (broken)
            return (mockbuf_puts(out, "\n\n") | rc) ? -1 : 0;
        if (i + 1 == n)
            rc |= mockbuf_printf(out,
                                 "},\"logprobs\":null,\"finish_reason\":"
                                 "\"%s\"}]",
                                 mockapi_stop_reason(g));
        else
            rc |= mockbuf_puts(out, "},\"logprobs\":null,"
                                    "\"finish_reason\":null}]");
        rc |= oai_chunk_close(g, out);
    }
    return rc ? -1 : 0;
}

int
mockapi_sse_delta(const struct mockapi_gen *g, size_t chunk, size_t i,
                  struct mockbuf *out)
{
    return sse_delta(g, chunk, i, 0, out);
}

int
mockapi_sse_malformed(const struct mockapi_gen *g, size_t chunk, size_t i,
                      struct mockbuf *out)
{
    return sse_delta(g, chunk, i, 1, out);
}

int
mockapi_sse_tail(const struct mockapi_gen *g, struct mockbuf *out)
{
    int rc = 0;

    if (g->proto == MOCKAPI_ANTHROPIC) {
        rc |= mockbuf_printf(out,
                             "event: content_block_stop\ndata: {\"type\":"
                             "\"content_block_stop\",\"index\":0}\n\n"
                             "event: message_delta\ndata: {\"type\":"
                             "\"message_delta\",\"delta\":{\"stop_reason\":"
                             "\"%s\",\"stop_sequence\":",
                             mockapi_stop_reason(g));
        rc |= json_str_or_null(out, matched_stop(g), 0);
        rc |= mockbuf_printf(out,
                             "},\"usage\":{\"output_tokens\":%zu}}\n\n"
                             "event: message_stop\ndata: {\"type\":"
                             "\"message_stop\"}\n\n",
                             g->reply.ntokens);
    } else {
        if (g->reply.ntokens == 0) {
            /* No content chunk carried the finish_reason: send it alone. */
            rc |= oai_chunk_open(g, out);
            rc |= mockbuf_printf(out,
                                 "[{\"index\":0,\"delta\":{},\"logprobs\":"
                                 "null,\"finish_reason\":\"%s\"}]",
                                 mockapi_stop_reason(g));
            rc |= oai_chunk_close(g, out);
        }
        if (g->include_usage) {
            rc |= oai_chunk_open(g, out);
            rc |= mockbuf_printf(out,
                                 "[],\"usage\":{\"prompt_tokens\":%zu,"
                                 "\"completion_tokens\":%zu,"
                                 "\"total_tokens\":%zu}}\n\n",
                                 g->input_tokens, g->reply.ntokens,
                                 g->input_tokens + g->reply.ntokens);
        }
        rc |= mockbuf_puts(out, "data: [DONE]\n\n");
    }
    return rc ? -1 : 0;
}

int
mockapi_sse_error(const struct mockapi_gen *g, struct mockbuf *out)
{
    if (g->proto == MOCKAPI_ANTHROPIC)
        return mockbuf_puts(out, "event: error\ndata: {\"type\":\"error\","
                                 "\"error\":{\"type\":\"overloaded_error\","
                                 "\"message\":\"Overloaded\"}}\n\n");
    return mockbuf_puts(out, "data: {\"error\":{\"message\":\"Overloaded\","
                             "\"type\":\"server_error\",\"param\":null,"
                             "\"code\":\"overloaded\"}}\n\n");
}
