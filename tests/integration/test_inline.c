/* Inline jobs (layout 3, common/meta.h): a job of the bulk path of `genq
 * enqueue` is nothing but its ready-list element until it is claimed. Every
 * tool copes: `genq status`, `genq result`, `genq cancel` find it by a scan
 * (ready_find.lua), `genq stats` reads the oldest one's header, pause holds
 * it, and a claim stores it so that a lease expiry, a second claim and one
 * completion go as for any job. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <criterion/criterion.h>

#include "harness.h"
#include "rclient.h"

TH_SUITE(inline, .timeout = 90);

/* Enqueue n bulk lines ("p-0".."p-{n-1}", priority prio) through `genq
 * enqueue -` and read back their ids (ids[i], 64 bytes each). */
static void
enqueue_bulk(int n, const char *prio, char ids[][64])
{
    char in[4096] = "", *out, *err, *save = NULL, *l;
    size_t len = 0;
    int k = 0;

    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(in + len, sizeof(in) - len,
                                "{\"prompt\":\"p-%d\",\"priority\":\"%s\","
                                "\"max_tokens\":20}\n",
                                i, prio);
    cr_assert_eq(th_genq(&t, in, &out, &err, "enqueue", "--json", "-", NULL), 0,
                 "%s", err);
    for (l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        cJSON *o = cJSON_Parse(l);
        cr_assert(o && k < n, "%s", l);
        snprintf(ids[k++], 64, "%s", th_str(o, "id"));
        cJSON_Delete(o);
    }
    cr_assert_eq(k, n);
    free(out);
    free(err);
    cr_assert_eq(th_inline(&t), n, "stored inline, nothing else");
    cr_assert_eq(th_rint(&t, "HLEN %s", t.k.key[QK_JOBS]), 0);
}

/* The ids of the ready list (claim order: oldest first), joined by spaces
 * into out. */
static void
ready_ids(int qk, char *out, size_t n)
{
    redisReply *r = redisCommand(t.c, "LRANGE %s 0 -1", t.k.key[qk]);
    size_t len = 0;

    cr_assert(r && r->type == REDIS_REPLY_ARRAY);
    out[0] = '\0';
    for (size_t i = r->elements; i-- > 0;) {
        char id[64];
        th_elem_id(r->element[i]->str, id, sizeof(id));
        len += (size_t)snprintf(out + len, n - len, "%s%s", len ? " " : "", id);
    }
    freeReplyObject(r);
}

Test(inline, status_and_result_find_a_queued_job_in_place)
{
    char ids[3][64], before[512], after[512], *out, *err;
    cJSON *o;

    enqueue_bulk(3, "low", ids);
    ready_ids(QK_READY_LOW, before, sizeof(before));
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "status", "--json", ids[1],
                         "no-such-job", NULL),
                 1, "an unknown id makes exit 1: %s", err);
    o = cJSON_Parse(out); /* the first line */
    cr_assert(o, "%s", out);
    cr_assert_str_eq(th_str(o, "state"), "queued");
    cr_assert_str_eq(th_str(o, "priority"), "low");
    cr_assert_eq(th_num(o, "attempts"), 0);
    cJSON_Delete(o);
    cr_assert(strstr(out, "\"id\":\"no-such-job\",\"state\":\"unknown\""), "%s",
              out);
    free(out);
    free(err);
    /* found: a plain entry now, at the same place in line */
    ready_ids(QK_READY_LOW, after, sizeof(after));
    cr_assert_str_eq(after, before);
    cr_assert_eq(th_inline(&t), 2);
    cr_assert_eq(th_rint(&t, "HEXISTS %s %s", t.k.key[QK_META], ids[1]), 1);
    /* genq result of a queued inline job: found, not finished */
    cr_assert_eq(th_genq(&t, NULL, NULL, &err, "result", ids[2], NULL), 1);
    cr_assert(strstr(err, "is queued"), "%s", err);
    free(err);
}

