/* `genq dlq` against a real Redis: ls / show / requeue / purge / export
 * with every filter, paging through ties, requeued jobs run by a worker,
 * and the export → enqueue --from-dlq round trip. */
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

TH_SUITE(dlq, .timeout = 90);

/* Five dead jobs with different errors and prompts, oldest first. */
static void
five_dead(void)
{
    static const struct {
        const char *id, *prompt, *idem, *cls;
        int status;
        const char *msg;
    } e[] = {
        {"e1", "Write about Redis", "idem-e1", "permanent", 400,
         "prompt is too long"},
        {"e2", "Write about Lua", NULL, "permanent", 404, "model not found"},
        {"e3", "Write about streams", NULL, "exhausted", 500, "overloaded"},
        {"e4", "Write about fsync", NULL, "lease_expired", 0,
         "lease expired: worker w1 stopped heartbeating"},
        {"e5", "Write about Redis Cluster", NULL, "exhausted", 529,
         "overloaded"},
    };

    for (int i = 0; i < 5; i++) {
        if (i)
            th_sleep_ms(3);
        th_make_dead(&t, e[i].id, e[i].prompt, e[i].idem, e[i].cls, e[i].status,
                     e[i].msg);
    }
}

/* The ids printed by `genq dlq ls --json ARGS` (NULL-terminated, at most
 * 20), comma-joined, into out. */
static void
ls_ids_argv(char *out, size_t n, const char *const args[])
{
    const char *argv[32];
    int k = 0, rc;
    char *o, *e, *save = NULL;

    argv[k++] = th_bin("genq");
    argv[k++] = "dlq";
    argv[k++] = "ls";
    argv[k++] = "--json";
    for (int i = 0; args[i] && i < 20; i++)
        argv[k++] = args[i];
    th_redis_args(argv, k, t.queue);
    rc = th_run(argv, NULL, NULL, 0, &o, &e);
    cr_assert_eq(rc, 0, "%s", e);
    out[0] = '\0';
    for (char *l = strtok_r(o, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        cJSON *j = cJSON_Parse(l);
        cr_assert(j);
        if (out[0])
            strncat(out, ",", n - strlen(out) - 1);
        strncat(out, th_str(j, "id"), n - strlen(out) - 1);
        cJSON_Delete(j);
    }
    free(o);
    free(e);
}

/* ls_ids_argv() with the ARGS as arguments (NULL-terminated). */
static void
ls_ids(char *out, size_t n, ...)
{
    const char *args[21];
    int k = 0;
    va_list ap;

    va_start(ap, n);
    for (const char *a; k < 20 && (a = va_arg(ap, const char *)) != NULL;)
        args[k++] = a;
    va_end(ap);
    args[k] = NULL;
    ls_ids_argv(out, n, args);
}

Test(dlq, dlq_ls_filters_and_formats)
{
    char ids[512], *out, *err;
    cJSON *o[8];

    static const struct {
        const char *args[5], *want, *why;
    } ls[] = {
        {{NULL}, "e5,e4,e3,e2,e1", "newest first"},
        {{"--class", "exhausted", NULL}, "e5,e3", "--class"},
        {{"--status", "404", NULL}, "e2", "--status"},
        {{"--class", "exhausted", "--status", "529", NULL}, "e5", "both"},
        {{"--grep", "Redis", NULL}, "e5,e1", "grep in the job"},
        {{"--grep", "overloaded", NULL}, "e5,e3", "grep in the error"},
        {{"--grep", "redis", NULL}, "", "case-sensitive"},
        {{"--limit", "2", NULL}, "e5,e4", "--limit"},
        {{"--since", "1h", NULL}, "e5,e4,e3,e2,e1", "--since 1h"},
        {{"--since", "2999-01-01T00:00:00Z", NULL}, "", "--since future"},
        {{"--class", "lease_expired", "--limit", "5", NULL}, "e4", "limit 5"},
    };

    five_dead();
    for (size_t i = 0; i < sizeof(ls) / sizeof(ls[0]); i++) {
        ls_ids_argv(ids, sizeof(ids), ls[i].args);
        cr_assert_str_eq(ids, ls[i].want, "%s", ls[i].why);
    }

    cr_assert_eq(th_genq(&t, NULL, &out, &err, "dlq", "ls", "--json",
                         "--status", "400", NULL),
                 0);
    cr_assert_eq(th_jsonl(out, o, 8), 1);
    cr_assert_str_eq(th_str(o[0], "id"), "e1");
    cr_assert_str_eq(th_str(o[0], "class"), "permanent");
    cr_assert_eq(th_num(o[0], "http_status"), 400);
    cr_assert_str_eq(th_str(o[0], "message"), "prompt is too long");
    cr_assert_eq(th_num(o[0], "attempts"), 1);
    cr_assert_str_eq(th_str(o[0], "prompt_excerpt"), "Write about Redis");
    cr_assert(strlen(th_str(o[0], "died_at")) == 24);
    th_free_objs(o, 1);
    free(out);
    free(err);

    /* not a terminal: tab-separated, one job per line */
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "dlq", "ls", "--class",
                         "lease_expired", NULL),
                 0);
    cr_assert(strstr(out, "e4\t"), "%s", out);
    cr_assert(strstr(out, "\tlease_expired\t\t1\tlease expired: worker w1 "
                          "stopped heartbeating\tWrite about fsync\n"),
              "%s", out);
    free(out);
    free(err);

    cr_assert_eq(
        th_genq(&t, NULL, NULL, NULL, "dlq", "ls", "--class", "bogus", NULL),
        2);
    cr_assert_eq(
        th_genq(&t, NULL, NULL, NULL, "dlq", "ls", "--status", "x", NULL), 2);
    cr_assert_eq(th_genq(&t, NULL, NULL, NULL, "dlq", "ls", "--since",
                         "yesterday", NULL),
                 2);
    cr_assert_eq(th_genq(&t, NULL, NULL, NULL, "dlq", "ls", "--yes", NULL), 2);
    cr_assert_eq(th_genq(&t, NULL, NULL, NULL, "dlq", "nonsense", NULL), 2);
    cr_assert_eq(th_genq(&t, NULL, NULL, NULL, "dlq", NULL), 2);
}

