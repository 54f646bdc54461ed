/* The version of genq's Redis layout (key names, the meta record, the bulk
 * header; see keys.h and meta.h). Redis holds it in KEY_LAYOUT: the first
 * genq program that connects sets it (SET NX), and every program refuses a
 * Redis whose version it does not know. Bump LAYOUT_VERSION with any change
 * an older genq would misread. */
#ifndef GENQ_LAYOUT_H
#define GENQ_LAYOUT_H

#include <stddef.h>

#define LAYOUT_VERSION "1"

/* Fill av with the command that sets the layout version if absent and
 * returns the one Redis held before (nil when it held none): SET
 * KEY_LAYOUT LAYOUT_VERSION NX GET (Redis >= 7.0). The strings are static:
 * nothing to free. */
#define LAYOUT_ARGC 5
void layout_command(const char *av[LAYOUT_ARGC]);

/* Check the reply of layout_argv: held is the version Redis held (NULL when
 * none, now set to ours). where names the Redis ("127.0.0.1:6379/0"). 0 when
 * this genq knows it; else -1 with the refusal in err. No allocation. */
int layout_check(const char *held, const char *where, char *err, size_t errlen);

#endif
