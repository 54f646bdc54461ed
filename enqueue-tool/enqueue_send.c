/* genq enqueue: pass 2. Reads the spool back in input order and sends the
 * jobs in pipelined batches of one class each (the enqueue script, or the
 * bulk path of enqueue_bulk.c), reporting every line in order; or, when
 * nothing is to be sent, reports the lines pass 1 found. */
#include "fmacros.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "enqueue.h"
#include "rclient.h"

static void
print_line(struct enq *e, long line, const char *id, const char *status,
           const char *field, const char *msg)
{
    if (e->cli.json) {
        cJSON *o = cJSON_CreateObject(), *err;
        if (!o)
            return;
        cJSON_AddNumberToObject(o, "line", (double)line);
        if (id)
            cJSON_AddStringToObject(o, "id", id);
        else
            cJSON_AddNullToObject(o, "id");
        cJSON_AddStringToObject(o, "status", status);
        if (msg) {
            err = cJSON_AddObjectToObject(o, "error");
            if (err) {
                cJSON_AddStringToObject(err, "field", field ? field : "");
                cJSON_AddStringToObject(err, "message", msg);
            }
        } else {
            cJSON_AddNullToObject(o, "error");
        }
        cli_print_json(o);
    } else if (msg) {
        if (field && *field)
            fprintf(stderr, "line %ld: %s: %s\n", line, field, msg);
        else
            fprintf(stderr, "line %ld: %s\n", line, msg);
    }
}

/* A batch slot holds up to batch jobs plus the rejected lines between
 * them (--skip-invalid), so every line is reported in input order. */
#define SLOT_CAP(e) (2 * (e)->batch)

/* The class of a job record: jobs of one class can share a bulk call. 0 =
 * not bulk (the script: append_batch() picks its form). */
static long
rec_class(const struct rec *r)
{
    return r->bulk ? 1 + r->prio + 3L * r->max_attempts : 0;
}

/* Whether the jobs among recs[0..n) go by bulk_append (all of one bulk
 * class, which send_all() ensures). */
static int
batch_is_bulk(const struct rec *recs, int n)
{
    for (int i = 0; i < n; i++)
        if (recs[i].type == 'J')
            return recs[i].bulk;
    return 0;
}

/* Send the jobs among recs[0..n) as one script call (appended, not read).
 * Returns how many jobs were sent (0 = nothing to send), -1 on OOM. */
static int
append_batch(struct enq *e, struct rec *recs, int n)
{
    int jobs = 0, echoes = 0, j = 0, k = 0, rc;
    const char **av;
    size_t *al;
    char(*num)[5][24];
    char ttl[24], cnt[24], necho[24];

    for (int i = 0; i < n; i++) {
        jobs += recs[i].type == 'J';
        echoes += recs[i].type == 'J' && recs[i].notify;
    }
    if (jobs == 0)
        return 0;
    if (batch_is_bulk(recs, n))
        return bulk_append(e, recs, n, jobs);
    if (batch_is_lean(recs, n))
        return lean_append(e, recs, n, jobs);
    av = malloc(sizeof(*av) * (size_t)(3 + jobs * 7 + echoes * 2));
    al = malloc(sizeof(*al) * (size_t)(3 + jobs * 7 + echoes * 2));
    num = malloc(sizeof(*num) * (size_t)jobs);
    if (!av || !al || !num) {
        free(av);
        free(al);
        free(num);
        return -1;
    }
/* each argument with its length: a payload is binary when compressed */
#define ARG(s, l) (av[j] = (s), al[j] = (l), j++)
#define ARGS(s)   ARG((s), strlen(s))
    snprintf(ttl, sizeof(ttl), "%d", e->idem_ttl);
    snprintf(cnt, sizeof(cnt), "%d", jobs);
    snprintf(necho, sizeof(necho), "%d", echoes);
    ARGS(ttl);
    ARGS(cnt);
    for (int i = 0; i < n; i++) {
        if (recs[i].type != 'J')
            continue;
        snprintf(num[k][0], 24, "%d", recs[i].prio);
        snprintf(num[k][1], 24, "%" PRId64, recs[i].run_at);
        snprintf(num[k][2], 24, "%" PRId64, recs[i].delay);
        snprintf(num[k][3], 24, "%d", recs[i].max_attempts);
        snprintf(num[k][4], 24, "%d", k + 1); /* its index in the script */
        ARGS(recs[i].id);
        ARGS(num[k][0]);
        ARGS(num[k][1]);
        ARGS(num[k][2]);
        ARGS(num[k][3]);
        ARGS(recs[i].idem);
        ARG(recs[i].payload, recs[i].payload_len);
        k++;
    }
    /* the notify section of enqueue.lua: count, (index, echo) pairs */
    ARGS(necho);
    k = 0;
    for (int i = 0; i < n; i++) {
        if (recs[i].type != 'J')
            continue;
        if (recs[i].notify) {
            ARGS(num[k][4]);
            ARGS(recs[i].notify);
        }
        k++;
    }
#undef ARG
#undef ARGS
    rc = rclient_append_script(e->cli.rc, SCRIPT_ENQUEUE, &e->cli.keys, j, av,
                               al);
    free(av);
    free(al);
    free(num);
    return rc < 0 ? -1 : jobs;
}

