/* genq-mockllm: the API endpoints (/v1/messages, /v1/chat/completions):
 * auth and version checks, the fault chosen for a request (markers and
 * --fault-rate), and the set-up of the reply. Also ids and the seeded RNG. */
#include "fmacros.h"

#include <math.h>
#include <stdlib.h>

#include "mockapi.h"
#include "mockhttp.h"
#include "mocktext.h"
#include "srv.h"

/* Per-key request counters for [mock:fail=KIND*K] markers. */
struct keyslot {
    uint64_t key; /* 0 = empty */
    unsigned long count;
};

static unsigned long long id_counter;
static struct keyslot *keytab;
static size_t keytab_cap, keytab_used;

static uint64_t
rng_next(void)
{
    return mocktext_splitmix64(&srv_rng_state);
}

static double
rng_double(void)
{
    return (double)(rng_next() >> 11) * 0x1.0p-53;
}

void
srv_make_id(const char *prefix, char *buf, size_t size)
{
    snprintf(buf, size, "%s%08x%012llx", prefix, (unsigned)srv_id_salt,
             ++id_counter);
}

void
srv_keytab_clear(void)
{
    free(keytab);
    keytab = NULL;
    keytab_cap = keytab_used = 0;
}

/* Returns the counter slot of a key hash, inserting it; NULL on OOM. */
static struct keyslot *
keytab_get(uint64_t key)
{
    size_t i;

    if (key == 0)
        key = 1;
    if ((keytab_used + 1) * 2 > keytab_cap) {
        size_t ncap = keytab_cap ? keytab_cap * 2 : 1024;
        struct keyslot *nt = calloc(ncap, sizeof(*nt));
        if (nt == NULL)
            return NULL;
        for (size_t j = 0; j < keytab_cap; j++) {
            if (keytab[j].key == 0)
                continue;
            i = keytab[j].key & (ncap - 1);
            while (nt[i].key != 0)
                i = (i + 1) & (ncap - 1);
            nt[i] = keytab[j];
        }
        free(keytab);
        keytab = nt;
        keytab_cap = ncap;
    }
    i = key & (keytab_cap - 1);
    while (keytab[i].key != 0 && keytab[i].key != key)
        i = (i + 1) & (keytab_cap - 1);
    if (keytab[i].key == 0) {
        keytab[i].key = key;
        keytab_used++;
    }
    return &keytab[i];
}

/* Decides the injected fault for a request, or NULL. Returns -1 with err
 * set when the key names an unknown kind. */
static int
pick_fault(const struct mockapi_gen *g, const struct mockapi_fault **out,
           struct mockapi_error *err)
{
    size_t nf;
    const struct mockapi_fault *f = mockapi_faults(&nf);
    struct keyslot *slot = keytab_get(g->key_hash);
    char kind[MOCKTEXT_KIND_MAX];
    int r, k;

    *out = NULL;
    r = mocktext_fail_for(g->key, g->key_len, slot ? slot->count : 0, kind,
                          sizeof(kind));
    if (r >= 0) {
        if (slot != NULL)
            slot->count++;
        if (r == 0)
            return 0;
        k = mockapi_fault_find(kind);
        if (k < 0) {
            mockapi_error_set(err, 400, "invalid_request_error",
                              "mock: unknown fault kind in [mock:fail=] "
                              "marker");
            return -1;
        }
        *out = &f[k];
        return 0;
    }
    if (srv_cfg.fault_rate > 0 && srv_cfg.nkinds > 0 &&
        rng_double() < srv_cfg.fault_rate)
        *out = &f[srv_cfg.kinds[rng_next() % srv_cfg.nkinds]];
    return 0;
}

static int
version_ok(const char *v)
{
    /* YYYY-MM-DD, digits only: 2023-06-01, 2026-10-21, ... */
    if (v == NULL || strlen(v) != 10 || v[4] != '-' || v[7] != '-')
        return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (v[i] < '0' || v[i] > '9'))
            return 0;
    return 1;
}

