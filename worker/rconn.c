/* Asynchronous Redis connection with reconnect and script fallback (see
 * rconn.h). The only file that includes hiredis' libev adapter. */
#include "fmacros.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/adapters/libev.h>
#include <hiredis/async.h>

#include "argvcopy.h"
#include "layout.h"
#include "log.h"
#include "rclient.h"
#include "rcluster.h"
#include "rconn.h"
#include "rsentinel.h"
#include "sentinel.h"

struct rconn {
    struct ev_loop *loop;
    struct redis_url url;
    char name[32];
    redisAsyncContext *ac; /* NULL while disconnected */
    int up;
    int freeing;
    double backoff;
    ev_timer retry;
    rconn_state_fn on_state;
    void *ud;
    int pending;
    double cmd_timeout;   /* seconds; 0 = none */
    ev_tstamp down_since; /* 0 while connected */
    ev_timer watchdog;
    struct call *head, *tail; /* commands in send order (FIFO replies) */
    int load_scripts;
    ev_tstamp last_err_log;
    long err_suppressed;
    int nsubs;
    struct sub {
        char *channel;
        rconn_msg_fn fn;
        void *pd;
        struct rconn *c;
    } subs[RCONN_MAX_SUBS];
    struct rsentinel *snt; /* sentinel:// only (rsentinel.h): lookup before
                              every connect, ROLE check, READONLY = lost */
    struct rcluster *cl;   /* redis-cluster://: all of the above unused */
};

/* One command in flight; the argv copy lets NOSCRIPT resend as EVAL. */
struct call {
    struct rconn *c;
    struct call *prev, *next;
    ev_tstamp sent;
    rconn_reply_fn fn;
    void *pd;
    enum script_id sid;
    int is_script;
    struct argvcopy a;
};

static void connect_now(struct rconn *c);
static void rconn_drop(struct rconn *c, const char *why, int hard);

static void
call_free(struct call *k)
{
    if (!k)
        return;
    argvcopy_free(&k->a);
    free(k);
}

/* Copy argv into one allocation owned by the call. */
static struct call *
call_new(struct rconn *c, int argc, const char **av, const size_t *al)
{
    struct call *k;

    if (argc <= 0)
        return NULL;
    k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    k->c = c;
    if (argvcopy_init(&k->a, argc, av, al) < 0) {
        call_free(k);
        return NULL;
    }
    return k;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *pd);

static void
call_link(struct rconn *c, struct call *k)
{
    k->sent = ev_now(c->loop);
    k->next = NULL;
    k->prev = c->tail;
    if (c->tail)
        c->tail->next = k;
    else
        c->head = k;
    c->tail = k;
}

static void
call_unlink(struct rconn *c, struct call *k)
{
    if (k->prev)
        k->prev->next = k->next;
    else if (c->head == k)
        c->head = k->next;
    if (k->next)
        k->next->prev = k->prev;
    else if (c->tail == k)
        c->tail = k->prev;
    k->prev = k->next = NULL;
}

static int
send_call(struct rconn *c, struct call *k)
{
    if (!c->ac || !c->up)
        return -1;
    if (redisAsyncCommandArgv(c->ac, on_reply, k, k->a.argc, k->a.av,
                              k->a.al) != REDIS_OK)
        return -1;
    c->pending++;
    call_link(c, k);
    return 0;
}

/* hiredis 0.14's libev adapter has no command timeout: when the oldest
 * command has waited longer than cmd_timeout, drop the connection. Every
 * pending callback then runs with a NULL reply and the reconnect starts. */
static void
on_watchdog(EV_P_ ev_timer *w, int revents)
{
    struct rconn *c = w->data;

    (void)loop;
    (void)revents;
    if (c->ac && c->head && c->cmd_timeout > 0 &&
        ev_now(c->loop) - c->head->sent > c->cmd_timeout) {
        char s[32];
        snprintf(s, sizeof(s), "%.1f", ev_now(c->loop) - c->head->sent);
        log_kv(LOG_ERROR, "redis command timed out; reconnecting", "conn",
               c->name, "waited_s", s, NULL);
        redisAsyncFree(c->ac); /* runs on_disconnect, then the callbacks */
    }
}

