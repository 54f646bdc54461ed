/* cache: the response cache. Identical requests (same provider, API base and
 * request body) within
 * --cache-ttl share one API call: the key is the SHA-256 of those, the
 * value the generated text, model, stop reason and usage. Off by default.
 * Keys live outside any queue's slot (KEY_CACHE_PREFIX + HEX), written and read
 * with plain GET/SET. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "worker_int.h"

struct cache_ctx {
    struct worker *w;
    int idx;
    unsigned gen;
    char token[24];
};

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

static void
on_cache_get(struct rconn *c, redisReply *r, void *pd)
{
    struct cache_ctx *cc = pd;
    struct worker *w = cc->w;
    struct wjob *j = &w->slots[cc->idx];
    cJSON *o, *x;

    (void)c;
    if (j->st != J_RUNNING || j->lost || j->gen != cc->gen ||
        strcmp(j->token, cc->token) != 0 || j->req.easy) {
        free(cc); /* the slot moved on (lease lost, shutdown) */
        return;
    }
    free(cc);
    o = r && r->type == REDIS_REPLY_STRING ? cJSON_Parse(r->str) : NULL;
    x = o ? cJSON_GetObjectItem(o, "text") : NULL;
    if (!x || !cJSON_IsString(x)) {
        cJSON_Delete(o);
        metrics_cache(w->m, 0);
        job_start_try(j); /* a miss (or Redis trouble): call the API */
        return;
    }
    metrics_cache(w->m, 1);
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

/* Start a cache lookup for j. 0 when started (the reply continues the
 * job), -1 when the job goes straight to the API. */
int
cache_lookup(struct wjob *j)
{
    struct worker *w = j->w;
    struct llm_req_opts o = {w->cfg->provider, w->cfg->model,
                             w->cfg->max_tokens, 0};
    unsigned char md[SHA256_DIGEST_LENGTH];
    struct cache_ctx *cc;
    const char *path, *av[2];
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
    cc = malloc(sizeof(*cc));
    if (!cc)
        return -1;
    cc->w = w;
    cc->idx = j->idx;
    cc->gen = j->gen;
    snprintf(cc->token, sizeof(cc->token), "%s", j->token);
    av[0] = "GET";
    av[1] = j->cache_key;
    if (rconn_command(w->rc, 2, av, NULL, on_cache_get, cc) < 0) {
        free(cc);
        return -1;
    }
    return 0;
}
