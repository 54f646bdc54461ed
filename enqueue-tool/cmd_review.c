/* genq review ls | show ID | approve ID... | reject ID... [--regenerate]
 * [--note T]: the results the worker's content review flagged (state
 * review, README "Content review"). approve makes them succeeded; reject
 * sends them to dead (class review_rejected) or, with --regenerate, back
 * to the queue with the reviewer's note appended to the prompt. */
#include "fmacros.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_ops.h"
#include "docs.h"
#include "errclass.h"
#include "job.h"
#include "rclient.h"
#include "timefmt.h"

#define PAGE 100 /* review entries per script call */

static const char review_help[] =
    "usage: genq review COMMAND [OPTIONS]\n\n"
    "Results the workers' content review flagged (state review): kept with\n"
    "their text and the reasons until a reviewer decides.\n\n"
    "  ls                    list them, oldest first\n"
    "  show ID               one, with its reasons and text\n"
    "  approve ID...         make them succeeded\n"
    "  reject ID... [--regenerate] [--note TEXT]\n"
    "                        dead (class review_rejected), or queued again\n"
    "                        with the note appended to the prompt\n\n"
    "'genq review COMMAND --help' for each; ids may be '-' (stdin).\n";

static const char ls_help[] =
    "usage: genq review ls [--limit N] [--queue Q] [--json]\n\n"
    "The flagged results, oldest first: id, when, reasons, the start of the\n"
    "text. --json: one object per result {id, flagged_at, reasons, result}.\n"
    "\n  --limit N      at most N (default all)\n" CLI_COMMON_HELP;

static const char show_help[] =
    "usage: genq review show ID [--queue Q] [--json]\n\n"
    "One flagged result: its reasons and text; --json the result document\n"
    "(state review, \"review\": {\"reasons\": [...]}). Exit 1 when ID is not\n"
    "in review.\n\n" CLI_COMMON_HELP;

static const char approve_help[] =
    "usage: genq review approve ID... [-] [--queue Q] [--json]\n\n"
    "Approve flagged results: each becomes succeeded (its result kept for\n"
    "--retention, a feed entry). Prints per id 'approved' or its state;\n"
    "--json {\"id\",\"outcome\"} per id. Exit 1 when one was not in review.\n"
    "\n  --retention S  keep the result S seconds (env GENQ_RESULT_TTL;\n"
    "                 default 604800)\n" CLI_COMMON_HELP;

static const char reject_help[] =
    "usage: genq review reject ID... [-] [--regenerate] [--note TEXT]\n"
    "                          [--queue Q] [--json]\n\n"
    "Reject flagged results; the flagged text is deleted. Without\n"
    "--regenerate the job goes to dead with class review_rejected (the note\n"
    "as its message); with it the job is queued again, attempts reset, the\n"
    "note appended to its prompt (after a blank line; to the last user\n"
    "message of a messages job). Prints per id 'rejected' / 'requeued' or\n"
    "its state; exit 1 when one was not in review.\n\n"
    "  --regenerate   run it again instead of dead\n"
    "  --note TEXT    the reviewer's note (at most 4000 "
    "bytes)\n" CLI_COMMON_HELP;

/* The reasons of result document doc as one line ("rule: detail; ..."). */
static void
reasons_line(const cJSON *doc, char *out, size_t n)
{
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(doc, "review"), "reasons");
    const cJSON *r;
    size_t o = 0;

    out[0] = '\0';
    cJSON_ArrayForEach(r, rs)
    {
        const char *rule =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "rule"));
        const char *det =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "detail"));
        int k = snprintf(out + o, n - o, "%s%s: %s", o ? "; " : "",
                         rule ? rule : "?", det ? det : "");
        if (k < 0 || (size_t)k >= n - o)
            break;
        o += (size_t)k;
    }
}

