/* genq enqueue: the spool, where pass 1 puts one record per input line for
 * pass 2 (enqueue.h): in memory up to GENQ_SPOOL_MEM_MAX, then a temporary
 * file, so memory stays bounded for any input. */
#include "fmacros.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "enqueue.h"

void
spool_rec_clear(struct rec *r)
{
    free(r->block);
    memset(r, 0, sizeof(*r));
}

/* A spool record: this header, then its strings (J: id, idem, payload,
 * notify; R: field, msg, "", "") back to back, each with its NUL (the
 * payload is in its stored form, pack.h, and may hold NULs: len[2] is its
 * length). One process writes and reads it back. */
struct spool_hdr {
    int64_t line, run_at, delay;
    int32_t prio, max_attempts;
    uint32_t len[4];
    char type, bulk;
};

void
spool_init(struct spool *sp, size_t max)
{
    memset(sp, 0, sizeof(*sp));
    buf_init(&sp->mem, 0);
    sp->max = max;
}

size_t
spool_max(void)
{
    const char *v = getenv("GENQ_SPOOL_MEM_MAX");
    char *end;
    unsigned long long n;

    if (!v || !*v)
        return SPOOL_MEM_MAX;
    errno = 0;
    n = strtoull(v, &end, 10);
    return errno || *end || v[0] == '-' ? SPOOL_MEM_MAX : (size_t)n;
}

void
spool_close(struct spool *sp)
{
    if (!sp)
        return;
    if (sp->f)
        fclose(sp->f);
    buf_free(&sp->mem);
    sp->f = NULL;
}

/* Move the memory spool to a temporary file (it outgrew SPOOL_MEM_MAX). */
static int
spool_spill(struct spool *sp)
{
    sp->f = tmpfile();
    if (!sp->f)
        return -1;
    if (sp->mem.len &&
        fwrite_unlocked(sp->mem.data, sp->mem.len, 1, sp->f) != 1)
        return -1;
    buf_free(&sp->mem);
    return 0;
}

static int
spool_put(struct spool *sp, const void *p, size_t n)
{
    if (n == 0)
        return 0; /* fwrite() of nothing "fails" */
    if (!sp->f && sp->mem.len + n > sp->max && spool_spill(sp) < 0)
        return -1;
    if (sp->f)
        return fwrite_unlocked(p, n, 1, sp->f) == 1 ? 0 : -1;
    return buf_append(&sp->mem, p, n);
}

/* Switch from writing to reading from the start. */
int
spool_rewind(struct spool *sp)
{
    sp->rpos = 0;
    return sp->f ? fseek(sp->f, 0, SEEK_SET) : 0;
}

int
spool_write(struct spool *sp, const struct rec *r)
{
    struct spool_hdr h;
    const char *str[4];

    memset(&h, 0, sizeof(h)); /* padding too: the spool is read back as is */
    h.type = r->type;
    h.bulk = r->bulk;
    h.line = r->line;
    h.prio = r->prio;
    h.max_attempts = r->max_attempts;
    h.run_at = r->run_at;
    h.delay = r->delay;
    str[0] = r->type == 'R' ? r->field : r->id;
    str[1] = r->type == 'R' ? r->msg : r->type == 'S' ? "" : r->idem;
    str[2] = r->type != 'J' ? "" : r->payload;
    str[3] = r->type != 'J' || !r->notify ? "" : r->notify;
    for (int i = 0; i < 4; i++)
        h.len[i] = (uint32_t)(i == 2 && r->type == 'J' ? r->payload_len
                                                       : strlen(str[i]));
    if (spool_put(sp, &h, sizeof(h)) < 0)
        return -1;
    for (int i = 0; i < 4; i++) /* the NUL apart: a payload has none */
        if (spool_put(sp, str[i], (size_t)h.len[i]) < 0 ||
            spool_put(sp, "", 1) < 0)
            return -1;
    return 0;
}

/* 1 = record read, 0 = end, -1 = error. Strings from a memory spool point
 * into it (valid until spool_close()); from a file, into r->block. */
static int
rec_read(struct spool *sp, struct rec *r)
{
    struct spool_hdr h;
    const char *str[4];
    char *p;
    size_t n;

    memset(r, 0, sizeof(*r));
    if (!sp->f) {
        if (sp->rpos == sp->mem.len)
            return 0;
        if (sp->mem.len - sp->rpos < sizeof(h))
            return -1;
        memcpy(&h, sp->mem.data + sp->rpos, sizeof(h));
        sp->rpos += sizeof(h);
    } else if (fread_unlocked(&h, sizeof(h), 1, sp->f) != 1) {
        return feof_unlocked(sp->f) ? 0 : -1;
    }
    n = (size_t)h.len[0] + h.len[1] + h.len[2] + h.len[3] + 4;
    if (!sp->f) {
        if (sp->mem.len - sp->rpos < n)
            return -1;
        p = sp->mem.data + sp->rpos;
        sp->rpos += n;
    } else {
        if (!(r->block = p = malloc(n)))
            return -1;
        if (fread_unlocked(p, n, 1, sp->f) != 1) {
            spool_rec_clear(r);
            return -1;
        }
    }
    for (int i = 0; i < 4; i++) {
        if (p[h.len[i]] != '\0') {
            spool_rec_clear(r);
            return -1;
        }
        str[i] = p;
        p += h.len[i] + 1;
    }
    r->type = h.type;
    r->bulk = h.bulk;
    r->line = (long)h.line;
    r->prio = h.prio;
    r->max_attempts = h.max_attempts;
    r->run_at = h.run_at;
    r->delay = h.delay;
    if (r->type == 'R') {
        r->field = str[0];
        r->msg = str[1];
    } else {
        r->id = str[0];
        r->idem = str[1];
        r->payload = str[2];
        r->payload_len = h.len[2];
        r->notify = *str[3] ? str[3] : NULL;
    }
    return 1;
}

/* The next spooled record in input order: the spool, then the second
 * half's (validate_split), its lines numbered on. As rec_read(). */
int
spool_next(struct enq *e, struct rec *r)
{
    int got = rec_read(e->spool, r);

    if (got != 0 || !e->spool2)
        return got;
    got = rec_read(e->spool2, r);
    if (got == 1)
        r->line += e->line_base2;
    return got;
}
