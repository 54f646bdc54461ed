/* Unit tests for the streaming fast path (common/llm_stream_fast.c): every
 * stream is decoded with the fast path and without it
 * (llm_stream_set_fastpath), fed whole, byte by byte and in random splits, and
 * all results must be identical; the streams genq-mockllm sends must not need
 * cJSON at all. */
#include "fmacros.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "llm.h"
#include "mockapi.h"
#include "mocktext.h"
#include "unit.h"

/* ---- helpers -------------------------------------------------------- */

struct run {
    struct llm_result r;
    int feed_rc, fin_rc;
    unsigned long cjson; /* events parsed with cJSON */
};

/* Decode s[0..len) as provider p; mode 0: whole, 1: byte by byte, 2: random
 * pieces of 1..97 bytes. text_max: the output cap (0 = default). */
static void
decode(enum llm_provider p, const char *s, size_t len, int fast, int mode,
       uint64_t seed, size_t text_max, struct run *out)
{
    struct llm_stream *st;
    size_t i = 0;

    llm_result_init(&out->r);
    if (text_max)
        out->r.text.max = text_max;
    st = llm_stream_new(p, &out->r);
    cr_assert_not_null(st);
    llm_stream_set_fastpath(st, fast);
    out->feed_rc = 0;
    while (i < len && out->feed_rc == 0) {
        size_t n = mode == 0   ? len
                   : mode == 1 ? 1
                               : 1 + mocktext_splitmix64(&seed) % 97;
        if (n > len - i)
            n = len - i;
        out->feed_rc = llm_stream_feed(st, s + i, n);
        i += n;
    }
    out->fin_rc = llm_stream_finish(st);
    out->cjson = llm_stream_cjson_events(st);
    llm_stream_free(st);
}

static void
assert_same(const struct run *a, const struct run *b, const char *what)
{
    const struct llm_result *x = &a->r, *y = &b->r;

    cr_assert_eq(a->feed_rc, b->feed_rc, "%s: feed rc", what);
    cr_assert_eq(a->fin_rc, b->fin_rc, "%s: finish rc", what);
    cr_assert_eq(x->text.len, y->text.len, "%s: text length %zu vs %zu", what,
                 x->text.len, y->text.len);
    cr_assert(x->text.len == 0 ||
                  memcmp(x->text.data, y->text.data, x->text.len) == 0,
              "%s: text differs", what);
    cr_assert_str_eq(x->id, y->id, "%s: id", what);
    cr_assert_str_eq(x->model, y->model, "%s: model", what);
    cr_assert_str_eq(x->stop_reason, y->stop_reason, "%s: stop_reason", what);
    cr_assert_str_eq(x->stop_sequence, y->stop_sequence, "%s: stop_sequence",
                     what);
    cr_assert_eq(x->input_tokens, y->input_tokens, "%s: input_tokens", what);
    cr_assert_eq(x->output_tokens, y->output_tokens, "%s: output_tokens", what);
    cr_assert_eq(x->cache_creation_input_tokens, y->cache_creation_input_tokens,
                 "%s: cache_creation", what);
    cr_assert_eq(x->cache_read_input_tokens, y->cache_read_input_tokens,
                 "%s: cache_read", what);
    cr_assert_eq(x->complete, y->complete, "%s: complete", what);
    cr_assert_eq(x->text_deltas, y->text_deltas, "%s: text_deltas", what);
    cr_assert_eq(x->got_first_token, y->got_first_token, "%s: first token",
                 what);
    cr_assert_eq(x->failed, y->failed, "%s: failed", what);
    cr_assert_eq(x->err.http_status, y->err.http_status, "%s: status", what);
    cr_assert_str_eq(x->err.type, y->err.type, "%s: err.type", what);
    cr_assert_str_eq(x->err.message, y->err.message, "%s: err.message", what);
    cr_assert_str_eq(x->err.request_id, y->err.request_id, "%s: err.request_id",
                     what);
}

/* Decode s with and without the fast path, whole, byte by byte and in
 * random splits: every result must equal the slow, whole one. When fast_out
 * is not NULL it receives the fast, whole run (free its r). */
static void
check_both(enum llm_provider p, const char *s, size_t len, size_t text_max,
           struct run *fast_out)
{
    struct run ref, got;
    char what[160];

