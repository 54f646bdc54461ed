/* genq enqueue: the bulk path of pass 2. Jobs of one bulk class (ids
 * generated here, so new; no idempotency key, no delay) go in one MULTI/EXEC
 * of plain variadic commands instead of a script; and the clock those jobs'
 * times are on (Redis TIME once, then the monotonic clock). */
#include "fmacros.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "enqueue.h"
#include "meta.h"
#include "rclient.h"

int
bulk_clock_init(struct enq *e)
{
    struct timespec ts;
    redisReply *r = redisCommand(e->cli.rc, "TIME");

    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_STRING) {
        if (r)
            freeReplyObject(r);
        return -1;
    }
    clock_gettime(CLOCK_MONOTONIC, &ts);
    e->srv_ms = strtoll(r->element[0]->str, NULL, 10) * 1000 +
                strtoll(r->element[1]->str, NULL, 10) / 1000;
    e->mono_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    freeReplyObject(r);
    return 0;
}

/* A wake-up's PUBLISH, or SPUBLISH on a Redis >= 7 cluster: the script
 * of oplib.lua's wake() for the bulk path (a plain command, not a genq
 * script: it runs inside the batch's MULTI). */
static const char wake_lua[] =
    "if redis.REDIS_VERSION_NUM and string.find(redis.call('INFO', "
    "'cluster'), 'cluster_enabled:1', 1, true) then return "
    "redis.call('SPUBLISH', KEYS[1], ARGV[1]) end return "
    "redis.call('PUBLISH', KEYS[1], ARGV[1])";

/* The bulk path (jobs of one bulk class: ids generated here, so new; no
 * idempotency key, no delay): one MULTI/EXEC of plain variadic commands
 * instead of a script, the cheapest way to store a job in Redis: each
 * stored value is the meta header (meta_format_header) and the
 * payload, no meta field (prelude.lua: job_header; oplib.lua: metas_get); the
 * ids onto the ready list; the enqueued count and rate; a wake. Reply
 * (finish_batch): +OK, 5 x +QUEUED, then EXEC's array. */
int
bulk_append(struct enq *e, struct rec *recs, int n, int jobs)
{
    struct buf *b = &e->out;
    struct qkeys *k = &e->cli.keys;
    char hdr[META_HEADER_MAX], num[24];
    int64_t now = bulk_now_ms(e);
    int hl = 0, prio = 0, rc = 0;
    size_t hlen;

    for (int i = 0; i < n && !hl; i++)
        if (recs[i].type == 'J') {
            prio = recs[i].prio;
            hl = meta_format_header(hdr, sizeof(hdr), recs[i].max_attempts,
                                    prio, now);
        }
    hlen = (size_t)hl;
    buf_reset(b);
    rc |= buf_append_str(b, "*1\r\n$5\r\nMULTI\r\n");
    rc |= resp_head(b, '*', 2 + 2 * (size_t)jobs);
    rc |= resp_str(b, "HSET") | resp_str(b, k->key[QK_JOBS]);
    for (int i = 0; i < n && !rc; i++) {
        size_t pl;
        if (recs[i].type != 'J')
            continue;
        pl = recs[i].payload_len;
        rc |= resp_str(b, recs[i].id);
        rc |= resp_head(b, '$', hlen + pl) | buf_append(b, hdr, hlen) |
              buf_append(b, recs[i].payload, pl) | buf_append(b, "\r\n", 2);
    }
    rc |= resp_head(b, '*', 2 + (size_t)jobs);
    rc |= resp_str(b, "LPUSH") | resp_str(b, k->key[QK_READY_HIGH + prio]);
    for (int i = 0; i < n && !rc; i++)
        if (recs[i].type == 'J')
            rc |= resp_str(b, recs[i].id);
    snprintf(num, sizeof(num), "%d", jobs);
    rc |= resp_head(b, '*', 4) | resp_str(b, "HINCRBY") |
          resp_str(b, k->key[QK_STATS]) | resp_str(b, "enqueued") |
          resp_str(b, num);
    snprintf(hdr, sizeof(hdr), "%" PRId64, now / 1000);
    rc |= resp_head(b, '*', 4) | resp_str(b, "HINCRBY") | resp_str(b, k->rate) |
          resp_str(b, hdr) | resp_str(b, num);
    /* the wake-up as oplib.lua's wake(): SPUBLISH on a Redis >= 7 cluster
     * (the workers SSUBSCRIBE there: worker/rsub.c), else PUBLISH; the
     * channel is passed as the key so that the cluster routes and checks it
     * like the queue's keys (one slot) */
    rc |= resp_head(b, '*', 5) | resp_str(b, "EVAL") | resp_str(b, wake_lua) |
          resp_str(b, "1") | resp_str(b, k->wake) | resp_str(b, num);
    rc |= buf_append_str(b, "*1\r\n$4\r\nEXEC\r\n");
    if (rc ||
        redisAppendFormattedCommand(e->cli.rc, b->data, b->len) != REDIS_OK)
        return -1;
    return jobs;
}

/* The replies of one bulk_append(): the EXEC array, checked. Returns it
 * (caller frees) or NULL after printing the problem. */
redisReply *
bulk_read(struct enq *e, int jobs)
{
    char err[512];
    redisReply *r = NULL;

    for (int i = 0; i < 7; i++) {
        if (r)
            freeReplyObject(r);
        r = rclient_read(e->cli.rc, err, sizeof(err));
        if (!r) {
            fprintf(stderr, "genq enqueue: %s\n", err);
            return NULL;
        }
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 5 ||
        r->element[0]->type != REDIS_REPLY_INTEGER ||
        r->element[0]->integer != jobs) {
        /* HSET counts new fields: fewer means an id was not new */
        fprintf(stderr, "genq enqueue: unexpected reply from Redis to a "
                        "bulk batch\n");
        freeReplyObject(r);
        return NULL;
    }
    return r;
}
