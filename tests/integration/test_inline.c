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

/* Claimed, its lease expired, claimed again, completed once: the element
 * stored at the first claim is the job from then on. */
Test(inline, claimed_expired_claimed_again_completed_once)
{
    char ids[1][64], tok[64], st[64], *elem;
    redisReply *r;
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
    r = redisCommand(t.c, "HGET %s %s", t.k.key[QK_JOBS], ids[0]);
    cr_assert(r && r->type == REDIS_REPLY_STRING);
    cr_assert_str_eq(r->str, elem, "stored as it was in the list");
    freeReplyObject(r);
    cr_assert_eq(th_inline(&t), 0);

    /* the lease (100 ms) expires: the claim reaps it (the harness waited
     * until the test Redis was past the reaper's start-up grace) */
    th_sleep_ms(250);
    r = th_claim(&t, "w-2", 1, 100, 3);
    cr_assert_eq(r->elements, 5, "claimed again");
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
