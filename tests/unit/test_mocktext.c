/* Unit tests of the mock LLM's deterministic text (tests/mock-llm/mocktext.c)
 * and of its HTTP request parser (mockhttp.c). */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "mockhttp.h"
#include "mocktext.h"

#define KEY(s) (s), strlen(s)

/* Returns 1 if s[0..len) is well-formed UTF-8 (no overlongs/surrogates). */
static int
utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *e = p + len;

    while (p < e) {
        unsigned c = *p;
        size_t n;
        unsigned cp;
        if (c < 0x80) {
            p++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if ((size_t)(e - p) <= n)
            return 0;
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        p += n + 1;
    }
    return 1;
}

Test(mocktext, fnv1a_known_vectors)
{
    cr_assert_eq(mocktext_hash("", 0), 0xcbf29ce484222325ULL);
    cr_assert_eq(mocktext_hash("a", 1), 0xaf63dc4c8601ec8cULL);
    cr_assert_eq(mocktext_hash("foobar", 6), 0x85944171f73967e8ULL);
}

Test(mocktext, article_is_deterministic)
{
    size_t l1, l2, l3;
    char *a = mocktext_article(KEY("Write about Redis"), 120, &l1);
    char *b = mocktext_article(KEY("Write about Redis"), 120, &l2);
    char *c = mocktext_article(KEY("Write about Redis!"), 120, &l3);

    cr_assert_not_null(a);
    cr_assert_not_null(b);
    cr_assert_not_null(c);
    cr_assert_eq(l1, l2);
    cr_assert_eq(memcmp(a, b, l1), 0);
    cr_assert(l1 != l3 || memcmp(a, c, l1) != 0, "different keys differ");
    cr_assert_eq(strlen(a), l1);
    /* No word holds whitespace, so the word count is the token count. */
    cr_assert_eq(mocktext_count_words(a, l1), 120);
    cr_assert_neq(a[0], ' ');
    cr_assert_neq(a[l1 - 1], ' ');
    free(a);
    free(b);
    free(c);
}

Test(mocktext, article_boundaries_match_text)
{
    struct mocktext_article *a =
        mocktext_article_new(KEY("boundaries"), 50, SIZE_MAX);
    size_t len;
    char *t = mocktext_article(KEY("boundaries"), 50, &len);

    cr_assert_not_null(a);
    cr_assert_eq(a->ntokens, 50);
    cr_assert_eq(a->total, 50);
    cr_assert_eq(a->off[0], 0);
    cr_assert_eq(a->off[50], a->len);
    cr_assert_eq(a->len, len);
    cr_assert_eq(memcmp(a->text, t, len), 0);
    for (size_t i = 1; i < 50; i++)
        cr_assert_eq(a->text[a->off[i]], ' ', "token %zu starts with a space",
                     i);
    mocktext_article_free(a);
    free(t);
}

Test(mocktext, tokens_marker)
{
    cr_assert_eq(mocktext_article_tokens(KEY("plain"), 120), 120);
    cr_assert_eq(mocktext_article_tokens(KEY("x [mock:tokens=5] y"), 120), 5);
    cr_assert_eq(mocktext_article_tokens(KEY("[mock:tokens=200000]"), 120),
                 200000);
    cr_assert_eq(mocktext_article_tokens(KEY("[mock:tokens=200001]"), 120),
                 120);
    cr_assert_eq(mocktext_article_tokens(KEY("[mock:tokens=0]"), 120), 120);
    cr_assert_eq(mocktext_article_tokens(KEY("[mock:tokens=abc]"), 120), 120);
    cr_assert_eq(mocktext_article_tokens(KEY("[mock:tokens=7"), 120), 120);
    cr_assert_eq(
        mocktext_article_tokens(KEY("[mock:tokens=x][mock:tokens=9]"), 120), 9);
    /* Only key_len bytes count. */
    cr_assert_eq(mocktext_article_tokens("[mock:tokens=5]", 10, 120), 120);

    size_t len;
    char *a = mocktext_article(KEY("t [mock:tokens=3]"), 120, &len);
    cr_assert_eq(mocktext_count_words(a, len), 3);
    free(a);
}

