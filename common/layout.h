/* The version of genq's Redis layout (key names, the meta record, the bulk
 * header; see keys.h and meta.h). Redis holds it in KEY_LAYOUT: the first
 * genq program that connects sets it (SET NX), and every program refuses a
 * Redis whose version it does not know. Bump LAYOUT_VERSION with any change
 * an older genq would misread.
 *   1  the first layout
 *   2  the budget keys carry the hash tag {budget} (Redis Cluster: budget.lua
 *      touches three of them); a Redis at layout 1 is upgraded on connect by
 *      one script (layout_upgrade_argv()): RENAME of the caps and of the
 *      current day's and month's spend, then the version set to 2.
 *   3  inline jobs: the bulk path of `genq enqueue` pushes whole jobs onto
 *      the ready and stage lists ("@ID|" header payload, meta.h), which a
 *      genq of layout 2 would take for ids. A Redis at layout 2 holds only
 *      plain ids: the upgrade just sets 3 (from 1: the renames of 2 first).
 *      The same script (layout_upgrade_argv()) does both.
 *   4  the done set (retention index) holds a member per batch of finished
 *      jobs, their ids joined by ',' (prelude.lua DONE_SEP), which a genq
 *      of layout 3 would take for one id (its sweep would drop the member
 *      and keep the jobs' records for ever). A layout-3 member is one id, a
 *      batch of one: the upgrade just sets 4.
 *   5  a claimed inline job's element goes to its claim's held list
 *      (genq:{Q}:held:SEQ, counted in genq:{Q}:held; prelude.lua K_HELD)
 *      instead of the jobs hash, where a genq of layout 4 would not find an
 *      active job's request (its reaper would requeue a job without one).
 *      A Redis at layout 4 has no held claim: the upgrade just sets 5. */
#ifndef GENQ_LAYOUT_H
#define GENQ_LAYOUT_H

#include <stddef.h>

#define LAYOUT_VERSION "5"

/* Fill set and get with the two commands a program sends together on
 * connect (one round trip): SET KEY_LAYOUT LAYOUT_VERSION NX (ours when
 * absent), then GET KEY_LAYOUT (what Redis holds now, for layout_check()).
 * Two commands rather than SET NX GET, which needs Redis 7.0. The strings
 * are static: nothing to free. */
#define LAYOUT_SET_ARGC 4
#define LAYOUT_GET_ARGC 2
void layout_commands(const char *set[LAYOUT_SET_ARGC],
                     const char *get[LAYOUT_GET_ARGC]);

/* Check the reply of the GET: held is the version Redis holds (NULL when
 * none: taken as ours). where names the Redis ("127.0.0.1:6379/0"). 0 when
 * this genq knows it; 1 when it is an older layout this genq upgrades (send
 * layout_upgrade_argv()'s command, whose reply is the version then held:
 * check it again); else -1 with the refusal in err. No allocation. */
int layout_check(const char *held, const char *where, char *err, size_t errlen);

/* The upgrade command (EVAL of one script, idempotent: a no-op unless Redis
 * still holds the old version) for unix time now, into av (static strings
 * and the key names written into s, which must outlive the call).
 * Returns the argument count. */
#define LAYOUT_UPGRADE_ARGC 11
struct layout_upgrade {
    char day[2][48], month[2][48]; /* [0] old name, [1] new name */
};
int layout_upgrade_argv(const char *av[LAYOUT_UPGRADE_ARGC],
                        struct layout_upgrade *s, long long now);

#endif
