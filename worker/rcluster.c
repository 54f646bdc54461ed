/* Redis Cluster routing under the worker's rconn (see rcluster.h): a slot
 * map (common/cluster.c), one rconn per node, and the calls in flight kept
 * with their argv so that a MOVED, ASK or TRYAGAIN reply resends them. */
#include "fmacros.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "argvcopy.h"
#include "cluster.h"
#include "keys.h"
#include "log.h"
#include "rcluster.h"
#include "rsub.h"

#define RCL_MAX_HOPS 64 /* redirections and retries of one call */
#define RCL_RETRY_S  0.02

struct rcall {
    struct rcluster *cl;
    struct rcall *next; /* in cl->delayed */
    rconn_reply_fn fn;
    void *pd;
    int sid;  /* script id, -1 for a command */
    int slot; /* -1: keyless (sent where the previous command went) */
    int hops;
    int ask_node; /* >= 0: next send to this node after ASKING */
    int asked;    /* the node the last send went to after ASKING, or -1 */
    ev_tstamp t0; /* first sent: the time budget of TRYAGAIN */
    struct argvcopy a;
};

struct csub {
    struct rcluster *cl;
    char *channel;
    rconn_msg_fn fn;
    void *pd;
    int node; /* where it is subscribed; -1 not yet */
};

/* Wake-ups: on Redis >= 7 each channel is SSUBSCRIBEd (rsub.c) on the node
 * serving its slot, and the scripts SPUBLISH there (oplib.lua wake()); a
 * node that does not know SSUBSCRIBE (Redis < 7) turns every channel to
 * SUBSCRIBE on the node's rconn, and the scripts PUBLISH. */

struct rcluster {
    struct ev_loop *loop;
    struct rconn *outer;
    struct redis_url url;
    char name[32];
    int load_scripts;
    rconn_state_fn on_state;
    void *ud;
    double cmd_timeout;
    int have_map, up, freeing, refreshing, want_refresh, last_node;
    int refresh_node; /* asked for CLUSTER SLOTS */
    ev_tstamp down_since, last_fetch;
    struct cluster_map map;
    unsigned char served[CLUSTER_MAX_NODES];
    struct rconn *node[CLUSTER_MAX_NODES];
    struct rcall *delayed;
    int ndelayed;
    ev_timer tick;
    int nsubs;
    struct csub subs[RCONN_MAX_SUBS];
    int no_ssub; /* a node refused SSUBSCRIBE: SUBSCRIBE everywhere */
    struct rsub *ssub[CLUSTER_MAX_NODES];
};

static void
rcall_free(struct rcall *k)
{
    if (!k)
        return;
    argvcopy_free(&k->a);
    free(k);
}

static void kick(struct rcluster *cl);

/* Up when the map is known and every serving node is connected; tell
 * on_state about a change. */
static void
update_state(struct rcluster *cl)
{
    int up = rcluster_is_up(cl);

    if (up == cl->up || cl->freeing)
        return;
    cl->up = up;
    if (!up)
        cl->down_since = ev_now(cl->loop);
    log_kv(up ? LOG_INFO : LOG_WARN,
           up ? "redis cluster up" : "redis cluster node down", "conn",
           cl->name, NULL);
    if (cl->on_state)
        cl->on_state(cl->outer, up, cl->ud);
}

static void
on_node_state(struct rconn *c, int up, void *ud)
{
    struct rcluster *cl = ud;

    (void)c;
    if (!up)
        cl->want_refresh = 1; /* a failover or a removed node */
    update_state(cl);
    kick(cl);
}

static void
recompute_served(struct rcluster *cl)
{
    memset(cl->served, 0, sizeof(cl->served));
    for (int s = 0; s < CLUSTER_SLOTS; s++)
        if (cl->map.slot[s] >= 0)
            cl->served[cl->map.slot[s]] = 1;
}

/* The connection to node i, made when missing (NULL on out of memory). */
static struct rconn *
node_conn(struct rcluster *cl, int i)
{
    if (i < 0)
        return NULL;
    if (!cl->node[i]) {
        struct redis_url nu;
        char name[32];
        int check =
            cl->load_scripts && cluster_map_key(&cl->map, KEY_LAYOUT) == i;

        cluster_node_url(&cl->url, cl->map.node[i].host, cl->map.node[i].port,
                         check, &nu);
        snprintf(name, sizeof(name), "%.20s@%d", cl->name, i);
        cl->node[i] =
            rconn_new(cl->loop, &nu, name, cl->load_scripts, on_node_state, cl);
        memset(nu.pass, 0, sizeof(nu.pass));
        if (cl->node[i])
            rconn_set_timeout(cl->node[i], cl->cmd_timeout);
    }
    return cl->node[i];
}

