/* Prompt templates: templates/NAME.tmpl files with {{name}} placeholders,
 * rendered with a job's `vars` into the job's prompt at enqueue time. */
#ifndef GENQ_TEMPLATE_H
#define GENQ_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "job_err.h"

#define TEMPLATE_NAME_MAX  64
#define TEMPLATE_MAX_BYTES (1024 * 1024) /* = JOB_MAX_BYTES (job_parse.c) */

/* 1 when name is 1..TEMPLATE_NAME_MAX characters of [A-Za-z0-9_-] (so it can
 * never leave the templates directory), 0 when not. Can't fail. */
int template_name_valid(const char *name);

/* Read <dir>/<name>.tmpl (dir NULL = "templates"); name is a template
 * reference, NAME or NAME@VERSION (template_ref_valid()). The file must be a
 * regular file of at most TEMPLATE_MAX_BYTES, valid UTF-8, without NUL bytes;
 * one trailing
 * "\n" (or "\r\n") is dropped. Returns the NUL-terminated text with *len set
 * -- caller frees with free() -- or NULL with *err filled (field
 * "template"). */
char *template_load(const char *dir, const char *name, size_t *len,
                    struct job_err *err);

/* Render tmpl[0..len) with vars: each {{name}} (spaces or tabs allowed inside
 * the braces; name = [A-Za-z_][A-Za-z0-9_-]*, at most 64) is replaced by the
 * var's value: a string as is, a number in its shortest round-trip form
 * (1500, 0.5, 1e+21), a boolean as true/false. Every "{{" must open a valid
 * placeholder; there is no escape. Vars the template does not use are
 * ignored. Returns a new NUL-terminated string -- caller frees with free() --
 * or NULL with *err filled: a missing var (field "vars", naming it), a value
 * of another type (field "vars.NAME"), a malformed placeholder, invalid
 * UTF-8 or NUL in tmpl, or a result over TEMPLATE_MAX_BYTES (field "template").
 */
char *template_render(const char *tmpl, size_t len, const cJSON *vars,
                      struct job_err *err);

/* ---- versions (template_ver.c) ----
 * A template reference is NAME or NAME@VERSION (VERSION: 1 to
 * TEMPLATE_VERSION_MAX of [A-Za-z0-9._-], not starting with '.'); the file
 * of NAME@VERSION is <dir>/NAME@VERSION.tmpl. A file may also name its
 * version on its first line, "{{! version: V }}" (the line is dropped before
 * rendering). */
#define TEMPLATE_VERSION_MAX 32
#define TEMPLATE_REF_MAX     (TEMPLATE_NAME_MAX + 1 + TEMPLATE_VERSION_MAX)

/* 1 when ref is a valid NAME or NAME@VERSION, else 0. Can't fail. */
int template_ref_valid(const char *ref);

/* Split a valid ref into name and version ("" when none), each cut to its
 * capacity. Returns 0, or -1 when ref is not valid or does not fit. */
int template_ref_parts(const char *ref, char *name, size_t ncap, char *ver,
                       size_t vcap);

/* The job field template_ref v: a valid reference, and not alongside
 * template (with_template). 0, or -1 with *err (field "template_ref"). */
int template_ref_check(const cJSON *v, int with_template, struct job_err *err);

/* If text (NUL-terminated, *len bytes) opens with the version header line,
 * copy V into ver (vcap bytes) and remove the line from text in place
 * (*len updated); else ver = "". Returns 0, or -1 with *err (field
 * "template") when the first line starts like a header but is malformed.
 * No allocation. */
int template_header(char *text, size_t *len, char *ver, size_t vcap,
                    struct job_err *err);

/* The weighted split of genq enqueue --template-split
 * "NAME@V1=70,NAME@V2=30": a job naming template NAME (no version) is
 * rendered with one of the versions, picked by a hash of its line, so the
 * same line always gets the same version and the shares follow the
 * weights. Several names may be split at once. */
struct template_arm {
    char ref[TEMPLATE_REF_MAX + 1];
    char name[TEMPLATE_NAME_MAX + 1];
    uint32_t weight;
};
struct template_split {
    struct template_arm *arms;
    int n;
};

/* Parse spec. Returns the split -- caller frees with template_split_free()
 * -- or NULL with a reason naming the bad part in err. */
struct template_split *template_split_parse(const char *spec, char *err,
                                            size_t errlen);
/* Accepts NULL. */
void template_split_free(struct template_split *s);

/* The ref to render for template name (a borrowed string of s), chosen by
 * the hash of key[0..keylen); NULL when s is NULL, name has a version, or s
 * does not split name. Can't fail. */
const char *template_split_pick(const struct template_split *s,
                                const char *name, const char *key,
                                size_t keylen);

#endif
