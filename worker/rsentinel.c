/* Redis Sentinel on the worker's loop (see rsentinel.h): the asynchronous
 * master lookup and the +switch-master subscription of one rconn. Every
 * step of the lookup runs from a timer, so on_addr never runs inside
 * rsentinel_lookup(); a stale hiredis callback (a context this file already
 * let go) is recognised by comparing it with the one it holds. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/adapters/libev.h>
#include <hiredis/async.h>

#include "log.h"
#include "rsentinel.h"
#include "sentinel.h"

#define LOOKUP_TIMEOUT_S 1.0 /* per sentinel */
#define SUB_BACKOFF_MAX 2.0

struct rsentinel {
    struct ev_loop *loop;
    struct redis_url u;
    char name[32];
    rsentinel_addr_fn on_addr;
    rsentinel_switch_fn on_switch;
    void *ud;
    int freeing;
    /* the lookup */
    int busy;
    int idx;                 /* the sentinel being asked */
    redisAsyncContext *lac;  /* its connection; NULL between steps */
    ev_timer lt;             /* next step (0 s) or the answer's deadline */
    char why[256];           /* the last sentinel's failure, for the log */
    /* the subscription */
    redisAsyncContext *sac;
    int sidx;
    double sbackoff;
    ev_timer st;
};

static const char *
addr_str(const struct rsentinel *s, int i, char *buf, size_t n)
{
    snprintf(buf, n, "%s:%d", s->u.snt.addr[i].host, s->u.snt.addr[i].port);
    return buf;
}

/* Queue AUTH (when the sentinels have a password) on a new context. */
static void
send_auth(struct rsentinel *s, redisAsyncContext *ac)
{
    if (!s->u.snt.pass[0])
        return;
    if (s->u.snt.user[0])
        redisAsyncCommand(ac, NULL, NULL, "AUTH %s %s", s->u.snt.user,
                          s->u.snt.pass);
    else
        redisAsyncCommand(ac, NULL, NULL, "AUTH %s", s->u.snt.pass);
}

