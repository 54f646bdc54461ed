/* genq-mockllm: statistics and control. The JSON request log,
 * GET /mock/stats, POST /mock/control and /mock/reset, and the fault-list
 * parser shared with the command line. */
#include "fmacros.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <string.h>
#include <stdlib.h>

#include "mockapi.h"
#include "mockhttp.h"
#include "mocktext.h"
#include "srv.h"

void
srv_count_and_log(struct conn *c, const struct reqinfo *ri)
{
    cJSON *o, *h;
    char *line;
    const char *bearer;

    srv_stats.requests++;
    srv_stats.by_ep[ri->ep]++;
    if (ri->status >= 100 && ri->status < 600)
        srv_stats.by_status[ri->status]++;
    if (srv_logfp == NULL)
        return;
    o = cJSON_CreateObject();
    h = cJSON_CreateObject();
    if (o == NULL || h == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(h);
        return;
    }
    cJSON_AddNumberToObject(o, "ts", ev_time());
    cJSON_AddNumberToObject(o, "conn", (double)c->id);
    cJSON_AddStringToObject(o, "method", c->req.method ? c->req.method : "");
    cJSON_AddStringToObject(o, "path", c->req.target ? c->req.target : "");
    for (size_t i = 0; i < c->req.nheaders; i++) {
        const struct mockhttp_header *hd = &c->req.headers[i];
        cJSON *prev = cJSON_GetObjectItemCaseSensitive(h, hd->name);
        if (prev != NULL && cJSON_IsString(prev)) {
            struct mockbuf j = {0};
            if (mockbuf_printf(&j, "%s, %s", prev->valuestring, hd->value) == 0)
                cJSON_ReplaceItemInObjectCaseSensitive(
                    h, hd->name, cJSON_CreateString(j.data));
            mockbuf_free(&j);
        } else {
            cJSON_AddStringToObject(h, hd->name, hd->value);
        }
    }
    cJSON_AddItemToObject(o, "headers", h);
    if (ri->body != NULL)
        cJSON_AddItemToObject(o, "body", cJSON_Duplicate(ri->body, 1));
    else if (c->req.state == MOCKHTTP_S_DONE)
        cJSON_AddStringToObject(o, "body",
                                c->req.body.data ? c->req.body.data : "");
    else
        cJSON_AddNullToObject(o, "body");
    bearer = mockapi_bearer(&c->req);
    {
        cJSON *claims = mockapi_jwt_claims(bearer);
        if (claims == NULL) {
            const char *k = mockhttp_header(&c->req, "x-api-key");
            claims = mockapi_jwt_claims(k);
        }
        if (claims != NULL)
            cJSON_AddItemToObject(o, "jwt_claims", claims);
        else
            cJSON_AddNullToObject(o, "jwt_claims");
    }
    cJSON_AddNumberToObject(o, "status", ri->status);
    if (ri->fault)
        cJSON_AddStringToObject(o, "fault", ri->fault);
    else
        cJSON_AddNullToObject(o, "fault");
    if (ri->request_id)
        cJSON_AddStringToObject(o, "request_id", ri->request_id);
    else
        cJSON_AddNullToObject(o, "request_id");
    cJSON_AddBoolToObject(o, "stream", ri->stream);
    if (ri->have_key) {
        char hex[17];
        snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)ri->key_hash);
        cJSON_AddStringToObject(o, "key_hash", hex);
    } else {
        cJSON_AddNullToObject(o, "key_hash");
    }
    line = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (line == NULL)
        return;
    if (fputs(line, srv_logfp) == EOF || fputc('\n', srv_logfp) == EOF ||
        fflush(srv_logfp) != 0)
        fprintf(stderr, "genq-mockllm: writing the log failed: %s\n",
                strerror(errno));
    cJSON_free(line);
}

