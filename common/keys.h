/* Redis key names of a queue. Every key of queue Q carries the hash tag {Q},
 * so one queue lives in one Redis Cluster slot and every script touches one
 * slot only. The layout itself is private: tools read jobs through scripts. */
#ifndef GENQ_KEYS_H
#define GENQ_KEYS_H

#include <stddef.h>

#define QUEUE_NAME_MAX 64

/* Order matters: it is the KEYS order of every Lua script (prelude.lua). */
enum qkey {
    QK_READY_HIGH,
    QK_READY,
    QK_READY_LOW,
    QK_JOBS,
    QK_META,
    QK_LEASES,
    QK_DELAYED,
    QK_RESULTS,
    QK_DONE,
    QK_DEAD,
    QK_ERRORS,
    QK_HISTORY,
    QK_PROGRESS,
    QK_EVENTS,
    QK_STATS,
    QK_PAUSED,
    QK_SEQ,
    QK_COUNT
};

/* Keys outside any queue's slot. Every key name genq uses is built here or
 * from struct qkeys: no other file spells a "genq:" key. */
#define KEY_QUEUES  "genq:queues"  /* set of known queue names */
#define KEY_WORKERS "genq:workers" /* hash: worker id -> JSON doc */
#define KEY_WORKERS_BEAT                                                       \
    "genq:workers:beat"                /* zset: worker id -> last beat         \
                                        */
#define KEY_ALERTS       "genq:alerts" /* list of alert documents */
#define KEY_CACHE_PREFIX "genq:cache:" /* + sha256 hex of the request */
#define KEY_SPEND_PREFIX "genq:spend:" /* + UTC day YYYY-MM-DD */
#define KEY_LAYOUT       "genq:layout" /* layout version (string) */
#define KEY_LIMITS       "genq:limits" /* set of known limit key ids */
/* A limit key's state (limiter.lua: one hash), "genq:lim:{ID}" with its
 * own hash tag: one Redis Cluster slot per limit key. */
#define KEY_LIM_PREFIX "genq:lim:"

/* Keys of queue Q outside the scripts' KEYS list, as suffixes of the
 * prefix "genq:{Q}:" of struct qkeys (the Lua scripts spell the same). */
#define QKEY_RATE       "rate"    /* hash: unix second -> jobs added */
#define QKEY_STAGING    "staging" /* hash: staging run -> ms of last batch */
#define QKEY_STAGE_LIST "stage:"  /* + RUN ":" P: ids staged by a run */

struct qkeys {
    char queue[QUEUE_NAME_MAX + 1];
    char prefix[QUEUE_NAME_MAX + 16];  /* "genq:{Q}:" */
    char wake[QUEUE_NAME_MAX + 24];    /* pub/sub channel "genq:{Q}:wake" */
    char rate[QUEUE_NAME_MAX + 24];    /* hash: unix second -> enqueued */
    char staging[QUEUE_NAME_MAX + 24]; /* hash: staging run -> last batch ms */
    char key[QK_COUNT][QUEUE_NAME_MAX + 32];
    const char *keyv[QK_COUNT]; /* pointers into key[], for argv building */
};

/* Whether name is a valid queue name: 1..64 of [A-Za-z0-9._-]. */
int queue_name_valid(const char *name);

/* Fill k for queue name. Returns -1 (k untouched) when the name is not
 * valid. No allocation: nothing to free. */
int qkeys_init(struct qkeys *k, const char *queue);

/* Keys of a queue outside the KEYS table of the scripts (the Lua side
 * builds the same names from PREFIX, prelude.lua): the idempotency key of
 * a job is prefix + QKEY_IDEM + key; a staging run's list of priority p is
 * prefix + "stage:" + run + ":" + p (qkeys_stage()). */
#define QKEY_IDEM "idem:"
/* Write the stage list key of run and priority prio into out (n bytes). */
void qkeys_stage(const struct qkeys *k, const char *run, int prio, char *out,
                 size_t n);

/* Write the spend key of the UTC day of unix time t ("genq:spend:YYYY-MM-DD")
 * into out (at least KEY_SPEND_LEN bytes). */
#define KEY_SPEND_LEN 32
void key_spend_day(char *out, size_t n, long long t);

/* The limit key id of provider, API base and model class: "PROVIDER|BASE|
 * CLASS" with '{', '}' and spaces made '_' (a hash tag must not close
 * early). Writes at most n bytes into out. */
void key_limit_id(char *out, size_t n, const char *provider,
                  const char *api_base, const char *model_class);
/* The state key of limit key id ("genq:lim:{ID}") into out (n bytes).
 * Returns -1 when it does not fit or id holds '{' or '}'. */
int key_limit_state(char *out, size_t n, const char *id);

#endif
