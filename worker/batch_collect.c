/* batch_collect: batch mode's intake side (README "Batch mode"). A job of
 * a --batch-queue, or one that says "batch": true, leaves its slot as soon
 * as it is claimed and joins its queue's collector: its request is built
 * (not streaming), identical requests merge into one entry, and its lease
 * is heartbeated until the set is sealed -- --batch-size members (capped
 * by the provider's count and byte limits) or --batch-wait after the
 * first -- and handed to batch_submit.c. Also batch mode's set-up. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fnv.h"
#include "jsonw.h"
#include "log.h"
#include "worker_int.h"
#include "batch.h"

/* The entry of params in s: an existing identical one, or a new one
 * (which then owns params). -1 on out of memory. */
static int
bset_entry(struct bset *s, char *params, size_t plen, int *owned)
{
    uint64_t h = fnv64(FNV64_OFFSET, params, plen);
    int i;

    *owned = 0;
    if ((s->ne + 1) * 2 > s->tcap) {
        int ncap = s->tcap ? s->tcap * 2 : 256;
        int *nt = calloc((size_t)ncap, sizeof(*nt));
        if (!nt)
            return -1;
        for (int k = 0; k < s->ne; k++) {
            int j = (int)(s->e[k].hash & (uint64_t)(ncap - 1));
            while (nt[j])
                j = (j + 1) & (ncap - 1);
            nt[j] = k + 1;
        }
        free(s->tab);
        s->tab = nt;
        s->tcap = ncap;
    }
    i = (int)(h & (uint64_t)(s->tcap - 1));
    while (s->tab[i]) {
        struct bentry *e = &s->e[s->tab[i] - 1];
        if (e->hash == h && e->len == plen && !memcmp(e->params, params, plen))
            return s->tab[i] - 1;
        i = (i + 1) & (s->tcap - 1);
    }
    if (s->ne == s->ecap) {
        int ncap = s->ecap ? s->ecap * 2 : 64;
        struct bentry *ne = realloc(s->e, (size_t)ncap * sizeof(*ne));
        if (!ne)
            return -1;
        s->e = ne;
        s->ecap = ncap;
    }
    s->e[s->ne] = (struct bentry){params, plen, h, ""};
    s->tab[i] = s->ne + 1;
    s->bytes += plen + 2 * BATCH_CID_MAX + 64;
    *owned = 1;
    return s->ne++;
}

int
bset_add(struct bset *s, const char *id, const char *token, int attempts,
         char *params, size_t plen, char *meta)
{
    int owned = 0, e;
    struct bmember *m;

    if (s->n == s->cap) {
        int ncap = s->cap ? s->cap * 2 : 64;
        struct bmember *nm = realloc(s->m, (size_t)ncap * sizeof(*nm));
        if (!nm)
            goto oom;
        s->m = nm;
        s->cap = ncap;
    }
    e = bset_entry(s, params, plen, &owned);
    if (e < 0)
        goto oom;
    if (!owned)
        free(params);
    params = NULL;
    m = &s->m[s->n];
    memset(m, 0, sizeof(*m));
    m->id = strdup(id);
    if (!m->id) {
        free(meta);
        return -1; /* the entry stays: an extra one is harmless */
    }
    snprintf(m->token, sizeof(m->token), "%s", token);
    m->attempts = attempts;
    m->entry = e;
    m->meta = meta;
    s->n++;
    return 0;
oom:
    free(params);
    free(meta);
    return -1;
}

int
bset_find(const struct bset *s, const char *key, size_t n)
{
    uint64_t h = fnv64(FNV64_OFFSET, key, n);

    if (!s->tcap)
        return -1;
    for (int i = (int)(h & (uint64_t)(s->tcap - 1)); s->tab[i];
         i = (i + 1) & (s->tcap - 1)) {
        const struct bentry *e = &s->e[s->tab[i] - 1];
        if (e->hash == h && e->len == n && !memcmp(e->params, key, n))
            return s->tab[i] - 1;
    }
    return -1;
}