static void
on_node_msg(struct rconn *c, const char *channel, const char *msg, void *pd)
{
    struct csub *s = pd;

    (void)c;
    s->fn(s->cl->outer, channel, msg, s->pd);
}

static void place_subs(struct rcluster *cl);

/* A redirection says node n serves slot now: the map takes it, and a move
 * is logged (once per slot and move: not rate-limited as error replies
 * are; tests/scripts/cluster.sh looks for it). */
static void
slot_moved(struct rcluster *cl, int slot, int n)
{
    if (cl->map.slot[slot] != n) {
        char s[16], node[300];
        snprintf(s, sizeof(s), "%d", slot);
        snprintf(node, sizeof(node), "%s:%d", cl->map.node[n].host,
                 cl->map.node[n].port);
        log_kv(LOG_INFO, "redis cluster: slot moved", "conn", cl->name, "slot",
               s, "node", node, NULL);
    }
    cl->map.slot[slot] = (short)n;
    cl->served[n] = 1;
}

static struct csub *
sub_of(struct rcluster *cl, const char *channel)
{
    for (int i = 0; i < cl->nsubs; i++)
        if (!strcmp(cl->subs[i].channel, channel))
            return &cl->subs[i];
    return NULL;
}

static void
on_smessage(const char *channel, const char *msg, void *ud)
{
    struct rcluster *cl = ud;
    struct csub *s = sub_of(cl, channel);

    if (s)
        s->fn(cl->outer, channel, msg, s->pd);
}

/* A node dropped channel (its slot moved): take the node a MOVED named,
 * else refresh the map; then subscribe it where it belongs now. */
static void
on_slost(const char *channel, int slot, const char *host, int port, void *ud)
{
    struct rcluster *cl = ud;
    struct csub *s = sub_of(cl, channel);
    int n = slot >= 0 ? cluster_map_node(&cl->map, host, port) : -1;

    if (!s)
        return;
    s->node = -1;
    if (n >= 0)
        slot_moved(cl, slot, n);
    cl->want_refresh = 1;
    kick(cl);
    if (n >= 0)
        place_subs(cl);
}

static void
on_sunsupported(void *ud)
{
    struct rcluster *cl = ud;

    if (cl->no_ssub)
        return;
    log_kv(LOG_INFO,
           "redis cluster: no sharded pub/sub (Redis < 7), wake-ups by "
           "SUBSCRIBE",
           "conn", cl->name, NULL);
    cl->no_ssub = 1;
    for (int i = 0; i < cl->nsubs; i++) {
        struct csub *s = &cl->subs[i];
        if (s->node >= 0 && cl->ssub[s->node])
            rsub_del(cl->ssub[s->node], s->channel);
        s->node = -1;
    }
    place_subs(cl);
}

/* The sharded subscriber of node i, made when missing. */
static struct rsub *
ssub_conn(struct rcluster *cl, int i)
{
    if (i >= 0 && !cl->ssub[i]) {
        struct rsub_cbs cb = {on_smessage, on_slost, on_sunsupported, cl};
        struct redis_url nu;
        char name[48];

        cluster_node_url(&cl->url, cl->map.node[i].host, cl->map.node[i].port,
                         0, &nu);
        snprintf(name, sizeof(name), "%.18s@%d/sub", cl->name, i);
        cl->ssub[i] = rsub_new(cl->loop, &nu, name, &cb);
        memset(nu.pass, 0, sizeof(nu.pass));
    }
    return i >= 0 ? cl->ssub[i] : NULL;
}

/* SSUBSCRIBE s on node n, leaving the node it was on. */
static void
place_ssub(struct rcluster *cl, struct csub *s, int n)
{
    struct rsub *r;

    if (s->node == n)
        return;
    if (s->node >= 0 && cl->ssub[s->node])
        rsub_del(cl->ssub[s->node], s->channel);
    s->node = -1;
    r = ssub_conn(cl, n);
    if (r && rsub_add(r, s->channel) == 0)
        s->node = n;
}

