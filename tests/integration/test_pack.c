/* Compressed payloads (common/pack.h) end to end: `genq enqueue` stores an
 * article request compressed (and a job with an idempotency key plain),
 * a worker runs it against the mock, the dead-letter views (dlq show, ls
 * with its excerpt and --grep, export) show its JSON; a plain JSON value
 * written by a foreign producer still runs; a corrupt compressed value
 * sends its job to the dead-letter queue with an error naming it. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <criterion/criterion.h>

#include "harness.h"
#include "meta.h"
#include "pack.h"

TH_SUITE(pack, .timeout = 90);

#define ARTICLE                                                                \
    "Write a short essay on tide pools for a school magazine: what lives "     \
    "there, how the animals cope with waves and sun, and why visitors "        \
    "should leave shells where they are. Friendly tone. Pool %d."

/* The stored value of id (caller frees the reply): its jobs-hash value,
 * or, queued inline (layout 3), its ready-list element "@ID|..." */
static redisReply *
stored(const char *id)
{
    redisReply *r = redisCommand(t.c, "HGET %s %s", t.k.key[QK_JOBS], id);

    cr_assert(r, "HGET failed");
    if (r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        r = redisCommand(
            t.c, "EVAL %s 3 %s %s %s %s",
            "local p = '@' .. ARGV[1] .. '|' "
            "for _, k in ipairs(KEYS) do "
            "for _, e in ipairs(redis.call('LRANGE', k, 0, -1)) do "
            "if string.sub(e, 1, #p) == p then return e end end end "
            "return false",
            t.k.key[QK_READY_HIGH], t.k.key[QK_READY], t.k.key[QK_READY_LOW],
            id);
    }
    cr_assert(r && r->type == REDIS_REPLY_STRING, "no stored value for %s", id);
    return r;
}

/* The ids `genq enqueue --json` printed in out, into id[n][64]. */
static void
enqueued_ids(char *out, char (*id)[64], int n)
{
    char *save = NULL;
    int k = 0;

    for (char *l = strtok_r(out, "\n", &save); l && k < n;
         l = strtok_r(NULL, "\n", &save)) {
        cJSON *j = cJSON_Parse(l);
        cr_assert(j, "%s", l);
        snprintf(id[k++], 64, "%s", th_str(j, "id"));
        cJSON_Delete(j);
    }
    cr_assert_eq(k, n);
}

/* Store value v (len bytes) for id and make it ready, as a producer in
 * another language would (bulk header and all). */
