/* Script table: prelude (+ queue keys, transitions, oplib) + body texts and
 * their SHA1 (OpenSSL), so callers can send EVALSHA first and fall back to EVAL
 * on NOSCRIPT. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "lua_scripts.h"
#include "scripts.h"

static struct script table[SCRIPT_COUNT];
static int ready;

/* Each script is prelude.lua, then queue_keys.lua and transitions.lua
 * unless lean, then oplib.lua when oplib, then its body. oplib: not the
 * four a worker runs per job; lean: complete and extend, which use none of
 * them (every function a script defines costs it a closure per call, every
 * key name a concatenation); lazy: claim, whose transitions.lua is the body
 * of a function run only when a lease expired or a delayed job is due
 * (TR_LAZY_OPEN, TR_LAZY_CLOSE; bench/lib/scale.py script_source builds
 * the same text). */
static const struct {
    const char *name;
    const char *body;
    int oplib;
    int lean;
    int lazy;
} sources[SCRIPT_COUNT] = {
    [SCRIPT_ENQUEUE] = {"enqueue", lua_enqueue, 1},
    [SCRIPT_CLAIM] = {"claim", lua_claim, 0, 0, 1},
    [SCRIPT_EXTEND] = {"extend", lua_extend, 0, 1},
    [SCRIPT_COMPLETE] = {"complete", lua_complete, 0, 1},
    [SCRIPT_FAIL] = {"fail", lua_fail, 0},
    [SCRIPT_MAINTAIN] = {"maintain", lua_maintain, 1},
    [SCRIPT_INSPECT] = {"inspect", lua_inspect, 1},
    [SCRIPT_STATS] = {"stats", lua_stats, 1},
    [SCRIPT_CANCEL] = {"cancel", lua_cancel, 1},
    [SCRIPT_PAUSE] = {"pause", lua_pause, 1},
    [SCRIPT_DLQ_PAGE] = {"dlq_page", lua_dlq_page, 1},
    [SCRIPT_DLQ_REQUEUE] = {"dlq_requeue", lua_dlq_requeue, 1},
    [SCRIPT_DLQ_PURGE] = {"dlq_purge", lua_dlq_purge, 1},
    [SCRIPT_RESULTS_PAGE] = {"results_page", lua_results_page, 1},
    [SCRIPT_RELEASE] = {"release", lua_release, 1},
    [SCRIPT_STAGE] = {"stage", lua_stage, 1},
    [SCRIPT_BUDGET] = {"budget", lua_budget, 0},
    [SCRIPT_ANOMALY] = {"anomaly", lua_anomaly, 0},
    [SCRIPT_INTAKE] = {"intake", lua_intake, 1},
    [SCRIPT_LIMITER] = {"limiter", lua_limiter, 0},
    [SCRIPT_TMPLSTATS] = {"tmplstats", lua_tmplstats, 0},
    [SCRIPT_REVIEW_PAGE] = {"review_page", lua_review_page, 1},
    [SCRIPT_REVIEW_APPROVE] = {"review_approve", lua_review_approve, 1},
    [SCRIPT_REVIEW_REJECT] = {"review_reject", lua_review_reject, 1},
    [SCRIPT_BATCH_RECORD] = {"batch_record", lua_batch_record, 0},
    [SCRIPT_BATCH_LEASE] = {"batch_lease", lua_batch_lease, 0},
    [SCRIPT_BATCH_DONE] = {"batch_done", lua_batch_done, 0},
    [SCRIPT_READY_FIND] = {"ready_find", lua_ready_find, 1},
};

/* claim.lua's transitions.lua: its definitions made only when called, its
 * two functions claim runs returned (claim.lua says when) */
#define TR_LAZY_OPEN  "local function transitions_lazy()\n"
#define TR_LAZY_CLOSE "\nreturn reap, promote\nend\n"

int
scripts_init(void)
{
    if (ready)
        return 0;
    for (int i = 0; i < SCRIPT_COUNT; i++) {
        int lean = sources[i].lean, lazy = sources[i].lazy;
        const char *part[] = {lua_prelude,
                              lean ? "" : lua_queue_keys,
                              lazy ? TR_LAZY_OPEN : "",
                              lean ? "" : lua_transitions,
                              lazy ? TR_LAZY_CLOSE : "",
                              sources[i].oplib ? lua_oplib : "",
                              sources[i].body};
        enum { NPART = sizeof(part) / sizeof(part[0]) };
        size_t len[NPART], total = 0, at = 0;
        unsigned char md[SHA_DIGEST_LENGTH];
        char *t;

        for (int p = 0; p < NPART; p++)
            total += len[p] = strlen(part[p]);
        t = malloc(total + 1);
        if (!t) {
            scripts_free();
            return -1;
        }
        for (int p = 0; p < NPART; p++) {
            memcpy(t + at, part[p], len[p]);
            at += len[p];
        }
        t[total] = '\0';
        SHA1((const unsigned char *)t, total, md);
        for (int j = 0; j < SHA_DIGEST_LENGTH; j++)
            snprintf(table[i].sha + 2 * j, 3, "%02x", md[j]);
        table[i].name = sources[i].name;
        table[i].text = t;
    }
    ready = 1;
    return 0;
}

void
scripts_free(void)
{
    for (int i = 0; i < SCRIPT_COUNT; i++) {
        free(table[i].text);
        table[i].text = NULL;
    }
    ready = 0;
}

const struct script *
script_get(enum script_id id)
{
    return &table[id];
}

int
scripts_exists_argv(const char *av[SCRIPT_EXISTS_ARGC])
{
    av[0] = "SCRIPT";
    av[1] = "EXISTS";
    for (int i = 0; i < SCRIPT_COUNT; i++)
        av[i + 2] = table[i].sha;
    return SCRIPT_EXISTS_ARGC;
}
