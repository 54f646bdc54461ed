/* limits_budget: budget caps and spend as a section of the `genq limits`
 * document (read from KEY_BUDGET_CAPS and the day's and month's hashes,
 * common/keys.h), and writing caps for `genq ... set`. */
#include "fmacros.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keys.h"
#include "limits_budget.h"
#include "rclient.h"

static const struct {
    const char *opt, *alias, *field;
    int tokens;
} caps[] = {
    {"budget-usd-day", "usd-day", "usd_day", 0},
    {"budget-usd-month", "usd-month", "usd_month", 0},
    {"budget-tokens-day", "tokens-day", "tok_day", 1},
    {"budget-tokens-month", "tokens-month", "tok_month", 1},
};
#define NCAPS 4

static double *
set_field(struct budget_set *s, int i)
{
    double *f[NCAPS] = {&s->usd_day, &s->usd_month, &s->tok_day, &s->tok_month};

    return f[i];
}

static double
get_field(const struct budget_set *s, int i)
{
    const double f[NCAPS] = {s->usd_day, s->usd_month, s->tok_day,
                             s->tok_month};

    return f[i];
}

void
limits_budget_set_init(struct budget_set *s)
{
    s->usd_day = s->usd_month = s->tok_day = s->tok_month = -1;
}

int
limits_budget_opt(struct budget_set *s, const char *name, const char *arg,
                  char *err, size_t errlen)
{
    for (int i = 0; i < NCAPS; i++) {
        char *end;
        double d;

        if (strcmp(name, caps[i].opt) != 0 && strcmp(name, caps[i].alias) != 0)
            continue;
        errno = 0;
        d = strtod(arg, &end);
        if (errno || end == arg || *end || !(d >= 0 && d <= 1e15) ||
            (caps[i].tokens && d != (double)(long long)d)) {
            snprintf(err, errlen, "--%s: expected %s (0 = no cap), got '%s'",
                     name, caps[i].tokens ? "a whole number of tokens" : "USD",
                     arg);
            return -1;
        }
        *set_field(s, i) = d;
        return 1;
    }
    return 0;
}

int
limits_budget_set(redisContext *c, const char *queue,
                  const struct budget_set *s, char *err, size_t errlen)
{
    char day[KEY_BUDGET_LEN], month[KEY_BUDGET_LEN];
    long long now = (long long)time(NULL);
    int sent = 0;

    key_budget_day(day, sizeof(day), now, NULL);
    key_budget_month(month, sizeof(month), now, NULL);
    for (int i = 0; i < NCAPS; i++) {
        double v = get_field(s, i);
        char f[QUEUE_NAME_MAX + 24], val[48];

        if (v < 0)
            continue;
        snprintf(f, sizeof(f), "%s%s%s%s", queue ? "q:" : "",
                 queue ? queue : "", queue ? ":" : "", caps[i].field);
        snprintf(val, sizeof(val), "%.17g", v);
        if ((v > 0 ? redisAppendCommand(c, "HSET %s %s %s", KEY_BUDGET_CAPS, f,
                                        val)
                   : redisAppendCommand(c, "HDEL %s %s", KEY_BUDGET_CAPS, f)) !=
                REDIS_OK ||
            redisAppendCommand(c, "HDEL %s alert:%s",
                               strstr(caps[i].field, "day") ? day : month,
                               f) != REDIS_OK) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        sent += 2;
    }
    for (int i = 0; i < sent; i++) {
        redisReply *r = NULL;
        int bad = redisGetReply(c, (void **)&r) != REDIS_OK || !r ||
                  r->type == REDIS_REPLY_ERROR;
        if (bad) {
            snprintf(err, errlen, "redis: %s",
                     r && r->str ? r->str : c->errstr);
            if (r)
                freeReplyObject(r);
            return -1;
        }
        freeReplyObject(r);
    }
    return 0;
}

/* Set o's member k (added, or replaced in place) to the number v, or to
 * null when v <= 0 and null_if_none. 0, or -1 when out of memory. */
static int
set_num(cJSON *o, const char *k, double v, int null_if_none)
{
    cJSON *n =
        null_if_none && v <= 0 ? cJSON_CreateNull() : cJSON_CreateNumber(v);

    if (!n)
        return -1;
    if (cJSON_GetObjectItemCaseSensitive(o, k))
        return cJSON_ReplaceItemInObjectCaseSensitive(o, k, n) ? 0 : -1;
    return cJSON_AddItemToObject(o, k, n) ? 0 : -1;
}

/* The per-queue object q of parent's "queues" (made on first use), or
 * NULL (out of memory). */
