/* genq status / genq result: read jobs through the `inspect` script (never
 * raw keys), many ids per call in pipelined batches. */
#include "fmacros.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_ops.h"
#include "docs.h"
#include "idwin.h"
#include "ready_find.h"
#include "rclient.h"
#include "timefmt.h"

#define INSPECT_BATCH  500
#define INSPECT_WINDOW 4

static const char *const prio_name[] = {"high", "normal", "low"};

static int
add_time(cJSON *o, const char *name, long long ms)
{
    char ts[32];

    timefmt_rfc3339((int64_t)ms, ts);
    return cJSON_AddStringToObject(o, name, ts) ? 0 : -1;
}

static const char *
str_or_null(redisReply *r)
{
    return r->type == REDIS_REPLY_STRING ? r->str : NULL;
}

/* The status document of one id from its group of inspect fields (docs.h). */
cJSON *
status_doc(const char *id, redisReply **g, int with_result)
{
    cJSON *o = cJSON_CreateObject(), *x;
    const char *metas = str_or_null(g[0]) ? g[0]->str : NULL;
    struct ops_meta m;
    long long now = g[2]->type == REDIS_REPLY_INTEGER ? g[2]->integer : 0;

    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "id", id);
    if (ops_meta_parse(metas, &m) < 0) {
        cJSON_AddStringToObject(o, "state", "unknown");
        return o;
    }
    cJSON_AddStringToObject(o, "state", m.state);
    cJSON_AddNumberToObject(o, "attempts", (double)m.attempts);
    if (m.max_attempts > 0)
        cJSON_AddNumberToObject(o, "max_attempts", (double)m.max_attempts);
    else
        cJSON_AddNullToObject(o, "max_attempts");
    cJSON_AddStringToObject(o, "priority", prio_name[m.prio]);
    if (m.worker[0])
        cJSON_AddStringToObject(o, "worker", m.worker);
    else
        cJSON_AddNullToObject(o, "worker");
    add_time(o, "enqueued_at", m.enqueued_ms);
    add_time(o, "updated_at", m.updated_ms);
    if (str_or_null(g[1]))
        cJSON_AddNumberToObject(o, "lease_ms_left",
                                (double)(strtoll(g[1]->str, NULL, 10) - now));
    else
        cJSON_AddNullToObject(o, "lease_ms_left");
    if (str_or_null(g[3]))
        cJSON_AddNumberToObject(o, "progress",
                                (double)strtoll(g[3]->str, NULL, 10));
    else
        cJSON_AddNullToObject(o, "progress");
    x = str_or_null(g[4]) ? cJSON_Parse(g[4]->str) : NULL;
    if (x)
        cJSON_AddItemToObject(o, "last_error", x);
    else
        cJSON_AddNullToObject(o, "last_error");
    x = ops_history_doc(str_or_null(g[5]));
    if (!x || !cJSON_AddItemToObject(o, "history", x)) {
        cJSON_Delete(x);
        cJSON_Delete(o);
        return NULL; /* out of memory */
    }
    if (with_result && str_or_null(g[7])) {
        x = cJSON_Parse(g[7]->str);
        if (x)
            cJSON_AddItemToObject(o, "result", x);
    }
    return o;
}

static void
print_status_text(cJSON *o)
{
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(o, "id"));
    const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(o, "state"));
    cJSON *a = cJSON_GetObjectItem(o, "attempts");
    cJSON *mx = cJSON_GetObjectItem(o, "max_attempts");
    cJSON *w = cJSON_GetObjectItem(o, "worker");
    cJSON *l = cJSON_GetObjectItem(o, "lease_ms_left");
    cJSON *p = cJSON_GetObjectItem(o, "progress");
    cJSON *e = cJSON_GetObjectItem(o, "last_error");

    printf("%s  %s", id, st);
    if (!strcmp(st, "unknown")) {
        putchar('\n');
        return;
    }
    printf("  attempts %d", cJSON_IsNumber(a) ? a->valueint : 0);
    if (cJSON_IsNumber(mx))
        printf("/%d", mx->valueint);
    if (cJSON_IsString(w))
        printf("  worker %s", w->valuestring);
    if (cJSON_IsNumber(l))
        printf("  lease %.1fs", l->valuedouble / 1000.0);
    if (cJSON_IsNumber(p))
        printf("  progress %d tokens", p->valueint);
    if (cJSON_IsObject(e)) {
        const char *msg =
            cJSON_GetStringValue(cJSON_GetObjectItem(e, "message"));
        const char *cls = cJSON_GetStringValue(cJSON_GetObjectItem(e, "class"));
        printf("  last error [%s] %s", cls ? cls : "?", msg ? msg : "");
    }
    putchar('\n');
}

struct status_ctx {
    struct cli *c;
    int with_result; /* --with-result */
};

/* idwin report: print one batch's answers in order. Returns how many ids
 * were unknown, or -1 on out of memory. */
static int
inspect_report(void *ctx, char **ids, int n, redisReply *r)
{
    struct cli *c = ((struct status_ctx *)ctx)->c;
    int with_result = ((struct status_ctx *)ctx)->with_result;
    int unknown = 0;

    for (int i = 0; i < n; i++) {
        cJSON *o =
            status_doc(ids[i], &r->element[i * INSPECT_FIELDS], with_result);
        const char *st;
        if (!o) {
            fprintf(stderr, "genq status: out of memory\n");
            return -1;
        }
        st = cJSON_GetStringValue(cJSON_GetObjectItem(o, "state"));
        if (st && !strcmp(st, "unknown"))
            unknown++;
        if (c->json) {
            cli_print_json(o);
        } else {
            print_status_text(o);
            cJSON_Delete(o);
        }
    }
    return unknown;
}

