/* genq-mockllm: a local fake LLM HTTP server speaking the Anthropic Messages
 * and OpenAI Chat Completions wire formats, with deterministic text, pacing
 * and injectable faults. Single-threaded libev loop, non-blocking sockets.
 * This file: the command line, the listener, the shared state and main();
 * the server itself is in srv_*.c (srv.h), the wire formats in mock*.c. */
#include "fmacros.h"

#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "mockapi.h"
#include "mockhttp.h"
#include "mocktext.h"
#include "srv.h"

struct ev_loop *srv_loop;
struct settings srv_cfg;
struct stats srv_stats;
FILE *srv_logfp;
struct conn *srv_conns;
ev_io srv_accept_w;
ev_timer srv_accept_retry_w;
uint64_t srv_rng_state;
uint32_t srv_id_salt;
double srv_start_time;
struct srv_rl srv_rl;
static int listen_fd = -1;

/* ---- startup --------------------------------------------------------------
 */

static const char *const usage_lines[] = {
    "usage: genq-mockllm [options]",
    "A local fake LLM server: Anthropic POST /v1/messages and OpenAI",
    "POST /v1/chat/completions (plain and streaming) with deterministic",
    "text, pacing and injectable faults. Also GET /healthz,",
    "GET /mock/stats, POST /mock/control, POST /mock/reset.",
    "",
    "  --listen HOST:PORT   listen address (default 127.0.0.1:8089;",
    "                       port 0 picks a free port)",
    "  --port-file FILE     write the bound port to FILE once listening",
    "  --latency-ms N       delay before response headers (default 0)",
    "  --tokens-per-s N     pace streamed deltas at N tokens/s; plain",
    "                       responses also wait ntokens/N (0 = no pacing,",
    "                       the default)",
    "  --chunk-tokens K     tokens per streamed delta (default 1)",
    "  --gate-streams N     streams hold their deltas until N are open at",
    "                       once (or 60 s after the first): tests of a",
    "                       client's concurrency (default 0: off)",
    "  --article-tokens N   article length unless the prompt carries",
    "                       [mock:tokens=N] (default 120, max 200000)",
    "  --fault-rate R       probability 0..1 that a request gets a fault",
    "                       drawn from --faults (default 0)",
    "  --faults LIST        comma-separated kinds drawn by --fault-rate",
    "                       (default 429,500,503,529,stream-error,drop,",
    "                       stall,malformed). All kinds: 429 429nora 500",
    "                       500noretry 502 503 504 529 400 401 402 403",
    "                       404 408 409 413 stream-error drop stall",
    "                       malformed",
    "  --seed S             seed of the fault draws (default 1)",
    "  --retry-after S      retry-after seconds on 429 (default 1)",
    "  --retry-after-ms N   also send retry-after-ms: N on 429",
    "  --stall-s N          how long a stalled response keeps the socket",
    "                       open (default 600)",
    "  --log FILE           append one JSON line per request (flushed)",
    "  --limit-rpm N        enforce N requests/min, --limit-itpm N input",
    "  --limit-itpm N       tokens/min, --limit-otpm N output tokens/min,",
    "  --limit-otpm N       --limit-tpm N total tokens/min (OpenAI's):",
    "  --limit-tpm N        continuously refilled buckets; over one: 429",
    "                       with retry-after; the rate-limit headers show",
    "                       the buckets (default: not enforced)",
    "  --batch-latency-s S  a batch (Anthropic Message Batches, OpenAI",
    "                       files + batches) ends S s after its creation",
    "                       (default 1); entries may carry",
    "                       [mock:batch=errored|errored_retry|expired|",
    "                       canceled(*K)]; --log gets one",
    "                       {\"event\":\"batch_created\"} line per batch",
    "  --batch-create-delay-s S  answer a batch create S s late (the",
    "                       batch exists at once; default 0)",
    "  --batch-results-cut N  the first N results downloads (Anthropic)",
    "                       break off after half the lines",
    "  --batch-create-hang N  swallow the first N batch creates (nothing",
    "                       created, no answer for an hour)",
    "  --help               show this help",
    "",
    "Markers in the first user message: [mock:tokens=N],",
    "[mock:fail=KIND] (every request with that prompt),",
    "[mock:fail=KIND*K] (its first K requests); markers chain in order.",
    "Environment: GENQ_MOCK_API_KEY (required credential; JWT-shaped",
    "tokens are accepted too), GENQ_MOCK_REJECT_AUTH=1 (answer 401 to",
    "every API request until POST /mock/control {\"reject_auth\":false}).",
};

