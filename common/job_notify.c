/* job_notify: the echo of a job's `notify` list -- the metadata fields the
 * producer asked the completion feed to carry -- rendered once at enqueue
 * (genq enqueue, the worker's inbox intake) into the text the queue's
 * notify hash keeps, so the feed's Lua appends it without decoding JSON. */
#include "fmacros.h"

#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "job_int.h"

int
job_notify_echo(const cJSON *job, char **out)
{
    const cJSON *names = job_get(job, "notify");
    const cJSON *meta = job_get(job, "metadata");
    cJSON *echo;
    char *s;

    *out = NULL;
    if (!cJSON_IsArray(names) || !cJSON_IsObject(meta))
        return 0;
    echo = cJSON_CreateObject();
    if (!echo)
        return -1;
    for (const cJSON *n = names->child; n; n = n->next) {
        const cJSON *v;
        cJSON *c;
        if (!cJSON_IsString(n) || job_get(echo, n->valuestring))
            continue; /* each name once */
        v = job_get(meta, n->valuestring);
        if (!v)
            continue; /* not in metadata: not echoed (documented) */
        c = cJSON_Duplicate(v, 1);
        if (!c || !cJSON_AddItemToObject(echo, n->valuestring, c)) {
            cJSON_Delete(c);
            cJSON_Delete(echo);
            return -1;
        }
    }
    if (!echo->child) {
        cJSON_Delete(echo);
        return 0;
    }
    s = cJSON_PrintUnformatted(echo);
    cJSON_Delete(echo);
    if (!s)
        return -1;
    *out = strdup(s); /* free()-able whatever cJSON's allocator */
    cJSON_free(s);
    return *out ? 0 : -1;
}
