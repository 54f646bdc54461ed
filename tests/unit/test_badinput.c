/* Runs job_parse() over every line of the bad-input corpus (tests/bad-input)
 * and checks each verdict against tests/bad-input/expected.txt. Run from the
 * repository root, or set GENQ_SRCDIR to it. */
#include "fmacros.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "job.h"
#include "jsonl.h"

#define GENERATED "huge-prompt.jsonl"

struct row {
    char file[64];
    long line;       /* 0 = "FILE - none" */
    char result[64]; /* "ok", "-" or the field */
    int seen;
};

static struct row *rows;
static size_t nrows;
static char srcdir[512], gendir[64];

static void
add_row(const char *file, long line, const char *result)
{
    struct row *r = realloc(rows, (nrows + 1) * sizeof *rows);

    cr_assert_not_null(r);
    rows = r;
    r = &rows[nrows++];
    snprintf(r->file, sizeof r->file, "%s", file);
    r->line = line;
    snprintf(r->result, sizeof r->result, "%s", result);
    r->seen = 0;
}

static void
load_expected(void)
{
    char path[640], buf[256];
    FILE *f;
    long n = 0;

    snprintf(path, sizeof path, "%s/tests/bad-input/expected.txt", srcdir);
    f = fopen(path, "r");
    cr_assert_not_null(f,
                       "%s: %s (run from the repository root or set "
                       "GENQ_SRCDIR)",
                       path, strerror(errno));
    while (fgets(buf, sizeof buf, f)) {
        char *save = NULL, *file, *line, *result, *end;
        long no;

        n++;
        if (buf[0] == '#' || buf[0] == '\n')
            continue;
        file = strtok_r(buf, " \t\n", &save);
        line = strtok_r(NULL, " \t\n", &save);
        result = strtok_r(NULL, " \t\n", &save);
        cr_assert(file && line && result, "expected.txt:%ld: malformed", n);
        if (strcmp(line, "-") == 0 && strcmp(result, "none") == 0) {
            no = 0;
        } else {
            errno = 0;
            no = strtol(line, &end, 10);
            cr_assert(errno == 0 && *end == '\0' && no > 0,
                      "expected.txt:%ld: bad line number '%s'", n, line);
        }
        add_row(file, no, result);
    }
    fclose(f);
}

/* Same bytes as tests/bad-input/gen.sh. */
static void
write_rep(FILE *f, const char *head, char c, size_t total)
{
    size_t n = total - strlen(head) - 2;

    fputs(head, f);
    for (size_t i = 0; i < n; i++)
        putc(c, f);
    fputs("\"}\n", f);
}

static void
generate(void)
{
    char path[128];
    FILE *f;

    snprintf(gendir, sizeof gendir, "/tmp/genq-badinput-XXXXXX");
    cr_assert_not_null(mkdtemp(gendir));
    snprintf(path, sizeof path, "%s/%s", gendir, GENERATED);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    write_rep(f, "{\"prompt\":\"", 'a', JOB_MAX_BYTES + 1);
    fputs("{\"prompt\":\"a good job between two huge ones\"}\n", f);
    write_rep(f, "{\"prompt\":\"", 'b', 10 * 1024 * 1024);
    write_rep(f, "{\"id\":\"huge-ok\",\"prompt\":\"", 'c', JOB_MAX_BYTES);
    cr_assert_eq(fclose(f), 0);
}

static void
setup(void)
{
    const char *s = getenv("GENQ_SRCDIR");

    snprintf(srcdir, sizeof srcdir, "%s", s && *s ? s : ".");
    load_expected();
    generate();
}

static void
teardown(void)
{
    char path[128];

    snprintf(path, sizeof path, "%s/%s", gendir, GENERATED);
    unlink(path);
    rmdir(gendir);
    free(rows);
}

static struct row *
find_row(const char *file, long line)
{
    for (size_t i = 0; i < nrows; i++)
        if (strcmp(rows[i].file, file) == 0 && rows[i].line == line)
            return &rows[i];
    return NULL;
}

/* Check every non-blank line of one file; returns the number of them. */
static long
check_file(const char *file)
{
    char path[640], tdir[640];
    struct job_opts o = {0};
    struct jsonl_reader *r;
    const char *line;
    size_t len;
    long no, checked = 0;
    FILE *f;
    int rc;

    if (strcmp(file, GENERATED) == 0)
        snprintf(path, sizeof path, "%s/%s", gendir, file);
    else
        snprintf(path, sizeof path, "%s/tests/bad-input/%s", srcdir, file);
    snprintf(tdir, sizeof tdir, "%s/templates", srcdir);
    o.templates_dir = tdir;
    f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    r = jsonl_open(f);
    cr_assert_not_null(r);
    /* Bound memory as genq enqueue should: a longer line is too large. */
    jsonl_set_limit(r, JOB_MAX_BYTES);
    while ((rc = jsonl_next(r, &line, &len, &no)) == 1) {
        struct job_err e;
        const char *got;
        struct row *want;
        cJSON *job;

        if (jsonl_blank(line, len))
            continue;
        checked++;
        memset(&e, 0, sizeof e);
        job = job_parse(line, len, &o, &e);
        if (job) {
            got = "ok";
            cr_expect_not_null(job_id(job));
        } else {
            got = e.field[0] ? e.field : "-";
            cr_expect_neq(e.msg[0], '\0', "%s:%ld: empty message", file, no);
        }
        want = find_row(file, no);
        cr_expect_not_null(want, "%s:%ld: not in expected.txt (got %s: %s)",
                           file, no, got, job ? "" : e.msg);
        if (want) {
            want->seen = 1;
            cr_expect_str_eq(got, want->result, "%s:%ld: got %s, want %s (%s)",
                             file, no, got, want->result, job ? "" : e.msg);
        }
        cJSON_Delete(job);
    }
    cr_assert_eq(rc, 0, "%s: read error", path);
    jsonl_close(r);
    fclose(f);
    return checked;
}

