/* The Redis Lua scripts (common/lua/NAME.lua, embedded at build time), each
 * prepended with prelude.lua (then transitions.lua and oplib.lua for all
 * but the per-job ones: scripts.c), with their SHA1 for EVALSHA. */
#ifndef GENQ_SCRIPTS_H
#define GENQ_SCRIPTS_H

enum script_id {
    SCRIPT_ENQUEUE,
    SCRIPT_CLAIM,
    SCRIPT_EXTEND,
    SCRIPT_COMPLETE,
    SCRIPT_FAIL,
    SCRIPT_MAINTAIN,
    SCRIPT_INSPECT,
    SCRIPT_STATS,
    SCRIPT_CANCEL,
    SCRIPT_PAUSE,
    SCRIPT_DLQ_PAGE,
    SCRIPT_DLQ_REQUEUE,
    SCRIPT_DLQ_PURGE,
    SCRIPT_RESULTS_PAGE,
    SCRIPT_RELEASE,
    SCRIPT_STAGE,
    SCRIPT_BUDGET,  /* KEYS of its own: budget.lua */
    SCRIPT_ANOMALY, /* KEYS of its own: anomaly.lua */
    SCRIPT_INTAKE,
    SCRIPT_LIMITER, /* keys: genq:lim:{ID} (rclient.h struct skeys) */
    /* content review, template figures (README "Content review") */
    SCRIPT_TMPLSTATS,
    SCRIPT_REVIEW_PAGE,
    SCRIPT_REVIEW_APPROVE,
    SCRIPT_REVIEW_REJECT,
    /* batch mode (worker/batch*.c) */
    SCRIPT_BATCH_RECORD,
    SCRIPT_BATCH_LEASE,
    SCRIPT_BATCH_DONE,
    SCRIPT_READY_FIND, /* queued inline jobs by id: ready_find.c */
    SCRIPT_COUNT
};

struct script {
    const char *name;
    char *text;   /* prelude + body, NUL-terminated */
    char sha[41]; /* hex SHA1 of text */
};

/* Build the script table once per process (idempotent). Returns -1 on
 * out-of-memory. The table lives until exit (never freed by design: it is
 * process-global and small; scripts_free() exists for leak checkers). */
int scripts_init(void);
void scripts_free(void);

/* Borrowed pointer into the table; scripts_init() must have succeeded. */
const struct script *script_get(enum script_id id);

/* The argv of "SCRIPT EXISTS sha1 ... shaN" of every script, in script_id
 * order, into av (borrowed pointers into the table); returns its count,
 * SCRIPT_EXISTS_ARGC. Sent before loading: SCRIPT LOAD hashes the whole
 * text of a script Redis already has (~0.6M instructions each), EXISTS
 * only looks the SHA1s up. */
#define SCRIPT_EXISTS_ARGC (SCRIPT_COUNT + 2)
int scripts_exists_argv(const char *av[SCRIPT_EXISTS_ARGC]);

#endif
