/* genq-mockllm: a local fake LLM HTTP server speaking the Anthropic Messages
 * and OpenAI Chat Completions wire formats, with deterministic text, pacing
 * and injectable faults. Single-threaded libev loop, non-blocking sockets. */
#include "fmacros.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <ev.h>

#include "mockapi.h"
#include "mockhttp.h"
#include "mocktext.h"

#define OUT_HIGH        (256 * 1024)  /* stop producing stream events above */
#define IN_PAUSE        (1024 * 1024) /* stop reading while busy above */
#define READ_CHUNK      (64 * 1024)
#define MAX_KINDS       64
#define LINGER_S        2.0 /* drain a rejected body before closing */
#define RL_WINDOW       60.0
#define RL_REQUESTS     4000
#define RL_IN_TOKENS    2000000ULL
#define RL_OUT_TOKENS   400000ULL
#define OAI_RL_REQUESTS 10000
#define OAI_RL_TOKENS   2000000ULL

struct settings {
    char *host; /* owned */
    char *port; /* owned */
    const char *port_file;
    const char *log_path;
    double latency_ms;
    double tokens_per_s; /* 0 = unthrottled */
    double fault_rate;
    double stall_s;
    size_t chunk_tokens;
    size_t article_tokens;
    int kinds[MAX_KINDS]; /* fault kinds drawn by fault_rate */
    size_t nkinds;
    uint64_t seed;
    long retry_after;    /* seconds */
    long retry_after_ms; /* -1 = header not sent */
    int reject_auth;
    const char *api_key; /* GENQ_MOCK_API_KEY or NULL */
};

enum endpoint {
    EP_MESSAGES,
    EP_CHAT,
    EP_HEALTHZ,
    EP_STATS,
    EP_CONTROL,
    EP_RESET,
    EP_OTHER,
    EP_N
};

static const char *const ep_names[EP_N] = {
    "/v1/messages",  "/v1/chat/completions", "/healthz", "/mock/stats",
    "/mock/control", "/mock/reset",          "other"};

struct stats {
    unsigned long long requests;
    unsigned long long by_ep[EP_N];
    unsigned long long by_status[600];
    unsigned long long faults[MAX_KINDS];
    unsigned long long conns_total;
    long active_conns;
    long active_streams;
    long max_streams;
};

enum cstate {
    C_IDLE,   /* reading / parsing the next request */
    C_DELAY,  /* response ready, waiting out the latency */
    C_STREAM, /* sending SSE events */
    C_STALL,  /* fault: sending nothing more */
    C_LINGER  /* error sent, draining input before close */
};

enum after { AFTER_DONE, AFTER_DROP, AFTER_STALL };

struct conn {
    ev_io io;
    ev_timer timer;
    int fd;
    int events; /* current io watcher events */
    enum cstate state;
    unsigned long long id;
    struct mockbuf in;
    struct mockbuf out;
    struct mockbuf scratch; /* SSE events before chunk framing */
    struct mockbuf pend;    /* a response waiting for its delay */
    size_t pend_cut;        /* bytes of pend to send */
    enum after after;       /* what to do once pend is sent */
    struct mockhttp_req req;
    int sent_continue;
    int in_process;
    int close_after; /* close once out is flushed */
    int linger;      /* ... but drain the input first */
    int keep_alive;
    /* streaming */
    int streaming; /* counted in active_streams */
    int is_stream; /* the pending response is a stream */
    int waiting;   /* unthrottled stream waits for the socket */
    const struct mockapi_fault *fault;
    int fault_done;
    struct mockapi_gen gen;
    size_t chunk;
    size_t ndeltas;
    size_t next_delta;
    size_t fault_at;
    double interval;
    double t0;
    struct conn *prev, *next;
};

/* Per-key request counters for [mock:fail=KIND*K] markers. */
struct keyslot {
    uint64_t key; /* 0 = empty */
    unsigned long count;
};

static struct ev_loop *mainloop;
static struct settings cfg;
static struct stats stats;
static FILE *logfp;
static struct conn *conns;
static int listen_fd = -1;
static ev_io accept_w;
static ev_timer accept_retry_w;
static uint64_t rng_state;
static unsigned long long id_counter;
static uint32_t id_salt;
static struct keyslot *keytab;
static size_t keytab_cap, keytab_used;
static double start_time;
static struct {
    double start;
    unsigned long requests;
    unsigned long long in_tokens, out_tokens;
} rl;

static void on_io(struct ev_loop *l, ev_io *w, int revents);
static void on_timer(struct ev_loop *l, ev_timer *w, int revents);

/* ---- small helpers ---------------------------------------------------- */

static uint64_t
rng_next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double
rng_double(void)
{
    return (double)(rng_next() >> 11) * 0x1.0p-53;
}

static void
make_id(const char *prefix, char *buf, size_t size)
{
    snprintf(buf, size, "%s%08x%012llx", prefix, (unsigned)id_salt,
             ++id_counter);
}

static void
rfc3339(double t, char *buf, size_t size)
{
    time_t s = (time_t)t;
    struct tm tm;

    if (gmtime_r(&s, &tm) == NULL ||
        strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, size, "1970-01-01T00:00:00Z");
}

