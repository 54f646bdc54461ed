/* The private interface of `genq dashboard` (dash_*.c): the server
 * (dash_main.c), routing and responses (dash_http.c), the admin token,
 * sessions and CSRF (dash_auth.c), the JSON API (dash_api.c), review
 * (dash_review.c), the stats sampler shared by every viewer
 * (dash_sampler.c) and the page's files embedded at build time
 * (build/gen/dash_assets.c by scripts/embed-assets.sh). */
#ifndef GENQ_DASH_H
#define GENQ_DASH_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "cli.h"

#define DASH_TOKEN_MAX    512 /* bytes of an admin token, at most */
#define DASH_SESSIONS     64  /* logged-in browsers kept, at most */
#define DASH_SESSION_S    (12 * 3600)
#define DASH_BODY_MAX     (4 * 1024 * 1024) /* bytes of a POST body */
#define DASH_RING         3600              /* samples kept per queue */
#define DASH_VIEW_IDLE_MS 10000 /* a viewer is gone after this silence */
#define DASH_COOKIE_NAME  "genq_session"

/* genq dashboard (dash_main.c): the subcommand. */
int cmd_dashboard(int argc, char **argv);

/* ---- the page's files (build/gen/dash_assets.c) ------------------------ */

extern const char *const dash_asset_path[]; /* "/index.html", ... */
extern const char *const dash_asset_data[];
extern const size_t dash_asset_len[];
extern const int dash_asset_count;

/* ---- the sampler (dash_sampler.c) --------------------------------------- */

/* One sample of a queue's stats document. */
struct dash_point {
    int64_t t_ms;
    double succeeded, died, ready, active, dead, p50, p95; /* p -1 = none */
};

struct dash_ring {
    char queue[QUEUE_NAME_MAX + 1];
    struct dash_point v[DASH_RING];
    int head, n; /* v[(head - n + i) mod DASH_RING], oldest first */
};

struct dash_sampler {
    const char *redis_url; /* borrowed */
    long dead_warn;
    double stale; /* seconds: a worker silent longer is not listed */
    pthread_t thread;
    int started;
    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;  /* signalled after each sample and on stop */
    int stop;
    int64_t last_view_ms;     /* last API read of a viewer */
    int64_t at_ms;            /* of the latest sample; 0 = none yet */
    long seq;                 /* samples taken */
    char *queues;             /* JSON text of the stats documents (owned) */
    char *workers;            /* JSON text of the worker documents (owned) */
    char *limits;             /* of the limit keys' documents (owned) */
    char *budget;             /* of the budget document (owned) */
    char err[256];            /* the latest sample's problem, "" = none */
    struct dash_ring **rings; /* owned, one per queue seen */
    int nrings;
};

/* Start the sampler thread: it takes one sample (stats documents and
 * worker documents; every fifth also the limit keys and the budget) every
 * second while a viewer has read in the last DASH_VIEW_IDLE_MS, else every
 * 10 s. 0, or -1 (message in err). */
int dash_sampler_start(struct dash_sampler *s, const char *redis_url,
                       long dead_warn, char *err, size_t errlen);
void dash_sampler_stop(struct dash_sampler *s);

/* What dash_sampler_read() copies out. */
enum dash_sample { DASH_QUEUES, DASH_WORKERS, DASH_LIMITS, DASH_BUDGET };

/* A viewer reads: wake the sampler when its latest sample is older than a
 * second (it samples every second while viewers read) and answer with the
 * latest sample at once; only before the first sample wait for it (up to
 * 3 s). Copy out the JSON text of which into a malloc'd string (caller
 * frees), or NULL with the problem in err. */
char *dash_sampler_read(struct dash_sampler *s, enum dash_sample which,
                        char *err, size_t errlen);

/* The chart series of queue over the last hour (schemas/api-series...):
 * caller frees; NULL on out of memory. */
cJSON *dash_sampler_series(struct dash_sampler *s, const char *queue);

/* ---- the admin token, sessions, CSRF (dash_auth.c) ---------------------- */

struct dash_session {
    char id[65], csrf[65]; /* hex */
    int64_t expires_ms;
};

struct dash_auth {
    char token[DASH_TOKEN_MAX + 1];
    size_t token_len; /* 0 = no token: read-only */
    pthread_mutex_t mu;
    struct dash_session s[DASH_SESSIONS];
};

/* Load the admin token from file (when not NULL) or GENQ_ADMIN_TOKEN;
 * neither = read-only. 0, or -1 with the problem in err. */
int dash_auth_init(struct dash_auth *a, const char *file, char *err,
                   size_t errlen);
void dash_auth_free(struct dash_auth *a);

/* 1 when a and b are equal, in time independent of where they differ. */
int dash_ct_equal(const char *a, size_t alen, const char *b, size_t blen);

/* How a request is authenticated. */
enum dash_who {
    DASH_ANON,   /* no credential, or a wrong one */
    DASH_BEARER, /* Authorization: Bearer TOKEN */
    DASH_COOKIE  /* a session cookie of a login; csrf holds its token */
};

