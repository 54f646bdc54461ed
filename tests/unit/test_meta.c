/* Unit tests of the meta record (common/meta.c): the bulk header writer
 * gives the bytes the Lua scripts read (prelude.lua job_header, claim.lua),
 * the parser reads every field, refuses what is not a record and tells a
 * later version apart; and the layout version check (common/layout.c). */
#include "fmacros.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "job.h"
#include "layout.h"
#include "meta.h"

Test(meta, header_bytes)
{
    char h[META_HEADER_MAX];
    int n = meta_format_header(h, sizeof(h), 3, 2, INT64_C(1700000000123));

    cr_assert_str_eq(h, "queued|0|3|2|||1700000000123|1700000000123|\n");
    cr_assert_eq(n, (int)strlen(h));
    /* the longest header fits */
    n = meta_format_header(h, sizeof(h), 2147483647, 2, INT64_MAX);
    cr_assert_lt(n, META_HEADER_MAX);
}

Test(meta, header_len_and_payload)
{
    char v[256];
    int n = meta_format_header(v, sizeof(v), 0, 1, 5);

    strcpy(v + n, "{\"id\":\"a\"}");
    cr_assert_eq(meta_header_len(v), (size_t)n);
    cr_assert_str_eq(v + meta_header_len(v), "{\"id\":\"a\"}");
    /* the same cut as job_stored_payload() */
    cr_assert_eq(job_stored_payload(v), v + n);
    cr_assert_eq(meta_header_len("{\"id\":\"a\"}"), 0);
    cr_assert_eq(meta_header_len("queued|0|0|1|||5|5|"), 0); /* no newline */
    cr_assert_eq(meta_header_len(NULL), 0);
}

/* An inline job (layout 3): "@ID|", the header, the payload; the same
 * cut to the payload, prefix and header skipped, as a jobs-hash value. */
Test(meta, inline_head_and_payload)
{
    char v[META_INLINE_MAX + 32], id[129];
    int n = meta_format_inline(v, sizeof(v), "job-1", 3, 2, 7);

    cr_assert_str_eq(v, "@job-1|queued|0|3|2|||7|7|\n");
    cr_assert_eq(n, (int)strlen(v));
    strcpy(v + n, "{\"id\":\"job-1\"}");
    cr_assert_eq(meta_header_len(v), (size_t)n);
    cr_assert_str_eq(job_stored_payload(v), "{\"id\":\"job-1\"}");
    /* the longest id and header fit */
    memset(id, 'x', 128);
    id[128] = '\0';
    n = meta_format_inline(v, sizeof(v), id, 2147483647, 2, INT64_MAX);
    cr_assert_lt(n, META_INLINE_MAX);
    /* not a header after the prefix, or no bar: no cut */
    cr_assert_eq(meta_header_len("@job-1|{\"id\":1}"), 0);
    cr_assert_eq(meta_header_len("@job-1"), 0);
    cr_assert_eq(meta_header_len("@job-1|queued|0|0|1|||5|5|"), 0);
}

/* Assert every field of m against want. */
static void
meta_expect(const struct meta *m, const struct meta *want)
{
    cr_assert_str_eq(m->state, want->state);
    cr_assert_eq(m->attempts, want->attempts);
    cr_assert_eq(m->max_attempts, want->max_attempts);
    cr_assert_eq(m->prio, want->prio);
    cr_assert_str_eq(m->token, want->token);
    cr_assert_str_eq(m->worker, want->worker);
    cr_assert_eq(m->enqueued_ms, want->enqueued_ms);
    cr_assert_eq(m->updated_ms, want->updated_ms);
    cr_assert_str_eq(m->flags, want->flags);
}

Test(meta, parse_header_round_trip)
{
    char h[META_HEADER_MAX];
    struct meta m;
    int n = meta_format_header(h, sizeof(h), 4, 0, 42);

    cr_assert_eq(meta_parse(h, (size_t)n - 1, &m), 0);
    meta_expect(&m, &(struct meta){"queued", 0, 4, 0, "", "", 42, 42, ""});
}

