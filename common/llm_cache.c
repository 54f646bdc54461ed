/* llm_cache: prompt caching on the request side -- the per-model minimum
 * cacheable length, the automatic cache breakpoint on a long system prompt
 * (--prompt-cache system), and the warm-up group key of a job (the hash of
 * model and system prompt). See llm.h. */
#include "fmacros.h"

#include <string.h>

#include "fnv.h"
#include "llm.h"
#include "llm_int.h"

/* Minimum cacheable prompt lengths, tokens (Anthropic prompt caching;
 * rate-limits-and-batches.md section 4: 512 to 4,096 by model). First
 * matching prefix wins; anything else: LLM_CACHE_MIN_DEFAULT. */
static const struct {
    const char *prefix;
    int min;
} mins[] = {
    {"claude-opus-4-5", 4096},   {"claude-haiku-4-5", 4096},
    {"claude-3-5-haiku", 2048},  {"claude-3-haiku", 2048},
    {"claude-opus-4", 1024},     {"claude-sonnet-4", 1024},
    {"claude-3-7-sonnet", 1024}, {"claude-3-opus", 1024},
};

int
llm_cache_min_tokens(const char *model)
{
    for (size_t i = 0; model && i < sizeof(mins) / sizeof(mins[0]); i++)
        if (!strncmp(model, mins[i].prefix, strlen(mins[i].prefix)))
            return mins[i].min;
    return LLM_CACHE_MIN_DEFAULT;
}

int
llm_cache_long_enough(size_t bytes, const char *model)
{
    return bytes / LLM_CACHE_BYTES_PER_TOKEN >=
           (size_t)llm_cache_min_tokens(model);
}

int
llm_cache_group(const cJSON *job, const char *model, int autoc, uint64_t *key)
{
    const cJSON *sys = cJSON_GetObjectItemCaseSensitive(job, "system");
    const char *m = llm_jstr(job, "model");
    uint64_t h = FNV64_OFFSET;
    int marked = 0;

    if (m && *m)
        model = m;
    if (!model)
        model = "";
    h = fnv64(h, model, strlen(model) + 1);
    if (cJSON_IsString(sys)) {
        size_t n = strlen(sys->valuestring);
        if (!autoc || !llm_cache_long_enough(n, model))
            return 0;
        h = fnv64(h, sys->valuestring, n);
        marked = 1;
    } else if (cJSON_IsArray(sys)) {
        /* the prefix up to the last block with a breakpoint */
        const cJSON *b;
        uint64_t upto = h;
        cJSON_ArrayForEach(b, sys)
        {
            const char *t = llm_jstr(b, "text");
            if (t)
                h = fnv64(h, t, strlen(t) + 1);
            if (cJSON_GetObjectItemCaseSensitive(b, "cache_control")) {
                upto = h;
                marked = 1;
            }
        }
        h = upto;
    }
    if (marked)
        *key = h;
    return marked;
}
