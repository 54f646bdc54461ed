/* Unit tests of llm_response.c: whole response bodies of both providers,
 * 2xx and error bodies, proxy pages, malformed bodies, UTF-8-safe fields. */
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

/* ---- non-streaming bodies ------------------------------------------- */

static int
parse(enum llm_provider p, int status, const char *body, const char *rid,
      struct llm_result *r)
{
    llm_result_init(r);
    return llm_parse_body(p, status, body, strlen(body), rid, r);
}

/* parse() of an error body: understood (0), failed, with this type. The
 * caller frees r. */
static void
parse_error(enum llm_provider p, int status, const char *body, const char *rid,
            const char *type, struct llm_result *r)
{
    cr_assert_eq(parse(p, status, body, rid, r), 0, "%s", body);
    cr_assert(r->failed, "%s", body);
    cr_assert_str_eq(r->err.type, type, "%s", body);
}

Test(llm_parse, anthropic_200)
{
    struct llm_result r;
    cr_assert_eq(
        parse(LLM_ANTHROPIC, 200,
              "{\"id\":\"msg_013Zva2CMHLNnXjNJJKqJ2EF\",\"type\":\"message\","
              "\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\","
              "\"content\":[{\"type\":\"thinking\",\"thinking\":\"hmm\"},"
              "{\"type\":\"text\",\"text\":\"Hi! \"},{\"type\":\"text\","
              "\"text\":\"How can I help?\"}],"
              "\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
              "\"usage\":{\"input_tokens\":12,\"output_tokens\":9,"
              "\"cache_creation_input_tokens\":3,"
              "\"cache_read_input_tokens\":4}}",
              "req_1", &r),
        0);
    unit_expect_result(&r, &(struct unit_want){"Hi! How can I help?",
                                               "msg_013Zva2CMHLNnXjNJJKqJ2EF",
                                               "claude-sonnet-4-5", "end_turn",
                                               "", 12, 9, 3, 4});
    cr_assert_str_eq(r.err.request_id, "req_1");
    cr_assert_eq(llm_result_truncated_by_length(&r), 0);
    llm_result_free(&r);

    cr_assert_eq(parse(LLM_ANTHROPIC, 200,
                       "{\"content\":[{\"type\":\"text\",\"text\":\"a\"}],"
                       "\"stop_reason\":\"max_tokens\",\"usage\":{}}",
                       NULL, &r),
                 0);
    cr_assert(llm_result_truncated_by_length(&r));
    llm_result_free(&r);
}

Test(llm_parse, openai_200)
{
    struct llm_result r;
    cr_assert_eq(
        parse(LLM_OPENAI, 200,
              "{\"id\":\"chatcmpl-123\",\"object\":\"chat.completion\","
              "\"created\":1694268190,\"model\":\"gpt-4o-mini\","
              "\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[{"
              "\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
              "\"Hello!\",\"refusal\":null},\"logprobs\":null,"
              "\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":9,"
              "\"completion_tokens\":3,\"total_tokens\":12}}",
              NULL, &r),
        0);
    cr_assert_eq(r.failed, 0);
    cr_assert(r.complete);
    cr_assert_str_eq(r.text.data, "Hello!");
    cr_assert_str_eq(r.model, "gpt-4o-mini");
    cr_assert_str_eq(r.stop_reason, "length");
    cr_assert(llm_result_truncated_by_length(&r));
    cr_assert_eq(r.input_tokens, 9);
    cr_assert_eq(r.output_tokens, 3);
    llm_result_free(&r);
}

