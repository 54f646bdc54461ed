/* Shared helpers of the operators' subcommands (see cmd_ops.h): terminal,
 * arguments, ids, dead-letter documents and the dead-letter pager. */
#include "fmacros.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_ops.h"
#include "errclass.h"
#include "idwin.h"
#include "pack.h"
#include "rclient.h"
#include "timefmt.h"
#include "utf8.h"

void
ops_tty_init(struct ops_tty *t)
{
    const char *nc = getenv("NO_COLOR");

    t->tty = isatty(STDOUT_FILENO);
    t->color = t->tty && !(nc && *nc);
}

const char *
ops_col(const struct ops_tty *t, const char *code)
{
    return t->color ? code : "";
}

int
ops_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;

    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int
ops_parse_duration(const char *s, int64_t *ms)
{
    char *end;
    double v, mul = 1000.0;

    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || v < 0 || v > 1e11)
        return -1;
    if (!strcmp(end, "ms"))
        mul = 1.0;
    else if (!strcmp(end, "s") || !*end)
        mul = 1000.0;
    else if (!strcmp(end, "m"))
        mul = 60e3;
    else if (!strcmp(end, "h"))
        mul = 3600e3;
    else if (!strcmp(end, "d"))
        mul = 86400e3;
    else
        return -1;
    *ms = (int64_t)(v * mul + 0.5);
    return 0;
}

int
ops_parse_since(const char *s, int64_t now_ms, int64_t *ms)
{
    int64_t d;

    if (timefmt_rfc3339_parse(s, ms) == 0)
        return 0;
    if (ops_parse_duration(s, &d) < 0)
        return -1;
    *ms = now_ms - d;
    return 0;
}

int
ops_server_now(redisContext *c, const char *cmd, int64_t *ms)
{
    redisReply *r = redisCommand(c, "TIME");

    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_STRING) {
        cli_fail(cmd, "redis TIME: %s",
                 r && r->type == REDIS_REPLY_ERROR ? r->str
                 : r                               ? "unexpected reply"
                                                   : c->errstr);
        if (r)
            freeReplyObject(r);
        return -1;
    }
    *ms = strtoll(r->element[0]->str, NULL, 10) * 1000 +
          strtoll(r->element[1]->str, NULL, 10) / 1000;
    freeReplyObject(r);
    return 0;
}

void
ops_oneline(const char *s, size_t max, int ellipsis, char *out, size_t n)
{
    size_t o = 0, chars = 0, i = 0, len;

    if (n == 0)
        return;
    out[0] = '\0';
    if (!s)
        return;
    len = strlen(s);
    while (i < len) {
        unsigned char ch = (unsigned char)s[i];
        size_t w = ch < 0x80 ? 1 : ch >= 0xf0 ? 4 : ch >= 0xe0 ? 3 : 2;

        if (i + w > len)
            break;
        if (chars == max) {
            if (ellipsis && o + 4 <= n - 1) {
                memcpy(out + o, "\xe2\x80\xa6", 3); /* … */
                o += 3;
            }
            break;
        }
        if (o + w > n - 1 - (ellipsis ? 3 : 0))
            break;
        if (ch < 0x20 || ch == 0x7f)
            out[o++] = ' ';
        else {
            memcpy(out + o, s + i, w);
            o += w;
        }
        i += w;
        chars++;
    }
    out[utf8_truncate(out, o)] = '\0';
}

void
ops_jnum(cJSON *o, const char *name, double v, int *bad)
{
    if (!o || !cJSON_AddNumberToObject(o, name, v))
        *bad = 1;
}

void
ops_jstr(cJSON *o, const char *name, const char *s, int *bad)
{
    if (!o || !(s ? cJSON_AddStringToObject(o, name, s)
                  : cJSON_AddNullToObject(o, name)))
        *bad = 1;
}

void
ops_jbool(cJSON *o, const char *name, int v, int *bad)
{
    if (!o || !cJSON_AddBoolToObject(o, name, v))
        *bad = 1;
}

