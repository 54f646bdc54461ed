/* llm_stream_fast: the stream fast path -- text deltas matched by their
 * usual byte layout, other events scanned into flat tokens -- that stores
 * exactly what the cJSON path of llm_stream.c would, without building a
 * tree. */
#include "fmacros.h"

#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonscan.h"
#include "llm.h"
#include "llm_int.h"

/* ---- streaming fast path -------------------------------------------- */

/* Building a cJSON tree for every event was about 70% of a streamed job's
 * instructions (allocations, strtod, key lookups), for events that are
 * nearly all text deltas. So before cJSON, on_anthropic and on_openai try:
 *
 *  1. match_*: the byte layout in which the APIs (and our mock) send a text
 *     delta (and content_block_start, message_stop), matched literally; the
 *     text is decoded straight into r->text. Several times cheaper than
 *     step 2, and it is most events.
 *  2. jt_parse + tok_*: a strict scanner that records the event's JSON as a
 *     flat array of tokens on the stack (no allocation), and handlers that
 *     do over those tokens exactly what the cJSON code of llm_stream.c does
 *     (first-match key lookup as cJSON_GetObjectItemCaseSensitive, the same
 *     type checks, number values as strtod gives them).
 *  3. cJSON, as before.
 *
 * Steps 1 and 2 accept a strict subset of what cJSON_ParseWithLength
 * accepts, and on it store exactly what cJSON's path would. They bail out
 * (LLM_FAST_BAIL) before r has been touched on anything else: escapes in keys,
 * \u0000 or a raw NUL in a string (cJSON keeps them and strlen() cuts the
 * text there), bad escapes or lone surrogates, numbers beyond plain JSON
 * syntax or 32 bytes, whitespace other than space/tab/CR/LF, nesting deeper
 * than JT_DEPTH or more than JT_MAX tokens, anything after the object, and
 * error events. A bail is always safe; only what the fast path commits has
 * to be right. The unit tests (test_llm_fast.c) and the fuzz_sse target run
 * streams with and without it (llm_stream_set_fastpath) and compare. */

/* Bytes that end the plain run of a string: the quote, an escape, and NUL
 * (a raw NUL, or the terminator sse.h guarantees at data[dlen]). */
static const unsigned char js_stop[256] = {['\0'] = 1, ['"'] = 1, ['\\'] = 1};

/* A scanned string: its raw bytes between the quotes. */
struct jspan {
    const char *s;
    size_t n;
    int esc; /* holds a backslash escape: s[0..n) is not the value */
};

static const char *
js_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

/* The js_ helpers below return the position after what they scanned, or
 * NULL when it is not there; given a NULL position they return NULL, so a
 * layout is matched by a plain sequence of calls. */

/* p past the literal lit[0..n) when it is at p, else NULL. */
static inline const char *
js_lit(const char *p, const char *end, const char *lit, size_t n)
{
    if (p == NULL || (size_t)(end - p) < n || memcmp(p, lit, n) != 0)
        return NULL;
    return p + n;
}
#define JS_LIT(p, end, lit) js_lit((p), (end), lit, sizeof(lit) - 1)

/* Scan the string whose opening quote is at p into *out; returns p past the
 * closing quote, or NULL for what cJSON would reject or keep a NUL of. The
 * data must be NUL-terminated (sse.h): the scan stops at the terminator,
 * and p may be at the end. */
static const char *
js_str(const char *p, const char *end, struct jspan *out)
{
    size_t at;
    int n;

    if (p == NULL || *p != '"')
        return NULL;
    out->s = ++p;
    out->esc = 0;
    for (;;) {
        /* eight plain bytes at a time while eight are left before end */
        while (end - p >= 8 && jsonscan_noescape8(p))
            p += 8;
        while (!js_stop[(unsigned char)*p])
            p++;
        if (*p == '"')
            break;
        if (*p == '\0')
            return NULL;
        out->esc = 1;
        if (jsonscan_simple_escape(p[1])) {
            p += 2;
            continue;
        }
        if (p[1] != 'u')
            return NULL;
        /* \u0000 would cut the C string; a low surrogate must follow a
         * high one, as cJSON's utf16_literal_to_utf8 requires */
        n = jsonscan_uescape(p, SIZE_MAX, &at);
        if (n < 0)
            return NULL;
        p += n;
    }
    out->n = (size_t)(p - out->s);
    return p + 1;
}

