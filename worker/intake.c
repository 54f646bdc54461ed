/* intake: the inbox intake of every queue this worker serves (README "Producers
 * and consumers in any language"). Producers LPUSH job documents onto
 * genq:{Q}:inbox; one worker at a time per queue (the holder of
 * genq:{Q}:inbox:lock, taken with SET NX PX and fenced by its token) reads the
 * inbox's last N entries (--intake-batch), takes the oldest of them up to
 * ROUND_BYTES_MAX bytes (at least one), validates each exactly as `genq
 * enqueue` does (job_parse_info), and sends one intake.lua call that enqueues
 * the valid ones, files the others under genq:{Q}:rejected and trims the
 * entries taken off the inbox -- atomically, so an entry is still in the inbox,
 * or admitted, or rejected, never lost or doubled. A worker killed mid-round
 * leaves the entries in place; the next lock holder (the lock's lease,
 * INTAKE_LEASE_MS, runs out) takes them.
 *
 * Each queue is a small state machine driven by its own timer: no lock ->
 * SET NX PX; lock -> LRANGE -> (validate) intake.lua -> again at once
 * while full batches come, else after --intake-interval, doubling to
 * INTAKE_IDLE_MAX while the inbox is empty. One step in flight per queue. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "job.h"
#include "meta.h"
#include "pack.h"
#include "jsonw.h"
#include "log.h"
#include "timefmt.h"
#include "utf8.h"
#include "uuid.h"
#include "worker_int.h"

#define INTAKE_LEASE_MS 10000   /* the lock's lease; renewed by every round */
#define INTAKE_IDLE_MAX 1.0     /* longest poll interval (inbox empty) */
#define INTAKE_IDEM_TTL "86400" /* genq enqueue's --idem-ttl default */
/* Bytes of an entry kept in its rejection document. */
#define REJECT_ENTRY_MAX (64 * 1024)
/* Entry bytes of one round, at most (at least one entry): one script call
 * stays far below Redis's query buffer limit. */
#define ROUND_BYTES_MAX (32 << 20)

struct iq {
    struct intake *in;
    int qi;
    char token[40];       /* our lock token while we hold the lock, else "" */
    unsigned long seq;    /* the round number the next call expects */
    unsigned long seq_ok; /* the lock value's round after the last call
                            Redis applied */
    int inflight;         /* commands sent whose replies are due */
    int broken;           /* a call failed: ignore the rest of the chain */
    int capped;           /* this round took fewer entries than it read */
    double wait;          /* the current poll interval */
    ev_tstamp renewed;    /* the lock's lease was last set then */
    int64_t srv_ms;       /* Redis TIME read after taking the lock (0: not
                             yet) */
    int64_t mono_ms;      /* this host's monotonic clock then */
    ev_timer t;
};

struct intake {
    struct worker *w;
    struct job_opts jo;
    int stopped;
    int nq;
    struct iq q[WORKER_MAX_QUEUES];
};

static void step(struct iq *q);
static void settle(struct iq *q, double next);

/* Run the next step of q after s seconds. */
static void
again(struct iq *q, double s)
{
    struct intake *in = q->in;

    if (in->stopped)
        return;
    ev_timer_stop(in->w->loop, &q->t);
    ev_timer_set(&q->t, s, 0.);
    ev_timer_start(in->w->loop, &q->t);
}

static void
on_timer(EV_P_ ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    step(t->data);
}

/* A rejection document (README): {"v":1,"entry":...,"field":...,
 * "error":...,"rejected_at":...,"worker":...}, the entry cut at
 * REJECT_ENTRY_MAX bytes (then "entry_bytes" gives its size) and invalid
 * UTF-8 in it replaced by U+FFFD. Appended to b; -1 on out of memory. */
