/* errclass: the outcome table (HTTP status + API error type, or CURLcode) →
 * lifecycle class + alert level. Rows are data; the README table is generated
 * from errclass_table(). */
#include "fmacros.h"

#include <limits.h>
#include <string.h>
#include <strings.h>

#include "errclass.h"

#define HTTP   ERRSRC_HTTP
#define XPORT  ERRSRC_TRANSPORT
#define OK     ERRC_OK
#define RETRY  ERRC_RETRYABLE
#define PERM   ERRC_PERMANENT
#define NOTJOB ERRC_NOT_JOB

/* Message hints: '|'-separated, case-insensitive substrings. */
#define SPEND_HINT                                                             \
    "credit balance|spend limit|spending limit|usage limit|current quota"

/* api_type: NULL = any, "" = no type given, "*" = any type not matched by
 * an earlier row or by the 2xx type→status mapping. First match wins. */
static const struct errclass_row rows[] = {
    /* Success, and errors reported inside a 200. */
    {HTTP, 200, 299, "", NULL, OK, ALERT_NONE, 0, "success"},
    {HTTP, 200, 299, "overloaded_error", NULL, RETRY, ALERT_P1, 1,
     "mid-stream overloaded_error (as 529)"},
    {HTTP, 200, 299, "api_error", NULL, RETRY, ALERT_P1, 1,
     "mid-stream api_error (as 500)"},
    {HTTP, 200, 299, "truncated_stream", NULL, RETRY, ALERT_P1, 1,
     "stream ended before message_stop / [DONE]"},
    {HTTP, 200, 299, "malformed_response", NULL, RETRY, ALERT_P1, 1,
     "response body or event could not be parsed"},
    {HTTP, 200, 299, "out_of_memory", NULL, RETRY, ALERT_NONE, 0,
     "worker ran out of memory reading the response"},
    {HTTP, 200, 299, "*", NULL, RETRY, ALERT_P1, 1,
     "other error reported inside a 200 (unknown type)"},
    /* Redirects are never expected from an LLM API. */
    {HTTP, 300, 399, NULL, NULL, NOTJOB, ALERT_P0, 0,
     "redirect: --api-base is probably wrong"},
    /* 4xx. */
    {HTTP, 400, 400, NULL, SPEND_HINT, NOTJOB, ALERT_P0, 0,
     "400 naming a credit balance or spend/usage limit (message heuristic)"},
    {HTTP, 400, 400, NULL, NULL, PERM, ALERT_P2, 0, "invalid request"},
    {HTTP, 401, 401, NULL, NULL, NOTJOB, ALERT_P0, 0,
     "authentication failed (API key / JWT)"},
    {HTTP, 402, 402, NULL, NULL, NOTJOB, ALERT_P0, 0, "billing problem"},
    {HTTP, 403, 403, NULL, NULL, NOTJOB, ALERT_P0, 0,
     "permission denied for this key"},
    {HTTP, 404, 404, "http_error", NULL, NOTJOB, ALERT_P0, 0,
     "404 without a provider error body: --api-base is probably wrong"},
    {HTTP, 404, 404, NULL, NULL, PERM, ALERT_P2, 0,
     "not found (unknown model)"},
    {HTTP, 408, 408, NULL, NULL, RETRY, ALERT_P1, 1, "request timeout"},
    {HTTP, 409, 409, NULL, NULL, RETRY, ALERT_P1, 1, "conflict (lock timeout)"},
    {HTTP, 413, 413, NULL, NULL, PERM, ALERT_P2, 0, "request too large"},
    {HTTP, 422, 422, NULL, NULL, PERM, ALERT_P2, 0, "unprocessable request"},
    {HTTP, 429, 429, "insufficient_quota", NULL, NOTJOB, ALERT_P0, 0,
     "quota exhausted (insufficient_quota)"},
    {HTTP, 429, 429, NULL, SPEND_HINT, NOTJOB, ALERT_P0, 0,
     "429 naming a spend/usage limit or quota (message heuristic)"},
    {HTTP, 429, 429, NULL, NULL, RETRY, ALERT_P1, 1, "rate limited"},
    {HTTP, 400, 499, NULL, NULL, PERM, ALERT_P2, 0, "other 4xx client error"},
    /* 5xx. */
    {HTTP, 500, 500, NULL, NULL, RETRY, ALERT_P1, 1, "internal server error"},
    {HTTP, 502, 502, NULL, NULL, RETRY, ALERT_P1, 1, "bad gateway"},
    {HTTP, 503, 503, NULL, NULL, RETRY, ALERT_P1, 1, "service unavailable"},
    {HTTP, 504, 504, NULL, NULL, RETRY, ALERT_P1, 1, "gateway timeout"},
    {HTTP, 529, 529, NULL, NULL, RETRY, ALERT_P1, 1, "API overloaded"},
    {HTTP, 500, 599, NULL, NULL, RETRY, ALERT_P1, 1, "other 5xx server error"},
    {HTTP, INT_MIN, INT_MAX, NULL, NULL, RETRY, ALERT_P1, 1,
     "unexpected HTTP status"},

    /* Transport failures, by CURLcode. */
    {XPORT, ERRC_CURLE_OK, ERRC_CURLE_OK, NULL, NULL, OK, ALERT_NONE, 0,
     "transfer completed"},
    {XPORT, ERRC_CURLE_UNSUPPORTED_PROTOCOL, ERRC_CURLE_UNSUPPORTED_PROTOCOL,
     NULL, NULL, NOTJOB, ALERT_P0, 0,
     "unsupported protocol: --api-base is wrong"},
    {XPORT, ERRC_CURLE_URL_MALFORMAT, ERRC_CURLE_URL_MALFORMAT, NULL, NULL,
     NOTJOB, ALERT_P0, 0, "malformed URL: --api-base is wrong"},
    {XPORT, ERRC_CURLE_COULDNT_RESOLVE_HOST, ERRC_CURLE_COULDNT_RESOLVE_HOST,
     NULL, NULL, RETRY, ALERT_P1, 1, "could not resolve host"},
    {XPORT, ERRC_CURLE_COULDNT_CONNECT, ERRC_CURLE_COULDNT_CONNECT, NULL, NULL,
     RETRY, ALERT_P1, 1, "could not connect"},
    {XPORT, ERRC_CURLE_HTTP2, ERRC_CURLE_HTTP2, NULL, NULL, RETRY, ALERT_P1, 1,
     "HTTP/2 framing error"},
    {XPORT, ERRC_CURLE_PARTIAL_FILE, ERRC_CURLE_PARTIAL_FILE, NULL, NULL, RETRY,
     ALERT_P1, 1, "response shorter than announced"},
    {XPORT, ERRC_CURLE_WRITE_ERROR, ERRC_CURLE_WRITE_ERROR, NULL, NULL, RETRY,
     ALERT_NONE, 0, "worker stopped the transfer (response over its cap)"},
    {XPORT, ERRC_CURLE_OPERATION_TIMEDOUT, ERRC_CURLE_OPERATION_TIMEDOUT, NULL,
     NULL, RETRY, ALERT_P1, 1, "timeout"},
    {XPORT, ERRC_CURLE_SSL_CONNECT_ERROR, ERRC_CURLE_SSL_CONNECT_ERROR, NULL,
     NULL, RETRY, ALERT_P1, 1, "TLS handshake failed"},
    {XPORT, ERRC_CURLE_ABORTED_BY_CALLBACK, ERRC_CURLE_ABORTED_BY_CALLBACK,
     NULL, NULL, RETRY, ALERT_NONE, 0, "transfer aborted by the worker"},
    {XPORT, ERRC_CURLE_GOT_NOTHING, ERRC_CURLE_GOT_NOTHING, NULL, NULL, RETRY,
     ALERT_P1, 1, "empty reply from server"},
    {XPORT, ERRC_CURLE_SSL_ENGINE_NOTFOUND, ERRC_CURLE_SSL_ENGINE_SETFAILED,
     NULL, NULL, NOTJOB, ALERT_P0, 0, "TLS engine configuration"},
    {XPORT, ERRC_CURLE_SEND_ERROR, ERRC_CURLE_RECV_ERROR, NULL, NULL, RETRY,
     ALERT_P1, 1, "send/receive error (connection reset)"},
    {XPORT, ERRC_CURLE_SSL_CERTPROBLEM, ERRC_CURLE_SSL_CERTPROBLEM, NULL, NULL,
     NOTJOB, ALERT_P0, 0, "TLS client certificate problem"},
    {XPORT, ERRC_CURLE_SSL_CIPHER, ERRC_CURLE_SSL_CIPHER, NULL, NULL, NOTJOB,
     ALERT_P0, 0, "TLS cipher configuration"},
    {XPORT, ERRC_CURLE_PEER_FAILED_VERIFICATION,
     ERRC_CURLE_PEER_FAILED_VERIFICATION, NULL, NULL, NOTJOB, ALERT_P0, 0,
     "server certificate failed verification"},
    {XPORT, ERRC_CURLE_SSL_ENGINE_INITFAILED, ERRC_CURLE_SSL_ENGINE_INITFAILED,
     NULL, NULL, NOTJOB, ALERT_P0, 0, "TLS engine configuration"},
    {XPORT, ERRC_CURLE_SSL_CACERT_BADFILE, ERRC_CURLE_SSL_CACERT_BADFILE, NULL,
     NULL, NOTJOB, ALERT_P0, 0, "CA certificate file unusable"},
    {XPORT, ERRC_CURLE_SSL_CRL_BADFILE, ERRC_CURLE_SSL_ISSUER_ERROR, NULL, NULL,
     NOTJOB, ALERT_P0, 0, "TLS CRL / issuer check failed"},
    {XPORT, ERRC_CURLE_SSL_PINNEDPUBKEYNOTMATCH,
     ERRC_CURLE_SSL_INVALIDCERTSTATUS, NULL, NULL, NOTJOB, ALERT_P0, 0,
     "server certificate pin or status check failed"},
    {XPORT, ERRC_CURLE_HTTP2_STREAM, ERRC_CURLE_HTTP2_STREAM, NULL, NULL, RETRY,
     ALERT_P1, 1, "HTTP/2 stream error"},
    {XPORT, ERRC_CURLE_SSL_CLIENTCERT, ERRC_CURLE_SSL_CLIENTCERT, NULL, NULL,
     NOTJOB, ALERT_P0, 0, "server requires a TLS client certificate"},
    {XPORT, INT_MIN, INT_MAX, NULL, NULL, RETRY, ALERT_P1, 1,
     "other transport failure"},
};

