/* genq dashboard: the JSON API under /api/. Every document is the one the
 * CLI prints with --json, built by the same code (docs.h): the stats
 * documents and the worker documents come from the shared sampler
 * (dash_sampler.c: one Redis read a second however many viewers), the
 * dead-letter pages from the dlq pager, jobs from the inspect script, and
 * requeue/purge run `genq dlq requeue|purge` itself (dlq_change()). */
#include "fmacros.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dash.h"
#include "dlq.h"
#include "docs.h"
#include "job.h"
#include "rclient.h"
#include "ready_find.h"

#define DLQ_LIMIT_DEFAULT 100
#define DLQ_LIMIT_MAX     1000
#define DLQ_SCAN_PAGE     500
#define IDS_MAX           100000

int
dash_connect(struct dash_req *r, struct cli *c, const char *q,
             enum MHD_Result *ret)
{
    char err[512];

    cli_init(c);
    c->redis_url = r->d->redis_url;
    c->queue = q;
    if (cli_connect_err(c, err, sizeof(err)) < 0) {
        *ret = dash_error(r, MHD_HTTP_BAD_GATEWAY, "redis: %s", err);
        return -1;
    }
    return 0;
}

const char *
dash_unknown_member(const cJSON *body, const char *const names[])
{
    const cJSON *m;

    cJSON_ArrayForEach(m, body)
    {
        int known = 0;
        for (int i = 0; names[i] && !known; i++)
            known = !strcmp(m->string, names[i]);
        if (!known)
            return m->string;
    }
    return NULL;
}

const char *
dash_body_queue(struct dash_req *r, const cJSON *body,
                const char *const names[], enum MHD_Result *ret)
{
    const char *bad = dash_unknown_member(body, names);
    const char *q = cJSON_GetStringValue(cJSON_GetObjectItem(body, "queue"));

    if (bad) {
        *ret = dash_error(r, MHD_HTTP_BAD_REQUEST,
                          "body: unknown member '%.64s'", bad);
        return NULL;
    }
    if (!q || !queue_name_valid(q)) {
        *ret = dash_error(r, MHD_HTTP_BAD_REQUEST,
                          "queue: expected a queue name (1..64 of A-Z a-z "
                          "0-9 . _ -)");
        return NULL;
    }
    return q;
}

cJSON *
dash_page_doc(const char *q, cJSON **entries)
{
    cJSON *doc = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    int bad = 0;

    ops_jstr(doc, "queue", q, &bad);
    if (bad || !arr || !cJSON_AddItemToObject(doc, "entries", arr)) {
        cJSON_Delete(arr);
        cJSON_Delete(doc);
        return NULL;
    }
    *entries = arr;
    return doc;
}

int
dash_id_ok(const char *id)
{
    size_t n = strlen(id);

    if (n == 0 || n > JOB_ID_MAX || !strcmp(id, "-"))
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f)
            return 0;
    return 1;
}

/* ---- session ------------------------------------------------------------ */

enum MHD_Result
dash_api_session(struct dash_req *r)
{
    char csrf[65];
    enum dash_who who = dash_auth_who(&r->d->auth, r->conn, csrf);
    cJSON *j = cJSON_CreateObject();
    int bad = 0;

    ops_jbool(j, "admin", r->d->auth.token_len > 0, &bad);
    ops_jbool(j, "authenticated", who != DASH_ANON, &bad);
    if (who == DASH_COOKIE)
        ops_jstr(j, "csrf", csrf, &bad);
    else
        ops_jnull(j, "csrf", &bad);
    if (bad) {
        cJSON_Delete(j);
        j = NULL;
    }
    return dash_json(r, MHD_HTTP_OK, j);
}

