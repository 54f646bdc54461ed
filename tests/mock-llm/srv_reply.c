/* genq-mockllm: response heads (status line, provider request-id and
 * rate-limit headers), plain and JSON responses, provider-shaped API
 * errors, and the delayed sending of a prepared response. */
#include "fmacros.h"

#include <math.h>
#include <time.h>

#include "mockapi.h"
#include "mockhttp.h"
#include "mocktext.h"
#include "srv.h"

static void
rfc3339(double t, char *buf, size_t size)
{
    /* the same second for every bucket and for all requests within it */
    static time_t last = (time_t)-1;
    static char text[40];
    time_t s = (time_t)t;
    struct tm tm;

    if (s != last) {
        last = s;
        if (gmtime_r(&s, &tm) == NULL ||
            strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
            snprintf(text, sizeof(text), "1970-01-01T00:00:00Z");
    }
    snprintf(buf, size, "%s", text);
}

static const char *
http_date(void)
{
    static char buf[64];
    static time_t last = (time_t)-1;
    time_t now = (time_t)ev_now(srv_loop);
    struct tm tm;

    if (now != last) {
        last = now;
        if (gmtime_r(&now, &tm) == NULL ||
            strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
            snprintf(buf, sizeof(buf), "Thu, 01 Jan 1970 00:00:00 GMT");
    }
    return buf;
}
/* ---- response heads ----------------------------------------------------- */

void
srv_rl_account(double now, size_t in_tokens, size_t out_tokens)
{
    if (now - srv_rl.start >= RL_WINDOW) {
        srv_rl.start = now;
        srv_rl.requests = 0;
        srv_rl.in_tokens = srv_rl.out_tokens = 0;
    }
    srv_rl.requests++;
    srv_rl.in_tokens += in_tokens;
    srv_rl.out_tokens += out_tokens;
}

static unsigned long long
left(unsigned long long limit, unsigned long long used, int round)
{
    unsigned long long v = used >= limit ? 0 : limit - used;

    return round ? (v + 500) / 1000 * 1000 : v;
}

/* secs as OpenAI's reset: a Go duration ("12ms", "6m0s", "1h2m3.5s"). */
static void
go_duration(double secs, char *buf, size_t size)
{
    long h, m;
    double sec;

    if (secs < 0)
        secs = 0;
    if (secs < 1) {
        snprintf(buf, size, "%dms", (int)ceil(secs * 1000));
        return;
    }
    h = (long)(secs / 3600);
    m = (long)((secs - (double)h * 3600) / 60);
    sec = secs - (double)h * 3600 - (double)m * 60;
    if (h > 0)
        snprintf(buf, size, "%ldh%ldm%.3gs", h, m, sec);
    else if (m > 0)
        snprintf(buf, size, "%ldm%.3gs", m, sec);
    else
        snprintf(buf, size, "%.3gs", sec);
}

int
srv_api_headers(struct mockbuf *b, enum mockapi_proto proto,
                const char *request_id, int limited)
{
    double now = ev_now(srv_loop), reset_at = srv_rl.start + RL_WINDOW;
    /* per bucket (SRV_LB_*): the window's figures, or the enforced
     * buckets' (srv_limit.c) where --limit-* set them */
    unsigned long long lim[SRV_LB_N], rem[SRV_LB_N];
    double reset[SRV_LB_N];
    int rc = 0, oai = proto != MOCKAPI_ANTHROPIC;

    if (limited)
        reset_at =
            now + (double)(srv_cfg.retry_after > 0 ? srv_cfg.retry_after : 1);
    lim[SRV_LB_REQ] = RL_REQUESTS; /* the same default for both APIs */
    rem[SRV_LB_REQ] = limited ? 0 : left(lim[SRV_LB_REQ], srv_rl.requests, 0);
    lim[SRV_LB_IN] = RL_IN_TOKENS;
    rem[SRV_LB_IN] = left(RL_IN_TOKENS, srv_rl.in_tokens, 1);
    lim[SRV_LB_OUT] = RL_OUT_TOKENS;
    rem[SRV_LB_OUT] = left(RL_OUT_TOKENS, srv_rl.out_tokens, 1);
    lim[SRV_LB_TOK] = oai ? OAI_RL_TOKENS : RL_IN_TOKENS + RL_OUT_TOKENS;
    rem[SRV_LB_TOK] =
        oai ? left(OAI_RL_TOKENS, srv_rl.in_tokens + srv_rl.out_tokens, 0)
            : (rem[SRV_LB_IN] < rem[SRV_LB_OUT] ? rem[SRV_LB_IN]
                                                : rem[SRV_LB_OUT]);
    for (int k = 0; k < SRV_LB_N; k++) {
        double full;
        reset[k] = reset_at;
        if (srv_limit_header(k, ev_time(), &lim[k], &rem[k], &full))
            reset[k] = now + full;
    }
    if (!oai) {
        char rs[SRV_LB_N][40];
        for (int k = 0; k < SRV_LB_N; k++)
            rfc3339(ceil(reset[k]), rs[k], sizeof(rs[k]));
        rc |= mockbuf_printf(
            b,
            "request-id: %s\r\n"
            "anthropic-organization-id: 00000000-0000-4000-8000-"
            "000000000000\r\n"
            "anthropic-ratelimit-requests-limit: %llu\r\n"
            "anthropic-ratelimit-requests-remaining: %llu\r\n"
            "anthropic-ratelimit-requests-reset: %s\r\n"
            "anthropic-ratelimit-tokens-limit: %llu\r\n"
            "anthropic-ratelimit-tokens-remaining: %llu\r\n"
            "anthropic-ratelimit-tokens-reset: %s\r\n"
            "anthropic-ratelimit-input-tokens-limit: %llu\r\n"
            "anthropic-ratelimit-input-tokens-remaining: %llu\r\n"
            "anthropic-ratelimit-input-tokens-reset: %s\r\n"
            "anthropic-ratelimit-output-tokens-limit: %llu\r\n"
            "anthropic-ratelimit-output-tokens-remaining: %llu\r\n"
            "anthropic-ratelimit-output-tokens-reset: %s\r\n",
            request_id, lim[SRV_LB_REQ], rem[SRV_LB_REQ], rs[SRV_LB_REQ],
            lim[SRV_LB_TOK], rem[SRV_LB_TOK], rs[SRV_LB_TOK], lim[SRV_LB_IN],
            rem[SRV_LB_IN], rs[SRV_LB_IN], lim[SRV_LB_OUT], rem[SRV_LB_OUT],
            rs[SRV_LB_OUT]);
    } else {
        char rq[64], rt[64];
        go_duration(reset[SRV_LB_REQ] - now, rq, sizeof(rq));
        go_duration(reset[SRV_LB_TOK] - now, rt, sizeof(rt));
        rc |= mockbuf_printf(b,
                             "x-request-id: %s\r\n"
                             "openai-processing-ms: %d\r\n"
                             "x-ratelimit-limit-requests: %llu\r\n"
                             "x-ratelimit-limit-tokens: %llu\r\n"
                             "x-ratelimit-remaining-requests: %llu\r\n"
                             "x-ratelimit-remaining-tokens: %llu\r\n"
                             "x-ratelimit-reset-requests: %s\r\n"
                             "x-ratelimit-reset-tokens: %s\r\n",
                             request_id, (int)srv_cfg.latency_ms,
                             lim[SRV_LB_REQ], lim[SRV_LB_TOK], rem[SRV_LB_REQ],
                             rem[SRV_LB_TOK], rq, rt);
    }
    return rc ? -1 : 0;
}

int
srv_head_open(struct mockbuf *b, struct conn *c, int status, const char *ctype,
              long long content_length)
{
    int rc = 0;

    rc |= mockbuf_printf(b,
                         "HTTP/1.1 %d %s\r\ndate: %s\r\n"
                         "server: genq-mockllm\r\ncontent-type: %s\r\n",
                         status, mockhttp_reason(status), http_date(), ctype);
    if (content_length < 0)
        rc |= mockbuf_puts(b, "transfer-encoding: chunked\r\n"
                              "cache-control: no-cache\r\n");
    else
        rc |= mockbuf_printf(b, "content-length: %lld\r\n", content_length);
    rc |= mockbuf_puts(b, c->keep_alive ? "connection: keep-alive\r\n"
                                        : "connection: close\r\n");
    return rc ? -1 : 0;
}

/* ---- building responses ------------------------------------------------- */

void
srv_simple_response(struct conn *c, enum endpoint ep, const cJSON *body,
                    int status, const char *ctype, const char *text, size_t len,
                    const char *extra)
{
    struct reqinfo ri = {ep, body, status, NULL, NULL, 0, 0, 0};

    if (srv_head_open(&c->out, c, status, ctype, (long long)len) < 0 ||
        (extra && mockbuf_puts(&c->out, extra) < 0) ||
        mockbuf_puts(&c->out, "\r\n") < 0 ||
        mockbuf_append(&c->out, text, len) < 0) {
        c->keep_alive = 0; /* OOM: give up on this connection */
        c->close_after = 1;
    }
    srv_count_and_log(c, &ri);
    srv_response_done(c);
}

void
srv_json_response(struct conn *c, enum endpoint ep, const cJSON *body,
                  int status, cJSON *doc)
{
    char *s = doc ? cJSON_PrintUnformatted(doc) : NULL;

    if (s == NULL) {
        srv_simple_response(c, ep, body, 500, "application/json",
                            "{\"error\":\"out of memory\"}", 25, NULL);
    } else {
        srv_simple_response(c, ep, body, status, "application/json", s,
                            strlen(s), NULL);
        cJSON_free(s);
    }
    cJSON_Delete(doc);
}

void
srv_pend_start(struct conn *c, double delay)
{
    c->state = C_DELAY;
    if (delay > 0)
        srv_timer_after(c, delay);
    else
        srv_pend_send(c);
}

void
srv_api_error(struct conn *c, enum mockapi_proto proto, const char *request_id,
              const struct mockapi_error *e, const struct mockapi_fault *f,
              struct reqinfo *ri, double delay)
{
    struct mockbuf body = {0};
    int rc = 0;

    rc |= mockapi_error_body(proto, e, request_id, &body);
    rc |= srv_head_open(&c->pend, c, e->status, "application/json",
                        (long long)body.len);
    rc |= srv_api_headers(&c->pend, proto, request_id, e->status == 429);
    if (f != NULL && f->retry_after) {
        rc |= mockbuf_printf(&c->pend, "retry-after: %ld\r\n",
                             srv_cfg.retry_after);
        if (srv_cfg.retry_after_ms >= 0)
            rc |= mockbuf_printf(&c->pend, "retry-after-ms: %ld\r\n",
                                 srv_cfg.retry_after_ms);
    }
    if (f != NULL && f->no_retry)
        rc |= mockbuf_puts(&c->pend, "x-should-retry: false\r\n");
    if (e->status == 401 && proto == MOCKAPI_OPENAI)
        rc |= mockbuf_puts(&c->pend, "www-authenticate: Bearer\r\n");
    rc |= mockbuf_puts(&c->pend, "\r\n");
    rc |= mockbuf_append(&c->pend, body.data ? body.data : "", body.len);
    mockbuf_free(&body);
    if (rc) {
        c->keep_alive = 0;
        c->close_after = 1;
    }
    ri->status = e->status;
    srv_count_and_log(c, ri);
    c->pend_cut = c->pend.len;
    c->after = AFTER_DONE;
    c->is_stream = 0;
    srv_pend_start(c, delay);
}

void
srv_pend_send(struct conn *c)
{
    if (mockbuf_append(&c->out, c->pend.data ? c->pend.data : "", c->pend_cut) <
        0) {
        c->keep_alive = 0;
        c->close_after = 1;
    }
    mockbuf_clear(&c->pend);
    if (c->is_stream) {
        c->state = C_STREAM;
        c->streaming = 1;
        srv_stats.active_streams++;
        if (srv_stats.active_streams > srv_stats.max_streams)
            srv_stats.max_streams = srv_stats.active_streams;
        c->t0 = ev_now(srv_loop);
        if (mockapi_sse_head(&c->gen, &c->scratch) < 0) {
            c->keep_alive = 0;
            c->close_after = 1;
        }
        srv_stream_pump(c);
        return;
    }
    switch (c->after) {
    case AFTER_DONE:
        srv_response_done(c);
        break;
    case AFTER_DROP:
        c->state = C_IDLE;
        c->keep_alive = 0;
        c->close_after = 1;
        break;
    case AFTER_STALL:
        c->state = C_STALL;
        srv_timer_after(c, srv_cfg.stall_s);
        break;
    }
}