#define NROWS ((int)(sizeof rows / sizeof rows[0]))

const struct errclass_row *
errclass_table(int i)
{
    if (i < 0 || i >= NROWS)
        return NULL;
    return &rows[i];
}

const char *
errclass_class_name(enum err_class c)
{
    switch (c) {
    case ERRC_OK:
        return "ok";
    case ERRC_RETRYABLE:
        return "retryable";
    case ERRC_PERMANENT:
        return "permanent";
    case ERRC_NOT_JOB:
        return "not_job";
    }
    return "unknown";
}

const char *
errclass_level_name(enum alert_level l)
{
    switch (l) {
    case ALERT_NONE:
        return "none";
    case ALERT_P2:
        return "P2";
    case ALERT_P1:
        return "P1";
    case ALERT_P0:
        return "P0";
    }
    return "unknown";
}

/* Whether message contains one of the '|'-separated hints (ASCII case
 * folded). */
static int
hint_match(const char *hints, const char *message)
{
    const char *h = hints;
    size_t mlen = strlen(message);

    while (*h != '\0') {
        const char *end = strchr(h, '|');
        size_t n = end ? (size_t)(end - h) : strlen(h);
        for (size_t i = 0; n > 0 && i + n <= mlen; i++)
            if (strncasecmp(message + i, h, n) == 0)
                return 1;
        if (end == NULL)
            break;
        h = end + 1;
    }
    return 0;
}

