/* Unit tests of the job document model (job_parse.c, job_validate.c,
 * job.c): accepted jobs and normalization, job_validate on built objects,
 * accessors. Rejections are in test_job_reject.c, the fast path in
 * test_job_fast.c. */
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

TestSuite(jobparse, .init = tj_setup, .fini = tj_teardown);
TestSuite(jobacc);
TestSuite(jobval);

/* ---- accepted ----------------------------------------------------------- */

Test(jobparse, minimal_prompt_gets_uuid7_first)
{
    cJSON *j = tj_accept("{\"prompt\":\"hello\",\"max_tokens\":50}");
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
    cJSON *j = tj_accept("{\"prompt\":\"x\",\"id\":\"article-42:v1.2_x\"}");
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
    char *line = tj_cat("{", body, "}", NULL);
    cJSON *j = tj_accept(line);
    char *s = cJSON_PrintUnformatted(j);
    char *w2 = tj_cat("{\"id\":\"", job_id(j), "\",", body, "}", NULL);

    cr_assert_str_eq(s, w2);
    cJSON_free(s);
    cJSON_Delete(j);
    free(line);
    free(w2);
}

Test(jobparse, whitespace_and_crlf_around)
{
    cJSON_Delete(tj_accept(" \t{ \"prompt\" : \"x\" }\t \r"));
    cJSON_Delete(tj_accept("{\n\"prompt\":\"x\"\n}"));
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
        cJSON_Delete(tj_accept(lines[i]));
}

Test(jobparse, length_limits_in_characters)
{
    char *id = tj_rep('a', 128), *model = tj_rep('m', 255),
         *key = tj_rep('k', 256);
    char *line;

    line = tj_cat("{\"prompt\":\"x\",\"id\":\"", id, "\"}", NULL);
    cJSON_Delete(tj_accept(line));
    free(line);
    /* 255 ASCII + one 2-byte character = 256 characters, 257 bytes */
    line = tj_cat("{\"prompt\":\"x\",\"model\":\"", model, "\xc3\xa9\"}", NULL);
    cJSON_Delete(tj_accept(line));
    free(line);
    line = tj_cat("{\"prompt\":\"x\",\"idempotency_key\":\"", key, "\"}", NULL);
    cJSON_Delete(tj_accept(line));
    free(line);
    free(id);
    free(model);
    free(key);
}

Test(jobparse, messages_accepted)
{
    cJSON *j = tj_accept(
        "{\"messages\":[{\"role\":\"user\",\"content\":\"Outline X\"},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":"
        "\"1.\"}]},{\"content\":[{\"text\":\"a\",\"type\":\"text\"}],\"role\":"
        "\"user\"},{\"role\":\"assistant\",\"content\":\"Sure:\"}]}");

    cr_assert_not_null(job_id(j));
    cJSON_Delete(j);
}

Test(jobparse, template_rendered_in_place)
{
    cJSON *j =
        tj_accept("{\"model\":\"m\",\"template\":\"article\",\"vars\":{"
                  "\"topic\":\"Redis streams\",\"words\":1500,\"unused\":"
                  "true},\"max_tokens\":9}");
    char *s = cJSON_PrintUnformatted(j);
    char want[256];

    snprintf(want, sizeof want,
             "{\"id\":\"%s\",\"model\":\"m\",\"prompt\":\"Write 1500 words on "
             "Redis streams.\",\"max_tokens\":9,\"template_ref\":\"article\"}",
             job_id(j));
    cr_assert_str_eq(s, want);
    cJSON_free(s);
    cJSON_Delete(j);
}

Test(jobparse, template_without_placeholders_needs_empty_vars)
{
    cJSON *j = tj_accept("{\"template\":\"plain\",\"vars\":{}}");

    cr_assert_str_eq(cJSON_GetObjectItem(j, "prompt")->valuestring,
                     "No placeholders here.");
    cr_assert_null(cJSON_GetObjectItem(j, "vars"));
    cr_assert_null(cJSON_GetObjectItem(j, "template"));
    cJSON_Delete(j);
}

Test(jobparse, line_of_exactly_one_mib_accepted)
{
    size_t n = JOB_MAX_BYTES - strlen("{\"prompt\":\"\"}");
    char *p = tj_rep('a', n), *line = tj_cat("{\"prompt\":\"", p, "\"}", NULL);
    cJSON *j;

    cr_assert_eq(strlen(line), (size_t)JOB_MAX_BYTES);
    /* The generated id makes the stored job larger than the limit. */
    tj_reject(line, "", "after normalization");
    free(line);
    line = tj_cat("{\"id\":\"x\",\"prompt\":\"", p + 9, "\"}", NULL);
    cr_assert_eq(strlen(line), (size_t)JOB_MAX_BYTES);
    j = tj_accept(line);
    cJSON_Delete(j);
    free(p);
    free(line);
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
    char *p = tj_rep('p', JOB_MAX_BYTES);
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
