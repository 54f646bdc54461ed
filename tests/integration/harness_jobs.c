/* Integration-test harness, job fixtures (see harness.h): claiming through
 * the claim script, error objects as the worker writes them, dead jobs
 * made in one or many fail calls, and counting inline jobs. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "rclient.h"

redisReply *
th_claim(struct th *t, const char *worker, int n, long vis_ms, int max_attempts)
{
    char ns[16], vs[24], ms[16];
    redisReply *r;

    snprintf(ns, sizeof(ns), "%d", n);
    snprintf(vs, sizeof(vs), "%ld", vis_ms);
    snprintf(ms, sizeof(ms), "%d", max_attempts);
    r = th_script(t, SCRIPT_CLAIM, worker, ns, vs, ms, NULL);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    return r;
}

void
th_err_json(char *out, size_t n, const char *cls, int status, const char *msg)
{
    char st[16];

    if (status)
        snprintf(st, sizeof(st), "%d", status);
    else
        snprintf(st, sizeof(st), "null");
    snprintf(out, n,
             "{\"class\":\"%s\",\"http_status\":%s,\"type\":null,\"message\":"
             "\"%s\",\"request_id\":null}",
             cls, st, msg);
}

void
th_make_dead(struct th *t, const char *id, const char *prompt, const char *idem,
             const char *cls, int status, const char *msg)
{
    char payload[512], err[512];
    redisReply *r, *f;

    if (idem)
        snprintf(payload, sizeof(payload),
                 "{\"id\":\"%s\",\"prompt\":\"%s\",\"idempotency_key\":\"%s\"}",
                 id, prompt, idem);
    else
        snprintf(payload, sizeof(payload), "{\"id\":\"%s\",\"prompt\":\"%s\"}",
                 id, prompt);
    th_enqueue(t, id, 1, 0, 0, idem, payload);
    r = th_claim(t, "w-ops", 1, 60000, 5);
    cr_assert_eq(r->elements, 5, "exactly one job ready");
    cr_assert_str_eq(r->element[1]->str, id);
    th_err_json(err, sizeof(err), cls, status, msg);
    f = th_script(t, SCRIPT_FAIL, id, r->element[2]->str, "dead", "0", err,
                  NULL);
    cr_assert_str_eq(f->element[0]->str, "dead");
    freeReplyObject(f);
    freeReplyObject(r);
}

void
th_make_dead_batch(struct th *t, const char *prefix, int n)
{
    const char **av = malloc(sizeof(*av) * (size_t)(5 * n));
    char(*ids)[32] = malloc(sizeof(*ids) * (size_t)n);
    char err[256], e[512];
    redisReply *r, *f;
    int k = 0;

    cr_assert(av && ids);
    for (int i = 0; i < n; i += 500) {
        int m = n - i < 500 ? n - i : 500;
        const char *eav[2 + 7 * 500];
        char cnt[16];
        int j = 0;
        eav[j++] = "86400";
        snprintf(cnt, sizeof(cnt), "%d", m);
        eav[j++] = cnt;
        for (int x = i; x < i + m; x++) {
            snprintf(ids[x], sizeof(ids[x]), "%s%05d", prefix, x);
            eav[j++] = ids[x];
            eav[j++] = "1";
            eav[j++] = "0";
            eav[j++] = "0";
            eav[j++] = "0";
            eav[j++] = "";
            eav[j++] = "{\"prompt\":\"batch\"}";
        }
        r = rclient_script(t->c, SCRIPT_ENQUEUE, &t->k, j, eav, NULL, e,
                           sizeof(e));
        cr_assert(r, "%s", e);
        freeReplyObject(r);
    }
    th_err_json(err, sizeof(err), "exhausted", 500, "overloaded");
    r = th_claim(t, "w-ops", n, 60000, 5);
    cr_assert_eq(r->elements, 1 + 4 * (size_t)n);
    for (int i = 0; i < n; i++) {
        av[k++] = r->element[1 + 4 * i]->str;
        av[k++] = r->element[2 + 4 * i]->str;
        av[k++] = "dead";
        av[k++] = "0";
        av[k++] = err;
    }
    f = rclient_script(t->c, SCRIPT_FAIL, &t->k, k, av, NULL, e, sizeof(e));
    cr_assert(f, "%s", e);
    freeReplyObject(f);
    freeReplyObject(r);
    free(av);
    free(ids);
}

long long
th_inline(struct th *t)
{
    static const char lua[] =
        "local n = 0\n"
        "for i = 1, 3 do\n"
        "  for _, e in ipairs(redis.call('LRANGE', KEYS[i], 0, -1)) do\n"
        "    if string.byte(e, 1) == 64 then n = n + 1 end\n"
        "  end\n"
        "end\n"
        "return n\n";

    return th_rint(t, "EVAL %s 3 %s %s %s", lua, t->k.key[QK_READY_HIGH],
                   t->k.key[QK_READY], t->k.key[QK_READY_LOW]);
}

long long
th_stored(struct th *t)
{
    return th_rint(t, "HLEN %s", t->k.key[QK_JOBS]) + th_inline(t);
}

const char *
th_elem_id(const char *e, char *out, size_t n)
{
    size_t l;

    if (e[0] != '@') {
        snprintf(out, n, "%s", e);
        return out;
    }
    l = strcspn(e + 1, "|");
    snprintf(out, n, "%.*s", (int)l, e + 1);
    return out;
}
