/* genq-mockllm: streaming. Produces the SSE events of a streamed reply in
 * HTTP chunks, paced by --tokens-per-s, and injects mid-stream faults. */
#include "fmacros.h"

#include "mockapi.h"
#include "mockhttp.h"
#include "mocktext.h"
#include "srv.h"

/* Appends the scratch events as one HTTP chunk to out. */
static int
emit_chunk(struct conn *c)
{
    char hex[2 * sizeof(size_t) + 2];
    size_t v = c->scratch.len, h = sizeof(hex);
    int rc = 0;

    if (c->scratch.len == 0)
        return 0;
    /* the chunk-size line ("%zx\r\n") without a printf per event */
    hex[--h] = '\n';
    hex[--h] = '\r';
    do {
        hex[--h] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v > 0);
    rc |= mockbuf_append(&c->out, hex + h, sizeof(hex) - h);
    rc |= mockbuf_append(&c->out, c->scratch.data, c->scratch.len);
    rc |= mockbuf_puts(&c->out, "\r\n");
    mockbuf_clear(&c->scratch);
    return rc ? -1 : 0;
}

/* --gate-streams: 1 while the gate holds c (then it looks again in
 * 50 ms, its delta clock restarting when it opens), 0 once open. */
static int
gate_holds(struct conn *c, double now)
{
    static double first; /* when the first stream was held; 0 = not yet */
    static int open;

    if (srv_cfg.gate_streams <= 0 || open)
        return 0;
    if (first == 0)
        first = now;
    if (srv_stats.active_streams >= srv_cfg.gate_streams ||
        now - first > GATE_TIMEOUT_S) {
        open = 1;
        return 0;
    }
    c->t0 = now;
    srv_timer_after(c, 0.05);
    return 1;
}

void
srv_stream_pump(struct conn *c)
{
    double now = ev_now(srv_loop);
    int rc = 0;

    c->waiting = 0;
    if (gate_holds(c, now))
        return;
    for (;;) {
        if (c->fault != NULL && !c->fault_done &&
            c->next_delta == c->fault_at) {
            c->fault_done = 1;
            switch (c->fault->cls) {
            case MOCKAPI_FAULT_STREAM_ERR:
                rc |= mockapi_sse_error(&c->gen, &c->scratch);
                rc |= emit_chunk(c);
                rc |= mockbuf_puts(&c->out, "0\r\n\r\n");
                srv_response_done(c);
                goto out;
            case MOCKAPI_FAULT_DROP:
                rc |= emit_chunk(c);
                srv_stream_end_count(c);
                c->state = C_IDLE;
                c->keep_alive = 0;
                c->close_after = 1;
                goto out;
            case MOCKAPI_FAULT_STALL:
                rc |= emit_chunk(c);
                c->state = C_STALL;
                srv_timer_after(c, srv_cfg.stall_s);
                goto out;
            case MOCKAPI_FAULT_MALFORMED:
                if (c->next_delta < c->ndeltas) {
                    rc |= mockapi_sse_malformed(&c->gen, c->chunk,
                                                c->next_delta, &c->scratch);
                    c->next_delta++;
                } else {
                    rc |= mockbuf_puts(&c->scratch, "data: {\"type\":\n\n");
                }
                continue;
            case MOCKAPI_FAULT_STATUS:
                break;
            }
        }
        if (c->next_delta >= c->ndeltas) {
            rc |= mockapi_sse_tail(&c->gen, &c->scratch);
            rc |= emit_chunk(c);
            rc |= mockbuf_puts(&c->out, "0\r\n\r\n");
            srv_response_done(c);
            goto out;
        }
        if (c->interval > 0) {
            double due = c->t0 + (double)(c->next_delta + 1) * c->interval;
            if (due > now) {
                srv_timer_after(c, due - now);
                break;
            }
        }
        if (c->out.len - c->out.off + c->scratch.len > OUT_HIGH) {
            if (c->interval > 0)
                srv_timer_after(c, c->interval);
            else
                c->waiting = 1;
            break;
        }
        rc |= mockapi_sse_delta(&c->gen, c->chunk, c->next_delta, &c->scratch);
        c->next_delta++;
    }
    rc |= emit_chunk(c);
out:
    if (rc) {
        c->keep_alive = 0;
        c->close_after = 1;
    }
}
