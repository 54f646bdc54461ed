/* Every edge of the job lifecycle, against a real redis-server, through the
 * Lua scripts the worker and `genq` use: enqueue, claim, extend, complete,
 * fail (retry / dead / requeue), reap, promote, retention, pause. */
#include "fmacros.h"

#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "rclient.h"

TH_SUITE(lifecycle, .timeout = 30);

/* Claim up to n jobs with visibility vis_ms; returns the reply. */
static redisReply *
claim(int n, long vis_ms, int max_attempts)
{
    return th_claim(&t, "w-test", n, vis_ms, max_attempts);
}

/* Claim exactly one job: copies its id and token out; returns attempts. */
static int
claim_one(long vis_ms, char *id, char *tok)
{
    redisReply *r = claim(1, vis_ms, 5);
    int att;

    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 5, "expected one job, got %zu elements",
                 r->elements);
    strcpy(id, r->element[1]->str);
    strcpy(tok, r->element[2]->str);
    att = (int)r->element[3]->integer;
    freeReplyObject(r);
    return att;
}

static int
claim_none(void)
{
    redisReply *r = claim(10, 60000, 5);
    int n = (int)r->elements;
    freeReplyObject(r);
    return n == 1;
}

static long long
int_reply(redisReply *r, size_t i)
{
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->element[i]->type, REDIS_REPLY_INTEGER);
    return r->element[i]->integer;
}

static void
maintain(void)
{
    freeReplyObject(th_script(&t, SCRIPT_MAINTAIN, NULL));
}

/* Fail the held job id (token tok): mode ("retry", "dead", "requeue"),
 * delay in ms and the error document as fail.lua takes them; assert its
 * verdict is want. */
static void
fail_job(const char *id, const char *tok, const char *mode, const char *delay,
         const char *errdoc, const char *want)
{
    redisReply *r =
        th_script(&t, SCRIPT_FAIL, id, tok, mode, delay, errdoc, NULL);

    cr_assert_str_eq(r->element[0]->str, want, "fail %s as %s", id, mode);
    freeReplyObject(r);
}

/* Assert job id is in state want after that many counted attempts (-1:
 * any number). */
static void
expect_state(const char *id, const char *want, int attempts)
{
    char st[64];
    int att;

    cr_assert_str_eq(th_state(&t, id, st, &att), want, "job %s", id);
    if (attempts != -1)
        cr_assert_eq(att, attempts, "job %s in %s", id, want);
}

Test(lifecycle, enqueue_claim_complete_stores_result)
{
    char id[128], tok[32];
    redisReply *r;

    th_enqueue(&t, "j1", 1, 0, 0, NULL, "{\"prompt\":\"hi\"}");
    expect_state("j1", "queued", -1);
    cr_assert_eq(claim_one(60000, id, tok), 1);
    cr_assert_str_eq(id, "j1");
    expect_state("j1", "active", -1);
    r = th_script(&t, SCRIPT_COMPLETE, "60000", "j1", tok,
                  "{\"id\":\"j1\",\"text\":\"done\"}", NULL);
    cr_assert_eq(int_reply(r, 0), 1);
    freeReplyObject(r);
    expect_state("j1", "succeeded", -1);
    r = th_script(&t, SCRIPT_INSPECT, "0", "1", "j1", NULL);
    cr_assert_str_eq(r->element[7]->str, "{\"id\":\"j1\",\"text\":\"done\"}");
    freeReplyObject(r);
    /* a second completion of a finished job is refused */
    r = th_script(&t, SCRIPT_COMPLETE, "60000", "j1", tok, "{\"x\":1}", NULL);
    cr_assert_eq(int_reply(r, 0), 0);
    freeReplyObject(r);
    cr_assert(claim_none(), "nothing left to claim");
}

