/* qopts: per-queue prompt-cache and review settings from [queue.NAME]
 * sections of the config file, over the worker-wide option values; see
 * qopts.h. */
#include "fmacros.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "qopts.h"

#define QOPTS_MAX_QUEUES 64

/* What a section set: a bit per field (F_*), and the values. */
enum {
    QF_CACHE = 1,
    QF_BLOCK = 2,
    QF_MINW = 4,
    QF_MAXW = 8,
    QF_HEAD = 16,
    QF_ECHO = 32,
    QF_MODEL = 64,
    QF_PROMPT = 128
};

struct qrow {
    char queue[QUEUE_NAME_MAX + 1];
    unsigned set;
    struct qopts o;
};

static struct qrow rows[QOPTS_MAX_QUEUES];
static int nrows, frozen;

static const char *const keys[] = {"prompt-cache",
                                   "review-blocklist",
                                   "review-min-words",
                                   "review-max-words",
                                   "review-min-headings",
                                   "review-echo",
                                   NULL};

int
qopts_key(const char *key)
{
    for (int i = 0; keys[i]; i++)
        if (!strcmp(key, keys[i]))
            return 1;
    return 0;
}

void
qopts_freeze(void)
{
    frozen = 1;
}

void
qopts_reset(void)
{
    memset(rows, 0, sizeof(rows));
    nrows = 0;
    frozen = 0;
}

/* A whole number in lo..hi; -1 with a message naming section and key. */
static int
int_in(const char *section, const char *key, const char *v, long lo, long hi,
       int *out, char *err, size_t errlen)
{
    char *end;
    long n;

    errno = 0;
    n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi) {
        snprintf(err, errlen,
                 "[%s] %s: expected an integer in %ld..%ld, "
                 "got '%s'",
                 section, key, lo, hi, v);
        return -1;
    }
    *out = (int)n;
    return 0;
}

/* The integer keys: their bit, place in struct qopts and upper bound. */
static const struct {
    const char *key;
    unsigned bit;
    size_t off;
    long hi;
} ints[] = {
    {"review-min-words", QF_MINW, offsetof(struct qopts, min_words), 10000000},
    {"review-max-words", QF_MAXW, offsetof(struct qopts, max_words), 10000000},
    {"review-min-headings", QF_HEAD, offsetof(struct qopts, min_headings),
     10000},
};

static int
int_key(const char *key)
{
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
        if (!strcmp(key, ints[i].key))
            return (int)i;
    return -1;
}

