/* genq batches ls | show ID | cancel ID: the provider batches of a queue's
 * batch mode (README "Batch mode"; records genq:{Q}:batch:TOKEN, listed
 * by genq:{Q}:batchlog) -- open and ended ones, counts by outcome, age,
 * the money saved against standard prices (priced by the worker that
 * settled the batch, with its pricing table), and a cancel an operator
 * asks for (the polling worker sends it to the provider). Documents:
 * schemas/batch.schema.json. */
#include "fmacros.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_ops.h"
#include "rclient.h"
#include "timefmt.h"

static const char batches_help[] =
    "usage: genq batches COMMAND [OPTIONS]\n\n"
    "The provider batches of a queue (batch mode: genq-worker --batch-queue,\n"
    "or jobs with \"batch\": true): open ones and those ended within the\n"
    "result TTL.\n\n"
    "  ls          list them, newest first\n"
    "  show ID     one batch (ID: genq's token or the provider's id)\n"
    "  cancel ID   ask the provider to cancel it (sent by the worker that\n"
    "              polls it next; its unfinished jobs go back to the queue)\n\n"
    "'genq batches COMMAND --help' for each.\n";

static const char ls_help[] =
    "usage: genq batches ls [--count N] [--queue Q] [--json]\n\n"
    "The newest N batches (default 50): token, state, jobs, outcomes\n"
    "(succeeded, errored, canceled, expired), age, USD saved against\n"
    "standard prices, the provider's id; then the totals. --json: one batch\n"
    "document per line (schemas/batch.schema.json).\n\n"
    "  --count N      how many (1..100000)\n" CLI_COMMON_HELP;

static const char show_help[] =
    "usage: genq batches show ID [--queue Q] [--json]\n\n"
    "One batch: every field of its record. Exit 1 when there is "
    "none.\n\n" CLI_COMMON_HELP;

static const char cancel_help[] =
    "usage: genq batches cancel ID [--queue Q] [--json]\n\n"
    "Mark an open batch for cancelling: the next worker to poll it sends\n"
    "the provider's cancel; its entries that did not run come back\n"
    "canceled and their jobs return to the queue (attempt not counted).\n"
    "Exit 1 when the batch is unknown or has ended.\n\n" CLI_COMMON_HELP;

static const char *
field(const redisReply *r, const char *name)
{
    for (size_t i = 0; r && i + 1 < r->elements; i += 2)
        if (r->element[i]->type == REDIS_REPLY_STRING &&
            !strcmp(r->element[i]->str, name) &&
            r->element[i + 1]->type == REDIS_REPLY_STRING)
            return r->element[i + 1]->str;
    return "";
}

static double
num(const redisReply *r, const char *name)
{
    return strtod(field(r, name), NULL);
}

static void
add_time(cJSON *o, const char *name, const char *ms)
{
    char ts[32];

    if (!*ms) {
        cJSON_AddNullToObject(o, name);
        return;
    }
    timefmt_rfc3339(strtoll(ms, NULL, 10), ts);
    cJSON_AddStringToObject(o, name, ts);
}

/* The fields of the batch document: its name, the record's field, kind
 * ('s' string, 'n' number, 't' time from ms, 'c' a count in "counts"). */
static const struct {
    const char *doc, *rec;
    char kind;
} doc_fields[] = {
    {"provider", "provider", 's'},
    {"provider_state", "pstate", 's'},
    {"model", "model", 's'},
    {"jobs", "n", 'n'},
    {"entries", "entries", 'n'},
    {"created_at", "created_ms", 't'},
    {"submitted_at", "submitted_ms", 't'},
    {"settled_at", "settled_ms", 't'},
    {"succeeded", "succeeded", 'c'},
    {"errored", "errored", 'c'},
    {"canceled", "canceled", 'c'},
    {"expired", "expired", 'c'},
    {"settled_jobs", "settled", 'n'},
    {"input_tokens", "in_tok", 'n'},
    {"output_tokens", "out_tok", 'n'},
    {"cost_usd", "cost_usd", 'n'},
    {"saved_usd", "saved_usd", 'n'},
    {"polls", "takes", 'n'},
};

