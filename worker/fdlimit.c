/* fdlimit: a worker at --concurrency N holds up to N connections to the
 * API at once (each kept open for the slot's next request), so the common
 * soft limit of 1,024 descriptors caps it near a thousand streams. Raise
 * the soft limit (the hard one is the administrator's) and say so. */
#include "fmacros.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "fdlimit.h"
#include "log.h"

long
fdlimit_ensure(long need)
{
    struct rlimit rl;
    char was[24], now[24], want[24];

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -1;
    if (rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur >= need)
        return (long)rl.rlim_cur;
    if (rl.rlim_cur == RLIM_INFINITY)
        return need;
    snprintf(was, sizeof(was), "%lu", (unsigned long)rl.rlim_cur);
    snprintf(want, sizeof(want), "%ld", need);
    if (rl.rlim_max == RLIM_INFINITY || (long)rl.rlim_max >= need)
        rl.rlim_cur = (rlim_t)need;
    else
        rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        log_kv(LOG_WARN,
               "cannot raise the open-file limit; transfers past it will "
               "fail to connect",
               "soft", was, "needed", want, "error", strerror(errno), NULL);
        return (long)(getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 0);
    }
    snprintf(now, sizeof(now), "%lu", (unsigned long)rl.rlim_cur);
    if ((long)rl.rlim_cur < need)
        log_kv(LOG_WARN,
               "open-file limit below what --concurrency needs (hard limit "
               "reached; raise it with ulimit -Hn or LimitNOFILE=)",
               "soft_was", was, "soft", now, "needed", want, NULL);
    else
        log_kv(LOG_INFO, "raised the open-file limit for --concurrency",
               "soft_was", was, "soft", now, NULL);
    return (long)rl.rlim_cur;
}
