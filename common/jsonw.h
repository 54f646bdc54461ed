/* jsonw: a small, fast JSON writer into a struct buf (common/buf.h), for
 * documents written on the hot path (the worker's result document), where
 * cJSON's number printing costs too much. Every function returns 0, or -1
 * on out-of-memory or over the buffer's cap (the buffer then holds a
 * partial document: the caller discards it). Nothing is allocated outside
 * the buffer, which the caller frees with buf_free(). */
#ifndef GENQ_JSONW_H
#define GENQ_JSONW_H

#include <stddef.h>

#include "buf.h"

/* Append the n bytes at s as a JSON string, quotes included. s must be
 * valid UTF-8: only '"', '\\' and control characters are escaped. */
int jsonw_str(struct buf *b, const char *s, size_t n);

/* Append ,"name": and value, which is already JSON text. */
int jsonw_field(struct buf *b, const char *name, const char *value);

/* Append ,"name": and value as a JSON string; null when value is NULL or
 * empty. */
int jsonw_field_str(struct buf *b, const char *name, const char *value);

/* Append v in decimal (no printf: the result document writes several). */
int jsonw_ll(struct buf *b, long long v);

/* Append ,"name": and v in decimal. */
int jsonw_field_ll(struct buf *b, const char *name, long long v);

#endif
