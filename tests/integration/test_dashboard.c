/* genq dashboard's JSON API over HTTP (libcurl) against a real
 * `genq dashboard` on the test Redis: who may act (no token: read-only;
 * Bearer token; login cookie + CSRF token; Origin, Content-Type), that GET
 * never changes state, that text from Redis comes back exactly (escaped
 * JSON, nosniff, a CSP without inline scripts), that the documents are the
 * CLI's --json ones, cursor pages, and the errors of bad input. */
#include "fmacros.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <curl/curl.h>

#include "harness.h"
#include "harness_dash.h"

TH_SUITE(dashboard, .timeout = 90);

/* "PATH?queue=Q" + more, for the test's queue (a static buffer: one at a
 * time). */
static char *
qpath(const char *path, const char *more)
{
    static char p[1024];

    snprintf(p, sizeof(p), "%s?queue=%s%s", path, t.queue, more);
    return p;
}

static char *
requeue_body(const char *queue, const char *id)
{
    static char b[512];

    snprintf(b, sizeof(b), "{\"queue\":\"%s\",\"ids\":[\"%s\"]}", queue, id);
    return b;
}

Test(dashboard, read_only_without_a_token)
{
    struct dash d;
    static const char *const bearer[] = {"Authorization: Bearer " TOKEN, NULL};
    char st[64];

    th_make_dead(&t, "ro-1", "p", NULL, "permanent", 400, "bad");
    dash_start(&d, 0);
    expect(http(&d, "GET", "/api/session", NULL, NULL), 200, "\"admin\":false",
           "session");
    expect(http(&d, "POST", "/api/dlq/requeue", bearer,
                requeue_body(t.queue, "ro-1")),
           403, "read-only", "requeue without a token set");
    expect(http(&d, "POST", "/api/login", NULL, "{\"token\":\"" TOKEN "\"}"),
           403, "read-only", "login without a token set");
    cr_expect_str_eq(th_state(&t, "ro-1", st, NULL), "dead");
    th_stop(d.pid);
}

Test(dashboard, bearer_token_acts_and_wrong_ones_do_not)
{
    struct dash d;
    static const char *const right[] = {"Authorization: Bearer " TOKEN, NULL};
    static const char *const wrong[] = {"Authorization: Bearer " TOKEN "x",
                                        NULL};
    static const char *const prefix[] = {"Authorization: Bearer dashboard",
                                         NULL};
    static const char *const basic[] = {"Authorization: Basic " TOKEN, NULL};
    char st[64];

    th_make_dead(&t, "b-1", "p", NULL, "permanent", 400, "bad");
    dash_start(&d, 1);
    expect(http(&d, "POST", "/api/dlq/requeue", NULL,
                requeue_body(t.queue, "b-1")),
           401, "admin token required", "no token");
    expect(http(&d, "POST", "/api/dlq/requeue", wrong,
                requeue_body(t.queue, "b-1")),
           401, NULL, "wrong token");
    expect(http(&d, "POST", "/api/dlq/requeue", prefix,
                requeue_body(t.queue, "b-1")),
           401, NULL, "a prefix of the token");
    expect(http(&d, "POST", "/api/dlq/requeue", basic,
                requeue_body(t.queue, "b-1")),
           401, NULL, "Basic");
    cr_expect_str_eq(th_state(&t, "b-1", st, NULL), "dead");
    expect(http(&d, "POST", "/api/dlq/requeue", right,
                requeue_body(t.queue, "b-1")),
           200, "\"changed\":1", "right token");
    cr_expect_str_neq(th_state(&t, "b-1", st, NULL), "dead");
    th_stop(d.pid);
}

/* The cookie of a login ("genq_session=...") and its CSRF token. */
static void
login(struct dash *d, char *cookie, size_t cn, char *csrf, size_t sn)
{
    struct resp r =
        http(d, "POST", "/api/login", NULL, "{\"token\":\"" TOKEN "\"}");
    const char *c = strstr(r.headers, "Set-Cookie: ");
    cJSON *j = cJSON_Parse(r.body);

    cr_assert_eq(r.status, 200, "login: %s", r.body);
    cr_assert(c, "no cookie: %s", r.headers);
    cr_expect(strstr(c, "HttpOnly") && strstr(c, "SameSite=Strict"),
              "cookie flags: %.200s", c);
    snprintf(cookie, cn, "Cookie: %.*s", (int)strcspn(c + 12, ";"), c + 12);
    snprintf(csrf, sn, "%s",
             cJSON_GetStringValue(cJSON_GetObjectItem(j, "csrf")));
    cr_assert_eq(strlen(csrf), 64, "csrf token: %s", r.body);
    cJSON_Delete(j);
    resp_free(&r);
}

