/* Job documents: raw-line checks, a strict JSON syntax scan, the validation
 * rules of schemas/job.schema.json, normalization and field accessors. */
#include "fmacros.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "jsonl.h"
#include "template.h"
#include "timefmt.h"
#include "utf8.h"
#include "uuid.h"

#define QUOTE_MAX 40 /* bytes of a user value quoted in a message */
#define QBUF      (QUOTE_MAX * 4 + 8) /* quote() output, \xNN escapes incl. */

/* Top-level fields, in the order job_validate() checks them. */
static const char *const job_fields[] = {"v",          "id",
                                         "prompt",     "messages",
                                         "template",   "vars",
                                         "system",     "model",
                                         "max_tokens", "temperature",
                                         "top_p",      "stop_sequences",
                                         "priority",   "run_at",
                                         "delay_s",    "max_attempts",
                                         "timeout_s",  "idempotency_key",
                                         "metadata",   "max_continuations",
                                         NULL};
/* Indexes into job_fields. */
enum {
    F_V,
    F_ID,
    F_PROMPT,
    F_MESSAGES,
    F_TEMPLATE,
    F_VARS,
    F_SYSTEM,
    F_MODEL,
    F_MAX_TOKENS,
    F_TEMPERATURE,
    F_TOP_P,
    F_STOP_SEQUENCES,
    F_PRIORITY,
    F_RUN_AT,
    F_DELAY_S,
    F_MAX_ATTEMPTS,
    F_TIMEOUT_S,
    F_IDEMPOTENCY_KEY,
    F_METADATA,
    F_MAX_CONTINUATIONS,
    F_COUNT
};

/* Their lengths (fast_scan). */
static const size_t job_field_len[] = {1, 2,  6, 8, 8, 4,  6, 5,  10, 11,
                                       5, 14, 8, 6, 7, 12, 9, 15, 8,  17};

_Static_assert(sizeof(job_field_len) / sizeof(job_field_len[0]) == F_COUNT,
               "job_field_len follows job_fields");

/* Index of key in job_fields, or -1. */
static int
field_index(const char *key)
{
    for (int i = 0; job_fields[i]; i++)
        if (key[0] == job_fields[i][0] && strcmp(key, job_fields[i]) == 0)
            return i;
    return -1;
}
static const char *const message_fields[] = {"role", "content", NULL};
static const char *const block_fields[] = {"type", "text", NULL};

/* ---- messages ----------------------------------------------------------- */

int
job_err_set(struct job_err *err, const char *field, const char *fmt, ...)
{
    va_list ap;
    size_t n;

    if (!err)
        return -1;
    n = strlen(field);
    if (n >= sizeof err->field)
        n = utf8_truncate(field, sizeof err->field - 1);
    memcpy(err->field, field, n);
    err->field[n] = '\0';
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->msg[utf8_truncate(err->msg, strlen(err->msg))] = '\0';
    return -1;
}

void
job_format_number(double d, char out[32])
{
    if (isnan(d)) {
        snprintf(out, 32, "nan");
        return;
    }
    if (isinf(d)) {
        snprintf(out, 32, "%s", d < 0 ? "-inf" : "inf");
        return;
    }
    if (d > -1e15 && d < 1e15 && d == (double)(long long)d) {
        snprintf(out, 32, "%lld", (long long)d);
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, 32, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            return;
    }
}

/* 'value' for messages: at most QUOTE_MAX bytes (cut at a character, "..."
 * appended), control characters shown as \xNN. */
static const char *
quote(char *buf, size_t cap, const char *s)
{
    size_t n = strlen(s), cut = n > QUOTE_MAX ? utf8_truncate(s, QUOTE_MAX) : n;
    size_t o = 0;

    buf[o++] = '\'';
    for (size_t i = 0; i < cut && o + 6 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F)
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02X", c);
        else
            buf[o++] = (char)c;
    }
    buf[o] = '\0';
    snprintf(buf + o, cap - o, "%s'", cut < n ? "..." : "");
    return buf;
}

static const char *
type_name(const cJSON *v)
{
    if (cJSON_IsString(v))
        return "string";
    if (cJSON_IsNumber(v))
        return "number";
    if (cJSON_IsBool(v))
        return "boolean";
    if (cJSON_IsNull(v))
        return "null";
    if (cJSON_IsArray(v))
        return "array";
    if (cJSON_IsObject(v))
        return "object";
    return "invalid value";
}

