/* genq-worker: parse flags and environment (flags win), read the API key
 * from the environment or a file (never argv), then run one event loop —
 * or, with --processes N, pre-fork N loops and supervise them. */
#include "fmacros.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <ev.h>

#include "errclass.h"
#include "keys.h"
#include "log.h"
#include "scripts.h"
#include "worker.h"

static const char usage_text[] =
    "usage: genq-worker [options]\n\n"
    "Claim LLM generation jobs from Redis queues and run them against an\n"
    "LLM API (Anthropic Messages or OpenAI-compatible Chat Completions).\n"
    "Every option has an environment variable (shown); flags win.\n\n"
    "  --redis URL              GENQ_REDIS_URL   redis://127.0.0.1:6379/0\n"
    "                           (redis://user:pass@host:port/db, "
    "unix:///path;\n"
    "                           put passwords in the environment, not argv)\n"
    "  --queue Q                GENQ_QUEUE       default (repeatable; env: "
    "a,b)\n"
    "  --concurrency N          GENQ_CONCURRENCY 64 in-flight jobs/process\n"
    "  --processes N            GENQ_PROCESSES   1 (pre-forked, supervised)\n"
    "  --visibility-timeout S   GENQ_VISIBILITY_TIMEOUT 60 (lease length)\n"
    "  --max-attempts N         GENQ_MAX_ATTEMPTS 5 (jobs may override)\n"
    "  --result-ttl S           GENQ_RESULT_TTL  604800 (7 days)\n"
    "  --drain-timeout S        GENQ_DRAIN_TIMEOUT 30\n"
    "  --provider P             GENQ_PROVIDER    anthropic|openai|noop\n"
    "                           (noop completes at once with empty text: a\n"
    "                           benchmarking aid only)\n"
    "  --api-base URL           GENQ_API_BASE    https://api.anthropic.com or\n"
    "                           https://api.openai.com\n"
    "  --model M                GENQ_MODEL       default model\n"
    "  --max-tokens N           GENQ_MAX_TOKENS  2000 (jobs may override)\n"
    "  --stream / --no-stream   GENQ_STREAM      1\n"
    "  --timeout S              GENQ_TIMEOUT     600 per attempt (job "
    "timeout_s wins)\n"
    "  --connect-timeout S      GENQ_CONNECT_TIMEOUT 10\n"
    "  --stall-timeout S        GENQ_STALL_TIMEOUT 60 (no byte for S: abort)\n"
    "  --max-retries N          GENQ_MAX_RETRIES 3 (HTTP retries/attempt)\n"
    "  --retry-base S           GENQ_RETRY_BASE  0.5\n"
    "  --retry-cap S            GENQ_RETRY_CAP   8\n"
    "  --max-continuations N    GENQ_MAX_CONTINUATIONS 3 (long articles)\n"
    "  --job-backoff-base S     GENQ_JOB_BACKOFF_BASE 10 (x2 per attempt, cap "
    "1 h)\n"
    "  --claim-batch N          GENQ_CLAIM_BATCH 100 jobs per claim call\n"
    "  --circuit-max S          GENQ_CIRCUIT_MAX 30 longest claim pause\n"
    "  --api-key-file F         GENQ_API_KEY_FILE read the API key from F\n"
    "  --auth api-key|bearer|jwt GENQ_AUTH  x-api-key (anthropic default),\n"
    "                           Authorization: Bearer KEY (openai default),\n"
    "                           or a JWT bearer minted with libjwt:\n"
    "  --jwt-alg A              GENQ_JWT_ALG     "
    "HS256|HS384|HS512|RS256|ES256\n"
    "  --jwt-key-file F         GENQ_JWT_KEY_FILE secret (HS*) or PEM key\n"
    "  --jwt-issuer S, --jwt-subject S, --jwt-audience S   iss, sub, aud\n"
    "                           (GENQ_JWT_ISSUER, _SUBJECT, _AUDIENCE)\n"
    "  --jwt-ttl S              GENQ_JWT_TTL     3600; re-minted 60 s before\n"
    "                           expiry, and at once after a 401\n"
    "  --jwt-claim NAME=VALUE   extra claim (repeatable; JSON values kept)\n"
    "  --log-format json|text   GENQ_LOG_FORMAT  text\n"
    "  --log-level L            GENQ_LOG_LEVEL   info (debug|info|warn|error)\n"
    "  --error-classes          print the error-class table and exit\n"
    "  -h, --help\n\n"
    "API key: GENQ_API_KEY, else ANTHROPIC_API_KEY (anthropic) or\n"
    "OPENAI_API_KEY (openai), else --api-key-file. Never a flag.\n"
    "SIGTERM/SIGINT: stop claiming, finish in-flight jobs within the drain\n"
    "timeout, hand the rest back (attempt not counted), exit 0.\n";