static const struct errclass_row *
match(enum errclass_src src, int code, const char *type, const char *message,
      int wild)
{
    for (int i = 0; i < NROWS; i++) {
        const struct errclass_row *r = &rows[i];
        if (r->src != src || code < r->code || code > r->code_hi)
            continue;
        if (r->message_hint != NULL &&
            (message == NULL || !hint_match(r->message_hint, message)))
            continue;
        if (r->api_type == NULL)
            return r;
        if (r->api_type[0] == '\0') {
            if (type == NULL)
                return r;
        } else if (strcmp(r->api_type, "*") == 0) {
            if (type != NULL && wild)
                return r;
        } else if (type != NULL && strcmp(r->api_type, type) == 0) {
            return r;
        }
    }
    return NULL; /* unreachable: the last rows of each source match all */
}

/* The status a provider error type stands for when it arrives inside a 200
 * (Anthropic error.type values, OpenAI error.type/code values). */
static int
type_status(const char *type)
{
    static const struct {
        const char *type;
        int status;
    } map[] = {
        {"invalid_request_error", 400},
        {"authentication_error", 401},
        {"invalid_api_key", 401},
        {"billing_error", 402},
        {"permission_error", 403},
        {"not_found_error", 404},
        {"model_not_found", 404},
        {"request_too_large", 413},
        {"context_length_exceeded", 400},
        {"rate_limit_error", 429},
        {"rate_limit_exceeded", 429},
        {"insufficient_quota", 429},
        {"server_error", 500},
        {"timeout_error", 504},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].type, type) == 0)
            return map[i].status;
    return 0;
}

