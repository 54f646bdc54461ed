/* The lean form of enqueue.lua (enqueue-tool/enqueue_lean.c): jobs with
 * ids and nothing else but a priority and max_attempts go as (id, stored
 * value) pairs in calls of one priority and max_attempts each; what they store,
 * the duplicates they report, the jobs of other forms between them, and
 * the script's own checks of its arguments. */
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

Test(enqueue_lean, classes_duplicates_and_other_forms_in_one_file)
{
    const char *in =
        "{\"id\":\"a1\",\"prompt\":\"a\"}\n"
        "{\"id\":\"h1\",\"prompt\":\"h\",\"priority\":\"high\"}\n"
        "{\"id\":\"a2\",\"prompt\":\"b\",\"max_attempts\":7}\n"
        "{\"id\":\"a1\",\"prompt\":\"again\"}\n"      /* same id: duplicate */
        "{\"id\":\"k1\",\"prompt\":\"k\",\"idempotency_key\":\"ik\"}\n"
        "{\"id\":\"d1\",\"prompt\":\"d\",\"delay_s\":60}\n"
        "{\"id\":\"old\",\"prompt\":\"known\"}\n"     /* enqueued before */
        "{\"id\":\"l1\",\"prompt\":\"l\",\"priority\":\"low\"}\n"
        "{\"id\":\"a3\",\"prompt\":\"c\"}\n"
        "{\"id\":\"a3\",\"prompt\":\"c2\"}\n"   /* same call: duplicate */
        "{\"id\":\"a4\",\"prompt\":\"e\"}\n";
    char *out, *err, st[64];
    cJSON *o[16];
    int n;

    th_enqueue(&t, "old", 1, 0, 0, NULL, "{\"prompt\":\"first\"}");
    cr_assert_eq(th_genq(&t, in, &out, &err, "enqueue", "--json", "-", NULL),
                 0, "%s", err);
    n = th_jsonl(out, o, 16);
    cr_assert_eq(n, 11, "one report per line");
    th_assert_each(o, "status", "enqueued", "enqueued", "enqueued",
                   "duplicate", "enqueued", "enqueued", "duplicate",
                   "enqueued", "enqueued", "duplicate", "enqueued", NULL);
    th_assert_each(o, "id", "a1", "h1", "a2", "a1", "k1", "d1", "old", "l1",
                   "a3", "a3", "a4", NULL);
    th_free_objs(o, n);
    /* the duplicate did not overwrite the first job, nor the known one */
    cr_assert(strstr(stored("a1"), "\"prompt\":\"a\""), "%s", stored("a1"));
    cr_assert(strstr(stored("old"), "first"), "%s", stored("old"));
    cr_assert(strstr(stored("a3"), "\"prompt\":\"c\""), "%s", stored("a3"));
    cr_assert(strstr(stored("a4"), "\"prompt\":\"e\""), "%s", stored("a4"));
    /* ready jobs carry their meta record as the header of the value */
    cr_assert_eq(strncmp(stored("a1"), "queued|0|0|1|||", 15), 0, "%s",
                 stored("a1"));
    cr_assert_eq(strncmp(stored("a2"), "queued|0|7|1|||", 15), 0, "%s",
                 stored("a2"));
    cr_assert_eq(strncmp(stored("h1"), "queued|0|0|0|||", 15), 0, "%s",
                 stored("h1"));
    cr_assert_eq(strncmp(stored("l1"), "queued|0|0|2|||", 15), 0, "%s",
                 stored("l1"));
    cr_assert_eq(th_rint(&t, "LLEN %s", t.k.key[QK_READY_HIGH]), 1);
    cr_assert_eq(th_rint(&t, "LLEN %s", t.k.key[QK_READY]), 6,
                 "old a1 a2 k1 a3 a4");
    cr_assert_eq(th_rint(&t, "LLEN %s", t.k.key[QK_READY_LOW]), 1);
    cr_assert_str_eq(th_state(&t, "d1", st, NULL), "delayed");
    cr_assert_str_eq(th_state(&t, "a3", st, NULL), "queued");
    cr_assert_eq(th_rint(&t, "HINCRBY %s enqueued 0", t.k.key[QK_STATS]), 9);
    free(out);
    free(err);

    /* claimed in order, with the max_attempts each was sent with */
    redisReply *c = th_claim(&t, "w", 10, 60000, 3);
    int seen7 = 0;
    cr_assert_eq(c->elements, 1 + 4 * 8, "every ready job: %zu", c->elements);
    cr_assert_str_eq(c->element[1]->str, "h1", "high first");
    freeReplyObject(c);
    redisReply *m = redisCommand(t.c, "HGET %s a2", t.k.key[QK_META]);
    cr_assert(m && m->type == REDIS_REPLY_STRING);
    seen7 = strncmp(m->str, "active|1|7|", 11) == 0;
    cr_assert(seen7, "%s", m->str);
    freeReplyObject(m);
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