enum opt_type { T_INT, T_DOUBLE, T_STR, T_BOOL };

struct opt {
    const char *name; /* long flag */
    const char *env;
    enum opt_type type;
    void *ptr;
    double lo, hi;
};

static struct wcfg cfg;
static const char *redis_url = "redis://127.0.0.1:6379/0";
static const char *provider_s = "anthropic";
static const char *log_format = "text";
static const char *log_level = "info";
static const char *key_file;
static const char *queue_env;
static int processes = 1;
static const char *auth_s;
static int jwt_ttl = 3600;

static const struct opt opts[] = {
    {"redis", "GENQ_REDIS_URL", T_STR, &redis_url, 0, 0},
    {"concurrency", "GENQ_CONCURRENCY", T_INT, &cfg.concurrency, 1, 100000},
    {"processes", "GENQ_PROCESSES", T_INT, &processes, 1, 256},
    {"visibility-timeout", "GENQ_VISIBILITY_TIMEOUT", T_INT, &cfg.visibility_s,
     1, 86400},
    {"max-attempts", "GENQ_MAX_ATTEMPTS", T_INT, &cfg.max_attempts, 1, 100},
    {"result-ttl", "GENQ_RESULT_TTL", T_INT, NULL, 1, 315360000},
    {"drain-timeout", "GENQ_DRAIN_TIMEOUT", T_INT, &cfg.drain_timeout_s, 0,
     86400},
    {"provider", "GENQ_PROVIDER", T_STR, &provider_s, 0, 0},
    {"api-base", "GENQ_API_BASE", T_STR, &cfg.api_base, 0, 0},
    {"model", "GENQ_MODEL", T_STR, &cfg.model, 0, 0},
    {"max-tokens", "GENQ_MAX_TOKENS", T_INT, &cfg.max_tokens, 1, 200000},
    {"stream", "GENQ_STREAM", T_BOOL, &cfg.stream, 0, 1},
    {"timeout", "GENQ_TIMEOUT", T_INT, &cfg.timeout_s, 1, 86400},
    {"connect-timeout", "GENQ_CONNECT_TIMEOUT", T_INT, &cfg.connect_timeout_s,
     1, 600},
    {"stall-timeout", "GENQ_STALL_TIMEOUT", T_INT, &cfg.stall_timeout_s, 1,
     86400},
    {"max-retries", "GENQ_MAX_RETRIES", T_INT, &cfg.max_retries, 0, 100},
    {"retry-base", "GENQ_RETRY_BASE", T_DOUBLE, &cfg.retry_base_s, 0.001, 3600},
    {"retry-cap", "GENQ_RETRY_CAP", T_DOUBLE, &cfg.retry_cap_s, 0.001, 3600},
    {"max-continuations", "GENQ_MAX_CONTINUATIONS", T_INT,
     &cfg.max_continuations, 0, 20},
    {"job-backoff-base", "GENQ_JOB_BACKOFF_BASE", T_DOUBLE,
     &cfg.job_backoff_base_s, 0.001, 3600},
    {"claim-batch", "GENQ_CLAIM_BATCH", T_INT, &cfg.claim_batch, 1, 1000},
    {"circuit-max", "GENQ_CIRCUIT_MAX", T_DOUBLE, &cfg.circuit_max_s, 0.1,
     3600},
    {"api-key-file", "GENQ_API_KEY_FILE", T_STR, &key_file, 0, 0},
    {"log-format", "GENQ_LOG_FORMAT", T_STR, &log_format, 0, 0},
    {"log-level", "GENQ_LOG_LEVEL", T_STR, &log_level, 0, 0},
    {"auth", "GENQ_AUTH", T_STR, &auth_s, 0, 0},
    {"jwt-alg", "GENQ_JWT_ALG", T_STR, &cfg.jwt.alg, 0, 0},
    {"jwt-key-file", "GENQ_JWT_KEY_FILE", T_STR, &cfg.jwt.key_file, 0, 0},
    {"jwt-issuer", "GENQ_JWT_ISSUER", T_STR, &cfg.jwt.issuer, 0, 0},
    {"jwt-subject", "GENQ_JWT_SUBJECT", T_STR, &cfg.jwt.subject, 0, 0},
    {"jwt-audience", "GENQ_JWT_AUDIENCE", T_STR, &cfg.jwt.audience, 0, 0},
    {"jwt-ttl", "GENQ_JWT_TTL", T_INT, &jwt_ttl, 61, 86400 * 30},
    {"jwt-claim", NULL, T_STR, NULL, 0, 0}, /* repeatable */
    {"queue", NULL, T_STR, NULL, 0, 0},     /* handled apart: repeatable */
};
#define NOPTS ((int)(sizeof(opts) / sizeof(opts[0])))

