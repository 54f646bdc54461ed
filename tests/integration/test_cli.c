/* `genq` as a user runs it: enqueue (every kind of rejected line, dry run,
 * --skip-invalid, flags, idempotency, exit codes), status (many ids, stdin,
 * unknown ids, --with-result) and result (--wait), against a real Redis. */
#include "fmacros.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <criterion/criterion.h>

#include "harness.h"
#include "meta.h"
#include "rclient.h"

static struct th t;

static void
setup(void)
{
    th_init(&t, criterion_current_test->name);
}

static void
teardown(void)
{
    th_fini(&t);
}

TestSuite(cli, .init = setup, .fini = teardown, .timeout = 60);

/* Run `genq CMD args... --redis URL --queue Q` with stdin. */
static int
genq(const char *in, char **out, char **err, const char *cmd, ...)
{
    const char *argv[64];
    int n = 0, rc;
    va_list ap;

    argv[n++] = th_bin("genq");
    argv[n++] = cmd;
    va_start(ap, cmd);
    for (const char *a; (a = va_arg(ap, const char *)) != NULL;)
        argv[n++] = a;
    va_end(ap);
    argv[n++] = "--redis";
    argv[n++] = getenv("GENQ_TEST_REDIS_URL");
    argv[n++] = "--queue";
    argv[n++] = t.queue;
    argv[n] = NULL;
    rc = th_run(argv, NULL, in, in ? strlen(in) : 0, out, err);
    return rc;
}

static long
queued_count(void)
{
    redisReply *r = redisCommand(t.c, "HLEN %s", t.k.key[QK_JOBS]);
    long n = r->integer;
    freeReplyObject(r);
    return n;
}

Test(cli, enqueue_jsonl_from_stdin)
{
    char *out, *err;
    const char *in = "{\"prompt\":\"a\"}\n"
                     "\n"
                     "{\"prompt\":\"b\",\"priority\":\"high\"}\r\n"
                     "{\"id\":\"fixed-1\",\"prompt\":\"c\",\"delay_s\":60}";
    int rc = genq(in, &out, &err, "enqueue", "--json", "-", NULL);
    char st[64];

    cr_assert_eq(rc, 0, "stderr: %s", err);
    cr_assert(strstr(out, "\"line\":1,"), "%s", out);
    cr_assert(strstr(out, "\"line\":3,"), "blank line 2 is counted: %s", out);
    cr_assert(strstr(out, "\"line\":4,\"id\":\"fixed-1\",\"status\":"
                          "\"enqueued\""),
              "%s", out);
    cr_assert_eq(queued_count(), 3);
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
    rc = genq(in, &out, &err, "enqueue", "--json", "--templates", "templates",
              "-", NULL);
    cr_assert_eq(rc, 1, "a rejected line makes exit 1");
    cr_assert_eq(queued_count(), 0, "nothing enqueued when a line is bad");
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
    rc = genq(in, &out, &err, "enqueue", "-", NULL);
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
    int rc = genq("{\"prompt\":\"a\"}\n{\"prompt\":1}\n{\"prompt\":\"b\"}\n",
                  &out, &err, "enqueue", "--skip-invalid", "-", NULL);

    cr_assert_eq(rc, 1, "still exit 1: a line was rejected");
    cr_assert_eq(queued_count(), 2);
    cr_assert(strstr(err, "line 2: prompt"), "%s", err);
    free(out);
    free(err);
}

Test(cli, dry_run_validates_only)
{
    char *out, *err;
    int rc = genq("{\"prompt\":\"a\"}\n", &out, &err, "enqueue", "--dry-run",
                  "--json", "-", NULL);

    cr_assert_eq(rc, 0);
    cr_assert(strstr(out, "\"status\":\"valid\""), "%s", out);
    cr_assert_eq(queued_count(), 0);
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
    rc = genq(in, &out, &err, "enqueue", "--skip-invalid", "-", NULL);
    cr_assert_eq(rc, 1);
    cr_assert(strstr(err, "line 1:"), "%s", err);
    cr_assert(strstr(err, "1048576"), "names the limit: %s", err);
    cr_assert_eq(queued_count(), 1);
    free(in);
    free(out);
    free(err);
}