Test(dashboard, cookie_needs_the_csrf_token)
{
    struct dash d;
    char cookie[256], csrf[80], hcsrf[128], st[64];
    const char *h[4];

    th_make_dead(&t, "c-1", "p", NULL, "permanent", 400, "bad");
    th_make_dead(&t, "c-2", "p", NULL, "permanent", 400, "bad");
    dash_start(&d, 1);
    expect(http(&d, "POST", "/api/login", NULL, "{\"token\":\"nope-nope\"}"),
           401, "wrong", "login, wrong token");
    login(&d, cookie, sizeof(cookie), csrf, sizeof(csrf));
    h[0] = cookie;
    h[1] = NULL;
    expect(http(&d, "GET", "/api/session", h, NULL), 200, csrf,
           "session gives the csrf token");
    expect(
        http(&d, "POST", "/api/dlq/requeue", h, requeue_body(t.queue, "c-1")),
        403, "CSRF", "cookie without the CSRF token");
    h[1] = "X-CSRF-Token: 0000000000000000000000000000000000000000000000000000"
           "000000000000";
    h[2] = NULL;
    expect(
        http(&d, "POST", "/api/dlq/requeue", h, requeue_body(t.queue, "c-1")),
        403, "CSRF", "wrong CSRF token");
    snprintf(hcsrf, sizeof(hcsrf), "X-CSRF-Token: %s", csrf);
    h[1] = hcsrf;
    h[2] = "Origin: http://evil.example";
    h[3] = NULL;
    expect(
        http(&d, "POST", "/api/dlq/requeue", h, requeue_body(t.queue, "c-1")),
        403, "cross-origin", "foreign Origin");
    h[2] = "Content-Type: text/plain";
    expect(
        http(&d, "POST", "/api/dlq/requeue", h, requeue_body(t.queue, "c-1")),
        415, "application/json", "a form's content type");
    cr_expect_str_eq(th_state(&t, "c-1", st, NULL), "dead");
    h[2] = NULL;
    expect(
        http(&d, "POST", "/api/dlq/requeue", h, requeue_body(t.queue, "c-1")),
        200, "\"changed\":1", "cookie + CSRF token");
    cr_expect_str_neq(th_state(&t, "c-1", st, NULL), "dead");
    /* logged out: the cookie is worth nothing */
    h[2] = NULL;
    expect(http(&d, "POST", "/api/logout", h, "{}"), 200, NULL, "logout");
    expect(
        http(&d, "POST", "/api/dlq/requeue", h, requeue_body(t.queue, "c-2")),
        401, NULL, "after logout");
    th_stop(d.pid);
}

