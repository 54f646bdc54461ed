/* genq enqueue: the lean form of enqueue.lua for pass 2. A job with its
 * own id and nothing but a priority and max_attempts (no idempotency key,
 * run_at, delay or notify echo) goes as two arguments, id and payload, in
 * a call whose jobs share the priority and max_attempts; enqueue.lua
 * answers 1 (enqueued) or 0 (duplicate id) per job. The general form costs
 * Redis seven arguments and a nested reply per job (issue 15: about half
 * of enqueue.lua's work per job). */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>

#include "enqueue.h"
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
    const char **av = malloc(sizeof(*av) * (size_t)(6 + 2 * jobs));
    char ttl[24], cnt[24], prio[24], maxa[24];
    int j = 0, rc, first = 1;

    if (!av)
        return -1;
    snprintf(ttl, sizeof(ttl), "%d", e->idem_ttl);
    snprintf(cnt, sizeof(cnt), "%d", jobs);
    av[j++] = ttl;
    av[j++] = "L";
    av[j++] = cnt;
    av[j++] = prio;
    av[j++] = maxa;
    for (int i = 0; i < n; i++) {
        if (recs[i].type != 'J')
            continue;
        if (first) { /* the batch's class: every job has the same */
            snprintf(prio, sizeof(prio), "%d", recs[i].prio);
            snprintf(maxa, sizeof(maxa), "%d", recs[i].max_attempts);
            first = 0;
        }
        av[j++] = recs[i].id;
        av[j++] = recs[i].payload;
    }
    rc = rclient_append_script(e->cli.rc, SCRIPT_ENQUEUE, &e->cli.keys, j, av,
                               NULL);
    free(av);
    return rc < 0 ? -1 : jobs;
}
