/* genq dlq ls | show | requeue | purge | export: the dead-letter queue.
 * Lists page through the dead set (dlq_page script) in constant memory;
 * requeue and purge evaluate filters client-side over those pages and send
 * the matching ids in pipelined batches (dlq_requeue / dlq_purge scripts,
 * atomic per job). */
#include "fmacros.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_ops.h"
#include "errclass.h"
#include "idwin.h"
#include "rclient.h"
#include "timefmt.h"

#define LS_PAGE        500
#define EXPORT_PAGE    100
#define SCAN_PAGE      500
#define CHANGE_BATCH   1000
#define ID_WINDOW      4
#define INSPECT_FIELDS 9

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
    struct cli c;
    struct dlq_filter f;
    const char *since_arg, *older_arg;
    long limit;
    int all, dry_run, keep_attempts, yes;
    int used; /* O_* given */
    int argc; /* the rest: ids */
    char **argv;
};

static const char *const class_names[] = {DLQ_PERMANENT,     DLQ_EXHAUSTED,
                                          DLQ_LEASE_EXPIRED, DLQ_INVALID,
                                          DLQ_CANCELED,      NULL};

/* Parse the options of `genq dlq SUB`; allowed is the O_* set SUB takes.
 * Returns -1 to go on, else an exit code (help printed, usage error). */
static int
parse_opts(struct dlqopt *o, int argc, char **argv, int allowed,
           const char *help)
{
    enum {
        OPT_CLASS = 1,
        OPT_STATUS,
        OPT_SINCE,
        OPT_GREP,
        OPT_LIMIT,
        OPT_ALL,
        OPT_OLDER,
        OPT_DRY,
        OPT_KEEP,
        OPT_YES
    };
    static const struct option opts[] = {
        {"class", required_argument, NULL, OPT_CLASS},
        {"status", required_argument, NULL, OPT_STATUS},
        {"since", required_argument, NULL, OPT_SINCE},
        {"grep", required_argument, NULL, OPT_GREP},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"all", no_argument, NULL, OPT_ALL},
        {"older-than", required_argument, NULL, OPT_OLDER},
        {"dry-run", no_argument, NULL, OPT_DRY},
        {"keep-attempts", no_argument, NULL, OPT_KEEP},
        {"yes", no_argument, NULL, OPT_YES},
        CLI_COMMON_OPTS,
        {NULL, 0, NULL, 0}};
    static const int bit[] = {
        [OPT_CLASS] = O_CLASS, [OPT_STATUS] = O_STATUS, [OPT_SINCE] = O_SINCE,
        [OPT_GREP] = O_GREP,   [OPT_LIMIT] = O_LIMIT,   [OPT_ALL] = O_ALL,
        [OPT_OLDER] = O_OLDER, [OPT_DRY] = O_DRY,       [OPT_KEEP] = O_KEEP,
        [OPT_YES] = O_YES};
    char cmd[32];
    int opt;

    snprintf(cmd, sizeof(cmd), "dlq %s", o->sub);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "hy", opts, NULL)) != -1) {
        if (cli_common_opt(&o->c, opt, optarg))
            continue;
        if (opt == 'h') {
            fputs(help, stdout);
            return EXIT_OK;
        }
        if (opt == 'y')
            opt = OPT_YES;
        if (opt < OPT_CLASS || opt > OPT_YES || !(allowed & bit[opt]))
            return cli_usage_error(cmd, "unknown option");
        o->used |= bit[opt];
        switch (opt) {
        case OPT_CLASS: {
            int ok = 0;
            for (int i = 0; class_names[i]; i++)
                ok |= !strcmp(optarg, class_names[i]);
            if (!ok)
                return cli_usage_error(cmd,
                                       "--class: expected permanent, "
                                       "exhausted, lease_expired, invalid or "
                                       "canceled, got '%s'",
                                       optarg);
            o->f.cls = optarg;
            break;
        }
        case OPT_STATUS:
            if (ops_parse_long(optarg, 100, 599, &o->f.status) < 0)
                return cli_usage_error(
                    cmd, "--status: expected an HTTP status, got '%s'", optarg);
            break;
        case OPT_SINCE:
        case OPT_OLDER: {
            int64_t probe;
            if ((opt == OPT_SINCE ? ops_parse_since(optarg, 0, &probe)
                                  : ops_parse_duration(optarg, &probe)) < 0)
                return cli_usage_error(
                    cmd, "--%s: expected %s, got '%s'",
                    opt == OPT_SINCE ? "since" : "older-than",
                    opt == OPT_SINCE ? "RFC 3339 or a duration (15m, 2h, 7d)"
                                     : "a duration (90s, 15m, 2h, 7d)",
                    optarg);
            if (opt == OPT_SINCE)
                o->since_arg = optarg;
            else
                o->older_arg = optarg;
            break;
        }
        case OPT_GREP:
            if (!*optarg)
                return cli_usage_error(cmd, "--grep: empty text");
            o->f.grep = optarg;
            break;
        case OPT_LIMIT:
            if (ops_parse_long(optarg, 1, 1000000000L, &o->limit) < 0)
                return cli_usage_error(
                    cmd, "--limit: expected a number >= 1, got '%s'", optarg);
            break;
        case OPT_ALL:
            o->all = 1;
            break;
        case OPT_DRY:
            o->dry_run = 1;
            break;
        case OPT_KEEP:
            o->keep_attempts = 1;
            break;
        case OPT_YES:
            o->yes = 1;
            break;
        }
    }
    o->argc = argc - optind;
    o->argv = argv + optind;
    return -1;
}