Test(dashboard, get_never_changes_state)
{
    struct dash d;
    static const char *const bearer[] = {"Authorization: Bearer " TOKEN, NULL};
    char series[256], dlq[256], one[256], job[256];
    const char *paths[] = {"/",
                           "/app.js",
                           "/api/session",
                           "/api/queues",
                           "/api/workers",
                           series,
                           dlq,
                           one,
                           job,
                           NULL};
    static const char *const posts[] = {"/api/dlq/requeue",    "/api/dlq/purge",
                                        "/api/login",          "/api/logout",
                                        "/api/review/approve", NULL};
    char st[64], p[512];
    long dead0;

    th_make_dead(&t, "g-1", "p", NULL, "permanent", 400, "bad");
    th_make_dead(&t, "g-2", "p", NULL, "permanent", 400, "bad");
    dead0 = th_rint(&t, "ZCARD %s", t.k.key[QK_DEAD]);
    snprintf(series, sizeof(series), "/api/series?queue=%s", t.queue);
    snprintf(dlq, sizeof(dlq), "/api/dlq?queue=%s&all=true&ids=g-1", t.queue);
    snprintf(one, sizeof(one), "/api/dlq/g-1?queue=%s", t.queue);
    snprintf(job, sizeof(job), "/api/jobs/g-2?queue=%s", t.queue);
    dash_start(&d, 1);
    for (int i = 0; paths[i]; i++) {
        char *copy = strdup(paths[i]);
        expect(http(&d, "GET", copy, bearer, NULL), 200, NULL, copy);
        free(copy);
    }
    for (int i = 0; posts[i]; i++) {
        snprintf(p, sizeof(p), "%s?queue=%s&ids=g-1&all=true", posts[i],
                 t.queue);
        expect(http(&d, "GET", p, bearer, NULL), 405, "POST only", p);
        expect(http(&d, "HEAD", p, bearer, NULL), 405, NULL, p);
    }
    expect(http(&d, "PUT", "/api/dlq/requeue", bearer,
                requeue_body(t.queue, "g-1")),
           405, NULL, "PUT");
    expect(http(&d, "DELETE", qpath("/api/dlq/g-1", ""), bearer, NULL), 405,
           NULL, "DELETE");
    expect(http(&d, "POST", "/api/queues", bearer, "{}"), 405, "GET only",
           "POST to a GET route");
    cr_expect_eq(th_rint(&t, "ZCARD %s", t.k.key[QK_DEAD]), dead0);
    cr_expect_str_eq(th_state(&t, "g-1", st, NULL), "dead");
    cr_expect_str_eq(th_state(&t, "g-2", st, NULL), "dead");
    th_stop(d.pid);
}

Test(dashboard, text_from_redis_comes_back_exact_and_inert)
{
    static const char msg[] = "<script>alert(1)</script> \\\"q\\\" <img src=x "
                              "onerror=alert(2)> & \\u2028 end";
    static const char want[] = "<script>alert(1)</script> \"q\" <img src=x "
                               "onerror=alert(2)> & \xe2\x80\xa8 end";
    struct dash d;
    struct resp r;
    cJSON *j, *e;

    th_make_dead(&t, "x-1", "<b>bold</b>", NULL, "permanent", 400, msg);
    dash_start(&d, 0);
    r = http(&d, "GET", qpath("/api/dlq", ""), NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_expect(strstr(r.headers, "Content-Type: application/json"), "%s",
              r.headers);
    cr_expect(strstr(r.headers, "X-Content-Type-Options: nosniff"), "%s",
              r.headers);
    j = cJSON_Parse(r.body);
    e = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "entries"), 0);
    cr_assert(e, "%s", r.body);
    cr_expect_str_eq(th_str(e, "message"), want);
    cr_expect_str_eq(th_str(e, "prompt_excerpt"), "<b>bold</b>");
    cJSON_Delete(j);
    resp_free(&r);
    r = http(&d, "GET", qpath("/api/dlq/x-1", ""), NULL, NULL);
    j = cJSON_Parse(r.body);
    cr_expect_str_eq(th_str(cJSON_GetObjectItem(j, "error"), "message"), want);
    cJSON_Delete(j);
    resp_free(&r);
    /* the page: its script from a file, a CSP that forbids inline ones */
    r = http(&d, "GET", "/", NULL, NULL);
    cr_expect(strstr(r.body, "<script src=\"/app.js\""), "%s", r.body);
    cr_expect(!strstr(r.body, "<script>"), "an inline script in the page");
    cr_expect(strstr(r.headers, "script-src 'self'") &&
                  !strstr(r.headers, "unsafe-inline") &&
                  strstr(r.headers, "frame-ancestors 'none'"),
              "CSP: %s", r.headers);
    resp_free(&r);
    /* the script builds text nodes, never markup */
    r = http(&d, "GET", "/app.js", NULL, NULL);
    cr_expect(!strstr(r.body, "innerHTML") && !strstr(r.body, "outerHTML") &&
                  !strstr(r.body, "insertAdjacentHTML") &&
                  !strstr(r.body, "document.write") && !strstr(r.body, "eval("),
              "app.js writes markup");
    resp_free(&r);
    th_stop(d.pid);
}