/* llm_add_text() of the decoded string: the same cap, the same errors. Returns
 * 0, or 1 when add_text failed (the event callback's "stop"). Can't bail. */
static int
add_text_json(struct llm_result *r, const struct jspan *t)
{
    if (!t->esc)
        return llm_add_text(r, t->s, t->n) != 0;
    size_t old = r->text.len, n = jsonscan_decoded_len(t->s, t->n);
    /* Append n raw bytes (n <= t->n) to get room and the cap check, then
     * decode over them. */
    if (llm_add_text(r, t->s, n) != 0)
        return 1;
    jsonscan_decode(t->s, t->n, r->text.data + old, (size_t)-1);
    return 0;
}

/* 1..18 digits at p: returns p past them, or NULL. */
static const char *
js_digits(const char *p, const char *end)
{
    const char *d = p;

    if (p == NULL)
        return NULL;
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    return p > d && p - d <= 18 ? p : NULL;
}

/* ---- 1. the usual layout of a text delta ---------------------------- */

/* {"type":"content_block_delta","index":N,"delta":{"type":"text_delta",
 * "text":S}} or, when start is set, {"type":"content_block_start","index":N,
 * "content_block":{"type":"text","text":S}}, byte for byte, nothing after:
 * fills *text, returns 0. */
static int
match_anthropic_text(const char *data, size_t dlen, int start,
                     struct jspan *text)
{
    const char *p, *end = data + dlen;

    if (start) {
        p = JS_LIT(data, end, "{\"type\":\"content_block_start\",\"index\":");
        p = js_digits(p, end);
        p = JS_LIT(p, end, ",\"content_block\":{\"type\":\"text\",\"text\":");
    } else {
        p = JS_LIT(data, end, "{\"type\":\"content_block_delta\",\"index\":");
        p = js_digits(p, end);
        p = JS_LIT(p, end, ",\"delta\":{\"type\":\"text_delta\",\"text\":");
    }
    p = js_str(p, end, text);
    p = JS_LIT(p, end, "}}");
    return p == end ? 0 : LLM_FAST_BAIL;
}

/* {"id":S,"object":S,"created":N,"model":S[,"system_fingerprint":S|null],
 * "choices":[{"index":0,"delta":{"content":T},"logprobs":null,
 * "finish_reason":null}][,"usage":null]}, once r holds an id and a model
 * (on_openai keeps the first): fills *text, returns 0. */
static int
match_openai_delta(const struct llm_result *r, const char *data, size_t dlen,
                   struct jspan *text)
{
    const char *p, *q, *end = data + dlen;
    struct jspan s;

    if (r->id[0] == '\0' || r->model[0] == '\0')
        return LLM_FAST_BAIL;
    p = JS_LIT(data, end, "{\"id\":");
    p = js_str(p, end, &s);
    p = JS_LIT(p, end, ",\"object\":");
    p = js_str(p, end, &s);
    p = JS_LIT(p, end, ",\"created\":");
    p = js_digits(p, end);
    p = JS_LIT(p, end, ",\"model\":");
    p = js_str(p, end, &s);
    q = JS_LIT(p, end, ",\"system_fingerprint\":");
    if (q != NULL) {
        p = JS_LIT(q, end, "null");
        if (p == NULL)
            p = js_str(q, end, &s);
    }
    p = JS_LIT(p, end, ",\"choices\":[{\"index\":0,\"delta\":{\"content\":");
    p = js_str(p, end, text);
    p = JS_LIT(p, end, "},\"logprobs\":null,\"finish_reason\":null}]");
    q = JS_LIT(p, end, ",\"usage\":null");
    if (q != NULL)
        p = q;
    p = JS_LIT(p, end, "}");
    return p == end ? 0 : LLM_FAST_BAIL;
}

