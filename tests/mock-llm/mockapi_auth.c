/* Mock LLM server: credentials. The x-api-key or Bearer credential of a
 * request is checked against GENQ_MOCK_API_KEY (JWT-shaped tokens are
 * accepted too), and a JWT's claims are decoded for the request log. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mockapi.h"

const char *
mockapi_bearer(const struct mockhttp_req *r)
{
    const char *v = mockhttp_header(r, "authorization");

    if (v == NULL || strncasecmp(v, "Bearer ", 7) != 0)
        return NULL;
    v += 7;
    while (*v == ' ')
        v++;
    return *v ? v : NULL;
}

static int
b64url_char(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int
mockapi_is_jwt(const char *s)
{
    size_t part_len[3] = {0, 0, 0};
    int part = 0;

    for (; *s; s++) {
        if (*s == '.') {
            if (++part > 2)
                return 0;
        } else if (b64url_char((unsigned char)*s) || *s == '=') {
            part_len[part]++;
        } else {
            return 0;
        }
    }
    return part == 2 && part_len[0] > 0 && part_len[1] > 0;
}

static int
b64url_val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-' || c == '+')
        return 62;
    if (c == '_' || c == '/')
        return 63;
    return -1;
}

cJSON *
mockapi_jwt_claims(const char *token)
{
    const char *p, *e;
    unsigned char *out;
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0;
    cJSON *claims;

    if (token == NULL || !mockapi_is_jwt(token))
        return NULL;
    p = strchr(token, '.') + 1;
    e = strchr(p, '.');
    out = malloc((size_t)(e - p) + 1);
    if (out == NULL)
        return NULL;
    for (; p < e; p++) {
        int v = b64url_val((unsigned char)*p);
        if (v < 0)
            break; /* '=' padding */
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)((acc >> bits) & 0xff);
        }
    }
    claims = cJSON_ParseWithLength((const char *)out, n);
    free(out);
    if (claims != NULL && !cJSON_IsObject(claims)) {
        cJSON_Delete(claims);
        return NULL;
    }
    return claims;
}

int
mockapi_check_auth(enum mockapi_proto proto, const struct mockhttp_req *r,
                   const char *required_key, struct mockapi_error *err)
{
    const char *cred = NULL;

    if (proto == MOCKAPI_ANTHROPIC)
        cred = mockhttp_header(r, "x-api-key");
    if (cred == NULL || *cred == '\0')
        cred = mockapi_bearer(r);
    if (cred == NULL || *cred == '\0') {
        if (proto == MOCKAPI_ANTHROPIC) {
            mockapi_error_set(err, 401, "authentication_error",
                              "x-api-key header is required");
        } else {
            mockapi_error_set(err, 401, "invalid_request_error",
                              "You didn't provide an API key. You need to "
                              "provide your API key in an Authorization "
                              "header using Bearer auth (i.e. Authorization: "
                              "Bearer YOUR_KEY).");
        }
        return -1;
    }
    if (required_key != NULL && strcmp(cred, required_key) != 0 &&
        !mockapi_is_jwt(cred)) {
        if (proto == MOCKAPI_ANTHROPIC) {
            mockapi_error_set(err, 401, "authentication_error",
                              "invalid x-api-key");
        } else {
            mockapi_error_set(err, 401, "invalid_request_error",
                              "Incorrect API key provided.");
            snprintf(err->code, sizeof(err->code), "invalid_api_key");
        }
        return -1;
    }
    return 0;
}
