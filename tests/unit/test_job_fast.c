/* Unit tests of the enqueue fast path (job_fast.c): job_parse_info gives the
 * full path's answers for every line, and takes the lines it should
 * (job_fast_taken). */
#include "fmacros.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "job.h"
#include "utf8.h"
#include "unit.h"
#include "uuid.h"

/* ---- job_parse_info: the fast path gives the full path's answers ------- */

/* Lines of every shape the fast path takes or must hand over: plain jobs,
 * each field at and beyond its limits, numbers of every form, escapes,
 * duplicates, unknown fields, whitespace, and the kinds it never takes. */
static const char *const info_lines[] = {
    "{\"prompt\":\"a\"}",
    "  {\"prompt\" : \"a\" , \"max_tokens\" : 50 }\r",
    "{\"prompt\":\"\"}",
    "{\"prompt\":\"x\",\"prompt\":\"y\"}",
    "{\"prompt\":\"x\",\"Prompt\":\"y\"}",
    "{\"prompt\":\"x\",\"bogus\":1}",
    "{\"prompt\":1}",
    "{\"prompt\":null}",
    "{\"prompt\":\"tab\\there \\\"quoted\\\" back\\\\slash \\/ \\n\"}",
    "{\"prompt\":\"\\u00e9t\\u00e9\"}",
    "{\"prompt\":\"\\ud83d\\ude80\"}",
    "{\"prompt\":\"na\xc3\xafve \xf0\x9f\x9a\x80\"}",
    "{\"pro\\u006dpt\":\"escaped key\"}",
    "{\"v\":1,\"prompt\":\"x\"}",
    /* prompt caching and versioned templates (the full path only) */
    "{\"prompt\":\"x\",\"system\":[{\"type\":\"text\",\"text\":\"s\","
    "\"cache_control\":{\"type\":\"ephemeral\"}}]}",
    "{\"prompt\":\"x\",\"system\":[{\"type\":\"text\",\"text\":\"s\","
    "\"cache_control\":{\"type\":\"ephemeral\",\"ttl\":\"1h\"}}]}",
    "{\"prompt\":\"x\",\"system\":[{\"type\":\"text\",\"text\":\"s\","
    "\"cache_control\":{\"type\":\"persistent\"}}]}",
    "{\"prompt\":\"x\",\"system\":[]}",
    "{\"prompt\":\"x\",\"system\":5}",
    "{\"prompt\":\"x\",\"template_ref\":\"art@v2\"}",
    "{\"prompt\":\"x\",\"template_ref\":\"art@\"}",
    "{\"prompt\":\"x\",\"template_ref\":\"../x\"}",
    "{\"v\":1.0,\"prompt\":\"x\"}",
    "{\"v\":2,\"prompt\":\"x\"}",
    "{\"id\":\"job-1.a_b:c\",\"prompt\":\"x\"}",
    "{\"id\":\"\",\"prompt\":\"x\"}",
    "{\"id\":\"has space\",\"prompt\":\"x\"}",
    "{\"id\":\"a\\u0062c\",\"prompt\":\"x\"}",
    "{\"id\":"
    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
    "\"prompt\":\"x\"}",
    "{\"id\":"
    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
    "\"prompt\":\"x\"}",
    "{\"id\":7,\"prompt\":\"x\"}",
    "{\"prompt\":\"x\",\"max_tokens\":0}",
    "{\"prompt\":\"x\",\"max_tokens\":1}",
    "{\"prompt\":\"x\",\"max_tokens\":200000}",
    "{\"prompt\":\"x\",\"max_tokens\":200001}",
    "{\"prompt\":\"x\",\"max_tokens\":-5}",
    "{\"prompt\":\"x\",\"max_tokens\":-0}",
    "{\"prompt\":\"x\",\"max_tokens\":50.0}",
    "{\"prompt\":\"x\",\"max_tokens\":5e1}",
    "{\"prompt\":\"x\",\"max_tokens\":50.5}",
    "{\"prompt\":\"x\",\"max_tokens\":1234567890123}",
    "{\"prompt\":\"x\",\"max_tokens\":\"50\"}",
    "{\"prompt\":\"x\",\"max_attempts\":1}",
    "{\"prompt\":\"x\",\"max_attempts\":100}",
    "{\"prompt\":\"x\",\"max_attempts\":101}",
    "{\"prompt\":\"x\",\"timeout_s\":86400}",
    "{\"prompt\":\"x\",\"timeout_s\":86401}",
    "{\"prompt\":\"x\",\"max_continuations\":0}",
    "{\"prompt\":\"x\",\"max_continuations\":-0}",
    "{\"prompt\":\"x\",\"max_continuations\":21}",
    "{\"prompt\":\"x\",\"temperature\":0}",
    "{\"prompt\":\"x\",\"temperature\":2}",
    "{\"prompt\":\"x\",\"temperature\":2.0000001}",
    "{\"prompt\":\"x\",\"temperature\":0.7}",
    "{\"prompt\":\"x\",\"temperature\":-0.1}",
    "{\"prompt\":\"x\",\"temperature\":1e0}",
    "{\"prompt\":\"x\",\"top_p\":0}",
    "{\"prompt\":\"x\",\"top_p\":1}",
    "{\"prompt\":\"x\",\"top_p\":0.0000001}",
    "{\"prompt\":\"x\",\"top_p\":1.5}",
    "{\"prompt\":\"x\",\"temperature\":0.5,\"top_p\":0.5}",
    "{\"prompt\":\"x\",\"priority\":\"high\"}",
    "{\"prompt\":\"x\",\"priority\":\"low\"}",
    "{\"prompt\":\"x\",\"priority\":\"normal\"}",
    "{\"prompt\":\"x\",\"priority\":\"urgent\"}",
    "{\"prompt\":\"x\",\"priority\":\"hi\\u0067h\"}",
    "{\"prompt\":\"x\",\"priority\":1}",
    "{\"prompt\":\"x\",\"idempotency_key\":\"k-1\"}",
    "{\"prompt\":\"x\",\"idempotency_key\":\"\"}",
    "{\"prompt\":\"x\",\"idempotency_key\":\"with \\\"escape\\\"\"}",
    "{\"prompt\":\"x\",\"model\":\"\"}",
    "{\"prompt\":\"x\",\"model\":\"m\"}",
    "{\"prompt\":\"x\",\"system\":\"\"}",
    "{\"prompt\":\"x\",\"system\":\"be brief\"}",
    "{\"prompt\":\"x\",\"delay_s\":5}",
    "{\"prompt\":\"x\",\"run_at\":\"2030-01-01T00:00:00Z\"}",
    "{\"prompt\":\"x\",\"metadata\":{\"n\":1}}",
    "{\"prompt\":\"x\",\"stop_sequences\":[\"END\"]}",
    "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
    "{\"template\":\"article\",\"vars\":{\"topic\":\"Redis\"}}",
    "{\"prompt\":\"x\",\"messages\":[]}",
    "{\"prompt\":\"x\",\"flag\":true}",
    "{\"prompt\":\"x\"} trailing",
    "{\"prompt\":\"x\",}",
    "[\"prompt\"]",
    "{}",
    "   ",
    "",
    "{\"prompt\":\"x\"",
    "{\"prompt\":\"bad \xff utf8\"}",
    /* JSON the fast path must refuse by itself (no syntax check first) */
    "{\"prompt\":\"tab\tinside\"}",
    "{\"prompt\":\"bad \\x escape\"}",
    "{\"prompt\":\"bad \\' escape\"}",
    "{\"prompt\":\"ends in a backslash\\",
    "{\"prompt\":\"x\",\"temperature\":1.}",
    "{\"prompt\":\"x\",\"temperature\":.5}",
    "{\"prompt\":\"x\",\"temperature\":01.5}",
    "{\"prompt\":\"x\",\"temperature\":0.5.1}",
    "{\"prompt\":\"x\",\"temperature\":1.5e0}",
    "{\"prompt\":\"x\",\"temperature\":+1}",
    "{\"prompt\":\"x\",\"temperature\":0.}",
    "{\"prompt\":\"x\",\"temperature\":0..5}",
    "{\"prompt\":\"x\",\"top_p\":00.5}",
    "{\"prompt\":\"x\",\"max_tokens\":012}",
    "{\"prompt\":\"x\",\"max_tokens\":-}",
    "{\"prompt\":\"x\",\"max_tokens\":5 5}",
    "{\"prompt\":\"x\"}}",
    "{\"prompt\":\"x\"}\x0b",
    "{\"prompt\" \"x\"}",
    "{\"prompt\":\"x\" \"max_tokens\":5}",
    "{\"prompt\":\"x\",,\"max_tokens\":5}",
    "{'prompt':'x'}",
    "{\"prompt\":\"x\",\"temperature\":0.25}",
    "{\"prompt\":\"x\",\"temperature\":2}",
    "{\"prompt\":\"x\",\"temperature\":0}",
    "{\"prompt\":\"x\",\"top_p\":1.0}",
    /* notify (issue 18): the full path takes every one, both agree */
    "{\"prompt\":\"x\",\"metadata\":{\"a\":7},\"notify\":[\"a\"]}",
    "{\"prompt\":\"x\",\"notify\":[]}",
    "{\"prompt\":\"x\",\"notify\":\"a\"}",
    "{\"prompt\":\"x\",\"notify\":[\"\"]}",
    "{\"prompt\":\"x\",\"notify\":[1]}",
    "{\"prompt\":\"x\",\"notify\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\","
    "\"h\",\"i\",\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\"]}",
    /* batch (issue 14): a boolean; the fast path takes true and false */
    "{\"prompt\":\"x\",\"batch\":true}",
    "{\"prompt\":\"x\",\"batch\":false}",
    "{\"batch\":true,\"prompt\":\"x\",\"max_tokens\":5}",
    "{\"prompt\":\"x\",\"batch\":1}",
    "{\"prompt\":\"x\",\"batch\":\"true\"}",
    "{\"prompt\":\"x\",\"batch\":null}",
    "{\"prompt\":\"x\",\"batch\":tru}",
    "{\"prompt\":\"x\",\"batch\":truex}",
};

