/* cache: the response cache. Identical requests (same provider, API base and
 * request body) within
 * --cache-ttl share one API call: the key is the SHA-256 of those, the
 * value the generated text, model, stop reason and usage. Off by default.
 * Keys live outside any queue's slot (KEY_CACHE_PREFIX + HEX), written and read
 * with plain GET/SET.
 * Misses are coalesced: a lookup sends SET NX PX of an in-flight marker
 * beside the key (KEY_CACHE_LOCK_SUFFIX; its lease is the visibility
 * timeout, renewed with the job's lease: lease.c calls cache_renew(), so a
 * call longer than the timeout is not made again) and then GET, pipelined. A
 * miss that took the marker calls the API; one that did not waits -- a timer
 * re-check, 50 ms doubling to 1 s, never past the marker's lease (a dead holder
 * blocks nobody longer) -- and shares the answer once it is stored. The holder
 * stores the answer before it drops the marker, and a marker is taken before
 * the GET, so a request that takes a marker always sees an answer stored before
 * it. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "worker_int.h"

struct cache_ctx {
    struct slotref ref;
    int locked;   /* the SET NX took the marker */
    int get_sent; /* the GET went out: its reply frees the ctx */
    char key[80]; /* the cache key (the slot may move on) */
};

#define CACHE_WAIT_MIN 0.05
#define CACHE_WAIT_MAX 1.0

/* The in-flight marker of j's cache key, into out. */
static void
lock_key(const struct wjob *j, char *out, size_t n)
{
    snprintf(out, n, "%s" KEY_CACHE_LOCK_SUFFIX, j->cache_key);
}

/* Drop a marker taken by a lookup whose job no longer needs it. */
static void
drop_lock(struct worker *w, const char *cache_key)
{
    char k[128];
    const char *av[2] = {"DEL", k};

    snprintf(k, sizeof(k), "%s" KEY_CACHE_LOCK_SUFFIX, cache_key);
    if (rconn_command(w->rc, 2, av, NULL, worker_noreply, NULL) < 0)
        return; /* Redis is down: the marker's lease frees it */
}

void
cache_unlock(struct wjob *j)
{
    if (j->cache_lock && j->cache_key[0])
        drop_lock(j->w, j->cache_key);
    j->cache_lock = 0;
}

void
cache_renew(struct wjob *j)
{
    char lk[128], ms[24];
    const char *av[3] = {"PEXPIRE", lk, ms};

    if (!j->cache_lock || !j->cache_key[0])
        return;
    lock_key(j, lk, sizeof(lk));
    snprintf(ms, sizeof(ms), "%ld", 1000L * j->w->cfg->visibility_s);
    if (rconn_command(j->w->rc, 3, av, NULL, worker_noreply, NULL) < 0)
        return; /* Redis is down: renewed with the lease after the reconnect */
}

void
cache_store(struct wjob *j)
{
    struct worker *w = j->w;
    cJSON *o;
    char *s, ttl[24];
    const char *av[5];

    if (!j->cache_key[0] || w->cfg->cache_ttl_s <= 0)
        return;
    o = cJSON_CreateObject();
    if (!o)
        return;
    cJSON_AddStringToObject(o, "text", j->text.data ? j->text.data : "");
    cJSON_AddStringToObject(o, "model", j->model);
    cJSON_AddStringToObject(o, "stop_reason", j->stop_reason);
    cJSON_AddNumberToObject(o, "input_tokens", (double)j->in_tokens);
    cJSON_AddNumberToObject(o, "output_tokens", (double)j->out_tokens);
    cJSON_AddNumberToObject(o, "continuations", j->continuations);
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s)
        return;
    snprintf(ttl, sizeof(ttl), "%d", w->cfg->cache_ttl_s);
    av[0] = "SET";
    av[1] = j->cache_key;
    av[2] = s;
    av[3] = "EX";
    av[4] = ttl;
    rconn_command(w->rc, 5, av, NULL, worker_noreply, NULL);
    cJSON_free(s);
}

static void cache_probe_send(struct wjob *j);

void
cache_on_wait_timer(EV_P_ ev_timer *t, int revents)
{
    struct wjob *j = t->data;

    (void)loop;
    (void)revents;
    cache_probe_send(j);
}

static void
on_cache_lock(struct rconn *c, redisReply *r, void *pd)
{
    struct cache_ctx *cc = pd;

    (void)c;
    cc->locked = r && r->type == REDIS_REPLY_STATUS;
    if (!cc->get_sent) { /* the GET never went out */
        if (cc->locked)
            drop_lock(cc->ref.w, cc->key);
        free(cc);
    }
}

/* A miss: call the API when we hold the marker (or Redis failed), else
 * wait for the holder's answer. */
static void
cache_miss(struct wjob *j, int locked, int redis_ok)
{
    struct worker *w = j->w;

    if (locked || !redis_ok) {
        j->cache_lock = locked;
        metrics_cache(w->m, 0);
        job_start_try(j);
        return;
    }
    j->cache_wait = j->cache_wait <= 0                   ? CACHE_WAIT_MIN
                    : j->cache_wait * 2 > CACHE_WAIT_MAX ? CACHE_WAIT_MAX
                                                         : j->cache_wait * 2;
    ev_timer_set(&j->cache_timer, j->cache_wait, 0.);
    ev_timer_start(w->loop, &j->cache_timer);
}

