/* Redis Sentinel on the worker's loop (see rsentinel.h): the asynchronous
 * master lookup and the subscriptions (a failover's promotion and its end)
 * of one rconn. Every step of the lookup runs from a timer, so on_addr
 * never runs inside rsentinel_lookup(); a stale hiredis callback (a context
 * this file already let go) is recognised by comparing it with the one it
 * holds. */
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
#define SUB_BACKOFF_MAX  2.0

struct rsub;

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
    int idx;                /* the sentinel being asked */
    redisAsyncContext *lac; /* its connection; NULL between steps */
    ev_timer lt;            /* next step (0 s) or the answer's deadline */
    char why[256];          /* the last sentinel's failure, for the log */
    /* a promotion under way (+failover-state-wait-promotion): the lookup
     * answers this address until promo_until; promo_port 0 = none */
    char promo_host[256];
    int promo_port;
    ev_tstamp promo_until;
    char last_switch_host[256]; /* the last +switch-master acted on */
    int last_switch_port;
    /* the subscriptions, one per sentinel */
    struct rsub {
        struct rsentinel *s;
        int idx;
        redisAsyncContext *ac;
        double backoff;
        ev_timer t;
    } subs[REDISURL_MAX_SENTINELS];
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

/* A connecting context to sentinel i with data, attached, or NULL. */
static redisAsyncContext *
open_ctx(struct rsentinel *s, int i, void *data)
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
    ac->data = data;
    if (redisLibevAttach(s->loop, ac) != REDIS_OK) {
        snprintf(s->why, sizeof(s->why), "cannot attach to the loop");
        redisAsyncFree(ac);
        return NULL;
    }
    return ac;
}

/* ---- the lookup ---------------------------------------------------------- */

/* Sentinel idx gave no master (why in s->why): say so, once per lookup
 * and sentinel. */
static void
lk_failed(struct rsentinel *s)
{
    char a[300];

    log_kv(LOG_WARN, "sentinel: no master from this sentinel; asking the next",
           "conn", s->name, "sentinel", addr_str(s, s->idx, a, sizeof(a)),
           "error", s->why, NULL);
}

