/* The dead-letter views' side of compressed payloads (common/pack.h):
 * dlq_page.lua cannot read a compressed stored job, so for one it returns
 * the stored value itself (no prompt excerpt; grep_hit 2 = "undecided")
 * and this file decodes it, cuts the excerpt and decides the grep. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_ops.h"
#include "job.h"
#include "pack.h"

#define EXCERPT_MAX                                                            \
    300 /* bytes, as dlq_page.lua (the client cuts at a                        \
           character) */

void
dlq_entry_unpack(struct dlq_pager *p, struct dlq_entry *e, const redisReply *v)
{
    char err[256];
    cJSON *job;

    free(p->json);
    free(p->excerpt);
    p->json = p->excerpt = NULL;
    if (!v || v->type != REDIS_REPLY_STRING || !pack_is_packed(v->str, v->len))
        return;
    e->payload = NULL;
    if (!p->pk) /* NULL (out of memory): pack_decode() makes one per call */
        p->pk = packer_new();
    p->json = pack_decode(p->pk, e->id, v->str, v->len, NULL, err, sizeof(err));
    if (!p->json) {
        fprintf(stderr, "genq: %s\n", err);
        if (e->grep_hit == 2)
            e->grep_hit = 0;
        return;
    }
    if (e->grep_hit == 2)
        e->grep_hit = p->f->grep && strstr(p->json, p->f->grep) != NULL;
    if (p->detail >= DLQ_DETAIL_FULL)
        e->payload = p->json;
    if (p->detail >= DLQ_DETAIL_LIST && !e->excerpt &&
        (job = cJSON_Parse(p->json))) {
        p->excerpt = job_prompt_text(job);
        cJSON_Delete(job);
        if (p->excerpt && strlen(p->excerpt) > EXCERPT_MAX)
            p->excerpt[EXCERPT_MAX] = '\0';
        e->excerpt = p->excerpt ? p->excerpt : "";
    }
}
