/* ratehdr: the rate-limit headers of an API response, parsed (pure: no
 * I/O, no allocation). Anthropic sends anthropic-ratelimit-{requests,
 * input-tokens,output-tokens,tokens}-{limit,remaining,reset} (reset an RFC
 * 3339 time); OpenAI x-ratelimit-{limit,remaining,reset}-{requests,tokens}
 * (reset a Go duration: "6m0s", "12ms", "1h2m3.5s"). The limiter
 * (limiter.c) learns the fleet's limits from them. */
#ifndef GENQ_RATEHDR_H
#define GENQ_RATEHDR_H

#include <stddef.h>
#include <stdint.h>

/* The metered quantities; their names in limiter.lua: r it ot t. */
enum rate_bucket { RB_REQ, RB_IN, RB_OUT, RB_TOK, RB_N };

struct ratehdr {
    long limit[RB_N];       /* per minute as sent; -1 = not sent */
    long remaining[RB_N];   /* -1 = not sent */
    int64_t reset_ms[RB_N]; /* ms from the response until full; -1 = none */
    int any;                /* some limit was sent */
};

/* limiter.lua's name of bucket b ("r", "it", "ot", "t"). */
const char *ratehdr_bucket_name(enum rate_bucket b);

/* Forget everything (a new response begins). Can't fail. */
void ratehdr_reset(struct ratehdr *h);

/* Feed one header line "Name: value" (CRLF optional; any case) of a
 * response received at now_ms (unix ms). Lines that are not rate-limit
 * headers, and values that do not parse, are ignored. */
void ratehdr_line(struct ratehdr *h, const char *line, size_t n,
                  int64_t now_ms);

/* Parse a Go duration ("6m0s", "12ms", "1h2m3.5s", "0s", "250us") into
 * whole ms (rounded up). Returns 0, or -1 when s is not one. */
int ratehdr_go_duration_ms(const char *s, int64_t *ms);

#endif
