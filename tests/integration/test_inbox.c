/* The public inbox (issue 18): job documents LPUSHed onto genq:{Q}:inbox
 * by any Redis client are admitted by a worker's intake with genq
 * enqueue's validation, or filed under genq:{Q}:rejected with genq
 * enqueue's words; the intake is fenced by its lock; the notify echo is
 * written at enqueue by both genq enqueue and the intake. The SIGKILL test
 * at 50,000 entries is tests/scripts/inbox-sigkill.sh. */
#include "fmacros.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <criterion/criterion.h>

#include "harness.h"
#include "rclient.h"

TH_SUITE(inbox, .timeout = 120);

/* The reply of a Redis command, asserted not to be an error (caller
 * frees). */
static redisReply *
rv(const char *fmt, va_list ap)
{
    redisReply *r = redisvCommand(t.c, fmt, ap);

    cr_assert(r && r->type != REDIS_REPLY_ERROR, "redis: %s",
              r ? r->str : t.c->errstr);
    return r;
}

/* The integer a Redis reply holds as a string or integer (HGET of a
 * counter): 0 for nil. */
static long long
rnum(const char *fmt, ...)
{
    va_list ap;
    redisReply *r;
    long long v = 0;

    va_start(ap, fmt);
    r = rv(fmt, ap);
    va_end(ap);
    if (r->type == REDIS_REPLY_INTEGER)
        v = r->integer;
    else if (r->type == REDIS_REPLY_STRING)
        v = strtoll(r->str, NULL, 10);
    freeReplyObject(r);
    return v;
}

static void
rcmd(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    freeReplyObject(rv(fmt, ap));
    va_end(ap);
}

/* A string reply (caller frees), or NULL for nil. */
static char *
rstr(const char *fmt, ...)
{
    va_list ap;
    redisReply *r;
    char *s = NULL;

    va_start(ap, fmt);
    r = rv(fmt, ap);
    va_end(ap);
    if (r->type == REDIS_REPLY_STRING)
        s = strdup(r->str);
    freeReplyObject(r);
    return s;
}

/* LPUSH the n entries onto the inbox (each one argument). */
static void
push(int n, const char *const *entries)
{
    const char *av[128];
    redisReply *r;

    av[0] = "LPUSH";
    av[1] = t.k.inbox;
    for (int i = 0; i < n; i++)
        av[2 + i] = entries[i];
    r = redisCommandArgv(t.c, n + 2, av, NULL);
    cr_assert(r && r->type == REDIS_REPLY_INTEGER, "LPUSH failed");
    freeReplyObject(r);
}

/* Wait until the inbox is empty and the rejected list holds `rejected`;
 * asserts it happens within 20 s. */
static void
wait_intake(int rejected)
{
    for (int i = 0; i < 400; i++) {
        if (th_rint(&t, "LLEN %s", t.k.inbox) == 0 &&
            th_rint(&t, "LLEN %s", t.k.rejected) == rejected)
            return;
        th_sleep_ms(50);
    }
    cr_assert_fail("the intake did not empty the inbox: %lld left, %lld "
                   "rejected",
                   th_rint(&t, "LLEN %s", t.k.inbox),
                   th_rint(&t, "LLEN %s", t.k.rejected));
}

/* The one id in the jobs hash (static buffer). */
static const char *
only_job_id(void)
{
    static char id[160];
    redisReply *r = redisCommand(t.c, "HKEYS %s", t.k.key[QK_JOBS]);

    cr_assert(r && r->type == REDIS_REPLY_ARRAY && r->elements == 1,
              "want exactly one job stored");
    snprintf(id, sizeof(id), "%s", r->element[0]->str);
    freeReplyObject(r);
    return id;
}