Test(badinput, corpus_matches_expected, .init = setup, .fini = teardown,
     .timeout = 60)
{
    char dpath[640];
    DIR *d;
    struct dirent *de;
    size_t files = 0;

    /* every corpus file is listed, and every listed file exists */
    snprintf(dpath, sizeof dpath, "%s/tests/bad-input", srcdir);
    d = opendir(dpath);
    cr_assert_not_null(d, "%s", dpath);
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        int listed = 0;
        if (n < 6 || strcmp(de->d_name + n - 6, ".jsonl") != 0)
            continue;
        for (size_t i = 0; i < nrows; i++)
            listed |= strcmp(rows[i].file, de->d_name) == 0;
        cr_expect(listed, "%s is not in expected.txt", de->d_name);
    }
    closedir(d);

    for (size_t i = 0; i < nrows; i++) {
        int first = 1;
        for (size_t k = 0; k < i; k++)
            if (strcmp(rows[k].file, rows[i].file) == 0)
                first = 0;
        if (!first)
            continue;
        files++;
        if (check_file(rows[i].file) == 0) {
            struct row *none = find_row(rows[i].file, 0);
            cr_expect_not_null(none, "%s: no lines, want a '- none' row",
                               rows[i].file);
            if (none)
                none->seen = 1;
        }
    }
    for (size_t i = 0; i < nrows; i++)
        cr_expect(rows[i].seen, "expected.txt: %s %ld %s matched no line",
                  rows[i].file, rows[i].line, rows[i].result);
    cr_assert_geq(files, 15);
}

/* Whole file into a new buffer; caller frees. */
static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;

    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    for (;;) {
        size_t r;
        if (n + 4096 > cap) {
            char *nb = realloc(buf, cap = cap * 2 + 4096);
            cr_assert_not_null(nb);
            buf = nb;
        }
        r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* The C rules and schemas/job.schema.json agree on the schema examples:
 * job.*.example.json parse, job.*.bad.json do not; a dead letter's job is
 * valid unless its class is invalid. */
Test(badinput, schema_examples_agree_with_job_parse)
{
    char dpath[640], path[1024], tdir[640];
    struct job_opts o = {0};
    struct dirent *de;
    const char *s = getenv("GENQ_SRCDIR");
    int jobs = 0, dead = 0;
    DIR *d;

    snprintf(srcdir, sizeof srcdir, "%s", s && *s ? s : ".");
    snprintf(dpath, sizeof dpath, "%s/schemas/examples", srcdir);
    snprintf(tdir, sizeof tdir, "%s/templates", srcdir);
    o.templates_dir = tdir;
    d = opendir(dpath);
    cr_assert_not_null(d, "%s", dpath);
    while ((de = readdir(d))) {
        const char *n = de->d_name;
        size_t len, nl = strlen(n);
        struct job_err e;
        char *text;
        cJSON *doc;
        int good = nl > 13 && strcmp(n + nl - 13, ".example.json") == 0;
        int bad = nl > 9 && strcmp(n + nl - 9, ".bad.json") == 0;

        if (!good && !bad)
            continue;
        snprintf(path, sizeof path, "%s/%s", dpath, n);
        if (strncmp(n, "job.", 4) == 0) {
            text = slurp(path, &len);
            doc = job_parse(text, len, &o, &e);
            if (good)
                cr_expect_not_null(doc, "%s rejected: [%s] %s", n, e.field,
                                   e.msg);
            else
                cr_expect_null(doc, "%s accepted", n);
            cJSON_Delete(doc);
            free(text);
            jobs++;
        } else if (good && strncmp(n, "deadletter.", 11) == 0) {
            const cJSON *job, *cls;
            text = slurp(path, &len);
            doc = cJSON_Parse(text);
            cr_assert_not_null(doc, "%s", n);
            job = cJSON_GetObjectItemCaseSensitive(doc, "job");
            cls = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(doc, "error"), "class");
            cr_assert(cJSON_IsString(cls), "%s: error.class", n);
            if (strcmp(cls->valuestring, "invalid") == 0)
                cr_expect_eq(job_validate(job, &e), -1, "%s: job valid", n);
            else
                cr_expect_eq(job_validate(job, &e), 0, "%s: [%s] %s", n,
                             e.field, e.msg);
            cJSON_Delete(doc);
            free(text);
            dead++;
        }
    }
    closedir(d);
    cr_assert_geq(jobs, 10);
    cr_assert_geq(dead, 2);
}
