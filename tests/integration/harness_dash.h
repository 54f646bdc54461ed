/* The dashboard suites' helpers (harness_dash.c): a `genq dashboard`
 * child on a free port and HTTP requests to it. Responses are malloc'd:
 * resp_free() (expect() frees its argument). */
#ifndef GENQ_HARNESS_DASH_H
#define GENQ_HARNESS_DASH_H

#include <sys/types.h>

#define TOKEN "dashboard-test-token-0123456789"

struct dash {
    pid_t pid;
    char base[64];
};

/* Start `genq dashboard` on a free port; with_token: the admin token from
 * a file; extra arguments (NULL-terminated, may be NULL). */
void dash_start_with(struct dash *d, int with_token, const char *const extra[]);
void dash_start(struct dash *d, int with_token);

struct resp {
    long status;
    char *body;    /* malloc'd */
    char *headers; /* malloc'd, all response headers */
};

/* method path with headers (NULL-terminated, may be NULL) and body (POST
 * when not NULL, as JSON unless a Content-Type header is given). */
struct resp http(struct dash *d, const char *method, const char *path,
                 const char *const *hdrs, const char *body);
void resp_free(struct resp *r);

/* Expect status, and (when not NULL) text in the body; frees r. */
void expect(struct resp r, long status, const char *text, const char *what);

#endif
