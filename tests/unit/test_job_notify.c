/* Unit tests of the job's notify field (issue 18): its rules (job_validate:
 * an array of at most 16 names of 1..64 characters) with genq enqueue's
 * wording, and its echo (job_notify_echo: the metadata fields it names, as
 * one JSON object, for the completion feed). */
#include "fmacros.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"

/* The error of line, or "" when it is valid (static buffers). */
static const char *
reject(const char *line, const char **field)
{
    static struct job_err e;
    cJSON *j;

    memset(&e, 0, sizeof(e));
    j = job_parse(line, strlen(line), NULL, &e);
    *field = e.field;
    if (j) {
        cJSON_Delete(j);
        return "";
    }
    return e.msg;
}

Test(jobnotify, rules_and_their_words)
{
    static const struct {
        const char *line, *field, *msg;
    } cases[] = {
        {"{\"prompt\":\"x\",\"notify\":[\"a\"]}", "", ""},
        {"{\"prompt\":\"x\",\"notify\":[]}", "", ""},
        {"{\"prompt\":\"x\",\"notify\":{}}", "notify",
         "notify must be an array, got object"},
        {"{\"prompt\":\"x\",\"notify\":[\"\"]}", "notify[0]",
         "notify[0] must not be empty"},
        {"{\"prompt\":\"x\",\"notify\":[\"a\",2]}", "notify[1]",
         "notify[1] must be a string, got number"},
        {"{\"prompt\":\"x\",\"notify\":["
         "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaa\"]}",
         "notify[0]", "notify[0] is 65 characters; the limit is 64"},
        {"{\"prompt\":\"x\",\"notify\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\","
         "\"g\","
         "\"h\",\"i\",\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\"]}",
         "notify", "notify must have at most 16 entries, got 17"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *field, *msg = reject(cases[i].line, &field);
        cr_assert_str_eq(msg, cases[i].msg, "%s", cases[i].line);
        if (*msg)
            cr_assert_str_eq(field, cases[i].field, "%s", cases[i].line);
    }
}

/* The echo of line (caller frees), asserting the line is valid. */
static char *
echo_of(const char *line)
{
    struct job_err e;
    cJSON *j = job_parse(line, strlen(line), NULL, &e);
    char *out = (char *)1;

    cr_assert(j, "%s: %s", line, e.msg);
    cr_assert_eq(job_notify_echo(j, &out), 0);
    cJSON_Delete(j);
    return out;
}

Test(jobnotify, echo_names_metadata_fields_in_order_once)
{
    char *s;

    s = echo_of("{\"prompt\":\"x\",\"metadata\":{\"a\":7,\"b\":\"s\",\"c\":"
                "{\"d\":[1,null]}},\"notify\":[\"c\",\"nope\",\"a\",\"c\"]}");
    cr_assert_str_eq(s, "{\"c\":{\"d\":[1,null]},\"a\":7}");
    free(s);
    s = echo_of("{\"prompt\":\"x\",\"metadata\":{\"a\":\"caf\xc3\xa9\"},"
                "\"notify\":[\"a\"]}");
    cr_assert_str_eq(s, "{\"a\":\"caf\xc3\xa9\"}");
    free(s);
    cr_assert_null(echo_of("{\"prompt\":\"x\",\"notify\":[\"a\"]}"),
                   "no metadata: no echo");
    cr_assert_null(echo_of("{\"prompt\":\"x\",\"metadata\":{\"b\":1},"
                           "\"notify\":[\"a\"]}"),
                   "no named key in metadata: no echo");
    cr_assert_null(echo_of("{\"prompt\":\"x\",\"metadata\":{\"a\":1}}"),
                   "no notify: no echo");
}

Test(jobnotify, job_parse_info_carries_the_echo)
{
    const char *line = "{\"prompt\":\"x\",\"metadata\":{\"id\":\"a-1\"},"
                       "\"notify\":[\"id\"]}";
    struct job_info in;
    struct job_err e;

    cr_assert_eq(job_parse_info(line, strlen(line), NULL, &e, &in), 0);
    cr_assert_str_eq(in.notify, "{\"id\":\"a-1\"}");
    job_info_free(&in);
    line = "{\"prompt\":\"x\",\"max_tokens\":5}";
    cr_assert_eq(job_parse_info(line, strlen(line), NULL, &e, &in), 0);
    cr_assert_null(in.notify);
    job_info_free(&in);
}