/* ---- 2. flat tokens ------------------------------------------------- */

#define JT_MAX   128 /* tokens per event (message_start has about 30) */
#define JT_DEPTH 8   /* nesting */
#define JT_NUM   32  /* bytes per number */

enum jt_type { JT_OBJECT, JT_ARRAY, JT_STRING, JT_NUMBER, JT_LITERAL };

/* One value, or one key (a JT_STRING followed by its value). */
struct jtok {
    const char *s;       /* string: raw bytes between the quotes; number and
                            literal: its text */
    size_t len;          /* bytes at s */
    unsigned short next; /* index of the token after this value and all of
                            its members (an object's keys included) */
    unsigned char type;  /* enum jt_type */
    unsigned char esc;   /* string: holds escapes */
};

struct jdoc {
    const char *end;
    int n, depth;
    struct jtok t[JT_MAX];
};

/* A number of plain JSON syntax, at most JT_NUM bytes: strtod takes all of
 * it, as in cJSON's parse_number. Returns p past it, or NULL. */
static const char *
js_number(const char *p, const char *end)
{
    const char *s = p, *d;

    if (p < end && *p == '-')
        p++;
    p = js_digits(p, end);
    if (p == NULL)
        return NULL;
    if (p < end && *p == '.') {
        d = ++p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == d)
            return NULL;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        d = p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == d)
            return NULL;
    }
    return p - s <= JT_NUM ? p : NULL;
}

/* The scanner recurses into objects and arrays; the depth is bounded
 * (JT_DEPTH), deeper input goes to cJSON. */
/* NOLINTBEGIN(misc-no-recursion) */
static const char *jt_value(struct jdoc *d, const char *p);

/* The members (obj) or elements after an opening bracket. */
static const char *
jt_items(struct jdoc *d, const char *p, int obj)
{
    const char *end = d->end;
    char close = obj ? '}' : ']';
    struct jspan k;

    p = js_ws(p, end);
    if (p < end && *p == close)
        return p + 1;
    for (;;) {
        if (obj) {
            /* keys are compared raw, so none may hold an escape */
            p = d->n < JT_MAX ? js_str(p, end, &k) : NULL;
            if (p == NULL || k.esc)
                return NULL;
            struct jtok *t = &d->t[d->n++];
            t->s = k.s;
            t->len = k.n;
            t->type = JT_STRING;
            t->esc = 0;
            t->next = (unsigned short)d->n;
            p = js_ws(p, end);
            if (p == end || *p != ':')
                return NULL;
            p = js_ws(p + 1, end);
        }
        p = jt_value(d, p);
        if (p == NULL)
            return NULL;
        p = js_ws(p, end);
        if (p < end && *p == ',') {
            p = js_ws(p + 1, end);
            continue;
        }
        return p < end && *p == close ? p + 1 : NULL;
    }
}

static const char *
jt_value(struct jdoc *d, const char *p)
{
    const char *end = d->end;
    struct jspan sp;

    if (p == end || d->n == JT_MAX)
        return NULL;
    int i = d->n++, obj = *p == '{';
    d->t[i].s = p;
    d->t[i].len = 0;
    d->t[i].esc = 0;
    switch (*p) {
    case '"':
        p = js_str(p, end, &sp);
        if (p == NULL)
            return NULL;
        d->t[i].type = JT_STRING;
        d->t[i].s = sp.s;
        d->t[i].len = sp.n;
        d->t[i].esc = (unsigned char)sp.esc;
        break;
    case '{':
    case '[':
        if (d->depth == JT_DEPTH)
            return NULL;
        d->depth++;
        d->t[i].type = obj ? JT_OBJECT : JT_ARRAY;
        p = jt_items(d, p + 1, obj);
        if (p == NULL)
            return NULL;
        d->depth--;
        break;
    case 't':
        p = JS_LIT(p, end, "true");
        d->t[i].type = JT_LITERAL;
        break;
    case 'f':
        p = JS_LIT(p, end, "false");
        d->t[i].type = JT_LITERAL;
        break;
    case 'n':
        p = JS_LIT(p, end, "null");
        d->t[i].type = JT_LITERAL;
        break;
    default:
        p = js_number(p, end);
        d->t[i].type = JT_NUMBER;
    }
    if (p == NULL)
        return NULL;
    if (d->t[i].type >= JT_NUMBER)
        d->t[i].len = (size_t)(p - d->t[i].s);
    d->t[i].next = (unsigned short)d->n;
    return p;
}
/* NOLINTEND(misc-no-recursion) */

