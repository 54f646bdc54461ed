/* genq-mockllm: the provider's rate limits, faithfully -- continuously
 * refilled buckets (--limit-rpm, --limit-itpm, --limit-otpm, --limit-tpm:
 * per minute, refilling at a sixtieth per second up to the figure, as the
 * real APIs meter), a 429 with retry-after and the provider's error body
 * when a request is over, and the buckets' levels in the rate-limit
 * headers of every response; plus the outage control (503 to everything
 * until a time). Counted in /mock/stats: limit_admitted, limit_refused. */
#include "fmacros.h"

#include <math.h>

#include "srv.h"

struct srv_limits srv_limits;

/* The figure of bucket b (per minute), 0 = not enforced. */
static double
figure(int b)
{
    const double f[SRV_LB_N] = {srv_cfg.limit_rpm, srv_cfg.limit_itpm,
                                srv_cfg.limit_otpm, srv_cfg.limit_tpm};

    return f[b];
}

int
srv_limit_on(void)
{
    for (int b = 0; b < SRV_LB_N; b++)
        if (figure(b) > 0)
            return 1;
    return 0;
}

/* Refill every bucket to now. */
static void
refill(double now)
{
    double dt = srv_limits.ts > 0 ? now - srv_limits.ts : 0;

    if (dt < 0)
        return; /* an older clock reading: nothing to add, keep ts */
    for (int b = 0; b < SRV_LB_N; b++) {
        double L = figure(b);
        if (L <= 0)
            continue;
        if (!srv_limits.init[b]) {
            srv_limits.level[b] = L;
            srv_limits.init[b] = 1;
        }
        srv_limits.level[b] += dt * L / 60.0;
        if (srv_limits.level[b] > L)
            srv_limits.level[b] = L;
    }
    srv_limits.ts = now;
}

double
srv_limit_take(double now, size_t in_tokens, size_t out_tokens)
{
    double need[SRV_LB_N] = {1, (double)in_tokens, 0,
                             (double)(in_tokens + out_tokens)};
    double wait = 0;

    refill(now);
    for (int b = 0; b < SRV_LB_N; b++) {
        double L = figure(b), n = need[b] < L ? need[b] : L;
        /* output tokens are counted as produced: a request needs only a
         * bucket that is not in debt */
        if (b == SRV_LB_OUT)
            n = 0;
        if (L > 0 && srv_limits.level[b] < n) {
            double w = (n - srv_limits.level[b]) * 60.0 / L;
            if (b == SRV_LB_OUT)
                w = (1e-9 - srv_limits.level[b]) * 60.0 / L;
            if (w > wait)
                wait = w;
        }
    }
    if (wait > 0) {
        srv_stats.limit_refused++;
        return wait;
    }
    need[SRV_LB_OUT] = (double)out_tokens;
    for (int b = 0; b < SRV_LB_N; b++)
        if (figure(b) > 0)
            srv_limits.level[b] -= need[b];
    srv_stats.limit_admitted++;
    return 0;
}

int
srv_limit_header(int b, double now, unsigned long long *limit,
                 unsigned long long *remaining, double *full_in_s)
{
    double L = figure(b), v;

    if (L <= 0)
        return 0;
    refill(now);
    v = srv_limits.level[b];
    *limit = (unsigned long long)L;
    *remaining = v > 0 ? (unsigned long long)floor(v) : 0;
    *full_in_s = (L - v) * 60.0 / L;
    return 1;
}

int
srv_outage(double now)
{
    return now < srv_limits.outage_until;
}
