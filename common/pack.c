/* pack: job payloads stored compressed (a magic-less zstd frame against the
 * built-in dictionary of pack_zdict.c + pack_dict.c, the job's leading
 * {"id":"ID", left out) and decoded back, bounded by JOB_MAX_BYTES; the
 * format is in pack.h. One packer per thread keeps its zstd contexts and
 * the dictionary loaded once (CDict, DDict): zstd is built for small
 * inputs against a dictionary with entropy tables (no Huffman tables made
 * per value, unlike DEFLATE: README "genq enqueue"). */
#include "fmacros.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "job.h"
#include "meta.h"
#include "pack.h"

/* the frame's magic number (RFC 8878 3.1.1), little-endian: not stored */
static const unsigned char zmagic[4] = {0x28, 0xb5, 0x2f, 0xfd};

struct packer {
    ZSTD_CCtx *c; /* compression: made on the first pack_payload() */
    ZSTD_CDict *cd;
    ZSTD_DCtx *d; /* decoding */
    ZSTD_DDict *dd;
    unsigned char *out; /* compressed output (pack_payload) */
    size_t out_cap;
    unsigned char *in; /* a stored frame with its magic put back */
    size_t in_cap;
};

/* The whole dictionary (pack.h), fresh (caller frees), or NULL. */
static unsigned char *
dict_whole(size_t *len)
{
    unsigned char *b = malloc(pack_zdict_head_len + pack_dict_len);

    if (b) {
        memcpy(b, pack_zdict_head, pack_zdict_head_len);
        memcpy(b + pack_zdict_head_len, pack_dict, pack_dict_len);
    }
    *len = pack_zdict_head_len + pack_dict_len;
    return b;
}

struct packer *
packer_new(void)
{
    struct packer *p = calloc(1, sizeof(*p));
    size_t dl;
    unsigned char *dict = dict_whole(&dl);

    if (p && dict && (p->d = ZSTD_createDCtx()))
        p->dd = ZSTD_createDDict(dict, dl);
    free(dict);
    if (!p || !p->dd) {
        packer_free(p);
        return NULL;
    }
    return p;
}

void
packer_free(struct packer *p)
{
    if (!p)
        return;
    ZSTD_freeCCtx(p->c); /* each accepts NULL */
    ZSTD_freeCDict(p->cd);
    ZSTD_freeDCtx(p->d);
    ZSTD_freeDDict(p->dd);
    free(p->out);
    free(p->in);
    free(p);
}

/* Make p's compression context, the dictionary loaded and the frame
 * parameters of pack.h set: 0, or -1 (out of memory). */
static int
compressor(struct packer *p)
{
    size_t dl;
    unsigned char *dict;

    if (p->c)
        return 0;
    if (!(dict = dict_whole(&dl)))
        return -1;
    p->cd = ZSTD_createCDict(dict, dl, PACK_ZLEVEL);
    free(dict);
    if (!p->cd || !(p->c = ZSTD_createCCtx()))
        return -1;
    if (ZSTD_isError(ZSTD_CCtx_refCDict(p->c, p->cd)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(p->c, ZSTD_c_dictIDFlag, 0)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(p->c, ZSTD_c_checksumFlag, 0)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(p->c, ZSTD_c_contentSizeFlag, 1))) {
        ZSTD_freeCCtx(p->c);
        p->c = NULL;
        return -1;
    }
    return 0;
}

/* The length of the {"id":"ID", that json (len bytes) opens with, or 0
 * (also for an id longer than the reader puts back: decode_packed()). */
static size_t
id_prefix_len(const char *id, const char *json, size_t len)
{
    size_t il = strlen(id);

    if (il > JOB_ID_MAX || len < il + 9 || memcmp(json, "{\"id\":\"", 7) != 0 ||
        memcmp(json + 7, id, il) != 0 || memcmp(json + 7 + il, "\",", 2) != 0)
        return 0;
    return il + 9;
}

