/* Unit tests for common/jsonw.c: strings escaped as JSON requires (and no
 * more), fields, null for empty strings, the buffer's cap. */
#include "fmacros.h"

#include <criterion/criterion.h>
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
