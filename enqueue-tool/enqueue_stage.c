/* genq enqueue: staging. Reading a regular file, pass 1 also stores the
 * bulk jobs (ids generated here, no idempotency key, no delay) as it
 * validates them, so Redis works while the file is still being read: they
 * go inline (common/meta.h) onto the run's stage lists (stage.lua),
 * invisible to everyone. Pass 2 then makes them ready in one
 * step (commit), or, when a line was bad, deletes them (drop). A run killed
 * meanwhile leaves them to maintain.lua, which deletes them after an hour
 * without news from the run. */
#include "fmacros.h"

#include <inttypes.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include "enqueue.h"
#include "meta.h"
#include "rclient.h"
#include "uuid.h"

/* Read the replies of the oldest staging batch in flight: +OK, QUEUED x2,
 * then EXEC's {list length, registry}. -1 after printing. */
static int
stage_read_one(struct enq *e)
{
    struct stage *st = &e->st;
    char err[512], first[512] = "";
    redisReply *r = NULL;
    int n = st->sent[st->head];

    /* all four, error replies too (OOM, EXECABORT): the next batch's
     * replies follow */
    for (int i = 0; i < 4; i++) {
        if (r)
            freeReplyObject(r);
        r = rclient_read(e->cli.rc, err, sizeof(err));
        if (!r && e->cli.rc->err) {
            if (!st->quiet)
                fprintf(stderr, "genq enqueue: staging: %s\n", err);
            st->broken = 1;
            return -1;
        }
        if (!r && !first[0])
            snprintf(first, sizeof(first), "%s", err);
    }
    st->head = (st->head + 1) % PIPELINE_WINDOW; /* its replies are read */
    st->inflight--;
    if (first[0]) {
        if (!st->quiet)
            fprintf(stderr, "genq enqueue: staging: %s\n", first);
        if (r)
            freeReplyObject(r);
        st->broken = 1;
        return -1;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER ||
        r->element[0]->integer < n) {
        /* EXEC runs every command: an error (WRONGTYPE...) is an element */
        const char *why = r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
                                  r->element[0]->type == REDIS_REPLY_ERROR
                              ? r->element[0]->str
                              : "unexpected reply";
        if (!st->quiet)
            fprintf(stderr, "genq enqueue: staging: Redis: %s\n", why);
        freeReplyObject(r);
        st->broken = 1;
        return -1;
    }
    freeReplyObject(r);
    st->staged += n;
    return 0;
}

/* Send the batch being built: MULTI, LPUSH stage list (the jobs inline),
 * HSET registry (the run's last news), EXEC; read the oldest batch's replies
 * when the window is full. -1 on failure (printed). */
static int
stage_flush(struct enq *e)
{
    struct stage *st = &e->st;
    struct buf *b = &st->out;
    char now[24];
    struct iovec iov[3];
    size_t head;
    int rc = 0;

    if (st->n == 0)
        return 0;
    if (st->inflight == PIPELINE_WINDOW && stage_read_one(e) < 0)
        return -1;
    snprintf(now, sizeof(now), "%" PRId64, bulk_now_ms(e));
    buf_reset(b);
    rc |= buf_append_str(b, "*1\r\n$5\r\nMULTI\r\n");
    rc |= resp_head(b, '*', 2 + (size_t)st->n) | resp_str(b, "LPUSH") |
          resp_str(b, st->key[st->prio]);
    head = b->len; /* then the jobs, sent from st->ids as they are */
    rc |= resp_head(b, '*', 4) | resp_str(b, "HSET") | resp_str(b, st->reg) |
          resp_str(b, st->run) | resp_str(b, now);
    rc |= buf_append_str(b, "*1\r\n$4\r\nEXEC\r\n");
    if (rc) {
        fprintf(stderr, "genq enqueue: staging: out of memory\n");
        st->broken = 1;
        return -1;
    }
    iov[0].iov_base = b->data;
    iov[0].iov_len = head;
    iov[1].iov_base = st->ids.data;
    iov[1].iov_len = st->ids.len;
    iov[2].iov_base = b->data + head;
    iov[2].iov_len = b->len - head;
    if (bulk_writev(e, iov, 3) < 0) { /* Redis works while we validate */
        if (!st->quiet)
            fprintf(stderr, "genq enqueue: staging: redis: %s\n",
                    e->cli.rc->errstr);
        st->broken = 1;
        return -1;
    }
    st->sent[(st->head + st->inflight) % PIPELINE_WINDOW] = st->n;
    st->inflight++;
    st->n = 0;
    buf_reset(&st->ids);
    return 0;
}

/* Add a validated bulk job to the batch (one class per batch: the header
 * names its max_attempts and priority). -1 on failure (printed). */