static void
on_reply(redisAsyncContext *ac, void *reply, void *pd)
{
    struct call *k = pd;
    struct rconn *c = k->c;
    redisReply *r = reply;

    (void)ac;
    c->pending--;
    call_unlink(c, k);
    if (r && r->type == REDIS_REPLY_ERROR && c->snt &&
        strncmp(r->str, "READONLY", 8) == 0) {
        /* sentinel: the master became a replica; as a lost connection */
        rconn_drop(c, "READONLY: the master is a replica now", 0);
        r = NULL;
    }
    if (r && r->type == REDIS_REPLY_ERROR && k->is_script &&
        strncmp(r->str, "NOSCRIPT", 8) == 0 && k->a.av[0][4] == 'S') {
        /* Script cache flushed (Redis restarted): resend with the text. */
        const struct script *s = script_get(k->sid);
        k->a.av[0] = "EVAL";
        k->a.al[0] = 4;
        k->a.av[1] = s->text;
        k->a.al[1] = strlen(s->text);
        if (send_call(c, k) == 0)
            return;
        r = NULL;
    }
    if (r && r->type == REDIS_REPLY_ERROR) {
        /* at most one line a second: a read-only replica or an OOM Redis
         * answers every command with an error */
        ev_tstamp now = ev_now(c->loop);
        if (now - c->last_err_log >= 1.0) {
            char n[24];
            snprintf(n, sizeof(n), "%ld", c->err_suppressed);
            log_kv(LOG_ERROR, "redis error reply", "conn", c->name, "error",
                   r->str, "suppressed_since_last", n, NULL);
            c->last_err_log = now;
            c->err_suppressed = 0;
        } else {
            c->err_suppressed++;
        }
    } else if (r) {
        c->backoff = 0.1; /* a real answer: the connection works */
    }
    k->fn(c, r, k->pd);
    call_free(k);
}

static void
mark_up(struct rconn *c)
{
    char node[300];

    c->up = 1;
    c->down_since = 0;
    redisurl_describe(&c->url, node, sizeof(node)); /* no credentials */
    log_kv(LOG_INFO, "redis connected", "conn", c->name, "node", node, NULL);
    if (c->on_state)
        c->on_state(c, 1, c->ud);
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
    struct rconn *c = ac->data;

    if (status != REDIS_OK) {
        /* hiredis frees ac after this callback. */
        log_kv(LOG_WARN, "redis connect failed", "conn", c->name, "error",
               ac->errstr, NULL);
        c->ac = NULL;
        if (c->down_since == 0)
            c->down_since = ev_now(c->loop);
        if (!c->freeing) {
            ev_timer_set(&c->retry, c->backoff, 0.);
            ev_timer_start(c->loop, &c->retry);
            c->backoff = c->backoff * 2 > 1.0 ? 1.0 : c->backoff * 2;
        }
        return;
    }
    if (c->snt)
        return; /* up once ROLE says master (on_role_reply) */
    mark_up(c);
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
    struct rconn *c = ac->data;
    int was_up = c->up;

    c->ac = NULL;
    c->up = 0;
    if (c->freeing)
        return;
    if (c->down_since == 0)
        c->down_since = ev_now(c->loop);
    if (status != REDIS_OK)
        log_kv(LOG_WARN, "redis disconnected", "conn", c->name, "error",
               ac->errstr, NULL);
    if (was_up && c->on_state)
        c->on_state(c, 0, c->ud);
    ev_timer_set(&c->retry, c->backoff, 0.);
    ev_timer_start(c->loop, &c->retry);
    c->backoff = c->backoff * 2 > 1.0 ? 1.0 : c->backoff * 2;
}

