/* jsonw: the JSON string writer behind jsonw.h -- escapes only what JSON
 * requires and appends unescaped runs in one piece. */
#include <string.h>

#include "jsonw.h"

int
jsonw_str(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;

    if (buf_append(b, "\"", 1) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6];
        size_t el = 2;
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

int
jsonw_field(struct buf *b, const char *name, const char *value)
{
    return buf_append_str(b, ",\"") < 0 || buf_append_str(b, name) < 0 ||
                   buf_append_str(b, "\":") < 0 || buf_append_str(b, value) < 0
               ? -1
               : 0;
}

int
jsonw_field_str(struct buf *b, const char *name, const char *value)
{
    if (buf_append_str(b, ",\"") < 0 || buf_append_str(b, name) < 0 ||
        buf_append_str(b, "\":") < 0)
        return -1;
    if (!value || !*value)
        return buf_append_str(b, "null");
    return jsonw_str(b, value, strlen(value));
}
