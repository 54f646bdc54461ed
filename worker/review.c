/* review: content review rules over a generated text -- the blocklist
 * (words joined into one PCRE2 pattern, re:PATTERN lines compiled one by
 * one), word bounds, Markdown headings, prompt echo; see review.h. */
#include "fmacros.h"

#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jsonw.h"
#include "review.h"
#include "utf8.h"

struct pat {
    pcre2_code *re;
    char src[REVIEW_DETAIL_MAX + 1]; /* the pattern as written, cut */
};

/* The reviewer model's instructions when no --review-prompt-file. */
static const char default_prompt[] =
    "You review generated texts before publication. You get the request "
    "the text was written for and the text. Answer with one line: PASS when "
    "the text fulfils the request and is fit to publish, else FAIL: and the "
    "reason in one sentence.";

#define PROMPT_FILE_MAX (64 * 1024)

struct review_rules {
    char model[128];   /* the reviewer model; "" = no model call */
    char *prompt;      /* its instructions (owned; NULL = default_prompt) */
    pcre2_code *words; /* every blocklisted word; NULL when none */
    struct pat pats[REVIEW_MAX_PATTERNS];
    int npats;
    int min_words, max_words, min_headings, echo;
};

void
review_rules_free(struct review_rules *r)
{
    if (!r)
        return;
    free(r->prompt);
    pcre2_code_free(r->words);
    for (int i = 0; i < r->npats; i++)
        pcre2_code_free(r->pats[i].re);
    free(r);
}

/* Compile pat[0..n) with opts; NULL with PCRE2's message in why. */
static pcre2_code *
compile(const char *pat, size_t n, uint32_t opts, char *why, size_t whylen,
        size_t *at)
{
    int ec;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, n, opts, &ec, &off, NULL);

    if (!re) {
        PCRE2_UCHAR msg[160];
        if (pcre2_get_error_message(ec, msg, sizeof(msg)) < 0)
            snprintf((char *)msg, sizeof(msg), "error %d", ec);
        snprintf(why, whylen, "%s", (const char *)msg);
        *at = off;
        return NULL;
    }
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* optional speed-up */
    return re;
}

/* Append word w[0..n) to the alternation, every non-alphanumeric ASCII
 * byte escaped (so it matches itself). */
static int
add_word(struct buf *alt, const char *w, size_t n)
{
    if (alt->len > 0 && buf_append_str(alt, "|") < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)w[i];
        int plain = c >= 0x80 || (c >= '0' && c <= '9') ||
                    (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
        if (!plain && buf_append(alt, "\\", 1) < 0)
            return -1;
        if (buf_append(alt, w + i, 1) < 0)
            return -1;
    }
    return 0;
}

/* Read the blocklist file into r. 0, or -1 with err. */
static int
load_blocklist(struct review_rules *r, const char *path, char *err,
               size_t errlen)
{
    FILE *f = fopen(path, "r");
    char *line = NULL, why[200];
    size_t cap = 0, at;
    ssize_t n;
    long lineno = 0;
    struct buf alt, full;
    int rc = -1;

    if (!f) {
        snprintf(err, errlen, "review blocklist %s: %s", path, strerror(errno));
        return -1;
    }
    buf_init(&alt, 0);
    buf_init(&full, 0);
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' ||
                         line[n - 1] == ' ' || line[n - 1] == '\t'))
            line[--n] = '\0';
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '#')
            continue;
        if (!strncmp(p, "re:", 3)) {
            struct pat *pt = &r->pats[r->npats];
            if (r->npats == REVIEW_MAX_PATTERNS) {
                snprintf(err, errlen,
                         "review blocklist %s:%ld: more than %d re: lines",
                         path, lineno, REVIEW_MAX_PATTERNS);
                goto out;
            }
            pt->re =
                compile(p + 3, strlen(p + 3), PCRE2_UTF, why, sizeof(why), &at);
            if (!pt->re) {
                snprintf(err, errlen,
                         "review blocklist %s:%ld: pattern '%.60s' at offset "
                         "%zu: %s",
                         path, lineno, p + 3, at, why);
                goto out;
            }
            snprintf(pt->src, sizeof(pt->src), "%s", p + 3);
            r->npats++;
        } else if (add_word(&alt, p, strlen(p)) < 0) {
            snprintf(err, errlen, "review blocklist %s: out of memory", path);
            goto out;
        }
    }
    if (ferror(f)) {
        snprintf(err, errlen, "review blocklist %s: read error", path);
        goto out;
    }
    if (alt.len > 0) {
        /* whole words: no word character right before or after */
        if (buf_append_str(&full, "(?<!\\w)(?:") < 0 ||
            buf_append(&full, alt.data, alt.len) < 0 ||
            buf_append_str(&full, ")(?!\\w)") < 0) {
            snprintf(err, errlen, "review blocklist %s: out of memory", path);
            goto out;
        }
        r->words =
            compile(full.data, full.len, PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS,
                    why, sizeof(why), &at);
        if (!r->words) {
            snprintf(err, errlen, "review blocklist %s: words: %s", path, why);
            goto out;
        }
    }
    rc = 0;
