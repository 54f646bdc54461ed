/* circuit: the worker's circuit breaker. An outcome that is not the job's
 * fault (auth, quota, a rate-limit storm, an outage) opens it: nothing is
 * claimed for a while (exponential, jittered, at most --circuit-max), then
 * one probe job goes through (the jobs already out go on; the probe does
 * not wait for them); its success closes it. */
#include "fmacros.h"

#include <stdio.h>

#include "log.h"
#include "worker_int.h"

/* Not the job's fault (auth, quota, rate limit storm, outage): stop claiming
 * for a while, then let one probe job through. */
void
circuit_open(struct worker *w, double hint_s, const char *why)
{
    ev_tstamp now = ev_now(w->loop);
    double d;

    if (now < w->circuit_until) {
        /* already open: a later hint may only lengthen the pause */
        if (hint_s > 0 && now + hint_s > w->circuit_until)
            w->circuit_until = now + hint_s;
        return;
    }
    w->circuit_backoff = w->circuit_backoff ? w->circuit_backoff * 2 : 1.0;
    if (w->circuit_backoff > w->cfg->circuit_max_s)
        w->circuit_backoff = w->cfg->circuit_max_s;
    d = hint_s > 0 ? hint_s : w->circuit_backoff * (0.5 + worker_rand01() / 2);
    if (now + d > w->circuit_until)
        w->circuit_until = now + d;
    w->circuit_probe = 1;
    w->circuit_opened_at = now;
    limiter_breaker_open(w, hint_s);
    metrics_circuit(w->m, 1);
    {
        char text[600];
        snprintf(text, sizeof(text), "claiming paused for %.1f s: %.500s", d,
                 why);
        alerts_raise(w->al, ALERT_P1, "circuit-open", text);
    }
    if (now - w->last_auth_log >= 10.0) {
        char s[32];
        snprintf(s, sizeof(s), "%.1f", d);
        log_kv(LOG_ERROR,
               "claiming paused: the API refuses work that is not "
               "the jobs' fault",
               "reason", why, "pause_s", s, NULL);
        w->last_auth_log = now;
    }
}

int
circuit_probe_out(const struct worker *w)
{
    /* jobs claimed before the circuit opened are not probes: their
     * outcome proves nothing (circuit_success), and waiting for them held
     * the probe for the slowest of them (a stalled stream: seconds) */
    for (int i = 0; i < w->cap; i++) {
        const struct wjob *j = &w->slots[i];
        if (j->st == J_QUEUED ||
            (j->st != J_FREE && j->t_start >= w->circuit_opened_at))
            return 1;
    }
    return 0;
}

void
circuit_success(struct worker *w, const struct wjob *j)
{
    /* a job claimed before the circuit opened proves nothing */
    if (j->t_start < w->circuit_opened_at)
        return;
    if (w->circuit_probe || w->circuit_backoff) {
        if (w->circuit_probe)
            log_kv(LOG_INFO, "API accepts work again; claiming resumed", NULL);
        w->circuit_probe = 0;
        w->circuit_backoff = 0;
        w->circuit_until = 0;
        metrics_circuit(w->m, 0);
        maybe_claim(w);
    }
}
