/* genq dlq ls | show | requeue | purge | export: the dead-letter queue.
 * Lists page through the dead set (dlq_page script) in constant memory.
 * This file holds the options, the dispatch, ls, export and show;
 * requeue and purge are in dlq_change.c. */
#include "fmacros.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlq.h"
#include "docs.h"
#include "errclass.h"
#include "pack.h"
#include "rclient.h"
#include "timefmt.h"

#define LS_PAGE     500
#define EXPORT_PAGE 100

const char *const dlq_class_names[] = {
    DLQ_PERMANENT, DLQ_EXHAUSTED, DLQ_LEASE_EXPIRED,
    DLQ_INVALID,   DLQ_CANCELED,  DLQ_REVIEW_REJECTED,
    NULL};

enum { OPT_CLASS = 1, OPT_SINCE, OPT_GREP, OPT_OLDER, OPT_STATUS, OPT_LIMIT };
enum { OPT_ALL = OPT_LIMIT + 1, OPT_DRY, OPT_KEEP };

/* The options of `genq dlq SUB` that need more than a value stored
 * (cli_parse() takes the others); o->allowed is the O_* set SUB takes. */
static int
dlq_opt(void *ctx, int opt, const char *arg)
{
    static const int bit[] = {[OPT_CLASS] = O_CLASS,
                              [OPT_SINCE] = O_SINCE,
                              [OPT_GREP] = O_GREP,
                              [OPT_OLDER] = O_OLDER};
    struct dlqopt *o = ctx;

    if (opt < OPT_CLASS || opt > OPT_OLDER || !(o->allowed & bit[opt]))
        return CLI_UNKNOWN;
    switch (opt) {
    case OPT_CLASS: {
        int ok = 0;
        for (int i = 0; dlq_class_names[i]; i++)
            ok |= !strcmp(arg, dlq_class_names[i]);
        if (!ok)
            return cli_usage_error(o->cmd,
                                   "--class: expected permanent, "
                                   "exhausted, lease_expired, invalid, "
                                   "canceled or review_rejected, got '%s'",
                                   arg);
        o->f.cls = arg;
        return CLI_NEXT;
    }
    case OPT_SINCE:
    case OPT_OLDER: {
        int64_t probe;
        if ((opt == OPT_SINCE ? ops_parse_since(arg, 0, &probe)
                              : ops_parse_duration(arg, &probe)) < 0)
            return cli_usage_error(o->cmd, "--%s: expected %s, got '%s'",
                                   opt == OPT_SINCE ? "since" : "older-than",
                                   opt == OPT_SINCE
                                       ? "RFC 3339 or a duration (15m, 2h, 7d)"
                                       : "a duration (90s, 15m, 2h, 7d)",
                                   arg);
        if (opt == OPT_SINCE)
            o->since_arg = arg;
        else
            o->older_arg = arg;
        return CLI_NEXT;
    }
    default: /* OPT_GREP */
        if (!*arg)
            return cli_usage_error(o->cmd, "--grep: empty text");
        o->f.grep = arg;
        return CLI_NEXT;
    }
}

/* Parse the options of `genq dlq SUB`; allowed is the O_* set SUB takes.
 * Returns -1 to go on, else an exit code (help printed, usage error). */
static int
parse_opts(struct dlqopt *o, int argc, char **argv, int allowed,
           const char *help)
{
#define IF(b, p) (allowed & (b) ? (void *)(p) : NULL)
    struct cli_opt opts[] = {
        CLI_OPT_CALL("class", OPT_CLASS),
        CLI_OPT_LONG("status", OPT_STATUS, IF(O_STATUS, &o->f.status), 100, 599,
                     "an HTTP status"),
        CLI_OPT_CALL("since", OPT_SINCE),
        CLI_OPT_CALL("grep", OPT_GREP),
        CLI_OPT_LONG("limit", OPT_LIMIT, IF(O_LIMIT, &o->limit), 1, 1000000000L,
                     "a number >= 1"),
        CLI_OPT_FLAG("all", OPT_ALL, IF(O_ALL, &o->all)),
        CLI_OPT_CALL("older-than", OPT_OLDER),
        CLI_OPT_FLAG("dry-run", OPT_DRY, IF(O_DRY, &o->dry_run)),
        CLI_OPT_FLAG("keep-attempts", OPT_KEEP, IF(O_KEEP, &o->keep_attempts)),
        CLI_OPT_FLAG("yes", 'y', IF(O_YES, &o->yes)),
        CLI_OPT_END};
#undef IF
    struct cli_cmd spec = {o->cmd, help, "hy", opts, dlq_opt, o, 1};
    int first, rc;

    snprintf(o->cmd, sizeof(o->cmd), "dlq %s", o->sub);
    o->allowed = allowed;
    if ((rc = cli_parse(&o->c, &spec, argc, argv, &first)) != CLI_NEXT)
        return rc;
    o->argc = argc - first;
    o->argv = argv + first;
    return -1;
}