cJSON *
srv_stats_json(void)
{
    size_t nf;
    const struct mockapi_fault *f = mockapi_faults(&nf);
    cJSON *o = cJSON_CreateObject(), *ep, *st, *fk;
    unsigned long long ftotal = 0;

    if (o == NULL)
        return NULL;
    cJSON_AddNumberToObject(o, "requests_total", (double)srv_stats.requests);
    srv_batch_stats(o);
    ep = cJSON_AddObjectToObject(o, "requests_by_endpoint");
    st = cJSON_AddObjectToObject(o, "responses_by_status");
    fk = cJSON_AddObjectToObject(o, "faults_by_kind");
    if (ep == NULL || st == NULL || fk == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    for (int i = 0; i < EP_N; i++)
        cJSON_AddNumberToObject(ep, srv_ep_names[i],
                                (double)srv_stats.by_ep[i]);
    for (int i = 100; i < 600; i++) {
        char k[16];
        if (srv_stats.by_status[i] == 0)
            continue;
        snprintf(k, sizeof(k), "%d", i);
        cJSON_AddNumberToObject(st, k, (double)srv_stats.by_status[i]);
    }
    for (size_t i = 0; i < nf && i < MAX_KINDS; i++) {
        cJSON_AddNumberToObject(fk, f[i].name, (double)srv_stats.faults[i]);
        ftotal += srv_stats.faults[i];
    }
    {
        const struct {
            const char *name;
            double v;
        } n[] = {{"faults_total", (double)ftotal},
                 {"active_connections", (double)srv_stats.active_conns},
                 {"active_streams", (double)srv_stats.active_streams},
                 {"max_concurrent_streams", (double)srv_stats.max_streams},
                 {"connections_total", (double)srv_stats.conns_total},
                 {"limit_admitted", (double)srv_stats.limit_admitted},
                 {"limit_refused", (double)srv_stats.limit_refused},
                 {"cache_writes", (double)srv_stats.cache_writes},
                 {"cache_reads", (double)srv_stats.cache_reads},
                 {"cache_write_tokens", (double)srv_stats.cache_write_tokens},
                 {"cache_read_tokens", (double)srv_stats.cache_read_tokens},
                 {"uptime_s", ev_time() - srv_start_time}};

        for (size_t i = 0; i < sizeof(n) / sizeof(n[0]); i++)
            cJSON_AddNumberToObject(o, n[i].name, n[i].v);
    }
    return o;
}

static char *
faults_list(void)
{
    size_t nf;
    const struct mockapi_fault *f = mockapi_faults(&nf);
    struct mockbuf b = {0};

    if (mockbuf_puts(&b, "") < 0)
        return NULL;
    for (size_t i = 0; i < srv_cfg.nkinds; i++)
        if (mockbuf_printf(&b, "%s%s", i ? "," : "", f[srv_cfg.kinds[i]].name) <
            0) {
            mockbuf_free(&b);
            return NULL;
        }
    return b.data;
}

static cJSON *
settings_json(void)
{
    cJSON *o = cJSON_CreateObject();
    char *fl = faults_list();

    if (o == NULL || fl == NULL) {
        cJSON_Delete(o);
        free(fl);
        return NULL;
    }
    cJSON_AddBoolToObject(o, "reject_auth", srv_cfg.reject_auth);
    cJSON_AddNumberToObject(o, "fault_rate", srv_cfg.fault_rate);
    cJSON_AddStringToObject(o, "faults", fl);
    cJSON_AddNumberToObject(o, "latency_ms", srv_cfg.latency_ms);
    cJSON_AddNumberToObject(o, "tokens_per_s", srv_cfg.tokens_per_s);
    cJSON_AddNumberToObject(o, "chunk_tokens", (double)srv_cfg.chunk_tokens);
    cJSON_AddNumberToObject(o, "article_tokens",
                            (double)srv_cfg.article_tokens);
    cJSON_AddNumberToObject(o, "retry_after", (double)srv_cfg.retry_after);
    cJSON_AddNumberToObject(o, "retry_after_ms",
                            (double)srv_cfg.retry_after_ms);
    cJSON_AddNumberToObject(o, "stall_s", srv_cfg.stall_s);
    free(fl);
    return o;
}

/* ---- settings parsing (shared by flags and /mock/control) -------------- */

int
srv_parse_kinds(const char *list, int *kinds, size_t *nkinds, char *badname,
                size_t badsize)
{
    const char *p = list;
    size_t n = 0;

    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char name[MOCKTEXT_KIND_MAX];
        int k;
        if (len == 0 || len >= sizeof(name)) {
            snprintf(badname, badsize, "%.*s", (int)len, p);
            return -1;
        }
        memcpy(name, p, len);
        name[len] = '\0';
        k = mockapi_fault_find(name);
        if (k < 0 || n == MAX_KINDS) {
            snprintf(badname, badsize, "%s", name);
            return -1;
        }
        kinds[n++] = k;
        p += len;
        if (*p == ',')
            p++;
    }
    *nkinds = n;
    return 0;
}

/* The settings of POST /mock/control that are plain doubles in a range. */
struct dsetting {
    const char *name;
    double lo, hi;
    size_t off; /* in struct settings */
};