Test(dlq, dlq_pages_through_ties_and_many_entries)
{
    char *out, *err;
    int n = 0;
    char prev[64] = "";

    /* 1200 jobs dying in one call share one died-at ms: pages (500) must
     * split inside the tie */
    th_make_dead_batch(&t, "t", 1200);
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "dlq", "ls", NULL), 0, "%s",
                 err);
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save), n++) {
        char id[64];
        snprintf(id, sizeof(id), "%.*s", (int)strcspn(l, "\t"), l);
        if (prev[0])
            cr_assert(strcmp(id, prev) < 0, "each once, in order: %s %s", prev,
                      id);
        snprintf(prev, sizeof(prev), "%s", id);
    }
    cr_assert_eq(n, 1200);
    free(out);
    free(err);
    /* requeue them while paging: the cursor survives removals */
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "dlq", "requeue", "--all",
                         "--json", NULL),
                 0, "%s", err);
    cr_assert(strstr(out, "\"matched\":1200,\"changed\":1200,\"skipped\":0"),
              "%s", out);
    free(out);
    free(err);
    cr_assert_eq(th_rint(&t, "ZCARD %s", t.k.key[QK_DEAD]), 0);
}

Test(dlq, dlq_show_document)
{
    char *out, *err;
    cJSON *o, *e, *h;

    five_dead();
    cr_assert_eq(
        th_genq(&t, NULL, &out, &err, "dlq", "show", "e2", "--json", NULL), 0,
        "%s", err);
    o = cJSON_Parse(out);
    cr_assert(o, "%s", out);
    cr_assert_str_eq(th_str(o, "id"), "e2");
    cr_assert_str_eq(th_str(cJSON_GetObjectItem(o, "job"), "prompt"),
                     "Write about Lua");
    e = cJSON_GetObjectItem(o, "error");
    cr_assert_str_eq(th_str(e, "class"), "permanent");
    cr_assert_eq(th_num(e, "http_status"), 404);
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(e, "type")));
    cr_assert_eq(th_num(o, "attempts"), 1);
    cr_assert_eq(strlen(th_str(o, "died_at")), 24);
    h = cJSON_GetObjectItem(o, "history");
    cr_assert_eq(cJSON_GetArraySize(h), 1);
    cr_assert_str_eq(th_str(cJSON_GetArrayItem(h, 0), "outcome"), "dead");
    cr_assert_eq(strlen(th_str(cJSON_GetArrayItem(h, 0), "at")), 24,
                 "history times in RFC 3339");
    cJSON_Delete(o);
    free(out);
    free(err);
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "dlq", "show", "e3", NULL), 0);
    cr_assert(strstr(out, "exhausted") && strstr(out, "HTTP 500") &&
                  strstr(out, "Write about streams"),
              "%s", out);
    free(out);
    free(err);
    th_enqueue(&t, "alive", 1, 0, 0, NULL, "{\"prompt\":\"x\"}");
    cr_assert_eq(th_genq(&t, NULL, NULL, &err, "dlq", "show", "alive", NULL),
                 1);
    cr_assert(strstr(err, "not in the dead-letter queue (queued)"), "%s", err);
    free(err);
    cr_assert_eq(th_genq(&t, NULL, NULL, NULL, "dlq", "show", "nope", NULL), 1);
    cr_assert_eq(th_genq(&t, NULL, NULL, NULL, "dlq", "show", NULL), 2);
}

