/* limits_budget: the budget part of `genq limits` (issue 13): the caps and
 * the spend of today and this month, overall and per queue, as a section
 * of the limits document; and the `set` options that change caps. Until
 * `genq limits` takes them they run as `genq budget [set]` (cmd_budget.c). */
#ifndef GENQ_LIMITS_BUDGET_H
#define GENQ_LIMITS_BUDGET_H

#include <stddef.h>

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>

/* Caps to write: < 0 = leave as is, 0 = remove the cap, > 0 = the cap. */
struct budget_set {
    double usd_day, usd_month, tok_day, tok_month;
};

/* All fields < 0 (nothing to change). Can't fail. */
void limits_budget_set_init(struct budget_set *s);

/* Take the `set` option name (without "--": budget-usd-day,
 * budget-usd-month, budget-tokens-day, budget-tokens-month; the short
 * forms usd-day, usd-month, tokens-day, tokens-month too) with its
 * argument into s. Returns 1 when taken, 0 when name is none of them, -1
 * with "--NAME: expected ..., got 'ARG'" in err for a bad value. */
int limits_budget_opt(struct budget_set *s, const char *name, const char *arg,
                      char *err, size_t errlen);

/* Write s's caps to Redis (the caps every worker reads within a second),
 * for queue (NULL: fleet-wide). Clears the caps' alert marks so a cap
 * reached again alerts again. Returns 0, or -1 with the reason in err. */
int limits_budget_set(redisContext *c, const char *queue,
                      const struct budget_set *s, char *err, size_t errlen);

/* Add "budget" to doc: {"caps": {usd_day, usd_month, tokens_day,
 * tokens_month (null = none), "queues": {Q: {...}}}, "day": {"period",
 * "usd", "tokens", "reserved_usd", "reserved_tokens", "queues": {Q:
 * {"usd", "tokens"}}}, "month": {same, no reservations}}. Returns 0, or -1
 * with the reason in err, naming the key (Redis error, a key that is no
 * hash, out of memory; doc may hold part of it). */
int limits_budget_section(redisContext *c, cJSON *doc, char *err,
                          size_t errlen);

/* Print the section as text (the object limits_budget_section() added). */
void limits_budget_print(const cJSON *budget);

/* The `set` options of a subcommand's option table (struct cli_opt, cli.h):
 * --budget-usd-day, --budget-usd-month, --budget-tokens-day,
 * --budget-tokens-month, taken by budget_set_opt() with a struct
 * budget_set_ctx as its ctx (genq limits set, genq budget set). */
#define BUDGET_OPT_BASE 2000
#define BUDGET_CLI_OPTS                                                        \
    CLI_OPT_CALL("budget-usd-day", BUDGET_OPT_BASE + 4),                       \
        CLI_OPT_CALL("budget-usd-month", BUDGET_OPT_BASE + 5),                 \
        CLI_OPT_CALL("budget-tokens-day", BUDGET_OPT_BASE + 6),                \
        CLI_OPT_CALL("budget-tokens-month", BUDGET_OPT_BASE + 7)
struct budget_set_ctx {
    struct budget_set s;
    int n;           /* options taken */
    const char *cmd; /* "limits set", "budget set": for usage errors */
};
/* cli_cmd.opt for those options (and genq budget set's short forms,
 * BUDGET_OPT_BASE + 0..3): CLI_NEXT when taken, CLI_UNKNOWN, or the exit
 * code of a usage error (printed). */
int budget_set_opt(void *ctx, int opt, const char *arg);

/* genq budget [--json] | genq budget set [--queue Q] --usd-day X ... */
int cmd_budget(int argc, char **argv);

#endif
