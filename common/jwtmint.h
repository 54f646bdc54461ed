/* JWT bearer tokens for LLM API auth (libjwt 1.10): HS256/384/512 from a
 * secret, RS256/ES256 from a PEM private key; claims iss, sub, aud, iat,
 * exp plus extra NAME=VALUE claims; cached and re-minted 60 s before expiry
 * (or at once after a 401). Secrets stay in memory only. */
#ifndef GENQ_JWTMINT_H
#define GENQ_JWTMINT_H

#include <stddef.h>
#include <time.h>

#define JWTMINT_MAX_CLAIMS 32
#define JWTMINT_REFRESH_S  60 /* re-mint this long before exp */

struct jwtmint_cfg {
    const char *alg;      /* HS256 HS384 HS512 RS256 ES256 */
    const char *key_file; /* secret (HS*) or PEM private key (RS/ES) */
    const char *issuer, *subject, *audience; /* NULL = claim omitted */
    long ttl_s;                              /* lifetime; default 3600 */
    const char *claims[JWTMINT_MAX_CLAIMS];  /* "NAME=VALUE"; VALUE that is
                                                JSON (number, bool, object)
                                                is added as such, else as a
                                                string */
    int nclaims;
};

struct jwtmint;

/* Read the key and check the configuration by minting one token. Returns
 * NULL with a message in err (never containing key material) on a bad
 * algorithm, unreadable or unusable key, bad claim, or out-of-memory.
 * Free with jwtmint_free(). */
struct jwtmint *jwtmint_new(const struct jwtmint_cfg *cfg, char *err,
                            size_t errlen);

/* The current token at time now: the cached one while now < exp - 60 s and
 * !force, else a fresh one. *minted (may be NULL) is set to 1 when a token
 * was minted by this call. Returns a pointer owned by m, valid until the
 * next call, or NULL (keep using the old token) when minting failed. */
const char *jwtmint_token(struct jwtmint *m, time_t now, int force,
                          int *minted);

/* Tokens minted so far (for logs and tests). */
long jwtmint_count(const struct jwtmint *m);

/* Wipe the key and free. Accepts NULL. */
void jwtmint_free(struct jwtmint *m);

#endif
