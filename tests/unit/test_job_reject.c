/* Unit tests of job rejections: every validation rule of job_validate.c and
 * the raw-line checks of job_parse.c, with their field and wording. */
#include "fmacros.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "job.h"
#include "utf8.h"
#include "unit.h"
#include "uuid.h"

TestSuite(jobreject, .init = tj_setup, .fini = tj_teardown);

/* ---- rejected ----------------------------------------------------------- */

struct rcase {
    const char *line, *field, *needle;
};

static void
run_cases(const struct rcase *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tj_reject(c[i].line, c[i].field, c[i].needle);
}

#define RUN(cases) run_cases(cases, sizeof cases / sizeof cases[0])

Test(jobreject, syntax)
{
    static const struct rcase c[] = {
        {"", "", "blank line"},
        {"  \t", "", "blank line"},
        {"{", "", "invalid JSON at byte 1"},
        {"{\"prompt\":\"x\"", "", "invalid JSON at byte 13"},
        {"{\"prompt\":\"x\",}", "", "expected a string key"},
        {"{prompt:\"x\"}", "", "at byte 1: expected a string key"},
        {"{\"prompt\":'x'}", "", "unexpected character"},
        {"{\"prompt\" \"x\"}", "", "expected ':' after key"},
        {"{\"prompt\":\"x\" \"y\"}", "", "expected ',' or '}'"},
        {"{\"prompt\":\"x\"} x", "", "unexpected data after the JSON value"},
        {"{\"prompt\":\"x\"}{\"prompt\":\"y\"}", "", "unexpected data"},
        {"{\"prompt\":\"a\tb\"}", "", "control character in string"},
        {"{\"prompt\":\"x\",\"max_tokens\":01}", "", "leading zero"},
        {"{\"prompt\":\"x\",\"max_tokens\":1.}", "", "digit expected after"},
        {"{\"prompt\":\"x\",\"max_tokens\":1e}", "", "exponent"},
        {"{\"prompt\":\"x\",\"max_tokens\":+1}", "", "unexpected character"},
        {"{\"prompt\":\"x\",\"max_tokens\":.5}", "", "unexpected character"},
        {"{\"prompt\":\"x\",\"max_tokens\":-}", "", "invalid number"},
        {"{\"prompt\":\"x\",\"max_tokens\":NaN}", "", "unexpected character"},
        {"{\"prompt\":\"\\x\"}", "", "invalid escape"},
        {"{\"prompt\":\"\\u12\"}", "", "escape"},
        {"{\"prompt\":\"\\ud800\"}", "", "unpaired surrogate"},
        {"{\"prompt\":\"\\ud800\\u0041\"}", "", "unpaired surrogate"},
        {"{\"prompt\":\"\\udc00x\"}", "", "unpaired surrogate"},
        {"{\"prompt\":\"a\\u0000b\"}", "", "at byte 12: escaped NUL"},
        {"{\"prompt\":tru}", "", "unexpected character"},
        {"{\"prompt\":\"x\",\"metadata\":[1,]}", "", "unexpected character"},
        {"{\"prompt\":\"x\",\"metadata\":[1 2]}", "", "expected ',' or ']'"},
        {"\v{\"prompt\":\"x\"}", "", "unexpected character"},
        {"[{\"prompt\":\"x\"}]", "", "must be a JSON object, got array"},
        {"\"prompt\"", "", "got string"},
        {"null", "", "got null"},
        {"42", "", "got number"},
    };
    RUN(c);
}

/* {"prompt":"x","metadata":[[...]]} with n nested arrays. */
static char *
nested(int n)
{
    char *line = malloc(64 + 2 * (size_t)n);
    size_t o;

    cr_assert_not_null(line);
    o = (size_t)snprintf(line, 64, "{\"prompt\":\"x\",\"metadata\":");
    for (int i = 0; i < n; i++)
        line[o++] = '[';
    for (int i = 0; i < n; i++)
        line[o++] = ']';
    line[o++] = '}';
    line[o] = '\0';
    return line;
}

Test(jobreject, nesting_depth)
{
    char *line = nested(64); /* 65 levels with the job object */

    tj_reject(line, "", "at byte 88: nested deeper than 64 levels");
    free(line);
    line = nested(63);
    tj_reject(line, "metadata", "must be an object, got array");
    free(line);
}