Test(inline, cancel_removes_a_queued_job)
{
    char ids[3][64], left[512], want[256], st[64], *out, *err;

    enqueue_bulk(3, "normal", ids);
    cr_assert_eq(
        th_genq(&t, NULL, &out, &err, "cancel", "--json", ids[1], NULL), 0,
        "%s", err);
    cr_assert(strstr(out, "\"outcome\":\"canceled\""), "%s", out);
    free(out);
    free(err);
    cr_assert_str_eq(th_state(&t, ids[1], st, NULL), "canceled");
    ready_ids(QK_READY, left, sizeof(left));
    snprintf(want, sizeof(want), "%s %s", ids[0], ids[2]);
    cr_assert_str_eq(left, want, "out of the ready list, the others in line");
    cr_assert_eq(th_inline(&t), 2, "the others untouched");
    /* a second cancel: unchanged, found by key */
    cr_assert_eq(
        th_genq(&t, NULL, &out, &err, "cancel", "--json", ids[1], NULL), 1);
    cr_assert(strstr(out, "\"outcome\":\"unchanged\""), "%s", out);
    free(out);
    free(err);
}

Test(inline, stats_reads_the_oldest_ready_header_and_pause_holds_it)
{
    char ids[2][64], *out, *err;
    cJSON *o[2];
    redisReply *r;

    enqueue_bulk(2, "high", ids);
    th_sleep_ms(50);
    cr_assert_eq(th_genq(&t, NULL, &out, &err, "stats", "--json", NULL), 0,
                 "%s", err);
    cr_assert_eq(th_jsonl(out, o, 2), 1);
    cr_assert_eq(th_num(o[0], "ready_high"), 2);
    cr_assert(th_num(o[0], "oldest_ready_age_s") >= 0.04,
              "the oldest ready job's age, from its inline header: %s", out);
    th_free_objs(o, 1);
    free(out);
    free(err);

    cr_assert_eq(th_genq(&t, NULL, NULL, NULL, "pause", NULL), 0);
    r = th_claim(&t, "w-p", 10, 60000, 3);
    cr_assert_str_eq(r->element[0]->str, "paused");
    freeReplyObject(r);
    cr_assert_eq(th_inline(&t), 2, "paused: nothing taken");
    cr_assert_eq(th_genq(&t, NULL, NULL, NULL, "resume", NULL), 0);
    r = th_claim(&t, "w-p", 10, 60000, 3);
    cr_assert_eq(r->elements, 1 + 4 * 2);
    cr_assert_str_eq(r->element[1]->str, ids[0], "oldest first");
    freeReplyObject(r);
}

/* The held list of claim token tok ("SEQ:MS:h", layout 5: prelude.lua
 * K_HELD) holds id with element elem, and the claim counts active jobs. */
static void
held_check(const char *tok, const char *id, const char *elem, int active)
{
    char seq[32];
    redisReply *r;

    cr_assert(strlen(tok) > 2 && !strcmp(tok + strlen(tok) - 2, ":h"),
              "a held claim's token: %s", tok);
    snprintf(seq, sizeof(seq), "%.*s", (int)strcspn(tok, ":"), tok);
    r = redisCommand(t.c, "LPOS %sheld:%s %s", t.k.prefix, seq, id);
    cr_assert(r && r->type == REDIS_REPLY_INTEGER, "%s in the held list", id);
    freeReplyObject(r);
    r = redisCommand(t.c, "LINDEX %sheld:%s %lld", t.k.prefix, seq,
                     th_rint(&t, "LPOS %sheld:%s %s", t.k.prefix, seq, id) + 1);
    cr_assert(r && r->type == REDIS_REPLY_STRING);
    cr_assert_str_eq(r->str, elem, "the element as it was in the list");
    freeReplyObject(r);
    r = redisCommand(t.c, "HGET %sheld %s", t.k.prefix, seq);
    cr_assert(r && r->type == REDIS_REPLY_STRING && atoi(r->str) == active,
              "the claim counts %d active", active);
    freeReplyObject(r);
}

