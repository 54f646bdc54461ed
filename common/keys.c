/* Redis key names of a queue (see keys.h). common/lua/prelude.lua and
 * oplib.lua mirror this file: prelude.lua builds qkey_suffix[]'s names
 * from the prefix, and oplib.lua the others (wake, rate, staging,
 * stage:RUN:P, idem:K, inbox, inbox:lock, rejected, notify). */
#include "fmacros.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "keys.h"

static const char *const qkey_suffix[QK_COUNT] = {
    "ready:high", "ready",   "ready:low", "jobs",   "meta",   "leases",
    "delayed",    "results", "done",      "dead",   "errors", "history",
    "progress",   "events",  "stats",     "paused", "seq",
};

int
queue_name_valid(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > QUEUE_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int
qkeys_init(struct qkeys *k, const char *queue)
{
    if (!queue_name_valid(queue))
        return -1;
    snprintf(k->queue, sizeof(k->queue), "%s", queue);
    snprintf(k->prefix, sizeof(k->prefix), "genq:{%s}:", queue);
    snprintf(k->wake, sizeof(k->wake), "%swake", k->prefix);
    snprintf(k->rate, sizeof(k->rate), "%srate", k->prefix);
    snprintf(k->staging, sizeof(k->staging), "%sstaging", k->prefix);
    snprintf(k->inbox, sizeof(k->inbox), "%s" QKEY_INBOX, k->prefix);
    snprintf(k->inbox_lock, sizeof(k->inbox_lock), "%s" QKEY_INBOX_LOCK,
             k->prefix);
    snprintf(k->rejected, sizeof(k->rejected), "%s" QKEY_REJECTED, k->prefix);
    snprintf(k->review, sizeof(k->review), "%s" QKEY_REVIEW, k->prefix);
    snprintf(k->tmplstats, sizeof(k->tmplstats), "%s" QKEY_TMPLSTATS,
             k->prefix);
    snprintf(k->notify, sizeof(k->notify), "%s" QKEY_NOTIFY, k->prefix);
    snprintf(k->guard, sizeof(k->guard), "%s" QKEY_GUARD, k->prefix);
    for (int i = 0; i < QK_COUNT; i++) {
        snprintf(k->key[i], sizeof(k->key[i]), "%s%s", k->prefix,
                 qkey_suffix[i]);
        k->keyv[i] = k->key[i];
    }
    k->route[0] = k->key[QK_META];
    k->route[1] = k->guard;
    return 0;
}

void
qkeys_stage(const struct qkeys *k, const char *run, int prio, char *out,
            size_t n)
{
    snprintf(out, n, "%sstage:%s:%d", k->prefix, run, prio);
}

void
key_spend_day(char *out, size_t n, long long t)
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    snprintf(out, n, KEY_SPEND_PREFIX "%04d-%02d-%02d", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday);
}

/* The budget key of the day (month 0) or month of t, with its ttl. */
static void
key_budget(char *out, size_t n, long long t, long *ttl_s, int month)
{
    time_t tt = (time_t)t;
    struct tm tm;
    long into; /* seconds into the period */

    gmtime_r(&tt, &tm);
    into = tm.tm_hour * 3600L + tm.tm_min * 60L + tm.tm_sec;
    if (month) {
        snprintf(out, n, KEY_BUDGET_MONTH_PREFIX "%04d-%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1);
        into += (tm.tm_mday - 1) * 86400L;
    } else {
        snprintf(out, n, KEY_BUDGET_DAY_PREFIX "%04d-%02d-%02d",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    }
    /* 31 days from the 1st outlive every month */
    if (ttl_s)
        *ttl_s = (month ? 31L : 1L) * 86400L - into + 2 * 86400L;
}

void
key_budget_day(char *out, size_t n, long long t, long *ttl_s)
{
    key_budget(out, n, t, ttl_s, 0);
}

void
key_budget_month(char *out, size_t n, long long t, long *ttl_s)
{
    key_budget(out, n, t, ttl_s, 1);
}

void
key_limit_id(char *out, size_t n, const char *provider, const char *api_base,
             const char *model_class)
{
    const char *host = strstr(api_base, "://"), *at, *end;
    size_t i, scheme;

    if (n == 0)
        return;
    /* never a credential in the id (it is a Redis key, printed by genq
     * limits and a metrics label): drop user:pass@ and ?query / #fragment */
    host = host ? host + 3 : api_base;
    scheme = (size_t)(host - api_base);
    end = host + strcspn(host, "?#");
    at = memchr(host, '@', (size_t)(end - host));
    if (at && (size_t)(at - host) < strcspn(host, "/"))
        host = at + 1;
    snprintf(out, n, "%s|%.*s%.*s|%s", provider, (int)scheme, api_base,
             (int)(end - host), host, model_class);
    for (i = 0; out[i]; i++)
        if (out[i] == '{' || out[i] == '}' || out[i] == ' ')
            out[i] = '_';
}

int
key_limit_state(char *out, size_t n, const char *id)
{
    int len;

    if (strchr(id, '{') || strchr(id, '}') || !*id)
        return -1;
    len = snprintf(out, n, KEY_LIM_PREFIX "{%s}", id);
    return len < 0 || (size_t)len >= n ? -1 : 0;
}

void
qkeys_batch(const struct qkeys *k, const char *token, int member, char *out,
            size_t n)
{
    snprintf(out, n, "%s" QKEY_BATCH "%s%s", k->prefix, token,
             member ? ":m" : "");
}

void
key_anomaly(char *out, size_t n, const char *prefix, const char *id)
{
    snprintf(out, n, "%s{%s}", prefix, id);
}
