/* Helpers shared by the unit tests (tests/unit): the stream transcripts
 * of llm-api.md (unit_fixtures.c), a seeded random generator, the job
 * test fixtures (unit_job.c). */
#ifndef GENQ_UNIT_H
#define GENQ_UNIT_H

#include <stddef.h>
#include <stdint.h>

#include "job.h"

/* llm-api.md §2: the Anthropic basic_response.txt stream, 9 events. */
extern const char unit_anthropic_basic[];

/* llm-api.md §6: an OpenAI stream with a usage chunk and [DONE]. */
extern const char unit_openai_chunks[];

/* A 64-bit LCG step: the next pseudo-random value from *s (31 bits). */
static inline uint64_t
unit_lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

#endif
