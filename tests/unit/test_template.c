/* Unit tests of prompt templates (common/template.c): placeholders, value
 * types, missing vars, loading, names that would leave the directory. */
#include "fmacros.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "job.h"
#include "template.h"

static char dir[64];

static void
put(const char *rel, const char *text, size_t len)
{
    char path[160];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, rel);
    f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(text, 1, len, f), len);
    fclose(f);
}

static void
setup(void)
{
    char path[160];

    snprintf(dir, sizeof dir, "/tmp/genq-test-tmpl-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/sub", dir);
    cr_assert_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/dir.tmpl", dir);
    cr_assert_eq(mkdir(path, 0700), 0);
    put("a.tmpl", "Hello {{name}}!\n", 16);
    put("crlf.tmpl", "x\r\n", 3);
    put("two.tmpl", "x\n\n", 3);
    put("nul.tmpl", "a\0b", 3);
    put("bad-utf8.tmpl", "a\xff", 2);
    put("secret.tmpl", "outside", 7);
    put("sub/inner.tmpl", "inner", 5);
}

static void
teardown(void)
{
    static const char *files[] = {
        "a.tmpl",        "crlf.tmpl",   "two.tmpl",      "nul.tmpl",
        "bad-utf8.tmpl", "secret.tmpl", "sub/inner.tmpl"};
    char path[160];

    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/sub", dir);
    rmdir(path);
    snprintf(path, sizeof path, "%s/dir.tmpl", dir);
    rmdir(path);
    rmdir(dir);
}

TestSuite(tmpl, .init = setup, .fini = teardown);

static char *
render(const char *tmpl, const char *vars_json, struct job_err *e)
{
    cJSON *vars = cJSON_Parse(vars_json);
    char *out;

    cr_assert_not_null(vars, "%s", vars_json);
    out = template_render(tmpl, strlen(tmpl), vars, e);
    cJSON_Delete(vars);
    return out;
}

static void
renders(const char *tmpl, const char *vars, const char *want)
{
    struct job_err e;
    char *out = render(tmpl, vars, &e);

    cr_assert_not_null(out, "%s: [%s] %s", tmpl, e.field, e.msg);
    cr_assert_str_eq(out, want);
    free(out);
}

static void
fails(const char *tmpl, const char *vars, const char *field, const char *needle)
{
    struct job_err e;
    char *out = render(tmpl, vars, &e);

    cr_assert_null(out, "%s rendered %s", tmpl, out);
    cr_assert_str_eq(e.field, field, "%s: %s", tmpl, e.msg);
    cr_assert_not_null(strstr(e.msg, needle), "%s: '%s' lacks '%s'", tmpl,
                       e.msg, needle);
}

Test(tmpl, placeholders)
{
    renders("", "{}", "");
    renders("no placeholders", "{}", "no placeholders");
    renders("{{a}}", "{\"a\":\"x\"}", "x");
    renders("<{{ a }}|{{\ta\t}}|{{a  }}>", "{\"a\":\"x\"}", "<x|x|x>");
    renders("{{a}}{{b_2}}{{C-d}}", "{\"a\":\"1\",\"b_2\":\"2\",\"C-d\":\"3\"}",
            "123");
    renders("single { and } and {x} stay", "{}", "single { and } and {x} stay");
    renders("} } }}", "{}", "} } }}");
    renders("{{a}}", "{\"a\":\"{{b}}\",\"b\":\"no\"}",
            "{{b}}"); /* no re-expansion */
    renders("caf\xc3\xa9 {{a}}", "{\"a\":\"\xe2\x82\xac\"}",
            "caf\xc3\xa9 \xe2\x82\xac");
    renders("{{a}}", "{\"a\":\"\"}", "");
}

Test(tmpl, value_types)
{
    renders("{{n}}", "{\"n\":1500}", "1500");
    renders("{{n}}", "{\"n\":-2.5}", "-2.5");
    renders("{{n}}", "{\"n\":0.1}", "0.1");
    renders("{{n}}", "{\"n\":1e21}", "1e+21");
    renders("{{t}} {{f}}", "{\"t\":true,\"f\":false}", "true false");
    fails("{{x}}", "{\"x\":null}", "vars.x",
          "must be a string, number or boolean");
    fails("{{x}}", "{\"x\":[1]}", "vars.x", "vars.x");
    fails("{{x}}", "{\"x\":{}}", "vars.x", "vars.x");
}

Test(tmpl, missing_and_malformed)
{
    fails("Hi {{name}}", "{}", "vars", "uses {{name}} but vars has no 'name'");
    fails("Hi {{Name}}", "{\"name\":\"x\"}", "vars", "no 'Name'");
    fails("{{}}", "{}", "template", "at byte 0: expected a variable name");
    fails("ab {{ }}", "{}", "template", "at byte 3");
    fails("{{a", "{\"a\":1}", "template", "expected '}}' after 'a'");
    fails("{{a}", "{\"a\":1}", "template", "expected '}}'");
    fails("{{a b}}", "{\"a\":1}", "template", "expected '}}'");
    fails("{{1a}}", "{}", "template", "expected a variable name");
    fails("{{a.b}}", "{}", "template", "expected '}}'");
    fails("{{{a}}}", "{}", "template", "expected a variable name");
    fails("x {{", "{}", "template", "expected a variable name");
}

