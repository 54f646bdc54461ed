/* Unit tests of UUIDv7 generation (common/uuid.c): format, version,
 * variant, timestamp, ordering within a millisecond, fork safety. */
#include "fmacros.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "timefmt.h"
#include "uuid.h"

static int
hexval(char c)
{
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

Test(uuid7, format_version_variant)
{
    char id[37];

    for (int n = 0; n < 1000; n++) {
        uuid7_new(id);
        cr_assert_eq(strlen(id), 36);
        for (int i = 0; i < 36; i++) {
            if (i == 8 || i == 13 || i == 18 || i == 23)
                cr_assert_eq(id[i], '-', "%s", id);
            else
                cr_assert((id[i] >= '0' && id[i] <= '9') ||
                              (id[i] >= 'a' && id[i] <= 'f'),
                          "not lowercase hex: %s", id);
        }
        cr_assert_eq(id[14], '7', "version: %s", id);
        cr_assert_eq(hexval(id[19]) & 0xC, 0x8, "variant: %s", id);
        cr_assert(uuid7_valid(id));
    }
}

Test(uuid7, timestamp_is_now)
{
    char id[37];
    int64_t before = time_now_ms(), after, ts = 0;

    uuid7_new(id);
    after = time_now_ms();
    for (int i = 0; i < 13; i++)
        if (id[i] != '-')
            ts = ts * 16 + hexval(id[i]);
    /* the counter may borrow a millisecond or two; never less than now */
    cr_assert(ts >= before && ts <= after + 2, "ts %lld not in [%lld, %lld]",
              (long long)ts, (long long)before, (long long)after);
}

Test(uuid7, strictly_increasing_within_a_millisecond)
{
    enum { N = 20000 };
    char(*ids)[37] = malloc(N * sizeof *ids);
    int same_ms = 0;

    cr_assert_not_null(ids);
    for (int i = 0; i < N; i++)
        uuid7_new(ids[i]);
    for (int i = 1; i < N; i++) {
        cr_assert_lt(strcmp(ids[i - 1], ids[i]), 0, "%s !< %s", ids[i - 1],
                     ids[i]);
        if (memcmp(ids[i - 1], ids[i], 13) == 0)
            same_ms++;
    }
    cr_assert_gt(same_ms, 0, "no two ids in one millisecond: test too slow");
    free(ids);
}

Test(uuid7, random_bits_differ)
{
    char a[37], b[37];

    uuid7_new(a);
    uuid7_new(b);
    cr_assert_neq(strcmp(a + 19, b + 19), 0);
}

Test(uuid7, forked_children_do_not_repeat_the_parent)
{
    char parent[37], child[37];
    int fds[2], status;
    pid_t pid;

    uuid7_new(parent); /* fills the pool before fork */
    cr_assert_eq(pipe(fds), 0);
    pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        uuid7_new(child);
        if (write(fds[1], child, 37) != 37)
            _exit(1);
        _exit(0);
    }
    uuid7_new(parent);
    cr_assert_eq(read(fds[0], child, 37), 37);
    waitpid(pid, &status, 0);
    cr_assert_neq(strcmp(parent + 19, child + 19), 0, "%s == %s", parent,
                  child);
    close(fds[0]);
    close(fds[1]);
}

Test(uuid7, valid_rejects)
{
    cr_assert(uuid7_valid("01890a5d-ac96-774b-bcce-b302099a8057"));
    cr_assert(uuid7_valid("01890A5D-AC96-774B-BCCE-B302099A8057"));
    static const char *const bad[] = {
        "01890a5d-ac96-474b-bcce-b302099a8057", /* version 4 */
        "01890a5d-ac96-774b-7cce-b302099a8057", /* variant */
        "01890a5d-ac96-774b-bcce-b302099a805",
        "01890a5d-ac96-774b-bcce-b302099a80577",
        "01890a5dxac96-774b-bcce-b302099a8057",
        "01890g5d-ac96-774b-bcce-b302099a8057",
        "",
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(uuid7_valid(bad[i]), "%s", bad[i]);
    cr_assert_not(uuid7_valid(NULL));
}
