/* Unit tests of the job document model (common/job.c): every validation rule
 * accepted and rejected, normalization, accessors. */
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
#include "uuid.h"

static char tdir[64];
static struct job_opts topts;

static void
write_tmpl(const char *name, const char *text)
{
    char path[128];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s.tmpl", tdir, name);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void
setup(void)
{
    snprintf(tdir, sizeof tdir, "/tmp/genq-test-job-XXXXXX");
    cr_assert_not_null(mkdtemp(tdir));
    topts.templates_dir = tdir;
    write_tmpl("article", "Write {{ words }} words on {{topic}}.\n");
    write_tmpl("plain", "No placeholders here.\n");
    write_tmpl("twice", "{{a}}{{a}}");
    write_tmpl("empty", "\n");
}

static void
teardown(void)
{
    const char *names[] = {"article", "plain", "twice", "empty"};
    char path[128];

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s.tmpl", tdir, names[i]);
        unlink(path);
    }
    rmdir(tdir);
}

TestSuite(jobparse, .init = setup, .fini = teardown);
TestSuite(jobreject, .init = setup, .fini = teardown);
TestSuite(jobacc);
TestSuite(jobval);

static cJSON *
accept_len(const char *line, size_t len)
{
    struct job_err e;
    cJSON *j;

    memset(&e, 0, sizeof e);
    j = job_parse(line, len, &topts, &e);
    cr_assert_not_null(j, "rejected %.200s: [%s] %s", line, e.field, e.msg);
    return j;
}

static cJSON *
accept(const char *line)
{
    return accept_len(line, strlen(line));
}

/* job_parse must fail with this field and a message containing needle. */
static void
reject_len(const char *line, size_t len, const char *field, const char *needle)
{
    struct job_err e;
    cJSON *j;

    memset(&e, 0, sizeof e);
    j = job_parse(line, len, &topts, &e);
    cr_assert_null(j, "accepted %.200s", line);
    cr_assert_str_eq(e.field, field, "%.200s: field '%s', want '%s' (%s)", line,
                     e.field, field, e.msg);
    cr_assert_not_null(strstr(e.msg, needle), "%.200s: message '%s' lacks '%s'",
                       line, e.msg, needle);
    cr_assert(utf8_valid(e.field, strlen(e.field)));
    cr_assert(utf8_valid(e.msg, strlen(e.msg)));
}

static void
reject(const char *line, const char *field, const char *needle)
{
    reject_len(line, strlen(line), field, needle);
}

