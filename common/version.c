/* version: genq_version, the string the Makefile writes into
 * build/gen/genq_version.h as GENQ_VERSION (genq --version, genq-worker
 * --version, the worker registry's "version"). One object depends on it,
 * so a new commit recompiles this file only. */
#include "fmacros.h"

#include "version.h"

#include "genq_version.h"

const char genq_version[] = GENQ_VERSION;
