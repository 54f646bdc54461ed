/* Unit tests for common/sse.c: WHATWG SSE framing with the llm-api.md
 * transcripts fed whole, byte by byte and in random splits. */
#include "fmacros.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "sse.h"
#include "unit.h"

static const char anthropic_error[] =
    "event: error\n"
    "data: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", "
    "\"message\": \"Overloaded\"}}\n"
    "\n";

/* Records events as "name\x1f" data "\x1e" so sequences compare as strings. */
struct rec {
    struct buf log;
    int n;
    int stop_after; /* stop when n reaches this; 0 = never */
};

static int
rec_fn(void *ud, const char *ev, size_t evlen, const char *data, size_t dlen)
{
    struct rec *r = ud;
    cr_assert_eq(ev[evlen], '\0');
    cr_assert_eq(data[dlen], '\0');
    cr_assert(buf_append(&r->log, ev, evlen) == 0);
    cr_assert(buf_append(&r->log, "\x1f", 1) == 0);
    cr_assert(buf_append(&r->log, data, dlen) == 0);
    cr_assert(buf_append(&r->log, "\x1e", 1) == 0);
    r->n++;
    return r->stop_after != 0 && r->n >= r->stop_after;
}

/* Feed s in pieces: mode 0 = whole, 1 = byte by byte, 2 = random splits
 * (sizes 0..16, seeded). Returns the recorded log (caller frees). */
static char *
run(const char *s, size_t len, int mode, uint64_t seed, int *nevents)
{
    struct sse_parser p;
    struct rec r = {.n = 0, .stop_after = 0};
    buf_init(&r.log, 0);
    buf_append(&r.log, "", 0);
    sse_init(&p, rec_fn, &r, 4096);
    size_t i = 0;
    while (i < len || (mode == 0 && i == 0 && len == 0)) {
        size_t n;
        if (mode == 0)
            n = len;
        else if (mode == 1)
            n = 1;
        else
            n = (size_t)(unit_lcg(&seed) % 17);
        if (n > len - i)
            n = len - i;
        cr_assert_eq(sse_feed(&p, s + i, n), 0, "feed failed: %s",
                     sse_strerror(p.err));
        i += n;
        if (len == 0)
            break;
    }
    sse_free(&p);
    if (nevents)
        *nevents = r.n;
    return buf_detach(&r.log, NULL);
}

/* Rewrite LF line ends to CRLF or CR. */
static char *
relines(const char *s, const char *eol)
{
    struct buf b;
    buf_init(&b, 0);
    for (; *s; s++) {
        if (*s == '\n')
            cr_assert(buf_append_str(&b, eol) == 0);
        else
            cr_assert(buf_append(&b, s, 1) == 0);
    }
    return buf_detach(&b, NULL);
}

/* Whole, byte-by-byte and random splits must agree; with eol_variants the
 * input (LF only) is also rewritten to CRLF and CR line ends. */
static void
check_splits(const char *s, int want_events, int eol_variants)
{
    int n;
    char *whole = run(s, strlen(s), 0, 0, &n);
    cr_assert_eq(n, want_events);
    char *bytes = run(s, strlen(s), 1, 0, &n);
    cr_assert_str_eq(bytes, whole);
    free(bytes);
    for (uint64_t seed = 1; seed <= 300; seed++) {
        char *rnd = run(s, strlen(s), 2, seed, &n);
        cr_assert_str_eq(rnd, whole, "seed %lu", (unsigned long)seed);
        free(rnd);
    }
    static const char *const eols[] = {"\r\n", "\r"};
    for (int e = 0; eol_variants && e < 2; e++) {
        char *v = relines(s, eols[e]);
        char *got = run(v, strlen(v), 1, 0, &n);
        cr_assert_str_eq(got, whole);
        free(got);
        for (uint64_t seed = 1; seed <= 50; seed++) {
            got = run(v, strlen(v), 2, seed, &n);
            cr_assert_str_eq(got, whole);
            free(got);
        }
        free(v);
    }
    free(whole);
}

static void
check_all_splits(const char *s, int want_events)
{
    check_splits(s, want_events, 1);
}

