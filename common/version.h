/* The version of genq (VERSION, plus the commit when built from a git
 * checkout: "0.1.0+1a2b3c4", "+1a2b3c4-dirty" with local changes), built
 * in from build/gen/genq_version.h (the Makefile's GENQ_VERSION). A static
 * string: nothing to free. */
#ifndef GENQ_VERSION_H
#define GENQ_VERSION_H

extern const char genq_version[];

#endif