static void
on_cache_get(struct rconn *c, redisReply *r, void *pd)
{
    struct cache_ctx *cc = pd;
    struct wjob *j = slotref_get(&cc->ref);
    struct worker *w = cc->ref.w;
    int locked = cc->locked;
    cJSON *o, *x;

    (void)c;
    if (!j && locked) /* the slot moved on (lease lost, shutdown) */
        drop_lock(w, cc->key);
    free(cc);
    if (!j)
        return;
    o = r && r->type == REDIS_REPLY_STRING ? cJSON_Parse(r->str) : NULL;
    x = o ? cJSON_GetObjectItem(o, "text") : NULL;
    if (!x || !cJSON_IsString(x)) {
        cJSON_Delete(o);
        cache_miss(j, locked, r && r->type != REDIS_REPLY_ERROR);
        return;
    }
    if (locked)
        drop_lock(w, j->cache_key);
    metrics_cache(w->m, j->cache_wait > 0 ? 2 : 1);
    buf_reset(&j->text);
    if (buf_append(&j->text, x->valuestring, strlen(x->valuestring)) < 0) {
        cJSON_Delete(o);
        job_start_try(j);
        return;
    }
    snprintf(j->model, sizeof(j->model), "%s",
             cJSON_GetStringValue(cJSON_GetObjectItem(o, "model"))
                 ? cJSON_GetStringValue(cJSON_GetObjectItem(o, "model"))
                 : "");
    snprintf(j->stop_reason, sizeof(j->stop_reason), "%s",
             cJSON_GetStringValue(cJSON_GetObjectItem(o, "stop_reason"))
                 ? cJSON_GetStringValue(cJSON_GetObjectItem(o, "stop_reason"))
                 : "");
    x = cJSON_GetObjectItem(o, "input_tokens");
    j->in_tokens = cJSON_IsNumber(x) ? (long)x->valuedouble : 0;
    x = cJSON_GetObjectItem(o, "output_tokens");
    j->out_tokens = cJSON_IsNumber(x) ? (long)x->valuedouble : 0;
    x = cJSON_GetObjectItem(o, "continuations");
    j->continuations = cJSON_IsNumber(x) ? x->valueint : 0;
    cJSON_Delete(o);
    j->cached = 1;
    job_finish(j, OUT_COMPLETE, result_doc(j), 0);
}

/* Send the pipelined SET NX PX (marker) + GET of j's cache key; on any
 * failure to send, the job goes to the API. */
static void
cache_probe_send(struct wjob *j)
{
    struct worker *w = j->w;
    struct cache_ctx *cc = calloc(1, sizeof(*cc));
    char lk[128], lease[24];
    const char *set[6] = {"SET", lk, w->id, "NX", "PX", lease};
    const char *get[2] = {"GET", j->cache_key};

    if (!cc) {
        job_start_try(j);
        return;
    }
    slotref_set(&cc->ref, j);
    snprintf(cc->key, sizeof(cc->key), "%s", j->cache_key);
    lock_key(j, lk, sizeof(lk));
    snprintf(lease, sizeof(lease), "%ld", 1000L * w->cfg->visibility_s);
    if (rconn_command(w->rc, 6, set, NULL, on_cache_lock, cc) < 0) {
        free(cc);
        job_start_try(j);
        return;
    }
    if (rconn_command(w->rc, 2, get, NULL, on_cache_get, cc) < 0) {
        job_start_try(j); /* on_cache_lock frees cc (and the marker) */
        return;
    }
    cc->get_sent = 1;
}

/* Start a cache lookup for j. 0 when started (the reply continues the
 * job), -1 when the job goes straight to the API. */
int
cache_lookup(struct wjob *j)
{
    struct worker *w = j->w;
    struct llm_req_opts o = {w->cfg->provider, w->cfg->model,
                             w->cfg->max_tokens, 0, 0};
    unsigned char md[SHA256_DIGEST_LENGTH];
    const char *path;
    char *body = llm_build_body(&o, j->job, NULL, 0, &path), *all;
    size_t n;

    if (!body)
        return -1;
    n = strlen(body) + strlen(w->cfg->api_base) + 32;
    all = malloc(n);
    if (!all) {
        free(body);
        return -1;
    }
    n = (size_t)snprintf(all, n, "%s\n%s\n%s",
                         llm_provider_name(w->cfg->provider), w->cfg->api_base,
                         body);
    SHA256((const unsigned char *)all, n, md);
    free(all);
    free(body);
    memcpy(j->cache_key, KEY_CACHE_PREFIX, sizeof(KEY_CACHE_PREFIX) - 1);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(j->cache_key + sizeof(KEY_CACHE_PREFIX) - 1 + 2 * i, 3, "%02x",
                 md[i]);
    j->cache_wait = 0;
    cache_probe_send(j);
    return 0;
}
