/* Shared plumbing of the `genq` subcommands: common options (--redis,
 * --queue, --json, --help), connecting, and output helpers. */
#ifndef GENQ_CLI_H
#define GENQ_CLI_H

#include <getopt.h>
#include <stdio.h>

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>

#include "keys.h"

/* Exit codes of every subcommand. */
#define EXIT_OK    0
#define EXIT_FAIL  1
#define EXIT_USAGE 2

struct cli {
    const char *redis_url; /* --redis, GENQ_REDIS_URL, default local */
    const char *queue;     /* --queue, GENQ_QUEUE, default "default" */
    int json;              /* --json */
    int queue_set;         /* --queue was given */
    struct qkeys keys;     /* of queue, filled by cli_connect() */
    redisContext *rc;      /* owned; cli_close() frees */
};

/* Long options every subcommand accepts; ids 1000..1002. */
#define CLI_OPT_REDIS 1000
#define CLI_OPT_QUEUE 1001
#define CLI_OPT_JSON  1002
#define CLI_COMMON_OPTS                                                        \
    {"redis", required_argument, NULL, CLI_OPT_REDIS},                         \
        {"queue", required_argument, NULL, CLI_OPT_QUEUE},                     \
        {"json", no_argument, NULL, CLI_OPT_JSON},                             \
    {                                                                          \
        "help", no_argument, NULL, 'h'                                         \
    }
#define CLI_COMMON_HELP                                                        \
    "  --redis URL    Redis URL (env GENQ_REDIS_URL; default "                 \
    "redis://127.0.0.1:6379/0)\n"                                              \
    "  --queue Q      queue name (env GENQ_QUEUE; default \"default\")\n"      \
    "  --json         machine output (JSON)\n"                                 \
    "  -h, --help     this help\n"

/* How a subcommand's command line is parsed (cli_parse()). */
struct cli_cmd {
    const char *name;          /* in messages: "genq NAME: ..." */
    const char *help;          /* the --help text, printed to stdout */
    const char *shortopts;     /* getopt's; NULL = "h" */
    const struct option *opts; /* its own long options, {NULL...}-ended, or
                                  NULL; the common ones are added */
    /* Take one of its own options (opt as getopt_long() returns it, arg =
     * optarg): CLI_NEXT when taken, CLI_UNKNOWN when it is none of them (a
     * usage error "unknown option"), else the exit code to stop with (the
     * message printed). NULL when it has none. */
    int (*opt)(void *ctx, int opt, const char *arg);
    void *ctx;    /* passed to opt */
    int operands; /* 0: none allowed ("unexpected argument 'X'"), 1: any */
};

#define CLI_NEXT     (-1) /* go on */
#define CLI_UNKNOWN  (-2) /* not an option of the subcommand */
#define CLI_MAX_OPTS 32   /* own long options of a subcommand, at most */

/* The prologue of every subcommand: cli_init(c), then parse argv (argv[0]
 * is the subcommand) with getopt_long(): the common options go into c,
 * -h/--help prints cmd->help, the others go to cmd->opt. Returns CLI_NEXT
 * with *first set to the index of the first operand, else the exit code to
 * return (EXIT_OK after help, EXIT_USAGE after a usage error). Nothing to
 * free. */
int cli_parse(struct cli *c, const struct cli_cmd *cmd, int argc, char **argv,
              int *first);

/* Defaults from the environment. Can't fail. */
void cli_init(struct cli *c);

/* Handle a common option from getopt_long; returns 1 if it was one. */
int cli_common_opt(struct cli *c, int opt, const char *arg);

/* Connect to Redis and fill keys; on failure print the reason and return
 * -1. */
int cli_connect(struct cli *c);

/* As cli_connect(), but the problem goes to err instead of stderr. */
int cli_connect_err(struct cli *c, char *err, size_t errlen);
void cli_close(struct cli *c);

/* Print an error "genq CMD: ..." to stderr, followed by "(see 'genq CMD
 * --help')" when code is EXIT_USAGE, and return code. */
int cli_report(const char *cmd, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Print a usage error (to stderr, prefixed with the program) and return
 * EXIT_USAGE. */
#define cli_usage_error(cmd, ...) cli_report(cmd, EXIT_USAGE, __VA_ARGS__)

/* Print an error ("genq CMD: ...") and return EXIT_FAIL. */
#define cli_fail(cmd, ...) cli_report(cmd, EXIT_FAIL, __VA_ARGS__)

/* Print j as one line of JSON on stdout and free it. Returns -1 on OOM. */
int cli_print_json(cJSON *j);

/* Subcommands: each takes the argv after the subcommand name (argv[0] is
 * the subcommand) and returns the process exit code. */
int cmd_enqueue(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_result(int argc, char **argv);
int cmd_workers(int argc, char **argv);

#endif