Test(inbox, article_job_succeeds_with_its_notify_echo)
{
    const char *args[] = {NULL};
    char *ids[1], *echo, *want, id[160];
    cJSON *res;
    pid_t w;

    const char *e[] = {"{\"prompt\":\"Write about Redis\",\"max_tokens\":200,"
                       "\"metadata\":{\"article_id\":7},\"notify\":"
                       "[\"article_id\"]}"};

    push(1, e);
    w = th_worker(&t, NULL, args);
    wait_intake(0);
    snprintf(id, sizeof(id), "%s", only_job_id());
    ids[0] = id;
    cr_assert_eq(th_wait_terminal(&t, ids, 1, 30), 1);
    th_stop(w);
    echo = rstr("HGET %s %s", t.k.notify, id);
    cr_assert_str_eq(echo, "{\"article_id\":7}",
                     "the feed's echo is written at intake");
    free(echo);
    /* the result document, read as the README names it: HGET results ID */
    res = th_result(&t, id);
    cr_assert(res, "no result document for %s", id);
    want = th_expected_text("Write about Redis", 200 * 4);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(res, "text")),
                     want);
    cr_assert_eq(
        cJSON_GetObjectItem(cJSON_GetObjectItem(res, "metadata"), "article_id")
            ->valueint,
        7);
    free(want);
    cJSON_Delete(res);
    cr_assert_eq(rnum("HGET %s intake_admitted", t.k.key[QK_STATS]), 1);
    cr_assert_eq(rnum("SISMEMBER %s %s", KEY_QUEUES, t.queue), 1,
                 "a queue fed through its inbox is a known queue");
}

Test(inbox, malformed_entries_are_rejected_with_genq_enqueue_words)
{
    const char *args[] = {NULL};
    char ok[] = "ok-1";
    char *out = NULL, *err = NULL, *ids[1] = {ok};
    cJSON *o[4], *e[4];
    int n, ne;
    pid_t w;

    const char *es[] = {"{\"prompt\": 5}", "not json",
                        "{\"id\":\"ok-1\",\"prompt\":\"fine\","
                        "\"max_tokens\":20}"};

    push(3, es);
    w = th_worker(&t, NULL, args);
    wait_intake(2);
    cr_assert_eq(th_wait_terminal(&t, ids, 1, 30), 1);
    th_stop(w);

    cr_assert_eq(
        th_genq(&t, NULL, &out, &err, "rejected", "ls", "--json", NULL), 0,
        "%s", err);
    n = th_jsonl(out, o, 4);
    cr_assert_eq(n, 2, "both rejections listed");
    /* newest first: "not json" was pushed (and taken) after {"prompt": 5} */
    th_assert_each(o, "entry", "not json", "{\"prompt\": 5}", NULL);
    th_assert_each(o, "field", "", "prompt", NULL);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(th_num(o[i], "v"), 1);
        cr_assert_eq(th_num(o[i], "index"), i);
        cr_assert(strlen(th_str(o[i], "worker")) > 0);
        cr_assert(strlen(th_str(o[i], "rejected_at")) >= 20);
    }
    /* the same lines through genq enqueue give the same words */
    free(out);
    free(err);
    cr_assert_eq(th_genq(&t, "{\"prompt\": 5}\nnot json\n", &out, &err,
                         "enqueue", "--dry-run", "--json", "-", NULL),
                 1);
    ne = th_jsonl(out, e, 4);
    cr_assert_eq(ne, 2);
    for (int i = 0; i < 2; i++) {
        cJSON *er = cJSON_GetObjectItem(e[i], "error");
        cr_assert_str_eq(th_str(er, "message"), th_str(o[1 - i], "error"));
        cr_assert_str_eq(th_str(er, "field"), th_str(o[1 - i], "field"));
    }
    th_free_objs(e, ne);
    th_free_objs(o, n);
    free(out);
    free(err);
    /* nothing else affected: the good entry ran, nothing more stored */
    cr_assert_eq(th_rint(&t, "HLEN %s", t.k.key[QK_JOBS]), 1);
    cr_assert_eq(rnum("HGET %s enqueued", t.k.key[QK_STATS]), 1);
    cr_assert_eq(rnum("HGET %s intake_rejected", t.k.key[QK_STATS]), 2);

    /* show and purge */
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "rejected", "show", "1", NULL),
                 0);
    cr_assert(strstr(out, "prompt must be a string, got number"), "%s", out);
    free(out);
    free(err);
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "rejected", "show", "2", NULL),
                 1, "no rejection at index 2");
    free(out);
    free(err);
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "rejected", "purge", NULL), 2,
                 "no terminal: purge needs --yes");
    free(out);
    free(err);
    cr_assert_eq(th_rint(&t, "LLEN %s", t.k.rejected), 2);
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "rejected", "purge", "--yes",
                         "--json", NULL),
                 0);
    cr_assert_str_eq(out, "{\"purged\":2}\n");
    free(out);
    free(err);
    cr_assert_eq(th_rint(&t, "LLEN %s", t.k.rejected), 0);
}

