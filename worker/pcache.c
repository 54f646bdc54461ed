/* pcache: the warm-up ordering of prompt caching (--prompt-cache system).
 * A cache entry exists only once the first response that wrote it has
 * begun, so jobs that share a cached system prompt (a group: the hash of
 * model and prompt, llm_cache_group()) must not all start at once: the
 * first runs alone (the leader) and the rest of the group wait, parked in
 * their slots, until the leader's response has begun (its first byte of a
 * 2xx body), then start together and read the cache. If the leader ends
 * without a response (an error, a lost lease, a drain), the next parked
 * job leads. A warm group stays warm for the cache's lifetime (5 minutes,
 * refreshed by every use) and its jobs start at once. Each worker process
 * warms its own groups. */
#include "fmacros.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "worker_int.h"

#define PC_GROUPS 256   /* groups tracked at once (more: no ordering) */
#define PC_TTL_S  300.0 /* the cache entry's lifetime after its last use */

/* pc_state of a job on the release list (started by the release timer) */
#define PC_RELEASE 3 /* a parked job its leader's response let go */
#define PC_LSTART  4 /* the next leader, after its leader failed */

enum { G_FREE, G_WARMING, G_WARM };

struct pcgroup {
    uint64_t key;
    int state;
    struct wjob *leader;         /* G_WARMING: the job warming the cache */
    struct wjob *parked, **tail; /* G_WARMING: the jobs waiting for it */
    ev_tstamp warm_until;        /* G_WARM */
};

struct pcache {
    struct worker *w;
    struct pcgroup g[PC_GROUPS];
    struct wjob *go, **gotail; /* the release list */
    ev_timer release;          /* starts them on the next loop iteration
                                  (never inside curl's callbacks) */
};

static void on_release(EV_P_ ev_timer *t, int revents);

struct pcache *
pcache_new(struct worker *w)
{
    struct pcache *pc;
    int any = 0;

    for (int i = 0; i < w->nq; i++)
        any |= w->q[i].prompt_cache;
    if (!any || w->cfg->provider != LLM_ANTHROPIC)
        return NULL;
    pc = calloc(1, sizeof(*pc));
    if (!pc) {
        log_kv(LOG_WARN, "prompt cache warm-up off: out of memory", NULL);
        return NULL;
    }
    pc->w = w;
    pc->gotail = &pc->go;
    ev_timer_init(&pc->release, on_release, 0., 0.);
    pc->release.data = pc;
    return pc;
}

void
pcache_free(struct pcache *pc)
{
    if (!pc)
        return;
    ev_timer_stop(pc->w->loop, &pc->release);
    free(pc);
}

static struct pcgroup *
group_find(struct pcache *pc, uint64_t key)
{
    for (int i = 0; i < PC_GROUPS; i++)
        if (pc->g[i].state != G_FREE && pc->g[i].key == key)
            return &pc->g[i];
    return NULL;
}

/* A free group (or a warm one that went cold), or NULL. */
static struct pcgroup *
group_take(struct pcache *pc, ev_tstamp now)
{
    for (int i = 0; i < PC_GROUPS; i++)
        if (pc->g[i].state == G_FREE ||
            (pc->g[i].state == G_WARM && pc->g[i].warm_until <= now))
            return &pc->g[i];
    return NULL;
}

static void
go_add(struct pcache *pc, struct wjob *j, int how)
{
    j->pc_state = how;
    j->pc_next = NULL;
    *pc->gotail = j;
    pc->gotail = &j->pc_next;
    if (!ev_is_active(&pc->release))
        ev_timer_start(pc->w->loop, &pc->release);
}

/* Remove j from the list at *head (tail pointer *tail). */
static void
list_remove(struct wjob **head, struct wjob ***tail, struct wjob *j)
{
    struct wjob **pp = head;

    while (*pp && *pp != j)
        pp = &(*pp)->pc_next;
    if (!*pp)
        return;
    *pp = j->pc_next;
    if (*tail == &j->pc_next)
        *tail = pp;
    j->pc_next = NULL;
}

int
pcache_gate(struct wjob *j)
{
    struct pcache *pc = j->w->pc;
    ev_tstamp now;
    struct pcgroup *g;
    uint64_t key;

    if (!pc || !j->q->prompt_cache || j->pc_state != 0 || j->tries > 0 ||
        j->continuations > 0 ||
        !llm_cache_group(j->job, j->w->cfg->model, 1, &key))
        return 0;
    now = ev_now(j->w->loop);
    g = group_find(pc, key);
    if (g && g->state == G_WARM && g->warm_until > now) {
        g->warm_until = now + PC_TTL_S; /* a read refreshes the entry */
        return 0;
    }
    if (g && g->state == G_WARMING) {
        j->pc_state = PC_PARKED;
        j->pc_key = key;
        j->pc_next = NULL;
        *g->tail = j;
        g->tail = &j->pc_next;
        return 1;
    }
    if (!g)
        g = group_take(pc, now);
    if (!g)
        return 0; /* too many groups: no ordering for this one */
    g->key = key;
    g->state = G_WARMING;
    g->leader = j;
    g->parked = NULL;
    g->tail = &g->parked;
    j->pc_state = PC_LEADER;
    j->pc_key = key;
    return 0;
}

void
pcache_begun(struct wjob *j)
{
    struct pcache *pc = j->w->pc;
    struct pcgroup *g;
    struct wjob *p, *next;

    if (!pc || j->pc_state != PC_LEADER)
        return;
    j->pc_state = 0;
    g = group_find(pc, j->pc_key);
    if (!g || g->state != G_WARMING || g->leader != j)
        return;
    g->state = G_WARM;
    g->leader = NULL;
    g->warm_until = ev_now(j->w->loop) + PC_TTL_S;
    for (p = g->parked; p; p = next) {
        next = p->pc_next;
        go_add(pc, p, PC_RELEASE);
    }
    g->parked = NULL;
    g->tail = &g->parked;
}

void
pcache_done(struct wjob *j)
{
    struct pcache *pc = j->w->pc;
    struct pcgroup *g;

    if (!pc || j->pc_state == 0)
        return;
    if (j->pc_state == PC_RELEASE || j->pc_state == PC_LSTART) {
        int led = j->pc_state == PC_LSTART;
        list_remove(&pc->go, &pc->gotail, j);
        j->pc_state = led ? PC_LEADER : 0;
        if (!led)
            return;
    }
    g = group_find(pc, j->pc_key);
    if (j->pc_state == PC_PARKED) {
        j->pc_state = 0;
        if (g)
            list_remove(&g->parked, &g->tail, j);
        return;
    }
    /* the leader ended without a response: the next one leads */
    j->pc_state = 0;
    if (!g || g->state != G_WARMING || g->leader != j)
        return;
    g->leader = g->parked;
    if (!g->leader) {
        g->state = G_FREE;
        return;
    }
    g->parked = g->leader->pc_next;
    if (!g->parked)
        g->tail = &g->parked;
    go_add(pc, g->leader, PC_LSTART);
}

static void
on_release(EV_P_ ev_timer *t, int revents)
{
    struct pcache *pc = t->data;
    struct wjob *j;

    (void)loop;
    (void)revents;
    while ((j = pc->go) != NULL) {
        pc->go = j->pc_next;
        if (!pc->go)
            pc->gotail = &pc->go;
        j->pc_next = NULL;
        j->pc_state = j->pc_state == PC_LSTART ? PC_LEADER : 0;
        job_start_try(j);
    }
}
