/* The configuration file loader (see config.h): reads the whole file, checks
 * bytes, line lengths and section names itself, then lets libinih split
 * `key = value` lines, feeding it line by line so every error has a line. */
#include "fmacros.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "config.h"

#define SECTION "worker"
/* [model_class]: model id = limit class (the limiter's key, limiter.h) */
#define SECTION_MC "model_class"

/* Hands libinih one line per call and counts lines. */
struct reader {
    const char *p, *end;
    int line;     /* number of the line being read */
    int at_start; /* the next byte starts a line */
};

struct load {
    struct config *cf;
    config_set_fn set;
    config_section_fn section_set; /* NULL: [worker] only */
    void *ud;
    struct reader rd;
    unsigned mode; /* st_mode of the file */
    int err_line;  /* first error found by the handler, 0 if none */
    char msg[512];
};

static char *
reader_next(char *str, int num, void *stream)
{
    struct reader *r = stream;
    size_t n = 0, cap;

    if (r->p >= r->end || num < 2)
        return NULL;
    if (r->at_start) {
        r->line++;
        r->at_start = 0;
    }
    cap = (size_t)num - 1;
    while (n < cap && r->p < r->end) {
        char c = *r->p++;
        str[n++] = c;
        if (c == '\n') {
            r->at_start = 1;
            break;
        }
    }
    str[n] = '\0';
    return str;
}

static int
keep_value(struct config *cf, const char *v, char **out)
{
    if (cf->nvalues == cf->cap) {
        size_t cap = cf->cap ? cf->cap * 2 : 16;
        char **nv = realloc(cf->values, cap * sizeof(*nv));
        if (!nv)
            return -1;
        cf->values = nv;
        cf->cap = cap;
    }
    *out = strdup(v);
    if (!*out)
        return -1;
    cf->values[cf->nvalues++] = *out;
    return 0;
}

static int
on_key(void *user, const char *section, const char *key, const char *value)
{
    struct load *ld = user;
    int line = ld->rd.line;
    char why[384] = "";
    char *v;

    if (ld->err_line)
        return 0;
    ld->err_line = line;
    if (!strcmp(section, SECTION_MC)) {
        char *k, **nm;
        if (!*value) {
            snprintf(ld->msg, sizeof(ld->msg),
                     "[%s] %s: empty class (write MODEL = CLASS)", SECTION_MC,
                     key);
            return 0;
        }
        nm = realloc(ld->cf->mclass, (ld->cf->nmclass + 2) * sizeof(*nm));
        if (!nm || keep_value(ld->cf, key, &k) < 0 ||
            keep_value(ld->cf, value, &v) < 0) {
            if (nm)
                ld->cf->mclass = nm;
            snprintf(ld->msg, sizeof(ld->msg), "out of memory");
            return 0;
        }
        ld->cf->mclass = nm;
        nm[ld->cf->nmclass++] = k;
        nm[ld->cf->nmclass++] = v;
        ld->err_line = 0;
        return 1;
    }
    if (strcmp(section, SECTION) != 0 && (!ld->section_set || !*section)) {
        snprintf(ld->msg, sizeof(ld->msg), "key '%s' outside the [%s] section",
                 key, SECTION);
        return 0;
    }
    if (keep_value(ld->cf, value, &v) < 0) {
        snprintf(ld->msg, sizeof(ld->msg), "out of memory");
        return 0;
    }
    switch (
        strcmp(section, SECTION) != 0
            ? ld->section_set(ld->ud, section, key, v, line, why, sizeof(why))
            : ld->set(ld->ud, key, v, line, why, sizeof(why))) {
    case CONFIG_OK:
        break;
    case CONFIG_SECRET:
        if (ld->mode & 077) {
            snprintf(ld->msg, sizeof(ld->msg),
                     "'%s' holds a secret, but the file is readable by group "
                     "or others (mode %04o): chmod 600 %s, or pass the "
                     "secret in the environment",
                     key, ld->mode & 07777, ld->cf->path);
            return 0;
        }
        break;
    case CONFIG_UNKNOWN:
        snprintf(ld->msg, sizeof(ld->msg), "unknown key '%s'%s%s%s", key,
                 why[0] ? " (" : "", why, why[0] ? ")" : "");
        return 0;
    case CONFIG_BAD:
    default:
        snprintf(ld->msg, sizeof(ld->msg), "%s", why[0] ? why : "bad value");
        return 0;
    }
    ld->err_line = 0;
    return 1;
}

/* Checks libinih leaves alone: NUL bytes, line length, section names
 * (also of sections without keys). Returns the bad line or 0. */