static const struct dsetting dsettings[] = {
    {"fault_rate", 0, 1, offsetof(struct settings, fault_rate)},
    {"latency_ms", 0, 3600e3, offsetof(struct settings, latency_ms)},
    {"tokens_per_s", 0, 1e9, offsetof(struct settings, tokens_per_s)},
    {"stall_s", 0, 86400, offsetof(struct settings, stall_s)},
    {"limit_rpm", 0, 1e12, offsetof(struct settings, limit_rpm)},
    {"limit_itpm", 0, 1e12, offsetof(struct settings, limit_itpm)},
    {"limit_otpm", 0, 1e12, offsetof(struct settings, limit_otpm)},
    {"limit_tpm", 0, 1e12, offsetof(struct settings, limit_tpm)},
};

static const struct dsetting *
dsetting_find(const char *name)
{
    for (size_t i = 0; i < sizeof(dsettings) / sizeof(dsettings[0]); i++)
        if (strcmp(dsettings[i].name, name) == 0)
            return &dsettings[i];
    return NULL;
}

/* 1 when it is a number in [lo, hi]. */
static int
number_in(const cJSON *it, double lo, double hi)
{
    return cJSON_IsNumber(it) && it->valuedouble >= lo && it->valuedouble <= hi;
}

void
srv_control_request(struct conn *c, const cJSON *body)
{
    struct settings n = srv_cfg;
    const cJSON *it;
    char msg[160];

    if (!cJSON_IsObject(body)) {
        srv_json_response(c, EP_CONTROL, body, 400,
                          cJSON_Parse("{\"error\":\"body must be a JSON "
                                      "object\"}"));
        return;
    }
    cJSON_ArrayForEach(it, body)
    {
        const char *k = it->string;
        int ok = 1;
        const struct dsetting *d = dsetting_find(k);
        double v = it->valuedouble;
        if (d != NULL) {
            ok = number_in(it, d->lo, d->hi);
            memcpy((char *)&n + d->off, &v, sizeof(v));
        } else if (strcmp(k, "outage_s") == 0) {
            /* 503 to every API request for this long (0 ends it) */
            ok = number_in(it, 0, 86400);
            if (ok)
                srv_limits.outage_until = ev_now(srv_loop) + v;
        } else if (strcmp(k, "reject_auth") == 0) {
            ok = cJSON_IsBool(it);
            n.reject_auth = cJSON_IsTrue(it);
        } else if (strcmp(k, "chunk_tokens") == 0) {
            ok = number_in(it, 1, 100000) && v == floor(v);
            n.chunk_tokens = ok ? (size_t)v : 1;
        } else if (strcmp(k, "retry_after") == 0) {
            ok = number_in(it, 0, 86400);
            n.retry_after = ok ? (long)v : 0;
        } else if (strcmp(k, "retry_after_ms") == 0) {
            ok = number_in(it, -1, 86400e3);
            n.retry_after_ms = ok ? (long)v : -1;
        } else if (strcmp(k, "faults") == 0) {
            char badname[MOCKTEXT_KIND_MAX];
            ok = cJSON_IsString(it) &&
                 srv_parse_kinds(it->valuestring, n.kinds, &n.nkinds, badname,
                                 sizeof(badname)) == 0;
        } else {
            snprintf(msg, sizeof(msg), "unknown setting '%s'", k);
            goto fail;
        }
        if (!ok) {
            snprintf(msg, sizeof(msg), "invalid value for '%s'", k);
            goto fail;
        }
    }
    srv_cfg = n;
    srv_json_response(c, EP_CONTROL, body, 200, settings_json());
    return;
fail : {
    cJSON *e = cJSON_CreateObject();
    if (e != NULL)
        cJSON_AddStringToObject(e, "error", msg);
    srv_json_response(c, EP_CONTROL, body, 400, e);
}
}

void
srv_reset_request(struct conn *c, const cJSON *body)
{
    memset(srv_stats.by_ep, 0, sizeof(srv_stats.by_ep));
    memset(srv_stats.by_status, 0, sizeof(srv_stats.by_status));
    memset(srv_stats.faults, 0, sizeof(srv_stats.faults));
    srv_stats.requests = 0;
    srv_stats.conns_total = 0;
    srv_stats.limit_admitted = srv_stats.limit_refused = 0;
    srv_stats.max_streams = srv_stats.active_streams;
    srv_keytab_clear();
    srv_stats.cache_writes = srv_stats.cache_reads = 0; /* srv_pcache.c */
    srv_stats.cache_write_tokens = srv_stats.cache_read_tokens = 0;
    srv_pcache_clear();
    srv_batch_reset();
    srv_rng_state = srv_cfg.seed;
    srv_json_response(c, EP_RESET, body, 200, cJSON_Parse("{\"reset\":true}"));
}