int
bset_load(struct bset *s, const redisReply *r)
{
    bset_free(s);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *v = r->element[i + 1]->str, *p1, *p2, *p3;
        struct bmember *m;
        char *cid;
        if (!(p1 = strchr(v, '|')) || !(p2 = strchr(p1 + 1, '|')) ||
            !(p3 = strchr(p2 + 1, '|')))
            continue;
        cid = strndup(p1 + 1, (size_t)(p2 - p1 - 1));
        if (!cid ||
            bset_add(s, r->element[i]->str, "", 0, cid, strlen(cid), NULL) < 0)
            return -1;
        m = &s->m[s->n - 1];
        snprintf(m->token, sizeof(m->token), "%.*s", (int)(p1 - v), v);
        m->attempts = (int)strtol(p2 + 1, NULL, 10);
        if (p3[1] && !(m->meta = strdup(p3 + 1)))
            return -1;
    }
    for (int i = 0; i < s->ne; i++)
        snprintf(s->e[i].cid, sizeof(s->e[i].cid), "%s", s->e[i].params);
    return 0;
}

void
bset_free(struct bset *s)
{
    for (int i = 0; i < s->n; i++) {
        free(s->m[i].id);
        free(s->m[i].meta);
        free(s->m[i].tref);
        free(s->m[i].prompt);
    }
    for (int i = 0; i < s->ne; i++)
        free(s->e[i].params);
    free(s->m);
    free(s->e);
    free(s->tab);
    memset(s, 0, sizeof(*s));
}

/* Seal queue qi's set: hand it to batch_submit.c. */
static void
coll_seal(struct batchw *bw, int qi)
{
    struct bcoll *c = &bw->coll[qi];
    struct bset set = c->set;

    ev_timer_stop(bw->w->loop, &c->wait_timer);
    memset(&c->set, 0, sizeof(c->set));
    if (set.n == 0) {
        bset_free(&set);
        return;
    }
    batch_submit(bw, qi, &set);
}

static void
on_wait_timer(EV_P_ ev_timer *t, int revents)
{
    struct bcoll *c = t->data;

    (void)loop;
    (void)revents;
    coll_seal(c->bw, c->qi);
}

int
batch_divert(struct wjob *j)
{
    struct worker *w = j->w;
    struct batchw *bw = w->bw;
    int qi = (int)(j->q - w->q);
    struct llm_req_opts o = {w->cfg->provider, w->cfg->model,
                             w->cfg->max_tokens, 0, j->q->prompt_cache};
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(j->job, "batch");
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(j->job, "metadata");
    const char *path;
    char *params, *meta = NULL;
    struct bcoll *c;

    if (!bw || w->cfg->provider == LLM_NOOP || w->draining)
        return 0;
    if (!bw->batch_q[qi] && !cJSON_IsTrue(b))
        return 0;
    params = llm_build_body(&o, j->job, NULL, 0, &path);
    if (!params)
        return 0; /* the usual path reports the bad job */
    if (md && !(meta = cJSON_PrintUnformatted(md))) {
        free(params);
        return 0;
    }
    c = &bw->coll[qi];
    {
        /* OpenAI takes one model per batch: a job of another model seals
         * the set and starts the next */
        const cJSON *jm = cJSON_GetObjectItemCaseSensitive(j->job, "model");
        const char *model = cJSON_IsString(jm) ? jm->valuestring
                            : w->cfg->model    ? w->cfg->model
                                               : "";
        if (c->set.n > 0 && w->cfg->provider == LLM_OPENAI &&
            strcmp(c->set.model, model) != 0)
            coll_seal(bw, qi);
        if (c->set.n == 0)
            snprintf(c->set.model, sizeof(c->set.model), "%s", model);
    }
    if (c->set.n == 0) {
        ev_timer_set(&c->wait_timer, w->cfg->batch_wait_s, 0.);
        ev_timer_start(w->loop, &c->wait_timer);
    }
    if (bset_add(&c->set, j->id, j->token, j->attempts, params, strlen(params),
                 meta) < 0)
        return 0;
    if (c->set.n >= bw->max_requests ||
        c->set.bytes + 4096 >= (size_t)bw->max_bytes)
        coll_seal(bw, qi);
    slot_release(j);
    return 1;
}