/* Compare the fast path (when it takes the line) with the full path.
 * Returns 1 when the first call took the fast path (job_fast_taken). */
static int
info_same(const char *line, size_t len)
{
    struct job_info a, b;
    struct job_err ea, eb;
    unsigned long taken;
    int ra, rb, fast;

    job_fast_path_disable(0);
    taken = job_fast_taken();
    ra = job_parse_info(line, len, NULL, &ea, &a);
    fast = job_fast_taken() != taken;
    cr_assert(!fast || ra == 0, "the fast path rejected %.*s", (int)len, line);
    job_fast_path_disable(1);
    rb = job_parse_info(line, len, NULL, &eb, &b);
    job_fast_path_disable(0);
    cr_assert_eq(job_fast_taken(), taken + (unsigned long)fast,
                 "the fast path ran while disabled");
    cr_assert_eq(ra, rb, "accept/reject differ for %.*s", (int)len, line);
    if (ra != 0) {
        cr_assert_str_eq(ea.field, eb.field, "%.*s", (int)len, line);
        cr_assert_str_eq(ea.msg, eb.msg, "%.*s", (int)len, line);
        return fast;
    }
    cr_assert_eq(a.id_generated, b.id_generated, "%.*s", (int)len, line);
    cr_assert_eq(a.prio, b.prio, "%.*s", (int)len, line);
    cr_assert_eq(a.max_attempts, b.max_attempts, "%.*s", (int)len, line);
    cr_assert_eq(a.run_at_ms, b.run_at_ms);
    cr_assert_eq(a.delay_ms, b.delay_ms);
    cr_assert_eq(a.idem == NULL, b.idem == NULL, "%.*s", (int)len, line);
    if (a.idem)
        cr_assert_str_eq(a.idem, b.idem);
    cr_assert_eq(a.notify == NULL, b.notify == NULL, "%.*s", (int)len, line);
    if (a.notify)
        cr_assert_str_eq(a.notify, b.notify);
    cr_assert_eq(a.text_len, b.text_len, "%.*s", (int)len, line);
    if (a.id_generated) {
        cr_assert(uuid7_valid(a.id) && uuid7_valid(b.id));
        cr_assert(!memcmp(a.text + 44, b.text + 44, a.text_len - 44), "%s",
                  a.text);
    } else {
        cr_assert_str_eq(a.id, b.id);
        cr_assert_str_eq(a.text, b.text);
    }
    job_info_free(&a);
    job_info_free(&b);
    return fast;
}

