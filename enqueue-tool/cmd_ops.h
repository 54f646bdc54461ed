/* Shared helpers of the operators' subcommands (stats, queues, results,
 * dlq, pause, resume, cancel): terminal and colour, time and number
 * arguments, ids from argv or stdin, the dead-letter document, and a pager
 * over the dead-letter set (the dlq_page script). */
#ifndef GENQ_CMD_OPS_H
#define GENQ_CMD_OPS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>

#include "cli.h"

/* ---- terminal -------------------------------------------------------- */

struct ops_tty {
    int tty;   /* stdout is a terminal: tables */
    int color; /* and NO_COLOR is unset: colours */
};

/* Look at stdout and NO_COLOR. Can't fail. */
void ops_tty_init(struct ops_tty *t);

#define OPS_RED    "\033[31m"
#define OPS_GREEN  "\033[32m"
#define OPS_YELLOW "\033[33m"
#define OPS_DIM    "\033[2m"
#define OPS_BOLD   "\033[1m"
#define OPS_RESET  "\033[0m"

/* code when colours are on, else "". Static strings. Can't fail. */
const char *ops_col(const struct ops_tty *t, const char *code);

/* ---- arguments ------------------------------------------------------- */

/* Parse a whole decimal integer in lo..hi. 0, or -1 (nothing stored). */
int ops_parse_long(const char *s, long lo, long hi, long *out);

/* Parse a duration: a number with a unit ms, s, m, h or d ("90s", "15m",
 * "7d"); a bare number is seconds. 0 with *ms set, or -1. */
int ops_parse_duration(const char *s, int64_t *ms);

/* Parse a point in time: RFC 3339, or a duration meaning that long before
 * now_ms ("1h" = an hour ago). 0 with *ms set, or -1. */
int ops_parse_since(const char *s, int64_t now_ms, int64_t *ms);

/* Redis's clock (TIME), the clock every deadline uses. 0, or -1 with a
 * message printed for cmd. */
int ops_server_now(redisContext *c, const char *cmd, int64_t *ms);

/* Copy s into out (size n) on one line: control characters become spaces,
 * cut to at most max characters (UTF-8 aware; "…" marks a cut when
 * ellipsis is set). Can't fail. */
void ops_oneline(const char *s, size_t max, int ellipsis, char *out, size_t n);

/* Add a member to object o; on failure (out of memory) set *bad = 1.
 * s may be NULL for ops_jstr (then null is added). */
void ops_jnum(cJSON *o, const char *name, double v, int *bad);
void ops_jstr(cJSON *o, const char *name, const char *s, int *bad);
void ops_jbool(cJSON *o, const char *name, int v, int *bad);
void ops_jnull(cJSON *o, const char *name, int *bad);

/* Print document j as one line of JSON (cli_print_json()) unless bad (a
 * member could not be added); frees j either way. 0, or -1 when bad or out
 * of memory. */
int ops_print_doc(cJSON *j, int bad);

/* Free the n strings of v (v itself is the caller's). */
void ops_free_strs(char **v, int n);

/* ---- ids from argv and stdin ------------------------------------------ */

struct ops_ids {
    char **argv;
    int argc, i;
    int from_stdin;
    char *line; /* owned; ops_ids_free() */
    size_t cap;
};

/* Ids are argv[0..argc), where "-" reads ids from stdin, one per line. */
void ops_ids_init(struct ops_ids *s, int argc, char **argv);

/* The next id (borrowed until the next call), or NULL at the end. */
const char *ops_ids_next(struct ops_ids *s);
void ops_ids_free(struct ops_ids *s);

/* ---- documents -------------------------------------------------------- */

/* Replies per id of the inspect script: meta, lease, now, progress, error,
 * history, job, result, died at. */
#define INSPECT_FIELDS 9

/* The packed per-job meta record (prelude.lua). */
struct ops_meta {
    char state[16];
    char worker[192]; /* "" when none; a longer id is cut */
    long attempts, max_attempts, prio;
    long long enqueued_ms, updated_ms;
};