cJSON *
review_entry_doc(const char *id, long long ms, const char *doc, int with_result)
{
    cJSON *d = doc ? cJSON_Parse(doc) : NULL, *o = cJSON_CreateObject();
    const char *text =
        d ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "text"))
          : NULL;
    char ts[32], cut[REVIEW_EXCERPT * 4 + 8];
    int bad = !o;

    timefmt_rfc3339(ms, ts);
    ops_oneline(text ? text : "", REVIEW_EXCERPT, 1, cut, sizeof cut);
    if (o) {
        ops_jstr(o, "id", id, &bad);
        ops_jstr(o, "flagged_at", ts, &bad);
        ops_jstr(o, "excerpt", cut, &bad);
        if (d && !cJSON_AddItemToObject(
                     o, "reasons",
                     cJSON_Duplicate(
                         cJSON_GetObjectItemCaseSensitive(
                             cJSON_GetObjectItemCaseSensitive(d, "review"),
                             "reasons"),
                         1)))
            bad = 1;
        if (d && with_result) {
            cJSON_AddItemToObject(o, "result", d);
            d = NULL;
        }
    }
    cJSON_Delete(d);
    if (bad) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* Print one entry of a page (id, flagged ms, result document text). */
static int
print_entry(const struct cli *c, const char *id, long long ms, const char *doc,
            int full)
{
    cJSON *d;
    char ts[32], rs[600], cut[200];
    const char *text;

    if (c->json) {
        cJSON *o = review_entry_doc(id, ms, doc, 1);
        if (!o)
            return cli_fail("review", "out of memory");
        return cli_print_json(o) < 0 ? cli_fail("review", "out of memory")
                                     : EXIT_OK;
    }
    d = doc ? cJSON_Parse(doc) : NULL;
    text = d ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "text"))
             : NULL;
    timefmt_rfc3339(ms, ts);
    reasons_line(d, rs, sizeof rs);
    if (full) {
        printf("id:       %s\nflagged:  %s\nreasons:  %s\n\n%s\n", id, ts, rs,
               text ? text : "");
    } else {
        ops_oneline(text ? text : "", 70, 1, cut, sizeof cut);
        printf("%s  %s  %s\n    %s\n", id, ts, rs, cut);
    }
    cJSON_Delete(d);
    return EXIT_OK;
}

redisReply *
review_page(struct cli *c, const char *cursor_score, const char *cursor_id,
            long want, const char *cmd)
{
    char cnt[24], err[256];
    const char *av[3] = {cursor_score, cursor_id, cnt};
    redisReply *r;

    snprintf(cnt, sizeof cnt, "%ld", want);
    r = rclient_script(c->rc, SCRIPT_REVIEW_PAGE, &c->keys, 3, av, NULL, err,
                       sizeof err);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
        r->element[2]->type != REDIS_REPLY_INTEGER ||
        r->elements < 3 + 4 * (size_t)r->element[2]->integer) {
        cli_fail(cmd, "redis: %s", r ? "unexpected reply" : err);
        if (r)
            freeReplyObject(r);
        return NULL;
    }
    return r;
}

static int
review_ls(struct cli *c, long limit)
{
    char cs[32] = "", cm[256] = "";
    long shown = 0;

    for (;;) {
        long want = limit > 0 && limit - shown < PAGE ? limit - shown : PAGE;
        redisReply *r = review_page(c, cs, cm, want, "review ls");
        long long n;

        if (!r)
            return EXIT_FAIL;
        n = r->element[2]->integer;
        for (long long i = 0; i < n; i++) {
            redisReply **e = r->element + 3 + 4 * i;
            if (print_entry(c, e[0]->str,
                            e[1]->type == REDIS_REPLY_STRING
                                ? strtoll(e[1]->str, NULL, 10)
                                : 0,
                            e[2]->type == REDIS_REPLY_STRING ? e[2]->str : NULL,
                            0) != EXIT_OK) {
                freeReplyObject(r);
                return EXIT_FAIL;
            }
            shown++;
        }
        if (n > 0 && r->element[0]->type == REDIS_REPLY_STRING) {
            snprintf(cs, sizeof cs, "%s", r->element[0]->str);
            snprintf(cm, sizeof cm, "%s", r->element[1]->str);
        }
        freeReplyObject(r);
        if (n < want || (limit > 0 && shown >= limit))
            break;
    }
    if (!c->json)
        fprintf(stderr, "%ld result%s in review (queue %s)\n", shown,
                shown == 1 ? "" : "s", c->queue);
    return EXIT_OK;
}

