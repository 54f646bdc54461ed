/* Unit tests for common/errclass.c: every table row is reachable and gives
 * its class; the classes the lifecycle depends on; x-should-retry. */
#include "fmacros.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "errclass.h"

#define NCODES(a) (sizeof(a) / sizeof((a)[0]))
#define TRANSPORT (-2) /* expect_all: errclass_transport(), not _http() */

/* Each of codes[0..n) gets class cls and retry_in_attempt ria from
 * errclass_http(code, NULL, xsr), or with xsr TRANSPORT from
 * errclass_transport(code); level too unless it is -1. */
static void
expect_all(const int *codes, size_t n, int xsr, enum err_class cls, int ria,
           int level)
{
    for (size_t i = 0; i < n; i++) {
        struct err_verdict v = xsr == TRANSPORT
                                   ? errclass_transport(codes[i])
                                   : errclass_http(codes[i], NULL, xsr);
        cr_assert_eq(v.cls, cls, "%s %d", xsr == TRANSPORT ? "curl" : "http",
                     codes[i]);
        cr_assert_eq(v.retry_in_attempt, ria, "%d", codes[i]);
        if (level != -1)
            cr_assert_eq((int)v.level, level, "%d", codes[i]);
    }
}

/* A type that reaches a row whose api_type is "*" (2xx, not mapped). */
static const char *
row_type(const struct errclass_row *r)
{
    if (r->api_type == NULL || r->api_type[0] == '\0')
        return NULL;
    if (strcmp(r->api_type, "*") == 0)
        return "some_future_error";
    return r->api_type;
}

/* A message that satisfies the row's hint: its first alternative. */
static void
row_message(const struct errclass_row *r, char *out, size_t cap)
{
    if (r->message_hint == NULL) {
        out[0] = '\0';
        return;
    }
    const char *bar = strchr(r->message_hint, '|');
    size_t n = bar ? (size_t)(bar - r->message_hint) : strlen(r->message_hint);
    snprintf(out, cap, "Your %.*s was hit", (int)n, r->message_hint);
}

Test(errclass, every_row_reachable_with_its_class)
{
    int rows = 0;
    for (int i = 0; errclass_table(i) != NULL; i++) {
        const struct errclass_row *r = errclass_table(i);
        cr_assert_not_null(r->why);
        cr_assert(r->code <= r->code_hi);
        rows++;
        /* find a code in the row's range where this row is the one used */
        long lo = r->code < -1000 ? -1000 : r->code;
        long hi = r->code_hi > 1000 ? 1000 : r->code_hi;
        int found = 0;
        char msg[128];
        row_message(r, msg, sizeof msg);
        for (long c = lo; c <= hi && !found; c++) {
            struct err_verdict v =
                r->src == ERRSRC_HTTP
                    ? errclass_http_message((int)c, row_type(r),
                                            msg[0] ? msg : NULL, -1)
                    : errclass_transport((int)c);
            if (v.why != r->why)
                continue;
            found = 1;
            cr_assert_eq(v.cls, r->cls, "row %d (%s)", i, r->why);
            cr_assert_eq(v.level, r->level, "row %d (%s)", i, r->why);
            cr_assert_eq(v.provider_wide, r->provider_wide);
            cr_assert_eq(v.retry_in_attempt, r->cls == ERRC_RETRYABLE);
        }
        cr_assert(found, "row %d (%s) is shadowed by earlier rows", i, r->why);
    }
    cr_assert_gt(rows, 40);
    cr_assert_null(errclass_table(-1));
    cr_assert_null(errclass_table(rows));
}

