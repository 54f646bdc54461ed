/* Harness: batch mode fixtures for suites outside test_batch.c -- a
 * private genq-mockllm whose batches end 0.3 s after their creation, and a
 * worker that batches every job of the test's queue (Anthropic, 3 and 15
 * USD per million input and output tokens) with more flags. */
#include "fmacros.h"

#include <stddef.h>

#include <criterion/criterion.h>

#include "harness.h"

pid_t
th_batch_mock(char *url)
{
    const char *extra[] = {"--batch-latency-s", "0.3", NULL};

    return th_mock_start(url, extra);
}

pid_t
th_batch_worker(struct th *t, const char *url, const char *const more[])
{
    const char *extra[40] = {
        "--batch-queue",    t->queue, "--batch-wait",    "0.3",
        "--batch-poll",     "0.1",    "--price-in-mtok", "3",
        "--price-out-mtok", "15"};
    int n = 10;

    for (int i = 0; more && more[i]; i++) {
        cr_assert_lt(n, 39, "too many worker flags");
        extra[n++] = more[i];
    }
    extra[n] = NULL;
    return th_worker_at(t, url, NULL, extra);
}
