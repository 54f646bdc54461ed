/* Deterministic mock-LLM text: a splitmix64 stream seeded by the FNV-1a hash
 * of the prompt key picks words from a fixed list; markers in the key set the
 * article length and injected faults. See mocktext.h for the contract. */
#include "fmacros.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mocktext.h"

/* The word list is part of the test contract: changing it changes every
 * expected article. It mixes ASCII, punctuation-bearing tokens, JSON-special
 * characters and multi-byte UTF-8 so that clients which split UTF-8 or escape
 * JSON wrongly are caught. No word contains whitespace. */
static const char *const words[] = {
    "queue",
    "worker",
    "Redis,",
    "latency.",
    "throughput",
    "naïve",
    "café",
    "Zürich",
    "—",
    "日本語",
    "emoji🚀",
    "stream",
    "token",
    "lease",
    "retry",
    "backoff",
    "jitter",
    "socket",
    "buffer",
    "kernel",
    "epoll",
    "libev",
    "timer",
    "deadline",
    "heartbeat",
    "shard",
    "replica",
    "cluster",
    "failover",
    "snapshot",
    "journal",
    "append-only",
    "fsync,",
    "commit",
    "rollback",
    "idempotent",
    "at-least-once",
    "exactly-once",
    "dead-letter",
    "consumer",
    "producer",
    "broker",
    "partition",
    "offset",
    "cursor",
    "index",
    "B-tree",
    "hash",
    "bloom",
    "filter",
    "cache",
    "eviction",
    "TTL",
    "expiry",
    "priority",
    "fairness",
    "scheduler",
    "thread",
    "coroutine",
    "callback",
    "future",
    "promise",
    "async",
    "await",
    "mutex",
    "spinlock",
    "atomic",
    "barrier",
    "memory",
    "allocator",
    "arena",
    "slab",
    "pointer",
    "struct",
    "union",
    "enum",
    "macro",
    "compiler",
    "linker",
    "loader",
    "binary",
    "protocol",
    "HTTP/1.1",
    "TLS",
    "handshake",
    "header",
    "payload",
    "JSON",
    "schema",
    "validation",
    "parser",
    "lexer",
    "grammar",
    "encoder",
    "decoder",
    "UTF-8",
    "ASCII",
    "byte",
    "word",
    "page",
    "segment",
    "frame",
    "packet",
    "datagram",
    "checksum",
    "CRC32",
    "SHA-256",
    "signature",
    "certificate",
    "key",
    "secret",
    "vault",
    "rotation",
    "audit",
    "metric",
    "histogram",
    "p99",
    "percentile",
    "gauge",
    "counter",
    "trace",
    "span",
    "log",
    "alert",
    "dashboard",
    "incident",
    "outage",
    "recovery",
    "resilience",
    "capacity",
    "quota",
    "limit;",
    "burst",
    "throttle",
    "bucket",
    "window",
    "sliding",
    "fixed",
    "adaptive",
    "feedback",
    "control",
    "loop",
    "pipeline",
    "stage",
    "batch",
    "bulk",
    "chunk",
    "fragment",
    "merge",
    "split",
    "sort",
    "search",
    "graph",
    "tree",
    "heap",
    "stack",
    "list",
    "vector",
    "matrix",
    "tensor",
    "model",
    "prompt",
    "completion",
    "embedding",
    "context",
    "window:",
    "inference",
    "sampling",
    "temperature",
    "top-p",
    "decoding",
    "greedy",
    "beam",
    "draft",
    "verify",
    "deploy",
    "rollout",
    "canary",
    "blue-green",
    "container",
    "image",
    "volume",
    "network",
    "bridge",
    "proxy",
    "gateway",
    "router",
    "balancer",
    "upstream",
    "downstream",
    "(sidecar)",
    "\"quoted\"",
    "back\\slash",
    "<tag>",
    "&amp;",
    "50%",
    "façade",
    "déjà-vu",
    "Ωmega",
    "λ-calculus",
    "Привет",
    "한국어",
    "ünïcödé",
    "señal",
    "naïveté",
    "µs",
    "…",
    "→",
    "✓",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
};

#define NWORDS (sizeof(words) / sizeof(words[0]))

size_t
mocktext_nwords(void)
{
    return NWORDS;
}

const char *
mocktext_word(size_t i)
{
    return i < NWORDS ? words[i] : "";
}

