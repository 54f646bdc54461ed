/* batch_submit: a sealed set becomes a provider batch, crash-safe (README
 * "Batch mode"). The record and its members are written under a fresh
 * random token BEFORE the submit (batch_record.lua); the submit carries
 * the token -- OpenAI as metadata.genq_token, Anthropic (no metadata) as
 * the first 8 characters of every custom_id --, and the provider's id is
 * saved after the reply. A record still "submitting" when its lease runs
 * out is resolved by whoever takes it: the provider's recent batches are
 * listed, those genq knows (genq:batch:pids) are skipped, and one that
 * carries the token is adopted (Anthropic: read from the first result line
 * once an unknown candidate has ended). Only when no candidate can be ours
 * is the batch submitted again: never twice. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "job.h"
#include "log.h"
#include "timefmt.h"
#include "worker_int.h"
#include "batch.h"

#define RESOLVE_WINDOW_MS (5 * 60 * 1000) /* provider clock skew allowed */

static void do_submit(struct bop *op);

int
bop_http(struct bop *op, const char *path, const char *method, char *body,
         size_t len, http_data_fn on_data, http_done_fn on_done)
{
    struct worker *w = op->bw->w;
    const char *base = w->cfg->api_base ? w->cfg->api_base : "";
    size_t bl = strlen(base), n;
    char *url;

    http_req_reset(&op->req);
    free(op->req.url);
    free(op->req.body);
    op->req.url = NULL;
    op->req.body = NULL;
    hdrs_unref(op->hold);
    op->hold = NULL;
    if (!strncmp(path, "http://", 7) || !strncmp(path, "https://", 8)) {
        url = strdup(path);
    } else {
        if (bl && base[bl - 1] == '/' && path[0] == '/')
            bl--;
        n = bl + strlen(path) + 1;
        url = malloc(n);
        if (url)
            snprintf(url, n, "%.*s%s", (int)bl, base, path);
    }
    if (!url) {
        free(body);
        return -1;
    }
    if (w->jwt)
        authhdr_refresh(w);
    op->req.url = url;
    op->req.method = method;
    op->req.body = body ? body : strdup("");
    op->req.body_len = body ? len : 0;
    if (!op->req.body)
        return -1;
    op->hold = w->hdrs;
    if (op->hold)
        op->hold->refs++;
    op->req.headers = op->hdr ? op->hdr : (op->hold ? op->hold->l : NULL);
    op->req.timeout_ms = (long)w->cfg->timeout_s * 1000;
    op->req.connect_timeout_ms = (long)w->cfg->connect_timeout_s * 1000;
    op->req.stall_s = w->cfg->stall_timeout_s;
    op->req.insecure = w->cfg->insecure;
    op->req.on_data = on_data;
    op->req.on_done = on_done;
    op->req.on_hdr = NULL;
    op->req.ud = op;
    op->req.resp.max = 64u << 20;
    return http_submit(w->http, &op->req);
}

/* ---- record ---- */

static void
on_record(struct rconn *rc, redisReply *r, void *pd)
{
    struct bop *op = pd;
    char n[24];

    (void)rc;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER ||
        r->element[0]->integer <= 0 ||
        r->element[1]->type != REDIS_REPLY_STRING) {
        /* not recorded: nothing was sent; the leases run out and the jobs
         * run again */
        log_kv(LOG_ERROR, "batch not recorded; its jobs' leases will expire",
               "batch", op->token,
               (r && r->type == REDIS_REPLY_ERROR) ? "error" : NULL,
               (r && r->type == REDIS_REPLY_ERROR) ? r->str : NULL, NULL);
        bop_free(op);
        return;
    }
    op->n = (long)r->element[0]->integer;
    snprintf(op->ltok, sizeof(op->ltok), "%s", r->element[1]->str);
    for (size_t i = 2; i < r->elements; i++)
        for (int k = 0; k < op->set.n; k++)
            if (r->element[i]->type == REDIS_REPLY_STRING &&
                !strcmp(op->set.m[k].id, r->element[i]->str))
                op->set.m[k].settled = -1;
    snprintf(n, sizeof(n), "%ld", op->n);
    log_kv(LOG_INFO, "batch recorded", "batch", op->token, "jobs", n, NULL);
    bop_renew_start(op);
    do_submit(op);
}

