/* Job parsing, the full path: raw-line checks (size, NUL, UTF-8, strict
 * JSON syntax), cJSON parse, validation, then normalization (template
 * rendering, generated id) into the exact stored request. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "job_int.h"
#include "jsonscan.h"
#include "template.h"
#include "utf8.h"
#include "uuid.h"

/* The two limits are one (template.h cannot include job.h). */
_Static_assert(TEMPLATE_MAX_BYTES == JOB_MAX_BYTES, /* NOLINT */
               "a template renders into a job");
_Static_assert(JSONSCAN_MAX_DEPTH == JOB_MAX_DEPTH,
               "the syntax scan bounds the nesting of a job");

/* 0 when s[0..len) is exactly one JSON value with optional whitespace. */
static int
json_syntax_check(const char *s, size_t len, struct job_err *err)
{
    const char *what;
    size_t at;

    if (jsonscan_check(s, len, &at, &what) == 0)
        return 0;
    return job_err_set(err, "", "invalid JSON at byte %zu: %s", at, what);
}

/* ---- parse and normalize ------------------------------------------------ */

/* Put item under key at position idx of obj (0 = first); replaces nothing. */
static int
obj_insert(cJSON *obj, int idx, const char *key, cJSON *item)
{
    if (!cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        return -1;
    }
    /* Detaching keeps item->string, so it can be re-linked as a member. */
    cJSON_DetachItemViaPointer(obj, item);
    if (!cJSON_InsertItemInArray(obj, idx, item)) {
        cJSON_Delete(item);
        return -1;
    }
    return 0;
}

/* Render template + vars into prompt, in template's place, and record the
 * reference rendered (o->split may pick its version; the file's header
 * names it when the reference has none) as template_ref. line[0..len) is
 * the job's line: the split's hash. */
static int
render(cJSON *job, const struct job_opts *o, const char *line, size_t len,
       struct job_err *err)
{
    cJSON *tmpl = cJSON_GetObjectItemCaseSensitive(job, "template");
    const cJSON *vars = job_get(job, "vars");
    const char *ref = tmpl->valuestring, *pick;
    char *text, *out, hver[TEMPLATE_VERSION_MAX + 1];
    char name[TEMPLATE_NAME_MAX + 1], fver[TEMPLATE_VERSION_MAX + 1];
    char full[TEMPLATE_REF_MAX + 1];
    size_t tlen;
    cJSON *prompt, *tr;

    if (o && o->no_templates)
        return job_err_set(err, "template", "template '%s': %s", ref,
                           o->no_templates);
    pick = o ? template_split_pick(o->split, ref, line, len) : NULL;
    if (pick)
        ref = pick;
    text = template_load(o ? o->templates_dir : NULL, ref, &tlen, err);
    if (!text)
        return -1;
    if (template_header(text, &tlen, hver, sizeof hver, err) < 0 ||
        template_ref_parts(ref, name, sizeof name, fver, sizeof fver) < 0) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        free(text);
        return job_err_set(err, "template", "template '%s': %s", ref, msg);
    }
    if (fver[0] && hver[0] && strcmp(fver, hver) != 0) {
        free(text);
        return job_err_set(err, "template",
                           "template '%s': its header says version '%s'", ref,
                           hver);
    }
    snprintf(full, sizeof full, "%s%s%s", name, fver[0] || hver[0] ? "@" : "",
             fver[0] ? fver : hver);
    out = template_render(text, tlen, vars, err);
    free(text);
    if (!out) {
        /* Name the template in the message: there may be several. */
        char field[sizeof err->field], msg[sizeof err->msg];
        snprintf(field, sizeof field, "%s", err->field);
        snprintf(msg, sizeof msg, "%s", err->msg);
        job_err_set(err, field, "template '%s': %s", ref, msg);
        return -1;
    }
    if (*out == '\0') {
        free(out);
        return job_err_set(err, "template",
                           "template '%s' rendered an empty prompt", ref);
    }
    prompt = cJSON_CreateString(out);
    free(out);
    if (!prompt)
        return job_err_set(err, "", "out of memory");
    if (!cJSON_AddItemToObject(job, "prompt", prompt)) {
        cJSON_Delete(prompt);
        return job_err_set(err, "", "out of memory");
    }
    cJSON_DetachItemViaPointer(job, prompt);
    cJSON_ReplaceItemViaPointer(job, tmpl, prompt); /* frees tmpl */
    cJSON_DeleteItemFromObjectCaseSensitive(job, "vars");
    tr = cJSON_CreateString(full);
    if (!tr || !cJSON_AddItemToObject(job, "template_ref", tr)) {
        cJSON_Delete(tr);
        return job_err_set(err, "", "out of memory");
    }
    return 0;
}

