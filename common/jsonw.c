/* jsonw: the JSON string writer behind jsonw.h -- escapes only what JSON
 * requires and appends unescaped runs in one piece. */
#include <string.h>

#include "jsonscan.h"
#include "jsonw.h"

int
jsonw_str(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;

    if (buf_append(b, "\"", 1) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c;
        char esc[6];
        size_t el = 2;
        /* eight plain bytes at a time (a generated text is mostly plain) */
        while (n - i >= 8 && jsonscan_noescape8(s + i))
            i += 8;
        if (i >= n)
            break;
        c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (i > run && buf_append(b, s + run, i - run) < 0)
            return -1;
        esc[0] = '\\';
        esc[1] = (char)(c == '"'    ? '"'
                        : c == '\\' ? '\\'
                        : c == '\n' ? 'n'
                        : c == '\r' ? 'r'
                        : c == '\t' ? 't'
                                    : 'u');
        if (esc[1] == 'u') { /* \u00XX */
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            el = 6;
        }
        if (buf_append(b, esc, el) < 0)
            return -1;
        run = i + 1;
    }
    if (n > run && buf_append(b, s + run, n - run) < 0)
        return -1;
    return buf_append(b, "\"", 1);
}

/* ,"name": */
static int
key(struct buf *b, const char *name)
{
    return buf_append_str(b, ",\"") < 0 || buf_append_str(b, name) < 0 ||
                   buf_append_str(b, "\":") < 0
               ? -1
               : 0;
}

int
jsonw_field(struct buf *b, const char *name, const char *value)
{
    return key(b, name) < 0 ? -1 : buf_append_str(b, value);
}

int
jsonw_field_str(struct buf *b, const char *name, const char *value)
{
    if (key(b, name) < 0)
        return -1;
    if (!value || !*value)
        return buf_append_str(b, "null");
    return jsonw_str(b, value, strlen(value));
}

int
jsonw_ll(struct buf *b, long long v)
{
    char d[24];
    size_t i = sizeof(d);
    unsigned long long u =
        v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

    do {
        d[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    if (v < 0)
        d[--i] = '-';
    return buf_append(b, d + i, sizeof(d) - i);
}

int
jsonw_field_ll(struct buf *b, const char *name, long long v)
{
    return key(b, name) < 0 ? -1 : jsonw_ll(b, v);
}