void
batch_submit(struct batchw *bw, int qi, struct bset *set)
{
    struct worker *w = bw->w;
    struct bop *op = bop_new(bw, qi);
    unsigned char rnd[8];
    const char **argv = NULL;
    char **vals = NULL;
    char lease[24], mlease[24], entries[24];
    int argc = 0, nm = 0;

    if (!op || getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        log_kv(LOG_ERROR,
               "batch not submitted (out of memory); its jobs' "
               "leases will expire",
               NULL);
        bset_free(set);
        if (op)
            bop_free(op);
        return;
    }
    op->set = *set;
    memset(set, 0, sizeof(*set));
    for (int i = 0; i < 8; i++)
        snprintf(op->token + 2 * i, 3, "%02x", rnd[i]);
    op->step = BS_RECORD;
    for (int i = 0; i < op->set.n; i++) {
        struct bmember *m = &op->set.m[i];
        struct bentry *e = &op->set.e[m->entry];
        if (!e->cid[0])
            batch_cid(e->cid, op->token, m->id, m->entry);
        if (m->settled >= 0)
            nm++;
    }
    argv = malloc(sizeof(*argv) * (size_t)(4 * nm + 16));
    vals = calloc((size_t)nm + 1, sizeof(*vals));
    if (!argv || !vals)
        goto oom;
    snprintf(lease, sizeof(lease), "%d", w->cfg->visibility_s * 1000);
    snprintf(mlease, sizeof(mlease), "%.0f",
             (w->cfg->visibility_s * 2 + w->cfg->batch_poll_max_s) * 1000.0);
    snprintf(entries, sizeof(entries), "%d", op->set.ne);
    argv[argc++] = op->token;
    argv[argc++] = w->id;
    argv[argc++] = lease;
    argv[argc++] = mlease;
    argv[argc++] = "4";
    argv[argc++] = "provider";
    argv[argc++] = llm_provider_name(w->cfg->provider);
    argv[argc++] = "base";
    argv[argc++] = bw->base;
    argv[argc++] = "model";
    argv[argc++] = op->set.model;
    argv[argc++] = "entries";
    argv[argc++] = entries;
    for (int i = 0, k = 0; i < op->set.n; i++) {
        struct bmember *m = &op->set.m[i];
        size_t n;
        if (m->settled < 0)
            continue;
        n = 24 + (m->meta ? strlen(m->meta) : 0);
        if (!(vals[k] = malloc(n)))
            goto oom;
        snprintf(vals[k], n, "%d|%s", m->attempts, m->meta ? m->meta : "");
        argv[argc++] = m->id;
        argv[argc++] = m->token;
        argv[argc++] = op->set.e[m->entry].cid;
        argv[argc++] = vals[k++];
    }
    if (rconn_script(w->rc, SCRIPT_BATCH_RECORD, &w->q[qi].keys, argc, argv,
                     NULL, on_record, op) < 0) {
        log_kv(LOG_ERROR,
               "batch not recorded (Redis down); its jobs' "
               "leases will expire",
               NULL);
        bop_free(op);
    }
    for (int k = 0; k < nm; k++)
        free(vals[k]);
    free(vals);
    free(argv);
    return;
oom:
    for (int k = 0; vals && k < nm; k++)
        free(vals[k]);
    free(vals);
    free(argv);
    log_kv(LOG_ERROR, "batch not recorded (out of memory)", NULL);
    bop_free(op);
}

/* ---- submit ---- */

/* The provider's id is known: save it (and the record's state). */
static void
save_pid(struct bop *op, int adopted)
{
    struct worker *w = op->bw->w;
    char now[24], val[QUEUE_NAME_MAX + BATCH_TOKEN_LEN + 2];
    const char *f[] = {"pid",          op->pid, "state",   "open",
                       "submitted_ms", now,     "file_id", op->file_id};
    const char *argv[] = {"HSET", KEY_BATCH_PIDS, op->pid, val};
    char nj[24];

    snprintf(now, sizeof(now), "%lld", (long long)time_now_ms());
    snprintf(val, sizeof(val), "%s %s", w->q[op->qi].keys.queue, op->token);
    rconn_command(w->rc, 4, argv, NULL, worker_noreply, NULL);
    snprintf(nj, sizeof(nj), "%ld", op->n);
    log_kv(LOG_INFO,
           adopted ? "batch found at the provider; adopted" : "batch submitted",
           "batch", op->token, "provider_id", op->pid, "jobs", nj, NULL);
    if (!adopted)
        metrics_batch(w->m, 0, op->n);
    op->step = BS_SAVE;
    bop_release(op, w->cfg->batch_poll_s, 8, f);
}

