/* `genq pause` / `resume` and `genq cancel` against a real Redis: cancel of
 * queued, delayed and active jobs (then failing, reaped or succeeding). */
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

TH_SUITE(cancel, .timeout = 90);

Test(cancel, pause_and_resume)
{
    char *out, *err;
    redisReply *r;

    th_enqueue(&t, "p1", 1, 0, 0, NULL, "{\"prompt\":\"x\"}");
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "pause", "--json", NULL), 0,
                 "%s", err);
    cr_assert(strstr(out, "\"paused\":true,\"changed\":true"), "%s", out);
    free(out);
    free(err);
    r = th_claim(&t, "w-ops", 10, 60000, 5);
    cr_assert_str_eq(r->element[0]->str, "paused");
    freeReplyObject(r);
    cr_assert_eq(th_genq(&t, NULL, &out, NULL, "pause", NULL), 0);
    cr_assert(strstr(out, "already paused"), "%s", out);
    free(out);
    cr_assert_eq(th_genq(&t, NULL, &out, NULL, "resume", "--json", NULL), 0);
    cr_assert(strstr(out, "\"paused\":false,\"changed\":true"), "%s", out);
    free(out);
    r = th_claim(&t, "w-ops", 10, 60000, 5);
    cr_assert_eq(r->elements, 5, "claims again");
    freeReplyObject(r);
    cr_assert_eq(th_genq(&t, NULL, NULL, NULL, "pause", "a", "b", NULL), 2);
    cr_assert_eq(th_genq(&t, NULL, NULL, NULL, "pause", "bad name!", NULL), 1);
}