    decode(p, s, len, 0, 0, 0, text_max, &ref);
    for (int fast = 0; fast < 2; fast++) {
        for (int mode = 0; mode < 8; mode++) {
            int m = mode < 2 ? mode : 2;
            decode(p, s, len, fast, m, (uint64_t)mode * 7919, text_max, &got);
            snprintf(what, sizeof what, "%s fast=%d mode=%d cap=%zu: %.80s",
                     llm_provider_name(p), fast, mode, text_max, s);
            assert_same(&ref, &got, what);
            if (!fast)
                cr_assert_eq(got.cjson, ref.cjson);
            if (fast && mode == 0 && fast_out != NULL)
                *fast_out = got;
            else
                llm_result_free(&got.r);
        }
    }
    llm_result_free(&ref.r);
}

static void
check_both_str(enum llm_provider p, const char *s)
{
    check_both(p, s, strlen(s), 0, NULL);
}

/* The fast run of s: results equal to the slow run's, and no event parsed
 * with cJSON. Returns the fast result (caller frees). */
static struct llm_result
fast_only(enum llm_provider p, const char *s)
{
    struct run fr;
    check_both(p, s, strlen(s), 0, &fr);
    cr_assert_eq(fr.cjson, 0, "%lu events needed cJSON: %.200s", fr.cjson, s);
    return fr.r;
}

/* One Anthropic content_block_delta event around a JSON string literal. */
static void
anth_delta(struct buf *b, const char *json_str)
{
    buf_append_str(b, "event: content_block_delta\ndata: {\"type\":"
                      "\"content_block_delta\",\"index\":0,\"delta\":{"
                      "\"type\":\"text_delta\",\"text\":");
    buf_append_str(b, json_str);
    buf_append_str(b, "}}\n\n");
}

static const char anth_stop[] =
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

/* An OpenAI content chunk around a JSON string literal. */
static void
oai_delta(struct buf *b, const char *json_str)
{
    buf_append_str(b, "data: {\"id\":\"c1\",\"object\":\"chat.completion."
                      "chunk\",\"created\":1694268190,\"model\":\"m\","
                      "\"system_fingerprint\":\"fp\",\"choices\":[{"
                      "\"index\":0,\"delta\":{\"content\":");
    buf_append_str(b, json_str);
    buf_append_str(b, "},\"logprobs\":null,\"finish_reason\":null}],"
                      "\"usage\":null}\n\n");
}

static const char oai_first[] =
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":"
    "1694268190,\"model\":\"m\",\"system_fingerprint\":\"fp\",\"choices\":[{"
    "\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
    "\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n";

/* Check a text delta holding json_str (a JSON string literal) with both
 * providers, with the fast path taken everywhere. want: the decoded text
 * (NULL: only compare the two paths, whichever handles it). */
static void
check_text(const char *json_str, const char *want, size_t want_len)
{
    for (int prov = 0; prov < 2; prov++) {
        struct buf b;
        buf_init(&b, 0);
        if (prov) {
            buf_append_str(&b, oai_first);
            oai_delta(&b, json_str);
            buf_append_str(&b, "data: [DONE]\n\n");
        } else {
            anth_delta(&b, json_str);
            buf_append_str(&b, anth_stop);
        }
        enum llm_provider p = prov ? LLM_OPENAI : LLM_ANTHROPIC;
        if (want == NULL) {
            check_both(p, b.data, b.len, 0, NULL);
        } else {
            struct llm_result r = fast_only(p, b.data);
            cr_assert_eq(r.text.len, want_len, "%s: length %zu", json_str,
                         r.text.len);
            cr_assert(memcmp(r.text.data ? r.text.data : "", want, want_len) ==
                          0,
                      "%s: text", json_str);
            llm_result_free(&r);
        }
        buf_free(&b);
    }
}

/* ---- the mock's streams --------------------------------------------- */

/* The SSE body genq-mockllm sends for the request req (JSON): head, the
 * deltas of chunk tokens each, tail. fault 'e': an error event after two
 * deltas; 'm': the second delta cut short (both end the stream there).
 * want receives the reply text. */
static void
mock_stream(enum mockapi_proto proto, const char *req, size_t chunk, int fault,
            struct mockbuf *out, struct buf *want)
{
    cJSON *body = cJSON_Parse(req);
    struct mockapi_gen g;
    struct mockapi_error err;

    cr_assert_not_null(body);
    cr_assert_eq(mockapi_gen_parse(proto, body, 50, &g, &err), 0, "%s: %s", req,
                 err.message);
    snprintf(g.id, sizeof g.id, "%s",
             proto == MOCKAPI_ANTHROPIC ? "msg_mock0001" : "chatcmpl-mock01");
    g.created = 1700000000;
    cr_assert_eq(mockapi_sse_head(&g, out), 0);
    size_t n = mockapi_ndeltas(&g, chunk);
    for (size_t i = 0; i < n; i++) {
        if (fault == 'm' && i == 1) {
            cr_assert_eq(mockapi_sse_malformed(&g, chunk, i, out), 0);
            break;
        }
        if (fault == 'e' && i == 2) {
            cr_assert_eq(mockapi_sse_error(&g, out), 0);
            break;
        }
        cr_assert_eq(mockapi_sse_delta(&g, chunk, i, out), 0);
    }
    if (fault == 0)
        cr_assert_eq(mockapi_sse_tail(&g, out), 0);
    buf_append(want, g.art->text + g.reply.start, g.reply.end - g.reply.start);
    mockapi_gen_free(&g);
    cJSON_Delete(body);
}

