/* sse: an incremental, loop-agnostic Server-Sent Events parser following the
 * WHATWG rules (llm-api.md §2). Feed it body bytes split anywhere. */
#ifndef GENQ_SSE_H
#define GENQ_SSE_H

#include <stddef.h>

#include "buf.h"

/* Called once per dispatched event. event is the event name ("" when no
 * event: field was given), data the data lines joined with '\n'; both are
 * NUL-terminated and borrowed: valid only during the call. Return nonzero to
 * stop parsing (sse_feed then returns -1 with err SSE_ERR_STOPPED). The
 * callback must not call sse_feed or sse_free on the same parser. */
typedef int (*sse_event_fn)(void *ud, const char *event, size_t event_len,
                            const char *data, size_t data_len);

enum sse_err {
    SSE_ERR_NONE = 0,
    SSE_ERR_STOPPED, /* the callback returned nonzero */
    SSE_ERR_TOO_BIG, /* a line or an event's data exceeded max_event_bytes */
    SSE_ERR_NOMEM    /* allocation failed */
};

struct sse_parser {
    sse_event_fn fn;
    void *ud;
    struct buf line;      /* a line split across feeds, so far (lines
                             within one feed are read in place) */
    struct buf data;      /* data buffer of the event being built */
    struct buf event;     /* event type buffer */
    int has_data;         /* a data: line was seen; p->data holds the lines
                             joined with '\n' (no '\n' after the last) */
    int after_cr;         /* last byte seen was CR: a following LF is skipped */
    int started;          /* first line processed (BOM check done) */
    int err;              /* enum sse_err; sticky once set */
    unsigned long events; /* events dispatched so far */
};

/* Initialise p to call fn(ud, ...) for each event. max_event_bytes caps one
 * line and one event's joined data (0 = no cap). Allocates nothing; this
 * function can't fail. Release with sse_free(). */
void sse_init(struct sse_parser *p, sse_event_fn fn, void *ud,
              size_t max_event_bytes);

/* Parse len bytes (buf may split lines, CRLF pairs and UTF-8 sequences
 * anywhere). Returns 0, or -1 when the callback stopped the parser or a
 * limit or allocation failed: p->err says which, and every later call
 * returns -1 at once. A trailing event without its blank line is held until
 * more bytes arrive; at end of stream it is discarded, as WHATWG says. */
int sse_feed(struct sse_parser *p, const char *buf, size_t len);

/* Whether bytes of an unfinished line or event are buffered (useful to tell
 * a clean end of stream from a cut one). */
int sse_pending(const struct sse_parser *p);

/* A short English description of p->err. */
const char *sse_strerror(int err);

/* Free the parser's buffers. Accepts NULL. */
void sse_free(struct sse_parser *p);

#endif