static int
reject_doc(struct buf *b, const char *entry, size_t len,
           const struct job_err *err, const char *at, const char *worker)
{
    struct buf clean;
    size_t n = len > REJECT_ENTRY_MAX ? REJECT_ENTRY_MAX : len, i = 0, off;
    char num[32];
    int rc = 0;

    if (n < len)
        n = utf8_truncate(entry, n); /* not inside a character */
    buf_init(&clean, 0);
    while (i < n && !rc) {
        if (utf8_check(entry + i, n - i, &off)) {
            rc |= buf_append(&clean, entry + i, n - i);
            break;
        }
        rc |= buf_append(&clean, entry + i, off);
        rc |= buf_append(&clean, "\xEF\xBF\xBD", 3);
        i += off + 1;
    }
    snprintf(num, sizeof(num), "%d", INBOX_PROTOCOL);
    rc |= buf_append_str(b, "{\"v\":") | buf_append_str(b, num);
    rc |= buf_append_str(b, ",\"entry\":") |
          jsonw_str(b, clean.data ? clean.data : "", clean.len);
    buf_free(&clean);
    if (n < len) {
        snprintf(num, sizeof(num), "%zu", len);
        rc |= jsonw_field(b, "entry_bytes", num);
    }
    rc |= buf_append_str(b, ",\"field\":") |
          jsonw_str(b, err->field, strlen(err->field));
    rc |= buf_append_str(b, ",\"error\":") |
          jsonw_str(b, err->msg, strlen(err->msg));
    rc |= buf_append_str(b, ",\"rejected_at\":") | jsonw_str(b, at, strlen(at));
    rc |= buf_append_str(b, ",\"worker\":") |
          jsonw_str(b, worker, strlen(worker)) | buf_append_str(b, "}");
    return rc ? -1 : 0;
}

static int64_t
mono_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Now on Redis's clock (enqueued_at of the new jobs' meta header, as the
 * scripts' now_ms()): its TIME read after the lock was taken, carried on by
 * the monotonic clock; this host's clock until that reply came. */
static int64_t
iq_now_ms(const struct iq *q)
{
    return q->srv_ms ? q->srv_ms + mono_now_ms() - q->mono_ms : time_now_ms();
}

static void
on_time(struct rconn *c, redisReply *r, void *pd)
{
    struct iq *q = pd;

    (void)c;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING &&
        r->element[1]->type == REDIS_REPLY_STRING) {
        q->srv_ms = strtoll(r->element[0]->str, NULL, 10) * 1000 +
                    strtoll(r->element[1]->str, NULL, 10) / 1000;
        q->mono_ms = mono_now_ms();
    }
    settle(q, q->token[0] ? 0. : INTAKE_IDLE_MAX); /* after on_lock */
}

/* The lock value the next call of q expects, and the one it leaves. */
static void
lock_values(const struct iq *q, char expect[64], char next[64])
{
    snprintf(expect, 64, "%s:%lu", q->token, q->seq);
    snprintf(next, 64, "%s:%lu", q->token, q->seq + 1);
}

/* 1 when the job takes intake.lua's cheaper path for new jobs (oplib.lua
 * enqueue_new): its id generated here, no idempotency key, no schedule. */
static int
job_is_new(const struct job_info *ji)
{
    return ji->id_generated && !ji->idem && !ji->run_at_ms && !ji->delay_ms;
}

/* One round's arguments for intake.lua (see its header), built from the
 * entries read; every string is owned here (or borrowed from the LRANGE
 * reply, which outlives the call) until round_free(). */
struct round {
    int nread, njobs, nrej, necho;
    struct job_info *jobs;
    char (*num)[5][24]; /* per job: prio run_at delay max_attempts index */
    char lease[24], nread_s[24], nrej_s[24];
    char expect[64], next[64];       /* the lock values "TOKEN:ROUND" */
    char cnt[2][24], necho_s[2][24]; /* per class (job_is_new) */
    char mcnt[3][24];                /* new jobs per priority */
    struct buf vals;  /* the new jobs' stored values back to back */
    size_t (*val)[2]; /* job i's value: offset in vals, length */
    struct buf docs;  /* the rejection documents back to back */
    size_t *doc_end;  /* end offset of each in docs */
    const char **av;
    size_t *avlen;
    int ac;
};

static void
round_free(struct round *r)
{
    for (int i = 0; i < r->njobs; i++)
        job_info_free(&r->jobs[i]);
    free(r->jobs);
    free(r->num);
    buf_free(&r->docs);
    free(r->doc_end);
    buf_free(&r->vals);
    free(r->val);
    free(r->av);
    free(r->avlen);
}

/* Append the new jobs' section of intake.lua's arguments at r->av[*k]: the
 * count of each priority, the (id, stored value) pairs in priority order
 * -- the value is what `genq enqueue`'s bulk path stores, the meta header
 * (meta_format_header, on Redis's clock: iq_now_ms) then the job,
 * compressed when that pays (pack.h; the other jobs stay plain) -- then
 * their notify section (indexes in that order). 0, or -1 on out of
 * memory. */