Test(dlq, dlq_requeue_by_id_and_filters)
{
    char *out, *err, st[64], ids[256];
    int att;
    redisReply *r;

    five_dead();
    /* dry run changes nothing */
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "dlq", "requeue", "--class",
                         "exhausted", "--dry-run", NULL),
                 0);
    cr_assert(strstr(out, "would have requeued 2"), "%s", out);
    free(out);
    free(err);
    cr_assert_eq(th_rint(&t, "ZCARD %s", t.k.key[QK_DEAD]), 5);

    /* by id: only dead ones move; a live or unknown id makes exit 1 */
    th_enqueue(&t, "live", 2, 60000, 0, NULL, "{\"prompt\":\"x\"}");
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "dlq", "requeue", "e1", "live",
                         "nope", NULL),
                 1);
    cr_assert(strstr(out, "requeued 1 dead job"), "%s", out);
    cr_assert(strstr(err, "live: not dead (delayed)"), "%s", err);
    cr_assert(strstr(err, "nope: not dead (unknown)"), "%s", err);
    free(out);
    free(err);
    cr_assert_str_eq(th_state(&t, "e1", st, &att), "queued");
    cr_assert_eq(att, 0, "attempts reset");
    cr_assert_str_eq(th_state(&t, "live", st, NULL), "delayed");
    r = th_script(&t, SCRIPT_INSPECT, "1", "0", "e1", NULL);
    cr_assert(strstr(r->element[5]->str, "\"outcome\":\"dlq_requeued\""),
              "history kept and extended: %s", r->element[5]->str);
    cr_assert(strstr(r->element[5]->str, "\"outcome\":\"dead\""));
    cr_assert(strstr(r->element[6]->str, "\"id\":\"e1\""), "same job");
    freeReplyObject(r);
    /* the idempotency key still names it: a second enqueue is a duplicate */
    cr_assert_eq(th_genq(&t,
                         "{\"prompt\":\"y\",\"idempotency_key\":\"idem-e1\"}\n",
                         &out, NULL, "enqueue", "--json", "-", NULL),
                 0);
    cr_assert(strstr(out, "\"id\":\"e1\",\"status\":\"duplicate\""), "%s", out);
    free(out);
    /* it is claimable */
    r = th_claim(&t, "w-ops", 1, 60000, 5);
    cr_assert_eq(r->elements, 5);
    cr_assert_str_eq(r->element[1]->str, "e1");
    cr_assert_eq(r->element[3]->integer, 1, "attempt 1 again");
    freeReplyObject(r);

    /* by filter, keeping attempts */
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "dlq", "requeue", "--grep",
                         "overloaded", "--keep-attempts", "--json", NULL),
                 0);
    cr_assert(strstr(out, "\"action\":\"requeue\",\"dry_run\":false,"
                          "\"matched\":2,\"changed\":2"),
              "%s", out);
    free(out);
    free(err);
    cr_assert_str_eq(th_state(&t, "e3", st, &att), "queued");
    cr_assert_eq(att, 1, "--keep-attempts");
    ls_ids(ids, sizeof(ids), NULL);
    cr_assert_str_eq(ids, "e4,e2");
    /* ids from stdin */
    cr_assert_eq(
        th_genq(&t, "e2\n\ne4\n", &out, &err, "dlq", "requeue", "-", NULL), 0,
        "%s", err);
    cr_assert(strstr(out, "requeued 2"), "%s", out);
    free(out);
    free(err);
    cr_assert_eq(th_rint(&t, "ZCARD %s", t.k.key[QK_DEAD]), 0);
    cr_assert_eq(th_genq(&t, NULL, NULL, NULL, "dlq", "requeue", NULL), 2,
                 "nothing selected");
    cr_assert_eq(
        th_genq(&t, NULL, NULL, NULL, "dlq", "requeue", "x", "--all", NULL), 2,
        "ids and filters");
    cr_assert_eq(th_genq(&t, NULL, NULL, NULL, "dlq", "requeue", "--older-than",
                         "1h", NULL),
                 2, "not a requeue option");
}