/* Call intake.lua by hand: expected/next lock values, N, then the rest.
 * Returns the error text ("" when it succeeded) in a static buffer. */
static const char *
intake_call(int argc, const char **argv)
{
    static char err[256];
    redisReply *r = rclient_script(t.c, SCRIPT_INTAKE, &t.k, argc, argv, NULL,
                                   err, sizeof(err));

    if (!r)
        return err;
    freeReplyObject(r);
    err[0] = '\0';
    return err;
}

Test(inbox, a_round_is_fenced_by_the_lock_and_the_inbox_tail)
{
    const char *job = "{\"id\":\"f-1\",\"prompt\":\"x\"}";
    /* one job f-1 of the general path and no echo, no new jobs (0 of
     * each priority, no echo), the tail, no rejections */
    const char *av[] = {"mine:4", "mine:5", "10000", "1", "86400", "1", "f-1",
                        "1",      "0",      "0",     "0", "",      job, "0",
                        "0",      "0",      "0",     "0", job,     "0"};
    int ac = (int)(sizeof(av) / sizeof(av[0]));
    char *v;

    push(1, &job);
    rcmd("SET %s other:0", t.k.inbox_lock);
    cr_assert(strstr(intake_call(ac, av), "LOCK"), "another holder");
    rcmd("SET %s mine:5", t.k.inbox_lock);
    cr_assert(strstr(intake_call(ac, av), "SEQ"),
              "a round behind one that failed");
    rcmd("SET %s mine:4", t.k.inbox_lock);
    rcmd("RPUSH %s %s", t.k.inbox, "{\"prompt\":\"jumped the line\"}");
    cr_assert(strstr(intake_call(ac, av), "INBOX"),
              "the tail moved since it was read");
    cr_assert_eq(th_rint(&t, "LLEN %s", t.k.inbox), 2, "nothing trimmed");
    cr_assert_eq(th_rint(&t, "HLEN %s", t.k.key[QK_JOBS]), 0, "nothing stored");
    v = rstr("GET %s", t.k.inbox_lock);
    cr_assert_str_eq(v, "mine:4", "a failed round leaves the lock as it was");
    free(v);
    rcmd("RPOP %s", t.k.inbox);
    cr_assert_str_eq(intake_call(ac, av), "");
    cr_assert_eq(th_rint(&t, "LLEN %s", t.k.inbox), 0);
    cr_assert_eq(th_rint(&t, "HLEN %s", t.k.key[QK_JOBS]), 1);
    v = rstr("GET %s", t.k.inbox_lock);
    cr_assert_str_eq(v, "mine:5", "the round moved the lock on");
    free(v);
    cr_assert_gt(th_rint(&t, "PTTL %s", t.k.inbox_lock), 5000);
    /* the same round again: the lock moved on, so it is refused */
    cr_assert(strstr(intake_call(ac, av), "SEQ"));
}

