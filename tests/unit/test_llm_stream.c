/* Unit tests of llm_stream.c: streams of both providers fed whole, byte by
 * byte and in random splits; usage, stop reasons, errors, truncation, caps. */
#include "fmacros.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "errclass.h"
#include "llm.h"
#include "unit.h"
#include "utf8.h"

/* ---- helpers ---------------------------------------------------------- */

/* Stream s into r: mode 0 whole, 1 byte by byte, 2 random splits.
 * Returns the first nonzero feed result, else llm_stream_finish's. */
static int
stream(enum llm_provider p, const char *s, size_t len, int mode, uint64_t seed,
       struct llm_result *r)
{
    struct llm_stream *st = llm_stream_new(p, r);
    cr_assert_not_null(st);
    size_t i = 0;
    int rc = 0;
    while (i < len && rc == 0) {
        size_t n = mode == 0   ? len
                   : mode == 1 ? 1
                               : (size_t)(unit_lcg(&seed) % 23);
        if (n > len - i)
            n = len - i;
        rc = llm_stream_feed(st, s + i, n);
        i += n;
    }
    if (rc == 0)
        rc = llm_stream_finish(st);
    llm_stream_free(st);
    return rc;
}

/* ---- streams -------------------------------------------------------- */

/* Stream s of provider p whole, byte by byte and in 200 random splits:
 * each time the result is w. */
static void
check_all_splits(enum llm_provider p, const char *s, const struct unit_want *w)
{
    struct llm_result r;

    for (uint64_t seed = 0; seed <= 201; seed++) {
        int mode = seed < 2 ? (int)seed : 2; /* whole, bytes, then splits */
        llm_result_init(&r);
        cr_assert_eq(stream(p, s, strlen(s), mode, seed - 1, &r), 0);
        unit_expect_result(&r, w);
        llm_result_free(&r);
    }
}

Test(llm_stream, anthropic_basic_all_splits)
{
    static const struct unit_want w = {"Hello there!",
                                       "msg_4QpJur2dWWDjF6C758FbBw5vm12BaVipnK",
                                       "claude-3-opus-latest",
                                       "end_turn",
                                       "",
                                       11,
                                       6,
                                       0,
                                       0};

    check_all_splits(LLM_ANTHROPIC, unit_anthropic_basic, &w);
}

Test(llm_stream, anthropic_usage_replaces_and_unknown_ignored)
{
    static const char s[] =
        "event: message_start\n"
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":"
        "\"c\",\"content\":[],\"stop_reason\":null,\"usage\":{"
        "\"input_tokens\":5,\"output_tokens\":1}}}\n\n"
        ": keep-alive comment\n\n"
        "event: brand_new_event\n"
        "data: this is not even JSON\n\n"
        "event: ping\n"
        "data: also not JSON\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{"
        "\"type\":\"thinking_delta\",\"thinking\":\"secret\"}}\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{"
        "\"type\":\"text_delta\",\"text\":\"ab\"}}\n\n"
        "event: message_delta\n"
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":null},"
        "\"usage\":{\"output_tokens\":3}}\n\n"
        "event: message_delta\n"
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
        "\"max_tokens\",\"stop_sequence\":null},\"usage\":{\"input_tokens\":"
        "7,\"output_tokens\":7,\"cache_read_input_tokens\":null}}\n\n"
        "event: message_stop\n"
        "data: {\"type\":\"message_stop\"}\n\n";
    struct llm_result r;
    llm_result_init(&r);
    cr_assert_eq(stream(LLM_ANTHROPIC, s, strlen(s), 1, 0, &r), 0);
    cr_assert_str_eq(r.text.data, "ab");
    cr_assert_eq(r.input_tokens, 7);
    cr_assert_eq(r.output_tokens, 7, "cumulative: replaced, not summed");
    cr_assert_str_eq(r.stop_reason, "max_tokens");
    cr_assert(llm_result_truncated_by_length(&r));
    llm_result_free(&r);
}

Test(llm_stream, anthropic_stop_sequence)
{
    static const char s[] =
        "event: message_delta\n"
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
        "\"stop_sequence\",\"stop_sequence\":\"\\n\\nEND\"},\"usage\":{"
        "\"output_tokens\":2}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    struct llm_result r;
    llm_result_init(&r);
    cr_assert_eq(stream(LLM_ANTHROPIC, s, strlen(s), 0, 0, &r), 0);
    cr_assert_str_eq(r.stop_reason, "stop_sequence");
    cr_assert_str_eq(r.stop_sequence, "\n\nEND");
    cr_assert_eq(r.got_first_token, 0);
    llm_result_free(&r);
}

