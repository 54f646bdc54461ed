/* genq rejected ls | show | purge: the inbox entries a worker's intake
 * could not admit (genq:{Q}:rejected, newest first; one rejection document
 * each, README "Producers and consumers in any language"). Nothing drops
 * them but purge. */
#include "fmacros.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "rclient.h"
#include "utf8.h"
#include "cmd_ops.h"
#include "timefmt.h"

static const char rejected_help[] =
    "usage: genq rejected COMMAND [OPTIONS]\n\n"
    "Inbox entries the intake rejected (genq:{Q}:rejected, newest first):\n"
    "each with the entry as pushed, the field and the message genq enqueue\n"
    "would print, when and by which worker. Kept until purged.\n\n"
    "  ls        list them, newest first (N is the index 'show' takes)\n"
    "  show N    one rejection document (0 = the newest)\n"
    "  purge     delete them (all, or --before T)\n\n"
    "'genq rejected COMMAND --help' for each.\n";

static const char ls_help[] =
    "usage: genq rejected ls [--count N] [--queue Q] [--json]\n\n"
    "List the newest N rejections (default 20): index, time, field, message\n"
    "and the start of the entry; then how many there are. --json: one\n"
    "rejection document per line (JSONL), with its \"index\" added.\n\n"
    "  --count N      how many (1..100000)\n" CLI_COMMON_HELP;

static const char show_help[] =
    "usage: genq rejected show N [--queue Q] [--json]\n\n"
    "The rejection document at index N (0 = the newest; as 'genq rejected\n"
    "ls' numbers them): every field, the whole entry. --json: the document\n"
    "as stored. Exit 1 when there is none at N.\n\n" CLI_COMMON_HELP;

static const char purge_help[] =
    "usage: genq rejected purge [--before T] [--yes] [--queue Q] [--json]\n\n"
    "Delete the rejections counted when it starts (ones rejected meanwhile\n"
    "stay), or with --before only those rejected before T (RFC 3339, e.g.\n"
    "2026-01-31T00:00:00Z), the oldest. On a terminal the count is\n"
    "confirmed first unless --yes; without a terminal --yes is required\n"
    "(else exit 2). Prints how many went; --json {\"purged\": N}.\n\n"
    "  --before T     only those rejected before T\n"
    "  -y, --yes      do not ask\n" CLI_COMMON_HELP;

/* A field of rejection document d as a string ("" when absent). */
static const char *
str_of(const cJSON *d, const char *name)
{
    const char *s =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, name));
    return s ? s : "";
}

/* One line of ls: the entry cut to fit, control characters as spaces. */
static void
print_row(long i, const cJSON *d)
{
    const char *e = str_of(d, "entry"), *f = str_of(d, "field");
    char cut[48];
    size_t n = 0;

    for (; n < sizeof(cut) - 4 && e[n]; n++)
        cut[n] = (char)((unsigned char)e[n] < 0x20 ? ' ' : e[n]);
    if (e[n]) {
        n = utf8_truncate(cut, n); /* not inside a character */
        memcpy(cut + n, "...", 3);
        n += 3;
    }
    cut[n] = '\0';
    printf("%-5ld %-24s %-16s %s\n      entry: %s\n", i,
           str_of(d, "rejected_at"), *f ? f : "-", str_of(d, "error"), cut);
}

