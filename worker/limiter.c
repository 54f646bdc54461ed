/* limiter: the worker's half of the fleet-wide limiter -- a reservation
 * before each try and a settle after it (+ the learned headers), the 429
 * cooldown, the fleet breaker's failures and probe, the J_ADMIT wait on
 * the slot's timer, and the claim gate. Reserves and settles are collected
 * during a loop iteration and sent by limiter_flush() (the flush's prepare
 * watcher): one reserve_n call for up to LIM_BATCH tries and one settle
 * with their sums, not two scripts per try (at 10,000 streams those were
 * 10 of the 13 Redis commands per job). While the last reply left room
 * (far from every limit, no cooldown, breaker closed) a try starts at
 * once and its reservation follows ("early"), instead of waiting a round
 * trip. limiter.h says what each entry point does. */
#include "fmacros.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rclient.h"
#include "timefmt.h"
#include "worker_int.h"

/* How far ahead a try may be reserved (limiter.lua reserve AHEAD_MS): the
 * waiters of the fleet queue in turn within it instead of all asking again
 * when a token refills. */
#define LIM_AHEAD_MS 2000
/* The share of every bucket kept back (limiter.lua reserve HEADROOM). */
#define LIM_HEADROOM "0.02"
/* Tries per reserve_n call (a loop iteration may ask for more: then more
 * calls). */
#define LIM_BATCH 500

/* A reservation asked for: the job (slot and generation), what it
 * reserves, and whether the try started already ("early": within the room
 * the last reply left, limiter_admit). */
struct lim_slot {
    int idx;
    unsigned gen;
    int early;
    long in_est, out_est;
};

struct limiter {
    char id[600];  /* the limit key id (keys.h key_limit_id) */
    char key[640]; /* genq:lim:{ID} */
    const char *keyv[1];
    struct skeys sk;
    ev_tstamp block_until;   /* cooldown / breaker / bucket: claim nothing */
    ev_tstamp breaker_until; /* the fleet breaker is open (as last told) */
    int configured;          /* some --limit-* is set */
    int out_max_tokens;      /* output estimate: the request's max_tokens */
    /* The reservations asked for in this loop iteration: limiter_flush
     * sends them in reserve_n calls (owned; grows). */
    struct lim_slot *rq;
    int nrq, caprq;
    /* The settles of this loop iteration, summed (one settle call), and
     * the newest response's rate-limit headers. */
    long s_ie, s_oe, s_iu, s_ou;
    int s_n, s_ok;
    struct ratehdr s_hdr;
    /* Tries that may start before their reservation's reply: half the
     * ROOM of the last reserve_n reply, less those started since. */
    long credit;
};

void
limiter_key_id(const struct wcfg *cfg, char *out, size_t n)
{
    const char *cls = cfg->model_class ? cfg->model_class : cfg->model;

    key_limit_id(out, n, llm_provider_name(cfg->provider),
                 cfg->api_base ? cfg->api_base : "", cls ? cls : "default");
}

int
limiter_new(struct worker *w)
{
    const struct wcfg *cfg = w->cfg;
    struct limiter *l;

    w->lim = NULL;
    if (cfg->provider == LLM_NOOP)
        return 0;
    l = calloc(1, sizeof(*l));
    if (!l)
        return -1;
    limiter_key_id(cfg, l->id, sizeof(l->id));
    if (key_limit_state(l->key, sizeof(l->key), l->id) < 0) {
        free(l);
        return -1;
    }
    l->keyv[0] = l->key;
    l->sk.n = 1;
    l->sk.keyv = l->keyv;
    l->sk.prefix = l->id;
    l->configured = cfg->limit_rpm > 0 || cfg->limit_itpm > 0 ||
                    cfg->limit_otpm > 0 || cfg->limit_tpm > 0;
    l->out_max_tokens =
        cfg->limit_out_est == LIM_OUT_MAX_TOKENS ||
        (cfg->limit_out_est == LIM_OUT_AUTO && cfg->provider == LLM_OPENAI);
    w->lim = l;
    return 0;
}

void
limiter_free(struct worker *w)
{
    if (w->lim)
        free(w->lim->rq);
    free(w->lim);
    w->lim = NULL;
}

