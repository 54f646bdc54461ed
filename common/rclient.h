/* Synchronous Redis client helpers for `genq` and the tests: connect from a
 * URL (AUTH, SELECT, script load), and call the lifecycle scripts with
 * EVALSHA, falling back to EVAL on NOSCRIPT. */
#ifndef GENQ_RCLIENT_H
#define GENQ_RCLIENT_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "keys.h"
#include "redisurl.h"
#include "scripts.h"

/* Connect to u within timeout_s, authenticate, select the database and load
 * every script (a sentinel:// URL: through sentinel_connect(), sentinel.h).
 * Returns a context the caller frees with redisFree(), or NULL with a message
 * in err (never containing the password); errno is then EPROTONOSUPPORT when
 * Redis was refused by the layout check (layout.h). */
redisContext *rclient_connect(const struct redis_url *u, double timeout_s,
                              char *err, size_t errlen);

/* Call script id on queue k with args (ARGV[1], the key prefix, is added
 * here; argv[i] is ARGV[i+2]). argvlen may be NULL for C strings. Returns
 * the reply (caller frees with freeReplyObject()), or NULL with err set on
 * I/O failure or when Redis answers with an error. */
redisReply *rclient_script(redisContext *c, enum script_id id,
                           const struct qkeys *k, int argc, const char **argv,
                           const size_t *argvlen, char *err, size_t errlen);

/* redisCommand() that follows Redis Cluster as rclient_script() does
 * (MOVED, ASK, TRYAGAIN, CLUSTERDOWN): for the plain commands of `genq` on
 * a queue's keys, which a reshard moves. fmt takes hiredis's conversions
 * (%s, %d, %ld, %lld, ...; not %b, which the printf check refuses: use
 * argument arrays for binary data). Returns the reply, an error reply as
 * Redis gave it (caller frees with freeReplyObject()), or NULL on an I/O
 * failure, out of memory or a bad format with c->errstr saying (that of the
 * connection which failed, copied). Without a cluster it is redisCommand().
 * Not on a connection with pipelined replies outstanding (as
 * redisCommand()). */
redisReply *rclient_command(redisContext *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The same with an argument array (argvlen NULL: C strings), as
 * redisCommandArgv(). */
redisReply *rclient_command_argv(redisContext *c, int argc, const char **argv,
                                 const size_t *argvlen);

/* Pipelining: append a script call without reading its reply (EVALSHA only:
 * rclient_connect() loaded the scripts). 0, or -1 on out-of-memory. */
int rclient_append_script(redisContext *c, enum script_id id,
                          const struct qkeys *k, int argc, const char **argv,
                          const size_t *argvlen);

/* Write everything appended so far (blocking). hiredis writes only when a
 * reply is awaited: without this a pipeline's batches wait in the output
 * buffer while the caller builds the next ones, and Redis idles. 0, or -1
 * on an I/O error (c->errstr says). */
int rclient_flush(redisContext *c);

/* Read the next pipelined reply. NULL with err set on I/O failure or an
 * error reply; caller frees the reply with freeReplyObject(). */
redisReply *rclient_read(redisContext *c, char *err, size_t errlen);

/* Build the argv of a script call: cmd ("EVALSHA"/"EVAL"), sha-or-text,
 * key count, the queue's keys, prefix, then args. Returns a malloc'd pair of
 * arrays via *av / *al (caller frees both with free()) and the count, or -1
 * on out-of-memory. Shared with the worker's async client. */
/* A script's own keys, for scripts outside any queue (the limiter): n
 * keys (at most 17) and ARGV[1]'s prefix; all borrowed. */
struct skeys {
    int n;
    const char *const *keyv;
    const char *prefix;
};
/* The KEYS of a queue's script: ONE key of its {Q} slot (QK_META), for
 * Redis Cluster's routing; the scripts build every name from the prefix,
 * ARGV[1] (prelude.lua). cluster (the call goes to a Redis Cluster): the
 * slot guard too (keys.h QKEY_GUARD). Borrows k. */
struct skeys rclient_qkeys(const struct qkeys *k, int cluster);
/* The same with the keys of k (nothing else differs). */
int rclient_build_argv_keys(const char *cmd, const char *body,
                            const struct skeys *k, int argc, const char **argv,
                            const size_t *argvlen, const char ***av,
                            size_t **al);
/* rclient_append_script() with the keys of k. */
int rclient_append_script_keys(redisContext *c, enum script_id id,
                               const struct skeys *k, int argc,
                               const char **argv, const size_t *argvlen);
int rclient_build_argv(const char *cmd, const char *body, const struct qkeys *k,
                       int argc, const char **argv, const size_t *argvlen,
                       const char ***av, size_t **al);

#endif
