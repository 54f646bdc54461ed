/* Unit tests of versioned templates (common/template_ver.c and the
 * rendering in job_parse.c): references NAME@VERSION, the version header,
 * template_ref in the stored job, and the weighted split. */
#include "fmacros.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "job.h"
#include "template.h"
#include "unit.h"

TestSuite(templates, .init = tj_setup, .fini = tj_teardown);

Test(templates, refs)
{
    char n[80], v[40];

    cr_assert(template_ref_valid("article"));
    cr_assert(template_ref_valid("article@v2"));
    cr_assert(template_ref_valid("a@2024-01.b_c"));
    cr_assert_not(template_ref_valid("a@"));
    cr_assert_not(template_ref_valid("@v1"));
    cr_assert_not(template_ref_valid("a@.hidden"));
    cr_assert_not(template_ref_valid("a@v/1"));
    cr_assert_not(template_ref_valid("a@v1@v2"));
    cr_assert_not(template_ref_valid("../a@v1"));
    cr_assert_not(template_ref_valid(NULL));
    cr_assert_eq(template_ref_parts("a@v9", n, sizeof n, v, sizeof v), 0);
    cr_assert_str_eq(n, "a");
    cr_assert_str_eq(v, "v9");
    cr_assert_eq(template_ref_parts("plain", n, sizeof n, v, sizeof v), 0);
    cr_assert_str_eq(v, "");
    cr_assert_eq(template_ref_parts("a@", n, sizeof n, v, sizeof v), -1);
}

/* Render a template job and return its template_ref and prompt. */
static void
render(const char *tmpl, const struct template_split *sp, const char *line_x,
       char *ref, char *prompt)
{
    char line[200];
    struct job_opts o = {tj_dir, NULL, sp};
    struct job_err e;
    cJSON *j;

    snprintf(line, sizeof line, "{\"template\":\"%s\",\"vars\":{\"x\":\"%s\"}}",
             tmpl, line_x);
    j = job_parse(line, strlen(line), &o, &e);
    cr_assert_not_null(j, "%s: %s: %s", line, e.field, e.msg);
    strcpy(ref, cJSON_GetStringValue(cJSON_GetObjectItem(j, "template_ref")));
    strcpy(prompt, cJSON_GetStringValue(cJSON_GetObjectItem(j, "prompt")));
    cr_assert_null(cJSON_GetObjectItem(j, "template"));
    cJSON_Delete(j);
}

Test(templates, versions_from_file_name_and_header)
{
    char ref[80], p[200];

    render("a@v1", NULL, "q", ref, p);
    cr_assert_str_eq(ref, "a@v1");
    cr_assert_str_eq(p, "One q");
    render("a@v2", NULL, "q", ref, p);
    cr_assert_str_eq(ref, "a@v2");
    cr_assert_str_eq(p, "Two q", "the header line is not rendered");
    render("h", NULL, "q", ref, p);
    cr_assert_str_eq(ref, "h@7.1-rc", "the header names the version");
    cr_assert_str_eq(p, "Header q");
}

Test(templates, bad_header_and_clash_rejected)
{
    struct job_opts o = {tj_dir, NULL, NULL};
    struct job_err e;
    const char *l1 = "{\"template\":\"bad\",\"vars\":{}}";
    const char *l2 = "{\"template\":\"clash@v3\",\"vars\":{}}";

    cr_assert_null(job_parse(l1, strlen(l1), &o, &e));
    cr_assert_str_eq(e.field, "template");
    cr_assert(strstr(e.msg, "version header"), "%s", e.msg);
    cr_assert_null(job_parse(l2, strlen(l2), &o, &e));
    cr_assert(strstr(e.msg, "header says version 'v4'"), "%s", e.msg);
}

Test(templates, split_follows_weights_and_is_stable)
{
    char err[200], ref[80], p[200], x[16];
    struct template_split *sp =
        template_split_parse("a@v1=7,a@v2=3", err, sizeof err);
    int n1 = 0;

    cr_assert_not_null(sp, "%s", err);
    for (int i = 0; i < 1000; i++) {
        snprintf(x, sizeof x, "t%d", i);
        render("a", sp, x, ref, p);
        n1 += !strcmp(ref, "a@v1");
        cr_assert(!strcmp(ref, "a@v1") || !strcmp(ref, "a@v2"), "%s", ref);
    }
    cr_assert(n1 > 600 && n1 < 800, "v1 got %d of 1000 (weight 70%%)", n1);
    template_split_free(sp);
    sp = template_split_parse("a@version-two=1,a@v1=1000", err, sizeof err);
    cr_assert_not_null(sp, "%s", err);
    cr_assert_eq(sp->n, 2);
    cr_assert_eq(sp->arms[0].weight, 1);
    cr_assert_eq(sp->arms[1].weight, 1000);
    /* the same line, the same version */
    render("a", sp, "same", ref, p);
    {
        char again[80];
        render("a", sp, "same", again, p);
        cr_assert_str_eq(ref, again);
    }
    /* a versioned name is not split */
    render("a@v2", sp, "t1", ref, p);
    cr_assert_str_eq(ref, "a@v2");
    template_split_free(sp);
}

Test(templates, split_spec_errors)
{
    char err[200];
    const char *bad[] = {"",          "a",           "a@v1",    "a@v1=0",
                         "a@v1=x",    "a=5",         "a@v1=5,", "a@v1=5,a@v1=5",
                         "../a@v1=5", "a@v1=2000000"};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct template_split *s =
            template_split_parse(bad[i], err, sizeof err);
        cr_assert_null(s, "'%s' accepted", bad[i]);
        cr_assert(err[0], "'%s': no reason", bad[i]);
    }
    template_split_free(NULL);
}

Test(templates, template_ref_field)
{
    struct job_err e;
    const char *ok = "{\"prompt\":\"x\",\"template_ref\":\"a@v1\"}";
    const char *both = "{\"template\":\"a@v1\",\"vars\":{},\"template_ref\":"
                       "\"a@v1\"}";
    const char *bad = "{\"prompt\":\"x\",\"template_ref\":\"a b\"}";
    cJSON *j = job_parse(ok, strlen(ok), NULL, &e);

    cr_assert_not_null(j);
    cJSON_Delete(j);
    cr_assert_null(job_parse(both, strlen(both), NULL, &e));
    cr_assert_str_eq(e.field, "template_ref");
    cr_assert_null(job_parse(bad, strlen(bad), NULL, &e));
    cr_assert_str_eq(e.field, "template_ref");
}
