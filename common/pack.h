/* pack: the stored form of a job payload (the JSON after the bulk header,
 * meta.h) -- plain JSON, or compressed.
 *
 * A compressed payload is one tag byte (no JSON text starts with one --
 * JSON may open with whitespace, '{', '[', '"', a digit, '-', 't', 'f' or
 * 'n' -- so plain JSON stays readable as it is, whoever wrote it), then raw
 * DEFLATE (RFC 1951, zlib windowBits -15) against the preset dictionary of
 * pack_dict.c:
 *   0x01 PACK_TAG_DEFLATE1     of the whole JSON;
 *   0x02 PACK_TAG_DEFLATE1_ID  of the JSON after its opening {"id":"ID",
 *        where ID is the job's id (the hash field): the reader puts it
 *        back, so the id is not stored twice.
 * A later dictionary gets new tags; 0x00-0x08 are reserved for this.
 *
 * Compressed only when it pays: a payload of at least PACK_MIN bytes whose
 * compressed form (tag included) is smaller. Decoding is bounded: a value
 * that would inflate past JOB_MAX_BYTES is refused, as is a truncated or
 * corrupt one, with a message naming the job. */
#ifndef GENQ_PACK_H
#define GENQ_PACK_H

#include <stddef.h>

#define PACK_TAG_DEFLATE1    '\x01'
#define PACK_TAG_DEFLATE1_ID '\x02'
#define PACK_MIN          128 /* smaller payloads are stored plain */
#ifndef PACK_LEVEL
#define PACK_LEVEL        1   /* zlib level (README "Job storage") */
#endif

struct packer; /* zlib streams and scratch memory for one thread */

/* A new packer (NULL when out of memory); free with packer_free(), which
 * accepts NULL. Not thread-safe: one per thread. */
struct packer *packer_new(void);
void packer_free(struct packer *p);

/* The stored form of payload json (len bytes) of job id: *out and *out_len are
 * the compressed value (in p's memory, valid until p's next call) when
 * that pays, else json/len itself. Returns 1 compressed, 0 plain, -1 out
 * of memory or a zlib error (*out is then json: storing plain is
 * always correct). */
int pack_payload(struct packer *p, const char *id, const char *json,
                 size_t len, const char **out, size_t *out_len);

/* 1 when stored payload v (len bytes; may be NULL) is compressed. */
int pack_is_packed(const char *v, size_t len);

/* The JSON of stored payload v (len bytes, the bulk header already cut;
 * meta_header_len()) of job id: a fresh NUL-terminated copy (caller frees;
 * *out_len, may be NULL, gets its length) or NULL with a message in err
 * ("job ID: ...") and errno EINVAL (corrupt, too large: > JOB_MAX_BYTES,
 * an unknown tag) or ENOMEM (out of memory: another try may work).
 * p may be NULL (a stream for this call only). */
char *pack_decode(struct packer *p, const char *id, const char *v, size_t len,
                  size_t *out_len, char *err, size_t errlen);

/* The JSON of a whole stored jobs-hash value v (len bytes: an optional
 * bulk header, then the payload), as pack_decode(). */
char *pack_stored_json(struct packer *p, const char *id, const char *v,
                       size_t len, char *err, size_t errlen);

/* The built-in dictionary (pack_dict.c) and its length. */
extern const char pack_dict[];
extern const size_t pack_dict_len;

#endif