Test(jobfast, info_fast_path_gives_the_full_answers)
{
    size_t fast = 0;

    for (size_t i = 0; i < sizeof(info_lines) / sizeof(info_lines[0]); i++)
        fast += (size_t)info_same(info_lines[i], strlen(info_lines[i]));
    /* the comparison means something only when the fast path answered */
    cr_assert_geq(fast, 20, "the fast path took only %zu lines", fast);
}

/* The common job takes the fast path, and everything it leaves alone takes
 * the full one: switching the fast path off fails this test. */
Test(jobfast, info_fast_path_is_taken_for_the_common_job)
{
    static const char *const fast[] = {
        "{\"prompt\":\"x\"}",
        " {\"prompt\":\"hello\",\"max_tokens\":50} ",
        "{\"v\":1,\"id\":\"j-1\",\"prompt\":\"x\"}",
        "{\"prompt\":\"Write about \\\"Redis\\\"\\n\",\"max_tokens\":120}",
        "{\"prompt\":\"x\",\"temperature\":0.7,\"model\":\"m\"}",
        "{\"prompt\":\"x\",\"top_p\":1,\"system\":\"\"}",
        "{\"prompt\":\"x\",\"priority\":\"high\",\"max_attempts\":100}",
        "{\"prompt\":\"x\",\"idempotency_key\":\"k-1\",\"timeout_s\":86400}",
        "{\"prompt\":\"x\",\"max_continuations\":0}",
        "{\"prompt\":\"caf\xc3\xa9 \xe2\x82\xac\"}",
    };
    static const char *const full[] = {
        "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
        "{\"prompt\":\"x\",\"metadata\":{\"n\":1}}",
        "{\"prompt\":\"x\",\"delay_s\":5}",
        "{\"prompt\":\"x\",\"run_at\":\"2030-01-01T00:00:00Z\"}",
        "{\"prompt\":\"\\u0078\"}",
        "{\"prompt\":\"x\",\"max_tokens\":0}",
        "{\"prompt\":\"x\",\"flag\":true}",
        "{\"prompt\":\"x\"",
        "{\"prompt\":\"x\",\"notify\":[]}",
    };

    for (size_t i = 0; i < sizeof(fast) / sizeof(fast[0]); i++)
        cr_assert(info_same(fast[i], strlen(fast[i])), "full path: %s",
                  fast[i]);
    for (size_t i = 0; i < sizeof(full) / sizeof(full[0]); i++)
        cr_assert(!info_same(full[i], strlen(full[i])), "fast path: %s",
                  full[i]);
}