Test(sse, anthropic_basic_transcript)
{
    int n;
    char *log =
        run(unit_anthropic_basic, strlen(unit_anthropic_basic), 0, 0, &n);
    cr_assert_eq(n, 9);
    static const char head[] = "message_start\x1f{\"type\":\"message_start\"";
    cr_assert(strncmp(log, head, strlen(head)) == 0);
    cr_assert(strstr(log, "ping\x1f{\"type\": \"ping\"}\x1e") != NULL);
    cr_assert(strstr(log, "message_stop\x1f{\"type\":\"message_stop\"}\x1e") !=
              NULL);
    free(log);
    check_all_splits(unit_anthropic_basic, 9);
}

Test(sse, anthropic_error_event)
{
    int n;
    char *log = run(anthropic_error, strlen(anthropic_error), 1, 0, &n);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(log,
                     "error\x1f{\"type\": \"error\", \"error\": {\"type\": "
                     "\"overloaded_error\", \"message\": "
                     "\"Overloaded\"}}\x1e");
    free(log);
    check_all_splits(anthropic_error, 1);
}

Test(sse, openai_chunks_usage_done)
{
    int n;
    char *log = run(unit_openai_chunks, strlen(unit_openai_chunks), 0, 0, &n);
    cr_assert_eq(n, 5);
    /* no event names: every record starts with the separator */
    cr_assert_eq(log[0], '\x1f');
    cr_assert(strstr(log, "\x1e\x1f[DONE]\x1e") != NULL);
    free(log);
    check_all_splits(unit_openai_chunks, 5);
}

Test(sse, field_rules)
{
    static const char s[] =
        ": comment line\n"
        ":\n"
        "event:  two spaces\n" /* only one leading space is stripped */
        "data:no space\n"
        "data: second\n"
        "data\n" /* no colon: empty data line */
        "id: 7\n"
        "retry: 1000\n"
        "bogus: field\n"
        "\n"
        "event: lonely\n" /* no data: not dispatched */
        "\n"
        "data:\n" /* one empty data line: dispatched, data "" */
        "\n"
        "data: x\n"
        "event: late\n" /* event may follow data */
        "\n";
    int n;
    char *log = run(s, strlen(s), 1, 0, &n);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(log, " two spaces\x1fno space\nsecond\n\x1e"
                          "\x1f\x1e"
                          "late\x1fx\x1e");
    free(log);
    check_all_splits(s, 3);
}

Test(sse, mixed_line_endings_and_bom)
{
    static const char s[] = "\xEF\xBB\xBF"
                            "data: a\r\n\r"
                            "data: b\r\rdata: c\n\r\n"
                            "event: e\r\ndata: d\n\n";
    int n;
    char *log = run(s, strlen(s), 1, 0, &n);
    cr_assert_eq(n, 4);
    cr_assert_str_eq(log, "\x1f"
                          "a\x1e\x1f"
                          "b\x1e\x1f"
                          "c\x1e"
                          "e\x1f"
                          "d\x1e");
    free(log);
    check_splits(s, 4, 0);
}

Test(sse, utf8_split_anywhere)
{
    static const char s[] = "event: t\xc3\xa9st\n"
                            "data: h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c "
                            "\xf0\x9f\x8e\x89\n\n";
    int n;
    char *log = run(s, strlen(s), 0, 0, &n);
    cr_assert_str_eq(log, "t\xc3\xa9st\x1fh\xc3\xa9llo \xe4\xb8\x96\xe7\x95"
                          "\x8c \xf0\x9f\x8e\x89\x1e");
    free(log);
    check_all_splits(s, 1);
}

/* Start parser p recording into r (stop after stop_after events, 0 =
 * never; events capped at max bytes); end with rec_end(). */
static void
rec_start(struct sse_parser *p, struct rec *r, int stop_after, size_t max)
{
    r->n = 0;
    r->stop_after = stop_after;
    buf_init(&r->log, 0);
    sse_init(p, rec_fn, r, max);
}

static void
rec_end(struct sse_parser *p, struct rec *r)
{
    sse_free(p);
    buf_free(&r->log);
}