static void
usage(FILE *fp)
{
    for (size_t i = 0; i < sizeof(usage_lines) / sizeof(usage_lines[0]); i++)
        fprintf(fp, "%s\n", usage_lines[i]);
}

static void
die_flag(const char *flag, const char *value, const char *why)
{
    fprintf(stderr, "genq-mockllm: invalid value '%s' for %s: %s\n",
            value ? value : "", flag, why);
    exit(2);
}

static double
flag_double(const char *flag, const char *v, double lo, double hi)
{
    char *end;
    double d;

    errno = 0;
    d = strtod(v, &end);
    if (errno != 0 || end == v || *end != '\0' || !isfinite(d) || d < lo ||
        d > hi) {
        char why[96];
        snprintf(why, sizeof(why), "expected a number in [%g, %g]", lo, hi);
        die_flag(flag, v, why);
    }
    return d;
}

static long long
flag_int(const char *flag, const char *v, long long lo, long long hi)
{
    char *end;
    long long n;

    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < lo || n > hi) {
        char why[96];
        snprintf(why, sizeof(why), "expected an integer in [%lld, %lld]", lo,
                 hi);
        die_flag(flag, v, why);
    }
    return n;
}

static void
parse_listen(const char *v)
{
    const char *colon = strrchr(v, ':');
    const char *h = v;
    size_t hl;

    if (colon == NULL || colon[1] == '\0')
        die_flag("--listen", v, "expected HOST:PORT");
    hl = (size_t)(colon - v);
    if (hl >= 2 && v[0] == '[' && v[hl - 1] == ']') {
        h = v + 1;
        hl -= 2;
    }
    flag_int("--listen", colon + 1, 0, 65535);
    free(srv_cfg.host);
    free(srv_cfg.port);
    srv_cfg.host = strndup(h, hl);
    srv_cfg.port = strdup(colon + 1);
    if (srv_cfg.host == NULL || srv_cfg.port == NULL) {
        fprintf(stderr, "genq-mockllm: out of memory\n");
        exit(1);
    }
}

