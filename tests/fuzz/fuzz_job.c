/* libFuzzer target: job_parse() on one JSONL line, with the repository's
 * templates (GENQ_FUZZ_TEMPLATES, default "templates"). An accepted job must
 * re-validate, re-parse to the same document and build request bodies for
 * both providers; a rejection must carry a well-formed error. And
 * job_parse_info() (genq enqueue) must give the same answer with its fast
 * path and without: accept the same lines, with the same text, id, priority,
 * max_attempts, idempotency key and schedule. */
#include "fmacros.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzzutil.h"
#include "job.h"
#include "llm.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct job_opts opts;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *d = getenv("GENQ_FUZZ_TEMPLATES");

    (void)argc;
    (void)argv;
    opts.templates_dir = d && *d ? d : "templates";
    return 0;
}

static void
check_err(const struct job_err *err)
{
    FUZZ_CHECK_TEXT(err->field);
    FUZZ_CHECK_TEXT(err->msg);
    FUZZ_CHECK(err->msg[0] != '\0');
}

/* The worker's view of a stored job: request bodies build for both
 * providers, with and without a continuation prefill, and are JSON. */
static void
check_bodies(const cJSON *job)
{
    static const char prefill[] = "The text so far \n";

    for (int prov = 0; prov < 2; prov++) {
        for (int pre = 0; pre < 2; pre++) {
            struct llm_req_opts o = {prov ? LLM_OPENAI : LLM_ANTHROPIC,
                                     "fuzz-model", 0, pre, 0};
            const char *path = NULL;
            char *body = llm_build_body(&o, job, pre ? prefill : NULL,
                                        pre ? sizeof prefill - 1 : 0, &path);
            FUZZ_CHECK(body != NULL);
            FUZZ_CHECK(path != NULL);
            cJSON *b = cJSON_Parse(body);
            FUZZ_CHECK(cJSON_IsObject(b));
            FUZZ_CHECK(cJSON_IsArray(cJSON_GetObjectItem(b, "messages")));
            cJSON_Delete(b);
            free(body);
        }
    }
}

/* The fast path of job_parse_info() against the full one. */
static void
check_info(const char *line, size_t len)
{
    struct job_info a, b;
    struct job_err ea, eb;
    int ra, rb;

    job_fast_path_disable(0);
    ra = job_parse_info(line, len, &opts, &ea, &a);
    job_fast_path_disable(1);
    rb = job_parse_info(line, len, &opts, &eb, &b);
    job_fast_path_disable(0);
    FUZZ_CHECK(ra == rb);
    if (ra == 0) {
        FUZZ_CHECK(a.id_generated == b.id_generated);
        FUZZ_CHECK(a.prio == b.prio && a.max_attempts == b.max_attempts);
        FUZZ_CHECK(a.run_at_ms == b.run_at_ms && a.delay_ms == b.delay_ms);
        FUZZ_CHECK((a.idem == NULL) == (b.idem == NULL));
        FUZZ_CHECK(!a.idem || strcmp(a.idem, b.idem) == 0);
        FUZZ_CHECK(a.text_len == b.text_len);
        if (a.id_generated) { /* two fresh ids: compare what follows */
            FUZZ_CHECK(strlen(a.id) == 36 && strlen(b.id) == 36);
            FUZZ_CHECK(a.text_len > 44 &&
                       memcmp(a.text + 44, b.text + 44, a.text_len - 44) == 0);
        } else {
            FUZZ_CHECK(strcmp(a.id, b.id) == 0);
            FUZZ_CHECK(memcmp(a.text, b.text, a.text_len) == 0);
        }
        job_info_free(&a);
        job_info_free(&b);
    } else {
        FUZZ_CHECK(strcmp(ea.field, eb.field) == 0);
        FUZZ_CHECK(strcmp(ea.msg, eb.msg) == 0);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct job_err err;
    cJSON *job;

    check_info((const char *)data, size);
    memset(&err, 0x5A, sizeof err); /* unterminated garbage if not set */
    job = job_parse((const char *)data, size, &opts, &err);
    if (job == NULL) {
        check_err(&err);
        return 0;
    }

    struct job_err err2;
    int64_t run_at, delay;
    char *s, *s2, *prompt;
    cJSON *again;

    FUZZ_CHECK(job_validate(job, &err2) == 0);
    FUZZ_CHECK(job_id(job) != NULL);
    FUZZ_CHECK(job_schedule(job, &run_at, &delay) == 0);
    FUZZ_CHECK(run_at == 0 || delay == 0);
    FUZZ_CHECK(run_at >= 0 && delay >= 0);
    FUZZ_CHECK(job_priority_name(job_priority(job)) != NULL);
    FUZZ_CHECK(job_max_attempts(job) >= 0 && job_max_attempts(job) <= 100);
    prompt = job_prompt_text(job);
    FUZZ_CHECK(prompt != NULL);
    free(prompt);
    FUZZ_CHECK(cJSON_GetObjectItem(job, "template") == NULL);
    FUZZ_CHECK(cJSON_GetObjectItem(job, "vars") == NULL);

    /* What enqueue stores: at most JOB_MAX_BYTES, and parsing it again
     * gives the same document (normalization is idempotent). */
    s = cJSON_PrintUnformatted(job);
    FUZZ_CHECK(s != NULL);
    FUZZ_CHECK(strlen(s) <= JOB_MAX_BYTES);
    again = job_parse(s, strlen(s), &opts, &err2);
    FUZZ_CHECK(again != NULL);
    s2 = cJSON_PrintUnformatted(again);
    FUZZ_CHECK(s2 != NULL);
    FUZZ_CHECK(strcmp(s, s2) == 0);
    cJSON_free(s);
    cJSON_free(s2);
    cJSON_Delete(again);

    check_bodies(job);
    cJSON_Delete(job);
    return 0;
}