/* A number's text for "got 2.5"; the type name for anything else. */
static const char *
got(char *buf, size_t cap, const cJSON *v)
{
    if (cJSON_IsNumber(v)) {
        char num[32];
        job_format_number(v->valuedouble, num);
        snprintf(buf, cap, "%s", num);
    } else {
        snprintf(buf, cap, "%s", type_name(v));
    }
    return buf;
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
js_hex4(struct jscan *j, unsigned *out)
{
    unsigned v = 0;

    if (j->len - j->pos < 4)
        return js_fail(j, "truncated \\u escape");
    for (int i = 0; i < 4; i++) {
        char c = j->s[j->pos + (size_t)i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return js_fail(j, "invalid \\u escape");
    }
    j->pos += 4;
    *out = v;
    return 0;
}

/* Whether the 8 bytes at p are plain string bytes: ASCII, not a control
 * character, not '"' or '\\' (SWAR; the byte loops handle the rest). */
static int
plain8(const char *p)
{
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    uint64_t w, q, b;

    memcpy(&w, p, sizeof(w));
    q = w ^ (ones * '"');
    b = w ^ (ones * '\\');
    return ((w | ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) |
             ((b - ones) & ~b)) &
            high) == 0;
}

static int
js_string(struct jscan *j)
{
    j->pos++; /* the opening quote */
    for (;;) {
        unsigned char c;
        unsigned u, lo;

        while (j->pos + 8 <= j->len && plain8(j->s + j->pos))
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
        if (++j->pos >= j->len)
            return js_fail(j, "unterminated string");
        c = (unsigned char)j->s[j->pos];
        if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' ||
            c == 'n' || c == 'r' || c == 't') {
            j->pos++;
            continue;
        }
        if (c != 'u') {
            j->pos--;
            return js_fail(j, "invalid escape in string");
        }
        j->pos++;
        if (js_hex4(j, &u) < 0)
            return -1;
        if (u == 0) {
            j->pos -= 6;
            return js_fail(j, "escaped NUL (\\u0000) in string");
        }
        if (u >= 0xDC00 && u <= 0xDFFF) {
            j->pos -= 6;
            return js_fail(j, "unpaired surrogate in \\u escape");
        }
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (j->len - j->pos < 6 || j->s[j->pos] != '\\' ||
                j->s[j->pos + 1] != 'u') {
                j->pos -= 6;
                return js_fail(j, "unpaired surrogate in \\u escape");
            }
            j->pos += 2;
            if (js_hex4(j, &lo) < 0)
                return -1;
            if (lo < 0xDC00 || lo > 0xDFFF) {
                j->pos -= 12;
                return js_fail(j, "unpaired surrogate in \\u escape");
            }
        }
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
 * per nesting level, and js_container fails beyond JOB_MAX_DEPTH (64). */
static int
js_container(struct jscan *j, char close)
{
    if (++j->depth > JOB_MAX_DEPTH)
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

/* 0 when s[0..len) is exactly one JSON value with optional whitespace. */
static int
json_syntax_check(const char *s, size_t len, struct job_err *err)
{
    struct jscan j = {s, len, 0, 0, NULL};

    if (js_value(&j) == 0) {
        js_ws(&j);
        if (j.pos == len)
            return 0;
        js_fail(&j, "unexpected data after the JSON value");
    }
    return job_err_set(err, "", "invalid JSON at byte %zu: %s", j.pos, j.what);
}

/* ---- generic tree checks ------------------------------------------------ */

/* out = parent + ".key" (or "key" at the top) or parent + "[idx]" when
 * idx >= 0; cut to cap at a character boundary. */
static void
child_path(char *out, size_t cap, const char *parent, const cJSON *item,
           int idx)
{
    char num[16];
    const char *parts[3];
    size_t n = 0;

    parts[0] = parent;
    if (idx >= 0) {
        snprintf(num, sizeof num, "[%d]", idx);
        parts[1] = num;
        parts[2] = "";
    } else {
        parts[1] = *parent ? "." : "";
        parts[2] = item->string;
    }
    for (int i = 0; i < 3; i++)
        for (const char *p = parts[i]; *p && n + 1 < cap; p++)
            out[n++] = *p;
    out[utf8_truncate(out, n)] = '\0';
}

struct keyref {
    const char *key;
    int idx;
};

static int
keyref_cmp(const void *a, const void *b)
{
    const struct keyref *x = a, *y = b;
    int c = strcmp(x->key, y->key);

    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* The first key of obj (in document order) that repeats an earlier one, in
 * *dup; 0 = none, -1 = out of memory. Sorts when the object is large, so a
 * 1 MiB line of distinct keys stays fast. */
static int
find_duplicate(const cJSON *obj, const cJSON **dup)
{
    const cJSON *c, *d;
    struct keyref *refs;
    int n = 0, best = -1, i;

    *dup = NULL;
    for (c = obj->child; c; c = c->next)
        n++;
    if (n <= 16) {
        for (c = obj->child; c; c = c->next)
            for (d = obj->child; d != c; d = d->next)
                if (strcmp(c->string, d->string) == 0) {
                    *dup = c;
                    return 0;
                }
        return 0;
    }
    refs = malloc((size_t)n * sizeof *refs);
    if (!refs)
        return -1;
    for (c = obj->child, i = 0; c; c = c->next, i++) {
        refs[i].key = c->string;
        refs[i].idx = i;
    }
    qsort(refs, (size_t)n, sizeof *refs, keyref_cmp);
    for (i = 1; i < n; i++)
        if (strcmp(refs[i].key, refs[i - 1].key) == 0 &&
            (best < 0 || refs[i].idx < best))
            best = refs[i].idx;
    free(refs);
    if (best >= 0) {
        for (c = obj->child, i = 0; i < best; c = c->next, i++)
            ;
        *dup = c;
    }
    return 0;
}

/* Depth, duplicate keys, UTF-8 of keys and strings, finite numbers: the
 * checks that apply anywhere in the document, metadata included. Recursion
 * stops at depth JOB_MAX_DEPTH (the syntax scan bounds it as well). */
/* NOLINTBEGIN(misc-no-recursion) */
static int
walk(const cJSON *node, const char *path, int depth, struct job_err *err)
{
    char cpath[256];
    const cJSON *c;
    size_t off;
    int idx = 0;

    if (depth > JOB_MAX_DEPTH)
        return job_err_set(err, path, "nested deeper than %d levels",
                           JOB_MAX_DEPTH);
    if (cJSON_IsNumber(node) && !isfinite(node->valuedouble))
        return job_err_set(err, path, "%s is out of range (not finite)",
                           *path ? path : "number");
    if (cJSON_IsString(node)) {
        if (!node->valuestring)
            return job_err_set(err, path, "%s is not a valid string", path);
        if (!utf8_check(node->valuestring, strlen(node->valuestring), &off))
            return job_err_set(err, path, "%s is not valid UTF-8 (byte %zu)",
                               path, off);
    }
    if (!cJSON_IsObject(node) && !cJSON_IsArray(node))
        return 0;
    if (cJSON_IsObject(node)) {
        const cJSON *dup;
        for (c = node->child; c; c = c->next) {
            if (!c->string)
                return job_err_set(err, path, "object member without a key");
            if (!utf8_check(c->string, strlen(c->string), &off)) {
                char q[QBUF];
                return job_err_set(err, path,
                                   "key %s is not valid UTF-8 (byte %zu)",
                                   quote(q, sizeof q, c->string), off);
            }
        }
        if (find_duplicate(node, &dup) < 0)
            return job_err_set(err, "", "out of memory");
        if (dup) {
            char q[QBUF];
            child_path(cpath, sizeof cpath, path, dup, -1);
            return job_err_set(err, cpath, "duplicate field %s",
                               quote(q, sizeof q, dup->string));
        }
    }
    for (c = node->child; c; c = c->next, idx++) {
        child_path(cpath, sizeof cpath, path, c,
                   cJSON_IsArray(node) ? idx : -1);
        if (walk(c, cpath, depth + 1, err) < 0)
            return -1;
    }
    return 0;
}
/* NOLINTEND(misc-no-recursion) */

/* Edit distance of two short ASCII-ish strings, case-insensitive; larger
 * strings count as far apart. */
static size_t
distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[65];

    if (la > 64 || lb > 64)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            char ca = a[i - 1], cb = b[j - 1];
            if (ca >= 'A' && ca <= 'Z')
                ca = (char)(ca - 'A' + 'a');
            if (cb >= 'A' && cb <= 'Z')
                cb = (char)(cb - 'A' + 'a');
            size_t best = diag + (ca != cb);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static int
known(const char *key, const char *const *names)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(key, names[i]) == 0)
            return 1;
    return 0;
}

/* "unknown field 'x'", with a "did you mean" for near misses. */
static int
check_unknown(const cJSON *obj, const char *path, const char *const *names,
              struct job_err *err)
{
    for (const cJSON *c = obj->child; c; c = c->next) {
        char cpath[256], q[QBUF];
        const char *best = NULL;
        size_t bestd = 3;

        if (known(c->string, names))
            continue;
        for (int i = 0; names[i]; i++) {
            size_t d = distance(c->string, names[i]);
            /* a near miss, not just any short word */
            if (d > 0 && d * 3 > strlen(c->string))
                continue;
            if (d < bestd) {
                bestd = d;
                best = names[i];
            }
        }
        child_path(cpath, sizeof cpath, path, c, -1);
        if (best)
            return job_err_set(err, cpath,
                               "unknown field %s (did you mean '%s'?)",
                               quote(q, sizeof q, c->string), best);
        return job_err_set(err, cpath, "unknown field %s",
                           quote(q, sizeof q, c->string));
    }
    return 0;
}

/* ---- typed field checks ------------------------------------------------- */

static const cJSON *
get(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static int
check_int(const cJSON *v, const char *name, long long lo, long long hi,
          struct job_err *err)
{
    char g[40];
    double d;

    if (!cJSON_IsNumber(v))
        return job_err_set(err, name, "%s must be an integer, got %s", name,
                           type_name(v));
    d = v->valuedouble;
    if (d > -9e18 && d < 9e18 && d != (double)(long long)d)
        return job_err_set(err, name, "%s must be an integer, got %s", name,
                           got(g, sizeof g, v));
    if (d < (double)lo || d > (double)hi)
        return job_err_set(err, name,
                           "%s must be between %lld and %lld, got %s", name, lo,
                           hi, got(g, sizeof g, v));
    return 0;
}

/* A number in [lo, hi], or (lo, hi] when lo_excl. */
static int
check_num(const cJSON *v, const char *name, double lo, int lo_excl, double hi,
          struct job_err *err)
{
    char g[40], l[32], h[32];
    double d;

    if (!cJSON_IsNumber(v))
        return job_err_set(err, name, "%s must be a number, got %s", name,
                           type_name(v));
    d = v->valuedouble;
    if ((lo_excl ? d > lo : d >= lo) && d <= hi)
        return 0;
    job_format_number(lo, l);
    job_format_number(hi, h);
    if (lo_excl)
        return job_err_set(err, name,
                           "%s must be greater than %s and at most %s, got %s",
                           name, l, h, got(g, sizeof g, v));
    return job_err_set(err, name, "%s must be between %s and %s, got %s", name,
                       l, h, got(g, sizeof g, v));
}

/* A string of min..max characters (code points; max 0 = no limit). */
static int
check_str(const cJSON *v, const char *name, size_t min, size_t max,
          struct job_err *err)
{

    size_t n;

    if (!cJSON_IsString(v))
        return job_err_set(err, name, "%s must be a string, got %s", name,
                           type_name(v));
    n = utf8_count(v->valuestring, strlen(v->valuestring));
    if (n < min)
        return job_err_set(err, name, "%s must not be empty", name);
    if (max && n > max)
        return job_err_set(err, name, "%s is %zu characters; the limit is %zu",
                           name, n, max);
    return 0;
}

static int
check_id(const cJSON *v, struct job_err *err)
{
    char q[QBUF];

    if (check_str(v, "id", 1, JOB_ID_MAX, err) < 0)
        return -1;
    for (const char *p = v->valuestring; *p; p++) {
        char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
            (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
            c == '-')
            continue;
        return job_err_set(err, "id",
                           "id may only contain A-Z a-z 0-9 . _ : -, got %s",
                           quote(q, sizeof q, v->valuestring));
    }
    return 0;
}

static int
check_content(const cJSON *content, const char *path, struct job_err *err)
{
    char bpath[200], fpath[sizeof bpath + 8];
    int idx = 0;

    if (cJSON_IsString(content))
        return check_str(content, path, 1, 0, err);
    if (!cJSON_IsArray(content))
        return job_err_set(err, path,
                           "%s must be a string or an array of text blocks, "
                           "got %s",
                           path, type_name(content));
    if (!content->child)
        return job_err_set(err, path, "%s must not be empty", path);
    for (const cJSON *b = content->child; b; b = b->next, idx++) {
        const cJSON *type, *text;
        char q[QBUF];

        snprintf(bpath, sizeof bpath, "%s[%d]", path, idx);
        if (!cJSON_IsObject(b))
            return job_err_set(err, bpath, "%s must be an object, got %s",
                               bpath, type_name(b));
        snprintf(fpath, sizeof fpath, "%s.type", bpath);
        type = get(b, "type");
        if (!type)
            return job_err_set(err, fpath, "%s is required", fpath);
        if (check_str(type, fpath, 1, 0, err) < 0)
            return -1;
        if (strcmp(type->valuestring, "text") != 0)
            return job_err_set(err, fpath, "%s must be 'text', got %s", fpath,
                               quote(q, sizeof q, type->valuestring));
        /* type first: an image block should say "must be 'text'" rather
         * than "unknown field 'source'" */
        if (check_unknown(b, bpath, block_fields, err) < 0)
            return -1;
        snprintf(fpath, sizeof fpath, "%s.text", bpath);
        text = get(b, "text");
        if (!text)
            return job_err_set(err, fpath, "%s is required", fpath);
        /* The APIs reject empty text blocks, so an empty one would only
         * die later as a permanent error. */
        if (check_str(text, fpath, 1, 0, err) < 0)
            return -1;
    }
    return 0;
}

static int
check_messages(const cJSON *msgs, struct job_err *err)
{
    char mpath[64], fpath[96], q[QBUF];
    int idx = 0;

    if (!cJSON_IsArray(msgs))
        return job_err_set(err, "messages", "messages must be an array, got %s",
                           type_name(msgs));
    if (!msgs->child)
        return job_err_set(err, "messages", "messages must not be empty");
    for (const cJSON *m = msgs->child; m; m = m->next, idx++) {
        const cJSON *role, *content;

        snprintf(mpath, sizeof mpath, "messages[%d]", idx);
        if (!cJSON_IsObject(m))
            return job_err_set(err, mpath, "%s must be an object, got %s",
                               mpath, type_name(m));
        if (check_unknown(m, mpath, message_fields, err) < 0)
            return -1;
        snprintf(fpath, sizeof fpath, "%s.role", mpath);
        role = get(m, "role");
        if (!role)
            return job_err_set(err, fpath, "%s is required", fpath);
        if (check_str(role, fpath, 1, 0, err) < 0)
            return -1;
        if (strcmp(role->valuestring, "user") != 0 &&
            strcmp(role->valuestring, "assistant") != 0)
            return job_err_set(err, fpath,
                               "%s must be user or assistant, got %s%s", fpath,
                               quote(q, sizeof q, role->valuestring),
                               strcmp(role->valuestring, "system") == 0
                                   ? " (use the top-level system field)"
                                   : "");
        if (idx == 0 && strcmp(role->valuestring, "user") != 0)
            return job_err_set(err, fpath,
                               "the first message must have role user, got "
                               "%s",
                               quote(q, sizeof q, role->valuestring));
        snprintf(fpath, sizeof fpath, "%s.content", mpath);
        content = get(m, "content");
        if (!content)
            return job_err_set(err, fpath, "%s is required", fpath);
        if (check_content(content, fpath, err) < 0)
            return -1;
    }
    return 0;
}

static int
check_template(const cJSON *tmpl, const cJSON *vars, struct job_err *err)
{
    char q[QBUF], vpath[256];

    if (!cJSON_IsString(tmpl))
        return job_err_set(err, "template", "template must be a string, got %s",
                           type_name(tmpl));
    if (!template_name_valid(tmpl->valuestring))
        return job_err_set(err, "template",
                           "template must be a name of 1 to %d characters of "
                           "A-Z a-z 0-9 _ -, got %s",
                           TEMPLATE_NAME_MAX,
                           quote(q, sizeof q, tmpl->valuestring));
    if (!vars)
        return job_err_set(err, "vars",
                           "vars is required with template (an object; {} "
                           "when the template has no placeholders)");
    if (!cJSON_IsObject(vars))
        return job_err_set(err, "vars", "vars must be an object, got %s",
                           type_name(vars));
    for (const cJSON *v = vars->child; v; v = v->next) {
        if (cJSON_IsString(v) || cJSON_IsNumber(v) || cJSON_IsBool(v))
            continue;
        child_path(vpath, sizeof vpath, "vars", v, -1);
        return job_err_set(err, vpath,
                           "%s must be a string, number or boolean, got %s",
                           vpath, type_name(v));
    }
    return 0;
}

static int
check_stop_sequences(const cJSON *v, struct job_err *err)
{
    char path[40];
    int n = cJSON_GetArraySize(v), idx = 0;

    if (!cJSON_IsArray(v))
        return job_err_set(err, "stop_sequences",
                           "stop_sequences must be an array, got %s",
                           type_name(v));
    if (n < 1 || n > 8)
        return job_err_set(err, "stop_sequences",
                           "stop_sequences must have 1 to 8 entries, got %d",
                           n);
    for (const cJSON *s = v->child; s; s = s->next, idx++) {
        snprintf(path, sizeof path, "stop_sequences[%d]", idx);
        if (check_str(s, path, 1, 0, err) < 0)
            return -1;
    }
    return 0;
}

static int
check_metadata(const cJSON *v, struct job_err *err)
{
    char *s;
    size_t n;

    if (!cJSON_IsObject(v))
        return job_err_set(err, "metadata",
                           "metadata must be an object, got %s", type_name(v));
    s = cJSON_PrintUnformatted(v);
    if (!s)
        return job_err_set(err, "", "out of memory");
    n = strlen(s);
    cJSON_free(s);
    if (n > JOB_METADATA_MAX)
        return job_err_set(err, "metadata",
                           "metadata is %zu bytes serialized; the limit is %d",
                           n, JOB_METADATA_MAX);
    return 0;
}

/* Serialized size of job, or (size_t)-1 when out of memory. */
static size_t
job_size(const cJSON *job)
{
    char *s = cJSON_PrintUnformatted(job);
    size_t n;

    if (!s)
        return (size_t)-1;
    n = strlen(s);
    cJSON_free(s);
    return n;
}

static int
validate(const cJSON *job, int check_size, struct job_err *err)
{
    const cJSON *v, *prompt, *msgs, *tmpl, *vars, *temp, *top_p, *run_at,
        *delay;
    const cJSON *top[F_COUNT] = {NULL};
    const char *srcs[3];
    char g[40];
    int nsrc = 0;
    char q[QBUF];
    int64_t ms;

    if (!cJSON_IsObject(job))
        return job_err_set(err, "", "a job must be a JSON object, got %s",
                           job ? type_name(job) : "nothing");
    if (walk(job, "", 1, err) < 0)
        return -1;
    for (const cJSON *c = job->child; c; c = c->next) {
        int i = field_index(c->string);
        if (i < 0)
            return check_unknown(job, "", job_fields, err);
        top[i] = c; /* walk() rejected duplicate keys */
    }

    v = top[F_V];
    if (v && check_int(v, "v", -1000000000, 1000000000, err) < 0)
        return -1;
    if (v && v->valuedouble != 1)
        return job_err_set(err, "v",
                           "v must be 1 (the only job format version), got %s",
                           got(g, sizeof g, v));
    v = top[F_ID];
    if (v && check_id(v, err) < 0)
        return -1;

    prompt = top[F_PROMPT];
    msgs = top[F_MESSAGES];
    tmpl = top[F_TEMPLATE];
    vars = top[F_VARS];
    if (prompt)
        srcs[nsrc++] = "prompt";
    if (msgs)
        srcs[nsrc++] = "messages";
    if (tmpl)
        srcs[nsrc++] = "template";
    if (nsrc == 0)
        return job_err_set(err, "prompt",
                           "a job needs one of prompt, messages or template");
    if (nsrc > 1)
        return job_err_set(err, srcs[1],
                           "set only one of prompt, messages or template "
                           "(got %s and %s)",
                           srcs[0], srcs[1]);
    if (prompt && check_str(prompt, "prompt", 1, 0, err) < 0)
        return -1;
    if (msgs && check_messages(msgs, err) < 0)
        return -1;
    if (tmpl && check_template(tmpl, vars, err) < 0)
        return -1;
    if (vars && !tmpl)
        return job_err_set(err, "vars", "vars is only allowed with template");

    v = top[F_SYSTEM];
    if (v && check_str(v, "system", 0, 0, err) < 0)
        return -1;
    v = top[F_MODEL];
    if (v && check_str(v, "model", 1, 256, err) < 0)
        return -1;
    v = top[F_MAX_TOKENS];
    if (v && check_int(v, "max_tokens", 1, JOB_MAX_TOKENS_MAX, err) < 0)
        return -1;
    temp = top[F_TEMPERATURE];
    if (temp && check_num(temp, "temperature", 0, 0, 2, err) < 0)
        return -1;
    top_p = top[F_TOP_P];
    if (top_p && check_num(top_p, "top_p", 0, 1, 1, err) < 0)
        return -1;
    if (temp && top_p)
        return job_err_set(err, "top_p", "set temperature or top_p, not both");
    v = top[F_STOP_SEQUENCES];
    if (v && check_stop_sequences(v, err) < 0)
        return -1;
    v = top[F_PRIORITY];
    if (v && !cJSON_IsString(v))
        return job_err_set(err, "priority", "priority must be a string, got %s",
                           type_name(v));
    if (v && strcmp(v->valuestring, "high") != 0 &&
        strcmp(v->valuestring, "normal") != 0 &&
        strcmp(v->valuestring, "low") != 0)
        return job_err_set(err, "priority",
                           "priority must be high, normal or low, got %s",
                           quote(q, sizeof q, v->valuestring));
    run_at = top[F_RUN_AT];
    if (run_at && !cJSON_IsString(run_at))
        return job_err_set(err, "run_at", "run_at must be a string, got %s",
                           type_name(run_at));
    if (run_at && timefmt_rfc3339_parse(run_at->valuestring, &ms) < 0)
        return job_err_set(err, "run_at",
                           "run_at must be an RFC 3339 date-time such as "
                           "2025-01-31T09:00:00Z, got %s",
                           quote(q, sizeof q, run_at->valuestring));
    delay = top[F_DELAY_S];
    if (delay && check_num(delay, "delay_s", 0, 0, 31536000, err) < 0)
        return -1;
    if (run_at && delay)
        return job_err_set(err, "delay_s", "set run_at or delay_s, not both");
    v = top[F_MAX_ATTEMPTS];
    if (v && check_int(v, "max_attempts", 1, 100, err) < 0)
        return -1;
    v = top[F_TIMEOUT_S];
    if (v && check_int(v, "timeout_s", 1, 86400, err) < 0)
        return -1;
    v = top[F_IDEMPOTENCY_KEY];
    if (v && check_str(v, "idempotency_key", 1, 256, err) < 0)
        return -1;
    v = top[F_METADATA];
    if (v && check_metadata(v, err) < 0)
        return -1;
    v = top[F_MAX_CONTINUATIONS];
    if (v && check_int(v, "max_continuations", 0, 20, err) < 0)
        return -1;

    if (check_size) {
        size_t n = job_size(job);
        if (n == (size_t)-1)
            return job_err_set(err, "", "out of memory");
        if (n > JOB_MAX_BYTES)
            return job_err_set(err, "",
                               "job is %zu bytes serialized; the limit is %d",
                               n, JOB_MAX_BYTES);
    }
    return 0;
}

int
job_validate(const cJSON *job, struct job_err *err)
{
    return validate(job, 1, err);
}

/* ---- parse and normalize ------------------------------------------------ */

/* Put item under key at position idx of obj (0 = first); replaces nothing. */
static int
obj_insert(cJSON *obj, int idx, const char *key, cJSON *item)
{
    if (!cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        return -1;
    }
    /* Detaching keeps item->string, so it can be re-linked as a member. */
    cJSON_DetachItemViaPointer(obj, item);
    if (!cJSON_InsertItemInArray(obj, idx, item)) {
        cJSON_Delete(item);
        return -1;
    }
    return 0;
}

/* Render template + vars into prompt, in template's place. */
static int
render(cJSON *job, const struct job_opts *o, struct job_err *err)
{
    cJSON *tmpl = cJSON_GetObjectItemCaseSensitive(job, "template");
    const cJSON *vars = get(job, "vars");
    char *text, *out;
    size_t len;
    cJSON *prompt;

    text = template_load(o ? o->templates_dir : NULL, tmpl->valuestring, &len,
                         err);
    if (!text)
        return -1;
    out = template_render(text, len, vars, err);
    free(text);
    if (!out) {
        /* Name the template in the message: there may be several. */
        char field[sizeof err->field], msg[sizeof err->msg];
        snprintf(field, sizeof field, "%s", err->field);
        snprintf(msg, sizeof msg, "%s", err->msg);
        job_err_set(err, field, "template '%s': %s", tmpl->valuestring, msg);
        return -1;
    }
    if (*out == '\0') {
        free(out);
        return job_err_set(err, "template",
                           "template '%s' rendered an empty prompt",
                           tmpl->valuestring);
    }
    prompt = cJSON_CreateString(out);
    free(out);
    if (!prompt)
        return job_err_set(err, "", "out of memory");
    if (!cJSON_AddItemToObject(job, "prompt", prompt)) {
        cJSON_Delete(prompt);
        return job_err_set(err, "", "out of memory");
    }
    cJSON_DetachItemViaPointer(job, prompt);
    cJSON_ReplaceItemViaPointer(job, tmpl, prompt); /* frees tmpl */
    cJSON_DeleteItemFromObjectCaseSensitive(job, "vars");
    return 0;
}

/* The stored text of a job that was not rendered: the line itself, trimmed,
 * with "id" inserted first when it was generated (id != NULL). Returns NULL
 * when out of memory. */
static char *
line_text(const char *line, size_t len, const char *id, size_t *out_len)
{
    size_t a = 0, b = len, n;
    char *t, *p;

    while (a < b && (line[a] == ' ' || line[a] == '\t' || line[a] == '\r'))
        a++;
    while (b > a &&
           (line[b - 1] == ' ' || line[b - 1] == '\t' || line[b - 1] == '\r'))
        b--;
    /* a valid job is an object with at least one member: line[a] == '{' */
    n = b - a + (id ? strlen(id) + 8 : 0);
    t = malloc(n + 1);
    if (!t)
        return NULL;
    p = t;
    if (id) {
        size_t il = strlen(id);
        memcpy(p, "{\"id\":\"", 7);
        memcpy(p + 7, id, il);
        memcpy(p + 7 + il, "\",", 2);
        p += il + 9;
        a++; /* the '{' */
    }
    memcpy(p, line + a, b - a);
    p[b - a] = '\0';
    *out_len = (size_t)(p - t) + (b - a);
    return t;
}

static cJSON *
parse_core(const char *line, size_t len, const struct job_opts *o,
           struct job_err *err, char **text, size_t *text_len, int *gen_out)
{
    int rendered = 0, generated = 0;
    char gen_id[37];

    struct job_err scratch;
    const char *nul;
    size_t off, n;
    cJSON *job;

    if (!err)
        err = &scratch;
    if (!line)
        len = 0;
    if (len > JOB_MAX_BYTES) {
        job_err_set(err, "", "line is %zu bytes; the limit is %d", len,
                    JOB_MAX_BYTES);
        return NULL;
    }
    nul = len ? memchr(line, '\0', len) : NULL;
    if (nul) {
        job_err_set(err, "", "NUL byte at byte %zu", (size_t)(nul - line));
        return NULL;
    }
    if (!utf8_check(line, len, &off)) {
        job_err_set(err, "", "invalid UTF-8 at byte %zu", off);
        return NULL;
    }
    n = 0;
    while (n < len && (line[n] == ' ' || line[n] == '\t' || line[n] == '\r'))
        n++;
    if (n == len) {
        job_err_set(err, "", "blank line: expected a JSON object");
        return NULL;
    }
    if (json_syntax_check(line, len, err) < 0)
        return NULL;
    job = cJSON_ParseWithLengthOpts(line, len, NULL, 0);
    if (!job) {
        /* The scan accepted it, so this is almost surely out of memory. */
        const char *at = cJSON_GetErrorPtr();
        job_err_set(err, "", "invalid JSON at byte %zu (cJSON)",
                    at && at >= line && at <= line + len ? (size_t)(at - line)
                                                         : (size_t)0);
        return NULL;
    }
    if (validate(job, 0, err) < 0)
        goto fail;
    if (get(job, "template")) {
        if (render(job, o, err) < 0)
            goto fail;
        rendered = 1;
    }
    if (!get(job, "id")) {
        cJSON *s;
        uuid7_new(gen_id);
        generated = 1;
        s = cJSON_CreateString(gen_id);
        if (!s || obj_insert(job, 0, "id", s) < 0) {
            job_err_set(err, "", "out of memory");
            goto fail;
        }
    }
    if (text && !rendered) {
        *text = line_text(line, len, generated ? gen_id : NULL, &n);
        if (!*text)
            n = (size_t)-1;
    } else if (text) {
        *text = cJSON_PrintUnformatted(job);
        n = *text ? strlen(*text) : (size_t)-1;
    } else {
        n = job_size(job);
    }
    if (n == (size_t)-1) {
        job_err_set(err, "", "out of memory");
        goto fail;
    }
    if (n > JOB_MAX_BYTES) {
        job_err_set(err, "",
                    "job is %zu bytes after normalization; the limit is %d", n,
                    JOB_MAX_BYTES);
        goto fail;
    }
    if (text_len)
        *text_len = n;
    if (gen_out)
        *gen_out = generated;
    return job;
fail:
    if (text && *text) {
        free(*text);
        *text = NULL;
    }
    cJSON_Delete(job);
    return NULL;
}

cJSON *
job_parse(const char *line, size_t len, const struct job_opts *o,
          struct job_err *err)
{
    return parse_core(line, len, o, err, NULL, NULL, NULL);
}

const char *
job_stored_payload(const char *v)
{
    const char *nl;

    if (v && !strncmp(v, "queued|", 7) && (nl = strchr(v, '\n')))
        return nl + 1;
    return v;
}

/* ---- the enqueue fast path ---------------------------------------------- */

/* Set by tests only (job_fast_path_disable): every line takes the full
 * path, so the two can be compared. */
static int fast_off;

void
job_fast_path_disable(int off)
{
    fast_off = off;
}

/* What fast_scan() found: borrowed pointers into the line. */
struct fast {
    const char *id, *idem, *prio;
    size_t id_len, idem_len, prio_len;
    long long max_attempts;
    int have_prompt, have_temp, have_top_p;
};

/* One string at s[*i] (the opening quote): its raw bytes [*a, *b) and its
 * length in characters. Returns -1 (take the full path) on a \u escape or
 * anything JSON does not allow in a string (a control character, an
 * unknown escape, no closing quote), 1 when it holds another escape, else
 * 0. The line is valid UTF-8 (utf8_check). */
static int
fast_string(const char *s, size_t len, size_t *i, size_t *a, size_t *b,
            size_t *chars)
{
    size_t k = *i + 1, n = 0;
    int esc = 0;

    *a = k;
    while (k < len && s[k] != '"') {
        unsigned char c = (unsigned char)s[k];
        if (k + 8 <= len && plain8(s + k)) {
            k += 8;
            n += 8;
            continue;
        }
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            char x = 'u'; /* cut after the backslash: the full path */
            if (k + 1 < len)
                x = s[k + 1];
            if (!(x == '"' || x == '\\' || x == '/' || x == 'b' || x == 'f' ||
                  x == 'n' || x == 'r' || x == 't'))
                return -1; /* \u and the invalid ones: the full path */
            esc = 1;
            k += 2;
            n++;
            continue;
        }
        n += (c & 0xC0) != 0x80;
        k++;
    }
    if (k >= len)
        return -1;
    *b = k;
    *i = k + 1;
    *chars = n;
    return esc;
}

/* A plain integer token ([-]digits, at most 9, no leading zero): its
 * value; -1 when it is anything else (a fraction, exponent, long). */
static int
fast_int(const char *s, size_t len, size_t *i, long long *out)
{
    size_t k = *i;
    int neg = 0, nd = 0;
    long long v = 0;

    if (k < len && s[k] == '-') {
        neg = 1;
        k++;
    }
    while (k < len && s[k] >= '0' && s[k] <= '9' && nd < 10) {
        v = v * 10 + (s[k] - '0');
        k++;
        nd++;
    }
    if (nd == 0 || nd > 9 || (nd > 1 && s[k - nd] == '0'))
        return -1;
    if (k < len && (s[k] == '.' || s[k] == 'e' || s[k] == 'E'))
        return -1;
    *out = neg ? -v : v;
    *i = k;
    return 0;
}

/* A plain decimal in [lo, hi] (or (lo, hi]): JSON's 0 or [1-9][0-9]*,
 * then maybe '.' and digits, nothing else; 0 when it is one and in range,
 * -1 otherwise. */
static int
fast_decimal(const char *s, size_t len, size_t *i, double lo, int lo_excl,
             double hi)
{
    char buf[32];
    size_t k = *i, n;
    double d;

    if (k < len && s[k] == '0')
        k++;
    else if (k < len && s[k] >= '1' && s[k] <= '9')
        while (k < len && s[k] >= '0' && s[k] <= '9')
            k++;
    else
        return -1;
    if (k < len && s[k] == '.') {
        size_t f = ++k;
        while (k < len && s[k] >= '0' && s[k] <= '9')
            k++;
        if (k == f)
            return -1;
    }
    n = k - *i;
    if (n >= sizeof(buf) ||
        (k < len && (s[k] == 'e' || s[k] == 'E' || s[k] == '-' || s[k] == '+' ||
                     s[k] == '.')))
        return -1;
    memcpy(buf, s + *i, n);
    buf[n] = '\0';
    d = strtod(buf, NULL); /* the same conversion cJSON makes */
    if (!((lo_excl ? d > lo : d >= lo) && d <= hi))
        return -1;
    *i = k;
    return 0;
}

static void
fast_ws(const char *s, size_t len, size_t *i)
{
    while (*i < len &&
           (s[*i] == ' ' || s[*i] == '\t' || s[*i] == '\r' || s[*i] == '\n'))
        (*i)++;
}

/* The common job, checked without building a tree: a flat object of known
 * fields with plain strings and numbers that are all in range. Returns 0
 * when the line is such a valid job (f filled), -1 when it is not or may
 * not be: the full path then decides, and words every error. It never
 * accepts a line the full path rejects (tests/unit/test_job.c and
 * tests/fuzz/fuzz_job.c compare the two). It is a JSON parser of its own
 * for what it accepts (no json_syntax_check() first); the line is valid
 * UTF-8. */
static int
fast_scan(const char *s, size_t len, struct fast *f)
{
    size_t i = 0;
    unsigned seen = 0;

    memset(f, 0, sizeof(*f));
    fast_ws(s, len, &i);
    if (i >= len || s[i] != '{')
        return -1;
    i++;
    fast_ws(s, len, &i);
    if (i < len && s[i] == '}')
        return -1; /* no prompt */
    for (;;) {
        size_t ka, kb, kn, va, vb, vn;
        int fi, esc;
        long long iv;

        if (i >= len || s[i] != '"' || fast_string(s, len, &i, &ka, &kb, &kn))
            return -1; /* a key with an escape: the full path */
        fi = -1;
        for (int k = 0; job_fields[k]; k++)
            if (job_fields[k][0] == s[ka] && job_field_len[k] == kb - ka &&
                memcmp(job_fields[k], s + ka, kb - ka) == 0) {
                fi = k;
                break;
            }
        if (fi < 0 || (seen & (1u << fi)))
            return -1; /* unknown or repeated */
        seen |= 1u << fi;
        fast_ws(s, len, &i);
        if (i >= len || s[i] != ':')
            return -1;
        i++;
        fast_ws(s, len, &i);
        if (i >= len)
            return -1;
        switch (fi) {
        case F_ID:
        case F_PROMPT:
        case F_SYSTEM:
        case F_MODEL:
        case F_PRIORITY:
        case F_IDEMPOTENCY_KEY:
            if (s[i] != '"')
                return -1;
            esc = fast_string(s, len, &i, &va, &vb, &vn);
            if (esc < 0)
                return -1;
            if (fi == F_ID) {
                if (esc || vn < 1 || vn > JOB_ID_MAX)
                    return -1;
                for (size_t k = va; k < vb; k++) {
                    char c = s[k];
                    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                          (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                          c == ':' || c == '-'))
                        return -1;
                }
                f->id = s + va;
                f->id_len = vb - va;
            } else if (fi == F_PROMPT) {
                if (vn < 1)
                    return -1;
                f->have_prompt = 1;
            } else if (fi == F_MODEL) {
                if (vn < 1 || vn > 256)
                    return -1;
            } else if (fi == F_PRIORITY) {
                if (esc || !((vb - va == 4 && !memcmp(s + va, "high", 4)) ||
                             (vb - va == 6 && !memcmp(s + va, "normal", 6)) ||
                             (vb - va == 3 && !memcmp(s + va, "low", 3))))
                    return -1;
                f->prio = s + va;
                f->prio_len = vb - va;
            } else if (fi == F_IDEMPOTENCY_KEY) {
                if (esc || vn < 1 || vn > 256)
                    return -1;
                f->idem = s + va;
                f->idem_len = vb - va;
            }
            break;
        case F_V:
            if (fast_int(s, len, &i, &iv) < 0 || iv != 1)
                return -1;
            break;
        case F_MAX_TOKENS:
            if (fast_int(s, len, &i, &iv) < 0 || iv < 1 ||
                iv > JOB_MAX_TOKENS_MAX)
                return -1;
            break;
        case F_MAX_ATTEMPTS:
            if (fast_int(s, len, &i, &iv) < 0 || iv < 1 || iv > 100)
                return -1;
            f->max_attempts = iv;
            break;
        case F_TIMEOUT_S:
            if (fast_int(s, len, &i, &iv) < 0 || iv < 1 || iv > 86400)
                return -1;
            break;
        case F_MAX_CONTINUATIONS:
            if (fast_int(s, len, &i, &iv) < 0 || iv < 0 || iv > 20)
                return -1;
            break;
        case F_TEMPERATURE:
            if (fast_decimal(s, len, &i, 0, 0, 2) < 0)
                return -1;
            f->have_temp = 1;
            break;
        case F_TOP_P:
            if (fast_decimal(s, len, &i, 0, 1, 1) < 0)
                return -1;
            f->have_top_p = 1;
            break;
        default:
            return -1; /* messages, template, vars, run_at, delay_s, ... */
        }
        fast_ws(s, len, &i);
        if (i < len && s[i] == ',') {
            i++;
            fast_ws(s, len, &i);
            continue;
        }
        if (i < len && s[i] == '}') {
            i++;
            break;
        }
        return -1;
    }
    fast_ws(s, len, &i);
    if (i != len || !f->have_prompt || (f->have_temp && f->have_top_p))
        return -1;
    return 0;
}

