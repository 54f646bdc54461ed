/* Alerts: P0 (page now), P1 (sustained trouble), P2 (a job died), appended
 * to the KEY_ALERTS stream (common/keys.h) and optionally POSTed as JSON to a
 * webhook, each alert key at most once per 5 minutes per worker. */
#ifndef GENQ_ALERTS_H
#define GENQ_ALERTS_H

#include <ev.h>

#include "errclass.h"
#include "http_ev.h"
#include "metrics.h"
#include "rconn.h"

#define ALERTS_REPEAT_S 300.0

struct alerts;

/* rc, h and m are borrowed and must outlive the alerts. webhook may be NULL.
 * Returns NULL on out-of-memory. Free with alerts_free(). */
struct alerts *alerts_new(struct ev_loop *loop, struct rconn *rc,
                          struct http *h, struct metrics *m,
                          const char *webhook, const char *worker);
void alerts_free(struct alerts *a);

/* Raise an alert; dropped when the same key was raised less than 5 minutes
 * ago. Written to Redis now, or once Redis is reachable again; POSTed to the
 * webhook at once. lvl is ALERT_P2, ALERT_P1 or ALERT_P0. Returns 1 when
 * raised, 0 when suppressed. text must not carry secrets. */
int alerts_raise(struct alerts *a, enum alert_level lvl, const char *key,
                 const char *text);

/* Write alerts held while Redis was down (call after a reconnect). */
void alerts_flush(struct alerts *a);

#endif