Test(lifecycle, stale_token_cannot_extend_or_complete)
{
    char id[128], t1[32], t2[32];
    redisReply *r;

    th_enqueue(&t, "f1", 1, 0, 0, NULL, "{\"prompt\":\"x\"}");
    cr_assert_eq(claim_one(50, id, t1), 1);
    th_sleep_ms(120);
    maintain(); /* reaps the expired lease: back to ready */
    expect_state("f1", "queued", 1);
    cr_assert_eq(claim_one(60000, id, t2), 2);
    cr_assert_str_neq(t1, t2, "every claim gets a fresh lease token");

    r = th_script(&t, SCRIPT_EXTEND, "60000", "f1", t1, "-1", NULL);
    cr_assert_eq(int_reply(r, 0), 0, "stale holder cannot extend");
    freeReplyObject(r);
    r = th_script(&t, SCRIPT_COMPLETE, "60000", "f1", t1, "{\"late\":true}",
                  NULL);
    cr_assert_eq(int_reply(r, 0), 0, "stale holder cannot complete");
    freeReplyObject(r);
    fail_job("f1", t1, "dead", "0",
             "{\"class\":\"permanent\",\"message\":\"x\"}", "stale");
    r = th_script(&t, SCRIPT_INSPECT, "0", "1", "f1", NULL);
    cr_assert_eq(r->element[7]->type, REDIS_REPLY_NIL,
                 "the late result was not written");
    freeReplyObject(r);

    r = th_script(&t, SCRIPT_EXTEND, "60000", "f1", t2, "17", NULL);
    cr_assert_eq(int_reply(r, 0), 1, "current holder extends");
    freeReplyObject(r);
    r = th_script(&t, SCRIPT_INSPECT, "0", "0", "f1", NULL);
    cr_assert_str_eq(r->element[3]->str, "17", "progress stored");
    cr_assert_eq(r->element[1]->type, REDIS_REPLY_STRING, "lease present");
    freeReplyObject(r);
    r = th_script(&t, SCRIPT_COMPLETE, "60000", "f1", t2, "{\"ok\":true}",
                  NULL);
    cr_assert_eq(int_reply(r, 0), 1);
    freeReplyObject(r);
    expect_state("f1", "succeeded", -1);
    r = redisCommand(t.c, "HEXISTS %s f1", t.k.key[QK_PROGRESS]);
    cr_assert(r && r->type == REDIS_REPLY_INTEGER && r->integer == 0,
              "a completed job's progress is deleted");
    freeReplyObject(r);
    r = th_script(&t, SCRIPT_EXTEND, "60000", "f1", t2, "-1", NULL);
    cr_assert_eq(int_reply(r, 0), 0, "a finished job's lease is gone");
    freeReplyObject(r);
    r = redisCommand(t.c, "ZSCORE %s f1", t.k.key[QK_LEASES]);
    cr_assert(r && r->type == REDIS_REPLY_NIL, "no lease re-added");
    freeReplyObject(r);
}

Test(lifecycle, lease_expiry_reclaims_then_dead_lease_expired)
{
    char id[128], tok[32];
    redisReply *r;

    th_enqueue(&t, "le", 1, 0, 2, NULL, "{\"prompt\":\"x\"}");
    cr_assert_eq(claim_one(30, id, tok), 1);
    th_sleep_ms(80);
    /* the claim script reaps too: the job comes straight back */
    cr_assert_eq(claim_one(30, id, tok), 2);
    th_sleep_ms(80);
    maintain();
    expect_state("le", "dead", 2);
    r = th_script(&t, SCRIPT_INSPECT, "0", "0", "le", NULL);
    cr_assert(strstr(r->element[4]->str, "\"class\":\"lease_expired\""),
              "last_error: %s", r->element[4]->str);
    cr_assert(strstr(r->element[5]->str, "lease_expired"));
    cr_assert_eq(r->element[8]->type, REDIS_REPLY_STRING, "in the dead set");
    freeReplyObject(r);
    cr_assert(claim_none(), "a dead job is never claimed");
}

Test(lifecycle, idempotency_key_and_duplicate_id)
{
    redisReply *r;
    const char *a;

    a = th_enqueue(&t, "i1", 1, 0, 0, "article-42", "{\"prompt\":\"x\"}");
    cr_assert_str_eq(a, "i1");
    r = th_script(&t, SCRIPT_ENQUEUE, "86400", "2", "i2", "1", "0", "0", "0",
                  "article-42", "{\"prompt\":\"y\"}", "i1", "1", "0", "0", "0",
                  "", "{\"prompt\":\"z\"}", NULL);
    cr_assert_str_eq(r->element[0]->element[0]->str, "duplicate");
    cr_assert_str_eq(r->element[0]->element[1]->str, "i1",
                     "the duplicate names the existing job");
    cr_assert_str_eq(r->element[1]->element[0]->str, "duplicate",
                     "a known id is a duplicate");
    freeReplyObject(r);
    /* a duplicate inside one batch */
    r = th_script(&t, SCRIPT_ENQUEUE, "86400", "2", "i3", "1", "0", "0", "0",
                  "", "{\"prompt\":\"y\"}", "i3", "1", "0", "0", "0", "",
                  "{\"prompt\":\"y\"}", NULL);
    cr_assert_str_eq(r->element[0]->element[0]->str, "enqueued");
    cr_assert_str_eq(r->element[1]->element[0]->str, "duplicate");
    freeReplyObject(r);
    r = claim(10, 60000, 5);
    cr_assert_eq(r->elements, 1 + 2 * 4, "exactly i1 and i3 are queued");
    freeReplyObject(r);
}