static char *
dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);

    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

void
job_info_free(struct job_info *in)
{
    free(in->text);
    free(in->id);
    free(in->idem);
    memset(in, 0, sizeof(*in));
}

int
job_parse_info(const char *line, size_t len, const struct job_opts *o,
               struct job_err *err, struct job_info *out)
{
    struct job_err scratch;
    struct fast f;
    size_t off;
    cJSON *job;

    memset(out, 0, sizeof(*out));
    if (!err)
        err = &scratch;
    /* the checks of parse_core() that come before the tree, then the scan;
     * anything unusual goes the full way */
    if (fast_off || !line || len > JOB_MAX_BYTES ||
        memchr(line, '\0', len) != NULL || !utf8_check(line, len, &off) ||
        fast_scan(line, len, &f) < 0)
        goto full;
    if (f.id) {
        out->id = dup_n(f.id, f.id_len);
    } else {
        char gen[37];
        uuid7_new(gen);
        out->id = dup_n(gen, 36);
        out->id_generated = 1;
    }
    out->text = line_text(line, len, out->id_generated ? out->id : NULL,
                          &out->text_len);
    if (f.idem)
        out->idem = dup_n(f.idem, f.idem_len);
    if (!out->id || !out->text || (f.idem && !out->idem)) {
        job_info_free(out);
        job_err_set(err, "", "out of memory");
        return -1;
    }
    if (out->text_len > JOB_MAX_BYTES) { /* the full path words it */
        job_info_free(out);
        goto full;
    }
    out->prio = !f.prio            ? JOB_PRIO_NORMAL
                : f.prio[0] == 'h' ? JOB_PRIO_HIGH
                : f.prio[0] == 'l' ? JOB_PRIO_LOW
                                   : JOB_PRIO_NORMAL;
    out->max_attempts = (int)f.max_attempts;
    return 0;
full:
    job = parse_core(line, len, o, err, &out->text, &out->text_len,
                     &out->id_generated);
    if (!job) {
        job_info_free(out);
        return -1;
    }
    {
        const char *idem = job_idempotency_key(job);
        out->id = strdup(job_id(job));
        out->idem = idem ? strdup(idem) : NULL;
        out->prio = (int)job_priority(job);
        out->max_attempts = job_max_attempts(job);
        if (job_schedule(job, &out->run_at_ms, &out->delay_ms) < 0)
            out->run_at_ms = out->delay_ms = 0;
        cJSON_Delete(job);
        if (!out->id || (idem && !out->idem)) {
            job_info_free(out);
            job_err_set(err, "", "out of memory");
            return -1;
        }
    }
    return 0;
}

