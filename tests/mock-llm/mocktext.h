/* Deterministic mock-LLM text: the article generated for a prompt key, the
 * `[mock:...]` markers, stop-sequence cuts and word counts. No libev here:
 * tests link this module to compute the exact text a job must produce. */
#ifndef GENQ_MOCKTEXT_H
#define GENQ_MOCKTEXT_H

#include <stddef.h>
#include <stdint.h>

/* Largest N accepted in a [mock:tokens=N] marker. */
#define MOCKTEXT_MAX_TOKENS 200000
/* Buffer size for a fault kind name. */
#define MOCKTEXT_KIND_MAX 32
/* The server's --article-tokens default. */
#define MOCKTEXT_DEFAULT_TOKENS 120

/* One generated article, or its first `ntokens` tokens. Token i occupies
 * text[off[i] .. off[i+1]); token 0 is a word, token i>0 is " " + word.
 * `total` is the key's full article length in tokens (ntokens <= total). */
struct mocktext_article {
    char *text;     /* NUL-terminated, valid UTF-8 */
    size_t len;     /* bytes in text */
    size_t ntokens; /* tokens generated */
    size_t total;   /* tokens in the whole article for this key */
    size_t *off;    /* ntokens + 1 byte offsets */
};

enum mocktext_stop {
    MOCKTEXT_END_TURN,       /* article exhausted: "end_turn" / "stop" */
    MOCKTEXT_MAX_TOKENS_HIT, /* cut by max_tokens: "max_tokens" / "length" */
    MOCKTEXT_STOP_SEQUENCE   /* cut before a stop string: "stop_sequence" */
};

/* What one request returns: bytes text[start..end) of the article, which
 * touch tokens first_token .. first_token + ntokens - 1 (the last one may be
 * cut short by a stop sequence; ntokens is the reported output_tokens). */
struct mocktext_reply {
    size_t start;            /* byte offset of the first returned byte */
    size_t end;              /* byte offset one past the last returned byte */
    size_t first_token;      /* index of the first returned token (= k) */
    size_t ntokens;          /* tokens returned (output_tokens) */
    enum mocktext_stop stop; /* why the reply ended */
    int stop_index;          /* index into stops[] that matched, else -1 */
};

/* 64-bit FNV-1a hash of len bytes. Cannot fail. */
uint64_t mocktext_hash(const void *data, size_t len);

/* Length in tokens of the article for a key: N from the first well-formed
 * `[mock:tokens=N]` marker (1..MOCKTEXT_MAX_TOKENS) in the key, else
 * ntokens_default. Malformed or out-of-range markers are ignored.
 * Cannot fail. */
size_t mocktext_article_tokens(const char *key, size_t key_len,
                               size_t ntokens_default);

/* The whole article for a key, NUL-terminated; *out_len (may be NULL) gets
 * its byte length. Returns NULL on allocation failure. Caller frees the
 * result with free(). */
char *mocktext_article(const char *key, size_t key_len, size_t ntokens_default,
                       size_t *out_len);

/* The first min(k, N) tokens of the article for a key, NUL-terminated
 * (the empty string when k is 0); *out_len (may be NULL) gets the length.
 * Returns NULL on allocation failure. Caller frees with free(). */
char *mocktext_prefix(const char *key, size_t key_len, size_t ntokens_default,
                      size_t k, size_t *out_len);

/* Generates the first min(limit, N) tokens of the article for a key with
 * their boundaries. Returns NULL on allocation failure. Caller frees with
 * mocktext_article_free(). */
struct mocktext_article *mocktext_article_new(const char *key, size_t key_len,
                                              size_t ntokens_default,
                                              size_t limit);

/* Frees an article from mocktext_article_new(); accepts NULL. */
void mocktext_article_free(struct mocktext_article *a);

/* If text[0..text_len) is exactly the first k tokens of the key's article
 * for some k (0 for the empty string), stores k in *k and returns 0; returns
 * -1 otherwise. Generates tokens on the fly; allocates nothing. */
int mocktext_prefix_tokens(const char *key, size_t key_len,
                           size_t ntokens_default, const char *text,
                           size_t text_len, size_t *k);

/* Computes the reply to a request whose prefill already holds k tokens and
 * whose token budget is max_tokens: the next min(max_tokens, N - k) tokens,
 * cut before the earliest occurrence of any non-empty stops[i] inside them
 * (ties: lowest i). `a` must hold at least min(N, k + max_tokens) tokens.
 * Returns -1 if k > a->total or `a` holds too few tokens, else 0. */
int mocktext_reply(const struct mocktext_article *a, size_t k,
                   size_t max_tokens, const char *const *stops, size_t nstops,
                   struct mocktext_reply *r);

/* Number of whitespace-separated words in s[0..len). Cannot fail. */
size_t mocktext_count_words(const char *s, size_t len);

/* Fault markers in a key: `[mock:fail=KIND]` (always) or `[mock:fail=KIND*C]`
 * (the next C requests). Several markers chain in order, e.g.
 * `[mock:fail=429*1][mock:fail=500*2]` = 429, 500, 500, then success.
 * For the nth request (0-based) with this key: returns 1 and copies the kind
 * (NUL-terminated, truncated to kind_size) into kind when it must fail, 0
 * when it must succeed, and -1 when the key carries no fail marker. */
int mocktext_fail_for(const char *key, size_t key_len, unsigned long nth,
                      char *kind, size_t kind_size);

/* Number of words in the built-in word list, and word i (i < that number).
 * Exposed for tests. Cannot fail. */
size_t mocktext_nwords(void);
const char *mocktext_word(size_t i);

/* splitmix64: the next number of the stream *state (advanced). Tiny, fast
 * and identical on every platform; also the mock's fault draws and the
 * chaos job generator. This function can't fail. */
uint64_t mocktext_splitmix64(uint64_t *state);

#endif