/* Call limiter.lua's op with args; fn gets the reply (may be NULL). */
static int
lim_call(struct worker *w, const char *op, int argc, const char **args,
         rconn_reply_fn fn, void *pd)
{
    const char *av[24];

    if (argc > 21)
        return -1;
    av[0] = op;
    av[1] = ""; /* Redis's clock */
    for (int i = 0; i < argc; i++)
        av[2 + i] = args[i];
    return rconn_script_keys(w->rc, SCRIPT_LIMITER, &w->lim->sk, argc + 2, av,
                             NULL, fn ? fn : worker_noreply, pd);
}

static void
on_config_reply(struct rconn *c, redisReply *r, void *pd)
{
    struct worker *w = pd;

    (void)c;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 6) {
        if (r && r->type == REDIS_REPLY_ERROR)
            log_kv(LOG_WARN, "limiter: storing the configured limits failed",
                   "error", r->str, NULL);
        return;
    }
    if (r->element[0]->integer == 1) {
        char old[160];
        snprintf(old, sizeof(old), "rpm %lld itpm %lld otpm %lld tpm %lld",
                 r->element[1]->integer, r->element[2]->integer,
                 r->element[3]->integer, r->element[4]->integer);
        log_kv(LOG_WARN,
               "limiter: this worker's --limit-* differ from the ones stored "
               "for the key; the last writer's win (this worker's now)",
               "key", w->lim->id, "previous", old, "previous_writer",
               r->element[5]->type == REDIS_REPLY_STRING ? r->element[5]->str
                                                         : "",
               NULL);
    }
}

void
limiter_on_up(struct worker *w)
{
    const char *sadd[3] = {"SADD", KEY_LIMITS, NULL};
    char v[4][24];
    const char *args[5];

    if (!w->lim)
        return;
    sadd[2] = w->lim->id;
    if (rconn_command(w->rc, 3, sadd, NULL, worker_noreply, NULL) < 0)
        log_kv(LOG_WARN, "limiter: cannot register the limit key", NULL);
    if (!w->lim->configured)
        return;
    snprintf(v[0], sizeof(v[0]), "%ld", w->cfg->limit_rpm);
    snprintf(v[1], sizeof(v[1]), "%ld", w->cfg->limit_itpm);
    snprintf(v[2], sizeof(v[2]), "%ld", w->cfg->limit_otpm);
    snprintf(v[3], sizeof(v[3]), "%ld", w->cfg->limit_tpm);
    for (int i = 0; i < 4; i++)
        args[i] = v[i];
    args[4] = w->id;
    lim_call(w, "config", 5, args, on_config_reply, w);
}

/* Bytes of a JSON value's text: strings, and the "text" of content
 * blocks, recursively (as deep as the job's JSON: cJSON's nesting limit
 * bounds it). */
/* NOLINTBEGIN(misc-no-recursion) */
static size_t
text_bytes(const cJSON *v)
{
    size_t n = 0;

    if (cJSON_IsString(v))
        return strlen(v->valuestring);
    if (cJSON_IsArray(v) || cJSON_IsObject(v))
        for (const cJSON *c = v->child; c; c = c->next)
            if (!c->string || !strcmp(c->string, "content") ||
                !strcmp(c->string, "text"))
                n += text_bytes(c);
    return n;
}
/* NOLINTEND(misc-no-recursion) */

/* The input-token estimate of j's next try: bytes of its prompt, system
 * and messages text (and the article so far) / --limit-bytes-per-token. */
static long
input_estimate(const struct wjob *j)
{
    static const char *const fields[] = {"prompt", "system", "messages"};
    size_t n = j->text.len;

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        n += text_bytes(cJSON_GetObjectItemCaseSensitive(j->job, fields[i]));
    return (long)ceil((double)n / j->w->cfg->limit_bytes_per_token);
}

static long
output_estimate(const struct wjob *j)
{
    const cJSON *mt;

    if (!j->w->lim->out_max_tokens)
        return 0;
    mt = cJSON_GetObjectItemCaseSensitive(j->job, "max_tokens");
    return cJSON_IsNumber(mt) ? (long)mt->valuedouble : j->w->cfg->max_tokens;
}

/* Apply one reserve reply (a, ms, why; r_err: the script failed, r_none:
 * no reply) to j, waiting in J_ADMIT. */
