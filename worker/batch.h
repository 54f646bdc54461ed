/* batch: batch mode of the worker (README "Batch mode"). Files:
 * batch_collect.c (jobs diverted from their slots into a per-queue
 * collector, their leases heartbeated, sealed by --batch-size or
 * --batch-wait), batch_submit.c (record under a token BEFORE the submit,
 * the provider calls, and the resolution of a record whose submit was cut
 * short), batch_poll.c (taking due batches under a lease, status polls
 * with backoff, cancel), batch_settle.c (results streamed line by line,
 * each member settled through complete.lua / fail.lua under its lease
 * token: idempotent). Not for use outside worker/. */
#ifndef GENQ_BATCH_H
#define GENQ_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "batch_wire.h"
#include "buf.h"
#include "http_ev.h"
#include "keys.h"

struct worker;
struct wjob;
struct rconn;

/* A member job of a batch (in a collector or an operation). */
struct bmember {
    char *id;                     /* owned */
    char token[LEASE_TOKEN_SIZE]; /* its lease token */
    int attempts;
    int entry;  /* index of its entry */
    char *meta; /* the job's metadata JSON or NULL; owned */
    int settled;
    /* settlement (batch_review.c): read from the stored job, then its
     * outcome for the template figures */
    char *tref;   /* its template_ref or NULL; owned */
    char *prompt; /* its prompt, kept for the echo rule only; owned */
    int flagged;  /* its result goes to state review */
    long out_tok, lat_ms;
    double usd; /* what the provider billed for it */
    /* the entry's bill, carried by the member billed for it and counted
     * (spend, budgets, metrics) only once complete.lua stored it: a batch
     * settled again after a failed download does not count it twice */
    int bill;
    long bill_in, bill_out, bill_tok;
};

/* A distinct request of a batch: identical requests share one. */
struct bentry {
    char *params; /* request body; owned (NULL once written out) */
    size_t len;
    uint64_t hash;
    char cid[BATCH_CID_MAX + 1];
};

/* Members and entries, with the index that merges identical requests. */
struct bset {
    struct bmember *m;
    int n, cap;
    struct bentry *e;
    int ne, ecap;
    int *tab; /* open addressing: entry index + 1, 0 = empty */
    int tcap;
    size_t bytes;    /* body bytes the entries will take */
    char model[128]; /* the model of its requests (OpenAI: one per batch) */
};

/* One batch this worker works on: submitting it, or a turn of polling /
 * settling after taking its lease. */
enum bop_step {
    BS_RECORD,  /* batch_record.lua in flight */
    BS_UPLOAD,  /* OpenAI: POST /v1/files */
    BS_CREATE,  /* POST the batch */
    BS_SAVE,    /* recording the provider id */
    BS_RESOLVE, /* listing the provider's batches for the token */
    BS_PEEK,    /* reading an ended candidate's first result line */
    BS_REBUILD, /* reading members and payloads to submit again */
    BS_STATUS,  /* GET the batch */
    BS_CANCEL,  /* POST cancel */
    BS_MEMBERS, /* reading the members to settle */
    BS_RESULTS, /* streaming a results file */
    BS_DONE     /* batch_done.lua in flight */
};

struct bop {
    struct batchw *bw;
    int qi;
    char token[BATCH_TOKEN_LEN + 1];
    char ltok[48]; /* the batch lease's token */
    char pid[128]; /* the provider's batch id, "" until known */
    char file_id[128];
    enum bop_step step;
    struct bset set;
    struct http_req req;
    struct curl_slist *hdr; /* own header list (multipart), or NULL */
    struct hdrs *hold;      /* the worker's header set the request uses */
    struct batch_status bst;
    int cancel_req, cancel_sent, takes;
    long n;             /* members recorded */
    int64_t created_ms; /* the record's */
    double backoff_s;   /* the next poll */
    /* resolution */
    int unknown_running; /* unrecorded provider batches not ended yet */
    char cand[8][128];   /* ended unrecorded candidates to peek at */
    int ncand, icand;
    char after[128]; /* list paging */
    int pages;
    /* settlement */
    struct buf line; /* the partial line of a results stream */
    int file;        /* OpenAI: 0 output file, 1 error file */
    long cnt[4];     /* lines by kind (batch_rkind) */
    long settled;    /* members the scripts acknowledged */
    long in_tok, out_tok;
    double cost_usd, saved_usd;
    int calls;               /* settle calls in flight */
    int failed;              /* a settle call failed: try again next turn */
    struct buf cargs, fargs; /* pending complete / fail arguments */
    struct buf cidx, fidx;   /* their members' indices (ints) */
    int loaded;              /* members whose stored job was read */
    void (*after_load)(struct bop *op);
    int ncomp, nfail;
    const char **argv;
    size_t *argvlen;
    int argcap;
    int *first, *nextm; /* members by entry (settlement) */
    ev_timer renew;
    int renewing;
    struct bop *next;
};