int
dlq_connect(struct dlqopt *o)
{
    int64_t now;

    if (cli_connect(&o->c) < 0)
        return -1;
    if (!o->since_arg && !o->older_arg)
        return 0;
    if (ops_server_now(o->c.rc, o->cmd, &now) < 0) {
        cli_close(&o->c);
        return -1;
    }
    if (o->since_arg) {
        ops_parse_since(o->since_arg, now, &o->f.since_ms);
        if (o->f.since_ms <= 0)
            o->f.since_ms = 1;
    }
    if (o->older_arg) {
        int64_t d;
        ops_parse_duration(o->older_arg, &d);
        o->f.until_ms = now - d;
        if (o->f.until_ms <= 0)
            o->f.until_ms = 1;
    }
    return 0;
}

/* ---- ls ------------------------------------------------------------------ */

struct errinfo {
    cJSON *doc; /* owned */
    const char *cls, *type, *message;
    long http_status; /* 0 = none */
};

static void
errinfo_parse(struct errinfo *ei, const char *s)
{
    cJSON *st;

    memset(ei, 0, sizeof(*ei));
    ei->doc = s ? cJSON_Parse(s) : NULL;
    ei->cls = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(ei->doc, "class"));
    ei->type =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ei->doc, "type"));
    ei->message = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(ei->doc, "message"));
    st = cJSON_GetObjectItemCaseSensitive(ei->doc, "http_status");
    ei->http_status = cJSON_IsNumber(st) ? (long)st->valuedouble : 0;
}

