/* genq: the producers' and operators' command line — enqueue jobs, inspect
 * their status and results, operate queues and dead letters. Dispatches to one
 * cmd_* function per subcommand. */
#include "fmacros.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd_ops.h"
#include "dash.h"
#include "limits_budget.h"
#include "version.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *what;
} cmds[] = {
    {"enqueue", cmd_enqueue, "add jobs (JSONL file/stdin, or one from flags)"},
    {"status", cmd_status, "state, attempts, lease, errors of jobs"},
    {"result", cmd_result, "the result of a job (text, or --json document)"},
    {"results", cmd_results, "result documents as JSONL (--follow, export)"},
    {"stats", cmd_stats, "per-queue counts, rates, latency (--watch)"},
    {"queues", cmd_queues, "known queues with their counts"},
    {"dlq", cmd_dlq, "dead letters: ls, show, requeue, purge, export"},
    {"rejected", cmd_rejected, "rejected inbox entries: ls, show, purge"},
    {"batches", cmd_batches, "provider batches (batch mode): ls, show, cancel"},
    {"cancel", cmd_cancel,
     "cancel jobs (queued/delayed now, active after "
     "the attempt)"},
    {"pause", cmd_pause, "stop workers claiming from a queue"},
    {"resume", cmd_resume, "let workers claim from a paused queue again"},
    {"workers", cmd_workers, "live worker processes (registry heartbeats)"},
    {"budget", cmd_budget, "spend caps and spend today/this month; set caps"},
    {"limits", cmd_limits, "fleet rate limits, cooldown, breaker (set)"},
    {"review", cmd_review, "flagged results: ls, show, approve, reject"},
    {"dashboard", cmd_dashboard, "web page + JSON API of queues, DLQ, jobs"},
};

static void
usage(FILE *f)
{
    fprintf(f, "usage: genq COMMAND [OPTIONS]\n\n"
               "A persistent job queue for LLM text generation on Redis.\n\n"
               "Commands:\n");
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].what);
    fprintf(f, "\nEvery command takes --help, --json, --redis URL, --queue Q.\n"
               "URL: redis://[user:pass@]host[:port][/db], unix:///path[?db=N]"
               " or\nsentinel://[user:pass@]host:26379[,host...]/master[?db=N]"
               " (Redis Sentinel;\nits password: GENQ_SENTINEL_PASSWORD).\n"
               "Exit status: 0 success, 1 failure, 2 usage error.\n"
               "genq --version prints the version.\n");
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
        !strcmp(argv[1], "help")) {
        usage(stdout);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("genq %s\n", genq_version);
        return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
    }
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (!strcmp(argv[1], cmds[i].name))
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "genq: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
