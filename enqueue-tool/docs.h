/* The documents of the CLI's --json output, built by the cmd_*.c code that
 * prints them, for other readers (the dashboard's JSON API, dash_api.c):
 * the same functions, no second copy. Each returns a cJSON document the
 * caller frees with cJSON_Delete(). */
#ifndef GENQ_DOCS_H
#define GENQ_DOCS_H

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>

#include "cmd_ops.h"

/* The stats documents (schemas/stats.schema.json) of every known queue, as
 * `genq stats --json` prints them, in an array; c is connected. NULL after
 * printing the problem for cmd (cmd_stats.c). */
cJSON *stats_docs(struct cli *c, long dead_warn, const char *cmd);

/* The status document (schemas/status.schema.json) of id from its group g
 * of INSPECT_FIELDS inspect replies; with_result adds "result". NULL on
 * out of memory (cmd_status.c). */
cJSON *status_doc(const char *id, redisReply **g, int with_result);

/* The dead-letter document (schemas/deadletter.schema.json) of id from its
 * group g of inspect replies (asked with the dead-letter time): 1 with *out
 * set, 0 when the job is not dead (its state, or "unknown", into state),
 * -1 on out of memory (cmd_dlq.c). */
int dlq_dead_doc(const char *id, redisReply **g, cJSON **out, char state[16]);

/* The `genq dlq ls --json` document of one entry
 * (schemas/dlq-entry.schema.json); NULL on out of memory (cmd_dlq.c). */
cJSON *dlq_entry_doc(const struct dlq_entry *e);

/* The error classes `genq dlq --class` takes, NULL-terminated (cmd_dlq.c). */
extern const char *const dlq_class_names[];

/* Append the documents of the live workers (`genq workers --json`) to arr;
 * forget = also remove the dead from the registry. 0, or -1 after printing
 * the problem for cmd (cmd_workers.c). */
int workers_docs(struct cli *c, double stale, int forget, cJSON *arr,
                 const char *cmd);

/* The `genq limits --json` document of limit key id (without the fleet's
 * "budget", which the CLI adds to each); NULL after printing the problem
 * (cmd_limits.c). The `genq budget --json` document is
 * limits_budget_section() (limits_budget.h). */
cJSON *limits_doc_key(struct cli *c, const char *id);

/* ---- genq review (cmd_review.c) ---------------------------------------- */

#define REVIEW_NOTE_MAX     4000    /* bytes of a reviewer's note */
#define REVIEW_RESULT_TTL_S 604800L /* default retention of an approved one */
#define REVIEW_EXCERPT      200     /* characters of an entry's "excerpt" */

/* The `genq review ls --json` document of one flagged result: {id,
 * flagged_at, excerpt, reasons} from its id, flagged ms and stored result
 * document text doc, plus "result" (that document) with with_result. NULL
 * on out of memory. */
cJSON *review_entry_doc(const char *id, long long ms, const char *doc,
                        int with_result);

/* One page of the review set of c's queue, oldest first, after the cursor
 * (cursor_score, cursor_id; "" "" = the start): the review_page script's
 * reply {next_score, next_id, n, then n groups of id, flagged ms, result
 * document, meta}, checked; the caller frees it. NULL after printing the
 * problem for cmd. */
redisReply *review_page(struct cli *c, const char *cursor_score,
                        const char *cursor_id, long want, const char *cmd);

/* Approve (reject NULL) or reject the ids argv[0..argc) ("-" = stdin), with
 * regen and note as `genq review reject --regenerate --note`; approved
 * results are kept ttl_s. Prints each outcome, or appends {"id",
 * "outcome"} to outcomes when that is not NULL ("approved", "rejected",
 * "requeued", "failed" or the job's state). Returns the exit code. */
int review_decide(struct cli *c, const char *cmd, int argc, char **argv,
                  const int *reject, int regen, const char *note, long ttl_s,
                  cJSON *outcomes);

/* The result retention GENQ_RESULT_TTL sets into *ttl (left alone when
 * unset). 0, or -1 when it is not 1..100 years of seconds. */
int review_ttl_env(long *ttl);

#endif
