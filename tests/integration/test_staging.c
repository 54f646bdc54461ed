/* `genq enqueue`'s bulk path and staging against a real Redis: bulk jobs
 * behave like any other, staged jobs keep the file order, a rejected or
 * refused file leaves nothing, the maintenance sweeps a dead run's staged
 * values, and the spool spills to a file past its memory limit. */
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
#include "meta.h"
#include "rclient.h"

TH_SUITE(staging, .timeout = 60);

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
Test(staging, bulk_path_jobs_behave_like_any_other, .timeout = 90)
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
    int rc = th_genq(&t, in, &out, &err, "enqueue", "--json", "-", NULL);

    cr_assert_eq(rc, 0, "stderr: %s", err);
    for (int i = 0; i < 5; i++) {
        line_id(out, i + 1, id[i]);
        cr_assert(strstr(out, "\"status\":\"enqueued\""));
    }
    cr_assert_str_eq(id[2], "given-1");
    free(out);
    free(err);
    /* five stored jobs, no meta field yet: the two that took the script
     * are stored with the header (enqueue.lua, queued jobs), the three
     * bulk ones inline in their ready lists (nothing in the jobs hash) */
    r = redisCommand(t.c, "HLEN %s", t.k.key[QK_META]);
    cr_assert_eq(r->integer, 0);
    freeReplyObject(r);
    cr_assert_eq(th_rint(&t, "HLEN %s", t.k.key[QK_JOBS]), 2);
    cr_assert_eq(th_inline(&t), 3);
    r = redisCommand(t.c, "LINDEX %s -1", t.k.key[QK_READY]);
    snprintf(dup, sizeof(dup), "@%s|queued|0|0|1|||", id[0]);
    cr_assert(r->type == REDIS_REPLY_STRING &&
                  !strncmp(r->str, dup, strlen(dup)),
              "a bulk job's element: marker, id, header: %s", r->str);
    freeReplyObject(r);

    /* status: the header stands in for the meta */
    rc = th_genq(&t, NULL, &out, &err, "status", "--json", id[1], NULL);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert(strstr(out, "\"state\":\"queued\""), "%s", out);
    cr_assert(strstr(out, "\"priority\":\"low\""), "%s", out);
    cr_assert(strstr(out, "\"max_attempts\":2"), "%s", out);
    cr_assert(strstr(out, "\"enqueued_at\":\"20"), "%s", out);
    free(out);
    free(err);
    /* no key finds a queued inline job: ready_find.lua makes it a plain
     * entry, in place */
    r = th_script(&t, SCRIPT_INSPECT, "1", "0", id[0], NULL);
    cr_assert_eq(r->element[0]->type, REDIS_REPLY_NIL, "no meta by key");
    freeReplyObject(r);
    r = th_script(&t, SCRIPT_READY_FIND, "0", "0", "5000", id[0], "nope", NULL);
    cr_assert_eq(r->elements, 4, "{done, offset, found, still wanted}");
    cr_assert_eq(r->element[0]->integer, 0, "every list scanned");
    cr_assert_eq(r->element[2]->integer, 1);
    cr_assert_str_eq(r->element[3]->str, "nope");
    freeReplyObject(r);
    r = redisCommand(t.c, "LINDEX %s -1", t.k.key[QK_READY]);
    cr_assert_str_eq(r->str, id[0], "the element is its id now, in place");
    freeReplyObject(r);
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
    rc = th_genq(&t, dup, &out, &err, "enqueue", "--json", "-", NULL);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert(strstr(out, "\"status\":\"duplicate\""), "%s", out);
    free(out);
    free(err);

    /* cancel a queued bulk job */
    rc = th_genq(&t, NULL, &out, &err, "cancel", id[4], NULL);
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

/* tmp_jsonl(path, name) holding bulk_lines(tag, n), then tail (may be
 * NULL), closed. */