/* Claim token tok's list, count and pending retention are all gone. */
static void
held_gone(const char *tok)
{
    char seq[32];

    snprintf(seq, sizeof(seq), "%.*s", (int)strcspn(tok, ":"), tok);
    cr_assert_eq(th_rint(&t, "EXISTS %sheld:%s", t.k.prefix, seq), 0,
                 "the held list of %s is gone", tok);
    cr_assert_eq(th_rint(&t, "HEXISTS %sheld %s", t.k.prefix, seq), 0);
    cr_assert_eq(th_rint(&t, "HEXISTS %sheld %sx", t.k.prefix, seq), 0,
                 "no retention pending");
}

/* Claimed, its lease expired, claimed again, completed once: the element
 * the reaper moved to the jobs hash is the job from then on. */
Test(inline, claimed_expired_claimed_again_completed_once)
{
    char ids[1][64], tok[64], st[64], *elem;
    redisReply *r, *r2;
    int att = 0;

    enqueue_bulk(1, "normal", ids);
    r = redisCommand(t.c, "LINDEX %s 0", t.k.key[QK_READY]);
    cr_assert(r && r->type == REDIS_REPLY_STRING);
    elem = strdup(r->str);
    freeReplyObject(r);
    r = th_claim(&t, "w-1", 1, 100, 3);
    cr_assert_eq(r->elements, 5);
    cr_assert_str_eq(r->element[1]->str, ids[0]);
    cr_assert_str_eq(r->element[4]->str, elem, "the payload: the element");
    snprintf(tok, sizeof(tok), "%s", r->element[2]->str);
    freeReplyObject(r);
    /* layout 5: the element is in the claim's held list, not the jobs
     * hash, and the claim counts its one active job */
    cr_assert_eq(th_rint(&t, "HLEN %s", t.k.key[QK_JOBS]), 0);
    held_check(tok, ids[0], elem, 1);
    cr_assert_eq(th_inline(&t), 0);

    /* the lease (100 ms) expires: the claim reaps it (the harness waited
     * until the test Redis was past the reaper's start-up grace) */
    th_sleep_ms(250);
    r = th_claim(&t, "w-2", 1, 100, 3);
    cr_assert_eq(r->elements, 5, "claimed again");
    /* the reaper copied the element into the jobs hash before requeueing
     * it (a plain id now), and the old claim's list and count are gone */
    r2 = redisCommand(t.c, "HGET %s %s", t.k.key[QK_JOBS], ids[0]);
    cr_assert(r2 && r2->type == REDIS_REPLY_STRING);
    cr_assert_str_eq(r2->str, elem, "stored as it was in the list");
    freeReplyObject(r2);
    held_gone(tok);
    cr_assert_str_eq(r->element[1]->str, ids[0]);
    cr_assert_eq(r->element[3]->integer, 2);
    cr_assert_str_eq(r->element[4]->str, elem, "the same stored job");
    snprintf(tok, sizeof(tok), "%s", r->element[2]->str);
    freeReplyObject(r);
    free(elem);
    /* no claim or maintenance runs meanwhile: nothing reaps this lease */
    r = th_script(&t, SCRIPT_COMPLETE, "60000", ids[0], tok,
                  "{\"text\":\"ok\"}", NULL);
    cr_assert_eq(r->element[0]->integer, 1);
    freeReplyObject(r);
    r = th_script(&t, SCRIPT_COMPLETE, "60000", ids[0], tok,
                  "{\"text\":\"again\"}", NULL);
    cr_assert_eq(r->element[0]->integer, 0, "a second completion refused");
    freeReplyObject(r);
    cr_assert_str_eq(th_state(&t, ids[0], st, &att), "succeeded");
    cr_assert_eq(att, 2, "the expired attempt and the one that succeeded");
    cr_assert_eq(th_rint(&t, "HLEN %s", t.k.key[QK_RESULTS]), 1);
    r = redisCommand(t.c, "HGET %s succeeded", t.k.key[QK_STATS]);
    cr_assert(r && r->type == REDIS_REPLY_STRING && !strcmp(r->str, "1"),
              "completed once");
    freeReplyObject(r);
    r = redisCommand(t.c, "HGET %s lease_expired", t.k.key[QK_STATS]);
    cr_assert(r && r->type == REDIS_REPLY_STRING && !strcmp(r->str, "1"));
    freeReplyObject(r);
}

