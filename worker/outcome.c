/* outcome: the decision after a failed HTTP attempt (see outcome.h). Pure:
 * no I/O, no globals, the randomness comes in as an argument. */
#include "fmacros.h"

#include <string.h>

#include "outcome.h"

const char *
outcome_name(enum outcome o)
{
    static const char *const kind[] = {"complete", "retry", "dead", "requeue",
                                       "throttle"};

    return (unsigned)o < sizeof(kind) / sizeof(kind[0]) ? kind[o] : "?";
}

int64_t
outcome_job_backoff_ms(int attempts, double base_s, double rand01)
{
    return (int64_t)((double)retry_job_backoff_ms(attempts, rand01) *
                     (base_s / 10.0));
}

/* The table row a verdict came from (its why is the row's why). */
static const struct errclass_row *
verdict_row(const struct err_verdict *v)
{
    const struct errclass_row *r;

    for (int i = 0; (r = errclass_table(i)) != NULL; i++)
        if (r->why == v->why)
            return r;
    return NULL;
}

const char *
outcome_alert_key(const struct err_verdict *v)
{
    const struct errclass_row *r = verdict_row(v);

    if (!r || r->src != ERRSRC_HTTP)
        return "api-config";
    if (r->code >= 401 && r->code_hi <= 403 && r->code != 402)
        return "auth-failing";
    if (r->code == 402 || r->message_hint ||
        (r->api_type && !strcmp(r->api_type, "insufficient_quota")))
        return "billing";
    return "api-config";
}

struct outcome_dec
outcome_decide(const struct outcome_in *in)
{
    struct outcome_dec d;
    const char *type = in->api_type ? in->api_type : "";

    memset(&d, 0, sizeof(d));
    d.alert = ALERT_NONE;
    if (in->v.cls == ERRC_RETRYABLE && in->v.retry_in_attempt &&
        in->tries < in->rp->max_retries && !in->draining) {
        d.retry_now = 1;
        d.delay_s = retry_delay_s(in->rp, in->tries, in->hint_s, in->rand01);
        return d;
    }
    if (in->draining && in->v.cls == ERRC_RETRYABLE) {
        /* no time left to retry: hand it back without counting it */
        d.out = OUT_REQUEUE;
        d.cls = DLQ_NOT_JOB_FAULT;
        d.type = "shutdown";
        return d;
    }
    switch (in->v.cls) {
    case ERRC_PERMANENT:
        d.out = OUT_DEAD;
        d.cls = DLQ_PERMANENT;
        return d;
    case ERRC_NOT_JOB:
        /* auth, billing or configuration: page someone */
        d.out = OUT_REQUEUE;
        d.cls = DLQ_NOT_JOB_FAULT;
        d.open_circuit = 1;
        d.alert = in->v.level;
        d.alert_key = outcome_alert_key(&in->v);
        return d;
    default:
        d.backoff_ms = outcome_job_backoff_ms(
            in->attempts, in->job_backoff_base_s, in->rand01);
        if (in->v.provider_wide &&
            (in->http_status == 429 || in->http_status == 529 ||
             !strcmp(type, "overloaded_error") ||
             !strcmp(type, "rate_limit_error"))) {
            /* Rate limited or overloaded after every retry: the API is
             * saying "later", not that the job is bad. Rate limits count
             * every 10th time (fail.lua), with this backoff. */
            d.out = OUT_THROTTLE;
            d.cls = DLQ_NOT_JOB_FAULT;
            d.open_circuit = 1;
            return d;
        }
        d.out = OUT_RETRY;
        d.cls = DLQ_TRANSIENT;
        return d;
    }
}