enum config_verdict
qopts_set(const char *section, const char *queue, const char *key,
          const char *v, char *err, size_t errlen)
{
    struct qrow tmp, *r = NULL;
    unsigned bit;

    for (int i = 0; i < nrows; i++)
        if (!strcmp(rows[i].queue, queue))
            r = &rows[i];
    if (!r) {
        memset(&tmp, 0, sizeof(tmp));
        snprintf(tmp.queue, sizeof(tmp.queue), "%s", queue);
        r = &tmp;
    }
    if (!strcmp(key, "prompt-cache")) {
        bit = QF_CACHE;
        if (strcmp(v, "system") && strcmp(v, "off")) {
            snprintf(err, errlen, "[%s] %s: expected system|off, got '%s'",
                     section, key, v);
            return CONFIG_BAD;
        }
        r->o.prompt_cache = !strcmp(v, "system");
    } else if (!strcmp(key, "review-blocklist")) {
        bit = QF_BLOCK;
        if (strlen(v) >= sizeof(r->o.blocklist)) {
            snprintf(err, errlen, "[%s] %s: path longer than %d bytes", section,
                     key, QOPTS_PATH_MAX - 1);
            return CONFIG_BAD;
        }
        snprintf(r->o.blocklist, sizeof(r->o.blocklist), "%s", v);
    } else if (!strcmp(key, "review-model") ||
               !strcmp(key, "review-prompt-file")) {
        int m = !strcmp(key, "review-model");
        char *dst = m ? r->o.model : r->o.prompt_file;
        size_t cap = m ? sizeof(r->o.model) : sizeof(r->o.prompt_file);
        bit = m ? QF_MODEL : QF_PROMPT;
        if (strlen(v) >= cap) {
            snprintf(err, errlen, "[%s] %s: longer than %zu bytes", section,
                     key, cap - 1);
            return CONFIG_BAD;
        }
        snprintf(dst, cap, "%s", v);
    } else if (int_key(key) >= 0) {
        int k = int_key(key);
        bit = ints[k].bit;
        if (int_in(section, key, v, 0, ints[k].hi,
                   (int *)((char *)&r->o + ints[k].off), err, errlen) < 0)
            return CONFIG_BAD;
    } else if (!strcmp(key, "review-echo")) {
        bit = QF_ECHO;
        if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes"))
            r->o.echo = 1;
        else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no"))
            r->o.echo = 0;
        else {
            snprintf(err, errlen,
                     "[%s] %s: expected 1/0/true/false/yes/no, got '%s'",
                     section, key, v);
            return CONFIG_BAD;
        }
    } else {
        snprintf(err, errlen, "[%s]: unknown key '%s'", section, key);
        return CONFIG_UNKNOWN;
    }
    if (frozen)
        return CONFIG_OK; /* checked; the running worker keeps its values */
    if (r == &tmp) {
        if (nrows == QOPTS_MAX_QUEUES) {
            snprintf(err, errlen,
                     "[%s]: at most %d queue sections with "
                     "prompt-cache or review keys",
                     section, QOPTS_MAX_QUEUES);
            return CONFIG_BAD;
        }
        rows[nrows] = tmp;
        r = &rows[nrows++];
    }
    r->set |= bit;
    return CONFIG_OK;
}

void
qopts_get(const struct wcfg *cfg, const char *queue, struct qopts *out)
{
    const struct qrow *r = NULL;

    memset(out, 0, sizeof(*out));
    out->prompt_cache =
        cfg->prompt_cache && !strcmp(cfg->prompt_cache, "system");
    snprintf(out->blocklist, sizeof(out->blocklist), "%s",
             cfg->review_blocklist ? cfg->review_blocklist : "");
    out->min_words = cfg->review_min_words;
    out->max_words = cfg->review_max_words;
    out->min_headings = cfg->review_min_headings;
    out->echo = cfg->review_echo;
    snprintf(out->model, sizeof(out->model), "%s",
             cfg->review_model ? cfg->review_model : "");
    snprintf(out->prompt_file, sizeof(out->prompt_file), "%s",
             cfg->review_prompt_file ? cfg->review_prompt_file : "");
    for (int i = 0; i < nrows; i++)
        if (!strcmp(rows[i].queue, queue))
            r = &rows[i];
    if (!r)
        return;
    if (r->set & QF_CACHE)
        out->prompt_cache = r->o.prompt_cache;
    if (r->set & QF_BLOCK)
        memcpy(out->blocklist, r->o.blocklist, sizeof(out->blocklist));
    if (r->set & QF_MINW)
        out->min_words = r->o.min_words;
    if (r->set & QF_MAXW)
        out->max_words = r->o.max_words;
    if (r->set & QF_HEAD)
        out->min_headings = r->o.min_headings;
    if (r->set & QF_ECHO)
        out->echo = r->o.echo;
    if (r->set & QF_MODEL)
        memcpy(out->model, r->o.model, sizeof(out->model));
    if (r->set & QF_PROMPT)
        memcpy(out->prompt_file, r->o.prompt_file, sizeof(out->prompt_file));
}

int
qopts_review_on(const struct qopts *o)
{
    return o->blocklist[0] || o->min_words > 0 || o->max_words > 0 ||
           o->min_headings > 0 || o->echo || o->model[0];
}