/* ready_find.lua scans in bounded chunks: a job deep in a backlog bigger
 * than one chunk is found by the client's loop over several calls. */
Test(inline, a_job_deep_in_the_backlog_is_found_over_several_calls)
{
    enum { N = 12000 };
    char path[512], *err, id[64] = "", st[64];
    redisReply *r;
    size_t cap = (size_t)N * 64, len = 0;
    char *in = malloc(cap);

    cr_assert(in);
    for (int i = 0; i < N; i++)
        len +=
            (size_t)snprintf(in + len, cap - len, "{\"prompt\":\"d-%d\"}\n", i);
    th_write_tmp(path, sizeof(path), "deep.jsonl", in);
    free(in);
    cr_assert_eq(th_genq(&t, NULL, NULL, &err, "enqueue", path, NULL), 0, "%s",
                 err);
    free(err);
    remove(path);
    /* the oldest: the far end from where the scan starts */
    r = redisCommand(t.c, "LINDEX %s -1", t.k.key[QK_READY]);
    cr_assert(r && r->type == REDIS_REPLY_STRING);
    th_elem_id(r->str, id, sizeof(id));
    freeReplyObject(r);
    cr_assert_eq(th_genq(&t, NULL, NULL, &err, "cancel", id, NULL), 0, "%s",
                 err);
    free(err);
    cr_assert_str_eq(th_state(&t, id, st, NULL), "canceled");
    cr_assert_eq(th_rint(&t, "LLEN %s", t.k.key[QK_READY]), N - 1);
    cr_assert_eq(th_inline(&t), N - 1);
}

/* The payload inspect.lua returns for id (the dashboard's job view, `genq
 * dlq show`), or NULL; the caller frees it. */
static char *
inspect_payload(const char *id)
{
    redisReply *r = th_script(&t, SCRIPT_INSPECT, "1", "0", id, NULL);
    char *p = NULL;

    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 9);
    if (r->element[6]->type == REDIS_REPLY_STRING)
        p = strdup(r->element[6]->str);
    freeReplyObject(r);
    return p;
}

/* Layout 5 (prelude.lua K_HELD): three inline jobs claimed together stay in
 * their claim's held list while active and succeeded (the dashboard finds
 * each request there); a dead one's request goes to the jobs hash first;
 * the last way out of the claim gives the list the succeeded jobs'
 * retention and removes the count. */