static void
bulk_file(char *path, const char *name, const char *tag, int n,
          const char *tail)
{
    FILE *f = tmp_jsonl(path, name);

    bulk_lines(f, tag, n);
    if (tail)
        fputs(tail, f);
    fclose(f);
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
        /* an inline job is its own stored value */
        redisReply *v = r->element[i]->str[0] == '@'
                            ? redisCommand(t.c, "ECHO %s", r->element[i]->str)
                            : redisCommand(t.c, "HGET %s %s", t.k.key[QK_JOBS],
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

/* Staging (enqueue_stage.c): the bulk jobs of a file are stored while it is
 * validated and made ready at the end, in file order: into an empty queue
 * (the stage list becomes the ready list) and after jobs already waiting
 * (moved over), with a job that is not a bulk job in the middle (staging
 * stops there). --json names every line with the id that is queued. */
Test(staging, staged_jobs_keep_the_file_order, .timeout = 60)
{
    char path[512], *out, *err, *got, *want;
    size_t wl = 0;
    FILE *f;
    int rc;

    f = tmp_jsonl(path, "stage");
    bulk_lines(f, "a", 450);
    fclose(f);
    rc = th_genq(&t, NULL, &out, &err, "enqueue", "--json", path, NULL);
    cr_assert_eq(rc, 0, "%s", err);
    {
        /* the --json ids are those of the ready list, in order */
        redisReply *r = redisCommand(t.c, "LRANGE %s 0 -1", t.k.key[QK_READY]);
        const char *p = out;
        cr_assert_eq(r->elements, 450);
        for (size_t i = r->elements; i-- > 0;) {
            char want_id[80], eid[64];
            th_elem_id(r->element[i]->str, eid, sizeof(eid));
            snprintf(want_id, sizeof(want_id), "\"id\":\"%s\"", eid);
            p = strstr(p, want_id);
            cr_assert(p, "line %zu names %s", r->elements - i, eid);
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
    rc = th_genq(&t, NULL, NULL, &err, "enqueue", path, NULL);
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
        cr_assert_eq(th_rint(&t, "EXISTS %s", t.k.staging), 0,
                     "no staging run left registered");
    }
    unlink(path);
}

/* A bad line after a thousand staged jobs: nothing is enqueued and nothing
 * staged is left behind (values, stage lists, registration). */
Test(staging, rejected_file_leaves_no_staged_value, .timeout = 60)
{
    char path[512], *err;
    redisReply *r;
    int rc;

    bulk_file(path, "stage-bad", "a", 1000,
              "{\"prompt\":\"x\",\"max_tokens\":\"many\"}\n");
    rc = th_genq(&t, NULL, NULL, &err, "enqueue", path, NULL);
    cr_assert_eq(rc, 1);
    cr_assert(strstr(err, "line 1001: max_tokens"), "%s", err);
    cr_assert(strstr(err, "nothing enqueued"), "%s", err);
    free(err);
    cr_assert_eq(th_rint(&t, "HLEN %s", t.k.key[QK_JOBS]), 0,
                 "no staged value left in the jobs hash");
    r = redisCommand(t.c, "KEYS %s*", t.k.prefix);
    cr_assert(r && r->type == REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < r->elements; i++)
        cr_assert(!strstr(r->element[i]->str, "stag"), "left behind: %s",
                  r->element[i]->str);
    freeReplyObject(r);
    cr_assert_eq(th_rint(&t, "LLEN %s", t.k.key[QK_READY]), 0);
    unlink(path);
}

/* Redis refuses to make the staged jobs ready (the ready list is not a
 * list): genq says why, enqueues nothing, counts nothing, and removes
 * what it staged. */
Test(staging, staging_refused_by_redis_enqueues_nothing, .timeout = 60)
{
    char path[512], *err;
    redisReply *r = redisCommand(t.c, "SET %s not-a-list", t.k.key[QK_READY]);
    int rc;

    freeReplyObject(r);
    bulk_file(path, "stage-ref", "a", 500, NULL);
    rc = th_genq(&t, NULL, NULL, &err, "enqueue", path, NULL);
    cr_assert_eq(rc, 1);
    cr_assert(strstr(err, "WRONGTYPE"), "names Redis's reason: %s", err);
    cr_assert(strstr(err, "0 of the first 500 jobs are enqueued"), "%s", err);
    free(err);
    cr_assert_eq(th_rint(&t, "HEXISTS %s enqueued", t.k.key[QK_STATS]), 0,
                 "none counted");
    r = redisCommand(t.c, "KEYS %s*", t.k.prefix);
    cr_assert(r && r->type == REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < r->elements; i++) /* the queue's name has it */
        cr_assert(!strstr(r->element[i]->str + strlen(t.k.prefix), "stag"),
                  "left behind: %s", r->element[i]->str);
    freeReplyObject(r);
    th_rint(&t, "DEL %s", t.k.key[QK_READY]);
    unlink(path);
}

/* A run that died while staging (its registration an hour old): the
 * maintenance deletes its stage lists (inline jobs: nothing in the jobs
 * hash), leaves a live run alone; committing the dead run then fails as
 * GONE instead of making part of it ready. */
Test(staging, maintain_deletes_what_a_dead_enqueue_staged)
{
    const char *dead = "0190aaaa-0000-7000-8000-000000000001";
    const char *live = "0190aaaa-0000-7000-8000-000000000002";
    char key[256], err[512], skey[160];
    long long now = (long long)time(NULL) * 1000;
    redisReply *r;
    const char *av[3] = {"commit", dead, "100"};

    snprintf(key, sizeof(key), "%s", t.k.staging);
    th_rint(&t, "HSET %s %s %lld %s %lld", key, dead, now - 2 * 3600 * 1000LL,
            live, now);
    for (int i = 0; i < 6; i++) {
        const char *run = i < 3 ? dead : live;
        char id[32], v[META_INLINE_MAX + 64], sk[160];
        int hl;
        snprintf(id, sizeof(id), "%s-%d", i < 3 ? "dead" : "live", i % 3);
        hl = meta_format_inline(v, sizeof(v), id, 0, 1, now);
        snprintf(v + hl, sizeof(v) - (size_t)hl,
                 "{\"id\":\"%s\",\"prompt\":\"x\"}", id);
        qkeys_stage(&t.k, run, 1, sk, sizeof(sk));
        th_rint(&t, "LPUSH %s %s", sk, v);
    }
    r = th_script(&t, SCRIPT_MAINTAIN, NULL);
    freeReplyObject(r);
    qkeys_stage(&t.k, dead, 1, skey, sizeof(skey));
    cr_assert_eq(th_rint(&t, "EXISTS %s", skey), 0);
    qkeys_stage(&t.k, live, 1, skey, sizeof(skey));
    cr_assert_eq(th_rint(&t, "LLEN %s", skey), 3);
    cr_assert_eq(th_rint(&t, "HEXISTS %s %s", key, dead), 0,
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
    cr_assert(!strncmp(r->element[2]->str, "@live-0|", 8),
              "oldest first in line: %s", r->element[2]->str);
    freeReplyObject(r);
    /* a run that lost some of its staged jobs (a sweep while it stalled,
     * then it went on) commits none of them */
    {
        const char *run = "0190aaaa-0000-7000-8000-000000000003";
        const char *cav[4] = {"commit", run, "100", "3"};
        th_rint(&t, "HSET %s %s %lld", key, run, now);
        qkeys_stage(&t.k, run, 1, skey, sizeof(skey));
        th_rint(&t, "LPUSH %s s-1 s-2", skey);
        r = rclient_script(t.c, SCRIPT_STAGE, &t.k, 4, cav, NULL, err,
                           sizeof(err));
        cr_assert_null(r, "2 of 3 staged: not committed");
        cr_assert(strstr(err, "GONE 1 of the staged jobs"), "%s", err);
        cr_assert_eq(th_rint(&t, "LLEN %s", t.k.key[QK_READY]), 3,
                     "nothing of it made ready");
    }
}

/* Past GENQ_SPOOL_MEM_MAX bytes pass 1 spills to a temporary file: the
 * answers, the jobs and their order are those of the in-memory spool (a
 * split file, so both halves spill). */
Test(staging, spool_spills_to_a_file_past_its_memory_limit, .timeout = 90)
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
    cr_assert_eq(th_rint(&t, "HLEN %s", t.k.key[QK_JOBS]), n - 1);
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
Test(staging, big_file_split_keeps_line_numbers_and_order, .timeout = 90)
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
    rc = th_genq(&t, NULL, &out, &err, "enqueue", "--dry-run", "--json", path,
                 NULL);
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
    rc = th_genq(&t, NULL, NULL, &err, "enqueue", "--skip-invalid", path, NULL);
    cr_assert_eq(rc, 1, "rejected lines still make the exit 1: %s", err);
    cr_assert(strstr(err, "enqueued 29997,"), "%s", err);
    free(err);
    cr_assert_eq(th_stored(&t), n - 3);
    unlink(path);
}
