/* Redis URL parsing (see redisurl.h). */
#include "fmacros.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "redisurl.h"
#include "sentinelurl.h"

/* Format the reason into err; returns -1 for the caller to return. */
static int url_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int
url_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int
parse_int(const char *s, size_t n, long lo, long hi, long *out)
{
    char tmp[32], *end;
    long v;

    if (n == 0 || n >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    errno = 0;
    v = strtol(tmp, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Copy s[0..n) into dst decoding %XX escapes. -1 when too long or a '%'
 * is not followed by two hex digits. */
static int
pct_decode(char *dst, size_t cap, const char *s, size_t n)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int v = 0;
            if (i + 2 >= n) /* needs two more characters */
                return -1;
            for (int k = 1; k <= 2; k++) {
                char h = s[i + (size_t)k];
                v <<= 4;
                if (h >= '0' && h <= '9')
                    v |= h - '0';
                else if (h >= 'a' && h <= 'f')
                    v |= h - 'a' + 10;
                else if (h >= 'A' && h <= 'F')
                    v |= h - 'A' + 10;
                else
                    return -1;
            }
            c = (char)v;
            i += 2;
        }
        if (o + 1 >= cap)
            return -1;
        dst[o++] = c;
    }
    dst[o] = '\0';
    return 0;
}

static int
copy_part(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

int
redisurl_parse(const char *url, struct redis_url *u, char *err, size_t errlen)
{
    const char *p, *end, *at, *slash, *colon;
    long v;

    if (strncmp(url, CLUSTER_URL_SCHEME, strlen(CLUSTER_URL_SCHEME)) == 0)
        return cluster_url_parse(url, u, err, errlen);
    memset(u, 0, sizeof(*u));
    u->port = 6379;
    if (strncmp(url, "unix://", 7) == 0) {
        p = url + 7;
        end = strchr(p, '?');
        if (copy_part(u->path, sizeof(u->path), p,
                      end ? (size_t)(end - p) : strlen(p)) < 0 ||
            u->path[0] != '/') {
            return url_fail(err, errlen,
                            "redis URL: unix socket path must be "
                            "absolute: unix:///path/redis.sock");
        }
        if (end) {
            if (strncmp(end, "?db=", 4) != 0 ||
                parse_int(end + 4, strlen(end + 4), 0, 1000000, &v) < 0) {
                return url_fail(err, errlen,
                                "redis URL: bad query '%s' (only "
                                "?db=N is understood)",
                                end);
            }
            u->db = (int)v;
        }
        goto done;
    }
    if (strncmp(url, "sentinel://", 11) == 0) {
        if (sentinelurl_parse(url, u, err, errlen) < 0)
            return -1;
        goto done;
    }
    if (strncmp(url, "rediss://", 9) == 0) {
        return url_fail(err, errlen,
                        "redis URL: TLS (rediss://) is not supported "
                        "by this build (hiredis 0.14 has no TLS)");
    }
    if (strncmp(url, "redis://", 8) != 0) {
        return url_fail(err, errlen,
                        "redis URL must start with redis://, unix://, "
                        "sentinel:// or " CLUSTER_URL_SCHEME
                        " (got something else)");
    }
    p = url + 8;
    /* Credentials end at the last '@' (a raw '/' or '@' in a password is
     * tolerated); the path starts at the first '/' after it. Error messages
     * never quote any part of the URL: it may carry the password. */
    at = strrchr(p, '@');
    if (at) {
        colon = memchr(p, ':', (size_t)(at - p));
        if (colon) {
            if (pct_decode(u->user, sizeof(u->user), p, (size_t)(colon - p)) <
                    0 ||
                pct_decode(u->pass, sizeof(u->pass), colon + 1,
                           (size_t)(at - colon - 1)) < 0) {
                return url_fail(err, errlen,
                                "redis URL: user or password too long "
                                "or badly %%-encoded");
            }
        } else if (pct_decode(u->pass, sizeof(u->pass), p, (size_t)(at - p)) <
                   0) {
            return url_fail(err, errlen,
                            "redis URL: password too long or badly "
                            "%%-encoded");
        }
        p = at + 1;
    }
    slash = strchr(p, '/');
    end = slash ? slash : p + strlen(p);
    colon = memchr(p, ':', (size_t)(end - p));
    if (copy_part(u->host, sizeof(u->host), p,
                  colon ? (size_t)(colon - p) : (size_t)(end - p)) < 0 ||
        u->host[0] == '\0') {
        return url_fail(err, errlen, "redis URL: missing or too long host");
    }
    if (colon) {
        if (parse_int(colon + 1, (size_t)(end - colon - 1), 1, 65535, &v) < 0) {
            return url_fail(err, errlen,
                            "redis URL: the port must be a number in "
                            "1..65535");
        }
        u->port = (int)v;
    }
    if (slash && slash[1]) {
        if (parse_int(slash + 1, strlen(slash + 1), 0, 1000000, &v) < 0) {
            return url_fail(err, errlen,
                            "redis URL: the database after '/' must be "
                            "a number");
        }
        u->db = (int)v;
    }
done:
    if (!u->pass[0]) {
        const char *pw = getenv("GENQ_REDIS_PASSWORD");
        if (pw && copy_part(u->pass, sizeof(u->pass), pw, strlen(pw)) < 0) {
            return url_fail(err, errlen, "GENQ_REDIS_PASSWORD is too long");
        }
    }
    return 0;
}

void
redisurl_describe(const struct redis_url *u, char *out, size_t outlen)
{
    if (u->snt.n)
        sentinelurl_describe(u, out, outlen);
    else if (u->cluster[0] && !u->cluster_node)
        snprintf(out, outlen, "cluster:%s", u->cluster);
    else if (u->path[0])
        snprintf(out, outlen, "unix:%s/%d", u->path, u->db);
    else
        snprintf(out, outlen, "%s:%d/%d", u->host, u->port, u->db);
}

int
redisurl_pct_decode(char *dst, size_t cap, const char *s, size_t n)
{
    return pct_decode(dst, cap, s, n);
}

int
redisurl_parse_long(const char *s, size_t n, long lo, long hi, long *out)
{
    return parse_int(s, n, lo, hi, out);
}
