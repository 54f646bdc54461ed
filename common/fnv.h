/* FNV-1a, 64 bits: the one non-cryptographic hash of genq (prompt-cache
 * groups, batch entry merging, template splits). Pure; can't fail. */
#ifndef GENQ_FNV_H
#define GENQ_FNV_H

#include <stddef.h>
#include <stdint.h>

#define FNV64_OFFSET 1469598103934665603ULL

/* Hash p[0..n) continuing from h (FNV64_OFFSET to start). */
static inline uint64_t
fnv64(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

#endif
