/* Unit tests for worker/jobstate.c: the legal edges of a job slot's state
 * machine keep the active/queued counters; illegal edges are refused and
 * leave the counters untouched. */
#include "fmacros.h"

#include <criterion/criterion.h>

#include "../../worker/jobstate.h"

static int
is_active(enum jstate s)
{
    return s == J_RUNNING || s == J_WAITING || s == J_PENDING || s == J_ADMIT;
}

Test(jobstate, lifecycle_keeps_counters)
{
    /* a prefetched job: waits, runs, retries, flushes (once not acked) */
    static const struct {
        enum jstate to;
        int active, queued;
    } walk[] = {
        {J_QUEUED, 0, 1},   {J_RUNNING, 1, 0}, {J_WAITING, 1, 0},
        {J_RUNNING, 1, 0},  {J_RUNNING, 1, 0}, {J_PENDING, 1, 0},
        {J_FLUSHING, 0, 0}, {J_PENDING, 1, 0}, {J_FLUSHING, 0, 0},
        {J_FREE, 0, 0},
    };
    struct jobstate_counts c = {0};
    enum jstate s = J_FREE;

    for (size_t i = 0; i < sizeof(walk) / sizeof(walk[0]); i++) {
        cr_assert_eq(jobstate_move(&c, s, walk[i].to), 0, "%s -> %s",
                     jobstate_name(s), jobstate_name(walk[i].to));
        s = walk[i].to;
        cr_assert_eq(c.active, walk[i].active, "step %zu", i);
        cr_assert_eq(c.queued, walk[i].queued, "step %zu", i);
    }
}

Test(jobstate, every_state_but_free_may_be_abandoned)
{
    for (int s = J_RUNNING; s < J_NSTATES; s++) {
        struct jobstate_counts c = {0};
        cr_assert_eq(jobstate_move(&c, J_FREE, J_RUNNING), 0);
        if (s == J_QUEUED) {
            c.active = 0;
            cr_assert_eq(jobstate_move(&c, J_FREE, J_QUEUED), 0);
        } else if (s == J_WAITING || s == J_PENDING || s == J_ADMIT) {
            cr_assert_eq(jobstate_move(&c, J_RUNNING, (enum jstate)s), 0);
        } else if (s == J_FLUSHING) {
            cr_assert_eq(jobstate_move(&c, J_RUNNING, J_PENDING), 0);
            cr_assert_eq(jobstate_move(&c, J_PENDING, J_FLUSHING), 0);
        }
        cr_assert_eq(jobstate_move(&c, (enum jstate)s, J_FREE), 0, "%s",
                     jobstate_name((enum jstate)s));
        cr_assert_eq(c.active, 0, "%s", jobstate_name((enum jstate)s));
        cr_assert_eq(c.queued, 0, "%s", jobstate_name((enum jstate)s));
    }
}

Test(jobstate, illegal_edges_refused)
{
    static const enum jstate bad[][2] = {
        {J_FREE, J_FREE},        {J_FREE, J_PENDING},
        {J_FREE, J_FLUSHING},    {J_FREE, J_WAITING},
        {J_QUEUED, J_PENDING},   {J_QUEUED, J_QUEUED},
        {J_FLUSHING, J_RUNNING}, {J_FLUSHING, J_FLUSHING},
        {J_PENDING, J_RUNNING},  {J_PENDING, J_PENDING},
        {J_WAITING, J_WAITING},  {J_RUNNING, J_QUEUED},
        {J_RUNNING, J_FLUSHING}, {J_ADMIT, J_WAITING},
        {J_ADMIT, J_FLUSHING},   {J_ADMIT, J_QUEUED},
        {J_FREE, J_ADMIT},       {J_QUEUED, J_ADMIT},
        {J_PENDING, J_ADMIT},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct jobstate_counts c = {7, 3, 0};
        cr_assert_not(jobstate_edge_legal(bad[i][0], bad[i][1]), "%s -> %s",
                      jobstate_name(bad[i][0]), jobstate_name(bad[i][1]));
        cr_assert_eq(jobstate_move(&c, bad[i][0], bad[i][1]), -1);
        cr_assert_eq(c.active, 7);
        cr_assert_eq(c.queued, 3);
    }
    struct jobstate_counts c = {0};
    cr_assert_eq(jobstate_move(&c, J_NSTATES, J_FREE), -1);
    cr_assert_eq(jobstate_move(&c, J_FREE, J_NSTATES), -1);
    cr_assert_not(jobstate_edge_legal(J_NSTATES, J_FREE));
}

Test(jobstate, counters_follow_states_on_any_legal_walk)
{
    /* 8 slots, a deterministic pseudo-random walk over legal edges: the
     * counters always equal the number of slots in their states */
    enum jstate st[8] = {J_FREE};
    struct jobstate_counts c = {0};
    unsigned x = 12345;

    for (int step = 0; step < 20000; step++) {
        int k;
        enum jstate to;
        x = x * 1103515245u + 12345u;
        k = (int)((x >> 16) % 8);
        x = x * 1103515245u + 12345u;
        to = (enum jstate)((x >> 16) % J_NSTATES);
        if (jobstate_edge_legal(st[k], to)) {
            cr_assert_eq(jobstate_move(&c, st[k], to), 0);
            st[k] = to;
        } else {
            cr_assert_eq(jobstate_move(&c, st[k], to), -1);
        }
        int a = 0, q = 0, ad = 0;
        for (int i = 0; i < 8; i++) {
            a += is_active(st[i]);
            q += st[i] == J_QUEUED;
            ad += st[i] == J_ADMIT;
        }
        cr_assert_eq(c.active, a);
        cr_assert_eq(c.queued, q);
        cr_assert_eq(c.admit, ad);
    }
}

Test(jobstate, limiter_wait_holds_its_slot)
{
    /* a try held by the limiter (J_ADMIT) stays active: it holds its slot
     * and its lease, and is counted in admit until it starts or ends */
    struct jobstate_counts c = {0};

    cr_assert_eq(jobstate_move(&c, J_FREE, J_RUNNING), 0);
    cr_assert_eq(jobstate_move(&c, J_RUNNING, J_ADMIT), 0);
    cr_assert_eq(c.active, 1);
    cr_assert_eq(c.admit, 1);
    cr_assert_eq(jobstate_move(&c, J_ADMIT, J_ADMIT), 0);
    cr_assert_eq(c.admit, 1);
    cr_assert_eq(jobstate_move(&c, J_ADMIT, J_RUNNING), 0);
    cr_assert_eq(c.admit, 0);
    cr_assert_eq(jobstate_move(&c, J_RUNNING, J_WAITING), 0);
    cr_assert_eq(jobstate_move(&c, J_WAITING, J_ADMIT), 0);
    cr_assert_eq(jobstate_move(&c, J_ADMIT, J_PENDING), 0);
    cr_assert_eq(c.active, 1);
    cr_assert_eq(c.admit, 0);
    cr_assert_str_eq(jobstate_name(J_ADMIT), "admit");
}

Test(jobstate, names)
{
    cr_assert_str_eq(jobstate_name(J_FREE), "free");
    cr_assert_str_eq(jobstate_name(J_FLUSHING), "flushing");
    cr_assert_str_eq(jobstate_name(J_NSTATES), "?");
}