/* The batch document of record r (HGETALL) of token. NULL on OOM. */
static cJSON *
batch_doc(const struct cli *c, const char *token, const redisReply *r)
{
    cJSON *o = cJSON_CreateObject(), *cnt = cJSON_CreateObject();
    const char *pid = field(r, "pid");
    int64_t created = strtoll(field(r, "created_ms"), NULL, 10);

    if (!o || !cnt) {
        cJSON_Delete(o);
        cJSON_Delete(cnt);
        return NULL;
    }
    cJSON_AddStringToObject(o, "token", token);
    cJSON_AddStringToObject(o, "queue", c->queue);
    cJSON_AddStringToObject(o, "state", field(r, "state"));
    if (*pid)
        cJSON_AddStringToObject(o, "provider_id", pid);
    else
        cJSON_AddNullToObject(o, "provider_id");
    for (size_t i = 0; i < sizeof(doc_fields) / sizeof(doc_fields[0]); i++) {
        const char *d = doc_fields[i].doc, *v = field(r, doc_fields[i].rec);
        if (doc_fields[i].kind == 's')
            cJSON_AddStringToObject(o, d, v);
        else if (doc_fields[i].kind == 't')
            add_time(o, d, v);
        else
            cJSON_AddNumberToObject(doc_fields[i].kind == 'c' ? cnt : o, d,
                                    strtod(v, NULL));
    }
    cJSON_AddItemToObject(o, "counts", cnt);
    cJSON_AddNumberToObject(
        o, "age_s",
        created > 0 ? (double)(time_now_ms() - created) / 1000.0 : 0);
    cJSON_AddBoolToObject(o, "cancel_requested",
                          !strcmp(field(r, "cancel"), "1"));
    return o;
}

static redisReply *
record(struct cli *c, const char *token)
{
    char key[QUEUE_NAME_MAX + 64];

    qkeys_batch(&c->keys, token, 0, key, sizeof(key));
    return rclient_command(c->rc, "HGETALL %s", key);
}

static int
batches_ls(struct cli *c, long count)
{
    char key[QUEUE_NAME_MAX + 32];
    redisReply *l;
    double saved = 0, jobs = 0;
    long shown = 0;

    snprintf(key, sizeof(key), "%s" QKEY_BATCHLOG, c->keys.prefix);
    l = rclient_command(c->rc, "ZREVRANGE %s 0 %ld", key, count - 1);
    if (!l || l->type != REDIS_REPLY_ARRAY)
        return cli_redis_fail(c, "batches ls", l, NULL);
    if (!c->json && l->elements)
        printf("%-16s %-10s %7s %7s %5s %5s %5s %8s %10s  %s\n", "TOKEN",
               "STATE", "JOBS", "SUCC", "ERR", "CANC", "EXP", "AGE_S",
               "SAVED_USD", "PROVIDER_ID");
    for (size_t i = 0; i < l->elements; i++) {
        const char *tok = l->element[i]->str;
        redisReply *r = record(c, tok);
        cJSON *d;
        if (!r || r->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(l);
            return cli_redis_fail(c, "batches ls", r, NULL);
        }
        if (r->elements == 0) { /* expired with the result TTL */
            freeReplyObject(r);
            continue;
        }
        d = batch_doc(c, tok, r);
        if (!d) {
            freeReplyObject(r);
            freeReplyObject(l);
            return cli_fail("batches ls", "out of memory");
        }
        saved += num(r, "saved_usd");
        jobs += num(r, "n");
        shown++;
        if (c->json) {
            cli_print_json(d);
        } else {
            printf("%-16s %-10s %7.0f %7.0f %5.0f %5.0f %5.0f %8.0f %10.4f  "
                   "%s\n",
                   tok, field(r, "state"), num(r, "n"), num(r, "succeeded"),
                   num(r, "errored"), num(r, "canceled"), num(r, "expired"),
                   cJSON_GetNumberValue(
                       cJSON_GetObjectItemCaseSensitive(d, "age_s")),
                   num(r, "saved_usd"),
                   *field(r, "pid") ? field(r, "pid") : "-");
            cJSON_Delete(d);
        }
        freeReplyObject(r);
    }
    freeReplyObject(l);
    if (!c->json)
        printf("%ld batch%s of queue %s, %.0f jobs, %.4f USD saved\n", shown,
               shown == 1 ? "" : "es", c->queue, jobs, saved);
    return EXIT_OK;
}

/* The token of id (a token, or a provider id genq recorded) into tok
 * (BATCH 17 bytes); its record in *out. Returns 0, or -1 when unknown. */
static int
lookup(struct cli *c, const char *id, char *tok, size_t n, redisReply **out)
{
    redisReply *r = record(c, id);

    if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
        snprintf(tok, n, "%s", id);
        *out = r;
        return 0;
    }
    freeReplyObject(r);
    r = rclient_command(cli_rc(c, KEY_BATCH_PIDS), "HGET %s %s", KEY_BATCH_PIDS,
                        id);
    if (r && r->type == REDIS_REPLY_STRING) {
        const char *sp = strchr(r->str, ' ');
        if (sp && (size_t)(sp - r->str) == strlen(c->queue) &&
            !strncmp(r->str, c->queue, (size_t)(sp - r->str))) {
            snprintf(tok, n, "%s", sp + 1);
            freeReplyObject(r);
            r = record(c, tok);
            if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
                *out = r;
                return 0;
            }
        }
    }
    freeReplyObject(r);
    return -1;
}