static int
review_show(struct cli *c, const char *id)
{
    const char *av[4] = {"", "", "1", id};
    char err[256];
    redisReply *r = rclient_script(c->rc, SCRIPT_REVIEW_PAGE, &c->keys, 4, av,
                                   NULL, err, sizeof err);
    redisReply **e;
    int rc;

    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 7)
        return cli_fail("review show", "redis: %s",
                        r ? "unexpected reply" : err);
    e = r->element + 3;
    if (e[1]->type != REDIS_REPLY_STRING || e[2]->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return cli_fail("review show", "%s is not in review (queue %s)", id,
                        c->queue);
    }
    if (c->json) {
        printf("%s\n", e[2]->str); /* the result document as stored */
        rc = EXIT_OK;
    } else {
        rc = print_entry(c, id, strtoll(e[1]->str, NULL, 10), e[2]->str, 1);
    }
    freeReplyObject(r);
    return rc;
}

/* The job of id with note appended to its prompt (after a blank line): a
 * new JSON text the caller frees, or NULL with the reason printed. */
static char *
job_with_note(struct cli *c, const char *id, const char *note)
{
    redisReply *r =
        rclient_command(c->rc, "HGET %s %s", c->keys.key[QK_JOBS], id);
    cJSON *job, *p, *msgs, *last = NULL, *m;
    struct job_err je;
    char *out = NULL, err[256];

    if (!r || r->type != REDIS_REPLY_STRING) {
        cli_fail("review reject", "%s: no stored job", id);
        if (r)
            freeReplyObject(r);
        return NULL;
    }
    job = job_stored_parse(NULL, id, r->str, r->len, err, sizeof(err));
    freeReplyObject(r);
    if (!job) {
        cli_fail("review reject", "%s", err);
        return NULL;
    }
    if (note && *note) {
        p = cJSON_GetObjectItemCaseSensitive(job, "prompt");
        msgs = cJSON_GetObjectItemCaseSensitive(job, "messages");
        cJSON_ArrayForEach(m, msgs)
        {
            const char *role = cJSON_GetStringValue(
                cJSON_GetObjectItemCaseSensitive(m, "role"));
            if (role && !strcmp(role, "user"))
                last = m;
        }
        if (cJSON_IsString(p) || last) {
            cJSON *host = cJSON_IsString(p) ? job : last;
            const char *key = cJSON_IsString(p) ? "prompt" : "content";
            cJSON *cur = cJSON_GetObjectItemCaseSensitive(host, key);
            if (cJSON_IsString(cur)) {
                size_t n = strlen(cur->valuestring) + strlen(note) + 3;
                char *s = malloc(n);
                cJSON *ns = NULL;
                if (s) {
                    snprintf(s, n, "%s\n\n%s", cur->valuestring, note);
                    ns = cJSON_CreateString(s);
                    free(s);
                }
                if (!ns ||
                    !cJSON_ReplaceItemInObjectCaseSensitive(host, key, ns)) {
                    cJSON_Delete(ns);
                    cJSON_Delete(job);
                    cli_fail("review reject", "out of memory");
                    return NULL;
                }
            } else if (cJSON_IsArray(cur)) {
                cJSON *b = cJSON_CreateObject();
                if (!b || !cJSON_AddStringToObject(b, "type", "text") ||
                    !cJSON_AddStringToObject(b, "text", note) ||
                    !cJSON_AddItemToArray(cur, b)) {
                    cJSON_Delete(b);
                    cJSON_Delete(job);
                    cli_fail("review reject", "out of memory");
                    return NULL;
                }
            }
        }
    }
    if (job_validate(job, &je) < 0) {
        cli_fail("review reject",
                 "%s: with the note the job is not valid: "
                 "%s: %s",
                 id, je.field, je.msg);
    } else {
        char *s = cJSON_PrintUnformatted(job);
        out = s ? strdup(s) : NULL;
        cJSON_free(s);
        if (!out)
            cli_fail("review reject", "out of memory");
    }
    cJSON_Delete(job);
    return out;
}

