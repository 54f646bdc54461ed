/* Unit tests for common/retry.c: server hints, backoff bounds, job backoff. */
#include "fmacros.h"

#include <criterion/criterion.h>
#include <stdint.h>

#include "retry.h"

#define NOW 1767225600.0 /* 2026-01-01T00:00:00Z */

static struct retry_policy
pol(void)
{
    struct retry_policy p;
    retry_policy_default(&p);
    return p;
}

Test(retry, defaults)
{
    struct retry_policy p = pol();
    cr_assert_eq(p.base_s, 0.5);
    cr_assert_eq(p.cap_s, 8.0);
    cr_assert_eq(p.max_retries, 3);
    cr_assert_eq(p.max_hint_s, 60.0);
}

Test(retry, hint_ms_wins)
{
    struct retry_policy p = pol();
    cr_assert_float_eq(retry_hint_s(&p, "1500", "30", NOW), 1.5, 1e-9);
    cr_assert_float_eq(retry_hint_s(&p, " 2.5 ", NULL, NOW), 0.0025, 1e-12);
    cr_assert_float_eq(retry_hint_s(&p, "0", NULL, NOW), 0.0, 1e-12);
    /* unparseable ms header: fall through to retry-after */
    cr_assert_float_eq(retry_hint_s(&p, "soon", "3", NOW), 3.0, 1e-9);
    cr_assert_float_eq(retry_hint_s(&p, "", "3", NOW), 3.0, 1e-9);
    /* ms present and parseable but over the cap: no hint (ms decides) */
    cr_assert_eq(retry_hint_s(&p, "61000", "2", NOW), -1.0);
}

Test(retry, hint_seconds_and_float)
{
    struct retry_policy p = pol();
    cr_assert_float_eq(retry_hint_s(&p, NULL, "2", NOW), 2.0, 1e-9);
    cr_assert_float_eq(retry_hint_s(&p, NULL, "0.75", NOW), 0.75, 1e-9);
    cr_assert_float_eq(retry_hint_s(&p, NULL, "60", NOW), 60.0, 1e-9);
    cr_assert_eq(retry_hint_s(&p, NULL, "60.5", NOW), -1.0, "over cap");
    cr_assert_eq(retry_hint_s(&p, NULL, "3600", NOW), -1.0);
    cr_assert_float_eq(retry_hint_raw_s(NULL, "3600", NOW), 3600.0, 1e-9);
}

Test(retry, hint_http_date)
{
    struct retry_policy p = pol();
    cr_assert_float_eq(
        retry_hint_s(&p, NULL, "Thu, 01 Jan 2026 00:00:30 GMT", NOW), 30.0,
        1e-9);
    cr_assert_float_eq(
        retry_hint_s(&p, NULL, "Thursday, 01-Jan-26 00:00:10 GMT", NOW), 10.0,
        1e-9);
    cr_assert_float_eq(retry_hint_s(&p, NULL, "Thu Jan  1 00:00:05 2026", NOW),
                       5.0, 1e-9);
    cr_assert_eq(retry_hint_s(&p, NULL, "Thu, 01 Jan 2026 01:00:00 GMT", NOW),
                 -1.0, "an hour away is over the cap");
    cr_assert_float_eq(
        retry_hint_raw_s(NULL, "Thu, 01 Jan 2026 01:00:00 GMT", NOW), 3600.0,
        1e-9);
    cr_assert_eq(retry_hint_s(&p, NULL, "Wed, 31 Dec 2025 23:59:00 GMT", NOW),
                 0.0, "a past date means now");
    double t;
    cr_assert_eq(retry_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", &t), 0);
    cr_assert_eq(t, 784111777.0);
}

Test(retry, hint_garbage)
{
    struct retry_policy p = pol();
    static const char *const bad[] = {
        "abc",        "-1",  "1e3",   "0x10",
        "inf",        "nan", "1.2.3", "2 s",
        "+3",         " ",   "",      "Thu, 01 Jan 2026 00:00:30 GMT junk",
        "32 Jan 2026"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(retry_hint_s(&p, NULL, bad[i], NOW), -1.0, "'%s'", bad[i]);
        cr_assert_eq(retry_hint_s(&p, bad[i], NULL, NOW), -1.0, "ms '%s'",
                     bad[i]);
    }
    cr_assert_eq(retry_hint_s(&p, NULL, NULL, NOW), -1.0);
}

Test(retry, backoff_bounds)
{
    struct retry_policy p = pol();
    /* the ceilings: 0.5, 1, 2, 4, 8, 8, ... */
    static const double ceil_s[] = {0.5, 1, 2, 4, 8, 8, 8};
    for (int n = 0; n < 7; n++) {
        cr_assert_eq(retry_backoff_s(&p, n, 0.0), 0.0);
        cr_assert_float_eq(retry_backoff_s(&p, n, 0.5), ceil_s[n] / 2, 1e-12);
        double hi = retry_backoff_s(&p, n, 0.999999);
        cr_assert(hi < ceil_s[n] && hi > ceil_s[n] * 0.99);
    }
    cr_assert_eq(retry_backoff_s(&p, 1000000, 0.5), 4.0, "no overflow");
    cr_assert_eq(retry_backoff_s(&p, -3, 0.5), 0.25);
    cr_assert(retry_backoff_s(&p, 3, 7.0) < 4.0, "rand01 clamped");
    cr_assert_eq(retry_backoff_s(&p, 3, -1.0), 0.0);
    cr_assert_eq(retry_delay_s(&p, 0, 2.0, 0.9), 2.0, "hint wins");
    cr_assert_float_eq(retry_delay_s(&p, 0, -1.0, 0.5), 0.25, 1e-12);
}

Test(retry, job_backoff)
{
    cr_assert_eq(retry_job_backoff_ms(1, 0.5), 5000);
    cr_assert_eq(retry_job_backoff_ms(2, 0.5), 10000);
    cr_assert_eq(retry_job_backoff_ms(3, 0.5), 20000);
    cr_assert_eq(retry_job_backoff_ms(0, 0.5), 5000);
    cr_assert_eq(retry_job_backoff_ms(1, 0.0), 0);
    int64_t hi = retry_job_backoff_ms(1, 0.999999);
    cr_assert(hi < 10000 && hi >= 9999);
    /* cap 1 h from attempt 10 on (10 s * 2^9 = 5120 s > 3600 s) */
    cr_assert_eq(retry_job_backoff_ms(9, 0.5), 1280000);
    cr_assert_eq(retry_job_backoff_ms(10, 0.5), 1800000);
    cr_assert_eq(retry_job_backoff_ms(1000000, 0.5), 1800000);
    cr_assert(retry_job_backoff_ms(50, 0.999999) < 3600000);
}

Test(retry, x_should_retry)
{
    cr_assert_eq(retry_header_override("true"), 1);
    cr_assert_eq(retry_header_override("false"), 0);
    cr_assert_eq(retry_header_override(" TRUE \r"), 1);
    cr_assert_eq(retry_header_override("False"), 0);
    cr_assert_eq(retry_header_override(NULL), -1);
    cr_assert_eq(retry_header_override(""), -1);
    cr_assert_eq(retry_header_override("yes"), -1);
    cr_assert_eq(retry_header_override("1"), -1);
}