Test(llm_parse, anthropic_error_bodies)
{
    struct llm_result r;
    const char *nf =
        "{\"type\":\"error\",\"error\":{\"type\":\"not_found_error\","
        "\"message\":\"The requested resource could not be "
        "found.\"},\"request_id\":\"req_011CSHoEeqs5C35K2UUqR7Fy\"}";
    cr_assert_eq(parse(LLM_ANTHROPIC, 404, nf, NULL, &r), 0);
    cr_assert(r.failed);
    cr_assert_eq(r.complete, 0);
    cr_assert_eq(r.err.http_status, 404);
    cr_assert_str_eq(r.err.type, "not_found_error");
    cr_assert_str_eq(r.err.message,
                     "The requested resource could not be found.");
    cr_assert_str_eq(r.err.request_id, "req_011CSHoEeqs5C35K2UUqR7Fy");
    llm_result_free(&r);

    /* the header wins over the body */
    cr_assert_eq(parse(LLM_ANTHROPIC, 404, nf, "req_header", &r), 0);
    cr_assert_str_eq(r.err.request_id, "req_header");
    llm_result_free(&r);

    parse_error(LLM_ANTHROPIC, 429,
                "{\"type\":\"error\",\"error\":{\"type\":"
                "\"rate_limit_error\",\"message\":\"Number of requests "
                "has exceeded your rate limit\"},\"request_id\":"
                "\"req_mock0001\"}",
                "req_mock0001", "rate_limit_error", &r);
    cr_assert_eq(errclass_http(429, r.err.type, -1).cls, ERRC_RETRYABLE);
    llm_result_free(&r);

    /* an error object inside a 200 is an error too */
    parse_error(LLM_ANTHROPIC, 200,
                "{\"type\":\"error\",\"error\":{\"type\":\"api_error\","
                "\"message\":\"boom\"}}",
                NULL, "api_error", &r);
    llm_result_free(&r);
}

Test(llm_parse, openai_error_bodies)
{
    struct llm_result r;
    /* error.code is preferred to error.type */
    parse_error(LLM_OPENAI, 429,
                "{\"error\":{\"message\":\"Rate limit reached for ... on "
                "tokens per min. Limit: 10000 / min. Please try again "
                "in 6ms.\",\"type\":\"tokens\",\"param\":null,"
                "\"code\":\"rate_limit_exceeded\"}}",
                "req_abc", "rate_limit_exceeded", &r);
    cr_assert(strncmp(r.err.message, "Rate limit reached", 18) == 0);
    cr_assert_str_eq(r.err.request_id, "req_abc");
    llm_result_free(&r);

    parse_error(LLM_OPENAI, 429,
                "{\"error\":{\"message\":\"You exceeded your current "
                "quota, please check your plan and billing details.\","
                "\"type\":\"insufficient_quota\",\"param\":null,"
                "\"code\":\"insufficient_quota\"}}",
                NULL, "insufficient_quota", &r);
    cr_assert_eq(errclass_http(429, r.err.type, -1).cls, ERRC_NOT_JOB);
    llm_result_free(&r);

    /* a null code: error.type */
    parse_error(LLM_OPENAI, 400,
                "{\"error\":{\"message\":\"bad\",\"type\":"
                "\"invalid_request_error\",\"param\":\"x\",\"code\":"
                "null}}",
                NULL, "invalid_request_error", &r);
    llm_result_free(&r);
}

Test(llm_parse, non_json_error_and_malformed_200)
{
    struct llm_result r;
    cr_assert_eq(parse(LLM_ANTHROPIC, 502,
                       "<html>\r\n<head><title>502 Bad Gateway</title></head>"
                       "\r\n</html>",
                       NULL, &r),
                 0);
    cr_assert(r.failed);
    cr_assert_eq(r.err.http_status, 502);
    cr_assert_str_eq(r.err.type, LLM_ERR_HTTP);
    cr_assert(strstr(r.err.message, "502 Bad Gateway") != NULL);
    cr_assert_null(strchr(r.err.message, '\n'));
    llm_result_free(&r);

    parse_error(LLM_OPENAI, 503, "", NULL, LLM_ERR_HTTP, &r);
    llm_result_free(&r);

    cr_assert_eq(
        parse(LLM_ANTHROPIC, 200, "{\"content\":[{\"type\":", NULL, &r), -1);
    cr_assert(r.failed);
    cr_assert_str_eq(r.err.type, LLM_ERR_MALFORMED);
    cr_assert_eq(errclass_http(200, r.err.type, -1).cls, ERRC_RETRYABLE);
    llm_result_free(&r);

    cr_assert_eq(parse(LLM_ANTHROPIC, 200, "{\"type\":\"message\"}", NULL, &r),
                 -1);
    cr_assert_str_eq(r.err.type, LLM_ERR_MALFORMED);
    llm_result_free(&r);

    cr_assert_eq(parse(LLM_OPENAI, 200, "{\"choices\":[]}", NULL, &r), -1);
    cr_assert_str_eq(r.err.type, LLM_ERR_MALFORMED);
    llm_result_free(&r);

    cr_assert_eq(parse(LLM_NOOP, 200, "", NULL, &r), 0);
    cr_assert(r.complete);
    cr_assert_eq(r.failed, 0);
    llm_result_free(&r);
}