/* Who conn is; csrf (65 bytes) gets the session's CSRF token. */
enum dash_who dash_auth_who(struct dash_auth *a, struct MHD_Connection *conn,
                            char *csrf);

/* A new session for a correct token: its id and CSRF token into out. 0,
 * or -1 (no randomness). */
int dash_session_new(struct dash_auth *a, struct dash_session *out);

/* Forget the session of conn's cookie, if any. */
void dash_session_end(struct dash_auth *a, struct MHD_Connection *conn);

/* ---- the server ---------------------------------------------------------- */

struct dash {
    const char *redis_url; /* --redis / GENQ_REDIS_URL */
    struct dash_auth auth;
    struct dash_sampler sampler;
    struct MHD_Daemon *d;
    int loopback; /* bound to a loopback address: only loopback Host names
                     are answered (no DNS rebinding) */
    const char *allowed_hosts; /* --allowed-hosts: the Host names answered
                                  (comma-separated), or NULL */
};

/* One HTTP request being handled (dash_http.c). */
struct dash_req {
    struct dash *d;
    struct MHD_Connection *conn;
    const char *method, *url;
    const char *body; /* POST body, NUL-terminated, or NULL */
    size_t body_len;
};

/* Queue a response: JSON document j (freed), with status. MHD_NO when it
 * could not be queued. */
enum MHD_Result dash_json(struct dash_req *r, unsigned status, cJSON *j);

/* Queue a JSON text body (copied) with status. */
enum MHD_Result dash_json_text(struct dash_req *r, unsigned status,
                               const char *text);

/* Queue {"error": msg} with status. */
enum MHD_Result dash_error(struct dash_req *r, unsigned status, const char *fmt,
                           ...) __attribute__((format(printf, 3, 4)));

/* A query argument of r, or NULL. */
const char *dash_arg(struct dash_req *r, const char *name);

/* The queue named by ?queue= (or "default"), checked; NULL after queueing
 * the 400 response into *ret. */
const char *dash_queue_arg(struct dash_req *r, enum MHD_Result *ret);

/* Start serving on addr (HOST:PORT); the bound port into *port. 0, or -1
 * with the problem in err. */
int dash_listen(struct dash *d, const char *addr, int *port, int *loopback,
                char *err, size_t errlen);

/* ---- the JSON API (dash_api.c, dash_review.c) ---------------------------- */

/* GET handlers; each queues its response. */
enum MHD_Result dash_api_session(struct dash_req *r);
enum MHD_Result dash_api_queues(struct dash_req *r);
enum MHD_Result dash_api_series(struct dash_req *r);
enum MHD_Result dash_api_workers(struct dash_req *r);
enum MHD_Result dash_api_limits(struct dash_req *r);
enum MHD_Result dash_api_budget(struct dash_req *r);
enum MHD_Result dash_api_dlq(struct dash_req *r);
enum MHD_Result dash_api_dlq_entry(struct dash_req *r, const char *id);
enum MHD_Result dash_api_job(struct dash_req *r, const char *id);
enum MHD_Result dash_api_review(struct dash_req *r);

/* POST handlers, called once the request is authorised (and its CSRF
 * token checked); body is the parsed JSON object. */
enum MHD_Result dash_api_dlq_change(struct dash_req *r, cJSON *body, int purge);
enum MHD_Result dash_api_review_decide(struct dash_req *r, cJSON *body,
                                       int approve);

/* POST /api/login and /api/logout (no authorisation needed). */
enum MHD_Result dash_api_login(struct dash_req *r, cJSON *body);
enum MHD_Result dash_api_logout(struct dash_req *r);

/* A member of a POST body that none of names[] (NULL-ended) lists, or
 * NULL. */
const char *dash_unknown_member(const cJSON *body, const char *const names[]);

/* The "queue" of POST body, checked, after checking that body has no
 * member but names[] (NULL-ended); NULL after queueing the 400 response
 * into *ret. */
const char *dash_body_queue(struct dash_req *r, const cJSON *body,
                            const char *const names[], enum MHD_Result *ret);

/* A page document {"queue": q, "entries": []} (caller frees), its
 * entries array into *entries; NULL on out of memory. */
cJSON *dash_page_doc(const char *q, cJSON **entries);

/* A job id from a URL or a body: 1..JOB_ID_MAX bytes, no control
 * character, not "-" (the CLI's stdin). */
int dash_id_ok(const char *id);

/* A page cursor "SCORE:ID" (SCORE digits) split into score and id (sizes
 * nscore, nid). 0, or -1 when s is malformed or too long. */
int dash_cursor_split(const char *s, char *score, size_t nscore, char *id,
                      size_t nid);

/* The "ids" of body into a malloc'd array (*ids; caller frees the array,
 * the strings are body's). Returns how many (0 without "ids"), or -1 with
 * the problem in err. */
int dash_body_ids(cJSON *body, char ***ids, char *err, size_t errlen);

/* A connection to Redis for queue q (cli_connect); -1 after queueing a 502
 * response into *ret. */
int dash_connect(struct dash_req *r, struct cli *c, const char *q,
                 enum MHD_Result *ret);

#endif
