/* JWT minting with libjwt 1.10 (see jwtmint.h). */
#include "fmacros.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <jwt.h>

#include "jwtmint.h"

struct jwtmint {
    struct jwtmint_cfg cfg;
    jwt_alg_t alg;
    unsigned char *key;
    size_t keylen;
    char *token;
    time_t exp;
    long count;
};

static void
wipe_free(unsigned char *p, size_t n)
{
    if (p) {
        volatile unsigned char *v = p;
        for (size_t i = 0; i < n; i++)
            v[i] = 0;
        free(p);
    }
}

static int
read_key(struct jwtmint *m, char *err, size_t errlen)
{
    FILE *f = fopen(m->cfg.key_file, "rb");
    size_t cap = 4096, n = 0;
    unsigned char *b;

    if (!f) {
        snprintf(err, errlen, "--jwt-key-file %s: %s", m->cfg.key_file,
                 strerror(errno));
        return -1;
    }
    b = malloc(cap + 1);
    if (!b) {
        fclose(f);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (;;) {
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
        if (n == cap) {
            unsigned char *nb;
            if (cap >= (1u << 20))
                break;
            nb = malloc(cap * 2 + 1);
            if (!nb)
                break;
            memcpy(nb, b, n);
            wipe_free(b, cap);
            b = nb;
            cap *= 2;
        }
    }
    fclose(f);
    /* a secret file usually ends in a newline that is not part of it */
    if (m->alg <= JWT_ALG_HS512)
        while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == '\r'))
            n--;
    b[n] = '\0';
    if (n == 0) {
        wipe_free(b, cap);
        snprintf(err, errlen, "--jwt-key-file %s is empty", m->cfg.key_file);
        return -1;
    }
    m->key = b;
    m->keylen = n;
    return 0;
}

/* Mint one token into m->token. 0, or -1 with err. */
static int
mint(struct jwtmint *m, time_t now, char *err, size_t errlen)
{
    jwt_t *j = NULL;
    char *tok;
    int rc = -1;

    if (jwt_new(&j) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (jwt_set_alg(j, m->alg, m->key, (int)m->keylen) != 0) {
        snprintf(err, errlen, "the key does not fit %s", m->cfg.alg);
        goto out;
    }
    if ((m->cfg.issuer && jwt_add_grant(j, "iss", m->cfg.issuer)) ||
        (m->cfg.subject && jwt_add_grant(j, "sub", m->cfg.subject)) ||
        (m->cfg.audience && jwt_add_grant(j, "aud", m->cfg.audience)) ||
        jwt_add_grant_int(j, "iat", (long)now) ||
        jwt_add_grant_int(j, "exp", (long)now + m->cfg.ttl_s)) {
        snprintf(err, errlen, "cannot add the standard claims");
        goto out;
    }
    for (int i = 0; i < m->cfg.nclaims; i++) {
        const char *c = m->cfg.claims[i], *eq = strchr(c, '=');
        char name[128];
        cJSON *v, *o;
        char *json;
        int bad;

        if (!eq || eq == c || (size_t)(eq - c) >= sizeof(name)) {
            snprintf(err, errlen, "--jwt-claim: expected NAME=VALUE, got '%s'",
                     c);
            goto out;
        }
        memcpy(name, c, (size_t)(eq - c));
        name[eq - c] = '\0';
        v = cJSON_Parse(eq + 1);
        if (v && (cJSON_IsNumber(v) || cJSON_IsBool(v) || cJSON_IsObject(v) ||
                  cJSON_IsArray(v))) {
            o = cJSON_CreateObject();
            if (!o) {
                cJSON_Delete(v);
                goto out;
            }
            cJSON_AddItemToObject(o, name, v);
            json = cJSON_PrintUnformatted(o);
            cJSON_Delete(o);
            bad = !json || jwt_add_grants_json(j, json) != 0;
            cJSON_free(json);
        } else {
            cJSON_Delete(v);
            bad = jwt_add_grant(j, name, eq + 1) != 0;
        }
        if (bad) {
            snprintf(err, errlen,
                     "--jwt-claim %s: cannot add it (a reserved "
                     "or duplicate claim?)",
                     name);
            goto out;
        }
    }
    tok = jwt_encode_str(j);
    if (!tok) {
        snprintf(err, errlen,
                 "cannot sign the token with %s (is the key a "
                 "%s key?)",
                 m->cfg.alg,
                 m->alg <= JWT_ALG_HS512 ? "secret" : "PEM private");
        goto out;
    }
    if (m->token) {
        memset(m->token, 0, strlen(m->token));
        free(m->token);
    }
    m->token = tok;
    m->exp = now + m->cfg.ttl_s;
    m->count++;
    rc = 0;
out:
    jwt_free(j);
    return rc;
}

struct jwtmint *
jwtmint_new(const struct jwtmint_cfg *cfg, char *err, size_t errlen)
{
    struct jwtmint *m = calloc(1, sizeof(*m));
    static const char *const ok[] = {"HS256", "HS384", "HS512", "RS256",
                                     "ES256"};
    int known = 0;

    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->cfg = *cfg;
    if (!m->cfg.alg)
        m->cfg.alg = "HS256";
    if (m->cfg.ttl_s <= 0)
        m->cfg.ttl_s = 3600;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        known |= !strcmp(m->cfg.alg, ok[i]);
    if (!known) {
        snprintf(err, errlen,
                 "--jwt-alg: expected HS256, HS384, HS512, RS256 "
                 "or ES256, got '%s'",
                 m->cfg.alg);
        free(m);
        return NULL;
    }
    if (m->cfg.ttl_s <= JWTMINT_REFRESH_S) {
        snprintf(err, errlen,
                 "--jwt-ttl must be over %d s (tokens are "
                 "re-minted %d s before expiry), got %ld",
                 JWTMINT_REFRESH_S, JWTMINT_REFRESH_S, m->cfg.ttl_s);
        free(m);
        return NULL;
    }
    m->alg = jwt_str_alg(m->cfg.alg);
    if (!m->cfg.key_file) {
        snprintf(err, errlen, "--auth jwt needs --jwt-key-file");
        free(m);
        return NULL;
    }
    if (read_key(m, err, errlen) < 0 || mint(m, time(NULL), err, errlen) < 0) {
        jwtmint_free(m);
        return NULL;
    }
    return m;
}

const char *
jwtmint_token(struct jwtmint *m, time_t now, int force, int *minted)
{
    char err[256];

    if (minted)
        *minted = 0;
    if (!force && m->token && now < m->exp - JWTMINT_REFRESH_S)
        return m->token;
    if (mint(m, now, err, sizeof(err)) < 0)
        return NULL;
    if (minted)
        *minted = 1;
    return m->token;
}

long
jwtmint_count(const struct jwtmint *m)
{
    return m->count;
}

void
jwtmint_free(struct jwtmint *m)
{
    if (!m)
        return;
    wipe_free(m->key, m->keylen);
    if (m->token) {
        memset(m->token, 0, strlen(m->token));
        free(m->token);
    }
    free(m);
}
