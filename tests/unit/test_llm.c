/* Unit tests for common/llm.c: request bodies, plain and error bodies, and
 * streams of both providers fed byte by byte and in random splits. */
#include "fmacros.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "errclass.h"
#include "llm.h"
#include "utf8.h"

/* ---- fixtures (llm-api.md) ------------------------------------------ */

static const char anth_basic[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_"
    "4QpJur2dWWDjF6C758FbBw5vm12BaVipnK\",\"type\":\"message\",\"role\":"
    "\"assistant\",\"content\":[],\"model\":\"claude-3-opus-latest\","
    "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":"
    "11,\"output_tokens\":1}}}\n"
    "\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{"
    "\"type\":\"text\",\"text\":\"\"}}\n"
    "\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
    "\"text_delta\",\"text\":\"Hello\"}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
    "\"text_delta\",\"text\":\" there\"}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
    "\"text_delta\",\"text\":\"!\"}}\n"
    "\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n"
    "\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\","
    "\"stop_sequence\":null},\"usage\":{\"output_tokens\":6}}\n"
    "\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n"
    "\n";

static const char openai_chunks[] =
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\","
    "\"created\":1694268190,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":"
    "\"fp_44709d6fcb\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
    "\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}"
    "],\"usage\":null}\n"
    "\n"
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\","
    "\"created\":1694268190,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":"
    "\"fp_44709d6fcb\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
    "\"Hello\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n"
    "\n"
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\","
    "\"created\":1694268190,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":"
    "\"fp_44709d6fcb\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":"
    "null,\"finish_reason\":\"stop\"}],\"usage\":null}\n"
    "\n"
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\","
    "\"created\":1694268190,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":"
    "\"fp_44709d6fcb\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,"
    "\"completion_tokens\":2,\"total_tokens\":11}}\n"
    "\n"
    "data: [DONE]\n"
    "\n";

/* ---- helpers ---------------------------------------------------------- */

static uint64_t
lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

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
        size_t n = mode == 0 ? len : mode == 1 ? 1 : (size_t)(lcg(&seed) % 23);
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

static cJSON *
build(enum llm_provider p, int stream_on, const char *job_json,
      const char *prefill, const char **path)
{
    struct llm_req_opts o = {.provider = p,
                             .default_model = "default-model",
                             .default_max_tokens = 0,
                             .stream = stream_on};
    cJSON *job = cJSON_Parse(job_json);
    cr_assert_not_null(job, "bad job json: %s", job_json);
    char *body =
        llm_build_body(&o, job, prefill, prefill ? strlen(prefill) : 0, path);
    cJSON_Delete(job);
    cr_assert_not_null(body);
    cJSON *root = cJSON_Parse(body);
    cr_assert_not_null(root, "body is not JSON: %s", body);
    free(body);
    return root;
}

static const char *
sget(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double
nget(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    cr_assert(cJSON_IsNumber(v), "%s is not a number", k);
    return v->valuedouble;
}

static const cJSON *
get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* ---- request bodies ------------------------------------------------- */

static const char full_job[] =
    "{\"prompt\":\"Hello\",\"system\":\"Be terse.\",\"model\":\"claude-x\","
    "\"max_tokens\":100,\"temperature\":0.5,\"top_p\":0.9,"
    "\"stop_sequences\":[\"\\n\\nEND\"],\"metadata\":{\"user_id\":\"u-1\"},"
    "\"max_continuations\":3,\"priority\":\"high\"}";

Test(llm_build, anthropic_fields)
{
    const char *path = NULL;
    cJSON *b = build(LLM_ANTHROPIC, 0, full_job, NULL, &path);
    cr_assert_str_eq(path, "/v1/messages");
    cr_assert_str_eq(sget(b, "model"), "claude-x");
    cr_assert_eq(nget(b, "max_tokens"), 100);
    cr_assert_str_eq(sget(b, "system"), "Be terse.");
    const cJSON *m = get(b, "messages");
    cr_assert_eq(cJSON_GetArraySize(m), 1);
    cr_assert_str_eq(sget(cJSON_GetArrayItem(m, 0), "role"), "user");
    cr_assert_str_eq(sget(cJSON_GetArrayItem(m, 0), "content"), "Hello");
    cr_assert_eq(nget(b, "temperature"), 0.5);
    cr_assert_null(get(b, "top_p"), "never both temperature and top_p");
    const cJSON *ss = get(b, "stop_sequences");
    cr_assert_eq(cJSON_GetArraySize(ss), 1);
    cr_assert_str_eq(cJSON_GetArrayItem(ss, 0)->valuestring, "\n\nEND");
    cr_assert_null(get(b, "metadata"));
    cr_assert_null(get(b, "stream"));
    cr_assert_null(get(b, "max_continuations"));
    cr_assert_null(get(b, "priority"));
    cJSON_Delete(b);

    b = build(LLM_ANTHROPIC, 1, full_job, NULL, &path);
    cr_assert(cJSON_IsTrue(get(b, "stream")));
    cr_assert_null(get(b, "stream_options"));
    cJSON_Delete(b);
}

Test(llm_build, anthropic_top_p_alone_and_defaults)
{
    const char *path;
    cJSON *b = build(LLM_ANTHROPIC, 0, "{\"prompt\":\"x\",\"top_p\":0.25}",
                     NULL, &path);
    cr_assert_eq(nget(b, "top_p"), 0.25);
    cr_assert_null(get(b, "temperature"));
    cr_assert_str_eq(sget(b, "model"), "default-model");
    cr_assert_eq(nget(b, "max_tokens"), LLM_DEFAULT_MAX_TOKENS);
    cr_assert_null(get(b, "system"));
    cr_assert_null(get(b, "stop_sequences"));
    cJSON_Delete(b);
}

Test(llm_build, anthropic_system_turns_move_to_system)
{
    const char *path;
    cJSON *b = build(LLM_ANTHROPIC, 0,
                     "{\"system\":\"A\",\"messages\":["
                     "{\"role\":\"system\",\"content\":\"B\"},"
                     "{\"role\":\"user\",\"content\":\"hi\"},"
                     "{\"role\":\"assistant\",\"content\":\"yo\"},"
                     "{\"role\":\"user\",\"content\":[{\"type\":\"text\","
                     "\"text\":\"more\"}]}]}",
                     NULL, &path);
    cr_assert_str_eq(sget(b, "system"), "A\n\nB");
    const cJSON *m = get(b, "messages");
    cr_assert_eq(cJSON_GetArraySize(m), 3);
    cr_assert_str_eq(sget(cJSON_GetArrayItem(m, 0), "role"), "user");
    cr_assert(cJSON_IsArray(get(cJSON_GetArrayItem(m, 2), "content")));
    cJSON_Delete(b);
}

Test(llm_build, prefill_is_final_assistant_turn)
{
    const char *path;
    cJSON *b = build(LLM_ANTHROPIC, 1, full_job, "Part one.\n\n", &path);
    const cJSON *m = get(b, "messages");
    cr_assert_eq(cJSON_GetArraySize(m), 2);
    const cJSON *last = cJSON_GetArrayItem(m, 1);
    cr_assert_str_eq(sget(last, "role"), "assistant");
    cr_assert_str_eq(sget(last, "content"), "Part one.",
                     "trailing whitespace is cut");
    cJSON_Delete(b);
    cr_assert_eq(llm_prefill_trim("Part one.\n\n", 11), 9);
    cr_assert_eq(llm_prefill_trim(" \n\t", 3), 0);
    cr_assert_eq(llm_prefill_trim(NULL, 0), 0);

    /* whitespace-only prefill: no assistant turn */
    b = build(LLM_ANTHROPIC, 1, full_job, " \n", &path);
    cr_assert_eq(cJSON_GetArraySize(get(b, "messages")), 1);
    cJSON_Delete(b);

    /* job messages already end with an assistant turn: merged */
    b = build(LLM_ANTHROPIC, 0,
              "{\"messages\":[{\"role\":\"user\",\"content\":\"write\"},"
              "{\"role\":\"assistant\",\"content\":\"Title:\"}]}",
              " The start", &path);
    m = get(b, "messages");
    cr_assert_eq(cJSON_GetArraySize(m), 2);
    cr_assert_str_eq(sget(cJSON_GetArrayItem(m, 1), "content"),
                     "Title: The start");
    cJSON_Delete(b);

    /* OpenAI gets the same final assistant message */
    b = build(LLM_OPENAI, 0, full_job, "So far", &path);
    m = get(b, "messages");
    cr_assert_eq(cJSON_GetArraySize(m), 3);
    cr_assert_str_eq(sget(cJSON_GetArrayItem(m, 2), "role"), "assistant");
    cr_assert_str_eq(sget(cJSON_GetArrayItem(m, 2), "content"), "So far");
    cJSON_Delete(b);
}

Test(llm_build, prefill_with_utf8_and_quotes)
{
    const char *path;
    const char *pre = "caf\xc3\xa9 \"q\" \xf0\x9f\x8e\x89";
    cJSON *b = build(LLM_ANTHROPIC, 0, "{\"prompt\":\"p\"}", pre, &path);
    const cJSON *m = get(b, "messages");
    cr_assert_str_eq(sget(cJSON_GetArrayItem(m, 1), "content"), pre);
    cJSON_Delete(b);
}

Test(llm_build, openai_fields)
{
    const char *path = NULL;
    cJSON *b = build(LLM_OPENAI, 1, full_job, NULL, &path);
    cr_assert_str_eq(path, "/v1/chat/completions");
    cr_assert_str_eq(sget(b, "model"), "claude-x");
    cr_assert_null(get(b, "system"));
    const cJSON *m = get(b, "messages");
    cr_assert_eq(cJSON_GetArraySize(m), 2);
    cr_assert_str_eq(sget(cJSON_GetArrayItem(m, 0), "role"), "system");
    cr_assert_str_eq(sget(cJSON_GetArrayItem(m, 0), "content"), "Be terse.");
    cr_assert_str_eq(sget(cJSON_GetArrayItem(m, 1), "role"), "user");
    cr_assert_eq(nget(b, "max_tokens"), 100);
    cr_assert_null(get(b, "max_completion_tokens"));
    cr_assert_eq(nget(b, "temperature"), 0.5);
    cr_assert_eq(nget(b, "top_p"), 0.9);
    cr_assert_str_eq(cJSON_GetArrayItem(get(b, "stop"), 0)->valuestring,
                     "\n\nEND");
    cr_assert_null(get(b, "stop_sequences"));
    cr_assert_null(get(b, "metadata"));
    cr_assert(cJSON_IsTrue(get(b, "stream")));
    cr_assert(cJSON_IsTrue(get(get(b, "stream_options"), "include_usage")));
    cJSON_Delete(b);

    b = build(LLM_OPENAI, 0, full_job, NULL, &path);
    cr_assert_null(get(b, "stream"));
    cr_assert_null(get(b, "stream_options"));
    cJSON_Delete(b);
}

Test(llm_build, invalid_jobs)
{
    struct llm_req_opts o = {LLM_ANTHROPIC, NULL, 0, 0};
    const char *path;
    cJSON *job = cJSON_Parse("{\"prompt\":\"x\"}");
    errno = 0;
    cr_assert_null(llm_build_body(&o, job, NULL, 0, &path), "no model");
    cr_assert_eq(errno, EINVAL);
    cJSON_Delete(job);
    o.default_model = "m";
    job = cJSON_Parse("{\"system\":\"only\"}");
    errno = 0;
    cr_assert_null(llm_build_body(&o, job, NULL, 0, &path), "no prompt");
    cr_assert_eq(errno, EINVAL);
    cJSON_Delete(job);
}

Test(llm_build, provider_names)
{
    enum llm_provider p;
    cr_assert_eq(llm_provider_parse("openai", &p), 0);
    cr_assert_eq(p, LLM_OPENAI);
    cr_assert_eq(llm_provider_parse("noop", &p), 0);
    cr_assert_eq(p, LLM_NOOP);
    cr_assert_eq(llm_provider_parse("gemini", &p), -1);
    cr_assert_str_eq(llm_provider_name(LLM_ANTHROPIC), "anthropic");
    cr_assert_str_eq(llm_request_id_header(LLM_ANTHROPIC), "request-id");
    cr_assert_str_eq(llm_request_id_header(LLM_OPENAI), "x-request-id");
}

/* ---- non-streaming bodies ------------------------------------------- */

static int
parse(enum llm_provider p, int status, const char *body, const char *rid,
      struct llm_result *r)
{
    llm_result_init(r);
    return llm_parse_body(p, status, body, strlen(body), rid, r);
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
    cr_assert_eq(r.failed, 0);
    cr_assert(r.complete);
    cr_assert(r.got_first_token);
    cr_assert_str_eq(r.text.data, "Hi! How can I help?");
    cr_assert_str_eq(r.model, "claude-sonnet-4-5");
    cr_assert_str_eq(r.id, "msg_013Zva2CMHLNnXjNJJKqJ2EF");
    cr_assert_str_eq(r.stop_reason, "end_turn");
    cr_assert_str_eq(r.stop_sequence, "");
    cr_assert_eq(r.input_tokens, 12);
    cr_assert_eq(r.output_tokens, 9);
    cr_assert_eq(r.cache_creation_input_tokens, 3);
    cr_assert_eq(r.cache_read_input_tokens, 4);
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

    cr_assert_eq(parse(LLM_ANTHROPIC, 429,
                       "{\"type\":\"error\",\"error\":{\"type\":"
                       "\"rate_limit_error\",\"message\":\"Number of requests "
                       "has exceeded your rate limit\"},\"request_id\":"
                       "\"req_mock0001\"}",
                       "req_mock0001", &r),
                 0);
    cr_assert_str_eq(r.err.type, "rate_limit_error");
    cr_assert_eq(errclass_http(429, r.err.type, -1).cls, ERRC_RETRYABLE);
    llm_result_free(&r);

    /* an error object inside a 200 is an error too */
    cr_assert_eq(parse(LLM_ANTHROPIC, 200,
                       "{\"type\":\"error\",\"error\":{\"type\":\"api_error\","
                       "\"message\":\"boom\"}}",
                       NULL, &r),
                 0);
    cr_assert(r.failed);
    cr_assert_str_eq(r.err.type, "api_error");
    llm_result_free(&r);
}

Test(llm_parse, openai_error_bodies)
{
    struct llm_result r;
    cr_assert_eq(
        parse(LLM_OPENAI, 429,
              "{\"error\":{\"message\":\"Rate limit reached for ... on "
              "tokens per min. Limit: 10000 / min. Please try again "
              "in 6ms.\",\"type\":\"tokens\",\"param\":null,"
              "\"code\":\"rate_limit_exceeded\"}}",
              "req_abc", &r),
        0);
    cr_assert(r.failed);
    cr_assert_str_eq(r.err.type, "rate_limit_exceeded", "code preferred");
    cr_assert(strncmp(r.err.message, "Rate limit reached", 18) == 0);
    cr_assert_str_eq(r.err.request_id, "req_abc");
    llm_result_free(&r);

    cr_assert_eq(parse(LLM_OPENAI, 429,
                       "{\"error\":{\"message\":\"You exceeded your current "
                       "quota, please check your plan and billing details.\","
                       "\"type\":\"insufficient_quota\",\"param\":null,"
                       "\"code\":\"insufficient_quota\"}}",
                       NULL, &r),
                 0);
    cr_assert_str_eq(r.err.type, "insufficient_quota");
    cr_assert_eq(errclass_http(429, r.err.type, -1).cls, ERRC_NOT_JOB);
    llm_result_free(&r);

    cr_assert_eq(parse(LLM_OPENAI, 400,
                       "{\"error\":{\"message\":\"bad\",\"type\":"
                       "\"invalid_request_error\",\"param\":\"x\",\"code\":"
                       "null}}",
                       NULL, &r),
                 0);
    cr_assert_str_eq(r.err.type, "invalid_request_error", "null code");
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

    cr_assert_eq(parse(LLM_OPENAI, 503, "", NULL, &r), 0);
    cr_assert(r.failed);
    cr_assert_str_eq(r.err.type, LLM_ERR_HTTP);
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

/* ---- streams -------------------------------------------------------- */

static void
check_anthropic_basic(const struct llm_result *r)
{
    cr_assert_eq(r->failed, 0, "failed: %s %s", r->err.type, r->err.message);
    cr_assert(r->complete);
    cr_assert(r->got_first_token);
    cr_assert_str_eq(r->text.data, "Hello there!");
    cr_assert_str_eq(r->model, "claude-3-opus-latest");
    cr_assert_str_eq(r->id, "msg_4QpJur2dWWDjF6C758FbBw5vm12BaVipnK");
    cr_assert_str_eq(r->stop_reason, "end_turn");
    cr_assert_eq(r->input_tokens, 11);
    cr_assert_eq(r->output_tokens, 6);
}

Test(llm_stream, anthropic_basic_all_splits)
{
    struct llm_result r;
    for (int mode = 0; mode < 2; mode++) {
        llm_result_init(&r);
        cr_assert_eq(
            stream(LLM_ANTHROPIC, anth_basic, strlen(anth_basic), mode, 0, &r),
            0);
        check_anthropic_basic(&r);
        llm_result_free(&r);
    }
    for (uint64_t seed = 1; seed <= 200; seed++) {
        llm_result_init(&r);
        cr_assert_eq(
            stream(LLM_ANTHROPIC, anth_basic, strlen(anth_basic), 2, seed, &r),
            0);
        check_anthropic_basic(&r);
        llm_result_free(&r);
    }
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
    const char *cut = strstr(anth_basic, "event: content_block_stop");
    struct buf b;
    buf_init(&b, 0);
    buf_append(&b, anth_basic, (size_t)(cut - anth_basic));
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
    const char *cut = strstr(anth_basic, "event: message_stop");
    struct llm_result r;
    for (int mode = 0; mode < 2; mode++) {
        llm_result_init(&r);
        cr_assert_eq(stream(LLM_ANTHROPIC, anth_basic,
                            (size_t)(cut - anth_basic), mode, 0, &r),
                     -1);
        cr_assert(r.failed);
        cr_assert_str_eq(r.err.type, LLM_ERR_TRUNCATED);
        cr_assert_str_eq(r.text.data, "Hello there!");
        cr_assert_eq(errclass_http(200, r.err.type, -1).cls, ERRC_RETRYABLE);
        llm_result_free(&r);
    }
    /* cut inside the message_stop event itself */
    llm_result_init(&r);
    cr_assert_eq(
        stream(LLM_ANTHROPIC, anth_basic, strlen(anth_basic) - 1, 1, 0, &r),
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
    cr_assert_eq(
        stream(LLM_ANTHROPIC, anth_basic, strlen(anth_basic), 1, 0, &r), -1);
    cr_assert(r.failed);
    cr_assert_str_eq(r.err.type, LLM_ERR_MALFORMED);
    cr_assert_str_eq(r.text.data, "Hello");
    llm_result_reset(&r);
    cr_assert_eq(r.text.max, 5, "reset keeps the cap");
    cr_assert_eq(r.failed, 0);
    llm_result_free(&r);
}

static void
check_openai_basic(const struct llm_result *r)
{
    cr_assert_eq(r->failed, 0, "failed: %s %s", r->err.type, r->err.message);
    cr_assert(r->complete);
    cr_assert(r->got_first_token);
    cr_assert_str_eq(r->text.data, "Hello");
    cr_assert_str_eq(r->model, "gpt-4o-mini");
    cr_assert_str_eq(r->id, "chatcmpl-123");
    cr_assert_str_eq(r->stop_reason, "stop");
    cr_assert_eq(r->input_tokens, 9);
    cr_assert_eq(r->output_tokens, 2);
}

Test(llm_stream, openai_all_splits)
{
    struct llm_result r;
    for (int mode = 0; mode < 2; mode++) {
        llm_result_init(&r);
        cr_assert_eq(stream(LLM_OPENAI, openai_chunks, strlen(openai_chunks),
                            mode, 0, &r),
                     0);
        check_openai_basic(&r);
        llm_result_free(&r);
    }
    for (uint64_t seed = 1; seed <= 200; seed++) {
        llm_result_init(&r);
        cr_assert_eq(stream(LLM_OPENAI, openai_chunks, strlen(openai_chunks), 2,
                            seed, &r),
                     0);
        check_openai_basic(&r);
        llm_result_free(&r);
    }
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
    const char *done = strstr(openai_chunks, "data: [DONE]");
    llm_result_init(&r);
    cr_assert_eq(stream(LLM_OPENAI, openai_chunks,
                        (size_t)(done - openai_chunks), 1, 0, &r),
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
