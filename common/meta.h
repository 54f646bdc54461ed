/* The meta record of a job: the C formatter and parser (the Lua ones are
 * meta_pack / meta_unpack / job_header in common/lua/prelude.lua; the two
 * must write and read the same bytes).
 *
 * Version 1 (META_VERSION), one string of nine '|'-separated fields:
 *   state|attempts|max_attempts|prio|token|worker|enqueued_ms|updated_ms|flags
 * state: queued delayed active succeeded dead canceled; prio: 0 high 1
 * normal 2 low; max_attempts 0 = not yet resolved (claim sets the worker
 * default); token: the lease token of the current claim, "" when not
 * active, except that a succeeded job of a held claim (token "SEQ:MS:h",
 * layout 5: prelude.lua K_HELD) keeps it; flags: "", "cancel:TTL_MS" or "rq:N"
 * (README "Redis layout").
 *
 * The version tag is the first field: in version 1 it is the state, a
 * lowercase word; a record of any later version N opens with "N|" (a digit,
 * which no state starts with), so a parser tells them apart at the first
 * byte and refuses a version it does not know. The layout version in
 * KEY_LAYOUT (layout.h) is bumped with it, so an older genq refuses such a
 * Redis before it reads a record.
 *
 * The bulk header: a job enqueued by enqueue.lua or intake.lua has no meta
 * field until its first claim or change; its value in the jobs hash is its
 * meta record, a newline, then its JSON payload.
 *
 * Inline jobs (layout 3): a job enqueued by the bulk path of `genq enqueue`
 * is one ready-list element, META_INLINE_MARK, its id, '|', the bulk
 * header, then its payload (meta_format_inline()); nothing in the jobs or
 * meta hash until claimed (claim.lua keeps the element, as it is, in its
 * claim's held list, and moves it into the jobs hash when the job leaves
 * active other than succeeded: layout 5) or found by ready_find.lua. So a
 * jobs-hash value may open with that prefix too: meta_header_len() skips
 * both. */
#ifndef GENQ_META_H
#define GENQ_META_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"

#define META_VERSION     1
#define META_HEADER_MAX  128 /* room for any meta_format_header() output */
#define META_INLINE_MARK '@' /* opens an inline job; no id can */
/* room for any meta_format_inline() output (ids: JOB_ID_MAX = 128 bytes) */
#define META_INLINE_MAX (META_HEADER_MAX + 128 + 2)

/* A parsed record. Strings are copies (cut to their buffer's size). */
struct meta {
    char state[16];
    long attempts;
    long max_attempts;
    int prio;
    char token[LEASE_TOKEN_SIZE];
    char worker[128];
    int64_t enqueued_ms;
    int64_t updated_ms;
    char flags[48];
};

/* Write the bulk header of a new queued job, "queued|0|MAX|PRIO|||T|T|\n"
 * (newline included), into out (n bytes, META_HEADER_MAX is enough).
 * Returns its length as snprintf does. No allocation. */
int meta_format_header(char *out, size_t n, int max_attempts, int prio,
                       int64_t now_ms);

/* Write the head of an inline job, "@ID|queued|0|MAX|PRIO|||T|T|\n" (the
 * payload follows it), into out (n bytes, META_INLINE_MAX is enough for any
 * valid id). Returns its length as snprintf does. No allocation. */
int meta_format_inline(char *out, size_t n, const char *id, int max_attempts,
                       int prio, int64_t now_ms);

/* Parse record s (len bytes, no newline; need not be NUL-terminated) into
 * *m. Returns 0, -1 when it is not a record, or -2 when it is a record of a
 * version this genq does not know. No allocation. */
int meta_parse(const char *s, size_t len, struct meta *m);

/* The length of the bulk header at the start of stored job value v, its
 * newline included, and of the inline prefix "@ID|" before it when there is
 * one: v + meta_header_len(v) is the payload. 0 when v (may be NULL) has
 * no header. */
size_t meta_header_len(const char *v);

#endif