out:
    free(line);
    fclose(f);
    buf_free(&alt);
    buf_free(&full);
    return rc;
}

/* Read the reviewer's instructions (at most PROMPT_FILE_MAX bytes, not
 * empty). 0, or -1 with err. */
static int
load_prompt(struct review_rules *r, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    size_t n;

    if (!f) {
        snprintf(err, errlen, "review prompt file %s: %s", path,
                 strerror(errno));
        return -1;
    }
    r->prompt = malloc(PROMPT_FILE_MAX + 1);
    n = r->prompt ? fread(r->prompt, 1, PROMPT_FILE_MAX + 1, f) : 0;
    fclose(f);
    if (!r->prompt || n == 0 || n > PROMPT_FILE_MAX ||
        memchr(r->prompt, '\0', n)) {
        snprintf(err, errlen, "review prompt file %s: %s", path,
                 !r->prompt ? "out of memory"
                 : n == 0   ? "empty"
                            : "over 64 KiB or holds a NUL byte");
        return -1;
    }
    r->prompt[n] = '\0';
    return 0;
}

struct review_rules *
review_rules_new(const struct qopts *o, char *err, size_t errlen)
{
    struct review_rules *r = calloc(1, sizeof(*r));

    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->min_words = o->min_words;
    r->max_words = o->max_words;
    r->min_headings = o->min_headings;
    r->echo = o->echo;
    snprintf(r->model, sizeof(r->model), "%s", o->model);
    if ((o->blocklist[0] && load_blocklist(r, o->blocklist, err, errlen) < 0) ||
        (o->prompt_file[0] &&
         load_prompt(r, o->prompt_file, err, errlen) < 0)) {
        review_rules_free(r);
        return NULL;
    }
    return r;
}

const char *
review_rules_model(const struct review_rules *r)
{
    return r && r->model[0] ? r->model : NULL;
}

int
review_rules_echo(const struct review_rules *r)
{
    return r && r->echo;
}

const char *
review_rules_prompt(const struct review_rules *r)
{
    return r && r->prompt ? r->prompt : default_prompt;
}

/* ---- counting ----------------------------------------------------------- */

static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

static int
is_wordish(unsigned char c)
{
    return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
           (c >= 'a' && c <= 'z');
}

long
review_count_words(const char *text, size_t len)
{
    long n = 0;
    int in = 0, counted = 0;

    for (size_t i = 0; i < len; i++) {
        if (is_space(text[i])) {
            in = counted = 0;
            continue;
        }
        in = 1;
        if (!counted && is_wordish((unsigned char)text[i])) {
            n++;
            counted = 1;
        }
    }
    (void)in;
    return n;
}

long
review_count_headings(const char *text, size_t len)
{
    long n = 0;
    int fence = 0;

    for (size_t i = 0; i < len;) {
        size_t e = i, p = i, h = 0;
        while (e < len && text[e] != '\n')
            e++;
        while (p < e && p - i < 3 && text[p] == ' ')
            p++;
        if (e - p >= 3 && !memcmp(text + p, "```", 3)) {
            fence = !fence;
        } else if (!fence) {
            while (p + h < e && text[p + h] == '#' && h < 7)
                h++;
            if (h >= 1 && h <= 6 &&
                (p + h == e || text[p + h] == ' ' || text[p + h] == '\t'))
                n++;
        }
        i = e + 1;
    }
    return n;
}

/* ---- checking ----------------------------------------------------------- */

/* Append one {"rule","detail"} to out, opening the array at the first. */
static int
reason(struct buf *out, int *k, const char *rule, const char *detail)
{
    int bad = 0;

    bad |= buf_append_str(out, *k == 0 ? "[{\"rule\":" : ",{\"rule\":") < 0;
    bad |= jsonw_str(out, rule, strlen(rule)) < 0;
    bad |= buf_append_str(out, ",\"detail\":") < 0;
    bad |= jsonw_str(out, detail, strlen(detail)) < 0;
    bad |= buf_append_str(out, "}") < 0;
    (*k)++;
    return bad ? -1 : 0;
}

/* The first match of re in text: 1 with the matched text (cut to
 * REVIEW_DETAIL_MAX at a character) in m, 0 when none, -1 on OOM. */
static int
first_match(const pcre2_code *re, const char *text, size_t len, char *m,
            size_t mcap)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    int rc;

    if (!md)
        return -1;
    rc = pcre2_match(re, (PCRE2_SPTR)text, len, 0, 0, md, NULL);
    if (rc > 0) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t a = ov[0], b = ov[1], n = b - a;
        if (n >= mcap)
            n = mcap - 1;
        while (n > 0 && n < b - a &&
               ((unsigned char)text[a + n] & 0xC0) == 0x80)
            n--; /* do not cut a character */
        memcpy(m, text + a, n);
        m[n] = '\0';
    }
    pcre2_match_data_free(md);
    return rc > 0 ? 1 : 0; /* no match and match errors pass */
}

/* text normalized for the echo rule: ASCII lowercased, every run of
 * non-word bytes one space, trimmed. malloc'd; NULL on OOM. */
