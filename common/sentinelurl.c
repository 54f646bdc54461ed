/* sentinel:// URL parsing and description (see sentinelurl.h): the list of
 * sentinels, the master's name, the query (db, sentinel_user,
 * sentinel_password_file) and the sentinels' password from that file or
 * GENQ_SENTINEL_PASSWORD. */
#include "fmacros.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sentinelurl.h"

/* Format the reason into err (in scope as err, errlen); -1 to return. */
#define snt_fail(err, errlen, ...) (snprintf((err), (errlen), __VA_ARGS__), -1)

/* One sentinel "host[:port]" of s[0..n) into slot i. */
static int
parse_addr(struct redis_url *u, const char *s, size_t n, char *err,
           size_t errlen)
{
    const char *colon = memchr(s, ':', n);
    size_t hl = colon ? (size_t)(colon - s) : n;
    int i = u->snt.n;
    long v = SENTINEL_DEFAULT_PORT;

    if (i == REDISURL_MAX_SENTINELS)
        return snt_fail(err, errlen, "sentinel URL: more than %d sentinels",
                        REDISURL_MAX_SENTINELS);
    if (hl == 0 || hl >= sizeof(u->snt.addr[i].host))
        return snt_fail(err, errlen,
                        "sentinel URL: sentinel %d: missing or too long host",
                        i + 1);
    if (colon && redisurl_parse_long(colon + 1, n - hl - 1, 1, 65535, &v) < 0)
        return snt_fail(err, errlen,
                        "sentinel URL: sentinel %d: the port must be a "
                        "number in 1..65535",
                        i + 1);
    memcpy(u->snt.addr[i].host, s, hl);
    u->snt.addr[i].host[hl] = '\0';
    u->snt.addr[i].port = (int)v;
    u->snt.n++;
    return 0;
}

/* The sentinels' password from PATH (its first line). */
static int
read_pass_file(struct redis_url *u, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    size_t n;

    if (!f)
        return snt_fail(err, errlen,
                        "sentinel URL: sentinel_password_file '%s': %s", path,
                        strerror(errno));
    n = fread(u->snt.pass, 1, sizeof(u->snt.pass) - 1, f);
    if (ferror(f) || (n == sizeof(u->snt.pass) - 1 && fgetc(f) != EOF)) {
        fclose(f);
        memset(u->snt.pass, 0, sizeof(u->snt.pass));
        return snt_fail(err, errlen,
                        "sentinel URL: sentinel_password_file '%s': "
                        "unreadable or longer than %zu bytes",
                        path, sizeof(u->snt.pass) - 2);
    }
    fclose(f);
    u->snt.pass[n] = '\0';
    u->snt.pass[strcspn(u->snt.pass, "\r\n")] = '\0';
    return 0;
}

/* The query after '?': db=N&sentinel_user=U&sentinel_password_file=P. */
static int
parse_query(struct redis_url *u, const char *q, char *err, size_t errlen)
{
    char path[512] = "";

    while (*q) {
        size_t n = strcspn(q, "&");
        const char *eq = memchr(q, '=', n);
        size_t kl = eq ? (size_t)(eq - q) : n;
        const char *v = eq ? eq + 1 : q + n;
        size_t vl = (size_t)(q + n - v);
        long x;

        if (kl == 2 && !strncmp(q, "db", 2)) {
            if (redisurl_parse_long(v, vl, 0, 1000000, &x) < 0)
                return snt_fail(err, errlen,
                                "sentinel URL: db must be a number in "
                                "0..1000000");
            u->db = (int)x;
        } else if (kl == 13 && !strncmp(q, "sentinel_user", 13)) {
            if (redisurl_pct_decode(u->snt.user, sizeof(u->snt.user), v, vl) <
                    0 ||
                !u->snt.user[0])
                return snt_fail(err, errlen,
                                "sentinel URL: sentinel_user empty, too long "
                                "or badly %%-encoded");
        } else if (kl == 22 && !strncmp(q, "sentinel_password_file", 22)) {
            if (redisurl_pct_decode(path, sizeof(path), v, vl) < 0 || !path[0])
                return snt_fail(err, errlen,
                                "sentinel URL: sentinel_password_file empty, "
                                "too long or badly %%-encoded");
        } else if (kl == 17 && !strncmp(q, "sentinel_password", 17)) {
            /* the value is never quoted: it is the secret */
            return snt_fail(err, errlen,
                            "sentinel URL: sentinel_password= would put a "
                            "secret in argv and logs; set "
                            "GENQ_SENTINEL_PASSWORD or "
                            "?sentinel_password_file=PATH instead");
        } else {
            return snt_fail(err, errlen,
                            "sentinel URL: unknown query parameter '%.*s' "
                            "(db, sentinel_user, sentinel_password_file)",
                            (int)(kl > 40 ? 40 : kl), q);
        }
        q += n;
        if (*q == '&')
            q++;
    }
    if (path[0])
        return read_pass_file(u, path, err, errlen);
    return 0;
}

