/* genq dashboard: the admin token (from a file or GENQ_ADMIN_TOKEN, never
 * the command line), the sessions of browsers that logged in with it (an
 * HttpOnly, SameSite=Strict cookie), their CSRF tokens, and comparing
 * secrets in constant time. */
#include "fmacros.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "dash.h"
#include "timefmt.h"

/* Strip trailing newlines and spaces of s (length *n). */
static void
rstrip(char *s, size_t *n)
{
    while (*n > 0 && (s[*n - 1] == '\n' || s[*n - 1] == '\r' ||
                      s[*n - 1] == ' ' || s[*n - 1] == '\t'))
        s[--*n] = '\0';
}

static int
token_check(const struct dash_auth *a, const char *where, char *err,
            size_t errlen)
{
    for (size_t i = 0; i < a->token_len; i++)
        if ((unsigned char)a->token[i] < 0x21 ||
            (unsigned char)a->token[i] == 0x7f) {
            snprintf(err, errlen,
                     "%s: the admin token holds a space or control "
                     "character (one line of printable characters wanted)",
                     where);
            return -1;
        }
    if (a->token_len < 16) {
        snprintf(err, errlen,
                 "%s: the admin token is %zu characters, at least 16 "
                 "wanted",
                 where, a->token_len);
        return -1;
    }
    return 0;
}

static int auth_load(struct dash_auth *a, const char *file, char *err,
                     size_t errlen);

/* The mutex, then the token: on an error nothing is left to free (the
 * token wiped, the mutex destroyed). */
int
dash_auth_init(struct dash_auth *a, const char *file, char *err, size_t errlen)
{
    memset(a, 0, sizeof(*a));
    if (pthread_mutex_init(&a->mu, NULL) != 0) {
        snprintf(err, errlen, "pthread_mutex_init failed");
        return -1;
    }
    if (auth_load(a, file, err, errlen) < 0) {
        OPENSSL_cleanse(a->token, sizeof(a->token));
        a->token_len = 0;
        pthread_mutex_destroy(&a->mu);
        return -1;
    }
    return 0;
}

/* The admin token from file or GENQ_ADMIN_TOKEN (neither: read-only). */
static int
auth_load(struct dash_auth *a, const char *file, char *err, size_t errlen)
{
    const char *env = getenv("GENQ_ADMIN_TOKEN");
    char where[300];

    if (file) {
        FILE *f = fopen(file, "r");
        size_t n;
        snprintf(where, sizeof(where), "--admin-token-file %s", file);
        if (!f) {
            snprintf(err, errlen, "%s: %s", where, strerror(errno));
            return -1;
        }
        n = fread(a->token, 1, DASH_TOKEN_MAX + 1, f);
        fclose(f);
        if (n > DASH_TOKEN_MAX) {
            memset(a->token, 0, sizeof(a->token));
            snprintf(err, errlen, "%s: longer than %d bytes", where,
                     DASH_TOKEN_MAX);
            return -1;
        }
        a->token[n] = '\0';
        a->token_len = n;
    } else if (env && *env) {
        snprintf(where, sizeof(where), "GENQ_ADMIN_TOKEN");
        a->token_len = strlen(env);
        if (a->token_len > DASH_TOKEN_MAX) {
            a->token_len = 0;
            snprintf(err, errlen, "GENQ_ADMIN_TOKEN: longer than %d bytes",
                     DASH_TOKEN_MAX);
            return -1;
        }
        memcpy(a->token, env, a->token_len + 1);
    } else {
        return 0; /* read-only */
    }
    rstrip(a->token, &a->token_len);
    if (token_check(a, where, err, errlen) < 0) {
        memset(a->token, 0, sizeof(a->token));
        a->token_len = 0;
        return -1;
    }
    return 0;
}

void
dash_auth_free(struct dash_auth *a)
{
    OPENSSL_cleanse(a->token, sizeof(a->token));
    OPENSSL_cleanse(a->s, sizeof(a->s));
    pthread_mutex_destroy(&a->mu);
}