enum MHD_Result
dash_api_login(struct dash_req *r, cJSON *body)
{
    static const char *const names[] = {"token", NULL};
    const char *tok = cJSON_GetStringValue(cJSON_GetObjectItem(body, "token"));
    const char *bad = dash_unknown_member(body, names);
    struct dash_session s;
    char cookie[160];
    struct MHD_Response *resp;
    cJSON *j;
    char *text;
    enum MHD_Result rc;

    if (bad)
        return dash_error(r, MHD_HTTP_BAD_REQUEST,
                          "body: unknown member '%.64s' (login takes token)",
                          bad);
    if (r->d->auth.token_len == 0)
        return dash_error(r, MHD_HTTP_FORBIDDEN,
                          "read-only dashboard: no admin token is set");
    if (!tok)
        return dash_error(r, MHD_HTTP_BAD_REQUEST, "token: expected a string");
    if (!dash_ct_equal(tok, strlen(tok), r->d->auth.token,
                       r->d->auth.token_len))
        return dash_error(r, MHD_HTTP_UNAUTHORIZED, "token: wrong");
    if (dash_session_new(&r->d->auth, &s) < 0)
        return dash_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR,
                          "no randomness for a session");
    j = cJSON_CreateObject();
    if (!j || !cJSON_AddStringToObject(j, "csrf", s.csrf) ||
        !(text = cJSON_PrintUnformatted(j))) {
        cJSON_Delete(j);
        return dash_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    cJSON_Delete(j);
    snprintf(cookie, sizeof(cookie),
             DASH_COOKIE_NAME
             "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d",
             s.id, DASH_SESSION_S);
    resp = MHD_create_response_from_buffer(strlen(text), text,
                                           MHD_RESPMEM_MUST_COPY);
    cJSON_free(text);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Set-Cookie", cookie);
    rc = MHD_queue_response(r->conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return rc;
}

enum MHD_Result
dash_api_logout(struct dash_req *r)
{
    struct MHD_Response *resp;
    enum MHD_Result rc;

    dash_session_end(&r->d->auth, r->conn);
    resp = MHD_create_response_from_buffer(2, (void *)(uintptr_t) "{}",
                                           MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "Set-Cookie",
                            DASH_COOKIE_NAME "=; Path=/; HttpOnly; "
                                             "SameSite=Strict; Max-Age=0");
    rc = MHD_queue_response(r->conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* ---- from the sampler ------------------------------------------------------
 */

static enum MHD_Result
sampled(struct dash_req *r, enum dash_sample which)
{
    char err[300];
    char *text = dash_sampler_read(&r->d->sampler, which, err, sizeof(err));
    enum MHD_Result rc;

    if (!text)
        return dash_error(r, MHD_HTTP_BAD_GATEWAY, "%s", err);
    rc = dash_json_text(r, MHD_HTTP_OK, text);
    free(text);
    return rc;
}

enum MHD_Result
dash_api_queues(struct dash_req *r)
{
    return sampled(r, DASH_QUEUES);
}

enum MHD_Result
dash_api_workers(struct dash_req *r)
{
    return sampled(r, DASH_WORKERS);
}

enum MHD_Result
dash_api_limits(struct dash_req *r)
{
    return sampled(r, DASH_LIMITS);
}

enum MHD_Result
dash_api_budget(struct dash_req *r)
{
    return sampled(r, DASH_BUDGET);
}

enum MHD_Result
dash_api_series(struct dash_req *r)
{
    enum MHD_Result ret = MHD_NO;
    const char *q = dash_queue_arg(r, &ret);

    if (!q)
        return ret;
    return dash_json(r, MHD_HTTP_OK, dash_sampler_series(&r->d->sampler, q));
}

/* ---- the dead-letter queue ------------------------------------------------
 */

/* Filter value name from the body (when not NULL) or the query. A number
 * in the body is accepted only where num is given (written into it: the
 * status); any other type sets *bad. NULL when absent. The result points
 * into the request, the body or num, which outlive the filters' use. */
static const char *
filter_value(struct dash_req *r, cJSON *body, const char *name, char *num,
             int *bad)
{
    cJSON *v;

    if (!body)
        return dash_arg(r, name);
    v = cJSON_GetObjectItemCaseSensitive(body, name);
    if (!v || cJSON_IsNull(v))
        return NULL;
    if (num && cJSON_IsNumber(v)) {
        snprintf(num, 32, "%.0f", v->valuedouble);
        return num;
    }
    if (cJSON_IsString(v))
        return *v->valuestring ? v->valuestring : NULL;
    *bad = 1;
    return NULL;
}

/* The filters of `genq dlq` (class, status, since, grep; older_than with
 * older) from the query or body into o, checked as the CLI checks them.
 * 0, or -1 with the problem in err. */
static int
filters(struct dash_req *r, cJSON *body, struct dlqopt *o, int older, char *err,
        size_t errlen)
{
    char num[32];
    int bad = 0;
    const char *cls = filter_value(r, body, "class", NULL, &bad);
    const char *st = filter_value(r, body, "status", num, &bad);
    const char *since = filter_value(r, body, "since", NULL, &bad);
    const char *grep = filter_value(r, body, "grep", NULL, &bad);
    const char *old =
        older ? filter_value(r, body, "older_than", NULL, &bad) : NULL;
    int64_t probe;
    long status;

    if (bad) {
        snprintf(err, errlen,
                 "filters: class, since, grep and older_than must be strings "
                 "and status a number or a string");
        return -1;
    }

    if (cls) {
        int ok = 0;
        for (int i = 0; dlq_class_names[i]; i++)
            ok |= !strcmp(cls, dlq_class_names[i]);
        if (!ok) {
            snprintf(err, errlen,
                     "class: expected permanent, exhausted, lease_expired, "
                     "invalid, canceled or review_rejected, got '%.64s'",
                     cls);
            return -1;
        }
        o->f.cls = cls;
    }
    if (st) {
        if (ops_parse_long(st, 100, 599, &status) < 0) {
            snprintf(err, errlen,
                     "status: expected an HTTP status, got '%.32s'", st);
            return -1;
        }
        o->f.status = status;
    }
    if (since) {
        if (ops_parse_since(since, 0, &probe) < 0) {
            snprintf(err, errlen,
                     "since: expected RFC 3339 or a duration (15m, 2h, 7d), "
                     "got '%.64s'",
                     since);
            return -1;
        }
        o->since_arg = since;
    }
    if (grep)
        o->f.grep = grep;
    if (old) {
        if (ops_parse_duration(old, &probe) < 0) {
            snprintf(err, errlen,
                     "older_than: expected a duration (90s, 15m, 2h, 7d), "
                     "got '%.64s'",
                     old);
            return -1;
        }
        o->older_arg = old;
    }
    return 0;
}

/* The cursor "DIED_MS:ID" of an entry into out. */
static void
cursor_of(const struct dlq_entry *e, char *out, size_t n)
{
    snprintf(out, n, "%lld:%s", e->died_ms, e->id);
}

int
dash_cursor_split(const char *s, char *score, size_t nscore, char *id,
                  size_t nid)
{
    const char *colon = strchr(s, ':');
    size_t k = colon ? (size_t)(colon - s) : 0;

    if (!colon || k == 0 || k >= nscore || strlen(colon + 1) >= nid ||
        !dash_id_ok(colon + 1))
        return -1;
    for (size_t i = 0; i < k; i++)
        if (s[i] < '0' || s[i] > '9')
            return -1;
    snprintf(score, nscore, "%.*s", (int)k, s);
    snprintf(id, nid, "%s", colon + 1);
    return 0;
}

/* Resume pager p after cursor s. 0, or -1 when s is malformed. */
static int
cursor_set(struct dlq_pager *p, const char *s)
{
    if (dash_cursor_split(s, p->score, sizeof(p->score), p->last,
                          sizeof(p->last)) < 0)
        return -1;
    p->started = 1;
    return 0;
}

enum MHD_Result
dash_api_dlq(struct dash_req *r)
{
    enum MHD_Result ret = MHD_NO;
    const char *q = dash_queue_arg(r, &ret), *lim = dash_arg(r, "limit");
    const char *cur = dash_arg(r, "cursor");
    struct dlqopt o;
    struct dlq_pager p;
    struct dlq_entry e;
    char err[300], next[320] = "";
    long limit = DLQ_LIMIT_DEFAULT, n = 0;
    cJSON *doc, *arr;
    int bad = 0, fail = 0;

    if (!q)
        return ret;
    memset(&o, 0, sizeof(o));
    snprintf(o.cmd, sizeof(o.cmd), "dashboard");
    if (lim && ops_parse_long(lim, 1, DLQ_LIMIT_MAX, &limit) < 0)
        return dash_error(r, MHD_HTTP_BAD_REQUEST,
                          "limit: expected 1..%d, got '%.32s'", DLQ_LIMIT_MAX,
                          lim);
    if (filters(r, NULL, &o, 0, err, sizeof(err)) < 0)
        return dash_error(r, MHD_HTTP_BAD_REQUEST, "%s", err);
    if (dash_connect(r, &o.c, q, &ret) < 0)
        return ret;
    cli_close(&o.c); /* reachable: dlq_connect() connects and reads the
                        clock for since */
    if (dlq_connect(&o) < 0) {
        cli_close(&o.c);
        return dash_error(r, MHD_HTTP_BAD_GATEWAY,
                          "redis: reading the clock failed");
    }
    dlq_pager_init(&p, &o.c, &o.f, DLQ_DETAIL_LIST,
                   limit < DLQ_SCAN_PAGE && !dlq_filter_any(&o.f)
                       ? (int)limit
                       : DLQ_SCAN_PAGE);
    if (cur && cursor_set(&p, cur) < 0) {
        cli_close(&o.c);
        return dash_error(r, MHD_HTTP_BAD_REQUEST,
                          "cursor: expected the \"next\" of a page, got "
                          "'%.64s'",
                          cur);
    }
    doc = dash_page_doc(q, &arr);
    bad = !doc;
    while (!bad && !fail && !p.end && n < limit) {
        if (dlq_pager_append(&p) < 0 || dlq_pager_read(&p, o.cmd) < 0) {
            fail = 1;
            break;
        }
        while (n < limit && dlq_pager_next(&p, &e)) {
            cJSON *d = dlq_entry_doc(&e);
            if (!d || !cJSON_AddItemToArray(arr, d)) {
                cJSON_Delete(d);
                bad = 1;
                break;
            }
            n++;
            cursor_of(&e, next, sizeof(next));
        }
        /* an entry of the page left unread: there is more */
        if (n == limit && p.page && p.pos < (size_t)p.page->element[2]->integer)
            break;
    }
    if (n < limit ||
        (p.end && p.page && p.pos >= (size_t)p.page->element[2]->integer))
        next[0] = '\0';
    dlq_pager_free(&p);
    cli_close(&o.c);
    if (fail) {
        cJSON_Delete(doc);
        return dash_error(r, MHD_HTTP_BAD_GATEWAY,
                          "redis: reading the dead-letter queue failed");
    }
    if (next[0])
        ops_jstr(doc, "next", next, &bad);
    else
        ops_jnull(doc, "next", &bad);
    if (bad) {
        cJSON_Delete(doc);
        doc = NULL;
    }
    return dash_json(r, MHD_HTTP_OK, doc);
}

/* Inspect one job of queue q: the reply (INSPECT_FIELDS elements; caller
 * frees), or NULL after queueing the problem into *ret. */
static redisReply *
inspect_one(struct dash_req *r, struct cli *c, const char *id,
            enum MHD_Result *ret)
{
    const char *q;
    const char *av[3] = {"1", "1", id};
    char err[512];
    redisReply *rep;

    if (!dash_id_ok(id)) {
        *ret = dash_error(r, MHD_HTTP_BAD_REQUEST,
                          "id: expected 1..%d printable bytes", JOB_ID_MAX);
        return NULL;
    }
    if (!(q = dash_queue_arg(r, ret)))
        return NULL;
    if (dash_connect(r, c, q, ret) < 0)
        return NULL;
    /* a queued inline job: found by a scan (ready_find.h), then by key */
    rep = ready_find(c->rc, &c->keys, av + 2, 1, err, sizeof(err)) < 0
              ? NULL
              : rclient_script(c->rc, SCRIPT_INSPECT, &c->keys, 3, av, NULL,
                               err, sizeof(err));
    if (!rep || rep->type != REDIS_REPLY_ARRAY ||
        rep->elements != INSPECT_FIELDS) {
        *ret = dash_error(r, MHD_HTTP_BAD_GATEWAY, "redis: %s",
                          rep ? "unexpected reply" : err);
        if (rep)
            freeReplyObject(rep);
        cli_close(c);
        return NULL;
    }
    return rep;
}

enum MHD_Result
dash_api_dlq_entry(struct dash_req *r, const char *id)
{
    struct cli c;
    enum MHD_Result ret = MHD_NO;
    redisReply *rep = inspect_one(r, &c, id, &ret);
    char state[16];
    cJSON *d;
    int k;

    if (!rep)
        return ret;
    k = dlq_dead_doc(id, rep->element, &d, state);
    freeReplyObject(rep);
    cli_close(&c);
    if (k == 0)
        return dash_error(r, MHD_HTTP_NOT_FOUND,
                          "%s is not in the dead-letter queue (%s)", id, state);
    return dash_json(r, MHD_HTTP_OK, d);
}

enum MHD_Result
dash_api_job(struct dash_req *r, const char *id)
{
    struct cli c;
    enum MHD_Result ret = MHD_NO;
    redisReply *rep = inspect_one(r, &c, id, &ret);
    cJSON *d;
    const char *st;

    if (!rep)
        return ret;
    d = status_doc(id, rep->element, 1);
    freeReplyObject(rep);
    cli_close(&c);
    st = cJSON_GetStringValue(cJSON_GetObjectItem(d, "state"));
    return dash_json(
        r, st && !strcmp(st, "unknown") ? MHD_HTTP_NOT_FOUND : MHD_HTTP_OK, d);
}

/* ---- requeue and purge ----------------------------------------------------
 */

int
dash_body_ids(cJSON *body, char ***ids, char *err, size_t errlen)
{
    cJSON *a = cJSON_GetObjectItemCaseSensitive(body, "ids"), *v;
    int n = 0;

    *ids = NULL;
    if (!a)
        return 0;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > IDS_MAX) {
        snprintf(err, errlen, "ids: expected an array of at most %d job ids",
                 IDS_MAX);
        return -1;
    }
    *ids = calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(char *));
    if (!*ids) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    cJSON_ArrayForEach(v, a)
    {
        if (!cJSON_IsString(v) || !dash_id_ok(v->valuestring)) {
            snprintf(err, errlen, "ids[%d]: expected a job id", n);
            free(*ids);
            *ids = NULL;
            return -1;
        }
        (*ids)[n++] = v->valuestring;
    }
    return n;
}

enum MHD_Result
dash_api_dlq_change(struct dash_req *r, cJSON *body, int purge)
{
    static const char *const req_names[] = {
        "queue", "ids",  "all",     "class",         "status",
        "since", "grep", "dry_run", "keep_attempts", NULL};
    static const char *const purge_names[] = {
        "queue", "ids",  "all",     "class",      "status",
        "since", "grep", "dry_run", "older_than", NULL};
    enum MHD_Result ret = MHD_NO;
    const char *q =
        dash_body_queue(r, body, purge ? purge_names : req_names, &ret);
    cJSON *all = cJSON_GetObjectItem(body, "all");
    cJSON *dry = cJSON_GetObjectItem(body, "dry_run");
    cJSON *keep = cJSON_GetObjectItem(body, "keep_attempts");
    cJSON *report = NULL;
    struct dlqopt o;
    char err[300];
    char **ids;
    int n, rc;

    if (!q)
        return ret;
    if ((all && !cJSON_IsBool(all)) || (dry && !cJSON_IsBool(dry)) ||
        (keep && !cJSON_IsBool(keep)))
        return dash_error(r, MHD_HTTP_BAD_REQUEST, "%s: expected true or false",
                          all && !cJSON_IsBool(all)   ? "all"
                          : dry && !cJSON_IsBool(dry) ? "dry_run"
                                                      : "keep_attempts");
    memset(&o, 0, sizeof(o));
    cli_init(&o.c);
    o.c.redis_url = r->d->redis_url;
    o.c.queue = q;
    o.c.json = 1;
    o.sub = purge ? "purge" : "requeue";
    snprintf(o.cmd, sizeof(o.cmd), "dlq %s", o.sub);
    o.all = cJSON_IsTrue(all);
    o.dry_run = cJSON_IsTrue(dry);
    o.keep_attempts = cJSON_IsTrue(keep);
    o.yes = 1; /* the page asked, stating the count */
    o.report = &report;
    if (filters(r, body, &o, purge, err, sizeof(err)) < 0 ||
        (n = dash_body_ids(body, &ids, err, sizeof(err))) < 0)
        return dash_error(r, MHD_HTTP_BAD_REQUEST, "%s", err);
    o.argc = n;
    o.argv = ids;
    if (n > 0 &&
        (o.all || dlq_filter_any(&o.f) || o.since_arg || o.older_arg)) {
        free(ids);
        return dash_error(r, MHD_HTTP_BAD_REQUEST,
                          "give ids or filters, not both");
    }
    if (n == 0 && !o.all && !dlq_filter_any(&o.f) && !o.since_arg &&
        !o.older_arg) {
        free(ids);
        return dash_error(r, MHD_HTTP_BAD_REQUEST,
                          "give ids, \"all\": true or a filter");
    }
    rc = dlq_change(&o, purge);
    free(ids);
    if (!report)
        return dash_error(r, MHD_HTTP_BAD_GATEWAY,
                          "dlq %s failed (exit %d; the dashboard's log says "
                          "why)",
                          o.sub, rc);
    return dash_json(r, MHD_HTTP_OK, report);
}
