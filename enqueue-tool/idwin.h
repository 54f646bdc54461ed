/* A pipelined window over many job ids: ids from argv or stdin ("-") go to
 * Redis in batches, several calls in flight, replies read in order. Used by
 * `genq status`, `genq cancel` and `genq dlq requeue/purge ID...`. */
#ifndef GENQ_IDWIN_H
#define GENQ_IDWIN_H

#include <hiredis/hiredis.h>

#include "cli.h"
#include "rclient.h"

/* One script call per batch of ids, and what to do with its reply. */
struct idwin {
    struct cli *c;         /* connected; the queue the script runs on */
    const char *cmd;       /* in messages: "genq CMD: out of memory" */
    enum script_id script; /* called with pre[0..npre), then the ids */
    const char *const *pre;
    int npre;
    size_t fields; /* reply elements per id */
    int batch;     /* ids per call */
    int window;    /* calls in flight at most */
    /* Report one batch, ids[0..n), from its reply r: an array of n * fields
     * elements, checked. ids and r are borrowed for the call. A count >= 0
     * that idwin_run() adds up, or -1 (message printed). */
    int (*report)(void *ctx, char **ids, int n, redisReply *r);
    void *ctx;
    /* 1: before its script call, each batch goes through ready_find()
     * (queued inline jobs become findable by key; ready_find.h), one batch
     * in flight at a time */
    int find_queued;
};

/* Send every id of argv[0..argc) ("-" reads ids from stdin, one per line)
 * through w, at most w->window calls in flight. Returns the sum of the
 * report() counts, or -1 after a failure (message printed; replies still in
 * flight are left unread). *any is set to 1 when some id was read. Frees
 * everything it allocates. */
long idwin_run(const struct idwin *w, int argc, char **argv, int *any);

/* idwin_run() as a subcommand's result: the exit code. EXIT_FAIL after a
 * failure or when some report() counted (e.g. unknown ids), EXIT_USAGE when
 * no id was read ("no ids given"), else EXIT_OK. */
int idwin_exit(const struct idwin *w, int argc, char **argv);

/* Append (pipelined, not read) a call of script id on c's queue whose
 * arguments are pre[0..npre) then ids[0..n). 0, or -1 on out of memory
 * (nothing printed). */
int idwin_append_script(struct cli *c, enum script_id id,
                        const char *const *pre, int npre, char *const *ids,
                        int n);

/* Read the next reply, that of a call idwin_append_script(c, id, pre,
 * npre, ids, n) appended, which must be an array of nel elements (any
 * number: IDWIN_ANY). Returns it (caller frees with freeReplyObject()), or
 * NULL after printing the problem ("genq CMD: ..."). A call a Redis Cluster
 * refused without running it (a redirection or a slot migrating: MOVED, ASK,
 * TRYAGAIN, CLUSTERDOWN) is made again on its own by rclient_script() on the
 * cluster's connection to the queue's node (csync_ctx_key(): nothing in flight
 * there), which follows the cluster and waits out a migration (up to 10 s). pre
 * and ids are borrowed. */
#define IDWIN_ANY ((size_t)-1)
redisReply *idwin_read_call(struct cli *c, const char *cmd, enum script_id id,
                            const char *const *pre, int npre, char *const *ids,
                            int n, size_t nel);

#endif