/* Tokenise data[0..dlen) (NUL-terminated) into d: one object and nothing
 * after it but whitespace. Returns 0 or LLM_FAST_BAIL. */
static int
jt_parse(struct jdoc *d, const char *data, size_t dlen)
{
    const char *p;

    d->end = data + dlen;
    d->n = 0;
    d->depth = 0;
    p = js_ws(data, d->end);
    p = p < d->end && *p == '{' ? jt_value(d, p) : NULL;
    if (p == NULL || js_ws(p, d->end) != d->end)
        return LLM_FAST_BAIL;
    return 0;
}

/* As cJSON_GetObjectItemCaseSensitive(o, key): the value of o's first
 * member named key, or -1 (also when o is -1 or no object). */
static int
jt_get(const struct jdoc *d, int o, const char *key, size_t n)
{
    if (o < 0 || d->t[o].type != JT_OBJECT)
        return -1;
    for (int i = o + 1; i < d->t[o].next; i = d->t[i + 1].next)
        if (d->t[i].len == n && memcmp(d->t[i].s, key, n) == 0)
            return i + 1;
    return -1;
}
#define JT_GET(d, o, lit) jt_get((d), (o), lit, sizeof(lit) - 1)

static int
jt_is(const struct jdoc *d, int i, enum jt_type type)
{
    return i >= 0 && d->t[i].type == type;
}

/* Decode string token i into buf (cap + 3 bytes), stopping once cap bytes
 * or more are written; returns the length written. */
static size_t
jt_decode(const struct jdoc *d, int i, char *buf, size_t cap)
{
    const struct jtok *t = &d->t[i];

    if (!t->esc) {
        size_t n = t->len < cap ? t->len : cap;
        memcpy(buf, t->s, n);
        return n;
    }
    return jsonscan_decode(t->s, t->len, buf, cap);
}

/* llm_jstr(i) is lit: i is a string whose decoded value equals lit[0..n). */
static int
jt_str_is(const struct jdoc *d, int i, const char *lit, size_t n)
{
    char buf[64];

    if (!jt_is(d, i, JT_STRING))
        return 0;
    if (!d->t[i].esc)
        return d->t[i].len == n && memcmp(d->t[i].s, lit, n) == 0;
    return jt_decode(d, i, buf, n + 1) == n && memcmp(buf, lit, n) == 0;
}
#define JT_STR_IS(d, i, lit) jt_str_is((d), (i), lit, sizeof(lit) - 1)

/* llm_copy_str(dst, cap, llm_jstr(i)): copy_n reads no more than cap bytes of
 * its source, so decoding that much is enough. cap <= 512. */
static void
jt_copy(const struct jdoc *d, int i, char *dst, size_t cap)
{
    char buf[512 + 3];
    size_t n;

    if (!jt_is(d, i, JT_STRING)) {
        llm_copy_n(dst, cap, "", 0);
    } else if (!d->t[i].esc) {
        llm_copy_n(dst, cap, d->t[i].s, d->t[i].len);
    } else {
        n = jt_decode(d, i, buf, cap);
        llm_copy_n(dst, cap, buf, n);
    }
}

/* The valuedouble cJSON gives number token i: strtod of its text with the
 * locale's decimal point, as parse_number does; plain integers directly. */