static const char *
http_date(void)
{
    static char buf[64];
    static time_t last = (time_t)-1;
    time_t now = (time_t)ev_now(mainloop);
    struct tm tm;

    if (now != last) {
        last = now;
        if (gmtime_r(&now, &tm) == NULL ||
            strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
            snprintf(buf, sizeof(buf), "Thu, 01 Jan 1970 00:00:00 GMT");
    }
    return buf;
}

static void
keytab_clear(void)
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

/* ---- connection plumbing ---------------------------------------------- */

static void
conn_set_events(struct conn *c, int events)
{
    if (events == c->events)
        return;
    ev_io_stop(mainloop, &c->io);
    ev_io_set(&c->io, c->fd, events);
    if (events)
        ev_io_start(mainloop, &c->io);
    c->events = events;
}

static void
stream_end_count(struct conn *c)
{
    if (c->streaming) {
        c->streaming = 0;
        stats.active_streams--;
    }
}

static void
conn_close(struct conn *c)
{
    stream_end_count(c);
    ev_io_stop(mainloop, &c->io);
    ev_timer_stop(mainloop, &c->timer);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    mockbuf_free(&c->in);
    mockbuf_free(&c->out);
    mockbuf_free(&c->scratch);
    mockbuf_free(&c->pend);
    mockhttp_free(&c->req);
    mockapi_gen_free(&c->gen);
    free(c);
    stats.active_conns--;
}

static void
timer_after(struct conn *c, double secs)
{
    ev_timer_stop(mainloop, &c->timer);
    ev_timer_set(&c->timer, secs > 0 ? secs : 0., 0.);
    ev_timer_start(mainloop, &c->timer);
}

/* Writes what it can; closes the connection when asked to and drained.
 * Returns -1 when the connection was closed (c is freed), else 0. */
static int
conn_flush(struct conn *c)
{
    int events = 0;

    while (c->out.len > c->out.off) {
        ssize_t n =
            write(c->fd, c->out.data + c->out.off, c->out.len - c->out.off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            conn_close(c);
            return -1;
        }
        mockbuf_consume(&c->out, (size_t)n);
    }
    if (c->out.len == c->out.off && c->close_after) {
        if (!c->linger) {
            conn_close(c);
            return -1;
        }
        c->linger = 0;
        c->close_after = 0;
        shutdown(c->fd, SHUT_WR);
        c->state = C_LINGER;
        timer_after(c, LINGER_S);
    }
    if (c->in.len - c->in.off < IN_PAUSE || c->state == C_LINGER)
        events |= EV_READ;
    if (c->out.len > c->out.off || (c->state == C_STREAM && c->waiting))
        events |= EV_WRITE;
    conn_set_events(c, events);
    return 0;
}

/* The current response is complete: get ready for the next request. */
static void
response_done(struct conn *c)
{
    stream_end_count(c);
    ev_timer_stop(mainloop, &c->timer);
    c->state = C_IDLE;
    c->is_stream = 0;
    c->waiting = 0;
    c->fault = NULL;
    mockapi_gen_free(&c->gen);
    mockbuf_clear(&c->pend);
    if (!c->keep_alive)
        c->close_after = 1;
    mockhttp_reset(&c->req);
    c->sent_continue = 0;
}

/* ---- response heads ----------------------------------------------------- */

static void
rl_account(double now, size_t in_tokens, size_t out_tokens)
{
    if (now - rl.start >= RL_WINDOW) {
        rl.start = now;
        rl.requests = 0;
        rl.in_tokens = rl.out_tokens = 0;
    }
    rl.requests++;
    rl.in_tokens += in_tokens;
    rl.out_tokens += out_tokens;
}

static unsigned long long
left(unsigned long long limit, unsigned long long used, int round)
{
    unsigned long long v = used >= limit ? 0 : limit - used;

    return round ? (v + 500) / 1000 * 1000 : v;
}

/* Appends the provider's request-id and rate-limit headers. */
static int
api_headers(struct mockbuf *b, enum mockapi_proto proto, const char *request_id,
            int limited)
{
    double now = ev_now(mainloop), reset_at = rl.start + RL_WINDOW;
    unsigned long long req_left =
        limited ? 0 : left(RL_REQUESTS, rl.requests, 0);
    int rc = 0;

    if (limited)
        reset_at = now + (double)(cfg.retry_after > 0 ? cfg.retry_after : 1);
    if (proto == MOCKAPI_ANTHROPIC) {
        char reset[40];
        unsigned long long in_left = left(RL_IN_TOKENS, rl.in_tokens, 1);
        unsigned long long out_left = left(RL_OUT_TOKENS, rl.out_tokens, 1);
        rfc3339(reset_at, reset, sizeof(reset));
        rc |= mockbuf_printf(
            b,
            "request-id: %s\r\n"
            "anthropic-organization-id: 00000000-0000-4000-8000-"
            "000000000000\r\n"
            "anthropic-ratelimit-requests-limit: %d\r\n"
            "anthropic-ratelimit-requests-remaining: %llu\r\n"
            "anthropic-ratelimit-requests-reset: %s\r\n"
            "anthropic-ratelimit-tokens-limit: %llu\r\n"
            "anthropic-ratelimit-tokens-remaining: %llu\r\n"
            "anthropic-ratelimit-tokens-reset: %s\r\n"
            "anthropic-ratelimit-input-tokens-limit: %llu\r\n"
            "anthropic-ratelimit-input-tokens-remaining: %llu\r\n"
            "anthropic-ratelimit-input-tokens-reset: %s\r\n"
            "anthropic-ratelimit-output-tokens-limit: %llu\r\n"
            "anthropic-ratelimit-output-tokens-remaining: %llu\r\n"
            "anthropic-ratelimit-output-tokens-reset: %s\r\n",
            request_id, RL_REQUESTS, req_left, reset,
            RL_IN_TOKENS + RL_OUT_TOKENS,
            in_left < out_left ? in_left : out_left, reset, RL_IN_TOKENS,
            in_left, reset, RL_OUT_TOKENS, out_left, reset);
    } else {
        double secs = reset_at - now;
        char reset[32];
        if (secs < 0)
            secs = 0;
        if (secs < 1)
            snprintf(reset, sizeof(reset), "%dms", (int)(secs * 1000));
        else
            snprintf(reset, sizeof(reset), "%.3gs", secs);
        rc |= mockbuf_printf(
            b,
            "x-request-id: %s\r\n"
            "openai-processing-ms: %d\r\n"
            "x-ratelimit-limit-requests: %d\r\n"
            "x-ratelimit-limit-tokens: %llu\r\n"
            "x-ratelimit-remaining-requests: %llu\r\n"
            "x-ratelimit-remaining-tokens: %llu\r\n"
            "x-ratelimit-reset-requests: %s\r\n"
            "x-ratelimit-reset-tokens: %s\r\n",
            request_id, (int)cfg.latency_ms, OAI_RL_REQUESTS, OAI_RL_TOKENS,
            limited ? 0 : left(OAI_RL_REQUESTS, rl.requests, 0),
            left(OAI_RL_TOKENS, rl.in_tokens + rl.out_tokens, 0), reset, reset);
    }
    return rc ? -1 : 0;
}

/* Appends a status line and the common headers. content_length < 0 means
 * a chunked SSE stream. extra is appended verbatim (may be NULL). */
static int
head_open(struct mockbuf *b, struct conn *c, int status, const char *ctype,
          long long content_length)
{
    int rc = 0;

    rc |= mockbuf_printf(b,
                         "HTTP/1.1 %d %s\r\ndate: %s\r\n"
                         "server: genq-mockllm\r\ncontent-type: %s\r\n",
                         status, mockhttp_reason(status), http_date(), ctype);
    if (content_length < 0)
        rc |= mockbuf_puts(b, "transfer-encoding: chunked\r\n"
                              "cache-control: no-cache\r\n");
    else
        rc |= mockbuf_printf(b, "content-length: %lld\r\n", content_length);
    rc |= mockbuf_puts(b, c->keep_alive ? "connection: keep-alive\r\n"
                                        : "connection: close\r\n");
    return rc ? -1 : 0;
}

/* ---- logging and stats -------------------------------------------------- */

struct reqinfo {
    enum endpoint ep;
    const cJSON *body; /* parsed body or NULL */
    int status;
    const char *fault;      /* kind name or NULL */
    const char *request_id; /* or NULL */
    int stream;
    int have_key;
    uint64_t key_hash;
};

static void
count_and_log(struct conn *c, const struct reqinfo *ri)
{
    cJSON *o, *h;
    char *line;
    const char *bearer;

    stats.requests++;
    stats.by_ep[ri->ep]++;
    if (ri->status >= 100 && ri->status < 600)
        stats.by_status[ri->status]++;
    if (logfp == NULL)
        return;
    o = cJSON_CreateObject();
    h = cJSON_CreateObject();
    if (o == NULL || h == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(h);
        return;
    }
    cJSON_AddNumberToObject(o, "ts", ev_time());
    cJSON_AddNumberToObject(o, "conn", (double)c->id);
    cJSON_AddStringToObject(o, "method", c->req.method ? c->req.method : "");
    cJSON_AddStringToObject(o, "path", c->req.target ? c->req.target : "");
    for (size_t i = 0; i < c->req.nheaders; i++) {
        const struct mockhttp_header *hd = &c->req.headers[i];
        cJSON *prev = cJSON_GetObjectItemCaseSensitive(h, hd->name);
        if (prev != NULL && cJSON_IsString(prev)) {
            struct mockbuf j = {0};
            if (mockbuf_printf(&j, "%s, %s", prev->valuestring, hd->value) == 0)
                cJSON_ReplaceItemInObjectCaseSensitive(
                    h, hd->name, cJSON_CreateString(j.data));
            mockbuf_free(&j);
        } else {
            cJSON_AddStringToObject(h, hd->name, hd->value);
        }
    }
    cJSON_AddItemToObject(o, "headers", h);
    if (ri->body != NULL)
        cJSON_AddItemToObject(o, "body", cJSON_Duplicate(ri->body, 1));
    else if (c->req.state == MOCKHTTP_S_DONE)
        cJSON_AddStringToObject(o, "body",
                                c->req.body.data ? c->req.body.data : "");
    else
        cJSON_AddNullToObject(o, "body");
    bearer = mockapi_bearer(&c->req);
    {
        cJSON *claims = mockapi_jwt_claims(bearer);
        if (claims == NULL) {
            const char *k = mockhttp_header(&c->req, "x-api-key");
            claims = mockapi_jwt_claims(k);
        }
        if (claims != NULL)
            cJSON_AddItemToObject(o, "jwt_claims", claims);
        else
            cJSON_AddNullToObject(o, "jwt_claims");
    }
    cJSON_AddNumberToObject(o, "status", ri->status);
    if (ri->fault)
        cJSON_AddStringToObject(o, "fault", ri->fault);
    else
        cJSON_AddNullToObject(o, "fault");
    if (ri->request_id)
        cJSON_AddStringToObject(o, "request_id", ri->request_id);
    else
        cJSON_AddNullToObject(o, "request_id");
    cJSON_AddBoolToObject(o, "stream", ri->stream);
    if (ri->have_key) {
        char hex[17];
        snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)ri->key_hash);
        cJSON_AddStringToObject(o, "key_hash", hex);
    } else {
        cJSON_AddNullToObject(o, "key_hash");
    }
    line = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (line == NULL)
        return;
    if (fputs(line, logfp) == EOF || fputc('\n', logfp) == EOF ||
        fflush(logfp) != 0)
        fprintf(stderr, "genq-mockllm: writing the log failed: %s\n",
                strerror(errno));
    cJSON_free(line);
}

