/* Mock LLM server: byte buffers and the incremental HTTP/1.1 request parser.
 * The parser copies the head once it is complete and decodes the body into
 * its own buffer, so the caller may consume its input bytes right away. */
#include "fmacros.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jsonw.h"
#include "mockhttp.h"

int
mockbuf_reserve(struct mockbuf *b, size_t more)
{
    size_t need, cap;
    char *p;

    if (b->off > 0 && b->off == b->len) {
        b->off = 0;
        b->len = 0;
    }
    if (more > SIZE_MAX - b->len - 1)
        return -1;
    need = b->len + more + 1; /* +1 keeps room for a terminating NUL */
    if (need <= b->cap)
        return 0;
    /* Reclaim consumed space before growing. */
    if (b->off > 0 && need - b->off <= b->cap) {
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        return 0;
    }
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    p = realloc(b->data, cap);
    if (p == NULL)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int
mockbuf_append(struct mockbuf *b, const void *p, size_t n)
{
    /* reserve compacts the consumed part; buf_append then has the room */
    if (mockbuf_reserve(b, n) < 0)
        return -1;
    b->data[b->len] = '\0'; /* terminated even when n is 0 */
    return buf_append(&b->buf, p, n);
}

int
mockbuf_puts(struct mockbuf *b, const char *s)
{
    return mockbuf_append(b, s, strlen(s));
}

int
mockbuf_printf(struct mockbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (mockbuf_reserve(b, 128) < 0)
        return -1;
    va_start(ap, fmt);
    n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n >= b->cap - b->len) {
        if (mockbuf_reserve(b, (size_t)n + 1) < 0)
            return -1;
        va_start(ap, fmt);
        n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t)n >= b->cap - b->len)
            return -1;
    }
    b->len += (size_t)n;
    return 0;
}

int
mockbuf_json_str(struct mockbuf *b, const char *s, size_t n)
{
    /* reserve compacts the consumed part; common/jsonw.c writes the string */
    if (n > SIZE_MAX - 2 || mockbuf_reserve(b, n + 2) < 0)
        return -1;
    return jsonw_str(&b->buf, s, n);
}

void
mockbuf_consume(struct mockbuf *b, size_t n)
{
    if (n > b->len - b->off)
        n = b->len - b->off;
    b->off += n;
    if (b->off == b->len) {
        b->off = 0;
        b->len = 0;
    } else if (b->off > 65536 && b->off > (b->len - b->off)) {
        /* Compact when the dead prefix dominates: amortised O(1). */
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
    }
}

void
mockbuf_clear(struct mockbuf *b)
{
    b->len = 0;
    b->off = 0;
}

void
mockbuf_free(struct mockbuf *b)
{
    buf_free(&b->buf);
    b->off = 0;
}

const char *
mockhttp_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 402:
        return "Payment Required";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    case 529:
        return "Overloaded";
    default:
        return "Unknown";
    }
}

static enum mockhttp_result
fail(struct mockhttp_req *r, int status, const char *msg)
{
    r->err_status = status;
    r->err_msg = msg;
    r->keep_alive = 0;
    return MOCKHTTP_ERROR;
}

static char *
trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        *--e = '\0';
    return s;
}

/* Case-insensitive search for a comma-separated token in a header value. */
static int
has_token(const char *value, const char *token)
{
    size_t tl = strlen(token);
    const char *p = value;

    while (*p) {
        const char *e;
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        e = p;
        while (*e && *e != ',')
            e++;
        {
            const char *t = e;
            while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
                t--;
            if ((size_t)(t - p) == tl && strncasecmp(p, token, tl) == 0)
                return 1;
        }
        p = e;
    }
    return 0;
}

