/* Job documents: the accessors of a parsed job's fields and the payload of
 * a stored jobs-hash value. Parsing is in job_parse.c (full path) and
 * job_fast.c (fast path), the rules in job_validate.c. */
#include "fmacros.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "job_int.h"
#include "meta.h"
#include "pack.h"
#include "timefmt.h"

const char *
job_stored_payload(const char *v)
{
    return v ? v + meta_header_len(v) : NULL;
}

cJSON *
job_stored_parse(struct packer *pk, const char *id, const char *v, size_t len,
                 char *err, size_t errlen)
{
    size_t h = meta_header_len(v);
    cJSON *job;

    if (pack_is_packed(v + h, len - h)) {
        char *json = pack_stored_json(pk, id, v, len, err, errlen);
        if (!json)
            return NULL; /* errno: ENOMEM or EINVAL (pack.h) */
        job = cJSON_Parse(json);
        free(json);
    } else { /* plain JSON: parsed where it is, no copy */
        job = cJSON_ParseWithLength(v + h, len - h);
    }
    if (!cJSON_IsObject(job)) {
        cJSON_Delete(job);
        snprintf(err, errlen, "job %s: the stored job is not a JSON object",
                 id);
        errno = EINVAL;
        return NULL;
    }
    return job;
}

/* ---- accessors ---------------------------------------------------------- */

enum job_priority
job_priority(const cJSON *job)
{
    const cJSON *p = job_get(job, "priority");

    if (!cJSON_IsString(p))
        return JOB_PRIO_NORMAL;
    if (strcmp(p->valuestring, "high") == 0)
        return JOB_PRIO_HIGH;
    if (strcmp(p->valuestring, "low") == 0)
        return JOB_PRIO_LOW;
    return JOB_PRIO_NORMAL;
}

const char *
job_priority_name(enum job_priority p)
{
    switch (p) {
    case JOB_PRIO_HIGH:
        return "high";
    case JOB_PRIO_LOW:
        return "low";
    case JOB_PRIO_NORMAL:
        break;
    }
    return "normal";
}

int
job_schedule(const cJSON *job, int64_t *run_at_ms, int64_t *delay_ms)
{
    const cJSON *run_at = job_get(job, "run_at"),
                *delay = job_get(job, "delay_s");
    int64_t at = 0, d = 0;

    *run_at_ms = 0;
    *delay_ms = 0;
    if (run_at) {
        if (!cJSON_IsString(run_at) ||
            timefmt_rfc3339_parse(run_at->valuestring, &at) < 0)
            return -1;
        if (at < 0)
            at = 0;
    }
    if (delay) {
        if (!cJSON_IsNumber(delay) || !(delay->valuedouble >= 0) ||
            delay->valuedouble > 31536000)
            return -1;
        d = (int64_t)(delay->valuedouble * 1000.0 + 0.5);
    }
    *run_at_ms = at;
    *delay_ms = d;
    return 0;
}

const char *
job_id(const cJSON *job)
{
    const cJSON *v = job_get(job, "id");

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *
job_idempotency_key(const cJSON *job)
{
    const cJSON *v = job_get(job, "idempotency_key");

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int
job_max_attempts(const cJSON *job)
{
    const cJSON *v = job_get(job, "max_attempts");

    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 1) ||
        v->valuedouble > 1000000)
        return 0;
    return (int)v->valuedouble;
}

char *
job_prompt_text(const cJSON *job)
{
    const cJSON *p = job_get(job, "prompt"), *msgs = job_get(job, "messages");
    const cJSON *m, *c;
    size_t n = 0;
    char *out;

    if (cJSON_IsString(p))
        return strdup(p->valuestring);
    if (!cJSON_IsArray(msgs))
        return NULL;
    for (m = msgs->child; m; m = m->next) {
        const cJSON *role = job_get(m, "role");
        if (cJSON_IsString(role) && strcmp(role->valuestring, "user") == 0)
            break;
    }
    if (!m)
        return NULL;
    c = job_get(m, "content");
    if (cJSON_IsString(c))
        return strdup(c->valuestring);
    if (!cJSON_IsArray(c))
        return NULL;
    for (const cJSON *b = c->child; b; b = b->next) {
        const cJSON *t = job_get(b, "text");
        if (cJSON_IsString(t))
            n += strlen(t->valuestring);
    }
    out = malloc(n + 1);
    if (!out)
        return NULL;
    n = 0;
    for (const cJSON *b = c->child; b; b = b->next) {
        const cJSON *t = job_get(b, "text");
        if (cJSON_IsString(t)) {
            size_t k = strlen(t->valuestring);
            memcpy(out + n, t->valuestring, k);
            n += k;
        }
    }
    out[n] = '\0';
    return out;
}