static cJSON *
stats_json(void)
{
    size_t nf;
    const struct mockapi_fault *f = mockapi_faults(&nf);
    cJSON *o = cJSON_CreateObject(), *ep, *st, *fk;
    unsigned long long ftotal = 0;

    if (o == NULL)
        return NULL;
    cJSON_AddNumberToObject(o, "requests_total", (double)stats.requests);
    ep = cJSON_AddObjectToObject(o, "requests_by_endpoint");
    st = cJSON_AddObjectToObject(o, "responses_by_status");
    fk = cJSON_AddObjectToObject(o, "faults_by_kind");
    if (ep == NULL || st == NULL || fk == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    for (int i = 0; i < EP_N; i++)
        cJSON_AddNumberToObject(ep, ep_names[i], (double)stats.by_ep[i]);
    for (int i = 100; i < 600; i++) {
        char k[16];
        if (stats.by_status[i] == 0)
            continue;
        snprintf(k, sizeof(k), "%d", i);
        cJSON_AddNumberToObject(st, k, (double)stats.by_status[i]);
    }
    for (size_t i = 0; i < nf && i < MAX_KINDS; i++) {
        cJSON_AddNumberToObject(fk, f[i].name, (double)stats.faults[i]);
        ftotal += stats.faults[i];
    }
    cJSON_AddNumberToObject(o, "faults_total", (double)ftotal);
    cJSON_AddNumberToObject(o, "active_connections",
                            (double)stats.active_conns);
    cJSON_AddNumberToObject(o, "active_streams", (double)stats.active_streams);
    cJSON_AddNumberToObject(o, "max_concurrent_streams",
                            (double)stats.max_streams);
    cJSON_AddNumberToObject(o, "connections_total", (double)stats.conns_total);
    cJSON_AddNumberToObject(o, "uptime_s", ev_time() - start_time);
    return o;
}

static char *
faults_list(void)
{
    size_t nf;
    const struct mockapi_fault *f = mockapi_faults(&nf);
    struct mockbuf b = {0};

    if (mockbuf_puts(&b, "") < 0)
        return NULL;
    for (size_t i = 0; i < cfg.nkinds; i++)
        if (mockbuf_printf(&b, "%s%s", i ? "," : "", f[cfg.kinds[i]].name) <
            0) {
            mockbuf_free(&b);
            return NULL;
        }
    return b.data;
}

static cJSON *
settings_json(void)
{
    cJSON *o = cJSON_CreateObject();
    char *fl = faults_list();

    if (o == NULL || fl == NULL) {
        cJSON_Delete(o);
        free(fl);
        return NULL;
    }
    cJSON_AddBoolToObject(o, "reject_auth", cfg.reject_auth);
    cJSON_AddNumberToObject(o, "fault_rate", cfg.fault_rate);
    cJSON_AddStringToObject(o, "faults", fl);
    cJSON_AddNumberToObject(o, "latency_ms", cfg.latency_ms);
    cJSON_AddNumberToObject(o, "tokens_per_s", cfg.tokens_per_s);
    cJSON_AddNumberToObject(o, "chunk_tokens", (double)cfg.chunk_tokens);
    cJSON_AddNumberToObject(o, "article_tokens", (double)cfg.article_tokens);
    cJSON_AddNumberToObject(o, "retry_after", (double)cfg.retry_after);
    cJSON_AddNumberToObject(o, "retry_after_ms", (double)cfg.retry_after_ms);
    cJSON_AddNumberToObject(o, "stall_s", cfg.stall_s);
    free(fl);
    return o;
}

/* ---- settings parsing (shared by flags and /mock/control) -------------- */

/* Parses a comma-separated fault list into kinds. Returns 0, or -1 with the
 * offending name in bad (truncated). */
static int
parse_kinds(const char *list, int *kinds, size_t *nkinds, char *badname,
            size_t badsize)
{
    const char *p = list;
    size_t n = 0;

    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char name[MOCKTEXT_KIND_MAX];
        int k;
        if (len == 0 || len >= sizeof(name)) {
            snprintf(badname, badsize, "%.*s", (int)len, p);
            return -1;
        }
        memcpy(name, p, len);
        name[len] = '\0';
        k = mockapi_fault_find(name);
        if (k < 0 || n == MAX_KINDS) {
            snprintf(badname, badsize, "%s", name);
            return -1;
        }
        kinds[n++] = k;
        p += len;
        if (*p == ',')
            p++;
    }
    *nkinds = n;
    return 0;
}