/* Every cut of a few valid lines (each prefix is mostly invalid) and every
 * single-byte change of one: the two paths still agree. */
Test(jobfast, info_fast_path_agrees_on_cuts_and_byte_flips)
{
    static const char *const base[] = {
        "{\"id\":\"j-9\",\"prompt\":\"Write about "
        "\\\"Redis\\\"\",\"max_tokens\":"
        "120,\"temperature\":0.25,\"priority\":\"high\",\"max_attempts\":3}",
        "{\"prompt\":\"x\",\"idempotency_key\":\"key-1\",\"timeout_s\":30,"
        "\"model\":\"claude\",\"system\":\"s\",\"max_continuations\":2}"};
    static const char repl[] = "\"\\{}:,0 9.-eE1uaZ\x80\xc3";
    char buf[256];

    for (int b = 0; b < 2; b++) {
        size_t n = strlen(base[b]);
        cr_assert_lt(n, sizeof(buf));
        for (size_t cut = 0; cut <= n; cut++)
            info_same(base[b], cut);
        for (size_t at = 0; at < n; at++)
            for (size_t r = 0; r < sizeof(repl) - 1; r++) {
                memcpy(buf, base[b], n);
                buf[at] = repl[r];
                info_same(buf, n);
            }
    }
}

/* The fast path takes the common job: the stored text is the line itself
 * with the generated id first. */
Test(jobfast, info_fast_path_stores_the_line_with_its_id)
{
    struct job_info in;
    struct job_err err;
    const char *line = " {\"prompt\":\"hello\",\"max_tokens\":50} ";
    unsigned long taken = job_fast_taken();

    cr_assert_eq(job_parse_info(line, strlen(line), NULL, &err, &in), 0);
    cr_assert_eq(job_fast_taken(), taken + 1);
    cr_assert(in.id_generated);
    cr_assert_eq(strlen(in.id), 36);
    cr_assert(!strncmp(in.text, "{\"id\":\"", 7));
    cr_assert(!strncmp(in.text + 7, in.id, 36));
    cr_assert_str_eq(in.text + 43,
                     "\",\"prompt\":\"hello\",\"max_tokens\":50}");
    cr_assert_eq(in.text_len, strlen(in.text));
    cr_assert_eq(in.prio, JOB_PRIO_NORMAL);
    job_info_free(&in);
}

/* The string scanners take 8 plain bytes at a time: a quote, backslash,
 * control character or non-ASCII byte at any offset of a long string is
 * still seen, by both the syntax check and the fast path. */
Test(jobfast, string_scan_sees_every_byte_at_every_offset)
{
    char line[128];
    struct job_info in;
    struct job_err err;

    for (int at = 0; at < 40; at++) {
        /* a control character: rejected */
        snprintf(line, sizeof(line), "{\"prompt\":\"%.*s\x01%.*s\"}", at,
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 39 - at,
                 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
        cr_assert_eq(job_parse_info(line, strlen(line), NULL, &err, &in), -1,
                     "control char at %d", at);
        cr_assert(strstr(err.msg, "control character"), "%s", err.msg);
        /* an escaped quote, a backslash pair and a two-byte character:
         * accepted, the stored text the line itself */
        snprintf(line, sizeof(line),
                 "{\"id\":\"s-%d\",\"prompt\":\"%.*s\\\"\\\\\xc3\xa9%.*s\"}",
                 at, at, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 39 - at,
                 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
        cr_assert_eq(job_parse_info(line, strlen(line), NULL, &err, &in), 0,
                     "at %d: %s", at, err.msg);
        cr_assert_str_eq(in.text, line);
        job_info_free(&in);
        cr_assert(info_same(line, strlen(line)), "full path at %d", at);
        /* the string ends early: a quote at that offset closes it */
        snprintf(line, sizeof(line), "{\"prompt\":\"%.*s\"x\"}", at,
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        cr_assert_eq(job_parse_info(line, strlen(line), NULL, &err, &in), -1,
                     "a stray quote at %d", at);
    }
}
