/* outcome: what becomes of a job after a failed HTTP attempt, as a pure
 * function of the error's verdict (common/errclass.h), the tries so far,
 * whether the worker drains, and the retry settings. No I/O, no globals:
 * the caller (attempt.c) acts on the decision. */
#ifndef GENQ_OUTCOME_H
#define GENQ_OUTCOME_H

#include <stdint.h>

#include "errclass.h"
#include "retry.h"

/* A job's outcome as sent to Redis (fail.lua's kinds, and completion). */
enum outcome { OUT_COMPLETE, OUT_RETRY, OUT_DEAD, OUT_REQUEUE, OUT_THROTTLE };

/* "complete", "retry", "dead", "requeue", "throttle". */
const char *outcome_name(enum outcome o);

struct outcome_in {
    struct err_verdict v; /* errclass_http_message / errclass_transport */
    int http_status;      /* 0 for a transport failure */
    const char *api_type; /* the error's type ("" when none) */
    int tries;            /* in-attempt retries done so far */
    int attempts;         /* this attempt's number (1-based) */
    int draining;         /* the worker is shutting down */
    const struct retry_policy *rp; /* max_retries, in-attempt backoff */
    double hint_s;                 /* the server's retry hint, < 0 = none */
    double job_backoff_base_s;     /* --job-backoff-base (10 s) */
    double rand01;                 /* uniform in [0, 1): the jitter */
};

struct outcome_dec {
    int retry_now; /* 1: try again inside the attempt after delay_s;
                      the fields below are then unused */
    double delay_s;
    enum outcome out;       /* what to send to Redis */
    const char *cls;        /* the error document's class (DLQ_*) */
    const char *type;       /* the document's type instead of the error's
                               ("shutdown"), or NULL */
    int64_t backoff_ms;     /* OUT_RETRY / OUT_THROTTLE delay */
    int open_circuit;       /* not the job's fault: pause claiming */
    enum alert_level alert; /* page someone (ALERT_NONE = no) */
    const char *alert_key;  /* with alert: "auth-failing", "billing", ... */
};

/* Decide. Can't fail; the returned strings are static. */
struct outcome_dec outcome_decide(const struct outcome_in *in);

/* Job-level backoff after attempt `attempts` failed: retry.c's schedule
 * (base 10 s, factor 2, cap 1 h, full jitter) scaled by base_s / 10. */
int64_t outcome_job_backoff_ms(int attempts, double base_s, double rand01);

/* The alert key of a not-the-job's-fault verdict, from its table row:
 * "auth-failing" (401/403), "billing" (402, quota, spend limit) or
 * "api-config" (anything else). Static string. */
const char *outcome_alert_key(const struct err_verdict *v);

#endif
