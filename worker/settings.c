/* settings: genq-worker's option table and where each setting comes from
 * -- defaults, a --config INI file, the environment, flags (each later one
 * wins) -- plus the API key (environment or a file, never argv) and
 * --print-config. */
#include "fmacros.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "config.h"
#include "keys.h"
#include "log.h"
#include "version.h"
#include "mask.h"
#include "settings.h"
#include "settings_int.h"

static struct wcfg cfg;
const char *redis_url = "redis://127.0.0.1:6379/0";
const char *provider_s = "anthropic";
static const char *log_format = "text";
static const char *log_level = "info";
const char *key_file;
const char *file_api_key; /* api-key from the config file */
static int processes = 1;
const char *auth_s;
static const char *limit_out_s = "auto";
static int jwt_ttl = 3600;
static char queue_names[WORKER_MAX_QUEUES][65];
static char batch_queue_names[WORKER_MAX_QUEUES][65];

static struct config cfile; /* the --config file; owns its values */
const char *config_path;
struct src config_src;
static int print_config_flag;
int claim_clamped;

static const struct opt opts[] = {
    {"redis", "GENQ_REDIS_URL", T_STR, &redis_url, 0, 0, NULL},
    {"queue", "GENQ_QUEUE", T_QUEUES, NULL, 0, 0, NULL},
    {"concurrency", "GENQ_CONCURRENCY", T_INT, &cfg.concurrency, 1, 100000,
     NULL},
    {"processes", "GENQ_PROCESSES", T_INT, &processes, 1, 256, NULL},
    {"visibility-timeout", "GENQ_VISIBILITY_TIMEOUT", T_INT, &cfg.visibility_s,
     1, 86400, NULL},
    {"max-attempts", "GENQ_MAX_ATTEMPTS", T_INT, &cfg.max_attempts, 1, 100,
     NULL},
    {"result-ttl", "GENQ_RESULT_TTL", T_LONG, &cfg.result_ttl_s, 1, 315360000,
     NULL},
    {"feed-maxlen", "GENQ_FEED_MAXLEN", T_LONG, &cfg.feed_maxlen, 0,
     FEED_MAXLEN_MAX, NULL},
    {"drain-timeout", "GENQ_DRAIN_TIMEOUT", T_INT, &cfg.drain_timeout_s, 0,
     86400, NULL},
    {"provider", "GENQ_PROVIDER", T_CHOICE, &provider_s, 0, 0,
     "anthropic|openai|noop"},
    {"api-base", "GENQ_API_BASE", T_STR, &cfg.api_base, 0, 0, NULL},
    {"model", "GENQ_MODEL", T_STR, &cfg.model, 0, 0, NULL},
    {"max-tokens", "GENQ_MAX_TOKENS", T_INT, &cfg.max_tokens, 1, 200000, NULL},
    {"stream", "GENQ_STREAM", T_BOOL, &cfg.stream, 0, 1, NULL},
    {"insecure", "GENQ_INSECURE", T_BOOL, &cfg.insecure, 0, 1, NULL},
    {"timeout", "GENQ_TIMEOUT", T_INT, &cfg.timeout_s, 1, 86400, NULL},
    {"connect-timeout", "GENQ_CONNECT_TIMEOUT", T_INT, &cfg.connect_timeout_s,
     1, 600, NULL},
    {"stall-timeout", "GENQ_STALL_TIMEOUT", T_INT, &cfg.stall_timeout_s, 1,
     86400, NULL},
    {"max-retries", "GENQ_MAX_RETRIES", T_INT, &cfg.max_retries, 0, 100, NULL},
    {"retry-base", "GENQ_RETRY_BASE", T_DOUBLE, &cfg.retry_base_s, 0.001, 3600,
     NULL},
    {"retry-cap", "GENQ_RETRY_CAP", T_DOUBLE, &cfg.retry_cap_s, 0.001, 3600,
     NULL},
    {"max-continuations", "GENQ_MAX_CONTINUATIONS", T_INT,
     &cfg.max_continuations, 0, 20, NULL},
    {"job-backoff-base", "GENQ_JOB_BACKOFF_BASE", T_DOUBLE,
     &cfg.job_backoff_base_s, 0.001, 3600, NULL},
    {"claim-batch", "GENQ_CLAIM_BATCH", T_INT, &cfg.claim_batch, 1, 1000, NULL},
    {"intake-batch", "GENQ_INTAKE_BATCH", T_INT, &cfg.intake_batch, 0, 1000,
     NULL},
    {"intake-interval", "GENQ_INTAKE_INTERVAL", T_DOUBLE,
     &cfg.intake_interval_s, 0.01, 60, NULL},
    {"templates", "GENQ_TEMPLATES", T_STR, &cfg.templates_dir, 0, 0, NULL},
    {"ramp-up", "GENQ_RAMP_UP", T_DOUBLE, &cfg.ramp_s, 0, 60, NULL},
    {"prefetch", "GENQ_PREFETCH", T_INT, &cfg.prefetch, 0, 10000, NULL},
    {"circuit-max", "GENQ_CIRCUIT_MAX", T_DOUBLE, &cfg.circuit_max_s, 0.1, 3600,
     NULL},
    {"api-key-file", "GENQ_API_KEY_FILE", T_STR, &key_file, 0, 0, NULL},
    {"api-key", NULL, T_SECRET, &file_api_key, 0, 0, NULL},
    {"auth", "GENQ_AUTH", T_CHOICE, &auth_s, 0, 0, "api-key|bearer|jwt"},
    {"jwt-alg", "GENQ_JWT_ALG", T_CHOICE, &cfg.jwt.alg, 0, 0,
     "HS256|HS384|HS512|RS256|ES256"},
    {"jwt-key-file", "GENQ_JWT_KEY_FILE", T_STR, &cfg.jwt.key_file, 0, 0, NULL},
    {"jwt-issuer", "GENQ_JWT_ISSUER", T_STR, &cfg.jwt.issuer, 0, 0, NULL},
    {"jwt-subject", "GENQ_JWT_SUBJECT", T_STR, &cfg.jwt.subject, 0, 0, NULL},
    {"jwt-audience", "GENQ_JWT_AUDIENCE", T_STR, &cfg.jwt.audience, 0, 0, NULL},
    {"jwt-ttl", "GENQ_JWT_TTL", T_INT, &jwt_ttl, 61, 86400 * 30, NULL},
    {"jwt-claim", NULL, T_CLAIM, NULL, 0, 0, NULL},
    {"metrics-addr", "GENQ_METRICS_ADDR", T_STR, &cfg.metrics_addr, 0, 0, NULL},
    {"alert-webhook", "GENQ_ALERT_WEBHOOK", T_STR, &cfg.alert_webhook, 0, 0,
     NULL},
    {"dead-alert", "GENQ_DEAD_ALERT", T_LONG, &cfg.dead_alert, 0, 1e12, NULL},
    {"api-error-alert", "GENQ_API_ERROR_ALERT", T_INT, &cfg.api_error_alert, 0,
     1000000, NULL},
    {"redis-timeout", "GENQ_REDIS_TIMEOUT", T_DOUBLE, &cfg.redis_timeout_s, 0.1,
     3600, NULL},
    {"price-in-mtok", "GENQ_PRICE_IN_MTOK", T_DOUBLE, &cfg.price_in_mtok, 0,
     1e6, NULL},
    {"price-out-mtok", "GENQ_PRICE_OUT_MTOK", T_DOUBLE, &cfg.price_out_mtok, 0,
     1e6, NULL},
    {"price-cache-write-mtok", "GENQ_PRICE_CACHE_WRITE_MTOK", T_DOUBLE,
     &cfg.price_cw_mtok, -1, 1e6, NULL},
    {"price-cache-read-mtok", "GENQ_PRICE_CACHE_READ_MTOK", T_DOUBLE,
     &cfg.price_cr_mtok, -1, 1e6, NULL},
    {"price-batch-discount", "GENQ_PRICE_BATCH_DISCOUNT", T_DOUBLE,
     &cfg.price_batch_discount, 0, 1, NULL},
    {"budget-usd-day", "GENQ_BUDGET_USD_DAY", T_DOUBLE, &cfg.budget_usd_day, 0,
     1e9, NULL},
    {"budget-usd-month", "GENQ_BUDGET_USD_MONTH", T_DOUBLE,
     &cfg.budget_usd_month, 0, 1e9, NULL},
    {"budget-tokens-day", "GENQ_BUDGET_TOKENS_DAY", T_DOUBLE,
     &cfg.budget_tok_day, 0, 1e15, NULL},
    {"budget-tokens-month", "GENQ_BUDGET_TOKENS_MONTH", T_DOUBLE,
     &cfg.budget_tok_month, 0, 1e15, NULL},
    {"anomaly-rate-multiple", "GENQ_ANOMALY_RATE_MULTIPLE", T_DOUBLE,
     &cfg.anomaly_rate_x, 0, 1e6, NULL},
    {"anomaly-job-multiple", "GENQ_ANOMALY_JOB_MULTIPLE", T_DOUBLE,
     &cfg.anomaly_job_x, 0, 1e6, NULL},
    {"cache-ttl", "GENQ_CACHE_TTL", T_INT, &cfg.cache_ttl_s, 0, 2592000, NULL},
    /* batch mode (worker/batch.h): T_QUEUES with a ptr fills batch_queues */
    {"batch-queue", "GENQ_BATCH_QUEUE", T_QUEUES, &cfg.batch_queues, 0, 0,
     NULL},
    {"batch-size", "GENQ_BATCH_SIZE", T_INT, &cfg.batch_size, 1, 100000, NULL},
    {"batch-wait", "GENQ_BATCH_WAIT", T_DOUBLE, &cfg.batch_wait_s, 0.01, 86400,
     NULL},
    {"batch-poll", "GENQ_BATCH_POLL", T_DOUBLE, &cfg.batch_poll_s, 0, 3600,
     NULL},
    {"batch-poll-max", "GENQ_BATCH_POLL_MAX", T_DOUBLE, &cfg.batch_poll_max_s,
     0.01, 86400, NULL},
    {"limit-rpm", "GENQ_LIMIT_RPM", T_LONG, &cfg.limit_rpm, 0, 1e12, NULL},
    {"limit-itpm", "GENQ_LIMIT_ITPM", T_LONG, &cfg.limit_itpm, 0, 1e12, NULL},
    {"limit-otpm", "GENQ_LIMIT_OTPM", T_LONG, &cfg.limit_otpm, 0, 1e12, NULL},
    {"limit-tpm", "GENQ_LIMIT_TPM", T_LONG, &cfg.limit_tpm, 0, 1e12, NULL},
    {"limit-bytes-per-token", "GENQ_LIMIT_BYTES_PER_TOKEN", T_DOUBLE,
     &cfg.limit_bytes_per_token, 0.1, 100, NULL},
    {"limit-output-estimate", "GENQ_LIMIT_OUTPUT_ESTIMATE", T_CHOICE,
     &limit_out_s, 0, 0, "auto|zero|max-tokens"},
    {"model-class", "GENQ_MODEL_CLASS", T_STR, &cfg.model_class, 0, 0, NULL},
    {"breaker-threshold", "GENQ_BREAKER_THRESHOLD", T_INT,
     &cfg.breaker_threshold, 1, 1000000, NULL},
    /* prompt caching and content review (qopts.h: per queue too) */
    {"prompt-cache", "GENQ_PROMPT_CACHE", T_CHOICE, &cfg.prompt_cache, 0, 0,
     "system|off"},
    {"review-blocklist", "GENQ_REVIEW_BLOCKLIST", T_STR, &cfg.review_blocklist,
     0, 0, NULL},
    {"review-min-words", "GENQ_REVIEW_MIN_WORDS", T_INT, &cfg.review_min_words,
     0, 10000000, NULL},
    {"review-max-words", "GENQ_REVIEW_MAX_WORDS", T_INT, &cfg.review_max_words,
     0, 10000000, NULL},
    {"review-min-headings", "GENQ_REVIEW_MIN_HEADINGS", T_INT,
     &cfg.review_min_headings, 0, 10000, NULL},
    {"review-echo", "GENQ_REVIEW_ECHO", T_BOOL, &cfg.review_echo, 0, 1, NULL},
    {"review-model", "GENQ_REVIEW_MODEL", T_STR, &cfg.review_model, 0, 0, NULL},
    {"review-prompt-file", "GENQ_REVIEW_PROMPT_FILE", T_STR,
     &cfg.review_prompt_file, 0, 0, NULL},
    {"log-format", "GENQ_LOG_FORMAT", T_CHOICE, &log_format, 0, 0, "json|text"},
    {"log-level", "GENQ_LOG_LEVEL", T_CHOICE, &log_level, 0, 0,
     "debug|info|warn|error"},
};
#define NOPTS ((int)(sizeof(opts) / sizeof(opts[0])))