/* ---- building responses ------------------------------------------------- */

/* Queues a complete non-API response (text or JSON) and logs it. */
static void
simple_response(struct conn *c, enum endpoint ep, const cJSON *body, int status,
                const char *ctype, const char *text, size_t len,
                const char *extra)
{
    struct reqinfo ri = {ep, body, status, NULL, NULL, 0, 0, 0};

    if (head_open(&c->out, c, status, ctype, (long long)len) < 0 ||
        (extra && mockbuf_puts(&c->out, extra) < 0) ||
        mockbuf_puts(&c->out, "\r\n") < 0 ||
        mockbuf_append(&c->out, text, len) < 0) {
        c->keep_alive = 0; /* OOM: give up on this connection */
        c->close_after = 1;
    }
    count_and_log(c, &ri);
    response_done(c);
}

static void
json_response(struct conn *c, enum endpoint ep, const cJSON *body, int status,
              cJSON *doc)
{
    char *s = doc ? cJSON_PrintUnformatted(doc) : NULL;

    if (s == NULL) {
        simple_response(c, ep, body, 500, "application/json",
                        "{\"error\":\"out of memory\"}", 25, NULL);
    } else {
        simple_response(c, ep, body, status, "application/json", s, strlen(s),
                        NULL);
        cJSON_free(s);
    }
    cJSON_Delete(doc);
}

static void pend_send(struct conn *c);

/* Starts sending c->pend, now or after the latency timer. Never flushes:
 * the event callback that got us here does. */
static void
pend_start(struct conn *c, double delay)
{
    c->state = C_DELAY;
    if (delay > 0)
        timer_after(c, delay);
    else
        pend_send(c);
}

/* Queues an API error response (provider-shaped) after the latency. */
static void
api_error(struct conn *c, enum mockapi_proto proto, const char *request_id,
          const struct mockapi_error *e, const struct mockapi_fault *f,
          struct reqinfo *ri, double delay)
{
    struct mockbuf body = {0};
    int rc = 0;

    rc |= mockapi_error_body(proto, e, request_id, &body);
    rc |= head_open(&c->pend, c, e->status, "application/json",
                    (long long)body.len);
    rc |= api_headers(&c->pend, proto, request_id, e->status == 429);
    if (f != NULL && f->retry_after) {
        rc |= mockbuf_printf(&c->pend, "retry-after: %ld\r\n", cfg.retry_after);
        if (cfg.retry_after_ms >= 0)
            rc |= mockbuf_printf(&c->pend, "retry-after-ms: %ld\r\n",
                                 cfg.retry_after_ms);
    }
    if (f != NULL && f->no_retry)
        rc |= mockbuf_puts(&c->pend, "x-should-retry: false\r\n");
    if (e->status == 401 && proto == MOCKAPI_OPENAI)
        rc |= mockbuf_puts(&c->pend, "www-authenticate: Bearer\r\n");
    rc |= mockbuf_puts(&c->pend, "\r\n");
    rc |= mockbuf_append(&c->pend, body.data ? body.data : "", body.len);
    mockbuf_free(&body);
    if (rc) {
        c->keep_alive = 0;
        c->close_after = 1;
    }
    ri->status = e->status;
    count_and_log(c, ri);
    c->pend_cut = c->pend.len;
    c->after = AFTER_DONE;
    c->is_stream = 0;
    pend_start(c, delay);
}

/* Appends the scratch events as one HTTP chunk to out. */
static int
emit_chunk(struct conn *c)
{
    int rc = 0;

    if (c->scratch.len == 0)
        return 0;
    rc |= mockbuf_printf(&c->out, "%zx\r\n", c->scratch.len);
    rc |= mockbuf_append(&c->out, c->scratch.data, c->scratch.len);
    rc |= mockbuf_puts(&c->out, "\r\n");
    mockbuf_clear(&c->scratch);
    return rc ? -1 : 0;
}

/* Produces stream events until done, throttled or the socket is full. */
static void
stream_pump(struct conn *c)
{
    double now = ev_now(mainloop);
    int rc = 0;

    c->waiting = 0;
    for (;;) {
        if (c->fault != NULL && !c->fault_done &&
            c->next_delta == c->fault_at) {
            c->fault_done = 1;
            switch (c->fault->cls) {
            case MOCKAPI_FAULT_STREAM_ERR:
                rc |= mockapi_sse_error(&c->gen, &c->scratch);
                rc |= emit_chunk(c);
                rc |= mockbuf_puts(&c->out, "0\r\n\r\n");
                response_done(c);
                goto out;
            case MOCKAPI_FAULT_DROP:
                rc |= emit_chunk(c);
                stream_end_count(c);
                c->state = C_IDLE;
                c->keep_alive = 0;
                c->close_after = 1;
                goto out;
            case MOCKAPI_FAULT_STALL:
                rc |= emit_chunk(c);
                c->state = C_STALL;
                timer_after(c, cfg.stall_s);
                goto out;
            case MOCKAPI_FAULT_MALFORMED:
                if (c->next_delta < c->ndeltas) {
                    rc |= mockapi_sse_malformed(&c->gen, c->chunk,
                                                c->next_delta, &c->scratch);
                    c->next_delta++;
                } else {
                    rc |= mockbuf_puts(&c->scratch, "data: {\"type\":\n\n");
                }
                continue;
            case MOCKAPI_FAULT_STATUS:
                break;
            }
        }
        if (c->next_delta >= c->ndeltas) {
            rc |= mockapi_sse_tail(&c->gen, &c->scratch);
            rc |= emit_chunk(c);
            rc |= mockbuf_puts(&c->out, "0\r\n\r\n");
            response_done(c);
            goto out;
        }
        if (c->interval > 0) {
            double due = c->t0 + (double)(c->next_delta + 1) * c->interval;
            if (due > now) {
                timer_after(c, due - now);
                break;
            }
        }
        if (c->out.len - c->out.off + c->scratch.len > OUT_HIGH) {
            if (c->interval > 0)
                timer_after(c, c->interval);
            else
                c->waiting = 1;
            break;
        }
        rc |= mockapi_sse_delta(&c->gen, c->chunk, c->next_delta, &c->scratch);
        c->next_delta++;
    }
    rc |= emit_chunk(c);
out:
    if (rc) {
        c->keep_alive = 0;
        c->close_after = 1;
    }
}