Test(inbox, ids_idempotency_priorities_and_schedules_as_genq_enqueue)
{
    const char *args[] = {NULL};
    char out[64];
    pid_t w;

    cr_assert_eq(th_genq(&t, NULL, NULL, NULL, "pause", NULL), 0);
    const char *es[] = {"{\"id\":\"given-1\",\"prompt\":\"a\"}",
                        "{\"prompt\":\"b\",\"idempotency_key\":\"k\"}",
                        "{\"prompt\":\"c\",\"idempotency_key\":\"k\"}",
                        "{\"prompt\":\"d\",\"priority\":\"high\"}",
                        "{\"prompt\":\"e\",\"delay_s\":3600}",
                        "{\"prompt\":\"f\",\"run_at\":"
                        "\"2099-01-01T00:00:00Z\"}"};

    push(6, es);
    w = th_worker(&t, NULL, args);
    wait_intake(0);
    th_stop(w);
    cr_assert_str_eq(th_state(&t, "given-1", out, NULL), "queued");
    cr_assert_eq(rnum("HGET %s intake_admitted", t.k.key[QK_STATS]), 5);
    cr_assert_eq(rnum("HGET %s intake_duplicates", t.k.key[QK_STATS]), 1,
                 "a repeated idempotency key is a duplicate, not a "
                 "rejection");
    cr_assert_eq(th_rint(&t, "LLEN %s", t.k.rejected), 0);
    cr_assert_eq(th_rint(&t, "LLEN %s", t.k.key[QK_READY_HIGH]), 1);
    cr_assert_eq(th_rint(&t, "LLEN %s", t.k.key[QK_READY]), 2);
    cr_assert_eq(th_rint(&t, "ZCARD %s", t.k.key[QK_DELAYED]), 2);
    /* FIFO: the oldest entry is claimed first */
    {
        char *tail = rstr("LINDEX %s -1", t.k.key[QK_READY]);
        cr_assert_str_eq(tail, "given-1");
        free(tail);
    }
}

Test(inbox, templates_only_with_a_templates_dir)
{
    const char *plain[] = {NULL};
    const char *with[] = {"--templates", "templates", NULL};
    const char *entry = "{\"id\":\"tpl-1\",\"template\":\"article\",\"vars\":"
                        "{\"words\":500,\"topic\":\"Redis\",\"audience\":"
                        "\"developers\"}}";
    char *v, *doc;
    pid_t w;

    cr_assert_eq(th_genq(&t, NULL, NULL, NULL, "pause", NULL), 0);
    push(1, &entry);
    w = th_worker(&t, NULL, plain);
    wait_intake(1);
    th_stop(w);
    doc = rstr("LINDEX %s 0", t.k.rejected);
    cr_assert(strstr(doc, "\"field\":\"template\""), "%s", doc);
    cr_assert(strstr(doc, "--templates"), "the reason says what to do: %s",
              doc);
    free(doc);
    push(1, &entry);
    w = th_worker(&t, NULL, with);
    wait_intake(1);
    th_stop(w);
    v = rstr("HGET %s tpl-1", t.k.key[QK_JOBS]);
    cr_assert(v && strstr(v, "on Redis for developers"), "rendered: %s", v);
    cr_assert(!strstr(v, "\"template\""), "stored without template: %s", v);
    free(v);
}