Test(jobreject, size_nul_utf8)
{
    char *p = tj_rep('a', JOB_MAX_BYTES), *line;

    line = tj_cat("{\"prompt\":\"", p, "\"}", NULL);
    tj_reject(line, "", "line is 1048589 bytes; the limit is 1048576");
    free(line);
    p[JOB_MAX_BYTES - 12] = '\0';
    line = tj_cat("{\"prompt\":\"", p, "\"}", NULL); /* limit + 1 */
    tj_reject(line, "", "line is 1048577 bytes");
    free(line);
    free(p);

    tj_reject_len("{\"prompt\":\"a\0b\"}", 16, "", "NUL byte at byte 12");
    tj_reject("{\"prompt\":\"a\xff\"}", "", "invalid UTF-8 at byte 12");
    tj_reject("{\"prompt\":\"\xc0\xaf\"}", "", "invalid UTF-8 at byte 11");
    tj_reject("{\"prompt\":\"\xed\xa0\x80\"}", "", "invalid UTF-8 at byte 11");
    tj_reject("{\"prompt\":\"\xf4\x90\x80\x80\"}", "", "invalid UTF-8");
    tj_reject("{\"prompt\":\"x\xe2\x82\"}", "", "invalid UTF-8 at byte 12");
    tj_reject("{\"pr\x80ompt\":\"x\"}", "", "invalid UTF-8 at byte 4");
}

Test(jobreject, prompt_sources)
{
    static const struct rcase c[] = {
        {"{}", "prompt", "one of prompt, messages or template"},
        {"{\"model\":\"m\"}", "prompt", "one of prompt, messages or template"},
        {"{\"prompt\":\"\"}", "prompt", "prompt must not be empty"},
        {"{\"prompt\":5}", "prompt", "prompt must be a string, got number"},
        {"{\"prompt\":null}", "prompt", "must be a string, got null"},
        {"{\"prompt\":[\"x\"]}", "prompt", "must be a string, got array"},
        {"{\"prompt\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":"
         "\"y\"}]}",
         "messages", "set only one of prompt, messages or template"},
        {"{\"template\":\"plain\",\"vars\":{},\"prompt\":\"x\"}", "template",
         "set only one"},
        {"{\"messages\":[],\"template\":\"plain\",\"vars\":{}}", "template",
         "got messages and template"},
    };
    RUN(c);
}

Test(jobreject, unknown_fields)
{
    static const struct rcase c[] = {
        {"{\"prompt\":\"x\",\"max_token\":5}", "max_token",
         "unknown field 'max_token' (did you mean 'max_tokens'?)"},
        {"{\"Prompt\":\"x\"}", "Prompt", "did you mean 'prompt'?"},
        {"{\"prompt\":\"x\",\"temprature\":1}", "temprature",
         "did you mean 'temperature'?"},
        {"{\"prompt\":\"x\",\"n\":1}", "n", "unknown field 'n'"},
        {"{\"prompt\":\"x\",\"stream\":true}", "stream", "unknown field"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"x\",\"name\":\"b\"}]"
         "}",
         "messages[0].name", "unknown field 'name'"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
         "\"text\":\"x\",\"citations\":{}}]}]}",
         "messages[0].content[0].citations", "unknown field 'citations'"},
    };
    struct job_err e;

    RUN(c);
    cr_assert_null(job_parse("{\"prompt\":\"x\",\"zzzzzzz\":1}",
                             strlen("{\"prompt\":\"x\",\"zzzzzzz\":1}"), NULL,
                             &e));
    cr_assert_null(strstr(e.msg, "did you mean"), "%s", e.msg);
}

Test(jobreject, duplicates)
{
    static const struct rcase c[] = {
        {"{\"prompt\":\"a\",\"prompt\":\"b\"}", "prompt",
         "duplicate field 'prompt'"},
        {"{\"prompt\":\"a\",\"max_tokens\":1,\"max_tokens\":1}", "max_tokens",
         "duplicate field 'max_tokens'"},
        {"{\"messages\":[{\"role\":\"user\",\"role\":\"user\",\"content\":"
         "\"x\"}"
         "]}",
         "messages[0].role", "duplicate field 'role'"},
        {"{\"prompt\":\"a\",\"metadata\":{\"a\":{\"b\":1,\"b\":2}}}",
         "metadata.a.b", "duplicate field 'b'"},
        {"{\"template\":\"article\",\"vars\":{\"topic\":\"a\",\"topic\":\"b\","
         "\"words\":1}}",
         "vars.topic", "duplicate field 'topic'"},
    };
    RUN(c);
}