static int
new_args(const struct iq *q, struct round *r, int *kp)
{
    int64_t now = iq_now_ms(q);
    int k = *kp, idx = 0, echoes = 0, at_echo;
    char hdr[META_HEADER_MAX];

    for (int p = 0; p < 3; p++) {
        int cnt = 0;
        for (int i = 0; i < r->njobs; i++)
            cnt += job_is_new(&r->jobs[i]) && r->jobs[i].prio == p;
        snprintf(r->mcnt[p], sizeof(r->mcnt[p]), "%d", cnt);
        r->av[k] = r->mcnt[p];
        r->avlen[k++] = strlen(r->mcnt[p]);
    }
    /* the values first (the buffer may move while it grows) */
    for (int i = 0; i < r->njobs; i++) {
        struct job_info *ji = &r->jobs[i];
        const char *v = ji->text;
        size_t vl = ji->text_len;
        int hl;
        if (!job_is_new(ji))
            continue;
        hl = meta_format_header(hdr, sizeof(hdr), ji->max_attempts, ji->prio,
                                now);
        r->val[i][0] = r->vals.len;
        /* compressed when that pays (pack.h; on a zstd failure v stays
         * the JSON, always right) */
        if (q->in->w->pk)
            pack_payload(q->in->w->pk, ji->id, ji->text, ji->text_len, &v, &vl);
        if (buf_append(&r->vals, hdr, (size_t)hl) < 0 ||
            buf_append(&r->vals, v, vl) < 0)
            return -1;
        r->val[i][1] = r->vals.len - r->val[i][0];
    }
    for (int p = 0; p < 3; p++)
        for (int i = 0; i < r->njobs; i++) {
            struct job_info *ji = &r->jobs[i];
            if (!job_is_new(ji) || ji->prio != p)
                continue;
            snprintf(r->num[i][4], 24, "%d", ++idx);
            r->av[k] = ji->id;
            r->avlen[k++] = strlen(ji->id);
            r->av[k] = r->vals.data + r->val[i][0];
            r->avlen[k++] = r->val[i][1];
        }
    at_echo = k++;
    for (int p = 0; p < 3; p++)
        for (int i = 0; i < r->njobs; i++)
            if (job_is_new(&r->jobs[i]) && r->jobs[i].prio == p &&
                r->jobs[i].notify) {
                r->av[k] = r->num[i][4];
                r->avlen[k++] = strlen(r->num[i][4]);
                r->av[k] = r->jobs[i].notify;
                r->avlen[k++] = strlen(r->jobs[i].notify);
                echoes++;
            }
    snprintf(r->necho_s[1], sizeof(r->necho_s[1]), "%d", echoes);
    r->av[at_echo] = r->necho_s[1];
    r->avlen[at_echo] = strlen(r->necho_s[1]);
    *kp = k;
    return 0;
}

/* Validate the last n entries of reply e (LRANGE order: the oldest last;
 * n at least one) and build r's arguments. 0, or -1 on out of memory. */
static int
round_build(struct intake *in, struct iq *q, const redisReply *e, int n,
            struct round *r)
{
    int k = 0, cap, off = (int)e->elements - n;
    const redisReply *tail = e->element[e->elements - 1];
    char at[32];

