/* Queued inline jobs by id: `genq status`, `genq cancel`, `genq result`
 * and the dashboard's job view call ready_find() before their script, so
 * that a job the bulk path of `genq enqueue` stored inline in a ready list
 * (common/meta.h), which no key finds until it is claimed, becomes a plain
 * entry the scripts find by key (common/lua/ready_find.lua). */
#ifndef GENQ_READY_FIND_H
#define GENQ_READY_FIND_H

#include <stddef.h>

#include "rclient.h"

/* Ready-list elements one script call scans: bounds each call's time
 * (~1 us per element of ~200 bytes at load 7.6: ~2 ms per call). */
#define READY_FIND_CHUNK 2000

/* Make the queued inline jobs among ids[0..n) (queue of keys k, on c)
 * plain entries. One call when every id is known by key; else a scan of the
 * ready lists, READY_FIND_CHUNK elements per call, until each id is found
 * or every list was scanned: O(backlog). An id found nowhere is left to the
 * caller's script (which then reports it unknown). Returns how many were
 * found, or -1 with the problem in err. Allocates nothing that outlives the
 * call. */
long ready_find(redisContext *c, const struct qkeys *k, const char *const *ids,
                int n, char *err, size_t errlen);

#endif