Test(llm_stream, anthropic_midstream_error)
{
    /* first half of the basic transcript, then the documented error event */
    const char *cut = strstr(unit_anthropic_basic, "event: content_block_stop");
    struct buf b;
    buf_init(&b, 0);
    buf_append(&b, unit_anthropic_basic, (size_t)(cut - unit_anthropic_basic));
    buf_append_str(&b, "event: error\n"
                       "data: {\"type\": \"error\", \"error\": {\"type\": "
                       "\"overloaded_error\", \"message\": \"Overloaded\"}}\n"
                       "\n");
    for (int mode = 0; mode < 2; mode++) {
        struct llm_result r;
        llm_result_init(&r);
        cr_assert_eq(stream(LLM_ANTHROPIC, b.data, b.len, mode, 0, &r), -1);
        cr_assert(r.failed);
        cr_assert_eq(r.complete, 0);
        cr_assert_eq(r.err.http_status, 200);
        cr_assert_str_eq(r.err.type, "overloaded_error");
        cr_assert_str_eq(r.err.message, "Overloaded");
        cr_assert_str_eq(r.text.data, "Hello there!", "partial text kept");
        struct err_verdict v = errclass_http(200, r.err.type, -1);
        cr_assert_eq(v.cls, ERRC_RETRYABLE);
        llm_result_free(&r);
    }
    buf_free(&b);
}

Test(llm_stream, anthropic_truncated)
{
    const char *cut = strstr(unit_anthropic_basic, "event: message_stop");
    struct llm_result r;
    for (int mode = 0; mode < 2; mode++) {
        llm_result_init(&r);
        cr_assert_eq(stream(LLM_ANTHROPIC, unit_anthropic_basic,
                            (size_t)(cut - unit_anthropic_basic), mode, 0, &r),
                     -1);
        cr_assert(r.failed);
        cr_assert_str_eq(r.err.type, LLM_ERR_TRUNCATED);
        cr_assert_str_eq(r.text.data, "Hello there!");
        cr_assert_eq(errclass_http(200, r.err.type, -1).cls, ERRC_RETRYABLE);
        llm_result_free(&r);
    }
    /* cut inside the message_stop event itself */
    llm_result_init(&r);
    cr_assert_eq(stream(LLM_ANTHROPIC, unit_anthropic_basic,
                        strlen(unit_anthropic_basic) - 1, 1, 0, &r),
                 -1);
    cr_assert_str_eq(r.err.type, LLM_ERR_TRUNCATED);
    llm_result_free(&r);
    /* nothing at all */
    llm_result_init(&r);
    cr_assert_eq(stream(LLM_ANTHROPIC, "", 0, 0, 0, &r), -1);
    cr_assert_str_eq(r.err.type, LLM_ERR_TRUNCATED);
    llm_result_free(&r);
}

Test(llm_stream, anthropic_malformed)
{
    static const char s[] =
        "event: content_block_delta\n"
        "data: "
        "{\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_de\n"
        "\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    struct llm_result r;
    llm_result_init(&r);
    struct llm_stream *st = llm_stream_new(LLM_ANTHROPIC, &r);
    cr_assert_eq(llm_stream_feed(st, s, strlen(s)), -1);
    cr_assert(r.failed);
    cr_assert_str_eq(r.err.type, LLM_ERR_MALFORMED);
    cr_assert_eq(r.complete, 0, "nothing after the failure is applied");
    cr_assert_eq(llm_stream_feed(st, "\n", 1), -1);
    cr_assert_eq(llm_stream_finish(st), -1);
    cr_assert_str_eq(r.err.type, LLM_ERR_MALFORMED, "first error kept");
    llm_stream_free(st);
    llm_result_free(&r);
}