/* Subscribe what is not yet, on the node serving its channel; called with
 * every new map. */
static void
place_subs(struct rcluster *cl)
{
    for (int i = 0; i < cl->nsubs; i++) {
        struct csub *s = &cl->subs[i];
        int n = cluster_map_key(&cl->map, s->channel);
        struct rconn *c;

        if (!cl->no_ssub) {
            place_ssub(cl, s, n);
            continue;
        }

        /* its node is down and another serves the channel now (failover):
         * subscribe there too (duplicate wake-ups are harmless) */
        if (s->node >= 0 && s->node != n && !rconn_is_up(cl->node[s->node]))
            s->node = -1;
        c = s->node < 0 ? node_conn(cl, n) : NULL;

        if (c && rconn_subscribe(c, s->channel, on_node_msg, s) == 0)
            s->node = n;
    }
}

/* Connections to every serving node, subscriptions placed. */
static void
map_ready(struct rcluster *cl)
{
    cl->have_map = 1;
    recompute_served(cl);
    for (int i = 0; i < cl->map.nnodes; i++)
        if (cl->served[i])
            node_conn(cl, i);
    place_subs(cl);
    update_state(cl);
}

static void
on_slots(struct rconn *c, redisReply *r, void *pd)
{
    struct rcluster *cl = pd;
    char err[256];

    (void)c;
    cl->refreshing = 0;
    if (cl->freeing || !r)
        return;
    if (cluster_map_load(&cl->map, r, cl->map.node[cl->refresh_node].host, err,
                         sizeof(err)) < 0) {
        log_kv(LOG_WARN, "redis cluster map refresh failed", "conn", cl->name,
               "error", err, NULL);
        cl->want_refresh = 1;
        return;
    }
    map_ready(cl);
}

static void
on_asking(struct rconn *c, redisReply *r, void *pd)
{
    (void)c;
    (void)r;
    (void)pd;
}

/* Send k to the node it belongs to now; 0, or -1 when that node is not
 * connected (the caller delays or fails it). */
static void on_node_reply(struct rconn *c, redisReply *r, void *pd);
static int
rcall_send(struct rcluster *cl, struct rcall *k)
{
    int n = k->ask_node >= 0 ? k->ask_node
            : k->slot >= 0   ? cl->map.slot[k->slot]
                             : cl->last_node;
    struct rconn *c;

    if (n < 0 || n >= cl->map.nnodes)
        for (n = 0; n < cl->map.nnodes && !cl->served[n]; n++)
            ;
    c = node_conn(cl, n);
    if (!c || !rconn_is_up(c))
        return -1;
    if (k->ask_node >= 0) {
        const char *asking[1] = {"ASKING"};
        if (k->sid >= 0) { /* the text: ASKING covers one command only */
            k->a.av[0] = "EVAL";
            k->a.al[0] = 4;
            k->a.av[1] = script_get((enum script_id)k->sid)->text;
            k->a.al[1] = strlen(k->a.av[1]);
            k->sid = -1;
        }
        if (rconn_send_argv(c, -1, 1, asking, NULL, on_asking, NULL) < 0)
            return -1;
        k->ask_node = -1;
        k->asked = n;
    } else {
        k->asked = -1;
    }
    if (rconn_send_argv(c, k->sid, k->a.argc, k->a.av, k->a.al, on_node_reply,
                        k) < 0)
        return -1;
    cl->last_node = n;
    return 0;
}

static void
delay(struct rcluster *cl, struct rcall *k)
{
    k->next = cl->delayed;
    cl->delayed = k;
    cl->ndelayed++;
    kick(cl);
}