/* SHA-256 of p[0..n) into md. 0, or -1. */
static int
sha256(const char *p, size_t n, unsigned char md[32])
{
    unsigned int len = 0;

    return EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) == 1 && len == 32
               ? 0
               : -1;
}

int
dash_ct_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char ha[32], hb[32];

    /* Digests first: equal lengths, and the time tells nothing of where
     * the inputs differ. */
    if (sha256(a, alen, ha) < 0 || sha256(b, blen, hb) < 0)
        return 0;
    return CRYPTO_memcmp(ha, hb, sizeof(ha)) == 0 && alen == blen;
}

static int
random_hex(char out[65])
{
    unsigned char r[32];
    static const char hex[] = "0123456789abcdef";
    size_t got = 0;

    while (got < sizeof(r)) {
        ssize_t k = getrandom(r + got, sizeof(r) - got, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    for (size_t i = 0; i < sizeof(r); i++) {
        out[2 * i] = hex[r[i] >> 4];
        out[2 * i + 1] = hex[r[i] & 15];
    }
    out[64] = '\0';
    OPENSSL_cleanse(r, sizeof(r));
    return 0;
}

int
dash_session_new(struct dash_auth *a, struct dash_session *out)
{
    int64_t now = time_now_ms();
    int slot = 0;

    if (random_hex(out->id) < 0 || random_hex(out->csrf) < 0)
        return -1;
    out->expires_ms = now + (int64_t)DASH_SESSION_S * 1000;
    pthread_mutex_lock(&a->mu);
    /* a free or expired slot, else the one expiring first */
    for (int i = 0; i < DASH_SESSIONS; i++) {
        if (a->s[i].expires_ms < now) {
            slot = i;
            break;
        }
        if (a->s[i].expires_ms < a->s[slot].expires_ms)
            slot = i;
    }
    a->s[slot] = *out;
    pthread_mutex_unlock(&a->mu);
    return 0;
}

/* The session id of conn's cookie (65 bytes), or "" when none. */
static void
cookie_id(struct MHD_Connection *conn, char id[65])
{
    const char *v =
        MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, DASH_COOKIE_NAME);

    id[0] = '\0';
    if (v && strlen(v) == 64)
        memcpy(id, v, 65);
}

enum dash_who
dash_auth_who(struct dash_auth *a, struct MHD_Connection *conn, char *csrf)
{
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_AUTHORIZATION);
    char id[65];
    enum dash_who who = DASH_ANON;
    int64_t now = time_now_ms();

    csrf[0] = '\0';
    if (a->token_len == 0)
        return DASH_ANON;
    if (h && !strncmp(h, "Bearer ", 7))
        return dash_ct_equal(h + 7, strlen(h + 7), a->token, a->token_len)
                   ? DASH_BEARER
                   : DASH_ANON;
    cookie_id(conn, id);
    if (!id[0])
        return DASH_ANON;
    pthread_mutex_lock(&a->mu);
    for (int i = 0; i < DASH_SESSIONS; i++)
        if (a->s[i].expires_ms >= now &&
            dash_ct_equal(id, 64, a->s[i].id, 64)) {
            memcpy(csrf, a->s[i].csrf, 65);
            who = DASH_COOKIE;
            break;
        }
    pthread_mutex_unlock(&a->mu);
    return who;
}

void
dash_session_end(struct dash_auth *a, struct MHD_Connection *conn)
{
    char id[65];

    cookie_id(conn, id);
    if (!id[0])
        return;
    pthread_mutex_lock(&a->mu);
    for (int i = 0; i < DASH_SESSIONS; i++)
        if (dash_ct_equal(id, 64, a->s[i].id, 64))
            memset(&a->s[i], 0, sizeof(a->s[i]));
    pthread_mutex_unlock(&a->mu);
}