Test(jobreject, duplicates_in_a_large_object)
{
    /* 2000 distinct keys, then a repeat of key 7: the sorted path. */
    size_t cap = 64 * 1024, n = 0;
    char *line = malloc(cap);

    cr_assert_not_null(line);
    n += (size_t)snprintf(line, cap, "{\"prompt\":\"x\",\"metadata\":{");
    for (int i = 0; i < 2000; i++)
        n += (size_t)snprintf(line + n, cap - n, "\"k%d\":%d,", i, i);
    n += (size_t)snprintf(line + n, cap - n, "\"k7\":0,\"k3\":0}}");
    tj_reject(line, "metadata.k7", "duplicate field 'k7'");
    free(line);
}

Test(jobreject, version_and_id)
{
    static const struct rcase c[] = {
        {"{\"v\":2,\"prompt\":\"x\"}", "v", "v must be 1"},
        {"{\"v\":0,\"prompt\":\"x\"}", "v",
         "v must be 1 (the only job format version), got 0"},
        {"{\"v\":\"1\",\"prompt\":\"x\"}", "v",
         "v must be an integer, got string"},
        {"{\"v\":1.5,\"prompt\":\"x\"}", "v", "v must be an integer, got 1.5"},
        {"{\"id\":\"\",\"prompt\":\"x\"}", "id", "id must not be empty"},
        {"{\"id\":5,\"prompt\":\"x\"}", "id",
         "id must be a string, got number"},
        {"{\"id\":\"a/b\",\"prompt\":\"x\"}", "id",
         "id may only contain A-Z a-z 0-9 . _ : -, got 'a/b'"},
        {"{\"id\":\"{q}\",\"prompt\":\"x\"}", "id", "may only contain"},
        {"{\"id\":\"caf\xc3\xa9\",\"prompt\":\"x\"}", "id", "may only contain"},
        {"{\"id\":\"a\\u0001b\",\"prompt\":\"x\"}", "id", "got 'a\\x01b'"},
    };
    char *id = tj_rep('a', 129), *line;

    RUN(c);
    line = tj_cat("{\"prompt\":\"x\",\"id\":\"", id, "\"}", NULL);
    tj_reject(line, "id", "id is 129 characters; the limit is 128");
    free(line);
    free(id);
}

Test(jobreject, messages)
{
    static const struct rcase c[] = {
        {"{\"messages\":{}}", "messages", "must be an array, got object"},
        {"{\"messages\":\"hi\"}", "messages", "must be an array, got string"},
        {"{\"messages\":[]}", "messages", "messages must not be empty"},
        {"{\"messages\":[\"x\"]}", "messages[0]",
         "messages[0] must be an object, got string"},
        {"{\"messages\":[{\"role\":\"user\"}]}", "messages[0].content",
         "messages[0].content is required"},
        {"{\"messages\":[{\"content\":\"x\"}]}", "messages[0].role",
         "messages[0].role is required"},
        {"{\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}",
         "messages[0].role", "use the top-level system field"},
        {"{\"messages\":[{\"role\":\"bot\",\"content\":\"x\"}]}",
         "messages[0].role", "must be user or assistant, got 'bot'"},
        {"{\"messages\":[{\"role\":1,\"content\":\"x\"}]}", "messages[0].role",
         "must be a string, got number"},
        {"{\"messages\":[{\"role\":\"assistant\",\"content\":\"x\"}]}",
         "messages[0].role", "the first message must have role user"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"\"}]}",
         "messages[0].content", "messages[0].content must not be empty"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[]}]}",
         "messages[0].content", "must not be empty"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":5}]}",
         "messages[0].content",
         "must be a string or an array of text blocks, got number"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[\"x\"]}]}",
         "messages[0].content[0]", "must be an object, got string"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\","
         "\"text\":\"x\"}]}]}",
         "messages[0].content[0].type", "must be 'text', got 'image'"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"x\"}]}]}",
         "messages[0].content[0].type", "is required"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]"
         "}]}",
         "messages[0].content[0].text", "is required"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
         "\"text\":\"\"}]}]}",
         "messages[0].content[0].text", "must not be empty"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
         "\"text\":5}]}]}",
         "messages[0].content[0].text", "must be a string, got number"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":"
         "\"assistant\",\"content\":\"b\"},{\"role\":\"human\",\"content\":"
         "\"c\"}]}",
         "messages[2].role", "got 'human'"},
    };
    RUN(c);
}

