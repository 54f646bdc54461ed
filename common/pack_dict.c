/* The content of the zstd dictionary of stored job payloads (pack.h, tags
 * 0x03/0x04; its entropy tables are pack_zdict.c): the JSON skeleton of
 * typical genq jobs (the field names of schemas/job.schema.json, common
 * model names and message shapes) and words and phrases common in
 * generation prompts. Nearer matches cost fewer bits, so the most common
 * strings come last. Frozen: a stored payload is decoded with this exact
 * text; any change needs a new tag (pack.h) and this one kept. The prompt
 * text is generic phrasing plus genq's own templates; nothing is taken
 * from the benchmarks' requests (bench/lib/scale.py article() opens like
 * templates/article.tmpl, which this holds: README "Issue 15" says what
 * that is worth). */
#include "pack.h"

const char pack_dict[] =
    /* rarer fields and values */
    "\"stop_sequences\":[\"\\n\\n\"],\"top_p\":0.9,\"timeout_s\":120,"
    "\"max_continuations\":1,\"run_at\":\"2026-01-01T00:00:00Z\","
    "\"delay_s\":60,\"max_attempts\":3,\"template_ref\":\"\","
    "\"notify\":{\"url\":\"https://\",\"headers\":{}},\"batch\":true,"
    "\"template\":\"\",\"vars\":{\"name\":\"\",\"topic\":\"\","
    "\"language\":\"en\"},\"priority\":\"high\",\"priority\":\"low\","
    "\"v\":1,"
    /* models */
    "\"model\":\"gpt-4o-mini\",\"model\":\"gpt-4o\",\"model\":\"gpt-4.1-mini\","
    "\"model\":\"gpt-4.1\",\"model\":\"o4-mini\",\"model\":\"gpt-5-mini\","
    "\"model\":\"claude-3-5-haiku-latest\",\"model\":\"claude-haiku-4-5\","
    "\"model\":\"claude-opus-4-1\",\"model\":\"claude-sonnet-4-5\","
    "\"temperature\":0.7,\"temperature\":0,"
    /* messages */
    "\"system\":\"You are a helpful assistant. \","
    "\"messages\":[{\"role\":\"system\",\"content\":\"You are a helpful "
    "assistant.\"},{\"role\":\"assistant\",\"content\":\"\"},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\""
    /* prompt words */
    " Summarize the following text in three sentences. Translate the "
    "following into English. Answer the question below. Classify the "
    "sentiment of this review as positive, negative or neutral. Extract the "
    "names, dates and amounts. Compare the two and give an example. Use "
    "Markdown, with headings. Return only JSON. Do not include a preamble. "
    "Keep it short and simple. Write a blog post, a product description, an "
    "email, a report, a summary, a list of ideas, a story for children, a "
    "tutorial, a guide for beginners, a review. "
    /* the text of genq's own templates (templates/explainer.tmpl,
     * templates/article.tmpl), placeholders left out */
    "Explain  to a reader who knows  but has never used . Start with the "
    "problem it solves, then walk through one worked example step by step, "
    "then list common mistakes. Keep it under  words. Write a technical "
    "article of about  words on  for . Structure it with a short "
    "introduction, three to five sections with headings, concrete examples "
    "(code where it helps), and a conclusion that lists the key takeaways. "
    "Use plain, precise language; define terms the first time you use them; "
    "do not invent benchmarks, citations or version numbers. "
    "the of and to in is that for with on as by it from this be are or at "
    "an was which not you your their what when how why who "
    /* the common fields last */
    "\"metadata\":{\"user_id\":\"\",\"source\":\"\",\"customer_id\":\"\","
    "\"article_id\":1},\"max_tokens\":1024,\"max_tokens\":2000,"
    "\"max_tokens\":500,\"prompt\":\"Write a ";

const size_t pack_dict_len = sizeof(pack_dict) - 1;
