/* Unit tests of llm_request.c: the request bodies built from jobs for both
 * providers, with and without a continuation prefill; provider names. */
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
    struct llm_req_opts o = {LLM_ANTHROPIC, NULL, 0, 0, 0};
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
