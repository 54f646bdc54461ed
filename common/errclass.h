/* errclass: the one table that maps every request outcome (HTTP status and
 * API error type, or transport failure) to a lifecycle class and an alert
 * level. The README's error table is generated from errclass_table(). */
#ifndef GENQ_ERRCLASS_H
#define GENQ_ERRCLASS_H

enum err_class {
    ERRC_OK,
    ERRC_RETRYABLE, /* transient: retry in-attempt, then job-level backoff */
    ERRC_PERMANENT, /* dead at once (dead-letter class "permanent") */
    ERRC_NOT_JOB    /* not the job's fault: requeue, attempt not counted,
                       pause claiming (auth, billing, quota, config) */
};

/* The one alert-level enum (ascending severity; worker/alerts.c uses it). */
enum alert_level { ALERT_NONE, ALERT_P2, ALERT_P1, ALERT_P0 };

/* Dead-letter classes (the "class" of an error document; Lua writes the
 * same strings: fail.lua "exhausted", reaper "lease_expired"). */
#define DLQ_PERMANENT     "permanent"     /* the API refused the request */
#define DLQ_EXHAUSTED     "exhausted"     /* retryable, attempts used up */
#define DLQ_LEASE_EXPIRED "lease_expired" /* leases expired too often */
#define DLQ_INVALID       "invalid"       /* the job cannot be sent */
#define DLQ_CANCELED      "canceled"      /* canceled while running */
#define DLQ_REVIEW_REJECTED                                                    \
    "review_rejected" /* a reviewer rejected the result (genq review) */
#define DLQ_TRANSIENT     "transient"     /* local failure (e.g. no memory) */
#define DLQ_NOT_JOB_FAULT "not_job_fault" /* requeued: not the job's fault */

/* Per event: P0 = fix now (auth, billing, quota, TLS/config); P1 = counts
 * towards "sustained 429/5xx/network" (the caller aggregates bursts); P2 = a
 * job died. */
struct err_verdict {
    enum err_class cls;
    enum alert_level level;
    const char *why;      /* static string naming the table row */
    int retry_in_attempt; /* 1 = retry now inside this attempt (subject to
                             max_retries); 0 = end the attempt */
    int provider_wide;    /* 1 = says the provider or network is in trouble
                             (429, 5xx, 529, connect/timeout): feed the
                             circuit breaker */
};

enum errclass_src { ERRSRC_HTTP, ERRSRC_TRANSPORT };

/* One table row. HTTP rows match status in [code, code_hi] and api_type
 * (NULL = any type); transport rows match a CURLcode in [code, code_hi]. */
struct errclass_row {
    enum errclass_src src;
    int code, code_hi;
    const char *api_type;     /* NULL = any */
    const char *message_hint; /* non-NULL: matched on the error message by
                                 errclass_http_message only */
    enum err_class cls;
    enum alert_level level;
    int provider_wide;
    const char *why;
};

/* CURLcode numbers we classify (curl/curl.h, libcurl 7.88; kept here so
 * common/ does not include curl.h). */
#define ERRC_CURLE_OK                       0
#define ERRC_CURLE_UNSUPPORTED_PROTOCOL     1
#define ERRC_CURLE_URL_MALFORMAT            3
#define ERRC_CURLE_COULDNT_RESOLVE_HOST     6  /* couldn't resolve host */
#define ERRC_CURLE_COULDNT_CONNECT          7  /* couldn't connect */
#define ERRC_CURLE_HTTP2                    16 /* HTTP/2 framing layer */
#define ERRC_CURLE_PARTIAL_FILE             18 /* body shorter than announced */
#define ERRC_CURLE_WRITE_ERROR              23 /* our write callback refused */
#define ERRC_CURLE_OPERATION_TIMEDOUT       28 /* timeout */
#define ERRC_CURLE_SSL_CONNECT_ERROR        35 /* TLS handshake failed */
#define ERRC_CURLE_ABORTED_BY_CALLBACK      42
#define ERRC_CURLE_GOT_NOTHING              52 /* empty reply */
#define ERRC_CURLE_SSL_ENGINE_NOTFOUND      53
#define ERRC_CURLE_SSL_ENGINE_SETFAILED     54
#define ERRC_CURLE_SEND_ERROR               55
#define ERRC_CURLE_RECV_ERROR               56
#define ERRC_CURLE_SSL_CERTPROBLEM          58 /* local client certificate */
#define ERRC_CURLE_SSL_CIPHER               59
#define ERRC_CURLE_PEER_FAILED_VERIFICATION 60 /* server certificate */
#define ERRC_CURLE_SSL_ENGINE_INITFAILED    66
#define ERRC_CURLE_SSL_CACERT_BADFILE       77
#define ERRC_CURLE_SSL_CRL_BADFILE          82
#define ERRC_CURLE_SSL_ISSUER_ERROR         83
#define ERRC_CURLE_SSL_PINNEDPUBKEYNOTMATCH 90
#define ERRC_CURLE_SSL_INVALIDCERTSTATUS    91
#define ERRC_CURLE_HTTP2_STREAM             92
#define ERRC_CURLE_SSL_CLIENTCERT           98

/* Classify an HTTP outcome: status plus the API error type (NULL or "" when
 * none; for OpenAI pass llm_error.type, which holds error.code when set),
 * then apply x_should_retry (retry_header_override(): 1, 0 or -1):
 *  - 1 ("true") makes any non-2xx outcome RETRYABLE with retry_in_attempt;
 *  - 0 ("false") ends the attempt (retry_in_attempt 0); a RETRYABLE outcome
 *    stays RETRYABLE, so the job takes the job-level backoff instead of
 *    dying: the server said "not this request, now", not "never".
 * A 2xx status with a type is an error reported inside a 200 (mid-stream
 * event, truncated stream, malformed body): it is classified by its type,
 * mapping provider types to their usual status (overloaded_error as 529,
 * api_error as 500, ...); unknown types are RETRYABLE.
 * Returns a verdict whose why points at a static string. Can't fail. */
struct err_verdict errclass_http(int http_status, const char *api_type,
                                 int x_should_retry);

/* As errclass_http, and also checks the error message for the spend-limit
 * and credit-balance 400s (Anthropic reports a reached spend limit or an
 * empty credit balance as 400 invalid_request_error, which would otherwise
 * kill every job). This is a substring heuristic on English messages; an
 * unrecognised wording falls back to permanent. message may be NULL. */
struct err_verdict errclass_http_message(int http_status, const char *api_type,
                                         const char *message,
                                         int x_should_retry);

/* Classify a transport failure by CURLcode number (0 = OK). TLS verification
 * and TLS/URL configuration failures are NOT_JOB (P0); everything else is
 * RETRYABLE. Can't fail. */
struct err_verdict errclass_transport(int curl_code);

/* Row i of the table (0-based), or NULL past the end. Rows are in matching
 * order: the first matching row wins. Borrowed, static. */
const struct errclass_row *errclass_table(int i);

/* "ok", "retryable", "permanent", "not_job". */
const char *errclass_class_name(enum err_class c);

/* "none", "P2", "P1", "P0". */
const char *errclass_level_name(enum alert_level l);

#endif
