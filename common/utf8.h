/* UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing above
 * U+10FFFF) and character-boundary helpers for byte strings. */
#ifndef GENQ_UTF8_H
#define GENQ_UTF8_H

#include <stddef.h>

/* 1 when s[0..len) is valid UTF-8, 0 when not. NUL bytes are valid UTF-8
 * (callers that forbid them check separately). Can't fail. */
int utf8_valid(const char *s, size_t len);

/* As utf8_valid; when invalid and bad_off is not NULL, stores the byte offset
 * of the first byte of the first invalid sequence. Returns 1 valid, 0 not. */
int utf8_check(const char *s, size_t len, size_t *bad_off);

/* Number of code points in valid UTF-8 s[0..len) (bytes that are not
 * continuation bytes). Can't fail. */
size_t utf8_count(const char *s, size_t len);

/* The largest n <= len such that s[0..n) does not end inside a multi-byte
 * sequence: use it to cut a valid UTF-8 string without splitting a
 * character. Can't fail. */
size_t utf8_truncate(const char *s, size_t len);

#endif