static void
on_retry(EV_P_ ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    connect_now(w->data);
}

static void
ignore_reply(redisAsyncContext *ac, void *reply, void *pd)
{
    struct rconn *c = pd;
    redisReply *r = reply;

    (void)ac;
    if (r && r->type == REDIS_REPLY_ERROR)
        log_kv(LOG_ERROR, "redis setup command failed", "conn", c->name,
               "error", r->str, NULL);
}

/* The verdict on layout version held (a reply to GET KEY_LAYOUT) of c's
 * Redis: one this genq does not know ends the process with
 * RCONN_EXIT_LAYOUT (a pool then stops), saying so; else layout_check()'s
 * 0 (ours) or 1 (older: to upgrade). */
static int
layout_verdict(struct rconn *c, const char *held)
{
    char where[300], err[512];
    int v;

    redisurl_describe(&c->url, where, sizeof(where));
    v = layout_check(held, where, err, sizeof(err));
    if (v < 0) {
        log_msg(LOG_ERROR, "%s", err);
        exit(RCONN_EXIT_LAYOUT);
    }
    return v;
}

/* The reply of the layout GET (layout.h) sent on every connect of the
 * main connection: an older layout is upgraded, then checked again. */
static void
on_layout_reply(redisAsyncContext *ac, void *reply, void *pd)
{
    struct rconn *c = pd;
    redisReply *r = reply;

    ignore_reply(ac, reply, pd);
    if (r && r->type == REDIS_REPLY_STRING && layout_verdict(c, r->str) == 1 &&
        c->ac) {
        const char *up[LAYOUT_UPGRADE_ARGC];
        struct layout_upgrade us;
        int n = layout_upgrade_argv(up, &us, (long long)time(NULL));

        redisAsyncCommandArgv(c->ac, on_layout_reply, c, n, up, NULL);
    }
}

/* The reply of rconn_check_layout()'s GET: as on connect, but a running
 * worker upgrades nothing (a newer genq does that when it connects). */
static void
on_layout_recheck(struct rconn *c, redisReply *r, void *pd)
{
    (void)pd;
    if (r && r->type == REDIS_REPLY_STRING)
        layout_verdict(c, r->str);
}

void
rconn_check_layout(struct rconn *c)
{
    const char *av[LAYOUT_GET_ARGC], *set[LAYOUT_SET_ARGC];

    layout_commands(set, av);
    rconn_command(c, LAYOUT_GET_ARGC, av, NULL, on_layout_recheck, NULL);
}

/* Pub/sub replies: ["subscribe", ch, n] then ["message", ch, msg] per
 * message; NULL when the connection drops (the sub is owned by c). */
static void
on_sub_reply(redisAsyncContext *ac, void *reply, void *pd)
{
    struct sub *s = pd;
    redisReply *r = reply;

    (void)ac;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3)
        return;
    if (r->element[0]->type == REDIS_REPLY_STRING &&
        strcmp(r->element[0]->str, "message") == 0 &&
        r->element[2]->type == REDIS_REPLY_STRING)
        s->fn(s->c, r->element[1]->str, r->element[2]->str, s->pd);
}

static void
send_subscribe(struct rconn *c, struct sub *s)
{
    if (c->ac)
        redisAsyncCommand(c->ac, on_sub_reply, s, "SUBSCRIBE %s", s->channel);
}

static void connect_addr(struct rconn *c);
static void send_setup(struct rconn *c, redisAsyncContext *ac);

/* ---- sentinel:// (rsentinel.h): the hooks -------------------------------- */

/* Close the connection; the reconnect looks the master up again. Soft
 * (inside a reply callback of c): the pending replies come first. Hard
 * (a sentinel said the master moves): at once, the pending commands
 * answered NULL -- not acknowledged, so outcomes are kept and written to
 * the new master, as a write the old one takes now may be lost. */