static const char *const mock_reqs[] = {
    "{\"model\":\"m\",\"max_tokens\":50,\"stream\":true,\"messages\":[{"
    "\"role\":\"user\",\"content\":\"hello there\"}]}",
    "{\"model\":\"claude-x\",\"max_tokens\":7,\"stream\":true,\"messages\":[{"
    "\"role\":\"user\",\"content\":\"another prompt [mock:tokens=200]\"}]}",
    "{\"model\":\"m\",\"max_tokens\":300,\"stream\":true,\"messages\":[{"
    "\"role\":\"user\",\"content\":\"short one [mock:tokens=12]\"}]}",
    "{\"model\":\"m\",\"max_tokens\":100,\"stream\":true,\"stop_sequences\":["
    "\"queue\",\"caf\\u00e9\"],\"stop\":[\"queue\",\"caf\\u00e9\"],"
    "\"messages\":[{\"role\":\"user\",\"content\":\"stop me\"}]}",
    "{\"model\":\"m\\\"odd\",\"max_tokens\":1,\"stream\":true,\"messages\":[{"
    "\"role\":\"user\",\"content\":\"nothing\"}]}",
};

static void
check_mock(enum mockapi_proto proto, const char *req, size_t chunk, int fault)
{
    enum llm_provider p =
        proto == MOCKAPI_ANTHROPIC ? LLM_ANTHROPIC : LLM_OPENAI;
    struct mockbuf mb = {0};
    struct buf want;
    struct run fr;

    buf_init(&want, 0);
    mock_stream(proto, req, chunk, fault, &mb, &want);
    check_both(p, mb.data, mb.len, 0, &fr);
    if (fault == 0) {
        cr_assert_eq(fr.fin_rc, 0, "%s: %s", fr.r.err.type, fr.r.err.message);
        cr_assert_eq(fr.r.text.len, want.len);
        cr_assert(want.len == 0 ||
                  memcmp(fr.r.text.data, want.data, want.len) == 0);
        cr_assert_eq(fr.cjson, 0, "%s chunk %zu: %lu events needed cJSON", req,
                     chunk, fr.cjson);
    } else {
        cr_assert(fr.r.failed);
        /* only the broken or error event goes to cJSON */
        cr_assert_eq(fr.cjson, 1, "%s: %lu events needed cJSON", req, fr.cjson);
    }
    /* every text cap, up to just past the whole text */
    for (size_t cap = 1; cap <= want.len + 2; cap += 1 + cap / 8)
        check_both(p, mb.data, mb.len, cap, NULL);
    llm_result_free(&fr.r);
    buf_free(&want);
    mockbuf_free(&mb);
}

Test(llm_fast, mock_anthropic_streams)
{
    for (size_t i = 0; i < sizeof mock_reqs / sizeof mock_reqs[0]; i++)
        for (size_t chunk = 1; chunk <= 3; chunk++)
            check_mock(MOCKAPI_ANTHROPIC, mock_reqs[i], chunk, 0);
}

Test(llm_fast, mock_openai_streams)
{
    static const char *const usage[] = {
        "{\"model\":\"gpt-x\",\"max_tokens\":50,\"stream\":true,"
        "\"stream_options\":{\"include_usage\":true},\"messages\":[{"
        "\"role\":\"user\",\"content\":\"hello there\"}]}",
        "{\"model\":\"gpt-x\",\"max_tokens\":1,\"stream\":true,"
        "\"stream_options\":{\"include_usage\":true},\"messages\":[{"
        "\"role\":\"user\",\"content\":\"hello there\"}]}",
    };
    for (size_t i = 0; i < sizeof mock_reqs / sizeof mock_reqs[0]; i++)
        for (size_t chunk = 1; chunk <= 3; chunk++)
            check_mock(MOCKAPI_OPENAI, mock_reqs[i], chunk, 0);
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++)
        check_mock(MOCKAPI_OPENAI, usage[i], 1, 0);
}

