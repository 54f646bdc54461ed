/* budget_cfg: the config file's budget sections -- a pricing row per model
 * ([price.MODEL]) and caps per queue ([queue.NAME]) -- held process-wide
 * in fixed tables (no allocation), replaced as a whole on SIGHUP; and the
 * price of a call's reported usage. */
#include "fmacros.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "config.h"
#include "keys.h"
#include "qopts.h"

struct qcaps {
    char queue[QUEUE_NAME_MAX + 1];
    struct budget_caps c;
};

struct tables {
    struct price_row rows[BUDGET_MAX_MODELS];
    int nrows;
    struct qcaps q[BUDGET_MAX_QUEUES];
    int nq;
};

static struct tables cur, saved;

void
budget_cfg_reset(void)
{
    memset(&cur, 0, sizeof(cur));
}

void
budget_cfg_save(void)
{
    saved = cur;
}

void
budget_cfg_restore(void)
{
    cur = saved;
}

/* Parse a number in lo..hi into *out; -1 with a message naming it. */
static int
num_in(const char *section, const char *key, const char *v, double lo,
       double hi, double *out, char *err, size_t errlen)
{
    char *end;
    double d;

    errno = 0;
    d = strtod(v, &end);
    if (errno || end == v || *end || !(d >= lo && d <= hi)) {
        snprintf(err, errlen, "[%s] %s: expected a number in %g..%g, got '%s'",
                 section, key, lo, hi, v);
        return -1;
    }
    *out = d;
    return 0;
}

/* The row called name in a table of *n rows of sz bytes each, whose name
 * is a string at byte off of the row (name fits: checked by the caller);
 * else a new zeroed row so called (*fresh = 1), or NULL when the table
 * already holds max rows. */
static void *
row_for(void *rows, int *n, int max, size_t sz, size_t off, const char *name,
        int *fresh)
{
    char *row = rows;

    *fresh = 0;
    for (int i = 0; i < *n; i++, row += sz)
        if (!strcmp(row + off, name))
            return row;
    if (*n == max)
        return NULL;
    (*n)++;
    memset(row, 0, sz);
    memcpy(row + off, name, strlen(name) + 1);
    *fresh = 1;
    return row;
}

/* row_for() found the table full: the message, and CONFIG_BAD. */
static enum config_verdict
full(char *err, size_t errlen, const char *section, int max, const char *what)
{
    snprintf(err, errlen, "[%s]: at most %d %s sections", section, max, what);
    return CONFIG_BAD;
}

static enum config_verdict
price_set(const char *section, const char *model, const char *key,
          const char *v, char *err, size_t errlen)
{
    struct price_row *p = NULL;
    double *f, hi = 1e6;
    int fresh;

    if (!*model || strlen(model) >= sizeof(p->model)) {
        snprintf(err, errlen, "[%s]: model name empty or over %zu bytes",
                 section, sizeof(p->model) - 1);
        return CONFIG_BAD;
    }
    p = row_for(cur.rows, &cur.nrows, BUDGET_MAX_MODELS, sizeof(*p),
                offsetof(struct price_row, model), model, &fresh);
    if (!p)
        return full(err, errlen, section, BUDGET_MAX_MODELS, "price");
    if (fresh) {
        p->cache_write = p->cache_read = -1;
        p->batch_discount = 0.5; /* both providers' batch APIs: 50% off */
    }
    if (!strcmp(key, "in-mtok"))
        f = &p->in;
    else if (!strcmp(key, "out-mtok"))
        f = &p->out;
    else if (!strcmp(key, "cache-write-mtok"))
        f = &p->cache_write;
    else if (!strcmp(key, "cache-read-mtok"))
        f = &p->cache_read;
    else if (!strcmp(key, "batch-discount")) {
        f = &p->batch_discount;
        hi = 1;
    } else {
        snprintf(err, errlen,
                 "[%s] keys: in-mtok, out-mtok, cache-write-mtok, "
                 "cache-read-mtok, batch-discount",
                 section);
        return CONFIG_UNKNOWN;
    }
    return num_in(section, key, v, 0, hi, f, err, errlen) < 0 ? CONFIG_BAD
                                                              : CONFIG_OK;
}

