/* Prompt templates: load templates/NAME.tmpl and substitute {{name}}
 * placeholders from a job's vars; see template.h. */
#include "fmacros.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "template.h"
#include "utf8.h"

#define VAR_NAME_MAX 64

int
template_name_valid(const char *name)
{
    size_t n = 0;

    if (!name)
        return 0;
    for (; name[n]; n++) {
        char c = name[n];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
        if (n >= TEMPLATE_NAME_MAX)
            return 0;
    }
    return n > 0;
}

char *
template_load(const char *dir, const char *name, size_t *len,
              struct job_err *err)
{
    char path[4096], *buf;
    struct stat st;
    size_t got = 0, off;
    int fd, n;

    if (!template_ref_valid(name)) {
        job_err_set(err, "template", "invalid template name");
        return NULL;
    }
    if (!dir)
        dir = "templates";
    n = snprintf(path, sizeof path, "%s/%s.tmpl", dir, name);
    if (n < 0 || (size_t)n >= sizeof path) {
        job_err_set(err, "template", "templates directory path is too long");
        return NULL;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        job_err_set(err, "template", "template '%s' not found (%s: %s)", name,
                    path, strerror(e));
        return NULL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        job_err_set(err, "template", "template '%s': %s is not a regular file",
                    name, path);
        return NULL;
    }
    if (st.st_size > TEMPLATE_MAX_BYTES) {
        close(fd);
        job_err_set(err, "template",
                    "template '%s' is %lld bytes; the limit is %d", name,
                    (long long)st.st_size, TEMPLATE_MAX_BYTES);
        return NULL;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        job_err_set(err, "", "out of memory");
        return NULL;
    }
    /* Read to EOF but never past the limit, in case the file grows. */
    while (got <= (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            free(buf);
            job_err_set(err, "template", "template '%s': read %s: %s", name,
                        path, strerror(e));
            return NULL;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got > (size_t)st.st_size) {
        free(buf);
        job_err_set(err, "template", "template '%s' changed while reading",
                    name);
        return NULL;
    }
    if (memchr(buf, '\0', got)) {
        free(buf);
        job_err_set(err, "template", "template '%s' contains a NUL byte", name);
        return NULL;
    }
    if (!utf8_check(buf, got, &off)) {
        free(buf);
        job_err_set(err, "template",
                    "template '%s' is not valid UTF-8 (byte %zu)", name, off);
        return NULL;
    }
    if (got > 0 && buf[got - 1] == '\n') {
        got--;
        if (got > 0 && buf[got - 1] == '\r')
            got--;
    }
    buf[got] = '\0';
    *len = got;
    return buf;
}

/* Append to the rendered prompt, wording buf_append's errors. */
static int
out_put(struct buf *o, const char *p, size_t n, struct job_err *err)
{
    if (buf_append(o, p, n) == 0)
        return 0;
    if (errno == EMSGSIZE)
        return job_err_set(err, "template",
                           "rendered prompt is larger than %d bytes",
                           TEMPLATE_MAX_BYTES);
    return job_err_set(err, "", "out of memory");
}

static int
is_name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int
is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9') || c == '-';
}

/* Parse a placeholder at tmpl[i] ("{{"): sets the name span and the end
 * (index after "}}"). -1 with *err when malformed. */
static int
placeholder(const char *t, size_t len, size_t i, size_t *name, size_t *nlen,
            size_t *end, struct job_err *err)
{
    size_t p = i + 2, start;

    while (p < len && (t[p] == ' ' || t[p] == '\t'))
        p++;
    start = p;
    if (p < len && is_name_start(t[p]))
        while (p < len && is_name_char(t[p]))
            p++;
    if (p == start)
        return job_err_set(err, "template",
                           "placeholder at byte %zu: expected a variable name "
                           "after '{{'",
                           i);
    if (p - start > VAR_NAME_MAX)
        return job_err_set(err, "template",
                           "placeholder at byte %zu: name longer than %d", i,
                           VAR_NAME_MAX);
    *name = start;
    *nlen = p - start;
    while (p < len && (t[p] == ' ' || t[p] == '\t'))
        p++;
    if (len - p < 2 || t[p] != '}' || t[p + 1] != '}')
        return job_err_set(err, "template",
                           "placeholder at byte %zu: expected '}}' after "
                           "'%.*s'",
                           i, (int)*nlen, t + start);
    *end = p + 2;
    return 0;
}

char *
template_render(const char *tmpl, size_t len, const cJSON *vars,
                struct job_err *err)
{
    struct buf o;
    size_t i = 0, lit = 0, off;

    buf_init(&o, TEMPLATE_MAX_BYTES);
    if (!tmpl) {
        tmpl = "";
        len = 0;
    }
    if (memchr(tmpl, '\0', len)) {
        job_err_set(err, "template", "template contains a NUL byte");
        return NULL;
    }
    if (!utf8_check(tmpl, len, &off)) {
        job_err_set(err, "template", "template is not valid UTF-8 (byte %zu)",
                    off);
        return NULL;
    }
    if (out_put(&o, "", 0, err) < 0)
        goto fail;
    while (i + 1 < len) {
        size_t name = 0, nlen = 0, end = 0;
        char key[VAR_NAME_MAX + 1], num[32], path[VAR_NAME_MAX + 8];
        const cJSON *v;
        const char *val;

        if (tmpl[i] != '{' || tmpl[i + 1] != '{') {
            i++;
            continue;
        }
        if (out_put(&o, tmpl + lit, i - lit, err) < 0)
            goto fail;
        if (placeholder(tmpl, len, i, &name, &nlen, &end, err) < 0)
            goto fail;
        memcpy(key, tmpl + name, nlen);
        key[nlen] = '\0';
        v = cJSON_IsObject(vars) ? cJSON_GetObjectItemCaseSensitive(vars, key)
                                 : NULL;
        snprintf(path, sizeof path, "vars.%s", key);
        if (!v) {
            job_err_set(err, "vars",
                        "the template uses {{%s}} but vars has no '%s'", key,
                        key);
            goto fail;
        }
        if (cJSON_IsString(v)) {
            val = v->valuestring;
        } else if (cJSON_IsNumber(v)) {
            job_format_number(v->valuedouble, num);
            val = num;
        } else if (cJSON_IsBool(v)) {
            val = cJSON_IsTrue(v) ? "true" : "false";
        } else {
            job_err_set(err, path, "%s must be a string, number or boolean",
                        path);
            goto fail;
        }
        if (out_put(&o, val, strlen(val), err) < 0)
            goto fail;
        i = lit = end;
    }
    if (out_put(&o, tmpl + lit, len - lit, err) < 0)
        goto fail;
    return o.data;
fail:
    buf_free(&o);
    return NULL;
}
