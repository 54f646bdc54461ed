/* `genq` as a user runs it: enqueue (every kind of rejected line, dry run,
 * --skip-invalid, flags, idempotency, exit codes), status (many ids, stdin,
 * unknown ids, --with-result) and result (--wait), against a real Redis. */
#include "fmacros.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <criterion/criterion.h>

#include "harness.h"
#include "rclient.h"

TH_SUITE(cli, .timeout = 60);

Test(cli, enqueue_jsonl_from_stdin)
{
    char *out, *err;
    const char *in = "{\"prompt\":\"a\"}\n"
                     "\n"
                     "{\"prompt\":\"b\",\"priority\":\"high\"}\r\n"
                     "{\"id\":\"fixed-1\",\"prompt\":\"c\",\"delay_s\":60}";
    int rc = th_genq(&t, in, &out, &err, "enqueue", "--json", "-", NULL);
    char st[64];

    cr_assert_eq(rc, 0, "stderr: %s", err);
    cr_assert(strstr(out, "\"line\":1,"), "%s", out);
    cr_assert(strstr(out, "\"line\":3,"), "blank line 2 is counted: %s", out);
    cr_assert(strstr(out, "\"line\":4,\"id\":\"fixed-1\",\"status\":"
                          "\"enqueued\""),
              "%s", out);
    cr_assert_eq(th_stored(&t), 3);
    cr_assert_str_eq(th_state(&t, "fixed-1", st, NULL), "delayed");
    free(out);
    free(err);
}

/* Each bad line: its text and what the error must name. */
static const struct {
    const char *line;
    const char *field; /* expected in the report */
} bad[] = {
    {"{\"prompt\": \"x\"", ""},    /* malformed JSON */
    {"[1,2]", ""},                 /* not an object */
    {"{}", "prompt"},              /* nothing to send */
    {"{\"prompt\":42}", "prompt"}, /* wrong type */
    {"{\"prompt\":\"x\",\"max_tokens\":\"9\"}", "max_tokens"},
    {"{\"prompt\":\"x\",\"max_tokens\":2.5}", "max_tokens"},
    {"{\"prompt\":\"x\",\"max_tokens\":-1}", "max_tokens"},
    {"{\"prompt\":\"x\",\"max_tokens\":1e12}", "max_tokens"},
    {"{\"prompt\":\"x\",\"priority\":\"urgent\"}", "priority"},
    {"{\"prompt\":\"x\",\"max_token\":10}", "max_token"}, /* unknown field */
    {"{\"prompt\":\"x\",\"prompt\":\"y\"}", "prompt"},    /* duplicate */
    {"{\"prompt\":\"x\",\"temperature\":0.5,\"top_p\":0.9}", "top_p"},
    {"{\"prompt\":\"x\",\"run_at\":\"tomorrow\"}", "run_at"},
    {"{\"prompt\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"y\"}]}",
     ""},
    {"{\"messages\":[{\"role\":\"robot\",\"content\":\"y\"}]}",
     "messages[0].role"},
    {"{\"prompt\":\"x\",\"id\":\"has space\"}", "id"},
    {"{\"template\":\"article\"}", "vars"},
    {"{\"template\":\"../etc/passwd\",\"vars\":{}}", "template"},
    {"{\"template\":\"article\",\"vars\":{\"topic\":\"t\"}}", "words"},
};