cJSON *
dlq_entry_doc(const struct dlq_entry *e)
{
    struct errinfo ei;
    struct ops_meta m;
    char died[32];
    cJSON *j = cJSON_CreateObject();
    int bad = 0;

    errinfo_parse(&ei, e->error);
    if (ops_meta_parse(e->meta, &m) < 0)
        m.attempts = 0;
    timefmt_rfc3339(e->died_ms, died);
    ops_jstr(j, "id", e->id, &bad);
    ops_jstr(j, "died_at", died, &bad);
    ops_jstr(j, "class", ei.cls, &bad);
    if (ei.http_status)
        ops_jnum(j, "http_status", (double)ei.http_status, &bad);
    else
        ops_jnull(j, "http_status", &bad);
    ops_jstr(j, "type", ei.type, &bad);
    ops_jstr(j, "message", ei.message ? ei.message : "", &bad);
    ops_jnum(j, "attempts", (double)m.attempts, &bad);
    ops_jstr(j, "prompt_excerpt", e->excerpt ? e->excerpt : "", &bad);
    cJSON_Delete(ei.doc);
    if (bad) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

static int
ls_print(const struct dlqopt *o, const struct ops_tty *t,
         const struct dlq_entry *e)
{
    struct errinfo ei;
    struct ops_meta m;
    char died[32], msg[1024], ex[1024];
    int rc = 0;

    errinfo_parse(&ei, e->error);
    if (ops_meta_parse(e->meta, &m) < 0)
        m.attempts = 0;
    timefmt_rfc3339(e->died_ms, died);
    if (o->c.json) {
        rc = cli_print_json(dlq_entry_doc(e));
    } else if (t->tty) {
        char http[8] = "-";
        if (ei.http_status)
            snprintf(http, sizeof(http), "%ld", ei.http_status);
        ops_oneline(ei.message, 48, 1, msg, sizeof(msg));
        ops_oneline(e->excerpt, 40, 1, ex, sizeof(ex));
        died[19] = '\0'; /* to the second */
        died[10] = ' ';
        printf("%-36s %s %s%-13s%s %4s %3ld  %-49s %s%s%s\n", e->id, died,
               ops_col(t, OPS_RED), ei.cls ? ei.cls : "?",
               ops_col(t, OPS_RESET), http, m.attempts, msg,
               ops_col(t, OPS_DIM), ex, ops_col(t, OPS_RESET));
    } else {
        char http[8] = "";
        if (ei.http_status)
            snprintf(http, sizeof(http), "%ld", ei.http_status);
        ops_oneline(ei.message, 200, 1, msg, sizeof(msg));
        ops_oneline(e->excerpt, 100, 1, ex, sizeof(ex));
        printf("%s\t%s\t%s\t%s\t%ld\t%s\t%s\n", e->id, died,
               ei.cls ? ei.cls : "", http, m.attempts, msg, ex);
    }
    cJSON_Delete(ei.doc);
    return rc;
}

static const char ls_help[] =
    "usage: genq dlq ls [--class C] [--status N] [--since T] [--grep TEXT]\n"
    "                   [--limit N] [--json]\n\n"
    "List dead jobs, newest first: id, died at, error class, HTTP status,\n"
    "attempts, error message (cut) and prompt excerpt. Pages through Redis\n"
    "(500 per call), so any number of dead jobs lists in constant memory.\n"
    "A table on a terminal, tab-separated lines otherwise; --json prints\n"
    "one object per job (schemas/dlq-entry.schema.json).\n\n"
    "  --class C      error class: permanent, exhausted, lease_expired,\n"
    "                 invalid, canceled, review_rejected\n"
    "  --status N     HTTP status of the error (400, 404, ...)\n"
    "  --since T      died at or after T: RFC 3339, or a duration ago (2h)\n"
    "  --grep TEXT    TEXT occurs (case-sensitive) in the job or the error\n"
    "  --limit N      at most N jobs\n" CLI_COMMON_HELP;

/* The walk of ls and export: page through the dead set, newest first
 * (detail, page entries a call), and hand each entry that passes the
 * filters to each() (-1 = out of memory), at most --limit; *shown counts
 * them. Returns the exit code (problems printed). A failed write of stdout
 * ends the walk: an error when flush_fails, else quietly. */
static int
dlq_walk(struct dlqopt *o, int detail, int page, int flush_fails,
         int (*each)(void *ctx, const struct dlq_entry *e), void *ctx,
         long *shown)
{
    struct dlq_pager p;
    struct dlq_entry e;
    int rc = EXIT_OK;

    dlq_pager_init(&p, &o->c, &o->f, detail, page);
    while (!p.end && (!o->limit || *shown < o->limit)) {
        if (dlq_pager_append(&p) < 0) {
            rc = cli_fail(o->cmd, "out of memory");
            break;
        }
        if (dlq_pager_read(&p, o->cmd) < 0) {
            rc = EXIT_FAIL;
            break;
        }
        while ((!o->limit || *shown < o->limit) && dlq_pager_next(&p, &e)) {
            if (each(ctx, &e) < 0) {
                rc = cli_fail(o->cmd, "out of memory");
                break;
            }
            (*shown)++;
        }
        if (rc != EXIT_OK)
            break;
        if (fflush(stdout) != 0) {
            if (flush_fails)
                rc = cli_fail(o->cmd, "writing the output failed");
            break;
        }
    }
    dlq_pager_free(&p);
    return rc;
}

struct ls_ctx {
    const struct dlqopt *o;
    struct ops_tty t;
};

static int
ls_each(void *ctx, const struct dlq_entry *e)
{
    struct ls_ctx *x = ctx;

    return ls_print(x->o, &x->t, e);
}

static int
dlq_ls(struct dlqopt *o)
{
    struct ls_ctx x = {o, {0, 0}};
    long shown = 0;
    int rc;

    if (o->argc > 0)
        return cli_usage_error("dlq ls", "unexpected argument '%s'",
                               o->argv[0]);
    ops_tty_init(&x.t);
    if (dlq_connect(o) < 0)
        return EXIT_FAIL;
    if (x.t.tty && !o->c.json)
        printf("%s%-36s %-19s %-13s %4s %3s  %-49s %s%s\n",
               ops_col(&x.t, OPS_BOLD), "ID", "DIED AT (UTC)", "CLASS", "HTTP",
               "ATT", "MESSAGE", "PROMPT", ops_col(&x.t, OPS_RESET));
    rc = dlq_walk(o, DLQ_DETAIL_LIST, LS_PAGE, 0, ls_each, &x, &shown);
    if (rc == EXIT_OK && x.t.tty && !o->c.json)
        fprintf(stderr, "%ld dead job%s listed (queue %s)\n", shown,
                shown == 1 ? "" : "s", o->c.queue);
    cli_close(&o->c);
    return rc;
}

/* ---- export ------------------------------------------------------------- */

static const char export_help[] =
    "usage: genq dlq export [--class C] [--status N] [--since T] [--grep "
    "TEXT]\n"
    "                       [--limit N]\n\n"
    "Print dead-letter documents as JSONL, newest first, one per line\n"
    "(schemas/deadletter.schema.json): id, job, error, attempts, died_at,\n"
    "history. Pages through Redis in constant memory. Re-enqueue them (in\n"
    "another queue, or after purging them here) with\n"
    "  genq dlq export | genq enqueue --from-dlq -\n"
    "Filters as in 'genq dlq ls'.\n\n" CLI_COMMON_HELP;

static int
export_each(void *ctx, const struct dlq_entry *e)
{
    (void)ctx;
    return cli_print_json(ops_deadletter_doc(e->id, e->died_ms, e->meta,
                                             e->error, e->history, e->payload));
}

static int
dlq_export(struct dlqopt *o)
{
    long shown = 0;
    int rc;

    if (o->argc > 0)
        return cli_usage_error("dlq export", "unexpected argument '%s'",
                               o->argv[0]);
    if (dlq_connect(o) < 0)
        return EXIT_FAIL;
    rc =
        dlq_walk(o, DLQ_DETAIL_FULL, EXPORT_PAGE, 1, export_each, NULL, &shown);
    cli_close(&o->c);
    return rc;
}

/* ---- show --------------------------------------------------------------- */

static void
show_text(const struct ops_tty *t, cJSON *d)
{
    cJSON *err = cJSON_GetObjectItemCaseSensitive(d, "error");
    cJSON *hist = cJSON_GetObjectItemCaseSensitive(d, "history"), *h;
    cJSON *st = cJSON_GetObjectItemCaseSensitive(err, "http_status");
    const char *rid = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(err, "request_id"));
    const char *type =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "type"));
    char *job = cJSON_Print(cJSON_GetObjectItemCaseSensitive(d, "job"));

    printf("%sid%s        %s\n", ops_col(t, OPS_BOLD), ops_col(t, OPS_RESET),
           cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "id")));
    printf(
        "died at   %s\n",
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "died_at")));
    printf("attempts  %d\n",
           cJSON_GetObjectItemCaseSensitive(d, "attempts")->valueint);
    printf("error     %s%s%s", ops_col(t, OPS_RED),
           cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "class")),
           ops_col(t, OPS_RESET));
    if (cJSON_IsNumber(st))
        printf("  HTTP %d", st->valueint);
    if (type)
        printf("  %s", type);
    printf(
        "\n          %s\n",
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "message")));
    if (rid)
        printf("request   %s\n", rid);
    printf("history\n");
    cJSON_ArrayForEach(h, hist)
    {
        cJSON *he = cJSON_GetObjectItemCaseSensitive(h, "error");
        const char *w =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "worker"));
        const char *msg = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(he, "message"));
        char line[256];

        ops_oneline(msg, 100, 1, line, sizeof(line));
        printf("  %s  %-14s %-24s %s\n",
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "at")),
               cJSON_GetStringValue(
                   cJSON_GetObjectItemCaseSensitive(h, "outcome")),
               w && *w ? w : "-", line);
    }
    printf("job\n%s\n", job ? job : "(out of memory)");
    cJSON_free(job);
}