/* The JSONL of `genq A B C E` (NULL ends them early) on the test's queue
 * as a cJSON array. */
static cJSON *
cli_docs(const char *a, const char *b, const char *c, const char *e)
{
    char *out = NULL, *err = NULL;
    cJSON *objs[512], *arr = cJSON_CreateArray();
    int n;

    cr_assert_eq(th_genq(&t, NULL, &out, &err, a, b, c, e, NULL), 0,
                 "genq %s %s: %s", a, b, err);
    n = th_jsonl(out, objs, 512);
    for (int i = 0; i < n && i < 512; i++)
        cJSON_AddItemToArray(arr, objs[i]);
    free(out);
    free(err);
    return arr;
}

/* The API's answer r (freed) equals what `genq A B C E` prints: member
 * member of r (when not NULL) equals the CLI's lines as an array, else r
 * equals the first line. */
static void
same_doc(struct resp *r, const char *member, const char *a, const char *b,
         const char *c, const char *e)
{
    cJSON *api = cJSON_Parse(r->body), *cli = cli_docs(a, b, c, e);

    cr_expect(cJSON_Compare(member ? cJSON_GetObjectItem(api, member) : api,
                            member ? cli : cJSON_GetArrayItem(cli, 0), 1),
              "genq %s %s: %s", a, b, r->body);
    cJSON_Delete(api);
    cJSON_Delete(cli);
    resp_free(r);
}

Test(dashboard, documents_are_the_clis)
{
    struct dash d;
    struct resp r;
    cJSON *api, *cli;

    th_make_dead(&t, "d-1", "first", NULL, "permanent", 400, "bad one");
    th_make_dead(&t, "d-2", "second", NULL, "exhausted", 503, "bad two");
    th_rint(&t, "SADD %s %s", KEY_QUEUES, t.queue); /* as genq enqueue does */
    dash_start(&d, 0);
    r = http(&d, "GET", qpath("/api/dlq", ""), NULL, NULL);
    same_doc(&r, "entries", "dlq", "ls", "--json", NULL);
    r = http(&d, "GET", qpath("/api/dlq/d-2", ""), NULL, NULL);
    same_doc(&r, NULL, "dlq", "show", "d-2", "--json");
    r = http(&d, "GET", qpath("/api/jobs/d-1", ""), NULL, NULL);
    same_doc(&r, NULL, "status", "--with-result", "d-1", "--json");
    /* (the budget is fleet-wide: other tests spend meanwhile, so only its
     * shape; dashboard.sh validates it against the schema) */
    expect(http(&d, "GET", "/api/budget", NULL, NULL), 200,
           "{\"budget\":{\"caps\":", "budget");
    expect(http(&d, "GET", "/api/limits", NULL, NULL), 200, "[", "limits");
    expect(http(&d, "GET", qpath("/api/jobs/nope", ""), NULL, NULL), 404,
           "\"state\":\"unknown\"", "unknown job");
    expect(http(&d, "GET", qpath("/api/dlq/nope", ""), NULL, NULL), 404,
           "not in the dead-letter queue", "unknown dead letter");
    /* the stats document of the queue, member for member */
    r = http(&d, "GET", "/api/queues", NULL, NULL);
    api = cJSON_Parse(r.body);
    cli = cli_docs("stats", "--json", NULL, NULL);
    {
        cJSON *a = NULL, *c = cJSON_GetArrayItem(cli, 0), *m;
        cJSON_ArrayForEach(m, api)
        {
            if (!strcmp(th_str(m, "queue"), t.queue))
                a = m;
        }
        cr_assert(a && c, "queue %s in /api/queues: %s", t.queue, r.body);
        cJSON_ArrayForEach(m, c)
        {
            cJSON *v = cJSON_GetObjectItem(a, m->string);
            cr_expect(v, "member %s missing", m->string);
            if (v && strcmp(m->string, "at") && !strstr(m->string, "_per_s") &&
                strcmp(m->string, "oldest_ready_age_s"))
                cr_expect(cJSON_Compare(v, m, 1), "member %s differs",
                          m->string);
        }
        cr_expect_eq(cJSON_GetArraySize(a), cJSON_GetArraySize(c));
    }
    cJSON_Delete(api);
    cJSON_Delete(cli);
    resp_free(&r);
    {
        /* a job genq enqueue stored inline, not claimed yet: found */
        char *out, *err, jp[160];
        const char *idp;
        cr_assert_eq(th_genq(&t, "{\"prompt\":\"inline\"}\n", &out, &err,
                             "enqueue", "--json", "-", NULL),
                     0, "%s", err);
        cr_assert_eq(th_inline(&t), 1);
        idp = strstr(out, "\"id\":\"");
        cr_assert(idp, "%s", out);
        snprintf(jp, sizeof(jp), "/api/jobs/%.36s", idp + 6);
        expect(http(&d, "GET", qpath(jp, ""), NULL, NULL), 200,
               "\"state\":\"queued\"", "queued inline job");
        free(out);
        free(err);
    }
    th_stop(d.pid);
}

