/* HTTP client on the worker's libev loop: libcurl multi_socket, one io
 * watcher per socket, one timer per multi handle (one per 1,024
 * connections), completions drained after every action. */
#ifndef GENQ_HTTP_EV_H
#define GENQ_HTTP_EV_H

#include <stddef.h>

#include <curl/curl.h>
#include <ev.h>

#include "buf.h"

struct http;
struct http_shard;
struct http_req;

/* Streaming body bytes (called once per chunk curl hands over, after the
 * status is known). Return 0 to go on, -1 to abort the transfer (it then
 * completes with CURLE_WRITE_ERROR). */
typedef int (*http_data_fn)(struct http_req *r, const char *p, size_t n);
/* Completion: called exactly once per submitted request, after curl has
 * released the handle; curl_code is the transfer's CURLcode (0 = OK). The
 * callback may free r and may submit new requests. */
typedef void (*http_done_fn)(struct http_req *r, int curl_code);
/* Every response header line as curl hands it over (status lines too: a
 * new response begins), line borrowed. */
typedef void (*http_hdr_fn)(struct http_req *r, const char *line, size_t n);

struct http_req {
    /* Set by the caller before http_submit(): */
    char *url;          /* owned by the caller */
    const char *method; /* NULL: POST with body; "GET" (batch.c) */
    char *body;         /* owned by the caller; kept until done */
    size_t body_len;
    struct curl_slist *headers; /* owned by the caller; kept until done */
    long timeout_ms;            /* whole-transfer limit (0 = none) */
    long connect_timeout_ms;
    long stall_s;         /* no byte for this long (s): ends with
                             CURLE_OPERATION_TIMEDOUT; 0 = no limit */
    int insecure;         /* skip TLS peer/host verification */
    http_data_fn on_data; /* bytes of a 2xx body; NULL = buffer them */
    http_done_fn on_done;
    http_hdr_fn on_hdr; /* NULL = none */
    void *ud;
    /* Filled by the module: */
    long status;          /* HTTP status, 0 before headers */
    char request_id[128]; /* request-id / x-request-id */
    char retry_after[64];
    char retry_after_ms[64];
    char should_retry[16]; /* x-should-retry */
    struct buf resp;       /* buffered body (non-2xx, or on_data NULL); set
                              resp.max (0 = no cap) before submitting */
    char errbuf[CURL_ERROR_SIZE];
    /* Private: */
    CURL *easy;
    struct http *h;
    struct http_shard *sh;
    int watched;                    /* on h's stall watch list */
    double last_rx;                 /* ev_now of the last byte received */
    int connected;                  /* its connection is up (on_prereq) */
    curl_off_t sent;                /* request bytes sent (on_xfer) */
    struct http_req *wnext, *wprev; /* the stall watch list */
};

/* Create the client on loop, keeping up to max_conns (at least 2,048)
 * connections open for reuse. Returns NULL on failure (curl init). The
 * caller frees with http_free() after every request is done or aborted. */
struct http *http_new(struct ev_loop *loop, long max_conns);
void http_free(struct http *h);

/* Start r. Returns 0, or -1 (r untouched; no callback will run). */
int http_submit(struct http *h, struct http_req *r);

/* Abort an in-flight request: its handle is released at once and its
 * on_done is NOT called. Safe to call from any callback except r's own
 * on_data. */
void http_abort(struct http *h, struct http_req *r);

/* Release the buffers a finished request holds (resp, easy): call before
 * reusing or freeing r. Can't fail. */
void http_req_reset(struct http_req *r);

/* Number of transfers in flight. */
int http_active(const struct http *h);

/* Easy handles h has created so far: a finished transfer's handle is reset
 * and reused by a later request (tests see the reuse here). */
long http_handles_made(const struct http *h);

#endif
