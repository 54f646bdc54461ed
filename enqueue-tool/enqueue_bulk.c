/* genq enqueue: the bulk path of pass 2. Jobs of one bulk class (ids
 * generated here, so new; no idempotency key, no delay) go in one MULTI/EXEC
 * of plain variadic commands instead of a script, each job inline in its
 * ready list (meta.h); and the clock those jobs' times are on (Redis TIME
 * once, then the monotonic clock). */
#include "fmacros.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
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

/* Append inline job "@ID|" hdr payload (meta.h) to b as one RESP bulk
 * string: hdr is the batch's bulk header (meta_format_header: one class per
 * batch, formatted once), hlen its length. 0, or -1 on out of memory. */
int
inline_append(struct buf *b, const char *id, size_t idlen, const char *hdr,
              size_t hlen, const char *payload, size_t pl)
{
    size_t len = 2 + idlen + hlen + pl, dl = 0;
    char digits[24], *p;

    /* by hand, one capacity check: this runs once per job */
    for (size_t v = len; dl == 0 || v; v /= 10)
        digits[sizeof(digits) - ++dl] = (char)('0' + v % 10);
    if (!(p = buf_grow(b, 1 + dl + 2 + len + 2)))
        return -1;
    *p++ = '$';
    memcpy(p, digits + sizeof(digits) - dl, dl);
    p += dl;
    *p++ = '\r';
    *p++ = '\n';
    *p++ = META_INLINE_MARK;
    memcpy(p, id, idlen);
    p += idlen;
    *p++ = '|';
    memcpy(p, hdr, hlen);
    p += hlen;
    memcpy(p, payload, pl);
    p += pl;
    *p++ = '\r';
    *p = '\n';
    return 0;
}

int
bulk_writev(struct enq *e, struct iovec *iov, int n)
{
    redisContext *c = e->cli.rc;

    if (rclient_flush(c) < 0) /* what hiredis holds goes first */
        return -1;
    while (n > 0) {
        ssize_t w = writev(c->fd, iov, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(c->errstr, sizeof(c->errstr), "%s",
                     w < 0 ? strerror(errno) : "connection closed");
            c->err = REDIS_ERR_IO; /* the context is unusable now */
            return -1;
        }
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

/* The bulk path (jobs of one bulk class: ids generated here, so new; no
 * idempotency key, no delay): one MULTI/EXEC of plain variadic commands
 * instead of a script, the cheapest way to store a job in Redis: one LPUSH
 * of the jobs inline (inline_append; prelude.lua: inline jobs), nothing in
 * the jobs or meta hash; the enqueued count and rate; a wake. Reply
 * (finish_batch): +OK, 4 x +QUEUED, then EXEC's array. */
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
    rc |= resp_head(b, '*', 2 + (size_t)jobs);
    rc |= resp_str(b, "LPUSH") | resp_str(b, k->key[QK_READY_HIGH + prio]);
    for (int i = 0; i < n && !rc; i++)
        if (recs[i].type == 'J')
            rc |= inline_append(b, recs[i].id, strlen(recs[i].id), hdr, hlen,
                                recs[i].payload, recs[i].payload_len);
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

    for (int i = 0; i < 6; i++) {
        if (r)
            freeReplyObject(r);
        r = rclient_read(e->cli.rc, err, sizeof(err));
        if (!r) {
            fprintf(stderr, "genq enqueue: %s\n", err);
            return NULL;
        }
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 4 ||
        r->element[0]->type != REDIS_REPLY_INTEGER ||
        r->element[0]->integer < jobs) {
        /* LPUSH answers the list's length: at least the jobs pushed */
        fprintf(stderr, "genq enqueue: unexpected reply from Redis to a "
                        "bulk batch\n");
        freeReplyObject(r);
        return NULL;
    }
    return r;
}