Test(cli, one_job_from_flags_and_usage_errors)
{
    char *out, *err;
    int rc = genq(NULL, &out, &err, "enqueue", "--prompt", "Write about X",
                  "--max-tokens", "100", "--priority", "high", "--metadata",
                  "{\"article\":7}", "--json", NULL);
    cJSON *o;

    cr_assert_eq(rc, 0, "%s", err);
    o = cJSON_Parse(out);
    cr_assert(o);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(o, "status")),
                     "enqueued");
    cJSON_Delete(o);
    free(out);
    free(err);

    cr_assert_eq(genq(NULL, NULL, &err, "enqueue", NULL), 2, "no input");
    cr_assert(strstr(err, "no input"), "%s", err);
    free(err);
    cr_assert_eq(genq(NULL, NULL, NULL, "enqueue", "--bogus", NULL), 2);
    cr_assert_eq(genq(NULL, NULL, NULL, "enqueue", "--batch", "0", "-", NULL),
                 2);
    cr_assert_eq(genq(NULL, NULL, &err, "enqueue", "--max-tokens", "abc",
                      "--prompt", "x", NULL),
                 2);
    cr_assert(strstr(err, "max-tokens"), "%s", err);
    free(err);
    cr_assert_eq(genq("", NULL, &err, "enqueue", "-", NULL), 1, "empty input");
    cr_assert(strstr(err, "no jobs"), "%s", err);
    free(err);
    cr_assert_eq(genq(NULL, NULL, NULL, "nonsense", NULL), 2);
}

