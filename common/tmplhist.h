/* tmplhist: the histogram buckets of output tokens behind the p95 of
 * `genq stats --by template` -- bucket b holds counts in
 * [1.1^b - 1, 1.1^(b+1) - 1), so a percentile read from it is within 10%.
 * Shared by the worker (writes, tmplstats.c) and genq (reads). */
#ifndef GENQ_TMPLHIST_H
#define GENQ_TMPLHIST_H

#define TMPLHIST_BUCKETS 140 /* 1.1^140 - 1 > 600,000 tokens */

/* The bucket of n (n < 0 counts as 0). Can't fail. */
int tmplhist_bucket(long n);

/* The upper edge of bucket b (the value a percentile in it reports).
 * Can't fail. */
double tmplhist_upper(int b);

#endif
