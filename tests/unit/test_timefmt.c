/* Unit tests of RFC 3339 parsing and formatting (common/timefmt.c). */
#include "fmacros.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "timefmt.h"

static int64_t
ms_of(const char *s)
{
    int64_t ms = -42;

    cr_assert_eq(timefmt_rfc3339_parse(s, &ms), 0, "rejected %s", s);
    return ms;
}

Test(timefmt, parse)
{
    cr_assert_eq(ms_of("1970-01-01T00:00:00Z"), 0);
    cr_assert_eq(ms_of("1970-01-01T00:00:00.001Z"), 1);
    cr_assert_eq(ms_of("2025-01-31T09:00:00Z"), INT64_C(1738314000000));
    cr_assert_eq(ms_of("2025-01-31t09:00:00z"), INT64_C(1738314000000));
    cr_assert_eq(ms_of("2025-01-31 09:00:00Z"), INT64_C(1738314000000));
    cr_assert_eq(ms_of("2025-01-31T10:30:00+01:30"), INT64_C(1738314000000));
    cr_assert_eq(ms_of("2025-01-31T04:00:00-05:00"), INT64_C(1738314000000));
    cr_assert_eq(ms_of("2025-01-31T09:00:00.5Z"), INT64_C(1738314000500));
    cr_assert_eq(ms_of("2025-01-31T09:00:00.123999Z"), INT64_C(1738314000123));
    cr_assert_eq(ms_of("2024-02-29T00:00:00Z"), INT64_C(1709164800000));
    cr_assert_eq(ms_of("2000-02-29T00:00:00Z"), INT64_C(951782400000));
    cr_assert_eq(ms_of("1969-12-31T23:59:59.999Z"), -1);
    cr_assert_eq(ms_of("2016-12-31T23:59:60Z"), INT64_C(1483228800000));
    cr_assert_eq(ms_of("9999-12-31T23:59:59.999Z"), INT64_C(253402300799999));
}

Test(timefmt, parse_rejects)
{
    static const char *bad[] = {
        "",
        "2025-01-31",
        "2025-01-31T09:00:00",
        "2025-01-31T09:00Z",
        "2025-1-31T09:00:00Z",
        "2025-01-31T9:00:00Z",
        "2025-13-01T00:00:00Z",
        "2025-00-01T00:00:00Z",
        "2025-01-00T00:00:00Z",
        "2025-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2025-04-31T00:00:00Z",
        "2025-01-31T24:00:00Z",
        "2025-01-31T23:60:00Z",
        "2025-01-31T23:59:61Z",
        "2025-01-31T09:00:00.Z",
        "2025-01-31T09:00:00+0100",
        "2025-01-31T09:00:00+24:00",
        "2025-01-31T09:00:00+01:60",
        "2025-01-31T09:00:00Z ",
        " 2025-01-31T09:00:00Z",
        "2025-01-31T09:00:00UTC",
        "+2025-01-31T09:00:00Z",
        "２０２５-01-31T09:00:00Z",
    };
    int64_t ms = 7;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(timefmt_rfc3339_parse(bad[i], &ms), -1, "accepted '%s'",
                     bad[i]);
    cr_assert_eq(ms, 7);
    cr_assert_eq(timefmt_rfc3339_parse(NULL, &ms), -1);
}

Test(timefmt, format)
{
    char b[32];

    timefmt_rfc3339(0, b);
    cr_assert_str_eq(b, "1970-01-01T00:00:00.000Z");
    timefmt_rfc3339(INT64_C(1738314000123), b);
    cr_assert_str_eq(b, "2025-01-31T09:00:00.123Z");
    timefmt_rfc3339(-1, b);
    cr_assert_str_eq(b, "1969-12-31T23:59:59.999Z");
    timefmt_rfc3339(INT64_C(951782400000), b);
    cr_assert_str_eq(b, "2000-02-29T00:00:00.000Z");
    timefmt_rfc3339(INT64_C(-62167219200000), b); /* the first of year 0 */
    cr_assert_str_eq(b, "0000-01-01T00:00:00.000Z");
    timefmt_rfc3339(INT64_C(-62167219200001), b); /* the year before it */
    cr_assert_str_eq(b, "-001-12-31T23:59:59.999Z");
    timefmt_rfc3339(INT64_C(253402300799999), b); /* the last of 9999 */
    cr_assert_str_eq(b, "9999-12-31T23:59:59.999Z");
    timefmt_rfc3339(INT64_C(253402300800000), b);
    cr_assert_str_eq(b, "10000-01-01T00:00:00.000Z");
    timefmt_rfc3339(INT64_C(1234567890987), b);
    cr_assert_str_eq(b, "2009-02-13T23:31:30.987Z");
    timefmt_rfc3339(INT64_MAX, b);
    cr_assert_lt(strlen(b), 32);
    timefmt_rfc3339(INT64_MIN, b);
    cr_assert_lt(strlen(b), 32);
}

Test(timefmt, round_trip)
{
    char b[32];
    int64_t ms;

    for (int64_t t = -INT64_C(5000000000000); t < INT64_C(250000000000000);
         t += INT64_C(7777777777)) {
        timefmt_rfc3339(t, b);
        cr_assert_eq(timefmt_rfc3339_parse(b, &ms), 0, "%s", b);
        cr_assert_eq(ms, t, "%s: %lld != %lld", b, (long long)ms, (long long)t);
    }
}

Test(timefmt, now_is_plausible)
{
    int64_t a = time_now_ms(), b = time_now_ms();

    cr_assert_gt(a, INT64_C(1700000000000)); /* after Nov 2023 */
    cr_assert_geq(b, a);
}