Test(jobreject, templates)
{
    static const struct rcase c[] = {
        {"{\"template\":5,\"vars\":{}}", "template",
         "template must be a string, got number"},
        {"{\"template\":\"../x\",\"vars\":{}}", "template", "got '../x'"},
        {"{\"template\":\"a/b\",\"vars\":{}}", "template", "got 'a/b'"},
        {"{\"template\":\"a.tmpl\",\"vars\":{}}", "template", "got 'a.tmpl'"},
        {"{\"template\":\"\",\"vars\":{}}", "template", "got ''"},
        {"{\"template\":\"plain\"}", "vars", "vars is required with template"},
        {"{\"template\":\"plain\",\"vars\":[]}", "vars",
         "vars must be an object, got array"},
        {"{\"template\":\"plain\",\"vars\":{\"a\":null}}", "vars.a",
         "vars.a must be a string, number or boolean, got null"},
        {"{\"template\":\"plain\",\"vars\":{\"a\":{}}}", "vars.a",
         "got object"},
        {"{\"prompt\":\"x\",\"vars\":{}}", "vars",
         "vars is only allowed with template"},
        {"{\"template\":\"nonexistent\",\"vars\":{}}", "template",
         "template 'nonexistent' not found"},
        {"{\"template\":\"article\",\"vars\":{\"topic\":\"x\"}}", "vars",
         "template 'article': the template uses {{words}} but vars has no "
         "'words'"},
        {"{\"template\":\"empty\",\"vars\":{}}", "template",
         "rendered an empty prompt"},
    };
    char *name = tj_rep('t', 65), *line;

    RUN(c);
    line = tj_cat("{\"template\":\"", name, "\",\"vars\":{}}", NULL);
    tj_reject(line, "template", "1 to 64 characters");
    free(line);
    free(name);
}

