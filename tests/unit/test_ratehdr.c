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
    static const char *const bad[] = {"", "s", "6", "6x", "-1s", "1s2",
                                      "ms", "1.2.3s", " 1s"};
    int64_t ms;

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        cr_assert_eq(ratehdr_go_duration_ms(ok[i].s, &ms), 0, "%s", ok[i].s);
        cr_assert_eq(ms, ok[i].ms, "%s: %lld", ok[i].s, (long long)ms);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(ratehdr_go_duration_ms(bad[i], &ms), -1, "'%s'", bad[i]);
}

Test(ratehdr, anthropic_headers)
{
    struct ratehdr h;
    /* 2025-01-31T09:00:00Z */
    long long now = 1738314000000LL;

    ratehdr_reset(&h);
    cr_assert_eq(h.any, 0);
    feed(&h, "anthropic-ratelimit-requests-limit: 50\r\n", now);
    feed(&h, "Anthropic-RateLimit-Requests-Remaining: 49\r\n", now);
    feed(&h, "anthropic-ratelimit-requests-reset: 2025-01-31T09:00:01Z\r\n",
         now);
    feed(&h, "anthropic-ratelimit-input-tokens-limit: 40000\r\n", now);
    feed(&h, "anthropic-ratelimit-input-tokens-remaining: 39000\r\n", now);
    feed(&h, "anthropic-ratelimit-input-tokens-reset: 2025-01-31T08:59:59Z",
         now);
    feed(&h, "anthropic-ratelimit-output-tokens-limit:8000", now);
    feed(&h, "anthropic-ratelimit-tokens-limit: 48000\r\n", now);
    feed(&h, "request-id: req_1\r\n", now);
    cr_assert_eq(h.any, 1);
    cr_assert_eq(h.limit[RB_REQ], 50);
    cr_assert_eq(h.remaining[RB_REQ], 49);
    cr_assert_eq(h.reset_ms[RB_REQ], 1000);
    cr_assert_eq(h.limit[RB_IN], 40000);
    cr_assert_eq(h.remaining[RB_IN], 39000);
    cr_assert_eq(h.reset_ms[RB_IN], 0, "a reset in the past is now");
    cr_assert_eq(h.limit[RB_OUT], 8000);
    cr_assert_eq(h.remaining[RB_OUT], -1, "not sent");
    cr_assert_eq(h.limit[RB_TOK], 48000);
    cr_assert_str_eq(ratehdr_bucket_name(RB_IN), "it");
}

Test(ratehdr, openai_headers)
{
    struct ratehdr h;

    ratehdr_reset(&h);
    feed(&h, "x-ratelimit-limit-requests: 5000\r\n", 0);
    feed(&h, "x-ratelimit-remaining-requests: 4999\r\n", 0);
    feed(&h, "x-ratelimit-reset-requests: 12ms\r\n", 0);
    feed(&h, "x-ratelimit-limit-tokens: 2000000\r\n", 0);
    feed(&h, "x-ratelimit-remaining-tokens: 1999000\r\n", 0);
    feed(&h, "x-ratelimit-reset-tokens: 1m2.5s\r\n", 0);
    cr_assert_eq(h.limit[RB_REQ], 5000);
    cr_assert_eq(h.remaining[RB_REQ], 4999);
    cr_assert_eq(h.reset_ms[RB_REQ], 12);
    cr_assert_eq(h.limit[RB_TOK], 2000000);
    cr_assert_eq(h.remaining[RB_TOK], 1999000);
    cr_assert_eq(h.reset_ms[RB_TOK], 62500);
    cr_assert_eq(h.limit[RB_IN], -1);
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
