/* retry: backoff, server retry hints and x-should-retry (see retry.h; the
 * rules follow llm-api.md §4 except for the jitter, which is full jitter). */
#include "fmacros.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "retry.h"

#define JOB_BACKOFF_BASE_MS 10000.0
#define JOB_BACKOFF_CAP_MS  3600000.0

void
retry_policy_default(struct retry_policy *p)
{
    struct retry_policy d = RETRY_POLICY_INIT;
    *p = d;
}

static double
clamp01(double r)
{
    if (!(r >= 0.0)) /* also catches NaN */
        return 0.0;
    if (r >= 1.0)
        return 0.9999999999;
    return r;
}

/* min(cap, base * 2^n) without libm and without overflow: stop doubling as
 * soon as the cap is reached. */
static double
ceiling(double base, double cap, int n)
{
    double c = base;
    for (int i = 0; i < n && c < cap; i++)
        c *= 2.0;
    return c < cap ? c : cap;
}

double
retry_backoff_s(const struct retry_policy *p, int n, double rand01)
{
    double c = ceiling(p->base_s, p->cap_s, n < 0 ? 0 : n);
    if (!(c > 0.0))
        return 0.0;
    return clamp01(rand01) * c;
}

double
retry_delay_s(const struct retry_policy *p, int n, double hint_s, double rand01)
{
    return hint_s >= 0.0 ? hint_s : retry_backoff_s(p, n, rand01);
}

int64_t
retry_job_backoff_ms(int attempt, double rand01)
{
    double c = ceiling(JOB_BACKOFF_BASE_MS, JOB_BACKOFF_CAP_MS,
                       attempt < 1 ? 0 : attempt - 1);
    return (int64_t)(clamp01(rand01) * c);
}

/* Trim blanks: returns the first non-blank byte and its length in *n. */
static const char *
trim(const char *s, size_t *n)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        len--;
    *n = len;
    return s;
}

/* A plain non-negative decimal ("2", "1.5", ".5"); rejects signs, exponents,
 * hex, inf and nan, which strtod alone would take. */
static int
parse_decimal(const char *s, double *out)
{
    size_t n;
    const char *t = trim(s, &n);
    size_t digits = 0, dots = 0;
    char tmp[64];

    if (n == 0 || n >= sizeof tmp)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (isdigit((unsigned char)t[i]))
            digits++;
        else if (t[i] == '.')
            dots++;
        else
            return -1;
    }
    if (digits == 0 || dots > 1)
        return -1;
    memcpy(tmp, t, n);
    tmp[n] = '\0';
    char *end;
    double v = strtod(tmp, &end);
    if (*end != '\0' || !(v >= 0.0) || v > 1e15)
        return -1;
    *out = v;
    return 0;
}

int
retry_parse_http_date(const char *s, double *out)
{
    static const char *const fmts[] = {
        "%a, %d %b %Y %H:%M:%S GMT", /* IMF-fixdate */
        "%A, %d-%b-%y %H:%M:%S GMT", /* obsolete RFC 850 */
        "%a %b %e %H:%M:%S %Y",      /* asctime */
    };
    size_t n;
    const char *t = trim(s, &n);
    char tmp[128];

    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, t, n);
    tmp[n] = '\0';
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        const char *end = strptime(tmp, fmts[i], &tm);
        if (end == NULL || *end != '\0')
            continue;
        time_t ts = timegm(&tm);
        if (ts == (time_t)-1)
            continue;
        *out = (double)ts;
        return 0;
    }
    return -1;
}

static int
present(const char *h)
{
    size_t n = 0;
    if (h != NULL)
        trim(h, &n);
    return n > 0;
}

double
retry_hint_raw_s(const char *retry_after_ms, const char *retry_after,
                 double now_s)
{
    double v;

    if (present(retry_after_ms) && parse_decimal(retry_after_ms, &v) == 0)
        return v / 1000.0;
    if (present(retry_after)) {
        if (parse_decimal(retry_after, &v) == 0)
            return v;
        if (retry_parse_http_date(retry_after, &v) == 0)
            return v > now_s ? v - now_s : 0.0;
    }
    return -1.0;
}

double
retry_hint_s(const struct retry_policy *p, const char *retry_after_ms,
             const char *retry_after, double now_s)
{
    double v = retry_hint_raw_s(retry_after_ms, retry_after, now_s);
    if (v < 0.0 || v > p->max_hint_s)
        return -1.0;
    return v;
}

int
retry_header_override(const char *x_should_retry)
{
    size_t n;
    if (x_should_retry == NULL)
        return -1;
    const char *t = trim(x_should_retry, &n);
    if (n == 4 && strncasecmp(t, "true", 4) == 0)
        return 1;
    if (n == 5 && strncasecmp(t, "false", 5) == 0)
        return 0;
    return -1;
}
