/* jsonscan: the one JSON string scanner of the project -- \u escapes, plain
 * runs, decoding -- and the strict RFC 8259 syntax check of job lines. Used
 * by the job code (job_parse.c, job_fast.c) and the stream fast path
 * (llm_stream_fast.c). No allocation anywhere. */
#ifndef GENQ_JSONSCAN_H
#define GENQ_JSONSCAN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define JSONSCAN_MAX_DEPTH 64 /* nesting jsonscan_check() allows */

/* What jsonscan_uescape() found wrong. */
enum jsonscan_uerr {
    JSONSCAN_U_TRUNCATED = -1, /* fewer than 4 bytes after "\u" */
    JSONSCAN_U_BADHEX = -2,    /* not 4 hex digits */
    JSONSCAN_U_NUL = -3,       /* \u0000 */
    JSONSCAN_U_SURROGATE = -4  /* a lone or misordered surrogate */
};

/* Four hex digits at p: their value, or -1. Stops at the first other byte,
 * so it never reads past a NUL. Can't fail otherwise. */
static inline long
jsonscan_hex4(const char *p)
{
    long v = 0;

    for (int i = 0; i < 4; i++) {
        int c = (unsigned char)p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            d = (c | 0x20) - 'a' + 10;
        else
            return -1;
        v = v << 4 | d;
    }
    return v;
}

/* Whether c may follow a backslash other than 'u'. */
static inline int
jsonscan_simple_escape(int c)
{
    return c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' ||
           c == 'n' || c == 'r' || c == 't';
}

/* Whether none of the 8 bytes at p is a control character, '"' or '\\':
 * as jsonscan_plain8, but bytes of 0x80 and up pass (text already known to
 * be UTF-8: a result's text, a stream's JSON). */
static inline int
jsonscan_noescape8(const char *p)
{
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    uint64_t w, q, b;

    memcpy(&w, p, sizeof(w));
    q = w ^ (ones * '"');
    b = w ^ (ones * '\\');
    return ((((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b)) &
            high) == 0;
}

/* Whether the 8 bytes at p are plain string bytes: ASCII, not a control
 * character, not '"' or '\\' (SWAR; the byte loops handle the rest). */
static inline int
jsonscan_plain8(const char *p)
{
    uint64_t w;

    memcpy(&w, p, sizeof(w));
    return (w & 0x8080808080808080ULL) == 0 && jsonscan_noescape8(p);
}

/* The \u escape at p (p[0] == '\\', p[1] == 'u'), with avail bytes readable
 * at p (SIZE_MAX for NUL-terminated text: the scan stops at the NUL).
 * Accepts what cJSON decodes faithfully: not \u0000, a high surrogate only
 * followed by a \u low one. Returns the bytes it spans (6, or 12 for a
 * surrogate pair), or an enum jsonscan_uerr with *at set to the offset from
 * p where the problem is (the "\u" digits for TRUNCATED/BADHEX, the escape
 * itself otherwise). */
static inline int
jsonscan_uescape(const char *p, size_t avail, size_t *at)
{
    long u, lo;

    *at = 2;
    if (avail < 6)
        return JSONSCAN_U_TRUNCATED;
    u = jsonscan_hex4(p + 2);
    if (u < 0)
        return JSONSCAN_U_BADHEX;
    *at = 0;
    if (u == 0)
        return JSONSCAN_U_NUL;
    if (u >= 0xDC00 && u <= 0xDFFF)
        return JSONSCAN_U_SURROGATE;
    if (u < 0xD800 || u > 0xDBFF)
        return 6;
    if (avail < 12 || p[6] != '\\' || p[7] != 'u')
        return JSONSCAN_U_SURROGATE;
    lo = jsonscan_hex4(p + 8);
    if (lo < 0) {
        *at = 8;
        return JSONSCAN_U_BADHEX;
    }
    if (lo < 0xDC00 || lo > 0xDFFF)
        return JSONSCAN_U_SURROGATE;
    return 12;
}

/* Decode s[0..n), the raw bytes of a string whose escapes are valid (as
 * jsonscan_uescape accepts them), into out, stopping once max bytes or more
 * are written (out needs max + 3 bytes; SIZE_MAX: all). Returns the bytes
 * written. Can't fail. */
size_t jsonscan_decode(const char *s, size_t n, char *out, size_t max);

/* The decoded length of such a string. Can't fail. */
size_t jsonscan_decoded_len(const char *s, size_t n);

/* Whether s[0..len) is exactly one JSON value (RFC 8259, strictly: no raw
 * control characters in strings, no "01" or "1.", only space, tab, CR and
 * LF as whitespace, no \u0000, no lone surrogates), nested at most
 * JSONSCAN_MAX_DEPTH deep, with optional whitespace around it. Returns 0,
 * or -1 with *at the byte offset of the first problem and *what its reason
 * (a static string). */
int jsonscan_check(const char *s, size_t len, size_t *at, const char **what);

#endif