/* The stored text of a job that was not rendered: the line itself, trimmed,
 * with "id" inserted first when it was generated (id != NULL). Returns NULL
 * when out of memory. */
char *
job_line_text(const char *line, size_t len, const char *id, size_t *out_len)
{
    size_t a = 0, b = len, n;
    char *t, *p;

    while (a < b && (line[a] == ' ' || line[a] == '\t' || line[a] == '\r'))
        a++;
    while (b > a &&
           (line[b - 1] == ' ' || line[b - 1] == '\t' || line[b - 1] == '\r'))
        b--;
    /* a valid job is an object with at least one member: line[a] == '{' */
    n = b - a + (id ? strlen(id) + 8 : 0);
    t = malloc(n + 1);
    if (!t)
        return NULL;
    p = t;
    if (id) {
        size_t il = strlen(id);
        memcpy(p, "{\"id\":\"", 7);
        memcpy(p + 7, id, il);
        memcpy(p + 7 + il, "\",", 2);
        p += il + 9;
        a++; /* the '{' */
    }
    memcpy(p, line + a, b - a);
    p[b - a] = '\0';
    *out_len = (size_t)(p - t) + (b - a);
    return t;
}

cJSON *
job_parse_core(const char *line, size_t len, const struct job_opts *o,
               struct job_err *err, char **text, size_t *text_len, int *gen_out)
{
    int rendered = 0, generated = 0;
    char gen_id[37];

    struct job_err scratch;
    const char *nul;
    size_t off, n;
    cJSON *job;

    if (!err)
        err = &scratch;
    if (!line)
        len = 0;
    if (len > JOB_MAX_BYTES) {
        job_err_set(err, "", "line is %zu bytes; the limit is %d", len,
                    JOB_MAX_BYTES);
        return NULL;
    }
    nul = len ? memchr(line, '\0', len) : NULL;
    if (nul) {
        job_err_set(err, "", "NUL byte at byte %zu", (size_t)(nul - line));
        return NULL;
    }
    if (!utf8_check(line, len, &off)) {
        job_err_set(err, "", "invalid UTF-8 at byte %zu", off);
        return NULL;
    }
    n = 0;
    while (n < len && (line[n] == ' ' || line[n] == '\t' || line[n] == '\r'))
        n++;
    if (n == len) {
        job_err_set(err, "", "blank line: expected a JSON object");
        return NULL;
    }
    if (json_syntax_check(line, len, err) < 0)
        return NULL;
    job = cJSON_ParseWithLengthOpts(line, len, NULL, 0);
    if (!job) {
        /* The scan accepted it, so this is almost surely out of memory. */
        const char *at = cJSON_GetErrorPtr();
        job_err_set(err, "", "invalid JSON at byte %zu (cJSON)",
                    at && at >= line && at <= line + len ? (size_t)(at - line)
                                                         : (size_t)0);
        return NULL;
    }
    if (job_check_tree(job, 0, err) < 0)
        goto fail;
    if (job_get(job, "template")) {
        if (render(job, o, line, len, err) < 0)
            goto fail;
        rendered = 1;
    }
    if (!job_get(job, "id")) {
        cJSON *s;
        uuid7_new(gen_id);
        generated = 1;
        s = cJSON_CreateString(gen_id);
        if (!s || obj_insert(job, 0, "id", s) < 0) {
            job_err_set(err, "", "out of memory");
            goto fail;
        }
    }
    if (text && !rendered) {
        *text = job_line_text(line, len, generated ? gen_id : NULL, &n);
        if (!*text)
            n = (size_t)-1;
    } else if (text) {
        *text = cJSON_PrintUnformatted(job);
        n = *text ? strlen(*text) : (size_t)-1;
    } else {
        n = job_size(job);
    }
    if (n == (size_t)-1) {
        job_err_set(err, "", "out of memory");
        goto fail;
    }
    if (n > JOB_MAX_BYTES) {
        job_err_set(err, "",
                    "job is %zu bytes after normalization; the limit is %d", n,
                    JOB_MAX_BYTES);
        goto fail;
    }
    if (text_len)
        *text_len = n;
    if (gen_out)
        *gen_out = generated;
    return job;
fail:
    if (text && *text) {
        free(*text);
        *text = NULL;
    }
    cJSON_Delete(job);
    return NULL;
}

cJSON *
job_parse(const char *line, size_t len, const struct job_opts *o,
          struct job_err *err)
{
    return job_parse_core(line, len, o, err, NULL, NULL, NULL);
}
