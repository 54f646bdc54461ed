/* review: the content review rules a generated text must pass before it
 * is `succeeded` (README "Content review") -- blocklisted words (whole
 * word, case-insensitive) and PCRE2 patterns from a blocklist file,
 * minimum and maximum words, a minimum of Markdown headings, and output
 * that merely repeats the prompt. A flagged result goes to state review
 * with its reasons. Pure: no I/O but reading the blocklist file once. */
#ifndef GENQ_REVIEW_H
#define GENQ_REVIEW_H

#include <stddef.h>

#include "buf.h"
#include "qopts.h"

#define REVIEW_MAX_PATTERNS 256 /* re: lines of one blocklist */
#define REVIEW_DETAIL_MAX   80  /* bytes of matched text quoted in a reason */

struct review_rules;

/* Compile o's rules (the blocklist file is read here). Returns the rules
 * -- caller frees with review_rules_free() -- or NULL with a reason naming
 * the file, line and problem in err (unreadable file, a bad pattern, out of
 * memory). Rules with nothing configured flag nothing. */
struct review_rules *review_rules_new(const struct qopts *o, char *err,
                                      size_t errlen);

/* Accepts NULL. */
void review_rules_free(struct review_rules *r);

/* The reviewer model of r (--review-model), or NULL when the review makes
 * no model call (r NULL too). Borrowed. */
const char *review_rules_model(const struct review_rules *r);

/* 1 when r's rules read the job's prompt (the echo rule), else 0 (r
 * NULL too). Can't fail. */
int review_rules_echo(const struct review_rules *r);

/* The reviewer model's instructions: --review-prompt-file's text, else a
 * built-in prompt asking for PASS or FAIL: REASON. Borrowed. */
const char *review_rules_prompt(const struct review_rules *r);

/* The verdict of a reviewer model's answer: 0 when it passes (it opens with
 * PASS), else 1 with the reason in why (the text after FAIL, or why the
 * answer is not understood). Can't fail. */
int review_verdict(const char *answer, size_t len, char *why, size_t cap);

/* Check text[0..len) (the generated output) against r; prompt (may be
 * NULL) is the job's prompt for the echo rule. When something is flagged,
 * appends the reasons to out as a JSON array of {"rule","detail"}
 * objects (rule: blocklist, pattern, min_words, max_words, min_headings,
 * echo) and returns how many; returns 0 with out untouched when the text
 * passes, -1 when out of memory. r NULL passes everything. */
int review_check(const struct review_rules *r, const char *text, size_t len,
                 const char *prompt, struct buf *out);

/* Words of text[0..len): runs of non-space bytes holding at least one
 * letter or digit (or a non-ASCII byte). Can't fail. */
long review_count_words(const char *text, size_t len);

/* ATX Markdown headings of text[0..len) ("# T" to "###### T", up to three
 * spaces of indent), outside ``` fences. Can't fail. */
long review_count_headings(const char *text, size_t len);

#endif