int
pack_payload(struct packer *p, const char *id, const char *json, size_t len,
             const char **out, size_t *out_len)
{
    size_t skip, cap = len + 2, r;

    *out = json;
    *out_len = len;
    if (len < PACK_MIN || len > JOB_MAX_BYTES)
        return 0;
    if (compressor(p) < 0)
        return -1;
    if (cap > p->out_cap) {
        /* the frame with its magic: stored without it but with the tag,
         * len - 1 bytes at most are worth storing */
        unsigned char *o = realloc(p->out, cap);
        if (!o)
            return -1;
        p->out = o;
        p->out_cap = cap;
    }
    skip = id_prefix_len(id, json, len);
    r = ZSTD_compress2(p->c, p->out, cap, json + skip, len - skip);
    if (ZSTD_isError(r))
        return ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall ? 0 : -1;
    if (r <= sizeof(zmagic) || memcmp(p->out, zmagic, sizeof(zmagic)) != 0)
        return -1;
    /* the tag in the magic's last byte: tag + frame, len - 1 bytes at most */
    p->out[3] = (unsigned char)(skip ? PACK_TAG_ZSTD1_ID : PACK_TAG_ZSTD1);
    *out = (const char *)p->out + 3;
    *out_len = r - 3;
    return 1;
}

int
pack_is_packed(const char *v, size_t len)
{
    return v && len > 0 &&
           (v[0] == PACK_TAG_ZSTD1 || v[0] == PACK_TAG_ZSTD1_ID);
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
static const char corrupt[] = "is corrupt (its compressed data is truncated "
                              "or invalid)";

/* Decode frame f (n bytes, its magic put back) with p into a fresh buffer
 * that opens with the pl bytes at pre. */
static char *
zdecode(struct packer *p, const char *id, const char *pre, size_t pl,
        const unsigned char *f, size_t n, size_t *out_len, char *err,
        size_t errlen)
{
    unsigned long long size = ZSTD_getFrameContentSize(f, n);
    size_t r;
    char *o;

    /* the content size is always written; one whole frame, nothing after */
    if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR ||
        ZSTD_findFrameCompressedSize(f, n) != n)
        return fail(err, errlen, id, corrupt);
    if (size > JOB_MAX_BYTES - pl)
        return fail(err, errlen, id, too_big);
    if (!(o = malloc(pl + (size_t)size + 1)))
        return fail(err, errlen, id, no_mem);
    if (pl)
        memcpy(o, pre, pl);
    r = ZSTD_decompress_usingDDict(p->d, o + pl, (size_t)size, f, n, p->dd);
    if (ZSTD_isError(r) || r != size) {
        int oom = ZSTD_isError(r) &&
                  ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation;
        free(o);
        return fail(err, errlen, id, oom ? no_mem : corrupt);
    }
    o[pl + r] = '\0';
    if (out_len)
        *out_len = pl + r;
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
        snprintf(m, sizeof(m),
                 "has an unknown encoding (tag byte 0x%02x: "
                 "written by a newer genq?)",
                 (unsigned char)v[0]);
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

/* The JSON of compressed stored payload v (len bytes, tag first) with p. */
static char *
decode_packed(struct packer *p, const char *id, const char *v, size_t len,
              size_t *out_len, char *err, size_t errlen)
{
    char pre[JOB_ID_MAX + 16];
    size_t pl = 0, n = len - 1 + sizeof(zmagic);

    if (v[0] == PACK_TAG_ZSTD1_ID) { /* {"id":"ID", was left out */
        int k = snprintf(pre, sizeof(pre), "{\"id\":\"%s\",", id);
        if (k < 0 || (size_t)k >= sizeof(pre))
            return fail(err, errlen, id, "has an id too long to put back");
        pl = (size_t)k;
    }
    if (!p->in || n > p->in_cap) {
        unsigned char *g = realloc(p->in, n);
        if (!g)
            return fail(err, errlen, id, no_mem);
        p->in = g;
        p->in_cap = n;
    }
    memcpy(p->in, zmagic, sizeof(zmagic));
    memcpy(p->in + sizeof(zmagic), v + 1, len - 1);
    return zdecode(p, id, pre, pl, p->in, n, out_len, err, errlen);
}

char *
pack_decode(struct packer *p, const char *id, const char *v, size_t len,
            size_t *out_len, char *err, size_t errlen)
{
    struct packer *tmp = NULL;
    char *o;

    if (!pack_is_packed(v, len))
        return plain_copy(id, v, len, out_len, err, errlen);
    if (!p && !(p = tmp = packer_new()))
        return fail(err, errlen, id, no_mem);
    o = decode_packed(p, id, v, len, out_len, err, errlen);
    packer_free(tmp);
    return o;
}

char *
pack_stored_json(struct packer *p, const char *id, const char *v, size_t len,
                 char *err, size_t errlen)
{
    size_t h = meta_header_len(v);

    return pack_decode(p, id, v + h, len - h, NULL, err, errlen);
}
