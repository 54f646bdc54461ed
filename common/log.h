/* Logging: one line per event to stderr, as text or JSON (--log-format),
 * with key/value fields. Callers never pass secrets to it. */
#ifndef GENQ_LOG_H
#define GENQ_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* json: 1 for JSON lines. name: the program, e.g. "genq-worker". */
void log_init(const char *name, int json, enum log_level min);
/* "debug", "warn", "error" as their level; anything else LOG_INFO. */
enum log_level log_level_parse(const char *s);
/* Set once the process knows its worker id (added to every line). */
void log_set_worker(const char *worker);

/* Log msg with NULL-terminated key/value string pairs:
 *   log_kv(LOG_INFO, "job succeeded", "job", id, "attempt", "2", NULL);
 * Can't fail (lines that do not fit 8 KiB are cut). The compiler checks
 * that the list ends with a null pointer (sentinel attribute, -Wformat). */
void log_kv(enum log_level lvl, const char *msg, ...) __attribute__((sentinel));

/* printf-style message without fields. */
void log_msg(enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
