/* Text or JSON log lines on stderr (see log.h). */
#include "fmacros.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *prog = "genq";
static const char *wid;
static int as_json;
static enum log_level min_level = LOG_INFO;
static const char *const level_name[] = {"debug", "info", "warn", "error"};

void
log_init(const char *name, int json, enum log_level min)
{
    prog = name;
    as_json = json != 0;
    min_level = min;
}

void
log_set_worker(const char *worker)
{
    wid = worker;
}

/* Append s to the line, JSON-escaped when json, else verbatim but with
 * control characters replaced. */
static size_t
put_str(char *out, size_t at, size_t cap, const char *s, int json)
{
    for (; *s && at + 8 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (json && (c == '"' || c == '\\')) {
            out[at++] = '\\';
            out[at++] = (char)c;
        } else if (c < 0x20) {
            if (json)
                at += (size_t)snprintf(out + at, cap - at, "\\u%04x", c);
            else
                out[at++] = ' ';
        } else {
            out[at++] = (char)c;
        }
    }
    return at;
}

static size_t
put_raw(char *out, size_t at, size_t cap, const char *s)
{
    while (*s && at + 1 < cap)
        out[at++] = *s++;
    return at;
}

/* Around each key/value pair: [text, JSON] x (before key, between, after). */
static const char *const kv_sep[2][3] = {{" ", "=", ""},
                                         {",\"", "\":\"", "\""}};

static void
emit(enum log_level lvl, const char *msg, va_list ap)
{
    char line[8192], ts[64];
    size_t at = 0, cap = sizeof(line) - 2;
    struct timespec now;
    struct tm tm;
    const char *k, *v;

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000);
    if (as_json) {
        at = put_raw(line, at, cap, "{\"ts\":\"");
        at = put_raw(line, at, cap, ts);
        at = put_raw(line, at, cap, "\",\"level\":\"");
        at = put_raw(line, at, cap, level_name[lvl]);
        at = put_raw(line, at, cap, "\",\"prog\":\"");
        at = put_str(line, at, cap, prog, 1);
        if (wid) {
            at = put_raw(line, at, cap, "\",\"worker\":\"");
            at = put_str(line, at, cap, wid, 1);
        }
        at = put_raw(line, at, cap, "\",\"msg\":\"");
        at = put_str(line, at, cap, msg, 1);
        at = put_raw(line, at, cap, "\"");
    } else {
        at = put_raw(line, at, cap, ts);
        at = put_raw(line, at, cap, " ");
        at = put_raw(line, at, cap, level_name[lvl]);
        at = put_raw(line, at, cap, " ");
        at = put_str(line, at, cap, prog, 0);
        at = put_raw(line, at, cap, ": ");
        at = put_str(line, at, cap, msg, 0);
    }
    /* the key/value pairs: ,"k":"v" in JSON, k=v in text */
    while ((k = va_arg(ap, const char *)) != NULL) {
        v = va_arg(ap, const char *);
        at = put_raw(line, at, cap, kv_sep[as_json][0]);
        at = put_str(line, at, cap, k, as_json);
        at = put_raw(line, at, cap, kv_sep[as_json][1]);
        at = put_str(line, at, cap, v ? v : "", as_json);
        at = put_raw(line, at, cap, kv_sep[as_json][2]);
    }
    if (as_json)
        at = put_raw(line, at, cap, "}");
    line[at++] = '\n';
    /* One write per line so that lines of concurrent processes never mix. */
    if (write(STDERR_FILENO, line, at) < 0)
        return;
}

void
log_kv(enum log_level lvl, const char *msg, ...)
{
    va_list ap;

    if (lvl < min_level)
        return;
    va_start(ap, msg);
    emit(lvl, msg, ap);
    va_end(ap);
}

static void
emit_plain(enum log_level lvl, const char *msg, ...)
{
    va_list ap;

    va_start(ap, msg);
    emit(lvl, msg, ap);
    va_end(ap);
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
    char msg[4096];
    va_list ap;

    if (lvl < min_level)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    emit_plain(lvl, msg, (const char *)NULL);
}

enum log_level
log_level_parse(const char *s)
{
    if (!strcmp(s, "debug"))
        return LOG_DEBUG;
    if (!strcmp(s, "warn"))
        return LOG_WARN;
    if (!strcmp(s, "error"))
        return LOG_ERROR;
    return LOG_INFO;
}
