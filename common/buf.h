/* buf: a tiny growable byte buffer with a size cap, always NUL-terminated
 * once it holds data. Used for response bodies, SSE lines and output text. */
#ifndef GENQ_BUF_H
#define GENQ_BUF_H

#include <stddef.h>

struct buf {
    char *data; /* NULL until the first append; then NUL-terminated */
    size_t len; /* bytes held, not counting the NUL */
    size_t cap; /* bytes allocated, counting the NUL */
    size_t max; /* largest len allowed; 0 = no cap */
};

/* Initialise an empty buffer whose length may not exceed max bytes (0 = no
 * cap). Allocates nothing. This function can't fail. */
void buf_init(struct buf *b, size_t max);

/* Append n bytes from p (p may be NULL when n is 0). Returns 0, or -1 with
 * errno ENOMEM (allocation failed) or EMSGSIZE (len would exceed max); on
 * error the buffer is unchanged. */
int buf_append(struct buf *b, const void *p, size_t n);

/* Make the buffer n bytes longer and return where those n bytes start:
 * the caller fills all of them (the NUL after them is written). NULL with
 * errno as buf_append (the buffer then unchanged). One capacity check for
 * a record built of many small pieces. */
char *buf_grow(struct buf *b, size_t n);

/* Make room for n more bytes without adding any (a record whose size is
 * known grows once, not by doublings). 0, or -1 with errno as buf_append
 * (the buffer then unchanged). */
int buf_reserve(struct buf *b, size_t n);

/* Append a NUL-terminated string; as buf_append. */
int buf_append_str(struct buf *b, const char *s);

/* Empty the buffer but keep its memory for reuse. Accepts NULL. */
void buf_reset(struct buf *b);

/* Release the memory and leave an empty buffer with the same max.
 * Accepts NULL. */
void buf_free(struct buf *b);

/* Hand the data over to the caller (who frees it with free()) and leave the
 * buffer empty. Returns "" copied into a fresh allocation when the buffer is
 * empty; NULL on ENOMEM (the buffer is then unchanged). *len (may be NULL)
 * receives the length. */
char *buf_detach(struct buf *b, size_t *len);

#endif