static double
jt_number(const struct jdoc *d, int i)
{
    const struct jtok *t = &d->t[i];
    char buf[JT_NUM + 1];
    unsigned long v = 0;
    size_t k;

    for (k = 0; k < t->len && t->s[k] >= '0' && t->s[k] <= '9'; k++)
        v = v * 10 + (unsigned long)(t->s[k] - '0');
    if (k == t->len && k <= 15)
        return (double)v;
    char point = localeconv()->decimal_point[0];
    for (k = 0; k < t->len; k++) {
        if (t->s[k] == '.')
            buf[k] = point;
        else
            buf[k] = t->s[k];
    }
    buf[k] = '\0';
    return strtod(buf, NULL);
}

/* llm_jlong() over a token. */
static void
jt_long(const struct jdoc *d, int i, long *out)
{
    if (jt_is(d, i, JT_NUMBER)) {
        double v = jt_number(d, i);
        if (v >= 0 && v < 9e15)
            *out = (long)v;
    }
}

/* llm_anthropic_usage() over the tokens of usage object u. */
static void
jt_anthropic_usage(const struct jdoc *d, int u, struct llm_result *r)
{
    jt_long(d, JT_GET(d, u, "input_tokens"), &r->input_tokens);
    jt_long(d, JT_GET(d, u, "output_tokens"), &r->output_tokens);
    jt_long(d, JT_GET(d, u, "cache_creation_input_tokens"),
            &r->cache_creation_input_tokens);
    jt_long(d, JT_GET(d, u, "cache_read_input_tokens"),
            &r->cache_read_input_tokens);
}

/* on_anthropic's cJSON code over the tokens of data (keep the two in step).
 * named: the event had a name, whose kind is kind. Returns its result, or
 * LLM_FAST_BAIL (before touching r) when data does not scan or is an error. */
static int
tok_anthropic(struct llm_result *r, const char *data, size_t dlen, int named,
              enum anth_event kind)
{
    struct jdoc doc, *d = &doc;

    if (jt_parse(d, data, dlen) != 0)
        return LLM_FAST_BAIL;
    if (!named) {
        int ty = JT_GET(d, 0, "type");
        char name[32 + 3];
        kind = jt_is(d, ty, JT_STRING)
                   ? llm_anth_event_kind(name, jt_decode(d, ty, name, 32))
                   : AEV_OTHER;
    }
    switch (kind) {
    case AEV_OTHER:
        return 0;
    case AEV_ERROR:
        return LLM_FAST_BAIL;
    case AEV_MESSAGE_START: {
        int m = JT_GET(d, 0, "message");
        int u = JT_GET(d, m, "usage");
        jt_copy(d, JT_GET(d, m, "id"), r->id, sizeof r->id);
        jt_copy(d, JT_GET(d, m, "model"), r->model, sizeof r->model);
        jt_anthropic_usage(d, u, r);
        return 0;
    }
    case AEV_BLOCK_START: {
        int b = JT_GET(d, 0, "content_block");
        int t = JT_GET(d, b, "text");
        if (JT_STR_IS(d, JT_GET(d, b, "type"), "text") &&
            jt_is(d, t, JT_STRING)) {
            struct jspan sp = {d->t[t].s, d->t[t].len, d->t[t].esc};
            return add_text_json(r, &sp);
        }
        return 0;
    }
    case AEV_BLOCK_DELTA: {
        int dl = JT_GET(d, 0, "delta");
        int t = JT_GET(d, dl, "text");
        if (!JT_STR_IS(d, JT_GET(d, dl, "type"), "text_delta"))
            return 0;
        if (!jt_is(d, t, JT_STRING))
            return llm_malformed(r, "text_delta without text");
        struct jspan sp = {d->t[t].s, d->t[t].len, d->t[t].esc};
        return add_text_json(r, &sp);
    }
    case AEV_MESSAGE_DELTA: {
        int dl = JT_GET(d, 0, "delta");
        int u = JT_GET(d, 0, "usage");
        int sr = JT_GET(d, dl, "stop_reason");
        int ss = JT_GET(d, dl, "stop_sequence");
        if (jt_is(d, sr, JT_STRING))
            jt_copy(d, sr, r->stop_reason, sizeof r->stop_reason);
        if (jt_is(d, ss, JT_STRING))
            jt_copy(d, ss, r->stop_sequence, sizeof r->stop_sequence);
        jt_anthropic_usage(d, u, r);
        return 0;
    }
    case AEV_MESSAGE_STOP:
        r->complete = 1;
        return 0;
    }
    return 0;
}

