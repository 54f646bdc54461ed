/* mask: secrets shown masked, and the loopback check of --insecure.
 * Every function writes into the caller's buffer; nothing to free. */
#ifndef GENQ_MASK_H
#define GENQ_MASK_H

#include <stddef.h>

/* Whether a redis:// URL carries a password; if so, *pre points at its
 * first character and *post just past its last (both into url). */
int url_secret(const char *url, const char **pre, const char **post);

/* url with its password replaced by ****, into out. */
void url_masked(const char *url, char *out, size_t outlen);

/* A webhook URL with its path and any credentials replaced by ****
 * (either is often the secret), into out. */
void webhook_masked(const char *url, char *out, size_t outlen);

/* A secret as ****, then at most its last 4 characters (fewer for short
 * ones: never more than a quarter of it), into out. */
void secret_masked(const char *s, char *out, size_t outlen);

/* Whether url's host is a loopback address: localhost, 127.0.0.0/8, ::1. */
int url_is_loopback(const char *url);

#endif