Test(dashboard, cursor_pages_and_filters)
{
    struct dash d;
    char p[512], next[300] = "";
    int total = 0, pages = 0;
    cJSON *seen = cJSON_CreateObject();
    static const char *const bearer[] = {"Authorization: Bearer " TOKEN, NULL};

    th_make_dead_batch(&t, "pg", 250);
    th_make_dead(&t, "odd-1", "p", NULL, "invalid", 0, "needle in here");
    dash_start(&d, 1);
    do {
        struct resp r;
        cJSON *j, *e, *n;
        snprintf(p, sizeof(p), "/api/dlq?queue=%s&limit=100%s%s", t.queue,
                 next[0] ? "&cursor=" : "", next);
        r = http(&d, "GET", p, NULL, NULL);
        cr_assert_eq(r.status, 200, "%s", r.body);
        j = cJSON_Parse(r.body);
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "entries"))
        {
            cr_expect(!cJSON_GetObjectItem(seen, th_str(e, "id")), "%s twice",
                      th_str(e, "id"));
            cJSON_AddTrueToObject(seen, th_str(e, "id"));
            total++;
        }
        n = cJSON_GetObjectItem(j, "next");
        next[0] = '\0';
        if (cJSON_IsString(n))
            snprintf(next, sizeof(next), "%s", n->valuestring);
        cJSON_Delete(j);
        resp_free(&r);
        pages++;
    } while (next[0] && pages < 10);
    cr_expect_eq(total, 251);
    cr_expect_eq(pages, 3);
    cJSON_Delete(seen);
    expect(http(&d, "GET", qpath("/api/dlq", "&class=invalid&grep=needle"),
                NULL, NULL),
           200, "\"id\":\"odd-1\"", "filters");
    /* requeue by filter: a dry run counts, then the real one moves them */
    snprintf(p, sizeof(p),
             "{\"queue\":\"%s\",\"class\":\"invalid\",\"dry_run\":true}",
             t.queue);
    expect(http(&d, "POST", "/api/dlq/requeue", bearer, p), 200,
           "\"matched\":1,\"changed\":0", "dry run");
    snprintf(p, sizeof(p), "{\"queue\":\"%s\",\"status\":400,\"all\":true}",
             t.queue);
    expect(http(&d, "POST", "/api/dlq/purge", bearer, p), 200, "\"matched\":0",
           "purge by a status none has");
    snprintf(p, sizeof(p), "{\"queue\":\"%s\",\"grep\":\"needle\"}", t.queue);
    expect(http(&d, "POST", "/api/dlq/purge", bearer, p), 200, "\"changed\":1",
           "purge by text");
    cr_expect_eq(th_rint(&t, "ZCARD %s", t.k.key[QK_DEAD]), 250);
    th_stop(d.pid);
}