static int
rejected_ls(struct cli *c, long count)
{
    redisReply *r = rclient_command(c->rc, "LRANGE %s 0 %ld", c->keys.rejected,
                                    count - 1),
               *len;
    long i;

    if (!r || r->type != REDIS_REPLY_ARRAY)
        return cli_redis_fail(c, "rejected ls", r, NULL);
    len = rclient_command(c->rc, "LLEN %s", c->keys.rejected);
    if (!len || len->type != REDIS_REPLY_INTEGER) {
        freeReplyObject(r);
        return cli_redis_fail(c, "rejected ls", len, NULL);
    }
    if (!c->json && r->elements > 0)
        printf("%-5s %-24s %-16s %s\n", "N", "REJECTED AT", "FIELD", "ERROR");
    for (i = 0; i < (long)r->elements; i++) {
        cJSON *d = r->element[i]->type == REDIS_REPLY_STRING
                       ? cJSON_Parse(r->element[i]->str)
                       : NULL;
        if (!d) { /* not a document: shown as is, never hidden */
            d = cJSON_CreateObject();
            if (!d ||
                !cJSON_AddStringToObject(
                    d, "entry", r->element[i]->str ? r->element[i]->str : "") ||
                !cJSON_AddStringToObject(d, "error",
                                         "(not a rejection document)")) {
                cJSON_Delete(d);
                freeReplyObject(r);
                freeReplyObject(len);
                return cli_fail("rejected ls", "out of memory");
            }
        }
        if (c->json) {
            cJSON_AddNumberToObject(d, "index", (double)i);
            cli_print_json(d);
        } else {
            print_row(i, d);
            cJSON_Delete(d);
        }
    }
    if (!c->json)
        printf("%lld rejected in queue %s%s\n", len->integer, c->queue,
               len->integer > (long long)r->elements ? " (newest shown)" : "");
    freeReplyObject(r);
    freeReplyObject(len);
    return EXIT_OK;
}

static int
rejected_show(struct cli *c, const char *arg)
{
    char *end;
    long n = strtol(arg, &end, 10);
    redisReply *r;
    cJSON *d;

    if (!*arg || *end || n < 0)
        return cli_usage_error("rejected show",
                               "N: expected an index >= 0 (as 'genq rejected "
                               "ls' shows), got '%s'",
                               arg);
    r = rclient_command(c->rc, "LINDEX %s %ld", c->keys.rejected, n);
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL))
        return cli_redis_fail(c, "rejected show", r, NULL);
    if (r->type == REDIS_REPLY_NIL) {
        freeReplyObject(r);
        return cli_fail("rejected show",
                        "no rejection at index %ld in queue %s", n, c->queue);
    }
    if (c->json) {
        fputs(r->str, stdout);
        putchar('\n');
        freeReplyObject(r);
        return EXIT_OK;
    }
    d = cJSON_Parse(r->str);
    if (!d) {
        printf("(not a rejection document)\n%s\n", r->str);
    } else {
        printf("index:       %ld\nrejected at: %s\nworker:      %s\n"
               "field:       %s\nerror:       %s\nentry:\n%s\n",
               n, str_of(d, "rejected_at"), str_of(d, "worker"),
               *str_of(d, "field") ? str_of(d, "field") : "-",
               str_of(d, "error"), str_of(d, "entry"));
        if (cJSON_IsNumber(cJSON_GetObjectItem(d, "entry_bytes")))
            printf("(the first %zu of %.0f bytes)\n",
                   strlen(str_of(d, "entry")),
                   cJSON_GetObjectItem(d, "entry_bytes")->valuedouble);
        cJSON_Delete(d);
    }
    freeReplyObject(r);
    return EXIT_OK;
}

/* How many of the oldest rejections (the list's tail) were rejected before
 * ms; -1 on a Redis failure (printed). */
static long
count_before(struct cli *c, int64_t ms)
{
    long n = 0;

    for (;;) {
        redisReply *r = rclient_command(c->rc, "LRANGE %s %ld %ld",
                                        c->keys.rejected, -n - 500, -n - 1);
        long i, took = 0;
        if (!r || r->type != REDIS_REPLY_ARRAY) {
            cli_redis_fail(c, "rejected purge", r, NULL);
            return -1;
        }
        for (i = (long)r->elements - 1; i >= 0; i--, took++) {
            cJSON *d = cJSON_Parse(r->element[i]->str);
            int64_t at;
            int older =
                d &&
                timefmt_rfc3339_parse(str_of(d, "rejected_at"), &at) == 0 &&
                at < ms;
            cJSON_Delete(d);
            if (!older)
                break;
        }
        n += took;
        i = (long)r->elements;
        freeReplyObject(r);
        if (took < 500 || i < 500)
            return n;
    }
}