static struct err_verdict
verdict(const struct errclass_row *r)
{
    struct err_verdict v;
    v.cls = r->cls;
    v.level = r->level;
    v.why = r->why;
    v.retry_in_attempt = r->cls == ERRC_RETRYABLE;
    v.provider_wide = r->provider_wide;
    return v;
}

struct err_verdict
errclass_http_message(int http_status, const char *api_type,
                      const char *message, int x_should_retry)
{
    const char *t = api_type != NULL && api_type[0] != '\0' ? api_type : NULL;
    const struct errclass_row *r = match(HTTP, http_status, t, message, 0);

    if (t != NULL && http_status >= 200 && http_status <= 299 &&
        (r == NULL || r->api_type == NULL)) {
        int s = type_status(t);
        r = s != 0 ? match(HTTP, s, t, message, 1) : NULL;
    }
    if (r == NULL)
        r = match(HTTP, http_status, t, message, 1);
    struct err_verdict v = verdict(r);

    if (v.cls == ERRC_OK)
        return v;
    if (x_should_retry == 1 && v.cls != ERRC_RETRYABLE) {
        v.cls = ERRC_RETRYABLE;
        v.level = ALERT_P1;
        v.retry_in_attempt = 1;
        v.why = "x-should-retry: true overrides the status";
    } else if (x_should_retry == 1) {
        v.retry_in_attempt = 1;
    } else if (x_should_retry == 0 && v.cls == ERRC_RETRYABLE) {
        v.retry_in_attempt = 0;
        v.why = "x-should-retry: false: no retry in this attempt, "
                "job-level backoff";
    }
    return v;
}

struct err_verdict
errclass_http(int http_status, const char *api_type, int x_should_retry)
{
    return errclass_http_message(http_status, api_type, NULL, x_should_retry);
}

struct err_verdict
errclass_transport(int curl_code)
{
    return verdict(match(XPORT, curl_code, NULL, NULL, 0));
}
