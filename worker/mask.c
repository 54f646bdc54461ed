/* mask: how genq-worker shows secrets in --print-config (a Redis URL's
 * password, a webhook's path and credentials, an API key) and whether an
 * API base is on loopback (--insecure is refused otherwise). Pure string
 * functions: nothing is allocated. */
#include "fmacros.h"

#include <stdio.h>
#include <string.h>

#include "mask.h"

/* Whether a redis:// or sentinel:// URL carries a password; if so, *pre points
 * at its first character and *post just past its last (both into url). */
int
url_secret(const char *url, const char **pre, const char **post)
{
    const char *p, *end, *at, *colon;

    if (strncmp(url, "sentinel://", 11) == 0) {
        /* sentinelurl.c: the credentials end at the last '@' before '?' */
        p = url + 11;
        end = strchr(p, '?');
    } else if (strncmp(url, "redis://", 8) == 0) {
        p = url + 8;
        end = strchr(p, '/');
    } else {
        return 0;
    }
    if (!end)
        end = p + strlen(p);
    at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@')
            at = q;
    if (!at)
        return 0;
    colon = memchr(p, ':', (size_t)(at - p));
    *pre = colon ? colon + 1 : p;
    *post = at;
    return 1;
}

/* url with its password replaced by ****, into out. */
void
url_masked(const char *url, char *out, size_t outlen)
{
    const char *pre, *post;

    if (!url_secret(url, &pre, &post))
        snprintf(out, outlen, "%s", url);
    else
        snprintf(out, outlen, "%.*s****%s", (int)(pre - url), url, post);
}

/* A webhook URL with its path and any credentials replaced by ****
 * (either is often the secret), into out. */
void
webhook_masked(const char *url, char *out, size_t outlen)
{
    const char *p = strstr(url, "://"), *host, *end, *at = NULL;

    if (!p) {
        snprintf(out, outlen, "****");
        return;
    }
    host = p + 3;
    end = host + strcspn(host, "/?#");
    for (const char *q = host; q < end; q++)
        if (*q == '@')
            at = q;
    snprintf(out, outlen, "%.*s%s%.*s%s", (int)(host - url), url,
             at ? "****@" : "", (int)(end - (at ? at + 1 : host)),
             at ? at + 1 : host, *end ? "/****" : "");
}

/* A secret as ****, then at most its last 4 characters (fewer for short
 * ones: never more than a quarter of it), into out. */
void
secret_masked(const char *s, char *out, size_t outlen)
{
    size_t n = strlen(s), show = n / 4 > 4 ? 4 : n / 4;

    snprintf(out, outlen, "****%s", s + (n - show));
}

/* Whether url's host is a loopback address: localhost, 127.0.0.0/8, ::1. */
int
url_is_loopback(const char *url)
{
    const char *h = strstr(url, "://");
    char host[256];
    size_t n = 0;

    if (!h)
        return 0;
    h += 3;
    if (*h == '[') { /* [::1]:port */
        h++;
        while (h[n] && h[n] != ']' && n < sizeof(host) - 1)
            n++;
    } else {
        while (h[n] && h[n] != ':' && h[n] != '/' && n < sizeof(host) - 1)
            n++;
    }
    memcpy(host, h, n);
    host[n] = '\0';
    return !strcmp(host, "localhost") || !strcmp(host, "::1") ||
           !strncmp(host, "127.", 4);
}
