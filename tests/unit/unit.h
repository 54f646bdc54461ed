/* Helpers shared by the unit tests (tests/unit): the stream transcripts
 * of llm-api.md (unit_fixtures.c), a seeded random generator, the job
 * test fixtures (unit_job.c). */
#ifndef GENQ_UNIT_H
#define GENQ_UNIT_H

#include <stddef.h>
#include <stdint.h>

#include "job.h"
#include "llm.h"

/* llm-api.md §2: the Anthropic basic_response.txt stream, 9 events. */
extern const char unit_anthropic_basic[];

/* llm-api.md §6: an OpenAI stream with a usage chunk and [DONE]. */
extern const char unit_openai_chunks[];

/* What a successful llm_result holds (unit_expect_result). */
struct unit_want {
    const char *text, *id, *model, *stop_reason, *stop_sequence;
    long input_tokens, output_tokens, cache_creation, cache_read;
};

/* Assert that r succeeded, is complete and holds exactly w. */
void unit_expect_result(const struct llm_result *r, const struct unit_want *w);

/* A 64-bit LCG step: the next pseudo-random value from *s (31 bits). */
static inline uint64_t
unit_lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

/* The job fixtures (unit_job.c). tj_setup() makes tj_dir, a templates
 * directory with "article", "plain", "twice", "empty" and the versioned
 * "a@v1", "a@v2", "h", "bad", "clash@v3" (test_templates.c); tj_teardown()
 * removes it; tj_opts points at it. */
extern char tj_dir[64];
extern struct job_opts tj_opts;
void tj_setup(void);
void tj_teardown(void);

/* job_parse(line) with tj_opts must accept: the job, caller frees with
 * cJSON_Delete(). */
cJSON *tj_accept_len(const char *line, size_t len);
cJSON *tj_accept(const char *line);

/* job_parse(line) must fail with this field and a message containing
 * needle. */
void tj_reject_len(const char *line, size_t len, const char *field,
                   const char *needle);
void tj_reject(const char *line, const char *field, const char *needle);

/* n copies of c; caller frees with free(). */
char *tj_rep(char c, size_t n);

/* The concatenation of the strings up to a NULL; caller frees with
 * free(). */
char *tj_cat(const char *first, ...);

#endif