/* Sends the pending head (and body part) once the delay is over. */
static void
pend_send(struct conn *c)
{
    if (mockbuf_append(&c->out, c->pend.data ? c->pend.data : "", c->pend_cut) <
        0) {
        c->keep_alive = 0;
        c->close_after = 1;
    }
    mockbuf_clear(&c->pend);
    if (c->is_stream) {
        c->state = C_STREAM;
        c->streaming = 1;
        stats.active_streams++;
        if (stats.active_streams > stats.max_streams)
            stats.max_streams = stats.active_streams;
        c->t0 = ev_now(mainloop);
        if (mockapi_sse_head(&c->gen, &c->scratch) < 0) {
            c->keep_alive = 0;
            c->close_after = 1;
        }
        stream_pump(c);
        return;
    }
    switch (c->after) {
    case AFTER_DONE:
        response_done(c);
        break;
    case AFTER_DROP:
        c->state = C_IDLE;
        c->keep_alive = 0;
        c->close_after = 1;
        break;
    case AFTER_STALL:
        c->state = C_STALL;
        timer_after(c, cfg.stall_s);
        break;
    }
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
    if (cfg.fault_rate > 0 && cfg.nkinds > 0 && rng_double() < cfg.fault_rate)
        *out = &f[cfg.kinds[rng_next() % cfg.nkinds]];
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

static void
api_request(struct conn *c, enum endpoint ep, const cJSON *body)
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
    double delay = cfg.latency_ms / 1000.0;
    int rc = 0, failed;

    make_id("req_mock", request_id, sizeof(request_id));
    memset(&err, 0, sizeof(err));
    mockbuf_clear(&c->pend);
    if (cfg.reject_auth) {
        mockapi_fault_error(proto, &all[mockapi_fault_find("401")], &err);
        rl_account(ev_now(mainloop), 0, 0);
        api_error(c, proto, request_id, &err, NULL, &ri,
                  cfg.latency_ms / 1000.0);
        return;
    }
    failed = mockapi_check_auth(proto, &c->req, cfg.api_key, &err) < 0;
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
    if (!failed &&
        mockapi_gen_parse(proto, body, cfg.article_tokens, &c->gen, &err) < 0)
        failed = 1;
    if (failed) {
        if (c->gen.key != NULL) {
            ri.have_key = 1;
            ri.key_hash = c->gen.key_hash;
        }
        rl_account(ev_now(mainloop), 0, 0);
        api_error(c, proto, request_id, &err, NULL, &ri,
                  cfg.latency_ms / 1000.0);
        return;
    }
    ri.have_key = 1;
    ri.key_hash = c->gen.key_hash;
    ri.stream = c->gen.stream;
    if (pick_fault(&c->gen, &f, &err) < 0) {
        api_error(c, proto, request_id, &err, NULL, &ri,
                  cfg.latency_ms / 1000.0);
        return;
    }
    if (f != NULL) {
        ri.fault = f->name;
        stats.faults[f - all]++;
    }
    rl_account(ev_now(mainloop), c->gen.input_tokens, c->gen.reply.ntokens);
    if (f != NULL && (f->cls == MOCKAPI_FAULT_STATUS ||
                      (f->cls == MOCKAPI_FAULT_STREAM_ERR && !c->gen.stream))) {
        mockapi_fault_error(proto, f, &err);
        api_error(c, proto, request_id, &err, f, &ri, cfg.latency_ms / 1000.0);
        return;
    }

    make_id(proto == MOCKAPI_ANTHROPIC ? "msg_mock" : "chatcmpl-mock",
            c->gen.id, sizeof(c->gen.id));
    c->gen.created = (long long)ev_now(mainloop);
    c->fault = f;
    c->fault_done = 0;
    c->after = AFTER_DONE;
    ri.status = 200;
    if (c->gen.stream) {
        c->is_stream = 1;
        c->chunk = cfg.chunk_tokens;
        c->ndeltas = mockapi_ndeltas(&c->gen, c->chunk);
        c->next_delta = 0;
        c->fault_at = c->ndeltas / 2;
        c->interval =
            cfg.tokens_per_s > 0 ? (double)c->chunk / cfg.tokens_per_s : 0.0;
        rc |= head_open(p, c, 200, "text/event-stream; charset=utf-8", -1);
        rc |= api_headers(p, proto, request_id, 0);
        rc |= mockbuf_puts(p, "\r\n");
        c->pend_cut = p->len;
    } else {
        struct mockbuf b = {0};
        size_t blen;
        rc |= mockapi_body(&c->gen, &b);
        blen = b.len;
        if (f != NULL && f->cls == MOCKAPI_FAULT_MALFORMED)
            blen /= 2; /* a 200 whose JSON is cut in half */
        rc |= head_open(p, c, 200, "application/json", (long long)blen);
        rc |= api_headers(p, proto, request_id, 0);
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
        if (cfg.tokens_per_s > 0)
            delay += (double)c->gen.reply.ntokens / cfg.tokens_per_s;
    }
    if (rc) {
        c->keep_alive = 0;
        c->close_after = 1;
    }
    count_and_log(c, &ri);
    pend_start(c, delay);
}

/* POST /mock/control: validate everything first, then apply. */
static void
control_request(struct conn *c, const cJSON *body)
{
    struct settings n = cfg;
    const cJSON *it;
    char msg[160];

    if (!cJSON_IsObject(body)) {
        json_response(c, EP_CONTROL, body, 400,
                      cJSON_Parse("{\"error\":\"body must be a JSON "
                                  "object\"}"));
        return;
    }
    cJSON_ArrayForEach(it, body)
    {
        const char *k = it->string;
        int ok = 1;
        if (strcmp(k, "reject_auth") == 0) {
            ok = cJSON_IsBool(it);
            n.reject_auth = cJSON_IsTrue(it);
        } else if (strcmp(k, "fault_rate") == 0) {
            ok = cJSON_IsNumber(it) && it->valuedouble >= 0 &&
                 it->valuedouble <= 1;
            n.fault_rate = it->valuedouble;
        } else if (strcmp(k, "latency_ms") == 0) {
            ok = cJSON_IsNumber(it) && it->valuedouble >= 0 &&
                 it->valuedouble <= 3600e3;
            n.latency_ms = it->valuedouble;
        } else if (strcmp(k, "tokens_per_s") == 0) {
            ok = cJSON_IsNumber(it) && it->valuedouble >= 0 &&
                 it->valuedouble <= 1e9;
            n.tokens_per_s = it->valuedouble;
        } else if (strcmp(k, "chunk_tokens") == 0) {
            ok = cJSON_IsNumber(it) && it->valuedouble >= 1 &&
                 it->valuedouble <= 100000 &&
                 it->valuedouble == floor(it->valuedouble);
            n.chunk_tokens = ok ? (size_t)it->valuedouble : 1;
        } else if (strcmp(k, "retry_after") == 0) {
            ok = cJSON_IsNumber(it) && it->valuedouble >= 0 &&
                 it->valuedouble <= 86400;
            n.retry_after = ok ? (long)it->valuedouble : 0;
        } else if (strcmp(k, "retry_after_ms") == 0) {
            ok = cJSON_IsNumber(it) && it->valuedouble >= -1 &&
                 it->valuedouble <= 86400e3;
            n.retry_after_ms = ok ? (long)it->valuedouble : -1;
        } else if (strcmp(k, "stall_s") == 0) {
            ok = cJSON_IsNumber(it) && it->valuedouble >= 0 &&
                 it->valuedouble <= 86400;
            n.stall_s = it->valuedouble;
        } else if (strcmp(k, "faults") == 0) {
            char badname[MOCKTEXT_KIND_MAX];
            ok = cJSON_IsString(it) &&
                 parse_kinds(it->valuestring, n.kinds, &n.nkinds, badname,
                             sizeof(badname)) == 0;
        } else {
            snprintf(msg, sizeof(msg), "unknown setting '%s'", k);
            goto fail;
        }
        if (!ok) {
            snprintf(msg, sizeof(msg), "invalid value for '%s'", k);
            goto fail;
        }
    }
    cfg = n;
    json_response(c, EP_CONTROL, body, 200, settings_json());
    return;
fail : {
    cJSON *e = cJSON_CreateObject();
    if (e != NULL)
        cJSON_AddStringToObject(e, "error", msg);
    json_response(c, EP_CONTROL, body, 400, e);
}
}