static void
reserve_result(struct wjob *j, long long a, long long ms, const char *why,
               const char *r_err, int r_none)
{
    struct worker *w = j->w;
    double wait = 0.5;

    if (!r_none && !r_err) {
        if (a == 1) {
            j->lj.admitted = 1;
            j->lj.reserved = 1;
            j->lj.probe = why && !strcmp(why, "probe");
            j->lj.unmetered = why && !strcmp(why, "free");
            if (ms > 0) {
                /* reserved ahead: starts at its turn, asks nothing more */
                wait = (double)ms / 1000.0;
                metrics_limiter(w->m, 0, wait);
                ev_timer_set(&j->retry_timer, wait, 0.);
                ev_timer_start(w->loop, &j->retry_timer);
                return;
            }
            metrics_limiter(w->m, 1, 0);
            job_start_try(j);
            return;
        }
        wait = (double)ms / 1000.0;
        if (w->lim->block_until < ev_now(w->loop) + wait)
            w->lim->block_until = ev_now(w->loop) + wait;
    } else if (r_err) {
        /* the script failed (NOPERM, OOM...): do not hold work for it */
        log_kv(LOG_WARN, "limiter: reserve failed; calling unmetered", "error",
               r_err, NULL);
        j->lj.admitted = 1;
        job_start_try(j);
        return;
    }
    /* not admitted (or Redis away): wait as told, plus up to a tenth
     * (at most 1 s) of jitter so the fleet's waiters do not all come back
     * in the same millisecond */
    wait += worker_rand01() * fmin(wait * 0.1, 1.0);
    metrics_limiter(w->m, 0, wait);
    ev_timer_set(&j->retry_timer, wait, 0.);
    ev_timer_start(w->loop, &j->retry_timer);
}

/* The jobs of one reserve_n call, in ARGV order. */
struct res_batch {
    struct worker *w;
    int n;
    struct lim_slot e[];
};

/* e's job if it still waits for this reservation, else NULL. */
static struct wjob *
waiting_job(struct worker *w, const struct lim_slot *e)
{
    struct wjob *j = &w->slots[e->idx];

    return j->gen == e->gen && !j->lost && j->st == J_ADMIT ? j : NULL;
}

/* The reply for a try that started early. Admitted: nothing to do. Not
 * admitted: nothing was reserved for it, so its settle must charge the
 * whole usage (estimates 0), or, settled already, take back the
 * estimates it was credited with; and no more early starts until a reply
 * leaves room again. */
static void
early_result(struct worker *w, const struct lim_slot *e, long long a,
             const char *why)
{
    struct limiter *l = w->lim;
    struct wjob *j = &w->slots[e->idx];
    int same = j->gen == e->gen && !j->lost && j->lj.reserved;

    if (a == 1) {
        if (same && why && !strcmp(why, "probe"))
            j->lj.probe = 1;
        if (same && why && !strcmp(why, "free"))
            j->lj.unmetered = 1; /* as reserve_result: nothing reserved */
        return;
    }
    l->credit = 0;
    if (same) {
        j->lj.in_est = 0;
        j->lj.out_est = 0;
    } else {
        l->s_ie -= e->in_est;
        l->s_oe -= e->out_est;
        l->s_n++;
    }
}

static void
on_reserve_n_reply(struct rconn *c, redisReply *r, void *pd)
{
    struct res_batch *rb = pd;
    struct worker *w = rb->w;
    /* the reply's triples (and ROOM after them), or NULL; the script's
     * error, or NULL */
    const redisReply *const *el = NULL;
    const char *err = NULL;

    (void)c;
    if (r && r->type == REDIS_REPLY_ARRAY &&
        r->elements == 3 * (size_t)rb->n + 1)
        el = (const redisReply *const *)r->element;
    else if (r && r->type == REDIS_REPLY_ERROR)
        err = r->str;
    if (!w->lim) {
        free(rb);
        return;
    }
    if (el && el[3 * rb->n]->type == REDIS_REPLY_INTEGER) {
        long long room = el[3 * rb->n]->integer / 2;
        long cap = w->cfg->concurrency;
        w->lim->credit = room < cap ? (long)room : cap;
    } else {
        w->lim->credit = 0;
    }
    for (int i = 0; i < rb->n; i++) {
        const redisReply *const *t = el ? el + 3 * i : NULL;
        int good = t && t[0]->type == REDIS_REPLY_INTEGER &&
                   t[1]->type == REDIS_REPLY_INTEGER;
        const char *why =
            good && t[2]->type == REDIS_REPLY_STRING ? t[2]->str : NULL;
        struct wjob *j;
        if (rb->e[i].early) {
            /* no reply: counted as not reserved (charged in full) */
            early_result(w, &rb->e[i], good ? t[0]->integer : 0, why);
            continue;
        }
        j = waiting_job(w, &rb->e[i]);
        if (!j)
            continue;
        if (good)
            reserve_result(j, t[0]->integer, t[1]->integer, why, NULL, 0);
        else
            reserve_result(j, 0, 0, NULL, err, err == NULL);
    }
    free(rb);
}

