/* Unit tests for worker/budget_cfg.c and worker/anomaly.c's pure parts:
 * the [price.MODEL] and [queue.NAME] sections (values, errors naming
 * section, key and value), pricing a call's usage (cache tokens, derived
 * cache prices, batch discount), and the median of a queue's sample. */
#include "fmacros.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../worker/budget.h"

static enum config_verdict
set(const char *section, const char *key, const char *value, char *err)
{
    return budget_cfg_section(NULL, section, key, value, 1, err, 256);
}

Test(budget_cfg, sections_and_their_errors)
{
    char err[256] = "";
    const char *q;
    const struct budget_caps *c;

    budget_cfg_reset();
    cr_assert_eq(set("queue.bulk", NULL, NULL, err), CONFIG_OK);
    cr_assert_eq(set("price.m1", NULL, NULL, err), CONFIG_OK);
    cr_assert_eq(set("redis", NULL, NULL, err), CONFIG_UNKNOWN);
    cr_assert(strstr(err, "[queue.NAME]"), "%s", err);
    cr_assert_eq(set("queue.bulk", "budget-tokens-day", "5000", err),
                 CONFIG_OK);
    cr_assert_eq(set("queue.bulk", "budget-usd-month", "lots", err),
                 CONFIG_BAD);
    cr_assert(strstr(err, "[queue.bulk] budget-usd-month") &&
                  strstr(err, "'lots'"),
              "%s", err);
    cr_assert_eq(set("queue.b@d", "budget-usd-day", "1", err), CONFIG_BAD);
    cr_assert(strstr(err, "invalid queue name 'b@d'"), "%s", err);
    cr_assert_eq(set("queue.bulk", "budget-dollars", "1", err), CONFIG_UNKNOWN);
    cr_assert_eq(set("price.m1", "batch-discount", "1.5", err), CONFIG_BAD);
    cr_assert(strstr(err, "0..1"), "%s", err);
    c = budget_cfg_queue(0, &q);
    cr_assert(c);
    cr_assert_str_eq(q, "bulk");
    cr_assert_eq(c->tok_day, 5000);
    cr_assert_eq(c->usd_day, 0);
    cr_assert_null(budget_cfg_queue(1, &q));
    /* a failed reload puts the saved tables back */
    budget_cfg_save();
    budget_cfg_reset();
    cr_assert_null(budget_cfg_queue(0, &q));
    budget_cfg_restore();
    cr_assert_not_null(budget_cfg_queue(0, &q));
}

Test(budget_cfg, pricing_rows_cache_tokens_and_batch)
{
    struct wcfg cfg;
    char err[256];
    struct budget_usage u = {1000000, 1000000, 1000000, 1000000};
    struct price_row p;

    budget_cfg_reset();
    wcfg_defaults(&cfg);
    cfg.price_in_mtok = 3;
    cfg.price_out_mtok = 15;
    /* the default row: cache write 1.25x, cache read 0.1x the input price */
    p = budget_price(&cfg, NULL, "other-model");
    cr_assert_float_eq(budget_usd(&p, &u, 0), 3 + 15 + 3.75 + 0.3, 1e-9);
    cr_assert_eq(set("price.m1", "in-mtok", "1", err), CONFIG_OK);
    cr_assert_eq(set("price.m1", "out-mtok", "5", err), CONFIG_OK);
    cr_assert_eq(set("price.m1", "cache-read-mtok", "0.5", err), CONFIG_OK);
    cr_assert_eq(set("price.m1", "batch-discount", "0.5", err), CONFIG_OK);
    /* the reported model's row wins, else the requested model's */
    p = budget_price(&cfg, "m1-20250101", "m1");
    cr_assert_float_eq(budget_usd(&p, &u, 0), 1 + 5 + 1.25 + 0.5, 1e-9);
    cr_assert_float_eq(budget_usd(&p, &u, 1), (1 + 5 + 1.25 + 0.5) / 2, 1e-9);
    p = budget_price(&cfg, "m1", "other-model");
    cr_assert_float_eq(p.in, 1, 1e-12);
    budget_cfg_reset();
}

Test(anomaly, median_of_a_sample)
{
    long s[101] = {0};

    cr_assert_eq(anomaly_median(s, 0), 0);
    s[0] = 7;
    cr_assert_eq(anomaly_median(s, 1), 7);
    s[0] = 9;
    s[1] = 1;
    s[2] = 5;
    cr_assert_eq(anomaly_median(s, 3), 5);
    s[3] = 7;
    cr_assert_eq(anomaly_median(s, 4), 6);
    for (int i = 0; i < 101; i++)
        s[i] = 101 - i;
    cr_assert_eq(anomaly_median(s, 101), 51);
    cr_assert_eq(s[0], 101, "the sample itself is left as it was");
}

static int
cmp_l(const void *x, const void *y)
{
    long a = *(const long *)x, b = *(const long *)y;

    return (a > b) - (a < b);
}

/* the selection (no sort) agrees with a sorted copy on every size, with
 * duplicates and runs */
Test(anomaly, median_agrees_with_a_sort)
{
    long s[101], t[101];
    unsigned x = 12345;

    for (int round = 0; round < 400; round++) {
        int n = 1 + round % 101;
        for (int i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            s[i] =
                round % 3 == 0 ? (long)(x >> 16) % 7 : (long)(x >> 8) % 100000;
            if (round % 5 == 0)
                s[i] = i; /* already sorted */
        }
        memcpy(t, s, sizeof(*s) * (size_t)n);
        qsort(t, (size_t)n, sizeof(*t), cmp_l);
        long want = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
        cr_assert_eq(anomaly_median(s, n), want, "round %d n %d", round, n);
    }
}