/* Read the reply of one batch (when it sent jobs) and report each of its
 * lines in order. */
static int
finish_batch(struct enq *e, struct rec *recs, int n, int jobs)
{
    char err[512];
    redisReply *r = NULL;
    int k = 0;

    if (jobs > 0 && batch_is_bulk(recs, n)) {
        r = bulk_read(e, jobs);
        if (!r)
            return -1;
    } else if (jobs > 0) {
        r = rclient_read(e->cli.rc, err, sizeof(err));
        if (!r) {
            fprintf(stderr, "genq enqueue: %s\n", err);
            return -1;
        }
        if (r->type != REDIS_REPLY_ARRAY || (int)r->elements != jobs) {
            freeReplyObject(r);
            fprintf(stderr, "genq enqueue: unexpected reply from Redis\n");
            return -1;
        }
    }
    for (int i = 0; i < n; i++) {
        redisReply *p;
        int dup;
        const char *id;

        if (recs[i].type == 'R') {
            print_line(e, recs[i].line, NULL, "rejected", recs[i].field,
                       recs[i].msg);
            continue;
        }
        if (recs[i].type == 'S') { /* made ready by the commit */
            e->enqueued++;
            if (e->cli.json)
                print_line(e, recs[i].line, recs[i].id, "enqueued", NULL, NULL);
            continue;
        }
        if (!r)
            return -1; /* cannot happen: a job line means a reply was read */
        if (batch_is_bulk(recs, n)) { /* all enqueued: bulk_read() */
            e->enqueued++;
            if (e->cli.json)
                print_line(e, recs[i].line, recs[i].id, "enqueued", NULL, NULL);
            continue;
        }
        p = r->element[k++];
        /* the lean form answers 1 (enqueued) or 0 (duplicate: same id) */
        dup = p->type == REDIS_REPLY_INTEGER
                  ? p->integer == 0
                  : p->type == REDIS_REPLY_ARRAY && p->elements == 2 &&
                        !strcmp(p->element[0]->str, "duplicate");
        id = p->type == REDIS_REPLY_ARRAY && p->elements == 2
                 ? p->element[1]->str
                 : recs[i].id;
        if (dup)
            e->duplicates++;
        else
            e->enqueued++;
        if (e->cli.json)
            print_line(e, recs[i].line, id, dup ? "duplicate" : "enqueued",
                       NULL, NULL);
    }
    if (n > 0)
        e->done_line = recs[n - 1].line;
    if (r)
        freeReplyObject(r);
    if (e->progress) {
        fprintf(stderr, "\renqueued %ld/%ld", e->enqueued + e->duplicates,
                e->valid);
        fflush(stderr);
    }
    return 0;
}

struct window {
    struct rec *recs;
    int *count, *jobs;
    int head, used, slots;
};

/* Finish the oldest batch of the window and free its slot. */
static int
drain_one(struct enq *e, struct window *w)
{
    struct rec *recs = &w->recs[w->head * SLOT_CAP(e)];
    int rc = finish_batch(e, recs, w->count[w->head], w->jobs[w->head]);

    for (int i = 0; i < w->count[w->head]; i++)
        spool_rec_clear(&recs[i]);
    w->count[w->head] = w->jobs[w->head] = 0;
    w->head = (w->head + 1) % w->slots;
    w->used--;
    return rc;
}

/* Redis failed mid-way: say exactly which lines are known to be in. */
static int
partial_failure(struct enq *e)
{
    if (e->done_line > 0)
        fprintf(stderr,
                "genq enqueue: stopped: every line up to %ld is enqueued "
                "(%ld jobs, %ld duplicates); lines after %ld may or may not "
                "be. Resend from line %ld (e.g. tail -n +%ld FILE): jobs "
                "with an id or idempotency_key are safe to send twice.\n",
                e->done_line, e->enqueued, e->duplicates, e->done_line,
                e->done_line + 1, e->done_line + 1);
    else
        fprintf(stderr, "genq enqueue: stopped before any line was "
                        "confirmed enqueued; lines sent may or may not be "
                        "in (jobs with an id or idempotency_key are safe to "
                        "send again)\n");
    return EXIT_FAIL;
}