/* on_openai's cJSON code over the tokens of data (keep the two in step).
 * Returns its result, or LLM_FAST_BAIL (before touching r) when data does not
 * scan or is an error chunk. */
static int
tok_openai(struct llm_result *r, const char *data, size_t dlen)
{
    struct jdoc doc, *d = &doc;
    int err, rc = 0;

    if (jt_parse(d, data, dlen) != 0)
        return LLM_FAST_BAIL;
    err = JT_GET(d, 0, "error");
    if (err >= 0 && !(d->t[err].type == JT_LITERAL && d->t[err].s[0] == 'n'))
        return LLM_FAST_BAIL; /* not null: stream_error() */
    if (r->id[0] == '\0')
        jt_copy(d, JT_GET(d, 0, "id"), r->id, sizeof r->id);
    if (r->model[0] == '\0')
        jt_copy(d, JT_GET(d, 0, "model"), r->model, sizeof r->model);
    /* cJSON_ArrayForEach walks an object's members as well */
    int cs = JT_GET(d, 0, "choices");
    int is_obj = jt_is(d, cs, JT_OBJECT);
    int end = cs >= 0 ? d->t[cs].next : 0;
    if (!is_obj && !jt_is(d, cs, JT_ARRAY))
        end = 0;
    for (int i = cs + 1; i < end; i = d->t[i + is_obj].next) {
        int c = i + is_obj;
        int idx = JT_GET(d, c, "index");
        if (jt_is(d, idx, JT_NUMBER) && jt_number(d, idx) != 0)
            continue; /* we ask for one choice */
        int t = JT_GET(d, JT_GET(d, c, "delta"), "content");
        int fr = JT_GET(d, c, "finish_reason");
        if (jt_is(d, t, JT_STRING)) {
            struct jspan sp = {d->t[t].s, d->t[t].len, d->t[t].esc};
            if (add_text_json(r, &sp) != 0) {
                rc = 1;
                break;
            }
        }
        if (jt_is(d, fr, JT_STRING))
            jt_copy(d, fr, r->stop_reason, sizeof r->stop_reason);
    }
    int u = JT_GET(d, 0, "usage");
    if (jt_is(d, u, JT_OBJECT)) { /* llm_openai_usage() */
        jt_long(d, JT_GET(d, u, "prompt_tokens"), &r->input_tokens);
        jt_long(d, JT_GET(d, u, "completion_tokens"), &r->output_tokens);
        jt_long(
            d,
            JT_GET(d, JT_GET(d, u, "prompt_tokens_details"), "cached_tokens"),
            &r->cache_read_input_tokens);
    }
    return rc;
}

/* ---- entry points ----------------------------------------------------- */

int
llm_fast_anthropic(struct llm_result *r, const char *data, size_t dlen,
                   int named, enum anth_event kind)
{
    struct jspan t;

    /* the layout names the event when it is unnamed */
    if ((!named || kind == AEV_BLOCK_DELTA) &&
        match_anthropic_text(data, dlen, 0, &t) == 0)
        return add_text_json(r, &t);
    if (kind == AEV_BLOCK_START && match_anthropic_text(data, dlen, 1, &t) == 0)
        return add_text_json(r, &t);
    if (kind == AEV_MESSAGE_STOP &&
        JS_LIT(data, data + dlen, "{\"type\":\"message_stop\"}") ==
            data + dlen) {
        r->complete = 1;
        return 0;
    }
    return tok_anthropic(r, data, dlen, named, kind);
}

int
llm_fast_openai(struct llm_result *r, const char *data, size_t dlen)
{
    struct jspan t;

    if (match_openai_delta(r, data, dlen, &t) == 0)
        return add_text_json(r, &t);
    return tok_openai(r, data, dlen);
}