/* ---- accessors ---------------------------------------------------------- */

enum job_priority
job_priority(const cJSON *job)
{
    const cJSON *p = get(job, "priority");

    if (!cJSON_IsString(p))
        return JOB_PRIO_NORMAL;
    if (strcmp(p->valuestring, "high") == 0)
        return JOB_PRIO_HIGH;
    if (strcmp(p->valuestring, "low") == 0)
        return JOB_PRIO_LOW;
    return JOB_PRIO_NORMAL;
}

const char *
job_priority_name(enum job_priority p)
{
    switch (p) {
    case JOB_PRIO_HIGH:
        return "high";
    case JOB_PRIO_LOW:
        return "low";
    case JOB_PRIO_NORMAL:
        break;
    }
    return "normal";
}

int
job_schedule(const cJSON *job, int64_t *run_at_ms, int64_t *delay_ms)
{
    const cJSON *run_at = get(job, "run_at"), *delay = get(job, "delay_s");
    int64_t at = 0, d = 0;

    *run_at_ms = 0;
    *delay_ms = 0;
    if (run_at) {
        if (!cJSON_IsString(run_at) ||
            timefmt_rfc3339_parse(run_at->valuestring, &at) < 0)
            return -1;
        if (at < 0)
            at = 0;
    }
    if (delay) {
        if (!cJSON_IsNumber(delay) || !(delay->valuedouble >= 0) ||
            delay->valuedouble > 31536000)
            return -1;
        d = (int64_t)(delay->valuedouble * 1000.0 + 0.5);
    }
    *run_at_ms = at;
    *delay_ms = d;
    return 0;
}

