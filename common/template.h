/* Prompt templates: templates/NAME.tmpl files with {{name}} placeholders,
 * rendered with a job's `vars` into the job's prompt at enqueue time. */
#ifndef GENQ_TEMPLATE_H
#define GENQ_TEMPLATE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "job_err.h"

#define TEMPLATE_NAME_MAX  64
#define TEMPLATE_MAX_BYTES (1024 * 1024) /* = JOB_MAX_BYTES (job_parse.c) */

/* 1 when name is 1..TEMPLATE_NAME_MAX characters of [A-Za-z0-9_-] (so it can
 * never leave the templates directory), 0 when not. Can't fail. */
int template_name_valid(const char *name);

/* Read <dir>/<name>.tmpl (dir NULL = "templates"). The file must be a regular
 * file of at most TEMPLATE_MAX_BYTES, valid UTF-8, without NUL bytes; one
 * trailing
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

#endif