Test(dlq, dlq_requeued_jobs_complete_with_a_worker)
{
    const char *args[] = {"--provider", "noop", NULL};
    char e1[] = "e1", e2[] = "e2", e3[] = "e3";
    char *ids[3] = {e1, e2, e3};
    pid_t w;

    th_make_dead(&t, "e1", "one", NULL, "permanent", 400, "x");
    th_make_dead(&t, "e2", "two", NULL, "permanent", 400, "x");
    th_make_dead(&t, "e3", "three", NULL, "permanent", 400, "x");
    cr_assert_eq(th_genq(&t, NULL, NULL, NULL, "dlq", "requeue", "--all", NULL),
                 0);
    w = th_worker(&t, NULL, args);
    cr_assert_eq(th_wait_terminal(&t, ids, 3, 20), 3);
    th_stop(w);
    cr_assert_eq(th_count_state(&t, (const char *const *)ids, 3, "succeeded"),
                 3);
}

Test(dlq, dlq_purge_selection_confirmation_and_cleanup)
{
    char *out, *err, st[64], ids[256];

    five_dead();
    /* --all without --yes and without a terminal: refused, nothing gone */
    cr_assert_eq(th_genq(&t, NULL, NULL, &err, "dlq", "purge", "--all", NULL),
                 2);
    cr_assert(strstr(err, "--yes"), "%s", err);
    free(err);
    cr_assert_eq(th_rint(&t, "ZCARD %s", t.k.key[QK_DEAD]), 5);
    /* a filter is honoured, with --all too */
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "dlq", "purge", "--all",
                         "--class", "exhausted", "--yes", "--json", NULL),
                 0, "%s", err);
    cr_assert(strstr(out, "\"action\":\"purge\",\"dry_run\":false,"
                          "\"matched\":2,\"changed\":2"),
              "%s", out);
    free(out);
    free(err);
    ls_ids(ids, sizeof(ids), NULL);
    cr_assert_str_eq(ids, "e4,e2,e1");
    cr_assert_str_eq(th_state(&t, "e3", st, NULL), "unknown");
    cr_assert(!th_rint(&t, "HEXISTS %s %s", t.k.key[QK_JOBS], "e3") &&
                  !th_rint(&t, "HEXISTS %s %s", t.k.key[QK_ERRORS], "e3") &&
                  !th_rint(&t, "HEXISTS %s %s", t.k.key[QK_HISTORY], "e3") &&
                  !th_rint(&t, "HEXISTS %s %s", t.k.key[QK_META], "e3"),
              "every field gone");
    /* --older-than: nothing is a day old */
    cr_assert_eq(th_genq(&t, NULL, &out, NULL, "dlq", "purge", "--older-than",
                         "1d", NULL),
                 0);
    cr_assert(strstr(out, "purged 0"), "%s", out);
    free(out);
    cr_assert_eq(th_rint(&t, "ZCARD %s", t.k.key[QK_DEAD]), 3);
    /* by id; a live id is left alone (exit 1) */
    th_enqueue(&t, "live", 1, 60000, 0, NULL, "{\"prompt\":\"x\"}");
    cr_assert_eq(
        th_genq(&t, NULL, &out, &err, "dlq", "purge", "e1", "live", NULL), 1);
    cr_assert(strstr(out, "purged 1"), "%s", out);
    free(out);
    free(err);
    cr_assert_str_eq(th_state(&t, "live", st, NULL), "delayed");
    /* its idempotency key went with it: the same key enqueues anew */
    cr_assert_eq(th_genq(&t,
                         "{\"id\":\"e1b\",\"prompt\":\"y\",\"idempotency_key\":"
                         "\"idem-e1\"}\n",
                         &out, NULL, "enqueue", "--json", "-", NULL),
                 0);
    cr_assert(strstr(out, "\"id\":\"e1b\",\"status\":\"enqueued\""), "%s", out);
    free(out);
    /* --older-than 0s: every dead job; dry run first */
    th_sleep_ms(5);
    cr_assert_eq(th_genq(&t, NULL, &out, NULL, "dlq", "purge", "--older-than",
                         "0s", "--dry-run", NULL),
                 0);
    cr_assert(strstr(out, "would have purged 2"), "%s", out);
    free(out);
    cr_assert_eq(th_genq(&t, NULL, NULL, NULL, "dlq", "purge", "--older-than",
                         "0s", NULL),
                 0);
    cr_assert_eq(th_rint(&t, "ZCARD %s", t.k.key[QK_DEAD]), 0);
    cr_assert_eq(th_genq(&t, NULL, NULL, NULL, "dlq", "purge", NULL), 2);
    cr_assert_eq(th_genq(&t, NULL, NULL, NULL, "dlq", "purge", "--older-than",
                         "soon", NULL),
                 2);
}