Test(inline, a_held_claim_keeps_its_requests_until_its_jobs_are_done)
{
    char ids[3][64], tok[64], *el[3], *p;
    redisReply *r;
    long long pttl;

    enqueue_bulk(3, "normal", ids);
    r = th_claim(&t, "w-1", 3, 60000, 3);
    cr_assert_eq(r->elements, 13);
    snprintf(tok, sizeof(tok), "%s", r->element[2]->str);
    for (int i = 0; i < 3; i++) {
        cr_assert_str_eq(r->element[1 + 4 * i]->str, ids[i]);
        el[i] = strdup(r->element[4 + 4 * i]->str);
    }
    freeReplyObject(r);
    for (int i = 0; i < 3; i++)
        held_check(tok, ids[i], el[i], 3);
    p = inspect_payload(ids[1]);
    cr_assert(p && strstr(p, "\"p-1\"") && p[0] == '{',
              "an active job's request, header cut: %s", p ? p : "(nil)");
    free(p);

    /* two succeed, by workers of different result TTLs (10 min, then
     * 1 s): still counted 1, the later deadline pending */
    r = th_script(&t, SCRIPT_COMPLETE, "600000", ids[0], tok,
                  "{\"text\":\"a\"}", NULL);
    cr_assert(r->element[0]->integer == 1);
    freeReplyObject(r);
    r = th_script(&t, SCRIPT_COMPLETE, "1000", ids[1], tok, "{\"text\":\"b\"}",
                  NULL);
    cr_assert(r->element[0]->integer == 1);
    freeReplyObject(r);
    held_check(tok, ids[2], el[2], 1);
    {
        char seq[32];
        snprintf(seq, sizeof(seq), "%.*s", (int)strcspn(tok, ":"), tok);
        cr_assert_eq(th_rint(&t, "HEXISTS %sheld %sx", t.k.prefix, seq), 1,
                     "the retention pending");
    }
    cr_assert_eq(th_rint(&t, "HLEN %s", t.k.key[QK_JOBS]), 0);

    /* the third dies: its request into the jobs hash, then the list
     * expires with the results (10 minutes), count and pending gone */
    r = th_script(&t, SCRIPT_FAIL, ids[2], tok, "dead", "0",
                  "{\"class\":\"bad_request\",\"message\":\"no\"}", NULL);
    cr_assert_str_eq(r->element[0]->str, "dead");
    freeReplyObject(r);
    r = redisCommand(t.c, "HGET %s %s", t.k.key[QK_JOBS], ids[2]);
    cr_assert(r && r->type == REDIS_REPLY_STRING);
    cr_assert_str_eq(r->str, el[2], "the dead job's element, as claimed");
    freeReplyObject(r);
    {
        char seq[32];
        snprintf(seq, sizeof(seq), "%.*s", (int)strcspn(tok, ":"), tok);
        r = redisCommand(t.c, "LPOS %sheld:%s %s", t.k.prefix, seq, ids[2]);
        cr_assert(r && r->type == REDIS_REPLY_NIL,
                  "moved, not copied: no second copy left in the list");
        freeReplyObject(r);
        cr_assert_eq(th_rint(&t, "LLEN %sheld:%s", t.k.prefix, seq), 6,
                     "its pair blanked in place");
    }
    cr_assert_eq(th_rint(&t, "HLEN %sheld", t.k.prefix), 0,
                 "count and pending retention gone");
    {
        char seq[32];
        snprintf(seq, sizeof(seq), "%.*s", (int)strcspn(tok, ":"), tok);
        pttl = th_rint(&t, "PTTL %sheld:%s", t.k.prefix, seq);
    }
    cr_assert(pttl > 590000 && pttl <= 600000,
              "the list lives as long as the longest kept result: %lld ms",
              pttl);
    /* the succeeded jobs' requests and the dead one's, all found */
    for (int i = 0; i < 3; i++) {
        char want[16];
        snprintf(want, sizeof(want), "\"p-%d\"", i);
        p = inspect_payload(ids[i]);
        cr_assert(p && strstr(p, want), "job %d's request: %s", i,
                  p ? p : "(nil)");
        free(p);
        free(el[i]);
    }
}

/* A claim's jobs leave it in separate calls, the last by a release (the
 * worker lost the claim's reply): nothing of it succeeded, so the list goes
 * at once, and the released job is a plain id with its request stored. */
Test(inline, a_held_claim_with_nothing_succeeded_goes_at_once)
{
    char ids[2][64], tok[64], seq[32];
    redisReply *r;

    enqueue_bulk(2, "normal", ids);
    r = th_claim(&t, "w-1", 2, 60000, 3);
    cr_assert_eq(r->elements, 9);
    snprintf(tok, sizeof(tok), "%s", r->element[2]->str);
    freeReplyObject(r);
    snprintf(seq, sizeof(seq), "%.*s", (int)strcspn(tok, ":"), tok);
    r = th_script(&t, SCRIPT_FAIL, ids[0], tok, "requeue", "0",
                  "{\"class\":\"auth\",\"message\":\"401\"}", NULL);
    cr_assert_str_eq(r->element[0]->str, "queued");
    freeReplyObject(r);
    r = redisCommand(t.c, "HGET %sheld %s", t.k.prefix, seq);
    cr_assert(r && r->type == REDIS_REPLY_STRING && !strcmp(r->str, "1"),
              "one job of the claim still active");
    freeReplyObject(r);
    r = th_script(&t, SCRIPT_RELEASE, "w-1", NULL); /* holds no token */
    cr_assert_eq(r->integer, 1);
    freeReplyObject(r);
    held_gone(tok);
    cr_assert_eq(th_rint(&t, "HLEN %s", t.k.key[QK_JOBS]), 2,
                 "both requests stored by id");
    cr_assert_eq(th_rint(&t, "LLEN %s", t.k.key[QK_READY]), 2);
    /* claimed again (plain ids now: no held list), both complete */
    r = th_claim(&t, "w-2", 2, 60000, 3);
    cr_assert_eq(r->elements, 9);
    snprintf(tok, sizeof(tok), "%s", r->element[2]->str);
    cr_assert(tok[strlen(tok) - 1] != 'h', "a plain claim: %s", tok);
    r = (freeReplyObject(r), th_script(&t, SCRIPT_COMPLETE, "60000", ids[0],
                                       tok, "{}", ids[1], tok, "{}", NULL));
    cr_assert(r->element[0]->integer == 1 && r->element[1]->integer == 1);
    freeReplyObject(r);
    cr_assert_eq(th_rint(&t, "HLEN %sheld", t.k.prefix), 0);
}