Test(cli, idempotency_keys_make_a_rerun_harmless)
{
    const char *in = "{\"prompt\":\"a\",\"idempotency_key\":\"k1\"}\n"
                     "{\"prompt\":\"b\",\"idempotency_key\":\"k2\"}\n";
    char *out, *err;

    cr_assert_eq(genq(in, NULL, NULL, "enqueue", "-", NULL), 0);
    cr_assert_eq(genq(in, &out, &err, "enqueue", "--json", "-", NULL), 0,
                 "duplicates are not failures");
    cr_assert(strstr(out, "\"status\":\"duplicate\""), "%s", out);
    cr_assert_eq(queued_count(), 2);
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
    rc = genq(in, &out, &err, "status", "--json", "-", NULL);
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
    cr_assert_eq(genq(NULL, NULL, NULL, "status", "s0000", "s0001", NULL), 0);
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
    cr_assert_eq(genq(NULL, NULL, &err, "result", "rw", NULL), 1,
                 "not finished yet");
    cr_assert(strstr(err, "queued"), "%s", err);
    free(err);
    w = th_worker(&t, NULL, args);
    rc = genq(NULL, &out, &err, "result", "rw", "--wait", "20", NULL);
    th_stop(w);
    cr_assert_eq(rc, 0, "%s", err);
    want = th_expected_text("Result wait", 500);
    cr_assert_eq(strlen(out), strlen(want) + 1);
    cr_assert(strncmp(out, want, strlen(want)) == 0);
    free(want);
    free(out);
    free(err);
    rc =
        genq(NULL, &out, &err, "status", "--json", "--with-result", "rw", NULL);
    cr_assert_eq(rc, 0);
    cr_assert(strstr(out, "\"result\":{\"id\":\"rw\""), "%s", out);
    free(out);
    free(err);
    cr_assert_eq(genq(NULL, NULL, NULL, "result", "nope", NULL), 1);
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
    rc = genq(in, &out, &err, "enqueue", "--json", "--skip-invalid", "--batch",
              "4", "-", NULL);
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

/* The id `genq enqueue --json` printed for line n (1-based), into out. */
static void
line_id(const char *out, int n, char id[64])
{
    char pat[32];
    const char *p;

    snprintf(pat, sizeof(pat), "\"line\":%d,\"id\":\"", n);
    p = strstr(out, pat);
    cr_assert(p, "line %d not in %s", n, out);
    p += strlen(pat);
    snprintf(id, 64, "%.*s", (int)strcspn(p, "\""), p);
}

/* Lines without id, idempotency key or delay take the bulk path (one
 * MULTI/EXEC per batch, no meta field until the first claim: the stored
 * value carries a "queued|..." header). Mixed with lines that take the
 * script, every line is reported in order, and every tool sees the bulk
 * jobs like any other: status, duplicates, cancel, the payload, a worker. */
Test(cli, bulk_path_jobs_behave_like_any_other, .timeout = 90)
{
    const char *in =
        "{\"prompt\":\"bulk a\",\"max_tokens\":30}\n"
        "{\"prompt\":\"bulk b\",\"priority\":\"low\",\"max_attempts\":2}\n"
        "{\"id\":\"given-1\",\"prompt\":\"given\",\"max_tokens\":30}\n"
        "{\"prompt\":\"idem\",\"idempotency_key\":\"k1\",\"max_tokens\":30}\n"
        "{\"prompt\":\"bulk c\",\"max_tokens\":30}\n";
    char *out, *err, id[5][64], st[64], dup[256];
    const char *args[] = {NULL};
    char *ids[4];
    redisReply *r;
    pid_t w;
    int rc = genq(in, &out, &err, "enqueue", "--json", "-", NULL);

    cr_assert_eq(rc, 0, "stderr: %s", err);
    for (int i = 0; i < 5; i++) {
        line_id(out, i + 1, id[i]);
        cr_assert(strstr(out, "\"status\":\"enqueued\""));
    }
    cr_assert_str_eq(id[2], "given-1");
    free(out);
    free(err);
    /* five stored jobs, meta fields only for the two that took the script */
    r = redisCommand(t.c, "HLEN %s", t.k.key[QK_META]);
    cr_assert_eq(r->integer, 2);
    freeReplyObject(r);
    cr_assert_eq(queued_count(), 5);
    r = redisCommand(t.c, "HGET %s %s", t.k.key[QK_JOBS], id[0]);
    cr_assert(r->type == REDIS_REPLY_STRING && !strncmp(r->str, "queued|", 7),
              "a bulk job's stored value starts with its header");
    freeReplyObject(r);

    /* status: the header stands in for the meta */
    rc = genq(NULL, &out, &err, "status", "--json", id[1], NULL);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert(strstr(out, "\"state\":\"queued\""), "%s", out);
    cr_assert(strstr(out, "\"priority\":\"low\""), "%s", out);
    cr_assert(strstr(out, "\"max_attempts\":2"), "%s", out);
    cr_assert(strstr(out, "\"enqueued_at\":\"20"), "%s", out);
    free(out);
    free(err);
    /* the payload as tools read it: the JSON alone, with its id first */
    r = th_script(&t, SCRIPT_INSPECT, "1", "0", id[0], NULL);
    cr_assert_eq(r->elements, 9);
    cr_assert_eq(r->element[6]->type, REDIS_REPLY_STRING);
    snprintf(dup, sizeof(dup), "{\"id\":\"%s\",\"prompt\":\"bulk a\"", id[0]);
    cr_assert(!strncmp(r->element[6]->str, dup, strlen(dup)), "%s",
              r->element[6]->str);
    freeReplyObject(r);

    /* the same id again through the script: a duplicate */
    snprintf(dup, sizeof(dup), "{\"id\":\"%s\",\"prompt\":\"again\"}\n", id[0]);
    rc = genq(dup, &out, &err, "enqueue", "--json", "-", NULL);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert(strstr(out, "\"status\":\"duplicate\""), "%s", out);
    free(out);
    free(err);

    /* cancel a queued bulk job */
    rc = genq(NULL, &out, &err, "cancel", id[4], NULL);
    cr_assert_eq(rc, 0, "%s", err);
    free(out);
    free(err);
    cr_assert_str_eq(th_state(&t, id[4], st, NULL), "canceled");

    /* a worker runs the other four, each with its own prompt's text */
    w = th_worker(&t, NULL, args);
    for (int i = 0; i < 4; i++)
        ids[i] = id[i];
    cr_assert_eq(th_wait_terminal(&t, ids, 4, 30), 4);
    th_stop(w);
    {
        const char *prompts[] = {"bulk a", "bulk b", "given", "idem"};
        for (int i = 0; i < 4; i++) {
            int att = 0;
            cJSON *res = th_result(&t, id[i]);
            const cJSON *txt = cJSON_GetObjectItemCaseSensitive(res, "text");
            /* the worker continues past max_tokens: the whole article */
            char *want = th_expected_text(prompts[i], (size_t)1 << 20);
            cr_assert_str_eq(th_state(&t, id[i], st, &att), "succeeded");
            cr_assert_eq(att, 1);
            cr_assert(cJSON_IsString(txt));
            cr_assert_str_eq(txt->valuestring, want, "job %d", i);
            free(want);
            cJSON_Delete(res);
        }
    }
    cr_assert_str_eq(th_state(&t, id[4], st, NULL), "canceled");
}

/* Write n bulk jobs (no id: generated, so staged) with prompts
 * "TAG-1".."TAG-n" to f. */
static void
bulk_lines(FILE *f, const char *tag, int n)
{
    for (int i = 1; i <= n; i++)
        fprintf(f, "{\"prompt\":\"%s-%d\",\"max_tokens\":20}\n", tag, i);
}

/* A new file GENQ_TEST_TMP/NAME-PID.jsonl (path: 512 bytes), open for
 * writing. */
static FILE *
tmp_jsonl(char *path, const char *name)
{
    FILE *f;

    snprintf(path, 512, "%s/%s-%d.jsonl", getenv("GENQ_TEST_TMP"), name,
             (int)getpid());
    f = fopen(path, "w");
    cr_assert(f, "%s", path);
    return f;
}

/* The integer reply of a Redis command (asserted to be one). */
static long long
rint_cmd(const char *fmt, ...)
{
    va_list ap;
    redisReply *r;
    long long v;

    va_start(ap, fmt);
    r = redisvCommand(t.c, fmt, ap);
    va_end(ap);
    cr_assert(r && r->type == REDIS_REPLY_INTEGER, "%s: %s", fmt,
              r ? r->str : t.c->errstr);
    v = r->integer;
    freeReplyObject(r);
    return v;
}

/* The prompts of the ready list in claim order (oldest first), joined by
 * spaces into a malloc'd string. */
static char *
ready_prompts(void)
{
    redisReply *r = redisCommand(t.c, "LRANGE %s 0 -1", t.k.key[QK_READY]);
    size_t cap = 1 << 20, len = 0;
    char *out = malloc(cap);

    cr_assert(r && r->type == REDIS_REPLY_ARRAY && out);
    out[0] = '\0';
    for (size_t i = r->elements; i-- > 0;) {
        redisReply *v = redisCommand(t.c, "HGET %s %s", t.k.key[QK_JOBS],
                                     r->element[i]->str);
        const char *p;
        cr_assert(v && v->type == REDIS_REPLY_STRING, "job %s stored",
                  r->element[i]->str);
        p = strstr(v->str, "\"prompt\":\"");
        cr_assert(p);
        p += 10;
        len += (size_t)snprintf(out + len, cap - len, "%s%.*s", len ? " " : "",
                                (int)(strchr(p, '"') - p), p);
        cr_assert_lt(len, cap);
        freeReplyObject(v);
    }
    freeReplyObject(r);
    return out;
}

/* Staging (cmd_enqueue.c): the bulk jobs of a file are stored while it is
 * validated and made ready at the end, in file order: into an empty queue
 * (the stage list becomes the ready list) and after jobs already waiting
 * (moved over), with a job that is not a bulk job in the middle (staging
 * stops there). --json names every line with the id that is queued. */
Test(cli, staged_jobs_keep_the_file_order, .timeout = 60)
{
    char path[512], *out, *err, *got, *want;
    size_t wl = 0;
    FILE *f;
    int rc;

    f = tmp_jsonl(path, "stage");
    bulk_lines(f, "a", 450);
    fclose(f);
    rc = genq(NULL, &out, &err, "enqueue", "--json", path, NULL);
    cr_assert_eq(rc, 0, "%s", err);
    {
        /* the --json ids are those of the ready list, in order */
        redisReply *r = redisCommand(t.c, "LRANGE %s 0 -1", t.k.key[QK_READY]);
        const char *p = out;
        cr_assert_eq(r->elements, 450);
        for (size_t i = r->elements; i-- > 0;) {
            char want_id[64];
            snprintf(want_id, sizeof(want_id), "\"id\":\"%s\"",
                     r->element[i]->str);
            p = strstr(p, want_id);
            cr_assert(p, "line %zu names %s", r->elements - i,
                      r->element[i]->str);
        }
        freeReplyObject(r);
    }
    free(out);
    free(err);
    f = fopen(path, "w");
    cr_assert(f);
    bulk_lines(f, "b", 500);
    fputs("{\"id\":\"explicit-1\",\"prompt\":\"c-1\"}\n", f);
    bulk_lines(f, "d", 10);
    fclose(f);
    rc = genq(NULL, NULL, &err, "enqueue", path, NULL);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert(strstr(err, "enqueued 511,"), "%s", err);
    free(err);
    want = malloc(1 << 20);
    cr_assert(want);
    want[0] = '\0';
    for (int i = 1; i <= 450; i++)
        wl += (size_t)sprintf(want + wl, "%sa-%d", wl ? " " : "", i);
    for (int i = 1; i <= 500; i++)
        wl += (size_t)sprintf(want + wl, " b-%d", i);
    wl += (size_t)sprintf(want + wl, " c-1");
    for (int i = 1; i <= 10; i++)
        wl += (size_t)sprintf(want + wl, " d-%d", i);
    got = ready_prompts();
    cr_assert_str_eq(got, want);
    free(got);
    free(want);
    {
        redisReply *r =
            redisCommand(t.c, "HGET %s enqueued", t.k.key[QK_STATS]);
        cr_assert(r && r->type == REDIS_REPLY_STRING);
        cr_assert_str_eq(r->str, "961");
        freeReplyObject(r);
        cr_assert_eq(rint_cmd("EXISTS %s", t.k.staging), 0,
                     "no staging run left registered");
    }
    unlink(path);
}

/* A bad line after a thousand staged jobs: nothing is enqueued and nothing
 * staged is left behind (values, stage lists, registration). */
Test(cli, rejected_file_leaves_no_staged_value, .timeout = 60)
{
    char path[512], *err;
    redisReply *r;
    FILE *f = tmp_jsonl(path, "stage-bad");
    int rc;

    bulk_lines(f, "a", 1000);
    fputs("{\"prompt\":\"x\",\"max_tokens\":\"many\"}\n", f);
    fclose(f);
    rc = genq(NULL, NULL, &err, "enqueue", path, NULL);
    cr_assert_eq(rc, 1);
    cr_assert(strstr(err, "line 1001: max_tokens"), "%s", err);
    cr_assert(strstr(err, "nothing enqueued"), "%s", err);
    free(err);
    cr_assert_eq(queued_count(), 0, "no staged value left in the jobs hash");
    r = redisCommand(t.c, "KEYS %s*", t.k.prefix);
    cr_assert(r && r->type == REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < r->elements; i++)
        cr_assert(!strstr(r->element[i]->str, "stag"), "left behind: %s",
                  r->element[i]->str);
    freeReplyObject(r);
    cr_assert_eq(rint_cmd("LLEN %s", t.k.key[QK_READY]), 0);
    unlink(path);
}

/* Redis refuses the staged values (the jobs key is not a hash): genq says
 * why, enqueues nothing, and no job is ready or counted. */
Test(cli, staging_refused_by_redis_enqueues_nothing, .timeout = 60)
{
    char path[512], *err;
    redisReply *r;
    FILE *f = tmp_jsonl(path, "stage-ref");
    int rc;

    bulk_lines(f, "a", 500);
    fclose(f);
    r = redisCommand(t.c, "SET %s not-a-hash", t.k.key[QK_JOBS]);
    freeReplyObject(r);
    rc = genq(NULL, NULL, &err, "enqueue", path, NULL);
    cr_assert_eq(rc, 1);
    cr_assert(strstr(err, "WRONGTYPE"), "names Redis's reason: %s", err);
    cr_assert(strstr(err, "nothing enqueued"), "%s", err);
    free(err);
    cr_assert_eq(rint_cmd("LLEN %s", t.k.key[QK_READY]), 0, "no job ready");
    cr_assert_eq(rint_cmd("HEXISTS %s enqueued", t.k.key[QK_STATS]), 0,
                 "none counted");
    rint_cmd("DEL %s", t.k.key[QK_JOBS]);
    unlink(path);
}

/* A run that died while staging (its registration an hour old): the
 * maintenance deletes its values and stage lists, keeps a value some
 * worker claimed, leaves a live run alone; committing the dead run then
 * fails as GONE instead of making part of it ready. */
Test(cli, maintain_deletes_what_a_dead_enqueue_staged)
{
    const char *dead = "0190aaaa-0000-7000-8000-000000000001";
    const char *live = "0190aaaa-0000-7000-8000-000000000002";
    char key[256], err[512], skey[160];
    long long now = (long long)time(NULL) * 1000;
    redisReply *r;
    const char *av[3] = {"commit", dead, "100"};

    snprintf(key, sizeof(key), "%s", t.k.staging);
    rint_cmd("HSET %s %s %lld %s %lld", key, dead, now - 2 * 3600 * 1000LL,
             live, now);
    for (int i = 0; i < 6; i++) {
        const char *run = i < 3 ? dead : live;
        char id[32], v[META_HEADER_MAX + 64], sk[160];
        int hl = meta_format_header(v, sizeof(v), 0, 1, now);
        snprintf(id, sizeof(id), "%s-%d", i < 3 ? "dead" : "live", i % 3);
        snprintf(v + hl, sizeof(v) - (size_t)hl,
                 "{\"id\":\"%s\",\"prompt\":\"x\"}", id);
        rint_cmd("HSET %s %s %s", t.k.key[QK_JOBS], id, v);
        qkeys_stage(&t.k, run, 1, sk, sizeof(sk));
        rint_cmd("LPUSH %s %s", sk, id);
    }
    /* dead-2 was claimed meanwhile: it has a meta record */
    rint_cmd("HSET %s dead-2 active|1|3|1|tok|w|%lld|%lld|", t.k.key[QK_META],
             now, now);
    r = th_script(&t, SCRIPT_MAINTAIN, NULL);
    freeReplyObject(r);
    r = redisCommand(t.c, "HMGET %s dead-0 dead-1 dead-2 live-0 live-1 live-2",
                     t.k.key[QK_JOBS]);
    cr_assert_eq(r->element[0]->type, REDIS_REPLY_NIL, "dead-0 deleted");
    cr_assert_eq(r->element[1]->type, REDIS_REPLY_NIL, "dead-1 deleted");
    cr_assert_eq(r->element[2]->type, REDIS_REPLY_STRING, "claimed: kept");
    for (int i = 3; i < 6; i++)
        cr_assert_eq(r->element[i]->type, REDIS_REPLY_STRING, "live run kept");
    freeReplyObject(r);
    qkeys_stage(&t.k, dead, 1, skey, sizeof(skey));
    cr_assert_eq(rint_cmd("EXISTS %s", skey), 0);
    qkeys_stage(&t.k, live, 1, skey, sizeof(skey));
    cr_assert_eq(rint_cmd("LLEN %s", skey), 3);
    cr_assert_eq(rint_cmd("HEXISTS %s %s", key, dead), 0,
                 "the dead run's registration is gone");
    r = rclient_script(t.c, SCRIPT_STAGE, &t.k, 3, av, NULL, err, sizeof(err));
    cr_assert_null(r, "committing a swept run fails");
    cr_assert(strstr(err, "GONE"), "%s", err);
    /* the live run commits: its three jobs become ready */
    av[1] = live;
    r = th_script(&t, SCRIPT_STAGE, "commit", live, "100", NULL);
    cr_assert_eq(r->element[0]->integer, 3);
    cr_assert_eq(r->element[1]->integer, 0);
    freeReplyObject(r);
    r = redisCommand(t.c, "LRANGE %s 0 -1", t.k.key[QK_READY]);
    cr_assert_eq(r->elements, 3);
    cr_assert_str_eq(r->element[2]->str, "live-0", "oldest first in line");
    freeReplyObject(r);
    /* a run that lost some of its staged jobs (a sweep while it stalled,
     * then it went on) commits none of them */
    {
        const char *run = "0190aaaa-0000-7000-8000-000000000003";
        const char *cav[4] = {"commit", run, "100", "3"};
        rint_cmd("HSET %s %s %lld", key, run, now);
        qkeys_stage(&t.k, run, 1, skey, sizeof(skey));
        rint_cmd("LPUSH %s s-1 s-2", skey);
        r = rclient_script(t.c, SCRIPT_STAGE, &t.k, 4, cav, NULL, err,
                           sizeof(err));
        cr_assert_null(r, "2 of 3 staged: not committed");
        cr_assert(strstr(err, "GONE 1 of the staged jobs"), "%s", err);
        cr_assert_eq(rint_cmd("LLEN %s", t.k.key[QK_READY]), 3,
                     "nothing of it made ready");
    }
}

/* Past GENQ_SPOOL_MEM_MAX bytes pass 1 spills to a temporary file: the
 * answers, the jobs and their order are those of the in-memory spool (a
 * split file, so both halves spill). */
Test(cli, spool_spills_to_a_file_past_its_memory_limit, .timeout = 90)
{
    char path[512], *out_mem, *out_file, *err;
    const char *url = getenv("GENQ_TEST_REDIS_URL");
    const char *spill[] = {"GENQ_SPOOL_MEM_MAX=4096", NULL};
    FILE *f;
    long n = 20000, badl = 12345;
    redisReply *r;
    int rc;

    snprintf(path, sizeof(path), "%s/spill-%d.jsonl", getenv("GENQ_TEST_TMP"),
             (int)getpid());
    f = fopen(path, "w");
    cr_assert(f);
    for (long i = 1; i <= n; i++) {
        if (i == badl)
            fprintf(f, "{\"id\":\"s-%ld\",\"prompt\":\"x\",\"top_p\":2}\n", i);
        else
            fprintf(f,
                    "{\"id\":\"s-%ld\",\"prompt\":\"Write about item %ld\","
                    "\"max_tokens\":50,\"metadata\":{\"n\":%ld}}\n",
                    i, i, i);
    }
    cr_assert(ftell(f) >= 1024 * 1024, "the file must be split");
    fclose(f);
    {
        const char *argv[] = {th_bin("genq"), "enqueue", "--dry-run",
                              "--json",       path,      NULL};
        rc = th_run(argv, NULL, NULL, 0, &out_mem, NULL);
        cr_assert_eq(rc, 1);
        rc = th_run(argv, spill, NULL, 0, &out_file, NULL);
        cr_assert_eq(rc, 1);
    }
    cr_assert(strstr(out_mem, "\"line\":12345,\"id\":null,\"status\":"
                              "\"rejected\""),
              "the bad line is reported");
    cr_assert_str_eq(out_file, out_mem, "same answers from a spilled spool");
    free(out_mem);
    free(out_file);
    {
        const char *argv[] = {th_bin("genq"), "enqueue", "--skip-invalid",
                              "--redis",      url,       "--queue",
                              t.queue,        path,      NULL};
        rc = th_run(argv, spill, NULL, 0, NULL, &err);
        cr_assert_eq(rc, 1, "a rejected line makes the exit 1: %s", err);
        cr_assert(strstr(err, "enqueued 19999,"), "%s", err);
        free(err);
    }
    cr_assert_eq(queued_count(), n - 1);
    /* input order on the ready list (LPUSH: the first line is last) */
    r = redisCommand(t.c, "LRANGE %s 0 -1", t.k.key[QK_READY]);
    cr_assert(r && r->type == REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, (size_t)(n - 1));
    for (size_t i = 0, want = (size_t)n; i < r->elements; i++, want--) {
        char id[32];
        if ((long)want == badl)
            want--;
        snprintf(id, sizeof(id), "s-%zu", want);
        cr_assert_str_eq(r->element[i]->str, id);
    }
    freeReplyObject(r);
    r = redisCommand(t.c, "HGET %s s-19999", t.k.key[QK_JOBS]);
    cr_assert(r && r->type == REDIS_REPLY_STRING);
    cr_assert(strstr(r->str, "{\"id\":\"s-19999\",\"prompt\":\"Write about "
                             "item 19999\",\"max_tokens\":50,\"metadata\":"
                             "{\"n\":19999}}"),
              "%s", r->str);
    freeReplyObject(r);
    unlink(path);
}

/* A file of 1 MiB or more is validated by two threads, each half into its
 * own spool: the line numbers of the second half go on from the first's,
 * and the output keeps input order. */
Test(cli, big_file_split_keeps_line_numbers_and_order, .timeout = 90)
{
    char path[512], *out, *err;
    FILE *f;
    long n = 30000, bad1 = 7, bad2 = 25001, last = 0, count = 0;
    int rc;

    f = tmp_jsonl(path, "split");
    for (long i = 1; i <= n; i++) {
        if (i == bad1 || i == bad2)
            fprintf(f, "{\"prompt\":%ld}\n", i);
        else if (i == 15000)
            fputs("\r\n", f);
        else
            fprintf(f,
                    "{\"prompt\":\"Write about item %ld of many\","
                    "\"max_tokens\":50,\"metadata\":{\"n\":%ld}}\r\n",
                    i, i);
    }
    cr_assert(ftell(f) >= 1024 * 1024, "the file must be split");
    fclose(f);
    rc = genq(NULL, &out, &err, "enqueue", "--dry-run", "--json", path, NULL);
    cr_assert_eq(rc, 1, "two bad lines: %s", err);
    for (const char *p = out; (p = strstr(p, "\"line\":")); p++) {
        long ln = strtol(p + 7, NULL, 10);
        cr_assert_gt(ln, last, "line %ld after %ld: order kept", ln, last);
        last = ln;
        count++;
    }
    cr_assert_eq(count, n - 1, "every line but the blank one reported");
    cr_assert_eq(last, n);
    for (int k = 0; k < 2; k++) {
        char want[64];
        const char *p, *end;
        snprintf(want, sizeof(want), "\"line\":%ld,", k ? bad2 : bad1);
        p = strstr(out, want);
        cr_assert(p, "line %ld reported", k ? bad2 : bad1);
        end = strchr(p, '\n');
        cr_assert(end && memmem(p, (size_t)(end - p), "\"rejected\"", 10),
                  "line %ld rejected: %.*s", k ? bad2 : bad1,
                  (int)(end ? end - p : 80), p);
    }
    free(out);
    free(err);
    /* and sent for real with --skip-invalid: every good line in */
    rc = genq(NULL, NULL, &err, "enqueue", "--skip-invalid", path, NULL);
    cr_assert_eq(rc, 1, "rejected lines still make the exit 1: %s", err);
    cr_assert(strstr(err, "enqueued 29997,"), "%s", err);
    free(err);
    cr_assert_eq(queued_count(), n - 3);
    unlink(path);
}