Test(dlq, dlq_export_then_enqueue_from_dlq_round_trip)
{
    char *out, *err, *out2, other[96], st[64];
    cJSON *o[8];
    int n;

    five_dead();
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "dlq", "export", NULL), 0, "%s",
                 err);
    {
        char *copy = strdup(out);
        n = th_jsonl(copy, o, 8);
        free(copy);
    }
    cr_assert_eq(n, 5);
    cr_assert_str_eq(th_str(o[0], "id"), "e5");
    cr_assert(cJSON_IsObject(cJSON_GetObjectItem(o[0], "job")));
    cr_assert(cJSON_IsArray(cJSON_GetObjectItem(o[0], "history")));
    th_free_objs(o, 5);

    /* into another queue: the same jobs, with their ids */
    snprintf(other, sizeof(other), "%s-re", t.queue);
    {
        const char *argv[] = {th_bin("genq"),
                              "enqueue",
                              "--from-dlq",
                              "--json",
                              "-",
                              "--redis",
                              getenv("GENQ_TEST_REDIS_URL"),
                              "--queue",
                              other,
                              NULL};
        cr_assert_eq(th_run(argv, NULL, out, strlen(out), &out2, &err), 0, "%s",
                     err);
    }
    cr_assert(strstr(out2, "{\"line\":1,\"id\":\"e5\",\"status\":"
                           "\"enqueued\",\"error\":null}"),
              "%s", out2);
    cr_assert(strstr(out2, "\"line\":5,\"id\":\"e1\""), "%s", out2);
    free(out2);
    free(err);
    {
        struct qkeys k;
        redisReply *r;
        cr_assert_eq(qkeys_init(&k, other), 0);
        {
            /* the stored value: a queued job's header, then the job */
            static const char e2[] =
                "\n{\"id\":\"e2\",\"prompt\":\"Write about Lua\"}";
            size_t lv;
            r = redisCommand(t.c, "HGET %s e2", k.key[QK_JOBS]);
            cr_assert(r && r->type == REDIS_REPLY_STRING);
            lv = strlen(r->str);
            cr_assert(lv > sizeof(e2) - 1 &&
                          !strcmp(r->str + lv - (sizeof(e2) - 1), e2) &&
                          !strncmp(r->str, "queued|", 7),
                      "%s", r->str);
            freeReplyObject(r);
        }
        r = redisCommand(t.c, "LLEN %s", k.key[QK_READY]);
        cr_assert_eq(r->integer, 5);
        freeReplyObject(r);
    }
    /* into the same queue the ids are taken while the dead jobs exist ... */
    cr_assert_eq(th_genq(&t, out, &out2, NULL, "enqueue", "--from-dlq",
                         "--json", "-", NULL),
                 0);
    cr_assert(strstr(out2, "\"status\":\"duplicate\""), "%s", out2);
    free(out2);
    /* ... and free again once purged */
    cr_assert_eq(
        th_genq(&t, NULL, NULL, NULL, "dlq", "purge", "--all", "--yes", NULL),
        0);
    cr_assert_eq(
        th_genq(&t, out, NULL, &err, "enqueue", "--from-dlq", "-", NULL), 0,
        "%s", err);
    free(err);
    cr_assert_str_eq(th_state(&t, "e4", st, NULL), "queued");
    free(out);

    /* bad lines keep their line numbers */
    cr_assert_eq(th_genq(&t,
                         "{\"job\":{\"prompt\":\"ok\"}}\nnot json\n"
                         "{\"id\":\"x\"}\n{\"job\":{\"prompt\":7}}\n",
                         NULL, &err, "enqueue", "--from-dlq", "-", NULL),
                 1);
    cr_assert(strstr(err, "line 2: not a dead-letter document"), "%s", err);
    cr_assert(strstr(err, "line 3: job: missing"), "%s", err);
    cr_assert(strstr(err, "line 4: job.prompt"), "%s", err);
    free(err);
    cr_assert_eq(th_genq(&t, NULL, NULL, NULL, "enqueue", "--from-dlq",
                         "--prompt", "x", NULL),
                 2);
}