static void
parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL, *eq;
        char name[64];
        size_t nl;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "genq-mockllm: unexpected argument '%s'\n", a);
            exit(2);
        }
        eq = strchr(a, '=');
        nl = eq ? (size_t)(eq - a) : strlen(a);
        if (nl >= sizeof(name)) {
            fprintf(stderr, "genq-mockllm: unknown flag '%s'\n", a);
            exit(2);
        }
        memcpy(name, a, nl);
        name[nl] = '\0';
        if (eq) {
            v = eq + 1;
        } else {
            if (i + 1 >= argc) {
                fprintf(stderr, "genq-mockllm: %s needs a value\n", name);
                exit(2);
            }
            v = argv[++i];
        }
        if (strcmp(name, "--listen") == 0) {
            parse_listen(v);
        } else if (strcmp(name, "--port-file") == 0) {
            srv_cfg.port_file = v;
        } else if (strcmp(name, "--batch-latency-s") == 0) {
            srv_cfg.batch_latency_s = flag_double(name, v, 0, 86400);
        } else if (strcmp(name, "--batch-create-delay-s") == 0) {
            srv_cfg.batch_create_delay_s = flag_double(name, v, 0, 86400);
        } else if (strcmp(name, "--batch-results-cut") == 0) {
            srv_cfg.batch_results_cut =
                (unsigned long)flag_double(name, v, 0, 1000000);
        } else if (strcmp(name, "--batch-create-hang") == 0) {
            srv_cfg.batch_create_hang =
                (unsigned long)flag_double(name, v, 0, 1000000);
        } else if (strcmp(name, "--latency-ms") == 0) {
            srv_cfg.latency_ms = flag_double(name, v, 0, 3600e3);
        } else if (strcmp(name, "--tokens-per-s") == 0) {
            srv_cfg.tokens_per_s = flag_double(name, v, 0, 1e9);
        } else if (strcmp(name, "--gate-streams") == 0) {
            srv_cfg.gate_streams = (long)flag_int(name, v, 0, 10000000);
        } else if (strcmp(name, "--chunk-tokens") == 0) {
            srv_cfg.chunk_tokens = (size_t)flag_int(name, v, 1, 100000);
        } else if (strcmp(name, "--article-tokens") == 0) {
            srv_cfg.article_tokens =
                (size_t)flag_int(name, v, 1, MOCKTEXT_MAX_TOKENS);
        } else if (strcmp(name, "--fault-rate") == 0) {
            srv_cfg.fault_rate = flag_double(name, v, 0, 1);
        } else if (strcmp(name, "--faults") == 0) {
            char badname[MOCKTEXT_KIND_MAX + 8];
            if (srv_parse_kinds(v, srv_cfg.kinds, &srv_cfg.nkinds, badname,
                                sizeof(badname)) < 0) {
                char why[96];
                snprintf(why, sizeof(why), "unknown fault kind '%s'", badname);
                die_flag(name, v, why);
            }
        } else if (strcmp(name, "--seed") == 0) {
            char *end;
            errno = 0;
            srv_cfg.seed = strtoull(v, &end, 0);
            if (errno != 0 || end == v || *end != '\0' || v[0] == '-')
                die_flag(name, v, "expected an unsigned 64-bit integer");
        } else if (strcmp(name, "--retry-after") == 0) {
            srv_cfg.retry_after = (long)flag_int(name, v, 0, 86400);
        } else if (strcmp(name, "--retry-after-ms") == 0) {
            srv_cfg.retry_after_ms = (long)flag_int(name, v, 0, 86400000);
        } else if (strcmp(name, "--stall-s") == 0) {
            srv_cfg.stall_s = flag_double(name, v, 0, 86400);
        } else if (strcmp(name, "--limit-rpm") == 0) {
            srv_cfg.limit_rpm = flag_double(name, v, 0, 1e12);
        } else if (strcmp(name, "--limit-itpm") == 0) {
            srv_cfg.limit_itpm = flag_double(name, v, 0, 1e12);
        } else if (strcmp(name, "--limit-otpm") == 0) {
            srv_cfg.limit_otpm = flag_double(name, v, 0, 1e12);
        } else if (strcmp(name, "--limit-tpm") == 0) {
            srv_cfg.limit_tpm = flag_double(name, v, 0, 1e12);
        } else if (strcmp(name, "--log") == 0) {
            srv_cfg.log_path = v;
        } else {
            fprintf(stderr, "genq-mockllm: unknown flag '%s' (see --help)\n",
                    name);
            exit(2);
        }
    }
}

/* Binds and listens; returns the fd or -1 with a message printed. */
static int
open_listener(void)
{
    struct addrinfo hints, *res = NULL, *ai;
    int fd = -1, rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    rc = getaddrinfo(srv_cfg.host[0] ? srv_cfg.host : NULL, srv_cfg.port,
                     &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "genq-mockllm: cannot resolve '%s': %s\n", srv_cfg.host,
                gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int one = 1;
        fd = socket(ai->ai_family,
                    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0)
            continue;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
            bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 4096) == 0)
            break;
        fprintf(stderr, "genq-mockllm: cannot listen on %s:%s: %s\n",
                srv_cfg.host, srv_cfg.port, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static int
write_port_file(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int port;
    char tmp[4096];
    FILE *fp;

    memset(&ss, 0, sizeof(ss));
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        return -1;
    port = ss.ss_family == AF_INET6
               ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
               : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (srv_cfg.port_file == NULL) {
        fprintf(stderr, "genq-mockllm: listening on %s port %d\n", srv_cfg.host,
                port);
        return 0;
    }
    /* Write then rename, so a reader never sees a half-written file. */
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", srv_cfg.port_file) >=
        (int)sizeof(tmp))
        return -1;
    fp = fopen(tmp, "w");
    if (fp == NULL)
        return -1;
    if (fprintf(fp, "%d\n", port) < 0 || fclose(fp) != 0) {
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, srv_cfg.port_file) < 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Every client connection is a descriptor: tens of thousands of streams
 * need more than the usual soft limit of 1,024. Up to the hard limit. */
static void
raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            fprintf(stderr,
                    "genq-mockllm: cannot raise the open-file limit: %s\n",
                    strerror(errno));
    }
}

