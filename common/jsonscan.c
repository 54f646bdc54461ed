/* jsonscan: JSON string decoding for the stream fast path, and the strict
 * RFC 8259 syntax scan that job lines pass before cJSON builds their tree;
 * the inline string pieces both use are in jsonscan.h. */
#include "fmacros.h"

#include <stddef.h>
#include <string.h>

#include "jsonscan.h"

/* Decode the raw bytes of a string js_str accepted into out, stopping once
 * max bytes or more are written (out needs max + 3 bytes; SIZE_MAX: all).
 * Returns the bytes written. */
size_t
jsonscan_decode(const char *s, size_t n, char *out, size_t max)
{
    const char *end = s + n;
    char *o = out;

    while (s < end && (size_t)(o - out) < max) {
        if (*s != '\\') {
            *o++ = *s++;
            continue;
        }
        char c = s[1];
        s += 2;
        switch (c) {
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'u': {
            unsigned long cp = (unsigned long)jsonscan_hex4(s);
            s += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                cp = 0x10000 + ((cp & 0x3FF) << 10 |
                                ((unsigned long)jsonscan_hex4(s + 2) & 0x3FF));
                s += 6;
            }
            if (cp < 0x80) {
                *o++ = (char)cp;
            } else if (cp < 0x800) {
                *o++ = (char)(0xC0 | cp >> 6);
                *o++ = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                *o++ = (char)(0xE0 | cp >> 12);
                *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
                *o++ = (char)(0x80 | (cp & 0x3F));
            } else {
                *o++ = (char)(0xF0 | cp >> 18);
                *o++ = (char)(0x80 | (cp >> 12 & 0x3F));
                *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
                *o++ = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default: /* '"', '\\', '/' */
            *o++ = c;
        }
    }
    return (size_t)(o - out);
}

/* The decoded length of a string js_str accepted. */
size_t
jsonscan_decoded_len(const char *s, size_t n)
{
    const char *end = s + n;
    size_t len = 0;

    while (s < end) {
        if (*s != '\\') {
            s++;
        } else if (s[1] != 'u') {
            s += 2;
        } else {
            long cp = jsonscan_hex4(s + 2);
            s += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                s += 6;
                len += 3;
            } else {
                len += cp < 0x80 ? 0 : cp < 0x800 ? 1 : 2;
            }
        }
        len++;
    }
    return len;
}

/* ---- strict JSON syntax (RFC 8259) --------------------------------------
 * cJSON accepts more than JSON (raw control characters in strings, "01",
 * "1.", any byte <= 32 as whitespace) and turns "\u0000" into a string end.
 * This scan rejects all of that before cJSON builds the tree, bounds the
 * nesting depth, and names the byte offset of the first problem. */

struct jscan {
    const char *s;
    size_t len, pos;
    int depth;
    const char *what; /* reason of the first error */
};

static int js_value(struct jscan *j);

static int
js_fail(struct jscan *j, const char *what)
{
    j->what = what;
    return -1;
}

