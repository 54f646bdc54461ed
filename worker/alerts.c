/* Alerts to a Redis stream and a webhook (see alerts.h). */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "alerts.h"
#include "keys.h"
#include "log.h"
#include "timefmt.h"

#define MAX_KEYS 64
#define MAX_HELD 64

struct held {
    char level[4];
    char key[64];
    char text[512];
    char ts[32];
};

/* One webhook POST in flight, on the alerts' list until done. */
struct hook {
    struct http_req req;
    struct alerts *a;
    struct hook *prev, *next;
};

struct alerts {
    struct ev_loop *loop;
    struct rconn *rc;
    struct http *h;
    struct metrics *m;
    char *webhook;
    char worker[160];
    struct {
        char key[64];
        ev_tstamp at;
    } seen[MAX_KEYS];
    int nseen;
    struct held held[MAX_HELD];
    int nheld;
    struct curl_slist *hdrs;
    struct hook *hooks; /* POSTs in flight */
};

static void
hook_free(struct hook *k)
{
    struct alerts *a = k->a;

    if (k->prev)
        k->prev->next = k->next;
    else
        a->hooks = k->next;
    if (k->next)
        k->next->prev = k->prev;
    http_req_reset(&k->req);
    free(k->req.body);
    free(k);
}

struct alerts *
alerts_new(struct ev_loop *loop, struct rconn *rc, struct http *h,
           struct metrics *m, const char *webhook, const char *worker)
{
    struct alerts *a = calloc(1, sizeof(*a));

    if (!a)
        return NULL;
    a->loop = loop;
    a->rc = rc;
    a->h = h;
    a->m = m;
    snprintf(a->worker, sizeof(a->worker), "%s", worker);
    if (webhook) {
        a->webhook = strdup(webhook);
        a->hdrs = curl_slist_append(NULL, "content-type: application/json");
        if (!a->webhook || !a->hdrs) {
            alerts_free(a);
            return NULL;
        }
    }
    return a;
}

void
alerts_free(struct alerts *a)
{
    if (!a)
        return;
    while (a->hooks) {
        struct hook *k = a->hooks;
        a->hooks = k->next;
        http_abort(a->h, &k->req); /* no callback after this */
        http_req_reset(&k->req);
        free(k->req.body);
        free(k);
    }
    free(a->webhook);
    curl_slist_free_all(a->hdrs);
    free(a);
}

static void
on_xadd(struct rconn *c, redisReply *r, void *pd)
{
    (void)c;
    (void)r;
    (void)pd;
}

static int
write_stream(struct alerts *a, const struct held *e)
{
    const char *av[] = {"XADD",   KEY_ALERTS, "MAXLEN", "~",
                        "10000",  "*",        "level",  e->level,
                        "key",    e->key,     "text",   e->text,
                        "worker", a->worker,  "ts",     e->ts};
    return rconn_command(a->rc, 16, av, NULL, on_xadd, NULL);
}

static void
on_hook_done(struct http_req *r, int curl_code)
{
    struct hook *k = r->ud;

    if (curl_code != 0 || r->status < 200 || r->status >= 300)
        log_kv(LOG_WARN, "alert webhook failed", "error",
               curl_code ? r->errbuf : "non-2xx status", NULL);
    hook_free(k);
}

static void
post_webhook(struct alerts *a, const struct held *e)
{
    struct hook *k;
    cJSON *o;
    char *s;

    if (!a->webhook || !a->h)
        return;
    o = cJSON_CreateObject();
    if (!o)
        return;
    cJSON_AddStringToObject(o, "level", e->level);
    cJSON_AddStringToObject(o, "key", e->key);
    cJSON_AddStringToObject(o, "text", e->text);
    cJSON_AddStringToObject(o, "worker", a->worker);
    cJSON_AddStringToObject(o, "ts", e->ts);
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    k = calloc(1, sizeof(*k));
    if (!s || !k) {
        cJSON_free(s);
        free(k);
        return;
    }
    k->a = a;
    k->req.body = strdup(s);
    cJSON_free(s);
    if (!k->req.body) {
        free(k);
        return;
    }
    k->req.body_len = strlen(k->req.body);
    k->req.url = a->webhook;
    k->req.headers = a->hdrs;
    k->req.timeout_ms = 10000;
    k->req.connect_timeout_ms = 5000;
    k->req.on_done = on_hook_done;
    k->req.ud = k;
    k->req.resp.max = 65536;
    if (http_submit(a->h, &k->req) < 0) {
        free(k->req.body);
        free(k);
        return;
    }
    k->next = a->hooks;
    if (a->hooks)
        a->hooks->prev = k;
    a->hooks = k;
}

int
alerts_raise(struct alerts *a, enum alert_level lvl, const char *key,
             const char *text)
{
    ev_tstamp now;
    struct held e;
    int slot = -1;

    if (!a)
        return 0;
    now = ev_now(a->loop);
    for (int i = 0; i < a->nseen; i++)
        if (!strcmp(a->seen[i].key, key)) {
            if (now - a->seen[i].at < ALERTS_REPEAT_S)
                return 0;
            slot = i;
        }
    if (slot < 0) {
        if (a->nseen < MAX_KEYS) {
            slot = a->nseen++;
        } else {
            slot = 0; /* evict the oldest */
            for (int i = 1; i < a->nseen; i++)
                if (a->seen[i].at < a->seen[slot].at)
                    slot = i;
        }
        snprintf(a->seen[slot].key, sizeof(a->seen[slot].key), "%s", key);
    }
    a->seen[slot].at = now;
    snprintf(e.level, sizeof(e.level), "%s", errclass_level_name(lvl));
    snprintf(e.key, sizeof(e.key), "%s", key);
    snprintf(e.text, sizeof(e.text), "%s", text);
    timefmt_rfc3339(time_now_ms(), e.ts);
    log_kv(lvl <= ALERT_P2 ? LOG_WARN : LOG_ERROR, "alert", "alert_level",
           e.level, "key", e.key, "text", e.text, NULL);
    metrics_alert(a->m, (int)(ALERT_P0 - lvl)); /* 0 = P0 */
    if (!rconn_is_up(a->rc) || write_stream(a, &e) < 0) {
        if (a->nheld < MAX_HELD)
            a->held[a->nheld++] = e;
    }
    post_webhook(a, &e);
    return 1;
}

void
alerts_flush(struct alerts *a)
{
    int i;

    if (!a || !rconn_is_up(a->rc))
        return;
    for (i = 0; i < a->nheld; i++)
        if (write_stream(a, &a->held[i]) < 0)
            break;
    memmove(a->held, a->held + i, sizeof(a->held[0]) * (size_t)(a->nheld - i));
    a->nheld -= i;
}
