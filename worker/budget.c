/* budget: fleet-wide spend caps per UTC day and calendar month, in tokens
 * and USD, overall and per queue (common/lua/budget.lua keeps the counts
 * in Redis). Before each call (the first of an attempt, and each part of
 * a long article; a retry uses the reservation it holds) the worker
 * reserves its estimated cost (input estimate + max_tokens, priced by the
 * model's row); after each successful call it settles against the usage
 * the API reported. A call that would start at a cap does not: its job goes
 * back to its queue uncounted and claiming stops (from that queue, for a
 * queue's cap) until a check on the 1-s tick finds room again -- a raised cap
 * (`genq budget set`, or SIGHUP re-reading the config file) or a new
 * period. The first refusal of a cap in its period raises the one P0
 * alert, deduplicated in Redis. Spend without a reservation (no cap
 * applies, or Redis did not answer the reservation) is added per queue on
 * the tick. */
#include "fmacros.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "budget.h"
#include "log.h"
#include "settings.h"
#include "rclient.h"
#include "worker_int.h"

struct budget {
    ev_signal sig_hup;
    int connected; /* Redis was up once: the configured caps were written */
    int remote;    /* the caps hash holds a cap that applies to us */
    int stopped;   /* a fleet-wide cap is reached: claim nothing */
    int checking;  /* check calls in flight */
    int stopped_q[WORKER_MAX_QUEUES]; /* that queue's cap is reached */
    /* per queue, not yet in Redis: spend, and reservations to give back */
    double pend_usd[WORKER_MAX_QUEUES], pend_rusd[WORKER_MAX_QUEUES];
    long pend_tok[WORKER_MAX_QUEUES], pend_rtok[WORKER_MAX_QUEUES];
    struct budget_caps pushed; /* what we last wrote */
    struct budget_caps pushed_q[WORKER_MAX_QUEUES];
};

struct gate_ctx {
    struct slotref ref;
    int qi; /* the job's queue (index into w->q) */
    long tok;
    double usd;
    long long at; /* time(NULL) of the reservation */
};

/* KEYS of budget.lua for the period of time at: caps, day, month; ttls
 * into the argv. */
static void
budget_keys(long long at, char day[KEY_BUDGET_LEN], char month[KEY_BUDGET_LEN],
            char dttl[24], char mttl[24])
{
    long dt, mt;

    key_budget_day(day, KEY_BUDGET_LEN, at, &dt);
    key_budget_month(month, KEY_BUDGET_LEN, at, &mt);
    snprintf(dttl, 24, "%ld", dt);
    snprintf(mttl, 24, "%ld", mt);
}

/* Send budget.lua op for queue q (may be "") with tokens/usd (and the
 * reservation res_tok/res_usd for settle), against the day and month of
 * time at. 0 when sent. */
static int
budget_call(struct worker *w, const char *op, const char *q, long long at,
            long tok, double usd, long res_tok, double res_usd,
            rconn_reply_fn fn, void *pd)
{
    char day[KEY_BUDGET_LEN], month[KEY_BUDGET_LEN], dttl[24], mttl[24];
    char t[32], u[48], rt[32], ru[48];
    const char *keys[3] = {KEY_BUDGET_CAPS, day, month};
    const char *av[9] = {"-", op, q, t, u, dttl, mttl, rt, ru};

    budget_keys(at, day, month, dttl, mttl);
    snprintf(t, sizeof(t), "%ld", tok);
    snprintf(u, sizeof(u), "%.9f", usd);
    snprintf(rt, sizeof(rt), "%ld", res_tok);
    snprintf(ru, sizeof(ru), "%.9f", res_usd);
    const struct skeys sk = {3, keys, av[0]};

    return rconn_script_keys(w->rc, SCRIPT_BUDGET, &sk, 8, av + 1, NULL,
                             fn ? fn : worker_noreply, pd);
}

/* Add tokens/usd to queue qi's spend and give back a reservation of
 * rtok/rusd, in the day and month of time at (the reservation's: a call
 * reserved before midnight UTC and settled after it corrects the day that
 * holds its reservation); kept for the next tick (settled in the tick's
 * period) when it cannot be sent now. */
static void
budget_settle(struct worker *w, int qi, long long at, long tok, double usd,
              long rtok, double rusd)
{
    struct budget *b = w->bg;

    if (budget_call(w, "settle", w->q[qi].keys.queue, at, tok, usd, rtok, rusd,
                    NULL, NULL) == 0)
        return;
    b->pend_tok[qi] += tok;
    b->pend_usd[qi] += usd;
    b->pend_rtok[qi] += rtok;
    b->pend_rusd[qi] += rusd;
}