Test(mocktext, fail_marker)
{
    char kind[MOCKTEXT_KIND_MAX];

    cr_assert_eq(mocktext_fail_for(KEY("no marker"), 0, kind, sizeof(kind)),
                 -1);
    for (unsigned long n = 0; n < 5; n++) {
        cr_assert_eq(mocktext_fail_for(KEY("a [mock:fail=529] b"), n, kind,
                                       sizeof(kind)),
                     1);
        cr_assert_str_eq(kind, "529");
    }
    cr_assert_eq(
        mocktext_fail_for(KEY("[mock:fail=429*1]"), 0, kind, sizeof(kind)), 1);
    cr_assert_str_eq(kind, "429");
    cr_assert_eq(
        mocktext_fail_for(KEY("[mock:fail=429*1]"), 1, kind, sizeof(kind)), 0);
    cr_assert_eq(
        mocktext_fail_for(KEY("[mock:fail=drop*0]"), 0, kind, sizeof(kind)), 0);

    const char *chain = "[mock:fail=429*1][mock:fail=stream-error*2] go";
    cr_assert_eq(mocktext_fail_for(KEY(chain), 0, kind, sizeof(kind)), 1);
    cr_assert_str_eq(kind, "429");
    cr_assert_eq(mocktext_fail_for(KEY(chain), 1, kind, sizeof(kind)), 1);
    cr_assert_str_eq(kind, "stream-error");
    cr_assert_eq(mocktext_fail_for(KEY(chain), 2, kind, sizeof(kind)), 1);
    cr_assert_str_eq(kind, "stream-error");
    cr_assert_eq(mocktext_fail_for(KEY(chain), 3, kind, sizeof(kind)), 0);

    /* Malformed markers are not markers. */
    cr_assert_eq(mocktext_fail_for(KEY("[mock:fail=]"), 0, kind, sizeof(kind)),
                 -1);
    cr_assert_eq(
        mocktext_fail_for(KEY("[mock:fail=429*x]"), 0, kind, sizeof(kind)), -1);
    cr_assert_eq(
        mocktext_fail_for(KEY("[mock:fail=429"), 0, kind, sizeof(kind)), -1);
}

Test(mocktext, markers_keep_article_deterministic)
{
    size_t l1, l2;
    char *a = mocktext_article(KEY("p [mock:fail=429*1]"), 120, &l1);
    char *b = mocktext_article(KEY("p [mock:fail=429*1]"), 120, &l2);

    cr_assert_eq(l1, l2);
    cr_assert_eq(memcmp(a, b, l1), 0);
    free(a);
    free(b);
}

Test(mocktext, prefix_and_continuation_stitch)
{
    const char *key = "stitching [mock:tokens=40]";
    size_t full_len;
    char *full = mocktext_article(KEY(key), 120, &full_len);

    cr_assert_not_null(full);
    for (size_t k = 0; k <= 40; k++) {
        for (size_t m = 1; m <= 45; m += 4) {
            size_t plen, kk = 99;
            char *prefix = mocktext_prefix(KEY(key), 120, k, &plen);
            struct mocktext_article *a =
                mocktext_article_new(KEY(key), 120, k + m);
            struct mocktext_reply r;
            size_t want = k + m < 40 ? k + m : 40;

            cr_assert_not_null(prefix);
            cr_assert_not_null(a);
            cr_assert_eq(
                mocktext_prefix_tokens(KEY(key), 120, prefix, plen, &kk), 0);
            cr_assert_eq(kk, k);
            cr_assert_eq(mocktext_reply(a, k, m, NULL, 0, &r), 0);
            cr_assert_eq(r.start, plen);
            cr_assert_eq(r.first_token, k);
            cr_assert_eq(r.ntokens, want - k);
            cr_assert_eq(r.stop, k + m < 40 ? MOCKTEXT_MAX_TOKENS_HIT
                                            : MOCKTEXT_END_TURN);
            /* prefix + continuation == first (k + m) tokens of the article */
            cr_assert_eq(memcmp(prefix, full, plen), 0);
            cr_assert_eq(
                memcmp(a->text + r.start, full + r.start, r.end - r.start), 0);
            cr_assert_eq(r.end, want == 40 ? full_len : a->off[want]);
            mocktext_article_free(a);
            free(prefix);
        }
    }
    free(full);
}

Test(mocktext, prefix_rejects_non_prefixes)
{
    const char *key = "rejects";
    size_t plen, k;
    char *p = mocktext_prefix(KEY(key), 120, 5, &plen);
    char *q = malloc(plen + 2);

    cr_assert_eq(mocktext_prefix_tokens(KEY(key), 120, "", 0, &k), 0);
    cr_assert_eq(k, 0);
    memcpy(q, p, plen);
    q[plen] = ' '; /* trailing space: not a token boundary */
    cr_assert_eq(mocktext_prefix_tokens(KEY(key), 120, q, plen + 1, &k), -1);
    q[plen] = 'x';
    cr_assert_eq(mocktext_prefix_tokens(KEY(key), 120, q, plen + 1, &k), -1);
    /* A partial token is not a prefix either. */
    cr_assert_eq(mocktext_prefix_tokens(KEY(key), 120, p, plen - 1, &k), -1);
    cr_assert_eq(mocktext_prefix_tokens(KEY(key), 120, "nope", 4, &k), -1);
    /* The whole article is a prefix (k = N); longer text is not. */
    free(p);
    p = mocktext_article(KEY("short [mock:tokens=3]"), 120, &plen);
    cr_assert_eq(
        mocktext_prefix_tokens(KEY("short [mock:tokens=3]"), 120, p, plen, &k),
        0);
    cr_assert_eq(k, 3);
    free(p);
    free(q);
}