int
main(int argc, char **argv)
{
    ev_signal sigint_w, sigterm_w;
    const char *env;
    char badname[MOCKTEXT_KIND_MAX + 8];

    srv_cfg.article_tokens = MOCKTEXT_DEFAULT_TOKENS;
    srv_cfg.chunk_tokens = 1;
    srv_cfg.seed = 1;
    srv_cfg.batch_latency_s = 1.0;
    srv_cfg.retry_after = 1;
    srv_cfg.retry_after_ms = -1;
    srv_cfg.stall_s = 600;
    if (srv_parse_kinds("429,500,503,529,stream-error,drop,stall,malformed",
                        srv_cfg.kinds, &srv_cfg.nkinds, badname,
                        sizeof(badname)) < 0)
        return 1;
    parse_listen("127.0.0.1:8089");
    parse_args(argc, argv);
    env = getenv("GENQ_MOCK_REJECT_AUTH");
    srv_cfg.reject_auth = env != NULL && strcmp(env, "1") == 0;
    env = getenv("GENQ_MOCK_API_KEY");
    srv_cfg.api_key = env != NULL && *env ? env : NULL;
    srv_rng_state = srv_cfg.seed;

    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    srv_loop = ev_default_loop(EVFLAG_AUTO);
    if (srv_loop == NULL) {
        fprintf(stderr, "genq-mockllm: cannot initialise libev\n");
        return 1;
    }
    srv_start_time = ev_time();
    srv_id_salt =
        (uint32_t)(mocktext_hash(&srv_start_time, sizeof(srv_start_time)) ^
                   (uint64_t)getpid());
    srv_rl.start = ev_now(srv_loop);
    if (srv_cfg.log_path != NULL) {
        srv_logfp = fopen(srv_cfg.log_path, "a");
        if (srv_logfp == NULL) {
            fprintf(stderr, "genq-mockllm: cannot open log '%s': %s\n",
                    srv_cfg.log_path, strerror(errno));
            return 1;
        }
    }
    listen_fd = open_listener();
    if (listen_fd < 0)
        return 1;
    if (write_port_file(listen_fd) < 0) {
        fprintf(stderr, "genq-mockllm: cannot write port file '%s': %s\n",
                srv_cfg.port_file, strerror(errno));
        return 1;
    }
    ev_io_init(&srv_accept_w, srv_on_accept, listen_fd, EV_READ);
    ev_io_start(srv_loop, &srv_accept_w);
    ev_init(&srv_accept_retry_w, srv_on_accept_retry);
    ev_signal_init(&sigint_w, srv_on_signal, SIGINT);
    ev_signal_start(srv_loop, &sigint_w);
    ev_signal_init(&sigterm_w, srv_on_signal, SIGTERM);
    ev_signal_start(srv_loop, &sigterm_w);

    ev_run(srv_loop, 0);

    while (srv_conns != NULL)
        srv_conn_close(srv_conns);
    ev_io_stop(srv_loop, &srv_accept_w);
    ev_timer_stop(srv_loop, &srv_accept_retry_w);
    ev_signal_stop(srv_loop, &sigint_w);
    ev_signal_stop(srv_loop, &sigterm_w);
    close(listen_fd);
    srv_keytab_clear();
    if (srv_logfp != NULL)
        fclose(srv_logfp);
    free(srv_cfg.host);
    free(srv_cfg.port);
    ev_loop_destroy(srv_loop);
    return 0;
}
