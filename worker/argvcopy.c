/* Owned argv copies of the calls in flight (see argvcopy.h). */
#include "fmacros.h"

#include <stdlib.h>
#include <string.h>

#include "argvcopy.h"

int
argvcopy_init(struct argvcopy *a, int argc, const char *const *av,
              const size_t *al)
{
    size_t total = 0, at = 0;

    memset(a, 0, sizeof(*a));
    if (argc <= 0)
        return -1;
    a->al = malloc(sizeof(*a->al) * (size_t)argc);
    a->av = malloc(sizeof(*a->av) * (size_t)argc);
    if (!a->al || !a->av) {
        argvcopy_free(a);
        return -1;
    }
    for (int i = 0; i < argc; i++)
        total += a->al[i] = al ? al[i] : strlen(av[i]);
    a->mem = malloc(total + (size_t)argc);
    if (!a->mem) {
        argvcopy_free(a);
        return -1;
    }
    for (int i = 0; i < argc; i++) {
        memcpy(a->mem + at, av[i], a->al[i]);
        a->mem[at + a->al[i]] = '\0';
        a->av[i] = a->mem + at;
        at += a->al[i] + 1;
    }
    a->argc = argc;
    return 0;
}

void
argvcopy_free(struct argvcopy *a)
{
    free(a->av);
    free(a->al);
    free(a->mem);
    memset(a, 0, sizeof(*a));
}
