/* job_cache: validation of a prompt-cache breakpoint, the cache_control
 * object a text block of system or of a message's content may carry
 * (llm-api.md; rate-limits-and-batches.md section 4); see job_int.h. */
#include "fmacros.h"

#include <stdio.h>
#include <string.h>

#include "job_int.h"

static const char *const cache_control_fields[] = {"type", "ttl", NULL};

int
job_check_cache_control(const cJSON *cc, const char *path, struct job_err *err)
{
    char fpath[240];
    const cJSON *t, *ttl;

    if (!cJSON_IsObject(cc))
        return job_err_set(err, path, "%s must be an object", path);
    if (job_check_unknown(cc, path, cache_control_fields, err) < 0)
        return -1;
    snprintf(fpath, sizeof fpath, "%s.type", path);
    t = job_get(cc, "type");
    if (!t)
        return job_err_set(err, fpath, "%s is required", fpath);
    if (!cJSON_IsString(t) || strcmp(t->valuestring, "ephemeral") != 0)
        return job_err_set(err, fpath, "%s must be 'ephemeral'", fpath);
    ttl = job_get(cc, "ttl");
    snprintf(fpath, sizeof fpath, "%s.ttl", path);
    if (ttl && !cJSON_IsString(ttl))
        return job_err_set(err, fpath, "%s must be a string, '5m' or '1h'",
                           fpath);
    if (ttl && strcmp(ttl->valuestring, "5m") != 0 &&
        strcmp(ttl->valuestring, "1h") != 0)
        return job_err_set(err, fpath, "%s must be '5m' or '1h', got '%.8s'",
                           fpath, ttl->valuestring);
    return 0;
}