Test(sse, unterminated_event_is_pending_not_dispatched)
{
    struct sse_parser p;
    struct rec r;
    rec_start(&p, &r, 0, 0);
    cr_assert_eq(sse_pending(&p), 0);
    cr_assert_eq(sse_feed(&p, "data: x\n", 8), 0);
    cr_assert_eq(r.n, 0);
    cr_assert(sse_pending(&p));
    cr_assert_eq(sse_feed(&p, "\n", 1), 0);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(sse_pending(&p), 0);
    rec_end(&p, &r);
}

Test(sse, oversize_event_is_an_error)
{
    struct sse_parser p;
    struct rec r;
    rec_start(&p, &r, 0, 64);
    char line[100];
    memset(line, 'x', sizeof line);
    cr_assert_eq(sse_feed(&p, "data: ", 6), 0);
    cr_assert_eq(sse_feed(&p, line, sizeof line), -1);
    cr_assert_eq(p.err, SSE_ERR_TOO_BIG);
    cr_assert_eq(sse_feed(&p, "\n\n", 2), -1, "errors are sticky");
    sse_free(&p);

    /* Many short data lines that add up past the cap fail too. */
    sse_init(&p, rec_fn, &r, 64);
    int rc = 0;
    for (int i = 0; i < 40 && rc == 0; i++)
        rc = sse_feed(&p, "data: abc\n", 10);
    cr_assert_eq(rc, -1);
    cr_assert_eq(p.err, SSE_ERR_TOO_BIG);
    cr_assert_eq(r.n, 0);
    rec_end(&p, &r);
}

Test(sse, callback_stop)
{
    struct sse_parser p;
    struct rec r;
    rec_start(&p, &r, 2, 0);
    cr_assert_eq(
        sse_feed(&p, unit_anthropic_basic, strlen(unit_anthropic_basic)), -1);
    cr_assert_eq(p.err, SSE_ERR_STOPPED);
    cr_assert_eq(r.n, 2);
    cr_assert_eq(sse_feed(&p, "data: y\n\n", 9), -1);
    cr_assert_eq(r.n, 2);
    rec_end(&p, &r);
}

Test(sse, buf_cap_and_detach)
{
    struct buf b;
    buf_init(&b, 4);
    cr_assert_null(b.data);
    cr_assert_eq(buf_append(&b, "abcd", 4), 0);
    cr_assert_eq(buf_append(&b, "e", 1), -1);
    cr_assert_str_eq(b.data, "abcd");
    buf_reset(&b);
    cr_assert_eq(b.len, 0);
    cr_assert_str_eq(b.data, "");
    size_t n = 99;
    char *d = buf_detach(&b, &n);
    cr_assert_eq(n, 0);
    cr_assert_str_eq(d, "");
    free(d);
    cr_assert_null(b.data);
    cr_assert_eq(b.max, 4);
    buf_free(&b);
    buf_free(NULL);
}

/* ---- against a reference parser ------------------------------------- */

/* The parser as it was before sse_feed learnt to read lines in place: every
 * line copied into a capped line buffer, every data line appended with its
 * '\n' to a capped data buffer. Kept here as the reference: whole input,
 * events logged as rec_fn does, the first error returned. */
struct refp {
    struct buf line, data, event, log;
    int started, err, n;
};

static int
ref_append(struct refp *p, struct buf *b, const char *s, size_t n)
{
    if (buf_append(b, s, n) == 0)
        return 0;
    p->err = SSE_ERR_TOO_BIG;
    return -1;
}

static int
ref_line(struct refp *p)
{
    const char *l = p->line.data ? p->line.data : "";
    size_t n = p->line.len;

    if (!p->started) {
        p->started = 1;
        if (n >= 3 && memcmp(l, "\xEF\xBB\xBF", 3) == 0) {
            l += 3;
            n -= 3;
        }
    }
    if (n == 0) {
        if (p->data.len > 0) {
            p->data.len--;
            buf_append(&p->log, p->event.data ? p->event.data : "",
                       p->event.len);
            buf_append(&p->log, "\x1f", 1);
            buf_append(&p->log, p->data.data, p->data.len);
            buf_append(&p->log, "\x1e", 1);
            p->n++;
        }
        buf_reset(&p->data);
        buf_reset(&p->event);
        return 0;
    }
    if (l[0] == ':')
        return 0;
    const char *colon = memchr(l, ':', n);
    size_t flen = colon ? (size_t)(colon - l) : n;
    const char *val = colon ? colon + 1 : l + n;
    size_t vlen = colon ? n - flen - 1 : 0;
    if (vlen > 0 && val[0] == ' ') {
        val++;
        vlen--;
    }
    if (flen == 4 && memcmp(l, "data", 4) == 0)
        return ref_append(p, &p->data, val, vlen) != 0 ||
                       ref_append(p, &p->data, "\n", 1) != 0
                   ? -1
                   : 0;
    if (flen == 5 && memcmp(l, "event", 5) == 0) {
        buf_reset(&p->event);
        return ref_append(p, &p->event, val, vlen);
    }
    return 0;
}

