/* genq-mockllm internals shared by main.c and srv_*.c: settings, per-
 * connection state, statistics, the global state of the single-threaded
 * server, and the functions one part of the server calls in another. Not a
 * library: only the genq-mockllm binary links these files. */
#ifndef GENQ_MOCK_SRV_H
#define GENQ_MOCK_SRV_H

#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>
#include <ev.h>

#include "mockapi.h"
#include "mockhttp.h"

#define OUT_HIGH      (256 * 1024)  /* stop producing stream events above */
#define IN_PAUSE      (1024 * 1024) /* stop reading while busy above */
#define READ_CHUNK    (64 * 1024)
#define MAX_KINDS     64
#define LINGER_S      2.0 /* drain a rejected body before closing */
#define RL_WINDOW     60.0
#define RL_REQUESTS   10000000ULL /* high: no limit unless --limit-* */
#define RL_IN_TOKENS  2000000000ULL
#define RL_OUT_TOKENS 400000000ULL
#define OAI_RL_TOKENS 2000000000ULL

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
    /* enforced rate limits per minute (srv_limit.c); 0 = not enforced */
    double limit_rpm, limit_itpm, limit_otpm, limit_tpm;
    /* batch APIs (srv_batch.c) */
    double batch_latency_s;          /* a batch ends this long after creation */
    double batch_create_delay_s;     /* answer a create this late */
    unsigned long batch_create_hang; /* swallow the first N creates */
    /* the first N Anthropic results downloads stop after half the lines
     * (the connection dropped, Content-Length says the whole) */
    unsigned long batch_results_cut;
    /* --gate-streams N: streams send nothing past their head until N are
     * open at once (or GATE_TIMEOUT_S after the first one): makes "N
     * streams at once" a property of the client, not of its speed */
    long gate_streams;
};

/* The gate opens anyway this long after its first held stream. */
#define GATE_TIMEOUT_S 60.0

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

/* The paths of the endpoints, by enum endpoint (srv_conn.c). */
extern const char *const srv_ep_names[EP_N];