Test(llm_parse, long_message_cut_on_utf8_boundary)
{
    struct llm_result r;
    struct buf b;
    buf_init(&b, 0);
    buf_append_str(&b, "{\"error\":{\"type\":\"x\",\"message\":\"");
    for (int i = 0; i < 400; i++)
        buf_append_str(&b, "\xc3\xa9"); /* 800 bytes of 2-byte chars */
    buf_append_str(&b, "\"}}");
    cr_assert_eq(parse(LLM_OPENAI, 400, b.data, NULL, &r), 0);
    size_t n = strlen(r.err.message);
    cr_assert(n <= 511 && n % 2 == 0, "cut inside a character: %zu", n);
    llm_result_free(&r);
    buf_free(&b);
}

/* Found by tests/fuzz/fuzz_llm_body and fuzz_sse: the snippet of a non-JSON
 * error body was cut at 199 bytes inside a character, bytes that are not
 * UTF-8 were copied as they came (both made the stored error invalid JSON
 * text), and a long run of stray continuation bytes emptied the field. */
Test(llm_parse, error_text_is_always_utf8)
{
    struct llm_result r;
    struct buf b;
    buf_init(&b, 0);
    buf_append_str(&b, "HTTP/1.1 error page "); /* 20 bytes */
    for (int i = 0; i < 60; i++)
        buf_append_str(&b, "\xf0\x9f\x98\x80"); /* 4-byte chars */
    cr_assert_eq(parse(LLM_OPENAI, 500, b.data, NULL, &r), 0);
    cr_assert_str_eq(r.err.type, LLM_ERR_HTTP);
    cr_assert(utf8_valid(r.err.message, strlen(r.err.message)),
              "cut inside a character: %s", r.err.message);
    cr_assert(strstr(r.err.message, "\xf0\x9f\x98\x80") != NULL);
    cr_assert_null(strchr(r.err.message, '?'));
    llm_result_free(&r);
    buf_free(&b);

    /* Latin-1 page from a proxy, and a JSON error whose strings carry
     * bytes that are not UTF-8 (cJSON does not check). */
    cr_assert_eq(parse(LLM_ANTHROPIC, 502, "<p>Fehler: \xfc\x62\x65rlastet</p>",
                       NULL, &r),
                 0);
    cr_assert(strstr(r.err.message, "Fehler: ?berlastet") != NULL, "got %s",
              r.err.message);
    llm_result_free(&r);
    cr_assert_eq(
        parse(LLM_ANTHROPIC, 400,
              "{\"type\":\"error\",\"error\":{\"type\":\"bad\\u00e9\xff"
              "\",\"message\":\"caf\xe9 \xc3\xa9\"},"
              "\"request_id\":\"req_\xc0\xaf\"}",
              "hdr-\xed\xa0\x80", &r),
        0);
    cr_assert_str_eq(r.err.type, "bad\xc3\xa9?");
    cr_assert_str_eq(r.err.message, "caf? \xc3\xa9");
    cr_assert_str_eq(r.err.request_id, "hdr-???");
    llm_result_free(&r);

    /* A long run of stray continuation bytes was backed off to nothing,
     * leaving a failed result with an empty error type. */
    buf_init(&b, 0);
    buf_append_str(&b, "{\"error\":{\"code\":\"");
    for (int i = 0; i < 100; i++)
        buf_append_str(&b, "\xac");
    buf_append_str(&b, "y\"}}");
    cr_assert_eq(parse(LLM_OPENAI, 401, b.data, NULL, &r), 0);
    cr_assert(r.failed);
    cr_assert_eq(strlen(r.err.type), sizeof r.err.type - 1);
    cr_assert_eq(strspn(r.err.type, "?"), sizeof r.err.type - 1);
    llm_result_free(&r);
    buf_free(&b);
}