static int
prescan(const char *buf, size_t len, config_section_fn section_set, void *ud,
        char *msg, size_t msglen)
{
    const char *p = buf, *end = buf + len;
    int line = 0;

    if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
        p += 3;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        const char *s = p, *close;

        line++;
        if (memchr(p, '\0', (size_t)(eol - p))) {
            snprintf(msg, msglen, "NUL byte (not a text file?)");
            return line;
        }
        if (eol - p > CONFIG_MAX_LINE) {
            snprintf(msg, msglen, "line longer than %d bytes", CONFIG_MAX_LINE);
            return line;
        }
        while (s < eol && (*s == ' ' || *s == '\t' || *s == '\r'))
            s++;
        if (s < eol && *s == '[' &&
            (close = memchr(s, ']', (size_t)(eol - s))) != NULL) {
            size_t n = (size_t)(close - s - 1);
            char name[200], why[300] = "";
            snprintf(name, sizeof(name), "%.*s", (int)(n > 199 ? 199 : n),
                     s + 1);
            if (strcmp(name, SECTION) != 0 && strcmp(name, SECTION_MC) != 0 &&
                (!section_set || section_set(ud, name, NULL, NULL, line, why,
                                             sizeof(why)) != CONFIG_OK)) {
                snprintf(msg, msglen, "unknown section '[%.64s]' (%s)", name,
                         why[0] ? why
                                : "the sections are [" SECTION
                                  "] and [" SECTION_MC "]");
                return line;
            }
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

/* Read all of fd (a regular file of at most CONFIG_MAX_BYTES) into a
 * malloc'd, NUL-terminated buffer. */
static char *
slurp(int fd, size_t *len, char *msg, size_t msglen)
{
    size_t cap = CONFIG_MAX_BYTES + 1, n = 0;
    char *buf = malloc(cap + 1);

    if (!buf) {
        snprintf(msg, msglen, "out of memory");
        return NULL;
    }
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(msg, msglen, "%s", strerror(errno));
            free(buf);
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > CONFIG_MAX_BYTES) {
            snprintf(msg, msglen, "larger than %d bytes", CONFIG_MAX_BYTES);
            free(buf);
            return NULL;
        }
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

int
config_load(struct config *cf, const char *path, config_set_fn set, void *ud,
            char *err, size_t errlen)
{
    return config_load_sections(cf, path, set, NULL, ud, err, errlen);
}

int
config_load_sections(struct config *cf, const char *path, config_set_fn set,
                     config_section_fn section_set, void *ud, char *err,
                     size_t errlen)
{
    struct load ld;
    struct stat st;
    char msg[512];
    char *buf;
    size_t len = 0;
    int fd, rc, line;

    cf->path = strdup(path);
    if (!cf->path) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    buf = slurp(fd, &len, msg, sizeof(msg));
    close(fd);
    if (!buf) {
        snprintf(err, errlen, "%s: %s", path, msg);
        return -1;
    }
    line = prescan(buf, len, section_set, ud, msg, sizeof(msg));
    if (line > 0) {
        snprintf(err, errlen, "%s:%d: %s", path, line, msg);
        explicit_bzero(buf, len);
        free(buf);
        return -1;
    }

    memset(&ld, 0, sizeof(ld));
    ld.cf = cf;
    ld.set = set;
    ld.section_set = section_set;
    ld.ud = ud;
    ld.mode = (unsigned)st.st_mode;
    ld.rd.p = buf;
    ld.rd.end = buf + len;
    ld.rd.at_start = 1;
    /* Debian's libinih exposes its build options as globals: a heap line
     * buffer big enough for any line prescan() let through, no
     * continuation lines, stop at the first error. */
    ini_use_stack = false;
    ini_allow_realloc = true;
    ini_initial_alloc = 256;
    ini_max_line = CONFIG_MAX_LINE + 3;
    ini_allow_multiline = false;
    ini_allow_no_value = false;
    ini_allow_inline_comments = true;
    ini_stop_on_first_error = true;
    rc = ini_parse_stream(reader_next, &ld.rd, on_key, &ld);
    explicit_bzero(buf, len);
    free(buf);
    if (ld.err_line) {
        snprintf(err, errlen, "%s:%d: %s", path, ld.err_line, ld.msg);
        return -1;
    }
    if (rc > 0) {
        snprintf(err, errlen,
                 "%s:%d: syntax error (expected 'key = value', a comment "
                 "or [%s])",
                 path, rc, SECTION);
        return -1;
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    return 0;
}

void
config_free(struct config *cf)
{
    for (size_t i = 0; i < cf->nvalues; i++) {
        explicit_bzero(cf->values[i], strlen(cf->values[i]));
        free(cf->values[i]);
    }
    free(cf->values);
    free(cf->mclass);
    free(cf->path);
    memset(cf, 0, sizeof(*cf));
}

const char *
config_model_class(const struct config *cf, const char *model)
{
    for (size_t i = 0; model && i + 1 < cf->nmclass; i += 2)
        if (!strcmp(cf->mclass[i], model))
            return cf->mclass[i + 1];
    return NULL;
}
