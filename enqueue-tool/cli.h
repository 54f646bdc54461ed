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
    "redis://127.0.0.1:6379/0;\n"                                              \
    "                 Redis Cluster: redis-cluster://host:port,host:port)\n"   \
    "  --queue Q      queue name (env GENQ_QUEUE; default \"default\")\n"      \
    "  --json         machine output (JSON)\n"                                 \
    "  -h, --help     this help\n"

/* What cli_parse() does with an option of a subcommand. */
enum cli_kind {
    CLI_FLAG,    /* no argument: *(int *)out = 1 */
    CLI_STR,     /* *(const char **)out = the argument */
    CLI_LONG,    /* a whole number in lo..hi into *(long *)out, else the usage
                    error "--NAME: expected WHAT, got 'ARG'" */
    CLI_SECONDS, /* seconds in lo..hi into *(double *)out, else the usage
                    error "--NAME: expected seconds in LO..HI, got 'ARG'" */
    CLI_CALL     /* with an argument, for cli_cmd.opt() */
};

/* One option of a subcommand (besides the common ones). */
struct cli_opt {
    const char *name; /* long name, without "--"; NULL ends a table */
    int key;          /* getopt_long()'s value: its short letter, or an id */
    enum cli_kind kind;
    void *out;        /* where the value goes; NULL: known but not taken by
                         this subcommand ("unknown option") */
    long lo, hi;      /* CLI_LONG, CLI_SECONDS */
    const char *what; /* CLI_LONG */
};

/* Entries of a struct cli_opt table, by kind. */
/* clang-format off */
#define CLI_OPT_FLAG(name, key, out) {name, key, CLI_FLAG, out, 0, 0, NULL}
#define CLI_OPT_STR(name, key, out)  {name, key, CLI_STR, out, 0, 0, NULL}
#define CLI_OPT_LONG(name, key, out, lo, hi, what) \
    {name, key, CLI_LONG, out, lo, hi, what}
#define CLI_OPT_SECONDS(name, key, out, lo, hi) \
    {name, key, CLI_SECONDS, out, lo, hi, NULL}
#define CLI_OPT_CALL(name, key)  {name, key, CLI_CALL, NULL, 0, 0, NULL}
#define CLI_OPT_END              {NULL, 0, CLI_FLAG, NULL, 0, 0, NULL}
/* clang-format on */

/* How a subcommand's command line is parsed (cli_parse()). */
struct cli_cmd {
    const char *name;           /* in messages: "genq NAME: ..." */
    const char *help;           /* the --help text, printed to stdout */
    const char *shortopts;      /* getopt's; NULL = "h" */
    const struct cli_opt *opts; /* its own options, NULL-name-ended, or
                                   NULL; the common ones are added */
    /* Take an option of kind CLI_CALL, or a short option
     * without an entry (opt as getopt_long() returns it, arg = optarg):
     * CLI_NEXT when taken, CLI_UNKNOWN when it is none of them (a usage
     * error "unknown option"), else the exit code to stop with (the message
     * printed). NULL when it has none. */
    int (*opt)(void *ctx, int opt, const char *arg);
    void *ctx;    /* passed to opt */
    int operands; /* 0: none allowed ("unexpected argument 'X'"), 1: any */
};

#define CLI_NEXT     (-1) /* go on */
#define CLI_UNKNOWN  (-2) /* not an option of the subcommand */
#define CLI_MAX_OPTS 32   /* own long options of a subcommand, at most */

/* The prologue of every subcommand: cli_init(c), then parse argv (argv[0]
 * is the subcommand) with getopt_long(): the common options go into c,
 * -h/--help prints cmd->help, the others as cmd->opts says. Returns CLI_NEXT
 * with *first set to the index of the first operand, else the exit code to
 * return (EXIT_OK after help, EXIT_USAGE after a usage error). Nothing to
 * free. */
int cli_parse(struct cli *c, const struct cli_cmd *cmd, int argc, char **argv,
              int *first);

/* The prologue of a command with sub-commands (genq dlq, genq rejected),
 * argv[0] being the command: none prints help to stderr (EXIT_USAGE);
 * -h, --help or help prints it to stdout (EXIT_OK). Returns CLI_NEXT with
 * *sub = argv[1], else the exit code to return. */
int cli_sub(int argc, char **argv, const char *help, const char **sub);

/* "genq CMD: unknown command 'SUB'" and help to stderr; returns
 * EXIT_USAGE. */
int cli_sub_unknown(const char *cmd, const char *sub, const char *help);

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

/* The connection for a command on key: on Redis Cluster the one to the node
 * serving it (borrowed), else c->rc. For keys outside c->queue's slot
 * (KEY_QUEUES, KEY_WORKERS, another queue's). */
redisContext *cli_rc(struct cli *c, const char *key);

/* On Redis Cluster, "host:port" of the node serving queue into out (n
 * bytes) and 1; under Sentinel the master's (found on connect) and 1;
 * else "" and 0 (one Redis). */
int cli_node(const char *queue, char *out, size_t n);
/* Print a TSV header (ending in a newline), with a last column "node" on
 * Redis Cluster or Sentinel. */
void cli_tsv_header(const char *h);
/* 1 when queues have a node to show (after cli_connect()): Redis Cluster,
 * or Sentinel (the master); else 0. */
int cli_cluster(void);

/* Print an error "genq CMD: ..." to stderr, followed by "(see 'genq CMD
 * --help')" when code is EXIT_USAGE, and return code. */
int cli_report(const char *cmd, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Print a usage error (to stderr, prefixed with the program) and return
 * EXIT_USAGE. */
#define cli_usage_error(cmd, ...) cli_report(cmd, EXIT_USAGE, __VA_ARGS__)

/* Print an error ("genq CMD: ...") and return EXIT_FAIL. */
#define cli_fail(cmd, ...) cli_report(cmd, EXIT_FAIL, __VA_ARGS__)

/* A synchronous Redis command failed with reply r (may be NULL): print
 * "genq CMD: redis: WHY", WHY being the error reply, else other when r is
 * some other reply and other is not NULL, else the connection's error.
 * Frees r; returns EXIT_FAIL. */
int cli_redis_fail(const struct cli *c, const char *cmd, redisReply *r,
                   const char *other);

/* Print j as one line of JSON on stdout and free it. Returns -1 on OOM. */
int cli_print_json(cJSON *j);

/* Subcommands: each takes the argv after the subcommand name (argv[0] is
 * the subcommand) and returns the process exit code. */
int cmd_enqueue(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_result(int argc, char **argv);
int cmd_workers(int argc, char **argv);
int cmd_limits(int argc, char **argv);

#endif