/* Whether any cap can apply to this worker's calls. */
static int
budget_on(const struct worker *w)
{
    const struct wcfg *c = w->cfg;
    const struct budget_caps *qc;
    const char *name;

    if (w->bg->remote || c->budget_usd_day > 0 || c->budget_usd_month > 0 ||
        c->budget_tok_day > 0 || c->budget_tok_month > 0)
        return 1;
    for (int i = 0; (qc = budget_cfg_queue(i, &name)) != NULL; i++)
        if (qc->usd_day > 0 || qc->usd_month > 0 || qc->tok_day > 0 ||
            qc->tok_month > 0)
            return 1;
    return 0;
}

int
budget_blocked(const struct worker *w)
{
    return w->bg && w->bg->stopped;
}

/* A refusal: the cap reached, stop claiming (all, or the job's queue),
 * raise the P0 once fleet-wide. */
static void
budget_refused(struct worker *w, int qi, const redisReply *r)
{
    const char *cap = r->element[1]->str;
    int fleet = strncmp(cap, "q:", 2) != 0;
    char text[512];

    if (fleet ? !w->bg->stopped : !w->bg->stopped_q[qi])
        log_kv(LOG_ERROR,
               "budget cap reached: no call starts, claiming stopped", "cap",
               cap, "spent", r->element[2]->str, "limit", r->element[3]->str,
               NULL);
    if (fleet)
        w->bg->stopped = 1;
    else {
        w->bg->stopped_q[qi] = 1;
        w->q[qi].paused_until = ev_now(w->loop) + 1.5;
    }
    metrics_budget(w->m, 1);
    if (r->element[4]->integer == 1) {
        snprintf(text, sizeof(text),
                 "budget cap %s reached: %s spent of %s (UTC period); no call "
                 "starts and claiming stopped until the cap is raised or the "
                 "period ends",
                 cap, r->element[2]->str, r->element[3]->str);
        alerts_raise(w->al, ALERT_P0, "budget", text);
    }
}

static void
on_gate_reply(struct rconn *c, redisReply *r, void *pd)
{
    struct gate_ctx *g = pd;
    struct wjob *j = slotref_get(&g->ref);

    (void)c;
    if (!j) {
        /* the slot moved on: give back what was reserved */
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
            r->element[0]->integer == 1)
            budget_settle(g->ref.w, g->qi, g->at, -g->tok, -g->usd, g->tok,
                          g->usd);
        free(g);
        return;
    }
    j->bstate = 2;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 5 &&
        r->element[0]->integer == 0) {
        budget_refused(j->w, (int)(j->q - j->w->q), r);
        j->bstate = 0;
        free(g);
        job_finish(j, OUT_REQUEUE,
                   error_doc(DLQ_NOT_JOB_FAULT, 0, "budget",
                             "a spend cap is reached: the job waits in its "
                             "queue",
                             NULL),
                   0);
        return;
    }
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1) {
        j->bres_tok = g->tok;
        j->bres_usd = g->usd;
        j->bres_at = g->at;
    } else {
        /* Redis could not answer: the call goes ahead, its spend is added
         * after (fail open: a stalled fleet costs more than one call) */
        log_kv(LOG_WARN, "budget check failed; the call goes ahead", "job",
               j->id, NULL);
    }
    free(g);
    if (j->w->lim)
        j->lj.admitted = 1; /* the limiter admitted this try already: its
                               reservation stands, do not reserve again */
    job_start_try(j);
}

/* The estimate of a call: input (a quarter token per byte of the job and
 * of the text a continuation sends back) plus max_tokens of output, priced
 * at the job's model's row. */
static void
budget_estimate(const struct wjob *j, long *tok, double *usd)
{
    const struct wcfg *c = j->w->cfg;
    cJSON *mt = cJSON_GetObjectItemCaseSensitive(j->job, "max_tokens");
    cJSON *m = cJSON_GetObjectItemCaseSensitive(j->job, "model");
    char *s = cJSON_PrintUnformatted(j->job);
    struct budget_usage u = {0, 0, 0, 0};
    struct price_row p;

    u.in = s ? (long)((strlen(s) + j->text.len) / 4 + 1) : 1000;
    cJSON_free(s);
    u.out = cJSON_IsNumber(mt) ? (long)mt->valuedouble : c->max_tokens;
    p = budget_price(c, NULL, cJSON_IsString(m) ? m->valuestring : c->model);
    *tok = u.in + u.out;
    *usd = budget_usd(&p, &u, 0);
}

int
budget_gate(struct wjob *j)
{
    struct worker *w = j->w;
    struct gate_ctx *g;

    if (!w->bg || j->bstate != 0 || !budget_on(w))
        return 0;
    g = malloc(sizeof(*g));
    if (!g)
        return 0;
    slotref_set(&g->ref, j);
    g->qi = (int)(j->q - w->q);
    budget_estimate(j, &g->tok, &g->usd);
    g->at = (long long)time(NULL);
    if (budget_call(w, "reserve", j->q->keys.queue, g->at, g->tok, g->usd, 0, 0,
                    on_gate_reply, g) < 0) {
        free(g);
        return 0;
    }
    j->bstate = 1;
    return 1;
}

