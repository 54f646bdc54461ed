/* usage: what genq-worker prints and exits on -- the --help text (every
 * option with its environment variable and default) and --error-classes
 * (the error-class table of common/errclass.c as the README's Markdown). */
#include "fmacros.h"

#include <stdio.h>

#include "errclass.h"
#include "settings.h"

const char settings_usage_text[] =
    "usage: genq-worker [options]\n\n"
    "Claim LLM generation jobs from Redis queues and run them against an\n"
    "LLM API (Anthropic Messages or OpenAI-compatible Chat Completions).\n"
    "Every option has an environment variable (shown) and a key of the\n"
    "same name in the --config file. Precedence: flags > environment >\n"
    "config file > defaults.\n\n"
    "  --config FILE            GENQ_CONFIG      INI file; [worker] section,\n"
    "                           keys named like the long flags\n"
    "                           (concurrency = 64, queue = a,b)\n"
    "  --print-config           print the effective settings, where each\n"
    "                           came from, secrets masked, and exit\n"
    "  --redis URL              GENQ_REDIS_URL   redis://127.0.0.1:6379/0\n"
    "                           (redis://user:pass@host:port/db, "
    "unix:///path;\n"
    "                           sentinel://[user:pass@]h:26379,h2/master"
    "[?db=N]:\n"
    "                           Redis Sentinel, GENQ_SENTINEL_PASSWORD;\n"
    "                           redis-cluster://host:port,host:port;\n"
    "                           put passwords in the environment, not argv)\n"
    "  --queue Q                GENQ_QUEUE       default (repeatable; env: "
    "a,b)\n"
    "  --concurrency N          GENQ_CONCURRENCY 64 in-flight jobs/process\n"
    "                           (raises the soft open-file limit to N+128)\n"
    "  --processes N            GENQ_PROCESSES   1 (pre-forked, supervised)\n"
    "  --visibility-timeout S   GENQ_VISIBILITY_TIMEOUT 60 (lease length)\n"
    "  --max-attempts N         GENQ_MAX_ATTEMPTS 5 (jobs may override)\n"
    "  --result-ttl S           GENQ_RESULT_TTL  604800 (7 days)\n"
    "  --feed-maxlen N          GENQ_FEED_MAXLEN 100000 (entries kept in the\n"
    "                           completion feed genq:{Q}:feed; 0 = off)\n"
    "  --drain-timeout S        GENQ_DRAIN_TIMEOUT 30\n"
    "  --provider P             GENQ_PROVIDER    anthropic|openai|noop\n"
    "                           (noop completes at once with empty text: a\n"
    "                           benchmarking aid only)\n"
    "  --api-base URL           GENQ_API_BASE    https://api.anthropic.com or\n"
    "                           https://api.openai.com\n"
    "  --model M                GENQ_MODEL       default model\n"
    "  --max-tokens N           GENQ_MAX_TOKENS  2000 (jobs may override)\n"
    "  --stream / --no-stream   GENQ_STREAM      1\n"
    "  --insecure               GENQ_INSECURE    skip TLS certificate checks;\n"
    "                           refused unless --api-base is loopback\n"
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
    "  --claim-batch N          GENQ_CLAIM_BATCH concurrency/10 in 100..1000\n"
    "                           jobs per claim call\n"
    "  --intake-batch N         GENQ_INTAKE_BATCH 1000 inbox entries per\n"
    "                           intake round (genq:{Q}:inbox; 0 = none)\n"
    "  --intake-interval S      GENQ_INTAKE_INTERVAL 0.2 inbox poll, backing\n"
    "                           off to 1 s while it is empty\n"
    "  --templates DIR          GENQ_TEMPLATES none: the intake renders\n"
    "                           template jobs from DIR (else rejects them)\n"
    "  --ramp-up S              GENQ_RAMP_UP 0.2 fill the concurrency evenly\n"
    "                           over S seconds at start and after idling\n"
    "                           (0 = all at once)\n"
    "  --prefetch N             GENQ_PREFETCH concurrency/2 most jobs claimed\n"
    "                           ahead of a free slot (as many as free in\n"
    "                           50 ms at the current pace; 0 = none)\n"
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
    "  --metrics-addr HOST:PORT GENQ_METRICS_ADDR serve /metrics and /healthz\n"
    "                           (default: off)\n"
    "  --alert-webhook URL      GENQ_ALERT_WEBHOOK POST each alert here (a\n"
    "                           secret: masked by --print-config)\n"
    "  --dead-alert N           GENQ_DEAD_ALERT  1000 (P0 when a queue's dead\n"
    "                           letters pass N; 0 = off)\n"
    "  --api-error-alert N      GENQ_API_ERROR_ALERT 20 (P1 at N 429/5xx/\n"
    "                           network errors within a minute; 0 = off)\n"
    "  --redis-timeout S        GENQ_REDIS_TIMEOUT 10 (a Redis command slower\n"
    "                           than S: reconnect)\n"
    "  --price-in-mtok USD      GENQ_PRICE_IN_MTOK 0 per million input tokens\n"
    "  --price-out-mtok USD     GENQ_PRICE_OUT_MTOK 0 per million output "
    "tokens\n"
    "  --price-cache-write-mtok USD, --price-cache-read-mtok USD\n"
    "                           (GENQ_PRICE_CACHE_WRITE_MTOK, _READ_MTOK)\n"
    "                           default 1.25x / 0.1x the input price\n"
    "  --price-batch-discount F GENQ_PRICE_BATCH_DISCOUNT 0.5 (0..1)\n"
    "                           [price.MODEL] sections: a row per model\n"
    "  --budget-usd-day USD, --budget-usd-month USD\n"
    "  --budget-tokens-day N, --budget-tokens-month N\n"
    "                           (GENQ_BUDGET_USD_DAY, ...) 0 = none:\n"
    "                           fleet-wide caps per UTC day / month; at a\n"
    "                           cap no call starts, claiming stops; per\n"
    "                           queue in [queue.NAME] sections\n"
    "  --anomaly-rate-multiple X GENQ_ANOMALY_RATE_MULTIPLE 3 (P1: 10-min\n"
    "                           spend over X x its trailing average)\n"
    "  --anomaly-job-multiple X GENQ_ANOMALY_JOB_MULTIPLE 10 (P1: a job over\n"
    "                           X x its queue's median output)\n"
    "  --cache-ttl S            GENQ_CACHE_TTL   0 (off): identical requests\n"
    "                           within S seconds share one API call\n"
    "  --prompt-cache system|off GENQ_PROMPT_CACHE off: system marks a system\n"
    "                           prompt long enough for the model cacheable\n"
    "                           (Anthropic); a group's first job warms the\n"
    "                           cache, the rest start once its response has\n"
    "                           begun\n"
    "  --review-blocklist FILE  GENQ_REVIEW_BLOCKLIST words (whole word, any\n"
    "                           case) and re:PCRE2 lines; a match sends the\n"
    "                           result to state review (genq review)\n"
    "  --review-min-words N, --review-max-words N, --review-min-headings N\n"
    "                           (GENQ_REVIEW_MIN_WORDS, ...) 0 = off\n"
    "  --review-echo            GENQ_REVIEW_ECHO flag output that repeats the\n"
    "                           prompt\n"
    "  --review-model M         GENQ_REVIEW_MODEL a second call per text: the\n"
    "                           model answers PASS or FAIL: REASON\n"
    "  --review-prompt-file F   GENQ_REVIEW_PROMPT_FILE its instructions\n"
    "                           (default built in); all per queue in\n"
    "                           [queue.NAME]\n"
    "  --batch-queue Q          GENQ_BATCH_QUEUE  every job of queue Q (one\n"
    "                           of --queue; repeatable, or Q1,Q2) goes to the\n"
    "                           provider's batch API at half price; a job\n"
    "                           opts in on any queue with \"batch\": true\n"
    "  --batch-size N           GENQ_BATCH_SIZE  10000 jobs per batch at most\n"
    "                           (capped by the provider's limits)\n"
    "  --batch-wait S           GENQ_BATCH_WAIT  60: submit a batch S seconds\n"
    "                           after its first job at the latest\n"
    "  --batch-poll S           GENQ_BATCH_POLL  5: poll open batches every S\n"
    "                           s (x1.5 per poll of a running one); 0 = this\n"
    "                           worker polls none\n"
    "  --batch-poll-max S       GENQ_BATCH_POLL_MAX 60: the poll backoff cap\n"
    "  --limit-rpm N            GENQ_LIMIT_RPM   0 (none) requests/min of the\n"
    "                           fleet for this limit key (also --limit-itpm,\n"
    "                           --limit-otpm, --limit-tpm: input, output,\n"
    "                           total tokens/min); none: learned from the\n"
    "                           API's rate-limit headers\n"
    "  --model-class C          GENQ_MODEL_CLASS the limit key's class\n"
    "                           (default: [model_class] of the config file,\n"
    "                           else the model id)\n"
    "  --limit-bytes-per-token B GENQ_LIMIT_BYTES_PER_TOKEN 4 (input-token\n"
    "                           estimate: prompt/system/messages bytes / B)\n"
    "  --limit-output-estimate auto|zero|max-tokens  "
    "GENQ_LIMIT_OUTPUT_ESTIMATE\n"
    "                           auto (0 for anthropic, max_tokens for openai)\n"
    "  --breaker-threshold N    GENQ_BREAKER_THRESHOLD 5 (API failures in a\n"
    "                           row, fleet-wide, that open the breaker)\n"
    "  --log-format json|text   GENQ_LOG_FORMAT  text\n"
    "  --log-level L            GENQ_LOG_LEVEL   info (debug|info|warn|error)\n"
    "  --error-classes          print the error-class table and exit\n"
    "  -h, --help\n\n"
    "API key: GENQ_API_KEY, else ANTHROPIC_API_KEY (anthropic) or\n"
    "OPENAI_API_KEY (openai), else --api-key-file, else api-key or\n"
    "api-key-file in the config file (which must then be mode 600 or\n"
    "stricter). Never a flag.\n"
    "SIGTERM/SIGINT: stop claiming, finish in-flight jobs within the drain\n"
    "timeout, hand the rest back (attempt not counted), exit 0.\n"
    "SIGHUP: re-read the config file's budgets, prices and anomaly settings.\n";

/* The error-class table of common/errclass.c as Markdown (README). */
void
settings_print_error_classes(void)
{
    const struct errclass_row *r;

    puts("| source | code | API error type | class | alert | meaning |");
    puts("| --- | --- | --- | --- | --- | --- |");
    for (int i = 0; (r = errclass_table(i)) != NULL; i++) {
        char code[48], type[96];
        if (r->code == r->code_hi)
            snprintf(code, sizeof(code), "%d", r->code);
        else if ((long long)r->code_hi - r->code > 100000)
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