    memset(r, 0, sizeof(*r));
    buf_init(&r->docs, 0);
    buf_init(&r->vals, 0);
    r->nread = n;
    r->jobs = calloc((size_t)n, sizeof(*r->jobs));
    r->num = calloc((size_t)n, sizeof(*r->num));
    r->doc_end = calloc((size_t)n, sizeof(*r->doc_end));
    r->val = calloc((size_t)n, sizeof(*r->val));
    if (!r->jobs || !r->num || !r->doc_end || !r->val)
        return -1;
    timefmt_rfc3339(time_now_ms(), at);
    for (int i = n - 1; i >= 0; i--) { /* oldest first */
        const redisReply *x = e->element[off + i];
        struct job_err err = {{0}, {0}};
        struct job_info *ji = &r->jobs[r->njobs];
        int str = x->type == REDIS_REPLY_STRING;

        if (!str) {
            job_err_set(&err, "", "not a string entry");
        } else if (job_parse_info(x->str, x->len, &in->jo, &err, ji) == 0) {
            r->necho += ji->notify != NULL;
            r->njobs++;
            continue;
        } else if (!err.field[0] && !strcmp(err.msg, "out of memory")) {
            return -1;
        }
        if (reject_doc(&r->docs, str ? x->str : "", str ? x->len : 0, &err, at,
                       in->w->id) < 0)
            return -1;
        r->doc_end[r->nrej++] = r->docs.len;
    }
    /* rconn adds the prefix; then token lease nread ttl n, 7 per job, its
     * notify section, m, 4 per new job, its notify section, the tail, the
     * rejections */
    cap = 14 + 7 * r->njobs + 2 * r->necho + r->nrej;
    r->av = malloc(sizeof(*r->av) * (size_t)cap);
    r->avlen = malloc(sizeof(*r->avlen) * (size_t)cap);
    if (!r->av || !r->avlen)
        return -1;
    snprintf(r->lease, sizeof(r->lease), "%d", INTAKE_LEASE_MS);
    snprintf(r->nread_s, sizeof(r->nread_s), "%d", n);
    snprintf(r->nrej_s, sizeof(r->nrej_s), "%d", r->nrej);
#define ARG(s, l) (r->av[k] = (s), r->avlen[k] = (l), k++)
#define ARGS(s)   ARG((s), strlen(s))
    lock_values(q, r->expect, r->next);
    ARGS(r->expect);
    ARGS(r->next);
    ARGS(r->lease);
    ARGS(r->nread_s);
    ARGS(INTAKE_IDEM_TTL);
    /* the jobs enqueue.lua's way, then their notify section */
    {
        int cnt = 0, echoes = 0, at_cnt = k, at_echo;
        ARGS(""); /* the count, set below */
        for (int i = 0; i < r->njobs; i++) {
            struct job_info *ji = &r->jobs[i];
            char(*num)[24] = r->num[i];
            if (job_is_new(ji))
                continue;
            snprintf(num[0], 24, "%d", ji->prio);
            snprintf(num[1], 24, "%lld", (long long)ji->run_at_ms);
            snprintf(num[2], 24, "%lld", (long long)ji->delay_ms);
            snprintf(num[3], 24, "%d", ji->max_attempts);
            snprintf(num[4], 24, "%d", ++cnt); /* its index in the script */
            echoes += ji->notify != NULL;
            ARGS(ji->id);
            ARGS(num[0]);
            ARGS(num[1]);
            ARGS(num[2]);
            ARGS(num[3]);
            ARGS(ji->idem ? ji->idem : "");
            ARG(ji->text, ji->text_len);
        }
        snprintf(r->cnt[0], sizeof(r->cnt[0]), "%d", cnt);
        r->av[at_cnt] = r->cnt[0];
        r->avlen[at_cnt] = strlen(r->cnt[0]);
        at_echo = k;
        ARGS(""); /* the echo count, set below */
        for (int i = 0; i < r->njobs; i++)
            if (!job_is_new(&r->jobs[i]) && r->jobs[i].notify) {
                ARGS(r->num[i][4]);
                ARGS(r->jobs[i].notify);
            }
        snprintf(r->necho_s[0], sizeof(r->necho_s[0]), "%d", echoes);
        r->av[at_echo] = r->necho_s[0];
        r->avlen[at_echo] = strlen(r->necho_s[0]);
    }
    /* the new jobs: a count per priority, then (id, stored value) pairs
     * in priority order, then their notify section */
    if (new_args(q, r, &k) < 0)
        return -1;
    /* the tail: the oldest entry read, which must still be the inbox's
     * last (a producer that RPUSHed meanwhile makes the round start over) */
    if (tail->type == REDIS_REPLY_STRING)
        ARG(tail->str, tail->len);
    else
        ARGS("");
    ARGS(r->nrej_s);
    for (int i = 0; i < r->nrej; i++) {
        size_t from = i ? r->doc_end[i - 1] : 0;
        ARG(r->docs.data + from, r->doc_end[i] - from);
    }
#undef ARG
#undef ARGS
    r->ac = k;
    return 0;
}

/* A reply of q came: when none is due any more, plan the next step. */
static void
settle(struct iq *q, double next)
{
    if (--q->inflight > 0 || q->in->stopped)
        return;
    if (q->broken) {
        q->broken = 0;
        q->seq = q->seq_ok; /* the chain stopped at the last applied round */
        next = next > q->wait ? next : q->wait;
    }
    again(q, next);
}