/* A worker runs inline jobs under lease tokens of the longest form,
 * "SEQ:MS:h" with a 16-digit counter (33 bytes: keys.h LEASE_TOKEN_SIZE):
 * each completion matches its lease (a token cut short would be refused
 * as stale and the jobs run again and again), and every held list is
 * settled afterwards (counts gone, retention set). */
Test(inline, a_worker_completes_held_claims_under_the_longest_tokens)
{
    const char *noop[] = {"--provider", "noop",        "--concurrency",
                          "4",          "--log-level", "warn",
                          NULL};
    char ids[8][64];
    redisReply *r;
    pid_t w;
    int i;

    enqueue_bulk(8, "normal", ids);
    freeReplyObject(
        redisCommand(t.c, "SET %s 9007199254740000", t.k.key[QK_SEQ]));
    w = th_worker(&t, NULL, noop);
    for (i = 0; i < 200; i++) {
        r = redisCommand(t.c, "HGET %s succeeded", t.k.key[QK_STATS]);
        int done = r && r->type == REDIS_REPLY_STRING && atoi(r->str) >= 8;
        freeReplyObject(r);
        if (done)
            break;
        th_sleep_ms(50);
    }
    th_stop(w);
    cr_assert_eq(th_rint(&t, "HLEN %s", t.k.key[QK_RESULTS]), 8);
    r = redisCommand(t.c, "HGET %s succeeded", t.k.key[QK_STATS]);
    cr_assert(r && r->type == REDIS_REPLY_STRING && !strcmp(r->str, "8"),
              "each job completed once");
    freeReplyObject(r);
    cr_assert_eq(th_rint(&t, "HLEN %sheld", t.k.prefix), 0);
    r = redisCommand(t.c, "KEYS %sheld:9007199254*", t.k.prefix);
    cr_assert(r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1,
              "held lists under the long counter");
    for (size_t k = 0; k < r->elements; k++)
        cr_assert(th_rint(&t, "PTTL %s", r->element[k]->str) > 0,
                  "%s expires with its results", r->element[k]->str);
    freeReplyObject(r);
}

/* One completion call holds a job of claim A flagged for review and a
 * succeeded job of claim B: A's list goes at once (nothing of it
 * succeeded; its request is in the jobs hash for the reviewer), B's
 * expires with its result. */
