/* Redis key names of a queue. Every key of queue Q carries the hash tag {Q},
 * so one queue lives in one Redis Cluster slot and every script touches one
 * slot only. The layout itself is private: tools read jobs through scripts,
 * but for the public names of protocol version 1 below (QKEY_FEED ...; README
 * "Producers and consumers in any language"), stable within a major version. */
#ifndef GENQ_KEYS_H
#define GENQ_KEYS_H

#include <stddef.h>

#define QUEUE_NAME_MAX 64
/* A lease token's buffer, its NUL included: claim.lua's "SEQ:MS" or, for a
 * claim of inline jobs, "SEQ:MS:h" (layout 5), SEQ at most 2^53 (16
 * digits), MS 13: 33 bytes at most. */
#define LEASE_TOKEN_SIZE 48

/* The suffixes of qkey_suffix[] (keys.c); prelude.lua builds the same names
 * from the prefix. A script gets ONE of them as KEYS (QK_META: rclient.c
 * rclient_qkeys), for Redis Cluster's routing; on a cluster the slot guard
 * (QKEY_GUARD) too. */
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
    QK_EVENTS, /* no longer written (issue 15: the feed has it); kept in order
                */
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

/* Public keys of queue Q (protocol version 1), suffixes of "genq:{Q}:" like
 * the ones above; prelude.lua spells the same (K_FEED, K_NOTIFY). The
 * results hash (QK_RESULTS: id -> result document) is public too; so are
 * the inbox names (README "Producers and consumers in any language"): names
 * that must never change within the protocol version.
 *   feed    stream: one entry per terminal transition
 *   notify  hash: id -> the JSON object text of the metadata fields a job's
 *           notify list names (jobs with notify only) */
#define QKEY_FEED       "feed"
#define QKEY_NOTIFY     "notify"
#define QKEY_INBOX      "inbox"      /* list: producers LPUSH job documents */
#define QKEY_INBOX_LOCK "inbox:lock" /* string: the intake lock's token */
#define QKEY_REJECTED   "rejected"   /* list: rejection docs, newest first */
#define INBOX_PROTOCOL  1            /* the "v" of rejection documents */
/* Content review and template figures (README "Content review",
 * "Versioned templates"): private, built from the prefix like these. */
#define QKEY_REVIEW    "review"    /* zset: id -> ms it was flagged */
#define QKEY_TMPLSTATS "tmplstats" /* hash: "REF|figure" -> count (HINCRBY) */
/* Redis Cluster: a key nothing ever writes, declared by every script call
 * of the queue on a cluster after QK_META (rclient_qkeys). While the
 * queue's slot migrates, Redis refuses a call whose declared keys it does
 * not all hold (TRYAGAIN, or ASK from the old master once the keys moved),
 * so the guard keeps every script off the slot until the move ends: a script
 * running there would be stopped half-way (its earlier writes kept) by its
 * first command on a key of the slot that the node does not hold. */
#define QKEY_GUARD "slot-guard"
/* The feed's bound, XADD MAXLEN ~ N (worker --feed-maxlen, genq cancel
 * GENQ_FEED_MAXLEN; prelude.lua FEED_MAXLEN_DEFAULT); 0 turns it off. */
#define FEED_MAXLEN_DEFAULT 100000L
#define FEED_MAXLEN_MAX     1000000000L

struct qkeys {
    char queue[QUEUE_NAME_MAX + 1];
    char prefix[QUEUE_NAME_MAX + 16];  /* "genq:{Q}:" */
    char wake[QUEUE_NAME_MAX + 24];    /* pub/sub channel "genq:{Q}:wake" */
    char rate[QUEUE_NAME_MAX + 24];    /* hash: unix second -> enqueued */
    char staging[QUEUE_NAME_MAX + 24]; /* hash: staging run -> last batch ms */
    char inbox[QUEUE_NAME_MAX + 32];   /* QKEY_INBOX */
    char inbox_lock[QUEUE_NAME_MAX + 32]; /* QKEY_INBOX_LOCK */
    char rejected[QUEUE_NAME_MAX + 32];   /* QKEY_REJECTED */
    char notify[QUEUE_NAME_MAX + 32];     /* QKEY_NOTIFY */
    char review[QUEUE_NAME_MAX + 32];     /* QKEY_REVIEW */
    char tmplstats[QUEUE_NAME_MAX + 32];  /* QKEY_TMPLSTATS */
    char key[QK_COUNT][QUEUE_NAME_MAX + 32];
    const char *keyv[QK_COUNT]; /* pointers into key[], for argv building */
    char guard[QUEUE_NAME_MAX + 32]; /* QKEY_GUARD */
    const char *route[2];            /* a script's KEYS: QK_META, guard */
};

/* Whether name is a valid queue name: 1..64 of [A-Za-z0-9._-]. */
int queue_name_valid(const char *name);

/* Fill k for queue name. Returns -1 (k untouched) when the name is not
 * valid. No allocation: nothing to free. */
int qkeys_init(struct qkeys *k, const char *queue);

/* More keys of a queue (the Lua side builds the same names from PREFIX,
 * prelude.lua, oplib.lua): the idempotency key of
 * a job is prefix + QKEY_IDEM + key; a staging run's list of priority p is
 * prefix + "stage:" + run + ":" + p (qkeys_stage()). */
