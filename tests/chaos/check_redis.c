/* chaos-check verify, the Redis side: the stats hash, the completion feed
 * (the events stream it replaced is no longer written) and the membership
 * of the queue's lists and sets, marked on the jobs. */
#include "fmacros.h"

#include <string.h>

#include "rclient.h"

#include "check.h"

/* ---- verify: Redis --------------------------------------------------------
 */

static redisReply *
cmd(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;

    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!r)
        chaos_die("redis: %s", c->errstr);
    if (r->type == REDIS_REPLY_ERROR)
        chaos_die("redis: %s", r->str);
    return r;
}

/* Marks every member of an array reply; returns the count. Members that
 * are not jobs of the soak are breaches of the "records agree" row. */
static long
mark(redisReply *r, size_t field_offset, const char *what)
{
    for (size_t i = 0; i < r->elements; i++) {
        const char *e = r->element[i]->str;
        char id[160];
        struct job *j;
        /* an inline job of a ready list (common/meta.h): "@ID|..." */
        if (e[0] == '@')
            snprintf(id, sizeof(id), "%.*s", (int)strcspn(e + 1, "|"), e + 1);
        else
            snprintf(id, sizeof(id), "%s", e);
        j = chaos_job_find(id);
        if (!j) {
            chaos_breach(I_ONE_STATE, id, "unknown id in %s", what);
            continue;
        }
        (*(int *)((char *)j + field_offset))++;
    }
    return (long)r->elements;
}

/* Count state st into one of *succ, *dead, *other. */
static void
count_state(const char *st, int *succ, int *dead, int *other)
{
    if (!strcmp(st, "succeeded"))
        (*succ)++;
    else if (!strcmp(st, "dead"))
        (*dead)++;
    else
        (*other)++;
}

/* A feed entry: v 1 id ID state ST queue Q [metadata M]. */
static void
on_feed(redisReply *f)
{
    const char *id = "", *st = "";
    struct job *j;

    for (size_t x = 0; x + 1 < f->elements; x += 2) {
        if (!strcmp(f->element[x]->str, "id"))
            id = f->element[x + 1]->str;
        else if (!strcmp(f->element[x]->str, "state"))
            st = f->element[x + 1]->str;
    }
    if (!(j = chaos_job_find(id)))
        chaos_breach(I_FEED, id,
                     "feed entry '%s' for an id the soak never "
                     "enqueued",
                     st);
    else
        count_state(st, &j->feed_succeeded, &j->feed_dead, &j->feed_other);
}

/* Call fn with the fields of every entry of stream key, 1,000 a page;
 * returns how many entries. */
static long
stream_each(redisContext *c, const char *key, void (*fn)(redisReply *))
{
    char start[64] = "-";
    long total = 0;

    for (;;) {
        redisReply *r = cmd(c, "XRANGE %s %s + COUNT 1000", key, start);
        size_t n = r->elements;
        for (size_t i = 0; i < n; i++) {
            fn(r->element[i]->element[1]);
            if (i + 1 == n)
                snprintf(start, sizeof(start), "(%s",
                         r->element[i]->element[0]->str);
        }
        total += (long)n;
        freeReplyObject(r);
        if (n < 1000)
            return total;
    }
}

/* The requests the held claim lists of the queue at prefix hold (layout
 * 5: a claimed inline job's is there while it is active or succeeded,
 * common/lua/prelude.lua K_HELD; moved to the jobs hash, its pair is
 * blanked): added to the jobs hash's, a copy left behind shows as one
 * request too many. */
static long
held_requests(redisContext *c, const char *prefix)
{
    char cursor[32] = "0";
    long n = 0;

    do {
        redisReply *r =
            cmd(c, "SCAN %s MATCH %sheld:* COUNT 1000", cursor, prefix);
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2)
            chaos_die("SCAN: unexpected reply");
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            redisReply *l =
                cmd(c, "LRANGE %s 0 -1", r->element[1]->element[i]->str);
            for (size_t j = 0; j + 1 < l->elements; j += 2)
                n += l->element[j]->len > 0;
            freeReplyObject(l);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0"));
    return n;
}

static long
stat_of(redisReply *h, const char *name)
{
    for (size_t i = 0; i + 1 < h->elements; i += 2)
        if (!strcmp(h->element[i]->str, name))
            return strtol(h->element[i + 1]->str, NULL, 10);
    return 0;
}

void
chaos_read_redis(const char *url, const char *queue, struct redis_view *rv)
{
    struct redis_url u;
    struct qkeys k;
    char err[256], feed[QUEUE_NAME_MAX + 32];
    redisContext *c;
    redisReply *r;

    if (redisurl_parse(url, &u, err, sizeof(err)) < 0)
        chaos_die("--redis: %s", err);
    if (qkeys_init(&k, queue) < 0)
        chaos_die("--queue: invalid queue name '%s'", queue);
    c = rclient_connect(&u, 10.0, err, sizeof(err));
    if (!c)
        chaos_die("redis: %s", err);

    r = cmd(c, "HKEYS %s", k.key[QK_RESULTS]);
    rv->results = mark(r, offsetof(struct job, in_results), "results");
    freeReplyObject(r);
    r = cmd(c, "ZRANGE %s 0 -1", k.key[QK_DEAD]);
    rv->dead = mark(r, offsetof(struct job, in_dead), "the dead set");
    freeReplyObject(r);
    r = cmd(c, "ZRANGEBYSCORE %s -inf (+inf", k.key[QK_LEASES]);
    mark(r, offsetof(struct job, in_leases), "the leases");
    freeReplyObject(r);
    r = cmd(c, "ZRANGE %s 0 -1", k.key[QK_DELAYED]);
    mark(r, offsetof(struct job, in_delayed), "the delayed set");
    freeReplyObject(r);
    for (int p = QK_READY_HIGH; p <= QK_READY_LOW; p++) {
        r = cmd(c, "LRANGE %s 0 -1", k.key[p]);
        mark(r, offsetof(struct job, in_ready), "a ready list");
        freeReplyObject(r);
    }
    r = cmd(c, "HLEN %s", k.key[QK_JOBS]);
    rv->jobs_hash = (long)r->integer + held_requests(c, k.prefix);
    freeReplyObject(r);
    r = cmd(c, "HLEN %sheld", k.prefix);
    rv->held_claims = (long)r->integer;
    freeReplyObject(r);

    snprintf(feed, sizeof(feed), "%s" QKEY_FEED, k.prefix);
    rv->feed_entries = stream_each(c, feed, on_feed);

    rv->stats = cmd(c, "HGETALL %s", k.key[QK_STATS]);
    rv->stat_enq = stat_of(rv->stats, "enqueued");
    rv->stat_succ = stat_of(rv->stats, "succeeded");
    rv->stat_dead = stat_of(rv->stats, "dead");
    rv->stat_canceled = stat_of(rv->stats, "canceled");
    rv->stat_retried = stat_of(rv->stats, "retried");
    rv->stat_requeued = stat_of(rv->stats, "requeued");
    rv->stat_failed = stat_of(rv->stats, "failed");
    rv->stat_lease = stat_of(rv->stats, "lease_expired");
    redisFree(c);
}
