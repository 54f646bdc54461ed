/* Unit tests for common/jsonw.c: strings escaped as JSON requires (and no
 * more), fields, null for empty strings, the buffer's cap. */
#include "fmacros.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "jsonw.h"

Test(jsonw, escapes)
{
    struct buf b;
    const char s[] = "a\"b\\c\nd\re\tf\x01g\x1fh/\xc3\xa9";

    buf_init(&b, 0);
    cr_assert_eq(jsonw_str(&b, s, sizeof(s) - 1), 0);
    cr_assert_str_eq(b.data,
                     "\"a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u001fh/\xc3\xa9\"");
    buf_reset(&b);
    cr_assert_eq(jsonw_str(&b, "a\0b", 3), 0);
    cr_assert_eq(b.len, 10);
    cr_assert_eq(memcmp(b.data, "\"a\\u0000b\"", 10), 0);
    buf_free(&b);
}

/* the byte-at-a-time escape jsonw_str must agree with */
static size_t
ref_escape(const unsigned char *s, size_t n, char *out)
{
    size_t o = 0;

    out[o++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            out[o++] = '\\';
            out[o++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        } else if (c < 0x20) {
            o += (size_t)sprintf(out + o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '"';
    return o;
}

/* every byte value at every place of strings longer than the eight bytes
 * jsonw_str checks at once, next to plain, UTF-8 and 0x7f/0x80 bytes */
Test(jsonw, every_byte_everywhere)
{
    const char *fills[] = {"a", "\xc3\xa9", "\x7f", "\x80", "!#"};
    struct buf b;

    buf_init(&b, 0);
    for (size_t f = 0; f < sizeof(fills) / sizeof(fills[0]); f++)
        for (size_t len = 1; len <= 19; len++)
            for (size_t pos = 0; pos < len; pos++)
                for (int c = 0; c < 256; c++) {
                    unsigned char s[32];
                    char want[256];
                    size_t fl = strlen(fills[f]), wl;
                    for (size_t i = 0; i < len; i++)
                        s[i] = (unsigned char)fills[f][i % fl];
                    s[pos] = (unsigned char)c;
                    wl = ref_escape(s, len, want);
                    buf_reset(&b);
                    cr_assert_eq(jsonw_str(&b, (const char *)s, len), 0);
                    cr_assert_eq(b.len, wl, "byte %d at %zu of %zu", c, pos,
                                 len);
                    cr_assert_eq(memcmp(b.data, want, wl), 0,
                                 "byte %d at %zu of %zu", c, pos, len);
                }
    buf_free(&b);
}

Test(jsonw, integers)
{
    struct buf b;

    buf_init(&b, 0);
    cr_assert_eq(buf_append_str(&b, "{\"a\":"), 0);
    cr_assert_eq(jsonw_ll(&b, 0), 0);
    cr_assert_eq(jsonw_field_ll(&b, "n", -42), 0);
    cr_assert_eq(jsonw_field_ll(&b, "max", LLONG_MAX), 0);
    cr_assert_eq(jsonw_field_ll(&b, "min", LLONG_MIN), 0);
    cr_assert_eq(jsonw_field_ll(&b, "t", 1234567890), 0);
    cr_assert_eq(buf_append_str(&b, "}"), 0);
    cr_assert_str_eq(b.data, "{\"a\":0,\"n\":-42,\"max\":9223372036854775807,"
                             "\"min\":-9223372036854775808,\"t\":1234567890}");
    buf_free(&b);
}

Test(jsonw, fields)
{
    struct buf b;

    buf_init(&b, 0);
    cr_assert_eq(buf_append_str(&b, "{\"a\":1"), 0);
    cr_assert_eq(jsonw_field(&b, "n", "[1,2]"), 0);
    cr_assert_eq(jsonw_field_str(&b, "s", "x\"y"), 0);
    cr_assert_eq(jsonw_field_str(&b, "e", ""), 0);
    cr_assert_eq(jsonw_field_str(&b, "z", NULL), 0);
    cr_assert_eq(buf_append_str(&b, "}"), 0);
    cr_assert_str_eq(b.data, "{\"a\":1,\"n\":[1,2],\"s\":\"x\\\"y\",\"e\":null,"
                             "\"z\":null}");
    buf_free(&b);
}

Test(jsonw, over_the_cap)
{
    struct buf b;

    buf_init(&b, 8);
    cr_assert_eq(jsonw_str(&b, "abcdef", 6), 0); /* 8 bytes with quotes */
    cr_assert_eq(jsonw_str(&b, "x", 1), -1);
    buf_reset(&b);
    cr_assert_eq(jsonw_str(&b, "\n\n\n\n", 4), -1); /* 10 escaped */
    buf_free(&b);
}
