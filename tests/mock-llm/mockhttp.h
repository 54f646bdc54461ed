/* Mock LLM server: growable byte buffers and an incremental HTTP/1.1 request
 * parser (Content-Length and chunked bodies, Expect: 100-continue). No I/O
 * and no libev: the server feeds bytes in and writes bytes out. */
#ifndef GENQ_MOCKHTTP_H
#define GENQ_MOCKHTTP_H

#include <stddef.h>

#include "buf.h"

#define MOCKHTTP_MAX_HEAD    (64 * 1024) /* request line + headers */
#define MOCKHTTP_MAX_HEADERS 100
#define MOCKHTTP_MAX_BODY    (32 * 1024 * 1024) /* larger bodies get 413 */

/* A byte buffer with a read position: common/buf.h's struct buf (never
 * capped here), whose fields are also reachable by name (data, len, cap),
 * plus off: data[off..len) is the unconsumed part. Zero-initialise. */
struct mockbuf {
    union {
        struct buf buf;
        struct { /* the same fields as struct buf */
            char *data;
            size_t len;
            size_t cap;
            size_t max; /* 0: no cap */
        };
    };
    size_t off;
};

/* Makes room for `more` bytes after len. Returns 0, or -1 on allocation
 * failure (the buffer is unchanged). */
int mockbuf_reserve(struct mockbuf *b, size_t more);

/* Appends n bytes. Returns 0, or -1 on allocation failure (unchanged). */
int mockbuf_append(struct mockbuf *b, const void *p, size_t n);

/* Appends a NUL-terminated string. Returns 0 or -1 as mockbuf_append. */
int mockbuf_puts(struct mockbuf *b, const char *s);

/* Appends printf-formatted text. Returns 0, or -1 on allocation or format
 * failure (the buffer content past the old len is unspecified). */
int mockbuf_printf(struct mockbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends s[0..n) as a JSON string literal with quotes, escaping '"', '\\'
 * and control characters; bytes >= 0x80 are copied as they are.
 * Returns 0 or -1 on allocation failure. */
int mockbuf_json_str(struct mockbuf *b, const char *s, size_t n);

/* Marks n bytes at off as consumed, compacting when worthwhile. Cannot
 * fail. */
void mockbuf_consume(struct mockbuf *b, size_t n);

/* Empties the buffer but keeps its memory. Cannot fail. */
void mockbuf_clear(struct mockbuf *b);

/* Releases the memory; accepts an already freed/zeroed buffer. */
void mockbuf_free(struct mockbuf *b);

/* One header: name lowercased; both point into the request's head copy. */
struct mockhttp_header {
    const char *name;
    const char *value;
};

enum mockhttp_state {
    MOCKHTTP_S_HEAD,
    MOCKHTTP_S_BODY,       /* Content-Length body */
    MOCKHTTP_S_CHUNK_SIZE, /* chunked: expecting a size line */
    MOCKHTTP_S_CHUNK_DATA,
    MOCKHTTP_S_CHUNK_CRLF,
    MOCKHTTP_S_TRAILER,
    MOCKHTTP_S_DONE
};

/* Parser and parsed request. Zero-initialise, then call mockhttp_reset()
 * between requests and mockhttp_free() at the end. */
struct mockhttp_req {
    enum mockhttp_state state;
    size_t scan;        /* head bytes already scanned for the blank line */
    char *head;         /* NUL-separated copy of the request head */
    const char *method; /* into head */
    const char *target; /* into head: path and query */
    int http_minor;     /* 0 for HTTP/1.0, 1 for HTTP/1.1 */
    struct mockhttp_header headers[MOCKHTTP_MAX_HEADERS];
    size_t nheaders;
    int keep_alive;      /* after this request */
    int expect_continue; /* client sent Expect: 100-continue */
    int chunked;
    size_t content_length; /* when not chunked */
    size_t chunk_left;
    struct mockbuf body; /* decoded body, NUL-terminated when DONE */
    int err_status;      /* HTTP status to answer with on error */
    const char *err_msg; /* static text explaining err_status */
};

enum mockhttp_result {
    MOCKHTTP_AGAIN = 0, /* need more bytes */
    MOCKHTTP_DONE = 1,  /* request complete */
    MOCKHTTP_ERROR = -1 /* bad request: see err_status, err_msg */
};

/* Feeds data[0..len); *used gets the number of bytes consumed (the rest
 * belongs to the next request or needs more data). Returns MOCKHTTP_DONE when
 * the request is complete, MOCKHTTP_AGAIN when more bytes are needed (after
 * the head is parsed, `method` etc. are valid), MOCKHTTP_ERROR on a
 * malformed or oversized request (400, 413, 431, 501, 505) or allocation
 * failure (500). After an error the connection should be closed. */
enum mockhttp_result mockhttp_parse(struct mockhttp_req *r, const char *data,
                                    size_t len, size_t *used);

/* Value of the first header with this lowercase name, or NULL. */
const char *mockhttp_header(const struct mockhttp_req *r, const char *name);

/* Readies the parser for the next request on the connection; keeps the body
 * buffer's memory. Cannot fail. */
void mockhttp_reset(struct mockhttp_req *r);

/* Releases everything the request owns; the struct can be reused after
 * mockhttp_reset(). Accepts a zeroed struct. */
void mockhttp_free(struct mockhttp_req *r);

/* Reason phrase of an HTTP status ("Unknown" if not known). */
const char *mockhttp_reason(int status);

#endif