void
srv_api_request(struct conn *c, enum endpoint ep, const cJSON *body)
{
    enum mockapi_proto proto =
        ep == EP_MESSAGES ? MOCKAPI_ANTHROPIC : MOCKAPI_OPENAI;
    char request_id[64];
    struct mockapi_error err;
    const struct mockapi_fault *f = NULL;
    struct reqinfo ri = {ep, body, 0, NULL, request_id, 0, 0, 0};
    size_t nf;
    const struct mockapi_fault *all = mockapi_faults(&nf);
    struct mockbuf *p = &c->pend;
    double delay = srv_cfg.latency_ms / 1000.0;
    int rc = 0, failed;

    srv_make_id("req_mock", request_id, sizeof(request_id));
    memset(&err, 0, sizeof(err));
    mockbuf_clear(&c->pend);
    if (srv_cfg.reject_auth) {
        mockapi_fault_error(proto, &all[mockapi_fault_find("401")], &err);
        srv_rl_account(ev_now(srv_loop), 0, 0);
        srv_api_error(c, proto, request_id, &err, NULL, &ri,
                      srv_cfg.latency_ms / 1000.0);
        return;
    }
    failed = mockapi_check_auth(proto, &c->req, srv_cfg.api_key, &err) < 0;
    if (!failed && proto == MOCKAPI_ANTHROPIC) {
        const char *ver = mockhttp_header(&c->req, "anthropic-version");
        if (ver == NULL) {
            mockapi_error_set(&err, 400, "invalid_request_error",
                              "anthropic-version: header is required");
            failed = 1;
        } else if (!version_ok(ver)) {
            mockapi_error_set(&err, 400, "invalid_request_error",
                              "anthropic-version: invalid version, expected "
                              "a date such as 2023-06-01");
            failed = 1;
        }
    }
    if (!failed && mockapi_gen_parse(proto, body, srv_cfg.article_tokens,
                                     &c->gen, &err) < 0)
        failed = 1;
    if (!failed && srv_verdict_apply(&c->gen, body) < 0) { /* srv_verdict.c */
        mockapi_error_set(&err, 500, "api_error", "mock: out of memory");
        failed = 1;
    }
    if (failed) {
        if (c->gen.key != NULL) {
            ri.have_key = 1;
            ri.key_hash = c->gen.key_hash;
        }
        srv_rl_account(ev_now(srv_loop), 0, 0);
        srv_api_error(c, proto, request_id, &err, NULL, &ri,
                      srv_cfg.latency_ms / 1000.0);
        return;
    }
    ri.have_key = 1;
    ri.key_hash = c->gen.key_hash;
    ri.stream = c->gen.stream;
    if (pick_fault(&c->gen, &f, &err) < 0) {
        srv_api_error(c, proto, request_id, &err, NULL, &ri,
                      srv_cfg.latency_ms / 1000.0);
        return;
    }
    if (f == NULL && srv_outage(ev_now(srv_loop)))
        f = &all[mockapi_fault_find("503")];
    if (f == NULL && srv_limit_on()) {
        /* the wall clock, not the loop's: a request is metered when it
         * arrives, as a provider does */
        double wait = srv_limit_take(ev_time(), c->gen.input_tokens,
                                     c->gen.reply.ntokens);
        if (wait > 0) {
            /* the real 429: error body, rate-limit headers, retry-after
             * in whole seconds (rounded up) */
            long keep = srv_cfg.retry_after;
            f = &all[mockapi_fault_find("429")];
            mockapi_fault_error(proto, f, &err);
            srv_cfg.retry_after = (long)ceil(wait);
            srv_rl_account(ev_now(srv_loop), 0, 0);
            srv_api_error(c, proto, request_id, &err, f, &ri,
                          srv_cfg.latency_ms / 1000.0);
            srv_cfg.retry_after = keep;
            return;
        }
    }
    if (f != NULL) {
        ri.fault = f->name;
        srv_stats.faults[f - all]++;
    }
    srv_rl_account(ev_now(srv_loop), c->gen.input_tokens, c->gen.reply.ntokens);
    if (f != NULL && (f->cls == MOCKAPI_FAULT_STATUS ||
                      (f->cls == MOCKAPI_FAULT_STREAM_ERR && !c->gen.stream))) {
        mockapi_fault_error(proto, f, &err);
        srv_api_error(c, proto, request_id, &err, f, &ri,
                      srv_cfg.latency_ms / 1000.0);
        return;
    }

    /* prompt caching: the entry is readable once this response begins */
    srv_pcache_apply(&c->gen, body, ev_now(srv_loop),
                     ev_now(srv_loop) + srv_cfg.latency_ms / 1000.0);
    srv_make_id(proto == MOCKAPI_ANTHROPIC ? "msg_mock" : "chatcmpl-mock",
                c->gen.id, sizeof(c->gen.id));
    c->gen.created = (long long)ev_now(srv_loop);
    c->fault = f;
    c->fault_done = 0;
    c->after = AFTER_DONE;
    ri.status = 200;
    if (c->gen.stream) {
        c->is_stream = 1;
        c->chunk = srv_cfg.chunk_tokens;
        c->ndeltas = mockapi_ndeltas(&c->gen, c->chunk);
        c->next_delta = 0;
        c->fault_at = c->ndeltas / 2;
        c->interval = srv_cfg.tokens_per_s > 0
                          ? (double)c->chunk / srv_cfg.tokens_per_s
                          : 0.0;
        rc |= srv_head_open(p, c, 200, "text/event-stream; charset=utf-8", -1);
        rc |= srv_api_headers(p, proto, request_id, 0);
        rc |= mockbuf_puts(p, "\r\n");
        c->pend_cut = p->len;
    } else {
        struct mockbuf b = {0};
        size_t blen;
        rc |= mockapi_body(&c->gen, &b);
        blen = b.len;
        if (f != NULL && f->cls == MOCKAPI_FAULT_MALFORMED)
            blen /= 2; /* a 200 whose JSON is cut in half */
        rc |= srv_head_open(p, c, 200, "application/json", (long long)blen);
        rc |= srv_api_headers(p, proto, request_id, 0);
        rc |= mockbuf_puts(p, "\r\n");
        c->pend_cut = p->len + blen;
        if (f != NULL && f->cls == MOCKAPI_FAULT_DROP) {
            c->pend_cut = p->len + b.len / 2;
            c->after = AFTER_DROP;
        } else if (f != NULL && f->cls == MOCKAPI_FAULT_STALL) {
            c->pend_cut = p->len + b.len / 2;
            c->after = AFTER_STALL;
        }
        rc |= mockbuf_append(p, b.data ? b.data : "", b.len);
        mockbuf_free(&b);
        if (srv_cfg.tokens_per_s > 0)
            delay += (double)c->gen.reply.ntokens / srv_cfg.tokens_per_s;
    }
    if (rc) {
        c->keep_alive = 0;
        c->close_after = 1;
    }
    srv_count_and_log(c, &ri);
    srv_pend_start(c, delay);
}