int
sentinelurl_parse(const char *url, struct redis_url *u, char *err,
                  size_t errlen)
{
    const char *p = url + 11, *qm, *at, *slash, *mend;
    size_t ml;

    u->port = 0;
    qm = strchr(p, '?');
    /* credentials end at the last '@' before the query (a raw '@' or '/'
     * in the password is tolerated, as in redis://); never quoted */
    at = NULL;
    for (const char *s = p; *s && s != qm; s++)
        if (*s == '@')
            at = s;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        int bad;
        if (colon)
            bad = redisurl_pct_decode(u->user, sizeof(u->user), p,
                                      (size_t)(colon - p)) < 0 ||
                  redisurl_pct_decode(u->pass, sizeof(u->pass), colon + 1,
                                      (size_t)(at - colon - 1)) < 0;
        else
            bad = redisurl_pct_decode(u->pass, sizeof(u->pass), p,
                                      (size_t)(at - p)) < 0;
        if (bad)
            return snt_fail(err, errlen,
                            "sentinel URL: user or password too long or "
                            "badly %%-encoded");
        p = at + 1;
    }
    slash = strchr(p, '/');
    if (!slash || (qm && slash > qm))
        return snt_fail(err, errlen,
                        "sentinel URL: the master's name is missing: "
                        "sentinel://host:26379[,host:port...]/mastername");
    while (p < slash) {
        const char *comma = memchr(p, ',', (size_t)(slash - p));
        const char *e = comma ? comma : slash;
        if (parse_addr(u, p, (size_t)(e - p), err, errlen) < 0)
            return -1;
        p = comma ? comma + 1 : slash;
        if (comma && p == slash)
            return snt_fail(err, errlen,
                            "sentinel URL: empty sentinel after ','");
    }
    if (u->snt.n == 0)
        return snt_fail(err, errlen, "sentinel URL: no sentinel host");
    mend = qm ? qm : slash + strlen(slash);
    ml = (size_t)(mend - slash - 1);
    if (ml == 0 || ml >= sizeof(u->snt.master))
        return snt_fail(err, errlen,
                        "sentinel URL: the master's name is missing or "
                        "longer than %zu characters",
                        sizeof(u->snt.master) - 1);
    for (size_t i = 0; i < ml; i++) {
        char c = slash[1 + i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return snt_fail(err, errlen,
                            "sentinel URL: the master's name may hold "
                            "letters, digits, '-', '_' and '.' only");
    }
    memcpy(u->snt.master, slash + 1, ml);
    u->snt.master[ml] = '\0';
    if (qm && parse_query(u, qm + 1, err, errlen) < 0)
        return -1;
    if (!u->snt.pass[0]) {
        const char *pw = getenv("GENQ_SENTINEL_PASSWORD");
        if (pw && strlen(pw) >= sizeof(u->snt.pass))
            return snt_fail(err, errlen, "GENQ_SENTINEL_PASSWORD is too long");
        if (pw)
            snprintf(u->snt.pass, sizeof(u->snt.pass), "%s", pw);
    }
    return 0;
}

void
sentinelurl_describe(const struct redis_url *u, char *out, size_t outlen)
{
    int n;

    if (u->host[0]) {
        snprintf(out, outlen, "%s:%d/%d (sentinel master %s)", u->host, u->port,
                 u->db, u->snt.master);
        return;
    }
    n = snprintf(out, outlen, "sentinel %s at ", u->snt.master);
    for (int i = 0; i < u->snt.n && n >= 0 && (size_t)n < outlen; i++)
        n += snprintf(out + n, outlen - (size_t)n, "%s%s:%d", i ? "," : "",
                      u->snt.addr[i].host, u->snt.addr[i].port);
    if (n >= 0 && (size_t)n < outlen)
        snprintf(out + n, outlen - (size_t)n, "/%d", u->db);
}
