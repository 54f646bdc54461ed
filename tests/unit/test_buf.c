/* Unit tests of buf_grow() and buf_reserve() (common/buf.c): room made in
 * one step for a record the caller writes itself, the NUL after it, the
 * size cap. */
#include "fmacros.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "buf.h"

Test(buf, grow_gives_room_and_keeps_the_nul)
{
    struct buf b;
    char *p;

    buf_init(&b, 0);
    cr_assert_eq(buf_append(&b, "ab", 2), 0);
    p = buf_grow(&b, 1000); /* past the first allocation: realloc */
    cr_assert_not_null(p);
    cr_assert_eq(p, b.data + 2);
    cr_assert_eq(b.len, 1002);
    cr_assert_eq(b.data[1002], '\0');
    memset(p, 'x', 1000);
    cr_assert_eq(memcmp(b.data, "abxx", 4), 0);
    cr_assert_eq(strlen(b.data), 1002);
    buf_free(&b);
    /* on an empty buffer too */
    p = buf_grow(&b, 3);
    cr_assert_not_null(p);
    memcpy(p, "xyz", 3);
    cr_assert_str_eq(b.data, "xyz");
    buf_free(&b);
}

Test(buf, grow_refuses_past_the_cap)
{
    struct buf b;

    buf_init(&b, 10);
    cr_assert_not_null(buf_grow(&b, 10));
    errno = 0;
    cr_assert_null(buf_grow(&b, 1));
    cr_assert_eq(errno, EMSGSIZE);
    cr_assert_eq(b.len, 10, "unchanged");
    buf_free(&b);
}

Test(buf, reserve_makes_room_and_adds_nothing)
{
    struct buf b;
    char *before, xs[90];

    buf_init(&b, 100);
    cr_assert_eq(buf_append(&b, "ab", 2), 0);
    cr_assert_eq(buf_reserve(&b, 90), 0);
    cr_assert_eq(b.len, 2);
    cr_assert_str_eq(b.data, "ab");
    cr_assert_geq(b.cap, 93);
    before = b.data;
    memset(xs, 'x', sizeof(xs)); /* the room is there: no realloc below */
    cr_assert_eq(buf_append(&b, xs, sizeof(xs)), 0);
    cr_assert_eq(b.data, before);
    errno = 0;
    cr_assert_eq(buf_reserve(&b, 9), -1); /* 92 + 9 > the cap of 100 */
    cr_assert_eq(errno, EMSGSIZE);
    cr_assert_eq(b.len, 92, "unchanged");
    buf_free(&b);
}
