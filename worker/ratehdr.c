/* ratehdr: parsing the providers' rate-limit response headers (Anthropic's
 * and OpenAI's names and formats) into limits, remaining amounts and reset
 * times, for the limiter to learn from. Pure functions. */
#include "fmacros.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ratehdr.h"
#include "timefmt.h"

const char *
ratehdr_bucket_name(enum rate_bucket b)
{
    static const char *const names[RB_N] = {"r", "it", "ot", "t"};

    return (unsigned)b < RB_N ? names[b] : "?";
}

void
ratehdr_reset(struct ratehdr *h)
{
    for (int b = 0; b < RB_N; b++) {
        h->limit[b] = h->remaining[b] = -1;
        h->reset_ms[b] = -1;
    }
    h->any = 0;
}

int
ratehdr_go_duration_ms(const char *s, int64_t *ms)
{
    static const struct {
        const char *u;
        double ms;
    } units[] = {{"ns", 1e-6}, {"us", 1e-3}, {"\xc2\xb5s", 1e-3}, {"ms", 1.0},
                 {"s", 1e3},   {"m", 60e3},  {"h", 3600e3}};
    double total = 0;
    int parts = 0;

    if (!strcmp(s, "0")) {
        *ms = 0;
        return 0;
    }
    while (*s) {
        char *end;
        double v;
        size_t k, best = 0, bi = 0;

        if (!((*s >= '0' && *s <= '9') || *s == '.'))
            return -1;
        v = strtod(s, &end);
        if (end == s || v < 0)
            return -1;
        s = end;
        /* the longest unit that matches ("ms" before "m") */
        for (k = 0; k < sizeof(units) / sizeof(units[0]); k++) {
            size_t n = strlen(units[k].u);
            if (n > best && !strncmp(s, units[k].u, n)) {
                best = n;
                bi = k;
            }
        }
        if (best == 0)
            return -1;
        total += v * units[bi].ms;
        s += best;
        parts++;
    }
    if (parts == 0 || total > 9e15)
        return -1;
    *ms = (int64_t)ceil(total - 1e-9);
    return 0;
}

/* A whole number >= 0, or -1. */
static long
parse_count(const char *v)
{
    char *end;
    double d;

    if (!(*v >= '0' && *v <= '9'))
        return -1;
    d = strtod(v, &end);
    if (end == v || *end != '\0' || d > 4e18)
        return -1;
    return (long)d;
}

void
ratehdr_line(struct ratehdr *h, const char *line, size_t n, int64_t now_ms)
{
#define H(name, b, field, go)                                                  \
    {                                                                          \
        name, sizeof(name) - 1, b, field, go                                   \
    }
    static const struct {
        const char *name;
        size_t len; /* strlen(name) */
        enum rate_bucket b;
        int field; /* 0 limit, 1 remaining, 2 reset */
        int go;    /* reset as a Go duration (OpenAI), else RFC 3339 */
    } map[] = {
        H("anthropic-ratelimit-requests-limit", RB_REQ, 0, 0),
        H("anthropic-ratelimit-requests-remaining", RB_REQ, 1, 0),
        H("anthropic-ratelimit-requests-reset", RB_REQ, 2, 0),
        H("anthropic-ratelimit-input-tokens-limit", RB_IN, 0, 0),
        H("anthropic-ratelimit-input-tokens-remaining", RB_IN, 1, 0),
        H("anthropic-ratelimit-input-tokens-reset", RB_IN, 2, 0),
        H("anthropic-ratelimit-output-tokens-limit", RB_OUT, 0, 0),
        H("anthropic-ratelimit-output-tokens-remaining", RB_OUT, 1, 0),
        H("anthropic-ratelimit-output-tokens-reset", RB_OUT, 2, 0),
        H("anthropic-ratelimit-tokens-limit", RB_TOK, 0, 0),
        H("anthropic-ratelimit-tokens-remaining", RB_TOK, 1, 0),
        H("anthropic-ratelimit-tokens-reset", RB_TOK, 2, 0),
        H("x-ratelimit-limit-requests", RB_REQ, 0, 1),
        H("x-ratelimit-remaining-requests", RB_REQ, 1, 1),
        H("x-ratelimit-reset-requests", RB_REQ, 2, 1),
        H("x-ratelimit-limit-tokens", RB_TOK, 0, 1),
        H("x-ratelimit-remaining-tokens", RB_TOK, 1, 1),
        H("x-ratelimit-reset-tokens", RB_TOK, 2, 1),
    };
#undef H
    const char *colon = memchr(line, ':', n);
    char val[96];
    size_t k, vlen;

    if (!colon || colon == line)
        return;
    k = (size_t)(colon - line);
    /* most lines of a response are none of these: the shortest name is
     * 24 bytes, and each starts with "anthropic-" or "x-" */
    if (k < 24 || ((line[0] | 0x20) != 'a' && (line[0] | 0x20) != 'x'))
        return;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        const char *v;
        if (map[i].len != k || strncasecmp(line, map[i].name, k))
            continue;
        v = colon + 1;
        vlen = n - k - 1;
        while (vlen > 0 && (*v == ' ' || *v == '\t')) {
            v++;
            vlen--;
        }
        while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' ||
                            v[vlen - 1] == ' '))
            vlen--;
        if (vlen == 0 || vlen >= sizeof(val))
            return;
        memcpy(val, v, vlen);
        val[vlen] = '\0';
        if (map[i].field == 0) {
            long l = parse_count(val);
            if (l > 0) {
                h->limit[map[i].b] = l;
                h->any = 1;
            }
        } else if (map[i].field == 1) {
            h->remaining[map[i].b] = parse_count(val);
        } else {
            int64_t t;
            if (map[i].go ? ratehdr_go_duration_ms(val, &t) == 0
                          : timefmt_rfc3339_parse(val, &t) == 0) {
                if (!map[i].go)
                    t = t > now_ms ? t - now_ms : 0;
                h->reset_ms[map[i].b] = t;
            }
        }
        return;
    }
}
