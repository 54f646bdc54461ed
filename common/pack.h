/* pack: the stored form of a job payload (the JSON after the bulk header,
 * meta.h) -- plain JSON, or compressed.
 *
 * A compressed payload is one tag byte (no JSON text starts with one --
 * JSON may open with whitespace, '{', '[', '"', a digit, '-', 't', 'f' or
 * 'n' -- so plain JSON stays readable as it is, whoever wrote it), then a
 * Zstandard frame (RFC 8878) without its 4-byte magic number, with the
 * content size, no dictionary id and no checksum, compressed against the
 * dictionary pack_zdict_head + pack_dict (pack_zdict.c, pack_dict.c):
 *   0x03 PACK_TAG_ZSTD1     of the whole JSON;
 *   0x04 PACK_TAG_ZSTD1_ID  of the JSON after its opening {"id":"ID",
 *        where ID is the job's id (the hash field): the reader puts it
 *        back, so the id is not stored twice.
 * A later dictionary gets new tags; 0x00-0x08 are reserved for this (0x01
 * and 0x02 were a development format, raw DEFLATE, never released: they
 * are refused like any unknown tag).
 *
 * Compressed only when it pays: a payload of at least PACK_MIN bytes whose
 * compressed form (tag included) is smaller. Decoding is bounded: a value
 * that would decode past JOB_MAX_BYTES is refused, as is a truncated or
 * corrupt one, with a message naming the job. */
#ifndef GENQ_PACK_H
#define GENQ_PACK_H

#include <stddef.h>

#define PACK_TAG_ZSTD1    '\x03'
#define PACK_TAG_ZSTD1_ID '\x04'
#define PACK_MIN          128 /* smaller payloads are stored plain */
#ifndef PACK_ZLEVEL
#define PACK_ZLEVEL 1 /* zstd level (README "genq enqueue") */
#endif

struct packer; /* zstd contexts and scratch memory for one thread */

/* A new packer (NULL when out of memory); free with packer_free(), which
 * accepts NULL. Not thread-safe: one per thread. */
struct packer *packer_new(void);
void packer_free(struct packer *p);

/* The stored form of payload json (len bytes) of job id: *out and *out_len are
 * the compressed value (in p's memory, valid until p's next call) when
 * that pays, else json/len itself. Returns 1 compressed, 0 plain, -1 out
 * of memory or a zstd error (*out is then json: storing plain is
 * always correct). */
int pack_payload(struct packer *p, const char *id, const char *json, size_t len,
                 const char **out, size_t *out_len);

/* 1 when stored payload v (len bytes; may be NULL) is compressed. */
int pack_is_packed(const char *v, size_t len);

/* The JSON of stored payload v (len bytes, the bulk header already cut;
 * meta_header_len()) of job id: a fresh NUL-terminated copy (caller frees;
 * *out_len, may be NULL, gets its length) or NULL with a message in err
 * ("job ID: ...") and errno EINVAL (corrupt, too large: > JOB_MAX_BYTES,
 * an unknown tag) or ENOMEM (out of memory: another try may work).
 * p may be NULL (a decoder for this call only: dearer). */
char *pack_decode(struct packer *p, const char *id, const char *v, size_t len,
                  size_t *out_len, char *err, size_t errlen);

/* The JSON of a whole stored jobs-hash value v (len bytes: an optional
 * bulk header, then the payload), as pack_decode(). */
char *pack_stored_json(struct packer *p, const char *id, const char *v,
                       size_t len, char *err, size_t errlen);

/* The built-in dictionary: its content (pack_dict.c) and the entropy
 * tables that precede it (pack_zdict.c, generated), with their lengths. */
extern const char pack_dict[];
extern const size_t pack_dict_len;
extern const unsigned char pack_zdict_head[];
extern const size_t pack_zdict_head_len;

#endif