static cJSON *
queue_obj(cJSON *parent, const char *q)
{
    cJSON *qs = cJSON_GetObjectItem(parent, "queues"), *o;

    if (!qs && !(qs = cJSON_AddObjectToObject(parent, "queues")))
        return NULL;
    o = cJSON_GetObjectItem(qs, q);
    return o ? o : cJSON_AddObjectToObject(qs, q);
}

/* "q:Q:rest" -> Q into q (n bytes), returns rest; NULL when not a queue
 * field. */
static const char *
split_q(const char *f, char *q, size_t n)
{
    const char *c;

    if (strncmp(f, "q:", 2) != 0 || !(c = strrchr(f, ':')) || c == f + 1 ||
        (size_t)(c - f - 2) >= n)
        return NULL;
    memcpy(q, f + 2, (size_t)(c - f - 2));
    q[c - f - 2] = '\0';
    return c + 1;
}

/* The document name of cap field f (of a queue when queue), or NULL. */
static const char *
cap_name(const char *f, int queue, int reservations)
{
    (void)queue;
    (void)reservations;
    for (int i = 0; i < NCAPS; i++)
        if (!strcmp(f, caps[i].field))
            return caps[i].alias;
    return NULL;
}

/* The document name of spend field f of a period's hash (the rest of a
 * queue's field when queue), or NULL. */
static const char *
spend_name(const char *f, int queue, int reservations)
{
    if (!strcmp(f, "usd"))
        return "usd";
    if (!strcmp(f, "tok"))
        return "tokens";
    if (!queue && reservations && !strcmp(f, "res_usd"))
        return "reserved_usd";
    if (!queue && reservations && !strcmp(f, "res_tok"))
        return "reserved_tokens";
    return NULL;
}

/* The reason of a failed read of key into err: Redis's error reply,
 * another reply's type, the connection's error, or out of memory. */
static void
read_error(redisContext *c, const char *key, const redisReply *r, char *err,
           size_t errlen)
{
    if (r && r->type == REDIS_REPLY_ERROR)
        snprintf(err, errlen, "%s: %s", key, r->str);
    else if (r && r->type != REDIS_REPLY_ARRAY)
        snprintf(err, errlen, "%s: not a hash (reply type %d)", key, r->type);
    else if (!r)
        snprintf(err, errlen, "%s: %s", key,
                 c->errstr[0] ? c->errstr : "no reply");
    else
        snprintf(err, errlen, "%s: out of memory", key);
}

/* HGETALL key into o: each field name_of() knows becomes a number of o,
 * or of o's queue for a "q:Q:" field (null_if_none: see set_num()). 0, or
 * -1 with the reason in err (Redis error, out of memory). */
static int
fold_hash(redisContext *c, const char *key, cJSON *o,
          const char *(*name_of)(const char *f, int queue, int reservations),
          int reservations, int null_if_none, char *err, size_t errlen)
{
    redisReply *r = rclient_command(c, "HGETALL %s", key);
    int bad = !r || r->type != REDIS_REPLY_ARRAY;

    for (size_t i = 0; !bad && i + 1 < r->elements; i += 2) {
        char q[QUEUE_NAME_MAX + 1];
        const char *f = r->element[i]->str;
        const char *rest = split_q(f, q, sizeof(q));
        const char *name = name_of(rest ? rest : f, rest != NULL, reservations);
        cJSON *t;

        if (!name)
            continue; /* alert marks, fields of a later version */
        t = rest ? queue_obj(o, q) : o;
        bad = !t || set_num(t, name, strtod(r->element[i + 1]->str, NULL),
                            null_if_none) < 0;
    }
    if (bad)
        read_error(c, key, r, err, errlen);
    if (r)
        freeReplyObject(r);
    return bad ? -1 : 0;
}

/* Caps from the caps hash into o. 0, or -1 with the reason in err. */
static int
caps_section(redisContext *c, cJSON *o, char *err, size_t errlen)
{
    int bad = 0;

    for (int i = 0; i < NCAPS && !bad; i++)
        bad = set_num(o, caps[i].alias, 0, 1) < 0;
    if (bad || !cJSON_AddObjectToObject(o, "queues")) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return fold_hash(c, KEY_BUDGET_CAPS, o, cap_name, 0, 1, err, errlen);
}

/* Spend of one period's hash into o. 0, or -1 with the reason in err. */
static int
period_section(redisContext *c, const char *key, const char *period,
               int reservations, cJSON *o, char *err, size_t errlen)
{
    if (!cJSON_AddStringToObject(o, "period", period) ||
        set_num(o, "usd", 0, 0) < 0 || set_num(o, "tokens", 0, 0) < 0 ||
        (reservations && (set_num(o, "reserved_usd", 0, 0) < 0 ||
                          set_num(o, "reserved_tokens", 0, 0) < 0)) ||
        !cJSON_AddObjectToObject(o, "queues")) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return fold_hash(c, key, o, spend_name, reservations, 0, err, errlen);
}

