/* Harness: talking to a genq-mockllm over HTTP -- POST /mock/control and
 * GET /mock/stats (tests/mock-llm/srv_control.c). */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#include "buf.h"
#include "harness.h"

static size_t
keep(char *p, size_t s, size_t n, void *ud)
{
    return buf_append(ud, p, s * n) == 0 ? s * n : 0;
}

/* GET (body NULL) or POST body to url + path; the response body (caller
 * frees with buf_free). Aborts the test unless the status is 200. */
static void
mock_call(const char *url, const char *path, const char *body, struct buf *b)
{
    char u[512];
    CURL *c = curl_easy_init();
    long status = 0;

    cr_assert(c);
    buf_init(b, 0);
    snprintf(u, sizeof(u), "%s%s", url, path);
    curl_easy_setopt(c, CURLOPT_URL, u);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    cr_assert_eq(curl_easy_perform(c), CURLE_OK, "%s", u);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    cr_assert_eq(status, 200, "%s: HTTP %ld", u, status);
}

void
th_mock_control(const char *url, const char *body)
{
    struct buf b;

    mock_call(url, "/mock/control", body, &b);
    buf_free(&b);
}

cJSON *
th_mock_stats(const char *url)
{
    struct buf b;
    cJSON *o;

    mock_call(url, "/mock/stats", NULL, &b);
    o = cJSON_ParseWithLength(b.data ? b.data : "", b.len);
    buf_free(&b);
    cr_assert(o, "/mock/stats is not JSON");
    return o;
}

char *
th_http_get(const char *url)
{
    struct buf b;
    char *s;

    mock_call(url, "", NULL, &b);
    s = malloc(b.len + 1);
    cr_assert(s);
    memcpy(s, b.data ? b.data : "", b.len);
    s[b.len] = '\0';
    buf_free(&b);
    return s;
}

double
th_mock_status_count(const cJSON *stats, int status)
{
    const cJSON *n;
    char k[16];

    snprintf(k, sizeof(k), "%d", status);
    n = cJSON_GetObjectItem(cJSON_GetObjectItem(stats, "responses_by_status"),
                            k);
    return cJSON_IsNumber(n) ? n->valuedouble : 0;
}