Test(inbox, two_workers_admit_each_entry_once)
{
    const char *args[] = {"--intake-batch", "50", "--intake-interval", "0.02",
                          NULL};
    enum { N = 3000 };
    pid_t w1, w2;

    cr_assert_eq(th_genq(&t, NULL, NULL, NULL, "pause", NULL), 0);
    w1 = th_worker(&t, NULL, args);
    w2 = th_worker(&t, NULL, args);
    for (int i = 0; i < N; i += 100) {
        static char buf[100][64];
        const char *es[100];
        for (int k = 0; k < 100; k++) {
            snprintf(buf[k], sizeof(buf[k]),
                     "{\"id\":\"two-%05d\",\"prompt\":\"x\"}", i + k);
            es[k] = buf[k];
        }
        push(100, es);
    }
    wait_intake(0);
    th_stop(w1);
    th_stop(w2);
    cr_assert_eq(th_rint(&t, "HLEN %s", t.k.key[QK_JOBS]), N);
    cr_assert_eq(rnum("HGET %s enqueued", t.k.key[QK_STATS]), N);
    cr_assert_eq(rnum("HGET %s intake_duplicates", t.k.key[QK_STATS]), 0,
                 "no entry admitted twice");
}

Test(inbox, genq_enqueue_writes_the_notify_echo)
{
    const char *in =
        "{\"id\":\"n-1\",\"prompt\":\"a\",\"metadata\":{\"a\":1,\"b\":\"x\","
        "\"c\":{\"d\":[1,2]}},\"notify\":[\"c\",\"zz\",\"b\",\"b\"]}\n"
        "{\"id\":\"n-2\",\"prompt\":\"b\",\"notify\":[\"a\"]}\n"
        "{\"prompt\":\"c\",\"metadata\":{\"a\":1},\"notify\":[\"a\"]}\n";
    char *out = NULL, *err = NULL, *v;
    cJSON *o[3];
    int n;

    cr_assert_eq(th_genq(&t, in, &out, &err, "enqueue", "--json", "-", NULL), 0,
                 "%s", err);
    n = th_jsonl(out, o, 3);
    cr_assert_eq(n, 3);
    v = rstr("HGET %s n-1", t.k.notify);
    cr_assert_str_eq(v, "{\"c\":{\"d\":[1,2]},\"b\":\"x\"}",
                     "in notify order, each name once, absent names left "
                     "out, values as JSON");
    free(v);
    cr_assert_null(rstr("HGET %s n-2", t.k.notify),
                   "no metadata key named: no echo");
    v = rstr("HGET %s %s", t.k.notify, th_str(o[2], "id"));
    cr_assert_str_eq(v, "{\"a\":1}", "a job with a generated id too");
    free(v);
    th_free_objs(o, n);
    free(out);
    free(err);
}

Test(inbox, odd_entries_are_kept_readable_in_their_rejection)
{
    const char *args[] = {NULL};
    static char big[70001];
    const char *es[] = {"bad\xff\x01utf8", big, ""};
    char *out = NULL, *err = NULL;
    cJSON *o[3];
    int n;
    pid_t w;

    memset(big, 'x', sizeof(big) - 1);
    push(3, es);
    w = th_worker(&t, NULL, args);
    wait_intake(3);
    th_stop(w);
    cr_assert_eq(
        th_genq(&t, NULL, &out, &err, "rejected", "ls", "--json", NULL), 0,
        "%s", err);
    n = th_jsonl(out, o, 3);
    cr_assert_eq(n, 3);
    /* newest first: "", big, bad */
    cr_assert_str_eq(th_str(o[0], "entry"), "");
    cr_assert_eq(strlen(th_str(o[1], "entry")), 64 * 1024,
                 "a long entry is cut at 64 KiB");
    cr_assert_eq(th_num(o[1], "entry_bytes"), 70000);
    cr_assert_str_eq(th_str(o[2], "entry"), "bad\xef\xbf\xbd\x01utf8",
                     "invalid UTF-8 shown as U+FFFD");
    cr_assert(strstr(th_str(o[2], "error"), "UTF-8"), "%s",
              th_str(o[2], "error"));
    cr_assert_null(cJSON_GetObjectItem(o[0], "entry_bytes"));
    th_free_objs(o, n);
    free(out);
    free(err);
}

/* 40 jobs of ~900 KB (36 MB): more than one round's byte budget
 * (ROUND_BYTES_MAX, 32 MB), so the intake takes them in rounds that trim
 * fewer entries than they read; every one admitted once. */
