/* The Redis layout version check shared by `genq` (rclient.c) and the
 * worker (worker/rconn.c): one command on connect, one message on refusal. */
#include "fmacros.h"

#include <stdio.h>
#include <string.h>

#include "keys.h"
#include "layout.h"

void
layout_command(const char *av[LAYOUT_ARGC])
{
    av[0] = "SET";
    av[1] = KEY_LAYOUT;
    av[2] = LAYOUT_VERSION;
    av[3] = "NX";
    av[4] = "GET";
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