/* A connected, attached context to sentinel i, or NULL. */
static redisAsyncContext *
open_ctx(struct rsentinel *s, int i)
{
    redisAsyncContext *ac =
        redisAsyncConnect(s->u.snt.addr[i].host, s->u.snt.addr[i].port);

    if (!ac || ac->err) {
        snprintf(s->why, sizeof(s->why), "%s",
                 ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        return NULL;
    }
    ac->data = s;
    if (redisLibevAttach(s->loop, ac) != REDIS_OK) {
        snprintf(s->why, sizeof(s->why), "cannot attach to the loop");
        redisAsyncFree(ac);
        return NULL;
    }
    return ac;
}

/* ---- the lookup ---------------------------------------------------------- */

static void
lk_next(struct rsentinel *s)
{
    s->idx++;
    ev_timer_stop(s->loop, &s->lt);
    ev_timer_set(&s->lt, 0., 0.);
    ev_timer_start(s->loop, &s->lt);
}

static void
lk_reply(redisAsyncContext *ac, void *reply, void *pd)
{
    struct rsentinel *s = pd;
    redisReply *r = reply;
    char host[256];
    int port;

    if (ac != s->lac)
        return; /* timed out or freed: already moved on */
    ev_timer_stop(s->loop, &s->lt);
    s->lac = NULL;
    if (r && sentinel_parse_addr(r, host, sizeof(host), &port) == 0) {
        redisAsyncDisconnect(ac);
        s->busy = 0;
        s->on_addr(s->ud, host, port);
        return;
    }
    if (r && r->type == REDIS_REPLY_ERROR)
        snprintf(s->why, sizeof(s->why), "%s", r->str);
    else if (r)
        snprintf(s->why, sizeof(s->why), "does not know master '%s'",
                 s->u.snt.master);
    else
        snprintf(s->why, sizeof(s->why), "%s",
                 ac->errstr[0] ? ac->errstr : "connection lost");
    if (r)
        redisAsyncDisconnect(ac);
    lk_next(s);
}

static void
lk_on_connect(const redisAsyncContext *ac, int status)
{
    struct rsentinel *s = ac->data;

    if (status == REDIS_OK || ac != s->lac)
        return;
    /* hiredis frees ac next (lk_reply then sees a stale context) */
    snprintf(s->why, sizeof(s->why), "%s", ac->errstr);
    s->lac = NULL;
    lk_next(s);
}

static void
lk_step(EV_P_ ev_timer *t, int revents)
{
    struct rsentinel *s = t->data;
    redisAsyncContext *ac;

    (void)loop;
    (void)revents;
    if (s->lac) { /* no answer in time */
        ac = s->lac;
        s->lac = NULL;
        snprintf(s->why, sizeof(s->why), "no answer in %.1f s",
                 LOOKUP_TIMEOUT_S);
        redisAsyncFree(ac);
        s->idx++;
    }
    while (s->idx < s->u.snt.n) {
        ac = open_ctx(s, s->idx);
        if (ac)
            break;
        s->idx++;
    }
    if (s->idx >= s->u.snt.n) {
        char n[8];
        snprintf(n, sizeof(n), "%d", s->u.snt.n);
        log_kv(LOG_WARN, "sentinel: no sentinel named the master", "conn",
               s->name, "master", s->u.snt.master, "sentinels", n,
               "last_error", s->why, NULL);
        s->busy = 0;
        s->on_addr(s->ud, NULL, 0);
        return;
    }
    redisAsyncSetConnectCallback(ac, lk_on_connect);
    s->lac = ac;
    send_auth(s, ac);
    redisAsyncCommand(ac, lk_reply, s, "SENTINEL get-master-addr-by-name %s",
                      s->u.snt.master);
    ev_timer_set(&s->lt, LOOKUP_TIMEOUT_S, 0.);
    ev_timer_start(s->loop, &s->lt);
}

void
rsentinel_lookup(struct rsentinel *s)
{
    if (s->busy || s->freeing)
        return;
    s->busy = 1;
    s->idx = 0;
    s->why[0] = '\0';
    ev_timer_set(&s->lt, 0., 0.);
    ev_timer_start(s->loop, &s->lt);
}

/* ---- the +switch-master subscription -------------------------------------
 */

static void sub_connect(struct rsentinel *s);

static void
sub_retry(struct rsentinel *s)
{
    if (s->freeing || ev_is_active(&s->st))
        return;
    s->sidx = (s->sidx + 1) % s->u.snt.n;
    ev_timer_set(&s->st, s->sbackoff, 0.);
    ev_timer_start(s->loop, &s->st);
    s->sbackoff =
        s->sbackoff * 2 > SUB_BACKOFF_MAX ? SUB_BACKOFF_MAX : s->sbackoff * 2;
}

static void
sub_msg(redisAsyncContext *ac, void *reply, void *pd)
{
    struct rsentinel *s = pd;
    redisReply *r = reply;
    char host[256], a[300];
    int port;

    if (!r || ac != s->sac)
        return;
    if (r->type == REDIS_REPLY_ERROR) {
        log_kv(LOG_WARN, "sentinel: subscription refused", "conn", s->name,
               "sentinel", addr_str(s, s->sidx, a, sizeof(a)), "error", r->str,
               NULL);
        redisAsyncDisconnect(ac);
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return;
    if (!strcmp(r->element[0]->str, "subscribe")) {
        s->sbackoff = 0.1; /* it works */
        return;
    }
    if (!strcmp(r->element[0]->str, "message") &&
        r->element[2]->type == REDIS_REPLY_STRING &&
        sentinel_parse_switch(r->element[2]->str, s->u.snt.master, host,
                              sizeof(host), &port)) {
        char p[8];
        snprintf(p, sizeof(p), "%d", port);
        log_kv(LOG_WARN, "sentinel: +switch-master", "conn", s->name,
               "master", s->u.snt.master, "host", host, "port", p, NULL);
        s->on_switch(s->ud, host, port);
    }
}

static void
sub_on_connect(const redisAsyncContext *ac, int status)
{
    struct rsentinel *s = ac->data;

    if (status == REDIS_OK || ac != s->sac)
        return;
    s->sac = NULL;
    sub_retry(s);
}

static void
sub_on_disconnect(const redisAsyncContext *ac, int status)
{
    struct rsentinel *s = ac->data;

    (void)status;
    if (ac != s->sac)
        return;
    s->sac = NULL;
    sub_retry(s);
}

static void
sub_connect(struct rsentinel *s)
{
    redisAsyncContext *ac = open_ctx(s, s->sidx);

    if (!ac) {
        sub_retry(s);
        return;
    }
    redisAsyncSetConnectCallback(ac, sub_on_connect);
    redisAsyncSetDisconnectCallback(ac, sub_on_disconnect);
    s->sac = ac;
    send_auth(s, ac);
    redisAsyncCommand(ac, sub_msg, s, "SUBSCRIBE +switch-master");
}

static void
sub_on_timer(EV_P_ ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    sub_connect(t->data);
}

struct rsentinel *
rsentinel_new(struct ev_loop *loop, const struct redis_url *u, const char *name,
              rsentinel_addr_fn on_addr, rsentinel_switch_fn on_switch,
              void *ud)
{
    struct rsentinel *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->loop = loop;
    s->u = *u;
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->on_addr = on_addr;
    s->on_switch = on_switch;
    s->ud = ud;
    s->sbackoff = 0.1;
    ev_timer_init(&s->lt, lk_step, 0., 0.);
    s->lt.data = s;
    ev_timer_init(&s->st, sub_on_timer, 0., 0.);
    s->st.data = s;
    sub_connect(s);
    return s;
}

void
rsentinel_free(struct rsentinel *s)
{
    redisAsyncContext *ac;

    if (!s)
        return;
    s->freeing = 1;
    ev_timer_stop(s->loop, &s->lt);
    ev_timer_stop(s->loop, &s->st);
    if ((ac = s->lac) != NULL) {
        s->lac = NULL;
        redisAsyncFree(ac);
    }
    if ((ac = s->sac) != NULL) {
        s->sac = NULL;
        redisAsyncFree(ac);
    }
    explicit_bzero(&s->u, sizeof(s->u));
    free(s);
}
