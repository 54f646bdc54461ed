/* lease: keeping the leases of the jobs this worker holds -- heartbeats
 * (extend.lua, with progress) every third of the visibility timeout and
 * after a reconnect, abandoning jobs whose lease was lost, and handing back
 * jobs leased by a claim whose reply never came (release.lua). */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "worker_int.h"

struct hb_ctx {
    struct worker *w;
    int n;
    struct {
        int idx;
        unsigned gen;
        char token[LEASE_TOKEN_SIZE];
    } e[];
};

static void
on_hb_reply(struct rconn *c, redisReply *r, void *pd)
{
    struct hb_ctx *h = pd;
    struct worker *w = h->w;

    (void)c;
    if (r && r->type == REDIS_REPLY_ARRAY && (int)r->elements == h->n) {
        for (int i = 0; i < h->n; i++) {
            struct wjob *j = &w->slots[h->e[i].idx];
            if (r->element[i]->type != REDIS_REPLY_INTEGER ||
                r->element[i]->integer == 1)
                continue;
            if (j->st == J_FREE || j->st == J_FLUSHING ||
                j->gen != h->e[i].gen || strcmp(j->token, h->e[i].token) != 0)
                continue;
            log_kv(LOG_WARN, "lease lost; abandoning the job", "job", j->id,
                   NULL);
            j->lost = 1;
            if (j->st == J_PENDING) {
                /* unlink from the pending list */
                struct wjob **pp = &j->q->pending;
                while (*pp && *pp != j)
                    pp = &(*pp)->pnext;
                if (*pp)
                    *pp = j->pnext;
                j->q->ptail = &j->q->pending;
                while (*j->q->ptail)
                    j->q->ptail = &(*j->q->ptail)->pnext;
            }
            slot_release(j);
        }
    }
    free(h);
}

#define HB_MAX 1000 /* jobs per extend call (Lua unpack() limits) */

/* Extend the leases of the jobs this worker holds in q, with progress, in
 * calls of at most HB_MAX jobs. */
void
heartbeat_queue(struct worker *w, struct wqueue *q)
{
    int from = 0;
    char vis[24];

    snprintf(vis, sizeof(vis), "%d", w->cfg->visibility_s * 1000);
    while (from < w->cap) {
        struct hb_ctx *h = malloc(sizeof(*h) + sizeof(h->e[0]) * HB_MAX);
        const char **av = malloc(sizeof(*av) * (1 + 3 * HB_MAX));
        char(*prog)[24] = malloc(sizeof(*prog) * HB_MAX);
        int k = 0;

        if (!h || !av || !prog) {
            free(h);
            free(av);
            free(prog);
            return;
        }
        h->w = w;
        h->n = 0;
        av[k++] = vis;
        for (; from < w->cap && h->n < HB_MAX; from++) {
            struct wjob *j = &w->slots[from];
            if (!(j->q == q && j->st != J_FREE && j->st != J_FLUSHING &&
                  !j->lost))
                continue;
            h->e[h->n].idx = from;
            h->e[h->n].gen = j->gen;
            snprintf(h->e[h->n].token, sizeof(h->e[h->n].token), "%s",
                     j->token);
            snprintf(prog[h->n], 24, "%ld",
                     j->st == J_RUNNING && j->stream
                         ? j->out_tokens +
                               (j->res.output_tokens > j->res.text_deltas
                                    ? j->res.output_tokens
                                    : j->res.text_deltas)
                         : -1L);
            av[k++] = j->id;
            av[k++] = j->token;
            av[k++] = prog[h->n];
            h->n++;
            cache_renew(j); /* its in-flight marker lives as long */
        }
        if (h->n == 0 || rconn_script(w->rc, SCRIPT_EXTEND, &q->keys, k, av,
                                      NULL, on_hb_reply, h) < 0)
            free(h);
        free(av);
        free(prog);
    }
}

void
lease_on_hb_timer(EV_P_ ev_timer *t, int revents)
{
    struct worker *w = t->data;

    (void)loop;
    (void)revents;
    if (!rconn_is_up(w->rc))
        return;
    for (int i = 0; i < w->nq; i++)
        heartbeat_queue(w, &w->q[i]);
}

/* A claim whose reply never came (connection dropped, command timeout) may
 * have leased jobs to this worker that nobody works on. Once Redis is
 * reachable, release.lua hands back every job leased to this worker id
 * whose token we do not hold, attempt not counted. */

struct release_ctx {
    struct worker *w;
    int left; /* queues still to answer */
};

static void
on_release_reply(struct rconn *c, redisReply *r, void *pd)
{
    struct release_ctx *rc = pd;
    struct worker *w = rc->w;

    (void)c;
    if (r && r->type == REDIS_REPLY_INTEGER && r->integer > 0) {
        char n[24];
        snprintf(n, sizeof(n), "%lld", r->integer);
        log_kv(LOG_WARN, "handed back jobs leased by a lost claim reply",
               "jobs", n, NULL);
    }
    if (!r || r->type == REDIS_REPLY_ERROR)
        w->claim_lost = 1; /* try again later */
    if (--rc->left == 0) {
        free(rc);
        w->claiming = 0; /* the release's block (see release_lost) */
        if (w->draining)
            worker_drain_check(w);
        else
            maybe_claim(w);
    }
}

/* 0 when release calls were sent (their replies continue), -1 when not. */
int
release_lost(struct worker *w)
{
    struct release_ctx *rc = malloc(sizeof(*rc));
    int sent = 0;

    if (!rc)
        return -1;
    rc->w = w;
    rc->left = w->nq;
    w->claim_lost = 0;
    for (int i = 0; i < w->nq; i++) {
        const char **av = malloc(sizeof(*av) * (size_t)(1 + w->cap));
        int n = 0;
        if (!av) {
            rc->left--;
            w->claim_lost = 1;
            continue;
        }
        av[n++] = w->id;
        for (int k = 0; k < w->cap; k++)
            if (w->slots[k].st != J_FREE && w->slots[k].q == &w->q[i])
                av[n++] = w->slots[k].token;
        if (rconn_script(w->rc, SCRIPT_RELEASE, &w->q[i].keys, n, av, NULL,
                         on_release_reply, rc) == 0)
            sent++;
        else {
            rc->left--;
            w->claim_lost = 1;
        }
        free(av);
    }
    if (sent == 0) {
        free(rc);
        return -1;
    }
    w->claiming = CLAIMS_MAX; /* no claims until the release is done */
    return 0;
}
