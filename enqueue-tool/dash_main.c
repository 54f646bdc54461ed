/* genq dashboard: a web page of the queues (counts, throughput and latency
 * charts, workers, the dead-letter queue with requeue and purge, jobs)
 * served with its JSON API from this process: options, the admin token,
 * starting the sampler and the server, and waiting for SIGINT/SIGTERM. */
#include "fmacros.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_ops.h"
#include "dash.h"

#define DEAD_WARN_DEFAULT 1000

static const char dashboard_help[] =
    "usage: genq dashboard [--listen HOST:PORT] [--admin-token-file F]\n"
    "                      [--allowed-hosts LIST] [--dead-warn N]\n"
    "                      [--port-file F]\n\n"
    "Serve a web dashboard and its JSON API (README \"Dashboard\"): per\n"
    "queue ready (by priority), active, delayed, dead, succeeded, canceled\n"
    "and paused, with throughput and p50/p95 latency charts over the last\n"
    "hour; live workers and their versions; the dead-letter queue (filter,\n"
    "page, open, requeue or purge); the results waiting in review (approve,\n"
    "reject, regenerate with a note: 'genq review'); a job by id with its\n"
    "result. Reads go through one shared sample a second of what 'genq\n"
    "stats --json' reads, however many pages are open. The page and its\n"
    "scripts are built into the binary.\n\n"
    "Read-only unless an admin token is set: --admin-token-file F or the\n"
    "environment GENQ_ADMIN_TOKEN (never on the command line; at least 16\n"
    "characters). Actions then need it: 'Authorization: Bearer TOKEN', or a\n"
    "login on the page (an HttpOnly, SameSite=Strict cookie plus a CSRF\n"
    "token).\n\n"
    "  --listen HOST:PORT     address to serve on (default 127.0.0.1:8080;\n"
    "                         a non-loopback address is warned about)\n"
    "  --admin-token-file F   read the admin token from file F\n"
    "  --dead-warn N          flag queues with more than N dead jobs\n"
    "                         (env GENQ_DEAD_WARN; default 1000)\n"
    "  --allowed-hosts LIST   answer only requests whose Host is one of\n"
    "                         these names (comma-separated); default: any,\n"
    "                         or loopback names only on a loopback address\n"
    "                         (no DNS rebinding)\n"
    "  --port-file F          write the port served on to F (with port 0)\n"
    "Approved results are kept GENQ_RESULT_TTL seconds (default 604800).\n"
    "  --redis URL            Redis URL (env GENQ_REDIS_URL; default "
    "redis://127.0.0.1:6379/0)\n"
    "  -h, --help             this help\n";

enum {
    OPT_LISTEN = 1,
    OPT_TOKEN_FILE,
    OPT_DEAD_WARN,
    OPT_PORT_FILE,
    OPT_TOKEN,
    OPT_HOSTS
};

static int
dash_opt(void *ctx, int opt, const char *arg)
{
    (void)ctx;
    (void)arg;
    if (opt == OPT_TOKEN)
        return cli_usage_error("dashboard",
                               "--admin-token: a token on the command line "
                               "is visible to every local user; use "
                               "--admin-token-file F or GENQ_ADMIN_TOKEN");
    return CLI_UNKNOWN;
}

static int
write_port(const char *path, int port)
{
    FILE *f = fopen(path, "w");

    if (!f)
        return -1;
    fprintf(f, "%d\n", port);
    return fclose(f) == 0 ? 0 : -1;
}

int
cmd_dashboard(int argc, char **argv)
{
    struct cli c;
    const char *listen = "127.0.0.1:8080", *token_file = NULL;
    const char *port_file = NULL, *env = getenv("GENQ_DEAD_WARN");
    const char *hosts = NULL;
    long dead_warn = DEAD_WARN_DEFAULT;
    struct cli_opt opts[] = {
        CLI_OPT_STR("listen", OPT_LISTEN, &listen),
        CLI_OPT_STR("admin-token-file", OPT_TOKEN_FILE, &token_file),
        CLI_OPT_LONG("dead-warn", OPT_DEAD_WARN, &dead_warn, 0, 1000000000L,
                     "a number"),
        CLI_OPT_STR("port-file", OPT_PORT_FILE, &port_file),
        CLI_OPT_CALL("admin-token", OPT_TOKEN),
        CLI_OPT_STR("allowed-hosts", OPT_HOSTS, &hosts),
        CLI_OPT_END};
    struct cli_cmd spec = {"dashboard", dashboard_help, NULL, opts,
                           dash_opt,    NULL,           0};
    static struct dash d; /* big (the sessions); lives until exit */
    char err[512];
    int first, rc, port = 0, loopback = 0, sig;
    sigset_t set;

    if (env && *env && ops_parse_long(env, 0, 1000000000L, &dead_warn) < 0)
        return cli_usage_error(
            "dashboard", "GENQ_DEAD_WARN: expected a number, got '%s'", env);
    if ((rc = cli_parse(&c, &spec, argc, argv, &first)) != CLI_NEXT)
        return rc;
    memset(&d, 0, sizeof(d));
    d.redis_url = c.redis_url;
    d.allowed_hosts = hosts && *hosts ? hosts : NULL;
    if (dash_auth_init(&d.auth, token_file, err, sizeof(err)) < 0)
        return cli_usage_error("dashboard", "%s", err);
    /* Reachable now, or say so: the page would only show errors. (This
     * first connection also builds the scripts table, scripts_init(), before
     * any thread could race to.) */
    if (cli_connect(&c) < 0) {
        dash_auth_free(&d.auth);
        return EXIT_FAIL;
    }
    cli_close(&c);
    /* Signals are taken by sigwait() below; every thread inherits the
     * mask. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (dash_sampler_start(&d.sampler, d.redis_url, dead_warn, err,
                           sizeof(err)) < 0) {
        dash_auth_free(&d.auth);
        return cli_fail("dashboard", "%s", err);
    }
    if (dash_listen(&d, listen, &port, &loopback, err, sizeof(err)) < 0) {
        dash_sampler_stop(&d.sampler);
        dash_auth_free(&d.auth);
        return cli_fail("dashboard", "%s", err);
    }
    if (port_file && write_port(port_file, port) < 0)
        fprintf(stderr, "genq dashboard: --port-file %s: cannot write\n",
                port_file);
    fprintf(stderr, "genq dashboard: serving on %s (port %d), %s\n", listen,
            port,
            d.auth.token_len ? "actions need the admin token"
                             : "read-only (no admin token set)");
    if (!loopback)
        fprintf(stderr,
                "genq dashboard: warning: %s is not a loopback address: "
                "anyone who reaches it sees the queues and jobs (plain "
                "HTTP; put TLS in front)\n",
                listen);
    fflush(stderr);
    while (sigwait(&set, &sig) != 0)
        ;
    fprintf(stderr, "genq dashboard: stopping (signal %d)\n", sig);
    MHD_stop_daemon(d.d);
    dash_sampler_stop(&d.sampler);
    dash_auth_free(&d.auth);
    return EXIT_OK;
}