Test(inline, a_claim_whose_jobs_went_to_review_keeps_no_list)
{
    char ids[2][64], ta[64], tb[64], doc[256], sa[32], sb[32];
    redisReply *r;

    enqueue_bulk(2, "normal", ids);
    r = th_claim(&t, "w-1", 1, 60000, 3);
    snprintf(ta, sizeof(ta), "%s", r->element[2]->str);
    cr_assert_str_eq(r->element[1]->str, ids[0]);
    freeReplyObject(r);
    r = th_claim(&t, "w-1", 1, 60000, 3);
    snprintf(tb, sizeof(tb), "%s", r->element[2]->str);
    cr_assert_str_eq(r->element[1]->str, ids[1]);
    freeReplyObject(r);
    snprintf(sa, sizeof(sa), "%.*s", (int)strcspn(ta, ":"), ta);
    snprintf(sb, sizeof(sb), "%.*s", (int)strcspn(tb, ":"), tb);
    snprintf(doc, sizeof(doc),
             "{\"id\":\"%s\",\"state\":\"review\",\"review\":{\"reasons\":"
             "[\"x\"]}}",
             ids[0]);
    r = th_script(&t, SCRIPT_COMPLETE, "600000", ids[0], ta, doc, ids[1], tb,
                  "{\"text\":\"ok\"}", NULL);
    cr_assert(r->element[0]->integer == 1 && r->element[1]->integer == 1);
    freeReplyObject(r);
    cr_assert_eq(th_rint(&t, "ZCARD %sreview", t.k.prefix), 1, "in review");
    r = redisCommand(t.c, "HGET %s %s", t.k.key[QK_JOBS], ids[0]);
    cr_assert(r && r->type == REDIS_REPLY_STRING && r->str[0] == '@',
              "the reviewed job's request in the jobs hash");
    freeReplyObject(r);
    cr_assert_eq(th_rint(&t, "EXISTS %sheld:%s", t.k.prefix, sa), 0,
                 "claim A's list gone at once");
    cr_assert(th_rint(&t, "PTTL %sheld:%s", t.k.prefix, sb) > 590000,
              "claim B's list kept with its result");
    cr_assert_eq(th_rint(&t, "HLEN %sheld", t.k.prefix), 0);
}

/* A release of a held claim's jobs (the worker lost its claim's reply),
 * one of them succeeded first so the list stays: after the first released
 * job the list is read once and each job's element found in the map
 * (prelude.lua held_element's cache); every one is moved to the jobs hash
 * as it was claimed, its own pair blanked, the succeeded job's kept. */
Test(inline, a_released_claim_moves_every_request_once)
{
    char ids[5][64], *el[5], tok[64], seq[32];
    redisReply *r;

    enqueue_bulk(5, "normal", ids);
    r = th_claim(&t, "w-1", 5, 60000, 3);
    cr_assert_eq(r->elements, 21);
    snprintf(tok, sizeof(tok), "%s", r->element[2]->str);
    for (int i = 0; i < 5; i++)
        el[i] = strdup(r->element[4 + 4 * i]->str);
    freeReplyObject(r);
    snprintf(seq, sizeof(seq), "%.*s", (int)strcspn(tok, ":"), tok);
    r = th_script(&t, SCRIPT_COMPLETE, "600000", ids[2], tok, "{}", NULL);
    cr_assert_eq(r->element[0]->integer, 1);
    freeReplyObject(r);
    /* the worker holds no token: its four active jobs go back */
    r = th_script(&t, SCRIPT_RELEASE, "w-1", NULL);
    cr_assert_eq(r->integer, 4);
    freeReplyObject(r);
    for (int i = 0; i < 5; i++) {
        r = redisCommand(t.c, "LINDEX %sheld:%s %d", t.k.prefix, seq, 2 * i);
        cr_assert(r && r->type == REDIS_REPLY_STRING);
        cr_assert_str_eq(r->str, i == 2 ? ids[i] : "", "pair %d's id", i);
        freeReplyObject(r);
        r = redisCommand(t.c, "LINDEX %sheld:%s %d", t.k.prefix, seq,
                         2 * i + 1);
        cr_assert(r && r->type == REDIS_REPLY_STRING);
        cr_assert_str_eq(r->str, i == 2 ? el[i] : "", "pair %d's element", i);
        freeReplyObject(r);
        if (i != 2) {
            r = redisCommand(t.c, "HGET %s %s", t.k.key[QK_JOBS], ids[i]);
            cr_assert(r && r->type == REDIS_REPLY_STRING);
            cr_assert_str_eq(r->str, el[i], "job %d's own element", i);
            freeReplyObject(r);
        }
        free(el[i]);
    }
    cr_assert_eq(th_rint(&t, "HEXISTS %s %s", t.k.key[QK_JOBS], ids[2]), 0);
    cr_assert(th_rint(&t, "PTTL %sheld:%s", t.k.prefix, seq) > 590000,
              "kept for the succeeded job");
    cr_assert_eq(th_rint(&t, "HLEN %sheld", t.k.prefix), 0);
    cr_assert_eq(th_rint(&t, "LLEN %s", t.k.key[QK_READY]), 4);
}