static void
on_admit(struct rconn *c, redisReply *r, void *pd)
{
    struct iq *q = pd;
    struct intake *in = q->in;
    const char *queue = in->w->q[q->qi].keys.queue;

    (void)c;
    if (in->stopped) {
        q->inflight--;
        return;
    }
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 4) {
        if (!q->broken && r && r->type == REDIS_REPLY_ERROR &&
            !strncmp(r->str, "LOCK", 4)) {
            log_kv(LOG_WARN, "inbox intake lock lost", "queue", queue, NULL);
            q->token[0] = '\0';
        } else if (!q->broken && r && r->type == REDIS_REPLY_ERROR &&
                   strncmp(r->str, "INBOX", 5) != 0) {
            log_kv(LOG_WARN, "inbox intake round failed", "queue", queue,
                   "error", r->str, NULL);
        } else if (!q->broken && !r) {
            /* connection lost: whether Redis applied it is unknown, so the
             * lock may have moved on; take it again after its lease */
            q->token[0] = '\0';
        }
        q->broken = 1;
        settle(q, INTAKE_IDLE_MAX);
        return;
    }
    q->seq_ok++;
    q->renewed = ev_now(in->w->loop);
    if (r->element[3]->integer == 0) { /* a renewal */
        settle(q, q->wait);
        return;
    }
    metrics_intake(in->w->m, q->qi,
                   (long)(r->element[0]->integer + r->element[1]->integer),
                   (long)r->element[2]->integer);
    q->wait = in->w->cfg->intake_interval_s;
    settle(q, q->capped ? 0. : q->wait); /* capped: more are waiting */
}

static void on_read(struct rconn *c, redisReply *r, void *pd);

/* Send an empty round: it only renews the lock's lease. */
static void
renew(struct iq *q)
{
    struct worker *w = q->in->w;
    char expect[64], next[64], lease[24];
    const char *av[9] = {expect, next, lease, "0", INTAKE_IDEM_TTL,
                         "0",    "0",  "0",   ""};

    lock_values(q, expect, next);
    snprintf(lease, sizeof(lease), "%d", INTAKE_LEASE_MS);
    if (rconn_script(w->rc, SCRIPT_INTAKE, &w->q[q->qi].keys, 9, av, NULL,
                     on_admit, q) == 0) {
        q->inflight++;
        q->seq++;
    }
}

/* The reply of an LRANGE: the next batch (oldest last). A full batch is
 * followed at once by a read of the one after it, sent before this
 * batch's round, so the worker validates that batch while Redis runs
 * this one's; the rounds' lock values keep them in order. */
static void
on_read(struct rconn *c, redisReply *r, void *pd)
{
    struct iq *q = pd;
    struct intake *in = q->in;
    struct worker *w = in->w;
    const struct qkeys *k = &w->q[q->qi].keys;
    struct round rd;
    size_t bytes;
    int take;

    (void)c;
    if (in->stopped || q->broken || !r || r->type != REDIS_REPLY_ARRAY) {
        if (!in->stopped && (!r || r->type != REDIS_REPLY_ARRAY))
            q->broken = 1;
        settle(q, INTAKE_IDLE_MAX);
        return;
    }
    if (r->elements == 0) {
        if (q->inflight == 1) { /* the chain ended, or the inbox is empty */
            q->wait =
                q->wait * 2 > INTAKE_IDLE_MAX ? INTAKE_IDLE_MAX : q->wait * 2;
            if (ev_now(w->loop) - q->renewed >= INTAKE_LEASE_MS / 3000.0)
                renew(q);
        }
        settle(q, q->wait);
        return;
    }
    /* at most ROUND_BYTES_MAX of entries, the oldest (at least one) */
    for (take = 0, bytes = 0; take < (int)r->elements; take++) {
        const redisReply *x = r->element[r->elements - 1 - (size_t)take];
        bytes += x->type == REDIS_REPLY_STRING ? x->len : 0;
        if (take > 0 && bytes > ROUND_BYTES_MAX)
            break;
    }
    q->capped = take < (int)r->elements;
    /* the next batch is read now only when this round trims a whole one */
    if (!q->capped && (int)r->elements >= w->cfg->intake_batch) {
        char from[24], to[24];
        const char *av[4] = {"LRANGE", k->inbox, from, to};
        snprintf(from, sizeof(from), "%d", -2 * w->cfg->intake_batch);
        snprintf(to, sizeof(to), "%d", -w->cfg->intake_batch - 1);
        if (rconn_command(w->rc, 4, av, NULL, on_read, q) == 0)
            q->inflight++;
    }
    if (round_build(in, q, r, take, &rd) < 0) {
        log_kv(LOG_ERROR, "inbox intake: out of memory", NULL);
        q->broken = 1;
    } else if (rconn_script(w->rc, SCRIPT_INTAKE, k, rd.ac, rd.av, rd.avlen,
                            on_admit, q) == 0) {
        q->inflight++;
        q->seq++;
    } else {
        q->broken = 1;
    }
    round_free(&rd);
    settle(q, q->wait);
}