/* The create (or upload) failed for good: the provider refused it. */
static void
submit_refused(struct bop *op, const char *what)
{
    char why[700];

    snprintf(why, sizeof(why), "batch %s refused: HTTP %ld %.500s", what,
             op->req.status, op->req.resp.data ? op->req.resp.data : "");
    log_kv(LOG_ERROR, "batch refused by the provider", "batch", op->token,
           "why", why, NULL);
    batch_settle_failed(op, why);
}

/* Whether a finished submit call's outcome is unknown (the provider may
 * have created the batch): transport errors, 408/409/429, 5xx. */
static int
outcome_unknown(const struct http_req *r, int curl_code)
{
    return curl_code != 0 || r->status == 408 || r->status == 409 ||
           r->status == 429 || r->status >= 500;
}

static void
on_create_done(struct http_req *r, int curl_code)
{
    struct bop *op = r->ud;

    if (curl_code == 0 && r->status >= 200 && r->status < 300) {
        struct batch_status st;
        if (batch_status_parse(op->bw->w->cfg->provider,
                               r->resp.data ? r->resp.data : "", r->resp.len,
                               &st) == 0) {
            snprintf(op->pid, sizeof(op->pid), "%s", st.id);
            save_pid(op, 0);
            return;
        }
    }
    if (outcome_unknown(r, curl_code) ||
        (curl_code == 0 && r->status >= 200 && r->status < 300)) {
        /* created or not: the lease runs out and the record is resolved
         * by looking it up (soon: due after one poll interval) */
        char st[16];
        snprintf(st, sizeof(st), "%ld", r->status);
        log_kv(LOG_WARN, "batch submit outcome unknown; it will be looked up",
               "batch", op->token, "status", st, "curl", r->errbuf, NULL);
        bop_release(op, op->bw->w->cfg->batch_poll_s, 0, NULL);
        return;
    }
    submit_refused(op, "create");
}

static void
create_batch(struct bop *op, char *body, size_t len)
{
    op->step = BS_CREATE;
    if (bop_http(op,
                 op->bw->w->cfg->provider == LLM_OPENAI
                     ? "/v1/batches"
                     : "/v1/messages/batches",
                 NULL, body, len, NULL, on_create_done) < 0)
        bop_release(op, op->bw->w->cfg->batch_poll_s, 0, NULL);
}

static void
on_upload_done(struct http_req *r, int curl_code)
{
    struct bop *op = r->ud;
    char *body;

    curl_slist_free_all(op->hdr);
    op->hdr = NULL;
    if (curl_code == 0 && r->status >= 200 && r->status < 300 &&
        batch_openai_file_id(r->resp.data ? r->resp.data : "", r->resp.len,
                             op->file_id, sizeof(op->file_id)) == 0) {
        body = batch_openai_create_body(op->file_id, op->token);
        if (body) {
            create_batch(op, body, strlen(body));
            return;
        }
    }
    if (curl_code == 0 && !outcome_unknown(r, curl_code) &&
        !(r->status >= 200 && r->status < 300)) {
        submit_refused(op, "file upload");
        return;
    }
    /* nothing was created (an orphan file at most): the resolution finds
     * no batch and submits again */
    bop_release(op, op->bw->w->cfg->batch_poll_s, 0, NULL);
}

/* The worker's headers with content-type replaced (multipart). */
static struct curl_slist *
headers_with_type(struct worker *w, const char *ctype)
{
    struct curl_slist *l = NULL, *t;

    if (w->jwt)
        authhdr_refresh(w);
    for (const struct curl_slist *h = w->hdrs ? w->hdrs->l : NULL; h;
         h = h->next) {
        if (!strncasecmp(h->data, "content-type:", 13))
            continue;
        if (!(t = curl_slist_append(l, h->data)))
            goto oom;
        l = t;
    }
    if ((t = curl_slist_append(l, ctype)))
        return t;
oom:
    curl_slist_free_all(l);
    return NULL;
}

