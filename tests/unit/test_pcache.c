/* Unit tests of prompt caching on the request side (common/llm_cache.c,
 * llm_build_body with cache_system): per-model minimums, the automatic
 * breakpoint on a long system prompt, explicit cache_control passed
 * through to Anthropic and dropped for OpenAI, and the warm-up group key.
 * Job validation of cache_control: the fast and full paths agree
 * (test_job_fast.c); the messages here. */
#include "fmacros.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "llm.h"

static char *
body(enum llm_provider p, int cache, const char *job_json)
{
    struct llm_req_opts o = {p, "claude-sonnet-4-5", 100, 0, cache};
    cJSON *j = cJSON_Parse(job_json);
    const char *path;
    char *b;

    cr_assert_not_null(j);
    b = llm_build_body(&o, j, NULL, 0, &path);
    cJSON_Delete(j);
    cr_assert_not_null(b);
    return b;
}

/* A job with a system string of n bytes. */
static char *
job_with_system(size_t n)
{
    char *s = malloc(n + 64);

    cr_assert_not_null(s);
    strcpy(s, "{\"prompt\":\"p\",\"system\":\"");
    memset(s + strlen(s), 'a', n);
    strcpy(s + 24 + n, "\"}");
    return s;
}

Test(pcache, minimums)
{
    cr_assert_eq(llm_cache_min_tokens("claude-sonnet-4-5"), 1024);
    cr_assert_eq(llm_cache_min_tokens("claude-haiku-4-5-20251001"), 4096);
    cr_assert_eq(llm_cache_min_tokens("claude-3-5-haiku-latest"), 2048);
    cr_assert_eq(llm_cache_min_tokens("other"), LLM_CACHE_MIN_DEFAULT);
    cr_assert_eq(llm_cache_min_tokens(NULL), LLM_CACHE_MIN_DEFAULT);
    cr_assert(llm_cache_long_enough(4096, "claude-sonnet-4-5"));
    cr_assert_not(llm_cache_long_enough(4095, "claude-sonnet-4-5"));
}

Test(pcache, automatic_breakpoint_on_long_system)
{
    char *j = job_with_system(5000), *b;

    b = body(LLM_ANTHROPIC, 1, j);
    cr_assert(strstr(b, "\"system\":[{\"type\":\"text\",\"text\":\"aaa"),
              "%.80s", b);
    cr_assert(strstr(b, "\"cache_control\":{\"type\":\"ephemeral\"}"));
    free(b);
    b = body(LLM_ANTHROPIC, 0, j);
    cr_assert(strstr(b, "\"system\":\"aaa"), "off: a plain string");
    cr_assert_null(strstr(b, "cache_control"));
    free(b);
    free(j);
    j = job_with_system(100);
    b = body(LLM_ANTHROPIC, 1, j);
    cr_assert_null(strstr(b, "cache_control"), "too short to cache");
    free(b);
    free(j);
}

Test(pcache, explicit_blocks_pass_through_and_openai_drops_them)
{
    const char *j = "{\"system\":[{\"type\":\"text\",\"text\":\"S\","
                    "\"cache_control\":{\"type\":\"ephemeral\",\"ttl\":"
                    "\"1h\"}}],\"messages\":[{\"role\":\"user\",\"content\":"
                    "[{\"type\":\"text\",\"text\":\"U\",\"cache_control\":"
                    "{\"type\":\"ephemeral\"}}]}]}";
    char *b = body(LLM_ANTHROPIC, 0, j);

    cr_assert(strstr(b, "\"ttl\":\"1h\""), "%s", b);
    cr_assert(strstr(b, "\"text\":\"U\",\"cache_control\""), "%s", b);
    free(b);
    b = body(LLM_OPENAI, 1, j);
    cr_assert_null(strstr(b, "cache_control"), "%s", b);
    cr_assert(strstr(b, "\"role\":\"system\""), "%s", b);
    free(b);
}

