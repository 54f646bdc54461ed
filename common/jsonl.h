/* JSONL line reader over a FILE*: lines of any length, CRLF or LF, a last
 * line without a newline, line numbers from 1 (blank lines counted). */
#ifndef GENQ_JSONL_H
#define GENQ_JSONL_H

#include <stddef.h>
#include <stdio.h>

struct jsonl_reader;

/* A reader over f (not owned: the caller closes f after jsonl_close()).
 * Returns NULL when out of memory. */
struct jsonl_reader *jsonl_open(FILE *f);

/* Free the reader; NULL is fine. */
void jsonl_close(struct jsonl_reader *r);

/* Keep at most max bytes of each line in memory (0 = no limit, the default).
 * A longer line is still read to its end and counted, but only its first
 * max + 1 bytes are kept and returned, so `len > max` tells the caller to
 * reject it; jsonl_line_size() gives its real length. Use it to bound memory
 * when a file may hold a multi-gigabyte line. Can't fail. */
void jsonl_set_limit(struct jsonl_reader *r, size_t max);

/* Read the next line. Returns 1 with *line (borrowed until the next call;
 * NUL-terminated, but may hold NUL bytes, so use *len), *len (without the
 * "\n" or "\r\n") and *lineno (1-based), 0 at end of file, -1 on a read
 * error (errno set) or when out of memory (errno ENOMEM). A file ending in
 * "\n" has no extra empty last line; empty lines in between are returned
 * with len 0. */
int jsonl_next(struct jsonl_reader *r, const char **line, size_t *len,
               long *lineno);

/* Real length in bytes of the line last returned (without its newline),
 * even when jsonl_set_limit() cut what was kept. Can't fail. */
size_t jsonl_line_size(const struct jsonl_reader *r);

/* 1 when line[0..len) is empty or only spaces, tabs and CRs (a blank line
 * that bulk enqueue skips), 0 otherwise. Can't fail. */
int jsonl_blank(const char *line, size_t len);

#endif