/* Parses the copied head (NUL-terminated, lines end in \n or \r\n). */
static enum mockhttp_result
parse_head(struct mockhttp_req *r)
{
    char *line = r->head, *next, *sp1, *sp2, *version;
    const char *v;
    int first = 1;

    r->nheaders = 0;
    for (; *line; line = next) {
        char *nl = strchr(line, '\n'), *colon, *p;
        if (nl == NULL)
            return fail(r, 400, "unterminated header line");
        next = nl + 1;
        *nl = '\0';
        if (nl > line && nl[-1] == '\r')
            nl[-1] = '\0';
        if (*line == '\0')
            break;
        if (first) {
            first = 0;
            sp1 = strchr(line, ' ');
            if (sp1 == NULL)
                return fail(r, 400, "malformed request line");
            *sp1 = '\0';
            sp2 = strchr(sp1 + 1, ' ');
            if (sp2 == NULL)
                return fail(r, 400, "malformed request line");
            *sp2 = '\0';
            version = sp2 + 1;
            r->method = line;
            r->target = sp1 + 1;
            if (*r->method == '\0' || *r->target == '\0')
                return fail(r, 400, "malformed request line");
            if (strcmp(version, "HTTP/1.1") == 0)
                r->http_minor = 1;
            else if (strcmp(version, "HTTP/1.0") == 0)
                r->http_minor = 0;
            else if (strncmp(version, "HTTP/", 5) == 0)
                return fail(r, 505, "unsupported HTTP version");
            else
                return fail(r, 400, "malformed request line");
            continue;
        }
        if (*line == ' ' || *line == '\t')
            return fail(r, 400, "obsolete header line folding");
        colon = strchr(line, ':');
        if (colon == NULL || colon == line)
            return fail(r, 400, "malformed header line");
        *colon = '\0';
        for (p = line; *p; p++) {
            if (*p == ' ' || *p == '\t')
                return fail(r, 400, "whitespace in header name");
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        }
        if (r->nheaders == MOCKHTTP_MAX_HEADERS)
            return fail(r, 431, "too many headers");
        r->headers[r->nheaders].name = line;
        r->headers[r->nheaders].value = trim(colon + 1);
        r->nheaders++;
    }
    if (first)
        return fail(r, 400, "empty request");

    r->keep_alive = r->http_minor == 1;
    v = mockhttp_header(r, "connection");
    if (v != NULL) {
        if (has_token(v, "close"))
            r->keep_alive = 0;
        else if (has_token(v, "keep-alive"))
            r->keep_alive = 1;
    }
    v = mockhttp_header(r, "expect");
    if (v != NULL) {
        if (strcasecmp(v, "100-continue") != 0)
            return fail(r, 417, "unsupported Expect value");
        r->expect_continue = r->http_minor == 1;
    }
    v = mockhttp_header(r, "transfer-encoding");
    if (v != NULL) {
        /* Only "chunked" (possibly listed alone) is supported. */
        if (strcasecmp(v, "chunked") != 0)
            return fail(r, 501, "unsupported transfer-encoding");
        r->chunked = 1;
        r->state = MOCKHTTP_S_CHUNK_SIZE;
        return MOCKHTTP_AGAIN;
    }
    v = mockhttp_header(r, "content-length");
    r->content_length = 0;
    if (v != NULL) {
        unsigned long long n = 0;
        const char *p = v;
        if (*p == '\0')
            return fail(r, 400, "bad content-length");
        for (; *p; p++) {
            if (*p < '0' || *p > '9')
                return fail(r, 400, "bad content-length");
            n = n * 10 + (unsigned long long)(*p - '0');
            if (n > MOCKHTTP_MAX_BODY)
                return fail(r, 413, "request body too large");
        }
        r->content_length = (size_t)n;
    }
    r->state = MOCKHTTP_S_BODY;
    return MOCKHTTP_AGAIN;
}

/* Finds the end of the head (just past the blank line) in data[0..len);
 * returns 0 when not there yet, remembering where to resume. */
static size_t
find_head_end(struct mockhttp_req *r, const char *data, size_t len)
{
    size_t i = r->scan;

    for (;;) {
        const char *nl = i < len ? memchr(data + i, '\n', len - i) : NULL;
        if (nl == NULL) {
            r->scan = len > 0 ? len - 1 : 0;
            return 0;
        }
        i = (size_t)(nl - data);
        if (i + 1 >= len || (data[i + 1] == '\r' && i + 2 >= len)) {
            r->scan = i;
            return 0;
        }
        if (data[i + 1] == '\n')
            return i + 2;
        if (data[i + 1] == '\r' && data[i + 2] == '\n')
            return i + 3;
        i++;
    }
}