static void
js_ws(struct jscan *j)
{
    while (j->pos < j->len) {
        char c = j->s[j->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        j->pos++;
    }
}

static int
js_string(struct jscan *j)
{
    j->pos++; /* the opening quote */
    for (;;) {
        unsigned char c;
        size_t at;
        int n;

        while (j->pos + 8 <= j->len && jsonscan_plain8(j->s + j->pos))
            j->pos += 8;
        if (j->pos >= j->len)
            return js_fail(j, "unterminated string");
        c = (unsigned char)j->s[j->pos];
        if (c == '"') {
            j->pos++;
            return 0;
        }
        if (c < 0x20)
            return js_fail(j, "control character in string (escape it)");
        if (c != '\\') {
            j->pos++;
            continue;
        }
        if (j->pos + 1 >= j->len) {
            j->pos = j->len;
            return js_fail(j, "unterminated string");
        }
        c = (unsigned char)j->s[j->pos + 1];
        if (jsonscan_simple_escape(c)) {
            j->pos += 2;
            continue;
        }
        if (c != 'u')
            return js_fail(j, "invalid escape in string");
        n = jsonscan_uescape(j->s + j->pos, j->len - j->pos, &at);
        if (n > 0) {
            j->pos += (size_t)n;
            continue;
        }
        j->pos += at;
        return js_fail(j, n == JSONSCAN_U_TRUNCATED ? "truncated \\u escape"
                          : n == JSONSCAN_U_BADHEX  ? "invalid \\u escape"
                          : n == JSONSCAN_U_NUL
                              ? "escaped NUL (\\u0000) in string"
                              : "unpaired surrogate in \\u escape");
    }
}

static int
js_digits(struct jscan *j)
{
    size_t start = j->pos;

    while (j->pos < j->len && j->s[j->pos] >= '0' && j->s[j->pos] <= '9')
        j->pos++;
    return j->pos > start ? 0 : -1;
}

static int
js_number(struct jscan *j)
{
    if (j->s[j->pos] == '-')
        j->pos++;
    if (j->pos < j->len && j->s[j->pos] == '0') {
        j->pos++;
        if (j->pos < j->len && j->s[j->pos] >= '0' && j->s[j->pos] <= '9')
            return js_fail(j, "leading zero in number");
    } else if (js_digits(j) < 0) {
        return js_fail(j, "invalid number");
    }
    if (j->pos < j->len && j->s[j->pos] == '.') {
        j->pos++;
        if (js_digits(j) < 0)
            return js_fail(j, "digit expected after '.' in number");
    }
    if (j->pos < j->len && (j->s[j->pos] == 'e' || j->s[j->pos] == 'E')) {
        j->pos++;
        if (j->pos < j->len && (j->s[j->pos] == '+' || j->s[j->pos] == '-'))
            j->pos++;
        if (js_digits(j) < 0)
            return js_fail(j, "digit expected in number exponent");
    }
    return 0;
}

static int
js_word(struct jscan *j, const char *w)
{
    size_t n = strlen(w);

    if (j->len - j->pos < n || memcmp(j->s + j->pos, w, n) != 0)
        return js_fail(j, "unexpected character");
    j->pos += n;
    return 0;
}

/* NOLINTBEGIN(misc-no-recursion): js_container and js_value recurse once
 * per nesting level, and js_container fails beyond JSONSCAN_MAX_DEPTH (64). */
static int
js_container(struct jscan *j, char close)
{
    if (++j->depth > JSONSCAN_MAX_DEPTH)
        return js_fail(j, "nested deeper than 64 levels");
    j->pos++; /* '{' or '[' */
    js_ws(j);
    if (j->pos < j->len && j->s[j->pos] == close) {
        j->pos++;
        j->depth--;
        return 0;
    }
    for (;;) {
        if (close == '}') {
            js_ws(j);
            if (j->pos >= j->len || j->s[j->pos] != '"')
                return js_fail(j, "expected a string key");
            if (js_string(j) < 0)
                return -1;
            js_ws(j);
            if (j->pos >= j->len || j->s[j->pos] != ':')
                return js_fail(j, "expected ':' after key");
            j->pos++;
        }
        if (js_value(j) < 0)
            return -1;
        js_ws(j);
        if (j->pos < j->len && j->s[j->pos] == ',') {
            j->pos++;
            continue;
        }
        if (j->pos < j->len && j->s[j->pos] == close) {
            j->pos++;
            j->depth--;
            return 0;
        }
        return js_fail(j, close == '}' ? "expected ',' or '}'"
                                       : "expected ',' or ']'");
    }
}

static int
js_value(struct jscan *j)
{
    char c;

    js_ws(j);
    if (j->pos >= j->len)
        return js_fail(j, "unexpected end of input");
    c = j->s[j->pos];
    if (c == '{')
        return js_container(j, '}');
    if (c == '[')
        return js_container(j, ']');
    if (c == '"')
        return js_string(j);
    if (c == '-' || (c >= '0' && c <= '9'))
        return js_number(j);
    if (c == 't')
        return js_word(j, "true");
    if (c == 'f')
        return js_word(j, "false");
    if (c == 'n')
        return js_word(j, "null");
    return js_fail(j, "unexpected character");
}
/* NOLINTEND(misc-no-recursion) */

int
jsonscan_check(const char *s, size_t len, size_t *at, const char **what)
{
    struct jscan j = {s, len, 0, 0, NULL};

    if (js_value(&j) == 0) {
        js_ws(&j);
        if (j.pos == len)
            return 0;
        js_fail(&j, "unexpected data after the JSON value");
    }
    *at = j.pos;
    *what = j.what;
    return -1;
}
