/* The dashboard suites' helpers (test_dashboard*.c): start `genq
 * dashboard` on the test Redis and talk HTTP to it with libcurl. */
#include "fmacros.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#include "harness.h"
#include "harness_dash.h"

/* Start `genq dashboard` on a free port; with_token: the admin token from
 * a file; extra arguments (NULL-terminated, may be NULL). */
void
dash_start_with(struct dash *d, int with_token, const char *const extra[])
{
    char portf[512], tokf[512], port[32] = "";
    const char *tmp = getenv("GENQ_TEST_TMP");
    const char *argv[16];
    int n = 0;

    snprintf(portf, sizeof(portf), "%s/dash-port-%d-%ld", tmp ? tmp : "/tmp",
             (int)getpid(), (long)random());
    th_write_tmp(tokf, sizeof(tokf), "dash-token", TOKEN "\n");
    argv[n++] = th_bin("genq");
    argv[n++] = "dashboard";
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--port-file";
    argv[n++] = portf;
    if (with_token) {
        argv[n++] = "--admin-token-file";
        argv[n++] = tokf;
    }
    for (int i = 0; extra && extra[i] && n < 10; i++)
        argv[n++] = extra[i];
    n = th_redis_args(argv, n, NULL);
    d->pid = fork();
    cr_assert(d->pid >= 0);
    if (d->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        unsetenv("GENQ_ADMIN_TOKEN");
        th_exec(argv);
    }
    for (int i = 0; i < 200 && !port[0]; i++) {
        FILE *f = fopen(portf, "r");
        if (f) {
            if (!fgets(port, sizeof(port), f))
                port[0] = '\0';
            fclose(f);
        }
        if (!port[0])
            th_sleep_ms(25);
    }
    cr_assert(port[0], "genq dashboard did not start");
    snprintf(d->base, sizeof(d->base), "http://127.0.0.1:%d", atoi(port));
}

void
dash_start(struct dash *d, int with_token)
{
    dash_start_with(d, with_token, NULL);
}

static size_t
grow(char *p, size_t sz, size_t n, void *ud)
{
    char **s = ud;
    size_t have = *s ? strlen(*s) : 0;
    char *g = realloc(*s, have + sz * n + 1);

    if (!g)
        return 0;
    memcpy(g + have, p, sz * n);
    g[have + sz * n] = '\0';
    *s = g;
    return sz * n;
}

/* method path with headers (NULL-terminated, may be NULL) and body (POST
 * when not NULL, as JSON unless a Content-Type header is given). */
struct resp
http(struct dash *d, const char *method, const char *path,
     const char *const *hdrs, const char *body)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    struct resp r = {0, NULL, NULL};
    char url[1024];
    int ct = 0;

    cr_assert(c);
    snprintf(url, sizeof(url), "%s%s", d->base, path);
    for (int i = 0; hdrs && hdrs[i]; i++) {
        h = curl_slist_append(h, hdrs[i]);
        ct |= !strncasecmp(hdrs[i], "Content-Type:", 13);
    }
    if (body && !ct)
        h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, grow);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, grow);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    cr_assert_eq(curl_easy_perform(c), CURLE_OK, "%s %s", method, path);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (!r.body)
        r.body = strdup("");
    if (!r.headers)
        r.headers = strdup("");
    return r;
}

void
resp_free(struct resp *r)
{
    free(r->body);
    free(r->headers);
}

/* Expect status, and (when not NULL) text in the body; frees r. */
void
expect(struct resp r, long status, const char *text, const char *what)
{
    cr_expect_eq(r.status, status, "%s: status %ld, not %ld: %s", what,
                 r.status, status, r.body);
    if (text)
        cr_expect(strstr(r.body, text), "%s: '%s' not in %s", what, text,
                  r.body);
    resp_free(&r);
}