static void
rconn_drop(struct rconn *c, const char *why, int hard)
{
    redisAsyncContext *ac = c->ac;

    if (!ac || (!hard && (ac->c.flags & REDIS_DISCONNECTING)))
        return;
    log_kv(LOG_WARN, "redis: reconnecting to the master", "conn", c->name,
           "reason", why, NULL);
    if (!hard) {
        redisAsyncDisconnect(ac);
        return;
    }
    c->backoff = 0.1;
    redisAsyncFree(ac); /* on_disconnect when it was connected */
    if (c->ac == ac) {  /* still connecting: no callback ran */
        c->ac = NULL;
        c->up = 0;
        if (c->down_since == 0)
            c->down_since = ev_now(c->loop);
        ev_timer_stop(c->loop, &c->retry);
        ev_timer_set(&c->retry, 0., 0.);
        ev_timer_start(c->loop, &c->retry);
    }
}

static void
on_role_reply(redisAsyncContext *ac, void *reply, void *pd)
{
    struct rconn *c = pd;

    if (!reply || ac != c->ac)
        return;
    if (!sentinel_role_is_master(reply)) {
        /* a failover under way: the sentinels still name the old master */
        rconn_drop(c, "ROLE: not the master", 0);
        return;
    }
    send_setup(c, ac);
    mark_up(c);
}

static void
on_snt_addr(void *ud, const char *host, int port)
{
    struct rconn *c = ud;

    if (!host) { /* no sentinel answered: try again with the backoff */
        if (c->down_since == 0)
            c->down_since = ev_now(c->loop);
        ev_timer_set(&c->retry, c->backoff, 0.);
        ev_timer_start(c->loop, &c->retry);
        c->backoff = c->backoff * 2 > 1.0 ? 1.0 : c->backoff * 2;
        return;
    }
    snprintf(c->url.host, sizeof(c->url.host), "%s", host);
    c->url.port = port;
    connect_addr(c);
}

static void
on_snt_switch(void *ud, const char *host, int port)
{
    struct rconn *c = ud;

    if (c->ac) {
        if (strcmp(c->url.host, host) != 0 || c->url.port != port)
            rconn_drop(c, "sentinel: the master moves", 1);
    } else if (ev_is_active(&c->retry)) {
        /* waiting out the backoff after the old master went away: the
         * new one is known now */
        ev_timer_stop(c->loop, &c->retry);
        c->backoff = 0.1;
        connect_now(c);
    }
}

static void
connect_now(struct rconn *c)
{
    if (c->snt)
        rsentinel_lookup(c->snt); /* then connect_addr() (on_snt_addr) */
    else
        connect_addr(c);
}