Test(lifecycle, priorities_then_fifo)
{
    const char *order[] = {"h1", "h2", "n1", "n2", "l1"};
    char id[128], tok[32];

    th_enqueue(&t, "l1", 2, 0, 0, NULL, "{\"prompt\":\"x\"}");
    th_enqueue(&t, "n1", 1, 0, 0, NULL, "{\"prompt\":\"x\"}");
    th_enqueue(&t, "h1", 0, 0, 0, NULL, "{\"prompt\":\"x\"}");
    th_enqueue(&t, "n2", 1, 0, 0, NULL, "{\"prompt\":\"x\"}");
    th_enqueue(&t, "h2", 0, 0, 0, NULL, "{\"prompt\":\"x\"}");
    for (int i = 0; i < 5; i++) {
        claim_one(60000, id, tok);
        cr_assert_str_eq(id, order[i], "claim %d", i);
    }
}

Test(lifecycle, delayed_job_runs_when_due)
{
    char id[128], tok[32];

    th_enqueue(&t, "d1", 1, 300, 0, NULL, "{\"prompt\":\"x\"}");
    expect_state("d1", "delayed", -1);
    cr_assert(claim_none(), "not due yet");
    th_sleep_ms(350);
    cr_assert_eq(claim_one(60000, id, tok), 1);
    cr_assert_str_eq(id, "d1");
}

/* claim.lua runs reap and promote (transitions.lua, defined only when one
 * has work: common/scripts.c) for an expired lease and a due delayed job
 * found by the same call, and neither when nothing is due. */
Test(lifecycle, one_claim_reaps_and_promotes_together)
{
    char id[128], tok[32];
    redisReply *r;
    int seen = 0;

    th_enqueue(&t, "rp1", 1, 0, 0, NULL, "{\"prompt\":\"x\"}");
    cr_assert_eq(claim_one(30, id, tok), 1);
    th_enqueue(&t, "dp1", 1, 50, 0, NULL, "{\"prompt\":\"x\"}");
    cr_assert(claim_none(), "neither due yet");
    expect_state("dp1", "delayed", -1);
    th_sleep_ms(120);
    /* (a visibility of 30 ms: reap's restart grace is one visibility) */
    r = claim(10, 30, 5);
    cr_assert_eq(r->elements, 1 + 2 * 4, "both in one call");
    for (size_t i = 1; i + 3 < r->elements; i += 4) {
        if (!strcmp(r->element[i]->str, "rp1")) {
            cr_assert_eq(r->element[i + 2]->integer, 2, "reaped: attempt 2");
            seen |= 1;
        } else if (!strcmp(r->element[i]->str, "dp1")) {
            cr_assert_eq(r->element[i + 2]->integer, 1, "promoted: attempt 1");
            seen |= 2;
        }
    }
    cr_assert_eq(seen, 3);
    freeReplyObject(r);
}

Test(lifecycle, run_at_in_the_past_is_immediate)
{
    redisReply *r = th_script(&t, SCRIPT_ENQUEUE, "86400", "1", "p1", "1",
                              "1000", "0", "0", "", "{\"prompt\":\"x\"}", NULL);
    freeReplyObject(r);
    expect_state("p1", "queued", -1);
}

Test(lifecycle, fail_retry_backoff_then_exhausted)
{
    char id[128], tok[32];
    redisReply *r;

    th_enqueue(&t, "r1", 1, 0, 2, NULL, "{\"prompt\":\"x\"}");
    claim_one(60000, id, tok);
    fail_job("r1", tok, "retry", "150",
             "{\"class\":\"transient\",\"http_status\":500,\"message\":"
             "\"boom\"}",
             "delayed");
    expect_state("r1", "delayed", -1);
    cr_assert(claim_none(), "backoff not over");
    th_sleep_ms(200);
    cr_assert_eq(claim_one(60000, id, tok), 2);
    fail_job("r1", tok, "retry", "150",
             "{\"class\":\"transient\",\"http_status\":500,\"message\":"
             "\"boom again\"}",
             "dead");
    expect_state("r1", "dead", 2);
    r = th_script(&t, SCRIPT_INSPECT, "0", "0", "r1", NULL);
    cr_assert(strstr(r->element[4]->str, "\"class\":\"exhausted\""), "%s",
              r->element[4]->str);
    cr_assert(strstr(r->element[4]->str, "boom again"));
    cr_assert(strstr(r->element[5]->str, "\"outcome\":\"retry\""),
              "history keeps the first attempt");
    freeReplyObject(r);
}