static void
put_ready(const char *id, const char *v, size_t len)
{
    redisReply *r =
        redisCommand(t.c, "HSET %s %s %b", t.k.key[QK_JOBS], id, v, len);

    cr_assert(r && r->type == REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    r = redisCommand(t.c, "LPUSH %s %s", t.k.key[QK_READY], id);
    cr_assert(r && r->type == REDIS_REPLY_INTEGER);
    freeReplyObject(r);
}

/* A worker until the n ids are terminal. */
static void
run_all(char **ids, int n)
{
    pid_t w = th_worker(&t, NULL, NULL);

    cr_assert_eq(th_wait_terminal(&t, ids, n, 30), n);
    th_stop(w);
}

Test(pack, enqueue_compresses_and_worker_runs)
{
    char in[2048], prompt[3][400], id[3][64], *out, *err, st[64];
    char *ids[3];
    size_t at = 0;
    int rc;

    for (int i = 0; i < 3; i++) {
        snprintf(prompt[i], sizeof(prompt[i]), ARTICLE, i);
        /* the third carries an idempotency key: stored plain (the scripts
         * that delete jobs read the key from the payload) */
        at += (size_t)snprintf(in + at, sizeof(in) - at,
                               "{\"prompt\":\"%s\",\"max_tokens\":40%s}\n",
                               prompt[i],
                               i == 2 ? ",\"idempotency_key\":\"k-2\"" : "");
    }
    rc = th_genq(&t, in, &out, &err, "enqueue", "--json", "-", NULL);
    cr_assert_eq(rc, 0, "%s", err);
    enqueued_ids(out, id, 3);
    free(out);
    free(err);
    for (int i = 0; i < 3; i++) {
        redisReply *r = stored(id[i]);
        size_t h = meta_header_len(r->str);
        if (i < 2) {
            cr_assert_eq(r->str[h], PACK_TAG_ZSTD1_ID, "job %d", i);
            cr_assert_lt(r->len - h, strlen(prompt[i]), "compressed");
        } else {
            cr_assert_eq(r->str[h], '{', "a job with a key stays plain");
        }
        freeReplyObject(r);
    }
    /* status reads a compressed job */
    rc = th_genq(&t, NULL, &out, &err, "status", "--json", id[0], NULL);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert(strstr(out, "\"state\":\"queued\""), "%s", out);
    free(out);
    free(err);

    for (int i = 0; i < 3; i++)
        ids[i] = id[i];
    run_all(ids, 3);
    for (int i = 0; i < 3; i++) {
        cJSON *res = th_result(&t, id[i]);
        const cJSON *txt = cJSON_GetObjectItemCaseSensitive(res, "text");
        char *want = th_expected_text(prompt[i], (size_t)1 << 20);
        cr_assert_str_eq(th_state(&t, id[i], st, NULL), "succeeded", "job %d",
                         i);
        cr_assert(cJSON_IsString(txt));
        /* the mock answers the prompt it was sent, the decoded one (the
         * worker continues past max_tokens: the whole article) */
        cr_assert_str_eq(txt->valuestring, want, "job %d", i);
        free(want);
        cJSON_Delete(res);
    }
}

/* A compressed job made dead (claim, then fail.lua as a worker would). */
static void
dead_compressed(char *id, size_t idn, const char *prompt)
{
    char in[1024], *out, *err, e[256];
    redisReply *r, *f;
    int rc;

    snprintf(in, sizeof(in), "{\"prompt\":\"%s\",\"max_tokens\":40}\n", prompt);
    rc = th_genq(&t, in, &out, &err, "enqueue", "--json", "-", NULL);
    cr_assert_eq(rc, 0, "%s", err);
    enqueued_ids(out, (char(*)[64])id, 1);
    (void)idn;
    free(out);
    free(err);
    r = stored(id);
    cr_assert(pack_is_packed(r->str + meta_header_len(r->str),
                             r->len - meta_header_len(r->str)));
    freeReplyObject(r);
    r = th_claim(&t, "w-pack", 1, 60000, 5);
    cr_assert_eq(r->elements, 5);
    th_err_json(e, sizeof(e), "permanent", 400, "bad request");
    f = th_script(&t, SCRIPT_FAIL, id, r->element[2]->str, "dead", "0", e,
                  NULL);
    cr_assert_str_eq(f->element[0]->str, "dead");
    freeReplyObject(f);
    freeReplyObject(r);
}

/* The first line of `genq dlq CMD [A [B [C]]]` (NULL ends the list) as
 * JSON (caller deletes), or NULL when it printed nothing. */
static cJSON *
dlq_json(const char *cmd, const char *a, const char *b, const char *c)
{
    char *out, *err;
    int rc = th_genq(&t, NULL, &out, &err, "dlq", cmd, a, b, c, NULL);
    cJSON *d;

    cr_assert_eq(rc, 0, "%s", err);
    d = *out ? cJSON_Parse(out) : NULL;
    cr_assert(d || !*out, "%s", out);
    free(out);
    free(err);
    return d;
}

Test(pack, dead_letter_views_show_json)
{
    char id[64], prompt[400];
    cJSON *d;

    snprintf(prompt, sizeof(prompt), ARTICLE, 7);
    dead_compressed(id, sizeof(id), prompt);

    d = dlq_json("show", "--json", id, NULL);
    cr_assert(d);
    cr_assert_str_eq(th_str(cJSON_GetObjectItem(d, "job"), "prompt"), prompt);
    cr_assert_str_eq(th_str(cJSON_GetObjectItem(d, "job"), "id"), id);
    cJSON_Delete(d);

    /* ls: the excerpt; --grep finds words inside the compressed job, and
     * not ones that are absent */
    d = dlq_json("ls", "--json", "--grep", "visitors should");
    cr_assert(d);
    cr_assert_str_eq(th_str(d, "id"), id);
    cr_assert(!strncmp(th_str(d, "prompt_excerpt"), "Write a short essay", 19),
              "%s", th_str(d, "prompt_excerpt"));
    cJSON_Delete(d);
    cr_assert_null(dlq_json("ls", "--json", "--grep", "no such words"));

    /* export: the job as JSON, which enqueue --from-dlq takes back */
    d = dlq_json("export", NULL, NULL, NULL);
    cr_assert(d);
    cr_assert_str_eq(th_str(cJSON_GetObjectItem(d, "job"), "prompt"), prompt);
    cJSON_Delete(d);
}

Test(pack, foreign_plain_json_runs)
{
    char payload[600], prompt[400], st[64];
    char id1[] = "foreign-1", id2[] = "foreign-2", *ids[2] = {id1, id2};
    redisReply *r;

    /* what another language's producer writes: plain JSON, through the
     * enqueue script, and a bulk header with plain JSON behind it */
    snprintf(prompt, sizeof(prompt), ARTICLE, 1);
    snprintf(payload, sizeof(payload),
             "{\"id\":\"foreign-1\",\"prompt\":\"%s\",\"max_tokens\":30}",
             prompt);
    th_enqueue(&t, "foreign-1", 1, 0, 0, NULL, payload);
    r = stored("foreign-1");
    cr_assert_eq(r->str[meta_header_len(r->str)], '{');
    freeReplyObject(r);
    snprintf(payload, sizeof(payload),
             "queued|0|0|1|||1|1|\n{\"id\":\"foreign-2\",\"prompt\":\"%s\","
             "\"max_tokens\":30}",
             prompt);
    put_ready("foreign-2", payload, strlen(payload));
    run_all(ids, 2);
    for (int i = 0; i < 2; i++) {
        cJSON *res = th_result(&t, ids[i]);
        char *want = th_expected_text(prompt, (size_t)1 << 20);
        cr_assert_str_eq(th_state(&t, ids[i], st, NULL), "succeeded");
        cr_assert_str_eq(th_str(res, "text"), want);
        free(want);
        cJSON_Delete(res);
    }
}

Test(pack, corrupt_value_dead_with_its_id)
{
    char id[] = "broken-1", *ids[1] = {id}, st[64], *out, *err;
    static const char v[] = "queued|0|0|1|||1|1|\n\x04\xff\xff\xff\xff\xff";
    int rc;

    put_ready("broken-1", v, sizeof(v) - 1);
    run_all(ids, 1);
    cr_assert_str_eq(th_state(&t, "broken-1", st, NULL), "dead");
    rc = th_genq(&t, NULL, &out, &err, "dlq", "show", "--json", "broken-1",
                 NULL);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert(strstr(out, "job broken-1: stored payload is corrupt"), "%s",
              out);
    free(out);
    free(err);
}

/* Jobs spooled between the passes (ids given: the script path) keep their
 * compressed bytes, NULs and all, in memory and in a spilled spool file. */
Test(pack, spooled_jobs_intact)
{
    const char *spill[] = {"GENQ_SPOOL_MEM_MAX=2048", NULL};
    char path[512], line[600], id[32], e[256], *in, *json, *err;
    size_t at = 0, cap = 40 * sizeof(line);

    in = malloc(cap);
    cr_assert(in);
    for (int i = 0; i < 40; i++) {
        int n =
            snprintf(line, sizeof(line),
                     "{\"id\":\"sp-%02d\",\"prompt\":\"" ARTICLE "\"}", i, i);
        memcpy(in + at, line, (size_t)n);
        at += (size_t)n;
        in[at++] = '\n';
    }
    in[at] = '\0';
    th_write_tmp(path, sizeof(path), "spool.jsonl", in);
    for (int round = 0; round < 2; round++) {
        const char *argv[12] = {th_bin("genq"), "enqueue", path};
        th_redis_args(argv, 3, t.queue);
        cr_assert_eq(th_run(argv, round ? spill : NULL, NULL, 0, NULL, &err), 0,
                     "%s", err);
        free(err);
        for (int i = 0; i < 40; i++) {
            redisReply *r;
            snprintf(id, sizeof(id), "sp-%02d", i);
            r = stored(id);
            cr_assert(pack_is_packed(r->str + meta_header_len(r->str),
                                     r->len - meta_header_len(r->str)));
            json = pack_stored_json(NULL, id, r->str, r->len, e, sizeof(e));
            cr_assert(json, "%s", e);
            snprintf(line, sizeof(line),
                     "{\"id\":\"sp-%02d\",\"prompt\":\"" ARTICLE "\"}", i, i);
            cr_assert_str_eq(json, line);
            free(json);
            freeReplyObject(r);
        }
        /* the next round: the same ids on a fresh queue's keys */
        freeReplyObject(redisCommand(t.c, "DEL %s %s %s", t.k.key[QK_JOBS],
                                     t.k.key[QK_READY], t.k.key[QK_META]));
    }
    free(in);
}

/* --no-compress: the same request stored as plain JSON. */
Test(pack, no_compress_stores_plain)
{
    char in[600], id[1][64], *out, *err;
    redisReply *r;
    int rc;

    snprintf(in, sizeof(in), "{\"prompt\":\"" ARTICLE "\"}\n", 3);
    rc = th_genq(&t, in, &out, &err, "enqueue", "--json", "--no-compress", "-",
                 NULL);
    cr_assert_eq(rc, 0, "%s", err);
    enqueued_ids(out, id, 1);
    free(out);
    free(err);
    r = stored(id[0]);
    cr_assert_eq(r->str[meta_header_len(r->str)], '{', "%s", r->str);
    freeReplyObject(r);
}

/* The worker's intake stores a new job (no id, key or schedule) from the
 * inbox compressed, and runs it. */
Test(pack, intake_compresses_new_jobs)
{
    char doc[600], prompt[400], id[160], st[64], *ids[1] = {id}, *want;
    redisReply *r;
    cJSON *res;

    snprintf(prompt, sizeof(prompt), ARTICLE, 9);
    snprintf(doc, sizeof(doc), "{\"prompt\":\"%s\",\"max_tokens\":30}", prompt);
    freeReplyObject(redisCommand(t.c, "LPUSH %s %s", t.k.inbox, doc));
    {
        pid_t w = th_worker(&t, NULL, NULL);
        for (int i = 0;
             i < 400 && th_rint(&t, "HLEN %s", t.k.key[QK_JOBS]) == 0; i++)
            th_sleep_ms(50);
        r = redisCommand(t.c, "HKEYS %s", t.k.key[QK_JOBS]);
        cr_assert(r && r->type == REDIS_REPLY_ARRAY && r->elements == 1);
        snprintf(id, sizeof(id), "%s", r->element[0]->str);
        freeReplyObject(r);
        cr_assert_eq(th_wait_terminal(&t, ids, 1, 30), 1);
        th_stop(w);
    }
    r = stored(id);
    cr_assert(pack_is_packed(r->str + meta_header_len(r->str),
                             r->len - meta_header_len(r->str)),
              "stored compressed");
    freeReplyObject(r);
    cr_assert_str_eq(th_state(&t, id, st, NULL), "succeeded");
    res = th_result(&t, id);
    want = th_expected_text(prompt, (size_t)1 << 20);
    cr_assert_str_eq(th_str(res, "text"), want);
    free(want);
    cJSON_Delete(res);
}