int
limiter_admit(struct wjob *j)
{
    struct worker *w = j->w;
    struct limiter *l = w->lim;
    ev_tstamp now = ev_now(w->loop);
    int early;

    if (!l)
        return 1;
    if (j->lj.admitted) {
        j->lj.admitted = 0;
        return 1;
    }
    j->lj.in_est = input_estimate(j);
    j->lj.out_est = output_estimate(j);
    /* far from every limit (the last reply's room), no cooldown, breaker
     * closed: start now, the reservation follows in this iteration's
     * reserve_n (a limit that far away cannot bind within its round
     * trip); else wait in J_ADMIT for the reply */
    early = l->credit > 0 && now >= l->block_until && now >= l->breaker_until;
    if (!early)
        wjob_enter(j, J_ADMIT);
    if (l->nrq == l->caprq) {
        int cap = l->caprq ? 2 * l->caprq : 256;
        struct lim_slot *n = realloc(l->rq, sizeof(*n) * (size_t)cap);
        if (!n) {
            if (early)
                return 1; /* out of memory: this one goes unmetered */
            /* out of memory: the try waits a moment and asks again */
            ev_timer_set(&j->retry_timer, 0.5, 0.);
            ev_timer_start(w->loop, &j->retry_timer);
            return 0;
        }
        l->rq = n;
        l->caprq = cap;
    }
    l->rq[l->nrq].idx = j->idx;
    l->rq[l->nrq].gen = j->gen;
    l->rq[l->nrq].early = early;
    l->rq[l->nrq].in_est = j->lj.in_est;
    l->rq[l->nrq].out_est = j->lj.out_est;
    l->nrq++;
    if (!early)
        return 0;
    l->credit--;
    j->lj.reserved = 1;
    metrics_limiter(w->m, 1, 0);
    return 1;
}

/* Send reserve_n for rq[from..from+n): the early ones and the ones still
 * waiting. */
static void
send_reserves(struct worker *w, int from, int n)
{
    struct limiter *l = w->lim;
    struct res_batch *rb = malloc(sizeof(*rb) + sizeof(rb->e[0]) * (size_t)n);
    const char **av = malloc(sizeof(*av) * (size_t)(5 + 3 * n));
    /* per try: in_est, out_est (its lease token is sent from the slot:
     * rconn_script_keys() formats the command at once) */
    char(*num)[24] = malloc(sizeof(*num) * 2 * (size_t)n);
    char ahead[24];
    int k = 0;

    snprintf(ahead, sizeof(ahead), "%d", LIM_AHEAD_MS);
    if (rb && av && num) {
        rb->w = w;
        rb->n = 0;
        av[k++] = "reserve_n";
        av[k++] = ""; /* Redis's clock */
        av[k++] = ahead;
        av[k++] = LIM_HEADROOM;
        for (int i = from; i < from + n; i++) {
            const struct lim_slot *e = &l->rq[i];
            char(*nm)[24] = &num[2 * rb->n];
            if (!e->early && !waiting_job(w, e))
                continue;
            snprintf(nm[0], sizeof(nm[0]), "%ld", e->in_est);
            snprintf(nm[1], sizeof(nm[1]), "%ld", e->out_est);
            av[k++] = nm[0];
            av[k++] = nm[1];
            /* the try's lease token (an early try's slot may have moved
             * on: then its next job's; only the probe's label) */
            av[k++] = w->slots[e->idx].token;
            rb->e[rb->n++] = *e;
        }
        if (rb->n == 0 ||
            rconn_script_keys(w->rc, SCRIPT_LIMITER, &l->sk, k, av, NULL,
                              on_reserve_n_reply, rb) == 0) {
            if (rb->n == 0)
                free(rb);
            rb = NULL;
        }
    }
    if (rb || !av || !num) {
        /* Redis away (or out of memory): each waiting try waits a moment
         * and asks again; the early ones went unmetered */
        l->credit = 0;
        for (int i = from; i < from + n; i++) {
            struct wjob *j = waiting_job(w, &l->rq[i]);
            if (j && !l->rq[i].early && !ev_is_active(&j->retry_timer)) {
                ev_timer_set(&j->retry_timer, 0.5, 0.);
                ev_timer_start(w->loop, &j->retry_timer);
            }
        }
    }
    free(rb);
    free(av);
    free(num);
}