void
ops_jnull(cJSON *o, const char *name, int *bad)
{
    if (!o || !cJSON_AddNullToObject(o, name))
        *bad = 1;
}

int
ops_print_doc(cJSON *j, int bad)
{
    if (bad) {
        cJSON_Delete(j);
        j = NULL;
    }
    return cli_print_json(j);
}

void
ops_free_strs(char **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
}

void
ops_ids_init(struct ops_ids *s, int argc, char **argv)
{
    memset(s, 0, sizeof(*s));
    s->argc = argc;
    s->argv = argv;
}

const char *
ops_ids_next(struct ops_ids *s)
{
    for (;;) {
        ssize_t n;

        if (!s->from_stdin) {
            if (s->i >= s->argc)
                return NULL;
            if (strcmp(s->argv[s->i], "-") == 0) {
                s->from_stdin = 1;
                s->i++;
                continue;
            }
            return s->argv[s->i++];
        }
        n = getline(&s->line, &s->cap, stdin);
        if (n < 0) {
            s->from_stdin = 0;
            continue;
        }
        while (n > 0 && (s->line[n - 1] == '\n' || s->line[n - 1] == '\r' ||
                         s->line[n - 1] == ' ' || s->line[n - 1] == '\t'))
            s->line[--n] = '\0';
        if (n == 0)
            continue;
        return s->line;
    }
}

void
ops_ids_free(struct ops_ids *s)
{
    free(s->line);
    s->line = NULL;
}

int
ops_meta_parse(const char *s, struct ops_meta *m)
{
    const char *f[9], *p;
    int n = 1;
    size_t sl;

    if (!s)
        return -1;
    f[0] = s;
    for (p = s; *p && n < 9; p++)
        if (*p == '|')
            f[n++] = p + 1;
    if (n != 9)
        return -1;
    sl = (size_t)(f[1] - f[0] - 1);
    if (sl >= sizeof(m->state))
        return -1;
    memcpy(m->state, s, sl);
    m->state[sl] = '\0';
    sl = (size_t)(f[6] - f[5] - 1);
    if (sl >= sizeof(m->worker))
        sl = sizeof(m->worker) - 1;
    memcpy(m->worker, f[5], sl);
    m->worker[sl] = '\0';
    m->attempts = strtol(f[1], NULL, 10);
    m->max_attempts = strtol(f[2], NULL, 10);
    m->prio = strtol(f[3], NULL, 10);
    if (m->prio < 0 || m->prio > 2)
        m->prio = 1;
    m->enqueued_ms = strtoll(f[6], NULL, 10);
    m->updated_ms = strtoll(f[7], NULL, 10);
    return 0;
}

cJSON *
ops_history_doc(const char *s)
{
    cJSON *h = s ? cJSON_Parse(s) : NULL, *e;

    if (!h || !cJSON_IsArray(h)) {
        cJSON_Delete(h);
        return cJSON_CreateArray();
    }
    cJSON_ArrayForEach(e, h)
    {
        cJSON *at = cJSON_GetObjectItemCaseSensitive(e, "at");
        if (cJSON_IsNumber(at)) {
            char ts[32];
            cJSON *v;

            timefmt_rfc3339((int64_t)at->valuedouble, ts);
            v = cJSON_CreateString(ts);
            if (!v || !cJSON_ReplaceItemInObjectCaseSensitive(e, "at", v)) {
                cJSON_Delete(v);
                cJSON_Delete(h);
                return NULL;
            }
        }
    }
    return h;
}

/* An error object with every field of the schema's error definition. */
static cJSON *
error_doc(const char *s)
{
    static const char *const keys[] = {"http_status", "type", "request_id"};
    cJSON *e = s ? cJSON_Parse(s) : NULL;

    if (!e || !cJSON_IsObject(e)) {
        cJSON_Delete(e);
        e = cJSON_CreateObject();
        if (!e || !cJSON_AddStringToObject(e, "class", DLQ_PERMANENT) ||
            !cJSON_AddStringToObject(e, "message", "(no error recorded)")) {
            cJSON_Delete(e);
            return NULL;
        }
    }
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (!cJSON_GetObjectItemCaseSensitive(e, keys[i]) &&
            !cJSON_AddNullToObject(e, keys[i])) {
            cJSON_Delete(e);
            return NULL;
        }
    if (!cJSON_GetObjectItemCaseSensitive(e, "message") &&
        !cJSON_AddStringToObject(e, "message", "")) {
        cJSON_Delete(e);
        return NULL;
    }
    return e;
}