static void
reset_request(struct conn *c, const cJSON *body)
{
    memset(stats.by_ep, 0, sizeof(stats.by_ep));
    memset(stats.by_status, 0, sizeof(stats.by_status));
    memset(stats.faults, 0, sizeof(stats.faults));
    stats.requests = 0;
    stats.conns_total = 0;
    stats.max_streams = stats.active_streams;
    keytab_clear();
    rng_state = cfg.seed;
    json_response(c, EP_RESET, body, 200, cJSON_Parse("{\"reset\":true}"));
}

static enum endpoint
route(const char *target, size_t *plen)
{
    const char *q = strchr(target, '?');
    size_t len = q ? (size_t)(q - target) : strlen(target);

    *plen = len;
    for (int i = 0; i < EP_OTHER; i++)
        if (strlen(ep_names[i]) == len && memcmp(ep_names[i], target, len) == 0)
            return (enum endpoint)i;
    return EP_OTHER;
}

/* A complete request is in c->req: answer it (now or later). */
static void
dispatch(struct conn *c)
{
    size_t plen;
    enum endpoint ep = route(c->req.target, &plen);
    const char *want = (ep == EP_HEALTHZ || ep == EP_STATS) ? "GET" : "POST";
    cJSON *body = NULL;

    c->keep_alive = c->req.keep_alive;
    if (c->req.body.len > 0)
        body = cJSON_ParseWithLength(c->req.body.data, c->req.body.len);
    if (ep == EP_OTHER) {
        struct mockapi_error e;
        struct reqinfo ri = {ep, body, 404, NULL, NULL, 0, 0, 0};
        int oai = strncmp(c->req.target, "/v1/chat/", 9) == 0;
        char rid[64];
        make_id("req_mock", rid, sizeof(rid));
        ri.request_id = rid;
        mockapi_error_set(&e, 404,
                          oai ? "invalid_request_error" : "not_found_error",
                          oai ? "Invalid URL" : "Not Found");
        api_error(c, oai ? MOCKAPI_OPENAI : MOCKAPI_ANTHROPIC, rid, &e, NULL,
                  &ri, 0.0);
    } else if (strcmp(c->req.method, want) != 0) {
        char extra[64];
        snprintf(extra, sizeof(extra), "allow: %s\r\n", want);
        simple_response(c, ep, body, 405, "application/json",
                        "{\"error\":\"method not allowed\"}", 30, extra);
    } else if (ep == EP_HEALTHZ) {
        simple_response(c, ep, body, 200, "text/plain; charset=utf-8", "ok", 2,
                        NULL);
    } else if (ep == EP_STATS) {
        json_response(c, ep, body, 200, stats_json());
    } else if (ep == EP_CONTROL) {
        control_request(c, body);
    } else if (ep == EP_RESET) {
        reset_request(c, body);
    } else {
        api_request(c, ep, body);
    }
    cJSON_Delete(body);
}

/* The parser rejected the request: answer and close after draining. */
static void
parse_error(struct conn *c)
{
    int status = c->req.err_status ? c->req.err_status : 400;
    int oai = c->req.target && strncmp(c->req.target, "/v1/chat/", 9) == 0;
    enum endpoint ep = EP_OTHER;
    struct mockapi_error e;
    struct mockbuf body = {0};
    char rid[64];
    struct reqinfo ri = {EP_OTHER, NULL, status, NULL, rid, 0, 0, 0};
    int rc = 0;

    if (c->req.target != NULL) {
        size_t plen;
        ep = route(c->req.target, &plen);
        ri.ep = ep;
    }
    make_id("req_mock", rid, sizeof(rid));
    mockapi_error_set(
        &e, status,
        status == 413
            ? "request_too_large"
            : (oai ? "invalid_request_error"
                   : (status >= 500 ? "api_error" : "invalid_request_error")),
        status == 413    ? "Request exceeds the maximum allowed "
                           "number of bytes."
        : c->req.err_msg ? c->req.err_msg
                         : "bad request");
    c->keep_alive = 0;
    rc |= mockapi_error_body(oai ? MOCKAPI_OPENAI : MOCKAPI_ANTHROPIC, &e, rid,
                             &body);
    rc |=
        head_open(&c->out, c, status, "application/json", (long long)body.len);
    rc |= mockbuf_printf(&c->out, "%s: %s\r\n\r\n",
                         oai ? "x-request-id" : "request-id", rid);
    rc |= mockbuf_append(&c->out, body.data ? body.data : "", body.len);
    mockbuf_free(&body);
    (void)rc; /* closing anyway */
    count_and_log(c, &ri);
    c->close_after = 1;
    c->linger = 1;
    c->state = C_IDLE;
}

