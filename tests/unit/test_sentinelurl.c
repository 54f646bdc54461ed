/* sentinel:// URLs (common/sentinelurl.c): the sentinels, the master's
 * name, the query, where each password comes from, errors that quote no
 * secret; and the Sentinel reply parsers of common/sentinel.c. */
#include "fmacros.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "sentinel.h"
#include "sentinelurl.h"

static void
ok(const char *url, struct redis_url *u)
{
    char err[512];

    cr_assert_eq(redisurl_parse(url, u, err, sizeof(err)), 0, "%s: %s", url,
                 err);
}

static void
bad(const char *url, const char *want, const char *secret)
{
    struct redis_url u;
    char err[512] = "";

    cr_assert_eq(redisurl_parse(url, &u, err, sizeof(err)), -1, "%s", url);
    cr_assert(strstr(err, want), "%s: error '%s' lacks '%s'", url, err, want);
    if (secret)
        cr_assert(!strstr(err, secret), "error leaks: %s", err);
}

Test(sentinelurl, forms)
{
    struct redis_url u;
    char d[600];

    unsetenv("GENQ_REDIS_PASSWORD");
    unsetenv("GENQ_SENTINEL_PASSWORD");
    ok("sentinel://10.0.0.1,10.0.0.2:26380,s3.example:1/mymaster", &u);
    cr_assert_eq(u.snt.n, 3);
    cr_assert_str_eq(u.snt.addr[0].host, "10.0.0.1");
    cr_assert_eq(u.snt.addr[0].port, SENTINEL_DEFAULT_PORT);
    cr_assert_eq(u.snt.addr[1].port, 26380);
    cr_assert_str_eq(u.snt.addr[2].host, "s3.example");
    cr_assert_eq(u.snt.addr[2].port, 1);
    cr_assert_str_eq(u.snt.master, "mymaster");
    cr_assert_eq(u.db, 0);
    cr_assert_str_eq(u.host, "", "the master is unknown until a lookup");
    cr_assert_str_eq(u.pass, "");
    cr_assert_str_eq(u.snt.pass, "");
    redisurl_describe(&u, d, sizeof(d));
    cr_assert_str_eq(d, "sentinel mymaster at 10.0.0.1:26379,10.0.0.2:26380,"
                        "s3.example:1/0");
    snprintf(u.host, sizeof(u.host), "10.0.0.9");
    u.port = 6390;
    redisurl_describe(&u, d, sizeof(d));
    cr_assert_str_eq(d, "10.0.0.9:6390/0 (sentinel master mymaster)");

    ok("sentinel://app:p%40w@h/m.a-b_c?db=3&sentinel_user=sen", &u);
    cr_assert_str_eq(u.user, "app");
    cr_assert_str_eq(u.pass, "p@w", "the Redis password, %-decoded");
    cr_assert_str_eq(u.snt.master, "m.a-b_c");
    cr_assert_eq(u.db, 3);
    cr_assert_str_eq(u.snt.user, "sen");
}

Test(sentinelurl, passwords_from_the_environment_and_a_file)
{
    struct redis_url u;
    char path[] = "/tmp/genq-snt-pw-XXXXXX", url[200];
    int fd = mkstemp(path);
    FILE *f;

    cr_assert(fd >= 0);
    f = fdopen(fd, "w");
    cr_assert(f);
    fputs("from-file-Pw1\n", f);
    fclose(f);
    setenv("GENQ_REDIS_PASSWORD", "redis-env-Pw2", 1);
    setenv("GENQ_SENTINEL_PASSWORD", "snt-env-Pw3", 1);
    ok("sentinel://h/m", &u);
    cr_assert_str_eq(u.pass, "redis-env-Pw2");
    cr_assert_str_eq(u.snt.pass, "snt-env-Pw3");
    snprintf(url, sizeof(url),
             "sentinel://:url-Pw4@h/m?sentinel_password_file=%s", path);
    ok(url, &u);
    cr_assert_str_eq(u.pass, "url-Pw4", "the URL's password comes first");
    cr_assert_str_eq(u.snt.pass, "from-file-Pw1",
                     "the file over the env, "
                     "without its newline");
    unlink(path);
    bad(url, "sentinel_password_file", NULL);
    unsetenv("GENQ_REDIS_PASSWORD");
    unsetenv("GENQ_SENTINEL_PASSWORD");
}