int
dlq_dead_doc(const char *id, redisReply **g, cJSON **out, char state[16])
{
    struct ops_meta m;
    char err[256], *job = NULL;

    *out = NULL;
    snprintf(state, 16, "unknown");
    if (g[0]->type == REDIS_REPLY_STRING && ops_meta_parse(g[0]->str, &m) == 0)
        snprintf(state, 16, "%s", m.state);
    if (strcmp(state, "dead") || g[8]->type != REDIS_REPLY_STRING)
        return 0;
    /* the stored job, decoded (pack.h); one that cannot be is shown as
     * the reason, under "unparsed" (ops_deadletter_doc) */
    if (g[6]->type == REDIS_REPLY_STRING &&
        !(job = pack_decode(NULL, id, g[6]->str, g[6]->len, NULL, err,
                            sizeof(err))) &&
        !(job = strdup(err)))
        return -1;
    *out = ops_deadletter_doc(
        id, strtoll(g[8]->str, NULL, 10), g[0]->str,
        g[4]->type == REDIS_REPLY_STRING ? g[4]->str : NULL,
        g[5]->type == REDIS_REPLY_STRING ? g[5]->str : NULL, job);
    free(job);
    return *out ? 1 : -1;
}

static const char show_help[] =
    "usage: genq dlq show ID... [--json]\n\n"
    "The whole dead-letter document of each job: id, the job as stored,\n"
    "the error (class, HTTP status, type, message, request id), attempts,\n"
    "time of death and the history of every attempt. With --json one\n"
    "document per line (schemas/deadletter.schema.json). Exit 1 when an id\n"
    "is unknown or not dead.\n\n" CLI_COMMON_HELP;