struct stats {
    unsigned long long requests;
    unsigned long long by_ep[EP_N];
    unsigned long long by_status[600];
    unsigned long long faults[MAX_KINDS];
    unsigned long long conns_total;
    long active_conns;
    long active_streams;
    long max_streams;
    unsigned long long limit_admitted, limit_refused; /* srv_limit.c */
    unsigned long long cache_writes, cache_reads;     /* srv_pcache.c */
    unsigned long long cache_write_tokens, cache_read_tokens;
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

/* Rate-limit window behind the providers' rate-limit headers. */
struct srv_rl {
    double start;
    unsigned long requests;
    unsigned long long in_tokens, out_tokens;
};

/* The server's state (defined in main.c). */
extern struct ev_loop *srv_loop;
extern struct settings srv_cfg; /* flags, changed by POST /mock/control */
extern struct stats srv_stats;
extern FILE *srv_logfp;        /* --log or NULL */
extern struct conn *srv_conns; /* open connections, a doubly linked list */
extern ev_io srv_accept_w;
extern ev_timer srv_accept_retry_w;
extern uint64_t srv_rng_state; /* the fault draws, seeded by --seed */
extern uint32_t srv_id_salt;
extern double srv_start_time;
extern struct srv_rl srv_rl;

/* ---- srv_conn.c ---- */

/* Stops counting c among the active streams (if it was). */
void srv_stream_end_count(struct conn *c);

/* Stops c's watchers, closes its socket and frees c and its buffers. */
void srv_conn_close(struct conn *c);

/* (Re)arms c's one timer to fire in secs (0 when negative). */
void srv_timer_after(struct conn *c, double secs);

/* The current response is complete: get ready for the next request. */
void srv_response_done(struct conn *c);

/* libev callbacks of the listener, its retry timer and SIGINT/SIGTERM. */
void srv_on_accept(struct ev_loop *l, ev_io *w, int revents);

void srv_on_accept_retry(struct ev_loop *l, ev_timer *w, int revents);

void srv_on_signal(struct ev_loop *l, ev_signal *w, int revents);

/* ---- srv_reply.c ---- */

/* Counts a request and its tokens in the current rate-limit window. */
void srv_rl_account(double now, size_t in_tokens, size_t out_tokens);

/* Appends the provider's request-id and rate-limit headers. */
int srv_api_headers(struct mockbuf *b, enum mockapi_proto proto,
                    const char *request_id, int limited);

/* Appends a status line and the common headers. content_length < 0 means
 * a chunked SSE stream. extra is appended verbatim (may be NULL). */
int srv_head_open(struct mockbuf *b, struct conn *c, int status,
                  const char *ctype, long long content_length);

/* Queues a complete non-API response (text or JSON) and logs it. */
void srv_simple_response(struct conn *c, enum endpoint ep, const cJSON *body,
                         int status, const char *ctype, const char *text,
                         size_t len, const char *extra);

/* As srv_simple_response with doc printed as the body; takes doc (may be
 * NULL: a 500) and frees it. */
void srv_json_response(struct conn *c, enum endpoint ep, const cJSON *body,
                       int status, cJSON *doc);

/* Starts sending c->pend, now or after the latency timer. Never flushes:
 * the event callback that got us here does. */
void srv_pend_start(struct conn *c, double delay);

/* Queues an API error response (provider-shaped) after the latency. */
void srv_api_error(struct conn *c, enum mockapi_proto proto,
                   const char *request_id, const struct mockapi_error *e,
                   const struct mockapi_fault *f, struct reqinfo *ri,
                   double delay);

/* Sends the pending head (and body part) once the delay is over. */
void srv_pend_send(struct conn *c);

/* ---- srv_stream.c ---- */

/* Produces stream events until done, throttled or the socket is full. */
void srv_stream_pump(struct conn *c);

/* ---- srv_request.c ---- */

/* Writes a unique id, prefix + salt + counter, into buf. */
void srv_make_id(const char *prefix, char *buf, size_t size);

/* Forgets every per-prompt [mock:fail=KIND*K] counter (frees the table). */
void srv_keytab_clear(void);

/* Answers an API request (body: parsed JSON or NULL, borrowed): checks,
 * fault, then the reply or error is prepared in c->pend and started. */
void srv_api_request(struct conn *c, enum endpoint ep, const cJSON *body);

/* ---- srv_batch.c ---- */
/* The batch endpoints (/v1/messages/batches..., /v1/batches...,
 * /v1/files...): 1 when the request was one of them (answered), else 0. */
int srv_batch_request(struct conn *c, const cJSON *body);
/* Add "batches_created" to the stats document o. */
void srv_batch_stats(cJSON *o);
/* Forget every batch and file (POST /mock/reset). */
void srv_batch_reset(void);

/* ---- srv_limit.c ---- */
/* The buckets, in the order of the --limit-* flags. */
enum { SRV_LB_REQ, SRV_LB_IN, SRV_LB_OUT, SRV_LB_TOK, SRV_LB_N };
struct srv_limits {
    double level[SRV_LB_N]; /* may go below 0 (output produced) */
    int init[SRV_LB_N];
    double ts;           /* last refill */
    double outage_until; /* 503 to every API request until then */
};
extern struct srv_limits srv_limits;
/* Whether some --limit-* is enforced. */
int srv_limit_on(void);
/* Admit a request of in_tokens that will produce out_tokens: 0 (taken
 * from the buckets, counted admitted), or the seconds until it would fit
 * (counted refused). Buckets without a limit always admit. */
double srv_limit_take(double now, size_t in_tokens, size_t out_tokens);
/* Bucket b's figure, whole tokens left and seconds until full, for the
 * headers: 1, or 0 when b is not enforced (nothing stored). */
int srv_limit_header(int b, double now, unsigned long long *limit,
                     unsigned long long *remaining, double *full_in_s);
/* Whether the outage control (POST /mock/control {"outage_s": N}) is on. */
int srv_outage(double now);

/* ---- srv_pcache.c ---- */
/* Prompt caching: set g's cache_write / cache_read (and cut its
 * input_tokens) from the cache_control blocks of body; a new entry is
 * readable from begins_at (when this response begins). */
void srv_pcache_apply(struct mockapi_gen *g, const cJSON *body, double now,
                      double begins_at);
/* Forget every cache entry (POST /mock/reset). */
void srv_pcache_clear(void);

/* ---- srv_verdict.c ---- */
/* A reviewer model's request (system prompt with [mock:review]): replace
 * g's article with the verdict. 0 (also when it is no such request), or -1
 * when out of memory. */
int srv_verdict_apply(struct mockapi_gen *g, const cJSON *body);

/* ---- srv_control.c ---- */

/* Counts the response in srv_stats and appends its line to --log. */
void srv_count_and_log(struct conn *c, const struct reqinfo *ri);

/* The GET /mock/stats document; the caller frees it with cJSON_Delete().
 * NULL on OOM. */
cJSON *srv_stats_json(void);

/* Parses a comma-separated fault list into kinds. Returns 0, or -1 with the
 * offending name in bad (truncated). */
int srv_parse_kinds(const char *list, int *kinds, size_t *nkinds, char *badname,
                    size_t badsize);

/* POST /mock/control: validate everything first, then apply. */
void srv_control_request(struct conn *c, const cJSON *body);

/* POST /mock/reset: zero the counters, forget the markers, re-seed. */
void srv_reset_request(struct conn *c, const cJSON *body);

#endif