/* The heartbeat reply: members whose lease is lost leave the set. */
struct hbref {
    struct batchw *bw;
    int qi, n;
    char **ids; /* the ids sent, in order */
};

static void
on_hb_reply(struct rconn *rc, redisReply *r, void *pd)
{
    struct hbref *h = pd;
    struct bcoll *c = &h->bw->coll[h->qi];

    (void)rc;
    c->hb_inflight = 0;
    if (r && r->type == REDIS_REPLY_ARRAY && (int)r->elements == h->n) {
        for (int i = 0; i < h->n; i++) {
            if (r->element[i]->type == REDIS_REPLY_INTEGER &&
                r->element[i]->integer == 1)
                continue;
            for (int k = 0; k < c->set.n; k++)
                if (c->set.m[k].id && !strcmp(c->set.m[k].id, h->ids[i])) {
                    log_kv(LOG_WARN, "batch member lost its lease", "job",
                           h->ids[i], NULL);
                    c->set.m[k].settled = -1; /* left out when recorded */
                }
        }
    }
    for (int i = 0; i < h->n; i++)
        free(h->ids[i]);
    free(h->ids);
    free(h);
}

static void
on_hb_timer(EV_P_ ev_timer *t, int revents)
{
    struct batchw *bw = t->data;
    struct worker *w = bw->w;
    char vis[24];

    (void)loop;
    (void)revents;
    snprintf(vis, sizeof(vis), "%d", w->cfg->visibility_s * 1000);
    for (int qi = 0; qi < w->nq; qi++) {
        struct bcoll *c = &bw->coll[qi];
        int n = c->set.n, argc = 0;
        const char **argv;
        struct hbref *h;

        if (n == 0 || c->hb_inflight)
            continue;
        argv = malloc(sizeof(*argv) * (size_t)(3 * n + 1));
        h = calloc(1, sizeof(*h));
        if (h)
            h->ids = calloc((size_t)n, sizeof(char *));
        if (!argv || !h || !h->ids) {
            free(argv);
            if (h)
                free(h->ids);
            free(h);
            continue;
        }
        h->bw = bw;
        h->qi = qi;
        argv[argc++] = vis;
        for (int i = 0; i < n; i++) {
            struct bmember *m = &c->set.m[i];
            if (m->settled < 0 || !(h->ids[h->n] = strdup(m->id)))
                continue;
            h->n++;
            argv[argc++] = m->id;
            argv[argc++] = m->token;
            argv[argc++] = "-1";
        }
        if (rconn_script(w->rc, SCRIPT_EXTEND, &w->q[qi].keys, argc, argv, NULL,
                         on_hb_reply, h) == 0)
            c->hb_inflight = 1;
        else
            on_hb_reply(w->rc, NULL, h);
        free(argv);
    }
}