static void
do_submit(struct bop *op)
{
    struct worker *w = op->bw->w;
    enum llm_provider p = w->cfg->provider;
    struct buf b;
    int bad = 0, first = 1;

    buf_init(&b, 0);
    bad |= batch_body_open(p, &b) < 0;
    for (int i = 0; i < op->set.ne && !bad; i++) {
        struct bentry *e = &op->set.e[i];
        if (!e->params)
            continue; /* its jobs are gone (a rebuilt set) */
        bad |= batch_entry_append(p, &b, first, e->cid, e->params, e->len) < 0;
        first = 0;
        free(e->params);
        e->params = NULL;
    }
    bad |= batch_body_close(p, &b) < 0;
    if (bad) {
        buf_free(&b);
        log_kv(LOG_ERROR, "batch body: out of memory", "batch", op->token,
               NULL);
        bop_release(op, w->cfg->batch_poll_s, 0, NULL);
        return;
    }
    if (p == LLM_OPENAI) {
        struct buf mp;
        char boundary[48], ctype[96];
        snprintf(boundary, sizeof(boundary), "genq-%s", op->token);
        snprintf(ctype, sizeof(ctype),
                 "content-type: multipart/form-data; boundary=%s", boundary);
        buf_init(&mp, 0);
        bad = batch_openai_upload(&mp, boundary, op->token,
                                  b.data ? b.data : "", b.len) < 0;
        buf_free(&b);
        op->hdr = bad ? NULL : headers_with_type(w, ctype);
        if (bad || !op->hdr) {
            buf_free(&mp);
            bop_release(op, w->cfg->batch_poll_s, 0, NULL);
            return;
        }
        op->step = BS_UPLOAD;
        {
            size_t len = mp.len;
            char *body = buf_detach(&mp, NULL);
            if (bop_http(op, "/v1/files", NULL, body, len, NULL,
                         on_upload_done) < 0)
                bop_release(op, w->cfg->batch_poll_s, 0, NULL);
        }
        return;
    }
    {
        size_t len = b.len;
        char *body = buf_detach(&b, NULL);
        create_batch(op, body, len);
    }
}

/* ---- resolve ---- */

static void resolve_list(struct bop *op);

/* The stored jobs of the members (HMGET, in member order): each entry's
 * request rebuilt from its first member's job, then submitted. An entry
 * none of whose jobs is left (purged meanwhile) is left out: its members
 * are settled as missing from the results. */
static void
on_rebuild_payloads(struct rconn *rc, redisReply *r, void *pd)
{
    struct bop *op = pd;
    struct worker *w = op->bw->w;
    struct llm_req_opts o = {w->cfg->provider, w->cfg->model,
                             w->cfg->max_tokens, 0, w->q[op->qi].prompt_cache};
    char **bodies, err[256];

    (void)rc;
    if (!r || r->type != REDIS_REPLY_ARRAY || (int)r->elements != op->set.n ||
        !(bodies = calloc((size_t)op->set.ne + 1, sizeof(*bodies)))) {
        bop_release(op, w->cfg->batch_poll_s, 0, NULL);
        return;
    }
    for (int i = 0; i < op->set.n; i++) {
        int e = op->set.m[i].entry;
        cJSON *job;
        const char *path;
        if (bodies[e] || r->element[i]->type != REDIS_REPLY_STRING)
            continue;
        job = job_stored_parse(w->pk, op->set.m[i].id, r->element[i]->str,
                               r->element[i]->len, err, sizeof(err));
        if (!job)
            log_kv(LOG_WARN, "batch submit: a stored job cannot be read",
                   "error", err, NULL);
        if (job)
            bodies[e] = llm_build_body(&o, job, NULL, 0, &path);
        cJSON_Delete(job);
    }
    for (int e = 0; e < op->set.ne; e++) { /* the cid key gives way */
        free(op->set.e[e].params);
        op->set.e[e].params = bodies[e];
        op->set.e[e].len = bodies[e] ? strlen(bodies[e]) : 0;
    }
    free(bodies);
    do_submit(op);
}