static int
dlq_show(struct dlqopt *o)
{
    struct ops_tty t;
    int rc = EXIT_OK;

    if (o->argc == 0)
        return cli_usage_error("dlq show", "give the id of a dead job");
    ops_tty_init(&t);
    if (cli_connect(&o->c) < 0)
        return EXIT_FAIL;
    for (int i = 0; i < o->argc; i++) {
        const char *av[3] = {"1", "0", o->argv[i]};
        char err[512];
        redisReply *r = rclient_script(o->c.rc, SCRIPT_INSPECT, &o->c.keys, 3,
                                       av, NULL, err, sizeof(err));
        char state[16];
        cJSON *d;
        int k;

        if (!r || r->type != REDIS_REPLY_ARRAY ||
            r->elements != INSPECT_FIELDS) {
            rc = cli_fail("dlq show", "%s", r ? "unexpected reply" : err);
            if (r)
                freeReplyObject(r);
            break;
        }
        k = dlq_dead_doc(o->argv[i], r->element, &d, state);
        freeReplyObject(r);
        if (k == 0) {
            fprintf(stderr,
                    "genq dlq show: %s is not in the dead-letter queue "
                    "(%s)\n",
                    o->argv[i], state);
            rc = EXIT_FAIL;
            continue;
        }
        if (k < 0) {
            rc = cli_fail("dlq show", "out of memory");
            break;
        }
        if (o->c.json) {
            if (cli_print_json(d) < 0) {
                rc = cli_fail("dlq show", "out of memory");
                break;
            }
        } else {
            if (i > 0)
                putchar('\n');
            show_text(&t, d);
            cJSON_Delete(d);
        }
    }
    cli_close(&o->c);
    return rc;
}

/* ---- dispatch ---------------------------------------------------------------
 */

static const char dlq_help[] =
    "usage: genq dlq COMMAND [OPTIONS]\n\n"
    "The dead-letter queue: jobs that failed for good, kept with their error\n"
    "and history until purged (never dropped by a cap).\n\n"
    "  ls        list dead jobs (filters: --class --status --since --grep)\n"
    "  show ID   the whole dead-letter document\n"
    "  requeue   send dead jobs back (ID... | --all | filters)\n"
    "  purge     delete dead jobs (ID... | --all | --older-than D | "
    "filters)\n"
    "  export    dead-letter documents as JSONL (for genq enqueue "
    "--from-dlq)\n\n"
    "'genq dlq COMMAND --help' for each.\n";

int
cmd_dlq(int argc, char **argv)
{
    struct dlqopt o;
    const char *sub;
    int rc;

    if ((rc = cli_sub(argc, argv, dlq_help, &sub)) != CLI_NEXT)
        return rc;
    memset(&o, 0, sizeof(o));
    cli_init(&o.c);
    o.sub = sub;
    argc--;
    argv++;
    if (!strcmp(sub, "ls")) {
        rc = parse_opts(&o, argc, argv,
                        O_CLASS | O_STATUS | O_SINCE | O_GREP | O_LIMIT,
                        ls_help);
        return rc >= 0 ? rc : dlq_ls(&o);
    }
    if (!strcmp(sub, "export")) {
        rc = parse_opts(&o, argc, argv,
                        O_CLASS | O_STATUS | O_SINCE | O_GREP | O_LIMIT,
                        export_help);
        return rc >= 0 ? rc : dlq_export(&o);
    }
    if (!strcmp(sub, "show")) {
        rc = parse_opts(&o, argc, argv, 0, show_help);
        return rc >= 0 ? rc : dlq_show(&o);
    }
    if (!strcmp(sub, "requeue")) {
        rc = parse_opts(&o, argc, argv,
                        O_CLASS | O_STATUS | O_SINCE | O_GREP | O_ALL | O_DRY |
                            O_KEEP,
                        dlq_requeue_help);
        return rc >= 0 ? rc : dlq_change(&o, 0);
    }
    if (!strcmp(sub, "purge")) {
        rc = parse_opts(&o, argc, argv,
                        O_CLASS | O_STATUS | O_SINCE | O_GREP | O_ALL |
                            O_OLDER | O_DRY | O_YES,
                        dlq_purge_help);
        return rc >= 0 ? rc : dlq_change(&o, 1);
    }
    return cli_sub_unknown("dlq", sub, dlq_help);
}