struct src srcs[NOPTS];

const struct opt *const settings_opts = opts;
const int settings_nopts = NOPTS;

int
opt_find(const char *name)
{
    for (int i = 0; i < NOPTS; i++)
        if (!strcmp(opts[i].name, name))
            return i;
    return -1;
}

/* Whether v is one of the '|'-separated words of choices. */
static int
choice_ok(const char *choices, const char *v)
{
    size_t n = strlen(v);

    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !memcmp(p, v, n))
            return 1;
        p += len + (bar ? 1 : 0);
    }
    return 0;
}

/* Append the comma-separated queue names of list (from kind) to the queues
 * of option i, after dropping those of a weaker source. Names are copied
 * into queue_names. Returns 0, or -1 with a message in err. */
static int
queues_add(int i, const char *list, enum src_kind kind, const char *what,
           char *err, size_t errlen)
{
    const char *p = list;
    /* --queue, or (an option with ptr) --batch-queue */
    int *nq = opts[i].ptr ? &cfg.nbatch_queues : &cfg.nqueues;
    const char **qv = opts[i].ptr ? cfg.batch_queues : cfg.queues;
    char(*names)[65] = opts[i].ptr ? batch_queue_names : queue_names;

    if (srcs[i].kind < kind) /* a stronger source replaces the list */
        *nq = 0;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char *q;

        while (n > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            n--;
        }
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (*nq == WORKER_MAX_QUEUES) {
            snprintf(err, errlen, "%s: at most %d queues", what,
                     WORKER_MAX_QUEUES);
            return -1;
        }
        q = names[*nq];
        if (n > 0 && n < sizeof(queue_names[0])) {
            memcpy(q, p, n);
            q[n] = '\0';
        }
        if (n == 0 || n >= sizeof(queue_names[0]) || !queue_name_valid(q)) {
            snprintf(err, errlen,
                     "%s: invalid queue name '%.*s' in '%s' (1..64 of "
                     "A-Z a-z 0-9 . _ -)",
                     what, (int)(n > 80 ? 80 : n), p, list);
            return -1;
        }
        qv[(*nq)++] = q;
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

/* Set option i to v, which came from kind (line: of the config file) and
 * is named `what` in messages. Returns 0, or -1 with a message naming the
 * option and the value (never a secret's) in err. v must outlive cfg. */
static int
opt_set(int i, const char *v, enum src_kind kind, int line, const char *what,
        char *err, size_t errlen)
{
    const struct opt *o = &opts[i];
    char *end;
    double d;

    if (kind == SRC_FILE && srcs[i].kind == SRC_FILE && o->type != T_QUEUES &&
        o->type != T_CLAIM) {
        snprintf(err, errlen, "%s: set twice (first on line %d)", what,
                 srcs[i].line);
        return -1;
    }
    if (!*v && o->type != T_BOOL) {
        snprintf(err, errlen, "%s: empty value", what);
        return -1;
    }
    switch (o->type) {
    case T_QUEUES:
        if (queues_add(i, v, kind, what, err, errlen) < 0)
            return -1;
        break;
    case T_CLAIM:
        if (srcs[i].kind < kind)
            cfg.jwt.nclaims = 0;
        if (cfg.jwt.nclaims == JWTMINT_MAX_CLAIMS) {
            snprintf(err, errlen, "%s: at most %d claims", what,
                     JWTMINT_MAX_CLAIMS);
            return -1;
        }
        if (!strchr(v, '=') || *v == '=') {
            snprintf(err, errlen, "%s: expected NAME=VALUE, got '%s'", what, v);
            return -1;
        }
        cfg.jwt.claims[cfg.jwt.nclaims++] = v;
        break;
    case T_STR:
        if (o->ptr == &redis_url) {
            struct redis_url u;
            char why[256];
            int rc = redisurl_parse(v, &u, why, sizeof(why));
            explicit_bzero(&u, sizeof(u));
            if (rc < 0) { /* why never holds the password */
                snprintf(err, errlen, "%s: %s", what, why);
                return -1;
            }
        }
        *(const char **)o->ptr = v;
        break;
    case T_SECRET:
        *(const char **)o->ptr = v;
        break;
    case T_CHOICE:
        if (!choice_ok(o->choices, v)) {
            snprintf(err, errlen, "%s: expected %s, got '%s'", what, o->choices,
                     v);
            return -1;
        }
        *(const char **)o->ptr = v;
        break;
    case T_BOOL:
        if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes"))
            *(int *)o->ptr = 1;
        else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no"))
            *(int *)o->ptr = 0;
        else {
            snprintf(err, errlen,
                     "%s: expected 1/0/true/false/yes/no, got '%s'", what, v);
            return -1;
        }
        break;
    case T_INT:
    case T_LONG:
    case T_DOUBLE:
        errno = 0;
        d = strtod(v, &end);
        if (errno || end == v || *end || !(d >= o->lo && d <= o->hi) ||
            (o->type != T_DOUBLE && d != (double)(long)d)) {
            snprintf(err, errlen, "%s: expected %s in %.15g..%.15g, got '%s'",
                     what, o->type == T_DOUBLE ? "a number" : "an integer",
                     o->lo, o->hi, v);
            return -1;
        }
        if (o->type == T_INT)
            *(int *)o->ptr = (int)d;
        else if (o->type == T_LONG)
            *(long *)o->ptr = (long)d;
        else
            *(double *)o->ptr = d;
        break;
    }
    srcs[i].kind = kind;
    srcs[i].line = line;
    return 0;
}

/* The config-file setter: one [worker] key. */
static enum config_verdict
file_set(void *ud, const char *key, const char *value, int line, char *err,
         size_t errlen)
{
    const char *pre, *post;
    char dashed[64];
    int i = opt_find(key);

    (void)ud;
    if (i < 0) {
        size_t n = strlen(key);
        if (!strcmp(key, "no-stream")) {
            snprintf(err, errlen, "use stream = false");
        } else if (n < sizeof(dashed) && strchr(key, '_')) {
            for (size_t k = 0; k <= n; k++)
                dashed[k] = (char)(key[k] == '_' ? '-' : key[k]);
            if (opt_find(dashed) >= 0)
                snprintf(err, errlen, "did you mean '%s'?", dashed);
        }
        return CONFIG_UNKNOWN;
    }
    if (opt_set(i, value, SRC_FILE, line, key, err, errlen) < 0)
        return CONFIG_BAD;
    if (opts[i].type == T_SECRET || opts[i].ptr == &cfg.alert_webhook ||
        (opts[i].ptr == &redis_url && url_secret(value, &pre, &post)))
        return CONFIG_SECRET;
    return CONFIG_OK;
}

/* A flag from the command line, applied after the file and environment. */
struct flagval {
    int opt;
    const char *arg;
};

static int
parse_args(int argc, char **argv)
{
    struct option lo[NOPTS + 8];
    struct flagval *fv;
    char err[1024];
    const char *env_config = getenv("GENQ_CONFIG");
    int i, n = 0, nf = 0, c, idx, rc = -1;

    for (i = 0; i < NOPTS; i++) {
        if (opts[i].type == T_SECRET)
            continue;
        lo[n].name = opts[i].name;
        lo[n].has_arg =
            opts[i].type == T_BOOL ? no_argument : required_argument;
        lo[n].flag = NULL;
        lo[n++].val = 1000 + i;
    }
    lo[n++] = (struct option){"no-stream", no_argument, NULL, 'S'};
    lo[n++] = (struct option){"help", no_argument, NULL, 'h'};
    lo[n++] = (struct option){"version", no_argument, NULL, 'V'};
    lo[n++] = (struct option){"error-classes", no_argument, NULL, 'E'};
    lo[n++] = (struct option){"config", required_argument, NULL, 'C'};
    lo[n++] = (struct option){"print-config", no_argument, NULL, 'P'};
    lo[n] = (struct option){NULL, 0, NULL, 0};

    fv = calloc((size_t)argc + 1, sizeof(*fv));
    if (!fv) {
        fprintf(stderr, "genq-worker: out of memory\n");
        return -1;
    }
    /* 1. read the command line: act on --help & co, keep the rest */
    while ((c = getopt_long(argc, argv, "h", lo, &idx)) != -1) {
        if (c == 'h' || c == 'V' || c == 'E') {
            free(fv);
            if (c == 'h')
                fputs(settings_usage_text, stdout);
            else if (c == 'V')
                printf("genq-worker %s\n", genq_version);
            else
                settings_print_error_classes();
            exit(fflush(stdout) == 0 ? 0 : 1);
        } else if (c == 'C') {
            config_path = optarg;
            config_src.kind = SRC_FLAG;
        } else if (c == 'P') {
            print_config_flag = 1;
        } else if (c == 'S') {
            fv[nf++] = (struct flagval){opt_find("stream"), "0"};
        } else if (c >= 1000 && c < 1000 + NOPTS) {
            int k = c - 1000;
            fv[nf++] =
                (struct flagval){k, opts[k].type == T_BOOL ? "1" : optarg};
        } else {
            fprintf(stderr, "genq-worker: see --help\n");
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "genq-worker: unexpected argument '%s'\n",
                argv[optind]);
        goto out;
    }
    /* 2. the config file */
    if (!config_path && env_config && *env_config) {
        config_path = env_config;
        config_src.kind = SRC_ENV;
    }
    if (config_path) {
        int kf = opt_find("api-key-file"), ak = opt_find("api-key");
        if (config_load_sections(&cfile, config_path, file_set,
                                 budget_cfg_section, NULL, err,
                                 sizeof(err)) < 0) {
            fprintf(stderr, "genq-worker: %s\n", err);
            goto out;
        }
        if (srcs[kf].kind == SRC_FILE && srcs[ak].kind == SRC_FILE) {
            fprintf(stderr,
                    "genq-worker: %s: api-key (line %d) and api-key-file "
                    "(line %d) are both set; keep one\n",
                    config_path, srcs[ak].line, srcs[kf].line);
            goto out;
        }
    }
    /* 3. the environment */
    for (i = 0; i < NOPTS; i++) {
        const char *v = opts[i].env ? getenv(opts[i].env) : NULL;
        if (v && *v &&
            opt_set(i, v, SRC_ENV, 0, opts[i].env, err, sizeof(err)) < 0) {
            fprintf(stderr, "genq-worker: %s\n", err);
            goto out;
        }
    }
    /* 4. flags */
    for (i = 0; i < nf; i++) {
        const struct opt *o = &opts[fv[i].opt];
        char what[64];
        snprintf(what, sizeof(what), "--%s%s",
                 o->type == T_BOOL && !strcmp(fv[i].arg, "0") ? "no-" : "",
                 o->name);
        if (opt_set(fv[i].opt, fv[i].arg, SRC_FLAG, 0, what, err, sizeof(err)) <
            0) {
            fprintf(stderr, "genq-worker: %s\n", err);
            goto out;
        }
    }
    /* 5. what follows from the rest */
    if (cfg.nqueues == 0) {
        cfg.queues[0] = "default";
        cfg.nqueues = 1;
    }
    for (i = 0; i < cfg.nbatch_queues; i++) {
        int k = 0;
        while (k < cfg.nqueues && strcmp(cfg.queues[k], cfg.batch_queues[i]))
            k++;
        if (k == cfg.nqueues) {
            fprintf(stderr,
                    "genq-worker: batch-queue: '%s' is not one of the "
                    "worker's queues (--queue)\n",
                    cfg.batch_queues[i]);
            goto out;
        }
    }
    if (llm_provider_parse(provider_s, &cfg.provider) < 0) {
        fprintf(stderr, "genq-worker: provider: unknown '%s'\n", provider_s);
        goto out;
    }
    if (!cfg.api_base)
        cfg.api_base = cfg.provider == LLM_OPENAI ? "https://api.openai.com"
                                                  : "https://api.anthropic.com";
    if (cfg.insecure && !url_is_loopback(cfg.api_base)) {
        fprintf(stderr, "genq-worker: --insecure is only accepted for a "
                        "loopback --api-base (127.0.0.0/8, ::1, localhost): "
                        "TLS verification protects the API key\n");
        goto out;
    }
    if (cfg.provider == LLM_OPENAI &&
        srcs[opt_find("model")].kind == SRC_DEFAULT)
        cfg.model = "gpt-4o-mini";
    /* The default claim batch follows the concurrency: 100 up to 1,000
     * slots, a tenth of them above (at most 1,000). A wave of 10,000
     * streams ending together is refilled in tens of claims, not a hundred
     * loop iterations of one claim of 100 each (bench s: gaps between a
     * slot's jobs 2.4 -> 1.3 % of the run) */
    if (cfg.claim_batch < 0) {
        int tenth = cfg.concurrency / 10;
        cfg.claim_batch = tenth < 100 ? 100 : tenth > 1000 ? 1000 : tenth;
    }
    if (cfg.claim_batch > cfg.concurrency) {
        cfg.claim_batch = cfg.concurrency;
        claim_clamped = 1;
    }
    cfg.jwt.ttl_s = jwt_ttl;
    cfg.limit_out_est = !strcmp(limit_out_s, "zero") ? LIM_OUT_ZERO
                        : !strcmp(limit_out_s, "max-tokens")
                            ? LIM_OUT_MAX_TOKENS
                            : LIM_OUT_AUTO;
    if (!cfg.model_class)
        cfg.model_class = config_model_class(&cfile, cfg.model);
    if (!auth_s)
        cfg.auth = cfg.provider == LLM_OPENAI ? AUTH_BEARER : AUTH_API_KEY;
    else if (!strcmp(auth_s, "api-key"))
        cfg.auth = AUTH_API_KEY;
    else if (!strcmp(auth_s, "bearer"))
        cfg.auth = AUTH_BEARER;
    else
        cfg.auth = AUTH_JWT;
    if (cfg.auth == AUTH_JWT && !cfg.jwt.key_file) {
        fprintf(stderr, "genq-worker: --auth jwt needs --jwt-key-file\n");
        goto out;
    }
    rc = 0;
out:
    free(fv);
    return rc;
}

int
settings_load(int argc, char **argv, int *exit_code)
{
    char err[512], key_where[1200];

    wcfg_defaults(&cfg);
    cfg.jwt.alg = "HS256"; /* jwtmint's default, shown by --print-config */
    if (parse_args(argc, argv) < 0) {
        config_free(&cfile);
        *exit_code = 2;
        return 1;
    }
    log_init("genq-worker", !strcmp(log_format, "json"),
             log_level_parse(log_level));
    if (redisurl_parse(redis_url, &cfg.redis, err, sizeof(err)) < 0) {
        fprintf(stderr, "genq-worker: %s\n", err);
        config_free(&cfile);
        *exit_code = 2;
        return 1;
    }
    cfg.api_key = read_api_key(key_where, sizeof(key_where));
    if (print_config_flag) {
        print_config(key_where);
        settings_free();
        *exit_code = fflush(stdout) == 0 ? 0 : 1;
        return 1;
    }
    if (!cfg.api_key && cfg.provider != LLM_NOOP && cfg.auth != AUTH_JWT)
        log_kv(LOG_WARN,
               "no API key (GENQ_API_KEY, ANTHROPIC_API_KEY, "
               "OPENAI_API_KEY, --api-key-file or the config file): "
               "requests will be refused",
               NULL);
    return 0;
}

struct wcfg *
settings_cfg(void)
{
    return &cfg;
}

int
settings_processes(void)
{
    return processes;
}

void
settings_free(void)
{
    if (cfg.api_key) {
        explicit_bzero(cfg.api_key, strlen(cfg.api_key));
        free(cfg.api_key);
        cfg.api_key = NULL;
    }
    config_free(&cfile);
}

/* Whether option o may change on SIGHUP: budgets, prices, anomalies. */
#define reloadable(o)                                                          \
    ((o)->type == T_DOUBLE &&                                                  \
     (!strncmp((o)->name, "budget-", 7) || !strncmp((o)->name, "price-", 6) || \
      !strncmp((o)->name, "anomaly-", 8)))

/* SIGHUP's [worker] setter: reloadable keys not set by env or flag. */
static enum config_verdict
reload_set(void *ud, const char *key, const char *value, int line, char *err,
           size_t errlen)
{
    int i = opt_find(key);

    (void)ud;
    return i < 0 || !reloadable(&opts[i]) || srcs[i].kind > SRC_FILE ||
                   opt_set(i, value, SRC_FILE, line, key, err, errlen) == 0
               ? CONFIG_OK
               : CONFIG_BAD;
}

int
settings_reload(char *err, size_t errlen)
{
    struct config tmp = {0};
    struct wcfg def, keep = cfg;
    struct src ksrcs[NOPTS];
    int rc = -1;

    if (!config_path)
        return snprintf(err, errlen, "no --config file to reload"), -1;
    memcpy(ksrcs, srcs, sizeof(srcs));
    wcfg_defaults(&def); /* keys gone from the file: back to defaults */
    for (int i = 0; i < NOPTS; i++)
        if (reloadable(&opts[i]) && srcs[i].kind == SRC_FILE) {
            memcpy(opts[i].ptr,
                   (char *)&def + ((char *)opts[i].ptr - (char *)&cfg),
                   sizeof(double));
            srcs[i].kind = SRC_DEFAULT;
        }
    budget_cfg_save();
    budget_cfg_reset();
    rc = config_load_sections(&tmp, config_path, reload_set, budget_cfg_section,
                              NULL, err, errlen);
    if (rc < 0) {
        cfg = keep;
        memcpy(srcs, ksrcs, sizeof(srcs));
        budget_cfg_restore();
    }
    config_free(&tmp); /* only numbers were taken from it */
    return rc;
}