Test(llm_fast, mock_error_and_malformed_events)
{
    for (int proto = 0; proto < 2; proto++) {
        check_mock((enum mockapi_proto)proto, mock_reqs[0], 1, 'e');
        check_mock((enum mockapi_proto)proto, mock_reqs[0], 2, 'm');
    }
}

/* ---- escapes -------------------------------------------------------- */

Test(llm_fast, escapes_decoded_on_the_fast_path)
{
    static const struct {
        const char *json, *want;
        size_t len;
    } cases[] = {
        {"\"a\\nb\"", "a\nb", 3},
        {"\"q\\\"q\"", "q\"q", 3},
        {"\"back\\\\slash\"", "back\\slash", 10},
        {"\"sl\\/ash\"", "sl/ash", 6},
        {"\"\\b\\f\\n\\r\\t\"", "\b\f\n\r\t", 5},
        {"\"\\u0041\\u00e9\\u20AC\"", "A\xc3\xa9\xe2\x82\xac", 6},
        {"\"\\u0001\\u001f\\u007f\\u0080\\u07ff\\u0800\\uffff\"",
         "\x01\x1f\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf", 13},
        {"\"\\ud83d\\ude80!\"", "\xf0\x9f\x9a\x80!", 5},
        {"\"\\uD800\\uDC00\\uDBFF\\uDFFF\"", "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf",
         8},
        {"\"raw \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80\"",
         "raw \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80", 15},
        {"\"\"", "", 0},
        {"\"\\\\u0041\"", "\\u0041", 6},
        {"\"tab\there\"", "tab\there", 8}, /* raw control bytes: kept */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_text(cases[i].json, cases[i].want, cases[i].len);
}

Test(llm_fast, bad_escapes_and_surrogates_same_as_cjson)
{
    static const char *const cases[] = {
        "\"\\ud83d\"",        /* lone high surrogate */
        "\"\\ud83dx\"",       /* high surrogate, then a character */
        "\"\\ud83d\\n\"",     /* high surrogate, then another escape */
        "\"\\ud83d\\u0041\"", /* high surrogate, then no low one */
        "\"\\ud83d\\ud83d\"", /* two high surrogates */
        "\"\\udbff\\udbff\"", /* idem, top of the range */
        "\"\\ud800\\ue000\"", /* just past the low range */
        "\"\\ude80\"",        /* lone low surrogate */
        "\"\\ude80\\ud83d\"", /* reversed pair */
        "\"a\\u0000b\"",      /* NUL: cJSON's strlen cuts the text */
        "\"\\u00\"",          /* short */
        "\"\\u00zz\"",        /* not hex (cJSON reads it as 0) */
        "\"\\uzzzz\"",        /* idem */
        "\"\\ud83d\\uzzzz\"", /* bad hex in the low half */
        "\"\\x41\"",          /* unknown escape */
        "\"\\'\"",            /* unknown escape */
        "\"\\",               /* cut in an escape */
        "\"\\u",              /* cut in a \u */
        "\"\\ud83d\\u",       /* cut in the low half */
        "\"abc",              /* unterminated */
        "\"a\\\"",            /* escaped quote, then unterminated */
        "\"\xff\xfe invalid UTF-8 \xc3\"", /* raw bytes are copied */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_text(cases[i], NULL, 0);
    /* a raw NUL inside the text */
    for (int prov = 0; prov < 2; prov++) {
        struct buf b;
        buf_init(&b, 0);
        if (prov)
            oai_delta(&b, "\"a\x01z\"");
        else
            anth_delta(&b, "\"a\x01z\"");
        char *nul = memchr(b.data, '\x01', b.len);
        *nul = '\0';
        check_both(prov ? LLM_OPENAI : LLM_ANTHROPIC, b.data, b.len, 0, NULL);
        buf_free(&b);
    }
}

Test(llm_fast, text_cap_with_escapes)
{
    struct buf b;
    buf_init(&b, 0);
    anth_delta(&b, "\"\\u00e9\\u00e9\\ud83d\\ude80\\n\\\"xy\"");
    anth_delta(&b, "\"\\u20ac\"");
    buf_append_str(&b, anth_stop);
    for (size_t cap = 1; cap <= 16; cap++)
        check_both(LLM_ANTHROPIC, b.data, b.len, cap, NULL);
    buf_free(&b);
}

/* ---- layouts the canonical matchers do not take ----------------------- */

Test(llm_fast, other_layouts_same_as_cjson)
{
    static const char *const anth[] = {
        /* whitespace, key order, extra and duplicate keys */
        "event: content_block_delta\ndata: { \"type\" : \"content_block_"
        "delta\" , \"index\" : 0 , \"delta\" : { \"type\" : \"text_delta\" , "
        "\"text\" : \"a b\" } }\n\n",
        "event: content_block_delta\ndata: {\"delta\":{\"text\":\"x\","
        "\"type\":\"text_delta\"},\"index\":3,\"type\":\"content_block_delta\"}"
        "\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
        "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"1\"},"
        "\"delta\":{\"type\":\"text_delta\",\"text\":\"2\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
        "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"1\","
        "\"text\":\"2\",\"extra\":[1,2.5e3,-0,{\"k\":[true,false,null]}]}}\n\n",
        /* other delta types, missing or odd text */
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
        "\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":"
        "\"hm\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
        "\"index\":0,\"delta\":{\"type\":\"text_delta\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
        "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":7}}\n\n",
        "event: content_block_delta\ndata: {\"delta\":{\"type\":\"text\\u005f"
        "delta\",\"text\":\"esc type\"}}\n\n",
        "event: content_block_delta\ndata: {\"delta\":{\"typ\\u0065\":"
        "\"text_delta\",\"text\":\"esc key\"}}\n\n",
        "event: content_block_delta\ndata: {\"delta\":[\"text_delta\"]}\n\n",
        "event: content_block_delta\ndata: {\"delta\":\"text_delta\"}\n\n",
        /* unnamed events: the JSON type decides */
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{"
        "\"type\":\"text_delta\",\"text\":\"unnamed\"}}\n\n",
        "data: {\"type\":\"content_block_\\u0064elta\",\"delta\":{\"type\":"
        "\"text_delta\",\"text\":\"esc\"}}\n\n",
        "data: {\"type\":\"content_block_delta\\u0058\",\"delta\":{\"type\":"
        "\"text_delta\",\"text\":\"longer type\"}}\n\n",
        "event: content_block_delta\ndata: {\"delta\":{\"type\":\"text_delta"
        "\\u0021\",\"text\":\"longer delta type\"}}\n\n",
        "data: {\"type\":\"ping\"}\n\ndata: {\"index\":0}\n\n"
        "data: {\"type\":\"message_stop\"}\n\n",
        /* message_start / message_delta field by field */
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{"
        "\"id\":\"msg_\\u00e9\\\"x\",\"model\":\"m\\/1\",\"usage\":{"
        "\"input_tokens\":12,\"output_tokens\":1.0,"
        "\"cache_creation_input_tokens\":3e2,\"cache_read_input_tokens\":-4}}}"
        "\n\n",
        "event: message_start\ndata: {\"message\":{\"id\":7,\"usage\":{"
        "\"input_tokens\":9999999999999999,\"output_tokens\":8999999999999999,"
        "\"cache_read_input_tokens\":1e999}}}\n\n",
        "event: message_start\ndata: {\"message\":{\"usage\":{"
        "\"input_tokens\":9000000000000000,\"output_tokens\":"
        "8999999999999999.5,\"cache_read_input_tokens\":-0.0,"
        "\"cache_creation_input_tokens\":123456789012345678}}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
        "\"index\":1234567890123456789012345678901234567890123456789012345678"
        "901234567890,\"delta\":{\"type\":\"text_delta\",\"text\":\"i\"}}\n\n",
        "event: message_start\ndata: {\"message\":[1]}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{"
        "\"stop_reason\":\"stop_sequence\",\"stop_sequence\":\"\\n\\nEND\\u00e9"
        "\"},\"usage\":{\"output_tokens\":00042,\"input_tokens\":null}}\n\n",
        "event: message_delta\ndata: {\"delta\":{\"stop_reason\":\"a\","
        "\"stop_sequence\":\"X\"}}\n\nevent: message_delta\ndata: {\"delta\":{"
        "\"stop_reason\":null,\"stop_sequence\":null}}\n\n"
        "event: message_delta\ndata: {\"delta\":{}}\n\n",
        "event: message_delta\ndata: {\"delta\":{\"stop_reason\":null,"
        "\"stop_sequence\":5},\"usage\":{\"output_tokens\":\"7\"}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\","
        "\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"pre\\t\"}}"
        "\n\n",
        "event: content_block_start\ndata: {\"content_block\":{\"type\":"
        "\"tool_use\",\"text\":\"no\"}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\",\"x\":{}}\n\n",
        "event: message_stop\ndata: [1]\n\n",
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
        "\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
        "data: {\"type\":\"error\",\"error\":{\"message\":\"x\"}}\n\n",
    };
    static const char *const oai[] = {
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},"
        "\"finish_reason\":\"length\"}]}\n\n"
        "data: {\"choices\":null,\"usage\":{\"prompt_tokens\":4,"
        "\"completion_tokens\":1,\"prompt_tokens_details\":{"
        "\"cached_tokens\":2}}}\n\n",
        "data: {\"id\":\"a\",\"model\":\"b\",\"choices\":[{\"index\":1,"
        "\"delta\":{\"content\":\"other choice\"}},{\"index\":0,\"delta\":{"
        "\"content\":\"mine\"},\"finish_reason\":\"stop\"}]}\n\n",
        "data: {\"id\":\"a\",\"model\":\"b\",\"choices\":[{\"index\":-1,"
        "\"delta\":{\"content\":\"negative\"}},{\"index\":\"1\",\"delta\":{"
        "\"content\":\"string index\"}}]}\n\n",
        "data: {\"id\":\"a\",\"model\":\"b\",\"choices\":{\"a\":[{\"index\":0,"
        "\"delta\":{\"content\":\"not a choice\"}}],\"b\":{\"delta\":{"
        "\"content\":\"a choice\"}}}}\n\n",
        "data: {\"id\":\"a\",\"model\":\"b\",\"choices\":{\"k\":{\"index\":0,"
        "\"delta\":{\"content\":\"object choices\"}}}}\n\n",
        "data: {\"id\":\"a\",\"model\":\"b\",\"choices\":[{\"index\":0.0,"
        "\"delta\":{\"content\":\"zero\"}},{\"index\":-0,\"delta\":{"
        "\"content\":\"minus zero\"}},{\"index\":1e-400,\"delta\":{"
        "\"content\":\"tiny\"}}]}\n\n",
        "data: {\"id\":\"\",\"model\":\"\",\"choices\":[{\"delta\":{"
        "\"content\":\"empty id\"}}],\"usage\":{\"prompt_tokens\":1}}\n\n",
        "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"created\":"
        "1,\"model\":\"m\",\"service_tier\":\"default\",\"obfuscation\":\"ab\","
        "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
        "\"content\":\"\\u00e9\",\"refusal\":null},\"logprobs\":null,"
        "\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"x\",\"model\":\"m\",\"choices\":[{\"index\":0,"
        "\"delta\":{\"content\":null,\"tool_calls\":[{\"index\":0}]}}]}\n\n",
        "data: {\"error\":null,\"id\":\"x\",\"model\":\"m\",\"choices\":[{"
        "\"delta\":{\"content\":\"err null\"}}]}\n\n",
        "data: {\"error\":{\"message\":\"boom\",\"type\":\"server_error\","
        "\"param\":null,\"code\":null}}\n\n",
        "data: {\"error\":\"plain\"}\n\n",
        "event: error\ndata: {\"message\":\"named\"}\n\n",
        "data: {\"id\":\"x\",\"model\":\"m\",\"choices\":[]}\n\n"
        "data: [DONE] and more\n\n",
    };
    for (size_t i = 0; i < sizeof anth / sizeof anth[0]; i++) {
        check_both_str(LLM_ANTHROPIC, anth[i]);
        struct buf b;
        buf_init(&b, 0);
        buf_append_str(&b, anth[i]);
        buf_append_str(&b, anth_stop);
        check_both_str(LLM_ANTHROPIC, b.data);
        buf_free(&b);
    }
    for (size_t i = 0; i < sizeof oai / sizeof oai[0]; i++) {
        check_both_str(LLM_OPENAI, oai[i]);
        struct buf b;
        buf_init(&b, 0);
        buf_append_str(&b, oai_first);
        buf_append_str(&b, oai[i]);
        buf_append_str(&b, "data: [DONE]\n\n");
        check_both_str(LLM_OPENAI, b.data);
        buf_free(&b);
    }
}

Test(llm_fast, message_fields_without_cjson)
{
    static const char s[] =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{"
        "\"id\":\"msg_\\u00e9\",\"type\":\"message\",\"role\":\"assistant\","
        "\"model\":\"claude \\\"q\\\"\",\"content\":[],\"stop_reason\":null,"
        "\"stop_sequence\":null,\"usage\":{\"input_tokens\":11,"
        "\"cache_creation_input_tokens\":2,\"cache_read_input_tokens\":3,"
        "\"output_tokens\":1,\"service_tier\":\"standard\"}}}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\","
        "\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
        "event: ping\ndata: {\"type\": \"ping\"}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
        "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n"
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
        "\"index\":0}\n\n"
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{"
        "\"stop_reason\":\"stop_sequence\",\"stop_sequence\":\"\\nEND\"},"
        "\"usage\":{\"output_tokens\":6}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    struct llm_result r = fast_only(LLM_ANTHROPIC, s);
    unit_expect_result(&r, &(struct unit_want){"Hi", "msg_\xc3\xa9",
                                               "claude \"q\"", "stop_sequence",
                                               "\nEND", 11, 6, 2, 3});
    llm_result_free(&r);
}

Test(llm_fast, long_and_invalid_fields_cut_alike)
{
    /* ids longer than the field, with escapes and multi-byte characters
     * straddling the cut at every offset, and invalid UTF-8 */
    for (int shift = 0; shift < 8; shift++) {
        struct buf b, id;
        buf_init(&b, 0);
        buf_init(&id, 0);
        buf_append(&id, "abcdefgh", (size_t)shift);
        for (int i = 0; i < 60; i++)
            buf_append_str(&id, i % 3 == 0   ? "\\ud83d\\ude80x\\u20ac"
                                : i % 3 == 1 ? "\\u00e9"
                                             : "\xc3\xa9\xe6\x97\xa5");
        buf_append_str(&b, "event: message_start\ndata: {\"message\":{"
                           "\"id\":\"");
        buf_append(&b, id.data, id.len);
        buf_append_str(&b, "\",\"model\":\"\xff\xc3(bad\"}}\n\n");
        buf_append_str(&b, "event: message_delta\ndata: {\"delta\":{"
                           "\"stop_reason\":\"");
        buf_append(&b, id.data, id.len);
        buf_append_str(&b, "\",\"stop_sequence\":\"");
        buf_append(&b, id.data, id.len);
        buf_append(&b, id.data, id.len);
        buf_append_str(&b, "\"}}\n\n");
        buf_append_str(&b, anth_stop);
        check_both_str(LLM_ANTHROPIC, b.data);
        buf_free(&b);
        buf_free(&id);
    }
}

/* ---- malformed and mutated input --------------------------------------- */

Test(llm_fast, every_truncation_same_as_cjson)
{
    static const char *const events[] = {
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
        "\"text_delta\",\"text\":\"a\\u00e9\\ud83d\\ude80\\n\"}}",
        "{\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":"
        "\"c\",\"content\":[],\"usage\":{\"input_tokens\":5,\"output_tokens\":"
        "1.5e1}}}",
        "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,"
        "\"model\":\"m\",\"system_fingerprint\":null,\"choices\":[{\"index\":"
        "0,\"delta\":{\"content\":\"t\\\"x\"},\"logprobs\":null,"
        "\"finish_reason\":null}],\"usage\":null}",
    };
    for (size_t e = 0; e < sizeof events / sizeof events[0]; e++) {
        size_t n = strlen(events[e]);
        for (size_t cut = 0; cut <= n; cut++) {
            for (int prov = 0; prov < 2; prov++) {
                struct buf b;
                buf_init(&b, 0);
                if (prov) {
                    buf_append_str(&b, oai_first);
                    buf_append_str(&b, "data: ");
                } else {
                    buf_append_str(&b, "event: content_block_delta\ndata: ");
                }
                buf_append(&b, events[e], cut);
                /* also with trailing bytes cJSON ignores or rejects */
                buf_append_str(&b, cut % 3 == 0   ? "\n\n"
                                   : cut % 3 == 1 ? " x\n\n"
                                                  : "}\n\n");
                buf_append_str(&b, prov ? "data: [DONE]\n\n" : anth_stop);
                check_both(prov ? LLM_OPENAI : LLM_ANTHROPIC, b.data, b.len, 0,
                           NULL);
                buf_free(&b);
            }
        }
    }
}

Test(llm_fast, odd_json_same_as_cjson)
{
    static const char *const data[] = {
        "",
        "null",
        "[]",
        "\"str\"",
        "\xef\xbb\xbf{\"type\":\"message_stop\"}", /* BOM: cJSON skips it */
        "{\"type\":\"message_stop\"}garbage",
        "{\"type\":\"message_stop\"} {}",
        "{\"type\":\"message_stop\",}",
        "{,\"type\":\"message_stop\"}",
        "{\"type\" \"message_stop\"}",
        "{\"type\":\"message_stop\"\x01}", /* control byte as whitespace */
        "\x0b{\"type\":\"message_stop\"}",
        "{\"type\":\"message_stop\",\"n\":01}",
        "{\"type\":\"message_stop\",\"n\":1.}",
        "{\"type\":\"message_stop\",\"n\":.5}",
        "{\"type\":\"message_stop\",\"n\":+1}",
        "{\"type\":\"message_stop\",\"n\":1e}",
        "{\"type\":\"message_stop\",\"n\":1e+}",
        "{\"type\":\"message_stop\",\"n\":-}",
        "{\"type\":\"message_stop\",\"n\":0x10}",
        "{\"type\":\"message_stop\",\"n\":1-2}",
        "{\"type\":\"message_stop\",\"n\":"
        "123456789012345678901234567890123456789012345678901234567890123456789"
        "}",
        "{\"type\":\"message_stop\",\"n\":Infinity}",
        "{\"type\":\"message_stop\",\"n\":tru}",
        "{\"type\":\"message_stop\",\"n\":nul}",
        "{\"type\":\"message_stop\",\"n\":[1,]}",
        "{\"type\":\"message_stop\",\"n\":[[[[[[[[[[[[1]]]]]]]]]]]]}",
        "{\"type\":\"message_stop\",\"n\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":"
        "{\"f\":{\"g\":{\"h\":{}}}}}}}}}}",
        "{\"type\":\"message_stop\",\"\\u0074ype\":1}",
        "{\"type\":\"message_stop\",\"k\\u0000\":1}",
    };
    char ev[4096];
    for (size_t i = 0; i < sizeof data / sizeof data[0]; i++) {
        snprintf(ev, sizeof ev, "event: message_stop\ndata: %s\n\n", data[i]);
        check_both_str(LLM_ANTHROPIC, ev);
        snprintf(ev, sizeof ev, "data: %s\n\n", data[i]);
        check_both_str(LLM_ANTHROPIC, ev);
        check_both_str(LLM_OPENAI, ev);
    }
    /* many members: more tokens than the scanner keeps */
    struct buf b;
    buf_init(&b, 0);
    buf_append_str(&b, "event: message_delta\ndata: {\"delta\":{"
                       "\"stop_reason\":\"end_turn\"},\"x\":[");
    for (int i = 0; i < 300; i++)
        buf_append_str(&b, i ? ",1" : "1");
    buf_append_str(&b, "],\"usage\":{\"output_tokens\":3}}\n\n");
    check_both_str(LLM_ANTHROPIC, b.data);
    buf_free(&b);
}

Test(llm_fast, random_mutations_same_as_cjson)
{
    struct mockbuf mb[2] = {0};
    struct buf want;
    uint64_t seed = 42;

    buf_init(&want, 0);
    mock_stream(MOCKAPI_ANTHROPIC, mock_reqs[0], 1, 0, &mb[0], &want);
    mock_stream(MOCKAPI_OPENAI, mock_reqs[0], 1, 0, &mb[1], &want);
    for (int prov = 0; prov < 2; prov++) {
        for (int iter = 0; iter < 150; iter++) {
            char *s = malloc(mb[prov].len);
            cr_assert_not_null(s);
            memcpy(s, mb[prov].data, mb[prov].len);
            int nmut = 1 + (int)(mocktext_splitmix64(&seed) % 4);
            for (int k = 0; k < nmut; k++) {
                static const char pick[] = "\"\\{}[]:,0 \nue-.";
                size_t at = mocktext_splitmix64(&seed) % mb[prov].len;
                uint64_t how = mocktext_splitmix64(&seed);
                s[at] = how & 1 ? pick[(how >> 1) % (sizeof pick - 1)]
                                : (char)(how >> 8);
            }
            check_both(prov ? LLM_OPENAI : LLM_ANTHROPIC, s, mb[prov].len, 0,
                       NULL);
            free(s);
        }
        mockbuf_free(&mb[prov]);
    }
    buf_free(&want);
}

/* js_str skips eight plain bytes at a time: an escape, a raw UTF-8 or
 * control byte at every place of texts around that size, and texts ending
 * at every distance from the event's end, all decode as cJSON does. */
Test(llm_fast, every_place_of_a_special_byte_same_as_cjson)
{
    static const char *const specials[] = {
        "\\\"", "\\\\", "\\n", "\\u00e9", "\xc3\xa9", "\t", "\\ud83d\\ude80"};
    struct buf b, t;

    buf_init(&b, 0);
    buf_init(&t, 0);
    for (size_t s = 0; s < sizeof specials / sizeof specials[0]; s++)
        for (size_t len = 1; len <= 19; len++)
            for (size_t pos = 0; pos <= len; pos++) {
                buf_reset(&t);
                buf_append_str(&t, "\"");
                for (size_t i = 0; i < len; i++) {
                    if (i == pos)
                        buf_append_str(&t, specials[s]);
                    buf_append(&t, &"abcdefgh"[i % 8], 1);
                }
                if (pos == len)
                    buf_append_str(&t, specials[s]);
                buf_append_str(&t, "\"");
                buf_reset(&b);
                anth_delta(&b, t.data);
                buf_append_str(&b, anth_stop);
                check_both(LLM_ANTHROPIC, b.data, b.len, 0, NULL);
            }
    buf_free(&b);
    buf_free(&t);
}
