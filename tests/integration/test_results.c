/* `genq results` against a real Redis: --follow from the start, export,
 * and export paging in retention order. */
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

TH_SUITE(results, .timeout = 90);

/* Claim and complete one job with a result document. */
static void
complete_one(const char *id)
{
    char payload[128], res[256];
    redisReply *r, *c;

    snprintf(payload, sizeof(payload), "{\"id\":\"%s\",\"prompt\":\"p\"}", id);
    th_enqueue(&t, id, 1, 0, 0, NULL, payload);
    r = th_claim(&t, "w-ops", 1, 60000, 5);
    cr_assert_eq(r->elements, 5);
    snprintf(res, sizeof(res),
             "{\"id\":\"%s\",\"state\":\"succeeded\",\"text\":\"text of %s\","
             "\"latency_ms\":10,\"finished_at\":\"2025-01-01T00:00:00.000Z\"}",
             id, id);
    c = th_script(&t, SCRIPT_COMPLETE, "600000", id, r->element[2]->str, res,
                  NULL);
    cr_assert_eq(c->element[0]->integer, 1);
    freeReplyObject(c);
    freeReplyObject(r);
}

/* Start `genq results ARGS` in the background with stdout to path. */
static pid_t
spawn_results(const char *path, const char *const extra[])
{
    const char *argv[32];
    int n = 0;
    pid_t pid;

    argv[n++] = th_bin("genq");
    argv[n++] = "results";
    for (int i = 0; extra[i]; i++)
        argv[n++] = extra[i];
    th_redis_args(argv, n, t.queue);
    pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0)
            dup2(fd, 1);
        th_exec(argv);
    }
    return pid;
}

static char *
slurp_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *b = calloc(1, 1 << 16);
    size_t n;

    cr_assert(f && b);
    n = fread(b, 1, (1 << 16) - 1, f);
    b[n] = '\0';
    fclose(f);
    return b;
}

Test(results, results_follow_from_start_and_export)
{
    const char *tmp = getenv("GENQ_TEST_TMP");
    const char *fargs[] = {"--follow", "--count", "3", NULL};
    char path[512], *out, *err, *got;
    pid_t pid;
    cJSON *o[8];
    int n;

    complete_one("before");
    snprintf(path, sizeof(path), "%s/follow-%d.jsonl", tmp ? tmp : "/tmp",
             (int)getpid());
    pid = spawn_results(path, fargs);
    th_sleep_ms(400); /* it starts after "before" */
    complete_one("r1");
    complete_one("r2");
    th_make_dead(&t, "rd", "dies", NULL, "permanent", 400, "x");
    complete_one("r3");
    cr_assert_eq(th_wait(pid, 20), 0, "exits after --count results");
    got = slurp_file(path);
    n = th_jsonl(got, o, 8);
    cr_assert_eq(n, 3, "only new successes");
    th_assert_each(o, "id", "r1", "r2", "r3", NULL);
    cr_assert_str_eq(th_str(o[2], "text"), "text of r3");
    th_free_objs(o, 3);
    free(got);
    unlink(path);

    cr_assert_eq(th_genq(&t, NULL, &out, &err, "results", "--from-start", NULL),
                 0, "%s", err);
    n = th_jsonl(out, o, 8);
    cr_assert_eq(n, 4);
    cr_assert_str_eq(th_str(o[0], "id"), "before");
    th_free_objs(o, 4);
    free(out);
    free(err);
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "results", "--since",
                         "2999-01-01T00:"
                         "00:00Z",
                         NULL),
                 0);
    cr_assert_str_eq(out, "");
    free(out);
    free(err);

    cr_assert_eq(th_genq(&t, NULL, &out, &err, "results", "export", NULL), 0,
                 "%s", err);
    n = th_jsonl(out, o, 8);
    cr_assert_eq(n, 4, "every stored result");
    cr_assert_str_eq(th_str(o[0], "id"), "before", "oldest first");
    th_free_objs(o, 4);
    free(out);
    free(err);
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "results", "export", "--since",
                         "2024-12-31T00:00:00Z", NULL),
                 0);
    cr_assert_eq(th_jsonl(out, o, 0), 4);
    free(out);
    free(err);
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "results", "export", "--since",
                         "2025-01-02T00:00:00Z", NULL),
                 0);
    cr_assert_str_eq(out, "", "finished before --since");
    free(out);
    free(err);
    cr_assert_eq(
        th_genq(&t, NULL, NULL, NULL, "results", "export", "--follow", NULL),
        2);
    cr_assert_eq(th_genq(&t, NULL, NULL, NULL, "results", "--from-start",
                         "--since", "1h", NULL),
                 2);
}

Test(results, results_export_pages_in_order)
{
    char *out, *err;
    int n = 0;

    for (int i = 0; i < 230; i++) {
        char id[16];
        snprintf(id, sizeof(id), "x%03d", i);
        complete_one(id);
    }
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "results", "export", NULL), 0);
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save), n++) {
        char want[32];
        snprintf(want, sizeof(want), "{\"id\":\"x%03d\"", n);
        cr_assert(strncmp(l, want, strlen(want)) == 0, "line %d: %.40s", n, l);
    }
    cr_assert_eq(n, 230);
    free(out);
    free(err);
}
