/* The lean form of enqueue.lua (enqueue-tool/enqueue_lean.c): a batch of
 * jobs with ids and nothing else, of one priority, goes as (id, stored
 * value) pairs; what they store, the duplicates they report, batches it
 * cannot take, and the script's own checks of its arguments. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <criterion/criterion.h>

#include "harness.h"
#include "rclient.h"

TH_SUITE(enqueue_lean, .timeout = 60);

/* The stored value of job id (the jobs hash), or "" (static buffer). */
static const char *
stored(const char *id)
{
    static char v[512];
    redisReply *r = redisCommand(t.c, "HGET %s %s", t.k.key[QK_JOBS], id);

    cr_assert(r);
    snprintf(v, sizeof(v), "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
    return v;
}

/* Lines with ids and nothing else, of one priority: the lean form (the
 * max_attempts of each job in its own header). */
Test(enqueue_lean, jobs_with_ids_duplicates_and_known_ids)
{
    const char *in =
        "{\"id\":\"a1\",\"prompt\":\"a\"}\n"
        "{\"id\":\"a2\",\"prompt\":\"b\",\"max_attempts\":7}\n"
        "{\"id\":\"a1\",\"prompt\":\"again\"}\n"  /* same call: duplicate */
        "{\"id\":\"old\",\"prompt\":\"known\"}\n" /* enqueued before */
        "{\"id\":\"a3\",\"prompt\":\"c\"}\n";
    char *out, *err, st[64];
    cJSON *o[8];
    int n;

    th_enqueue(&t, "old", 1, 0, 0, NULL, "{\"prompt\":\"first\"}");
    cr_assert_eq(th_genq(&t, in, &out, &err, "enqueue", "--json", "-", NULL), 0,
                 "%s", err);
    n = th_jsonl(out, o, 8);
    cr_assert_eq(n, 5, "one report per line");
    th_assert_each(o, "status", "enqueued", "enqueued", "duplicate",
                   "duplicate", "enqueued", NULL);
    th_assert_each(o, "id", "a1", "a2", "a1", "old", "a3", NULL);
    th_free_objs(o, n);
    /* a duplicate overwrites nothing */
    cr_assert(strstr(stored("a1"), "\"prompt\":\"a\""), "%s", stored("a1"));
    cr_assert(strstr(stored("old"), "first"), "%s", stored("old"));
    /* ready jobs carry their meta record as the header of the value */
    cr_assert_eq(strncmp(stored("a1"), "queued|0|0|1|||", 15), 0, "%s",
                 stored("a1"));
    cr_assert_eq(strncmp(stored("a2"), "queued|0|7|1|||", 15), 0, "%s",
                 stored("a2"));
    cr_assert_eq(th_rint(&t, "LLEN %s", t.k.key[QK_READY]), 4, "old a1 a2 a3");
    cr_assert_eq(th_rint(&t, "HINCRBY %s enqueued 0", t.k.key[QK_STATS]), 4);
    cr_assert_str_eq(th_state(&t, "a3", st, NULL), "queued");
    free(out);
    free(err);

    /* claimed in order, with the max_attempts each was sent with */
    redisReply *c = th_claim(&t, "w", 10, 60000, 3);
    cr_assert_eq(c->elements, 1 + 4 * 4, "every ready job: %zu", c->elements);
    cr_assert_str_eq(c->element[1]->str, "old", "oldest first");
    freeReplyObject(c);
    redisReply *m = redisCommand(t.c, "HGET %s a2", t.k.key[QK_META]);
    cr_assert(m && m->type == REDIS_REPLY_STRING);
    cr_assert_eq(strncmp(m->str, "active|1|7|", 11), 0, "%s", m->str);
    freeReplyObject(m);
}

/* A batch the lean form cannot take (priorities, an idempotency key, a
 * delay among the jobs with ids) goes in the general form, whole. */
Test(enqueue_lean, mixed_batches_go_in_the_general_form)
{
    const char *in =
        "{\"id\":\"b1\",\"prompt\":\"a\"}\n"
        "{\"id\":\"h1\",\"prompt\":\"h\",\"priority\":\"high\"}\n"
        "{\"id\":\"b1\",\"prompt\":\"again\"}\n"
        "{\"id\":\"k1\",\"prompt\":\"k\",\"idempotency_key\":\"ik\"}\n"
        "{\"id\":\"d1\",\"prompt\":\"d\",\"delay_s\":60}\n"
        "{\"id\":\"l1\",\"prompt\":\"l\",\"priority\":\"low\"}\n";
    char *out, *err, st[64];
    cJSON *o[8];
    int n;

    cr_assert_eq(th_genq(&t, in, &out, &err, "enqueue", "--json", "-", NULL), 0,
                 "%s", err);
    n = th_jsonl(out, o, 8);
    cr_assert_eq(n, 6);
    th_assert_each(o, "status", "enqueued", "enqueued", "duplicate", "enqueued",
                   "enqueued", "enqueued", NULL);
    th_free_objs(o, n);
    cr_assert_eq(th_rint(&t, "LLEN %s", t.k.key[QK_READY_HIGH]), 1);
    cr_assert_eq(th_rint(&t, "LLEN %s", t.k.key[QK_READY]), 2, "b1 k1");
    cr_assert_eq(th_rint(&t, "LLEN %s", t.k.key[QK_READY_LOW]), 1);
    cr_assert_str_eq(th_state(&t, "d1", st, NULL), "delayed");
    free(out);
    free(err);
}

/* The lean form called directly: the values stored as sent, 1 or 0 per
 * job in order. */
Test(enqueue_lean, script_stores_values_as_sent)
{
    redisReply *r;

    th_enqueue(&t, "known", 2, 0, 0, NULL, "{\"prompt\":\"k\"}");
    r = th_script(&t, SCRIPT_ENQUEUE, "86400", "L", "4", "2", "x1",
                  "queued|0|0|2|||5|5|\n{\"prompt\":\"1\"}", "known",
                  "queued|0|0|2|||5|5|\n{\"prompt\":\"2\"}", "x1",
                  "queued|0|0|2|||5|5|\n{\"prompt\":\"3\"}", "x2",
                  "queued|0|0|2|||5|5|\n{\"prompt\":\"4\"}", NULL);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 4);
    cr_assert_eq(r->element[0]->integer, 1);
    cr_assert_eq(r->element[1]->integer, 0, "known");
    cr_assert_eq(r->element[2]->integer, 0, "earlier in the call");
    cr_assert_eq(r->element[3]->integer, 1);
    freeReplyObject(r);
    cr_assert_str_eq(stored("x1"), "queued|0|0|2|||5|5|\n{\"prompt\":\"1\"}");
    cr_assert_str_eq(stored("x2"), "queued|0|0|2|||5|5|\n{\"prompt\":\"4\"}");
    cr_assert_eq(th_rint(&t, "LLEN %s", t.k.key[QK_READY_LOW]), 3,
                 "known x1 x2");
}

/* A call whose count does not match its arguments, or with a bad
 * priority, is refused with a clear error and writes nothing. */
Test(enqueue_lean, bad_arguments_are_refused)
{
    const char *bad[][8] = {
        {"86400", "L", "2", "1", "x", "{}", NULL}, /* one pair short */
        {"86400", "L", "1", "5", "x", "{}", NULL}, /* priority 5 */
        {"86400", "L", "1", "high", "x", "{}", NULL},
        {"86400", "L", "n", "1", "x", "{}", NULL},
    };
    char err[512];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int n = 0;
        while (bad[i][n])
            n++;
        redisReply *r = rclient_script(t.c, SCRIPT_ENQUEUE, &t.k, n, bad[i],
                                       NULL, err, sizeof(err));
        cr_assert(r == NULL || r->type == REDIS_REPLY_ERROR, "case %zu", i);
        if (r) {
            cr_assert(strstr(r->str, "enqueue"), "%s", r->str);
            freeReplyObject(r);
        } else {
            cr_assert(strstr(err, "enqueue"), "case %zu: %s", i, err);
        }
    }
    cr_assert_eq(th_rint(&t, "HLEN %s", t.k.key[QK_JOBS]), 0);
}