static const char status_help[] =
    "usage: genq status ID... [-] [--with-result] [--json]\n\n"
    "Show the state of jobs: state, attempts, worker, lease left, progress,\n"
    "last error and attempt history. '-' reads ids from stdin, one per line\n"
    "(thousands at once, answered in batches). With --json one\n"
    "object per id in input order (schemas/status.schema.json); an unknown\n"
    "id prints {\"id\": ID, \"state\": \"unknown\"} and makes the exit code "
    "1.\n"
    "A job that genq enqueue stored in bulk and no worker has claimed yet is\n"
    "found by a scan of the ready lists (time grows with the backlog).\n\n"
    "  --with-result  add the result document of succeeded jobs as "
    "\"result\"\n" CLI_COMMON_HELP;

int
cmd_status(int argc, char **argv)
{
    struct cli c;
    struct status_ctx x = {&c, 0};
    struct cli_opt opts[] = {CLI_OPT_FLAG("with-result", 'r', &x.with_result),
                             CLI_OPT_END};
    const char *pre[2] = {"0", "0"}; /* no dead-letter time; result? */
    struct idwin w = {.c = &c,
                      .cmd = "status",
                      .script = SCRIPT_INSPECT,
                      .pre = pre,
                      .npre = 2,
                      .fields = INSPECT_FIELDS,
                      .batch = INSPECT_BATCH,
                      .window = INSPECT_WINDOW,
                      .report = inspect_report,
                      .ctx = &x,
                      .find_queued = 1};
    struct cli_cmd spec = {"status", status_help, NULL, opts, NULL, NULL, 1};
    int first, rc;

    if ((rc = cli_parse(&c, &spec, argc, argv, &first)) != CLI_NEXT)
        return rc;
    if (first >= argc)
        return cli_usage_error("status", "give job ids, or '-' to read them "
                                         "from stdin");
    if (cli_connect(&c) < 0)
        return EXIT_FAIL;
    pre[1] = x.with_result ? "1" : "0";
    rc = idwin_exit(&w, argc - first, argv + first);
    cli_close(&c);
    return rc;
}

static const char result_help[] =
    "usage: genq result ID [--wait S] [--json]\n\n"
    "Print the generated text of a succeeded job; with --json the result\n"
    "document (schemas/result.schema.json). --wait S waits up to S seconds\n"
    "for the job to finish. Exit 1 when the job is unknown, dead, canceled\n"
    "or not finished in time.\n\n"
    "  --wait S       wait up to S seconds (default 0: do not "
    "wait)\n" CLI_COMMON_HELP;

int
cmd_result(int argc, char **argv)
{
    struct cli c;
    double wait_s = 0;
    struct cli_opt opts[] = {CLI_OPT_SECONDS("wait", 'w', &wait_s, 0, 86400),
                             CLI_OPT_END};
    struct cli_cmd spec = {"result", result_help, NULL, opts, NULL, NULL, 1};
    int first, rc;
    double t0;

    if ((rc = cli_parse(&c, &spec, argc, argv, &first)) != CLI_NEXT)
        return rc;
    if (first + 1 != argc)
        return cli_usage_error("result", "give exactly one job id");
    if (cli_connect(&c) < 0)
        return EXIT_FAIL;
    t0 = time_mono_s();
    {
        char err[512];
        if (ready_find(c.rc, &c.keys, (const char *const *)argv + first, 1, err,
                       sizeof(err)) < 0) {
            rc = cli_fail("result", "%s", err);
            cli_close(&c);
            return rc;
        }
    }
    for (;;) {
        const char *av[3] = {"0", "1", argv[first]};
        char err[512];
        redisReply *r = rclient_script(c.rc, SCRIPT_INSPECT, &c.keys, 3, av,
                                       NULL, err, sizeof(err));
        cJSON *o;
        const char *st;
        double waited;

        if (!r || r->type != REDIS_REPLY_ARRAY ||
            r->elements != INSPECT_FIELDS) {
            if (r)
                freeReplyObject(r);
            rc = cli_fail("result", "%s", r ? "unexpected reply" : err);
            break;
        }
        o = status_doc(argv[first], r->element, 1);
        freeReplyObject(r);
        if (!o) {
            rc = cli_fail("result", "out of memory");
            break;
        }
        st = cJSON_GetStringValue(cJSON_GetObjectItem(o, "state"));
        if (st && !strcmp(st, "succeeded")) {
            cJSON *res = cJSON_DetachItemFromObject(o, "result");
            cJSON_Delete(o);
            if (!res) {
                rc = cli_fail("result", "%s: result missing (expired?)",
                              argv[first]);
                break;
            }
            if (c.json) {
                cli_print_json(res);
            } else {
                const char *text =
                    cJSON_GetStringValue(cJSON_GetObjectItem(res, "text"));
                fputs(text ? text : "", stdout);
                fputc('\n', stdout);
                cJSON_Delete(res);
            }
            rc = EXIT_OK;
            break;
        }
        waited = time_mono_s() - t0;
        if (!st || !strcmp(st, "unknown") || !strcmp(st, "dead") ||
            !strcmp(st, "canceled") || waited >= wait_s) {
            cJSON *e = cJSON_GetObjectItem(o, "last_error");
            const char *msg =
                cJSON_GetStringValue(cJSON_GetObjectItem(e, "message"));
            if (st && !strcmp(st, "dead"))
                fprintf(stderr, "genq result: %s is dead: %s\n", argv[first],
                        msg ? msg : "(no error recorded)");
            else
                fprintf(stderr, "genq result: %s is %s\n", argv[first],
                        st ? st : "unknown");
            cJSON_Delete(o);
            rc = EXIT_FAIL;
            break;
        }
        cJSON_Delete(o);
        usleep(100 * 1000);
    }
    cli_close(&c);
    return rc;
}
