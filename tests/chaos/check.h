/* chaos-check internals shared by check.c, check_gen.c, check_data.c and
 * check_redis.c: the jobs of the soak, the invariant table and its breaches,
 * and the functions one part calls in another. */
#ifndef GENQ_CHAOS_CHECK_H
#define GENQ_CHAOS_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>

#define MAX_SHOWN 20
struct job {
    char *id;
    char *prompt;
    long max_tokens, max_cont, n;
    int fail400;
    /* from genq status */
    int seen;
    char state[16];
    long attempts, max_attempts;
    int continuations;
    int lease_expiries; /* lease_expired entries in its history */
    int live_expiries;  /* ... of a worker that was not SIGKILLed */
    /* from Redis */
    int in_results, in_dead, in_leases, in_delayed, in_ready;
    int feed_succeeded, feed_dead, feed_other; /* completion feed entries */
};

/* One invariant: a table row and its breaches. */
struct inv {
    const char *name;
    long checked, breaches;
    char *shown[MAX_SHOWN];
    int nshown;
};

enum {
    I_TERMINAL,
    I_ONE_STATE,
    I_TEXT,
    I_USAGE,
    I_DEAD_WHY,
    I_LIVE_DEAD,
    I_FAIL_DEAD,
    I_FEED,
    I_COUNTS,
    I_NUM
};

struct redis_view {
    long results, dead, stat_enq, stat_succ, stat_dead, stat_canceled;
    long stat_retried, stat_requeued, stat_failed, stat_lease;
    long jobs_hash, feed_entries;
    long held_claims; /* genq:{Q}:held fields: claims still counted */
    redisReply *stats;
};
/* The soak's jobs, sorted by id, and the outcomes in their histories, to
 * reconcile with the counters (check_data.c). */
extern struct job *chaos_jobs;
extern size_t chaos_njobs;
extern long chaos_hist_retry, chaos_hist_requeued, chaos_hist_dead,
    chaos_hist_lease;
/* The table's rows (check_data.c). */
extern struct inv chaos_inv[I_NUM];

/* ---- check.c ---- */

void chaos_die(const char *fmt, ...);

char *chaos_xstrdup(const char *s);

long chaos_arg_long(const char *name, const char *v, long lo, long hi);

/* ---- check_gen.c ---- */

int chaos_cmd_gen(int argc, char **argv);

/* ---- check_data.c ---- */

struct job *chaos_job_find(const char *id);

void chaos_breach(int which, const char *id, const char *fmt, ...);

FILE *chaos_open_file(const char *path);

long chaos_num_or(const cJSON *o, const char *k, long dflt);

void chaos_load_jobs(const char *path, long def_max_tokens, long def_cont);

void chaos_load_killed(const char *path);

void chaos_load_status(const char *path, size_t ntok_default, int everysec,
                       long *unknown_tolerated);

/* ---- check_redis.c ---- */

void chaos_read_redis(const char *url, const char *queue,
                      struct redis_view *rv);

#endif
