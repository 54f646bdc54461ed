/* Feature-test macros: include first in every .c file, before any system
 * header, so that POSIX.1-2008 and the BSD/GNU extras we use are declared. */
#ifndef GENQ_FMACROS_H
#define GENQ_FMACROS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#endif