static void
on_lock(struct rconn *c, redisReply *r, void *pd)
{
    struct iq *q = pd;
    struct intake *in = q->in;

    (void)c;
    if (r && r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "OK")) {
        /* a queue fed only through its inbox is known too (genq stats) */
        const char *av[3] = {"SADD", KEY_QUEUES, in->w->q[q->qi].keys.queue};
        if (!in->stopped)
            rconn_command(in->w->rc, 3, av, NULL, worker_noreply, NULL);
        q->renewed = ev_now(in->w->loop);
        q->seq = q->seq_ok = 0;
        q->wait = in->w->cfg->intake_interval_s;
        settle(q, 0.);
        return;
    }
    q->token[0] = '\0'; /* another worker's intake holds it */
    settle(q, INTAKE_IDLE_MAX);
}

/* The next step of q: take the lock, or read the inbox. */
static void
step(struct iq *q)
{
    struct intake *in = q->in;
    struct worker *w = in->w;
    const struct qkeys *k = &w->q[q->qi].keys;
    char arg[64], lease[24];
    int rc;

    if (in->stopped || q->inflight)
        return;
    if (!rconn_is_up(w->rc)) {
        again(q, INTAKE_IDLE_MAX);
        return;
    }
    if (!q->token[0]) {
        const char *av[6] = {"SET", k->inbox_lock, arg, "NX", "PX", lease};
        uuid7_new(q->token);
        snprintf(arg, sizeof(arg), "%s:0", q->token);
        snprintf(lease, sizeof(lease), "%d", INTAKE_LEASE_MS);
        rc = rconn_command(w->rc, 6, av, NULL, on_lock, q);
        if (rc < 0) {
            q->token[0] = '\0';
        } else {
            const char *tv[1] = {"TIME"};
            if (rconn_command(w->rc, 1, tv, NULL, on_time, q) == 0)
                q->inflight++;
        }
    } else {
        const char *av[4] = {"LRANGE", k->inbox, arg, "-1"};
        snprintf(arg, sizeof(arg), "%d", -w->cfg->intake_batch);
        rc = rconn_command(w->rc, 4, av, NULL, on_read, q);
    }
    if (rc == 0)
        q->inflight++;
    else
        again(q, INTAKE_IDLE_MAX);
}

struct intake *
intake_new(struct worker *w)
{
    struct intake *in = calloc(1, sizeof(*in));

    if (!in)
        return NULL;
    in->w = w;
    in->jo.templates_dir = w->cfg->templates_dir;
    if (!w->cfg->templates_dir)
        in->jo.no_templates = "this worker renders no templates (start it "
                              "with --templates DIR)";
    in->nq = w->cfg->intake_batch > 0 ? w->nq : 0;
    for (int i = 0; i < in->nq; i++) {
        struct iq *q = &in->q[i];
        q->in = in;
        q->qi = i;
        q->wait = w->cfg->intake_interval_s;
        ev_timer_init(&q->t, on_timer, 0., 0.);
        q->t.data = q;
        again(q, 0.);
    }
    return in;
}

void
intake_kick(struct intake *in)
{
    for (int i = 0; in && !in->stopped && i < in->nq; i++)
        if (!in->q[i].inflight)
            again(&in->q[i], 0.);
}

void
intake_stop(struct intake *in)
{
    if (!in || in->stopped)
        return;
    in->stopped = 1;
    for (int i = 0; i < in->nq; i++)
        ev_timer_stop(in->w->loop, &in->q[i].t);
}

void
intake_free(struct intake *in)
{
    intake_stop(in);
    free(in);
}