static int
batches_show(struct cli *c, const char *id)
{
    char tok[96];
    redisReply *r;
    cJSON *d;
    char *s;

    if (lookup(c, id, tok, sizeof(tok), &r) < 0)
        return cli_fail("batches show", "no batch '%s' in queue %s", id,
                        c->queue);
    d = batch_doc(c, tok, r);
    freeReplyObject(r);
    if (!d)
        return cli_fail("batches show", "out of memory");
    if (c->json)
        return cli_print_json(d) < 0 ? EXIT_FAIL : EXIT_OK;
    s = cJSON_Print(d);
    cJSON_Delete(d);
    if (!s)
        return cli_fail("batches show", "out of memory");
    printf("%s\n", s);
    cJSON_free(s);
    return EXIT_OK;
}

static int
batches_cancel(struct cli *c, const char *id)
{
    char tok[96], key[QUEUE_NAME_MAX + 64], open[QUEUE_NAME_MAX + 32];
    redisReply *r, *z;
    const char *st;

    if (lookup(c, id, tok, sizeof(tok), &r) < 0)
        return cli_fail("batches cancel", "no batch '%s' in queue %s", id,
                        c->queue);
    st = field(r, "state");
    if (strcmp(st, "open") != 0 && strcmp(st, "submitting") != 0) {
        int rc =
            cli_fail("batches cancel", "batch %s has %s: nothing to cancel",
                     tok, *st ? st : "gone");
        freeReplyObject(r);
        return rc;
    }
    freeReplyObject(r);
    qkeys_batch(&c->keys, tok, 0, key, sizeof(key));
    snprintf(open, sizeof(open), "%s" QKEY_BATCHES, c->keys.prefix);
    r = rclient_command(c->rc, "HSET %s cancel 1", key);
    if (!r || r->type != REDIS_REPLY_INTEGER)
        return cli_redis_fail(c, "batches cancel", r, NULL);
    freeReplyObject(r);
    /* due at once: the next poll of any worker sends it */
    z = rclient_command(c->rc, "ZADD %s XX LT 0 %s", open, tok);
    if (!z || z->type != REDIS_REPLY_INTEGER)
        return cli_redis_fail(c, "batches cancel", z, NULL);
    freeReplyObject(z);
    if (c->json) {
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddStringToObject(o, "token", tok) ||
            !cJSON_AddBoolToObject(o, "cancel_requested", 1))
            return cli_fail("batches cancel", "out of memory");
        return cli_print_json(o) < 0 ? EXIT_FAIL : EXIT_OK;
    }
    printf("batch %s of queue %s: cancel requested (sent by the next poll)\n",
           tok, c->queue);
    return EXIT_OK;
}

int
cmd_batches(int argc, char **argv)
{
    struct cli c;
    long count = 50;
    const char *sub;
    int first, rc;
    struct cli_opt ls_opts[] = {
        CLI_OPT_LONG("count", 'n', &count, 1, 100000, "a count in 1..100000"),
        CLI_OPT_END};
    struct cli_cmd ls = {"batches ls", ls_help, "hn:", ls_opts, NULL, NULL, 0};
    struct cli_cmd show = {"batches show", show_help, NULL, NULL,
                           NULL,           NULL,      1};
    struct cli_cmd cancel = {
        "batches cancel", cancel_help, NULL, NULL, NULL, NULL, 1};
    const struct cli_cmd *cmd;

    if ((rc = cli_sub(argc, argv, batches_help, &sub)) != CLI_NEXT)
        return rc;
    if (!strcmp(sub, "ls"))
        cmd = &ls;
    else if (!strcmp(sub, "show"))
        cmd = &show;
    else if (!strcmp(sub, "cancel"))
        cmd = &cancel;
    else
        return cli_sub_unknown("batches", sub, batches_help);
    if ((rc = cli_parse(&c, cmd, argc - 1, argv + 1, &first)) != CLI_NEXT)
        return rc;
    if (cmd != &ls && argc - 1 - first != 1)
        return cli_usage_error(cmd->name, "expected one batch ID");
    if (cli_connect(&c) < 0)
        return EXIT_FAIL;
    if (cmd == &ls)
        rc = batches_ls(&c, count);
    else if (cmd == &show)
        rc = batches_show(&c, argv[1 + first]);
    else
        rc = batches_cancel(&c, argv[1 + first]);
    cli_close(&c);
    return rc;
}
