/* libFuzzer target: the JSONL reader over a FILE* (fopencookie, optionally
 * failing at a byte offset), with and without a line limit, checked line by
 * line against a plain reference split. A padding prefix puts the fuzzed
 * bytes across the reader's 64 KiB block boundary. */
#include "fmacros.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "fuzzutil.h"
#include "jsonl.h"

#define BLOCK (64 * 1024) /* jsonl.c's JSONL_BLOCK */

struct src {
    const char *data;
    size_t len, pos;
    size_t fail_at; /* reads fail with EIO from here; SIZE_MAX = never */
};

static ssize_t
src_read(void *cookie, char *out, size_t n)
{
    struct src *s = cookie;

    if (s->pos >= s->fail_at) {
        errno = EIO;
        return -1;
    }
    if (n > s->len - s->pos)
        n = s->len - s->pos;
    if (s->fail_at != SIZE_MAX && n > s->fail_at - s->pos)
        n = s->fail_at - s->pos;
    memcpy(out, s->data + s->pos, n);
    s->pos += n;
    return (ssize_t)n;
}

/* The reference: the next line of buf[*pos..len) split at '\n', one trailing
 * '\r' dropped; returns 0 at the end. */
static int
ref_next(const char *buf, size_t len, size_t *pos, const char **line,
         size_t *full)
{
    const char *nl;
    size_t n;

    if (*pos >= len)
        return 0;
    nl = memchr(buf + *pos, '\n', len - *pos);
    n = nl ? (size_t)(nl - (buf + *pos)) : len - *pos;
    *line = buf + *pos;
    *pos += n + (nl ? 1 : 0);
    if (n > 0 && (*line)[n - 1] == '\r')
        n--;
    *full = n;
    return 1;
}

static int
ref_blank(const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!strchr(" \t\r", line[i]) || line[i] == '\0')
            return 0;
    return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t cfg = fuzz_take_seed(&data, &size, 4);
    size_t limit = (cfg & 1) ? (size_t)((cfg >> 1) % 80) : 0;
    int pad_mode = (int)((cfg >> 8) % 4);
    size_t pad = 0;
    char *buf;
    size_t len;
    struct src src;
    cookie_io_functions_t io = {src_read, NULL, NULL, NULL};

    /* pad_mode 1: a long first line that runs into the fuzzed bytes; 2: a
     * padding line ending just before or after the block boundary. */
    if (pad_mode == 1 || pad_mode == 2)
        pad = BLOCK - 128 + (size_t)((cfg >> 10) % 256);
    len = pad + size;
    buf = malloc(len + 1);
    FUZZ_CHECK(buf != NULL);
    memset(buf, 'x', pad);
    if (pad_mode == 2 && pad > 0)
        buf[pad - 1] = '\n';
    if (size > 0)
        memcpy(buf + pad, data, size);

    src.data = buf;
    src.len = len;
    src.pos = 0;
    src.fail_at = pad_mode == 3 ? (size_t)((cfg >> 10) % (len + 1)) : SIZE_MAX;

    FILE *f = fopencookie(&src, "r", io);
    FUZZ_CHECK(f != NULL);
    struct jsonl_reader *r = jsonl_open(f);
    FUZZ_CHECK(r != NULL);
    if (limit)
        jsonl_set_limit(r, limit);

    size_t rpos = 0;
    long want_no = 0;
    int got;
    for (;;) {
        const char *line, *rline = NULL;
        size_t n, full = 0;
        long no;
        int want;

        got = jsonl_next(r, &line, &n, &no);
        FUZZ_CHECK(got == 1 || got == 0 || got == -1);
        want = ref_next(buf, len, &rpos, &rline, &full);
        if (got != 1) {
            if (src.fail_at == SIZE_MAX) {
                FUZZ_CHECK(got == 0);
                FUZZ_CHECK(want == 0);
            }
            break;
        }
        /* With a read error, what came before the error is still exact. */
        FUZZ_CHECK(want == 1);
        if (src.fail_at != SIZE_MAX)
            FUZZ_CHECK(rpos <= src.fail_at);
        want_no++;
        FUZZ_CHECK(no == want_no);
        FUZZ_CHECK(jsonl_line_size(r) == full);
        size_t keep = limit && full > limit + 1 ? limit + 1 : full;
        FUZZ_CHECK(n == keep);
        FUZZ_CHECK(line[n] == '\0');
        FUZZ_CHECK(n == 0 || memcmp(line, rline, n) == 0);
        if (!limit || full <= limit)
            FUZZ_CHECK(jsonl_blank(line, n) == ref_blank(rline, full));
    }
    if (got == -1) {
        FUZZ_CHECK(src.fail_at != SIZE_MAX);
        FUZZ_CHECK(errno == EIO);
    }
    jsonl_close(r);
    fclose(f);
    free(buf);
    return 0;
}
