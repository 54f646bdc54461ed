/* The meta record of a job (see meta.h for the format and its version):
 * the bulk header writer and the record parser. */
#include "fmacros.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta.h"

#define HEADER_OPEN     "queued|"
#define HEADER_OPEN_LEN (sizeof(HEADER_OPEN) - 1)

int
meta_format_header(char *out, size_t n, int max_attempts, int prio,
                   int64_t now_ms)
{
    return snprintf(out, n, HEADER_OPEN "0|%d|%d|||%" PRId64 "|%" PRId64 "|\n",
                    max_attempts, prio, now_ms, now_ms);
}

int
meta_format_inline(char *out, size_t n, const char *id, int max_attempts,
                   int prio, int64_t now_ms)
{
    return snprintf(out, n,
                    "%c%s|" HEADER_OPEN "0|%d|%d|||%" PRId64 "|%" PRId64 "|\n",
                    META_INLINE_MARK, id, max_attempts, prio, now_ms, now_ms);
}

size_t
meta_header_len(const char *v)
{
    const char *h = v, *nl;

    if (v && v[0] == META_INLINE_MARK) {
        h = strchr(v + 1, '|');
        if (!h)
            return 0;
        h++;
    }
    if (h && !strncmp(h, HEADER_OPEN, HEADER_OPEN_LEN) &&
        (nl = strchr(h, '\n')))
        return (size_t)(nl - v) + 1;
    return 0;
}

/* Copy field [a, b) into out (n bytes), cut to fit. */
static void
field_copy(char *out, size_t n, const char *a, const char *b)
{
    size_t l = (size_t)(b - a);

    if (l >= n)
        l = n - 1;
    memcpy(out, a, l);
    out[l] = '\0';
}

/* Field [a, b) as a whole decimal number (may be negative). */
static int
field_num(const char *a, const char *b, long long *v)
{
    char tmp[24], *end;

    if (a == b || (size_t)(b - a) >= sizeof(tmp))
        return -1;
    memcpy(tmp, a, (size_t)(b - a));
    tmp[b - a] = '\0';
    *v = strtoll(tmp, &end, 10);
    return *end ? -1 : 0;
}

int
meta_parse(const char *s, size_t len, struct meta *m)
{
    const char *f[10], *end = s + len;
    long long num[5];
    int nf = 0;

    if (len == 0)
        return -1;
    if (s[0] >= '0' && s[0] <= '9')
        return -2; /* "N|...": a later version */
    if (s[0] < 'a' || s[0] > 'z')
        return -1;
    f[nf++] = s;
    for (const char *p = s; p < end; p++)
        if (*p == '|') {
            if (nf == 9)
                return -1;
            f[nf++] = p + 1;
        }
    if (nf != 9)
        return -1;
    f[9] = end + 1; /* field i is [f[i], f[i + 1] - 1) */
    if (field_num(f[1], f[2] - 1, &num[0]) || /* attempts */
        field_num(f[2], f[3] - 1, &num[1]) || /* max_attempts */
        field_num(f[3], f[4] - 1, &num[2]) || /* prio */
        field_num(f[6], f[7] - 1, &num[3]) || /* enqueued_ms */
        field_num(f[7], f[8] - 1, &num[4]))   /* updated_ms */
        return -1;
    field_copy(m->state, sizeof(m->state), f[0], f[1] - 1);
    m->attempts = (long)num[0];
    m->max_attempts = (long)num[1];
    m->prio = (int)num[2];
    field_copy(m->token, sizeof(m->token), f[4], f[5] - 1);
    field_copy(m->worker, sizeof(m->worker), f[5], f[6] - 1);
    m->enqueued_ms = num[3];
    m->updated_ms = num[4];
    field_copy(m->flags, sizeof(m->flags), f[8], f[9] - 1);
    return 0;
}