Test(llm_stream, utf8_text_split_across_chunks)
{
    /* raw UTF-8 in one delta, escaped surrogate pair in the next */
    static const char s[] =
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{"
        "\"type\":\"text_delta\",\"text\":\"h\xc3\xa9llo \xe4\xb8\x96\xe7\x95"
        "\x8c \xf0\x9f\x8e\x89\"}}\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{"
        "\"type\":\"text_delta\",\"text\":\" \\u00e9\\ud83c\\udf89\"}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    const char *want = "h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x8e\x89"
                       " \xc3\xa9\xf0\x9f\x8e\x89";
    for (int mode = 0; mode < 2; mode++) {
        struct llm_result r;
        llm_result_init(&r);
        cr_assert_eq(stream(LLM_ANTHROPIC, s, strlen(s), mode, 0, &r), 0);
        cr_assert_str_eq(r.text.data, want);
        llm_result_free(&r);
    }
    for (uint64_t seed = 1; seed <= 100; seed++) {
        struct llm_result r;
        llm_result_init(&r);
        cr_assert_eq(stream(LLM_ANTHROPIC, s, strlen(s), 2, seed, &r), 0);
        cr_assert_str_eq(r.text.data, want);
        llm_result_free(&r);
    }
}

Test(llm_stream, text_cap)
{
    struct llm_result r;
    llm_result_init(&r);
    r.text.max = 5;
    cr_assert_eq(stream(LLM_ANTHROPIC, unit_anthropic_basic,
                        strlen(unit_anthropic_basic), 1, 0, &r),
                 -1);
    cr_assert(r.failed);
    cr_assert_str_eq(r.err.type, LLM_ERR_MALFORMED);
    cr_assert_str_eq(r.text.data, "Hello");
    llm_result_reset(&r);
    cr_assert_eq(r.text.max, 5, "reset keeps the cap");
    cr_assert_eq(r.failed, 0);
    llm_result_free(&r);
}

Test(llm_stream, openai_all_splits)
{
    static const struct unit_want w = {
        "Hello", "chatcmpl-123", "gpt-4o-mini", "stop", "", 9, 2, 0, 0};

    check_all_splits(LLM_OPENAI, unit_openai_chunks, &w);
}

Test(llm_stream, openai_usage_chunk_choices_null_or_absent)
{
    static const char s[] =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},"
        "\"finish_reason\":\"length\"}]}\n\n"
        "data: {\"choices\":null,\"usage\":{\"prompt_tokens\":4,"
        "\"completion_tokens\":1,\"prompt_tokens_details\":{"
        "\"cached_tokens\":2}}}\n\n"
        "data: {\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":1}}\n\n"
        "data: [DONE]\n\n";
    struct llm_result r;
    llm_result_init(&r);
    cr_assert_eq(stream(LLM_OPENAI, s, strlen(s), 1, 0, &r), 0);
    cr_assert_str_eq(r.text.data, "x");
    cr_assert_eq(r.input_tokens, 4);
    cr_assert_eq(r.output_tokens, 1);
    cr_assert_eq(r.cache_read_input_tokens, 2);
    cr_assert(llm_result_truncated_by_length(&r));
    llm_result_free(&r);
}

Test(llm_stream, openai_truncated_error_malformed)
{
    struct llm_result r;
    const char *done = strstr(unit_openai_chunks, "data: [DONE]");
    llm_result_init(&r);
    cr_assert_eq(stream(LLM_OPENAI, unit_openai_chunks,
                        (size_t)(done - unit_openai_chunks), 1, 0, &r),
                 -1);
    cr_assert_str_eq(r.err.type, LLM_ERR_TRUNCATED);
    cr_assert_str_eq(r.text.data, "Hello");
    llm_result_free(&r);

    static const char err[] =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"
        "data: {\"error\":{\"message\":\"The server had an error\",\"type\":"
        "\"server_error\",\"param\":null,\"code\":null}}\n\n";
    llm_result_init(&r);
    cr_assert_eq(stream(LLM_OPENAI, err, strlen(err), 1, 0, &r), -1);
    cr_assert(r.failed);
    cr_assert_str_eq(r.err.type, "server_error");
    cr_assert_str_eq(r.err.message, "The server had an error");
    cr_assert_eq(errclass_http(200, r.err.type, -1).cls, ERRC_RETRYABLE);
    llm_result_free(&r);

    static const char bad[] = "data: {\"choices\":[{\"index\":0,\n\n";
    llm_result_init(&r);
    cr_assert_eq(stream(LLM_OPENAI, bad, strlen(bad), 0, 0, &r), -1);
    cr_assert_str_eq(r.err.type, LLM_ERR_MALFORMED);
    llm_result_free(&r);
}

Test(llm_stream, oversize_event_fails)
{
    struct buf b;
    buf_init(&b, 0);
    buf_append_str(&b, "data: \"");
    char chunk[4096];
    memset(chunk, 'a', sizeof chunk);
    for (size_t i = 0; i <= LLM_SSE_EVENT_MAX / sizeof chunk; i++)
        buf_append(&b, chunk, sizeof chunk);
    struct llm_result r;
    llm_result_init(&r);
    cr_assert_eq(stream(LLM_OPENAI, b.data, b.len, 0, 0, &r), -1);
    cr_assert_str_eq(r.err.type, LLM_ERR_MALFORMED);
    llm_result_free(&r);
    buf_free(&b);
}

Test(llm_stream, noop)
{
    struct llm_result r;
    llm_result_init(&r);
    cr_assert_eq(stream(LLM_NOOP, "ignored", 7, 0, 0, &r), 0);
    cr_assert(r.complete);
    cr_assert_eq(r.text.len, 0);
    llm_result_free(&r);
    llm_stream_free(NULL);
    llm_result_free(NULL);
}
