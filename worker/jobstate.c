/* jobstate: the table of legal edges between a job slot's states (the
 * diagram is in jobstate.h). Pure data and lookups: no worker state. */
#include "jobstate.h"

#define B(s) (1u << (s))

const unsigned char jobstate_edges[J_NSTATES] = {
    [J_FREE] = B(J_RUNNING) | B(J_QUEUED),
    [J_RUNNING] =
        B(J_RUNNING) | B(J_WAITING) | B(J_PENDING) | B(J_FREE) | B(J_ADMIT),
    [J_WAITING] = B(J_RUNNING) | B(J_PENDING) | B(J_FREE) | B(J_ADMIT),
    [J_PENDING] = B(J_FLUSHING) | B(J_FREE),
    [J_FLUSHING] = B(J_PENDING) | B(J_FREE),
    [J_QUEUED] = B(J_RUNNING) | B(J_FREE),
    [J_ADMIT] = B(J_ADMIT) | B(J_RUNNING) | B(J_PENDING) | B(J_FREE),
};

int
jobstate_edge_legal(enum jstate from, enum jstate to)
{
    return (unsigned)from < J_NSTATES && (unsigned)to < J_NSTATES &&
           (jobstate_edges[from] & B(to)) != 0;
}

const char *
jobstate_name(enum jstate s)
{
    static const char *const names[J_NSTATES] = {
        "free", "running", "waiting", "pending", "flushing", "queued", "admit"};

    return (unsigned)s < J_NSTATES ? names[s] : "?";
}