/* Send the settles summed in this loop iteration as one settle call. */
static void
send_settle(struct worker *w)
{
    struct limiter *l = w->lim;
    const struct ratehdr *h = &l->s_hdr;
    char a[5 + 3 * RB_N][24];
    const char *args[5 + 3 * RB_N];
    int n = 5;

    snprintf(a[0], sizeof(a[0]), "%ld", l->s_ie);
    snprintf(a[1], sizeof(a[1]), "%ld", l->s_oe);
    snprintf(a[2], sizeof(a[2]), "%ld", l->s_iu);
    snprintf(a[3], sizeof(a[3]), "%ld", l->s_ou);
    snprintf(a[4], sizeof(a[4]), "%d", l->s_ok);
    for (int b = 0; b < RB_N && h->any; b++) {
        /* Anthropic's tokens-* is the tightest of input and output when
         * those are sent: not a bucket of its own then */
        if (h->limit[b] <= 0 ||
            (b == RB_TOK && (h->limit[RB_IN] > 0 || h->limit[RB_OUT] > 0)))
            continue;
        snprintf(a[n], sizeof(a[n]), "%s",
                 ratehdr_bucket_name((enum rate_bucket)b));
        snprintf(a[n + 1], sizeof(a[n + 1]), "%ld", h->limit[b]);
        snprintf(a[n + 2], sizeof(a[n + 2]), "%ld", h->remaining[b]);
        n += 3;
    }
    for (int i = 0; i < n; i++)
        args[i] = a[i];
    if (lim_call(w, "settle", n, args, NULL, NULL) < 0)
        log_kv(LOG_DEBUG, "limiter: settle not sent (Redis away)", NULL);
    l->s_ie = l->s_oe = l->s_iu = l->s_ou = 0;
    l->s_n = l->s_ok = 0;
    l->s_hdr.any = 0;
}

void
limiter_flush(struct worker *w)
{
    struct limiter *l = w->lim;

    if (!l)
        return;
    if (l->s_n > 0)
        send_settle(w);
    for (int from = 0; from < l->nrq; from += LIM_BATCH)
        send_reserves(w, from,
                      l->nrq - from < LIM_BATCH ? l->nrq - from : LIM_BATCH);
    l->nrq = 0;
}

void
limiter_on_hdr(struct http_req *r, const char *line, size_t n)
{
    struct wjob *j = r->ud;

    if (n > 5 && !strncmp(line, "HTTP/", 5))
        ratehdr_reset(&j->lj.hdr);
    else
        ratehdr_line(&j->lj.hdr, line, n, time_now_ms());
}

void
limiter_settle(struct wjob *j, int ok)
{
    struct limiter *l = j->w->lim;

    if (!l || !j->lj.reserved)
        return;
    j->lj.reserved = 0;
    if (j->lj.unmetered) {
        /* nothing was reserved: nothing to refund or charge (a bucket
         * learned meanwhile starts empty for such calls, limiter.lua) */
        j->lj.in_est = ok ? j->res.input_tokens : 0L;
        j->lj.out_est = ok ? j->res.output_tokens : 0L;
        j->lj.unmetered = 0;
    }
    /* summed with the loop iteration's other settles (limiter_flush) */
    l->s_ie += j->lj.in_est;
    l->s_oe += j->lj.out_est;
    l->s_iu += ok ? j->res.input_tokens : 0L;
    l->s_ou += ok ? j->res.output_tokens : 0L;
    l->s_ok |= ok;
    l->s_n++;
    if (j->lj.hdr.any)
        l->s_hdr = j->lj.hdr;
}