static char *
norm(const char *s, size_t len, size_t *out_len)
{
    char *o = malloc(len + 1);
    size_t k = 0;

    if (!o)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_wordish(c)) {
            o[k++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        } else if (k > 0 && o[k - 1] != ' ') {
            o[k++] = ' ';
        }
    }
    if (k > 0 && o[k - 1] == ' ')
        k--;
    o[k] = '\0';
    *out_len = k;
    return o;
}

/* 1 when the output merely repeats the prompt: its normalized text lies
 * within the prompt's, or holds the prompt and little else (at most a
 * fifth more). 0 when not, -1 on OOM. */
static int
echoes(const char *text, size_t len, const char *prompt)
{
    size_t tl, pl;
    char *t = norm(text, len, &tl), *p = NULL;
    int rc = -1;

    if (!t)
        return -1;
    p = norm(prompt, strlen(prompt), &pl);
    if (!p)
        goto out;
    rc = 0;
    if (tl > 0 && pl > 0 &&
        ((tl <= pl && strstr(p, t)) || (tl <= pl + pl / 5 && strstr(t, p))))
        rc = 1;
out:
    free(t);
    free(p);
    return rc;
}

int
review_check(const struct review_rules *r, const char *text, size_t len,
             const char *prompt, struct buf *out)
{
    char d[REVIEW_DETAIL_MAX + 64], m[REVIEW_DETAIL_MAX + 1];
    size_t mark;
    int k = 0, hit;
    long n;

    if (!r)
        return 0;
    mark = out->len;
    if (!text)
        len = 0;
    if (r->words && len > 0) {
        hit = first_match(r->words, text, len, m, sizeof(m));
        if (hit < 0)
            goto oom;
        snprintf(d, sizeof(d), "blocklisted word '%s'", m);
        if (hit && reason(out, &k, "blocklist", d) < 0)
            goto oom;
    }
    for (int i = 0; i < r->npats && len > 0; i++) {
        hit = first_match(r->pats[i].re, text, len, m, sizeof(m));
        if (hit < 0)
            goto oom;
        if (hit) {
            char pd[2 * REVIEW_DETAIL_MAX + 64];
            snprintf(pd, sizeof(pd), "'%s' matched '%s'", r->pats[i].src, m);
            if (reason(out, &k, "pattern", pd) < 0)
                goto oom;
        }
    }
    if (r->min_words > 0 || r->max_words > 0) {
        n = review_count_words(text, len);
        if (r->min_words > 0 && n < r->min_words) {
            snprintf(d, sizeof(d), "%ld words, fewer than %d", n, r->min_words);
            if (reason(out, &k, "min_words", d) < 0)
                goto oom;
        }
        if (r->max_words > 0 && n > r->max_words) {
            snprintf(d, sizeof(d), "%ld words, more than %d", n, r->max_words);
            if (reason(out, &k, "max_words", d) < 0)
                goto oom;
        }
    }
    if (r->min_headings > 0) {
        n = review_count_headings(text, len);
        if (n < r->min_headings) {
            snprintf(d, sizeof(d), "%ld Markdown headings, fewer than %d", n,
                     r->min_headings);
            if (reason(out, &k, "min_headings", d) < 0)
                goto oom;
        }
    }
    if (r->echo && prompt && len > 0) {
        hit = echoes(text, len, prompt);
        if (hit < 0)
            goto oom;
        if (hit && reason(out, &k, "echo", "the output repeats the prompt") < 0)
            goto oom;
    }
    if (k > 0 && buf_append_str(out, "]") < 0)
        goto oom;
    return k;
oom:
    out->len = mark;
    if (out->data)
        out->data[mark] = '\0';
    return -1;
}

/* Copy a[0..n) into why as one line, cut to fit at a character. */
static void
line_copy(char *why, size_t cap, const char *a, size_t n)
{
    size_t k = n < cap ? n : cap - 1;

    k = utf8_truncate(a, k);
    memcpy(why, a, k);
    why[k] = '\0';
    for (char *p = why; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
}

int
review_verdict(const char *answer, size_t len, char *why, size_t cap)
{
    size_t i = 0, n;

    while (i < len && (is_space(answer[i]) || answer[i] == '*'))
        i++;
    if (len - i >= 4 && !strncasecmp(answer + i, "PASS", 4))
        return 0;
    if (len - i >= 4 && !strncasecmp(answer + i, "FAIL", 4)) {
        i += 4;
        while (i < len && (is_space(answer[i]) || answer[i] == ':' ||
                           answer[i] == '*' || answer[i] == '-'))
            i++;
        for (n = i; n < len && answer[n] != '\n'; n++)
            ;
        line_copy(why, cap, answer + i, n - i);
        if (!why[0])
            snprintf(why, cap, "the reviewer model said FAIL");
        return 1;
    }
    {
        char head[64];
        line_copy(head, sizeof head, answer + i, len - i);
        snprintf(why, cap,
                 "the reviewer model's answer is neither PASS nor FAIL: '%s'",
                 head);
    }
    return 1;
}