/* A claim of plain and inline jobs counts them all: the plain one's
 * failure counts it out (its request was never in the list), the list and
 * the inline job's element stay while that job is active. */
Test(inline, a_mixed_claim_counts_its_plain_jobs_too)
{
    char ids[1][64], tok[64], seq[32];
    redisReply *r;

    enqueue_bulk(1, "normal", ids);
    th_enqueue(&t, "plain-1", 1, 0, 0, NULL, "{\"prompt\":\"p\"}");
    r = th_claim(&t, "w-1", 2, 60000, 3);
    cr_assert_eq(r->elements, 9);
    snprintf(tok, sizeof(tok), "%s", r->element[2]->str);
    cr_assert_str_eq(r->element[1]->str, "plain-1", "plain ids first");
    cr_assert_str_eq(r->element[5]->str, ids[0]);
    freeReplyObject(r);
    snprintf(seq, sizeof(seq), "%.*s", (int)strcspn(tok, ":"), tok);
    cr_assert_eq(th_rint(&t, "HINCRBY %sheld %s 0", t.k.prefix, seq), 2,
                 "both counted");
    r = th_script(&t, SCRIPT_FAIL, "plain-1", tok, "dead", "0",
                  "{\"class\":\"bad_request\",\"message\":\"no\"}", NULL);
    cr_assert_str_eq(r->element[0]->str, "dead");
    freeReplyObject(r);
    cr_assert_eq(th_rint(&t, "HINCRBY %sheld %s 0", t.k.prefix, seq), 1);
    cr_assert_eq(th_rint(&t, "LLEN %sheld:%s", t.k.prefix, seq), 2,
                 "the inline job's pair kept");
    r = th_script(&t, SCRIPT_COMPLETE, "600000", ids[0], tok, "{}", NULL);
    cr_assert_eq(r->element[0]->integer, 1);
    freeReplyObject(r);
    cr_assert_eq(th_rint(&t, "HLEN %sheld", t.k.prefix), 0);
    cr_assert(th_rint(&t, "PTTL %sheld:%s", t.k.prefix, seq) > 590000);
}

/* One id twice in a completion call: counted out of its claim once (the
 * second entry is stale), so the claim's other job keeps its list. */
Test(inline, a_repeated_id_counts_once)
{
    char ids[2][64], tok[64], seq[32];
    redisReply *r;

    enqueue_bulk(2, "normal", ids);
    r = th_claim(&t, "w-1", 2, 60000, 3);
    snprintf(tok, sizeof(tok), "%s", r->element[2]->str);
    freeReplyObject(r);
    snprintf(seq, sizeof(seq), "%.*s", (int)strcspn(tok, ":"), tok);
    r = th_script(&t, SCRIPT_COMPLETE, "600000", ids[0], tok, "{}", ids[0], tok,
                  "{}", NULL);
    cr_assert(r->element[0]->integer == 1 && r->element[1]->integer == 0,
              "the repeat is stale");
    freeReplyObject(r);
    cr_assert_eq(th_rint(&t, "HINCRBY %sheld %s 0", t.k.prefix, seq), 1);
    r = th_script(&t, SCRIPT_FAIL, ids[1], tok, "dead", "0",
                  "{\"class\":\"bad_request\",\"message\":\"no\"}", ids[1], tok,
                  "dead", "0", "{\"class\":\"bad_request\",\"message\":\"no\"}",
                  NULL);
    cr_assert_str_eq(r->element[0]->str, "dead");
    cr_assert_str_eq(r->element[1]->str, "stale");
    freeReplyObject(r);
    r = redisCommand(t.c, "HGET %s %s", t.k.key[QK_JOBS], ids[1]);
    cr_assert(r && r->type == REDIS_REPLY_STRING && r->str[0] == '@',
              "the dead job's request stored");
    freeReplyObject(r);
    cr_assert_eq(th_rint(&t, "HLEN %sheld", t.k.prefix), 0);
}