Test(inbox, big_entries_are_admitted_in_rounds_under_the_byte_budget)
{
    const char *args[] = {NULL};
    enum { N = 40, SZ = 900 * 1024 };
    static char bufs[N][SZ + 64];
    const char *es[N];
    pid_t w;

    cr_assert_eq(th_genq(&t, NULL, NULL, NULL, "pause", NULL), 0);
    for (int i = 0; i < N; i++) {
        int n = snprintf(bufs[i], 64, "{\"id\":\"big-%02d\",\"prompt\":\"", i);
        memset(bufs[i] + n, 'a' + i % 26, SZ);
        memcpy(bufs[i] + n + SZ, "\"}", 3);
        es[i] = bufs[i];
    }
    push(N, es);
    w = th_worker(&t, NULL, args);
    wait_intake(0);
    th_stop(w);
    cr_assert_eq(th_rint(&t, "HLEN %s", t.k.key[QK_JOBS]), N);
    cr_assert_eq(rnum("HGET %s intake_admitted", t.k.key[QK_STATS]), N);
    cr_assert_eq(rnum("HGET %s intake_duplicates", t.k.key[QK_STATS]), 0);
    {
        /* stored whole, after the header of a queued job */
        redisReply *r = redisCommand(t.c, "HGET %s big-07", t.k.key[QK_JOBS]);
        size_t lv, le = strlen(es[7]);
        cr_assert(r && r->type == REDIS_REPLY_STRING);
        lv = strlen(r->str);
        cr_assert(lv > le && !strcmp(r->str + lv - le, es[7]) &&
                  r->str[lv - le - 1] == '\n' &&
                  !strncmp(r->str, "queued|", 7));
        freeReplyObject(r);
    }
}

/* genq rejected purge --before when --yes --json: exit 0, that many
 * purged. */
static void
purge_before(const char *when, int purged)
{
    char *out, *err, want[64];

    cr_assert_eq(th_genq(&t, NULL, &out, &err, "rejected", "purge", "--before",
                         when, "--yes", "--json", NULL),
                 0, "%s", err);
    snprintf(want, sizeof(want), "{\"purged\":%d}\n", purged);
    cr_assert_str_eq(out, want);
    free(out);
    free(err);
}

/* purge --before T drops only the rejections older than T (the list's
 * tail), and words a bad time. */
Test(inbox, rejected_purge_before_keeps_the_newer)
{
    char *out = NULL, *err = NULL, *left;

    rcmd("LPUSH %s %s %s %s", t.k.rejected,
         "{\"v\":1,\"entry\":\"a\",\"field\":\"\",\"error\":\"x\","
         "\"rejected_at\":\"2026-01-01T00:00:00Z\",\"worker\":\"w\"}",
         "{\"v\":1,\"entry\":\"b\",\"field\":\"\",\"error\":\"x\","
         "\"rejected_at\":\"2026-02-01T00:00:00Z\",\"worker\":\"w\"}",
         "{\"v\":1,\"entry\":\"c\",\"field\":\"\",\"error\":\"x\","
         "\"rejected_at\":\"2026-12-01T00:00:00Z\",\"worker\":\"w\"}");
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "rejected", "purge", "--before",
                         "2026-13-01", "--yes", NULL),
                 2);
    cr_assert(strstr(err, "--before") && strstr(err, "2026-13-01"), "%s", err);
    free(out);
    free(err);
    purge_before("2026-03-01T00:00:00Z", 2);
    cr_assert_eq(th_rint(&t, "LLEN %s", t.k.rejected), 1);
    left = rstr("LINDEX %s 0", t.k.rejected);
    cr_assert(strstr(left, "\"entry\":\"c\""), "%s", left);
    free(left);
    purge_before("2026-03-01T00:00:00Z", 0);
}