Test(jobreject, scalars)
{
    static const struct rcase c[] = {
        {"{\"prompt\":\"x\",\"system\":5}", "system",
         "system must be a string or an array of text blocks, got number"},
        {"{\"prompt\":\"x\",\"model\":\"\"}", "model",
         "model must not be empty"},
        {"{\"prompt\":\"x\",\"model\":7}", "model", "got number"},
        {"{\"prompt\":\"x\",\"max_tokens\":0}", "max_tokens",
         "max_tokens must be between 1 and 200000, got 0"},
        {"{\"prompt\":\"x\",\"max_tokens\":-1}", "max_tokens", "got -1"},
        {"{\"prompt\":\"x\",\"max_tokens\":200001}", "max_tokens",
         "got 200001"},
        {"{\"prompt\":\"x\",\"max_tokens\":2.5}", "max_tokens",
         "max_tokens must be an integer, got 2.5"},
        {"{\"prompt\":\"x\",\"max_tokens\":\"5\"}", "max_tokens",
         "max_tokens must be an integer, got string"},
        {"{\"prompt\":\"x\",\"max_tokens\":true}", "max_tokens",
         "must be an integer, got boolean"},
        {"{\"prompt\":\"x\",\"max_tokens\":null}", "max_tokens", "got null"},
        {"{\"prompt\":\"x\",\"max_tokens\":1e300}", "max_tokens",
         "must be between 1 and 200000, got 1e+300"},
        {"{\"prompt\":\"x\",\"max_tokens\":-1e300}", "max_tokens",
         "got -1e+300"},
        {"{\"prompt\":\"x\",\"max_tokens\":1e999}", "max_tokens",
         "max_tokens is out of range"},
        {"{\"prompt\":\"x\",\"max_tokens\":9223372036854775808}", "max_tokens",
         "must be between"},
        {"{\"prompt\":\"x\",\"temperature\":-0.1}", "temperature",
         "temperature must be between 0 and 2, got -0.1"},
        {"{\"prompt\":\"x\",\"temperature\":2.1}", "temperature", "got 2.1"},
        {"{\"prompt\":\"x\",\"temperature\":\"0.5\"}", "temperature",
         "temperature must be a number, got string"},
        {"{\"prompt\":\"x\",\"top_p\":0}", "top_p",
         "top_p must be greater than 0 and at most 1, got 0"},
        {"{\"prompt\":\"x\",\"top_p\":1.5}", "top_p", "got 1.5"},
        {"{\"prompt\":\"x\",\"temperature\":1,\"top_p\":0.9}", "top_p",
         "set temperature or top_p, not both"},
        {"{\"prompt\":\"x\",\"stop_sequences\":\"x\"}", "stop_sequences",
         "stop_sequences must be an array, got string"},
        {"{\"prompt\":\"x\",\"stop_sequences\":[]}", "stop_sequences",
         "must have 1 to 8 entries, got 0"},
        {"{\"prompt\":\"x\",\"stop_sequences\":[\"1\",\"2\",\"3\",\"4\",\"5\","
         "\"6\",\"7\",\"8\",\"9\"]}",
         "stop_sequences", "got 9"},
        {"{\"prompt\":\"x\",\"stop_sequences\":[\"\"]}", "stop_sequences[0]",
         "stop_sequences[0] must not be empty"},
        {"{\"prompt\":\"x\",\"stop_sequences\":[\"a\",5]}", "stop_sequences[1]",
         "must be a string, got number"},
        {"{\"prompt\":\"x\",\"priority\":\"urgent\"}", "priority",
         "priority must be high, normal or low, got 'urgent'"},
        {"{\"prompt\":\"x\",\"priority\":\"HIGH\"}", "priority", "got 'HIGH'"},
        {"{\"prompt\":\"x\",\"priority\":1}", "priority",
         "priority must be a string, got number"},
        {"{\"prompt\":\"x\",\"run_at\":\"tomorrow\"}", "run_at",
         "run_at must be an RFC 3339 date-time"},
        {"{\"prompt\":\"x\",\"run_at\":\"2025-02-30T00:00:00Z\"}", "run_at",
         "got '2025-02-30T00:00:00Z'"},
        {"{\"prompt\":\"x\",\"run_at\":\"2025-01-01\"}", "run_at", "RFC 3339"},
        {"{\"prompt\":\"x\",\"run_at\":\"2025-01-01T00:00:00\"}", "run_at",
         "RFC 3339"},
        {"{\"prompt\":\"x\",\"run_at\":1735689600}", "run_at",
         "run_at must be a string, got number"},
        {"{\"prompt\":\"x\",\"delay_s\":-1}", "delay_s",
         "delay_s must be between 0 and 31536000, got -1"},
        {"{\"prompt\":\"x\",\"delay_s\":31536001}", "delay_s", "got 31536001"},
        {"{\"prompt\":\"x\",\"delay_s\":\"10\"}", "delay_s",
         "must be a number, got string"},
        {"{\"prompt\":\"x\",\"run_at\":\"2030-01-01T00:00:00Z\",\"delay_s\":1}",
         "delay_s", "set run_at or delay_s, not both"},
        {"{\"prompt\":\"x\",\"max_attempts\":0}", "max_attempts",
         "max_attempts must be between 1 and 100, got 0"},
        {"{\"prompt\":\"x\",\"max_attempts\":101}", "max_attempts", "got 101"},
        {"{\"prompt\":\"x\",\"max_attempts\":1.5}", "max_attempts",
         "must be an integer, got 1.5"},
        {"{\"prompt\":\"x\",\"timeout_s\":0}", "timeout_s",
         "timeout_s must be between 1 and 86400, got 0"},
        {"{\"prompt\":\"x\",\"timeout_s\":86401}", "timeout_s", "got 86401"},
        {"{\"prompt\":\"x\",\"idempotency_key\":\"\"}", "idempotency_key",
         "idempotency_key must not be empty"},
        {"{\"prompt\":\"x\",\"idempotency_key\":5}", "idempotency_key",
         "got number"},
        {"{\"prompt\":\"x\",\"metadata\":[]}", "metadata",
         "metadata must be an object, got array"},
        {"{\"prompt\":\"x\",\"metadata\":\"x\"}", "metadata", "got string"},
        {"{\"prompt\":\"x\",\"metadata\":{\"a\":1e999}}", "metadata.a",
         "out of range"},
        {"{\"prompt\":\"x\",\"max_continuations\":-1}", "max_continuations",
         "max_continuations must be between 0 and 20, got -1"},
        {"{\"prompt\":\"x\",\"max_continuations\":21}", "max_continuations",
         "got 21"},
        {"{\"prompt\":\"x\",\"max_continuations\":2.5}", "max_continuations",
         "must be an integer, got 2.5"},
    };
    char *s = tj_rep('m', 257), *line;

    RUN(c);
    line = tj_cat("{\"prompt\":\"x\",\"model\":\"", s, "\"}", NULL);
    tj_reject(line, "model", "model is 257 characters; the limit is 256");
    free(line);
    line = tj_cat("{\"prompt\":\"x\",\"idempotency_key\":\"", s, "\"}", NULL);
    tj_reject(line, "idempotency_key", "is 257 characters; the limit is 256");
    free(line);
    free(s);
}