Test(cli, every_kind_of_bad_line_is_reported_and_nothing_is_enqueued)
{
    size_t nbad = sizeof(bad) / sizeof(bad[0]), cap = 1 << 16;
    char *in = calloc(1, cap), *out, *err;
    int rc;

    cr_assert(in);
    strcat(in, "{\"prompt\":\"good first line\"}\n");
    for (size_t i = 0; i < nbad; i++) {
        strcat(in, bad[i].line);
        strcat(in, "\n");
    }
    strcat(in, "{\"prompt\":\"invalid utf8 \xc3\x28\"}\n");
    strcat(in, "{\"prompt\":\"good last line\"}\n");
    rc = th_genq(&t, in, &out, &err, "enqueue", "--json", "--templates",
                 "templates", "-", NULL);
    cr_assert_eq(rc, 1, "a rejected line makes exit 1");
    cr_assert_eq(th_stored(&t), 0, "nothing enqueued when a line is bad");
    {
        /* one JSON object per input line, in order */
        char *save = NULL, *l = strtok_r(out, "\n", &save);
        size_t lines = 0;
        for (; l; l = strtok_r(NULL, "\n", &save)) {
            cJSON *o = cJSON_Parse(l);
            const char *status;
            int line;
            cr_assert(o, "not JSON: %s", l);
            line = cJSON_GetObjectItem(o, "line")->valueint;
            cr_assert_eq((size_t)line, lines + 1, "input order");
            status = cJSON_GetStringValue(cJSON_GetObjectItem(o, "status"));
            if (line == 1 || (size_t)line == nbad + 3) {
                cr_assert_str_eq(status, "valid");
            } else {
                cJSON *e = cJSON_GetObjectItem(o, "error");
                const char *field =
                    cJSON_GetStringValue(cJSON_GetObjectItem(e, "field"));
                const char *msg =
                    cJSON_GetStringValue(cJSON_GetObjectItem(e, "message"));
                cr_assert_str_eq(status, "rejected", "line %d", line);
                cr_assert(msg && *msg, "line %d has a reason", line);
                if ((size_t)line - 2 < nbad && *bad[line - 2].field)
                    cr_assert(strstr(field, bad[line - 2].field) ||
                                  strstr(msg, bad[line - 2].field),
                              "line %d: field '%s' message '%s' should name "
                              "'%s'",
                              line, field, msg, bad[line - 2].field);
            }
            cJSON_Delete(o);
            lines++;
        }
        cr_assert_eq(lines, nbad + 3);
    }
    free(out);
    free(err);
    /* text mode: each rejection on stderr with its line number */
    rc = th_genq(&t, in, &out, &err, "enqueue", "-", NULL);
    cr_assert_eq(rc, 1);
    cr_assert(strstr(err, "line 2:"), "%s", err);
    cr_assert(strstr(err, "line 6: max_tokens"), "%s", err);
    cr_assert(strstr(err, "nothing enqueued"), "%s", err);
    free(out);
    free(err);
    free(in);
}

Test(cli, skip_invalid_enqueues_the_good_lines)
{
    char *out, *err;
    int rc =
        th_genq(&t, "{\"prompt\":\"a\"}\n{\"prompt\":1}\n{\"prompt\":\"b\"}\n",
                &out, &err, "enqueue", "--skip-invalid", "-", NULL);

    cr_assert_eq(rc, 1, "still exit 1: a line was rejected");
    cr_assert_eq(th_stored(&t), 2);
    cr_assert(strstr(err, "line 2: prompt"), "%s", err);
    free(out);
    free(err);
}

Test(cli, dry_run_validates_only)
{
    char *out, *err;
    int rc = th_genq(&t, "{\"prompt\":\"a\"}\n", &out, &err, "enqueue",
                     "--dry-run", "--json", "-", NULL);

    cr_assert_eq(rc, 0);
    cr_assert(strstr(out, "\"status\":\"valid\""), "%s", out);
    cr_assert_eq(th_stored(&t), 0);
    free(out);
    free(err);
}

Test(cli, huge_line_rejected_without_harm)
{
    size_t big = 2u << 20;
    char *in = malloc(big + 64), *out, *err;
    int rc;

    cr_assert(in);
    strcpy(in, "{\"prompt\":\"");
    memset(in + 11, 'a', big);
    strcpy(in + 11 + big, "\"}\n{\"prompt\":\"ok\"}\n");
    rc = th_genq(&t, in, &out, &err, "enqueue", "--skip-invalid", "-", NULL);
    cr_assert_eq(rc, 1);
    cr_assert(strstr(err, "line 1:"), "%s", err);
    cr_assert(strstr(err, "1048576"), "names the limit: %s", err);
    cr_assert_eq(th_stored(&t), 1);
    free(in);
    free(out);
    free(err);
}

Test(cli, one_job_from_flags_and_usage_errors)
{
    char *out, *err;
    int rc = th_genq(&t, NULL, &out, &err, "enqueue", "--prompt",
                     "Write about X", "--max-tokens", "100", "--priority",
                     "high", "--metadata", "{\"article\":7}", "--json", NULL);
    cJSON *o;

    cr_assert_eq(rc, 0, "%s", err);
    o = cJSON_Parse(out);
    cr_assert(o);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(o, "status")),
                     "enqueued");
    cJSON_Delete(o);
    free(out);
    free(err);

    cr_assert_eq(th_genq(&t, NULL, NULL, &err, "enqueue", NULL), 2, "no input");
    cr_assert(strstr(err, "no input"), "%s", err);
    free(err);
    cr_assert_eq(th_genq(&t, NULL, NULL, NULL, "enqueue", "--bogus", NULL), 2);
    cr_assert_eq(
        th_genq(&t, NULL, NULL, NULL, "enqueue", "--batch", "0", "-", NULL), 2);
    cr_assert_eq(th_genq(&t, NULL, NULL, &err, "enqueue", "--max-tokens", "abc",
                         "--prompt", "x", NULL),
                 2);
    cr_assert(strstr(err, "max-tokens"), "%s", err);
    free(err);
    cr_assert_eq(th_genq(&t, "", NULL, &err, "enqueue", "-", NULL), 1,
                 "empty input");
    cr_assert(strstr(err, "no jobs"), "%s", err);
    free(err);
    cr_assert_eq(th_genq(&t, NULL, NULL, NULL, "nonsense", NULL), 2);
}

