/* The private interface between the `genq dlq` subcommands: cmd_dlq.c
 * (options, ls, show, export) and dlq_change.c (requeue and purge). */
#ifndef GENQ_DLQ_H
#define GENQ_DLQ_H

#include "cmd_ops.h"

enum {
    O_CLASS = 1 << 0,
    O_STATUS = 1 << 1,
    O_SINCE = 1 << 2,
    O_GREP = 1 << 3,
    O_LIMIT = 1 << 4,
    O_ALL = 1 << 5,
    O_OLDER = 1 << 6,
    O_DRY = 1 << 7,
    O_KEEP = 1 << 8,
    O_YES = 1 << 9
};

struct dlqopt {
    const char *sub;
    char cmd[32]; /* "dlq SUB", for messages */
    int allowed;  /* O_* that SUB takes */
    struct cli c;
    struct dlq_filter f;
    const char *since_arg, *older_arg;
    long limit;
    int all, dry_run, keep_attempts, yes;
    int argc; /* the rest: ids */
    char **argv;
    cJSON **report; /* not NULL: dlq_change() leaves its --json document
                       here (caller frees) instead of printing; the
                       dashboard's hook (docs.h) */
};

/* Connect, then turn --since / --older-than into times by Redis's clock.
 * 0, or -1 after printing the problem. */
int dlq_connect(struct dlqopt *o);

/* genq dlq requeue (purge = 0) or purge (1) with the options o parsed.
 * Returns the exit code; closes o->c. */
int dlq_change(struct dlqopt *o, int purge);

/* The --help texts of requeue and purge. */
extern const char dlq_requeue_help[];
extern const char dlq_purge_help[];

#endif
