/* Synchronous Redis helpers (see rclient.h). */
#include "fmacros.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster.h"
#include "clustersync.h"
#include "layout.h"
#include "rclient.h"
#include "sentinel.h"
#include "timefmt.h"

/* How long a script call waits out TRYAGAIN (a migrating slot) and
 * CLUSTERDOWN (a failover): the worker's command timeout (worker/rcluster.c) */
#define RETRY_S 10.0

int
rclient_build_argv_keys(const char *cmd, const char *body,
                        const struct skeys *k, int argc, const char **argv,
                        const size_t *argvlen, const char ***av, size_t **al)
{
    static const char *const nkeys[] = {"0",  "1",  "2",  "3",  "4",  "5",
                                        "6",  "7",  "8",  "9",  "10", "11",
                                        "12", "13", "14", "15", "16", "17"};
    int n = 4 + k->n + argc, j = 0;
    const char **v;
    size_t *l;

    if (k->n < 0 || k->n >= (int)(sizeof(nkeys) / sizeof(nkeys[0])) || argc < 0)
        return -1;
    v = malloc(sizeof(*v) * (size_t)n);
    l = malloc(sizeof(*l) * (size_t)n);
    if (!v || !l) {
        free(v);
        free(l);
        return -1;
    }
    v[j] = cmd;
    l[j++] = strlen(cmd);
    v[j] = body;
    l[j++] = strlen(body);
    v[j] = nkeys[k->n];
    l[j++] = strlen(nkeys[k->n]);
    for (int i = 0; i < k->n; i++) {
        v[j] = k->keyv[i];
        l[j++] = strlen(k->keyv[i]);
    }
    v[j] = k->prefix;
    l[j++] = strlen(k->prefix);
    for (int i = 0; i < argc; i++) {
        v[j] = argv[i];
        l[j++] = argvlen ? argvlen[i] : strlen(argv[i]);
    }
    *av = v;
    *al = l;
    return n;
}

int
rclient_build_argv(const char *cmd, const char *body, const struct qkeys *k,
                   int argc, const char **argv, const size_t *argvlen,
                   const char ***av, size_t **al)
{
    struct skeys sk = rclient_qkeys(k, csync_active());

    return rclient_build_argv_keys(cmd, body, &sk, argc, argv, argvlen, av, al);
}

struct skeys
rclient_qkeys(const struct qkeys *k, int cluster)
{
    struct skeys sk = {cluster ? 2 : 1, k->route, k->prefix};

    return sk;
}

/* A connect step whose reply r is NULL or an error: err is "redis WHERE:
 * WHAT" and Redis's reason; r and c are freed. Returns NULL. */
static redisContext *
connect_failed(redisContext *c, redisReply *r, const char *where,
               const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "redis %s: %s%s", where, what,
             r ? r->str : c->errstr);
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return NULL;
}

