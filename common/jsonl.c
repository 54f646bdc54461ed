/* JSONL line reader; see jsonl.h. Reads through its own 64 KiB block buffer
 * with fread() and memchr(), appending into a struct buf (buf.h). */
#include "fmacros.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonl.h"

#define JSONL_BLOCK (64 * 1024)

struct jsonl_reader {
    FILE *f;
    struct buf line;   /* kept bytes of the current line, NUL-terminated */
    size_t full;       /* real length of the current line */
    size_t limit;      /* 0 = keep everything */
    long lineno;       /* number of the last line returned */
    size_t rpos, rlen; /* unread part of block */
    int eof;           /* fread() reported end of file */
    char block[JSONL_BLOCK];
};

struct jsonl_reader *
jsonl_open(FILE *f)
{
    struct jsonl_reader *r = calloc(1, sizeof *r);

    if (!r)
        return NULL;
    r->f = f;
    buf_init(&r->line, 0);
    return r;
}

void
jsonl_close(struct jsonl_reader *r)
{
    if (!r)
        return;
    buf_free(&r->line);
    free(r);
}

void
jsonl_set_limit(struct jsonl_reader *r, size_t max)
{
    r->limit = max;
}

size_t
jsonl_line_size(const struct jsonl_reader *r)
{
    return r->full;
}

/* Append n bytes of the current line, keeping at most limit + 1 bytes. */
static int
append(struct jsonl_reader *r, const char *p, size_t n)
{
    size_t len = r->line.len;

    r->full += n;
    if (r->limit && len + n > r->limit + 1)
        n = len > r->limit ? 0 : r->limit + 1 - len;
    if (n == 0)
        return 0;
    if (buf_append(&r->line, p, n) < 0) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

int
jsonl_next(struct jsonl_reader *r, const char **line, size_t *len, long *lineno)
{
    int got = 0;   /* saw at least one byte of this line */
    char last = 0; /* last byte of the line before the newline */

    buf_reset(&r->line);
    r->full = 0;
    for (;;) {
        char *nl;
        size_t n;

        if (r->rpos == r->rlen) {
            if (r->eof)
                break;
            r->rlen = fread(r->block, 1, sizeof r->block, r->f);
            r->rpos = 0;
            if (r->rlen == 0) {
                if (ferror(r->f))
                    return -1;
                r->eof = 1;
                break;
            }
        }
        got = 1;
        n = r->rlen - r->rpos;
        nl = memchr(r->block + r->rpos, '\n', n);
        if (nl)
            n = (size_t)(nl - (r->block + r->rpos));
        if (n > 0) {
            last = r->block[r->rpos + n - 1];
            if (append(r, r->block + r->rpos, n) < 0)
                return -1;
        }
        r->rpos += n;
        if (nl) {
            r->rpos++; /* the newline */
            break;
        }
    }
    if (!got)
        return 0;
    if (last == '\r') { /* CRLF: drop the CR */
        r->full--;
        if (r->line.len > r->full)
            r->line.len = r->full;
    }
    if (buf_append(&r->line, "", 0) < 0) { /* allocates an empty line */
        errno = ENOMEM;
        return -1;
    }
    r->line.data[r->line.len] = '\0';
    *line = r->line.data;
    *len = r->line.len;
    *lineno = ++r->lineno;
    return 1;
}

int
jsonl_blank(const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
            return 0;
    return 1;
}
