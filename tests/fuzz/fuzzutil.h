/* Shared helpers of the libFuzzer targets in tests/fuzz/: an invariant check
 * that aborts (so libFuzzer keeps the input), a seeded PRNG for split points,
 * and checks on fixed-size string fields. Header-only (static functions). */
#ifndef GENQ_FUZZUTIL_H
#define GENQ_FUZZUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* LLVMFuzzerTestOneInput is called by libFuzzer's own main(). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant that must hold for every input: on failure print it and
 * abort(), which libFuzzer reports as a crash and saves the input. */
#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* A small deterministic PRNG (splitmix64) so a saved input replays the same
 * split points. */
static inline uint64_t
fuzz_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Take up to 8 bytes from the front of *data as a seed. */
static inline uint64_t
fuzz_take_seed(const uint8_t **data, size_t *size, size_t n)
{
    uint64_t seed = 0;

    for (size_t i = 0; i<n && * size> 0; i++) {
        seed = (seed << 8) | **data;
        (*data)++;
        (*size)--;
    }
    return seed;
}

/* A fixed-size char field is NUL-terminated within its array. */
#define FUZZ_CHECK_FIELD(arr) FUZZ_CHECK(memchr((arr), '\0', sizeof(arr)))

/* A NUL-terminated string field is valid UTF-8. */
#define FUZZ_CHECK_UTF8(s) FUZZ_CHECK(utf8_valid((s), strlen(s)))

/* Both: a fixed-size char field is NUL-terminated, then valid UTF-8. */
#define FUZZ_CHECK_TEXT(arr)                                                   \
    do {                                                                       \
        FUZZ_CHECK_FIELD(arr);                                                 \
        FUZZ_CHECK_UTF8(arr);                                                  \
    } while (0)

#endif