Test(jobreject, metadata_size)
{
    /* {"a":"…"} is 8 bytes + the string: exactly 64 KiB is fine. */
    char *s = tj_rep('z', 64 * 1024 - 8), *line;
    cJSON *j;

    line = tj_cat("{\"prompt\":\"x\",\"metadata\":{\"a\":\"", s, "\"}}", NULL);
    j = tj_accept(line);
    cJSON_Delete(j);
    free(line);
    free(s);
    s = tj_rep('z', 64 * 1024 - 7);
    line = tj_cat("{\"prompt\":\"x\",\"metadata\":{\"a\":\"", s, "\"}}", NULL);
    tj_reject(line, "metadata",
              "metadata is 65537 bytes serialized; the limit is 65536");
    free(line);
    free(s);
}

Test(jobreject, normalized_job_too_large)
{
    /* 300000 quotes, escaped in the line (600 KB), rendered twice and
     * escaped again: 1.2 MB stored. */
    size_t n = 300000, o = 0;
    char *line = malloc(2 * n + 128);

    cr_assert_not_null(line);
    o += (size_t)snprintf(line, 64,
                          "{\"template\":\"twice\",\"vars\":{\"a\":\"");
    for (size_t i = 0; i < n; i++) {
        line[o++] = '\\';
        line[o++] = '"';
    }
    memcpy(line + o, "\"}}", 4);
    tj_reject(line, "", "after normalization; the limit is 1048576");
    free(line);
}

Test(jobreject, rendered_template_too_large)
{
    char *v = tj_rep('v', 600000), *line;

    line =
        tj_cat("{\"template\":\"twice\",\"vars\":{\"a\":\"", v, "\"}}", NULL);
    tj_reject(line, "template", "rendered prompt is larger than 1048576 bytes");
    free(line);
    free(v);
}

Test(jobreject, long_values_are_cut_in_messages)
{
    char *s = tj_rep('\x41', 300), *line;
    struct job_err e;

    /* a key of 150 two-byte characters: the field is cut at a character */
    line = malloc(400);
    cr_assert_not_null(line);
    {
        size_t o = (size_t)snprintf(line, 400, "{\"prompt\":\"x\",\"");
        for (int i = 0; i < 150; i++) {
            line[o++] = '\xc3';
            line[o++] = '\xa9';
        }
        memcpy(line + o, "\":1}", 5);
    }
    cr_assert_null(job_parse(line, strlen(line), NULL, &e));
    cr_assert(strlen(e.field) <= 63 && strlen(e.field) % 2 == 0);
    cr_assert(utf8_valid(e.field, strlen(e.field)));
    cr_assert_not_null(strstr(e.msg, "...'"), "%s", e.msg);
    free(line);
    line = tj_cat("{\"prompt\":\"x\",\"priority\":\"", s, "\"}", NULL);
    cr_assert_null(job_parse(line, strlen(line), NULL, &e));
    cr_assert_lt(strlen(e.msg), 120);
    free(line);
    free(s);
}