Test(lifecycle, permanent_error_dead_at_once)
{
    char id[128], tok[32];
    redisReply *r;

    th_enqueue(&t, "p1", 1, 0, 5, NULL, "{\"prompt\":\"x\"}");
    claim_one(60000, id, tok);
    fail_job("p1", tok, "dead", "0",
             "{\"class\":\"permanent\",\"http_status\":400,\"type\":"
             "\"invalid_request_error\",\"message\":\"bad\","
             "\"request_id\":\"req_1\"}",
             "dead");
    expect_state("p1", "dead", -1);
    r = th_script(&t, SCRIPT_INSPECT, "0", "0", "p1", NULL);
    cr_assert(strstr(r->element[4]->str, "\"request_id\":\"req_1\""));
    freeReplyObject(r);
}

Test(lifecycle, requeue_does_not_count_the_attempt)
{
    char id[128], tok[32];
    const char *order[] = {"q1", "q2", "q1", "q2", "q1", "q2"};

    th_enqueue(&t, "q1", 1, 0, 1, NULL, "{\"prompt\":\"x\"}");
    th_enqueue(&t, "q2", 1, 0, 1, NULL, "{\"prompt\":\"x\"}");
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(claim_one(60000, id, tok), 1, "attempt stays 1");
        cr_assert_str_eq(id, order[i],
                         "a requeued job goes to the end of the line");
        fail_job(id, tok, "requeue", "0",
                 "{\"class\":\"not_job_fault\",\"http_status\":401,"
                 "\"message\":\"bad key\"}",
                 "queued");
    }
    expect_state("q1", "queued", 0);
}

Test(lifecycle, throttles_count_every_tenth_time)
{
    char id[128], tok[32];
    redisReply *r;

    th_enqueue(&t, "th", 1, 0, 2, NULL, "{\"prompt\":\"x\"}");
    for (int i = 1; i <= 20; i++) {
        claim_one(60000, id, tok);
        r = th_script(&t, SCRIPT_FAIL, "th", tok, "throttle", "0",
                      "{\"class\":\"not_job_fault\",\"http_status\":429,"
                      "\"message\":\"rate limited\"}",
                      NULL);
        if (i < 10) {
            cr_assert_str_eq(r->element[0]->str, "queued", "throttle %d", i);
            expect_state("th", "queued", 0);
        } else if (i == 10) {
            cr_assert_str_eq(r->element[0]->str, "delayed",
                             "the 10th counts as a failed attempt");
        } else if (i == 20) {
            cr_assert_str_eq(r->element[0]->str, "dead",
                             "a job the API always refuses ends dead");
        }
        freeReplyObject(r);
    }
    expect_state("th", "dead", 2);
}

Test(lifecycle, release_hands_back_jobs_of_a_lost_claim)
{
    char id[128], tok[32];
    redisReply *r;

    th_enqueue(&t, "l1", 1, 0, 0, NULL, "{\"prompt\":\"x\"}");
    th_enqueue(&t, "l2", 1, 0, 0, NULL, "{\"prompt\":\"x\"}");
    claim_one(60000, id, tok); /* l1: the worker holds this one */
    {
        char t2[32], i2[128];
        claim_one(60000, i2, t2); /* l2: this reply was "lost" */
    }
    r = th_script(&t, SCRIPT_RELEASE, "w-test", tok, NULL);
    cr_assert_eq(r->integer, 1, "one job released");
    freeReplyObject(r);
    expect_state("l1", "active", -1);
    expect_state("l2", "queued", 0);
    r = th_script(&t, SCRIPT_RELEASE, "another-worker", NULL);
    cr_assert_eq(r->integer, 0, "never another worker's jobs");
    freeReplyObject(r);
}