/* The members of a record to submit again; then their stored jobs. */
static void
on_rebuild(struct rconn *rc, redisReply *r, void *pd)
{
    struct bop *op = pd;
    struct worker *w = op->bw->w;
    const char **argv = NULL;
    int argc = 0;

    (void)rc;
    if (!r || r->type != REDIS_REPLY_ARRAY || bset_load(&op->set, r) < 0 ||
        op->set.n == 0 ||
        !(argv = malloc(sizeof(*argv) * (size_t)(op->set.n + 2)))) {
        bop_release(op, w->cfg->batch_poll_s, 0, NULL);
        return;
    }
    argv[argc++] = "HMGET";
    argv[argc++] = w->q[op->qi].keys.key[QK_JOBS];
    for (int i = 0; i < op->set.n; i++)
        argv[argc++] = op->set.m[i].id;
    op->step = BS_REBUILD;
    if (rconn_command(w->rc, argc, argv, NULL, on_rebuild_payloads, op) < 0)
        bop_release(op, w->cfg->batch_poll_s, 0, NULL);
    free(argv);
}

static void
resubmit(struct bop *op)
{
    struct worker *w = op->bw->w;
    char mkey[QUEUE_NAME_MAX + 64];
    const char *argv[] = {"HGETALL", mkey};

    log_kv(LOG_WARN, "batch record never reached the provider; submitting it",
           "batch", op->token, NULL);
    qkeys_batch(&w->q[op->qi].keys, op->token, 1, mkey, sizeof(mkey));
    op->step = BS_REBUILD;
    if (rconn_command(w->rc, 2, argv, NULL, on_rebuild, op) < 0)
        bop_release(op, w->cfg->batch_poll_s, 0, NULL);
}

/* Anthropic: the first line of an ended candidate's results. */
static int
on_peek_data(struct http_req *r, const char *p, size_t n)
{
    struct bop *op = r->ud;

    if (buf_append(&op->line, p, n) < 0)
        return -1;
    return memchr(p, '\n', n) ? -1 : 0; /* the first line is enough */
}

static void peek_next(struct bop *op);

static void
on_peek_done(struct http_req *r, int curl_code)
{
    struct bop *op = r->ud;
    char cid[BATCH_CID_MAX + 1] = "";
    const char *d = op->line.data ? op->line.data : "";
    const char *q = strstr(d, "\"custom_id\":\"");

    (void)curl_code;
    if (q)
        snprintf(cid, sizeof(cid), "%.*s", (int)strcspn(q + 13, "\""), q + 13);
    buf_reset(&op->line);
    if (r->status == 200 && strlen(cid) > 9 && !strncmp(cid, op->token, 8) &&
        cid[8] == '_') {
        snprintf(op->pid, sizeof(op->pid), "%s", op->cand[op->icand]);
        save_pid(op, 1);
        return;
    }
    /* a candidate that could not be read (network error, 429, 5xx) may be
     * ours: counted as unresolved, so that the record is retried later
     * instead of submitted a second time */
    if (r->status != 200)
        op->unknown_running++;
    op->icand++;
    peek_next(op);
}

static void
peek_next(struct bop *op)
{
    char path[256];

    if (op->icand >= op->ncand) {
        if (op->unknown_running)
            bop_release(op, op->bw->w->cfg->batch_poll_s, 0, NULL);
        else
            resubmit(op);
        return;
    }
    op->step = BS_PEEK;
    snprintf(path, sizeof(path), "/v1/messages/batches/%s/results",
             op->cand[op->icand]);
    if (bop_http(op, path, "GET", NULL, 0, on_peek_data, on_peek_done) < 0)
        bop_release(op, op->bw->w->cfg->batch_poll_s, 0, NULL);
}

/* The unrecorded candidates among those listed (HMGET genq:batch:pids). */
struct cand_ref {
    struct bop *op;
    struct batch_status st[8];
    int n;
    int older; /* the page reached batches older than the window */
    int more;
};

/* A page is done: the next one while the window goes on, else the
 * candidates (Anthropic), else nothing can be ours: submit again. */
static void
list_next(struct cand_ref *cr)
{
    struct bop *op = cr->op;
    int more = cr->more && !cr->older && op->pages < 10;

    free(cr);
    if (more) {
        resolve_list(op);
    } else if (op->bw->w->cfg->provider == LLM_OPENAI) {
        resubmit(op);
    } else {
        op->icand = 0;
        peek_next(op);
    }
}

