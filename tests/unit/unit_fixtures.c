/* Stream transcripts shared by the unit tests of sse.c and the llm stream
 * decoder (test_sse.c, test_llm_stream.c), and the check of a decoded
 * result; declared in unit.h. */
#include "fmacros.h"

#include <criterion/criterion.h>

#include "unit.h"

void
unit_expect_result(const struct llm_result *r, const struct unit_want *w)
{
    cr_assert_eq(r->failed, 0, "failed: %s %s", r->err.type, r->err.message);
    cr_assert(r->complete);
    cr_assert_eq(r->got_first_token, w->text[0] != '\0');
    cr_assert_str_eq(r->text.data, w->text);
    cr_assert_str_eq(r->id, w->id);
    cr_assert_str_eq(r->model, w->model);
    cr_assert_str_eq(r->stop_reason, w->stop_reason);
    cr_assert_str_eq(r->stop_sequence, w->stop_sequence);
    cr_assert_eq(r->input_tokens, w->input_tokens);
    cr_assert_eq(r->output_tokens, w->output_tokens);
    cr_assert_eq(r->cache_creation_input_tokens, w->cache_creation);
    cr_assert_eq(r->cache_read_input_tokens, w->cache_read);
}

/* llm-api.md §2, Python SDK fixture basic_response.txt, verbatim. */
const char unit_anthropic_basic[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_"
    "4QpJur2dWWDjF6C758FbBw5vm12BaVipnK\",\"type\":\"message\",\"role\":"
    "\"assistant\",\"content\":[],\"model\":\"claude-3-opus-latest\","
    "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":"
    "11,\"output_tokens\":1}}}\n"
    "\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{"
    "\"type\":\"text\",\"text\":\"\"}}\n"
    "\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
    "\"text_delta\",\"text\":\"Hello\"}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
    "\"text_delta\",\"text\":\" there\"}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
    "\"text_delta\",\"text\":\"!\"}}\n"
    "\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n"
    "\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\","
    "\"stop_sequence\":null},\"usage\":{\"output_tokens\":6}}\n"
    "\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n"
    "\n";

/* llm-api.md §6 chunk transcript with the usage chunk and [DONE]. */
const char unit_openai_chunks[] =
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\","
    "\"created\":1694268190,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":"
    "\"fp_44709d6fcb\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
    "\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}"
    "],\"usage\":null}\n"
    "\n"
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\","
    "\"created\":1694268190,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":"
    "\"fp_44709d6fcb\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
    "\"Hello\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n"
    "\n"
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\","
    "\"created\":1694268190,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":"
    "\"fp_44709d6fcb\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":"
    "null,\"finish_reason\":\"stop\"}],\"usage\":null}\n"
    "\n"
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\","
    "\"created\":1694268190,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":"
    "\"fp_44709d6fcb\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,"
    "\"completion_tokens\":2,\"total_tokens\":11}}\n"
    "\n"
    "data: [DONE]\n"
    "\n";
