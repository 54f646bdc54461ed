/* The worker's open-file limit (worker/fdlimit.c): a soft limit below what
 * --concurrency needs is raised to it, up to the hard limit; one at or
 * above it is left alone. Each test runs in its own process (Criterion),
 * so lowering the limits here touches nothing else. */
#include <sys/resource.h>

#include <criterion/criterion.h>

#include "../../worker/fdlimit.h"
#include "log.h"

static void
set_limits(rlim_t soft, rlim_t hard)
{
    struct rlimit rl = {soft, hard};

    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0, "setrlimit(%lu, %lu)",
                 (unsigned long)soft, (unsigned long)hard);
}

static rlim_t
soft_now(void)
{
    struct rlimit rl;

    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    return rl.rlim_cur;
}

static void
quiet(void)
{
    log_init("test-fdlimit", 0, LOG_ERROR);
}

Test(fdlimit, raises_a_low_soft_limit_to_the_need, .init = quiet)
{
    set_limits(256, 512);
    cr_assert_eq(fdlimit_ensure(400), 400);
    cr_assert_eq(soft_now(), 400);
}

Test(fdlimit, leaves_an_ample_soft_limit_alone, .init = quiet)
{
    set_limits(300, 512);
    cr_assert_eq(fdlimit_ensure(200), 300);
    cr_assert_eq(soft_now(), 300, "never lowered");
}

Test(fdlimit, stops_at_the_hard_limit, .init = quiet)
{
    set_limits(100, 300);
    cr_assert_eq(fdlimit_ensure(5000), 300, "as far as the hard limit");
    cr_assert_eq(soft_now(), 300);
}
