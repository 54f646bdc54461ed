/* Unit tests of the JSONL line reader (common/jsonl.c): LF and CRLF, blank
 * lines, a last line without newline, very long lines, the memory limit. */
#include "fmacros.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonl.h"

/* A FILE* over a copy of data[0..len). */
static FILE *
mem(const char *data, size_t len)
{
    FILE *f = tmpfile();

    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    rewind(f);
    return f;
}

struct want {
    const char *text;
    size_t len;
    long lineno;
};

static void
expect(const char *data, size_t len, const struct want *w, size_t n)
{
    FILE *f = mem(data, len);
    struct jsonl_reader *r = jsonl_open(f);
    const char *line;
    size_t l;
    long no;

    cr_assert_not_null(r);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(jsonl_next(r, &line, &l, &no), 1, "line %zu missing", i);
        cr_assert_eq(l, w[i].len, "line %ld: len %zu want %zu", no, l,
                     w[i].len);
        cr_assert_eq(memcmp(line, w[i].text, l), 0, "line %ld", no);
        cr_assert_eq(line[l], '\0');
        cr_assert_eq(no, w[i].lineno);
    }
    cr_assert_eq(jsonl_next(r, &line, &l, &no), 0, "extra line");
    cr_assert_eq(jsonl_next(r, &line, &l, &no), 0, "EOF is sticky");
    jsonl_close(r);
    fclose(f);
}

Test(jsonl, lf_crlf_blank_and_last_line)
{
    static const char d[] = "{\"a\":1}\n\r\n\n  \n{\"b\":2}\r\n{\"c\":3}";
    static const struct want w[] = {
        {"{\"a\":1}", 7, 1}, {"", 0, 2},          {"", 0, 3},
        {"  ", 2, 4},        {"{\"b\":2}", 7, 5}, {"{\"c\":3}", 7, 6},
    };

    expect(d, sizeof d - 1, w, 6);
}

Test(jsonl, trailing_newline_adds_no_line)
{
    static const struct want w[] = {{"x", 1, 1}};

    expect("x\n", 2, w, 1);
    expect("x\r\n", 3, w, 1);
    expect("x", 1, w, 1);
}

Test(jsonl, empty_and_newline_only_files)
{
    static const struct want w[] = {{"", 0, 1}, {"", 0, 2}};

    expect("", 0, NULL, 0);
    expect("\n", 1, w, 1);
    expect("\n\r\n", 3, w, 2);
}

Test(jsonl, lone_cr_is_kept_inside_a_line)
{
    static const struct want w[] = {{"a\rb", 3, 1}, {"\r", 1, 2}};

    /* only a CR right before the LF is dropped; "\r\r\n" keeps one */
    expect("a\rb\n\r\r\n", 7, w, 2);
}

Test(jsonl, nul_bytes_are_returned)
{
    static const struct want w[] = {{"a\0b", 3, 1}};

    expect("a\0b\n", 4, w, 1);
}

/* A reader over big copies of c followed by tail[0..tlen). */
struct filled {
    char *d; /* the file's bytes */
    FILE *f;
    struct jsonl_reader *r;
};

static void
filled_open(struct filled *x, char c, size_t big, const char *tail, size_t tlen)
{
    x->d = malloc(big + tlen);
    cr_assert_not_null(x->d);
    memset(x->d, c, big);
    memcpy(x->d + big, tail, tlen);
    x->f = mem(x->d, big + tlen);
    x->r = jsonl_open(x->f);
    cr_assert_not_null(x->r);
}

static void
filled_close(struct filled *x)
{
    jsonl_close(x->r);
    fclose(x->f);
    free(x->d);
}

/* The next line of x: it must be there, len bytes long (kept), line number
 * lineno and real size size. Returns the line. */
static const char *
filled_next(struct filled *x, size_t len, long lineno, size_t size)
{
    const char *line;
    size_t l;
    long no;

    cr_assert_eq(jsonl_next(x->r, &line, &l, &no), 1);
    cr_assert_eq(l, len, "kept %zu", l);
    cr_assert_eq(no, lineno);
    cr_assert_eq(jsonl_line_size(x->r), size);
    return line;
}

Test(jsonl, crlf_split_across_blocks)
{
    /* the CR is the last byte of the first 64 KiB block */
    struct filled x;
    const char *line;
    size_t l;
    long no;

    filled_open(&x, 'x', 64 * 1024 - 1, "\r\nxxxxxxxxx", 11);
    filled_next(&x, 64 * 1024 - 1, 1, 64 * 1024 - 1);
    filled_next(&x, 9, 2, 9);
    cr_assert_eq(jsonl_next(x.r, &line, &l, &no), 0);
    filled_close(&x);
}

Test(jsonl, ten_megabyte_line)
{
    size_t big = 10 * 1024 * 1024;
    struct filled x;

    filled_open(&x, 'q', big, "\n{}\n", 4);
    cr_assert_eq(memcmp(filled_next(&x, big, 1, big), x.d, big), 0);
    filled_next(&x, 2, 2, 2);
    filled_close(&x);
}

Test(jsonl, limit_bounds_memory_but_counts_everything)
{
    size_t big = 3 * 1024 * 1024;
    struct filled x;

    filled_open(&x, 'q', big, "\r\nok\n", 5);
    jsonl_set_limit(x.r, 1024);
    filled_next(&x, 1025, 1, big);
    cr_assert_eq(memcmp(filled_next(&x, 2, 2, 2), "ok", 2), 0);
    filled_close(&x);
}

Test(jsonl, limit_exact_line_kept_whole)
{
    static const struct want w[] = {{"abcd", 4, 1}, {"abcde", 5, 2}};
    FILE *f = mem("abcd\r\nabcdef\n", 13);
    struct jsonl_reader *r = jsonl_open(f);
    const char *line;
    size_t l;
    long no;

    jsonl_set_limit(r, 4);
    cr_assert_eq(jsonl_next(r, &line, &l, &no), 1);
    cr_assert_eq(l, w[0].len);
    cr_assert_eq(jsonl_line_size(r), 4);
    cr_assert_eq(jsonl_next(r, &line, &l, &no), 1);
    cr_assert_eq(l, w[1].len); /* max + 1 kept: "too long" */
    cr_assert_eq(memcmp(line, w[1].text, l), 0);
    cr_assert_eq(jsonl_line_size(r), 6);
    jsonl_close(r);
    fclose(f);
}

Test(jsonl, read_error)
{
    FILE *f = fopen("/dev/null", "w"); /* not readable */
    struct jsonl_reader *r;
    const char *line;
    size_t l;
    long no;

    cr_assert_not_null(f);
    r = jsonl_open(f);
    errno = 0;
    cr_assert_eq(jsonl_next(r, &line, &l, &no), -1);
    cr_assert_neq(errno, 0);
    jsonl_close(r);
    fclose(f);
    jsonl_close(NULL);
}

Test(jsonl, blank)
{
    cr_assert(jsonl_blank("", 0));
    cr_assert(jsonl_blank(" \t\r", 3));
    cr_assert_not(jsonl_blank(" x ", 3));
    cr_assert_not(jsonl_blank("\v", 1));
}