/* The document {"id", "outcome"} of a decision, appended to arr when arr
 * is not NULL; NULL on out of memory. */
static cJSON *
review_outcome(cJSON *arr, const char *id, const char *outcome)
{
    cJSON *o = cJSON_CreateObject();
    int bad = !o;

    ops_jstr(o, "id", id, &bad);
    ops_jstr(o, "outcome", outcome, &bad);
    if (!bad && arr && !cJSON_AddItemToArray(arr, o))
        bad = 1;
    if (bad) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

int
review_decide(struct cli *c, const char *cmd, int argc, char **argv,
              const int *reject, int regen, const char *note, long ttl_s,
              cJSON *outcomes)
{
    struct ops_ids ids;
    const char *id;
    int rc = EXIT_OK;
    char err[256], ttl[32], fmax[32], *errdoc = NULL;

    snprintf(ttl, sizeof ttl, "%ld", ttl_s * 1000);
    snprintf(fmax, sizeof fmax, "%ld", FEED_MAXLEN_DEFAULT);
    if (reject && !regen) {
        cJSON *e = cJSON_CreateObject();
        char *s;
        int bad = !e;
        if (e) {
            ops_jstr(e, "class", DLQ_REVIEW_REJECTED, &bad);
            ops_jnull(e, "http_status", &bad);
            ops_jstr(e, "type", "review", &bad);
            ops_jstr(e, "message",
                     note && *note ? note : "rejected by a reviewer", &bad);
            ops_jnull(e, "request_id", &bad);
        }
        s = bad ? NULL : cJSON_PrintUnformatted(e);
        cJSON_Delete(e);
        errdoc = s ? strdup(s) : NULL;
        cJSON_free(s);
        if (!errdoc)
            return cli_fail(cmd, "out of memory");
    }
    ops_ids_init(&ids, argc, argv);
    while ((id = ops_ids_next(&ids)) != NULL) {
        const char *av[5];
        char *payload = NULL;
        int ac;
        redisReply *r;
        const char *out;

        if (reject) {
            if (regen) {
                payload = job_with_note(c, id, note);
                if (!payload) {
                    rc = EXIT_FAIL;
                    if (outcomes && !review_outcome(outcomes, id, "failed"))
                        break;
                    continue;
                }
            }
            av[0] = regen ? "regenerate" : "dead";
            av[1] = fmax;
            av[2] = id;
            av[3] = regen ? payload : errdoc;
            ac = 4;
            r = rclient_script(c->rc, SCRIPT_REVIEW_REJECT, &c->keys, ac, av,
                               NULL, err, sizeof err);
        } else {
            av[0] = ttl;
            av[1] = fmax;
            av[2] = id;
            r = rclient_script(c->rc, SCRIPT_REVIEW_APPROVE, &c->keys, 3, av,
                               NULL, err, sizeof err);
        }
        free(payload);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 1 ||
            r->element[0]->type != REDIS_REPLY_STRING) {
            if (r)
                freeReplyObject(r);
            rc = cli_fail(cmd, "redis: %s", r ? "unexpected reply" : err);
            break;
        }
        out = r->element[0]->str;
        if (strcmp(out, "approved") && strcmp(out, "rejected") &&
            strcmp(out, "requeued"))
            rc = EXIT_FAIL;
        if (outcomes) {
            if (!review_outcome(outcomes, id, out)) {
                rc = cli_fail(cmd, "out of memory");
                freeReplyObject(r);
                break;
            }
        } else if (c->json) {
            cJSON *o = review_outcome(NULL, id, out);
            if (!o || cli_print_json(o) < 0)
                rc = cli_fail(cmd, "out of memory");
        } else if (rc == EXIT_OK || !strcmp(out, "approved") ||
                   !strcmp(out, "rejected") || !strcmp(out, "requeued")) {
            printf("%s %s\n", id, out);
        } else {
            printf("%s not in review (%s)\n", id, out);
        }
        freeReplyObject(r);
    }
    ops_ids_free(&ids);
    free(errdoc);
    return rc;
}

