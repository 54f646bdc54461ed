/* Unit tests of the payload codec (common/pack.c): round trips with and
 * without a packer and a bulk header, small and incompressible payloads
 * stored plain, plain JSON read as it is, corrupt, truncated, foreign-tag
 * and over-large values refused with the job id in the message. */
#include "fmacros.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "job.h"
#include "meta.h"
#include "pack.h"

static const char article[] =
    "{\"id\":\"01a24a9f-603b-758a-92c7-cc64201e6bab\",\"prompt\":\"Write a "
    "short essay on tide pools for a school magazine: what lives there, how "
    "the animals cope with waves and sun, and why visitors should leave "
    "shells where they are. Friendly tone, 600 words.\",\"max_tokens\":1200,"
    "\"metadata\":{\"order\":42}}";
static const char id[] = "01a24a9f-603b-758a-92c7-cc64201e6bab";

Test(pack, round_trip)
{
    struct packer *p = packer_new();
    const char *out;
    size_t n, dn;
    char err[256], *back;
    int rc;

    cr_assert_not_null(p);
    rc = pack_payload(p, id, article, strlen(article), &out, &n);
    cr_assert_eq(rc, 1);
    cr_assert_eq(out[0], PACK_TAG_ZSTD1_ID); /* the id left out */
    /* the frame header (pack.h): single segment, content size, no
     * checksum, no dictionary id */
    cr_assert_eq((unsigned char)out[1] & 0x27, 0x20, "0x%02x", out[1]);
    cr_assert_lt(n, strlen(article) * 3 / 4, "%zu of %zu", n, strlen(article));
    cr_assert(pack_is_packed(out, n));
    /* with the packer (its own stream), and without (a stream per call) */
    back = pack_decode(p, id, out, n, &dn, err, sizeof(err));
    cr_assert_not_null(back, "%s", err);
    cr_assert_str_eq(back, article);
    cr_assert_eq(dn, strlen(article));
    free(back);
    back = pack_decode(NULL, id, out, n, NULL, err, sizeof(err));
    cr_assert_not_null(back, "%s", err);
    cr_assert_str_eq(back, article);
    free(back);
    /* the dictionary holds the id: another id does not decode it */
    back = pack_decode(NULL, "other", out, n, NULL, err, sizeof(err));
    if (back)
        cr_assert_str_neq(back, article);
    free(back);
    packer_free(p);
}

Test(pack, behind_bulk_header)
{
    struct packer *p = packer_new();
    char v[1024], err[256], *back;
    const char *out;
    size_t n;
    int h = meta_format_header(v, sizeof(v), 0, 1, 5);

    cr_assert_eq(pack_payload(p, id, article, strlen(article), &out, &n), 1);
    memcpy(v + h, out, n);
    v[h + (int)n] = '\0';
    back = pack_stored_json(p, id, v, (size_t)h + n, err, sizeof(err));
    cr_assert_not_null(back, "%s", err);
    cr_assert_str_eq(back, article);
    free(back);
    /* a plain payload (another language's producer) behind a header */
    strcpy(v + h, "{\"id\":\"x\",\"prompt\":\"hi\"}");
    back = pack_stored_json(NULL, "x", v, strlen(v), err, sizeof(err));
    cr_assert_str_eq(back, "{\"id\":\"x\",\"prompt\":\"hi\"}");
    free(back);
    packer_free(p);
}

Test(pack, small_and_incompressible_stay_plain)
{
    struct packer *p = packer_new();
    char noise[600];
    const char *out;
    size_t n;
    unsigned s = 12345;

    /* under PACK_MIN */
    cr_assert_eq(
        pack_payload(p, "a", "{\"id\":\"a\",\"prompt\":\"hi\"}", 25, &out, &n),
        0);
    cr_assert_eq(n, 25);
    cr_assert_eq(out[0], '{');
    /* 150 random bytes of 0x80-0xff (the codec does not look at UTF-8):
     * a frame of them costs more than it saves */
    strcpy(noise, "{\"prompt\":\"");
    for (int i = 11; i < 148; i++) {
        s = s * 1103515245u + 12345u;
        noise[i] = (char)(0x80 | ((s >> 16) & 0x7f));
    }
    strcpy(noise + 148, "\"}");
    cr_assert_gt(strlen(noise), PACK_MIN);
    cr_assert_eq(pack_payload(p, "b", noise, strlen(noise), &out, &n), 0);
    cr_assert_eq(out, noise);
    cr_assert_eq(n, strlen(noise));
    cr_assert_not(pack_is_packed(out, n));
    packer_free(p);
}