void
budget_spend_batch(struct worker *w, int qi, long tok, double usd)
{
    w->spend_pending += usd;
    if (w->bg) {
        w->bg->pend_tok[qi] += tok;
        w->bg->pend_usd[qi] += usd;
    }
}

double
budget_spend(struct wjob *j, const struct llm_result *r)
{
    struct worker *w = j->w;
    cJSON *m = cJSON_GetObjectItemCaseSensitive(j->job, "model");
    struct budget_usage u = {r->input_tokens, r->output_tokens,
                             r->cache_creation_input_tokens,
                             r->cache_read_input_tokens};
    struct price_row p =
        budget_price(w->cfg, r->model[0] ? r->model : NULL,
                     cJSON_IsString(m) ? m->valuestring : w->cfg->model);
    long tok;
    double usd;
    int qi = (int)(j->q - w->q);

    /* OpenAI's cached_tokens are part of its prompt_tokens; Anthropic's
     * cache reads are not part of input_tokens */
    if (w->cfg->provider == LLM_OPENAI)
        u.in = u.in > u.cache_read ? u.in - u.cache_read : 0;
    tok = u.in + u.out + u.cache_write + u.cache_read;
    usd = budget_usd(&p, &u, 0);
    metrics_tokens(w->m, r->input_tokens, r->output_tokens);
    metrics_spend(w->m, usd);
    w->spend_pending += usd;
    anomaly_tokens(w, j, tok);
    if (!w->bg)
        return usd;
    if (j->bres_tok || j->bres_usd > 0)
        budget_settle(w, qi, j->bres_at, tok - j->bres_tok, usd - j->bres_usd,
                      j->bres_tok, j->bres_usd);
    else { /* no reservation: added on the tick */
        w->bg->pend_tok[qi] += tok;
        w->bg->pend_usd[qi] += usd;
    }
    j->bres_tok = 0;
    j->bres_usd = 0;
    j->bstate = 0; /* the next part reserves again */
    return usd;
}

void
budget_release(struct wjob *j)
{
    if (j->w->bg && j->q && (j->bres_tok || j->bres_usd > 0))
        budget_settle(j->w, (int)(j->q - j->w->q), j->bres_at, -j->bres_tok,
                      -j->bres_usd, j->bres_tok, j->bres_usd);
    j->bres_tok = 0;
    j->bres_usd = 0;
    j->bstate = 0;
}

/* Write one scope's configured caps into the caps hash: HSET what is set,
 * HDEL what was set by us before and no longer is. */
static int
push_caps(struct worker *w, const char *prefix, const struct budget_caps *c,
          struct budget_caps *was)
{
    const double now[4] = {c->usd_day, c->usd_month, c->tok_day, c->tok_month};
    const double old[4] = {was->usd_day, was->usd_month, was->tok_day,
                           was->tok_month};
    static const char *const names[4] = {"usd_day", "usd_month", "tok_day",
                                         "tok_month"};

    for (int i = 0; i < 4; i++) {
        char f[QUEUE_NAME_MAX + 24], v[48];
        const char *av[4] = {now[i] > 0 ? "HSET" : "HDEL", KEY_BUDGET_CAPS, f,
                             v};
        if (now[i] <= 0 && old[i] <= 0)
            continue;
        snprintf(f, sizeof(f), "%s%s", prefix, names[i]);
        snprintf(v, sizeof(v), "%.17g", now[i]);
        if (rconn_command(w->rc, now[i] > 0 ? 4 : 3, av, NULL, worker_noreply,
                          NULL) < 0)
            return -1; /* not written: the next connect tries again */
    }
    *was = *c;
    return 0;
}

int
budget_push(struct worker *w)
{
    const struct wcfg *c = w->cfg;
    struct budget_caps g = {c->budget_usd_day, c->budget_usd_month,
                            c->budget_tok_day, c->budget_tok_month};
    const struct budget_caps *qc;
    const char *name;

    int rc;

    if (!w->bg || !rconn_is_up(w->rc))
        return -1;
    rc = push_caps(w, "", &g, &w->bg->pushed);
    for (int i = 0; i < w->nq; i++) {
        struct budget_caps none = {0, 0, 0, 0};
        char p[QUEUE_NAME_MAX + 8];
        const struct budget_caps *mine = &none;
        for (int k = 0; (qc = budget_cfg_queue(k, &name)) != NULL; k++)
            if (!strcmp(name, w->q[i].keys.queue))
                mine = qc;
        snprintf(p, sizeof(p), "q:%s:", w->q[i].keys.queue);
        if (push_caps(w, p, mine, &w->bg->pushed_q[i]) < 0)
            rc = -1;
    }
    return rc;
}

