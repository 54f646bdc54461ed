/* fdlimit: enough file descriptors for the configured concurrency. */
#ifndef GENQ_FDLIMIT_H
#define GENQ_FDLIMIT_H

/* Descriptors a worker process needs besides one socket per slot: Redis
 * connections, the metrics listener, curl's internals, logs. */
#define FDLIMIT_SPARE 128

/* Raise the soft RLIMIT_NOFILE to need when it is lower, up to the hard
 * limit, and log what was done (INFO when raised, WARN when the hard
 * limit is lower than need: transfers past it fail to connect). Returns
 * the soft limit in force afterwards, or -1 when it cannot be read. */
long fdlimit_ensure(long need);

#endif