Test(mocktext, reply_after_whole_article_is_empty)
{
    struct mocktext_article *a = mocktext_article_new(KEY("k"), 10, SIZE_MAX);
    struct mocktext_reply r;

    cr_assert_eq(mocktext_reply(a, 10, 5, NULL, 0, &r), 0);
    cr_assert_eq(r.ntokens, 0);
    cr_assert_eq(r.start, r.end);
    cr_assert_eq(r.stop, MOCKTEXT_END_TURN);
    cr_assert_eq(mocktext_reply(a, 11, 5, NULL, 0, &r), -1);
    mocktext_article_free(a);
}

Test(mocktext, articles_are_valid_utf8)
{
    for (int i = 0; i < 200; i++) {
        char key[64];
        size_t len;
        char *a;
        snprintf(key, sizeof(key), "utf8 key %d", i);
        a = mocktext_article(KEY(key), 300, &len);
        cr_assert_not_null(a);
        cr_assert(utf8_valid(a, len), "article of '%s' is valid UTF-8", key);
        free(a);
    }
    for (size_t i = 0; i < mocktext_nwords(); i++) {
        const char *w = mocktext_word(i);
        cr_assert(utf8_valid(w, strlen(w)), "word %zu", i);
        cr_assert_eq(mocktext_count_words(w, strlen(w)), 1, "word %zu", i);
    }
}

Test(mocktext, word_list_has_the_tricky_words)
{
    static const char *const need[] = {"Redis,", "latency.", "naïve",
                                       "café",   "Zürich",   "—",
                                       "日本語", "emoji🚀"};
    size_t n = mocktext_nwords();

    cr_assert_geq(n, 180);
    for (size_t j = 0; j < sizeof(need) / sizeof(need[0]); j++) {
        int found = 0;
        for (size_t i = 0; i < n; i++)
            found |= strcmp(mocktext_word(i), need[j]) == 0;
        cr_assert(found, "word list contains %s", need[j]);
    }
}

Test(mocktext, stop_sequence_cut)
{
    struct mocktext_article *a =
        mocktext_article_new(KEY("stops [mock:tokens=60]"), 120, SIZE_MAX);
    struct mocktext_reply r;
    char stop[64];
    const char *stops[3];
    size_t t = 20, cut;

    cr_assert_not_null(a);
    /* The stop string is token 20 (with its leading space). */
    snprintf(stop, sizeof(stop), "%.*s", (int)(a->off[t + 1] - a->off[t]),
             a->text + a->off[t]);
    stops[0] = "this string is not in the article";
    stops[1] = stop;
    cr_assert_eq(mocktext_reply(a, 0, 1000, stops, 2, &r), 0);
    cut = (size_t)(strstr(a->text, stop) - a->text);
    cr_assert_eq(r.stop, MOCKTEXT_STOP_SEQUENCE);
    cr_assert_eq(r.stop_index, 1);
    cr_assert_eq(r.end, cut);
    cr_assert_leq(cut, a->off[t]);
    cr_assert_null(
        memmem(a->text + r.start, r.end - r.start, stop, strlen(stop)));
    /* Tokens that start before the cut are reported. */
    {
        size_t n = 0;
        while (n < 60 && a->off[n] < cut)
            n++;
        cr_assert_eq(r.ntokens, n);
    }

    /* A stop outside the returned window does not cut. */
    cr_assert_eq(mocktext_reply(a, 0, 5, stops, 2, &r), 0);
    if (cut >= a->off[5]) {
        cr_assert_eq(r.stop, MOCKTEXT_MAX_TOKENS_HIT);
        cr_assert_eq(r.ntokens, 5);
        cr_assert_eq(r.stop_index, -1);
    }

    /* Earliest match wins; a cut inside a token keeps its start. */
    stops[0] = stop;
    snprintf(stop + 32, 16, "%.2s", a->text + a->off[3] + 1);
    stops[1] = stop + 32;
    cr_assert_eq(mocktext_reply(a, 0, 1000, stops, 2, &r), 0);
    cr_assert_eq(r.stop, MOCKTEXT_STOP_SEQUENCE);
    cr_assert_leq(r.end, a->off[3] + 1);
    cr_assert_eq(memcmp(a->text + r.end, stops[r.stop_index],
                        strlen(stops[r.stop_index])),
                 0);

    /* Empty stop strings are ignored. */
    stops[0] = "";
    cr_assert_eq(mocktext_reply(a, 0, 10, stops, 1, &r), 0);
    cr_assert_eq(r.stop, MOCKTEXT_MAX_TOKENS_HIT);
    mocktext_article_free(a);
}