static enum config_verdict
queue_set(const char *section, const char *queue, const char *key,
          const char *v, char *err, size_t errlen)
{
    struct qcaps *q = NULL;
    double *f;
    int fresh;

    if (!queue_name_valid(queue)) {
        snprintf(err, errlen,
                 "[%s]: invalid queue name '%s' (1..64 of A-Z a-z 0-9 . _ -)",
                 section, queue);
        return CONFIG_BAD;
    }
    if (qopts_key(key)) /* prompt-cache, review-* (qopts.c) */
        return qopts_set(section, queue, key, v, err, errlen);
    q = row_for(cur.q, &cur.nq, BUDGET_MAX_QUEUES, sizeof(*q),
                offsetof(struct qcaps, queue), queue, &fresh);
    if (!q)
        return full(err, errlen, section, BUDGET_MAX_QUEUES, "queue");
    if (!strcmp(key, "budget-usd-day"))
        f = &q->c.usd_day;
    else if (!strcmp(key, "budget-usd-month"))
        f = &q->c.usd_month;
    else if (!strcmp(key, "budget-tokens-day"))
        f = &q->c.tok_day;
    else if (!strcmp(key, "budget-tokens-month"))
        f = &q->c.tok_month;
    else {
        snprintf(err, errlen,
                 "[%s] keys: budget-usd-day, budget-usd-month, "
                 "budget-tokens-day, budget-tokens-month, prompt-cache, "
                 "review-blocklist, review-min-words, review-max-words, "
                 "review-min-headings, review-echo, review-model, "
                 "review-prompt-file",
                 section);
        return CONFIG_UNKNOWN;
    }
    return num_in(section, key, v, 0, 1e15, f, err, errlen) < 0 ? CONFIG_BAD
                                                                : CONFIG_OK;
}

enum config_verdict
budget_cfg_section(void *ud, const char *section, const char *key,
                   const char *value, int line, char *err, size_t errlen)
{
    (void)ud;
    (void)line;
    if (!key &&
        (!strncmp(section, "price.", 6) || !strncmp(section, "queue.", 6)))
        return CONFIG_OK;
    if (!key) {
        snprintf(err, errlen,
                 "the sections are [worker], [model_class], [queue.NAME] "
                 "and [price.MODEL]");
        return CONFIG_UNKNOWN;
    }
    if (!strncmp(section, "price.", 6))
        return price_set(section, section + 6, key, value, err, errlen);
    if (!strncmp(section, "queue.", 6))
        return queue_set(section, section + 6, key, value, err, errlen);
    snprintf(err, errlen,
             "unknown section [%s]: the sections are [worker], [model_class], "
             "[queue.NAME] and [price.MODEL]",
             section);
    return CONFIG_UNKNOWN;
}

/* The [price.MODEL] row of model, or NULL. */
static const struct price_row *
row_of(const char *model)
{
    for (int i = 0; model && i < cur.nrows; i++)
        if (!strcmp(cur.rows[i].model, model))
            return &cur.rows[i];
    return NULL;
}

struct price_row
budget_price(const struct wcfg *cfg, const char *reported, const char *asked)
{
    const struct price_row *r = row_of(reported);
    struct price_row p;

    if (!r)
        r = row_of(asked);
    memset(&p, 0, sizeof(p));
    if (r) {
        p = *r;
    } else {
        snprintf(p.model, sizeof(p.model), "%s", asked ? asked : "");
        p.in = cfg->price_in_mtok;
        p.out = cfg->price_out_mtok;
        p.cache_write = cfg->price_cw_mtok;
        p.cache_read = cfg->price_cr_mtok;
        p.batch_discount = cfg->price_batch_discount;
    }
    /* Anthropic's multipliers when no price is set for cache tokens */
    if (p.cache_write < 0)
        p.cache_write = 1.25 * p.in;
    if (p.cache_read < 0)
        p.cache_read = 0.1 * p.in;
    return p;
}

double
budget_usd(const struct price_row *p, const struct budget_usage *u, int batch)
{
    double usd = ((double)u->in * p->in + (double)u->out * p->out +
                  (double)u->cache_write * p->cache_write +
                  (double)u->cache_read * p->cache_read) /
                 1e6;

    return batch ? usd * (1.0 - p->batch_discount) : usd;
}

const struct budget_caps *
budget_cfg_queue(int i, const char **queue)
{
    if (i < 0 || i >= cur.nq)
        return NULL;
    *queue = cur.q[i].queue;
    return &cur.q[i].c;
}

void
budget_cfg_print(void)
{
    for (int i = 0; i < cur.nq; i++)
        printf("[queue.%s]\nbudget-usd-day = %g\nbudget-usd-month = %g\n"
               "budget-tokens-day = %.0f\nbudget-tokens-month = %.0f\n",
               cur.q[i].queue, cur.q[i].c.usd_day, cur.q[i].c.usd_month,
               cur.q[i].c.tok_day, cur.q[i].c.tok_month);
    for (int i = 0; i < cur.nrows; i++) {
        const struct price_row *p = &cur.rows[i];
        printf("[price.%s]\nin-mtok = %g\nout-mtok = %g\n", p->model, p->in,
               p->out);
        if (p->cache_write >= 0)
            printf("cache-write-mtok = %g\n", p->cache_write);
        if (p->cache_read >= 0)
            printf("cache-read-mtok = %g\n", p->cache_read);
        printf("batch-discount = %g\n", p->batch_discount);
    }
}
