/* libFuzzer target: sse_feed() fed whole and in random splits must dispatch
 * the same events with the same outcome, and llm_stream_feed() (Anthropic and
 * OpenAI) must reach the same result whatever the splits, and whether its
 * fast path (llm_stream_set_fastpath) is on or off. */
#include "fmacros.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz_llm.h"
#include "fuzzutil.h"
#include "llm.h"
#include "sse.h"

/* Records every event as "<evlen>:<event>\x1f<dlen>:<data>\x1e". */
struct rec {
    struct buf log;
    int n;
    int stop_after; /* the callback stops the parser at this event; 0 = no */
};

static int
rec_fn(void *ud, const char *ev, size_t evlen, const char *data, size_t dlen)
{
    struct rec *r = ud;
    char num[32];

    FUZZ_CHECK(ev != NULL && data != NULL);
    FUZZ_CHECK(ev[evlen] == '\0');
    FUZZ_CHECK(data[dlen] == '\0');
    snprintf(num, sizeof num, "%zu:", evlen);
    FUZZ_CHECK(buf_append_str(&r->log, num) == 0);
    FUZZ_CHECK(buf_append(&r->log, ev, evlen) == 0);
    snprintf(num, sizeof num, "\x1f%zu:", dlen);
    FUZZ_CHECK(buf_append_str(&r->log, num) == 0);
    FUZZ_CHECK(buf_append(&r->log, data, dlen) == 0);
    FUZZ_CHECK(buf_append(&r->log, "\x1e", 1) == 0);
    r->n++;
    return r->stop_after != 0 && r->n >= r->stop_after;
}

struct sse_out {
    struct buf log;
    int rc, err, pending;
    unsigned long events;
};

/* Feed s whole (split == 0) or in random pieces of 0..max_piece bytes. */
static void
run_sse(const char *s, size_t len, int split, uint64_t seed, size_t max_event,
        int stop_after, struct sse_out *out)
{
    struct sse_parser p;
    struct rec r;
    size_t i = 0, max_piece = 1 + (size_t)(fuzz_rand(&seed) % 64);

    buf_init(&r.log, 0);
    FUZZ_CHECK(buf_append(&r.log, "", 0) == 0);
    r.n = 0;
    r.stop_after = stop_after;
    sse_init(&p, rec_fn, &r, max_event);
    out->rc = 0;
    if (!split) {
        out->rc = sse_feed(&p, s, len);
    } else {
        while (i < len) {
            size_t n = (size_t)(fuzz_rand(&seed) % (max_piece + 1));
            if (n > len - i)
                n = len - i;
            out->rc = sse_feed(&p, s + i, n);
            i += n;
            if (out->rc != 0)
                break;
        }
    }
    FUZZ_CHECK(out->rc == 0 || out->rc == -1);
    FUZZ_CHECK((out->rc == 0) == (p.err == SSE_ERR_NONE));
    if (out->rc != 0) /* errors are sticky */
        FUZZ_CHECK(sse_feed(&p, "data: x\n\n", 9) == -1);
    out->err = p.err;
    out->pending = sse_pending(&p);
    out->events = p.events;
    FUZZ_CHECK(p.events == (unsigned long)r.n);
    FUZZ_CHECK(sse_strerror(p.err) != NULL);
    sse_free(&p);
    out->log = r.log;
}

static void
check_same_result(const struct llm_result *a, const struct llm_result *b)
{
    FUZZ_CHECK(a->text.len == b->text.len);
    FUZZ_CHECK(a->text.len == 0 ||
               memcmp(a->text.data, b->text.data, a->text.len) == 0);
    FUZZ_CHECK(strcmp(a->id, b->id) == 0);
    FUZZ_CHECK(strcmp(a->model, b->model) == 0);
    FUZZ_CHECK(strcmp(a->stop_reason, b->stop_reason) == 0);
    FUZZ_CHECK(strcmp(a->stop_sequence, b->stop_sequence) == 0);
    FUZZ_CHECK(a->input_tokens == b->input_tokens);
    FUZZ_CHECK(a->output_tokens == b->output_tokens);
    FUZZ_CHECK(a->cache_creation_input_tokens ==
               b->cache_creation_input_tokens);
    FUZZ_CHECK(a->cache_read_input_tokens == b->cache_read_input_tokens);
    FUZZ_CHECK(a->complete == b->complete);
    FUZZ_CHECK(a->text_deltas == b->text_deltas);
    FUZZ_CHECK(a->got_first_token == b->got_first_token);
    FUZZ_CHECK(a->failed == b->failed);
    FUZZ_CHECK(a->err.http_status == b->err.http_status);
    FUZZ_CHECK(strcmp(a->err.type, b->err.type) == 0);
    FUZZ_CHECK(strcmp(a->err.message, b->err.message) == 0);
    FUZZ_CHECK(strcmp(a->err.request_id, b->err.request_id) == 0);
}

