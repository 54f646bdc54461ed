/* UTF-8 validation and boundary helpers; see utf8.h. The validator follows
 * the well-formed byte sequence table of Unicode 15, section 3.9, table 3-7. */
#include "fmacros.h"

#include <stdint.h>
#include <string.h>

#include "utf8.h"

/* Whether the 8 bytes at p are all ASCII. */
static int
ascii8(const unsigned char *p)
{
    uint64_t w;

    memcpy(&w, p, sizeof(w));
    return (w & 0x8080808080808080ULL) == 0;
}

int
utf8_check(const char *s, size_t len, size_t *bad_off)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        unsigned char c = p[i];
        size_t need;
        unsigned char lo = 0x80, hi = 0xBF; /* range of the 2nd byte */

        if (i + 8 <= len && ascii8(p + i)) { /* the common case, 8 at once */
            i += 8;
            continue;
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c == 0xE0) {
            need = 2;
            lo = 0xA0; /* no overlongs */
        } else if (c == 0xED) {
            need = 2;
            hi = 0x9F; /* no surrogates U+D800..U+DFFF */
        } else if (c >= 0xE1 && c <= 0xEF) {
            need = 2;
        } else if (c == 0xF0) {
            need = 3;
            lo = 0x90; /* no overlongs */
        } else if (c >= 0xF1 && c <= 0xF3) {
            need = 3;
        } else if (c == 0xF4) {
            need = 3;
            hi = 0x8F; /* nothing above U+10FFFF */
        } else {
            goto bad; /* 0x80..0xC1 (continuation, overlong), 0xF5..0xFF */
        }
        if (len - i <= need)
            goto bad;
        if (p[i + 1] < lo || p[i + 1] > hi)
            goto bad;
        for (size_t k = 2; k <= need; k++)
            if (p[i + k] < 0x80 || p[i + k] > 0xBF)
                goto bad;
        i += need + 1;
    }
    return 1;
bad:
    if (bad_off)
        *bad_off = i;
    return 0;
}

int
utf8_valid(const char *s, size_t len)
{
    return utf8_check(s, len, NULL);
}

size_t
utf8_count(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;

    size_t i = 0;

    for (; i + 8 <= len && ascii8(p + i); i += 8)
        n += 8;
    for (; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            n++;
    return n;
}

size_t
utf8_truncate(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = len, k = 0, want;
    unsigned char lead;

    /* Step back over at most 3 continuation bytes to the last lead byte. */
    while (k < 3 && i > 0 && (p[i - 1] & 0xC0) == 0x80) {
        i--;
        k++;
    }
    if (i == 0)
        return len;
    lead = p[i - 1];
    if (lead < 0xC0)
        return len; /* ASCII, or not UTF-8 at all: leave it alone */
    want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    return k + 1 >= want ? len : i - 1;
}
