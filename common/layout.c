/* The Redis layout version check shared by `genq` (rclient.c) and the
 * worker (worker/rconn.c): one command on connect, one message on refusal. */
#include "fmacros.h"

#include <stdio.h>
#include <string.h>

#include "keys.h"
#include "layout.h"

void
layout_commands(const char *set[LAYOUT_SET_ARGC],
                const char *get[LAYOUT_GET_ARGC])
{
    set[0] = "SET";
    set[1] = KEY_LAYOUT;
    set[2] = LAYOUT_VERSION;
    set[3] = "NX";
    get[0] = "GET";
    get[1] = KEY_LAYOUT;
}

int
layout_check(const char *held, const char *where, char *err, size_t errlen)
{
    if (!held || !strcmp(held, LAYOUT_VERSION))
        return 0;
    snprintf(err, errlen,
             "Redis at %s holds genq layout version %.40s; this genq knows "
             "layout " LAYOUT_VERSION,
             where, held);
    return -1;
}
