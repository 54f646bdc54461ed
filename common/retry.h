/* retry: the in-attempt HTTP retry policy (server hints, exponential backoff
 * with full jitter, x-should-retry) and the job-level backoff. Pure math. */
#ifndef GENQ_RETRY_H
#define GENQ_RETRY_H

#include <stdint.h>

struct retry_policy {
    double base_s;     /* first backoff ceiling; default 0.5 */
    double cap_s;      /* largest backoff ceiling; default 8 */
    int max_retries;   /* retries inside one attempt; default 3 */
    double max_hint_s; /* larger server hints are ignored; default 60 */
};

#define RETRY_POLICY_INIT                                                      \
    {                                                                          \
        0.5, 8.0, 3, 60.0                                                      \
    }

/* Fill p with the defaults above. This function can't fail. */
void retry_policy_default(struct retry_policy *p);

/* Delay in seconds before retry number n (0-based) with full jitter: uniform
 * in [0, min(cap_s, base_s * 2^n)], i.e. rand01 * that ceiling. rand01 in
 * [0,1) is supplied by the caller; values outside are clamped. n < 0 counts
 * as 0. This function can't fail. */
double retry_backoff_s(const struct retry_policy *p, int n, double rand01);

/* The server's hint, unbounded: retry-after-ms (float milliseconds) wins,
 * then retry-after as seconds (float allowed) or as an HTTP-date, taken
 * relative to now_s (Unix seconds); a date in the past gives 0. The first
 * header that is present and parses decides. Returns seconds >= 0, or -1
 * when neither header is usable. Header values may be NULL. Use this for a
 * circuit-breaker pause, where long hints matter. */
double retry_hint_raw_s(const char *retry_after_ms, const char *retry_after,
                        double now_s);

/* As retry_hint_raw_s, but values above p->max_hint_s give -1 (fall back to
 * backoff, as the Anthropic Python SDK does). */
double retry_hint_s(const struct retry_policy *p, const char *retry_after_ms,
                    const char *retry_after, double now_s);

/* The delay before retry n: the hint when it is >= 0, else the backoff.
 * This function can't fail. */
double retry_delay_s(const struct retry_policy *p, int n, double hint_s,
                     double rand01);

/* x-should-retry: "true" gives 1, "false" gives 0 (case-insensitive,
 * surrounding blanks ignored); NULL or anything else gives -1. */
int retry_header_override(const char *x_should_retry);

/* Job-level backoff in ms after the 1-based attempt that just failed: full
 * jitter over min(1 h, 10 s * 2^(attempt-1)). attempt < 1 counts as 1.
 * This function can't fail. */
int64_t retry_job_backoff_ms(int attempt, double rand01);

/* Parse an HTTP-date (IMF-fixdate, RFC 850 or asctime form, GMT) into Unix
 * seconds. Returns 0, or -1 when s is not such a date. */
int retry_parse_http_date(const char *s, double *out);

#endif