static void
on_node_reply(struct rconn *c, redisReply *r, void *pd)
{
    struct rcall *k = pd;
    struct rcluster *cl = k->cl;
    char host[256];
    int slot, port, n;
    enum cluster_redir how = CLUSTER_REDIR_NONE;

    (void)c;
    if (r && r->type == REDIS_REPLY_ERROR && !cl->freeing &&
        k->hops < RCL_MAX_HOPS)
        how = cluster_redirect_parse(r->str, &slot, host, sizeof(host), &port);
    if (how == CLUSTER_REDIR_RETRY && !strncmp(r->str, "TRYAGAIN", 8)) {
        /* the slot is migrating: a script call, which declares the slot
         * guard (keys.h QKEY_GUARD), hears this until the move ends. Again
         * in 20 ms, to the node whose ASK led here (with ASKING again),
         * for up to the command timeout; no hop counted */
        if (cl->cmd_timeout <= 0 ||
            ev_now(cl->loop) - k->t0 < cl->cmd_timeout) {
            k->ask_node = k->asked;
            delay(cl, k);
            return;
        }
        how = CLUSTER_REDIR_NONE; /* the caller gets the TRYAGAIN */
    }
    if (how == CLUSTER_REDIR_NONE) {
        k->fn(cl->outer, r, k->pd);
        rcall_free(k);
        return;
    }
    k->hops++;
    if (how != CLUSTER_REDIR_RETRY) {
        n = cluster_map_node(&cl->map, host, port);
        if (n >= 0 && how == CLUSTER_REDIR_MOVED) {
            slot_moved(cl, slot, n);
            k->slot = slot;
            cl->want_refresh = 1; /* more slots may have moved */
        } else if (n >= 0) {
            k->ask_node = n;
        }
        if (rcall_send(cl, k) == 0)
            return;
    }
    delay(cl, k);
}

static void
on_tick(EV_P_ ev_timer *t, int revents)
{
    struct rcluster *cl = t->data;
    struct rcall *list = cl->delayed;
    ev_tstamp now = ev_now(cl->loop);

    (void)loop;
    (void)revents;
    if (!cl->have_map && now - cl->last_fetch >= 1.0) {
        char err[512];
        cl->last_fetch = now;
        if (cluster_map_fetch(&cl->url, 1.0, &cl->map, err, sizeof(err)) == 0)
            map_ready(cl);
        else
            log_kv(LOG_WARN, "redis cluster map unavailable", "conn", cl->name,
                   "error", err, NULL);
    }
    if (cl->have_map && cl->want_refresh && !cl->refreshing &&
        now - cl->last_fetch >= 1.0) {
        const char *av[2] = {"CLUSTER", "SLOTS"};
        for (int i = 0; i < cl->map.nnodes; i++)
            if (cl->node[i] && rconn_is_up(cl->node[i]) &&
                rconn_send_argv(cl->node[i], -1, 2, av, NULL, on_slots, cl) ==
                    0) {
                cl->refreshing = 1;
                cl->refresh_node = i;
                cl->want_refresh = 0;
                cl->last_fetch = now;
                break;
            }
    }
    cl->delayed = NULL;
    cl->ndelayed = 0;
    while (list) {
        struct rcall *k = list;
        list = k->next;
        if (rcall_send(cl, k) == 0)
            continue;
        if (++k->hops < RCL_MAX_HOPS) {
            k->next = cl->delayed;
            cl->delayed = k;
            cl->ndelayed++;
        } else {
            k->fn(cl->outer, NULL, k->pd); /* as a dropped connection */
            rcall_free(k);
        }
    }
    if (cl->have_map && !cl->want_refresh && !cl->delayed)
        ev_timer_stop(cl->loop, &cl->tick);
}

static void
kick(struct rcluster *cl)
{
    if (!cl->freeing && !ev_is_active(&cl->tick) &&
        (!cl->have_map || cl->want_refresh || cl->delayed))
        ev_timer_start(cl->loop, &cl->tick);
}

struct rcluster *
rcluster_new(struct ev_loop *loop, struct rconn *outer,
             const struct redis_url *u, const char *name, int load_scripts,
             rconn_state_fn on_state, void *ud)
{
    struct rcluster *cl = calloc(1, sizeof(*cl));
    char err[512];

    if (!cl)
        return NULL;
    cl->loop = loop;
    cl->outer = outer;
    cl->url = *u;
    snprintf(cl->name, sizeof(cl->name), "%s", name);
    cl->load_scripts = load_scripts;
    cl->on_state = on_state;
    cl->ud = ud;
    cl->cmd_timeout = 10.0;
    cl->last_node = -1;
    cl->down_since = ev_now(loop);
    cluster_map_init(&cl->map);
    ev_timer_init(&cl->tick, on_tick, RCL_RETRY_S, RCL_RETRY_S);
    cl->tick.data = cl;
    cl->last_fetch = ev_now(loop);
    if (cluster_map_fetch(u, 2.0, &cl->map, err, sizeof(err)) == 0)
        map_ready(cl);
    else
        log_kv(LOG_WARN, "redis cluster map unavailable", "conn", name, "error",
               err, NULL);
    kick(cl);
    return cl;
}