Test(lifecycle, paused_queue_claims_nothing)
{
    redisReply *r;

    th_enqueue(&t, "z1", 1, 0, 0, NULL, "{\"prompt\":\"x\"}");
    freeReplyObject(redisCommand(t.c, "SET %s 1", t.k.key[QK_PAUSED]));
    r = claim(10, 60000, 5);
    cr_assert_str_eq(r->element[0]->str, "paused");
    cr_assert_eq(r->elements, 1);
    freeReplyObject(r);
    freeReplyObject(redisCommand(t.c, "DEL %s", t.k.key[QK_PAUSED]));
    r = claim(10, 60000, 5);
    cr_assert_eq(r->elements, 5);
    freeReplyObject(r);
}

Test(lifecycle, retention_sweep_forgets_old_results)
{
    char id[128], tok[32];
    redisReply *r;

    th_enqueue(&t, "x1", 1, 0, 0, NULL, "{\"prompt\":\"x\"}");
    claim_one(60000, id, tok);
    r = th_script(&t, SCRIPT_COMPLETE, "1", "x1", tok, "{}", NULL);
    freeReplyObject(r);
    th_sleep_ms(20);
    maintain();
    expect_state("x1", "unknown", -1);
}

Test(lifecycle, batch_claim_and_complete_many)
{
    char payload[64];
    redisReply *r, *c;
    const char *av[1 + 3 * 250];
    char ids[250][16];

    for (int i = 0; i < 250; i++) {
        snprintf(ids[i], sizeof(ids[i]), "b%03d", i);
        snprintf(payload, sizeof(payload), "{\"prompt\":\"n%d\"}", i);
        th_enqueue(&t, ids[i], 1, 0, 0, NULL, payload);
    }
    r = claim(250, 60000, 5);
    cr_assert_eq(r->elements, 1 + 250 * 4);
    av[0] = "60000";
    for (int i = 0; i < 250; i++) {
        av[1 + 3 * i] = r->element[1 + 4 * i]->str;
        av[2 + 3 * i] = r->element[2 + 4 * i]->str;
        av[3 + 3 * i] = "{}";
        cr_assert_str_eq(r->element[1 + 4 * i]->str, ids[i], "FIFO order");
    }
    {
        char err[256];
        c = rclient_script(t.c, SCRIPT_COMPLETE, &t.k, 1 + 3 * 250, av, NULL,
                           err, sizeof(err));
        cr_assert(c, "%s", err);
    }
    for (int i = 0; i < 250; i++)
        cr_assert_eq(c->element[i]->integer, 1);
    freeReplyObject(c);
    freeReplyObject(r);
}

/* Enqueue n jobs "PREFIX%04d", claim them in one call and complete them in
 * one call with result TTL ttl (ms, as text), each result {"id":"ID"}. */
static void
complete_batch(int n, const char *prefix, const char *ttl)
{
    const char **av = calloc(1 + 3 * (size_t)n, sizeof(char *));
    char(*docs)[48] = calloc((size_t)n, sizeof(*docs));
    char err[256], id[32];
    redisReply *r, *c;

    cr_assert(av && docs);
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "%s%04d", prefix, i);
        th_enqueue(&t, id, 1, 0, 0, NULL, "{\"prompt\":\"x\"}");
    }
    r = claim(n, 60000, 5);
    cr_assert_eq(r->elements, 1 + 4 * (size_t)n);
    av[0] = ttl;
    for (int i = 0; i < n; i++) {
        snprintf(docs[i], sizeof(docs[i]), "{\"id\":\"%s\"}",
                 r->element[1 + 4 * i]->str);
        av[1 + 3 * i] = r->element[1 + 4 * i]->str;
        av[2 + 3 * i] = r->element[2 + 4 * i]->str;
        av[3 + 3 * i] = docs[i];
    }
    c = rclient_script(t.c, SCRIPT_COMPLETE, &t.k, 1 + 3 * n, av, NULL, err,
                       sizeof(err));
    cr_assert(c, "%s", err);
    for (int i = 0; i < n; i++)
        cr_assert_eq(c->element[i]->integer, 1, "job %d stored", i);
    freeReplyObject(c);
    freeReplyObject(r);
    free(docs);
    free(av);
}

/* One maintain.lua call, which must sweep want jobs past their retention. */
static void
sweep_expect(long long want)
{
    redisReply *r = th_script(&t, SCRIPT_MAINTAIN, NULL);

    cr_assert_eq(int_reply(r, 2), want, "jobs swept");
    freeReplyObject(r);
}

