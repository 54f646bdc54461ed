/* chaos-check gen: N distinct jobs with markers, long articles, small
 * max_tokens, priorities, delays and low max_attempts (see check.c). */
#include "fmacros.h"

#include <inttypes.h>
#include <limits.h>
#include <string.h>

#include "mocktext.h"

#include "check.h"

/* ---- gen --------------------------------------------------------------- */

static long
rng_range(uint64_t *s, long lo, long hi)
{
    return lo + (long)(mocktext_splitmix64(s) % (uint64_t)(hi - lo + 1));
}

static const char *const topics[] = {
    "Redis Streams",     "visibility timeouts", "lease fencing",
    "append-only files", "exponential backoff", "circuit breakers",
    "SSE parsing",       "idempotency keys",    "dead-letter queues",
    "priority queues",   "libev timers",        "curl multi_socket"};

int
chaos_cmd_gen(int argc, char **argv)
{
    long n = 10000, max_delay = 20;
    uint64_t seed = 1, st;

    for (int i = 0; i < argc; i++) {
        if (i + 1 >= argc)
            chaos_die("%s needs a value", argv[i]);
        if (!strcmp(argv[i], "--jobs"))
            n = chaos_arg_long("--jobs", argv[++i], 1, 999999);
        else if (!strcmp(argv[i], "--seed"))
            seed = (uint64_t)chaos_arg_long("--seed", argv[++i], 0, LONG_MAX);
        else if (!strcmp(argv[i], "--max-delay"))
            max_delay = chaos_arg_long("--max-delay", argv[++i], 0, 3600);
        else
            chaos_die("gen: unknown flag '%s'", argv[i]);
    }
    st = seed * 7919 + 17;
    for (long i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject(), *meta;
        char id[32], prompt[256], *line;
        long r = rng_range(&st, 0, 999);
        int len;

        if (!o)
            chaos_die("out of memory");
        snprintf(id, sizeof(id), "chaos-%06ld", i);
        len = snprintf(prompt, sizeof(prompt),
                       "Chaos soak %" PRIu64 " job %ld: an article on %s.",
                       seed, i,
                       topics[mocktext_splitmix64(&st) %
                              (sizeof(topics) / sizeof(topics[0]))]);
        cJSON_AddStringToObject(o, "id", id);
        if (r < 10) {
            /* 1%: permanent error on every request */
            snprintf(prompt + len, sizeof(prompt) - (size_t)len,
                     " [mock:fail=400]");
        } else if (r < 160) {
            /* 15%: long article, continued up to the limit; some are cut */
            snprintf(prompt + len, sizeof(prompt) - (size_t)len,
                     " [mock:tokens=%ld]", rng_range(&st, 150, 700));
            cJSON_AddNumberToObject(o, "max_tokens",
                                    (double)rng_range(&st, 60, 200));
        } else if (r < 260) {
            /* 10%: the default article with a small budget */
            cJSON_AddNumberToObject(o, "max_tokens",
                                    (double)rng_range(&st, 25, 110));
            if (r < 200)
                cJSON_AddNumberToObject(o, "max_continuations",
                                        (double)rng_range(&st, 0, 2));
        }
        cJSON_AddStringToObject(o, "prompt", prompt);
        r = rng_range(&st, 0, 99);
        if (r < 10)
            cJSON_AddStringToObject(o, "priority", "high");
        else if (r < 20)
            cJSON_AddStringToObject(o, "priority", "low");
        if (max_delay > 0 && rng_range(&st, 0, 99) < 5)
            cJSON_AddNumberToObject(o, "delay_s",
                                    (double)rng_range(&st, 1, max_delay));
        r = rng_range(&st, 0, 99);
        if (r < 6)
            cJSON_AddNumberToObject(o, "max_attempts", r < 3 ? 1 : 2);
        meta = cJSON_AddObjectToObject(o, "metadata");
        if (meta)
            cJSON_AddNumberToObject(meta, "n", (double)i);
        line = cJSON_PrintUnformatted(o);
        if (!line)
            chaos_die("out of memory");
        puts(line);
        cJSON_free(line);
        cJSON_Delete(o);
    }
    return fflush(stdout) == 0 ? 0 : 2;
}