cJSON *
ops_deadletter_doc(const char *id, long long died_ms, const char *meta,
                   const char *error, const char *history, const char *payload)
{
    cJSON *o = cJSON_CreateObject(), *job, *err, *hist;
    struct ops_meta m;
    char ts[32];

    if (!o)
        return NULL;
    if (!cJSON_AddStringToObject(o, "id", id))
        goto oom;
    job = payload ? cJSON_Parse(payload) : NULL;
    if (!job || !cJSON_IsObject(job)) {
        /* Not a JSON object (it can only be an invalid stored job): keep
         * the text so nothing is lost. */
        cJSON_Delete(job);
        job = cJSON_CreateObject();
        if (!job ||
            (payload && !cJSON_AddStringToObject(job, "unparsed", payload))) {
            cJSON_Delete(job);
            goto oom;
        }
    }
    cJSON_AddItemToObject(o, "job", job);
    err = error_doc(error);
    if (!err)
        goto oom;
    cJSON_AddItemToObject(o, "error", err);
    if (!cJSON_AddNumberToObject(
            o, "attempts",
            ops_meta_parse(meta, &m) == 0 ? (double)m.attempts : 0.0))
        goto oom;
    timefmt_rfc3339((int64_t)died_ms, ts);
    if (!cJSON_AddStringToObject(o, "died_at", ts))
        goto oom;
    hist = ops_history_doc(history);
    if (!hist)
        goto oom;
    cJSON_AddItemToObject(o, "history", hist);
    return o;
oom:
    cJSON_Delete(o);
    return NULL;
}

int
dlq_filter_any(const struct dlq_filter *f)
{
    return f->cls || f->status || f->since_ms || f->until_ms || f->grep;
}

void
dlq_pager_init(struct dlq_pager *p, struct cli *c, const struct dlq_filter *f,
               int detail, int count)
{
    memset(p, 0, sizeof(*p));
    p->c = c;
    p->f = f;
    p->detail = detail;
    p->count = count;
    /* Filters on the error need it, whatever the caller asked for. */
    if ((f->cls || f->status) && p->detail < DLQ_DETAIL_FILTER)
        p->detail = DLQ_DETAIL_FILTER;
}

/* The dlq_page call of p's next page: its 7 arguments into av, the
 * numbers written into b (which must outlive the call). */
struct pager_nums {
    char lo[32], hi[32], cnt[16], det[8];
};
#define PAGER_ARGC 7
static void
pager_args(const struct dlq_pager *p, const char *av[PAGER_ARGC],
           struct pager_nums *b)
{
    if (p->f->since_ms)
        snprintf(b->lo, sizeof(b->lo), "%" PRId64, p->f->since_ms);
    else
        snprintf(b->lo, sizeof(b->lo), "-inf");
    if (p->f->until_ms)
        snprintf(b->hi, sizeof(b->hi), "%" PRId64, p->f->until_ms);
    else
        snprintf(b->hi, sizeof(b->hi), "+inf");
    snprintf(b->cnt, sizeof(b->cnt), "%d", p->count);
    snprintf(b->det, sizeof(b->det), "%d", p->detail);
    av[0] = p->started ? p->score : "";
    av[1] = p->started ? p->last : "";
    av[2] = b->lo;
    av[3] = b->hi;
    av[4] = b->cnt;
    av[5] = b->det;
    av[6] = p->f->grep ? p->f->grep : "";
}

int
dlq_pager_append(struct dlq_pager *p)
{
    struct pager_nums b;
    const char *av[PAGER_ARGC];

    pager_args(p, av, &b);
    return rclient_append_script(p->c->rc, SCRIPT_DLQ_PAGE, &p->c->keys,
                                 PAGER_ARGC, av, NULL);
}