static int
set_opt(const struct opt *o, const char *v, const char *src)
{
    char *end;

    if (o->type == T_STR) {
        if (!*v) {
            fprintf(stderr, "genq-worker: %s: empty value\n", src);
            return -1;
        }
        *(const char **)o->ptr = v;
        return 0;
    }
    if (o->type == T_BOOL) {
        if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes"))
            *(int *)o->ptr = 1;
        else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no"))
            *(int *)o->ptr = 0;
        else {
            fprintf(stderr,
                    "genq-worker: %s: expected 1/0/true/false, got "
                    "'%s'\n",
                    src, v);
            return -1;
        }
        return 0;
    }
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || d < o->lo || d > o->hi ||
        (o->type == T_INT && d != (double)(long)d)) {
        fprintf(stderr, "genq-worker: %s: expected %s in %g..%g, got '%s'\n",
                src, o->type == T_INT ? "an integer" : "a number", o->lo, o->hi,
                v);
        return -1;
    }
    if (o->ptr == NULL) /* result-ttl is a long */
        cfg.result_ttl_s = (long)d;
    else if (o->type == T_INT)
        *(int *)o->ptr = (int)d;
    else
        *(double *)o->ptr = d;
    return 0;
}

static int
add_queue(const char *q)
{
    if (cfg.nqueues == WORKER_MAX_QUEUES) {
        fprintf(stderr, "genq-worker: at most %d queues\n", WORKER_MAX_QUEUES);
        return -1;
    }
    cfg.queues[cfg.nqueues++] = q;
    return 0;
}

/* Read the API key: environment, else file. Returns a malloc'd copy or
 * NULL (none). Exits on an unreadable key file. */
