/* The job test fixtures (test_job.c, test_job_reject.c): a templates
 * directory with a few templates, and job_parse() accept/reject checks. */
#include "fmacros.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "job.h"
#include "utf8.h"
#include "unit.h"
#include "uuid.h"

char tj_dir[64];
struct job_opts tj_opts;

static void
write_tmpl(const char *name, const char *text)
{
    char path[128];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s.tmpl", tj_dir, name);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

void
tj_setup(void)
{
    snprintf(tj_dir, sizeof tj_dir, "/tmp/genq-test-job-XXXXXX");
    cr_assert_not_null(mkdtemp(tj_dir));
    tj_opts.templates_dir = tj_dir;
    write_tmpl("article", "Write {{ words }} words on {{topic}}.\n");
    write_tmpl("plain", "No placeholders here.\n");
    write_tmpl("twice", "{{a}}{{a}}");
    write_tmpl("empty", "\n");
    /* versioned templates (test_templates.c) */
    write_tmpl("a@v1", "One {{x}}\n");
    write_tmpl("a@v2", "{{! version: v2 }}\r\nTwo {{x}}\n");
    write_tmpl("h", "{{!  version:  7.1-rc }}\nHeader {{x}}\n");
    write_tmpl("bad", "{{! version: }}\nx\n");
    write_tmpl("clash@v3", "{{! version: v4 }}\nx\n");
}

void
tj_teardown(void)
{
    const char *names[] = {"article", "plain", "twice", "empty",   "a@v1",
                           "a@v2",    "h",     "bad",   "clash@v3"};
    char path[128];

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s.tmpl", tj_dir, names[i]);
        unlink(path);
    }
    rmdir(tj_dir);
}

cJSON *
tj_accept_len(const char *line, size_t len)
{
    struct job_err e;
    cJSON *j;

    memset(&e, 0, sizeof e);
    j = job_parse(line, len, &tj_opts, &e);
    cr_assert_not_null(j, "rejected %.200s: [%s] %s", line, e.field, e.msg);
    return j;
}

cJSON *
tj_accept(const char *line)
{
    return tj_accept_len(line, strlen(line));
}

/* job_parse must fail with this field and a message containing needle. */
void
tj_reject_len(const char *line, size_t len, const char *field,
              const char *needle)
{
    struct job_err e;
    cJSON *j;

    memset(&e, 0, sizeof e);
    j = job_parse(line, len, &tj_opts, &e);
    cr_assert_null(j, "accepted %.200s", line);
    cr_assert_str_eq(e.field, field, "%.200s: field '%s', want '%s' (%s)", line,
                     e.field, field, e.msg);
    cr_assert_not_null(strstr(e.msg, needle), "%.200s: message '%s' lacks '%s'",
                       line, e.msg, needle);
    cr_assert(utf8_valid(e.field, strlen(e.field)));
    cr_assert(utf8_valid(e.msg, strlen(e.msg)));
}

void
tj_reject(const char *line, const char *field, const char *needle)
{
    tj_reject_len(line, strlen(line), field, needle);
}

/* A string of n copies of c; caller frees. */
char *
tj_rep(char c, size_t n)
{
    char *s = malloc(n + 1);

    cr_assert_not_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* The concatenation of the strings up to a NULL; caller frees. */
char *
tj_cat(const char *first, ...)
{
    va_list ap;
    size_t n = 0;
    char *s;

    va_start(ap, first);
    for (const char *p = first; p; p = va_arg(ap, const char *))
        n += strlen(p);
    va_end(ap);
    s = malloc(n + 1);
    cr_assert_not_null(s);
    n = 0;
    va_start(ap, first);
    for (const char *p = first; p; p = va_arg(ap, const char *)) {
        memcpy(s + n, p, strlen(p));
        n += strlen(p);
    }
    va_end(ap);
    s[n] = '\0';
    return s;
}