/* The done set (layout 4) holds one member per complete call, its ids
 * joined by ',', at most 1,000 ids a member: 1,500 jobs are two members,
 * and `genq results export` (pages of 100 jobs) prints every result once,
 * in order, across members longer than a page. */
Test(lifecycle, retention_index_one_member_per_batch)
{
    redisReply *r;
    char *out, *err, want[32];
    int n = 0;

    complete_batch(1500, "r", "60000");
    cr_assert_eq(th_rint(&t, "ZCARD %s", t.k.key[QK_DONE]), 2,
                 "one member per 1,000 ids");
    r = redisCommand(t.c, "ZRANGE %s 0 -1", t.k.key[QK_DONE]);
    cr_assert(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
    cr_assert(!strncmp(r->element[0]->str, "r0000,r0001,", 12), "%.40s",
              r->element[0]->str);
    cr_assert_eq(r->element[0]->len, 1000 * 6 - 1, "1,000 ids of 5 bytes");
    cr_assert(!strncmp(r->element[1]->str, "r1000,", 6), "%.40s",
              r->element[1]->str);
    cr_assert_eq(r->element[1]->len, 500 * 6 - 1);
    freeReplyObject(r);
    {
        /* and a batch of one after them (a member of one id, as layout 3
         * wrote every member) */
        char id[128], tok[32];
        th_enqueue(&t, "s1", 1, 0, 0, NULL, "{\"prompt\":\"x\"}");
        claim_one(60000, id, tok);
        freeReplyObject(
            th_script(&t, SCRIPT_COMPLETE, "60000", "s1", tok, "{}", NULL));
    }
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "results", "export", NULL), 0,
                 "%s", err);
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save), n++) {
        if (n < 1500)
            snprintf(want, sizeof(want), "{\"id\":\"r%04d\"}", n);
        else
            snprintf(want, sizeof(want), "{}");
        cr_assert_str_eq(l, want, "line %d", n);
    }
    cr_assert_eq(n, 1501, "every result once");
    free(out);
    free(err);
}

/* The sweep takes whole members, ~1,000 ids a call: 1,500 jobs past their
 * retention go in two calls (1,000 then 500), every record with them. */
Test(lifecycle, retention_sweep_takes_whole_members)
{
    char st[64];

    complete_batch(1500, "q", "1");
    th_sleep_ms(20);
    sweep_expect(1000); /* the first member's jobs */
    cr_assert_str_eq(th_state(&t, "q0999", st, NULL), "unknown");
    cr_assert_str_eq(th_state(&t, "q1000", st, NULL), "succeeded");
    cr_assert_eq(th_rint(&t, "ZCARD %s", t.k.key[QK_DONE]), 1);
    sweep_expect(500);
    cr_assert_str_eq(th_state(&t, "q1499", st, NULL), "unknown");
    cr_assert_eq(th_rint(&t, "ZCARD %s", t.k.key[QK_DONE]), 0);
    cr_assert_eq(th_rint(&t, "HLEN %s", t.k.key[QK_RESULTS]), 0);
    cr_assert_eq(th_rint(&t, "HLEN %s", t.k.key[QK_META]), 0);
    cr_assert_eq(th_rint(&t, "HLEN %s", t.k.key[QK_JOBS]), 0);
}

/* Members of one id each (a job completed alone, as a canceled or approved
 * one is): the sweep reads 16, then up to 100 at a time, and stops at
 * 1,000 jobs a call: 1,100 such jobs go in two calls. */
Test(lifecycle, retention_sweep_of_single_members)
{
    char st[64];

    for (int i = 0; i < 1100; i++) {
        char id[32], tok[32], got[128];
        snprintf(id, sizeof(id), "p%04d", i);
        th_enqueue(&t, id, 1, 0, 0, NULL, "{\"prompt\":\"x\"}");
        claim_one(60000, got, tok);
        freeReplyObject(
            th_script(&t, SCRIPT_COMPLETE, "1", got, tok, "{}", NULL));
    }
    cr_assert_eq(th_rint(&t, "ZCARD %s", t.k.key[QK_DONE]), 1100);
    th_sleep_ms(20);
    sweep_expect(1000);
    cr_assert_eq(th_rint(&t, "ZCARD %s", t.k.key[QK_DONE]), 100);
    sweep_expect(100);
    cr_assert_str_eq(th_state(&t, "p1099", st, NULL), "unknown");
    cr_assert_eq(th_rint(&t, "HLEN %s", t.k.key[QK_RESULTS]), 0);
}