Test(dashboard, bad_input_is_named)
{
    struct dash d;
    static const char *const bearer[] = {"Authorization: Bearer " TOKEN, NULL};
    static const char *const bad[][2] = {
        /* more members of a requeue body, what the error names */
        {",\"ids\":[\"a\"],\"all\":true", "ids or filters"},
        {"", "give ids"},
        {",\"idz\":[\"a\"]", "idz"},
        {",\"ids\":[\"-\"]", "ids[0]"},
        {",\"ids\":\"a\"", "ids: expected an array"},
        {",\"all\":1", "all: expected true or false"},
        {",\"status\":\"abc\"", "status"},
        {",\"older_than\":\"1h\"", "older_than"}};
    char b[512];

    dash_start(&d, 1);
    expect(http(&d, "GET", qpath("/api/dlq", "&limit=0"), NULL, NULL), 400,
           "limit", "limit 0");
    expect(http(&d, "GET", qpath("/api/dlq", "&class=bogus"), NULL, NULL), 400,
           "class", "class");
    expect(http(&d, "GET", qpath("/api/dlq", "&status=7"), NULL, NULL), 400,
           "status", "status");
    expect(http(&d, "GET", qpath("/api/dlq", "&since=x"), NULL, NULL), 400,
           "since", "since");
    expect(http(&d, "GET", qpath("/api/dlq", "&cursor=abc"), NULL, NULL), 400,
           "cursor", "cursor");
    expect(http(&d, "GET", "/api/dlq?queue=no%20spaces", NULL, NULL), 400,
           "queue", "queue name");
    expect(http(&d, "GET", "/api/nothing", NULL, NULL), 404, NULL, "unknown");
    {
        /* on loopback, only loopback names: no DNS rebinding */
        static const char *const evil[] = {"Host: evil.example:8080", NULL};
        static const char *const evil2[] = {"Host: 127.0.0.1.evil.example",
                                            NULL};
        static const char *const local[] = {"Host: localhost:8080", NULL};
        expect(http(&d, "GET", "/api/queues", evil, NULL), 421, "loopback",
               "a rebound name");
        expect(http(&d, "GET", "/", evil2, NULL), 421, NULL, "a rebound name");
        expect(http(&d, "GET", "/api/session", local, NULL), 200, NULL,
               "localhost");
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(b, sizeof(b), "{\"queue\":\"%s\"%s}", t.queue, bad[i][0]);
        expect(http(&d, "POST", "/api/dlq/requeue", bearer, b), 400, bad[i][1],
               b);
    }
    expect(http(&d, "POST", "/api/dlq/requeue", bearer, "[1,2"), 400,
           "JSON object", "not JSON");
    th_stop(d.pid);
}

Test(dashboard, allowed_hosts)
{
    struct dash d;
    static const char *const extra[] = {"--allowed-hosts",
                                        "localhost,dash.example.org", NULL};
    static const char *const ok[] = {"Host: dash.example.org:8080", NULL};
    static const char *const other[] = {"Host: evil.example", NULL};

    dash_start_with(&d, 0, extra);
    expect(http(&d, "GET", "/api/session", ok, NULL), 200, NULL, "listed");
    expect(http(&d, "GET", "/api/session", other, NULL), 421, "Host",
           "not listed");
    /* 127.0.0.1 is not in the list */
    expect(http(&d, "GET", "/api/session", NULL, NULL), 421, NULL, "127.0.0.1");
    th_stop(d.pid);
}

Test(dashboard, command_line)
{
    char *out = NULL, *err = NULL, path[512];
    const char *help[] = {th_bin("genq"), "dashboard", "--help", NULL};
    const char *argv_tok[] = {th_bin("genq"), "dashboard", "--admin-token",
                              TOKEN, NULL};
    const char *shortf[] = {th_bin("genq"), "dashboard", "--admin-token-file",
                            path, NULL};

    cr_expect_eq(th_run(help, NULL, NULL, 0, &out, &err), 0);
    cr_expect(strstr(out, "--admin-token-file") && strstr(out, "--listen"),
              "%s", out);
    free(out);
    free(err);
    cr_expect_eq(th_run(argv_tok, NULL, NULL, 0, &out, &err), 2);
    cr_expect(strstr(err, "--admin-token-file F or GENQ_ADMIN_TOKEN"), "%s",
              err);
    cr_expect(!strstr(err, TOKEN), "the token echoed: %s", err);
    free(out);
    free(err);
    th_write_tmp(path, sizeof(path), "dash-short", "short\n");
    cr_expect_eq(th_run(shortf, NULL, NULL, 0, &out, &err), 2);
    cr_expect(strstr(err, "at least 16"), "%s", err);
    cr_expect(!strstr(err, "short\n"), "the token echoed: %s", err);
    free(out);
    free(err);
}
