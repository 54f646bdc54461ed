/* Script table: prelude + body texts and their SHA1 (OpenSSL), so callers
 * can send EVALSHA first and fall back to EVAL on NOSCRIPT. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "lua_scripts.h"
#include "scripts.h"

static struct script table[SCRIPT_COUNT];
static int ready;

static const struct {
    const char *name;
    const char *body;
} sources[SCRIPT_COUNT] = {
    [SCRIPT_ENQUEUE] = {"enqueue", lua_enqueue},
    [SCRIPT_CLAIM] = {"claim", lua_claim},
    [SCRIPT_EXTEND] = {"extend", lua_extend},
    [SCRIPT_COMPLETE] = {"complete", lua_complete},
    [SCRIPT_FAIL] = {"fail", lua_fail},
    [SCRIPT_MAINTAIN] = {"maintain", lua_maintain},
    [SCRIPT_INSPECT] = {"inspect", lua_inspect},
    [SCRIPT_STATS] = {"stats", lua_stats},
    [SCRIPT_CANCEL] = {"cancel", lua_cancel},
    [SCRIPT_PAUSE] = {"pause", lua_pause},
    [SCRIPT_DLQ_PAGE] = {"dlq_page", lua_dlq_page},
    [SCRIPT_DLQ_REQUEUE] = {"dlq_requeue", lua_dlq_requeue},
    [SCRIPT_DLQ_PURGE] = {"dlq_purge", lua_dlq_purge},
    [SCRIPT_RESULTS_PAGE] = {"results_page", lua_results_page},
    [SCRIPT_RELEASE] = {"release", lua_release},
    [SCRIPT_STAGE] = {"stage", lua_stage},
};

int
scripts_init(void)
{
    if (ready)
        return 0;
    for (int i = 0; i < SCRIPT_COUNT; i++) {
        size_t a = strlen(lua_prelude), b = strlen(sources[i].body);
        char *t = malloc(a + b + 1);
        unsigned char md[SHA_DIGEST_LENGTH];

        if (!t) {
            scripts_free();
            return -1;
        }
        /* not terminated here: the next memcpy copies the body's NUL */
        /* NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
        memcpy(t, lua_prelude, a);
        memcpy(t + a, sources[i].body, b + 1);
        SHA1((const unsigned char *)t, a + b, md);
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
