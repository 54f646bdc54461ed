/* sse: incremental Server-Sent Events parser (WHATWG "event stream
 * interpretation"), used for both providers' streaming responses. */
#include "fmacros.h"

#include <errno.h>
#include <string.h>

#include "sse.h"

void
sse_init(struct sse_parser *p, sse_event_fn fn, void *ud,
         size_t max_event_bytes)
{
    p->fn = fn;
    p->ud = ud;
    buf_init(&p->line, max_event_bytes);
    buf_init(&p->data, max_event_bytes);
    buf_init(&p->event, max_event_bytes);
    p->after_cr = 0;
    p->started = 0;
    p->err = SSE_ERR_NONE;
    p->events = 0;
}

void
sse_free(struct sse_parser *p)
{
    if (p == NULL)
        return;
    buf_free(&p->line);
    buf_free(&p->data);
    buf_free(&p->event);
}

int
sse_pending(const struct sse_parser *p)
{
    return p->line.len > 0 || p->data.len > 0 || p->event.len > 0;
}

const char *
sse_strerror(int err)
{
    switch (err) {
    case SSE_ERR_NONE:
        return "no error";
    case SSE_ERR_STOPPED:
        return "stopped by the event callback";
    case SSE_ERR_TOO_BIG:
        return "event exceeds the size limit";
    case SSE_ERR_NOMEM:
        return "out of memory";
    }
    return "unknown error";
}

static int
fail_append(struct sse_parser *p)
{
    p->err = errno == EMSGSIZE ? SSE_ERR_TOO_BIG : SSE_ERR_NOMEM;
    return -1;
}

/* A blank line: dispatch when the data buffer is non-empty, then reset. */
static int
dispatch(struct sse_parser *p)
{
    int rc = 0;
    if (p->data.len > 0) {
        /* Remove the '\n' appended after the last data line. */
        p->data.len--;
        p->data.data[p->data.len] = '\0';
        p->events++;
        if (p->fn(p->ud, p->event.data ? p->event.data : "", p->event.len,
                  p->data.data, p->data.len) != 0) {
            p->err = SSE_ERR_STOPPED;
            rc = -1;
        }
    }
    buf_reset(&p->data);
    buf_reset(&p->event);
    return rc;
}

/* Interpret one complete line held in p->line (terminator removed). */
static int
process_line(struct sse_parser *p)
{
    const char *l = p->line.data ? p->line.data : "";
    size_t n = p->line.len;

    if (!p->started) {
        p->started = 1;
        /* A UTF-8 byte order mark at the start of the stream is skipped. */
        if (n >= 3 && memcmp(l, "\xEF\xBB\xBF", 3) == 0) {
            l += 3;
            n -= 3;
        }
    }
    if (n == 0)
        return dispatch(p);
    if (l[0] == ':')
        return 0; /* comment */

    const char *colon = memchr(l, ':', n);
    size_t flen = colon ? (size_t)(colon - l) : n;
    const char *val = colon ? colon + 1 : l + n;
    size_t vlen = colon ? n - flen - 1 : 0;
    if (vlen > 0 && val[0] == ' ') {
        val++;
        vlen--;
    }

    if (flen == 4 && memcmp(l, "data", 4) == 0) {
        if (buf_append(&p->data, val, vlen) != 0 ||
            buf_append(&p->data, "\n", 1) != 0)
            return fail_append(p);
    } else if (flen == 5 && memcmp(l, "event", 5) == 0) {
        buf_reset(&p->event);
        if (buf_append(&p->event, val, vlen) != 0)
            return fail_append(p);
    }
    /* id:, retry: and unknown fields are ignored. */
    return 0;
}

/* Scan for line terminators; bytes between them are copied into p->line so a
 * line may span any number of feeds. */
int
sse_feed(struct sse_parser *p, const char *buf, size_t len)
{
    size_t i = 0;

    if (p->err != SSE_ERR_NONE)
        return -1;
    while (i < len) {
        if (p->after_cr) {
            p->after_cr = 0;
            if (buf[i] == '\n') {
                i++;
                continue;
            }
        }
        size_t j = i;
        while (j < len && buf[j] != '\n' && buf[j] != '\r')
            j++;
        if (buf_append(&p->line, buf + i, j - i) != 0)
            return fail_append(p);
        if (j == len)
            break;
        p->after_cr = buf[j] == '\r';
        i = j + 1;
        int rc = process_line(p);
        buf_reset(&p->line);
        if (rc != 0)
            return -1;
    }
    return 0;
}
