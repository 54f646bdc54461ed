/* libFuzzer target: redisurl_parse() and redisurl_describe(). A parsed URL
 * must be in range and round-trip through its parts; the description holds
 * exactly host:port/db (or unix:path/db), and the error text must not depend
 * on the password (from the URL or from GENQ_REDIS_PASSWORD). A sentinel://
 * URL is checked for its own fields. */
#include "fmacros.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "redisurl.h"

#define ENV_SECRET "FuzzEnvSecret-7f3a9c"

/* Where the URL's own password is, as redisurl_parse reads it: between the
 * first ':' of the userinfo (or "redis://") and the last '@'. Returns 0 with
 * [*start, *end) offsets, -1 when there is none. */
static int
url_password(const char *url, size_t *start, size_t *end)
{
    const char *p, *at, *colon;

    if (strncmp(url, "redis://", 8) != 0)
        return -1;
    p = url + 8;
    at = strrchr(p, '@');
    if (!at)
        return -1;
    colon = memchr(p, ':', (size_t)(at - p));
    if (colon)
        p = colon + 1;
    *start = (size_t)(p - url);
    *end = (size_t)(at - url);
    return *end > *start ? 0 : -1;
}

/* Another character of the same kind for the password differential. */
static char
flip(char c)
{
    if (c >= '0' && c <= '9')
        return c == '7' ? '3' : '7';
    if ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))
        return c == 'b' ? 'e' : 'b';
    if ((c >= 'g' && c <= 'z') || (c >= 'G' && c <= 'Z'))
        return c == 'q' ? 'x' : 'q';
    return c;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct redis_url u, u2;
    char err[512], err2[512], desc[600], want[600], url[1024] = {0};
    int with_env = size > 0 && data[0] == 0x01;
    size_t ps, pe;

    if (with_env) {
        setenv("GENQ_REDIS_PASSWORD", ENV_SECRET, 1);
        data++;
        size--;
    } else {
        unsetenv("GENQ_REDIS_PASSWORD");
    }
    if (size >= sizeof url)
        size = sizeof url - 1;
    if (size > 0)
        memcpy(url, data, size);
    url[size] = '\0';
    /* libFuzzer learns the constant from strstr(): only a URL that does not
     * spell it out itself can show whether it leaks. */
    int env_in_url = strstr(url, ENV_SECRET) != NULL;

    err[0] = '\0';
    if (redisurl_parse(url, &u, err, sizeof err) < 0) {
        FUZZ_CHECK(err[0] != '\0');
        FUZZ_CHECK(env_in_url || strstr(err, ENV_SECRET) == NULL);
        /* The same URL with another password of the same shape (each digit,
         * hex letter and other letter replaced by another of its kind;
         * punctuation such as ':', '@', '%' kept) fails with the same words:
         * the error does not quote the password. */
        if (url_password(url, &ps, &pe) == 0) {
            char url2[sizeof url];
            memcpy(url2, url, sizeof url);
            for (size_t i = ps; i < pe; i++)
                url2[i] = flip(url2[i]);
            err2[0] = '\0';
            FUZZ_CHECK(redisurl_parse(url2, &u2, err2, sizeof err2) < 0);
            FUZZ_CHECK(strcmp(err, err2) == 0);
        }
        return 0;
    }
    if (u.snt.n) {
        /* sentinel:// (sentinelurl.c): the sentinels and the master's name
         * in range; the master is unknown until a lookup; the description
         * holds no password of the environment's */
        FUZZ_CHECK(strncmp(url, "sentinel://", 11) == 0);
        FUZZ_CHECK(u.snt.n <= REDISURL_MAX_SENTINELS && u.snt.master[0]);
        FUZZ_CHECK(!u.host[0] && u.db >= 0 && u.db <= 1000000);
        for (int i = 0; i < u.snt.n; i++) {
            FUZZ_CHECK_FIELD(u.snt.addr[i].host);
            FUZZ_CHECK(u.snt.addr[i].host[0] && u.snt.addr[i].port >= 1 &&
                       u.snt.addr[i].port <= 65535);
        }
        redisurl_describe(&u, desc, sizeof desc);
        FUZZ_CHECK(strncmp(desc, "sentinel ", 9) == 0);
        FUZZ_CHECK(env_in_url || strstr(desc, ENV_SECRET) == NULL);
        return 0;
    }
    FUZZ_CHECK_FIELD(u.host);
    FUZZ_CHECK_FIELD(u.path);
    FUZZ_CHECK_FIELD(u.user);
    FUZZ_CHECK_FIELD(u.pass);
    FUZZ_CHECK(u.db >= 0 && u.db <= 1000000);
    if (u.cluster[0]) { /* redis-cluster://: seeds host:port only */
        FUZZ_CHECK(strncmp(url, "redis-cluster://", 16) == 0);
        FUZZ_CHECK(strpbrk(u.cluster, "/?#@") == NULL);
        FUZZ_CHECK(u.db == 0 && !u.path[0]);
        snprintf(want, sizeof want, "cluster:%s", u.cluster);
    } else if (u.path[0]) {
        FUZZ_CHECK(u.path[0] == '/');
        FUZZ_CHECK(strncmp(url, "unix://", 7) == 0);
        snprintf(want, sizeof want, "unix:%s/%d", u.path, u.db);
    } else {
        FUZZ_CHECK(u.host[0] != '\0');
        FUZZ_CHECK(u.port >= 1 && u.port <= 65535);
        FUZZ_CHECK(strchr(u.host, ':') == NULL && strchr(u.host, '/') == NULL &&
                   strchr(u.host, '@') == NULL);
        snprintf(want, sizeof want, "%s:%d/%d", u.host, u.port, u.db);
    }
    /* The environment fills a missing password. */
    if (with_env && url_password(url, &ps, &pe) < 0)
        FUZZ_CHECK(u.pass[0] != '\0');

    /* The description is built from host, port, db or path only. */
    redisurl_describe(&u, desc, sizeof desc);
    FUZZ_CHECK(strcmp(desc, want) == 0);

    /* Round trip through the parts (TCP only: a path may hold '?'). */
    if (!u.path[0]) {
        char again[700];
        int n = snprintf(again, sizeof again, "redis://%s:%d/%d", u.host,
                         u.port, u.db);
        FUZZ_CHECK(n > 0 && (size_t)n < sizeof again);
        FUZZ_CHECK(redisurl_parse(again, &u2, err2, sizeof err2) == 0);
        FUZZ_CHECK(strcmp(u.host, u2.host) == 0);
        FUZZ_CHECK(u.port == u2.port && u.db == u2.db);
    }
    return 0;
}