static void
lk_next(struct rsentinel *s)
{
    lk_failed(s);
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
        if (s->promo_port && ev_now(s->loop) < s->promo_until) {
            /* a promotion began while this sentinel answered */
            snprintf(host, sizeof(host), "%s", s->promo_host);
            port = s->promo_port;
        }
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
    redisAsyncContext *ac = NULL;

    (void)loop;
    (void)revents;
    if (!s->lac && s->idx == 0 && s->promo_port &&
        ev_now(s->loop) < s->promo_until) {
        /* a promotion under way: the sentinels still name the old master */
        s->busy = 0;
        s->on_addr(s->ud, s->promo_host, s->promo_port);
        return;
    }
    if (s->lac) { /* no answer in time */
        redisAsyncContext *late = s->lac;
        s->lac = NULL;
        snprintf(s->why, sizeof(s->why), "no answer in %.1f s",
                 LOOKUP_TIMEOUT_S);
        redisAsyncFree(late);
        lk_failed(s);
        s->idx++;
    }
    while (s->idx < s->u.snt.n) {
        ac = open_ctx(s, s->idx, s);
        if (ac)
            break;
        lk_failed(s);
        s->idx++;
    }
    if (!ac) { /* every sentinel tried */
        char n[8];
        snprintf(n, sizeof(n), "%d", s->u.snt.n);
        log_kv(LOG_WARN, "sentinel: no sentinel named the master", "conn",
               s->name, "master", s->u.snt.master, "sentinels", n, "last_error",
               s->why, NULL);
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

/* ---- the subscriptions ----------------------------------------------------
 * One per sentinel: +switch-master comes from every sentinel, but the
 * failover's own steps only from the sentinel leading it. Channels:
 *   +failover-state-wait-promotion  "slave NAME IP PORT @ MASTER IP PORT":
 *       the leader has just sent REPLICAOF NO ONE to IP:PORT. From here on
 *       a write to the old master is lost; the lookup answers IP:PORT
 *       (the ROLE check waits for the promotion) until the failover ends.
 *   +switch-master "MASTER OLD-IP OLD-PORT NEW-IP NEW-PORT": it ended.
 *   -failover-abort-slave-timeout "master MASTER IP PORT": the promoted
 *       replica never became master: back to IP:PORT. */

/* Forget a promotion neither a switch nor an abort followed (a missed
 * message): the sentinels' answer counts again. */
#define PROMO_MAX_S 60.0

static void sub_connect(struct rsub *b);

static void
sub_retry(struct rsub *b)
{
    struct rsentinel *s = b->s;

    if (s->freeing || ev_is_active(&b->t))
        return;
    ev_timer_set(&b->t, b->backoff, 0.);
    ev_timer_start(s->loop, &b->t);
    b->backoff =
        b->backoff * 2 > SUB_BACKOFF_MAX ? SUB_BACKOFF_MAX : b->backoff * 2;
}

static void
on_event(struct rsentinel *s, const char *ch, const char *msg)
{
    char host[256], p[8];
    int port;

    if (!strcmp(ch, "+switch-master")) {
        if (!sentinel_parse_switch(msg, s->u.snt.master, host, sizeof(host),
                                   &port))
            return;
        if (s->promo_port == 0 && !strcmp(host, s->last_switch_host) &&
            port == s->last_switch_port)
            return; /* the same switch from another sentinel */
        s->promo_port = 0;
        snprintf(s->last_switch_host, sizeof(s->last_switch_host), "%s", host);
        s->last_switch_port = port;
    } else if (!strcmp(ch, "+failover-state-wait-promotion")) {
        if (!sentinel_parse_event(msg, s->u.snt.master, host, sizeof(host),
                                  &port))
            return;
        snprintf(s->promo_host, sizeof(s->promo_host), "%s", host);
        s->promo_port = port;
        s->promo_until = ev_now(s->loop) + PROMO_MAX_S;
    } else if (!strcmp(ch, "-failover-abort-slave-timeout")) {
        if (!sentinel_parse_event(msg, s->u.snt.master, host, sizeof(host),
                                  &port))
            return;
        s->promo_port = 0;
    } else {
        return;
    }
    snprintf(p, sizeof(p), "%d", port);
    log_kv(LOG_WARN, "sentinel: the master moves", "conn", s->name, "event", ch,
           "master", s->u.snt.master, "host", host, "port", p, NULL);
    s->on_switch(s->ud, host, port);
}

static void
sub_msg(redisAsyncContext *ac, void *reply, void *pd)
{
    struct rsub *b = pd;
    struct rsentinel *s = b->s;
    redisReply *r = reply;
    char a[300];

    if (!r || ac != b->ac)
        return;
    if (r->type == REDIS_REPLY_ERROR) {
        log_kv(LOG_WARN, "sentinel: subscription refused", "conn", s->name,
               "sentinel", addr_str(s, b->idx, a, sizeof(a)), "error", r->str,
               NULL);
        redisAsyncDisconnect(ac);
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_STRING)
        return;
    if (!strcmp(r->element[0]->str, "subscribe"))
        b->backoff = 0.1; /* it works */
    else if (!strcmp(r->element[0]->str, "message") &&
             r->element[2]->type == REDIS_REPLY_STRING)
        on_event(s, r->element[1]->str, r->element[2]->str);
}

static void
sub_on_connect(const redisAsyncContext *ac, int status)
{
    struct rsub *b = ac->data;

    if (status == REDIS_OK || ac != b->ac)
        return;
    b->ac = NULL;
    sub_retry(b);
}

static void
sub_on_disconnect(const redisAsyncContext *ac, int status)
{
    struct rsub *b = ac->data;

    (void)status;
    if (ac != b->ac)
        return;
    b->ac = NULL;
    sub_retry(b);
}

static void
sub_connect(struct rsub *b)
{
    redisAsyncContext *ac = open_ctx(b->s, b->idx, b);

    if (!ac) {
        sub_retry(b);
        return;
    }
    redisAsyncSetConnectCallback(ac, sub_on_connect);
    redisAsyncSetDisconnectCallback(ac, sub_on_disconnect);
    b->ac = ac;
    send_auth(b->s, ac);
    redisAsyncCommand(ac, sub_msg, b,
                      "SUBSCRIBE +switch-master +failover-state-wait-promotion "
                      "-failover-abort-slave-timeout");
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
    ev_timer_init(&s->lt, lk_step, 0., 0.);
    s->lt.data = s;
    for (int i = 0; i < u->snt.n; i++) {
        struct rsub *b = &s->subs[i];
        b->s = s;
        b->idx = i;
        b->backoff = 0.1;
        ev_timer_init(&b->t, sub_on_timer, 0., 0.);
        b->t.data = b;
        sub_connect(b);
    }
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
    if ((ac = s->lac) != NULL) {
        s->lac = NULL;
        redisAsyncFree(ac);
    }
    for (int i = 0; i < s->u.snt.n; i++) {
        ev_timer_stop(s->loop, &s->subs[i].t);
        if ((ac = s->subs[i].ac) != NULL) {
            s->subs[i].ac = NULL;
            redisAsyncFree(ac);
        }
    }
    explicit_bzero(&s->u, sizeof(s->u));
    free(s);
}