int
limits_budget_section(redisContext *c, cJSON *doc, char *err, size_t errlen)
{
    char day[KEY_BUDGET_LEN], month[KEY_BUDGET_LEN];
    long long now = (long long)time(NULL);
    cJSON *b = cJSON_AddObjectToObject(doc, "budget");
    cJSON *cp = b ? cJSON_AddObjectToObject(b, "caps") : NULL;
    cJSON *d = b ? cJSON_AddObjectToObject(b, "day") : NULL;
    cJSON *m = b ? cJSON_AddObjectToObject(b, "month") : NULL;

    if (!cp || !d || !m) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    key_budget_day(day, sizeof(day), now, NULL);
    key_budget_month(month, sizeof(month), now, NULL);
    if (caps_section(c, cp, err, errlen) < 0 ||
        period_section(c, day, day + sizeof(KEY_BUDGET_DAY_PREFIX) - 1, 1, d,
                       err, errlen) < 0 ||
        period_section(c, month, month + sizeof(KEY_BUDGET_MONTH_PREFIX) - 1, 0,
                       m, err, errlen) < 0)
        return -1;
    return 0;
}

/* "12.50 / 100.00 USD" or "12.50 USD (no cap)" into out. */
static void
fmt_against(char *out, size_t n, const cJSON *spent, const cJSON *cap,
            int tokens)
{
    double s = cJSON_IsNumber(spent) ? spent->valuedouble : 0;

    if (cJSON_IsNumber(cap))
        snprintf(out, n,
                 tokens ? "%.0f / %.0f tokens (%.1f%%)"
                        : "%.4f / %.2f USD (%.1f%%)",
                 s, cap->valuedouble, 100.0 * s / cap->valuedouble);
    else
        snprintf(out, n, tokens ? "%.0f tokens (no cap)" : "%.4f USD (no cap)",
                 s);
}

static void
print_scope(const char *label, const cJSON *caps_o, const cJSON *day,
            const cJSON *month)
{
    char a[96], b[96], c2[96], d2[96];

    fmt_against(a, sizeof(a), cJSON_GetObjectItem(day, "usd"),
                cJSON_GetObjectItem(caps_o, "usd-day"), 0);
    fmt_against(b, sizeof(b), cJSON_GetObjectItem(day, "tokens"),
                cJSON_GetObjectItem(caps_o, "tokens-day"), 1);
    fmt_against(c2, sizeof(c2), cJSON_GetObjectItem(month, "usd"),
                cJSON_GetObjectItem(caps_o, "usd-month"), 0);
    fmt_against(d2, sizeof(d2), cJSON_GetObjectItem(month, "tokens"),
                cJSON_GetObjectItem(caps_o, "tokens-month"), 1);
    printf("%s\n  today:      %s; %s\n  this month: %s; %s\n", label, a, b, c2,
           d2);
}

void
limits_budget_print(const cJSON *budget)
{
    const cJSON *cp = cJSON_GetObjectItem(budget, "caps");
    const cJSON *d = cJSON_GetObjectItem(budget, "day");
    const cJSON *m = cJSON_GetObjectItem(budget, "month");
    const cJSON *q;
    char label[160];

    snprintf(label, sizeof(label), "budget, fleet-wide (day %s UTC, month %s):",
             cJSON_GetStringValue(cJSON_GetObjectItem(d, "period")),
             cJSON_GetStringValue(cJSON_GetObjectItem(m, "period")));
    print_scope(label, cp, d, m);
    printf("  in flight:  %.4f USD, %.0f tokens reserved\n",
           cJSON_GetNumberValue(cJSON_GetObjectItem(d, "reserved_usd")),
           cJSON_GetNumberValue(cJSON_GetObjectItem(d, "reserved_tokens")));
    /* every queue with a cap or spend */
    cJSON_ArrayForEach(q, cJSON_GetObjectItem(cp, "queues"))
    {
        snprintf(label, sizeof(label), "queue %s:", q->string);
        print_scope(
            label, q,
            cJSON_GetObjectItem(cJSON_GetObjectItem(d, "queues"), q->string),
            cJSON_GetObjectItem(cJSON_GetObjectItem(m, "queues"), q->string));
    }
    cJSON_ArrayForEach(q, cJSON_GetObjectItem(d, "queues"))
    {
        if (cJSON_GetObjectItem(cJSON_GetObjectItem(cp, "queues"), q->string))
            continue;
        snprintf(label, sizeof(label), "queue %s:", q->string);
        print_scope(
            label, NULL, q,
            cJSON_GetObjectItem(cJSON_GetObjectItem(m, "queues"), q->string));
    }
}