/* A string of n copies of c; caller frees. */
static char *
rep(char c, size_t n)
{
    char *s = malloc(n + 1);

    cr_assert_not_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* The concatenation of the strings up to a NULL; caller frees. */
static char *
cat(const char *first, ...)
{
    va_list ap;
    size_t n = 0;
    char *s;

    va_start(ap, first);
    for (const char *p = first; p; p = va_arg(ap, const char *))
        n += strlen(p);
    va_end(ap);
    s = malloc(n + 1);
    cr_assert_not_null(s);
    n = 0;
    va_start(ap, first);
    for (const char *p = first; p; p = va_arg(ap, const char *)) {
        memcpy(s + n, p, strlen(p));
        n += strlen(p);
    }
    va_end(ap);
    s[n] = '\0';
    return s;
}

/* ---- accepted ----------------------------------------------------------- */

Test(jobparse, minimal_prompt_gets_uuid7_first)
{
    cJSON *j = accept("{\"prompt\":\"hello\",\"max_tokens\":50}");
    const char *id = job_id(j);

    cr_assert_not_null(id);
    cr_assert(uuid7_valid(id), "id %s", id);
    cr_assert_str_eq(j->child->string, "id");
    cr_assert_str_eq(j->child->next->string, "prompt");
    cr_assert_str_eq(j->child->next->next->string, "max_tokens");
    cr_assert_null(j->child->next->next->next);
    cJSON_Delete(j);
}

Test(jobparse, given_id_kept)
{
    cJSON *j = accept("{\"prompt\":\"x\",\"id\":\"article-42:v1.2_x\"}");
    char *s = cJSON_PrintUnformatted(j);

    cr_assert_str_eq(s, "{\"prompt\":\"x\",\"id\":\"article-42:v1.2_x\"}");
    cJSON_free(s);
    cJSON_Delete(j);
}

Test(jobparse, every_field_passes_through_unchanged)
{
    const char *body =
        "\"v\":1,\"system\":\"You are terse.\",\"prompt\":\"Write.\","
        "\"model\":\"claude-x\",\"max_tokens\":200000,\"temperature\":0.7,"
        "\"stop_sequences\":[\"END\",\"\\n\\n\"],\"priority\":\"high\","
        "\"run_at\":\"2030-01-31T09:00:00.250+01:00\",\"max_attempts\":100,"
        "\"timeout_s\":86400,\"idempotency_key\":\"k-1\",\"metadata\":{"
        "\"article\":7,\"tags\":[\"a\",null,true,{\"x\":1.5}]},"
        "\"max_continuations\":20";
    char *line = cat("{", body, "}", NULL);
    cJSON *j = accept(line);
    char *s = cJSON_PrintUnformatted(j);
    char *w2 = cat("{\"id\":\"", job_id(j), "\",", body, "}", NULL);

    cr_assert_str_eq(s, w2);
    cJSON_free(s);
    cJSON_Delete(j);
    free(line);
    free(w2);
}

Test(jobparse, whitespace_and_crlf_around)
{
    cJSON_Delete(accept(" \t{ \"prompt\" : \"x\" }\t \r"));
    cJSON_Delete(accept("{\n\"prompt\":\"x\"\n}"));
}

Test(jobparse, boundaries_accepted)
{
    static const char *lines[] = {
        "{\"prompt\":\"x\",\"max_tokens\":1}",
        "{\"prompt\":\"x\",\"max_tokens\":200000}",
        "{\"prompt\":\"x\",\"max_tokens\":1e3}",
        "{\"prompt\":\"x\",\"max_tokens\":2.0}",
        "{\"prompt\":\"x\",\"temperature\":0}",
        "{\"prompt\":\"x\",\"temperature\":2}",
        "{\"prompt\":\"x\",\"temperature\":-0}",
        "{\"prompt\":\"x\",\"top_p\":1}",
        "{\"prompt\":\"x\",\"top_p\":0.0001}",
        "{\"prompt\":\"x\",\"delay_s\":0}",
        "{\"prompt\":\"x\",\"delay_s\":1.5}",
        "{\"prompt\":\"x\",\"delay_s\":31536000}",
        "{\"prompt\":\"x\",\"max_attempts\":1}",
        "{\"prompt\":\"x\",\"timeout_s\":1}",
        "{\"prompt\":\"x\",\"max_continuations\":0}",
        "{\"prompt\":\"x\",\"priority\":\"low\"}",
        "{\"prompt\":\"x\",\"priority\":\"normal\"}",
        "{\"prompt\":\"x\",\"system\":\"\"}",
        "{\"prompt\":\"x\",\"metadata\":{}}",
        "{\"prompt\":\"x\",\"run_at\":\"1999-12-31t23:59:60z\"}",
        "{\"prompt\":\"x\",\"run_at\":\"2024-02-29T00:00:00Z\"}",
        "{\"prompt\":\"x\",\"run_at\":\"2030-01-01 10:00:00.123456-05:30\"}",
        ("{\"prompt\":\"x\",\"stop_sequences\":[\"1\",\"2\",\"3\",\"4\",\"5\","
         "\"6\",\"7\",\"8\"]}"),
        "{\"prompt\":\"\\u00e9\\ud83d\\ude00 caf\xc3\xa9 \xf0\x9f\x98\x80\"}",
        "{\"prompt\":\"x\",\"model\":\"m\"}",
        "{\"v\":1,\"prompt\":\"x\"}",
    };

    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        cJSON_Delete(accept(lines[i]));
}

Test(jobparse, length_limits_in_characters)
{
    char *id = rep('a', 128), *model = rep('m', 255), *key = rep('k', 256);
    char *line;

    line = cat("{\"prompt\":\"x\",\"id\":\"", id, "\"}", NULL);
    cJSON_Delete(accept(line));
    free(line);
    /* 255 ASCII + one 2-byte character = 256 characters, 257 bytes */
    line = cat("{\"prompt\":\"x\",\"model\":\"", model, "\xc3\xa9\"}", NULL);
    cJSON_Delete(accept(line));
    free(line);
    line = cat("{\"prompt\":\"x\",\"idempotency_key\":\"", key, "\"}", NULL);
    cJSON_Delete(accept(line));
    free(line);
    free(id);
    free(model);
    free(key);
}

Test(jobparse, messages_accepted)
{
    cJSON *j = accept(
        "{\"messages\":[{\"role\":\"user\",\"content\":\"Outline X\"},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":"
        "\"1.\"}]},{\"content\":[{\"text\":\"a\",\"type\":\"text\"}],\"role\":"
        "\"user\"},{\"role\":\"assistant\",\"content\":\"Sure:\"}]}");

    cr_assert_not_null(job_id(j));
    cJSON_Delete(j);
}

Test(jobparse, template_rendered_in_place)
{
    cJSON *j = accept("{\"model\":\"m\",\"template\":\"article\",\"vars\":{"
                      "\"topic\":\"Redis streams\",\"words\":1500,\"unused\":"
                      "true},\"max_tokens\":9}");
    char *s = cJSON_PrintUnformatted(j);
    char want[256];

    snprintf(want, sizeof want,
             "{\"id\":\"%s\",\"model\":\"m\",\"prompt\":\"Write 1500 words on "
             "Redis streams.\",\"max_tokens\":9}",
             job_id(j));
    cr_assert_str_eq(s, want);
    cJSON_free(s);
    cJSON_Delete(j);
}

Test(jobparse, template_without_placeholders_needs_empty_vars)
{
    cJSON *j = accept("{\"template\":\"plain\",\"vars\":{}}");

    cr_assert_str_eq(cJSON_GetObjectItem(j, "prompt")->valuestring,
                     "No placeholders here.");
    cr_assert_null(cJSON_GetObjectItem(j, "vars"));
    cr_assert_null(cJSON_GetObjectItem(j, "template"));
    cJSON_Delete(j);
}

Test(jobparse, line_of_exactly_one_mib_accepted)
{
    size_t n = JOB_MAX_BYTES - strlen("{\"prompt\":\"\"}");
    char *p = rep('a', n), *line = cat("{\"prompt\":\"", p, "\"}", NULL);
    cJSON *j;

    cr_assert_eq(strlen(line), (size_t)JOB_MAX_BYTES);
    /* The generated id makes the stored job larger than the limit. */
    reject(line, "", "after normalization");
    free(line);
    line = cat("{\"id\":\"x\",\"prompt\":\"", p + 9, "\"}", NULL);
    cr_assert_eq(strlen(line), (size_t)JOB_MAX_BYTES);
    j = accept(line);
    cJSON_Delete(j);
    free(p);
    free(line);
}

/* ---- rejected ----------------------------------------------------------- */

struct rcase {
    const char *line, *field, *needle;
};

static void
run_cases(const struct rcase *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        reject(c[i].line, c[i].field, c[i].needle);
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

    reject(line, "", "at byte 88: nested deeper than 64 levels");
    free(line);
    line = nested(63);
    reject(line, "metadata", "must be an object, got array");
    free(line);
}

Test(jobreject, size_nul_utf8)
{
    char *p = rep('a', JOB_MAX_BYTES), *line;

    line = cat("{\"prompt\":\"", p, "\"}", NULL);
    reject(line, "", "line is 1048589 bytes; the limit is 1048576");
    free(line);
    p[JOB_MAX_BYTES - 12] = '\0';
    line = cat("{\"prompt\":\"", p, "\"}", NULL); /* limit + 1 */
    reject(line, "", "line is 1048577 bytes");
    free(line);
    free(p);

    reject_len("{\"prompt\":\"a\0b\"}", 16, "", "NUL byte at byte 12");
    reject("{\"prompt\":\"a\xff\"}", "", "invalid UTF-8 at byte 12");
    reject("{\"prompt\":\"\xc0\xaf\"}", "", "invalid UTF-8 at byte 11");
    reject("{\"prompt\":\"\xed\xa0\x80\"}", "", "invalid UTF-8 at byte 11");
    reject("{\"prompt\":\"\xf4\x90\x80\x80\"}", "", "invalid UTF-8");
    reject("{\"prompt\":\"x\xe2\x82\"}", "", "invalid UTF-8 at byte 12");
    reject("{\"pr\x80ompt\":\"x\"}", "", "invalid UTF-8 at byte 4");
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
         "\"text\":\"x\",\"cache_control\":{}}]}]}",
         "messages[0].content[0].cache_control",
         "unknown field 'cache_control'"},
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
    reject(line, "metadata.k7", "duplicate field 'k7'");
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
    char *id = rep('a', 129), *line;

    RUN(c);
    line = cat("{\"prompt\":\"x\",\"id\":\"", id, "\"}", NULL);
    reject(line, "id", "id is 129 characters; the limit is 128");
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
    char *name = rep('t', 65), *line;

    RUN(c);
    line = cat("{\"template\":\"", name, "\",\"vars\":{}}", NULL);
    reject(line, "template", "1 to 64 characters");
    free(line);
    free(name);
}

