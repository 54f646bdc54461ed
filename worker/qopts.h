/* qopts: the per-queue settings of prompt caching and content review --
 * the worker-wide values of the option table (--prompt-cache, --review-*)
 * overridden per queue by keys of the config file's [queue.NAME] sections.
 * Held process-wide in a fixed table (no allocation); read at start: a
 * SIGHUP reload checks them but keeps the values the worker started with. */
#ifndef GENQ_QOPTS_H
#define GENQ_QOPTS_H

#include <stddef.h>

#include "config.h"
#include "worker.h"

#define QOPTS_PATH_MAX 1024

/* The effective settings of one queue. */
struct qopts {
    int prompt_cache;               /* 1: mark long system prompts cacheable */
    char blocklist[QOPTS_PATH_MAX]; /* blocklist file; "" = none */
    int min_words, max_words;       /* 0 = no bound */
    int min_headings;               /* Markdown headings; 0 = none required */
    int echo;                       /* flag output that repeats the prompt */
    char model[128];                /* review model; "" = no model call */
    char prompt_file[QOPTS_PATH_MAX]; /* its instructions; "" = built-in */
};

/* 1 when key is one of the [queue.NAME] keys of this module. */
int qopts_key(const char *key);

/* Take one of them for queue (section is "queue.NAME", for messages).
 * CONFIG_OK, or CONFIG_BAD with err naming section, key and value. After
 * qopts_freeze() values are checked but not stored. */
enum config_verdict qopts_set(const char *section, const char *queue,
                              const char *key, const char *v, char *err,
                              size_t errlen);

/* Keep the current table (the worker started). Can't fail. */
void qopts_freeze(void);

/* Forget every queue's overrides and unfreeze (tests). Can't fail. */
void qopts_reset(void);

/* Fill *out with queue's settings: cfg's, then its section's overrides.
 * Can't fail. */
void qopts_get(const struct wcfg *cfg, const char *queue, struct qopts *out);

/* 1 when o has any review rule, else 0. */
int qopts_review_on(const struct qopts *o);

#endif
