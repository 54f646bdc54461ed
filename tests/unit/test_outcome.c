/* Unit tests for worker/outcome.c: the decision after a failed HTTP
 * attempt, for every row of the error-class table (iterated, so a new row
 * is covered automatically) when fresh, out of retries and draining, plus
 * the distinct cases spelled out. */
#include "fmacros.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../../worker/outcome.h"

/* The verdict of row r, as errclass_http / errclass_transport give it for
 * an outcome that matches the row (test_errclass.c checks that they do). */
static struct err_verdict
row_verdict(const struct errclass_row *r)
{
    return (struct err_verdict){.cls = r->cls,
                                .level = r->level,
                                .why = r->why,
                                .retry_in_attempt = r->cls == ERRC_RETRYABLE,
                                .provider_wide = r->provider_wide};
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
        struct err_verdict v = row_verdict(r);
        /* a status inside the row's range; a transport failure has none */
        int status = r->src != ERRSRC_HTTP ? 0 : r->code < 100 ? 599 : r->code;
        const char *type = r->api_type;

        rows++;
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

/* The decision for a transport failure (CURLcode). */
static struct outcome_dec
xport_dec(int curl_code, int draining)
{
    struct err_verdict v = errclass_transport(curl_code);
    struct outcome_in in = input(v, 0, "transport", 0, draining);

    return outcome_decide(&in);
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
    d = xport_dec(ERRC_CURLE_PEER_FAILED_VERIFICATION, 0);
    cr_assert_eq(d.out, OUT_REQUEUE);
    cr_assert_str_eq(d.alert_key, "api-config");
    /* a timeout: retried; while draining, handed back, not counted */
    d = xport_dec(ERRC_CURLE_OPERATION_TIMEDOUT, 0);
    cr_assert(d.retry_now);
    d = xport_dec(ERRC_CURLE_OPERATION_TIMEDOUT, 1);
    cr_assert_eq(d.out, OUT_REQUEUE);
    cr_assert_str_eq(d.type, "shutdown");
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
    static const char *const want[] = {"complete", "retry", "dead", "requeue",
                                       "throttle"};

    for (int o = OUT_COMPLETE; o <= OUT_THROTTLE; o++)
        cr_assert_str_eq(outcome_name((enum outcome)o), want[o]);
    cr_assert_str_eq(outcome_name((enum outcome)99), "?");
}