/* Parses and answers buffered requests while the connection is idle. */
static void
conn_process(struct conn *c)
{
    if (c->in_process)
        return;
    c->in_process = 1;
    while (c->state == C_IDLE && !c->close_after) {
        size_t avail = c->in.len - c->in.off, used = 0;
        enum mockhttp_result r;

        if (avail == 0)
            break;
        r = mockhttp_parse(&c->req, c->in.data + c->in.off, avail, &used);
        mockbuf_consume(&c->in, used);
        if (r == MOCKHTTP_AGAIN) {
            if (c->req.state != MOCKHTTP_S_HEAD && c->req.expect_continue &&
                !c->sent_continue) {
                c->sent_continue = 1;
                if (mockbuf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n") < 0)
                    c->close_after = 1;
            }
            break;
        }
        if (r == MOCKHTTP_ERROR) {
            parse_error(c);
            break;
        }
        dispatch(c);
    }
    c->in_process = 0;
}

/* Reads what is there. Returns -1 when the connection was closed. */
static int
conn_read(struct conn *c)
{
    size_t total = 0;

    while (total < 4 * READ_CHUNK) {
        ssize_t n;
        if (mockbuf_reserve(&c->in, READ_CHUNK) < 0) {
            conn_close(c);
            return -1;
        }
        n = read(c->fd, c->in.data + c->in.len, READ_CHUNK);
        if (n == 0) {
            /* Peer closed (or half-closed): nothing more can be answered
             * reliably, so drop the connection. */
            conn_close(c);
            return -1;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            conn_close(c);
            return -1;
        }
        c->in.len += (size_t)n;
        total += (size_t)n;
        if (c->state == C_LINGER)
            mockbuf_clear(&c->in);
        if ((size_t)n < READ_CHUNK)
            break;
    }
    return 0;
}

static void
on_io(struct ev_loop *l, ev_io *w, int revents)
{
    struct conn *c = w->data;

    (void)l;
    if (revents & EV_READ) {
        if (conn_read(c) < 0)
            return;
    }
    if ((revents & EV_WRITE) && c->state == C_STREAM && c->waiting &&
        c->out.len == c->out.off)
        stream_pump(c);
    if (c->state == C_IDLE)
        conn_process(c);
    conn_flush(c);
}

static void
on_timer(struct ev_loop *l, ev_timer *w, int revents)
{
    struct conn *c = w->data;

    (void)l;
    (void)revents;
    switch (c->state) {
    case C_DELAY:
        pend_send(c);
        break;
    case C_STREAM:
        stream_pump(c);
        break;
    case C_STALL:
    case C_LINGER:
        conn_close(c);
        return;
    case C_IDLE:
        break;
    }
    if (c->state == C_IDLE)
        conn_process(c);
    conn_flush(c);
}

static void
on_accept(struct ev_loop *l, ev_io *w, int revents)
{
    (void)revents;
    for (int i = 0; i < 256; i++) {
        int one = 1;
        struct conn *c;
        int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM) {
                /* Out of descriptors: pause accepting for a moment. */
                fprintf(stderr, "genq-mockllm: accept: %s (pausing)\n",
                        strerror(errno));
                ev_io_stop(l, &accept_w);
                ev_timer_set(&accept_retry_w, 0.1, 0.);
                ev_timer_start(l, &accept_retry_w);
            }
            return;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->id = ++stats.conns_total;
        c->keep_alive = 1;
        ev_io_init(&c->io, on_io, fd, EV_READ);
        c->io.data = c;
        ev_init(&c->timer, on_timer);
        c->timer.data = c;
        ev_io_start(l, &c->io);
        c->events = EV_READ;
        c->next = conns;
        if (conns)
            conns->prev = c;
        conns = c;
        stats.active_conns++;
    }
}

static void
on_accept_retry(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)w;
    (void)revents;
    ev_io_start(l, &accept_w);
}

static void
on_signal(struct ev_loop *l, ev_signal *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(l, EVBREAK_ALL);
}

/* ---- startup --------------------------------------------------------------
 */

static const char *const usage_lines[] = {
    "usage: genq-mockllm [options]",
    "A local fake LLM server: Anthropic POST /v1/messages and OpenAI",
    "POST /v1/chat/completions (plain and streaming) with deterministic",
    "text, pacing and injectable faults. Also GET /healthz,",
    "GET /mock/stats, POST /mock/control, POST /mock/reset.",
    "",
    "  --listen HOST:PORT   listen address (default 127.0.0.1:8089;",
    "                       port 0 picks a free port)",
    "  --port-file FILE     write the bound port to FILE once listening",
    "  --latency-ms N       delay before response headers (default 0)",
    "  --tokens-per-s N     pace streamed deltas at N tokens/s; plain",
    "                       responses also wait ntokens/N (0 = no pacing,",
    "                       the default)",
    "  --chunk-tokens K     tokens per streamed delta (default 1)",
    "  --article-tokens N   article length unless the prompt carries",
    "                       [mock:tokens=N] (default 120, max 200000)",
    "  --fault-rate R       probability 0..1 that a request gets a fault",
    "                       drawn from --faults (default 0)",
    "  --faults LIST        comma-separated kinds drawn by --fault-rate",
    "                       (default 429,500,503,529,stream-error,drop,",
    "                       stall,malformed). All kinds: 429 429nora 500",
    "                       500noretry 502 503 504 529 400 401 402 403",
    "                       404 408 409 413 stream-error drop stall",
    "                       malformed",
    "  --seed S             seed of the fault draws (default 1)",
    "  --retry-after S      retry-after seconds on 429 (default 1)",
    "  --retry-after-ms N   also send retry-after-ms: N on 429",
    "  --stall-s N          how long a stalled response keeps the socket",
    "                       open (default 600)",
    "  --log FILE           append one JSON line per request (flushed)",
    "  --help               show this help",
    "",
    "Markers in the first user message: [mock:tokens=N],",
    "[mock:fail=KIND] (every request with that prompt),",
    "[mock:fail=KIND*K] (its first K requests); markers chain in order.",
    "Environment: GENQ_MOCK_API_KEY (required credential; JWT-shaped",
    "tokens are accepted too), GENQ_MOCK_REJECT_AUTH=1 (answer 401 to",
    "every API request until POST /mock/control {\"reject_auth\":false}).",
};

static void
usage(FILE *fp)
{
    for (size_t i = 0; i < sizeof(usage_lines) / sizeof(usage_lines[0]); i++)
        fprintf(fp, "%s\n", usage_lines[i]);
}

static void
die_flag(const char *flag, const char *value, const char *why)
{
    fprintf(stderr, "genq-mockllm: invalid value '%s' for %s: %s\n",
            value ? value : "", flag, why);
    exit(2);
}

static double
flag_double(const char *flag, const char *v, double lo, double hi)
{
    char *end;
    double d;

    errno = 0;
    d = strtod(v, &end);
    if (errno != 0 || end == v || *end != '\0' || !isfinite(d) || d < lo ||
        d > hi) {
        char why[96];
        snprintf(why, sizeof(why), "expected a number in [%g, %g]", lo, hi);
        die_flag(flag, v, why);
    }
    return d;
}

static long long
flag_int(const char *flag, const char *v, long long lo, long long hi)
{
    char *end;
    long long n;

    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < lo || n > hi) {
        char why[96];
        snprintf(why, sizeof(why), "expected an integer in [%lld, %lld]", lo,
                 hi);
        die_flag(flag, v, why);
    }
    return n;
}

static void
parse_listen(const char *v)
{
    const char *colon = strrchr(v, ':');
    const char *h = v;
    size_t hl;

    if (colon == NULL || colon[1] == '\0')
        die_flag("--listen", v, "expected HOST:PORT");
    hl = (size_t)(colon - v);
    if (hl >= 2 && v[0] == '[' && v[hl - 1] == ']') {
        h = v + 1;
        hl -= 2;
    }
    flag_int("--listen", colon + 1, 0, 65535);
    free(cfg.host);
    free(cfg.port);
    cfg.host = strndup(h, hl);
    cfg.port = strdup(colon + 1);
    if (cfg.host == NULL || cfg.port == NULL) {
        fprintf(stderr, "genq-mockllm: out of memory\n");
        exit(1);
    }
}

