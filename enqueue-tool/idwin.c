/* The pipelined id window of status, cancel and dlq requeue/purge (see
 * idwin.h): a ring of batches of strdup'ed ids, filled from argv or stdin,
 * each sent as one script call, its reply handed to the caller's
 * report(). */
#include "fmacros.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cluster.h"
#include "clustersync.h"
#include "cmd_ops.h"
#include "idwin.h"
#include "ready_find.h"

#define IDWIN_MAX 16

struct idbatch {
    char **ids;
    int n;
};

static void
idbatch_clear(struct idbatch *b)
{
    ops_free_strs(b->ids, b->n);
    b->n = 0;
}

long
idwin_run(const struct idwin *w, int argc, char **argv, int *any)
{
    struct idbatch win[IDWIN_MAX];
    struct ops_ids src;
    int head = 0, used = 0, window = w->window, batch = w->batch;
    long sum = 0;
    const char *id;

    if (window > IDWIN_MAX)
        window = IDWIN_MAX;
    if (window < 1 || w->find_queued)
        window = 1;
    if (batch < 1)
        batch = 1;
    *any = 0;
    memset(win, 0, sizeof(win));
    ops_ids_init(&src, argc, argv);
    for (int i = 0; i < window; i++) {
        win[i].ids = calloc((size_t)batch, sizeof(char *));
        if (!win[i].ids) {
            cli_fail(w->cmd, "out of memory");
            goto fail;
        }
    }
    for (int done = 0;;) {
        struct idbatch *b;

        /* a full window, or the end: read the oldest call's replies */
        if (used == window || (done && used > 0)) {
            redisReply *r = idwin_read_call(w->c, w->cmd, w->script, w->pre,
                                            w->npre, win[head].ids, win[head].n,
                                            (size_t)win[head].n * w->fields);
            int k = r ? w->report(w->ctx, win[head].ids, win[head].n, r) : -1;
            if (r)
                freeReplyObject(r);
            if (k < 0)
                goto fail;
            sum += k;
            idbatch_clear(&win[head]);
            head = (head + 1) % window;
            used--;
            continue;
        }
        if (done)
            break;
        b = &win[(head + used) % window];
        while (b->n < batch && (id = ops_ids_next(&src)) != NULL) {
            b->ids[b->n] = strdup(id);
            if (!b->ids[b->n]) {
                cli_fail(w->cmd, "out of memory");
                goto fail;
            }
            b->n++;
            *any = 1;
        }
        if (b->n == 0) {
            done = 1;
            continue;
        }
        if (w->find_queued) { /* nothing in flight: window 1 */
            char err[512];
            if (ready_find(w->c->rc, &w->c->keys, (const char *const *)b->ids,
                           b->n, err, sizeof(err)) < 0) {
                cli_fail(w->cmd, "%s", err);
                goto fail;
            }
        }
        if (idwin_append_script(w->c, w->script, w->pre, w->npre, b->ids,
                                b->n) < 0) {
            cli_fail(w->cmd, "out of memory");
            goto fail;
        }
        used++;
    }
    goto out;
fail:
    sum = -1;
out:
    for (int i = 0; i < window; i++) {
        if (win[i].ids)
            idbatch_clear(&win[i]);
        free(win[i].ids);
    }
    ops_ids_free(&src);
    return sum;
}

int
idwin_exit(const struct idwin *w, int argc, char **argv)
{
    int any;
    long n = idwin_run(w, argc, argv, &any);

    if (n < 0)
        return EXIT_FAIL;
    if (!any)
        return cli_usage_error(w->cmd, "no ids given");
    return n ? EXIT_FAIL : EXIT_OK;
}

/* The arguments of a call: pre[0..npre) then ids[0..n), borrowed; the
 * array is the caller's to free. NULL when out of memory. */
static const char **
call_argv(const char *const *pre, int npre, char *const *ids, int n)
{
    const char **av = malloc(sizeof(*av) * (size_t)(npre + n + 1));

    if (!av)
        return NULL;
    for (int i = 0; i < npre; i++)
        av[i] = pre[i];
    for (int i = 0; i < n; i++)
        av[npre + i] = ids[i];
    return av;
}

int
idwin_append_script(struct cli *c, enum script_id id, const char *const *pre,
                    int npre, char *const *ids, int n)
{
    const char **av = call_argv(pre, npre, ids, n);
    int rc;

    if (!av)
        return -1;
    rc = rclient_append_script(c->rc, id, &c->keys, npre + n, av, NULL);
    free(av);
    return rc;
}

redisReply *
idwin_read_call(struct cli *c, const char *cmd, enum script_id id,
                const char *const *pre, int npre, char *const *ids, int n,
                size_t nel)
{
    char err[512], host[256];
    int slot, port;
    void *rv = NULL;
    redisReply *r;

    if (redisGetReply(c->rc, &rv) != REDIS_OK || !rv) {
        cli_fail(cmd, "redis: %s",
                 c->rc->errstr[0] ? c->rc->errstr : "I/O error");
        return NULL;
    }
    r = rv;
    /* a call a Redis Cluster refused did not run (a redirection, a slot
     * migrating: every queue script declares the slot guard, keys.h
     * QKEY_GUARD, so a call is refused whole while its slot moves) */
    if (r->type == REDIS_REPLY_ERROR && csync_active() &&
        cluster_redirect_parse(r->str, &slot, host, sizeof(host), &port) !=
            CLUSTER_REDIR_NONE) {
        /* Made again on the cluster's own connection to the queue's node,
         * which has nothing in flight: c->rc still has the calls after
         * this one to answer, and a command sent there would read their
         * replies. Those went to the same node and come back the same way,
         * each then made again here in turn. */
        redisContext *alone =
            csync_ctx_key(c->keys.key[QK_META], err, sizeof(err));
        const char **av = call_argv(pre, npre, ids, n);

        freeReplyObject(r);
        if (!alone || !av) {
            free(av);
            cli_fail(cmd, "%s", alone ? "out of memory" : err);
            return NULL;
        }
        r = rclient_script(alone, id, &c->keys, npre + n, av, NULL, err,
                           sizeof(err));
        free(av);
        if (!r) {
            cli_fail(cmd, "%s", err);
            return NULL;
        }
    } else if (r->type == REDIS_REPLY_ERROR) {
        cli_fail(cmd, "redis: %s", r->str);
        freeReplyObject(r);
        return NULL;
    }
    if (r->type != REDIS_REPLY_ARRAY ||
        (nel != IDWIN_ANY && r->elements != nel)) {
        freeReplyObject(r);
        cli_fail(cmd, "unexpected reply from Redis");
        return NULL;
    }
    return r;
}