Test(jobreject, scalars)
{
    static const struct rcase c[] = {
        {"{\"prompt\":\"x\",\"system\":5}", "system",
         "system must be a string, got number"},
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
    char *s = rep('m', 257), *line;

    RUN(c);
    line = cat("{\"prompt\":\"x\",\"model\":\"", s, "\"}", NULL);
    reject(line, "model", "model is 257 characters; the limit is 256");
    free(line);
    line = cat("{\"prompt\":\"x\",\"idempotency_key\":\"", s, "\"}", NULL);
    reject(line, "idempotency_key", "is 257 characters; the limit is 256");
    free(line);
    free(s);
}

Test(jobreject, metadata_size)
{
    /* {"a":"…"} is 8 bytes + the string: exactly 64 KiB is fine. */
    char *s = rep('z', 64 * 1024 - 8), *line;
    cJSON *j;

    line = cat("{\"prompt\":\"x\",\"metadata\":{\"a\":\"", s, "\"}}", NULL);
    j = accept(line);
    cJSON_Delete(j);
    free(line);
    free(s);
    s = rep('z', 64 * 1024 - 7);
    line = cat("{\"prompt\":\"x\",\"metadata\":{\"a\":\"", s, "\"}}", NULL);
    reject(line, "metadata",
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
    reject(line, "", "after normalization; the limit is 1048576");
    free(line);
}

Test(jobreject, rendered_template_too_large)
{
    char *v = rep('v', 600000), *line;

    line = cat("{\"template\":\"twice\",\"vars\":{\"a\":\"", v, "\"}}", NULL);
    reject(line, "template", "rendered prompt is larger than 1048576 bytes");
    free(line);
    free(v);
}

Test(jobreject, long_values_are_cut_in_messages)
{
    char *s = rep('\x41', 300), *line;
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
    line = cat("{\"prompt\":\"x\",\"priority\":\"", s, "\"}", NULL);
    cr_assert_null(job_parse(line, strlen(line), NULL, &e));
    cr_assert_lt(strlen(e.msg), 120);
    free(line);
    free(s);
}

/* ---- job_validate on objects built in code ------------------------------ */

Test(jobval, normalized_job_still_valid)
{
    struct job_err e;
    const char *line = "{\"prompt\":\"x\",\"priority\":\"low\"}";
    cJSON *j = job_parse(line, strlen(line), NULL, &e);

    cr_assert_not_null(j);
    cr_assert_eq(job_validate(j, &e), 0, "%s", e.msg);
    cJSON_Delete(j);
}

Test(jobval, template_checked_by_name_only)
{
    struct job_err e;
    cJSON *j = cJSON_Parse("{\"template\":\"no-such\",\"vars\":{}}");

    cr_assert_eq(job_validate(j, &e), 0, "%s", e.msg);
    cJSON_Delete(j);
}

Test(jobval, built_in_code)
{
    struct job_err e;
    cJSON *j = cJSON_CreateObject();

    cr_assert_eq(job_validate(NULL, &e), -1);
    cr_assert_eq(job_validate(j, &e), -1);
    cr_assert_str_eq(e.field, "prompt");
    cJSON_AddStringToObject(j, "prompt", "bad \xff byte");
    cr_assert_eq(job_validate(j, &e), -1);
    cr_assert_str_eq(e.field, "prompt");
    cr_assert_not_null(strstr(e.msg, "not valid UTF-8"));
    cJSON_DeleteItemFromObject(j, "prompt");
    cJSON_AddStringToObject(j, "prompt", "ok");
    cJSON_AddNumberToObject(j, "temperature", NAN);
    cr_assert_eq(job_validate(j, &e), -1);
    cr_assert_str_eq(e.field, "temperature");
    cJSON_DeleteItemFromObject(j, "temperature");
    cJSON_AddStringToObject(j, "prompt", "again");
    cr_assert_eq(job_validate(j, &e), -1);
    cr_assert_str_eq(e.msg, "duplicate field 'prompt'");
    cJSON_Delete(j);
}

Test(jobval, serialized_size_limit)
{
    struct job_err e;
    char *p = rep('p', JOB_MAX_BYTES);
    cJSON *j = cJSON_CreateObject();

    cJSON_AddStringToObject(j, "prompt", p);
    cr_assert_eq(job_validate(j, &e), -1);
    cr_assert_str_eq(e.field, "");
    cr_assert_not_null(strstr(e.msg, "bytes serialized; the limit is 1048576"));
    cJSON_Delete(j);
    free(p);
}

/* ---- accessors ---------------------------------------------------------- */

static cJSON *
parse_ok(const char *s)
{
    struct job_err e;
    cJSON *j = job_parse(s, strlen(s), NULL, &e);

    cr_assert_not_null(j, "%s: %s", s, e.msg);
    return j;
}

Test(jobacc, priority)
{
    cJSON *a = parse_ok("{\"prompt\":\"x\"}");
    cJSON *b = parse_ok("{\"prompt\":\"x\",\"priority\":\"high\"}");
    cJSON *c = parse_ok("{\"prompt\":\"x\",\"priority\":\"low\"}");

    cr_assert_eq(job_priority(a), JOB_PRIO_NORMAL);
    cr_assert_eq(job_priority(b), JOB_PRIO_HIGH);
    cr_assert_eq(job_priority(c), JOB_PRIO_LOW);
    cr_assert_eq(job_priority(NULL), JOB_PRIO_NORMAL);
    cr_assert_str_eq(job_priority_name(JOB_PRIO_LOW), "low");
    cr_assert_str_eq(job_priority_name(JOB_PRIO_HIGH), "high");
    cr_assert_str_eq(job_priority_name(JOB_PRIO_NORMAL), "normal");
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
}

Test(jobacc, schedule)
{
    cJSON *a = parse_ok("{\"prompt\":\"x\"}");
    cJSON *b = parse_ok(
        "{\"prompt\":\"x\",\"run_at\":\"2030-01-02T03:04:05.678+02:00\"}");
    cJSON *c = parse_ok("{\"prompt\":\"x\",\"delay_s\":1.5}");
    cJSON *d = parse_ok("{\"prompt\":\"x\",\"delay_s\":0.0004}");
    cJSON *e =
        parse_ok("{\"prompt\":\"x\",\"run_at\":\"1969-01-01T00:00:00Z\"}");
    int64_t at, delay;

    cr_assert_eq(job_schedule(a, &at, &delay), 0);
    cr_assert(at == 0 && delay == 0);
    cr_assert_eq(job_schedule(b, &at, &delay), 0);
    cr_assert_eq(at, INT64_C(1893546245678));
    cr_assert_eq(delay, 0);
    cr_assert_eq(job_schedule(c, &at, &delay), 0);
    cr_assert(at == 0 && delay == 1500);
    cr_assert_eq(job_schedule(d, &at, &delay), 0);
    cr_assert(at == 0 && delay == 0);
    cr_assert_eq(job_schedule(e, &at, &delay), 0);
    cr_assert(at == 0 && delay == 0);
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
    cJSON_Delete(d);
    cJSON_Delete(e);
}

Test(jobacc, ids_keys_attempts)
{
    cJSON *a = parse_ok("{\"prompt\":\"x\"}");
    cJSON *b = parse_ok("{\"id\":\"j1\",\"prompt\":\"x\",\"idempotency_key\":"
                        "\"k\",\"max_attempts\":7}");

    cr_assert_null(job_idempotency_key(a));
    cr_assert_eq(job_max_attempts(a), 0);
    cr_assert_str_eq(job_id(b), "j1");
    cr_assert_str_eq(job_idempotency_key(b), "k");
    cr_assert_eq(job_max_attempts(b), 7);
    cr_assert_null(job_id(NULL));
    cJSON_Delete(a);
    cJSON_Delete(b);
}

Test(jobacc, prompt_text)
{
    cJSON *a = parse_ok("{\"prompt\":\"hello\"}");
    cJSON *b = parse_ok("{\"messages\":[{\"role\":\"user\",\"content\":\"q1\"},"
                        "{\"role\":\"assistant\",\"content\":\"a\"},{\"role\":"
                        "\"user\",\"content\":\"q2\"}]}");
    cJSON *c = parse_ok("{\"messages\":[{\"role\":\"user\",\"content\":[{"
                        "\"type\":\"text\",\"text\":\"ab\"},{\"type\":"
                        "\"text\",\"text\":\"cd\"}]}]}");
    cJSON *d = cJSON_Parse("{\"template\":\"t\",\"vars\":{}}");
    char *s;

    s = job_prompt_text(a);
    cr_assert_str_eq(s, "hello");
    free(s);
    s = job_prompt_text(b);
    cr_assert_str_eq(s, "q1");
    free(s);
    s = job_prompt_text(c);
    cr_assert_str_eq(s, "abcd");
    free(s);
    cr_assert_null(job_prompt_text(d));
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
    cJSON_Delete(d);
}

Test(jobacc, format_number)
{
    char b[32];

    job_format_number(1500, b);
    cr_assert_str_eq(b, "1500");
    job_format_number(0.1, b);
    cr_assert_str_eq(b, "0.1");
    job_format_number(-2.5, b);
    cr_assert_str_eq(b, "-2.5");
    job_format_number(1e300, b);
    cr_assert_str_eq(b, "1e+300");
    job_format_number(1.0 / 3.0, b);
    cr_assert_eq(strtod(b, NULL), 1.0 / 3.0);
    job_format_number(-0.0, b);
    cr_assert_str_eq(b, "0");
}

Test(jobparse, line_need_not_be_nul_terminated)
{
    static const char *lines[] = {"{\"prompt\":\"x\",\"max_tokens\":12}",
                                  "42",
                                  "-1.5e3",
                                  "\"abc\"",
                                  "{\"prompt\":\"x\"",
                                  "{\"prompt\":\"\\u00e9\"}",
                                  "tru",
                                  "{\"a\":1e5"};

    /* exact-size heap copies: ASan catches any read past len */
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        size_t n = strlen(lines[i]);
        char *buf = malloc(n);
        struct job_err e;
        cJSON *j;

        cr_assert_not_null(buf);
        memcpy(buf, lines[i], n);
        j = job_parse(buf, n, NULL, &e);
        cr_assert_eq(j != NULL, i == 0 || i == 5, "%s: %s", lines[i], e.msg);
        cJSON_Delete(j);
        free(buf);
    }
}

Test(jobparse, err_may_be_null)
{
    cr_assert_null(job_parse("{", 1, NULL, NULL));
    cr_assert_null(job_parse(NULL, 0, NULL, NULL));
}

/* ---- job_parse_info: the fast path gives the full path's answers ------- */

/* Lines of every shape the fast path takes or must hand over: plain jobs,
 * each field at and beyond its limits, numbers of every form, escapes,
 * duplicates, unknown fields, whitespace, and the kinds it never takes. */
static const char *const info_lines[] = {
    "{\"prompt\":\"a\"}",
    "  {\"prompt\" : \"a\" , \"max_tokens\" : 50 }\r",
    "{\"prompt\":\"\"}",
    "{\"prompt\":\"x\",\"prompt\":\"y\"}",
    "{\"prompt\":\"x\",\"Prompt\":\"y\"}",
    "{\"prompt\":\"x\",\"bogus\":1}",
    "{\"prompt\":1}",
    "{\"prompt\":null}",
    "{\"prompt\":\"tab\\there \\\"quoted\\\" back\\\\slash \\/ \\n\"}",
    "{\"prompt\":\"\\u00e9t\\u00e9\"}",
    "{\"prompt\":\"\\ud83d\\ude80\"}",
    "{\"prompt\":\"na\xc3\xafve \xf0\x9f\x9a\x80\"}",
    "{\"pro\\u006dpt\":\"escaped key\"}",
    "{\"v\":1,\"prompt\":\"x\"}",
    "{\"v\":1.0,\"prompt\":\"x\"}",
    "{\"v\":2,\"prompt\":\"x\"}",
    "{\"id\":\"job-1.a_b:c\",\"prompt\":\"x\"}",
    "{\"id\":\"\",\"prompt\":\"x\"}",
    "{\"id\":\"has space\",\"prompt\":\"x\"}",
    "{\"id\":\"a\\u0062c\",\"prompt\":\"x\"}",
    "{\"id\":"
    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
    "\"prompt\":\"x\"}",
    "{\"id\":"
    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
    "\"prompt\":\"x\"}",
    "{\"id\":7,\"prompt\":\"x\"}",
    "{\"prompt\":\"x\",\"max_tokens\":0}",
    "{\"prompt\":\"x\",\"max_tokens\":1}",
    "{\"prompt\":\"x\",\"max_tokens\":200000}",
    "{\"prompt\":\"x\",\"max_tokens\":200001}",
    "{\"prompt\":\"x\",\"max_tokens\":-5}",
    "{\"prompt\":\"x\",\"max_tokens\":-0}",
    "{\"prompt\":\"x\",\"max_tokens\":50.0}",
    "{\"prompt\":\"x\",\"max_tokens\":5e1}",
    "{\"prompt\":\"x\",\"max_tokens\":50.5}",
    "{\"prompt\":\"x\",\"max_tokens\":1234567890123}",
    "{\"prompt\":\"x\",\"max_tokens\":\"50\"}",
    "{\"prompt\":\"x\",\"max_attempts\":1}",
    "{\"prompt\":\"x\",\"max_attempts\":100}",
    "{\"prompt\":\"x\",\"max_attempts\":101}",
    "{\"prompt\":\"x\",\"timeout_s\":86400}",
    "{\"prompt\":\"x\",\"timeout_s\":86401}",
    "{\"prompt\":\"x\",\"max_continuations\":0}",
    "{\"prompt\":\"x\",\"max_continuations\":-0}",
    "{\"prompt\":\"x\",\"max_continuations\":21}",
    "{\"prompt\":\"x\",\"temperature\":0}",
    "{\"prompt\":\"x\",\"temperature\":2}",
    "{\"prompt\":\"x\",\"temperature\":2.0000001}",
    "{\"prompt\":\"x\",\"temperature\":0.7}",
    "{\"prompt\":\"x\",\"temperature\":-0.1}",
    "{\"prompt\":\"x\",\"temperature\":1e0}",
    "{\"prompt\":\"x\",\"top_p\":0}",
    "{\"prompt\":\"x\",\"top_p\":1}",
    "{\"prompt\":\"x\",\"top_p\":0.0000001}",
    "{\"prompt\":\"x\",\"top_p\":1.5}",
    "{\"prompt\":\"x\",\"temperature\":0.5,\"top_p\":0.5}",
    "{\"prompt\":\"x\",\"priority\":\"high\"}",
    "{\"prompt\":\"x\",\"priority\":\"low\"}",
    "{\"prompt\":\"x\",\"priority\":\"normal\"}",
    "{\"prompt\":\"x\",\"priority\":\"urgent\"}",
    "{\"prompt\":\"x\",\"priority\":\"hi\\u0067h\"}",
    "{\"prompt\":\"x\",\"priority\":1}",
    "{\"prompt\":\"x\",\"idempotency_key\":\"k-1\"}",
    "{\"prompt\":\"x\",\"idempotency_key\":\"\"}",
    "{\"prompt\":\"x\",\"idempotency_key\":\"with \\\"escape\\\"\"}",
    "{\"prompt\":\"x\",\"model\":\"\"}",
    "{\"prompt\":\"x\",\"model\":\"m\"}",
    "{\"prompt\":\"x\",\"system\":\"\"}",
    "{\"prompt\":\"x\",\"system\":\"be brief\"}",
    "{\"prompt\":\"x\",\"delay_s\":5}",
    "{\"prompt\":\"x\",\"run_at\":\"2030-01-01T00:00:00Z\"}",
    "{\"prompt\":\"x\",\"metadata\":{\"n\":1}}",
    "{\"prompt\":\"x\",\"stop_sequences\":[\"END\"]}",
    "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
    "{\"template\":\"article\",\"vars\":{\"topic\":\"Redis\"}}",
    "{\"prompt\":\"x\",\"messages\":[]}",
    "{\"prompt\":\"x\",\"flag\":true}",
    "{\"prompt\":\"x\"} trailing",
    "{\"prompt\":\"x\",}",
    "[\"prompt\"]",
    "{}",
    "   ",
    "",
    "{\"prompt\":\"x\"",
    "{\"prompt\":\"bad \xff utf8\"}",
    /* JSON the fast path must refuse by itself (no syntax check first) */
    "{\"prompt\":\"tab\tinside\"}",
    "{\"prompt\":\"bad \\x escape\"}",
    "{\"prompt\":\"bad \\' escape\"}",
    "{\"prompt\":\"ends in a backslash\\",
    "{\"prompt\":\"x\",\"temperature\":1.}",
    "{\"prompt\":\"x\",\"temperature\":.5}",
    "{\"prompt\":\"x\",\"temperature\":01.5}",
    "{\"prompt\":\"x\",\"temperature\":0.5.1}",
    "{\"prompt\":\"x\",\"temperature\":1.5e0}",
    "{\"prompt\":\"x\",\"temperature\":+1}",
    "{\"prompt\":\"x\",\"temperature\":0.}",
    "{\"prompt\":\"x\",\"temperature\":0..5}",
    "{\"prompt\":\"x\",\"top_p\":00.5}",
    "{\"prompt\":\"x\",\"max_tokens\":012}",
    "{\"prompt\":\"x\",\"max_tokens\":-}",
    "{\"prompt\":\"x\",\"max_tokens\":5 5}",
    "{\"prompt\":\"x\"}}",
    "{\"prompt\":\"x\"}\x0b",
    "{\"prompt\" \"x\"}",
    "{\"prompt\":\"x\" \"max_tokens\":5}",
    "{\"prompt\":\"x\",,\"max_tokens\":5}",
    "{'prompt':'x'}",
    "{\"prompt\":\"x\",\"temperature\":0.25}",
    "{\"prompt\":\"x\",\"temperature\":2}",
    "{\"prompt\":\"x\",\"temperature\":0}",
    "{\"prompt\":\"x\",\"top_p\":1.0}",
};

/* Compare the fast path (when it takes the line) with the full path.
 * Returns 1 when the first call took the fast path (job_fast_taken). */
static int
info_same(const char *line, size_t len)
{
    struct job_info a, b;
    struct job_err ea, eb;
    unsigned long taken;
    int ra, rb, fast;

    job_fast_path_disable(0);
    taken = job_fast_taken();
    ra = job_parse_info(line, len, NULL, &ea, &a);
    fast = job_fast_taken() != taken;
    cr_assert(!fast || ra == 0, "the fast path rejected %.*s", (int)len, line);
    job_fast_path_disable(1);
    rb = job_parse_info(line, len, NULL, &eb, &b);
    job_fast_path_disable(0);
    cr_assert_eq(job_fast_taken(), taken + (unsigned long)fast,
                 "the fast path ran while disabled");
    cr_assert_eq(ra, rb, "accept/reject differ for %.*s", (int)len, line);
    if (ra != 0) {
        cr_assert_str_eq(ea.field, eb.field, "%.*s", (int)len, line);
        cr_assert_str_eq(ea.msg, eb.msg, "%.*s", (int)len, line);
        return fast;
    }
    cr_assert_eq(a.id_generated, b.id_generated, "%.*s", (int)len, line);
    cr_assert_eq(a.prio, b.prio, "%.*s", (int)len, line);
    cr_assert_eq(a.max_attempts, b.max_attempts, "%.*s", (int)len, line);
    cr_assert_eq(a.run_at_ms, b.run_at_ms);
    cr_assert_eq(a.delay_ms, b.delay_ms);
    cr_assert_eq(a.idem == NULL, b.idem == NULL, "%.*s", (int)len, line);
    if (a.idem)
        cr_assert_str_eq(a.idem, b.idem);
    cr_assert_eq(a.text_len, b.text_len, "%.*s", (int)len, line);
    if (a.id_generated) {
        cr_assert(uuid7_valid(a.id) && uuid7_valid(b.id));
        cr_assert(!memcmp(a.text + 44, b.text + 44, a.text_len - 44), "%s",
                  a.text);
    } else {
        cr_assert_str_eq(a.id, b.id);
        cr_assert_str_eq(a.text, b.text);
    }
    job_info_free(&a);
    job_info_free(&b);
    return fast;
}

Test(jobparse, info_fast_path_gives_the_full_answers)
{
    size_t fast = 0;

    for (size_t i = 0; i < sizeof(info_lines) / sizeof(info_lines[0]); i++)
        fast += (size_t)info_same(info_lines[i], strlen(info_lines[i]));
    /* the comparison means something only when the fast path answered */
    cr_assert_geq(fast, 20, "the fast path took only %zu lines", fast);
}

/* The common job takes the fast path, and everything it leaves alone takes
 * the full one: switching the fast path off fails this test. */
Test(jobparse, info_fast_path_is_taken_for_the_common_job)
{
    static const char *const fast[] = {
        "{\"prompt\":\"x\"}",
        " {\"prompt\":\"hello\",\"max_tokens\":50} ",
        "{\"v\":1,\"id\":\"j-1\",\"prompt\":\"x\"}",
        "{\"prompt\":\"Write about \\\"Redis\\\"\\n\",\"max_tokens\":120}",
        "{\"prompt\":\"x\",\"temperature\":0.7,\"model\":\"m\"}",
        "{\"prompt\":\"x\",\"top_p\":1,\"system\":\"\"}",
        "{\"prompt\":\"x\",\"priority\":\"high\",\"max_attempts\":100}",
        "{\"prompt\":\"x\",\"idempotency_key\":\"k-1\",\"timeout_s\":86400}",
        "{\"prompt\":\"x\",\"max_continuations\":0}",
        "{\"prompt\":\"caf\xc3\xa9 \xe2\x82\xac\"}",
    };
    static const char *const full[] = {
        "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
        "{\"prompt\":\"x\",\"metadata\":{\"n\":1}}",
        "{\"prompt\":\"x\",\"delay_s\":5}",
        "{\"prompt\":\"x\",\"run_at\":\"2030-01-01T00:00:00Z\"}",
        "{\"prompt\":\"\\u0078\"}",
        "{\"prompt\":\"x\",\"max_tokens\":0}",
        "{\"prompt\":\"x\",\"flag\":true}",
        "{\"prompt\":\"x\"",
    };

    for (size_t i = 0; i < sizeof(fast) / sizeof(fast[0]); i++)
        cr_assert(info_same(fast[i], strlen(fast[i])), "full path: %s",
                  fast[i]);
    for (size_t i = 0; i < sizeof(full) / sizeof(full[0]); i++)
        cr_assert(!info_same(full[i], strlen(full[i])), "fast path: %s",
                  full[i]);
}

/* Every cut of a few valid lines (each prefix is mostly invalid) and every
 * single-byte change of one: the two paths still agree. */
Test(jobparse, info_fast_path_agrees_on_cuts_and_byte_flips)
{
    static const char *const base[] = {
        "{\"id\":\"j-9\",\"prompt\":\"Write about "
        "\\\"Redis\\\"\",\"max_tokens\":"
        "120,\"temperature\":0.25,\"priority\":\"high\",\"max_attempts\":3}",
        "{\"prompt\":\"x\",\"idempotency_key\":\"key-1\",\"timeout_s\":30,"
        "\"model\":\"claude\",\"system\":\"s\",\"max_continuations\":2}"};
    static const char repl[] = "\"\\{}:,0 9.-eE1uaZ\x80\xc3";
    char buf[256];

    for (int b = 0; b < 2; b++) {
        size_t n = strlen(base[b]);
        cr_assert_lt(n, sizeof(buf));
        for (size_t cut = 0; cut <= n; cut++)
            info_same(base[b], cut);
        for (size_t at = 0; at < n; at++)
            for (size_t r = 0; r < sizeof(repl) - 1; r++) {
                memcpy(buf, base[b], n);
                buf[at] = repl[r];
                info_same(buf, n);
            }
    }
}

/* The fast path takes the common job: the stored text is the line itself
 * with the generated id first. */
Test(jobparse, info_fast_path_stores_the_line_with_its_id)
{
    struct job_info in;
    struct job_err err;
    const char *line = " {\"prompt\":\"hello\",\"max_tokens\":50} ";
    unsigned long taken = job_fast_taken();

    cr_assert_eq(job_parse_info(line, strlen(line), NULL, &err, &in), 0);
    cr_assert_eq(job_fast_taken(), taken + 1);
    cr_assert(in.id_generated);
    cr_assert_eq(strlen(in.id), 36);
    cr_assert(!strncmp(in.text, "{\"id\":\"", 7));
    cr_assert(!strncmp(in.text + 7, in.id, 36));
    cr_assert_str_eq(in.text + 43,
                     "\",\"prompt\":\"hello\",\"max_tokens\":50}");
    cr_assert_eq(in.text_len, strlen(in.text));
    cr_assert_eq(in.prio, JOB_PRIO_NORMAL);
    job_info_free(&in);
}

/* The string scanners take 8 plain bytes at a time: a quote, backslash,
 * control character or non-ASCII byte at any offset of a long string is
 * still seen, by both the syntax check and the fast path. */
Test(jobparse, string_scan_sees_every_byte_at_every_offset)
{
    char line[128];
    struct job_info in;
    struct job_err err;

    for (int at = 0; at < 40; at++) {
        /* a control character: rejected */
        snprintf(line, sizeof(line), "{\"prompt\":\"%.*s\x01%.*s\"}", at,
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 39 - at,
                 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
        cr_assert_eq(job_parse_info(line, strlen(line), NULL, &err, &in), -1,
                     "control char at %d", at);
        cr_assert(strstr(err.msg, "control character"), "%s", err.msg);
        /* an escaped quote, a backslash pair and a two-byte character:
         * accepted, the stored text the line itself */
        snprintf(line, sizeof(line),
                 "{\"id\":\"s-%d\",\"prompt\":\"%.*s\\\"\\\\\xc3\xa9%.*s\"}",
                 at, at, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 39 - at,
                 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
        cr_assert_eq(job_parse_info(line, strlen(line), NULL, &err, &in), 0,
                     "at %d: %s", at, err.msg);
        cr_assert_str_eq(in.text, line);
        job_info_free(&in);
        cr_assert(info_same(line, strlen(line)), "full path at %d", at);
        /* the string ends early: a quote at that offset closes it */
        snprintf(line, sizeof(line), "{\"prompt\":\"%.*s\"x\"}", at,
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        cr_assert_eq(job_parse_info(line, strlen(line), NULL, &err, &in), -1,
                     "a stray quote at %d", at);
    }
}