/* Connect, then turn --since / --older-than into times by Redis's clock. */
static int
connect_and_times(struct dlqopt *o)
{
    char cmd[32];
    int64_t now;

    snprintf(cmd, sizeof(cmd), "dlq %s", o->sub);
    if (cli_connect(&o->c) < 0)
        return -1;
    if (!o->since_arg && !o->older_arg)
        return 0;
    if (ops_server_now(o->c.rc, cmd, &now) < 0)
        return -1;
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
        cJSON *j = cJSON_CreateObject();
        int bad = 0;
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
        if (bad) {
            cJSON_Delete(j);
            j = NULL;
        }
        rc = cli_print_json(j);
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
    "                 invalid, canceled\n"
    "  --status N     HTTP status of the error (400, 404, ...)\n"
    "  --since T      died at or after T: RFC 3339, or a duration ago (2h)\n"
    "  --grep TEXT    TEXT occurs (case-sensitive) in the job or the error\n"
    "  --limit N      at most N jobs\n" CLI_COMMON_HELP;

static int
dlq_ls(struct dlqopt *o)
{
    struct dlq_pager p;
    struct dlq_entry e;
    struct ops_tty t;
    long shown = 0;
    int rc = EXIT_OK;

    if (o->argc > 0)
        return cli_usage_error("dlq ls", "unexpected argument '%s'",
                               o->argv[0]);
    ops_tty_init(&t);
    if (connect_and_times(o) < 0)
        return EXIT_FAIL;
    dlq_pager_init(&p, &o->c, &o->f, DLQ_DETAIL_LIST, LS_PAGE);
    if (t.tty && !o->c.json)
        printf("%s%-36s %-19s %-13s %4s %3s  %-49s %s%s\n",
               ops_col(&t, OPS_BOLD), "ID", "DIED AT (UTC)", "CLASS", "HTTP",
               "ATT", "MESSAGE", "PROMPT", ops_col(&t, OPS_RESET));
    while (!p.end && (!o->limit || shown < o->limit)) {
        if (dlq_pager_append(&p) < 0) {
            rc = cli_fail("dlq ls", "out of memory");
            break;
        }
        if (dlq_pager_read(&p, "dlq ls") < 0) {
            rc = EXIT_FAIL;
            break;
        }
        while ((!o->limit || shown < o->limit) && dlq_pager_next(&p, &e)) {
            if (ls_print(o, &t, &e) < 0) {
                rc = cli_fail("dlq ls", "out of memory");
                break;
            }
            shown++;
        }
        if (rc != EXIT_OK || fflush(stdout) != 0)
            break;
    }
    dlq_pager_free(&p);
    if (rc == EXIT_OK && t.tty && !o->c.json)
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
dlq_export(struct dlqopt *o)
{
    struct dlq_pager p;
    struct dlq_entry e;
    long shown = 0;
    int rc = EXIT_OK;

    if (o->argc > 0)
        return cli_usage_error("dlq export", "unexpected argument '%s'",
                               o->argv[0]);
    if (connect_and_times(o) < 0)
        return EXIT_FAIL;
    dlq_pager_init(&p, &o->c, &o->f, DLQ_DETAIL_FULL, EXPORT_PAGE);
    while (!p.end && (!o->limit || shown < o->limit)) {
        if (dlq_pager_append(&p) < 0) {
            rc = cli_fail("dlq export", "out of memory");
            break;
        }
        if (dlq_pager_read(&p, "dlq export") < 0) {
            rc = EXIT_FAIL;
            break;
        }
        while ((!o->limit || shown < o->limit) && dlq_pager_next(&p, &e)) {
            if (cli_print_json(ops_deadletter_doc(e.id, e.died_ms, e.meta,
                                                  e.error, e.history,
                                                  e.payload)) < 0) {
                rc = cli_fail("dlq export", "out of memory");
                break;
            }
            shown++;
        }
        if (rc != EXIT_OK)
            break;
        if (fflush(stdout) != 0) {
            rc = cli_fail("dlq export", "writing the output failed");
            break;
        }
    }
    dlq_pager_free(&p);
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
        struct ops_meta m;
        redisReply **g;
        cJSON *d;

        if (!r || r->type != REDIS_REPLY_ARRAY ||
            r->elements != INSPECT_FIELDS) {
            rc = cli_fail("dlq show", "%s", r ? "unexpected reply" : err);
            if (r)
                freeReplyObject(r);
            break;
        }
        g = r->element;
        if (g[0]->type != REDIS_REPLY_STRING ||
            ops_meta_parse(g[0]->str, &m) < 0 || strcmp(m.state, "dead") ||
            g[8]->type != REDIS_REPLY_STRING) {
            fprintf(stderr,
                    "genq dlq show: %s is not in the dead-letter queue "
                    "(%s)\n",
                    o->argv[i],
                    g[0]->type == REDIS_REPLY_STRING &&
                            ops_meta_parse(g[0]->str, &m) == 0
                        ? m.state
                        : "unknown");
            freeReplyObject(r);
            rc = EXIT_FAIL;
            continue;
        }
        d = ops_deadletter_doc(
            o->argv[i], strtoll(g[8]->str, NULL, 10), g[0]->str,
            g[4]->type == REDIS_REPLY_STRING ? g[4]->str : NULL,
            g[5]->type == REDIS_REPLY_STRING ? g[5]->str : NULL,
            g[6]->type == REDIS_REPLY_STRING ? g[6]->str : NULL);
        freeReplyObject(r);
        if (!d) {
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

/* ---- requeue and purge -----------------------------------------------------
 */

struct change {
    struct dlqopt *o;
    int purge;
    const char *cmd;
    char **batch; /* ids of the batch being filled (owned) */
    int n;
    int pending[ID_WINDOW * 2 + 2]; /* sizes of the calls in flight */
    int npending;
    long matched, changed, skipped;
};

static void
batch_clear(struct change *ch)
{
    for (int i = 0; i < ch->n; i++)
        free(ch->batch[i]);
    ch->n = 0;
}

/* Append the script call of the current batch (pipelined). */
static int
change_append(struct change *ch)
{
    const char **av = malloc(sizeof(*av) * (size_t)(ch->n + 1));
    int k = 0, rc;

    if (!av)
        return -1;
    if (!ch->purge)
        av[k++] = ch->o->keep_attempts ? "1" : "0";
    for (int i = 0; i < ch->n; i++)
        av[k++] = ch->batch[i];
    rc = rclient_append_script(
        ch->o->c.rc, ch->purge ? SCRIPT_DLQ_PURGE : SCRIPT_DLQ_REQUEUE,
        &ch->o->c.keys, k, av, NULL);
    free(av);
    if (rc == 0)
        ch->pending[ch->npending++] = ch->n;
    return rc;
}

/* Read the replies of every call in flight. ids (may be NULL) names the
 * ids of the oldest call, for reporting those not moved. */
static int
change_read_one(struct change *ch, char **ids)
{
    char err[512];
    redisReply *r = rclient_read(ch->o->c.rc, err, sizeof(err));
    int n = ch->pending[0];

    memmove(ch->pending, ch->pending + 1,
            sizeof(int) * (size_t)(ch->npending - 1));
    ch->npending--;
    if (!r) {
        cli_fail(ch->cmd, "%s", err);
        return -1;
    }
    if (r->type != REDIS_REPLY_ARRAY || (int)r->elements != n) {
        freeReplyObject(r);
        cli_fail(ch->cmd, "unexpected reply from Redis");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        redisReply *e = r->element[i];
        int ok = e->type == REDIS_REPLY_STRING &&
                 !strcmp(e->str, ch->purge ? "purged" : "requeued");
        if (ok) {
            ch->changed++;
        } else {
            ch->skipped++;
            if (ids && !ch->o->c.json)
                fprintf(stderr, "genq %s: %s: not dead (%s)\n", ch->cmd, ids[i],
                        e->type == REDIS_REPLY_STRING ? e->str : "?");
        }
    }
    freeReplyObject(r);
    return 0;
}

static int
change_drain(struct change *ch)
{
    while (ch->npending > 0)
        if (change_read_one(ch, NULL) < 0)
            return -1;
    return 0;
}

/* Dry run of ID mode: count which of ids are dead (inspect script). */
static int
dry_ids(struct change *ch, char **ids, int n)
{
    const char **av = malloc(sizeof(*av) * (size_t)(n + 2));
    char err[512];
    redisReply *r;

    if (!av)
        return cli_fail(ch->cmd, "out of memory");
    av[0] = "0";
    av[1] = "0";
    for (int i = 0; i < n; i++)
        av[i + 2] = ids[i];
    r = rclient_script(ch->o->c.rc, SCRIPT_INSPECT, &ch->o->c.keys, n + 2, av,
                       NULL, err, sizeof(err));
    free(av);
    if (!r)
        return cli_fail(ch->cmd, "%s", err);
    if (r->type != REDIS_REPLY_ARRAY ||
        r->elements != (size_t)n * INSPECT_FIELDS) {
        freeReplyObject(r);
        return cli_fail(ch->cmd, "unexpected reply from Redis");
    }
    for (int i = 0; i < n; i++) {
        redisReply *m = r->element[i * INSPECT_FIELDS];
        struct ops_meta meta = {.state = "unknown"};
        if (m->type == REDIS_REPLY_STRING &&
            ops_meta_parse(m->str, &meta) == 0 && !strcmp(meta.state, "dead")) {
            ch->matched++;
        } else {
            ch->skipped++;
            if (!ch->o->c.json)
                fprintf(stderr, "genq %s: %s: not dead (%s)\n", ch->cmd, ids[i],
                        meta.state);
        }
    }
    freeReplyObject(r);
    return 0;
}

/* idwin append of ID mode: the requeue/purge call of ids[0..n), or in a
 * dry run the count of those that are dead (synchronous). */
static int
ids_append(void *ctx, char **ids, int n)
{
    struct change *ch = ctx;

    if (ch->o->dry_run)
        return dry_ids(ch, ids, n) != 0 ? -1 : 1;
    ch->matched += n;
    ch->batch = ids;
    ch->n = n;
    if (change_append(ch) < 0) {
        ch->batch = NULL;
        cli_fail(ch->cmd, "out of memory");
        return -1;
    }
    ch->batch = NULL;
    return 0;
}

/* idwin finish of ID mode: read the oldest call, report the ids not
 * moved. */
static int
ids_finish(void *ctx, char **ids, int n)
{
    (void)n;
    return change_read_one(ctx, ids);
}

/* ID mode: the ids given (argv, '-' = stdin), batches of CHANGE_BATCH with
 * ID_WINDOW calls in flight; each id not moved is reported. */
static int
change_ids(struct change *ch)
{
    struct idwin w = {ch->cmd,    CHANGE_BATCH, ID_WINDOW,
                      ids_append, ids_finish,   ch};
    int any;

    return idwin_run(&w, ch->o->argc, ch->o->argv, &any) < 0 ? EXIT_FAIL : 0;
}

/* Filter mode: page through the dead set, newest first; matching ids go
 * out in batches of CHANGE_BATCH, sent together with the next page's
 * request (the cursor makes removed entries harmless). With count_only,
 * only count the matches. */
static int
change_filtered(struct change *ch, int count_only)
{
    struct dlq_pager p;
    struct dlq_entry e;
    int rc = 0;

    ch->batch = calloc(CHANGE_BATCH, sizeof(char *));
    if (!ch->batch)
        return cli_fail(ch->cmd, "out of memory");
    ch->n = 0;
    dlq_pager_init(&p, &ch->o->c, &ch->o->f, DLQ_DETAIL_IDS, SCAN_PAGE);
    while (!p.end) {
        if (dlq_pager_append(&p) < 0) {
            rc = cli_fail(ch->cmd, "out of memory");
            break;
        }
        if (change_drain(ch) < 0 || dlq_pager_read(&p, ch->cmd) < 0) {
            rc = EXIT_FAIL;
            break;
        }
        while (dlq_pager_next(&p, &e)) {
            ch->matched++;
            if (count_only || ch->o->dry_run)
                continue;
            ch->batch[ch->n] = strdup(e.id);
            if (!ch->batch[ch->n]) {
                rc = cli_fail(ch->cmd, "out of memory");
                break;
            }
            if (++ch->n == CHANGE_BATCH) {
                if (change_append(ch) < 0) {
                    rc = cli_fail(ch->cmd, "out of memory");
                    break;
                }
                batch_clear(ch);
            }
        }
        if (rc)
            break;
    }
    if (rc == 0 && ch->n > 0) {
        if (change_append(ch) < 0)
            rc = cli_fail(ch->cmd, "out of memory");
        batch_clear(ch);
    }
    if (rc == 0 && change_drain(ch) < 0)
        rc = EXIT_FAIL;
    batch_clear(ch);
    free(ch->batch);
    ch->batch = NULL;
    dlq_pager_free(&p);
    return rc;
}

static void
change_report(const struct change *ch)
{
    const char *verb = ch->purge ? "purged" : "requeued";

    if (ch->o->c.json) {
        cJSON *j = cJSON_CreateObject();
        int bad = 0;
        ops_jstr(j, "queue", ch->o->c.queue, &bad);
        ops_jstr(j, "action", ch->purge ? "purge" : "requeue", &bad);
        ops_jbool(j, "dry_run", ch->o->dry_run, &bad);
        ops_jnum(j, "matched", (double)ch->matched, &bad);
        ops_jnum(j, "changed", (double)ch->changed, &bad);
        ops_jnum(j, "skipped", (double)ch->skipped, &bad);
        if (bad) {
            cJSON_Delete(j);
            j = NULL;
        }
        if (cli_print_json(j) < 0)
            cli_fail(ch->cmd, "out of memory");
    } else if (ch->o->dry_run) {
        printf("would have %s %ld dead job%s (queue %s; dry run)\n", verb,
               ch->matched, ch->matched == 1 ? "" : "s", ch->o->c.queue);
    } else {
        printf("%s %ld dead job%s (queue %s)", verb, ch->changed,
               ch->changed == 1 ? "" : "s", ch->o->c.queue);
        if (ch->skipped)
            printf("; %ld not dead (left alone)", ch->skipped);
        putchar('\n');
    }
}

/* Ask on the terminal; 1 = yes. */
static int
confirm(const struct change *ch, long n)
{
    char line[32];

    fprintf(stderr, "purge %ld dead job%s of queue %s for good? [y/N] ", n,
            n == 1 ? "" : "s", ch->o->c.queue);
    fflush(stderr);
    if (!fgets(line, sizeof(line), stdin))
        return 0;
    return line[0] == 'y' || line[0] == 'Y';
}

static const char requeue_help[] =
    "usage: genq dlq requeue (ID... | - | --all | --class C | --status N |\n"
    "                         --since T | --grep TEXT) [--dry-run]\n"
    "                        [--keep-attempts] [--json]\n\n"
    "Send dead jobs back to the queue: atomic per job, only jobs that are\n"
    "still dead move; each goes to the back of the ready list of its\n"
    "priority with its id, job, idempotency key and history kept, and its\n"
    "attempts reset to 0 unless --keep-attempts. Filters combine (all must\n"
    "match) and are evaluated page by page over the dead set; matching ids\n"
    "go to Redis in pipelined batches of 1000. '-' reads ids from stdin.\n"
    "Prints how many moved; --json one object (schemas/dlq-change.schema.json"
    ").\n\n"
    "  --all            every dead job (narrowed by any filter given)\n"
    "  --dry-run        count what would move; change nothing\n"
    "  --keep-attempts  keep the attempt count (one more attempt when spent)\n"
    "Filters as in 'genq dlq ls' (--class, --status, --since, --grep).\n"
    "Exit 1 when a given id was not dead.\n\n" CLI_COMMON_HELP;

static const char purge_help[] =
    "usage: genq dlq purge (ID... | - | --all | --older-than D | --class C |\n"
    "                       --status N | --since T | --grep TEXT) [--yes]\n"
    "                      [--dry-run] [--json]\n\n"
    "Delete dead jobs for good: the job, its error, history and dead-set\n"
    "entry, and its idempotency key (so the same job may be enqueued again).\n"
    "Only jobs that are still dead are purged. Filters are always honoured\n"
    "and combine (--all with a filter purges only what matches). On a\n"
    "terminal the count is shown and confirmed first unless --yes; without\n"
    "a terminal --all needs --yes (else exit 2). Dead letters are never\n"
    "dropped any other way.\n\n"
    "  --all            every dead job (narrowed by any filter given)\n"
    "  --older-than D   died more than D ago (90s, 15m, 2h, 7d)\n"
    "  -y, --yes        do not ask\n"
    "  --dry-run        count what would be purged; change nothing\n"
    "Filters as in 'genq dlq ls' (--class, --status, --since, --grep).\n"
    "Exit 1 when a given id was not dead.\n\n" CLI_COMMON_HELP;

static int
dlq_change(struct dlqopt *o, int purge)
{
    struct change ch;
    int filtered = o->all || dlq_filter_any(&o->f) || o->older_arg;
    int interactive = isatty(STDIN_FILENO) && isatty(STDERR_FILENO);
    int rc;

    memset(&ch, 0, sizeof(ch));
    ch.o = o;
    ch.purge = purge;
    ch.cmd = purge ? "dlq purge" : "dlq requeue";
    if (o->argc > 0 && filtered)
        return cli_usage_error(ch.cmd, "give ids or filters, not both");
    if (o->argc == 0 && !filtered)
        return cli_usage_error(ch.cmd, "give ids, --all or a filter");
    if (purge && !o->yes && !o->dry_run && !interactive && o->all)
        return cli_usage_error(ch.cmd,
                               "refusing to purge with --all without --yes "
                               "(no terminal to confirm on)");
    if (connect_and_times(o) < 0)
        return EXIT_FAIL;
    if (purge && !o->yes && !o->dry_run && interactive) {
        long n = o->argc;
        if (filtered) {
            if (change_filtered(&ch, 1) != 0) {
                cli_close(&o->c);
                return EXIT_FAIL;
            }
            n = ch.matched;
            ch.matched = 0;
        }
        if (n == 0) {
            change_report(&ch);
            cli_close(&o->c);
            return EXIT_OK;
        }
        if (!confirm(&ch, n)) {
            fprintf(stderr, "nothing purged\n");
            cli_close(&o->c);
            return EXIT_FAIL;
        }
    }
    rc = filtered ? change_filtered(&ch, 0) : change_ids(&ch);
    if (rc == 0)
        change_report(&ch);
    cli_close(&o->c);
    if (rc != 0)
        return EXIT_FAIL;
    return !filtered && ch.skipped ? EXIT_FAIL : EXIT_OK;
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

    if (argc < 2) {
        fputs(dlq_help, stderr);
        return EXIT_USAGE;
    }
    sub = argv[1];
    if (!strcmp(sub, "-h") || !strcmp(sub, "--help") || !strcmp(sub, "help")) {
        fputs(dlq_help, stdout);
        return EXIT_OK;
    }
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
                        requeue_help);
        return rc >= 0 ? rc : dlq_change(&o, 0);
    }
    if (!strcmp(sub, "purge")) {
        rc = parse_opts(&o, argc, argv,
                        O_CLASS | O_STATUS | O_SINCE | O_GREP | O_ALL |
                            O_OLDER | O_DRY | O_YES,
                        purge_help);
        return rc >= 0 ? rc : dlq_change(&o, 1);
    }
    fprintf(stderr, "genq dlq: unknown command '%s'\n\n", sub);
    fputs(dlq_help, stderr);
    return EXIT_USAGE;
}
