/* Redis Sentinel, synchronous lookup and connect (see sentinel.h): used by
 * rclient_connect() for every sentinel:// URL. */
#include "fmacros.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rclient.h"
#include "sentinel.h"
#include "timefmt.h"

int
sentinel_parse_addr(const redisReply *r, char *host, size_t hostlen, int *port)
{
    char *end;
    long p;

    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_STRING || r->element[0]->len == 0 ||
        r->element[0]->len >= hostlen)
        return -1;
    errno = 0;
    p = strtol(r->element[1]->str, &end, 10);
    if (errno || *end || p < 1 || p > 65535)
        return -1;
    memcpy(host, r->element[0]->str, r->element[0]->len);
    host[r->element[0]->len] = '\0';
    *port = (int)p;
    return 0;
}

/* Split msg into at most max words (copied into buf, cap bytes) at spaces;
 * the count, or -1 when msg does not fit or has more words. */
static int
split_words(const char *msg, char *buf, size_t cap, char **w, int max)
{
    char *save = NULL, *t;
    int n = 0;

    if (strlen(msg) >= cap)
        return -1;
    memcpy(buf, msg, strlen(msg) + 1);
    for (t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        if (n == max)
            return -1;
        w[n++] = t;
    }
    return n;
}

/* host and port from words ip and port: 1, or 0 when out of range. */
static int
take_addr(const char *ip, const char *port, char *host, size_t hostlen,
          int *out)
{
    long p;

    if (strlen(ip) >= hostlen ||
        redisurl_parse_long(port, strlen(port), 1, 65535, &p) < 0)
        return 0;
    memcpy(host, ip, strlen(ip) + 1);
    *out = (int)p;
    return 1;
}

int
sentinel_parse_switch(const char *msg, const char *master, char *host,
                      size_t hostlen, int *port)
{
    char buf[1024], *w[5];

    /* name old-ip old-port new-ip new-port */
    if (split_words(msg, buf, sizeof(buf), w, 5) != 5 || strcmp(w[0], master))
        return 0;
    return take_addr(w[3], w[4], host, hostlen, port);
}

int
sentinel_parse_event(const char *msg, const char *master, char *host,
                     size_t hostlen, int *port)
{
    char buf[1024], *w[8];
    int n = split_words(msg, buf, sizeof(buf), w, 8);

    /* "master NAME IP PORT" */
    if (n == 4 && !strcmp(w[0], "master") && !strcmp(w[1], master))
        return take_addr(w[2], w[3], host, hostlen, port);
    /* "TYPE NAME IP PORT @ MASTER MASTER-IP MASTER-PORT" */
    if (n == 8 && !strcmp(w[4], "@") && !strcmp(w[5], master))
        return take_addr(w[2], w[3], host, hostlen, port);
    return 0;
}

int
sentinel_role_is_master(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
           r->element[0]->type == REDIS_REPLY_STRING &&
           strcmp(r->element[0]->str, "master") == 0;
}

static struct timeval
tv_of(double s)
{
    struct timeval tv = {(time_t)s,
                         (suseconds_t)((s - (double)(time_t)s) * 1e6)};
    return tv;
}

/* One sentinel: 0 with the master's address, or -1 with why in err. */
static int
ask_one(const struct redis_url *u, int i, double timeout_s, char *host,
        size_t hostlen, int *port, char *err, size_t errlen)
{
    struct timeval tv = tv_of(timeout_s);
    redisContext *c =
        redisConnectWithTimeout(u->snt.addr[i].host, u->snt.addr[i].port, tv);
    redisReply *r = NULL;
    int rc = -1;

    if (!c || c->err) {
        snprintf(err, errlen, "%s", c ? c->errstr : "out of memory");
        redisFree(c);
        return -1;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        snprintf(err, errlen, "cannot set timeout");
        redisFree(c);
        return -1;
    }
    if (u->snt.pass[0]) {
        if (u->snt.user[0])
            r = redisCommand(c, "AUTH %s %s", u->snt.user, u->snt.pass);
        else
            r = redisCommand(c, "AUTH %s", u->snt.pass);
        /* AUTH's error text never echoes the password */
        if (!r || r->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "AUTH failed: %s", r ? r->str : c->errstr);
            goto out;
        }
        freeReplyObject(r);
    }
    r = redisCommand(c, "SENTINEL get-master-addr-by-name %s", u->snt.master);
    if (!r)
        snprintf(err, errlen, "%s", c->errstr);
    else if (r->type == REDIS_REPLY_ERROR)
        snprintf(err, errlen, "%s", r->str);
    else if (sentinel_parse_addr(r, host, hostlen, port) < 0)
        snprintf(err, errlen, "does not know master '%s'", u->snt.master);
    else
        rc = 0;
out:
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return rc;
}

int
sentinel_lookup(const struct redis_url *u, double timeout_s, char *host,
                size_t hostlen, int *port, char *err, size_t errlen)
{
    size_t at;

    at = (size_t)snprintf(err, errlen,
                          "sentinel: no master '%s':", u->snt.master);
    for (int i = 0; i < u->snt.n; i++) {
        char why[256];
        if (ask_one(u, i, timeout_s, host, hostlen, port, why, sizeof(why)) ==
            0)
            return 0;
        if (at < errlen)
            at += (size_t)snprintf(err + at, errlen - at, "%s %s:%d: %s",
                                   i ? ";" : "", u->snt.addr[i].host,
                                   u->snt.addr[i].port, why);
    }
    return -1;
}

/* Errors no retry mends: a refused layout, wrong credentials, ACL. */
static int
is_final(const char *err)
{
    return errno == EPROTONOSUPPORT || strstr(err, "AUTH") ||
           strstr(err, "WRONGPASS") || strstr(err, "NOPERM");
}

redisContext *
sentinel_connect(const struct redis_url *u, double timeout_s, char *err,
                 size_t errlen)
{
    double deadline = time_mono_s() + timeout_s;
    struct redis_url m = *u;
    redisContext *c = NULL;

    m.snt.n = 0; /* rclient_connect() below talks to the master itself */
    for (;;) {
        double left = deadline - time_mono_s();
        struct timespec pause = {0, 200 * 1000 * 1000};

        if (left < 0.5)
            left = 0.5; /* one full try, even when the time is up */
        errno = 0;
        if (sentinel_lookup(u, left < 2.0 ? left : 2.0, m.host, sizeof(m.host),
                            &m.port, err, errlen) == 0) {
            c = rclient_connect(&m, left, err, errlen);
            if (!c && is_final(err))
                break;
            if (c) {
                redisReply *r = redisCommand(c, "ROLE");
                int ok = sentinel_role_is_master(r);
                if (r)
                    freeReplyObject(r);
                if (ok)
                    break;
                snprintf(err, errlen,
                         "redis %s:%d: not the master (ROLE); the "
                         "sentinels of '%s' are failing over",
                         m.host, m.port, u->snt.master);
                redisFree(c);
                c = NULL;
            }
        }
        if (time_mono_s() + 0.2 > deadline)
            break;
        nanosleep(&pause, NULL);
    }
    explicit_bzero(&m, sizeof(m));
    return c;
}