/* Parse a meta record. 0, or -1 when s is NULL or malformed. */
int ops_meta_parse(const char *s, struct ops_meta *m);

/* A history array as stored (entries with "at" in ms) as a document (with
 * RFC 3339 times). s may be NULL (empty history). Caller frees with
 * cJSON_Delete(); NULL on out-of-memory. */
cJSON *ops_history_doc(const char *s);

/* The dead-letter document (schemas/deadletter.schema.json) of one job
 * from its stored parts (any may be NULL except id). Caller frees with
 * cJSON_Delete(); NULL on out-of-memory. */
cJSON *ops_deadletter_doc(const char *id, long long died_ms, const char *meta,
                          const char *error, const char *history,
                          const char *payload);

/* ---- the dead-letter set, page by page --------------------------------- */

#define DLQ_DETAIL_IDS    0 /* ids and times */
#define DLQ_DETAIL_FILTER 1 /* + meta and error */
#define DLQ_DETAIL_LIST   2 /* + prompt excerpt */
#define DLQ_DETAIL_FULL   3 /* + job and history */
#define DLQ_PAGE_GROUP    8

/* Filters of `genq dlq ls/requeue/purge/export`; zero = none. */
struct dlq_filter {
    const char *cls;  /* error class */
    long status;      /* HTTP status; 0 = any */
    int64_t since_ms; /* died at or after; 0 = any */
    int64_t until_ms; /* died at or before (--older-than); 0 = any */
    const char *grep; /* in the job or error JSON; NULL = any */
};

/* 1 when some filter is set. */
int dlq_filter_any(const struct dlq_filter *f);

/* One entry of a page; every pointer is borrowed from the page. */
struct dlq_entry {
    const char *id;
    long long died_ms;
    const char *meta, *error, *excerpt, *payload, *history; /* or NULL */
    int grep_hit;
};

struct dlq_pager {
    struct cli *c;
    const struct dlq_filter *f;
    int detail, count;
    char score[32], last[256]; /* cursor: the previous page's last entry */
    int started, end;
    redisReply *page; /* owned; the current page */
    size_t pos;
    char *json, *excerpt; /* the current entry's decoded job and excerpt
                             (dlq_unpack.c); owned */
    struct packer *pk;    /* their decoder, made on the first; owned */
};

/* Entry e of pager p whose stored job v is compressed: decoded, its
 * excerpt cut and its grep decided here (dlq_unpack.c); e's strings then
 * point into p, valid until the next entry. A plain v: nothing to do. */
void dlq_entry_unpack(struct dlq_pager *p, struct dlq_entry *e,
                      const redisReply *v);

/* A pager over c's queue, newest first, pages of count entries. Can't
 * fail. */
void dlq_pager_init(struct dlq_pager *p, struct cli *c,
                    const struct dlq_filter *f, int detail, int count);

/* Append the request of the next page (pipelining: read it with
 * dlq_pager_read()). 0, or -1 on out-of-memory. */
int dlq_pager_append(struct dlq_pager *p);

/* Read the page appended last; it replaces the current one. Returns the
 * number of entries (0 = the end), or -1 after printing the error. */
int dlq_pager_read(struct dlq_pager *p, const char *cmd);

/* The next entry of the current page that passes the filter: 1 (e
 * filled), or 0 when the page is used up. Can't fail. */
int dlq_pager_next(struct dlq_pager *p, struct dlq_entry *e);

/* Free the current page. */
void dlq_pager_free(struct dlq_pager *p);

/* ---- subcommands (enqueue-tool/cmd_*.c) ---------------------------------
 * Each takes the argv after `genq` (argv[0] is the subcommand) and returns
 * the process exit code. */
int cmd_stats(int argc, char **argv);
int cmd_queues(int argc, char **argv);
int cmd_results(int argc, char **argv);
int cmd_dlq(int argc, char **argv);
int cmd_rejected(int argc, char **argv); /* cmd_rejected.c */
int cmd_review(int argc, char **argv);   /* cmd_review.c */
int cmd_batches(int argc, char **argv);  /* cmd_batches.c */
int cmd_pause(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_cancel(int argc, char **argv);

#endif
