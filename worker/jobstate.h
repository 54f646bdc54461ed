/* jobstate: the in-process states of a worker's job slot, the table of
 * legal edges between them, and the slot counters they keep (`active`:
 * slots holding a job at work; `queued`: jobs claimed ahead, waiting for a
 * free slot). wjob_enter() (worker_int.h) is the only place that changes a
 * slot's state, and it changes the counters with it.
 *
 *                  claim, slots busy              a slot frees
 *   J_FREE -------------------------> J_QUEUED -------------+
 *     |                                                     v
 *     +-------------------- claim -------------------> J_RUNNING <--+
 *                                      admitted       |  |  |     | timer
 *                           J_ADMIT ------------------>+  |  +-> J_WAITING
 *                             ^  | (limiter: reserve,  |  |          |
 *                             |  |  timer till the time the script names)
 *                             +--+--- start a try ------+  |          |
 *                                                next   +--+         |
 *                                                part      |          |
 *                                                  outcome v          | hand
 *                               not acknowledged +---> J_PENDING <----+ back
 *                                                |         | flush
 *                                                +---- J_FLUSHING
 *                                                          | acknowledged
 *                                                          v
 *                                                        J_FREE
 *   Every state but J_FREE may also go to J_FREE at once: lease lost, out
 *   of memory, worker freed.
 *
 * Edges (from -> to), and what they do to the counters:
 *   FREE     -> RUNNING   active+1   (a claimed job starts at once)
 *   FREE     -> QUEUED    queued+1   (claimed ahead, waits for a slot)
 *   QUEUED   -> RUNNING   queued-1, active+1 (a slot freed up)
 *   QUEUED   -> FREE      queued-1   (lost before it started)
 *   RUNNING  -> RUNNING              (next part, cache miss, 401 re-mint)
 *   RUNNING  -> ADMIT                (a try waits for the limiter)
 *   WAITING  -> ADMIT                (the backoff ended; limiter next)
 *   ADMIT    -> ADMIT                (not admitted yet: timer, ask again)
 *   ADMIT    -> RUNNING              (admitted: the request starts)
 *   ADMIT    -> PENDING              (handed back while waiting)
 *   ADMIT    -> FREE      active-1   (lease lost, shutdown, no memory)
 *   RUNNING  -> WAITING              (in-attempt retry after a backoff)
 *   RUNNING  -> PENDING              (outcome decided, waits for a flush)
 *   RUNNING  -> FREE      active-1   (lease lost, shutdown, no memory)
 *   WAITING  -> RUNNING              (the backoff timer fired)
 *   WAITING  -> PENDING              (handed back while waiting)
 *   WAITING  -> FREE      active-1
 *   PENDING  -> FLUSHING  active-1   (sent: no longer holds concurrency)
 *   PENDING  -> FREE      active-1   (lease lost before the flush)
 *   FLUSHING -> PENDING   active+1   (not acknowledged: sent again)
 *   FLUSHING -> FREE                 (Redis acknowledged the outcome)
 * Every other edge is a bug. */
#ifndef GENQ_JOBSTATE_H
#define GENQ_JOBSTATE_H

enum jstate {
    J_FREE,
    J_RUNNING,  /* HTTP request in flight (or a cache lookup) */
    J_WAITING,  /* backoff timer before the next try */
    J_PENDING,  /* outcome decided, waiting for the next flush */
    J_FLUSHING, /* outcome sent to Redis, waiting for the reply */
    J_QUEUED,   /* claimed ahead (--prefetch), waiting for a free slot */
    J_ADMIT,    /* a try waits for the fleet's limiter (worker/limiter.h):
                   reserve in flight, or a timer; attempt not counted */
    J_NSTATES
};

/* The counters the states keep. */
struct jobstate_counts {
    int active; /* slots in J_RUNNING, J_WAITING, J_ADMIT or J_PENDING */
    int queued; /* slots in J_QUEUED */
    int admit;  /* slots in J_ADMIT (also counted in active) */
};

/* jobstate_edges[from] has bit (1 << to) set for every legal edge. */
extern const unsigned char jobstate_edges[J_NSTATES];

/* Whether from -> to is a legal edge: 1 or 0. Can't fail. */
int jobstate_edge_legal(enum jstate from, enum jstate to);

/* The state's name ("free", "running", ...), for logs and tests. */
const char *jobstate_name(enum jstate s);

/* Apply the edge from -> to to the counters c. Returns 0, or -1 (c
 * untouched) when the edge is not legal. Hot path: a table lookup and two
 * additions, no call. */
static inline int
jobstate_move(struct jobstate_counts *c, enum jstate from, enum jstate to)
{
    if ((unsigned)from >= J_NSTATES || (unsigned)to >= J_NSTATES ||
        !(jobstate_edges[from] & (1u << to)))
        return -1;
    c->active += (to == J_RUNNING || to == J_WAITING || to == J_PENDING ||
                  to == J_ADMIT) -
                 (from == J_RUNNING || from == J_WAITING || from == J_PENDING ||
                  from == J_ADMIT);
    c->admit += (to == J_ADMIT) - (from == J_ADMIT);
    c->queued += (to == J_QUEUED) - (from == J_QUEUED);
    return 0;
}

#endif