void
limiter_cooldown(struct wjob *j, double hint_s)
{
    struct worker *w = j->w;
    char s[3][32];
    const char *args[3] = {s[0], s[1], s[2]};

    metrics_429(w->m);
    if (!w->lim)
        return;
    w->lim->credit = 0; /* no early starts until a reply leaves room */
    snprintf(s[0], sizeof(s[0]), "%.3f", hint_s > 0 ? hint_s : 0.0);
    snprintf(s[1], sizeof(s[1]), "%.0f", w->cfg->retry_base_s * 1000);
    snprintf(s[2], sizeof(s[2]), "%.0f", w->cfg->retry_cap_s * 1000);
    if (lim_call(w, "cooldown", 3, args, NULL, NULL) < 0)
        log_kv(LOG_DEBUG, "limiter: cooldown not sent (Redis away)", NULL);
    if (hint_s > 0 && w->lim->block_until < ev_now(w->loop) + hint_s)
        w->lim->block_until = ev_now(w->loop) + hint_s;
}

static void
on_bfail_reply(struct rconn *c, redisReply *r, void *pd)
{
    struct worker *w = pd;

    (void)c;
    if (!w->lim || !r || r->type != REDIS_REPLY_ARRAY || r->elements < 2)
        return;
    if (r->element[0]->integer > 0) {
        double until = (double)r->element[0]->integer / 1000.0 -
                       (double)time_now_ms() / 1000.0 + ev_now(w->loop);
        if (w->lim->block_until < until)
            w->lim->block_until = until;
        w->lim->breaker_until = until;
        if (r->element[1]->integer == 1)
            log_kv(LOG_WARN,
                   "limiter: the fleet's circuit breaker opened for the key",
                   "key", w->lim->id, NULL);
    }
}

/* Send bfail with hint_s and the threshold thr. */
static void
bfail(struct worker *w, double hint_s, int thr)
{
    char a[4][24];
    const char *args[4];

    w->lim->credit = 0; /* no early starts until a reply leaves room */
    snprintf(a[0], sizeof(a[0]), "%.0f", hint_s > 0 ? hint_s * 1000 : 0.0);
    snprintf(a[1], sizeof(a[1]), "%.0f", w->cfg->circuit_max_s * 1000);
    snprintf(a[2], sizeof(a[2]), "%.4f", worker_rand01());
    snprintf(a[3], sizeof(a[3]), "%d", thr);
    for (int i = 0; i < 4; i++)
        args[i] = a[i];
    if (lim_call(w, "bfail", 4, args, on_bfail_reply, w) < 0)
        log_kv(LOG_DEBUG, "limiter: breaker failure not sent", NULL);
}

int
limiter_api_failed(struct wjob *j, double hint_s)
{
    struct worker *w = j->w;
    int probe = j->lj.probe;

    if (!w->lim)
        return 0;
    j->lj.probe = 0;
    bfail(w, hint_s, w->cfg->breaker_threshold);
    /* the probe failed, or the breaker was open already: the fleet's
     * outage, not this job's try (its retry waits for the breaker) */
    return probe || ev_now(w->loop) < w->lim->breaker_until;
}

void
limiter_breaker_open(struct worker *w, double hint_s)
{
    if (w->lim)
        bfail(w, hint_s, 1);
}

int
limiter_claim_blocked(const struct worker *w)
{
    if (!w->lim)
        return 0;
    return ev_now(w->loop) < w->lim->block_until;
}

/* The show reply: flat field, value pairs; the metered buckets' levels
 * go to the gauges. */
static void
on_show_reply(struct rconn *c, redisReply *r, void *pd)
{
    static const char *const b[4] = {"r", "it", "ot", "t"};
    struct worker *w = pd;
    double lim[4] = {0}, lev[4] = {0};

    (void)c;
    if (!w->lim || !r || r->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
            f->len < 3 || f->str[1] != '_')
            continue;
        for (int k = 0; k < 4; k++) {
            if (strcmp(f->str + 2, b[k]))
                continue;
            if ((f->str[0] == 'c' || f->str[0] == 'l') &&
                strtod(v->str, NULL) > 0)
                lim[k] = 1;
            else if (f->str[0] == 'v')
                lev[k] = strtod(v->str, NULL);
        }
    }
    for (int k = 0; k < 4; k++)
        metrics_limiter_level(w->m, k, lim[k] > 0, lev[k]);
}

void
limiter_tick(struct worker *w)
{
    if (!w->lim || !w->m || w->tick % 5 != 3)
        return;
    if (lim_call(w, "show", 0, NULL, on_show_reply, w) < 0)
        log_kv(LOG_DEBUG, "limiter: show not sent (Redis away)", NULL);
}
