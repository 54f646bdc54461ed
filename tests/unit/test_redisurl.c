/* Redis URL parsing: forms, percent-encoded and raw special characters in
 * credentials, and error messages that never quote the password. */
#include "fmacros.h"

#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "redisurl.h"

static void
ok(const char *url, struct redis_url *u)
{
    char err[256];

    cr_assert_eq(redisurl_parse(url, u, err, sizeof(err)), 0, "%s: %s", url,
                 err);
}

Test(redisurl, forms)
{
    struct redis_url u;

    unsetenv("GENQ_REDIS_PASSWORD");
    ok("redis://127.0.0.1", &u);
    cr_assert_str_eq(u.host, "127.0.0.1");
    cr_assert_eq(u.port, 6379);
    cr_assert_eq(u.db, 0);
    ok("redis://db.example:6380/3", &u);
    cr_assert_str_eq(u.host, "db.example");
    cr_assert_eq(u.port, 6380);
    cr_assert_eq(u.db, 3);
    ok("redis://app:pw@h:1/2", &u);
    cr_assert_str_eq(u.user, "app");
    cr_assert_str_eq(u.pass, "pw");
    ok("redis://:onlypw@h", &u);
    cr_assert_str_eq(u.user, "");
    cr_assert_str_eq(u.pass, "onlypw");
    ok("unix:///run/redis.sock?db=4", &u);
    cr_assert_str_eq(u.path, "/run/redis.sock");
    cr_assert_eq(u.db, 4);
}

Test(redisurl, special_characters_in_credentials)
{
    struct redis_url u;

    ok("redis://app:s3cr/etPW@h:6379/0", &u);
    cr_assert_str_eq(u.pass, "s3cr/etPW", "a raw '/' in the password");
    cr_assert_str_eq(u.host, "h");
    ok("redis://app:p@ss@h:6379/1", &u);
    cr_assert_str_eq(u.pass, "p@ss", "the last '@' ends the credentials");
    cr_assert_eq(u.db, 1);
    ok("redis://us%3Aer:p%2Fw%40x%25@h", &u);
    cr_assert_str_eq(u.user, "us:er");
    cr_assert_str_eq(u.pass, "p/w@x%");
}

Test(redisurl, errors_never_quote_the_url)
{
    const char *bad[] = {
        "redis://app:topsecret@h:99999/0",  "redis://app:topsecret@h:abc/0",
        "redis://app:topsecret@h:1/notadb", "redis://app:topsecret%zz@h",
        "http://app:topsecret@h",           "rediss://app:topsecret@h",
        "redis://app:topsecret@",           "redis://app:topsecret@h:/0"};
    struct redis_url u;
    char err[256];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(redisurl_parse(bad[i], &u, err, sizeof(err)), -1, "%s",
                     bad[i]);
        cr_assert(!strstr(err, "topsecret"), "error leaks: %s", err);
        cr_assert(!strstr(err, "topsec"), "error leaks: %s", err);
        cr_assert(err[0], "an error message for %s", bad[i]);
    }
}
