/* The client loop of ready_find.lua (see ready_find.h): a script call per
 * chunk of a ready list, the ids still wanted passed on from one call to
 * the next, until none is wanted or the lists end. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ready_find.h"

long
ready_find(redisContext *c, const struct qkeys *k, const char *const *ids,
           int n, char *err, size_t errlen)
{
    char p[24] = "0", off[24] = "0", cnt[24];
    const char **av = malloc(sizeof(*av) * (size_t)(n + 3));
    redisReply *prev = NULL; /* holds the wanted ids av points into */
    long found = 0;
    int m = n;

    if (!av) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(cnt, sizeof(cnt), "%d", READY_FIND_CHUNK);
    for (int i = 0; i < n; i++)
        av[3 + i] = ids[i];
    while (m > 0) {
        redisReply *r;

        av[0] = p;
        av[1] = off;
        av[2] = cnt;
        r = rclient_script(c, SCRIPT_READY_FIND, k, 3 + m, av, NULL, err,
                           errlen);
        if (!r) {
            found = -1;
            break;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
            r->elements > (size_t)m + 3) {
            snprintf(err, errlen, "unexpected reply from Redis");
            freeReplyObject(r);
            found = -1;
            break;
        }
        for (size_t i = 0; i < r->elements; i++)
            if (r->element[i]->type !=
                (i < 3 ? REDIS_REPLY_INTEGER : REDIS_REPLY_STRING)) {
                snprintf(err, errlen, "unexpected reply from Redis");
                freeReplyObject(r);
                r = NULL;
                break;
            }
        if (!r) {
            found = -1;
            break;
        }
        found += (long)r->element[2]->integer;
        snprintf(p, sizeof(p), "%lld", r->element[0]->integer);
        snprintf(off, sizeof(off), "%lld", r->element[1]->integer);
        m = (int)r->elements - 3;
        for (int i = 0; i < m; i++)
            av[3 + i] = r->element[3 + i]->str;
        if (prev)
            freeReplyObject(prev);
        prev = r;
        if (r->element[0]->integer == 0)
            break;
    }
    if (prev)
        freeReplyObject(prev);
    free(av);
    return found;
}