Test(errclass, lifecycle_classes)
{
    static const struct {
        int status;
        const char *type;
        enum err_class cls;
        enum alert_level level;
    } cases[] = {
        {200, NULL, ERRC_OK, ALERT_NONE},
        {200, "", ERRC_OK, ALERT_NONE},
        {201, NULL, ERRC_OK, ALERT_NONE},
        {408, NULL, ERRC_RETRYABLE, ALERT_P1},
        {409, "conflict_error", ERRC_RETRYABLE, ALERT_P1},
        {429, "rate_limit_error", ERRC_RETRYABLE, ALERT_P1},
        {429, "rate_limit_exceeded", ERRC_RETRYABLE, ALERT_P1},
        {429, NULL, ERRC_RETRYABLE, ALERT_P1},
        {500, "api_error", ERRC_RETRYABLE, ALERT_P1},
        {502, "http_error", ERRC_RETRYABLE, ALERT_P1},
        {503, NULL, ERRC_RETRYABLE, ALERT_P1},
        {504, "timeout_error", ERRC_RETRYABLE, ALERT_P1},
        {529, "overloaded_error", ERRC_RETRYABLE, ALERT_P1},
        {599, NULL, ERRC_RETRYABLE, ALERT_P1},
        {200, "overloaded_error", ERRC_RETRYABLE, ALERT_P1},
        {200, "api_error", ERRC_RETRYABLE, ALERT_P1},
        {200, "truncated_stream", ERRC_RETRYABLE, ALERT_P1},
        {200, "malformed_response", ERRC_RETRYABLE, ALERT_P1},
        {200, "server_error", ERRC_RETRYABLE, ALERT_P1},
        {200, "rate_limit_error", ERRC_RETRYABLE, ALERT_P1},
        {200, "invalid_request_error", ERRC_PERMANENT, ALERT_P2},
        {200, "authentication_error", ERRC_NOT_JOB, ALERT_P0},
        {200, "insufficient_quota", ERRC_NOT_JOB, ALERT_P0},
        {200, "brand_new_error", ERRC_RETRYABLE, ALERT_P1},
        {400, "invalid_request_error", ERRC_PERMANENT, ALERT_P2},
        {404, "not_found_error", ERRC_PERMANENT, ALERT_P2},
        {404, "model_not_found", ERRC_PERMANENT, ALERT_P2},
        {404, "http_error", ERRC_NOT_JOB, ALERT_P0},
        {413, "request_too_large", ERRC_PERMANENT, ALERT_P2},
        {413, "http_error", ERRC_PERMANENT, ALERT_P2},
        {422, NULL, ERRC_PERMANENT, ALERT_P2},
        {405, NULL, ERRC_PERMANENT, ALERT_P2},
        {418, NULL, ERRC_PERMANENT, ALERT_P2},
        {401, "authentication_error", ERRC_NOT_JOB, ALERT_P0},
        {403, "permission_error", ERRC_NOT_JOB, ALERT_P0},
        {402, "billing_error", ERRC_NOT_JOB, ALERT_P0},
        {429, "insufficient_quota", ERRC_NOT_JOB, ALERT_P0},
        {301, NULL, ERRC_NOT_JOB, ALERT_P0},
        {0, NULL, ERRC_RETRYABLE, ALERT_P1},
        {-1, NULL, ERRC_RETRYABLE, ALERT_P1},
        {100, NULL, ERRC_RETRYABLE, ALERT_P1},
        {600, NULL, ERRC_RETRYABLE, ALERT_P1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct err_verdict v =
            errclass_http(cases[i].status, cases[i].type, -1);
        cr_assert_eq(v.cls, cases[i].cls, "%d %s: got %s (%s)", cases[i].status,
                     cases[i].type ? cases[i].type : "-",
                     errclass_class_name(v.cls), v.why);
        cr_assert_eq(v.level, cases[i].level, "%d %s: got %s", cases[i].status,
                     cases[i].type ? cases[i].type : "-",
                     errclass_level_name(v.level));
        cr_assert_eq(v.retry_in_attempt, v.cls == ERRC_RETRYABLE);
        cr_assert_not_null(v.why);
    }
    /* breaker feed: provider trouble yes, job faults no */
    cr_assert(errclass_http(429, NULL, -1).provider_wide);
    cr_assert(errclass_http(529, NULL, -1).provider_wide);
    cr_assert_eq(errclass_http(400, NULL, -1).provider_wide, 0);
}

Test(errclass, spend_limit_messages)
{
    struct err_verdict v = errclass_http_message(
        400, "invalid_request_error",
        "Your credit balance is too low to access the Anthropic API. Please "
        "go to Plans & Billing to upgrade or purchase credits.",
        -1);
    cr_assert_eq(v.cls, ERRC_NOT_JOB);
    cr_assert_eq(v.level, ALERT_P0);
    v = errclass_http_message(400, "invalid_request_error",
                              "You have reached your specified workspace API "
                              "usage limits.",
                              -1);
    cr_assert_eq(v.cls, ERRC_NOT_JOB);
    v = errclass_http_message(429, "rate_limit_error",
                              "This request would exceed your organization's "
                              "spend limit.",
                              -1);
    cr_assert_eq(v.cls, ERRC_NOT_JOB);
    v = errclass_http_message(
        400, "invalid_request_error",
        "`temperature` and `top_p` cannot both be specified for this model.",
        -1);
    cr_assert_eq(v.cls, ERRC_PERMANENT);
    v = errclass_http_message(400, "invalid_request_error", NULL, -1);
    cr_assert_eq(v.cls, ERRC_PERMANENT);
    /* the plain variant never looks at messages */
    cr_assert_eq(errclass_http(400, "invalid_request_error", -1).cls,
                 ERRC_PERMANENT);
}

Test(errclass, x_should_retry_override)
{
    /* true: any non-2xx becomes retryable now */
    static const int any[] = {400, 401, 402, 404, 413, 422, 429, 500, 529};
    expect_all(any, NCODES(any), 1, ERRC_RETRYABLE, 1, -1);
    cr_assert_eq(errclass_http(200, NULL, 1).cls, ERRC_OK);
    cr_assert_eq(errclass_http(200, NULL, 0).cls, ERRC_OK);

    /* false: retryable ends the attempt, job-level backoff; others keep */
    static const int retryable[] = {408, 409, 429, 500, 503, 529};
    expect_all(retryable, NCODES(retryable), 0, ERRC_RETRYABLE, 0, -1);
    cr_assert_eq(errclass_http(400, NULL, 0).cls, ERRC_PERMANENT);
    cr_assert_eq(errclass_http(401, NULL, 0).cls, ERRC_NOT_JOB);
    cr_assert_eq(errclass_http(429, "insufficient_quota", 0).cls, ERRC_NOT_JOB);
    cr_assert_eq(errclass_http(200, "overloaded_error", 0).retry_in_attempt, 0);
}

Test(errclass, transport)
{
    static const int retry[] = {ERRC_CURLE_COULDNT_RESOLVE_HOST,
                                ERRC_CURLE_COULDNT_CONNECT,
                                ERRC_CURLE_OPERATION_TIMEDOUT,
                                ERRC_CURLE_GOT_NOTHING,
                                ERRC_CURLE_SEND_ERROR,
                                ERRC_CURLE_RECV_ERROR,
                                ERRC_CURLE_PARTIAL_FILE,
                                ERRC_CURLE_SSL_CONNECT_ERROR,
                                ERRC_CURLE_HTTP2_STREAM,
                                ERRC_CURLE_HTTP2,
                                ERRC_CURLE_WRITE_ERROR,
                                ERRC_CURLE_ABORTED_BY_CALLBACK,
                                8,
                                27,
                                -5,
                                INT_MAX};
    expect_all(retry, NCODES(retry), TRANSPORT, ERRC_RETRYABLE, 1, -1);
    static const int cfg[] = {ERRC_CURLE_PEER_FAILED_VERIFICATION,
                              ERRC_CURLE_SSL_CACERT_BADFILE,
                              ERRC_CURLE_SSL_CERTPROBLEM,
                              ERRC_CURLE_SSL_PINNEDPUBKEYNOTMATCH,
                              ERRC_CURLE_SSL_INVALIDCERTSTATUS,
                              ERRC_CURLE_SSL_ISSUER_ERROR,
                              ERRC_CURLE_SSL_CRL_BADFILE,
                              ERRC_CURLE_SSL_CIPHER,
                              ERRC_CURLE_SSL_CLIENTCERT,
                              ERRC_CURLE_UNSUPPORTED_PROTOCOL,
                              ERRC_CURLE_URL_MALFORMAT};
    expect_all(cfg, NCODES(cfg), TRANSPORT, ERRC_NOT_JOB, 0, ALERT_P0);
    cr_assert_eq(errclass_transport(0).cls, ERRC_OK);
    cr_assert(errclass_transport(ERRC_CURLE_COULDNT_CONNECT).provider_wide);
}

Test(errclass, names)
{
    cr_assert_str_eq(errclass_class_name(ERRC_OK), "ok");
    cr_assert_str_eq(errclass_class_name(ERRC_RETRYABLE), "retryable");
    cr_assert_str_eq(errclass_class_name(ERRC_PERMANENT), "permanent");
    cr_assert_str_eq(errclass_class_name(ERRC_NOT_JOB), "not_job");
    cr_assert_str_eq(errclass_level_name(ALERT_NONE), "none");
    cr_assert_str_eq(errclass_level_name(ALERT_P0), "P0");
    cr_assert_str_eq(errclass_level_name(ALERT_P1), "P1");
    cr_assert_str_eq(errclass_level_name(ALERT_P2), "P2");
}