const char *
job_id(const cJSON *job)
{
    const cJSON *v = get(job, "id");

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *
job_idempotency_key(const cJSON *job)
{
    const cJSON *v = get(job, "idempotency_key");

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int
job_max_attempts(const cJSON *job)
{
    const cJSON *v = get(job, "max_attempts");

    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 1) ||
        v->valuedouble > 1000000)
        return 0;
    return (int)v->valuedouble;
}

char *
job_prompt_text(const cJSON *job)
{
    const cJSON *p = get(job, "prompt"), *msgs = get(job, "messages");
    const cJSON *m, *c;
    size_t n = 0;
    char *out;

    if (cJSON_IsString(p))
        return strdup(p->valuestring);
    if (!cJSON_IsArray(msgs))
        return NULL;
    for (m = msgs->child; m; m = m->next) {
        const cJSON *role = get(m, "role");
        if (cJSON_IsString(role) && strcmp(role->valuestring, "user") == 0)
            break;
    }
    if (!m)
        return NULL;
    c = get(m, "content");
    if (cJSON_IsString(c))
        return strdup(c->valuestring);
    if (!cJSON_IsArray(c))
        return NULL;
    for (const cJSON *b = c->child; b; b = b->next) {
        const cJSON *t = get(b, "text");
        if (cJSON_IsString(t))
            n += strlen(t->valuestring);
    }
    out = malloc(n + 1);
    if (!out)
        return NULL;
    n = 0;
    for (const cJSON *b = c->child; b; b = b->next) {
        const cJSON *t = get(b, "text");
        if (cJSON_IsString(t)) {
            size_t k = strlen(t->valuestring);
            memcpy(out + n, t->valuestring, k);
            n += k;
        }
    }
    out[n] = '\0';
    return out;
}