int
stage_job(struct enq *e, const struct job_info *in)
{
    struct stage *st = &e->st;
    int64_t now;
    const char *v;
    size_t vl;
    int rc;

    if (st->n > 0 && (st->n == e->batch || in->prio != st->prio ||
                      in->max_attempts != st->max_attempts))
        if (stage_flush(e) < 0)
            return -1;
    st->prio = in->prio;
    st->max_attempts = in->max_attempts;
    now = bulk_now_ms(e);
    if (st->hlen == 0 || now != st->hdr_ms || st->n == 0) /* once per ms */
        st->hlen = meta_format_header(st->hdr, sizeof(st->hdr),
                                      in->max_attempts, in->prio, now);
    st->hdr_ms = now;
    v = enq_pack(e, in->id, NULL, in->text, in->text_len, &vl);
    /* enq_pack never fails: at worst it hands back the JSON itself */
    rc = inline_append(&st->ids, in->id, 36, st->hdr, (size_t)st->hlen, v, vl);
    if (rc) {
        fprintf(stderr, "genq enqueue: staging: out of memory\n");
        st->broken = 1;
        return -1;
    }
    st->n++;
    return 0;
}

/* Start staging: a run id, its keys, its registration. 0, or -1 (then
 * no staging: the caller goes on without it). */
int
stage_begin(struct enq *e)
{
    struct stage *st = &e->st;
    const struct qkeys *k = &e->cli.keys;
    redisReply *r;

    if (bulk_clock_init(e) < 0)
        return -1;
    uuid7_new(st->run);
    snprintf(st->reg, sizeof(st->reg), "%s", k->staging);
    for (int p = 0; p < 3; p++)
        qkeys_stage(k, st->run, p, st->key[p], sizeof(st->key[p]));
    /* plain redisCommand(), not rclient_command(): the registration must
     * be on the node the staging pipeline (e->cli.rc, which does not follow
     * a redirection) writes to; refused, staging is off */
    r = redisCommand(e->cli.rc, "HSET %s %s %lld", st->reg, st->run,
                     (long long)bulk_now_ms(e));
    if (!r || r->type != REDIS_REPLY_INTEGER) {
        if (r)
            freeReplyObject(r);
        st->run[0] = '\0'; /* not staging */
        return -1;
    }
    freeReplyObject(r);
    st->on = 1;
    return 0;
}

/* Send the last batch and read every reply. -1 on failure (printed). */
int
stage_sync(struct enq *e)
{
    if (e->st.broken || stage_flush(e) < 0)
        return -1;
    while (e->st.inflight > 0)
        if (stage_read_one(e) < 0)
            return -1;
    return 0;
}

/* Run stage.lua in mode ("commit" or "drop") until nothing is left staged.
 * *done counts the ids handled. 0, or -1 with the problem in err. */
int
stage_end(struct enq *e, const char *mode, long *done, char *err, size_t errlen)
{
    char expected[24];
    const char *av[4] = {mode, e->st.run, "10000", expected};
    int ac = strcmp(mode, "commit") ? 3 : 4; /* the first commit call checks
                                                 that nothing went missing */

    snprintf(expected, sizeof(expected), "%ld", e->st.staged);
    *done = 0;
    for (;;) {
        redisReply *r = rclient_script(e->cli.rc, SCRIPT_STAGE, &e->cli.keys,
                                       ac, av, NULL, err, errlen);
        ac = 3;
        long left;
        if (!r)
            return -1;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_INTEGER ||
            r->element[1]->type != REDIS_REPLY_INTEGER) {
            freeReplyObject(r);
            snprintf(err, errlen, "unexpected reply from Redis");
            return -1;
        }
        *done += (long)r->element[0]->integer;
        left = (long)r->element[1]->integer;
        freeReplyObject(r);
        if (left == 0)
            return 0;
    }
}

/* Undo the staging after a failure or a bad line: best effort (the
 * maintenance sweep deletes what is left an hour later). */
void
stage_drop(struct enq *e)
{
    char err[512];
    long done;

    if (!e->st.run[0])
        return;
    if (!e->cli.rc || e->cli.rc->err) {
        if (e->st.staged > 0 || e->st.inflight > 0)
            fprintf(stderr, "genq enqueue: the jobs staged so far are not "
                            "enqueued; the workers' maintenance deletes "
                            "them within an hour\n");
        return;
    }
    e->st.quiet = 1;
    while (e->st.inflight > 0 && !e->cli.rc->err) /* replies in order */
        (void)stage_read_one(e);
    if (e->cli.rc->err || stage_end(e, "drop", &done, err, sizeof(err)) < 0)
        fprintf(stderr,
                "genq enqueue: the jobs staged so far could not be removed "
                "(%s); they are not enqueued, and the workers' maintenance "
                "deletes them within an hour\n",
                e->cli.rc->err ? e->cli.rc->errstr : err);
}