Test(pcache, group_key)
{
    char *a = job_with_system(5000), *s = job_with_system(10);
    cJSON *ja = cJSON_Parse(a), *jb = cJSON_Parse(a), *js = cJSON_Parse(s);
    cJSON *jm = cJSON_Parse("{\"prompt\":\"p\",\"model\":\"other\","
                            "\"system\":[{\"type\":\"text\",\"text\":\"x\","
                            "\"cache_control\":{\"type\":\"ephemeral\"}},"
                            "{\"type\":\"text\",\"text\":\"tail\"}]}");
    cJSON *jn = cJSON_Parse("{\"prompt\":\"p\",\"model\":\"other\","
                            "\"system\":[{\"type\":\"text\",\"text\":\"x\","
                            "\"cache_control\":{\"type\":\"ephemeral\"}},"
                            "{\"type\":\"text\",\"text\":\"other tail\"}]}");
    uint64_t k1 = 0, k2 = 0, k3 = 0, k4 = 0;

    cr_assert_eq(llm_cache_group(ja, "claude-sonnet-4-5", 1, &k1), 1);
    cr_assert_eq(llm_cache_group(jb, "claude-sonnet-4-5", 1, &k2), 1);
    cr_assert_eq(k1, k2, "the same prompt, the same group");
    cr_assert_eq(llm_cache_group(ja, "claude-3-7-sonnet", 1, &k2), 1);
    cr_assert_neq(k1, k2, "another model, another cache");
    cr_assert_eq(llm_cache_group(ja, "claude-sonnet-4-5", 0, &k1), 0,
                 "a string is marked only by --prompt-cache system");
    cr_assert_eq(llm_cache_group(js, "claude-sonnet-4-5", 1, &k1), 0);
    cr_assert_eq(llm_cache_group(jm, NULL, 0, &k3), 1);
    cr_assert_eq(llm_cache_group(jn, NULL, 0, &k4), 1);
    cr_assert_eq(k3, k4, "blocks after the breakpoint are not the prefix");
    cJSON_Delete(ja);
    cJSON_Delete(jb);
    cJSON_Delete(js);
    cJSON_Delete(jm);
    cJSON_Delete(jn);
    free(a);
    free(s);
}

Test(pcache, cache_control_validation)
{
    static const struct {
        const char *line, *field, *needle;
    } bad[] = {
        {"{\"prompt\":\"x\",\"system\":[{\"type\":\"text\",\"text\":\"s\","
         "\"cache_control\":\"yes\"}]}",
         "system[0].cache_control", "must be an object"},
        {"{\"prompt\":\"x\",\"system\":[{\"type\":\"text\",\"text\":\"s\","
         "\"cache_control\":{}}]}",
         "system[0].cache_control.type", "is required"},
        {"{\"prompt\":\"x\",\"system\":[{\"type\":\"text\",\"text\":\"s\","
         "\"cache_control\":{\"type\":\"ephemeral\",\"scope\":1}}]}",
         "system[0].cache_control.scope", "unknown field"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
         "\"text\":\"s\",\"cache_control\":{\"type\":\"ephemeral\","
         "\"ttl\":60}}]}]}",
         "messages[0].content[0].cache_control.ttl", "must be a string"},
        {"{\"system\":[{\"type\":\"text\",\"text\":\"1\","
         "\"cache_control\":{\"type\":\"ephemeral\"}},{\"type\":\"text\","
         "\"text\":\"2\",\"cache_control\":{\"type\":\"ephemeral\"}},"
         "{\"type\":\"text\",\"text\":\"3\",\"cache_control\":{\"type\":"
         "\"ephemeral\"}}],\"messages\":[{\"role\":\"user\",\"content\":"
         "[{\"type\":\"text\",\"text\":\"4\",\"cache_control\":{\"type\":"
         "\"ephemeral\"}},{\"type\":\"text\",\"text\":\"5\","
         "\"cache_control\":{\"type\":\"ephemeral\"}}]}]}",
         "system[2].cache_control", "at most 4"},
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct job_err e;
        cJSON *j = job_parse(bad[i].line, strlen(bad[i].line), NULL, &e);
        cr_assert_null(j, "%s accepted", bad[i].line);
        cr_assert_str_eq(e.field, bad[i].field, "%s", e.msg);
        cr_assert(strstr(e.msg, bad[i].needle), "%s", e.msg);
    }
}
