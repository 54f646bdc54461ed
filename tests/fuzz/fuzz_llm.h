/* Invariants of a decoded LLM result that every fuzz target decoding API
 * responses checks (fuzz_sse: streams, fuzz_llm_body: plain bodies). */
#ifndef GENQ_FUZZ_LLM_H
#define GENQ_FUZZ_LLM_H

#include "fuzzutil.h"
#include "llm.h"

/* Fields bounded and NUL-terminated, the text within its cap, counters not
 * negative, a failure named; every field valid UTF-8 whatever the input
 * holds (cut on a character, other bytes replaced), the text too when the
 * input is (utf8). */
static inline void
fuzz_check_llm_result(const struct llm_result *r, int utf8)
{
    FUZZ_CHECK_TEXT(r->id);
    FUZZ_CHECK_TEXT(r->model);
    FUZZ_CHECK_TEXT(r->stop_reason);
    FUZZ_CHECK_TEXT(r->stop_sequence);
    FUZZ_CHECK_TEXT(r->err.type);
    FUZZ_CHECK_TEXT(r->err.message);
    FUZZ_CHECK_TEXT(r->err.request_id);
    FUZZ_CHECK(r->text.max == 0 || r->text.len <= r->text.max);
    FUZZ_CHECK(r->text.data == NULL || r->text.data[r->text.len] == '\0');
    FUZZ_CHECK(r->input_tokens >= 0 && r->output_tokens >= 0);
    FUZZ_CHECK(r->cache_creation_input_tokens >= 0);
    FUZZ_CHECK(r->cache_read_input_tokens >= 0);
    FUZZ_CHECK(!r->failed || r->err.type[0] != '\0');
    if (utf8)
        FUZZ_CHECK(utf8_valid(r->text.data ? r->text.data : "", r->text.len));
}

#endif
