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
    p->has_data = 0;
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
    return p->line.len > 0 || p->has_data || p->event.len > 0;
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

/* buf_append(), inline while there is room: a stream's buffers reach their
 * size within its first few events, and every line ends up here. */
static inline int
append(struct buf *b, const char *s, size_t n)
{
    if (b->data != NULL && n < b->cap - b->len &&
        (b->max == 0 || n <= b->max - b->len)) {
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
    }
    return buf_append(b, s, n);
}

/* buf_reset() of a buffer that holds data, inline. */
static inline void
reset(struct buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

/* A blank line: dispatch when a data line was seen, then reset. */
static int
dispatch(struct sse_parser *p)
{
    int rc = 0;
    if (p->has_data) {
        p->events++;
        if (p->fn(p->ud, p->event.data ? p->event.data : "", p->event.len,
                  p->data.data ? p->data.data : "", p->data.len) != 0) {
            p->err = SSE_ERR_STOPPED;
            rc = -1;
        }
        p->has_data = 0;
        if (p->data.len > 0)
            reset(&p->data);
    }
    if (p->event.len > 0)
        reset(&p->event);
    return rc;
}

/* Append a data line's value. WHATWG appends the value and a '\n', and
 * strips the last '\n' at dispatch; the '\n' is added here before every line
 * but the first instead, and the cap still counts one '\n' per line. */
static int
add_data(struct sse_parser *p, const char *val, size_t vlen)
{
    size_t nl = p->has_data ? 1 : 0;

    if (p->data.max != 0 && p->data.len + nl + vlen + 1 > p->data.max) {
        p->err = SSE_ERR_TOO_BIG;
        return -1;
    }
    if ((nl && append(&p->data, "\n", 1) != 0) ||
        append(&p->data, val, vlen) != 0)
        return fail_append(p);
    p->has_data = 1;
    return 0;
}

/* Interpret one complete line l[0..n) (terminator removed). */
static int
process_line(struct sse_parser *p, const char *l, size_t n)
{
    const char *val;
    size_t vlen;
    int field; /* 'd' data, 'e' event, 0 ignored */

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

    if (n >= 5 && memcmp(l, "data:", 5) == 0) {
        field = 'd';
        val = l + 5;
        vlen = n - 5;
    } else if (n >= 6 && memcmp(l, "event:", 6) == 0) {
        field = 'e';
        val = l + 6;
        vlen = n - 6;
    } else {
        const char *colon = memchr(l, ':', n);
        size_t flen = colon ? (size_t)(colon - l) : n;
        val = colon ? colon + 1 : l + n;
        vlen = colon ? n - flen - 1 : 0;
        field = flen == 4 && memcmp(l, "data", 4) == 0    ? 'd'
                : flen == 5 && memcmp(l, "event", 5) == 0 ? 'e'
                                                          : 0;
    }
    if (vlen > 0 && val[0] == ' ') {
        val++;
        vlen--;
    }
    if (field == 'd')
        return add_data(p, val, vlen);
    if (field == 'e') {
        if (p->event.len > 0)
            reset(&p->event);
        if (append(&p->event, val, vlen) != 0)
            return fail_append(p);
    }
    /* id:, retry: and unknown fields are ignored. */
    return 0;
}

/* The usual event, "event: NAME\ndata: DATA\n\n" or "data: DATA\n\n",
 * whole in s[0..end) with LF line ends (cr: the next CR, or end) and
 * starting between two events: dispatched in one step, as process_line
 * would, line by line. Returns the position after its blank line and the
 * dispatch result in *rc, or NULL, having done nothing, for anything else
 * (any limit exceeded included: the line-by-line path reports it). */
static const char *
feed_event(struct sse_parser *p, const char *s, const char *end, const char *cr,
           int *rc)
{
    const char *name = NULL, *data, *nl;
    size_t nlen = 0, dlen, max = p->line.max;

    if (end - s > 7 && memcmp(s, "event: ", 7) == 0) {
        name = s + 7;
        nl = memchr(name, '\n', (size_t)(cr - name));
        if (nl == NULL)
            return NULL;
        nlen = (size_t)(nl - name);
        s = nl + 1;
    }
    if (end - s < 6 || memcmp(s, "data: ", 6) != 0)
        return NULL;
    data = s + 6;
    nl = memchr(data, '\n', (size_t)(cr - data));
    if (nl == NULL || nl + 1 == cr || nl[1] != '\n')
        return NULL;
    dlen = (size_t)(nl - data);
    /* the event line, the data line, then the data and its '\n' */
    if (max != 0 && (nlen + 7 > max || dlen + 7 > max))
        return NULL;
    if ((name != NULL && append(&p->event, name, nlen) != 0) ||
        append(&p->data, data, dlen) != 0) {
        *rc = fail_append(p);
        return nl + 2;
    }
    p->has_data = 1;
    *rc = dispatch(p);
    return nl + 2;
}

/* A line that ends inside buf is interpreted in place; only a line split
 * across feeds is gathered in p->line, whose memory (like that of p->data
 * and p->event) is kept from event to event: after its first few events a
 * stream allocates nothing. CR is rare, so it is searched for once per feed
 * (and again only after one was passed), LF once per line; both with memchr,
 * which is vectorised where a byte loop is not. */
int
sse_feed(struct sse_parser *p, const char *buf, size_t len)
{
    const char *s = buf, *end = buf + len;
    const char *cr = NULL; /* the next CR at or after s; end: none */

    if (p->err != SSE_ERR_NONE)
        return -1;
    while (s < end) {
        if (p->after_cr) {
            p->after_cr = 0;
            if (*s == '\n') {
                s++;
                if (s == end)
                    break;
            }
        }
        if (cr == NULL || cr < s) {
            cr = memchr(s, '\r', (size_t)(end - s));
            if (cr == NULL)
                cr = end;
        }
        if (p->line.len == 0 && !p->has_data && p->event.len == 0 &&
            p->started) {
            int rc;
            const char *next = feed_event(p, s, end, cr, &rc);
            if (next != NULL) {
                if (rc != 0)
                    return -1;
                s = next;
                continue;
            }
        }
        const char *eol = *s == '\n' ? s : memchr(s, '\n', (size_t)(cr - s));
        if (eol == NULL)
            eol = cr;
        size_t n = (size_t)(eol - s);
        int rc;
        if (eol == end || p->line.len > 0) {
            /* The same cap as in place: max_event_bytes per line. */
            if (append(&p->line, s, n) != 0)
                return fail_append(p);
            if (eol == end)
                break;
            rc = process_line(p, p->line.data, p->line.len);
            reset(&p->line);
        } else {
            if (p->line.max != 0 && n > p->line.max) {
                p->err = SSE_ERR_TOO_BIG;
                return -1;
            }
            /* a third of the lines are the blank ones that end events */
            rc = n == 0 && p->started ? dispatch(p) : process_line(p, s, n);
        }
        p->after_cr = *eol == '\r';
        s = eol + 1;
        if (rc != 0)
            return -1;
    }
    return 0;
}
