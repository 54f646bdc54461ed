/* authhdr: the request headers of API calls -- content type, API version,
 * and the credential (x-api-key, Bearer key, or a Bearer JWT minted by
 * common/jwtmint.c and re-minted when due or after a 401). A header set is
 * shared by reference between the requests that started with it. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "worker_int.h"

void
hdrs_unref(struct hdrs *h)
{
    if (h && --h->refs == 0) {
        /* the list may hold a secret: wipe each line before freeing */
        for (struct curl_slist *l = h->l; l; l = l->next)
            memset(l->data, 0, strlen(l->data));
        curl_slist_free_all(h->l);
        free(h);
    }
}

int
build_headers(struct worker *w, const char *token)
{
    const struct wcfg *cfg = w->cfg;
    char line[8192];
    struct curl_slist *l = NULL, *t;
    struct hdrs *h = calloc(1, sizeof(*h));

    if (!h)
        return -1;
#define ADD(s)                                                                 \
    do {                                                                       \
        t = curl_slist_append(l, (s));                                         \
        if (!t)                                                                \
            goto oom;                                                          \
        l = t;                                                                 \
    } while (0)
    ADD("content-type: application/json");
    ADD(cfg->stream ? "accept: text/event-stream" : "accept: application/json");
    ADD("expect:"); /* no 100-continue round trip */
    if (cfg->provider == LLM_ANTHROPIC || cfg->provider == LLM_NOOP)
        ADD("anthropic-version: " LLM_ANTHROPIC_VERSION);
    if (token) {
        snprintf(line, sizeof(line), "authorization: Bearer %s", token);
        ADD(line);
    } else if (cfg->api_key && cfg->auth == AUTH_API_KEY) {
        snprintf(line, sizeof(line), "x-api-key: %s", cfg->api_key);
        ADD(line);
    } else if (cfg->api_key) {
        snprintf(line, sizeof(line), "authorization: Bearer %s", cfg->api_key);
        ADD(line);
    }
#undef ADD
    memset(line, 0, sizeof(line));
    h->l = l;
    h->refs = 1;
    hdrs_unref(w->hdrs);
    w->hdrs = h;
    return 0;
oom:
    memset(line, 0, sizeof(line));
    curl_slist_free_all(l);
    free(h);
    return -1;
}

void
authhdr_refresh(struct worker *w)
{
    int minted = 0;
    const char *tok = jwtmint_token(w->jwt, time(NULL), 0, &minted);

    if (tok && minted && build_headers(w, tok) == 0)
        log_kv(LOG_INFO, "JWT minted", NULL);
}

int
authhdr_remint(struct wjob *j)
{
    struct worker *w = j->w;
    const char *tok = "";

    /* The token may have been revoked or the clocks disagree: a fresh one
     * at once, and the same request again, once. */
    j->auth_retried = 1;
    /* one re-mint per burst: requests that started with an older token
     * simply retry with the current one */
    if (j->hdrs == w->hdrs) {
        tok = jwtmint_token(w->jwt, time(NULL), 1, NULL);
        if (tok && build_headers(w, tok) < 0)
            tok = NULL;
    }
    if (!tok)
        return 0;
    log_kv(LOG_WARN, "401 with a JWT: re-minted, retrying once", "job", j->id,
           NULL);
    return 1;
}
