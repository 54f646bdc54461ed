/* genq pause Q / genq resume Q (the pause script: workers stop claiming
 * from a paused queue within a second) and genq cancel ID... (the cancel
 * script, in pipelined batches). */
#include "fmacros.h"

#include <stdlib.h>
#include <string.h>

#include "cmd_ops.h"
#include "idwin.h"
#include "rclient.h"
#include "timefmt.h"

#define CANCEL_BATCH      1000
#define CANCEL_WINDOW     4
#define RETENTION_DEFAULT 604800

static const char pause_help[] =
    "usage: genq pause [Q] [--json]\n"
    "       genq resume [Q] [--json]\n\n"
    "Pause a queue: workers stop claiming from it within a second (jobs in\n"
    "flight finish); enqueueing goes on. Resume lets them claim again at\n"
    "once. Q defaults to --queue. --json prints {\"queue\", \"paused\",\n"
    "\"changed\", \"paused_since\"} "
    "(schemas/pause.schema.json).\n\n" CLI_COMMON_HELP;

static int
pause_or_resume(int argc, char **argv, int on)
{
    const char *cmd = on ? "pause" : "resume";
    struct cli_cmd spec = {cmd, pause_help, NULL, NULL, NULL, NULL, 1};
    const char *av[1] = {on ? "1" : "0"};
    struct cli c;
    redisReply *r;
    char err[512], ts[32];
    int first, rc = EXIT_OK;
    long long changed, since;

    if ((rc = cli_parse(&c, &spec, argc, argv, &first)) != CLI_NEXT)
        return rc;
    rc = EXIT_OK;
    if (argc - first > 1)
        return cli_usage_error(cmd, "give one queue");
    if (first < argc)
        c.queue = argv[first];
    if (cli_connect(&c) < 0)
        return EXIT_FAIL;
    r = rclient_script(c.rc, SCRIPT_PAUSE, &c.keys, 1, av, NULL, err,
                       sizeof(err));
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER ||
        r->element[1]->type != REDIS_REPLY_INTEGER) {
        rc = cli_fail(cmd, "%s", r ? "unexpected reply" : err);
        if (r)
            freeReplyObject(r);
        cli_close(&c);
        return rc;
    }
    changed = r->element[0]->integer;
    since = r->element[1]->integer;
    freeReplyObject(r);
    timefmt_rfc3339(since, ts);
    if (c.json) {
        cJSON *j = cJSON_CreateObject();
        int bad = 0;
        ops_jstr(j, "queue", c.queue, &bad);
        ops_jbool(j, "paused", on, &bad);
        ops_jbool(j, "changed", changed == 1, &bad);
        ops_jstr(j, "paused_since", on && since > 1 ? ts : NULL, &bad);
        if (ops_print_doc(j, bad) < 0)
            rc = cli_fail(cmd, "out of memory");
    } else if (on) {
        if (changed)
            printf("queue %s paused: workers stop claiming within a second\n",
                   c.queue);
        else
            printf("queue %s was already paused (since %s)\n", c.queue, ts);
    } else {
        printf(changed ? "queue %s resumed\n" : "queue %s was not paused\n",
               c.queue);
    }
    cli_close(&c);
    return rc;
}

int
cmd_pause(int argc, char **argv)
{
    return pause_or_resume(argc, argv, 1);
}

int
cmd_resume(int argc, char **argv)
{
    return pause_or_resume(argc, argv, 0);
}

/* ---- cancel ----------------------------------------------------------- */

/* idwin report: one batch of cancel outcomes. Returns how many ids were
 * not canceled or flagged, or -1 on out of memory. */
static int
cancel_report(void *ctx, char **ids, int n, redisReply *r)
{
    struct cli *c = ctx;
    int missed = 0;

    for (int i = 0; i < n; i++) {
        redisReply *e = r->element[i];
        const char *out = "unknown", *st = "unknown";
        if (e->type == REDIS_REPLY_ARRAY && e->elements == 2 &&
            e->element[0]->type == REDIS_REPLY_STRING &&
            e->element[1]->type == REDIS_REPLY_STRING) {
            out = e->element[0]->str;
            st = e->element[1]->str;
        }
        if (strcmp(out, "canceled") && strcmp(out, "requested"))
            missed++;
        if (c->json) {
            cJSON *j = cJSON_CreateObject();
            int bad = 0;
            ops_jstr(j, "id", ids[i], &bad);
            ops_jstr(j, "outcome", out, &bad);
            ops_jstr(j, "state", st, &bad);
            if (ops_print_doc(j, bad) < 0) {
                cli_fail("cancel", "out of memory");
                return -1;
            }
        } else if (!strcmp(out, "canceled")) {
            printf("%s canceled\n", ids[i]);
        } else if (!strcmp(out, "requested")) {
            printf("%s cancel requested: it is active; canceled when this "
                   "attempt fails or its lease expires, succeeded if it "
                   "succeeds\n",
                   ids[i]);
        } else if (!strcmp(out, "unchanged")) {
            printf("%s not canceled: already %s\n", ids[i], st);
        } else {
            printf("%s unknown\n", ids[i]);
        }
    }
    return missed;
}

