/* libFuzzer target: the retry hint parsers (retry-after-ms, retry-after as
 * seconds or HTTP-date, x-should-retry) and the backoff math. The input is
 * up to three header values separated by NUL bytes, after 8 config bytes. */
#include "fmacros.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "retry.h"

/* The next NUL-separated field of data[*pos..size) as a fresh string, or
 * NULL (a missing header) when the field is a single 0xFF byte or the input
 * has run out. Caller frees. */
static char *
next_field(const uint8_t *data, size_t size, size_t *pos)
{
    const uint8_t *nul;
    size_t n;
    char *s;

    if (*pos > size)
        return NULL;
    nul = memchr(data + *pos, '\0', size - *pos);
    n = nul ? (size_t)(nul - (data + *pos)) : size - *pos;
    s = malloc(n + 1);
    FUZZ_CHECK(s != NULL);
    memcpy(s, data + *pos, n);
    s[n] = '\0';
    *pos += n + 1;
    if (n == 1 && (uint8_t)s[0] == 0xFF) {
        free(s);
        return NULL;
    }
    return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t cfg = fuzz_take_seed(&data, &size, 8);
    struct retry_policy p;
    size_t pos = 0;
    char *ms, *ra, *xs;
    double now = 1.6e9 + (double)(cfg % 400000000u), v, d;

    retry_policy_default(&p);
    /* The worker's ranges: --retry-base/--retry-cap 0.001..3600. */
    p.base_s = 0.001 + (double)((cfg >> 8) % 3600000u) / 1000.0;
    p.cap_s = 0.001 + (double)((cfg >> 30) % 3600000u) / 1000.0;
    p.max_hint_s = (double)((cfg >> 52) % 4096);

    ms = next_field(data, size, &pos);
    ra = next_field(data, size, &pos);
    xs = next_field(data, size, &pos);

    v = retry_hint_raw_s(ms, ra, now);
    FUZZ_CHECK(v == -1.0 || (isfinite(v) && v >= 0.0));
    d = retry_hint_s(&p, ms, ra, now);
    FUZZ_CHECK(d == -1.0 || (d >= 0.0 && d <= p.max_hint_s && d == v));
    FUZZ_CHECK(d != -1.0 || v == -1.0 || v > p.max_hint_s);

    if (ra != NULL && retry_parse_http_date(ra, &v) == 0)
        FUZZ_CHECK(isfinite(v));
    if (ms != NULL && retry_parse_http_date(ms, &v) == 0)
        FUZZ_CHECK(isfinite(v));

    int o = retry_header_override(xs);
    FUZZ_CHECK(o == -1 || o == 0 || o == 1);
    FUZZ_CHECK(retry_header_override(ra) >= -1);

    /* Backoff: n and rand01 from the config bytes, any value. */
    int n = (int)(int32_t)(cfg >> 16);
    double r01 = (double)(int64_t)cfg / 1e6;
    double b = retry_backoff_s(&p, n, r01);
    FUZZ_CHECK(isfinite(b) && b >= 0.0 && b <= p.cap_s);
    double dl = retry_delay_s(&p, n, d, r01);
    FUZZ_CHECK(d >= 0.0 ? dl == d : dl == b);
    int64_t jb = retry_job_backoff_ms(n, r01);
    FUZZ_CHECK(jb >= 0 && jb <= 3600000);

    free(ms);
    free(ra);
    free(xs);
    return 0;
}
