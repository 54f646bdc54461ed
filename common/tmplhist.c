/* tmplhist: output-token histogram buckets, 10% wide; see tmplhist.h. */
#include "fmacros.h"

#include <math.h>

#include "tmplhist.h"

int
tmplhist_bucket(long n)
{
    int b;

    if (n <= 0)
        return 0;
    b = (int)floor(log((double)n + 1.0) / log(1.1));
    return b >= TMPLHIST_BUCKETS ? TMPLHIST_BUCKETS - 1 : b < 0 ? 0 : b;
}

double
tmplhist_upper(int b)
{
    return floor(pow(1.1, (double)b + 1.0) - 1.0);
}