static const char cancel_help[] =
    "usage: genq cancel ID... [-] [--retention S] [--feed-maxlen N] [--json]\n"
    "\n"
    "Cancel jobs. A queued or delayed job is canceled at once (taken off the\n"
    "ready list or the delayed set; one genq enqueue stored in bulk is found\n"
    "by a scan of the ready lists first). An active job is flagged: when its\n"
    "current attempt fails in any way or its lease expires it becomes\n"
    "canceled instead of being retried; if the attempt succeeds, the result\n"
    "is kept and the job is succeeded. Finished jobs are left alone.\n"
    "Canceled jobs are kept --retention seconds, like results. '-' reads\n"
    "ids from stdin. --json prints one object per id: {\"id\", \"outcome\",\n"
    "\"state\"} (schemas/cancel.schema.json), outcome canceled, requested,\n"
    "unchanged or unknown. Exit 1 when an id was unknown or finished.\n\n"
    "  --retention S  keep canceled jobs S seconds (env GENQ_RESULT_TTL;\n"
    "                 default 604800)\n"
    "  --feed-maxlen N  each job canceled at once gets an entry in the\n"
    "                 completion feed genq:{Q}:feed, kept to about N entries\n"
    "                 (env GENQ_FEED_MAXLEN; default 100000; 0 = "
    "none)\n" CLI_COMMON_HELP;

int
cmd_cancel(int argc, char **argv)
{
    struct cli c;
    char ttl[32], fmax[32];
    const char *pre[2] = {ttl, fmax}; /* retention in ms, feed bound */
    struct idwin w = {.c = &c,
                      .cmd = "cancel",
                      .script = SCRIPT_CANCEL,
                      .pre = pre,
                      .npre = 2,
                      .fields = 1,
                      .batch = CANCEL_BATCH,
                      .window = CANCEL_WINDOW,
                      .report = cancel_report,
                      .ctx = &c,
                      .find_queued = 1};
    int first, rc;
    long retention = RETENTION_DEFAULT, feed_max = FEED_MAXLEN_DEFAULT;
    const char *env = getenv("GENQ_RESULT_TTL");
    const char *fenv = getenv("GENQ_FEED_MAXLEN");
    struct cli_opt opts[] = {CLI_OPT_LONG("retention", 'r', &retention, 1,
                                          100L * 365 * 86400, "seconds"),
                             CLI_OPT_LONG("feed-maxlen", 2, &feed_max, 0,
                                          FEED_MAXLEN_MAX, "0..1000000000"),
                             CLI_OPT_END};
    struct cli_cmd spec = {"cancel", cancel_help, NULL, opts, NULL, NULL, 1};

    if (env && *env &&
        ops_parse_long(env, 1, 100L * 365 * 86400, &retention) < 0)
        return cli_usage_error(
            "cancel", "GENQ_RESULT_TTL: expected seconds, got '%s'", env);
    if (fenv && *fenv &&
        ops_parse_long(fenv, 0, FEED_MAXLEN_MAX, &feed_max) < 0)
        return cli_usage_error("cancel",
                               "GENQ_FEED_MAXLEN: expected 0..%ld, got '%s'",
                               FEED_MAXLEN_MAX, fenv);
    if ((rc = cli_parse(&c, &spec, argc, argv, &first)) != CLI_NEXT)
        return rc;
    if (first >= argc)
        return cli_usage_error("cancel", "give job ids, or '-' to read them "
                                         "from stdin");
    snprintf(ttl, sizeof(ttl), "%ld", retention * 1000);
    snprintf(fmax, sizeof(fmax), "%ld", feed_max);
    if (cli_connect(&c) < 0)
        return EXIT_FAIL;
    rc = idwin_exit(&w, argc - first, argv + first);
    cli_close(&c);
    return rc;
}