redisContext *
rclient_connect(const struct redis_url *u, double timeout_s, char *err,
                size_t errlen)
{
    struct timeval tv = {
        (time_t)timeout_s,
        (suseconds_t)((timeout_s - (double)(time_t)timeout_s) * 1e6)};
    char where[300];
    redisContext *c;
    redisReply *r;
    int have[SCRIPT_COUNT] = {0};

    if (u->snt.n) /* sentinel://: find the master first (sentinel.h) */
        return sentinel_connect(u, timeout_s, err, errlen);
    if (u->cluster[0] && !u->cluster_node) /* Redis Cluster: its router */
        return csync_connect_key(u, KEY_LAYOUT, timeout_s, err, errlen);
    redisurl_describe(u, where, sizeof(where));
    if (u->path[0])
        c = redisConnectUnixWithTimeout(u->path, tv);
    else
        c = redisConnectWithTimeout(u->host, u->port, tv);
    if (!c) {
        snprintf(err, errlen, "redis %s: out of memory", where);
        return NULL;
    }
    if (c->err) {
        snprintf(err, errlen, "redis %s: %s", where, c->errstr);
        redisFree(c);
        return NULL;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        snprintf(err, errlen, "redis %s: cannot set timeout", where);
        redisFree(c);
        return NULL;
    }
    if (u->pass[0]) {
        if (u->user[0])
            r = redisCommand(c, "AUTH %s %s", u->user, u->pass);
        else
            r = redisCommand(c, "AUTH %s", u->pass);
        /* The error text of AUTH never echoes the password. */
        if (!r || r->type == REDIS_REPLY_ERROR)
            return connect_failed(c, r, where, "AUTH failed: ", err, errlen);
        freeReplyObject(r);
    }
    if (u->db) {
        r = redisCommand(c, "SELECT %d", u->db);
        if (!r || r->type == REDIS_REPLY_ERROR)
            return connect_failed(c, r, where, "SELECT failed: ", err, errlen);
        freeReplyObject(r);
    }
    if (scripts_init() < 0) {
        snprintf(err, errlen, "out of memory");
        redisFree(c);
        return NULL;
    }
    /* A clear NOAUTH first: without AUTH, Redis refuses a command of more
     * than 10 arguments with a protocol error and drops the connection.
     * The same round trip sets the layout version if absent and refuses a
     * Redis whose version this genq does not know (layout.h). On Redis
     * Cluster, only the node serving KEY_LAYOUT does (clustersync.c). */
    if (u->cluster_node != 1) {
        const char *set[LAYOUT_SET_ARGC], *get[LAYOUT_GET_ARGC];
        void *rv = NULL;
        int bad;

        layout_commands(set, get);
        if (redisAppendCommandArgv(c, LAYOUT_SET_ARGC, set, NULL) != REDIS_OK ||
            redisAppendCommandArgv(c, LAYOUT_GET_ARGC, get, NULL) != REDIS_OK)
            return connect_failed(c, NULL, where, "", err, errlen);
        for (int i = 0; i < 2; i++) {
            rv = NULL;
            if (redisGetReply(c, &rv) != REDIS_OK)
                rv = NULL;
            r = rv;
            if (!r || r->type == REDIS_REPLY_ERROR)
                return connect_failed(c, r, where, "", err, errlen);
            if (i == 0)
                freeReplyObject(r);
        }
        bad = layout_check(r->type == REDIS_REPLY_STRING ? r->str : NULL, where,
                           err, errlen);
        freeReplyObject(r);
        if (bad == 1) { /* an older layout: upgrade it (layout.h) */
            const char *up[LAYOUT_UPGRADE_ARGC];
            struct layout_upgrade us;
            int n = layout_upgrade_argv(up, &us, (long long)time(NULL));

            r = redisCommandArgv(c, n, up, NULL);
            if (!r || r->type == REDIS_REPLY_ERROR)
                return connect_failed(c, r, where,
                                      "layout upgrade failed: ", err, errlen);
            bad = layout_check(r->type == REDIS_REPLY_STRING ? r->str : NULL,
                               where, err, errlen);
            freeReplyObject(r);
        }
        if (bad) {
            redisFree(c);
            errno = EPROTONOSUPPORT; /* rclient.h: refused by the layout */
            return NULL;
        }
    }
    /* Load only what Redis does not have yet (SCRIPT LOAD compiles). */
    {
        const char *av[SCRIPT_EXISTS_ARGC];
        r = redisCommandArgv(c, scripts_exists_argv(av), av, NULL);
        /* e.g. NOAUTH: say so (Redis may also drop the connection) */
        if (!r || r->type == REDIS_REPLY_ERROR)
            return connect_failed(c, r, where, "SCRIPT EXISTS failed: ", err,
                                  errlen);
        if (r->type == REDIS_REPLY_ARRAY && r->elements == SCRIPT_COUNT)
            for (int i = 0; i < SCRIPT_COUNT; i++)
                have[i] = r->element[i]->type == REDIS_REPLY_INTEGER &&
                          r->element[i]->integer == 1;
        freeReplyObject(r);
    }
    for (int i = 0; i < SCRIPT_COUNT; i++) {
        const struct script *s = script_get((enum script_id)i);
        char what[64];
        if (have[i])
            continue;
        r = redisCommand(c, "SCRIPT LOAD %s", s->text);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            snprintf(what, sizeof(what), "SCRIPT LOAD %s failed: ", s->name);
            return connect_failed(c, r, where, what, err, errlen);
        }
        freeReplyObject(r);
    }
    return c;
}

int
rclient_append_script_keys(redisContext *c, enum script_id id,
                           const struct skeys *k, int argc, const char **argv,
                           const size_t *argvlen)
{
    const char **av;
    size_t *al;
    int n = rclient_build_argv_keys("EVALSHA", script_get(id)->sha, k, argc,
                                    argv, argvlen, &av, &al);
    int rc;

    if (n < 0)
        return -1;
    rc = redisAppendCommandArgv(c, n, av, al) == REDIS_OK ? 0 : -1;
    free(av);
    free(al);
    return rc;
}

int
rclient_append_script(redisContext *c, enum script_id id, const struct qkeys *k,
                      int argc, const char **argv, const size_t *argvlen)
{
    struct skeys sk = rclient_qkeys(k, csync_active());

    return rclient_append_script_keys(c, id, &sk, argc, argv, argvlen);
}

int
rclient_flush(redisContext *c)
{
    int done = 0;

    while (!done)
        if (redisBufferWrite(c, &done) != REDIS_OK)
            return -1;
    return 0;
}

