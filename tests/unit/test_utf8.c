/* Unit tests of UTF-8 validation and boundary helpers (common/utf8.c). */
#include "fmacros.h"

#include <criterion/criterion.h>
#include <string.h>

#include "utf8.h"

static int
valid(const char *s)
{
    return utf8_valid(s, strlen(s));
}

Test(utf8, accepts_every_length_and_the_edges)
{
    cr_assert(utf8_valid("", 0));
    cr_assert(valid("plain ascii \x7f"));
    cr_assert(utf8_valid("a\0b", 3));     /* NUL is valid UTF-8 */
    cr_assert(valid("\xc2\x80"));         /* U+0080, smallest 2-byte */
    cr_assert(valid("\xdf\xbf"));         /* U+07FF */
    cr_assert(valid("\xe0\xa0\x80"));     /* U+0800 */
    cr_assert(valid("\xed\x9f\xbf"));     /* U+D7FF, before surrogates */
    cr_assert(valid("\xee\x80\x80"));     /* U+E000, after them */
    cr_assert(valid("\xef\xbf\xbf"));     /* U+FFFF */
    cr_assert(valid("\xf0\x90\x80\x80")); /* U+10000 */
    cr_assert(valid("\xf4\x8f\xbf\xbf")); /* U+10FFFF, the last */
    cr_assert(valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
}

Test(utf8, rejects_with_offset)
{
    static const struct {
        const char *s;
        size_t off;
    } bad[] = {
        {"\x80", 0},             /* lone continuation */
        {"ab\xbf", 2},           /* lone continuation */
        {"\xc0\xaf", 0},         /* overlong '/' */
        {"\xc1\xbf", 0},         /* overlong */
        {"\xe0\x80\xaf", 0},     /* overlong 3-byte */
        {"\xe0\x9f\xbf", 0},     /* overlong U+07FF */
        {"\xf0\x8f\xbf\xbf", 0}, /* overlong 4-byte */
        {"x\xed\xa0\x80", 1},    /* U+D800 high surrogate */
        {"\xed\xbf\xbf", 0},     /* U+DFFF low surrogate */
        {"\xf4\x90\x80\x80", 0}, /* U+110000 */
        {"\xf5\x80\x80\x80", 0}, /* lead byte beyond U+10FFFF */
        {"\xff", 0},
        {"\xfe", 0},
        {"ok\xc3", 2},         /* truncated at the end */
        {"ok\xe2\x82", 2},     /* truncated 3-byte */
        {"ok\xf0\x9f\x98", 2}, /* truncated 4-byte */
        {"\xc3(", 0},          /* bad continuation */
        {"\xe2\x28\xa1", 0},
        {"\xf0\x9f\x98\x28", 0},
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t off = 999;
        cr_assert_not(valid(bad[i].s), "case %zu accepted", i);
        cr_assert_not(utf8_check(bad[i].s, strlen(bad[i].s), &off));
        cr_assert_eq(off, bad[i].off, "case %zu: offset %zu, want %zu", i, off,
                     bad[i].off);
    }
}

Test(utf8, length_is_respected)
{
    /* the invalid byte lies past len */
    cr_assert(utf8_valid("ab\xff", 2));
    /* a sequence cut by len is invalid */
    cr_assert_not(utf8_valid("\xc3\xa9", 1));
}

Test(utf8, count_and_truncate)
{
    const char *s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"; /* a é € 😀 */

    cr_assert_eq(utf8_count(s, strlen(s)), 4);
    cr_assert_eq(utf8_count("", 0), 0);
    cr_assert_eq(utf8_truncate(s, 0), 0);
    cr_assert_eq(utf8_truncate(s, 1), 1);
    cr_assert_eq(utf8_truncate(s, 2), 1); /* inside é */
    cr_assert_eq(utf8_truncate(s, 3), 3);
    cr_assert_eq(utf8_truncate(s, 4), 3); /* inside € */
    cr_assert_eq(utf8_truncate(s, 5), 3);
    cr_assert_eq(utf8_truncate(s, 6), 6);
    cr_assert_eq(utf8_truncate(s, 7), 6); /* inside 😀 */
    cr_assert_eq(utf8_truncate(s, 9), 6);
    cr_assert_eq(utf8_truncate(s, 10), 10);
}