int
review_ttl_env(long *ttl)
{
    const char *env = getenv("GENQ_RESULT_TTL");

    return env && *env ? ops_parse_long(env, 1, 100L * 365 * 86400, ttl) : 0;
}

int
cmd_review(int argc, char **argv)
{
    struct cli c;
    const char *sub, *note = NULL, *env = getenv("GENQ_RESULT_TTL");
    long limit = 0, ttl = REVIEW_RESULT_TTL_S;
    int first, rc, regen = 0, one = 1;
    struct cli_opt ls_opts[] = {
        CLI_OPT_LONG("limit", 'n', &limit, 1, 1000000000L, "a number >= 1"),
        CLI_OPT_END};
    struct cli_opt ap_opts[] = {
        CLI_OPT_LONG("retention", 'r', &ttl, 1, 100L * 365 * 86400, "seconds"),
        CLI_OPT_END};
    struct cli_opt rj_opts[] = {CLI_OPT_FLAG("regenerate", 'g', &regen),
                                CLI_OPT_STR("note", 2, &note), CLI_OPT_END};
    struct cli_cmd ls = {"review ls", ls_help, "hn:", ls_opts, NULL, NULL, 0};
    struct cli_cmd show = {"review show", show_help, NULL, NULL, NULL, NULL, 1};
    struct cli_cmd ap = {
        "review approve", approve_help, NULL, ap_opts, NULL, NULL, 1};
    struct cli_cmd rj = {
        "review reject", reject_help, NULL, rj_opts, NULL, NULL, 1};
    const struct cli_cmd *spec;

    if ((rc = cli_sub(argc, argv, review_help, &sub)) != CLI_NEXT)
        return rc;
    if (review_ttl_env(&ttl) < 0)
        return cli_usage_error(
            "review", "GENQ_RESULT_TTL: expected seconds, got '%s'", env);
    if (!strcmp(sub, "ls"))
        spec = &ls;
    else if (!strcmp(sub, "show"))
        spec = &show;
    else if (!strcmp(sub, "approve"))
        spec = &ap;
    else if (!strcmp(sub, "reject"))
        spec = &rj;
    else
        return cli_sub_unknown("review", sub, review_help);
    if ((rc = cli_parse(&c, spec, argc - 1, argv + 1, &first)) != CLI_NEXT)
        return rc;
    first++; /* index into argv */
    if (spec == &show && argc - first != 1)
        return cli_usage_error("review show", "expected one job id");
    if ((spec == &ap || spec == &rj) && first >= argc)
        return cli_usage_error(spec->name,
                               "give job ids, or '-' to read them from stdin");
    if (note && strlen(note) > REVIEW_NOTE_MAX)
        return cli_usage_error("review reject",
                               "--note: at most %d bytes, got %zu",
                               REVIEW_NOTE_MAX, strlen(note));
    if (cli_connect(&c) < 0)
        return EXIT_FAIL;
    if (spec == &ls)
        rc = review_ls(&c, limit);
    else if (spec == &show)
        rc = review_show(&c, argv[first]);
    else
        rc = review_decide(&c, spec->name, argc - first, argv + first,
                           spec == &rj ? &one : NULL, regen, note, ttl, NULL);
    cli_close(&c);
    return rc;
}