Test(pack, corrupt_truncated_and_foreign_refused)
{
    struct packer *p = packer_new();
    const char *out;
    size_t n;
    char bad[1024], err[256], *back;

    cr_assert_eq(pack_payload(p, id, article, strlen(article), &out, &n), 1);
    memcpy(bad, out, n);
    /* truncated */
    errno = 0;
    back = pack_decode(p, id, bad, n / 2, NULL, err, sizeof(err));
    cr_assert_null(back);
    cr_assert_eq(errno, EINVAL, "the value is bad, not the memory");
    cr_assert(strstr(err, id), "%s", err);
    cr_assert(strstr(err, "corrupt"), "%s", err);
    /* trailing bytes */
    bad[n] = 'x';
    back = pack_decode(p, id, bad, n + 1, NULL, err, sizeof(err));
    cr_assert_null(back);
    cr_assert(strstr(err, "corrupt"), "%s", err);
    /* garbage after the tag (0xff bytes: an invalid block type) */
    memset(bad + 1, 0xff, 40);
    back = pack_decode(p, id, bad, 41, NULL, err, sizeof(err));
    cr_assert_null(back);
    cr_assert(strstr(err, "corrupt"), "%s", err);
    /* a tag this genq does not know */
    back = pack_decode(p, "j1", "\x05xyz", 4, NULL, err, sizeof(err));
    cr_assert_null(back);
    cr_assert(strstr(err, "job j1") && strstr(err, "0x05"), "%s", err);
    /* the development format of 0x01/0x02 (raw DEFLATE) is not read */
    back = pack_decode(p, "j2", "\x02\xc3\x14\x81", 4, NULL, err, sizeof(err));
    cr_assert_null(back);
    cr_assert(strstr(err, "job j2") && strstr(err, "unknown encoding"), "%s",
              err);
    /* the packer still works after the errors */
    back = pack_decode(p, id, out, n, NULL, err, sizeof(err));
    cr_assert_str_eq(back, article);
    free(back);
    packer_free(p);
}

/* v: tag + frame f (n bytes) without its magic number; its length */
static size_t
stored(unsigned char *v, char tag, const unsigned char *f, size_t n)
{
    v[0] = (unsigned char)tag;
    memcpy(v + 1, f + 4, n - 4);
    return n - 3;
}

/* Hostile values: 2 MiB of zeros in a few bytes must not decode past
 * JOB_MAX_BYTES, nor a frame without its content size decode at all. */
Test(pack, bomb_bounded)
{
    size_t big = 2u << 20, cap = ZSTD_compressBound(2u << 20), n, vl;
    char *zeros = calloc(1, big), err[256], *back;
    unsigned char *f = malloc(cap), *v = malloc(cap);
    ZSTD_CCtx *c = ZSTD_createCCtx();

    cr_assert(zeros && f && v && c);
    /* a dictionary only matters for back references: none reach it */
    n = ZSTD_compress(f, cap, zeros, big, 19);
    cr_assert_not(ZSTD_isError(n));
    vl = stored(v, PACK_TAG_ZSTD1, f, n);
    back = pack_decode(NULL, "bomb", (char *)v, vl, NULL, err, sizeof(err));
    cr_assert_null(back);
    cr_assert(strstr(err, "job bomb") && strstr(err, "JOB_MAX_BYTES"), "%s",
              err);
    /* no content size in the header */
    cr_assert_not(
        ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0)));
    n = ZSTD_compress2(c, f, cap, zeros, 64);
    cr_assert_not(ZSTD_isError(n));
    cr_assert_eq(f[4] & 0xc0, 0, "no content size field");
    vl = stored(v, PACK_TAG_ZSTD1, f, n);
    back = pack_decode(NULL, "nosize", (char *)v, vl, NULL, err, sizeof(err));
    cr_assert_null(back);
    cr_assert(strstr(err, "job nosize") && strstr(err, "corrupt"), "%s", err);
    ZSTD_freeCCtx(c);
    free(v);
    free(f);
    free(zeros);
}

/* the dictionary: a zstd dictionary header (its magic number), then the
 * content pack_dict, text without a NUL */
Test(pack, dictionary_shape)
{
    static const unsigned char dmagic[4] = {0x37, 0xa4, 0x30, 0xec};

    cr_assert_gt(pack_zdict_head_len, 8);
    cr_assert_eq(memcmp(pack_zdict_head, dmagic, 4), 0);
    cr_assert_eq(strlen(pack_dict), pack_dict_len);
}

Test(pack, plain_json_read_as_is)
{
    char err[256], *back;
    size_t n;

    back = pack_decode(NULL, "x", "{\"a\":1}", 7, &n, err, sizeof(err));
    cr_assert_str_eq(back, "{\"a\":1}");
    cr_assert_eq(n, 7);
    free(back);
    back = pack_decode(NULL, "x", "", 0, &n, err, sizeof(err));
    cr_assert_str_eq(back, "");
    free(back);
}
