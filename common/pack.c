/* pack: job payloads stored compressed (raw DEFLATE against the preset
 * dictionary of pack_dict.c, the job's leading {"id":"ID", left out) and
 * decoded back, bounded by JOB_MAX_BYTES; the format is in pack.h. One
 * packer per thread keeps its zlib streams: a deflate stream with the
 * dictionary set once, copied per job (setting it again costs zlib a hash
 * of every byte of it), and an inflate stream reset per job. */
#include "fmacros.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "job.h"
#include "meta.h"
#include "pack.h"

#ifndef PACK_WBITS
/* raw DEFLATE, 4 KiB window: the dictionary must fit in its reach, 4096 -
 * 262 bytes (test_pack.c checks); a smaller window is cheaper to copy */
#define PACK_WBITS    (-12)
#endif
#ifndef PACK_MEMLEVEL
#define PACK_MEMLEVEL 5 /* 4096 hash heads */
#endif

struct packer {
    z_stream primed; /* the dictionary set, no input yet: copied per job */
    z_stream d, i;   /* the job's deflate stream; the inflate stream */
    int primed_ok, d_ok, i_ok; /* stream initialised */
    unsigned char *out; /* compressed output (pack_payload) */
    size_t out_cap;
};

struct packer *
packer_new(void)
{
    struct packer *p = calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    if (deflateInit2(&p->primed, PACK_LEVEL, Z_DEFLATED, PACK_WBITS,
                     PACK_MEMLEVEL, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(p);
        return NULL;
    }
    p->primed_ok = 1;
    if (deflateSetDictionary(&p->primed, (const Bytef *)pack_dict,
                             (uInt)pack_dict_len) != Z_OK ||
        inflateInit2(&p->i, PACK_WBITS) != Z_OK) {
        packer_free(p);
        return NULL;
    }
    p->i_ok = 1;
    return p;
}

void
packer_free(struct packer *p)
{
    if (!p)
        return;
    if (p->primed_ok)
        deflateEnd(&p->primed);
    if (p->d_ok)
        deflateEnd(&p->d);
    if (p->i_ok)
        inflateEnd(&p->i);
    free(p->out);
    free(p);
}

/* The length of the {"id":"ID", that json (len bytes) opens with, or 0. */
static size_t
id_prefix_len(const char *id, const char *json, size_t len)
{
    size_t il = strlen(id);

    if (len < il + 9 || memcmp(json, "{\"id\":\"", 7) != 0 ||
        memcmp(json + 7, id, il) != 0 || memcmp(json + 7 + il, "\",", 2) != 0)
        return 0;
    return il + 9;
}

int
pack_payload(struct packer *p, const char *id, const char *json, size_t len,
             const char **out, size_t *out_len)
{
    size_t skip;
    int rc;

    *out = json;
    *out_len = len;
    if (len < PACK_MIN || len > JOB_MAX_BYTES)
        return 0;
    if (len > p->out_cap) {
        /* the tag and len - 2 bytes: no more is worth storing */
        unsigned char *o = realloc(p->out, len);
        if (!o)
            return -1;
        p->out = o;
        p->out_cap = len;
    }
    /* a copy of the primed stream: cheaper than setting the dictionary
     * again (zlib hashes every byte of it) */
    if (p->d_ok) {
        deflateEnd(&p->d);
        p->d_ok = 0;
    }
    if (deflateCopy(&p->d, &p->primed) != Z_OK)
        return -1;
    p->d_ok = 1;
    skip = id_prefix_len(id, json, len);
    p->out[0] = (unsigned char)(skip ? PACK_TAG_DEFLATE1_ID : PACK_TAG_DEFLATE1);
    p->d.next_in = (Bytef *)(uintptr_t)(json + skip);
    p->d.avail_in = (uInt)(len - skip);
    p->d.next_out = p->out + 1;
    p->d.avail_out = (uInt)(len - 2); /* tag included: smaller than len */
    rc = deflate(&p->d, Z_FINISH);
    if (rc == Z_OK || rc == Z_BUF_ERROR)
        return 0; /* did not fit in len - 2 bytes: stored plain */
    if (rc != Z_STREAM_END)
        return -1;
    *out = (const char *)p->out;
    *out_len = 1 + (size_t)p->d.total_out;
    return 1;
}

int
pack_is_packed(const char *v, size_t len)
{
    return v && len > 0 &&
           (v[0] == PACK_TAG_DEFLATE1 || v[0] == PACK_TAG_DEFLATE1_ID);
}

static const char no_mem[] = "could not be decoded: out of memory";

/* NULL, with the message in err and errno ENOMEM (msg is no_mem: worth
 * another try) or EINVAL (the value itself is bad). */
static char *
fail(char *err, size_t errlen, const char *id, const char *msg)
{
    snprintf(err, errlen, "job %s: stored payload %s", id, msg);
    errno = msg == no_mem ? ENOMEM : EINVAL;
    return NULL;
}

static const char too_big[] = "decodes to more than JOB_MAX_BYTES (1 MiB): "
                              "refused";
/* Grow *o (capacity *cap, room for a NUL beyond) toward JOB_MAX_BYTES + 1:
 * 0, or -1 (out of memory; *o unchanged). */
static int
grow(char **o, size_t *cap)
{
    size_t nc = *cap * 2 > JOB_MAX_BYTES + 1 ? JOB_MAX_BYTES + 1 : *cap * 2;
    char *g = realloc(*o, nc + 1);

    if (!g)
        return -1;
    *o = g;
    *cap = nc;
    return 0;
}

/* Inflate v (len bytes, tag cut) with stream s into a fresh buffer that
 * opens with the pre bytes at pre. */
static char *
inflate_into(z_stream *s, const char *id, const char *pre, size_t pl,
             const char *v, size_t len, size_t *out_len, char *err,
             size_t errlen)
{
    size_t cap = pl + len * 4 + 256, n = pl;
    char *o;
    int rc;

    if (cap > JOB_MAX_BYTES + 1)
        cap = JOB_MAX_BYTES + 1;
    if (!(o = malloc(cap + 1)))
        return fail(err, errlen, id, no_mem);
    if (pl)
        memcpy(o, pre, pl);
    s->next_in = (Bytef *)(uintptr_t)v;
    s->avail_in = (uInt)len;
    for (;;) {
        s->next_out = (Bytef *)o + n;
        s->avail_out = (uInt)(cap - n);
        rc = inflate(s, Z_NO_FLUSH);
        n = cap - s->avail_out;
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            break; /* the end, or an error */
        if (s->avail_out > 0) { /* input used up before the end */
            rc = Z_DATA_ERROR;
            break;
        }
        if (n > JOB_MAX_BYTES || grow(&o, &cap) < 0) {
            free(o);
            return fail(err, errlen, id, n > JOB_MAX_BYTES ? too_big : no_mem);
        }
    }
    if (rc != Z_STREAM_END || s->avail_in != 0 || n > JOB_MAX_BYTES) {
        free(o);
        return fail(err, errlen, id,
                    rc == Z_MEM_ERROR      ? no_mem
                    : n > JOB_MAX_BYTES    ? too_big
                                           : "is corrupt (its compressed data "
                                             "is truncated or invalid)");
    }
    o[n] = '\0';
    if (out_len)
        *out_len = n;
    return o;
}

/* A copy of plain stored payload v, or NULL (a tag of a later genq, or
 * out of memory) with the message in err. */
static char *
plain_copy(const char *id, const char *v, size_t len, size_t *out_len,
           char *err, size_t errlen)
{
    char *o;

    if (len > 0 && (unsigned char)v[0] < 0x09) {
        char m[96];
        snprintf(m, sizeof(m), "has an unknown encoding (tag byte 0x%02x: "
                 "written by a newer genq?)", (unsigned char)v[0]);
        return fail(err, errlen, id, m);
    }
    if (!(o = malloc(len + 1)))
        return fail(err, errlen, id, no_mem);
    if (len)
        memcpy(o, v, len);
    o[len] = '\0';
    if (out_len)
        *out_len = len;
    return o;
}

char *
pack_decode(struct packer *p, const char *id, const char *v, size_t len,
            size_t *out_len, char *err, size_t errlen)
{
    z_stream tmp, *s;
    char *o = NULL, *pre = NULL;
    size_t pl = 0;

    memset(&tmp, 0, sizeof(tmp));
    s = p ? &p->i : &tmp;
    if (!pack_is_packed(v, len))
        return plain_copy(id, v, len, out_len, err, errlen);
    if (!p) {
        if (inflateInit2(&tmp, PACK_WBITS) != Z_OK)
            return fail(err, errlen, id, no_mem);
    } else if (inflateReset(s) != Z_OK) {
        return fail(err, errlen, id, "could not be decoded (zlib reset)");
    }
    if (v[0] == PACK_TAG_DEFLATE1_ID) { /* {"id":"ID", was left out */
        pl = strlen(id) + 9;
        if ((pre = malloc(pl + 1)))
            snprintf(pre, pl + 1, "{\"id\":\"%s\",", id);
    }
    if (pl && !pre)
        fail(err, errlen, id, no_mem);
    else if (inflateSetDictionary(s, (const Bytef *)pack_dict,
                                  (uInt)pack_dict_len) != Z_OK)
        fail(err, errlen, id, "could not be decoded (zlib dictionary)");
    else
        o = inflate_into(s, id, pre, pl, v + 1, len - 1, out_len, err, errlen);
    free(pre);
    if (!p)
        inflateEnd(&tmp);
    return o;
}

char *
pack_stored_json(struct packer *p, const char *id, const char *v, size_t len,
                 char *err, size_t errlen)
{
    size_t h = meta_header_len(v);

    return pack_decode(p, id, v + h, len - h, NULL, err, errlen);
}