enum mockhttp_result
mockhttp_parse(struct mockhttp_req *r, const char *data, size_t len,
               size_t *used)
{
    size_t pos = 0;

    *used = 0;
    while (r->state != MOCKHTTP_S_DONE) {
        switch (r->state) {
        case MOCKHTTP_S_HEAD: {
            size_t end;
            enum mockhttp_result res;
            /* Tolerate stray CRLFs between pipelined requests. */
            while (r->scan == 0 && pos < len &&
                   (data[pos] == '\r' || data[pos] == '\n'))
                pos++;
            *used = pos;
            end = find_head_end(r, data + pos, len - pos);
            if (end == 0) {
                if (len - pos > MOCKHTTP_MAX_HEAD)
                    return fail(r, 431, "request head too large");
                return MOCKHTTP_AGAIN;
            }
            if (end > MOCKHTTP_MAX_HEAD)
                return fail(r, 431, "request head too large");
            free(r->head);
            r->head = malloc(end + 1);
            if (r->head == NULL)
                return fail(r, 500, "out of memory");
            memcpy(r->head, data + pos, end);
            r->head[end] = '\0';
            pos += end;
            *used = pos;
            res = parse_head(r);
            if (res == MOCKHTTP_ERROR)
                return res;
            /* Preallocate, but do not trust a huge claim up front. */
            if (!r->chunked && r->content_length > 0 &&
                mockbuf_reserve(&r->body, r->content_length < 1048576
                                              ? r->content_length
                                              : 1048576) < 0)
                return fail(r, 500, "out of memory");
            break;
        }
        case MOCKHTTP_S_BODY: {
            size_t have = r->body.len, take = r->content_length - have;
            if (take > len - pos)
                take = len - pos;
            if (mockbuf_append(&r->body, data + pos, take) < 0)
                return fail(r, 500, "out of memory");
            pos += take;
            *used = pos;
            if (r->body.len < r->content_length)
                return MOCKHTTP_AGAIN;
            r->state = MOCKHTTP_S_DONE;
            break;
        }
        case MOCKHTTP_S_CHUNK_SIZE:
        case MOCKHTTP_S_TRAILER: {
            const char *nl = memchr(data + pos, '\n', len - pos);
            size_t ll;
            if (nl == NULL) {
                if (len - pos > 4096)
                    return fail(r, 400, "chunk line too long");
                return MOCKHTTP_AGAIN;
            }
            ll = (size_t)(nl - (data + pos));
            if (ll > 0 && data[pos + ll - 1] == '\r')
                ll--;
            if (r->state == MOCKHTTP_S_TRAILER) {
                pos = (size_t)(nl - data) + 1;
                *used = pos;
                if (ll == 0)
                    r->state = MOCKHTTP_S_DONE;
                break;
            } else {
                size_t n = 0, i, digits = 0;
                for (i = 0; i < ll; i++) {
                    char c = data[pos + i];
                    int d;
                    if (c >= '0' && c <= '9')
                        d = c - '0';
                    else if (c >= 'a' && c <= 'f')
                        d = c - 'a' + 10;
                    else if (c >= 'A' && c <= 'F')
                        d = c - 'A' + 10;
                    else
                        break;
                    n = n * 16 + (size_t)d;
                    digits++;
                    if (n > MOCKHTTP_MAX_BODY)
                        return fail(r, 413, "request body too large");
                }
                if (digits == 0 ||
                    (i < ll && data[pos + i] != ';' && data[pos + i] != ' ' &&
                     data[pos + i] != '\t'))
                    return fail(r, 400, "bad chunk size");
                if (r->body.len + n > MOCKHTTP_MAX_BODY)
                    return fail(r, 413, "request body too large");
                pos = (size_t)(nl - data) + 1;
                *used = pos;
                r->chunk_left = n;
                r->state = n == 0 ? MOCKHTTP_S_TRAILER : MOCKHTTP_S_CHUNK_DATA;
            }
            break;
        }
        case MOCKHTTP_S_CHUNK_DATA: {
            size_t take = r->chunk_left;
            if (take > len - pos)
                take = len - pos;
            if (take == 0)
                return MOCKHTTP_AGAIN;
            if (mockbuf_append(&r->body, data + pos, take) < 0)
                return fail(r, 500, "out of memory");
            pos += take;
            *used = pos;
            r->chunk_left -= take;
            if (r->chunk_left == 0)
                r->state = MOCKHTTP_S_CHUNK_CRLF;
            break;
        }
        case MOCKHTTP_S_CHUNK_CRLF:
            if (pos < len && data[pos] == '\r')
                pos++;
            if (pos >= len) {
                /* A lone \r was eaten: remember by staying here only if
                 * nothing was consumed; otherwise wait for the \n. */
                *used = pos;
                return MOCKHTTP_AGAIN;
            }
            if (data[pos] != '\n')
                return fail(r, 400, "bad chunk terminator");
            pos++;
            *used = pos;
            r->state = MOCKHTTP_S_CHUNK_SIZE;
            break;
        case MOCKHTTP_S_DONE:
            break;
        }
    }
    if (mockbuf_reserve(&r->body, 0) < 0)
        return fail(r, 500, "out of memory");
    r->body.data[r->body.len] = '\0';
    return MOCKHTTP_DONE;
}

const char *
mockhttp_header(const struct mockhttp_req *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

void
mockhttp_reset(struct mockhttp_req *r)
{
    struct mockbuf body = r->body;

    free(r->head);
    memset(r, 0, sizeof(*r));
    mockbuf_clear(&body);
    if (body.cap > 1024 * 1024) /* do not pin a huge body per connection */
        mockbuf_free(&body);
    r->body = body;
}

void
mockhttp_free(struct mockhttp_req *r)
{
    free(r->head);
    r->head = NULL;
    mockbuf_free(&r->body);
}