static void
ref_run(const char *s, size_t len, size_t max, struct refp *p)
{
    size_t i = 0;
    int after_cr = 0;

    memset(p, 0, sizeof *p);
    buf_init(&p->line, max);
    buf_init(&p->data, max);
    buf_init(&p->event, max);
    buf_init(&p->log, 0);
    buf_append(&p->log, "", 0);
    while (i < len) {
        if (after_cr) {
            after_cr = 0;
            if (s[i] == '\n') {
                i++;
                continue;
            }
        }
        size_t j = i;
        while (j < len && s[j] != '\n' && s[j] != '\r')
            j++;
        if (ref_append(p, &p->line, s + i, j - i) != 0 || j == len)
            break;
        after_cr = s[j] == '\r';
        i = j + 1;
        int rc = ref_line(p);
        buf_reset(&p->line);
        if (rc != 0)
            break;
    }
}

Test(sse, same_as_reference_parser)
{
    static const char *const parts[] = {
        "data:",
        "data: ",
        "data",
        "event:",
        "event: ",
        "event",
        ":c",
        "id: 1",
        "retry:",
        "x",
        "yy",
        "abc",
        " ",
        ":",
        "\n",
        "\n",
        "\n",
        "\r",
        "\r\n",
        "\xEF\xBB\xBF",
        "data: {\"a\":1}\n\n",
        "event: e\ndata: d\n\n",
    };
    uint64_t seed = 7;

    for (int iter = 0; iter < 3000; iter++) {
        struct buf in;
        struct refp ref;
        size_t max = iter % 4 == 0 ? 0 : 1 + (size_t)(unit_lcg(&seed) % 24);
        int nparts = 1 + (int)(unit_lcg(&seed) % 24);

        buf_init(&in, 0);
        buf_append(&in, "", 0);
        for (int k = 0; k < nparts; k++)
            buf_append_str(
                &in, parts[unit_lcg(&seed) % (sizeof parts / sizeof parts[0])]);
        ref_run(in.data, in.len, max, &ref);
        for (int mode = 0; mode < 4; mode++) {
            struct sse_parser p;
            struct rec r;
            size_t i = 0;
            int rc = 0;
            rec_start(&p, &r, 0, max);
            buf_append(&r.log, "", 0);
            while (i < in.len && rc == 0) {
                size_t n = mode == 0   ? in.len
                           : mode == 1 ? 1
                                       : (size_t)(unit_lcg(&seed) % 9);
                if (n > in.len - i)
                    n = in.len - i;
                rc = sse_feed(&p, in.data + i, n);
                i += n;
            }
            cr_assert_eq(p.err, ref.err, "max %zu mode %d: %s", max, mode,
                         in.data);
            cr_assert_eq(r.n, ref.n, "max %zu mode %d: %s", max, mode, in.data);
            cr_assert_eq(p.events, (unsigned long)ref.n);
            cr_assert_str_eq(r.log.data, ref.log.data, "max %zu: %s", max,
                             in.data);
            if (ref.err == SSE_ERR_NONE)
                cr_assert_eq(sse_pending(&p),
                             ref.line.len > 0 || ref.data.len > 0 ||
                                 ref.event.len > 0,
                             "pending, max %zu: %s", max, in.data);
            rec_end(&p, &r);
        }
        buf_free(&ref.line);
        buf_free(&ref.data);
        buf_free(&ref.event);
        buf_free(&ref.log);
        buf_free(&in);
    }
}
