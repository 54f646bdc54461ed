/* buf: a tiny growable byte buffer with a size cap (see buf.h). */
#include "fmacros.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

void
buf_init(struct buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

/* Grow geometrically so that appending one byte at a time stays linear. */
int
buf_append(struct buf *b, const void *p, size_t n)
{
    if (n == 0 && b->data != NULL)
        return 0;
    if (n > (size_t)-1 / 2 - b->len || (b->max != 0 && b->len + n > b->max)) {
        errno = EMSGSIZE;
        return -1;
    }
    size_t need = b->len + n + 1;
    if (need > b->cap || b->data == NULL) { /* data NULL means cap 0 */
        size_t ncap = b->cap ? b->cap : 64;
        while (ncap < need)
            ncap *= 2;
        char *nd = realloc(b->data, ncap);
        if (nd == NULL) {
            errno = ENOMEM;
            return -1;
        }
        b->data = nd;
        b->cap = ncap;
    }
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

char *
buf_grow(struct buf *b, size_t n)
{
    size_t at = b->len;

    if (buf_append(b, NULL, 0) < 0) /* allocated: cap > 0 from here */
        return NULL;
    if (n > (size_t)-1 / 2 - b->len || (b->max != 0 && b->len + n > b->max)) {
        errno = EMSGSIZE;
        return NULL;
    }
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap;
        char *nd;
        while (ncap < b->len + n + 1)
            ncap *= 2;
        nd = realloc(b->data, ncap);
        if (!nd) {
            errno = ENOMEM;
            return NULL;
        }
        b->data = nd;
        b->cap = ncap;
    }
    b->len += n;
    b->data[b->len] = '\0';
    return b->data + at;
}

int
buf_reserve(struct buf *b, size_t n)
{
    if (buf_grow(b, n) == NULL)
        return -1;
    b->len -= n;
    b->data[b->len] = '\0';
    return 0;
}

int
buf_append_str(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

void
buf_reset(struct buf *b)
{
    if (b == NULL)
        return;
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

void
buf_free(struct buf *b)
{
    if (b == NULL)
        return;
    free(b->data);
    buf_init(b, b->max);
}

char *
buf_detach(struct buf *b, size_t *len)
{
    char *d = b->data;
    size_t n = b->len;
    if (d == NULL) {
        d = malloc(1);
        if (d == NULL) {
            errno = ENOMEM;
            return NULL;
        }
        d[0] = '\0';
    }
    buf_init(b, b->max);
    if (len != NULL)
        *len = n;
    return d;
}