Test(mocktext, count_words)
{
    cr_assert_eq(mocktext_count_words("", 0), 0);
    cr_assert_eq(mocktext_count_words("  a\tb\n\nc  ", 10), 3);
    cr_assert_eq(mocktext_count_words("naïve café", strlen("naïve café")), 2);
}

/* Feeds s to the parser step bytes at a time, keeping the unconsumed bytes
 * in front like the server does. */
static enum mockhttp_result
feed(struct mockhttp_req *r, const char *s, size_t step, size_t *consumed)
{
    size_t len = strlen(s), avail = 0, off = 0;
    enum mockhttp_result res = MOCKHTTP_AGAIN;

    while (avail < len) {
        size_t used;
        avail = avail + step < len ? avail + step : len;
        res = mockhttp_parse(r, s + off, avail - off, &used);
        off += used;
        if (res != MOCKHTTP_AGAIN)
            break;
    }
    *consumed = off;
    return res;
}

Test(mockhttp, content_length_body_bytewise)
{
    const char *req = "POST /v1/messages?beta=true HTTP/1.1\r\nHost: x\r\n"
                      "Content-Length: 5\r\nX-Api-Key:  k \r\n\r\nhelloGET";
    for (size_t step = 1; step < 8; step++) {
        struct mockhttp_req r = {0};
        size_t used;
        cr_assert_eq(feed(&r, req, step, &used), MOCKHTTP_DONE);
        cr_assert_str_eq(r.method, "POST");
        cr_assert_str_eq(r.target, "/v1/messages?beta=true");
        cr_assert_str_eq(mockhttp_header(&r, "x-api-key"), "k");
        cr_assert_eq(r.body.len, 5);
        cr_assert_str_eq(r.body.data, "hello");
        cr_assert(r.keep_alive);
        cr_assert_eq(used, strlen(req) - 3);
        mockhttp_free(&r);
    }
}

Test(mockhttp, chunked_body_and_expect)
{
    const char *req = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                      "Expect: 100-continue\r\nConnection: close\r\n\r\n"
                      "4\r\nWiki\r\n6;ext=1\r\npedia \r\nE\r\nin \r\n\r\n"
                      "chunks.\r\n0\r\nTrailer: x\r\n\r\n";
    for (size_t step = 1; step < 12; step++) {
        struct mockhttp_req r = {0};
        size_t used;
        cr_assert_eq(feed(&r, req, step, &used), MOCKHTTP_DONE, "step %zu",
                     step);
        cr_assert(r.expect_continue);
        cr_assert(!r.keep_alive);
        cr_assert_str_eq(r.body.data, "Wikipedia in \r\n\r\nchunks.");
        cr_assert_eq(used, strlen(req));
        mockhttp_free(&r);
    }
}

Test(mockhttp, limits_and_errors)
{
    struct mockhttp_req r = {0};
    size_t used;
    const char *big = "POST / HTTP/1.1\r\nContent-Length: 33554433\r\n\r\n";
    const char *bad = "POST / HTTP/1.1\r\nContent-Length: 12x\r\n\r\n";
    const char *ver = "GET / HTTP/2.0\r\n\r\n";

    cr_assert_eq(mockhttp_parse(&r, big, strlen(big), &used), MOCKHTTP_ERROR);
    cr_assert_eq(r.err_status, 413);
    mockhttp_reset(&r);
    cr_assert_eq(mockhttp_parse(&r, bad, strlen(bad), &used), MOCKHTTP_ERROR);
    cr_assert_eq(r.err_status, 400);
    mockhttp_reset(&r);
    cr_assert_eq(mockhttp_parse(&r, ver, strlen(ver), &used), MOCKHTTP_ERROR);
    cr_assert_eq(r.err_status, 505);
    mockhttp_free(&r);
}

Test(mockhttp, json_string_escaping)
{
    struct mockbuf b = {0};

    cr_assert_eq(mockbuf_json_str(&b, "a\"b\\c\n\x01é", 9), 0);
    cr_assert_str_eq(b.data, "\"a\\\"b\\\\c\\n\\u0001é\"");
    mockbuf_free(&b);
}