uint64_t
mocktext_hash(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 14695981039346656037ULL;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

uint64_t
mocktext_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Finds `needle` (NUL-terminated) in s[0..len) from position from. */
static const char *
find_str(const char *s, size_t len, size_t from, const char *needle)
{
    size_t nlen = strlen(needle);

    if (nlen == 0 || from > len || len - from < nlen)
        return NULL;
    return memmem(s + from, len - from, needle, nlen);
}

/* Parses decimal digits at p (< end) into *out, at most max. Returns the
 * pointer past the digits, or NULL when there are none or the value is
 * larger than max. */
static const char *
parse_uint(const char *p, const char *end, unsigned long max,
           unsigned long *out)
{
    unsigned long v = 0;
    const char *start = p;

    while (p < end && *p >= '0' && *p <= '9') {
        unsigned long d = (unsigned long)(*p - '0');
        if (v > (max - d) / 10)
            return NULL;
        v = v * 10 + d;
        p++;
    }
    if (p == start)
        return NULL;
    *out = v;
    return p;
}

size_t
mocktext_article_tokens(const char *key, size_t key_len, size_t ntokens_default)
{
    static const char marker[] = "[mock:tokens=";
    size_t pos = 0;
    const char *end = key + key_len;
    const char *m;

    while ((m = find_str(key, key_len, pos, marker)) != NULL) {
        unsigned long v;
        const char *p =
            parse_uint(m + sizeof(marker) - 1, end, MOCKTEXT_MAX_TOKENS, &v);
        if (p != NULL && p < end && *p == ']' && v >= 1)
            return (size_t)v;
        pos = (size_t)(m - key) + 1;
    }
    return ntokens_default;
}

/* Token generator: word choice only depends on the key hash and index. */
struct gen {
    uint64_t state;
    size_t i;
    size_t n;
};

static void
gen_init(struct gen *g, const char *key, size_t key_len, size_t ntok_default)
{
    g->state = mocktext_hash(key, key_len);
    g->i = 0;
    g->n = mocktext_article_tokens(key, key_len, ntok_default);
}

/* Next token's word; *space is 1 when the token starts with " ". Returns
 * NULL past the end. */
static const char *
gen_next(struct gen *g, int *space)
{
    if (g->i >= g->n)
        return NULL;
    *space = g->i > 0;
    g->i++;
    return words[mocktext_splitmix64(&g->state) % NWORDS];
}

struct mocktext_article *
mocktext_article_new(const char *key, size_t key_len, size_t ntokens_default,
                     size_t limit)
{
    struct gen g;
    struct mocktext_article *a;
    struct buf text;
    const char *w;
    int space;

    gen_init(&g, key, key_len, ntokens_default);
    if (limit > g.n)
        limit = g.n;
    a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->total = g.n;
    /* limit <= g.n, a token count: limit + 1 never wraps to 0 bytes. */
    /* NOLINTNEXTLINE(clang-analyzer-optin.portability.UnixAPI) */
    a->off = malloc((limit + 1) * sizeof(*a->off));
    buf_init(&text, 0);
    if (a->off == NULL)
        goto fail;
    a->off[0] = 0;
    /* room for the usual article at once, then a token is a copy (a
     * stream's article is built for every request: this loop was a third
     * of the mock's work); buf_grow only past that */
    if (limit < SIZE_MAX / 16 && buf_reserve(&text, limit * 8 + 16) < 0)
        goto fail;
    while (a->ntokens < limit && (w = gen_next(&g, &space)) != NULL) {
        size_t wl = strlen(w), need = (size_t)space + wl;
        char *at;
        if (text.data != NULL && text.cap - text.len > need) {
            at = text.data + text.len;
            text.len += need;
        } else if ((at = buf_grow(&text, need)) == NULL) {
            goto fail;
        }
        if (space)
            *at++ = ' ';
        /* the text is terminated once, after the loop */
        memcpy(at, w, wl); /* NOLINT(bugprone-not-null-terminated-result) */
        a->off[++a->ntokens] = text.len;
    }
    if (text.data != NULL)
        text.data[text.len] = '\0';
    a->text = buf_detach(&text, &a->len);
    if (a->text == NULL)
        goto fail;
    return a;
fail:
    buf_free(&text);
    mocktext_article_free(a);
    return NULL;
}

void
mocktext_article_free(struct mocktext_article *a)
{
    if (a == NULL)
        return;
    free(a->text);
    free(a->off);
    free(a);
}

char *
mocktext_prefix(const char *key, size_t key_len, size_t ntokens_default,
                size_t k, size_t *out_len)
{
    struct mocktext_article *a =
        mocktext_article_new(key, key_len, ntokens_default, k);
    char *text;

    if (a == NULL)
        return NULL;
    text = a->text;
    if (out_len != NULL)
        *out_len = a->len;
    a->text = NULL;
    mocktext_article_free(a);
    return text;
}

char *
mocktext_article(const char *key, size_t key_len, size_t ntokens_default,
                 size_t *out_len)
{
    return mocktext_prefix(key, key_len, ntokens_default, SIZE_MAX, out_len);
}

int
mocktext_prefix_tokens(const char *key, size_t key_len, size_t ntokens_default,
                       const char *text, size_t text_len, size_t *k)
{
    struct gen g;
    size_t pos = 0;
    const char *w;
    int space;

    gen_init(&g, key, key_len, ntokens_default);
    while (pos < text_len) {
        size_t wl;
        w = gen_next(&g, &space);
        if (w == NULL)
            return -1;
        if (space) {
            if (text[pos] != ' ')
                return -1;
            pos++;
        }
        wl = strlen(w);
        if (text_len - pos < wl || memcmp(text + pos, w, wl) != 0)
            return -1;
        pos += wl;
    }
    *k = g.i;
    return 0;
}

int
mocktext_reply(const struct mocktext_article *a, size_t k, size_t max_tokens,
               const char *const *stops, size_t nstops,
               struct mocktext_reply *r)
{
    size_t want, last, best = SIZE_MAX;

    if (k > a->total)
        return -1;
    want = a->total - k;
    r->stop = MOCKTEXT_END_TURN;
    if (max_tokens < want) {
        want = max_tokens;
        r->stop = MOCKTEXT_MAX_TOKENS_HIT;
    }
    last = k + want;
    if (last > a->ntokens)
        return -1;
    r->first_token = k;
    r->start = a->off[k];
    r->end = a->off[last];
    r->ntokens = want;
    r->stop_index = -1;
    for (size_t i = 0; i < nstops; i++) {
        const char *m;
        if (stops[i] == NULL || stops[i][0] == '\0')
            continue;
        m = find_str(a->text + r->start, r->end - r->start, 0, stops[i]);
        if (m != NULL && (size_t)(m - a->text) < best) {
            best = (size_t)(m - a->text);
            r->stop_index = (int)i;
        }
    }
    if (r->stop_index >= 0) {
        size_t t = k;
        r->end = best;
        r->stop = MOCKTEXT_STOP_SEQUENCE;
        /* Count tokens that start before the cut: a token cut in the
         * middle was generated, so it is reported. */
        while (t < last && a->off[t] < best)
            t++;
        r->ntokens = t - k;
    }
    return 0;
}

size_t
mocktext_count_words(const char *s, size_t len)
{
    size_t n = 0;
    int in = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int ws = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
                 c == '\f';
        if (!ws && !in)
            n++;
        in = !ws;
    }
    return n;
}