Test(tmpl, long_name)
{
    char t[128];

    memset(t, 0, sizeof t);
    memcpy(t, "{{", 2);
    memset(t + 2, 'v', 65);
    memcpy(t + 67, "}}", 2);
    fails(t, "{}", "template", "longer than 64");
}

Test(tmpl, input_checks)
{
    struct job_err e;
    cJSON *vars = cJSON_CreateObject();
    char *out;

    out = template_render("a\0{{x}}", 7, vars, &e);
    cr_assert_null(out);
    cr_assert_str_eq(e.field, "template");
    cr_assert_not_null(strstr(e.msg, "NUL"));
    out = template_render("a\xc0\xaf", 3, vars, &e);
    cr_assert_null(out);
    cr_assert_not_null(strstr(e.msg, "UTF-8 (byte 1)"));
    out = template_render("abc", 2, vars, &e); /* len is respected */
    cr_assert_str_eq(out, "ab");
    free(out);
    out = template_render(NULL, 0, vars, &e);
    cr_assert_str_eq(out, "");
    free(out);
    cJSON_Delete(vars);
}

Test(tmpl, output_limit)
{
    size_t n = 600 * 1024;
    char *big = malloc(n + 1);
    cJSON *vars = cJSON_CreateObject();
    struct job_err e;
    char *out;

    cr_assert_not_null(big);
    memset(big, 'b', n);
    big[n] = '\0';
    cJSON_AddStringToObject(vars, "v", big);
    out = template_render("{{v}}", 5, vars, &e);
    cr_assert_not_null(out);
    cr_assert_eq(strlen(out), n);
    free(out);
    out = template_render("{{v}}{{v}}", 10, vars, &e);
    cr_assert_null(out);
    cr_assert_str_eq(e.field, "template");
    cr_assert_not_null(strstr(e.msg, "larger than 1048576"));
    cJSON_Delete(vars);
    free(big);
}

Test(tmpl, names)
{
    static const char *const bad[] = {"",          "../secret",   "..",
                                      "sub/inner", "/etc/passwd", "a.tmpl",
                                      "a b",       "caf\xc3\xa9"};
    char n64[65], n65[66];

    memset(n64, 'n', 64);
    n64[64] = '\0';
    memset(n65, 'n', 65);
    n65[65] = '\0';
    cr_assert(template_name_valid("article"));
    cr_assert(template_name_valid("Tech_Article-2"));
    cr_assert(template_name_valid(n64));
    cr_assert_not(template_name_valid(n65));
    cr_assert_not(template_name_valid(NULL));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(template_name_valid(bad[i]), "%s", bad[i]);
}

static char *
load(const char *name, size_t *len, struct job_err *e)
{
    return template_load(dir, name, len, e);
}

Test(tmpl, load)
{
    struct job_err e;
    size_t len = 99;
    char *t;

    t = load("a", &len, &e);
    cr_assert_not_null(t, "%s", e.msg);
    cr_assert_str_eq(t, "Hello {{name}}!"); /* one trailing newline dropped */
    cr_assert_eq(len, 15);
    free(t);
    t = load("crlf", &len, &e);
    cr_assert_str_eq(t, "x");
    free(t);
    t = load("two", &len, &e);
    cr_assert_str_eq(t, "x\n"); /* only one */
    free(t);
}

Test(tmpl, load_rejects)
{
    static const struct {
        const char *name, *needle;
    } c[] = {
        {"missing", "template 'missing' not found"},
        {"nul", "NUL byte"},
        {"bad-utf8", "not valid UTF-8 (byte 1)"},
        {"dir", "not a regular file"},
        {"../secret", "invalid template name"},
        {"sub/inner", "invalid template name"},
        {"", "invalid template name"},
    };
    struct job_err e;
    size_t len;

    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        cr_assert_null(load(c[i].name, &len, &e), "%s loaded", c[i].name);
        cr_assert_str_eq(e.field, "template");
        cr_assert_not_null(strstr(e.msg, c[i].needle), "%s: %s", c[i].name,
                           e.msg);
    }
}

Test(tmpl, job_parse_path_traversal)
{
    /* the job's template name can never reach outside the directory */
    static const char *lines[] = {
        "{\"template\":\"../secret\",\"vars\":{}}",
        "{\"template\":\"sub/inner\",\"vars\":{}}",
        "{\"template\":\"/etc/passwd\",\"vars\":{}}",
        "{\"template\":\"..\",\"vars\":{}}",
    };
    char sub[96];
    struct job_opts o = {0};
    struct job_err e;

    snprintf(sub, sizeof sub, "%s/sub", dir);
    o.templates_dir = sub;
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        cr_assert_null(job_parse(lines[i], strlen(lines[i]), &o, &e), "%s",
                       lines[i]);
        cr_assert_str_eq(e.field, "template");
        cr_assert_not_null(strstr(e.msg, "1 to 64 characters"), "%s", e.msg);
    }
    {
        const char *ok = "{\"template\":\"inner\",\"vars\":{}}";
        cJSON *j = job_parse(ok, strlen(ok), &o, &e);
        cr_assert_not_null(j, "%s", e.msg);
        cJSON_Delete(j);
    }
}
