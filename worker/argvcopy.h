/* An owned copy of a command's argv, kept by a call in flight so that it
 * can be sent again (NOSCRIPT -> EVAL in rconn.c; MOVED, ASK, TRYAGAIN in
 * rcluster.c). The strings live in one allocation, each NUL-terminated;
 * av[i] may later be pointed at static strings. argvcopy_free() frees it. */
#ifndef GENQ_ARGVCOPY_H
#define GENQ_ARGVCOPY_H

#include <stddef.h>

struct argvcopy {
    int argc;
    const char **av;
    size_t *al;
    char *mem;
};

/* Copy argc strings av (lengths al; NULL: strlen) into a. 0, or -1 when
 * argc < 1 or out of memory (a is then empty: argvcopy_free() is safe). */
int argvcopy_init(struct argvcopy *a, int argc, const char *const *av,
                  const size_t *al);
void argvcopy_free(struct argvcopy *a);

#endif