/* Decode s as a stream of provider p, whole or split, with or without the
 * fast path; returns finish()'s code through *frc. */
static void
run_stream(enum llm_provider p, const char *s, size_t len, int split, int fast,
           uint64_t seed, size_t text_max, struct llm_result *r, int *frc)
{
    struct llm_stream *st;
    size_t i = 0, max_piece = 1 + (size_t)(fuzz_rand(&seed) % 128);
    int rc = 0;

    llm_result_init(r);
    if (text_max)
        r->text.max = text_max;
    st = llm_stream_new(p, r);
    FUZZ_CHECK(st != NULL);
    llm_stream_set_fastpath(st, fast);
    if (!split) {
        rc = llm_stream_feed(st, s, len);
    } else {
        while (i < len) {
            size_t n = (size_t)(fuzz_rand(&seed) % (max_piece + 1));
            if (n > len - i)
                n = len - i;
            rc = llm_stream_feed(st, s + i, n);
            i += n;
            if (rc != 0)
                break;
        }
    }
    FUZZ_CHECK(rc == 0 || rc == -1);
    FUZZ_CHECK(rc == 0 || r->failed);
    if (rc != 0) /* later feeds fail at once */
        FUZZ_CHECK(llm_stream_feed(st, "\n\n", 2) == -1);
    *frc = llm_stream_finish(st);
    FUZZ_CHECK(*frc == 0 || *frc == -1);
    FUZZ_CHECK(*frc == -1 || (r->complete && !r->failed));
    FUZZ_CHECK(*frc == 0 || r->failed);
    llm_stream_free(st);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t seed = fuzz_take_seed(&data, &size, 8), cfg = seed;
    const char *s = (const char *)data;
    int utf8 = utf8_valid(s, size);
    size_t max_event =
        (cfg & 1) ? 0 : 8 + (size_t)((cfg >> 1) % 512); /* 0 = no cap */
    int stop_after = (int)((cfg >> 12) % 6);
    size_t text_max = (cfg & 0x10000) ? 1 + (size_t)((cfg >> 17) % 64) : 0;
    struct sse_out whole, split;

    run_sse(s, size, 0, seed, max_event, stop_after, &whole);
    run_sse(s, size, 1, seed ^ 0x5555, max_event, stop_after, &split);
    FUZZ_CHECK(whole.rc == split.rc);
    FUZZ_CHECK(whole.err == split.err);
    FUZZ_CHECK(whole.events == split.events);
    FUZZ_CHECK(whole.log.len == split.log.len &&
               memcmp(whole.log.data, split.log.data, whole.log.len) == 0);
    if (whole.rc == 0)
        FUZZ_CHECK(whole.pending == split.pending);
    if (stop_after == 0 && max_event == 0)
        FUZZ_CHECK(whole.rc == 0); /* only the callback or a cap can stop */
    buf_free(&whole.log);
    buf_free(&split.log);

    for (int prov = 0; prov < 2; prov++) {
        enum llm_provider p = prov ? LLM_OPENAI : LLM_ANTHROPIC;
        struct llm_result a, b, c, d;
        int arc, brc, crc, drc;

        run_stream(p, s, size, 0, 1, seed, text_max, &a, &arc);
        run_stream(p, s, size, 1, 1, seed ^ 0xAAAA, text_max, &b, &brc);
        run_stream(p, s, size, 0, 0, seed, text_max, &c, &crc);
        run_stream(p, s, size, 1, 0, seed ^ 0x5A5A, text_max, &d, &drc);
        fuzz_check_llm_result(&a, utf8);
        fuzz_check_llm_result(&b, utf8);
        fuzz_check_llm_result(&c, utf8);
        check_same_result(&a, &b);
        check_same_result(&a, &c); /* fast path == cJSON path */
        check_same_result(&a, &d);
        FUZZ_CHECK(arc == brc && arc == crc && arc == drc);
        llm_result_free(&a);
        llm_result_free(&b);
        llm_result_free(&c);
        llm_result_free(&d);
    }
    return 0;
}