static void
on_known(struct rconn *rc, redisReply *r, void *pd)
{
    struct cand_ref *cr = pd;
    struct bop *op = cr->op;

    (void)rc;
    if (!r || r->type != REDIS_REPLY_ARRAY || (int)r->elements != cr->n) {
        free(cr);
        bop_release(op, op->bw->w->cfg->batch_poll_s, 0, NULL);
        return;
    }
    for (int i = 0; i < cr->n; i++) {
        if (r->element[i]->type == REDIS_REPLY_STRING)
            continue; /* recorded by some genq batch */
        if (cr->st[i].st == BPS_RUNNING)
            op->unknown_running++;
        else if (cr->st[i].st == BPS_ENDED && op->ncand < 8)
            snprintf(op->cand[op->ncand++], sizeof(op->cand[0]), "%s",
                     cr->st[i].id);
    }
    list_next(cr);
}

static int
on_listed(const struct batch_status *st, void *ud)
{
    struct cand_ref *cr = ud;
    struct bop *op = cr->op;

    if (st->created_ms && st->created_ms < op->created_ms - RESOLVE_WINDOW_MS) {
        cr->older = 1;
        return 1;
    }
    if (op->bw->w->cfg->provider == LLM_OPENAI) {
        if (!strcmp(st->marker, op->token)) {
            snprintf(op->pid, sizeof(op->pid), "%s", st->id);
            return 1;
        }
        return 0;
    }
    if (cr->n < 8)
        cr->st[cr->n++] = *st;
    else
        op->unknown_running++; /* too many to look at in one turn */
    return 0;
}

static void
on_list_done(struct http_req *r, int curl_code)
{
    struct bop *op = r->ud;
    struct worker *w = op->bw->w;
    struct cand_ref *cr;
    const char **argv;
    int argc = 0;

    if (curl_code != 0 || r->status != 200 || !(cr = calloc(1, sizeof(*cr)))) {
        bop_release(op, w->cfg->batch_poll_s, 0, NULL);
        return;
    }
    cr->op = op;
    op->pid[0] = '\0';
    if (batch_list_parse(w->cfg->provider, r->resp.data ? r->resp.data : "",
                         r->resp.len, on_listed, cr, &cr->more, op->after,
                         sizeof(op->after)) < 0) {
        free(cr);
        bop_release(op, w->cfg->batch_poll_s, 0, NULL);
        return;
    }
    if (op->pid[0]) { /* OpenAI: the token's batch */
        free(cr);
        save_pid(op, 1);
        return;
    }
    if (w->cfg->provider == LLM_OPENAI || cr->n == 0) {
        list_next(cr);
        return;
    }
    argv = malloc(sizeof(*argv) * (size_t)(cr->n + 2));
    if (!argv) {
        free(cr);
        bop_release(op, w->cfg->batch_poll_s, 0, NULL);
        return;
    }
    argv[argc++] = "HMGET";
    argv[argc++] = KEY_BATCH_PIDS;
    for (int i = 0; i < cr->n; i++)
        argv[argc++] = cr->st[i].id;
    if (rconn_command(w->rc, argc, argv, NULL, on_known, cr) < 0) {
        free(cr);
        bop_release(op, w->cfg->batch_poll_s, 0, NULL);
    }
    free(argv);
}

static void
resolve_list(struct bop *op)
{
    char path[256];
    int oai = op->bw->w->cfg->provider == LLM_OPENAI;

    op->step = BS_RESOLVE;
    op->pages++;
    snprintf(path, sizeof(path), "%s?limit=100%s%s",
             oai ? "/v1/batches" : "/v1/messages/batches",
             op->after[0] ? (oai ? "&after=" : "&after_id=") : "", op->after);
    if (bop_http(op, path, "GET", NULL, 0, NULL, on_list_done) < 0)
        bop_release(op, op->bw->w->cfg->batch_poll_s, 0, NULL);
}

void
batch_resolve(struct bop *op)
{
    log_kv(LOG_INFO, "looking up a batch whose submit was cut short", "batch",
           op->token, NULL);
    op->unknown_running = 0;
    op->ncand = op->icand = 0;
    op->after[0] = '\0';
    op->pages = 0;
    resolve_list(op);
}