redisReply *
rclient_read(redisContext *c, char *err, size_t errlen)
{
    void *rv = NULL;
    redisReply *r;

    if (redisGetReply(c, &rv) != REDIS_OK || !rv) {
        snprintf(err, errlen, "redis: %s",
                 c->errstr[0] ? c->errstr
                              : "I/O "
                                "error");
        return NULL;
    }
    r = rv;
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "redis: %s", r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* Send the RESP command cmd (len bytes) on c and read its reply. NULL on
 * an I/O error (c->errstr says). */
static redisReply *
request(redisContext *c, const char *cmd, int len)
{
    void *rv = NULL;

    if (redisAppendFormattedCommand(c, cmd, (size_t)len) != REDIS_OK ||
        redisGetReply(c, &rv) != REDIS_OK)
        return NULL;
    return rv;
}

/* request() of *cmd (*len bytes) on c, following Redis Cluster: MOVED and
 * ASK, 16 hops at most; a TRYAGAIN (a slot migrating: every queue script
 * declares the slot guard, keys.h QKEY_GUARD, so it waits until the slot
 * has moved) or CLUSTERDOWN counts no hop and is asked again every 20 ms
 * (csync_follow) for up to RETRY_S, as the worker does. s: the call is
 * script s's EVALSHA of n arguments av/al (else NULL): a NOSCRIPT reply
 * (Redis restarted or flushed its script cache) sends it again as EVAL of
 * its text, *cmd then replaced (av[0..1] too). The caller frees *cmd with
 * redisFreeCommand(). Returns the last reply, an error reply too, or NULL
 * on an I/O error; *last is the connection it came from (or failed). */
static redisReply *
request_following(redisContext *c, char **cmd, int *len, const struct script *s,
                  const char **av, size_t *al, int n, redisContext **last)
{
    double t0 = time_mono_s();
    redisContext *asked = NULL;
    redisReply *r = request(c, *cmd, *len);

    for (int hop = 0; r && r->type == REDIS_REPLY_ERROR && hop < 16; hop++) {
        redisContext *to = c;
        char host[256];
        int slot, port;
        if (cluster_redirect_parse(r->str, &slot, host, sizeof(host), &port) ==
            CLUSTER_REDIR_RETRY) {
            if (time_mono_s() - t0 >= RETRY_S)
                break;
            hop--;
        }
        if (s && strncmp(r->str, "NOSCRIPT", 8) == 0 && av[0][4] == 'S') {
            char *eval;
            int el;

            av[0] = "EVAL";
            al[0] = 4;
            av[1] = s->text;
            al[1] = strlen(s->text);
            el = redisFormatCommandArgv(&eval, n, av, al);
            if (el < 0)
                break; /* out of memory: the NOSCRIPT is the error */
            redisFreeCommand(*cmd);
            *cmd = eval;
            *len = el;
        } else if (!(to = csync_follow(r, c, &asked))) {
            break; /* not a Redis Cluster redirection */
        }
        freeReplyObject(r);
        c = to;
        r = request(c, *cmd, *len);
    }
    *last = c;
    return r;
}

redisReply *
rclient_script(redisContext *c, enum script_id id, const struct qkeys *k,
               int argc, const char **argv, const size_t *argvlen, char *err,
               size_t errlen)
{
    const struct script *s = script_get(id);
    const char **av;
    size_t *al;
    char *cmd = NULL;
    redisReply *r;
    int len = -1, n = rclient_build_argv("EVALSHA", s->sha, k, argc, argv,
                                         argvlen, &av, &al);

    if (n >= 0)
        len = redisFormatCommandArgv(&cmd, n, av, al);
    if (len < 0) {
        if (n >= 0) {
            free(av);
            free(al);
        }
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r = request_following(c, &cmd, &len, s, av, al, n, &c);
    redisFreeCommand(cmd);
    free(av);
    free(al);
    if (!r) {
        snprintf(err, errlen, "redis: %s", c->errstr);
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "redis: %s script: %s", s->name, r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* rclient_command() of the formatted command cmd (len bytes: < 0, -2 for
 * a bad format, when formatting failed); frees cmd. */
static redisReply *
command_following(redisContext *c, char *cmd, int len)
{
    redisContext *last;
    redisReply *r;

    if (len < 0) {
        snprintf(c->errstr, sizeof(c->errstr), "%s",
                 len == -2 ? "invalid command format" : "out of memory");
        return NULL;
    }
    r = request_following(c, &cmd, &len, NULL, NULL, NULL, 0, &last);
    redisFreeCommand(cmd);
    if (!r && last != c) /* the caller reads c's */
        snprintf(c->errstr, sizeof(c->errstr), "%s", last->errstr);
    return r;
}

redisReply *
rclient_command(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    char *cmd = NULL;
    int len;

    va_start(ap, fmt);
    len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    return command_following(c, cmd, len);
}

redisReply *
rclient_command_argv(redisContext *c, int argc, const char **argv,
                     const size_t *argvlen)
{
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, argc, argv, argvlen);

    return command_following(c, cmd, len);
}