Test(sentinelurl, errors_name_the_field_and_quote_no_secret)
{
    bad("sentinel://:topsecret@h/m?sentinel_password=topsecret2",
        "GENQ_SENTINEL_PASSWORD", "topsecret");
    bad("sentinel://:topsecret@h", "master's name is missing", "topsecret");
    bad("sentinel://:topsecret@h/", "master's name", "topsecret");
    bad("sentinel://:topsecret@h:0/m", "port", "topsecret");
    bad("sentinel://:topsecret@h:99999/m", "port", "topsecret");
    bad("sentinel://:topsecret@h,/m", "empty sentinel", "topsecret");
    bad("sentinel://:topsecret@/m", "host", "topsecret");
    bad("sentinel://:topsecret@h/m?db=x", "db", "topsecret");
    bad("sentinel://:topsecret@h/m?color=red", "'color'", "topsecret");
    bad("sentinel://:topsecret@h/m!x", "letters, digits", "topsecret");
    bad("sentinel://:top%zzsecret@h/m", "badly", "topsecret");
    bad("sentinel://a,b,c,d,e,f,g,h,i/m", "more than 8 sentinels", NULL);
    bad("sentinels://h/m", "must start with", NULL);
}

static redisReply *
str(const char *s)
{
    redisReply *r = calloc(1, sizeof(*r));

    cr_assert(r);
    r->type = REDIS_REPLY_STRING;
    r->str = (char *)(uintptr_t)s; /* the test's replies are read only */
    r->len = strlen(s);
    return r;
}

Test(sentinel, reply_parsers)
{
    redisReply *el[2] = {str("10.1.2.3"), str("6380")};
    redisReply arr = {.type = REDIS_REPLY_ARRAY, .elements = 2, .element = el};
    redisReply nil = {.type = REDIS_REPLY_NIL};
    char host[64];
    int port = 0;

    cr_assert_eq(sentinel_parse_addr(&arr, host, sizeof(host), &port), 0);
    cr_assert_str_eq(host, "10.1.2.3");
    cr_assert_eq(port, 6380);
    cr_assert_eq(sentinel_parse_addr(&nil, host, sizeof(host), &port), -1,
                 "nil: the sentinel does not know the master");
    el[1]->str = (char *)(uintptr_t) "0";
    el[1]->len = 1;
    cr_assert_eq(sentinel_parse_addr(&arr, host, sizeof(host), &port), -1);
    cr_assert_eq(sentinel_parse_addr(&arr, host, 4, &port), -1,
                 "a host longer than the buffer");

    cr_assert_eq(sentinel_parse_switch("mm 10.0.0.1 6379 10.0.0.2 6380", "mm",
                                       host, sizeof(host), &port),
                 1);
    cr_assert_str_eq(host, "10.0.0.2");
    cr_assert_eq(port, 6380);
    cr_assert_eq(sentinel_parse_switch("other 10.0.0.1 6379 10.0.0.2 6380",
                                       "mm", host, sizeof(host), &port),
                 0, "another master's switch");
    cr_assert_eq(sentinel_parse_switch("mm 10.0.0.1 6379", "mm", host,
                                       sizeof(host), &port),
                 0);

    cr_assert_eq(sentinel_parse_switch("mm 10.0.0.1 6379 10.0.0.2 99999", "mm",
                                       host, sizeof(host), &port),
                 0, "a port out of range");

    cr_assert_eq(sentinel_parse_event("slave 10.0.0.2:6380 10.0.0.2 6380 @ mm "
                                      "10.0.0.1 6379",
                                      "mm", host, sizeof(host), &port),
                 1, "an instance event names the instance");
    cr_assert_str_eq(host, "10.0.0.2");
    cr_assert_eq(port, 6380);
    cr_assert_eq(sentinel_parse_event("master mm 10.0.0.1 6379", "mm", host,
                                      sizeof(host), &port),
                 1);
    cr_assert_str_eq(host, "10.0.0.1");
    cr_assert_eq(port, 6379);
    cr_assert_eq(sentinel_parse_event("slave 10.0.0.2:6380 10.0.0.2 6380 @ "
                                      "other 10.0.0.1 6379",
                                      "mm", host, sizeof(host), &port),
                 0, "another master's event");
    cr_assert_eq(sentinel_parse_event("master mm 10.0.0.1", "mm", host,
                                      sizeof(host), &port),
                 0);

    el[0]->str = (char *)(uintptr_t) "master";
    cr_assert_eq(sentinel_role_is_master(&arr), 1);
    el[0]->str = (char *)(uintptr_t) "slave";
    cr_assert_eq(sentinel_role_is_master(&arr), 0);
    cr_assert_eq(sentinel_role_is_master(NULL), 0);
    free(el[0]);
    free(el[1]);
}
