/* Versioned templates: template references NAME[@VERSION], the version
 * header line of a template file, and the weighted split of genq enqueue
 * (--template-split) that runs two versions side by side; see template.h. */
#include "fmacros.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fnv.h"
#include "template.h"

static int
ver_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* 1 when s[0..n) is a valid version: 1..TEMPLATE_VERSION_MAX of
 * [A-Za-z0-9._-], not starting with '.' (no "..", no hidden file). */
static int
ver_valid(const char *s, size_t n)
{
    if (n < 1 || n > TEMPLATE_VERSION_MAX || s[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!ver_char(s[i]))
            return 0;
    return 1;
}

int
template_ref_valid(const char *ref)
{
    const char *at;
    char name[TEMPLATE_NAME_MAX + 1];
    size_t n;

    if (!ref)
        return 0;
    at = strchr(ref, '@');
    if (!at)
        return template_name_valid(ref);
    n = (size_t)(at - ref);
    if (n < 1 || n > TEMPLATE_NAME_MAX)
        return 0;
    memcpy(name, ref, n);
    name[n] = '\0';
    return template_name_valid(name) && ver_valid(at + 1, strlen(at + 1));
}

int
template_ref_parts(const char *ref, char *name, size_t ncap, char *ver,
                   size_t vcap)
{
    const char *at;
    size_t n;

    if (!template_ref_valid(ref))
        return -1;
    at = strchr(ref, '@');
    n = at ? (size_t)(at - ref) : strlen(ref);
    if (n >= ncap || (at && strlen(at + 1) >= vcap) || vcap < 1)
        return -1;
    memcpy(name, ref, n);
    name[n] = '\0';
    snprintf(ver, vcap, "%s", at ? at + 1 : "");
    return 0;
}

int
template_header(char *text, size_t *len, char *ver, size_t vcap,
                struct job_err *err)
{
    size_t p = 3, a, b, eol;

    if (vcap > 0)
        ver[0] = '\0';
    if (*len < 3 || memcmp(text, "{{!", 3) != 0)
        return 0;
    while (p < *len && (text[p] == ' ' || text[p] == '\t'))
        p++;
    if (*len - p < 8 || memcmp(text + p, "version:", 8) != 0)
        return job_err_set(err, "template",
                           "version header: expected '{{! version: V }}' on "
                           "the first line");
    p += 8;
    while (p < *len && (text[p] == ' ' || text[p] == '\t'))
        p++;
    a = p;
    while (p < *len && ver_char(text[p]))
        p++;
    b = p;
    while (p < *len && (text[p] == ' ' || text[p] == '\t'))
        p++;
    if (*len - p < 2 || text[p] != '}' || text[p + 1] != '}' ||
        !ver_valid(text + a, b - a) || b - a >= vcap)
        return job_err_set(err, "template",
                           "version header: expected '{{! version: V }}' "
                           "with V 1 to %d of A-Z a-z 0-9 . _ - on the first "
                           "line",
                           TEMPLATE_VERSION_MAX);
    memcpy(ver, text + a, b - a);
    ver[b - a] = '\0';
    eol = p + 2;
    if (eol < *len && text[eol] == '\r')
        eol++;
    if (eol < *len && text[eol] == '\n')
        eol++;
    memmove(text, text + eol, *len - eol + 1); /* with the NUL */
    *len -= eol;
    return 0;
}

int
template_ref_check(const cJSON *v, int with_template, struct job_err *err)
{
    if (!cJSON_IsString(v))
        return job_err_set(err, "template_ref",
                           "template_ref must be a string");
    if (!template_ref_valid(v->valuestring))
        return job_err_set(err, "template_ref",
                           "template_ref must be NAME or NAME@VERSION (NAME 1 "
                           "to %d of A-Z a-z 0-9 _ -, VERSION 1 to %d of A-Z "
                           "a-z 0-9 . _ -), got '%.40s'",
                           TEMPLATE_NAME_MAX, TEMPLATE_VERSION_MAX,
                           v->valuestring);
    if (with_template)
        return job_err_set(err, "template_ref",
                           "template_ref is set when template is rendered; "
                           "give template or template_ref, not both");
    return 0;
}

/* ---- the weighted split ------------------------------------------------- */

void
template_split_free(struct template_split *s)
{
    if (!s)
        return;
    free(s->arms);
    free(s);
}

struct template_split *
template_split_parse(const char *spec, char *err, size_t errlen)
{
    struct template_split *s = calloc(1, sizeof(*s));
    const char *p = spec;

    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    while (p && *p) {
        const char *comma = strchr(p, ','), *eq;
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        struct template_arm *a, *arms;
        char num[16], ver[TEMPLATE_VERSION_MAX + 1], *end;
        long wt;

        eq = memchr(p, '=', n);
        if (!eq || (size_t)(eq - p) > TEMPLATE_REF_MAX ||
            n - (size_t)(eq - p) - 1 >= sizeof num) {
            snprintf(err, errlen,
                     "expected NAME@VERSION=WEIGHT[,...], got '%.*s'",
                     (int)(n > 80 ? 80 : n), p);
            goto fail;
        }
        arms = realloc(s->arms, sizeof(*arms) * (size_t)(s->n + 1));
        if (!arms) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        s->arms = arms;
        a = &s->arms[s->n];
        memset(a, 0, sizeof(*a));
        memcpy(a->ref, p, (size_t)(eq - p));
        a->ref[eq - p] = '\0';
        memcpy(num, eq + 1, n - (size_t)(eq - p) - 1);
        num[n - (size_t)(eq - p) - 1] = '\0';
        errno = 0;
        wt = strtol(num, &end, 10);
        if (template_ref_parts(a->ref, a->name, sizeof a->name, ver,
                               sizeof ver) < 0 ||
            !strchr(a->ref, '@')) {
            snprintf(err, errlen,
                     "'%s': expected NAME@VERSION (NAME 1 to %d of A-Z a-z "
                     "0-9 _ -, VERSION 1 to %d of A-Z a-z 0-9 . _ -)",
                     a->ref, TEMPLATE_NAME_MAX, TEMPLATE_VERSION_MAX);
            goto fail;
        }
        if (errno || end == eq + 1 || *end || wt < 1 || wt > 1000000) {
            snprintf(err, errlen, "'%.*s': weight must be 1..1000000",
                     (int)(n > 80 ? 80 : n), p);
            goto fail;
        }
        a->weight = (uint32_t)wt;
        for (int i = 0; i < s->n; i++)
            if (!strcmp(s->arms[i].ref, a->ref)) {
                snprintf(err, errlen, "'%s' given twice", a->ref);
                goto fail;
            }
        s->n++;
        p = comma ? comma + 1 : NULL;
        if (p && !*p) {
            snprintf(err, errlen, "'%s': nothing after the last ','", spec);
            goto fail;
        }
    }
    if (s->n == 0) {
        snprintf(err, errlen, "expected NAME@VERSION=WEIGHT[,...]");
        goto fail;
    }
    return s;
fail:
    template_split_free(s);
    return NULL;
}

const char *
template_split_pick(const struct template_split *s, const char *name,
                    const char *key, size_t keylen)
{
    uint64_t total = 0, x;

    if (!s || !name || strchr(name, '@'))
        return NULL;
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->arms[i].name, name))
            total += s->arms[i].weight;
    if (total == 0)
        return NULL;
    x = fnv64(FNV64_OFFSET, key, keylen) % total;
    for (int i = 0; i < s->n; i++) {
        if (strcmp(s->arms[i].name, name) != 0)
            continue;
        if (x < s->arms[i].weight)
            return s->arms[i].ref;
        x -= s->arms[i].weight;
    }
    return NULL; /* not reached */
}