int
mocktext_fail_for(const char *key, size_t key_len, unsigned long nth,
                  char *kind, size_t kind_size)
{
    static const char marker[] = "[mock:fail=";
    const char *end = key + key_len;
    size_t pos = 0;
    int found = 0;
    const char *m;

    while ((m = find_str(key, key_len, pos, marker)) != NULL) {
        const char *ks = m + sizeof(marker) - 1, *p = ks;
        unsigned long count = 0;
        int forever = 1;

        pos = (size_t)(m - key) + 1;
        while (p < end && *p != ']' && *p != '*' && *p != '[' &&
               (size_t)(p - ks) < MOCKTEXT_KIND_MAX)
            p++;
        if (p == ks || p >= end || (*p != ']' && *p != '*'))
            continue;
        if (*p == '*') {
            const char *q = parse_uint(p + 1, end, 1000000000UL, &count);
            if (q == NULL || q >= end || *q != ']')
                continue;
            forever = 0;
        }
        found = 1;
        if (forever || nth < count) {
            size_t kl = (size_t)(p - ks);
            if (kind_size == 0)
                return 1;
            if (kl >= kind_size)
                kl = kind_size - 1;
            memcpy(kind, ks, kl);
            kind[kl] = '\0';
            return 1;
        }
        nth -= count;
    }
    return found ? 0 : -1;
}
