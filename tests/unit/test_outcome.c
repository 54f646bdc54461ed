/* Unit tests for worker/outcome.c: the decision after a failed HTTP
 * attempt, for every row of the error-class table (iterated, so a new row
 * is covered automatically) when fresh, out of retries and draining, plus
 * the distinct cases spelled out. */
#include "fmacros.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../../worker/outcome.h"

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

/* The verdict of a code in the row's range that reaches this row; *code
 * receives the code. 0 when none does (test_errclass.c checks that). */
static int
row_verdict(const struct errclass_row *r, struct err_verdict *v, int *code)
{
    long lo = r->code < -1000 ? -1000 : r->code;
    long hi = r->code_hi > 1000 ? 1000 : r->code_hi;
    char msg[128] = "";

    if (r->message_hint) {
        const char *bar = strchr(r->message_hint, '|');
        size_t n =
            bar ? (size_t)(bar - r->message_hint) : strlen(r->message_hint);
        snprintf(msg, sizeof msg, "Your %.*s was hit", (int)n, r->message_hint);
    }
    for (long c = lo; c <= hi; c++) {
        *v = r->src == ERRSRC_HTTP
                 ? errclass_http_message((int)c, row_type(r),
                                         msg[0] ? msg : NULL, -1)
                 : errclass_transport((int)c);
        if (v->why == r->why) {
            *code = (int)c;
            return 1;
        }
    }
    return 0;
}

static struct retry_policy rp;

static struct outcome_in
input(struct err_verdict v, int status, const char *type, int tries,
      int draining)
{
    struct outcome_in in;

    retry_policy_default(&rp);
    rp.max_retries = 3;
    memset(&in, 0, sizeof(in));
    in.v = v;
    in.http_status = status;
    in.api_type = type ? type : "";
    in.tries = tries;
    in.attempts = 1;
    in.draining = draining;
    in.rp = &rp;
    in.hint_s = -1;
    in.job_backoff_base_s = 10.0;
    in.rand01 = 0.5;
    return in;
}

static int
throttled(const struct err_verdict *v, int status, const char *type)
{
    type = type ? type : "";
    return v->provider_wide && (status == 429 || status == 529 ||
                                !strcmp(type, "overloaded_error") ||
                                !strcmp(type, "rate_limit_error"));
}

Test(outcome, every_table_row)
{
    const struct errclass_row *r;
    int rows = 0;

    for (int i = 0; (r = errclass_table(i)) != NULL; i++) {
        struct err_verdict v;
        int code;
        int status;
        const char *type = row_type(r);

        cr_assert(row_verdict(r, &v, &code), "row %d (%s)", i, r->why);
        rows++;
        status = r->src == ERRSRC_HTTP ? code : 0;
        for (int draining = 0; draining <= 1; draining++)
            for (int tries = 0; tries <= 3; tries += 3) {
                struct outcome_in in = input(v, status, type, tries, draining);
                struct outcome_dec d = outcome_decide(&in);
                const char *what = r->why;

                if (r->cls == ERRC_RETRYABLE && tries < 3 && !draining) {
                    cr_assert(d.retry_now, "%s", what);
                    cr_assert_geq(d.delay_s, 0.0);
                    continue;
                }
                cr_assert_not(d.retry_now, "%s", what);
                cr_assert_not_null(d.cls, "%s", what);
                if (r->cls == ERRC_RETRYABLE && draining) {
                    cr_assert_eq(d.out, OUT_REQUEUE, "%s", what);
                    cr_assert_str_eq(d.cls, DLQ_NOT_JOB_FAULT);
                    cr_assert_str_eq(d.type, "shutdown");
                    cr_assert_eq(d.backoff_ms, 0);
                    cr_assert_not(d.open_circuit);
                } else if (r->cls == ERRC_PERMANENT) {
                    cr_assert_eq(d.out, OUT_DEAD, "%s", what);
                    cr_assert_str_eq(d.cls, DLQ_PERMANENT);
                    cr_assert_null(d.type);
                    cr_assert_not(d.open_circuit);
                    cr_assert_eq(d.alert, ALERT_NONE);
                } else if (r->cls == ERRC_NOT_JOB) {
                    cr_assert_eq(d.out, OUT_REQUEUE, "%s", what);
                    cr_assert_str_eq(d.cls, DLQ_NOT_JOB_FAULT);
                    cr_assert(d.open_circuit, "%s", what);
                    cr_assert_eq(d.alert, r->level, "%s", what);
                    cr_assert_eq(d.alert, ALERT_P0, "%s", what);
                    cr_assert_not_null(d.alert_key);
                    cr_assert_eq(d.backoff_ms, 0);
                } else if (throttled(&v, status, type)) {
                    cr_assert_eq(d.out, OUT_THROTTLE, "%s", what);
                    cr_assert_str_eq(d.cls, DLQ_NOT_JOB_FAULT);
                    cr_assert(d.open_circuit, "%s", what);
                    cr_assert_eq(d.alert, ALERT_NONE);
                    cr_assert_geq(d.backoff_ms, 0);
                } else {
                    /* retryable out of retries, or OK without a result */
                    cr_assert_eq(d.out, OUT_RETRY, "%s", what);
                    cr_assert_str_eq(d.cls, DLQ_TRANSIENT);
                    cr_assert_not(d.open_circuit, "%s", what);
                    cr_assert_eq(d.alert, ALERT_NONE);
                    cr_assert_geq(d.backoff_ms, 0);
                }
            }
    }
    cr_assert_gt(rows, 40);
}