static char *
read_api_key(void)
{
    const char *env[] = {"GENQ_API_KEY", cfg.provider == LLM_OPENAI
                                             ? "OPENAI_API_KEY"
                                             : "ANTHROPIC_API_KEY"};
    char buf[4096];
    size_t n;
    FILE *f;

    for (int i = 0; i < 2; i++) {
        const char *v = getenv(env[i]);
        if (v && *v)
            return strdup(v);
    }
    if (!key_file)
        return NULL;
    f = fopen(key_file, "r");
    if (!f) {
        fprintf(stderr, "genq-worker: --api-key-file %s: %s\n", key_file,
                strerror(errno));
        exit(2);
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n > 0 &&
           (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    if (n == 0) {
        fprintf(stderr, "genq-worker: --api-key-file %s is empty\n", key_file);
        exit(2);
    }
    char *k = strdup(buf);
    memset(buf, 0, sizeof(buf));
    return k;
}

/* The error-class table of common/errclass.c as Markdown (README). */
static void
print_error_classes(void)
{
    const struct errclass_row *r;

    puts("| source | code | API error type | class | alert | meaning |");
    puts("| --- | --- | --- | --- | --- | --- |");
    for (int i = 0; (r = errclass_table(i)) != NULL; i++) {
        char code[48], type[96];
        if (r->code == r->code_hi)
            snprintf(code, sizeof(code), "%d", r->code);
        else if (r->code_hi - r->code > 100000)
            snprintf(code, sizeof(code), "any");
        else
            snprintf(code, sizeof(code), "%d–%d", r->code, r->code_hi);
        if (r->message_hint)
            snprintf(type, sizeof(type), "(message names a limit)");
        else if (!r->api_type)
            snprintf(type, sizeof(type), "any");
        else if (!r->api_type[0])
            snprintf(type, sizeof(type), "none");
        else
            snprintf(type, sizeof(type), "`%s`", r->api_type);
        printf("| %s | %s | %s | %s | %s | %s |\n",
               r->src == ERRSRC_HTTP ? "HTTP" : "curl", code, type,
               errclass_class_name(r->cls), errclass_level_name(r->level),
               r->why);
    }
}

static int
parse_args(int argc, char **argv)
{
    struct option lo[NOPTS + 5];
    char *qcopy;
    int i, c, idx;

    for (i = 0; i < NOPTS; i++) {
        lo[i].name = opts[i].name;
        lo[i].has_arg =
            opts[i].type == T_BOOL ? no_argument : required_argument;
        lo[i].flag = NULL;
        lo[i].val = 1000 + i;
    }
    lo[i++] = (struct option){"no-stream", no_argument, NULL, 'S'};
    lo[i++] = (struct option){"help", no_argument, NULL, 'h'};
    lo[i++] = (struct option){"version", no_argument, NULL, 'V'};
    lo[i++] = (struct option){"error-classes", no_argument, NULL, 'E'};
    lo[i] = (struct option){NULL, 0, NULL, 0};

    /* environment first */
    for (i = 0; i < NOPTS; i++) {
        const char *v = opts[i].env ? getenv(opts[i].env) : NULL;
        if (v && *v && set_opt(&opts[i], v, opts[i].env) < 0)
            return -1;
    }
    queue_env = getenv("GENQ_QUEUE");

    while ((c = getopt_long(argc, argv, "h", lo, &idx)) != -1) {
        if (c == 'h') {
            fputs(usage_text, stdout);
            exit(0);
        } else if (c == 'V') {
            puts("genq-worker 0.1.0");
            exit(0);
        } else if (c == 'E') {
            print_error_classes();
            exit(0);
        } else if (c == 'S') {
            cfg.stream = 0;
        } else if (c >= 1000 && c < 1000 + NOPTS) {
            const struct opt *o = &opts[c - 1000];
            char src[64];
            snprintf(src, sizeof(src), "--%s", o->name);
            if (!strcmp(o->name, "queue")) {
                if (add_queue(optarg) < 0)
                    return -1;
            } else if (!strcmp(o->name, "jwt-claim")) {
                if (cfg.jwt.nclaims == JWTMINT_MAX_CLAIMS) {
                    fprintf(stderr, "genq-worker: at most %d --jwt-claim\n",
                            JWTMINT_MAX_CLAIMS);
                    return -1;
                }
                cfg.jwt.claims[cfg.jwt.nclaims++] = optarg;
            } else if (o->type == T_BOOL) {
                cfg.stream = 1;
            } else if (set_opt(o, optarg, src) < 0) {
                return -1;
            }
        } else {
            fprintf(stderr, "genq-worker: see --help\n");
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "genq-worker: unexpected argument '%s'\n",
                argv[optind]);
        return -1;
    }
    if (cfg.nqueues == 0 && queue_env && *queue_env) {
        qcopy = strdup(queue_env);
        if (!qcopy)
            return -1;
        for (char *tok = strtok(qcopy, ","); tok; tok = strtok(NULL, ","))
            if (add_queue(tok) < 0)
                return -1;
        /* qcopy stays alive for the process: cfg.queues points into it */
    }
    if (cfg.nqueues == 0)
        add_queue("default");
    for (i = 0; i < cfg.nqueues; i++)
        if (!queue_name_valid(cfg.queues[i])) {
            fprintf(stderr,
                    "genq-worker: invalid queue name '%s' (1..64 of "
                    "A-Z a-z 0-9 . _ -)\n",
                    cfg.queues[i]);
            return -1;
        }
    if (llm_provider_parse(provider_s, &cfg.provider) < 0) {
        fprintf(stderr,
                "genq-worker: --provider: expected anthropic, openai "
                "or noop, got '%s'\n",
                provider_s);
        return -1;
    }
    if (!cfg.api_base)
        cfg.api_base = cfg.provider == LLM_OPENAI ? "https://api.openai.com"
                                                  : "https://api.anthropic.com";
    if (cfg.provider == LLM_OPENAI && !strcmp(cfg.model, "claude-sonnet-4-5"))
        cfg.model = "gpt-4o-mini";
    if (strcmp(log_format, "json") && strcmp(log_format, "text")) {
        fprintf(stderr,
                "genq-worker: --log-format: expected json or text, got "
                "'%s'\n",
                log_format);
        return -1;
    }
    if (cfg.claim_batch > cfg.concurrency)
        cfg.claim_batch = cfg.concurrency;
    cfg.jwt.ttl_s = jwt_ttl;
    if (!auth_s)
        cfg.auth = cfg.provider == LLM_OPENAI ? AUTH_BEARER : AUTH_API_KEY;
    else if (!strcmp(auth_s, "api-key"))
        cfg.auth = AUTH_API_KEY;
    else if (!strcmp(auth_s, "bearer"))
        cfg.auth = AUTH_BEARER;
    else if (!strcmp(auth_s, "jwt"))
        cfg.auth = AUTH_JWT;
    else {
        fprintf(stderr,
                "genq-worker: --auth: expected api-key, bearer or jwt, "
                "got '%s'\n",
                auth_s);
        return -1;
    }
    if (cfg.auth == AUTH_JWT && !cfg.jwt.key_file) {
        fprintf(stderr, "genq-worker: --auth jwt needs --jwt-key-file\n");
        return -1;
    }
    return 0;
}

static enum log_level
level_of(const char *s)
{
    if (!strcmp(s, "debug"))
        return LOG_DEBUG;
    if (!strcmp(s, "warn"))
        return LOG_WARN;
    if (!strcmp(s, "error"))
        return LOG_ERROR;
    return LOG_INFO;
}

static int
run_one(void)
{
    struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
    struct worker *w;
    int rc;

    if (!loop) {
        log_msg(LOG_ERROR, "cannot create the event loop");
        return 1;
    }
    w = worker_new(loop, &cfg);
    if (!w) {
        log_msg(LOG_ERROR, "cannot start the worker (out of memory or curl)");
        return 1;
    }
    log_kv(LOG_INFO, "worker started", "provider",
           llm_provider_name(cfg.provider), "queues", cfg.queues[0], NULL);
    ev_run(loop, 0);
    rc = worker_exit_code(w);
    worker_free(w);
    ev_loop_destroy(loop);
    return rc;
}

/* ---- pre-forked pool ----------------------------------------------------- */

static volatile sig_atomic_t stop_sig;

static void
on_parent_signal(int sig)
{
    stop_sig = sig;
}

static pid_t
spawn(void)
{
    pid_t pid = fork();

    if (pid == 0) {
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        exit(run_one());
    }
    return pid;
}

static int
run_pool(int n)
{
    pid_t *kids = calloc((size_t)n, sizeof(pid_t));
    struct sigaction sa;
    int alive = 0, rc = 0, forwarded = 0;

    if (!kids)
        return 1;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_parent_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    for (int i = 0; i < n; i++) {
        kids[i] = spawn();
        if (kids[i] > 0)
            alive++;
    }
    while (alive > 0) {
        int st;
        pid_t pid;

        if (stop_sig && !forwarded) {
            for (int i = 0; i < n; i++)
                if (kids[i] > 0)
                    kill(kids[i], SIGTERM);
            forwarded = 1;
        }
        pid = waitpid(-1, &st, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < n; i++) {
            if (kids[i] != pid)
                continue;
            kids[i] = 0;
            alive--;
            if (!stop_sig && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
                log_kv(LOG_WARN, "worker process died; restarting it", NULL);
                sleep(1);
                kids[i] = spawn();
                if (kids[i] > 0)
                    alive++;
            } else if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
                rc = 1;
            }
        }
    }
    free(kids);
    return rc;
}

int
main(int argc, char **argv)
{
    char err[512];
    int rc;

    wcfg_defaults(&cfg);
    if (parse_args(argc, argv) < 0)
        return 2;
    log_init("genq-worker", !strcmp(log_format, "json"), level_of(log_level));
    if (redisurl_parse(redis_url, &cfg.redis, err, sizeof(err)) < 0) {
        fprintf(stderr, "genq-worker: %s\n", err);
        return 2;
    }
    cfg.api_key = read_api_key();
    if (!cfg.api_key && cfg.provider != LLM_NOOP && cfg.auth != AUTH_JWT)
        log_kv(LOG_WARN,
               "no API key (GENQ_API_KEY, ANTHROPIC_API_KEY, "
               "OPENAI_API_KEY or --api-key-file): requests will "
               "be refused",
               NULL);
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
        scripts_init() < 0) {
        fprintf(stderr, "genq-worker: initialisation failed\n");
        return 1;
    }
    rc = processes > 1 ? run_pool(processes) : run_one();
    scripts_free();
    curl_global_cleanup();
    if (cfg.api_key) {
        memset(cfg.api_key, 0, strlen(cfg.api_key));
        free(cfg.api_key);
    }
    return rc;
}