static void
parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL, *eq;
        char name[64];
        size_t nl;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "genq-mockllm: unexpected argument '%s'\n", a);
            exit(2);
        }
        eq = strchr(a, '=');
        nl = eq ? (size_t)(eq - a) : strlen(a);
        if (nl >= sizeof(name)) {
            fprintf(stderr, "genq-mockllm: unknown flag '%s'\n", a);
            exit(2);
        }
        memcpy(name, a, nl);
        name[nl] = '\0';
        if (eq) {
            v = eq + 1;
        } else {
            if (i + 1 >= argc) {
                fprintf(stderr, "genq-mockllm: %s needs a value\n", name);
                exit(2);
            }
            v = argv[++i];
        }
        if (strcmp(name, "--listen") == 0) {
            parse_listen(v);
        } else if (strcmp(name, "--port-file") == 0) {
            cfg.port_file = v;
        } else if (strcmp(name, "--latency-ms") == 0) {
            cfg.latency_ms = flag_double(name, v, 0, 3600e3);
        } else if (strcmp(name, "--tokens-per-s") == 0) {
            cfg.tokens_per_s = flag_double(name, v, 0, 1e9);
        } else if (strcmp(name, "--chunk-tokens") == 0) {
            cfg.chunk_tokens = (size_t)flag_int(name, v, 1, 100000);
        } else if (strcmp(name, "--article-tokens") == 0) {
            cfg.article_tokens =
                (size_t)flag_int(name, v, 1, MOCKTEXT_MAX_TOKENS);
        } else if (strcmp(name, "--fault-rate") == 0) {
            cfg.fault_rate = flag_double(name, v, 0, 1);
        } else if (strcmp(name, "--faults") == 0) {
            char badname[MOCKTEXT_KIND_MAX + 8];
            if (parse_kinds(v, cfg.kinds, &cfg.nkinds, badname,
                            sizeof(badname)) < 0) {
                char why[96];
                snprintf(why, sizeof(why), "unknown fault kind '%s'", badname);
                die_flag(name, v, why);
            }
        } else if (strcmp(name, "--seed") == 0) {
            char *end;
            errno = 0;
            cfg.seed = strtoull(v, &end, 0);
            if (errno != 0 || end == v || *end != '\0' || v[0] == '-')
                die_flag(name, v, "expected an unsigned 64-bit integer");
        } else if (strcmp(name, "--retry-after") == 0) {
            cfg.retry_after = (long)flag_int(name, v, 0, 86400);
        } else if (strcmp(name, "--retry-after-ms") == 0) {
            cfg.retry_after_ms = (long)flag_int(name, v, 0, 86400000);
        } else if (strcmp(name, "--stall-s") == 0) {
            cfg.stall_s = flag_double(name, v, 0, 86400);
        } else if (strcmp(name, "--log") == 0) {
            cfg.log_path = v;
        } else {
            fprintf(stderr, "genq-mockllm: unknown flag '%s' (see --help)\n",
                    name);
            exit(2);
        }
    }
}

/* Binds and listens; returns the fd or -1 with a message printed. */
static int
open_listener(void)
{
    struct addrinfo hints, *res = NULL, *ai;
    int fd = -1, rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    rc = getaddrinfo(cfg.host[0] ? cfg.host : NULL, cfg.port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "genq-mockllm: cannot resolve '%s': %s\n", cfg.host,
                gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int one = 1;
        fd = socket(ai->ai_family,
                    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0)
            continue;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
            bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 4096) == 0)
            break;
        fprintf(stderr, "genq-mockllm: cannot listen on %s:%s: %s\n", cfg.host,
                cfg.port, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static int
write_port_file(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int port;
    char tmp[4096];
    FILE *fp;

    memset(&ss, 0, sizeof(ss));
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        return -1;
    port = ss.ss_family == AF_INET6
               ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
               : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (cfg.port_file == NULL) {
        fprintf(stderr, "genq-mockllm: listening on %s port %d\n", cfg.host,
                port);
        return 0;
    }
    /* Write then rename, so a reader never sees a half-written file. */
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", cfg.port_file) >= (int)sizeof(tmp))
        return -1;
    fp = fopen(tmp, "w");
    if (fp == NULL)
        return -1;
    if (fprintf(fp, "%d\n", port) < 0 || fclose(fp) != 0) {
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, cfg.port_file) < 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    ev_signal sigint_w, sigterm_w;
    const char *env;
    char badname[MOCKTEXT_KIND_MAX + 8];

    cfg.article_tokens = MOCKTEXT_DEFAULT_TOKENS;
    cfg.chunk_tokens = 1;
    cfg.seed = 1;
    cfg.retry_after = 1;
    cfg.retry_after_ms = -1;
    cfg.stall_s = 600;
    if (parse_kinds("429,500,503,529,stream-error,drop,stall,malformed",
                    cfg.kinds, &cfg.nkinds, badname, sizeof(badname)) < 0)
        return 1;
    parse_listen("127.0.0.1:8089");
    parse_args(argc, argv);
    env = getenv("GENQ_MOCK_REJECT_AUTH");
    cfg.reject_auth = env != NULL && strcmp(env, "1") == 0;
    env = getenv("GENQ_MOCK_API_KEY");
    cfg.api_key = env != NULL && *env ? env : NULL;
    rng_state = cfg.seed;

    signal(SIGPIPE, SIG_IGN);
    mainloop = ev_default_loop(EVFLAG_AUTO);
    if (mainloop == NULL) {
        fprintf(stderr, "genq-mockllm: cannot initialise libev\n");
        return 1;
    }
    start_time = ev_time();
    id_salt = (uint32_t)(mocktext_hash(&start_time, sizeof(start_time)) ^
                         (uint64_t)getpid());
    rl.start = ev_now(mainloop);
    if (cfg.log_path != NULL) {
        logfp = fopen(cfg.log_path, "a");
        if (logfp == NULL) {
            fprintf(stderr, "genq-mockllm: cannot open log '%s': %s\n",
                    cfg.log_path, strerror(errno));
            return 1;
        }
    }
    listen_fd = open_listener();
    if (listen_fd < 0)
        return 1;
    if (write_port_file(listen_fd) < 0) {
        fprintf(stderr, "genq-mockllm: cannot write port file '%s': %s\n",
                cfg.port_file, strerror(errno));
        return 1;
    }
    ev_io_init(&accept_w, on_accept, listen_fd, EV_READ);
    ev_io_start(mainloop, &accept_w);
    ev_init(&accept_retry_w, on_accept_retry);
    ev_signal_init(&sigint_w, on_signal, SIGINT);
    ev_signal_start(mainloop, &sigint_w);
    ev_signal_init(&sigterm_w, on_signal, SIGTERM);
    ev_signal_start(mainloop, &sigterm_w);

    ev_run(mainloop, 0);

    while (conns != NULL)
        conn_close(conns);
    ev_io_stop(mainloop, &accept_w);
    ev_timer_stop(mainloop, &accept_retry_w);
    ev_signal_stop(mainloop, &sigint_w);
    ev_signal_stop(mainloop, &sigterm_w);
    close(listen_fd);
    keytab_clear();
    if (logfp != NULL)
        fclose(logfp);
    free(cfg.host);
    free(cfg.port);
    ev_loop_destroy(mainloop);
    return 0;
}
