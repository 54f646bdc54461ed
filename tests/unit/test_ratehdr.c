/* The providers' rate-limit headers (worker/ratehdr.c): Anthropic's
 * anthropic-ratelimit-* with RFC 3339 resets, OpenAI's x-ratelimit-* with Go
 * duration resets; other headers and bad values are ignored. */
#include <string.h>

#include <criterion/criterion.h>

#include "../../worker/ratehdr.h"

static void
feed(struct ratehdr *h, const char *line, long long now_ms)
{
    ratehdr_line(h, line, strlen(line), now_ms);
}

Test(ratehdr, go_durations)
{
    static const struct {
        const char *s;
        long long ms;
    } ok[] = {{"6m0s", 360000}, {"12ms", 12},       {"1h2m3.5s", 3723500},
              {"0s", 0},        {"0", 0},           {"1.5s", 1500},
              {"250us", 1},     {"20ns", 1},        {"59.999s", 59999},
              {"2h", 7200000},  {"1m30.25s", 90250}};
    static const char *const bad[] = {"",    "s",  "6",      "6x", "-1s",
                                      "1s2", "ms", "1.2.3s", " 1s"};
    int64_t ms;

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        cr_assert_eq(ratehdr_go_duration_ms(ok[i].s, &ms), 0, "%s", ok[i].s);
        cr_assert_eq(ms, ok[i].ms, "%s: %lld", ok[i].s, (long long)ms);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(ratehdr_go_duration_ms(bad[i], &ms), -1, "'%s'", bad[i]);
}

/* What a bucket should hold after the lines: limit, remaining, reset. */
struct want {
    long limit, remaining;
    long long reset_ms;
};

/* Feed lines (NULL-ended) at now_ms, then check every bucket. */
static void
check(const char *const *lines, long long now_ms, const struct want w[RB_N])
{
    struct ratehdr h;

    ratehdr_reset(&h);
    cr_assert_eq(h.any, 0);
    for (int i = 0; lines[i]; i++)
        feed(&h, lines[i], now_ms);
    cr_assert_eq(h.any, 1);
    for (int b = 0; b < RB_N; b++) {
        cr_assert_eq(h.limit[b], w[b].limit, "%s limit",
                     ratehdr_bucket_name((enum rate_bucket)b));
        cr_assert_eq(h.remaining[b], w[b].remaining, "%s remaining",
                     ratehdr_bucket_name((enum rate_bucket)b));
        cr_assert_eq(h.reset_ms[b], w[b].reset_ms, "%s reset",
                     ratehdr_bucket_name((enum rate_bucket)b));
    }
}

Test(ratehdr, anthropic_headers)
{
    /* at 2025-01-31T09:00:00Z; any case; CRLF or none; other headers */
    static const char *const lines[] = {
        "anthropic-ratelimit-requests-limit: 50\r\n",
        "Anthropic-RateLimit-Requests-Remaining: 49\r\n",
        "anthropic-ratelimit-requests-reset: 2025-01-31T09:00:01Z\r\n",
        "anthropic-ratelimit-input-tokens-limit: 40000\r\n",
        "anthropic-ratelimit-input-tokens-remaining: 39000\r\n",
        "anthropic-ratelimit-input-tokens-reset: 2025-01-31T08:59:59Z",
        "anthropic-ratelimit-output-tokens-limit:8000",
        "anthropic-ratelimit-tokens-limit: 48000\r\n",
        "request-id: req_1\r\n",
        NULL};
    /* a reset in the past is now; what was not sent is -1 */
    static const struct want w[RB_N] = {[RB_REQ] = {50, 49, 1000},
                                        [RB_IN] = {40000, 39000, 0},
                                        [RB_OUT] = {8000, -1, -1},
                                        [RB_TOK] = {48000, -1, -1}};

    check(lines, 1738314000000LL, w);
    cr_assert_str_eq(ratehdr_bucket_name(RB_IN), "it");
}

Test(ratehdr, openai_headers)
{
    static const char *const lines[] = {
        "x-ratelimit-limit-requests: 5000\r\n",
        "x-ratelimit-remaining-requests: 4999\r\n",
        "x-ratelimit-reset-requests: 12ms\r\n",
        "x-ratelimit-limit-tokens: 2000000\r\n",
        "x-ratelimit-remaining-tokens: 1999000\r\n",
        "x-ratelimit-reset-tokens: 1m2.5s\r\n",
        NULL};
    static const struct want w[RB_N] = {[RB_REQ] = {5000, 4999, 12},
                                        [RB_IN] = {-1, -1, -1},
                                        [RB_OUT] = {-1, -1, -1},
                                        [RB_TOK] = {2000000, 1999000, 62500}};

    check(lines, 0, w);
}

Test(ratehdr, bad_values_are_ignored)
{
    struct ratehdr h;

    ratehdr_reset(&h);
    feed(&h, "x-ratelimit-limit-requests: lots\r\n", 0);
    feed(&h, "x-ratelimit-limit-tokens: -5\r\n", 0);
    feed(&h, "x-ratelimit-limit-tokens: 0\r\n", 0);
    feed(&h, "x-ratelimit-reset-tokens: soon\r\n", 0);
    feed(&h, "anthropic-ratelimit-requests-reset: yesterday\r\n", 0);
    feed(&h, "anthropic-ratelimit-requests-limit: 10 per minute\r\n", 0);
    feed(&h, "anthropic-ratelimit-requests-limit-extra: 10\r\n", 0);
    feed(&h, "x-ratelimit-limit-requests\r\n", 0);
    feed(&h, ": 10\r\n", 0);
    cr_assert_eq(h.any, 0);
    for (int b = 0; b < RB_N; b++) {
        cr_assert_eq(h.limit[b], -1);
        cr_assert_eq(h.reset_ms[b], -1);
    }
}