/* Send the fill records of window slot cur as one call; the slot then
 * counts as in flight. -1 on out-of-memory. */
static int
send_slot(struct enq *e, struct window *w, int cur, int fill)
{
    int sent = append_batch(e, &w->recs[cur * SLOT_CAP(e)], fill);

    /* sent now, not with the next read: Redis works while we build the
     * next batch (an I/O error shows at that read) */
    if (sent > 0)
        (void)rclient_flush(e->cli.rc);
    w->count[cur] = fill;
    w->jobs[cur] = sent < 0 ? 0 : sent;
    w->used++;
    return sent < 0 ? -1 : 0;
}

int
send_all(struct enq *e)
{
    struct window w = {0};
    struct rec r;
    int rc = 0, got, fill = 0, fill_jobs = 0, cur = 0, cap = SLOT_CAP(e);
    long cls = 0;
    redisReply *rep;

    w.slots = PIPELINE_WINDOW;
    w.recs = calloc((size_t)w.slots * (size_t)cap, sizeof(struct rec));
    w.count = calloc((size_t)w.slots, sizeof(int));
    w.jobs = calloc((size_t)w.slots, sizeof(int));
    if (!w.recs || !w.count || !w.jobs) {
        free(w.recs);
        free(w.count);
        free(w.jobs);
        return cli_fail("enqueue", "out of memory");
    }
    rep = rclient_command(cli_rc(&e->cli, KEY_QUEUES), "SADD %s %s", KEY_QUEUES,
                          e->cli.queue);
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        rc = cli_redis_fail(&e->cli, "enqueue", rep, NULL);
        goto out;
    }
    freeReplyObject(rep);
    if (bulk_clock_init(e) < 0) {
        rc = cli_fail("enqueue", "redis: TIME failed: %s",
                      e->cli.rc->errstr[0] ? e->cli.rc->errstr
                                           : "unexpected reply");
        goto out;
    }
    for (;;) {
        got = spool_next(e, &r);
        if (got < 0) {
            rc = cli_fail("enqueue", "reading the spool file failed");
            goto out;
        }
        /* a batch holds jobs of one class: close it before another */
        if (got == 1 && r.type == 'J' && fill_jobs > 0 &&
            rec_class(&r) != cls) {
            if (send_slot(e, &w, cur, fill) < 0) {
                spool_rec_clear(&r);
                rc = cli_fail("enqueue", "out of memory");
                goto out;
            }
            fill = fill_jobs = 0;
        }
        if (got == 1) {
            if (r.type == 'J')
                cls = rec_class(&r);
            if (fill == 0) {
                if (w.used == w.slots && drain_one(e, &w) < 0) {
                    spool_rec_clear(&r);
                    rc = partial_failure(e);
                    goto out;
                }
                cur = (w.head + w.used) % w.slots;
            }
            fill_jobs += r.type == 'J';
            w.recs[cur * cap + fill++] = r;
        }
        if (fill_jobs == e->batch || fill == cap || (got == 0 && fill > 0)) {
            if (send_slot(e, &w, cur, fill) < 0) {
                rc = cli_fail("enqueue", "out of memory");
                goto out;
            }
            fill = fill_jobs = 0;
        }
        if (got == 0)
            break;
    }
    while (w.used > 0)
        if (drain_one(e, &w) < 0) {
            rc = partial_failure(e);
            goto out;
        }
out:
    for (int i = 0; i < w.slots * cap; i++)
        spool_rec_clear(&w.recs[i]);
    free(w.recs);
    free(w.count);
    free(w.jobs);
    return rc;
}

int
send_report_unsent(struct enq *e)
{
    struct rec r;
    int got;

    while ((got = spool_next(e, &r)) == 1) {
        if (r.type == 'R')
            print_line(e, r.line, NULL, "rejected", r.field, r.msg);
        else if (e->cli.json)
            print_line(e, r.line, r.id, "valid", NULL, NULL);
        spool_rec_clear(&r);
    }
    if (got < 0)
        return cli_fail("enqueue", "reading the spool file failed");
    if (!e->cli.json) {
        if (e->rejected && !e->dry_run)
            fprintf(stderr,
                    "genq enqueue: %ld of %ld lines rejected; nothing "
                    "enqueued (fix them, or use --skip-invalid)\n",
                    e->rejected, e->total);
        else
            fprintf(stderr, "%ld valid, %ld rejected (dry run)\n", e->valid,
                    e->rejected);
    }
    return e->rejected ? EXIT_FAIL : EXIT_OK;
}