static void
connect_addr(struct rconn *c)
{
    redisAsyncContext *ac;

    if (c->url.path[0])
        ac = redisAsyncConnectUnix(c->url.path);
    else
        ac = redisAsyncConnect(c->url.host, c->url.port);
    if (!ac || ac->err) {
        log_kv(LOG_WARN, "redis connect failed", "conn", c->name, "error",
               ac ? ac->errstr : "out of memory", NULL);
        if (ac)
            redisAsyncFree(ac);
        ev_timer_set(&c->retry, c->backoff, 0.);
        ev_timer_start(c->loop, &c->retry);
        c->backoff = c->backoff * 2 > 1.0 ? 1.0 : c->backoff * 2;
        return;
    }
    ac->data = c;
    if (redisLibevAttach(c->loop, ac) != REDIS_OK) {
        redisAsyncFree(ac);
        ev_timer_set(&c->retry, c->backoff, 0.);
        ev_timer_start(c->loop, &c->retry);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    c->ac = ac;
    /* Commands queue up before the connection completes; AUTH and SELECT
     * go first so everything after them runs authenticated. */
    if (c->url.pass[0]) {
        if (c->url.user[0])
            redisAsyncCommand(ac, ignore_reply, c, "AUTH %s %s", c->url.user,
                              c->url.pass);
        else
            redisAsyncCommand(ac, ignore_reply, c, "AUTH %s", c->url.pass);
    }
    if (c->url.db)
        redisAsyncCommand(ac, ignore_reply, c, "SELECT %d", c->url.db);
    if (c->snt) /* the rest once ROLE says master (on_role_reply) */
        redisAsyncCommand(ac, on_role_reply, c, "ROLE");
    else
        send_setup(c, ac);
}

/* The reply of SCRIPT EXISTS of every script (send_setup): load those
 * Redis lacks (all of them when the reply is not the expected array).
 * SCRIPT LOAD of a script Redis has would only hash its text again: ~17M
 * instructions of Redis per connect for the whole table. A script called
 * before its load is done is resent as EVAL on NOSCRIPT (on_call_reply). */
static void
on_script_exists(redisAsyncContext *ac, void *reply, void *pd)
{
    struct rconn *c = pd;
    redisReply *r = reply;
    int known =
        r && r->type == REDIS_REPLY_ARRAY && r->elements == SCRIPT_COUNT;

    ignore_reply(ac, reply, pd);
    if (!r) /* disconnected: the next connect asks again */
        return;
    for (int i = 0; i < SCRIPT_COUNT; i++)
        if (!known || r->element[i]->type != REDIS_REPLY_INTEGER ||
            r->element[i]->integer != 1)
            redisAsyncCommand(ac, ignore_reply, c, "SCRIPT LOAD %s",
                              script_get((enum script_id)i)->text);
}

/* After AUTH/SELECT: the layout check, the scripts, the subscriptions. */
static void
send_setup(struct rconn *c, redisAsyncContext *ac)
{
    if (c->load_scripts && c->url.cluster_node != 1) {
        const char *set[LAYOUT_SET_ARGC], *get[LAYOUT_GET_ARGC];

        layout_commands(set, get);
        redisAsyncCommandArgv(ac, ignore_reply, c, LAYOUT_SET_ARGC, set, NULL);
        redisAsyncCommandArgv(ac, on_layout_reply, c, LAYOUT_GET_ARGC, get,
                              NULL);
    }
    if (c->load_scripts) { /* then the missing ones: on_script_exists */
        const char *av[SCRIPT_EXISTS_ARGC];
        redisAsyncCommandArgv(ac, on_script_exists, c, scripts_exists_argv(av),
                              av, NULL);
    }
    for (int i = 0; i < c->nsubs; i++)
        send_subscribe(c, &c->subs[i]);
}

struct rconn *
rconn_new(struct ev_loop *loop, const struct redis_url *u, const char *name,
          int load_scripts, rconn_state_fn on_state, void *ud)
{
    struct rconn *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    if (scripts_init() < 0) {
        free(c);
        return NULL;
    }
    if (u->cluster[0] && !u->cluster_node) { /* Redis Cluster: rcluster.c */
        c->cl = rcluster_new(loop, c, u, name, load_scripts, on_state, ud);
        if (!c->cl) {
            free(c);
            return NULL;
        }
        return c;
    }
    c->loop = loop;
    c->url = *u;
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->on_state = on_state;
    c->ud = ud;
    c->backoff = 0.1;
    c->load_scripts = load_scripts;
    c->cmd_timeout = 10.0;
    c->down_since = ev_now(loop); /* not connected yet */
    ev_timer_init(&c->retry, on_retry, 0., 0.);
    c->retry.data = c;
    ev_timer_init(&c->watchdog, on_watchdog, 1.0, 1.0);
    c->watchdog.data = c;
    ev_timer_start(loop, &c->watchdog);
    if (u->snt.n) {
        c->snt = rsentinel_new(loop, u, name, on_snt_addr, on_snt_switch, c);
        if (!c->snt) {
            ev_timer_stop(loop, &c->watchdog);
            free(c);
            return NULL;
        }
    }
    connect_now(c);
    return c;
}

void
rconn_free(struct rconn *c)
{
    if (!c)
        return;
    if (c->cl) {
        rcluster_free(c->cl);
        free(c);
        return;
    }
    c->freeing = 1;
    ev_timer_stop(c->loop, &c->retry);
    ev_timer_stop(c->loop, &c->watchdog);
    if (c->ac)
        redisAsyncFree(c->ac); /* runs pending callbacks with NULL */
    rsentinel_free(c->snt);
    explicit_bzero(&c->url, sizeof(c->url));
    for (int i = 0; i < c->nsubs; i++)
        free(c->subs[i].channel);
    free(c);
}

int
rconn_subscribe(struct rconn *c, const char *channel, rconn_msg_fn fn, void *pd)
{
    struct sub *s;

    if (c->cl)
        return rcluster_subscribe(c->cl, channel, fn, pd);
    if (c->nsubs == RCONN_MAX_SUBS)
        return -1;
    s = &c->subs[c->nsubs];
    s->channel = strdup(channel);
    if (!s->channel)
        return -1;
    s->fn = fn;
    s->pd = pd;
    s->c = c;
    c->nsubs++;
    send_subscribe(c, s);
    return 0;
}

int
rconn_is_up(const struct rconn *c)
{
    if (c->cl)
        return rcluster_is_up(c->cl);
    return c->up;
}

int
rconn_pending(const struct rconn *c)
{
    if (c->cl)
        return rcluster_pending(c->cl);
    return c->pending;
}

int
rconn_send_argv(struct rconn *c, int sid, int n, const char **av,
                const size_t *argvlen, rconn_reply_fn fn, void *pd)
{
    struct call *call;

    if (c->cl)
        return rcluster_send(c->cl, sid, n, av, argvlen, fn, pd);
    call = call_new(c, n, av, argvlen);
    if (!call)
        return -1;
    call->fn = fn;
    call->pd = pd;
    call->sid = sid >= 0 ? (enum script_id)sid : (enum script_id)0;
    call->is_script = sid >= 0;
    if (send_call(c, call) < 0) {
        call_free(call);
        return -1;
    }
    return 0;
}

int
rconn_script(struct rconn *c, enum script_id id, const struct qkeys *k,
             int argc, const char **argv, const size_t *argvlen,
             rconn_reply_fn fn, void *pd)
{
    const struct skeys sk = rclient_qkeys(k, c->cl != NULL);

    return rconn_script_keys(c, id, &sk, argc, argv, argvlen, fn, pd);
}

int
rconn_script_keys(struct rconn *c, enum script_id id, const struct skeys *k,
                  int argc, const char **argv, const size_t *argvlen,
                  rconn_reply_fn fn, void *pd)
{
    const char **av;
    size_t *al;
    int n = rclient_build_argv_keys("EVALSHA", script_get(id)->sha, k, argc,
                                    argv, argvlen, &av, &al),
        rc;

    if (n < 0)
        return -1;
    rc = rconn_send_argv(c, (int)id, n, av, al, fn, pd);
    free(av);
    free(al);
    return rc;
}

int
rconn_command(struct rconn *c, int argc, const char **argv,
              const size_t *argvlen, rconn_reply_fn fn, void *pd)
{
    return rconn_send_argv(c, -1, argc, argv, argvlen, fn, pd);
}

void
rconn_set_timeout(struct rconn *c, double seconds)
{
    if (c->cl)
        rcluster_set_timeout(c->cl, seconds);
    c->cmd_timeout = seconds;
}

double
rconn_down_for(const struct rconn *c)
{
    if (c->cl)
        return rcluster_down_for(c->cl);
    return c->down_since > 0 ? ev_now(c->loop) - c->down_since : 0.0;
}

void
rconn_node_of(const struct rconn *c, const char *key, char *out, size_t n)
{
    if (c->cl)
        rcluster_node_of(c->cl, key, out, n);
    else if (c->snt && c->ac && c->url.host[0]) /* the master now */
        snprintf(out, n, "%s:%d", c->url.host, c->url.port);
    else if (n)
        out[0] = '\0';
}