void
rcluster_free(struct rcluster *cl)
{
    if (!cl)
        return;
    cl->freeing = 1;
    ev_timer_stop(cl->loop, &cl->tick);
    while (cl->delayed) {
        struct rcall *k = cl->delayed;
        cl->delayed = k->next;
        k->fn(cl->outer, NULL, k->pd);
        rcall_free(k);
    }
    for (int i = 0; i < CLUSTER_MAX_NODES; i++)
        rconn_free(cl->node[i]); /* runs on_node_reply with NULL */
    for (int i = 0; i < CLUSTER_MAX_NODES; i++)
        rsub_free(cl->ssub[i]);
    for (int i = 0; i < cl->nsubs; i++)
        free(cl->subs[i].channel);
    memset(cl->url.pass, 0, sizeof(cl->url.pass));
    free(cl);
}

/* The slot a command's argv routes by: its first key. -1 when keyless. */
static int
argv_slot(int sid, int argc, const char **av, const size_t *al)
{
    static const char *const keyless[] = {"TIME",    "PING", "INFO",  "SCRIPT",
                                          "CLUSTER", "ROLE", "ASKING"};

    if (sid >= 0 || !strcasecmp(av[0], "EVAL") || !strcasecmp(av[0], "EVALSHA"))
        return argc > 3 && strcmp(av[2], "0") ? cluster_key_slot(av[3], al[3])
                                              : -1;
    for (size_t i = 0; i < sizeof(keyless) / sizeof(keyless[0]); i++)
        if (!strcasecmp(av[0], keyless[i]))
            return -1;
    return argc > 1 ? cluster_key_slot(av[1], al[1]) : -1;
}

int
rcluster_send(struct rcluster *cl, int sid, int argc, const char **av,
              const size_t *al, rconn_reply_fn fn, void *pd)
{
    struct rcall *k;

    if (!cl->have_map || !(k = calloc(1, sizeof(*k))))
        return -1;
    if (argvcopy_init(&k->a, argc, av, al) < 0) {
        rcall_free(k);
        return -1;
    }
    k->cl = cl;
    k->fn = fn;
    k->pd = pd;
    k->sid = sid;
    k->ask_node = -1;
    k->t0 = ev_now(cl->loop);
    k->slot = argv_slot(sid, argc, k->a.av, k->a.al);
    if (rcall_send(cl, k) < 0) {
        rcall_free(k);
        return -1;
    }
    return 0;
}

int
rcluster_subscribe(struct rcluster *cl, const char *channel, rconn_msg_fn fn,
                   void *pd)
{
    struct csub *s;

    if (cl->nsubs == RCONN_MAX_SUBS)
        return -1;
    s = &cl->subs[cl->nsubs];
    s->channel = strdup(channel);
    if (!s->channel)
        return -1;
    s->cl = cl;
    s->fn = fn;
    s->pd = pd;
    s->node = -1;
    cl->nsubs++;
    if (cl->have_map)
        place_subs(cl);
    return 0;
}

int
rcluster_is_up(const struct rcluster *cl)
{
    if (!cl->have_map)
        return 0;
    for (int i = 0; i < cl->map.nnodes; i++)
        if (cl->served[i] && (!cl->node[i] || !rconn_is_up(cl->node[i])))
            return 0;
    return 1;
}

double
rcluster_down_for(const struct rcluster *cl)
{
    return cl->up ? 0.0 : ev_now(cl->loop) - cl->down_since;
}

int
rcluster_pending(const struct rcluster *cl)
{
    int n = cl->ndelayed;

    for (int i = 0; i < cl->map.nnodes; i++)
        if (cl->node[i])
            n += rconn_pending(cl->node[i]);
    return n;
}

void
rcluster_set_timeout(struct rcluster *cl, double seconds)
{
    cl->cmd_timeout = seconds;
    for (int i = 0; i < cl->map.nnodes; i++)
        if (cl->node[i])
            rconn_set_timeout(cl->node[i], seconds);
}

void
rcluster_node_of(const struct rcluster *cl, const char *key, char *out,
                 size_t n)
{
    int i = cl->have_map ? cluster_map_key(&cl->map, key) : -1;

    if (i < 0)
        snprintf(out, n, "%s", "");
    else
        snprintf(out, n, "%s:%d", cl->map.node[i].host, cl->map.node[i].port);
}
