/* job_err: the error report of job checking (field path + message) and the
 * number formatting its messages use; shared by the job and template code. */
#include "fmacros.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_err.h"
#include "utf8.h"

int
job_err_set(struct job_err *err, const char *field, const char *fmt, ...)
{
    va_list ap;
    size_t n;

    if (!err)
        return -1;
    n = strlen(field);
    if (n >= sizeof err->field)
        n = utf8_truncate(field, sizeof err->field - 1);
    memcpy(err->field, field, n);
    err->field[n] = '\0';
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->msg[utf8_truncate(err->msg, strlen(err->msg))] = '\0';
    return -1;
}

void
job_format_number(double d, char out[32])
{
    if (isnan(d)) {
        snprintf(out, 32, "nan");
        return;
    }
    if (isinf(d)) {
        snprintf(out, 32, "%s", d < 0 ? "-inf" : "inf");
        return;
    }
    if (d > -1e15 && d < 1e15 && d == (double)(long long)d) {
        snprintf(out, 32, "%lld", (long long)d);
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, 32, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            return;
    }
}
