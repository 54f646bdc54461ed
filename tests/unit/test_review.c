/* Unit tests of the content review rules (worker/review.c): blocklisted
 * words (whole word, case-insensitive, Unicode), re: patterns (PCRE2),
 * word bounds, Markdown headings outside fences, prompt echo, the reasons
 * document, and blocklist errors. */
#include "fmacros.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../worker/review.h"

static char path[64];

static struct review_rules *
rules(const char *blocklist, int minw, int maxw, int minh, int echo)
{
    struct qopts o;
    char err[300];
    struct review_rules *r;

    memset(&o, 0, sizeof o);
    if (blocklist) {
        int fd;
        FILE *f;
        snprintf(path, sizeof path, "/tmp/genq-test-block-XXXXXX");
        fd = mkstemp(path);
        cr_assert_geq(fd, 0);
        f = fdopen(fd, "w");
        fputs(blocklist, f);
        fclose(f);
        snprintf(o.blocklist, sizeof o.blocklist, "%s", path);
    }
    o.min_words = minw;
    o.max_words = maxw;
    o.min_headings = minh;
    o.echo = echo;
    r = review_rules_new(&o, err, sizeof err);
    if (blocklist)
        unlink(path);
    cr_assert_not_null(r, "%s", err);
    return r;
}

/* The reasons for text (caller frees), or NULL when it passes. */
static char *
check(const struct review_rules *r, const char *text, const char *prompt)
{
    struct buf b;
    int n;

    buf_init(&b, 0);
    n = review_check(r, text, strlen(text), prompt, &b);
    cr_assert_geq(n, 0);
    if (n == 0) {
        cr_assert_eq(b.len, 0);
        buf_free(&b);
        return NULL;
    }
    return buf_detach(&b, NULL);
}

Test(review, blocklist_whole_words_any_case)
{
    struct review_rules *r =
        rules("# comment\n\n  darn  \nc++\nnaïve\n", 0, 0, 0, 0);
    char *s;

    s = check(r, "Well, DARN it.", NULL);
    cr_assert_not_null(s);
    cr_assert(strstr(s, "\"rule\":\"blocklist\"") &&
                  strstr(s, "blocklisted word 'DARN'"),
              "%s", s);
    free(s);
    cr_assert_null(check(r, "darned and undarn pass", NULL));
    s = check(r, "written in c++ today", NULL);
    cr_assert_not_null(s, "words with symbols match as themselves");
    free(s);
    cr_assert_null(check(r, "written in c++x", NULL));
    s = check(r, "a NAÏVE view", NULL);
    cr_assert_not_null(s, "case-insensitive beyond ASCII");
    free(s);
    cr_assert_null(check(r, "", NULL));
    review_rules_free(r);
}

Test(review, patterns)
{
    struct review_rules *r =
        rules("re:\\b[0-9]{3}-[0-9]{4}\\b\nre:(?i)lorem ipsum\n", 0, 0, 0, 0);
    char *s = check(r, "call 555-1234 or Lorem Ipsum", NULL);

    cr_assert_not_null(s);
    cr_assert(strstr(s, "matched '555-1234'") &&
                  strstr(s, "matched 'Lorem Ipsum'"),
              "%s", s);
    cr_assert(s[0] == '[' && s[strlen(s) - 1] == ']');
    free(s);
    cr_assert_null(check(r, "call 5551234", NULL));
    review_rules_free(r);
}

Test(review, bad_blocklist)
{
    struct qopts o;
    char err[300];
    int fd;
    FILE *f;

    memset(&o, 0, sizeof o);
    snprintf(o.blocklist, sizeof o.blocklist, "/nonexistent/blocklist");
    cr_assert_null(review_rules_new(&o, err, sizeof err));
    cr_assert(strstr(err, "/nonexistent/blocklist"), "%s", err);
    snprintf(path, sizeof path, "/tmp/genq-test-block-XXXXXX");
    fd = mkstemp(path);
    f = fdopen(fd, "w");
    fputs("ok\nre:a(b\n", f);
    fclose(f);
    snprintf(o.blocklist, sizeof o.blocklist, "%s", path);
    cr_assert_null(review_rules_new(&o, err, sizeof err));
    unlink(path);
    cr_assert(strstr(err, ":2: pattern 'a(b'"), "%s", err);
}

Test(review, words_and_headings)
{
    struct review_rules *r = rules(NULL, 3, 6, 2, 0);
    char *s;

    cr_assert_eq(review_count_words("a b  c\n-- ## d", 14), 4);
    {
        const char *md = "# A\ntext\n## B\n####### no\n#no\n   ### C\n```\n"
                         "# in code\n```\n";
        cr_assert_eq(review_count_headings(md, strlen(md)), 3);
    }
    cr_assert_null(check(r, "# One\nsome words\n## Two", NULL));
    s = check(r, "# One\nwords", NULL);
    cr_assert(strstr(s, "min_words") && strstr(s, "min_headings"), "%s", s);
    free(s);
    s = check(r, "# a\n## b\none two three four five", NULL);
    cr_assert(strstr(s, "\"max_words\"") && strstr(s, "7 words, more than 6"),
              "%s", s);
    free(s);
    review_rules_free(r);
}

Test(review, echo_of_the_prompt)
{
    struct review_rules *r = rules(NULL, 0, 0, 0, 1);
    const char *p = "Write an article about Redis streams for beginners.";
    char *s = check(r, "write an article about redis streams", p);

    cr_assert_not_null(s);
    cr_assert(strstr(s, "\"echo\""), "%s", s);
    free(s);
    s = check(r, "Write an article about Redis streams for beginners!!", p);
    cr_assert_not_null(s, "the prompt itself, punctuation aside");
    free(s);
    cr_assert_null(check(r,
                         "Redis streams are append-only logs with "
                         "consumer groups, IDs and trimming; this article "
                         "explains them step by step.",
                         p));
    cr_assert_null(check(r, "anything", NULL), "no prompt: no echo rule");
    review_rules_free(r);
    cr_assert_eq(review_check(NULL, "x", 1, NULL, NULL), 0);
}

Test(review, reviewer_model_verdicts)
{
    char why[200];

    cr_assert_eq(review_verdict("PASS", 4, why, sizeof why), 0);
    cr_assert_eq(review_verdict("  **pass** fine", 15, why, sizeof why), 0);
    cr_assert_eq(review_verdict("FAIL: off topic\nmore", 20, why, sizeof why),
                 1);
    cr_assert_str_eq(why, "off topic");
    cr_assert_eq(review_verdict("fail", 4, why, sizeof why), 1);
    cr_assert_str_eq(why, "the reviewer model said FAIL");
    cr_assert_eq(review_verdict("Maybe?", 6, why, sizeof why), 1);
    cr_assert(strstr(why, "neither PASS nor FAIL: 'Maybe?'"), "%s", why);
    cr_assert_eq(review_verdict("FAIL: caf\xc3\xa9", 10, why, 10), 1);
    cr_assert_str_eq(why, "caf", "cut at a character, not inside it");
}