/* The decision for an HTTP failure after `tries` retries. */
static struct outcome_dec
http_dec(int status, const char *type, const char *message, int tries)
{
    struct err_verdict v = errclass_http_message(status, type, message, -1);
    struct outcome_in in = input(v, status, type, tries, 0);

    return outcome_decide(&in);
}

Test(outcome, distinct_cases)
{
    struct outcome_dec d;

    /* 500: retried in the attempt, then the job-level backoff */
    d = http_dec(500, "api_error", NULL, 0);
    cr_assert(d.retry_now);
    d = http_dec(500, "api_error", NULL, 3);
    cr_assert_eq(d.out, OUT_RETRY);
    cr_assert_str_eq(d.cls, DLQ_TRANSIENT);
    cr_assert_eq(d.backoff_ms, outcome_job_backoff_ms(1, 10.0, 0.5));
    /* 429 and 529 after every retry: throttled, circuit opened */
    d = http_dec(429, "rate_limit_error", NULL, 3);
    cr_assert_eq(d.out, OUT_THROTTLE);
    cr_assert(d.open_circuit);
    d = http_dec(529, "overloaded_error", NULL, 3);
    cr_assert_eq(d.out, OUT_THROTTLE);
    /* an overloaded_error inside a 200 stream is throttled too */
    d = http_dec(200, "overloaded_error", NULL, 3);
    cr_assert_eq(d.out, OUT_THROTTLE);
    /* 400: dead at once, whatever the tries */
    d = http_dec(400, "invalid_request_error", "bad", 0);
    cr_assert_eq(d.out, OUT_DEAD);
    cr_assert_str_eq(d.cls, DLQ_PERMANENT);
    /* not the job's fault: requeued, P0 with the row's key */
    d = http_dec(401, "authentication_error", NULL, 0);
    cr_assert_eq(d.out, OUT_REQUEUE);
    cr_assert_eq(d.alert, ALERT_P0);
    cr_assert_str_eq(d.alert_key, "auth-failing");
    d = http_dec(403, "permission_error", NULL, 0);
    cr_assert_str_eq(d.alert_key, "auth-failing");
    d = http_dec(402, "billing_error", NULL, 0);
    cr_assert_str_eq(d.alert_key, "billing");
    d = http_dec(429, "insufficient_quota", NULL, 0);
    cr_assert_str_eq(d.alert_key, "billing");
    d = http_dec(400, "invalid_request_error", "Your credit balance is too low",
                 0);
    cr_assert_eq(d.out, OUT_REQUEUE);
    cr_assert_str_eq(d.alert_key, "billing");
    d = http_dec(301, NULL, NULL, 0);
    cr_assert_str_eq(d.alert_key, "api-config");
    d = http_dec(404, "http_error", NULL, 0);
    cr_assert_str_eq(d.alert_key, "api-config");
    {
        struct err_verdict v =
            errclass_transport(ERRC_CURLE_PEER_FAILED_VERIFICATION);
        struct outcome_in in = input(v, 0, "transport", 0, 0);
        d = outcome_decide(&in);
        cr_assert_eq(d.out, OUT_REQUEUE);
        cr_assert_str_eq(d.alert_key, "api-config");
    }
    /* a timeout while draining: handed back, not counted */
    {
        struct err_verdict v =
            errclass_transport(ERRC_CURLE_OPERATION_TIMEDOUT);
        struct outcome_in in = input(v, 0, "transport", 0, 1);
        d = outcome_decide(&in);
        cr_assert_eq(d.out, OUT_REQUEUE);
        cr_assert_str_eq(d.type, "shutdown");
    }
    /* x-should-retry: false ends the attempt, the job backs off */
    {
        struct err_verdict v = errclass_http(500, "api_error", 0);
        struct outcome_in in = input(v, 500, "api_error", 0, 0);
        d = outcome_decide(&in);
        cr_assert_not(d.retry_now);
        cr_assert_eq(d.out, OUT_RETRY);
    }
}

Test(outcome, delays)
{
    struct err_verdict v = errclass_http(503, NULL, -1);
    struct outcome_in in = input(v, 503, NULL, 1, 0);
    struct outcome_dec d;

    d = outcome_decide(&in);
    cr_assert(d.retry_now);
    cr_assert_float_eq(d.delay_s, retry_delay_s(&rp, 1, -1, 0.5), 1e-9);
    in.hint_s = 2.0;
    d = outcome_decide(&in);
    cr_assert_float_eq(d.delay_s, retry_delay_s(&rp, 1, 2.0, 0.5), 1e-9);
    /* the job-level backoff scales with --job-backoff-base */
    cr_assert_eq(outcome_job_backoff_ms(3, 20.0, 0.5),
                 2 * outcome_job_backoff_ms(3, 10.0, 0.5));
    cr_assert_leq(outcome_job_backoff_ms(1, 10.0, 0.999), 10000);
}

Test(outcome, names)
{
    cr_assert_str_eq(outcome_name(OUT_COMPLETE), "complete");
    cr_assert_str_eq(outcome_name(OUT_RETRY), "retry");
    cr_assert_str_eq(outcome_name(OUT_DEAD), "dead");
    cr_assert_str_eq(outcome_name(OUT_REQUEUE), "requeue");
    cr_assert_str_eq(outcome_name(OUT_THROTTLE), "throttle");
}