#define QKEY_IDEM "idem:"
/* What `genq stats` reads instead of scanning (prelude.lua K_TALLY, K_LAT):
 * hash "s:SEC" / "d:SEC" / "c:SEC" -> jobs succeeded / dead / canceled in
 * unix second SEC (the last ~70 s), and a list of the latency_ms of the
 * newest LAT_SAMPLES succeeded jobs, newest first. */
#define QKEY_TALLY  "tally"
#define QKEY_LAT    "lat"
#define LAT_SAMPLES 200
/* Write the stage list key of run and priority prio into out (n bytes). */
void qkeys_stage(const struct qkeys *k, const char *run, int prio, char *out,
                 size_t n);

/* Write the spend key of the UTC day of unix time t ("genq:spend:YYYY-MM-DD")
 * into out (at least KEY_SPEND_LEN bytes). */
#define KEY_SPEND_LEN 32
void key_spend_day(char *out, size_t n, long long t);

/* Budgets (worker/budget.c, common/lua/budget.lua): the caps (hash field
 * [q:Q:]usd_day, usd_month, tok_day, tok_month -> cap), and spend per UTC
 * day / calendar month (hash fields usd, tok, res_usd and res_tok -- of
 * it, reservations in flight --, q:Q:usd, q:Q:tok, alert:CAP). */
/* All three share the hash tag {budget}: budget.lua touches them together,
 * which Redis Cluster allows within one slot only (layout 2; layout 1 named
 * them without the tag, layout.c renames them). */
#define KEY_BUDGET_CAPS         "genq:{budget}:caps"
#define KEY_BUDGET_DAY_PREFIX   "genq:{budget}:day:"   /* + YYYY-MM-DD */
#define KEY_BUDGET_MONTH_PREFIX "genq:{budget}:month:" /* + YYYY-MM */
/* Layout 1's names of the same keys (common/layout.c renames them). */
#define KEY_V1_BUDGET_CAPS         "genq:budget:caps"
#define KEY_V1_BUDGET_DAY_PREFIX   "genq:budget:day:"
#define KEY_V1_BUDGET_MONTH_PREFIX "genq:budget:month:"
/* Spend per minute of a limit key (worker/anomaly.c): hash minute -> tokens;
 * and the marker of its last alert. Both end in "{KEY}" (anomaly.lua touches
 * the two together: one Redis Cluster slot, the limit key's). */
#define KEY_ANOMALY_RATE_PREFIX "genq:anomaly:rate:"
#define KEY_ANOMALY_SEEN_PREFIX "genq:anomaly:alert:"
/* The anomaly key (prefix: one of the two above) of limit key id, "PREFIX{ID}",
 * into out (n bytes). */
void key_anomaly(char *out, size_t n, const char *prefix, const char *id);
/* In-flight marker of a cache key (worker/cache.c): cache key + this. */
#define KEY_CACHE_LOCK_SUFFIX ":inflight"

/* The budget keys of the UTC day and the calendar month of unix time t
 * (KEY_BUDGET_DAY_PREFIX "YYYY-MM-DD", KEY_BUDGET_MONTH_PREFIX "YYYY-MM"),
 * into out (at least KEY_BUDGET_LEN bytes). *ttl_s (may be NULL) gets a
 * lifetime that outlives the period: to its end plus 2 days. */
#define KEY_BUDGET_LEN 40
void key_budget_day(char *out, size_t n, long long t, long *ttl_s);
void key_budget_month(char *out, size_t n, long long t, long *ttl_s);
/* The limit key id of provider, API base and model class: "PROVIDER|BASE|
 * CLASS" with '{', '}' and spaces made '_' (a hash tag must not close
 * early). Writes at most n bytes into out. */
void key_limit_id(char *out, size_t n, const char *provider,
                  const char *api_base, const char *model_class);
/* The state key of limit key id ("genq:lim:{ID}") into out (n bytes).
 * Returns -1 when it does not fit or id holds '{' or '}'. */
int key_limit_state(char *out, size_t n, const char *id);

/* Batch mode (worker/batch*.c, common/lua/batch_*.lua; README "Batch
 * mode"). Suffixes of "genq:{Q}:":
 *   batches        zset: open batch token -> when it is next due (ms): a
 *                  poll, or the end of the lease its holder took
 *   batchlog       zset: every batch token -> created (ms), ended ones too
 *   batch:TOKEN    hash: the batch record (state, provider id, counts...)
 *   batch:TOKEN:m  hash: member job id -> "lease token|custom_id|attempt"
 * and, outside any queue, the provider batch ids genq knows (a crashed
 * submit is looked up among the others). */
#define QKEY_BATCHES   "batches"
#define QKEY_BATCHLOG  "batchlog"
#define QKEY_BATCH     "batch:"
#define KEY_BATCH_PIDS "genq:batch:pids" /* hash: provider id -> "Q TOKEN" */
/* The record (member 0) or members (member 1) key of batch token of k's
 * queue into out (n bytes). */
void qkeys_batch(const struct qkeys *k, const char *token, int member,
                 char *out, size_t n);

#endif