Test(cli, idempotency_keys_make_a_rerun_harmless)
{
    const char *in = "{\"prompt\":\"a\",\"idempotency_key\":\"k1\"}\n"
                     "{\"prompt\":\"b\",\"idempotency_key\":\"k2\"}\n";
    char *out, *err;

    cr_assert_eq(th_genq(&t, in, NULL, NULL, "enqueue", "-", NULL), 0);
    cr_assert_eq(th_genq(&t, in, &out, &err, "enqueue", "--json", "-", NULL), 0,
                 "duplicates are not failures");
    cr_assert(strstr(out, "\"status\":\"duplicate\""), "%s", out);
    cr_assert_eq(th_stored(&t), 2);
    free(out);
    free(err);
}

Test(cli, status_many_ids_from_stdin_in_order_with_unknowns)
{
    const int n = 1500;
    size_t cap = (size_t)n * 24 + 64;
    char *in = calloc(1, cap), *out, *err, id[32];
    int rc, k = 0;

    cr_assert(in);
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "s%04d", i);
        if (i % 100 != 7)
            th_enqueue(&t, id, 1, 0, 0, NULL, "{\"prompt\":\"x\"}");
        strcat(in, id);
        strcat(in, "\n");
    }
    rc = th_genq(&t, in, &out, &err, "status", "--json", "-", NULL);
    cr_assert_eq(rc, 1, "unknown ids make exit 1");
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save), k++) {
        cJSON *o = cJSON_Parse(l);
        snprintf(id, sizeof(id), "s%04d", k);
        cr_assert(o);
        cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(o, "id")), id,
                         "input order");
        cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(o, "state")),
                         k % 100 == 7 ? "unknown" : "queued");
        cJSON_Delete(o);
    }
    cr_assert_eq(k, n);
    free(out);
    free(err);
    free(in);
    cr_assert_eq(
        th_genq(&t, NULL, NULL, NULL, "status", "s0000", "s0001", NULL), 0);
}

Test(cli, result_waits_for_the_worker)
{
    const char *args[] = {NULL};
    char *out, *err;
    pid_t w;
    int rc;
    char *want;

    th_enqueue(&t, "rw", 1, 0, 0, NULL,
               "{\"id\":\"rw\",\"prompt\":\"Result wait\",\"max_tokens\":500}");
    cr_assert_eq(th_genq(&t, NULL, NULL, &err, "result", "rw", NULL), 1,
                 "not finished yet");
    cr_assert(strstr(err, "queued"), "%s", err);
    free(err);
    w = th_worker(&t, NULL, args);
    rc = th_genq(&t, NULL, &out, &err, "result", "rw", "--wait", "20", NULL);
    th_stop(w);
    cr_assert_eq(rc, 0, "%s", err);
    want = th_expected_text("Result wait", 500);
    cr_assert_eq(strlen(out), strlen(want) + 1);
    cr_assert(strncmp(out, want, strlen(want)) == 0);
    free(want);
    free(out);
    free(err);
    rc = th_genq(&t, NULL, &out, &err, "status", "--json", "--with-result",
                 "rw", NULL);
    cr_assert_eq(rc, 0);
    cr_assert(strstr(out, "\"result\":{\"id\":\"rw\""), "%s", out);
    free(out);
    free(err);
    cr_assert_eq(th_genq(&t, NULL, NULL, NULL, "result", "nope", NULL), 1);
}

Test(cli, skip_invalid_json_keeps_input_order_across_batches)
{
    char *in = calloc(1, 1 << 16), *out, *err;
    int rc, expect = 1;

    cr_assert(in);
    for (int i = 1; i <= 40; i++) {
        char line[96];
        if (i % 3 == 0)
            snprintf(line, sizeof(line), "{\"prompt\":%d}\n", i);
        else
            snprintf(line, sizeof(line), "{\"prompt\":\"p%d\"}\n", i);
        strcat(in, line);
    }
    rc = th_genq(&t, in, &out, &err, "enqueue", "--json", "--skip-invalid",
                 "--batch", "4", "-", NULL);
    cr_assert_eq(rc, 1);
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        cJSON *o = cJSON_Parse(l);
        int line;
        const char *st;
        cr_assert(o);
        line = cJSON_GetObjectItem(o, "line")->valueint;
        st = cJSON_GetStringValue(cJSON_GetObjectItem(o, "status"));
        cr_assert_eq(line, expect, "line %d printed where %d was due", line,
                     expect);
        cr_assert_str_eq(st, line % 3 == 0 ? "rejected" : "enqueued");
        expect++;
        cJSON_Delete(o);
    }
    cr_assert_eq(expect, 41);
    free(out);
    free(err);
    free(in);
}
