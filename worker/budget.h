/* budget: spend caps per UTC day and calendar month (tokens and USD,
 * overall and per queue), the pricing table per model, and anomaly alerts
 * on spend. Files: budget_cfg.c (the config file's [price.MODEL] and
 * [queue.NAME] sections: process-wide, replaced on SIGHUP), budget.c (the
 * reserve-then-settle gate before each call, claiming stop and resume, the
 * one P0 alert, SIGHUP reload), anomaly.c (P1 on a spend-rate spike or an
 * outsized job). Not for use outside worker/. */
#ifndef GENQ_BUDGET_H
#define GENQ_BUDGET_H

#include <stddef.h>

#include "config.h"
#include "worker.h"

#define BUDGET_MAX_MODELS 32
#define BUDGET_MAX_QUEUES 64

/* USD per million tokens of one model (a [price.MODEL] section; the
 * --price-* options are the row of every other model). */
struct price_row {
    char model[128];
    double in, out, cache_write, cache_read;
    double batch_discount; /* fraction off for Batch API calls, 0..1 */
};

/* Caps of one scope; 0 = none. */
struct budget_caps {
    double usd_day, usd_month, tok_day, tok_month;
};

/* Token counts of one call as the API reported them. */
struct budget_usage {
    long in, out, cache_write, cache_read;
};

/* ---- budget_cfg.c: the sections, held process-wide (no allocation) ---- */

/* The config loader's section setter (config.h, config_section_fn):
 * [price.MODEL] keys in-mtok, out-mtok, cache-write-mtok, cache-read-mtok,
 * batch-discount; [queue.NAME] keys budget-usd-day, budget-usd-month,
 * budget-tokens-day, budget-tokens-month. Errors name section, key and
 * value. */
enum config_verdict budget_cfg_section(void *ud, const char *section,
                                       const char *key, const char *value,
                                       int line, char *err, size_t errlen);

/* Forget every section (before a reload), or save / restore them all (a
 * reload that fails keeps the old ones). Can't fail. */
void budget_cfg_reset(void);
void budget_cfg_save(void);
void budget_cfg_restore(void);

/* The row of a call: the [price.MODEL] section of the model the API
 * reported (may be NULL), else of the model asked for, else cfg's --price-*
 * options (cache prices derived from the input price when not set). */
struct price_row budget_price(const struct wcfg *cfg, const char *reported,
                              const char *asked);

/* USD of usage u at row p (batch: a Batch API call). Can't fail. */
double budget_usd(const struct price_row *p, const struct budget_usage *u,
                  int batch);

/* Per-queue caps from the config file: the i-th (0..) with its queue
 * name, or NULL past the last. */
const struct budget_caps *budget_cfg_queue(int i, const char **queue);

/* Print the sections as INI (for --print-config). */
void budget_cfg_print(void);

/* ---- budget.c: the worker's side (w->bg) ---- */
struct worker;
struct wjob;
struct llm_result;

/* Allocate w->bg and take SIGHUP (reload). 0, or -1 on out-of-memory.
 * budget_free() releases it; both accept a worker without one. */
int budget_init(struct worker *w);
void budget_free(struct worker *w);
/* Before a call: 1 when j must first reserve the call's estimated cost
 * (the reply starts the call, or hands the job back at a cap), 0 to call
 * now (no cap applies, or a retry holding its reservation). */
int budget_gate(struct wjob *j);
/* After a successful call: price r's usage, count it (metrics, the fleet's
 * spend), settle j's reservation. Returns the call's price in USD. */
double budget_spend(struct wjob *j, const struct llm_result *r);
/* A batch member's usage, priced by the caller (batch_settle.c): counted
 * like a call without a reservation -- the fleet's spend, the caps of
 * queue qi on the next tick. Can't fail. */
void budget_spend_batch(struct worker *w, int qi, long tok, double usd);
/* The job leaves its slot: give back a reservation never settled. */
void budget_release(struct wjob *j);
/* The 1-s tick: read the caps, add spend made without a reservation,
 * check whether a reached cap has room again. */
void budget_tick(struct worker *w);
/* Write the configured caps into Redis (start, SIGHUP): the last writer's
 * value is the fleet's. 0 when every command was sent, else -1. */
int budget_push(struct worker *w);
/* Redis is up (again): the first time, write the configured caps; each
 * time, read the caps (before the claims that follow). */
void budget_connected(struct worker *w);
/* A fleet-wide cap is reached: claim nothing. */
int budget_blocked(const struct worker *w);

/* ---- anomaly.c (w->an) ---- */
int anomaly_init(struct worker *w);
void anomaly_free(struct worker *w);
/* tok tokens spent by a call of j (for its limit key's rate). */
void anomaly_tokens(struct worker *w, const struct wjob *j, long tok);
/* The tick: every 5 s, add the spend to the rate buckets and check. */
void anomaly_tick(struct worker *w);
/* j completed: check its output tokens against its queue's median. */
void anomaly_job(struct worker *w, const struct wjob *j);
/* The median of s[0..n) (n <= 101), 0 when n is 0. Can't fail. */
long anomaly_median(const long *s, int n);

#endif