Test(meta, parse_active_record)
{
    const char *s = "active|2|5|1|17:1700000000000|w-1|100|200|cancel:3600000";
    struct meta m;

    cr_assert_eq(meta_parse(s, strlen(s), &m), 0);
    meta_expect(&m, &(struct meta){"active", 2, 5, 1, "17:1700000000000", "w-1",
                                   100, 200, "cancel:3600000"});
    /* need not be NUL-terminated: a prefix of a longer buffer */
    cr_assert_eq(meta_parse("dead|1|1|2|||1|2|rq:1XYZ", 21, &m), 0);
    cr_assert_str_eq(m.flags, "rq:1");
}

Test(meta, parse_refuses)
{
    static const char *bad[] = {
        "",
        "queued|0|3|2|||1|2",   /* eight fields */
        "queued|0|3|2|||1|2||", /* ten fields */
        "queued|x|3|2|||1|2|",  /* attempts not a number */
        "queued|0||2|||1|2|",   /* empty max_attempts */
        "Queued|0|3|2|||1|2|",  /* not a state word */
        "{\"id\":\"a\"}",
    };
    struct meta m;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(meta_parse(bad[i], strlen(bad[i]), &m), -1, "%s", bad[i]);
    cr_assert_eq(meta_parse("2|queued|0|3|2|||1|2|", 21, &m), -2,
                 "a later version is told apart");
}

Test(layout, check)
{
    char err[256];
    const char *set[LAYOUT_SET_ARGC], *get[LAYOUT_GET_ARGC];

    layout_commands(set, get);
    cr_assert_str_eq(set[0], "SET");
    cr_assert_str_eq(set[1], "genq:layout");
    cr_assert_str_eq(set[2], LAYOUT_VERSION);
    cr_assert_str_eq(set[3], "NX");
    cr_assert_str_eq(get[0], "GET");
    cr_assert_str_eq(get[1], "genq:layout");
    cr_assert_eq(layout_check(NULL, "h:1/0", err, sizeof(err)), 0);
    cr_assert_eq(layout_check(LAYOUT_VERSION, "h:1/0", err, sizeof(err)), 0);
    cr_assert_eq(layout_check("6", "127.0.0.1:6379/0", err, sizeof(err)), -1);
    cr_assert_str_eq(err, "Redis at 127.0.0.1:6379/0 holds genq layout "
                          "version 6; this genq knows layout 5");
    /* layout 1 is upgraded (its budget keys renamed), not refused; so are
     * layout 2 (nothing to move: it holds no inline job) and layout 3 (its
     * done members are batches of one) and layout 4 (it holds no held
     * claim) */
    cr_assert_eq(layout_check("1", "h:1/0", err, sizeof(err)), 1);
    cr_assert_eq(layout_check("2", "h:1/0", err, sizeof(err)), 1);
    cr_assert_eq(layout_check("3", "h:1/0", err, sizeof(err)), 1);
    cr_assert_eq(layout_check("4", "h:1/0", err, sizeof(err)), 1);
}

Test(layout, upgrade_argv)
{
    const char *av[LAYOUT_UPGRADE_ARGC];
    struct layout_upgrade s;
    /* 2026-12-06 12:00 UTC */
    int n = layout_upgrade_argv(av, &s, 1796558400LL);

    cr_assert_eq(n, LAYOUT_UPGRADE_ARGC);
    cr_assert_str_eq(av[0], "EVAL");
    cr_assert_str_eq(av[2], "7");
    cr_assert_str_eq(av[3], "genq:budget:caps");
    cr_assert_str_eq(av[4], "genq:{budget}:caps");
    cr_assert_str_eq(av[5], "genq:budget:day:2026-12-06");
    cr_assert_str_eq(av[6], "genq:{budget}:day:2026-12-06");
    cr_assert_str_eq(av[7], "genq:budget:month:2026-12");
    cr_assert_str_eq(av[8], "genq:{budget}:month:2026-12");
    cr_assert_str_eq(av[9], "genq:layout");
    cr_assert_str_eq(av[10], LAYOUT_VERSION);
}
