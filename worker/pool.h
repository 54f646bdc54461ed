/* pool: run the worker in this process or as a supervised pool of
 * pre-forked processes. */
#ifndef GENQ_POOL_H
#define GENQ_POOL_H

#include "worker.h"

/* One worker on the default event loop until it drains. Returns its exit
 * status (0 after a clean drain, 1 when it could not start); a Redis of an
 * unknown layout version ends the process with RCONN_EXIT_LAYOUT. */
int pool_run_one(const struct wcfg *cfg);

/* n pre-forked workers, supervised; child i serves metrics on the
 * configured port + i (cfg->metrics_addr is rewritten in the child).
 * Returns 0 when every child drained cleanly; RCONN_EXIT_LAYOUT when a
 * child was refused by the layout check (the others are stopped, nothing
 * is restarted); else 1. */
int pool_run(struct wcfg *cfg, int n);

#endif