static int
rejected_purge(struct cli *c, const char *before, int yes)
{
    int interactive = isatty(STDIN_FILENO) && isatty(STDERR_FILENO);
    int64_t ms = 0;
    long n;
    redisReply *r;

    if (before && timefmt_rfc3339_parse(before, &ms) < 0)
        return cli_usage_error("rejected purge",
                               "--before: expected an RFC 3339 time such as "
                               "2026-01-31T00:00:00Z, got '%s'",
                               before);
    if (!yes && !interactive)
        return cli_usage_error("rejected purge",
                               "refusing to purge without --yes (no terminal "
                               "to confirm on)");
    if (cli_connect(c) < 0)
        return EXIT_FAIL;
    if (before) {
        n = count_before(c, ms);
        if (n < 0)
            return EXIT_FAIL;
    } else {
        r = rclient_command(c->rc, "LLEN %s", c->keys.rejected);
        if (!r || r->type != REDIS_REPLY_INTEGER)
            return cli_redis_fail(c, "rejected purge", r, NULL);
        n = (long)r->integer;
        freeReplyObject(r);
    }
    if (n > 0 && !yes) {
        char line[32];
        fprintf(stderr, "purge %ld rejection%s of queue %s for good? [y/N] ", n,
                n == 1 ? "" : "s", c->queue);
        fflush(stderr);
        if (!fgets(line, sizeof(line), stdin) ||
            (line[0] != 'y' && line[0] != 'Y')) {
            fprintf(stderr, "nothing purged\n");
            return EXIT_FAIL;
        }
    }
    if (n > 0) {
        /* only the tail: rejections pushed meanwhile (at the head) stay */
        r = rclient_command(c->rc, "LTRIM %s 0 %ld", c->keys.rejected, -n - 1);
        if (!r || r->type != REDIS_REPLY_STATUS)
            return cli_redis_fail(c, "rejected purge", r, NULL);
        freeReplyObject(r);
    }
    if (c->json) {
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddNumberToObject(o, "purged", (double)n))
            return cli_fail("rejected purge", "out of memory");
        cli_print_json(o);
    } else {
        printf("purged %ld rejection%s of queue %s\n", n, n == 1 ? "" : "s",
               c->queue);
    }
    return EXIT_OK;
}

int
cmd_rejected(int argc, char **argv)
{
    struct cli c;
    long count = 20;
    const char *before = NULL, *sub;
    int yes = 0, first, rc;
    struct cli_opt ls_opts[] = {
        CLI_OPT_LONG("count", 'n', &count, 1, 100000, "a count in 1..100000"),
        CLI_OPT_END};
    struct cli_opt purge_opts[] = {CLI_OPT_STR("before", 'b', &before),
                                   CLI_OPT_FLAG("yes", 'y', &yes), CLI_OPT_END};
    struct cli_cmd ls = {"rejected ls", ls_help, "hn:", ls_opts, NULL, NULL, 0};
    struct cli_cmd show = {
        "rejected show", show_help, NULL, NULL, NULL, NULL, 1};
    struct cli_cmd purge = {
        "rejected purge", purge_help, "hy", purge_opts, NULL, NULL, 0};

    if ((rc = cli_sub(argc, argv, rejected_help, &sub)) != CLI_NEXT)
        return rc;
    if (!strcmp(sub, "ls")) {
        if ((rc = cli_parse(&c, &ls, argc - 1, argv + 1, &first)) != CLI_NEXT)
            return rc;
        if (cli_connect(&c) < 0)
            return EXIT_FAIL;
        rc = rejected_ls(&c, count);
    } else if (!strcmp(sub, "show")) {
        if ((rc = cli_parse(&c, &show, argc - 1, argv + 1, &first)) != CLI_NEXT)
            return rc;
        if (argc - 1 - first != 1)
            return cli_usage_error("rejected show",
                                   "expected one index N (0 = the newest)");
        if (cli_connect(&c) < 0)
            return EXIT_FAIL;
        rc = rejected_show(&c, argv[1 + first]);
    } else if (!strcmp(sub, "purge")) {
        if ((rc = cli_parse(&c, &purge, argc - 1, argv + 1, &first)) !=
            CLI_NEXT)
            return rc;
        rc = rejected_purge(&c, before, yes);
    } else {
        return cli_sub_unknown("rejected", sub, rejected_help);
    }
    cli_close(&c);
    return rc;
}