Test(cancel, cancel_queued_delayed_and_active)
{
    char *out, *err, st[64], e[256];
    redisReply *r, *f;
    cJSON *o[8];
    int att;

    th_enqueue(&t, "cq", 1, 0, 0, NULL, "{\"prompt\":\"q\"}");
    th_enqueue(&t, "cd", 1, 60000, 0, NULL, "{\"prompt\":\"d\"}");
    th_enqueue(&t, "ca", 1, 0, 0, NULL, "{\"prompt\":\"a\"}");
    /* claim the oldest ready (cq would come first: claim it, then put the
     * others in order) */
    r = th_claim(&t, "w-ops", 2, 60000, 5); /* cq, ca */
    cr_assert_eq(r->elements, 9);
    /* cq back to queued: fail it with requeue */
    f = th_script(&t, SCRIPT_FAIL, "cq", r->element[2]->str, "requeue", "0",
                  "{\"class\":\"not_job_fault\",\"http_status\":429,\"type\":"
                  "null,\"message\":\"x\",\"request_id\":null}",
                  NULL);
    freeReplyObject(f);
    cr_assert_str_eq(th_state(&t, "cq", st, NULL), "queued");

    cr_assert_eq(th_genq(&t, NULL, &out, &err, "cancel", "--json", "cq", "cd",
                         "ca", "nope", NULL),
                 1, "an unknown id makes exit 1");
    cr_assert_eq(th_jsonl(out, o, 8), 4);
    th_assert_each(o, "outcome", "canceled", "canceled", "requested", "unknown",
                   NULL);
    cr_assert_str_eq(th_str(o[2], "state"), "active");
    th_free_objs(o, 4);
    free(out);
    free(err);
    cr_assert_str_eq(th_state(&t, "cq", st, NULL), "canceled");
    cr_assert_str_eq(th_state(&t, "cd", st, NULL), "canceled");
    cr_assert_eq(th_rint(&t, "ZCARD %s", t.k.key[QK_DELAYED]), 0,
                 "out of the delayed set");
    {
        redisReply *l = redisCommand(t.c, "LLEN %s", t.k.key[QK_READY]);
        cr_assert_eq(l->integer, 0, "out of the ready list");
        freeReplyObject(l);
    }
    cr_assert_eq(th_rint(&t, "ZCARD %s", t.k.key[QK_DONE]), 2,
                 "retention like results");

    /* the flagged active job fails with a retryable error: canceled */
    f = th_script(&t, SCRIPT_FAIL, "ca", r->element[6]->str, "retry", "1000",
                  "{\"class\":\"transient\",\"http_status\":500,\"type\":null,"
                  "\"message\":\"boom\",\"request_id\":null}",
                  NULL);
    cr_assert_str_eq(f->element[0]->str, "canceled");
    freeReplyObject(f);
    freeReplyObject(r);
    cr_assert_str_eq(th_state(&t, "ca", st, &att), "canceled");
    cr_assert_eq(th_rint(&t, "ZCARD %s", t.k.key[QK_DELAYED]), 0,
                 "not retried");
    cr_assert_eq(th_rint(&t, "ZCARD %s", t.k.key[QK_DONE]), 3);
    r = th_script(&t, SCRIPT_INSPECT, "0", "0", "ca", NULL);
    cr_assert(strstr(r->element[4]->str, "\"canceled\""), "%s",
              r->element[4]->str);
    cr_assert(strstr(r->element[5]->str, "\"outcome\":\"canceled\""));
    cr_assert(strstr(r->element[5]->str, "boom"), "the attempt's error kept");
    freeReplyObject(r);

    /* flagged, then it succeeds: the result is kept */
    th_enqueue(&t, "cs", 1, 0, 0, NULL, "{\"prompt\":\"s\"}");
    r = th_claim(&t, "w-ops", 1, 60000, 5);
    cr_assert_eq(th_genq(&t, NULL, &out, NULL, "cancel", "cs", NULL), 0);
    cr_assert(strstr(out, "cancel requested"), "%s", out);
    free(out);
    f = th_script(&t, SCRIPT_COMPLETE, "60000", "cs", r->element[2]->str,
                  "{\"id\":\"cs\"}", NULL);
    cr_assert_eq(f->element[0]->integer, 1);
    freeReplyObject(f);
    freeReplyObject(r);
    cr_assert_str_eq(th_state(&t, "cs", st, NULL), "succeeded");

    /* flagged, then its lease expires: canceled, not requeued */
    th_enqueue(&t, "cl", 1, 0, 0, NULL, "{\"prompt\":\"l\"}");
    r = th_claim(&t, "w-ops", 1, 50, 5);
    freeReplyObject(r);
    cr_assert_eq(th_genq(&t, NULL, NULL, NULL, "cancel", "cl", NULL), 0);
    th_sleep_ms(100);
    freeReplyObject(th_script(&t, SCRIPT_MAINTAIN, NULL));
    cr_assert_str_eq(th_state(&t, "cl", st, NULL), "canceled");
    r = th_claim(&t, "w-ops", 5, 60000, 5);
    cr_assert_eq(r->elements, 1, "nothing requeued");
    freeReplyObject(r);

    /* finished jobs are left alone */
    cr_assert_eq(th_genq(&t, NULL, &out, NULL, "cancel", "cs", NULL), 1);
    cr_assert(strstr(out, "already succeeded"), "%s", out);
    free(out);
    /* a requeue-kind failure of a flagged job cancels too */
    th_enqueue(&t, "cr", 1, 0, 0, NULL, "{\"prompt\":\"r\"}");
    r = th_claim(&t, "w-ops", 1, 60000, 5);
    cr_assert_eq(th_genq(&t, NULL, NULL, NULL, "cancel", "cr", NULL), 0);
    th_err_json(e, sizeof(e), "not_job_fault", 429, "slow down");
    f = th_script(&t, SCRIPT_FAIL, "cr", r->element[2]->str, "requeue", "0", e,
                  NULL);
    cr_assert_str_eq(f->element[0]->str, "canceled");
    freeReplyObject(f);
    freeReplyObject(r);
    cr_assert_eq(th_genq(&t, NULL, NULL, NULL, "cancel", NULL), 2);
}