int
dlq_pager_read(struct dlq_pager *p, const char *cmd)
{
    struct pager_nums b;
    const char *av[PAGER_ARGC];
    redisReply *r;
    size_t n;

    freeReplyObject(p->page); /* accepts NULL */
    p->page = NULL;
    p->pos = 0;
    /* the cursor is unchanged since the append: a call the cluster refused
     * is made again alone with the same arguments (idwin_read_call) */
    pager_args(p, av, &b);
    r = idwin_read_call(p->c, cmd, SCRIPT_DLQ_PAGE, av, PAGER_ARGC, NULL, 0,
                        IDWIN_ANY);
    if (!r)
        return -1;
    if (r->elements < 3 || r->element[2]->type != REDIS_REPLY_INTEGER ||
        r->elements != 3 + (size_t)r->element[2]->integer * DLQ_PAGE_GROUP) {
        freeReplyObject(r);
        cli_fail(cmd, "unexpected reply from the dlq_page script");
        return -1;
    }
    n = (size_t)r->element[2]->integer;
    if (n > 0) {
        if (r->element[0]->type != REDIS_REPLY_STRING ||
            r->element[1]->type != REDIS_REPLY_STRING ||
            r->element[1]->len >= sizeof(p->last) ||
            r->element[0]->len >= sizeof(p->score)) {
            freeReplyObject(r);
            cli_fail(cmd, "unexpected cursor from the dlq_page script");
            return -1;
        }
        snprintf(p->score, sizeof(p->score), "%s", r->element[0]->str);
        snprintf(p->last, sizeof(p->last), "%s", r->element[1]->str);
        p->started = 1;
    }
    if (n < (size_t)p->count)
        p->end = 1;
    p->page = r;
    return (int)n;
}

static const char *
str_of(redisReply *r)
{
    return r->type == REDIS_REPLY_STRING ? r->str : NULL;
}

/* Whether e passes the class and HTTP status filters. */
static int
error_matches(const struct dlq_filter *f, const char *error)
{
    cJSON *e;
    int ok = 1;

    if (!f->cls && !f->status)
        return 1;
    e = error ? cJSON_Parse(error) : NULL;
    if (f->cls) {
        const char *c =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "class"));
        ok = c && !strcmp(c, f->cls);
    }
    if (ok && f->status) {
        cJSON *s = cJSON_GetObjectItemCaseSensitive(e, "http_status");
        ok = cJSON_IsNumber(s) && (long)s->valuedouble == f->status;
    }
    cJSON_Delete(e);
    return ok;
}

int
dlq_pager_next(struct dlq_pager *p, struct dlq_entry *e)
{
    while (p->page && p->pos < (size_t)p->page->element[2]->integer) {
        redisReply **g = &p->page->element[3 + p->pos * DLQ_PAGE_GROUP];

        p->pos++;
        if (!str_of(g[0]))
            continue;
        memset(e, 0, sizeof(*e));
        e->id = g[0]->str;
        e->died_ms = str_of(g[1]) ? strtoll(g[1]->str, NULL, 10) : 0;
        e->meta = str_of(g[2]);
        e->error = str_of(g[3]);
        e->excerpt = str_of(g[4]);
        e->grep_hit =
            g[5]->type == REDIS_REPLY_INTEGER ? (int)g[5]->integer : 0;
        e->payload = str_of(g[6]);
        e->history = str_of(g[7]);
        dlq_entry_unpack(p, e, g[6]); /* a compressed job: decoded */
        if (p->f->grep && !e->grep_hit)
            continue;
        if (!error_matches(p->f, e->error))
            continue;
        return 1;
    }
    return 0;
}

void
dlq_pager_free(struct dlq_pager *p)
{
    if (p->page)
        freeReplyObject(p->page);
    p->page = NULL;
    dlq_entry_unpack(p, NULL, NULL);
    packer_free(p->pk);
    p->pk = NULL;
}