struct bcoll {
    struct batchw *bw;
    int qi;
    struct bset set;
    ev_timer wait_timer;
    int hb_inflight;
};

struct batchw {
    struct worker *w;
    struct bcoll coll[16]; /* per queue (WORKER_MAX_QUEUES) */
    int batch_q[16];       /* 1: every job of queue i is batched */
    ev_timer poll_timer, hb_timer;
    int taking; /* a take in flight */
    struct bop *ops;
    char base[256]; /* the API base id of this worker's batches */
    long max_requests, max_bytes;
};

/* ---- batch_collect.c ---- */
/* Set up batch mode (w->bw); 0, or -1 on out of memory. */
int batch_init(struct worker *w);
/* Stop the timers and free everything; members not yet recorded keep
 * their leases until those run out. Accepts a worker without one. */
void batch_free(struct worker *w);
/* Drain: hand the members not yet recorded back to their queues. */
void batch_drain(struct worker *w);
/* Whether batch work is in flight (the drain waits for it). */
int batch_busy(const struct worker *w);
/* Job j was just claimed and parsed: when it is a batch job (its queue is
 * a --batch-queue, or it says "batch": true) take it into the collector
 * and free its slot; returns 1 then, else 0 (run it as usual). */
int batch_divert(struct wjob *j);
/* bset helpers: add a member with its request (params owned by the set
 * from then on, even on failure); free everything. */
int bset_add(struct bset *s, const char *id, const char *token, int attempts,
             char *params, size_t plen, char *meta);
void bset_free(struct bset *s);
/* The entry whose key (its params: the request body, or the custom_id in
 * a set loaded by bset_load()) is key[0..n), or -1. Can't fail. */
int bset_find(const struct bset *s, const char *key, size_t n);
/* Load the members of a batch record (HGETALL of its members hash: job id
 * -> "token|cid|attempt|metadata") into s (emptied first): one entry per
 * custom_id, keyed by it (params holds the cid, cid too). 0, or -1 on out
 * of memory. */
struct redisReply;
int bset_load(struct bset *s, const struct redisReply *r);

/* ---- batch_submit.c ---- */
/* A collector's set is sealed: record and submit it (the op takes set). */
void batch_submit(struct batchw *bw, int qi, struct bset *set);
/* Taken record in state "submitting": resolve it (look it up, adopt or
 * submit again). */
void batch_resolve(struct bop *op);
/* The request of op: URL base + path, the worker's headers; method NULL
 * (POST body) or "GET". Returns 0 when sent, -1 when not. */
int bop_http(struct bop *op, const char *path, const char *method, char *body,
             size_t len, http_data_fn on_data, http_done_fn on_done);

/* ---- batch_poll.c ---- */
void batch_poll_start(struct batchw *bw);
/* op's turn is over: renew with the next due time (or, with fields, set
 * them too), then free op. */
void bop_release(struct bop *op, double due_s, int nfields,
                 const char **fields);
/* Free op (its request aborted, its timer stopped). */
void bop_free(struct bop *op);
/* A new op of queue qi on bw's list (NULL on out of memory). */
struct bop *bop_new(struct batchw *bw, int qi);
/* Poll op's batch at the provider (state open). */
void batch_status(struct bop *op);
/* The lease renewal timer of an op that works long. */
void bop_renew_start(struct bop *op);

/* ---- batch_settle.c ---- */
/* op's batch ended: read its members and settle them from its results. */
void batch_settle(struct bop *op);
/* OpenAI "failed" batch: every member fails with the batch's error. */
void batch_settle_failed(struct bop *op, const char *why);

/* ---- batch_review.c ---- */
/* Read the members' stored jobs (in chunks) for their template_ref and,
 * when the queue's review has the echo rule, their prompt; then next(op).
 * On a Redis failure the turn is released (tried again later). */
void batch_review_load(struct bop *op, void (*next)(struct bop *op));
/* The queue's review rules on member m's text: the reasons (a JSON array
 * text, caller frees) and m->flagged set when flagged, else NULL. */
char *batch_review_check(struct bop *op, struct bmember *m, const char *text,
                         size_t len);
/* Append m's "template" and (reasons not NULL) "review" fields to b, a
 * result document without its closing brace. 0, or -1 on out of memory. */
int batch_review_doc(const struct bmember *m, const char *reasons,
                     struct buf *b);
/* A complete.lua (fail 0) or fail.lua (1) reply r for the members idx[0..n):
 * each stored outcome into the template figures. */
struct redisReply;
void batch_review_ack(struct bop *op, int fail, const int *idx, int n,
                      const struct redisReply *r);

#endif
