/* RFC 3339 parse/format in epoch milliseconds; see timefmt.h. Calendar maths
 * are the proleptic Gregorian days_from_civil/civil_from_days algorithms
 * (H. Hinnant), so no timegm()/TZ state is involved. */
#include "fmacros.h"

#include <stdio.h>
#include <time.h>

#include "timefmt.h"

int64_t
time_now_ms(void)
{
    struct timespec ts;

    /* CLOCK_REALTIME can't fail with a valid pointer. */
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double
time_mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Days since 1970-01-01 of y-m-d (m 1..12). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int
is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Read exactly n decimal digits at *p; advances *p. -1 when not digits. */
static int
digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int
timefmt_rfc3339_parse(const char *s, int64_t *ms)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int year, mon, day, hh, mm, ss, frac = 0, off = 0;
    const char *p = s;
    int64_t t;

    if (!s || !ms)
        return -1;
    if (digits(&p, 4, &year) || *p++ != '-' || digits(&p, 2, &mon) ||
        *p++ != '-' || digits(&p, 2, &day))
        return -1;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -1;
    p++;
    if (digits(&p, 2, &hh) || *p++ != ':' || digits(&p, 2, &mm) ||
        *p++ != ':' || digits(&p, 2, &ss))
        return -1;
    if (*p == '.') {
        int n = 0;
        p++;
        if (*p < '0' || *p > '9')
            return -1;
        for (; *p >= '0' && *p <= '9'; p++, n++)
            if (n < 3)
                frac = frac * 10 + (*p - '0');
        for (; n < 3; n++)
            frac *= 10;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om))
            return -1;
        if (oh > 23 || om > 59)
            return -1;
        off = sign * (oh * 60 + om);
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;
    if (mon < 1 || mon > 12 || day < 1)
        return -1;
    if (day > mdays[mon - 1] + (mon == 2 && is_leap(year)))
        return -1;
    if (hh > 23 || mm > 59 || ss > 60)
        return -1;
    t = days_from_civil(year, mon, day) * 86400 + hh * 3600 + mm * 60 + ss;
    t -= (int64_t)off * 60;
    *ms = t * 1000 + frac;
    return 0;
}

/* v (0..99) as two digits at o */
static inline void
put2(char *o, int v)
{
    o[0] = (char)('0' + v / 10);
    o[1] = (char)('0' + v % 10);
}

void
timefmt_rfc3339(int64_t ms, char out[32])
{
    int64_t secs = ms / 1000, rem = ms % 1000, days, sod, y;
    int m, d;

    if (rem < 0) { /* floor division for times before 1970 */
        rem += 1000;
        secs--;
    }
    days = secs / 86400;
    sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    civil_from_days(days, &y, &m, &d);
    if (y >= 0 && y <= 9999) {
        /* the digits by hand: a result document carries one of these, and
         * snprintf was a third of the cost of writing it */
        put2(out, (int)(y / 100));
        put2(out + 2, (int)(y % 100));
        out[4] = '-';
        put2(out + 5, m);
        out[7] = '-';
        put2(out + 8, d);
        out[10] = 'T';
        put2(out + 11, (int)(sod / 3600));
        out[13] = ':';
        put2(out + 14, (int)(sod % 3600 / 60));
        out[16] = ':';
        put2(out + 17, (int)(sod % 60));
        out[19] = '.';
        out[20] = (char)('0' + rem / 100);
        put2(out + 21, (int)(rem % 100));
        out[23] = 'Z';
        out[24] = '\0';
        return;
    }
    snprintf(out, 32, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y, m,
             d, (int)(sod / 3600), (int)(sod % 3600 / 60), (int)(sod % 60),
             (int)rem);
}