static void
on_caps(struct rconn *c, redisReply *r, void *pd)
{
    struct worker *w = pd;
    int on = 0;

    (void)c;
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *f = r->element[i]->str;
        if (!f || strtod(r->element[i + 1]->str, NULL) <= 0)
            continue;
        if (strncmp(f, "q:", 2) != 0)
            on = 1;
        for (int k = 0; k < w->nq && !on; k++) {
            size_t n = strlen(w->q[k].keys.queue);
            on = !strncmp(f + 2, w->q[k].keys.queue, n) && f[2 + n] == ':';
        }
    }
    w->bg->remote = on;
}

struct check_ctx {
    struct worker *w;
    int qi;
};

static void
on_check(struct rconn *c, redisReply *r, void *pd)
{
    struct check_ctx *k = pd;
    struct worker *w = k->w;
    struct budget *b = w->bg;
    int qi = k->qi;

    (void)c;
    free(k);
    b->checking--;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1)
        return;
    if (r->element[0]->integer == 0 && r->elements >= 5) {
        if (strncmp(r->element[1]->str, "q:", 2) != 0)
            return; /* the fleet's cap still holds */
        w->q[qi].paused_until = ev_now(w->loop) + 1.5;
        b->stopped = 0; /* only this queue's */
        return;
    }
    if (b->stopped || b->stopped_q[qi])
        log_kv(LOG_INFO, "budget room again: claiming resumed", "queue",
               w->q[qi].keys.queue, NULL);
    b->stopped = 0;
    b->stopped_q[qi] = 0;
    w->q[qi].paused_until = 0;
    metrics_budget(w->m, 0);
    maybe_claim(w);
}

void
budget_tick(struct worker *w)
{
    struct budget *b = w->bg;

    if (!b || !rconn_is_up(w->rc))
        return;
    budget_connected(w);
    for (int i = 0; i < w->nq; i++) {
        if (b->pend_tok[i] || b->pend_usd[i] != 0 || b->pend_rtok[i] ||
            b->pend_rusd[i] != 0) {
            long t = b->pend_tok[i], rt = b->pend_rtok[i];
            double u = b->pend_usd[i], ru = b->pend_rusd[i];
            b->pend_tok[i] = b->pend_rtok[i] = 0;
            b->pend_usd[i] = b->pend_rusd[i] = 0;
            budget_settle(w, i, (long long)time(NULL), t, u, rt,
                          ru); /* kept again if not sent */
        }
        if ((b->stopped || b->stopped_q[i]) && b->checking < w->nq) {
            struct check_ctx *k = malloc(sizeof(*k));
            if (!k)
                continue;
            k->w = w;
            k->qi = i;
            if (budget_call(w, "check", w->q[i].keys.queue,
                            (long long)time(NULL), 0, 0, 0, 0, on_check, k) < 0)
                free(k);
            else
                b->checking++;
        }
        if (b->stopped_q[i])
            w->q[i].paused_until = ev_now(w->loop) + 1.5;
    }
}

void
budget_connected(struct worker *w)
{
    const char *av[2] = {"HGETALL", KEY_BUDGET_CAPS};

    if (!w->bg)
        return;
    if (!w->bg->connected)
        w->bg->connected = budget_push(w) == 0;
    /* not sent: Redis is down; the next tick or connect reads them */
    (void)rconn_command(w->rc, 2, av, NULL, on_caps, w);
}

static void
on_sighup(EV_P_ ev_signal *s, int revents)
{
    struct worker *w = s->data;
    char err[512];

    (void)loop;
    (void)revents;
    if (settings_reload(err, sizeof(err)) < 0) {
        log_kv(LOG_ERROR, "SIGHUP: config not reloaded; the old values stay",
               "error", err, NULL);
        return;
    }
    log_kv(LOG_INFO, "SIGHUP: budgets, prices and anomaly settings reloaded",
           NULL);
    if (budget_push(w) < 0)
        w->bg->connected = 0; /* written at the next connect */
    budget_tick(w); /* a raised cap resumes now, not on the next tick */
}

int
budget_init(struct worker *w)
{
    w->bg = calloc(1, sizeof(*w->bg));
    if (!w->bg)
        return -1;
    ev_signal_init(&w->bg->sig_hup, on_sighup, SIGHUP);
    w->bg->sig_hup.data = w;
    ev_signal_start(w->loop, &w->bg->sig_hup);
    return 0;
}

void
budget_free(struct worker *w)
{
    if (!w->bg)
        return;
    ev_signal_stop(w->loop, &w->bg->sig_hup);
    free(w->bg);
    w->bg = NULL;
}
