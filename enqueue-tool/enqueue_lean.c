/* genq enqueue: the lean form of enqueue.lua for pass 2. A batch whose
 * jobs all have their own id and nothing but a priority (one for the
 * batch) and max_attempts (no idempotency key, run_at, delay or notify
 * echo) goes as two arguments per job: its id and the value the jobs hash
 * stores, the meta header (meta_format_header, at the server time
 * bulk_now_ms() tells, as the bulk path writes it) then the payload;
 * enqueue.lua answers 1 (enqueued) or 0 (duplicate id) per job. The
 * general form costs Redis seven arguments, a concatenation and a nested
 * reply per job (issue 15: 37k -> 16k Redis instructions per job). Other
 * batches go in the general form, as they are: none is split for this. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enqueue.h"
#include "meta.h"
#include "rclient.h"

int
batch_is_lean(const struct rec *recs, int n)
{
    int prio = -1;

    for (int i = 0; i < n; i++) {
        const struct rec *r = &recs[i];

        if (r->type != 'J')
            continue;
        if (r->bulk || (r->idem && *r->idem) || r->run_at || r->delay ||
            r->notify || (prio >= 0 && r->prio != prio))
            return 0;
        prio = r->prio;
    }
    return prio >= 0;
}

int
lean_append(struct enq *e, struct rec *recs, int n, int jobs)
{
    const char **av = malloc(sizeof(*av) * (size_t)(5 + 2 * jobs));
    size_t *al = malloc(sizeof(*al) * (size_t)(5 + 2 * jobs)), total = 0;
    char ttl[24], cnt[24], prio[24], *vals = NULL, *p;
    int j = 0, rc = -1, hl;
    int64_t now = bulk_now_ms(e);

    if (!av || !al)
        goto out;
    for (int i = 0; i < n; i++)
        if (recs[i].type == 'J') {
            if (total == 0)
                snprintf(prio, sizeof(prio), "%d", recs[i].prio);
            total += META_HEADER_MAX + recs[i].payload_len;
        }
    if (total == 0 || !(vals = malloc(total)))
        goto out;
    snprintf(ttl, sizeof(ttl), "%d", e->idem_ttl);
    snprintf(cnt, sizeof(cnt), "%d", jobs);
    av[j] = ttl;
    al[j++] = strlen(ttl);
    av[j] = "L";
    al[j++] = 1;
    av[j] = cnt;
    al[j++] = strlen(cnt);
    av[j] = prio;
    al[j++] = strlen(prio);
    p = vals;
    for (int i = 0; i < n; i++) {
        size_t pl;

        if (recs[i].type != 'J')
            continue;
        /* the header of each job: max_attempts may differ in a batch */
        hl = meta_format_header(p, META_HEADER_MAX, recs[i].max_attempts,
                                recs[i].prio, now);
        if (hl < 0 || hl >= META_HEADER_MAX)
            goto out;
        pl = recs[i].payload_len;
        av[j] = recs[i].id;
        al[j++] = strlen(recs[i].id);
        memcpy(p + hl, recs[i].payload, pl);
        av[j] = p;
        al[j++] = (size_t)hl + pl;
        p += (size_t)hl + pl;
    }
    rc = rclient_append_script(e->cli.rc, SCRIPT_ENQUEUE, &e->cli.keys, j, av,
                               al);
out:
    free(av);
    free(al);
    free(vals);
    return rc < 0 ? -1 : jobs;
}