int
batch_init(struct worker *w)
{
    const struct wcfg *cfg = w->cfg;
    struct batchw *bw = calloc(1, sizeof(*bw));
    int anthropic = cfg->provider != LLM_OPENAI;

    if (!bw)
        return -1;
    bw->w = w;
    w->bw = bw;
    for (int i = 0; i < cfg->nbatch_queues; i++)
        for (int qi = 0; qi < w->nq; qi++)
            if (!strcmp(cfg->batch_queues[i], w->q[qi].keys.queue))
                bw->batch_q[qi] = 1;
    bw->max_requests =
        anthropic ? BATCH_ANTHROPIC_MAX_REQUESTS : BATCH_OPENAI_MAX_REQUESTS;
    if (cfg->batch_size < bw->max_requests)
        bw->max_requests = cfg->batch_size;
    bw->max_bytes =
        anthropic ? BATCH_ANTHROPIC_MAX_BYTES : BATCH_OPENAI_MAX_BYTES;
    key_limit_id(bw->base, sizeof(bw->base), llm_provider_name(cfg->provider),
                 cfg->api_base ? cfg->api_base : "", "batch");
    for (int qi = 0; qi < 16; qi++) {
        ev_timer_init(&bw->coll[qi].wait_timer, on_wait_timer, 0., 0.);
        bw->coll[qi].wait_timer.data = &bw->coll[qi];
        bw->coll[qi].bw = bw;
        bw->coll[qi].qi = qi;
    }
    ev_timer_init(&bw->hb_timer, on_hb_timer, cfg->visibility_s / 3.0,
                  cfg->visibility_s / 3.0);
    bw->hb_timer.data = bw;
    ev_timer_start(w->loop, &bw->hb_timer);
    batch_poll_start(bw);
    return 0;
}

void
batch_free(struct worker *w)
{
    struct batchw *bw = w->bw;

    if (!bw)
        return;
    while (bw->ops)
        bop_free(bw->ops);
    for (int qi = 0; qi < 16; qi++) {
        ev_timer_stop(w->loop, &bw->coll[qi].wait_timer);
        bset_free(&bw->coll[qi].set);
    }
    ev_timer_stop(w->loop, &bw->hb_timer);
    ev_timer_stop(w->loop, &bw->poll_timer);
    free(bw);
    w->bw = NULL;
}

/* The reply of a drain's hand-back. */
static void
on_requeue_reply(struct rconn *rc, redisReply *r, void *pd)
{
    struct batchw *bw = pd;

    (void)rc;
    (void)r;
    bw->taking--; /* counted with the takes: both hold the drain */
    if (!bw->w->freeing)
        worker_drain_check(bw->w);
}

void
batch_drain(struct worker *w)
{
    struct batchw *bw = w->bw;
    char *err;
    char feed[24];

    if (!bw)
        return;
    /* NULL (out of memory): the collected jobs are only let go; they come
     * back when their leases expire */
    err = error_doc(DLQ_NOT_JOB_FAULT, 0, "shutdown",
                    "worker shut down before its batch was submitted", NULL);
    /* no new turns; those under way finish (batch_busy() holds the drain,
     * the drain timeout bounds it) */
    ev_timer_stop(w->loop, &bw->poll_timer);
    snprintf(feed, sizeof(feed), "%ld", w->cfg->feed_maxlen);
    for (int qi = 0; qi < w->nq; qi++) {
        struct bcoll *c = &bw->coll[qi];
        const char **argv;
        int argc = 0;

        ev_timer_stop(w->loop, &c->wait_timer);
        if (c->set.n == 0)
            continue;
        argv = err ? malloc(sizeof(*argv) * (size_t)(5 * c->set.n + 1)) : NULL;
        if (!argv) {
            bset_free(&c->set);
            continue;
        }
        for (int i = 0; i < c->set.n; i++) {
            struct bmember *m = &c->set.m[i];
            argv[argc++] = m->id;
            argv[argc++] = m->token;
            argv[argc++] = "requeue";
            argv[argc++] = "0";
            argv[argc++] = err;
        }
        argv[argc++] = feed;
        if (rconn_script(w->rc, SCRIPT_FAIL, &w->q[qi].keys, argc, argv, NULL,
                         on_requeue_reply, bw) == 0)
            bw->taking++;
        free(argv);
        bset_free(&c->set);
    }
    free(err);
}

int
batch_busy(const struct worker *w)
{
    const struct batchw *bw = w->bw;

    if (!bw)
        return 0;
    return bw->taking > 0 || bw->ops != NULL;
}
