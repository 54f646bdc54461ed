/* genq budget: the fleet's spend caps and its spend today and this month
 * (limits_budget.c), and `genq budget set` to change caps at run time
 * (every worker picks them up within a second or two). */
#include "fmacros.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "limits_budget.h"

static const char budget_help[] =
    "usage: genq budget [--json]\n"
    "       genq budget set [--queue Q] [--usd-day USD] [--usd-month USD]\n"
    "                       [--tokens-day N] [--tokens-month N]\n\n"
    "Show the spend caps and what the fleet spent today and this month (UTC),\n"
    "in USD and tokens, overall and per queue; 'in flight' is what calls\n"
    "running now reserved. With --json one object: {\"budget\": {\"caps\",\n"
    "\"day\", \"month\"}} (see the README).\n"
    "`set` writes caps that every worker applies within a second or two\n"
    "(fleet-wide, or for --queue Q; 0 removes a cap); a raised cap lets a\n"
    "stopped fleet resume without a restart. Workers write the caps of their\n"
    "configuration at start and on SIGHUP: the last writer wins.\n"
    "Long forms --budget-usd-day etc. are accepted too.\n\n" CLI_COMMON_HELP;

int
budget_set_opt(void *ctx, int opt, const char *arg)
{
    static const char *const names[] = {
        "usd-day",           "usd-month",          "tokens-day",
        "tokens-month",      "budget-usd-day",     "budget-usd-month",
        "budget-tokens-day", "budget-tokens-month"};
    struct budget_set_ctx *k = ctx;
    char err[256];
    int rc;

    if (opt < BUDGET_OPT_BASE || opt >= BUDGET_OPT_BASE + 8)
        return CLI_UNKNOWN;
    rc = limits_budget_opt(&k->s, names[opt - BUDGET_OPT_BASE], arg, err,
                           sizeof(err));
    if (rc < 0)
        return cli_usage_error(k->cmd, "%s", err);
    k->n++;
    return CLI_NEXT;
}

static int
budget_set_cmd(int argc, char **argv)
{
    struct cli c;
    struct budget_set_ctx k = {.n = 0, .cmd = "budget set"};
    struct cli_opt opts[] = {CLI_OPT_CALL("usd-day", BUDGET_OPT_BASE),
                             CLI_OPT_CALL("usd-month", BUDGET_OPT_BASE + 1),
                             CLI_OPT_CALL("tokens-day", BUDGET_OPT_BASE + 2),
                             CLI_OPT_CALL("tokens-month", BUDGET_OPT_BASE + 3),
                             BUDGET_CLI_OPTS,
                             CLI_OPT_END};
    struct cli_cmd spec = {"budget set",   budget_help, NULL, opts,
                           budget_set_opt, &k,          0};
    char err[512];
    int first, rc;

    limits_budget_set_init(&k.s);
    if ((rc = cli_parse(&c, &spec, argc, argv, &first)) != CLI_NEXT)
        return rc;
    if (k.n == 0)
        return cli_usage_error("budget set",
                               "nothing to set (--usd-day, --usd-month, "
                               "--tokens-day, --tokens-month)");
    if (cli_connect(&c) < 0)
        return EXIT_FAIL;
    rc =
        limits_budget_set(cli_rc(&c, KEY_BUDGET_CAPS),
                          c.queue_set ? c.queue : NULL, &k.s, err, sizeof(err));
    cli_close(&c);
    if (rc < 0)
        return cli_fail("budget set", "%s", err);
    return EXIT_OK;
}

int
cmd_budget(int argc, char **argv)
{
    struct cli c;
    struct cli_cmd spec = {"budget", budget_help, NULL, NULL, NULL, NULL, 0};
    cJSON *doc;
    char err[512] = "out of memory";
    int first, rc;

    if (argc > 1 && !strcmp(argv[1], "set"))
        return budget_set_cmd(argc - 1, argv + 1);
    if ((rc = cli_parse(&c, &spec, argc, argv, &first)) != CLI_NEXT)
        return rc;
    if (cli_connect(&c) < 0)
        return EXIT_FAIL;
    doc = cJSON_CreateObject();
    if (!doc || limits_budget_section(cli_rc(&c, KEY_BUDGET_CAPS), doc, err,
                                      sizeof(err)) < 0) {
        cJSON_Delete(doc);
        rc = cli_fail("budget", "redis: %s", err);
        cli_close(&c);
        return rc;
    }
    cli_close(&c);
    if (c.json)
        return cli_print_json(doc) < 0 ? EXIT_FAIL : EXIT_OK;
    limits_budget_print(cJSON_GetObjectItem(doc, "budget"));
    cJSON_Delete(doc);
    return EXIT_OK;
}
