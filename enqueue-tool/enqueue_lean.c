/* genq enqueue: the lean form of enqueue.lua for pass 2. A job with its
 * own id and nothing but a priority and max_attempts (no idempotency key,
 * run_at, delay or notify echo) goes as two arguments: its id and the value
 * the jobs hash stores, the meta header (meta_format_header, at the server
 * time bulk_now_ms() tells, as the bulk path writes it) then the payload,
 * in a call whose jobs share the priority; enqueue.lua answers 1 (enqueued)
 * or 0 (duplicate id) per job. The general form costs Redis seven
 * arguments, a concatenation and a nested reply per job (issue 15: 36.7k
 * -> ~15k Redis instructions per job). */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enqueue.h"
#include "meta.h"
#include "rclient.h"

int
rec_is_lean(const struct rec *r)
{
    return r->type == 'J' && !r->bulk && (!r->idem || !*r->idem) &&
           r->run_at == 0 && r->delay == 0 && !r->notify;
}

int
lean_append(struct enq *e, struct rec *recs, int n, int jobs)
{
    const char **av = malloc(sizeof(*av) * (size_t)(5 + 2 * jobs));
    size_t *al = malloc(sizeof(*al) * (size_t)(5 + 2 * jobs)), total = 0;
    char ttl[24], cnt[24], prio[24], hdr[META_HEADER_MAX], *vals = NULL, *p;
    int j = 0, rc = -1, hl = -1;

    if (!av || !al)
        goto out;
    for (int i = 0; i < n; i++)
        if (recs[i].type == 'J') {
            if (hl < 0) { /* the batch's class: every job has the same */
                hl = meta_format_header(hdr, sizeof(hdr),
                                        recs[i].max_attempts, recs[i].prio,
                                        bulk_now_ms(e));
                snprintf(prio, sizeof(prio), "%d", recs[i].prio);
            }
            total += (size_t)hl + strlen(recs[i].payload);
        }
    if (hl < 0 || (size_t)hl >= sizeof(hdr) || !(vals = malloc(total + 1)))
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
        pl = strlen(recs[i].payload);
        av[j] = recs[i].id;
        al[j++] = strlen(recs[i].id);
        memcpy(p, hdr, (size_t)hl);
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
